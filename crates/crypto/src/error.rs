//! Errors of the crypto crate, as an enum a caller can match on.

/// Why a cryptographic operation failed. Messages never contain secret material.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// Key generation failed inside the primitive library.
    #[error("key generation failed for {0}")]
    KeyGeneration(&'static str),
    /// The bytes are not a PKCS#8 private key of a supported algorithm.
    #[error("not a supported PKCS#8 private key: {0}")]
    InvalidPrivateKey(&'static str),
    /// The bytes are not a SubjectPublicKeyInfo of a supported algorithm.
    #[error("not a supported public key: {0}")]
    InvalidPublicKey(&'static str),
    /// The key cannot be used for the requested operation (e.g. signing with X25519).
    #[error("a {key} key cannot {operation}")]
    WrongKeyForOperation {
        /// The key type, as `--key-type` names it.
        key: &'static str,
        /// What was attempted.
        operation: &'static str,
    },
    /// Signing failed inside the primitive library.
    #[error("signing failed")]
    Signing,
    /// A signature did not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The signature algorithm is not one Cachet supports.
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// Authenticated decryption failed: wrong key, or the data was altered.
    #[error("decryption failed: wrong key or altered data")]
    Decryption,
    /// Encryption to a public key or under a key-encryption key failed (e.g. the content
    /// key is too long for the RSA modulus).
    #[error("encryption failed: {0}")]
    Encryption(&'static str),
    /// A parameter is out of its allowed range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
}
