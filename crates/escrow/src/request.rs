//! Recovery requests: the M-of-N approval state machine, pure (time is a parameter).
//!
//! ```text
//!            new ──► Pending ──approve × M──► (Pending, M approvals) ──complete──► Completed
//!                       │ └──cancel──► Cancelled
//!                       └──now ≥ expiresAt──► Expired   (expire_if_due; approve and
//!                                                         complete refuse from then on)
//! ```
//!
//! [`RecoveryRequest::new`] makes an ephemeral P-256 *request key pair*. Its private half,
//! the [`RequestSecret`], is returned separately for the service to keep sealed under the
//! data directory's key-encryption key; the request keeps the public half. When an officer
//! approves, their share is opened in memory and at once sealed again to the request public
//! key — ECIES: ephemeral-static ECDH on P-256 (SEC 1 §5.1), HKDF-SHA-256 (RFC 5869) over
//! an info string naming the request, officer, index and both public keys, and AES-256-GCM
//! with the same info as associated data. So a plaintext share never reaches the store, an
//! approval cannot be moved to another request or officer, and only the holder of the request
//! secret can combine the M approvals ([`RecoveryRequest::complete`]), in memory.
//!
//! A request also records the split it was made under (generation, threshold, officer
//! roster): a share of another split is refused when approving ([`EscrowError::StaleShare`])
//! and a request whose split was replaced cannot complete ([`EscrowError::SplitChanged`]).
//!
//! ```text
//! RecoveryRequest ::= SEQUENCE {
//!     version           INTEGER (1),
//!     id                UTF8String,
//!     purpose           Purpose,
//!     reason            UTF8String,
//!     createdAt         INTEGER,          -- seconds since the epoch
//!     expiresAt         INTEGER,
//!     generation        OCTET STRING,     -- the split the request was made under
//!     threshold         INTEGER,
//!     officers          SEQUENCE OF UTF8String,
//!     requestPublicKey  OCTET STRING,     -- SubjectPublicKeyInfo, P-256
//!     approvals         SEQUENCE OF Approval,
//!     state             INTEGER { pending(0), completed(1), expired(2), cancelled(3) },
//!     stateAt           INTEGER }         -- when it left pending (0 while pending)
//! Purpose ::= SEQUENCE {
//!     kind    INTEGER { recover(1), reshare(2) },
//!     email   [0] IMPLICIT UTF8String OPTIONAL,
//!     serial  [1] IMPLICIT UTF8String OPTIONAL }  -- lower-case hex
//! Approval ::= SEQUENCE {
//!     officer UTF8String, index INTEGER, at INTEGER,
//!     share OCTET STRING }                -- RequestShare; emptied once the request is closed
//! RequestShare ::= SEQUENCE {
//!     version INTEGER (1), ephemeralPublicKey OCTET STRING,  -- uncompressed P-256 point
//!     sealed OCTET STRING }               -- nonce ‖ AES-256-GCM(ShareContent) ‖ tag
//! ```

use crate::officer::{self, OfficerCredential, SealedShare, ShareContent};
use crate::shamir::{self, RawShare};
use crate::split::{RecoveryKey, SealedRecoveryKey};
use crate::wire::{self, V1};
use crate::{ArchivedKey, EscrowError, Generation};
use cachet_crypto::ecdh::{EcdhCurve, EphemeralKey};
use cachet_crypto::kdf::{self, HkdfHash};
use cachet_crypto::secret::{self, KEY_LEN};
use cachet_crypto::{KeyType, PrivateKey};
use der::Sequence;
use der::asn1::{OctetStringRef, Utf8StringRef};
use std::fmt;
use zeroize::Zeroizing;

/// How long a request stays open by default: 72 hours.
pub const DEFAULT_REQUEST_TTL: u64 = 72 * 3600;
/// The longest lifetime a request may be given: 30 days.
pub const MAX_REQUEST_TTL: u64 = 30 * 86_400;
/// Longest request id, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// Longest reason, in bytes.
pub const MAX_REASON_LEN: usize = 4096;

