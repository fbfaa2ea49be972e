//! Arbitrary bytes as a message to sign and to encrypt, through the streaming writers, with
//! round-trip properties: whatever Cachet signs, it verifies as valid against the root, with
//! the signed content equal to the 7-bit-safe canonical inner entity; whatever it encrypts,
//! it decrypts to that same entity. Inputs that are not MIME must be refused, never panic.
#![no_main]

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::ephemeral::EphemeralPki;
use cachet_pki::profile::Profile;
use cachet_smime::ber::BerLimits;
use cachet_smime::enveloped::{ContentCipher, RsaPadding};
use cachet_smime::message::{SignMessage, sign_message, verify_message};
use cachet_smime::mime::Limits;
use cachet_smime::mime::canon::to_crlf;
use cachet_smime::mime::encode::make_7bit_safe;
use cachet_smime::mime::smime::{SourceLayer, classify_in, split_message};
use cachet_smime::signed::{SidKind, Signer, VerifyOptions};
use cachet_smime::stream::envelope::{CmsInput, EncryptRequest, decrypt};
use cachet_smime::stream::message::encrypt_message;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NOW: u64 = 1_800_000_000;

struct World {
    pki: EphemeralPki,
    signer: (ParsedCertificate, PrivateKey),
    recipient: (ParsedCertificate, PrivateKey),
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let pki = EphemeralPki::new(KeyType::EcdsaP256, NOW - 100).expect("pki");
        let signer = pki
            .subscriber("alice@example.com", Profile::Signing, KeyType::EcdsaP256, 365)
            .expect("signer");
        let recipient = pki
            .subscriber("bob@example.com", Profile::Encryption, KeyType::X25519, 365)
            .expect("recipient");
        World { pki, signer, recipient }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let limits = Limits { max_header_bytes: 64 * 1024, max_fields: 200, max_parts: 200, max_depth: 8 };
    // The entity both writers must carry: as the in-memory pieces compute it.
    let Ok(split) = split_message(data, &limits) else {
        return;
    };
    let Ok(safe) = make_7bit_safe(&split.inner, &limits) else {
        return;
    };
    let entity = to_crlf(&safe).into_owned();

    let chain = [w.pki.issuing.clone()];
    for opaque in [false, true] {
        let how = SignMessage {
            signer: Signer { certificate: &w.signer.0, key: &w.signer.1, chain: &chain },
            opaque,
            sid: SidKind::IssuerAndSerialNumber,
            signing_time: NOW,
            rsa_pss: false,
        };
        let signed = sign_message(data, &how, &limits).expect("a message that splits can be signed");
        let mut opts = VerifyOptions::trusting(NOW, [w.pki.root.clone()]);
        opts.from_addresses = vec!["alice@example.com".into()];
        let v = verify_message(&signed, &opts, &limits, &BerLimits::default());
        assert!(v.report.verdict.is_valid(), "opaque {opaque}: {:?}", v.report.verdict.findings);
        assert_eq!(v.content.as_deref(), Some(&entity[..]), "opaque {opaque}: signed content");
    }

    let req = EncryptRequest {
        recipients: std::slice::from_ref(&w.recipient.0),
        cipher: ContentCipher::Aes128Gcm,
        key_transport: RsaPadding::Pkcs1v15,
        gcm_tag_len: 16,
    };
    let mut encrypted = Vec::new();
    encrypt_message(&data, &req, &limits, &mut encrypted).expect("a message that splits can be encrypted");
    let layer = classify_in(&&encrypted[..], 0..encrypted.len() as u64, &limits).expect("classify");
    let SourceLayer::Pkcs7Mime { body, base64, .. } = layer else {
        panic!("not application/pkcs7-mime");
    };
    let src: &[u8] = &encrypted;
    let input = CmsInput { src: &src, range: body, base64 };
    let mut out = cachet_smime::stream::Plaintext::default();
    decrypt(&input, &[(&w.recipient.0, &w.recipient.1)], &mut out).expect("decrypt");
    assert_eq!(&out[..], &entity[..], "decrypted entity");
});
