//! RSA key transport for CMS `KeyTransRecipientInfo` (RFC 5652 §6.2.1): RSAES-PKCS1-v1_5
//! (RFC 8017 §7.2, RFC 3370 §4.2.1) and RSAES-OAEP (RFC 8017 §7.1, RFC 3560 §3).
//!
//! PKCS#1 v1.5 decryption never tells its caller whether the padding was valid: following
//! RFC 3218 §2.3.2 and the "implicit rejection" of draft-irtf-cfrg-rsa-guidance, a
//! ciphertext that does not decrypt to a well-formed message of the expected length yields
//! a pseudo-random content-encryption key derived from the private key and the ciphertext.
//! The content decryption that follows then fails exactly as it does for a wrong key.

use crate::Error;
use crate::keys::PrivateKey;
use aws_lc_rs::hkdf;
use aws_lc_rs::rsa::{
    self, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384,
    OAEP_SHA512_MGF1SHA512, OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey,
};
use const_oid::db::rfc5912;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

/// The hash of RSAES-OAEP, used both as the label hash and as the MGF1 hash (RFC 3560 §3;
/// the parameters Cachet reads and writes always pair them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OaepHash {
    /// SHA-1 with MGF1-SHA-1: the RFC 3560 default parameters, read only.
    Sha1,
    /// SHA-256 with MGF1-SHA-256: what Cachet writes (RFC 8551 §2.3 with RFC 4055 §4).
    Sha256,
    /// SHA-384 with MGF1-SHA-384.
    Sha384,
    /// SHA-512 with MGF1-SHA-512.
    Sha512,
}

impl OaepHash {
    fn alg(self) -> &'static OaepAlgorithm {
        match self {
            Self::Sha1 => &OAEP_SHA1_MGF1SHA1,
            Self::Sha256 => &OAEP_SHA256_MGF1SHA256,
            Self::Sha384 => &OAEP_SHA384_MGF1SHA384,
            Self::Sha512 => &OAEP_SHA512_MGF1SHA512,
        }
    }

    /// Output length of the hash in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// Reads an `rsaEncryption` SubjectPublicKeyInfo (RFC 3279 §2.3.1) for encryption.
fn public_key(recipient_spki_der: &[u8]) -> Result<PublicEncryptingKey, Error> {
    let info = spki::SubjectPublicKeyInfoRef::try_from(recipient_spki_der)
        .map_err(|_| Error::InvalidPublicKey("not a DER SubjectPublicKeyInfo"))?;
    if info.algorithm.oid != rfc5912::RSA_ENCRYPTION {
        return Err(Error::InvalidPublicKey("not an rsaEncryption key"));
    }
    PublicEncryptingKey::from_der(recipient_spki_der).map_err(|_| {
        Error::InvalidPublicKey("RSA key must have a 2048- to 8192-bit modulus for encryption")
    })
}

/// Encrypts a content-encryption key to an RSA public key with RSAES-PKCS1-v1_5
/// (RFC 8017 §7.2.1), for `rsaEncryption` in `KeyTransRecipientInfo` (RFC 3370 §4.2.1).
pub fn rsa_pkcs1v15_encrypt(recipient_spki_der: &[u8], cek: &[u8]) -> Result<Vec<u8>, Error> {
    let key = Pkcs1PublicEncryptingKey::new(public_key(recipient_spki_der)?)
        .map_err(|_| Error::InvalidPublicKey("RSA key"))?;
    if cek.is_empty() || cek.len() > key.max_plaintext_size() {
        return Err(Error::Encryption(
            "content key too long for the RSA modulus",
        ));
    }
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(cek, &mut out)
        .map_err(|_| Error::Encryption("RSA PKCS#1 v1.5"))?
        .len();
    out.truncate(n);
    Ok(out)
}

/// Encrypts a content-encryption key to an RSA public key with RSAES-OAEP (RFC 8017
/// §7.1.1) and an empty label (`pSpecifiedEmpty`, RFC 3560 §3), MGF1 over the same hash.
pub fn rsa_oaep_encrypt(
    recipient_spki_der: &[u8],
    cek: &[u8],
    hash: OaepHash,
) -> Result<Vec<u8>, Error> {
    let key = OaepPublicEncryptingKey::new(public_key(recipient_spki_der)?)
        .map_err(|_| Error::InvalidPublicKey("RSA key"))?;
    if cek.is_empty() || cek.len() > key.max_plaintext_size(hash.alg()) {
        return Err(Error::Encryption(
            "content key too long for the RSA modulus",
        ));
    }
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(hash.alg(), cek, &mut out, None)
        .map_err(|_| Error::Encryption("RSA-OAEP"))?
        .len();
    out.truncate(n);
    Ok(out)
}

/// The RFC 5869 output length for the implicit-rejection key.
struct OutLen(usize);

