//! The LDAP listener: one task per connection, requests answered in order (RFC 4511 §3.1
//! allows a server to process them serially), and every resource bounded — connections (a
//! semaphore; one over the limit gets a Notice of Disconnection and is closed), message size
//! (checked from the BER header before buffering), BER nesting, idle time, refused writes.
//! Malformed input closes only its own connection, after a Notice of Disconnection with
//! protocolError (§4.1.1).

use crate::codec::{self, FrameError};
use crate::dn;
use crate::filter::{self, Truth};
use crate::live::Directory;
use crate::search::{self, Limits, PageRequest};
use crate::tree::{MANAGE_DSA_IT_OID, PAGED_RESULTS_OID, STARTTLS_OID, WHOAMI_OID};
use bytes::BytesMut;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapExtendedResponse, LdapFilter, LdapMsg, LdapOp, LdapResult,
    LdapResultCode, LdapSearchRequest, LdapSearchScope,
};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

fn ldap_result(code: LdapResultCode, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

/// Serves LDAP on `listener` until `shutdown` completes; then stops accepting, tells open
/// connections the server is going away (a Notice of Disconnection, `unavailable`) after
/// the request each is answering, and returns once they are closed.
/// StartTLS (RFC 4511 §4.14) is served when [`Options::tls`](crate::Options::tls) is set.
pub async fn serve(
    listener: TcpListener,
    directory: Arc<Directory>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_on(listener, directory, shutdown, false).await
}

/// As [`serve`], for LDAPS: every connection starts with a TLS handshake ("LDAP over TLS",
/// port 636 by convention; not in RFC 4511, which has StartTLS, but what many address
/// books offer). Needs [`Options::tls`](crate::Options::tls); without it, connections are
/// closed.
pub async fn serve_ldaps(
    listener: TcpListener,
    directory: Arc<Directory>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_on(listener, directory, shutdown, true).await
}

async fn serve_on(
    listener: TcpListener,
    directory: Arc<Directory>,
    shutdown: impl Future<Output = ()>,
    implicit_tls: bool,
) -> std::io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(
        directory.options.max_connections.max(1),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let d = directory.clone();
                        let stop = stop_rx.clone();
                        tasks.spawn(async move {
                            connection(stream, peer, d, stop, implicit_tls).await;
                            drop(permit);
                        });
                    }
                    Err(_) if implicit_tls => {
                        // Over the limit, before any TLS: nothing can be said; close.
                        tracing::warn!(%peer, "ldaps: connection refused: too many connections");
                    }
                    Err(_) => {
                        // Over the limit: say so without waiting on the client, and close.
                        let mut b = BytesMut::new();
                        codec::encode(
                            codec::notice_of_disconnection(
                                LdapResultCode::Busy,
                                "too many connections",
                            ),
                            &mut b,
                        );
                        let _ = stream.try_write(&b);
                        tracing::warn!(%peer, "ldap: connection refused: too many connections");
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %e, "ldap: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// One client's state.
struct Session {
    peer: SocketAddr,
    /// The normalised DN the client bound as, and the mailbox it stands for.
    bound: Option<(String, String)>,
    refused_writes: usize,
    /// Whether the connection is protected by TLS (LDAPS, or after StartTLS).
    tls: bool,
}

impl Session {
    fn actor(&self) -> String {
        match &self.bound {
            Some((dn, _)) => format!("ldap:{}({dn})", self.peer),
            None => format!("ldap:{}(anonymous)", self.peer),
        }
    }
}

/// What handling a request leads to.
enum Next {
    Continue,
    Close(Option<Box<LdapMsg>>),
    /// A StartTLS request (with its message ID) that the connection loop answers: only it
    /// knows whether other requests are pending (RFC 4511 §4.14.1).
    StartTls(i32),
}

/// How a connection's request loop ended.
enum Exit {
    /// Closed (by either side, or after a Notice of Disconnection).
    Closed,
    /// StartTLS was answered with success: the TLS handshake comes next.
    StartTls,
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    dir: Arc<Directory>,
    mut stop: watch::Receiver<bool>,
    implicit_tls: bool,
) {
    let _ = stream.set_nodelay(true);
    let mut session = Session {
        peer,
        bound: None,
        refused_writes: 0,
        tls: false,
    };
    let mut stream = stream;
    if !implicit_tls {
        match requests(&mut stream, &dir, &mut session, &mut stop).await {
            Exit::Closed => {
                let _ = stream.shutdown().await;
                return;
            }
            Exit::StartTls => {}
        }
    }
    // LDAPS, or StartTLS answered: the TLS handshake, bounded in time (RFC 4513 §3.1.1:
    // on failure the connection is closed; nothing more is sent in the clear).
    let Some(config) = dir.options.tls.clone() else {
        return;
    };
    let accept = TlsAcceptor::from(config).accept(stream);
    let mut tls = match tokio::time::timeout(dir.options.handshake_timeout, accept).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "ldap: TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "ldap: TLS handshake timed out");
            return;
        }
    };
    session.tls = true;
    // A second StartTLS is refused inside (operationsError), so this ends closed.
    let _ = requests(&mut tls, &dir, &mut session, &mut stop).await;
    let _ = tls.shutdown().await;
}

