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

    /// Whether this algorithm is weak (SHA-1): accepted on old mail with a warning only.
    pub fn is_weak(self) -> bool {
        matches!(self, Self::RsaPkcs1Sha1 | Self::EcdsaSha1)
    }

    /// The DER encoding of the AlgorithmIdentifier.
    pub fn algorithm_identifier_der(self) -> Vec<u8> {
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
        };
        sig::UnparsedPublicKey::new(alg, key)
            .verify(message, signature)
            .map_err(|_| Error::BadSignature)
    }
}
