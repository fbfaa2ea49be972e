//! Accounts: the mailboxes Cachet enrolls automatically (issue #6), the classic
//! "autoenrollment" of a Windows domain done by the CA itself.
//!
//! Creating an account issues what the enrollment policy says — a signing certificate and an
//! archived encryption certificate when key recovery is on, one dual-use certificate when it
//! is off — and hands the generated keys back once, as a PKCS#12 under a one-time password.
//! Disabling or removing an account revokes its certificates (affiliationChanged,
//! cessationOfOperation) so they leave every lookup and enter the next CRL. Renewal
//! re-issues certificates once they pass the policy's point of their life, marks the old
//! ones superseded (archived encryption keys stay recoverable) and queues the new keys for
//! their owner.
//!
//! Every change is one store transaction with its audit records.

use crate::ca::{Cachet, IssueRequest, Issued, IssuerContext, KeySource, Prepared, audit};
use crate::config::EnrollmentPolicy;
use crate::error::{Result, ServiceError};
use crate::keyring::Kek;
use crate::recovery::generate_passphrase;
use cachet_crypto::KeyType;
use cachet_pki::crl::RevocationReason;
use cachet_pki::pkcs12::{self, Pkcs12Entry, Pkcs12Profile};
use cachet_pki::profile::{Profile, normalize_email};
use cachet_store::{
    AccountChange, AccountInsert, AccountRecord, AccountState, CertificateRecord, NewCertificate,
    StoreError,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A new account.
#[derive(Clone)]
pub struct NewAccount {
    /// The mailbox.
    pub email: String,
    /// Display name (cn).
    pub name: Option<String>,
    /// Password for EST's HTTP Basic authentication, if the user will enroll with an EST
    /// client.
    pub password: Option<Zeroizing<String>>,
}

/// Generated keys handed over once: a PKCS#12 and the one-time password that opens it.
pub struct KeyBundle {
    /// The PFX (PBES2 AES-256-CBC, PBKDF2-HMAC-SHA-256).
    pub pkcs12: Zeroizing<Vec<u8>>,
    /// Its password, shown once and stored nowhere.
    pub password: Zeroizing<String>,
    /// The serials of the certificates whose keys it holds.
    pub serials: Vec<String>,
}

/// An account just created (or enabled again) with its certificates.
pub struct Enrolled {
    /// The account.
    pub account: AccountRecord,
    /// The certificates issued, in the order signing, encryption (or the one dual).
    pub certificates: Vec<Issued>,
    /// Their keys, when handed over now ([`KeyDelivery::Bundle`]).
    pub keys: Option<KeyBundle>,
}

/// What one renewal run did.
#[derive(Debug, Default)]
pub struct RenewalReport {
    /// (mailbox, old serial, new serial) of each renewed certificate.
    pub renewed: Vec<(String, String, String)>,
    /// Certificates that could not be renewed, with why. Another node renewing first is not
    /// a failure and does not appear here.
    pub failed: Vec<(String, String)>,
}

/// The profiles an account gets: with key recovery on, a signing certificate and an
/// encryption certificate (the encryption key archived); with it off, one dual-use
/// certificate when the signing key type can also encrypt, else the two apart.
fn enrollment_plan(policy: &EnrollmentPolicy, recovery: bool) -> Vec<(Profile, KeyType)> {
    if !recovery && Profile::Dual.allows_key_type(policy.signing_key_type) {
        vec![(Profile::Dual, policy.signing_key_type)]
    } else {
        vec![
            (Profile::Signing, policy.signing_key_type),
            (Profile::Encryption, policy.encryption_key_type),
        ]
    }
}

/// The key type a renewal of `profile` uses: the policy's current one, so a policy change
/// reaches every certificate by its next renewal.
fn renewal_key_type(policy: &EnrollmentPolicy, profile: Profile) -> KeyType {
    match profile {
        Profile::Encryption => policy.encryption_key_type,
        Profile::Signing | Profile::Dual => policy.signing_key_type,
    }
}

/// Argon2id cost of EST passwords: the OWASP minimum (19 MiB, 2 passes), checked on every EST
/// request, so far cheaper than the CA key's passphrase.
const PASSWORD_PARAMS: cachet_crypto::secret::Argon2Params = cachet_crypto::secret::Argon2Params {
    memory_kib: 19 * 1024,
    iterations: 2,
    parallelism: 1,
};

/// Hashes an EST password: `argon2id$m=…,t=…,p=…$SALT$HASH` (hex).
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < 12 {
        return Err(ServiceError::Invalid(
            "the password must have at least 12 characters".into(),
        ));
    }
    let salt = cachet_crypto::rand::bytes::<16>()?;
    let hash = cachet_crypto::secret::argon2id(password.as_bytes(), &salt, PASSWORD_PARAMS)?;
    Ok(format!(
        "argon2id$m={},t={},p={}${}${}",
        PASSWORD_PARAMS.memory_kib,
        PASSWORD_PARAMS.iterations,
        PASSWORD_PARAMS.parallelism,
        hex::encode(salt),
        hex::encode(*hash)
    ))
}

