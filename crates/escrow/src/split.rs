//! The recovery key, sealed under a random key-encryption key that is split M-of-N.
//!
//! What is split is not the recovery key's PKCS#8 itself but a fresh random 256-bit
//! key-encryption key `K`; the PKCS#8 is sealed under `K` with AES-256-GCM
//! ([`SealedRecoveryKey`]) and `K` is split with Shamir's scheme ([`crate::shamir`]).
//! That choice, rather than splitting the PKCS#8:
//!
//! - keeps every share 33 bytes whatever the recovery key is (a split RSA-3072 PKCS#8 would
//!   make 1.8 KB shares);
//! - makes reconstruction *checked*: Shamir's scheme rebuilds garbage from a bad share
//!   without noticing, while a wrong `K` fails the GCM tag ([`EscrowError::CombinationFailed`]);
//! - makes rotation real: [`reshare`] draws a new `K` and a new [`Generation`], so old shares
//!   rebuild the old `K`, which opens nothing the store still holds once the new
//!   [`SealedRecoveryKey`] replaces the old one. (An old backup of the database still holds
//!   the old sealed key: where that matters, rotate the recovery key itself — issue a new
//!   key-recovery-agent certificate and [`crate::rearchive`] every archived key to it.)
//!
//! The associated data of the seal names the split (generation), the threshold, the roster
//! of officers in index order and the SHA-256 of the key-recovery-agent certificate, so none
//! of them can be edited in the store without `complete` failing.
//!
//! ```text
//! SealedRecoveryKey ::= SEQUENCE {
//!     version         INTEGER (1),
//!     generation      OCTET STRING (SIZE (16)),
//!     threshold       INTEGER (1..255),
//!     officers        SEQUENCE OF UTF8String,  -- officer i has share index i + 1
//!     kraCertificate  OCTET STRING,            -- DER
//!     sealed          OCTET STRING }           -- nonce ‖ AES-256-GCM_K(PKCS#8) ‖ tag
//! ```

use crate::officer::{self, Argon2Cost, OfficerSpec, SealedShare};
use crate::shamir;
use crate::wire::{self, V1};
use crate::{EscrowError, Generation};
use cachet_crypto::digest::sha256;
use cachet_crypto::secret::{self, KEY_LEN};
use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use der::Sequence;
use der::asn1::{OctetStringRef, Utf8StringRef};
use std::fmt;
use zeroize::Zeroizing;

/// The key type Cachet should give the key-recovery-agent (KRA) certificate: ECDH P-256,
/// which `cachet-smime` encrypts to with `dhSinglePass-stdDH-sha256kdf-scheme` and AES key
/// wrap (RFC 5753) — 128-bit security like RSA-3072, a 138-byte PKCS#8 (so the seal is
/// small), key generation in microseconds instead of a second, and the cheapest archive
/// (one ephemeral key pair and one ECDH per key). RSA-3072/4096 (always with OAEP,
/// RFC 3560) and P-384 are accepted too, e.g. for a KRA key kept in an HSM that does RSA.
pub const RECOMMENDED_KRA_KEY_TYPE: KeyType = KeyType::EcdsaP256;

/// Checks that `cert` can be the key-recovery-agent certificate: a P-256, P-384 or X25519
/// key-agreement key, or an RSA key of 3072 bits or more (RSA-2048's 112-bit strength is
/// below what a key that opens every archived key for decades deserves); and key usages
/// that allow encryption to it (keyAgreement or keyEncipherment; emailProtection if it has
/// an extKeyUsage), as `cachet-smime` checks for any recipient.
pub fn check_kra_certificate(cert: &ParsedCertificate) -> Result<KeyType, EscrowError> {
    let kt = check_kra_key_type(cert)?;
    cachet_smime::enveloped::encrypt(
        b"",
        std::slice::from_ref(cert),
        cachet_smime::enveloped::ContentCipher::Aes256Gcm,
        officer::rsa_padding(),
    )
    .map_err(|e| EscrowError::KraCertificate(e.to_string()))?;
    Ok(kt)
}

/// The key-type half of [`check_kra_certificate`] (the key usages are checked by the
/// encryption itself).
pub(crate) fn check_kra_key_type(cert: &ParsedCertificate) -> Result<KeyType, EscrowError> {
    let kt = cert
        .key_type()
        .map_err(|e| EscrowError::KraCertificate(e.to_string()))?;
    match kt {
        KeyType::EcdsaP256
        | KeyType::EcdsaP384
        | KeyType::X25519
        | KeyType::Rsa3072
        | KeyType::Rsa4096 => {}
        KeyType::Rsa2048 => {
            return Err(EscrowError::KraCertificate(
                "an RSA-2048 key is too weak for the recovery key; use P-256 or RSA-3072 or larger"
                    .into(),
            ));
        }
        KeyType::Ed25519 => {
            return Err(EscrowError::KraCertificate(
                "an Ed25519 key cannot receive encrypted keys".into(),
            ));
        }
    }
    Ok(kt)
}

