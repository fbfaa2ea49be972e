//! Verdicts with explained findings (DESIGN.md "Verdict codes"): every verification result
//! is a list of findings, each with a stable kebab-case code, a severity and one sentence
//! that says what is wrong and what to do. A verdict is valid when no finding is an error.

use std::fmt;

/// Stable finding codes. New codes may be added; existing ones never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// Everything checked out.
    Valid,
    /// A signature does not verify with the signer's key.
    BadSignature,
    /// The signed content's digest does not match the messageDigest attribute.
    ContentAltered,
    /// The chain ends at a root that is not trusted.
    UntrustedRoot,
    /// No chain to a trusted root: an intermediate certificate is missing.
    MissingIntermediate,
    /// A certificate has expired (at the time of checking).
    Expired,
    /// A certificate is not yet valid.
    NotYetValid,
    /// A certificate is revoked.
    Revoked,
    /// Revocation status could not be determined from a CRL.
    CrlUnavailable,
    /// The only CRL available is past its nextUpdate.
    CrlExpired,
    /// keyUsage does not allow the operation.
    WrongKeyUsage,
    /// extKeyUsage does not include emailProtection.
    WrongExtendedKeyUsage,
    /// The From address is not among the signer certificate's addresses.
    SignerAddressMismatch,
    /// A weak algorithm (SHA-1, 3DES, RSA < 2048) was used: accepted for old mail, warned.
    WeakAlgorithm,
    /// No recipient info matches the given key or certificate.
    NoRecipientKey,
    /// The input is not a well-formed structure.
    Malformed,
    /// A certificate that issued another in the chain is not a CA (basicConstraints).
    NotCa,
    /// The chain is longer than a CA's pathLenConstraint, or than any path Cachet builds.
    PathTooLong,
    /// A name in a certificate is outside what an issuing CA (or the trust anchor's
    /// constraints) permits (RFC 5280 §4.2.1.10).
    NameNotPermitted,
    /// No certificate policy acceptable to the relying party remains (RFC 5280 §6.1).
    PolicyNotAcceptable,
    /// A certificate has a critical extension Cachet does not process (RFC 5280 §4.2).
    UnknownCriticalExtension,
    /// Revocation status could not be determined over OCSP.
    OcspUnavailable,
}

impl Code {
    /// Every code, for documentation and tests.
    pub const ALL: [Code; 22] = [
        Code::Valid,
        Code::BadSignature,
        Code::ContentAltered,
        Code::UntrustedRoot,
        Code::MissingIntermediate,
        Code::Expired,
        Code::NotYetValid,
        Code::Revoked,
        Code::CrlUnavailable,
        Code::CrlExpired,
        Code::WrongKeyUsage,
        Code::WrongExtendedKeyUsage,
        Code::SignerAddressMismatch,
        Code::WeakAlgorithm,
        Code::NoRecipientKey,
        Code::Malformed,
        Code::NotCa,
        Code::PathTooLong,
        Code::NameNotPermitted,
        Code::PolicyNotAcceptable,
        Code::UnknownCriticalExtension,
        Code::OcspUnavailable,
    ];

    /// The kebab-case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Valid => "valid",
            Code::BadSignature => "bad-signature",
            Code::ContentAltered => "content-altered",
            Code::UntrustedRoot => "untrusted-root",
            Code::MissingIntermediate => "missing-intermediate",
            Code::Expired => "expired",
            Code::NotYetValid => "not-yet-valid",
            Code::Revoked => "revoked",
            Code::CrlUnavailable => "crl-unavailable",
            Code::CrlExpired => "crl-expired",
            Code::WrongKeyUsage => "wrong-key-usage",
            Code::WrongExtendedKeyUsage => "wrong-extended-key-usage",
            Code::SignerAddressMismatch => "signer-address-mismatch",
            Code::WeakAlgorithm => "weak-algorithm",
            Code::NoRecipientKey => "no-recipient-key",
            Code::Malformed => "malformed",
            Code::NotCa => "not-a-ca",
            Code::PathTooLong => "path-too-long",
            Code::NameNotPermitted => "name-not-permitted",
            Code::PolicyNotAcceptable => "policy-not-acceptable",
            Code::UnknownCriticalExtension => "unknown-critical-extension",
            Code::OcspUnavailable => "ocsp-unavailable",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational (e.g. the `valid` finding).
    Info,
    /// Accepted, but the user should know (e.g. `weak-algorithm` on old mail).
    Warning,
    /// Makes the verdict not valid.
    Error,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The code.
    pub code: Code,
    /// Its severity.
    pub severity: Severity,
    /// What it concerns (a signer's subject, a certificate, a layer), if anything specific.
    pub subject: Option<String>,
    /// One sentence: what is wrong and how to fix it.
    pub message: String,
}

impl Finding {
    /// An error finding.
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity: Severity::Error,
            subject: None,
            message: message.into(),
        }
    }

    /// A warning finding.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity: Severity::Warning,
            subject: None,
            message: message.into(),
        }
    }

    /// Attaches what the finding concerns.
    pub fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.code, self.severity.as_str())?;
        if let Some(s) = &self.subject {
            write!(f, " {s}:")?;
        }
        write!(f, " {}", self.message)
    }
}

/// A list of findings; valid when none is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The findings, in the order they were made.
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// Whether no finding is an error.
    pub fn is_valid(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Adds a finding.
    pub fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }

    /// Whether any finding has `code`.
    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()));
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
            );
        }
    }

    #[test]
    fn validity_follows_errors_only() {
        let mut v = Verdict::default();
        v.push(Finding::warning(Code::WeakAlgorithm, "SHA-1 was used."));
        assert!(v.is_valid());
        v.push(Finding::error(Code::BadSignature, "The signature does not verify.").about("CN=a"));
        assert!(!v.is_valid());
        assert!(v.has(Code::BadSignature));
        assert_eq!(
            v.findings[1].to_string(),
            "bad-signature [error] CN=a: The signature does not verify."
        );
    }
}
