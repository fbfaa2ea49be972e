//! PKCS#12 (RFC 7292): writing and reading password-protected `.p12`/`.pfx` files that carry
//! private keys with their certificates, so that users can move their S/MIME identity into
//! their mail clients (NSS for Thunderbird, OpenSSL, GnuPG `gpgsm`, …), and so that key recovery
//! can hand back every archived key of a user in one file.
//!
//! Everything here is pure: bytes and a password in, bytes out. Random salts and IVs come from
//! `cachet_crypto::rand`; there is no I/O and no clock.
//!
//! # What is written
//!
//! A PFX in password integrity and password privacy mode (RFC 7292 §3.1):
//!
//! ```text
//! PFX { version 3,
//!       authSafe = data(AuthenticatedSafe {
//!           encryptedData(SafeContents { certBag* }),         -- entry certs, then chain
//!           data(SafeContents { pkcs8ShroudedKeyBag* }) }),   -- PBES2-encrypted keys
//!       macData = HMAC over the AuthenticatedSafe }
//! ```
//!
//! Each key bag and the certificate bag of its certificate carry the same `localKeyId`
//! (SHA-1 of the certificate DER, as OpenSSL and NSS write it) so that readers pair
//! them, and optionally a `friendlyName`. The exact algorithms are set by [`Pkcs12Profile`].
//!
//! Passwords: PBES2 (RFC 8018) takes the password bytes as given (UTF-8 for text, the OpenSSL
//! convention, also followed by NSS and GnuPG); the RFC 7292 Appendix B key derivation of the
//! MAC takes it as a BMPString (UTF-16BE plus two zero bytes).
//!
//! # What is read
//!
//! [`parse`] reads what OpenSSL 3 writes by default (PBES2 AES-256-CBC with PBKDF2-HMAC-SHA-256,
//! MAC HMAC-SHA-256), what this module writes, PBES2 with AES-128/256-CBC and PBKDF2 with any
//! of HMAC-SHA-1/256/384/512, MACs over SHA-1/256/384/512 and PBMAC1 (RFC 9579), plain
//! `keyBag`s, nested `safeContentsBag`s, and BER (indefinite lengths, constructed OCTET
//! STRINGs, as NSS and Windows write) as well as DER. The legacy PKCS#12 PBEs
//! (`pbeWithSHAAnd3-KeyTripleDES-CBC`, `pbeWithSHAAnd40BitRC2-CBC`, …) and PKCS#5 v1.5 PBES1
//! are refused with [`Pkcs12Error::Unsupported`] naming the algorithm, because Cachet has no
//! DES or RC2 implementation; re-export such files with OpenSSL 3 defaults.
//!
//! Hostile input is bounded: the input size, the number of bags, the nesting depth, the salt
//! size, each key-derivation iteration count and the sum of all iteration counts.

use cachet_crypto::digest::DigestAlgorithm;
use cachet_crypto::pbe::{self, HmacAlgorithm};
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, OctetStringRef, SetOfVec};
use der::{Decode, Encode, Sequence, Tag, TagNumber, Tagged, ValueOrd};
use spki::AlgorithmIdentifierRef;
use std::cmp::Ordering;
use std::fmt;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------------
// Object identifiers
// ---------------------------------------------------------------------------------------------

/// `id-data` (RFC 5652 §4).
pub const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-signedData` (RFC 5652 §5): public-key integrity mode, not supported.
pub const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-envelopedData` (RFC 5652 §6): public-key privacy mode, not supported.
pub const OID_ENVELOPED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
/// `id-encryptedData` (RFC 5652 §8).
pub const OID_ENCRYPTED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");

/// `keyBag` (RFC 7292 §4.2.1).
pub const OID_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
/// `pkcs8ShroudedKeyBag` (RFC 7292 §4.2.2).
pub const OID_PKCS8_SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
/// `certBag` (RFC 7292 §4.2.3).
pub const OID_CERT_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
/// `safeContentsBag` (RFC 7292 §4.2.6).
pub const OID_SAFE_CONTENTS_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.6");
/// `x509Certificate` certificate type (RFC 7292 §4.2.3).
pub const OID_X509_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
/// `pkcs-9-at-friendlyName` (RFC 2985 §5.5.1).
pub const OID_FRIENDLY_NAME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
/// `pkcs-9-at-localKeyId` (RFC 2985 §5.5.2).
pub const OID_LOCAL_KEY_ID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");

/// `id-PBKDF2` (RFC 8018 Appendix A.2).
pub const OID_PBKDF2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
/// `id-PBES2` (RFC 8018 Appendix A.4).
pub const OID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
/// `id-PBMAC1` (RFC 8018 Appendix A.5, RFC 9579).
pub const OID_PBMAC1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.14");

/// `id-hmacWithSHA1` (RFC 8018 Appendix B.1.1), the default PBKDF2 PRF.
pub const OID_HMAC_WITH_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.7");
/// `id-hmacWithSHA256` (RFC 8018 Appendix B.1.2).
pub const OID_HMAC_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
/// `id-hmacWithSHA384` (RFC 8018 Appendix B.1.2).
pub const OID_HMAC_WITH_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.2.10");
/// `id-hmacWithSHA512` (RFC 8018 Appendix B.1.2).
pub const OID_HMAC_WITH_SHA512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.2.11");

/// `aes128-CBC-PAD` (RFC 8018 Appendix B.2.5).
pub const OID_AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
/// `aes256-CBC-PAD` (RFC 8018 Appendix B.2.5).
pub const OID_AES256_CBC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");

/// `id-sha1` (RFC 3279 §2.2.1).
pub const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// `id-sha256` (RFC 5754 §2.2).
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-sha384` (RFC 5754 §2.3).
pub const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// `id-sha512` (RFC 5754 §2.4).
pub const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

/// Largest PFX [`parse`] accepts (4 MiB: hundreds of keys with their chains).
pub const MAX_PFX_LEN: usize = 4 * 1024 * 1024;
/// Most bags plus ContentInfos [`parse`] walks in one PFX.
pub const MAX_BAGS: usize = 1024;
/// Largest iteration count of any one key derivation [`parse`] runs.
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Largest sum of the iteration counts of all key derivations of one [`parse`] call: together
/// with [`MAX_ITERATIONS`] this bounds the time a hostile file can cost to a few seconds.
pub const MAX_TOTAL_ITERATIONS: u64 = 20_000_000;
/// Longest salt accepted in a PBKDF2 or MAC parameter.
const MAX_SALT_LEN: usize = 1024;
/// Deepest nesting of `safeContentsBag`s.
const MAX_SAFE_CONTENTS_DEPTH: usize = 4;
/// Deepest BER nesting the normaliser follows.
const MAX_BER_DEPTH: usize = 48;

// ---------------------------------------------------------------------------------------------
// ASN.1 types
// ---------------------------------------------------------------------------------------------

/// `PFX` — RFC 7292 §4.
///
/// ```text
/// PFX ::= SEQUENCE {
///     version     INTEGER {v3(3)}(v3,...),
///     authSafe    ContentInfo,
///     macData     MacData OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Pfx<'a> {
    /// Always 3.
    pub version: u8,
    /// The [`AuthenticatedSafe`], DER-encoded inside an `id-data` ContentInfo.
    pub auth_safe: ContentInfo<'a>,
    /// The password-integrity MAC.
    #[asn1(optional = "true")]
    pub mac_data: Option<MacData<'a>>,
}

/// `ContentInfo` — RFC 5652 §3, as RFC 7292 §4 and §4.1 use it.
///
/// ```text
/// ContentInfo ::= SEQUENCE {
///     contentType ContentType,
///     content     [0] EXPLICIT ANY DEFINED BY contentType OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ContentInfo<'a> {
    /// `id-data`, `id-encryptedData`, …
    pub content_type: ObjectIdentifier,
    /// For `id-data` an OCTET STRING, for `id-encryptedData` an [`EncryptedData`].
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub content: Option<AnyRef<'a>>,
}

/// `MacData` — RFC 7292 §4.
///
/// ```text
/// MacData ::= SEQUENCE {
///     mac         DigestInfo,
///     macSalt     OCTET STRING,
///     iterations  INTEGER DEFAULT 1 }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MacData<'a> {
    /// The MAC algorithm's hash (or `id-PBMAC1`) and the MAC value.
    pub mac: DigestInfo<'a>,
    /// Salt of the RFC 7292 Appendix B key derivation.
    pub mac_salt: &'a OctetStringRef,
    /// Iterations of the RFC 7292 Appendix B key derivation.
    #[asn1(default = "default_mac_iterations")]
    pub iterations: u32,
}

fn default_mac_iterations() -> u32 {
    1
}

/// `DigestInfo` — RFC 8017 §9.2 (PKCS #1), used by `MacData` (RFC 7292 §4).
///
/// ```text
/// DigestInfo ::= SEQUENCE {
///     digestAlgorithm DigestAlgorithmIdentifier,
///     digest          OCTET STRING }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct DigestInfo<'a> {
    /// The hash of the HMAC, or `id-PBMAC1` (RFC 9579).
    pub digest_algorithm: AlgorithmIdentifierRef<'a>,
    /// The MAC value.
    pub digest: &'a OctetStringRef,
}

/// `AuthenticatedSafe` — RFC 7292 §4.1: `SEQUENCE OF ContentInfo`, each `id-data` (plain
/// [`SafeContents`]) or `id-encryptedData` (password-encrypted [`SafeContents`]).
pub type AuthenticatedSafe<'a> = Vec<ContentInfo<'a>>;

/// `EncryptedData` — RFC 5652 §8 (the `id-encryptedData` content of RFC 7292 §4.1).
///
/// ```text
/// EncryptedData ::= SEQUENCE {
///     version               CMSVersion,
///     encryptedContentInfo  EncryptedContentInfo,
///     unprotectedAttrs  [1] IMPLICIT UnprotectedAttributes OPTIONAL }
/// ```
///
/// `unprotectedAttrs` never occurs in PKCS#12 and is not modelled.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EncryptedData<'a> {
    /// 0.
    pub version: u8,
    /// The encrypted [`SafeContents`].
    pub encrypted_content_info: EncryptedContentInfo<'a>,
}

/// `EncryptedContentInfo` — RFC 5652 §6.1.
///
/// ```text
/// EncryptedContentInfo ::= SEQUENCE {
///     contentType                 ContentType,
///     contentEncryptionAlgorithm  ContentEncryptionAlgorithmIdentifier,
///     encryptedContent        [0] IMPLICIT EncryptedContent OPTIONAL }
/// ```
///
/// `encryptedContent` is kept as the raw `[0]` element: BER writers send it constructed
/// (a series of OCTET STRING segments), DER writers primitive; [`parse`] reads both.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EncryptedContentInfo<'a> {
    /// `id-data`.
    pub content_type: ObjectIdentifier,
    /// PBES2 (or a legacy PBE, which [`parse`] refuses).
    pub content_encryption_algorithm: AlgorithmIdentifierRef<'a>,
    /// `[0] IMPLICIT OCTET STRING`, the ciphertext.
    #[asn1(optional = "true")]
    pub encrypted_content: Option<AnyRef<'a>>,
}

/// `SafeContents` — RFC 7292 §4.2: `SEQUENCE OF SafeBag`.
pub type SafeContents<'a> = Vec<SafeBag<'a>>;

/// `SafeBag` — RFC 7292 §4.2.
///
/// ```text
/// SafeBag ::= SEQUENCE {
///     bagId          BAG-TYPE.&id ({PKCS12BagSet}),
///     bagValue       [0] EXPLICIT BAG-TYPE.&Type({PKCS12BagSet}{@bagId}),
///     bagAttributes  SET OF PKCS12Attribute OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SafeBag<'a> {
    /// `keyBag`, `pkcs8ShroudedKeyBag`, `certBag`, …
    pub bag_id: ObjectIdentifier,
    /// A [`Pkcs8ShroudedKeyBag`], [`CertBag`], …
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub bag_value: AnyRef<'a>,
    /// `friendlyName`, `localKeyId`, …
    #[asn1(optional = "true")]
    pub bag_attributes: Option<SetOfVec<Pkcs12Attribute<'a>>>,
}

/// `PKCS12Attribute` — RFC 7292 §4.2.
///
/// ```text
/// PKCS12Attribute ::= SEQUENCE {
///     attrId      ATTRIBUTE.&id ({PKCS12AttrSet}),
///     attrValues  SET OF ATTRIBUTE.&Type ({PKCS12AttrSet}{@attrId}) }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Pkcs12Attribute<'a> {
    /// `pkcs-9-at-friendlyName`, `pkcs-9-at-localKeyId`, …
    pub attr_id: ObjectIdentifier,
    /// The values (one, for the attributes Cachet reads and writes).
    pub attr_values: SetOfVec<AnyRef<'a>>,
}

impl ValueOrd for Pkcs12Attribute<'_> {
    /// DER orders `SET OF` elements by their encodings (X.690 §11.6).
    fn value_cmp(&self, other: &Self) -> der::Result<Ordering> {
        Ok(self.to_der()?.cmp(&other.to_der()?))
    }
}