/// Checks `password` against a hash made by [`hash_password`], in constant time.
pub fn check_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("argon2id"), Some(params), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let mut p = PASSWORD_PARAMS;
    for kv in params.split(',') {
        match kv.split_once('=') {
            Some(("m", v)) => p.memory_kib = v.parse().unwrap_or(0),
            Some(("t", v)) => p.iterations = v.parse().unwrap_or(0),
            Some(("p", v)) => p.parallelism = v.parse().unwrap_or(0),
            _ => return false,
        }
    }
    let (Ok(salt), Ok(expected)) = (hex::decode(salt), hex::decode(hash)) else {
        return false;
    };
    match cachet_crypto::secret::argon2id(password.as_bytes(), &salt, p) {
        Ok(got) => got.len() == expected.len() && bool::from(got[..].ct_eq(&expected[..])),
        Err(_) => false,
    }
}

/// Builds the PKCS#12 of `keys` (each key with its certificate) and the chain, under a fresh
/// one-time password.
fn key_bundle(entries: &[(&[u8], &[u8], String)], chain: &[&[u8]]) -> Result<KeyBundle> {
    let password = generate_passphrase()?;
    let p12_entries: Vec<Pkcs12Entry<'_>> = entries
        .iter()
        .map(|(key, cert, name)| Pkcs12Entry {
            key_pkcs8_der: key,
            certificate_der: cert,
            friendly_name: Some(name.as_str()),
        })
        .collect();
    let der = pkcs12::build_with(
        &p12_entries,
        chain,
        password.as_bytes(),
        &Pkcs12Profile::Modern.params(),
    )
    .map_err(|e| ServiceError::Invalid(format!("cannot build the PKCS#12: {e}")))?;
    Ok(KeyBundle {
        pkcs12: der,
        password,
        serials: Vec::new(),
    })
}

/// The name a mail client shows for a key: the address and what the certificate is for.
fn friendly_name(email: &str, profile: &str) -> String {
    format!("{email} ({profile})")
}

/// How an enrolled account's generated keys reach their owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDelivery {
    /// Now, as a PKCS#12 under a one-time password (`user add`, the API). Building it costs
    /// the PBKDF2 iterations that protect it (tenths of a second).
    Bundle,
    /// Later: the keys are sealed under the key-encryption key and wait in the store until
    /// collected once with [`Cachet::collect_keys`] (bulk import).
    Pending,
}

/// An account built and signed but not yet stored (see [`Enroller::prepare`]).
pub struct PreparedAccount {
    account: AccountRecord,
    prepared: Vec<Prepared>,
    pending: Vec<Option<Vec<u8>>>,
    keys: Option<KeyBundle>,
    audit: Vec<cachet_store::AuditEntry>,
}

impl PreparedAccount {
    /// The mailbox.
    pub fn email(&self) -> &str {
        &self.account.email
    }
}

/// The certificates of one account, signed but not stored, and their keys.
struct Enrollment {
    prepared: Vec<Prepared>,
    /// Per certificate, its key sealed for later hand-over ([`KeyDelivery::Pending`]).
    pending: Vec<Option<Vec<u8>>>,
    /// The keys now ([`KeyDelivery::Bundle`]).
    keys: Option<KeyBundle>,
}

