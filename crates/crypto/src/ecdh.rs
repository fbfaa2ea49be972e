//! Ephemeral-static Diffie-Hellman for CMS `KeyAgreeRecipientInfo`: ECDH on P-256 and
//! P-384 (RFC 5753 §3.1, `dhSinglePass-stdDH-*`; SEC 1 §3.3.1 primitive) and X25519
//! (RFC 8418 §2, RFC 7748 §6.1).
//!
//! The sender makes an [`EphemeralKey`], puts [`EphemeralKey::public_key`] in
//! `originatorKey` (RFC 5753 §7.1.1: the ECPoint, uncompressed; RFC 8418 §2: the raw
//! 32-byte X25519 key) and agrees with each recipient's certificate key. The recipient
//! calls [`PrivateKey::ecdh`] with those `originatorKey` bytes. Both get the raw shared
//! secret `Z`, which feeds the KDF of [`crate::kdf`]; it is zeroized on drop.

use crate::keys::PrivateKey;
use crate::{Error, KeyType};
use aws_lc_rs::agreement;
use zeroize::Zeroizing;

/// A key-agreement curve Cachet supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcdhCurve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// X25519 (RFC 7748).
    X25519,
}

impl EcdhCurve {
    /// The curve of keys of `key_type`, if it does key agreement.
    pub fn of_key_type(key_type: KeyType) -> Option<Self> {
        match key_type {
            KeyType::EcdsaP256 => Some(Self::P256),
            KeyType::EcdsaP384 => Some(Self::P384),
            KeyType::X25519 => Some(Self::X25519),
            _ => None,
        }
    }

    /// The key type of keys on this curve.
    pub fn key_type(self) -> KeyType {
        match self {
            Self::P256 => KeyType::EcdsaP256,
            Self::P384 => KeyType::EcdsaP384,
            Self::X25519 => KeyType::X25519,
        }
    }

    /// Length of the shared secret `Z` in bytes (the field size).
    pub fn shared_secret_len(self) -> usize {
        match self {
            Self::P256 | Self::X25519 => 32,
            Self::P384 => 48,
        }
    }

    fn alg(self) -> &'static agreement::Algorithm {
        match self {
            Self::P256 => &agreement::ECDH_P256,
            Self::P384 => &agreement::ECDH_P384,
            Self::X25519 => &agreement::X25519,
        }
    }

    /// Checks that `point` has the form `originatorKey` may carry on this curve: an
    /// uncompressed (`04`) or compressed (`02`/`03`) SEC 1 §2.3.3 point of the curve's size
    /// (RFC 5480 §2.2: hybrid forms are not allowed), or 32 raw bytes for X25519.
    fn check_point_form(self, point: &[u8]) -> Result<(), Error> {
        let field = self.shared_secret_len();
        let ok = match self {
            Self::X25519 => point.len() == 32,
            Self::P256 | Self::P384 => match point.first() {
                Some(0x04) => point.len() == 1 + 2 * field,
                Some(0x02 | 0x03) => point.len() == 1 + field,
                _ => false,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidPublicKey(
                "peer key is not a point of the expected curve and form",
            ))
        }
    }
}

/// Runs the agreement; any failure (point not on the curve, identity, all-zero X25519
/// output) is [`Error::InvalidPublicKey`].
fn agree(
    private: &agreement::PrivateKey,
    curve: EcdhCurve,
    peer_point: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    curve.check_point_form(peer_point)?;
    let peer = agreement::UnparsedPublicKey::new(curve.alg(), peer_point);
    agreement::agree(
        private,
        peer,
        Error::InvalidPublicKey("peer key rejected by key agreement"),
        |z| Ok(Zeroizing::new(z.to_vec())),
    )
}

/// The public key inside a SubjectPublicKeyInfo of a key-agreement key on `curve`
/// (RFC 5480 §2, RFC 8410 §4), with the curve checked.
fn spki_point(spki_der: &[u8], curve: EcdhCurve) -> Result<Vec<u8>, Error> {
    let kt = KeyType::of_spki(spki_der)?;
    if EcdhCurve::of_key_type(kt) != Some(curve) {
        return Err(Error::InvalidPublicKey(
            "peer key is not on the curve of this key",
        ));
    }
    let info = spki::SubjectPublicKeyInfoRef::try_from(spki_der)
        .map_err(|_| Error::InvalidPublicKey("not a DER SubjectPublicKeyInfo"))?;
    info.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or(Error::InvalidPublicKey(
            "public key bit string has unused bits",
        ))
}

/// The sender's ephemeral key pair for one message (RFC 5753 §3.1.1, RFC 8418 §2).
pub struct EphemeralKey {
    curve: EcdhCurve,
    key: agreement::PrivateKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EphemeralKey")
            .field("curve", &self.curve)
            .finish_non_exhaustive()
    }
}

impl EphemeralKey {
    /// Generates a fresh ephemeral key on `curve`.
    pub fn generate(curve: EcdhCurve) -> Result<Self, Error> {
        let fail = || Error::KeyGeneration(curve.key_type().name());
        let key = agreement::PrivateKey::generate(curve.alg()).map_err(|_| fail())?;
        let public = key
            .compute_public_key()
            .map_err(|_| fail())?
            .as_ref()
            .to_vec();
        Ok(EphemeralKey { curve, key, public })
    }

    /// The curve.
    pub fn curve(&self) -> EcdhCurve {
        self.curve
    }

