//! The routes. Every failure is a 4xx/5xx with a one-line message: plain text on the
//! publication routes (`/crl`, `/ca`), JSON `{"error": …}` on the lookup API; OCSP answers
//! errors inside an OCSP response (RFC 6960 §2.3), as clients expect.

use crate::{AppState, MAX_BODY, etag_of};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, OriginalUri, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cachet_pki::ocsp::{ErrorStatus, decode_get_path, error_response};
use cachet_service::{OcspAnswer, ServiceError};
use serde::Deserialize;
use std::sync::Arc;

/// The router of the plain-HTTP listener over `state`: the publication routes, lookup,
/// health and metrics, with request counting and the body limit. The REST API is included
/// only when `with_api` — `cachet serve` sets it when the listener is on loopback (e.g.
/// behind a TLS-terminating proxy on the same host): its bearer tokens and the keys it
/// returns must not cross a network in clear (RFC 6750 §5.3). Otherwise `/api/v1/` answers
/// 403 and points to the https listener.
pub fn router(state: Arc<AppState>, with_api: bool) -> Router {
    routes(state, false, with_api)
}

/// The router of the https listener: [`router`] plus EST under `/.well-known/est/`
/// (RFC 7030 §3.2.2; [`crate::est`]), which is served only over TLS. Serve it with
/// `into_make_service_with_connect_info::<crate::tls::TlsPeer>()` so that TLS client
/// certificates reach the EST handlers.
pub fn tls_router(state: Arc<AppState>) -> Router {
    routes(state, true, true)
}

fn routes(state: Arc<AppState>, est: bool, api: bool) -> Router {
    let r = Router::new();
    let r = if est {
        r.merge(crate::est::routes())
    } else {
        r
    };
    r.route("/crl/{file}", get(crl))
        .route("/ca/{file}", get(ca_certificate))
        .route("/ocsp", axum::routing::post(ocsp_post))
        .route("/ocsp/{*request}", get(ocsp_get))
        .route("/certs", get(certs))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .nest(
            "/api/v1",
            if api {
                crate::api::routes(state.clone())
            } else {
                Router::new().fallback(api_needs_tls)
            },
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn api_needs_tls() -> Response {
    json_error(
        StatusCode::FORBIDDEN,
        "the REST API is served over https (the https listener, default port 8443) or on a loopback http listener, never in clear over a network",
    )
}

async fn count(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let resp = next.run(req).await;
    s.metrics.request(
        route.as_deref().unwrap_or("unmatched"),
        resp.status().as_u16(),
    );
    resp
}

pub(crate) fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        m,
    )
        .into_response()
}

fn json_error(status: StatusCode, msg: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": msg.into() }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A failure of the service: the caller's fault is 4xx with the service's sentence, any
/// other is logged and answered 500 (or 503 when the database cannot be reached) without
/// internal detail.
pub(crate) fn service_failure(e: &ServiceError, json: bool) -> Response {
    let (status, msg) = if e.is_input_error() {
        (StatusCode::BAD_REQUEST, e.to_string())
    } else {
        tracing::error!(error = %e, "request failed");
        let status = match e {
            ServiceError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            "the server could not answer (the failure is in its log); try again later".into(),
        )
    };
    if json {
        json_error(status, msg)
    } else {
        text(status, msg)
    }
}

async fn not_found(uri: OriginalUri) -> Response {
    if uri.path().starts_with("/.well-known/est/") {
        return text(
            StatusCode::NOT_FOUND,
            "EST (RFC 7030) is served only over TLS: use the https listener (default port 8443)",
        );
    }
    text(
        StatusCode::NOT_FOUND,
        format!(
            "nothing at {}: Cachet serves /crl/NAME.crl, /ca/NAME.crt, /ocsp, /certs?email=ADDRESS, /health and /metrics",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: Method, uri: OriginalUri) -> Response {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {} (OCSP requests are POSTed to /ocsp; everything else is GET)",
            uri.path()
        ),
    )
}

/// Whether `If-None-Match` (RFC 9110 §13.1.2) matches `etag`: `*` or any listed tag,
/// compared weakly (a `W/` prefix is ignored, as the weak comparison requires).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CA slug in `file` with `ext` (`issuing.crl` → `issuing`), if it is one served.
fn slug<'a>(state: &AppState, file: &'a str, ext: &str) -> Option<&'a str> {
    file.strip_suffix(ext)
        .filter(|s| state.cas.contains_key(*s))
}

