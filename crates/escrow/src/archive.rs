//! Archived encryption keys: a subscriber's PKCS#8 inside CMS AuthEnvelopedData (RFC 5083)
//! with AES-256-GCM (RFC 5084) to the key-recovery-agent (KRA) certificate, and their
//! recovery and hand-back as PKCS#12 (RFC 7292).
//!
//! Only *encryption* keys are archived. [`archive`] refuses a certificate whose keyUsage
//! permits digitalSignature, nonRepudiation, keyCertSign or cRLSign — or that has no
//! keyUsage, which permits everything (RFC 5280 §4.2.1.3) — because whoever holds a copy of
//! a signing key can sign as its owner.
//!
//! The record's metadata (serial, e-mail address, notAfter, SHA-256 of the public key and of
//! the certificate) is stored in the clear, for the store to index, *and* inside the
//! envelope next to the key, where AES-GCM authenticates it. Recovery decrypts and compares
//! the two copies and the certificate, and checks the key against the certificate, so a
//! record whose ciphertext was altered, swapped with another record's, or whose metadata
//! was edited is refused ([`EscrowError::TamperedArchive`]) instead of handing back the
//! wrong key. (CMS authenticates content, not its origin: whoever has the public KRA
//! certificate can write a well-formed record for a key of their own. The certificate
//! check makes such a record useless — its key matches no certificate of the user — and
//! the audit log records every archive.)
//!
//! ```text
//! ArchivedKey ::= SEQUENCE {
//!     version               INTEGER (1),
//!     metadata              ArchiveMetadata,
//!     certificate           OCTET STRING,   -- the subscriber certificate, DER
//!     kraCertificateSha256  OCTET STRING,   -- which recovery key it is encrypted to
//!     envelope              OCTET STRING }  -- ContentInfo(AuthEnvelopedData(ArchivedKeyContent))
//! ArchiveMetadata ::= SEQUENCE {
//!     serial OCTET STRING, email UTF8String, notAfter INTEGER,
//!     spkiSha256 OCTET STRING, certificateSha256 OCTET STRING }
//! ArchivedKeyContent ::= SEQUENCE {
//!     version INTEGER (1), metadata ArchiveMetadata, privateKey OCTET STRING } -- PKCS#8
//! ```
//!
//! With the KRA private key alone, `openssl cms -decrypt` opens the envelope and
//! `openssl asn1parse` shows the PKCS#8: the archive does not depend on Cachet to be read.

use crate::split::{RecoveryKey, check_kra_key_type};
use crate::wire::{self, V1};
use crate::{EscrowError, officer};
use cachet_crypto::PrivateKey;
use cachet_crypto::digest::sha256;
use cachet_pki::ParsedCertificate;
use cachet_pki::pkcs12::{self, Pkcs12Entry, Pkcs12Profile};
use cachet_smime::ber::BerLimits;
use cachet_smime::enveloped::{self, ContentCipher, DecryptError};
use der::Sequence;
use der::asn1::{OctetStringRef, Utf8StringRef};
use std::fmt;
use x509_cert::ext::pkix::KeyUsages;
use zeroize::Zeroizing;

/// The facts about an archived key that are stored in the clear and bound to the key inside
/// the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveMetadata {
    /// The certificate's serial number, content octets.
    pub serial: Vec<u8>,
    /// The certificate's (first) e-mail address, as written in its subjectAltName.
    pub email: String,
    /// The certificate's notAfter, seconds since the epoch.
    pub not_after: u64,
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// SHA-256 of the certificate DER.
    pub certificate_sha256: [u8; 32],
}

impl ArchiveMetadata {
    /// The serial as lower-case hex without leading zero octets (as the CLI shows it).
    pub fn serial_hex(&self) -> String {
        cachet_pki::cert::serial_hex(&self.serial)
    }

    fn of_certificate(cert: &ParsedCertificate) -> Result<Self, EscrowError> {
        let serial_hex = cert.serial_hex();
        let what = || format!("certificate {serial_hex}");
        let email = cert
            .email_addresses()
            .map_err(|e| EscrowError::cert(what(), e))?
            .into_iter()
            .next()
            .ok_or_else(|| EscrowError::cert(what(), "it has no e-mail address"))?;
        let spki = cert.spki_der().map_err(|e| EscrowError::cert(what(), e))?;
        Ok(ArchiveMetadata {
            serial: cert.serial_bytes().to_vec(),
            email,
            not_after: cert.not_after(),
            spki_sha256: sha256(&spki),
            certificate_sha256: sha256(cert.der()),
        })
    }

