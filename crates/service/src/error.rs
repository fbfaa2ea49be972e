//! Errors of the service layer. [`ServiceError::is_input_error`] tells an adapter whether
//! the caller's input was at fault (CLI exit status 2, HTTP 4xx) or something else failed.

use cachet_pki::PkiError;
use cachet_store::StoreError;

/// Why a use-case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The data directory is missing, incomplete or not Cachet's.
    #[error("{0}")]
    DataDir(String),
    /// `init` found something already there.
    #[error("{0}")]
    AlreadyInitialized(String),
    /// The passphrase or master key does not open the CA keys.
    #[error("{0}")]
    Locked(String),
    /// Invalid request (bad address, profile, key type, validity…).
    #[error("{0}")]
    Invalid(String),
    /// An X.509 problem with the caller's input or the CA's output.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// No such certificate.
    #[error("no certificate with serial {0}")]
    UnknownSerial(String),
    /// No such account.
    #[error("no account {0}: list them with `cachet user list`")]
    UnknownAccount(String),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// File system failure.
    #[error("{path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The key archive or a recovery step refused (wrong officer passphrase, too few
    /// approvals, expired request, tampered record…).
    #[error(transparent)]
    Escrow(#[from] cachet_escrow::EscrowError),
    /// Key recovery is off in this data directory.
    #[error("{0}")]
    RecoveryOff(String),
    /// No recovery request with this id.
    #[error("no recovery request '{0}': list them with `cachet recovery list`")]
    UnknownRequest(String),
    /// A cryptographic failure inside the CA.
    #[error(transparent)]
    Crypto(#[from] cachet_crypto::Error),
}

impl ServiceError {
    /// Whether the failure is due to the caller's input rather than the system.
    pub fn is_input_error(&self) -> bool {
        match self {
            ServiceError::DataDir(_)
            | ServiceError::AlreadyInitialized(_)
            | ServiceError::Locked(_)
            | ServiceError::Invalid(_)
            | ServiceError::UnknownSerial(_)
            | ServiceError::UnknownAccount(_) => true,
            ServiceError::Pki(p) => !matches!(p, PkiError::Lint(_) | PkiError::Crypto(_)),
            ServiceError::Store(s) => {
                matches!(s, StoreError::Foreign { .. } | StoreError::Open { .. })
            }
            ServiceError::RecoveryOff(_) | ServiceError::UnknownRequest(_) => true,
            ServiceError::Escrow(e) => !is_integrity_failure(e),
            ServiceError::Io { .. } | ServiceError::Crypto(_) => false,
        }
    }

    /// Whether this is a refusal by the recovery rules — too few approvals, a repeated
    /// approval, an expired or closed request, a tampered record — rather than bad input:
    /// the CLI exits 1 for these, as for a verdict that is not valid.
    pub fn is_refusal(&self) -> bool {
        use cachet_escrow::EscrowError as E;
        matches!(
            self,
            ServiceError::Escrow(
                E::NotEnoughApprovals { .. }
                    | E::AlreadyApproved { .. }
                    | E::Expired { .. }
                    | E::NotPending { .. }
                    | E::ThresholdReached { .. }
                    | E::SplitChanged
                    | E::StaleShare { .. }
                    | E::TamperedArchive { .. }
                    | E::ShareMismatch { .. }
                    | E::CombinationFailed
                    | E::OtherRecoveryKey { .. }
                    | E::WrongRequestSecret
            )
        )
    }

    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        ServiceError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, ServiceError>;

/// Stored records that fail their integrity checks: not the caller's fault.
fn is_integrity_failure(e: &cachet_escrow::EscrowError) -> bool {
    use cachet_escrow::EscrowError as E;
    matches!(
        e,
        E::TamperedArchive { .. }
            | E::ShareMismatch { .. }
            | E::CombinationFailed
            | E::OtherRecoveryKey { .. }
            | E::WrongRequestSecret
            | E::Malformed { .. }
            | E::UnsupportedVersion { .. }
            | E::Crypto(_)
            | E::Pkcs12(_)
    )
}
