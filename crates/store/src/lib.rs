//! Persistence for Cachet: the CA's settings and keys (sealed, never plaintext), issued
//! certificates and their revocation state, published CRLs, the trust store (anchors,
//! intermediates, imported CRLs), and the append-only, hash-chained audit log — over sqlx, with SQLite (WAL) as the embedded default.
//!
//! This crate stores and retrieves; it does not decide. It never sees a private key in the
//! clear (the service seals keys before they get here), builds no certificates and applies
//! no policy. The keyed hash chain of the audit log is computed here, with a key the service
//! derives and passes in, because appending a record and reading its predecessor must happen
//! in one transaction.

pub mod accounts;
pub mod audit;
pub mod db;
pub mod directory;
pub mod error;
pub mod publication;
pub mod recovery;
pub mod schema;
pub mod store;
pub mod tokens;
pub mod trust;

pub use accounts::{
    AccountChange, AccountInsert, AccountRecord, AccountState, NewCertificate, PendingKeyRecord,
};
pub use audit::{AuditEntry, AuditKey, AuditRecord, ChainProblem};
pub use db::Backend;
pub use directory::DirectoryChange;
pub use error::StoreError;
pub use publication::{OcspSignerRecord, RevocationSummary};
pub use recovery::{ArchivedKeyRecord, RecoveryRequestRecord, ShareRecord, SplitRecord};
pub use store::{CaRecord, CertificateRecord, CrlRecord, RevokeOutcome, RevokedRow, Store};
pub use tokens::ApiTokenRecord;
pub use trust::{
    AddOutcome, CrlImportOutcome, ImportedCrlRecord, TrustAnchorRecord, TrustIntermediateRecord,
};
