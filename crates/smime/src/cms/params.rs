//! Algorithm parameters that CMS carries in `AlgorithmIdentifier.parameters` and that the
//! `cms` crate does not define (or defines only behind its `builder` feature, which Cachet
//! does not enable): AES-GCM (RFC 5084), RSAES-OAEP (RFC 4055, RFC 3560) and the ECDH
//! key-derivation input (RFC 5753, RFC 8418).

use der::asn1::{ContextSpecific, ContextSpecificRef, Null, ObjectIdentifier, OctetString};
use der::{
    Decode, DecodeValue, Encode, EncodeValue, Header, Length, Reader, Sequence, TagMode, TagNumber,
    Writer,
};
use spki::AlgorithmIdentifierOwned;

use super::CmsError;
use super::oid;

/// The parameters of `id-aes*-GCM` content encryption, defined in [RFC 5084 §3.2].
///
/// ```text
///   GCMParameters ::= SEQUENCE {
///     aes-nonce        OCTET STRING, -- recommended size is 12 octets
///     aes-ICVlen       AES-GCM-ICVlen DEFAULT 12 }
///
///   AES-GCM-ICVlen ::= INTEGER (12 | 13 | 14 | 15 | 16)
/// ```
///
/// An absent `aes-ICVlen` reads as 12, the RFC default. Encoding follows DER and omits the
/// field when it equals 12, so Cachet writes [`GcmParameters::CACHET_ICV_LEN`] (16, what
/// OpenSSL and Bouncy Castle expect) explicitly. An explicitly encoded 12 is accepted on
/// input although DER forbids it (X.690 §11.5).
///
/// [RFC 5084 §3.2]: https://www.rfc-editor.org/rfc/rfc5084#section-3.2
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcmParameters {
    /// `aes-nonce`.
    pub aes_nonce: OctetString,
    /// `aes-ICVlen`: the length of the authentication tag in octets, 12 to 16.
    pub aes_icv_len: u8,
}

impl GcmParameters {
    /// The RFC 5084 default tag length.
    pub const DEFAULT_ICV_LEN: u8 = 12;
    /// The tag length Cachet writes.
    pub const CACHET_ICV_LEN: u8 = 16;
    /// The nonce length RFC 5084 §3.2 recommends and Cachet writes.
    pub const NONCE_LEN: usize = 12;

    /// Parameters with the given nonce and a 16-octet tag.
    pub fn new(nonce: &[u8]) -> Result<Self, CmsError> {
        Ok(Self {
            aes_nonce: OctetString::new(nonce).map_err(|e| CmsError::malformed("aes-nonce", e))?,
            aes_icv_len: Self::CACHET_ICV_LEN,
        })
    }

    /// Decodes the parameters of a GCM `contentEncryptionAlgorithm`.
    pub fn from_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<Self, CmsError> {
        decode_parameters(alg, "GCMParameters")
    }
}

impl<'a> DecodeValue<'a> for GcmParameters {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let aes_nonce = OctetString::decode(reader)?;
        let aes_icv_len = Option::<u8>::decode(reader)?.unwrap_or(Self::DEFAULT_ICV_LEN);
        if !(12..=16).contains(&aes_icv_len) {
            return Err(reader.error(der::ErrorKind::Value {
                tag: der::Tag::Integer,
            }));
        }
        Ok(Self {
            aes_nonce,
            aes_icv_len,
        })
    }
}

impl EncodeValue for GcmParameters {
    fn value_len(&self) -> der::Result<Length> {
        self.aes_nonce.encoded_len()? + self.icv_len_field().encoded_len()?
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.aes_nonce.encode(writer)?;
        self.icv_len_field().encode(writer)
    }
}

impl GcmParameters {
    fn icv_len_field(&self) -> Option<u8> {
        (self.aes_icv_len != Self::DEFAULT_ICV_LEN).then_some(self.aes_icv_len)
    }
}

impl Sequence<'_> for GcmParameters {}

