//! Recovery officers and their sealed shares.
//!
//! Each officer holds one Shamir share of the key-encryption key that seals the recovery key
//! (see [`crate::split`]). The share is stored sealed for that officer alone:
//!
//! - **passphrase officers**: AES-256-GCM under a key derived from the passphrase with
//!   Argon2id (RFC 9106), a fresh 16-byte salt per share, the cost parameters recorded beside
//!   the ciphertext; the associated data names the split, the officer, the share index and
//!   the parameters, so a share moved to another officer's row or split does not open;
//! - **certificate officers**: CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM (RFC 5084)
//!   to the officer's own encryption certificate — RSA-OAEP (RFC 3560) or ECDH (RFC 5753) —
//!   written by `cachet-smime`, so the officer can even open it with `openssl cms -decrypt`.
//!
//! Either way the plaintext is a `ShareContent` that names the split, the officer and the
//! index again; opening checks them against the record, since CMS cannot bind associated
//! data of ours.
//!
//! ```text
//! SealedShare ::= SEQUENCE {
//!     version     INTEGER (1),
//!     generation  OCTET STRING (SIZE (16)),   -- which split
//!     officer     UTF8String,
//!     index       INTEGER (1..255),           -- the Shamir x-coordinate
//!     scheme      INTEGER { passphrase(1), certificate(2) },
//!     blob        OCTET STRING }              -- PassphraseSealed or CertificateSealed
//! PassphraseSealed ::= SEQUENCE {
//!     version INTEGER (1), memoryKiB INTEGER, iterations INTEGER, parallelism INTEGER,
//!     salt OCTET STRING, sealed OCTET STRING } -- nonce ‖ AES-256-GCM(ShareContent) ‖ tag
//! CertificateSealed ::= SEQUENCE {
//!     version INTEGER (1), officerCertificate OCTET STRING, -- DER
//!     envelope OCTET STRING }                               -- ContentInfo(AuthEnvelopedData)
//! ShareContent ::= SEQUENCE {
//!     version INTEGER (1), generation OCTET STRING, officer UTF8String, index INTEGER,
//!     value OCTET STRING }                    -- the share's y bytes
//! ```

use crate::shamir::RawShare;
use crate::wire::{self, V1};
use crate::{EscrowError, Generation};
use cachet_crypto::PrivateKey;
use cachet_crypto::secret::{self, Argon2Params};
use cachet_pki::ParsedCertificate;
use cachet_smime::ber::BerLimits;
use cachet_smime::enveloped::{self, ContentCipher, DecryptError, RsaPadding};
use der::Sequence;
use der::asn1::{OctetStringRef, Utf8StringRef};
use std::fmt;
use zeroize::Zeroizing;

/// Shortest officer passphrase accepted when sealing a share, in bytes. A share is the only
/// thing between a stolen database and one of M pieces of the recovery key; Argon2id slows
/// guessing, it cannot make a short passphrase long.
pub const MIN_PASSPHRASE_LEN: usize = 12;

/// Longest officer name, in bytes.
pub const MAX_OFFICER_NAME_LEN: usize = 128;

/// Argon2id cost of sealing passphrase shares, checked against a floor.
///
/// Production code gets its values only through [`Argon2Cost::strong`] (the default) or
/// [`Argon2Cost::new`], which refuses anything below [`Argon2Cost::FLOOR`]. Tests may use
/// `Argon2Cost::insecure_for_tests`, which exists only in this crate's tests and with the
/// `insecure-test-kdf` feature (for other crates' `[dev-dependencies]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost(Argon2Params);

