//! NIST PKITS (2011 edition) through `cachet_pki::validate`, path by path: every one of the
//! 249 case variants that BoringSSL tabulated from the PKITS document (the certificate path,
//! its CRLs, the four RFC 5280 §6.1.1 initial inputs), checking the verdict and, for valid
//! paths, the user-constrained-policy-set. The S/MIME messages of the same suite are run by
//! `crates/smime/tests/pkits.rs` against `shared/testdata/pkits/expected.json`.
//!
//! The certificates and CRLs come from the PyPI package `cryptography-vectors`
//! (`scripts/test.sh` fetches it into `target/testdata/PKITS_data`; `CACHET_PKITS_DIR`
//! overrides the place).

use cachet_pki::ParsedCertificate;
use cachet_pki::crl::ParsedCrl;
use cachet_pki::validate::{
    Material, PolicyInputs, Purpose, RevocationPolicy, TrustAnchor, ValidationOptions, validate,
};
use const_oid::ObjectIdentifier;
use std::path::PathBuf;

fn pkits_dir() -> PathBuf {
    let dir = std::env::var_os("CACHET_PKITS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/testdata/PKITS_data"),
        PathBuf::from,
    );
    assert!(
        dir.join("certs/TrustAnchorRootCertificate.crt").is_file(),
        "NIST PKITS data not found at {}: run scripts/test.sh (it fetches PyPI cryptography-vectors) or set CACHET_PKITS_DIR to its x509/PKITS_data folder",
        dir.display()
    );
    dir
}

fn oids(v: &serde_json::Value) -> Vec<ObjectIdentifier> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|o| ObjectIdentifier::new(o.as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn pkits_paths_match_nist() {
    let dir = pkits_dir();
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("data/pkits/boringssl-cases.json")).unwrap();
    let cert = |name: &str| {
        ParsedCertificate::from_der(&std::fs::read(dir.join("certs").join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let crl = |name: &str| {
        ParsedCrl::from_der(&std::fs::read(dir.join("crls").join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    // 2011-04-15T00:00:00Z, the time BoringSSL's PKITS harness uses.
    let at = 1_302_825_600;
    let mut failures = Vec::new();
    let cases = cases["cases"].as_array().unwrap();
    for c in cases {
        let names: Vec<&str> = c["certs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let anchors = vec![TrustAnchor::new(cert(names[0]))];
        let leaf = cert(names[names.len() - 1]);
        let intermediates: Vec<_> = names[1..names.len() - 1].iter().map(|n| cert(n)).collect();
        let crls: Vec<_> = c["crls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| crl(v.as_str().unwrap()))
            .collect();
        let mut opts = ValidationOptions::new(at, Purpose::Any);
        opts.revocation = RevocationPolicy::Require;
        opts.policy = PolicyInputs {
            initial_policy_set: oids(&c["initial_policy_set"]),
            initial_explicit_policy: c["initial_explicit_policy"].as_bool().unwrap(),
            initial_policy_mapping_inhibit: c["initial_policy_mapping_inhibit"].as_bool().unwrap(),
            initial_any_policy_inhibit: c["initial_inhibit_any_policy"].as_bool().unwrap(),
        };
        let material = Material {
            anchors: &anchors,
            intermediates: &intermediates,
            crls: &crls,
            cache: None,
            fetcher: None,
        };
        let v = validate(&leaf, &material, &opts);
        let want = c["should_validate"].as_bool().unwrap();
        let id = format!(
            "{} {}",
            c["test_number"].as_str().unwrap(),
            c["title"].as_str().unwrap()
        );
        if v.is_valid() != want {
            failures.push(format!(
                "{id}: expected {}, got {}: {}",
                if want { "valid" } else { "invalid" },
                if v.is_valid() { "valid" } else { "invalid" },
                v.verdict
                    .findings
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        } else if want {
            let mut got = v.user_constrained_policy_set.clone();
            let mut expected = oids(&c["user_constrained_policy_set"]);
            got.sort();
            expected.sort();
            if got != expected {
                failures.push(format!(
                    "{id}: user-constrained-policy-set {got:?}, expected {expected:?}"
                ));
            }
        }
    }
    println!(
        "PKITS paths: {} of {} cases as NIST expects",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
