//! Certificate revocation lists in path validation (RFC 5280 §6.3): which CRLs are in
//! scope for a certificate (issuer, distribution point, issuingDistributionPoint, indirect
//! CRLs), whether they are fresh and properly signed (the CRL issuer's own path validated
//! to the same trust anchor), delta CRLs, reasons coverage, and the entry lookup.

use super::RevocationStatus;
use super::build::Builder;
use super::dn::NameKey;
use crate::crl::{ParsedCrl, RevocationReason};
use crate::time::{UnixTime, rfc3339, unix};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280 as oids;
use der::Decode;
use std::collections::HashMap;
use x509_cert::ext::pkix::crl::dp::{DistributionPoint, IssuingDistributionPoint};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{BaseCrlNumber, CrlDistributionPoints, CrlNumber};
use x509_cert::name::Name;

/// Every reason of ReasonFlags (RFC 5280 §4.2.1.13), bits 1–8.
const ALL_REASONS: u16 = 0x1fe;

/// CRL extensions this checker understands (RFC 5280 §5.2).
const CRL_EXTENSIONS: [ObjectIdentifier; 7] = [
    oids::ID_CE_AUTHORITY_KEY_IDENTIFIER,
    oids::ID_CE_ISSUER_ALT_NAME,
    oids::ID_CE_CRL_NUMBER,
    oids::ID_CE_DELTA_CRL_INDICATOR,
    oids::ID_CE_ISSUING_DISTRIBUTION_POINT,
    oids::ID_CE_FRESHEST_CRL,
    oids::ID_PE_AUTHORITY_INFO_ACCESS,
];

/// CRL entry extensions this checker understands (RFC 5280 §5.3).
const ENTRY_EXTENSIONS: [ObjectIdentifier; 4] = [
    oids::ID_CE_CRL_REASONS,
    oids::ID_CE_INVALIDITY_DATE,
    oids::ID_CE_CERTIFICATE_ISSUER,
    oids::ID_CE_HOLD_INSTRUCTION_CODE,
];

/// One entry of a CRL, as the lookup needs it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    revoked_at: UnixTime,
    reason: RevocationReason,
    unknown_critical: bool,
    /// Index into [`CrlIndex::issuers`]; `None` is the CRL issuer.
    issuer: Option<usize>,
}

/// What validation reads from a CRL, computed once per CRL (a 10,000-entry CRL is looked up
/// by hash, not scanned).
#[derive(Debug)]
pub(crate) struct CrlIndex {
    issuer: NameKey,
    issuer_name: Name,
    number: Option<Vec<u8>>,
    base_number: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    idp_der: Option<Vec<u8>>,
    /// A critical CRL extension that is not understood, or one that cannot be read.
    unusable: Option<String>,
    /// Certificate issuers named by certificateIssuer entry extensions (indirect CRLs).
    issuers: Vec<NameKey>,
    entries: HashMap<Vec<u8>, Vec<Entry>>,
}