/// Reads, answers and writes requests in order on `stream` (plain TCP, or TLS after
/// StartTLS or on the LDAPS listener) until the connection closes or StartTLS succeeds.
async fn requests<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    dir: &Directory,
    session: &mut Session,
    stop: &mut watch::Receiver<bool>,
) -> Exit {
    let peer = session.peer;
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = BytesMut::with_capacity(4096);
    let max = dir.options.max_message;
    loop {
        let mut next = match codec::frame_len(&buf, max) {
            Err(e) => {
                tracing::info!(%peer, error = %e, "ldap: closing the connection");
                let code = match e {
                    FrameError::TooLarge(_) => LdapResultCode::AdminLimitExceeded,
                    FrameError::Malformed(_) => LdapResultCode::ProtocolError,
                };
                Next::Close(Some(Box::new(codec::notice_of_disconnection(
                    code,
                    &e.to_string(),
                ))))
            }
            Ok(Some(n)) if buf.len() >= n => {
                let frame = buf.split_to(n);
                match codec::decode_message(&frame) {
                    Err(e) => {
                        tracing::info!(%peer, error = %e, "ldap: closing the connection");
                        Next::Close(Some(Box::new(codec::notice_of_disconnection(
                            LdapResultCode::ProtocolError,
                            &e.to_string(),
                        ))))
                    }
                    Ok(req) => handle(dir, session, req, &mut out).await,
                }
            }
            Ok(_) => {
                if buf.capacity() - buf.len() < 4096 {
                    buf.reserve(4096);
                }
                tokio::select! {
                    r = tokio::time::timeout(dir.options.idle_timeout, stream.read_buf(&mut buf)) => match r {
                        Err(_) => Next::Close(Some(Box::new(codec::notice_of_disconnection(
                            LdapResultCode::Unavailable,
                            "idle for too long",
                        )))),
                        Ok(Ok(0)) | Ok(Err(_)) => Next::Close(None),
                        Ok(Ok(_)) => Next::Continue,
                    },
                    _ = stop.changed() => Next::Close(Some(Box::new(codec::notice_of_disconnection(
                        LdapResultCode::Unavailable,
                        "the server is stopping",
                    )))),
                }
            }
        };
        if let Next::StartTls(msgid) = next {
            // RFC 4511 §4.14.1: StartTLS must be the only request outstanding and TLS not
            // yet established; otherwise operationsError, and the connection goes on as
            // it was. §4.14.2: a success names the StartTLS OID in responseName.
            let refusal = if session.tls {
                Some("TLS is already established on this connection")
            } else if !buf.is_empty() {
                Some("requests were sent after StartTLS before its response")
            } else {
                None
            };
            let res = match refusal {
                Some(why) => ldap_result(LdapResultCode::OperationsError, why),
                None => ldap_result(LdapResultCode::Success, ""),
            };
            respond(
                &mut out,
                msgid,
                LdapOp::ExtendedResponse(LdapExtendedResponse {
                    res,
                    name: refusal.is_none().then(|| STARTTLS_OID.to_string()),
                    value: None,
                }),
                Vec::new(),
            );
            if refusal.is_some() {
                next = Next::Continue;
            }
        }
        if let Next::Close(Some(notice)) = &next {
            codec::encode((**notice).clone(), &mut out);
        }
        if !out.is_empty() {
            let write =
                tokio::time::timeout(dir.options.idle_timeout, stream.write_all(&out)).await;
            out.clear();
            if !matches!(write, Ok(Ok(()))) {
                return Exit::Closed;
            }
        }
        match next {
            Next::Close(_) => return Exit::Closed,
            Next::StartTls(_) => {
                let _ = stream.flush().await;
                return Exit::StartTls;
            }
            Next::Continue => {}
        }
        if *stop.borrow() {
            codec::encode(
                codec::notice_of_disconnection(
                    LdapResultCode::Unavailable,
                    "the server is stopping",
                ),
                &mut out,
            );
            let _ = stream.write_all(&out).await;
            return Exit::Closed;
        }
    }
}

