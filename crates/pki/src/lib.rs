//! X.509 for Cachet: distinguished names, extensions, the S/MIME certificate profiles of the
//! CA/Browser Forum S/MIME Baseline Requirements (Strict, mailbox-validated) with a linter
//! that checks every certificate against its profile, certificate and CRL building (RFC 5280),
//! PKCS#10 requests (RFC 2986), PKCS#12 (RFC 7292) and PEM (RFC 7468).
//!
//! Everything here is pure: functions take bytes, keys and the time as parameters and return
//! bytes or typed values. This crate does no I/O, reads no clock and keeps no state; storage,
//! serial uniqueness across a database and the audit log belong to `cachet-store` and
//! `cachet-service`. Path validation and revocation checking arrive in the `validate`
//! module with the trust issue; this crate does not fetch anything over the network.
#![forbid(unsafe_code)]

pub mod cert;
pub mod crl;
pub mod csr;
pub mod ephemeral;
pub mod error;
pub mod ext;
pub mod issue;
pub mod lint;
pub mod name;
pub mod ocsp;
pub mod pem;
pub mod pkcs12;
pub mod profile;
pub mod time;
pub mod validate;
pub mod verdict;

pub use cert::ParsedCertificate;
pub use error::PkiError;
pub use profile::Profile;
