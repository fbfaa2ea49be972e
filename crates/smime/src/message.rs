//! Whole messages: signing an RFC 5322 message into multipart/signed or signed-data
//! (RFC 8551 §3.5), and verifying one, MIME and CMS together. The command line, the gateway
//! and `cachet bench` all go through here, so they sign and verify exactly alike.

use crate::ber::BerLimits;
use crate::mime::header::HeaderBlock;
use crate::mime::{Limits, MimeError};
use crate::signed::{SidKind, SignError, SignedReport, Signer, VerifyOptions};
use crate::source::Source;
use crate::stream::Plaintext;
use cachet_pki::verdict::{Code, Finding};

/// Why a message could not be signed or encrypted.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The input is not a readable MIME message.
    #[error("malformed message: {0}")]
    Mime(#[from] MimeError),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(#[from] SignError),
    /// Encryption failed.
    #[error("cannot encrypt: {0}")]
    Encrypt(#[from] crate::enveloped::EncryptError),
    /// The output could not be written (streaming).
    #[error("{0}")]
    Io(String),
}

impl From<std::io::Error> for MessageError {
    fn from(e: std::io::Error) -> Self {
        MessageError::Io(format!("cannot read the message: {e}"))
    }
}

/// How to sign a message.
pub struct SignMessage<'a> {
    /// The signer.
    pub signer: Signer<'a>,
    /// Encapsulate (application/pkcs7-mime signed-data) rather than detach (multipart/signed).
    pub opaque: bool,
    /// How the signer is identified.
    pub sid: SidKind,
    /// signingTime.
    pub signing_time: u64,
    /// RSA signers use RSASSA-PSS.
    pub rsa_pss: bool,
}

/// Signs `message`: the envelope headers stay outside, the content is made 7-bit safe and
/// canonical (CRLF) and exactly those bytes are signed and sent.
pub fn sign_message(
    message: &[u8],
    how: &SignMessage<'_>,
    limits: &Limits,
) -> Result<Vec<u8>, MessageError> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 3 + 4096);
    crate::stream::message::sign_message(&message, how, limits, &mut out)?;
    Ok(out)
}

/// A verified (or not) message.
pub struct VerifiedMessage {
    /// Signers and findings.
    pub report: SignedReport,
    /// The signed entity (what the signature covers), when it could be located.
    pub content: Option<Vec<u8>>,
}

/// The mailboxes of an address-list header value (RFC 5322 §3.4): comments removed,
/// display names and quoted strings skipped, groups opened, each addr-spec taken from its
/// angle brackets when it has them. `None` when any element is not a mailbox.
pub fn mailboxes(value: &str) -> Option<Vec<String>> {
    // Remove comments outside quoted strings; split on commas outside quotes and angles.
    let mut elements = vec![String::new()];
    let (mut depth, mut quoted, mut angle, mut escaped) = (0usize, false, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                elements.last_mut()?.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            '"' => {
                quoted = !quoted;
                elements.last_mut()?.push(c);
            }
            '<' if !quoted => {
                angle = true;
                elements.last_mut()?.push(c);
            }
            '>' if !quoted => {
                angle = false;
                elements.last_mut()?.push(c);
            }
            ',' | ';' if !quoted && !angle => elements.push(String::new()),
            _ => elements.last_mut()?.push(c),
        }
    }
    if quoted || depth > 0 || angle {
        return None;
    }
    let mut out = Vec::new();
    for e in elements {
        let mut e = e.trim().to_string();
        // A group's display name: "Team: a@x, b@y;"
        if let Some(i) = e.find(':')
            && !e[..i].contains('"')
            && !e[..i].contains('<')
            && !e[..i].contains('@')
        {
            e = e[i + 1..].trim().to_string();
        }
        if e.is_empty() {
            continue;
        }
        let addr = match (e.rfind('<'), e.rfind('>')) {
            (Some(a), Some(b)) if a < b => e[a + 1..b].trim().to_string(),
            (None, None) => e,
            _ => return None,
        };
        let ok = addr.rsplit_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && !d.is_empty() && !addr.contains(char::is_whitespace)
        });
        if !ok {
            return None;
        }
        out.push(addr);
    }
    (!out.is_empty()).then_some(out)
}