/// `CertBag` — RFC 7292 §4.2.3.
///
/// ```text
/// CertBag ::= SEQUENCE {
///     certId     BAG-TYPE.&id   ({CertTypes}),
///     certValue  [0] EXPLICIT BAG-TYPE.&Type ({CertTypes}{@certId}) }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertBag<'a> {
    /// `x509Certificate` (others are skipped when reading).
    pub cert_id: ObjectIdentifier,
    /// For `x509Certificate`, an OCTET STRING holding the certificate DER.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub cert_value: AnyRef<'a>,
}

/// `EncryptedPrivateKeyInfo` — RFC 5958 §3, which is the `PKCS8ShroudedKeyBag` of
/// RFC 7292 §4.2.2.
///
/// ```text
/// EncryptedPrivateKeyInfo ::= SEQUENCE {
///     encryptionAlgorithm  EncryptionAlgorithmIdentifier,
///     encryptedData        EncryptedData }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EncryptedPrivateKeyInfo<'a> {
    /// PBES2 (or a legacy PBE, which [`parse`] refuses).
    pub encryption_algorithm: AlgorithmIdentifierRef<'a>,
    /// The encrypted PKCS#8 `PrivateKeyInfo`.
    pub encrypted_data: &'a OctetStringRef,
}

/// `PKCS8ShroudedKeyBag` — RFC 7292 §4.2.2: an [`EncryptedPrivateKeyInfo`].
pub type Pkcs8ShroudedKeyBag<'a> = EncryptedPrivateKeyInfo<'a>;

/// `PBES2-params` — RFC 8018 Appendix A.4.
///
/// ```text
/// PBES2-params ::= SEQUENCE {
///     keyDerivationFunc  AlgorithmIdentifier {{PBES2-KDFs}},
///     encryptionScheme   AlgorithmIdentifier {{PBES2-Encs}} }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Pbes2Params<'a> {
    /// `id-PBKDF2` with [`Pbkdf2Params`].
    pub key_derivation_func: AlgorithmIdentifierRef<'a>,
    /// `aes128-CBC-PAD` / `aes256-CBC-PAD` with the IV as an OCTET STRING.
    pub encryption_scheme: AlgorithmIdentifierRef<'a>,
}

/// `PBKDF2-params` — RFC 8018 Appendix A.2.
///
/// ```text
/// PBKDF2-params ::= SEQUENCE {
///     salt CHOICE {
///         specified       OCTET STRING,
///         otherSource     AlgorithmIdentifier {{PBKDF2-SaltSources}} },
///     iterationCount      INTEGER (1..MAX),
///     keyLength           INTEGER (1..MAX) OPTIONAL,
///     prf                 AlgorithmIdentifier {{PBKDF2-PRFs}} DEFAULT algid-hmacWithSHA1 }
/// ```
///
/// Only the `specified` salt is modelled: RFC 8018 reserves `otherSource` for future use.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Pbkdf2Params<'a> {
    /// The salt.
    pub salt: &'a OctetStringRef,
    /// The iteration count.
    pub iteration_count: u32,
    /// The derived key length in bytes; optional, omitted by Cachet as by OpenSSL.
    #[asn1(optional = "true")]
    pub key_length: Option<u32>,
    /// The PRF; DER omits it when it is the default `hmacWithSHA1` with NULL parameters.
    #[asn1(default = "default_prf")]
    pub prf: AlgorithmIdentifierRef<'a>,
}

fn default_prf<'a>() -> AlgorithmIdentifierRef<'a> {
    AlgorithmIdentifierRef {
        oid: OID_HMAC_WITH_SHA1,
        parameters: Some(AnyRef::NULL),
    }
}

/// `PBMAC1-params` — RFC 8018 Appendix A.5 (used in PKCS#12 by RFC 9579).
///
/// ```text
/// PBMAC1-params ::= SEQUENCE {
///     keyDerivationFunc  AlgorithmIdentifier {{PBMAC1-KDFs}},
///     messageAuthScheme  AlgorithmIdentifier {{PBMAC1-MACs}} }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Pbmac1Params<'a> {
    /// `id-PBKDF2` with [`Pbkdf2Params`] (which must carry `keyLength`).
    pub key_derivation_func: AlgorithmIdentifierRef<'a>,
    /// `hmacWithSHA256` and friends.
    pub message_auth_scheme: AlgorithmIdentifierRef<'a>,
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Why building or reading a PKCS#12 file failed. Messages never contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs12Error {
    /// The bytes are not a well-formed PKCS#12 PFX; says which part and why.
    #[error("malformed PKCS#12: {0}")]
    Malformed(String),
    /// The MAC does not verify under the password: the password is wrong (or the file was
    /// altered).
    #[error("wrong password: the PKCS#12 MAC does not verify")]
    WrongPassword,
    /// The file uses a feature or algorithm Cachet does not read; names it (and its OID).
    #[error("unsupported PKCS#12 feature: {0}")]
    Unsupported(String),
    /// The file exceeds one of the limits that protect against hostile input.
    #[error("PKCS#12 limit exceeded: {0}")]
    LimitExceeded(String),
    /// A bag does not decrypt although the MAC verified (a second, different password, or
    /// damage the MAC does not cover).
    #[error("cannot decrypt {0} although the MAC verified (encrypted with another password?)")]
    Decryption(&'static str),
    /// The arguments given to a build function are unusable.
    #[error("invalid input to PKCS#12 building: {0}")]
    InvalidInput(String),
    /// A cryptographic primitive failed.
    #[error(transparent)]
    Crypto(#[from] cachet_crypto::Error),
}

/// The algorithm choices of a PFX Cachet writes. Both profiles put the keys in
/// `pkcs8ShroudedKeyBag`s and the certificates in an `encryptedData` SafeContents, both under
/// PBES2 (RFC 8018 §6.2) with 16-byte salts, and protect the whole with an HMAC-SHA-256 MAC
/// keyed by the RFC 7292 Appendix B derivation; they differ in the PBES2 cipher and PRF.
///
/// Iterations: 100,000 for PBKDF2 and for the MAC derivation in both profiles. That is fifty
/// times OpenSSL's default of 2048 and ten times Java's 10,000, so each password guess costs an
/// attacker real work, while a file holding several keys (key recovery) stays far below the
/// limits readers put on hostile input — .NET's `Pkcs12LoaderLimits` allow 600,000 per
/// derivation and 1,000,000 per file (a file with k keys runs k + 2 derivations here), this
/// module 10,000,000 and 20,000,000 — and a derivation takes about 10 ms. The MAC gets the
/// same count as the keys because an attacker can test guesses against either. OWASP's 600,000
/// for PBKDF2-HMAC-SHA-256 (which NSS 3.87 writes) would break .NET's per-file limit for any
/// file; where passwords are weak, a generated password helps more than iterations.
/// [`build_with`] takes other counts.
///
/// Certificates are encrypted, as OpenSSL, Java and Windows write them, although they are
/// public: GnuPG 2.2 reads only the first certificate of a plain `data` SafeContents, and
/// encrypting them keeps the files on the path every reader exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pkcs12Profile {
    /// The default: PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA-256 (what OpenSSL 3 writes by
    /// default, with more iterations). Tested to import into OpenSSL 3 and NSS (RSA and
    /// ECDSA; NSS 3.87 has no Ed25519/X25519 keys at all); GnuPG 2.2 `gpgsm` cannot read it.
    #[default]
    Modern,
    /// For GnuPG 2.2 `gpgsm --import` as well: PBES2 with AES-128-CBC and PBKDF2 with its
    /// default PRF HMAC-SHA-1 (written by omitting the PRF), the only PBES2 variant GnuPG 2.2
    /// decrypts. Tested to import into gpgsm 2.2.40 (RSA), OpenSSL 3 and NSS. Use it for RSA
    /// keys: gpgsm 2.2 crashes on ECDSA keys and refuses Ed25519/X25519 keys in PKCS#12; and
    /// give gpgsm one key per file, since it imports only the first key of a file.
    Compatible,
}

/// A content-encryption algorithm of PBES2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbes2Cipher {
    /// AES-128 in CBC mode with PKCS#7 padding (`aes128-CBC-PAD`).
    Aes128Cbc,
    /// AES-256 in CBC mode with PKCS#7 padding (`aes256-CBC-PAD`).
    Aes256Cbc,
}

impl Pbes2Cipher {
    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Aes128Cbc => OID_AES128_CBC,
            Self::Aes256Cbc => OID_AES256_CBC,
        }
    }
    fn key_len(self) -> usize {
        match self {
            Self::Aes128Cbc => 16,
            Self::Aes256Cbc => 32,
        }
    }
}

/// Every algorithm parameter of a PFX Cachet writes; [`Pkcs12Profile::params`] gives the
/// profiles' values, [`build_with`] takes any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pkcs12Params {
    /// PBES2 cipher of the key bags (and of the certificates if encrypted).
    pub cipher: Pbes2Cipher,
    /// PBKDF2 PRF. `HmacAlgorithm::Sha1` is written as the DEFAULT, i.e. omitted.
    pub prf: HmacAlgorithm,
    /// PBKDF2 iteration count, 1 ..= [`MAX_ITERATIONS`].
    pub iterations: u32,
    /// PBKDF2 salt length in bytes, 8 ..= 64.
    pub salt_len: usize,
    /// Hash of the HMAC and of the RFC 7292 Appendix B MAC key derivation.
    pub mac_digest: DigestAlgorithm,
    /// Iterations of the MAC key derivation, 1 ..= [`MAX_ITERATIONS`].
    pub mac_iterations: u32,
    /// MAC salt length in bytes, 8 ..= 64.
    pub mac_salt_len: usize,
    /// Put the certificates in an `encryptedData` SafeContents (true) or a plain `data` one.
    pub encrypt_certificates: bool,
}

impl Pkcs12Profile {
    /// The exact parameters of the profile.
    pub fn params(self) -> Pkcs12Params {
        match self {
            Self::Modern => Pkcs12Params {
                cipher: Pbes2Cipher::Aes256Cbc,
                prf: HmacAlgorithm::Sha256,
                iterations: 100_000,
                salt_len: 16,
                mac_digest: DigestAlgorithm::Sha256,
                mac_iterations: 100_000,
                mac_salt_len: 16,
                encrypt_certificates: true,
            },
            Self::Compatible => Pkcs12Params {
                cipher: Pbes2Cipher::Aes128Cbc,
                prf: HmacAlgorithm::Sha1,
                iterations: 100_000,
                salt_len: 16,
                mac_digest: DigestAlgorithm::Sha256,
                mac_iterations: 100_000,
                mac_salt_len: 16,
                encrypt_certificates: true,
            },
        }
    }
}

/// One key with its certificate, for [`build_with`].
#[derive(Clone, Copy)]
pub struct Pkcs12Entry<'a> {
    /// The private key as unencrypted PKCS#8 DER (RFC 5958).
    pub key_pkcs8_der: &'a [u8],
    /// Its certificate, DER.
    pub certificate_der: &'a [u8],
    /// The `friendlyName` written on both bags (the name mail clients show).
    pub friendly_name: Option<&'a str>,
}

impl fmt::Debug for Pkcs12Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs12Entry")
            .field("certificate_der_len", &self.certificate_der.len())
            .field("friendly_name", &self.friendly_name)
            .finish_non_exhaustive()
    }
}

/// The attributes of a bag that [`parse`] reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BagAttributes {
    /// `friendlyName` (BMPString, decoded; unpaired surrogates become U+FFFD).
    pub friendly_name: Option<String>,
    /// `localKeyId`: equal on a key bag and the cert bag of its certificate.
    pub local_key_id: Option<Vec<u8>>,
}

/// What a PFX holds, in the order stored.
#[derive(Clone, Default)]
pub struct Pkcs12Contents {
    /// Private keys, unencrypted PKCS#8 DER. Secret.
    pub keys: Vec<Zeroizing<Vec<u8>>>,
    /// Certificates, DER, in the order stored (Cachet and OpenSSL store each key's
    /// certificate before the chain).
    pub certificates: Vec<Vec<u8>>,
    /// The attributes of `keys[i]`, index for index.
    pub key_attributes: Vec<BagAttributes>,
    /// The attributes of `certificates[i]`, index for index.
    pub certificate_attributes: Vec<BagAttributes>,
}

impl fmt::Debug for Pkcs12Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs12Contents")
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("certificates", &self.certificates.len())
            .field("key_attributes", &self.key_attributes)
            .field("certificate_attributes", &self.certificate_attributes)
            .finish()
    }
}

impl Pkcs12Contents {
    /// The index in [`Self::certificates`] of the certificate whose bag carries the same
    /// `localKeyId` as key `key_index`. `None` when the key has no `localKeyId` or no
    /// certificate matches: then pair by public key.
    pub fn certificate_for_key(&self, key_index: usize) -> Option<usize> {
        let id = self.key_attributes.get(key_index)?.local_key_id.as_ref()?;
        self.certificate_attributes
            .iter()
            .position(|a| a.local_key_id.as_ref() == Some(id))
    }
}

