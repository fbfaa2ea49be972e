//! Errors of the store.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open the database {path}: {detail}")]
    Open {
        /// The database file.
        path: String,
        /// The driver's explanation.
        detail: String,
    },
    /// The file is a database, but not a Cachet one (or of an unknown version).
    #[error("{path} is not a Cachet database: {detail}")]
    Foreign {
        /// The database file.
        path: String,
        /// What was found instead.
        detail: String,
    },
    /// A record that must exist does not.
    #[error("{0} not found")]
    NotFound(String),
    /// A unique value (e.g. a serial number) is already taken.
    #[error("{0} already exists")]
    Duplicate(String),
    /// A record changed between reading and writing it (another process wrote it first):
    /// nothing was written; run the command again.
    #[error(
        "{0} changed while this command ran (another process updated it): nothing was written; run the command again"
    )]
    Conflict(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e
            && d.is_unique_violation()
        {
            return StoreError::Duplicate(d.message().to_string());
        }
        StoreError::Database(e.to_string())
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, StoreError>;
