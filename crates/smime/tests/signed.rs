//! SignedData round trips through Cachet's own signer and verifier, and the findings each
//! kind of tampering produces. Interop with OpenSSL, NSS, gpgsm and Bouncy Castle is tested
//! at the CLI level.

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::issue::{random_serial, sign_certificate};
use cachet_pki::profile::*;
use cachet_pki::verdict::Code;
use cachet_smime::ber::BerLimits;
use cachet_smime::signed::*;

const NOW: u64 = 1_795_000_000;

use cachet_pki::ephemeral::EphemeralPki as Pki;

fn pki() -> Pki {
    Pki::new(KeyType::EcdsaP256, NOW - 100).unwrap()
}

fn leaf(p: &Pki, email: &str, profile: Profile, kt: KeyType) -> (ParsedCertificate, PrivateKey) {
    p.subscriber(email, profile, kt, 365).unwrap()
}

fn sign_with(
    cert: &ParsedCertificate,
    key: &PrivateKey,
    chain: &[ParsedCertificate],
    content: &[u8],
    opaque: bool,
    sid: SidKind,
) -> Vec<u8> {
    let d = digest_for(key.key_type());
    let digests = ContentDigests::of(content, [d]);
    let signers = [Signer {
        certificate: cert,
        key,
        chain,
    }];
    sign(&SignRequest {
        signers: &signers,
        digests: &digests,
        encapsulated: opaque.then_some(content),
        signing_time: NOW,
        sid,
        rsa_pss: false,
    })
    .unwrap()
}

fn opts(p: &Pki, from: Option<&str>) -> VerifyOptions {
    let mut o = VerifyOptions::trusting(NOW, [p.root.clone()]);
    o.from_addresses = from.map(str::to_string).into_iter().collect();
    o
}

#[test]
fn every_signing_key_type_round_trips_detached_and_opaque() {
    let p = pki();
    let content = b"Content-Type: text/plain\r\n\r\nhello\r\n";
    for kt in [
        KeyType::Rsa2048,
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Ed25519,
    ] {
        let (cert, key) = leaf(&p, "alice@example.com", Profile::Signing, kt);
        for sid in [
            SidKind::IssuerAndSerialNumber,
            SidKind::SubjectKeyIdentifier,
        ] {
            let chain = [p.issuing.clone()];
            let detached = sign_with(&cert, &key, &chain, content, false, sid);
            let r = verify(
                &detached,
                SignedContent::Detached(content),
                &opts(&p, Some("alice@example.com")),
                &BerLimits::default(),
            );
            assert!(r.verdict.is_valid(), "{kt} {sid:?}: {:?}", r.verdict);
            assert_eq!(r.signers.len(), 1);
            assert_eq!(r.signers[0].chain.len(), 3, "leaf, issuing, root");
            assert_eq!(r.signers[0].signing_time, Some(NOW));
            assert!(r.signers[0].capabilities.len() >= 4);
            let opaque = sign_with(&cert, &key, &chain, content, true, sid);
            let r = verify(
                &opaque,
                SignedContent::Encapsulated,
                &opts(&p, None),
                &BerLimits::default(),
            );
            assert!(r.verdict.is_valid(), "{kt}: {:?}", r.verdict);
            assert_eq!(r.content.as_deref(), Some(&content[..]));
        }
    }
}

