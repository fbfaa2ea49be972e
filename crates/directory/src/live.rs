//! The directory kept current with the installation: the tree is loaded once, then every
//! search first asks the store whether anything changed (the audit log's newest sequence
//! number, see `cachet_service::directory`) and reads again only the mailboxes the new audit
//! records name. A search therefore sees every change committed before it arrived (issue #7:
//! "a revoked certificate disappears on the next search"), while concurrent searches share
//! one check: a check that *started* after a search arrived answers for it, so under load
//! the store sees about one small query per round trip, not one per search.

use crate::tree::{CaData, PersonData, Tree};
use cachet_service::{Cachet, DirectoryDelta, DirectoryPerson, Kek, ServiceError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};
use tokio_rustls::rustls::ServerConfig;

/// The clock: seconds since the Unix epoch (injected so tests can move time).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    })
}

/// The server's settings and bounds.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whether clients that have not bound may search (on by default: address books read
    /// certificates anonymously).
    pub anonymous_read: bool,
    /// Connections served at once; more are sent a Notice of Disconnection (busy) and
    /// closed.
    pub max_connections: usize,
    /// A connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Most entries a search (or a page) returns.
    pub size_limit: usize,
    /// Longest a search may run.
    pub time_limit: Duration,
    /// Largest request (bytes).
    pub max_message: usize,
    /// How stale the tree may be: zero checks the store before every search; more lets
    /// searches within that interval of the last check skip it (faster, less live).
    pub max_staleness: Duration,
    /// How often the CRLs in `ou=pki` are confirmed current with the service.
    pub crl_refresh: Duration,
    /// Refused writes audited per connection before it is closed.
    pub max_refused_writes: usize,
    /// The TLS server configuration for StartTLS (RFC 4511 §4.14, RFC 4513 §3) and LDAPS;
    /// without it StartTLS is answered `unavailable`.
    pub tls: Option<Arc<ServerConfig>>,
    /// Longest a TLS handshake may take.
    pub handshake_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            anonymous_read: true,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(300),
            size_limit: 1000,
            time_limit: Duration::from_secs(10),
            max_message: crate::codec::MAX_MESSAGE,
            max_staleness: Duration::ZERO,
            crl_refresh: Duration::from_secs(1),
            max_refused_writes: 16,
            tls: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

struct SyncState {
    marker: i64,
    crls_at: Option<Instant>,
}

