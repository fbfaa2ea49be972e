//! HTTP for Cachet: what relying parties and mail clients fetch from the organisation's CA —
//! CRLs (RFC 5280 §5, served as RFC 2585 `application/pkix-crl`), CA certificates (the
//! caIssuers of RFC 5280 §4.2.2.1, `application/pkix-cert`), the OCSP responder (RFC 6960,
//! POST and the GET form of Appendix A.1), the HTTPS certificate lookup of a mailbox, a
//! health check and Prometheus metrics. [`router`] builds the axum `Router` that
//! `cachet serve` runs on its http listener; [`tls_router`] adds EST enrollment (RFC 7030,
//! [`est`]) for the https listener, whose TLS side ([`tls`]) is here too.
//!
//! This crate is an adapter: every decision (when a CRL is stale, what an OCSP response
//! says, which certificates are current) is made by `cachet-service`; here requests are
//! parsed, answers cached in memory and encoded. It does not bind sockets or install signal
//! handlers (the `cachet serve` command does), and does not yet hold ACME enrollment or the
//! portal pages that DESIGN.md assigns to it.
#![forbid(unsafe_code)]

pub mod api;
pub mod est;
mod handlers;
pub mod metrics;
pub mod tls;

use cachet_service::config::EnrollmentPolicy;
use cachet_service::{Cachet, Kek, ServiceError};
use metrics::Metrics;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use handlers::{router, tls_router};

/// The clock: seconds since the Unix epoch. Injected so tests can pin and move time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Runs CPU-heavy service work — Argon2id password checks, PKCS#12 key derivation, key
/// generation, renewal runs — without stalling the other requests of its worker: on the
/// multi-threaded runtime of `cachet serve` the worker hands its queued tasks to the rest of
/// the pool while it computes (tokio's `block_in_place`). On a single-threaded runtime
/// (tests) it simply awaits.
pub async fn cpu_bound<F: std::future::Future>(f: F) -> F::Output {
    let handle = tokio::runtime::Handle::current();
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| handle.block_on(f))
    } else {
        f.await
    }
}

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    })
}

/// The largest request body read (an OCSP request; RFC 6960 requests are a few hundred
/// bytes, `cachet_pki::ocsp::MAX_REQUEST_LEN` is 64 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// How long a CRL held in memory is served before the service is asked again whether it is
/// still current: at most one database round trip per CA per interval, however many clients
/// fetch it (the goal is ≥ 10,000 CRL fetches per second on two cores).
pub const DEFAULT_CRL_REFRESH: Duration = Duration::from_secs(1);

/// A CA certificate as served from memory.
#[derive(Debug, Clone)]
pub(crate) struct CaFile {
    pub(crate) der: axum::body::Bytes,
    pub(crate) etag: String,
}

/// A CRL as served from memory.
#[derive(Debug)]
pub(crate) struct CrlEntry {
    pub(crate) der: axum::body::Bytes,
    pub(crate) etag: String,
    pub(crate) last_modified: String,
    pub(crate) this_update: u64,
    pub(crate) next_update: u64,
    refreshed_at: Instant,
    refreshed_unix: u64,
}