/// The parameters of `id-RSAES-OAEP` key transport, defined in [RFC 4055 §4.1] and used in
/// CMS by [RFC 3560 §2.2].
///
/// ```text
///   RSAES-OAEP-params  ::=  SEQUENCE  {
///      hashFunc          [0] AlgorithmIdentifier DEFAULT sha1Identifier,
///      maskGenFunc       [1] AlgorithmIdentifier DEFAULT mgf1SHA1Identifier,
///      pSourceFunc       [2] AlgorithmIdentifier DEFAULT
///                               pSpecifiedEmptyIdentifier  }
///
///   sha1Identifier  AlgorithmIdentifier  ::=  { id-sha1, NULL }
///   mgf1SHA1Identifier  AlgorithmIdentifier  ::= { id-mgf1, sha1Identifier }
///   pSpecifiedEmptyIdentifier  AlgorithmIdentifier  ::= { id-pSpecified, nullOctetString }
/// ```
///
/// The module uses EXPLICIT tags. Absent fields read as their defaults (RFC 4055 §4.1);
/// fields equal to their defaults are omitted on output (DER, X.690 §11.5).
///
/// [RFC 4055 §4.1]: https://www.rfc-editor.org/rfc/rfc4055#section-4.1
/// [RFC 3560 §2.2]: https://www.rfc-editor.org/rfc/rfc3560#section-2.2
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaesOaepParams {
    /// `hashFunc`.
    pub hash_func: AlgorithmIdentifierOwned,
    /// `maskGenFunc`.
    pub mask_gen_func: AlgorithmIdentifierOwned,
    /// `pSourceFunc`.
    pub p_source_func: AlgorithmIdentifierOwned,
}

/// `{ hash, NULL }`: RFC 4055 §2.1 requires NULL parameters for hash identifiers inside
/// RSAES-OAEP parameters.
fn hash_identifier(hash: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: hash,
        parameters: Some(Null.into()),
    }
}

fn mgf1_identifier(hash: ObjectIdentifier) -> Result<AlgorithmIdentifierOwned, der::Error> {
    Ok(AlgorithmIdentifierOwned {
        oid: oid::ID_MGF1,
        parameters: Some(der::Any::encode_from(&hash_identifier(hash))?),
    })
}

fn p_specified_empty() -> Result<AlgorithmIdentifierOwned, der::Error> {
    Ok(AlgorithmIdentifierOwned {
        oid: oid::ID_P_SPECIFIED,
        parameters: Some(der::Any::encode_from(&OctetString::new(&[][..])?)?),
    })
}

impl RsaesOaepParams {
    /// The RFC 4055 defaults: SHA-1, MGF1 with SHA-1, empty label.
    pub fn sha1_defaults() -> Result<Self, CmsError> {
        Self::with_hash(oid::ID_SHA1)
    }

    /// `hash` for both the OAEP hash and MGF1, and an empty label (RFC 4055 §4.1; Cachet
    /// writes SHA-256).
    pub fn with_hash(hash: ObjectIdentifier) -> Result<Self, CmsError> {
        let build = || -> Result<Self, der::Error> {
            Ok(Self {
                hash_func: hash_identifier(hash),
                mask_gen_func: mgf1_identifier(hash)?,
                p_source_func: p_specified_empty()?,
            })
        };
        build().map_err(|e| CmsError::malformed("RSAES-OAEP-params", e))
    }

    /// Decodes the parameters of an `id-RSAES-OAEP` `keyEncryptionAlgorithm`.
    pub fn from_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<Self, CmsError> {
        decode_parameters(alg, "RSAES-OAEP-params")
    }

    /// The hash function of MGF1, when `maskGenFunc` is `id-mgf1` (RFC 4055 §2.2).
    pub fn mgf1_hash(&self) -> Result<AlgorithmIdentifierOwned, CmsError> {
        if self.mask_gen_func.oid != oid::ID_MGF1 {
            return Err(CmsError::Unsupported {
                what: format!("mask generation function {}", self.mask_gen_func.oid),
            });
        }
        decode_parameters(&self.mask_gen_func, "MGF1 hash AlgorithmIdentifier")
    }

    /// The label of `id-pSpecified` (RFC 4055 §4.1), empty by default.
    pub fn label(&self) -> Result<Vec<u8>, CmsError> {
        if self.p_source_func.oid != oid::ID_P_SPECIFIED {
            return Err(CmsError::Unsupported {
                what: format!("OAEP label source {}", self.p_source_func.oid),
            });
        }
        let label: OctetString = decode_parameters(&self.p_source_func, "pSpecified label")?;
        Ok(label.into_bytes().into())
    }
}

