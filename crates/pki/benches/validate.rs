//! Path validation benchmark (criterion): an RSA-2048 chain of three (root → issuing CA →
//! subscriber) validated for S/MIME signing with revocation required, against the issuing
//! CA's CRL of 10,000 entries and the root's CRL — both parsed once and reused ("cached"),
//! as a gateway holds them. Each validation verifies the two certificate signatures (the
//! CRL signatures are remembered per CRL), builds the path, runs RFC 5280 §6.1 and looks the
//! two serials up in the CRLs. `scripts/bench-validate.sh` runs it beside `openssl speed
//! rsa2048` and prints the ratio to the signature verifications it needs.
//!
//! - `validate/rsa2048-chain3-crl10000`: the above.
//! - `validate/rsa2048-chain3-crl10000-sigcache`: the same with a SignatureCache, as a
//!   gateway verifying many messages from the same CAs runs it.

use cachet_crypto::KeyType;
use cachet_pki::crl::{CrlRequest, ParsedCrl, RevocationReason, RevokedEntry, build_crl};
use cachet_pki::ephemeral::EphemeralPki;
use cachet_pki::issue::random_serial;
use cachet_pki::profile::Profile;
use cachet_pki::validate::{
    Material, Purpose, RevocationPolicy, SignatureCache, TrustAnchor, ValidationOptions, validate,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const NOW: u64 = 1_795_000_000;

fn validation(c: &mut Criterion) {
    let pki = EphemeralPki::new(KeyType::Rsa2048, NOW - 86_400).unwrap();
    let (leaf, _) = pki
        .subscriber("alice@example.com", Profile::Signing, KeyType::Rsa2048, 365)
        .unwrap();
    let entries: Vec<RevokedEntry> = (0..10_000u32)
        .map(|i| RevokedEntry {
            serial: random_serial().unwrap().to_vec(),
            revoked_at: NOW - 3_600 + u64::from(i),
            reason: RevocationReason::KeyCompromise,
        })
        .collect();
    let crl = |entries: &[RevokedEntry], issuer, key| {
        let req = CrlRequest {
            crl_number: 7,
            this_update: NOW - 600,
            next_update: NOW + 7 * 86_400,
            entries,
        };
        ParsedCrl::from_der(&build_crl(&req, issuer, key).unwrap()).unwrap()
    };
    let crls = vec![
        crl(&entries, &pki.issuing, &pki.issuing_key),
        crl(&[], &pki.root, &pki.root_key),
    ];
    let anchors = vec![TrustAnchor::new(pki.root.clone())];
    let intermediates = vec![pki.issuing.clone()];
    let mut opts = ValidationOptions::new(NOW, Purpose::EmailSigning);
    opts.revocation = RevocationPolicy::Require;
    let material = Material {
        anchors: &anchors,
        intermediates: &intermediates,
        crls: &crls,
        cache: None,
        fetcher: None,
    };
    let v = validate(&leaf, &material, &opts);
    assert!(v.is_valid(), "{:?}", v.verdict);
    assert_eq!(v.chain.len(), 3);

    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(1));
    g.bench_function("rsa2048-chain3-crl10000", |b| {
        b.iter(|| black_box(validate(&leaf, &material, &opts)))
    });
    let cache = SignatureCache::new(1024);
    let cached = Material {
        cache: Some(&cache),
        ..material
    };
    g.bench_function("rsa2048-chain3-crl10000-sigcache", |b| {
        b.iter(|| black_box(validate(&leaf, &cached, &opts)))
    });
    g.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
