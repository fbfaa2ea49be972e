//! Archiving benchmarks (criterion): what key archive adds to the issuance of an encryption
//! certificate (issue 5: at most 2 ms). Reproduce with
//! `cargo bench -p cachet-escrow --bench archive`.
//!
//! - `archive/<subscriber key>-to-<KRA key>`: [`cachet_escrow::archive`] alone — the
//!   keyUsage and key-match checks, the binding metadata, and CMS AuthEnvelopedData
//!   (AES-256-GCM) to the key-recovery-agent certificate, plus the DER record the store
//!   keeps. Key generation and certificate issuance are not included (issuance pays for them
//!   with or without archive). The KRA is P-256 (the recommended type: one ephemeral ECDH) or
//!   RSA-3072 (one RSA-OAEP public-key operation).

use cachet_crypto::KeyType;
use cachet_escrow::archive;
use cachet_pki::Profile;
use cachet_pki::ephemeral::EphemeralPki;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const T0: u64 = 1_795_000_000;

fn archiving(c: &mut Criterion) {
    let pki = EphemeralPki::new(KeyType::EcdsaP256, T0).expect("hierarchy");
    let mut g = c.benchmark_group("archive");
    for kra_kt in [KeyType::EcdsaP256, KeyType::Rsa3072] {
        let (kra, _) = pki
            .subscriber("kra@example.com", Profile::Encryption, kra_kt, 825)
            .expect("KRA certificate");
        for kt in [KeyType::EcdsaP256, KeyType::Rsa2048] {
            let (cert, key) = pki
                .subscriber("alice@example.com", Profile::Encryption, kt, 365)
                .expect("subscriber certificate");
            g.bench_function(format!("{kt}-to-{kra_kt}"), |b| {
                b.iter(|| {
                    let rec = archive(black_box(&key), black_box(&cert), black_box(&kra))
                        .expect("archive");
                    black_box(rec.to_der().expect("encode"))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, archiving);
criterion_main!(benches);