    fn to_wire(&self) -> Result<MetadataDer<'_>, EscrowError> {
        const W: &str = "archive metadata";
        Ok(MetadataDer {
            serial: wire::octets(&self.serial, W)?,
            email: wire::utf8(&self.email, W)?,
            not_after: self.not_after,
            spki_sha256: wire::octets(&self.spki_sha256, W)?,
            certificate_sha256: wire::octets(&self.certificate_sha256, W)?,
        })
    }

    fn from_wire(d: &MetadataDer<'_>) -> Result<Self, EscrowError> {
        const W: &str = "archive metadata";
        Ok(ArchiveMetadata {
            serial: d.serial.as_bytes().to_vec(),
            email: d.email.as_str().to_owned(),
            not_after: d.not_after,
            spki_sha256: wire::array(d.spki_sha256, W)?,
            certificate_sha256: wire::array(d.certificate_sha256, W)?,
        })
    }
}

#[derive(Sequence)]
struct MetadataDer<'a> {
    serial: &'a OctetStringRef,
    email: Utf8StringRef<'a>,
    not_after: u64,
    spki_sha256: &'a OctetStringRef,
    certificate_sha256: &'a OctetStringRef,
}

#[derive(Sequence)]
struct ArchivedKeyDer<'a> {
    version: u32,
    metadata: MetadataDer<'a>,
    certificate: &'a OctetStringRef,
    kra_certificate_sha256: &'a OctetStringRef,
    envelope: &'a OctetStringRef,
}

#[derive(Sequence)]
struct ArchivedKeyContent<'a> {
    version: u32,
    metadata: MetadataDer<'a>,
    private_key: &'a OctetStringRef,
}

/// One archived encryption key: all that is stored of it.
#[derive(Clone, PartialEq, Eq)]
pub struct ArchivedKey {
    /// Serial, e-mail address, notAfter and hashes, in the clear for indexing.
    pub metadata: ArchiveMetadata,
    /// The subscriber certificate, DER (handed back with the key in the PKCS#12).
    pub certificate: Vec<u8>,
    /// SHA-256 of the KRA certificate the envelope is encrypted to.
    pub kra_certificate_sha256: [u8; 32],
    /// `ContentInfo` of `AuthEnvelopedData`, DER.
    pub envelope: Vec<u8>,
}

impl fmt::Debug for ArchivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchivedKey")
            .field("serial", &self.metadata.serial_hex())
            .field("email", &self.metadata.email)
            .field("not_after", &self.metadata.not_after)
            .field("envelope_len", &self.envelope.len())
            .finish_non_exhaustive()
    }
}

impl ArchivedKey {
    /// The serial as lower-case hex.
    pub fn serial_hex(&self) -> String {
        self.metadata.serial_hex()
    }

    /// The DER record (see the module docs).
    pub fn to_der(&self) -> Result<Vec<u8>, EscrowError> {
        const W: &str = "archived key";
        wire::encode(
            &ArchivedKeyDer {
                version: V1,
                metadata: self.metadata.to_wire()?,
                certificate: wire::octets(&self.certificate, W)?,
                kra_certificate_sha256: wire::octets(&self.kra_certificate_sha256, W)?,
                envelope: wire::octets(&self.envelope, W)?,
            },
            W,
        )
    }

    /// Reads a record written by [`Self::to_der`]. Nothing is verified until recovery.
    pub fn from_der(der: &[u8]) -> Result<Self, EscrowError> {
        const W: &str = "archived key";
        let d: ArchivedKeyDer<'_> = wire::decode(der, W)?;
        wire::check_version(d.version, W)?;
        Ok(ArchivedKey {
            metadata: ArchiveMetadata::from_wire(&d.metadata)?,
            certificate: d.certificate.as_bytes().to_vec(),
            kra_certificate_sha256: wire::array(d.kra_certificate_sha256, W)?,
            envelope: d.envelope.as_bytes().to_vec(),
        })
    }
}

/// Checks that `cert` is an encryption-only certificate whose key may be archived: a
/// keyUsage extension that permits keyEncipherment or keyAgreement and none of
/// digitalSignature, nonRepudiation, keyCertSign, cRLSign. [`archive`] runs it first; the
/// service may run it before generating a key.
pub fn check_archivable(cert: &ParsedCertificate) -> Result<(), EscrowError> {
    let serial = cert.serial_hex();
    let ku = cert
        .key_usage()
        .map_err(|e| EscrowError::cert(format!("certificate {serial}"), e))?;
    let Some((_, ku)) = ku else {
        return Err(EscrowError::SigningKey {
            serial,
            usage: "every use (no keyUsage extension)",
        });
    };
    for (bit, usage) in [
        (KeyUsages::DigitalSignature, "digitalSignature"),
        (KeyUsages::NonRepudiation, "nonRepudiation"),
        (KeyUsages::KeyCertSign, "keyCertSign"),
        (KeyUsages::CRLSign, "cRLSign"),
    ] {
        if ku.0.contains(bit) {
            return Err(EscrowError::SigningKey { serial, usage });
        }
    }
    if !ku.0.contains(KeyUsages::KeyEncipherment) && !ku.0.contains(KeyUsages::KeyAgreement) {
        return Err(EscrowError::NotEncryptionCertificate { serial });
    }
    Ok(())
}