#[test]
fn tampering_is_never_valid() {
    let p = pki();
    let (cert, key) = leaf(
        &p,
        "alice@example.com",
        Profile::Signing,
        KeyType::EcdsaP256,
    );
    let content = b"Content-Type: text/plain\r\n\r\npay 100 EUR\r\n";
    let sig = sign_with(
        &cert,
        &key,
        std::slice::from_ref(&p.issuing),
        content,
        false,
        SidKind::IssuerAndSerialNumber,
    );
    let o = opts(&p, Some("alice@example.com"));

    let altered = b"Content-Type: text/plain\r\n\r\npay 900 EUR\r\n";
    let r = verify(
        &sig,
        SignedContent::Detached(altered),
        &o,
        &BerLimits::default(),
    );
    assert!(!r.verdict.is_valid());
    assert!(r.verdict.has(Code::ContentAltered), "{:?}", r.verdict);

    // Any single flipped byte of the SignerInfo (signer id, digest algorithm, signed
    // attributes, signature — the last bytes of the structure): never valid. (Bytes of the
    // unsigned digestAlgorithms hint set may change without effect, as RFC 5652 intends.)
    for i in sig.len() - 200..sig.len() {
        let mut s = sig.clone();
        s[i] ^= 0x01;
        let r = verify(
            &s,
            SignedContent::Detached(content),
            &o,
            &BerLimits::default(),
        );
        assert!(!r.verdict.is_valid(), "byte {i} flipped yet valid");
    }

    // From another address.
    let r = verify(
        &sig,
        SignedContent::Detached(content),
        &opts(&p, Some("mallory@example.com")),
        &BerLimits::default(),
    );
    assert!(r.verdict.has(Code::SignerAddressMismatch));
    assert!(!r.verdict.is_valid());

    // An untrusted root, and a missing intermediate.
    let other = pki();
    let r = verify(
        &sig,
        SignedContent::Detached(content),
        &opts(&other, None),
        &BerLimits::default(),
    );
    assert!(
        r.verdict.has(Code::MissingIntermediate) || r.verdict.has(Code::UntrustedRoot),
        "{:?}",
        r.verdict
    );
    let no_chain = sign_with(
        &cert,
        &key,
        &[],
        content,
        false,
        SidKind::IssuerAndSerialNumber,
    );
    let r = verify(
        &no_chain,
        SignedContent::Detached(content),
        &o,
        &BerLimits::default(),
    );
    assert!(r.verdict.has(Code::MissingIntermediate), "{:?}", r.verdict);

    // An expired signer.
    let late = VerifyOptions {
        at: NOW + 400 * 86_400,
        ..opts(&p, None)
    };
    let r = verify(
        &sig,
        SignedContent::Detached(content),
        &late,
        &BerLimits::default(),
    );
    assert!(r.verdict.has(Code::Expired));

    // An encryption-only certificate cannot sign.
    let (enc_cert, enc_key) = leaf(
        &p,
        "alice@example.com",
        Profile::Encryption,
        KeyType::EcdsaP256,
    );
    let s = sign_with(
        &enc_cert,
        &enc_key,
        std::slice::from_ref(&p.issuing),
        content,
        false,
        SidKind::IssuerAndSerialNumber,
    );
    let r = verify(
        &s,
        SignedContent::Detached(content),
        &o,
        &BerLimits::default(),
    );
    assert!(r.verdict.has(Code::WrongKeyUsage), "{:?}", r.verdict);

    // Garbage.
    let r = verify(
        b"\x30\x80garbage",
        SignedContent::Detached(content),
        &o,
        &BerLimits::default(),
    );
    assert!(r.verdict.has(Code::Malformed));
}

#[test]
fn a_signer_with_the_wrong_key_is_refused() {
    let p = pki();
    let (cert, _) = leaf(
        &p,
        "alice@example.com",
        Profile::Signing,
        KeyType::EcdsaP256,
    );
    let other = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let digests = ContentDigests::of(b"x", [digest_for(KeyType::EcdsaP256)]);
    let signers = [Signer {
        certificate: &cert,
        key: &other,
        chain: &[],
    }];
    let e = sign(&SignRequest {
        signers: &signers,
        digests: &digests,
        encapsulated: None,
        signing_time: NOW,
        sid: SidKind::default(),
        rsa_pss: false,
    });
    assert!(e.is_err());
}

#[test]
fn the_default_signature_memory_gives_the_same_verdicts() {
    let p = pki();
    let other = pki();
    let (cert, key) = leaf(
        &p,
        "alice@example.com",
        Profile::Signing,
        KeyType::EcdsaP256,
    );
    let (ocert, okey) = leaf(
        &other,
        "alice@example.com",
        Profile::Signing,
        KeyType::EcdsaP256,
    );
    let content = b"Content-Type: text/plain\r\n\r\nhello\r\n";
    let good = sign_with(
        &cert,
        &key,
        std::slice::from_ref(&p.issuing),
        content,
        false,
        SidKind::IssuerAndSerialNumber,
    );
    // Signed under another hierarchy, but carrying *our* issuing CA's certificate.
    let foreign = sign_with(
        &ocert,
        &okey,
        std::slice::from_ref(&p.issuing),
        content,
        false,
        SidKind::IssuerAndSerialNumber,
    );
    // Our leaf, carrying an issuing CA certificate whose signature was altered: the same
    // subject and key, so the path is built as before, but not the bytes the memory saw.
    let mut forged_der = p.issuing.der().to_vec();
    let last = forged_der.len() - 1;
    forged_der[last] ^= 1;
    let forged_ca = ParsedCertificate::from_der(&forged_der).unwrap();
    let forged = sign_with(
        &cert,
        &key,
        std::slice::from_ref(&forged_ca),
        content,
        false,
        SidKind::IssuerAndSerialNumber,
    );
    // Options as a verifier keeps them between messages: the memory is on by default.
    let o = opts(&p, None);
    assert!(o.cache.is_some(), "the signature memory is on by default");
    let uncached = VerifyOptions {
        cache: None,
        ..opts(&p, None)
    };
    let ber = BerLimits::default();
    for _ in 0..3 {
        for o in [&o, &uncached] {
            let r = verify(&good, SignedContent::Detached(content), o, &ber);
            assert!(r.verdict.is_valid(), "{:?}", r.verdict);
            let r = verify(&foreign, SignedContent::Detached(content), o, &ber);
            assert!(!r.verdict.is_valid());
            let r = verify(&forged, SignedContent::Detached(content), o, &ber);
            assert!(!r.verdict.is_valid(), "a forged CA certificate passed");
            let r = verify(&good, SignedContent::Detached(b"altered"), o, &ber);
            assert!(r.verdict.has(Code::ContentAltered));
        }
    }
}

