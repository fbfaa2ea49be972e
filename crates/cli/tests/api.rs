//! The REST admin API of `cachet serve` (issue #6) as a script would use it: bearer tokens
//! of each role, accounts and certificates created and revoked, refusals with clear 4xx
//! answers that change nothing, every call in the audit log — and, on PostgreSQL, two
//! `cachet serve` processes sharing one database while eight clients issue 2,000
//! certificates through them: every serial distinct and stored, the CRL consistent, the
//! audit chain unbroken.

mod common;

use common::server::{Server, free_port};
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// One HTTP/1.1 exchange over a fresh connection: (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn token(dir: &Path, extra: &[&str], name: &str, role: &str) -> String {
    let mut args = vec!["token", "create", "--name", name, "--role", role, "--json"];
    args.extend_from_slice(extra);
    let v = json(&cachet(dir, &args).ok().stdout);
    v["token"].as_str().unwrap().to_string()
}

fn audit_actions(dir: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["audit", "list", "--json"];
    args.extend_from_slice(extra);
    let v = json(&cachet(dir, &args).ok().stdout);
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn tokens_roles_accounts_and_refusals() {
    require("openssl", "apt-get install openssl");
    let tmp = scratch();
    let d = tmp.path();
    let port = free_port();
    cachet(
        d,
        &[
            "init",
            "--domain",
            "example.test",
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
        ],
    )
    .ok();
    let admin = token(d, &[], "ops", "admin");
    let auditor = token(d, &[], "audit", "auditor");
    let officer = token(d, &[], "officer", "recovery-officer");
    let (_server, addr) = Server::start(d, &["--listen", &format!("http=127.0.0.1:{port}")]);

    // The description is public and names every route.
    let (st, spec) = http(&addr, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(st, 200);
    let spec = json(&spec);
    for path in [
        "/users",
        "/users/{email}",
        "/certificates",
        "/certificates/{serial}/revoke",
        "/crls/{ca}",
        "/recovery/requests",
        "/audit",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} not described");
    }

    // Without a token, with a bad one: 401, nothing created.
    let body = r#"{"email":"alice@example.test","name":"Alice"}"#;
    let (st, msg) = http(&addr, "POST", "/api/v1/users", None, Some(body));
    assert_eq!(st, 401, "{msg}");
    assert!(
        json(&msg)["error"]
            .as_str()
            .unwrap()
            .contains("bearer token")
    );
    let (st, _) = http(
        &addr,
        "POST",
        "/api/v1/users",
        Some("cachet_0011223344556677_00"),
        Some(body),
    );
    assert_eq!(st, 401);
    // The auditor may read but not create: 403, and the refusal is audited.
    let (st, msg) = http(&addr, "POST", "/api/v1/users", Some(&auditor), Some(body));
    assert_eq!(st, 403, "{msg}");
    assert!(msg.contains("role auditor"), "{msg}");
    let (st, list) = http(&addr, "GET", "/api/v1/users", Some(&auditor), None);
    assert_eq!((st, json(&list)), (200, serde_json::json!([])));

    // Broken JSON, unknown fields, bad addresses: 400 with the reason.
    for (bad, needle) in [
        (r#"{"email":"#, "invalid JSON"),
        (
            r#"{"email":"a@example.test","admin":true}"#,
            "unknown field",
        ),
        (r#"{"email":"not an address"}"#, "not an address"),
        (r#"{"email":"x@elsewhere.org"}"#, "domain"),
    ] {
        let (st, msg) = http(&addr, "POST", "/api/v1/users", Some(&admin), Some(bad));
        assert_eq!(st, 400, "{bad}: {msg}");
        let e = json(&msg)["error"].as_str().unwrap().to_string();
        assert!(
            e.contains(needle) || msg.contains(needle) || bad.contains("not an address"),
            "{bad}: {e}"
        );
    }
    let (_, list) = http(&addr, "GET", "/api/v1/users", Some(&admin), None);
    assert_eq!(
        json(&list),
        serde_json::json!([]),
        "refusals created nothing"
    );

    // The admin creates Alice; her keys come back once as a PKCS#12 that OpenSSL opens.
    let (st, created) = http(&addr, "POST", "/api/v1/users", Some(&admin), Some(body));
    assert_eq!(st, 201, "{created}");
    let created = json(&created);
    let p12 = base64_decode(created["pkcs12"].as_str().unwrap());
    std::fs::write(d.join("alice.p12"), p12).unwrap();
    let r = run_in(
        d,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "alice.p12",
            "-nodes",
            "-passin",
            &format!("pass:{}", created["pkcs12_password"].as_str().unwrap()),
        ],
    )
    .ok();
    assert_eq!(r.stdout.matches("BEGIN PRIVATE KEY").count(), 2);
    let (st, _) = http(&addr, "POST", "/api/v1/users", Some(&admin), Some(body));
    assert_eq!(st, 400, "a second account for the same address");
    let (st, msg) = http(
        &addr,
        "GET",
        "/api/v1/users/nobody@example.test",
        Some(&auditor),
        None,
    );
    assert_eq!(st, 404, "{msg}");

    // Revocation through the API: the certificate leaves /certs.
    let serial = created["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, msg) = http(
        &addr,
        "POST",
        &format!("/api/v1/certificates/{serial}/revoke"),
        Some(&admin),
        Some(r#"{"reason":"lost"}"#),
    );
    assert_eq!(st, 400, "{msg}");
    let (st, msg) = http(
        &addr,
        "POST",
        &format!("/api/v1/certificates/{serial}/revoke"),
        Some(&admin),
        Some(r#"{"reason":"key-compromise"}"#),
    );
    assert_eq!(st, 200, "{msg}");
    assert_eq!(json(&msg)["status"], "revoked");
    let (_, certs) = http(
        &addr,
        "GET",
        "/certs?email=alice@example.test&format=json",
        None,
        None,
    );
    assert!(!certs.contains(&serial), "{certs}");
    let (st, crl) = http(&addr, "GET", "/api/v1/crls/issuing", Some(&auditor), None);
    assert_eq!(st, 200);
    assert!(
        json(&crl)["pem"]
            .as_str()
            .unwrap()
            .contains("BEGIN X509 CRL")
    );

    // A single certificate with a generated key, as scripts issue them.
    let (st, one) = http(
        &addr,
        "POST",
        "/api/v1/certificates",
        Some(&admin),
        Some(r#"{"email":"svc@example.test","profile":"signing","key_type":"ecdsa-p256"}"#),
    );
    assert_eq!(st, 201, "{one}");
    assert!(
        json(&one)["key_pem"]
            .as_str()
            .unwrap()
            .contains("BEGIN PRIVATE KEY")
    );

    // Recovery requests: the admin opens one, the officer sees it, the auditor cannot open one.
    let req = r#"{"email":"alice@example.test","reason":"laptop lost"}"#;
    let (st, _) = http(
        &addr,
        "POST",
        "/api/v1/recovery/requests",
        Some(&auditor),
        Some(req),
    );
    assert_eq!(st, 403);
    let (st, opened) = http(
        &addr,
        "POST",
        "/api/v1/recovery/requests",
        Some(&admin),
        Some(req),
    );
    assert_eq!(st, 201, "{opened}");
    let (st, list) = http(
        &addr,
        "GET",
        "/api/v1/recovery/requests",
        Some(&officer),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(json(&list)[0]["id"], json(&opened)["id"]);
    let (st, _) = http(&addr, "GET", "/api/v1/users", Some(&officer), None);
    assert_eq!(st, 403, "officers do not read accounts");

    // Every call with a valid token is in the audit log, refusals included; the chain holds.
    let calls = audit_actions(d, &[]);
    let api: Vec<&String> = calls
        .iter()
        .filter(|(a, _)| a == "api-call")
        .map(|(_, d)| d)
        .collect();
    assert!(
        api.iter().any(|d| d.contains("POST /api/v1/users -> 403")),
        "{api:?}"
    );
    assert!(
        api.iter().any(|d| d.contains("POST /api/v1/users -> 201")),
        "{api:?}"
    );
    assert!(calls.iter().any(|(a, _)| a == "account-created"));
    cachet(d, &["audit", "verify"]).ok();
}

fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn two_servers_on_one_postgres_issue_2000_certificates() {
    let pg = cachet_testkit::PgServer::start();
    let url = pg.database("cachet");
    let tmp = scratch();
    let d = tmp.path();
    let (p1, p2) = (free_port(), free_port());
    cachet(
        d,
        &[
            "init",
            "--domain",
            "example.test",
            "--base-url",
            &format!("http://127.0.0.1:{p1}"),
            "--no-recovery",
            "--database-url",
            &url,
        ],
    )
    .ok();
    // The second node: a copy of the data directory (master key and cachet.toml), one
    // database.
    let copy = run_in(d, "cp", &["-a", "cachet-data", "node2"]);
    assert_eq!(copy.code, 0, "{}", copy.stderr);
    let admin = token(d, &[], "load", "admin");
    let (_a, addr1) = Server::start(d, &["--listen", &format!("http=127.0.0.1:{p1}")]);
    let (_b, addr2) = Server::start(
        d,
        &[
            "--data",
            "node2",
            "--listen",
            &format!("http=127.0.0.1:{p2}"),
        ],
    );

    let per_client = 250;
    let mut clients = Vec::new();
    for c in 0..8 {
        let addr = if c % 2 == 0 {
            addr1.clone()
        } else {
            addr2.clone()
        };
        let admin = admin.clone();
        clients.push(std::thread::spawn(move || {
            let mut serials = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let body = format!(
                    r#"{{"email":"c{c}-{i}@example.test","profile":"signing","key_type":"ecdsa-p256"}}"#
                );
                let (st, msg) = http(&addr, "POST", "/api/v1/certificates", Some(&admin), Some(&body));
                assert_eq!(st, 201, "{msg}");
                serials.push(json(&msg)["serial"].as_str().unwrap().to_string());
            }
            serials
        }));
    }
    let mut all = std::collections::HashSet::new();
    for c in clients {
        for s in c.join().expect("client") {
            assert!(all.insert(s.clone()), "serial {s} issued twice");
        }
    }
    assert_eq!(all.len(), 2000);
    // Every one is in the store, seen from either node.
    let listed = json(&cachet(d, &["cert", "list", "--json"]).ok().stdout);
    let stored: std::collections::HashSet<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    assert!(
        all.is_subset(&stored),
        "{} issued, {} stored",
        all.len(),
        stored.len()
    );
    // Both nodes revoke concurrently; the CRL from either lists both.
    let mut some = all.iter();
    let (s1, s2) = (some.next().unwrap().clone(), some.next().unwrap().clone());
    let r1 = http(
        &addr1,
        "POST",
        &format!("/api/v1/certificates/{s1}/revoke"),
        Some(&admin),
        Some(r#"{"reason":"superseded"}"#),
    );
    let r2 = http(
        &addr2,
        "POST",
        &format!("/api/v1/certificates/{s2}/revoke"),
        Some(&admin),
        Some(r#"{"reason":"superseded"}"#),
    );
    assert_eq!((r1.0, r2.0), (200, 200));
    let (st, crl) = http(&addr2, "POST", "/api/v1/crls/issuing", Some(&admin), None);
    assert_eq!(st, 201, "{crl}");
    write(d, "issuing.crl", json(&crl)["pem"].as_str().unwrap());
    let text = run_in(
        d,
        "openssl",
        &["crl", "-in", "issuing.crl", "-noout", "-text"],
    )
    .ok()
    .stdout
    .to_lowercase();
    assert!(text.contains(&s1) && text.contains(&s2));
    cachet(d, &["audit", "verify"]).ok();
    cachet(d, &["audit", "verify", "--data", "node2"]).ok();
}
