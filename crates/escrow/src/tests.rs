//! The whole flow, and every refusal, over in-memory CA hierarchies.

use crate::officer::open_share;
use crate::*;
use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::ParsedCertificate;
use cachet_pki::Profile;
use cachet_pki::ephemeral::EphemeralPki;
use cachet_pki::pkcs12;
use std::sync::OnceLock;

/// The hierarchy's notBefore; certificates are valid for years after it.
const T0: u64 = 1_750_000_000;
/// "Now" for requests.
const NOW: u64 = T0 + 86_400;

fn fast() -> Argon2Cost {
    Argon2Cost::insecure_for_tests(Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
}

fn pki() -> &'static EphemeralPki {
    static PKI: OnceLock<EphemeralPki> = OnceLock::new();
    PKI.get_or_init(|| EphemeralPki::new(KeyType::EcdsaP256, T0).unwrap())
}

fn enc_cert(email: &str, kt: KeyType) -> (ParsedCertificate, PrivateKey) {
    pki()
        .subscriber(email, Profile::Encryption, kt, 365)
        .unwrap()
}

/// A P-256 key-recovery-agent certificate and its key.
fn kra() -> RecoveryKey {
    let (cert, key) = enc_cert("kra@example.com", KeyType::EcdsaP256);
    RecoveryKey::new(&cert, key.pkcs8_der()).unwrap()
}

fn pass(i: usize) -> Vec<u8> {
    format!("correct horse battery staple #{i}").into_bytes()
}

fn name(i: usize) -> String {
    format!("officer-{i}")
}

fn recover_purpose(email: &str) -> RequestPurpose {
    RequestPurpose::Recover {
        email: email.into(),
        serial: None,
    }
}

fn new_request(sealed: &SealedRecoveryKey) -> (RecoveryRequest, RequestSecret) {
    RecoveryRequest::new(
        "req-1",
        recover_purpose("alice@example.com"),
        "alice lost her laptop",
        sealed,
        NOW,
        DEFAULT_REQUEST_TTL,
    )
    .unwrap()
}

/// What officers approve with, by index: passphrases or certificate keys.
enum Cred {
    Pass(Vec<u8>),
    Key(PrivateKey),
}

impl Cred {
    fn as_credential(&self) -> OfficerCredential<'_> {
        match self {
            Cred::Pass(p) => OfficerCredential::Passphrase(p),
            Cred::Key(k) => OfficerCredential::PrivateKey(k),
        }
    }
}

/// Splits `recovery` M-of-N among officers, every other one a certificate officer when
/// `mixed`; returns the split and each officer's credential.
fn mixed_split(
    recovery: &RecoveryKey,
    m: usize,
    n: usize,
    mixed: bool,
) -> (RecoverySplit, Vec<Cred>) {
    let names: Vec<String> = (0..n).map(name).collect();
    let mut certs = Vec::new();
    let mut creds = Vec::new();
    for (i, officer) in names.iter().enumerate() {
        if mixed && i % 2 == 1 {
            let kt = if i % 4 == 1 {
                KeyType::EcdsaP256
            } else {
                KeyType::Rsa2048
            };
            let (c, k) = enc_cert(&format!("{officer}@example.com"), kt);
            certs.push(Some(c));
            creds.push(Cred::Key(k));
        } else {
            certs.push(None);
            creds.push(Cred::Pass(pass(i)));
        }
    }
    let specs: Vec<OfficerSpec<'_>> = (0..n)
        .map(|i| match (&certs[i], &creds[i]) {
            (Some(c), _) => OfficerSpec::Certificate {
                name: &names[i],
                cert: c,
            },
            (None, Cred::Pass(p)) => OfficerSpec::Passphrase {
                name: &names[i],
                passphrase: p,
            },
            (None, Cred::Key(_)) => unreachable!(),
        })
        .collect();
    let split = split(recovery, m, &specs, fast()).unwrap();
    (split, creds)
}

#[test]
fn split_and_complete_1_of_1_2_of_3_3_of_5_with_passphrase_and_certificate_officers() {
    let recovery = kra();
    for (m, n, mixed, approvers) in [
        (1, 1, false, vec![0]),
        (2, 3, false, vec![2, 0]),
        (2, 3, true, vec![1, 2]),
        (3, 5, true, vec![4, 1, 3]),
        (3, 5, false, vec![0, 1, 2]),
    ] {
        let (s, creds) = mixed_split(&recovery, m, n, mixed);
        assert_eq!(s.shares.len(), n);
        assert_eq!(usize::from(s.sealed_key.threshold), m);
        for (i, sh) in s.shares.iter().enumerate() {
            assert_eq!(sh.officer, name(i));
            assert_eq!(usize::from(sh.index), i + 1);
            assert_eq!(sh.generation, s.sealed_key.generation);
            let want = if mixed && i % 2 == 1 {
                ShareScheme::Certificate
            } else {
                ShareScheme::Passphrase
            };
            assert_eq!(sh.scheme, want);
        }
        let (mut req, secret) = new_request(&s.sealed_key);
        for (k, &i) in approvers.iter().enumerate() {
            req.approve(&s.shares[i], creds[i].as_credential(), NOW + 60 * k as u64)
                .unwrap();
        }
        assert!(req.has_enough_approvals());
        let rebuilt = req.complete(&secret, &s.sealed_key, NOW + 3600).unwrap();
        assert_eq!(
            rebuilt.pkcs8(),
            recovery.pkcs8(),
            "{m}-of-{n} mixed={mixed}"
        );
        assert_eq!(rebuilt.certificate().der(), recovery.certificate().der());
        assert_eq!(req.state(), RequestState::Completed { at: NOW + 3600 });
        assert!(
            req.approvals()
                .iter()
                .all(|a| a.share_for_request.is_empty()),
            "sealed shares are erased on completion"
        );
    }
}

