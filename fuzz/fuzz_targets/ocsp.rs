//! Arbitrary bytes as an OCSP request (`cachet_pki::ocsp::parse_request`, the responder's
//! side) and as an OCSP response (`check_response`, the client's side) about a fixed
//! certificate of a fixed CA (`fuzz/fixtures/`, made with the seeds by
//! `fuzz/seeds/make_ocsp_seeds.sh`). Neither may panic; a parsed request must stay within
//! its stated limits, and an accepted response must be about the certificate asked about.
//!
//! Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run ocsp fuzz/corpus/ocsp fuzz/seeds/ocsp`.
#![no_main]

use cachet_pki::ParsedCertificate;
use cachet_pki::ocsp::{
    CertId, CertIdHash, CheckOptions, MAX_NONCE_LEN, MAX_REQUESTS, OcspQuery, Responder,
    check_response, parse_request,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// An hour after the seed responses' thisUpdate (2026-11-23T17:46:56Z); their nextUpdate is
/// a century later.
const AT: u64 = 1_795_459_616;

struct Fixture {
    issuer: ParsedCertificate,
    queries: Vec<OcspQuery>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let issuer = ParsedCertificate::from_der(include_bytes!("../fixtures/ocsp_issuer.der"))
            .expect("fixture issuer");
        let subject = ParsedCertificate::from_der(include_bytes!("../fixtures/ocsp_subject.der"))
            .expect("fixture subject");
        let id = |h| CertId::for_certificate(&issuer, &subject, h).expect("CertID");
        let queries = vec![
            OcspQuery {
                cert_id: id(CertIdHash::Sha1),
                nonce: None,
            },
            OcspQuery {
                cert_id: id(CertIdHash::Sha256),
                nonce: Some(vec![0x5a; 16]),
            },
            OcspQuery {
                cert_id: CertId::new(&issuer, &[0x0a, 0x0b], CertIdHash::Sha1).expect("CertID"),
                nonce: None,
            },
        ];
        Fixture { issuer, queries }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    if let Ok(r) = parse_request(data) {
        assert!(!r.cert_ids.is_empty() && r.cert_ids.len() <= MAX_REQUESTS);
        assert!(
            r.nonce
                .as_ref()
                .is_none_or(|n| !n.is_empty() && n.len() <= MAX_NONCE_LEN)
        );
        for id in &r.cert_ids {
            let _ = id.matches_issuer(&f.issuer);
        }
    }
    let strict = CheckOptions {
        require_nonce: true,
        ..CheckOptions::default()
    };
    for (i, query) in f.queries.iter().enumerate() {
        let options = if i == 1 {
            strict
        } else {
            CheckOptions::default()
        };
        for at in [AT, 0, u64::MAX] {
            if let Ok(s) = check_response(data, query, &f.issuer, at, &options) {
                if let Responder::Delegated { certificate, .. } = &s.responder {
                    assert_eq!(
                        certificate.inner().tbs_certificate().issuer(),
                        f.issuer.inner().tbs_certificate().subject(),
                        "a delegated responder is certified by the CA"
                    );
                }
                if options.require_nonce {
                    assert!(query.nonce.is_some());
                }
            }
        }
    }
});
