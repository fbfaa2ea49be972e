//! Signed attributes of S/MIME that the `cms` crate does not define: SMIMECapabilities
//! (RFC 8551 §2.5.2) and SigningCertificateV2 (RFC 5035 §3), and a helper to read a
//! single-valued attribute (RFC 5652 §11).

use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, DecodeValue, Encode, EncodeValue, Header, Length, Reader, Sequence, Writer};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralNames;
use x509_cert::serial_number::SerialNumber;

use super::CmsError;
use super::oid;

/// One capability, defined in [RFC 8551 §2.5.2].
///
/// ```text
///   SMIMECapability ::= SEQUENCE {
///      capabilityID OBJECT IDENTIFIER,
///      parameters ANY DEFINED BY capabilityID OPTIONAL }
/// ```
///
/// [RFC 8551 §2.5.2]: https://www.rfc-editor.org/rfc/rfc8551#section-2.5.2
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SmimeCapability {
    /// `capabilityID`: an algorithm the sender can decrypt or verify.
    pub capability_id: ObjectIdentifier,
    /// `parameters`.
    pub parameters: Option<Any>,
}

/// The value of the `smimeCapabilities` attribute, defined in [RFC 8551 §2.5.2]: the
/// sender's algorithms in order of preference.
///
/// ```text
///   SMIMECapabilities ::= SEQUENCE OF SMIMECapability
/// ```
///
/// [RFC 8551 §2.5.2]: https://www.rfc-editor.org/rfc/rfc8551#section-2.5.2
pub type SmimeCapabilities = Vec<SmimeCapability>;

/// The value of the `id-aa-signingCertificateV2` attribute, defined in [RFC 5035 §3]: binds
/// the signer's certificate to the signature.
///
/// ```text
///   SigningCertificateV2 ::=  SEQUENCE {
///       certs        SEQUENCE OF ESSCertIDv2,
///       policies     SEQUENCE OF PolicyInformation OPTIONAL
///   }
/// ```
///
/// [RFC 5035 §3]: https://www.rfc-editor.org/rfc/rfc5035#section-3
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SigningCertificateV2 {
    /// `certs`: the signer's certificate first.
    pub certs: Vec<EssCertIdV2>,
    /// `policies`.
    pub policies: Option<Vec<PolicyInformation>>,
}

/// One certificate identifier, defined in [RFC 5035 §4].
///
/// ```text
///   ESSCertIDv2 ::=  SEQUENCE {
///       hashAlgorithm           AlgorithmIdentifier
///              DEFAULT {algorithm id-sha256},
///       certHash                 Hash,
///       issuerSerial             IssuerSerial OPTIONAL
///   }
///
///   Hash ::= OCTET STRING
/// ```
///
/// An absent `hashAlgorithm` reads as SHA-256 with absent parameters; that value is omitted
/// on output (DER).
///
/// [RFC 5035 §4]: https://www.rfc-editor.org/rfc/rfc5035#section-4
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EssCertIdV2 {
    /// `hashAlgorithm`.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// `certHash`: the hash of the whole DER certificate.
    pub cert_hash: OctetString,
    /// `issuerSerial`.
    pub issuer_serial: Option<IssuerSerial>,
}

impl<'a> DecodeValue<'a> for EssCertIdV2 {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        Ok(Self {
            hash_algorithm: Option::<AlgorithmIdentifierOwned>::decode(reader)?
                .unwrap_or_else(sha256_identifier),
            cert_hash: OctetString::decode(reader)?,
            issuer_serial: Option::<IssuerSerial>::decode(reader)?,
        })
    }
}

impl EssCertIdV2 {
    /// `hashAlgorithm` unless it is the default, which DER omits (X.690 §11.5).
    fn hash_algorithm_field(&self) -> Option<&AlgorithmIdentifierOwned> {
        (self.hash_algorithm != sha256_identifier()).then_some(&self.hash_algorithm)
    }
}

impl EncodeValue for EssCertIdV2 {
    fn value_len(&self) -> der::Result<Length> {
        let hash_len = match self.hash_algorithm_field() {
            Some(h) => h.encoded_len()?,
            None => Length::ZERO,
        };
        hash_len + self.cert_hash.encoded_len()? + self.issuer_serial.encoded_len()?
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        if let Some(h) = self.hash_algorithm_field() {
            h.encode(writer)?;
        }
        self.cert_hash.encode(writer)?;
        self.issuer_serial.encode(writer)
    }
}

impl Sequence<'_> for EssCertIdV2 {}

/// `{algorithm id-sha256}`, the default `hashAlgorithm` of [`EssCertIdV2`] (RFC 5035 §4).
pub fn sha256_identifier() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oid::ID_SHA256,
        parameters: None,
    }
}

/// The issuer and serial number of a certificate, defined in [RFC 5035 §4].
///
/// ```text
///   IssuerSerial ::= SEQUENCE {
///       issuer                   GeneralNames,
///       serialNumber             CertificateSerialNumber
///   }
/// ```
///
/// [RFC 5035 §4]: https://www.rfc-editor.org/rfc/rfc5035#section-4
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct IssuerSerial {
    /// `issuer`: the issuer's name as a `directoryName`.
    pub issuer: GeneralNames,
    /// `serialNumber`.
    pub serial_number: SerialNumber,
}

/// The value of the attribute `oid` in `attrs`, decoded as `T`, or `None` if absent.
///
/// RFC 5652 §11 attributes used by S/MIME (content-type, message-digest, signing-time,
/// smimeCapabilities, signingCertificateV2) appear at most once with exactly one value: more
/// than one attribute of the type, or a number of values other than one, is an error.
pub fn single_attribute_value<T>(
    attrs: &SetOfVec<Attribute>,
    oid: ObjectIdentifier,
) -> Result<Option<T>, CmsError>
where
    T: der::DecodeOwned,
{
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(attr) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(CmsError::Malformed {
            what: "attributes",
            detail: format!("attribute {oid} appears more than once"),
        });
    }
    let mut values = attr.values.iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(CmsError::Malformed {
            what: "attributes",
            detail: format!("attribute {oid} does not have exactly one value"),
        });
    };
    let der = value
        .to_der()
        .map_err(|e| CmsError::malformed("attribute value", e))?;
    T::from_der(&der)
        .map(Some)
        .map_err(|e| CmsError::Malformed {
            what: "attribute value",
            detail: format!("{oid}: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smime_capabilities_round_trip() {
        let caps: SmimeCapabilities = vec![
            SmimeCapability {
                capability_id: oid::ID_AES256_GCM,
                parameters: None,
            },
            SmimeCapability {
                capability_id: oid::ID_AES256_CBC,
                parameters: None,
            },
        ];
        let der = caps.to_der().unwrap();
        assert_eq!(SmimeCapabilities::from_der(&der).unwrap(), caps);
        assert_eq!(der[0], 0x30);
    }

    #[test]
    fn ess_cert_id_default_hash() {
        let id = EssCertIdV2 {
            hash_algorithm: sha256_identifier(),
            cert_hash: OctetString::new([1u8; 32]).unwrap(),
            issuer_serial: None,
        };
        let der = SigningCertificateV2 {
            certs: vec![id.clone()],
            policies: None,
        }
        .to_der()
        .unwrap();
        // SEQUENCE { SEQUENCE OF { SEQUENCE { OCTET STRING } } }: the default is omitted.
        assert_eq!(&der[..6], &[0x30, 0x26, 0x30, 0x24, 0x30, 0x22]);
        let back = SigningCertificateV2::from_der(&der).unwrap();
        assert_eq!(back.certs, vec![id]);
    }
}
