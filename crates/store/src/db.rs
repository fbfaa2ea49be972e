//! Connections: SQLite (the embedded default, one file in the data directory) and PostgreSQL
//! (several `cachet serve` nodes on one database), both behind sqlx's `Any` driver so every
//! query is written once.
//!
//! What differs between the two is kept here and in [`Store::begin`](crate::Store): the
//! SQLite pragmas (WAL, synchronous FULL, foreign keys, busy timeout), the column types of
//! the schema ([`Backend::dialect`]) and how a write transaction takes the write lock.

use crate::error::{Result, StoreError};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, Executor, Transaction};
use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

/// A row of either database.
pub type DbRow = sqlx::any::AnyRow;
/// A transaction on either database.
pub type Tx = Transaction<'static, Any>;

/// Which database a [`Store`](crate::Store) is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// A schema statement (written for SQLite) as this database takes it. SQLite stores any
    /// integer in 64 bits and bytes as BLOB; PostgreSQL needs BIGINT (its INTEGER is 32 bits:
    /// times and CRL numbers would overflow) and BYTEA.
    pub fn dialect<'a>(self, statement: &'a str) -> Cow<'a, str> {
        match self {
            Backend::Sqlite => Cow::Borrowed(statement),
            Backend::Postgres => Cow::Owned(replace_words(
                &replace_words(statement, "INTEGER", "BIGINT"),
                "BLOB",
                "BYTEA",
            )),
        }
    }

    /// Its name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Replaces whole words `from` (ASCII identifier boundaries) by `to`.
fn replace_words(s: &str, from: &str, to: &str) -> String {
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(from)
            && (i == 0 || !is_ident(bytes[i - 1]))
            && bytes.get(i + from.len()).is_none_or(|&c| !is_ident(c))
        {
            out.push_str(to);
            i += from.len();
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn install_drivers() {
    // Idempotent: sqlx installs the compiled-in drivers once.
    sqlx::any::install_default_drivers();
}

/// `sqlite://` URL of a file path, percent-encoding what a URL cannot hold.
fn sqlite_url(path: &Path, mode: &str) -> Result<String> {
    let abs = std::path::absolute(path).map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let text = abs.to_str().ok_or_else(|| StoreError::Open {
        path: path.display().to_string(),
        detail: "the path is not UTF-8".into(),
    })?;
    let mut url = String::from("sqlite://");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=");
    url.push_str(mode);
    Ok(url)
}

/// Opens the SQLite file at `path` (creating it when `create`) with Cachet's pragmas on
/// every connection: WAL, and synchronous FULL so that a committed issuance or revocation
/// survives power loss before it is reported.
pub(crate) async fn connect_sqlite(path: &Path, create: bool, max: u32) -> Result<AnyPool> {
    install_drivers();
    let url = sqlite_url(path, if create { "rwc" } else { "rw" })?;
    AnyPoolOptions::new()
        .max_connections(max)
        .after_connect(|conn, _| {
            Box::pin(async move {
                for pragma in [
                    "PRAGMA busy_timeout = 30000",
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA foreign_keys = ON",
                ] {
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
}

/// A read-only connection to the SQLite file at `path` that sets no pragma, to look at a
/// file before deciding it is Cachet's.
pub(crate) async fn probe_sqlite(path: &Path) -> Result<AnyPool> {
    install_drivers();
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(&sqlite_url(path, "ro")?)
        .await
        .map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
}

/// Connects to PostgreSQL.
pub(crate) async fn connect_postgres(url: &str) -> Result<AnyPool> {
    install_drivers();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Open {
            path: redact(url),
            detail: "not a postgres:// URL".into(),
        });
    }
    AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .map_err(|e| StoreError::Open {
            path: redact(url),
            detail: e.to_string(),
        })
}

/// A database URL with its password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_rewrites_types_only() {
        let s = "CREATE TABLE t (seq INTEGER PRIMARY KEY, der BLOB NOT NULL, integers_text TEXT)";
        assert_eq!(
            Backend::Postgres.dialect(s),
            "CREATE TABLE t (seq BIGINT PRIMARY KEY, der BYTEA NOT NULL, integers_text TEXT)"
        );
        assert_eq!(Backend::Sqlite.dialect(s), s);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://cachet:s3cret@db:5432/cachet"),
            "postgres://cachet:***@db:5432/cachet"
        );
        assert_eq!(redact("postgres://db/cachet"), "postgres://db/cachet");
    }

    #[test]
    fn paths_become_urls() {
        let u = sqlite_url(Path::new("/tmp/a b/c.db"), "rw").unwrap();
        assert_eq!(u, "sqlite:///tmp/a%20b/c.db?mode=rw");
    }
}
