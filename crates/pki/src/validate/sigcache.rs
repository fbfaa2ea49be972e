//! A cache of certificate signatures already verified, for a gateway or a server that
//! validates many messages from the same CAs: each CA signature is checked once.

use crate::ParsedCertificate;
use cachet_crypto::digest::{DigestAlgorithm, Hasher};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Verified (issuer key, certificate) pairs, keyed by the SHA-256 of both. Bounded: when
/// full it starts afresh. Only successes are remembered, so a poisoned entry cannot make a
/// bad signature pass: the key of an entry is the exact issuer key and certificate bytes.
pub struct SignatureCache {
    seen: Mutex<HashSet<[u8; 32]>>,
    /// Certificates already parsed, by the SHA-256 of their DER: what validation derives
    /// from a certificate (prepared names, structure checks) is kept with it, so the CA
    /// certificates every message carries are parsed and checked once.
    parsed: Mutex<HashMap<[u8; 32], ParsedCertificate>>,
    capacity: usize,
}

impl SignatureCache {
    /// A cache remembering at most `capacity` signatures.
    pub fn new(capacity: usize) -> Self {
        SignatureCache {
            seen: Mutex::new(HashSet::new()),
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

impl std::fmt::Debug for SignatureCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}