impl Argon2Cost {
    /// The floor: 19 MiB of memory and 2 passes (one lane or more), the weakest Argon2id
    /// configuration the OWASP Password Storage Cheat Sheet accepts. RFC 9106 §4 recommends
    /// more — its second option, 64 MiB and 3 passes, is [`Argon2Cost::strong`].
    pub const FLOOR: Argon2Params = Argon2Params {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The most that opening a share will spend, whatever a (possibly altered) record asks:
    /// 4 GiB, 64 passes, 64 lanes.
    pub const CEILING: Argon2Params = Argon2Params {
        memory_kib: 4 * 1024 * 1024,
        iterations: 64,
        parallelism: 64,
    };

    /// RFC 9106 §4, second recommended option: 64 MiB, 3 passes, 4 lanes (the parameters of
    /// `cachet_crypto::secret::Argon2Params::default`).
    pub fn strong() -> Self {
        Argon2Cost(Argon2Params::default())
    }

    /// Custom parameters, refused below [`Self::FLOOR`] or above [`Self::CEILING`].
    pub fn new(params: Argon2Params) -> Result<Self, EscrowError> {
        if params.memory_kib < Self::FLOOR.memory_kib
            || params.iterations < Self::FLOOR.iterations
            || params.parallelism < Self::FLOOR.parallelism
        {
            return Err(EscrowError::Argon2Parameters(format!(
                "{} KiB, {} passes, {} lanes is below the floor of {} KiB, {} passes, {} lane",
                params.memory_kib,
                params.iterations,
                params.parallelism,
                Self::FLOOR.memory_kib,
                Self::FLOOR.iterations,
                Self::FLOOR.parallelism
            )));
        }
        check_ceiling(params)?;
        Ok(Argon2Cost(params))
    }

    /// Any parameters, for tests only: a debug build spends seconds on 64 MiB.
    #[cfg(any(test, feature = "insecure-test-kdf"))]
    pub fn insecure_for_tests(params: Argon2Params) -> Self {
        Argon2Cost(params)
    }

    /// The parameters.
    pub fn params(self) -> Argon2Params {
        self.0
    }
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Self::strong()
    }
}

fn check_ceiling(p: Argon2Params) -> Result<(), EscrowError> {
    let c = Argon2Cost::CEILING;
    if p.memory_kib > c.memory_kib || p.iterations > c.iterations || p.parallelism > c.parallelism {
        return Err(EscrowError::Argon2Parameters(format!(
            "{} KiB, {} passes, {} lanes is above the ceiling of {} KiB, {} passes, {} lanes",
            p.memory_kib, p.iterations, p.parallelism, c.memory_kib, c.iterations, c.parallelism
        )));
    }
    Ok(())
}

/// An officer to seal a share for, when splitting.
#[derive(Clone, Copy)]
pub enum OfficerSpec<'a> {
    /// An officer who approves with a passphrase.
    Passphrase {
        /// The officer's name (unique among the officers).
        name: &'a str,
        /// The passphrase, at least [`MIN_PASSPHRASE_LEN`] bytes.
        passphrase: &'a [u8],
    },
    /// An officer who approves with the private key of their encryption certificate.
    Certificate {
        /// The officer's name (unique among the officers).
        name: &'a str,
        /// The officer's encryption certificate (keyEncipherment for RSA, keyAgreement for
        /// EC; emailProtection if it has an extKeyUsage).
        cert: &'a ParsedCertificate,
    },
}

impl OfficerSpec<'_> {
    /// The officer's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Passphrase { name, .. } | Self::Certificate { name, .. } => name,
        }
    }
}

impl fmt::Debug for OfficerSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Passphrase { name, .. } => f
                .debug_struct("Passphrase")
                .field("name", name)
                .finish_non_exhaustive(),
            Self::Certificate { name, cert } => f
                .debug_struct("Certificate")
                .field("name", name)
                .field("cert", &cert.subject())
                .finish(),
        }
    }
}

/// What an officer approves with.
#[derive(Clone, Copy)]
pub enum OfficerCredential<'a> {
    /// The passphrase of a passphrase officer.
    Passphrase(&'a [u8]),
    /// The private key of a certificate officer's encryption certificate.
    PrivateKey(&'a PrivateKey),
}

impl fmt::Debug for OfficerCredential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
            Self::PrivateKey(k) => f.debug_tuple("PrivateKey").field(k).finish(),
        }
    }
}

/// How a share is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShareScheme {
    /// Argon2id + AES-256-GCM.
    Passphrase,
    /// CMS AuthEnvelopedData to the officer's certificate.
    Certificate,
}

