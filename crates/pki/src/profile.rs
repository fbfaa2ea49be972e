//! Certificate profiles of Cachet's S/MIME CA, after the CA/Browser Forum S/MIME Baseline
//! Requirements (v1.0.x), §7.1.2: the root CA (§7.1.2.1), the issuing CA (§7.1.2.2) and the
//! Strict mailbox-validated subscriber certificates (§7.1.2.3, policy 2.23.140.1.5.1.3).
//!
//! A profile turns a request into a [`CertificateTemplate`]; it does not sign. Every
//! certificate built from a template is then checked by [`crate::lint`].

use crate::cert::ParsedCertificate;
use crate::error::{PkiError, Result};
use crate::ext;
use crate::issue::CertificateTemplate;
use crate::name::NameBuilder;
use crate::time::UnixTime;
use cachet_crypto::KeyType;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::ID_KP_EMAIL_PROTECTION;
use der::flagset::FlagSet;
use std::fmt;
use std::str::FromStr;
use x509_cert::ext::pkix::KeyUsages;

/// CA/B Forum S/MIME BR policy identifier: mailbox-validated, Strict generation.
pub const POLICY_MAILBOX_VALIDATED_STRICT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.23.140.1.5.1.3");

/// Whether the S/MIME BR (§7.1.3.1) permit subscriber keys of this type. X25519 is not among
/// them (RSA, ECDSA P-256/P-384/P-521, Ed25519/Ed448, ML-DSA, ML-KEM are), so an X25519
/// encryption certificate (RFC 8418) is issued *without* the BR policy identifier rather than
/// claim a compliance it lacks.
pub fn br_permits_key_type(kt: KeyType) -> bool {
    kt != KeyType::X25519
}

/// The S/MIME BR cap on subscriber certificate validity (§6.3.2): 825 days.
pub const MAX_VALIDITY_DAYS: u32 = 825;
/// Default subscriber certificate validity.
pub const DEFAULT_VALIDITY_DAYS: u32 = 365;
/// Root CA validity: 20 years.
pub const ROOT_VALIDITY_DAYS: u32 = 20 * 365 + 5;
/// Issuing CA validity: 10 years.
pub const ISSUING_VALIDITY_DAYS: u32 = 10 * 365 + 2;

const DAY: u64 = 86_400;

/// A subscriber certificate profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Signing only: digitalSignature (and optionally nonRepudiation).
    Signing,
    /// Encryption only: keyEncipherment (RSA) or keyAgreement (EC, X25519).
    Encryption,
    /// Both, with one key (RSA or ECDSA only).
    Dual,
}

impl Profile {
    /// All profiles.
    pub const ALL: [Profile; 3] = [Profile::Signing, Profile::Encryption, Profile::Dual];

    /// The name used on the command line and in the store.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Signing => "signing",
            Profile::Encryption => "encryption",
            Profile::Dual => "dual",
        }
    }

    /// Whether the profile allows signatures.
    pub fn signs(self) -> bool {
        matches!(self, Profile::Signing | Profile::Dual)
    }

    /// Whether the profile allows receiving encrypted mail.
    pub fn encrypts(self) -> bool {
        matches!(self, Profile::Encryption | Profile::Dual)
    }

    /// The key types this profile accepts: Ed25519 cannot encrypt and X25519 cannot sign,
    /// so each serves only the single-purpose profile it fits.
    pub fn allows_key_type(self, kt: KeyType) -> bool {
        match self {
            Profile::Signing => kt.can_sign(),
            Profile::Encryption => kt.can_encrypt(),
            Profile::Dual => kt.can_sign() && kt.can_encrypt(),
        }
    }

    /// The default key type for this profile.
    pub fn default_key_type(self) -> KeyType {
        KeyType::EcdsaP256
    }

    /// The keyUsage bits (S/MIME BR §7.1.2.3(e), Strict).
    pub fn key_usage(self, kt: KeyType, non_repudiation: bool) -> FlagSet<KeyUsages> {
        let mut bits = FlagSet::default();
        if self.signs() {
            bits |= KeyUsages::DigitalSignature;
            if non_repudiation {
                bits |= KeyUsages::NonRepudiation;
            }
        }
        if self.encrypts() {
            bits |= if kt.uses_key_agreement() {
                KeyUsages::KeyAgreement
            } else {
                KeyUsages::KeyEncipherment
            };
        }
        bits
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown profile '{s}' (expected signing, encryption or dual)"))
    }
}

