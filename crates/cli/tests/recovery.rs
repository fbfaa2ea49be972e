//! Key archive and M-of-N recovery (issue #5) as a new user runs it, with the real binary and
//! the real peers: `cachet init` with officers, encryption certificates whose keys are
//! archived at issuance, `openssl cms -encrypt` to them, the key files deleted, a request, M
//! approvals, `complete`, and `openssl cms -decrypt` / `pk12util` with the recovered
//! PKCS#12. And every refusal: too few approvals, a wrong passphrase, a repeated approval, an
//! expired request, the dual profile, a CSR for an encryption certificate, a tampered archive
//! record, an edited audit record; plus a scan of the data directory for the private keys and
//! the rotation of the officers.

mod common;
use common::*;
use std::path::{Path, PathBuf};

const NSS: &str = "apt-get install libnss3-tools";
const OPENSSL: &str = "apt-get install openssl";

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// Writes a passphrase file for each officer; returns `--officer NAME=FILE` arguments.
fn officers(dir: &Path, names: &[&str]) -> Vec<String> {
    let mut args = Vec::new();
    for n in names {
        let f = write(
            dir,
            &format!("{n}.pass"),
            format!("passphrase of {n}, long enough\n"),
        );
        args.push("--officer".to_string());
        args.push(format!("{n}={f}"));
    }
    args
}

fn init_with(dir: &Path, extra: &[String]) -> Run {
    let mut args: Vec<&str> = vec![
        "init",
        "--domain",
        "example.com",
        "--org",
        "Example Org",
        "--base-url",
        "http://pki.example.com",
    ];
    args.extend(extra.iter().map(String::as_str));
    cachet(dir, &args)
}

fn request(dir: &Path, email: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "recovery",
        "request",
        "--email",
        email,
        "--reason",
        "laptop stolen, old mail needed",
        "--json",
    ];
    args.extend_from_slice(extra);
    let v = json(&cachet(dir, &args).ok());
    v["id"].as_str().unwrap().to_string()
}

fn approve(dir: &Path, id: &str, officer: &str) -> Run {
    let pass = dir.join(format!("{officer}.pass")).display().to_string();
    cachet(
        dir,
        &[
            "recovery",
            "approve",
            id,
            "--officer",
            officer,
            "--passphrase-file",
            &pass,
        ],
    )
}

fn complete(dir: &Path, id: &str, out: &str) -> Run {
    let pw = write(dir, "p12.pw", "recovered-p12-password\n");
    cachet(
        dir,
        &[
            "recovery",
            "complete",
            id,
            "--out",
            out,
            "--password-file",
            &pw,
        ],
    )
}

fn audit_actions(dir: &Path) -> Vec<String> {
    let v = json(&cachet(dir, &["audit", "list", "--json"]).ok());
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect()
}

fn sql(dir: &Path, script: &str) -> Run {
    let db = dir.join("cachet-data/cachet.db").display().to_string();
    let code = format!(
        "import sqlite3, sys\nc = sqlite3.connect({db:?})\n{script}\nc.commit()\nc.close()\n"
    );
    run_in(dir, "python3", &["-c", &code])
}

/// The hex block under `label:` in `openssl pkey -text` output, as bytes without the
/// leading zero octet.
fn hex_block(text: &str, label: &str) -> Vec<u8> {
    let mut lines = text.lines().skip_while(|l| l.trim() != label).skip(1);
    let mut hex = String::new();
    for l in lines.by_ref() {
        if !l.starts_with(' ') {
            break;
        }
        hex.extend(l.trim().split(':').filter(|s| !s.is_empty()));
    }
    assert!(!hex.is_empty(), "no {label} in {text}");
    let mut bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    if bytes.first() == Some(&0) {
        bytes.remove(0);
    }
    bytes
}

