//! Key archive and M-of-N recovery (issue #5), over the pure `cachet-escrow` crate.
//!
//! - `init` makes the key-recovery-agent (KRA) key in memory, has the root certify it, and
//!   splits it among the recovery officers ([`RecoverySetup`]); only the sealed key and the
//!   officers' sealed shares are stored. The KRA private key never reaches the disk.
//! - Issuing an `encryption` certificate archives its key, in the same transaction as the
//!   certificate ([`crate::Cachet::issue`]).
//! - A recovery request ([`crate::Cachet::request_recovery`]) takes M officer approvals
//!   ([`crate::Cachet::approve_recovery`]); completing it
//!   ([`crate::Cachet::complete_recovery`]) rebuilds the recovery key in memory and hands back
//!   every archived encryption key of the user in a PKCS#12 file. A `reshare` request rotates
//!   the officers ([`crate::Cachet::reshare_recovery`]).
//!
//! The request's secret (the private key that combines the approvals) is sealed under the
//! data directory's key-encryption key with the request id as associated data, and deleted
//! when the request closes. Every step — archive, request, approval, refusal, completion,
//! expiry, rotation — is an audit record written in the transaction of the change it records
//! (refusals that change nothing are written on their own).

use crate::ca::{Cachet, ROOT, audit_entry};
use crate::datadir::{DataDir, write_secret_file};
use crate::error::{Result, ServiceError};
use crate::keyring::Kek;
use cachet_crypto::{KeyType, PrivateKey};
use cachet_escrow::{
    ArchivedKey, Argon2Cost, EscrowError, MIN_PASSPHRASE_LEN, OfficerCredential, OfficerSpec,
    Pkcs12Profile, RecoveryKey, RecoveryRequest, RecoverySplit, RequestPurpose, RequestSecret,
    RequestState, SealedRecoveryKey, SealedShare,
};
use cachet_pki::issue::{random_serial, sign_certificate};
use cachet_pki::lint::{Role, lint};
use cachet_pki::name::NameBuilder;
use cachet_pki::profile::{self, PublicationUrls};
use cachet_pki::{ParsedCertificate, PkiError};
use cachet_store::{AuditEntry, RecoveryRequestRecord, ShareRecord, SplitRecord};
use std::fmt;
use zeroize::Zeroizing;

/// The officer of a data directory initialised without `--officer`.
pub const DEFAULT_OFFICER: &str = "admin";

/// One recovery officer, as given to `init` or a rotation.
#[derive(Clone)]
pub enum OfficerInput {
    /// Approves with a passphrase (Argon2id).
    Passphrase {
        /// The officer's name.
        name: String,
        /// The passphrase.
        passphrase: Zeroizing<Vec<u8>>,
    },
    /// Approves with the private key of their own encryption certificate.
    Certificate {
        /// The officer's name.
        name: String,
        /// Their encryption certificate.
        cert: ParsedCertificate,
    },
}

impl OfficerInput {
    /// The officer's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Passphrase { name, .. } | Self::Certificate { name, .. } => name,
        }
    }

    fn spec(&self) -> OfficerSpec<'_> {
        match self {
            Self::Passphrase { name, passphrase } => OfficerSpec::Passphrase {
                name,
                passphrase: passphrase.as_slice(),
            },
            Self::Certificate { name, cert } => OfficerSpec::Certificate { name, cert },
        }
    }
}

impl fmt::Debug for OfficerInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Passphrase { name, .. } => write!(f, "Passphrase({name}, <redacted>)"),
            Self::Certificate { name, cert } => {
                write!(f, "Certificate({name}, {})", cert.subject())
            }
        }
    }
}

/// Whether and how `init` sets up key recovery.
#[derive(Debug, Clone)]
pub enum RecoverySetup {
    /// No key archive: encryption keys are not archived and nothing can be recovered.
    Off,
    /// One officer, [`DEFAULT_OFFICER`] (1 of 1), with a generated passphrase written to
    /// `officers/admin.passphrase` (mode 0600) to be moved offline.
    DefaultAdmin,
    /// `threshold` of these officers.
    Officers {
        /// N officers.
        officers: Vec<OfficerInput>,
        /// M.
        threshold: usize,
    },
}

impl RecoverySetup {
    /// Checks names, threshold and passphrase lengths before anything is created.
    pub(crate) fn check(&self) -> Result<()> {
        if let RecoverySetup::Officers {
            officers,
            threshold,
        } = self
        {
            check_roster(officers, *threshold)?;
        }
        Ok(())
    }
}

