//! Path building and validation (`cachet_pki::validate`) over arbitrary bags of certificates
//! and CRLs. Nothing may panic, and the work must stay within the validator's stated bounds.
//!
//! Input: byte 0 chooses the trust anchors (blob `i` ≥ 1 is an anchor when bit `(i − 1) % 8`
//! is set), byte 1 the options (below), then blobs, each a 2-byte big-endian length and that
//! many bytes (a short last blob takes what is left). Blob 0 is the leaf; every other blob
//! that parses as a certificate is an intermediate (and an anchor when chosen), one that
//! parses as a CRL is a CRL. Each bag is validated with revocation required and preferred;
//! option bits: 0–2 the purpose, 3 a small max_depth (3), 4 an explicit policy with a
//! user-initial-policy-set, 5 inhibit policy mapping, 6 inhibit anyPolicy, 7 a fetcher that
//! serves the bag's own CRLs, certificates and blobs (AIA and CRL distribution points, OCSP
//! answers from arbitrary bytes). The time of checking is in PKITS's validity period.
//!
//! Seeds: `fuzz/seeds/path_building/` (bags of NIST PKITS certificates and CRLs, made by
//! `fuzz/seeds/make_path_building_seeds.py`). Run with
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run path_building fuzz/corpus/path_building fuzz/seeds/path_building`.
#![no_main]

use cachet_pki::ParsedCertificate;
use cachet_pki::crl::ParsedCrl;
use cachet_pki::validate::{
    Fetcher, Material, PolicyInputs, Purpose, RevocationPolicy, SignatureCache, TrustAnchor,
    ValidationOptions, validate,
};
use libfuzzer_sys::fuzz_target;

/// build.rs `MAX_PATHS`.
const MAX_PATHS: usize = 64;
/// build.rs `MAX_SIGNATURE_CHECKS`: the search stops when it is reached; the path being
/// processed may then check each of its certificates (at most 2 × max_depth of them) once
/// more, and its revocation one CRL per certificate.
const MAX_SIGNATURE_CHECKS: usize = 1024;
/// Most blobs read from one input.
const MAX_BLOBS: usize = 48;
/// 2020-09-13, inside the validity of every PKITS certificate and CRL.
const AT: u64 = 1_600_000_000;

/// Serves the bag: every CRL for any distribution point, every certificate for any AIA
/// caIssuers URL, and a blob chosen by the URL as the OCSP answer.
struct BagFetcher {
    crls: Vec<ParsedCrl>,
    certs: Vec<ParsedCertificate>,
    blobs: Vec<Vec<u8>>,
}

impl Fetcher for BagFetcher {
    fn crl(&self, url: &str) -> Result<ParsedCrl, String> {
        if self.crls.is_empty() {
            return Err("connection refused".into());
        }
        Ok(self.crls[url.len() % self.crls.len()].clone())
    }
    fn ocsp(&self, url: &str, _request: &[u8]) -> Result<Vec<u8>, String> {
        if self.blobs.is_empty() {
            return Err("timed out".into());
        }
        Ok(self.blobs[url.len() % self.blobs.len()].clone())
    }
    fn ca_issuers(&self, _url: &str) -> Result<Vec<ParsedCertificate>, String> {
        Ok(self.certs.clone())
    }
}

fn blobs(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < MAX_BLOBS {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
        data = &data[2..];
        let n = n.min(data.len());
        out.push(&data[..n]);
        data = &data[n..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (anchor_mask, flags) = (data[0], data[1]);
    let blobs = blobs(&data[2..]);
    let Some(leaf) = blobs
        .first()
        .and_then(|b| ParsedCertificate::from_der(b).ok())
    else {
        return;
    };
    let mut anchors = Vec::new();
    let mut intermediates = Vec::new();
    let mut crls = Vec::new();
    for (i, b) in blobs.iter().enumerate().skip(1) {
        if let Ok(c) = ParsedCertificate::from_der(b) {
            if anchor_mask & (1 << ((i - 1) % 8)) != 0 {
                let mut a = TrustAnchor::new(c.clone());
                if i % 3 == 0 {
                    a.permitted_email = vec!["example.com".into(), ".example.gov".into()];
                }
                anchors.push(a);
            }
            intermediates.push(c);
        } else if let Ok(crl) = ParsedCrl::from_der(b) {
            crls.push(crl);
        }
    }
    let fetcher = BagFetcher {
        crls: crls.clone(),
        certs: intermediates.clone(),
        blobs: blobs.iter().map(|b| b.to_vec()).collect(),
    };
    let purpose = [
        Purpose::Any,
        Purpose::EmailSigning,
        Purpose::EmailEncryption,
        Purpose::CrlSigning,
        Purpose::ServerAuth,
        Purpose::ClientAuth,
        Purpose::Any,
        Purpose::EmailSigning,
    ][usize::from(flags & 7)];
    let mut opts = ValidationOptions::new(AT, purpose);
    if flags & 8 != 0 {
        opts.max_depth = 3;
    }
    opts.policy = PolicyInputs {
        initial_policy_set: if flags & 16 != 0 {
            // PKITS's NIST-test-policy-1 and -2.
            vec![
                const_oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.2.1.48.1"),
                const_oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.2.1.48.2"),
            ]
        } else {
            Vec::new()
        },
        initial_explicit_policy: flags & 16 != 0,
        initial_policy_mapping_inhibit: flags & 32 != 0,
        initial_any_policy_inhibit: flags & 64 != 0,
    };
    if purpose == Purpose::EmailSigning {
        opts.email = Some("alice@example.com".into());
    }
    let cache = SignatureCache::new(256);
    for (revocation, with_cache) in [
        (RevocationPolicy::Require, false),
        (RevocationPolicy::Prefer, true),
    ] {
        opts.revocation = revocation;
        opts.use_delta_crls = revocation == RevocationPolicy::Require;
        let material = Material {
            anchors: &anchors,
            intermediates: &intermediates,
            crls: &crls,
            cache: with_cache.then_some(&cache),
            fetcher: if flags & 128 != 0 {
                Some(&fetcher as &dyn Fetcher)
            } else {
                None
            },
        };
        let v = validate(&leaf, &material, &opts);
        assert!(v.paths_tried <= MAX_PATHS, "{} paths", v.paths_tried);
        let slack = 2 * opts.max_depth + 1;
        assert!(
            v.signature_checks <= MAX_SIGNATURE_CHECKS + slack,
            "{} signature checks",
            v.signature_checks
        );
        assert!(!v.chain.is_empty());
        assert_eq!(v.chain[0].der(), leaf.der(), "the chain starts at the leaf");
        if v.is_valid() {
            assert!(v.anchored, "a valid chain ends at a trust anchor");
            assert!(
                v.chain.len() <= 2 * opts.max_depth + 1,
                "{} certificates",
                v.chain.len()
            );
            let last = v.chain.last().expect("not empty").der();
            assert!(
                anchors.iter().any(|a| a.certificate.der() == last),
                "a valid chain ends at one of the anchors"
            );
        }
    }
});