fn unknown_ca(state: &AppState, file: &str, ext: &str) -> Response {
    let names: Vec<String> = state
        .ca_names()
        .iter()
        .map(|n| format!("{n}{ext}"))
        .collect();
    text(
        StatusCode::NOT_FOUND,
        format!(
            "no CA publishes {file}: the files here are {}",
            names.join(", ")
        ),
    )
}

/// `GET /crl/{ca}.crl`: the CA's current CRL, DER (RFC 5280 §5; `application/pkix-crl`,
/// RFC 2585 §4.2), with a strong ETag and Last-Modified = thisUpdate; 304 when the client
/// already holds it. Clients may cache until nextUpdate, but are asked to revalidate
/// (`no-cache`), because the CRL is replaced as soon as a certificate is revoked.
async fn crl(
    State(s): State<Arc<AppState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(ca) = slug(&s, &file, ".crl") else {
        return unknown_ca(&s, &file, ".crl");
    };
    let entry = match s.crl(ca).await {
        Ok(e) => e,
        Err(e) => return service_failure(&e, false),
    };
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, hv(&entry.etag));
    h.insert(header::LAST_MODIFIED, hv(&entry.last_modified));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, hv(&crate::http_date(entry.next_update)));
    if none_match(&headers, &entry.etag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-crl"),
    );
    (h, entry.der.clone()).into_response()
}

/// `GET /ca/{ca}.crt`: the CA certificate, DER (the caIssuers target of RFC 5280
/// §4.2.2.1; `application/pkix-cert`, RFC 2585 §4.1).
async fn ca_certificate(
    State(s): State<Arc<AppState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(ca) = slug(&s, &file, ".crt") else {
        return unknown_ca(&s, &file, ".crt");
    };
    let Some(f) = s.cas.get(ca) else {
        return unknown_ca(&s, &file, ".crt");
    };
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, hv(&f.etag));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    if none_match(&headers, &f.etag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-cert"),
    );
    (h, f.der.clone()).into_response()
}

fn ocsp_reply(s: &AppState, a: &OcspAnswer, get: bool) -> Response {
    match a.error {
        Some(e) => {
            s.metrics.ocsp(e.name(), 1);
            if let Some(p) = &a.problem {
                if e == ErrorStatus::InternalError {
                    tracing::error!(problem = %p, "OCSP internal error");
                } else {
                    tracing::debug!(problem = %p, "OCSP request refused");
                }
            }
        }
        None => {
            s.metrics.ocsp("good", a.counts.good as u64);
            s.metrics.ocsp("revoked", a.counts.revoked as u64);
            s.metrics.ocsp("unknown", a.counts.unknown as u64);
        }
    }
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/ocsp-response"),
    );
    // RFC 5019 §6.2: GET responses may be cached by HTTP caches, for no longer than the
    // responder itself reuses them; POST and nonce-bearing responses must not be.
    let cache = match (get, a.cacheable_until) {
        (true, Some(until)) => format!(
            "max-age={}, public, no-transform, must-revalidate",
            until.saturating_sub(s.now())
        ),
        _ => "no-store".to_string(),
    };
    h.insert(header::CACHE_CONTROL, hv(&cache));
    // A request that does not parse is the client's fault: 400, with the OCSP
    // malformedRequest response as the body (for clients that read it) and the reason in a
    // header (for people with curl).
    if a.error == Some(ErrorStatus::MalformedRequest) {
        if let Some(p) = &a.problem {
            h.insert("x-cachet-problem", hv(&ascii_line(p)));
        }
        return (
            StatusCode::BAD_REQUEST,
            h,
            Body::from(a.der.as_ref().clone()),
        )
            .into_response();
    }
    (h, Body::from(a.der.as_ref().clone())).into_response()
}