/// Issues the certificates an account gets, returning them prepared (not stored), their keys
/// sealed for later when `delivery` is [`KeyDelivery::Pending`], else the key bundle.
fn enroll(
    enroller: &Enroller<'_>,
    email: &str,
    policy: &EnrollmentPolicy,
    delivery: KeyDelivery,
    actor: &str,
    now: u64,
) -> Result<Enrollment> {
    let (cachet, kek, ctx) = (enroller.cachet, enroller.kek, &enroller.ctx);
    let prepared = enrollment_plan(policy, cachet.recovery_enabled())
        .into_iter()
        .map(|(profile, kt)| {
            cachet.prepare_issue(
                ctx,
                IssueRequest {
                    email: email.to_string(),
                    profile,
                    key: KeySource::Generate(kt),
                    validity_days: Some(policy.validity_days),
                    non_repudiation: policy.non_repudiation && profile.signs(),
                    actor: actor.to_string(),
                },
                now,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut pkcs8 = Vec::with_capacity(prepared.len());
    for p in &prepared {
        match &p.issued.key {
            Some(k) => pkcs8.push(k.pkcs8_der()),
            None => return Err(ServiceError::Invalid("enrollment generated no key".into())),
        }
    }
    if delivery == KeyDelivery::Pending {
        let sealed = prepared
            .iter()
            .zip(&pkcs8)
            .map(|(p, k)| Ok(Some(kek.seal_pending_key(&p.issued.record.serial, k)?)))
            .collect::<Result<Vec<_>>>()?;
        return Ok(Enrollment {
            prepared,
            pending: sealed,
            keys: None,
        });
    }
    let entries: Vec<(&[u8], &[u8], String)> = prepared
        .iter()
        .zip(&pkcs8)
        .map(|(p, k)| {
            (
                *k,
                p.issued.record.der.as_slice(),
                friendly_name(email, &p.issued.record.profile),
            )
        })
        .collect();
    let chain: Vec<&[u8]> = prepared
        .first()
        .map(|p| p.issued.chain.iter().map(|c| c.der()).collect())
        .unwrap_or_default();
    let mut keys = key_bundle(&entries, &chain)?;
    keys.serials = prepared
        .iter()
        .map(|p| p.issued.record.serial.clone())
        .collect();
    Ok(Enrollment {
        pending: vec![None; prepared.len()],
        prepared,
        keys: Some(keys),
    })
}

fn new_certificates(prepared: &[Prepared], pending: &[Option<Vec<u8>>]) -> Vec<NewCertificate> {
    prepared
        .iter()
        .zip(pending)
        .map(|(p, sealed)| NewCertificate {
            record: p.issued.record.clone(),
            archived: p.archived.clone(),
            pending_key: sealed.clone(),
        })
        .collect()
}

fn account_error(email: &str) -> impl Fn(StoreError) -> ServiceError + '_ {
    move |e| match e {
        StoreError::NotFound(_) => ServiceError::UnknownAccount(email.to_string()),
        other => other.into(),
    }
}

/// Adds accounts in bulk with the issuing CA loaded once (`user import`).
pub struct Enroller<'a> {
    cachet: &'a Cachet,
    kek: &'a Kek,
    ctx: IssuerContext,
}

impl Enroller<'_> {
    /// Builds and signs an account's certificates and keys, storing nothing: CPU work only,
    /// so a bulk import can run it on every core and then store a batch at once.
    pub fn prepare(
        &self,
        new: &NewAccount,
        policy: &EnrollmentPolicy,
        delivery: KeyDelivery,
        actor: &str,
        now: u64,
    ) -> Result<PreparedAccount> {
        let email = normalize_email(&new.email)?;
        let name = match new.name.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(n) if n.chars().any(char::is_control) || n.chars().count() > 256 => {
                return Err(ServiceError::Invalid(format!(
                    "the name of {email} must be at most 256 characters without control characters"
                )));
            }
            Some(n) => Some(n.to_string()),
        };
        let password_hash = new
            .password
            .as_ref()
            .map(|p| hash_password(p))
            .transpose()?;
        let Enrollment {
            prepared,
            pending,
            keys,
        } = enroll(self, &email, policy, delivery, actor, now)?;
        let serials: Vec<&str> = prepared
            .iter()
            .map(|p| p.issued.record.serial.as_str())
            .collect();
        let account = AccountRecord {
            email: email.clone(),
            name,
            state: AccountState::Active,
            password_hash,
            created_at: now as i64,
            updated_at: now as i64,
        };
        let mut audit_entries = vec![audit(
            now,
            actor,
            "account-created",
            None,
            Some(email),
            format!(
                "name={} certificates={} est_password={} keys={}",
                account.name.as_deref().unwrap_or("-"),
                serials.join(","),
                account.password_hash.is_some(),
                match delivery {
                    KeyDelivery::Bundle => "handed-over",
                    KeyDelivery::Pending => "pending",
                }
            ),
        )];
        audit_entries.extend(prepared.iter().flat_map(|p| p.audit.iter().cloned()));
        Ok(PreparedAccount {
            account,
            prepared,
            pending,
            keys,
            audit: audit_entries,
        })
    }

    /// Stores prepared accounts in one transaction. Each result is the enrolled account, or
    /// the error for an address that already had an account (nothing stored for it).
    pub async fn store(&self, batch: Vec<PreparedAccount>) -> Result<Vec<Result<Enrolled>>> {
        let inserts: Vec<AccountInsert> = batch
            .iter()
            .map(|a| AccountInsert {
                account: a.account.clone(),
                certificates: new_certificates(&a.prepared, &a.pending),
                audit: a.audit.clone(),
            })
            .collect();
        let created = self
            .cachet
            .store
            .insert_accounts(&self.kek.audit_key(), &inserts)
            .await?;
        Ok(batch
            .into_iter()
            .zip(created)
            .map(|(a, created)| {
                if created {
                    Ok(Enrolled {
                        account: a.account,
                        certificates: a.prepared.into_iter().map(|p| p.issued).collect(),
                        keys: a.keys,
                    })
                } else {
                    Err(ServiceError::Invalid(format!(
                        "account {} already exists",
                        a.account.email
                    )))
                }
            })
            .collect())
    }

    /// Creates one account and enrolls it: the account, its certificates, the archived
    /// encryption key and the audit records are stored in one transaction, and only then
    /// are the keys returned.
    pub async fn add(
        &self,
        new: &NewAccount,
        policy: &EnrollmentPolicy,
        delivery: KeyDelivery,
        actor: &str,
        now: u64,
    ) -> Result<Enrolled> {
        let email = normalize_email(&new.email)?;
        if let Some(existing) = self.cachet.store.account(&email).await? {
            return Err(ServiceError::Invalid(format!(
                "account {email} already exists ({})",
                existing.state.name()
            )));
        }
        let prepared = self.prepare(new, policy, delivery, actor, now)?;
        self.store(vec![prepared])
            .await?
            .pop()
            .unwrap_or_else(|| Err(ServiceError::Invalid("nothing was stored".into())))
    }
}

