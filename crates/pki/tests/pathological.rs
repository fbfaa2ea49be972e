//! Pathological input for path validation (issue 4, acceptance: "Pathological input — loops
//! of cross-certificates, hundreds of candidate intermediates, 100-deep chains, enormous
//! name-constraint sets — ends within a stated bound with a clear verdict").
//!
//! Each test builds a hostile bag of certificates (ECDSA P-256, so that building the bag is
//! quick), validates, and asserts both the verdict (the finding code) and that the work
//! stayed within the bounds of `cachet_pki::validate`, read from
//! [`Validation::paths_tried`] and [`Validation::signature_checks`]. The bounds, from
//! `crates/pki/src/validate/`:
//!
//! - build.rs `MAX_PATHS` = 64 complete candidate paths per validation, CRL signers' paths
//!   included;
//! - build.rs `MAX_SIGNATURE_CHECKS` = 1024 certificate and CRL signature checks per
//!   validation (the search stops when the count reaches it; processing the path being
//!   examined then may add at most one check per certificate of that path:
//!   `SIGNATURE_CHECK_BOUND` below);
//! - build.rs `MAX_EXPANSIONS` = 4096 candidate issuers expanded per validation;
//! - mod.rs [`DEFAULT_MAX_DEPTH`] = 16 certificates below the anchor, leaf included;
//! - build.rs `MAX_RECURSION` = 2 nested path searches for CRL signers, which draw on the
//!   same budget as the validation that needs them (paths, signature checks, expansions);
//! - names.rs [`MAX_SUBTREES`] = 16,384 subtrees per path and [`MAX_NAME_COMPARISONS`] =
//!   1,048,576 name–subtree comparisons per certificate;
//! - policy.rs [`MAX_POLICY_NODES`] = 4,096 and [`MAX_POLICY_EDGES`] = 65,536 per path;
//! - cert.rs [`MAX_CERTIFICATE_LEN`] = 64 KiB per certificate.
//!
//! No test asserts on wall-clock time (the project forbids timing assertions); each prints
//! how long its validation took (`cargo test -p cachet-pki --test pathological --
//! --nocapture`).

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::cert::MAX_CERTIFICATE_LEN;
use cachet_pki::crl::{CrlRequest, ParsedCrl, build_crl};
use cachet_pki::issue::{CertificateTemplate, sign_certificate};
use cachet_pki::validate::names::{MAX_NAME_COMPARISONS, MAX_SUBTREES};
use cachet_pki::validate::policy::{MAX_POLICY_EDGES, MAX_POLICY_NODES};
use cachet_pki::validate::{
    DEFAULT_MAX_DEPTH, Material, Purpose, RevocationPolicy, TrustAnchor, Validation,
    ValidationOptions, validate,
};
use cachet_pki::verdict::{Code, Severity};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280 as oids;
use der::Encode;
use der::asn1::{Ia5String, OctetString};
use std::cell::Cell;
use std::time::Instant;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{KeyUsages, NameConstraints, PolicyMapping, PolicyMappings};

/// build.rs `MAX_PATHS`.
const MAX_PATHS: usize = 64;
/// build.rs `MAX_SIGNATURE_CHECKS`.
const MAX_SIGNATURE_CHECKS: usize = 1024;
/// The most signature checks one validation makes: the searches stop when the count
/// reaches `MAX_SIGNATURE_CHECKS`, CRL signatures are checked only below it, and only the
/// processing of the path under examination at that moment may check each of its
/// certificates (at most twice `max_depth`, plus the anchor's) once more.
const SIGNATURE_CHECK_BOUND: usize = MAX_SIGNATURE_CHECKS + 2 * DEFAULT_MAX_DEPTH + 1;

/// The time of checking; every certificate is valid from 1_700_000_000 to 1_800_000_000.
const AT: u64 = 1_750_000_000;

/// A key and the DER name it certifies under.
struct Party {
    key: PrivateKey,
    name: Vec<u8>,
}

fn name(cn: &str) -> Vec<u8> {
    cachet_pki::name::NameBuilder::new()
        .common_name(cn)
        .unwrap()
        .to_der()
        .unwrap()
}

fn party(cn: &str) -> Party {
    Party {
        key: PrivateKey::generate(KeyType::EcdsaP256).unwrap(),
        name: name(cn),
    }
}

/// Another key under the same name (a re-keyed or look-alike CA).
fn rekey(p: &Party) -> Party {
    Party {
        key: PrivateKey::generate(KeyType::EcdsaP256).unwrap(),
        name: p.name.clone(),
    }
}

fn key_id(p: &Party) -> [u8; 20] {
    cachet_pki::ext::key_identifier(p.key.public_key_der()).unwrap()
}

thread_local! {
    static SERIAL: Cell<u32> = const { Cell::new(1) };
}

/// `subject` certified by `issuer`, with the key identifiers RFC 5280 §4.2.1.1–§4.2.1.2
/// require (SKI always, AKI whenever the keys differ) and distinct serial numbers.
fn issue(subject: &Party, issuer: &Party, extensions: Vec<Extension>) -> ParsedCertificate {
    issue_with_ski(subject, issuer, &key_id(subject), extensions)
}