impl<'a> DecodeValue<'a> for RsaesOaepParams {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let field = |reader: &mut R, n: u32| {
            ContextSpecific::<AlgorithmIdentifierOwned>::decode_explicit(reader, TagNumber(n))
                .map(|f| f.map(|f| f.value))
        };
        let hash_func = field(reader, 0)?;
        let mask_gen_func = field(reader, 1)?;
        let p_source_func = field(reader, 2)?;
        Ok(Self {
            hash_func: hash_func.unwrap_or_else(|| hash_identifier(oid::ID_SHA1)),
            mask_gen_func: match mask_gen_func {
                Some(m) => m,
                None => mgf1_identifier(oid::ID_SHA1)?,
            },
            p_source_func: match p_source_func {
                Some(p) => p,
                None => p_specified_empty()?,
            },
        })
    }
}

impl RsaesOaepParams {
    /// The fields that differ from their defaults, with their tag numbers.
    fn explicit_fields(&self) -> der::Result<Vec<(u32, &AlgorithmIdentifierOwned)>> {
        let mut fields = Vec::with_capacity(3);
        if self.hash_func != hash_identifier(oid::ID_SHA1) {
            fields.push((0, &self.hash_func));
        }
        if self.mask_gen_func != mgf1_identifier(oid::ID_SHA1)? {
            fields.push((1, &self.mask_gen_func));
        }
        if self.p_source_func != p_specified_empty()? {
            fields.push((2, &self.p_source_func));
        }
        Ok(fields)
    }
}

fn explicit(
    n: u32,
    value: &AlgorithmIdentifierOwned,
) -> ContextSpecificRef<'_, AlgorithmIdentifierOwned> {
    ContextSpecificRef {
        tag_number: TagNumber(n),
        tag_mode: TagMode::Explicit,
        value,
    }
}

impl EncodeValue for RsaesOaepParams {
    fn value_len(&self) -> der::Result<Length> {
        self.explicit_fields()?
            .into_iter()
            .try_fold(Length::ZERO, |len, (n, v)| {
                len + explicit(n, v).encoded_len()?
            })
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        for (n, v) in self.explicit_fields()? {
            explicit(n, v).encode(writer)?;
        }
        Ok(())
    }
}

impl Sequence<'_> for RsaesOaepParams {}

/// The input of the key-derivation function of ECDH key agreement, defined in
/// [RFC 5753 §7.2] and reused for X25519/X448 by [RFC 8418 §2.2].
///
/// ```text
///   ECC-CMS-SharedInfo ::= SEQUENCE {
///       keyInfo         AlgorithmIdentifier,
///       entityUInfo [0] EXPLICIT OCTET STRING OPTIONAL,
///       suppPubInfo [2] EXPLICIT OCTET STRING   }
/// ```
///
/// [RFC 5753 §7.2]: https://www.rfc-editor.org/rfc/rfc5753#section-7.2
/// [RFC 8418 §2.2]: https://www.rfc-editor.org/rfc/rfc8418#section-2.2
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct EccCmsSharedInfo {
    /// `keyInfo`: the key-wrap algorithm (AES key wrap with absent parameters).
    pub key_info: AlgorithmIdentifierOwned,
    /// `entityUInfo`: the `ukm` of the `KeyAgreeRecipientInfo`, when present.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub entity_u_info: Option<OctetString>,
    /// `suppPubInfo`: the length of the key-encryption key in bits, as a 32-bit big-endian
    /// number.
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    pub supp_pub_info: OctetString,
}

impl EccCmsSharedInfo {
    /// The shared info for the key-wrap algorithm `key_wrap` with a key-encryption key of
    /// `kek_bits` bits and the optional user keying material.
    pub fn new(
        key_wrap: ObjectIdentifier,
        ukm: Option<&[u8]>,
        kek_bits: u32,
    ) -> Result<Self, CmsError> {
        let build = || -> Result<Self, der::Error> {
            Ok(Self {
                key_info: AlgorithmIdentifierOwned {
                    oid: key_wrap,
                    parameters: None,
                },
                entity_u_info: ukm.map(OctetString::new).transpose()?,
                supp_pub_info: OctetString::new(kek_bits.to_be_bytes())?,
            })
        };
        build().map_err(|e| CmsError::malformed("ECC-CMS-SharedInfo", e))
    }
}

