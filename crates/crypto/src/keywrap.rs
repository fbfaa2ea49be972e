//! The AES key wrap algorithm of RFC 3394 (NIST SP 800-38F "KW"), as CMS uses it to wrap a
//! content-encryption key under a key-encryption key derived by ECDH (RFC 5753 §7.1.5,
//! RFC 8418 §2, with `id-aes128-wrap`, `id-aes192-wrap`, `id-aes256-wrap` of RFC 3565 §2.3.2)
//! or shared in advance (KEKRecipientInfo, RFC 5652 §6.2.3).
//!
//! AES-128 and AES-256 KEKs go to aws-lc-rs's `key_wrap` (which checks the integrity value
//! with a constant-time compare). aws-lc-rs has no AES-192 key wrap, so a 192-bit KEK runs
//! the RFC 3394 §2.2.1 index-based algorithm here over aws-lc-rs's AES-192 block cipher,
//! with the same constant-time integrity check.

use crate::Error;
use aws_lc_rs::cipher::{
    AES_192, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::key_wrap::{self, AesKek, KeyWrap};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The default initial value of RFC 3394 §2.2.3.1.
const IV: [u8; 8] = [0xA6; 8];

/// Wraps `key` (a multiple of 8 bytes, at least 16) under `kek` (16, 24 or 32 bytes)
/// per RFC 3394 §2.2.1. The result is 8 bytes longer than `key`.
pub fn aes_key_wrap(kek: &[u8], key: &[u8]) -> Result<Vec<u8>, Error> {
    if key.len() < 16 || !key.len().is_multiple_of(8) {
        return Err(Error::InvalidParameter(
            "key to wrap must be a multiple of 8 bytes, at least 16",
        ));
    }
    let mut out = vec![0u8; key.len() + 8];
    match kek.len() {
        16 | 32 => {
            let n = aws_kek(kek)?
                .wrap(key, &mut out)
                .map_err(|_| Error::Encryption("AES key wrap"))?
                .len();
            out.truncate(n);
        }
        24 => wrap_192(kek, key, &mut out)?,
        _ => return Err(kek_len_error()),
    }
    Ok(out)
}

/// Unwraps `wrapped` under `kek` per RFC 3394 §2.2.2 and checks the integrity value
/// (§2.2.3). A wrong KEK and altered data both give [`Error::Decryption`]; malformed
/// lengths give [`Error::Decryption`] too, since they come from the message.
pub fn aes_key_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    if !matches!(kek.len(), 16 | 24 | 32) {
        return Err(kek_len_error());
    }
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return Err(Error::Decryption);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    if kek.len() == 24 {
        unwrap_192(kek, wrapped, &mut out)?;
    } else {
        let n = aws_kek(kek)?
            .unwrap(wrapped, &mut out)
            .map_err(|_| Error::Decryption)?
            .len();
        out.truncate(n);
    }
    Ok(out)
}

fn kek_len_error() -> Error {
    Error::InvalidParameter("AES key-encryption key must be 16, 24 or 32 bytes")
}

fn aws_kek(kek: &[u8]) -> Result<AesKek, Error> {
    let cipher = if kek.len() == 16 {
        &key_wrap::AES_128
    } else {
        &key_wrap::AES_256
    };
    AesKek::new(cipher, kek).map_err(|_| kek_len_error())
}

fn aes192(kek: &[u8]) -> Result<UnboundCipherKey, Error> {
    UnboundCipherKey::new(&AES_192, kek).map_err(|_| kek_len_error())
}

