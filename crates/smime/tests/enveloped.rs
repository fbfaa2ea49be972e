//! EnvelopedData and AuthEnvelopedData through Cachet's own encrypt and decrypt, messages
//! OpenSSL 3 wrote (`tests/data/README.md`), tampering, and hostile input. Interop with the
//! real `openssl` in both directions is tested at the CLI level
//! (`crates/cli/tests/smime_encrypt_interop.rs`).

use cachet_crypto::ecdh::EcdhCurve;
use cachet_crypto::kdf::{HkdfHash, KdfHash};
use cachet_crypto::rsa_transport::OaepHash;
use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::profile::*;
use cachet_smime::ber::BerLimits;
use cachet_smime::cms::{self, CmsContent, GcmParameters, RecipientInfo, oid};
use cachet_smime::enveloped::*;
use cachet_smime::stream::envelope::{
    CmsInput, EncryptRequest, Encryptor, decrypt as stream_decrypt,
};
use der::asn1::OctetString;
use der::{Decode, Encode};
use std::sync::OnceLock;

const NOW: u64 = 1_795_000_000;
const LIMITS: BerLimits = BerLimits::new(16 << 20);

fn pki() -> &'static cachet_pki::ephemeral::EphemeralPki {
    static P: OnceLock<cachet_pki::ephemeral::EphemeralPki> = OnceLock::new();
    P.get_or_init(|| {
        cachet_pki::ephemeral::EphemeralPki::new(KeyType::EcdsaP256, NOW - 100).unwrap()
    })
}

fn leaf(email: &str, profile: Profile, kt: KeyType) -> (ParsedCertificate, PrivateKey) {
    pki().subscriber(email, profile, kt, 365).unwrap()
}

/// One encryption certificate per key type, made once (RSA key generation is slow).
fn recipient(kt: KeyType) -> &'static (ParsedCertificate, PrivateKey) {
    static R: OnceLock<Vec<(KeyType, (ParsedCertificate, PrivateKey))>> = OnceLock::new();
    let all = R.get_or_init(|| {
        [
            KeyType::Rsa2048,
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::X25519,
        ]
        .into_iter()
        .map(|kt| {
            let email = format!("{}@example.com", kt.name());
            (kt, leaf(&email, Profile::Encryption, kt))
        })
        .collect()
    });
    &all.iter().find(|(k, _)| *k == kt).unwrap().1
}

const CONTENT: &[u8] =
    b"Content-Type: text/plain; charset=us-ascii\r\n\r\nThe figures: 100 EUR.\r\n";

fn decrypt_with(der: &[u8], kt: KeyType) -> Result<Decrypted, DecryptError> {
    let (cert, key) = recipient(kt);
    decrypt_both(der, cert, key)
}

/// Decrypts in memory and with the streaming decryptor (from DER and from base64 text), and
/// checks that the two agree: the same content and facts, or both an error — and
/// `DecryptionFailed` from both when it is one (no oracle in either).
fn decrypt_both(
    der: &[u8],
    cert: &ParsedCertificate,
    key: &PrivateKey,
) -> Result<Decrypted, DecryptError> {
    let whole = decrypt(der, cert, key, &LIMITS);
    let text = cachet_smime::mime::encode::base64_encode_lines(der);
    for (bytes, base64) in [(der, false), (&text[..], true)] {
        let src: &[u8] = bytes;
        let input = CmsInput {
            src: &src,
            range: 0..bytes.len() as u64,
            base64,
        };
        let mut out = cachet_smime::stream::Plaintext::default();
        let streamed = stream_decrypt(&input, &[(cert, key)], &mut out);
        match (&whole, &streamed) {
            (Ok(w), Ok(s)) => {
                assert_eq!(&w.content[..], &out[..], "streamed content");
                assert_eq!(w.content.len() as u64, s.len);
                assert_eq!(w.key_management, s.key_management);
                assert_eq!(w.cipher, s.cipher);
                assert_eq!(w.content_type, s.content_type);
            }
            (Err(DecryptError::DecryptionFailed), Err(e)) => {
                assert_eq!(
                    *e,
                    DecryptError::DecryptionFailed,
                    "streamed, base64 {base64}"
                )
            }
            (Err(_), Err(_)) => {}
            (w, s) => panic!("in memory {w:?}, streamed (base64 {base64}) {s:?}"),
        }
    }
    whole
}

