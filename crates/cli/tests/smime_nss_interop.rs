//! Raw CMS signing and encryption against NSS 3.87's `cmsutil` (Debian `libnss3-tools`), in
//! both directions, with RSA-2048 and EC P-256 keys. `cmsutil` speaks CMS without MIME, so
//! Cachet writes and reads `--format der`. The keys reach the NSS database the way a user's
//! would: `cachet cert issue --p12-password-file`, then `pk12util -i`; the root is imported
//! with `certutil -A -t C,C,C`. What NSS 3.87 cannot do (AuthEnvelopedData, RSA-OAEP, EC key
//! agreement) is pinned with the error it gives. The matrix is in docs/INTEROP.md.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Content with 8-bit bytes and CRLF, which must come back byte for byte.
const CONTENT: &[u8] = b"Dear Bob,\r\nthe figures: 100 EUR.\r\nGr\xc3\xbc\xc3\x9fe, Alice\r\n";

const NSS: &str = "apt-get install libnss3-tools";

/// A CA, a certificate of `profile` for `email` with its PKCS#12 bundle, and an NSS database
/// `sql:db` that trusts the root and holds the key.
fn setup(dir: &Path, email: &str, profile: &str, kt: &str) -> Identity {
    init_ca(dir, "ecdsa-p256");
    write_chain(dir);
    write(dir, "content.bin", CONTENT);
    let pw = write(dir, "p12.pw", "correct horse\n");
    let out: PathBuf = issue(dir, email, profile, kt, &["--p12-password-file", &pw]);
    std::fs::create_dir(dir.join("db")).unwrap();
    run_in(dir, "certutil", &["-N", "--empty-password", "-d", "sql:db"]).ok();
    run_in(
        dir,
        "certutil",
        &[
            "-A", "-d", "sql:db", "-n", "root", "-t", "C,C,C", "-i", "root.pem",
        ],
    )
    .ok();
    let p12 = out.join("bundle.p12").display().to_string();
    let r = run_in(dir, "pk12util", &["-i", &p12, "-d", "sql:db", "-w", &pw]);
    assert_eq!(r.code, 0, "pk12util {kt}: {} {}", r.stdout, r.stderr);
    Identity {
        cert: out.join("cert.pem").display().to_string(),
        key: out.join("key.pem").display().to_string(),
        chain: out.join("chain.pem").display().to_string(),
    }
}

fn cmsutil(dir: &Path, args: &[&str]) -> Run {
    let mut a = args.to_vec();
    a.extend_from_slice(&["-d", "sql:db"]);
    run_in(dir, "cmsutil", &a)
}

/// `cmsutil -D` with `-h 2`, which writes each layer's description and signer status as
/// header lines before the content (cmsutil exits 0 whatever the status, so the status line
/// is what tells). Returns the headers and the content after them.
fn cmsutil_verify(dir: &Path, sig: &str, content: Option<&str>) -> (String, Vec<u8>) {
    let _ = std::fs::remove_file(dir.join("nss.out"));
    let mut a = vec!["-D", "-i", sig, "-u", "4", "-h", "2", "-o", "nss.out"];
    if let Some(c) = content {
        a.extend_from_slice(&["-c", c]);
    }
    let r = cmsutil(dir, &a);
    assert_eq!(r.code, 0, "cmsutil -D {sig}: {}", r.stderr);
    let out = std::fs::read(dir.join("nss.out")).unwrap();
    let end = b"type=data; \n";
    let at = out
        .windows(end.len())
        .position(|w| w == end)
        .map(|i| i + end.len())
        .unwrap_or_else(|| panic!("cmsutil -D {sig}: {}", String::from_utf8_lossy(&out)));
    (
        String::from_utf8_lossy(&out[..at]).into_owned(),
        out[at..].to_vec(),
    )
}

