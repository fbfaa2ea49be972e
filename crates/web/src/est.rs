//! Enrollment over Secure Transport (RFC 7030) under `/.well-known/est/` (§3.2.2), on the
//! https listener only: EST relies on TLS for confidentiality and, optionally, for client
//! authentication (§3.2.1, §3.3), so [`crate::router`] (plain HTTP) does not carry it and
//! [`crate::tls_router`] does.
//!
//! | route | method | RFC 7030 | authentication |
//! |---|---|---|---|
//! | `cacerts` | GET | §4.1 | none (§4.1.1: the CA certificates are public) |
//! | `simpleenroll` | POST | §4.2.1 | HTTP Basic or TLS client certificate |
//! | `simplereenroll` | POST | §4.2.2 | HTTP Basic or TLS client certificate |
//! | `serverkeygen` | POST | §4.4 | HTTP Basic or TLS client certificate |
//!
//! Each also answers under `/.well-known/est/{label}/…` (§3.2.2), the label choosing the
//! certificate profile: `signing`, `encryption` or `dual` (see
//! [`cachet_service::est::est_profile`] for the defaults without one).
//!
//! Authentication (§3.2.3, §3.3.2): HTTP Basic with the account's mailbox and EST password,
//! or a TLS client certificate that is a live certificate Cachet issued to an active
//! account. When a request carries Basic credentials they decide (a wrong password is 401
//! even with a good certificate: the client asked to be judged by them). Neither is 401
//! with `WWW-Authenticate: Basic realm="cachet-est"` (§3.2.3), so that `curl --user` and
//! EST clients retry with credentials. Which mailbox a CSR may name, and everything else
//! about what is issued, is decided and audited by the service (`Cachet::est_enroll_as`).
//!
//! Bodies are at most [`crate::MAX_BODY`] (64 KiB; a CSR is a few hundred bytes) and base64 (§4.2.1, "Content-Transfer-Encoding: base64" per §4.1.3): line breaks
//! and other white space are ignored, padding is optional, and a PEM CSR is accepted as
//! well. The `Content-Type` is not checked: the body's form is what matters, and `curl
//! --data-binary` sends `application/x-www-form-urlencoded` unless told otherwise. Every
//! failure is a short line of text.

use crate::AppState;
use crate::handlers::{service_failure, text};
use crate::tls::TlsPeer;
use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, general_purpose};
use cachet_service::est::EstOperation;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The path labels (RFC 7030 §3.2.2) Cachet serves: the certificate profiles.
pub const LABELS: &[&str] = &["signing", "encryption", "dual"];

/// Base64 as EST clients send it: padding optional (some omit it).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How many Argon2id password checks may run at once. Each takes tens of milliseconds and
/// ~19 MiB on a runtime thread, so a flood of Basic attempts must queue rather than take
/// every thread and all memory.
static PASSWORD_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The EST routes, merged into the https router.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/.well-known/est/{op}", any(unlabelled))
        .route("/.well-known/est/{label}/{op}", any(labelled))
}

async fn unlabelled(
    State(s): State<Arc<AppState>>,
    Path(op): Path<String>,
    method: Method,
    headers: HeaderMap,
    ext: Extensions,
    body: Bytes,
) -> Response {
    est(&s, None, &op, &method, &headers, &ext, &body).await
}

async fn labelled(
    State(s): State<Arc<AppState>>,
    Path((label, op)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    ext: Extensions,
    body: Bytes,
) -> Response {
    est(&s, Some(&label), &op, &method, &headers, &ext, &body).await
}

/// The operation named by the last path segment, or the answer for one Cachet does not
/// serve.
fn operation(op: &str, method: &Method) -> Result<Option<EstOperation>, Response> {
    let (operation, wanted) = match op {
        "cacerts" => (None, Method::GET),
        "simpleenroll" => (Some(EstOperation::Enroll), Method::POST),
        "simplereenroll" => (Some(EstOperation::Reenroll), Method::POST),
        "serverkeygen" => (Some(EstOperation::ServerKeygen), Method::POST),
        // Both optional in RFC 7030 (§4.3 Full CMC, §4.5 CSR attributes); a 404 tells a
        // client they are not offered (§4.5.2 asks exactly that for csrattrs).
        "fullcmc" | "csrattrs" => {
            return Err(text(
                StatusCode::NOT_FOUND,
                format!(
                    "EST {op} is not offered by Cachet: use cacerts, simpleenroll, simplereenroll or serverkeygen"
                ),
            ));
        }
        _ => {
            return Err(text(
                StatusCode::NOT_FOUND,
                format!(
                    "no EST operation '{op}': Cachet serves cacerts, simpleenroll, simplereenroll and serverkeygen"
                ),
            ));
        }
    };
    if *method != wanted {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("EST {op} takes {wanted} (RFC 7030 §4), not {method}"),
        );
        let allow = if wanted == Method::GET { "GET" } else { "POST" };
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return Err(r);
    }
    Ok(operation)
}

