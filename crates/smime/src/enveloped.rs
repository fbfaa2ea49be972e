//! Encryption for S/MIME: EnvelopedData (RFC 5652 §6) with AES-CBC (RFC 3565) and
//! AuthEnvelopedData (RFC 5083) with AES-GCM (RFC 5084), to RSA, EC and X25519 recipients.
//!
//! [`encrypt`] makes a fresh content-encryption key (CEK), encrypts the content under it and
//! gives the CEK to each recipient in a `RecipientInfo` chosen by the recipient's key:
//!
//! - RSA: `KeyTransRecipientInfo` (RFC 5652 §6.2.1), the CEK encrypted with RSAES-PKCS1-v1_5
//!   (RFC 3370 §4.2.1) or RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 3560 §3, RFC 8551
//!   §2.3);
//! - EC P-256/P-384: `KeyAgreeRecipientInfo` (RFC 5652 §6.2.2) with ephemeral-static ECDH
//!   (RFC 5753 §3.1.1): `dhSinglePass-stdDH-sha256kdf-scheme` (P-256) or `-sha384kdf-scheme`
//!   (P-384), the X9.63 KDF over `ECC-CMS-SharedInfo` (RFC 5753 §7.2) and AES key wrap
//!   (RFC 3394, RFC 3565 §2.3.2) — `id-aes128-wrap` for a 128-bit CEK and `id-aes256-wrap`
//!   for a 256-bit one, as OpenSSL chooses;
//! - X25519: `KeyAgreeRecipientInfo` per RFC 8418 §2 with
//!   `dhSinglePass-stdDH-hkdf-sha256-scheme` (HKDF-SHA-256, no salt, `ECC-CMS-SharedInfo` as
//!   the info) and AES key wrap.
//!
//! Every recipient is named by `issuerAndSerialNumber`, which every client reads. GCM writes
//! a 12-byte random nonce and a 16-byte tag with `aes-ICVlen = 16` spelled out (RFC 5084 §3.2
//! defaults to 12; OpenSSL and Bouncy Castle read only 16).
//!
//! [`decrypt`] reads BER or DER, finds the `RecipientInfo` for the given certificate (by
//! `issuerAndSerialNumber` or `subjectKeyIdentifier`, in key transport and key agreement
//! alike), recovers the CEK and decrypts. It reads more than Cachet writes: AES-192, GCM tags
//! of 12 to 16 bytes, OAEP with SHA-1/256/384/512, the X9.63 KDF with SHA-1 to SHA-512 (the
//! SHA-1 scheme is what OpenSSL and NSS write by default), HKDF-SHA-256/384/512, AES-192 key
//! wrap, and DES-EDE3-CBC for old mail, reported as [`Decrypted::weak`].
//!
//! Decryption leaves no oracle (RFC 3218, DESIGN principle 5): an RSA PKCS#1 v1.5
//! `encryptedKey` that does not decrypt to a well-formed key of the right length yields a
//! substitute key ([`PrivateKey::rsa_pkcs1v15_decrypt_implicit`]), and the content
//! decryption then fails exactly as it does for a wrong key. Every failure that depends on
//! a secret — padding, tag, key unwrap — is the one [`DecryptError::DecryptionFailed`]. A GCM
//! tag that does not verify releases no plaintext.

use crate::ber::BerLimits;
use crate::cms::{
    self, AuthEnvelopedData, CmsContent, CmsError, EccCmsSharedInfo, EncryptedContentInfo,
    EnvelopedData, GcmParameters, IssuerAndSerialNumber, KeyAgreeRecipientIdentifier,
    KeyAgreeRecipientInfo, KeyTransRecipientInfo, OriginatorIdentifierOrKey, OriginatorPublicKey,
    RecipientEncryptedKey, RecipientIdentifier, RecipientInfo, RecipientInfos, RsaesOaepParams,
    decode_parameters, oid,
};
use cachet_crypto::ecdh::{EcdhCurve, EphemeralKey};
use cachet_crypto::kdf::{self, HkdfHash, KdfHash};
use cachet_crypto::rsa_transport::{self, OaepHash};
use cachet_crypto::{KeyType, PrivateKey, content, keywrap};
use cachet_pki::ParsedCertificate;
use cachet_pki::verdict::Code;
use const_oid::ObjectIdentifier;
use der::asn1::{Any, BitString, OctetString, SetOfVec};
use der::{Encode, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::KeyUsages;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------
// Algorithms
// ---------------------------------------------------------------------------------------

/// The content-encryption algorithms Cachet writes (RFC 8551 §2.7: AES-GCM and AES-CBC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentCipher {
    /// AES-256-GCM in AuthEnvelopedData (RFC 5084 §3.2, `id-aes256-GCM`).
    Aes256Gcm,
    /// AES-128-GCM in AuthEnvelopedData (`id-aes128-GCM`).
    Aes128Gcm,
    /// AES-256-CBC in EnvelopedData (RFC 3565 §4.1, `id-aes256-CBC`).
    Aes256Cbc,
    /// AES-128-CBC in EnvelopedData (`id-aes128-CBC`).
    Aes128Cbc,
}

impl ContentCipher {
    /// The content encryption for recipients whose SMIMECapabilities (RFC 8551 §2.5.2) are
    /// known or not (`None`): AES-256-GCM when every recipient advertised it, else
    /// AES-128-GCM when every recipient advertised that, else AES-256-CBC — which RFC 8551
    /// §2.7 obliges every client to read. One unknown recipient means CBC for all: a
    /// message one recipient cannot open is worse than the weaker mode.
    pub fn for_recipients(capabilities: &[Option<&[ObjectIdentifier]>]) -> ContentCipher {
        let all = |o: ObjectIdentifier| {
            !capabilities.is_empty()
                && capabilities
                    .iter()
                    .all(|c| c.is_some_and(|list| list.contains(&o)))
        };
        if all(oid::ID_AES256_GCM) {
            ContentCipher::Aes256Gcm
        } else if all(oid::ID_AES128_GCM) {
            ContentCipher::Aes128Gcm
        } else {
            ContentCipher::Aes256Cbc
        }
    }

    /// Every cipher, strongest first (the order of Cachet's SMIMECapabilities).
    pub const ALL: [ContentCipher; 4] = [
        ContentCipher::Aes256Gcm,
        ContentCipher::Aes128Gcm,
        ContentCipher::Aes256Cbc,
        ContentCipher::Aes128Cbc,
    ];

    /// The name the command line uses (`aes-256-gcm`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "aes-256-gcm",
            Self::Aes128Gcm => "aes-128-gcm",
            Self::Aes256Cbc => "aes-256-cbc",
            Self::Aes128Cbc => "aes-128-cbc",
        }
    }

    /// The content-encryption key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes256Gcm | Self::Aes256Cbc => 32,
            Self::Aes128Gcm | Self::Aes128Cbc => 16,
        }
    }

    /// Whether this is an authenticated cipher, carried in AuthEnvelopedData (RFC 5083).
    pub fn is_authenticated(self) -> bool {
        matches!(self, Self::Aes256Gcm | Self::Aes128Gcm)
    }

    /// The algorithm's object identifier.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Aes256Gcm => oid::ID_AES256_GCM,
            Self::Aes128Gcm => oid::ID_AES128_GCM,
            Self::Aes256Cbc => oid::ID_AES256_CBC,
            Self::Aes128Cbc => oid::ID_AES128_CBC,
        }
    }
}

/// How RSA recipients receive the content-encryption key (RFC 5652 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RsaPadding {
    /// RSAES-PKCS1-v1_5 (`rsaEncryption`, RFC 3370 §4.2.1): what every client reads.
    #[default]
    Pkcs1v15,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (`id-RSAES-OAEP`, RFC 3560 §3, RFC 4055 §4).
    OaepSha256,
}

/// A content-encryption algorithm as found in a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentAlgorithm {
    /// AES-CBC (RFC 3565 §4.1) with a key of `key_len` bytes (16, 24 or 32).
    AesCbc {
        /// Key length in bytes.
        key_len: usize,
    },
    /// AES-GCM (RFC 5084 §3.2) with a key of `key_len` bytes and a tag of `tag_len` (12–16).
    AesGcm {
        /// Key length in bytes.
        key_len: usize,
        /// `aes-ICVlen`.
        tag_len: usize,
    },
    /// DES-EDE3-CBC (RFC 3370 §5.1): read for old mail only, never written.
    DesEde3Cbc,
}

