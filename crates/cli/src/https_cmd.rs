//! The https listener of `cachet serve`: the routes of the http listener plus EST enrollment
//! (RFC 7030, which runs only over TLS, §3.2.2), on `--listen https=ADDR`, `listen.https` in
//! `cachet.toml`, or the default 0.0.0.0:8443. As for ldap, an address given explicitly that
//! cannot be bound is an error; the default one being taken only leaves https off, with a
//! line that says so.
//!
//! The server certificate is `[tls] certificate` / `key` from `cachet.toml` when set (PEM,
//! chain leaf first, PKCS#8 key). Otherwise Cachet makes its own once: a self-signed P-256
//! certificate `DATA/tls/server.pem` with key `DATA/tls/server.key` (0600), for the host of
//! the CA's base URL, `localhost`, 127.0.0.1 and ::1, valid a year and made again when it
//! expires (or no longer names the base URL's host). It is self-signed because the S/MIME
//! issuing CA must not issue TLS certificates (S/MIME BR §7.1.2.2: emailProtection only);
//! clients pin it (`curl --cacert DATA/tls/server.pem`), and its path and SHA-256
//! fingerprint are printed at start so a user can compare them.

use crate::commands::DataArg;
use crate::io::{CliError, Result};
use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_service::config::Config;
use cachet_web::tls::TlsPeer;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The default https address (DESIGN.md: unprivileged ports).
const DEFAULT_ADDR: &str = "0.0.0.0:8443";

/// Life of the self-signed server certificate.
const SELF_SIGNED_DAYS: u64 = 365;

/// A self-signed certificate this close to its end is made again at start.
const RENEW_MARGIN: u64 = 7 * 86_400;

/// The certificate and key configured in `[tls]`, read before anything opens so that a
/// mistake stops `cachet serve` at once with the file's name.
pub(crate) struct Configured {
    chain: Vec<Vec<u8>>,
    key: zeroize::Zeroizing<Vec<u8>>,
    path: PathBuf,
}

/// Reads the `[tls]` files of `config`, if any (`source` names the settings file).
pub(crate) fn check(config: &Config, source: &str) -> Result<Option<Configured>> {
    let Some(tls) = &config.tls else {
        return Ok(None);
    };
    let read = |p: &Path, what: &str| {
        std::fs::read(p).map_err(|e| {
            CliError(format!(
                "{source}: [tls] {what} = {}: cannot read it: {e}",
                p.display()
            ))
        })
    };
    let cert_pem = read(&tls.certificate, "certificate")?;
    let key_pem = zeroize::Zeroizing::new(read(&tls.key, "key")?);
    let chain = cachet_pki::pem::der_objects(&cert_pem, &["CERTIFICATE"], "certificate")
        .map_err(|e| CliError(format!("{}: {e}", tls.certificate.display())))?;
    if chain.is_empty() {
        return Err(CliError(format!(
            "{}: no PEM CERTIFICATE in it",
            tls.certificate.display()
        )));
    }
    let keys = cachet_pki::pem::der_objects(&key_pem, &["PRIVATE KEY"], "private key")
        .map_err(|_| {
            CliError(format!(
                "{}: not a PKCS#8 PEM private key (BEGIN PRIVATE KEY); convert it with `openssl pkcs8 -topk8 -nocrypt`",
                tls.key.display()
            ))
        })?;
    let Some(key) = keys.into_iter().next() else {
        return Err(CliError(format!(
            "{}: no PKCS#8 PEM private key (BEGIN PRIVATE KEY) in it",
            tls.key.display()
        )));
    };
    Ok(Some(Configured {
        chain,
        key: zeroize::Zeroizing::new(key),
        path: tls.certificate.clone(),
    }))
}