impl CrlIndex {
    pub(crate) fn build(crl: &ParsedCrl) -> CrlIndex {
        let tbs = &crl.inner().tbs_cert_list;
        let mut idx = CrlIndex {
            issuer: NameKey::of(&tbs.issuer),
            issuer_name: tbs.issuer.clone(),
            number: None,
            base_number: None,
            idp: None,
            idp_der: None,
            unusable: None,
            issuers: Vec::new(),
            entries: HashMap::new(),
        };
        for e in tbs.crl_extensions.iter().flatten() {
            let v = e.extn_value.as_bytes();
            let bad = |what: &str, err: der::Error| {
                format!("its {what} extension cannot be read ({err})")
            };
            if e.extn_id == oids::ID_CE_CRL_NUMBER {
                if e.critical {
                    idx.unusable = Some(
                        "its cRLNumber is marked critical, which RFC 5280 §5.2.3 forbids".into(),
                    );
                }
                match CrlNumber::from_der(v) {
                    Ok(n) => idx.number = Some(strip(n.0.as_bytes())),
                    Err(err) => idx.unusable = Some(bad("cRLNumber", err)),
                }
            } else if e.extn_id == oids::ID_CE_DELTA_CRL_INDICATOR {
                match BaseCrlNumber::from_der(v) {
                    Ok(n) => idx.base_number = Some(strip(n.0.as_bytes())),
                    Err(err) => idx.unusable = Some(bad("deltaCRLIndicator", err)),
                }
            } else if e.extn_id == oids::ID_CE_ISSUING_DISTRIBUTION_POINT {
                match IssuingDistributionPoint::from_der(v) {
                    Ok(p) => {
                        idx.idp = Some(p);
                        idx.idp_der = Some(v.to_vec());
                    }
                    Err(err) => idx.unusable = Some(bad("issuingDistributionPoint", err)),
                }
            } else if e.critical && !CRL_EXTENSIONS.contains(&e.extn_id) {
                idx.unusable = Some(format!(
                    "it has a critical extension {} that Cachet does not process",
                    e.extn_id
                ));
            }
        }
        if idx.number.is_none() && idx.unusable.is_none() {
            // §5.2.3: "conforming CRL issuers MUST include this extension in all CRLs";
            // without it, which CRL is newer (and which deltas apply) cannot be known.
            idx.unusable = Some("it has no cRLNumber, which RFC 5280 §5.2.3 requires".into());
        }
        let indirect = idx.idp.as_ref().is_some_and(|p| p.indirect_crl);
        let mut current_issuer: Option<usize> = None;
        for r in tbs.revoked_certificates.iter().flatten() {
            let mut entry = Entry {
                revoked_at: unix(&r.revocation_date),
                reason: RevocationReason::Unspecified,
                unknown_critical: false,
                issuer: None,
            };
            for x in r.crl_entry_extensions.iter().flatten() {
                let v = x.extn_value.as_bytes();
                if x.extn_id == oids::ID_CE_CRL_REASONS {
                    match RevocationReason::from_der(v) {
                        Ok(reason) => entry.reason = reason,
                        Err(_) => entry.unknown_critical = true,
                    }
                } else if x.extn_id == oids::ID_CE_CERTIFICATE_ISSUER && indirect {
                    // §5.3.3: the issuer applies to this entry and those that follow.
                    let names =
                        x509_cert::ext::pkix::name::GeneralNames::from_der(v).unwrap_or_default();
                    current_issuer = names.iter().find_map(|g| match g {
                        GeneralName::DirectoryName(n) => {
                            let key = NameKey::of(n);
                            Some(match idx.issuers.iter().position(|k| *k == key) {
                                Some(i) => i,
                                None => {
                                    idx.issuers.push(key);
                                    idx.issuers.len() - 1
                                }
                            })
                        }
                        _ => None,
                    });
                    if current_issuer.is_none() {
                        entry.unknown_critical = true;
                    }
                } else if x.critical && !ENTRY_EXTENSIONS.contains(&x.extn_id) {
                    entry.unknown_critical = true;
                }
            }
            entry.issuer = current_issuer;
            // Serials compare by their exact (minimal, two's complement) content octets:
            // 00 FF (255) and FF (−1) are different certificates (PKITS 4.4.14).
            // (`der`'s `as_bytes` strips sign octets, so compare the encodings.)
            use der::Encode;
            idx.entries
                .entry(r.serial_number.to_der().unwrap_or_default())
                .or_default()
                .push(entry);
        }
        idx
    }

    fn is_delta(&self) -> bool {
        self.base_number.is_some()
    }

    fn indirect(&self) -> bool {
        self.idp.as_ref().is_some_and(|p| p.indirect_crl)
    }

    /// The entry for the certificate `serial` issued by `cert_issuer`.
    fn lookup(&self, serial: &[u8], cert_issuer: &NameKey) -> Option<&Entry> {
        self.entries
            .get(&strip(serial))?
            .iter()
            .find(|e| match e.issuer {
                None => self.issuer == *cert_issuer,
                Some(i) => self.issuers.get(i) == Some(cert_issuer),
            })
    }
}

