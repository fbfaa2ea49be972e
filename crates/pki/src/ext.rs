//! Certificate and CRL extensions (RFC 5280 §4.2, §5.2, §5.3) as Cachet writes and reads them.

use crate::error::{PkiError, Result};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280 as oids;
use der::asn1::{Ia5String, OctetString};
use der::{Decode, Encode};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CertificatePolicies, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier, certpolicy::PolicyInformation,
};

pub use x509_cert::ext::pkix::KeyUsages as KeyUsageBit;

fn ext<T: Encode>(id: ObjectIdentifier, critical: bool, value: &T) -> Result<Extension> {
    let bytes = value
        .to_der()
        .map_err(|e| PkiError::invalid("extension", e.to_string()))?;
    let extn_value =
        OctetString::new(bytes).map_err(|e| PkiError::invalid("extension", e.to_string()))?;
    Ok(Extension {
        extn_id: id,
        critical,
        extn_value,
    })
}

fn ia5(what: &'static str, s: &str) -> Result<Ia5String> {
    Ia5String::new(s).map_err(|_| PkiError::invalid(what, format!("'{s}' is not ASCII")))
}

/// Key identifier per RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
pub fn key_identifier(spki_der: &[u8]) -> Result<[u8; 20]> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| PkiError::malformed("public key", e))?;
    Ok(cachet_crypto::digest::sha1(
        spki.subject_public_key.raw_bytes(),
    ))
}

/// basicConstraints (§4.2.1.9), always critical as the S/MIME BR require for CAs.
pub fn basic_constraints(ca: bool, path_len: Option<u8>) -> Result<Extension> {
    ext(
        oids::ID_CE_BASIC_CONSTRAINTS,
        true,
        &BasicConstraints {
            ca,
            path_len_constraint: path_len,
        },
    )
}

/// keyUsage (§4.2.1.3), critical.
pub fn key_usage(bits: der::flagset::FlagSet<KeyUsages>) -> Result<Extension> {
    ext(oids::ID_CE_KEY_USAGE, true, &KeyUsage(bits))
}

/// extKeyUsage (§4.2.1.12), not critical.
pub fn ext_key_usage(purposes: &[ObjectIdentifier]) -> Result<Extension> {
    ext(
        oids::ID_CE_EXT_KEY_USAGE,
        false,
        &ExtendedKeyUsage(purposes.to_vec()),
    )
}

/// subjectAltName with rfc822Name entries (§4.2.1.6).
pub fn subject_alt_name_emails(emails: &[&str], critical: bool) -> Result<Extension> {
    let names = emails
        .iter()
        .map(|e| ia5("rfc822Name", e).map(GeneralName::Rfc822Name))
        .collect::<Result<Vec<_>>>()?;
    ext(
        oids::ID_CE_SUBJECT_ALT_NAME,
        critical,
        &SubjectAltName(names),
    )
}

/// subjectAltName with dNSName and iPAddress entries (§4.2.1.6), not critical: the names a
/// TLS server certificate answers to (RFC 6125; an IPv4 address is 4 octets, IPv6 16).
pub fn subject_alt_name_hosts(dns: &[&str], ips: &[std::net::IpAddr]) -> Result<Extension> {
    let mut names = dns
        .iter()
        .map(|d| ia5("dNSName", d).map(GeneralName::DnsName))
        .collect::<Result<Vec<_>>>()?;
    for ip in ips {
        let octets = match ip {
            std::net::IpAddr::V4(a) => a.octets().to_vec(),
            std::net::IpAddr::V6(a) => a.octets().to_vec(),
        };
        names.push(GeneralName::IpAddress(
            OctetString::new(octets).map_err(|e| PkiError::invalid("iPAddress", e.to_string()))?,
        ));
    }
    ext(oids::ID_CE_SUBJECT_ALT_NAME, false, &SubjectAltName(names))
}

/// subjectKeyIdentifier (§4.2.1.2), not critical.
pub fn subject_key_identifier(id: &[u8]) -> Result<Extension> {
    let os =
        OctetString::new(id).map_err(|e| PkiError::invalid("key identifier", e.to_string()))?;
    ext(
        oids::ID_CE_SUBJECT_KEY_IDENTIFIER,
        false,
        &SubjectKeyIdentifier(os),
    )
}

/// authorityKeyIdentifier with keyIdentifier only (§4.2.1.1), not critical.
pub fn authority_key_identifier(id: &[u8]) -> Result<Extension> {
    let os =
        OctetString::new(id).map_err(|e| PkiError::invalid("key identifier", e.to_string()))?;
    ext(
        oids::ID_CE_AUTHORITY_KEY_IDENTIFIER,
        false,
        &AuthorityKeyIdentifier {
            key_identifier: Some(os),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        },
    )
}

/// certificatePolicies with bare policy identifiers (§4.2.1.4), not critical.
pub fn certificate_policies(policies: &[ObjectIdentifier]) -> Result<Extension> {
    let infos = policies
        .iter()
        .map(|p| PolicyInformation {
            policy_identifier: *p,
            policy_qualifiers: None,
        })
        .collect();
    ext(
        oids::ID_CE_CERTIFICATE_POLICIES,
        false,
        &CertificatePolicies(infos),
    )
}

/// cRLDistributionPoints with one full-name URI (§4.2.1.13), not critical.
pub fn crl_distribution_point(url: &str) -> Result<Extension> {
    let dp = DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![
            GeneralName::UniformResourceIdentifier(ia5("CRL distribution point", url)?),
        ])),
        reasons: None,
        crl_issuer: None,
    };
    ext(
        oids::ID_CE_CRL_DISTRIBUTION_POINTS,
        false,
        &CrlDistributionPoints(vec![dp]),
    )
}

/// authorityInfoAccess (§4.2.2.1) with caIssuers and optionally an OCSP responder.
pub fn authority_info_access(ca_issuers: &str, ocsp: Option<&str>) -> Result<Extension> {
    let mut v = Vec::with_capacity(2);
    if let Some(o) = ocsp {
        v.push(AccessDescription {
            access_method: oids::ID_AD_OCSP,
            access_location: GeneralName::UniformResourceIdentifier(ia5("OCSP URL", o)?),
        });
    }
    v.push(AccessDescription {
        access_method: oids::ID_AD_CA_ISSUERS,
        access_location: GeneralName::UniformResourceIdentifier(ia5("caIssuers URL", ca_issuers)?),
    });
    ext(
        oids::ID_PE_AUTHORITY_INFO_ACCESS,
        false,
        &AuthorityInfoAccessSyntax(v),
    )
}

/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), not critical, value NULL: relying parties
/// need not check the revocation status of this delegated OCSP responder certificate (it
/// is short-lived instead).
pub fn ocsp_nocheck() -> Result<Extension> {
    ext(crate::ocsp::ID_PKIX_OCSP_NOCHECK, false, &der::asn1::Null)
}
