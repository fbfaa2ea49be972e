//! Secrets at rest: AES-256-GCM sealing under a 256-bit key-encryption key, and Argon2id
//! (RFC 9106) to derive such a key from a passphrase.
//!
//! A sealed blob is `nonce (12) || ciphertext || tag (16)`. The caller supplies associated
//! data that binds the blob to its purpose (e.g. which CA key it holds), so a blob moved to
//! another row of the store does not open.

use crate::Error;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// Length of a key-encryption key.
pub const KEY_LEN: usize = 32;

/// Encrypts `plaintext` with AES-256-GCM under `key`, with a random 96-bit nonce.
pub fn seal(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let k = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::InvalidParameter("AES key"))?,
    );
    let nonce_bytes = crate::rand::bytes::<NONCE_LEN>()?;
    // Encrypt in place in a buffer with room for nonce and tag, so no reallocation leaves a
    // plaintext copy behind; the buffer holds only ciphertext once sealing succeeds.
    let mut out = Zeroizing::new(Vec::with_capacity(NONCE_LEN + plaintext.len() + 16));
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(plaintext);
    let tag = k
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            &mut out[NONCE_LEN..],
        )
        .map_err(|_| Error::InvalidParameter("AES-GCM seal"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(std::mem::take(&mut *out))
}

/// Decrypts a blob made by [`seal`]; fails if the key, the associated data or any byte differs.
pub fn open(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(Error::Decryption);
    }
    let k = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::InvalidParameter("AES key"))?,
    );
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Decryption)?;
    let mut buf = Zeroizing::new(body.to_vec());
    let plain_len = k
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| Error::Decryption)?
        .len();
    buf.truncate(plain_len);
    Ok(buf)
}

/// Argon2id cost parameters, stored beside what they protect so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// RFC 9106 §4 second recommended option: 64 MiB, 3 passes, 4 lanes.
    fn default() -> Self {
        Argon2Params {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 4,
        }
    }
}

/// Derives a key-encryption key from a passphrase with Argon2id.
pub fn argon2id(
    passphrase: &[u8],
    salt: &[u8],
    params: Argon2Params,
) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    let p = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(KEY_LEN),
    )
    .map_err(|_| Error::InvalidParameter("Argon2id parameters"))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    a.hash_password_into(passphrase, salt, out.as_mut())
        .map_err(|_| Error::InvalidParameter("Argon2id derivation (salt must be 8+ bytes)"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = [7u8; 32];
        let blob = seal(&key, b"ca:issuing", b"secret key bytes").unwrap();
        assert_eq!(
            &open(&key, b"ca:issuing", &blob).unwrap()[..],
            b"secret key bytes"
        );
        assert_eq!(
            open(&key, b"ca:root", &blob).unwrap_err(),
            Error::Decryption
        );
        let mut t = blob.clone();
        t[15] ^= 1;
        assert_eq!(
            open(&key, b"ca:issuing", &t).unwrap_err(),
            Error::Decryption
        );
        assert_eq!(
            open(&[8u8; 32], b"ca:issuing", &blob).unwrap_err(),
            Error::Decryption
        );
        assert_eq!(open(&key, b"", &blob[..10]).unwrap_err(), Error::Decryption);
    }

    #[test]
    fn argon2id_matches_rfc9106_shape_and_depends_on_inputs() {
        let p = Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let a = argon2id(b"pass", b"saltsalt", p).unwrap();
        let b = argon2id(b"pass", b"saltsalt", p).unwrap();
        let c = argon2id(b"pasS", b"saltsalt", p).unwrap();
        assert_eq!(*a, *b);
        assert_ne!(*a, *c);
    }
}