/// The secrets of the key in `key_pem` that must never be found in the data directory: its
/// PKCS#8 DER and its raw private values (the EC scalar; RSA's d, p and q).
fn secrets_of(dir: &Path, key_pem: &Path) -> Vec<(String, Vec<u8>)> {
    let k = key_pem.display().to_string();
    let der = dir.join(format!(
        "{}.der",
        key_pem.file_name().unwrap().to_string_lossy()
    ));
    let ders = der.display().to_string();
    run_in(
        dir,
        "openssl",
        &["pkey", "-in", &k, "-outform", "DER", "-out", &ders],
    )
    .ok();
    let pkcs8 = std::fs::read(&der).unwrap();
    std::fs::remove_file(&der).unwrap();
    assert_eq!(pkcs8[0], 0x30);
    let text = run_in(dir, "openssl", &["pkey", "-in", &k, "-text", "-noout"])
        .ok()
        .stdout;
    let mut out = vec![("PKCS#8".to_string(), pkcs8)];
    if text.contains("priv:") {
        out.push(("EC private scalar".into(), hex_block(&text, "priv:")));
    } else {
        for l in ["privateExponent:", "prime1:", "prime2:"] {
            out.push((format!("RSA {l}"), hex_block(&text, l)));
        }
    }
    out
}

/// The first secret found (whole, or its first 16 bytes) in any file under `dir`.
fn find_secret(dir: &Path, secrets: &[(String, Vec<u8>)]) -> Option<String> {
    for f in walk(dir) {
        let bytes = std::fs::read(&f).unwrap();
        for (what, s) in secrets {
            assert!(s.len() >= 24, "{what} too short to search for");
            // A partial copy (the first 16 bytes) would be as bad as a whole one.
            if bytes.windows(16).any(|w| w == &s[..16]) {
                return Some(format!("{what} in {}", f.display()));
            }
        }
    }
    None
}

fn assert_nowhere_in(data: &Path, secrets: &[(String, Vec<u8>)]) {
    assert!(walk(data).iter().any(|f| f.ends_with("cachet.db")));
    if let Some(found) = find_secret(data, secrets) {
        panic!("private key material in plaintext: {found}");
    }
    // The scan finds what it looks for: a control copy of each secret inside other bytes.
    let control = tempfile::tempdir().unwrap();
    for (i, (_, s)) in secrets.iter().enumerate() {
        let mut bytes = b"padding".to_vec();
        bytes.extend_from_slice(s);
        std::fs::write(control.path().join(format!("c{i}")), &bytes).unwrap();
        assert!(find_secret(control.path(), &secrets[i..=i]).is_some());
    }
}

/// PEM blocks of `label` in `text`.
fn pem_blocks(text: &str, label: &str) -> Vec<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&begin) {
        let j = rest[i..].find(&end).unwrap() + i + end.len();
        out.push(format!("{}\n", &rest[i..j]));
        rest = &rest[j..];
    }
    out
}

fn public_key_of(dir: &Path, file: &str, cert: bool) -> String {
    let args: Vec<&str> = if cert {
        vec!["x509", "-in", file, "-noout", "-pubkey"]
    } else {
        vec!["pkey", "-in", file, "-pubout"]
    };
    run_in(dir, "openssl", &args).ok().stdout
}