impl ContentAlgorithm {
    /// A short name, e.g. `aes-256-gcm` or `des-ede3-cbc`.
    pub fn name(self) -> String {
        match self {
            Self::AesCbc { key_len } => format!("aes-{}-cbc", key_len * 8),
            Self::AesGcm { key_len, .. } => format!("aes-{}-gcm", key_len * 8),
            Self::DesEde3Cbc => "des-ede3-cbc".into(),
        }
    }

    /// The content-encryption key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::AesCbc { key_len } | Self::AesGcm { key_len, .. } => key_len,
            Self::DesEde3Cbc => content::DES_EDE3_KEY_LEN,
        }
    }

    /// Whether the algorithm is weak (3DES): read with a warning, never written.
    pub fn is_weak(self) -> bool {
        self == Self::DesEde3Cbc
    }

    /// The same algorithm as a [`ContentCipher`], when Cachet also writes it.
    pub fn as_cipher(self) -> Option<ContentCipher> {
        match self {
            Self::AesGcm { key_len: 32, .. } => Some(ContentCipher::Aes256Gcm),
            Self::AesGcm { key_len: 16, .. } => Some(ContentCipher::Aes128Gcm),
            Self::AesCbc { key_len: 32 } => Some(ContentCipher::Aes256Cbc),
            Self::AesCbc { key_len: 16 } => Some(ContentCipher::Aes128Cbc),
            _ => None,
        }
    }
}

/// The key-derivation function of a key-agreement recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgreementKdf {
    /// The ANSI X9.63 KDF (RFC 5753 §7.2, `dhSinglePass-stdDH-sha*kdf-scheme`).
    X963(KdfHash),
    /// HKDF (RFC 8418 §2, `dhSinglePass-stdDH-hkdf-sha*-scheme`).
    Hkdf(HkdfHash),
}

/// How the content-encryption key reached the recipient, as found in a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyManagement {
    /// RSAES-PKCS1-v1_5 key transport.
    RsaPkcs1v15,
    /// RSAES-OAEP key transport with this hash (for both OAEP and MGF1).
    RsaOaep(OaepHash),
    /// Ephemeral-static ECDH on `curve`, the KEK derived with `kdf` and wrapping the CEK with
    /// AES key wrap under a key of `kek_len` bytes.
    Agreement {
        /// The curve.
        curve: EcdhCurve,
        /// The key-derivation function.
        kdf: AgreementKdf,
        /// The key-encryption key length in bytes (16, 24 or 32).
        kek_len: usize,
    },
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Why a message could not be encrypted.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    /// The recipient list is empty.
    #[error("no recipients: a message must be encrypted to at least one certificate")]
    NoRecipients,
    /// A recipient certificate's keyUsage forbids the operation its key needs
    /// (RFC 5280 §4.2.1.3; RFC 8550 §4.4.2).
    #[error(
        "the certificate '{subject}' does not allow {needed} (keyUsage): it is not an encryption certificate; use the recipient's encryption certificate"
    )]
    WrongKeyUsage {
        /// The recipient's subject.
        subject: String,
        /// The keyUsage bit that is missing.
        needed: &'static str,
    },
    /// A recipient certificate's extKeyUsage lacks emailProtection (RFC 8550 §4.4.4).
    #[error(
        "the certificate '{subject}' is not for e-mail (extKeyUsage lacks emailProtection): use the recipient's S/MIME certificate"
    )]
    WrongExtendedKeyUsage {
        /// The recipient's subject.
        subject: String,
    },
    /// A recipient's key is not one Cachet can encrypt to (Ed25519, RSA below 2048 bits…).
    #[error("the certificate '{subject}' has a key Cachet cannot encrypt to: {reason}")]
    UnsupportedKey {
        /// The recipient's subject.
        subject: String,
        /// Why.
        reason: String,
    },
    /// A parameter is outside what the standards allow.
    #[error("invalid {0}")]
    Invalid(String),
    /// Encoding failed.
    #[error(transparent)]
    Cms(#[from] CmsError),
    /// A primitive failed.
    #[error(transparent)]
    Crypto(#[from] cachet_crypto::Error),
}

impl EncryptError {
    /// The finding code of DESIGN.md this error corresponds to.
    pub fn code(&self) -> Code {
        match self {
            Self::WrongKeyUsage { .. } => Code::WrongKeyUsage,
            Self::WrongExtendedKeyUsage { .. } => Code::WrongExtendedKeyUsage,
            _ => Code::Malformed,
        }
    }
}

/// Why a message could not be decrypted. Only [`DecryptionFailed`](Self::DecryptionFailed)
/// depends on a secret, and it says nothing about which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The message has no `RecipientInfo` for this certificate (finding code
    /// `no-recipient-key`).
    #[error("the message is not encrypted to this certificate")]
    NoRecipient,
    /// The private key given does not belong to the certificate given.
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    /// The CMS object is not EnvelopedData or AuthEnvelopedData (e.g. it is SignedData).
    #[error("the CMS object is {0}, not an encrypted message")]
    NotEncrypted(String),
    /// The input is not well-formed.
    #[error("malformed encrypted message: {0}")]
    Malformed(String),
    /// The message uses an algorithm (named with its OID) Cachet does not read.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The content could not be decrypted: wrong key, bad RSA padding, failed key unwrap or
    /// GCM tag — indistinguishable by design. No plaintext is released.
    #[error("decryption failed: the key is wrong or the message was altered")]
    DecryptionFailed,
    /// The message could not be read or the content not written (streaming).
    #[error("{0}")]
    Io(String),
}

impl DecryptError {
    /// The finding code of DESIGN.md this error corresponds to.
    pub fn code(&self) -> Code {
        match self {
            Self::NoRecipient | Self::KeyMismatch => Code::NoRecipientKey,
            _ => Code::Malformed,
        }
    }
}

impl From<CmsError> for DecryptError {
    fn from(e: CmsError) -> Self {
        match e {
            CmsError::Unsupported { what } => Self::Unsupported(what),
            other => Self::Malformed(other.to_string()),
        }
    }
}

fn malformed(what: impl Into<String>) -> DecryptError {
    DecryptError::Malformed(what.into())
}

// ---------------------------------------------------------------------------------------
// Encryption
// ---------------------------------------------------------------------------------------

/// How a recipient gets the content key, decided from its certificate.
enum RecipientKey {
    Rsa,
    Agreement(EcdhCurve),
}

/// Checks that `cert` may receive encrypted mail (RFC 8550 §4.4.2 and §4.4.4) and says how.
fn recipient_key(cert: &ParsedCertificate) -> Result<RecipientKey, EncryptError> {
    let subject = cert.subject();
    let unsupported = |reason: String| EncryptError::UnsupportedKey {
        subject: subject.clone(),
        reason,
    };
    let kt = cert.key_type().map_err(|e| unsupported(e.to_string()))?;
    let (kind, needed, bit) = match kt {
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => (
            RecipientKey::Rsa,
            "key encipherment",
            KeyUsages::KeyEncipherment,
        ),
        KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::X25519 => {
            let curve = EcdhCurve::of_key_type(kt)
                .ok_or_else(|| unsupported(format!("{kt} does not do key agreement")))?;
            (
                RecipientKey::Agreement(curve),
                "key agreement",
                KeyUsages::KeyAgreement,
            )
        }
        KeyType::Ed25519 => {
            return Err(unsupported(
                "an Ed25519 key only signs; the recipient needs an encryption certificate".into(),
            ));
        }
    };
    match cert.key_usage() {
        Ok(Some((_, ku))) if !ku.0.contains(bit) => {
            return Err(EncryptError::WrongKeyUsage { subject, needed });
        }
        Ok(_) => {}
        Err(e) => return Err(unsupported(format!("keyUsage cannot be read: {e}"))),
    }
    match cert.ext_key_usage() {
        Ok(Some((_, eku))) => {
            let any = ObjectIdentifier::new_unwrap("2.5.29.37.0");
            if !eku
                .0
                .iter()
                .any(|o| *o == const_oid::db::rfc5280::ID_KP_EMAIL_PROTECTION || *o == any)
            {
                return Err(EncryptError::WrongExtendedKeyUsage { subject });
            }
        }
        Ok(None) => {}
        Err(e) => return Err(unsupported(format!("extKeyUsage cannot be read: {e}"))),
    }
    Ok(kind)
}