/// An INTEGER's content octets without leading zero octets, for comparison.
fn strip(b: &[u8]) -> Vec<u8> {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[i..].to_vec()
}

/// Compares two stripped unsigned integers.
fn cmp_number(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// What the revocation check of one certificate found.
pub(super) struct Found {
    pub status: RevocationStatus,
    pub sources: Vec<String>,
    /// No CRL was usable, and at least one was in scope but past its nextUpdate.
    pub expired_only: bool,
    /// The finding code when it is not the CRL one (OCSP was the only source tried).
    pub code: Option<crate::verdict::Code>,
}

/// CRL distribution points fetched per certificate at most.
const MAX_FETCHES: usize = 4;

/// The HTTP(S) URIs of a certificate's CRL distribution points.
pub fn http_distribution_points(cert: &crate::ParsedCertificate) -> Vec<String> {
    distribution_points(cert)
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .filter_map(|dp| match dp.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|g| match g {
            GeneralName::UniformResourceIdentifier(u) => {
                let s = u.to_string();
                (s.starts_with("http://") || s.starts_with("https://")).then_some(s)
            }
            _ => None,
        })
        .collect()
}

fn distribution_points(
    cert: &crate::ParsedCertificate,
) -> Result<Option<Vec<DistributionPoint>>, String> {
    match cert.extension(oids::ID_CE_CRL_DISTRIBUTION_POINTS) {
        Ok(Some(e)) => CrlDistributionPoints::from_der(e.extn_value.as_bytes())
            .map(|d| Some(d.0))
            .map_err(|err| format!("its cRLDistributionPoints cannot be read ({err})")),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn reasons_bits(r: &Option<x509_cert::ext::pkix::crl::dp::ReasonFlags>) -> u16 {
    r.map_or(ALL_REASONS, |f| f.bits() & ALL_REASONS)
}

/// The names a DistributionPointName stands for: fullName as is; nameRelativeToCRLIssuer
/// appended to the CRL issuer's name (RFC 5280 §4.2.1.13).
fn resolve(dpn: &DistributionPointName, crl_issuer: &Name) -> Vec<GeneralName> {
    match dpn {
        DistributionPointName::FullName(names) => names.clone(),
        DistributionPointName::NameRelativeToCRLIssuer(rdn) => {
            // Name has no public constructor from RDNs: go through the encoding.
            use der::Encode;
            let mut seq = x509_cert::name::RdnSequence::from(crl_issuer.clone());
            seq.push(rdn.clone());
            seq.to_der()
                .ok()
                .and_then(|d| Name::from_der(&d).ok())
                .map(GeneralName::DirectoryName)
                .into_iter()
                .collect()
        }
    }
}

fn names_intersect(a: &[GeneralName], b: &[GeneralName]) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| match (x, y) {
            (GeneralName::DirectoryName(p), GeneralName::DirectoryName(q)) => {
                NameKey::of(p) == NameKey::of(q)
            }
            _ => x == y,
        })
    })
}

fn describe(crl: &ParsedCrl, idx: &CrlIndex) -> String {
    let kind = if idx.is_delta() { "delta CRL" } else { "CRL" };
    match crl.crl_number() {
        Some(n) => format!(
            "{kind} #{n} from '{}' (this update {})",
            crl.issuer(),
            rfc3339(crl.this_update())
        ),
        None => format!(
            "{kind} from '{}' (this update {})",
            crl.issuer(),
            rfc3339(crl.this_update())
        ),
    }
}

