//! Cachet's certificate directory: an LDAPv3 server (RFC 4511) that publishes every
//! account's current S/MIME certificates where mail clients and `dirmngr` look for them —
//! `userCertificate;binary` and `userSMIMECertificate` (a PKCS#7 certs-only SignedData of
//! the very same certificates, so Outlook and web clients never see different sets; RFC
//! 4523, RFC 2798) under `ou=people`, and the CA certificates and current CRLs under
//! `ou=pki` — the "global address list" of a classic deployment.
//!
//! What it is: a pure core — the tree ([`tree`]), DNs ([`dn`]), schema ([`schema`]),
//! filters ([`filter`]), search with scopes, attribute selection, limits and paged results
//! (RFC 2696, [`search`]), the bounded BER framing and decoding ([`codec`]) — and two thin
//! edges: [`live::Directory`] keeps the tree current with `cachet-service` (a change marker
//! checked before each search, only changed mailboxes reread), and [`serve`] runs the
//! listener with bounded connections, message sizes, nesting and idle time.
//!
//! What it is not: a general LDAP server. It is read-only to clients (writes get
//! insufficientAccessRights and are audited), has no referrals, aliases, SASL or
//! extensible matching. StartTLS and LDAPS use the TLS configuration it is given (the
//! https listener's certificate in `cachet serve`). It binds no socket of its own and
//! installs no signal handler: `cachet serve` does.
#![forbid(unsafe_code)]

pub mod codec;
pub mod dn;
pub mod filter;
pub mod live;
pub mod schema;
pub mod search;
mod server;
pub mod tree;

pub use live::{Clock, Directory, Options, system_clock};
pub use server::{serve, serve_ldaps};
/// The TLS server configuration [`Options::tls`] takes (rustls).
pub use tokio_rustls::rustls::ServerConfig as TlsServerConfig;