#[test]
fn every_cipher_and_recipient_key_round_trips() {
    let cases: [(KeyType, RsaPadding); 5] = [
        (KeyType::Rsa2048, RsaPadding::Pkcs1v15),
        (KeyType::Rsa2048, RsaPadding::OaepSha256),
        (KeyType::EcdsaP256, RsaPadding::Pkcs1v15),
        (KeyType::EcdsaP384, RsaPadding::Pkcs1v15),
        (KeyType::X25519, RsaPadding::Pkcs1v15),
    ];
    for cipher in ContentCipher::ALL {
        for (kt, padding) in cases {
            let (cert, _) = recipient(kt);
            let der = encrypt(CONTENT, std::slice::from_ref(cert), cipher, padding).unwrap();
            let what = format!("{} {kt} {padding:?}", cipher.name());
            let d = decrypt_with(&der, kt).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(&d.content[..], CONTENT, "{what}");
            assert_eq!(d.cipher.as_cipher(), Some(cipher), "{what}");
            assert_eq!(d.content_type, oid::ID_DATA);
            assert!(!d.weak);
            let expected_km = match (kt, padding) {
                (KeyType::Rsa2048, RsaPadding::Pkcs1v15) => KeyManagement::RsaPkcs1v15,
                (KeyType::Rsa2048, RsaPadding::OaepSha256) => {
                    KeyManagement::RsaOaep(OaepHash::Sha256)
                }
                (KeyType::EcdsaP256, _) => KeyManagement::Agreement {
                    curve: EcdhCurve::P256,
                    kdf: AgreementKdf::X963(KdfHash::Sha256),
                    kek_len: cipher.key_len(),
                },
                (KeyType::EcdsaP384, _) => KeyManagement::Agreement {
                    curve: EcdhCurve::P384,
                    kdf: AgreementKdf::X963(KdfHash::Sha384),
                    kek_len: cipher.key_len(),
                },
                _ => KeyManagement::Agreement {
                    curve: EcdhCurve::X25519,
                    kdf: AgreementKdf::Hkdf(HkdfHash::Sha256),
                    kek_len: cipher.key_len(),
                },
            };
            assert_eq!(d.key_management, expected_km, "{what}");
            check_structure(&der, cipher, kt);
        }
    }
}

