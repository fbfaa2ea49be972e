//! Whether a certificate names a mailbox (RFC 5280 §4.2.1.6 and §7.5, RFC 8398 §3): the
//! subjectAltName rfc822Name and SmtpUTF8Mailbox entries, or — only when the certificate has
//! no subjectAltName mailbox — the emailAddress attribute of the subject. The domain part
//! compares without case; the local part exactly.

use crate::ParsedCertificate;
use const_oid::ObjectIdentifier;
use der::Decode;
use x509_cert::ext::pkix::name::GeneralName;

/// id-on-SmtpUTF8Mailbox (RFC 8398 §3).
pub const ID_ON_SMTP_UTF8_MAILBOX: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.8.9");
/// emailAddress (PKCS #9), the legacy place for a mailbox in a subject DN.
pub const EMAIL_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

/// How a mailbox matched a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxMatch {
    /// Local part identical, domain equal without case (RFC 5280 §7.5).
    Exact,
    /// Only when the local part's case is ignored too, as most mail systems deliver.
    IgnoringLocalPartCase,
    /// Not named by the certificate.
    None,
}

/// Every mailbox the certificate names, in the order found.
pub fn mailboxes(cert: &ParsedCertificate) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Some((_, san))) = cert.subject_alt_name() {
        for g in &san.0 {
            match g {
                GeneralName::Rfc822Name(s) => out.push(s.to_string()),
                GeneralName::OtherName(o) if o.type_id == ID_ON_SMTP_UTF8_MAILBOX => {
                    // [0] EXPLICIT UTF8String
                    if let Ok(s) = der::asn1::Utf8StringRef::from_der(o.value.value()) {
                        out.push(s.as_str().to_string());
                    } else if let Ok(s) = o.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                        out.push(s.as_str().to_string());
                    }
                }
                _ => {}
            }
        }
    }
    if out.is_empty() {
        out.extend(crate::cert::attribute_strings(
            cert.inner().tbs_certificate().subject(),
            EMAIL_ADDRESS,
        ));
    }
    out
}

/// Whether `cert` names `address`.
pub fn mailbox_match(cert: &ParsedCertificate, address: &str) -> MailboxMatch {
    let address = address.trim();
    let mut best = MailboxMatch::None;
    for m in mailboxes(cert) {
        match compare(&m, address) {
            MailboxMatch::Exact => return MailboxMatch::Exact,
            MailboxMatch::IgnoringLocalPartCase => best = MailboxMatch::IgnoringLocalPartCase,
            MailboxMatch::None => {}
        }
    }
    best
}

fn compare(a: &str, b: &str) -> MailboxMatch {
    let (Some((la, da)), Some((lb, db))) = (a.rsplit_once('@'), b.rsplit_once('@')) else {
        return MailboxMatch::None;
    };
    let domain_eq =
        da.trim_end_matches('.').to_lowercase() == db.trim_end_matches('.').to_lowercase();
    if !domain_eq {
        MailboxMatch::None
    } else if la == lb {
        MailboxMatch::Exact
    } else if la.to_lowercase() == lb.to_lowercase() {
        MailboxMatch::IgnoringLocalPartCase
    } else {
        MailboxMatch::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_without_case_local_part_exactly() {
        assert_eq!(
            compare("alice@Example.COM", "alice@example.com"),
            MailboxMatch::Exact
        );
        assert_eq!(
            compare("Alice@example.com", "alice@example.com"),
            MailboxMatch::IgnoringLocalPartCase
        );
        assert_eq!(
            compare("alice@example.com", "bob@example.com"),
            MailboxMatch::None
        );
        assert_eq!(
            compare("alice@example.com", "alice@example.org"),
            MailboxMatch::None
        );
        assert_eq!(compare("alice", "alice@example.org"), MailboxMatch::None);
        // The last @ separates the domain (a quoted local part may contain @).
        assert_eq!(
            compare("\"a@b\"@example.com", "\"a@b\"@EXAMPLE.com"),
            MailboxMatch::Exact
        );
        assert_eq!(
            compare("ünïcode@bücher.example", "ünïcode@BÜCHER.example"),
            MailboxMatch::Exact
        );
    }
}
