//! The network side of revocation checking and path building: a [`Fetcher`] over plain
//! HTTP/1.1 that fetches CRLs from distribution points (RFC 5280 §4.2.1.13), asks OCSP
//! responders (RFC 6960 Appendix A) and downloads missing issuers from authorityInfoAccess
//! caIssuers (RFC 5280 §4.2.2.1).
//!
//! Why a small client on `std::net::TcpStream` rather than an HTTP library: the validator is
//! synchronous and pure, the requests are a handful of GETs and POSTs to plain `http://`
//! URLs (RFC 5280 §4.2.1.13 and RFC 6960 expect HTTP; the objects are signed, so TLS adds
//! little), and what matters is hard bounds — one deadline for the whole fetch (name
//! resolution, connecting, every read and write, redirects), so a distribution point that
//! trickles bytes cannot hold a verification longer than the configured timeout, and a size
//! limit per kind of object.
//!
//! Caching: CRLs are kept per fetcher instance (the validator may ask for the same URL once
//! per candidate path and certificate), and optionally on disk until their nextUpdate, so a
//! CLI run or a daemon does not download a large CRL for every message. Failures are kept
//! for the instance too: a distribution point that timed out once is not waited for again
//! in the same run.

use cachet_pki::ParsedCertificate;
use cachet_pki::crl::ParsedCrl;
use cachet_pki::time::UnixTime;
use cachet_pki::validate::Fetcher;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Default for the whole of one fetch (resolution, connection, request, response, redirects).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest CRL accepted (large CAs publish CRLs of several MiB).
pub const MAX_CRL_BYTES: usize = 32 << 20;
/// Largest OCSP response accepted.
pub const MAX_OCSP_BYTES: usize = 1 << 20;
/// Largest caIssuers response (a certificate or a certs-only bundle) accepted.
pub const MAX_CERT_BYTES: usize = 1 << 20;
/// Redirects followed at most (RFC 9110 §15.4 leaves the limit to the client).
pub const MAX_REDIRECTS: usize = 3;
/// Largest response head (status line and header fields) accepted.
const MAX_HEAD_BYTES: u64 = 64 << 10;
/// Certificates taken from one caIssuers bundle at most.
const MAX_BUNDLE_CERTS: usize = 32;

/// The answer for `https://` URLs until TLS is wired in.
const HTTPS_UNSUPPORTED: &str = "https distribution points are not supported yet";

/// A blocking HTTP/1.1 [`Fetcher`] with a deadline per fetch, size limits and CRL caches.
///
/// One instance serves one validation run at one time `now` (taken from the caller: the
/// service does not read the clock): its in-memory caches live as long as it does. A daemon
/// makes one per batch of verifications and shares the on-disk cache between them.
pub struct HttpFetcher {
    now: UnixTime,
    timeout: Duration,
    cache_dir: Option<PathBuf>,
    crls: Mutex<HashMap<String, Result<ParsedCrl, String>>>,
    issuers: Mutex<HashMap<String, Result<Vec<ParsedCertificate>, String>>>,
    ocsp_failures: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFetcher")
            .field("now", &self.now)
            .field("timeout", &self.timeout)
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl HttpFetcher {
    /// A fetcher that judges cached CRLs' freshness at `now` (seconds since the epoch), with
    /// the default timeout and no on-disk cache.
    pub fn new(now: UnixTime) -> Self {
        HttpFetcher {
            now,
            timeout: DEFAULT_TIMEOUT,
            cache_dir: None,
            crls: Mutex::new(HashMap::new()),
            issuers: Mutex::new(HashMap::new()),
            ocsp_failures: Mutex::new(HashMap::new()),
        }
    }

    /// The whole of each fetch — resolution, connection, request, response and redirects —
    /// ends within `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Keeps fetched CRLs in `dir` (created mode 0700 when missing) as
    /// `<hex SHA-256 of the URL>.crl`, DER, mode 0600, and reuses one while `now` is before
    /// its nextUpdate (RFC 5280 §5.1.2.5: no newer CRL is due before then). CRLs without a
    /// nextUpdate are not kept on disk.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn cache_file(&self, url: &str) -> Option<PathBuf> {
        let digest = cachet_crypto::digest::sha256(url.as_bytes());
        self.cache_dir
            .as_ref()
            .map(|d| d.join(format!("{}.crl", hex::encode(digest))))
    }

    fn crl_uncached(&self, url: &str) -> Result<ParsedCrl, String> {
        let file = self.cache_file(url);
        if let Some(crl) = file.as_deref().and_then(|f| read_cached_crl(f, self.now)) {
            return Ok(crl);
        }
        let body = self.exchange(
            url,
            None,
            "application/pkix-crl, application/x-pkcs7-crl, */*",
            MAX_CRL_BYTES,
        )?;
        let crl = parse_crl(&body)?;
        if let Some(f) = file
            && crl.next_update().is_some_and(|n| self.now < n)
        {
            // The cache only saves work: a CRL that cannot be kept is still used.
            let _ = write_cache_file(&f, crl.der());
        }
        Ok(crl)
    }