impl Cachet {
    /// Loads the issuing CA for a batch of [`Enroller::add`] calls.
    pub async fn enroller<'a>(&'a self, kek: &'a Kek) -> Result<Enroller<'a>> {
        Ok(Enroller {
            cachet: self,
            kek,
            ctx: self.issuer_context(kek).await?,
        })
    }

    /// Creates an account and enrolls it per `policy` (see [`Enroller::add`]).
    pub async fn add_account(
        &self,
        kek: &Kek,
        new: &NewAccount,
        policy: &EnrollmentPolicy,
        actor: &str,
        now: u64,
    ) -> Result<Enrolled> {
        self.enroller(kek)
            .await?
            .add(new, policy, KeyDelivery::Bundle, actor, now)
            .await
    }

    /// Every account, optionally only those in `state`.
    pub async fn accounts(&self, state: Option<AccountState>) -> Result<Vec<AccountRecord>> {
        Ok(self.store.accounts(state).await?)
    }

    /// One account and all its certificates, oldest first.
    pub async fn account(&self, email: &str) -> Result<(AccountRecord, Vec<CertificateRecord>)> {
        let email = normalize_email(email)?;
        let account = self
            .store
            .account(&email)
            .await?
            .ok_or_else(|| ServiceError::UnknownAccount(email.clone()))?;
        let certificates = self.store.certificates(Some(&email)).await?;
        Ok((account, certificates))
    }

