//! Private keys: generation, PKCS#8 (RFC 5208 / RFC 5958) encoding and decoding, and the
//! public half as a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
//!
//! A [`PrivateKey`] always carries its PKCS#8 encoding in zeroizing memory, so that the
//! CA can encrypt it for storage and the CLI can write it out without re-encoding.

use crate::Error;
use crate::signature::SignatureAlgorithm;
use aws_lc_rs::encoding::{AsBigEndian, AsDer, Curve25519SeedBin, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use aws_lc_rs::{agreement, rsa};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc8410};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The key types Cachet issues certificates for, named as the `--key-type` flag names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    Rsa4096,
    /// ECDSA/ECDH on NIST P-256 (secp256r1).
    EcdsaP256,
    /// ECDSA/ECDH on NIST P-384 (secp384r1).
    EcdsaP384,
    /// Ed25519 (RFC 8410): signing only.
    Ed25519,
    /// X25519 (RFC 8410): key agreement only.
    X25519,
}

impl KeyType {
    /// Every key type, in the order the CLI lists them.
    pub const ALL: [KeyType; 7] = [
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Ed25519,
        KeyType::X25519,
    ];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Ed25519 => "ed25519",
            KeyType::X25519 => "x25519",
        }
    }

    /// Whether keys of this type can make signatures.
    pub fn can_sign(self) -> bool {
        !matches!(self, KeyType::X25519)
    }

    /// Whether keys of this type can receive encrypted content keys
    /// (RSA key transport or ECDH key agreement).
    pub fn can_encrypt(self) -> bool {
        !matches!(self, KeyType::Ed25519)
    }

    /// Whether content keys reach this key by key agreement (EC, X25519) rather than
    /// key transport (RSA).
    pub fn uses_key_agreement(self) -> bool {
        matches!(
            self,
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::X25519
        )
    }

    /// Whether this is an RSA key type.
    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }

    /// The signature algorithm Cachet uses with this key: SHA-256 for RSA and P-256,
    /// SHA-384 for P-384 (the pairing the CA/B Forum S/MIME BR §7.1.3.2 requires), Ed25519.
    pub fn signature_algorithm(self) -> Option<SignatureAlgorithm> {
        match self {
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                Some(SignatureAlgorithm::RsaPkcs1Sha256)
            }
            KeyType::EcdsaP256 => Some(SignatureAlgorithm::EcdsaSha256),
            KeyType::EcdsaP384 => Some(SignatureAlgorithm::EcdsaSha384),
            KeyType::Ed25519 => Some(SignatureAlgorithm::Ed25519),
            KeyType::X25519 => None,
        }
    }

    /// Identifies the key type of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Result<KeyType, Error> {
        let info = spki::SubjectPublicKeyInfoRef::try_from(spki_der)
            .map_err(|_| Error::InvalidPublicKey("not a DER SubjectPublicKeyInfo"))?;
        let key = info
            .subject_public_key
            .as_bytes()
            .ok_or(Error::InvalidPublicKey(
                "public key bit string has unused bits",
            ))?;
        let alg = &info.algorithm;
        if alg.oid == rfc5912::RSA_ENCRYPTION {
            let bits = rsa_modulus_bits(key)?;
            return match bits {
                2048 => Ok(KeyType::Rsa2048),
                3072 => Ok(KeyType::Rsa3072),
                4096 => Ok(KeyType::Rsa4096),
                _ => Err(Error::InvalidPublicKey(
                    "RSA modulus must be 2048, 3072 or 4096 bits",
                )),
            };
        }
        if alg.oid == rfc5912::ID_EC_PUBLIC_KEY {
            let curve = alg
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(Error::InvalidPublicKey("EC key without a named curve"))?;
            return match curve {
                c if c == rfc5912::SECP_256_R_1 && key.len() == 65 => Ok(KeyType::EcdsaP256),
                c if c == rfc5912::SECP_384_R_1 && key.len() == 97 => Ok(KeyType::EcdsaP384),
                _ => Err(Error::InvalidPublicKey(
                    "EC key must be an uncompressed P-256 or P-384 point",
                )),
            };
        }
        if alg.oid == rfc8410::ID_ED_25519 && key.len() == 32 {
            return Ok(KeyType::Ed25519);
        }
        if alg.oid == rfc8410::ID_X_25519 && key.len() == 32 {
            return Ok(KeyType::X25519);
        }
        Err(Error::InvalidPublicKey("unsupported key algorithm"))
    }
}

