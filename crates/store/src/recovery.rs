//! The key archive and M-of-N recovery (schema `cachet-3`): the current split of the
//! recovery key and its officers' sealed shares, archived encryption keys, and recovery
//! requests. Every row holds sealed records written by `cachet-escrow` (or sealed under the
//! key-encryption key by the service); this module stores them with their audit records in
//! one transaction, and decides nothing.

use crate::audit::{AuditEntry, AuditKey};
use crate::db::{DbRow, Tx};
use crate::error::{Result, StoreError};
use crate::store::{CertificateRecord, Store, append_audit, insert_certificate_row};
use sqlx::Row;

/// One officer's sealed share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// The officer's name.
    pub officer: String,
    /// The Shamir index (1..=255).
    pub index: i64,
    /// `passphrase` or `certificate`.
    pub scheme: String,
    /// SealedShare DER.
    pub der: Vec<u8>,
}

/// The split of the recovery key, with its shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRecord {
    /// The split's id, hex.
    pub generation: String,
    /// M.
    pub threshold: i64,
    /// The key-recovery-agent certificate's serial, hex.
    pub kra_serial: String,
    /// The key-recovery-agent certificate, DER.
    pub kra_cert_der: Vec<u8>,
    /// SealedRecoveryKey DER.
    pub sealed_key: Vec<u8>,
    /// When the split was made.
    pub created_at: i64,
    /// One per officer (N), in index order.
    pub shares: Vec<ShareRecord>,
}

/// An archived encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedKeyRecord {
    /// The certificate's serial, hex (the certificate is in `certificates`).
    pub serial: String,
    /// The mailbox.
    pub email: String,
    /// The certificate's notAfter.
    pub not_after: i64,
    /// SHA-256 of the KRA certificate it is encrypted to, hex.
    pub kra_sha256: String,
    /// ArchivedKey DER.
    pub der: Vec<u8>,
    /// When it was archived.
    pub archived_at: i64,
}

/// A recovery request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRequestRecord {
    /// Its id.
    pub id: String,
    /// `recover` or `reshare`.
    pub purpose: String,
    /// The mailbox whose keys are asked for (recover).
    pub email: Option<String>,
    /// The one certificate asked for, if any.
    pub serial: Option<String>,
    /// `pending`, `completed`, `expired` or `cancelled`.
    pub state: String,
    /// When it was made.
    pub created_at: i64,
    /// When it expires.
    pub expires_at: i64,
    /// RecoveryRequest DER (with its approvals).
    pub der: Vec<u8>,
    /// The request secret sealed under the key-encryption key; `None` once closed.
    pub sealed_secret: Option<Vec<u8>>,
}

fn request_row(r: &DbRow) -> Result<RecoveryRequestRecord> {
    Ok(RecoveryRequestRecord {
        id: r.try_get("id")?,
        purpose: r.try_get("purpose")?,
        email: r.try_get("email")?,
        serial: r.try_get("serial")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        der: r.try_get("der")?,
        sealed_secret: r.try_get("sealed_secret")?,
    })
}

fn archived_row(r: &DbRow) -> Result<ArchivedKeyRecord> {
    Ok(ArchivedKeyRecord {
        serial: r.try_get("serial")?,
        email: r.try_get("email")?,
        not_after: r.try_get("not_after")?,
        kra_sha256: r.try_get("kra_sha256")?,
        der: r.try_get("der")?,
        archived_at: r.try_get("archived_at")?,
    })
}

async fn insert_split(tx: &mut Tx, s: &SplitRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO recovery_split (generation, threshold, officers, kra_serial, kra_cert_der, sealed_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&s.generation)
    .bind(s.threshold)
    .bind(s.shares.len() as i64)
    .bind(&s.kra_serial)
    .bind(&s.kra_cert_der)
    .bind(&s.sealed_key)
    .bind(s.created_at)
    .execute(&mut **tx)
    .await?;
    for sh in &s.shares {
        sqlx::query(
            "INSERT INTO recovery_shares (generation, officer, idx, scheme, der) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.generation)
        .bind(&sh.officer)
        .bind(sh.index)
        .bind(&sh.scheme)
        .bind(&sh.der)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(crate) async fn initialize_recovery(tx: &mut Tx, split: Option<&SplitRecord>) -> Result<()> {
    if let Some(s) = split {
        insert_split(tx, s).await?;
    }
    Ok(())
}

/// Writes `r` over the stored request, but only if the stored DER is still `expected_der`
/// (what the caller read): two officers approving at once cannot lose an approval.
async fn update_request_row(
    tx: &mut Tx,
    r: &RecoveryRequestRecord,
    expected_der: &[u8],
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE recovery_requests SET state = $1, der = $2, sealed_secret = $3 WHERE id = $4 AND der = $5",
    )
    .bind(&r.state)
    .bind(&r.der)
    .bind(&r.sealed_secret)
    .bind(&r.id)
    .bind(expected_der)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict(format!("recovery request {}", r.id)));
    }
    Ok(())
}