#[test]
fn strong_default_argon2_parameters_work_end_to_end() {
    // The production path: 64 MiB, 3 passes, 4 lanes (RFC 9106 §4).
    assert_eq!(
        Argon2Cost::default().params(),
        Argon2Params {
            memory_kib: 65536,
            iterations: 3,
            parallelism: 4
        }
    );
    let recovery = kra();
    let p = pass(0);
    let s = split(
        &recovery,
        1,
        &[OfficerSpec::Passphrase {
            name: "admin",
            passphrase: &p,
        }],
        Argon2Cost::strong(),
    )
    .unwrap();
    let (mut req, secret) = new_request(&s.sealed_key);
    req.approve(&s.shares[0], OfficerCredential::Passphrase(&p), NOW)
        .unwrap();
    let rebuilt = req.complete(&secret, &s.sealed_key, NOW).unwrap();
    assert_eq!(rebuilt.pkcs8(), recovery.pkcs8());
}

#[test]
fn argon2_cost_has_a_floor_and_a_ceiling() {
    let weak = Argon2Params {
        memory_kib: 8 * 1024,
        iterations: 3,
        parallelism: 1,
    };
    assert!(matches!(
        Argon2Cost::new(weak),
        Err(EscrowError::Argon2Parameters(_))
    ));
    assert!(Argon2Cost::new(Argon2Cost::FLOOR).is_ok());
    assert!(matches!(
        Argon2Cost::new(Argon2Params {
            iterations: 1,
            ..Argon2Cost::FLOOR
        }),
        Err(EscrowError::Argon2Parameters(_))
    ));
    assert!(matches!(
        Argon2Cost::new(Argon2Params {
            memory_kib: Argon2Cost::CEILING.memory_kib + 1,
            ..Argon2Cost::FLOOR
        }),
        Err(EscrowError::Argon2Parameters(_))
    ));
}

#[test]
fn wrong_passphrase_is_refused_and_loses_nothing() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 2, 3, false);
    let (mut req, secret) = new_request(&s.sealed_key);
    let before = req.clone();
    assert_eq!(
        req.approve(
            &s.shares[0],
            OfficerCredential::Passphrase(b"not the passphrase at all"),
            NOW
        )
        .unwrap_err(),
        EscrowError::WrongPassphrase { officer: name(0) }
    );
    assert_eq!(req, before, "a refused approval changes nothing");
    // The right passphrase still works afterwards.
    req.approve(&s.shares[0], creds[0].as_credential(), NOW)
        .unwrap();
    req.approve(&s.shares[1], creds[1].as_credential(), NOW)
        .unwrap();
    assert!(req.complete(&secret, &s.sealed_key, NOW).is_ok());
}

#[test]
fn certificate_officer_needs_their_own_key() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 2, 3, true);
    let (mut req, _) = new_request(&s.sealed_key);
    let (_, stranger) = enc_cert("stranger@example.com", KeyType::EcdsaP256);
    assert_eq!(
        req.approve(&s.shares[1], OfficerCredential::PrivateKey(&stranger), NOW)
            .unwrap_err(),
        EscrowError::WrongOfficerKey { officer: name(1) }
    );
    assert!(matches!(
        req.approve(&s.shares[1], OfficerCredential::Passphrase(&pass(1)), NOW),
        Err(EscrowError::CredentialKind { .. })
    ));
    let Cred::Key(k) = &creds[1] else {
        unreachable!()
    };
    assert!(matches!(
        req.approve(&s.shares[0], OfficerCredential::PrivateKey(k), NOW),
        Err(EscrowError::CredentialKind { .. })
    ));
    req.approve(&s.shares[1], creds[1].as_credential(), NOW)
        .unwrap();
}

#[test]
fn one_officer_cannot_approve_twice_and_m_approvals_close_the_list() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 2, 3, false);
    let (mut req, _) = new_request(&s.sealed_key);
    req.approve(&s.shares[0], creds[0].as_credential(), NOW)
        .unwrap();
    assert_eq!(
        req.approve(&s.shares[0], creds[0].as_credential(), NOW + 1)
            .unwrap_err(),
        EscrowError::AlreadyApproved { officer: name(0) }
    );
    // Relabelled as another officer: the index does not match the roster.
    let mut relabelled = s.shares[0].clone();
    relabelled.officer = name(1);
    assert!(matches!(
        req.approve(&relabelled, creds[0].as_credential(), NOW),
        Err(EscrowError::ShareMismatch { .. })
    ));
    // Relabelled with officer and index of another officer: the AAD does not match.
    relabelled.index = 2;
    assert!(matches!(
        req.approve(&relabelled, creds[0].as_credential(), NOW),
        Err(EscrowError::WrongPassphrase { .. })
    ));
    req.approve(&s.shares[1], creds[1].as_credential(), NOW)
        .unwrap();
    assert_eq!(
        req.approve(&s.shares[2], creds[2].as_credential(), NOW)
            .unwrap_err(),
        EscrowError::ThresholdReached { need: 2 }
    );
    assert_eq!(req.approvals().len(), 2);
}