async fn est(
    s: &AppState,
    label: Option<&str>,
    op: &str,
    method: &Method,
    headers: &HeaderMap,
    ext: &Extensions,
    body: &[u8],
) -> Response {
    if let Some(l) = label
        && !LABELS.contains(&l)
    {
        return text(
            StatusCode::NOT_FOUND,
            format!(
                "no EST label '{l}': Cachet serves /.well-known/est/ and its labels signing, encryption and dual"
            ),
        );
    }
    let operation = match operation(op, method) {
        Ok(Some(o)) => o,
        Ok(None) => return cacerts(s).await,
        Err(r) => return r,
    };
    let peer = ext.get::<ConnectInfo<TlsPeer>>().map(|c| &c.0);
    let (email, via) = match authenticate(s, headers, peer).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    // The certificate that authenticated the request is the one a re-enrollment renews.
    let client_certificate = match via {
        "certificate" => peer.and_then(|p| p.certificate.as_deref()),
        _ => None,
    };
    let csr = match decode_body(body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let actor = format!("cachet-serve:est:{email}:{via}");
    let issued = match crate::cpu_bound(s.cachet().est_enroll_as(
        s.kek(),
        &email,
        &csr,
        label,
        operation,
        s.policy(),
        &actor,
        s.now(),
        client_certificate,
    ))
    .await
    {
        Ok(i) => i,
        Err(e) => return service_failure(&e, false),
    };
    tracing::info!(
        email = %email,
        operation = op,
        via,
        serial = %issued.record.serial,
        profile = %issued.record.profile,
        "EST enrollment"
    );
    let certs = match cachet_smime::signed::certs_only(&[issued.certificate.der()]) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the issued certificate");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the certificate was issued but cannot be encoded (the failure is in the server's log)",
            );
        }
    };
    match (operation, issued.key.as_ref()) {
        (EstOperation::ServerKeygen, Some(key)) => server_keygen_response(key.pkcs8_der(), &certs),
        (EstOperation::ServerKeygen, None) => {
            tracing::error!("serverkeygen issued a certificate without a generated key");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server could not answer (the failure is in its log)",
            )
        }
        _ => certs_response(&certs),
    }
}

/// §4.1.3: the CA certificates as a base64 certs-only SignedData.
async fn cacerts(s: &AppState) -> Response {
    match s.cachet().est_cacerts().await {
        Ok(der) => certs_only_response(&der, "application/pkcs7-mime"),
        Err(e) => service_failure(&e, false),
    }
}

/// §4.2.3: the issued certificate, `application/pkcs7-mime; smime-type=certs-only`.
fn certs_response(der: &[u8]) -> Response {
    certs_only_response(der, "application/pkcs7-mime; smime-type=certs-only")
}

fn certs_only_response(der: &[u8], content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::HeaderName::from_static("content-transfer-encoding"),
                "base64",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        base64_lines(der),
    )
        .into_response()
}

/// §4.4.2: `multipart/mixed` with the private key (`application/pkcs8`, unencrypted: TLS
/// protects it, and §4.4.2 allows it without additional encryption) and then the
/// certificate (`application/pkcs7-mime; smime-type=certs-only`), both base64.
fn server_keygen_response(pkcs8: &[u8], certs: &[u8]) -> Response {
    let boundary = match cachet_crypto::rand::bytes::<12>() {
        Ok(b) => format!("cachet-est-{}", hex::encode(b)),
        Err(e) => {
            tracing::error!(error = %e, "no randomness for a MIME boundary");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server could not answer (the failure is in its log)",
            );
        }
    };
    let key = Zeroizing::new(base64_lines(pkcs8));
    let mut body = Zeroizing::new(String::with_capacity(key.len() + 2 * certs.len() + 400));
    body.push_str(&format!(
        "--{boundary}\r\nContent-Type: application/pkcs8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ));
    body.push_str(&key);
    // Each delimiter is CRLF "--" boundary (RFC 2046 §5.1.1): the CRLF belongs to it.
    body.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ));
    body.push_str(&base64_lines(certs));
    body.push_str(&format!("\r\n--{boundary}--\r\n"));
    let content_type = format!("multipart/mixed; boundary={boundary}");
    let mut r = (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        body.as_bytes().to_vec(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// Base64 in lines of 64 characters (RFC 2045 §6.8 allows up to 76), each ending LF: EST
/// clients ignore line breaks of either kind (§4.1.3 refers to RFC 2045 base64), and LF is
/// what shell tools (`base64 -d`, `openssl base64 -d`) decode without complaint.
fn base64_lines(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 32 + 2);
    for chunk in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every 64-byte chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The CSR from a request body: base64 of DER with any white space (§4.2.1), or PEM.
fn decode_body(body: &[u8]) -> Result<Vec<u8>, Response> {
    let bad = |m: &str| text(StatusCode::BAD_REQUEST, m);
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(bad(
            "the request has no body: send the PKCS#10 CSR in base64 (RFC 7030 §4.2.1)",
        ));
    }
    if trimmed.starts_with(b"-----BEGIN") {
        return Ok(trimmed.to_vec());
    }
    let compact: Vec<u8> = trimmed
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match LENIENT.decode(&compact) {
        Ok(der) if !der.is_empty() => Ok(der),
        _ => Err(bad(
            "the body is not base64: send the DER PKCS#10 CSR base64-encoded (RFC 7030 §4.2.1), e.g. `openssl req -outform DER | base64`",
        )),
    }
}

/// 401 with the Basic challenge (RFC 7030 §3.2.3, RFC 7617).
fn unauthorized(msg: &str) -> Response {
    let mut r = text(StatusCode::UNAUTHORIZED, msg);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"cachet-est\", charset=\"UTF-8\""),
    );
    r
}

