//! Object identifiers used by CMS and S/MIME, named as in the RFC that assigns them.
//!
//! Each constant is checked against `const_oid::db` where that database has it (see the
//! tests), and its dotted form is spelled out here so a reader can compare it with the RFC.

use der::asn1::ObjectIdentifier;

// --- Content types (RFC 5652 §4–§6, RFC 5083 §1) ---------------------------------------------

/// `id-data` 1.2.840.113549.1.7.1 (RFC 5652 §4).
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-signedData` 1.2.840.113549.1.7.2 (RFC 5652 §5.1).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-envelopedData` 1.2.840.113549.1.7.3 (RFC 5652 §6.1).
pub const ID_ENVELOPED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
/// `id-digestedData` 1.2.840.113549.1.7.5 (RFC 5652 §7).
pub const ID_DIGESTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.5");
/// `id-encryptedData` 1.2.840.113549.1.7.6 (RFC 5652 §8).
pub const ID_ENCRYPTED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
/// `id-ct-authData` 1.2.840.113549.1.9.16.1.2 (RFC 5652 §9.1).
pub const ID_CT_AUTH_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.2");
/// `id-ct-authEnvelopedData` 1.2.840.113549.1.9.16.1.23 (RFC 5083 §1).
pub const ID_CT_AUTH_ENVELOPED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.23");

// --- Attributes (RFC 5652 §11, RFC 8551 §2.5, RFC 5035 §3) ----------------------------------

/// `id-contentType` 1.2.840.113549.1.9.3 (RFC 5652 §11.1).
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// `id-messageDigest` 1.2.840.113549.1.9.4 (RFC 5652 §11.2).
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// `id-signingTime` 1.2.840.113549.1.9.5 (RFC 5652 §11.3).
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// `smimeCapabilities` 1.2.840.113549.1.9.15 (RFC 8551 §2.5.2).
pub const SMIME_CAPABILITIES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.15");
/// `id-aa-encrypKeyPref` 1.2.840.113549.1.9.16.2.11 (RFC 8551 §2.5.3).
pub const ID_AA_ENCRYP_KEY_PREF: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.11");
/// `id-aa-signingCertificate` 1.2.840.113549.1.9.16.2.12 (RFC 2634 §5.4, read only).
pub const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// `id-aa-signingCertificateV2` 1.2.840.113549.1.9.16.2.47 (RFC 5035 §3).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

// --- Digest algorithms (RFC 5754 §2, RFC 3370 §2.1) ------------------------------------------