#[test]
fn rsa_pss_signatures_round_trip() {
    let p = pki();
    let (cert, key) = leaf(&p, "alice@example.com", Profile::Signing, KeyType::Rsa2048);
    let content = b"Content-Type: text/plain\r\n\r\npss\r\n";
    let digests = ContentDigests::of(content, [digest_for(KeyType::Rsa2048)]);
    let signers = [Signer {
        certificate: &cert,
        key: &key,
        chain: std::slice::from_ref(&p.issuing),
    }];
    let sig = sign(&SignRequest {
        signers: &signers,
        digests: &digests,
        encapsulated: None,
        signing_time: NOW,
        sid: SidKind::default(),
        rsa_pss: true,
    })
    .unwrap();
    // id-RSASSA-PSS with SHA-256 parameters is in the SignerInfo.
    let pss_alg = cachet_crypto::SignatureAlgorithm::RsaPssSha256.algorithm_identifier_der();
    assert!(sig.windows(pss_alg.len()).any(|w| w == pss_alg));
    let r = verify(
        &sig,
        SignedContent::Detached(content),
        &opts(&p, None),
        &BerLimits::default(),
    );
    assert!(r.verdict.is_valid(), "{:?}", r.verdict);
    let r = verify(
        &sig,
        SignedContent::Detached(b"other"),
        &opts(&p, None),
        &BerLimits::default(),
    );
    assert!(r.verdict.has(Code::ContentAltered));
}

/// Regressions from review: mixed detached/encapsulated content, no trust anchor, and an
/// end-entity certificate acting as a CA.
#[test]
fn review_attacks_are_refused() {
    let p = pki();
    let (cert, key) = leaf(
        &p,
        "alice@example.com",
        Profile::Signing,
        KeyType::EcdsaP256,
    );
    let chain = [p.issuing.clone()];
    // 1. A signature carrying its own content, checked against other bytes.
    let opaque = sign_with(
        &cert,
        &key,
        &chain,
        b"PAY MALLORY",
        true,
        SidKind::default(),
    );
    let r = verify(
        &opaque,
        SignedContent::Detached(b"PAY BOB"),
        &opts(&p, None),
        &BerLimits::default(),
    );
    assert!(r.verdict.has(Code::Malformed), "{:?}", r.verdict);
    assert!(!r.verdict.is_valid());
    // 2. No trust anchor: never valid.
    let det = sign_with(&cert, &key, &chain, b"x", false, SidKind::default());
    let no_trust = VerifyOptions {
        trust_anchors: vec![],
        ..opts(&p, None)
    };
    let r = verify(
        &det,
        SignedContent::Detached(b"x"),
        &no_trust,
        &BerLimits::default(),
    );
    assert!(r.verdict.has(Code::UntrustedRoot), "{:?}", r.verdict);
    // 3. Mallory's end-entity certificate issues a certificate for alice.
    let (mallory, mallory_key) = leaf(
        &p,
        "mallory@example.com",
        Profile::Signing,
        KeyType::EcdsaP256,
    );
    let fake_key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let req = SubscriberRequest {
        email: "alice@example.com",
        profile: Profile::Signing,
        spki_der: fake_key.public_key_der(),
        not_before: NOW - 10,
        validity_days: 30,
        non_repudiation: false,
    };
    let mut t = subscriber_template(
        &req,
        random_serial().unwrap().to_vec(),
        &p.issuing,
        &PublicationUrls::under("http://x.example", "i"),
    )
    .unwrap();
    t.extensions
        .retain(|e| e.extn_id != const_oid::db::rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER);
    let forged = ParsedCertificate::from_der(
        &sign_certificate(&t, &mallory.subject_der().unwrap(), &mallory_key).unwrap(),
    )
    .unwrap();
    let s = sign_with(
        &forged,
        &fake_key,
        &[mallory.clone(), p.issuing.clone()],
        b"x",
        false,
        SidKind::default(),
    );
    let r = verify(
        &s,
        SignedContent::Detached(b"x"),
        &opts(&p, Some("alice@example.com")),
        &BerLimits::default(),
    );
    assert!(
        !r.verdict.is_valid(),
        "an end-entity certificate must not act as a CA"
    );
    assert!(r.verdict.has(Code::WrongKeyUsage), "{:?}", r.verdict);
}
