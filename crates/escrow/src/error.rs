//! Errors of the escrow crate, as one enum a caller can match on.

/// Why an archive, split, approval or recovery step was refused. Each message is one sentence
/// that says what happened; none contains secret material (keys, shares, passphrases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscrowError {
    /// The subscriber certificate permits signing (or has no keyUsage, which permits
    /// everything): its key is never archived, since a copy would let the holder sign as
    /// the subscriber (non-repudiation).
    #[error(
        "certificate {serial} permits {usage}: signing keys are never archived; archive only the key of an encryption certificate"
    )]
    SigningKey {
        /// The certificate serial, hex.
        serial: String,
        /// What it permits: `digitalSignature`, `nonRepudiation`, `keyCertSign`, `cRLSign`,
        /// or `every use (no keyUsage extension)`.
        usage: &'static str,
    },
    /// The certificate allows neither keyEncipherment nor keyAgreement: it is not an
    /// encryption certificate, so there is nothing worth archiving.
    #[error(
        "certificate {serial} permits neither keyEncipherment nor keyAgreement: it is not an encryption certificate"
    )]
    NotEncryptionCertificate {
        /// The certificate serial, hex.
        serial: String,
    },
    /// The private key given does not belong to the certificate given.
    #[error("the private key does not belong to {what}")]
    KeyMismatch {
        /// Which certificate (e.g. `certificate 1a2b` or `the key-recovery-agent certificate`).
        what: String,
    },
    /// The key-recovery-agent certificate cannot serve: wrong key type or size, or key
    /// usages that forbid encryption to it.
    #[error("the key-recovery-agent certificate cannot be used: {0}")]
    KraCertificate(String),
    /// The passphrase does not open this officer's share.
    #[error("wrong passphrase for recovery officer '{officer}'")]
    WrongPassphrase {
        /// The officer.
        officer: String,
    },
    /// The private key given does not open this officer's share.
    #[error("the key given is not recovery officer '{officer}''s encryption key")]
    WrongOfficerKey {
        /// The officer.
        officer: String,
    },
    /// A passphrase was given for a certificate officer, or a key for a passphrase officer.
    #[error("recovery officer '{officer}' approves with {expected}")]
    CredentialKind {
        /// The officer.
        officer: String,
        /// `a passphrase` or `the private key of their encryption certificate`.
        expected: &'static str,
    },
    /// An officer passphrase is shorter than [`crate::MIN_PASSPHRASE_LEN`].
    #[error(
        "the passphrase of recovery officer '{officer}' is shorter than {min} bytes; choose a longer one",
        min = crate::MIN_PASSPHRASE_LEN
    )]
    WeakPassphrase {
        /// The officer.
        officer: String,
    },
    /// Argon2id parameters below the documented floor ([`crate::Argon2Cost::FLOOR`]) or
    /// above what opening a share will accept.
    #[error("Argon2id parameters refused: {0}")]
    Argon2Parameters(String),
    /// The threshold is not between 1 and the number of officers, or there are more than 255
    /// officers (Shamir over GF(256) has 255 share points).
    #[error(
        "invalid threshold {threshold} of {officers} officers: it must be between 1 and the number of officers, and there can be at most 255 officers"
    )]
    InvalidThreshold {
        /// M.
        threshold: usize,
        /// N.
        officers: usize,
    },
    /// An officer name is empty, too long, has control characters, or appears twice.
    #[error("invalid recovery officer name: {0}")]
    InvalidOfficer(String),
    /// An officer certificate cannot receive an encrypted share.
    #[error("the certificate of recovery officer '{officer}' cannot be used: {reason}")]
    OfficerCertificate {
        /// The officer.
        officer: String,
        /// Why.
        reason: String,
    },
    /// The officer is not one of the officers of the split the request was made under.
    #[error("'{officer}' is not a recovery officer of the current split")]
    UnknownOfficer {
        /// The name given.
        officer: String,
    },
    /// The officer has already approved this request.
    #[error("recovery officer '{officer}' has already approved this request")]
    AlreadyApproved {
        /// The officer.
        officer: String,
    },
    /// The request's lifetime is over.
    #[error("the recovery request expired at {expires_at} (Unix time); make a new request")]
    Expired {
        /// When it expired, seconds since the epoch.
        expires_at: u64,
    },
    /// The request is completed, expired or cancelled: it takes no more approvals and
    /// cannot be completed again.
    #[error("the recovery request is {state}, not pending")]
    NotPending {
        /// `completed`, `expired` or `cancelled`.
        state: &'static str,
    },
    /// The request already has all the approvals it needs.
    #[error("the recovery request already has the {need} approvals it needs; complete it")]
    ThresholdReached {
        /// M.
        need: usize,
    },
    /// Fewer approvals than the threshold.
    #[error("the recovery request has {have} of the {need} approvals it needs")]
    NotEnoughApprovals {
        /// Approvals so far.
        have: usize,
        /// The threshold M.
        need: usize,
    },
    /// The share belongs to another split of the recovery key (the officers were changed
    /// and the key re-split since): it is of no use any more.
    #[error(
        "the share of recovery officer '{officer}' belongs to a previous split of the recovery key and is no longer valid"
    )]
    StaleShare {
        /// The officer.
        officer: String,
    },
    /// An opened share names another officer, index or split than its record: the record
    /// was altered or moved.
    #[error(
        "the share record of recovery officer '{officer}' does not match its contents: it was altered"
    )]
    ShareMismatch {
        /// The officer the record names.
        officer: String,
    },
    /// The recovery key was split again (officers changed) after the request was made:
    /// its approvals are shares of the old split.
    #[error(
        "the recovery key was re-split after this request was made; its approvals no longer count, make a new request"
    )]
    SplitChanged,
    /// The request secret given is not the one made for this request.
    #[error("the request secret does not belong to this recovery request")]
    WrongRequestSecret,
    /// The approved shares do not rebuild a key that opens the sealed recovery key.
    #[error(
        "the approved shares do not reconstruct the recovery key: a share or the sealed recovery key was altered"
    )]
    CombinationFailed,
    /// An archived record fails its integrity checks: ciphertext altered or swapped,
    /// metadata edited, or the record moved.
    #[error("archived key {serial} was tampered with: {what}")]
    TamperedArchive {
        /// The serial the record claims, hex.
        serial: String,
        /// What does not match.
        what: String,
    },
    /// The archived record was made for another key-recovery-agent certificate.
    #[error(
        "archived key {serial} is encrypted to another key-recovery-agent certificate; recover it with that key"
    )]
    OtherRecoveryKey {
        /// The serial, hex.
        serial: String,
    },
    /// A stored record cannot be decoded.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which record.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// A stored record has a format version this build does not read.
    #[error("{what} has format version {version}, which this version of Cachet does not read")]
    UnsupportedVersion {
        /// Which record.
        what: &'static str,
        /// The version found.
        version: u32,
    },
    /// A request parameter is out of range (empty id, lifetime of zero…).
    #[error("invalid recovery request: {0}")]
    InvalidRequest(String),
    /// There are no keys to put into a PKCS#12 file.
    #[error("there are no archived keys to hand back")]
    NothingToRecover,
    /// A PKCS#12 file must have a password: it holds every recovered key.
    #[error("the PKCS#12 password is empty; a recovered key file must be protected by a password")]
    EmptyPassword,
    /// Building the PKCS#12 file failed.
    #[error("cannot build the PKCS#12 file: {0}")]
    Pkcs12(String),
    /// A certificate cannot be read.
    #[error("cannot read {what}: {detail}")]
    Certificate {
        /// Which certificate.
        what: String,
        /// Why.
        detail: String,
    },
    /// A cryptographic primitive failed (random generator, key generation, encoding).
    #[error("cryptographic operation failed: {0}")]
    Crypto(#[from] cachet_crypto::Error),
}

impl EscrowError {
    pub(crate) fn malformed(what: &'static str, detail: impl std::fmt::Display) -> Self {
        EscrowError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }

    pub(crate) fn cert(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        EscrowError::Certificate {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}