#[test]
fn a_certificate_share_moved_to_another_officer_is_detected() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 2, 4, true);
    let (mut req, _) = new_request(&s.sealed_key);
    // Officer 1's sealed blob under officer 3's name and index: officer 1's key opens the
    // CMS, but the share inside names officer 1.
    let mut moved = s.shares[3].clone();
    moved.blob = s.shares[1].blob.clone();
    assert_eq!(
        req.approve(&moved, creds[1].as_credential(), NOW)
            .unwrap_err(),
        EscrowError::ShareMismatch { officer: name(3) }
    );
    assert!(req.approvals().is_empty());
}

#[test]
fn unknown_officers_are_refused() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 2, 3, false);
    let (mut req, _) = new_request(&s.sealed_key);
    let mut stranger = s.shares[0].clone();
    stranger.officer = "mallory".into();
    assert_eq!(
        req.approve(&stranger, creds[0].as_credential(), NOW)
            .unwrap_err(),
        EscrowError::UnknownOfficer {
            officer: "mallory".into()
        }
    );
}

#[test]
fn expired_requests_take_no_approvals_and_do_not_complete() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 2, 3, false);
    let (mut req, secret) = new_request(&s.sealed_key);
    assert_eq!(req.expires_at(), NOW + 72 * 3600);
    req.approve(&s.shares[0], creds[0].as_credential(), NOW)
        .unwrap();
    let late = NOW + DEFAULT_REQUEST_TTL;
    assert!(req.is_expired(late) && !req.is_expired(late - 1));
    assert_eq!(
        req.approve(&s.shares[1], creds[1].as_credential(), late)
            .unwrap_err(),
        EscrowError::Expired {
            expires_at: NOW + DEFAULT_REQUEST_TTL
        }
    );
    req.approve(&s.shares[1], creds[1].as_credential(), late - 1)
        .unwrap();
    assert!(matches!(
        req.complete(&secret, &s.sealed_key, late),
        Err(EscrowError::Expired { .. })
    ));
    // The sweep closes it and erases the sealed shares.
    assert!(!req.expire_if_due(late - 1));
    assert!(req.expire_if_due(late));
    assert_eq!(req.state(), RequestState::Expired { at: late });
    assert!(
        req.approvals()
            .iter()
            .all(|a| a.share_for_request.is_empty())
    );
    assert_eq!(
        req.complete(&secret, &s.sealed_key, late - 1).unwrap_err(),
        EscrowError::NotPending { state: "expired" }
    );
    assert!(!req.expire_if_due(late + 1));
}

#[test]
fn m_minus_1_approvals_do_not_complete() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 3, 5, true);
    let (mut req, secret) = new_request(&s.sealed_key);
    assert_eq!(
        req.complete(&secret, &s.sealed_key, NOW).unwrap_err(),
        EscrowError::NotEnoughApprovals { have: 0, need: 3 }
    );
    req.approve(&s.shares[0], creds[0].as_credential(), NOW)
        .unwrap();
    req.approve(&s.shares[3], creds[3].as_credential(), NOW)
        .unwrap();
    assert_eq!(
        req.complete(&secret, &s.sealed_key, NOW).unwrap_err(),
        EscrowError::NotEnoughApprovals { have: 2, need: 3 }
    );
    assert_eq!(req.state(), RequestState::Pending);
    // Even editing the stored threshold does not help: the sealed key's is authoritative,
    // and its associated data binds it.
    let mut lowered = s.sealed_key.clone();
    lowered.threshold = 2;
    assert_eq!(
        req.complete(&secret, &lowered, NOW).unwrap_err(),
        EscrowError::CombinationFailed
    );
}

#[test]
fn m_minus_1_opened_shares_leave_every_key_byte_possible() {
    // Below the request machinery: two officers of a 3-of-5 split open their shares. For
    // every one of the 256 values the first byte of a third share could take, interpolation
    // gives a different first byte of K: the two real shares leave all 256 values of each
    // byte of K equally possible (see also shamir::tests).
    use crate::shamir::{RawShare, interpolate};
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 3, 5, false);
    let a = open_share(&s.shares[0], creds[0].as_credential()).unwrap();
    let b = open_share(&s.shares[1], creds[1].as_credential()).unwrap();
    let mut firsts = std::collections::BTreeSet::new();
    for guess in 0..=255u8 {
        let mut v = b.value.clone();
        v[0] = guess;
        let three = [
            RawShare {
                index: a.index,
                value: a.value.clone(),
            },
            RawShare {
                index: b.index,
                value: b.value.clone(),
            },
            RawShare { index: 5, value: v },
        ];
        firsts.insert(interpolate(&three).unwrap()[0]);
    }
    assert_eq!(firsts.len(), 256);
}

#[test]
fn the_request_secret_must_be_the_requests() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 1, 2, false);
    let (mut req, _secret) = new_request(&s.sealed_key);
    let (_, other) = new_request(&s.sealed_key);
    req.approve(&s.shares[1], creds[1].as_credential(), NOW)
        .unwrap();
    assert_eq!(
        req.complete(&other, &s.sealed_key, NOW).unwrap_err(),
        EscrowError::WrongRequestSecret
    );
    assert_eq!(req.state(), RequestState::Pending);
}

