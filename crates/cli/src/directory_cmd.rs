//! The LDAP certificate directory inside `cachet serve` (issue #7): started beside HTTP with
//! its own connection to the data directory, on `--listen ldap=ADDR`, `listen.ldap` in
//! `cachet.toml`, or the default 0.0.0.0:2389. An address given explicitly that cannot be
//! bound is an error; the default one being taken (another `cachet serve` on this machine)
//! only leaves the directory off, with a line that says so.

use crate::commands::{DataArg, UnlockArg, open, unlock};
use crate::io::{CliError, Result};
use cachet_service::config::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A running directory.
pub(crate) struct Ldap {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    directory: Arc<cachet_directory::Directory>,
}

/// Starts the directory unless its default address is taken; prints
/// `cachet: ldap listening on ADDR`.
pub(crate) async fn start(
    data: &DataArg,
    unlock_arg: &UnlockArg,
    config: &Config,
    overrides: &[(String, SocketAddr)],
) -> Result<Option<Ldap>> {
    let explicit = overrides
        .iter()
        .rev()
        .find(|(s, _)| s == "ldap")
        .map(|(_, a)| a.to_string())
        .or_else(|| config.listen.get("ldap").cloned());
    let addr = explicit
        .clone()
        .or_else(|| config.listen_address("ldap"))
        .unwrap_or_else(|| "0.0.0.0:2389".into());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) if explicit.is_none() => {
            eprintln!(
                "cachet: cannot listen on {addr} for ldap ({e}); the directory is not started (set --listen ldap=ADDR or listen.ldap)"
            );
            return Ok(None);
        }
        Err(e) => return Err(CliError(format!("cannot listen on {addr} for ldap: {e}"))),
    };
    let cachet = open(data).await?;
    let kek = match unlock(&cachet, unlock_arg).await {
        Ok(k) => k,
        Err(e) => {
            cachet.store().close().await;
            return Err(e);
        }
    };
    let directory = cachet_directory::Directory::new(
        cachet,
        kek,
        cachet_directory::system_clock(),
        cachet_directory::Options::default(),
    )
    .await?;
    let bound = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
    eprintln!("cachet: ldap listening on {bound}");
    tracing::info!(
        people = directory.tree().people(),
        suffix = directory.tree().suffix_dn(),
        "serving the certificate directory (LDAPv3)"
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(cachet_directory::serve(
        listener,
        directory.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    Ok(Some(Ldap {
        stop,
        task,
        directory,
    }))
}

impl Ldap {
    /// Stops accepting, closes the connections (within `drain`) and the database.
    pub(crate) async fn stop(self, drain: Duration) {
        let _ = self.stop.send(());
        match tokio::time::timeout(drain, self.task).await {
            Ok(Ok(Err(e))) => eprintln!("cachet: the ldap service failed: {e}"),
            Err(_) => eprintln!(
                "cachet: ldap connections still open after {} s: closing them",
                drain.as_secs()
            ),
            _ => {}
        }
        self.directory.cachet().store().close().await;
    }
}