/// Builds a PFX holding one key, its certificate and the chain (issuers, leaf's issuer first),
/// protected by `password` as `profile` says.
pub fn build(
    key_pkcs8_der: &[u8],
    certificate_der: &[u8],
    chain_der: &[&[u8]],
    friendly_name: Option<&str>,
    password: &[u8],
    profile: Pkcs12Profile,
) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
    let entry = Pkcs12Entry {
        key_pkcs8_der,
        certificate_der,
        friendly_name,
    };
    build_with(&[entry], chain_der, password, &profile.params())
}

/// Builds a PFX holding several keys, each with its certificate (e.g. key recovery handing
/// back every archived key of a user): `entries` are (PKCS#8 DER, certificate DER) pairs.
pub fn build_many(
    entries: &[(&[u8], &[u8])],
    chain_der: &[&[u8]],
    password: &[u8],
    profile: Pkcs12Profile,
) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
    let entries: Vec<Pkcs12Entry<'_>> = entries
        .iter()
        .map(|&(key_pkcs8_der, certificate_der)| Pkcs12Entry {
            key_pkcs8_der,
            certificate_der,
            friendly_name: None,
        })
        .collect();
    build_with(&entries, chain_der, password, &profile.params())
}

/// Builds a PFX from any number of entries and chain certificates with explicit parameters.
/// At least one entry or chain certificate is required.
pub fn build_with(
    entries: &[Pkcs12Entry<'_>],
    chain_der: &[&[u8]],
    password: &[u8],
    params: &Pkcs12Params,
) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
    check_params(params)?;
    if entries.is_empty() && chain_der.is_empty() {
        return Err(Pkcs12Error::InvalidInput(
            "nothing to put in the PFX".to_string(),
        ));
    }
    if entries.len() + chain_der.len() > MAX_BAGS / 2 {
        return Err(Pkcs12Error::InvalidInput(format!(
            "more than {} keys and certificates",
            MAX_BAGS / 2
        )));
    }
    for e in entries {
        cachet_crypto::PrivateKey::from_pkcs8_der(e.key_pkcs8_der)?;
        check_single_sequence(e.certificate_der, "certificate")?;
    }
    for c in chain_der {
        check_single_sequence(c, "chain certificate")?;
    }

    // Attribute values, owned here so that the bags can borrow them.
    let local_key_ids: Vec<[u8; 20]> = entries
        .iter()
        .map(|e| cachet_crypto::digest::sha1(e.certificate_der))
        .collect();
    let friendly_names: Vec<Option<Vec<u8>>> = entries
        .iter()
        .map(|e| e.friendly_name.map(bmp_string_bytes).transpose())
        .collect::<Result<_, _>>()?;

    // Certificate bags: each entry's certificate, then the chain.
    let mut cert_bag_ders: Vec<Vec<u8>> = Vec::with_capacity(entries.len() + chain_der.len());
    for cert in entries
        .iter()
        .map(|e| e.certificate_der)
        .chain(chain_der.iter().copied())
    {
        let bag = CertBag {
            cert_id: OID_X509_CERTIFICATE,
            cert_value: AnyRef::new(Tag::OctetString, cert).map_err(der_err("certificate"))?,
        };
        cert_bag_ders.push(bag.to_der().map_err(der_err("CertBag"))?);
    }
    let mut cert_bags: SafeContents<'_> = Vec::with_capacity(cert_bag_ders.len());
    for (i, der) in cert_bag_ders.iter().enumerate() {
        let attrs = if i < entries.len() {
            bag_attributes(&local_key_ids[i], friendly_names[i].as_deref())?
        } else {
            None
        };
        cert_bags.push(SafeBag {
            bag_id: OID_CERT_BAG,
            bag_value: AnyRef::from_der(der).map_err(der_err("CertBag"))?,
            bag_attributes: attrs,
        });
    }
    let cert_safe_contents = cert_bags.to_der().map_err(der_err("SafeContents"))?;

    // Key bags.
    let mut key_bag_ders: Vec<Vec<u8>> = Vec::with_capacity(entries.len());
    for e in entries {
        let (alg, ciphertext) = pbes2_encrypt(params, password, e.key_pkcs8_der)?;
        let epki = EncryptedPrivateKeyInfo {
            encryption_algorithm: AlgorithmIdentifierRef::from_der(&alg)
                .map_err(der_err("PBES2 AlgorithmIdentifier"))?,
            encrypted_data: OctetStringRef::new(&ciphertext).map_err(der_err("key bag"))?,
        };
        key_bag_ders.push(epki.to_der().map_err(der_err("EncryptedPrivateKeyInfo"))?);
    }
    let mut key_bags: SafeContents<'_> = Vec::with_capacity(entries.len());
    for (i, der) in key_bag_ders.iter().enumerate() {
        key_bags.push(SafeBag {
            bag_id: OID_PKCS8_SHROUDED_KEY_BAG,
            bag_value: AnyRef::from_der(der).map_err(der_err("key bag"))?,
            bag_attributes: bag_attributes(&local_key_ids[i], friendly_names[i].as_deref())?,
        });
    }
    let key_safe_contents = key_bags.to_der().map_err(der_err("SafeContents"))?;

    // The AuthenticatedSafe: certificates first, then keys (the order OpenSSL writes).
    let encrypted_certs = if params.encrypt_certificates {
        let (alg, ciphertext) = pbes2_encrypt(params, password, &cert_safe_contents)?;
        let ed = EncryptedData {
            version: 0,
            encrypted_content_info: EncryptedContentInfo {
                content_type: OID_DATA,
                content_encryption_algorithm: AlgorithmIdentifierRef::from_der(&alg)
                    .map_err(der_err("PBES2 AlgorithmIdentifier"))?,
                encrypted_content: Some(
                    AnyRef::new(
                        Tag::ContextSpecific {
                            constructed: false,
                            number: TagNumber(0),
                        },
                        &ciphertext,
                    )
                    .map_err(der_err("encryptedContent"))?,
                ),
            },
        };
        Some(ed.to_der().map_err(der_err("EncryptedData"))?)
    } else {
        None
    };
    let mut auth_safe: AuthenticatedSafe<'_> = Vec::with_capacity(2);
    if !cert_bag_ders.is_empty() {
        auth_safe.push(match &encrypted_certs {
            Some(ed) => ContentInfo {
                content_type: OID_ENCRYPTED_DATA,
                content: Some(AnyRef::from_der(ed).map_err(der_err("EncryptedData"))?),
            },
            None => data_content_info(&cert_safe_contents)?,
        });
    }
    if !key_bag_ders.is_empty() {
        auth_safe.push(data_content_info(&key_safe_contents)?);
    }
    let auth_safe_der = auth_safe.to_der().map_err(der_err("AuthenticatedSafe"))?;

    // The MAC over the AuthenticatedSafe's encoding.
    let mut mac_salt = vec![0u8; params.mac_salt_len];
    cachet_crypto::rand::fill(&mut mac_salt)?;
    let mac_key = pkcs12_kdf(
        params.mac_digest,
        &bmp_password(password),
        &mac_salt,
        KDF_ID_MAC,
        params.mac_iterations,
        params.mac_digest.output_len(),
    )?;
    let mac = pbe::hmac(hmac_of(params.mac_digest), &mac_key, &auth_safe_der);
    let pfx = Pfx {
        version: 3,
        auth_safe: data_content_info(&auth_safe_der)?,
        mac_data: Some(MacData {
            mac: DigestInfo {
                digest_algorithm: AlgorithmIdentifierRef {
                    oid: digest_oid(params.mac_digest),
                    parameters: Some(AnyRef::NULL),
                },
                digest: OctetStringRef::new(&mac).map_err(der_err("MAC"))?,
            },
            mac_salt: OctetStringRef::new(&mac_salt).map_err(der_err("MAC salt"))?,
            iterations: params.mac_iterations,
        }),
    };
    let mut out = Zeroizing::new(Vec::new());
    pfx.encode_to_vec(&mut out).map_err(der_err("PFX"))?;
    Ok(out)
}