/// Where a CA's certificate and CRL are published: the URLs written into the certificates
/// it issues, and served by `cachet serve` (`/ca/{slug}.crt`, `/crl/{slug}.crl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationUrls {
    /// cRLDistributionPoints URI.
    pub crl: String,
    /// authorityInfoAccess caIssuers URI.
    pub ca_issuers: String,
    /// authorityInfoAccess OCSP URI (RFC 6960 §3.1), `None` to leave the responder out.
    pub ocsp: Option<String>,
}

impl PublicationUrls {
    /// The URLs of the CA named `slug` under `base_url`: its CRL, its certificate and the
    /// OCSP responder `{base}/ocsp` that `cachet serve` runs for every CA (one URL for all
    /// CAs: the request's CertID names the issuer).
    pub fn under(base_url: &str, slug: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        PublicationUrls {
            crl: format!("{base}/crl/{slug}.crl"),
            ca_issuers: format!("{base}/ca/{slug}.crt"),
            ocsp: Some(format!("{base}/ocsp")),
        }
    }
}

/// Checks that `base_url` is a plain `http://host[:port][/path]` URL. The S/MIME BR
/// (§7.1.2.3 b, c) require http for CRL distribution points and caIssuers — clients fetch
/// them before they can validate any TLS certificate — and the URL becomes part of every
/// certificate, so user info, queries and fragments are refused.
pub fn check_base_url(base_url: &str) -> Result<()> {
    let bad = |why: &str| PkiError::invalid("base URL", format!("'{base_url}' {why}"));
    if base_url.starts_with("https://") {
        return Err(bad(
            "must use http://: CRL and CA certificate URLs in S/MIME certificates are plain HTTP (S/MIME BR §7.1.2.3)",
        ));
    }
    let rest = base_url
        .strip_prefix("http://")
        .ok_or_else(|| bad("must start with http://"))?;
    if !base_url.is_ascii()
        || base_url
            .chars()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return Err(bad("must be ASCII without spaces"));
    }
    if rest.contains(['?', '#', '@', '\\']) {
        return Err(bad(
            "must not contain user information, a query or a fragment",
        ));
    }
    let authority = rest.split('/').next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if let Some(p) = port
        && !p.parse::<u16>().is_ok_and(|n| n > 0)
    {
        return Err(bad("has an invalid port"));
    }
    let host_ok = normalize_domain(host).is_ok()
        || host == "localhost"
        || host.parse::<std::net::Ipv4Addr>().is_ok();
    if !host_ok {
        return Err(bad("has no valid host name"));
    }
    Ok(())
}

/// Checks a mailbox address (RFC 5321 §4.1.2 Mailbox, ASCII form as rfc822Name requires,
/// RFC 5280 §4.2.1.6) and returns it with the domain lower-cased.
pub fn normalize_email(addr: &str) -> Result<String> {
    let bad = |why: &str| PkiError::invalid("e-mail address", format!("'{addr}' {why}"));
    if addr.len() > 254 {
        return Err(bad("is longer than 254 characters"));
    }
    let (local, domain) = addr.rsplit_once('@').ok_or_else(|| bad("has no '@'"))?;
    if local.is_empty() || local.len() > 64 {
        return Err(bad("has an empty or over-long local part"));
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || !local.chars().all(|c| atext(c) || c == '.')
    {
        return Err(bad("has a local part that is not a plain dot-atom"));
    }
    let domain = normalize_domain(domain).map_err(|_| bad("has an invalid domain"))?;
    Ok(format!("{local}@{domain}"))
}

/// Checks a DNS domain name (LDH labels, at least two) and lower-cases it.
pub fn normalize_domain(domain: &str) -> Result<String> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let ok = d.len() <= 253
        && d.split('.').count() >= 2
        && d.rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()))
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !ok {
        return Err(PkiError::invalid(
            "domain",
            format!("'{domain}' is not a valid DNS domain name"),
        ));
    }
    Ok(d)
}

