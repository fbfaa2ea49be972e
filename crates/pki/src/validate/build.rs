//! Path building (RFC 4158 in spirit): a depth-first search from the leaf towards the trust
//! anchors over every certificate whose subject matches the current issuer, trying anchors
//! first and key-identifier matches before other candidates, validating each complete
//! path with the §6.1 algorithm until one passes. Bounded in depth, in complete paths
//! examined and in signature checks, so that loops of cross-certificates and bags of
//! hundreds of look-alike intermediates end quickly with a clear finding. The path, budget
//! and signature-check limits hold for a whole validation: the nested validations of CRL
//! signers' paths draw on the same [`Work`], so that nesting cannot multiply them.

use super::dn::NameKey;
use super::path::{self, PathOutcome};
use super::{Material, Purpose, RevocationPolicy, Validation, ValidationOptions};
use crate::ParsedCertificate;
use crate::crl::ParsedCrl;
use crate::verdict::{Code, Finding, Verdict};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Complete candidate paths validated before giving up (CRL signers' paths included).
const MAX_PATHS: usize = 64;
/// Certificate and CRL signature checks before giving up (CRL signers' paths included).
const MAX_SIGNATURE_CHECKS: usize = 1024;
/// Candidate issuers expanded, and CRL signers' path searches started, before giving up.
const MAX_EXPANSIONS: usize = 4096;
/// AIA caIssuers fetches per validation.
const MAX_AIA_FETCHES: usize = 4;
/// Nesting of CRL-issuer path validations (a CRL signer whose own path needs a CRL whose
/// signer needs…).
pub(super) const MAX_RECURSION: usize = 2;

/// The work of one validation so far, shared by its path search and the nested searches
/// for CRL signers' paths.
#[derive(Default)]
pub(super) struct Work {
    paths: Cell<usize>,
    signature_checks: Cell<usize>,
    expansions: Cell<usize>,
    /// CRL signature checks made: (address of the CRL's DER, the key) → result.
    crl_checks: RefCell<HashMap<(usize, Vec<u8>), bool>>,
    /// The CRLs of `crl_checks`, kept so that their addresses stay theirs.
    crls_checked: RefCell<Vec<ParsedCrl>>,
}

impl Work {
    fn exhausted(&self) -> bool {
        self.paths.get() >= MAX_PATHS
            || self.signature_checks.get() >= MAX_SIGNATURE_CHECKS
            || self.expansions.get() >= MAX_EXPANSIONS
    }

    fn add(counter: &Cell<usize>) {
        counter.set(counter.get() + 1);
    }
}

/// One certificate that may appear in a path, with what building compares precomputed.
pub(super) struct Node {
    pub cert: ParsedCertificate,
    pub subject: NameKey,
    pub issuer: NameKey,
    pub ski: Option<Vec<u8>>,
    pub aki: Option<Vec<u8>>,
    /// Index into `Material::anchors` when this certificate is a trust anchor.
    pub anchor: Option<usize>,
    pub self_issued: bool,
    pub spki: Vec<u8>,
}

impl Node {
    fn new(cert: &ParsedCertificate, anchor: Option<usize>) -> Node {
        let (subject, issuer) = cert.name_keys().clone();
        Node {
            self_issued: subject == issuer,
            subject,
            issuer,
            ski: cert.subject_key_id().ok().flatten(),
            aki: cert.authority_key_id().ok().flatten(),
            anchor,
            spki: cert.spki_der().unwrap_or_default(),
            cert: cert.clone(),
        }
    }
}

/// The certificates of one validation, indexed by subject.
pub(super) struct Graph {
    pub nodes: Vec<Node>,
    by_subject: HashMap<NameKey, Vec<usize>>,
}

impl Graph {
    fn new(leaf: &ParsedCertificate, material: &Material<'_>) -> Graph {
        let mut nodes = vec![Node::new(leaf, None)];
        let mut seen: HashMap<&[u8], usize> = HashMap::new();
        for (i, a) in material.anchors.iter().enumerate() {
            if a.certificate.der() == leaf.der() {
                nodes[0].anchor = Some(i);
                continue;
            }
            if seen.contains_key(a.certificate.der()) {
                continue;
            }
            seen.insert(a.certificate.der(), nodes.len());
            nodes.push(Node::new(&a.certificate, Some(i)));
        }
        for c in material.intermediates {
            if c.der() == leaf.der() || seen.contains_key(c.der()) {
                continue;
            }
            seen.insert(c.der(), nodes.len());
            nodes.push(Node::new(c, None));
        }
        let mut by_subject: HashMap<NameKey, Vec<usize>> = HashMap::new();
        for (i, n) in nodes.iter().enumerate().skip(1) {
            by_subject.entry(n.subject.clone()).or_default().push(i);
        }
        Graph { nodes, by_subject }
    }

    /// Adds a certificate (fetched from an AIA caIssuers URL) unless present; its index.
    fn add(&mut self, cert: &ParsedCertificate) -> usize {
        if let Some(i) = self.nodes.iter().position(|n| n.cert.der() == cert.der()) {
            return i;
        }
        let node = Node::new(cert, None);
        self.by_subject
            .entry(node.subject.clone())
            .or_default()
            .push(self.nodes.len());
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Certificates whose subject is `name`.
    pub fn with_subject(&self, name: &NameKey) -> &[usize] {
        self.by_subject.get(name).map_or(&[], |v| v.as_slice())
    }

    /// For each name, the fewest certificates (hops from a subject to its issuer, through
    /// certificates that are not trust anchors) from it to the name of a trust anchor, and
    /// to the name of any self-signed root (trusted or not): the order in which building
    /// tries candidate issuers, so that a path out of a web of cross-certificates is found
    /// before the web's own loops are explored. Names are compared, not keys: it is a
    /// heuristic, not a proof that a path exists.
    fn distances(&self) -> HashMap<NameKey, (usize, usize)> {
        let mut subjects_of: HashMap<&NameKey, Vec<&NameKey>> = HashMap::new();
        for n in self.nodes.iter().filter(|n| n.anchor.is_none()) {
            subjects_of.entry(&n.issuer).or_default().push(&n.subject);
        }
        let hops = |targets: Vec<&NameKey>| -> HashMap<NameKey, usize> {
            let mut dist: HashMap<NameKey, usize> = HashMap::new();
            let mut queue = std::collections::VecDeque::new();
            for t in targets {
                if !dist.contains_key(t) {
                    dist.insert(t.clone(), 0);
                    queue.push_back(t);
                }
            }
            while let Some(name) = queue.pop_front() {
                let d = dist[name] + 1;
                for &s in subjects_of.get(name).into_iter().flatten() {
                    if !dist.contains_key(s) {
                        dist.insert(s.clone(), d);
                        queue.push_back(s);
                    }
                }
            }
            dist
        };
        let trusted = hops(
            self.nodes
                .iter()
                .filter(|n| n.anchor.is_some())
                .map(|n| &n.subject)
                .collect(),
        );
        // A self-issued certificate whose key identifiers do not name two keys is taken
        // for a self-signed root (rollover certificates name both).
        let roots = hops(
            self.nodes
                .iter()
                .filter(|n| {
                    n.self_issued
                        && match (&n.aki, &n.ski) {
                            (Some(a), Some(s)) => a == s,
                            _ => true,
                        }
                })
                .map(|n| &n.subject)
                .collect(),
        );
        let mut out: HashMap<NameKey, (usize, usize)> = HashMap::new();
        for n in &self.nodes {
            for name in [&n.subject, &n.issuer] {
                out.entry(name.clone()).or_insert_with(|| {
                    (
                        trusted.get(name).copied().unwrap_or(usize::MAX),
                        roots.get(name).copied().unwrap_or(usize::MAX),
                    )
                });
            }
        }
        out
    }
}

/// Why the search has not succeeded, ranked: a complete path's failure (4) says more than
/// an untrusted self-signed root (3), than a certificate with the issuer's name whose key
/// did not sign (2), than a missing issuer (1).
struct Failure {
    rank: u8,
    finding: Finding,
    chain: Vec<usize>,
    outcome: Option<Box<PathOutcome>>,
}

/// One validation: the graph, the budget and the best failure so far.
pub(super) struct Builder<'a> {
    pub graph: Graph,
    pub material: &'a Material<'a>,
    pub opts: &'a ValidationOptions,
    /// Nesting level (0 for the caller's validation, more for CRL signers' paths).
    pub recursion: usize,
    /// DER of certificates whose validation is in progress further up (a CRL signer whose
    /// status is decided by a CRL it signed itself is taken as validated: RFC 5280 allows
    /// it and PKITS 4.14.30 requires it).
    pub in_progress: Vec<Vec<u8>>,
    /// Anchor a CRL signer's path must end at (RFC 5280 §6.3.3 (f)).
    pub required_anchor: Option<usize>,
    sig_memo: HashMap<(usize, usize), bool>,
    /// [`Graph::distances`], computed when some certificate first has several candidate
    /// issuers, and again after AIA adds issuers.
    distances: Option<HashMap<NameKey, (usize, usize)>>,
    work: Rc<Work>,
    exhausted: bool,
    best: Option<Failure>,
    aia_fetches: usize,
    aia_problems: Vec<String>,
}

impl<'a> Builder<'a> {
    pub fn new(
        leaf: &ParsedCertificate,
        material: &'a Material<'a>,
        opts: &'a ValidationOptions,
        recursion: usize,
        in_progress: &[Vec<u8>],
        work: Rc<Work>,
    ) -> Self {
        let mut in_progress = in_progress.to_vec();
        in_progress.push(leaf.der().to_vec());
        Builder {
            graph: Graph::new(leaf, material),
            material,
            opts,
            recursion,
            in_progress,
            required_anchor: None,
            sig_memo: HashMap::new(),
            distances: None,
            work,
            exhausted: false,
            best: None,
            aia_fetches: 0,
            aia_problems: Vec::new(),
        }
    }

    /// The revocation policy of the anchor at `node`.
    pub fn revocation_policy(&self, anchor_node: usize) -> RevocationPolicy {
        self.graph.nodes[anchor_node]
            .anchor
            .and_then(|a| self.material.anchors.get(a))
            .and_then(|a| a.revocation)
            .unwrap_or(self.opts.revocation)
    }

    /// Whether `subject`'s signature verifies with `issuer`'s key (as completed by
    /// `issuer_key` when DSA parameters are inherited), memoised per pair.
    pub fn signed_by(&mut self, subject: usize, issuer: usize, issuer_key: &[u8]) -> bool {
        if let Some(&ok) = self.sig_memo.get(&(subject, issuer)) {
            return ok;
        }
        Work::add(&self.work.signature_checks);
        let cert = &self.graph.nodes[subject].cert;
        let ok = match self.material.cache {
            Some(c) => c.verify(cert, issuer_key),
            None => cert.verify_signature(issuer_key).is_ok(),
        };
        self.sig_memo.insert((subject, issuer), ok);
        ok
    }

    /// Whether `crl`'s signature verifies with `key`: counted as a signature check and
    /// remembered (failures too) for the whole validation. `None` when the answer is not
    /// remembered and the budget is used up.
    pub fn crl_signed_by(&mut self, crl: &ParsedCrl, key: &[u8]) -> Option<bool> {
        let id = (crl.der().as_ptr() as usize, key.to_vec());
        if let Some(&ok) = self.work.crl_checks.borrow().get(&id) {
            return Some(ok);
        }
        if self.over_budget() {
            return None;
        }
        Work::add(&self.work.signature_checks);
        let ok = crl.verified_by(key);
        self.work.crl_checks.borrow_mut().insert(id, ok);
        self.work.crls_checked.borrow_mut().push(crl.clone());
        Some(ok)
    }

    /// Whether the validation has used up its budget (see [`Work`]).
    pub fn over_budget(&mut self) -> bool {
        if self.work.exhausted() {
            self.exhausted = true;
        }
        self.exhausted
    }

    /// Whether the partial path `path` (leaf first, no anchor yet) is deeper than
    /// `max_depth`: the leaf and every intermediate that is not self-issued count, as in
    /// RFC 5280 §6.1.4 (l) (a CA's key rollover certificates lengthen no path); whatever its
    /// certificates, no path is longer than twice the bound.
    fn too_deep(&self, path: &[usize]) -> bool {
        let counted = 1 + path
            .iter()
            .skip(1)
            .filter(|&&n| !self.graph.nodes[n].self_issued)
            .count();
        counted > self.opts.max_depth || path.len() > self.opts.max_depth.saturating_mul(2)
    }

    fn record(&mut self, f: Failure) {
        if self.best.as_ref().is_none_or(|b| f.rank > b.rank) {
            self.best = Some(f);
        }
    }

    /// Candidate issuers of `current`: anchors first, then certificates whose subject key
    /// identifier matches `current`'s authority key identifier, then the rest; within each
    /// group, those whose issuer's name is fewest certificates from a trust anchor's name
    /// (then from any root's name) first.
    fn candidates(&mut self, current: usize, path: &[usize]) -> Vec<usize> {
        let cur = &self.graph.nodes[current];
        let mut out: Vec<usize> = self
            .graph
            .with_subject(&cur.issuer)
            .iter()
            .copied()
            .filter(|&c| {
                // Never the same certificate twice, nor the same name and key twice
                // (RFC 4158 §5.2: that is a loop, whatever the certificates' other bytes).
                !path.iter().any(|&p| {
                    p == c
                        || (self.graph.nodes[p].subject == self.graph.nodes[c].subject
                            && self.graph.nodes[p].spki == self.graph.nodes[c].spki)
                })
            })
            .filter(|&c| match self.required_anchor {
                Some(a) => self.graph.nodes[c].anchor.is_none_or(|x| x == a),
                None => true,
            })
            .collect();
        if out.len() < 2 {
            return out;
        }
        let distances = self.distances.get_or_insert_with(|| self.graph.distances());
        let cur = &self.graph.nodes[current];
        out.sort_by_key(|&c| {
            let n = &self.graph.nodes[c];
            let key_match = match (&cur.aki, &n.ski) {
                (Some(a), Some(s)) if a == s => 0,
                (Some(_), Some(_)) => 2,
                _ => 1,
            };
            let (trusted, root) = distances
                .get(&n.issuer)
                .copied()
                .unwrap_or((usize::MAX, usize::MAX));
            (n.anchor.is_none(), key_match, trusted, root)
        });
        out
    }

    /// Runs the search and returns the validation.
    pub fn run(mut self) -> Validation {
        // What concerns the leaf alone is the same on every path: checked once, reported
        // with whichever path is chosen.
        let mut leaf = PathOutcome::default();
        path::check_leaf(&self, 0, &mut leaf);
        let mut v = if self.graph.nodes[0].anchor.is_some() {
            // A leaf that is itself a trust anchor is trusted as it stands.
            self.finish_path(vec![0])
        } else {
            let mut path = vec![0usize];
            match self.search(&mut path) {
                Some(v) => v,
                None => self.failure(),
            }
        };
        v.verdict.findings.extend(leaf.findings);
        v
    }

    fn search(&mut self, path: &mut Vec<usize>) -> Option<Validation> {
        let current = *path.last()?;
        // A self-signed certificate that is not a trust anchor is an untrusted root, whatever
        // else carries its name (a look-alike or re-keyed root among the anchors): that is
        // the diagnosis, unless a path through a cross-certificate is found below.
        if current != 0 && self.graph.nodes[current].self_issued {
            let n = &self.graph.nodes[current];
            if n.cert.verify_signature(&n.spki).is_ok() {
                let f = self.missing_issuer(current);
                self.record(Failure {
                    rank: 3,
                    finding: f,
                    chain: path.clone(),
                    outcome: None,
                });
            }
        }
        let mut candidates = self.candidates(current, path);
        if candidates.is_empty() && self.fetch_issuers(current) {
            self.distances = None;
            candidates = self.candidates(current, path);
        }
        if candidates.is_empty() {
            let f = self.missing_issuer(current);
            self.record(Failure {
                rank: 1,
                finding: f,
                chain: path.clone(),
                outcome: None,
            });
            return None;
        }
        for c in candidates {
            if self.over_budget() {
                return None;
            }
            Work::add(&self.work.expansions);
            let is_anchor = self.graph.nodes[c].anchor.is_some();
            // Check the signature now when the key stands alone (prunes look-alikes early);
            // a DSA key that inherits parameters is checked when the path is processed.
            let key = self.graph.nodes[c].spki.clone();
            if !cachet_crypto::dsa::lacks_parameters(&key) && !self.signed_by(current, c, &key) {
                // The issuer the certificate names by key identifier, yet its key does not
                // verify: a corrupted or forged signature. A certificate with the issuer's
                // name but another key: the real issuer is missing (a re-keyed or
                // look-alike CA), or the signature is forged.
                let same_key_id = matches!(
                    (&self.graph.nodes[current].aki, &self.graph.nodes[c].ski),
                    (Some(a), Some(s)) if a == s
                );
                let f = if same_key_id {
                    Finding::error(
                        Code::BadSignature,
                        format!(
                            "the signature on '{}' does not verify with the key of its issuer '{}': the certificate is forged or corrupted",
                            self.graph.nodes[current].cert.subject(),
                            self.graph.nodes[c].cert.subject()
                        ),
                    )
                } else {
                    Finding::error(
                        Code::MissingIntermediate,
                        format!(
                            "the issuer of '{}' was not found: a certificate named '{}' is at hand but its key did not sign it (a re-keyed or look-alike CA, or a forged signature): get the issuer's current certificate",
                            self.graph.nodes[current].cert.subject(),
                            self.graph.nodes[c].cert.subject()
                        ),
                    )
                };
                let mut chain = path.clone();
                chain.push(c);
                self.record(Failure {
                    rank: 2,
                    finding: f,
                    chain,
                    outcome: None,
                });
                continue;
            }
            path.push(c);
            if is_anchor {
                Work::add(&self.work.paths);
                let v = self.try_path(path);
                if v.is_some() {
                    return v;
                }
            } else if self.too_deep(path) {
                let f = Finding::error(
                    Code::PathTooLong,
                    format!(
                        "no trusted root within {} certificates of '{}' (self-issued CA certificates not counted)",
                        self.opts.max_depth,
                        self.graph.nodes[0].cert.subject()
                    ),
                );
                self.record(Failure {
                    rank: 1,
                    finding: f,
                    chain: path.clone(),
                    outcome: None,
                });
            } else if let Some(v) = self.search(path) {
                return Some(v);
            }
            path.pop();
        }
        None
    }

    /// Fetches the issuers of `node` from its AIA caIssuers URLs (RFC 5280 §4.2.2.1) when a
    /// fetcher is at hand; whether any certificate was added. At most [`MAX_AIA_FETCHES`]
    /// fetches per validation; failures are remembered for the finding.
    fn fetch_issuers(&mut self, node: usize) -> bool {
        let Some(fetcher) = self.material.fetcher else {
            return false;
        };
        let mut added = false;
        for url in super::aia::ca_issuer_urls(&self.graph.nodes[node].cert) {
            if self.aia_fetches >= MAX_AIA_FETCHES {
                break;
            }
            self.aia_fetches += 1;
            match fetcher.ca_issuers(&url) {
                Ok(certs) => {
                    for c in certs.iter().take(16) {
                        let before = self.graph.nodes.len();
                        if self.graph.add(c) == before {
                            added = true;
                        }
                    }
                }
                Err(e) => self
                    .aia_problems
                    .push(format!("the issuer could not be fetched from {url} ({e})")),
            }
        }
        added
    }

    /// Processes a complete path (leaf … anchor); `Some` when it is valid.
    fn try_path(&mut self, path: &[usize]) -> Option<Validation> {
        let outcome = path::process(self, path);
        match outcome.first_error().cloned() {
            None => Some(self.validation(path, outcome)),
            Some(f) => {
                self.record(Failure {
                    rank: 4,
                    finding: f,
                    chain: path.to_vec(),
                    outcome: Some(Box::new(outcome)),
                });
                None
            }
        }
    }

    fn finish_path(mut self, path: Vec<usize>) -> Validation {
        let outcome = path::process(&mut self, &path);
        Work::add(&self.work.paths);
        self.validation(&path, outcome)
    }

    fn validation(&self, path: &[usize], outcome: PathOutcome) -> Validation {
        let mut verdict = Verdict::default();
        for f in outcome.findings {
            verdict.push(f);
        }
        Validation {
            verdict,
            anchored: path
                .last()
                .is_some_and(|&i| self.graph.nodes[i].anchor.is_some()),
            chain: path
                .iter()
                .map(|&i| self.graph.nodes[i].cert.clone())
                .collect(),
            user_constrained_policy_set: outcome.policies,
            revocation: outcome.revocation,
            leaf_public_key: outcome
                .leaf_key
                .unwrap_or_else(|| self.graph.nodes[0].spki.clone()),
            paths_tried: self.work.paths.get(),
            signature_checks: self.work.signature_checks.get(),
        }
    }

    fn failure(mut self) -> Validation {
        let exhausted = self.exhausted;
        let best = self.best.take();
        let leaf_key = self.graph.nodes[0].spki.clone();
        let mut verdict = Verdict::default();
        let mut revocation = Vec::new();
        let chain = match best {
            Some(f) => {
                match f.outcome {
                    Some(o) => {
                        for x in o.findings {
                            verdict.push(x);
                        }
                        revocation = o.revocation;
                    }
                    None => verdict.push(f.finding),
                }
                f.chain
            }
            None => {
                verdict.push(self.missing_issuer(0));
                vec![0]
            }
        };
        for p in std::mem::take(&mut self.aia_problems) {
            verdict.push(Finding::warning(Code::MissingIntermediate, p));
        }
        if exhausted {
            verdict.push(Finding::error(
                Code::PathTooLong,
                format!(
                    "path building stopped after {} paths and {} signature checks: the certificates offered form too many candidate paths",
                    self.work.paths.get(),
                    self.work.signature_checks.get()
                ),
            ));
        }
        Validation {
            verdict,
            anchored: chain
                .last()
                .is_some_and(|&i| self.graph.nodes[i].anchor.is_some()),
            chain: chain
                .iter()
                .map(|&i| self.graph.nodes[i].cert.clone())
                .collect(),
            user_constrained_policy_set: Vec::new(),
            revocation,
            leaf_public_key: leaf_key,
            paths_tried: self.work.paths.get(),
            signature_checks: self.work.signature_checks.get(),
        }
    }

    /// The finding for a certificate whose issuer is nowhere to be found.
    fn missing_issuer(&self, node: usize) -> Finding {
        let n = &self.graph.nodes[node];
        if n.self_issued && n.cert.verify_signature(&n.spki).is_ok() {
            Finding::error(
                Code::UntrustedRoot,
                format!(
                    "the root '{}' is not trusted: if you trust it, add it with `cachet trust add` (or pass it with --trust)",
                    n.cert.subject()
                ),
            )
        } else if n.cert.is_ca().unwrap_or(false) {
            // The missing issuer of a CA is often the root itself: say both.
            Finding::error(
                Code::MissingIntermediate,
                format!(
                    "the issuer '{}' of the CA '{}' was not found: get its certificate — if it is a root you trust, add it with `cachet trust add ROOT.pem` (or --trust); if it is an intermediate CA, with `cachet trust add --intermediate CA.pem` (or --intermediates)",
                    n.cert.issuer(),
                    n.cert.subject()
                ),
            )
        } else {
            Finding::error(
                Code::MissingIntermediate,
                format!(
                    "the issuer '{}' of '{}' was not found: get its certificate and add it with `cachet trust add --intermediate` (or pass it with --intermediates)",
                    n.cert.issuer(),
                    n.cert.subject()
                ),
            )
        }
    }

    /// Validates the path of a CRL signer `signer` (a certificate not in the current
    /// path) to the anchor `anchor_node` of the current graph.
    /// The search draws on this validation's [`Work`], and starting it counts as an
    /// expansion.
    pub fn validate_crl_signer(&mut self, signer: &ParsedCertificate, anchor_node: usize) -> bool {
        if self.recursion >= MAX_RECURSION || self.over_budget() {
            return false;
        }
        Work::add(&self.work.expansions);
        let Some(anchor_index) = self.graph.nodes[anchor_node].anchor else {
            return false;
        };
        let mut opts = self.opts.clone();
        opts.purpose = Purpose::CrlSigning;
        opts.email = None;
        // The signer's path is checked without the relying party's policy requirements:
        // RFC 5280 §6.3.3 (f) asks for a valid path, not for the leaf's policies.
        opts.policy = super::PolicyInputs::default();
        let mut sub = Builder::new(
            signer,
            self.material,
            &opts,
            self.recursion + 1,
            &self.in_progress,
            self.work.clone(),
        );
        sub.required_anchor = Some(anchor_index);
        let anchor_der = self.graph.nodes[anchor_node].cert.der();
        sub.graph.nodes.iter_mut().for_each(|n| {
            if n.anchor.is_some() && n.cert.der() != anchor_der {
                n.anchor = None;
            }
        });
        let v = sub.run();
        v.is_valid()
    }

    /// Whether `der` is a certificate whose validation is under way further up.
    pub fn is_in_progress(&self, der: &[u8]) -> bool {
        self.in_progress.iter().any(|d| d == der)
    }

    /// Distinct candidate certificates with subject `name` (for CRL signers).
    pub fn nodes_named(&self, name: &NameKey) -> Vec<usize> {
        let mut seen = HashSet::new();
        self.graph
            .with_subject(name)
            .iter()
            .copied()
            .chain(std::iter::once(0).filter(|_| &self.graph.nodes[0].subject == name))
            .filter(|i| seen.insert(*i))
            .collect()
    }
}
