//! Publication (issue #6): what `cachet serve` answers over HTTP, decided here so that every
//! adapter (and every node sharing the database) answers alike.
//!
//! - [`Cachet::current_crl`]: an "always fresh" CRL (RFC 5280 §5). The stored CRL is served
//!   until a certificate of its CA is revoked after it was made, or half its life
//!   (thisUpdate → nextUpdate) has passed, and then a new one is published.
//! - [`Cachet::ocsp_response`] / [`Cachet::ocsp_answer`]: an OCSP responder (RFC 6960) for
//!   every CA, signed by a *delegated* responder certificate per CA (§4.2.2.2) so the CA keys
//!   are used once a few days rather than for every response. The responder key is sealed
//!   under the KEK like the CA keys and its certificate carries id-pkix-ocsp-nocheck
//!   (§4.2.2.2.1) and lives 7 days, renewed at half-life.
//! - [`Cachet::lookup`]: the current certificates of a mailbox, for the HTTPS directory.
//!
//! The time is always a parameter; the only I/O is the store.

use crate::ca::{Cachet, ISSUING, audit};
use crate::error::{Result, ServiceError};
use crate::keyring::Kek;
use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::{ParsedCrl, RevocationReason};
use cachet_pki::issue::{random_serial, sign_certificate};
use cachet_pki::lint::{Role, lint};
use cachet_pki::name::NameBuilder;
use cachet_pki::ocsp::{
    CertStatus, ErrorStatus, ParsedRequest, ResponseBuilder, ResponseEntry, error_response,
    parse_request,
};
use cachet_pki::profile::{normalize_email, ocsp_signer_common_name, ocsp_signer_template};
use cachet_store::{CertificateRecord, CrlRecord, OcspSignerRecord, RevocationSummary, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

const DAY: u64 = 86_400;
/// Life of a delegated OCSP responder certificate (capped by its CA's notAfter).
pub const OCSP_SIGNER_DAYS: u64 = 7;
/// How long an OCSP response is valid (nextUpdate − thisUpdate), capped by the responder
/// certificate's notAfter.
pub const OCSP_VALIDITY: u64 = DAY;
/// Who the audit log names for what `cachet serve` does by itself (CRLs it publishes,
/// OCSP responder certificates it issues).
pub const PUBLICATION_ACTOR: &str = "cachet-serve";
/// Requests longer than this are answered but not cached (a typical one is ~100 bytes).
const MAX_CACHED_REQUEST: usize = 1024;
/// Cached responses kept at most; the cache is emptied when it is full.
const MAX_CACHED_RESPONSES: usize = 4096;

/// A CA as the responder sees it.
#[derive(Clone, Debug)]
struct CaEntry {
    slug: String,
    parent: Option<String>,
    cert: ParsedCertificate,
}

/// A delegated responder ready to sign.
#[derive(Debug)]
struct LiveSigner {
    cert: ParsedCertificate,
    key: PrivateKey,
    /// When to make the next one: half its life.
    renew_at: u64,
}

#[derive(Clone, Debug)]
struct CachedResponse {
    der: Arc<Vec<u8>>,
    counts: OcspCounts,
    /// Revocations known when it was made; any change discards it.
    marker: RevocationSummary,
    produced_at: u64,
    /// Half its validity: served until then.
    fresh_until: u64,
}

/// In-memory publication state of one open [`Cachet`]: the CA certificates, the delegated
/// OCSP signers with their keys opened, and cached nonce-less OCSP responses. Locks guard
/// only map look-ups (never an `.await`), except the two async locks that keep one CRL
/// publication and one signer issuance at a time.
#[derive(Default)]
pub struct PublicationState {
    cas: Mutex<Option<Arc<Vec<CaEntry>>>>,
    signers: Mutex<HashMap<String, Arc<LiveSigner>>>,
    responses: Mutex<HashMap<Vec<u8>, CachedResponse>>,
    crl_lock: tokio::sync::Mutex<()>,
    signer_lock: tokio::sync::Mutex<()>,
    /// The number of entries of the newest CRL seen per CA, keyed by (CA, CRL number), so a
    /// 10,000-entry CRL is parsed once rather than at every freshness check.
    crl_entries: Mutex<HashMap<String, (i64, i64)>>,
}

impl std::fmt::Debug for PublicationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicationState(..)")
    }
}