/// `s` as one printable ASCII line of at most 200 characters, for a header value.
fn ascii_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}

/// `POST /ocsp` (RFC 6960 Appendix A.1): a DER OCSPRequest in, a DER OCSPResponse out.
/// Bodies over 64 KiB are refused (413) before they are read whole.
async fn ocsp_post(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    let a = s.cachet().ocsp_answer(s.kek(), &body, s.now()).await;
    ocsp_reply(&s, &a, false)
}

/// `GET /ocsp/{base64}` (RFC 6960 Appendix A.1): the request is the URL-encoding of the
/// base64 of its DER. The raw path is decoded here (not by the router), because base64
/// holds `/` and `+` and clients differ in what they percent-encode.
async fn ocsp_get(State(s): State<Arc<AppState>>, uri: OriginalUri) -> Response {
    let path = uri.path();
    let encoded = path.strip_prefix("/ocsp/").unwrap_or("");
    let a = match decode_get_path(encoded) {
        Ok(der) => s.cachet().ocsp_answer(s.kek(), &der, s.now()).await,
        Err(e) => {
            s.metrics.ocsp(ErrorStatus::MalformedRequest.name(), 1);
            tracing::debug!(error = %e, "OCSP GET request refused");
            let mut h = HeaderMap::new();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/ocsp-response"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert("x-cachet-problem", hv(&ascii_line(&e.to_string())));
            return (
                StatusCode::BAD_REQUEST,
                h,
                error_response(ErrorStatus::MalformedRequest),
            )
                .into_response();
        }
    };
    ocsp_reply(&s, &a, true)
}

#[derive(Deserialize)]
struct CertsQuery {
    email: Option<String>,
    format: Option<String>,
}

/// `GET /certs?email=ADDRESS[&format=json|pem]`: the current certificates of a mailbox
/// (what a correspondent needs to encrypt to it and to check its signatures), PEM by
/// default, JSON with `format=json` or `Accept: application/json`.
async fn certs(
    State(s): State<Arc<AppState>>,
    query: Result<Query<CertsQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Query(q)) = query else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "the query string does not decode: use /certs?email=alice@example.com",
        );
    };
    let Some(email) = q.email.filter(|e| !e.trim().is_empty()) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "missing the email parameter: use /certs?email=alice@example.com",
        );
    };
    let json = match q.format.as_deref() {
        Some("json") => true,
        Some("pem") => false,
        Some(other) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!("unknown format '{other}': use format=pem (default) or format=json"),
            );
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json")),
    };
    let found = match s.cachet().lookup(&email, s.now()).await {
        Ok(f) => f,
        Err(e) => return service_failure(&e, true),
    };
    if found.is_empty() {
        return json_error(
            StatusCode::NOT_FOUND,
            format!("no current certificate for {}", email.trim()),
        );
    }
    if json {
        let list: Vec<serde_json::Value> = found
            .iter()
            .map(|r| {
                serde_json::json!({
                    "serial": r.serial,
                    "profile": r.profile,
                    "not_before": cachet_pki::time::rfc3339(r.not_before.max(0) as u64),
                    "not_after": cachet_pki::time::rfc3339(r.not_after.max(0) as u64),
                    "pem": cachet_pki::pem::encode("CERTIFICATE", &r.der),
                })
            })
            .collect();
        (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::Value::Array(list).to_string(),
        )
            .into_response()
    } else {
        let pem: String = found
            .iter()
            .map(|r| cachet_pki::pem::encode("CERTIFICATE", &r.der))
            .collect();
        let etag = etag_of(pem.as_bytes());
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-pem-file"),
        );
        h.insert(header::ETAG, hv(&etag));
        (h, pem).into_response()
    }
}

/// `GET /health`: 200 `ok` when the database answers, else 503 with the reason.
async fn health(State(s): State<Arc<AppState>>) -> Response {
    match s.cachet().store().ping().await {
        Ok(()) => text(StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the database does not answer: {e}"),
            )
        }
    }
}

/// `GET /metrics`: Prometheus text exposition (format version 0.0.4).
async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(s.uptime()),
    )
        .into_response()
}
