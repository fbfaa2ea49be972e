//! Revocation over the network (issue 4, point 2), end to end with the `cachet` binary: a
//! small PKI made with `openssl ca`, a signer whose certificate names a CRL distribution
//! point and an OCSP responder on loopback ports, and `cachet smime verify` against
//!
//! - a distribution point that accepts connections and never answers (`crl-unavailable`
//!   within `--fetch-timeout`, an error under `--revocation require`, a warning under
//!   `prefer`);
//! - a distribution point serving an `openssl ca -gencrl` CRL that revokes the signer
//!   (`revoked`, with the reason and the date);
//! - `openssl ocsp` as the responder answering good, revoked and unknown;
//! - `--offline`, which must not open a single connection.
//!
//! Every server is on 127.0.0.1 with a port the test bound first; loops are bounded; the
//! `openssl ocsp` process is killed when its guard drops, also when an assertion fails.

mod common;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MESSAGE: &str = "From: Alice <alice@example.com>\nTo: Bob <bob@example.com>\nSubject: revocation\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\nSigned text.\n";

/// `openssl args` in `dir`; panics unless it succeeds.
fn openssl(dir: &Path, args: &[&str]) -> Run {
    run_in(dir, "openssl", args).ok()
}

/// How the loopback HTTP server answers each connection.
#[derive(Clone)]
enum Behaviour {
    /// Accept, read nothing, answer nothing; keep the connection open.
    Hang,
    /// 200 with this body.
    Serve(Vec<u8>),
    /// 404.
    NotFound,
}

/// A loopback HTTP server on a listener the test bound, counting connections. It stops
/// (and drops the connections it holds) when dropped, or after a minute at most.
struct HttpServer {
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    fn start(listener: TcpListener, behaviour: Behaviour) -> HttpServer {
        listener.set_nonblocking(true).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            let end = Instant::now() + Duration::from_secs(60);
            while !s.load(Ordering::SeqCst) && Instant::now() < end {
                match listener.accept() {
                    Ok((conn, _)) => {
                        h.fetch_add(1, Ordering::SeqCst);
                        answer(conn, &behaviour, &mut held);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => break,
                }
            }
        });
        HttpServer { hits, stop }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn answer(mut conn: TcpStream, behaviour: &Behaviour, held: &mut Vec<TcpStream>) {
    let _ = conn.set_nonblocking(false);
    if let Behaviour::Hang = behaviour {
        held.push(conn);
        return;
    }
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    // The request head (a GET has no body).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let response = match behaviour {
        Behaviour::Serve(body) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(body);
            r
        }
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    let _ = conn.write_all(&response);
}

/// A loopback listener on an ephemeral port.
fn bind() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// The `openssl ca` configuration: a root, signers with a CRL distribution point and/or an
/// OCSP responder, and a delegated OCSP responder certificate (id-kp-OCSPSigning).
fn openssl_cnf(dp_port: u16, ocsp_port: u16) -> String {
    format!(
        r#"[ ca ]
default_ca = CA_default

[ CA_default ]
dir = .
database = index.txt
new_certs_dir = newcerts
serial = serial
crlnumber = crlnumber
certificate = root.pem
private_key = root.key
default_md = sha256
default_days = 30
default_crl_days = 7
policy = policy_any
unique_subject = no
copy_extensions = none
crl_extensions = crl_ext

[ policy_any ]
commonName = supplied

[ req ]
distinguished_name = dn
prompt = no

[ dn ]
CN = Revocation Test Root

[ root_ext ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ signer_dp ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = emailProtection
subjectAltName = email:alice@example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:http://127.0.0.1:{dp_port}/ca.crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1:{ocsp_port}/

[ signer_ocsp ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = emailProtection
subjectAltName = email:alice@example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = OCSP;URI:http://127.0.0.1:{ocsp_port}/

[ responder ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"#
    )
}

fn p256_key(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            name,
        ],
    );
}

/// `openssl ca` issues `name.pem` (key `name.key`) with the extension section `ext`.
fn issue_with_ca(dir: &Path, name: &str, cn: &str, ext: &str) {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let cert = format!("{name}.pem");
    p256_key(dir, &key);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN={cn}"),
            "-config",
            "openssl.cnf",
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-notext",
            "-config",
            "openssl.cnf",
            "-extensions",
            ext,
            "-in",
            &csr,
            "-out",
            &cert,
        ],
    );
}