/// What RFC 5652 §6.1, RFC 5083 §2.1 and RFC 5084 §3.2 say the structure must be.
fn check_structure(der: &[u8], cipher: ContentCipher, kt: KeyType) {
    let d = cms::decode_content_info(der, &LIMITS).unwrap();
    let (version, infos, eci) = match &d.content {
        CmsContent::EnvelopedData(ed) => {
            assert!(!cipher.is_authenticated());
            (ed.version, &ed.recip_infos, &ed.encrypted_content)
        }
        CmsContent::AuthEnvelopedData {
            auth_enveloped_data: a,
            auth_attrs_encoding,
        } => {
            assert!(cipher.is_authenticated());
            assert!(auth_attrs_encoding.is_none());
            assert_eq!(a.mac.as_bytes().len(), 16);
            (a.version, &a.recip_infos, &a.auth_encrypted_content_info)
        }
        other => panic!("{:?}", other.kind()),
    };
    assert_eq!(eci.content_type, oid::ID_DATA);
    assert_eq!(eci.content_enc_alg.oid, cipher.oid());
    if cipher.is_authenticated() {
        let p = GcmParameters::from_algorithm(&eci.content_enc_alg).unwrap();
        assert_eq!(p.aes_nonce.as_bytes().len(), 12);
        assert_eq!(p.aes_icv_len, 16);
        // aes-ICVlen 16 is written explicitly: the parameters end in INTEGER 16.
        let params = eci
            .content_enc_alg
            .parameters
            .as_ref()
            .unwrap()
            .to_der()
            .unwrap();
        assert!(params.ends_with(&[0x02, 0x01, 0x10]), "{params:02x?}");
    }
    let ri = infos.0.iter().next().unwrap();
    match (ri, kt.is_rsa()) {
        (RecipientInfo::Ktri(k), true) => {
            assert_eq!(k.version, cms::CmsVersion::V0);
            assert!(matches!(
                k.rid,
                cms::RecipientIdentifier::IssuerAndSerialNumber(_)
            ));
            // RFC 5652 §6.1: all RecipientInfos version 0 → version 0 (AuthEnvelopedData: 0).
            assert_eq!(version, cms::CmsVersion::V0);
        }
        (RecipientInfo::Kari(k), false) => {
            assert_eq!(k.version, cms::CmsVersion::V3);
            assert!(k.ukm.is_none());
            let wrap: spki::AlgorithmIdentifierOwned =
                cms::decode_parameters(&k.key_enc_alg, "wrap").unwrap();
            let expected_wrap = if cipher.key_len() == 16 {
                oid::ID_AES128_WRAP
            } else {
                oid::ID_AES256_WRAP
            };
            assert_eq!(wrap.oid, expected_wrap);
            assert!(wrap.parameters.is_none());
            let expected_scheme = match kt {
                KeyType::EcdsaP256 => oid::DH_SINGLE_PASS_STD_DH_SHA256KDF_SCHEME,
                KeyType::EcdsaP384 => oid::DH_SINGLE_PASS_STD_DH_SHA384KDF_SCHEME,
                _ => oid::DH_SINGLE_PASS_STD_DH_HKDF_SHA256_SCHEME,
            };
            assert_eq!(k.key_enc_alg.oid, expected_scheme);
            let cms::OriginatorIdentifierOrKey::OriginatorKey(o) = &k.originator else {
                panic!("not an originatorKey");
            };
            let expected_alg = if kt == KeyType::X25519 {
                oid::ID_X25519
            } else {
                oid::ID_EC_PUBLIC_KEY
            };
            assert_eq!(o.algorithm.oid, expected_alg);
            let expected_version = if cipher.is_authenticated() {
                cms::CmsVersion::V0
            } else {
                cms::CmsVersion::V2
            };
            assert_eq!(version, expected_version);
        }
        (ri, _) => panic!("unexpected recipient info for {kt}: {ri:?}"),
    }
}

#[test]
fn several_recipients_each_decrypt() {
    let kts = [
        KeyType::Rsa2048,
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::X25519,
    ];
    let certs: Vec<ParsedCertificate> = kts.iter().map(|kt| recipient(*kt).0.clone()).collect();
    for cipher in [ContentCipher::Aes256Gcm, ContentCipher::Aes128Cbc] {
        let der = encrypt(CONTENT, &certs, cipher, RsaPadding::OaepSha256).unwrap();
        for kt in kts {
            let d = decrypt_with(&der, kt).unwrap_or_else(|e| panic!("{kt}: {e}"));
            assert_eq!(&d.content[..], CONTENT);
        }
        let d = cms::decode_content_info(&der, &LIMITS).unwrap();
        let n = match &d.content {
            CmsContent::EnvelopedData(ed) => ed.recip_infos.0.len(),
            CmsContent::AuthEnvelopedData {
                auth_enveloped_data,
                ..
            } => auth_enveloped_data.recip_infos.0.len(),
            _ => 0,
        };
        assert_eq!(n, 4);
    }
}

#[test]
fn a_stranger_has_no_recipient_info_and_a_wrong_key_is_refused() {
    let (alice, _) = recipient(KeyType::EcdsaP256);
    let der = encrypt(
        CONTENT,
        std::slice::from_ref(alice),
        ContentCipher::Aes256Gcm,
        RsaPadding::Pkcs1v15,
    )
    .unwrap();
    for kt in [KeyType::Rsa2048, KeyType::EcdsaP384, KeyType::X25519] {
        let e = decrypt_with(&der, kt).unwrap_err();
        assert_eq!(e, DecryptError::NoRecipient, "{kt}");
        assert_eq!(e.code().as_str(), "no-recipient-key");
    }
    // Alice's certificate with someone else's key.
    let (_, other_key) = recipient(KeyType::EcdsaP384);
    assert_eq!(
        decrypt(&der, alice, other_key, &LIMITS).unwrap_err(),
        DecryptError::KeyMismatch
    );
}

