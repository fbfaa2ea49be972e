//! Raw CMS signing and encryption against Bouncy Castle 1.72 (Debian `libbcprov-java`,
//! `libbcpkix-java`, `libbcutil-java`), in both directions, with RSA-2048 and EC P-256 keys:
//! detached and opaque signatures; RSA PKCS#1 v1.5 and OAEP (SHA-256) key transport, ECDH
//! P-256 key agreement; AES-128/256-CBC and -GCM. The peer is `tests/bc/BcPeer.java`, which
//! the test compiles with `javac` against the Debian jars. The matrix is in docs/INTEROP.md.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Content with 8-bit bytes and CRLF, which must come back byte for byte.
const CONTENT: &[u8] = b"Dear Bob,\r\nthe figures: 100 EUR.\r\nGr\xc3\xbc\xc3\x9fe, Alice\r\n";
const ALTERED: &[u8] = b"Dear Bob,\r\nthe figures: 900 EUR.\r\nGr\xc3\xbc\xc3\x9fe, Alice\r\n";

const CIPHERS: [&str; 4] = ["aes-256-cbc", "aes-128-cbc", "aes-256-gcm", "aes-128-gcm"];

const JARS: [&str; 3] = [
    "/usr/share/java/bcprov.jar",
    "/usr/share/java/bcpkix.jar",
    "/usr/share/java/bcutil.jar",
];
const INSTALL: &str =
    "apt-get install default-jdk-headless libbcprov-java libbcpkix-java libbcutil-java";

/// BcPeer compiled into `dir/bc`; `run` calls it with `dir` as working directory.
struct BcPeer {
    dir: PathBuf,
    classpath: String,
}

