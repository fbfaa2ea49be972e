//! NIST PKITS (2011 edition) as S/MIME: the 224 signed messages of the suite, each verified
//! with its case's RFC 5280 initial settings (some messages run more than once), the trust
//! anchor `TrustAnchorRootCertificate`, revocation required and the CRLs the messages carry,
//! against `shared/testdata/pkits/expected.json` (247 cases).
//!
//! The messages come from the PyPI package `cryptography-vectors`: `scripts/test.sh`
//! fetches them into `target/testdata/PKITS_data` (`CACHET_PKITS_DIR` overrides the place).
//! Most PKITS certificates name no mailbox, so most messages' From differs from their
//! signer's certificate: the path is judged by every finding but that one.

use cachet_pki::ParsedCertificate;
use cachet_pki::validate::{ANY_POLICY, PolicyInputs, RevocationPolicy};
use cachet_pki::verdict::{Code, Severity};
use cachet_smime::ber::BerLimits;
use cachet_smime::message::verify_message;
use cachet_smime::mime::Limits;
use cachet_smime::signed::VerifyOptions;
use const_oid::ObjectIdentifier;
use std::path::PathBuf;

/// Where the expected results are wrong by NIST's own reckoning (the PKITS document,
/// section 4): the case, NIST's verdict, and why the tabulation differs.
const ERRATA: [(&str, bool, &str); 1] = [(
    "4.14.30",
    true,
    "NIST: valid. expected.json copies OpenSSL's pkits-test.pl, which records this case as failing because OpenSSL cannot resolve the circular dependency of an indirect CRL issuer whose own certificate is covered by the CRL it signs (BoringSSL and pyhanko expect valid too)",
)];

fn pkits_dir() -> PathBuf {
    let dir = std::env::var_os("CACHET_PKITS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/testdata/PKITS_data"),
        PathBuf::from,
    );
    assert!(
        dir.join("smime/SignedValidSignaturesTest1.eml").is_file(),
        "NIST PKITS data not found at {}: run scripts/test.sh (it fetches PyPI cryptography-vectors) or set CACHET_PKITS_DIR to its x509/PKITS_data folder",
        dir.display()
    );
    dir
}

/// A policy of expected.json: `anyPolicy` or a dotted OID.
fn policy(name: &str) -> ObjectIdentifier {
    match name {
        "anyPolicy" => ANY_POLICY,
        oid => ObjectIdentifier::new(oid).unwrap_or_else(|e| panic!("policy {oid}: {e}")),
    }
}

#[test]
fn pkits_smime_messages_match_nist() {
    let dir = pkits_dir();
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/testdata/pkits/expected.json"),
        )
        .expect("shared/testdata/pkits/expected.json beside the repository"),
    )
    .unwrap();
    let anchor = ParsedCertificate::from_der(
        &std::fs::read(dir.join("certs/TrustAnchorRootCertificate.crt")).unwrap(),
    )
    .unwrap();
    // 2026-01-01T00:00:00Z, inside every PKITS certificate's and CRL's validity.
    let at = 1_767_225_600;
    let cases = expected["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 247);
    let mut wrong = Vec::new();
    let mut errata_seen = 0;
    for c in cases {
        let section = c["section"].as_str().unwrap();
        let title = c["title"].as_str().unwrap();
        let message = std::fs::read(dir.join(c["file"].as_str().unwrap())).unwrap();
        let mut opts = VerifyOptions::trusting(at, [anchor.clone()]);
        opts.revocation = RevocationPolicy::Require;
        opts.policy = PolicyInputs {
            initial_policy_set: c["initial_policy_set"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| policy(p.as_str().unwrap()))
                .collect(),
            initial_explicit_policy: c["initial_explicit_policy"].as_bool().unwrap(),
            initial_policy_mapping_inhibit: c["initial_policy_mapping_inhibit"].as_bool().unwrap(),
            initial_any_policy_inhibit: c["initial_any_policy_inhibit"].as_bool().unwrap(),
        };
        let v = verify_message(&message, &opts, &Limits::default(), &BerLimits::default());
        let findings = &v.report.verdict.findings;
        let valid = !findings
            .iter()
            .any(|f| f.severity == Severity::Error && f.code != Code::SignerAddressMismatch);
        let mut want = c["valid"].as_bool().unwrap();
        // Variants share a message; errata are keyed by the test number.
        let test_number = section.split('.').take(3).collect::<Vec<_>>().join(".");
        if let Some((_, nist, _)) = ERRATA.iter().find(|(s, _, _)| *s == test_number) {
            errata_seen += 1;
            want = *nist;
        }
        if valid != want {
            wrong.push(format!(
                "{section} {title}: expected {}, got {}: {}",
                if want { "valid" } else { "invalid" },
                if valid { "valid" } else { "invalid" },
                findings
                    .iter()
                    .filter(|f| f.code != Code::SignerAddressMismatch)
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    assert_eq!(
        errata_seen,
        ERRATA.len(),
        "every erratum names a case that exists"
    );
    println!(
        "PKITS S/MIME: {} of {} cases give NIST's result",
        cases.len() - wrong.len(),
        cases.len()
    );
    assert!(
        wrong.is_empty(),
        "{} cases differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