/// Whether `email`'s domain is `domain` or one of its subdomains.
pub fn email_in_domain(email: &str, domain: &str) -> bool {
    email.rsplit_once('@').is_some_and(|(_, d)| {
        d == domain || d.strip_suffix(domain).is_some_and(|p| p.ends_with('.'))
    })
}

/// The root CA certificate (S/MIME BR §7.1.2.1): basicConstraints CA with pathLen 1 and
/// keyUsage keyCertSign + cRLSign, both critical; subjectKeyIdentifier; self-signed.
pub fn root_ca_template(
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    serial: Vec<u8>,
    not_before: UnixTime,
) -> Result<CertificateTemplate> {
    let ski = ext::key_identifier(&spki_der)?;
    Ok(CertificateTemplate {
        serial,
        subject_der,
        spki_der,
        not_before,
        not_after: not_before + u64::from(ROOT_VALIDITY_DAYS) * DAY - 1,
        extensions: vec![
            ext::basic_constraints(true, Some(1))?,
            ext::key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)?,
            ext::subject_key_identifier(&ski)?,
        ],
    })
}

/// What every certificate the root issues shares: its key identifier, the root's as the
/// authority key identifier (RFC 5280 §4.2.1.1–§4.2.1.2), and a validity of
/// [`ISSUING_VALIDITY_DAYS`] that never outlives the root.
fn issued_by_root(
    spki_der: &[u8],
    not_before: UnixTime,
    root: &ParsedCertificate,
) -> Result<([u8; 20], Vec<u8>, UnixTime)> {
    let ski = ext::key_identifier(spki_der)?;
    let aki = root
        .subject_key_id()?
        .ok_or_else(|| PkiError::invalid("root certificate", "has no subjectKeyIdentifier"))?;
    let not_after = (not_before + u64::from(ISSUING_VALIDITY_DAYS) * DAY - 1).min(root.not_after());
    Ok((ski, aki, not_after))
}

/// The issuing CA certificate (S/MIME BR §7.1.2.2): pathLen 0, keyCertSign + cRLSign,
/// extKeyUsage emailProtection only, the Strict mailbox policy, the root's CRL and
/// certificate URLs, AKI = the root's SKI.
pub fn issuing_ca_template(
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    serial: Vec<u8>,
    not_before: UnixTime,
    root: &ParsedCertificate,
    root_urls: &PublicationUrls,
) -> Result<CertificateTemplate> {
    let (ski, aki, not_after) = issued_by_root(&spki_der, not_before, root)?;
    Ok(CertificateTemplate {
        serial,
        subject_der,
        spki_der,
        not_before,
        not_after,
        extensions: vec![
            ext::basic_constraints(true, Some(0))?,
            ext::key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)?,
            ext::ext_key_usage(&[ID_KP_EMAIL_PROTECTION])?,
            ext::certificate_policies(&[POLICY_MAILBOX_VALIDATED_STRICT])?,
            ext::crl_distribution_point(&root_urls.crl)?,
            ext::authority_info_access(&root_urls.ca_issuers, root_urls.ocsp.as_deref())?,
            ext::authority_key_identifier(&aki)?,
            ext::subject_key_identifier(&ski)?,
        ],
    })
}