/// Counts the bits of the modulus in a DER RSAPublicKey (RFC 8017 §A.1.1).
fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Result<usize, Error> {
    use der::{Decode, asn1::UintRef};
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        modulus: UintRef<'a>,
        _public_exponent: UintRef<'a>,
    }
    let k = RsaPublicKey::from_der(rsa_public_key)
        .map_err(|_| Error::InvalidPublicKey("malformed RSAPublicKey"))?;
    let m = k.modulus.as_bytes();
    let lead = m.first().copied().unwrap_or(0);
    Ok(m.len() * 8 - lead.leading_zeros() as usize)
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = KeyType::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown key type '{s}' (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

enum Inner {
    Rsa(rsa::KeyPair),
    Ecdsa(sig::EcdsaKeyPair),
    Ed25519(sig::Ed25519KeyPair),
    X25519(agreement::PrivateKey),
}

/// A private key with its PKCS#8 encoding (zeroized on drop) and its public key.
pub struct PrivateKey {
    key_type: KeyType,
    inner: Inner,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: Vec<u8>,
    /// The second view of the same key that decryption and key agreement need (an RSA
    /// decrypting key, or an ECDH key for P-256/P-384), built from the PKCS#8 on first use.
    /// `None` inside when the PKCS#8 cannot be read that way (or the type has no such use).
    secondary: OnceLock<Option<Secondary>>,
}

/// The cached second view of a [`PrivateKey`].
enum Secondary {
    /// RSA key transport (RFC 8017 §7).
    RsaDecrypting(rsa::PrivateDecryptingKey),
    /// ECDH on P-256 or P-384 (RFC 5753).
    Ecdh(agreement::PrivateKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("PrivateKey")
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

const X25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];

fn spki_of<T: AsDer<PublicKeyX509Der<'static>>>(public: &T) -> Result<Vec<u8>, Error> {
    public
        .as_der()
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| Error::InvalidPrivateKey("cannot encode public key"))
}

