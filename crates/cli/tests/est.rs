//! EST (RFC 7030) over the https listener of `cachet serve`, as a user meets it (issue #6,
//! deliverable 4): a fresh `cachet init`, Alice's account with an EST password, the server
//! started with `--listen http=… --listen https=…`, and then `curl` (pinning the server's
//! self-signed certificate `DATA/tls/server.pem`) and `openssl` do what an EST client does:
//! fetch the CA certificates, enroll a CSR with HTTP Basic, have the server generate a key,
//! and re-enroll with the TLS client certificate they got. Bad credentials, a CSR for another
//! mailbox, a garbage body and EST on the plain-HTTP port get clear 4xx answers.
//!
//! The server is killed by a guard if a test fails; every wait is bounded.

mod common;
use common::server::{Server, free_port};
use common::*;
use std::path::Path;

const PASSWORD: &str = "correct horse battery staple";

/// What one `curl` call returned.
struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `curl` of `url` with `extra` options; the body goes to `dir/out`.
fn curl(dir: &Path, url: &str, out: &str, extra: &[&str]) -> Reply {
    let headers = format!("{out}.headers");
    let mut args = vec![
        "-sS",
        "-o",
        out,
        "-D",
        &headers,
        "-w",
        "%{http_code}",
        "--max-time",
        "60",
        "--cacert",
        "cachet-data/tls/server.pem",
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let r = run_in(dir, "curl", &args);
    assert_eq!(r.code, 0, "curl {url}: {}", r.stderr);
    Reply {
        status: r.stdout.trim().parse().expect("an HTTP status"),
        headers: std::fs::read_to_string(dir.join(&headers)).unwrap_or_default(),
        body: std::fs::read(dir.join(out)).unwrap_or_default(),
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Run {
    run_in(dir, "openssl", args).ok()
}

/// Decodes the base64 file `b64` (lines of any length) into `der`.
fn unbase64(dir: &Path, b64: &str, der: &str) {
    openssl(dir, &["base64", "-d", "-in", b64, "-out", der]);
    assert!(
        std::fs::metadata(dir.join(der))
            .map(|m| m.len())
            .unwrap_or(0)
            > 0,
        "{b64} is not base64: {}",
        std::fs::read_to_string(dir.join(b64)).unwrap_or_default()
    );
}

/// The certificates of a base64 certs-only SignedData in `b64`, written as PEM to `pem`;
/// returns the `-print_certs` output.
fn certs_only(dir: &Path, b64: &str, pem: &str) -> String {
    let der = format!("{b64}.der");
    unbase64(dir, b64, &der);
    openssl(
        dir,
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            &der,
            "-print_certs",
            "-out",
            pem,
        ],
    );
    std::fs::read_to_string(dir.join(pem)).unwrap_or_default()
}

/// The public key of a certificate (PEM) and of a private key, as OpenSSL prints them.
fn cert_pubkey(dir: &Path, cert: &str) -> String {
    openssl(dir, &["x509", "-in", cert, "-noout", "-pubkey"]).stdout
}

fn key_pubkey(dir: &Path, key: &str, inform: &str) -> String {
    openssl(dir, &["pkey", "-inform", inform, "-in", key, "-pubout"]).stdout
}

/// A new P-256 key `NAME.key` and a CSR for `email`, base64 (64-column lines, as `openssl
/// base64` writes them) in `NAME.b64`.
fn csr(dir: &Path, name: &str, email: &str) -> String {
    let key = format!("{name}.key");
    let der = format!("{name}.csr.der");
    let b64 = format!("{name}.b64");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-subj",
            "/CN=Alice",
            "-addext",
            &format!("subjectAltName=email:{email}"),
            "-outform",
            "DER",
            "-out",
            &der,
        ],
    );
    openssl(dir, &["base64", "-in", &der, "-out", &b64]);
    b64
}