/// The key-recovery-agent (KRA) certificate: the certificate archived encryption keys are
/// encrypted to (issue #5), issued by the root. It only receives keys — keyUsage exactly
/// keyAgreement (EC, X25519) or keyEncipherment (RSA), critical, no digitalSignature — and is
/// no CA (basicConstraints cA FALSE, critical). It carries no extKeyUsage: it is no mailbox's
/// certificate and no client should accept it for mail. Its validity is the issuing CA's (ten
/// years, within the root's), not a subscriber's 825 days: the archive outlives subscriber
/// certificates. The root's CRL and certificate URLs let a relying party check it like the
/// issuing CA.
pub fn kra_template(
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    serial: Vec<u8>,
    not_before: UnixTime,
    root: &ParsedCertificate,
    root_urls: &PublicationUrls,
) -> Result<CertificateTemplate> {
    let kt = KeyType::of_spki(&spki_der)?;
    if !kt.can_encrypt() {
        return Err(PkiError::ProfileMismatch(format!(
            "a {kt} key cannot receive encrypted keys: a key-recovery agent needs an encryption key"
        )));
    }
    let (ski, aki, not_after) = issued_by_root(&spki_der, not_before, root)?;
    Ok(CertificateTemplate {
        serial,
        subject_der,
        spki_der,
        not_before,
        not_after,
        extensions: vec![
            ext::basic_constraints(false, None)?,
            ext::key_usage(kra_key_usage(kt))?,
            ext::crl_distribution_point(&root_urls.crl)?,
            ext::authority_info_access(&root_urls.ca_issuers, root_urls.ocsp.as_deref())?,
            ext::authority_key_identifier(&aki)?,
            ext::subject_key_identifier(&ski)?,
        ],
    })
}

/// The keyUsage of a key-recovery-agent certificate for a key of type `kt`: keyAgreement for
/// EC and X25519 keys, keyEncipherment for RSA.
pub fn kra_key_usage(kt: KeyType) -> FlagSet<KeyUsages> {
    if kt.uses_key_agreement() {
        KeyUsages::KeyAgreement.into()
    } else {
        KeyUsages::KeyEncipherment.into()
    }
}

/// The commonName of the key-recovery-agent certificate: "`org` Key Recovery Agent", or
/// "Key Recovery Agent" when that would exceed ub-common-name (64 characters); the
/// organizationName attribute names the organisation either way.
pub fn kra_common_name(org: &str) -> String {
    let cn = format!("{org} Key Recovery Agent");
    if cn.chars().count() <= 64 {
        cn
    } else {
        "Key Recovery Agent".to_string()
    }
}

/// The longest life of a delegated OCSP responder certificate. It carries
/// id-pkix-ocsp-nocheck, so nothing can revoke it (RFC 6960 §4.2.2.2.1 asks for a short
/// lifetime instead); `cachet serve` issues them for 7 days and renews at half-life.
pub const MAX_OCSP_SIGNER_DAYS: u32 = 31;

/// The commonName of a CA's delegated OCSP responder: "`ca_cn` OCSP Responder", or "OCSP
/// Responder" when that would exceed ub-common-name (64 characters).
pub fn ocsp_signer_common_name(ca_cn: &str) -> String {
    let cn = format!("{ca_cn} OCSP Responder");
    if cn.chars().count() <= 64 {
        cn
    } else {
        "OCSP Responder".to_string()
    }
}