fn check_roster(officers: &[OfficerInput], threshold: usize) -> Result<()> {
    if officers.is_empty() || officers.len() > 255 || threshold == 0 || threshold > officers.len() {
        return Err(EscrowError::InvalidThreshold {
            threshold,
            officers: officers.len(),
        }
        .into());
    }
    let mut seen = std::collections::HashSet::new();
    for o in officers {
        if !seen.insert(o.name()) {
            return Err(
                EscrowError::InvalidOfficer(format!("'{}' appears twice", o.name())).into(),
            );
        }
        if let OfficerInput::Passphrase { name, passphrase } = o
            && passphrase.len() < MIN_PASSPHRASE_LEN
        {
            return Err(EscrowError::WeakPassphrase {
                officer: name.clone(),
            }
            .into());
        }
    }
    Ok(())
}

/// A random passphrase for the default officer: 32 characters of the RFC 4648 base32
/// alphabet (160 bits) in groups of four.
pub(crate) fn generate_passphrase() -> Result<Zeroizing<String>> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes = Zeroizing::new(cachet_crypto::rand::bytes::<32>()?);
    let mut s = Zeroizing::new(String::with_capacity(40));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            s.push('-');
        }
        s.push(ALPHABET[usize::from(b & 31)] as char);
    }
    Ok(s)
}

/// What `init` stores for recovery: the split, its audit record, and where the default
/// officer's passphrase went.
pub(crate) struct InitRecovery {
    pub(crate) split: SplitRecord,
    pub(crate) audit: AuditEntry,
    pub(crate) written: Vec<std::path::PathBuf>,
}

fn split_record(split: &RecoverySplit, kra: &ParsedCertificate, now: u64) -> Result<SplitRecord> {
    Ok(SplitRecord {
        generation: split.sealed_key.generation.to_hex(),
        threshold: i64::from(split.sealed_key.threshold),
        kra_serial: kra.serial_hex(),
        kra_cert_der: kra.der().to_vec(),
        sealed_key: split.sealed_key.to_der()?,
        created_at: now as i64,
        shares: split
            .shares
            .iter()
            .map(|s| {
                Ok(ShareRecord {
                    officer: s.officer.clone(),
                    index: i64::from(s.index),
                    scheme: s.scheme.name().to_string(),
                    der: s.to_der()?,
                })
            })
            .collect::<Result<Vec<_>>>()?,
    })
}

/// Makes the KRA key and certificate (issued by the root) and splits the key among the
/// officers. The KRA private key lives only in this function's memory.
#[allow(clippy::too_many_arguments)]
pub(crate) fn init_recovery(
    dir: &DataDir,
    setup: &RecoverySetup,
    org: &str,
    root: &ParsedCertificate,
    root_key: &PrivateKey,
    base_url: &str,
    not_before: u64,
    now: u64,
    actor: &str,
) -> Result<Option<InitRecovery>> {
    let mut written = Vec::new();
    let default_officer;
    let (officers, threshold) = match setup {
        RecoverySetup::Off => return Ok(None),
        RecoverySetup::Officers {
            officers,
            threshold,
        } => (officers.as_slice(), *threshold),
        RecoverySetup::DefaultAdmin => {
            let pass = generate_passphrase()?;
            let folder = dir.officers_dir();
            std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
                .create(&folder)
                .map_err(|e| ServiceError::io(&folder, e))?;
            written.push(folder.clone());
            let file = folder.join(format!("{DEFAULT_OFFICER}.passphrase"));
            let mut line = Zeroizing::new(pass.as_bytes().to_vec());
            line.push(b'\n');
            write_secret_file(&file, &line)?;
            written.push(file);
            default_officer = [OfficerInput::Passphrase {
                name: DEFAULT_OFFICER.into(),
                passphrase: Zeroizing::new(pass.as_bytes().to_vec()),
            }];
            (&default_officer[..], 1)
        }
    };
    check_roster(officers, threshold)?;

    let kra_key = PrivateKey::generate(cachet_escrow::RECOMMENDED_KRA_KEY_TYPE)?;
    let name = NameBuilder::new()
        .organization(org)?
        .common_name(&profile::kra_common_name(org))?
        .to_der()?;
    let t = profile::kra_template(
        name,
        kra_key.public_key_der().to_vec(),
        random_serial()?.to_vec(),
        not_before,
        root,
        &PublicationUrls::under(base_url, ROOT),
    )?;
    let kra = ParsedCertificate::from_der(&sign_certificate(&t, &root.subject_der()?, root_key)?)?;
    let findings = lint(&kra, Role::KeyRecoveryAgent, Some(root));
    if !findings.is_empty() {
        return Err(PkiError::Lint(findings).into());
    }
    let recovery = RecoveryKey::new(&kra, kra_key.pkcs8_der())?;
    drop(kra_key);
    let specs: Vec<OfficerSpec<'_>> = officers.iter().map(OfficerInput::spec).collect();
    let split = cachet_escrow::split(&recovery, threshold, &specs, Argon2Cost::strong())?;
    drop(recovery);
    let record = split_record(&split, &kra, now)?;
    let audit = audit_entry(
        now,
        actor,
        "recovery-initialised",
        Some(kra.serial_hex()),
        Some(kra.subject()),
        format!(
            "officers={} threshold={} generation={} kra_key_type={}",
            roster(&split.sealed_key),
            threshold,
            record.generation,
            KeyType::EcdsaP256
        ),
    );
    Ok(Some(InitRecovery {
        split: record,
        audit,
        written,
    }))
}

