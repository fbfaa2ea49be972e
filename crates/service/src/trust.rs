//! The trust store: what this installation trusts when it *verifies* — partners' roots and
//! CAs (trust anchors, RFC 5280 §6.1.1 (d)), certificates that may complete a path
//! (intermediates), and CRLs imported by hand (the offline route when a CRL distribution
//! point cannot be reached, RFC 5280 §4.2.1.13).
//!
//! An anchor may be *constrained* to addresses in some rfc822Name subtrees (RFC 5280
//! §4.2.1.10: `partner.example` is exactly that host, `.partner.example` any subdomain of
//! it, `alice@partner.example` one mailbox): the effect of cross-certifying a partner with
//! qualified subordination, without issuing anything. It may also carry its own revocation
//! policy (`off`, `prefer`, `require`) that overrides the verifier's.
//!
//! The organisation's own CAs (made by `cachet init`) are trusted implicitly: its roots are
//! anchors and its issuing CAs intermediates, with their newest published CRLs, so mail
//! signed with the organisation's own certificates verifies without a `trust add`.
//!
//! Every addition, removal and import is an audit record in the hash-chained log, written in
//! the same transaction as the change.

use crate::ca::Cachet;
use crate::error::ServiceError;
use crate::keyring::Kek;
use cachet_pki::crl::ParsedCrl;
use cachet_pki::time::rfc3339;
use cachet_pki::validate::dn::NameKey;
use cachet_pki::validate::names::NameConstraintsState;
use cachet_pki::validate::{RevocationPolicy, TrustAnchor};
use cachet_pki::{ParsedCertificate, PkiError};
use cachet_store::{
    AddOutcome, AuditEntry, CrlImportOutcome, ImportedCrlRecord, StoreError, TrustAnchorRecord,
    TrustIntermediateRecord,
};
use const_oid::db::rfc5280 as oids;
use der::Encode;

/// Why a trust-store use-case failed.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The certificate or CRL given cannot be decoded.
    #[error("not a valid {what}: {detail}")]
    Malformed {
        /// `certificate` or `CRL`.
        what: &'static str,
        /// The decoder's explanation.
        detail: String,
    },
    /// An address constraint is not an rfc822Name subtree.
    #[error(
        "'{0}' is not an address constraint: give a domain (partner.example), a leading-dot domain for its subdomains (.partner.example) or a mailbox (alice@partner.example)"
    )]
    InvalidConstraint(String),
    /// The certificate is already in the store in the other role.
    #[error(
        "{subject} is already trusted as {existing} (fingerprint {fingerprint}): run `cachet trust remove {fingerprint}` first to change its role"
    )]
    OtherRole {
        /// Its subject.
        subject: String,
        /// `an anchor` or `an intermediate`.
        existing: &'static str,
        /// Its fingerprint.
        fingerprint: String,
    },
    /// Nothing in the store matches.
    #[error(
        "no trusted certificate matches '{0}': `cachet trust list` shows fingerprints and subjects"
    )]
    NotFound(String),
    /// More than one stored certificate matches; none was removed.
    #[error("'{query}' matches {} trusted certificates, so nothing was removed; give more of the fingerprint:{}", .matches.len(), list_matches(.matches))]
    Ambiguous {
        /// What was asked for.
        query: String,
        /// Every match.
        matches: Vec<TrustedCertificate>,
    },
    /// Only one of the organisation's own CAs matches: they are trusted by construction.
    #[error(
        "'{query}' is the organisation's own CA {subject}, which is always trusted; it cannot be removed"
    )]
    OrganisationCa {
        /// What was asked for.
        query: String,
        /// The CA's subject.
        subject: String,
    },
    /// A certificate with the CRL issuer's name is trusted, but the CRL's signature does
    /// not verify with its key (or any such certificate's key).
    #[error(
        "the CRL's signature does not verify with the key of {tried}, the trusted certificate(s) named {issuer}: it was altered or signed by another key; nothing was imported"
    )]
    BadCrlSignature {
        /// The CRL issuer.
        issuer: String,
        /// The certificates tried (subject and short fingerprint).
        tried: String,
    },
    /// Any other failure (storage, a damaged database).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

fn list_matches(m: &[TrustedCertificate]) -> String {
    m.iter()
        .map(|c| {
            format!(
                "\n  {} {} {}",
                c.kind.name(),
                short_fingerprint(&c.fingerprint),
                c.certificate.subject()
            )
        })
        .collect()
}

impl From<StoreError> for TrustError {
    fn from(e: StoreError) -> Self {
        TrustError::Service(e.into())
    }
}

impl From<PkiError> for TrustError {
    fn from(e: PkiError) -> Self {
        TrustError::Service(e.into())
    }
}