fn respond(out: &mut BytesMut, msgid: i32, op: LdapOp, ctrl: Vec<LdapControl>) {
    codec::encode(LdapMsg { msgid, op, ctrl }, out);
}

/// The response operation for a request with result `res` (none for abandon and unbind).
fn response_op(op: &LdapOp, res: LdapResult) -> Option<LdapOp> {
    Some(match op {
        LdapOp::BindRequest(_) => LdapOp::BindResponse(LdapBindResponse {
            res,
            saslcreds: None,
        }),
        LdapOp::SearchRequest(_) => LdapOp::SearchResultDone(res),
        LdapOp::ModifyRequest(_) => LdapOp::ModifyResponse(res),
        LdapOp::AddRequest(_) => LdapOp::AddResponse(res),
        LdapOp::DelRequest(_) => LdapOp::DelResponse(res),
        LdapOp::ModifyDNRequest(_) => LdapOp::ModifyDNResponse(res),
        LdapOp::CompareRequest(_) => LdapOp::CompareResult(res),
        LdapOp::ExtendedRequest(_) => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
        _ => return None,
    })
}

/// Whether the client may read: anonymous reads are allowed, or it has bound.
fn may_read(dir: &Directory, s: &Session) -> bool {
    dir.options.anonymous_read || s.bound.is_some()
}