/// The key-recovery-agent key pair, in memory: what [`crate::RecoveryRequest::complete`]
/// returns and what [`crate::recover_keys`] and [`reshare`] take. The private key is
/// zeroized on drop and never printed.
pub struct RecoveryKey {
    certificate: ParsedCertificate,
    key: PrivateKey,
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryKey")
            .field("certificate", &self.certificate.subject())
            .field("key", &self.key)
            .finish()
    }
}

impl RecoveryKey {
    /// The KRA certificate with its private key (unencrypted PKCS#8 DER), checked to belong
    /// together and by [`check_kra_certificate`].
    pub fn new(kra_certificate: &ParsedCertificate, pkcs8: &[u8]) -> Result<Self, EscrowError> {
        check_kra_certificate(kra_certificate)?;
        let key = PrivateKey::from_pkcs8_der(pkcs8)?;
        let spki = kra_certificate
            .spki_der()
            .map_err(|e| EscrowError::KraCertificate(e.to_string()))?;
        if key.public_key_der() != spki.as_slice() {
            return Err(EscrowError::KeyMismatch {
                what: "the key-recovery-agent certificate".into(),
            });
        }
        Ok(RecoveryKey {
            certificate: kra_certificate.clone(),
            key,
        })
    }

    /// The KRA certificate.
    pub fn certificate(&self) -> &ParsedCertificate {
        &self.certificate
    }

    /// The private key as PKCS#8 DER. Secret: never log or store it in the clear.
    pub fn pkcs8(&self) -> &[u8] {
        self.key.pkcs8_der()
    }

    pub(crate) fn private_key(&self) -> &PrivateKey {
        &self.key
    }
}

/// The recovery key sealed under the split key-encryption key, with the public facts of the
/// split. Stored as one record; replaced by each [`reshare`].
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRecoveryKey {
    /// Which split.
    pub generation: Generation,
    /// M: how many officers must approve.
    pub threshold: u8,
    /// The officers, in share-index order (officer `i` holds index `i + 1`).
    pub officers: Vec<String>,
    /// The KRA certificate, DER.
    pub kra_certificate: Vec<u8>,
    /// `nonce ‖ AES-256-GCM(PKCS#8) ‖ tag` under the split key.
    pub sealed: Vec<u8>,
}

impl fmt::Debug for SealedRecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedRecoveryKey")
            .field("generation", &self.generation)
            .field("threshold", &self.threshold)
            .field("officers", &self.officers)
            .field("kra_certificate_len", &self.kra_certificate.len())
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

#[derive(Sequence)]
struct SealedRecoveryKeyDer<'a> {
    version: u32,
    generation: &'a OctetStringRef,
    threshold: u8,
    officers: Vec<Utf8StringRef<'a>>,
    kra_certificate: &'a OctetStringRef,
    sealed: &'a OctetStringRef,
}

#[derive(Sequence)]
struct SealedKeyAad<'a> {
    label: Utf8StringRef<'a>,
    generation: &'a OctetStringRef,
    threshold: u8,
    officers: Vec<Utf8StringRef<'a>>,
    kra_certificate_sha256: &'a OctetStringRef,
}

const SEALED_KEY_AAD_LABEL: &str = "cachet-escrow/recovery-key/v1";

impl SealedRecoveryKey {
    /// The DER record (see the module docs).
    pub fn to_der(&self) -> Result<Vec<u8>, EscrowError> {
        const W: &str = "sealed recovery key";
        wire::encode(
            &SealedRecoveryKeyDer {
                version: V1,
                generation: wire::octets(&self.generation.0, W)?,
                threshold: self.threshold,
                officers: self
                    .officers
                    .iter()
                    .map(|o| wire::utf8(o, W))
                    .collect::<Result<_, _>>()?,
                kra_certificate: wire::octets(&self.kra_certificate, W)?,
                sealed: wire::octets(&self.sealed, W)?,
            },
            W,
        )
    }

    /// Reads a record written by [`Self::to_der`].
    pub fn from_der(der: &[u8]) -> Result<Self, EscrowError> {
        const W: &str = "sealed recovery key";
        let d: SealedRecoveryKeyDer<'_> = wire::decode(der, W)?;
        wire::check_version(d.version, W)?;
        let officers: Vec<String> = d.officers.iter().map(|o| o.as_str().to_owned()).collect();
        if d.threshold == 0 || usize::from(d.threshold) > officers.len() || officers.len() > 255 {
            return Err(EscrowError::malformed(
                W,
                format!("threshold {} of {} officers", d.threshold, officers.len()),
            ));
        }
        Ok(SealedRecoveryKey {
            generation: Generation(wire::array(d.generation, W)?),
            threshold: d.threshold,
            officers,
            kra_certificate: d.kra_certificate.as_bytes().to_vec(),
            sealed: d.sealed.as_bytes().to_vec(),
        })
    }

    /// The KRA certificate, parsed.
    pub fn kra_certificate(&self) -> Result<ParsedCertificate, EscrowError> {
        ParsedCertificate::from_der(&self.kra_certificate)
            .map_err(|e| EscrowError::cert("the key-recovery-agent certificate", e))
    }

