//! Primitives of password-based encryption as PKCS#5 v2.1 (RFC 8018) and PKCS#12
//! (RFC 7292) use them: PBKDF2-HMAC, AES-CBC with PKCS#7 padding, and HMAC.

use crate::Error;
use aws_lc_rs::cipher::{
    AES_128, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::{hmac, pbkdf2};
use std::num::NonZeroU32;
use zeroize::Zeroizing;

/// The PRF of PBKDF2, and the hash of an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlgorithm {
    /// HMAC-SHA-1 (legacy PKCS#12 MACs and PBKDF2 default PRF).
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-384.
    Sha384,
    /// HMAC-SHA-512.
    Sha512,
}

impl HmacAlgorithm {
    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha384 => pbkdf2::PBKDF2_HMAC_SHA384,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha384 => hmac::HMAC_SHA384,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// PBKDF2 (RFC 8018 §5.2) into `out`.
pub fn pbkdf2(
    prf: HmacAlgorithm,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    out: &mut [u8],
) -> Result<(), Error> {
    let it = NonZeroU32::new(iterations).ok_or(Error::InvalidParameter("PBKDF2 iterations"))?;
    if out.is_empty() {
        return Err(Error::InvalidParameter("PBKDF2 output length"));
    }
    pbkdf2::derive(prf.pbkdf2(), it, salt, password, out);
    Ok(())
}

/// HMAC of `data` under `key`.
pub fn hmac(alg: HmacAlgorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(alg.hmac(), key), data)
        .as_ref()
        .to_vec()
}

/// Constant-time HMAC verification.
pub fn hmac_verify(alg: HmacAlgorithm, key: &[u8], data: &[u8], tag: &[u8]) -> Result<(), Error> {
    hmac::verify(&hmac::Key::new(alg.hmac(), key), data, tag).map_err(|_| Error::Decryption)
}

fn cipher_key(key: &[u8]) -> Result<UnboundCipherKey, Error> {
    let alg = match key.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => return Err(Error::InvalidParameter("AES key must be 16 or 32 bytes")),
    };
    UnboundCipherKey::new(alg, key).map_err(|_| Error::InvalidParameter("AES key"))
}

/// AES-CBC encryption with PKCS#7 padding under a caller-chosen IV.
pub fn aes_cbc_encrypt(key: &[u8], iv: &[u8; 16], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let k = PaddedBlockEncryptingKey::cbc_pkcs7(cipher_key(key)?)
        .map_err(|_| Error::InvalidParameter("AES-CBC key"))?;
    // Room for the padding up front: no reallocation may leave a plaintext copy behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + 16));
    buf.extend_from_slice(plaintext);
    k.less_safe_encrypt(&mut *buf, EncryptionContext::Iv128((*iv).into()))
        .map_err(|_| Error::InvalidParameter("AES-CBC encrypt"))?;
    Ok(std::mem::take(&mut *buf))
}

/// AES-CBC decryption, removing PKCS#7 padding. Wrong key and altered data both give
/// [`Error::Decryption`].
pub fn aes_cbc_decrypt(
    key: &[u8],
    iv: &[u8; 16],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(Error::Decryption);
    }
    let k = PaddedBlockDecryptingKey::cbc_pkcs7(cipher_key(key)?)
        .map_err(|_| Error::InvalidParameter("AES-CBC key"))?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let n = k
        .decrypt(&mut buf, DecryptionContext::Iv128((*iv).into()))
        .map_err(|_| Error::Decryption)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_rfc6070_vector() {
        // RFC 6070 test vector 2 (HMAC-SHA1, 2 iterations).
        let mut out = [0u8; 20];
        pbkdf2(HmacAlgorithm::Sha1, b"password", b"salt", 2, &mut out).unwrap();
        assert_eq!(hex::encode(out), "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    }

    #[test]
    fn aes_cbc_round_trip() {
        let key = [1u8; 32];
        let iv = [2u8; 16];
        let ct = aes_cbc_encrypt(&key, &iv, b"attack at dawn").unwrap();
        assert_eq!(ct.len(), 16);
        assert_eq!(
            &aes_cbc_decrypt(&key, &iv, &ct).unwrap()[..],
            b"attack at dawn"
        );
        assert!(aes_cbc_decrypt(&key, &iv, &ct[..15]).is_err());
    }

    #[test]
    fn hmac_verifies() {
        let t = hmac(HmacAlgorithm::Sha256, b"k", b"data");
        hmac_verify(HmacAlgorithm::Sha256, b"k", b"data", &t).unwrap();
        assert!(hmac_verify(HmacAlgorithm::Sha256, b"k", b"dat4", &t).is_err());
    }
}