impl ShareScheme {
    /// `passphrase` or `certificate`, as the store and the CLI name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Passphrase => "passphrase",
            Self::Certificate => "certificate",
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Passphrase => 1,
            Self::Certificate => 2,
        }
    }

    fn from_code(c: u8) -> Result<Self, EscrowError> {
        match c {
            1 => Ok(Self::Passphrase),
            2 => Ok(Self::Certificate),
            other => Err(EscrowError::malformed(
                "sealed share",
                format!("unknown scheme {other}"),
            )),
        }
    }
}

/// One officer's share, sealed for that officer: all that is stored of it. Opening it takes
/// the officer's passphrase or private key ([`crate::RecoveryRequest::approve`]).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedShare {
    /// The officer's name.
    pub officer: String,
    /// The Shamir x-coordinate, 1..=255: the officer's position in the split's roster + 1.
    pub index: u8,
    /// How `blob` is sealed.
    pub scheme: ShareScheme,
    /// The split this share belongs to.
    pub generation: Generation,
    /// `PassphraseSealed` or `CertificateSealed`, DER (see the module docs).
    pub blob: Vec<u8>,
}

impl fmt::Debug for SealedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedShare")
            .field("officer", &self.officer)
            .field("index", &self.index)
            .field("scheme", &self.scheme)
            .field("generation", &self.generation)
            .field("blob_len", &self.blob.len())
            .finish()
    }
}

#[derive(Sequence)]
struct SealedShareDer<'a> {
    version: u32,
    generation: &'a OctetStringRef,
    officer: Utf8StringRef<'a>,
    index: u8,
    scheme: u8,
    blob: &'a OctetStringRef,
}

impl SealedShare {
    /// The DER record (see the module docs).
    pub fn to_der(&self) -> Result<Vec<u8>, EscrowError> {
        const W: &str = "sealed share";
        wire::encode(
            &SealedShareDer {
                version: V1,
                generation: wire::octets(&self.generation.0, W)?,
                officer: wire::utf8(&self.officer, W)?,
                index: self.index,
                scheme: self.scheme.code(),
                blob: wire::octets(&self.blob, W)?,
            },
            W,
        )
    }

    /// Reads a record written by [`Self::to_der`].
    pub fn from_der(der: &[u8]) -> Result<Self, EscrowError> {
        const W: &str = "sealed share";
        let d: SealedShareDer<'_> = wire::decode(der, W)?;
        wire::check_version(d.version, W)?;
        if d.index == 0 {
            return Err(EscrowError::malformed(W, "share index 0"));
        }
        Ok(SealedShare {
            officer: d.officer.as_str().to_owned(),
            index: d.index,
            scheme: ShareScheme::from_code(d.scheme)?,
            generation: Generation(wire::array(d.generation, W)?),
            blob: d.blob.as_bytes().to_vec(),
        })
    }
}

/// The plaintext of a sealed share.
#[derive(Sequence)]
pub(crate) struct ShareContent<'a> {
    pub(crate) version: u32,
    pub(crate) generation: &'a OctetStringRef,
    pub(crate) officer: Utf8StringRef<'a>,
    pub(crate) index: u8,
    pub(crate) value: &'a OctetStringRef,
}

impl ShareContent<'_> {
    /// Encodes a share with its binding, into a zeroized buffer.
    pub(crate) fn seal_plaintext(
        generation: &Generation,
        officer: &str,
        share: &RawShare,
    ) -> Result<Zeroizing<Vec<u8>>, EscrowError> {
        const W: &str = "share";
        wire::encode_secret(
            &ShareContent {
                version: V1,
                generation: wire::octets(&generation.0, W)?,
                officer: wire::utf8(officer, W)?,
                index: share.index,
                value: wire::octets(&share.value, W)?,
            },
            W,
        )
    }

    /// Decodes a share and checks it names `generation`, `officer` and `index`; anything
    /// else is [`EscrowError::ShareMismatch`].
    pub(crate) fn open_plaintext(
        plaintext: &[u8],
        generation: &Generation,
        officer: &str,
        index: u8,
    ) -> Result<RawShare, EscrowError> {
        let mismatch = || EscrowError::ShareMismatch {
            officer: officer.to_owned(),
        };
        let c: ShareContent<'_> = wire::decode(plaintext, "share").map_err(|_| mismatch())?;
        wire::check_version(c.version, "share")?;
        if c.generation.as_bytes() != generation.0
            || c.officer.as_str() != officer
            || c.index != index
        {
            return Err(mismatch());
        }
        Ok(RawShare {
            index: c.index,
            value: Zeroizing::new(c.value.as_bytes().to_vec()),
        })
    }
}