    /// Runs one fetch (following redirects) under one deadline: the body of the final 200
    /// response, or why not.
    fn exchange(
        &self,
        url: &str,
        post: Option<(&str, &[u8])>,
        accept: &str,
        limit: usize,
    ) -> Result<Vec<u8>, String> {
        let deadline = Deadline::new(self.timeout);
        let mut target = parse_url(url)?;
        let mut post = post;
        for hop in 0..=MAX_REDIRECTS {
            match round_trip(&target, post, accept, limit, &deadline)? {
                Outcome::Body(body) => return Ok(body),
                Outcome::Status(code) => return Err(format!("HTTP {code}")),
                Outcome::Redirect { status, location } => {
                    if hop == MAX_REDIRECTS {
                        return Err(format!("more than {MAX_REDIRECTS} redirects"));
                    }
                    let next = resolve_location(&target, &location);
                    target = parse_url(&next).map_err(|e| {
                        if e == HTTPS_UNSUPPORTED {
                            format!("redirected to {next}, but {e}")
                        } else {
                            format!("redirected to an unusable location '{next}': {e}")
                        }
                    })?;
                    // 303 See Other turns the request into a GET (RFC 9110 §15.4.4); the
                    // others repeat it as it was (an OCSP POST stays a POST).
                    if status == 303 {
                        post = None;
                    }
                }
            }
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }
}

impl Fetcher for HttpFetcher {
    fn crl(&self, url: &str) -> Result<ParsedCrl, String> {
        if let Some(hit) = lock(&self.crls).get(url) {
            return hit.clone();
        }
        let result = self.crl_uncached(url);
        lock(&self.crls).insert(url.to_string(), result.clone());
        result
    }