#[test]
fn nss_cmsutil_verifies_what_cachet_signs_and_back() {
    require("cmsutil", NSS);
    require("certutil", NSS);
    require("pk12util", NSS);
    for kt in ["rsa-2048", "ecdsa-p256"] {
        let t = scratch();
        let dir = t.path();
        let a = setup(dir, "alice@example.com", "signing", kt);
        write(dir, "altered.bin", CONTENT.replace_bytes(b"100", b"900"));

        // Cachet signs, detached and opaque; cmsutil -D (usage 4, email signer) verifies.
        // The last is identified by subjectKeyIdentifier (`--ski`, SignerInfo version 3).
        for (name, opaque, ski) in [
            ("detached.p7s", false, false),
            ("opaque.p7m", true, false),
            ("ski.p7s", false, true),
        ] {
            sign_raw(dir, &a, "content.bin", name, opaque, ski);
            let content = (!opaque).then_some("content.bin");
            let (headers, body) = cmsutil_verify(dir, name, content);
            assert!(
                headers.contains("signer0.id=\"alice@example.com\"; signer0.status=GoodSignature;"),
                "{kt} {name}: {headers}"
            );
            assert_eq!(body, CONTENT, "{kt} {name}");
        }
        // The status line can say otherwise: altered detached content is a digest mismatch.
        let (headers, _) = cmsutil_verify(dir, "detached.p7s", Some("altered.bin"));
        assert!(
            headers.contains("signer0.status=DigestMismatch;"),
            "{kt}: {headers}"
        );

        // cmsutil signs (-G signing time, -P SMIMECapabilities; -Y NONE, because with its
        // default cmsutil looks for an encryption certificate of the signer and the signing
        // profile has none); Cachet verifies, opaque and detached (-T).
        for (name, detached) in [("nss-opaque.p7m", false), ("nss-detached.p7s", true)] {
            let mut args = vec![
                "-S",
                "-N",
                "alice@example.com",
                "-G",
                "-P",
                "-Y",
                "NONE",
                "-i",
                "content.bin",
                "-o",
                name,
            ];
            if detached {
                args.push("-T");
            }
            let r = cmsutil(dir, &args);
            assert_eq!(r.code, 0, "{kt} {name}: cmsutil -S: {}", r.stderr);
            let content = detached.then_some("content.bin");
            let r = verify_raw(dir, "der", name, content);
            assert_eq!(r.code, 0, "{kt} {name}: {} {}", r.stdout, r.stderr);
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(v["valid"], true, "{kt} {name}: {}", r.stdout);
            assert_eq!(
                std::fs::read(dir.join("verified.out")).unwrap(),
                CONTENT,
                "{kt} {name}"
            );
        }
        let r = verify_raw(dir, "der", "nss-detached.p7s", Some("altered.bin"));
        assert_eq!(r.code, 1, "{kt}: altered content verified: {}", r.stdout);
        assert!(r.stdout.contains("content-altered"), "{kt}: {}", r.stdout);
    }
}