fn roster(sealed: &SealedRecoveryKey) -> String {
    sealed.officers.join(",")
}

/// The recovery set-up of a data directory, for display.
#[derive(Debug, Clone)]
pub struct RecoveryStatus {
    /// The split's id, hex.
    pub generation: String,
    /// M.
    pub threshold: usize,
    /// Each officer's name and how they approve (`passphrase` or `certificate`), in share
    /// order.
    pub officers: Vec<(String, String)>,
    /// The key-recovery-agent certificate.
    pub kra_certificate: ParsedCertificate,
    /// When the split was made.
    pub created_at: u64,
}

/// What `complete` hands back.
pub struct Recovered {
    /// The mailbox.
    pub email: String,
    /// The serials of the keys in the file, oldest first.
    pub serials: Vec<String>,
    /// The PKCS#12 file.
    pub pkcs12: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovered")
            .field("email", &self.email)
            .field("serials", &self.serials)
            .finish_non_exhaustive()
    }
}

fn request_record(
    r: &RecoveryRequest,
    sealed_secret: Option<Vec<u8>>,
) -> Result<RecoveryRequestRecord> {
    let (purpose, email, serial) = match r.purpose() {
        RequestPurpose::Recover { email, serial } => {
            ("recover", Some(email.clone()), serial.clone())
        }
        RequestPurpose::Reshare => ("reshare", None, None),
    };
    Ok(RecoveryRequestRecord {
        id: r.id().to_string(),
        purpose: purpose.into(),
        email,
        serial,
        state: r.state().name().into(),
        created_at: r.created_at() as i64,
        expires_at: r.expires_at() as i64,
        der: r.to_der()?,
        sealed_secret: if r.state() == RequestState::Pending {
            sealed_secret
        } else {
            None
        },
    })
}

/// A request as read, with the DER it was read as (for the conditional update).
struct Loaded {
    record: RecoveryRequestRecord,
    request: RecoveryRequest,
}

fn rfc3339(t: u64) -> String {
    cachet_pki::time::rfc3339(t)
}

impl Cachet {
    /// Whether encryption keys are archived here.
    pub fn recovery_enabled(&self) -> bool {
        self.recovery
    }

    fn recovery_off(&self) -> ServiceError {
        ServiceError::RecoveryOff(
            "key recovery is off in this data directory (initialised with --no-recovery, or before Cachet had a key archive): there are no archived keys and no recovery officers".into(),
        )
    }

    async fn current_split(&self) -> Result<(SplitRecord, SealedRecoveryKey)> {
        if !self.recovery {
            return Err(self.recovery_off());
        }
        let split = self.store.recovery_split().await?.ok_or_else(|| {
            ServiceError::DataDir(
                "key recovery is on but the database holds no split of the recovery key: it is damaged".into(),
            )
        })?;
        let sealed = SealedRecoveryKey::from_der(&split.sealed_key)?;
        Ok((split, sealed))
    }

    /// The key-recovery-agent certificate archived keys are encrypted to, when recovery is on.
    pub(crate) async fn kra_certificate(&self) -> Result<ParsedCertificate> {
        let (split, _) = self.current_split().await?;
        Ok(ParsedCertificate::from_der(&split.kra_cert_der)?)
    }

    /// The officers, the threshold and the KRA certificate.
    pub async fn recovery_status(&self) -> Result<RecoveryStatus> {
        let (split, sealed) = self.current_split().await?;
        Ok(RecoveryStatus {
            generation: split.generation,
            threshold: usize::from(sealed.threshold),
            officers: split
                .shares
                .iter()
                .map(|s| (s.officer.clone(), s.scheme.clone()))
                .collect(),
            kra_certificate: ParsedCertificate::from_der(&split.kra_cert_der)?,
            created_at: split.created_at.max(0) as u64,
        })
    }

    /// Every archived key record of `email` (or all), oldest first.
    pub async fn archived_keys(
        &self,
        email: Option<&str>,
    ) -> Result<Vec<cachet_store::ArchivedKeyRecord>> {
        Ok(self.store.archived_keys(email).await?)
    }

