//! DSA signature verification (FIPS 186-4 §4.7; RFC 3279 §2.2.2 and §2.3.2 for the X.509
//! encodings), for reading old mail and the NIST PKITS DSA tests. Verification only: Cachet
//! never creates DSA keys or signatures, and everything here works on public values, so a
//! variable-time big-number library is fine.
//!
//! A DSA key may omit its domain parameters and inherit them from the issuing CA's key
//! (RFC 5280 §6.1.4 (f), RFC 3279 §2.3.2): [`spki_with_parameters`] makes a complete key
//! for verification from the two.

use crate::Error;
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, BitStringRef, UintRef};
use der::{Decode, Encode, Sequence};
use num_bigint::BigUint;

/// id-dsa (RFC 3279 §2.3.2).
pub const ID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
/// id-dsa-with-sha1 (RFC 3279 §2.2.2).
pub const ID_DSA_WITH_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.3");
/// id-dsa-with-sha256 (RFC 5758 §3.1).
pub const ID_DSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.2");

/// The largest modulus read: FIPS 186-4 stops at 3072 bits; a bound keeps a hostile key
/// from costing seconds of exponentiation.
const MAX_P_BITS: u64 = 4096;

/// Dss-Parms (RFC 3279 §2.3.2).
#[derive(Sequence)]
struct DssParms<'a> {
    p: UintRef<'a>,
    q: UintRef<'a>,
    g: UintRef<'a>,
}

/// Dss-Sig-Value (RFC 3279 §2.2.2).
#[derive(Sequence)]
struct DssSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// The DER of `id-dsa` (tag, length, value).
const ID_DSA_DER: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];

/// Whether the algorithm of the DER SubjectPublicKeyInfo `spki_der` is `id-dsa`, read from
/// where its OID must be (RFC 5280 §4.1: SEQUENCE { SEQUENCE { OID, … }, BIT STRING })
/// without decoding the structure: every key a verifier meets that is not DSA is dismissed
/// here (a decode per certificate and per path cost more than the rest of the DSA handling).
/// A malformed key is left for the full decode to refuse.
fn names_dsa(spki_der: &[u8]) -> bool {
    /// Where the contents of the SEQUENCE at `at` start.
    fn contents(b: &[u8], at: usize) -> Option<usize> {
        if *b.get(at)? != 0x30 {
            return None;
        }
        match *b.get(at + 1)? {
            l if l < 0x80 => Some(at + 2),
            l @ 0x81..=0x83 => Some(at + 2 + usize::from(l & 0x7f)),
            _ => None,
        }
    }
    contents(spki_der, 0)
        .and_then(|alg| contents(spki_der, alg))
        .and_then(|oid| spki_der.get(oid..oid + ID_DSA_DER.len()))
        .is_some_and(|o| o == ID_DSA_DER)
}

/// Whether `spki_der` is a DSA key without domain parameters (they are inherited).
pub fn lacks_parameters(spki_der: &[u8]) -> bool {
    names_dsa(spki_der)
        && spki::SubjectPublicKeyInfoRef::try_from(spki_der)
            .is_ok_and(|k| k.algorithm.oid == ID_DSA && k.algorithm.parameters.is_none())
}

/// The DER Dss-Parms of a DSA key that has them.
pub fn parameters_of(spki_der: &[u8]) -> Option<Vec<u8>> {
    if !names_dsa(spki_der) {
        return None;
    }
    let k = spki::SubjectPublicKeyInfoRef::try_from(spki_der).ok()?;
    if k.algorithm.oid != ID_DSA {
        return None;
    }
    k.algorithm.parameters?.to_der().ok()
}

/// `spki_der` (a DSA key without parameters) completed with `parameters_der` (Dss-Parms
/// inherited from the issuer's key).
pub fn spki_with_parameters(spki_der: &[u8], parameters_der: &[u8]) -> Result<Vec<u8>, Error> {
    let k = spki::SubjectPublicKeyInfoRef::try_from(spki_der)
        .map_err(|_| Error::InvalidPublicKey("not a DER SubjectPublicKeyInfo"))?;
    let params = AnyRef::from_der(parameters_der)
        .map_err(|_| Error::InvalidPublicKey("DSA parameters are not DER"))?;
    let full = spki::SubjectPublicKeyInfo::<AnyRef<'_>, BitStringRef<'_>> {
        algorithm: spki::AlgorithmIdentifier {
            oid: k.algorithm.oid,
            parameters: Some(params),
        },
        subject_public_key: k.subject_public_key,
    };
    full.to_der()
        .map_err(|_| Error::InvalidPublicKey("cannot encode the DSA key"))
}