#[test]
fn key_usage_is_checked_before_encrypting() {
    // A signing certificate has no keyEncipherment / keyAgreement.
    for kt in [KeyType::Rsa2048, KeyType::EcdsaP256, KeyType::Ed25519] {
        let (cert, _) = leaf("sig@example.com", Profile::Signing, kt);
        let e = encrypt(
            CONTENT,
            &[recipient(KeyType::EcdsaP256).0.clone(), cert],
            ContentCipher::Aes256Gcm,
            RsaPadding::Pkcs1v15,
        )
        .unwrap_err();
        let text = e.to_string();
        match kt {
            KeyType::Ed25519 => assert!(matches!(e, EncryptError::UnsupportedKey { .. }), "{e}"),
            _ => {
                assert!(matches!(e, EncryptError::WrongKeyUsage { .. }), "{e}");
                assert_eq!(e.code().as_str(), "wrong-key-usage");
            }
        }
        assert!(text.contains("sig@example.com"), "{text}");
    }
    // A dual-use certificate may receive.
    let (dual, key) = leaf("dual@example.com", Profile::Dual, KeyType::EcdsaP256);
    let der = encrypt(
        CONTENT,
        std::slice::from_ref(&dual),
        ContentCipher::Aes128Gcm,
        RsaPadding::Pkcs1v15,
    )
    .unwrap();
    assert_eq!(
        &decrypt(&der, &dual, &key, &LIMITS).unwrap().content[..],
        CONTENT
    );
    assert!(matches!(
        encrypt(CONTENT, &[], ContentCipher::Aes128Gcm, RsaPadding::Pkcs1v15),
        Err(EncryptError::NoRecipients)
    ));
}

/// The offset of the encrypted content's last bytes in `der` (they end the EncryptedContentInfo).
fn ciphertext_range(der: &[u8]) -> std::ops::Range<usize> {
    let d = cms::decode_content_info(der, &LIMITS).unwrap();
    let eci = match &d.content {
        CmsContent::EnvelopedData(ed) => ed.encrypted_content.clone(),
        CmsContent::AuthEnvelopedData {
            auth_enveloped_data,
            ..
        } => auth_enveloped_data.auth_encrypted_content_info.clone(),
        _ => unreachable!(),
    };
    let ct = eci.encrypted_content.unwrap();
    let ct = ct.as_bytes();
    let start = der.windows(ct.len()).position(|w| w == ct).unwrap();
    start..start + ct.len()
}

#[test]
fn a_flipped_byte_in_gcm_releases_nothing() {
    for kt in [KeyType::Rsa2048, KeyType::EcdsaP256] {
        let (cert, _) = recipient(kt);
        let der = encrypt(
            CONTENT,
            std::slice::from_ref(cert),
            ContentCipher::Aes256Gcm,
            RsaPadding::Pkcs1v15,
        )
        .unwrap();
        let r = ciphertext_range(&der);
        // Every ciphertext byte, and every byte of the tag (the last 16 of the message).
        let positions = r.clone().chain(der.len() - 16..der.len());
        for i in positions {
            let mut bad = der.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                decrypt_with(&bad, kt).unwrap_err(),
                DecryptError::DecryptionFailed,
                "{kt} byte {i}"
            );
        }
        // The nonce.
        let d = cms::decode_content_info(&der, &LIMITS).unwrap();
        let CmsContent::AuthEnvelopedData {
            auth_enveloped_data,
            ..
        } = d.content
        else {
            unreachable!()
        };
        let p = GcmParameters::from_algorithm(
            &auth_enveloped_data
                .auth_encrypted_content_info
                .content_enc_alg,
        )
        .unwrap();
        let nonce = p.aes_nonce.as_bytes();
        let at = der.windows(12).position(|w| w == nonce).unwrap();
        let mut bad = der.clone();
        bad[at + 5] ^= 0x80;
        assert_eq!(
            decrypt_with(&bad, kt).unwrap_err(),
            DecryptError::DecryptionFailed
        );
    }
}