/// `Authorization: Basic` credentials (RFC 7617 §2): the mailbox and the password. `None`
/// when the request carries none; `Err` when the header is not usable.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, Zeroizing<String>)>, Response> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        unauthorized(
            "the Authorization header is not HTTP Basic credentials (mailbox:password, base64)",
        )
    };
    let v = v.to_str().map_err(|_| malformed())?.trim();
    let Some((scheme, creds)) = v.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let raw = Zeroizing::new(
        general_purpose::STANDARD
            .decode(creds.trim())
            .map_err(|_| malformed())?,
    );
    let s = std::str::from_utf8(&raw).map_err(|_| malformed())?;
    let (user, password) = s.split_once(':').ok_or_else(malformed)?;
    Ok(Some((
        user.to_string(),
        Zeroizing::new(password.to_string()),
    )))
}

/// The authenticated mailbox and how it was authenticated (for the audit actor), or the
/// response that refuses the request.
async fn authenticate(
    s: &AppState,
    headers: &HeaderMap,
    peer: Option<&TlsPeer>,
) -> Result<(String, &'static str), Response> {
    if let Some((user, password)) = basic_credentials(headers)? {
        let ok = {
            let _permit = PASSWORD_CHECKS.acquire().await;
            crate::cpu_bound(s.cachet().check_account_password(&user, &password)).await
        };
        return match ok {
            Ok(true) => Ok((user, "basic")),
            Ok(false) => Err(unauthorized(
                "wrong mailbox or password (an administrator sets the EST password with `cachet user password MAILBOX --password-file FILE`)",
            )),
            Err(e) => Err(service_failure(&e, false)),
        };
    }
    if let Some(der) = peer.and_then(|p| p.certificate.as_deref()) {
        return match s.cachet().est_client_account(der, s.now()).await {
            Ok(Some(email)) => Ok((email, "certificate")),
            Ok(None) => Err(unauthorized(
                "the TLS client certificate is not a current certificate Cachet issued to an active account: use HTTP Basic with the account's password",
            )),
            Err(e) => Err(service_failure(&e, false)),
        };
    }
    Err(unauthorized(
        "EST enrollment needs HTTP Basic credentials (mailbox and EST password) or a TLS client certificate Cachet issued",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_tolerate_line_breaks_and_missing_padding() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let b64 = STANDARD.encode(&der);
        assert_eq!(decode_body(b64.as_bytes()).unwrap(), der);
        let broken = format!("{}\r\n{}\n", &b64[..3], &b64[3..]);
        assert_eq!(decode_body(broken.as_bytes()).unwrap(), der);
        assert_eq!(
            decode_body(b64.trim_end_matches('=').as_bytes()).unwrap(),
            der
        );
        assert!(decode_body(b"-----BEGIN CERTIFICATE REQUEST-----\n").is_ok());
        for bad in [&b""[..], b"  \n", b"not base64!", b"===="] {
            assert_eq!(
                decode_body(bad).unwrap_err().status(),
                StatusCode::BAD_REQUEST
            );
        }
    }

    #[test]
    fn base64_is_wrapped_at_64() {
        let s = base64_lines(&[7u8; 100]);
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines[0].len(), 64);
        assert_eq!(lines.last(), Some(&""));
        assert_eq!(STANDARD.decode(lines.concat()).unwrap(), vec![7u8; 100]);
    }

    #[test]
    fn basic_credentials_are_parsed() {
        let mut h = HeaderMap::new();
        assert!(basic_credentials(&h).unwrap().is_none());
        let v = format!("Basic {}", STANDARD.encode("alice@example.test:pa:ss"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&v).unwrap());
        let (u, p) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!((u.as_str(), p.as_str()), ("alice@example.test", "pa:ss"));
        for bad in ["Bearer x", "Basic !!!", "Basic", "Basic bm9jb2xvbg=="] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(bad).unwrap());
            let r = basic_credentials(&h).unwrap_err();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
            assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
        }
    }

    #[test]
    fn operations_and_methods() {
        assert!(matches!(operation("cacerts", &Method::GET), Ok(None)));
        assert!(matches!(
            operation("simpleenroll", &Method::POST),
            Ok(Some(EstOperation::Enroll))
        ));
        assert_eq!(
            operation("simpleenroll", &Method::GET)
                .unwrap_err()
                .status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            operation("csrattrs", &Method::GET).unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            operation("nope", &Method::POST).unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
    }
}
