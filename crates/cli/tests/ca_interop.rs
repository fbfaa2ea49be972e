//! What Cachet's CA issues, checked by the real peers: OpenSSL (`verify -purpose`, `crl`,
//! `verify -crl_check`), NSS `certutil -V`, DigiCert's `pkilint`, and PKCS#12 import with
//! `openssl pkcs12`, NSS `pk12util` and GnuPG `gpgsm`.

mod common;
use common::*;
use std::path::Path;

const PROFILES: [&str; 3] = ["signing", "encryption", "dual"];
const KEY_TYPES: [&str; 7] = [
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
    "ecdsa-p256",
    "ecdsa-p384",
    "ed25519",
    "x25519",
];

fn allowed(profile: &str, kt: &str) -> bool {
    match profile {
        "signing" => kt != "x25519",
        "encryption" => kt != "ed25519",
        _ => kt != "x25519" && kt != "ed25519",
    }
}

fn openssl_verify(dir: &Path, purpose: &str, cert: &Path) -> (bool, String) {
    let r = run_in(
        dir,
        "openssl",
        &[
            "verify",
            "-purpose",
            purpose,
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            &cert.display().to_string(),
        ],
    );
    (r.code == 0, format!("{}{}", r.stdout, r.stderr))
}

/// Every profile × key type against `openssl verify -purpose`. OpenSSL 3.0's smimeencrypt
/// purpose demands keyEncipherment, so certificates whose encryption key is used by key
/// agreement (EC, X25519: keyUsage keyAgreement, as the S/MIME BR require) fail that purpose
/// check by OpenSSL's design; the test pins that behaviour.
#[test]
fn openssl_verify_accepts_each_allowed_purpose_and_rejects_the_other() {
    require("openssl", "apt-get install openssl");
    for ca_key in ["ecdsa-p384", "rsa-2048"] {
        let t = scratch();
        let dir = t.path();
        init_ca(dir, ca_key);
        write_chain(dir);
        for profile in PROFILES {
            for kt in KEY_TYPES {
                let email = format!("{profile}.{kt}@example.com");
                if !allowed(profile, kt) {
                    let r = cachet(
                        dir,
                        &[
                            "cert",
                            "issue",
                            "--email",
                            &email,
                            "--profile",
                            profile,
                            "--key-type",
                            kt,
                            "--out-dir",
                            "x",
                        ],
                    );
                    assert_eq!(r.code, 2, "{profile} {kt} must be refused");
                    continue;
                }
                let out = issue(dir, &email, profile, kt, &[]);
                let cert = out.join("cert.pem");
                let signs = profile != "encryption";
                let encrypts_by_transport = profile != "signing" && kt.starts_with("rsa");
                let (ok, msg) = openssl_verify(dir, "smimesign", &cert);
                assert_eq!(ok, signs, "CA {ca_key}, {profile} {kt} smimesign: {msg}");
                let (ok, msg) = openssl_verify(dir, "smimeencrypt", &cert);
                assert_eq!(
                    ok, encrypts_by_transport,
                    "CA {ca_key}, {profile} {kt} smimeencrypt: {msg}"
                );
                if !ok {
                    assert!(msg.contains("unsuitable certificate purpose"), "{msg}");
                }
                // Any purpose: the chain itself is always good.
                let (ok, msg) = openssl_verify(dir, "any", &cert);
                assert!(ok, "{msg}");
            }
        }
    }
}