/// The sender addresses to check the signer against: those of `opts`, or else the From
/// header's (RFC 8551 §3.8 asks the receiver to compare them). A message without From gets a
/// warning; one with several From headers, or a From that is not an address list, is
/// malformed (the error message says so).
pub(crate) fn sender_options(
    headers: &HeaderBlock<'_>,
    opts: &VerifyOptions,
) -> Result<(VerifyOptions, Vec<Finding>), String> {
    let mut opts = opts.clone();
    let mut notes = Vec::new();
    if opts.from_addresses.is_empty() {
        let froms: Vec<_> = headers.fields.iter().filter(|f| f.is("From")).collect();
        match froms.as_slice() {
            [] => notes.push(Finding::warning(
                Code::SignerAddressMismatch,
                "the message has no From header, so the sender's address could not be compared with the signer's certificate",
            )),
            [one] => match mailboxes(&one.unfolded()) {
                Some(list) => opts.from_addresses = list,
                None => {
                    return Err(format!(
                        "the From header '{}' is not a list of addresses",
                        one.unfolded()
                    ));
                }
            },
            _ => return Err("the message has more than one From header".into()),
        }
    }
    Ok((opts, notes))
}

/// The unfolded value of the first `name` field in the header block of the entity `src`, if
/// the block can be read and has one.
pub fn header_field(src: &dyn Source, name: &str, limits: &Limits) -> Option<String> {
    let (window, _) = crate::mime::encode::read_header_block(src, 0..src.len(), limits).ok()?;
    crate::mime::header::parse_header_block(&window, limits)
        .ok()?
        .get(name)
        .map(|f| f.unfolded())
}

/// The addresses of a message's From header (RFC 5322 §3.6.2), empty when it has none or it
/// cannot be read: what every signer of the message, at any layer, must match.
pub fn sender_mailboxes(src: &dyn Source, limits: &Limits) -> Vec<String> {
    header_field(src, "From", limits)
        .and_then(|v| mailboxes(&v))
        .unwrap_or_default()
}

/// Verifies the outermost signature layer of `message`. The From header (if `opts` names no
/// address) is checked against the signer certificate. Unreadable input gives a `malformed`
/// finding, never an error: a verdict is always returned.
pub fn verify_message(
    message: &[u8],
    opts: &VerifyOptions,
    limits: &Limits,
    ber: &BerLimits,
) -> VerifiedMessage {
    let mut content = Plaintext::with_capacity(message.len());
    let v = crate::stream::message::verify_message(&message, opts, limits, ber, &mut content);
    VerifiedMessage {
        report: v.report,
        // Content not handed over is wiped.
        content: v.content_found.then(|| content.into_inner()),
    }
}

#[cfg(test)]
mod tests {
    use super::mailboxes;

    #[test]
    fn from_headers_are_read_as_address_lists() {
        let m = |v: &str| mailboxes(v);
        assert_eq!(
            m("Alice <alice@example.com>"),
            Some(vec!["alice@example.com".into()])
        );
        assert_eq!(
            m("alice@example.com"),
            Some(vec!["alice@example.com".into()])
        );
        assert_eq!(
            m("alice@example.com (<mallory@example.com>)"),
            Some(vec!["alice@example.com".into()])
        );
        assert_eq!(
            m("\"Smith, A\" <a@x.com>, <mallory@example.com>"),
            Some(vec!["a@x.com".into(), "mallory@example.com".into()])
        );
        assert_eq!(
            m("Team: a@x.com, b@y.com;"),
            Some(vec!["a@x.com".into(), "b@y.com".into()])
        );
        assert_eq!(
            m("\"<mallory@example.com>\" <alice@example.com>"),
            Some(vec!["alice@example.com".into()])
        );
        assert_eq!(m("not an address"), None);
        assert_eq!(m("Alice <alice@example.com"), None);
        assert_eq!(m(""), None);
    }
}
