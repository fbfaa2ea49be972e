//! The certificate authority from the command line, as a new user runs it: init, issuance,
//! listing, revocation, CRLs, the audit log, and every refusal of bad input (exit status 2,
//! one sentence, nothing written).

mod common;
use common::*;
use std::path::Path;

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_sealed_keys_and_refuses_a_second_time() {
    let t = scratch();
    init_ca(t.path(), "ecdsa-p256");
    let data = t.path().join("cachet-data");
    assert_eq!(mode(&data.join("master.key")), 0o600);
    assert_eq!(
        std::fs::metadata(data.join("master.key")).unwrap().len(),
        32
    );
    let before = std::fs::read(data.join("cachet.db")).unwrap();
    let r = cachet(t.path(), &["init", "--domain", "example.com"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(data.join("cachet.db")).unwrap(),
        before,
        "a refused init changes nothing"
    );

    let show = cachet(t.path(), &["ca", "show", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(v["domain"], "example.com");
    assert_eq!(v["cas"][0]["role"], "root");
    assert_eq!(
        v["cas"][1]["subject"],
        "CN=Example Org S/MIME Issuing CA,O=Example Org"
    );
    assert_eq!(
        v["cas"][1]["crl_url"],
        "http://pki.example.com/crl/issuing.crl"
    );
}

#[test]
fn init_with_passphrase_needs_it_and_rejects_a_wrong_one() {
    let t = scratch();
    let pass = write(t.path(), "pass", "correct horse battery staple\n");
    let wrong = write(t.path(), "wrong", "incorrect\n");
    cachet(
        t.path(),
        &[
            "init",
            "--domain",
            "example.com",
            "--passphrase-file",
            &pass,
        ],
    )
    .ok();
    assert!(
        !t.path().join("cachet-data/master.key").exists(),
        "no master key with a passphrase"
    );
    let r = cachet(
        t.path(),
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "signing",
            "--out-dir",
            "o",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("passphrase"), "{}", r.stderr);
    let r = cachet(
        t.path(),
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "signing",
            "--out-dir",
            "o",
            "--passphrase-file",
            &wrong,
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not open"), "{}", r.stderr);
    cachet(
        t.path(),
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "signing",
            "--out-dir",
            "o",
            "--passphrase-file",
            &pass,
        ],
    )
    .ok();
}

#[test]
fn issue_list_show_revoke_and_crl() {
    let t = scratch();
    init_ca(t.path(), "ecdsa-p256");
    let out = issue(t.path(), "alice@example.com", "signing", "ecdsa-p256", &[]);
    assert_eq!(mode(&out.join("key.pem")), 0o600);
    for f in ["cert.pem", "chain.pem", "key.pem"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(!out.join("bundle.p12").exists());
    let serial = serial_of(t.path(), &out.join("cert.pem"));

    let list: serde_json::Value =
        serde_json::from_str(&cachet(t.path(), &["cert", "list", "--json"]).ok().stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["serial"], serial.as_str());
    assert_eq!(list[0]["status"], "valid");
    assert_eq!(list[0]["subject"], "CN=alice@example.com");

    let show: serde_json::Value = serde_json::from_str(
        &cachet(
            t.path(),
            &["cert", "show", &serial.to_uppercase(), "--json"],
        )
        .ok()
        .stdout,
    )
    .unwrap();
    assert_eq!(show["email"], "alice@example.com");
    assert_eq!(
        show["pem"].as_str().unwrap(),
        std::fs::read_to_string(out.join("cert.pem")).unwrap()
    );

    let r = cachet(
        t.path(),
        &["cert", "revoke", &serial, "--reason", "key-compromise"],
    )
    .ok();
    assert!(r.stdout.contains("Revoked"));
    let again = cachet(
        t.path(),
        &["cert", "revoke", &serial, "--reason", "superseded"],
    );
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already revoked"), "{}", again.stderr);

    let crl_pem = cachet(t.path(), &["crl"]).ok().stdout;
    let crl = write(t.path(), "crl.pem", &crl_pem);
    let text = run_in(
        t.path(),
        "openssl",
        &["crl", "-in", &crl, "-noout", "-text"],
    )
    .ok()
    .stdout;
    assert!(
        text.to_ascii_lowercase()
            .contains(&serial.to_ascii_lowercase()),
        "{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("X509v3 CRL Number"), "{text}");
    // Each CRL gets a new number.
    let n1 = cachet(t.path(), &["crl", "--der", "--out", "a.crl"]).ok();
    let n2 = cachet(t.path(), &["crl", "--der", "--out", "b.crl"]).ok();
    assert_ne!(n1.stderr, n2.stderr);

    let list: serde_json::Value =
        serde_json::from_str(&cachet(t.path(), &["cert", "list", "--json"]).ok().stdout).unwrap();
    assert_eq!(list[0]["status"], "revoked");
    assert_eq!(list[0]["revocation_reason"], "key-compromise");
}

#[test]
fn audit_log_records_actions_and_detects_tampering() {
    let t = scratch();
    init_ca(t.path(), "ecdsa-p256");
    let out = issue(t.path(), "alice@example.com", "signing", "ecdsa-p256", &[]);
    issue(t.path(), "bob@example.com", "encryption", "rsa-2048", &[]);
    let serial = serial_of(t.path(), &out.join("cert.pem"));
    cachet(
        t.path(),
        &["cert", "revoke", &serial, "--reason", "superseded"],
    )
    .ok();
    let log: serde_json::Value =
        serde_json::from_str(&cachet(t.path(), &["audit", "list", "--json"]).ok().stdout).unwrap();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "ca-created",
            "ca-created",
            "crl-published",
            "crl-published",
            "certificate-issued",
            "certificate-issued",
            "certificate-revoked"
        ]
    );
    let issued = &log[4];
    assert_eq!(issued["serial"], serial.as_str());
    assert_eq!(issued["subject"], "CN=alice@example.com");
    assert!(issued["actor"].as_str().unwrap().starts_with("cli:"));
    let v = cachet(t.path(), &["audit", "verify"]).ok();
    assert!(v.stdout.contains("intact: 7 records"), "{}", v.stdout);

    // Tamper with copies of the database through SQLite itself, as an intruder would.
    let tamper = |sql: &str| {
        let copy = scratch();
        let d = copy.path().join("cachet-data");
        std::fs::create_dir(&d).unwrap();
        for f in ["cachet.db", "master.key"] {
            std::fs::copy(t.path().join("cachet-data").join(f), d.join(f)).unwrap();
        }
        let script = format!(
            "import sqlite3; c = sqlite3.connect('{}'); c.executescript(\"{sql}\"); c.commit()",
            d.join("cachet.db").display()
        );
        run_in(copy.path(), "python3", &["-c", &script]).ok();
        let r = cachet(copy.path(), &["audit", "verify", "--json"]);
        (r.code, r.stdout)
    };
    let (code, out) = tamper("UPDATE audit SET actor = 'cli:mallory' WHERE seq = 5");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("record 5 was edited"), "{out}");
    let (code, out) = tamper("DELETE FROM audit WHERE seq = 3");
    assert_eq!(code, 1);
    assert!(out.contains("record 3 is missing"), "{out}");
    let (code, out) = tamper("DELETE FROM audit WHERE seq = 7");
    assert_eq!(code, 1);
    assert!(out.contains("deleted from the end"), "{out}");
    let (code, out) = tamper(
        "UPDATE audit SET seq = 100 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = 100",
    );
    assert_eq!(code, 1);
    assert!(out.contains("reordered") || out.contains("edited"), "{out}");

    // An intruder who edits a record and then recomputes the whole chain and its head. With
    // the real master key the rewrite verifies (this proves the script rebuilds the chain
    // exactly as Cachet does); with any other key it is detected.
    let rewrite = |key_expr: &str| {
        let copy = scratch();
        let d = copy.path().join("cachet-data");
        std::fs::create_dir(&d).unwrap();
        for f in ["cachet.db", "master.key"] {
            std::fs::copy(t.path().join("cachet-data").join(f), d.join(f)).unwrap();
        }
        let script = format!(
            r#"
import hashlib, hmac, sqlite3, struct
master = open('{master}', 'rb').read()
key = {key_expr}
def put(v):
    if v is None: return b'\x00'
    b = v.encode()
    return b'\x01' + struct.pack('>Q', len(b)) + b
c = sqlite3.connect('{db}')
c.execute("UPDATE audit SET actor = 'cli:mallory' WHERE seq = 5")
prev = bytes(32)
for seq, at, actor, action, serial, subject, detail in c.execute('SELECT seq, at, actor, action, serial, subject, detail FROM audit ORDER BY seq').fetchall():
    msg = b'cachet-audit-v1' + struct.pack('>qq', seq, at) + put(actor) + put(action) + put(serial) + put(subject) + put(detail) + struct.pack('>Q', len(prev)) + prev
    h = hmac.new(key, msg, hashlib.sha256).digest()
    c.execute('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?', (prev, h, seq))
    prev = h
c.execute("UPDATE settings SET value = ? WHERE key = 'audit_head_hash'", (prev.hex(),))
c.commit()
"#,
            master = d.join("master.key").display(),
            db = d.join("cachet.db").display(),
        );
        run_in(copy.path(), "python3", &["-c", &script]).ok();
        let r = cachet(copy.path(), &["audit", "verify", "--json"]);
        (r.code, r.stdout)
    };
    let (code, out) =
        rewrite("hmac.new(master, b'cachet audit chain key v1\\x01', hashlib.sha256).digest()");
    assert_eq!(
        code, 0,
        "the control rewrite with the real key must verify: {out}"
    );
    let (code, out) = rewrite("hashlib.sha256(b'a guess').digest()");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("record 1 was edited"), "{out}");
}

#[test]
fn refusals_of_the_s_mime_br() {
    let t = scratch();
    let dir = t.path();
    // http only, and the CRL period of the issuing CA at most 10 days.
    let r = cachet(
        dir,
        &[
            "init",
            "--domain",
            "example.com",
            "--base-url",
            "https://pki.example.com",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("must use http://"), "{}", r.stderr);
    let r = cachet(
        dir,
        &["init", "--domain", "example.com", "--crl-days", "11"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("1 to 10 days"), "{}", r.stderr);
    assert!(
        !dir.join("cachet-data").exists(),
        "refused init leaves nothing"
    );
    init_ca(dir, "ecdsa-p256");

    // A CSR with public exponent 3, and one signed with SHA-1.
    run_in(
        dir,
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-pkeyopt",
            "rsa_keygen_pubexp:3",
            "-out",
            "e3.key",
        ],
    )
    .ok();
    run_in(
        dir,
        "openssl",
        &[
            "req",
            "-new",
            "-key",
            "e3.key",
            "-subj",
            "/CN=a@example.com",
            "-out",
            "e3.csr",
        ],
    )
    .ok();
    let r = cachet(
        dir,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "signing",
            "--csr",
            "e3.csr",
            "--out-dir",
            "x1",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("CSR e3.csr") && r.stderr.contains("exponent"),
        "{}",
        r.stderr
    );
    run_in(
        dir,
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "s1.key",
            "-sha1",
            "-subj",
            "/CN=a@example.com",
            "-out",
            "s1.csr",
        ],
    )
    .ok();
    let r = cachet(
        dir,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "signing",
            "--csr",
            "s1.csr",
            "--out-dir",
            "x2",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("SHA-1"), "{}", r.stderr);

    // A key revoked for key compromise is never certified again.
    run_in(
        dir,
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.key",
            "-subj",
            "/CN=a@example.com",
            "-out",
            "k.csr",
        ],
    )
    .ok();
    cachet(
        dir,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "signing",
            "--csr",
            "k.csr",
            "--out-dir",
            "k1",
        ],
    )
    .ok();
    let serial = serial_of(dir, &dir.join("k1/cert.pem"));
    cachet(
        dir,
        &["cert", "revoke", &serial, "--reason", "key-compromise"],
    )
    .ok();
    let r = cachet(
        dir,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "signing",
            "--csr",
            "k.csr",
            "--out-dir",
            "k2",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("key compromise"), "{}", r.stderr);
    assert!(!dir.join("k2").exists());

    // nonRepudiation belongs on signing certificates only.
    let r = cachet(
        dir,
        &[
            "cert",
            "issue",
            "--email",
            "a@example.com",
            "--profile",
            "encryption",
            "--non-repudiation",
            "--out-dir",
            "x3",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--non-repudiation"), "{}", r.stderr);

    // An address longer than 64 characters: no commonName, a critical subjectAltName.
    let long = format!("{}@example.com", "l".repeat(60));
    let out = issue(dir, &long, "signing", "ecdsa-p256", &[]);
    let text = run_in(
        dir,
        "openssl",
        &[
            "x509",
            "-in",
            &out.join("cert.pem").display().to_string(),
            "-noout",
            "-text",
        ],
    )
    .ok()
    .stdout;
    assert!(
        text.contains("Subject: \n") || text.contains("Subject:\n") || !text.contains("CN ="),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Subject Alternative Name: critical"),
        "{text}"
    );

    // A CRL written to a directory that does not exist uses up no CRL number.
    let before = cachet(dir, &["ca", "show", "--json"]).ok().stdout;
    let r = cachet(dir, &["crl", "--out", "no/such/dir/x.crl"]);
    assert_eq!(r.code, 2);
    assert_eq!(cachet(dir, &["ca", "show", "--json"]).ok().stdout, before);
}

/// Every bad input: exit 2, one sentence that names the problem, and nothing written.
#[test]
fn bad_input_is_refused_with_exit_2_and_nothing_written() {
    let t = scratch();
    init_ca(t.path(), "ecdsa-p256");
    let dir = t.path();
    // A CSR for bob, a CSR with a broken signature, and garbage.
    run_in(
        dir,
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
            "k.pem",
            "-subj",
            "/CN=bob@example.com",
            "-addext",
            "subjectAltName=email:bob@example.com",
            "-out",
            "bob.csr",
        ],
    )
    .ok();
    let der = run_in(
        dir,
        "openssl",
        &["req", "-in", "bob.csr", "-outform", "DER"],
    )
    .ok()
    .raw_stdout;
    let mut bad_sig = der.clone();
    let n = bad_sig.len();
    bad_sig[n - 5] ^= 0x55;
    write(dir, "badsig.csr", &bad_sig);
    write(
        dir,
        "garbage.csr",
        "-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all!\n-----END CERTIFICATE REQUEST-----\n",
    );
    write(dir, "empty.pw", "\n");
    let snapshot = || {
        let list = cachet(dir, &["cert", "list", "--json"]).ok().stdout;
        let audit = cachet(dir, &["audit", "list", "--json"]).ok().stdout;
        (list, audit)
    };
    let before = snapshot();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "cert",
                "issue",
                "--email",
                "bob@example.com",
                "--profile",
                "signing",
                "--csr",
                "garbage.csr",
                "--out-dir",
                "o1",
            ],
            "malformed",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "bob@example.com",
                "--profile",
                "signing",
                "--csr",
                "badsig.csr",
                "--out-dir",
                "o2",
            ],
            "signature does not verify",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "alice@example.com",
                "--profile",
                "signing",
                "--csr",
                "bob.csr",
                "--out-dir",
                "o3",
            ],
            "is for bob@example.com, not alice@example.com",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "alice@example.com",
                "--profile",
                "signing",
                "--csr",
                "missing.csr",
                "--out-dir",
                "o4",
            ],
            "cannot read CSR",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "a@example.com",
                "--profile",
                "signing",
                "--out-dir",
                "o5",
                "--p12-password-file",
                "nope.pw",
            ],
            "cannot read PKCS#12 password file",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "a@example.com",
                "--profile",
                "signing",
                "--out-dir",
                "o6",
                "--p12-password-file",
                "empty.pw",
            ],
            "is empty",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "a@example.com",
                "--profile",
                "sign",
                "--out-dir",
                "o7",
            ],
            "unknown profile",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "a@example.com",
                "--profile",
                "signing",
                "--key-type",
                "rsa-1024",
                "--out-dir",
                "o8",
            ],
            "unknown key type",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "a@example.com",
                "--profile",
                "encryption",
                "--key-type",
                "ed25519",
                "--out-dir",
                "o9",
            ],
            "cannot be used for a encryption",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "a@other.org",
                "--profile",
                "signing",
                "--out-dir",
                "o10",
            ],
            "not in this CA's domain",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "not-an-address",
                "--profile",
                "signing",
                "--out-dir",
                "o11",
            ],
            "has no '@'",
        ),
        (
            &[
                "cert",
                "issue",
                "--email",
                "a@example.com",
                "--profile",
                "signing",
                "--validity-days",
                "900",
                "--out-dir",
                "o12",
            ],
            "825",
        ),
        (
            &[
                "cert",
                "issue",
                "--data",
                "nowhere",
                "--email",
                "a@example.com",
                "--profile",
                "signing",
                "--out-dir",
                "o13",
            ],
            "does not exist",
        ),
        (&["cert", "show", "abcdef"], "no certificate with serial"),
        (
            &["cert", "revoke", "xyz", "--reason", "superseded"],
            "not a serial number",
        ),
        (
            &["cert", "revoke", "abcdef", "--reason", "because"],
            "unknown revocation reason",
        ),
    ];
    for (args, expect) in cases {
        let r = cachet(dir, args);
        assert_eq!(r.code, 2, "{args:?}: {} {}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(expect),
            "{args:?}: expected '{expect}' in: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        // One sentence naming the problem; clap's usage errors add only a pointer to --help.
        let first = r.stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(expect),
            "the first line names the problem: {}",
            r.stderr
        );
        let lines = r
            .stderr
            .trim()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        assert!(
            lines == 1 || (lines == 2 && r.stderr.contains("try '--help'")),
            "one sentence: {}",
            r.stderr
        );
    }
    for o in [
        "o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9", "o10", "o11", "o12", "o13",
    ] {
        let p = dir.join(o);
        assert!(
            !p.exists(),
            "{o} must not have been created: {:?}",
            files_in(&p)
        );
    }
    assert!(!dir.join("nowhere").exists());
    assert_eq!(snapshot(), before, "nothing was issued or stored");

    // A foreign data directory: a file that is not Cachet's database.
    let foreign = dir.join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("cachet.db"), "this is not sqlite").unwrap();
    let r = cachet(dir, &["ca", "show", "--data", "foreign"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("not a Cachet data directory"),
        "{}",
        r.stderr
    );
    let empty = dir.join("emptydir");
    std::fs::create_dir(&empty).unwrap();
    let r = cachet(dir, &["cert", "list", "--data", "emptydir"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("not a Cachet data directory"),
        "{}",
        r.stderr
    );
    assert!(files_in(&empty).is_empty());
    // A non-empty foreign directory is never initialised over.
    let r = cachet(
        dir,
        &["init", "--data", "foreign", "--domain", "example.com"],
    );
    assert_eq!(r.code, 2);
    assert_eq!(files_in(&foreign), ["cachet.db"]);
}

#[test]
fn csr_for_the_right_address_is_signed() {
    let t = scratch();
    init_ca(t.path(), "rsa-2048");
    let dir = t.path();
    run_in(
        dir,
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=Carol@Example.com",
            "-addext",
            "subjectAltName=email:carol@example.com",
            "-out",
            "c.csr",
        ],
    )
    .ok();
    let r = cachet(
        dir,
        &[
            "cert",
            "issue",
            "--email",
            "carol@example.com",
            "--profile",
            "dual",
            "--csr",
            "c.csr",
            "--out-dir",
            "carol",
            "--json",
        ],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["key_type"], "rsa-2048");
    assert!(
        !dir.join("carol/key.pem").exists(),
        "with a CSR the key stays with the requester"
    );
    let ours = run_in(
        dir,
        "openssl",
        &["x509", "-in", "carol/cert.pem", "-noout", "-pubkey"],
    )
    .ok()
    .stdout;
    let theirs = run_in(dir, "openssl", &["pkey", "-in", "k.pem", "-pubout"])
        .ok()
        .stdout;
    assert_eq!(ours, theirs);
}