/// `id-sha1` 1.3.14.3.2.26 (RFC 3370 §2.1; read only).
pub const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// `id-sha256` 2.16.840.1.101.3.4.2.1 (RFC 5754 §2.2).
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-sha384` 2.16.840.1.101.3.4.2.2 (RFC 5754 §2.3).
pub const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// `id-sha512` 2.16.840.1.101.3.4.2.3 (RFC 5754 §2.4).
pub const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

// --- Signature and public-key algorithms ---------------------------------------------------

/// `rsaEncryption` 1.2.840.113549.1.1.1 (RFC 3370 §3.2, §4.2.1; RFC 8017 A.1).
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `sha256WithRSAEncryption` 1.2.840.113549.1.1.11 (RFC 5754 §3.2).
pub const SHA256_WITH_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `id-RSASSA-PSS` 1.2.840.113549.1.1.10 (RFC 4056 §2).
pub const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// `id-ecPublicKey` 1.2.840.10045.2.1 (RFC 5753 §7.1.1).
pub const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `ecdsa-with-SHA256` 1.2.840.10045.4.3.2 (RFC 5753 §7.1.3).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// `ecdsa-with-SHA384` 1.2.840.10045.4.3.3 (RFC 5753 §7.1.3).
pub const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// `id-Ed25519` 1.3.101.112 (RFC 8419 §2.3).
pub const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// `id-X25519` 1.3.101.110 (RFC 8418 §2.1, RFC 8410 §3).
pub const ID_X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");

// --- Key transport: RSAES-OAEP (RFC 3560 §2, RFC 4055 §4) ------------------------------------

/// `id-RSAES-OAEP` 1.2.840.113549.1.1.7 (RFC 4055 §4.1, RFC 3560 §2.2).
pub const ID_RSAES_OAEP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.7");
/// `id-mgf1` 1.2.840.113549.1.1.8 (RFC 4055 §2.2).
pub const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
/// `id-pSpecified` 1.2.840.113549.1.1.9 (RFC 4055 §4.1).
pub const ID_P_SPECIFIED: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.9");

// --- Key agreement (RFC 5753 §7.1.4, RFC 8418 §2) --------------------------------------------

/// `dhSinglePass-stdDH-sha1kdf-scheme` 1.3.133.16.840.63.0.2 (RFC 5753 §7.1.4; read only).
pub const DH_SINGLE_PASS_STD_DH_SHA1KDF_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.133.16.840.63.0.2");
/// `dhSinglePass-stdDH-sha224kdf-scheme` 1.3.132.1.11.0 (RFC 5753 §7.1.4).
pub const DH_SINGLE_PASS_STD_DH_SHA224KDF_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.132.1.11.0");
/// `dhSinglePass-stdDH-sha256kdf-scheme` 1.3.132.1.11.1 (RFC 5753 §7.1.4, RFC 8418 §2.1).
pub const DH_SINGLE_PASS_STD_DH_SHA256KDF_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.132.1.11.1");
/// `dhSinglePass-stdDH-sha384kdf-scheme` 1.3.132.1.11.2 (RFC 5753 §7.1.4, RFC 8418 §2.1).
pub const DH_SINGLE_PASS_STD_DH_SHA384KDF_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.132.1.11.2");
/// `dhSinglePass-stdDH-sha512kdf-scheme` 1.3.132.1.11.3 (RFC 5753 §7.1.4, RFC 8418 §2.1).
pub const DH_SINGLE_PASS_STD_DH_SHA512KDF_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.132.1.11.3");
/// `dhSinglePass-stdDH-hkdf-sha256-scheme` 1.2.840.113549.1.9.16.3.19 (RFC 8418 §2.1): the
/// key-agreement algorithm of X25519 recipients, ECDH with HKDF-SHA-256.
pub const DH_SINGLE_PASS_STD_DH_HKDF_SHA256_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.19");
/// `dhSinglePass-stdDH-hkdf-sha384-scheme` 1.2.840.113549.1.9.16.3.20 (RFC 8418 §2.1).
pub const DH_SINGLE_PASS_STD_DH_HKDF_SHA384_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.20");
/// `dhSinglePass-stdDH-hkdf-sha512-scheme` 1.2.840.113549.1.9.16.3.21 (RFC 8418 §2.1).
pub const DH_SINGLE_PASS_STD_DH_HKDF_SHA512_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.21");
/// `id-alg-hkdf-with-sha256` 1.2.840.113549.1.9.16.3.28 (RFC 8619 §2): HKDF as a stand-alone
/// key-derivation algorithm identifier (not the RFC 8418 key-agreement scheme above).
pub const ID_ALG_HKDF_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.28");
/// `id-alg-hkdf-with-sha384` 1.2.840.113549.1.9.16.3.29 (RFC 8619 §2).
pub const ID_ALG_HKDF_WITH_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.29");
/// `id-alg-hkdf-with-sha512` 1.2.840.113549.1.9.16.3.30 (RFC 8619 §2).
pub const ID_ALG_HKDF_WITH_SHA512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.30");

// --- Key wrap (RFC 3394 §3, RFC 3565 §2.3.2) -------------------------------------------------

/// `id-aes128-wrap` 2.16.840.1.101.3.4.1.5 (RFC 3565 §2.3.2).
pub const ID_AES128_WRAP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.5");
/// `id-aes192-wrap` 2.16.840.1.101.3.4.1.25 (RFC 3565 §2.3.2).
pub const ID_AES192_WRAP: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.25");
/// `id-aes256-wrap` 2.16.840.1.101.3.4.1.45 (RFC 3565 §2.3.2).
pub const ID_AES256_WRAP: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.45");

// --- Content encryption (RFC 3565 §4.1, RFC 5084 §3, RFC 3370 §5.1) --------------------------

/// `id-aes128-CBC` 2.16.840.1.101.3.4.1.2 (RFC 3565 §4.1).
pub const ID_AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
/// `id-aes192-CBC` 2.16.840.1.101.3.4.1.22 (RFC 3565 §4.1).
pub const ID_AES192_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.22");
/// `id-aes256-CBC` 2.16.840.1.101.3.4.1.42 (RFC 3565 §4.1).
pub const ID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
/// `id-aes128-GCM` 2.16.840.1.101.3.4.1.6 (RFC 5084 §3.2).
pub const ID_AES128_GCM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.6");
/// `id-aes192-GCM` 2.16.840.1.101.3.4.1.26 (RFC 5084 §3.2).
pub const ID_AES192_GCM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.26");
/// `id-aes256-GCM` 2.16.840.1.101.3.4.1.46 (RFC 5084 §3.2).
pub const ID_AES256_GCM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.46");
/// `des-ede3-cbc` 1.2.840.113549.3.7 (RFC 3370 §5.1; read only).
pub const DES_EDE3_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.3.7");
/// `rc2-cbc` 1.2.840.113549.3.2 (RFC 3370 §5.2; read only).
pub const RC2_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.3.2");

#[cfg(test)]
mod tests {
    use super::*;
    use const_oid::db::{rfc5753, rfc5911, rfc5912};

    #[test]
    fn constants_match_const_oid_db() {
        let pairs = [
            (ID_DATA, rfc5911::ID_DATA),
            (ID_SIGNED_DATA, rfc5911::ID_SIGNED_DATA),
            (ID_ENVELOPED_DATA, rfc5911::ID_ENVELOPED_DATA),
            (
                ID_CT_AUTH_ENVELOPED_DATA,
                rfc5911::ID_CT_AUTH_ENVELOPED_DATA,
            ),
            (ID_CONTENT_TYPE, rfc5911::ID_CONTENT_TYPE),
            (ID_MESSAGE_DIGEST, rfc5911::ID_MESSAGE_DIGEST),
            (ID_SIGNING_TIME, rfc5911::ID_SIGNING_TIME),
            (SMIME_CAPABILITIES, rfc5911::SMIME_CAPABILITIES),
            (
                ID_AA_SIGNING_CERTIFICATE,
                rfc5911::ID_AA_SIGNING_CERTIFICATE,
            ),
            (
                ID_AA_SIGNING_CERTIFICATE_V2,
                rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2,
            ),
            (ID_AES128_CBC, rfc5911::ID_AES_128_CBC),
            (ID_AES256_CBC, rfc5911::ID_AES_256_CBC),
            (ID_AES128_GCM, rfc5911::ID_AES_128_GCM),
            (ID_AES256_GCM, rfc5911::ID_AES_256_GCM),
            (ID_AES128_WRAP, rfc5911::ID_AES_128_WRAP),
            (ID_AES256_WRAP, rfc5911::ID_AES_256_WRAP),
            (DES_EDE3_CBC, rfc5911::DES_EDE_3_CBC),
            (RSA_ENCRYPTION, rfc5912::RSA_ENCRYPTION),
            (ID_RSAES_OAEP, rfc5912::ID_RSAES_OAEP),
            (ID_MGF1, rfc5912::ID_MGF_1),
            (ID_P_SPECIFIED, rfc5912::ID_P_SPECIFIED),
            (ID_SHA1, rfc5912::ID_SHA_1),
            (
                DH_SINGLE_PASS_STD_DH_SHA1KDF_SCHEME,
                rfc5753::DH_SINGLE_PASS_STD_DH_SHA_1_KDF_SCHEME,
            ),
            (
                DH_SINGLE_PASS_STD_DH_SHA256KDF_SCHEME,
                rfc5753::DH_SINGLE_PASS_STD_DH_SHA_256_KDF_SCHEME,
            ),
            (
                DH_SINGLE_PASS_STD_DH_SHA384KDF_SCHEME,
                rfc5753::DH_SINGLE_PASS_STD_DH_SHA_384_KDF_SCHEME,
            ),
        ];
        for (ours, db) in pairs {
            assert_eq!(ours, db, "{ours}");
        }
    }
}