/// Archives the private key `key` of the encryption certificate `subscriber` to the KRA
/// certificate `kra_cert`: checks that the certificate is encryption-only
/// ([`check_archivable`]) and that the key is the certificate's, then encrypts the PKCS#8
/// together with the record's metadata in CMS AuthEnvelopedData, AES-256-GCM, to
/// `kra_cert` (RSA-OAEP or ECDH, RFC 3560 / RFC 5753).
pub fn archive(
    key: &PrivateKey,
    subscriber: &ParsedCertificate,
    kra_cert: &ParsedCertificate,
) -> Result<ArchivedKey, EscrowError> {
    check_archivable(subscriber)?;
    let serial = subscriber.serial_hex();
    let spki = subscriber
        .spki_der()
        .map_err(|e| EscrowError::cert(format!("certificate {serial}"), e))?;
    if key.public_key_der() != spki.as_slice() {
        return Err(EscrowError::KeyMismatch {
            what: format!("certificate {serial}"),
        });
    }
    check_kra_key_type(kra_cert)?;
    let metadata = ArchiveMetadata::of_certificate(subscriber)?;
    let plaintext = wire::encode_secret(
        &ArchivedKeyContent {
            version: V1,
            metadata: metadata.to_wire()?,
            private_key: wire::octets(key.pkcs8_der(), "archived key")?,
        },
        "archived key",
    )?;
    let envelope = enveloped::encrypt(
        &plaintext,
        std::slice::from_ref(kra_cert),
        ContentCipher::Aes256Gcm,
        officer::rsa_padding(),
    )
    .map_err(|e| EscrowError::KraCertificate(e.to_string()))?;
    Ok(ArchivedKey {
        metadata,
        certificate: subscriber.der().to_vec(),
        kra_certificate_sha256: sha256(kra_cert.der()),
        envelope,
    })
}

/// A key recovered from the archive, with its certificate. The key is zeroized on drop and
/// never printed.
pub struct RecoveredKey {
    /// The certificate the key belongs to.
    pub certificate: ParsedCertificate,
    /// The verified metadata of the record.
    pub metadata: ArchiveMetadata,
    /// The private key, PKCS#8 DER. Secret.
    pub pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for RecoveredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveredKey")
            .field("serial", &self.metadata.serial_hex())
            .field("email", &self.metadata.email)
            .field("pkcs8", &"<redacted>")
            .finish()
    }
}

/// Decrypts one archived record with the recovery key and verifies it: the record is for
/// this KRA certificate, its clear metadata matches its certificate and the metadata sealed
/// with the key, and the key is the certificate's. Any mismatch is
/// [`EscrowError::TamperedArchive`] (or [`EscrowError::OtherRecoveryKey`]).
pub fn recover_key(
    recovery: &RecoveryKey,
    archived: &ArchivedKey,
) -> Result<RecoveredKey, EscrowError> {
    let serial = archived.serial_hex();
    let tampered = |what: &str| EscrowError::TamperedArchive {
        serial: serial.clone(),
        what: what.to_owned(),
    };
    if archived.kra_certificate_sha256 != sha256(recovery.certificate().der()) {
        return Err(EscrowError::OtherRecoveryKey {
            serial: serial.clone(),
        });
    }
    // The clear metadata against the certificate stored with it.
    let cert = ParsedCertificate::from_der(&archived.certificate)
        .map_err(|_| tampered("the stored certificate cannot be read"))?;
    let from_cert = ArchiveMetadata::of_certificate(&cert)
        .map_err(|_| tampered("the stored certificate has no usable e-mail address"))?;
    if let Some(field) = first_difference(&archived.metadata, &from_cert) {
        return Err(tampered(&format!(
            "the {field} of the record does not match its certificate"
        )));
    }
    // The envelope: GCM authenticates everything inside it.
    let decrypted = match enveloped::decrypt(
        &archived.envelope,
        recovery.certificate(),
        recovery.private_key(),
        &BerLimits::default(),
    ) {
        Ok(d) => d,
        Err(DecryptError::DecryptionFailed) => {
            return Err(tampered(
                "the ciphertext does not authenticate (it was altered)",
            ));
        }
        Err(DecryptError::NoRecipient) => {
            return Err(tampered(
                "the envelope is not encrypted to the recovery key the record names",
            ));
        }
        Err(e) => return Err(tampered(&format!("the envelope cannot be read: {e}"))),
    };
    let content: ArchivedKeyContent<'_> = wire::decode(&decrypted.content, "archived key")
        .map_err(|_| tampered("the decrypted content is not an archived key"))?;
    wire::check_version(content.version, "archived key content")?;
    let sealed = ArchiveMetadata::from_wire(&content.metadata)
        .map_err(|_| tampered("the sealed metadata cannot be read"))?;
    if let Some(field) = first_difference(&archived.metadata, &sealed) {
        return Err(tampered(&format!(
            "the {field} of the record differs from the one sealed with the key (edited, or the ciphertext belongs to another record)"
        )));
    }
    let pkcs8 = Zeroizing::new(content.private_key.as_bytes().to_vec());
    let key = PrivateKey::from_pkcs8_der(&pkcs8)
        .map_err(|_| tampered("the sealed private key cannot be read"))?;
    if sha256(key.public_key_der()) != archived.metadata.spki_sha256 {
        return Err(tampered("the sealed private key is not the certificate's"));
    }
    Ok(RecoveredKey {
        certificate: cert,
        metadata: sealed,
        pkcs8,
    })
}