#[test]
fn acceptance_archive_encrypt_lose_the_key_recover_with_2_of_3_and_decrypt() {
    require("openssl", OPENSSL);
    require("python3", "apt-get install python3");
    require("certutil", NSS);
    require("pk12util", NSS);
    let t = scratch();
    let d = t.path();
    let mut args = officers(d, &["alice", "bob", "carol"]);
    args.extend(["--threshold".into(), "2".into()]);
    let r = init_with(d, &args).ok();
    assert!(r.stdout.contains("2 of 3 officers"), "{}", r.stdout);
    assert!(
        !d.join("cachet-data/officers").exists(),
        "no generated passphrase with --officer"
    );
    let v = json(&cachet(d, &["recovery", "officers", "--json"]).ok());
    assert_eq!(v["threshold"], 2);
    assert_eq!(v["officers"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["kra_certificate"]["subject"],
        "CN=Example Org Key Recovery Agent,O=Example Org"
    );

    // Two encryption certificates (RSA and P-256) and a signing certificate for the user.
    let rsa = issue(d, "user@example.com", "encryption", "rsa-2048", &[]);
    let p256 = issue(d, "user@example.com", "encryption", "ecdsa-p256", &[]);
    let signing = issue(d, "user@example.com", "signing", "ecdsa-p256", &[]);
    let signing_serial = serial_of(d, &signing.join("cert.pem"));
    let mut serials = Vec::new();
    let mut secrets = Vec::new();
    for (name, out) in [("rsa", &rsa), ("p256", &p256)] {
        serials.push(serial_of(d, &out.join("cert.pem")));
        let plain = write(
            d,
            &format!("{name}.txt"),
            format!("Quarterly figures for {name}.\n"),
        );
        let cert = out.join("cert.pem").display().to_string();
        run_in(
            d,
            "openssl",
            &[
                "cms",
                "-encrypt",
                "-binary",
                "-aes-256-cbc",
                "-in",
                &plain,
                "-out",
                &format!("{name}.cms"),
                "-outform",
                "DER",
                &cert,
            ],
        )
        .ok();
        secrets.extend(secrets_of(d, &out.join("key.pem")));
        // The user loses the key.
        std::fs::remove_file(out.join("key.pem")).unwrap();
    }
    // The archive holds the two encryption keys and never the signing key.
    let r = sql(
        d,
        "print(sorted(r[0] for r in c.execute('SELECT serial FROM archived_keys')))",
    )
    .ok();
    let mut want = serials.clone();
    want.sort();
    assert_eq!(r.stdout.trim(), format!("{want:?}").replace('"', "'"));
    assert!(!r.stdout.contains(&signing_serial));
    // No private key in plaintext anywhere in the data directory.
    assert_nowhere_in(&d.join("cachet-data"), &secrets);

    let id = request(d, "user@example.com", &[]);
    let r = approve(d, &id, "alice").ok();
    assert!(r.stdout.contains("1 of 2"), "{}", r.stdout);
    // One officer cannot approve twice.
    let r = approve(d, &id, "alice");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("already approved"), "{}", r.stderr);
    // M−1 approvals: complete is refused, nothing is written.
    let r = complete(d, &id, "user.p12");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("1 of the 2 approvals"), "{}", r.stderr);
    assert!(!d.join("user.p12").exists());
    approve(d, &id, "bob").ok();
    let r = complete(d, &id, "user.p12").ok();
    assert!(
        r.stdout.contains("Recovered 2 archived key(s)"),
        "{}",
        r.stdout
    );
    assert_eq!(mode(&d.join("user.p12")), 0o600);
    // A completed request cannot be used again, and the output is never overwritten.
    let r = complete(d, &id, "again.p12");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("completed"), "{}", r.stderr);
    let r = complete(d, &id, "user.p12");
    assert_eq!(r.code, 2, "{}", r.stderr);

    // OpenSSL reads the PKCS#12 and decrypts both messages with the recovered keys.
    let pw = d.join("p12.pw").display().to_string();
    let pem = run_in(
        d,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "user.p12",
            "-nodes",
            "-passin",
            &format!("file:{pw}"),
        ],
    )
    .ok()
    .stdout;
    let keys = pem_blocks(&pem, "PRIVATE KEY");
    assert_eq!(keys.len(), 2, "{pem}");
    assert_eq!(
        pem_blocks(&pem, "CERTIFICATE").len(),
        4,
        "two certificates and the chain"
    );
    for (name, out) in [("rsa", &rsa), ("p256", &p256)] {
        let cert = out.join("cert.pem").display().to_string();
        let want = public_key_of(d, &cert, true);
        let key = keys
            .iter()
            .enumerate()
            .find_map(|(i, k)| {
                let f = write(d, &format!("recovered-{name}-{i}.pem"), k);
                (public_key_of(d, &f, false) == want).then_some(f)
            })
            .unwrap_or_else(|| panic!("no recovered key for the {name} certificate"));
        let r = run_in(
            d,
            "openssl",
            &[
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-in",
                &format!("{name}.cms"),
                "-recip",
                &cert,
                "-inkey",
                &key,
            ],
        )
        .ok();
        assert_eq!(r.stdout, format!("Quarterly figures for {name}.\n"));
    }

    // NSS imports it into a fresh database.
    std::fs::create_dir(d.join("nssdb")).unwrap();
    run_in(
        d,
        "certutil",
        &["-N", "--empty-password", "-d", "sql:nssdb"],
    )
    .ok();
    let r = run_in(
        d,
        "pk12util",
        &["-i", "user.p12", "-d", "sql:nssdb", "-w", &pw],
    );
    assert_eq!(r.code, 0, "pk12util: {} {}", r.stdout, r.stderr);
    let r = run_in(d, "certutil", &["-K", "-d", "sql:nssdb"]).ok();
    assert_eq!(
        r.stdout.matches("user@example.com").count(),
        2,
        "{}",
        r.stdout
    );

    // The request is closed, its secret gone; the audit log tells the story and is intact.
    let v = json(&cachet(d, &["recovery", "list", "--json"]).ok());
    assert_eq!(v[0]["state"], "completed");
    assert_eq!(v[0]["approvals"].as_array().unwrap().len(), 2);
    let r = sql(
        d,
        "print(c.execute('SELECT COUNT(*) FROM recovery_requests WHERE sealed_secret IS NOT NULL').fetchone()[0])",
    )
    .ok();
    assert_eq!(r.stdout.trim(), "0");
    let actions = audit_actions(d);
    for a in [
        "recovery-initialised",
        "key-archived",
        "recovery-requested",
        "recovery-approved",
        "recovery-approval-refused",
        "recovery-refused",
        "recovery-completed",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    assert_eq!(actions.iter().filter(|a| *a == "key-archived").count(), 2);
    let r = cachet(d, &["audit", "verify"]).ok();
    assert!(r.stdout.contains("intact"), "{}", r.stdout);
    assert_nowhere_in(&d.join("cachet-data"), &secrets);
}