/// The status of certificate `serial` in `cachet user show EMAIL --json`.
fn status_of(dir: &Path, email: &str, serial: &str) -> String {
    let r = cachet(dir, &["user", "show", email, "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    v["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .find(|c| c["serial"].as_str() == Some(serial))
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("no certificate {serial} in {}", r.stdout))
        .to_string()
}

/// The two parts of a serverkeygen reply (RFC 7030 §4.4.2): (content type, body) each.
fn multipart(reply: &Reply) -> Vec<(String, String)> {
    let ct = reply.header("content-type").expect("a Content-Type");
    assert!(ct.starts_with("multipart/mixed"), "{ct}");
    let boundary = ct
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("a boundary")
        .trim_matches('"')
        .to_string();
    let text = reply.text();
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in text.split(delimiter.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let (head, body) = chunk
            .split_once("\r\n\r\n")
            .expect("part headers end with an empty line");
        let ctype = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-type")
                    .then(|| v.trim().to_string())
            })
            .expect("a part Content-Type");
        parts.push((ctype, body.trim().to_string()));
    }
    parts
}

#[test]
fn est_enrolls_with_curl_and_openssl_over_tls() {
    require("curl", "apt-get install curl");
    require("openssl", "apt-get install openssl");
    let tmp = scratch();
    let dir = tmp.path();
    let http_port = free_port();
    let base = format!("http://127.0.0.1:{http_port}");
    cachet(
        dir,
        &["init", "--domain", "example.test", "--base-url", &base],
    )
    .ok();
    write(dir, "pw", format!("{PASSWORD}\n"));
    cachet(
        dir,
        &["user", "add", "alice@example.test", "--password-file", "pw"],
    )
    .ok();
    let (issuing, root) = write_chain(dir);
    let (issuing, root) = (issuing.display().to_string(), root.display().to_string());

    let (mut server, http) = Server::start(
        dir,
        &[
            "--listen",
            &format!("http=127.0.0.1:{http_port}"),
            "--listen",
            "https=127.0.0.1:0",
            "--listen",
            "ldap=127.0.0.1:0",
        ],
    );
    let https = server.wait_for("cachet: https listening on ");
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains("tls/server.pem") && l.contains("SHA-256 fingerprint")),
        "the certificate's path and fingerprint are printed: {}",
        server.log.join("\n")
    );
    let est = format!("https://{https}/.well-known/est");
    let alice = format!("alice@example.test:{PASSWORD}");

    // The server certificate names the loopback address and serves TLS only for serverAuth.
    let tls = openssl(
        dir,
        &[
            "x509",
            "-in",
            "cachet-data/tls/server.pem",
            "-noout",
            "-ext",
            "subjectAltName,extendedKeyUsage",
        ],
    )
    .stdout;
    assert!(
        tls.contains("IP Address:127.0.0.1") && tls.contains("DNS:localhost"),
        "{tls}"
    );
    assert!(tls.contains("TLS Web Server Authentication"), "{tls}");

    // cacerts (§4.1): the issuing CA and the root, certs-only, base64.
    let r = curl(dir, &format!("{est}/cacerts"), "cacerts.b64", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/pkcs7-mime")
    );
    assert_eq!(
        r.header("content-transfer-encoding").as_deref(),
        Some("base64")
    );
    let cas = certs_only(dir, "cacerts.b64", "cacerts.pem");
    assert_eq!(cas.matches("BEGIN CERTIFICATE").count(), 2, "{cas}");
    for f in [&issuing, &root] {
        let pem = std::fs::read_to_string(f).unwrap();
        assert!(cas.contains(pem.trim()), "cacerts lacks {f}: {cas}");
    }

    // simpleenroll (§4.2.1) with HTTP Basic: a certificate for the CSR's key, chaining to
    // the root.
    let b64 = csr(dir, "alice", "alice@example.test");
    let r = curl(
        dir,
        &format!("{est}/simpleenroll"),
        "enrolled.b64",
        &[
            "--user",
            &alice,
            "--data-binary",
            &format!("@{b64}"),
            "-H",
            "Content-Type: application/pkcs10",
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/pkcs7-mime; smime-type=certs-only")
    );
    let certs = certs_only(dir, "enrolled.b64", "alice.pem");
    assert_eq!(certs.matches("BEGIN CERTIFICATE").count(), 1, "{certs}");
    assert_eq!(
        cert_pubkey(dir, "alice.pem"),
        key_pubkey(dir, "alice.key", "PEM")
    );
    let v = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            &root,
            "-untrusted",
            &issuing,
            "alice.pem",
        ],
    );
    assert!(v.stdout.contains("alice.pem: OK"), "{}", v.stdout);
    let first_serial = serial_of(dir, &dir.join("alice.pem"));
    assert_eq!(status_of(dir, "alice@example.test", &first_serial), "valid");

    // serverkeygen (§4.4), default label: a PKCS#8 key and a certificate that match.
    let r = curl(
        dir,
        &format!("{est}/serverkeygen"),
        "keygen.txt",
        &["--user", &alice, "--data-binary", &format!("@{b64}")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let parts = multipart(&r);
    assert_eq!(parts.len(), 2, "{}", r.text());
    assert_eq!(parts[0].0, "application/pkcs8");
    assert_eq!(parts[1].0, "application/pkcs7-mime; smime-type=certs-only");
    write(dir, "generated.key.b64", format!("{}\n", parts[0].1));
    unbase64(dir, "generated.key.b64", "generated.key.der");
    write(dir, "generated.p7.b64", format!("{}\n", parts[1].1));
    certs_only(dir, "generated.p7.b64", "generated.pem");
    assert_eq!(
        cert_pubkey(dir, "generated.pem"),
        key_pubkey(dir, "generated.key.der", "DER")
    );
    let v = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            &root,
            "-untrusted",
            &issuing,
            "generated.pem",
        ],
    );
    assert!(v.stdout.contains("generated.pem: OK"), "{}", v.stdout);
    // The same under the encryption label (§3.2.2).
    let r = curl(
        dir,
        &format!("{est}/encryption/serverkeygen"),
        "keygen2.txt",
        &["--user", &alice, "--data-binary", &format!("@{b64}")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(multipart(&r).len(), 2);

    // simplereenroll (§4.2.2) authenticated by the TLS client certificate alone: a new
    // certificate, and the one it renews is superseded.
    let b64_new = csr(dir, "alice2", "alice@example.test");
    let r = curl(
        dir,
        &format!("{est}/simplereenroll"),
        "reenrolled.b64",
        &[
            "--cert",
            "alice.pem",
            "--key",
            "alice.key",
            "--data-binary",
            &format!("@{b64_new}"),
            "-H",
            "Content-Type: application/pkcs10",
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    certs_only(dir, "reenrolled.b64", "alice2.pem");
    assert_eq!(
        cert_pubkey(dir, "alice2.pem"),
        key_pubkey(dir, "alice2.key", "PEM")
    );
    let second_serial = serial_of(dir, &dir.join("alice2.pem"));
    assert_ne!(first_serial, second_serial);
    assert_eq!(
        status_of(dir, "alice@example.test", &first_serial),
        "superseded"
    );
    assert_eq!(
        status_of(dir, "alice@example.test", &second_serial),
        "valid"
    );

    // The superseded certificate no longer authenticates.
    let r = curl(
        dir,
        &format!("{est}/simplereenroll"),
        "stale.txt",
        &[
            "--cert",
            "alice.pem",
            "--key",
            "alice.key",
            "--data-binary",
            &format!("@{b64}"),
        ],
    );
    assert_eq!(r.status, 401, "{}", r.text());

    // A wrong password, or no credentials at all: 401 with the Basic challenge.
    for extra in [
        &["--user", "alice@example.test:not the password"][..],
        &[][..],
    ] {
        let mut args = extra.to_vec();
        let data = format!("@{b64}");
        args.extend_from_slice(&["--data-binary", &data]);
        let r = curl(dir, &format!("{est}/simpleenroll"), "denied.txt", &args);
        assert_eq!(r.status, 401, "{}", r.text());
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Basic realm=\"cachet-est\""),
            "{challenge}"
        );
    }

    // A CSR for bob while authenticated as alice: 400, saying so.
    let bob = csr(dir, "bob", "bob@example.test");
    let r = curl(
        dir,
        &format!("{est}/simpleenroll"),
        "bob.txt",
        &["--user", &alice, "--data-binary", &format!("@{bob}")],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("bob@example.test"), "{}", r.text());

    // A body that is not a base64 CSR: 400 with one line.
    for (i, body) in ["this is not base64!", "aGVsbG8gd29ybGQ="]
        .iter()
        .enumerate()
    {
        let r = curl(
            dir,
            &format!("{est}/simpleenroll"),
            &format!("garbage{i}.txt"),
            &["--user", &alice, "--data-binary", body],
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.text().trim().lines().count(), 1, "{}", r.text());
    }

    // EST is not served over plain HTTP.
    let r = curl(
        dir,
        &format!("http://{http}/.well-known/est/cacerts"),
        "plain.txt",
        &[],
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().contains("only over TLS"), "{}", r.text());
    // The other routes are served over TLS as well.
    let r = curl(dir, &format!("https://{https}/health"), "health.txt", &[]);
    assert_eq!(r.status, 200, "{}", r.text());

    assert_eq!(server.terminate(), 0, "{}", server.log.join("\n"));
    let audit = cachet(dir, &["audit", "verify"]);
    assert_eq!(audit.code, 0, "{} {}", audit.stdout, audit.stderr);
}

#[test]
fn serve_reuses_its_tls_certificate_and_refuses_unreadable_tls_settings() {
    require("curl", "apt-get install curl");
    require("openssl", "apt-get install openssl");
    let tmp = scratch();
    let dir = tmp.path();
    cachet(
        dir,
        &[
            "init",
            "--domain",
            "example.test",
            "--base-url",
            "http://pki.example.test",
        ],
    )
    .ok();
    let args = [
        "--listen",
        "http=127.0.0.1:0",
        "--listen",
        "https=127.0.0.1:0",
        "--listen",
        "ldap=127.0.0.1:0",
    ];
    let fingerprint = |server: &Server| {
        server
            .log
            .iter()
            .find_map(|l| l.split("SHA-256 fingerprint ").nth(1))
            .map(|f| f.trim_end_matches(')').to_string())
            .unwrap_or_else(|| panic!("no fingerprint in {}", server.log.join("\n")))
    };
    // Both listeners answer before the server is stopped (its signal handlers are set up
    // by then).
    let answer = |http: &str, https: &str| {
        for url in [
            format!("http://{http}/health"),
            format!("https://{https}/health"),
        ] {
            assert_eq!(curl(dir, &url, "health.txt", &[]).status, 200, "{url}");
        }
    };
    let (mut first, http) = Server::start(dir, &args);
    let https = first.wait_for("cachet: https listening on ");
    answer(&http, &https);
    let made = fingerprint(&first);
    assert!(
        first
            .log
            .iter()
            .any(|l| l.contains("made a self-signed certificate")),
        "{}",
        first.log.join("\n")
    );
    assert_eq!(first.terminate(), 0);
    let key = dir.join("cachet-data/tls/server.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let san = openssl(
        dir,
        &[
            "x509",
            "-in",
            "cachet-data/tls/server.pem",
            "-noout",
            "-ext",
            "subjectAltName",
        ],
    )
    .stdout;
    assert!(san.contains("DNS:pki.example.test"), "{san}");
    let (mut second, http) = Server::start(dir, &args);
    let https = second.wait_for("cachet: https listening on ");
    answer(&http, &https);
    assert_eq!(fingerprint(&second), made, "the certificate is reused");
    assert_eq!(second.terminate(), 0);

    // [tls] naming files that do not exist: exit 2 naming the file, before anything starts.
    write(
        dir,
        "bad.toml",
        "[tls]\ncertificate = \"/nonexistent/server.pem\"\nkey = \"/nonexistent/server.key\"\n",
    );
    let r = cachet(
        dir,
        &[
            "serve",
            "--config",
            "bad.toml",
            "--listen",
            "http=127.0.0.1:0",
        ],
    );
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("/nonexistent/server.pem"), "{}", r.stderr);
}