    async fn load_request(&self, id: &str) -> Result<Loaded> {
        let record = self
            .store
            .recovery_request(id)
            .await?
            .ok_or_else(|| ServiceError::UnknownRequest(id.to_string()))?;
        let request = RecoveryRequest::from_der(&record.der)?;
        if request.id() != record.id {
            return Err(ServiceError::DataDir(format!(
                "recovery request {id} holds the record of request {}: the database was altered",
                request.id()
            )));
        }
        Ok(Loaded { record, request })
    }

    /// Marks every pending request past its expiry as expired and deletes its sealed
    /// secret, with a `recovery-expired` audit record each, in one transaction. Every
    /// recovery command runs this first. Returns the ids expired.
    pub async fn expire_recovery_requests(
        &self,
        kek: &Kek,
        actor: &str,
        now: u64,
    ) -> Result<Vec<String>> {
        if !self.recovery {
            return Ok(Vec::new());
        }
        let mut updated = Vec::new();
        let mut audits = Vec::new();
        for rec in self.store.recovery_requests().await? {
            if rec.state != "pending" || (rec.expires_at as u64) > now {
                continue;
            }
            let mut r = RecoveryRequest::from_der(&rec.der)?;
            if r.expire_if_due(now) {
                audits.push(audit_entry(
                    now,
                    actor,
                    "recovery-expired",
                    None,
                    None,
                    format!(
                        "id={} approvals={}/{} expired_at={}",
                        r.id(),
                        r.approvals().len(),
                        r.threshold(),
                        rfc3339(r.expires_at())
                    ),
                ));
                updated.push((request_record(&r, None)?, rec.der));
            }
        }
        if updated.is_empty() {
            return Ok(Vec::new());
        }
        let pairs: Vec<(&RecoveryRequestRecord, &[u8])> =
            updated.iter().map(|(r, d)| (r, d.as_slice())).collect();
        self.store
            .update_recovery_requests(&kek.audit_key(), &pairs, &audits)
            .await?;
        Ok(updated.into_iter().map(|(r, _)| r.id).collect())
    }

    /// Every request, oldest first (after expiring those past due, when `kek` is given).
    pub async fn recovery_requests(
        &self,
        kek: Option<&Kek>,
        actor: &str,
        now: u64,
    ) -> Result<Vec<RecoveryRequest>> {
        if !self.recovery {
            return Err(self.recovery_off());
        }
        if let Some(k) = kek {
            self.expire_recovery_requests(k, actor, now).await?;
        }
        self.store
            .recovery_requests()
            .await?
            .iter()
            .map(|r| Ok(RecoveryRequest::from_der(&r.der)?))
            .collect()
    }