    /// RFC 6960 Appendix A.1: POST with `Content-Type: application/ocsp-request`. Responses
    /// are not cached (each request carries a fresh nonce), but a responder that could not
    /// be reached is not tried again by this instance.
    fn ocsp(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, String> {
        if let Some(e) = lock(&self.ocsp_failures).get(url) {
            return Err(e.clone());
        }
        let result = self.exchange(
            url,
            Some(("application/ocsp-request", request)),
            "application/ocsp-response",
            MAX_OCSP_BYTES,
        );
        if let Err(e) = &result {
            lock(&self.ocsp_failures).insert(url.to_string(), e.clone());
        }
        result
    }

    fn ca_issuers(&self, url: &str) -> Result<Vec<ParsedCertificate>, String> {
        if let Some(hit) = lock(&self.issuers).get(url) {
            return hit.clone();
        }
        let result = self
            .exchange(
                url,
                None,
                "application/pkix-cert, application/pkcs7-mime, */*",
                MAX_CERT_BYTES,
            )
            .and_then(|body| parse_certificates(&body));
        lock(&self.issuers).insert(url.to_string(), result.clone());
        result
    }
}

/// A mutex guard, also after a panic elsewhere poisoned it (the maps stay consistent:
/// every update is a single insert).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A CRL in DER or PEM (`X509 CRL`; the first block when there are several).
fn parse_crl(body: &[u8]) -> Result<ParsedCrl, String> {
    let ders = cachet_pki::pem::der_objects(body, &["X509 CRL"], "CRL")
        .map_err(|e| format!("the response is not a CRL ({e})"))?;
    let der = ders
        .first()
        .ok_or_else(|| "the response is empty".to_string())?;
    ParsedCrl::from_der(der).map_err(|e| format!("the response is not a CRL ({e})"))
}

/// What a caIssuers URL serves (RFC 5280 §4.2.2.1): one DER certificate, a certs-only
/// CMS/PKCS#7 SignedData (DER or BER), or — from servers that ignore the RFC — PEM.
fn parse_certificates(body: &[u8]) -> Result<Vec<ParsedCertificate>, String> {
    if cachet_pki::pem::is_pem(body) {
        let mut certs = Vec::new();
        let blocks = cachet_pki::pem::decode_all(body)
            .map_err(|e| format!("the response is not a certificate ({e})"))?;
        for (label, der) in blocks {
            match label.as_str() {
                "CERTIFICATE" => certs.push(
                    ParsedCertificate::from_der(&der)
                        .map_err(|e| format!("the response is not a certificate ({e})"))?,
                ),
                "PKCS7" | "CMS" => certs.extend(certs_only(&der)?),
                _ => {}
            }
        }
        if certs.is_empty() {
            return Err("the response holds no certificate".into());
        }
        certs.truncate(MAX_BUNDLE_CERTS);
        return Ok(certs);
    }
    match ParsedCertificate::from_der(body) {
        Ok(c) => Ok(vec![c]),
        Err(cert_err) => certs_only(body).map_err(|_| {
            format!("the response is neither a certificate nor a certs-only bundle ({cert_err})")
        }),
    }
}

/// The certificates of a certs-only SignedData (RFC 5652 §5.1, `certificates [0] IMPLICIT
/// CertificateSet`), read with the BER normaliser so that indefinite lengths are accepted.
fn certs_only(ber: &[u8]) -> Result<Vec<ParsedCertificate>, String> {
    use cachet_smime::ber::{BerLimits, BerTree};
    const ID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let not_bundle = |why: &str| format!("the response is not a certs-only bundle ({why})");
    let tree = BerTree::parse(ber, &BerLimits::new(MAX_CERT_BYTES))
        .map_err(|e| not_bundle(&e.to_string()))?;
    let root = tree.root();
    let content_type = tree
        .child(root, 0)
        .filter(|&n| tree.identifier(n).is_some_and(|i| i.is_universal(6)))
        .and_then(|n| tree.content(n));
    if content_type != Some(ID_SIGNED_DATA) {
        return Err(not_bundle("not a SignedData"));
    }
    let signed_data = tree
        .child(root, 1)
        .filter(|&n| tree.identifier(n).is_some_and(|i| i.is_context(0)))
        .and_then(|n| tree.child(n, 0))
        .ok_or_else(|| not_bundle("no content"))?;
    let set = tree
        .children(signed_data)
        .find(|&n| {
            tree.identifier(n)
                .is_some_and(|i| i.is_context(0) && i.constructed)
        })
        .ok_or_else(|| not_bundle("no certificates"))?;
    let mut certs = Vec::new();
    for n in tree.children(set) {
        // Only the `certificate` choice (a SEQUENCE); attribute and other certificates
        // are tagged [1]..[3] and are not X.509 certificates.
        if !tree.identifier(n).is_some_and(|i| i.is_sequence()) {
            continue;
        }
        let der = tree
            .to_der_with(n, &[])
            .map_err(|e| not_bundle(&e.to_string()))?;
        certs.push(ParsedCertificate::from_der(&der).map_err(|e| not_bundle(&e.to_string()))?);
        if certs.len() == MAX_BUNDLE_CERTS {
            break;
        }
    }
    if certs.is_empty() {
        return Err(not_bundle("no certificates"));
    }
    Ok(certs)
}

/// A cached CRL that is still current at `now`, if any.
fn read_cached_crl(path: &Path, now: UnixTime) -> Option<ParsedCrl> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_CRL_BYTES as u64 {
        return None;
    }
    let crl = ParsedCrl::from_der(&std::fs::read(path).ok()?).ok()?;
    crl.next_update().is_some_and(|n| now < n).then_some(crl)
}

/// Writes `bytes` to `path` through a temporary file renamed into place, so that a reader
/// never sees half a CRL; files are mode 0600 and a new directory 0700 (the cache lives in
/// the data directory, which holds keys).
fn write_cache_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "no directory"))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The end of one fetch.
struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    fn new(timeout: Duration) -> Self {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// Time left, or the timeout error when none is.
    fn remaining(&self) -> Result<Duration, String> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(self.expired())
        } else {
            Ok(left)
        }
    }

    fn expired(&self) -> String {
        let t = self.timeout;
        if t.subsec_millis() == 0 {
            format!("timed out after {} s", t.as_secs())
        } else {
            format!("timed out after {:.1} s", t.as_secs_f64())
        }
    }

    /// `e` in a few words, with the timeout as this fetch states it.
    fn io_error(&self, e: &io::Error) -> String {
        match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => self.expired(),
            ErrorKind::ConnectionRefused => "connection refused".into(),
            ErrorKind::ConnectionReset => "connection reset by the server".into(),
            ErrorKind::UnexpectedEof => "the server closed the connection early".into(),
            _ => e.to_string(),
        }
    }
}

/// An `http://` URL split for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// Path and query, starting with '/'.
    path: String,
}