impl PrivateKey {
    /// Generates a fresh key of `key_type`.
    pub fn generate(key_type: KeyType) -> Result<Self, Error> {
        let fail = || Error::KeyGeneration(key_type.name());
        let pkcs8: Zeroizing<Vec<u8>> = match key_type {
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                let size = match key_type {
                    KeyType::Rsa2048 => rsa::KeySize::Rsa2048,
                    KeyType::Rsa3072 => rsa::KeySize::Rsa3072,
                    _ => rsa::KeySize::Rsa4096,
                };
                let kp = rsa::KeyPair::generate(size).map_err(|_| fail())?;
                let der: Pkcs8V1Der<'static> = kp.as_der().map_err(|_| fail())?;
                Zeroizing::new(der.as_ref().to_vec())
            }
            KeyType::EcdsaP256 | KeyType::EcdsaP384 => {
                let kp = sig::EcdsaKeyPair::generate(ecdsa_alg(key_type)).map_err(|_| fail())?;
                let doc = kp.to_pkcs8v1().map_err(|_| fail())?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            KeyType::Ed25519 => {
                let kp = sig::Ed25519KeyPair::generate().map_err(|_| fail())?;
                let doc = kp.to_pkcs8v1().map_err(|_| fail())?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            KeyType::X25519 => {
                let k = agreement::PrivateKey::generate(&agreement::X25519).map_err(|_| fail())?;
                let seed: Curve25519SeedBin<'static> = k.as_be_bytes().map_err(|_| fail())?;
                let mut v = Zeroizing::new(Vec::with_capacity(48));
                v.extend_from_slice(&X25519_PKCS8_PREFIX);
                v.extend_from_slice(seed.as_ref());
                v
            }
        };
        Self::from_pkcs8_der(&pkcs8)
    }

    /// Reads an unencrypted PKCS#8 private key (v1 or v2) of a supported algorithm.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<Self, Error> {
        let info = pkcs8::PrivateKeyInfoRef::try_from(der_bytes)
            .map_err(|_| Error::InvalidPrivateKey("not a DER PKCS#8 PrivateKeyInfo"))?;
        let oid = info.algorithm.oid;
        let (key_type, inner, spki) = if oid == rfc5912::RSA_ENCRYPTION {
            let kp = rsa::KeyPair::from_pkcs8(der_bytes)
                .map_err(|_| Error::InvalidPrivateKey("invalid RSA key"))?;
            let spki = spki_of(kp.public_key())?;
            let kt = KeyType::of_spki(&spki)?;
            (kt, Inner::Rsa(kp), spki)
        } else if oid == rfc5912::ID_EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(Error::InvalidPrivateKey("EC key without a named curve"))?;
            let kt = if curve == rfc5912::SECP_256_R_1 {
                KeyType::EcdsaP256
            } else if curve == rfc5912::SECP_384_R_1 {
                KeyType::EcdsaP384
            } else {
                return Err(Error::InvalidPrivateKey("EC curve must be P-256 or P-384"));
            };
            let kp = sig::EcdsaKeyPair::from_pkcs8(ecdsa_alg(kt), der_bytes)
                .map_err(|_| Error::InvalidPrivateKey("invalid EC key"))?;
            let spki = spki_of(kp.public_key())?;
            (kt, Inner::Ecdsa(kp), spki)
        } else if oid == rfc8410::ID_ED_25519 {
            let kp = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der_bytes)
                .map_err(|_| Error::InvalidPrivateKey("invalid Ed25519 key"))?;
            let spki = spki_of(kp.public_key())?;
            (KeyType::Ed25519, Inner::Ed25519(kp), spki)
        } else if oid == rfc8410::ID_X_25519 {
            // CurvePrivateKey ::= OCTET STRING (RFC 8410 §7), inside the PKCS#8 OCTET STRING.
            let seed = info
                .private_key
                .as_bytes()
                .strip_prefix(&[0x04, 0x20])
                .and_then(|s| <&[u8; 32]>::try_from(s).ok())
                .ok_or(Error::InvalidPrivateKey(
                    "X25519 private key must be 32 bytes",
                ))?;
            let k = agreement::PrivateKey::from_private_key(&agreement::X25519, seed)
                .map_err(|_| Error::InvalidPrivateKey("invalid X25519 key"))?;
            let public = k
                .compute_public_key()
                .map_err(|_| Error::InvalidPrivateKey("invalid X25519 key"))?;
            let spki = spki_of(&public)?;
            (KeyType::X25519, Inner::X25519(k), spki)
        } else {
            return Err(Error::InvalidPrivateKey(
                "unsupported algorithm (expected RSA, EC P-256/P-384, Ed25519 or X25519)",
            ));
        };
        Ok(PrivateKey {
            key_type,
            inner,
            pkcs8: Zeroizing::new(der_bytes.to_vec()),
            spki,
            secondary: OnceLock::new(),
        })
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The PKCS#8 DER encoding. Secret: the caller must not log it.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    /// The signature algorithm this key signs with, if it can sign.
    pub fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        self.key_type.signature_algorithm()
    }

    /// Signs `message` with RSASSA-PSS (RSA keys only; RFC 8017 §8.1, salt = hash length).
    pub fn sign_rsa_pss(&self, message: &[u8], alg: SignatureAlgorithm) -> Result<Vec<u8>, Error> {
        let padding: &'static dyn sig::RsaEncoding = match alg {
            SignatureAlgorithm::RsaPssSha256 => &sig::RSA_PSS_SHA256,
            SignatureAlgorithm::RsaPssSha384 => &sig::RSA_PSS_SHA384,
            SignatureAlgorithm::RsaPssSha512 => &sig::RSA_PSS_SHA512,
            _ => return Err(Error::InvalidParameter("not an RSASSA-PSS algorithm")),
        };
        let Inner::Rsa(kp) = &self.inner else {
            return Err(Error::WrongKeyForOperation {
                key: self.key_type.name(),
                operation: "sign with RSASSA-PSS",
            });
        };
        let mut out = vec![0u8; kp.public_modulus_len()];
        kp.sign(padding, &SystemRandom::new(), message, &mut out)
            .map_err(|_| Error::Signing)?;
        Ok(out)
    }

    /// Signs `message` with the key's [`signature_algorithm`](Self::signature_algorithm).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.inner {
            Inner::Rsa(kp) => {
                let mut out = vec![0u8; kp.public_modulus_len()];
                kp.sign(
                    &sig::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut out,
                )
                .map_err(|_| Error::Signing)?;
                Ok(out)
            }
            Inner::Ecdsa(kp) => kp
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Signing),
            Inner::Ed25519(kp) => Ok(kp.sign(message).as_ref().to_vec()),
            Inner::X25519(_) => Err(Error::WrongKeyForOperation {
                key: self.key_type.name(),
                operation: "sign",
            }),
        }
    }
}

