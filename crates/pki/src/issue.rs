//! Building and signing a certificate (RFC 5280 §4.1).
//!
//! [`TbsCertificate`] mirrors the ASN.1 `TBSCertificate` for encoding. The names and the
//! public key are carried as DER copied from their sources, so the issuer field is always
//! byte-identical to the issuer's subject.

use crate::error::{PkiError, Result};
use crate::time::{UnixTime, x509_time};
use cachet_crypto::PrivateKey;
use der::asn1::{AnyRef, BitStringRef, UintRef};
use der::{Decode, Encode, Sequence};
use x509_cert::ext::Extension;
use x509_cert::time::Time;

/// Serial numbers are 16 random octets with the top bit cleared: 127 bits of CSPRNG output,
/// well above the 64 the S/MIME BR §7.1 require, positive, and within RFC 5280's 20 octets.
pub const SERIAL_LEN: usize = 16;

/// A fresh random serial number.
pub fn random_serial() -> Result<[u8; SERIAL_LEN]> {
    let mut s = cachet_crypto::rand::bytes::<SERIAL_LEN>()?;
    s[0] &= 0x7f;
    if s[0] == 0 {
        // Keep the encoding at a fixed 16 octets (no leading zero to strip).
        s[0] = 0x40;
    }
    Ok(s)
}

/// Validity (RFC 5280 §4.1.2.5).
#[derive(Sequence)]
pub(crate) struct Validity {
    pub(crate) not_before: Time,
    pub(crate) not_after: Time,
}

/// TBSCertificate (RFC 5280 §4.1), v3 only.
#[derive(Sequence)]
struct TbsCertificate<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial_number: UintRef<'a>,
    signature: AnyRef<'a>,
    issuer: AnyRef<'a>,
    validity: Validity,
    subject: AnyRef<'a>,
    subject_public_key_info: AnyRef<'a>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

/// Certificate (RFC 5280 §4.1).
#[derive(Sequence)]
struct CertificateOut<'a> {
    tbs_certificate: AnyRef<'a>,
    signature_algorithm: AnyRef<'a>,
    signature_value: BitStringRef<'a>,
}

/// Everything a certificate says about its subject, ready to be signed.
#[derive(Debug, Clone)]
pub struct CertificateTemplate {
    /// Serial number content octets (positive, no superfluous leading zero).
    pub serial: Vec<u8>,
    /// DER Name of the subject.
    pub subject_der: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// Start of validity.
    pub not_before: UnixTime,
    /// End of validity (inclusive, RFC 5280 §4.1.2.5).
    pub not_after: UnixTime,
    /// Extensions, in the order they are written.
    pub extensions: Vec<Extension>,
}

fn any<'a>(what: &'static str, der_bytes: &'a [u8]) -> Result<AnyRef<'a>> {
    AnyRef::from_der(der_bytes).map_err(|e| PkiError::malformed(what, e))
}

/// Signs `template` as `issuer_subject_der` with `issuer_key`, returning the certificate DER.
pub fn sign_certificate(
    template: &CertificateTemplate,
    issuer_subject_der: &[u8],
    issuer_key: &PrivateKey,
) -> Result<Vec<u8>> {
    let alg = issuer_key
        .signature_algorithm()
        .ok_or_else(|| PkiError::invalid("issuer key", "cannot sign"))?;
    let alg_der = alg.algorithm_identifier_der();
    let enc = |e: der::Error| PkiError::invalid("certificate", e.to_string());
    let tbs = TbsCertificate {
        version: 2,
        serial_number: UintRef::new(&template.serial).map_err(enc)?,
        signature: any("signature algorithm", &alg_der)?,
        issuer: any("issuer name", issuer_subject_der)?,
        validity: Validity {
            not_before: x509_time(template.not_before)?,
            not_after: x509_time(template.not_after)?,
        },
        subject: any("subject name", &template.subject_der)?,
        subject_public_key_info: any("public key", &template.spki_der)?,
        extensions: template.extensions.clone(),
    };
    let tbs_der = tbs.to_der().map_err(enc)?;
    let signature = issuer_key.sign(&tbs_der)?;
    CertificateOut {
        tbs_certificate: any("certificate", &tbs_der)?,
        signature_algorithm: any("signature algorithm", &alg_der)?,
        signature_value: BitStringRef::from_bytes(&signature).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}
