//! What the escrow writes, read by the real peers: the archived envelope opens with
//! `openssl cms -decrypt` and the KRA key alone (the archive does not depend on Cachet), and
//! the PKCS#12 of recovered keys imports with `openssl pkcs12` and NSS `pk12util` and
//! decrypts mail that OpenSSL encrypted to the lost keys. A missing tool fails the test with
//! the command that installs it.

use cachet_crypto::{KeyType, PrivateKey};
use cachet_escrow::*;
use cachet_pki::ParsedCertificate;
use cachet_pki::Profile;
use cachet_pki::ephemeral::EphemeralPki;
use std::path::Path;
use std::process::{Command, Stdio};

const T0: u64 = 1_750_000_000;
const NOW: u64 = T0 + 3600;

fn require(tool: &str, install: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is required by this test and is not installed: run `{install}`"
    );
}

/// Runs `program args` in `dir`; panics with the output unless it exits 0.
fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let o = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        o.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    std::fs::write(dir.join(name), bytes).unwrap();
    name.to_owned()
}

fn pem(label: &str, der: &[u8]) -> String {
    cachet_pki::pem::encode(label, der)
}

#[test]
fn archive_and_recovered_pkcs12_interoperate_with_openssl_and_nss() {
    require("openssl", "apt-get install openssl");
    require("pk12util", "apt-get install libnss3-tools");
    require("certutil", "apt-get install libnss3-tools");
    let tmp = tempfile::Builder::new()
        .prefix("cachet-escrow-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let pki = EphemeralPki::new(KeyType::EcdsaP256, T0).unwrap();
    let enc = |email: &str, kt| pki.subscriber(email, Profile::Encryption, kt, 365).unwrap();
    let (kra_cert, kra_key) = enc("kra@example.com", KeyType::EcdsaP256);
    let recovery = RecoveryKey::new(&kra_cert, kra_key.pkcs8_der()).unwrap();

    // Alice's two encryption keys (RSA superseded, P-256 current), archived at issuance.
    let alice: Vec<(ParsedCertificate, PrivateKey)> = vec![
        enc("alice@example.com", KeyType::Rsa2048),
        enc("alice@example.com", KeyType::EcdsaP256),
    ];
    let archived: Vec<ArchivedKey> = alice
        .iter()
        .map(|(c, k)| archive(k, c, &kra_cert).unwrap())
        .collect();

    // OpenSSL encrypts a message to each of Alice's certificates.
    for (i, (cert, _)) in alice.iter().enumerate() {
        let c = write(
            dir,
            &format!("alice{i}.pem"),
            pem("CERTIFICATE", cert.der()).as_bytes(),
        );
        write(
            dir,
            &format!("msg{i}.txt"),
            format!("secret message {i}\n").as_bytes(),
        );
        run(
            dir,
            "openssl",
            &[
                "cms",
                "-encrypt",
                "-aes-256-cbc",
                "-in",
                &format!("msg{i}.txt"),
                "-out",
                &format!("msg{i}.p7m"),
                "-outform",
                "DER",
                &c,
            ],
        );
    }

    // The archive needs only the KRA key and OpenSSL to be read.
    write(
        dir,
        "kra.pem",
        pem("CERTIFICATE", kra_cert.der()).as_bytes(),
    );
    write(
        dir,
        "kra.key",
        pem("PRIVATE KEY", kra_key.pkcs8_der()).as_bytes(),
    );
    write(dir, "archived0.der", &archived[0].envelope);
    run(
        dir,
        "openssl",
        &[
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-in",
            "archived0.der",
            "-recip",
            "kra.pem",
            "-inkey",
            "kra.key",
            "-binary",
            "-out",
            "content.der",
        ],
    );
    let content = std::fs::read(dir.join("content.der")).unwrap();
    let pkcs8 = alice[0].1.pkcs8_der();
    assert!(
        content.windows(pkcs8.len()).any(|w| w == pkcs8),
        "the archived content holds the PKCS#8"
    );

    // Two of three officers approve; the request completes; the keys come back.
    let pw: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("officer passphrase number {i}").into_bytes())
        .collect();
    let names = ["ana", "ben", "chloe"];
    let specs: Vec<OfficerSpec<'_>> = names
        .iter()
        .zip(&pw)
        .map(|(name, passphrase)| OfficerSpec::Passphrase { name, passphrase })
        .collect();
    // The production floor (19 MiB, 2 passes): the weakest a real split may use.
    let s = split(
        &recovery,
        2,
        &specs,
        Argon2Cost::new(Argon2Cost::FLOOR).unwrap(),
    )
    .unwrap();
    let (mut req, secret) = RecoveryRequest::new(
        "r1",
        RequestPurpose::Recover {
            email: "alice@example.com".into(),
            serial: None,
        },
        "alice's laptop was stolen",
        &s.sealed_key,
        NOW,
        DEFAULT_REQUEST_TTL,
    )
    .unwrap();
    for i in [2, 0] {
        req.approve(&s.shares[i], OfficerCredential::Passphrase(&pw[i]), NOW)
            .unwrap();
    }
    let rebuilt = req.complete(&secret, &s.sealed_key, NOW).unwrap();
    let recovered = recover_keys(&rebuilt, &archived).unwrap();
    let chain: Vec<&[u8]> = vec![pki.issuing.der(), pki.root.der()];
    let p12 = to_pkcs12(
        &recovered,
        &chain,
        b"Recovered 2026!",
        Pkcs12Profile::Modern,
    )
    .unwrap();
    write(dir, "alice.p12", &p12);
    write(dir, "p12pw", b"Recovered 2026!");

    // OpenSSL reads the PKCS#12: both keys and all four certificates ...
    let out = run(
        dir,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "alice.p12",
            "-passin",
            "file:p12pw",
            "-nodes",
        ],
    );
    assert_eq!(out.matches("BEGIN PRIVATE KEY").count(), 2, "{out}");
    assert_eq!(out.matches("BEGIN CERTIFICATE").count(), 4, "{out}");
    // ... and each recovered key decrypts the mail OpenSSL encrypted to it.
    let keys: Vec<&str> = out
        .split_inclusive("-----END PRIVATE KEY-----\n")
        .filter_map(|chunk| {
            chunk
                .find("-----BEGIN PRIVATE KEY-----")
                .map(|at| &chunk[at..])
        })
        .collect();
    assert_eq!(keys.len(), 2);
    for (i, key) in keys.iter().enumerate() {
        let k = write(dir, &format!("recovered{i}.key"), key.as_bytes());
        let plain = run(
            dir,
            "openssl",
            &[
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-in",
                &format!("msg{i}.p7m"),
                "-recip",
                &format!("alice{i}.pem"),
                "-inkey",
                &k,
            ],
        );
        assert_eq!(plain.replace('\r', ""), format!("secret message {i}\n"));
    }

    // NSS imports it.
    std::fs::create_dir(dir.join("nss")).unwrap();
    write(dir, "empty", b"");
    run(
        dir,
        "certutil",
        &["-N", "-d", "sql:nss", "--empty-password"],
    );
    run(
        dir,
        "pk12util",
        &[
            "-i",
            "alice.p12",
            "-d",
            "sql:nss",
            "-w",
            "p12pw",
            "-k",
            "empty",
        ],
    );
    let listed = run(dir, "certutil", &["-K", "-d", "sql:nss", "-f", "empty"]);
    assert_eq!(
        listed.matches("alice@example.com").count(),
        2,
        "both keys imported: {listed}"
    );
}
