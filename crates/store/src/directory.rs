//! What the LDAP directory (`cachet-directory`, issue #7) reads: the certificates it may
//! publish, and the audit log as a change feed. Every change that concerns the directory —
//! an account created, disabled, enabled or removed, a certificate issued, revoked or
//! renewed — is written with an audit record in the same transaction, so the newest audit
//! sequence number is a cheap, exact change marker (shared by every node on one database),
//! and the records after a known number name what changed.
//!
//! Queries use `$1, $2…` placeholders, which SQLite accepts and PostgreSQL requires.

use crate::error::Result;
use crate::store::{CertificateRecord, Store, cert_row};
use sqlx::Row;

/// One audit record seen as a directory change: its sequence number, the mailbox of the
/// certificate it names (if it names a stored one) and its subject (a mailbox for account
/// actions, a DN for certificate actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryChange {
    /// Audit sequence number.
    pub seq: i64,
    /// The mailbox of the certificate named by the record's serial, if any.
    pub certificate_email: Option<String>,
    /// The record's subject.
    pub subject: Option<String>,
}

impl Store {
    /// The newest audit sequence number (0 for an empty log): changes whenever anything
    /// audited happens, in this process or another one sharing the database.
    pub async fn directory_marker(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM audit")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("m")?)
    }

    /// At most `limit` audit records after sequence number `after`, oldest first, with the
    /// mailbox of the certificate each one names.
    pub async fn directory_changes(&self, after: i64, limit: i64) -> Result<Vec<DirectoryChange>> {
        let rows = sqlx::query(
            "SELECT a.seq AS seq, a.subject AS subject, c.email AS cert_email
             FROM audit a LEFT JOIN certificates c ON c.serial = a.serial
             WHERE a.seq > $1 ORDER BY a.seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DirectoryChange {
                    seq: r.try_get("seq")?,
                    certificate_email: r.try_get("cert_email")?,
                    subject: r.try_get("subject")?,
                })
            })
            .collect()
    }

    /// The certificates that may be published at or after `now`: not revoked, not
    /// superseded, not expired (`not_after >= now`) — of one mailbox (compared
    /// case-insensitively) or of all. Not-yet-valid ones are included: the reader filters
    /// by validity at the moment it answers, so time passing needs no reload.
    pub async fn publishable_certificates(
        &self,
        email: Option<&str>,
        now: i64,
    ) -> Result<Vec<CertificateRecord>> {
        let rows = match email {
            Some(e) => {
                sqlx::query(
                    "SELECT * FROM certificates
                     WHERE revoked_at IS NULL AND superseded_by IS NULL AND not_after >= $1
                       AND lower(email) = lower($2)
                     ORDER BY email, not_before DESC, serial",
                )
                .bind(now)
                .bind(e)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT * FROM certificates
                     WHERE revoked_at IS NULL AND superseded_by IS NULL AND not_after >= $1
                     ORDER BY email, not_before DESC, serial",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(cert_row).collect()
    }
}
