//! Every profile and key type builds a certificate that passes its own lint, and the lint
//! catches certificates that break the rules.

use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::{CrlRequest, ParsedCrl, RevocationReason, RevokedEntry, build_crl};
use cachet_pki::issue::{random_serial, sign_certificate};
use cachet_pki::lint::{Role, lint};
use cachet_pki::name::NameBuilder;
use cachet_pki::profile::*;

const NOW: u64 = 1_795_000_000; // 2026-11-18

struct Ca {
    root: ParsedCertificate,
    issuing: ParsedCertificate,
    issuing_key: PrivateKey,
}

fn ca(kt: KeyType) -> Ca {
    let root_key = PrivateKey::generate(kt).unwrap();
    let name = NameBuilder::new()
        .organization("Example")
        .unwrap()
        .common_name("Example Root CA")
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
    assert_eq!(lint(&root, Role::RootCa, None), vec![]);
    let issuing_key = PrivateKey::generate(kt).unwrap();
    let iname = NameBuilder::new()
        .organization("Example")
        .unwrap()
        .common_name("Example S/MIME CA")
        .unwrap()
        .to_der()
        .unwrap();
    let urls = PublicationUrls::under("http://pki.example.com", "root");
    let t = issuing_ca_template(
        iname,
        issuing_key.public_key_der().to_vec(),
        random_serial().unwrap().to_vec(),
        NOW,
        &root,
        &urls,
    )
    .unwrap();
    let issuing =
        ParsedCertificate::from_der(&sign_certificate(&t, &name, &root_key).unwrap()).unwrap();
    assert_eq!(lint(&issuing, Role::IssuingCa, Some(&root)), vec![]);
    Ca {
        root,
        issuing,
        issuing_key,
    }
}

#[test]
fn every_profile_and_key_type_passes_its_lint() {
    let ca = ca(KeyType::EcdsaP256);
    let urls = PublicationUrls::under("http://pki.example.com", "issuing");
    for profile in Profile::ALL {
        for kt in KeyType::ALL {
            let key = PrivateKey::generate(kt).unwrap();
            let req = SubscriberRequest {
                email: "alice@example.com",
                profile,
                spki_der: key.public_key_der(),
                not_before: NOW,
                validity_days: 365,
                non_repudiation: false,
            };
            let t = match subscriber_template(
                &req,
                random_serial().unwrap().to_vec(),
                &ca.issuing,
                &urls,
            ) {
                Ok(t) => t,
                Err(_) => {
                    assert!(!profile.allows_key_type(kt), "{profile} {kt} refused");
                    continue;
                }
            };
            let der =
                sign_certificate(&t, &ca.issuing.subject_der().unwrap(), &ca.issuing_key).unwrap();
            let cert = ParsedCertificate::from_der(&der).unwrap();
            let f = lint(
                &cert,
                Role::Subscriber {
                    profile,
                    email: "alice@example.com",
                },
                Some(&ca.issuing),
            );
            assert_eq!(f, vec![], "{profile} {kt}");
            // The same certificate under the wrong role or address is refused.
            let wrong = if profile == Profile::Signing {
                Profile::Encryption
            } else {
                Profile::Signing
            };
            assert!(
                !lint(
                    &cert,
                    Role::Subscriber {
                        profile: wrong,
                        email: "alice@example.com"
                    },
                    Some(&ca.issuing)
                )
                .is_empty()
            );
            assert!(
                lint(
                    &cert,
                    Role::Subscriber {
                        profile,
                        email: "bob@example.com"
                    },
                    Some(&ca.issuing)
                )
                .iter()
                .any(|f| f.rule == "smime-br-san-mailbox")
            );
            // Checked against another CA, the signature and AKI rules fire.
            assert!(
                lint(
                    &cert,
                    Role::Subscriber {
                        profile,
                        email: "alice@example.com"
                    },
                    Some(&ca.root)
                )
                .iter()
                .any(|f| f.rule == "signature-verifies")
            );
        }
    }
}