/// What the recovery key will be used for once the request completes. Officers approve a
/// purpose, not a blank cheque; the service must use the key for nothing else
/// ([`RecoveryRequest::covers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPurpose {
    /// Hand back the archived encryption keys of `email` (only certificate `serial`, lower-
    /// case hex, when given).
    Recover {
        /// The user's e-mail address.
        email: String,
        /// One certificate only, or every archived key of the user.
        serial: Option<String>,
    },
    /// Split the recovery key again for a new roster or threshold (officer management).
    Reshare,
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// Taking approvals.
    Pending,
    /// The recovery key was rebuilt, at `at`.
    Completed {
        /// When.
        at: u64,
    },
    /// The request's lifetime ran out, at `at` (its `expires_at`).
    Expired {
        /// When.
        at: u64,
    },
    /// Withdrawn, at `at`.
    Cancelled {
        /// When.
        at: u64,
    },
}

impl RequestState {
    /// `pending`, `completed`, `expired` or `cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed { .. } => "completed",
            Self::Expired { .. } => "expired",
            Self::Cancelled { .. } => "cancelled",
        }
    }

    fn code_and_at(self) -> (u8, u64) {
        match self {
            Self::Pending => (0, 0),
            Self::Completed { at } => (1, at),
            Self::Expired { at } => (2, at),
            Self::Cancelled { at } => (3, at),
        }
    }

    fn from_code(code: u8, at: u64) -> Result<Self, EscrowError> {
        Ok(match code {
            0 => Self::Pending,
            1 => Self::Completed { at },
            2 => Self::Expired { at },
            3 => Self::Cancelled { at },
            other => {
                return Err(EscrowError::malformed(
                    "recovery request",
                    format!("unknown state {other}"),
                ));
            }
        })
    }
}

/// One officer's approval: their share, sealed to the request public key.
#[derive(Clone, PartialEq, Eq)]
pub struct Approval {
    /// The officer.
    pub officer: String,
    /// Their share index.
    pub index: u8,
    /// When they approved, seconds since the epoch.
    pub at: u64,
    /// `RequestShare` DER; empty once the request is no longer pending.
    pub share_for_request: Vec<u8>,
}

impl fmt::Debug for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Approval")
            .field("officer", &self.officer)
            .field("index", &self.index)
            .field("at", &self.at)
            .field("share_for_request_len", &self.share_for_request.len())
            .finish()
    }
}

/// The private key of a request, PKCS#8 DER (P-256): whoever holds it and the request's M
/// approvals can rebuild the recovery key. The service seals it under the data directory's
/// key-encryption key (`cachet_crypto::secret::seal`) and deletes it when the request is
/// closed. Zeroized on drop, never printed.
pub struct RequestSecret(Zeroizing<Vec<u8>>);

impl RequestSecret {
    /// A request secret from its PKCS#8 (as unsealed by the service).
    pub fn from_pkcs8(pkcs8: Zeroizing<Vec<u8>>) -> Self {
        RequestSecret(pkcs8)
    }

    /// The PKCS#8 DER, to be sealed. Secret.
    pub fn pkcs8(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RequestSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestSecret(<redacted>)")
    }
}

/// A request to rebuild the recovery key, with its approvals.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryRequest {
    id: String,
    purpose: RequestPurpose,
    reason: String,
    created_at: u64,
    expires_at: u64,
    generation: Generation,
    threshold: u8,
    officers: Vec<String>,
    request_public_key: Vec<u8>,
    approvals: Vec<Approval>,
    state: RequestState,
}

impl fmt::Debug for RecoveryRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryRequest")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .field("reason", &self.reason)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("generation", &self.generation)
            .field("threshold", &self.threshold)
            .field("approvals", &self.approvals)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn check_text(what: &str, s: &str, max: usize, allow_empty: bool) -> Result<(), EscrowError> {
    if (!allow_empty && s.trim().is_empty()) || s.len() > max {
        return Err(EscrowError::InvalidRequest(format!(
            "the {what} must be 1 to {max} bytes"
        )));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(EscrowError::InvalidRequest(format!(
            "the {what} has control characters"
        )));
    }
    Ok(())
}

/// A serial as lower-case hex without separators or leading zeros, or `None` if it is not
/// hex.
fn normalize_serial(s: &str) -> Option<String> {
    let hex: String = s
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let trimmed = hex.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
}

