//! How a certificate record and an account look to the outside: the command line's `--json`
//! and the REST API serialise these same views, so a script sees the same fields whichever
//! it reads (as [`crate::recovery::RequestView`] does for recovery requests).

use cachet_pki::time::rfc3339;
use cachet_store::accounts::AccountRecord;
use cachet_store::store::CertificateRecord;
use serde::Serialize;

/// A stored time (seconds since the epoch) in RFC 3339; times before 1970, which no record
/// Cachet writes holds, are shown as the epoch rather than wrapping around.
fn time(t: i64) -> String {
    rfc3339(u64::try_from(t).unwrap_or(0))
}

/// One issued certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateView {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The mailbox it certifies.
    pub email: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// Profile name (`signing`, `encryption`, `dual`).
    pub profile: String,
    /// Key type name, as `--key-type` names it.
    pub key_type: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// When it was issued, RFC 3339.
    pub issued_at: String,
    /// `valid`, `revoked`, `superseded`, `expired` or `not-yet-valid`, as of the time given.
    pub status: &'static str,
    /// When it was revoked, RFC 3339.
    pub revoked_at: Option<String>,
    /// Why it was revoked (RFC 5280 reason, kebab-case).
    pub revocation_reason: Option<String>,
    /// The serial of the certificate that renewed it.
    pub superseded_by: Option<String>,
    /// The certificate in PEM, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
}

impl CertificateView {
    /// The view of `r` at `now`, with its PEM when `with_pem`.
    pub fn of(r: &CertificateRecord, now: u64, with_pem: bool) -> Self {
        CertificateView {
            serial: r.serial.clone(),
            email: r.email.clone(),
            subject: r.subject.clone(),
            profile: r.profile.clone(),
            key_type: r.key_type.clone(),
            not_before: time(r.not_before),
            not_after: time(r.not_after),
            issued_at: time(r.issued_at),
            status: r.status(now),
            revoked_at: r.revoked_at.map(time),
            revocation_reason: r.revocation_reason.clone(),
            superseded_by: r.superseded_by.clone(),
            pem: with_pem.then(|| cachet_pki::pem::encode("CERTIFICATE", &r.der)),
        }
    }
}

/// One account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    /// The mailbox.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// `active`, `disabled` or `removed`.
    pub state: &'static str,
    /// Whether an EST password is set (never the password or its hash).
    pub est_password: bool,
    /// Created, RFC 3339.
    pub created_at: String,
    /// Last changed, RFC 3339.
    pub updated_at: String,
}

impl AccountView {
    /// The view of `a`.
    pub fn of(a: &AccountRecord) -> Self {
        AccountView {
            email: a.email.clone(),
            name: a.name.clone(),
            state: a.state.name(),
            est_password: a.password_hash.is_some(),
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_show_times_in_rfc_3339_and_never_a_secret() {
        let r = CertificateRecord {
            serial: "0a".into(),
            ca: "issuing".into(),
            email: "alice@example.com".into(),
            subject: "CN=Alice".into(),
            profile: "signing".into(),
            key_type: "ecdsa-p256".into(),
            spki_sha256: String::new(),
            not_before: 0,
            not_after: 86_400,
            issued_at: -5,
            der: vec![0x30, 0x00],
            revoked_at: Some(3_600),
            revocation_reason: Some("key-compromise".into()),
            superseded_by: None,
            superseded_at: None,
            key_origin: None,
        };
        let v = serde_json::to_value(CertificateView::of(&r, 60, false)).unwrap();
        assert_eq!(v["not_after"], "1970-01-02T00:00:00Z");
        assert_eq!(v["issued_at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["revoked_at"], "1970-01-01T01:00:00Z");
        assert_eq!(v["status"], "revoked");
        assert!(v.get("pem").is_none());
        let v = serde_json::to_value(CertificateView::of(&r, 60, true)).unwrap();
        assert!(
            v["pem"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );

        let a = AccountRecord {
            email: "alice@example.com".into(),
            name: Some("Alice".into()),
            state: cachet_store::accounts::AccountState::Active,
            password_hash: Some("$argon2id$v=19$secret".into()),
            created_at: 0,
            updated_at: 60,
        };
        let text = serde_json::to_string(&AccountView::of(&a)).unwrap();
        assert!(text.contains("\"est_password\":true"), "{text}");
        assert!(!text.contains("argon2"), "{text}");
    }
}