fn der_err(what: &'static str) -> impl Fn(der::Error) -> CmsError {
    move |e| CmsError::malformed(what, e)
}

fn any_of<T: der::Tagged + der::EncodeValue>(
    value: &T,
    what: &'static str,
) -> Result<Any, CmsError> {
    Any::encode_from(value).map_err(der_err(what))
}

fn issuer_and_serial(cert: &ParsedCertificate) -> IssuerAndSerialNumber {
    let tbs = cert.inner().tbs_certificate();
    IssuerAndSerialNumber {
        issuer: tbs.issuer().clone(),
        serial_number: tbs.serial_number().clone(),
    }
}

fn spki_of(cert: &ParsedCertificate) -> Result<Vec<u8>, EncryptError> {
    cert.spki_der().map_err(|e| EncryptError::UnsupportedKey {
        subject: cert.subject(),
        reason: e.to_string(),
    })
}

/// `KeyTransRecipientInfo` (RFC 5652 §6.2.1), version 0 with `issuerAndSerialNumber`.
fn ktri(
    cert: &ParsedCertificate,
    cek: &[u8],
    padding: RsaPadding,
) -> Result<RecipientInfo, EncryptError> {
    let spki = spki_of(cert)?;
    let (enc_key, key_enc_alg) = match padding {
        RsaPadding::Pkcs1v15 => (
            rsa_transport::rsa_pkcs1v15_encrypt(&spki, cek)?,
            // RFC 3370 §4.2.1: the parameters MUST be present and NULL.
            AlgorithmIdentifierOwned {
                oid: oid::RSA_ENCRYPTION,
                parameters: Some(der::asn1::Null.into()),
            },
        ),
        RsaPadding::OaepSha256 => (
            rsa_transport::rsa_oaep_encrypt(&spki, cek, OaepHash::Sha256)?,
            AlgorithmIdentifierOwned {
                oid: oid::ID_RSAES_OAEP,
                parameters: Some(any_of(
                    &RsaesOaepParams::with_hash(oid::ID_SHA256)?,
                    "RSAES-OAEP-params",
                )?),
            },
        ),
    };
    Ok(RecipientInfo::Ktri(KeyTransRecipientInfo {
        version: cms::CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(issuer_and_serial(cert)),
        key_enc_alg,
        enc_key: OctetString::new(enc_key).map_err(der_err("encryptedKey"))?,
    }))
}

/// The AES key-wrap algorithm and KEK length for a CEK of `cek_len` bytes: the wrap of the
/// same strength, as OpenSSL chooses (RFC 5753 §7.1.5 leaves the choice to the sender).
fn wrap_for(cek_len: usize) -> (ObjectIdentifier, usize) {
    if cek_len <= 16 {
        (oid::ID_AES128_WRAP, 16)
    } else if cek_len <= 24 {
        (oid::ID_AES192_WRAP, 24)
    } else {
        (oid::ID_AES256_WRAP, 32)
    }
}

/// The key-agreement scheme Cachet writes for `curve` (RFC 5753 §7.1.4, RFC 8418 §2.1): the
/// X9.63 KDF with the hash of the curve's strength, or HKDF-SHA-256 for X25519.
fn scheme_for(curve: EcdhCurve) -> (ObjectIdentifier, AgreementKdf) {
    match curve {
        EcdhCurve::P256 => (
            oid::DH_SINGLE_PASS_STD_DH_SHA256KDF_SCHEME,
            AgreementKdf::X963(KdfHash::Sha256),
        ),
        EcdhCurve::P384 => (
            oid::DH_SINGLE_PASS_STD_DH_SHA384KDF_SCHEME,
            AgreementKdf::X963(KdfHash::Sha384),
        ),
        EcdhCurve::X25519 => (
            oid::DH_SINGLE_PASS_STD_DH_HKDF_SHA256_SCHEME,
            AgreementKdf::Hkdf(HkdfHash::Sha256),
        ),
    }
}

/// Derives the key-encryption key from the shared secret `z` (RFC 5753 §7.2, RFC 8418 §2).
fn derive_kek(
    kdf: AgreementKdf,
    z: &[u8],
    shared_info: &[u8],
    kek_len: usize,
) -> Result<Zeroizing<Vec<u8>>, cachet_crypto::Error> {
    match kdf {
        AgreementKdf::X963(h) => kdf::x963_kdf(h, z, shared_info, kek_len),
        // RFC 8418 §2: ECC-CMS-SharedInfo is the HKDF info; no salt is used (the user keying
        // material, when present, reaches the KDF through entityUInfo).
        AgreementKdf::Hkdf(h) => kdf::hkdf(h, z, &[], shared_info, kek_len),
    }
}

/// The `originatorKey` algorithm of an ephemeral key on `curve`: `id-ecPublicKey` with
/// absent parameters (RFC 5753 §7.1.1 allows absent; the recipient's curve applies, as
/// OpenSSL writes it), or `id-X25519` with absent parameters (RFC 8418 §2).
fn originator_algorithm(curve: EcdhCurve) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: match curve {
            EcdhCurve::X25519 => oid::ID_X25519,
            EcdhCurve::P256 | EcdhCurve::P384 => oid::ID_EC_PUBLIC_KEY,
        },
        parameters: None,
    }
}

/// `KeyAgreeRecipientInfo` (RFC 5652 §6.2.2, version 3) with a fresh ephemeral key
/// (RFC 5753 §3.1.1, RFC 8418 §2) and one `RecipientEncryptedKey` naming `cert` by
/// `issuerAndSerialNumber`.
fn kari(
    cert: &ParsedCertificate,
    curve: EcdhCurve,
    cek: &[u8],
) -> Result<RecipientInfo, EncryptError> {
    let spki = spki_of(cert)?;
    let eph = EphemeralKey::generate(curve)?;
    let z = eph.agree(&spki)?;
    let (scheme, kdf) = scheme_for(curve);
    let (wrap_oid, kek_len) = wrap_for(cek.len());
    let shared_info = EccCmsSharedInfo::new(wrap_oid, None, (kek_len * 8) as u32)?
        .to_der()
        .map_err(der_err("ECC-CMS-SharedInfo"))?;
    let kek = derive_kek(kdf, &z, &shared_info, kek_len)?;
    let wrapped = keywrap::aes_key_wrap(&kek, cek)?;
    let wrap_alg = AlgorithmIdentifierOwned {
        oid: wrap_oid,
        parameters: None,
    };
    Ok(RecipientInfo::Kari(KeyAgreeRecipientInfo {
        version: cms::CmsVersion::V3,
        originator: OriginatorIdentifierOrKey::OriginatorKey(OriginatorPublicKey {
            algorithm: originator_algorithm(curve),
            public_key: BitString::from_bytes(eph.public_key())
                .map_err(der_err("originatorKey"))?,
        }),
        ukm: None,
        key_enc_alg: AlgorithmIdentifierOwned {
            oid: scheme,
            parameters: Some(any_of(&wrap_alg, "KeyWrapAlgorithm")?),
        },
        recipient_enc_keys: vec![RecipientEncryptedKey {
            rid: KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(issuer_and_serial(cert)),
            enc_key: OctetString::new(wrapped).map_err(der_err("encryptedKey"))?,
        }],
    }))
}

/// One `RecipientInfo` for `cert`, checked for its key usage first.
fn recipient_info(
    cert: &ParsedCertificate,
    cek: &[u8],
    padding: RsaPadding,
) -> Result<RecipientInfo, EncryptError> {
    match recipient_key(cert)? {
        RecipientKey::Rsa => ktri(cert, cek, padding),
        RecipientKey::Agreement(curve) => kari(cert, curve, cek),
    }
}

