//! Accounts (schema `cachet-4`): the mailboxes Cachet enrolls, their certificates' renewal
//! (a renewed certificate names its successor) and the keys generated at renewal that wait
//! for their owner.
//!
//! Every change that spans rows — an account with its first certificates, a disabled
//! account with its revocations, a renewal with the superseded certificate — is one
//! transaction with its audit records, so no reader ever sees half of it.

use crate::audit::{AuditEntry, AuditKey};
use crate::db::{DbRow, Tx};
use crate::error::{Result, StoreError};
use crate::recovery::ArchivedKeyRecord;
use crate::store::{CertificateRecord, Store, append_audit, cert_row, insert_certificate_row};
use sqlx::Row;

/// An account's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Enrolled, renewed and published.
    Active,
    /// Its certificates are revoked; it can be enabled again.
    Disabled,
    /// Its certificates are revoked and it is closed for good; the row keeps its history.
    Removed,
}

impl AccountState {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Disabled => "disabled",
            AccountState::Removed => "removed",
        }
    }

    fn from_name(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(AccountState::Active),
            "disabled" => Ok(AccountState::Disabled),
            "removed" => Ok(AccountState::Removed),
            other => Err(StoreError::Database(format!(
                "stored account state '{other}' is not one this build knows"
            ))),
        }
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// The mailbox, normalised (lower-case domain).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Lifecycle state.
    pub state: AccountState,
    /// Argon2id PHC string of the EST password, if one is set.
    pub password_hash: Option<String>,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

/// A certificate to store with the account change that caused it.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    /// The certificate.
    pub record: CertificateRecord,
    /// Its archived encryption key, when key recovery is on.
    pub archived: Option<ArchivedKeyRecord>,
    /// Its key sealed for later hand-over (renewal), when Cachet generated it and the owner
    /// has not received it.
    pub pending_key: Option<Vec<u8>>,
}

/// An account to create, with its first certificates and audit records.
#[derive(Debug, Clone)]
pub struct AccountInsert {
    /// The account.
    pub account: AccountRecord,
    /// Its certificates.
    pub certificates: Vec<NewCertificate>,
    /// The audit records of the creation and the issuances.
    pub audit: Vec<AuditEntry>,
}

/// A change of an account's state (see [`Store::change_account`]).
#[derive(Debug, Clone, Copy)]
pub struct AccountChange<'a> {
    /// The mailbox.
    pub email: &'a str,
    /// The state it moves to.
    pub state: AccountState,
    /// When.
    pub now: i64,
    /// When set, the reason every certificate of the address that is neither revoked nor
    /// expired is revoked with, at `now`.
    pub revoke: Option<&'a str>,
    /// Certificates issued in the same transaction (enabling an account again).
    pub certificates: &'a [NewCertificate],
    /// The states the account may be in for the change to apply, checked inside the
    /// transaction: when another process changed it first, nothing is written and the
    /// change fails with [`StoreError::Conflict`].
    pub from: &'a [AccountState],
}

/// A key waiting for its owner.
#[derive(Debug, Clone)]
pub struct PendingKeyRecord {
    /// The certificate's serial.
    pub serial: String,
    /// The mailbox.
    pub email: String,
    /// The sealed PKCS#8.
    pub sealed_key: Vec<u8>,
    /// When it was generated.
    pub created_at: i64,
}