impl TrustError {
    /// Whether the caller's input was at fault (CLI exit status 2, HTTP 4xx).
    pub fn is_input_error(&self) -> bool {
        match self {
            TrustError::Service(s) => s.is_input_error(),
            _ => true,
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, TrustError>;

/// The role of a trusted certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustKind {
    /// A trust anchor: paths may end here.
    Anchor,
    /// A certificate that may complete a path, trusted for nothing by itself.
    Intermediate,
}

impl TrustKind {
    /// `anchor` or `intermediate`.
    pub fn name(self) -> &'static str {
        match self {
            TrustKind::Anchor => "anchor",
            TrustKind::Intermediate => "intermediate",
        }
    }
}

/// Where an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustSource {
    /// Added with `trust add` / `trust import-crl`.
    Store,
    /// The organisation's own CA (or its published CRL), trusted implicitly.
    Organisation,
}

impl TrustSource {
    /// `store` or `organisation`.
    pub fn name(self) -> &'static str {
        match self {
            TrustSource::Store => "store",
            TrustSource::Organisation => "organisation",
        }
    }
}

/// What an administrator puts on an anchor.
#[derive(Debug, Clone, Default)]
pub struct AnchorConstraints {
    /// rfc822Name subtrees it may vouch for, as typed (normalised when added); empty: any.
    pub permitted_email: Vec<String>,
    /// Its own revocation policy; `None`: the verifier's.
    pub revocation: Option<RevocationPolicy>,
    /// A name for it.
    pub label: Option<String>,
}

/// A trusted certificate, with what the store says about it.
#[derive(Debug, Clone)]
pub struct TrustedCertificate {
    /// Anchor or intermediate.
    pub kind: TrustKind,
    /// Stored or the organisation's own.
    pub source: TrustSource,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
    /// The certificate.
    pub certificate: ParsedCertificate,
    /// The administrator's name for it (anchors).
    pub label: Option<String>,
    /// rfc822Name subtrees (anchors); empty: any address.
    pub permitted_email: Vec<String>,
    /// Its own revocation policy (anchors).
    pub revocation: Option<RevocationPolicy>,
    /// When it was added (stored entries).
    pub added_at: Option<u64>,
}

/// A CRL the store holds.
#[derive(Debug, Clone)]
pub struct StoredCrl {
    /// Imported, or the organisation's own published CRL.
    pub source: TrustSource,
    /// SHA-256 of the DER CRL, lower-case hex.
    pub fingerprint: String,
    /// The CRL.
    pub crl: ParsedCrl,
    /// Whether it is a delta CRL.
    pub delta: bool,
    /// When it was imported (imported CRLs).
    pub imported_at: Option<u64>,
}

/// Everything in the trust store.
#[derive(Debug, Clone, Default)]
pub struct TrustListing {
    /// Anchors, then intermediates; the organisation's own CAs first.
    pub certificates: Vec<TrustedCertificate>,
    /// The CRLs.
    pub crls: Vec<StoredCrl>,
}

/// What validation draws on from the store.
#[derive(Debug, Clone, Default)]
pub struct TrustMaterial {
    /// The anchors with their constraints; the organisation's roots among them.
    pub anchors: Vec<TrustAnchor>,
    /// Certificates that may complete a path; the organisation's issuing CAs among them.
    pub intermediates: Vec<ParsedCertificate>,
    /// Imported CRLs and the organisation's newest published ones.
    pub crls: Vec<ParsedCrl>,
}

/// What adding a certificate did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The certificate as stored (for an existing one: as it was stored before).
    pub entry: TrustedCertificate,
    /// Whether it was there already, so nothing changed.
    pub already_present: bool,
    /// Things worth telling the administrator (not a CA, expired…).
    pub warnings: Vec<String>,
}

/// What importing a CRL did.
#[derive(Debug, Clone)]
pub struct CrlImported {
    /// The CRL.
    pub crl: ParsedCrl,
    /// SHA-256 of it, lower-case hex.
    pub fingerprint: String,
    /// Whether it is a delta CRL.
    pub delta: bool,
    /// The trusted certificate whose key verified its signature (subject), or `None` when
    /// no trusted certificate carries the issuer's name — then validation checks it against
    /// the issuer it finds on the path.
    pub verified_by: Option<String>,
    /// What the store did.
    pub outcome: CrlImportOutcome,
}

/// The short form of a fingerprint shown in tables: its first 16 hex digits.
pub fn short_fingerprint(fp: &str) -> &str {
    &fp[..fp.len().min(16)]
}

/// SHA-256 of `der`, lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(cachet_crypto::digest::sha256(der))
}

/// Normalises an address constraint to the stored form (RFC 5280 §4.2.1.10 rfc822Name):
/// `partner.example` (addresses at that host), `.partner.example` (at any subdomain),
/// `alice@partner.example` (that mailbox); lower-cased. `@partner.example` is taken as
/// `partner.example`.
pub fn normalize_constraint(s: &str) -> Result<String> {
    let t = s.trim();
    let bad = || TrustError::InvalidConstraint(s.to_string());
    let out = if let Some(domain) = t.strip_prefix('@') {
        cachet_pki::profile::normalize_domain(domain).map_err(|_| bad())?
    } else if t.contains('@') {
        let (local, domain) = t.rsplit_once('@').ok_or_else(bad)?;
        let domain = cachet_pki::profile::normalize_domain(domain).map_err(|_| bad())?;
        cachet_pki::profile::normalize_email(&format!("{local}@{domain}")).map_err(|_| bad())?
    } else if let Some(domain) = t.strip_prefix('.') {
        format!(
            ".{}",
            cachet_pki::profile::normalize_domain(domain).map_err(|_| bad())?
        )
    } else {
        cachet_pki::profile::normalize_domain(t).map_err(|_| bad())?
    };
    // The validator must read it as the administrator means it.
    NameConstraintsState::permit_rfc822(std::slice::from_ref(&out)).map_err(|_| bad())?;
    Ok(out)
}

