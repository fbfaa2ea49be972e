//! The store over SQLite or PostgreSQL, through sqlx's `Any` driver: one set of queries
//! (`$1`-style placeholders, SQL both accept) for both.

use crate::audit::{AuditEntry, AuditKey, AuditRecord, GENESIS, record_hash};
use crate::db::{self, Backend, DbRow, Tx};
use crate::error::{Result, StoreError};
use crate::schema::{self, BASE_ID, STATEMENTS};
use sqlx::AnyPool;
use sqlx::Row;
use std::path::Path;

/// A CA as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaRecord {
    /// Short name used in URLs (`root`, `issuing`).
    pub slug: String,
    /// `root` or `issuing`.
    pub role: String,
    /// The CA that issued this one, if not self-signed.
    pub parent: Option<String>,
    /// DER certificate.
    pub cert_der: Vec<u8>,
    /// The private key, sealed (AES-256-GCM) by the service. Never plaintext.
    pub sealed_key: Vec<u8>,
    /// The number the next CRL will carry.
    pub next_crl_number: i64,
    /// When the CA was created.
    pub created_at: i64,
}

/// An issued certificate and its revocation state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The issuing CA's slug.
    pub ca: String,
    /// The mailbox.
    pub email: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// Profile name.
    pub profile: String,
    /// Key type name.
    pub key_type: String,
    /// SHA-256 of the SubjectPublicKeyInfo, lower-case hex (finds reused keys).
    pub spki_sha256: String,
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
    /// When it was issued.
    pub issued_at: i64,
    /// DER certificate.
    pub der: Vec<u8>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Why (kebab-case reason), if revoked.
    pub revocation_reason: Option<String>,
    /// The serial of the certificate that renewed this one, if it was renewed.
    pub superseded_by: Option<String>,
    /// When it was renewed.
    pub superseded_at: Option<i64>,
    /// `generated` (Cachet made the key) or `csr` (the subscriber's own key); `None` for
    /// certificates issued before accounts existed.
    pub key_origin: Option<String>,
}

impl CertificateRecord {
    /// What the certificate is at `now`, as lists and lookups show it: `revoked`,
    /// `superseded` (renewed; still valid until it expires, but no longer published),
    /// `expired`, `not-yet-valid` or `valid`.
    pub fn status(&self, now: u64) -> &'static str {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.superseded_by.is_some() {
            "superseded"
        } else if self.not_after <= now {
            "expired"
        } else if self.not_before > now {
            "not-yet-valid"
        } else {
            "valid"
        }
    }
}

/// A published CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlRecord {
    /// The CA's slug.
    pub ca: String,
    /// cRLNumber.
    pub number: i64,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
    /// DER CRL.
    pub der: Vec<u8>,
}

/// A revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedRow {
    /// Serial, lower-case hex.
    pub serial: String,
    /// When it was revoked.
    pub revoked_at: i64,
    /// The reason's kebab-case name.
    pub reason: String,
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// The certificate is now revoked.
    Revoked(CertificateRecord),
    /// It was already revoked; nothing changed.
    AlreadyRevoked(CertificateRecord),
    /// No certificate has that serial.
    NotFound,
}

/// A Cachet database.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

/// The schema marker of a database, `None` when it has none; a database without the
/// settings table is not Cachet's.
async fn read_marker(pool: &AnyPool, shown: &str) -> Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = 'schema'")
        .fetch_optional(pool)
        .await
        .map_err(|e| StoreError::Foreign {
            path: shown.to_string(),
            detail: e.to_string(),
        })
}

/// Refuses a marker this build does not know.
fn check_marker(schema: Option<&str>, shown: &str) -> Result<()> {
    match schema {
        Some(id) if id == schema::latest_id() || schema::pending(id).is_some() => Ok(()),
        Some(other) => Err(StoreError::Foreign {
            path: shown.to_string(),
            detail: format!(
                "schema '{other}' is not one this build knows ({BASE_ID} to {}): was it made by a newer Cachet?",
                schema::latest_id()
            ),
        }),
        None => Err(StoreError::Foreign {
            path: shown.to_string(),
            detail: "it has no Cachet schema marker".into(),
        }),
    }
}

