//! The same service scenarios on both stores (issue #6): the embedded SQLite file and a
//! PostgreSQL server (a private one per test, started by `cachet-testkit`). Each scenario
//! runs end to end on each backend — accounts and their certificates, revocation into the
//! CRL, renewal with an injected clock, key hand-over, API tokens, concurrent issuance with
//! unique serials, the audit chain — and must give the same results.

use cachet_crypto::KeyType;
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::{ParsedCrl, RevocationReason};
use cachet_pki::profile::Profile;
use cachet_service::accounts::NewAccount;
use cachet_service::config::EnrollmentPolicy;
use cachet_service::tokens::Role;
use cachet_service::{
    Cachet, DataDir, InitOptions, IssueRequest, KeySource, RecoverySetup, ServiceError,
};
use cachet_store::{AccountState, Backend};
use cachet_testkit::PgServer;
use std::collections::HashSet;
use std::sync::Arc;

const T0: u64 = 1_800_000_000;

/// A PKCS#10 request for `email` with a fresh P-256 key, made by OpenSSL.
fn csr_for(email: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
        ])
        .arg(dir.path().join("key.pem"))
        .args(["-subj", "/CN=test", "-addext"])
        .arg(format!("subjectAltName=email:{email}"))
        .output()
        .expect("openssl is required: apt-get install openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

async fn init(dir: &DataDir, database_url: Option<String>) -> Cachet {
    let opts = InitOptions {
        domain: "example.com".into(),
        organization: Some("Example Org".into()),
        base_url: "http://pki.example.com".into(),
        key_type: KeyType::EcdsaP256,
        crl_days: 7,
        actor: "test".into(),
        recovery: RecoverySetup::DefaultAdmin,
        database_url,
    };
    Cachet::init(dir, &opts, None, T0).await.unwrap()
}

async fn scenario(database_url: Option<String>, expect: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path().join("data"));
    let c = init(&dir, database_url.clone()).await;
    assert_eq!(c.store().backend(), expect);
    c.store().close().await;
    // Opening reads the backend from the data directory's cachet.toml.
    let c = Arc::new(Cachet::open(&dir).await.unwrap());
    assert_eq!(c.store().backend(), expect);
    let kek = Arc::new(c.unlock(None).await.unwrap());
    let policy = EnrollmentPolicy::default();

    // An account gets a signing and an archived encryption certificate.
    let alice = c
        .add_account(
            &kek,
            &NewAccount {
                email: "alice@example.com".into(),
                name: Some("Alice".into()),
                password: Some(zeroize::Zeroizing::new("a long est password".into())),
            },
            &policy,
            "test",
            T0,
        )
        .await
        .unwrap();
    assert_eq!(alice.certificates.len(), 2);
    assert!(alice.keys.is_some());
    assert_eq!(
        c.archived_keys(Some("alice@example.com"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        c.check_account_password("alice@example.com", "a long est password")
            .await
            .unwrap()
    );
    assert!(
        !c.check_account_password("alice@example.com", "wrong password!!")
            .await
            .unwrap()
    );
    match c
        .add_account(
            &kek,
            &NewAccount {
                email: "alice@example.com".into(),
                name: None,
                password: None,
            },
            &policy,
            "test",
            T0,
        )
        .await
    {
        Err(ServiceError::Invalid(m)) => assert!(m.contains("already exists"), "{m}"),
        other => panic!("duplicate account: {:?}", other.map(|e| e.account)),
    }

    // EST's client-certificate login takes her signing certificate, never the encryption
    // certificate, whose key is archived and could be in a recovery officer's hands.
    let signing = &alice.certificates[0].record;
    let encryption = &alice.certificates[1].record;
    assert_eq!(
        c.est_client_account(&signing.der, T0 + 60)
            .await
            .unwrap()
            .as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(
        c.est_client_account(&encryption.der, T0 + 60)
            .await
            .unwrap(),
        None
    );
    // A certificate of her own key (a CSR; here, another account's key stands in) is not
    // renewed by Cachet: only she can renew it.
    let own = c
        .issue(
            &kek,
            IssueRequest {
                email: "alice@example.com".into(),
                profile: Profile::Signing,
                key: KeySource::Csr {
                    bytes: csr_for("alice@example.com"),
                    source: "test".into(),
                },
                validity_days: None,
                non_repudiation: false,
                actor: "test".into(),
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(own.record.key_origin.as_deref(), Some("csr"));

    // Renewal with an injected clock: nothing is due at first, both are after 2/3 of life.
    let none = c
        .renew_due(&kek, &policy, "test", T0 + 86_400, 1000)
        .await
        .unwrap();
    assert!(none.renewed.is_empty() && none.failed.is_empty());
    let later = T0 + 250 * 86_400;
    let renewed = c
        .renew_due(&kek, &policy, "test", later, 1000)
        .await
        .unwrap();
    assert_eq!(renewed.renewed.len(), 2, "{:?}", renewed.failed);
    let again = c
        .renew_due(&kek, &policy, "test", later, 1000)
        .await
        .unwrap();
    assert!(again.renewed.is_empty());
    let live = c.lookup("alice@example.com", later).await.unwrap();
    assert_eq!(
        live.len(),
        3,
        "two renewed, and her own-key certificate untouched"
    );
    assert!(live.iter().any(|r| r.serial == own.record.serial));
    let live: Vec<_> = live
        .into_iter()
        .filter(|r| r.serial != own.record.serial)
        .collect();
    let new_serials: HashSet<&str> = renewed.renewed.iter().map(|r| r.2.as_str()).collect();
    assert!(live.iter().all(|r| new_serials.contains(r.serial.as_str())));
    assert_eq!(
        c.archived_keys(Some("alice@example.com"))
            .await
            .unwrap()
            .len(),
        2
    );
    let keys = c
        .collect_keys(&kek, "alice@example.com", "test", later)
        .await
        .unwrap();
    assert_eq!(keys.unwrap().serials.len(), 2);
    assert!(
        c.collect_keys(&kek, "alice@example.com", "test", later)
            .await
            .unwrap()
            .is_none()
    );

    // Disabling revokes the live certificates; they enter the next CRL.
    let revoked = c
        .disable_account(&kek, "alice@example.com", "test", later)
        .await
        .unwrap();
    assert_eq!(
        revoked.len(),
        5,
        "two superseded, two current and her own-key certificate"
    );
    // Enabling twice at once: one wins, the other changes nothing.
    let (a, b) = tokio::join!(
        c.enable_account(&kek, "alice@example.com", &policy, "test", later),
        c.enable_account(&kek, "alice@example.com", &policy, "test", later)
    );
    assert!(a.is_ok() != b.is_ok(), "exactly one enable succeeds");
    assert_eq!(c.lookup("alice@example.com", later).await.unwrap().len(), 2);
    c.disable_account(&kek, "alice@example.com", "test", later)
        .await
        .unwrap();
    assert_eq!(
        c.account("alice@example.com").await.unwrap().0.state,
        AccountState::Disabled
    );
    assert!(
        c.lookup("alice@example.com", later)
            .await
            .unwrap()
            .is_empty()
    );
    let crl = c.publish_crl(&kek, "issuing", "test", later).await.unwrap();
    let entries = ParsedCrl::from_der(&crl.der).unwrap().entries();
    for r in &revoked {
        let entry = entries
            .iter()
            .find(|e| hex::encode(&e.serial) == r.serial)
            .unwrap_or_else(|| panic!("{} not in the CRL", r.serial));
        assert_eq!(entry.reason, RevocationReason::AffiliationChanged);
    }

    // API tokens.
    let token = c
        .create_api_token(&kek, "ci", Role::Auditor, "test", later)
        .await
        .unwrap();
    let caller = c.authenticate_token(&token.token).await.unwrap().unwrap();
    assert_eq!(caller.role, Role::Auditor);
    c.revoke_api_token(&kek, &token.record.id, "test", later)
        .await
        .unwrap();
    assert!(c.authenticate_token(&token.token).await.unwrap().is_err());

    // Concurrent issuance: 8 writers × 25 certificates, every serial distinct and stored.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (c, kek) = (Arc::clone(&c), Arc::clone(&kek));
        tasks.push(tokio::spawn(async move {
            let mut serials = Vec::new();
            for i in 0..25 {
                let issued = c
                    .issue(
                        &kek,
                        IssueRequest {
                            email: format!("w{w}-{i}@example.com"),
                            profile: Profile::Signing,
                            key: KeySource::Generate(KeyType::EcdsaP256),
                            validity_days: None,
                            non_repudiation: false,
                            actor: format!("writer-{w}"),
                        },
                        later,
                    )
                    .await
                    .unwrap();
                serials.push(issued.record.serial);
            }
            serials
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for s in t.await.unwrap() {
            assert!(all.insert(s));
        }
    }
    assert_eq!(all.len(), 200);
    for s in &all {
        let rec = c.certificate(s).await.unwrap();
        ParsedCertificate::from_der(&rec.der).unwrap();
    }
    let (records, problems) = c.verify_audit(&kek).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert!(records > 200);
    c.store().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_service_on_sqlite() {
    scenario(None, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_service_on_postgres() {
    let pg = PgServer::start();
    let url = pg.database("cachet");
    scenario(Some(url.clone()), Backend::Postgres).await;
    // A second `init` against the same database is refused and changes nothing.
    let tmp = tempfile::tempdir().unwrap();
    let opts = InitOptions {
        domain: "example.com".into(),
        organization: None,
        base_url: "http://pki.example.com".into(),
        key_type: KeyType::EcdsaP256,
        crl_days: 7,
        actor: "test".into(),
        recovery: RecoverySetup::Off,
        database_url: Some(url),
    };
    let err = Cachet::init(&DataDir::new(tmp.path().join("d2")), &opts, None, T0)
        .await
        .err()
        .expect("a second init on a used database must fail");
    assert!(err.to_string().contains("empty database"), "{err}");
}
