//! Issuance and CRL benchmarks (criterion). `scripts/bench-ca.sh` runs these beside
//! `openssl speed` and prints the ratios recorded in docs/BENCHMARKS.md.
//!
//! - `issue/ecdsa-p256`: one subscriber certificate end to end in-process — template,
//!   extensions, sign, encode, parse back and lint against the profile (which re-verifies the
//!   signature) — i.e. everything `cachet cert issue` does except storage and key generation.
//! - `crl/100000`: build and sign a CRL of 100,000 revoked entries with reason codes.

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::{CrlRequest, RevocationReason, RevokedEntry, build_crl};
use cachet_pki::issue::{random_serial, sign_certificate};
use cachet_pki::lint::{Role, lint};
use cachet_pki::name::NameBuilder;
use cachet_pki::profile::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const NOW: u64 = 1_795_000_000;

fn ca(kt: KeyType) -> (ParsedCertificate, PrivateKey) {
    let root_key = PrivateKey::generate(kt).unwrap();
    let name = NameBuilder::new()
        .common_name("Bench Root")
        .unwrap()
        .to_der()
        .unwrap();
    let t = root_ca_template(
        name.clone(),
        root_key.public_key_der().to_vec(),
        random_serial().unwrap().to_vec(),
        NOW,
    )
    .unwrap();
    let root =
        ParsedCertificate::from_der(&sign_certificate(&t, &name, &root_key).unwrap()).unwrap();
    let key = PrivateKey::generate(kt).unwrap();
    let iname = NameBuilder::new()
        .common_name("Bench Issuing")
        .unwrap()
        .to_der()
        .unwrap();
    let urls = PublicationUrls::under("http://pki.example.com", "root");
    let t = issuing_ca_template(
        iname,
        key.public_key_der().to_vec(),
        random_serial().unwrap().to_vec(),
        NOW,
        &root,
        &urls,
    )
    .unwrap();
    (
        ParsedCertificate::from_der(&sign_certificate(&t, &name, &root_key).unwrap()).unwrap(),
        key,
    )
}

fn issuance(c: &mut Criterion) {
    let mut g = c.benchmark_group("issue");
    g.throughput(Throughput::Elements(1));
    let (issuer, issuer_key) = ca(KeyType::EcdsaP256);
    let subject_key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let urls = PublicationUrls::under("http://pki.example.com", "issuing");
    let issuer_subject = issuer.subject_der().unwrap();
    g.bench_function("ecdsa-p256", |b| {
        b.iter(|| {
            let req = SubscriberRequest {
                email: "alice@example.com",
                profile: Profile::Signing,
                spki_der: subject_key.public_key_der(),
                not_before: NOW,
                validity_days: 365,
                non_repudiation: false,
            };
            let t = subscriber_template(&req, random_serial().unwrap().to_vec(), &issuer, &urls)
                .unwrap();
            let der = sign_certificate(&t, &issuer_subject, &issuer_key).unwrap();
            let cert = ParsedCertificate::from_der(&der).unwrap();
            let findings = lint(
                &cert,
                Role::Subscriber {
                    profile: Profile::Signing,
                    email: "alice@example.com",
                },
                Some(&issuer),
            );
            assert!(findings.is_empty());
            black_box(der)
        })
    });
    g.finish();
}

fn crl(c: &mut Criterion) {
    let mut g = c.benchmark_group("crl");
    g.sample_size(10);
    let (issuer, key) = ca(KeyType::EcdsaP256);
    let entries: Vec<RevokedEntry> = (0..100_000u32)
        .map(|i| RevokedEntry {
            serial: random_serial().unwrap().to_vec(),
            revoked_at: NOW + u64::from(i),
            reason: if i % 3 == 0 {
                RevocationReason::Unspecified
            } else {
                RevocationReason::KeyCompromise
            },
        })
        .collect();
    g.throughput(Throughput::Elements(entries.len() as u64));
    g.bench_function("100000", |b| {
        b.iter(|| {
            let req = CrlRequest {
                crl_number: 1,
                this_update: NOW,
                next_update: NOW + 7 * 86_400,
                entries: &entries,
            };
            black_box(build_crl(&req, &issuer, &key).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, issuance, crl);
criterion_main!(benches);