impl RecoveryRequest {
    /// A new pending request under the split `sealed_key`, made at `now` and open for `ttl`
    /// seconds (1 ..= [`MAX_REQUEST_TTL`]; [`DEFAULT_REQUEST_TTL`] is 72 hours). Returns the
    /// request, to be stored, and its [`RequestSecret`], to be sealed by the service.
    pub fn new(
        id: &str,
        purpose: RequestPurpose,
        reason: &str,
        sealed_key: &SealedRecoveryKey,
        now: u64,
        ttl: u64,
    ) -> Result<(Self, RequestSecret), EscrowError> {
        check_text("request id", id, MAX_REQUEST_ID_LEN, false)?;
        check_text("reason", reason, MAX_REASON_LEN, false)?;
        if id.chars().any(char::is_whitespace) {
            return Err(EscrowError::InvalidRequest(
                "the request id has white space".into(),
            ));
        }
        if ttl == 0 || ttl > MAX_REQUEST_TTL {
            return Err(EscrowError::InvalidRequest(format!(
                "the lifetime must be 1 to {MAX_REQUEST_TTL} seconds"
            )));
        }
        let expires_at = now
            .checked_add(ttl)
            .ok_or_else(|| EscrowError::InvalidRequest("the expiry overflows".into()))?;
        let purpose = match purpose {
            RequestPurpose::Recover { email, serial } => {
                check_text("e-mail address", &email, 320, false)?;
                let serial = match serial {
                    None => None,
                    Some(s) => Some(normalize_serial(&s).ok_or_else(|| {
                        EscrowError::InvalidRequest(format!("the serial '{s}' is not hex"))
                    })?),
                };
                RequestPurpose::Recover { email, serial }
            }
            RequestPurpose::Reshare => RequestPurpose::Reshare,
        };
        let key = PrivateKey::generate(KeyType::EcdsaP256)?;
        let request = RecoveryRequest {
            id: id.to_owned(),
            purpose,
            reason: reason.to_owned(),
            created_at: now,
            expires_at,
            generation: sealed_key.generation,
            threshold: sealed_key.threshold,
            officers: sealed_key.officers.clone(),
            request_public_key: key.public_key_der().to_vec(),
            approvals: Vec::new(),
            state: RequestState::Pending,
        };
        let secret = RequestSecret(Zeroizing::new(key.pkcs8_der().to_vec()));
        Ok((request, secret))
    }

    /// The request id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the recovery key is for.
    pub fn purpose(&self) -> &RequestPurpose {
        &self.purpose
    }

    /// Why it was asked for.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// When it was made, seconds since the epoch.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// When it expires, seconds since the epoch.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The split it was made under.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// M.
    pub fn threshold(&self) -> usize {
        self.threshold.into()
    }

    /// The officers who may approve.
    pub fn officers(&self) -> &[String] {
        &self.officers
    }

    /// The request public key, SubjectPublicKeyInfo DER.
    pub fn request_public_key(&self) -> &[u8] {
        &self.request_public_key
    }

    /// The approvals so far.
    pub fn approvals(&self) -> &[Approval] {
        &self.approvals
    }

    /// The stored state (a pending request past its expiry is still `Pending` here until
    /// [`Self::expire_if_due`] runs; see [`Self::is_expired`]).
    pub fn state(&self) -> RequestState {
        self.state
    }