#[test]
fn default_officer_wrong_passphrase_and_expired_request() {
    require("openssl", OPENSSL);
    let t = scratch();
    let d = t.path();
    let r = init_with(d, &[]).ok();
    assert!(r.stderr.contains("MOVE IT OFFLINE"), "{}", r.stderr);
    let file = d.join("cachet-data/officers/admin.passphrase");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&d.join("cachet-data/officers")), 0o700);
    let pass = std::fs::read_to_string(&file).unwrap();
    assert!(pass.trim().len() >= 24, "{pass}");
    let v = json(&cachet(d, &["recovery", "officers", "--json"]).ok());
    assert_eq!(v["threshold"], 1);
    assert_eq!(v["officers"][0]["name"], "admin");
    std::fs::copy(&file, d.join("admin.pass")).unwrap();
    write(d, "wrong.pass", "not the passphrase at all\n");

    let out = issue(d, "bob@example.com", "encryption", "ecdsa-p256", &[]);
    // The officers/ folder and the database hold no key either.
    assert_nowhere_in(&d.join("cachet-data"), &secrets_of(d, &out.join("key.pem")));

    // A wrong passphrase is refused (bad input, exit 2), audited, and loses nothing.
    let id = request(d, "bob@example.com", &["--ttl-seconds", "3"]);
    let r = cachet(
        d,
        &[
            "recovery",
            "approve",
            &id,
            "--officer",
            "admin",
            "--passphrase-file",
            "wrong.pass",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("wrong passphrase for recovery officer 'admin'"),
        "{}",
        r.stderr
    );
    // An unknown officer too.
    let r = cachet(
        d,
        &[
            "recovery",
            "approve",
            &id,
            "--officer",
            "mallory",
            "--passphrase-file",
            "wrong.pass",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("'mallory' is not a recovery officer"),
        "{}",
        r.stderr
    );
    let v = json(&cachet(d, &["recovery", "list", "--json"]).ok());
    assert_eq!(v[0]["state"], "pending");
    assert_eq!(v[0]["approvals"].as_array().unwrap().len(), 0);
    // Without a terminal and without a file there is nothing to ask: a clear error.
    let r = cachet(d, &["recovery", "approve", &id, "--officer", "admin"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a terminal"), "{}", r.stderr);

    // The request expires: approval and completion are refused, the secret is deleted.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let r = approve(d, &id, "admin");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("expired"), "{}", r.stderr);
    let r = complete(d, &id, "bob.p12");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("expired"), "{}", r.stderr);
    assert!(!d.join("bob.p12").exists());
    let v = json(&cachet(d, &["recovery", "list", "--json"]).ok());
    assert_eq!(v[0]["state"], "expired");
    let actions = audit_actions(d);
    assert_eq!(
        actions.iter().filter(|a| *a == "recovery-expired").count(),
        1
    );
    assert!(actions.iter().any(|a| a == "recovery-approval-refused"));

    // A new request goes through with the generated passphrase.
    let id = request(d, "bob@example.com", &[]);
    approve(d, &id, "admin").ok();
    complete(d, &id, "bob.p12").ok();
    cachet(d, &["audit", "verify"]).ok();

    // Bad requests: nobody's keys, a bad lifetime.
    let r = cachet(
        d,
        &[
            "recovery",
            "request",
            "--email",
            "nobody@example.com",
            "--reason",
            "x",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no archived encryption key of nobody@example.com"),
        "{}",
        r.stderr
    );
    let r = cachet(
        d,
        &[
            "recovery",
            "request",
            "--email",
            "bob@example.com",
            "--reason",
            "x",
            "--ttl-seconds",
            "0",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("lifetime"), "{}", r.stderr);
}

#[test]
fn signing_keys_are_never_archived_dual_and_csr_encryption_are_refused() {
    require("openssl", OPENSSL);
    require("python3", "apt-get install python3");
    let t = scratch();
    let d = t.path();
    init_with(d, &officers(d, &["solo"])).ok();
    let r = cachet(
        d,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "dual",
            "--out-dir",
            "o1",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("issue a signing and an encryption certificate instead"),
        "{}",
        r.stderr
    );
    assert!(!d.join("o1").exists(), "nothing written");
    run_in(
        d,
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "csr.key",
            "-subj",
            "/CN=a@example.com",
            "-addext",
            "subjectAltName=email:a@example.com",
            "-out",
            "a.csr",
        ],
    )
    .ok();
    let r = cachet(
        d,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "encryption",
            "--csr",
            "a.csr",
            "--out-dir",
            "o2",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("must be generated by Cachet and archived"),
        "{}",
        r.stderr
    );
    // A CSR for a signing certificate is fine, and no signing key is ever archived.
    cachet(
        d,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "signing",
            "--csr",
            "a.csr",
            "--out-dir",
            "o3",
        ],
    )
    .ok();
    issue(
        d,
        "a@example.com",
        "signing",
        "rsa-2048",
        &["--non-repudiation"],
    );
    let r = sql(
        d,
        "print(c.execute('SELECT COUNT(*) FROM archived_keys').fetchone()[0])",
    )
    .ok();
    assert_eq!(r.stdout.trim(), "0");
    assert!(!audit_actions(d).iter().any(|a| a == "key-archived"));
    let r = cachet(
        d,
        &[
            "recovery",
            "request",
            "--email",
            "a@example.com",
            "--reason",
            "lost",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no archived encryption key"),
        "{}",
        r.stderr
    );

    // With --no-recovery: dual and CSRs are allowed, nothing is archived, recovery says off.
    let t2 = scratch();
    let d2 = t2.path();
    init_with(d2, &["--no-recovery".into()]).ok();
    let v = json(&cachet(d2, &["ca", "show", "--json"]).ok());
    assert_eq!(v["key_recovery"], false);
    issue(d2, "a@example.com", "dual", "ecdsa-p256", &[]);
    std::fs::copy(d.join("a.csr"), d2.join("a.csr")).unwrap();
    cachet(
        d2,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "encryption",
            "--csr",
            "a.csr",
            "--out-dir",
            "o",
        ],
    )
    .ok();
    let r = cachet(d2, &["recovery", "officers"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("key recovery is off"), "{}", r.stderr);
    let r = sql(
        d2,
        "print(c.execute('SELECT COUNT(*) FROM archived_keys').fetchone()[0])",
    )
    .ok();
    assert_eq!(r.stdout.trim(), "0");
}

#[test]
fn init_refuses_bad_officer_rosters_and_leaves_nothing() {
    let t = scratch();
    let d = t.path();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (officers(d, &["a", "b"]), "without --threshold"),
        (
            [
                officers(d, &["a", "b"]),
                vec!["--threshold".into(), "3".into()],
            ]
            .concat(),
            "between 1 and the number of officers",
        ),
        (
            [officers(d, &["a"]), vec!["--threshold".into(), "0".into()]].concat(),
            "between 1 and the number of officers",
        ),
        (
            [
                officers(d, &["a", "a"]),
                vec!["--threshold".into(), "1".into()],
            ]
            .concat(),
            "appears twice",
        ),
        (vec!["--officer".into(), "nofile".into()], "NAME=FILE"),
        (
            vec!["--threshold".into(), "1".into()],
            "--threshold needs the officers",
        ),
    ];
    for (args, want) in cases {
        let r = init_with(d, &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(
            !d.join("cachet-data").exists(),
            "{args:?} left a data directory"
        );
    }
    write(d, "short.pass", "short\n");
    let r = init_with(
        d,
        &[
            "--officer".into(),
            format!("s={}", d.join("short.pass").display()),
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("shorter than 12 bytes"), "{}", r.stderr);
    assert!(!d.join("cachet-data").exists());
}

#[test]
fn a_tampered_archive_record_is_refused_and_nothing_is_lost_and_an_edited_audit_record_is_reported()
{
    require("openssl", OPENSSL);
    require("python3", "apt-get install python3");
    let t = scratch();
    let d = t.path();
    init_with(d, &officers(d, &["solo"])).ok();
    issue(d, "carol@example.com", "encryption", "ecdsa-p256", &[]);
    let id = request(d, "carol@example.com", &[]);
    approve(d, &id, "solo").ok();
    // Flip the last byte of the record (inside the AES-GCM ciphertext and tag) in Python.
    let script = "d = c.execute('SELECT der FROM archived_keys').fetchone()[0]\nd = d[:-1] + bytes([d[-1] ^ 1])\nc.execute('UPDATE archived_keys SET der = ?', (d,))";
    sql(d, script).ok();
    let r = complete(d, &id, "carol.p12");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("was tampered with"), "{}", r.stderr);
    assert!(!d.join("carol.p12").exists());
    // Nothing is lost: the request is still pending with its approval; with the record
    // restored (from a backup), it completes.
    let v = json(&cachet(d, &["recovery", "list", "--json"]).ok());
    assert_eq!(v[0]["state"], "pending");
    assert_eq!(v[0]["approvals"].as_array().unwrap().len(), 1);
    sql(d, script).ok();
    complete(d, &id, "carol.p12").ok();
    assert!(audit_actions(d).iter().any(|a| a == "recovery-refused"));
    cachet(d, &["audit", "verify"]).ok();

    // An edited audit record: the approval now names another officer.
    sql(
        d,
        "c.execute(\"UPDATE audit SET detail = replace(detail, 'officer=solo', 'officer=someone-else') WHERE action = 'recovery-approved'\")",
    )
    .ok();
    let r = cachet(d, &["audit", "verify"]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("was edited"), "{}", r.stdout);
}

#[test]
fn rotation_replaces_the_officers_and_old_shares_stop_working() {
    require("openssl", OPENSSL);
    let t = scratch();
    let d = t.path();
    let mut args = officers(d, &["ann", "ben"]);
    args.extend(["--threshold".into(), "2".into()]);
    init_with(d, &args).ok();
    issue(d, "dan@example.com", "encryption", "rsa-2048", &[]);
    // A recovery request approved once under the old split.
    let pending = request(d, "dan@example.com", &[]);
    approve(d, &pending, "ann").ok();

    // A certificate officer for the new roster: an encryption certificate from another CA.
    let other = scratch();
    init_with(other.path(), &["--no-recovery".into()]).ok();
    let officer_out = issue(
        other.path(),
        "eve@example.com",
        "encryption",
        "ecdsa-p256",
        &[],
    );
    let eve_cert = officer_out.join("cert.pem").display().to_string();
    let eve_key = officer_out.join("key.pem").display().to_string();

    let v = json(
        &cachet(
            d,
            &[
                "recovery",
                "request",
                "--reshare",
                "--reason",
                "ben leaves",
                "--json",
            ],
        )
        .ok(),
    );
    let rot = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["purpose"], "reshare");
    let new_officers = officers(d, &["cy"]);
    let mut args: Vec<&str> = vec!["recovery", "reshare", &rot];
    args.extend(new_officers.iter().map(String::as_str));
    let eve = format!("eve={eve_cert}");
    args.extend(["--officer-cert", &eve, "--threshold", "1"]);
    // Not approved yet: refused, nothing changes.
    let r = cachet(d, &args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("0 of the 2 approvals"), "{}", r.stderr);
    approve(d, &rot, "ann").ok();
    approve(d, &rot, "ben").ok();
    // A reshare request does not hand out keys.
    let r = complete(d, &rot, "no.p12");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("re-splitting"), "{}", r.stderr);
    let r = cachet(d, &args).ok();
    assert!(r.stdout.contains("1 of 2 officers"), "{}", r.stdout);
    let v = json(&cachet(d, &["recovery", "officers", "--json"]).ok());
    assert_eq!(v["officers"][0]["name"], "cy");
    assert_eq!(v["officers"][1]["name"], "eve");
    assert_eq!(v["officers"][1]["approves_with"], "certificate");

    // The request made under the old split was cancelled; old officers are gone.
    let list = json(&cachet(d, &["recovery", "list", "--json"]).ok());
    let state = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state(&pending), "cancelled");
    assert_eq!(state(&rot), "completed");
    let id = request(d, "dan@example.com", &[]);
    let r = approve(d, &id, "ann");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("'ann' is not a recovery officer"),
        "{}",
        r.stderr
    );
    // A passphrase for a certificate officer is refused; her key approves.
    let r = cachet(
        d,
        &[
            "recovery",
            "approve",
            &id,
            "--officer",
            "eve",
            "--passphrase-file",
            "cy.pass",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    cachet(
        d,
        &[
            "recovery",
            "approve",
            &id,
            "--officer",
            "eve",
            "--key",
            &eve_key,
        ],
    )
    .ok();
    let r = complete(d, &id, "dan.p12").ok();
    assert!(
        r.stdout.contains("Recovered 1 archived key(s)"),
        "{}",
        r.stdout
    );
    let actions = audit_actions(d);
    assert!(actions.iter().any(|a| a == "recovery-rotated"));
    assert!(actions.iter().any(|a| a == "recovery-cancelled"));
    cachet(d, &["audit", "verify"]).ok();
}

/// The recovered PKCS#12 of an RSA key, written `--p12-compat`, imports into GnuPG 2.2's
/// `gpgsm`, which then decrypts mail that `openssl cms -encrypt` sent to the lost key.
#[test]
fn gpgsm_imports_a_recovered_rsa_key_and_decrypts_old_mail() {
    use common::gpgsm::{Gpgsm, PASSPHRASE};
    require("openssl", OPENSSL);
    require("gpgsm", "apt-get install gpgsm gpg-agent");
    let tmp = scratch();
    let dir = tmp.path();
    init_with(dir, &officers(dir, &["ann"])).ok();
    let alice = issue(dir, "alice@example.com", "encryption", "rsa-2048", &[]);
    let cert = alice.join("cert.pem").display().to_string();
    write(
        dir,
        "old.txt",
        "Content-Type: text/plain\r\n\r\nLast year's contract.\r\n",
    );
    run_in(
        dir,
        "openssl",
        &[
            "cms", "-encrypt", "-aes256", "-in", "old.txt", "-outform", "DER", "-out", "old.p7m",
            &cert,
        ],
    )
    .ok();
    std::fs::remove_file(alice.join("key.pem")).unwrap();

    let id = request(dir, "alice@example.com", &[]);
    approve(dir, &id, "ann").ok();
    // gpgsm 2.2 reads the legacy PKCS#12 encryption only, and protects the imported key
    // with the PKCS#12 password: use the shared passphrase for both.
    let pw = write(dir, "gpgsm.pw", PASSPHRASE);
    cachet(
        dir,
        &[
            "recovery",
            "complete",
            &id,
            "--out",
            "alice.p12",
            "--password-file",
            &pw,
            "--p12-compat",
        ],
    )
    .ok();
    let g = Gpgsm::new(dir);
    g.import_p12(&dir.join("alice.p12"));
    let r = g.with_passphrase(&["--decrypt", "-o", "old.out", "old.p7m"]);
    assert_eq!(r.code, 0, "gpgsm --decrypt: {} {}", r.stdout, r.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("old.out")).unwrap(),
        "Content-Type: text/plain\r\n\r\nLast year's contract.\r\n"
    );
}
