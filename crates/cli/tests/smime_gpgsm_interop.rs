//! Raw CMS signing and encryption against GnuPG 2.2's `gpgsm`, in both directions. gpgsm
//! runs in a throwaway GNUPGHOME (loopback pinentry, no CRL checks, no dirmngr) that trusts
//! Cachet's root through `trustlist.txt` and holds an RSA key imported from
//! `cachet cert issue --p12-compat` (gpgsm 2.2 imports no EC PKCS#12, so it signs and
//! decrypts with RSA only; it verifies RSA and P-256 signatures). What gpgsm 2.2 cannot read
//! (AuthEnvelopedData with the 16-byte tag Cachet writes, RSA-OAEP) or do (encrypt to an EC
//! key-agreement certificate) is pinned with its message. The matrix is in docs/INTEROP.md.

mod common;
use common::*;
use std::path::Path;

/// Content with 8-bit bytes and CRLF, which must come back byte for byte.
const CONTENT: &[u8] = b"Dear Bob,\r\nthe figures: 100 EUR.\r\nGr\xc3\xbc\xc3\x9fe, Alice\r\n";
const ALTERED: &[u8] = b"Dear Bob,\r\nthe figures: 900 EUR.\r\nGr\xc3\xbc\xc3\x9fe, Alice\r\n";

const GPGSM: &str = "apt-get install gpgsm gpg-agent";

use common::gpgsm::{Gpgsm, PASSPHRASE};

/// A CA, Alice's RSA dual-use identity in gpgsm (PKCS#12 `--p12-compat`), and the root trusted.
fn setup(dir: &Path) -> (Gpgsm, Identity) {
    init_ca(dir, "ecdsa-p256");
    write_chain(dir);
    write(dir, "content.bin", CONTENT);
    write(dir, "altered.bin", ALTERED);
    let pw = write(dir, "p12.pw", PASSPHRASE);
    let out = issue(
        dir,
        "alice@example.com",
        "dual",
        "rsa-2048",
        &["--p12-password-file", &pw, "--p12-compat"],
    );
    let g = Gpgsm::new(dir);
    g.trust_root();
    g.import_p12(&out.join("bundle.p12"));
    (g, identity(out))
}

fn good_signature(r: &Run) -> bool {
    r.code == 0
        && r.stdout.contains("[GNUPG:] GOODSIG ")
        && r.stdout.contains("[GNUPG:] TRUST_FULLY")
}

