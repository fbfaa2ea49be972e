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

/// An incremental digest, for content that arrives in pieces (streaming S/MIME).
#[derive(Clone)]
pub struct Hasher {
    alg: DigestAlgorithm,
    ctx: d::Context,
}

impl Hasher {
    /// A new hasher.
    pub fn new(alg: DigestAlgorithm) -> Self {
        Hasher {
            alg,
            ctx: d::Context::new(alg.alg()),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.alg
    }

    /// Adds data.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// The digest of everything added.
    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_equals_one_shot() {
        for alg in [
            DigestAlgorithm::Sha1,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ] {
            let mut h = Hasher::new(alg);
            h.update(b"hello ");
            h.update(b"world");
            assert_eq!(h.finish(), alg.digest(b"hello world"));
            assert_eq!(alg.digest(b"").len(), alg.output_len());
        }
        // FIPS 180-4 example: SHA-256("abc").
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