async fn handle(
    dir: &Directory,
    session: &mut Session,
    req: codec::Request,
    out: &mut BytesMut,
) -> Next {
    let codec::Request { msg, controls } = req;
    let LdapMsg { msgid, op, ctrl } = msg;

    // RFC 4511 §4.1.11: a critical control the server does not support for this operation
    // fails it with unavailableCriticalExtension.
    let is_search = matches!(op, LdapOp::SearchRequest(_));
    if let Some((oid, _)) = controls.iter().find(|(oid, critical)| {
        *critical && !(oid == MANAGE_DSA_IT_OID || (is_search && oid == PAGED_RESULTS_OID))
    }) {
        if let Some(r) = response_op(
            &op,
            ldap_result(
                LdapResultCode::UnavailableCriticalExtension,
                format!("the critical control {oid} is not supported"),
            ),
        ) {
            respond(out, msgid, r, Vec::new());
        }
        return Next::Continue;
    }

    match op {
        LdapOp::UnbindRequest => Next::Close(None),
        LdapOp::AbandonRequest(_) => Next::Continue,
        LdapOp::BindRequest(b) => {
            let res = bind(dir, session, b.version, &b.dn, &b.cred).await;
            respond(
                out,
                msgid,
                LdapOp::BindResponse(LdapBindResponse {
                    res,
                    saslcreds: None,
                }),
                Vec::new(),
            );
            Next::Continue
        }
        LdapOp::SearchRequest(s) => {
            let page = ctrl.iter().find_map(|c| match c {
                LdapControl::SimplePagedResults { size, cookie } => Some(PageRequest {
                    size: usize::try_from(*size).unwrap_or(0),
                    cookie: cookie.clone(),
                }),
                _ => None,
            });
            run_search(dir, session, msgid, &s, page, out).await;
            Next::Continue
        }
        LdapOp::CompareRequest(c) => {
            let res = if !may_read(dir, session) {
                ldap_result(
                    LdapResultCode::InsufficentAccessRights,
                    "bind first: anonymous reads are off",
                )
            } else if let Err(e) = dir.refresh().await {
                ldap_result(LdapResultCode::Unavailable, e.to_string())
            } else {
                compare(dir, &c.dn, &c.atype, &c.val)
            };
            respond(out, msgid, LdapOp::CompareResult(res), Vec::new());
            Next::Continue
        }
        LdapOp::ExtendedRequest(x) if x.name == STARTTLS_OID && dir.options.tls.is_some() => {
            Next::StartTls(msgid)
        }
        LdapOp::ExtendedRequest(x) => {
            let (res, value) = match x.name.as_str() {
                WHOAMI_OID => (
                    ldap_result(LdapResultCode::Success, ""),
                    Some(
                        session
                            .bound
                            .as_ref()
                            .map(|(dn, _)| format!("dn:{dn}"))
                            .unwrap_or_default()
                            .into_bytes(),
                    ),
                ),
                STARTTLS_OID => (
                    ldap_result(
                        LdapResultCode::Unavailable,
                        "TLS is not configured on this server",
                    ),
                    None,
                ),
                other => (
                    // RFC 4511 §4.12: an unrecognised extended operation.
                    ldap_result(
                        LdapResultCode::ProtocolError,
                        format!("the extended operation {other} is not supported"),
                    ),
                    None,
                ),
            };
            respond(
                out,
                msgid,
                LdapOp::ExtendedResponse(LdapExtendedResponse {
                    res,
                    name: None,
                    value,
                }),
                Vec::new(),
            );
            Next::Continue
        }
        op @ (LdapOp::AddRequest(_)
        | LdapOp::ModifyRequest(_)
        | LdapOp::DelRequest(_)
        | LdapOp::ModifyDNRequest(_)) => refuse_write(dir, session, msgid, op, out).await,
        // A response or something else no client sends: RFC 4511 §4.1.1.
        _ => Next::Close(Some(Box::new(codec::notice_of_disconnection(
            LdapResultCode::ProtocolError,
            "that is not a request",
        )))),
    }
}

