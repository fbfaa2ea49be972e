//! OCSP (RFC 6960) against the real OpenSSL: requests OpenSSL writes are read by
//! `parse_request`; responses OpenSSL's responder (`openssl ocsp -index`, file mode, no
//! network) writes to Cachet's requests are checked by `check_response`; and responses
//! `build_response` writes are verified by `openssl ocsp -respin`.

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::RevocationReason;
use cachet_pki::ephemeral::EphemeralPki;
use cachet_pki::ext;
use cachet_pki::issue::{CertificateTemplate, random_serial, sign_certificate};
use cachet_pki::name::NameBuilder;
use cachet_pki::ocsp::*;
use cachet_pki::profile::Profile;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const DAY: u64 = 86_400;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Runs `openssl args…` in `dir`; a missing `openssl` fails the test with how to install it.
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = match Command::new("openssl").args(args).current_dir(dir).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`openssl` is not installed: apt-get install openssl")
        }
        Err(e) => panic!("cannot run openssl: {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = openssl(dir, args);
    assert!(ok, "openssl {} failed:\n{text}", args.join(" "));
    text
}

fn read_cert(dir: &Path, name: &str) -> ParsedCertificate {
    let bytes = std::fs::read(dir.join(name)).unwrap();
    ParsedCertificate::from_pem_or_der(&bytes)
        .unwrap()
        .remove(0)
}

/// A CA, a delegated responder (extendedKeyUsage OCSPSigning) and a subscriber with serial
/// 0x8F01 (INTEGER content 00 8F 01), all made by OpenSSL itself.
fn openssl_ca(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-subj",
        "/O=Interop/CN=OpenSSL Test CA",
    ]);
    openssl_ok(dir, &args);
    std::fs::write(
        dir.join("r.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n",
    )
    .unwrap();
    for (name, subj, serial, extfile) in [
        (
            "rsigner",
            "/O=Interop/CN=OpenSSL OCSP Responder",
            "0x7001",
            Some("r.ext"),
        ),
        ("sub", "/CN=alice@example.com", "0x8F01", None),
    ] {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let mut args = vec!["req", "-new"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", subj]);
        openssl_ok(dir, &args);
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            serial,
            "-days",
            "30",
            "-out",
            &pem,
        ];
        if let Some(e) = extfile {
            args.extend(["-extfile", e]);
        }
        openssl_ok(dir, &args);
    }
}

/// The hex after "OCSP Nonce:" in `openssl ocsp -req_text`/`-resp_text` output: the
/// extnValue, i.e. 04 LEN nonce.
fn printed_nonce(text: &str) -> Vec<u8> {
    let mut lines = text.lines().skip_while(|l| !l.contains("OCSP Nonce:"));
    lines.next().expect("no OCSP Nonce in the output");
    hex::decode(lines.next().expect("nonce value").trim()).unwrap()
}

#[test]
fn parse_request_reads_openssl_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    openssl_ca(dir);
    let ca = read_cert(dir, "ca.pem");
    let sub = read_cert(dir, "sub.pem");
    for (digest, hash) in [("-sha1", CertIdHash::Sha1), ("-sha256", CertIdHash::Sha256)] {
        openssl_ok(
            dir,
            &[
                "ocsp", digest, "-issuer", "ca.pem", "-cert", "sub.pem", "-reqout", "req.der",
                "-nonce",
            ],
        );
        let der = std::fs::read(dir.join("req.der")).unwrap();
        let req = parse_request(&der).unwrap();
        assert_eq!(req.cert_ids.len(), 1);
        let id = &req.cert_ids[0];
        assert_eq!(id.hash(), Some(hash));
        assert_eq!(id.serial_hex(), "8f01");
        assert_eq!(id.serial, sub.serial_bytes());
        assert!(id.matches_issuer(&ca));
        assert_eq!(*id, CertId::for_certificate(&ca, &sub, hash).unwrap());
        assert!(!req.signed);
        // OpenSSL writes the nonce as RFC 8954 says: an OCTET STRING inside extnValue.
        let text = openssl_ok(dir, &["ocsp", "-reqin", "req.der", "-req_text"]);
        let ext_value = printed_nonce(&text);
        assert_eq!(ext_value[0], 0x04);
        assert_eq!(req.nonce.as_deref(), Some(&ext_value[2..]));
        assert_eq!(req.nonce.as_ref().map(Vec::len), Some(16));
    }
    openssl_ok(
        dir,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-serial",
            "0x0A0B",
            "-cert",
            "sub.pem",
            "-reqout",
            "req.der",
            "-no_nonce",
        ],
    );
    let req = parse_request(&std::fs::read(dir.join("req.der")).unwrap()).unwrap();
    assert_eq!(req.nonce, None);
    let serials: Vec<String> = req.cert_ids.iter().map(CertId::serial_hex).collect();
    assert_eq!(serials, ["0a0b", "8f01"]);
}

