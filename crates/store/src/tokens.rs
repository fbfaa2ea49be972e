//! Bearer tokens of the REST API (schema `cachet-4`): who may call it and in which role.
//! Only the SHA-256 of each token's secret is stored.

use crate::audit::{AuditEntry, AuditKey};
use crate::db::DbRow;
use crate::error::{Result, StoreError};
use crate::store::{Store, append_audit};
use sqlx::Row;

/// One API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// The public id (part of the token).
    pub id: String,
    /// What it is for ("ci", "helpdesk").
    pub name: String,
    /// `admin`, `recovery-officer` or `auditor`.
    pub role: String,
    /// SHA-256 of the secret, lower-case hex.
    pub secret_sha256: String,
    /// Created.
    pub created_at: i64,
    /// Revoked, if it was.
    pub revoked_at: Option<i64>,
}

fn token_row(r: &DbRow) -> Result<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        secret_sha256: r.try_get("secret_sha256")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// Stores a new token with its audit record.
    pub async fn insert_api_token(
        &self,
        key: &AuditKey,
        token: &ApiTokenRecord,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(&token.role)
        .bind(&token.secret_sha256)
        .bind(token.created_at)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The token with `id`.
    pub async fn api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>> {
        sqlx::query("SELECT * FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(token_row)
            .transpose()
    }

    /// Every token, oldest first.
    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>> {
        sqlx::query("SELECT * FROM api_tokens ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(token_row)
            .collect()
    }

    /// Revokes token `id` with its audit record; revoking twice is [`StoreError::NotFound`].
    pub async fn revoke_api_token(
        &self,
        key: &AuditKey,
        id: &str,
        at: i64,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("unrevoked API token {id}")));
        }
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
