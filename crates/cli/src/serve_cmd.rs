//! `cachet serve`: runs the network services over a data directory (DESIGN.md "Defaults of
//! `cachet serve`"). In this release that is HTTP (`cachet-web`: CRLs, CA certificates,
//! OCSP, certificate lookup, health, metrics), the same over TLS plus EST enrollment
//! (`https_cmd`, default 0.0.0.0:8443) and the LDAP certificate directory
//! (`cachet-directory`, started by `directory_cmd`); the mail services are refused with a
//! sentence rather than silently not started.
//!
//! With no configuration it unlocks the CA keys with `master.key` (or `--passphrase-file`)
//! and listens on 0.0.0.0:8080. `cachet.toml` (from `--config`, else the data directory)
//! and `--listen SERVICE=ADDR` (which wins) choose the addresses. It prints one line per
//! listener, `cachet: http listening on ADDR`, with the address actually bound (port 0
//! picks a free one), and stops cleanly on SIGINT or SIGTERM: no new connections, requests
//! in flight finished (for at most [`DRAIN`]), the database closed.

use crate::commands::{DataArg, UnlockArg, unlock};
use crate::io::{CliError, Result};
use cachet_service::config::{Config, DEFAULT_LISTEN, service_names};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How long requests in flight may take to finish after a stop signal.
pub const DRAIN: Duration = Duration::from_secs(10);

/// The services this release can run.
const AVAILABLE: &[&str] = &["http", "https", "ldap", "ldaps"];

#[derive(Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    data: DataArg,
    #[command(flatten)]
    unlock: UnlockArg,
    /// Settings file (default: DIR/cachet.toml when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where a service listens, e.g. http=127.0.0.1:8080 (port 0: any free port);
    /// repeatable; wins over cachet.toml. Services: http, https, smtp, submission, imap, pop3, ldap, ldaps.
    #[arg(long = "listen", value_name = "SERVICE=ADDR")]
    listen: Vec<String>,
    /// How often the renewal scheduler looks for certificates past their renewal point
    /// (`enrollment.renew_at`), in seconds; it also runs once at start.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    renew_every: u64,
}

/// Renews what is due (see `cachet renew --due`) at start and then every `every`. Renewal
/// is idempotent across nodes: a certificate another node renewed first is skipped.
async fn renewal_scheduler(state: Arc<cachet_web::AppState>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = crate::io::now();
        let run = state.cachet().renew_due(
            state.kek(),
            state.policy(),
            "cachet-serve:renewal",
            now,
            10_000,
        );
        match cachet_web::cpu_bound(run).await {
            Ok(r) if r.renewed.is_empty() && r.failed.is_empty() => {}
            Ok(r) => {
                tracing::info!(
                    renewed = r.renewed.len(),
                    failed = r.failed.len(),
                    "renewal run"
                );
                for (serial, why) in &r.failed {
                    tracing::warn!(serial = %serial, error = %why, "could not renew");
                }
            }
            Err(e) => tracing::error!(error = %e, "renewal run failed"),
        }
    }
}

/// Reads `--listen SERVICE=ADDR` values: every service named must be known and available in
/// this release, and every address an IP address with a port.
fn parse_listen(values: &[String]) -> Result<Vec<(String, std::net::SocketAddr)>> {
    let mut out = Vec::new();
    for v in values {
        let (service, addr) = v.split_once('=').ok_or_else(|| {
            CliError(format!(
                "--listen {v}: expected SERVICE=ADDR, e.g. --listen http=127.0.0.1:8080"
            ))
        })?;
        let service = service.trim().to_ascii_lowercase();
        if !DEFAULT_LISTEN.iter().any(|(s, _)| *s == service) {
            return Err(CliError(format!(
                "--listen {v}: unknown service '{service}' (known: {})",
                service_names()
            )));
        }
        if !AVAILABLE.contains(&service.as_str()) {
            return Err(CliError(format!(
                "--listen {v}: the {service} service is not available in this release of Cachet (only {} is); remove this option",
                AVAILABLE.join(", ")
            )));
        }
        let addr = addr.trim().parse().map_err(|_| {
            CliError(format!(
                "--listen {v}: '{addr}' is not an address with a port, like 127.0.0.1:8080 or [::]:8080"
            ))
        })?;
        out.push((service, addr));
    }
    Ok(out)
}