/// Decodes `alg.parameters` as `T`; absent parameters are an error.
pub fn decode_parameters<T>(
    alg: &AlgorithmIdentifierOwned,
    what: &'static str,
) -> Result<T, CmsError>
where
    T: der::DecodeOwned,
{
    let params = alg.parameters.as_ref().ok_or_else(|| CmsError::Malformed {
        what,
        detail: format!("{} without parameters", alg.oid),
    })?;
    let der = params.to_der().map_err(|e| CmsError::malformed(what, e))?;
    T::from_der(&der).map_err(|e| CmsError::malformed(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_icv_len_default_and_explicit() {
        // SEQUENCE { OCTET STRING (12 bytes) } — aes-ICVlen absent.
        let mut absent = vec![0x30, 0x0e, 0x04, 0x0c];
        absent.extend_from_slice(&[7; 12]);
        let p = GcmParameters::from_der(&absent).unwrap();
        assert_eq!(p.aes_icv_len, 12);
        assert_eq!(p.to_der().unwrap(), absent);

        let p = GcmParameters::new(&[7; 12]).unwrap();
        assert_eq!(p.aes_icv_len, 16);
        let der = p.to_der().unwrap();
        assert_eq!(&der[..2], &[0x30, 0x11]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x10]);
        assert_eq!(GcmParameters::from_der(&der).unwrap(), p);

        // Explicit 12 is read; 17 and 11 are refused.
        let mut explicit12 = vec![0x30, 0x11, 0x04, 0x0c];
        explicit12.extend_from_slice(&[7; 12]);
        explicit12.extend_from_slice(&[0x02, 0x01, 0x0c]);
        assert_eq!(
            GcmParameters::from_der(&explicit12).unwrap().aes_icv_len,
            12
        );
        for bad in [0x0b, 0x11] {
            let mut v = explicit12.clone();
            *v.last_mut().unwrap() = bad;
            assert!(GcmParameters::from_der(&v).is_err());
        }
    }

    #[test]
    fn oaep_defaults_round_trip() {
        let empty = [0x30, 0x00];
        let p = RsaesOaepParams::from_der(&empty).unwrap();
        assert_eq!(p, RsaesOaepParams::sha1_defaults().unwrap());
        assert_eq!(p.hash_func.oid, oid::ID_SHA1);
        assert_eq!(p.mgf1_hash().unwrap().oid, oid::ID_SHA1);
        assert!(p.label().unwrap().is_empty());
        assert_eq!(p.to_der().unwrap(), empty);

        let sha256 = RsaesOaepParams::with_hash(oid::ID_SHA256).unwrap();
        let der = sha256.to_der().unwrap();
        let back = RsaesOaepParams::from_der(&der).unwrap();
        assert_eq!(back, sha256);
        assert_eq!(back.mgf1_hash().unwrap().oid, oid::ID_SHA256);
        // hashFunc [0] and maskGenFunc [1] present, pSourceFunc [2] default and omitted.
        assert_eq!(der[2], 0xa0);
        assert!(!der.windows(2).any(|w| w == [0xa2, 0x0f]));
    }

    #[test]
    fn shared_info_encoding() {
        let si = EccCmsSharedInfo::new(oid::ID_AES256_WRAP, None, 256).unwrap();
        let der = si.to_der().unwrap();
        // SEQUENCE { SEQUENCE { OID aes256-wrap }, [2] { OCTET STRING 00 00 01 00 } }
        assert_eq!(
            hex::encode(&der),
            "301530 0b060960864801650304012d a206 0404 00000100".replace(' ', "")
        );
        assert_eq!(EccCmsSharedInfo::from_der(&der).unwrap(), si);
        let with_ukm = EccCmsSharedInfo::new(oid::ID_AES128_WRAP, Some(b"ukm"), 128).unwrap();
        let der = with_ukm.to_der().unwrap();
        assert_eq!(EccCmsSharedInfo::from_der(&der).unwrap(), with_ukm);
    }
}