impl BcPeer {
    fn compile(dir: &Path) -> BcPeer {
        require("javac", INSTALL);
        require("java", INSTALL);
        for jar in JARS {
            assert!(
                Path::new(jar).is_file(),
                "{jar} is required by this test and is not installed: run `{INSTALL}` (or the README's test command, which installs it)"
            );
        }
        let classes = dir.join("bc");
        std::fs::create_dir(&classes).unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bc/BcPeer.java");
        let jars = JARS.join(":");
        let r = run_in(
            dir,
            "javac",
            &[
                "-nowarn",
                "-cp",
                &jars,
                "-d",
                &classes.display().to_string(),
                &source.display().to_string(),
            ],
        );
        assert_eq!(r.code, 0, "javac BcPeer.java: {} {}", r.stdout, r.stderr);
        BcPeer {
            dir: dir.to_path_buf(),
            classpath: format!("{}:{jars}", classes.display()),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut a = vec!["-cp", &self.classpath, "BcPeer"];
        a.extend_from_slice(args);
        run_in(&self.dir, "java", &a)
    }
}

fn setup(dir: &Path) -> BcPeer {
    init_ca(dir, "ecdsa-p256");
    write_chain(dir);
    write(dir, "content.bin", CONTENT);
    write(dir, "altered.bin", ALTERED);
    BcPeer::compile(dir)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_default()
}

#[test]
fn bouncy_castle_verifies_what_cachet_signs_and_back() {
    let t = scratch();
    let dir = t.path();
    let bc = setup(dir);
    for kt in ["rsa-2048", "ecdsa-p256"] {
        let who = identity(issue(dir, "alice@example.com", "signing", kt, &[]));
        // Cachet signs, detached and opaque; BcPeer verifies signature and chain to the root.
        // The last is identified by subjectKeyIdentifier (`--ski`, SignerInfo version 3).
        for (name, opaque, ski) in [
            ("detached.p7s", false, false),
            ("opaque.p7m", true, false),
            ("ski.p7s", false, true),
        ] {
            sign_raw(dir, &who, "content.bin", name, opaque, ski);
            let _ = std::fs::remove_file(dir.join("bc.out"));
            let mut a = vec!["verify", "root.pem", name, "bc.out"];
            if !opaque {
                a.push("content.bin");
            }
            let r = bc.run(&a);
            assert_eq!(r.code, 0, "{kt} {name}: BcPeer verify: {}", r.stderr);
            assert_eq!(r.stdout, "VERIFIED CN=alice@example.com\n", "{kt} {name}");
            assert_eq!(read(dir, "bc.out"), CONTENT, "{kt} {name}");
        }
        // Bouncy Castle says no to altered content.
        let r = bc.run(&[
            "verify",
            "root.pem",
            "detached.p7s",
            "bc.out",
            "altered.bin",
        ]);
        assert_eq!(r.code, 1, "{kt}: BC accepted altered content: {}", r.stdout);
        assert!(r.stderr.contains("FAILED"), "{kt}: {}", r.stderr);

        // Bouncy Castle signs (SHA256withRSA / SHA256withECDSA, its default signed attributes);
        // Cachet verifies.
        // The last identifies the signer by subjectKeyIdentifier.
        for (name, mode, sid) in [
            ("bc-detached.p7s", "detached", "issuer-serial"),
            ("bc-opaque.p7m", "opaque", "issuer-serial"),
            ("bc-ski.p7s", "detached", "ski"),
        ] {
            let r = bc.run(&[
                "sign",
                &who.cert,
                &who.key,
                &who.chain,
                "content.bin",
                name,
                mode,
                sid,
            ]);
            assert_eq!(r.code, 0, "{kt} {name}: BcPeer sign: {}", r.stderr);
            let _ = std::fs::remove_file(dir.join("verified.out"));
            let mut a = vec![
                "smime",
                "verify",
                "--format",
                "der",
                "--in",
                name,
                "--trust",
                "root.pem",
                "--json",
                "--out",
                "verified.out",
            ];
            if mode == "detached" {
                a.extend_from_slice(&["--content", "content.bin"]);
            }
            let r = cachet(dir, &a);
            assert_eq!(r.code, 0, "{kt} {name}: {} {}", r.stdout, r.stderr);
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(v["valid"], true, "{kt} {name}: {}", r.stdout);
            assert_eq!(read(dir, "verified.out"), CONTENT, "{kt} {name}");
        }
        let r = cachet(
            dir,
            &[
                "smime",
                "verify",
                "--format",
                "der",
                "--in",
                "bc-detached.p7s",
                "--content",
                "altered.bin",
                "--trust",
                "root.pem",
            ],
        );
        assert_eq!(r.code, 1, "{kt}: altered content verified: {}", r.stdout);
        assert!(r.stdout.contains("content-altered"), "{kt}: {}", r.stdout);
    }
}

#[test]
fn bouncy_castle_decrypts_what_cachet_encrypts_and_back() {
    let t = scratch();
    let dir = t.path();
    let bc = setup(dir);
    let rsa = identity(issue(dir, "bob@example.com", "encryption", "rsa-2048", &[]));
    let p256 = identity(issue(
        dir,
        "bob@example.com",
        "encryption",
        "ecdsa-p256",
        &[],
    ));
    let cases: [(&Identity, bool, &str); 3] = [
        (&rsa, false, "RSA PKCS#1 v1.5"),
        (&rsa, true, "RSA-OAEP"),
        (&p256, false, "ECDH P-256"),
    ];
    for (who, oaep, what) in cases {
        for cipher in CIPHERS {
            let label = format!("{what} {cipher}");
            // Cachet encrypts; Bouncy Castle decrypts exactly.
            let mut args = vec![
                "smime",
                "encrypt",
                "--format",
                "der",
                "--recipient",
                &who.cert,
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
            let _ = std::fs::remove_file(dir.join("bc.out"));
            let r = bc.run(&["decrypt", &who.cert, &who.key, "enc.p7m", "bc.out"]);
            assert_eq!(r.code, 0, "{label}: BcPeer decrypt: {}", r.stderr);
            assert_eq!(read(dir, "bc.out"), CONTENT, "{label}");

            // Bouncy Castle encrypts (OAEP with SHA-256 and MGF1-SHA-256; ECDH with the
            // SHA-256 X9.63 KDF); Cachet decrypts exactly.
            let mut a = vec!["encrypt", &who.cert, "content.bin", "bc.p7m", cipher];
            if oaep {
                a.push("oaep");
            }
            let r = bc.run(&a);
            assert_eq!(r.code, 0, "{label}: BcPeer encrypt: {}", r.stderr);
            let _ = std::fs::remove_file(dir.join("dec.out"));
            let r = cachet(
                dir,
                &[
                    "smime", "decrypt", "--format", "der", "--cert", &who.cert, "--key", &who.key,
                    "--in", "bc.p7m", "--out", "dec.out",
                ],
            );
            assert_eq!(r.code, 0, "{label}: cachet decrypt: {}", r.stderr);
            assert_eq!(read(dir, "dec.out"), CONTENT, "{label}");
        }
    }
    // Bouncy Castle's answer can be no: a message for the RSA key, opened with the EC key.
    cachet(
        dir,
        &[
            "smime",
            "encrypt",
            "--format",
            "der",
            "--recipient",
            &rsa.cert,
            "--in",
            "content.bin",
            "--out",
            "rsa-only.p7m",
        ],
    )
    .ok();
    let r = bc.run(&["decrypt", &p256.cert, &p256.key, "rsa-only.p7m", "bc.out"]);
    assert_eq!(r.code, 1, "BC decrypted a message not for it");
    assert!(r.stderr.contains("no recipient info"), "{}", r.stderr);
}