    /// Disables an account: its certificates are revoked (affiliationChanged) and leave
    /// publication; renewal stops. Returns the revoked certificates.
    pub async fn disable_account(
        &self,
        kek: &Kek,
        email: &str,
        actor: &str,
        now: u64,
    ) -> Result<Vec<CertificateRecord>> {
        self.close_account(
            kek,
            email,
            AccountState::Disabled,
            RevocationReason::AffiliationChanged,
            actor,
            now,
        )
        .await
    }

    /// Removes an account for good: its certificates are revoked (cessationOfOperation);
    /// the row stays, so its history and archived keys remain. Returns the revoked
    /// certificates.
    pub async fn remove_account(
        &self,
        kek: &Kek,
        email: &str,
        actor: &str,
        now: u64,
    ) -> Result<Vec<CertificateRecord>> {
        self.close_account(
            kek,
            email,
            AccountState::Removed,
            RevocationReason::CessationOfOperation,
            actor,
            now,
        )
        .await
    }

    async fn close_account(
        &self,
        kek: &Kek,
        email: &str,
        state: AccountState,
        reason: RevocationReason,
        actor: &str,
        now: u64,
    ) -> Result<Vec<CertificateRecord>> {
        let email = normalize_email(email)?;
        let current = self
            .store
            .account(&email)
            .await?
            .ok_or_else(|| ServiceError::UnknownAccount(email.clone()))?;
        if current.state == state || current.state == AccountState::Removed {
            return Err(ServiceError::Invalid(format!(
                "account {email} is already {}: nothing changed",
                current.state.name()
            )));
        }
        let action = match state {
            AccountState::Removed => "account-removed",
            _ => "account-disabled",
        };
        let (_, revoked) = self
            .store
            .change_account(
                &kek.audit_key(),
                &AccountChange {
                    email: &email,
                    state,
                    now: now as i64,
                    revoke: Some(reason.name()),
                    certificates: &[],
                    from: if state == AccountState::Removed {
                        &[AccountState::Active, AccountState::Disabled]
                    } else {
                        &[AccountState::Active]
                    },
                },
                |before, revoked| {
                    let mut entries = vec![audit(
                        now,
                        actor,
                        action,
                        None,
                        Some(before.email.clone()),
                        format!("was={} revoked={}", before.state.name(), revoked.len()),
                    )];
                    entries.extend(revoked.iter().map(|r| {
                        audit(
                            now,
                            actor,
                            "certificate-revoked",
                            Some(r.serial.clone()),
                            Some(r.subject.clone()),
                            format!("reason={reason} account={action}"),
                        )
                    }));
                    entries
                },
            )
            .await
            .map_err(account_error(&email))?;
        Ok(revoked)
    }