/// A delegated OCSP responder certificate (RFC 6960 §4.2.2.2), issued directly by the CA
/// whose certificates it answers for: extKeyUsage exactly id-kp-OCSPSigning, keyUsage
/// digitalSignature (critical), basicConstraints cA FALSE (critical), id-pkix-ocsp-nocheck
/// (§4.2.2.2.1), AKI = the CA's SKI, SKI. No CRL distribution point or AIA: nocheck tells
/// clients not to look, and its life (`not_before..=not_after`, at most
/// [`MAX_OCSP_SIGNER_DAYS`] and never past the CA's notAfter) is what limits a stolen key.
pub fn ocsp_signer_template(
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    serial: Vec<u8>,
    not_before: UnixTime,
    not_after: UnixTime,
    issuer: &ParsedCertificate,
) -> Result<CertificateTemplate> {
    let kt = KeyType::of_spki(&spki_der)?;
    if !kt.can_sign() {
        return Err(PkiError::ProfileMismatch(format!(
            "a {kt} key cannot sign OCSP responses"
        )));
    }
    let not_after = not_after.min(issuer.not_after());
    if not_after <= not_before || not_after - not_before >= u64::from(MAX_OCSP_SIGNER_DAYS) * DAY {
        return Err(PkiError::invalid(
            "validity",
            format!(
                "an OCSP responder certificate must be valid for less than {MAX_OCSP_SIGNER_DAYS} days, within its CA's validity"
            ),
        ));
    }
    let aki = issuer
        .subject_key_id()?
        .ok_or_else(|| PkiError::invalid("CA certificate", "has no subjectKeyIdentifier"))?;
    let ski = ext::key_identifier(&spki_der)?;
    Ok(CertificateTemplate {
        serial,
        subject_der,
        spki_der,
        not_before,
        not_after,
        extensions: vec![
            ext::basic_constraints(false, None)?,
            ext::key_usage(KeyUsages::DigitalSignature.into())?,
            ext::ext_key_usage(&[crate::ocsp::ID_KP_OCSP_SIGNING])?,
            ext::ocsp_nocheck()?,
            ext::authority_key_identifier(&aki)?,
            ext::subject_key_identifier(&ski)?,
        ],
    })
}

/// The longest life of the self-signed TLS server certificate of `cachet serve`'s https
/// listener (a year and a day; it is regenerated when it expires).
pub const MAX_TLS_SERVER_DAYS: u32 = 366;

/// The self-signed TLS server certificate of Cachet's own HTTPS listener (EST, RFC 7030
/// §3.3.1, needs TLS). The S/MIME issuing CA must not issue it (S/MIME BR §7.1.2.2 limit the
/// issuing CA to emailProtection), so it signs itself and clients pin it (`curl --cacert`):
/// basicConstraints cA FALSE (critical), keyUsage digitalSignature (critical; plus
/// keyEncipherment for RSA key transport in TLS 1.2), extKeyUsage serverAuth, subjectAltName
/// with `dns` and `ips` (RFC 6125: clients match these, not the CN), SKI, and AKI = SKI so
/// OpenSSL recognises it as self-signed. At most [`MAX_TLS_SERVER_DAYS`] long.
pub fn tls_server_template(
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    serial: Vec<u8>,
    not_before: UnixTime,
    not_after: UnixTime,
    dns: &[&str],
    ips: &[std::net::IpAddr],
) -> Result<CertificateTemplate> {
    let kt = KeyType::of_spki(&spki_der)?;
    if !kt.can_sign() {
        return Err(PkiError::ProfileMismatch(format!(
            "a {kt} key cannot sign TLS handshakes"
        )));
    }
    if not_after <= not_before || not_after - not_before > u64::from(MAX_TLS_SERVER_DAYS) * DAY {
        return Err(PkiError::invalid(
            "validity",
            format!("a TLS server certificate is valid for at most {MAX_TLS_SERVER_DAYS} days"),
        ));
    }
    if dns.is_empty() && ips.is_empty() {
        return Err(PkiError::invalid(
            "subjectAltName",
            "a TLS server certificate needs at least one host name or address",
        ));
    }
    let ku = if kt.is_rsa() {
        KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment
    } else {
        KeyUsages::DigitalSignature.into()
    };
    let ski = ext::key_identifier(&spki_der)?;
    Ok(CertificateTemplate {
        serial,
        subject_der,
        spki_der,
        not_before,
        not_after,
        extensions: vec![
            ext::basic_constraints(false, None)?,
            ext::key_usage(ku)?,
            ext::ext_key_usage(&[const_oid::db::rfc5280::ID_KP_SERVER_AUTH])?,
            ext::subject_alt_name_hosts(dns, ips)?,
            ext::subject_key_identifier(&ski)?,
            ext::authority_key_identifier(&ski)?,
        ],
    })
}

/// A request for a subscriber certificate.
#[derive(Debug, Clone)]
pub struct SubscriberRequest<'a> {
    /// The mailbox (already normalised with [`normalize_email`]).
    pub email: &'a str,
    /// The profile.
    pub profile: Profile,
    /// The subject's public key.
    pub spki_der: &'a [u8],
    /// Start of validity.
    pub not_before: UnixTime,
    /// Validity in days (1..=825).
    pub validity_days: u32,
    /// Whether signing certificates also assert nonRepudiation.
    pub non_repudiation: bool,
}