/// A poisoned lock only means another thread panicked while holding a map; the maps are
/// caches, so carry on with what is there.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The CRL to serve, and whether this call had to publish it.
#[derive(Debug, Clone)]
pub struct CurrentCrl {
    /// The CRL.
    pub record: CrlRecord,
    /// Whether it was published by this call (the stored one was not current).
    pub published: bool,
}

/// How many SingleResponses of each status a response holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OcspCounts {
    /// good.
    pub good: usize,
    /// revoked.
    pub revoked: usize,
    /// unknown.
    pub unknown: usize,
}

/// An OCSP response and what it says, for the adapter's logs and metrics.
#[derive(Debug, Clone)]
pub struct OcspAnswer {
    /// The DER OCSPResponse to send (always a valid OCSP response, also on errors).
    pub der: Arc<Vec<u8>>,
    /// The statuses of a successful response.
    pub counts: OcspCounts,
    /// The error status sent instead of a signed response, if any.
    pub error: Option<ErrorStatus>,
    /// Why, for the log (never sent: RFC 6960 error responses carry no text).
    pub problem: Option<String>,
    /// Whether it came from the cache.
    pub cached: bool,
    /// Until when the answer may be reused by a cache (half its validity); `None` when it
    /// must not be (it echoes a nonce, or is an error).
    pub cacheable_until: Option<u64>,
}

impl OcspAnswer {
    fn error(status: ErrorStatus, problem: String) -> Self {
        OcspAnswer {
            der: Arc::new(error_response(status)),
            counts: OcspCounts::default(),
            error: Some(status),
            problem: Some(problem),
            cached: false,
            cacheable_until: None,
        }
    }
}

/// Whether the stored `crl` is no longer the one to serve at `now`: half its life is gone,
/// or the CA has revoked certificates it does not list. A Cachet CRL lists every revoked
/// certificate of its CA and revocations are permanent, so the number of revoked
/// certificates decides — not revocation times, which come from the revoking process's
/// clock and may be earlier than a CRL published while that revocation waited for the write
/// lock (or on another node with a slower clock).
fn crl_outdated(crl: &CrlRecord, listed: i64, revoked: RevocationSummary, now: u64) -> bool {
    let half = crl.this_update + (crl.next_update - crl.this_update) / 2;
    now as i64 >= half || listed != revoked.count
}

impl Cachet {
    /// The CRL of CA `slug` to serve at `now` (RFC 5280 §5), "always fresh": the newest
    /// stored one, unless none exists, half its life has passed or a certificate of that CA
    /// was revoked after its thisUpdate — then a new one is published (and audited) with
    /// [`Cachet::publish_crl`]. One publication at a time per process.
    pub async fn current_crl(&self, kek: &Kek, slug: &str, now: u64) -> Result<CurrentCrl> {
        let _one = self.publication.crl_lock.lock().await;
        if let Some(crl) = self.store.latest_crl(slug).await? {
            let revoked = self.store.revocation_summary(slug).await?;
            let known = lock(&self.publication.crl_entries)
                .get(slug)
                .filter(|(number, _)| *number == crl.number)
                .map(|(_, n)| *n);
            let listed = match known {
                Some(n) => n,
                None => {
                    // An unreadable stored CRL counts as listing nothing: a new one is made.
                    let n = ParsedCrl::from_der(&crl.der)
                        .map(|c| c.entries().len() as i64)
                        .unwrap_or(-1);
                    lock(&self.publication.crl_entries).insert(slug.to_string(), (crl.number, n));
                    n
                }
            };
            if !crl_outdated(&crl, listed, revoked, now) {
                return Ok(CurrentCrl {
                    record: crl,
                    published: false,
                });
            }
        } else {
            // Unknown CAs are reported as such rather than as a failed publication.
            self.store.ca(slug).await?;
        }
        let record = self.publish_crl(kek, slug, PUBLICATION_ACTOR, now).await?;
        Ok(CurrentCrl {
            record,
            published: true,
        })
    }

    /// The current certificates of a mailbox at `now` — signing, encryption and dual, not
    /// revoked, not superseded by a renewal, inside their validity — newest first. An
    /// address that is not one is [`ServiceError::Pki`] (input error).
    pub async fn lookup(&self, email: &str, now: u64) -> Result<Vec<CertificateRecord>> {
        let email = normalize_email(email.trim())?;
        Ok(self.store.live_certificates(&email, now as i64).await?)
    }