#[derive(Sequence)]
struct PassphraseSealed<'a> {
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: &'a OctetStringRef,
    sealed: &'a OctetStringRef,
}

/// The associated data of a passphrase-sealed share: everything its record says about it.
#[derive(Sequence)]
struct PassphraseAad<'a> {
    label: Utf8StringRef<'a>,
    generation: &'a OctetStringRef,
    officer: Utf8StringRef<'a>,
    index: u8,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

const PASSPHRASE_AAD_LABEL: &str = "cachet-escrow/share/passphrase/v1";
const SALT_LEN: usize = 16;

fn passphrase_aad(
    generation: &Generation,
    officer: &str,
    index: u8,
    p: Argon2Params,
) -> Result<Vec<u8>, EscrowError> {
    const W: &str = "share associated data";
    wire::encode(
        &PassphraseAad {
            label: wire::utf8(PASSPHRASE_AAD_LABEL, W)?,
            generation: wire::octets(&generation.0, W)?,
            officer: wire::utf8(officer, W)?,
            index,
            memory_kib: p.memory_kib,
            iterations: p.iterations,
            parallelism: p.parallelism,
        },
        W,
    )
}

#[derive(Sequence)]
struct CertificateSealed<'a> {
    version: u32,
    officer_certificate: &'a OctetStringRef,
    envelope: &'a OctetStringRef,
}