/// Encrypts `content` to `recipients` and returns the DER `ContentInfo`:
/// `id-ct-authEnvelopedData` (RFC 5083 §2.1) for the GCM ciphers, `id-envelopedData`
/// (RFC 5652 §6.1) for CBC. The encapsulated content type is `id-data`.
///
/// Each recipient certificate must allow the operation its key needs: keyEncipherment for
/// RSA, keyAgreement for EC and X25519 (RFC 5280 §4.2.1.3), and emailProtection when it has
/// an extKeyUsage (RFC 8550 §4.4.4). RSA recipients get PKCS#1 v1.5 or OAEP as
/// `key_transport` says; the choice does not affect EC or X25519 recipients.
pub fn encrypt(
    content: &[u8],
    recipients: &[ParsedCertificate],
    cipher: ContentCipher,
    key_transport: RsaPadding,
) -> Result<Vec<u8>, EncryptError> {
    encrypt_with_tag_len(
        content,
        recipients,
        cipher,
        key_transport,
        GcmParameters::CACHET_ICV_LEN,
    )
}

/// [`encrypt`] with a chosen GCM tag length (12 to 16 octets; ignored for CBC). Cachet writes
/// 16 by default, the only length OpenSSL and Bouncy Castle read; GnuPG 2.2 reads only the
/// RFC 5084 default of 12 (written by omitting aes-ICVlen). One encoding cannot serve both,
/// so the sender chooses (docs/INTEROP.md).
pub fn encrypt_with_tag_len(
    content: &[u8],
    recipients: &[ParsedCertificate],
    cipher: ContentCipher,
    key_transport: RsaPadding,
    gcm_tag_len: u8,
) -> Result<Vec<u8>, EncryptError> {
    let (cek, infos) = make_recipient_infos(recipients, cipher, key_transport, gcm_tag_len)?;
    seal(content, cipher, &cek, infos, None, gcm_tag_len)
}

/// Encrypts `content` under `cek` and assembles the ContentInfo around `infos`. `auth_attrs`
/// (GCM only) become the AAD (RFC 5083 §2.2).
fn seal(
    content: &[u8],
    cipher: ContentCipher,
    cek: &[u8],
    infos: Vec<RecipientInfo>,
    auth_attrs: Option<cms::AuthAttributes>,
    gcm_tag_len: u8,
) -> Result<Vec<u8>, EncryptError> {
    if cipher.is_authenticated() {
        let nonce = cachet_crypto::rand::bytes::<{ GcmParameters::NONCE_LEN }>()?;
        let aad = match &auth_attrs {
            Some(a) => a.to_der().map_err(der_err("authAttrs"))?,
            None => Vec::new(),
        };
        let (ct, tag) = content::aes_gcm_encrypt(cek, &nonce, &aad, content)?;
        // A shorter tag is the leading octets of the full one (SP 800-38D §5.2.1.2).
        let mac = tag[..usize::from(gcm_tag_len)].to_vec();
        envelope_der(cipher, &nonce, infos, auth_attrs, ct, mac)
    } else {
        let iv = cachet_crypto::rand::bytes::<{ content::AES_BLOCK_LEN }>()?;
        let ct = content::aes_cbc_encrypt(cek, &iv, content)?;
        envelope_der(cipher, &iv, infos, None, ct, Vec::new())
    }
}

/// The DER `ContentInfo` around an encrypted content: `id-ct-authEnvelopedData`
/// (RFC 5083 §2.1) with `GCMParameters` and `mac` for the GCM ciphers, `id-envelopedData`
/// (RFC 5652 §6.1) with the IV as parameters (RFC 3565 §4.1) for CBC. The streaming
/// encryptor calls it with an empty `ciphertext` and a zero `mac` and splices the real
/// ones in (see [`crate::stream::envelope`]).
pub(crate) fn envelope_der(
    cipher: ContentCipher,
    iv_or_nonce: &[u8],
    infos: Vec<RecipientInfo>,
    auth_attrs: Option<cms::AuthAttributes>,
    ciphertext: Vec<u8>,
    mac: Vec<u8>,
) -> Result<Vec<u8>, EncryptError> {
    // RFC 5652 §6.1: version 0 when every RecipientInfo is version 0 (KTRI with
    // issuerAndSerialNumber) and there are no originatorInfo or unprotectedAttrs; else 2.
    let all_v0 = infos
        .iter()
        .all(|ri| matches!(ri, RecipientInfo::Ktri(k) if k.version == cms::CmsVersion::V0));
    let recip_infos = RecipientInfos(SetOfVec::try_from(infos).map_err(der_err("RecipientInfos"))?);
    let encrypted_content =
        Some(OctetString::new(ciphertext).map_err(der_err("encryptedContent"))?);
    if cipher.is_authenticated() {
        let mut params = GcmParameters::new(iv_or_nonce)?;
        params.aes_icv_len = u8::try_from(mac.len())
            .map_err(|_| EncryptError::Invalid("a GCM tag longer than 16 octets".into()))?;
        let aed = AuthEnvelopedData {
            // RFC 5083 §2.1: version is always 0.
            version: cms::CmsVersion::V0,
            originator_info: None,
            recip_infos,
            auth_encrypted_content_info: EncryptedContentInfo {
                content_type: oid::ID_DATA,
                content_enc_alg: AlgorithmIdentifierOwned {
                    oid: cipher.oid(),
                    parameters: Some(any_of(&params, "GCMParameters")?),
                },
                encrypted_content,
            },
            auth_attrs,
            mac: OctetString::new(mac).map_err(der_err("mac"))?,
            unauth_attrs: None,
        };
        Ok(cms::encode_content_info(
            oid::ID_CT_AUTH_ENVELOPED_DATA,
            &aed,
        )?)
    } else {
        let ed = EnvelopedData {
            version: if all_v0 {
                cms::CmsVersion::V0
            } else {
                cms::CmsVersion::V2
            },
            originator_info: None,
            recip_infos,
            encrypted_content: EncryptedContentInfo {
                content_type: oid::ID_DATA,
                // RFC 3565 §4.1: the parameters are the IV.
                content_enc_alg: AlgorithmIdentifierOwned {
                    oid: cipher.oid(),
                    parameters: Some(any_of(
                        &OctetString::new(iv_or_nonce).map_err(der_err("IV"))?,
                        "IV",
                    )?),
                },
                encrypted_content,
            },
            unprotected_attrs: None,
        };
        Ok(cms::encode_content_info(oid::ID_ENVELOPED_DATA, &ed)?)
    }
}

/// Checks the request, makes a fresh content-encryption key and a `RecipientInfo` for each
/// recipient: the common start of [`encrypt_with_tag_len`] and the streaming encryptor.
pub(crate) fn make_recipient_infos(
    recipients: &[ParsedCertificate],
    cipher: ContentCipher,
    key_transport: RsaPadding,
    gcm_tag_len: u8,
) -> Result<(Zeroizing<Vec<u8>>, Vec<RecipientInfo>), EncryptError> {
    if !(12..=16).contains(&gcm_tag_len) {
        return Err(EncryptError::Invalid(format!(
            "a GCM tag of {gcm_tag_len} octets (RFC 5084 allows 12 to 16)"
        )));
    }
    if recipients.is_empty() {
        return Err(EncryptError::NoRecipients);
    }
    // Check every recipient before any key is made.
    for r in recipients {
        recipient_key(r)?;
    }
    let mut cek = Zeroizing::new(vec![0u8; cipher.key_len()]);
    cachet_crypto::rand::fill(&mut cek)?;
    let mut infos = Vec::with_capacity(recipients.len());
    for r in recipients {
        infos.push(recipient_info(r, &cek, key_transport)?);
    }
    Ok((cek, infos))
}

// ---------------------------------------------------------------------------------------
// Decryption
// ---------------------------------------------------------------------------------------

