//! Content-encryption throughput: Cachet's streaming AES-256-GCM (CTR + GHASH, needed for
//! 1 GiB messages in bounded memory and for 12-byte tags) beside aws-lc-rs's one-shot AEAD
//! in the same run, and streaming AES-256-CBC. `cargo bench -p cachet-crypto --bench content`.

use aws_lc_rs::aead;
use cachet_crypto::content::{CbcEncryptor, GcmDecryptor, GcmEncryptor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const SIZE: usize = 16 << 20;
const CHUNK: usize = 1 << 20;

fn gcm(c: &mut Criterion) {
    let key = [7u8; 32];
    let nonce = [9u8; 12];
    let pt = vec![0x5au8; SIZE];
    let mut g = c.benchmark_group("aes-256-gcm-16MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);
    let mut out = Vec::with_capacity(SIZE + 16);
    g.bench_function("cachet-streaming-encrypt", |b| {
        b.iter(|| {
            out.clear();
            let mut e = GcmEncryptor::new(&key, &nonce).unwrap();
            for ch in pt.chunks(CHUNK) {
                e.update(ch, &mut out).unwrap();
            }
            black_box(e.finish())
        })
    });
    let mut e = GcmEncryptor::new(&key, &nonce).unwrap();
    let mut ct = Vec::with_capacity(SIZE);
    e.update(&pt, &mut ct).unwrap();
    let tag = e.finish();
    g.bench_function("cachet-streaming-decrypt", |b| {
        b.iter(|| {
            out.clear();
            let mut d = GcmDecryptor::new(&key, &nonce, 16).unwrap();
            for ch in ct.chunks(CHUNK) {
                d.update_unverified(ch, &mut out).unwrap();
            }
            d.finish(&tag).unwrap();
        })
    });
    let k = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, &key).unwrap());
    let mut buf = pt.clone();
    g.bench_function("aws-lc-one-shot-seal", |b| {
        b.iter(|| {
            black_box(
                k.seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(nonce),
                    aead::Aad::empty(),
                    &mut buf,
                )
                .unwrap(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("aes-256-cbc-16MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);
    g.bench_function("cachet-streaming-encrypt", |b| {
        b.iter(|| {
            out.clear();
            let mut e = CbcEncryptor::aes(&key, &[3u8; 16]).unwrap();
            for ch in pt.chunks(CHUNK) {
                e.update(ch, &mut out).unwrap();
            }
            e.finish(&mut out).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, gcm);
criterion_main!(benches);