/// Checks an officer name: non-empty, at most [`MAX_OFFICER_NAME_LEN`] bytes, no control
/// characters, no leading or trailing space.
pub(crate) fn check_officer_name(name: &str) -> Result<(), EscrowError> {
    if name.is_empty() {
        return Err(EscrowError::InvalidOfficer(
            "an officer name is empty".into(),
        ));
    }
    if name.len() > MAX_OFFICER_NAME_LEN {
        return Err(EscrowError::InvalidOfficer(format!(
            "'{name}' is longer than {MAX_OFFICER_NAME_LEN} bytes"
        )));
    }
    if name.chars().any(char::is_control) || name.trim() != name {
        return Err(EscrowError::InvalidOfficer(format!(
            "'{}' has control characters or surrounding spaces",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Checks an officer before anything is generated: a long enough passphrase, or a
/// certificate that can receive encrypted data.
pub(crate) fn check_officer(spec: &OfficerSpec<'_>) -> Result<(), EscrowError> {
    check_officer_name(spec.name())?;
    match spec {
        OfficerSpec::Passphrase { name, passphrase } => {
            if passphrase.len() < MIN_PASSPHRASE_LEN {
                return Err(EscrowError::WeakPassphrase {
                    officer: (*name).to_owned(),
                });
            }
        }
        OfficerSpec::Certificate { name, cert } => {
            // A trial encryption runs every check the real one will (key type, keyUsage,
            // extKeyUsage) before any secret exists.
            enveloped::encrypt(
                b"",
                &[(*cert).clone()],
                ContentCipher::Aes256Gcm,
                rsa_padding(),
            )
            .map_err(|e| EscrowError::OfficerCertificate {
                officer: (*name).to_owned(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(())
}

/// RSA recipients get OAEP (RFC 3560, RFC 8551 §2.3), never PKCS#1 v1.5.
pub(crate) fn rsa_padding() -> RsaPadding {
    RsaPadding::OaepSha256
}

/// Seals `share` for the officer `spec`.
pub(crate) fn seal_share(
    spec: &OfficerSpec<'_>,
    generation: &Generation,
    share: &RawShare,
    cost: Argon2Cost,
) -> Result<SealedShare, EscrowError> {
    let officer = spec.name();
    let plaintext = ShareContent::seal_plaintext(generation, officer, share)?;
    let (scheme, blob) = match spec {
        OfficerSpec::Passphrase { passphrase, .. } => {
            const W: &str = "passphrase-sealed share";
            let params = cost.params();
            let salt = cachet_crypto::rand::bytes::<SALT_LEN>()?;
            let kek = secret::argon2id(passphrase, &salt, params)?;
            let aad = passphrase_aad(generation, officer, share.index, params)?;
            let sealed = secret::seal(&kek, &aad, &plaintext)?;
            let blob = wire::encode(
                &PassphraseSealed {
                    version: V1,
                    memory_kib: params.memory_kib,
                    iterations: params.iterations,
                    parallelism: params.parallelism,
                    salt: wire::octets(&salt, W)?,
                    sealed: wire::octets(&sealed, W)?,
                },
                W,
            )?;
            (ShareScheme::Passphrase, blob)
        }
        OfficerSpec::Certificate { cert, .. } => {
            const W: &str = "certificate-sealed share";
            let envelope = enveloped::encrypt(
                &plaintext,
                &[(*cert).clone()],
                ContentCipher::Aes256Gcm,
                rsa_padding(),
            )
            .map_err(|e| EscrowError::OfficerCertificate {
                officer: officer.to_owned(),
                reason: e.to_string(),
            })?;
            let blob = wire::encode(
                &CertificateSealed {
                    version: V1,
                    officer_certificate: wire::octets(cert.der(), W)?,
                    envelope: wire::octets(&envelope, W)?,
                },
                W,
            )?;
            (ShareScheme::Certificate, blob)
        }
    };
    Ok(SealedShare {
        officer: officer.to_owned(),
        index: share.index,
        scheme,
        generation: *generation,
        blob,
    })
}

/// Opens `sealed` with the officer's credential and checks that its contents match the
/// record.
pub(crate) fn open_share(
    sealed: &SealedShare,
    credential: OfficerCredential<'_>,
) -> Result<RawShare, EscrowError> {
    let officer = sealed.officer.clone();
    let plaintext = match (sealed.scheme, credential) {
        (ShareScheme::Passphrase, OfficerCredential::Passphrase(passphrase)) => {
            const W: &str = "passphrase-sealed share";
            let b: PassphraseSealed<'_> = wire::decode(&sealed.blob, W)?;
            wire::check_version(b.version, W)?;
            let params = Argon2Params {
                memory_kib: b.memory_kib,
                iterations: b.iterations,
                parallelism: b.parallelism,
            };
            check_ceiling(params)?;
            let kek = secret::argon2id(passphrase, b.salt.as_bytes(), params)
                .map_err(|e| EscrowError::Argon2Parameters(e.to_string()))?;
            let aad = passphrase_aad(&sealed.generation, &sealed.officer, sealed.index, params)?;
            secret::open(&kek, &aad, b.sealed.as_bytes())
                .map_err(|_| EscrowError::WrongPassphrase { officer })?
        }
        (ShareScheme::Certificate, OfficerCredential::PrivateKey(key)) => {
            const W: &str = "certificate-sealed share";
            let b: CertificateSealed<'_> = wire::decode(&sealed.blob, W)?;
            wire::check_version(b.version, W)?;
            let cert = ParsedCertificate::from_der(b.officer_certificate.as_bytes())
                .map_err(|e| EscrowError::cert(format!("officer '{officer}''s certificate"), e))?;
            match enveloped::decrypt(b.envelope.as_bytes(), &cert, key, &BerLimits::default()) {
                Ok(d) => d.content,
                Err(
                    DecryptError::KeyMismatch
                    | DecryptError::NoRecipient
                    | DecryptError::DecryptionFailed,
                ) => return Err(EscrowError::WrongOfficerKey { officer }),
                Err(e) => return Err(EscrowError::malformed(W, e)),
            }
        }
        (ShareScheme::Passphrase, OfficerCredential::PrivateKey(_)) => {
            return Err(EscrowError::CredentialKind {
                officer,
                expected: "a passphrase",
            });
        }
        (ShareScheme::Certificate, OfficerCredential::Passphrase(_)) => {
            return Err(EscrowError::CredentialKind {
                officer,
                expected: "the private key of their encryption certificate",
            });
        }
    };
    ShareContent::open_plaintext(
        &plaintext,
        &sealed.generation,
        &sealed.officer,
        sealed.index,
    )
}