/// A running https listener.
pub(crate) struct Https {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts https over `state` unless its default address is taken; prints
/// `cachet: https listening on ADDR` and the certificate it serves.
pub(crate) async fn start(
    data: &DataArg,
    config: &Config,
    configured: Option<Configured>,
    overrides: &[(String, SocketAddr)],
    state: Arc<cachet_web::AppState>,
) -> Result<Option<Https>> {
    let explicit = overrides
        .iter()
        .rev()
        .find(|(s, _)| s == "https")
        .map(|(_, a)| a.to_string())
        .or_else(|| config.listen.get("https").cloned());
    let addr = explicit
        .clone()
        .or_else(|| config.listen_address("https"))
        .unwrap_or_else(|| DEFAULT_ADDR.into());
    let tcp = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) if explicit.is_none() => {
            eprintln!(
                "cachet: cannot listen on {addr} for https ({e}); https and EST are not started (set --listen https=ADDR or listen.https)"
            );
            return Ok(None);
        }
        Err(e) => return Err(CliError(format!("cannot listen on {addr} for https: {e}"))),
    };
    let (chain, key, path, origin) = identity(&data.dir, configured, state.cachet().base_url())?;
    let hints: Vec<Vec<u8>> = match state.cachet().chain().await {
        Ok(cas) => cas
            .first()
            .and_then(|c| c.subject_der().ok())
            .into_iter()
            .collect(),
        Err(_) => Vec::new(),
    };
    let fingerprint = fingerprint(chain.first().map(Vec::as_slice).unwrap_or_default());
    let tls = cachet_web::tls::server_config(chain, &key, &hints)
        .map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    let bound = tcp
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(addr.clone());
    let listener = cachet_web::tls::TlsListener::new(tcp, tls)
        .map_err(|e| CliError(format!("cannot listen on {addr} for https: {e}")))?;
    eprintln!(
        "cachet: https {origin} {} (SHA-256 fingerprint {fingerprint})",
        path.display()
    );
    eprintln!("cachet: https listening on {bound}");
    tracing::info!("serving EST (RFC 7030) under /.well-known/est/ over TLS");
    let app = cachet_web::tls_router(state).into_make_service_with_connect_info::<TlsPeer>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Some(Https { stop, task }))
}

/// A TLS listener's chain (DER, leaf first), PKCS#8 key, certificate path and origin.
pub(crate) type ServedIdentity = (
    Vec<Vec<u8>>,
    zeroize::Zeroizing<Vec<u8>>,
    PathBuf,
    &'static str,
);

/// The certificate chain, key, certificate path and origin ("[tls] certificate", "made a
/// self-signed certificate", "self-signed certificate") that every TLS listener serves:
/// `configured` (the `[tls]` files) when given, else the self-signed one in `DATA/tls/`
/// (made when missing or due). The ldap listener's StartTLS and LDAPS use it too.
pub(crate) fn identity(
    data: &Path,
    configured: Option<Configured>,
    base_url: &str,
) -> Result<ServedIdentity> {
    Ok(match configured {
        Some(c) => (c.chain, c.key, c.path, "[tls] certificate"),
        None => {
            let (chain, key, path, made) = self_signed(data, base_url, crate::io::now())?;
            let origin = if made {
                "made a self-signed certificate"
            } else {
                "self-signed certificate"
            };
            (chain, key, path, origin)
        }
    })
}

impl Https {
    /// Stops accepting and lets requests in flight finish (within `drain`).
    pub(crate) async fn stop(self, drain: Duration) {
        let _ = self.stop.send(());
        match tokio::time::timeout(drain, self.task).await {
            Ok(Ok(Err(e))) => eprintln!("cachet: the https service failed: {e}"),
            Err(_) => eprintln!(
                "cachet: https connections still open after {} s: closing them",
                drain.as_secs()
            ),
            _ => {}
        }
    }
}