    /// Enables a disabled account again and enrolls it afresh (its old certificates stay
    /// revoked).
    pub async fn enable_account(
        &self,
        kek: &Kek,
        email: &str,
        policy: &EnrollmentPolicy,
        actor: &str,
        now: u64,
    ) -> Result<Enrolled> {
        let email = normalize_email(email)?;
        let current = self
            .store
            .account(&email)
            .await?
            .ok_or_else(|| ServiceError::UnknownAccount(email.clone()))?;
        if current.state != AccountState::Disabled {
            return Err(ServiceError::Invalid(format!(
                "account {email} is {}, not disabled: only a disabled account can be enabled",
                current.state.name()
            )));
        }
        let enroller = self.enroller(kek).await?;
        let Enrollment {
            prepared,
            pending,
            keys,
        } = enroll(&enroller, &email, policy, KeyDelivery::Bundle, actor, now)?;
        let serials: Vec<String> = prepared
            .iter()
            .map(|p| p.issued.record.serial.clone())
            .collect();
        let certs = new_certificates(&prepared, &pending);
        let (mut account, _) = self
            .store
            .change_account(
                &kek.audit_key(),
                &AccountChange {
                    email: &email,
                    state: AccountState::Active,
                    now: now as i64,
                    revoke: None,
                    certificates: &certs,
                    from: &[AccountState::Disabled],
                },
                |before, _| {
                    let mut entries = vec![audit(
                        now,
                        actor,
                        "account-enabled",
                        None,
                        Some(before.email.clone()),
                        format!("certificates={}", serials.join(",")),
                    )];
                    entries.extend(prepared.iter().flat_map(|p| p.audit.iter().cloned()));
                    entries
                },
            )
            .await
            .map_err(account_error(&email))?;
        account.state = AccountState::Active;
        account.updated_at = now as i64;
        Ok(Enrolled {
            account,
            certificates: prepared.into_iter().map(|p| p.issued).collect(),
            keys,
        })
    }

    /// Sets or clears the EST password of an active account.
    pub async fn set_account_password(
        &self,
        kek: &Kek,
        email: &str,
        password: Option<&str>,
        actor: &str,
        now: u64,
    ) -> Result<()> {
        let email = normalize_email(email)?;
        let hash = password.map(hash_password).transpose()?;
        let entry = audit(
            now,
            actor,
            "account-password-set",
            None,
            Some(email.clone()),
            format!("est_password={}", hash.is_some()),
        );
        self.store
            .set_account_password(
                &kek.audit_key(),
                &email,
                hash.as_deref(),
                now as i64,
                &entry,
            )
            .await
            .map_err(account_error(&email))
    }

    /// Whether `password` is the EST password of the active account `email`. Unknown
    /// accounts and accounts without a password are checked against a dummy hash, so the
    /// answer takes as long either way.
    pub async fn check_account_password(&self, email: &str, password: &str) -> Result<bool> {
        let account = match normalize_email(email) {
            Ok(e) => self.store.account(&e).await?,
            Err(_) => None,
        };
        match account {
            Some(a) if a.state == AccountState::Active => match a.password_hash {
                Some(h) => Ok(check_password(password, &h)),
                None => {
                    let _ = check_password(password, DUMMY_HASH);
                    Ok(false)
                }
            },
            _ => {
                let _ = check_password(password, DUMMY_HASH);
                Ok(false)
            }
        }
    }

    /// Renews every certificate of an active account that is due at `now` under `policy`:
    /// a new key of the policy's type, the same profile, the old certificate marked
    /// superseded, the new key archived (encryption) and queued for its owner. At most
    /// `limit` certificates per run.
    pub async fn renew_due(
        &self,
        kek: &Kek,
        policy: &EnrollmentPolicy,
        actor: &str,
        now: u64,
        limit: usize,
    ) -> Result<RenewalReport> {
        let due = self
            .store
            .due_for_renewal(now as i64, policy.renew_at, limit as i64)
            .await?;
        let mut report = RenewalReport::default();
        if due.is_empty() {
            return Ok(report);
        }
        let ctx = self.issuer_context(kek).await?;
        for old in due {
            match self.renew_one(kek, &ctx, &old, policy, actor, now).await {
                Ok(new_serial) => report.renewed.push((old.email, old.serial, new_serial)),
                Err(ServiceError::Store(StoreError::Conflict(_))) => {}
                Err(e) => report.failed.push((old.serial, e.to_string())),
            }
        }
        Ok(report)
    }

