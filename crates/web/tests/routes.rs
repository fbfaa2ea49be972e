//! The routes over a real data directory, in process (no socket), with a pinned clock.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cachet_crypto::KeyType;
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::{ParsedCrl, RevocationReason};
use cachet_pki::ocsp::{self, CertId, CertIdHash, CertStatus, CheckOptions, OcspQuery};
use cachet_pki::profile::Profile;
use cachet_service::{Cachet, DataDir, InitOptions, IssueRequest, KeySource, RecoverySetup};
use cachet_web::{AppState, router};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower::ServiceExt;

const NOW: u64 = 1_795_000_000;

struct Fx {
    _dir: tempfile::TempDir,
    app: axum::Router,
    clock: Arc<AtomicU64>,
    alice: ParsedCertificate,
    issuing: ParsedCertificate,
    side: Cachet,
}

async fn fixture() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let dd = DataDir::new(dir.path().join("data"));
    let opts = InitOptions {
        domain: "example.test".into(),
        organization: None,
        base_url: "http://127.0.0.1:1".into(),
        key_type: KeyType::EcdsaP256,
        crl_days: 7,
        actor: "test".into(),
        recovery: RecoverySetup::Off,
        database_url: None,
    };
    let c = Cachet::init(&dd, &opts, None, NOW).await.unwrap();
    let kek = c.unlock(None).await.unwrap();
    let issued = c
        .issue(
            &kek,
            IssueRequest {
                email: "alice@example.test".into(),
                profile: Profile::Signing,
                key: KeySource::Generate(KeyType::EcdsaP256),
                validity_days: None,
                non_repudiation: false,
                actor: "test".into(),
            },
            NOW,
        )
        .await
        .unwrap();
    let issuing = issued.chain[0].clone();
    let clock = Arc::new(AtomicU64::new(NOW + 10));
    let cl = clock.clone();
    // A second handle on the same directory, as `cachet cert revoke` would be.
    let side = Cachet::open(&dd).await.unwrap();
    let state = AppState::with_refresh(
        c,
        kek,
        Arc::new(move || cl.load(Ordering::SeqCst)),
        Duration::ZERO,
    )
    .await
    .unwrap();
    Fx {
        _dir: dir,
        app: router(state, true),
        clock,
        alice: issued.certificate,
        issuing,
        side,
    }
}