/// A decrypted message.
pub struct Decrypted {
    /// The content (for S/MIME, the inner MIME entity). Zeroized on drop.
    pub content: Zeroizing<Vec<u8>>,
    /// The type of the content, from `encryptedContentInfo` (RFC 5652 §6.1): `id-data` for
    /// S/MIME (RFC 8551 §3.3). With CBC nothing authenticates it.
    pub content_type: ObjectIdentifier,
    /// The content-encryption algorithm.
    pub cipher: ContentAlgorithm,
    /// How the content key reached this recipient.
    pub key_management: KeyManagement,
    /// The message used a weak algorithm (3DES): accepted for old mail, to be reported with
    /// a `weak-algorithm` warning.
    pub weak: bool,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the plaintext.
        f.debug_struct("Decrypted")
            .field("content_len", &self.content.len())
            .field("content_type", &self.content_type)
            .field("cipher", &self.cipher)
            .field("key_management", &self.key_management)
            .field("weak", &self.weak)
            .finish()
    }
}

/// The content-encryption algorithm and its IV or nonce.
pub(crate) struct ContentParams {
    pub(crate) alg: ContentAlgorithm,
    pub(crate) iv: Vec<u8>,
}

fn octets_param(alg: &AlgorithmIdentifierOwned, len: usize) -> Result<Vec<u8>, DecryptError> {
    let iv: OctetString = decode_parameters(alg, "IV")?;
    if iv.as_bytes().len() != len {
        return Err(malformed(format!(
            "the IV of {} is {} bytes instead of {len}",
            alg.oid,
            iv.as_bytes().len()
        )));
    }
    Ok(iv.as_bytes().to_vec())
}

/// Reads `contentEncryptionAlgorithm` (RFC 3565 §4.1, RFC 5084 §3.2, RFC 3370 §5.1).
fn content_params(
    alg: &AlgorithmIdentifierOwned,
    authenticated: bool,
) -> Result<ContentParams, DecryptError> {
    let o = alg.oid;
    let cbc_key_len = [
        (oid::ID_AES128_CBC, 16),
        (oid::ID_AES192_CBC, 24),
        (oid::ID_AES256_CBC, 32),
    ]
    .into_iter()
    .find(|(x, _)| *x == o)
    .map(|(_, l)| l);
    let gcm_key_len = [
        (oid::ID_AES128_GCM, 16),
        (oid::ID_AES192_GCM, 24),
        (oid::ID_AES256_GCM, 32),
    ]
    .into_iter()
    .find(|(x, _)| *x == o)
    .map(|(_, l)| l);
    let params = if let Some(key_len) = gcm_key_len {
        if !authenticated {
            return Err(DecryptError::Unsupported(format!(
                "AES-GCM ({o}) in EnvelopedData, which has no place for the tag (RFC 5084 §1 puts GCM in AuthEnvelopedData)"
            )));
        }
        let p = GcmParameters::from_algorithm(alg)?;
        if p.aes_nonce.as_bytes().is_empty() {
            return Err(malformed("the GCM nonce is empty"));
        }
        ContentParams {
            alg: ContentAlgorithm::AesGcm {
                key_len,
                tag_len: usize::from(p.aes_icv_len),
            },
            iv: p.aes_nonce.as_bytes().to_vec(),
        }
    } else if let Some(key_len) = cbc_key_len {
        ContentParams {
            alg: ContentAlgorithm::AesCbc { key_len },
            iv: octets_param(alg, content::AES_BLOCK_LEN)?,
        }
    } else if o == oid::DES_EDE3_CBC {
        ContentParams {
            alg: ContentAlgorithm::DesEde3Cbc,
            iv: octets_param(alg, content::DES_BLOCK_LEN)?,
        }
    } else if o == oid::RC2_CBC {
        return Err(DecryptError::Unsupported(format!(
            "content-encryption algorithm rc2-cbc ({o}): RC2 is broken and not read; ask the sender to use AES"
        )));
    } else {
        return Err(DecryptError::Unsupported(format!(
            "content-encryption algorithm {o}"
        )));
    };
    if authenticated && !matches!(params.alg, ContentAlgorithm::AesGcm { .. }) {
        return Err(malformed(format!(
            "AuthEnvelopedData with {o}, which is not an authenticated cipher (RFC 5083 §2.1)"
        )));
    }
    Ok(params)
}

/// The OAEP hash of RSAES-OAEP-params (RFC 4055 §4.1), whose MGF1 must use the same hash.
fn oaep_params(alg: &AlgorithmIdentifierOwned) -> Result<(OaepHash, Vec<u8>), DecryptError> {
    let p = match &alg.parameters {
        // Absent parameters: RFC 3560 §2.2 says they are present, but read them as the
        // RFC 4055 defaults like other implementations do.
        None => RsaesOaepParams::sha1_defaults()?,
        Some(_) => RsaesOaepParams::from_algorithm(alg)?,
    };
    let hash_of = |o: ObjectIdentifier| {
        [
            (oid::ID_SHA1, OaepHash::Sha1),
            (oid::ID_SHA256, OaepHash::Sha256),
            (oid::ID_SHA384, OaepHash::Sha384),
            (oid::ID_SHA512, OaepHash::Sha512),
        ]
        .into_iter()
        .find(|(x, _)| *x == o)
        .map(|(_, h)| h)
    };
    let hash = hash_of(p.hash_func.oid)
        .ok_or_else(|| DecryptError::Unsupported(format!("RSAES-OAEP hash {}", p.hash_func.oid)))?;
    let mgf = p.mgf1_hash()?;
    if hash_of(mgf.oid) != Some(hash) {
        return Err(DecryptError::Unsupported(format!(
            "RSAES-OAEP with MGF1 over {} but hash {}",
            mgf.oid, p.hash_func.oid
        )));
    }
    let label = p.label()?;
    Ok((hash, label))
}

/// The KDF of a key-agreement scheme OID (RFC 5753 §7.1.4, RFC 8418 §2.1).
fn agreement_kdf(o: ObjectIdentifier) -> Option<AgreementKdf> {
    [
        (
            oid::DH_SINGLE_PASS_STD_DH_SHA1KDF_SCHEME,
            AgreementKdf::X963(KdfHash::Sha1),
        ),
        (
            oid::DH_SINGLE_PASS_STD_DH_SHA224KDF_SCHEME,
            AgreementKdf::X963(KdfHash::Sha224),
        ),
        (
            oid::DH_SINGLE_PASS_STD_DH_SHA256KDF_SCHEME,
            AgreementKdf::X963(KdfHash::Sha256),
        ),
        (
            oid::DH_SINGLE_PASS_STD_DH_SHA384KDF_SCHEME,
            AgreementKdf::X963(KdfHash::Sha384),
        ),
        (
            oid::DH_SINGLE_PASS_STD_DH_SHA512KDF_SCHEME,
            AgreementKdf::X963(KdfHash::Sha512),
        ),
        (
            oid::DH_SINGLE_PASS_STD_DH_HKDF_SHA256_SCHEME,
            AgreementKdf::Hkdf(HkdfHash::Sha256),
        ),
        (
            oid::DH_SINGLE_PASS_STD_DH_HKDF_SHA384_SCHEME,
            AgreementKdf::Hkdf(HkdfHash::Sha384),
        ),
        (
            oid::DH_SINGLE_PASS_STD_DH_HKDF_SHA512_SCHEME,
            AgreementKdf::Hkdf(HkdfHash::Sha512),
        ),
    ]
    .into_iter()
    .find(|(x, _)| *x == o)
    .map(|(_, k)| k)
}

/// The KEK length of an AES key-wrap algorithm (RFC 3565 §2.3.2).
fn wrap_kek_len(o: ObjectIdentifier) -> Option<usize> {
    [
        (oid::ID_AES128_WRAP, 16),
        (oid::ID_AES192_WRAP, 24),
        (oid::ID_AES256_WRAP, 32),
    ]
    .into_iter()
    .find(|(x, _)| *x == o)
    .map(|(_, l)| l)
}

/// The recipient's certificate as `decrypt` matches it.
struct Me<'a> {
    cert: &'a ParsedCertificate,
    ski: Option<Vec<u8>>,
}

