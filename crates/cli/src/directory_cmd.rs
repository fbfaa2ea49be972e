//! The LDAP certificate directory inside `cachet serve` (issue #7): started beside HTTP with
//! its own connection to the data directory, on `--listen ldap=ADDR`, `listen.ldap` in
//! `cachet.toml`, or the default 0.0.0.0:2389, and LDAP over TLS on `ldaps` (default
//! 0.0.0.0:2636). An address given explicitly that cannot be bound is an error; a default
//! one being taken (another `cachet serve` on this machine) only leaves that listener off,
//! with a line that says so.
//!
//! TLS — StartTLS on the ldap listener (RFC 4511 §4.14, RFC 4513 §3) and the ldaps
//! listener — uses the https listener's certificate (`https_cmd::identity`: the `[tls]`
//! files, else the self-signed `DATA/tls/server.pem`), so clients pin one certificate for
//! every service. `[directory]` in `cachet.toml` sets anonymous reads and the limits.

use crate::commands::{DataArg, UnlockArg, open, unlock};
use crate::io::{CliError, Result};
use cachet_service::config::{Config, DirectoryConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The directory's options from `[directory]` in `cachet.toml` (the rest at their
/// defaults).
fn options(c: &DirectoryConfig) -> cachet_directory::Options {
    cachet_directory::Options {
        anonymous_read: c.anonymous_read,
        size_limit: c.size_limit,
        time_limit: Duration::from_secs(c.time_limit),
        max_connections: c.max_connections,
        idle_timeout: Duration::from_secs(c.idle_timeout),
        ..cachet_directory::Options::default()
    }
}

/// A running directory: its listeners' tasks.
pub(crate) struct Ldap {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<(&'static str, tokio::task::JoinHandle<std::io::Result<()>>)>,
    directory: Arc<cachet_directory::Directory>,
}

/// Binds `service` (`ldap`, `ldaps`): the explicit address (`--listen` wins over
/// `listen.SERVICE`), else the default. `None` when the default is taken.
async fn bind(
    service: &str,
    config: &Config,
    overrides: &[(String, SocketAddr)],
    fallback: &str,
) -> Result<Option<TcpListener>> {
    let explicit = overrides
        .iter()
        .rev()
        .find(|(s, _)| s == service)
        .map(|(_, a)| a.to_string())
        .or_else(|| config.listen.get(service).cloned());
    let addr = explicit
        .clone()
        .or_else(|| config.listen_address(service))
        .unwrap_or_else(|| fallback.into());
    match TcpListener::bind(&addr).await {
        Ok(l) => Ok(Some(l)),
        Err(e) if explicit.is_none() => {
            eprintln!(
                "cachet: cannot listen on {addr} for {service} ({e}); {service} is not started (set --listen {service}=ADDR or listen.{service})"
            );
            Ok(None)
        }
        Err(e) => Err(CliError(format!(
            "cannot listen on {addr} for {service}: {e}"
        ))),
    }
}

/// The TLS configuration of StartTLS and LDAPS: the https identity, no ALPN (none is
/// registered for LDAP), client certificates offered but not required.
fn tls_config(
    data: &DataArg,
    config: &Config,
    base_url: &str,
) -> Result<(Arc<cachet_directory::TlsServerConfig>, String)> {
    let configured = crate::https_cmd::check(config, "cachet.toml")?;
    let (chain, key, path, origin) = crate::https_cmd::identity(&data.dir, configured, base_url)?;
    let tls = cachet_web::tls::server_config(chain, &key, &[])
        .map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    let mut tls = (*tls).clone();
    tls.alpn_protocols.clear();
    Ok((Arc::new(tls), format!("{origin} {}", path.display())))
}

/// Starts the directory unless its default addresses are taken; prints
/// `cachet: ldap listening on ADDR` (and `cachet: ldaps listening on ADDR`).
pub(crate) async fn start(
    data: &DataArg,
    unlock_arg: &UnlockArg,
    config: &Config,
    overrides: &[(String, SocketAddr)],
) -> Result<Option<Ldap>> {
    let ldap = bind("ldap", config, overrides, "0.0.0.0:2389").await?;
    let ldaps = bind("ldaps", config, overrides, "0.0.0.0:2636").await?;
    if ldap.is_none() && ldaps.is_none() {
        return Ok(None);
    }
    let cachet = open(data).await?;
    let kek = match unlock(&cachet, unlock_arg).await {
        Ok(k) => k,
        Err(e) => {
            cachet.store().close().await;
            return Err(e);
        }
    };
    let (tls, origin) = match tls_config(data, config, cachet.base_url()) {
        Ok(t) => t,
        Err(e) => {
            cachet.store().close().await;
            return Err(e);
        }
    };
    let directory = cachet_directory::Directory::new(
        cachet,
        kek,
        cachet_directory::system_clock(),
        cachet_directory::Options {
            tls: Some(tls),
            ..options(&config.directory)
        },
    )
    .await?;
    tracing::info!(
        people = directory.tree().people(),
        suffix = directory.tree().suffix_dn(),
        "serving the certificate directory (LDAPv3)"
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let mut tasks = Vec::new();
    for (service, listener) in [("ldap", ldap), ("ldaps", ldaps)] {
        let Some(listener) = listener else {
            continue;
        };
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| service.to_string());
        let what = if service == "ldap" { "StartTLS" } else { "TLS" };
        eprintln!("cachet: {service} {what} with the {origin}");
        eprintln!("cachet: {service} listening on {bound}");
        let d = directory.clone();
        let task = if service == "ldap" {
            tokio::spawn(cachet_directory::serve(listener, d, until_stopped()))
        } else {
            tokio::spawn(cachet_directory::serve_ldaps(listener, d, until_stopped()))
        };
        tasks.push((service, task));
    }
    Ok(Some(Ldap {
        stop,
        tasks,
        directory,
    }))
}

impl Ldap {
    /// Stops accepting, closes the connections (within `drain`) and the database.
    pub(crate) async fn stop(self, drain: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + drain;
        for (service, task) in self.tasks {
            match tokio::time::timeout_at(deadline, task).await {
                Ok(Ok(Err(e))) => eprintln!("cachet: the {service} service failed: {e}"),
                Err(_) => eprintln!(
                    "cachet: {service} connections still open after {} s: closing them",
                    drain.as_secs()
                ),
                _ => {}
            }
        }
        self.directory.cachet().store().close().await;
    }
}
