//! `cachet serve` as a new user meets it (issue #6): a fresh `cachet init` directory whose
//! base URL is the server's address, Alice's certificate issued, the server started with
//! `--listen http=127.0.0.1:PORT`, and then `curl` and `openssl` — the peers that relying
//! parties use — fetch her certificate, the CRL named in it (verified by OpenSSL), validate
//! her certificate with `-crl_download`, and ask the OCSP responder, before and after she is
//! revoked by `cachet cert revoke` running beside the server. Bad requests get clear 4xx
//! answers (OCSP: a malformedRequest response), and SIGTERM stops the server with status 0.
//!
//! The server is killed by a guard if a test fails; every wait is bounded.

mod common;
use common::server::{Server, free_port};
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `curl` of `url` into `out`; returns the HTTP status.
fn curl(dir: &Path, url: &str, out: &Path, extra: &[&str]) -> u16 {
    let o = out.display().to_string();
    let mut args = vec!["-sS", "-o", &o, "-w", "%{http_code}", "--max-time", "30"];
    args.extend_from_slice(extra);
    args.push(url);
    let r = run_in(dir, "curl", &args);
    assert_eq!(r.code, 0, "curl {url}: {}", r.stderr);
    r.stdout.trim().parse().expect("an HTTP status")
}

/// The CRL distribution point URL in a certificate.
fn crl_url(dir: &Path, cert: &Path) -> String {
    let r = run_in(
        dir,
        "openssl",
        &[
            "x509",
            "-in",
            &cert.display().to_string(),
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    )
    .ok();
    r.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("URI:"))
        .unwrap_or_else(|| panic!("no CRL URL in {}", r.stdout))
        .to_string()
}

fn ocsp_status(dir: &Path, issuing: &Path, cert: &Path, chain: &Path, url: &str) -> Run {
    run_in(
        dir,
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &issuing.display().to_string(),
            "-cert",
            &cert.display().to_string(),
            "-url",
            url,
            "-CAfile",
            &chain.display().to_string(),
            "-timeout",
            "30",
        ],
    )
}

