//! Cryptographic keys and primitives for Cachet, over aws-lc-rs.
//!
//! This crate is the only place in Cachet that touches private-key material and raw
//! primitives: key generation and PKCS#8 encoding ([`keys`]), signing and verification
//! ([`signature`]), digests ([`digest`]), authenticated encryption of secrets at rest and
//! password-based key derivation ([`secret`]), and the legacy-but-required primitives that
//! PKCS#12 is built from ([`pbe`]).
//!
//! It deliberately knows nothing of X.509 policy, CMS or MIME: it takes bytes and returns
//! bytes. It does no I/O, reads no clock and keeps no global state. Private-key operations
//! are constant time (aws-lc-rs); secrets it returns are wrapped in [`zeroize::Zeroizing`].
#![forbid(unsafe_code)]

pub mod digest;
pub mod error;
pub mod keys;
pub mod pbe;
pub mod rand;
pub mod secret;
pub mod signature;

pub use error::Error;
pub use keys::{KeyType, PrivateKey};
pub use signature::SignatureAlgorithm;