impl Target {
    /// The Host header field value (RFC 9110 §7.2).
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Splits an `http://host[:port][/path][?query]` URL (RFC 3986 §3); the fragment is dropped.
/// Anything that could break the request line — spaces, control characters — is refused.
fn parse_url(url: &str) -> Result<Target, String> {
    let scheme_end = url.find("://").ok_or("not an http:// URL")?;
    let scheme = &url[..scheme_end];
    if scheme.eq_ignore_ascii_case("https") {
        return Err(HTTPS_UNSUPPORTED.into());
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(format!("{scheme}:// URLs are not supported (only http://)"));
    }
    let rest = &url[scheme_end + 3..];
    let rest = rest.split('#').next().unwrap_or_default();
    if rest.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("the URL contains spaces or control characters".into());
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    if authority.contains('@') {
        return Err("URLs with user information are not supported".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or("the URL's IPv6 address lacks ']'")?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let port = match port {
        None | Some("") => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("the URL's port '{p}' is not a port number"))?,
    };
    Ok(Target {
        host: host.to_string(),
        port,
        path,
    })
}

/// The absolute URL a Location field value refers to from `base` (RFC 9110 §10.2.2,
/// RFC 3986 §5.2 for the common forms: absolute, network-path, absolute-path, relative).
fn resolve_location(base: &Target, location: &str) -> String {
    let loc = location.trim();
    if loc.contains("://") {
        loc.to_string()
    } else if let Some(rest) = loc.strip_prefix("//") {
        format!("http://{rest}")
    } else if loc.starts_with('/') {
        format!("http://{}{loc}", base.authority())
    } else {
        let path = base.path.split('?').next().unwrap_or("/");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("http://{}{dir}{loc}", base.authority())
    }
}

/// The addresses of `host`, resolved within the deadline. `getaddrinfo` has no timeout of
/// its own, so it runs on a helper thread that is abandoned (and ends on its own) when the
/// deadline passes first.
fn resolve(host: &str, port: u16, deadline: &Deadline) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("cachet-resolve".into())
        .spawn(move || {
            let r = (name.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>());
            let _ = tx.send(r);
        })
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    match rx.recv_timeout(deadline.remaining()?) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(format!("cannot resolve {host}: no address")),
        Ok(Err(e)) => Err(format!("cannot resolve {host}: {e}")),
        Err(_) => Err(deadline.expired()),
    }
}

/// A connection whose every read and write ends by the deadline: each one gets the time
/// left as its socket timeout, so a server that trickles a byte at a time still cannot
/// make the fetch outlast it.
struct Conn<'d> {
    stream: TcpStream,
    deadline: &'d Deadline,
}

impl Conn<'_> {
    fn left(&self) -> io::Result<Duration> {
        self.deadline
            .remaining()
            .map_err(|_| io::Error::from(ErrorKind::TimedOut))
    }
}

impl Read for Conn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for Conn<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// How one request ended.
enum Outcome {
    /// 200 and its body.
    Body(Vec<u8>),
    /// A redirect to follow.
    Redirect { status: u16, location: String },
    /// Any other status.
    Status(u16),
}

/// One request and its response on a new connection (`Connection: close`).
fn round_trip(
    target: &Target,
    post: Option<(&str, &[u8])>,
    accept: &str,
    limit: usize,
    deadline: &Deadline,
) -> Result<Outcome, String> {
    let addrs = resolve(&target.host, target.port, deadline)?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        let left = deadline.remaining()?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = match (stream, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(deadline.io_error(&e)),
        (None, None) => return Err(format!("cannot resolve {}: no address", target.host)),
    };
    let mut conn = Conn { stream, deadline };
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: cachet/{}\r\nAccept: {accept}\r\nConnection: close\r\n",
        if post.is_some() { "POST" } else { "GET" },
        target.path,
        target.authority(),
        env!("CARGO_PKG_VERSION"),
    );
    if let Some((content_type, body)) = post {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let sent = conn.write_all(head.as_bytes()).and_then(|()| match post {
        Some((_, body)) => conn.write_all(body),
        None => Ok(()),
    });
    sent.map_err(|e| deadline.io_error(&e))?;
    let mut reader = BufReader::new(conn);
    let head = read_head(&mut reader, deadline)?;
    match head.status {
        200 => read_body(&mut reader, &head, limit, deadline).map(Outcome::Body),
        301 | 302 | 303 | 307 | 308 => match head.location {
            Some(location) => Ok(Outcome::Redirect {
                status: head.status,
                location,
            }),
            None => Err(format!("HTTP {} without a Location", head.status)),
        },
        code => Ok(Outcome::Status(code)),
    }
}

/// The parts of a response head that matter here.
#[derive(Debug, Default)]
struct Head {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    location: Option<String>,
}

/// One CRLF- (or LF-) terminated line, counted against the head's size limit.
fn read_line(r: &mut impl BufRead, used: &mut u64, deadline: &Deadline) -> Result<String, String> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_HEAD_BYTES - *used)
        .read_until(b'\n', &mut line)
        .map_err(|e| deadline.io_error(&e))?;
    *used += n as u64;
    if !line.ends_with(b"\n") {
        return Err(if *used >= MAX_HEAD_BYTES {
            format!("the response head exceeds {} KiB", MAX_HEAD_BYTES >> 10)
        } else {
            "the server closed the connection early".into()
        });
    }
    while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| "the response head is not text".into())
}