    /// The CA certificates, loaded once (CAs do not change while a data directory is open).
    async fn publication_cas(&self) -> Result<Arc<Vec<CaEntry>>> {
        if let Some(c) = lock(&self.publication.cas).as_ref() {
            return Ok(c.clone());
        }
        let mut list = Vec::new();
        for r in self.store.cas().await? {
            list.push(CaEntry {
                cert: ParsedCertificate::from_der(&r.cert_der)?,
                slug: r.slug,
                parent: r.parent,
            });
        }
        let list = Arc::new(list);
        *lock(&self.publication.cas) = Some(list.clone());
        Ok(list)
    }

    /// The delegated OCSP responder of `ca` to sign with at `now`: the one in memory while
    /// it has more than half its life left, else the newest stored one that does (another
    /// process may have made it), else a new one.
    async fn ocsp_signer(&self, kek: &Kek, ca: &CaEntry, now: u64) -> Result<Arc<LiveSigner>> {
        let usable = |s: &LiveSigner| now < s.renew_at && now >= s.cert.not_before();
        if let Some(s) = lock(&self.publication.signers).get(&ca.slug)
            && usable(s)
        {
            return Ok(s.clone());
        }
        let _one = self.publication.signer_lock.lock().await;
        if let Some(s) = lock(&self.publication.signers).get(&ca.slug)
            && usable(s)
        {
            return Ok(s.clone());
        }
        let stored = match self.store.ocsp_signer(&ca.slug, now as i64).await? {
            Some(rec) => Some(self.open_signer(kek, ca, &rec)?),
            None => None,
        };
        let signer = match stored {
            Some(s) if usable(&s) => s,
            _ => self.issue_ocsp_signer(kek, ca, now).await?,
        };
        let signer = Arc::new(signer);
        lock(&self.publication.signers).insert(ca.slug.clone(), signer.clone());
        Ok(signer)
    }

    fn open_signer(&self, kek: &Kek, ca: &CaEntry, rec: &OcspSignerRecord) -> Result<LiveSigner> {
        let cert = ParsedCertificate::from_der(&rec.cert_der)?;
        let key = kek.open_ocsp_signer_key(&rec.serial, &rec.sealed_key)?;
        let issuer_spki = ca.cert.spki_der()?;
        if cert.spki_der()? != key.public_key_der() || cert.verify_signature(&issuer_spki).is_err()
        {
            return Err(ServiceError::DataDir(format!(
                "OCSP responder {} does not belong to CA '{}' or to its key: the database is damaged",
                rec.serial, ca.slug
            )));
        }
        let nb = cert.not_before();
        let renew_at = nb + (cert.not_after().saturating_sub(nb)) / 2;
        Ok(LiveSigner {
            cert,
            key,
            renew_at,
        })
    }