fn parse_stored_cert(der: &[u8], fp: &str) -> Result<ParsedCertificate> {
    ParsedCertificate::from_der(der).map_err(|e| {
        ServiceError::DataDir(format!(
            "the stored trusted certificate {fp} cannot be read ({e}): the database is damaged; remove it with `cachet trust remove {fp}`"
        ))
        .into()
    })
}

fn parse_stored_crl(der: &[u8], fp: &str) -> Result<ParsedCrl> {
    ParsedCrl::from_der(der).map_err(|e| {
        ServiceError::DataDir(format!(
            "the stored CRL {fp} cannot be read ({e}): the database is damaged"
        ))
        .into()
    })
}

fn anchor_entry(r: &TrustAnchorRecord) -> Result<TrustedCertificate> {
    Ok(TrustedCertificate {
        kind: TrustKind::Anchor,
        source: TrustSource::Store,
        fingerprint: r.fingerprint.clone(),
        certificate: parse_stored_cert(&r.der, &r.fingerprint)?,
        label: r.label.clone(),
        permitted_email: r.permitted_email.clone(),
        revocation: r
            .revocation
            .as_deref()
            .and_then(RevocationPolicy::from_name),
        added_at: Some(r.added_at.max(0) as u64),
    })
}

fn intermediate_entry(r: &TrustIntermediateRecord) -> Result<TrustedCertificate> {
    Ok(TrustedCertificate {
        kind: TrustKind::Intermediate,
        source: TrustSource::Store,
        fingerprint: r.fingerprint.clone(),
        certificate: parse_stored_cert(&r.der, &r.fingerprint)?,
        label: None,
        permitted_email: Vec::new(),
        revocation: None,
        added_at: Some(r.added_at.max(0) as u64),
    })
}

/// What to tell an administrator about a certificate being trusted.
fn warnings_for(cert: &ParsedCertificate, kind: TrustKind, now: u64) -> Vec<String> {
    let mut w = Vec::new();
    match cert.is_ca() {
        Ok(true) => {}
        Ok(false) => w.push(format!(
            "{} is not a CA certificate (no basicConstraints cA): as {} it can only vouch for itself; a partner's root or CA certificate is usually what you want",
            cert.subject(),
            match kind {
                TrustKind::Anchor => "an anchor",
                TrustKind::Intermediate => "an intermediate",
            }
        )),
        Err(e) => w.push(format!(
            "{}: its basicConstraints cannot be read ({e})",
            cert.subject()
        )),
    }
    if cert.not_after() < now {
        w.push(format!(
            "{} expired on {}",
            cert.subject(),
            rfc3339(cert.not_after())
        ));
    } else if cert.not_before() > now {
        w.push(format!(
            "{} is not valid before {}",
            cert.subject(),
            rfc3339(cert.not_before())
        ));
    }
    w
}

/// The scope of a CRL as the store keys it: issuer DER, issuingDistributionPoint value
/// (empty when absent), and whether it is a delta CRL (RFC 5280 §5.2.4, §5.2.5).
fn crl_scope(crl: &ParsedCrl) -> Result<(Vec<u8>, Vec<u8>, bool)> {
    let tbs = &crl.inner().tbs_cert_list;
    let issuer = tbs.issuer.to_der().map_err(|e| TrustError::Malformed {
        what: "CRL",
        detail: format!("its issuer cannot be encoded: {e}"),
    })?;
    let mut idp = Vec::new();
    let mut delta = false;
    for e in tbs.crl_extensions.iter().flatten() {
        if e.extn_id == oids::ID_CE_ISSUING_DISTRIBUTION_POINT {
            idp = e.extn_value.as_bytes().to_vec();
        } else if e.extn_id == oids::ID_CE_DELTA_CRL_INDICATOR {
            delta = true;
        }
    }
    Ok((issuer, idp, delta))
}

/// The trust store of an installation: `cachet.trust()`.
pub struct Trust<'a> {
    cachet: &'a Cachet,
}

impl Cachet {
    /// The trust store.
    pub fn trust(&self) -> Trust<'_> {
        Trust { cachet: self }
    }
}

fn audit(
    at: u64,
    actor: &str,
    action: &str,
    cert: Option<&ParsedCertificate>,
    subject: String,
    detail: String,
) -> AuditEntry {
    AuditEntry {
        at: at as i64,
        actor: actor.to_string(),
        action: action.to_string(),
        serial: cert.map(ParsedCertificate::serial_hex),
        subject: Some(subject),
        detail,
    }
}

