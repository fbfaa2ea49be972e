//! S/MIME signing and verification against OpenSSL (`openssl smime`/`cms`), in both
//! directions, and the tampering that must never verify. NSS cmsutil, GnuPG gpgsm and Bouncy
//! Castle are in smime_nss_interop.rs, smime_gpgsm_interop.rs and smime_bc_interop.rs.

mod common;
use common::*;
use std::path::Path;

const MESSAGE: &str = "From: Alice <alice@example.com>\nTo: Bob <bob@example.com>\nSubject: quarterly figures\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <q1@example.com>\n\nDear Bob,\nthe figures: 100 EUR.\nGrüße, Alice\n";

fn setup(dir: &Path, kt: &str) -> std::path::PathBuf {
    init_ca(dir, "ecdsa-p256");
    write_chain(dir);
    write(dir, "msg.eml", MESSAGE);
    issue(dir, "alice@example.com", "signing", kt, &[])
}

fn verify(dir: &Path, file: &str) -> Run {
    cachet(
        dir,
        &[
            "smime", "verify", "--trust", "root.pem", "--in", file, "--json",
        ],
    )
}

#[test]
fn openssl_verifies_what_cachet_signs_and_back() {
    require("openssl", "apt-get install openssl");
    for kt in ["rsa-2048", "ecdsa-p256"] {
        let t = scratch();
        let dir = t.path();
        let a = setup(dir, kt);
        let (cert, key, chain) = (a.join("cert.pem"), a.join("key.pem"), a.join("chain.pem"));
        let (cert, key, chain) = (
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            chain.to_str().unwrap(),
        );
        for (name, extra) in [("detached.eml", None), ("opaque.eml", Some("--opaque"))] {
            let mut args = vec![
                "smime", "sign", "--cert", cert, "--key", key, "--chain", chain, "--in", "msg.eml",
                "--out", name,
            ];
            args.extend(extra);
            cachet(dir, &args).ok();
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            assert!(text.starts_with("From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: quarterly figures\r\n"), "{text}");
            assert!(
                text.is_ascii(),
                "8-bit content must be transfer-encoded before signing"
            );
            let r = run_in(
                dir,
                "openssl",
                &[
                    "smime",
                    "-verify",
                    "-in",
                    name,
                    "-CAfile",
                    "root.pem",
                    "-purpose",
                    "smimesign",
                ],
            );
            assert_eq!(r.code, 0, "{kt} {name}: {}", r.stderr);
            assert!(r.stdout.contains("the figures: 100 EUR."), "{}", r.stdout);
            let v = verify(dir, name);
            assert_eq!(v.code, 0, "{kt} {name}: {}", v.stdout);
        }
        // OpenSSL signs: detached, opaque, and streamed BER (indefinite lengths).
        for (name, args) in [
            ("o-detached.eml", vec![]),
            ("o-opaque.eml", vec!["-nodetach"]),
            ("o-stream.eml", vec!["-nodetach", "-stream"]),
        ] {
            let mut a = vec![
                "smime",
                "-sign",
                "-in",
                "msg.eml",
                "-signer",
                cert,
                "-inkey",
                key,
                "-certfile",
                chain,
                "-out",
                name,
            ];
            a.extend(args);
            run_in(dir, "openssl", &a).ok();
            let v = verify(dir, name);
            assert_eq!(v.code, 0, "{kt} {name}: {}", v.stdout);
        }
        // Raw CMS: openssl cms -sign -binary -outform DER, detached, verified with --content.
        run_in(
            dir,
            "openssl",
            &[
                "cms", "-sign", "-binary", "-in", "msg.eml", "-signer", cert, "-inkey", key,
                "-outform", "DER", "-out", "raw.p7s",
            ],
        )
        .ok();
        let r = cachet(
            dir,
            &[
                "smime",
                "verify",
                "--format",
                "der",
                "--in",
                "raw.p7s",
                "--content",
                "msg.eml",
                "--trust",
                "root.pem",
                "--intermediates",
                chain,
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stdout);
        // And Cachet's raw output for openssl cms.
        cachet(
            dir,
            &[
                "smime", "sign", "--format", "pem", "--opaque", "--cert", cert, "--key", key,
                "--chain", chain, "--in", "msg.eml", "--out", "c.pem",
            ],
        )
        .ok();
        let r = run_in(
            dir,
            "openssl",
            &[
                "cms", "-verify", "-inform", "PEM", "-in", "c.pem", "-CAfile", "root.pem",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout, MESSAGE);
    }
}

#[test]
fn altered_messages_are_never_valid() {
    require("openssl", "apt-get install openssl");
    let t = scratch();
    let dir = t.path();
    let a = setup(dir, "ecdsa-p256");
    let args = |out: &'static str| {
        vec![
            "smime".to_string(),
            "sign".into(),
            "--cert".into(),
            a.join("cert.pem").display().to_string(),
            "--key".into(),
            a.join("key.pem").display().to_string(),
            "--chain".into(),
            a.join("chain.pem").display().to_string(),
            "--in".into(),
            "msg.eml".into(),
            "--out".into(),
            out.into(),
        ]
    };
    let sign_args = args("signed.eml");
    cachet(
        dir,
        &sign_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .ok();
    let signed = std::fs::read_to_string(dir.join("signed.eml")).unwrap();
    assert_eq!(verify(dir, "signed.eml").code, 0);
    let check = |name: &str, altered: String, code: &str| {
        assert_ne!(altered, signed, "{name}: the alteration changed nothing");
        write(dir, name, &altered);
        let r = verify(dir, name);
        assert_ne!(r.code, 0, "{name} verified: {}", r.stdout);
        assert!(
            r.stdout.contains(code),
            "{name}: expected {code}: {}",
            r.stdout
        );
    };
    check(
        "byte.eml",
        signed.replacen("100 EUR", "900 EUR", 1),
        "content-altered",
    );
    check(
        "qp.eml",
        signed.replacen("Gr=C3=BC=C3=9Fe", "Grüße", 1),
        "content-altered",
    );
    check(
        "footer.eml",
        signed.replacen(
            "Gr=C3=BC=C3=9Fe, Alice\r\n",
            "Gr=C3=BC=C3=9Fe, Alice\r\n\r\n-- \r\nSent via the gateway\r\n",
            1,
        ),
        "content-altered",
    );
    check(
        "from.eml",
        signed.replacen(
            "From: Alice <alice@example.com>",
            "From: Alice <alice@evil.example>",
            1,
        ),
        "signer-address-mismatch",
    );
    // A changed base64 character in the signature value (the end of the SignedData).
    let end = signed.rfind("\r\n------=_cachet").unwrap();
    let mut bytes = signed.clone().into_bytes();
    let target = end - 10;
    bytes[target] = if bytes[target] == b'A' { b'B' } else { b'A' };
    check(
        "sigbyte.eml",
        String::from_utf8(bytes).unwrap(),
        "\"valid\": false",
    );
    // Garbage and truncation: malformed, exit 2.
    write(
        dir,
        "garbage.eml",
        "Content-Type: multipart/signed; boundary=x\r\n\r\n--x\r\nhello\r\n--x\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--x--\r\n",
    );
    let r = verify(dir, "garbage.eml");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("malformed"), "{}", r.stdout);
    write(dir, "truncated.eml", &signed[..signed.len() / 2]);
    let r = verify(dir, "truncated.eml");
    assert_eq!(r.code, 2, "{}", r.stdout);
}

/// Hostile input: 100 MB of headers, deeply nested multiparts, absurd BER length fields and
/// nested indefinite lengths in the signature, garbage — `malformed`, exit 2, quickly.
#[test]
fn hostile_messages_are_malformed_in_bounded_time() {
    let t = scratch();
    let dir = t.path();
    init_ca(dir, "ecdsa-p256");
    write_chain(dir);
    // 100 MB of header fields.
    let mut huge = Vec::with_capacity(100 << 20);
    while huge.len() < 100 << 20 {
        huge.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    write(dir, "huge.eml", &huge);
    drop(huge);
    let r = verify(dir, "huge.eml");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("malformed"), "{}", r.stdout);
    // 10,000 nested multiparts, signed: refused at the nesting limit.
    let mut nested = String::new();
    for i in 0..10_000 {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    nested.push_str("Content-Type: text/plain\r\n\r\nxé\r\n");
    write(
        dir,
        "nested.eml",
        format!("From: alice@example.com\r\n{nested}"),
    );
    let a = issue(dir, "alice@example.com", "signing", "ecdsa-p256", &[]);
    let r = cachet(
        dir,
        &[
            "smime",
            "sign",
            "--cert",
            &a.join("cert.pem").display().to_string(),
            "--key",
            &a.join("key.pem").display().to_string(),
            "--in",
            "nested.eml",
            "--out",
            "n.eml",
        ],
    );
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("nesting"), "{}", r.stderr);
    // A signature whose BER claims an absurd length, and one nested 10,000 levels deep.
    for (name, der) in [
        (
            "len.eml",
            b"\x30\x84\xff\xff\xff\xff\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02".to_vec(),
        ),
        (
            "deep.eml",
            [b"\x30\x80".repeat(10_000), b"\x00\x00".repeat(10_000)].concat(),
        ),
    ] {
        let b64 = base64(&der);
        write(
            dir,
            name,
            format!(
                "From: alice@example.com\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
            ),
        );
        let r = verify(dir, name);
        assert_eq!(r.code, 2, "{name}: {}", r.stdout);
        assert!(r.stdout.contains("malformed"), "{name}: {}", r.stdout);
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

/// RSASSA-PSS (RFC 4056): Cachet's `--pss` signatures verify with `openssl cms` (OpenSSL's
/// PKCS#7 `smime -verify` knows no PSS); OpenSSL's PSS with `rsa_pss_saltlen:digest`
/// verifies in Cachet; OpenSSL's default (maximum) salt length is reported as unsupported
/// (`malformed`, exit 2), never as a bad signature.
#[test]
fn rsa_pss_interop_with_openssl_cms() {
    require("openssl", "apt-get install openssl");
    let t = scratch();
    let dir = t.path();
    let a = setup(dir, "rsa-2048");
    let (cert, key, chain) = (a.join("cert.pem"), a.join("key.pem"), a.join("chain.pem"));
    let (cert, key, chain) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        chain.to_str().unwrap(),
    );
    cachet(
        dir,
        &[
            "smime", "sign", "--pss", "--cert", cert, "--key", key, "--chain", chain, "--in",
            "msg.eml", "--out", "pss.eml",
        ],
    )
    .ok();
    let r = run_in(
        dir,
        "openssl",
        &[
            "cms", "-verify", "-in", "pss.eml", "-CAfile", "root.pem", "-cmsout", "-print",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("rsassaPss"), "{}", r.stdout);
    assert_eq!(verify(dir, "pss.eml").code, 0);
    run_in(
        dir,
        "openssl",
        &[
            "cms",
            "-sign",
            "-in",
            "msg.eml",
            "-signer",
            cert,
            "-inkey",
            key,
            "-certfile",
            chain,
            "-keyopt",
            "rsa_padding_mode:pss",
            "-keyopt",
            "rsa_pss_saltlen:digest",
            "-out",
            "o-pss.eml",
        ],
    )
    .ok();
    let r = verify(dir, "o-pss.eml");
    assert_eq!(r.code, 0, "{}", r.stdout);
    run_in(
        dir,
        "openssl",
        &[
            "cms",
            "-sign",
            "-in",
            "msg.eml",
            "-signer",
            cert,
            "-inkey",
            key,
            "-certfile",
            chain,
            "-keyopt",
            "rsa_padding_mode:pss",
            "-out",
            "o-pss-max.eml",
        ],
    )
    .ok();
    let r = verify(dir, "o-pss-max.eml");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("222-octet salt"), "{}", r.stdout);
}

/// Sign-then-encrypt, the usual S/MIME message: `decrypt --trust` unwraps both layers,
/// verifies the signature against the outer From, and writes the innermost content only
/// when the signature is valid.
#[test]
fn sign_then_encrypt_unwraps_and_verifies() {
    let t = scratch();
    let dir = t.path();
    let a = setup(dir, "ecdsa-p256");
    let e = issue(dir, "alice@example.com", "encryption", "rsa-2048", &[]);
    let p = |d: &std::path::Path, f: &str| d.join(f).display().to_string();
    cachet(
        dir,
        &[
            "smime",
            "sign",
            "--cert",
            &p(&a, "cert.pem"),
            "--key",
            &p(&a, "key.pem"),
            "--chain",
            &p(&a, "chain.pem"),
            "--in",
            "msg.eml",
            "--out",
            "signed.eml",
        ],
    )
    .ok();
    cachet(
        dir,
        &[
            "smime",
            "encrypt",
            "--recipient",
            &p(&e, "cert.pem"),
            "--cipher",
            "aes-256-gcm",
            "--in",
            "signed.eml",
            "--out",
            "both.eml",
        ],
    )
    .ok();
    let r = cachet(
        dir,
        &[
            "smime",
            "decrypt",
            "--cert",
            &p(&e, "cert.pem"),
            "--key",
            &p(&e, "key.pem"),
            "--trust",
            "root.pem",
            "--in",
            "both.eml",
            "--out",
            "plain.eml",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("signature by CN=alice@example.com: valid"),
        "{}",
        r.stderr
    );
    let plain = std::fs::read_to_string(dir.join("plain.eml")).unwrap();
    assert!(plain.contains("the figures: 100 EUR."), "{plain}");
    assert!(
        !plain.contains("multipart/signed"),
        "the innermost content is written: {plain}"
    );
    // Under a root that is not the signer's, nothing is written and the exit is 1.
    let other = scratch();
    init_ca(other.path(), "ecdsa-p256");
    let (_, other_root) = write_chain(other.path());
    let r = cachet(
        dir,
        &[
            "smime",
            "decrypt",
            "--cert",
            &p(&e, "cert.pem"),
            "--key",
            &p(&e, "key.pem"),
            "--trust",
            &other_root.display().to_string(),
            "--in",
            "both.eml",
            "--out",
            "plain2.eml",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!dir.join("plain2.eml").exists());
}
