//! Key derivation for CMS key agreement: the ANSI X9.63 KDF (SEC 1 v2 §3.6.1) as RFC 5753
//! §7.2 uses it for `dhSinglePass-stdDH-sha*kdf-scheme`, and HKDF (RFC 5869) as RFC 8418
//! §2 uses it for X25519 with `dhSinglePass-stdDH-hkdf-sha*-scheme`.
//!
//! Both take the raw ECDH shared secret `Z` and the DER `ECC-CMS-SharedInfo` that the caller
//! builds (RFC 5753 §7.2, RFC 8418 §2); they return the key-encryption key, zeroized on drop.

use crate::Error;
use aws_lc_rs::{digest, hkdf};
use zeroize::Zeroizing;

/// The hash function of a KDF, as the key-agreement algorithm OID names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KdfHash {
    /// SHA-1 (`dhSinglePass-stdDH-sha1kdf-scheme`, RFC 5753 §7.1.4): read only.
    Sha1,
    /// SHA-224 (`dhSinglePass-stdDH-sha224kdf-scheme`).
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl KdfHash {
    fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha224 => &digest::SHA224,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    /// Output length of the hash in bytes.
    pub fn output_len(self) -> usize {
        self.digest_alg().output_len()
    }

    /// Whether this hash is weak (SHA-1): accepted on old mail with a warning only.
    pub fn is_weak(self) -> bool {
        self == Self::Sha1
    }
}

/// The ANSI X9.63 key derivation function (SEC 1 v2 §3.6.1), as RFC 5753 §7.2 uses it:
/// `K = Hash(Z ‖ Counter ‖ SharedInfo)` for a 32-bit big-endian counter from 1, concatenated
/// and truncated to `out_len` bytes. `shared_info` is the DER `ECC-CMS-SharedInfo`.
///
/// Fails if `out_len` is 0 or not below `hashlen × (2³² − 1)` (SEC 1 §3.6.1 step 1).
pub fn x963_kdf(
    hash: KdfHash,
    shared_secret: &[u8],
    shared_info: &[u8],
    out_len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let h = hash.output_len();
    if out_len == 0 || (out_len as u64) >= (h as u64) * u64::from(u32::MAX) {
        return Err(Error::InvalidParameter("X9.63 KDF output length"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(out_len + h));
    let mut counter: u32 = 1;
    while out.len() < out_len {
        let mut ctx = digest::Context::new(hash.digest_alg());
        ctx.update(shared_secret);
        ctx.update(&counter.to_be_bytes());
        ctx.update(shared_info);
        out.extend_from_slice(ctx.finish().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(out_len);
    Ok(out)
}

/// The hash of HKDF as RFC 8418 §2 names it (`dhSinglePass-stdDH-hkdf-sha256/384/512-scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HkdfHash {
    /// HKDF-SHA-256.
    Sha256,
    /// HKDF-SHA-384.
    Sha384,
    /// HKDF-SHA-512.
    Sha512,
}

impl HkdfHash {
    fn alg(self) -> hkdf::Algorithm {
        match self {
            Self::Sha256 => hkdf::HKDF_SHA256,
            Self::Sha384 => hkdf::HKDF_SHA384,
            Self::Sha512 => hkdf::HKDF_SHA512,
        }
    }

    /// Output length of the hash in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// An HKDF output length (the `L` of RFC 5869 §2.3).
struct OutLen(usize);

impl hkdf::KeyType for OutLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF (RFC 5869 §2.2 extract, §2.3 expand) as RFC 8418 §2 uses it: `salt` is the `ukm`
/// when present and empty otherwise (an empty salt is the RFC 5869 default of `HashLen`
/// zero bytes, since HMAC pads its key with zeros), `info` is the DER `ECC-CMS-SharedInfo`.
///
/// Fails if `out_len` is 0 or above `255 × HashLen` (RFC 5869 §2.3).
pub fn hkdf(
    hash: HkdfHash,
    shared_secret: &[u8],
    salt: &[u8],
    info: &[u8],
    out_len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if out_len == 0 || out_len > 255 * hash.output_len() {
        return Err(Error::InvalidParameter("HKDF output length"));
    }
    let prk = hkdf::Salt::new(hash.alg(), salt).extract(shared_secret);
    let info = [info];
    let okm = prk
        .expand(&info, OutLen(out_len))
        .map_err(|_| Error::InvalidParameter("HKDF output length"))?;
    let mut out = Zeroizing::new(vec![0u8; out_len]);
    okm.fill(&mut out)
        .map_err(|_| Error::InvalidParameter("HKDF output length"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn x963_known_answers() {
        // Vectors from NIST CAVS SP 800-135 (ansx963_2001.rsp), as computed by pyca/cryptography's
        // X963KDF and by this function.
        let k = x963_kdf(
            KdfHash::Sha256,
            &h("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08"),
            &[],
            16,
        )
        .unwrap();
        assert_eq!(hex::encode(&*k), "443024c3dae66b95e6f5670601558f71");
        let k = x963_kdf(
            KdfHash::Sha256,
            &h("22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d"),
            &h("75eef81aa3041e33b80971203d2c0c52"),
            128,
        )
        .unwrap();
        assert_eq!(
            hex::encode(&*k),
            "c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e\
             52a13d9c7c6fc878c50c5ea0bc7b00e0da2447cfd874f6cf92f30d0097111485\
             500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0ce0ababc11f0bd496269\
             142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21"
        );
    }

    #[test]
    fn x963_every_hash_matches_a_reference_construction() {
        for hash in [
            KdfHash::Sha1,
            KdfHash::Sha224,
            KdfHash::Sha256,
            KdfHash::Sha384,
            KdfHash::Sha512,
        ] {
            let z = [7u8; 48];
            let info = b"shared-info";
            let k = x963_kdf(hash, &z, info, 100).unwrap();
            let mut reference = Vec::new();
            for counter in 1u32..=100u32.div_ceil(hash.output_len() as u32) {
                let mut m = z.to_vec();
                m.extend_from_slice(&counter.to_be_bytes());
                m.extend_from_slice(info);
                reference.extend_from_slice(digest::digest(hash.digest_alg(), &m).as_ref());
            }
            assert_eq!(&k[..], &reference[..100]);
        }
        assert!(x963_kdf(KdfHash::Sha256, b"z", b"", 0).is_err());
    }

    #[test]
    fn hkdf_rfc5869_case_1_and_bounds() {
        // RFC 5869 Appendix A.1.
        let okm = hkdf(
            HkdfHash::Sha256,
            &h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
            &h("000102030405060708090a0b0c"),
            &h("f0f1f2f3f4f5f6f7f8f9"),
            42,
        )
        .unwrap();
        assert_eq!(
            hex::encode(&*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        // RFC 5869 Appendix A.3: no salt, no info.
        let okm = hkdf(
            HkdfHash::Sha256,
            &h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
            &[],
            &[],
            42,
        )
        .unwrap();
        assert_eq!(
            hex::encode(&*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
        assert!(hkdf(HkdfHash::Sha256, b"z", b"", b"", 255 * 32 + 1).is_err());
        assert!(hkdf(HkdfHash::Sha512, b"z", b"", b"", 0).is_err());
        assert_eq!(
            hkdf(HkdfHash::Sha512, b"z", b"", b"", 255 * 64)
                .unwrap()
                .len(),
            255 * 64
        );
    }
}