    /// Opens a request to rebuild the recovery key for `purpose`, valid `ttl` seconds.
    /// A `Recover` request must name a mailbox (and serial) with archived keys.
    pub async fn request_recovery(
        &self,
        kek: &Kek,
        purpose: RequestPurpose,
        reason: &str,
        ttl: u64,
        actor: &str,
        now: u64,
    ) -> Result<RecoveryRequest> {
        self.expire_recovery_requests(kek, actor, now).await?;
        let (_, sealed) = self.current_split().await?;
        let (purpose, serial) = match purpose {
            RequestPurpose::Recover { email, serial } => {
                let email = profile::normalize_email(&email)?;
                let serial = serial
                    .map(|s| crate::ca::normalize_serial(&s))
                    .transpose()?;
                let archived = self.store.archived_keys(Some(&email)).await?;
                let any = archived
                    .iter()
                    .any(|a| serial.as_ref().is_none_or(|s| *s == a.serial));
                if !any {
                    return Err(ServiceError::Invalid(match &serial {
                        Some(s) => format!(
                            "no archived encryption key of {email} with serial {s}: only the keys of encryption certificates issued while key recovery was on are archived"
                        ),
                        None => format!(
                            "no archived encryption key of {email}: only the keys of encryption certificates issued while key recovery was on are archived"
                        ),
                    }));
                }
                (
                    RequestPurpose::Recover {
                        email,
                        serial: serial.clone(),
                    },
                    serial,
                )
            }
            RequestPurpose::Reshare => (RequestPurpose::Reshare, None),
        };
        for _ in 0..3 {
            let id = hex::encode(cachet_crypto::rand::bytes::<8>()?);
            let (request, secret) =
                RecoveryRequest::new(&id, purpose.clone(), reason, &sealed, now, ttl)?;
            let sealed_secret = kek.seal_request_secret(&id, secret.pkcs8())?;
            drop(secret);
            let record = request_record(&request, Some(sealed_secret))?;
            let what = match request.purpose() {
                RequestPurpose::Recover { email, serial } => format!(
                    "purpose=recover email={email}{}",
                    serial
                        .as_ref()
                        .map(|s| format!(" serial={s}"))
                        .unwrap_or_default()
                ),
                RequestPurpose::Reshare => "purpose=reshare".into(),
            };
            let entry = audit_entry(
                now,
                actor,
                "recovery-requested",
                serial.clone(),
                record.email.clone(),
                format!(
                    "id={id} {what} threshold={} expires_at={} reason={reason:?}",
                    request.threshold(),
                    rfc3339(request.expires_at())
                ),
            );
            match self
                .store
                .insert_recovery_request(&kek.audit_key(), &record, &entry)
                .await
            {
                Ok(()) => return Ok(request),
                Err(cachet_store::StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Invalid(
            "could not allocate a unique request id".into(),
        ))
    }

    async fn refused(&self, kek: &Kek, actor: &str, now: u64, action: &str, detail: String) {
        // Best effort: the refusal itself is what the caller reports.
        let _ = self
            .store
            .append_audit_entry(
                &kek.audit_key(),
                &audit_entry(now, actor, action, None, None, detail),
            )
            .await;
    }

    /// A closed request gives the clearest of the escrow errors: expired says when.
    fn check_pending(r: &RecoveryRequest) -> Result<()> {
        match r.state() {
            RequestState::Pending => Ok(()),
            RequestState::Expired { .. } => Err(EscrowError::Expired {
                expires_at: r.expires_at(),
            }
            .into()),
            other => Err(EscrowError::NotPending {
                state: other.name(),
            }
            .into()),
        }
    }

    /// Officer `officer` approves request `id` with `credential`. A refusal (wrong
    /// passphrase or key, repeated approval, closed or expired request) is audited as
    /// `recovery-approval-refused` and changes nothing else.
    pub async fn approve_recovery(
        &self,
        kek: &Kek,
        id: &str,
        officer: &str,
        credential: OfficerCredential<'_>,
        actor: &str,
        now: u64,
    ) -> Result<RecoveryRequest> {
        self.expire_recovery_requests(kek, actor, now).await?;
        let (split, _) = self.current_split().await?;
        let Loaded { record, request } = self.load_request(id).await?;
        let attempt = || -> Result<RecoveryRequest> {
            Self::check_pending(&request)?;
            let share = split
                .shares
                .iter()
                .find(|s| s.officer == officer)
                .ok_or_else(|| EscrowError::UnknownOfficer {
                    officer: officer.to_string(),
                })?;
            let share = SealedShare::from_der(&share.der)?;
            let mut approved = request.clone();
            approved.approve(&share, credential, now)?;
            Ok(approved)
        };
        let approved = match attempt() {
            Ok(a) => a,
            Err(e) => {
                if matches!(e, ServiceError::Escrow(_)) {
                    self.refused(
                        kek,
                        actor,
                        now,
                        "recovery-approval-refused",
                        format!("id={id} officer={officer} reason={:?}", e.to_string()),
                    )
                    .await;
                }
                return Err(e);
            }
        };
        let new_record = request_record(&approved, record.sealed_secret.clone())?;
        let entry = audit_entry(
            now,
            actor,
            "recovery-approved",
            record.serial.clone(),
            record.email.clone(),
            format!(
                "id={id} officer={officer} approvals={}/{}",
                approved.approvals().len(),
                approved.threshold()
            ),
        );
        self.store
            .update_recovery_requests(
                &kek.audit_key(),
                &[(&new_record, record.der.as_slice())],
                &[entry],
            )
            .await?;
        Ok(approved)
    }

    /// Rebuilds the recovery key of an approved request in memory (M approvals), opens it
    /// with the request's sealed secret, and returns the recovery key with the completed
    /// request. Any refusal is audited as `recovery-refused`.
    async fn complete_request(
        &self,
        kek: &Kek,
        loaded: &Loaded,
        sealed: &SealedRecoveryKey,
        actor: &str,
        now: u64,
    ) -> Result<(RecoveryKey, RecoveryRequest)> {
        let id = loaded.request.id();
        let attempt = || -> Result<(RecoveryKey, RecoveryRequest)> {
            Self::check_pending(&loaded.request)?;
            if !loaded.request.has_enough_approvals() {
                return Err(EscrowError::NotEnoughApprovals {
                    have: loaded.request.approvals().len(),
                    need: usize::from(sealed.threshold),
                }
                .into());
            }
            let sealed_secret = loaded.record.sealed_secret.as_deref().ok_or_else(|| {
                ServiceError::DataDir(format!(
                    "recovery request {id} has no sealed secret although it is pending: the database was altered"
                ))
            })?;
            let secret = RequestSecret::from_pkcs8(kek.open_request_secret(id, sealed_secret)?);
            let mut done = loaded.request.clone();
            let key = done.complete(&secret, sealed, now)?;
            Ok((key, done))
        };
        match attempt() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.refused(
                    kek,
                    actor,
                    now,
                    "recovery-refused",
                    format!(
                        "id={id} approvals={}/{} reason={:?}",
                        loaded.request.approvals().len(),
                        sealed.threshold,
                        e.to_string()
                    ),
                )
                .await;
                Err(e)
            }
        }
    }

