//! Parsers of untrusted bytes (certificates, CSRs, CRLs, PEM) return errors, never panic,
//! on every truncation and on byte flips of valid input, and refuse oversized input.

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::{CrlRequest, ParsedCrl, RevocationReason, RevokedEntry, build_crl};
use cachet_pki::csr::VerifiedCsr;
use cachet_pki::issue::{random_serial, sign_certificate};
use cachet_pki::name::NameBuilder;
use cachet_pki::profile::root_ca_template;

/// A PKCS#10 request for alice@example.com made by OpenSSL 3.0 (P-256, SAN rfc822Name).
const CSR_PEM: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIIBBjCBrQIBADAcMRowGAYDVQQDDBFhbGljZUBleGFtcGxlLmNvbTBZMBMGByqG
SM49AgEGCCqGSM49AwEHA0IABAZYmMutqF6gOWFORInCMvReZ+BtKA3EeW6syjhj
beabU821KWUkF39R0gq4peJi4cv0RJFe6AzO2wtbsKEADYygLzAtBgkqhkiG9w0B
CQ4xIDAeMBwGA1UdEQQVMBOBEWFsaWNlQGV4YW1wbGUuY29tMAoGCCqGSM49BAMC
A0gAMEUCIQDDWjy7XYOjN2jWWwnk4MVN7EeYKxJmUNWO/juUTcLiKAIgE3jX0ou0
97q7c1saVqRPadALY1vdSeKiW0y0Fs/SEGs=
-----END CERTIFICATE REQUEST-----
";

fn mutations(valid: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let truncations = (0..valid.len()).map(|n| valid[..n].to_vec());
    let flips = (0..valid.len()).flat_map(move |i| {
        [0x01u8, 0x80, 0xff].into_iter().map(move |m| {
            let mut v = valid.to_vec();
            v[i] ^= m;
            v
        })
    });
    truncations.chain(flips)
}

#[test]
fn csr_parser_survives_mutation_and_detects_it() {
    let csr = VerifiedCsr::from_pem_or_der(CSR_PEM.as_bytes()).expect("the fixture verifies");
    csr.check_email("alice@example.com").unwrap();
    assert!(csr.check_email("bob@example.com").is_err());
    let der = cachet_pki::pem::der_objects(CSR_PEM.as_bytes(), &["CERTIFICATE REQUEST"], "CSR")
        .unwrap()
        .remove(0);
    let mut accepted = 0;
    for m in mutations(&der) {
        if let Ok(c) = VerifiedCsr::from_pem_or_der(&m) {
            // A mutation that still verifies must not have changed what was signed.
            assert_eq!(c.spki_der(), csr.spki_der());
            accepted += 1;
        }
    }
    // Only flips in the unsigned wrapper (e.g. DER-irrelevant bits) may survive; nearly all fail.
    assert!(accepted < der.len() / 10, "{accepted} mutations accepted");
    assert!(VerifiedCsr::from_pem_or_der(&vec![0x30; 70_000]).is_err());
}

#[test]
fn certificate_and_crl_parsers_survive_mutation() {
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let name = NameBuilder::new()
        .common_name("Fuzz Root")
        .unwrap()
        .to_der()
        .unwrap();
    let t = root_ca_template(
        name.clone(),
        key.public_key_der().to_vec(),
        random_serial().unwrap().to_vec(),
        1_795_000_000,
    )
    .unwrap();
    let cert_der = sign_certificate(&t, &name, &key).unwrap();
    let cert = ParsedCertificate::from_der(&cert_der).unwrap();
    let spki = cert.spki_der().unwrap();
    for m in mutations(&cert_der) {
        if let Ok(c) = ParsedCertificate::from_der(&m) {
            // Exercise every accessor on whatever parsed.
            let _ = (
                c.subject(),
                c.serial_hex(),
                c.email_addresses(),
                c.key_usage(),
                c.basic_constraints(),
                c.subject_key_id(),
            );
            if m != cert_der {
                assert!(
                    c.verify_signature(&spki).is_err(),
                    "an altered certificate must not verify"
                );
            }
        }
    }
    let entries = [RevokedEntry {
        serial: vec![0x42; 16],
        revoked_at: 1_795_000_100,
        reason: RevocationReason::KeyCompromise,
    }];
    let crl_der = build_crl(
        &CrlRequest {
            crl_number: 3,
            this_update: 1_795_000_200,
            next_update: 1_795_600_000,
            entries: &entries,
        },
        &cert,
        &key,
    )
    .unwrap();
    for m in mutations(&crl_der) {
        if let Ok(c) = ParsedCrl::from_der(&m) {
            let _ = (c.entries(), c.crl_number(), c.issuer(), c.next_update());
            if m != crl_der {
                assert!(
                    c.verify_signature(&spki).is_err(),
                    "an altered CRL must not verify"
                );
            }
        }
    }
    assert!(ParsedCertificate::from_der(&vec![0x30; 70_000]).is_err());
    assert!(
        ParsedCertificate::from_pem_or_der(
            b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"
        )
        .is_err()
    );
}