/// NSS `certutil -V -u S` (email signer) and `-u R` (email recipient) after the root is
/// imported as trusted. NSS 3.87 (Debian 12) cannot import Ed25519 or X25519 certificates
/// at all, so those are checked with OpenSSL only (docs/INTEROP.md).
#[test]
fn nss_certutil_validates_signers_and_recipients() {
    require("certutil", "apt-get install libnss3-tools");
    let t = scratch();
    let dir = t.path();
    init_ca(dir, "ecdsa-p256");
    write_chain(dir);
    std::fs::create_dir(dir.join("nss")).unwrap();
    run_in(
        dir,
        "certutil",
        &["-N", "-d", "sql:nss", "--empty-password"],
    )
    .ok();
    run_in(
        dir,
        "certutil",
        &[
            "-A", "-d", "sql:nss", "-n", "root", "-t", "C,C,C", "-i", "root.pem",
        ],
    )
    .ok();
    run_in(
        dir,
        "certutil",
        &[
            "-A",
            "-d",
            "sql:nss",
            "-n",
            "issuing",
            "-t",
            ",,",
            "-i",
            "issuing.pem",
        ],
    )
    .ok();
    for profile in PROFILES {
        for kt in ["rsa-2048", "rsa-3072", "ecdsa-p256", "ecdsa-p384"] {
            let out = issue(
                dir,
                &format!("{profile}.{kt}@example.com"),
                profile,
                kt,
                &[],
            );
            let nick = format!("{profile}-{kt}");
            run_in(
                dir,
                "certutil",
                &[
                    "-A",
                    "-d",
                    "sql:nss",
                    "-n",
                    &nick,
                    "-t",
                    ",,",
                    "-i",
                    &out.join("cert.pem").display().to_string(),
                ],
            )
            .ok();
            let check = |usage: &str| {
                let r = run_in(
                    dir,
                    "certutil",
                    &["-V", "-d", "sql:nss", "-n", &nick, "-u", usage],
                );
                (
                    r.code == 0 && r.stdout.contains("certificate is valid"),
                    format!("{}{}", r.stdout, r.stderr),
                )
            };
            if profile != "encryption" {
                let (ok, msg) = check("S");
                assert!(ok, "{profile} {kt} -u S: {msg}");
            } else {
                let (ok, msg) = check("S");
                assert!(
                    !ok && msg.contains("key usage"),
                    "{profile} {kt} must not be a valid signer: {msg}"
                );
            }
            if profile != "signing" {
                let (ok, msg) = check("R");
                assert!(ok, "{profile} {kt} -u R: {msg}");
            } else if kt.starts_with("rsa") {
                let (ok, msg) = check("R");
                assert!(
                    !ok && msg.contains("key usage"),
                    "{profile} {kt} must not be a valid recipient: {msg}"
                );
            }
        }
    }
}

/// DigiCert's pkilint, S/MIME BR linter, with WARNING as the lowest severity shown: no
/// finding at all for any certificate that claims the BR. X25519 is not a BR key type
/// (§7.1.3.1): Cachet issues it without the BR policy, which this test also checks.
#[test]
fn pkilint_finds_nothing_in_any_br_certificate() {
    require("lint_cabf_smime_cert", "pip install pkilint");
    let t = scratch();
    let dir = t.path();
    init_ca(dir, "ecdsa-p256");
    // An address too long for a commonName (the subject is then empty, SAN critical).
    let long = format!("{}@example.com", "x".repeat(60));
    let out = issue(dir, &long, "signing", "ecdsa-p256", &[]);
    let r = run_in(
        dir,
        "lint_cabf_smime_cert",
        &[
            "lint",
            "-d",
            "-s",
            "WARNING",
            &out.join("cert.pem").display().to_string(),
        ],
    );
    assert_eq!(
        (r.code, r.stdout.trim(), r.stderr.trim()),
        (0, "", ""),
        "pkilint on a 72-character address"
    );
    for profile in PROFILES {
        for kt in KEY_TYPES {
            if !allowed(profile, kt) {
                continue;
            }
            let out = issue(
                dir,
                &format!("{profile}.{kt}@example.com"),
                profile,
                kt,
                if profile == "encryption" {
                    &[]
                } else {
                    &["--non-repudiation"]
                },
            );
            let cert = out.join("cert.pem").display().to_string();
            let text = run_in(dir, "openssl", &["x509", "-in", &cert, "-noout", "-text"])
                .ok()
                .stdout;
            if kt == "x25519" {
                assert!(
                    !text.contains("2.23.140.1.5.1.3"),
                    "X25519 must not claim the S/MIME BR: {text}"
                );
                continue;
            }
            assert!(text.contains("2.23.140.1.5.1.3"), "{text}");
            let r = run_in(
                dir,
                "lint_cabf_smime_cert",
                &["lint", "-d", "-s", "WARNING", &cert],
            );
            assert_eq!(
                (r.code, r.stdout.trim(), r.stderr.trim()),
                (0, "", ""),
                "pkilint on {profile} {kt}"
            );
        }
    }
}