/// Verifies a DSA signature (`signature`: DER Dss-Sig-Value) over `message` with the key in
/// `spki_der`, which must carry its parameters, hashing with `digest`.
pub fn verify(
    spki_der: &[u8],
    digest: &'static aws_lc_rs::digest::Algorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    let k = spki::SubjectPublicKeyInfoRef::try_from(spki_der)
        .map_err(|_| Error::InvalidPublicKey("not a DER SubjectPublicKeyInfo"))?;
    if k.algorithm.oid != ID_DSA {
        return Err(Error::InvalidPublicKey(
            "key does not match the signature algorithm",
        ));
    }
    let params: DssParms<'_> = k
        .algorithm
        .parameters
        .ok_or(Error::InvalidPublicKey(
            "the DSA key has no parameters (they must be inherited from the issuer)",
        ))?
        .decode_as()
        .map_err(|_| Error::InvalidPublicKey("DSA parameters are malformed"))?;
    let y_der = k
        .subject_public_key
        .as_bytes()
        .ok_or(Error::InvalidPublicKey(
            "public key bit string has unused bits",
        ))?;
    let y = UintRef::from_der(y_der)
        .map_err(|_| Error::InvalidPublicKey("DSA public key is not an INTEGER"))?;
    let sig = DssSigValue::from_der(signature).map_err(|_| Error::BadSignature)?;

    let p = BigUint::from_bytes_be(params.p.as_bytes());
    let q = BigUint::from_bytes_be(params.q.as_bytes());
    let g = BigUint::from_bytes_be(params.g.as_bytes());
    let y = BigUint::from_bytes_be(y.as_bytes());
    let r = BigUint::from_bytes_be(sig.r.as_bytes());
    let s = BigUint::from_bytes_be(sig.s.as_bytes());
    let zero = BigUint::ZERO;
    let one = BigUint::from(1u8);
    if p.bits() > MAX_P_BITS || q.bits() > 512 || q <= one || p <= q || g <= one || g >= p {
        return Err(Error::InvalidPublicKey("DSA parameters out of range"));
    }
    if y <= one || y >= p {
        return Err(Error::InvalidPublicKey("DSA public key out of range"));
    }
    // FIPS 186-4 §4.7: reject unless 0 < r < q and 0 < s < q.
    if r == zero || r >= q || s == zero || s >= q {
        return Err(Error::BadSignature);
    }
    // z: the leftmost min(N, outlen) bits of the hash.
    let hash = aws_lc_rs::digest::digest(digest, message);
    let n_bits = q.bits();
    let mut z = BigUint::from_bytes_be(hash.as_ref());
    let out_bits = (hash.as_ref().len() as u64) * 8;
    if out_bits > n_bits {
        z >>= out_bits - n_bits;
    }
    // w = s^-1 mod q (q is prime: Fermat), u1 = z·w, u2 = r·w, v = (g^u1 · y^u2 mod p) mod q.
    let w = s.modpow(&(&q - 2u8), &q);
    let u1 = (&z * &w) % &q;
    let u2 = (&r * &w) % &q;
    let v = ((g.modpow(&u1, &p) * y.modpow(&u2, &p)) % &p) % &q;
    if v == r {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SignatureAlgorithm;

    // A 2048/256-bit key and signatures made by `openssl gendsa` and `openssl dgst -sign`.
    const KEY: &[u8] = include_bytes!("../tests/data/dsa/dsa-2048-pub.der");
    const MESSAGE: &[u8] = include_bytes!("../tests/data/dsa/hello.txt");
    const SIG_SHA256: &[u8] = include_bytes!("../tests/data/dsa/hello-sha256.sig");
    const SIG_SHA1: &[u8] = include_bytes!("../tests/data/dsa/hello-sha1.sig");

    #[test]
    fn the_oid_scan_matches_the_oid_and_dsa_keys() {
        use der::Encode;
        assert_eq!(ID_DSA.to_der().unwrap(), ID_DSA_DER);
        assert!(names_dsa(KEY));
        assert_eq!(parameters_of(KEY).is_some(), !lacks_parameters(KEY));
        let ec = crate::PrivateKey::generate(crate::KeyType::EcdsaP256).unwrap();
        assert!(!names_dsa(ec.public_key_der()));
        assert!(parameters_of(ec.public_key_der()).is_none());
    }

    #[test]
    fn verifies_openssl_signatures() {
        SignatureAlgorithm::DsaSha256
            .verify(KEY, MESSAGE, SIG_SHA256)
            .unwrap();
        SignatureAlgorithm::DsaSha1
            .verify(KEY, MESSAGE, SIG_SHA1)
            .unwrap();
        assert!(SignatureAlgorithm::DsaSha1.is_weak());
    }

    #[test]
    fn rejects_altered_message_signature_or_hash() {
        let alg = SignatureAlgorithm::DsaSha256;
        assert!(matches!(
            alg.verify(KEY, b"hello!\n", SIG_SHA256),
            Err(Error::BadSignature)
        ));
        let mut bad = SIG_SHA256.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            alg.verify(KEY, MESSAGE, &bad),
            Err(Error::BadSignature)
        ));
        assert!(
            SignatureAlgorithm::DsaSha1
                .verify(KEY, MESSAGE, SIG_SHA256)
                .is_err()
        );
        assert!(alg.verify(KEY, MESSAGE, b"\x30\x00").is_err());
    }

    #[test]
    fn inherited_parameters_complete_a_bare_key() {
        let params = parameters_of(KEY).unwrap();
        let k = spki::SubjectPublicKeyInfoRef::try_from(KEY).unwrap();
        let bare = spki::SubjectPublicKeyInfo::<AnyRef<'_>, BitStringRef<'_>> {
            algorithm: spki::AlgorithmIdentifier {
                oid: ID_DSA,
                parameters: None,
            },
            subject_public_key: k.subject_public_key,
        }
        .to_der()
        .unwrap();
        assert!(lacks_parameters(&bare));
        assert!(!lacks_parameters(KEY));
        // Without parameters the key cannot verify; with the issuer's it does.
        assert!(
            SignatureAlgorithm::DsaSha256
                .verify(&bare, MESSAGE, SIG_SHA256)
                .is_err()
        );
        let full = spki_with_parameters(&bare, &params).unwrap();
        assert_eq!(full, KEY);
        SignatureAlgorithm::DsaSha256
            .verify(&full, MESSAGE, SIG_SHA256)
            .unwrap();
    }
}
