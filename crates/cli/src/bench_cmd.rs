//! `cachet bench`: operations per second of Cachet's engine, each beside the rate of the
//! primitive it rests on, measured in the same run — in the spirit of `openssl speed`, so an
//! administrator can size a gateway and anyone can see the engine's overhead.

use crate::io::{CliError, Result};
use cachet_crypto::ecdh::{EcdhCurve, EphemeralKey};
use cachet_crypto::rsa_transport::rsa_pkcs1v15_encrypt;
use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::ephemeral::EphemeralPki;
use cachet_pki::issue::{random_serial, sign_certificate};
use cachet_pki::lint::{Role, lint};
use cachet_pki::profile::{Profile, PublicationUrls, SubscriberRequest, subscriber_template};
use cachet_smime::ber::BerLimits;
use cachet_smime::enveloped::{ContentCipher, RsaPadding};
use cachet_smime::message::{SignMessage, sign_message, verify_message};
use cachet_smime::mime::Limits;
use cachet_smime::mime::canon::to_crlf;
use cachet_smime::mime::encode::make_7bit_safe;
use cachet_smime::mime::smime::{SourceLayer, classify_in, split_message};
use cachet_smime::signed::{SidKind, Signer, VerifyOptions};
use cachet_smime::stream::Plaintext;
use cachet_smime::stream::envelope::{self as stream_envelope, CmsInput, EncryptRequest};
use cachet_smime::stream::message as stream_msg;
use clap::ValueEnum;
use serde_json::json;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What `cachet bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchOp {
    /// Sign a message (multipart/signed), vs. the raw signature.
    Sign,
    /// Verify a signed message with its chain as Cachet's verifier does by default: every
    /// check of the chain for each message, the CA certificates' signatures remembered from
    /// the first message (`SignatureCache`), so each message costs one signature
    /// verification — the primitive it is set beside.
    #[value(alias = "verify-cached")]
    Verify,
    /// Verify with the signature memory off: the message's, the leaf's and the issuing CA's
    /// signatures verified for every message, vs. those three raw verifications.
    #[value(name = "verify-uncached")]
    VerifyUncached,
    /// Issue a certificate (build, sign, lint), vs. the CA's raw signature.
    Issue,
    /// Encrypt a message (application/pkcs7-mime, AES-256-CBC) to one recipient, vs. the
    /// raw key transport (RSA PKCS#1 v1.5 encryption of a 32-byte key) or ephemeral ECDH.
    Encrypt,
    /// Decrypt an encrypted message, vs. the recipient's raw private-key operation (RSA
    /// PKCS#1 v1.5 decryption with implicit rejection, or ECDH).
    Decrypt,
    /// Validate a chain of three (RFC 5280, revocation required) against a cached CRL of
    /// 10,000 entries, vs. the two certificate signature verifications it needs.
    Validate,
}

const SIZES: [usize; 2] = [10 * 1024, 1024 * 1024];
const KEYS: [KeyType; 2] = [KeyType::Rsa2048, KeyType::EcdsaP256];

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError(format!("benchmark set-up failed: {e}"))
}

/// A message of about `size` bytes: headers and 76-column ASCII lines.
fn message(size: usize) -> Vec<u8> {
    let mut m =
        b"From: bench@example.com\r\nTo: peer@example.com\r\nSubject: benchmark\r\n\r\n".to_vec();
    let line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod te\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m.truncate(size);
    m
}

/// The size of the content-encryption key (AES-256) the key-transport primitives carry.
const CEK_LEN: usize = 32;

/// `decrypt` takes in turn as many distinct encrypted messages as hold about this many bytes
/// of plaintext (at least one). Mail never repeats a ciphertext, and decrypting the same one
/// over and over lets the CPU's branch predictor learn its base64 text: on the test machine,
/// decoding 14.5 KB then took 28 µs instead of the 92 µs a fresh message costs, which
/// flattered the 10 KiB figures.
const DISTINCT_BYTES: usize = 1 << 20;

/// `cachet smime encrypt` of `msg` to `recipients` as the CLI does it with its defaults
/// (AES-256-CBC, RSA PKCS#1 v1.5), the message in memory instead of a file: split off the
/// envelope, plan the 7-bit-safe inner entity, measure it, encrypt it in chunks and write the
/// application/pkcs7-mime message.
fn encrypt_message(
    msg: &[u8],
    recipients: &[ParsedCertificate],
    limits: &Limits,
) -> Result<Vec<u8>> {
    let req = EncryptRequest {
        recipients,
        cipher: ContentCipher::Aes256Cbc,
        key_transport: RsaPadding::Pkcs1v15,
        gcm_tag_len: 16,
    };
    let mut out = Vec::with_capacity(msg.len() * 4 / 3 + 4096);
    stream_msg::encrypt_message(&msg, &req, limits, &mut out).map_err(fail)?;
    Ok(out)
}

/// The inner entity `encrypt_message` encrypts (what decryption must give back).
fn inner_entity(msg: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    let split = split_message(msg, limits).map_err(fail)?;
    let safe = make_7bit_safe(&split.inner, limits).map_err(fail)?;
    Ok(to_crlf(&safe).into_owned())
}

/// `cachet smime decrypt` of an application/pkcs7-mime message with one identity, as the CLI
/// does it, into memory: classify the message, then decrypt its CMS as it is decoded from
/// base64. Returns the inner entity.
fn decrypt_message(
    msg: &[u8],
    cert: &ParsedCertificate,
    key: &PrivateKey,
    limits: &Limits,
) -> Result<Plaintext> {
    let SourceLayer::Pkcs7Mime { body, base64, .. } =
        classify_in(&msg, 0..msg.len() as u64, limits).map_err(fail)?
    else {
        return Err(fail("the encrypted message is not application/pkcs7-mime"));
    };
    let input = CmsInput {
        src: &msg,
        range: body,
        base64,
    };
    let mut out = Plaintext::with_capacity(msg.len());
    stream_envelope::decrypt(&input, &[(cert, key)], &mut out).map_err(fail)?;
    Ok(out)
}

/// Runs `f` repeatedly for `budget` and returns operations per second.
/// `validate`: a chain of three of `kt` keys (root, issuing CA, subscriber) validated for
/// S/MIME signing with revocation required against the issuing CA's CRL of 10,000 entries
/// and the root's CRL, parsed once (as a gateway keeps them); beside the rate of the two
/// certificate signature verifications each validation performs.
fn bench_validate(kt: KeyType, now: u64, budget: Duration) -> Result<(f64, f64)> {
    use cachet_pki::crl::{CrlRequest, ParsedCrl, RevocationReason, RevokedEntry, build_crl};
    use cachet_pki::validate::{
        Material, Purpose, RevocationPolicy, TrustAnchor, ValidationOptions, validate,
    };
    let pki = EphemeralPki::new(kt, now - 86_400).map_err(fail)?;
    let (leaf, _) = pki
        .subscriber("bench@example.com", Profile::Signing, kt, 30)
        .map_err(fail)?;
    let mut entries = Vec::with_capacity(10_000);
    for i in 0..10_000u64 {
        entries.push(RevokedEntry {
            serial: random_serial().map_err(fail)?.to_vec(),
            revoked_at: now - 20_000 + i,
            reason: RevocationReason::KeyCompromise,
        });
    }
    let crl = |entries: &[RevokedEntry], issuer: &ParsedCertificate, key: &PrivateKey| {
        let req = CrlRequest {
            crl_number: 1,
            this_update: now - 60,
            next_update: now + 86_400,
            entries,
        };
        build_crl(&req, issuer, key)
            .and_then(|d| ParsedCrl::from_der(&d))
            .map_err(fail)
    };
    let crls = vec![
        crl(&entries, &pki.issuing, &pki.issuing_key)?,
        crl(&[], &pki.root, &pki.root_key)?,
    ];
    let anchors = [TrustAnchor::new(pki.root.clone())];
    let intermediates = [pki.issuing.clone()];
    let material = Material {
        anchors: &anchors,
        intermediates: &intermediates,
        crls: &crls,
        cache: None,
        fetcher: None,
    };
    let mut opts = ValidationOptions::new(now, Purpose::EmailSigning);
    opts.revocation = RevocationPolicy::Require;
    let operation = || {
        let v = validate(&leaf, &material, &opts);
        if !v.is_valid() {
            return Err(fail(format!("{:?}", v.verdict.findings)));
        }
        black_box(v);
        Ok(())
    };
    let issuing_spki = pki.issuing.spki_der().map_err(fail)?;
    let root_spki = pki.root.spki_der().map_err(fail)?;
    let primitive = || {
        leaf.verify_signature(&issuing_spki).map_err(fail)?;
        pki.issuing.verify_signature(&root_spki).map_err(fail)?;
        Ok(())
    };
    rates(budget, operation, primitive)
}

/// How many alternating slices [`rates`] cuts its budget into.
const SLICES: u32 = 20;

/// Operations per second of `op` and of `primitive`, each run for `budget` in total but in
/// alternating slices (op, primitive, op, …), so that both see the same machine: on a shared
/// host the speed of the CPU drifts by ±10% from one second to the next, and measuring one
/// after the other turned that drift into the ratio.
fn rates(
    budget: Duration,
    mut op: impl FnMut() -> Result<()>,
    mut primitive: impl FnMut() -> Result<()>,
) -> Result<(f64, f64)> {
    // Warm-up, and fail early.
    op()?;
    primitive()?;
    let slice = budget / SLICES;
    let mut spent = [Duration::ZERO; 2];
    let mut count = [0u64; 2];
    for _ in 0..SLICES {
        let sides: [&mut dyn FnMut() -> Result<()>; 2] = [&mut op, &mut primitive];
        for (side, f) in sides.into_iter().enumerate() {
            let start = Instant::now();
            let mut n = 0u64;
            while n == 0 || start.elapsed() < slice {
                f()?;
                n += 1;
            }
            spent[side] += start.elapsed();
            count[side] += n;
        }
    }
    let per_sec = |side: usize| count[side] as f64 / spent[side].as_secs_f64();
    Ok((per_sec(0), per_sec(1)))
}

/// Which keys and message sizes to measure (`--key-type`, `--size`; default both of each).
#[derive(Debug, Clone)]
pub struct Only {
    /// Key types.
    pub keys: Vec<KeyType>,
    /// Message sizes in bytes.
    pub sizes: Vec<usize>,
}

impl Only {
    /// The choice given on the command line, with the defaults for what was not given.
    pub fn new(keys: &[String], sizes: &[usize]) -> Result<Only> {
        let keys = if keys.is_empty() {
            KEYS.to_vec()
        } else {
            keys.iter()
                .map(|k| {
                    k.parse::<KeyType>()
                        .ok()
                        .filter(|kt| KEYS.contains(kt))
                        .ok_or_else(|| {
                            CliError(format!(
                                "--key-type '{k}': the benchmark measures rsa-2048 and ecdsa-p256"
                            ))
                        })
                })
                .collect::<Result<_>>()?
        };
        if let Some(s) = sizes.iter().find(|&&s| s == 0 || s > 64 << 20) {
            return Err(CliError(format!(
                "--size {s}: give a message size from 1 byte to 64 MiB"
            )));
        }
        let sizes = if sizes.is_empty() {
            SIZES.to_vec()
        } else {
            sizes.to_vec()
        };
        Ok(Only { keys, sizes })
    }
}

/// Runs the benchmark.
pub fn run(
    ops: &[BenchOp],
    only: &Only,
    seconds: f64,
    json_out: bool,
    now: u64,
) -> Result<ExitCode> {
    let ops: Vec<BenchOp> = if ops.is_empty() {
        vec![
            BenchOp::Sign,
            BenchOp::Verify,
            BenchOp::VerifyUncached,
            BenchOp::Issue,
            BenchOp::Encrypt,
            BenchOp::Decrypt,
            BenchOp::Validate,
        ]
    } else {
        ops.to_vec()
    };
    if !(0.05..=60.0).contains(&seconds) {
        return Err(CliError("--seconds must be between 0.05 and 60".into()));
    }
    let budget = Duration::from_secs_f64(seconds);
    let f = EphemeralPki::new(KeyType::EcdsaP256, now - 60).map_err(fail)?;
    let mut rows = Vec::new();
    let mut emit = |op: &str, key: &str, size: Option<usize>, ops: f64, primitive: f64| {
        if !json_out {
            let size_s = size.map_or("-".to_string(), |s| {
                if s >= 1 << 20 {
                    format!("{} MiB", s >> 20)
                } else {
                    format!("{} KiB", s >> 10)
                }
            });
            crate::out!(
                "{op:<15} {key:<11} {size_s:>8} {ops:>12.1}/s   primitive {primitive:>10.1}/s   ({:.0}% of the primitive rate)",
                100.0 * ops / primitive
            );
        }
        rows.push(json!({"operation": op, "key": key, "size": size, "ops_per_sec": ops, "primitive_ops_per_sec": primitive}));
    };
    let limits = Limits::default();
    let ber = BerLimits::default();
    for op in ops {
        match op {
            BenchOp::Sign | BenchOp::Verify | BenchOp::VerifyUncached => {
                for &kt in &only.keys {
                    let (cert, key) = f
                        .subscriber("bench@example.com", Profile::Signing, kt, 30)
                        .map_err(fail)?;
                    let chain = [f.issuing.clone()];
                    let how = SignMessage {
                        signer: Signer {
                            certificate: &cert,
                            key: &key,
                            chain: &chain,
                        },
                        opaque: false,
                        sid: SidKind::IssuerAndSerialNumber,
                        signing_time: now,
                        rsa_pss: false,
                    };
                    let alg = key
                        .signature_algorithm()
                        .ok_or_else(|| fail("key cannot sign"))?;
                    let probe = [0x42u8; 32];
                    let sig = key.sign(&probe).map_err(fail)?;
                    let spki = cert.spki_der().map_err(fail)?;
                    for &size in &only.sizes {
                        let msg = message(size);
                        if op == BenchOp::Sign {
                            let operation = || {
                                black_box(sign_message(&msg, &how, &limits).map_err(fail)?);
                                Ok(())
                            };
                            let primitive = || {
                                black_box(key.sign(&probe).map_err(fail)?);
                                Ok(())
                            };
                            let (ops, prim) = rates(budget, operation, primitive)?;
                            emit("sign", kt.name(), Some(size), ops, prim);
                        } else {
                            let signed = sign_message(&msg, &how, &limits).map_err(fail)?;
                            let cached = op == BenchOp::Verify;
                            let mut opts = VerifyOptions::trusting(now, [f.root.clone()]);
                            if !cached {
                                opts.cache = None;
                            }
                            let operation = || {
                                let v = verify_message(&signed, &opts, &limits, &ber);
                                if !v.report.verdict.is_valid() {
                                    return Err(fail(format!("{:?}", v.report.verdict.findings)));
                                }
                                Ok(())
                            };
                            // A verification with its chain checks three signatures: the
                            // message's, the leaf's and the issuing CA's (ECDSA P-256 here);
                            // by default the two CA signatures were checked before.
                            let root_spki = f.root.spki_der().map_err(fail)?;
                            let issuing_spki = f.issuing.spki_der().map_err(fail)?;
                            let primitive = || {
                                alg.verify(&spki, &probe, &sig).map_err(fail)?;
                                if !cached {
                                    f.issuing.verify_signature(&root_spki).map_err(fail)?;
                                    cert.verify_signature(&issuing_spki).map_err(fail)?;
                                }
                                Ok(())
                            };
                            let (ops, prim) = rates(budget, operation, primitive)?;
                            let name = if cached { "verify" } else { "verify-uncached" };
                            emit(name, kt.name(), Some(size), ops, prim);
                        }
                    }
                }
            }
            BenchOp::Issue => {
                let subject_key = PrivateKey::generate(KeyType::EcdsaP256).map_err(fail)?;
                let urls = PublicationUrls::under("http://pki.example.com", "issuing");
                let subject = f.issuing.subject_der().map_err(fail)?;
                let operation = || {
                    let req = SubscriberRequest {
                        email: "bench@example.com",
                        profile: Profile::Signing,
                        spki_der: subject_key.public_key_der(),
                        not_before: now,
                        validity_days: 365,
                        non_repudiation: false,
                    };
                    let t = subscriber_template(
                        &req,
                        random_serial().map_err(fail)?.to_vec(),
                        &f.issuing,
                        &urls,
                    )
                    .map_err(fail)?;
                    let der = sign_certificate(&t, &subject, &f.issuing_key).map_err(fail)?;
                    let c = ParsedCertificate::from_der(&der).map_err(fail)?;
                    if !lint(
                        &c,
                        Role::Subscriber {
                            profile: Profile::Signing,
                            email: "bench@example.com",
                        },
                        Some(&f.issuing),
                    )
                    .is_empty()
                    {
                        return Err(fail("lint"));
                    }
                    Ok(())
                };
                let primitive = || {
                    black_box(f.issuing_key.sign(&[7u8; 200]).map_err(fail)?);
                    Ok(())
                };
                let (ops, prim) = rates(budget, operation, primitive)?;
                emit("issue", "ecdsa-p256", None, ops, prim);
            }
            BenchOp::Validate => {
                for &kt in &only.keys {
                    let (ops, prim) = bench_validate(kt, now, budget)?;
                    emit("validate", kt.name(), None, ops, prim);
                }
            }
            BenchOp::Encrypt | BenchOp::Decrypt => {
                for &kt in &only.keys {
                    let (cert, key) = f
                        .subscriber("bench@example.com", Profile::Encryption, kt, 30)
                        .map_err(fail)?;
                    let recipients = [cert.clone()];
                    let spki = cert.spki_der().map_err(fail)?;
                    let curve = EcdhCurve::of_key_type(kt);
                    // What the recipient's private key works on: an RSA encryption of a
                    // content key, or an originator's ephemeral public key.
                    let cek = [0x5au8; CEK_LEN];
                    let received = match curve {
                        Some(c) => EphemeralKey::generate(c)
                            .map_err(fail)?
                            .public_key()
                            .to_vec(),
                        None => {
                            let ct = rsa_pkcs1v15_encrypt(&spki, &cek).map_err(fail)?;
                            if key
                                .rsa_pkcs1v15_decrypt_implicit(&ct, CEK_LEN)
                                .map_err(fail)?[..]
                                != cek
                            {
                                return Err(fail("RSA decryption does not give the key back"));
                            }
                            ct
                        }
                    };
                    // Encrypt: the sender's public-key step for one recipient (key transport,
                    // or a fresh ephemeral key and the agreement). Decrypt: the recipient's
                    // private-key operation alone.
                    let mut primitive = || -> Result<()> {
                        match (op, curve) {
                            (BenchOp::Encrypt, Some(c)) => {
                                let eph = EphemeralKey::generate(c).map_err(fail)?;
                                black_box(eph.agree(&spki).map_err(fail)?);
                            }
                            (BenchOp::Encrypt, None) => {
                                black_box(rsa_pkcs1v15_encrypt(&spki, &cek).map_err(fail)?);
                            }
                            (_, Some(_)) => {
                                black_box(key.ecdh(&received).map_err(fail)?);
                            }
                            (_, None) => {
                                black_box(
                                    key.rsa_pkcs1v15_decrypt_implicit(&received, CEK_LEN)
                                        .map_err(fail)?,
                                );
                            }
                        }
                        Ok(())
                    };
                    for &size in &only.sizes {
                        let msg = message(size);
                        if op == BenchOp::Encrypt {
                            let operation = || {
                                black_box(encrypt_message(&msg, &recipients, &limits)?);
                                Ok(())
                            };
                            let (ops, prim) = rates(budget, operation, &mut primitive)?;
                            emit("encrypt", kt.name(), Some(size), ops, prim);
                        } else {
                            let mut encrypted = Vec::new();
                            let entity = inner_entity(&msg, &limits)?;
                            for _ in 0..(DISTINCT_BYTES / size).max(1) {
                                let m = encrypt_message(&msg, &recipients, &limits)?;
                                if decrypt_message(&m, &cert, &key, &limits)?[..] != entity[..] {
                                    return Err(fail(
                                        "the decrypted content differs from the message",
                                    ));
                                }
                                encrypted.push(m);
                            }
                            let mut next = encrypted.iter().cycle();
                            let operation = || {
                                let m = next.next().ok_or_else(|| fail("no message"))?;
                                black_box(decrypt_message(m, &cert, &key, &limits)?);
                                Ok(())
                            };
                            let (ops, prim) = rates(budget, operation, &mut primitive)?;
                            emit("decrypt", kt.name(), Some(size), ops, prim);
                        }
                    }
                }
            }
        }
    }
    if json_out {
        crate::out!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| CliError(e.to_string()))?
        );
    }
    Ok(ExitCode::SUCCESS)
}