impl PrivateKey {
    /// The RSA decrypting key (RSA keys only), built once from the PKCS#8.
    pub(crate) fn rsa_decrypting_key(&self) -> Option<&rsa::PrivateDecryptingKey> {
        if !self.key_type.is_rsa() {
            return None;
        }
        match self.secondary_view() {
            Some(Secondary::RsaDecrypting(k)) => Some(k),
            _ => None,
        }
    }

    /// The key-agreement view of the key: the ECDH key of a P-256/P-384 key (built once from
    /// the PKCS#8), or the X25519 key itself. `None` for RSA and Ed25519.
    pub(crate) fn agreement_key(&self) -> Option<&agreement::PrivateKey> {
        match &self.inner {
            Inner::X25519(k) => Some(k),
            Inner::Ecdsa(_) => match self.secondary_view() {
                Some(Secondary::Ecdh(k)) => Some(k),
                _ => None,
            },
            Inner::Rsa(_) | Inner::Ed25519(_) => None,
        }
    }

    fn secondary_view(&self) -> Option<&Secondary> {
        self.secondary
            .get_or_init(|| match self.key_type {
                KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                    rsa::PrivateDecryptingKey::from_pkcs8(&self.pkcs8)
                        .ok()
                        .map(Secondary::RsaDecrypting)
                }
                KeyType::EcdsaP256 | KeyType::EcdsaP384 => {
                    let alg = if self.key_type == KeyType::EcdsaP384 {
                        &agreement::ECDH_P384
                    } else {
                        &agreement::ECDH_P256
                    };
                    agreement::PrivateKey::from_private_key_der(alg, &self.pkcs8)
                        .ok()
                        .map(Secondary::Ecdh)
                }
                KeyType::Ed25519 | KeyType::X25519 => None,
            })
            .as_ref()
    }

    /// X25519 key agreement (RFC 7748 §6.1) with a peer's raw 32-byte public key; the
    /// shared secret feeds the RFC 8418 HKDF. Other key types give
    /// [`Error::WrongKeyForOperation`] here; [`PrivateKey::ecdh`] covers
    /// P-256, P-384 and X25519 alike.
    pub fn x25519_agree(&self, peer_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let Inner::X25519(k) = &self.inner else {
            return Err(Error::WrongKeyForOperation {
                key: self.key_type.name(),
                operation: "do X25519 key agreement",
            });
        };
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer_public);
        agreement::agree(
            k,
            peer,
            Error::InvalidPublicKey("X25519 peer key"),
            |secret| Ok(Zeroizing::new(secret.to_vec())),
        )
    }
}