    /// Completes recovery request `id`: with M approvals, rebuilds the recovery key in
    /// memory, opens every archived encryption key of the user the request covers (current,
    /// superseded, revoked, expired), and returns them in a PKCS#12 file with their
    /// certificates and the CA chain. The request is marked completed and its secret
    /// deleted, with a `recovery-completed` audit record, before the file is returned. A
    /// refusal — too few approvals, an expired request, a tampered record — is audited as
    /// `recovery-refused` and leaves the request as it was.
    pub async fn complete_recovery(
        &self,
        kek: &Kek,
        id: &str,
        password: &[u8],
        p12_profile: Pkcs12Profile,
        actor: &str,
        now: u64,
    ) -> Result<Recovered> {
        self.expire_recovery_requests(kek, actor, now).await?;
        let (_, sealed) = self.current_split().await?;
        let loaded = self.load_request(id).await?;
        let RequestPurpose::Recover { email, .. } = loaded.request.purpose().clone() else {
            return Err(ServiceError::Invalid(format!(
                "recovery request {id} is for re-splitting the recovery key: complete it with `cachet recovery reshare {id} --officer NAME=FILE … --threshold M`"
            )));
        };
        if password.is_empty() {
            return Err(EscrowError::EmptyPassword.into());
        }
        let (key, done) = self
            .complete_request(kek, &loaded, &sealed, actor, now)
            .await?;
        let open = async {
            let mut selected = Vec::new();
            for rec in self.store.archived_keys(Some(&email)).await? {
                let a =
                    ArchivedKey::from_der(&rec.der).map_err(|e| EscrowError::TamperedArchive {
                        serial: rec.serial.clone(),
                        what: format!("the stored record cannot be read ({e})"),
                    })?;
                if a.serial_hex() != rec.serial {
                    return Err(EscrowError::TamperedArchive {
                        serial: rec.serial.clone(),
                        what: format!("the row holds the record of certificate {}", a.serial_hex()),
                    }
                    .into());
                }
                if done.covers(&a) {
                    selected.push(a);
                }
            }
            if selected.is_empty() {
                return Err(EscrowError::NothingToRecover.into());
            }
            let keys = cachet_escrow::recover_keys(&key, &selected)?;
            let chain = self.chain().await?;
            let chain_der: Vec<&[u8]> = chain.iter().map(|c| c.der()).collect();
            let p12 = cachet_escrow::to_pkcs12(&keys, &chain_der, password, p12_profile)?;
            let serials: Vec<String> = keys.iter().map(|k| k.metadata.serial_hex()).collect();
            Ok::<_, ServiceError>((serials, p12))
        };
        let (serials, pkcs12) = match open.await {
            Ok(r) => r,
            Err(e) => {
                self.refused(
                    kek,
                    actor,
                    now,
                    "recovery-refused",
                    format!("id={id} email={email} reason={:?}", e.to_string()),
                )
                .await;
                return Err(e);
            }
        };
        drop(key);
        let record = request_record(&done, None)?;
        let officers: Vec<&str> = loaded
            .request
            .approvals()
            .iter()
            .map(|a| a.officer.as_str())
            .collect();
        let entry = audit_entry(
            now,
            actor,
            "recovery-completed",
            None,
            Some(email.clone()),
            format!(
                "id={id} email={email} serials={} approved_by={}",
                serials.join(","),
                officers.join(",")
            ),
        );
        self.store
            .update_recovery_requests(
                &kek.audit_key(),
                &[(&record, loaded.record.der.as_slice())],
                &[entry],
            )
            .await?;
        Ok(Recovered {
            email,
            serials,
            pkcs12,
        })
    }