impl Me<'_> {
    fn is_issuer_serial(&self, isn: &IssuerAndSerialNumber) -> bool {
        let tbs = self.cert.inner().tbs_certificate();
        isn.serial_number == *tbs.serial_number() && isn.issuer == *tbs.issuer()
    }

    fn is_ski(&self, ski: &[u8]) -> bool {
        self.ski.as_deref() == Some(ski)
    }

    fn is_rid(&self, rid: &RecipientIdentifier) -> bool {
        match rid {
            RecipientIdentifier::IssuerAndSerialNumber(isn) => self.is_issuer_serial(isn),
            RecipientIdentifier::SubjectKeyIdentifier(ski) => self.is_ski(ski.0.as_bytes()),
        }
    }

    fn is_kari_rid(&self, rid: &KeyAgreeRecipientIdentifier) -> bool {
        match rid {
            KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(isn) => self.is_issuer_serial(isn),
            KeyAgreeRecipientIdentifier::RKeyId(r) => {
                self.is_ski(r.subject_key_identifier.0.as_bytes())
            }
        }
    }
}

/// The `RecipientInfo` addressed to `me`, with the encrypted key.
enum Found<'a> {
    Ktri(&'a KeyTransRecipientInfo),
    Kari(&'a KeyAgreeRecipientInfo, &'a OctetString),
}

fn find_recipient<'a>(infos: &'a RecipientInfos, me: &Me<'_>) -> Option<Found<'a>> {
    infos.0.iter().find_map(|ri| match ri {
        RecipientInfo::Ktri(k) if me.is_rid(&k.rid) => Some(Found::Ktri(k)),
        RecipientInfo::Kari(k) => k
            .recipient_enc_keys
            .iter()
            .find(|rek| me.is_kari_rid(&rek.rid))
            .map(|rek| Found::Kari(k, &rek.enc_key)),
        _ => None,
    })
}

/// Key transport (RFC 5652 §6.2.1): RSA PKCS#1 v1.5 with implicit rejection, or OAEP.
fn unwrap_ktri(
    k: &KeyTransRecipientInfo,
    key: &PrivateKey,
    cek_len: usize,
) -> Result<(Zeroizing<Vec<u8>>, KeyManagement), DecryptError> {
    if !key.key_type().is_rsa() {
        return Err(malformed(
            "key transport to a certificate whose key is not RSA",
        ));
    }
    let ct = k.enc_key.as_bytes();
    if k.key_enc_alg.oid == oid::RSA_ENCRYPTION {
        // RFC 3218 §2.3.2: never say whether the padding was good; a bad one gives a
        // substitute key, and the content decryption fails like any wrong key.
        let cek = key
            .rsa_pkcs1v15_decrypt_implicit(ct, cek_len)
            .map_err(|_| DecryptError::DecryptionFailed)?;
        Ok((cek, KeyManagement::RsaPkcs1v15))
    } else if k.key_enc_alg.oid == oid::ID_RSAES_OAEP {
        let (hash, label) = oaep_params(&k.key_enc_alg)?;
        let cek = key
            .rsa_oaep_decrypt_with_label(ct, hash, &label)
            .map_err(|_| DecryptError::DecryptionFailed)?;
        if cek.len() != cek_len {
            return Err(DecryptError::DecryptionFailed);
        }
        Ok((cek, KeyManagement::RsaOaep(hash)))
    } else {
        Err(DecryptError::Unsupported(format!(
            "key-transport algorithm {}",
            k.key_enc_alg.oid
        )))
    }
}

/// Key agreement (RFC 5652 §6.2.2): ephemeral-static ECDH (RFC 5753 §3.1.2) or X25519
/// (RFC 8418 §2), the KDF over ECC-CMS-SharedInfo, then AES key unwrap.
fn unwrap_kari(
    k: &KeyAgreeRecipientInfo,
    enc_key: &OctetString,
    key: &PrivateKey,
    cek_len: usize,
) -> Result<(Zeroizing<Vec<u8>>, KeyManagement), DecryptError> {
    let curve = EcdhCurve::of_key_type(key.key_type())
        .ok_or_else(|| malformed("key agreement to a certificate whose key is not EC or X25519"))?;
    let OriginatorIdentifierOrKey::OriginatorKey(orig) = &k.originator else {
        return Err(DecryptError::Unsupported(
            "static-static key agreement (an originator named by certificate, RFC 5753 §3.2); only ephemeral-static is read".into(),
        ));
    };
    let expected_alg = originator_algorithm(curve).oid;
    if orig.algorithm.oid != expected_alg {
        return Err(malformed(format!(
            "the originator key is {} but the recipient's key needs {expected_alg}",
            orig.algorithm.oid
        )));
    }
    // RFC 5753 §7.1.1: absent, NULL, or the parameters of the recipient's curve.
    if let Some(p) = &orig.algorithm.parameters
        && p.tag() != Tag::Null
    {
        let named = p
            .decode_as::<ObjectIdentifier>()
            .map_err(|_| malformed("the originator key's parameters are not a named curve"))?;
        let mine = match curve {
            EcdhCurve::P256 => const_oid::db::rfc5912::SECP_256_R_1,
            EcdhCurve::P384 => const_oid::db::rfc5912::SECP_384_R_1,
            EcdhCurve::X25519 => oid::ID_X25519,
        };
        if named != mine {
            return Err(malformed(
                "the originator key is on another curve than the recipient's key",
            ));
        }
    }
    let point = orig
        .public_key
        .as_bytes()
        .ok_or_else(|| malformed("the originator key has unused bits"))?;
    let kdf = agreement_kdf(k.key_enc_alg.oid).ok_or_else(|| {
        DecryptError::Unsupported(format!("key-agreement algorithm {}", k.key_enc_alg.oid))
    })?;
    let wrap_alg: AlgorithmIdentifierOwned = decode_parameters(&k.key_enc_alg, "KeyWrapAlgorithm")?;
    let kek_len = wrap_kek_len(wrap_alg.oid)
        .ok_or_else(|| DecryptError::Unsupported(format!("key-wrap algorithm {}", wrap_alg.oid)))?;
    let z = key.ecdh(point).map_err(|_| {
        malformed("the originator key is not a valid point of the recipient's curve")
    })?;
    // RFC 5753 §7.2: keyInfo is the key-wrap algorithm as the sender wrote it.
    let shared_info = EccCmsSharedInfo {
        key_info: wrap_alg,
        entity_u_info: k.ukm.clone(),
        supp_pub_info: OctetString::new(((kek_len * 8) as u32).to_be_bytes())
            .map_err(|e| malformed(e.to_string()))?,
    }
    .to_der()
    .map_err(|e| malformed(e.to_string()))?;
    let kek = derive_kek(kdf, &z, &shared_info, kek_len)
        .map_err(|_| malformed("key derivation parameters"))?;
    let cek = keywrap::aes_key_unwrap(&kek, enc_key.as_bytes())
        .map_err(|_| DecryptError::DecryptionFailed)?;
    if cek.len() != cek_len {
        return Err(DecryptError::DecryptionFailed);
    }
    Ok((
        cek,
        KeyManagement::Agreement {
            curve,
            kdf,
            kek_len,
        },
    ))
}

/// Decrypts the content with the recovered key. Every failure is `DecryptionFailed`.
fn decrypt_content(
    params: &ContentParams,
    cek: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
    mac: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let failed = |_| DecryptError::DecryptionFailed;
    match params.alg {
        ContentAlgorithm::AesCbc { .. } => {
            let iv: &[u8; content::AES_BLOCK_LEN] = params
                .iv
                .as_slice()
                .try_into()
                .map_err(|_| malformed("IV length"))?;
            content::aes_cbc_decrypt(cek, iv, ciphertext).map_err(failed)
        }
        ContentAlgorithm::DesEde3Cbc => {
            let iv: &[u8; content::DES_BLOCK_LEN] = params
                .iv
                .as_slice()
                .try_into()
                .map_err(|_| malformed("IV length"))?;
            content::des_ede3_cbc_decrypt(cek, iv, ciphertext).map_err(failed)
        }
        ContentAlgorithm::AesGcm { .. } => {
            let tag = mac.ok_or_else(|| malformed("AuthEnvelopedData without a mac"))?;
            // aes_gcm_decrypt checks the tag before it returns any plaintext.
            content::aes_gcm_decrypt(cek, &params.iv, aad, ciphertext, tag).map_err(failed)
        }
    }
}