    /// Issues, lints, stores (with an `ocsp-signer-issued` audit record) and returns a new
    /// delegated responder for `ca`: a P-384 key under a P-384 CA, else P-256.
    async fn issue_ocsp_signer(&self, kek: &Kek, ca: &CaEntry, now: u64) -> Result<LiveSigner> {
        let (ca_cert, ca_key) = self.ca_with_key(kek, &ca.slug).await?;
        let kt = if ca_cert.key_type()? == KeyType::EcdsaP384 {
            KeyType::EcdsaP384
        } else {
            KeyType::EcdsaP256
        };
        let key = PrivateKey::generate(kt)?;
        let tbs = ca_cert.inner().tbs_certificate();
        let org = cachet_pki::cert::attribute_strings(tbs.subject(), const_oid::db::rfc4519::O);
        let ca_cn = ca_cert
            .common_names()
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut name = NameBuilder::new();
        if let Some(o) = org.first() {
            name = name.organization(o)?;
        }
        let subject_der = name
            .common_name(&ocsp_signer_common_name(&ca_cn))?
            .to_der()?;
        // Backdated a minute, like every certificate Cachet issues, for slow client clocks.
        let not_before = now.saturating_sub(60);
        let not_after = now + OCSP_SIGNER_DAYS * DAY - 1;
        let issuer_subject = ca_cert.subject_der()?;
        for _ in 0..3 {
            let t = ocsp_signer_template(
                subject_der.clone(),
                key.public_key_der().to_vec(),
                random_serial()?.to_vec(),
                not_before,
                not_after,
                &ca_cert,
            )?;
            let cert =
                ParsedCertificate::from_der(&sign_certificate(&t, &issuer_subject, &ca_key)?)?;
            let findings = lint(&cert, Role::OcspSigner, Some(&ca_cert));
            if !findings.is_empty() {
                return Err(cachet_pki::PkiError::Lint(findings).into());
            }
            let serial = cert.serial_hex();
            let rec = OcspSignerRecord {
                serial: serial.clone(),
                ca: ca.slug.clone(),
                cert_der: cert.der().to_vec(),
                sealed_key: kek.seal_ocsp_signer_key(&serial, key.pkcs8_der())?,
                not_after: cert.not_after() as i64,
                created_at: now as i64,
            };
            let entry = audit(
                now,
                PUBLICATION_ACTOR,
                "ocsp-signer-issued",
                Some(serial),
                Some(cert.subject()),
                format!(
                    "ca={} key_type={kt} not_after={}",
                    ca.slug,
                    cachet_pki::time::rfc3339(cert.not_after())
                ),
            );
            match self
                .store
                .insert_ocsp_signer(&kek.audit_key(), &rec, &entry)
                .await
            {
                Ok(()) => {
                    let nb = cert.not_before();
                    let renew_at = nb + cert.not_after().saturating_sub(nb) / 2;
                    return Ok(LiveSigner {
                        cert,
                        key,
                        renew_at,
                    });
                }
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Invalid(
            "could not allocate a unique serial number for the OCSP responder".into(),
        ))
    }

    /// The status of the certificate with serial `serial` (lower-case hex) that `ca` may
    /// have issued: its record (good or revoked), a CA it certified, its key-recovery-agent
    /// certificate (good: CAs and the KRA are not revoked through Cachet yet), else unknown
    /// — RFC 6960 §2.2 and the S/MIME BR §4.10.2: never "good" for a serial not issued.
    async fn serial_status(
        &self,
        ca: &CaEntry,
        cas: &[CaEntry],
        serial: &str,
    ) -> Result<CertStatus> {
        if let Some(rec) = self.store.certificate(serial).await?
            && rec.ca == ca.slug
        {
            return Ok(match rec.revoked_at {
                Some(at) => CertStatus::Revoked {
                    time: at.max(0) as u64,
                    reason: rec
                        .revocation_reason
                        .as_deref()
                        .and_then(RevocationReason::from_name)
                        // RFC 5280 §5.3.1: unspecified is left out rather than written.
                        .filter(|r| *r != RevocationReason::Unspecified),
                },
                None => CertStatus::Good,
            });
        }
        if cas
            .iter()
            .any(|c| c.parent.as_deref() == Some(&ca.slug) && c.cert.serial_hex() == serial)
        {
            return Ok(CertStatus::Good);
        }
        if let Some(split) = self.store.recovery_split().await?
            && split.kra_serial == serial
            && let Ok(kra) = ParsedCertificate::from_der(&split.kra_cert_der)
            && kra.issuer_der().ok() == ca.cert.subject_der().ok()
        {
            return Ok(CertStatus::Good);
        }
        Ok(CertStatus::Unknown)
    }

    /// The DER OCSP response to `request_der` at `now` (RFC 6960); see
    /// [`Cachet::ocsp_answer`].
    pub async fn ocsp_response(&self, kek: &Kek, request_der: &[u8], now: u64) -> Vec<u8> {
        self.ocsp_answer(kek, request_der, now).await.der.to_vec()
    }

    /// Answers an OCSP request (RFC 6960 §4.1–§4.2) at `now`. Never fails: a request that
    /// does not parse gets malformedRequest, a failure here internalError (§2.3).
    ///
    /// Each CertID is matched to a CA by its issuer hashes and answered good, revoked (time
    /// and reason) or unknown (a serial that CA did not issue, or issuer hashes that match
    /// no CA). The response is signed by the delegated responder of the CA the first
    /// matching CertID names (the issuing CA's when none matches), with its certificate
    /// included so clients can check the delegation; the nonce (RFC 8954) is echoed.
    /// thisUpdate is `now`, nextUpdate a day later but never after the responder's
    /// notAfter. Responses to requests without a nonce are cached, keyed by the request DER,
    /// until half their validity has passed or any certificate is revoked.
    pub async fn ocsp_answer(&self, kek: &Kek, request_der: &[u8], now: u64) -> OcspAnswer {
        let req = match parse_request(request_der) {
            Ok(r) => r,
            Err(e) => return OcspAnswer::error(ErrorStatus::MalformedRequest, e.to_string()),
        };
        match self.answer(kek, request_der, &req, now).await {
            Ok(a) => a,
            Err(e) => OcspAnswer::error(ErrorStatus::InternalError, e.to_string()),
        }
    }

    async fn answer(
        &self,
        kek: &Kek,
        request_der: &[u8],
        req: &ParsedRequest,
        now: u64,
    ) -> Result<OcspAnswer> {
        let marker = self.store.revocation_marker().await?;
        let cacheable = req.nonce.is_none() && request_der.len() <= MAX_CACHED_REQUEST;
        if cacheable
            && let Some(c) = lock(&self.publication.responses).get(request_der)
            && c.marker == marker
            && now >= c.produced_at
            && now < c.fresh_until
        {
            return Ok(OcspAnswer {
                der: c.der.clone(),
                counts: c.counts,
                error: None,
                problem: None,
                cached: true,
                cacheable_until: Some(c.fresh_until),
            });
        }
        let cas = self.publication_cas().await?;
        let issuers: Vec<Option<&CaEntry>> = req
            .cert_ids
            .iter()
            .map(|id| cas.iter().find(|c| id.matches_issuer(&c.cert)))
            .collect();
        let signing_ca = issuers
            .iter()
            .flatten()
            .next()
            .copied()
            .or_else(|| cas.iter().find(|c| c.slug == ISSUING))
            .or_else(|| cas.first())
            .ok_or_else(|| ServiceError::DataDir("the database holds no CA".into()))?;
        let signer = self.ocsp_signer(kek, signing_ca, now).await?;
        let next_update = (now + OCSP_VALIDITY).min(signer.cert.not_after());
        let mut counts = OcspCounts::default();
        let mut entries = Vec::with_capacity(req.cert_ids.len());
        for (id, ca) in req.cert_ids.iter().zip(&issuers) {
            // The delegated responder speaks only for the CA that certified it (RFC 6960
            // §4.2.2.2): a CertID of another CA in the same request is answered "unknown"
            // rather than with a status its clients would have to reject.
            let status = match ca {
                Some(ca) if std::ptr::eq(*ca, signing_ca) => {
                    self.serial_status(ca, &cas, &id.serial_hex()).await?
                }
                _ => CertStatus::Unknown,
            };
            match status {
                CertStatus::Good => counts.good += 1,
                CertStatus::Revoked { .. } => counts.revoked += 1,
                CertStatus::Unknown => counts.unknown += 1,
            }
            entries.push(ResponseEntry {
                cert_id: id.clone(),
                status,
                this_update: now,
                next_update: Some(next_update),
            });
        }
        let der = ResponseBuilder::new(&signer.cert, &signer.key, now)
            .entries(entries)
            .echo_nonce(req)
            .build()
            .map_err(|e| ServiceError::Invalid(format!("building the OCSP response: {e}")))?;
        let der = Arc::new(der);
        let fresh_until = now + next_update.saturating_sub(now) / 2;
        if cacheable {
            let mut cache = lock(&self.publication.responses);
            if cache.len() >= MAX_CACHED_RESPONSES {
                cache.clear();
            }
            cache.insert(
                request_der.to_vec(),
                CachedResponse {
                    der: der.clone(),
                    counts,
                    marker,
                    produced_at: now,
                    fresh_until,
                },
            );
        }
        Ok(OcspAnswer {
            der,
            counts,
            error: None,
            problem: None,
            cached: false,
            cacheable_until: cacheable.then_some(fresh_until),
        })
    }
}

#[cfg(test)]
mod tests {
    use cachet_store::{CrlRecord as Crl, RevocationSummary as Summary};