#[test]
fn completed_and_cancelled_requests_are_closed() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 1, 1, false);
    let (mut req, secret) = new_request(&s.sealed_key);
    req.approve(&s.shares[0], creds[0].as_credential(), NOW)
        .unwrap();
    req.complete(&secret, &s.sealed_key, NOW).unwrap();
    assert_eq!(
        req.complete(&secret, &s.sealed_key, NOW).unwrap_err(),
        EscrowError::NotPending { state: "completed" }
    );
    assert_eq!(
        req.approve(&s.shares[0], creds[0].as_credential(), NOW)
            .unwrap_err(),
        EscrowError::NotPending { state: "completed" }
    );
    let (mut req, _) = new_request(&s.sealed_key);
    req.cancel(NOW).unwrap();
    assert_eq!(req.state(), RequestState::Cancelled { at: NOW });
    assert!(req.cancel(NOW).is_err());
}

#[test]
fn altered_or_moved_approvals_are_detected() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 2, 3, false);
    let (mut req, secret) = new_request(&s.sealed_key);
    req.approve(&s.shares[0], creds[0].as_credential(), NOW)
        .unwrap();
    req.approve(&s.shares[2], creds[2].as_credential(), NOW)
        .unwrap();
    // A flipped byte in a stored approval.
    let mut der = req.to_der().unwrap();
    let blob = req.approvals()[1].share_for_request.clone();
    let at = der.windows(blob.len()).position(|w| w == blob).unwrap();
    der[at + blob.len() - 3] ^= 0x40;
    let mut altered = RecoveryRequest::from_der(&der).unwrap();
    assert_eq!(
        altered.complete(&secret, &s.sealed_key, NOW).unwrap_err(),
        EscrowError::ShareMismatch { officer: name(2) }
    );
    // An approval copied into another request (same officers, another request key and id).
    let (mut other, other_secret) = RecoveryRequest::new(
        "req-2",
        RequestPurpose::Reshare,
        "rotate",
        &s.sealed_key,
        NOW,
        3600,
    )
    .unwrap();
    other
        .approve(&s.shares[1], creds[1].as_credential(), NOW)
        .unwrap();
    let mut der = other.to_der().unwrap();
    let theirs = other.approvals()[0].share_for_request.clone();
    let mine = req.approvals()[0].share_for_request.clone();
    // Replace officer-1's approval in req-2 by officer-0's from req-1.
    let pos = der.windows(theirs.len()).position(|w| w == theirs).unwrap();
    assert_eq!(mine.len(), theirs.len());
    der.splice(pos..pos + theirs.len(), mine.iter().copied());
    let mut other = RecoveryRequest::from_der(&der).unwrap();
    other
        .approve(&s.shares[0], creds[0].as_credential(), NOW)
        .unwrap();
    assert!(matches!(
        other.complete(&other_secret, &s.sealed_key, NOW),
        Err(EscrowError::ShareMismatch { .. })
    ));
    // The untouched request still completes.
    assert!(req.complete(&secret, &s.sealed_key, NOW).is_ok());
}

#[test]
fn records_survive_the_store_between_every_step() {
    let recovery = kra();
    let (s, creds) = mixed_split(&recovery, 2, 3, true);
    // Everything goes through DER between steps, as the store keeps it.
    let sealed = SealedRecoveryKey::from_der(&s.sealed_key.to_der().unwrap()).unwrap();
    assert_eq!(sealed, s.sealed_key);
    assert_eq!(sealed.index_of(&name(2)), Some(3));
    assert_eq!(sealed.index_of("nobody"), None);
    let shares: Vec<SealedShare> = s
        .shares
        .iter()
        .map(|sh| SealedShare::from_der(&sh.to_der().unwrap()).unwrap())
        .collect();
    assert_eq!(shares, s.shares);
    let (req, secret) = RecoveryRequest::new(
        "7f3a",
        RequestPurpose::Recover {
            email: "alice@example.com".into(),
            serial: Some("00:1A:2b".into()),
        },
        "court order 12/2026",
        &sealed,
        NOW,
        3600,
    )
    .unwrap();
    let mut stored = req.to_der().unwrap();
    let secret = RequestSecret::from_pkcs8(zeroize::Zeroizing::new(secret.pkcs8().to_vec()));
    for i in [2usize, 1] {
        let mut r = RecoveryRequest::from_der(&stored).unwrap();
        r.approve(&shares[i], creds[i].as_credential(), NOW + i as u64)
            .unwrap();
        stored = r.to_der().unwrap();
    }
    let mut r = RecoveryRequest::from_der(&stored).unwrap();
    assert_eq!(r.to_der().unwrap(), stored);
    assert_eq!(
        r.purpose(),
        &RequestPurpose::Recover {
            email: "alice@example.com".into(),
            serial: Some("1a2b".into())
        }
    );
    assert_eq!(r.reason(), "court order 12/2026");
    assert_eq!(r.id(), "7f3a");
    assert_eq!(r.created_at(), NOW);
    assert_eq!(r.threshold(), 2);
    assert_eq!(r.officers().len(), 3);
    assert_eq!(
        r.approvals()
            .iter()
            .map(|a| (a.officer.as_str(), a.at))
            .collect::<Vec<_>>(),
        vec![("officer-2", NOW + 2), ("officer-1", NOW + 1)]
    );
    let rebuilt = r.complete(&secret, &sealed, NOW + 10).unwrap();
    assert_eq!(rebuilt.pkcs8(), recovery.pkcs8());
    let closed = RecoveryRequest::from_der(&r.to_der().unwrap()).unwrap();
    assert_eq!(closed.state(), RequestState::Completed { at: NOW + 10 });
    // Unknown versions are refused by name.
    let mut v2 = s.shares[1].to_der().unwrap();
    // The version octet: after the SEQUENCE header and the INTEGER's tag and length.
    let hdr = if v2[1] < 0x80 {
        2
    } else {
        2 + usize::from(v2[1] & 0x7f)
    };
    assert_eq!(&v2[hdr..hdr + 3], &[0x02, 0x01, 0x01]);
    v2[hdr + 2] = 2;
    assert_eq!(
        SealedShare::from_der(&v2).unwrap_err(),
        EscrowError::UnsupportedVersion {
            what: "sealed share",
            version: 2
        }
    );
    assert!(matches!(
        ArchivedKey::from_der(b"\x30\x00"),
        Err(EscrowError::Malformed { .. })
    ));
}