/// Simple bind (RFC 4513 §5.1): anonymous (empty name and password), or an account by its
/// entry's DN (or its mailbox) with the password from `cachet user passwd`.
async fn bind(
    dir: &Directory,
    session: &mut Session,
    version: i64,
    name: &str,
    cred: &LdapBindCred,
) -> LdapResult {
    session.bound = None;
    if version != 3 {
        return ldap_result(LdapResultCode::ProtocolError, "only LDAPv3 is supported");
    }
    let password = match cred {
        LdapBindCred::Simple(p) => p,
        _ => {
            return ldap_result(
                LdapResultCode::AuthMethodNotSupported,
                "only simple bind is supported",
            );
        }
    };
    if name.is_empty() && password.is_empty() {
        return ldap_result(LdapResultCode::Success, "");
    }
    if password.is_empty() {
        // RFC 4513 §5.1.2: unauthenticated binds are refused.
        return ldap_result(
            LdapResultCode::UnwillingToPerform,
            "unauthenticated bind (a name without a password) is not allowed",
        );
    }
    let invalid = || ldap_result(LdapResultCode::InvalidCredentials, "");
    // An administrator binds with an API token of role admin or auditor as the password
    // and the token's name as `cn=NAME,ou=admins,<base>` (or just NAME): the same
    // credential the REST API takes, so there is no second administrator password to manage.
    if password.starts_with("cachet_") {
        let caller = match dir.cachet.authenticate_token(password).await {
            Ok(Ok(c)) => c,
            _ => return invalid(),
        };
        let named = admin_bind_name(name);
        if named.as_deref() != Some(caller.name.as_str())
            || !matches!(
                caller.role,
                cachet_service::tokens::Role::Admin | cachet_service::tokens::Role::Auditor
            )
        {
            return invalid();
        }
        session.bound = Some((
            format!("cn={},ou=admins", caller.name.to_ascii_lowercase()),
            caller.actor(),
        ));
        return ldap_result(LdapResultCode::Success, "");
    }
    let (ndn, email) = if name.contains('=') {
        let Ok(ndn) = dn::normalize(name) else {
            return invalid();
        };
        if let Err(e) = dir.refresh().await {
            return ldap_result(LdapResultCode::Unavailable, e.to_string());
        }
        let email = dir.tree().person_email(&ndn).map(str::to_string);
        match email {
            Some(e) => (ndn, e),
            None => return invalid(),
        }
    } else {
        (name.trim().to_string(), name.trim().to_string())
    };
    // Password checks cost an Argon2id each: at most two at a time.
    let Ok(_permit) = dir.binds.acquire().await else {
        return ldap_result(LdapResultCode::Unavailable, "");
    };
    match dir.cachet.check_account_password(&email, password).await {
        Ok(true) => {
            session.bound = Some((ndn, email));
            ldap_result(LdapResultCode::Success, "")
        }
        Ok(false) => invalid(),
        Err(e) if e.is_input_error() => invalid(),
        Err(e) => {
            tracing::warn!(error = %e, "ldap: password check failed");
            invalid()
        }
    }
}

/// The token name in an administrator's bind name: `cn=NAME,ou=admins,…` or plain `NAME`.
fn admin_bind_name(name: &str) -> Option<String> {
    let name = name.trim();
    if !name.contains('=') {
        return (!name.is_empty()).then(|| name.to_string());
    }
    let mut rdns = name.split(',').map(str::trim);
    let cn = rdns.next()?.split_once('=')?;
    let ou = rdns.next()?.split_once('=')?;
    (cn.0.eq_ignore_ascii_case("cn")
        && ou.0.eq_ignore_ascii_case("ou")
        && ou.1.eq_ignore_ascii_case("admins"))
    .then(|| cn.1.to_string())
}

fn compare(dir: &Directory, name: &str, atype: &str, value: &[u8]) -> LdapResult {
    let Ok(ndn) = dn::normalize(name) else {
        return ldap_result(LdapResultCode::InvalidDNSyntax, "");
    };
    let tree = dir.tree();
    let Some(entry) = tree.entries.get(&ndn) else {
        return ldap_result(LdapResultCode::NoSuchObject, "");
    };
    let Ok(value) = String::from_utf8(value.to_vec()) else {
        return ldap_result(LdapResultCode::InappropriateMatching, "");
    };
    let f = LdapFilter::Equality(atype.to_string(), value);
    match filter::eval(&f, entry, dir.now(), &tree) {
        Truth::True => ldap_result(LdapResultCode::CompareTrue, ""),
        Truth::False => ldap_result(LdapResultCode::CompareFalse, ""),
        Truth::Undefined => ldap_result(
            LdapResultCode::UndefinedAttributeType,
            "the attribute cannot be compared",
        ),
    }
}