#[test]
fn lint_catches_overlong_validity_and_missing_extensions() {
    let ca = ca(KeyType::EcdsaP384);
    let urls = PublicationUrls::under("http://pki.example.com", "issuing");
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let req = SubscriberRequest {
        email: "a@example.com",
        profile: Profile::Signing,
        spki_der: key.public_key_der(),
        not_before: NOW,
        validity_days: 825,
        non_repudiation: true,
    };
    let mut t =
        subscriber_template(&req, random_serial().unwrap().to_vec(), &ca.issuing, &urls).unwrap();
    t.not_after += 86_400;
    t.extensions
        .retain(|e| e.extn_id != const_oid::db::rfc5280::ID_CE_CERTIFICATE_POLICIES);
    t.serial = vec![1, 2, 3];
    let der = sign_certificate(&t, &ca.issuing.subject_der().unwrap(), &ca.issuing_key).unwrap();
    let cert = ParsedCertificate::from_der(&der).unwrap();
    let rules: Vec<&str> = lint(
        &cert,
        Role::Subscriber {
            profile: Profile::Signing,
            email: "a@example.com",
        },
        Some(&ca.issuing),
    )
    .iter()
    .map(|f| f.rule)
    .collect();
    for r in [
        "smime-br-validity",
        "smime-br-certificate-policies",
        "smime-br-serial-entropy",
    ] {
        assert!(rules.contains(&r), "{r} missing from {rules:?}");
    }
    let too_long = SubscriberRequest {
        validity_days: 826,
        ..req
    };
    assert!(subscriber_template(&too_long, vec![1; 16], &ca.issuing, &urls).is_err());
}

#[test]
fn crl_round_trips_with_reasons_and_number() {
    let ca = ca(KeyType::Rsa2048);
    let entries = vec![
        RevokedEntry {
            serial: vec![0x11; 16],
            revoked_at: NOW + 10,
            reason: RevocationReason::KeyCompromise,
        },
        RevokedEntry {
            serial: vec![0x22; 16],
            revoked_at: NOW + 20,
            reason: RevocationReason::Unspecified,
        },
    ];
    let der = build_crl(
        &CrlRequest {
            crl_number: 7,
            this_update: NOW + 30,
            next_update: NOW + 30 + 7 * 86_400,
            entries: &entries,
        },
        &ca.issuing,
        &ca.issuing_key,
    )
    .unwrap();
    let crl = ParsedCrl::from_der(&der).unwrap();
    crl.verify_signature(&ca.issuing.spki_der().unwrap())
        .unwrap();
    assert!(crl.verify_signature(&ca.root.spki_der().unwrap()).is_err());
    assert_eq!(crl.crl_number(), Some(7));
    assert_eq!(crl.entries(), entries);
    assert_eq!(crl.next_update(), Some(NOW + 30 + 7 * 86_400));
}

