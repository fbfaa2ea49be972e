//! Accounts with automatic enrollment and renewal (issue #6), as an administrator runs them:
//! `cachet user add|show|list|disable|enable|remove|keys|import` and `cachet renew --due`
//! with an injected clock, checked with `openssl` (PKCS#12, CRL) and the key archive.

mod common;

use common::{Run, cachet, require, run_in, scratch, write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn init(dir: &Path, extra: &[&str]) {
    let mut args = vec![
        "init",
        "--domain",
        "example.com",
        "--base-url",
        "http://pki.example.com",
    ];
    args.extend_from_slice(extra);
    cachet(dir, &args).ok();
}

/// The private keys (PEM blocks) and certificates of a PKCS#12, read by OpenSSL.
fn p12_contents(dir: &Path, p12: &str, password: &str) -> (Vec<String>, Vec<String>) {
    let r = run_in(
        dir,
        "openssl",
        &[
            "pkcs12",
            "-in",
            p12,
            "-passin",
            &format!("pass:{password}"),
            "-nodes",
        ],
    )
    .ok();
    let blocks = |label: &str| -> Vec<String> {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        r.stdout
            .split(&begin)
            .skip(1)
            .filter_map(|b| b.split(&end).next().map(|s| s.trim().to_string()))
            .collect()
    };
    (blocks("PRIVATE KEY"), blocks("CERTIFICATE"))
}

fn cert_serial_hex(dir: &Path, pem_body: &str) -> String {
    let f = write(
        dir,
        "probe.pem",
        format!("-----BEGIN CERTIFICATE-----\n{pem_body}\n-----END CERTIFICATE-----\n"),
    );
    let r = run_in(dir, "openssl", &["x509", "-in", &f, "-noout", "-serial"]).ok();
    r.stdout
        .trim()
        .trim_start_matches("serial=")
        .trim_start_matches('0')
        .to_lowercase()
}

#[test]
fn add_renew_collect_and_recover_with_key_recovery_on() {
    require("openssl", "apt-get install openssl");
    let tmp = scratch();
    let d = tmp.path();
    init(d, &[]);
    let r = cachet(
        d,
        &[
            "user",
            "add",
            "alice@example.com",
            "--name",
            "Alice Liddell",
            "--json",
        ],
    )
    .ok();
    let v = json(&r);
    let password = v["pkcs12_password"].as_str().unwrap().to_string();
    let p12 = v["pkcs12"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::metadata(d.join(&p12))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let certs = v["certificates"].as_array().unwrap();
    let profiles: Vec<&str> = certs
        .iter()
        .map(|c| c["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["signing", "encryption"]);
    let (keys, p12_certs) = p12_contents(d, &p12, &password);
    assert_eq!(keys.len(), 2, "one key per certificate");
    let serials: Vec<String> = p12_certs.iter().map(|c| cert_serial_hex(d, c)).collect();
    for c in certs {
        let s = c["serial"].as_str().unwrap().trim_start_matches('0');
        assert!(serials.iter().any(|x| x == s), "{s} not in {serials:?}");
    }
    // The wrong password opens nothing.
    let r = run_in(
        d,
        "openssl",
        &["pkcs12", "-in", &p12, "-passin", "pass:wrong", "-nodes"],
    );
    assert_ne!(r.code, 0);
    // Adding the account again is refused and changes nothing.
    let r = cachet(
        d,
        &["user", "add", "alice@example.com", "--p12", "again.p12"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert!(!d.join("again.p12").exists());

    // Nothing is due at the start; nine months on, both certificates are.
    let v = json(&cachet(d, &["renew", "--due", "--json"]).ok());
    assert_eq!(v["renewed"].as_array().unwrap().len(), 0);
    let show = json(&cachet(d, &["user", "show", "alice@example.com", "--json"]).ok());
    let not_before = show["certificates"][0]["not_before"]
        .as_str()
        .unwrap()
        .to_string();
    let year: i32 = not_before[..4].parse().unwrap();
    let nine_months = {
        // One year on, minus three months: past two thirds of a 365-day life.
        let month: i32 = not_before[5..7].parse().unwrap();
        let (y, m) = if month > 3 {
            (year + 1, month - 3)
        } else {
            (year, month + 9)
        };
        format!("{y}-{m:02}-01T00:00:00Z")
    };
    let v = json(&cachet(d, &["renew", "--due", "--at", &nine_months, "--json"]).ok());
    let renewed = v["renewed"].as_array().unwrap();
    assert_eq!(renewed.len(), 2, "{v}");
    // Renewing again finds nothing: the old ones are superseded.
    let v = json(&cachet(d, &["renew", "--due", "--at", &nine_months, "--json"]).ok());
    assert_eq!(v["renewed"].as_array().unwrap().len(), 0);
    let show = json(&cachet(d, &["user", "show", "alice@example.com", "--json"]).ok());
    let statuses: Vec<&str> = show["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "superseded").count(), 2);
    // The successors were issued at the injected time, months ahead of the real clock.
    assert_eq!(
        statuses.iter().filter(|s| **s == "not-yet-valid").count(),
        2,
        "{statuses:?}"
    );

    // The new keys are handed over once.
    let v = json(
        &cachet(
            d,
            &[
                "user",
                "keys",
                "alice@example.com",
                "--p12",
                "new.p12",
                "--json",
            ],
        )
        .ok(),
    );
    let (new_keys, _) = p12_contents(d, "new.p12", v["pkcs12_password"].as_str().unwrap());
    assert_eq!(new_keys.len(), 2);
    assert!(new_keys.iter().all(|k| !keys.contains(k)), "fresh keys");
    let r = cachet(
        d,
        &["user", "keys", "alice@example.com", "--p12", "twice.p12"],
    );
    assert_eq!(r.code, 2);
    assert!(!d.join("twice.p12").exists());

    // Both encryption keys, the superseded one too, come back through recovery.
    let v = json(
        &cachet(
            d,
            &[
                "recovery",
                "request",
                "--email",
                "alice@example.com",
                "--reason",
                "old mail after renewal",
                "--json",
            ],
        )
        .ok(),
    );
    let id = v["id"].as_str().unwrap().to_string();
    cachet(
        d,
        &[
            "recovery",
            "approve",
            &id,
            "--officer",
            "admin",
            "--passphrase-file",
            "cachet-data/officers/admin.passphrase",
        ],
    )
    .ok();
    let pw = write(d, "rec.pw", "recovered-p12-password\n");
    cachet(
        d,
        &[
            "recovery",
            "complete",
            &id,
            "--out",
            "recovered.p12",
            "--password-file",
            &pw,
        ],
    )
    .ok();
    let (recovered, _) = p12_contents(d, "recovered.p12", "recovered-p12-password");
    assert_eq!(recovered.len(), 2, "old and new encryption keys");
    // The PKCS#12 holds the signing key first, then the encryption key.
    assert!(recovered.contains(&keys[1]), "the first encryption key");
    // The renewed encryption key, and no signing key: signing keys are never archived.
    assert_eq!(
        new_keys.iter().filter(|k| recovered.contains(k)).count(),
        1,
        "exactly the renewed encryption key"
    );
    assert!(!recovered.contains(&keys[0]));
}

#[test]
fn disable_revokes_into_the_crl_enable_and_remove() {
    require("openssl", "apt-get install openssl");
    let tmp = scratch();
    let d = tmp.path();
    init(d, &["--no-recovery"]);
    let v = json(&cachet(d, &["user", "add", "bob@example.com", "--json"]).ok());
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "recovery off: one dual certificate");
    assert_eq!(certs[0]["profile"], "dual");
    let serial = certs[0]["serial"].as_str().unwrap().to_string();

    let v = json(&cachet(d, &["user", "disable", "bob@example.com", "--json"]).ok());
    assert_eq!(v["revoked"][0], serial.as_str());
    let r = cachet(d, &["user", "disable", "bob@example.com"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already disabled"), "{}", r.stderr);
    cachet(d, &["crl", "--out", "issuing.crl"]).ok();
    let crl = run_in(
        d,
        "openssl",
        &["crl", "-in", "issuing.crl", "-noout", "-text"],
    )
    .ok();
    assert!(
        crl.stdout.to_lowercase().contains(&serial),
        "{serial} not in {}",
        crl.stdout
    );
    assert!(crl.stdout.contains("Affiliation Changed"), "{}", crl.stdout);

    let v = json(
        &cachet(
            d,
            &[
                "user",
                "enable",
                "bob@example.com",
                "--p12",
                "bob2.p12",
                "--json",
            ],
        )
        .ok(),
    );
    assert_eq!(v["account"]["state"], "active");
    assert_ne!(v["certificates"][0]["serial"], serial.as_str());
    let v = json(&cachet(d, &["user", "remove", "bob@example.com", "--json"]).ok());
    assert_eq!(v["revoked"].as_array().unwrap().len(), 1);
    let r = cachet(
        d,
        &["user", "enable", "bob@example.com", "--p12", "bob3.p12"],
    );
    assert_eq!(r.code, 2, "a removed account stays removed");
    let list = json(&cachet(d, &["user", "list", "--json"]).ok());
    assert_eq!(list[0]["state"], "removed");
    let r = cachet(d, &["user", "show", "nobody@example.com"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no account nobody@example.com"),
        "{}",
        r.stderr
    );
    let actions = json(&cachet(d, &["audit", "list", "--json"]).ok());
    let actions: Vec<&str> = actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "account-created",
        "account-disabled",
        "account-enabled",
        "account-removed",
    ] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
    cachet(d, &["audit", "verify"]).ok();
}

#[test]
fn import_reports_bad_rows_resumes_and_writes_pkcs12_files() {
    require("openssl", "apt-get install openssl");
    let tmp = scratch();
    let d = tmp.path();
    init(d, &["--no-recovery"]);
    let mut csv = String::from("email,name,password\n");
    for i in 0..40 {
        csv.push_str(&format!("user{i}@example.com,\"User, No. {i}\"\n"));
    }
    csv.push_str("not-an-address,Nobody\n");
    csv.push_str("someone@elsewhere.org,Outside\n");
    csv.push_str("user1@example.com,Duplicate row\n");
    write(d, "users.csv", &csv);
    let r = cachet(
        d,
        &[
            "user",
            "import",
            "users.csv",
            "--report",
            "report.csv",
            "--json",
        ],
    );
    assert_eq!(r.code, 1, "failed rows give exit 1: {}", r.stderr);
    let v = json(&r);
    assert_eq!(v["created"], 40);
    assert_eq!(v["skipped"], 1, "the repeated row");
    let failed: Vec<u64> = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(failed, [42, 43]);
    let report = std::fs::read_to_string(d.join("report.csv")).unwrap();
    assert!(report.contains("42,not-an-address,"), "{report}");
    assert!(report.contains("elsewhere.org"), "{report}");
    let shown = json(&cachet(d, &["user", "show", "user7@example.com", "--json"]).ok());
    assert_eq!(shown["name"], "User, No. 7");
    // Resuming does nothing twice.
    let v = json(&cachet(d, &["user", "import", "users.csv", "--json"]));
    assert_eq!(v["created"], 0);
    assert_eq!(v["skipped"], 41);
    // Keys of an import wait for the user.
    let v = json(
        &cachet(
            d,
            &[
                "user",
                "keys",
                "user3@example.com",
                "--p12",
                "u3.p12",
                "--json",
            ],
        )
        .ok(),
    );
    let (keys, _) = p12_contents(d, "u3.p12", v["pkcs12_password"].as_str().unwrap());
    assert_eq!(keys.len(), 1);

    // With --out-dir, PKCS#12 files and their passwords (0600).
    write(
        d,
        "two.csv",
        "carol@example.com,Carol\ndave@example.com,Dave,est-password-123\n",
    );
    cachet(d, &["user", "import", "two.csv", "--out-dir", "out"]).ok();
    let pw = std::fs::read_to_string(d.join("out/passwords.csv")).unwrap();
    assert_eq!(
        std::fs::metadata(d.join("out/passwords.csv"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let line = pw.lines().find(|l| l.starts_with("dave@")).unwrap();
    let password = line.split(',').nth(1).unwrap();
    let (keys, _) = p12_contents(d, "out/dave@example.com.p12", password);
    assert_eq!(keys.len(), 1);
    let shown = json(&cachet(d, &["user", "show", "dave@example.com", "--json"]).ok());
    assert_eq!(shown["est_password"], true);
}

#[test]
fn the_enrollment_policy_comes_from_cachet_toml() {
    let tmp = scratch();
    let d = tmp.path();
    init(d, &[]);
    write(
        d,
        "cachet-data/cachet.toml",
        "[enrollment]\nencryption_key_type = \"rsa-2048\"\nvalidity_days = 30\n",
    );
    let v = json(&cachet(d, &["user", "add", "erin@example.com", "--json"]).ok());
    assert_eq!(v["certificates"][1]["key_type"], "rsa-2048");
    assert_eq!(v["certificates"][0]["key_type"], "ecdsa-p256");
    write(d, "bad.toml", "[enrollment]\nrenew_after = 0.5\n");
    let r = cachet(
        d,
        &["user", "add", "frank@example.com", "--config", "bad.toml"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("bad.toml") && r.stderr.contains("renew_after"),
        "{}",
        r.stderr
    );
    assert!(!d.join("frank@example.com.p12").exists());
}
