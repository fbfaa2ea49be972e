//! Cachet's use-cases, shared by the command line and the daemons: setting up the
//! organisation's CA, issuing and revoking certificates, publishing CRLs, protecting CA keys
//! at rest, and the audit log.
//!
//! This crate composes the pure crates (`cachet-crypto`, `cachet-pki`) with storage
//! (`cachet-store`) and the data directory on disk. It takes the current time as a
//! parameter so callers and tests control the clock. It does not parse command lines, speak
//! network protocols or print: those are the adapters above it.

pub mod ca;
pub mod datadir;
pub mod error;
pub mod keyring;

pub use ca::{Cachet, InitOptions, IssueRequest, Issued, KeySource};
pub use datadir::DataDir;
pub use error::ServiceError;
pub use keyring::{Kek, KeyProtection};