/// What the handlers share: the open installation, its unlocked key-encryption key (CRLs
/// and OCSP responder certificates are signed on demand), the clock, and the in-memory
/// copies of CA certificates and CRLs.
pub struct AppState {
    cachet: Cachet,
    kek: Kek,
    clock: Clock,
    started: Instant,
    pub(crate) cas: HashMap<String, CaFile>,
    crls: RwLock<HashMap<String, Arc<CrlEntry>>>,
    crl_refresh: tokio::sync::Mutex<()>,
    crl_refresh_interval: Duration,
    pub(crate) metrics: Metrics,
    policy: EnrollmentPolicy,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("cas", &self.cas.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The quoted strong entity tag of a published object (RFC 9110 §8.8.3): the hex SHA-256
/// of its DER, so every node serving the same bytes gives the same tag.
pub(crate) fn etag_of(der: &[u8]) -> String {
    format!("\"{}\"", hex::encode(cachet_crypto::digest::sha256(der)))
}

/// An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(t: u64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let dt = i64::try_from(t)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[dt.weekday().number_days_from_monday() as usize],
        dt.day(),
        MONTHS[usize::from(u8::from(dt.month())) - 1],
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

impl AppState {
    /// The state over an open installation and its unlocked KEK; loads the CA certificates.
    pub async fn new(
        cachet: Cachet,
        kek: Kek,
        clock: Clock,
    ) -> Result<Arc<AppState>, ServiceError> {
        Self::with_refresh(cachet, kek, clock, DEFAULT_CRL_REFRESH).await
    }

    /// As [`AppState::new`], asking the service whether a CRL is still current at most once
    /// per `crl_refresh_interval` (tests use zero to see every revocation at once).
    pub async fn with_refresh(
        cachet: Cachet,
        kek: Kek,
        clock: Clock,
        crl_refresh_interval: Duration,
    ) -> Result<Arc<AppState>, ServiceError> {
        Self::build(
            cachet,
            kek,
            clock,
            crl_refresh_interval,
            EnrollmentPolicy::default(),
        )
        .await
    }

    /// The state with every setting given: the CRL refresh interval and the enrollment
    /// policy that accounts created or renewed through the API follow.
    pub async fn build(
        cachet: Cachet,
        kek: Kek,
        clock: Clock,
        crl_refresh_interval: Duration,
        policy: EnrollmentPolicy,
    ) -> Result<Arc<AppState>, ServiceError> {
        let mut cas = HashMap::new();
        for (rec, cert) in cachet.cas().await? {
            let der = axum::body::Bytes::copy_from_slice(cert.der());
            cas.insert(
                rec.slug,
                CaFile {
                    etag: etag_of(&der),
                    der,
                },
            );
        }
        Ok(Arc::new(AppState {
            cachet,
            kek,
            clock,
            started: Instant::now(),
            cas,
            crls: RwLock::new(HashMap::new()),
            crl_refresh: tokio::sync::Mutex::new(()),
            crl_refresh_interval,
            metrics: Metrics::default(),
            policy,
        }))
    }

    /// The installation.
    pub fn cachet(&self) -> &Cachet {
        &self.cachet
    }

    /// The names of the CAs served (`root`, `issuing`).
    pub fn ca_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.cas.keys().cloned().collect();
        v.sort();
        v
    }

    pub(crate) fn now(&self) -> u64 {
        (self.clock)()
    }

    /// The unlocked key-encryption key (for the daemons `cachet serve` runs beside HTTP).
    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    /// The enrollment policy of accounts created or renewed here.
    pub fn policy(&self) -> &EnrollmentPolicy {
        &self.policy
    }

    /// Drops the CRLs held in memory after a change made through this node (a revocation),
    /// so the next fetch asks the service at once instead of after the refresh interval.
    pub(crate) fn invalidate_publication(&self) {
        self.crls.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn cached_crl(&self, slug: &str) -> Option<Arc<CrlEntry>> {
        self.crls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(slug)
            .cloned()
    }

    fn is_current(&self, e: &CrlEntry, now: u64) -> bool {
        let half = e.this_update + e.next_update.saturating_sub(e.this_update) / 2;
        e.refreshed_at.elapsed() < self.crl_refresh_interval
            && now >= e.refreshed_unix
            && now < half
    }

    /// The CRL of CA `slug` to serve now: from memory while it was confirmed current less
    /// than the refresh interval ago; else one task asks the service
    /// ([`Cachet::current_crl`], which publishes a new CRL when needed) while the others keep
    /// serving the copy in memory. If the service fails, the copy is served until its
    /// nextUpdate.
    pub(crate) async fn crl(&self, slug: &str) -> Result<Arc<CrlEntry>, ServiceError> {
        let now = self.now();
        let held = self.cached_crl(slug);
        let _guard = match &held {
            Some(e) if self.is_current(e, now) => return Ok(e.clone()),
            Some(e) => match self.crl_refresh.try_lock() {
                Ok(g) => g,
                Err(_) => return Ok(e.clone()),
            },
            None => {
                let g = self.crl_refresh.lock().await;
                if let Some(e) = self.cached_crl(slug)
                    && self.is_current(&e, now)
                {
                    return Ok(e);
                }
                g
            }
        };
        match self.cachet.current_crl(&self.kek, slug, now).await {
            Ok(cur) => {
                if cur.published {
                    self.metrics.crl_published(slug);
                    tracing::info!(ca = slug, number = cur.record.number, "published a new CRL");
                }
                let r = cur.record;
                let der = axum::body::Bytes::from(r.der);
                let entry = Arc::new(CrlEntry {
                    etag: etag_of(&der),
                    last_modified: http_date(r.this_update.max(0) as u64),
                    der,
                    this_update: r.this_update.max(0) as u64,
                    next_update: r.next_update.max(0) as u64,
                    refreshed_at: Instant::now(),
                    refreshed_unix: now,
                });
                self.crls
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(slug.to_string(), entry.clone());
                Ok(entry)
            }
            Err(e) => match held {
                Some(old) if now < old.next_update => {
                    tracing::warn!(ca = slug, error = %e, "cannot refresh the CRL; serving the one in memory");
                    Ok(old)
                }
                _ => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdates() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