/// The name of the first field where `a` and `b` differ.
fn first_difference(a: &ArchiveMetadata, b: &ArchiveMetadata) -> Option<&'static str> {
    if a.serial != b.serial {
        Some("serial number")
    } else if a.email != b.email {
        Some("e-mail address")
    } else if a.not_after != b.not_after {
        Some("expiry date")
    } else if a.spki_sha256 != b.spki_sha256 {
        Some("public-key hash")
    } else if a.certificate_sha256 != b.certificate_sha256 {
        Some("certificate hash")
    } else {
        None
    }
}

/// [`recover_key`] for every record, in order; the first record that fails verification
/// fails the whole call (naming its serial), so that nothing is handed back from a store
/// that was tampered with until someone has looked. Use [`recover_key`] to skip bad records.
pub fn recover_keys(
    recovery: &RecoveryKey,
    archived: &[ArchivedKey],
) -> Result<Vec<RecoveredKey>, EscrowError> {
    archived.iter().map(|a| recover_key(recovery, a)).collect()
}

/// Re-encrypts an archived key to a new KRA certificate (rotation of the recovery key
/// itself, after which the old recovery key — and every share of it, in any backup —
/// opens nothing new). The record is verified first, exactly as [`recover_key`] does.
pub fn rearchive(
    recovery: &RecoveryKey,
    archived: &ArchivedKey,
    new_kra_cert: &ParsedCertificate,
) -> Result<ArchivedKey, EscrowError> {
    let recovered = recover_key(recovery, archived)?;
    let key = PrivateKey::from_pkcs8_der(&recovered.pkcs8)?;
    archive(&key, &recovered.certificate, new_kra_cert)
}

/// Builds the PKCS#12 file (RFC 7292) that hands recovered keys back: every key with its
/// certificate, named `"<email> (<serial>)"`, plus `chain_der` (issuing CA, then root),
/// protected by `password` (non-empty) under `profile` (`Modern` reads in OpenSSL 3 and
/// NSS `pk12util`; `Compatible` in GnuPG `gpgsm` as well, for RSA keys).
pub fn to_pkcs12(
    keys: &[RecoveredKey],
    chain_der: &[&[u8]],
    password: &[u8],
    profile: Pkcs12Profile,
) -> Result<Zeroizing<Vec<u8>>, EscrowError> {
    if keys.is_empty() {
        return Err(EscrowError::NothingToRecover);
    }
    if password.is_empty() {
        return Err(EscrowError::EmptyPassword);
    }
    let names: Vec<String> = keys
        .iter()
        .map(|k| format!("{} ({})", k.metadata.email, k.metadata.serial_hex()))
        .collect();
    let entries: Vec<Pkcs12Entry<'_>> = keys
        .iter()
        .zip(&names)
        .map(|(k, name)| Pkcs12Entry {
            key_pkcs8_der: &k.pkcs8,
            certificate_der: k.certificate.der(),
            friendly_name: Some(name),
        })
        .collect();
    pkcs12::build_with(&entries, chain_der, password, &profile.params())
        .map_err(|e| EscrowError::Pkcs12(e.to_string()))
}