    async fn renew_one(
        &self,
        kek: &Kek,
        ctx: &IssuerContext,
        old: &CertificateRecord,
        policy: &EnrollmentPolicy,
        actor: &str,
        now: u64,
    ) -> Result<String> {
        let profile = old.profile.parse::<Profile>().map_err(|_| {
            ServiceError::DataDir(format!(
                "certificate {} has profile '{}', which this build does not know",
                old.serial, old.profile
            ))
        })?;
        let p = self.prepare_issue(
            ctx,
            IssueRequest {
                email: old.email.clone(),
                profile,
                key: KeySource::Generate(renewal_key_type(policy, profile)),
                validity_days: Some(policy.validity_days),
                non_repudiation: policy.non_repudiation && profile.signs(),
                actor: actor.to_string(),
            },
            now,
        )?;
        let serial = p.issued.record.serial.clone();
        let pending = match &p.issued.key {
            Some(k) => Some(kek.seal_pending_key(&serial, k.pkcs8_der())?),
            None => None,
        };
        let mut entries = p.audit.clone();
        entries.push(audit(
            now,
            actor,
            "certificate-renewed",
            Some(old.serial.clone()),
            Some(old.subject.clone()),
            format!("successor={serial} profile={}", old.profile),
        ));
        self.store
            .renew_certificate(
                &kek.audit_key(),
                &old.serial,
                &NewCertificate {
                    record: p.issued.record.clone(),
                    archived: p.archived.clone(),
                    pending_key: pending,
                },
                &entries,
            )
            .await?;
        Ok(serial)
    }

    /// Hands over the keys Cachet generated for `email` at renewal and has not yet handed
    /// over, as a PKCS#12 under a one-time password; `None` when none wait. Each key is
    /// handed over once: the queue entries are deleted in the same step.
    pub async fn collect_keys(
        &self,
        kek: &Kek,
        email: &str,
        actor: &str,
        now: u64,
    ) -> Result<Option<KeyBundle>> {
        let email = normalize_email(email)?;
        let pending = self.store.pending_keys(&email).await?;
        if pending.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(pending.len());
        let mut certs = Vec::with_capacity(pending.len());
        for p in &pending {
            let rec = self.certificate(&p.serial).await?;
            keys.push(kek.open_pending_key(&p.serial, &p.sealed_key)?);
            certs.push(rec);
        }
        let entries: Vec<(&[u8], &[u8], String)> = keys
            .iter()
            .zip(&certs)
            .map(|(k, c)| {
                (
                    k.as_slice(),
                    c.der.as_slice(),
                    friendly_name(&email, &c.profile),
                )
            })
            .collect();
        let chain = self.chain().await?;
        let chain_der: Vec<&[u8]> = chain.iter().map(|c| c.der()).collect();
        let mut bundle = key_bundle(&entries, &chain_der)?;
        bundle.serials = pending.iter().map(|p| p.serial.clone()).collect();
        let entry = audit(
            now,
            actor,
            "keys-handed-over",
            None,
            Some(email.clone()),
            format!("certificates={}", bundle.serials.join(",")),
        );
        self.store
            .take_pending_keys(&kek.audit_key(), &bundle.serials, &entry)
            .await?;
        Ok(Some(bundle))
    }
}

/// A well-formed hash no password matches (its hash bytes are zero), checked when an
/// account has no password so that the time taken does not tell which accounts exist.
const DUMMY_HASH: &str = "argon2id$m=19456,t=2,p=1$00000000000000000000000000000000$0000000000000000000000000000000000000000000000000000000000000000";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_check() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(check_password("correct horse battery", &h));
        assert!(!check_password("correct horse batterY", &h));
        assert!(!check_password("correct horse battery", DUMMY_HASH));
        assert!(!check_password("x", "argon2id$garbage"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn the_plan_follows_recovery_and_key_types() {
        let p = EnrollmentPolicy::default();
        assert_eq!(
            enrollment_plan(&p, true),
            vec![
                (Profile::Signing, KeyType::EcdsaP256),
                (Profile::Encryption, KeyType::EcdsaP256)
            ]
        );
        assert_eq!(
            enrollment_plan(&p, false),
            vec![(Profile::Dual, KeyType::EcdsaP256)]
        );
        let ed = EnrollmentPolicy {
            signing_key_type: KeyType::Ed25519,
            encryption_key_type: KeyType::X25519,
            ..EnrollmentPolicy::default()
        };
        assert_eq!(enrollment_plan(&ed, false).len(), 2);
    }
}