/// RSA: Cachet's EnvelopedData (PKCS#1 v1.5, AES-256/128-CBC) opens with `cmsutil -D`, and
/// Cachet opens what `cmsutil -E` writes. NSS 3.87 reads neither AuthEnvelopedData nor
/// RSA-OAEP: pinned.
#[test]
fn nss_cmsutil_decrypts_what_cachet_encrypts_and_back_rsa() {
    require("cmsutil", NSS);
    require("certutil", NSS);
    require("pk12util", NSS);
    let t = scratch();
    let dir = t.path();
    let b = setup(dir, "bob@example.com", "encryption", "rsa-2048");
    let encrypt = |cipher: &str, oaep: bool| {
        let _ = std::fs::remove_file(dir.join("nss.out"));
        let mut args = vec![
            "smime",
            "encrypt",
            "--format",
            "der",
            "--recipient",
            &b.cert,
            "--cipher",
            cipher,
            "--in",
            "content.bin",
            "--out",
            "enc.p7m",
        ];
        if oaep {
            args.push("--oaep");
        }
        cachet(dir, &args).ok();
        cmsutil(dir, &["-D", "-i", "enc.p7m", "-o", "nss.out"])
    };
    for cipher in ["aes-256-cbc", "aes-128-cbc"] {
        let r = encrypt(cipher, false);
        assert_eq!(r.code, 0, "{cipher}: cmsutil -D: {}", r.stderr);
        assert_eq!(
            std::fs::read(dir.join("nss.out")).unwrap(),
            CONTENT,
            "{cipher}"
        );
    }
    // NSS 3.87 has no AuthEnvelopedData (RFC 5083): the content type is an unknown OID.
    for cipher in ["aes-256-gcm", "aes-128-gcm"] {
        let r = encrypt(cipher, false);
        assert_ne!(
            r.code, 0,
            "{cipher}: cmsutil -D now reads AuthEnvelopedData"
        );
        assert!(
            r.stderr.contains("SEC_ERROR_UNRECOGNIZED_OID"),
            "{cipher}: {}",
            r.stderr
        );
    }
    // Nor RSAES-OAEP key transport.
    let r = encrypt("aes-256-cbc", true);
    assert_ne!(r.code, 0, "cmsutil -D now reads RSA-OAEP");
    assert!(
        r.stderr.contains("SEC_ERROR_UNSUPPORTED_KEYALG"),
        "{}",
        r.stderr
    );

    // cmsutil -E (it chooses AES-128-CBC and has no option for the cipher).
    let r = cmsutil(
        dir,
        &[
            "-E",
            "-r",
            "bob@example.com",
            "-i",
            "content.bin",
            "-o",
            "nss.p7m",
        ],
    );
    assert_eq!(r.code, 0, "cmsutil -E: {}", r.stderr);
    let r = cachet(
        dir,
        &[
            "smime", "decrypt", "--format", "der", "--cert", &b.cert, "--key", &b.key, "--in",
            "nss.p7m", "--out", "dec.out",
        ],
    );
    assert_eq!(r.code, 0, "cachet decrypt: {}", r.stderr);
    assert_eq!(std::fs::read(dir.join("dec.out")).unwrap(), CONTENT);
    // The same message read back by NSS, so the comparison above means something.
    let r = cmsutil(dir, &["-D", "-i", "nss.p7m", "-o", "nss.out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(dir.join("nss.out")).unwrap(), CONTENT);
}

/// EC P-256: NSS 3.87 has no key agreement in CMS (RFC 5753). `cmsutil -D` refuses Cachet's
/// KeyAgreeRecipientInfo as it refuses OpenSSL's, and `cmsutil -E` cannot encrypt to an EC
/// certificate. Pinned both ways; Cachet and OpenSSL read Cachet's message.
#[test]
fn nss_cmsutil_cannot_do_ec_key_agreement() {
    require("cmsutil", NSS);
    require("certutil", NSS);
    require("pk12util", NSS);
    require("openssl", "apt-get install openssl");
    let t = scratch();
    let dir = t.path();
    let b = setup(dir, "bob@example.com", "encryption", "ecdsa-p256");
    for cipher in ["aes-256-cbc", "aes-256-gcm"] {
        cachet(
            dir,
            &[
                "smime",
                "encrypt",
                "--format",
                "der",
                "--recipient",
                &b.cert,
                "--cipher",
                cipher,
                "--in",
                "content.bin",
                "--out",
                "enc.p7m",
            ],
        )
        .ok();
        let r = cmsutil(dir, &["-D", "-i", "enc.p7m", "-o", "nss.out"]);
        assert_ne!(r.code, 0, "{cipher}: cmsutil -D now reads ECDH");
        let expected = if cipher.ends_with("gcm") {
            "SEC_ERROR_UNRECOGNIZED_OID"
        } else {
            "SEC_ERROR_BAD_DER"
        };
        assert!(r.stderr.contains(expected), "{cipher}: {}", r.stderr);
        let r = cachet(
            dir,
            &[
                "smime", "decrypt", "--format", "der", "--cert", &b.cert, "--key", &b.key, "--in",
                "enc.p7m", "--out", "dec.out",
            ],
        );
        assert_eq!(r.code, 0, "{cipher}: {}", r.stderr);
        assert_eq!(std::fs::read(dir.join("dec.out")).unwrap(), CONTENT);
    }
    // OpenSSL's ECDH EnvelopedData gets the same answer from NSS: the limit is NSS's.
    run_in(
        dir,
        "openssl",
        &[
            "cms",
            "-encrypt",
            "-aes-256-cbc",
            "-binary",
            "-in",
            "content.bin",
            "-outform",
            "DER",
            "-out",
            "openssl.p7m",
            "-recip",
            &b.cert,
            "-keyopt",
            "ecdh_kdf_md:sha256",
        ],
    )
    .ok();
    let r = cmsutil(dir, &["-D", "-i", "openssl.p7m", "-o", "nss.out"]);
    assert_ne!(r.code, 0, "cmsutil -D now reads OpenSSL's ECDH");
    assert!(r.stderr.contains("SEC_ERROR_BAD_DER"), "{}", r.stderr);
    let r = cmsutil(
        dir,
        &[
            "-E",
            "-r",
            "bob@example.com",
            "-i",
            "content.bin",
            "-o",
            "nss.p7m",
        ],
    );
    assert_ne!(r.code, 0, "cmsutil -E now encrypts to EC keys");
    assert!(
        r.stderr.contains("SEC_ERROR_INVALID_ALGORITHM"),
        "{}",
        r.stderr
    );
}

trait ReplaceBytes {
    fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceBytes for [u8] {
    fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let i = self
            .windows(from.len())
            .position(|w| w == from)
            .expect("pattern present");
        [&self[..i], to, &self[i + from.len()..]].concat()
    }
}