/// A Strict mailbox-validated subscriber certificate (S/MIME BR §7.1.2.3).
pub fn subscriber_template(
    req: &SubscriberRequest<'_>,
    serial: Vec<u8>,
    issuer: &ParsedCertificate,
    issuer_urls: &PublicationUrls,
) -> Result<CertificateTemplate> {
    let kt = KeyType::of_spki(req.spki_der)?;
    if !req.profile.allows_key_type(kt) {
        return Err(PkiError::ProfileMismatch(format!(
            "a {kt} key cannot be used for a {} certificate ({})",
            req.profile,
            if kt == KeyType::Ed25519 {
                "Ed25519 only signs"
            } else {
                "X25519 only agrees keys: use it for encryption"
            }
        )));
    }
    if req.validity_days == 0 || req.validity_days > MAX_VALIDITY_DAYS {
        return Err(PkiError::invalid(
            "validity",
            format!(
                "{} days is outside 1..={MAX_VALIDITY_DAYS} (S/MIME BR §6.3.2)",
                req.validity_days
            ),
        ));
    }
    let not_after = req.not_before + u64::from(req.validity_days) * DAY - 1;
    if not_after > issuer.not_after() {
        return Err(PkiError::invalid(
            "validity",
            "the certificate would outlive its issuing CA: shorten the validity or renew the CA",
        ));
    }
    let aki = issuer.subject_key_id()?.ok_or_else(|| {
        PkiError::invalid("issuing CA certificate", "has no subjectKeyIdentifier")
    })?;
    let ski = ext::key_identifier(req.spki_der)?;
    // The commonName, when present, is the mailbox (S/MIME BR §7.1.4.2.2); ub-common-name is
    // 64, so a longer address goes in subjectAltName only and the subject stays empty.
    let long_address = req.email.chars().count() > 64;
    let subject_der = if long_address {
        NameBuilder::new().to_der()?
    } else {
        NameBuilder::new().common_name(req.email)?.to_der()?
    };
    let mut extensions = Vec::with_capacity(8);
    extensions.push(ext::key_usage(
        req.profile.key_usage(kt, req.non_repudiation),
    )?);
    extensions.push(ext::ext_key_usage(&[ID_KP_EMAIL_PROTECTION])?);
    // RFC 5280 §4.2.1.6: with an empty subject, subjectAltName is critical.
    extensions.push(ext::subject_alt_name_emails(&[req.email], long_address)?);
    if br_permits_key_type(kt) {
        extensions.push(ext::certificate_policies(&[
            POLICY_MAILBOX_VALIDATED_STRICT,
        ])?);
    }
    extensions.push(ext::crl_distribution_point(&issuer_urls.crl)?);
    extensions.push(ext::authority_info_access(
        &issuer_urls.ca_issuers,
        issuer_urls.ocsp.as_deref(),
    )?);
    extensions.push(ext::authority_key_identifier(&aki)?);
    extensions.push(ext::subject_key_identifier(&ski)?);
    Ok(CertificateTemplate {
        serial,
        subject_der,
        spki_der: req.spki_der.to_vec(),
        not_before: req.not_before,
        not_after,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_domains() {
        assert_eq!(
            normalize_email("Alice.B@Example.COM").unwrap(),
            "Alice.B@example.com"
        );
        for bad in [
            "alice",
            "@x.com",
            "a..b@x.com",
            "a@x",
            "a@-x.com",
            "a b@x.com",
            "ä@x.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(email_in_domain("a@example.com", "example.com"));
        assert!(email_in_domain("a@eu.example.com", "example.com"));
        assert!(!email_in_domain("a@badexample.com", "example.com"));
        assert!(check_base_url("http://pki.example.com").is_ok());
        assert!(check_base_url("http://pki.example.com:8080/pki").is_ok());
        assert!(check_base_url("http://localhost:8080").is_ok());
        for bad in [
            "https://pki.example.com",
            "http://u:p@pki.example.com",
            "http://pki.example.com/x?y=1",
            "http://pki.example.com#f",
            "http://pki.example.com:99999",
            "http://pki example.com",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
        assert!(normalize_domain("123.456").is_err());
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("http://").is_err());
    }

    #[test]
    fn key_usage_per_profile() {
        let ku = |p: Profile, k| p.key_usage(k, false).bits();
        assert_eq!(
            ku(Profile::Signing, KeyType::EcdsaP256),
            FlagSet::from(KeyUsages::DigitalSignature).bits()
        );
        assert_eq!(
            ku(Profile::Encryption, KeyType::Rsa2048),
            FlagSet::from(KeyUsages::KeyEncipherment).bits()
        );
        assert_eq!(
            ku(Profile::Encryption, KeyType::X25519),
            FlagSet::from(KeyUsages::KeyAgreement).bits()
        );
        assert!(!Profile::Dual.allows_key_type(KeyType::Ed25519));
        assert!(!Profile::Signing.allows_key_type(KeyType::X25519));
        assert!(!Profile::Encryption.allows_key_type(KeyType::Ed25519));
    }

    #[test]
    fn tls_server_certificate_is_self_signed_for_server_auth() {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let key = cachet_crypto::PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let spki = key.public_key_der().to_vec();
        let subject = NameBuilder::new()
            .common_name("pki.example.com")
            .unwrap()
            .to_der()
            .unwrap();
        let ips = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        let t = tls_server_template(
            subject.clone(),
            spki.clone(),
            vec![0x42; 16],
            1_700_000_000,
            1_700_000_000 + 365 * DAY,
            &["pki.example.com", "localhost"],
            &ips,
        )
        .unwrap();
        let der = crate::issue::sign_certificate(&t, &subject, &key).unwrap();
        let cert = ParsedCertificate::from_der(&der).unwrap();
        cert.verify_signature(&spki).unwrap();
        assert!(!cert.is_ca().unwrap());
        let (critical, eku) = cert.ext_key_usage().unwrap().unwrap();
        assert!(!critical);
        assert_eq!(eku.0, vec![const_oid::db::rfc5280::ID_KP_SERVER_AUTH]);
        let (_, ku) = cert.key_usage().unwrap().unwrap();
        assert_eq!(
            ku.0.bits(),
            FlagSet::from(KeyUsages::DigitalSignature).bits()
        );
        let (_, san) = cert.subject_alt_name().unwrap().unwrap();
        use x509_cert::ext::pkix::name::GeneralName;
        let dns: Vec<String> = san
            .0
            .iter()
            .filter_map(|g| match g {
                GeneralName::DnsName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(dns, ["pki.example.com", "localhost"]);
        let ip_lens: Vec<usize> = san
            .0
            .iter()
            .filter_map(|g| match g {
                GeneralName::IpAddress(o) => Some(o.as_bytes().len()),
                _ => None,
            })
            .collect();
        assert_eq!(ip_lens, [4, 16]);
        assert_eq!(
            cert.subject_key_id().unwrap(),
            cert.authority_key_id().unwrap()
        );

        // Too long, no names, a key that cannot sign: refused.
        let too_long = 1_700_000_000 + u64::from(MAX_TLS_SERVER_DAYS + 1) * DAY;
        let args = |na, dns: &[&str], spki: Vec<u8>| {
            tls_server_template(subject.clone(), spki, vec![1], 1_700_000_000, na, dns, &[])
        };
        assert!(args(too_long, &["localhost"], spki.clone()).is_err());
        assert!(args(1_700_000_000 + DAY, &[], spki.clone()).is_err());
        let x = cachet_crypto::PrivateKey::generate(KeyType::X25519).unwrap();
        assert!(
            args(
                1_700_000_000 + DAY,
                &["localhost"],
                x.public_key_der().to_vec()
            )
            .is_err()
        );
    }
}