    #[test]
    fn a_crl_is_outdated_by_the_count_of_revocations_not_their_clock() {
        let crl = Crl {
            ca: "issuing".into(),
            number: 3,
            this_update: 1_000,
            next_update: 1_000 + 7 * 86_400,
            der: Vec::new(),
        };
        let summary = |count, latest| Summary { count, latest };
        // A revocation stamped before thisUpdate (its process read the clock, then waited
        // for the write lock while this CRL was made) still makes the CRL outdated.
        assert!(crl_outdated(&crl, 2, summary(3, Some(999)), 2_000));
        assert!(!crl_outdated(&crl, 3, summary(3, Some(999)), 2_000));
        // Half its life gone.
        assert!(crl_outdated(
            &crl,
            3,
            summary(3, Some(999)),
            1_000 + 4 * 86_400
        ));
    }

    use super::*;
    use crate::ca::{InitOptions, IssueRequest, KeySource, ROOT};
    use crate::datadir::DataDir;
    use crate::recovery::RecoverySetup;
    use cachet_pki::ocsp::{
        self, CertId, CertIdHash, CheckOptions, OcspQuery, Responder, build_request,
    };
    use cachet_pki::profile::Profile;

    const NOW: u64 = 1_795_000_000;

    async fn setup(dir: &std::path::Path) -> (Cachet, Kek) {
        let dd = DataDir::new(dir.join("data"));
        let opts = InitOptions {
            domain: "example.test".into(),
            organization: None,
            base_url: "http://127.0.0.1:1".into(),
            key_type: KeyType::EcdsaP256,
            crl_days: 7,
            actor: "test".into(),
            recovery: RecoverySetup::Off,
            database_url: None,
        };
        let c = Cachet::init(&dd, &opts, None, NOW).await.unwrap();
        let kek = c.unlock(None).await.unwrap();
        (c, kek)
    }