/// As [`issue`], with `ski` as the subjectKeyIdentifier (a look-alike may claim the real
/// CA's key identifier).
fn issue_with_ski(
    subject: &Party,
    issuer: &Party,
    ski: &[u8],
    mut extensions: Vec<Extension>,
) -> ParsedCertificate {
    extensions.push(cachet_pki::ext::subject_key_identifier(ski).unwrap());
    if subject.key.public_key_der() != issuer.key.public_key_der() {
        extensions.push(cachet_pki::ext::authority_key_identifier(&key_id(issuer)).unwrap());
    }
    let serial = SERIAL.with(|s| {
        let n = s.get();
        s.set(n + 1);
        n
    });
    let t = CertificateTemplate {
        serial: serial
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect(),
        subject_der: subject.name.clone(),
        spki_der: subject.key.public_key_der().to_vec(),
        not_before: 1_700_000_000,
        not_after: 1_800_000_000,
        extensions,
    };
    ParsedCertificate::from_der(&sign_certificate(&t, &issuer.name, &issuer.key).unwrap()).unwrap()
}

fn ca() -> Vec<Extension> {
    vec![
        cachet_pki::ext::basic_constraints(true, None).unwrap(),
        cachet_pki::ext::key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign).unwrap(),
    ]
}

fn root(p: &Party) -> ParsedCertificate {
    issue(p, p, ca())
}

fn raw(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Extension {
    Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value).unwrap(),
    }
}

fn options(revocation: RevocationPolicy) -> ValidationOptions {
    let mut opts = ValidationOptions::new(AT, Purpose::Any);
    opts.revocation = revocation;
    opts
}

/// Validates and prints what it cost.
fn run(
    what: &str,
    leaf: &ParsedCertificate,
    anchors: &[ParsedCertificate],
    intermediates: &[ParsedCertificate],
    crls: &[ParsedCrl],
    opts: &ValidationOptions,
) -> Validation {
    let anchors: Vec<TrustAnchor> = anchors.iter().cloned().map(TrustAnchor::new).collect();
    let material = Material {
        anchors: &anchors,
        intermediates,
        crls,
        ..Material::default()
    };
    let start = Instant::now();
    let v = validate(leaf, &material, opts);
    println!(
        "{what}: {} intermediates → {} (paths tried {}, signature checks {}) in {:?}",
        intermediates.len(),
        describe(&v),
        v.paths_tried,
        v.signature_checks,
        start.elapsed()
    );
    for f in &v.verdict.findings {
        println!("    {:?} {}: {}", f.severity, f.code.as_str(), f.message);
    }
    assert!(
        v.paths_tried <= MAX_PATHS,
        "{what}: {} paths",
        v.paths_tried
    );
    assert!(
        v.signature_checks <= SIGNATURE_CHECK_BOUND,
        "{what}: {} signature checks",
        v.signature_checks
    );
    v
}