#[test]
fn request_parameters_are_checked() {
    let recovery = kra();
    let (s, _) = mixed_split(&recovery, 1, 1, false);
    let mk = |id: &str, reason: &str, ttl: u64, serial: Option<&str>| {
        RecoveryRequest::new(
            id,
            RequestPurpose::Recover {
                email: "a@example.com".into(),
                serial: serial.map(str::to_owned),
            },
            reason,
            &s.sealed_key,
            NOW,
            ttl,
        )
        .map(|_| ())
    };
    assert!(mk("r", "why", 1, None).is_ok());
    for bad in [
        mk("", "why", 60, None),
        mk("a b", "why", 60, None),
        mk("r", "", 60, None),
        mk("r", "why", 0, None),
        mk("r", "why", MAX_REQUEST_TTL + 1, None),
        mk("r", "why", 60, Some("xyz")),
    ] {
        assert!(
            matches!(bad, Err(EscrowError::InvalidRequest(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        RecoveryRequest::new(
            "r",
            RequestPurpose::Reshare,
            "why",
            &s.sealed_key,
            u64::MAX - 5,
            60
        ),
        Err(EscrowError::InvalidRequest(_))
    ));
}

#[test]
fn split_parameters_are_checked() {
    let recovery = kra();
    let p = pass(0);
    let one = |name: &'static str, passphrase: &'static [u8]| OfficerSpec::Passphrase {
        name,
        passphrase,
    };
    let long: &'static [u8] = b"a long enough passphrase";
    assert_eq!(
        split(&recovery, 0, &[one("a", long)], fast()).unwrap_err(),
        EscrowError::InvalidThreshold {
            threshold: 0,
            officers: 1
        }
    );
    assert!(matches!(
        split(&recovery, 2, &[one("a", long)], fast()),
        Err(EscrowError::InvalidThreshold { .. })
    ));
    assert!(matches!(
        split(&recovery, 1, &[], fast()),
        Err(EscrowError::InvalidThreshold { .. })
    ));
    assert!(matches!(
        split(&recovery, 1, &[one("a", long), one("a", long)], fast()),
        Err(EscrowError::InvalidOfficer(_))
    ));
    for bad_name in ["", " padded", "tab\tbed"] {
        assert!(matches!(
            split(&recovery, 1, &[one(bad_name, long)], fast()),
            Err(EscrowError::InvalidOfficer(_))
        ));
    }
    assert_eq!(
        split(&recovery, 1, &[one("a", b"short")], fast()).unwrap_err(),
        EscrowError::WeakPassphrase {
            officer: "a".into()
        }
    );
    let (signing, _) = pki()
        .subscriber(
            "signer@example.com",
            Profile::Signing,
            KeyType::EcdsaP256,
            365,
        )
        .unwrap();
    assert!(matches!(
        split(
            &recovery,
            1,
            &[OfficerSpec::Certificate {
                name: "s",
                cert: &signing
            }],
            fast()
        ),
        Err(EscrowError::OfficerCertificate { .. })
    ));
    // 255 officers is the most GF(2^8) has points for.
    let names: Vec<String> = (0..256).map(name).collect();
    let specs: Vec<OfficerSpec<'_>> = names
        .iter()
        .map(|n| OfficerSpec::Passphrase {
            name: n,
            passphrase: &p,
        })
        .collect();
    assert!(matches!(
        split(&recovery, 2, &specs, fast()),
        Err(EscrowError::InvalidThreshold {
            threshold: 2,
            officers: 256
        })
    ));
}

#[test]
fn the_kra_certificate_is_checked() {
    let (cert, key) = enc_cert("kra@example.com", KeyType::EcdsaP256);
    let (_, other) = enc_cert("kra2@example.com", KeyType::EcdsaP256);
    assert_eq!(
        check_kra_certificate(&cert).unwrap(),
        RECOMMENDED_KRA_KEY_TYPE
    );
    assert!(matches!(
        RecoveryKey::new(&cert, other.pkcs8_der()),
        Err(EscrowError::KeyMismatch { .. })
    ));
    let _ = key;
    let (rsa2048, rsa_key) = enc_cert("kra3@example.com", KeyType::Rsa2048);
    assert!(matches!(
        RecoveryKey::new(&rsa2048, rsa_key.pkcs8_der()),
        Err(EscrowError::KraCertificate(_))
    ));
    let (signing, signing_key) = pki()
        .subscriber(
            "kra4@example.com",
            Profile::Signing,
            KeyType::EcdsaP256,
            365,
        )
        .unwrap();
    assert!(matches!(
        RecoveryKey::new(&signing, signing_key.pkcs8_der()),
        Err(EscrowError::KraCertificate(_))
    ));
}

#[test]
fn signing_keys_are_never_archived() {
    let recovery = kra();
    for profile in [Profile::Signing, Profile::Dual] {
        for kt in [KeyType::EcdsaP256, KeyType::Rsa2048] {
            let (cert, key) = pki()
                .subscriber("bob@example.com", profile, kt, 365)
                .unwrap();
            let err = archive(&key, &cert, recovery.certificate()).unwrap_err();
            assert_eq!(
                err,
                EscrowError::SigningKey {
                    serial: cert.serial_hex(),
                    usage: "digitalSignature"
                },
                "{profile} {kt}"
            );
            assert!(err.to_string().contains("signing keys are never archived"));
        }
    }
    // Ed25519 only signs.
    let (cert, key) = pki()
        .subscriber("ed@example.com", Profile::Signing, KeyType::Ed25519, 365)
        .unwrap();
    assert!(matches!(
        archive(&key, &cert, recovery.certificate()),
        Err(EscrowError::SigningKey { .. })
    ));
    // A CA certificate signs certificates: refused too.
    assert!(matches!(
        check_archivable(&pki().issuing),
        Err(EscrowError::SigningKey { .. })
    ));
    // The key must be the certificate's.
    let (cert, _) = enc_cert("carol@example.com", KeyType::EcdsaP256);
    let (_, other) = enc_cert("dave@example.com", KeyType::EcdsaP256);
    assert!(matches!(
        archive(&other, &cert, recovery.certificate()),
        Err(EscrowError::KeyMismatch { .. })
    ));
}

/// Replaces the first occurrence of `from` in `hay` by `to` (same length).
fn patch(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = hay
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = hay.to_vec();
    out[at..at + from.len()].copy_from_slice(to);
    out
}

#[test]
fn tampered_archive_records_are_refused() {
    let recovery = kra();
    let (cert, key) = enc_cert("alice@example.com", KeyType::EcdsaP256);
    let (cert2, key2) = enc_cert("alice@example.com", KeyType::EcdsaP256);
    let a = archive(&key, &cert, recovery.certificate()).unwrap();
    let b = archive(&key2, &cert2, recovery.certificate()).unwrap();
    assert_eq!(
        recover_key(&recovery, &a).unwrap().pkcs8[..],
        *key.pkcs8_der()
    );
    let serial = a.serial_hex();
    // The error names the serial the record claims.
    let tampered = |r: Result<RecoveredKey, EscrowError>| match r {
        Err(EscrowError::TamperedArchive { serial: s, what }) => {
            assert!(s == serial || s == b.serial_hex());
            what
        }
        other => panic!("expected TamperedArchive, got {other:?}"),
    };

    // A flipped byte of the ciphertext (near the end: the GCM ciphertext and tag).
    let mut flipped = a.clone();
    let n = flipped.envelope.len();
    flipped.envelope[n - 40] ^= 0x01;
    let what = tampered(recover_key(&recovery, &flipped));
    assert!(what.contains("does not authenticate"), "{what}");
    // The same through the stored DER.
    let der = a.to_der().unwrap();
    let mut der_flipped = der.clone();
    let m = der_flipped.len();
    der_flipped[m - 30] ^= 0x80;
    tampered(recover_key(
        &recovery,
        &ArchivedKey::from_der(&der_flipped).unwrap(),
    ));

    // The ciphertext of another record (same user) under this record's metadata.
    let mut swapped = a.clone();
    swapped.envelope = b.envelope.clone();
    let what = tampered(recover_key(&recovery, &swapped));
    assert!(what.contains("differs from the one sealed"), "{what}");

    // An edited serial: in the clear metadata only, and with the certificate swapped too.
    let mut edited = a.clone();
    edited.metadata.serial = b.metadata.serial.clone();
    let what = tampered(recover_key(&recovery, &edited));
    assert!(what.contains("serial number"), "{what}");
    let edited_der = patch(&der, &a.metadata.serial, &b.metadata.serial);
    tampered(recover_key(
        &recovery,
        &ArchivedKey::from_der(&edited_der).unwrap(),
    ));
    let mut recertified = a.clone();
    recertified.metadata = b.metadata.clone();
    recertified.certificate = b.certificate.clone();
    let what = tampered(recover_key(&recovery, &recertified));
    assert!(what.contains("differs from the one sealed"), "{what}");

    // An edited address or expiry.
    let mut edited = a.clone();
    edited.metadata.email = "mallory@example.com".into();
    tampered(recover_key(&recovery, &edited));
    let mut edited = a.clone();
    edited.metadata.not_after += 1;
    assert!(tampered(recover_key(&recovery, &edited)).contains("expiry"));

    // Another recovery key's record.
    let other = kra();
    assert_eq!(
        recover_key(&other, &a).unwrap_err(),
        EscrowError::OtherRecoveryKey {
            serial: serial.clone()
        }
    );
    let mut pointed = a.clone();
    pointed.kra_certificate_sha256 = cachet_crypto::digest::sha256(other.certificate().der());
    assert!(matches!(
        recover_key(&other, &pointed),
        Err(EscrowError::TamperedArchive { .. })
    ));

    // recover_keys refuses the batch with the first bad record, naming it.
    assert!(matches!(
        recover_keys(&recovery, &[b.clone(), flipped]),
        Err(EscrowError::TamperedArchive { .. })
    ));
    // The untouched records are intact.
    assert_eq!(recover_keys(&recovery, &[a, b]).unwrap().len(), 2);
}

#[test]
fn full_flow_archive_request_approve_complete_recover_pkcs12() {
    // The KRA is RSA-3072 here (OAEP key transport); officers are mixed.
    let (kra_cert, kra_key) = enc_cert("kra@example.com", KeyType::Rsa3072);
    let recovery = RecoveryKey::new(&kra_cert, kra_key.pkcs8_der()).unwrap();
    let (s, creds) = mixed_split(&recovery, 2, 3, true);

    // Alice has a current P-256 key and a superseded RSA-2048 key; Bob has one.
    let (alice_old, alice_old_key) = enc_cert("alice@example.com", KeyType::Rsa2048);
    let (alice_new, alice_new_key) = enc_cert("alice@example.com", KeyType::EcdsaP256);
    let (bob, bob_key) = enc_cert("bob@example.com", KeyType::EcdsaP256);
    let store: Vec<Vec<u8>> = [
        (&alice_old_key, &alice_old),
        (&bob_key, &bob),
        (&alice_new_key, &alice_new),
    ]
    .iter()
    .map(|(k, c)| archive(k, c, &kra_cert).unwrap().to_der().unwrap())
    .collect();
    // No plaintext key in any stored record.
    for rec in &store {
        for k in [&alice_old_key, &alice_new_key, &bob_key] {
            assert!(!rec.windows(k.pkcs8_der().len()).any(|w| w == k.pkcs8_der()));
        }
    }

    let (mut req, secret) = new_request(&s.sealed_key);
    req.approve(&s.shares[1], creds[1].as_credential(), NOW)
        .unwrap();
    req.approve(&s.shares[0], creds[0].as_credential(), NOW + 5)
        .unwrap();
    let rebuilt = req.complete(&secret, &s.sealed_key, NOW + 10).unwrap();

    let archived: Vec<ArchivedKey> = store
        .iter()
        .map(|d| ArchivedKey::from_der(d).unwrap())
        .filter(|a| req.covers(a))
        .collect();
    assert_eq!(archived.len(), 2, "both of alice's keys, not bob's");
    let recovered = recover_keys(&rebuilt, &archived).unwrap();
    assert!(!format!("{recovered:?}").contains(&hex::encode(alice_new_key.pkcs8_der())));
    let chain: Vec<&[u8]> = vec![pki().issuing.der(), pki().root.der()];
    let password = b"Recovered 2026!";
    assert_eq!(
        to_pkcs12(&recovered, &chain, b"", Pkcs12Profile::Modern).unwrap_err(),
        EscrowError::EmptyPassword
    );
    assert_eq!(
        to_pkcs12(&[], &chain, password, Pkcs12Profile::Modern).unwrap_err(),
        EscrowError::NothingToRecover
    );
    let p12 = to_pkcs12(&recovered, &chain, password, Pkcs12Profile::Modern).unwrap();
    let parsed = pkcs12::parse(&p12, password).unwrap();
    assert_eq!(parsed.keys.len(), 2);
    assert_eq!(&parsed.keys[0][..], alice_old_key.pkcs8_der());
    assert_eq!(&parsed.keys[1][..], alice_new_key.pkcs8_der());
    for (i, cert) in [&alice_old, &alice_new].iter().enumerate() {
        let ci = parsed.certificate_for_key(i).unwrap();
        assert_eq!(parsed.certificates[ci], cert.der());
        assert_eq!(
            parsed.key_attributes[i].friendly_name.as_deref(),
            Some(format!("alice@example.com ({})", cert.serial_hex()).as_str())
        );
    }
    assert_eq!(
        parsed.certificates.len(),
        4,
        "two keys' certificates + chain"
    );
    assert!(matches!(
        pkcs12::parse(&p12, b"wrong"),
        Err(pkcs12::Pkcs12Error::WrongPassword)
    ));
    // A serial-scoped request covers one key only.
    let (scoped, _) = RecoveryRequest::new(
        "req-9",
        RequestPurpose::Recover {
            email: "ALICE@example.com".into(),
            serial: Some(alice_old.serial_hex().to_uppercase()),
        },
        "one key",
        &s.sealed_key,
        NOW,
        60,
    )
    .unwrap();
    let covered: Vec<_> = store
        .iter()
        .map(|d| ArchivedKey::from_der(d).unwrap())
        .filter(|a| scoped.covers(a))
        .collect();
    assert_eq!(covered.len(), 1);
    assert_eq!(covered[0].certificate, alice_old.der());
}

#[test]
fn rotation_makes_old_shares_useless() {
    let recovery = kra();
    let (old, old_creds) = mixed_split(&recovery, 2, 3, true);
    // Rotation needs a completed request under the old split ...
    let (mut rot, rot_secret) = RecoveryRequest::new(
        "rotate-1",
        RequestPurpose::Reshare,
        "officer-2 leaves",
        &old.sealed_key,
        NOW,
        3600,
    )
    .unwrap();
    // ... which covers no archived key.
    let (c, k) = enc_cert("alice@example.com", KeyType::EcdsaP256);
    assert!(!rot.covers(&archive(&k, &c, recovery.certificate()).unwrap()));
    // A request made under the old split before the rotation, approved by two officers.
    let (mut pending, pending_secret) = new_request(&old.sealed_key);
    for i in [0, 1] {
        rot.approve(&old.shares[i], old_creds[i].as_credential(), NOW)
            .unwrap();
        pending
            .approve(&old.shares[i], old_creds[i].as_credential(), NOW)
            .unwrap();
    }
    let key = rot.complete(&rot_secret, &old.sealed_key, NOW).unwrap();
    // New roster: officer-0 and a new passphrase officer, 2 of 2.
    let p0 = pass(0);
    let p9 = pass(9);
    let new = reshare(
        &key,
        2,
        &[
            OfficerSpec::Passphrase {
                name: "officer-0",
                passphrase: &p0,
            },
            OfficerSpec::Passphrase {
                name: "officer-9",
                passphrase: &p9,
            },
        ],
        fast(),
    )
    .unwrap();
    assert_ne!(new.sealed_key.generation, old.sealed_key.generation);
    assert_ne!(new.sealed_key.sealed, old.sealed_key.sealed);

    // Old shares are refused by new requests ...
    let (mut req, secret) = new_request(&new.sealed_key);
    assert_eq!(
        req.approve(&old.shares[0], old_creds[0].as_credential(), NOW)
            .unwrap_err(),
        EscrowError::StaleShare { officer: name(0) }
    );
    // ... the request approved under the old split cannot complete against the new one ...
    assert_eq!(
        pending
            .complete(&pending_secret, &new.sealed_key, NOW)
            .unwrap_err(),
        EscrowError::SplitChanged
    );
    // ... and even below the checks, the old shares rebuild the old K, which does not open
    // the new sealed key.
    let raw: Vec<_> = (0..2)
        .map(|i| open_share(&old.shares[i], old_creds[i].as_credential()).unwrap())
        .collect();
    let old_k = crate::shamir::combine(&raw, 2).unwrap();
    assert!(old.sealed_key.open(&old_k).is_ok());
    assert_eq!(
        new.sealed_key.open(&old_k).unwrap_err(),
        EscrowError::CombinationFailed
    );
    // The new officers complete.
    req.approve(&new.shares[1], OfficerCredential::Passphrase(&p9), NOW)
        .unwrap();
    req.approve(&new.shares[0], OfficerCredential::Passphrase(&p0), NOW)
        .unwrap();
    assert_eq!(
        req.complete(&secret, &new.sealed_key, NOW).unwrap().pkcs8(),
        recovery.pkcs8()
    );
}

#[test]
fn rearchive_moves_records_to_a_new_recovery_key() {
    let old = kra();
    let new = kra();
    let (c, k) = enc_cert("alice@example.com", KeyType::Rsa2048);
    let a = archive(&k, &c, old.certificate()).unwrap();
    let moved = rearchive(&old, &a, new.certificate()).unwrap();
    assert_eq!(moved.metadata, a.metadata);
    assert!(matches!(
        recover_key(&old, &moved),
        Err(EscrowError::OtherRecoveryKey { .. })
    ));
    assert_eq!(&recover_key(&new, &moved).unwrap().pkcs8[..], k.pkcs8_der());
}

#[test]
fn nothing_secret_in_debug_output() {
    let recovery = kra();
    let p = pass(0);
    let spec = OfficerSpec::Passphrase {
        name: "admin",
        passphrase: &p,
    };
    let s = split(&recovery, 1, &[spec], fast()).unwrap();
    let (req, secret) = new_request(&s.sealed_key);
    let (c, k) = enc_cert("alice@example.com", KeyType::EcdsaP256);
    let rec = recover_key(&recovery, &archive(&k, &c, recovery.certificate()).unwrap()).unwrap();
    let text = format!(
        "{spec:?} {:?} {s:?} {req:?} {secret:?} {recovery:?} {rec:?} {:?}",
        OfficerCredential::Passphrase(&p),
        s.sealed_key
    );
    let p_text = String::from_utf8(p.clone()).unwrap();
    assert!(!text.contains(&p_text), "{text}");
    for secret_bytes in [recovery.pkcs8(), secret.pkcs8(), k.pkcs8_der()] {
        assert!(!text.contains(&hex::encode(secret_bytes)));
        assert!(!text.contains(&format!("{secret_bytes:?}")));
    }
    assert!(text.contains("redacted"));
}

#[test]
fn a_serial_scoped_request_covers_a_serial_with_a_leading_zero_nibble() {
    let recovery = kra();
    let s = split(
        &recovery,
        1,
        &[OfficerSpec::Passphrase {
            name: "a",
            passphrase: &pass(0),
        }],
        fast(),
    )
    .unwrap();
    let (c, k) = enc_cert("alice@example.com", KeyType::EcdsaP256);
    let mut a = archive(&k, &c, recovery.certificate()).unwrap();
    a.metadata.serial = vec![0x0a, 0x1b, 0x2c];
    assert_eq!(a.serial_hex(), "0a1b2c");
    for asked in ["0a1b2c", "a1b2c", "0A:1B:2C"] {
        let (r, _) = RecoveryRequest::new(
            "req-z",
            RequestPurpose::Recover {
                email: "alice@example.com".into(),
                serial: Some(asked.into()),
            },
            "serial forms",
            &s.sealed_key,
            NOW,
            60,
        )
        .unwrap();
        assert!(r.covers(&a), "{asked}");
    }
}