fn account_row(r: &DbRow) -> Result<AccountRecord> {
    Ok(AccountRecord {
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        state: AccountState::from_name(&r.try_get::<String, _>("state")?)?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn insert_new_certificate(tx: &mut Tx, c: &NewCertificate) -> Result<()> {
    insert_certificate_row(tx, &c.record).await?;
    if let Some(a) = &c.archived {
        crate::recovery::insert_archived_key(tx, a).await?;
    }
    if let Some(sealed) = &c.pending_key {
        sqlx::query(
            "INSERT INTO pending_keys (serial, email, sealed_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&c.record.serial)
        .bind(&c.record.email)
        .bind(sealed)
        .bind(c.record.issued_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Creates accounts with their first certificates and audit records, all in one
    /// transaction (a bulk import commits many accounts per disk sync). An address that
    /// already has an account is skipped, changing nothing for it: the result says, index
    /// for index, whether each account was created.
    pub async fn insert_accounts(
        &self,
        key: &AuditKey,
        accounts: &[AccountInsert],
    ) -> Result<Vec<bool>> {
        let mut tx = self.begin().await?;
        let mut created = Vec::with_capacity(accounts.len());
        for a in accounts {
            // Also an account whose address differs only in case: lookups would mix them.
            let exists: Option<String> =
                sqlx::query_scalar("SELECT state FROM accounts WHERE lower(email) = lower($1)")
                    .bind(&a.account.email)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_some() {
                created.push(false);
                continue;
            }
            sqlx::query(
                "INSERT INTO accounts (email, name, state, password_hash, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&a.account.email)
            .bind(&a.account.name)
            .bind(a.account.state.name())
            .bind(&a.account.password_hash)
            .bind(a.account.created_at)
            .bind(a.account.updated_at)
            .execute(&mut *tx)
            .await?;
            for c in &a.certificates {
                insert_new_certificate(&mut tx, c).await?;
            }
            for e in &a.audit {
                append_audit(&mut tx, key, e).await?;
            }
            created.push(true);
        }
        tx.commit().await?;
        Ok(created)
    }

    /// The account of `email`.
    pub async fn account(&self, email: &str) -> Result<Option<AccountRecord>> {
        sqlx::query("SELECT * FROM accounts WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account_row)
            .transpose()
    }

    /// Accounts in address order, optionally only those in `state`.
    pub async fn accounts(&self, state: Option<AccountState>) -> Result<Vec<AccountRecord>> {
        let rows = match state {
            Some(s) => {
                sqlx::query("SELECT * FROM accounts WHERE state = $1 ORDER BY email")
                    .bind(s.name())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM accounts ORDER BY email")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(account_row).collect()
    }

    /// Applies `change` — the new state, revocations, new certificates — in one transaction
    /// with the audit records `audit` makes from the account as it was and the revoked
    /// certificates. Returns the account as it was before and the certificates revoked.
    pub async fn change_account(
        &self,
        key: &AuditKey,
        change: &AccountChange<'_>,
        audit: impl FnOnce(&AccountRecord, &[CertificateRecord]) -> Vec<AuditEntry>,
    ) -> Result<(AccountRecord, Vec<CertificateRecord>)> {
        let AccountChange {
            email,
            state,
            now,
            revoke,
            certificates,
            from,
        } = *change;
        let mut tx = self.begin().await?;
        let before = sqlx::query("SELECT * FROM accounts WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(account_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("account {email}")))?;
        if !from.contains(&before.state) {
            return Err(StoreError::Conflict(format!(
                "account {email} (now {})",
                before.state.name()
            )));
        }
        let mut revoked = Vec::new();
        if let Some(reason) = revoke {
            let rows = sqlx::query(
                "SELECT * FROM certificates WHERE email = $1 AND revoked_at IS NULL AND not_after > $2 ORDER BY issued_at, serial",
            )
            .bind(email)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let mut rec = cert_row(row)?;
                sqlx::query(
                    "UPDATE certificates SET revoked_at = $1, revocation_reason = $2 WHERE serial = $3",
                )
                .bind(now)
                .bind(reason)
                .bind(&rec.serial)
                .execute(&mut *tx)
                .await?;
                // A revoked certificate's key is never handed over.
                sqlx::query("DELETE FROM pending_keys WHERE serial = $1")
                    .bind(&rec.serial)
                    .execute(&mut *tx)
                    .await?;
                rec.revoked_at = Some(now);
                rec.revocation_reason = Some(reason.to_string());
                revoked.push(rec);
            }
        }
        sqlx::query("UPDATE accounts SET state = $1, updated_at = $2 WHERE email = $3")
            .bind(state.name())
            .bind(now)
            .bind(email)
            .execute(&mut *tx)
            .await?;
        for c in certificates {
            insert_new_certificate(&mut tx, c).await?;
        }
        for e in audit(&before, &revoked) {
            append_audit(&mut tx, key, &e).await?;
        }
        tx.commit().await?;
        Ok((before, revoked))
    }

    /// Sets (or clears) the EST password hash of `email`, with its audit record.
    pub async fn set_account_password(
        &self,
        key: &AuditKey,
        email: &str,
        password_hash: Option<&str>,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE email = $3 AND state = 'active'",
        )
        .bind(password_hash)
        .bind(now)
        .bind(email)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("active account {email}")));
        }
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Certificates of active accounts whose keys Cachet generated (a subscriber's own key is
    /// renewed by the subscriber, e.g. EST re-enrollment) that are neither revoked,
    /// superseded nor expired and
    /// whose renewal point — `not_before + (not_after − not_before) × renew_at` — is at or
    /// before `now`, oldest first, at most `limit`.
    pub async fn due_for_renewal(
        &self,
        now: i64,
        renew_at: f64,
        limit: i64,
    ) -> Result<Vec<CertificateRecord>> {
        sqlx::query(
            "SELECT c.* FROM certificates c JOIN accounts a ON a.email = c.email
             WHERE a.state = 'active' AND c.key_origin = 'generated'
               AND c.revoked_at IS NULL AND c.superseded_by IS NULL
               AND c.not_after > $1
               AND c.not_before + CAST((c.not_after - c.not_before) * $2 AS BIGINT) <= $1
             ORDER BY c.not_after, c.serial LIMIT $3",
        )
        .bind(now)
        .bind(renew_at)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(cert_row)
        .collect()
    }

    /// Stores `successor` and marks `old_serial` superseded by it, with the audit records, in
    /// one transaction. When another process renewed or revoked the old certificate first,
    /// nothing is written and [`StoreError::Conflict`] says so.
    pub async fn renew_certificate(
        &self,
        key: &AuditKey,
        old_serial: &str,
        successor: &NewCertificate,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE certificates SET superseded_by = $1, superseded_at = $2
             WHERE serial = $3 AND superseded_by IS NULL AND revoked_at IS NULL",
        )
        .bind(&successor.record.serial)
        .bind(successor.record.issued_at)
        .bind(old_serial)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!("certificate {old_serial}")));
        }
        insert_new_certificate(&mut tx, successor).await?;
        for e in audit {
            append_audit(&mut tx, key, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The keys waiting for `email`, oldest first.
    pub async fn pending_keys(&self, email: &str) -> Result<Vec<PendingKeyRecord>> {
        sqlx::query("SELECT * FROM pending_keys WHERE email = $1 ORDER BY created_at, serial")
            .bind(email)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(PendingKeyRecord {
                    serial: r.try_get("serial")?,
                    email: r.try_get("email")?,
                    sealed_key: r.try_get("sealed_key")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Deletes the pending keys `serials` (they were handed over), with the audit record, in
    /// one transaction. A key another process handed over first gives
    /// [`StoreError::Conflict`]: each key is handed over once.
    pub async fn take_pending_keys(
        &self,
        key: &AuditKey,
        serials: &[String],
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for s in serials {
            let n = sqlx::query("DELETE FROM pending_keys WHERE serial = $1")
                .bind(s)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict(format!("the pending key of {s}")));
            }
        }
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
