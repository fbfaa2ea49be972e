//! Two memories for a verifier that sees many messages from the same CAs: parsed
//! certificates ([`CertificateIntern`]: what is derived from a certificate's bytes alone is
//! derived once) and verified certificate signatures ([`SignatureCache`]: each CA
//! signature over the same bytes with the same key is checked once). Both remember the
//! results of pure functions of bytes, so neither can change a verdict; `cachet-smime`'s
//! verifier uses both by default.

use crate::ParsedCertificate;
use cachet_crypto::digest::{DigestAlgorithm, Hasher};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Certificates already parsed, by the SHA-256 of their DER. What validation derives from a
/// certificate and nothing else — its decoded form, prepared names, the RFC 5280 structure
/// checks — is kept with it, so the CA certificates every message carries are decoded and
/// checked once. Nothing here depends on time, trust or an issuer, so a remembered
/// certificate is exactly what parsing its bytes again would give; every signature and
/// every path check is still made for each validation. Bounded: when full it starts afresh.
pub struct CertificateIntern {
    parsed: Mutex<HashMap<[u8; 32], ParsedCertificate>>,
    capacity: usize,
}

impl CertificateIntern {
    /// How many certificates [`Default`] remembers: the CAs and frequent correspondents of
    /// an organisation, a few MiB at most.
    pub const DEFAULT_CAPACITY: usize = 512;

    /// An intern remembering at most `capacity` certificates.
    pub fn new(capacity: usize) -> Self {
        CertificateIntern {
            parsed: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The certificate with this DER, parsed once and shared.
    pub fn certificate(&self, der: &[u8]) -> crate::error::Result<ParsedCertificate> {
        let key = cachet_crypto::digest::sha256(der);
        if let Ok(p) = self.parsed.lock()
            && let Some(c) = p.get(&key)
        {
            return Ok(c.clone());
        }
        let c = ParsedCertificate::from_der(der)?;
        if let Ok(mut p) = self.parsed.lock() {
            if p.len() >= self.capacity {
                p.clear();
            }
            p.insert(key, c.clone());
        }
        Ok(c)
    }
}

impl Default for CertificateIntern {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for CertificateIntern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateIntern")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Verified (issuer key, certificate) pairs, keyed by the SHA-256 of both. Whether a
/// signature verifies depends on nothing but the signed certificate's bytes and the issuer's
/// key, so a remembered success is exactly what verifying again would give: what is not
/// remembered is everything that depends on the time, the trust anchors or revocation,
/// which path validation checks for each validation. Only successes are remembered, and the
/// key of an entry is the exact issuer key and certificate bytes, so no entry can make
/// another certificate's signature pass. Bounded: when full it starts afresh.
pub struct SignatureCache {
    seen: Mutex<HashSet<[u8; 32]>>,
    capacity: usize,
}

impl SignatureCache {
    /// How many signatures [`Default`] remembers: an entry is 32 bytes, and the CA
    /// certificates an organisation's mail arrives with number in the hundreds.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// A cache remembering at most `capacity` signatures.
    pub fn new(capacity: usize) -> Self {
        SignatureCache {
            seen: Mutex::new(HashSet::new()),
            capacity,
        }
    }

    fn key(cert: &ParsedCertificate, issuer_spki: &[u8]) -> [u8; 32] {
        let mut h = Hasher::new(DigestAlgorithm::Sha256);
        h.update(&(issuer_spki.len() as u64).to_be_bytes());
        h.update(issuer_spki);
        h.update(cert.der());
        let mut key = [0u8; 32];
        key.copy_from_slice(&h.finish());
        key
    }

    /// Whether `cert` is signed by the key `issuer_spki`, from the cache or by verifying.
    pub fn verify(&self, cert: &ParsedCertificate, issuer_spki: &[u8]) -> bool {
        let key = Self::key(cert, issuer_spki);
        if let Ok(seen) = self.seen.lock()
            && seen.contains(&key)
        {
            return true;
        }
        let ok = cert.verify_signature(issuer_spki).is_ok();
        if ok && let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= self.capacity {
                seen.clear();
            }
            seen.insert(key);
        }
        ok
    }
}

impl Default for SignatureCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for SignatureCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ephemeral::EphemeralPki;
    use cachet_crypto::KeyType;

    #[test]
    fn the_intern_gives_back_the_same_parse_and_stays_bounded() {
        let f = EphemeralPki::new(KeyType::EcdsaP256, 1_700_000_000).unwrap();
        let intern = CertificateIntern::new(1);
        let a = intern.certificate(f.root.der()).unwrap();
        let b = intern.certificate(f.root.der()).unwrap();
        assert!(
            std::ptr::eq(a.der(), b.der()),
            "the second lookup parsed again"
        );
        assert_eq!(a.der(), f.root.der());
        // A second certificate replaces the first (capacity 1) and is what it parses to.
        let c = intern.certificate(f.issuing.der()).unwrap();
        assert_eq!(c.der(), f.issuing.der());
        assert_eq!(intern.parsed.lock().unwrap().len(), 1);
        let d = intern.certificate(f.root.der()).unwrap();
        assert!(!std::ptr::eq(a.der(), d.der()));
        // Bytes that are not a certificate are refused, not remembered.
        assert!(intern.certificate(b"not a certificate").is_err());
        assert_eq!(intern.parsed.lock().unwrap().len(), 1);
    }
}