    /// Whether the request's lifetime is over at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// The state's name as a reader sees it at `now`: a pending request whose lifetime is
    /// over reads `expired` even before the store records it.
    pub fn state_name_at(&self, now: u64) -> &'static str {
        match self.state() {
            RequestState::Pending if self.is_expired(now) => "expired",
            s => s.name(),
        }
    }

    /// Whether M officers have approved.
    pub fn has_enough_approvals(&self) -> bool {
        self.approvals.len() >= self.threshold()
    }

    /// Whether archived key `archived` is one this request is for: a `Recover` request for
    /// its e-mail address (ASCII case-insensitive) and, if the request names one, its serial.
    pub fn covers(&self, archived: &ArchivedKey) -> bool {
        match &self.purpose {
            RequestPurpose::Recover { email, serial } => {
                archived.metadata.email.eq_ignore_ascii_case(email)
                    // Both sides normalised: `serial_hex` keeps a leading zero nibble
                    // ("0a1b") that the request's serial has had trimmed ("a1b").
                    && serial.as_ref().is_none_or(|s| {
                        normalize_serial(&archived.metadata.serial_hex()).as_ref() == Some(s)
                    })
            }
            RequestPurpose::Reshare => false,
        }
    }

    fn check_open(&self, now: u64) -> Result<(), EscrowError> {
        if self.state != RequestState::Pending {
            return Err(EscrowError::NotPending {
                state: self.state.name(),
            });
        }
        if self.is_expired(now) {
            return Err(EscrowError::Expired {
                expires_at: self.expires_at,
            });
        }
        Ok(())
    }

    /// One officer approves: opens their sealed share with `credential` (wrong passphrase or
    /// key: [`EscrowError::WrongPassphrase`], [`EscrowError::WrongOfficerKey`]) and stores it
    /// sealed to the request public key. Refused when the request is not pending or has
    /// expired, when it already has M approvals, when the officer is not in the split's
    /// roster or has already approved, and when the share is of another split.
    pub fn approve(
        &mut self,
        share: &SealedShare,
        credential: OfficerCredential<'_>,
        now: u64,
    ) -> Result<(), EscrowError> {
        self.check_open(now)?;
        if self.has_enough_approvals() {
            return Err(EscrowError::ThresholdReached {
                need: self.threshold(),
            });
        }
        let officer = &share.officer;
        if share.generation != self.generation {
            return Err(EscrowError::StaleShare {
                officer: officer.clone(),
            });
        }
        let position = self
            .officers
            .iter()
            .position(|o| o == officer)
            .ok_or_else(|| EscrowError::UnknownOfficer {
                officer: officer.clone(),
            })?;
        if usize::from(share.index) != position + 1 {
            return Err(EscrowError::ShareMismatch {
                officer: officer.clone(),
            });
        }
        if self.approvals.iter().any(|a| a.officer == *officer) {
            return Err(EscrowError::AlreadyApproved {
                officer: officer.clone(),
            });
        }
        let raw = officer::open_share(share, credential)?;
        let sealed = self.seal_for_request(officer, &raw)?;
        self.approvals.push(Approval {
            officer: officer.clone(),
            index: raw.index,
            at: now,
            share_for_request: sealed,
        });
        Ok(())
    }

    /// With M approvals, rebuilds the recovery key in memory: opens each approval with the
    /// request secret, combines the shares (Lagrange interpolation over GF(2^8)) into the
    /// split key, opens `sealed_key` with it and checks the result against the KRA
    /// certificate. Every intermediate secret is zeroized. On success the request becomes
    /// `Completed` and its approvals' sealed shares are erased: a request rebuilds the key
    /// once. Persist the new state with the audit record of the completion.
    pub fn complete(
        &mut self,
        secret: &RequestSecret,
        sealed_key: &SealedRecoveryKey,
        now: u64,
    ) -> Result<RecoveryKey, EscrowError> {
        self.check_open(now)?;
        if sealed_key.generation != self.generation {
            return Err(EscrowError::SplitChanged);
        }
        // The sealed key's threshold is authoritative: its associated data binds it.
        let need = usize::from(sealed_key.threshold);
        if self.approvals.len() < need {
            return Err(EscrowError::NotEnoughApprovals {
                have: self.approvals.len(),
                need,
            });
        }
        let key = PrivateKey::from_pkcs8_der(secret.pkcs8())
            .map_err(|_| EscrowError::WrongRequestSecret)?;
        if key.public_key_der() != self.request_public_key.as_slice() {
            return Err(EscrowError::WrongRequestSecret);
        }
        let mut shares: Vec<RawShare> = Vec::with_capacity(need);
        for a in &self.approvals[..need] {
            shares.push(self.open_for_request(&key, a)?);
        }
        let kek = shamir::combine(&shares, sealed_key.threshold)?;
        drop(shares);
        let recovery = sealed_key.open(&kek)?;
        self.close(RequestState::Completed { at: now });
        Ok(recovery)
    }

    /// Withdraws a pending request.
    pub fn cancel(&mut self, now: u64) -> Result<(), EscrowError> {
        if self.state != RequestState::Pending {
            return Err(EscrowError::NotPending {
                state: self.state.name(),
            });
        }
        self.close(RequestState::Cancelled { at: now });
        Ok(())
    }

    /// Marks a pending request whose lifetime is over as `Expired` (erasing its approvals'
    /// sealed shares) and says whether it did: the service's sweep, which writes the audit
    /// record of the expiry.
    pub fn expire_if_due(&mut self, now: u64) -> bool {
        if self.state == RequestState::Pending && self.is_expired(now) {
            self.close(RequestState::Expired {
                at: self.expires_at,
            });
            true
        } else {
            false
        }
    }

    fn close(&mut self, state: RequestState) {
        self.state = state;
        for a in &mut self.approvals {
            a.share_for_request = Vec::new();
        }
    }

    fn share_info(
        &self,
        officer: &str,
        index: u8,
        ephemeral: &[u8],
    ) -> Result<Vec<u8>, EscrowError> {
        const W: &str = "request share info";
        wire::encode(
            &RequestShareInfo {
                label: wire::utf8(REQUEST_SHARE_LABEL, W)?,
                request_id: wire::utf8(&self.id, W)?,
                generation: wire::octets(&self.generation.0, W)?,
                officer: wire::utf8(officer, W)?,
                index,
                ephemeral_public_key: wire::octets(ephemeral, W)?,
                request_public_key: wire::octets(&self.request_public_key, W)?,
            },
            W,
        )
    }

    /// ECIES to the request public key (see the module docs).
    fn seal_for_request(&self, officer: &str, raw: &RawShare) -> Result<Vec<u8>, EscrowError> {
        const W: &str = "request share";
        let eph = EphemeralKey::generate(EcdhCurve::P256)?;
        let z = eph.agree(&self.request_public_key)?;
        let info = self.share_info(officer, raw.index, eph.public_key())?;
        let okm = kdf::hkdf(HkdfHash::Sha256, &z, &[], &info, KEY_LEN)?;
        let kek: &[u8; KEY_LEN] = okm.as_slice().try_into().map_err(|_| {
            EscrowError::Crypto(cachet_crypto::Error::InvalidParameter("HKDF output length"))
        })?;
        let plaintext = ShareContent::seal_plaintext(&self.generation, officer, raw)?;
        let sealed = secret::seal(kek, &info, &plaintext)?;
        wire::encode(
            &RequestShare {
                version: V1,
                ephemeral_public_key: wire::octets(eph.public_key(), W)?,
                sealed: wire::octets(&sealed, W)?,
            },
            W,
        )
    }

    fn open_for_request(&self, key: &PrivateKey, a: &Approval) -> Result<RawShare, EscrowError> {
        let altered = || EscrowError::ShareMismatch {
            officer: a.officer.clone(),
        };
        let rs: RequestShare<'_> =
            wire::decode(&a.share_for_request, "request share").map_err(|_| altered())?;
        wire::check_version(rs.version, "request share")?;
        let eph = rs.ephemeral_public_key.as_bytes();
        let z = key.ecdh(eph).map_err(|_| altered())?;
        let info = self.share_info(&a.officer, a.index, eph)?;
        let okm = kdf::hkdf(HkdfHash::Sha256, &z, &[], &info, KEY_LEN)?;
        let kek: &[u8; KEY_LEN] = okm.as_slice().try_into().map_err(|_| altered())?;
        let plaintext = secret::open(kek, &info, rs.sealed.as_bytes()).map_err(|_| altered())?;
        ShareContent::open_plaintext(&plaintext, &self.generation, &a.officer, a.index)
    }

    /// The DER record (see the module docs).
    pub fn to_der(&self) -> Result<Vec<u8>, EscrowError> {
        const W: &str = "recovery request";
        let (kind, email, serial) = match &self.purpose {
            RequestPurpose::Recover { email, serial } => (
                PURPOSE_RECOVER,
                Some(wire::utf8(email, W)?),
                serial.as_deref().map(|s| wire::utf8(s, W)).transpose()?,
            ),
            RequestPurpose::Reshare => (PURPOSE_RESHARE, None, None),
        };
        let (state, state_at) = self.state.code_and_at();
        wire::encode(
            &RecoveryRequestDer {
                version: V1,
                id: wire::utf8(&self.id, W)?,
                purpose: PurposeDer {
                    kind,
                    email,
                    serial,
                },
                reason: wire::utf8(&self.reason, W)?,
                created_at: self.created_at,
                expires_at: self.expires_at,
                generation: wire::octets(&self.generation.0, W)?,
                threshold: self.threshold,
                officers: self
                    .officers
                    .iter()
                    .map(|o| wire::utf8(o, W))
                    .collect::<Result<_, _>>()?,
                request_public_key: wire::octets(&self.request_public_key, W)?,
                approvals: self
                    .approvals
                    .iter()
                    .map(|a| {
                        Ok(ApprovalDer {
                            officer: wire::utf8(&a.officer, W)?,
                            index: a.index,
                            at: a.at,
                            share: wire::octets(&a.share_for_request, W)?,
                        })
                    })
                    .collect::<Result<_, EscrowError>>()?,
                state,
                state_at,
            },
            W,
        )
    }

    /// Reads a record written by [`Self::to_der`].
    pub fn from_der(der: &[u8]) -> Result<Self, EscrowError> {
        const W: &str = "recovery request";
        let d: RecoveryRequestDer<'_> = wire::decode(der, W)?;
        wire::check_version(d.version, W)?;
        let purpose = match (d.purpose.kind, d.purpose.email) {
            (PURPOSE_RECOVER, Some(email)) => RequestPurpose::Recover {
                email: email.as_str().to_owned(),
                serial: d.purpose.serial.map(|s| s.as_str().to_owned()),
            },
            (PURPOSE_RESHARE, None) => RequestPurpose::Reshare,
            (kind, _) => {
                return Err(EscrowError::malformed(W, format!("purpose {kind}")));
            }
        };
        let officers: Vec<String> = d.officers.iter().map(|o| o.as_str().to_owned()).collect();
        if d.threshold == 0 || usize::from(d.threshold) > officers.len() {
            return Err(EscrowError::malformed(W, "threshold"));
        }
        Ok(RecoveryRequest {
            id: d.id.as_str().to_owned(),
            purpose,
            reason: d.reason.as_str().to_owned(),
            created_at: d.created_at,
            expires_at: d.expires_at,
            generation: Generation(wire::array(d.generation, W)?),
            threshold: d.threshold,
            officers,
            request_public_key: d.request_public_key.as_bytes().to_vec(),
            approvals: d
                .approvals
                .iter()
                .map(|a| Approval {
                    officer: a.officer.as_str().to_owned(),
                    index: a.index,
                    at: a.at,
                    share_for_request: a.share.as_bytes().to_vec(),
                })
                .collect(),
            state: RequestState::from_code(d.state, d.state_at)?,
        })
    }
}