fn describe(v: &Validation) -> String {
    if v.is_valid() {
        "valid".into()
    } else {
        errors(v)
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn errors(v: &Validation) -> Vec<Code> {
    v.verdict
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code)
        .collect()
}

/// Whether the verdict says path building was cut short by its budget.
fn stopped(v: &Validation) -> bool {
    v.verdict
        .findings
        .iter()
        .any(|f| f.code == Code::PathTooLong && f.message.contains("path building stopped"))
}

/// A web of cross-certificates among `names` names with `keys` keys each: every key of
/// every name certified by every key of the names `neighbours` gives for it, and by the
/// other keys of its own name (self-issued rollover certificates, both ways).
fn cross_web(
    names: &[&str],
    keys: usize,
    neighbours: impl Fn(usize) -> Vec<usize>,
) -> (Vec<Vec<Party>>, Vec<ParsedCertificate>) {
    let parties: Vec<Vec<Party>> = names
        .iter()
        .map(|n| {
            let first = party(n);
            let mut v: Vec<Party> = (1..keys).map(|_| rekey(&first)).collect();
            v.insert(0, first);
            v
        })
        .collect();
    let mut certs = Vec::new();
    for (i, subjects) in parties.iter().enumerate() {
        for s in subjects {
            for j in neighbours(i) {
                for issuer in &parties[j] {
                    certs.push(issue(s, issuer, ca()));
                }
            }
            for issuer in subjects {
                if issuer.key.public_key_der() != s.key.public_key_der() {
                    certs.push(issue(s, issuer, ca()));
                }
            }
        }
    }
    (parties, certs)
}

/// A loop of cross-certificates — A, B, C, D, E, F each certified by every other, three
/// keys per name, plus key-rollover certificates within each name: 306 certificates — with
/// the leaf under A and a trust anchor that nothing in the bag chains to.
///
/// Bound: the search stops after `MAX_SIGNATURE_CHECKS` (1024) signature checks or
/// `MAX_EXPANSIONS` (4096) candidates, whichever comes first; no complete path exists, so
/// `paths_tried` is 0. Verdict: `missing-intermediate` (the trusted root's name is never
/// reached), with "path building stopped" when the budget ran out first. A variant where
/// one name of the loop is certified by an untrusted self-signed root gives
/// `untrusted-root`.
#[test]
fn a_loop_of_cross_certificates_without_the_anchor_ends() {
    let names = ["A", "B", "C", "D", "E", "F"];
    let (parties, mut bag) = cross_web(&names, 3, |i| {
        (0..names.len()).filter(|&j| j != i).collect()
    });
    let trusted = party("Trusted Root");
    let anchor = root(&trusted);
    let leaf = issue(&party("Leaf"), &parties[0][0], vec![]);
    let v = run(
        "cross-certificate loop, anchor unreachable",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &options(RevocationPolicy::Off),
    );
    assert!(!v.is_valid());
    assert_eq!(errors(&v)[0], Code::MissingIntermediate, "{:?}", v.verdict);
    assert!(stopped(&v), "{:?}", v.verdict);
    assert_eq!(v.paths_tried, 0);
    assert!(!v.anchored);

    // The loop's F is also certified by an untrusted root (same name as nothing trusted).
    let stranger = party("Stranger Root");
    bag.push(root(&stranger));
    for f in &parties[5] {
        bag.push(issue(f, &stranger, ca()));
    }
    let v = run(
        "cross-certificate loop, untrusted root",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &options(RevocationPolicy::Off),
    );
    assert!(!v.is_valid());
    assert_eq!(errors(&v)[0], Code::UntrustedRoot, "{:?}", v.verdict);
    assert!(v.verdict.findings[0].message.contains("Stranger Root"));
    assert_eq!(v.paths_tried, 0);
}

/// The same kind of loop (N0 … N5 each certified by every other, three keys per name, with
/// rollover certificates), where the trusted root is reachable only through a detour out
/// of the loop: N5 ← D1 ← D2 ← D3 ← D4 ← root, seven certificates below the root with the
/// leaf under N0.
///
/// Bound: as above (`MAX_SIGNATURE_CHECKS`, `MAX_EXPANSIONS`, `MAX_PATHS`). Verdict: valid,
/// the chain leaf, N0, N5 (perhaps through a rollover certificate of N5), D1 … D4, root,
/// found at the first complete path: candidate issuers whose names are fewest certificates
/// from a trust anchor's name are tried first. (Before that ordering, the depth-first
/// search spent its 1024 signature checks inside the loop and gave `missing-intermediate`
/// with "path building stopped".)
#[test]
fn a_loop_of_cross_certificates_with_a_long_detour_to_the_anchor_is_solved() {
    let names = ["N0", "N1", "N2", "N3", "N4", "N5"];
    let (parties, mut bag) = cross_web(&names, 3, |i| {
        (0..names.len()).filter(|&j| j != i).collect()
    });
    let trusted = party("Trusted Root");
    let anchor = root(&trusted);
    let detour: Vec<Party> = ["D1", "D2", "D3", "D4"].iter().map(|n| party(n)).collect();
    bag.push(issue(&detour[3], &trusted, ca()));
    for w in detour.windows(2).rev() {
        bag.push(issue(&w[0], &w[1], ca()));
    }
    bag.push(issue(&parties[5][1], &detour[0], ca()));
    let leaf = issue(&party("Leaf"), &parties[0][0], vec![]);
    let v = run(
        "cross-certificate loop, anchor through a detour",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &options(RevocationPolicy::Off),
    );
    assert!(v.is_valid(), "{:?}", v.verdict);
    assert_eq!(v.paths_tried, 1);
    // Only N5's second key is certified by D1: the path may pass from N5's first key to
    // its second through a rollover certificate (which RFC 5280 does not count).
    let mut chain: Vec<String> = v.chain.iter().map(|c| c.subject()).collect();
    assert!(chain.len() <= 9, "{chain:?}");
    chain.dedup();
    assert_eq!(
        chain,
        ["Leaf", "N0", "N5", "D1", "D2", "D3", "D4", "Trusted Root"].map(|n| format!("CN={n}"))
    );
}

/// `count` look-alikes of the issuing CA (its name, other keys, certified by the trusted
/// root), the first `claiming` of them also claiming the real CA's subjectKeyIdentifier.
fn look_alikes(
    real: &Party,
    root: &Party,
    count: usize,
    claiming: usize,
) -> Vec<ParsedCertificate> {
    (0..count)
        .map(|i| {
            let fake = rekey(real);
            let ski = if i < claiming {
                key_id(real)
            } else {
                key_id(&fake)
            };
            issue_with_ski(&fake, root, &ski, ca())
        })
        .collect()
}

/// Hundreds of candidate intermediates: 300 certificates with the issuing CA's name and
/// other keys (150 of them also claiming its key identifier) before the real one.
///
/// Bound: each look-alike costs one signature check (`MAX_SIGNATURE_CHECKS` = 1024 per
/// validation), and only the real one completes a path (`MAX_PATHS` = 64). Verdicts:
/// - 300 look-alikes, then the real CA: valid, found after at most 302 signature checks
///   (candidates claiming the leaf's authority key identifier are tried first, so the real
///   one comes after the 150 that claim it too);
/// - 1,100 look-alikes all claiming the key identifier, then the real CA: the budget runs
///   out first — `bad-signature` (as below) and `path-too-long` with "path building stopped
///   after 0 paths and 1024 signature checks". This is the price of the bound: a bag with
///   more than 1,024 convincing look-alikes ahead of the real issuer is refused, never
///   waited on;
/// - 300 look-alikes and no real one: `bad-signature` (a certificate with the issuer's name
///   and the key identifier the leaf names does not verify it: the leaf or that certificate
///   is forged) — or `missing-intermediate` ("a certificate named … is at hand but its key
///   did not sign it") when none claims the key identifier.
#[test]
fn hundreds_of_look_alike_intermediates_are_bounded() {
    let root_party = party("Root");
    let anchor = root(&root_party);
    let real = party("Issuing CA");
    let real_cert = issue(&real, &root_party, ca());
    let leaf = issue(&party("Leaf"), &real, vec![]);
    let opts = options(RevocationPolicy::Off);

    let mut bag = look_alikes(&real, &root_party, 300, 150);
    bag.push(real_cert.clone());
    let v = run(
        "300 look-alikes, then the real CA",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert!(v.is_valid(), "{:?}", v.verdict);
    assert_eq!(v.chain[1].der(), real_cert.der());
    assert_eq!(v.paths_tried, 1);
    assert!(v.signature_checks <= 302, "{}", v.signature_checks);

    bag.truncate(300);
    let v = run(
        "300 look-alikes, no real CA",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert_eq!(errors(&v), [Code::BadSignature], "{:?}", v.verdict);
    assert_eq!(v.paths_tried, 0);
    assert_eq!(v.signature_checks, 300);

    let bag = look_alikes(&real, &root_party, 300, 0);
    let v = run(
        "300 look-alikes with their own key ids, no real CA",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert_eq!(errors(&v), [Code::MissingIntermediate], "{:?}", v.verdict);
    assert_eq!(v.signature_checks, 300);

    let mut bag = look_alikes(&real, &root_party, 1100, 1100);
    bag.push(real_cert);
    let v = run(
        "1,100 look-alikes, then the real CA",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert!(!v.is_valid());
    assert!(stopped(&v), "{:?}", v.verdict);
    assert!(errors(&v).contains(&Code::PathTooLong));
    assert_eq!(v.signature_checks, MAX_SIGNATURE_CHECKS);
    assert_eq!(v.paths_tried, 0);
}

/// Long chains: root → I1 → I2 → … → I100, each CA certifying the next.
///
/// Bound: `DEFAULT_MAX_DEPTH` = 16 certificates below the anchor, leaf included. Verdicts:
/// a leaf under I100 (101 certificates) → `path-too-long` after 16 signature checks, no
/// complete path; a leaf under I15 (exactly 16) → valid; a leaf under I16 (17) →
/// `path-too-long`.
#[test]
fn a_hundred_deep_chain_is_refused_at_the_depth_bound() {
    let root_party = party("Root");
    let anchor = root(&root_party);
    let cas: Vec<Party> = (1..=100).map(|i| party(&format!("I{i}"))).collect();
    let mut bag = vec![issue(&cas[0], &root_party, ca())];
    for w in cas.windows(2) {
        bag.push(issue(&w[1], &w[0], ca()));
    }
    let opts = options(RevocationPolicy::Off);

    let leaf = issue(&party("Leaf"), &cas[99], vec![]);
    let v = run(
        "100-deep chain",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert_eq!(errors(&v), [Code::PathTooLong], "{:?}", v.verdict);
    assert!(!stopped(&v), "the depth bound, not the budget, ends it");
    assert_eq!(v.paths_tried, 0);
    assert!(
        v.signature_checks <= DEFAULT_MAX_DEPTH,
        "{}",
        v.signature_checks
    );

    // Exactly at the bound: the leaf and 15 intermediates.
    let leaf = issue(&party("Leaf"), &cas[DEFAULT_MAX_DEPTH - 2], vec![]);
    let v = run(
        "chain at the depth bound",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert!(v.is_valid(), "{:?}", v.verdict);
    assert_eq!(v.chain.len(), DEFAULT_MAX_DEPTH + 1);
    assert_eq!(v.paths_tried, 1);

    // One more.
    let leaf = issue(&party("Leaf"), &cas[DEFAULT_MAX_DEPTH - 1], vec![]);
    let v = run(
        "chain one past the depth bound",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert_eq!(errors(&v), [Code::PathTooLong], "{:?}", v.verdict);
    assert_eq!(v.paths_tried, 0);
}

/// nameConstraints (critical) permitting the dNSName subtrees `bases`.
fn permitted_dns(bases: &[String]) -> Extension {
    let nc = NameConstraints {
        permitted_subtrees: Some(
            bases
                .iter()
                .map(|b| GeneralSubtree {
                    base: GeneralName::DnsName(Ia5String::new(b).unwrap()),
                    minimum: 0,
                    maximum: None,
                })
                .collect(),
        ),
        excluded_subtrees: None,
    };
    raw(oids::ID_CE_NAME_CONSTRAINTS, true, nc.to_der().unwrap())
}

fn dns_sans(names: &[String]) -> Extension {
    let san = x509_cert::ext::pkix::SubjectAltName(
        names
            .iter()
            .map(|n| GeneralName::DnsName(Ia5String::new(n).unwrap()))
            .collect(),
    );
    raw(oids::ID_CE_SUBJECT_ALT_NAME, false, san.to_der().unwrap())
}

/// Three-letter labels: "aaa", "aab", …
fn labels(count: usize) -> Vec<String> {
    (0..count)
        .map(|mut i| {
            let mut s = String::new();
            for _ in 0..3 {
                s.push((b'a' + (i % 26) as u8) as char);
                i /= 26;
            }
            s
        })
        .collect()
}

/// Enormous name-constraint sets.
///
/// Bounds: `MAX_CERTIFICATE_LEN` (64 KiB) per certificate, `MAX_SUBTREES` (16,384) subtrees
/// per path, `MAX_NAME_COMPARISONS` (1,048,576) name–subtree pairs per certificate checked.
/// Verdicts:
/// - one intermediate with 20,000 permitted subtrees does not fit in 64 KiB: the parser
///   refuses it (`ParsedCertificate::from_der` errs), so no path can use it;
/// - three intermediates with 6,000 subtrees each (18,000 > `MAX_SUBTREES`):
///   `name-not-permitted`, "too large to check within Cachet's limits";
/// - 6,000 subtrees and a leaf with 2,000 dNSName SANs (12,000,000 comparisons >
///   `MAX_NAME_COMPARISONS`): `name-not-permitted`, "too large …", without comparing;
/// - 500 subtrees and 2,000 SANs (1,000,000 comparisons, within the bound) are evaluated:
///   valid when every SAN lies in a subtree, `name-not-permitted` naming the one that
///   does not.
#[test]
fn enormous_name_constraint_sets_are_refused_within_bounds() {
    let root_party = party("Root");
    let anchor = root(&root_party);
    let opts = options(RevocationPolicy::Off);
    let too_large = |v: &Validation| {
        errors(v) == [Code::NameNotPermitted]
            && v.verdict
                .findings
                .iter()
                .any(|f| f.message.contains("too large to check"))
    };

    // 20,000 subtrees in one certificate.
    let big = party("Big CA");
    let ext = permitted_dns(&labels(20_000));
    let t = CertificateTemplate {
        serial: vec![1],
        subject_der: big.name.clone(),
        spki_der: big.key.public_key_der().to_vec(),
        not_before: 1_700_000_000,
        not_after: 1_800_000_000,
        extensions: [ca(), vec![ext]].concat(),
    };
    let der = sign_certificate(&t, &root_party.name, &root_party.key).unwrap();
    assert!(der.len() > MAX_CERTIFICATE_LEN, "{}", der.len());
    assert!(ParsedCertificate::from_der(&der).is_err());

    // Three CAs of 6,000 subtrees each.
    let cas: Vec<Party> = (1..=3)
        .map(|i| party(&format!("Constrained CA {i}")))
        .collect();
    let six_thousand = labels(6_000);
    let mut bag = vec![issue(
        &cas[0],
        &root_party,
        [ca(), vec![permitted_dns(&six_thousand)]].concat(),
    )];
    for w in cas.windows(2) {
        bag.push(issue(
            &w[1],
            &w[0],
            [ca(), vec![permitted_dns(&six_thousand)]].concat(),
        ));
    }
    const { assert!(3 * 6_000 > MAX_SUBTREES && 2 * 6_000 <= MAX_SUBTREES) };
    let leaf = issue(
        &party("Leaf"),
        &cas[2],
        vec![dns_sans(&["host.aaa".into()])],
    );
    let v = run(
        "18,000 subtrees on three CAs",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert!(too_large(&v), "{:?}", v.verdict);
    // Two of them are within the bound and evaluated.
    let leaf = issue(
        &party("Leaf"),
        &cas[1],
        vec![dns_sans(&["host.aaa".into()])],
    );
    let v = run(
        "12,000 subtrees on two CAs",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert!(v.is_valid(), "{:?}", v.verdict);

    // 6,000 subtrees and 2,000 SANs.
    let sans: Vec<String> = (0..2_000).map(|i| format!("h{i}.aaa")).collect();
    let leaf = issue(&party("Leaf"), &cas[0], vec![dns_sans(&sans)]);
    const { assert!(6_000 * 2_000 > MAX_NAME_COMPARISONS) };
    let v = run(
        "6,000 subtrees × 2,000 SANs",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert!(too_large(&v), "{:?}", v.verdict);

    // 500 subtrees and 2,000 SANs: evaluated.
    let ca500 = party("CA 500");
    let five_hundred = labels(500);
    let bag = vec![issue(
        &ca500,
        &root_party,
        [ca(), vec![permitted_dns(&five_hundred)]].concat(),
    )];
    const { assert!(500 * 2_000 <= MAX_NAME_COMPARISONS) };
    let sans: Vec<String> = (0..2_000)
        .map(|i| format!("h{i}.{}", five_hundred[i % 500]))
        .collect();
    let leaf = issue(&party("Leaf"), &ca500, vec![dns_sans(&sans)]);
    let v = run(
        "500 subtrees × 2,000 SANs",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert!(v.is_valid(), "{:?}", v.verdict);
    let mut sans = sans;
    sans[1_999] = "evil.example".into();
    let leaf = issue(&party("Leaf"), &ca500, vec![dns_sans(&sans)]);
    let v = run(
        "500 subtrees × 2,000 SANs, one outside",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert_eq!(errors(&v), [Code::NameNotPermitted], "{:?}", v.verdict);
    assert!(
        v.verdict.findings[0].message.contains("evil.example"),
        "{:?}",
        v.verdict
    );
}

/// Policy OID 1.2.3.`i`.
fn policy(i: usize) -> ObjectIdentifier {
    ObjectIdentifier::new(&format!("1.2.3.{i}")).unwrap()
}

/// A policy explosion: a chain of CAs, each asserting the same 50 policies and mapping
/// every one of them to every other (2,450 mappings per CA). The RFC 5280 policy tree of
/// such a path grows as 50^n; the policy graph (RFC 9618) Cachet keeps grows by 50 nodes and
/// about 5,000 links per CA.
///
/// Bounds: `MAX_POLICY_NODES` (4,096) and `MAX_POLICY_EDGES` (65,536) per path. Verdicts,
/// with an explicit policy required and the leaf asserting policy 1.2.3.7: five such CAs →
/// valid (the graph stays within the bounds); fifteen → `policy-not-acceptable`, "too many
/// to evaluate".
#[test]
fn a_policy_mapping_explosion_is_bounded() {
    let root_party = party("Root");
    let anchor = root(&root_party);
    let policies: Vec<ObjectIdentifier> = (0..50).map(policy).collect();
    let mappings = PolicyMappings(
        policies
            .iter()
            .flat_map(|&a| {
                policies
                    .iter()
                    .filter(move |&&b| b != a)
                    .map(move |&b| PolicyMapping {
                        issuer_domain_policy: a,
                        subject_domain_policy: b,
                    })
            })
            .collect(),
    );
    let mapping_ext = raw(
        oids::ID_CE_POLICY_MAPPINGS,
        true,
        mappings.to_der().unwrap(),
    );
    let extensions = || {
        [
            ca(),
            vec![
                cachet_pki::ext::certificate_policies(&policies).unwrap(),
                mapping_ext.clone(),
            ],
        ]
        .concat()
    };
    let cas: Vec<Party> = (1..=15).map(|i| party(&format!("Policy CA {i}"))).collect();
    let mut bag = vec![issue(&cas[0], &root_party, extensions())];
    for w in cas.windows(2) {
        bag.push(issue(&w[1], &w[0], extensions()));
    }
    let mut opts = options(RevocationPolicy::Off);
    opts.policy.initial_explicit_policy = true;
    let leaf_ext = || vec![cachet_pki::ext::certificate_policies(&[policy(7)]).unwrap()];

    let leaf = issue(&party("Leaf"), &cas[4], leaf_ext());
    let v = run(
        "5 CAs × 50 policies, all mapped",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert!(v.is_valid(), "{:?}", v.verdict);
    assert_eq!(v.paths_tried, 1);

    let leaf = issue(&party("Leaf"), &cas[14], leaf_ext());
    let v = run(
        "15 CAs × 50 policies, all mapped",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &[],
        &opts,
    );
    assert_eq!(errors(&v), [Code::PolicyNotAcceptable], "{:?}", v.verdict);
    assert!(
        v.verdict.findings[0]
            .message
            .contains("too many to evaluate"),
        "{:?}",
        v.verdict
    );
    let message = &v.verdict.findings[0].message;
    assert!(
        message.contains(&MAX_POLICY_NODES.to_string())
            && message.contains(&MAX_POLICY_EDGES.to_string())
    );
    assert_eq!(v.paths_tried, 1);
}

/// An end-entity certificate that may sign CRLs.
fn crl_signer_extensions() -> Vec<Extension> {
    vec![cachet_pki::ext::key_usage(KeyUsages::CRLSign | KeyUsages::DigitalSignature).unwrap()]
}

/// An empty, current CRL issued under `issuer`'s name, signed with the key of `signer`'s
/// certificate (the same party for an ordinary CRL).
fn crl(signer_cert: &ParsedCertificate, signer: &Party) -> ParsedCrl {
    let req = CrlRequest {
        crl_number: 1,
        this_update: AT - 1_000,
        next_update: AT + 1_000_000,
        entries: &[],
    };
    ParsedCrl::from_der(&build_crl(&req, signer_cert, &signer.key).unwrap()).unwrap()
}

/// A chain of CRL signers of length `len`, revocation required: the root R certifies CA0 …
/// CA`len`; the leaf is under CA0. CA`i`'s CRL (for `i` < `len`) is signed not by CA`i` but
/// by a separate key S`i`, whose certificate (subject CA`i`, cRLSign) CA`i+1` issued — so
/// S`i`'s own revocation status is on CA`i+1`'s CRL, signed by S`i+1`, and so on; CA`len`
/// signs its own CRL. Checking the leaf needs S0's path validated, which needs S1's, …
fn crl_signer_chain(
    len: usize,
) -> (
    ParsedCertificate,
    ParsedCertificate,
    Vec<ParsedCertificate>,
    Vec<ParsedCrl>,
) {
    let r = party("R");
    let anchor = root(&r);
    let cas: Vec<Party> = (0..=len).map(|i| party(&format!("CA{i}"))).collect();
    let ca_certs: Vec<ParsedCertificate> = cas.iter().map(|c| issue(c, &r, ca())).collect();
    let mut bag = ca_certs.clone();
    let mut crls = vec![crl(&anchor, &r)];
    for i in 0..=len {
        if i < len {
            let s = rekey(&cas[i]);
            let s_cert = issue(&s, &cas[i + 1], crl_signer_extensions());
            crls.push(crl(&s_cert, &s));
            bag.push(s_cert);
        } else {
            crls.push(crl(&ca_certs[i], &cas[i]));
        }
    }
    let leaf = issue(&party("Leaf"), &cas[0], vec![]);
    (leaf, anchor, bag, crls)
}

/// A CRL-signer recursion chain with revocation required.
///
/// Bound: build.rs `MAX_RECURSION` = 2 nested path validations for CRL signers (sharing the
/// validation's `MAX_PATHS` and `MAX_SIGNATURE_CHECKS`). Verdicts: chains of 0, 1
/// and 2 separate signers → valid (the leaf's CRL signer S0 is validated at nesting level
/// 1, S1 at level 2); a chain of 3 or 10 → `crl-unavailable` for the leaf ("the CRL is
/// signed by 'CN=CA0', whose own certificate is not valid"), since S2 would need level 3.
/// With revocation preferred rather than required, the same chain is valid: the deepest
/// signer's unknown status is a warning inside the nested validation that needed it.
#[test]
fn a_crl_signer_recursion_chain_ends_with_crl_unavailable() {
    for len in [0, 1, 2, 3, 10] {
        let (leaf, anchor, bag, crls) = crl_signer_chain(len);
        let v = run(
            &format!("CRL signer chain of {len}, revocation required"),
            &leaf,
            std::slice::from_ref(&anchor),
            &bag,
            &crls,
            &options(RevocationPolicy::Require),
        );
        if len <= 2 {
            assert!(v.is_valid(), "{len}: {:?}", v.verdict);
        } else {
            assert_eq!(errors(&v), [Code::CrlUnavailable], "{len}: {:?}", v.verdict);
            let f = &v.verdict.findings[0];
            assert_eq!(f.subject.as_deref(), Some("CN=Leaf"));
            assert!(
                f.message.contains("whose own certificate is not valid"),
                "{}",
                f.message
            );
            let v = run(
                &format!("CRL signer chain of {len}, revocation preferred"),
                &leaf,
                std::slice::from_ref(&anchor),
                &bag,
                &crls,
                &options(RevocationPolicy::Prefer),
            );
            // (S2's status is then a warning inside S1's validation, which passes.)
            assert!(v.is_valid(), "{len}: {:?}", v.verdict);
        }
    }
}

/// Copies of `subject`'s certificate by `issuer` (same name and key, other serial numbers).
fn copies(
    subject: &Party,
    issuer: &Party,
    n: usize,
    ext: impl Fn() -> Vec<Extension>,
) -> Vec<ParsedCertificate> {
    (0..n).map(|_| issue(subject, issuer, ext())).collect()
}

/// Fan-out of nested CRL-signer validations: R certifies `m` copies each of CA0, CA1, CA2
/// (same name and key, other serials), so every search has `m` complete paths; CA`i`'s
/// CRL is signed by a separate key S`i` of which there are `k` certificates (copies issued
/// by CA`i+1`). With `s2_missing`, S2's certificate is absent, so every signer validation
/// at the deepest level fails and every copy is tried in turn; otherwise CA2 signs its own
/// CRL and the first attempt succeeds.
fn crl_signer_fan_out(
    m: usize,
    k: usize,
    s2_missing: bool,
) -> (
    ParsedCertificate,
    ParsedCertificate,
    Vec<ParsedCertificate>,
    Vec<ParsedCrl>,
) {
    let r = party("R");
    let anchor = root(&r);
    let cas: Vec<Party> = (0..3).map(|i| party(&format!("CA{i}"))).collect();
    let mut bag = Vec::new();
    for c in &cas {
        bag.extend(copies(c, &r, m, ca));
    }
    let mut crls = vec![crl(&anchor, &r)];
    for i in 0..2 {
        let s = rekey(&cas[i]);
        let certs = copies(&s, &cas[i + 1], k, crl_signer_extensions);
        crls.push(crl(&certs[0], &s));
        bag.extend(certs);
    }
    if s2_missing {
        let s = rekey(&cas[2]);
        let cert = issue(&s, &r, crl_signer_extensions());
        crls.push(crl(&cert, &s));
    } else {
        crls.push(crl(&bag[2 * m], &cas[2]));
    }
    let leaf = issue(&party("Leaf"), &cas[0], vec![]);
    (leaf, anchor, bag, crls)
}

/// Fan-out of nested CRL-signer validations, revocation required (see
/// [`crl_signer_fan_out`]). Each nested validation may examine `MAX_PATHS` paths and try
/// every copy of the signer, so without a common budget the work grows as m³·k² paths
/// (before the fix, 5 × 5 copies — 25 certificates — took 1.2 s in a release build and
/// 8 × 8 would have taken minutes).
///
/// Bound: `MAX_PATHS` (64), `MAX_SIGNATURE_CHECKS` (1024) and `MAX_EXPANSIONS` (4096, each
/// nested search counting one) hold for the whole validation, nested searches included,
/// as `paths_tried` and `signature_checks` report. Verdicts: with S2 missing, 8 × 8 copies
/// → `crl-unavailable` with "path building stopped"; 2 × 2 copies (42 paths in all: 2 at
/// the top, 8 nested, 32 nested twice) → `crl-unavailable` within the budget; with S2
/// present, 8 × 8 copies → valid after 3 paths (one per nesting level).
#[test]
fn nested_crl_signer_validations_share_one_budget() {
    let opts = options(RevocationPolicy::Require);
    let (leaf, anchor, bag, crls) = crl_signer_fan_out(8, 8, true);
    let v = run(
        "CRL signer fan-out, 8 × 8 copies",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &crls,
        &opts,
    );
    assert_eq!(errors(&v)[0], Code::CrlUnavailable, "{:?}", v.verdict);
    assert!(stopped(&v), "{:?}", v.verdict);
    assert_eq!(v.paths_tried, MAX_PATHS);

    let (leaf, anchor, bag, crls) = crl_signer_fan_out(2, 2, true);
    let v = run(
        "CRL signer fan-out, 2 × 2 copies",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &crls,
        &opts,
    );
    assert_eq!(errors(&v), [Code::CrlUnavailable], "{:?}", v.verdict);
    assert_eq!(v.paths_tried, 2 + 2 * 2 * 2 + 2 * 2 * 2 * 2 * 2);

    let (leaf, anchor, bag, crls) = crl_signer_fan_out(8, 8, false);
    let v = run(
        "CRL signer fan-out, 8 × 8 copies, S2 present",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &crls,
        &opts,
    );
    assert!(v.is_valid(), "{:?}", v.verdict);
    assert_eq!(v.paths_tried, 3);
}

/// Many CRLs in a CA's name signed by keys nobody certified, and a hundred look-alikes of
/// the CA (its name, other keys): finding each CRL's signer tries every certificate with
/// that name, so 20 CRLs cost 20 × 101 CRL signature checks if unbounded.
///
/// Bound: CRL signature checks count against `MAX_SIGNATURE_CHECKS` (1024) and each
/// (CRL, key) pair is checked once per validation. Verdicts, revocation required: the
/// genuine CRL after the 20 forged ones → `crl-unavailable` ("checking the signer of the
/// CRL … stopped"), not a long wait; the genuine CRL first → valid.
#[test]
fn forged_crls_and_look_alike_signers_are_bounded() {
    let r = party("R");
    let anchor = root(&r);
    let ca0 = party("CA0");
    let ca0_cert = issue(&ca0, &r, ca());
    let leaf = issue(&party("Leaf"), &ca0, vec![]);
    let mut bag = look_alikes(&ca0, &r, 100, 0);
    bag.push(ca0_cert.clone());
    let mut crls: Vec<ParsedCrl> = (0..20)
        .map(|_| {
            let forger = rekey(&ca0);
            let cert = issue(&forger, &forger, ca());
            crl(&cert, &forger)
        })
        .collect();
    crls.push(crl(&anchor, &r));
    crls.push(crl(&ca0_cert, &ca0));
    let opts = options(RevocationPolicy::Require);
    let v = run(
        "20 forged CRLs, 100 look-alike signers",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &crls,
        &opts,
    );
    assert_eq!(errors(&v)[0], Code::CrlUnavailable, "{:?}", v.verdict);
    assert!(
        v.verdict.findings[0].message.contains("stopped"),
        "{:?}",
        v.verdict
    );
    assert_eq!(v.paths_tried, 1);

    crls.rotate_right(2);
    let v = run(
        "genuine CRL first, 20 forged, 100 look-alike signers",
        &leaf,
        std::slice::from_ref(&anchor),
        &bag,
        &crls,
        &opts,
    );
    assert!(v.is_valid(), "{:?}", v.verdict);
}