fn ecdsa_alg(kt: KeyType) -> &'static sig::EcdsaSigningAlgorithm {
    if kt == KeyType::EcdsaP384 {
        &sig::ECDSA_P384_SHA384_ASN1_SIGNING
    } else {
        &sig::ECDSA_P256_SHA256_ASN1_SIGNING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_type_round_trips_through_pkcs8_and_spki() {
        for kt in KeyType::ALL {
            let k = PrivateKey::generate(kt).unwrap();
            assert_eq!(k.key_type(), kt);
            assert_eq!(KeyType::of_spki(k.public_key_der()).unwrap(), kt);
            let again = PrivateKey::from_pkcs8_der(k.pkcs8_der()).unwrap();
            assert_eq!(again.public_key_der(), k.public_key_der());
        }
    }

    #[test]
    fn signatures_verify_and_x25519_refuses_to_sign() {
        for kt in KeyType::ALL {
            let k = PrivateKey::generate(kt).unwrap();
            match k.signature_algorithm() {
                Some(alg) => {
                    let s = k.sign(b"hello").unwrap();
                    alg.verify(k.public_key_der(), b"hello", &s).unwrap();
                    assert_eq!(
                        alg.verify(k.public_key_der(), b"hellp", &s),
                        Err(Error::BadSignature)
                    );
                }
                None => assert!(k.sign(b"x").is_err()),
            }
        }
    }

    #[test]
    fn rsa_pss_signs_and_verifies() {
        let k = PrivateKey::generate(KeyType::Rsa2048).unwrap();
        for alg in [
            SignatureAlgorithm::RsaPssSha256,
            SignatureAlgorithm::RsaPssSha384,
            SignatureAlgorithm::RsaPssSha512,
        ] {
            let s = k.sign_rsa_pss(b"hello", alg).unwrap();
            alg.verify(k.public_key_der(), b"hello", &s).unwrap();
            assert!(alg.verify(k.public_key_der(), b"hellp", &s).is_err());
            assert!(
                SignatureAlgorithm::RsaPkcs1Sha256
                    .verify(k.public_key_der(), b"hello", &s)
                    .is_err()
            );
            let der = alg.algorithm_identifier_der();
            assert_eq!(
                crate::signature::pss_from_algorithm_identifier(&der),
                Some(alg)
            );
        }
        let e = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        assert!(
            e.sign_rsa_pss(b"x", SignatureAlgorithm::RsaPssSha256)
                .is_err()
        );
    }

    #[test]
    fn key_type_names_parse_back() {
        for kt in KeyType::ALL {
            assert_eq!(kt.name().parse::<KeyType>().unwrap(), kt);
        }
        assert!(
            "rsa-1024"
                .parse::<KeyType>()
                .unwrap_err()
                .contains("unknown key type")
        );
    }

    #[test]
    fn x25519_agreement_is_symmetric() {
        let a = PrivateKey::generate(KeyType::X25519).unwrap();
        let b = PrivateKey::generate(KeyType::X25519).unwrap();
        let raw = |k: &PrivateKey| k.public_key_der()[12..].to_vec();
        assert_eq!(
            *a.x25519_agree(&raw(&b)).unwrap(),
            *b.x25519_agree(&raw(&a)).unwrap()
        );
        let e = PrivateKey::generate(KeyType::Ed25519).unwrap();
        assert!(e.x25519_agree(&raw(&a)).is_err());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(PrivateKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00").is_err());
        assert!(PrivateKey::from_pkcs8_der(&[]).is_err());
    }
}