async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn crl_is_cached_revalidated_and_replaced_after_a_revocation() {
    let fx = fixture().await;
    let (st, h, body) = send(&fx.app, get("/crl/issuing.crl")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/pkix-crl");
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
    let crl = ParsedCrl::from_der(&body).unwrap();
    assert!(crl.entries().is_empty());
    assert_eq!(
        h[header::LAST_MODIFIED].to_str().unwrap(),
        "Wed, 18 Nov 2026 11:06:40 GMT"
    );

    let req = Request::get("/crl/issuing.crl")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let (st, _, body) = send(&fx.app, req).await;
    assert_eq!(st, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());

    // Revoked by another process: the next fetch has a new CRL listing it.
    let kek = fx.side.unlock(None).await.unwrap();
    fx.side
        .revoke(
            &kek,
            &fx.alice.serial_hex(),
            RevocationReason::KeyCompromise,
            "t",
            NOW + 20,
        )
        .await
        .unwrap();
    fx.clock.store(NOW + 30, Ordering::SeqCst);
    let req = Request::get("/crl/issuing.crl")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let (st, h, body) = send(&fx.app, req).await;
    assert_eq!(st, StatusCode::OK);
    assert_ne!(h[header::ETAG].to_str().unwrap(), etag);
    let crl = ParsedCrl::from_der(&body).unwrap();
    assert_eq!(crl.entries().len(), 1);
    assert_eq!(crl.entries()[0].serial, fx.alice.serial_bytes());

    let (st, _, body) = send(&fx.app, get("/crl/root.crl")).await;
    assert_eq!(st, StatusCode::OK);
    ParsedCrl::from_der(&body).unwrap();
    let (st, h, body) = send(&fx.app, get("/crl/nope.crl")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(String::from_utf8(body).unwrap().contains("issuing.crl"));

    let (_, _, body) = send(&fx.app, get("/metrics")).await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("cachet_crl_publications_total{ca=\"issuing\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("route=\"/crl/{file}\",status=\"304\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("route=\"/crl/{file}\",status=\"404\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn ca_certificates_and_lookup() {
    let fx = fixture().await;
    let (st, h, body) = send(&fx.app, get("/ca/issuing.crt")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/pkix-cert");
    assert_eq!(body, fx.issuing.der());
    assert_eq!(
        send(&fx.app, get("/ca/issuing.crl")).await.0,
        StatusCode::NOT_FOUND
    );

    let (st, h, body) = send(&fx.app, get("/certs?email=Alice%40example.test")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/x-pem-file");
    assert_eq!(String::from_utf8(body).unwrap(), fx.alice.to_pem());

    let (st, h, body) = send(&fx.app, get("/certs?email=alice@example.test&format=json")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v[0]["serial"], fx.alice.serial_hex());
    assert_eq!(v[0]["profile"], "signing");
    assert_eq!(v[0]["pem"], fx.alice.to_pem());
    let req = Request::get("/certs?email=alice@example.test")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&fx.app, req).await.1[header::CONTENT_TYPE],
        "application/json"
    );

    for (uri, want) in [
        ("/certs", StatusCode::BAD_REQUEST),
        ("/certs?email=", StatusCode::BAD_REQUEST),
        ("/certs?email=not-an-address", StatusCode::BAD_REQUEST),
        (
            "/certs?email=alice@example.test&format=xml",
            StatusCode::BAD_REQUEST,
        ),
        ("/certs?email=bob@example.test", StatusCode::NOT_FOUND),
    ] {
        let (st, h, body) = send(&fx.app, get(uri)).await;
        assert_eq!(st, want, "{uri}");
        assert_eq!(h[header::CONTENT_TYPE], "application/json", "{uri}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["error"].as_str().is_some_and(|e| !e.contains('\n')),
            "{uri}: {v}"
        );
    }

    let (st, _, body) = send(&fx.app, get("/health")).await;
    assert_eq!((st, body.as_slice()), (StatusCode::OK, &b"ok\n"[..]));
    assert_eq!(
        send(&fx.app, get("/nothing")).await.0,
        StatusCode::NOT_FOUND
    );
    let req = Request::delete("/crl/issuing.crl")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&fx.app, req).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn ocsp_over_post_and_get() {
    let fx = fixture().await;
    let id = CertId::for_certificate(&fx.issuing, &fx.alice, CertIdHash::Sha1).unwrap();
    let nonce = [7u8; 16];
    let der = ocsp::build_request(std::slice::from_ref(&id), Some(&nonce)).unwrap();
    let req = Request::post("/ocsp")
        .header(header::CONTENT_TYPE, "application/ocsp-request")
        .body(Body::from(der))
        .unwrap();
    let (st, h, body) = send(&fx.app, req).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/ocsp-response");
    let q = OcspQuery {
        cert_id: id.clone(),
        nonce: Some(nonce.to_vec()),
    };
    let s =
        ocsp::check_response(&body, &q, &fx.issuing, NOW + 10, &CheckOptions::default()).unwrap();
    assert_eq!(s.status, CertStatus::Good);
    assert!(s.nonce_echoed);

    // GET, nonce-less, with the base64 percent-encoded as clients do.
    let der = ocsp::build_request(std::slice::from_ref(&id), None).unwrap();
    let path = ocsp::get_path(&der);
    let (st, h, body) = send(&fx.app, get(&format!("/ocsp/{path}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        h[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    let q = OcspQuery {
        cert_id: id,
        nonce: None,
    };
    let s =
        ocsp::check_response(&body, &q, &fx.issuing, NOW + 10, &CheckOptions::default()).unwrap();
    assert_eq!(s.status, CertStatus::Good);

    // Garbage: 400, with the OCSP malformedRequest response as the body.
    for req in [
        Request::post("/ocsp").body(Body::from("garbage")).unwrap(),
        get("/ocsp/%%%not-base64"),
    ] {
        let (st, _, body) = send(&fx.app, req).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            ocsp::error_response(ocsp::ErrorStatus::MalformedRequest)
        );
    }
    let big = vec![0u8; 70 * 1024];
    let (st, _, _) = send(
        &fx.app,
        Request::post("/ocsp").body(Body::from(big)).unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);

    let (_, _, body) = send(&fx.app, get("/metrics")).await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("cachet_ocsp_responses_total{status=\"good\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("cachet_ocsp_responses_total{status=\"malformedRequest\"} 2"),
        "{text}"
    );
    assert!(text.contains("cachet_process_uptime_seconds "), "{text}");
}
