//! Certificate policy processing (RFC 5280 §6.1.2 (a), (d)–(f); §6.1.3 (d)–(f);
//! §6.1.4 (a)–(b), (h)–(j); §6.1.5 (a)–(b), (g)).
//!
//! The valid_policy_tree of RFC 5280 is kept as the equivalent *policy graph* of RFC 9618
//! (which updates RFC 5280 §6.1): one node per policy OID and depth, a node having every
//! parent it would have been copied under in the tree, and at most one anyPolicy node per
//! depth. The tree can grow exponentially with the length of the path; the graph grows
//! linearly with the number of policies and mappings, and [`MAX_POLICY_NODES`] and
//! [`MAX_POLICY_EDGES`] bound it further. Validity and the policies reported are those of
//! the RFC 5280 tree algorithm.
//!
//! Steps that prune childless nodes (§6.1.3 (d)(3), §6.1.4 (b)(2)(ii), §6.1.5 (g)(iii)(4))
//! are deferred to one reachability pass in [`PolicyValidator::finish`]: only the deepest
//! level is consulted while processing, and a pruned node can never gain a child, so the
//! result is the same.
//!
//! Policy qualifiers are ignored: they never affect validity, and RFC 9618 ("Verification
//! Outputs") recommends not returning them.

use crate::ParsedCertificate;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280 as oids;
use der::Decode;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::{
    CertificatePolicies, InhibitAnyPolicy, PolicyConstraints, PolicyMappings,
};

/// anyPolicy, 2.5.29.32.0 (RFC 5280 §4.2.1.4).
pub const ANY_POLICY: ObjectIdentifier = oids::ANY_POLICY;

/// Most policy nodes (RFC 5280's valid_policy_tree nodes, merged as in RFC 9618) that one path
/// may create; beyond it [`PolicyError::TooComplex`]. Real PKIs, bridges included, stay in the
/// low hundreds.
pub const MAX_POLICY_NODES: usize = 4096;

/// Most links one path may create: parent links between policy nodes plus the pairs of its
/// policy mappings extensions; beyond it [`PolicyError::TooComplex`].
pub const MAX_POLICY_EDGES: usize = 65_536;

/// The RFC 5280 §6.1.1 (c), (e), (f), (g) inputs.
#[derive(Debug, Clone, Default)]
pub struct PolicyInputs {
    /// user-initial-policy-set (§6.1.1 (c)); empty means {anyPolicy}, and a set that contains
    /// anyPolicy is any-policy whatever else it holds.
    pub initial_policy_set: Vec<ObjectIdentifier>,
    /// initial-explicit-policy (§6.1.1 (f)): the path must be valid for at least one policy
    /// of the user-initial-policy-set.
    pub initial_explicit_policy: bool,
    /// initial-policy-mapping-inhibit (§6.1.1 (e)).
    pub initial_policy_mapping_inhibit: bool,
    /// initial-any-policy-inhibit (§6.1.1 (g)).
    pub initial_any_policy_inhibit: bool,
}

/// The policy extensions of one certificate, decoded.
#[derive(Debug, Clone, Default)]
pub struct PolicyExtensions {
    /// certificatePolicies (RFC 5280 §4.2.1.4).
    pub policies: Option<CertificatePolicies>,
    /// policyMappings (§4.2.1.5).
    pub mappings: Option<PolicyMappings>,
    /// policyConstraints (§4.2.1.11).
    pub constraints: Option<PolicyConstraints>,
    /// inhibitAnyPolicy SkipCerts (§4.2.1.14).
    pub inhibit_any_policy: Option<u32>,
}

impl PolicyExtensions {
    /// Decodes the four extensions from a certificate. An extension that appears twice
    /// (§4.2), does not decode, or is empty where its syntax says SIZE (1..MAX) (or, for
    /// policyConstraints, carries neither field, §4.2.1.11) is an error naming it.
    pub fn from_certificate(cert: &ParsedCertificate) -> Result<Self, PolicyError> {
        let policies: Option<CertificatePolicies> = decode_extension(
            cert,
            oids::ID_CE_CERTIFICATE_POLICIES,
            "certificatePolicies",
        )?;
        if policies.as_ref().is_some_and(|p| p.0.is_empty()) {
            return Err(malformed(
                "certificatePolicies",
                "lists no policy (its syntax is SIZE (1..MAX))",
            ));
        }
        let mappings: Option<PolicyMappings> =
            decode_extension(cert, oids::ID_CE_POLICY_MAPPINGS, "policyMappings")?;
        if mappings.as_ref().is_some_and(|m| m.0.is_empty()) {
            return Err(malformed(
                "policyMappings",
                "lists no mapping (its syntax is SIZE (1..MAX))",
            ));
        }
        let constraints: Option<PolicyConstraints> =
            decode_extension(cert, oids::ID_CE_POLICY_CONSTRAINTS, "policyConstraints")?;
        if constraints.as_ref().is_some_and(|c| {
            c.require_explicit_policy.is_none() && c.inhibit_policy_mapping.is_none()
        }) {
            return Err(malformed(
                "policyConstraints",
                "has neither requireExplicitPolicy nor inhibitPolicyMapping (RFC 5280 §4.2.1.11)",
            ));
        }
        let inhibit_any_policy: Option<InhibitAnyPolicy> =
            decode_extension(cert, oids::ID_CE_INHIBIT_ANY_POLICY, "inhibitAnyPolicy")?;
        Ok(PolicyExtensions {
            policies,
            mappings,
            constraints,
            inhibit_any_policy: inhibit_any_policy.map(|s| s.0),
        })
    }
}

fn malformed(extension: &'static str, detail: impl Into<String>) -> PolicyError {
    PolicyError::Malformed {
        extension,
        detail: detail.into(),
    }
}

fn decode_extension<T: for<'a> Decode<'a>>(
    cert: &ParsedCertificate,
    oid: ObjectIdentifier,
    name: &'static str,
) -> Result<Option<T>, PolicyError> {
    let mut found = cert.extensions().iter().filter(|e| e.extn_id == oid);
    let Some(ext) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(malformed(
            name,
            "appears more than once in the certificate (RFC 5280 §4.2)",
        ));
    }
    T::from_der(ext.extn_value.as_bytes())
        .map(Some)
        .map_err(|e| malformed(name, e.to_string()))
}