/// In `dir`: root.pem/root.key, the CA database, alice.pem/alice.key issued with the
/// extension section `signer_ext`, the responder's responder.pem/responder.key, and
/// signed.eml, signed by Alice with `cachet smime sign`.
fn make_pki(dir: &Path, dp_port: u16, ocsp_port: u16, signer_ext: &str) {
    require("openssl", "apt-get install openssl");
    std::fs::write(dir.join("openssl.cnf"), openssl_cnf(dp_port, ocsp_port)).unwrap();
    std::fs::create_dir(dir.join("newcerts")).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "1000\n").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    p256_key(dir, "root.key");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-config",
            "openssl.cnf",
            "-extensions",
            "root_ext",
            "-days",
            "365",
            "-out",
            "root.pem",
        ],
    );
    issue_with_ca(dir, "alice", "Alice", signer_ext);
    issue_with_ca(
        dir,
        "responder",
        "Revocation Test OCSP Responder",
        "responder",
    );
    write(dir, "msg.eml", MESSAGE);
    cachet(
        dir,
        &[
            "smime",
            "sign",
            "--cert",
            "alice.pem",
            "--key",
            "alice.key",
            "--in",
            "msg.eml",
            "--out",
            "signed.eml",
        ],
    )
    .ok();
}

/// Revokes Alice in the CA database with reason keyCompromise; returns the revocation
/// time as the verdict prints it (RFC 3339, from index.txt's `YYMMDDHHMMSSZ`).
fn revoke_alice(dir: &Path) -> String {
    openssl(
        dir,
        &[
            "ca",
            "-config",
            "openssl.cnf",
            "-revoke",
            "alice.pem",
            "-crl_reason",
            "keyCompromise",
        ],
    );
    let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
    let line = index
        .lines()
        .find(|l| l.starts_with('R') && l.ends_with("/CN=Alice"))
        .unwrap_or_else(|| panic!("Alice is not revoked in index.txt:\n{index}"));
    let when = line.split('\t').nth(2).unwrap();
    let (t, reason) = when.split_once(',').unwrap();
    assert_eq!(reason, "keyCompromise");
    let b = t.as_bytes();
    assert_eq!(b.len(), 13, "{t}");
    format!(
        "20{}-{}-{}T{}:{}:{}Z",
        &t[0..2],
        &t[2..4],
        &t[4..6],
        &t[6..8],
        &t[8..10],
        &t[10..12]
    )
}

/// `cachet smime verify --trust root.pem --json --in signed.eml` with `extra`.
fn verify(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "smime",
        "verify",
        "--trust",
        "root.pem",
        "--json",
        "--in",
        "signed.eml",
    ];
    args.extend_from_slice(extra);
    cachet(dir, &args)
}

/// Every finding of a `--json` verdict (the message's and each signer's) as
/// (code, severity, message).
fn findings(r: &Run) -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", r.stdout, r.stderr));
    let mut all: Vec<&Value> = v["findings"].as_array().into_iter().flatten().collect();
    for s in v["signers"].as_array().into_iter().flatten() {
        all.extend(s["findings"].as_array().into_iter().flatten());
    }
    all.into_iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default().to_string(),
                f["severity"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The finding with `code`; panics (showing the output) when there is none.
fn finding(r: &Run, code: &str) -> (String, String) {
    findings(r)
        .into_iter()
        .find(|(c, _, _)| c == code)
        .map(|(_, s, m)| (s, m))
        .unwrap_or_else(|| panic!("no {code} finding: {} {}", r.stdout, r.stderr))
}

#[test]
fn a_hanging_distribution_point_is_crl_unavailable_within_the_timeout() {
    let t = scratch();
    let dir = t.path();
    let (dp, dp_port) = bind();
    let (ocsp, ocsp_port) = bind();
    make_pki(dir, dp_port, ocsp_port, "signer_dp");
    let dp = HttpServer::start(dp, Behaviour::Hang);
    let ocsp = HttpServer::start(ocsp, Behaviour::NotFound);
    let url = format!("http://127.0.0.1:{dp_port}/ca.crl");

    let start = Instant::now();
    let r = verify(dir, &["--revocation", "require", "--fetch-timeout", "3"]);
    let took = start.elapsed();
    eprintln!("require, hanging distribution point: {took:?}");
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let (severity, message) = finding(&r, "crl-unavailable");
    eprintln!("{message}");
    assert_eq!(severity, "error");
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("timed out after 3 s"), "{message}");
    // One fetch of 3 s (the failure is remembered for the run), an OCSP 404, start-up.
    assert!(took < Duration::from_secs(3 + 5), "took {took:?}");
    assert_eq!(dp.hits(), 1, "the hanging distribution point is tried once");

    let start = Instant::now();
    let r = verify(dir, &["--revocation", "prefer", "--fetch-timeout", "3"]);
    let took = start.elapsed();
    eprintln!("prefer, hanging distribution point: {took:?}");
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let (severity, message) = finding(&r, "crl-unavailable");
    assert_eq!(severity, "warning");
    assert!(message.contains(&url), "{message}");
    assert!(took < Duration::from_secs(3 + 5), "took {took:?}");
    assert!(
        ocsp.hits() >= 1,
        "the OCSP responder is asked after the CRL failed"
    );
}

