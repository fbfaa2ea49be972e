//! The authorityInfoAccess extension (RFC 5280 §4.2.2.1): where a certificate's issuer
//! (caIssuers) and its OCSP responder (RFC 6960 §3.1) can be reached over HTTP.

use crate::ParsedCertificate;
use const_oid::ObjectIdentifier;
use der::Decode;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_cert::ext::pkix::name::GeneralName;

/// id-ad-ocsp.
pub const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
/// id-ad-caIssuers.
pub const ID_AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

fn http_urls(cert: &ParsedCertificate, method: ObjectIdentifier) -> Vec<String> {
    let Ok(Some(ext)) = cert.extension(const_oid::db::rfc5280::ID_PE_AUTHORITY_INFO_ACCESS) else {
        return Vec::new();
    };
    let Ok(aia) = AuthorityInfoAccessSyntax::from_der(ext.extn_value.as_bytes()) else {
        return Vec::new();
    };
    aia.0
        .iter()
        .filter(|d| d.access_method == method)
        .filter_map(|d| match &d.access_location {
            GeneralName::UniformResourceIdentifier(u) => {
                let s = u.to_string();
                (s.starts_with("http://") || s.starts_with("https://")).then_some(s)
            }
            _ => None,
        })
        .collect()
}

/// The HTTP(S) URLs of the certificate's OCSP responders.
pub fn ocsp_urls(cert: &ParsedCertificate) -> Vec<String> {
    http_urls(cert, ID_AD_OCSP)
}

/// The HTTP(S) URLs where the certificate's issuer is published.
pub fn ca_issuer_urls(cert: &ParsedCertificate) -> Vec<String> {
    http_urls(cert, ID_AD_CA_ISSUERS)
}