/// Decrypts an EnvelopedData (RFC 5652 §6) or AuthEnvelopedData (RFC 5083) `ContentInfo`,
/// BER or DER, addressed to `my_cert`, whose private key is `my_key`.
///
/// The `RecipientInfo` is found by `issuerAndSerialNumber` or `subjectKeyIdentifier`
/// (RFC 5652 §6.2.1, §6.2.2); none is [`DecryptError::NoRecipient`]. The content key is
/// recovered with RSA (PKCS#1 v1.5 with implicit rejection, or OAEP) or ECDH/X25519 with the
/// scheme's KDF and AES key unwrap, and the content decrypted with AES-CBC, AES-GCM (tag of
/// `aes-ICVlen` bytes, 12 when absent; the AAD is the received `authAttrs` re-tagged as a
/// SET, RFC 5083 §2.2) or, for old mail, DES-EDE3-CBC ([`Decrypted::weak`]).
pub fn decrypt(
    cms_ber: &[u8],
    my_cert: &ParsedCertificate,
    my_key: &PrivateKey,
    limits: &BerLimits,
) -> Result<Decrypted, DecryptError> {
    if my_cert.spki_der().ok().as_deref() != Some(my_key.public_key_der()) {
        return Err(DecryptError::KeyMismatch);
    }
    let decoded = cms::decode_content_info(cms_ber, limits)?;
    let (infos, eci, mac, aad) = match &decoded.content {
        CmsContent::EnvelopedData(ed) => (&ed.recip_infos, &ed.encrypted_content, None, None),
        CmsContent::AuthEnvelopedData {
            auth_enveloped_data,
            auth_attrs_encoding,
        } => (
            &auth_enveloped_data.recip_infos,
            &auth_enveloped_data.auth_encrypted_content_info,
            Some(auth_enveloped_data.mac.as_bytes()),
            auth_attrs_encoding.as_deref(),
        ),
        CmsContent::SignedData { .. } => {
            return Err(DecryptError::NotEncrypted("SignedData".into()));
        }
        CmsContent::Data(_) => return Err(DecryptError::NotEncrypted("Data".into())),
    };
    // RFC 5083 §2.1: with a content type other than id-data, the type must be protected by
    // authAttrs; otherwise it is unauthenticated and must not be trusted.
    if mac.is_some() && aad.is_none() && eci.content_type != oid::ID_DATA {
        return Err(malformed(format!(
            "AuthEnvelopedData of content type {} without authenticated attributes (RFC 5083 §2.1)",
            eci.content_type
        )));
    }
    let ciphertext = eci
        .encrypted_content
        .as_ref()
        .map(OctetString::as_bytes)
        .ok_or_else(|| {
            malformed("the encrypted content is absent (detached content is not read)")
        })?;
    let opened = open_envelope(infos, eci, mac.is_some(), my_cert, my_key)?;
    check_mac_len(&opened, mac)?;
    let content = decrypt_content(
        &opened.params,
        &opened.cek,
        ciphertext,
        aad.unwrap_or_default(),
        mac,
    )?;
    Ok(Decrypted {
        content,
        content_type: opened.content_type,
        cipher: opened.params.alg,
        key_management: opened.key_management,
        weak: opened.params.alg.is_weak(),
    })
}

/// An envelope opened for one recipient: the content key and how to use it.
pub(crate) struct Opened {
    pub(crate) params: ContentParams,
    pub(crate) cek: Zeroizing<Vec<u8>>,
    pub(crate) key_management: KeyManagement,
    pub(crate) content_type: ObjectIdentifier,
}

/// Finds the `RecipientInfo` of `my_cert` among `infos` and recovers the content key for the
/// algorithm of `eci`: everything of decryption but the content itself, shared by
/// [`decrypt`] and the streaming decryptor.
pub(crate) fn open_envelope(
    infos: &RecipientInfos,
    eci: &EncryptedContentInfo,
    authenticated: bool,
    my_cert: &ParsedCertificate,
    my_key: &PrivateKey,
) -> Result<Opened, DecryptError> {
    if my_cert.spki_der().ok().as_deref() != Some(my_key.public_key_der()) {
        return Err(DecryptError::KeyMismatch);
    }
    let params = content_params(&eci.content_enc_alg, authenticated)?;
    let me = Me {
        cert: my_cert,
        ski: my_cert.subject_key_id().ok().flatten(),
    };
    let found = find_recipient(infos, &me).ok_or(DecryptError::NoRecipient)?;
    let cek_len = params.alg.key_len();
    let (cek, key_management) = match found {
        Found::Ktri(k) => unwrap_ktri(k, my_key, cek_len)?,
        Found::Kari(k, enc_key) => unwrap_kari(k, enc_key, my_key, cek_len)?,
    };
    Ok(Opened {
        params,
        cek,
        key_management,
        content_type: eci.content_type,
    })
}

/// The received mac must be as long as `aes-ICVlen` says (RFC 5084 §3.2).
pub(crate) fn check_mac_len(opened: &Opened, mac: Option<&[u8]>) -> Result<(), DecryptError> {
    if let (Some(tag), ContentAlgorithm::AesGcm { tag_len, .. }) = (mac, opened.params.alg)
        && tag.len() != tag_len
    {
        return Err(malformed(format!(
            "the mac is {} bytes but aes-ICVlen says {tag_len}",
            tag.len()
        )));
    }
    Ok(())
}

/// Content decryption in pieces, for the streaming decryptor: CBC (AES or, for old mail,
/// DES-EDE3) or GCM whose tag is checked at [`finish`](Self::finish).
pub(crate) enum ContentDecryptor {
    Cbc(content::CbcDecryptor),
    Gcm(Box<content::GcmDecryptor>),
}

impl ContentDecryptor {
    /// A decryptor for `opened`, with `aad` for GCM (RFC 5083 §2.2).
    pub(crate) fn new(opened: &Opened, aad: &[u8]) -> Result<Self, DecryptError> {
        let failed = |_| DecryptError::DecryptionFailed;
        let iv = &opened.params.iv;
        let cek = &opened.cek[..];
        Ok(match opened.params.alg {
            ContentAlgorithm::AesCbc { .. } => {
                let iv = iv
                    .as_slice()
                    .try_into()
                    .map_err(|_| malformed("IV length"))?;
                Self::Cbc(content::CbcDecryptor::aes(cek, iv).map_err(failed)?)
            }
            ContentAlgorithm::DesEde3Cbc => {
                let iv = iv
                    .as_slice()
                    .try_into()
                    .map_err(|_| malformed("IV length"))?;
                Self::Cbc(content::CbcDecryptor::des_ede3(cek, iv).map_err(failed)?)
            }
            ContentAlgorithm::AesGcm { tag_len, .. } => {
                let mut d = content::GcmDecryptor::new(cek, iv, tag_len).map_err(failed)?;
                d.set_aad(aad).map_err(failed)?;
                Self::Gcm(Box::new(d))
            }
        })
    }

