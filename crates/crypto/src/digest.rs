//! Message digests (FIPS 180-4). SHA-1 exists only to *read* legacy structures
//! (PKCS#12 local key ids, old signatures) and to compute RFC 5280 §4.2.1.2 key identifiers.

use aws_lc_rs::digest as d;

/// A digest algorithm Cachet computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-1: read-only uses and key identifiers, never for new signatures.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    fn alg(self) -> &'static d::Algorithm {
        match self {
            Self::Sha1 => &d::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &d::SHA256,
            Self::Sha384 => &d::SHA384,
            Self::Sha512 => &d::SHA512,
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        self.alg().output_len()
    }

    /// Digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        d::digest(self.alg(), data).as_ref().to_vec()
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(d::digest(&d::SHA256, data).as_ref());
    out
}

/// SHA-1 of `data` (key identifiers and legacy structures only).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(d::digest(&d::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref());
    out
}
