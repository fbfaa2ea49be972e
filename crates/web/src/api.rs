//! The REST admin API under `/api/v1/`: accounts, certificates, revocation, CRLs, recovery
//! requests, renewal and the audit log, for scripts and the portal.
//!
//! Every request carries a bearer token (`Authorization: Bearer cachet_<id>_<secret>`, RFC
//! 6750) made with `cachet token create`; its role decides what it may do: `admin`
//! everything, `auditor` reads, `recovery-officer` the recovery requests. A missing or bad
//! token is 401 with `WWW-Authenticate: Bearer`, a token of the wrong role 403. Every call
//! made with a valid token — allowed or refused — leaves an audit record (`api-call`:
//! method, path, status); state changes also leave their own records (`account-created`,
//! `certificate-revoked`, …). Request bodies are JSON objects with unknown fields refused;
//! answers are JSON, errors `{"error": "…"}`.

use crate::AppState;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use cachet_escrow::{RecoveryRequest, RequestPurpose};
use cachet_pki::crl::RevocationReason;
use cachet_pki::time::rfc3339;
use cachet_service::ServiceError;
use cachet_service::accounts::NewAccount;
use cachet_service::tokens::{Caller, Role};
use cachet_service::views::{AccountView, CertificateView};
use cachet_store::{AccountRecord, AccountState, CertificateRecord};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;

/// The API's routes, to be nested under `/api/v1`.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/users", get(list_users).post(add_user))
        .route("/users/{email}", get(show_user).delete(remove_user))
        .route("/users/{email}/disable", post(disable_user))
        .route("/users/{email}/enable", post(enable_user))
        .route("/users/{email}/keys", post(collect_keys))
        .route(
            "/certificates",
            get(list_certificates).post(issue_certificate),
        )
        .route("/certificates/{serial}", get(show_certificate))
        .route("/certificates/{serial}/revoke", post(revoke_certificate))
        .route("/crls/{ca}", get(show_crl).post(publish_crl))
        .route(
            "/recovery/requests",
            get(list_recovery_requests).post(request_recovery),
        )
        .route("/renewals", post(renew))
        .route("/audit", get(audit_log))
        .layer(middleware::from_fn_with_state(state, authenticate))
        .route("/openapi.json", get(openapi))
}

/// What an authenticated request carries to its handler.
#[derive(Clone)]
struct Authenticated(Caller);

/// An API failure: status and sentence.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"error": self.1}))).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::UnknownAccount(_) | ServiceError::UnknownSerial(_) => {
                StatusCode::NOT_FOUND
            }
            ServiceError::UnknownRequest(_) => StatusCode::NOT_FOUND,
            ServiceError::RecoveryOff(_) => StatusCode::CONFLICT,
            e if e.is_input_error() => StatusCode::BAD_REQUEST,
            ServiceError::Store(cachet_store::StoreError::Conflict(_)) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "API call failed");
        }
        ApiError(status, e.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// Checks the bearer token, then runs the handler, then audits the call.
async fn authenticate(State(s): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let unauthorized = |msg: &str| {
        let mut r = ApiError(StatusCode::UNAUTHORIZED, msg.into()).into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"cachet\""),
        );
        r
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let Some(token) = token else {
        return unauthorized(
            "this API needs a bearer token: Authorization: Bearer <token from `cachet token create`>",
        );
    };
    let caller = match s.cachet().authenticate_token(&token).await {
        Ok(Ok(c)) => c,
        Ok(Err(_)) => {
            return unauthorized("the bearer token is not valid (unknown, revoked or mistyped)");
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let method = req.method().clone();
    // The full path: inside `nest`, the request's own URI has lost the /api/v1 prefix.
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.path().to_owned());
    req.extensions_mut().insert(Authenticated(caller.clone()));
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    // A state change is already audited in its own transaction; this record adds who
    // called and what was answered. If it cannot be written the answer still goes out —
    // it may carry a one-time secret (a PKCS#12 password) that exists nowhere else — and
    // the failure is logged loudly.
    if let Err(e) = s
        .cachet()
        .record_api_call(s.kek(), &caller, method.as_str(), &path, status, s.now())
        .await
    {
        tracing::error!(error = %e, caller = %caller.actor(), method = %method, path = %path, status, "cannot write the audit record of an API call");
    }
    resp
}

/// Refuses the call unless the caller has one of `roles`.
fn require(req_caller: &Authenticated, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&req_caller.0.role) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "a token with role {} may not do this (needs {})",
                req_caller.0.role,
                roles
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ))
    }
}