#[test]
fn gpgsm_verifies_what_cachet_signs_and_back() {
    require("gpgsm", GPGSM);
    require("openssl", "apt-get install openssl");
    require("gpg-agent", GPGSM);
    require("gpgconf", GPGSM);
    let t = scratch();
    let dir = t.path();
    let (g, rsa) = setup(dir);
    let p256 = identity(issue(
        dir,
        "alice@example.com",
        "signing",
        "ecdsa-p256",
        &[],
    ));

    // Cachet signs (RSA-2048 and P-256), detached (DER and PEM) and opaque; gpgsm verifies.
    for (kt, who) in [("rsa-2048", &rsa), ("ecdsa-p256", &p256)] {
        for (name, format, opaque) in [
            ("detached.p7s", "der", false),
            ("detached.pem", "pem", false),
            ("opaque.p7m", "der", true),
        ] {
            let mut args = vec![
                "smime",
                "sign",
                "--format",
                format,
                "--cert",
                &who.cert,
                "--key",
                &who.key,
                "--chain",
                &who.chain,
                "--in",
                "content.bin",
                "--out",
                name,
            ];
            if opaque {
                args.push("--opaque");
            }
            cachet(dir, &args).ok();
            let r = if opaque {
                let _ = std::fs::remove_file(dir.join("gpgsm.out"));
                let r = g.run(&["--verify", "-o", "gpgsm.out", name], "");
                assert_eq!(
                    std::fs::read(dir.join("gpgsm.out")).unwrap_or_default(),
                    CONTENT,
                    "{kt} {name}: {}",
                    r.stderr
                );
                r
            } else {
                g.run(&["--verify", name, "content.bin"], "")
            };
            assert!(
                good_signature(&r),
                "{kt} {name}: gpgsm --verify: {} {}",
                r.stdout,
                r.stderr
            );
        }
        // gpgsm's answer can be no: altered detached content.
        let r = g.run(&["--verify", "detached.p7s", "altered.bin"], "");
        assert_ne!(r.code, 0, "{kt}: gpgsm accepted altered content");
        assert!(r.stdout.contains("[GNUPG:] BADSIG "), "{kt}: {}", r.stdout);
        assert!(!good_signature(&r), "{kt}");
    }

    // A signer identified by subjectKeyIdentifier (`--ski`, SignerInfo version 3): gpgsm 2.2
    // cannot parse the SignerInfo, Cachet's as OpenSSL's (`cms -sign -keyid`). Pinned.
    sign_raw(dir, &rsa, "content.bin", "ski.p7s", false, true);
    run_in(
        dir,
        "openssl",
        &[
            "cms",
            "-sign",
            "-keyid",
            "-binary",
            "-in",
            "content.bin",
            "-signer",
            &rsa.cert,
            "-inkey",
            &rsa.key,
            "-certfile",
            &rsa.chain,
            "-outform",
            "DER",
            "-out",
            "openssl-ski.p7s",
        ],
    )
    .ok();
    for name in ["ski.p7s", "openssl-ski.p7s"] {
        let r = g.run(&["--verify", name, "content.bin"], "");
        assert_ne!(
            r.code, 0,
            "{name}: gpgsm now reads subjectKeyIdentifier signers"
        );
        assert!(
            r.stderr.contains("ksba_cms_parse failed: BER error"),
            "{name}: {}",
            r.stderr
        );
    }

    // gpgsm signs (RSA: the only key gpgsm 2.2 imports), opaque and --detach-sign, binary and
    // --armor (PEM labelled SIGNED MESSAGE); Cachet verifies each.
    let signer = g.secret_fingerprint();
    for (name, detached, armor) in [
        ("g-opaque.p7m", false, false),
        ("g-opaque.asc", false, true),
        ("g-detached.p7s", true, false),
        ("g-detached.asc", true, true),
    ] {
        let mut args = vec!["-u", &signer, "-o", name];
        if armor {
            args.push("--armor");
        }
        args.push(if detached { "--detach-sign" } else { "--sign" });
        args.push("content.bin");
        let r = g.with_passphrase(&args);
        assert_eq!(r.code, 0, "{name}: gpgsm: {}", r.stderr);
        let format = if armor { "pem" } else { "der" };
        if armor {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            assert!(
                text.starts_with("-----BEGIN SIGNED MESSAGE-----"),
                "{name}: {text}"
            );
        }
        let content = detached.then_some("content.bin");
        let r = verify_raw(dir, format, name, content);
        assert_eq!(r.code, 0, "{name}: {} {}", r.stdout, r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["valid"], true, "{name}: {}", r.stdout);
        assert_eq!(
            std::fs::read(dir.join("verified.out")).unwrap(),
            CONTENT,
            "{name}"
        );
        if detached {
            let r = verify_raw(dir, format, name, Some("altered.bin"));
            assert_eq!(r.code, 1, "{name}: altered content verified: {}", r.stdout);
            assert!(r.stdout.contains("content-altered"), "{name}: {}", r.stdout);
        }
    }
}

