//! PKCS#10 certification requests (RFC 2986): decoding, proof of possession (the request's
//! signature with its own key) and the mailbox it asks for.

use crate::error::{PkiError, Result};
use crate::profile::normalize_email;
use cachet_crypto::SignatureAlgorithm;
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc4519, rfc5280 as oids};
use der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::request::{CertReq, ExtensionReq};

/// pkcs-9-at-extensionRequest (RFC 2985 §5.4.2).
const EXTENSION_REQUEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
/// pkcs-9-at-emailAddress (RFC 2985 §5.2.1).
const EMAIL_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

/// Upper bound on a CSR's size.
pub const MAX_CSR_LEN: usize = 64 * 1024;

/// Checks an RSA public key's exponent: odd and at least 65537 (S/MIME BR §6.1.6). Keys of
/// other types pass.
pub fn check_rsa_exponent(spki_der: &[u8]) -> Result<()> {
    use der::asn1::UintRef;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| PkiError::malformed("public key", e))?;
    if spki.algorithm.oid != const_oid::db::rfc5912::RSA_ENCRYPTION {
        return Ok(());
    }
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        _modulus: UintRef<'a>,
        public_exponent: UintRef<'a>,
    }
    let bits = spki.subject_public_key.raw_bytes();
    let k = RsaPublicKey::from_der(bits).map_err(|e| PkiError::malformed("RSA public key", e))?;
    let e = k.public_exponent.as_bytes();
    let odd = e.last().is_some_and(|b| b & 1 == 1);
    let big_enough =
        e.len() > 3 || (e.len() == 3 && u32::from_be_bytes([0, e[0], e[1], e[2]]) >= 65_537);
    if odd && big_enough {
        Ok(())
    } else {
        Err(PkiError::invalid(
            "RSA public key",
            "the public exponent must be odd and at least 65537",
        ))
    }
}

/// A CSR whose signature has been checked.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    spki_der: Vec<u8>,
    emails: Vec<String>,
}

impl VerifiedCsr {
    /// Decodes a PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or DER CSR and
    /// verifies its signature with the key it carries.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_CSR_LEN {
            return Err(PkiError::malformed("CSR", "larger than 64 KiB"));
        }
        let objs = crate::pem::der_objects(
            bytes,
            &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
            "CSR",
        )?;
        let der_bytes = objs
            .first()
            .ok_or_else(|| PkiError::malformed("CSR", "no request found"))?;
        let req = CertReq::from_der(der_bytes).map_err(|e| PkiError::malformed("CSR", e))?;
        let spki_der = req
            .info
            .public_key
            .to_der()
            .map_err(|e| PkiError::malformed("CSR", e))?;
        check_rsa_exponent(&spki_der)?;
        let alg = SignatureAlgorithm::from_oid(&req.algorithm.oid).ok_or_else(|| {
            PkiError::invalid(
                "CSR signature algorithm",
                format!("{} is not supported", req.algorithm.oid),
            )
        })?;
        if alg.is_weak() {
            return Err(PkiError::invalid(
                "CSR signature algorithm",
                "SHA-1 is not accepted as proof of possession: create the request with SHA-256",
            ));
        }
        // The signature covers the CertificationRequestInfo exactly as received.
        let info = crate::cert::first_element_of_sequence(der_bytes, "CSR")?;
        let sig = req
            .signature
            .as_bytes()
            .ok_or_else(|| PkiError::malformed("CSR", "signature has unused bits"))?;
        alg.verify(&spki_der, info, sig).map_err(|e| match e {
            cachet_crypto::Error::BadSignature => PkiError::CsrBadSignature,
            other => PkiError::Crypto(other),
        })?;
        let mut emails = Vec::new();
        for attr in req
            .info
            .attributes
            .iter()
            .filter(|a| a.oid == EXTENSION_REQUEST)
        {
            for v in attr.values.iter() {
                let exts = v
                    .decode_as::<ExtensionReq>()
                    .map_err(|e| PkiError::malformed("CSR extensionRequest", e))?;
                for e in exts
                    .0
                    .iter()
                    .filter(|e| e.extn_id == oids::ID_CE_SUBJECT_ALT_NAME)
                {
                    let san = SubjectAltName::from_der(e.extn_value.as_bytes())
                        .map_err(|e| PkiError::malformed("CSR subjectAltName", e))?;
                    emails.extend(san.0.iter().filter_map(|g| match g {
                        GeneralName::Rfc822Name(s) => Some(s.to_string()),
                        _ => None,
                    }));
                }
            }
        }
        for atv in req.info.subject.iter() {
            if (atv.oid == EMAIL_ADDRESS || atv.oid == rfc4519::CN)
                && let Ok(s) = std::str::from_utf8(atv.value.value())
                && s.contains('@')
            {
                emails.push(s.to_string());
            }
        }
        let mut seen = std::collections::HashSet::new();
        emails.retain(|e| seen.insert(e.to_ascii_lowercase()));
        Ok(VerifiedCsr { spki_der, emails })
    }

    /// The requested public key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Mailboxes the request names (subjectAltName, emailAddress, or an address-like CN).
    pub fn emails(&self) -> &[String] {
        &self.emails
    }

    /// Checks that every mailbox the request names is `email` (already normalised), and that
    /// it names at least one: a CSR may not ask for an identity the CA did not validate.
    /// Comparison ignores case: the certificate carries `email` as given to the CA, whatever
    /// capitalisation the requester typed.
    pub fn check_email(&self, email: &str) -> Result<()> {
        let mismatch = || PkiError::CsrEmailMismatch {
            expected: email.to_string(),
            found: if self.emails.is_empty() {
                "no address at all".into()
            } else {
                self.emails.join(", ")
            },
        };
        if self.emails.is_empty() {
            return Err(mismatch());
        }
        for e in &self.emails {
            if !normalize_email(e).is_ok_and(|n| n.eq_ignore_ascii_case(email)) {
                return Err(mismatch());
            }
        }
        Ok(())
    }
}