/// Reads a PFX protected by `password`: verifies the MAC (a mismatch is
/// [`Pkcs12Error::WrongPassword`]), decrypts every bag and returns the keys and certificates.
/// An empty password also matches files written with an absent password (OpenSSL and NSS
/// differ on how they encode "no password" for the MAC).
pub fn parse(pfx_der: &[u8], password: &[u8]) -> Result<Pkcs12Contents, Pkcs12Error> {
    if pfx_der.len() > MAX_PFX_LEN {
        return Err(Pkcs12Error::LimitExceeded(format!(
            "the file is {} bytes, more than {MAX_PFX_LEN}",
            pfx_der.len()
        )));
    }
    let pfx_bytes = ber_to_der(pfx_der)?;
    let pfx = Pfx::from_der(&pfx_bytes).map_err(malformed("PFX"))?;
    if pfx.version != 3 {
        return Err(Pkcs12Error::Unsupported(format!(
            "PFX version {} (only version 3 exists)",
            pfx.version
        )));
    }
    if pfx.auth_safe.content_type == OID_SIGNED_DATA {
        return Err(Pkcs12Error::Unsupported(
            "public-key integrity mode (authSafe is signedData)".to_string(),
        ));
    }
    let auth_safe_octets = data_octets(&pfx.auth_safe, "authSafe")?;
    let mac_data = pfx.mac_data.as_ref().ok_or_else(|| {
        Pkcs12Error::Unsupported(
            "a PFX without MacData (no password integrity): its content cannot be trusted"
                .to_string(),
        )
    })?;

    let mut state = ParseState {
        budget: MAX_TOTAL_ITERATIONS,
        bags: 0,
        out: Pkcs12Contents::default(),
    };
    verify_mac(mac_data, auth_safe_octets, password, &mut state)?;

    let auth_safe_der = ber_to_der(auth_safe_octets)?;
    let auth_safe =
        AuthenticatedSafe::from_der(&auth_safe_der).map_err(malformed("AuthenticatedSafe"))?;
    for ci in &auth_safe {
        state.count_bag()?;
        if ci.content_type == OID_DATA {
            let octets = data_octets(ci, "SafeContents")?;
            state.read_safe_contents(octets, password, 0)?;
        } else if ci.content_type == OID_ENCRYPTED_DATA {
            let ed: EncryptedData<'_> = ci
                .content
                .as_ref()
                .ok_or_else(|| Pkcs12Error::Malformed("encryptedData without content".into()))?
                .decode_as()
                .map_err(malformed("EncryptedData"))?;
            let eci = &ed.encrypted_content_info;
            let ct = match &eci.encrypted_content {
                Some(any) => implicit_octets(any)?,
                None => {
                    return Err(Pkcs12Error::Malformed(
                        "encryptedData without encryptedContent".into(),
                    ));
                }
            };
            let plain = state.decrypt(
                &eci.content_encryption_algorithm,
                &ct,
                password,
                "the encryptedData SafeContents",
            )?;
            state.read_safe_contents(&plain, password, 0)?;
        } else if ci.content_type == OID_ENVELOPED_DATA {
            return Err(Pkcs12Error::Unsupported(
                "public-key privacy mode (envelopedData SafeContents)".to_string(),
            ));
        } else {
            return Err(Pkcs12Error::Unsupported(format!(
                "AuthenticatedSafe content type {}",
                oid_name(&ci.content_type)
            )));
        }
    }
    Ok(state.out)
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

struct ParseState {
    budget: u64,
    bags: usize,
    out: Pkcs12Contents,
}

impl ParseState {
    fn count_bag(&mut self) -> Result<(), Pkcs12Error> {
        self.bags += 1;
        if self.bags > MAX_BAGS {
            return Err(Pkcs12Error::LimitExceeded(format!(
                "more than {MAX_BAGS} bags"
            )));
        }
        Ok(())
    }

    fn spend(&mut self, iterations: u32) -> Result<(), Pkcs12Error> {
        if iterations == 0 {
            return Err(Pkcs12Error::Malformed("iteration count 0".into()));
        }
        if iterations > MAX_ITERATIONS {
            return Err(Pkcs12Error::LimitExceeded(format!(
                "iteration count {iterations} exceeds {MAX_ITERATIONS}"
            )));
        }
        self.budget = self
            .budget
            .checked_sub(u64::from(iterations))
            .ok_or_else(|| {
                Pkcs12Error::LimitExceeded(format!(
                    "the iteration counts add up to more than {MAX_TOTAL_ITERATIONS}"
                ))
            })?;
        Ok(())
    }

    fn read_safe_contents(
        &mut self,
        encoded: &[u8],
        password: &[u8],
        depth: usize,
    ) -> Result<(), Pkcs12Error> {
        if depth > MAX_SAFE_CONTENTS_DEPTH {
            return Err(Pkcs12Error::LimitExceeded(format!(
                "safeContentsBag nested deeper than {MAX_SAFE_CONTENTS_DEPTH}"
            )));
        }
        let der = ber_to_der(encoded)?;
        let bags = SafeContents::from_der(&der).map_err(malformed("SafeContents"))?;
        for bag in &bags {
            self.count_bag()?;
            if bag.bag_id == OID_PKCS8_SHROUDED_KEY_BAG {
                let epki: EncryptedPrivateKeyInfo<'_> = bag
                    .bag_value
                    .decode_as()
                    .map_err(malformed("pkcs8ShroudedKeyBag"))?;
                let plain = self.decrypt(
                    &epki.encryption_algorithm,
                    epki.encrypted_data.as_bytes(),
                    password,
                    "the private key",
                )?;
                let key = ber_to_der(&plain)?;
                check_single_sequence(&key, "decrypted PKCS#8 PrivateKeyInfo")
                    .map_err(|_| Pkcs12Error::Decryption("the private key"))?;
                self.out.keys.push(key);
                self.out.key_attributes.push(read_attributes(bag));
            } else if bag.bag_id == OID_KEY_BAG {
                let mut key = Zeroizing::new(Vec::new());
                bag.bag_value
                    .encode_to_vec(&mut key)
                    .map_err(malformed("keyBag"))?;
                self.out.keys.push(key);
                self.out.key_attributes.push(read_attributes(bag));
            } else if bag.bag_id == OID_CERT_BAG {
                let cb: CertBag<'_> = bag.bag_value.decode_as().map_err(malformed("certBag"))?;
                if cb.cert_id == OID_X509_CERTIFICATE {
                    let cert: &OctetStringRef = cb
                        .cert_value
                        .decode_as()
                        .map_err(malformed("x509Certificate certValue"))?;
                    self.out.certificates.push(cert.as_bytes().to_vec());
                    self.out.certificate_attributes.push(read_attributes(bag));
                }
                // sdsiCertificate and unknown certificate types are skipped.
            } else if bag.bag_id == OID_SAFE_CONTENTS_BAG {
                let inner = bag
                    .bag_value
                    .to_der()
                    .map_err(malformed("safeContentsBag"))?;
                self.read_safe_contents(&inner, password, depth + 1)?;
            }
            // crlBag, secretBag and unknown bags are skipped.
        }
        Ok(())
    }

    /// Decrypts PBES2 content (RFC 8018 §6.2.2); refuses other schemes naming them.
    fn decrypt(
        &mut self,
        alg: &AlgorithmIdentifierRef<'_>,
        ciphertext: &[u8],
        password: &[u8],
        what: &'static str,
    ) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
        if alg.oid != OID_PBES2 {
            return Err(Pkcs12Error::Unsupported(format!(
                "{what} is encrypted with {}{}",
                oid_name(&alg.oid),
                if is_legacy_pbe(&alg.oid) {
                    ": a legacy algorithm Cachet does not implement; re-export the file with \
                     PBES2/AES (OpenSSL 3 default)"
                } else {
                    ""
                }
            )));
        }
        let params: Pbes2Params<'_> = alg
            .parameters
            .as_ref()
            .ok_or_else(|| Pkcs12Error::Malformed("PBES2 without parameters".into()))?
            .decode_as()
            .map_err(malformed("PBES2-params"))?;
        let cipher = match params.encryption_scheme.oid {
            o if o == OID_AES128_CBC => Pbes2Cipher::Aes128Cbc,
            o if o == OID_AES256_CBC => Pbes2Cipher::Aes256Cbc,
            o => {
                return Err(Pkcs12Error::Unsupported(format!(
                    "PBES2 encryption scheme {}",
                    oid_name(&o)
                )));
            }
        };
        let iv_octets: &OctetStringRef = params
            .encryption_scheme
            .parameters
            .as_ref()
            .ok_or_else(|| Pkcs12Error::Malformed("AES-CBC without an IV".into()))?
            .decode_as()
            .map_err(malformed("AES-CBC IV"))?;
        let iv: &[u8; 16] = iv_octets
            .as_bytes()
            .try_into()
            .map_err(|_| Pkcs12Error::Malformed("AES-CBC IV is not 16 bytes".into()))?;
        let key = self.pbkdf2(
            &params.key_derivation_func,
            password,
            Some(cipher.key_len()),
        )?;
        pbe::aes_cbc_decrypt(&key, iv, ciphertext).map_err(|_| Pkcs12Error::Decryption(what))
    }

    /// Runs PBKDF2 as `alg` (an `id-PBKDF2` AlgorithmIdentifier) says. `key_len` is the length
    /// the cipher needs; `None` means `keyLength` must be present and gives it (PBMAC1).
    fn pbkdf2(
        &mut self,
        alg: &AlgorithmIdentifierRef<'_>,
        password: &[u8],
        key_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
        if alg.oid != OID_PBKDF2 {
            return Err(Pkcs12Error::Unsupported(format!(
                "key derivation function {}",
                oid_name(&alg.oid)
            )));
        }
        let kdf: Pbkdf2Params<'_> = alg
            .parameters
            .as_ref()
            .ok_or_else(|| Pkcs12Error::Malformed("PBKDF2 without parameters".into()))?
            .decode_as()
            .map_err(malformed("PBKDF2-params"))?;
        let prf = hmac_from_oid(&kdf.prf.oid).ok_or_else(|| {
            Pkcs12Error::Unsupported(format!("PBKDF2 PRF {}", oid_name(&kdf.prf.oid)))
        })?;
        let len = match (key_len, kdf.key_length) {
            (Some(need), Some(given)) if usize::try_from(given).ok() != Some(need) => {
                return Err(Pkcs12Error::Malformed(format!(
                    "PBKDF2 keyLength {given} does not fit the cipher's {need}"
                )));
            }
            (Some(need), _) => need,
            (None, Some(given)) => usize::try_from(given)
                .ok()
                .filter(|l| (1..=64).contains(l))
                .ok_or_else(|| Pkcs12Error::Malformed(format!("PBKDF2 keyLength {given}")))?,
            (None, None) => {
                return Err(Pkcs12Error::Malformed(
                    "PBMAC1's PBKDF2 parameters lack keyLength".into(),
                ));
            }
        };
        let salt = kdf.salt.as_bytes();
        if salt.len() > MAX_SALT_LEN {
            return Err(Pkcs12Error::LimitExceeded(format!(
                "PBKDF2 salt of {} bytes",
                salt.len()
            )));
        }
        self.spend(kdf.iteration_count)?;
        let mut key = Zeroizing::new(vec![0u8; len]);
        pbe::pbkdf2(prf, password, salt, kdf.iteration_count, &mut key)?;
        Ok(key)
    }
}

/// Verifies the MAC over the AuthenticatedSafe: RFC 7292 Appendix B key derivation with the
/// password as a BMPString, or PBMAC1 (RFC 9579) with the password bytes as given.
fn verify_mac(
    mac_data: &MacData<'_>,
    auth_safe: &[u8],
    password: &[u8],
    state: &mut ParseState,
) -> Result<(), Pkcs12Error> {
    let alg = &mac_data.mac.digest_algorithm;
    let tag = mac_data.mac.digest.as_bytes();
    if alg.oid == OID_PBMAC1 {
        let params: Pbmac1Params<'_> = alg
            .parameters
            .as_ref()
            .ok_or_else(|| Pkcs12Error::Malformed("PBMAC1 without parameters".into()))?
            .decode_as()
            .map_err(malformed("PBMAC1-params"))?;
        let hmac = hmac_from_oid(&params.message_auth_scheme.oid).ok_or_else(|| {
            Pkcs12Error::Unsupported(format!(
                "PBMAC1 MAC {}",
                oid_name(&params.message_auth_scheme.oid)
            ))
        })?;
        let key = state.pbkdf2(&params.key_derivation_func, password, None)?;
        return pbe::hmac_verify(hmac, &key, auth_safe, tag)
            .map_err(|_| Pkcs12Error::WrongPassword);
    }
    let digest = digest_from_oid(&alg.oid)
        .ok_or_else(|| Pkcs12Error::Unsupported(format!("MAC algorithm {}", oid_name(&alg.oid))))?;
    let salt = mac_data.mac_salt.as_bytes();
    if salt.len() > MAX_SALT_LEN {
        return Err(Pkcs12Error::LimitExceeded(format!(
            "MAC salt of {} bytes",
            salt.len()
        )));
    }
    // The password as a BMPString with its terminator; for the empty password also the
    // empty string, which is how some writers encode an absent password.
    let mut candidates = vec![bmp_password(password)];
    if password.is_empty() {
        candidates.push(Zeroizing::new(Vec::new()));
    }
    for bmp in &candidates {
        state.spend(mac_data.iterations)?;
        let key = pkcs12_kdf(
            digest,
            bmp,
            salt,
            KDF_ID_MAC,
            mac_data.iterations,
            digest.output_len(),
        )?;
        if pbe::hmac_verify(hmac_of(digest), &key, auth_safe, tag).is_ok() {
            return Ok(());
        }
    }
    Err(Pkcs12Error::WrongPassword)
}

fn read_attributes(bag: &SafeBag<'_>) -> BagAttributes {
    let mut out = BagAttributes::default();
    let Some(attrs) = &bag.bag_attributes else {
        return out;
    };
    for attr in attrs.iter() {
        let Some(value) = attr.attr_values.iter().next() else {
            continue;
        };
        if attr.attr_id == OID_FRIENDLY_NAME && value.tag() == Tag::BmpString {
            let units = value
                .value()
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            out.friendly_name = Some(
                char::decode_utf16(units)
                    .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
            );
        } else if attr.attr_id == OID_LOCAL_KEY_ID && value.tag() == Tag::OctetString {
            out.local_key_id = Some(value.value().to_vec());
        }
    }
    out
}

/// The OCTET STRING content of an `id-data` ContentInfo.
fn data_octets<'a>(ci: &ContentInfo<'a>, what: &str) -> Result<&'a [u8], Pkcs12Error> {
    if ci.content_type != OID_DATA {
        return Err(Pkcs12Error::Unsupported(format!(
            "{what} of content type {}",
            oid_name(&ci.content_type)
        )));
    }
    let content = ci
        .content
        .ok_or_else(|| Pkcs12Error::Malformed(format!("{what}: data without content")))?;
    let octets: &'a OctetStringRef = content
        .decode_as()
        .map_err(|e| Pkcs12Error::Malformed(format!("{what}: {e}")))?;
    Ok(octets.as_bytes())
}

