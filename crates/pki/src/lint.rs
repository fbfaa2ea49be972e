//! The profile linter: checks a signed certificate against the profile it was issued under
//! (S/MIME BR §7.1.2 Strict mailbox-validated, RFC 5280 §4) before the CA stores or returns
//! it. Any finding of severity [`Severity::Error`] is a refusal; each names its rule.
//!
//! The linter reads the *encoded* certificate, not the template it came from, so a bug in
//! the builder cannot hide from it.

use crate::cert::ParsedCertificate;
use crate::ext::key_identifier;
use crate::profile::{
    MAX_VALIDITY_DAYS, POLICY_MAILBOX_VALIDATED_STRICT, Profile, br_permits_key_type,
};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc4519, rfc5280 as oids};
use der::Decode;
use std::fmt;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, CertificatePolicies, CrlDistributionPoints, KeyUsages,
};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The certificate must not be issued.
    Error,
    /// Allowed, but worth a look.
    Warning,
}

/// One violated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    /// Stable rule name, e.g. `smime-key-usage`.
    pub rule: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
}

impl LintFinding {
    /// "rule: message; rule: message" for error messages.
    pub fn summary(findings: &[LintFinding]) -> String {
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

/// What the certificate is meant to be.
#[derive(Debug, Clone, Copy)]
pub enum Role<'a> {
    /// A self-signed root CA (S/MIME BR §7.1.2.1).
    RootCa,
    /// A subordinate CA issuing S/MIME certificates (§7.1.2.2).
    IssuingCa,
    /// The key-recovery-agent certificate, issued by the root (issue #5; see
    /// [`crate::profile::kra_template`]): not a CA, keyUsage exactly keyAgreement (EC) or
    /// keyEncipherment (RSA), extKeyUsage absent or exactly emailProtection.
    KeyRecoveryAgent,
    /// A CA's delegated OCSP responder (RFC 6960 §4.2.2.2; see
    /// [`crate::profile::ocsp_signer_template`]): not a CA, keyUsage exactly
    /// digitalSignature, extKeyUsage exactly id-kp-OCSPSigning, id-pkix-ocsp-nocheck, short
    /// lived.
    OcspSigner,
    /// A subscriber certificate for `email` under `profile` (§7.1.2.3, Strict).
    Subscriber {
        /// The profile.
        profile: Profile,
        /// The mailbox the certificate is for.
        email: &'a str,
    },
}

struct Lint {
    findings: Vec<LintFinding>,
}

impl Lint {
    fn check(&mut self, ok: bool, rule: &'static str, message: impl FnOnce() -> String) {
        if !ok {
            self.findings.push(LintFinding {
                rule,
                severity: Severity::Error,
                message: message(),
            });
        }
    }
}

/// Extensions that may be critical in what Cachet issues: basicConstraints and keyUsage always
/// are; subjectAltName is when the subject is empty (RFC 5280 §4.2.1.6). AKI, SKI, CRL DP,
/// AIA, extKeyUsage and certificatePolicies are never critical in the S/MIME BR profiles.
const KNOWN_CRITICAL: [ObjectIdentifier; 3] = [
    oids::ID_CE_BASIC_CONSTRAINTS,
    oids::ID_CE_KEY_USAGE,
    oids::ID_CE_SUBJECT_ALT_NAME,
];

const ALLOWED_EXTENSIONS_SUBSCRIBER: [ObjectIdentifier; 9] = [
    oids::ID_CE_KEY_USAGE,
    oids::ID_CE_EXT_KEY_USAGE,
    oids::ID_CE_SUBJECT_ALT_NAME,
    oids::ID_CE_CERTIFICATE_POLICIES,
    oids::ID_CE_CRL_DISTRIBUTION_POINTS,
    oids::ID_PE_AUTHORITY_INFO_ACCESS,
    oids::ID_CE_AUTHORITY_KEY_IDENTIFIER,
    oids::ID_CE_SUBJECT_KEY_IDENTIFIER,
    oids::ID_CE_BASIC_CONSTRAINTS,
];

const ALLOWED_EXTENSIONS_OCSP_SIGNER: [ObjectIdentifier; 6] = [
    oids::ID_CE_BASIC_CONSTRAINTS,
    oids::ID_CE_KEY_USAGE,
    oids::ID_CE_EXT_KEY_USAGE,
    crate::ocsp::ID_PKIX_OCSP_NOCHECK,
    oids::ID_CE_AUTHORITY_KEY_IDENTIFIER,
    oids::ID_CE_SUBJECT_KEY_IDENTIFIER,
];

/// Lints `cert` as `role`. `issuer` is the issuing certificate (`None` for a root, which is
/// checked against itself).
pub fn lint(
    cert: &ParsedCertificate,
    role: Role<'_>,
    issuer: Option<&ParsedCertificate>,
) -> Vec<LintFinding> {
    let mut l = Lint {
        findings: Vec::new(),
    };
    let issuer = issuer.unwrap_or(cert);
    let tbs = cert.inner().tbs_certificate();

    // RFC 5280 §4.1.2.1, §4.1.2.2
    l.check(tbs.version() == Version::V3, "rfc5280-version", || {
        "certificate is not X.509 v3".into()
    });
    let serial = cert.serial_bytes();
    l.check(
        serial.first().is_some_and(|b| b & 0x80 == 0) && serial.iter().any(|&b| b != 0),
        "rfc5280-serial-positive",
        || "serial number must be a positive integer".into(),
    );
    l.check(serial.len() <= 20, "rfc5280-serial-length", || {
        "serial number is longer than 20 octets".into()
    });
    l.check(serial.len() >= 9, "smime-br-serial-entropy", || {
        "serial number must carry at least 64 bits of CSPRNG output (S/MIME BR §7.1)".into()
    });
    l.check(
        tbs.issuer_unique_id().is_none() && tbs.subject_unique_id().is_none(),
        "rfc5280-unique-ids",
        || "issuerUniqueID/subjectUniqueID must not be present".into(),
    );

    // Signature and issuer binding (RFC 5280 §4.1.1.2, §4.1.2.4)
    let sig_alg = cert.signature_algorithm();
    l.check(
        cert.inner().signature_algorithm() == tbs.signature(),
        "rfc5280-signature-algorithm-match",
        || "signatureAlgorithm differs from tbsCertificate.signature".into(),
    );
    let issuer_kt = issuer.key_type().ok();
    l.check(
        match (sig_alg, issuer_kt) {
            (Some(a), Some(k)) => Some(a) == k.signature_algorithm(),
            _ => false,
        },
        "smime-br-signature-algorithm",
        || {
            "signature algorithm is not the one allowed for the issuer's key (S/MIME BR §7.1.3.2)"
                .into()
        },
    );
    l.check(
        issuer
            .spki_der()
            .is_ok_and(|k| cert.verify_signature(&k).is_ok()),
        "signature-verifies",
        || "the signature does not verify with the issuer's public key".into(),
    );
    l.check(
        cert.issuer_der().ok() == issuer.subject_der().ok(),
        "rfc5280-issuer-name",
        || "issuer name differs from the issuing CA's subject".into(),
    );

    // Validity (RFC 5280 §4.1.2.5, S/MIME BR §6.3.2)
    l.check(
        cert.not_before() < cert.not_after(),
        "rfc5280-validity-order",
        || "notBefore is not before notAfter".into(),
    );
    l.check(
        cert.not_before() >= issuer.not_before() && cert.not_after() <= issuer.not_after(),
        "validity-within-issuer",
        || "validity extends beyond the issuing CA's validity".into(),
    );

    // Key (S/MIME BR §6.1.5, §7.1.3.1)
    let kt = cert.key_type();
    l.check(kt.is_ok(), "smime-br-key-type", || {
        "public key must be RSA 2048/3072/4096, ECDSA P-256/P-384, Ed25519 or X25519".into()
    });
    l.check(
        cert.spki_der()
            .is_ok_and(|k| crate::csr::check_rsa_exponent(&k).is_ok()),
        "smime-br-rsa-exponent",
        || "an RSA public exponent must be odd and at least 65537 (S/MIME BR §6.1.6)".into(),
    );

    // Key identifiers (RFC 5280 §4.2.1.1, §4.2.1.2)
    let ski = cert.subject_key_id().ok().flatten();
    let expected_ski = cert.spki_der().ok().and_then(|k| key_identifier(&k).ok());
    l.check(
        ski.is_some() && ski.as_deref() == expected_ski.as_ref().map(|k| &k[..]),
        "rfc5280-subject-key-identifier",
        || "subjectKeyIdentifier must be present and be the SHA-1 of the public key".into(),
    );
    let is_root = matches!(role, Role::RootCa);
    if !is_root {
        let aki = cert.authority_key_id().ok().flatten();
        l.check(
            aki.is_some() && aki == issuer.subject_key_id().ok().flatten(),
            "rfc5280-authority-key-identifier",
            || "authorityKeyIdentifier must equal the issuing CA's subjectKeyIdentifier".into(),
        );
    }

    // Extensions appear once, and none that may not be critical is (RFC 5280 §4.2: an
    // unknown critical extension makes a certificate unusable).
    for e in cert.extensions() {
        l.check(
            cert.extension(e.extn_id).is_ok(),
            "rfc5280-duplicate-extension",
            || format!("extension {} appears more than once", e.extn_id),
        );
        l.check(
            !e.critical || KNOWN_CRITICAL.contains(&e.extn_id),
            "rfc5280-critical-extension",
            || format!("extension {} is critical but must not be", e.extn_id),
        );
    }

    let bc = cert.basic_constraints();
    let ku = cert.key_usage();
    let eku = cert.ext_key_usage();
    l.check(
        bc.is_ok() && ku.is_ok() && eku.is_ok(),
        "rfc5280-extension-encoding",
        || "basicConstraints, keyUsage or extKeyUsage does not decode".into(),
    );
    let bc = bc.ok().flatten();
    let ku = ku.ok().flatten();
    let eku = eku.ok().flatten();
    let ku_bits = ku.as_ref().map(|(_, k)| k.0.bits());
    l.check(
        ku.as_ref().is_some_and(|(c, _)| *c),
        "smime-br-key-usage-critical",
        || "keyUsage must be present and critical".into(),
    );

    match role {
        Role::RootCa | Role::IssuingCa => {
            let want_path = if is_root { 1 } else { 0 };
            l.check(
                bc.as_ref().is_some_and(|(c, b)| *c && b.ca && b.path_len_constraint == Some(want_path)),
                "smime-br-ca-basic-constraints",
                || format!("basicConstraints must be critical with cA TRUE and pathLenConstraint {want_path}"),
            );
            l.check(
                ku_bits == Some((KeyUsages::KeyCertSign | KeyUsages::CRLSign).bits()),
                "smime-br-ca-key-usage",
                || "a CA's keyUsage must be exactly keyCertSign and cRLSign".into(),
            );
            if is_root {
                l.check(eku.is_none(), "smime-br-root-eku", || {
                    "a root CA must not carry extKeyUsage".into()
                });
                l.check(
                    cert.subject_der().ok() == cert.issuer_der().ok(),
                    "root-self-issued",
                    || "a root CA must be self-issued".into(),
                );
            } else {
                l.check(
                    eku.as_ref().is_some_and(|(c, e)| !*c && e.0 == [oids::ID_KP_EMAIL_PROTECTION]),
                    "smime-br-ca-eku",
                    || "an S/MIME issuing CA's extKeyUsage must be exactly emailProtection, not critical".into(),
                );
                lint_policies_and_urls(&mut l, cert, true);
            }
            l.check(
                !cert.common_names().is_empty(),
                "smime-br-ca-subject",
                || "a CA subject must have a commonName".into(),
            );
        }
        Role::KeyRecoveryAgent => {
            l.check(
                bc.as_ref().is_some_and(|(c, b)| *c && !b.ca),
                "kra-basic-constraints",
                || "a key-recovery-agent certificate must have a critical basicConstraints with cA FALSE".into(),
            );
            if let Ok(kt) = kt {
                l.check(kt.can_encrypt(), "kra-key-type", || {
                    format!("a {kt} key cannot receive encrypted keys")
                });
                l.check(
                    ku_bits == Some(crate::profile::kra_key_usage(kt).bits()),
                    "kra-key-usage",
                    || format!(
                        "a key-recovery-agent certificate's keyUsage must be exactly {} for a {kt} key (never digitalSignature)",
                        if kt.uses_key_agreement() { "keyAgreement" } else { "keyEncipherment" }
                    ),
                );
            }
            l.check(
                eku.as_ref()
                    .is_none_or(|(c, e)| !*c && e.0 == [oids::ID_KP_EMAIL_PROTECTION]),
                "kra-eku",
                || "a key-recovery-agent certificate's extKeyUsage must be absent or exactly emailProtection, not critical".into(),
            );
            l.check(!cert.common_names().is_empty(), "kra-subject", || {
                "a key-recovery-agent certificate's subject must have a commonName".into()
            });
        }
        Role::OcspSigner => {
            l.check(
                bc.as_ref().is_some_and(|(c, b)| *c && !b.ca),
                "ocsp-signer-basic-constraints",
                || "an OCSP responder certificate must have a critical basicConstraints with cA FALSE".into(),
            );
            l.check(
                ku_bits == Some(der::flagset::FlagSet::from(KeyUsages::DigitalSignature).bits()),
                "ocsp-signer-key-usage",
                || "an OCSP responder certificate's keyUsage must be exactly digitalSignature (RFC 6960 §4.2.2.2)".into(),
            );
            l.check(
                kt.is_ok_and(|k| k.can_sign()),
                "ocsp-signer-key-type",
                || "an OCSP responder needs a signing key".into(),
            );
            l.check(
                eku.as_ref()
                    .is_some_and(|(c, e)| !*c && e.0 == [crate::ocsp::ID_KP_OCSP_SIGNING]),
                "ocsp-signer-eku",
                || "an OCSP responder certificate's extKeyUsage must be exactly id-kp-OCSPSigning, not critical (RFC 6960 §4.2.2.2)".into(),
            );
            let nocheck = cert
                .extension(crate::ocsp::ID_PKIX_OCSP_NOCHECK)
                .ok()
                .flatten();
            l.check(
                nocheck.is_some_and(|e| !e.critical && e.extn_value.as_bytes() == [0x05, 0x00]),
                "ocsp-signer-nocheck",
                || "an OCSP responder certificate must carry id-pkix-ocsp-nocheck (NULL, not critical; RFC 6960 §4.2.2.2.1)".into(),
            );
            let max = crate::profile::MAX_OCSP_SIGNER_DAYS;
            let seconds = (cert.not_after() + 1).saturating_sub(cert.not_before());
            l.check(seconds <= u64::from(max) * 86_400, "ocsp-signer-validity", || {
                format!("an OCSP responder certificate, which cannot be revoked, must live at most {max} days")
            });
            l.check(
                !cert.common_names().is_empty(),
                "ocsp-signer-subject",
                || "an OCSP responder certificate's subject must have a commonName".into(),
            );
            for e in cert.extensions() {
                l.check(
                    ALLOWED_EXTENSIONS_OCSP_SIGNER.contains(&e.extn_id),
                    "ocsp-signer-extensions",
                    || {
                        format!(
                            "extension {} does not belong in an OCSP responder certificate",
                            e.extn_id
                        )
                    },
                );
            }
        }
        Role::Subscriber { profile, email } => {
            l.check(
                bc.as_ref().is_none_or(|(_, b)| !b.ca),
                "smime-br-subscriber-not-ca",
                || "a subscriber certificate must not be a CA".into(),
            );
            if let Ok(kt) = kt {
                l.check(
                    profile.allows_key_type(kt),
                    "smime-br-key-type-for-profile",
                    || format!("a {kt} key is not allowed for a {profile} certificate"),
                );
                let allowed_with_nr = (profile.key_usage(kt, true)).bits();
                let allowed_without = (profile.key_usage(kt, false)).bits();
                l.check(
                    ku_bits == Some(allowed_with_nr) || ku_bits == Some(allowed_without),
                    "smime-br-key-usage",
                    || {
                        format!(
                            "keyUsage does not match the Strict {profile} profile for a {kt} key"
                        )
                    },
                );
            }
            let claims_br = kt.is_ok_and(br_permits_key_type);
            l.check(
                eku.as_ref()
                    .is_some_and(|(c, e)| !*c && e.0 == [oids::ID_KP_EMAIL_PROTECTION]),
                "smime-br-eku",
                || "extKeyUsage must be exactly emailProtection, not critical (Strict)".into(),
            );
            // RFC 5280 §4.1.2.5: the period includes both ends, hence the +1 second.
            let seconds = (cert.not_after() + 1).saturating_sub(cert.not_before());
            l.check(seconds <= u64::from(MAX_VALIDITY_DAYS) * 86_400, "smime-br-validity", || {
                format!("validity of {seconds} seconds exceeds {MAX_VALIDITY_DAYS} days (S/MIME BR §6.3.2)")
            });
            lint_subscriber_names(&mut l, cert, email);
            lint_policies_and_urls(&mut l, cert, claims_br);
            for e in cert.extensions() {
                l.check(
                    ALLOWED_EXTENSIONS_SUBSCRIBER.contains(&e.extn_id),
                    "smime-br-extensions",
                    || format!("extension {} is not part of the Strict profile", e.extn_id),
                );
            }
        }
    }
    l.findings
}

fn lint_subscriber_names(l: &mut Lint, cert: &ParsedCertificate, email: &str) {
    let san = cert.subject_alt_name().ok().flatten();
    l.check(san.is_some(), "smime-br-san-present", || {
        "subjectAltName must be present".into()
    });
    if let Some((critical, san)) = san {
        let subject_empty = cert.inner().tbs_certificate().subject().is_empty();
        l.check(critical == subject_empty, "smime-br-san-critical", || {
            "subjectAltName must be critical exactly when the subject is empty (RFC 5280 §4.2.1.6)"
                .into()
        });
        l.check(
            san.0
                .iter()
                .all(|g| matches!(g, GeneralName::Rfc822Name(_))),
            "smime-br-san-types",
            || {
                "subjectAltName may contain only rfc822Name entries (Strict mailbox-validated)"
                    .into()
            },
        );
    }
    let emails = cert.email_addresses().unwrap_or_default();
    l.check(
        emails.iter().any(|e| e == email),
        "smime-br-san-mailbox",
        || format!("subjectAltName does not contain {email}"),
    );
    let tbs = cert.inner().tbs_certificate();
    for atv in tbs.subject().iter() {
        l.check(
            atv.oid == rfc4519::CN || atv.oid.to_string() == "1.2.840.113549.1.9.1",
            "smime-br-subject-attributes",
            || {
                format!(
                    "subject attribute {} is not allowed in a mailbox-validated certificate",
                    atv.oid
                )
            },
        );
    }
    for cn in cert.common_names() {
        l.check(emails.contains(&cn), "smime-br-subject-cn", || {
            format!("commonName '{cn}' must be one of the subjectAltName mailboxes")
        });
    }
}

fn uri_list(names: &[GeneralName]) -> Vec<String> {
    names
        .iter()
        .filter_map(|g| match g {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}

/// With `claims_br`, the S/MIME BR policy must be asserted; without (a key type the BR do not
/// permit), it must not be.
fn lint_policies_and_urls(l: &mut Lint, cert: &ParsedCertificate, claims_br: bool) {
    let policies = cert
        .extension(oids::ID_CE_CERTIFICATE_POLICIES)
        .ok()
        .flatten()
        .and_then(|e| {
            CertificatePolicies::from_der(e.extn_value.as_bytes())
                .ok()
                .map(|p| (e.critical, p))
        });
    let asserts_br = policies.as_ref().is_some_and(|(c, p)| {
        !*c && p
            .0
            .iter()
            .any(|i| i.policy_identifier == POLICY_MAILBOX_VALIDATED_STRICT)
    });
    if claims_br {
        l.check(asserts_br, "smime-br-certificate-policies", || {
            "certificatePolicies must be present, not critical, and include 2.23.140.1.5.1.3".into()
        });
    } else {
        l.check(!asserts_br, "smime-br-policy-not-claimable", || {
            "the S/MIME BR do not permit this key type (§7.1.3.1): the certificate must not assert 2.23.140.1.5.1.3".into()
        });
    }
    let crl_urls: Vec<String> = cert
        .extension(oids::ID_CE_CRL_DISTRIBUTION_POINTS)
        .ok()
        .flatten()
        .and_then(|e| CrlDistributionPoints::from_der(e.extn_value.as_bytes()).ok())
        .map(|d| {
            d.0.iter()
                .filter_map(|dp| match &dp.distribution_point {
                    Some(DistributionPointName::FullName(n)) => Some(uri_list(n)),
                    _ => None,
                })
                .flatten()
                .collect()
        })
        .unwrap_or_default();
    l.check(
        crl_urls.iter().any(|u| u.starts_with("http://")),
        "smime-br-crl-distribution-point",
        || "cRLDistributionPoints must contain an http:// URL (S/MIME BR §7.1.2.3(b))".into(),
    );
    let aia = cert
        .extension(oids::ID_PE_AUTHORITY_INFO_ACCESS)
        .ok()
        .flatten()
        .and_then(|e| AuthorityInfoAccessSyntax::from_der(e.extn_value.as_bytes()).ok());
    l.check(
        aia.is_some_and(|a| {
            a.0.iter().any(|d| {
                d.access_method == oids::ID_AD_CA_ISSUERS
                    && matches!(&d.access_location, GeneralName::UniformResourceIdentifier(u) if u.to_string().starts_with("http://"))
            })
        }),
        "smime-br-authority-info-access",
        || "authorityInformationAccess must carry an http:// caIssuers URL".into(),
    );
}