/// SHA-256 of `der`, as `openssl x509 -fingerprint -sha256` prints it (AB:CD:…).
fn fingerprint(der: &[u8]) -> String {
    cachet_crypto::digest::sha256(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The host of a base URL `http://HOST[:PORT][/PATH]` (checked at `cachet init`).
fn url_host(base_url: &str) -> Option<&str> {
    let rest = base_url
        .strip_prefix("http://")
        .or_else(|| base_url.strip_prefix("https://"))?;
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// The names the self-signed certificate is for: the base URL's host, `localhost` and the
/// loopback addresses.
fn names(base_url: &str) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = vec!["localhost".to_string()];
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if let Some(host) = url_host(base_url) {
        match host.parse::<IpAddr>() {
            Ok(ip) if !ips.contains(&ip) => ips.insert(0, ip),
            Ok(_) => {}
            Err(_) => {
                let h = host.to_ascii_lowercase();
                if !dns.contains(&h) {
                    dns.insert(0, h);
                }
            }
        }
    }
    (dns, ips)
}

/// A server identity: the chain (one certificate, DER), the PKCS#8 key, the certificate's
/// path and whether it was made now.
type Identity = (Vec<Vec<u8>>, zeroize::Zeroizing<Vec<u8>>, PathBuf, bool);

/// `DATA/tls/server.pem` and its key when they are usable at `now` for `base_url`, else a
/// new pair written there. Returns the chain (one certificate), the PKCS#8 key, the
/// certificate's path and whether it was made now.
fn self_signed(data: &Path, base_url: &str, now: u64) -> Result<Identity> {
    let dir = data.join("tls");
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    let (dns, ips) = names(base_url);
    if let Some((cert, key)) = load_existing(&cert_path, &key_path, &dns, &ips, now) {
        return Ok((vec![cert], key, cert_path, false));
    }
    let key = PrivateKey::generate(KeyType::EcdsaP256)
        .map_err(|e| CliError(format!("cannot make the TLS key: {e}")))?;
    let cert = make_certificate(&key, &dns, &ips, now)?;
    write_pair(&dir, &cert_path, &key_path, &cert, key.pkcs8_der())?;
    Ok((
        vec![cert],
        zeroize::Zeroizing::new(key.pkcs8_der().to_vec()),
        cert_path,
        true,
    ))
}

/// The certificate and key at the given paths, if both parse, belong together, are valid
/// for more than [`RENEW_MARGIN`] and name every host in `dns` and `ips`.
fn load_existing(
    cert_path: &Path,
    key_path: &Path,
    dns: &[String],
    ips: &[IpAddr],
    now: u64,
) -> Option<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)> {
    use x509_cert::ext::pkix::name::GeneralName;
    let cert_pem = std::fs::read(cert_path).ok()?;
    let key_pem = zeroize::Zeroizing::new(std::fs::read(key_path).ok()?);
    let cert_der = cachet_pki::pem::der_objects(&cert_pem, &["CERTIFICATE"], "certificate")
        .ok()?
        .into_iter()
        .next()?;
    let key_der = cachet_pki::pem::der_objects(&key_pem, &["PRIVATE KEY"], "private key")
        .ok()?
        .into_iter()
        .next()
        .map(zeroize::Zeroizing::new)?;
    let cert = ParsedCertificate::from_der(&cert_der).ok()?;
    let key = PrivateKey::from_pkcs8_der(&key_der).ok()?;
    if cert.spki_der().ok()? != key.public_key_der()
        || cert.not_before() > now
        || cert.not_after() <= now + RENEW_MARGIN
    {
        return None;
    }
    let (_, san) = cert.subject_alt_name().ok()??;
    let has_dns = |d: &String| {
        san.0
            .iter()
            .any(|g| matches!(g, GeneralName::DnsName(n) if n.as_str().eq_ignore_ascii_case(d)))
    };
    let has_ip = |ip: &IpAddr| {
        let octets = match ip {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        san.0
            .iter()
            .any(|g| matches!(g, GeneralName::IpAddress(o) if o.as_bytes() == octets))
    };
    if !dns.iter().all(has_dns) || !ips.iter().all(has_ip) {
        return None;
    }
    Some((cert_der, key_der))
}

fn make_certificate(key: &PrivateKey, dns: &[String], ips: &[IpAddr], now: u64) -> Result<Vec<u8>> {
    let fail = |e: cachet_pki::PkiError| CliError(format!("cannot make the TLS certificate: {e}"));
    let cn = dns
        .first()
        .filter(|h| h.len() <= 64)
        .map(String::as_str)
        .unwrap_or("localhost");
    let subject = cachet_pki::name::NameBuilder::new()
        .common_name(cn)
        .and_then(|n| n.to_der())
        .map_err(fail)?;
    let serial = cachet_pki::issue::random_serial().map_err(fail)?.to_vec();
    // A minute back, for clients whose clock is a little behind.
    let not_before = now.saturating_sub(60);
    let dns: Vec<&str> = dns.iter().map(String::as_str).collect();
    let template = cachet_pki::profile::tls_server_template(
        subject.clone(),
        key.public_key_der().to_vec(),
        serial,
        not_before,
        now + SELF_SIGNED_DAYS * 86_400,
        &dns,
        ips,
    )
    .map_err(fail)?;
    cachet_pki::issue::sign_certificate(&template, &subject, key).map_err(fail)
}

/// Writes the key (0600) and then the certificate (0644) into `dir` (0700), each through a
/// temporary file renamed into place.
fn write_pair(
    dir: &Path,
    cert_path: &Path,
    key_path: &Path,
    cert: &[u8],
    key: &[u8],
) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |p: &Path, e: std::io::Error| CliError(format!("cannot write {}: {e}", p.display()));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail(dir, e))?;
    let key_pem = zeroize::Zeroizing::new(cachet_pki::pem::encode("PRIVATE KEY", key));
    let cert_pem = cachet_pki::pem::encode("CERTIFICATE", cert);
    for (path, text, mode) in [
        (key_path, key_pem.as_str(), 0o600),
        (cert_path, cert_pem.as_str(), 0o644),
    ] {
        // The temporary file is created 0600, so the key is never readable by others.
        let mut tmp = crate::io::temp_beside(path)?;
        tmp.write_all(text.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .and_then(|_| {
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(mode))
            })
            .map_err(|e| fail(path, e))?;
        tmp.persist(path).map_err(|e| fail(path, e.error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_base_urls() {
        assert_eq!(
            url_host("http://pki.example.com:8080/x"),
            Some("pki.example.com")
        );
        assert_eq!(url_host("http://127.0.0.1:18080"), Some("127.0.0.1"));
        assert_eq!(url_host("http://[::1]:80/"), Some("::1"));
        assert_eq!(url_host("ftp://x"), None);
        let (dns, ips) = names("http://PKI.example.com");
        assert_eq!(dns, ["pki.example.com", "localhost"]);
        assert_eq!(ips.len(), 2);
        let (dns, ips) = names("http://10.0.0.1:8080");
        assert_eq!(dns, ["localhost"]);
        assert_eq!(ips[0], "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_self_signed_certificate_is_made_once_and_again_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000;
        let (c1, _, path, made) = self_signed(dir.path(), "http://pki.example.com", now).unwrap();
        assert!(made);
        assert_eq!(path, dir.path().join("tls/server.pem"));
        let mode = |p: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(mode(&dir.path().join("tls/server.key")), 0o600);
        let (c2, _, _, made) =
            self_signed(dir.path(), "http://pki.example.com", now + 86_400).unwrap();
        assert!(!made);
        assert_eq!(c1, c2);
        // Another host, or a year later: made again.
        let (_, _, _, made) = self_signed(dir.path(), "http://ca.example.org", now).unwrap();
        assert!(made);
        let later = now + SELF_SIGNED_DAYS * 86_400;
        let (c3, _, _, made) = self_signed(dir.path(), "http://ca.example.org", later).unwrap();
        assert!(made);
        let cert = ParsedCertificate::from_der(&c3[0]).unwrap();
        assert!(cert.not_after() > later);
        assert_eq!(fingerprint(&c3[0]).len(), 32 * 3 - 1);
    }
}