const AUDIT_HEAD_SEQ: &str = "audit_head_seq";
const AUDIT_HEAD_HASH: &str = "audit_head_hash";

pub(crate) fn cert_row(r: &DbRow) -> Result<CertificateRecord> {
    Ok(CertificateRecord {
        serial: r.try_get("serial")?,
        ca: r.try_get("ca")?,
        email: r.try_get("email")?,
        subject: r.try_get("subject")?,
        profile: r.try_get("profile")?,
        key_type: r.try_get("key_type")?,
        spki_sha256: r.try_get("spki_sha256")?,
        not_before: r.try_get("not_before")?,
        not_after: r.try_get("not_after")?,
        issued_at: r.try_get("issued_at")?,
        der: r.try_get("der")?,
        revoked_at: r.try_get("revoked_at")?,
        revocation_reason: r.try_get("revocation_reason")?,
        superseded_by: r.try_get("superseded_by")?,
        superseded_at: r.try_get("superseded_at")?,
        key_origin: r.try_get("key_origin")?,
    })
}

fn ca_row(r: &DbRow) -> Result<CaRecord> {
    Ok(CaRecord {
        slug: r.try_get("slug")?,
        role: r.try_get("role")?,
        parent: r.try_get("parent")?,
        cert_der: r.try_get("cert_der")?,
        sealed_key: r.try_get("sealed_key")?,
        next_crl_number: r.try_get("next_crl_number")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Creates a new database at `path` (which must not exist) with the schema applied.
    pub async fn create(path: &Path) -> Result<Store> {
        if path.exists() {
            return Err(StoreError::Duplicate(format!(
                "database {}",
                path.display()
            )));
        }
        let pool = db::connect_sqlite(path, true, 4).await?;
        let store = Store {
            pool,
            backend: Backend::Sqlite,
        };
        store.create_schema().await?;
        Ok(store)
    }

    /// Creates the schema in an empty PostgreSQL database at `url`. A database that already
    /// holds tables is refused, changing nothing.
    pub async fn create_postgres(url: &str) -> Result<Store> {
        let pool = db::connect_postgres(url).await?;
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
        )
        .fetch_one(&pool)
        .await?;
        if tables > 0 {
            pool.close().await;
            return Err(StoreError::Duplicate(format!(
                "tables in the PostgreSQL database {} ({tables}): give `cachet init` an empty database",
                db::redact(url)
            )));
        }
        let store = Store {
            pool,
            backend: Backend::Postgres,
        };
        store.create_schema().await?;
        Ok(store)
    }

    async fn create_schema(&self) -> Result<()> {
        // Not `begin`: its lock needs the settings table this creates. Two processes creating
        // the same schema at once collide on the first CREATE TABLE, and one fails whole.
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        for s in STATEMENTS
            .iter()
            .chain(schema::MIGRATIONS.iter().flat_map(|m| m.statements.iter()))
        {
            sqlx::query(sqlx::AssertSqlSafe(self.backend.dialect(s).into_owned()))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO settings (key, value) VALUES ('schema', $1)")
            .bind(schema::latest_id())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens an existing Cachet database, upgrading its schema first when an earlier build
    /// made it (see [`crate::schema`]): the missing migrations are applied in one transaction.
    pub async fn open(path: &Path) -> Result<Store> {
        let p = path.display().to_string();
        if !path.is_file() {
            return Err(StoreError::Open {
                path: p,
                detail: "no such file".into(),
            });
        }
        // Check the schema marker over a read-only connection that changes no pragma, so a
        // foreign SQLite file is left exactly as it was.
        let probe = db::probe_sqlite(path).await?;
        let schema = read_marker(&probe, &p).await;
        probe.close().await;
        let schema = schema?;
        check_marker(schema.as_deref(), &p)?;
        let store = Store {
            pool: db::connect_sqlite(path, false, 4).await?,
            backend: Backend::Sqlite,
        };
        if schema.as_deref() != Some(schema::latest_id()) {
            store.upgrade().await?;
        }
        Ok(store)
    }

    /// Opens the Cachet database in PostgreSQL at `url`, upgrading its schema like
    /// [`Store::open`]. Any number of processes may hold it open at once.
    pub async fn open_postgres(url: &str) -> Result<Store> {
        let pool = db::connect_postgres(url).await?;
        let shown = db::redact(url);
        let schema = read_marker(&pool, &shown).await;
        let schema = match schema {
            Ok(s) => s,
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        check_marker(schema.as_deref(), &shown)?;
        let store = Store {
            pool,
            backend: Backend::Postgres,
        };
        if schema.as_deref() != Some(schema::latest_id()) {
            store.upgrade().await?;
        }
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies the migrations the database still needs, in one transaction. The marker is
    /// read again under the write lock, so two processes opening an old database at once
    /// upgrade it once.
    async fn upgrade(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        let id: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'schema'")
            .fetch_one(&mut *tx)
            .await?;
        let Some(pending) = schema::pending(&id) else {
            return Err(StoreError::Database(format!(
                "the schema changed to '{id}' while the database was being opened"
            )));
        };
        if pending.is_empty() {
            return Ok(());
        }
        for m in pending {
            for s in m.statements {
                sqlx::query(sqlx::AssertSqlSafe(self.backend.dialect(s).into_owned()))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query("UPDATE settings SET value = $1 WHERE key = 'schema'")
            .bind(schema::latest_id())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Begins a write transaction that holds the database's write lock from its first
    /// statement, so that writers queue rather than interleave: serial numbers, CRL numbers
    /// and the audit chain's head are read and advanced by one writer at a time, on one node
    /// or many.
    pub(crate) async fn begin(&self) -> Result<Tx> {
        match self.backend {
            // IMMEDIATE takes the write lock at once, so concurrent writers queue instead of
            // failing on a lock upgrade.
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            // EXCLUSIVE mode conflicts with every writer (ROW EXCLUSIVE) and itself, not with
            // readers; under READ COMMITTED each later statement sees everything committed
            // before the lock was granted.
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("LOCK TABLE settings IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// A setting's value.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores the organisation's settings, its CAs and the split of the recovery key (when
    /// recovery is on), with their audit records, in one transaction: a failed `init` leaves
    /// nothing behind.
    pub async fn initialize(
        &self,
        key: &AuditKey,
        settings: &[(&str, String)],
        cas: &[CaRecord],
        recovery: Option<&crate::recovery::SplitRecord>,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for (k, v) in settings {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2)")
                .bind(*k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        for c in cas {
            sqlx::query(
                "INSERT INTO cas (slug, role, parent, cert_der, sealed_key, next_crl_number, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&c.slug)
            .bind(&c.role)
            .bind(&c.parent)
            .bind(&c.cert_der)
            .bind(&c.sealed_key)
            .bind(c.next_crl_number)
            .bind(c.created_at)
            .execute(&mut *tx)
            .await?;
        }
        crate::recovery::initialize_recovery(&mut tx, recovery).await?;
        for a in audit {
            append_audit(&mut tx, key, a).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The CA with `slug`.
    pub async fn ca(&self, slug: &str) -> Result<CaRecord> {
        let r = sqlx::query("SELECT * FROM cas WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("CA '{slug}'")))?;
        ca_row(&r)
    }

    /// Every CA, roots first.
    pub async fn cas(&self) -> Result<Vec<CaRecord>> {
        sqlx::query("SELECT * FROM cas ORDER BY (role = 'issuing'), created_at")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(ca_row)
            .collect()
    }

    /// Stores a newly issued certificate and its audit record in one transaction.
    /// A serial that is already taken gives [`StoreError::Duplicate`] and stores nothing.
    pub async fn insert_certificate(
        &self,
        key: &AuditKey,
        c: &CertificateRecord,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_certificate_row(&mut tx, c).await?;
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The certificate with `serial` (lower-case hex).
    pub async fn certificate(&self, serial: &str) -> Result<Option<CertificateRecord>> {
        sqlx::query("SELECT * FROM certificates WHERE serial = $1")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(cert_row)
            .transpose()
    }

    /// Certificates, oldest first, optionally only those of `email`.
    pub async fn certificates(&self, email: Option<&str>) -> Result<Vec<CertificateRecord>> {
        let rows = match email {
            Some(e) => {
                sqlx::query(
                    "SELECT * FROM certificates WHERE email = $1 ORDER BY issued_at, serial",
                )
                .bind(e)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query("SELECT * FROM certificates ORDER BY issued_at, serial")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(cert_row).collect()
    }

    /// Revokes `serial`, with its audit record, in one transaction.
    pub async fn revoke(
        &self,
        key: &AuditKey,
        serial: &str,
        at: i64,
        reason: &str,
        audit: &AuditEntry,
    ) -> Result<RevokeOutcome> {
        let mut tx = self.begin().await?;
        let Some(row) = sqlx::query("SELECT * FROM certificates WHERE serial = $1")
            .bind(serial)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(RevokeOutcome::NotFound);
        };
        let mut rec = cert_row(&row)?;
        if rec.revoked_at.is_some() {
            return Ok(RevokeOutcome::AlreadyRevoked(rec));
        }
        sqlx::query("UPDATE certificates SET revoked_at = $1, revocation_reason = $2 WHERE serial = $3 AND revoked_at IS NULL")
            .bind(at)
            .bind(reason)
            .bind(serial)
            .execute(&mut *tx)
            .await?;
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        rec.revoked_at = Some(at);
        rec.revocation_reason = Some(reason.to_string());
        Ok(RevokeOutcome::Revoked(rec))
    }

    /// Issues the next CRL of `ca` in one transaction: takes the next CRL number, reads the
    /// revoked certificates *in the same transaction* (so a concurrent revocation is either in
    /// this CRL or in the next, never lost between them), lets `build` make the DER, stores
    /// the CRL and its audit record. Numbers are never reused or skipped, even with several
    /// writers.
    pub async fn publish_crl<E>(
        &self,
        key: &AuditKey,
        ca: &str,
        this_update: i64,
        next_update: i64,
        build: impl FnOnce(i64, &[RevokedRow]) -> std::result::Result<Vec<u8>, E>,
        audit: impl FnOnce(i64, usize) -> AuditEntry,
    ) -> Result<std::result::Result<CrlRecord, E>> {
        let mut tx = self.begin().await?;
        let number: i64 = sqlx::query_scalar("SELECT next_crl_number FROM cas WHERE slug = $1")
            .bind(ca)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("CA '{ca}'")))?;
        let rows = sqlx::query(
            "SELECT serial, revoked_at, revocation_reason FROM certificates
             WHERE ca = $1 AND revoked_at IS NOT NULL ORDER BY serial",
        )
        .bind(ca)
        .fetch_all(&mut *tx)
        .await?;
        let revoked = rows
            .iter()
            .map(|r| {
                Ok(RevokedRow {
                    serial: r.try_get("serial")?,
                    revoked_at: r.try_get("revoked_at")?,
                    reason: r
                        .try_get::<Option<String>, _>("revocation_reason")?
                        .unwrap_or_else(|| "unspecified".into()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let der = match build(number, &revoked) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        sqlx::query("UPDATE cas SET next_crl_number = $1 WHERE slug = $2")
            .bind(number + 1)
            .bind(ca)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO crls (ca, number, this_update, next_update, der) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ca)
        .bind(number)
        .bind(this_update)
        .bind(next_update)
        .bind(&der)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, key, &audit(number, revoked.len())).await?;
        tx.commit().await?;
        Ok(Ok(CrlRecord {
            ca: ca.to_string(),
            number,
            this_update,
            next_update,
            der,
        }))
    }

    /// Whether a certificate with this public key (SHA-256 of the SPKI, hex) was revoked for
    /// key compromise: such keys are never certified again (S/MIME BR §6.1.1.3).
    pub async fn key_compromised(&self, spki_sha256: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM certificates WHERE spki_sha256 = $1 AND revocation_reason = 'key-compromise'",
        )
        .bind(spki_sha256)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The newest CRL of `ca`, if any.
    pub async fn latest_crl(&self, ca: &str) -> Result<Option<CrlRecord>> {
        let r = sqlx::query("SELECT * FROM crls WHERE ca = $1 ORDER BY number DESC LIMIT 1")
            .bind(ca)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| {
            Ok(CrlRecord {
                ca: r.try_get("ca")?,
                number: r.try_get("number")?,
                this_update: r.try_get("this_update")?,
                next_update: r.try_get("next_update")?,
                der: r.try_get("der")?,
            })
        })
        .transpose()
    }

    /// Every audit record in order, and the recorded head of the chain.
    pub async fn audit_log(&self) -> Result<(Vec<AuditRecord>, Option<(i64, Vec<u8>)>)> {
        // The head first, then the records up to it: a record committed in between (with a
        // newer head) is left out rather than read without its head, which would look like
        // a truncated chain on a busy system.
        // Both head settings in one statement, so they come from the same commit.
        let rows = sqlx::query("SELECT key, value FROM settings WHERE key IN ($1, $2)")
            .bind(AUDIT_HEAD_SEQ)
            .bind(AUDIT_HEAD_HASH)
            .fetch_all(&self.pool)
            .await?;
        let (mut seq, mut hash) = (None, None);
        for r in &rows {
            let k: String = r.try_get("key")?;
            let v: String = r.try_get("value")?;
            if k == AUDIT_HEAD_SEQ {
                seq = Some(v);
            } else {
                hash = Some(v);
            }
        }
        let head = match (seq, hash) {
            (Some(s), Some(h)) => Some((
                s.parse::<i64>().unwrap_or(-1),
                hex::decode(&h).unwrap_or_default(),
            )),
            _ => None,
        };
        let upto = head.as_ref().map_or(i64::MAX, |(s, _)| *s);
        let records = self.audit_records(0, upto, i64::MAX).await?;
        Ok((records, head))
    }

    /// Audit records with `after < seq <= upto`, oldest first, at most `limit`.
    pub async fn audit_records(
        &self,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        sqlx::query("SELECT * FROM audit WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3")
            .bind(after)
            .bind(upto)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(AuditRecord {
                    seq: r.try_get("seq")?,
                    entry: AuditEntry {
                        at: r.try_get("at")?,
                        actor: r.try_get("actor")?,
                        action: r.try_get("action")?,
                        serial: r.try_get("serial")?,
                        subject: r.try_get("subject")?,
                        detail: r.try_get("detail")?,
                    },
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }
}

pub(crate) async fn insert_certificate_row(tx: &mut Tx, c: &CertificateRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO certificates (serial, ca, email, subject, profile, key_type, spki_sha256, not_before, not_after, issued_at, der, key_origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&c.serial)
    .bind(&c.ca)
    .bind(&c.email)
    .bind(&c.subject)
    .bind(&c.profile)
    .bind(&c.key_type)
    .bind(&c.spki_sha256)
    .bind(c.not_before)
    .bind(c.not_after)
    .bind(c.issued_at)
    .bind(&c.der)
    .bind(&c.key_origin)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends `entry` after the newest record, inside the caller's transaction, and moves the
/// recorded head.
pub(crate) async fn append_audit(
    tx: &mut Tx,
    key: &AuditKey,
    entry: &AuditEntry,
) -> Result<AuditRecord> {
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (prev_seq, prev_hash): (i64, Vec<u8>) = match last {
        Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
        None => (0, GENESIS.to_vec()),
    };
    let seq = prev_seq + 1;
    let hash = record_hash(key, seq, entry, &prev_hash);
    sqlx::query(
        "INSERT INTO audit (seq, at, actor, action, serial, subject, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.serial)
    .bind(&entry.subject)
    .bind(&entry.detail)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    for (k, v) in [
        (AUDIT_HEAD_SEQ, seq.to_string()),
        (AUDIT_HEAD_HASH, hex::encode(&hash)),
    ] {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(k)
            .bind(v)
            .execute(&mut **tx)
            .await?;
    }
    Ok(AuditRecord {
        seq,
        entry: entry.clone(),
        prev_hash,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    /// Builds a database exactly as the first release did: the base statements and the
    /// `cachet-1` marker, with a setting and an audit record in it.
    async fn base_database(path: &Path) {
        let pool = db::connect_sqlite(path, true, 1).await.unwrap();
        for s in STATEMENTS {
            sqlx::query(*s).execute(&pool).await.unwrap();
        }
        for (k, v) in [("schema", BASE_ID), ("domain", "example.com")] {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2)")
                .bind(k)
                .bind(v)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }

    async fn marker(s: &Store) -> String {
        s.setting("schema").await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_base_database_is_upgraded_on_open_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cachet.db");
        base_database(&path).await;
        let key = AuditKey::new([3; 32]);
        {
            // The first release's store appends an audit record before the upgrade.
            let pool = db::connect_sqlite(&path, false, 1).await.unwrap();
            let old = Store {
                pool,
                backend: Backend::Sqlite,
            };
            let mut tx = old.begin().await.unwrap();
            let e = AuditEntry {
                at: 1,
                actor: "old".into(),
                action: "ca-created".into(),
                serial: None,
                subject: None,
                detail: String::new(),
            };
            append_audit(&mut tx, &key, &e).await.unwrap();
            tx.commit().await.unwrap();
            old.close().await;
        }
        let s = Store::open(&path).await.unwrap();
        assert_eq!(marker(&s).await, schema::latest_id());
        assert_eq!(
            s.setting("domain").await.unwrap().as_deref(),
            Some("example.com")
        );
        assert!(s.trust_anchors().await.unwrap().is_empty());
        assert!(s.imported_crls().await.unwrap().is_empty());
        let (records, head) = s.audit_log().await.unwrap();
        assert_eq!(records.len(), 1);
        assert!(crate::audit::verify_chain(&key, &records, head).is_empty());
        s.close().await;
        // Opening again finds nothing to do.
        let s = Store::open(&path).await.unwrap();
        assert_eq!(marker(&s).await, schema::latest_id());
        s.close().await;
    }

    #[tokio::test]
    async fn a_new_database_has_the_latest_schema_and_an_unknown_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cachet.db");
        let s = Store::create(&path).await.unwrap();
        assert_eq!(marker(&s).await, schema::latest_id());
        sqlx::query("UPDATE settings SET value = 'cachet-99' WHERE key = 'schema'")
            .execute(&s.pool)
            .await
            .unwrap();
        s.close().await;
        match Store::open(&path).await {
            Err(StoreError::Foreign { detail, .. }) => {
                assert!(detail.contains("cachet-99"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pending_migrations_follow_the_marker() {
        assert_eq!(
            schema::pending(BASE_ID).unwrap().len(),
            schema::MIGRATIONS.len()
        );
        assert_eq!(schema::pending(schema::latest_id()).unwrap().len(), 0);
        assert!(schema::pending("cachet-0").is_none());
        assert!(schema::pending("").is_none());
    }
}