/// The directory: the installation, its tree and how current it is.
pub struct Directory {
    pub(crate) cachet: Cachet,
    pub(crate) kek: Kek,
    clock: Clock,
    pub(crate) options: Options,
    tree: RwLock<Tree>,
    sync: tokio::sync::Mutex<SyncState>,
    checks_started: AtomicU64,
    checks_done: AtomicU64,
    last_check: Mutex<Option<Instant>>,
    pub(crate) binds: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A person as the tree holds it. The certificates a sender can encrypt to (profiles
/// `encryption` and `dual`) come first, newest first, then the signing ones: the order of
/// an attribute's values carries no meaning in LDAP (RFC 4512 §2.3), but some clients use
/// only the first value — GnuPG's `dirmngr_ldap` (2.2.40 at least) writes the first value of
/// `userCertificate;binary` once per value, so `gpgsm` sees one certificate — and the one
/// a client looks a person up for is the one to encrypt to.
fn person(p: DirectoryPerson) -> PersonData {
    let mut certs = p.certificates;
    // Stable: the store's newest-first order holds within each group.
    certs.sort_by_key(|c| c.profile == "signing");
    PersonData {
        email: p.email,
        name: p.name,
        certs: certs
            .into_iter()
            .map(|c| (c.der, c.not_before, c.not_after))
            .collect(),
    }
}

impl Directory {
    /// Loads the tree of an open installation. The KEK lets the directory publish a CRL
    /// when the stored one is no longer current, and audit refused writes.
    pub async fn new(
        cachet: Cachet,
        kek: Kek,
        clock: Clock,
        options: Options,
    ) -> Result<Arc<Directory>, ServiceError> {
        let cas: Vec<CaData> = cachet
            .cas()
            .await?
            .into_iter()
            .map(|(rec, cert)| CaData {
                slug: rec.slug,
                cert: cert.der().to_vec(),
            })
            .collect();
        let mut tree = Tree::new(cachet.domain(), None, &cas);
        if options.tls.is_some() {
            tree.advertise_extension(crate::tree::STARTTLS_OID);
        }
        // The marker first: a change made while the people load is read again next time.
        let marker = cachet.directory_marker().await?;
        let people = cachet.directory_people(clock()).await?;
        let people: Vec<PersonData> = people.into_iter().map(person).collect();
        tree.replace_people(&people);
        Ok(Arc::new(Directory {
            cachet,
            kek,
            clock,
            options,
            tree: RwLock::new(tree),
            sync: tokio::sync::Mutex::new(SyncState {
                marker,
                crls_at: None,
            }),
            checks_started: AtomicU64::new(0),
            checks_done: AtomicU64::new(0),
            last_check: Mutex::new(None),
            binds: tokio::sync::Semaphore::new(2),
        }))
    }

    /// Now, by the directory's clock.
    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    /// The installation.
    pub fn cachet(&self) -> &Cachet {
        &self.cachet
    }

    /// The tree, for reading (never held across an `.await`).
    pub fn tree(&self) -> RwLockReadGuard<'_, Tree> {
        self.tree.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the tree up to date with every change committed before this call (see the
    /// module documentation), unless [`Options::max_staleness`] allows skipping the check.
    pub async fn refresh(&self) -> Result<(), ServiceError> {
        if !self.options.max_staleness.is_zero() {
            let last = *self.last_check.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < self.options.max_staleness) {
                return Ok(());
            }
        }
        let arrival = self.checks_started.load(Ordering::SeqCst);
        let mut state = self.sync.lock().await;
        if self.checks_done.load(Ordering::SeqCst) > arrival {
            return Ok(()); // a check that started after we arrived has completed
        }
        let number = self.checks_started.fetch_add(1, Ordering::SeqCst) + 1;
        let started = Instant::now();
        self.sync_once(&mut state).await?;
        self.checks_done.store(number, Ordering::SeqCst);
        *self.last_check.lock().unwrap_or_else(|p| p.into_inner()) = Some(started);
        Ok(())
    }

    async fn sync_once(&self, state: &mut SyncState) -> Result<(), ServiceError> {
        let now = self.now();
        match self.cachet.directory_delta(state.marker).await? {
            DirectoryDelta::None => {}
            DirectoryDelta::Mailboxes { marker, emails } => {
                let mut updates = Vec::with_capacity(emails.len());
                for e in emails {
                    let p = self.cachet.directory_person(&e, now).await?;
                    updates.push((e, p.map(person)));
                }
                let mut tree = self.tree.write().unwrap_or_else(|p| p.into_inner());
                for (email, p) in updates {
                    match p {
                        Some(p) => tree.put_person(&p),
                        None => tree.remove_person(&email),
                    }
                }
                state.marker = marker;
                // A revocation changes the CRLs too.
                state.crls_at = None;
            }
            DirectoryDelta::Everything => {
                let marker = self.cachet.directory_marker().await?;
                let people: Vec<PersonData> = self
                    .cachet
                    .directory_people(now)
                    .await?
                    .into_iter()
                    .map(person)
                    .collect();
                let mut tree = self.tree.write().unwrap_or_else(|p| p.into_inner());
                tree.replace_people(&people);
                state.marker = marker;
                state.crls_at = None;
            }
        }
        Ok(())
    }

    /// Confirms the CRLs of `ou=pki` with the service (which publishes a new one when the
    /// stored one is no longer current), at most once per [`Options::crl_refresh`].
    pub async fn refresh_crls(&self) {
        let mut state = self.sync.lock().await;
        if state
            .crls_at
            .is_some_and(|t| t.elapsed() < self.options.crl_refresh)
        {
            return;
        }
        let slugs = self.tree().ca_slugs();
        let now = self.now();
        let mut crls = Vec::new();
        for slug in slugs {
            match self.cachet.current_crl(&self.kek, &slug, now).await {
                Ok(c) => crls.push((slug, Arc::new(c.record.der))),
                Err(e) => tracing::warn!(ca = %slug, error = %e, "ldap: cannot read the CRL"),
            }
        }
        let mut tree = self.tree.write().unwrap_or_else(|p| p.into_inner());
        for (slug, der) in crls {
            tree.crls.insert(slug, der);
        }
        state.crls_at = Some(Instant::now());
    }
}
