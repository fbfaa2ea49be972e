//! Whole-message verification: the From header as an address list, and header ambiguities
//! that could make a client show something other than what was verified.

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::profile::*;
use cachet_pki::verdict::Code;
use cachet_smime::ber::BerLimits;
use cachet_smime::message::{SignMessage, sign_message, verify_message};
use cachet_smime::mime::Limits;
use cachet_smime::signed::{SidKind, Signer, VerifyOptions};

const NOW: u64 = 1_795_000_000;

fn setup() -> (
    ParsedCertificate,
    ParsedCertificate,
    ParsedCertificate,
    PrivateKey,
) {
    let p = cachet_pki::ephemeral::EphemeralPki::new(KeyType::EcdsaP256, NOW - 100).unwrap();
    let (cert, key) = p
        .subscriber(
            "mallory@example.com",
            Profile::Signing,
            KeyType::EcdsaP256,
            30,
        )
        .unwrap();
    (p.root, p.issuing, cert, key)
}

fn check(from_lines: &str) -> cachet_pki::verdict::Verdict {
    let (root, issuing, cert, key) = setup();
    let msg = format!("{from_lines}Subject: s\r\n\r\nbody\r\n");
    let chain = [issuing];
    let how = SignMessage {
        signer: Signer {
            certificate: &cert,
            key: &key,
            chain: &chain,
        },
        opaque: false,
        sid: SidKind::default(),
        signing_time: NOW,
        rsa_pss: false,
    };
    let signed = sign_message(msg.as_bytes(), &how, &Limits::default()).unwrap();
    let opts = VerifyOptions::trusting(NOW, [root]);
    verify_message(&signed, &opts, &Limits::default(), &BerLimits::default())
        .report
        .verdict
}

#[test]
fn every_from_mailbox_must_be_the_signer_s() {
    assert!(check("From: Mallory <mallory@example.com>\r\n").is_valid());
    for spoof in [
        "From: alice@example.com (<mallory@example.com>)\r\n",
        "From: alice@example.com, <mallory@example.com>\r\n",
        "From: \"<mallory@example.com>\" <alice@example.com>\r\n",
    ] {
        let v = check(spoof);
        assert!(v.has(Code::SignerAddressMismatch), "{spoof}: {v:?}");
        assert!(!v.is_valid());
    }
    let v = check("From: mallory@example.com\r\nFrom: alice@example.com\r\n");
    assert!(v.has(Code::Malformed) && !v.is_valid(), "{v:?}");
    let v = check("");
    assert!(v.is_valid(), "no From: a warning, not an error: {v:?}");
    assert!(v.has(Code::SignerAddressMismatch));
}

#[test]
fn ambiguous_content_headers_are_malformed() {
    let (root, issuing, cert, key) = setup();
    let chain = [issuing];
    let how = SignMessage {
        signer: Signer {
            certificate: &cert,
            key: &key,
            chain: &chain,
        },
        opaque: false,
        sid: SidKind::default(),
        signing_time: NOW,
        rsa_pss: false,
    };
    let signed = sign_message(
        b"From: mallory@example.com\r\n\r\nbody\r\n",
        &how,
        &Limits::default(),
    )
    .unwrap();
    let opts = VerifyOptions::trusting(NOW, [root]);
    assert!(
        verify_message(&signed, &opts, &Limits::default(), &BerLimits::default())
            .report
            .verdict
            .is_valid()
    );
    let text = String::from_utf8(signed).unwrap();
    let dup = text.replacen(
        "Content-Type: multipart/signed",
        "Content-Type: multipart/mixed; boundary=\"EVIL\"\r\nContent-Type: multipart/signed",
        1,
    );
    let v = verify_message(
        dup.as_bytes(),
        &opts,
        &Limits::default(),
        &BerLimits::default(),
    )
    .report
    .verdict;
    assert!(v.has(Code::Malformed) && !v.is_valid(), "{v:?}");
    let dup_param = text.replacen("micalg=sha-256;", "micalg=sha-256; micalg=sha-1;", 1);
    let v = verify_message(
        dup_param.as_bytes(),
        &opts,
        &Limits::default(),
        &BerLimits::default(),
    )
    .report
    .verdict;
    assert!(v.has(Code::Malformed), "{v:?}");
}
