//! Bearer tokens of the REST API and the roles they carry.
//!
//! A token reads `cachet_<id>_<secret>`: the id (8 random bytes, hex) finds the row, the
//! secret (32 random bytes, hex) proves possession and is stored only as its SHA-256, so a
//! copy of the database yields no usable token. A token is shown once, when created.

use crate::ca::{Cachet, audit};
use crate::error::{Result, ServiceError};
use crate::keyring::Kek;
use cachet_store::{ApiTokenRecord, StoreError};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything: accounts, certificates, revocation, CRLs, tokens.
    Admin,
    /// Recovery requests and approvals, and reading what they need.
    RecoveryOfficer,
    /// Read-only: accounts, certificates, CRLs, the audit log.
    Auditor,
}

impl Role {
    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::RecoveryOfficer => "recovery-officer",
            Role::Auditor => "auditor",
        }
    }

    /// Parses a role name.
    pub fn from_name(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "recovery-officer" => Some(Role::RecoveryOfficer),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A token that checked out: who is calling, in which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's id.
    pub token_id: String,
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Caller {
    /// The actor written into audit records: `api:<name>(<id>)`.
    pub fn actor(&self) -> String {
        format!("api:{}({})", self.name, self.token_id)
    }
}

/// A token just created: the only moment its secret exists outside the caller.
pub struct NewToken {
    /// The stored record.
    pub record: ApiTokenRecord,
    /// The whole token, `cachet_<id>_<secret>`.
    pub token: Zeroizing<String>,
}

/// Why a presented token was refused. The messages do not say whether the id exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Not of the form `cachet_<id>_<secret>`.
    Malformed,
    /// Unknown, wrong secret or revoked.
    Invalid,
}

fn secret_digest(secret: &str) -> String {
    hex::encode(cachet_crypto::digest::sha256(secret.as_bytes()))
}

impl Cachet {
    /// Creates an API token; the returned token is shown once and stored only as a hash.
    pub async fn create_api_token(
        &self,
        kek: &Kek,
        name: &str,
        role: Role,
        actor: &str,
        now: u64,
    ) -> Result<NewToken> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(ServiceError::Invalid(format!(
                "token name '{name}' must be 1 to 64 characters of letters, digits and - _ . @"
            )));
        }
        let id = hex::encode(cachet_crypto::rand::bytes::<8>()?);
        let secret = Zeroizing::new(hex::encode(cachet_crypto::rand::bytes::<32>()?));
        let record = ApiTokenRecord {
            id: id.clone(),
            name: name.to_string(),
            role: role.name().to_string(),
            secret_sha256: secret_digest(&secret),
            created_at: now as i64,
            revoked_at: None,
        };
        let entry = audit(
            now,
            actor,
            "api-token-created",
            None,
            None,
            format!("id={id} name={name} role={role}"),
        );
        self.store
            .insert_api_token(&kek.audit_key(), &record, &entry)
            .await?;
        Ok(NewToken {
            record,
            token: Zeroizing::new(format!("cachet_{id}_{}", secret.as_str())),
        })
    }

    /// Every API token (without secrets).
    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>> {
        Ok(self.store.api_tokens().await?)
    }

    /// Revokes token `id`.
    pub async fn revoke_api_token(&self, kek: &Kek, id: &str, actor: &str, now: u64) -> Result<()> {
        let entry = audit(
            now,
            actor,
            "api-token-revoked",
            None,
            None,
            format!("id={id}"),
        );
        self.store
            .revoke_api_token(&kek.audit_key(), id, now as i64, &entry)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => ServiceError::Invalid(format!(
                    "no API token {id} that is not already revoked: see `cachet token list`"
                )),
                other => other.into(),
            })
    }

    /// Checks a presented bearer token.
    pub async fn authenticate_token(
        &self,
        presented: &str,
    ) -> Result<std::result::Result<Caller, TokenRefusal>> {
        let Some(rest) = presented.strip_prefix("cachet_") else {
            return Ok(Err(TokenRefusal::Malformed));
        };
        let Some((id, secret)) = rest.split_once('_') else {
            return Ok(Err(TokenRefusal::Malformed));
        };
        if id.len() != 16 || secret.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Err(TokenRefusal::Malformed));
        }
        let digest = secret_digest(secret);
        let Some(rec) = self.store.api_token(id).await? else {
            return Ok(Err(TokenRefusal::Invalid));
        };
        let same: bool = digest.as_bytes().ct_eq(rec.secret_sha256.as_bytes()).into();
        if !same || rec.revoked_at.is_some() {
            return Ok(Err(TokenRefusal::Invalid));
        }
        let Some(role) = Role::from_name(&rec.role) else {
            return Ok(Err(TokenRefusal::Invalid));
        };
        Ok(Ok(Caller {
            token_id: rec.id,
            name: rec.name,
            role,
        }))
    }

    /// Records a REST API call made with a valid token (allowed or refused) in the audit
    /// log: who, what, and the status answered.
    pub async fn record_api_call(
        &self,
        kek: &Kek,
        caller: &Caller,
        method: &str,
        path: &str,
        status: u16,
        now: u64,
    ) -> Result<()> {
        let entry = audit(
            now,
            &caller.actor(),
            "api-call",
            None,
            None,
            format!("role={} {method} {path} -> {status}", caller.role),
        );
        Ok(self
            .store
            .append_audit_entry(&kek.audit_key(), &entry)
            .await?)
    }
}