    /// The share index of `officer`, if it is one of this split's officers.
    pub fn index_of(&self, officer: &str) -> Option<u8> {
        self.officers
            .iter()
            .position(|o| o == officer)
            .and_then(|i| u8::try_from(i + 1).ok())
    }

    fn aad(&self) -> Result<Vec<u8>, EscrowError> {
        const W: &str = "sealed recovery key associated data";
        let cert_hash = sha256(&self.kra_certificate);
        wire::encode(
            &SealedKeyAad {
                label: wire::utf8(SEALED_KEY_AAD_LABEL, W)?,
                generation: wire::octets(&self.generation.0, W)?,
                threshold: self.threshold,
                officers: self
                    .officers
                    .iter()
                    .map(|o| wire::utf8(o, W))
                    .collect::<Result<_, _>>()?,
                kra_certificate_sha256: wire::octets(&cert_hash, W)?,
            },
            W,
        )
    }

    /// Opens the seal with the rebuilt key-encryption key and checks the key against the
    /// KRA certificate.
    pub(crate) fn open(&self, kek: &[u8]) -> Result<RecoveryKey, EscrowError> {
        let kek: &[u8; KEY_LEN] = kek.try_into().map_err(|_| EscrowError::CombinationFailed)?;
        let pkcs8 = secret::open(kek, &self.aad()?, &self.sealed)
            .map_err(|_| EscrowError::CombinationFailed)?;
        RecoveryKey::new(&self.kra_certificate()?, &pkcs8)
    }
}

/// A fresh split: the sealed recovery key and one sealed share per officer, to be stored
/// together (replacing any previous split).
#[derive(Debug, Clone)]
pub struct RecoverySplit {
    /// The recovery key sealed under the split key.
    pub sealed_key: SealedRecoveryKey,
    /// One share per officer, in index order.
    pub shares: Vec<SealedShare>,
}

/// Splits `recovery` among `officers` so that any `threshold` of them can rebuild it: draws
/// a random 256-bit key `K`, seals the recovery key's PKCS#8 under `K` (AES-256-GCM),
/// splits `K` with Shamir's scheme over GF(2^8) into one share per officer, and seals each
/// share for its officer (passphrase: Argon2id at `cost` + AES-256-GCM; certificate: CMS
/// AuthEnvelopedData). `K` and the plaintext shares exist only in zeroized memory during
/// the call.
///
/// Refused: a threshold outside `1..=officers.len()`, more than 255 officers, duplicate or
/// unusable names, a passphrase shorter than [`crate::MIN_PASSPHRASE_LEN`], an officer
/// certificate that cannot receive encrypted data.
pub fn split(
    recovery: &RecoveryKey,
    threshold: usize,
    officers: &[OfficerSpec<'_>],
    cost: Argon2Cost,
) -> Result<RecoverySplit, EscrowError> {
    let n = officers.len();
    let (m, total) = match (u8::try_from(threshold), u8::try_from(n)) {
        (Ok(m), Ok(total)) if m >= 1 && m <= total => (m, total),
        _ => {
            return Err(EscrowError::InvalidThreshold {
                threshold,
                officers: n,
            });
        }
    };
    let mut seen = std::collections::HashSet::new();
    for o in officers {
        officer::check_officer(o)?;
        if !seen.insert(o.name()) {
            return Err(EscrowError::InvalidOfficer(format!(
                "'{}' appears twice",
                o.name()
            )));
        }
    }
    let generation = Generation::random()?;
    let kek = Zeroizing::new(cachet_crypto::rand::bytes::<KEY_LEN>()?);
    let mut sealed_key = SealedRecoveryKey {
        generation,
        threshold: m,
        officers: officers.iter().map(|o| o.name().to_owned()).collect(),
        kra_certificate: recovery.certificate().der().to_vec(),
        sealed: Vec::new(),
    };
    sealed_key.sealed = secret::seal(&kek, &sealed_key.aad()?, recovery.pkcs8())?;
    let raw = shamir::split(&*kek, m, total)?;
    // Self-check before anything is handed out: the first M shares rebuild K.
    if shamir::combine(&raw, m)?.as_slice() != kek.as_slice() {
        return Err(EscrowError::CombinationFailed);
    }
    let shares = officers
        .iter()
        .zip(raw.iter())
        .map(|(spec, share)| officer::seal_share(spec, &generation, share, cost))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecoverySplit { sealed_key, shares })
}

/// Rotation: splits the recovery key again, for a new roster or threshold. Exactly
/// [`split`]: a new `K` and a new [`Generation`], so that shares of the previous split —
/// whoever still holds them — rebuild a key that opens nothing once the store keeps only the
/// new [`SealedRecoveryKey`], and are refused outright ([`EscrowError::StaleShare`]) by
/// requests made under the new split. `recovery` comes from a completed request.
pub fn reshare(
    recovery: &RecoveryKey,
    threshold: usize,
    officers: &[OfficerSpec<'_>],
    cost: Argon2Cost,
) -> Result<RecoverySplit, EscrowError> {
    split(recovery, threshold, officers, cost)
}