/// The revocation status of `path[k]` (leaf = 0), issued by `path[k + 1]`.
/// The revocation status of `path[k]` (leaf = 0), issued by `path[k + 1]`: from the CRLs
/// at hand, then (with a fetcher) from the certificate's HTTP distribution points, then
/// from its OCSP responder.
pub(super) fn status(b: &mut Builder<'_>, path: &[usize], k: usize) -> Found {
    let node = path[k];
    let cert = b.graph.nodes[node].cert.clone();
    let s = Subject {
        issuer: b.graph.nodes[node].issuer.clone(),
        issuer_name: cert.inner().tbs_certificate().issuer().clone(),
        serial: {
            use der::Encode;
            cert.inner()
                .tbs_certificate()
                .serial_number()
                .to_der()
                .unwrap_or_default()
        },
        is_ca: cert.is_ca().unwrap_or(false),
        cert,
    };
    let mut found = Found {
        status: RevocationStatus::Undetermined(String::new()),
        sources: Vec::new(),
        expired_only: false,
        code: None,
    };
    let dps = match distribution_points(&s.cert) {
        Ok(Some(d)) if !d.is_empty() => d,
        Ok(_) => vec![DistributionPoint {
            distribution_point: None,
            reasons: None,
            crl_issuer: None,
        }],
        Err(e) => {
            found.status = RevocationStatus::Undetermined(e);
            return found;
        }
    };
    let mut st = Scan::default();
    let local = b.material.crls;
    let mut revoked = scan(b, path, k, &s, &dps, local, &mut st);
    let fetcher = b.material.fetcher;
    let mut fetch_failed = false;
    if revoked.is_none()
        && st.mask != ALL_REASONS
        && let Some(f) = fetcher
    {
        let mut fetched = Vec::new();
        for url in http_distribution_points(&s.cert)
            .into_iter()
            .take(MAX_FETCHES)
        {
            match f.crl(&url) {
                Ok(crl) => fetched.push(crl),
                Err(e) => {
                    fetch_failed = true;
                    st.problems
                        .push(format!("the CRL at {url} could not be fetched ({e})"));
                }
            }
        }
        if !fetched.is_empty() {
            // Delta CRLs among the local ones may update a fetched complete CRL.
            fetched.extend(local.iter().cloned());
            revoked = scan(b, path, k, &s, &dps, &fetched, &mut st);
        }
    }
    if let Some((at, reason)) = revoked {
        found.status = RevocationStatus::Revoked { at, reason };
        found.sources = st.sources;
        return found;
    }
    if st.mask != ALL_REASONS
        && let Some(f) = fetcher
    {
        let urls = super::aia::ocsp_urls(&s.cert);
        if let Some(url) = urls.first() {
            let issuer = b.graph.nodes[path[k + 1]].cert.clone();
            match ocsp_status(f, url, &s.cert, &issuer, b.opts.at) {
                Ok((status, source)) => {
                    st.sources.push(source);
                    match status {
                        RevocationStatus::Good => st.mask = ALL_REASONS,
                        RevocationStatus::Revoked { .. } => {
                            found.status = status;
                            found.sources = st.sources;
                            return found;
                        }
                        RevocationStatus::Undetermined(why) => st.problems.push(why),
                        RevocationStatus::NotChecked => {}
                    }
                }
                Err(why) => {
                    st.problems.push(why);
                    if !fetch_failed && st.mask == 0 {
                        found.code = Some(crate::verdict::Code::OcspUnavailable);
                    }
                }
            }
        }
    }
    found.sources = st.sources;
    let Scan {
        mask,
        mut problems,
        saw_expired,
        ..
    } = st;
    if mask == ALL_REASONS {
        found.status = RevocationStatus::Good;
    } else {
        if problems.is_empty() {
            problems.push(format!("no CRL from '{}' was available", s.cert.issuer()));
        } else if mask != 0 {
            problems.insert(
                0,
                "the CRLs at hand do not cover every revocation reason".into(),
            );
        }
        found.expired_only = saw_expired && mask == 0;
        problems.dedup();
        found.status = RevocationStatus::Undetermined(problems.join("; "));
    }
    found
}

/// The certificate whose status is sought, as the scan needs it.
struct Subject {
    cert: crate::ParsedCertificate,
    issuer: NameKey,
    issuer_name: Name,
    /// The serialNumber's DER (exact: `der` strips sign octets from `as_bytes`).
    serial: Vec<u8>,
    is_ca: bool,
}

/// What the scan of CRLs has established so far.
#[derive(Default)]
struct Scan {
    mask: u16,
    problems: Vec<String>,
    saw_expired: bool,
    sources: Vec<String>,
}