#[test]
fn check_response_reads_the_openssl_responder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    openssl_ca(dir);
    let ca = read_cert(dir, "ca.pem");
    let sub = read_cert(dir, "sub.pem");
    let rsigner = read_cert(dir, "rsigner.pem");
    // OpenSSL's index: 8F01 valid, 0A0B revoked 2026-11-01 for keyCompromise, 00A1B2
    // (content 00 A1 B2) revoked without a reason; anything else unknown.
    std::fs::write(
        dir.join("index.txt"),
        "V\t491231000000Z\t\t8F01\tunknown\t/CN=alice@example.com\n\
         R\t491231000000Z\t261101000000Z,keyCompromise\t0A0B\tunknown\t/CN=bob\n\
         R\t491231000000Z\t261102000000Z\tA1B2\tunknown\t/CN=carol\n",
    )
    .unwrap();
    let revoked_at = 1_793_491_200; // 2026-11-01T00:00:00Z
    let cases: [(&[u8], CertStatus); 4] = [
        (sub.serial_bytes(), CertStatus::Good),
        (
            &[0x0a, 0x0b],
            CertStatus::Revoked {
                time: revoked_at,
                reason: Some(RevocationReason::KeyCompromise),
            },
        ),
        (
            &[0x00, 0xa1, 0xb2],
            CertStatus::Revoked {
                time: revoked_at + DAY,
                reason: None,
            },
        ),
        (&[0x12, 0x34, 0x56], CertStatus::Unknown),
    ];
    // A delegated responder named byName, and the CA itself named byKey.
    let signers: [(&str, &str, &[&str]); 2] = [
        ("rsigner.pem", "rsigner.key", &["-ndays", "1"]),
        ("ca.pem", "ca.key", &["-resp_key_id"]),
    ];
    for (signer, key, extra) in signers {
        for (hash, nonce) in [
            (CertIdHash::Sha1, Some([0x5au8; 32])),
            (CertIdHash::Sha256, None),
        ] {
            for (serial, expected) in &cases {
                let id = CertId::new(&ca, serial, hash).unwrap();
                let req = build_request(std::slice::from_ref(&id), nonce.as_ref().map(|n| &n[..]))
                    .unwrap();
                std::fs::write(dir.join("req.der"), &req).unwrap();
                let mut args = vec![
                    "ocsp",
                    "-index",
                    "index.txt",
                    "-CA",
                    "ca.pem",
                    "-rsigner",
                    signer,
                    "-rkey",
                    key,
                    "-reqin",
                    "req.der",
                    "-respout",
                    "resp.der",
                ];
                args.extend(extra);
                openssl_ok(dir, &args);
                let resp = std::fs::read(dir.join("resp.der")).unwrap();
                let query = OcspQuery {
                    cert_id: id,
                    nonce: nonce.map(|n| n.to_vec()),
                };
                let s = check_response(&resp, &query, &ca, now(), &CheckOptions::default())
                    .unwrap_or_else(|e| panic!("{signer}, {hash:?}, serial {serial:02x?}: {e}"));
                assert_eq!(&s.status, expected, "{signer}, serial {serial:02x?}");
                assert_eq!(s.nonce_echoed, nonce.is_some());
                match (&s.responder, signer) {
                    (
                        Responder::Delegated {
                            certificate,
                            no_check,
                        },
                        "rsigner.pem",
                    ) => {
                        assert_eq!(certificate.der(), rsigner.der());
                        assert!(!no_check);
                        assert!(matches!(s.responder_id, ResponderId::ByName(_)));
                        assert!(s.next_update.is_some());
                    }
                    (Responder::Issuer, "ca.pem") => {
                        assert!(matches!(s.responder_id, ResponderId::ByKey(_)));
                        // No -ndays: no nextUpdate, so max_age applies.
                        assert_eq!(s.next_update, None);
                    }
                    (r, _) => panic!("unexpected responder {r:?} for {signer}"),
                }
            }
        }
    }
    // A response for one serial does not answer for another.
    let good = CertId::new(&ca, sub.serial_bytes(), CertIdHash::Sha1).unwrap();
    std::fs::write(dir.join("req.der"), build_request(&[good], None).unwrap()).unwrap();
    openssl_ok(
        dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "ca.pem",
            "-rsigner",
            "rsigner.pem",
            "-rkey",
            "rsigner.key",
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
            "-ndays",
            "1",
        ],
    );
    let resp = std::fs::read(dir.join("resp.der")).unwrap();
    let other = OcspQuery {
        cert_id: CertId::new(&ca, &[0x0a, 0x0b], CertIdHash::Sha1).unwrap(),
        nonce: None,
    };
    assert_eq!(
        check_response(&resp, &other, &ca, now(), &CheckOptions::default()).unwrap_err(),
        OcspError::NoMatchingResponse
    );
    // …and is stale two days later.
    let q = OcspQuery {
        cert_id: CertId::new(&ca, sub.serial_bytes(), CertIdHash::Sha1).unwrap(),
        nonce: None,
    };
    assert!(matches!(
        check_response(&resp, &q, &ca, now() + 2 * DAY, &CheckOptions::default()),
        Err(OcspError::Stale { .. })
    ));
}