#[test]
fn a_flipped_byte_in_cbc_never_gives_the_original() {
    let (cert, _) = recipient(KeyType::EcdsaP256);
    let der = encrypt(
        CONTENT,
        std::slice::from_ref(cert),
        ContentCipher::Aes256Cbc,
        RsaPadding::Pkcs1v15,
    )
    .unwrap();
    let r = ciphertext_range(&der);
    for i in r {
        let mut bad = der.clone();
        bad[i] ^= 0x01;
        match decrypt_with(&bad, KeyType::EcdsaP256) {
            Err(e) => assert_eq!(e, DecryptError::DecryptionFailed, "byte {i}"),
            Ok(d) => assert_ne!(&d.content[..], CONTENT, "byte {i}"),
        }
    }
}

#[test]
fn rsa_pkcs1v15_failures_look_like_a_wrong_key() {
    // A damaged encryptedKey gives a substitute key (implicit rejection): the content then
    // fails to decrypt, with the same error as a tag failure.
    let (cert, _) = recipient(KeyType::Rsa2048);
    for cipher in [ContentCipher::Aes256Gcm, ContentCipher::Aes128Cbc] {
        let der = encrypt(
            CONTENT,
            std::slice::from_ref(cert),
            cipher,
            RsaPadding::Pkcs1v15,
        )
        .unwrap();
        let d = cms::decode_content_info(&der, &LIMITS).unwrap();
        let infos = match &d.content {
            CmsContent::EnvelopedData(ed) => ed.recip_infos.clone(),
            CmsContent::AuthEnvelopedData {
                auth_enveloped_data,
                ..
            } => auth_enveloped_data.recip_infos.clone(),
            _ => unreachable!(),
        };
        let Some(RecipientInfo::Ktri(k)) = infos.0.iter().next() else {
            unreachable!()
        };
        let ek = k.enc_key.as_bytes();
        let at = der.windows(ek.len()).position(|w| w == ek).unwrap();
        for offset in [0, 1, 100, 255] {
            let mut bad = der.clone();
            bad[at + offset] ^= 0x04;
            match decrypt_with(&bad, KeyType::Rsa2048) {
                Err(e) => assert_eq!(e, DecryptError::DecryptionFailed, "{offset}"),
                // CBC with a substitute key may unpad by chance (1 in ~256): garbage only.
                Ok(d) => {
                    assert!(!cipher.is_authenticated());
                    assert_ne!(&d.content[..], CONTENT);
                }
            }
        }
    }
}

#[test]
fn twelve_byte_tags_the_rfc_5084_default_are_read() {
    // A GCM tag truncated to 12 bytes is the first 12 bytes of the 16-byte tag; write the
    // parameters without aes-ICVlen (the DEFAULT 12) and a 12-byte mac.
    let (cert, _) = recipient(KeyType::EcdsaP256);
    let der = encrypt(
        CONTENT,
        std::slice::from_ref(cert),
        ContentCipher::Aes128Gcm,
        RsaPadding::Pkcs1v15,
    )
    .unwrap();
    let ci = cms::ContentInfo::from_der(&der).unwrap();
    let mut aed: cms::AuthEnvelopedData = ci.content.decode_as().unwrap();
    let mut p =
        GcmParameters::from_algorithm(&aed.auth_encrypted_content_info.content_enc_alg).unwrap();
    for tag_len in [12u8, 13, 15] {
        p.aes_icv_len = tag_len;
        aed.auth_encrypted_content_info.content_enc_alg.parameters =
            Some(der::Any::encode_from(&p).unwrap());
        let full = aed.mac.as_bytes().to_vec();
        let mut short = aed.clone();
        short.mac = OctetString::new(&full[..usize::from(tag_len)]).unwrap();
        let msg = cms::encode_content_info(oid::ID_CT_AUTH_ENVELOPED_DATA, &short).unwrap();
        if tag_len == 12 {
            // DER omits the DEFAULT: the parameters are just the nonce.
            let params = short
                .auth_encrypted_content_info
                .content_enc_alg
                .parameters
                .as_ref()
                .unwrap()
                .to_der()
                .unwrap();
            assert_eq!(params.len(), 2 + 14);
        }
        let d = decrypt_with(&msg, KeyType::EcdsaP256).unwrap();
        assert_eq!(&d.content[..], CONTENT);
        assert_eq!(
            d.cipher,
            ContentAlgorithm::AesGcm {
                key_len: 16,
                tag_len: usize::from(tag_len)
            }
        );
        // A mac whose length differs from aes-ICVlen is malformed.
        let mut wrong = short.clone();
        wrong.mac = OctetString::new(&full[..]).unwrap();
        let msg = cms::encode_content_info(oid::ID_CT_AUTH_ENVELOPED_DATA, &wrong).unwrap();
        assert!(matches!(
            decrypt_with(&msg, KeyType::EcdsaP256),
            Err(DecryptError::Malformed(_))
        ));
    }
}

