//! Key archive and M-of-N key recovery for Cachet.
//!
//! A copy of a user's *encryption* key is what keeps their old mail readable when the key is
//! lost; a copy of a *signing* key would let its holder sign as the user. So this crate
//! archives encryption keys only, and gives them back only when M of N recovery officers
//! approve — enforced by cryptography, not by a counter in a database:
//!
//! 1. **Archive** ([`archive`]): the subscriber's PKCS#8 is encrypted in CMS
//!    AuthEnvelopedData (RFC 5652, RFC 5083) with AES-256-GCM (RFC 5084) to the
//!    key-recovery-agent (KRA) certificate, with its metadata bound inside. Certificates
//!    that permit signing are refused.
//! 2. **Split** ([`split`], [`reshare`]): the KRA private key is sealed under a random
//!    256-bit key `K`, and `K` is split with Shamir's secret sharing (Shamir 1979) over
//!    GF(2^8) into one share per officer, each sealed for that officer: Argon2id
//!    (RFC 9106) + AES-256-GCM for a passphrase, or CMS AuthEnvelopedData to the officer's
//!    encryption certificate.
//! 3. **Request and approve** ([`RecoveryRequest`]): a request carries an ephemeral P-256
//!    key; each approving officer's share is opened in memory and re-sealed to it (ECIES).
//!    Requests expire (72 hours by default) and take one approval per officer.
//! 4. **Complete and hand back** ([`RecoveryRequest::complete`], [`recover_keys`],
//!    [`to_pkcs12`]): M approvals rebuild `K` in memory, `K` opens the recovery key, the
//!    recovery key opens each archived record (verifying its binding), and the keys go into
//!    a PKCS#12 file (RFC 7292) with their certificates.
//!
//! Everything stored is a DER record with an explicit version ([`SealedShare`],
//! [`SealedRecoveryKey`], [`ArchivedKey`], [`RecoveryRequest`], each with `to_der` and
//! `from_der`), with its indexable facts (officer, serial, e-mail address, state…) also
//! available as fields. Secrets — keys, `K`, plaintext shares, passphrases — live only in
//! [`zeroize::Zeroizing`] memory and are never printed by `Debug`.
//!
//! This crate is pure: no I/O, no clock (every function that cares about time takes
//! `now`, seconds since the epoch), no global state. It does not store anything, issue the
//! KRA certificate (that is `cachet-pki` and `cachet-service`), seal request secrets under
//! the data directory's key, or decide who may ask for what: those are the service's. The
//! hash-chained audit records that DESIGN.md also places here are not part of it yet. It is
//! not a general secret-sharing library either: the only thing it splits is the recovery
//! key.
#![forbid(unsafe_code)]

mod archive;
mod error;
mod officer;
mod request;
mod shamir;
mod split;
mod wire;

#[cfg(test)]
mod tests;

pub use archive::{
    ArchiveMetadata, ArchivedKey, RecoveredKey, archive, check_archivable, rearchive, recover_key,
    recover_keys, to_pkcs12,
};
pub use cachet_crypto::secret::Argon2Params;
pub use cachet_pki::pkcs12::Pkcs12Profile;
pub use error::EscrowError;
pub use officer::{
    Argon2Cost, MAX_OFFICER_NAME_LEN, MIN_PASSPHRASE_LEN, OfficerCredential, OfficerSpec,
    SealedShare, ShareScheme,
};
pub use request::{
    Approval, DEFAULT_REQUEST_TTL, MAX_REASON_LEN, MAX_REQUEST_ID_LEN, MAX_REQUEST_TTL,
    RecoveryRequest, RequestPurpose, RequestSecret, RequestState,
};
pub use split::{
    RECOMMENDED_KRA_KEY_TYPE, RecoveryKey, RecoverySplit, SealedRecoveryKey, check_kra_certificate,
    reshare, split,
};

use std::fmt;

/// Identifies one split of the recovery key: 16 random bytes drawn by each [`split`] and
/// [`reshare`], recorded in the sealed recovery key, in every share and in every request.
/// Shares of different generations never combine.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Generation(pub [u8; 16]);

impl Generation {
    fn random() -> Result<Self, EscrowError> {
        Ok(Generation(cachet_crypto::rand::bytes::<16>()?))
    }

    /// Lower-case hex, for logs and the audit record.
    pub fn to_hex(&self) -> String {
        wire::hex(&self.0)
    }
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Generation({})", self.to_hex())
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