    /// The public key as `originatorKey.publicKey` carries it: the uncompressed SEC 1 point
    /// (`04 ‖ X ‖ Y`, RFC 5753 §7.1.1 with RFC 5480 §2.2) or the raw 32-byte X25519 key
    /// (RFC 8418 §2 with RFC 8410 §4).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The shared secret `Z` with a recipient's key, given as the DER SubjectPublicKeyInfo
    /// of its certificate. The key must be on this key's curve.
    pub fn agree(&self, recipient_spki_der: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let point = spki_point(recipient_spki_der, self.curve)?;
        agree(&self.key, self.curve, &point)
    }
}

impl PrivateKey {
    fn agreement_parts(&self) -> Result<(&agreement::PrivateKey, EcdhCurve), Error> {
        let wrong = || Error::WrongKeyForOperation {
            key: self.key_type().name(),
            operation: "do key agreement",
        };
        let curve = EcdhCurve::of_key_type(self.key_type()).ok_or_else(wrong)?;
        let key = self
            .agreement_key()
            .ok_or(Error::InvalidPrivateKey("EC key cannot do key agreement"))?;
        Ok((key, curve))
    }

    /// The recipient's side of RFC 5753 §3.1.2 / RFC 8418 §2: the shared secret `Z` with the
    /// originator's ephemeral public key, given as the `originatorKey.publicKey` bytes (a
    /// SEC 1 point, uncompressed or compressed, for P-256/P-384; 32 raw bytes for X25519).
    /// The point is validated (on the curve, not the identity); X25519 rejects an all-zero
    /// result (RFC 7748 §6.1).
    pub fn ecdh(&self, originator_public_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (key, curve) = self.agreement_parts()?;
        agree(key, curve, originator_public_key)
    }

    /// The shared secret `Z` with a peer key given as a DER SubjectPublicKeyInfo on this
    /// key's curve (static-static agreement with an originator identified by certificate,
    /// RFC 5652 §6.2.2 `OriginatorIdentifierOrKey`).
    pub fn ecdh_with_spki(&self, peer_spki_der: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (key, curve) = self.agreement_parts()?;
        let point = spki_point(peer_spki_der, curve)?;
        agree(key, curve, &point)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_static_agreement_matches_on_every_curve() {
        for curve in [EcdhCurve::P256, EcdhCurve::P384, EcdhCurve::X25519] {
            let recipient = PrivateKey::generate(curve.key_type()).unwrap();
            let eph = EphemeralKey::generate(curve).unwrap();
            let expected_len = match curve {
                EcdhCurve::P256 => 65,
                EcdhCurve::P384 => 97,
                EcdhCurve::X25519 => 32,
            };
            assert_eq!(eph.public_key().len(), expected_len);
            let z1 = eph.agree(recipient.public_key_der()).unwrap();
            let z2 = recipient.ecdh(eph.public_key()).unwrap();
            assert_eq!(z1, z2);
            assert_eq!(z1.len(), curve.shared_secret_len());
            // Static-static with the same keys gives the same Z as well.
            let other = PrivateKey::generate(curve.key_type()).unwrap();
            assert_eq!(
                other.ecdh_with_spki(recipient.public_key_der()).unwrap(),
                recipient.ecdh_with_spki(other.public_key_der()).unwrap()
            );
        }
    }

    #[test]
    fn x25519_ecdh_agrees_with_x25519_agree() {
        let a = PrivateKey::generate(KeyType::X25519).unwrap();
        let b = PrivateKey::generate(KeyType::X25519).unwrap();
        let raw = &b.public_key_der()[12..];
        assert_eq!(a.ecdh(raw).unwrap(), a.x25519_agree(raw).unwrap());
    }

    #[test]
    fn wrong_curves_forms_and_keys_are_refused() {
        let p256 = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let p384 = PrivateKey::generate(KeyType::EcdsaP384).unwrap();
        let eph = EphemeralKey::generate(EcdhCurve::P256).unwrap();
        assert!(eph.agree(p384.public_key_der()).is_err());
        assert!(p384.ecdh(eph.public_key()).is_err());
        // An SPKI where a bare point is expected, and a hybrid-form point.
        assert!(p256.ecdh(p256.public_key_der()).is_err());
        let mut hybrid = eph.public_key().to_vec();
        hybrid[0] = 0x06;
        assert!(p256.ecdh(&hybrid).is_err());
        // A point off the curve.
        let mut off = eph.public_key().to_vec();
        off[64] ^= 1;
        assert!(p256.ecdh(&off).is_err());
        // Compressed form is read.
        let x = &eph.public_key()[1..33];
        let y_odd = eph.public_key()[64] & 1;
        let mut compressed = vec![0x02 | y_odd];
        compressed.extend_from_slice(x);
        assert_eq!(
            p256.ecdh(&compressed).unwrap(),
            eph.agree(p256.public_key_der()).unwrap()
        );
        for kt in [KeyType::Rsa2048, KeyType::Ed25519] {
            let k = PrivateKey::generate(kt).unwrap();
            assert!(matches!(
                k.ecdh(eph.public_key()),
                Err(Error::WrongKeyForOperation { .. })
            ));
        }
        // X25519: the all-zero point gives an all-zero secret, which is refused.
        let x = PrivateKey::generate(KeyType::X25519).unwrap();
        assert!(x.ecdh(&[0u8; 32]).is_err());
        assert!(x.ecdh(&[9u8; 31]).is_err());
    }
}