    /// Decrypts the next ciphertext bytes into `out` (GCM: not yet authenticated).
    pub(crate) fn update(
        &mut self,
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptError> {
        let failed = |_| DecryptError::DecryptionFailed;
        match self {
            Self::Cbc(d) => d.update(ciphertext, out).map_err(failed),
            Self::Gcm(d) => d.update_unverified(ciphertext, out).map_err(failed),
        }
    }

    /// Ends the content: CBC padding checked (and the last block written), or the GCM tag
    /// verified. Any failure is the one [`DecryptError::DecryptionFailed`].
    pub(crate) fn finish(self, mac: Option<&[u8]>, out: &mut Vec<u8>) -> Result<(), DecryptError> {
        let failed = |_| DecryptError::DecryptionFailed;
        match self {
            Self::Cbc(d) => d.finish(out).map_err(failed),
            Self::Gcm(d) => d
                .finish(mac.ok_or_else(|| malformed("AuthEnvelopedData without a mac"))?)
                .map_err(failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_only_when_every_recipient_advertised_it() {
        let both = [oid::ID_AES256_GCM, oid::ID_AES128_GCM, oid::ID_AES256_CBC];
        let only128 = [oid::ID_AES128_GCM, oid::ID_AES256_CBC];
        let cbc = [oid::ID_AES256_CBC, oid::ID_AES128_CBC];
        let pick = ContentCipher::for_recipients;
        assert_eq!(pick(&[Some(&both[..])]), ContentCipher::Aes256Gcm);
        assert_eq!(
            pick(&[Some(&both[..]), Some(&only128[..])]),
            ContentCipher::Aes128Gcm
        );
        assert_eq!(
            pick(&[Some(&both[..]), Some(&cbc[..])]),
            ContentCipher::Aes256Cbc
        );
        assert_eq!(pick(&[Some(&both[..]), None]), ContentCipher::Aes256Cbc);
        assert_eq!(pick(&[]), ContentCipher::Aes256Cbc);
    }
    use cachet_pki::issue::{random_serial, sign_certificate};
    use cachet_pki::name::NameBuilder;
    use cachet_pki::profile::root_ca_template;
    use x509_cert::attr::Attribute;

    /// A self-signed certificate for `key` (decrypt does not look at keyUsage).
    fn self_signed(key: &PrivateKey) -> ParsedCertificate {
        let signer = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let name = NameBuilder::new()
            .common_name("Unit")
            .unwrap()
            .to_der()
            .unwrap();
        let t = root_ca_template(
            name.clone(),
            key.public_key_der().to_vec(),
            random_serial().unwrap().to_vec(),
            1_700_000_000,
        )
        .unwrap();
        ParsedCertificate::from_der(&sign_certificate(&t, &name, &signer).unwrap()).unwrap()
    }

    #[test]
    fn auth_attrs_are_the_aad_and_are_authenticated() {
        for kt in [KeyType::EcdsaP256, KeyType::X25519] {
            let key = PrivateKey::generate(kt).unwrap();
            let cert = self_signed(&key);
            let curve = EcdhCurve::of_key_type(kt).unwrap();
            let cek = [0x42u8; 32];
            let mut attrs = SetOfVec::new();
            let mut values = SetOfVec::new();
            values
                .insert(Any::encode_from(&oid::ID_DATA).unwrap())
                .unwrap();
            attrs
                .insert(Attribute {
                    oid: oid::ID_CONTENT_TYPE,
                    values,
                })
                .unwrap();
            let ri = kari(&cert, curve, &cek).unwrap();
            let der = seal(
                b"hello",
                ContentCipher::Aes256Gcm,
                &cek,
                vec![ri],
                Some(attrs),
                16,
            )
            .unwrap();
            let d = decrypt(&der, &cert, &key, &BerLimits::default()).unwrap();
            assert_eq!(&d.content[..], b"hello");
            // The streaming decryptor meets authAttrs after the content, and starts again.
            let src: &[u8] = &der;
            let input = crate::stream::envelope::CmsInput {
                src: &src,
                range: 0..der.len() as u64,
                base64: false,
            };
            let mut out = crate::stream::Plaintext::default();
            crate::stream::envelope::decrypt(&input, &[(&cert, &key)], &mut out).unwrap();
            assert_eq!(&out[..], b"hello");
            // Change the attribute value's OID (id-data 1.2.840.113549.1.7.1 → .7.2): the tag
            // no longer verifies.
            let pos = der
                .windows(11)
                .rposition(|w| {
                    w == [
                        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
                    ]
                })
                .unwrap();
            let mut bad = der.clone();
            bad[pos + 10] = 0x02;
            assert_eq!(
                decrypt(&bad, &cert, &key, &BerLimits::default()).unwrap_err(),
                DecryptError::DecryptionFailed
            );
            let src: &[u8] = &bad;
            let input = crate::stream::envelope::CmsInput {
                src: &src,
                range: 0..bad.len() as u64,
                base64: false,
            };
            assert_eq!(
                crate::stream::envelope::decrypt(&input, &[(&cert, &key)], &mut out).unwrap_err(),
                DecryptError::DecryptionFailed
            );
        }
    }

    #[test]
    fn des_ede3_old_mail_is_read_and_flagged_weak() {
        // The DES-EDE3-CBC vector of cachet-crypto's content tests (pyca/cryptography), as
        // the content of an EnvelopedData whose 24-byte key reaches a P-256 recipient with
        // AES-192 key wrap.
        let cek = hex::decode("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
        let iv = hex::decode("1234567890abcdef").unwrap();
        let ct = hex::decode(
            "d3aeeb5747fb6c52dfa2d128b47b7e13b5315e9eb57c0309724a20baa9fe203c\
             4ac28660c3e1c001f73d1559312b9902fd1f0f18dedefe62",
        )
        .unwrap();
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let cert = self_signed(&key);
        let ri = kari(&cert, EcdhCurve::P256, &cek).unwrap();
        let RecipientInfo::Kari(k) = &ri else {
            unreachable!()
        };
        let wrap: AlgorithmIdentifierOwned = decode_parameters(&k.key_enc_alg, "wrap").unwrap();
        assert_eq!(wrap.oid, oid::ID_AES192_WRAP);
        let ed = EnvelopedData {
            version: cms::CmsVersion::V2,
            originator_info: None,
            recip_infos: RecipientInfos(SetOfVec::try_from(vec![ri]).unwrap()),
            encrypted_content: EncryptedContentInfo {
                content_type: oid::ID_DATA,
                content_enc_alg: AlgorithmIdentifierOwned {
                    oid: oid::DES_EDE3_CBC,
                    parameters: Some(Any::encode_from(&OctetString::new(iv).unwrap()).unwrap()),
                },
                encrypted_content: Some(OctetString::new(ct).unwrap()),
            },
            unprotected_attrs: None,
        };
        let der = cms::encode_content_info(oid::ID_ENVELOPED_DATA, &ed).unwrap();
        let d = decrypt(&der, &cert, &key, &BerLimits::default()).unwrap();
        assert_eq!(
            &d.content[..],
            b"Old mail from 2009, encrypted with des-ede3-cbc."
        );
        assert!(d.weak);
        assert_eq!(d.cipher, ContentAlgorithm::DesEde3Cbc);
        assert_eq!(
            d.key_management,
            KeyManagement::Agreement {
                curve: EcdhCurve::P256,
                kdf: AgreementKdf::X963(KdfHash::Sha256),
                kek_len: 24
            }
        );
    }

    #[test]
    fn scheme_and_wrap_choices() {
        assert_eq!(wrap_for(16), (oid::ID_AES128_WRAP, 16));
        assert_eq!(wrap_for(32), (oid::ID_AES256_WRAP, 32));
        assert_eq!(
            scheme_for(EcdhCurve::P384).0,
            oid::DH_SINGLE_PASS_STD_DH_SHA384KDF_SCHEME
        );
        for c in ContentCipher::ALL {
            let alg = AlgorithmIdentifierOwned {
                oid: c.oid(),
                parameters: None,
            };
            assert!(content_params(&alg, c.is_authenticated()).is_err());
        }
    }

    #[test]
    fn twelve_octet_gcm_tags_for_gnupg() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let cert = self_signed(&key);
        let cek = [0x24u8; 32];
        let ri = kari(&cert, EcdhCurve::P256, &cek).unwrap();
        let der = seal(
            b"for gpgsm",
            ContentCipher::Aes256Gcm,
            &cek,
            vec![ri],
            None,
            12,
        )
        .unwrap();
        let decoded = cms::decode_content_info(&der, &BerLimits::default()).unwrap();
        let CmsContent::AuthEnvelopedData {
            auth_enveloped_data,
            ..
        } = decoded.content
        else {
            panic!("not AuthEnvelopedData")
        };
        assert_eq!(auth_enveloped_data.mac.as_bytes().len(), 12);
        let params = GcmParameters::from_algorithm(
            &auth_enveloped_data
                .auth_encrypted_content_info
                .content_enc_alg,
        )
        .unwrap();
        assert_eq!(params.aes_icv_len, 12);
        assert_eq!(
            &decrypt(&der, &cert, &key, &BerLimits::default())
                .unwrap()
                .content[..],
            b"for gpgsm"
        );
        let e = encrypt_with_tag_len(
            b"x",
            &[cert],
            ContentCipher::Aes256Gcm,
            RsaPadding::Pkcs1v15,
            11,
        );
        assert!(matches!(e, Err(EncryptError::Invalid(_))));
    }
}