const READERS: &[Role] = &[Role::Admin, Role::Auditor];
const ADMIN: &[Role] = &[Role::Admin];

/// Parses a JSON object body, refusing unknown fields (serde `deny_unknown_fields` on the
/// target types) with the parser's explanation.
fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request body as Content-Type: application/json".into(),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

fn caller_of(req: &axum::http::Extensions) -> Result<Authenticated, ApiError> {
    req.get::<Authenticated>().cloned().ok_or_else(|| {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "this API needs a bearer token".into(),
        )
    })
}

fn certificate_json(r: &CertificateRecord, now: u64, with_pem: bool) -> Value {
    json!(CertificateView::of(r, now, with_pem))
}

fn account_json(a: &AccountRecord) -> Value {
    json!(AccountView::of(a))
}

fn ok(status: StatusCode, v: Value) -> ApiResult {
    Ok((status, axum::Json(v)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateQuery {
    state: Option<String>,
}

async fn list_users(
    State(s): State<Arc<AppState>>,
    Query(q): Query<StateQuery>,
    req: Request,
) -> ApiResult {
    require(&caller_of(req.extensions())?, READERS)?;
    let state = match q.state.as_deref() {
        None => None,
        Some("active") => Some(AccountState::Active),
        Some("disabled") => Some(AccountState::Disabled),
        Some("removed") => Some(AccountState::Removed),
        Some(other) => {
            return Err(bad_request(format!(
                "state '{other}' is not active, disabled or removed"
            )));
        }
    };
    let accounts = s.cachet().accounts(state).await?;
    ok(
        StatusCode::OK,
        json!(accounts.iter().map(account_json).collect::<Vec<_>>()),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    name: Option<String>,
    password: Option<String>,
}

fn enrolled_json(e: &cachet_service::accounts::Enrolled, now: u64) -> Value {
    let mut v = json!({
        "account": account_json(&e.account),
        "certificates": e
            .certificates
            .iter()
            .map(|i| certificate_json(&i.record, now, true))
            .collect::<Vec<_>>(),
    });
    if let Some(k) = &e.keys {
        v["pkcs12"] = json!(base64::engine::general_purpose::STANDARD.encode(&k.pkcs12[..]));
        v["pkcs12_password"] = json!(k.password.as_str());
    }
    v
}

async fn add_user(State(s): State<Arc<AppState>>, req: Request) -> ApiResult {
    let caller = caller_of(req.extensions())?;
    require(&caller, ADMIN)?;
    let (parts, bytes) = read_body(req).await?;
    let u: NewUser = body(&parts.headers, &bytes)?;
    let now = s.now();
    let new = NewAccount {
        email: u.email,
        name: u.name,
        password: u.password.map(zeroize::Zeroizing::new),
    };
    let actor = caller.0.actor();
    let enrolled = crate::cpu_bound(
        s.cachet()
            .add_account(s.kek(), &new, s.policy(), &actor, now),
    )
    .await?;
    ok(StatusCode::CREATED, enrolled_json(&enrolled, now))
}

async fn read_body(
    req: Request,
) -> Result<(axum::http::request::Parts, axum::body::Bytes), ApiError> {
    let (parts, b) = req.into_parts();
    let bytes = axum::body::to_bytes(b, crate::MAX_BODY)
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large".into(),
            )
        })?;
    Ok((parts, bytes))
}

async fn show_user(
    State(s): State<Arc<AppState>>,
    Path(email): Path<String>,
    req: Request,
) -> ApiResult {
    require(&caller_of(req.extensions())?, READERS)?;
    let (a, certs) = s.cachet().account(&email).await?;
    let now = s.now();
    let mut v = account_json(&a);
    v["certificates"] = json!(
        certs
            .iter()
            .map(|c| certificate_json(c, now, false))
            .collect::<Vec<_>>()
    );
    ok(StatusCode::OK, v)
}

fn revoked_json(email: &str, state: &str, revoked: &[CertificateRecord]) -> Value {
    json!({
        "email": email,
        "state": state,
        "revoked": revoked.iter().map(|r| r.serial.clone()).collect::<Vec<_>>(),
    })
}

async fn disable_user(
    State(s): State<Arc<AppState>>,
    Path(email): Path<String>,
    req: Request,
) -> ApiResult {
    close_user(
        &s,
        &email,
        caller_of(req.extensions())?,
        AccountState::Disabled,
    )
    .await
}

async fn remove_user(
    State(s): State<Arc<AppState>>,
    Path(email): Path<String>,
    req: Request,
) -> ApiResult {
    close_user(
        &s,
        &email,
        caller_of(req.extensions())?,
        AccountState::Removed,
    )
    .await
}

/// Disables or removes an account (its certificates are revoked).
async fn close_user(
    s: &AppState,
    email: &str,
    caller: Authenticated,
    to: AccountState,
) -> ApiResult {
    require(&caller, ADMIN)?;
    let (c, actor, now) = (s.cachet(), caller.0.actor(), s.now());
    let revoked = if to == AccountState::Removed {
        c.remove_account(s.kek(), email, &actor, now).await?
    } else {
        c.disable_account(s.kek(), email, &actor, now).await?
    };
    s.invalidate_publication();
    ok(StatusCode::OK, revoked_json(email, to.name(), &revoked))
}

async fn enable_user(
    State(s): State<Arc<AppState>>,
    Path(email): Path<String>,
    req: Request,
) -> ApiResult {
    let caller = caller_of(req.extensions())?;
    require(&caller, ADMIN)?;
    let now = s.now();
    let actor = caller.0.actor();
    let enrolled =
        crate::cpu_bound(
            s.cachet()
                .enable_account(s.kek(), &email, s.policy(), &actor, now),
        )
        .await?;
    ok(StatusCode::OK, enrolled_json(&enrolled, now))
}

async fn collect_keys(
    State(s): State<Arc<AppState>>,
    Path(email): Path<String>,
    req: Request,
) -> ApiResult {
    let caller = caller_of(req.extensions())?;
    require(&caller, ADMIN)?;
    let actor = caller.0.actor();
    match crate::cpu_bound(s.cachet().collect_keys(s.kek(), &email, &actor, s.now())).await? {
        Some(k) => ok(
            StatusCode::OK,
            json!({
                "email": email,
                "serials": k.serials,
                "pkcs12": base64::engine::general_purpose::STANDARD.encode(&k.pkcs12[..]),
                "pkcs12_password": k.password.as_str(),
            }),
        ),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no keys wait for {email}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailQuery {
    email: Option<String>,
}

async fn list_certificates(
    State(s): State<Arc<AppState>>,
    Query(q): Query<EmailQuery>,
    req: Request,
) -> ApiResult {
    require(&caller_of(req.extensions())?, READERS)?;
    let now = s.now();
    let certs = match q.email.as_deref() {
        Some(e) => {
            let e =
                cachet_pki::profile::normalize_email(e).map_err(|e| bad_request(e.to_string()))?;
            s.cachet().certificates(Some(&e)).await?
        }
        None => s.cachet().certificates(None).await?,
    };
    ok(
        StatusCode::OK,
        json!(
            certs
                .iter()
                .map(|c| certificate_json(c, now, false))
                .collect::<Vec<_>>()
        ),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCertificate {
    email: String,
    profile: String,
    /// PKCS#10 request (PEM); absent: Cachet generates the key.
    csr: Option<String>,
    key_type: Option<String>,
    validity_days: Option<u32>,
}

/// Issues one certificate (like `cachet cert issue`): from a CSR, or with a key Cachet
/// generates and returns (PKCS#8 PEM) in the answer.
async fn issue_certificate(State(s): State<Arc<AppState>>, req: Request) -> ApiResult {
    let caller = caller_of(req.extensions())?;
    require(&caller, ADMIN)?;
    let (parts, bytes) = read_body(req).await?;
    let n: NewCertificate = body(&parts.headers, &bytes)?;
    let profile: cachet_pki::profile::Profile = n.profile.parse().map_err(|_| {
        bad_request(format!(
            "profile '{}' is not signing, encryption or dual",
            n.profile
        ))
    })?;
    let key = match (n.csr, n.key_type) {
        (Some(_), Some(_)) => {
            return Err(bad_request("give either csr or key_type, not both"));
        }
        (Some(csr), None) => cachet_service::KeySource::Csr {
            bytes: csr.into_bytes(),
            source: "the request's csr".into(),
        },
        (None, kt) => {
            let kt = match kt {
                Some(k) => k
                    .parse::<cachet_crypto::KeyType>()
                    .map_err(|e| bad_request(format!("key_type: {e}")))?,
                None => match profile {
                    cachet_pki::profile::Profile::Encryption => s.policy().encryption_key_type,
                    _ => s.policy().signing_key_type,
                },
            };
            cachet_service::KeySource::Generate(kt)
        }
    };
    let now = s.now();
    let request = cachet_service::IssueRequest {
        email: n.email,
        profile,
        key,
        validity_days: n.validity_days,
        non_repudiation: false,
        actor: caller.0.actor(),
    };
    let issued = crate::cpu_bound(s.cachet().issue(s.kek(), request, now)).await?;
    let mut v = certificate_json(&issued.record, now, true);
    v["chain_pem"] = json!(
        issued
            .chain
            .iter()
            .map(|c| cachet_pki::pem::encode("CERTIFICATE", c.der()))
            .collect::<String>()
    );
    if let Some(k) = &issued.key {
        v["key_pem"] = json!(cachet_pki::pem::encode("PRIVATE KEY", k.pkcs8_der()));
    }
    ok(StatusCode::CREATED, v)
}

async fn show_certificate(
    State(s): State<Arc<AppState>>,
    Path(serial): Path<String>,
    req: Request,
) -> ApiResult {
    require(&caller_of(req.extensions())?, READERS)?;
    let rec = s.cachet().certificate(&serial).await?;
    ok(StatusCode::OK, certificate_json(&rec, s.now(), true))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Revoke {
    reason: String,
}

async fn revoke_certificate(
    State(s): State<Arc<AppState>>,
    Path(serial): Path<String>,
    req: Request,
) -> ApiResult {
    let caller = caller_of(req.extensions())?;
    require(&caller, ADMIN)?;
    let (parts, bytes) = read_body(req).await?;
    let r: Revoke = body(&parts.headers, &bytes)?;
    let reason = RevocationReason::from_name(&r.reason).ok_or_else(|| {
        bad_request(format!(
            "reason '{}' is not one of unspecified, key-compromise, affiliation-changed, superseded, cessation-of-operation",
            r.reason
        ))
    })?;
    let rec = s
        .cachet()
        .revoke(s.kek(), &serial, reason, &caller.0.actor(), s.now())
        .await?;
    s.invalidate_publication();
    ok(StatusCode::OK, certificate_json(&rec, s.now(), false))
}

fn crl_json(ca: &str, r: &cachet_store::CrlRecord) -> Value {
    json!({
        "ca": ca,
        "number": r.number,
        "this_update": rfc3339(r.this_update.max(0) as u64),
        "next_update": rfc3339(r.next_update.max(0) as u64),
        "pem": cachet_pki::pem::encode("X509 CRL", &r.der),
    })
}

fn check_ca(s: &AppState, ca: &str) -> Result<(), ApiError> {
    if s.ca_names().iter().any(|n| n == ca) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no CA '{ca}' (there are: {})", s.ca_names().join(", ")),
        ))
    }
}

async fn show_crl(
    State(s): State<Arc<AppState>>,
    Path(ca): Path<String>,
    req: Request,
) -> ApiResult {
    require(&caller_of(req.extensions())?, READERS)?;
    check_ca(&s, &ca)?;
    let cur = s.cachet().current_crl(s.kek(), &ca, s.now()).await?;
    ok(StatusCode::OK, crl_json(&ca, &cur.record))
}

async fn publish_crl(
    State(s): State<Arc<AppState>>,
    Path(ca): Path<String>,
    req: Request,
) -> ApiResult {
    let caller = caller_of(req.extensions())?;
    require(&caller, ADMIN)?;
    check_ca(&s, &ca)?;
    let r = s
        .cachet()
        .publish_crl(s.kek(), &ca, &caller.0.actor(), s.now())
        .await?;
    s.invalidate_publication();
    ok(StatusCode::CREATED, crl_json(&ca, &r))
}

fn recovery_json(r: &RecoveryRequest, now: u64) -> Value {
    serde_json::to_value(cachet_service::recovery::RequestView::of(r, now)).unwrap_or(Value::Null)
}

async fn list_recovery_requests(State(s): State<Arc<AppState>>, req: Request) -> ApiResult {
    require(
        &caller_of(req.extensions())?,
        &[Role::Admin, Role::Auditor, Role::RecoveryOfficer],
    )?;
    let now = s.now();
    let list = s.cachet().recovery_requests(None, "api", now).await?;
    ok(
        StatusCode::OK,
        json!(
            list.iter()
                .map(|r| recovery_json(r, now))
                .collect::<Vec<_>>()
        ),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRecovery {
    email: String,
    serial: Option<String>,
    reason: String,
}

async fn request_recovery(State(s): State<Arc<AppState>>, req: Request) -> ApiResult {
    let caller = caller_of(req.extensions())?;
    require(&caller, ADMIN)?;
    let (parts, bytes) = read_body(req).await?;
    let r: NewRecovery = body(&parts.headers, &bytes)?;
    let now = s.now();
    let email =
        cachet_pki::profile::normalize_email(&r.email).map_err(|e| bad_request(e.to_string()))?;
    let request = s
        .cachet()
        .request_recovery(
            s.kek(),
            RequestPurpose::Recover {
                email,
                serial: r.serial,
            },
            &r.reason,
            cachet_escrow::DEFAULT_REQUEST_TTL,
            &caller.0.actor(),
            now,
        )
        .await?;
    ok(StatusCode::CREATED, recovery_json(&request, now))
}

async fn renew(State(s): State<Arc<AppState>>, req: Request) -> ApiResult {
    let caller = caller_of(req.extensions())?;
    require(&caller, ADMIN)?;
    let actor = caller.0.actor();
    let report =
        crate::cpu_bound(
            s.cachet()
                .renew_due(s.kek(), s.policy(), &actor, s.now(), 10_000),
        )
        .await?;
    s.invalidate_publication();
    ok(
        StatusCode::OK,
        json!({
            "renewed": report.renewed.iter().map(|(e, o, n)| json!({"email": e, "old": o, "new": n})).collect::<Vec<_>>(),
            "failed": report.failed.iter().map(|(serial, m)| json!({"serial": serial, "error": m})).collect::<Vec<_>>(),
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    after: Option<i64>,
    limit: Option<usize>,
}

async fn audit_log(
    State(s): State<Arc<AppState>>,
    Query(q): Query<AuditQuery>,
    req: Request,
) -> ApiResult {
    require(&caller_of(req.extensions())?, READERS)?;
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let after = q.after.unwrap_or(0);
    let records = s
        .cachet()
        .store()
        .audit_records(after, i64::MAX, limit as i64)
        .await
        .map_err(ServiceError::from)?;
    let page: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "seq": r.seq,
                "at": rfc3339(r.entry.at.max(0) as u64),
                "actor": r.entry.actor,
                "action": r.entry.action,
                "serial": r.entry.serial,
                "subject": r.entry.subject,
                "detail": r.entry.detail,
            })
        })
        .collect();
    ok(StatusCode::OK, json!(page))
}

async fn openapi(method: Method) -> Response {
    let _ = method;
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The OpenAPI 3.1 description of this API.
const OPENAPI: &str = include_str!("openapi.json");