#[test]
fn truncation_and_garbage_never_panic() {
    for (kt, cipher) in [
        (KeyType::EcdsaP256, ContentCipher::Aes256Cbc),
        (KeyType::X25519, ContentCipher::Aes128Gcm),
    ] {
        let (cert, _) = recipient(kt);
        let der = encrypt(
            b"x",
            std::slice::from_ref(cert),
            cipher,
            RsaPadding::Pkcs1v15,
        )
        .unwrap();
        for n in 0..der.len() {
            assert!(
                decrypt_with(&der[..n], kt).is_err(),
                "{kt} truncated to {n}"
            );
        }
        // Every byte flipped in turn: an error or (CBC, unauthenticated) never the original.
        // The encrypted content type is covered by neither CBC nor (without authAttrs, RFC 5083
        // §2.1) GCM: a changed one decrypts and is reported as what it says.
        for i in 0..der.len() {
            let mut bad = der.clone();
            bad[i] ^= 0xff;
            if let Ok(d) = decrypt_with(&bad, kt)
                && d.content_type == oid::ID_DATA
            {
                assert!(!cipher.is_authenticated(), "{kt} byte {i}");
                assert_ne!(&d.content[..], b"x", "{kt} byte {i}");
            }
        }
    }
    let mut x: u32 = 0x1234_5678;
    for len in [0usize, 1, 2, 10, 100, 1000] {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert!(decrypt_with(&junk, KeyType::EcdsaP256).is_err());
        let mut seq = vec![0x30, 0x80];
        seq.extend_from_slice(&junk);
        assert!(decrypt_with(&seq, KeyType::EcdsaP256).is_err());
    }
}