#[test]
fn the_default_fetch_timeout_is_ten_seconds() {
    let t = scratch();
    let dir = t.path();
    let (dp, dp_port) = bind();
    let (ocsp, ocsp_port) = bind();
    make_pki(dir, dp_port, ocsp_port, "signer_dp");
    let _dp = HttpServer::start(dp, Behaviour::Hang);
    let _ocsp = HttpServer::start(ocsp, Behaviour::NotFound);
    let start = Instant::now();
    let r = verify(dir, &["--revocation", "require"]);
    let took = start.elapsed();
    eprintln!("require, hanging distribution point, default timeout: {took:?}");
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let (_, message) = finding(&r, "crl-unavailable");
    assert!(message.contains("timed out after 10 s"), "{message}");
    assert!(took < Duration::from_secs(10 + 5), "took {took:?}");
}

#[test]
fn a_signer_revoked_on_the_fetched_crl_is_revoked_with_reason_and_date() {
    let t = scratch();
    let dir = t.path();
    let (dp, dp_port) = bind();
    let (ocsp, ocsp_port) = bind();
    make_pki(dir, dp_port, ocsp_port, "signer_dp");
    let revoked_at = revoke_alice(dir);
    openssl(
        dir,
        &["ca", "-config", "openssl.cnf", "-gencrl", "-out", "ca.crl"],
    );
    openssl(
        dir,
        &[
            "crl",
            "-in",
            "ca.crl",
            "-outform",
            "DER",
            "-out",
            "ca.crl.der",
        ],
    );
    let crl = std::fs::read(dir.join("ca.crl.der")).unwrap();
    let dp = HttpServer::start(dp, Behaviour::Serve(crl));
    let ocsp = HttpServer::start(ocsp, Behaviour::NotFound);

    let r = verify(dir, &["--revocation", "require", "--fetch-timeout", "5"]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let (severity, message) = finding(&r, "revoked");
    assert_eq!(severity, "error");
    assert!(message.contains("(reason: key-compromise)"), "{message}");
    assert!(message.contains(&revoked_at), "{revoked_at}: {message}");
    assert_eq!(dp.hits(), 1);
    assert_eq!(ocsp.hits(), 0, "the CRL decided: no OCSP");

    // With --data DIR, fetched CRLs are kept in DIR/crl-cache: the next run (a new
    // process) reads the CRL from there, not from the distribution point.
    init_ca(dir, "ecdsa-p256");
    let with_cache = [
        "--revocation",
        "require",
        "--data",
        "cachet-data",
        "--fetch-timeout",
        "5",
    ];
    let r = verify(dir, &with_cache);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    finding(&r, "revoked");
    assert_eq!(dp.hits(), 2);
    let cached: Vec<_> = std::fs::read_dir(dir.join("cachet-data/crl-cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].extension().is_some_and(|e| e == "crl"));
    let r = verify(dir, &with_cache);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    finding(&r, "revoked");
    assert_eq!(dp.hits(), 2, "the cached CRL is used");
}

/// `openssl ocsp` answering from an index file, killed when dropped.
struct Responder(Child);

impl Responder {
    fn start(dir: &Path, index: &str, listener: TcpListener, port: u16) -> Responder {
        // The port was bound to pick it; the responder binds it again.
        drop(listener);
        let log = std::fs::File::create(dir.join(format!("ocsp-{port}.log"))).unwrap();
        let child = Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                index,
                "-port",
                &port.to_string(),
                "-rsigner",
                "responder.pem",
                "-rkey",
                "responder.key",
                "-CA",
                "root.pem",
                "-ndays",
                "1",
                "-nrequest",
                "20",
                "-ignore_err",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run openssl ocsp: {e}"));
        let responder = Responder(child);
        // Ready once it reports its listening socket ("ACCEPT [::]:PORT"). Not probed with a
        // connection: `openssl ocsp` serves one connection at a time and would stay stuck
        // on a probe that sends no request.
        let log_path = dir.join(format!("ocsp-{port}.log"));
        let ready = (0..200).any(|_| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.contains("ACCEPT") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
            false
        });
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(
            ready,
            "openssl ocsp did not start listening on {port}: {log}"
        );
        responder
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A PKI whose signer has only an OCSP responder (no CRL distribution point), the
/// responder started on `index` (after `prepare` changed the CA database), and the verdict
/// under `--revocation require`.
fn verify_with_ocsp(prepare: impl FnOnce(&Path) -> &'static str) -> (Run, tempfile::TempDir) {
    let t = scratch();
    let dir = t.path();
    let (unused_dp, dp_port) = bind();
    drop(unused_dp);
    let (ocsp, ocsp_port) = bind();
    make_pki(dir, dp_port, ocsp_port, "signer_ocsp");
    let index = prepare(dir);
    let _responder = Responder::start(dir, index, ocsp, ocsp_port);
    let r = verify(dir, &["--revocation", "require", "--fetch-timeout", "5"]);
    (r, t)
}

#[test]
fn openssl_ocsp_good_is_valid() {
    let (r, _t) = verify_with_ocsp(|_| "index.txt");
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(
        findings(&r).iter().all(|(_, s, _)| s != "error"),
        "{}",
        r.stdout
    );
}

#[test]
fn openssl_ocsp_revoked_is_revoked() {
    let mut revoked_at = String::new();
    let (r, _t) = verify_with_ocsp(|dir| {
        revoked_at = revoke_alice(dir);
        "index.txt"
    });
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let (severity, message) = finding(&r, "revoked");
    assert_eq!(severity, "error");
    assert!(message.contains("(reason: key-compromise)"), "{message}");
    assert!(message.contains(&revoked_at), "{revoked_at}: {message}");
}

#[test]
fn openssl_ocsp_unknown_is_not_valid_under_require() {
    let (r, _t) = verify_with_ocsp(|dir| {
        std::fs::write(dir.join("empty-index.txt"), "").unwrap();
        "empty-index.txt"
    });
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    // The validator gives the status "undetermined" with no OCSP-specific code for an
    // answer of unknown (revocation.rs): crl-unavailable.
    let (severity, message) = finding(&r, "crl-unavailable");
    assert_eq!(severity, "error");
    assert!(
        message.contains("does not know the certificate"),
        "{message}"
    );
}

#[test]
fn an_unreachable_responder_is_ocsp_unavailable() {
    let t = scratch();
    let dir = t.path();
    let (unused_dp, dp_port) = bind();
    drop(unused_dp);
    let (ocsp, ocsp_port) = bind();
    make_pki(dir, dp_port, ocsp_port, "signer_ocsp");
    let ocsp = HttpServer::start(ocsp, Behaviour::Hang);
    let start = Instant::now();
    let r = verify(dir, &["--revocation", "require", "--fetch-timeout", "2"]);
    let took = start.elapsed();
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let (severity, message) = finding(&r, "ocsp-unavailable");
    assert_eq!(severity, "error");
    assert!(
        message.contains(&format!("http://127.0.0.1:{ocsp_port}/")),
        "{message}"
    );
    assert!(message.contains("timed out after 2 s"), "{message}");
    assert!(took < Duration::from_secs(2 + 5), "took {took:?}");
    assert_eq!(ocsp.hits(), 1);
}

#[test]
fn offline_opens_no_connection() {
    let t = scratch();
    let dir = t.path();
    let (dp, dp_port) = bind();
    let (ocsp, ocsp_port) = bind();
    make_pki(dir, dp_port, ocsp_port, "signer_dp");
    let dp = HttpServer::start(dp, Behaviour::NotFound);
    let ocsp = HttpServer::start(ocsp, Behaviour::NotFound);

    let r = verify(dir, &["--revocation", "require", "--offline"]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let (severity, message) = finding(&r, "crl-unavailable");
    assert_eq!(severity, "error");
    assert!(!message.contains("could not be fetched"), "{message}");

    let r = verify(dir, &["--offline"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let r = verify(dir, &["--revocation", "off"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);

    // The servers were listening all along: had anything connected, they would count it.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(dp.hits(), 0, "no connection to the distribution point");
    assert_eq!(ocsp.hits(), 0, "no connection to the OCSP responder");

    // Without --offline the same server is reached (the check above can fail).
    let _ = verify(dir, &["--revocation", "require", "--fetch-timeout", "3"]);
    assert_eq!(dp.hits(), 1);
}