#[test]
fn serve_publishes_certificates_crls_and_ocsp_to_curl_and_openssl() {
    require("curl", "apt-get install curl");
    require("openssl", "apt-get install openssl");
    let tmp = scratch();
    let dir = tmp.path();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    cachet(
        dir,
        &["init", "--domain", "example.test", "--base-url", &base],
    )
    .ok();
    // As a new user would: an account, which enrolls her at once.
    let added = cachet(dir, &["user", "add", "alice@example.test", "--json"]).ok();
    let added: serde_json::Value = serde_json::from_str(&added.stdout).unwrap();
    let mut enrolled: Vec<String> = added["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    enrolled.sort();
    assert_eq!(
        enrolled.len(),
        2,
        "signing and encryption (key recovery is on)"
    );
    let (issuing, root) = write_chain(dir);
    let chain = dir.join("chain.pem");
    std::fs::write(
        &chain,
        std::fs::read_to_string(&issuing).unwrap() + &std::fs::read_to_string(&root).unwrap(),
    )
    .unwrap();

    let listen = format!("http=127.0.0.1:{port}");
    let (mut server, addr) = Server::start(dir, &["--listen", &listen]);
    assert_eq!(addr, format!("127.0.0.1:{port}"));

    // Her current certificates, looked up by address, are the two issued.
    let got = dir.join("got.json");
    let url = format!("{base}/certs?email=alice@example.test&format=json");
    assert_eq!(curl(dir, &url, &got, &[]), 200);
    let looked_up: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&got).unwrap()).unwrap();
    let mut served: Vec<String> = looked_up
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    served.sort();
    assert_eq!(served, enrolled);
    let signing = looked_up
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["profile"] == "signing")
        .unwrap();
    let cert: PathBuf = dir.join("cert.pem");
    std::fs::write(&cert, signing["pem"].as_str().unwrap()).unwrap();
    // The PEM form holds the same certificates.
    let pem = dir.join("got.pem");
    let url = format!("{base}/certs?email=alice@example.test");
    assert_eq!(curl(dir, &url, &pem, &[]), 200);
    let pem = std::fs::read_to_string(&pem).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(pem.contains(signing["pem"].as_str().unwrap().trim()));

    // The CRL at the URL written in her certificate verifies under the chain.
    let url = crl_url(dir, &cert);
    assert!(url.starts_with(&base), "{url}");
    let crl = dir.join("issuing.crl");
    assert_eq!(curl(dir, &url, &crl, &[]), 200);
    let r = run_in(
        dir,
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-CAfile",
            &chain.display().to_string(),
            "-verify",
            "-noout",
        ],
    );
    assert!(
        r.code == 0 && format!("{}{}", r.stdout, r.stderr).contains("verify OK"),
        "openssl crl -verify: {} {}",
        r.stdout,
        r.stderr
    );

    // OpenSSL validates her certificate, downloading the CRLs itself.
    let r = run_in(
        dir,
        "openssl",
        &[
            "verify",
            "-crl_download",
            "-crl_check",
            "-CAfile",
            &root.display().to_string(),
            "-untrusted",
            &issuing.display().to_string(),
            &cert.display().to_string(),
        ],
    );
    assert!(
        r.code == 0 && r.stdout.contains(": OK"),
        "openssl verify: {} {}",
        r.stdout,
        r.stderr
    );

    // The OCSP responder says good, with a response OpenSSL verifies.
    let ocsp_url = format!("{base}/ocsp");
    let r = ocsp_status(dir, &issuing, &cert, &chain, &ocsp_url);
    assert!(
        r.code == 0
            && r.stdout.contains("cert.pem: good")
            && r.stderr.contains("Response verify OK"),
        "openssl ocsp: {} {}",
        r.stdout,
        r.stderr
    );

    // Revoked beside the running server (same data directory, SQLite WAL).
    let serial = serial_of(dir, &cert);
    cachet(
        dir,
        &["cert", "revoke", &serial, "--reason", "key-compromise"],
    )
    .ok();
    let r = ocsp_status(dir, &issuing, &cert, &chain, &ocsp_url);
    assert!(
        r.code == 0 && r.stdout.contains("cert.pem: revoked") && r.stdout.contains("keyCompromise"),
        "openssl ocsp after revocation: {} {}",
        r.stdout,
        r.stderr
    );
    // The server re-checks its CRL at most once a second: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(20);
    let listed = loop {
        assert_eq!(curl(dir, &url, &crl, &[]), 200);
        let text = run_in(
            dir,
            "openssl",
            &[
                "crl",
                "-inform",
                "DER",
                "-in",
                "issuing.crl",
                "-noout",
                "-text",
            ],
        )
        .ok()
        .stdout;
        if text.to_ascii_lowercase().contains(&serial) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(listed, "the CRL never listed the revoked serial {serial}");
    // Her revoked certificate has left the lookup; the encryption certificate remains.
    assert_eq!(
        curl(
            dir,
            &format!("{base}/certs?email=alice@example.test&format=json"),
            &got,
            &[]
        ),
        200
    );
    let left = std::fs::read_to_string(&got).unwrap();
    assert!(!left.contains(&serial), "{left}");
    assert!(left.contains("encryption"), "{left}");
    // Disabling her account removes the rest: the lookup then has nothing for her.
    cachet(dir, &["user", "disable", "alice@example.test"]).ok();
    assert_eq!(
        curl(
            dir,
            &format!("{base}/certs?email=alice@example.test"),
            &got,
            &[]
        ),
        404
    );

    // Bad input: clear 4xx answers; OCSP garbage gets 400 with OCSP's own error response.
    let garbage = write(dir, "garbage.bin", b"this is not an OCSP request");
    let resp = dir.join("resp.der");
    let data = format!("@{garbage}");
    let status = curl(
        dir,
        &ocsp_url,
        &resp,
        &[
            "-H",
            "Content-Type: application/ocsp-request",
            "--data-binary",
            &data,
        ],
    );
    assert_eq!(status, 400);
    assert_eq!(
        std::fs::read(&resp).unwrap(),
        [0x30, 0x03, 0x0a, 0x01, 0x01]
    );
    let err = dir.join("err.txt");
    assert_eq!(curl(dir, &format!("{base}/certs"), &err, &[]), 400);
    assert!(std::fs::read_to_string(&err).unwrap().contains("\"error\""));
    assert_eq!(
        curl(
            dir,
            &format!("{base}/certs?email=nobody@example.test"),
            &err,
            &[]
        ),
        404
    );
    assert_eq!(curl(dir, &format!("{base}/crl/nope.crl"), &err, &[]), 404);
    assert_eq!(curl(dir, &format!("{base}/health"), &err, &[]), 200);

    assert_eq!(server.terminate(), 0, "{}", server.log.join("\n"));
    assert!(
        server.log.iter().any(|l| l.contains("SIGTERM")),
        "{}",
        server.log.join("\n")
    );
}

#[test]
fn serve_refuses_services_this_release_does_not_have() {
    let tmp = scratch();
    let r = cachet(tmp.path(), &["serve", "--listen", "imap=127.0.0.1:0"]);
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("imap service is not available in this release"),
        "{}",
        r.stderr
    );
    let r = cachet(tmp.path(), &["serve", "--listen", "http=nowhere"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not an address"), "{}", r.stderr);
    // No data directory: says how to make one.
    let r = cachet(tmp.path(), &["serve", "--listen", "http=127.0.0.1:0"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cachet init"), "{}", r.stderr);
}