    async fn issue(c: &Cachet, kek: &Kek, email: &str, now: u64) -> ParsedCertificate {
        c.issue(
            kek,
            IssueRequest {
                email: email.into(),
                profile: Profile::Signing,
                key: KeySource::Generate(KeyType::EcdsaP256),
                validity_days: None,
                non_repudiation: false,
                actor: "test".into(),
            },
            now,
        )
        .await
        .unwrap()
        .certificate
    }

    #[tokio::test]
    async fn the_crl_is_renewed_after_a_revocation_and_at_half_life() {
        let dir = tempfile::tempdir().unwrap();
        let (c, kek) = setup(dir.path()).await;
        let first = c.current_crl(&kek, ISSUING, NOW + 10).await.unwrap();
        assert!(!first.published, "init published one");
        let alice = issue(&c, &kek, "alice@example.test", NOW + 20).await;
        // Revoked in the same second as a CRL is made: the count tells them apart.
        let again = c.current_crl(&kek, ISSUING, NOW + 30).await.unwrap();
        assert!(!again.published);
        c.revoke(
            &kek,
            &alice.serial_hex(),
            RevocationReason::KeyCompromise,
            "t",
            NOW,
        )
        .await
        .unwrap();
        let after = c.current_crl(&kek, ISSUING, NOW + 40).await.unwrap();
        assert!(after.published);
        let crl = ParsedCrl::from_der(&after.record.der).unwrap();
        assert_eq!(crl.entries().len(), 1);
        assert!(
            !c.current_crl(&kek, ISSUING, NOW + 50)
                .await
                .unwrap()
                .published
        );
        let half = after.record.this_update as u64 + 7 * DAY / 2;
        assert!(
            !c.current_crl(&kek, ISSUING, half - 1)
                .await
                .unwrap()
                .published
        );
        assert!(c.current_crl(&kek, ISSUING, half).await.unwrap().published);
        assert!(c.current_crl(&kek, "nope", NOW).await.is_err());
    }

    fn query(
        issuer: &ParsedCertificate,
        serial: &[u8],
        nonce: Option<&[u8]>,
    ) -> (Vec<u8>, OcspQuery) {
        let id = CertId::new(issuer, serial, CertIdHash::Sha1).unwrap();
        let der = build_request(std::slice::from_ref(&id), nonce).unwrap();
        (
            der,
            OcspQuery {
                cert_id: id,
                nonce: nonce.map(<[u8]>::to_vec),
            },
        )
    }