/// §6.3.3 over `crls` for each distribution point; `Some` when an entry revokes.
fn scan(
    b: &mut Builder<'_>,
    path: &[usize],
    k: usize,
    s: &Subject,
    dps: &[DistributionPoint],
    crls: &[ParsedCrl],
    st: &mut Scan,
) -> Option<(UnixTime, RevocationReason)> {
    let at = b.opts.at;
    'dps: for dp in dps {
        for crl in crls {
            if st.mask == ALL_REASONS {
                break 'dps;
            }
            let idx = crl.index();
            if idx.is_delta() {
                continue;
            }
            // (b)(1) the CRL issuer.
            match &dp.crl_issuer {
                Some(names) => {
                    let named = names.iter().any(|g| {
                        matches!(g, GeneralName::DirectoryName(n) if NameKey::of(n) == idx.issuer)
                    });
                    if !named {
                        continue;
                    }
                    if !idx.indirect() {
                        st.problems.push(format!(
                            "the CRL from '{}' is not marked indirect, so it cannot cover certificates of '{}'",
                            crl.issuer(),
                            s.cert.issuer()
                        ));
                        continue;
                    }
                }
                None => {
                    if idx.issuer != s.issuer {
                        continue;
                    }
                }
            }
            // (b)(2) the issuingDistributionPoint scope.
            if let Some(idp) = &idx.idp {
                if let Some(idp_dpn) = &idp.distribution_point {
                    let idp_names = resolve(idp_dpn, &idx.issuer_name);
                    let dp_names = match &dp.distribution_point {
                        Some(n) => {
                            let base = dp
                                .crl_issuer
                                .as_ref()
                                .and_then(|g| {
                                    g.iter().find_map(|x| match x {
                                        GeneralName::DirectoryName(n) => Some(n.clone()),
                                        _ => None,
                                    })
                                })
                                .unwrap_or_else(|| s.issuer_name.clone());
                            resolve(n, &base)
                        }
                        None => dp.crl_issuer.clone().unwrap_or_else(|| {
                            vec![GeneralName::DirectoryName(s.issuer_name.clone())]
                        }),
                    };
                    if !names_intersect(&idp_names, &dp_names) {
                        st.problems.push(format!(
                            "the CRL from '{}' covers another distribution point",
                            crl.issuer()
                        ));
                        continue;
                    }
                }
                if (idp.only_contains_user_certs && s.is_ca)
                    || (idp.only_contains_ca_certs && !s.is_ca)
                    || idp.only_contains_attribute_certs
                {
                    st.problems.push(format!(
                        "the CRL from '{}' covers only {} certificates",
                        crl.issuer(),
                        if idp.only_contains_ca_certs {
                            "CA"
                        } else if idp.only_contains_user_certs {
                            "end-entity"
                        } else {
                            "attribute"
                        }
                    ));
                    continue;
                }
            }
            if let Some(why) = &idx.unusable {
                st.problems.push(format!(
                    "the CRL from '{}' is unusable: {why}",
                    crl.issuer()
                ));
                continue;
            }
            // Freshness.
            if crl.this_update() > at {
                st.problems.push(format!(
                    "the CRL from '{}' is dated in the future ({})",
                    crl.issuer(),
                    rfc3339(crl.this_update())
                ));
                continue;
            }
            if let Some(next) = crl.next_update()
                && next < at
            {
                st.saw_expired = true;
                st.problems.push(format!(
                    "the CRL from '{}' expired on {}",
                    crl.issuer(),
                    rfc3339(next)
                ));
                continue;
            }
            // (d)–(e) reasons this CRL adds.
            let interim = reasons_bits(&idx.idp.as_ref().and_then(|p| p.only_some_reasons))
                & reasons_bits(&dp.reasons);
            if interim & !st.mask == 0 {
                continue;
            }
            // (f)–(g) the CRL's signer, validated.
            let signer_key = match crl_signer(b, path, k, crl, &idx) {
                Ok(key) => key,
                Err(why) => {
                    st.problems.push(why);
                    continue;
                }
            };
            // (c) a delta CRL for this complete CRL.
            let delta = if b.opts.use_delta_crls {
                match find_delta(b, crls, crl, &idx, &signer_key, at) {
                    Ok(d) => d,
                    Err(why) => {
                        st.problems.push(why);
                        continue;
                    }
                }
            } else {
                None
            };
            // (i)–(k) the entry: the delta first, then the complete CRL.
            let mut entry = None;
            if let Some(d) = delta {
                let didx = d.index();
                if let Some(e) = didx.lookup(&s.serial, &s.issuer) {
                    entry = Some(e.clone());
                }
                st.sources.push(describe(d, &didx));
            }
            if entry.is_none()
                && let Some(e) = idx.lookup(&s.serial, &s.issuer)
            {
                entry = Some(e.clone());
            }
            st.sources.push(describe(crl, &idx));
            match entry {
                Some(e) if e.unknown_critical => {
                    st.problems.push(format!(
                        "the CRL from '{}' lists the certificate with an extension Cachet cannot process",
                        crl.issuer()
                    ));
                    continue;
                }
                Some(e) if e.reason == RevocationReason::RemoveFromCrl => {}
                Some(e) => return Some((e.revoked_at, e.reason)),
                None => {}
            }
            st.mask |= interim;
        }
    }
    None
}