/// Whether a search from `base` with `scope` can reach the CA entries (whose CRLs are then
/// confirmed current first).
fn reaches_pki(dir: &Directory, base: &str, scope: &LdapSearchScope) -> bool {
    let Ok(base) = dn::normalize(base) else {
        return false;
    };
    let tree = dir.tree();
    let pki = tree.pki_ndn();
    dn::within(&base, pki)
        || (dn::within(pki, &base)
            && matches!(scope, LdapSearchScope::Subtree | LdapSearchScope::Children))
}

async fn run_search(
    dir: &Directory,
    session: &Session,
    msgid: i32,
    s: &LdapSearchRequest,
    page: Option<PageRequest>,
    out: &mut BytesMut,
) {
    let done = |out: &mut BytesMut, res: LdapResult| {
        respond(out, msgid, LdapOp::SearchResultDone(res), Vec::new());
    };
    let special =
        s.base.is_empty() || dn::normalize(&s.base).ok().as_deref() == Some("cn=subschema");
    if !may_read(dir, session) && !special {
        return done(
            out,
            ldap_result(
                LdapResultCode::InsufficentAccessRights,
                "bind first: anonymous reads are off",
            ),
        );
    }
    if let Err(e) = dir.refresh().await {
        tracing::warn!(error = %e, "ldap: cannot read the store");
        return done(
            out,
            ldap_result(
                LdapResultCode::Unavailable,
                "the directory cannot read its data",
            ),
        );
    }
    if reaches_pki(dir, &s.base, &s.scope) {
        dir.refresh_crls().await;
    }
    let mut time_limit = dir.options.time_limit;
    if s.timelimit > 0 {
        time_limit = time_limit.min(Duration::from_secs(s.timelimit as u64));
    }
    let limits = Limits {
        size: dir.options.size_limit,
        deadline: Some(Instant::now() + time_limit),
    };
    let outcome = {
        let tree = dir.tree();
        search::search(&tree, s, page.as_ref(), dir.now(), limits)
    };
    for e in outcome.entries {
        respond(out, msgid, LdapOp::SearchResultEntry(e), Vec::new());
    }
    let ctrl = match outcome.cookie {
        Some(cookie) => vec![LdapControl::SimplePagedResults { size: 0, cookie }],
        None => Vec::new(),
    };
    respond(out, msgid, LdapOp::SearchResultDone(outcome.result), ctrl);
}

/// The directory is read-only to clients (issue #7): writes get insufficientAccessRights
/// and an audit record; a client that keeps trying is disconnected, so refusals cannot
/// flood the audit log.
async fn refuse_write(
    dir: &Directory,
    session: &mut Session,
    msgid: i32,
    op: LdapOp,
    out: &mut BytesMut,
) -> Next {
    let (action, target) = match &op {
        LdapOp::AddRequest(a) => ("add", a.dn.clone()),
        LdapOp::ModifyRequest(m) => ("modify", m.dn.clone()),
        LdapOp::DelRequest(d) => ("delete", d.clone()),
        LdapOp::ModifyDNRequest(m) => ("modify-dn", m.dn.clone()),
        _ => ("write", String::new()),
    };
    session.refused_writes += 1;
    let over = session.refused_writes > dir.options.max_refused_writes;
    let detail = if over {
        "limit=reached connection=closed"
    } else {
        ""
    };
    if session.refused_writes <= dir.options.max_refused_writes + 1
        && let Err(e) = dir
            .cachet
            .audit_directory_refusal(
                &dir.kek,
                &session.actor(),
                action,
                &target,
                detail,
                dir.now(),
            )
            .await
    {
        tracing::warn!(error = %e, "ldap: cannot audit a refused write");
    }
    if let Some(r) = response_op(
        &op,
        ldap_result(
            LdapResultCode::InsufficentAccessRights,
            "the Cachet directory is read-only: change accounts and certificates with cachet",
        ),
    ) {
        respond(out, msgid, r, Vec::new());
    }
    if over {
        Next::Close(Some(Box::new(codec::notice_of_disconnection(
            LdapResultCode::UnwillingToPerform,
            "too many refused writes",
        ))))
    } else {
        Next::Continue
    }
}