/// Logs go to standard error; `CACHET_LOG` sets the level (error, warn, info, debug,
/// trace; default info). The LDAP codec library logs an error for every malformed message a
/// client sends: those are silenced, since any client could fill the log with them (the
/// directory reports what it refuses itself).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    let level = std::env::var("CACHET_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let targets = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("ldap3_proto", tracing_subscriber::filter::LevelFilter::OFF)
        .with_target("ldap3_lber", tracing_subscriber::filter::LevelFilter::OFF);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(false)
        .finish()
        .with(targets);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Waits for SIGINT or SIGTERM and names it.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        _ => {
            // Without signal handlers the server can only be killed; say so once.
            eprintln!(
                "cachet: cannot install the SIGTERM/SIGINT handlers; stop the server with SIGKILL"
            );
            std::future::pending().await
        }
    }
}

pub(crate) async fn run(args: ServeArgs) -> Result<ExitCode> {
    // Everything the command line and the settings say is checked before anything opens.
    let overrides = parse_listen(&args.listen)?;
    let config = Config::load(args.config.as_deref(), &args.data.dir)?;
    let source = args
        .config
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "cachet.toml".into());
    let tls_files = crate::https_cmd::check(&config, &source)?;
    for service in config.listen.keys() {
        if !AVAILABLE.contains(&service.as_str()) {
            eprintln!(
                "cachet: {source} sets listen.{service}, but the {service} service is not available in this release; not started"
            );
        }
    }
    let http = match overrides.iter().rev().find(|(s, _)| s == "http") {
        Some((_, a)) => a.to_string(),
        None => config
            .listen_address("http")
            .unwrap_or_else(|| "0.0.0.0:8080".into()),
    };

    init_logging();
    let cachet = crate::commands::open_configured(&args.data, &config).await?;
    let kek = match unlock(&cachet, &args.unlock).await {
        Ok(k) => k,
        Err(e) => {
            cachet.store().close().await;
            return Err(e);
        }
    };
    let state = cachet_web::AppState::build(
        cachet,
        kek,
        cachet_web::system_clock(),
        cachet_web::DEFAULT_CRL_REFRESH,
        config.enrollment.clone(),
    )
    .await?;
    let renewal = tokio::spawn(renewal_scheduler(
        state.clone(),
        Duration::from_secs(args.renew_every.max(1)),
    ));
    let listener = match tokio::net::TcpListener::bind(&http).await {
        Ok(l) => l,
        Err(e) => {
            state.cachet().store().close().await;
            return Err(CliError(format!("cannot listen on {http} for http: {e}")));
        }
    };
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| http.clone());
    eprintln!("cachet: http listening on {bound}");
    let https =
        crate::https_cmd::start(&args.data, &config, tls_files, &overrides, state.clone()).await?;
    let ldap = crate::directory_cmd::start(&args.data, &args.unlock, &config, &overrides).await?;
    tracing::info!(
        data = %args.data.dir.display(),
        base_url = state.cachet().base_url(),
        cas = ?state.ca_names(),
        "serving CRLs, CA certificates, OCSP and certificate lookup"
    );

    let stopping = Arc::new(tokio::sync::Notify::new());
    let notify = stopping.clone();
    // The REST API rides on plain HTTP only on loopback (a proxy on the same host may add
    // TLS); elsewhere it is served by the https listener.
    let api_on_http = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    let app = cachet_web::router(state.clone(), api_on_http);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let sig = stop_signal().await;
        eprintln!("cachet: {sig} received: finishing the requests in flight and stopping");
        notify.notify_one();
    });
    let result = tokio::select! {
        r = server.into_future() => r.map_err(|e| CliError(format!("the http service failed: {e}"))),
        _ = async {
            stopping.notified().await;
            tokio::time::sleep(DRAIN).await;
        } => {
            eprintln!("cachet: connections still open after {} s: closing them", DRAIN.as_secs());
            Ok(())
        }
    };
    if let Some(https) = https {
        https.stop(DRAIN).await;
    }
    if let Some(ldap) = ldap {
        ldap.stop(DRAIN).await;
    }
    renewal.abort();
    state.cachet().store().close().await;
    result?;
    eprintln!("cachet: stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_values() {
        let ok = parse_listen(&["http=127.0.0.1:0".into(), "HTTP=[::1]:8080".into()]).unwrap();
        assert_eq!(ok[0].0, "http");
        assert_eq!(ok[1].1.port(), 8080);
        let e = parse_listen(&["imap=127.0.0.1:2143".into()]).unwrap_err().0;
        assert!(
            e.contains("imap service is not available in this release"),
            "{e}"
        );
        assert!(
            parse_listen(&["gopher=127.0.0.1:70".into()])
                .unwrap_err()
                .0
                .contains("unknown service")
        );
        assert!(parse_listen(&["http".into()]).is_err());
        assert!(parse_listen(&["http=localhost".into()]).is_err());
    }
}