impl Trust<'_> {
    /// The organisation's own CAs as trust entries: roots as anchors, the others as
    /// intermediates.
    async fn organisation(&self) -> Result<Vec<TrustedCertificate>> {
        Ok(self
            .cachet
            .cas()
            .await?
            .into_iter()
            .map(|(rec, cert)| TrustedCertificate {
                kind: if rec.role == "root" {
                    TrustKind::Anchor
                } else {
                    TrustKind::Intermediate
                },
                source: TrustSource::Organisation,
                fingerprint: fingerprint(cert.der()),
                certificate: cert,
                label: Some(format!("organisation {} CA", rec.role)),
                permitted_email: Vec::new(),
                revocation: None,
                added_at: Some(rec.created_at.max(0) as u64),
            })
            .collect())
    }

    /// The stored anchors and intermediates (not the organisation's own CAs).
    async fn stored(&self) -> Result<Vec<TrustedCertificate>> {
        let store = self.cachet.store();
        let mut out = Vec::new();
        for a in store.trust_anchors().await? {
            out.push(anchor_entry(&a)?);
        }
        for i in store.trust_intermediates().await? {
            out.push(intermediate_entry(&i)?);
        }
        Ok(out)
    }

    /// The organisation's own entry with this fingerprint, if any.
    async fn own(&self, fp: &str) -> Result<Option<TrustedCertificate>> {
        Ok(self
            .organisation()
            .await?
            .into_iter()
            .find(|c| c.fingerprint == fp))
    }

    /// Trusts `cert` as an anchor with `constraints`. Adding a certificate already trusted
    /// as an anchor changes nothing and says so (its stored constraints stay: remove and add
    /// it again to change them); one trusted as an intermediate is refused.
    pub async fn add_anchor(
        &self,
        kek: &Kek,
        cert: &ParsedCertificate,
        constraints: &AnchorConstraints,
        actor: &str,
        now: u64,
    ) -> Result<Added> {
        let mut permitted = constraints
            .permitted_email
            .iter()
            .map(|s| normalize_constraint(s))
            .collect::<Result<Vec<_>>>()?;
        permitted.sort();
        permitted.dedup();
        let label = constraints
            .label
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string);
        let fp = fingerprint(cert.der());
        let warnings = warnings_for(cert, TrustKind::Anchor, now);
        if let Some(own) = self.own(&fp).await?
            && own.kind == TrustKind::Anchor
            && permitted.is_empty()
        {
            // The organisation's root is trusted without constraints already.
            return Ok(Added {
                entry: own,
                already_present: true,
                warnings,
            });
        }
        let store = self.cachet.store();
        if store
            .trust_intermediates()
            .await?
            .iter()
            .any(|i| i.fingerprint == fp)
        {
            return Err(TrustError::OtherRole {
                subject: cert.subject(),
                existing: "an intermediate",
                fingerprint: fp,
            });
        }
        let record = TrustAnchorRecord {
            fingerprint: fp.clone(),
            subject: cert.subject(),
            label,
            permitted_email: permitted,
            revocation: constraints.revocation.map(|r| r.as_str().to_string()),
            der: cert.der().to_vec(),
            added_at: now as i64,
        };
        let entry = audit(
            now,
            actor,
            "trust-anchor-added",
            Some(cert),
            record.subject.clone(),
            format!(
                "fingerprint={fp} permitted_email={} revocation={} label={}",
                if record.permitted_email.is_empty() {
                    "any".to_string()
                } else {
                    record.permitted_email.join(",")
                },
                record.revocation.as_deref().unwrap_or("default"),
                record.label.as_deref().unwrap_or("-"),
            ),
        );
        match store
            .add_trust_anchor(&kek.audit_key(), &record, &entry)
            .await?
        {
            AddOutcome::Added => Ok(Added {
                entry: anchor_entry(&record)?,
                already_present: false,
                warnings,
            }),
            AddOutcome::AlreadyPresent(existing) => Ok(Added {
                entry: anchor_entry(&existing)?,
                already_present: true,
                warnings,
            }),
        }
    }

    /// Stores `cert` as an intermediate: validation may use it to complete a path to an
    /// anchor (for partners whose mail does not carry their intermediate CA). Idempotent; a
    /// certificate trusted as an anchor is refused.
    pub async fn add_intermediate(
        &self,
        kek: &Kek,
        cert: &ParsedCertificate,
        actor: &str,
        now: u64,
    ) -> Result<Added> {
        let fp = fingerprint(cert.der());
        let warnings = warnings_for(cert, TrustKind::Intermediate, now);
        if let Some(own) = self.own(&fp).await? {
            return Ok(Added {
                entry: own,
                already_present: true,
                warnings,
            });
        }
        let store = self.cachet.store();
        if store
            .trust_anchors()
            .await?
            .iter()
            .any(|a| a.fingerprint == fp)
        {
            return Err(TrustError::OtherRole {
                subject: cert.subject(),
                existing: "an anchor",
                fingerprint: fp,
            });
        }
        let record = TrustIntermediateRecord {
            fingerprint: fp.clone(),
            subject: cert.subject(),
            der: cert.der().to_vec(),
            added_at: now as i64,
        };
        let entry = audit(
            now,
            actor,
            "trust-intermediate-added",
            Some(cert),
            record.subject.clone(),
            format!("fingerprint={fp} issuer={}", cert.issuer()),
        );
        match store
            .add_trust_intermediate(&kek.audit_key(), &record, &entry)
            .await?
        {
            AddOutcome::Added => Ok(Added {
                entry: intermediate_entry(&record)?,
                already_present: false,
                warnings,
            }),
            AddOutcome::AlreadyPresent(existing) => Ok(Added {
                entry: intermediate_entry(&existing)?,
                already_present: true,
                warnings,
            }),
        }
    }

    /// Everything trusted: the organisation's CAs first, then stored anchors and
    /// intermediates; the organisation's newest CRLs, then the imported ones.
    pub async fn list(&self) -> Result<TrustListing> {
        let mut certificates = self.organisation().await?;
        let mut stored = self.stored().await?;
        // An organisation CA also added by hand is listed once, as stored (its constraints
        // are what counts).
        certificates.retain(|o| !stored.iter().any(|s| s.fingerprint == o.fingerprint));
        certificates.append(&mut stored);
        certificates.sort_by_key(|c| {
            (
                c.kind == TrustKind::Intermediate,
                c.source == TrustSource::Store,
            )
        });
        let mut crls = Vec::new();
        for (rec, _) in self.cachet.cas().await? {
            if let Some(c) = self.cachet.store().latest_crl(&rec.slug).await? {
                let fp = fingerprint(&c.der);
                let parsed = parse_stored_crl(&c.der, &fp)?;
                crls.push(StoredCrl {
                    source: TrustSource::Organisation,
                    fingerprint: fp,
                    crl: parsed,
                    delta: false,
                    imported_at: None,
                });
            }
        }
        for c in self.cachet.store().imported_crls().await? {
            crls.push(StoredCrl {
                source: TrustSource::Store,
                crl: parse_stored_crl(&c.der, &c.fingerprint)?,
                fingerprint: c.fingerprint,
                delta: c.delta,
                imported_at: Some(c.imported_at.max(0) as u64),
            });
        }
        Ok(TrustListing { certificates, crls })
    }

    /// The stored certificates `query` designates: a whole fingerprint designates exactly
    /// that certificate; otherwise every one whose fingerprint starts with it (hex, colons
    /// and case ignored, at least 4 digits) or whose subject or label contains it (case
    /// ignored, at least 3 characters).
    pub async fn find(&self, query: &str) -> Result<Vec<TrustedCertificate>> {
        let stored = self.stored().await?;
        Ok(matching(&stored, query))
    }

    /// Removes the one stored anchor or intermediate `query` designates (see
    /// [`find`](Self::find)). Refuses, removing nothing, when several match (listing them)
    /// or none does; the organisation's own CAs cannot be removed.
    pub async fn remove(
        &self,
        kek: &Kek,
        query: &str,
        actor: &str,
        now: u64,
    ) -> Result<TrustedCertificate> {
        let found = self.find(query).await?;
        let target = match found.len() {
            1 => found
                .into_iter()
                .next()
                .ok_or_else(|| TrustError::NotFound(query.into()))?,
            0 => {
                let own = matching(&self.organisation().await?, query);
                return Err(match own.first() {
                    Some(o) => TrustError::OrganisationCa {
                        query: query.to_string(),
                        subject: o.certificate.subject(),
                    },
                    None => TrustError::NotFound(query.to_string()),
                });
            }
            _ => {
                return Err(TrustError::Ambiguous {
                    query: query.to_string(),
                    matches: found,
                });
            }
        };
        let subject = target.certificate.subject();
        let store = self.cachet.store();
        let key = kek.audit_key();
        let removed = match target.kind {
            TrustKind::Anchor => {
                let entry = audit(
                    now,
                    actor,
                    "trust-anchor-removed",
                    Some(&target.certificate),
                    subject,
                    format!(
                        "fingerprint={} permitted_email={}",
                        target.fingerprint,
                        if target.permitted_email.is_empty() {
                            "any".to_string()
                        } else {
                            target.permitted_email.join(",")
                        }
                    ),
                );
                store
                    .remove_trust_anchor(&key, &target.fingerprint, &entry)
                    .await?
            }
            TrustKind::Intermediate => {
                let entry = audit(
                    now,
                    actor,
                    "trust-intermediate-removed",
                    Some(&target.certificate),
                    subject,
                    format!("fingerprint={}", target.fingerprint),
                );
                store
                    .remove_trust_intermediate(&key, &target.fingerprint, &entry)
                    .await?
            }
        };
        if removed {
            Ok(target)
        } else {
            // Removed by someone else between the lookup and the removal.
            Err(TrustError::NotFound(query.to_string()))
        }
    }

    /// Imports the DER CRL `der`. Its signature is checked against every trusted
    /// certificate (stored or the organisation's) named as its issuer (RFC 5280 §7.1 name
    /// matching): one must verify it, or nothing is imported. When none carries the name,
    /// the CRL is imported unverified and [`CrlImported::verified_by`] says so; validation
    /// verifies it against the issuer it finds on the path before using it (RFC 5280
    /// §6.3.3 (f)). Of CRLs with the same scope, the newest is kept
    /// ([`cachet_store::trust::crl_supersedes`]).
    pub async fn import_crl(
        &self,
        kek: &Kek,
        der: &[u8],
        actor: &str,
        now: u64,
    ) -> Result<CrlImported> {
        let crl = ParsedCrl::from_der(der).map_err(|e| TrustError::Malformed {
            what: "CRL",
            detail: e.to_string(),
        })?;
        let (issuer_der, idp_der, delta) = crl_scope(&crl)?;
        let issuer_key = NameKey::of(&crl.inner().tbs_cert_list.issuer);
        let mut candidates = self.organisation().await?;
        candidates.extend(self.stored().await?);
        let named: Vec<&TrustedCertificate> = candidates
            .iter()
            .filter(|c| {
                NameKey::of(c.certificate.inner().tbs_certificate().subject()) == issuer_key
            })
            .collect();
        let mut verified_by = None;
        for c in &named {
            if let Ok(spki) = c.certificate.spki_der()
                && crl.verify_signature(&spki).is_ok()
            {
                verified_by = Some(c.certificate.subject());
                break;
            }
        }
        if !named.is_empty() && verified_by.is_none() {
            return Err(TrustError::BadCrlSignature {
                issuer: crl.issuer(),
                tried: named
                    .iter()
                    .map(|c| {
                        format!(
                            "{} ({})",
                            c.certificate.subject(),
                            short_fingerprint(&c.fingerprint)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let fp = fingerprint(der);
        let record = ImportedCrlRecord {
            fingerprint: fp.clone(),
            issuer: crl.issuer(),
            issuer_der,
            idp_der,
            delta,
            crl_number: crl.crl_number().and_then(|n| i64::try_from(n).ok()),
            this_update: crl.this_update() as i64,
            next_update: crl.next_update().map(|t| t as i64),
            der: der.to_vec(),
            imported_at: now as i64,
        };
        let detail = |replaced: Option<&ImportedCrlRecord>| {
            format!(
                "fingerprint={fp} number={} this_update={} next_update={} delta={delta} entries={} verified_by={} replaced={}",
                crl.crl_number()
                    .map_or("none".to_string(), |n| n.to_string()),
                rfc3339(crl.this_update()),
                crl.next_update().map_or("none".to_string(), rfc3339),
                crl.entries().len(),
                verified_by.as_deref().unwrap_or("none"),
                replaced.map_or("none", |r| r.fingerprint.as_str()),
            )
        };
        let outcome = self
            .cachet
            .store()
            .import_crl(&kek.audit_key(), &record, |replaced| {
                audit(
                    now,
                    actor,
                    "crl-imported",
                    None,
                    crl.issuer(),
                    detail(replaced),
                )
            })
            .await?;
        Ok(CrlImported {
            crl,
            fingerprint: fp,
            delta,
            verified_by,
            outcome,
        })
    }

    /// What validation draws on: the stored anchors with their constraints and the
    /// organisation's roots, the stored intermediates and the organisation's issuing CAs,
    /// the imported CRLs and the organisation's newest published CRLs. No time is taken:
    /// which of these are current at the time of checking is validation's to decide.
    pub async fn load(&self) -> Result<TrustMaterial> {
        let listing = self.list().await?;
        let mut m = TrustMaterial::default();
        for c in listing.certificates {
            match c.kind {
                TrustKind::Anchor => m.anchors.push(TrustAnchor {
                    certificate: c.certificate,
                    permitted_email: c.permitted_email,
                    revocation: c.revocation,
                }),
                TrustKind::Intermediate => m.intermediates.push(c.certificate),
            }
        }
        m.crls = listing.crls.into_iter().map(|c| c.crl).collect();
        Ok(m)
    }
}

/// The shortest subject or label substring `remove` matches on: a letter or two would pick
/// a certificate nobody meant.
const MIN_SUBSTRING: usize = 3;

/// The entries of `list` that `query` designates (see [`Trust::find`]).
fn matching(list: &[TrustedCertificate], query: &str) -> Vec<TrustedCertificate> {
    let q = query.trim();
    let hex: String = q
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let is_hex = !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    if is_hex && hex.len() == 64 {
        return list
            .iter()
            .filter(|c| c.fingerprint == hex)
            .cloned()
            .collect();
    }
    let needle = q.to_lowercase();
    list.iter()
        .filter(|c| {
            (is_hex && hex.len() >= 4 && c.fingerprint.starts_with(&hex))
                || (needle.chars().count() >= MIN_SUBSTRING
                    && (c.certificate.subject().to_lowercase().contains(&needle)
                        || c.label
                            .as_deref()
                            .is_some_and(|l| l.to_lowercase().contains(&needle))))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataDir, InitOptions};
    use cachet_crypto::{KeyType, PrivateKey};
    use cachet_pki::crl::{CrlRequest, RevocationReason, RevokedEntry, build_crl};
    use cachet_pki::issue::{random_serial, sign_certificate};
    use cachet_pki::name::NameBuilder;

    /// 2027-01-15: a fixed clock.
    const NOW: u64 = 1_800_000_000;

    async fn installation(dir: &tempfile::TempDir) -> (Cachet, Kek) {
        let opts = InitOptions {
            domain: "example.com".into(),
            organization: Some("Example Org".into()),
            base_url: "http://pki.example.com".into(),
            key_type: KeyType::EcdsaP256,
            crl_days: 7,
            actor: "test".into(),
            recovery: crate::RecoverySetup::Off,
            database_url: None,
        };
        let c = Cachet::init(&DataDir::new(dir.path().join("data")), &opts, None, NOW)
            .await
            .expect("init");
        let kek = c.unlock(None).await.expect("unlock");
        (c, kek)
    }

    /// A self-signed CA named `O=Partner, CN=cn`.
    fn partner_ca(cn: &str) -> (ParsedCertificate, PrivateKey) {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let name = NameBuilder::new()
            .organization("Partner")
            .unwrap()
            .common_name(cn)
            .unwrap()
            .to_der()
            .unwrap();
        let t = cachet_pki::profile::root_ca_template(
            name.clone(),
            key.public_key_der().to_vec(),
            random_serial().unwrap().to_vec(),
            NOW - 86_400,
        )
        .unwrap();
        let cert =
            ParsedCertificate::from_der(&sign_certificate(&t, &name, &key).unwrap()).unwrap();
        (cert, key)
    }

    fn crl(
        ca: &(ParsedCertificate, PrivateKey),
        number: u64,
        this_update: u64,
        revoked: &[u8],
    ) -> Vec<u8> {
        let entries: Vec<RevokedEntry> = revoked
            .iter()
            .map(|s| RevokedEntry {
                serial: vec![*s],
                revoked_at: this_update - 10,
                reason: RevocationReason::KeyCompromise,
            })
            .collect();
        build_crl(
            &CrlRequest {
                crl_number: number,
                this_update,
                next_update: this_update + 7 * 86_400,
                entries: &entries,
            },
            &ca.0,
            &ca.1,
        )
        .unwrap()
    }

    fn actions(log: &[cachet_store::AuditRecord]) -> Vec<String> {
        log.iter().map(|r| r.entry.action.clone()).collect()
    }

    #[tokio::test]
    async fn crls_are_verified_and_the_newest_of_a_scope_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (c, kek) = installation(&dir).await;
        let t = c.trust();
        let partner = partner_ca("Partner CA");
        t.add_anchor(
            &kek,
            &partner.0,
            &AnchorConstraints::default(),
            "admin",
            NOW,
        )
        .await
        .unwrap();

        let first = t
            .import_crl(&kek, &crl(&partner, 1, NOW, &[]), "admin", NOW)
            .await
            .unwrap();
        assert_eq!(first.outcome, CrlImportOutcome::Stored);
        assert_eq!(
            first.verified_by.as_deref(),
            Some("CN=Partner CA,O=Partner")
        );
        let third = crl(&partner, 3, NOW + 200, &[7]);
        match t
            .import_crl(&kek, &third, "admin", NOW)
            .await
            .unwrap()
            .outcome
        {
            CrlImportOutcome::Replaced(old) => assert_eq!(old.crl_number, Some(1)),
            other => panic!("{other:?}"),
        }
        // A lower number loses even with a later thisUpdate (a CA's clock may be off).
        match t
            .import_crl(&kek, &crl(&partner, 2, NOW + 300, &[]), "admin", NOW)
            .await
            .unwrap()
            .outcome
        {
            CrlImportOutcome::KeptNewer(kept) => assert_eq!(kept.crl_number, Some(3)),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            t.import_crl(&kek, &third, "admin", NOW)
                .await
                .unwrap()
                .outcome,
            CrlImportOutcome::AlreadyPresent
        );

        // Same name, other key: refused.
        let impostor = partner_ca("Partner CA");
        let e = t
            .import_crl(&kek, &crl(&impostor, 9, NOW + 400, &[]), "admin", NOW)
            .await
            .unwrap_err();
        assert!(matches!(e, TrustError::BadCrlSignature { .. }), "{e}");
        // Nobody trusted by that name: kept, unverified.
        let stranger = partner_ca("Stranger CA");
        let r = t
            .import_crl(&kek, &crl(&stranger, 1, NOW, &[]), "admin", NOW)
            .await
            .unwrap();
        assert_eq!(r.outcome, CrlImportOutcome::Stored);
        assert!(r.verified_by.is_none());
        // Garbage is refused.
        let e = t
            .import_crl(&kek, b"\x30\x03\x02\x01\x01", "admin", NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(e, TrustError::Malformed { what: "CRL", .. }),
            "{e}"
        );

        // The material: the organisation's two CRLs, the partner's newest, the stranger's.
        let m = t.load().await.unwrap();
        assert_eq!(m.crls.len(), 4);
        let partner_crl = m
            .crls
            .iter()
            .find(|c| c.issuer() == "CN=Partner CA,O=Partner")
            .unwrap();
        assert_eq!(partner_crl.crl_number(), Some(3));
        assert_eq!(partner_crl.entries().len(), 1);

        let log = c.audit_log().await.unwrap();
        let a = actions(&log);
        assert_eq!(
            a.iter().filter(|x| *x == "crl-imported").count(),
            3,
            "{a:?}"
        );
        let replaced = log
            .iter()
            .filter(|r| r.entry.action == "crl-imported")
            .nth(1)
            .unwrap();
        assert!(
            replaced.entry.detail.contains("number=3"),
            "{}",
            replaced.entry.detail
        );
        assert!(
            !replaced.entry.detail.contains("replaced=none"),
            "{}",
            replaced.entry.detail
        );
        let (_, problems) = c.verify_audit(&kek).await.unwrap();
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[tokio::test]
    async fn anchors_carry_their_constraints_and_removal_refuses_ambiguity() {
        let dir = tempfile::tempdir().unwrap();
        let (c, kek) = installation(&dir).await;
        let t = c.trust();
        // The organisation's root and issuing CA are there from the start.
        let m = t.load().await.unwrap();
        assert_eq!(m.anchors.len(), 1);
        assert_eq!(m.intermediates.len(), 1);
        assert_eq!(
            m.anchors[0].certificate.subject(),
            "CN=Example Org Root CA,O=Example Org"
        );

        let root = partner_ca("Partner Root");
        let issuing = partner_ca("Partner Issuing");
        let constraints = AnchorConstraints {
            permitted_email: vec![
                "Partner.Example".into(),
                ".partner.example".into(),
                "partner.example".into(),
            ],
            revocation: Some(RevocationPolicy::Require),
            label: Some("  partner  ".into()),
        };
        let added = t
            .add_anchor(&kek, &root.0, &constraints, "admin", NOW)
            .await
            .unwrap();
        assert!(!added.already_present);
        assert_eq!(
            added.entry.permitted_email,
            [".partner.example", "partner.example"]
        );
        assert_eq!(added.entry.label.as_deref(), Some("partner"));
        assert!(added.warnings.is_empty(), "{:?}", added.warnings);
        let again = t
            .add_anchor(&kek, &root.0, &AnchorConstraints::default(), "admin", NOW)
            .await
            .unwrap();
        assert!(again.already_present);
        assert_eq!(again.entry.revocation, Some(RevocationPolicy::Require));
        t.add_intermediate(&kek, &issuing.0, "admin", NOW)
            .await
            .unwrap();
        assert!(matches!(
            t.add_anchor(
                &kek,
                &issuing.0,
                &AnchorConstraints::default(),
                "admin",
                NOW
            )
            .await,
            Err(TrustError::OtherRole { .. })
        ));
        // The organisation's own issuing CA is known already.
        let own = c.chain().await.unwrap();
        assert!(
            t.add_intermediate(&kek, &own[0], "admin", NOW)
                .await
                .unwrap()
                .already_present
        );

        let m = t.load().await.unwrap();
        let anchor = m
            .anchors
            .iter()
            .find(|a| a.certificate.der() == root.0.der())
            .unwrap();
        assert_eq!(
            anchor.permitted_email,
            [".partner.example", "partner.example"]
        );
        assert_eq!(anchor.revocation, Some(RevocationPolicy::Require));
        assert_eq!(m.intermediates.len(), 2);

        match t.remove(&kek, "partner", "admin", NOW).await {
            Err(TrustError::Ambiguous { matches, .. }) => assert_eq!(matches.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            t.remove(&kek, "Pa", "admin", NOW).await,
            Err(TrustError::NotFound(_))
        ));
        assert!(matches!(
            t.remove(&kek, "Example Org", "admin", NOW).await,
            Err(TrustError::OrganisationCa { .. })
        ));
        let fp = fingerprint(issuing.0.der());
        let removed = t.remove(&kek, &fp[..6], "admin", NOW).await.unwrap();
        assert_eq!(removed.kind, TrustKind::Intermediate);
        let removed = t.remove(&kek, "Partner Root", "admin", NOW).await.unwrap();
        assert_eq!(removed.kind, TrustKind::Anchor);
        assert_eq!(t.load().await.unwrap().anchors.len(), 1);

        let log = c.audit_log().await.unwrap();
        let a = actions(&log);
        assert_eq!(
            &a[a.len() - 4..],
            [
                "trust-anchor-added",
                "trust-intermediate-added",
                "trust-intermediate-removed",
                "trust-anchor-removed"
            ]
        );
    }

    #[test]
    fn constraints_normalise_to_rfc5280_forms() {
        assert_eq!(
            normalize_constraint("Partner.Example").unwrap(),
            "partner.example"
        );
        assert_eq!(
            normalize_constraint(".Partner.example.").unwrap(),
            ".partner.example"
        );
        assert_eq!(
            normalize_constraint("@partner.example").unwrap(),
            "partner.example"
        );
        assert_eq!(
            normalize_constraint("Alice@Partner.Example").unwrap(),
            "Alice@partner.example"
        );
        for bad in [
            "",
            "partner",
            "a@b@c.example",
            "..partner.example",
            "*.partner.example",
            "@",
        ] {
            assert!(
                matches!(
                    normalize_constraint(bad),
                    Err(TrustError::InvalidConstraint(_))
                ),
                "{bad}"
            );
        }
    }
}