#[test]
fn key_recovery_agent_certificate_only_receives_keys_and_passes_its_lint() {
    let root_key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let name = NameBuilder::new()
        .organization("Example")
        .unwrap()
        .common_name("Example Root CA")
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
    let urls = PublicationUrls::under("http://pki.example.com", "root");
    for (kt, expected_ku) in [
        (KeyType::EcdsaP256, "keyAgreement"),
        (KeyType::Rsa3072, "keyEncipherment"),
    ] {
        let key = PrivateKey::generate(kt).unwrap();
        let subject = NameBuilder::new()
            .organization("Example")
            .unwrap()
            .common_name(&kra_common_name("Example"))
            .unwrap()
            .to_der()
            .unwrap();
        let t = kra_template(
            subject,
            key.public_key_der().to_vec(),
            random_serial().unwrap().to_vec(),
            NOW,
            &root,
            &urls,
        )
        .unwrap();
        let cert =
            ParsedCertificate::from_der(&sign_certificate(&t, &name, &root_key).unwrap()).unwrap();
        assert_eq!(
            lint(&cert, Role::KeyRecoveryAgent, Some(&root)),
            vec![],
            "{kt}"
        );
        assert_eq!(cert.subject(), "CN=Example Key Recovery Agent,O=Example");
        let (critical, ku) = cert.key_usage().unwrap().unwrap();
        assert!(critical);
        assert_eq!(ku.0.bits(), kra_key_usage(kt).bits(), "{kt} {expected_ku}");
        assert!(
            !ku.0
                .contains(x509_cert::ext::pkix::KeyUsages::DigitalSignature)
        );
        let (bc_critical, bc) = cert.basic_constraints().unwrap().unwrap();
        assert!(bc_critical && !bc.ca);
        assert!(cert.ext_key_usage().unwrap().is_none());
        // Like the issuing CA: ten years within the root, not a subscriber's 825 days.
        assert!(cert.not_after() - cert.not_before() > 3000 * 86_400);
        assert!(cert.not_after() <= root.not_after());
        // Under a subscriber or CA role the lint refuses it.
        assert!(!lint(&cert, Role::IssuingCa, Some(&root)).is_empty());
    }
    // A signing-only key type is refused.
    let ed = PrivateKey::generate(KeyType::Ed25519).unwrap();
    assert!(
        kra_template(
            name.clone(),
            ed.public_key_der().to_vec(),
            random_serial().unwrap().to_vec(),
            NOW,
            &root,
            &urls,
        )
        .is_err()
    );
    // A long organisation name falls back to a commonName that fits ub-common-name.
    assert_eq!(kra_common_name(&"x".repeat(46)), "Key Recovery Agent");
}

/// The delegated OCSP responder certificate passes its lint, is accepted by the OCSP
/// checker as authorised (RFC 6960 §4.2.2.2), and the lint refuses a subscriber-style
/// certificate in its role.
#[test]
fn ocsp_signer_profile() {
    use cachet_pki::ocsp::{self, CertIdHash, CertStatus, CheckOptions, OcspQuery};
    for kt in [KeyType::EcdsaP256, KeyType::Rsa2048] {
        let ca = ca(kt);
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let name = NameBuilder::new()
            .common_name(&ocsp_signer_common_name("Example S/MIME CA"))
            .unwrap()
            .to_der()
            .unwrap();
        let t = ocsp_signer_template(
            name,
            key.public_key_der().to_vec(),
            random_serial().unwrap().to_vec(),
            NOW,
            NOW + 7 * 86_400,
            &ca.issuing,
        )
        .unwrap();
        let signer = ParsedCertificate::from_der(
            &sign_certificate(&t, &ca.issuing.subject_der().unwrap(), &ca.issuing_key).unwrap(),
        )
        .unwrap();
        assert_eq!(lint(&signer, Role::OcspSigner, Some(&ca.issuing)), vec![]);
        // A responder certificate that outlives the limit is refused by the template.
        assert!(
            ocsp_signer_template(
                vec![0x30, 0x00],
                key.public_key_der().to_vec(),
                vec![1; 16],
                NOW,
                NOW + 40 * 86_400,
                &ca.issuing,
            )
            .is_err()
        );
        // The issuing CA's own certificate is no OCSP responder.
        assert!(!lint(&ca.issuing, Role::OcspSigner, Some(&ca.issuing)).is_empty());

        let id = ocsp::CertId::new(&ca.issuing, &[0x42; 16], CertIdHash::Sha1).unwrap();
        let entry = ocsp::ResponseEntry {
            cert_id: id.clone(),
            status: CertStatus::Good,
            this_update: NOW + 60,
            next_update: Some(NOW + 86_400),
        };
        let der = ocsp::build_response(&signer, &key, NOW + 60, &[entry], None).unwrap();
        let q = OcspQuery {
            cert_id: id,
            nonce: None,
        };
        let s = ocsp::check_response(&der, &q, &ca.issuing, NOW + 120, &CheckOptions::default())
            .unwrap();
        assert_eq!(s.status, CertStatus::Good);
        assert!(matches!(
            s.responder,
            ocsp::Responder::Delegated { no_check: true, .. }
        ));
    }
}