/// The status line and header fields (RFC 9112 §4, §5), skipping interim 1xx responses.
fn read_head(r: &mut impl BufRead, deadline: &Deadline) -> Result<Head, String> {
    let mut used = 0;
    loop {
        let status_line = read_line(r, &mut used, deadline)?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let code = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") || code.len() != 3 {
            return Err("the server did not answer in HTTP/1.x".into());
        }
        let status: u16 = code
            .parse()
            .map_err(|_| "the server did not answer in HTTP/1.x".to_string())?;
        let mut head = Head {
            status,
            ..Head::default()
        };
        loop {
            let line = read_line(r, &mut used, deadline)?;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err("the response has a malformed header field".into());
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let n: u64 = value
                    .parse()
                    .map_err(|_| "the response has an invalid Content-Length".to_string())?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err("the response has conflicting Content-Length fields".into());
                }
                head.content_length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // Only chunked is supported: we send no TE field (RFC 9112 §6.1, §7).
                let last = value.rsplit(',').next().unwrap_or_default().trim();
                if !last.eq_ignore_ascii_case("chunked") || value.contains(',') {
                    return Err(format!("unsupported transfer coding '{value}'"));
                }
                head.chunked = true;
            } else if name.eq_ignore_ascii_case("content-encoding") {
                if !value.eq_ignore_ascii_case("identity") {
                    return Err(format!("unsupported content coding '{value}'"));
                }
            } else if name.eq_ignore_ascii_case("location") {
                head.location = Some(value.to_string());
            }
        }
        // 1xx are interim (RFC 9110 §15.2); the final response follows.
        if !(100..200).contains(&status) {
            return Ok(head);
        }
    }
}

fn too_large(limit: usize) -> String {
    format!("the response exceeds the {} MiB limit", limit >> 20)
}

/// The message body (RFC 9112 §6.3): chunked, Content-Length, or up to the end of the
/// connection; never more than `limit` bytes.
fn read_body(
    r: &mut impl BufRead,
    head: &Head,
    limit: usize,
    deadline: &Deadline,
) -> Result<Vec<u8>, String> {
    let io_err = |e: io::Error| deadline.io_error(&e);
    if head.chunked {
        return read_chunked(r, limit, deadline);
    }
    let mut body = Vec::new();
    match head.content_length {
        Some(n) => {
            if n > limit as u64 {
                return Err(too_large(limit));
            }
            r.by_ref().take(n).read_to_end(&mut body).map_err(io_err)?;
            if (body.len() as u64) < n {
                return Err(format!(
                    "the server closed the connection early ({} of {n} bytes)",
                    body.len()
                ));
            }
        }
        None => {
            r.by_ref()
                .take(limit as u64 + 1)
                .read_to_end(&mut body)
                .map_err(io_err)?;
            if body.len() > limit {
                return Err(too_large(limit));
            }
        }
    }
    Ok(body)
}