    /// Rotation: completes `reshare` request `id` (M approvals of the current officers),
    /// splits the recovery key again among `officers` with `threshold`, and replaces the
    /// split and its shares in one transaction with a `recovery-rotated` audit record. Other
    /// pending requests were approved with shares of the old split: they are cancelled
    /// (`recovery-cancelled`). The KRA key and certificate stay; archived keys are untouched.
    pub async fn reshare_recovery(
        &self,
        kek: &Kek,
        id: &str,
        officers: &[OfficerInput],
        threshold: usize,
        actor: &str,
        now: u64,
    ) -> Result<RecoveryStatus> {
        self.expire_recovery_requests(kek, actor, now).await?;
        check_roster(officers, threshold)?;
        let (old, sealed) = self.current_split().await?;
        let loaded = self.load_request(id).await?;
        if *loaded.request.purpose() != RequestPurpose::Reshare {
            return Err(ServiceError::Invalid(format!(
                "recovery request {id} is for recovering keys, not for re-splitting the recovery key: make one with `cachet recovery request --reshare --reason TEXT`"
            )));
        }
        let (key, done) = self
            .complete_request(kek, &loaded, &sealed, actor, now)
            .await?;
        let specs: Vec<OfficerSpec<'_>> = officers.iter().map(OfficerInput::spec).collect();
        let split = cachet_escrow::reshare(&key, threshold, &specs, Argon2Cost::strong())?;
        let kra = key.certificate().clone();
        drop(key);
        let new = split_record(&split, &kra, now)?;
        let mut updates = vec![(request_record(&done, None)?, loaded.record.der.clone())];
        let mut audits = vec![audit_entry(
            now,
            actor,
            "recovery-rotated",
            Some(kra.serial_hex()),
            Some(kra.subject()),
            format!(
                "id={id} officers={} threshold={threshold} generation={} previous_officers={} previous_threshold={} previous_generation={}",
                roster(&split.sealed_key),
                new.generation,
                roster(&sealed),
                sealed.threshold,
                old.generation
            ),
        )];
        for rec in self.store.recovery_requests().await? {
            if rec.state != "pending" || rec.id == id {
                continue;
            }
            let mut r = RecoveryRequest::from_der(&rec.der)?;
            if r.cancel(now).is_ok() {
                audits.push(audit_entry(
                    now,
                    actor,
                    "recovery-cancelled",
                    rec.serial.clone(),
                    rec.email.clone(),
                    format!(
                        "id={} reason=\"the recovery key was re-split by request {id}\"",
                        r.id()
                    ),
                ));
                updates.push((request_record(&r, None)?, rec.der));
            }
        }
        let pairs: Vec<(&RecoveryRequestRecord, &[u8])> =
            updates.iter().map(|(r, d)| (r, d.as_slice())).collect();
        self.store
            .replace_recovery_split(&kek.audit_key(), &old.generation, &new, &pairs, &audits)
            .await?;
        self.recovery_status().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataDir, InitOptions, IssueRequest, KeySource};
    use cachet_pki::profile::Profile;

    /// 2027-01-15: a fixed clock.
    const NOW: u64 = 1_800_000_000;

    async fn installation(dir: &tempfile::TempDir) -> (Cachet, Kek) {
        let opts = InitOptions {
            domain: "example.com".into(),
            organization: Some("Example Org".into()),
            base_url: "http://pki.example.com".into(),
            key_type: KeyType::EcdsaP256,
            crl_days: 7,
            actor: "test".into(),
            recovery: RecoverySetup::Officers {
                officers: vec![
                    OfficerInput::Passphrase {
                        name: "ann".into(),
                        passphrase: Zeroizing::new(b"ann's long passphrase".to_vec()),
                    },
                    OfficerInput::Passphrase {
                        name: "ben".into(),
                        passphrase: Zeroizing::new(b"ben's long passphrase".to_vec()),
                    },
                ],
                threshold: 2,
            },
            database_url: None,
        };
        let c = Cachet::init(&DataDir::new(dir.path().join("data")), &opts, None, NOW)
            .await
            .expect("init");
        let kek = c.unlock(None).await.expect("unlock");
        (c, kek)
    }

    fn issue_request(profile: Profile, kt: KeyType) -> IssueRequest {
        IssueRequest {
            email: "alice@example.com".into(),
            profile,
            key: KeySource::Generate(kt),
            validity_days: None,
            non_repudiation: false,
            actor: "test".into(),
        }
    }