    #[tokio::test]
    async fn ocsp_answers_good_revoked_and_unknown_with_a_delegated_signer() {
        let dir = tempfile::tempdir().unwrap();
        let (c, kek) = setup(dir.path()).await;
        let chain = c.chain().await.unwrap();
        let (issuing, root) = (&chain[0], &chain[1]);
        let alice = issue(&c, &kek, "alice@example.test", NOW).await;
        let opts = CheckOptions::default();

        let (der, q) = query(issuing, alice.serial_bytes(), Some(b"0123456789abcdef"));
        let a = c.ocsp_answer(&kek, &der, NOW + 5).await;
        assert_eq!(a.error, None, "{:?}", a.problem);
        let s = ocsp::check_response(&a.der, &q, issuing, NOW + 5, &opts).unwrap();
        assert_eq!(s.status, CertStatus::Good);
        assert!(s.nonce_echoed);
        assert_eq!(s.next_update, Some(NOW + 5 + DAY));
        let Responder::Delegated {
            certificate,
            no_check,
        } = &s.responder
        else {
            panic!("signed by the CA itself");
        };
        assert!(no_check);
        let first_signer = certificate.serial_hex();

        // Without a nonce: cached until a revocation.
        let (der, q) = query(issuing, alice.serial_bytes(), None);
        let a = c.ocsp_answer(&kek, &der, NOW + 6).await;
        assert!(!a.cached);
        let b = c.ocsp_answer(&kek, &der, NOW + 7).await;
        assert!(b.cached);
        assert_eq!(a.der, b.der);
        c.revoke(
            &kek,
            &alice.serial_hex(),
            RevocationReason::KeyCompromise,
            "t",
            NOW + 8,
        )
        .await
        .unwrap();
        let r = c.ocsp_answer(&kek, &der, NOW + 9).await;
        assert!(!r.cached);
        let s = ocsp::check_response(&r.der, &q, issuing, NOW + 9, &opts).unwrap();
        assert_eq!(
            s.status,
            CertStatus::Revoked {
                time: NOW + 8,
                reason: Some(RevocationReason::KeyCompromise)
            }
        );

        // A serial the CA never issued, and the issuing CA asked of the root.
        let (der, q) = query(issuing, &[0x12; 16], None);
        let a = c.ocsp_answer(&kek, &der, NOW + 10).await;
        let s = ocsp::check_response(&a.der, &q, issuing, NOW + 10, &opts).unwrap();
        assert_eq!(s.status, CertStatus::Unknown);
        let (der, q) = query(root, issuing.serial_bytes(), None);
        let a = c.ocsp_answer(&kek, &der, NOW + 10).await;
        let s = ocsp::check_response(&a.der, &q, root, NOW + 10, &opts).unwrap();
        assert_eq!(s.status, CertStatus::Good);

        // Malformed.
        let a = c.ocsp_answer(&kek, b"garbage", NOW).await;
        assert_eq!(a.error, Some(ErrorStatus::MalformedRequest));
        assert_eq!(*a.der, error_response(ErrorStatus::MalformedRequest));

        // The signer is renewed at half-life, once.
        let later = NOW + 4 * DAY;
        let (der, q) = query(issuing, &[0x13; 16], Some(b"nonce-nonce"));
        let a = c.ocsp_answer(&kek, &der, later).await;
        let s = ocsp::check_response(&a.der, &q, issuing, later, &opts).unwrap();
        let Responder::Delegated { certificate, .. } = &s.responder else {
            panic!()
        };
        assert_ne!(certificate.serial_hex(), first_signer);
        let issued = c
            .audit_log()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.entry.action == "ocsp-signer-issued")
            .count();
        assert_eq!(issued, 3, "issuing at NOW and NOW+4d, root at NOW");
        assert!(c.verify_audit(&kek).await.unwrap().1.is_empty());
        let _ = ROOT;
    }

    #[tokio::test]
    async fn lookup_returns_current_certificates_only() {
        let dir = tempfile::tempdir().unwrap();
        let (c, kek) = setup(dir.path()).await;
        let a1 = issue(&c, &kek, "alice@example.test", NOW).await;
        let a2 = issue(&c, &kek, "alice@example.test", NOW + 1).await;
        c.revoke(
            &kek,
            &a1.serial_hex(),
            RevocationReason::Superseded,
            "t",
            NOW + 2,
        )
        .await
        .unwrap();
        let found = c.lookup("Alice@EXAMPLE.test", NOW + 3).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].serial, a2.serial_hex());
        assert!(c.lookup("bob@example.test", NOW).await.unwrap().is_empty());
        assert!(
            c.lookup("not an address", NOW)
                .await
                .unwrap_err()
                .is_input_error()
        );
    }
}