const REQUEST_SHARE_LABEL: &str = "cachet-escrow/request-share/v1";
const PURPOSE_RECOVER: u8 = 1;
const PURPOSE_RESHARE: u8 = 2;

#[derive(Sequence)]
struct RequestShareInfo<'a> {
    label: Utf8StringRef<'a>,
    request_id: Utf8StringRef<'a>,
    generation: &'a OctetStringRef,
    officer: Utf8StringRef<'a>,
    index: u8,
    ephemeral_public_key: &'a OctetStringRef,
    request_public_key: &'a OctetStringRef,
}

#[derive(Sequence)]
struct RequestShare<'a> {
    version: u32,
    ephemeral_public_key: &'a OctetStringRef,
    sealed: &'a OctetStringRef,
}

#[derive(Sequence)]
struct PurposeDer<'a> {
    kind: u8,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "IMPLICIT")]
    email: Option<Utf8StringRef<'a>>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "IMPLICIT")]
    serial: Option<Utf8StringRef<'a>>,
}

#[derive(Sequence)]
struct ApprovalDer<'a> {
    officer: Utf8StringRef<'a>,
    index: u8,
    at: u64,
    share: &'a OctetStringRef,
}

#[derive(Sequence)]
struct RecoveryRequestDer<'a> {
    version: u32,
    id: Utf8StringRef<'a>,
    purpose: PurposeDer<'a>,
    reason: Utf8StringRef<'a>,
    created_at: u64,
    expires_at: u64,
    generation: &'a OctetStringRef,
    threshold: u8,
    officers: Vec<Utf8StringRef<'a>>,
    request_public_key: &'a OctetStringRef,
    approvals: Vec<ApprovalDer<'a>>,
    state: u8,
    state_at: u64,
}