/// A delegated responder certificate issued by `pki`'s issuing CA.
fn delegated_responder(
    pki: &EphemeralPki,
    kt: KeyType,
    t0: u64,
) -> (ParsedCertificate, PrivateKey) {
    let key = PrivateKey::generate(kt).unwrap();
    let ski = ext::key_identifier(key.public_key_der()).unwrap();
    let template = CertificateTemplate {
        serial: random_serial().unwrap().to_vec(),
        subject_der: NameBuilder::new()
            .common_name("Ephemeral OCSP Responder")
            .unwrap()
            .to_der()
            .unwrap(),
        spki_der: key.public_key_der().to_vec(),
        not_before: t0,
        not_after: t0 + 30 * DAY,
        extensions: vec![
            ext::basic_constraints(false, None).unwrap(),
            ext::key_usage(ext::KeyUsageBit::DigitalSignature.into()).unwrap(),
            ext::ext_key_usage(&[ID_KP_OCSP_SIGNING]).unwrap(),
            ext::subject_key_identifier(&ski).unwrap(),
            ext::authority_key_identifier(&pki.issuing.subject_key_id().unwrap().unwrap()).unwrap(),
        ],
    };
    let der = sign_certificate(
        &template,
        &pki.issuing.subject_der().unwrap(),
        &pki.issuing_key,
    )
    .unwrap();
    (ParsedCertificate::from_der(&der).unwrap(), key)
}