/// The newest fresh delta CRL that updates `complete` (RFC 5280 §5.2.4, §6.3.3 (c)): same
/// issuer and scope, base number not after the complete CRL's number, a newer number, and
/// signed by the same key. `Err` when the validation's budget of signature checks ran out
/// before every candidate was checked (a delta cannot be skipped unseen).
fn find_delta<'c>(
    b: &mut Builder<'_>,
    crls: &'c [ParsedCrl],
    complete: &ParsedCrl,
    cidx: &CrlIndex,
    signer_key: &[u8],
    at: UnixTime,
) -> Result<Option<&'c ParsedCrl>, String> {
    let Some(number) = cidx.number.as_ref() else {
        return Ok(None);
    };
    let mut best: Option<(&ParsedCrl, Vec<u8>)> = None;
    for d in crls {
        let didx = d.index();
        let (Some(base), Some(dnum)) = (&didx.base_number, &didx.number) else {
            continue;
        };
        if didx.issuer != cidx.issuer
            || didx.idp_der != cidx.idp_der
            || didx.unusable.is_some()
            || cmp_number(base, number).is_gt()
            || cmp_number(dnum, number).is_le()
            || d.this_update() > at
            || d.next_update().is_some_and(|n| n < at)
            || d.der() == complete.der()
        {
            continue;
        }
        if !b.crl_signed_by(d, signer_key).ok_or_else(|| stopped(d))? {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(_, n)| cmp_number(dnum, n).is_gt())
        {
            best = Some((d, dnum.clone()));
        }
    }
    Ok(best.map(|(d, _)| d))
}

/// Finds the certificate whose key signed `crl` and checks that it may: cRLSign, and a
/// valid path to the same anchor (it is in the path above `path[k]`, is the anchor, or is
/// validated on its own). Returns the signer's key.
fn crl_signer(
    b: &mut Builder<'_>,
    path: &[usize],
    k: usize,
    crl: &ParsedCrl,
    idx: &CrlIndex,
) -> Result<Vec<u8>, String> {
    use x509_cert::ext::pkix::KeyUsages;
    let anchor_node = path[path.len() - 1];
    let mut candidates: Vec<usize> = path[k + 1..]
        .iter()
        .copied()
        .filter(|&i| b.graph.nodes[i].subject == idx.issuer)
        .collect();
    for i in b.nodes_named(&idx.issuer) {
        if !candidates.contains(&i) {
            candidates.push(i);
        }
    }
    let mut why = format!(
        "no certificate of '{}' verifies the signature of its CRL",
        crl.issuer()
    );
    for c in candidates {
        let key = working_key(b, path, c);
        match b.crl_signed_by(crl, &key) {
            Some(true) => {}
            Some(false) => continue,
            None => {
                why = stopped(crl);
                break;
            }
        }
        let cert = b.graph.nodes[c].cert.clone();
        if let Ok(Some((_, ku))) = cert.key_usage()
            && !ku.0.contains(KeyUsages::CRLSign)
        {
            why = format!(
                "the CRL is signed by '{}', whose keyUsage lacks cRLSign",
                cert.subject()
            );
            continue;
        }
        let in_path = path[k + 1..].contains(&c);
        if in_path || c == anchor_node || b.is_in_progress(cert.der()) {
            return Ok(key);
        }
        if b.validate_crl_signer(&cert, anchor_node) {
            return Ok(key);
        }
        if b.over_budget() {
            why = stopped(crl);
            break;
        }
        why = format!(
            "the CRL is signed by '{}', whose own certificate is not valid",
            cert.subject()
        );
    }
    Err(why)
}

