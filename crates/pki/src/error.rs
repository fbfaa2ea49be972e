//! Errors of the pki crate, as enums a caller can match on.

use crate::lint::LintFinding;

/// Why a PKI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Input bytes are not the structure expected; names the structure and the decoder's reason.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read (e.g. "certificate", "CSR").
        what: &'static str,
        /// The decoder's explanation.
        detail: String,
    },
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] cachet_crypto::Error),
    /// The certificate violates its profile; each finding names the rule.
    #[error("certificate refused by the profile lint: {}", LintFinding::summary(.0))]
    Lint(Vec<LintFinding>),
    /// The request cannot be satisfied by the profile (e.g. an Ed25519 key for encryption).
    #[error("{0}")]
    ProfileMismatch(String),
    /// A PKCS#10 request's signature does not verify with its own public key.
    #[error("the CSR's signature does not verify with the public key it carries")]
    CsrBadSignature,
    /// A PKCS#10 request names a different mailbox than the one being issued for.
    #[error("the CSR is for {found}, not {expected}")]
    CsrEmailMismatch {
        /// The address asked for on the command line.
        expected: String,
        /// The addresses found in the CSR.
        found: String,
    },
    /// A value is outside what Cachet accepts.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// The problem.
        detail: String,
    },
}

impl PkiError {
    pub(crate) fn malformed(what: &'static str, e: impl std::fmt::Display) -> Self {
        PkiError::Malformed {
            what,
            detail: e.to_string(),
        }
    }
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        PkiError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, PkiError>;
