//! Arbitrary bytes into the streaming CMS readers, differentially: the streaming decryptor
//! must agree with the in-memory one (both fail, or both give the same content), and the
//! streaming SignedData verifier with the in-memory verifier (the same validity); neither may
//! panic, whether the bytes come as BER or as base64 text.
#![no_main]

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::ephemeral::EphemeralPki;
use cachet_pki::profile::Profile;
use cachet_smime::ber::BerLimits;
use cachet_smime::enveloped::decrypt;
use cachet_smime::signed::{SignedContent, VerifyOptions, verify};
use cachet_smime::stream::envelope::{CmsInput, decrypt as stream_decrypt};
use cachet_smime::stream::signed::verify_encapsulated;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn identity() -> &'static (ParsedCertificate, PrivateKey) {
    static ID: OnceLock<(ParsedCertificate, PrivateKey)> = OnceLock::new();
    ID.get_or_init(|| {
        let pki = EphemeralPki::new(KeyType::EcdsaP256, 1_700_000_000).expect("pki");
        pki.subscriber("fuzz@example.com", Profile::Encryption, KeyType::EcdsaP256, 365)
            .expect("identity")
    })
}

fuzz_target!(|data: &[u8]| {
    let (cert, key) = identity();
    let limits = BerLimits::new(1 << 20);
    let whole = decrypt(data, cert, key, &limits);
    let text = cachet_smime::mime::encode::base64_encode_lines(data);
    for (bytes, base64) in [(data, false), (&text[..], true)] {
        let src: &[u8] = bytes;
        let input = CmsInput {
            src: &src,
            range: 0..bytes.len() as u64,
            base64,
        };
        let mut out = cachet_smime::stream::Plaintext::default();
        let streamed = stream_decrypt(&input, &[(cert, key)], &mut out);
        if let (Ok(w), Ok(_)) = (&whole, &streamed) {
            assert_eq!(&w.content[..], &out[..], "streamed plaintext differs");
        }
        let opts = VerifyOptions::default();
        let mut content = cachet_smime::stream::Plaintext::default();
        let s = verify_encapsulated(&input, &opts, &limits, &mut content);
        let m = verify(data, SignedContent::Encapsulated, &opts, &limits);
        assert_eq!(
            s.verdict.is_valid(),
            m.verdict.is_valid(),
            "streamed and in-memory verification disagree"
        );
    }
});