#[test]
fn signed_data_is_not_an_encrypted_message() {
    let e = decrypt_with(&data("signed-rsa-opaque.der"), KeyType::EcdsaP256).unwrap_err();
    assert!(matches!(e, DecryptError::NotEncrypted(_)), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Messages OpenSSL 3.0 wrote (tests/data/README.md): Alice RSA-2048, Bob P-256.
// ---------------------------------------------------------------------------------------------

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

type Identity = (ParsedCertificate, PrivateKey);

fn fixture_identity(who: &str) -> Identity {
    let cert = ParsedCertificate::from_pem_or_der(&data(&format!("{who}.pem")))
        .unwrap()
        .remove(0);
    let pem = data(&format!("{who}.key"));
    let (label, der) = cachet_pki::pem::decode_all(&pem).unwrap().remove(0);
    assert_eq!(label, "PRIVATE KEY");
    (cert, PrivateKey::from_pkcs8_der(&der).unwrap())
}

#[test]
fn openssl_fixtures_decrypt() {
    let alice = fixture_identity("alice");
    let bob = fixture_identity("bob");
    let small = data("content.txt");
    let big = data("content-big.txt");
    let sha1_kdf_256 = KeyManagement::Agreement {
        curve: EcdhCurve::P256,
        kdf: AgreementKdf::X963(KdfHash::Sha1),
        kek_len: 32,
    };
    let cases: &[(&str, &Identity, &[u8], KeyManagement)] = &[
        (
            "enveloped-rsa-cbc.der",
            &alice,
            &small,
            KeyManagement::RsaPkcs1v15,
        ),
        (
            "enveloped-rsa-cbc-stream.ber",
            &alice,
            &big,
            KeyManagement::RsaPkcs1v15,
        ),
        ("enveloped-ec-cbc-stream.ber", &bob, &big, sha1_kdf_256),
        (
            "enveloped-rsa-ec-cbc.der",
            &alice,
            &small,
            KeyManagement::RsaPkcs1v15,
        ),
        ("enveloped-rsa-ec-cbc.der", &bob, &small, sha1_kdf_256),
        (
            "enveloped-rsa-oaep-sha256-keyid.der",
            &alice,
            &small,
            KeyManagement::RsaOaep(OaepHash::Sha256),
        ),
        (
            "enveloped-rsa-oaep-default.der",
            &alice,
            &small,
            KeyManagement::RsaOaep(OaepHash::Sha1),
        ),
        (
            "authenveloped-rsa-ec-gcm-stream.ber",
            &alice,
            &big,
            KeyManagement::RsaPkcs1v15,
        ),
        (
            "authenveloped-rsa-ec-gcm-stream.ber",
            &bob,
            &big,
            sha1_kdf_256,
        ),
        (
            "authenveloped-rsa-gcm.der",
            &alice,
            &small,
            KeyManagement::RsaPkcs1v15,
        ),
    ];
    for (name, (cert, key), expected, km) in cases {
        let d = decrypt_both(&data(name), cert, key)
            .unwrap_or_else(|e| panic!("{name} ({}): {e}", cert.subject()));
        assert_eq!(&d.content[..], *expected, "{name}");
        assert_eq!(d.key_management, *km, "{name}");
        assert!(!d.weak);
    }
    // Bob is not a recipient of the RSA-only messages.
    assert_eq!(
        decrypt(&data("enveloped-rsa-cbc.der"), &bob.0, &bob.1, &LIMITS).unwrap_err(),
        DecryptError::NoRecipient
    );
}

#[test]
fn streaming_encryption_makes_what_the_in_memory_code_reads() {
    for kt in [KeyType::Rsa2048, KeyType::EcdsaP256, KeyType::X25519] {
        let (cert, _) = recipient(kt);
        for cipher in [
            ContentCipher::Aes256Cbc,
            ContentCipher::Aes128Cbc,
            ContentCipher::Aes256Gcm,
            ContentCipher::Aes128Gcm,
        ] {
            for len in [0usize, 1, 15, 16, 17, 127, 70_000, (1 << 20) + 5] {
                let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let req = EncryptRequest {
                    recipients: std::slice::from_ref(cert),
                    cipher,
                    key_transport: RsaPadding::Pkcs1v15,
                    gcm_tag_len: if len % 2 == 0 { 16 } else { 12 },
                };
                let (mut e, mut der) = Encryptor::start(len as u64, &req).unwrap();
                for piece in content.chunks(4093) {
                    e.update(piece, &mut der).unwrap();
                }
                e.finish(&mut der).unwrap();
                if len < 200 && len % 2 == 0 {
                    check_structure(&der, cipher, kt);
                }
                let d =
                    decrypt_with(&der, kt).unwrap_or_else(|e| panic!("{kt} {cipher:?} {len}: {e}"));
                assert_eq!(&d.content[..], &content[..], "{kt} {cipher:?} {len}");
            }
        }
    }
    // The length announced is the length written.
    let (cert, _) = recipient(KeyType::EcdsaP256);
    let req = EncryptRequest {
        recipients: std::slice::from_ref(cert),
        cipher: ContentCipher::Aes256Gcm,
        key_transport: RsaPadding::Pkcs1v15,
        gcm_tag_len: 16,
    };
    let (mut e, mut der) = Encryptor::start(3, &req).unwrap();
    assert!(e.update(b"four", &mut der).is_err());
    let (e, mut der) = Encryptor::start(3, &req).unwrap();
    assert!(e.finish(&mut der).is_err());
}

#[test]
fn inputs_the_fuzzer_found_are_refused_both_ways() {
    // A ContentInfo whose length is near u64::MAX overflowed the streaming reader's end
    // offset (found by fuzz/fuzz_targets/stream_cms.rs).
    let name = "fuzz/stream-cms-length-overflow.ber";
    assert!(
        decrypt_with(&data(name), KeyType::EcdsaP256).is_err(),
        "{name}"
    );
}