    #[tokio::test]
    async fn encryption_keys_are_archived_with_the_certificate_and_signing_keys_never() {
        let dir = tempfile::tempdir().unwrap();
        let (c, kek) = installation(&dir).await;
        let status = c.recovery_status().await.unwrap();
        assert_eq!(status.threshold, 2);
        assert!(
            lint(
                &status.kra_certificate,
                Role::KeyRecoveryAgent,
                Some(&c.chain().await.unwrap()[1])
            )
            .is_empty()
        );
        let enc = c
            .issue(
                &kek,
                issue_request(Profile::Encryption, KeyType::Rsa2048),
                NOW,
            )
            .await
            .unwrap();
        let sig = c
            .issue(
                &kek,
                issue_request(Profile::Signing, KeyType::EcdsaP256),
                NOW,
            )
            .await
            .unwrap();
        let archived = c.archived_keys(Some("alice@example.com")).await.unwrap();
        assert_eq!(archived.len(), 1);
        assert_eq!(archived[0].serial, enc.record.serial);
        let a = ArchivedKey::from_der(&archived[0].der).unwrap();
        assert_eq!(a.certificate, enc.certificate.der());
        // The escrow itself refuses a signing key, whatever the caller does.
        let err = cachet_escrow::archive(
            sig.key.as_ref().unwrap(),
            &sig.certificate,
            &status.kra_certificate,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                EscrowError::SigningKey {
                    usage: "digitalSignature",
                    ..
                }
            ),
            "{err}"
        );
        // Dual and CSR-based encryption certificates are refused while recovery is on.
        let err = c
            .issue(&kek, issue_request(Profile::Dual, KeyType::EcdsaP256), NOW)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("dual profile is refused"), "{err}");
        assert!(err.is_input_error());

        // M approvals give the key back; M−1 do not, and the refusal is audited.
        let req = c
            .request_recovery(
                &kek,
                RequestPurpose::Recover {
                    email: "alice@example.com".into(),
                    serial: None,
                },
                "test",
                3600,
                "test",
                NOW,
            )
            .await
            .unwrap();
        c.approve_recovery(
            &kek,
            req.id(),
            "ann",
            OfficerCredential::Passphrase(b"ann's long passphrase"),
            "test",
            NOW,
        )
        .await
        .unwrap();
        let err = c
            .complete_recovery(&kek, req.id(), b"pw", Pkcs12Profile::Modern, "test", NOW)
            .await
            .unwrap_err();
        assert!(err.is_refusal(), "{err}");
        c.approve_recovery(
            &kek,
            req.id(),
            "ben",
            OfficerCredential::Passphrase(b"ben's long passphrase"),
            "test",
            NOW,
        )
        .await
        .unwrap();
        let rec = c
            .complete_recovery(
                &kek,
                req.id(),
                b"pw",
                Pkcs12Profile::Modern,
                "test",
                NOW + 1,
            )
            .await
            .unwrap();
        assert_eq!(rec.serials, vec![enc.record.serial.clone()]);
        let p12 = cachet_pki::pkcs12::parse(&rec.pkcs12, b"pw").unwrap();
        assert_eq!(
            p12.keys[0].as_slice(),
            enc.key.as_ref().unwrap().pkcs8_der()
        );
        let (n, problems) = c.verify_audit(&kek).await.unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let actions: Vec<String> = c
            .audit_log()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.entry.action)
            .collect();
        assert_eq!(actions.len(), n);
        for a in [
            "recovery-initialised",
            "key-archived",
            "recovery-requested",
            "recovery-approved",
            "recovery-refused",
            "recovery-completed",
        ] {
            assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
        }
    }
}

/// A recovery request as the command line and the REST API show it (both serialise this,
/// so `--json` and `/api/v1/recovery/requests` give the same fields).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestView {
    /// Its id.
    pub id: String,
    /// `recover` or `reshare`.
    pub purpose: &'static str,
    /// The mailbox whose keys are asked for.
    pub email: Option<String>,
    /// The one certificate asked for, if any.
    pub serial: Option<String>,
    /// Why.
    pub reason: String,
    /// `pending`, `completed`, `expired` or `cancelled`, as of the time given.
    pub state: &'static str,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// M.
    pub threshold: usize,
    /// Who approved, when (RFC 3339).
    pub approvals: Vec<ApprovalView>,
    /// The officers who may approve.
    pub officers: Vec<String>,
}

/// One approval of a [`RequestView`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApprovalView {
    /// The officer.
    pub officer: String,
    /// RFC 3339.
    pub at: String,
}

impl RequestView {
    /// The view of `r` at `now`.
    pub fn of(r: &cachet_escrow::RecoveryRequest, now: u64) -> RequestView {
        use cachet_pki::time::rfc3339;
        let (purpose, email, serial) = match r.purpose() {
            RequestPurpose::Recover { email, serial } => {
                ("recover", Some(email.clone()), serial.clone())
            }
            RequestPurpose::Reshare => ("reshare", None, None),
        };
        RequestView {
            id: r.id().to_string(),
            purpose,
            email,
            serial,
            reason: r.reason().to_string(),
            state: r.state_name_at(now),
            created_at: rfc3339(r.created_at()),
            expires_at: rfc3339(r.expires_at()),
            threshold: r.threshold(),
            approvals: r
                .approvals()
                .iter()
                .map(|a| ApprovalView {
                    officer: a.officer.clone(),
                    at: rfc3339(a.at),
                })
                .collect(),
            officers: r.officers().to_vec(),
        }
    }
}
