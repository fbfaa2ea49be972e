//! Cachet's use-cases, shared by the command line and the daemons: setting up the
//! organisation's CA, issuing and revoking certificates, publishing CRLs, protecting CA keys
//! at rest, the key archive and M-of-N key recovery ([`recovery`]), the trust store
//! (partners' anchors, intermediates, imported CRLs), and the audit log.
//!
//! This crate composes the pure crates (`cachet-crypto`, `cachet-pki`) with storage
//! (`cachet-store`) and the data directory on disk. It takes the current time as a
//! parameter so callers and tests control the clock. It does not parse command lines, serve
//! network protocols or print: those are the adapters above it. Its one network client is
//! [`fetch`]: CRLs, OCSP answers and missing issuers over HTTP for path validation.

pub mod accounts;
pub mod ca;
pub mod config;
pub mod datadir;
pub mod directory;
pub mod error;
pub mod est;
pub mod fetch;
pub mod keyring;
pub mod publication;
pub mod recovery;
pub mod tokens;
pub mod trust;
pub mod views;

pub use ca::{Cachet, InitOptions, IssueRequest, Issued, KeySource};
pub use datadir::DataDir;
pub use directory::{DirectoryDelta, DirectoryPerson};
pub use error::ServiceError;
pub use fetch::HttpFetcher;
pub use keyring::{Kek, KeyProtection};
pub use publication::{CurrentCrl, OcspAnswer, OcspCounts};
pub use recovery::{OfficerInput, Recovered, RecoverySetup, RecoveryStatus};
pub use trust::{AnchorConstraints, TrustError, TrustMaterial};