#[test]
fn gpgsm_decrypts_what_cachet_encrypts_and_back() {
    require("gpgsm", GPGSM);
    require("gpg-agent", GPGSM);
    require("gpgconf", GPGSM);
    let t = scratch();
    let dir = t.path();
    let (g, rsa) = setup(dir);
    let decrypt = |input: &str| {
        let _ = std::fs::remove_file(dir.join("gpgsm.out"));
        let r = g.with_passphrase(&["--decrypt", "-o", "gpgsm.out", input]);
        let out = std::fs::read(dir.join("gpgsm.out")).unwrap_or_default();
        (r, out)
    };
    let encrypt = |cipher: &str, oaep: bool, format: &str, out: &str| {
        let mut args = vec![
            "smime",
            "encrypt",
            "--format",
            format,
            "--recipient",
            &rsa.cert,
            "--cipher",
            cipher,
            "--in",
            "content.bin",
            "--out",
            out,
        ];
        if oaep {
            args.push("--oaep");
        }
        cachet(dir, &args).ok();
    };

    // Cachet encrypts (RSA PKCS#1 v1.5, AES-256/128-CBC, DER and PEM); gpgsm decrypts exactly.
    for cipher in ["aes-256-cbc", "aes-128-cbc"] {
        for (format, name) in [("der", "enc.p7m"), ("pem", "enc.pem")] {
            encrypt(cipher, false, format, name);
            let (r, out) = decrypt(name);
            assert_eq!(
                r.code, 0,
                "{cipher} {format}: gpgsm --decrypt: {}",
                r.stderr
            );
            assert!(
                r.stdout.contains("[GNUPG:] DECRYPTION_OKAY"),
                "{}",
                r.stdout
            );
            assert_eq!(out, CONTENT, "{cipher} {format}");
        }
    }
    // AuthEnvelopedData: gpgsm 2.2 reads only the RFC 5084 default of a 12-byte tag (GCM
    // parameters without aes-ICVlen); Cachet writes aes-ICVlen 16, what OpenSSL and Bouncy
    // Castle read, and gpgsm fails while reading the parameters. Pinned.
    for cipher in ["aes-256-gcm", "aes-128-gcm"] {
        encrypt(cipher, false, "der", "gcm.p7m");
        let (r, out) = decrypt("gcm.p7m");
        assert_ne!(r.code, 0, "{cipher}: gpgsm now reads Cachet's GCM");
        assert!(
            r.stderr.contains("error getting IV: Buffer too short"),
            "{cipher}: {}",
            r.stderr
        );
        assert!(
            r.stdout.contains("[GNUPG:] DECRYPTION_FAILED"),
            "{}",
            r.stdout
        );
        assert!(out.is_empty(), "{cipher}: gpgsm released data");

        // The same message re-encoded with the RFC 5084 default, aes-ICVlen absent and the
        // tag cut to its first 12 bytes (a truncated GCM tag): gpgsm decrypts it, and so does
        // Cachet. One encoding cannot serve gpgsm 2.2 and OpenSSL 3.0 (which reads only 16).
        let der = std::fs::read(dir.join("gcm.p7m")).unwrap();
        let short = with_12_byte_tag(&der);
        assert_ne!(short, der, "{cipher}: the rewrite changed nothing");
        std::fs::write(dir.join("gcm12.p7m"), &short).unwrap();
        let (r, out) = decrypt("gcm12.p7m");
        assert_eq!(
            r.code, 0,
            "{cipher} 12-byte tag: gpgsm --decrypt: {}",
            r.stderr
        );
        assert_eq!(out, CONTENT, "{cipher} 12-byte tag");
        let r = cachet(
            dir,
            &[
                "smime",
                "decrypt",
                "--format",
                "der",
                "--cert",
                &rsa.cert,
                "--key",
                &rsa.key,
                "--in",
                "gcm12.p7m",
                "--out",
                "dec12.out",
            ],
        );
        assert_eq!(r.code, 0, "{cipher} 12-byte tag: cachet: {}", r.stderr);
        assert_eq!(std::fs::read(dir.join("dec12.out")).unwrap(), CONTENT);

        // The sender's choice: `--gcm-tag-len 12` writes that form directly.
        cachet(
            dir,
            &[
                "smime",
                "encrypt",
                "--format",
                "der",
                "--recipient",
                &rsa.cert,
                "--cipher",
                cipher,
                "--gcm-tag-len",
                "12",
                "--in",
                "content.bin",
                "--out",
                "gcm12-direct.p7m",
            ],
        )
        .ok();
        let (r, out) = decrypt("gcm12-direct.p7m");
        assert_eq!(
            r.code, 0,
            "{cipher} --gcm-tag-len 12: gpgsm --decrypt: {}",
            r.stderr
        );
        assert_eq!(out, CONTENT, "{cipher} --gcm-tag-len 12");
    }
    // RSAES-OAEP: gpgsm 2.2 cannot take the key out of it. Pinned.
    encrypt("aes-256-cbc", true, "der", "oaep.p7m");
    let (r, out) = decrypt("oaep.p7m");
    assert_ne!(r.code, 0, "gpgsm now reads RSA-OAEP");
    assert!(
        r.stderr.contains("error getting encrypted session key"),
        "{}",
        r.stderr
    );
    assert!(out.is_empty());

    // gpgsm encrypts to Alice (binary and --armor); Cachet decrypts exactly.
    for (name, armor) in [("g-enc.p7m", false), ("g-enc.asc", true)] {
        let mut args = vec!["-r", "alice@example.com", "-o", name];
        if armor {
            args.push("--armor");
        }
        args.extend_from_slice(&["--encrypt", "content.bin"]);
        let r = g.run(&args, "");
        assert_eq!(r.code, 0, "{name}: gpgsm --encrypt: {}", r.stderr);
        if armor {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            assert!(
                text.starts_with("-----BEGIN ENCRYPTED MESSAGE-----"),
                "{name}: {text}"
            );
        }
        let r = cachet(
            dir,
            &[
                "smime",
                "decrypt",
                "--format",
                if armor { "pem" } else { "der" },
                "--cert",
                &rsa.cert,
                "--key",
                &rsa.key,
                "--in",
                name,
                "--out",
                "dec.out",
            ],
        );
        assert_eq!(r.code, 0, "{name}: cachet decrypt: {}", r.stderr);
        assert_eq!(
            std::fs::read(dir.join("dec.out")).unwrap(),
            CONTENT,
            "{name}"
        );
        let _ = std::fs::remove_file(dir.join("dec.out"));
    }

    // Asked for GCM (`--cipher-algo` with the id-aes256-GCM OID), gpgsm 2.2 writes an
    // EnvelopedData with that OID, a 16-byte IV and no tag anywhere: GCM without its
    // authentication. Cachet refuses it rather than decrypt unauthenticated. Pinned.
    let r = g.run(
        &[
            "--cipher-algo",
            "2.16.840.1.101.3.4.1.46",
            "-r",
            "alice@example.com",
            "-o",
            "g-gcm.p7m",
            "--encrypt",
            "content.bin",
        ],
        "",
    );
    assert_eq!(r.code, 0, "gpgsm --cipher-algo GCM: {}", r.stderr);
    let r = cachet(
        dir,
        &[
            "smime",
            "decrypt",
            "--format",
            "der",
            "--cert",
            &rsa.cert,
            "--key",
            &rsa.key,
            "--in",
            "g-gcm.p7m",
        ],
    );
    assert_eq!(r.code, 2, "Cachet read GCM without a tag: {}", r.stdout);
    assert!(
        r.stderr
            .contains("in EnvelopedData, which has no place for the tag"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("100 EUR"));

    // gpgsm 2.2 does not encrypt to an EC certificate whose key is for key agreement (RFC 5753;
    // keyUsage keyAgreement, as the S/MIME BR require). Pinned.
    let bob = identity(issue(
        dir,
        "bob@example.com",
        "encryption",
        "ecdsa-p256",
        &[],
    ));
    let r = g.run(&["--import", &bob.cert], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = g.run(
        &[
            "-r",
            "bob@example.com",
            "-o",
            "ec.p7m",
            "--encrypt",
            "content.bin",
        ],
        "",
    );
    assert_ne!(r.code, 0, "gpgsm now encrypts to EC key agreement");
    assert!(r.stderr.contains("Wrong key usage"), "{}", r.stderr);
}

/// One DER element: tag byte, contents, and the bytes it took. Definite lengths only (Cachet
/// writes DER).
fn tlv(b: &[u8]) -> (u8, &[u8], usize) {
    let (tag, first) = (b[0], b[1] as usize);
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let len = b[2..2 + n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | x as usize);
        (len, 2 + n)
    };
    (tag, &b[head..head + len], head + len)
}

fn encode(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&x| x == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(body);
    out
}

/// Rewrites Cachet's AuthEnvelopedData with the RFC 5084 default tag length: GCMParameters
/// without `aes-ICVlen` and the 16-byte mac cut to 12 (a GCM tag truncated to 96 bits is its
/// first 12 bytes; with no authAttrs nothing else covers the parameters).
fn with_12_byte_tag(der: &[u8]) -> Vec<u8> {
    const GCM_OIDS: [&[u8]; 2] = [
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x06],
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e],
    ];
    fn walk(tag: u8, body: &[u8]) -> Vec<u8> {
        if tag & 0x20 == 0 {
            return encode(tag, body);
        }
        let mut kids = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let (t, v, used) = tlv(rest);
            kids.push((t, v.to_vec()));
            rest = &rest[used..];
        }
        if kids.len() == 2 && kids[0].0 == 0x06 && GCM_OIDS.contains(&kids[0].1.as_slice()) {
            // AlgorithmIdentifier { id-aesNNN-GCM, GCMParameters { nonce, aes-ICVlen } }.
            let (t, nonce, _) = tlv(&kids[1].1);
            kids[1].1 = encode(t, nonce);
        } else if kids.len() >= 4
            && kids[0].0 == 0x02
            && kids
                .last()
                .is_some_and(|(t, v)| *t == 0x04 && v.len() == 16)
        {
            // AuthEnvelopedData { version, recipientInfos, authEncryptedContentInfo, mac }.
            kids.last_mut().unwrap().1.truncate(12);
        }
        let inner: Vec<u8> = kids.iter().flat_map(|(t, v)| walk(*t, v)).collect();
        encode(tag, &inner)
    }
    let (tag, body, _) = tlv(der);
    walk(tag, body)
}