/// Why policy processing rejected the path. `certificate_index` is RFC 5280's i: 1 is the
/// certificate the trust anchor issued, n the leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// A policy extension appears twice, does not decode, or breaks its syntax.
    Malformed {
        /// The extension's name, as RFC 5280 spells it.
        extension: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A certificatePolicies extension lists a policy twice (RFC 5280 §4.2.1.4).
    DuplicatePolicy {
        /// The certificate.
        certificate_index: usize,
        /// The policy.
        policy: ObjectIdentifier,
    },
    /// A CA certificate maps a policy to or from anyPolicy (§6.1.4 (a)).
    MappingInvolvesAnyPolicy {
        /// The certificate.
        certificate_index: usize,
    },
    /// explicit_policy is 0 and no policy is valid for the path any more: §6.1.3 (f), or the
    /// §6.1.5 final check after the leaf's requireExplicitPolicy.
    NoValidPolicy {
        /// The certificate at which the check failed.
        certificate_index: usize,
    },
    /// explicit_policy is 0 and the path is valid for policies, but none of them is in the
    /// user-initial-policy-set (§6.1.5 (g) and the final check).
    NoAcceptablePolicy {
        /// The authorities-constrained policy set: the policies the path is valid for, in the
        /// trust anchor's policy domain.
        path_policies: Vec<ObjectIdentifier>,
    },
    /// The policies and mappings would need more than [`MAX_POLICY_NODES`] nodes or
    /// [`MAX_POLICY_EDGES`] links; the path is rejected rather than evaluated.
    TooComplex {
        /// The certificate at which the limit was reached.
        certificate_index: usize,
    },
    /// [`PolicyValidator::process`] was called more, or [`PolicyValidator::finish`] before,
    /// as many times as the path has certificates: a bug in the caller.
    PathLengthMismatch {
        /// The path length given to [`PolicyValidator::new`].
        path_len: usize,
        /// Certificates processed (including the one refused).
        processed: usize,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Malformed { extension, detail } => {
                write!(f, "the {extension} extension is malformed: {detail}")
            }
            PolicyError::DuplicatePolicy {
                certificate_index,
                policy,
            } => write!(
                f,
                "certificate {certificate_index} of the path lists certificate policy {policy} \
                 more than once, which RFC 5280 §4.2.1.4 forbids"
            ),
            PolicyError::MappingInvolvesAnyPolicy { certificate_index } => write!(
                f,
                "certificate {certificate_index} of the path maps a policy to or from anyPolicy, \
                 which RFC 5280 forbids (§6.1.4 (a))"
            ),
            PolicyError::NoValidPolicy { certificate_index } => write!(
                f,
                "no certificate policy valid for the path remains at certificate \
                 {certificate_index} of the path, but an explicit policy is required \
                 (requireExplicitPolicy or the relying party's settings)"
            ),
            PolicyError::NoAcceptablePolicy { path_policies } => {
                let list: Vec<String> = path_policies.iter().map(|p| p.to_string()).collect();
                write!(
                    f,
                    "the path is valid only for certificate policies {} and none of them is \
                     acceptable to the relying party, but an explicit policy is required \
                     (requireExplicitPolicy or the relying party's settings)",
                    list.join(", ")
                )
            }
            PolicyError::TooComplex { certificate_index } => write!(
                f,
                "the certificate policies and policy mappings up to certificate \
                 {certificate_index} of the path are too many to evaluate (more than \
                 {MAX_POLICY_NODES} policy nodes or {MAX_POLICY_EDGES} links), so the path \
                 is rejected"
            ),
            PolicyError::PathLengthMismatch {
                path_len,
                processed,
            } => write!(
                f,
                "policy processing was given {processed} certificates for a path of \
                 {path_len} (an internal error)"
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

/// The §6.1.5 outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    /// The user-constrained-policy-set (§6.1.5 (g) as RFC 9618 restates it): the
    /// authorities-constrained policies intersected with the user-initial-policy-set, in the
    /// trust anchor's policy domain (before any mapping). `[ANY_POLICY]` alone when the path
    /// is valid for every policy and the user-initial-policy-set is any-policy. Empty when no
    /// policy is valid for the path (RFC 5280's NULL tree). Sorted.
    pub user_constrained_policy_set: Vec<ObjectIdentifier>,
    /// The authorities-constrained policy set (§6.1.5 (g) as RFC 9618 restates it): the policies the path is
    /// valid for, in the trust anchor's policy domain, whatever the relying party asked for.
    /// `[ANY_POLICY]` alone when every policy is. Sorted.
    pub authorities_constrained_policy_set: Vec<ObjectIdentifier>,
    /// explicit_policy's final value is 0: the path had to be valid for a policy of the
    /// user-initial-policy-set, and is. When false the path is valid even if
    /// `user_constrained_policy_set` is empty.
    pub explicit_policy_required: bool,
}

/// One node of the policy graph (a valid_policy_tree node, merged across its copies).
#[derive(Debug, Clone)]
struct Node {
    /// valid_policy; never anyPolicy (the anyPolicy node is [`Level::any_policy`]).
    policy: ObjectIdentifier,
    /// Indices into the previous level's `nodes`. Empty means the single parent is the
    /// previous level's anyPolicy node (a node never has both kinds of parent).
    parents: Vec<u32>,
    /// expected_policy_set when set by a mapping (§6.1.4 (b)(1)); `None` means {policy}.
    mapped_to: Option<Vec<ObjectIdentifier>>,
}

/// The nodes of one depth.
#[derive(Debug, Clone, Default)]
struct Level {
    nodes: Vec<Node>,
    /// valid_policy to index in `nodes`. A node deleted by §6.1.4 (b)(2)(i) leaves this map
    /// only: it stays in `nodes` (the next level's indices point there) but is no longer at
    /// this depth, so it gets no child.
    by_policy: BTreeMap<ObjectIdentifier, u32>,
    /// An anyPolicy node is present (expected_policy_set {anyPolicy}, parent the previous
    /// level's anyPolicy node).
    any_policy: bool,
}

impl Level {
    fn is_empty(&self) -> bool {
        self.by_policy.is_empty() && !self.any_policy
    }

    /// Inverts the expected_policy_sets: each policy OID other than anyPolicy to the nodes
    /// that expect it. (anyPolicy is expected by the anyPolicy node only.)
    fn expected_by(&self) -> BTreeMap<ObjectIdentifier, Vec<u32>> {
        let mut map: BTreeMap<ObjectIdentifier, Vec<u32>> = BTreeMap::new();
        for &ix in self.by_policy.values() {
            let Some(node) = self.nodes.get(ix as usize) else {
                continue;
            };
            match &node.mapped_to {
                None => map.entry(node.policy).or_default().push(ix),
                Some(subjects) => {
                    for s in subjects {
                        map.entry(*s).or_default().push(ix);
                    }
                }
            }
        }
        map
    }
}

/// Counts what the graph has cost so far.
#[derive(Debug, Clone, Default)]
struct Budget {
    nodes: usize,
    edges: usize,
}

impl Budget {
    fn spend(&mut self, nodes: usize, edges: usize, i: usize) -> Result<(), PolicyError> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.edges = self.edges.saturating_add(edges);
        if self.nodes > MAX_POLICY_NODES || self.edges > MAX_POLICY_EDGES {
            return Err(PolicyError::TooComplex {
                certificate_index: i,
            });
        }
        Ok(())
    }
}

fn add_node(
    level: &mut Level,
    budget: &mut Budget,
    i: usize,
    policy: ObjectIdentifier,
    parents: Vec<u32>,
    mapped_to: Option<Vec<ObjectIdentifier>>,
) -> Result<(), PolicyError> {
    budget.spend(1, parents.len(), i)?;
    let ix = u32::try_from(level.nodes.len()).map_err(|_| PolicyError::TooComplex {
        certificate_index: i,
    })?;
    level.nodes.push(Node {
        policy,
        parents,
        mapped_to,
    });
    level.by_policy.insert(policy, ix);
    Ok(())
}

/// The policy state variables of §6.1.2 through one path. Cloning forks the state (for a
/// path builder trying several issuers).
///
/// The trust anchor is not certificate 1: its policy extensions are not processed (RFC 5280
/// §6.1.1 (d) takes only its name and key, and PKITS expects exactly that). A caller that
/// honours anchor constraints (RFC 5937) folds them into [`PolicyInputs`]. Criticality is not
/// checked here: a critical certificatePolicies whose qualifiers the caller cannot interpret
/// is for its unrecognised-critical-extension check (§4.2.1.4).
#[derive(Debug, Clone)]
pub struct PolicyValidator {
    /// user-initial-policy-set, sorted; `None` is any-policy.
    user_policies: Option<BTreeSet<ObjectIdentifier>>,
    /// valid_policy_tree as levels from depth 0; `None` is NULL.
    graph: Option<Vec<Level>>,
    explicit_policy: usize,
    inhibit_any_policy: usize,
    policy_mapping: usize,
    path_len: usize,
    processed: usize,
    budget: Budget,
    /// The first error, returned again by every later call.
    failed: Option<PolicyError>,
}

fn skip_certs(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl PolicyValidator {
    /// §6.1.2 (a), (d), (e), (f) for a path of `path_len` certificates (n; the trust anchor not
    /// counted).
    pub fn new(inputs: &PolicyInputs, path_len: usize) -> Self {
        let start = |inhibit: bool| {
            if inhibit {
                0
            } else {
                path_len.saturating_add(1)
            }
        };
        let user_policies = if inputs.initial_policy_set.is_empty()
            || inputs.initial_policy_set.contains(&ANY_POLICY)
        {
            None
        } else {
            Some(inputs.initial_policy_set.iter().copied().collect())
        };
        PolicyValidator {
            user_policies,
            graph: Some(vec![Level {
                any_policy: true,
                ..Level::default()
            }]),
            explicit_policy: start(inputs.initial_explicit_policy),
            inhibit_any_policy: start(inputs.initial_any_policy_inhibit),
            policy_mapping: start(inputs.initial_policy_mapping_inhibit),
            path_len,
            processed: 0,
            budget: Budget::default(),
            failed: None,
        }
    }

    /// Processes the next certificate, from the one the trust anchor issued (i = 1) to the leaf
    /// (i = n): §6.1.3 (d)–(f); then, unless it is the leaf, §6.1.4 (a)–(b), (h)–(j); for the
    /// leaf, §6.1.5 (a)–(b). `self_issued` is whether its subject and issuer names match
    /// (§6.1, by the rules of §7.1). Returns an error as soon as the path is certain to fail;
    /// after an error every call returns it again.
    pub fn process(
        &mut self,
        ext: &PolicyExtensions,
        self_issued: bool,
    ) -> Result<(), PolicyError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.process_certificate(ext, self_issued);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn process_certificate(
        &mut self,
        ext: &PolicyExtensions,
        self_issued: bool,
    ) -> Result<(), PolicyError> {
        let i = self.processed.saturating_add(1);
        if i > self.path_len {
            return Err(PolicyError::PathLengthMismatch {
                path_len: self.path_len,
                processed: i,
            });
        }
        let is_leaf = i == self.path_len;
        if let Some(policies) = &ext.policies {
            check_policies(&policies.0, i)?;
        }

        // §6.1.3 (d), (e).
        match (&ext.policies, self.graph.as_mut()) {
            (Some(policies), Some(levels)) => {
                // (d)(2): anyPolicy in the certificate counts if inhibit_anyPolicy > 0, or if
                // this is a self-issued CA certificate.
                let honour_any = self.inhibit_any_policy > 0 || (!is_leaf && self_issued);
                let level = next_level(levels, &policies.0, honour_any, &mut self.budget, i)?;
                if level.is_empty() {
                    self.graph = None;
                } else {
                    levels.push(level);
                }
            }
            (None, _) => self.graph = None,
            (Some(_), None) => {}
        }

        // §6.1.3 (f).
        if self.explicit_policy == 0 && self.graph.is_none() {
            return Err(PolicyError::NoValidPolicy {
                certificate_index: i,
            });
        }

        if is_leaf {
            // §6.1.5 (a), (b).
            self.explicit_policy = self.explicit_policy.saturating_sub(1);
            if ext
                .constraints
                .as_ref()
                .is_some_and(|c| c.require_explicit_policy == Some(0))
            {
                self.explicit_policy = 0;
            }
        } else {
            if let Some(mappings) = &ext.mappings {
                // §6.1.4 (a).
                if mappings.0.iter().any(|m| {
                    m.issuer_domain_policy == ANY_POLICY || m.subject_domain_policy == ANY_POLICY
                }) {
                    return Err(PolicyError::MappingInvolvesAnyPolicy {
                        certificate_index: i,
                    });
                }
                // §6.1.4 (b).
                if let Some(levels) = self.graph.as_mut() {
                    self.budget.spend(0, mappings.0.len(), i)?;
                    let now_empty = apply_mappings(
                        levels,
                        mappings,
                        self.policy_mapping > 0,
                        &mut self.budget,
                        i,
                    )?;
                    if now_empty {
                        self.graph = None;
                    }
                }
            }
            // §6.1.4 (h).
            if !self_issued {
                self.explicit_policy = self.explicit_policy.saturating_sub(1);
                self.policy_mapping = self.policy_mapping.saturating_sub(1);
                self.inhibit_any_policy = self.inhibit_any_policy.saturating_sub(1);
            }
            // §6.1.4 (i).
            if let Some(c) = &ext.constraints {
                if let Some(r) = c.require_explicit_policy {
                    self.explicit_policy = self.explicit_policy.min(skip_certs(r));
                }
                if let Some(m) = c.inhibit_policy_mapping {
                    self.policy_mapping = self.policy_mapping.min(skip_certs(m));
                }
            }
            // §6.1.4 (j).
            if let Some(a) = ext.inhibit_any_policy {
                self.inhibit_any_policy = self.inhibit_any_policy.min(skip_certs(a));
            }
        }
        self.processed = i;
        Ok(())
    }

    /// §6.1.5 (g) and the final check of §6.1.5. Call after the leaf.
    pub fn finish(self) -> Result<PolicyOutcome, PolicyError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.processed != self.path_len || self.path_len == 0 {
            return Err(PolicyError::PathLengthMismatch {
                path_len: self.path_len,
                processed: self.processed,
            });
        }
        let (authorities, any_at_leaf) = match &self.graph {
            None => (BTreeSet::new(), false),
            Some(levels) => authorities_constrained(levels),
        };
        // §6.1.5 (g) as RFC 9618 states it: anyPolicy at depth n admits every policy of the
        // user-initial-policy-set; otherwise the intersection.
        let user_constrained: Vec<ObjectIdentifier> = match &self.user_policies {
            None if any_at_leaf => vec![ANY_POLICY],
            None => authorities.iter().copied().collect(),
            Some(user) if any_at_leaf => user.iter().copied().collect(),
            Some(user) => authorities.intersection(user).copied().collect(),
        };
        let authorities: Vec<ObjectIdentifier> = if any_at_leaf {
            vec![ANY_POLICY]
        } else {
            authorities.into_iter().collect()
        };
        if self.explicit_policy == 0 && user_constrained.is_empty() {
            return Err(if authorities.is_empty() {
                PolicyError::NoValidPolicy {
                    certificate_index: self.path_len,
                }
            } else {
                PolicyError::NoAcceptablePolicy {
                    path_policies: authorities,
                }
            });
        }
        Ok(PolicyOutcome {
            user_constrained_policy_set: user_constrained,
            authorities_constrained_policy_set: authorities,
            explicit_policy_required: self.explicit_policy == 0,
        })
    }
}

/// Rejects a certificatePolicies extension that lists a policy twice (§4.2.1.4), and one too
/// large to be worth looking at.
fn check_policies(policies: &[PolicyInformation], i: usize) -> Result<(), PolicyError> {
    if policies.len() > MAX_POLICY_NODES {
        return Err(PolicyError::TooComplex {
            certificate_index: i,
        });
    }
    let mut seen = BTreeSet::new();
    for p in policies {
        if !seen.insert(p.policy_identifier) {
            return Err(PolicyError::DuplicatePolicy {
                certificate_index: i,
                policy: p.policy_identifier,
            });
        }
    }
    Ok(())
}

/// §6.1.3 (d)(1)–(2): the level of depth i, from the certificate's policies and the level of
/// depth i-1. Its pruning step (3) is deferred (see the module documentation).
fn next_level(
    levels: &[Level],
    policies: &[PolicyInformation],
    honour_any: bool,
    budget: &mut Budget,
    i: usize,
) -> Result<Level, PolicyError> {
    let mut level = Level::default();
    let Some(prev) = levels.last() else {
        return Ok(level);
    };
    let expected = prev.expected_by();
    let mut asserts_any = false;
    for p in policies {
        let oid = p.policy_identifier;
        if oid == ANY_POLICY {
            asserts_any = true;
        } else if let Some(parents) = expected.get(&oid) {
            // (d)(1)(i)
            add_node(&mut level, budget, i, oid, parents.clone(), None)?;
        } else if prev.any_policy {
            // (d)(1)(ii)
            add_node(&mut level, budget, i, oid, Vec::new(), None)?;
        }
    }
    if asserts_any && honour_any {
        // (d)(2): every expected policy not yet matched, anyPolicy included.
        for (oid, parents) in &expected {
            if !level.by_policy.contains_key(oid) {
                add_node(&mut level, budget, i, *oid, parents.clone(), None)?;
            }
        }
        level.any_policy = prev.any_policy;
    }
    Ok(level)
}

/// §6.1.4 (b) on the level of depth i. Returns whether the graph became NULL.
fn apply_mappings(
    levels: &mut [Level],
    mappings: &PolicyMappings,
    mapping_allowed: bool,
    budget: &mut Budget,
    i: usize,
) -> Result<bool, PolicyError> {
    let Some(level) = levels.last_mut() else {
        return Ok(true);
    };
    let mut by_issuer: BTreeMap<ObjectIdentifier, BTreeSet<ObjectIdentifier>> = BTreeMap::new();
    for m in &mappings.0 {
        by_issuer
            .entry(m.issuer_domain_policy)
            .or_default()
            .insert(m.subject_domain_policy);
    }
    for (issuer_policy, subjects) in by_issuer {
        let existing = level.by_policy.get(&issuer_policy).copied();
        if mapping_allowed {
            // (b)(1)
            let subjects: Vec<ObjectIdentifier> = subjects.into_iter().collect();
            match existing {
                Some(ix) => {
                    if let Some(node) = level.nodes.get_mut(ix as usize) {
                        node.mapped_to = Some(subjects);
                    }
                }
                None if level.any_policy => {
                    // A child of the anyPolicy node of depth i-1.
                    add_node(level, budget, i, issuer_policy, Vec::new(), Some(subjects))?;
                }
                None => {}
            }
        } else {
            // (b)(2)(i); (ii) is deferred.
            level.by_policy.remove(&issuer_policy);
        }
    }
    Ok(level.is_empty())
}

/// The policies of the nodes, reachable from depth n, whose parent is an anyPolicy node
/// (RFC 9618's valid_policy_node_set less anyPolicy), and whether depth n has an anyPolicy
/// node.
fn authorities_constrained(levels: &[Level]) -> (BTreeSet<ObjectIdentifier>, bool) {
    let mut roots = BTreeSet::new();
    let Some(last) = levels.last() else {
        return (roots, false);
    };
    let mut reachable = vec![false; last.nodes.len()];
    for &ix in last.by_policy.values() {
        if let Some(r) = reachable.get_mut(ix as usize) {
            *r = true;
        }
    }
    for pair in levels.windows(2).rev() {
        let [above, level] = pair else {
            continue;
        };
        let mut reachable_above = vec![false; above.nodes.len()];
        for (node, _) in level.nodes.iter().zip(&reachable).filter(|(_, r)| **r) {
            if node.parents.is_empty() {
                roots.insert(node.policy);
            }
            for &p in &node.parents {
                if let Some(r) = reachable_above.get_mut(p as usize) {
                    *r = true;
                }
            }
        }
        reachable = reachable_above;
    }
    (roots, last.any_policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_cert::ext::pkix::PolicyMapping;

    fn p(n: u32) -> ObjectIdentifier {
        ObjectIdentifier::new(&format!("1.3.6.1.4.1.55555.1.{n}")).unwrap()
    }

    /// A certificate asserting `policies` and nothing else.
    fn cert(policies: &[ObjectIdentifier]) -> PolicyExtensions {
        PolicyExtensions {
            policies: Some(CertificatePolicies(
                policies
                    .iter()
                    .map(|&policy_identifier| PolicyInformation {
                        policy_identifier,
                        policy_qualifiers: None,
                    })
                    .collect(),
            )),
            ..PolicyExtensions::default()
        }
    }

    fn no_policies() -> PolicyExtensions {
        PolicyExtensions::default()
    }

    fn maps(
        mut e: PolicyExtensions,
        pairs: &[(ObjectIdentifier, ObjectIdentifier)],
    ) -> PolicyExtensions {
        e.mappings = Some(PolicyMappings(
            pairs
                .iter()
                .map(
                    |&(issuer_domain_policy, subject_domain_policy)| PolicyMapping {
                        issuer_domain_policy,
                        subject_domain_policy,
                    },
                )
                .collect(),
        ));
        e
    }

    fn constrained(
        mut e: PolicyExtensions,
        require_explicit_policy: Option<u32>,
        inhibit_policy_mapping: Option<u32>,
    ) -> PolicyExtensions {
        e.constraints = Some(PolicyConstraints {
            require_explicit_policy,
            inhibit_policy_mapping,
        });
        e
    }

    fn inhibit_any(mut e: PolicyExtensions, skip: u32) -> PolicyExtensions {
        e.inhibit_any_policy = Some(skip);
        e
    }

    fn anyone() -> PolicyInputs {
        PolicyInputs::default()
    }

    /// Requires one of `set` (empty: any policy).
    fn requiring(set: &[ObjectIdentifier]) -> PolicyInputs {
        PolicyInputs {
            initial_policy_set: set.to_vec(),
            initial_explicit_policy: true,
            ..PolicyInputs::default()
        }
    }

    /// Certificates from the one the anchor issued to the leaf; `true` marks self-issued ones.
    fn run(
        inputs: &PolicyInputs,
        path: &[(PolicyExtensions, bool)],
    ) -> Result<PolicyOutcome, PolicyError> {
        let mut v = PolicyValidator::new(inputs, path.len());
        for (ext, self_issued) in path {
            v.process(ext, *self_issued)?;
        }
        v.finish()
    }

    fn plain(certs: Vec<PolicyExtensions>) -> Vec<(PolicyExtensions, bool)> {
        certs.into_iter().map(|c| (c, false)).collect()
    }

    fn user_set(r: Result<PolicyOutcome, PolicyError>) -> Vec<ObjectIdentifier> {
        r.unwrap().user_constrained_policy_set
    }

    fn no_valid_policy(certificate_index: usize) -> Result<PolicyOutcome, PolicyError> {
        Err(PolicyError::NoValidPolicy { certificate_index })
    }

    #[test]
    fn any_policy_everywhere() {
        let path = plain(vec![
            cert(&[ANY_POLICY]),
            cert(&[ANY_POLICY]),
            cert(&[ANY_POLICY]),
        ]);
        assert_eq!(
            run(&anyone(), &path),
            Ok(PolicyOutcome {
                user_constrained_policy_set: vec![ANY_POLICY],
                authorities_constrained_policy_set: vec![ANY_POLICY],
                explicit_policy_required: false,
            })
        );
        let out = run(&requiring(&[p(2), p(1)]), &path).unwrap();
        assert_eq!(out.user_constrained_policy_set, vec![p(1), p(2)]);
        assert_eq!(out.authorities_constrained_policy_set, vec![ANY_POLICY]);
        assert!(out.explicit_policy_required);

        // initial-any-policy-inhibit: the certificates' anyPolicy no longer counts...
        let inhibited = PolicyInputs {
            initial_any_policy_inhibit: true,
            ..requiring(&[])
        };
        assert_eq!(run(&inhibited, &path), no_valid_policy(1));
        // ...except in a self-issued CA certificate (§6.1.3 (d)(2)), but not the leaf.
        let mut path = path;
        path[0].1 = true;
        assert_eq!(run(&inhibited, &path), no_valid_policy(2));
    }

    #[test]
    fn no_policies_pass_unless_required() {
        let path = plain(vec![no_policies(), no_policies()]);
        let out = run(&anyone(), &path).unwrap();
        assert!(out.user_constrained_policy_set.is_empty());
        assert!(!out.explicit_policy_required);
        assert_eq!(run(&requiring(&[]), &path), no_valid_policy(1));
        // A leaf without policies under a CA with policies.
        let path = plain(vec![cert(&[p(1)]), no_policies()]);
        assert_eq!(run(&requiring(&[]), &path), no_valid_policy(2));
    }

    #[test]
    fn same_policy_and_user_set_intersection() {
        let path = plain(vec![cert(&[p(1), p(2), p(3)]), cert(&[p(1), p(2)])]);
        let out = run(&requiring(&[p(2), p(4)]), &path).unwrap();
        assert_eq!(out.user_constrained_policy_set, vec![p(2)]);
        assert_eq!(out.authorities_constrained_policy_set, vec![p(1), p(2)]);
        assert_eq!(
            run(&requiring(&[p(3), p(4)]), &path),
            Err(PolicyError::NoAcceptablePolicy {
                path_policies: vec![p(1), p(2)]
            })
        );
        // Not required: the path stays valid with an empty user-constrained set.
        let lax = PolicyInputs {
            initial_explicit_policy: false,
            ..requiring(&[p(3)])
        };
        let out = run(&lax, &path).unwrap();
        assert!(out.user_constrained_policy_set.is_empty());
        assert_eq!(out.authorities_constrained_policy_set, vec![p(1), p(2)]);
        // A user set holding anyPolicy is any-policy.
        assert_eq!(
            user_set(run(&requiring(&[p(9), ANY_POLICY]), &path)),
            vec![p(1), p(2)]
        );
        // anyPolicy valid down to the leaf admits every policy the user asks for.
        let path = plain(vec![cert(&[ANY_POLICY]), cert(&[ANY_POLICY, p(1)])]);
        assert_eq!(
            user_set(run(&requiring(&[p(4), p(2)]), &path)),
            vec![p(2), p(4)]
        );
        // A policy under anyPolicy, then anyPolicy: the set is in the anchor's domain.
        let path = plain(vec![cert(&[p(1)]), cert(&[ANY_POLICY])]);
        assert_eq!(user_set(run(&anyone(), &path)), vec![p(1)]);
        assert_eq!(
            run(&requiring(&[p(2)]), &path).map(|_| ()),
            Err(PolicyError::NoAcceptablePolicy {
                path_policies: vec![p(1)]
            })
        );
    }

    #[test]
    fn mapping_chain_reports_the_anchor_domain() {
        let path = plain(vec![
            maps(cert(&[p(1)]), &[(p(1), p(2))]),
            maps(cert(&[p(2)]), &[(p(2), p(3))]),
            cert(&[p(3)]),
        ]);
        assert_eq!(user_set(run(&anyone(), &path)), vec![p(1)]);
        assert_eq!(user_set(run(&requiring(&[p(1)]), &path)), vec![p(1)]);
        assert_eq!(
            run(&requiring(&[p(3)]), &path),
            Err(PolicyError::NoAcceptablePolicy {
                path_policies: vec![p(1)]
            })
        );
        // Mapping inhibited from the start: certificate 1's mapped policy is deleted
        // (§6.1.4 (b)(2)), nothing remains for certificate 2.
        let inhibited = PolicyInputs {
            initial_policy_mapping_inhibit: true,
            ..requiring(&[])
        };
        assert_eq!(run(&inhibited, &path), no_valid_policy(2));
        // The mapped policy is deleted, not left unmapped...
        let path = plain(vec![maps(cert(&[p(1)]), &[(p(1), p(2))]), cert(&[p(1)])]);
        assert_eq!(run(&inhibited, &path), no_valid_policy(2));
        assert_eq!(run(&requiring(&[]), &path), no_valid_policy(2));
        // ...but anyPolicy still covers it.
        let path = plain(vec![
            maps(cert(&[ANY_POLICY, p(1)]), &[(p(1), p(2))]),
            cert(&[p(1)]),
        ]);
        assert_eq!(user_set(run(&inhibited, &path)), vec![p(1)]);
        // Only the mapped policy is deleted.
        let path = plain(vec![
            maps(cert(&[p(1), p(2)]), &[(p(1), p(3))]),
            cert(&[p(2), p(3)]),
        ]);
        assert_eq!(user_set(run(&inhibited, &path)), vec![p(2)]);
        assert_eq!(user_set(run(&requiring(&[]), &path)), vec![p(1), p(2)]);
    }

    #[test]
    fn the_rfc_9618_example_graph() {
        // RFC 9618 §3: the intermediate asserts OID1, OID2, OID5 and maps OID1 to OID3 and
        // OID4; the leaf asserts OID2, OID3, OID6. OID5 is pruned, OID6 matches nothing.
        let path = plain(vec![
            maps(cert(&[p(1), p(2), p(5)]), &[(p(1), p(3)), (p(1), p(4))]),
            cert(&[p(2), p(3), p(6)]),
        ]);
        let out = run(&anyone(), &path).unwrap();
        assert_eq!(out.user_constrained_policy_set, vec![p(1), p(2)]);
        assert_eq!(user_set(run(&requiring(&[p(5), p(1)]), &path)), vec![p(1)]);
    }

    #[test]
    fn mapping_under_any_policy() {
        // §6.1.4 (b)(1): a mapped policy the certificate covers only by anyPolicy.
        let ca = maps(cert(&[ANY_POLICY]), &[(p(1), p(2)), (p(1), p(3))]);
        let to = |leaf: &[ObjectIdentifier]| {
            user_set(run(&anyone(), &plain(vec![ca.clone(), cert(leaf)])))
        };
        assert_eq!(to(&[p(3)]), vec![p(1)]);
        assert_eq!(to(&[p(2), p(3)]), vec![p(1)]);
        // p(1) itself is expected by nobody now, but anyPolicy still admits it.
        assert_eq!(to(&[p(1)]), vec![p(1)]);
        assert_eq!(to(&[p(4)]), vec![p(4)]);

        // With mapping inhibited nothing is mapped, and the anyPolicy node survives.
        let inhibited = PolicyInputs {
            initial_policy_mapping_inhibit: true,
            ..anyone()
        };
        let path = plain(vec![cert(&[ANY_POLICY]), ca, cert(&[p(2)])]);
        assert_eq!(user_set(run(&inhibited, &path)), vec![p(2)]);
        assert_eq!(user_set(run(&anyone(), &path)), vec![p(1)]);
    }

    #[test]
    fn require_explicit_policy_skip_counts() {
        let path = |k: u32, ca2_self_issued: bool| {
            vec![
                (constrained(cert(&[p(1)]), Some(k), None), false),
                (no_policies(), ca2_self_issued),
                (no_policies(), false),
                (no_policies(), false),
            ]
        };
        assert_eq!(run(&anyone(), &path(0, false)), no_valid_policy(2));
        assert_eq!(run(&anyone(), &path(1, false)), no_valid_policy(3));
        assert_eq!(run(&anyone(), &path(2, false)), no_valid_policy(4));
        // explicit_policy reaches 0 only at the leaf (§6.1.5 (a)).
        assert_eq!(run(&anyone(), &path(3, false)), no_valid_policy(4));
        let out = run(&anyone(), &path(4, false)).unwrap();
        assert!(!out.explicit_policy_required);
        // A self-issued certificate does not count (§6.1.4 (h)).
        assert_eq!(run(&anyone(), &path(2, true)), no_valid_policy(4));
        assert!(run(&anyone(), &path(3, true)).is_ok());

        // With a policy throughout, requireExplicitPolicy is satisfied.
        let path = plain(vec![
            constrained(cert(&[p(1)]), Some(0), None),
            cert(&[p(1)]),
        ]);
        let out = run(&anyone(), &path).unwrap();
        assert!(out.explicit_policy_required);
        assert_eq!(out.user_constrained_policy_set, vec![p(1)]);
        assert_eq!(
            run(&requiring(&[p(2)]), &path),
            Err(PolicyError::NoAcceptablePolicy {
                path_policies: vec![p(1)]
            })
        );

        // In the leaf only requireExplicitPolicy 0 counts (§6.1.5 (b)).
        let leaf = |k: u32| {
            plain(vec![
                no_policies(),
                constrained(no_policies(), Some(k), None),
            ])
        };
        assert_eq!(run(&anyone(), &leaf(0)), no_valid_policy(2));
        assert!(run(&anyone(), &leaf(1)).is_ok());
        // The smaller value wins (§6.1.4 (i)).
        let path = plain(vec![
            constrained(no_policies(), Some(1), None),
            constrained(no_policies(), Some(5), None),
            no_policies(),
        ]);
        assert_eq!(run(&anyone(), &path), no_valid_policy(3));
    }

    #[test]
    fn inhibit_policy_mapping() {
        let path = |skip: u32, middle_self_issued: bool| {
            vec![
                (constrained(cert(&[p(1)]), None, Some(skip)), false),
                (cert(&[p(1)]), middle_self_issued),
                (maps(cert(&[p(1)]), &[(p(1), p(2))]), false),
                (cert(&[p(2)]), false),
            ]
        };
        assert_eq!(run(&requiring(&[]), &path(1, false)), no_valid_policy(4));
        assert_eq!(user_set(run(&requiring(&[]), &path(2, false))), vec![p(1)]);
        // The self-issued certificate does not count.
        assert_eq!(user_set(run(&requiring(&[]), &path(1, true))), vec![p(1)]);
        // Not required: the path is valid, for no policy.
        assert_eq!(user_set(run(&anyone(), &path(1, false))), vec![]);
        // inhibitPolicyMapping in the leaf means nothing.
        let path = plain(vec![
            maps(cert(&[p(1)]), &[(p(1), p(2))]),
            constrained(cert(&[p(2)]), None, Some(0)),
        ]);
        assert_eq!(user_set(run(&requiring(&[]), &path)), vec![p(1)]);
    }

    #[test]
    fn inhibit_any_policy_with_self_issued_intermediates() {
        let path = |skip: u32, leaf: PolicyExtensions, leaf_self_issued: bool| {
            vec![
                (inhibit_any(cert(&[p(1)]), skip), false),
                (cert(&[ANY_POLICY]), true),
                (cert(&[ANY_POLICY]), false),
                (leaf, leaf_self_issued),
            ]
        };
        let req = requiring(&[]);
        // skip 0: the self-issued CA's anyPolicy counts, the next CA's does not.
        assert_eq!(
            run(&req, &path(0, cert(&[p(1)]), false)),
            no_valid_policy(3)
        );
        // skip 1: the self-issued CA does not use it up; the next CA does.
        assert_eq!(
            user_set(run(&req, &path(1, cert(&[p(1)]), false))),
            vec![p(1)]
        );
        assert_eq!(
            run(&req, &path(1, cert(&[ANY_POLICY]), false)),
            no_valid_policy(4)
        );
        // A self-issued leaf gets no exception.
        assert_eq!(
            run(&req, &path(1, cert(&[ANY_POLICY]), true)),
            no_valid_policy(4)
        );
        assert_eq!(
            user_set(run(&req, &path(2, cert(&[ANY_POLICY]), false))),
            vec![p(1)]
        );
    }

    #[test]
    fn mapping_to_or_from_any_policy_is_rejected() {
        let from_any = plain(vec![
            maps(cert(&[p(1)]), &[(ANY_POLICY, p(1))]),
            cert(&[p(1)]),
        ]);
        let refused = PolicyError::MappingInvolvesAnyPolicy {
            certificate_index: 1,
        };
        assert_eq!(run(&anyone(), &from_any), Err(refused.clone()));
        let to_any = plain(vec![
            no_policies(),
            maps(cert(&[p(1)]), &[(p(1), p(2)), (p(1), ANY_POLICY)]),
            no_policies(),
        ]);
        // Even where the tree is already NULL.
        assert_eq!(
            run(&anyone(), &to_any),
            Err(PolicyError::MappingInvolvesAnyPolicy {
                certificate_index: 2
            })
        );
        // The leaf's mappings are not processed (§6.1.5 has no such step).
        let leaf = plain(vec![
            cert(&[p(1)]),
            maps(cert(&[p(1)]), &[(p(1), ANY_POLICY)]),
        ]);
        assert_eq!(user_set(run(&anyone(), &leaf)), vec![p(1)]);

        // The error sticks.
        let mut v = PolicyValidator::new(&anyone(), 2);
        assert_eq!(v.process(&from_any[0].0, false), Err(refused.clone()));
        assert_eq!(v.process(&cert(&[p(1)]), false), Err(refused.clone()));
        assert_eq!(v.finish(), Err(refused));
    }

    #[test]
    fn duplicate_policy_is_rejected() {
        let path = plain(vec![cert(&[p(1), p(2), p(1)]), cert(&[p(1)])]);
        assert_eq!(
            run(&anyone(), &path),
            Err(PolicyError::DuplicatePolicy {
                certificate_index: 1,
                policy: p(1)
            })
        );
    }

    #[test]
    fn policy_explosion_stays_linear() {
        // 5 CAs asserting 50 policies, each mapped to all 50: the RFC 5280 tree would have
        // 50^5 leaves, the graph has 50 nodes a level.
        let policies: Vec<ObjectIdentifier> = (0..50).map(p).collect();
        let pairs: Vec<_> = policies
            .iter()
            .flat_map(|&a| policies.iter().map(move |&b| (a, b)))
            .collect();
        let ca = maps(cert(&policies), &pairs);
        let mut v = PolicyValidator::new(&anyone(), 6);
        for _ in 0..5 {
            v.process(&ca, false).unwrap();
        }
        v.process(&cert(&[p(7)]), false).unwrap();
        assert!(v.budget.nodes <= 5 * 50 + 1, "{} nodes", v.budget.nodes);
        let out = v.finish().unwrap();
        assert_eq!(out.user_constrained_policy_set, policies);
        // The same through user-initial-policy-set filtering.
        let mut v = PolicyValidator::new(&requiring(&[p(3), p(99)]), 6);
        for _ in 0..5 {
            v.process(&ca, false).unwrap();
        }
        v.process(&cert(&[p(7)]), false).unwrap();
        assert_eq!(v.finish().unwrap().user_constrained_policy_set, vec![p(3)]);
    }

    #[test]
    fn oversized_policy_graphs_are_too_complex() {
        let many: Vec<ObjectIdentifier> = (0..3000).map(p).collect();
        let path = plain(vec![cert(&many), cert(&many), cert(&[p(1)])]);
        assert_eq!(
            run(&anyone(), &path),
            Err(PolicyError::TooComplex {
                certificate_index: 2
            })
        );
        let many: Vec<ObjectIdentifier> = (0..300).map(p).collect();
        let pairs: Vec<_> = many
            .iter()
            .flat_map(|&a| many.iter().map(move |&b| (a, b)))
            .collect();
        let path = plain(vec![maps(cert(&many), &pairs), cert(&[p(1)])]);
        assert_eq!(
            run(&anyone(), &path),
            Err(PolicyError::TooComplex {
                certificate_index: 1
            })
        );
    }

    #[test]
    fn calls_must_match_the_path_length() {
        let mut v = PolicyValidator::new(&anyone(), 2);
        v.process(&cert(&[p(1)]), false).unwrap();
        assert_eq!(
            v.clone().finish(),
            Err(PolicyError::PathLengthMismatch {
                path_len: 2,
                processed: 1
            })
        );
        v.process(&cert(&[p(1)]), false).unwrap();
        assert_eq!(
            v.process(&cert(&[p(1)]), false),
            Err(PolicyError::PathLengthMismatch {
                path_len: 2,
                processed: 3
            })
        );
        assert!(PolicyValidator::new(&anyone(), 0).finish().is_err());
    }

    #[test]
    fn errors_read_as_sentences() {
        let e = PolicyError::NoValidPolicy {
            certificate_index: 3,
        };
        assert_eq!(
            e.to_string(),
            "no certificate policy valid for the path remains at certificate 3 of the path, but \
             an explicit policy is required (requireExplicitPolicy or the relying party's settings)"
        );
        let e = PolicyError::NoAcceptablePolicy {
            path_policies: vec![p(1), p(2)],
        };
        assert!(
            e.to_string()
                .contains("1.3.6.1.4.1.55555.1.1, 1.3.6.1.4.1.55555.1.2 and none")
        );
    }

    mod decoding {
        use super::*;
        use crate::issue::{CertificateTemplate, sign_certificate};
        use cachet_crypto::{KeyType, PrivateKey};
        use der::Encode;
        use der::asn1::OctetString;
        use x509_cert::ext::Extension;

        fn ext(oid: ObjectIdentifier, value: Vec<u8>) -> Extension {
            Extension {
                extn_id: oid,
                critical: true,
                extn_value: OctetString::new(value).unwrap(),
            }
        }

        fn certificate(extensions: Vec<Extension>) -> ParsedCertificate {
            let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
            let name = crate::name::NameBuilder::new()
                .common_name("Policy CA")
                .unwrap()
                .to_der()
                .unwrap();
            let t = CertificateTemplate {
                serial: vec![1],
                subject_der: name.clone(),
                spki_der: key.public_key_der().to_vec(),
                not_before: 1_700_000_000,
                not_after: 1_800_000_000,
                extensions,
            };
            ParsedCertificate::from_der(&sign_certificate(&t, &name, &key).unwrap()).unwrap()
        }

        #[test]
        fn decodes_the_four_extensions() {
            let all = cert(&[p(1), ANY_POLICY]);
            let all = maps(all, &[(p(1), p(2))]);
            let all = inhibit_any(constrained(all, Some(2), None), 1);
            let c = certificate(vec![
                ext(
                    oids::ID_CE_CERTIFICATE_POLICIES,
                    all.policies.to_der().unwrap(),
                ),
                ext(oids::ID_CE_POLICY_MAPPINGS, all.mappings.to_der().unwrap()),
                ext(
                    oids::ID_CE_POLICY_CONSTRAINTS,
                    all.constraints.to_der().unwrap(),
                ),
                ext(oids::ID_CE_INHIBIT_ANY_POLICY, 1u32.to_der().unwrap()),
            ]);
            let got = PolicyExtensions::from_certificate(&c).unwrap();
            assert_eq!(got.policies, all.policies);
            assert_eq!(got.mappings, all.mappings);
            assert_eq!(got.constraints, all.constraints);
            assert_eq!(got.inhibit_any_policy, Some(1));

            let none = PolicyExtensions::from_certificate(&certificate(vec![])).unwrap();
            assert!(none.policies.is_none() && none.mappings.is_none());
            assert!(none.constraints.is_none() && none.inhibit_any_policy.is_none());
        }

        #[test]
        fn refuses_duplicate_undecodable_or_empty_extensions() {
            let refused = |extensions: Vec<Extension>| match PolicyExtensions::from_certificate(
                &certificate(extensions),
            ) {
                Err(PolicyError::Malformed { extension, .. }) => extension,
                other => panic!("accepted: {other:?}"),
            };
            let pc = constrained(no_policies(), Some(0), None)
                .constraints
                .to_der()
                .unwrap();
            assert_eq!(
                refused(vec![
                    ext(oids::ID_CE_POLICY_CONSTRAINTS, pc.clone()),
                    ext(oids::ID_CE_POLICY_CONSTRAINTS, pc),
                ]),
                "policyConstraints"
            );
            assert_eq!(
                refused(vec![ext(
                    oids::ID_CE_CERTIFICATE_POLICIES,
                    vec![0x04, 0x00]
                )]),
                "certificatePolicies"
            );
            assert_eq!(
                refused(vec![ext(
                    oids::ID_CE_CERTIFICATE_POLICIES,
                    vec![0x30, 0x00]
                )]),
                "certificatePolicies"
            );
            assert_eq!(
                refused(vec![ext(oids::ID_CE_POLICY_MAPPINGS, vec![0x30, 0x00])]),
                "policyMappings"
            );
            assert_eq!(
                refused(vec![ext(oids::ID_CE_POLICY_CONSTRAINTS, vec![0x30, 0x00])]),
                "policyConstraints"
            );
            assert_eq!(
                refused(vec![ext(
                    oids::ID_CE_INHIBIT_ANY_POLICY,
                    vec![0x02, 0x01, 0xff]
                )]),
                "inhibitAnyPolicy"
            );
        }
    }
}