impl hkdf::KeyType for OutLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// Domain separation for the implicit-rejection key derivation.
const IMPLICIT_REJECTION_INFO: &[u8] = b"cachet rsa-pkcs1v15 implicit rejection v1";

impl PrivateKey {
    fn rsa_key_for(&self, operation: &'static str) -> Result<&rsa::PrivateDecryptingKey, Error> {
        if !self.key_type().is_rsa() {
            return Err(Error::WrongKeyForOperation {
                key: self.key_type().name(),
                operation,
            });
        }
        self.rsa_decrypting_key()
            .ok_or(Error::InvalidPrivateKey("RSA key cannot decrypt"))
    }

    /// Decrypts an RSAES-PKCS1-v1_5 `encryptedKey` (RFC 8017 §7.2.2) with implicit rejection
    /// (RFC 3218 §2.3.2): returns the message if the ciphertext decrypts to a well-formed
    /// message of exactly `expected_len` bytes, and otherwise a pseudo-random key of
    /// `expected_len` bytes, `HKDF-SHA-256(salt = PKCS#8 of this key, IKM = ciphertext,
    /// info = label ‖ expected_len)`. The same ciphertext always gives the same output.
    ///
    /// The pseudo-random key is computed on every call and chosen with a constant-time
    /// select, so nothing here branches on the padding's validity. (The one bit "padding
    /// valid" leaves aws-lc as its return code; aws-lc checks the padding itself in
    /// constant time.)
    ///
    /// Errors depend only on the key and `expected_len`, never on the ciphertext: the key
    /// must be RSA and `expected_len` between 1 and `k − 11` (RFC 8017 §7.2.1), `k` being the
    /// modulus length in bytes.
    pub fn rsa_pkcs1v15_decrypt_implicit(
        &self,
        ciphertext: &[u8],
        expected_len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let key = self.rsa_key_for("decrypt with RSA PKCS#1 v1.5")?;
        let k = key.key_size_bytes();
        if expected_len == 0 || expected_len > k - 11 {
            return Err(Error::InvalidParameter(
                "expected content-key length out of range for the RSA modulus",
            ));
        }

        // The substitute key: always computed, whatever the ciphertext.
        let mut synthetic = Zeroizing::new(vec![0u8; expected_len]);
        let len_bytes = (expected_len as u64).to_be_bytes();
        let info = [IMPLICIT_REJECTION_INFO, &len_bytes[..]];
        hkdf::Salt::new(hkdf::HKDF_SHA256, self.pkcs8_der())
            .extract(ciphertext)
            .expand(&info, OutLen(expected_len))
            .and_then(|okm| okm.fill(&mut synthetic))
            .map_err(|_| Error::InvalidParameter("implicit rejection key length"))?;

        let dec = Pkcs1PrivateDecryptingKey::new(key.clone())
            .map_err(|_| Error::InvalidPrivateKey("RSA key cannot decrypt"))?;
        let mut buf = Zeroizing::new(vec![0u8; dec.min_output_size()]);
        let (ok, len) = match dec.decrypt(ciphertext, &mut buf) {
            Ok(m) => (1u8, m.len() as u64),
            Err(_) => (0u8, 0u64),
        };
        let good = subtle::Choice::from(ok) & len.ct_eq(&(expected_len as u64));

        let mut out = Zeroizing::new(vec![0u8; expected_len]);
        for ((o, s), m) in out.iter_mut().zip(synthetic.iter()).zip(buf.iter()) {
            *o = u8::conditional_select(s, m, good);
        }
        Ok(out)
    }

    /// Decrypts an RSAES-OAEP `encryptedKey` (RFC 8017 §7.1.2) with an empty label
    /// (`pSpecifiedEmpty`, RFC 3560 §3) and MGF1 over `hash`. Every failure is the same
    /// [`Error::Decryption`].
    pub fn rsa_oaep_decrypt(
        &self,
        ciphertext: &[u8],
        hash: OaepHash,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.rsa_oaep_decrypt_with_label(ciphertext, hash, &[])
    }

    /// As [`rsa_oaep_decrypt`](Self::rsa_oaep_decrypt), with the label a `pSpecified`
    /// `pSourceFunc` carries (RFC 3560 §3; Cachet never writes one but reads it).
    pub fn rsa_oaep_decrypt_with_label(
        &self,
        ciphertext: &[u8],
        hash: OaepHash,
        label: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let key = self.rsa_key_for("decrypt with RSA-OAEP")?;
        let dec = OaepPrivateDecryptingKey::new(key.clone())
            .map_err(|_| Error::InvalidPrivateKey("RSA key cannot decrypt"))?;
        let mut buf = Zeroizing::new(vec![0u8; dec.min_output_size()]);
        let label = if label.is_empty() { None } else { Some(label) };
        let n = dec
            .decrypt(hash.alg(), ciphertext, &mut buf, label)
            .map_err(|_| Error::Decryption)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyType;
    use std::sync::OnceLock;

    fn key() -> &'static PrivateKey {
        static K: OnceLock<PrivateKey> = OnceLock::new();
        K.get_or_init(|| PrivateKey::generate(KeyType::Rsa2048).unwrap())
    }

