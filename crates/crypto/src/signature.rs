//! Signature algorithms (RFC 5754, RFC 8017, RFC 5758, RFC 8410) and verification of a
//! signature with a DER SubjectPublicKeyInfo.

use crate::Error;
use aws_lc_rs::signature as sig;
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc8410};

/// ecdsa-with-SHA1 (ANSI X9.62), absent from const-oid's database.
pub const ECDSA_WITH_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.1");

/// A signature algorithm, as named by its AlgorithmIdentifier OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// sha1WithRSAEncryption: verified (legacy), never produced.
    RsaPkcs1Sha1,
    /// sha256WithRSAEncryption (RFC 4055 §5).
    RsaPkcs1Sha256,
    /// sha384WithRSAEncryption.
    RsaPkcs1Sha384,
    /// sha512WithRSAEncryption.
    RsaPkcs1Sha512,
    /// ecdsa-with-SHA1: verified (legacy), never produced.
    EcdsaSha1,
    /// ecdsa-with-SHA256 (RFC 5758 §3.2).
    EcdsaSha256,
    /// ecdsa-with-SHA384.
    EcdsaSha384,
    /// ecdsa-with-SHA512.
    EcdsaSha512,
    /// Ed25519 (RFC 8410 §3).
    Ed25519,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt (RFC 4055 §3.1, RFC 8017 §8.1).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, 48-byte salt.
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, 64-byte salt.
    RsaPssSha512,
    /// id-dsa-with-sha1 (RFC 3279 §2.2.2): verified (old mail, PKITS), never produced.
    DsaSha1,
    /// id-dsa-with-sha256 (RFC 5758 §3.1): verified, never produced.
    DsaSha256,
}

/// id-RSASSA-PSS (RFC 4055 §3.1). Its parameters say which hash, so the OID alone does not
/// name one [`SignatureAlgorithm`].
pub const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// The DER AlgorithmIdentifiers of RSASSA-PSS with SHA-256/384/512 as the CA/B Forum S/MIME
/// BR §7.1.3.2 list them byte for byte (hash and MGF1 with the same SHA-2, salt = hash length,
/// trailer field default).
const PSS_SHA256_DER: &[u8] = &[
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0,
    0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03,
    0x02, 0x01, 0x20,
];
const PSS_SHA384_DER: &[u8] = &[
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0,
    0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0xa2, 0x03,
    0x02, 0x01, 0x30,
];
const PSS_SHA512_DER: &[u8] = &[
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0,
    0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00,
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0xa2, 0x03,
    0x02, 0x01, 0x40,
];

/// RSASSA-PSS-params (RFC 4055 §3.1), as read: absent fields take the defaults (SHA-1,
/// MGF1-SHA-1, salt 20, trailer 1).
#[derive(der::Sequence)]
struct RsassaPssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash_algorithm: Option<spki::AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen_algorithm: Option<spki::AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_length: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<u32>,
}

/// An RSASSA-PSS signature's parameters, reduced to what verification needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PssParameters {
    /// The algorithm (hash = MGF1 hash).
    pub algorithm: SignatureAlgorithm,
    /// The salt length in octets.
    pub salt_length: u32,
}

/// Reads the parameters of an `id-RSASSA-PSS` AlgorithmIdentifier (its DER). Supported: a
/// SHA-2 hash with MGF1 over the same hash and trailer field 1; any salt length.
pub fn pss_parameters(algorithm_identifier_der: &[u8]) -> Option<PssParameters> {
    use der::Decode;
    let ai = spki::AlgorithmIdentifierOwned::from_der(algorithm_identifier_der).ok()?;
    if ai.oid != ID_RSASSA_PSS {
        return None;
    }
    let params: RsassaPssParams = ai.parameters?.decode_as().ok()?;
    let sha1 = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
    let hash = params.hash_algorithm.map_or(sha1, |h| h.oid);
    let mgf_hash = match &params.mask_gen_algorithm {
        None => sha1,
        Some(m) if m.oid == ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8") => {
            m.parameters
                .as_ref()?
                .decode_as::<spki::AlgorithmIdentifierOwned>()
                .ok()?
                .oid
        }
        Some(_) => return None,
    };
    if hash != mgf_hash || params.trailer_field.unwrap_or(1) != 1 {
        return None;
    }
    let algorithm = match hash.to_string().as_str() {
        "2.16.840.1.101.3.4.2.1" => SignatureAlgorithm::RsaPssSha256,
        "2.16.840.1.101.3.4.2.2" => SignatureAlgorithm::RsaPssSha384,
        "2.16.840.1.101.3.4.2.3" => SignatureAlgorithm::RsaPssSha512,
        _ => return None,
    };
    Some(PssParameters {
        algorithm,
        salt_length: params.salt_length.unwrap_or(20),
    })
}

