//! Cryptographic keys and primitives for Cachet, over aws-lc-rs.
//!
//! This crate is the only place in Cachet that touches private-key material and raw
//! primitives: key generation and PKCS#8 encoding ([`keys`]), signing and verification
//! ([`signature`]), digests ([`digest`]), authenticated encryption of secrets at rest and
//! password-based key derivation ([`secret`]), and the legacy-but-required primitives that
//! PKCS#12 is built from ([`pbe`]); and what the CMS engine encrypts with (RFC 5652,
//! 5083, 5084, 5753, 8418, 3560): RSA key transport with implicit rejection
//! ([`rsa_transport`]), ECDH and X25519 key agreement ([`ecdh`]) with the X9.63 KDF and HKDF
//! ([`kdf`]), AES key wrap ([`keywrap`]), and AES-CBC/AES-GCM content encryption, one-shot
//! and streaming ([`content`]).
//!
//! It deliberately knows nothing of X.509 policy, CMS or MIME: it takes bytes and returns
//! bytes. It does no I/O, reads no clock and keeps no global state. Private-key operations
//! are constant time (aws-lc-rs); secrets it returns are wrapped in [`zeroize::Zeroizing`].
#![forbid(unsafe_code)]

pub mod content;
pub mod digest;
pub mod dsa;
pub mod ecdh;
pub mod error;
pub mod kdf;
pub mod keys;
pub mod keywrap;
pub mod pbe;
pub mod rand;
pub mod rsa_transport;
pub mod secret;
pub mod signature;

pub use error::Error;
pub use keys::{KeyType, PrivateKey};
pub use signature::SignatureAlgorithm;