/// RFC 3394 §2.2.1, index-based form, with AES-192. `out` is `key.len() + 8` bytes.
fn wrap_192(kek: &[u8], key: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let aes = EncryptingKey::ecb(aes192(kek)?).map_err(|_| kek_len_error())?;
    let n = key.len() / 8;
    let mut a = IV;
    out[8..].copy_from_slice(key);
    let mut b = Zeroizing::new([0u8; 16]);
    for j in 0..6u64 {
        for i in 1..=n {
            b[..8].copy_from_slice(&a);
            b[8..].copy_from_slice(&out[8 * i..8 * i + 8]);
            aes.less_safe_encrypt(&mut b[..], EncryptionContext::None)
                .map_err(|_| Error::Encryption("AES key wrap"))?;
            let t = (n as u64) * j + i as u64;
            a.copy_from_slice(&b[..8]);
            for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                *x ^= y;
            }
            out[8 * i..8 * i + 8].copy_from_slice(&b[8..]);
        }
    }
    out[..8].copy_from_slice(&a);
    Ok(())
}

/// RFC 3394 §2.2.2, index-based form, with AES-192, and the §2.2.3 check in constant time.
fn unwrap_192(kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let aes = DecryptingKey::ecb(aes192(kek)?).map_err(|_| kek_len_error())?;
    let n = wrapped.len() / 8 - 1;
    let mut a = [0u8; 8];
    a.copy_from_slice(&wrapped[..8]);
    out.copy_from_slice(&wrapped[8..]);
    let mut b = Zeroizing::new([0u8; 16]);
    for j in (0..6u64).rev() {
        for i in (1..=n).rev() {
            let t = (n as u64) * j + i as u64;
            for (k, y) in t.to_be_bytes().iter().enumerate() {
                b[k] = a[k] ^ y;
            }
            b[8..].copy_from_slice(&out[8 * (i - 1)..8 * i]);
            aes.decrypt(&mut b[..], DecryptionContext::None)
                .map_err(|_| Error::Decryption)?;
            a.copy_from_slice(&b[..8]);
            out[8 * (i - 1)..8 * i].copy_from_slice(&b[8..]);
        }
    }
    if bool::from(a.ct_eq(&IV)) {
        Ok(())
    } else {
        out.zeroize();
        Err(Error::Decryption)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn rfc3394_section_4_vectors() {
        let kek = h("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
        let data = h("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        // (KEK length, data length, expected) from RFC 3394 §4.1–4.6.
        let cases: [(usize, usize, &str); 6] = [
            (16, 16, "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"),
            (24, 16, "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"),
            (32, 16, "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"),
            (
                24,
                24,
                "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2",
            ),
            (
                32,
                24,
                "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1",
            ),
            (
                32,
                32,
                "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
            ),
        ];
        for (kl, dl, expected) in cases {
            let wrapped = aes_key_wrap(&kek[..kl], &data[..dl]).unwrap();
            assert_eq!(wrapped, h(expected), "KEK {kl} data {dl}");
            let back = aes_key_unwrap(&kek[..kl], &wrapped).unwrap();
            assert_eq!(&back[..], &data[..dl]);
        }
    }

    #[test]
    fn unwrap_rejects_tampering_wrong_kek_and_bad_lengths() {
        for kl in [16, 24, 32] {
            let kek = vec![9u8; kl];
            let cek = [3u8; 32];
            let mut w = aes_key_wrap(&kek, &cek).unwrap();
            assert_eq!(
                aes_key_unwrap(&[8u8; 32][..kl], &w).unwrap_err(),
                Error::Decryption
            );
            w[5] ^= 1;
            assert_eq!(aes_key_unwrap(&kek, &w).unwrap_err(), Error::Decryption);
            assert_eq!(
                aes_key_unwrap(&kek, &w[..16]).unwrap_err(),
                Error::Decryption
            );
            assert_eq!(
                aes_key_unwrap(&kek, &w[..31]).unwrap_err(),
                Error::Decryption
            );
        }
        assert!(aes_key_wrap(&[0u8; 20], &[0u8; 16]).is_err());
        assert!(aes_key_wrap(&[0u8; 16], &[0u8; 8]).is_err());
        assert!(aes_key_wrap(&[0u8; 16], &[0u8; 17]).is_err());
        assert!(aes_key_unwrap(&[0u8; 15], &[0u8; 24]).is_err());
    }
}