/// The bytes of an `[0] IMPLICIT OCTET STRING`, primitive (DER) or constructed (BER segments,
/// already normalised to definite lengths).
fn implicit_octets(any: &AnyRef<'_>) -> Result<Vec<u8>, Pkcs12Error> {
    match any.tag() {
        Tag::ContextSpecific {
            constructed: false,
            number: TagNumber(0),
        } => Ok(any.value().to_vec()),
        Tag::ContextSpecific {
            constructed: true,
            number: TagNumber(0),
        } => {
            let mut reader =
                der::SliceReader::new(any.value()).map_err(malformed("encryptedContent"))?;
            let mut out = Vec::with_capacity(any.value().len());
            while !der::Reader::is_finished(&reader) {
                let seg = <&OctetStringRef>::decode(&mut reader)
                    .map_err(malformed("encryptedContent segment"))?;
                out.extend_from_slice(seg.as_bytes());
            }
            Ok(out)
        }
        other => Err(Pkcs12Error::Malformed(format!(
            "encryptedContent has tag {other}, not [0]"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing helpers
// ---------------------------------------------------------------------------------------------

fn check_params(p: &Pkcs12Params) -> Result<(), Pkcs12Error> {
    let bad = |m: &str| Err(Pkcs12Error::InvalidInput(m.to_string()));
    if !(1..=MAX_ITERATIONS).contains(&p.iterations)
        || !(1..=MAX_ITERATIONS).contains(&p.mac_iterations)
    {
        return bad("iteration counts must be 1 ..= 10,000,000");
    }
    if !(8..=64).contains(&p.salt_len) || !(8..=64).contains(&p.mac_salt_len) {
        return bad("salt lengths must be 8 ..= 64 bytes");
    }
    Ok(())
}

/// Encrypts with PBES2 under fresh salt and IV; returns the DER of the AlgorithmIdentifier
/// and the ciphertext.
fn pbes2_encrypt(
    p: &Pkcs12Params,
    password: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), Pkcs12Error> {
    let mut salt = vec![0u8; p.salt_len];
    cachet_crypto::rand::fill(&mut salt)?;
    let iv: [u8; 16] = cachet_crypto::rand::bytes()?;
    let mut key = Zeroizing::new(vec![0u8; p.cipher.key_len()]);
    pbe::pbkdf2(p.prf, password, &salt, p.iterations, &mut key)?;
    let ciphertext = pbe::aes_cbc_encrypt(&key, &iv, plaintext)?;

    let prf_oid = hmac_oid(p.prf);
    let kdf_params = Pbkdf2Params {
        salt: OctetStringRef::new(&salt).map_err(der_err("salt"))?,
        iteration_count: p.iterations,
        key_length: None,
        prf: AlgorithmIdentifierRef {
            oid: prf_oid,
            parameters: Some(AnyRef::NULL),
        },
    }
    .to_der()
    .map_err(der_err("PBKDF2-params"))?;
    let iv_der = OctetStringRef::new(&iv)
        .map_err(der_err("IV"))?
        .to_der()
        .map_err(der_err("IV"))?;
    let pbes2_params = Pbes2Params {
        key_derivation_func: AlgorithmIdentifierRef {
            oid: OID_PBKDF2,
            parameters: Some(AnyRef::from_der(&kdf_params).map_err(der_err("PBKDF2-params"))?),
        },
        encryption_scheme: AlgorithmIdentifierRef {
            oid: p.cipher.oid(),
            parameters: Some(AnyRef::from_der(&iv_der).map_err(der_err("IV"))?),
        },
    }
    .to_der()
    .map_err(der_err("PBES2-params"))?;
    let alg = AlgorithmIdentifierRef {
        oid: OID_PBES2,
        parameters: Some(AnyRef::from_der(&pbes2_params).map_err(der_err("PBES2-params"))?),
    }
    .to_der()
    .map_err(der_err("PBES2 AlgorithmIdentifier"))?;
    Ok((alg, ciphertext))
}

fn data_content_info(octets: &[u8]) -> Result<ContentInfo<'_>, Pkcs12Error> {
    Ok(ContentInfo {
        content_type: OID_DATA,
        content: Some(AnyRef::new(Tag::OctetString, octets).map_err(der_err("data"))?),
    })
}

fn bag_attributes<'a>(
    local_key_id: &'a [u8],
    friendly_name_bmp: Option<&'a [u8]>,
) -> Result<Option<SetOfVec<Pkcs12Attribute<'a>>>, Pkcs12Error> {
    let mut attrs = SetOfVec::new();
    let one = |v: AnyRef<'a>| SetOfVec::try_from(vec![v]).map_err(der_err("attribute"));
    if let Some(name) = friendly_name_bmp {
        attrs
            .insert(Pkcs12Attribute {
                attr_id: OID_FRIENDLY_NAME,
                attr_values: one(AnyRef::new(Tag::BmpString, name).map_err(der_err("name"))?)?,
            })
            .map_err(der_err("friendlyName"))?;
    }
    attrs
        .insert(Pkcs12Attribute {
            attr_id: OID_LOCAL_KEY_ID,
            attr_values: one(
                AnyRef::new(Tag::OctetString, local_key_id).map_err(der_err("localKeyId"))?
            )?,
        })
        .map_err(der_err("localKeyId"))?;
    Ok(Some(attrs))
}

/// A friendly name as BMPString content (UTF-16BE); characters outside the BMP are refused.
fn bmp_string_bytes(name: &str) -> Result<Vec<u8>, Pkcs12Error> {
    if name.chars().any(|c| u32::from(c) > 0xFFFF) {
        return Err(Pkcs12Error::InvalidInput(
            "the friendly name has characters outside the Basic Multilingual Plane".into(),
        ));
    }
    if name.len() > 1024 {
        return Err(Pkcs12Error::InvalidInput(
            "the friendly name is too long".into(),
        ));
    }
    Ok(name.encode_utf16().flat_map(u16::to_be_bytes).collect())
}

// ---------------------------------------------------------------------------------------------
// RFC 7292 Appendix B key derivation
// ---------------------------------------------------------------------------------------------

/// Diversifier `ID = 3` of RFC 7292 Appendix B.3: MAC key.
const KDF_ID_MAC: u8 = 3;

/// The password as RFC 7292 Appendix B.1 wants it: a BMPString with a two-zero-byte
/// terminator. UTF-8 text is converted to UTF-16BE (surrogate pairs for characters outside the
/// BMP, as OpenSSL does); bytes that are not UTF-8 are taken as Latin-1, as OpenSSL does.
fn bmp_password(password: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 4 + 2));
    match std::str::from_utf8(password) {
        Ok(s) => {
            for unit in s.encode_utf16() {
                out.extend_from_slice(&unit.to_be_bytes());
            }
        }
        Err(_) => {
            for &b in password {
                out.extend_from_slice(&[0, b]);
            }
        }
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// The key derivation of RFC 7292 Appendix B.2: `n` bytes from `password` (already a
/// BMPString), `salt`, diversifier `id` and `iterations` rounds of `digest`.
fn pkcs12_kdf(
    digest: DigestAlgorithm,
    password: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u32,
    n: usize,
) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
    if iterations == 0 {
        return Err(Pkcs12Error::Malformed("iteration count 0".into()));
    }
    let u = digest.output_len();
    let v = match digest {
        DigestAlgorithm::Sha1 | DigestAlgorithm::Sha256 => 64,
        DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512 => 128,
    };
    let fill = |src: &[u8]| -> Zeroizing<Vec<u8>> {
        let len = v * src.len().div_ceil(v);
        Zeroizing::new(src.iter().copied().cycle().take(len).collect())
    };
    // I = S || P, each repeated to a multiple of v bytes (B.2 steps 1-4).
    let mut i_buf = fill(salt);
    i_buf.extend_from_slice(&fill(password));
    let mut input = Zeroizing::new(Vec::with_capacity(v + i_buf.len()));
    let mut out = Zeroizing::new(Vec::with_capacity(n.div_ceil(u) * u));
    while out.len() < n {
        // A = H^r(D || I) (step 6a).
        input.clear();
        input.resize(v, id);
        input.extend_from_slice(&i_buf);
        let mut a = Zeroizing::new(digest.digest(&input));
        for _ in 1..iterations {
            a = Zeroizing::new(digest.digest(&a));
        }
        out.extend_from_slice(&a);
        if out.len() >= n {
            break;
        }
        // I_j = (I_j + B + 1) mod 2^(8v) with B = A repeated to v bytes (steps 6b, 6c).
        let b: Zeroizing<Vec<u8>> = Zeroizing::new(a.iter().copied().cycle().take(v).collect());
        for block in i_buf.chunks_exact_mut(v) {
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().rev().zip(b.iter().rev()) {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = sum as u8; // the low byte; the high bit becomes the carry
                carry = sum >> 8;
            }
        }
    }
    out.truncate(n);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// BER → DER normalisation
// ---------------------------------------------------------------------------------------------

/// Rewrites BER into DER as far as PKCS#12 readers need: indefinite lengths become definite,
/// non-minimal lengths minimal, and constructed OCTET STRINGs primitive. Contents of primitive
/// elements are copied unchanged, so DER input comes out byte for byte the same. The input must
/// be exactly one element.
fn ber_to_der(input: &[u8]) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
    // Each element grows by at most 2 bytes (a 5-byte definite length replacing "80 … 00 00")
    // and takes at least 2 bytes of input, so twice the input never reallocates (which would
    // leave an unzeroized copy of key material behind).
    let mut out = Zeroizing::new(Vec::with_capacity(input.len().saturating_mul(2) + 16));
    let mut pos = 0;
    ber_element(input, &mut pos, &mut out, 0)?;
    if pos != input.len() {
        return Err(Pkcs12Error::Malformed(format!(
            "{} bytes of trailing data",
            input.len() - pos
        )));
    }
    Ok(out)
}

fn ber_byte(input: &[u8], pos: &mut usize) -> Result<u8, Pkcs12Error> {
    let b = *input
        .get(*pos)
        .ok_or_else(|| Pkcs12Error::Malformed("truncated".into()))?;
    *pos += 1;
    Ok(b)
}

fn ber_element(
    input: &[u8],
    pos: &mut usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Pkcs12Error> {
    if depth > MAX_BER_DEPTH {
        return Err(Pkcs12Error::LimitExceeded(format!(
            "ASN.1 nested deeper than {MAX_BER_DEPTH}"
        )));
    }
    let tag_start = *pos;
    let first = ber_byte(input, pos)?;
    if first & 0x1f == 0x1f {
        // High tag number form.
        let mut n = 0;
        loop {
            let b = ber_byte(input, pos)?;
            n += 1;
            if n > 4 {
                return Err(Pkcs12Error::Malformed("tag number too large".into()));
            }
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let constructed = first & 0x20 != 0;
    let out_tag = out.len();
    out.extend_from_slice(&input[tag_start..*pos]);
    let content_start = out.len();

    let len_byte = ber_byte(input, pos)?;
    let length = match len_byte {
        0x80 => None,
        l if l < 0x80 => Some(usize::from(l)),
        l => {
            let count = usize::from(l & 0x7f);
            if count > 4 {
                return Err(Pkcs12Error::Malformed("length too large".into()));
            }
            let mut len = 0usize;
            for _ in 0..count {
                len = (len << 8) | usize::from(ber_byte(input, pos)?);
            }
            Some(len)
        }
    };
    match length {
        Some(len) => {
            let end = pos
                .checked_add(len)
                .filter(|&e| e <= input.len())
                .ok_or_else(|| Pkcs12Error::Malformed("truncated".into()))?;
            if constructed {
                while *pos < end {
                    ber_element(&input[..end], pos, out, depth + 1)?;
                }
            } else {
                out.extend_from_slice(&input[*pos..end]);
                *pos = end;
            }
        }
        None => {
            if !constructed {
                return Err(Pkcs12Error::Malformed(
                    "indefinite length on a primitive element".into(),
                ));
            }
            loop {
                match input.get(*pos..*pos + 2) {
                    Some([0, 0]) => {
                        *pos += 2;
                        break;
                    }
                    Some(_) => ber_element(input, pos, out, depth + 1)?,
                    None => return Err(Pkcs12Error::Malformed("truncated".into())),
                }
            }
        }
    }

    if first == 0x24 {
        // Constructed OCTET STRING: its segments (now DER, primitive) are joined into one.
        out[out_tag] = 0x04;
        let mut read = content_start;
        let mut write = content_start;
        while read < out.len() {
            if out[read] != 0x04 {
                return Err(Pkcs12Error::Malformed(
                    "constructed OCTET STRING with a segment that is not an OCTET STRING".into(),
                ));
            }
            let (len, header) = der_length(out.get(read + 1..).unwrap_or_default())?;
            let from = read + 1 + header;
            if from + len > out.len() {
                return Err(Pkcs12Error::Malformed(
                    "OCTET STRING segment overruns".into(),
                ));
            }
            out.copy_within(from..from + len, write);
            write += len;
            read = from + len;
        }
        out.truncate(write);
    }
    let content_len = out.len() - content_start;
    let header = der_length_bytes(content_len);
    out.splice(content_start..content_start, header);
    Ok(())
}

/// Reads a DER length: (length, bytes used).
fn der_length(bytes: &[u8]) -> Result<(usize, usize), Pkcs12Error> {
    let first = *bytes
        .first()
        .ok_or_else(|| Pkcs12Error::Malformed("truncated".into()))?;
    if first < 0x80 {
        return Ok((usize::from(first), 1));
    }
    let count = usize::from(first & 0x7f);
    let digits = bytes
        .get(1..1 + count)
        .ok_or_else(|| Pkcs12Error::Malformed("truncated".into()))?;
    Ok((
        digits
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b)),
        1 + count,
    ))
}

fn der_length_bytes(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let mut out = Vec::with_capacity(1 + bytes.len() - skip);
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
    out
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// Checks that `bytes` is exactly one DER SEQUENCE.
fn check_single_sequence(bytes: &[u8], what: &str) -> Result<(), Pkcs12Error> {
    let any = AnyRef::from_der(bytes)
        .map_err(|e| Pkcs12Error::InvalidInput(format!("{what} is not DER: {e}")))?;
    if any.tag() != Tag::Sequence {
        return Err(Pkcs12Error::InvalidInput(format!(
            "{what} is not a DER SEQUENCE"
        )));
    }
    Ok(())
}

fn hmac_of(d: DigestAlgorithm) -> HmacAlgorithm {
    match d {
        DigestAlgorithm::Sha1 => HmacAlgorithm::Sha1,
        DigestAlgorithm::Sha256 => HmacAlgorithm::Sha256,
        DigestAlgorithm::Sha384 => HmacAlgorithm::Sha384,
        DigestAlgorithm::Sha512 => HmacAlgorithm::Sha512,
    }
}

fn hmac_oid(h: HmacAlgorithm) -> ObjectIdentifier {
    match h {
        HmacAlgorithm::Sha1 => OID_HMAC_WITH_SHA1,
        HmacAlgorithm::Sha256 => OID_HMAC_WITH_SHA256,
        HmacAlgorithm::Sha384 => OID_HMAC_WITH_SHA384,
        HmacAlgorithm::Sha512 => OID_HMAC_WITH_SHA512,
    }
}

fn hmac_from_oid(oid: &ObjectIdentifier) -> Option<HmacAlgorithm> {
    [
        HmacAlgorithm::Sha1,
        HmacAlgorithm::Sha256,
        HmacAlgorithm::Sha384,
        HmacAlgorithm::Sha512,
    ]
    .into_iter()
    .find(|&h| hmac_oid(h) == *oid)
}

fn digest_oid(d: DigestAlgorithm) -> ObjectIdentifier {
    match d {
        DigestAlgorithm::Sha1 => OID_SHA1,
        DigestAlgorithm::Sha256 => OID_SHA256,
        DigestAlgorithm::Sha384 => OID_SHA384,
        DigestAlgorithm::Sha512 => OID_SHA512,
    }
}

fn digest_from_oid(oid: &ObjectIdentifier) -> Option<DigestAlgorithm> {
    [
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ]
    .into_iter()
    .find(|&d| digest_oid(d) == *oid)
}

/// PKCS#12 (RFC 7292 Appendix C) and PKCS#5 v1.5 (RFC 8018 Appendix A.3) password-based
/// encryption schemes that predate PBES2.
fn is_legacy_pbe(oid: &ObjectIdentifier) -> bool {
    const PBES1: [&str; 6] = [
        "1.2.840.113549.1.5.1",
        "1.2.840.113549.1.5.3",
        "1.2.840.113549.1.5.4",
        "1.2.840.113549.1.5.6",
        "1.2.840.113549.1.5.10",
        "1.2.840.113549.1.5.11",
    ];
    let s = oid.to_string();
    s.starts_with("1.2.840.113549.1.12.1.") || PBES1.contains(&s.as_str())
}

/// "name (dotted)" when the OID database knows the OID, else the dotted form.
fn oid_name(oid: &ObjectIdentifier) -> String {
    match const_oid::db::DB.by_oid(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> Pkcs12Error {
    move |e| Pkcs12Error::Malformed(format!("{what}: {e}"))
}

fn der_err(what: &'static str) -> impl Fn(der::Error) -> Pkcs12Error {
    move |e| Pkcs12Error::InvalidInput(format!("cannot encode {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachet_crypto::{KeyType, PrivateKey};

    /// Self-signed Ed25519 certificate "CN=Cachet PKCS12 test leaf" (made once with
    /// `openssl req -x509`; PKCS#12 never checks that a key and its certificate match).
    const LEAF_CERT_HEX: &str = concat!(
        "3082015b3082010da00302010202141121620912ad9dc6944ecac7db826e4cc435c2a1300506032b65703022",
        "3120301e06035504030c1743616368657420504b435331322074657374206c6561663020170d323631313233",
        "3131343134315a180f32313236313033303131343134315a30223120301e06035504030c1743616368657420",
        "504b435331322074657374206c656166302a300506032b65700321004d869c8afd43c29c1594dc9ddef0376d",
        "a39b1bf137936b24dc4fa0e3417deb36a3533051301d0603551d0e04160414f80f6368446d344f4d89810d62",
        "472e99057aa913301f0603551d23041830168014f80f6368446d344f4d89810d62472e99057aa913300f0603",
        "551d130101ff040530030101ff300506032b65700341000c45fdbd96964d97ecbc54550569885188032a1fd3",
        "94d078eae008e5e10e4f0107687637c26a2f95fa04387b56c771b65861996c213a30f1abb5934f52354205",
    );
    /// Self-signed Ed25519 certificate "CN=Cachet PKCS12 test ca", used as the chain.
    const CA_CERT_HEX: &str = concat!(
        "3082015730820109a00302010202142df312800d01649d81dd3874246765fbc4ff85df300506032b65703020",
        "311e301c06035504030c1543616368657420504b4353313220746573742063613020170d3236313132333131",
        "343134315a180f32313236313033303131343134315a3020311e301c06035504030c1543616368657420504b",
        "435331322074657374206361302a300506032b65700321007984035937effac6109d4285305da8e91f9321ea",
        "c4b4b03cd29e293086561e95a3533051301d0603551d0e04160414b3763addf680c076f529826b203ab4887c",
        "9f846e301f0603551d23041830168014b3763addf680c076f529826b203ab4887c9f846e300f0603551d1301",
        "01ff040530030101ff300506032b657003410095b54aca84a1d521b8e9ddfa2fc13103f5aaa51e543faa6e40",
        "e22d844507718ff1edee3180d286a5aaaac51706014a84aff04b5bf89777717fb34ae35cf5a803",
    );
    /// `openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile ca.pem
    /// -name "OpenSSL default" -passout pass:cachet` (OpenSSL 3.0.19 defaults: PBES2
    /// AES-256-CBC, PBKDF2-HMAC-SHA-256, 2048 iterations, encrypted certificates, MAC SHA-256),
    /// with the Ed25519 key of [`LEAF_CERT_HEX`].
    const OPENSSL_DEFAULT_P12_HEX: &str = concat!(
        "3082057a0201033082053006092a864886f70d010701a08205210482051d30820519308203f206092a864886",
        "f70d010706a08203e3308203df020100308203d806092a864886f70d010701305706092a864886f70d01050d",
        "304a302906092a864886f70d01050c301c04088dfbc533341437a102020800300c06082a864886f70d020905",
        "00301d060960864801650304012a0410382a7069f593e5a3aeac5406877d5ec28082037051d83cfd530353ac",
        "5621b36498c4c3b2b0c5b12a02f6a2a367ce26a360e5f27227d13e631473db79dbbe38072db8d49f9cf9242a",
        "3a6828bdfe06fd9e04e4807097fd33c62e82f1f0775f4a46fd32c4f0c7a8f165bf7cf6d68e616ff08de85386",
        "2262b56d64f6633103f2090eda1320b1eac3dd4eb6907ac49dde49426b6d952d939e5981d6e49da9d1590f3f",
        "c65d368de9974da0fa0bbd9e46ba58dd7c379ea1bb9355ef92515f86c440f8bb2c559a00f3a8c657e8016071",
        "126eb3d315e06e1231b1beb7423d3ee99b85606ce35ad04aa584260a74491bff6f698536bb642585a2d3d4f8",
        "a0cfb0e755398555d79533eeab563e9e16b9be9621c9bd72cc8354e32b214b441c7213eb1004ae9d1d68cf40",
        "130b965b8a32dc87aae2e329893a348db9b64bcddd3f086d997771f4c647557b4828e111b5602a9c1b4f65d4",
        "829ac9b270c1d318551d6cc183dbd41f371778ff02b0db93cbcdcb8cb7c017a98086af4ff788692b06d07b59",
        "b810499f8633dda34571adbd9fb9bb11ce5fcc18a48967fd7c7f743cefc38b7e283cbb456e0850f4b4053555",
        "3b2294d3e618f5872dac776f33f9661075fb39564a45ddcad07620ee95650a4e42d5581663c0cfb63f93c864",
        "ca28bb7df712e57b75348b17535e3b58d93cc29ddf460da7ad51f605f19d4a84a0bf15f021e52305dbfa7aa6",
        "24e0d0853cc7805513fec5de93e90c38769d971e7331e057ff0d8167cc66238e152389559d9ff0a5e02c58e8",
        "5c5310faf79ddae6d4b867d38c17755f9853c49799bb4633e647dafa8ab2c3019e4cd8af4d67a2100f7758c0",
        "bcdc17972df2de55d39e9b80e377a4e0dfb4067bd1aa3fddba0c88843863e0902e9a9ff9041eff1e6fc4d77a",
        "ba798072b40f76e2a13cc3d10758913a0fee2b36e2c2448c8634835c64c672101cd94085621074c270c28767",
        "07a5bb2b872187e579cda99270de134aa5f4d67f45f2d3b38deec364d406bb5d2e2b5617bd2d2eb9e846bba8",
        "cbcce20815d1dd95959320bd58bbcc85161433ba7a887f7c6c73b6e47cb2c6492a07bfbf398bd55e1e7f514b",
        "cbf9cd415f35a219d6ffa42d11e4a5e69c2532a298e674c4334804d57aabd06a9781163d05a839d2e8c8b435",
        "7b8589c7c30eb5b80b45d5282df793263642b09a1e2311091bc6001f24f8f2ebb07b2bc63cb139359886d138",
        "4d869b78e7db348207772ae30a5ef2ec43aba0a3fe39cacb89cfa41b48bf9c212b0920783082011f06092a86",
        "4886f70d010701a08201100482010c3082010830820104060b2a864886f70d010c0a0102a0819e30819b3057",
        "06092a864886f70d01050d304a302906092a864886f70d01050c301c04083ecdf437b032139a02020800300c",
        "06082a864886f70d02090500301d060960864801650304012a041096d80f1def6c08f70018f194c975941b04",
        "40d2e9f4d6ccc7a8f03df82af46c27e71fb972e0b501080a964eb2439cf7dc4ea9ebd630fb44caf7b6a6313f",
        "ed8fd7caafdf4fb2cd8132e4f6efe19959a3df2aea3154302306092a864886f70d01091531160414328339ba",
        "d2843fbbd681c19d2d7ebf0ae7b489b4302d06092a864886f70d01091431201e1e004f00700065006e005300",
        "53004c002000640065006600610075006c007430413031300d0609608648016503040201050004203c40b008",
        "61b5f60c6fea2afe960822c90cbfd193f0db047227e2a4f2881dd8520408f15bf9cd1817dd8d02020800",
    );
    /// The same key and certificate with `-legacy`: pbeWithSHAAnd40BitRC2-CBC certificates,
    /// pbeWithSHAAnd3-KeyTripleDES-CBC key, MAC SHA-1.
    const OPENSSL_LEGACY_P12_HEX: &str = concat!(
        "3082035b0201033082032106092a864886f70d010701a08203120482030e3082030a3082022f06092a864886",
        "f70d010706a08202203082021c0201003082021506092a864886f70d010701301c060a2a864886f70d010c01",
        "06300e0408dbb8ac6e5b0eee6702020800808201e809b7b4d6a45de37b7812255d2f8fd6b02bbf408ff233c5",
        "9020c1e75c50930834c9e1c72df561367371df099ee79c3f8fc6507a7af0c49d0b7e4f0badf56a45359605a5",
        "656c85de9c2f8b38a6b81ea8c7940f4df3c6708a5c0b8a21aa62dc1ae452b653bda8ec2957ccb36dd7ad9e49",
        "ed7bc7054fa12e43f26f4d3c940f497d65c329d43f47d940153746e0ec7d59a1b1c6490bea28894598f4fe08",
        "08f3a2db161e7ff10ca12b6b57f68f0da1f516eb1b5c9255f0e054527071dae680d9759f8d110bcf2c3911bd",
        "f86fbfdb866cc5b4a99cb3670f41942d3bf6fbdb1c0d7e881d86efe5f33ef5a00dd2e693f5a16d7a5795c155",
        "f54a9c9b9626a34d2cd7a12d3890370557d173684e4d317cc8970975f0624a80a8538dca8a9c06659f4c1a96",
        "4839c0177fa08d0e147d145fb52dbae6c1cff067f03047820f6e27c9b401f75fbcf43a345f9d8ed304c1dc33",
        "5b7b50d672661e137ccc4f725f4355c6996824b2fcb4091e007dc5aac2bf994e63da1a953ace63e7c571b2ff",
        "d9bf950d8b3c45ccfef5e514dfd98c7d33728ff370cb4689be6449df8fe3dda63903ab884df4e2550bf0f6f7",
        "81794dfcab43ed24b55cfc8d675e487f33a80a4e5669ff4d36bb8ae7ae39fd7e957f881d7ca0b2610ae70e61",
        "c142cde8c3e206814fd5e6ae927d9c5212c628c8742fa45dc53081d406092a864886f70d010701a081c60481",
        "c33081c03081bd060b2a864886f70d010c0a0102a05a3058301c060a2a864886f70d010c0103300e0408317c",
        "d4c49aff913c020208000438e16bd1691a4359fc1e68f6623aaf78639dff2f9a8dcca4f1df33d165d9c85dab",
        "95bc6a94f16b2a92684d71b82641f0f5a1732c15ad4b212a3152302306092a864886f70d0109153116041432",
        "8339bad2843fbbd681c19d2d7ebf0ae7b489b4302b06092a864886f70d010914311e1e1c004f00700065006e",
        "00530053004c0020006c0065006700610063007930313021300906052b0e03021a05000414aad059d6016f07",
        "34b5cb85e45b4f00d91f792c5004082ce820acb9ab53b002020800",
    );
    /// A P-256 key and self-signed certificate ("NSS BER") exported by NSS 3.87
    /// `pk12util -o`: BER with indefinite lengths and constructed OCTET STRINGs, PBES2 with
    /// 600,000 iterations, MAC SHA-256. Password "cachet".
    const NSS_BER_P12_HEX: &str = concat!(
        "3080020103308006092a864886f70d010701a08024800482041c3080308006092a864886f70d010701a08024",
        "8004820157308201533082014f060b2a864886f70d010c0a0102a081f93081f6306106092a864886f70d0105",
        "0d3054303306092a864886f70d01050c302604104e9752f9d5f21270d0af861298e87c0f02030927c0020120",
        "300a06082a864886f70d0209301d060960864801650304012a04105f38608eb700356c3bed820bcac2cfe404",
        "819033aa6094feed947746e272aad43bd94ee1f9fdd7db3888ebafde941028d5dac101adf546436530e996bb",
        "a74f8def89656eee38e5bb6210b4fcb4690168ec467503792c3e43535e71d807e5e5b4be5c8934cf08ad9fca",
        "3dc2fbfadb2f5c592466fe2a2421b5d71fe95983a3c34ef2a7448cac58a3f27329017bb0b81e2c457433c028",
        "8f2d5b7df88e71d6bd19363918cf3144301d06092a864886f70d01091431101e0e004e005300530020004200",
        "450052302306092a864886f70d01091531160414f62db790bef4640d4943e9107d2e30842825f3ea00000000",
        "0000308006092a864886f70d010706a0803080020100308006092a864886f70d010701306106092a864886f7",
        "0d01050d3054303306092a864886f70d01050c30260410d54fdea38f154531101ff482c3518f9202030927c0",
        "020110300a06082a864886f70d0209301d06096086480165030401020410d10134a5b5f102ead58b6b3cc583",
        "4438a0800482020017342dce5e2119944cad4d34a37b6aa806bd5fa026fe2a7986142cbd999d7722ad1b584d",
        "48b39c41e69639ba0da868f162776c7ae51ca1fcdcf1de34025a689bbb3c2205b8ba30580c2f943c0b72763f",
        "e5088690c9f48706a5c5d6965f9e1a2f4b8002c7493f19f3b088790973758ceeba52c9786d98055759383995",
        "e3d8e9e8b3bfdf067abbe4d5b0e1005dc5c9d598c6b0acd400fe1cb45205b8cbe2876165118ebe147b84d4f3",
        "2d4161ab246f288849aadaafdacf68e65dd673f5077d8632f34a3afe146781a9d97665ac91bd93b1f31c5dda",
        "0ce2080765f067fdad298b02412e07726570874c5b6678160ddaa8908b3d6ca8d2a6afe2ab00bf32fc949a00",
        "11e095bb1e6c078f6d8490557fe3817f7e27a889b66ed3434a3addf4ed1cd5457a361bf179121d8671dac859",
        "9cf579eb19c1c859c32fe0453136c3c5514fa697f82fe1ab89d6708e800e8f7cb7efd6fb4801c44eff0d29bd",
        "3afdf34cb1729dcdbbf4d7c25e05e17c9559266d4e120dbef915e4ab2105f6c225671670e4e600fe76b01d15",
        "aa97b4b6ca5246e3330fbfc99c2cfc527e98e9057132b56920cf5be51c52c0b81f00397749ea3d3bb6d08ee6",
        "f45305cd34692d46f4fe85b771eb25ed8cd2d56ca90f224eef1c406de6b11da5024b0f4d0fa1217235303499",
        "4dd1984ae6713a61b5c10116855ba97d7ac384076f6ee9036d1691dd1a0534f50450746804103833476dcf19",
        "097b3cf12802f35bc11e000000000000000000000000000000000000304a3031300d06096086480165030402",
        "01050004201237c7ecd9fce8122ad0675f5468d8d8dda72faf85f938de4c699229772abe8804101e9713007a",
        "d7b995189c0fcc4dfedf4a02030927c00000",
    );

    fn leaf() -> Vec<u8> {
        hex::decode(LEAF_CERT_HEX).unwrap()
    }
    fn ca() -> Vec<u8> {
        hex::decode(CA_CERT_HEX).unwrap()
    }

    /// A profile's parameters with few iterations, so that the tests run quickly.
    fn fast(profile: Pkcs12Profile) -> Pkcs12Params {
        Pkcs12Params {
            iterations: 1000,
            mac_iterations: 1000,
            ..profile.params()
        }
    }

    fn build_fast(key: &PrivateKey, password: &[u8], profile: Pkcs12Profile) -> Vec<u8> {
        let (leaf, ca) = (leaf(), ca());
        let entry = Pkcs12Entry {
            key_pkcs8_der: key.pkcs8_der(),
            certificate_der: &leaf,
            friendly_name: Some("Alice Émile"),
        };
        build_with(&[entry], &[&ca], password, &fast(profile))
            .unwrap()
            .to_vec()
    }

    #[test]
    fn round_trip_every_key_type_and_profile() {
        for kt in [
            KeyType::Rsa2048,
            KeyType::EcdsaP256,
            KeyType::Ed25519,
            KeyType::X25519,
        ] {
            let key = PrivateKey::generate(kt).unwrap();
            for profile in [Pkcs12Profile::Modern, Pkcs12Profile::Compatible] {
                let pfx = build_fast(&key, b"correct horse", profile);
                let got = parse(&pfx, b"correct horse").unwrap();
                assert_eq!(got.keys.len(), 1, "{kt} {profile:?}");
                assert_eq!(&got.keys[0][..], key.pkcs8_der(), "{kt} {profile:?}");
                assert_eq!(
                    PrivateKey::from_pkcs8_der(&got.keys[0]).unwrap().key_type(),
                    kt
                );
                assert_eq!(
                    got.certificates,
                    vec![leaf(), ca()],
                    "leaf first, then chain"
                );
                assert_eq!(got.certificate_for_key(0), Some(0));
                let id = cachet_crypto::digest::sha1(&leaf()).to_vec();
                assert_eq!(got.key_attributes[0].local_key_id.as_ref(), Some(&id));
                assert_eq!(
                    got.key_attributes[0].friendly_name.as_deref(),
                    Some("Alice Émile")
                );
                assert_eq!(
                    got.certificate_attributes[0].local_key_id.as_ref(),
                    Some(&id)
                );
                assert_eq!(got.certificate_attributes[1], BagAttributes::default());
            }
        }
    }

    /// The algorithms and iteration counts written are the documented ones.
    #[test]
    fn profiles_write_their_documented_parameters() {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let (leaf, ca) = (leaf(), ca());
        for (profile, cipher, prf) in [
            (
                Pkcs12Profile::Modern,
                OID_AES256_CBC,
                Some(OID_HMAC_WITH_SHA256),
            ),
            (Pkcs12Profile::Compatible, OID_AES128_CBC, None),
        ] {
            let pfx = build(key.pkcs8_der(), &leaf, &[&ca], None, b"pw", profile).unwrap();
            let parsed = Pfx::from_der(&pfx).unwrap();
            let mac = parsed.mac_data.as_ref().unwrap();
            assert_eq!(mac.mac.digest_algorithm.oid, OID_SHA256);
            assert_eq!(mac.iterations, 100_000);
            assert_eq!(mac.mac_salt.as_bytes().len(), 16);
            let auth_safe_bytes = data_octets(&parsed.auth_safe, "authSafe").unwrap();
            let auth_safe = AuthenticatedSafe::from_der(auth_safe_bytes).unwrap();
            assert_eq!(auth_safe.len(), 2);
            assert_eq!(
                auth_safe[0].content_type, OID_ENCRYPTED_DATA,
                "certificates"
            );
            assert_eq!(auth_safe[1].content_type, OID_DATA, "keys");
            let keys = SafeContents::from_der(data_octets(&auth_safe[1], "keys").unwrap()).unwrap();
            assert_eq!(keys[0].bag_id, OID_PKCS8_SHROUDED_KEY_BAG);
            let epki: EncryptedPrivateKeyInfo<'_> = keys[0].bag_value.decode_as().unwrap();
            assert_eq!(epki.encryption_algorithm.oid, OID_PBES2);
            let pbes2: Pbes2Params<'_> = epki
                .encryption_algorithm
                .parameters
                .unwrap()
                .decode_as()
                .unwrap();
            assert_eq!(pbes2.encryption_scheme.oid, cipher);
            let kdf_der = pbes2
                .key_derivation_func
                .parameters
                .unwrap()
                .to_der()
                .unwrap();
            let kdf = Pbkdf2Params::from_der(&kdf_der).unwrap();
            assert_eq!(kdf.iteration_count, 100_000);
            assert_eq!(kdf.salt.as_bytes().len(), 16);
            assert_eq!(kdf.key_length, None);
            // DER omits the DEFAULT PRF: the encoding must then hold only salt and count.
            let fields = AnyRef::from_der(&kdf_der).unwrap();
            let has_prf = fields.value().len() > 2 + 16 + 2 + 3;
            assert_eq!(has_prf, prf.is_some(), "{profile:?}");
            if let Some(prf) = prf {
                assert_eq!(kdf.prf.oid, prf);
            }
            let got = parse(&pfx, b"pw").unwrap();
            assert_eq!(&got.keys[0][..], key.pkcs8_der());
        }
    }

    #[test]
    fn build_many_pairs_each_key_with_its_certificate() {
        let keys: Vec<PrivateKey> = [KeyType::X25519, KeyType::EcdsaP256, KeyType::Ed25519]
            .into_iter()
            .map(|kt| PrivateKey::generate(kt).unwrap())
            .collect();
        // Three distinct "certificates" (the PKCS#12 layer does not look inside them).
        let certs = [leaf(), ca(), {
            let mut c = leaf();
            let n = c.len();
            c[n - 1] ^= 1; // a different signature byte
            c
        }];
        let entries: Vec<(&[u8], &[u8])> = keys
            .iter()
            .zip(&certs)
            .map(|(k, c)| (k.pkcs8_der(), c.as_slice()))
            .collect();
        let chain = ca();
        let pfx = build_with(
            &entries
                .iter()
                .map(|&(key_pkcs8_der, certificate_der)| Pkcs12Entry {
                    key_pkcs8_der,
                    certificate_der,
                    friendly_name: None,
                })
                .collect::<Vec<_>>(),
            &[&chain],
            b"recovery",
            &fast(Pkcs12Profile::Modern),
        )
        .unwrap();
        let got = parse(&pfx, b"recovery").unwrap();
        assert_eq!(got.keys.len(), 3);
        assert_eq!(got.certificates.len(), 4);
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(&got.keys[i][..], key.pkcs8_der());
            let c = got.certificate_for_key(i).unwrap();
            assert_eq!(got.certificates[c], certs[i]);
            assert_eq!(got.key_attributes[i].friendly_name, None);
        }
        // The real profile through the public entry point.
        let pfx = build_many(&entries[..1], &[], b"recovery", Pkcs12Profile::Compatible).unwrap();
        let got = parse(&pfx, b"recovery").unwrap();
        assert_eq!(&got.keys[0][..], keys[0].pkcs8_der());
        assert_eq!(got.certificates, vec![leaf()]);
    }

    #[test]
    fn wrong_password_is_reported_as_such() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let pfx = build_fast(&key, b"right", Pkcs12Profile::Modern);
        for wrong in [&b"wrong"[..], b"", b"Right", b"right "] {
            assert!(matches!(
                parse(&pfx, wrong),
                Err(Pkcs12Error::WrongPassword)
            ));
        }
        assert!(parse(&pfx, b"right").is_ok());
    }

    #[test]
    fn unusual_passwords_round_trip() {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        for password in [
            &b""[..],
            "Pässwörd €".as_bytes(),
            "emoji \u{1F512}".as_bytes(), // outside the BMP: a surrogate pair in the MAC
            &[0xff, 0xfe, 0x41][..],      // not UTF-8: Latin-1 in the MAC, as OpenSSL
        ] {
            let pfx = build_fast(&key, password, Pkcs12Profile::Compatible);
            let got = parse(&pfx, password).unwrap();
            assert_eq!(&got.keys[0][..], key.pkcs8_der());
            assert!(matches!(parse(&pfx, b"x"), Err(Pkcs12Error::WrongPassword)));
        }
    }

    #[test]
    fn reads_what_openssl_writes_by_default() {
        let pfx = hex::decode(OPENSSL_DEFAULT_P12_HEX).unwrap();
        let got = parse(&pfx, b"cachet").unwrap();
        assert_eq!(got.keys.len(), 1);
        let key = PrivateKey::from_pkcs8_der(&got.keys[0]).unwrap();
        assert_eq!(key.key_type(), KeyType::Ed25519);
        assert_eq!(got.certificates, vec![leaf(), ca()]);
        assert_eq!(got.certificate_for_key(0), Some(0));
        assert_eq!(
            got.key_attributes[0].friendly_name.as_deref(),
            Some("OpenSSL default")
        );
        assert!(matches!(
            parse(&pfx, b"cachet!"),
            Err(Pkcs12Error::WrongPassword)
        ));
    }

    #[test]
    fn reads_nss_ber_output() {
        let pfx = hex::decode(NSS_BER_P12_HEX).unwrap();
        assert_eq!(&pfx[..2], &[0x30, 0x80], "the fixture is BER");
        let got = parse(&pfx, b"cachet").unwrap();
        let key = PrivateKey::from_pkcs8_der(&got.keys[0]).unwrap();
        assert_eq!(key.key_type(), KeyType::EcdsaP256);
        assert_eq!(got.certificates.len(), 1);
        assert_eq!(got.certificate_for_key(0), Some(0));
        assert_eq!(
            got.key_attributes[0].friendly_name.as_deref(),
            Some("NSS BER")
        );
    }

    #[test]
    fn legacy_encryption_is_unsupported_and_named() {
        let pfx = hex::decode(OPENSSL_LEGACY_P12_HEX).unwrap();
        match parse(&pfx, b"cachet") {
            Err(Pkcs12Error::Unsupported(m)) => {
                assert!(m.contains("1.2.840.113549.1.12.1.6"), "{m}");
                assert!(m.contains("RC2"), "{m}");
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
        // The MAC is checked first, so a wrong password is still reported as such.
        assert!(matches!(
            parse(&pfx, b"nope"),
            Err(Pkcs12Error::WrongPassword)
        ));
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let pfx = build_fast(&key, b"pw", Pkcs12Profile::Modern);
        for len in 0..pfx.len() {
            assert!(
                parse(&pfx[..len], b"pw").is_err(),
                "prefix of {len} bytes parsed"
            );
        }
        let mut longer = pfx.clone();
        longer.push(0);
        assert!(matches!(
            parse(&longer, b"pw"),
            Err(Pkcs12Error::Malformed(_))
        ));
    }

    #[test]
    fn altered_input_is_an_error_not_a_panic() {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let pfx = build_fast(&key, b"pw", Pkcs12Profile::Modern);
        let mut accepted = 0;
        for i in (0..pfx.len()).step_by(3) {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = pfx.clone();
                bad[i] ^= flip;
                if parse(&bad, b"pw").is_ok() {
                    accepted += 1;
                }
            }
        }
        // Every byte is either covered by the MAC or part of the structure around it.
        assert_eq!(accepted, 0);
    }

    #[test]
    fn garbage_is_malformed() {
        for bytes in [
            &b""[..],
            b"not a pfx",
            &[0x30, 0x80],
            &[0x30, 0x03, 0x02, 0x01, 0x03],
            &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x85, 1, 0, 0, 0, 0],
        ] {
            assert!(
                matches!(parse(bytes, b"pw"), Err(Pkcs12Error::Malformed(_))),
                "{bytes:02x?}"
            );
        }
        // Deep BER nesting stops at the depth limit instead of overflowing the stack.
        let mut deep = Vec::new();
        for _ in 0..100_000 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        assert!(matches!(
            parse(&deep, b"pw"),
            Err(Pkcs12Error::LimitExceeded(_))
        ));
        let huge = vec![0u8; MAX_PFX_LEN + 1];
        assert!(matches!(
            parse(&huge, b"pw"),
            Err(Pkcs12Error::LimitExceeded(_))
        ));
    }

    #[test]
    fn iteration_counts_are_bounded() {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let pfx = build_fast(&key, b"pw", Pkcs12Profile::Modern);
        let parsed = Pfx::from_der(&pfx).unwrap();
        let mut mac = parsed.mac_data.clone().unwrap();
        mac.iterations = MAX_ITERATIONS + 1;
        let hostile = Pfx {
            mac_data: Some(mac),
            ..parsed.clone()
        }
        .to_der()
        .unwrap();
        // Refused before any work is done (10,000,001 iterations would take seconds).
        let start = std::time::Instant::now();
        assert!(matches!(
            parse(&hostile, b"pw"),
            Err(Pkcs12Error::LimitExceeded(_))
        ));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));

        let mut state = ParseState {
            budget: MAX_TOTAL_ITERATIONS,
            bags: 0,
            out: Pkcs12Contents::default(),
        };
        assert!(state.spend(MAX_ITERATIONS).is_ok());
        assert!(state.spend(MAX_ITERATIONS).is_ok());
        assert!(matches!(state.spend(1), Err(Pkcs12Error::LimitExceeded(_))));
        assert!(matches!(state.spend(0), Err(Pkcs12Error::Malformed(_))));

        let too_many = Pkcs12Params {
            iterations: MAX_ITERATIONS + 1,
            ..Pkcs12Profile::Modern.params()
        };
        let (leaf, ca) = (leaf(), ca());
        let entry = Pkcs12Entry {
            key_pkcs8_der: key.pkcs8_der(),
            certificate_der: &leaf,
            friendly_name: None,
        };
        assert!(matches!(
            build_with(&[entry], &[&ca], b"pw", &too_many),
            Err(Pkcs12Error::InvalidInput(_))
        ));
    }

    #[test]
    fn pbmac1_is_verified() {
        // Replace the RFC 7292 MAC of a PFX by PBMAC1 (RFC 9579) with PBKDF2-HMAC-SHA-256.
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let pfx = build_fast(&key, b"pw", Pkcs12Profile::Modern);
        let parsed = Pfx::from_der(&pfx).unwrap();
        let auth_safe = data_octets(&parsed.auth_safe, "authSafe").unwrap();
        let salt = [7u8; 16];
        let mut mac_key = [0u8; 32];
        pbe::pbkdf2(HmacAlgorithm::Sha256, b"pw", &salt, 1000, &mut mac_key).unwrap();
        let tag = pbe::hmac(HmacAlgorithm::Sha256, &mac_key, auth_safe);
        let kdf = Pbkdf2Params {
            salt: OctetStringRef::new(&salt).unwrap(),
            iteration_count: 1000,
            key_length: Some(32),
            prf: AlgorithmIdentifierRef {
                oid: OID_HMAC_WITH_SHA256,
                parameters: Some(AnyRef::NULL),
            },
        }
        .to_der()
        .unwrap();
        let params = Pbmac1Params {
            key_derivation_func: AlgorithmIdentifierRef {
                oid: OID_PBKDF2,
                parameters: Some(AnyRef::from_der(&kdf).unwrap()),
            },
            message_auth_scheme: AlgorithmIdentifierRef {
                oid: OID_HMAC_WITH_SHA256,
                parameters: Some(AnyRef::NULL),
            },
        }
        .to_der()
        .unwrap();
        let pbmac1 = Pfx {
            mac_data: Some(MacData {
                mac: DigestInfo {
                    digest_algorithm: AlgorithmIdentifierRef {
                        oid: OID_PBMAC1,
                        parameters: Some(AnyRef::from_der(&params).unwrap()),
                    },
                    digest: OctetStringRef::new(&tag).unwrap(),
                },
                mac_salt: OctetStringRef::new(b"NOT USED").unwrap(),
                iterations: 1,
            }),
            ..parsed.clone()
        }
        .to_der()
        .unwrap();
        let got = parse(&pbmac1, b"pw").unwrap();
        assert_eq!(&got.keys[0][..], key.pkcs8_der());
        assert!(matches!(
            parse(&pbmac1, b"pW"),
            Err(Pkcs12Error::WrongPassword)
        ));
    }

    #[test]
    fn empty_password_matches_an_absent_password_mac() {
        // Some writers key the MAC of a password-less file with an empty BMPString rather
        // than with "\0\0"; an empty password must open both.
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let pfx = build_fast(&key, b"", Pkcs12Profile::Modern);
        let parsed = Pfx::from_der(&pfx).unwrap();
        let auth_safe = data_octets(&parsed.auth_safe, "authSafe").unwrap();
        let mut mac_data = parsed.mac_data.clone().unwrap();
        let mac_key = pkcs12_kdf(
            DigestAlgorithm::Sha256,
            &[],
            mac_data.mac_salt.as_bytes(),
            KDF_ID_MAC,
            mac_data.iterations,
            32,
        )
        .unwrap();
        let tag = pbe::hmac(HmacAlgorithm::Sha256, &mac_key, auth_safe);
        mac_data.mac.digest = OctetStringRef::new(&tag).unwrap();
        let absent = Pfx {
            mac_data: Some(mac_data),
            ..parsed.clone()
        }
        .to_der()
        .unwrap();
        assert_ne!(absent, pfx);
        assert_eq!(&parse(&absent, b"").unwrap().keys[0][..], key.pkcs8_der());
        assert_eq!(&parse(&pfx, b"").unwrap().keys[0][..], key.pkcs8_der());
        assert!(matches!(
            parse(&absent, b"x"),
            Err(Pkcs12Error::WrongPassword)
        ));
    }

    /// Known answers of the RFC 7292 Appendix B derivation, from OpenSSL 3
    /// (`openssl kdf … PKCS12KDF`); the first two are also Bouncy Castle's test vectors.
    #[test]
    fn appendix_b_kdf_known_answers() {
        let smeg = bmp_password(b"smeg");
        assert_eq!(&smeg[..], &hex::decode("0073006d006500670000").unwrap()[..]);
        let salt = hex::decode("0a58cf64530d823f").unwrap();
        let k = pkcs12_kdf(DigestAlgorithm::Sha1, &smeg, &salt, 1, 1, 24).unwrap();
        assert_eq!(
            hex::encode(&k[..]),
            "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"
        );
        let k = pkcs12_kdf(DigestAlgorithm::Sha1, &smeg, &salt, 2, 1, 8).unwrap();
        assert_eq!(hex::encode(&k[..]), "79993dfe048d3b76");

        let cachet = bmp_password(b"cachet");
        let salt = hex::decode("0102030405060708090a0b0c0d0e0f10").unwrap();
        let k = pkcs12_kdf(DigestAlgorithm::Sha256, &cachet, &salt, 3, 1000, 70).unwrap();
        assert_eq!(
            hex::encode(&k[..]),
            concat!(
                "f1e0f8aae07377a2bbdf960e88c317b67f6cd8e5968efe77be2cfccaefdce490",
                "7df13d3da0df7254af76883fbcf1fe407a46ce5c0c6a1d1dd8b26d0dac4f31f9",
                "ff687fdf84a0"
            )
        );
        let salt = hex::decode("0102030405060708").unwrap();
        let k = pkcs12_kdf(DigestAlgorithm::Sha512, &cachet, &salt, 3, 3, 64).unwrap();
        assert_eq!(
            hex::encode(&k[..]),
            concat!(
                "50acbb713f6387bb798a93d46d86704c623ad6759ec434f4331eac08cb3e575c",
                "e9d245075782bb0bc4eaa5ebeb8b977256371e12e87080cd1d55b25c28f81d02"
            )
        );
    }

    #[test]
    fn ber_is_normalised_to_der() {
        // DER passes through unchanged.
        let der = [0x30, 0x06, 0x04, 0x01, 0xaa, 0x05, 0x00, 0x01];
        assert!(
            ber_to_der(&der).is_err(),
            "length 6 with 5 bytes of content"
        );
        let der = [0x30, 0x05, 0x04, 0x01, 0xaa, 0x05, 0x00];
        assert_eq!(&ber_to_der(&der).unwrap()[..], &der);
        // Indefinite lengths and a constructed OCTET STRING in segments.
        let ber = [
            0x30, 0x80, // SEQUENCE, indefinite
            0x24, 0x80, // OCTET STRING, constructed, indefinite
            0x04, 0x02, 0x01, 0x02, // segment
            0x24, 0x03, 0x04, 0x01, 0x03, // nested constructed segment
            0x04, 0x81, 0x01, 0x04, // segment with a non-minimal length
            0x00, 0x00, // end of the OCTET STRING
            0x05, 0x00, // NULL
            0x00, 0x00, // end of the SEQUENCE
        ];
        assert_eq!(
            &ber_to_der(&ber).unwrap()[..],
            &[0x30, 0x08, 0x04, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x00]
        );
        // A constructed OCTET STRING may hold only OCTET STRINGs.
        assert!(ber_to_der(&[0x24, 0x80, 0x05, 0x00, 0x00, 0x00]).is_err());
        // Indefinite length needs a constructed element and an end-of-contents.
        assert!(ber_to_der(&[0x04, 0x80, 0x00, 0x00]).is_err());
        assert!(ber_to_der(&[0x30, 0x80, 0x05, 0x00]).is_err());
    }

    #[test]
    fn build_refuses_bad_input() {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
        let leaf = leaf();
        let modern = Pkcs12Profile::Modern;
        assert!(build(b"junk", &leaf, &[], None, b"pw", modern).is_err());
        assert!(build(key.pkcs8_der(), b"junk", &[], None, b"pw", modern).is_err());
        assert!(build(key.pkcs8_der(), &leaf, &[b"junk"], None, b"pw", modern).is_err());
        assert!(matches!(
            build(
                key.pkcs8_der(),
                &leaf,
                &[],
                Some("\u{1F512}"),
                b"pw",
                modern
            ),
            Err(Pkcs12Error::InvalidInput(_))
        ));
        assert!(matches!(
            build_many(&[], &[], b"pw", modern),
            Err(Pkcs12Error::InvalidInput(_))
        ));
    }

    #[test]
    fn debug_output_hides_keys() {
        let contents = Pkcs12Contents {
            keys: vec![Zeroizing::new(vec![0x42; 8])],
            ..Default::default()
        };
        let shown = format!("{contents:?}");
        assert!(shown.contains("1 redacted"));
        assert!(!shown.contains("66"));
    }
}