    #[test]
    fn pkcs1v15_round_trip() {
        let k = key();
        for len in [16, 24, 32] {
            let cek = vec![0x5a; len];
            let ct = rsa_pkcs1v15_encrypt(k.public_key_der(), &cek).unwrap();
            assert_eq!(ct.len(), 256);
            let pt = k.rsa_pkcs1v15_decrypt_implicit(&ct, len).unwrap();
            assert_eq!(&pt[..], &cek[..]);
        }
    }

    #[test]
    fn pkcs1v15_failures_give_a_stable_pseudo_random_key() {
        let k = key();
        let cek = [7u8; 32];
        let ct = rsa_pkcs1v15_encrypt(k.public_key_der(), &cek).unwrap();
        // Right padding, wrong length: substitute key, not the message.
        let a = k.rsa_pkcs1v15_decrypt_implicit(&ct, 16).unwrap();
        assert_eq!(a.len(), 16);
        assert_ne!(&a[..], &cek[..16]);
        assert_eq!(a, k.rsa_pkcs1v15_decrypt_implicit(&ct, 16).unwrap());
        // Altered ciphertext, truncated ciphertext, garbage: all substitute keys.
        let mut bad = ct.clone();
        bad[100] ^= 1;
        let b = k.rsa_pkcs1v15_decrypt_implicit(&bad, 32).unwrap();
        assert_eq!(b.len(), 32);
        assert_ne!(&b[..], &cek[..]);
        assert_eq!(b, k.rsa_pkcs1v15_decrypt_implicit(&bad, 32).unwrap());
        let c = k.rsa_pkcs1v15_decrypt_implicit(&ct[1..], 32).unwrap();
        assert_ne!(b, c);
        let d = k.rsa_pkcs1v15_decrypt_implicit(&[], 32).unwrap();
        assert_eq!(d.len(), 32);
        // Another key gives other substitutes for the same ciphertext.
        let other = PrivateKey::generate(KeyType::Rsa2048).unwrap();
        assert_ne!(b, other.rsa_pkcs1v15_decrypt_implicit(&bad, 32).unwrap());
        // Errors only for the key and the length asked for.
        assert!(k.rsa_pkcs1v15_decrypt_implicit(&ct, 0).is_err());
        assert!(k.rsa_pkcs1v15_decrypt_implicit(&ct, 246).is_err());
        assert!(k.rsa_pkcs1v15_decrypt_implicit(&ct, 245).is_ok());
        let ec = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        assert!(matches!(
            ec.rsa_pkcs1v15_decrypt_implicit(&ct, 32),
            Err(Error::WrongKeyForOperation { .. })
        ));
    }

    #[test]
    fn oaep_round_trip_every_hash_and_uniform_failure() {
        let k = key();
        for hash in [
            OaepHash::Sha1,
            OaepHash::Sha256,
            OaepHash::Sha384,
            OaepHash::Sha512,
        ] {
            let cek = [0xc3u8; 32];
            let ct = rsa_oaep_encrypt(k.public_key_der(), &cek, hash).unwrap();
            assert_eq!(&k.rsa_oaep_decrypt(&ct, hash).unwrap()[..], &cek[..]);
            let mut bad = ct.clone();
            bad[3] ^= 0x80;
            assert_eq!(
                k.rsa_oaep_decrypt(&bad, hash).unwrap_err(),
                Error::Decryption
            );
            assert_eq!(
                k.rsa_oaep_decrypt_with_label(&ct, hash, b"label")
                    .unwrap_err(),
                Error::Decryption
            );
            assert_eq!(
                k.rsa_oaep_decrypt(&ct[..255], hash).unwrap_err(),
                Error::Decryption
            );
        }
        let ct = rsa_oaep_encrypt(k.public_key_der(), &[1u8; 16], OaepHash::Sha256).unwrap();
        assert_eq!(
            k.rsa_oaep_decrypt(&ct, OaepHash::Sha1).unwrap_err(),
            Error::Decryption
        );
        // Too long for the modulus: 256 - 2*64 - 2 = 126 bytes at most with SHA-512.
        assert!(rsa_oaep_encrypt(k.public_key_der(), &[1u8; 126], OaepHash::Sha512).is_ok());
        assert!(rsa_oaep_encrypt(k.public_key_der(), &[1u8; 127], OaepHash::Sha512).is_err());
    }

    #[test]
    fn encryption_needs_an_rsa_spki() {
        let ec = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        assert!(rsa_pkcs1v15_encrypt(ec.public_key_der(), &[0u8; 16]).is_err());
        assert!(rsa_oaep_encrypt(b"junk", &[0u8; 16], OaepHash::Sha256).is_err());
    }
}