impl PssParameters {
    /// Verifies an RSASSA-PSS signature with these parameters. Only a salt as long as the
    /// hash is supported (RFC 8017 §9.1's recommendation, what Cachet and most S/MIME clients
    /// write); other lengths (OpenSSL's default is the maximum) are reported as unsupported,
    /// never as a bad signature.
    pub fn verify(&self, spki_der: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let hlen = match self.algorithm {
            SignatureAlgorithm::RsaPssSha256 => 32,
            SignatureAlgorithm::RsaPssSha384 => 48,
            SignatureAlgorithm::RsaPssSha512 => 64,
            _ => return Err(Error::InvalidParameter("not an RSASSA-PSS algorithm")),
        };
        if self.salt_length != hlen {
            return Err(Error::UnsupportedAlgorithm(format!(
                "RSASSA-PSS with a {}-octet salt (only a salt as long as the hash, {hlen} octets, is supported)",
                self.salt_length
            )));
        }
        self.algorithm.verify(spki_der, message, signature)
    }
}

/// The RSASSA-PSS algorithm of a DER AlgorithmIdentifier `id-RSASSA-PSS` with parameters,
/// when they are one of the three Cachet supports (hash = MGF1 hash, salt = hash length,
/// trailer 1), written with or without explicit defaults... only the canonical forms the BR
/// define are accepted, which is what every current signer writes.
pub fn pss_from_algorithm_identifier(der: &[u8]) -> Option<SignatureAlgorithm> {
    [
        (PSS_SHA256_DER, SignatureAlgorithm::RsaPssSha256),
        (PSS_SHA384_DER, SignatureAlgorithm::RsaPssSha384),
        (PSS_SHA512_DER, SignatureAlgorithm::RsaPssSha512),
    ]
    .into_iter()
    .find(|(d, _)| *d == der)
    .map(|(_, a)| a)
}