/// A revoked certificate appears in the CRL with its reason; `openssl crl -verify` accepts
/// the CRL; `openssl verify -crl_check` rejects the revoked certificate and accepts a good one.
#[test]
fn crl_is_accepted_by_openssl_and_enforces_revocation() {
    require("openssl", "apt-get install openssl");
    let t = scratch();
    let dir = t.path();
    init_ca(dir, "rsa-2048");
    write_chain(dir);
    let good = issue(dir, "good@example.com", "signing", "ecdsa-p256", &[]);
    let bad = issue(dir, "bad@example.com", "signing", "rsa-2048", &[]);
    let serial = serial_of(dir, &bad.join("cert.pem"));
    cachet(
        dir,
        &["cert", "revoke", &serial, "--reason", "affiliation-changed"],
    )
    .ok();
    cachet(dir, &["crl", "--out", "issuing.crl"]).ok();
    let r = run_in(
        dir,
        "openssl",
        &[
            "crl",
            "-in",
            "issuing.crl",
            "-CAfile",
            "issuing.pem",
            "-noout",
            "-text",
            "-verify",
        ],
    )
    .ok();
    assert!(
        r.stderr.contains("verify OK") || r.stdout.contains("verify OK"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.contains("Affiliation Changed"), "{}", r.stdout);
    assert!(
        r.stdout.to_ascii_lowercase().contains(&serial),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Next Update"), "{}", r.stdout);
    let check = |cert: &Path| {
        run_in(
            dir,
            "openssl",
            &[
                "verify",
                "-crl_check",
                "-CRLfile",
                "issuing.crl",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
                &cert.join("cert.pem").display().to_string(),
            ],
        )
    };
    let r = check(&bad);
    assert_ne!(r.code, 0);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("certificate revoked"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    check(&good).ok();

    // pkilint's CRL linter, with the S/MIME BR profile: nothing at all.
    require("lint_crl", "pip install pkilint");
    run_in(
        dir,
        "openssl",
        &[
            "crl",
            "-in",
            "issuing.crl",
            "-outform",
            "DER",
            "-out",
            "issuing.der",
        ],
    )
    .ok();
    let r = run_in(
        dir,
        "lint_crl",
        &[
            "lint",
            "-t",
            "CRL",
            "-p",
            "BR",
            "-s",
            "WARNING",
            "issuing.der",
        ],
    );
    assert_eq!(
        (r.code, r.stdout.trim(), r.stderr.trim()),
        (0, "", ""),
        "pkilint on the issuing CA's CRL"
    );

    // The root's CRL covers the issuing CA: the whole chain checks with -crl_check_all.
    cachet(dir, &["crl", "--ca", "root", "--out", "root.crl"]).ok();
    let r = run_in(
        dir,
        "lint_crl",
        &["lint", "-t", "ARL", "-p", "BR", "-s", "WARNING", "root.crl"],
    );
    assert_eq!(
        (r.code, r.stdout.trim(), r.stderr.trim()),
        (0, "", ""),
        "pkilint on the root's CRL (an ARL)"
    );
    run_in(
        dir,
        "openssl",
        &[
            "crl", "-in", "root.crl", "-CAfile", "root.pem", "-noout", "-verify",
        ],
    )
    .ok();
    run_in(
        dir,
        "openssl",
        &[
            "verify",
            "-crl_check_all",
            "-CRLfile",
            "issuing.crl",
            "-CRLfile",
            "root.crl",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            &good.join("cert.pem").display().to_string(),
        ],
    )
    .ok();
}

/// `bundle.p12` from `cert issue --p12-password-file` imports with `openssl pkcs12` (every
/// key type) and NSS `pk12util` (RSA and ECDSA; NSS 3.87 imports no Ed25519/X25519 keys);
/// with `--p12-compat`, RSA bundles also import with GnuPG 2.2's `gpgsm --import`.
/// `cachet pki p12-info` reads them back and refuses a wrong password.
#[test]
fn pkcs12_bundles_import_into_openssl_nss_and_gpgsm() {
    require("openssl", "apt-get install openssl");
    require("pk12util", "apt-get install libnss3-tools");
    require("gpgsm", "apt-get install gpgsm");
    let t = scratch();
    let dir = t.path();
    init_ca(dir, "ecdsa-p256");
    let pw = write(dir, "pw", "Pässwörd 123\n");
    write(dir, "wrong", "not the password\n");
    std::fs::create_dir(dir.join("nss")).unwrap();
    run_in(
        dir,
        "certutil",
        &["-N", "-d", "sql:nss", "--empty-password"],
    )
    .ok();
    write(dir, "empty", "");
    for (profile, kt) in [
        ("signing", "rsa-2048"),
        ("encryption", "rsa-3072"),
        ("dual", "ecdsa-p256"),
        ("signing", "ecdsa-p384"),
        ("signing", "ed25519"),
        ("encryption", "x25519"),
    ] {
        let email = format!("{profile}.{kt}@example.com");
        let out = issue(dir, &email, profile, kt, &["--p12-password-file", &pw]);
        let p12 = out.join("bundle.p12").display().to_string();
        // OpenSSL: MAC verifies, the key and all three certificates come out, the key matches.
        let r = run_in(
            dir,
            "openssl",
            &[
                "pkcs12",
                "-in",
                &p12,
                "-passin",
                &format!("file:{pw}"),
                "-nodes",
            ],
        )
        .ok();
        assert_eq!(
            r.stdout.matches("BEGIN CERTIFICATE").count(),
            3,
            "{kt}: {}",
            r.stdout
        );
        assert_eq!(r.stdout.matches("BEGIN PRIVATE KEY").count(), 1, "{kt}");
        let key_pub = {
            let k = write(dir, "extracted.pem", &r.stdout);
            run_in(dir, "openssl", &["pkey", "-in", &k, "-pubout"])
                .ok()
                .stdout
        };
        let cert_pub = run_in(
            dir,
            "openssl",
            &[
                "x509",
                "-in",
                &out.join("cert.pem").display().to_string(),
                "-noout",
                "-pubkey",
            ],
        )
        .ok()
        .stdout;
        assert_eq!(
            key_pub, cert_pub,
            "{kt}: the bundled key belongs to the certificate"
        );
        // Cachet reads its own bundle, and refuses a wrong password.
        let info = cachet(
            dir,
            &[
                "pki",
                "p12-info",
                "--in",
                &p12,
                "--password-file",
                &pw,
                "--json",
            ],
        )
        .ok();
        let v: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
        assert_eq!(v["keys"][0]["key_type"], kt);
        assert_eq!(v["keys"][0]["certificate_matches_key"], true);
        assert_eq!(v["certificates"].as_array().unwrap().len(), 3);
        let r = cachet(
            dir,
            &["pki", "p12-info", "--in", &p12, "--password-file", "wrong"],
        );
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("wrong password"), "{}", r.stderr);
        // NSS.
        if kt.starts_with("rsa") || kt.starts_with("ecdsa") {
            let r = run_in(
                dir,
                "pk12util",
                &["-i", &p12, "-d", "sql:nss", "-w", &pw, "-k", "empty"],
            );
            assert_eq!(r.code, 0, "pk12util {kt}: {} {}", r.stdout, r.stderr);
            let keys = run_in(dir, "certutil", &["-K", "-d", "sql:nss", "-f", "empty"])
                .ok()
                .stdout;
            assert!(keys.contains(&email), "{kt}: {keys}");
        }
    }

    // gpgsm 2.2 reads PBES2 only with AES-128 and PBKDF2's default PRF: --p12-compat.
    let out = issue(
        dir,
        "gpg.user@example.com",
        "dual",
        "rsa-2048",
        &["--p12-password-file", &pw, "--p12-compat"],
    );
    let p12 = out.join("bundle.p12").display().to_string();
    let home = dir.join("gnupg");
    std::fs::create_dir(&home).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::write(home.join("gpg-agent.conf"), "allow-loopback-pinentry\n").unwrap();
    std::fs::write(home.join("gpgsm.conf"), "disable-crl-checks\n").unwrap();
    // gpgsm reads the PKCS#12 password, then the new protection passphrase twice, from fd 0.
    let gpgsm = |args: &[&str]| {
        use std::io::Write;
        let mut child = std::process::Command::new("gpgsm")
            .env("GNUPGHOME", &home)
            .current_dir(dir)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run gpgsm");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all("Pässwörd 123\n".repeat(3).as_bytes());
        }
        let o = child.wait_with_output().expect("gpgsm output");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, _, err) = gpgsm(&[
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase-fd",
        "0",
        "--import",
        &p12,
    ]);
    let (_, secret, _) = gpgsm(&["--list-secret-keys"]);
    let _ = std::process::Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "all"])
        .status();
    assert_eq!(code, 0, "gpgsm --import: {err}");
    assert!(err.contains("secret keys imported: 1"), "{err}");
    assert!(secret.contains("gpg.user@example.com"), "{secret}");
}