#[test]
fn openssl_verifies_build_response() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let t = now();
    for kt in [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Ed25519,
    ] {
        let pki = EphemeralPki::new(kt, t - DAY).unwrap();
        let (sub, _) = pki
            .subscriber(
                "alice@example.com",
                Profile::Signing,
                KeyType::EcdsaP256,
                365,
            )
            .unwrap();
        let (rcert, rkey) = delegated_responder(&pki, kt, t - DAY);
        std::fs::write(dir.join("root.pem"), pki.root.to_pem()).unwrap();
        std::fs::write(dir.join("issuing.pem"), pki.issuing.to_pem()).unwrap();
        std::fs::write(dir.join("sub.pem"), sub.to_pem()).unwrap();
        let id = CertId::for_certificate(&pki.issuing, &sub, CertIdHash::Sha1).unwrap();
        let nonce = [0x17u8; 32];
        let req_der = build_request(std::slice::from_ref(&id), Some(&nonce)).unwrap();
        std::fs::write(dir.join("req.der"), &req_der).unwrap();
        let req = parse_request(&req_der).unwrap();
        let statuses = [
            (CertStatus::Good, "good", None),
            (
                CertStatus::Revoked {
                    time: t - 3600,
                    reason: Some(RevocationReason::KeyCompromise),
                },
                "revoked",
                Some("Reason: keyCompromise"),
            ),
            (CertStatus::Unknown, "unknown", None),
        ];
        for (status, word, detail) in statuses {
            let entry = ResponseEntry {
                cert_id: id.clone(),
                status,
                this_update: t - 60,
                next_update: Some(t + DAY),
            };
            // Signed by the delegated responder (its certificate in certs) and by the CA.
            let signers: [(&ParsedCertificate, &PrivateKey); 2] =
                [(&rcert, &rkey), (&pki.issuing, &pki.issuing_key)];
            for (signer, key) in signers {
                let resp = build_response(signer, key, t, std::slice::from_ref(&entry), Some(&req))
                    .unwrap();
                std::fs::write(dir.join("resp.der"), &resp).unwrap();
                let label = format!("{kt}, {word}, signed by {}", signer.subject());
                // With the request: the nonce is checked too.
                let text = openssl_ok(
                    dir,
                    &[
                        "ocsp",
                        "-respin",
                        "resp.der",
                        "-reqin",
                        "req.der",
                        "-issuer",
                        "issuing.pem",
                        "-verify_other",
                        "issuing.pem",
                        "-CAfile",
                        "root.pem",
                        "-resp_text",
                    ],
                );
                assert!(text.contains("Response verify OK"), "{label}:\n{text}");
                assert!(!text.contains("Nonce Verify error"), "{label}:\n{text}");
                assert!(!text.contains("WARNING"), "{label}:\n{text}");
                assert_eq!(printed_nonce(&text)[2..], nonce, "{label}");
                // With the certificate: OpenSSL prints its status.
                let text = openssl_ok(
                    dir,
                    &[
                        "ocsp",
                        "-respin",
                        "resp.der",
                        "-issuer",
                        "issuing.pem",
                        "-cert",
                        "sub.pem",
                        "-verify_other",
                        "issuing.pem",
                        "-CAfile",
                        "root.pem",
                        "-no_nonce",
                    ],
                );
                assert!(text.contains("Response verify OK"), "{label}:\n{text}");
                assert!(
                    text.contains(&format!("sub.pem: {word}")),
                    "{label}:\n{text}"
                );
                if let Some(d) = detail {
                    assert!(text.contains(d), "{label}:\n{text}");
                }
                // And Cachet agrees with itself.
                let q = OcspQuery {
                    cert_id: id.clone(),
                    nonce: Some(nonce.to_vec()),
                };
                let s =
                    check_response(&resp, &q, &pki.issuing, t, &CheckOptions::default()).unwrap();
                assert_eq!(s.status, entry.status);
            }
        }
        // A tampered response is refused by OpenSSL as well.
        let mut resp = build_response(
            &rcert,
            &rkey,
            t,
            &[ResponseEntry {
                cert_id: id.clone(),
                status: CertStatus::Good,
                this_update: t - 60,
                next_update: Some(t + DAY),
            }],
            None,
        )
        .unwrap();
        let n = resp.len();
        // The signature sits just before the [0] certs; flip a byte inside the TBS instead,
        // in thisUpdate's seconds (a digit stays a digit).
        let this_update = {
            let s = cachet_pki::time::rfc3339(t - 60);
            s.replace(['-', 'T', ':'], "").replace('Z', "")
        };
        let pos = resp
            .windows(this_update.len())
            .position(|w| w == this_update.as_bytes())
            .unwrap();
        let last = pos + this_update.len() - 1;
        resp[last] = if resp[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(resp.len(), n);
        std::fs::write(dir.join("resp.der"), &resp).unwrap();
        let (_, text) = openssl(
            dir,
            &[
                "ocsp",
                "-respin",
                "resp.der",
                "-issuer",
                "issuing.pem",
                "-cert",
                "sub.pem",
                "-verify_other",
                "issuing.pem",
                "-CAfile",
                "root.pem",
                "-no_nonce",
            ],
        );
        assert!(!text.contains("Response verify OK"), "{kt}:\n{text}");
        let q = OcspQuery {
            cert_id: id.clone(),
            nonce: None,
        };
        assert_eq!(
            check_response(&resp, &q, &pki.issuing, t, &CheckOptions::default()).unwrap_err(),
            OcspError::BadSignature
        );
    }
    // An error status reads as such in OpenSSL.
    std::fs::write(dir.join("resp.der"), error_response(ErrorStatus::TryLater)).unwrap();
    let (_, text) = openssl(
        dir,
        &["ocsp", "-respin", "resp.der", "-resp_text", "-noverify"],
    );
    assert!(text.contains("Responder Error: trylater (3)"), "{text}");
}