impl SignatureAlgorithm {
    /// The AlgorithmIdentifier OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::RsaPkcs1Sha1 => rfc5912::SHA_1_WITH_RSA_ENCRYPTION,
            Self::RsaPkcs1Sha256 => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            Self::RsaPkcs1Sha384 => rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
            Self::RsaPkcs1Sha512 => rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
            Self::EcdsaSha1 => ECDSA_WITH_SHA1,
            Self::EcdsaSha256 => rfc5912::ECDSA_WITH_SHA_256,
            Self::EcdsaSha384 => rfc5912::ECDSA_WITH_SHA_384,
            Self::EcdsaSha512 => rfc5912::ECDSA_WITH_SHA_512,
            Self::Ed25519 => rfc8410::ID_ED_25519,
            Self::RsaPssSha256 | Self::RsaPssSha384 | Self::RsaPssSha512 => ID_RSASSA_PSS,
            Self::DsaSha1 => crate::dsa::ID_DSA_WITH_SHA1,
            Self::DsaSha256 => crate::dsa::ID_DSA_WITH_SHA256,
        }
    }

    /// The algorithm for `oid`, if supported.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [
            Self::RsaPkcs1Sha1,
            Self::RsaPkcs1Sha256,
            Self::RsaPkcs1Sha384,
            Self::RsaPkcs1Sha512,
            Self::EcdsaSha1,
            Self::EcdsaSha256,
            Self::EcdsaSha384,
            Self::EcdsaSha512,
            Self::Ed25519,
            Self::DsaSha1,
            Self::DsaSha256,
        ]
        .into_iter()
        .find(|a| a.oid() == *oid)
    }

    /// RSA PKCS#1 v1.5 algorithms carry explicit NULL parameters (RFC 4055 §5); ECDSA and
    /// EdDSA carry none (RFC 5758 §3.2, RFC 8410 §3).
    pub fn has_null_parameters(self) -> bool {
        matches!(
            self,
            Self::RsaPkcs1Sha1 | Self::RsaPkcs1Sha256 | Self::RsaPkcs1Sha384 | Self::RsaPkcs1Sha512
        )
    }

    /// Whether this algorithm is weak (SHA-1, DSA): accepted on old mail with a warning only.
    pub fn is_weak(self) -> bool {
        matches!(
            self,
            Self::RsaPkcs1Sha1 | Self::EcdsaSha1 | Self::DsaSha1 | Self::DsaSha256
        )
    }

    /// The DER encoding of the AlgorithmIdentifier.
    pub fn algorithm_identifier_der(self) -> Vec<u8> {
        match self {
            Self::RsaPssSha256 => return PSS_SHA256_DER.to_vec(),
            Self::RsaPssSha384 => return PSS_SHA384_DER.to_vec(),
            Self::RsaPssSha512 => return PSS_SHA512_DER.to_vec(),
            _ => {}
        }
        let oid = self.oid();
        let oid_bytes = oid.as_bytes();
        let mut inner = Vec::with_capacity(oid_bytes.len() + 4);
        inner.push(0x06);
        inner.push(oid_bytes.len() as u8);
        inner.extend_from_slice(oid_bytes);
        if self.has_null_parameters() {
            inner.extend_from_slice(&[0x05, 0x00]);
        }
        let mut out = Vec::with_capacity(inner.len() + 2);
        out.push(0x30);
        out.push(inner.len() as u8);
        out.extend_from_slice(&inner);
        out
    }

    /// Verifies `signature` over `message` with the public key in `spki_der`.
    ///
    /// RSA keys from 1024 bits are accepted here so that legacy mail and conformance suites
    /// can be read; callers decide whether such a key is acceptable by policy.
    pub fn verify(self, spki_der: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let info = spki::SubjectPublicKeyInfoRef::try_from(spki_der)
            .map_err(|_| Error::InvalidPublicKey("not a DER SubjectPublicKeyInfo"))?;
        let key = info
            .subject_public_key
            .as_bytes()
            .ok_or(Error::InvalidPublicKey(
                "public key bit string has unused bits",
            ))?;
        let key_oid = info.algorithm.oid;
        let curve = || {
            info.algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        };
        let mismatch = || Error::InvalidPublicKey("key does not match the signature algorithm");
        let alg: &'static dyn sig::VerificationAlgorithm = match self {
            Self::RsaPkcs1Sha1
            | Self::RsaPkcs1Sha256
            | Self::RsaPkcs1Sha384
            | Self::RsaPkcs1Sha512 => {
                if key_oid != rfc5912::RSA_ENCRYPTION {
                    return Err(mismatch());
                }
                match self {
                    Self::RsaPkcs1Sha1 => &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    Self::RsaPkcs1Sha256 => &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                    Self::RsaPkcs1Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    _ => &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                }
            }
            Self::RsaPssSha256 | Self::RsaPssSha384 | Self::RsaPssSha512 => {
                // RFC 4055 §1.2: a PSS signature may come from an rsaEncryption key.
                if key_oid != rfc5912::RSA_ENCRYPTION && key_oid != ID_RSASSA_PSS {
                    return Err(mismatch());
                }
                match self {
                    Self::RsaPssSha256 => &sig::RSA_PSS_2048_8192_SHA256,
                    Self::RsaPssSha384 => &sig::RSA_PSS_2048_8192_SHA384,
                    _ => &sig::RSA_PSS_2048_8192_SHA512,
                }
            }
            Self::EcdsaSha1 | Self::EcdsaSha256 | Self::EcdsaSha384 | Self::EcdsaSha512 => {
                if key_oid != rfc5912::ID_EC_PUBLIC_KEY {
                    return Err(mismatch());
                }
                let c = curve().ok_or_else(mismatch)?;
                let p256 = c == rfc5912::SECP_256_R_1;
                let p384 = c == rfc5912::SECP_384_R_1;
                match (self, p256, p384) {
                    (Self::EcdsaSha1, true, _) => &sig::ECDSA_P256_SHA1_ASN1,
                    (Self::EcdsaSha256, true, _) => &sig::ECDSA_P256_SHA256_ASN1,
                    (Self::EcdsaSha256, _, true) => &sig::ECDSA_P384_SHA256_ASN1,
                    (Self::EcdsaSha384, true, _) => &sig::ECDSA_P256_SHA384_ASN1,
                    (Self::EcdsaSha384, _, true) => &sig::ECDSA_P384_SHA384_ASN1,
                    (Self::EcdsaSha512, true, _) => &sig::ECDSA_P256_SHA512_ASN1,
                    (Self::EcdsaSha512, _, true) => &sig::ECDSA_P384_SHA512_ASN1,
                    _ => return Err(Error::InvalidPublicKey("unsupported EC curve")),
                }
            }
            Self::Ed25519 => {
                if key_oid != rfc8410::ID_ED_25519 {
                    return Err(mismatch());
                }
                &sig::ED25519
            }
            Self::DsaSha1 | Self::DsaSha256 => {
                let digest = if self == Self::DsaSha1 {
                    &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
                } else {
                    &aws_lc_rs::digest::SHA256
                };
                return crate::dsa::verify(spki_der, digest, message, signature);
            }
        };
        sig::UnparsedPublicKey::new(alg, key)
            .verify(message, signature)
            .map_err(|_| Error::BadSignature)
    }
}
