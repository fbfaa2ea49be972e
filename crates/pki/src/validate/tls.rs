//! The web PKI's rules for TLS server certificates, applied on top of RFC 5280 when
//! [`ValidationOptions::web_pki`](super::ValidationOptions::web_pki) is set: the CA/Browser
//! Forum TLS Baseline Requirements §6.1.5 and §7.1 as webpki and the x509-limbo suite's
//! `webpki::` cases check them. The profile Cachet's own TLS clients can hold public servers
//! to; S/MIME validation never sees these rules.

use crate::ParsedCertificate;
use const_oid::db::rfc5280 as oids;
use der::Decode;
use x509_cert::ext::pkix::AuthorityKeyIdentifier;

/// What is wrong with a TLS server (leaf) certificate, if anything.
pub(super) fn server_leaf_problems(cert: &ParsedCertificate) -> Vec<String> {
    let mut out = Vec::new();
    if cert.is_ca().unwrap_or(false) {
        out.push("a TLS server certificate must not be a CA (basicConstraints cA, CA/Browser Forum TLS BR §7.1.2.7.8)".to_string());
    }
    // (The subject commonName rules of §7.1.4.3 are issuance rules Cachet does not judge:
    // no client reads the CN as the server's name when a subjectAltName is present.)
    let san = cert.subject_alt_name().ok().flatten();
    let subject_empty = cert.inner().tbs_certificate().subject().is_empty();
    if let Some((critical, _)) = &san
        && *critical
        && !subject_empty
    {
        out.push("its subjectAltName is critical although the subject is not empty (CA/Browser Forum TLS BR §7.1.2.7.12)".to_string());
    }
    out
}

/// What is wrong with a root (trust anchor) of a TLS server path, if anything.
pub(super) fn server_root_problems(cert: &ParsedCertificate) -> Vec<String> {
    let mut out = Vec::new();
    // §7.1.2.1.3: a (self-signed) root's authorityKeyIdentifier, if present, holds only
    // keyIdentifier, equal to its own subjectKeyIdentifier.
    let (subject, issuer) = cert.name_keys();
    if subject == issuer
        && let Ok(Some(e)) = cert.extension(oids::ID_CE_AUTHORITY_KEY_IDENTIFIER)
    {
        match AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes()) {
            Ok(aki) => {
                let ski = cert.subject_key_id().ok().flatten();
                let key_id = aki.key_identifier.as_ref().map(|k| k.as_bytes().to_vec());
                if aki.authority_cert_issuer.is_some()
                    || aki.authority_cert_serial_number.is_some()
                    || key_id.is_none()
                    || key_id != ski
                {
                    out.push("the root's authorityKeyIdentifier must hold only its own key identifier (CA/Browser Forum TLS BR §7.1.2.1.3)".to_string());
                }
            }
            Err(_) => out.push("the root's authorityKeyIdentifier cannot be read".to_string()),
        }
    }
    if let Some(p) = cert.spki_der().ok().and_then(|k| key_problem(&k)) {
        out.push(format!(
            "the root's key is not allowed for TLS: {p} (CA/Browser Forum TLS BR §6.1.5)"
        ));
    }
    out
}

/// Why a public key is not one the TLS BR allow (RSA of at least 2048 bits with a modulus
/// a multiple of 8 bits, ECDSA P-256/P-384/P-521), if it is not.
fn key_problem(spki_der: &[u8]) -> Option<String> {
    let info = spki::SubjectPublicKeyInfoRef::try_from(spki_der).ok()?;
    let oid = info.algorithm.oid;
    if oid == cachet_crypto::dsa::ID_DSA {
        return Some("DSA".into());
    }
    if oid == const_oid::db::rfc5912::RSA_ENCRYPTION {
        #[derive(der::Sequence)]
        struct RsaPublicKey<'a> {
            modulus: der::asn1::UintRef<'a>,
            public_exponent: der::asn1::UintRef<'a>,
        }
        let key = info.subject_public_key.as_bytes()?;
        let k = RsaPublicKey::from_der(key).ok()?;
        let _ = k.public_exponent;
        let m = k.modulus.as_bytes();
        let bits = m.len() * 8 - m.first().map_or(8, |b| b.leading_zeros() as usize);
        if bits < 2048 {
            return Some(format!("an RSA key of {bits} bits (at least 2048)"));
        }
        if bits % 8 != 0 {
            return Some(format!(
                "an RSA modulus of {bits} bits, not a multiple of 8"
            ));
        }
        return None;
    }
    if oid == const_oid::db::rfc5912::ID_EC_PUBLIC_KEY {
        let curve = info
            .algorithm
            .parameters
            .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
        let allowed = [
            const_oid::db::rfc5912::SECP_256_R_1,
            const_oid::db::rfc5912::SECP_384_R_1,
            const_oid::db::rfc5912::SECP_521_R_1,
        ];
        if !curve.is_some_and(|c| allowed.contains(&c)) {
            return Some("an elliptic curve other than P-256, P-384 or P-521".into());
        }
    }
    None
}