/// The chunked transfer coding (RFC 9112 §7.1), trailers read and ignored.
fn read_chunked(
    r: &mut impl BufRead,
    limit: usize,
    deadline: &Deadline,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    // Each chunk-size line is bounded like a head (every chunk adds at least a byte to the
    // bounded body, so their number is bounded too); the trailers together are one head.
    loop {
        let mut used = 0;
        let line = read_line(r, &mut used, deadline)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = (!size.is_empty() && size.len() <= 16)
            .then(|| u64::from_str_radix(size, 16).ok())
            .flatten()
            .ok_or_else(|| "the response has a malformed chunk size".to_string())?;
        if size == 0 {
            while !read_line(r, &mut used, deadline)?.is_empty() {}
            return Ok(body);
        }
        if body.len() as u64 + size > limit as u64 {
            return Err(too_large(limit));
        }
        let before = body.len();
        r.by_ref()
            .take(size)
            .read_to_end(&mut body)
            .map_err(|e| deadline.io_error(&e))?;
        if ((body.len() - before) as u64) < size {
            return Err("the server closed the connection early".into());
        }
        if !read_line(r, &mut used, deadline)?.is_empty() {
            return Err("the response has a malformed chunk".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachet_crypto::{KeyType, PrivateKey};
    use cachet_pki::crl::{CrlRequest, RevocationReason, RevokedEntry, build_crl};
    use cachet_pki::issue::{random_serial, sign_certificate};
    use cachet_pki::name::NameBuilder;
    use cachet_pki::profile::root_ca_template;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const NOW: UnixTime = 1_795_000_000;
    const DAY: UnixTime = 86_400;

    /// How the test server answers one connection.
    enum Reply {
        /// These bytes, then close.
        Send(Vec<u8>),
        /// Nothing: the connection stays open, unanswered.
        Hang,
        /// These bytes, one every interval.
        Trickle(Vec<u8>, Duration),
    }

    /// Gets the request head and body; gives the reply.
    type Handler = Box<dyn Fn(&str, &[u8]) -> Reply + Send + Sync>;

    /// A loopback HTTP server for at most `max` connections, counting them. Its thread
    /// ends after `max` connections or when the test process does.
    struct Server {
        port: u16,
        hits: Arc<AtomicUsize>,
    }

    impl Server {
        fn start(max: usize, handler: Handler) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let hits = Arc::new(AtomicUsize::new(0));
            let counter = hits.clone();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for _ in 0..max {
                    let Ok((mut s, _)) = listener.accept() else {
                        return;
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let (head, body) = read_request(&mut s);
                    match handler(&head, &body) {
                        Reply::Send(bytes) => {
                            let _ = s.write_all(&bytes);
                        }
                        Reply::Hang => held.push(s),
                        Reply::Trickle(bytes, every) => {
                            for b in bytes.iter().take(200) {
                                if s.write_all(&[*b]).is_err() {
                                    break;
                                }
                                std::thread::sleep(every);
                            }
                        }
                    }
                }
                // Unanswered connections stay open until the clients give up.
                if !held.is_empty() {
                    std::thread::sleep(Duration::from_secs(10));
                }
            });
            Server { port, hits }
        }

        /// A server that gives every connection the same reply.
        fn always(max: usize, reply: impl Fn() -> Reply + Send + Sync + 'static) -> Server {
            Server::start(max, Box::new(move |_, _| reply()))
        }

        fn url(&self, path: &str) -> String {
            format!("http://127.0.0.1:{}{path}", self.port)
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    fn read_request(s: &mut TcpStream) -> (String, Vec<u8>) {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") && buf.len() < 65536 {
            match s.read(&mut byte) {
                Ok(1) => buf.push(byte[0]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&buf).into_owned();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len.min(1 << 20)];
        let _ = s.read_exact(&mut body);
        (head, body)
    }

    fn ok(body: &[u8]) -> Vec<u8> {
        let mut r =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        r.extend_from_slice(body);
        r
    }

    fn chunked(body: &[u8]) -> Vec<u8> {
        let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for c in body.chunks(100) {
            r.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
            r.extend_from_slice(c);
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
        r
    }

    /// A CA certificate and a CRL it signed (valid from NOW for a day) revoking one serial.
    fn fixture() -> (Vec<u8>, Vec<u8>) {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let name = NameBuilder::new()
            .common_name("Fetch Test Root")
            .unwrap()
            .to_der()
            .unwrap();
        let t = root_ca_template(
            name.clone(),
            key.public_key_der().to_vec(),
            random_serial().unwrap().to_vec(),
            NOW - DAY,
        )
        .unwrap();
        let cert = sign_certificate(&t, &name, &key).unwrap();
        let parsed = ParsedCertificate::from_der(&cert).unwrap();
        let entries = [RevokedEntry {
            serial: vec![0x42; 16],
            revoked_at: NOW - 100,
            reason: RevocationReason::KeyCompromise,
        }];
        let crl = build_crl(
            &CrlRequest {
                crl_number: 7,
                this_update: NOW,
                next_update: NOW + DAY,
                entries: &entries,
            },
            &parsed,
            &key,
        )
        .unwrap();
        (cert, crl)
    }

    fn fetcher() -> HttpFetcher {
        HttpFetcher::new(NOW).with_timeout(Duration::from_secs(5))
    }

    #[test]
    fn crl_with_content_length() {
        let (_, crl) = fixture();
        let body = crl.clone();
        let s = Server::start(
            1,
            Box::new(move |head, _| {
                assert!(head.starts_with("GET /ca.crl HTTP/1.1\r\n"), "{head}");
                assert!(head.contains("\r\nHost: 127.0.0.1:"), "{head}");
                assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
                Reply::Send(ok(&body))
            }),
        );
        let got = fetcher().crl(&s.url("/ca.crl")).unwrap();
        assert_eq!(got.der(), &crl[..]);
        assert_eq!(got.crl_number(), Some(7));
    }

    #[test]
    fn chunked_pem_crl() {
        let (_, crl) = fixture();
        let pem = ParsedCrl::from_der(&crl).unwrap().to_pem();
        let s = Server::always(1, move || Reply::Send(chunked(pem.as_bytes())));
        let got = fetcher().crl(&s.url("/ca.crl")).unwrap();
        assert_eq!(got.der(), &crl[..]);
    }

    #[test]
    fn body_until_close_without_length() {
        let (_, crl) = fixture();
        let s = Server::always(1, move || {
            let mut r = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
            r.extend_from_slice(&crl);
            Reply::Send(r)
        });
        assert!(fetcher().crl(&s.url("/")).is_ok());
    }

    #[test]
    fn status_other_than_200_is_an_error() {
        let s = Server::always(1, || {
            Reply::Send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec())
        });
        assert_eq!(fetcher().crl(&s.url("/x.crl")).unwrap_err(), "HTTP 404");
    }

    #[test]
    fn redirects_are_followed_up_to_three() {
        let (_, crl) = fixture();
        let s = Server::start(
            2,
            Box::new(move |head, _| {
                if head.starts_with("GET /old.crl ") {
                    Reply::Send(
                        b"HTTP/1.1 302 Found\r\nLocation: /new/ca.crl\r\nContent-Length: 0\r\n\r\n"
                            .to_vec(),
                    )
                } else {
                    assert!(head.starts_with("GET /new/ca.crl "), "{head}");
                    Reply::Send(ok(&crl))
                }
            }),
        );
        assert!(fetcher().crl(&s.url("/old.crl")).is_ok());
        assert_eq!(s.hits(), 2);

        let loop_ = Server::always(10, || {
            Reply::Send(b"HTTP/1.1 301 Moved\r\nLocation: again\r\n\r\n".to_vec())
        });
        let e = fetcher().crl(&loop_.url("/a/start")).unwrap_err();
        assert_eq!(e, "more than 3 redirects");
        assert_eq!(loop_.hits(), 4);

        let tls = Server::always(1, || {
            Reply::Send(
                b"HTTP/1.1 301 Moved\r\nLocation: https://127.0.0.1/ca.crl\r\n\r\n".to_vec(),
            )
        });
        let e = fetcher().crl(&tls.url("/ca.crl")).unwrap_err();
        assert!(e.contains("not supported yet"), "{e}");
    }

    #[test]
    fn a_server_that_never_answers_times_out_by_the_deadline() {
        let s = Server::always(1, || Reply::Hang);
        let f = HttpFetcher::new(NOW).with_timeout(Duration::from_secs(1));
        let start = Instant::now();
        let e = f.crl(&s.url("/ca.crl")).unwrap_err();
        let took = start.elapsed();
        assert_eq!(e, "timed out after 1 s");
        assert!(took < Duration::from_secs(3), "{took:?}");
        // The failure is remembered: the same run does not wait again.
        let start = Instant::now();
        assert_eq!(f.crl(&s.url("/ca.crl")).unwrap_err(), e);
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(s.hits(), 1);
    }

    #[test]
    fn a_trickling_server_cannot_outlast_the_deadline() {
        // Every read gets a byte well within a per-read timeout; only the overall deadline
        // ends the fetch.
        let s = Server::always(1, || {
            let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
            r.extend_from_slice(&[0x30; 1000]);
            Reply::Trickle(r, Duration::from_millis(50))
        });
        let f = HttpFetcher::new(NOW).with_timeout(Duration::from_millis(1500));
        let start = Instant::now();
        let e = f.crl(&s.url("/ca.crl")).unwrap_err();
        assert_eq!(e, "timed out after 1.5 s");
        assert!(start.elapsed() < Duration::from_millis(3500));
    }

    #[test]
    fn oversized_bodies_are_refused() {
        // Announced: refused before reading.
        let s = Server::always(1, || {
            Reply::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 40000000\r\n\r\n".to_vec())
        });
        let e = fetcher().crl(&s.url("/big.crl")).unwrap_err();
        assert_eq!(e, "the response exceeds the 32 MiB limit");
        // Unannounced, up to the end of the connection.
        let s = Server::always(1, || {
            let mut r = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
            r.resize(r.len() + MAX_OCSP_BYTES + 10, 0);
            Reply::Send(r)
        });
        let e = fetcher().ocsp(&s.url("/"), b"req").unwrap_err();
        assert_eq!(e, "the response exceeds the 1 MiB limit");
        // Chunked.
        let s = Server::always(1, || Reply::Send(chunked(&vec![0x30; MAX_CERT_BYTES + 1])));
        let e = fetcher().ca_issuers(&s.url("/")).unwrap_err();
        assert_eq!(e, "the response exceeds the 1 MiB limit");
    }

    #[test]
    fn ocsp_is_posted() {
        let s = Server::start(
            1,
            Box::new(|head, body| {
                assert!(head.starts_with("POST /ocsp HTTP/1.1\r\n"), "{head}");
                assert!(
                    head.contains("\r\nContent-Type: application/ocsp-request\r\n"),
                    "{head}"
                );
                assert_eq!(body, b"\x30\x03\x02\x01\x01");
                Reply::Send(ok(b"answer"))
            }),
        );
        let got = fetcher()
            .ocsp(&s.url("/ocsp"), b"\x30\x03\x02\x01\x01")
            .unwrap();
        assert_eq!(got, b"answer");
    }

    #[test]
    fn crls_are_cached_in_memory_and_on_disk_until_next_update() {
        use std::os::unix::fs::PermissionsExt;
        let (_, crl) = fixture();
        let s = Server::always(3, move || Reply::Send(ok(&crl)));
        let url = s.url("/ca.crl");
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("crl-cache");

        let f = fetcher().with_cache_dir(&cache);
        f.crl(&url).unwrap();
        f.crl(&url).unwrap();
        assert_eq!(s.hits(), 1, "the second call is served from memory");
        let file = cache.join(format!(
            "{}.crl",
            hex::encode(cachet_crypto::digest::sha256(url.as_bytes()))
        ));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o700
        );

        // A new instance (another run) before nextUpdate: from disk.
        HttpFetcher::new(NOW + DAY - 1)
            .with_cache_dir(&cache)
            .crl(&url)
            .unwrap();
        assert_eq!(s.hits(), 1);
        // At nextUpdate: fetched again.
        HttpFetcher::new(NOW + DAY)
            .with_cache_dir(&cache)
            .crl(&url)
            .unwrap();
        assert_eq!(s.hits(), 2);
        // Without the disk cache, a new instance fetches.
        fetcher().crl(&url).unwrap();
        assert_eq!(s.hits(), 3);
    }

    #[test]
    fn connection_and_name_errors_are_explained() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = fetcher()
            .crl(&format!("http://127.0.0.1:{port}/ca.crl"))
            .unwrap_err();
        assert_eq!(e, "connection refused");
        let e = fetcher()
            .crl("http://no-such-host.invalid/ca.crl")
            .unwrap_err();
        assert!(
            e.starts_with("cannot resolve no-such-host.invalid") || e.starts_with("timed out"),
            "{e}"
        );
        let e = fetcher().crl("https://127.0.0.1/ca.crl").unwrap_err();
        assert_eq!(e, HTTPS_UNSUPPORTED);
        let e = fetcher().crl("ldap://ldap.example/cn=CA").unwrap_err();
        assert!(e.contains("only http://"), "{e}");
    }

    #[test]
    fn garbage_is_not_a_crl() {
        let s = Server::always(1, || Reply::Send(ok(b"<html>hello</html>")));
        let e = fetcher().crl(&s.url("/")).unwrap_err();
        assert!(e.starts_with("the response is not a CRL"), "{e}");
        let s = Server::always(1, || Reply::Send(b"SSH-2.0-OpenSSH\r\n".to_vec()));
        let e = fetcher().crl(&s.url("/")).unwrap_err();
        assert_eq!(e, "the server did not answer in HTTP/1.x");
    }

    #[test]
    fn ca_issuers_accepts_a_certificate_or_a_certs_only_bundle() {
        use cachet_smime::cms::tlv;
        let (cert, _) = fixture();
        let one = cert.clone();
        let s = Server::always(1, move || Reply::Send(ok(&one)));
        let got = fetcher().ca_issuers(&s.url("/ca.cer")).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].der(), &cert[..]);

        // ContentInfo { signedData, [0] SignedData { 1, {}, { data }, [0] { cert, cert } , {} } }
        let signed_data_oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        ];
        let data_oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
        ];
        let sd = tlv(
            0x30,
            &[
                &[0x02, 0x01, 0x01],
                &tlv(0x31, &[]),
                &tlv(0x30, &[&data_oid]),
                &tlv(0xa0, &[&cert, &cert]),
                &tlv(0x31, &[]),
            ],
        );
        let p7 = tlv(0x30, &[&signed_data_oid, &tlv(0xa0, &[&sd])]);
        let s = Server::always(1, move || Reply::Send(ok(&p7)));
        let got = fetcher().ca_issuers(&s.url("/ca.p7c")).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].der(), &cert[..]);
    }

    #[test]
    fn urls_parse_and_locations_resolve() {
        let t = parse_url("HTTP://crl.example:8080/a/b.crl?x=1#frag").unwrap();
        assert_eq!(
            t,
            Target {
                host: "crl.example".into(),
                port: 8080,
                path: "/a/b.crl?x=1".into()
            }
        );
        assert_eq!(t.authority(), "crl.example:8080");
        let t = parse_url("http://[::1]/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority()),
            ("::1", 80, "[::1]".into())
        );
        assert_eq!(parse_url("http://h?q").unwrap().path, "/?q");
        assert!(parse_url("http://h/a b").is_err());
        assert!(parse_url("http://h/a\r\nX: y").is_err());
        assert!(parse_url("http://u@h/").is_err());
        assert!(parse_url("http://h:99999/").is_err());
        assert!(parse_url("http:///x").is_err());
        let base = parse_url("http://h:81/dir/file.crl?q").unwrap();
        assert_eq!(
            resolve_location(&base, "other.crl"),
            "http://h:81/dir/other.crl"
        );
        assert_eq!(resolve_location(&base, "/root.crl"), "http://h:81/root.crl");
        assert_eq!(resolve_location(&base, "//g/x"), "http://g/x");
        assert_eq!(resolve_location(&base, "http://k/y"), "http://k/y");
    }
}