impl Store {
    /// The current split of the recovery key with its shares, if recovery was set up.
    pub async fn recovery_split(&self) -> Result<Option<SplitRecord>> {
        let Some(r) = sqlx::query("SELECT * FROM recovery_split ORDER BY created_at DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let generation: String = r.try_get("generation")?;
        let shares =
            sqlx::query("SELECT * FROM recovery_shares WHERE generation = $1 ORDER BY idx")
                .bind(&generation)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|s| {
                    Ok(ShareRecord {
                        officer: s.try_get("officer")?,
                        index: s.try_get("idx")?,
                        scheme: s.try_get("scheme")?,
                        der: s.try_get("der")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        Ok(Some(SplitRecord {
            generation,
            threshold: r.try_get("threshold")?,
            kra_serial: r.try_get("kra_serial")?,
            kra_cert_der: r.try_get("kra_cert_der")?,
            sealed_key: r.try_get("sealed_key")?,
            created_at: r.try_get("created_at")?,
            shares,
        }))
    }

    /// Stores a newly issued certificate, its archived key (when there is one) and their
    /// audit records in one transaction: a certificate whose key must be archived is never
    /// stored without it. A serial already taken gives [`StoreError::Duplicate`].
    pub async fn insert_certificate_archived(
        &self,
        key: &AuditKey,
        c: &CertificateRecord,
        archived: Option<&ArchivedKeyRecord>,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_certificate_row(&mut tx, c).await?;
        if let Some(a) = archived {
            insert_archived_key(&mut tx, a).await?;
        }
        for e in audit {
            append_audit(&mut tx, key, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every archived key of `email` (exact, as stored), oldest first, or of every mailbox.
    pub async fn archived_keys(&self, email: Option<&str>) -> Result<Vec<ArchivedKeyRecord>> {
        let rows = match email {
            Some(e) => {
                sqlx::query(
                    "SELECT * FROM archived_keys WHERE lower(email) = lower($1) ORDER BY archived_at, serial",
                )
                .bind(e)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query("SELECT * FROM archived_keys ORDER BY archived_at, serial")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(archived_row).collect()
    }

    /// Stores a new recovery request with its audit record.
    pub async fn insert_recovery_request(
        &self,
        key: &AuditKey,
        r: &RecoveryRequestRecord,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO recovery_requests (id, purpose, email, serial, state, created_at, expires_at, der, sealed_secret)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&r.id)
        .bind(&r.purpose)
        .bind(&r.email)
        .bind(&r.serial)
        .bind(&r.state)
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(&r.der)
        .bind(&r.sealed_secret)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The request `id`.
    pub async fn recovery_request(&self, id: &str) -> Result<Option<RecoveryRequestRecord>> {
        sqlx::query("SELECT * FROM recovery_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(request_row)
            .transpose()
    }

    /// Every request, oldest first.
    pub async fn recovery_requests(&self) -> Result<Vec<RecoveryRequestRecord>> {
        sqlx::query("SELECT * FROM recovery_requests ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(request_row)
            .collect()
    }

    /// Replaces requests (each only if its stored DER is still the one given beside it) and
    /// appends the audit records, in one transaction. [`StoreError::Conflict`] if another
    /// process changed one of them first; then nothing is written.
    pub async fn update_recovery_requests(
        &self,
        key: &AuditKey,
        updates: &[(&RecoveryRequestRecord, &[u8])],
        audit: &[AuditEntry],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for (r, expected) in updates {
            update_request_row(&mut tx, r, expected).await?;
        }
        for e in audit {
            append_audit(&mut tx, key, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rotation: closes the request that allowed it (and any other requests given), replaces
    /// the split of the recovery key and its shares with `split`, and appends the audit
    /// records, in one transaction. The old split's shares are deleted: they open nothing
    /// any more.
    pub async fn replace_recovery_split(
        &self,
        key: &AuditKey,
        old_generation: &str,
        split: &SplitRecord,
        updates: &[(&RecoveryRequestRecord, &[u8])],
        audit: &[AuditEntry],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for (r, expected) in updates {
            update_request_row(&mut tx, r, expected).await?;
        }
        let gone = sqlx::query("DELETE FROM recovery_split WHERE generation = $1")
            .bind(old_generation)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() != 1 {
            return Err(StoreError::Conflict("the split of the recovery key".into()));
        }
        insert_split(&mut tx, split).await?;
        for e in audit {
            append_audit(&mut tx, key, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Appends one audit record on its own (refusals that change nothing else).
    pub async fn append_audit_entry(&self, key: &AuditKey, entry: &AuditEntry) -> Result<()> {
        let mut tx = self.begin().await?;
        append_audit(&mut tx, key, entry).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Stores an archived key inside the caller's transaction.
pub(crate) async fn insert_archived_key(tx: &mut Tx, a: &ArchivedKeyRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO archived_keys (serial, email, not_after, kra_sha256, der, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&a.serial)
    .bind(&a.email)
    .bind(a.not_after)
    .bind(&a.kra_sha256)
    .bind(&a.der)
    .bind(a.archived_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