/// Why the signer of `crl` (or its delta) was not found: the validation's budget ran out.
fn stopped(crl: &ParsedCrl) -> String {
    format!(
        "checking the signer of the CRL from '{}' stopped: the certificates and CRLs offered form too many candidate paths or need too many signature checks",
        crl.issuer()
    )
}

/// The key of node `c`, with DSA parameters inherited along `path` when `c` is in it.
fn working_key(b: &Builder<'_>, path: &[usize], c: usize) -> Vec<u8> {
    let key = b.graph.nodes[c].spki.clone();
    if !cachet_crypto::dsa::lacks_parameters(&key) {
        return key;
    }
    let Some(pos) = path.iter().position(|&p| p == c) else {
        return key;
    };
    // Walk up from c to the first key with parameters.
    for &above in &path[pos + 1..] {
        if let Some(p) = cachet_crypto::dsa::parameters_of(&b.graph.nodes[above].spki) {
            return cachet_crypto::dsa::spki_with_parameters(&key, &p).unwrap_or(key);
        }
    }
    key
}

/// Asks the OCSP responder at `url` about `cert` (issued by `issuer`), with a nonce, and
/// checks the answer (RFC 6960): the status and a description of the source, or why the
/// responder could not be used.
fn ocsp_status(
    fetcher: &dyn super::Fetcher,
    url: &str,
    cert: &crate::ParsedCertificate,
    issuer: &crate::ParsedCertificate,
    at: UnixTime,
) -> Result<(RevocationStatus, String), String> {
    use crate::ocsp::{self, CertIdHash, CertStatus, CheckOptions, OcspQuery};
    let unusable =
        |e: &dyn std::fmt::Display| format!("the OCSP responder at {url} could not be used ({e})");
    let cert_id =
        ocsp::CertId::for_certificate(issuer, cert, CertIdHash::Sha1).map_err(|e| unusable(&e))?;
    let nonce = cachet_crypto::rand::bytes::<16>().map_err(|e| unusable(&e))?;
    let request = ocsp::build_request(std::slice::from_ref(&cert_id), Some(&nonce))
        .map_err(|e| unusable(&e))?;
    let response = fetcher
        .ocsp(url, &request)
        .map_err(|e| format!("the OCSP responder at {url} could not be reached ({e})"))?;
    let query = OcspQuery {
        cert_id,
        nonce: Some(nonce.to_vec()),
    };
    let single = ocsp::check_response(&response, &query, issuer, at, &CheckOptions::default())
        .map_err(|e| unusable(&e))?;
    let source = format!(
        "OCSP responder at {url} (this update {})",
        rfc3339(single.this_update)
    );
    let status = match single.status {
        CertStatus::Good => RevocationStatus::Good,
        CertStatus::Revoked { time, reason } => RevocationStatus::Revoked {
            at: time,
            reason: reason.unwrap_or(RevocationReason::Unspecified),
        },
        CertStatus::Unknown => RevocationStatus::Undetermined(format!(
            "the OCSP responder at {url} does not know the certificate"
        )),
    };
    Ok((status, source))
}
