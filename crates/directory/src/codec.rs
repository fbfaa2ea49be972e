//! LDAP messages on the wire (RFC 4511 §5.1): BER with definite lengths only. Framing reads
//! the outer header first so an oversized message is refused before it is buffered;
//! decoding is bounded in nesting depth and keeps each control's criticality (which
//! `ldap3_proto` drops for some controls it knows), because an unsupported critical control
//! must fail the operation (§4.1.11).
//!
//! [`decode_message`] is what the fuzz target `ldap_message` drives.

use bytes::BytesMut;
use ldap3_lber::common::TagClass;
use ldap3_lber::structure::{PL, StructureTag};
use ldap3_proto::proto::{LdapExtendedResponse, LdapMsg, LdapOp, LdapResult, LdapResultCode};

/// Largest LDAP message accepted (bytes, header included).
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Deepest BER nesting accepted: the message, the operation and a filter of
/// [`crate::filter::MAX_FILTER_DEPTH`] levels with room for substring and attribute
/// structures. Deeper input is malformed for this server and closes the connection.
pub const MAX_BER_DEPTH: usize = crate::filter::MAX_FILTER_DEPTH + 16;

/// Why input is not an acceptable LDAP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not a BER SEQUENCE with a definite length (RFC 4511 §5.1).
    Malformed(&'static str),
    /// Longer than the limit.
    TooLarge(usize),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Malformed(why) => write!(f, "malformed LDAP message: {why}"),
            FrameError::TooLarge(n) => write!(f, "LDAP message of {n} bytes is over the limit"),
        }
    }
}

/// The total length of the message starting `buf`, once its header is complete: `Ok(None)`
/// means more bytes are needed to tell.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    if tag != 0x30 {
        return Err(FrameError::Malformed("a message is not a SEQUENCE"));
    }
    let Some(&first) = buf.get(1) else {
        return Ok(None);
    };
    let (header, len) = if first < 0x80 {
        (2, first as usize)
    } else if first == 0x80 {
        return Err(FrameError::Malformed("indefinite length"));
    } else {
        let n = (first & 0x7f) as usize;
        if n > 4 {
            return Err(FrameError::TooLarge(usize::MAX));
        }
        if buf.len() < 2 + n {
            return Ok(None);
        }
        let len = buf[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (2 + n, len)
    };
    let total = header.saturating_add(len);
    if total > max {
        return Err(FrameError::TooLarge(total));
    }
    Ok(Some(total))
}

/// A decoded request: the message, and every control's (OID, criticality).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The message.
    pub msg: LdapMsg,
    /// The controls as sent.
    pub controls: Vec<(String, bool)>,
}

/// Reads (OID, criticality) of each control of a raw LDAPMessage (RFC 4511 §4.1.11).
fn raw_controls(tag: &StructureTag) -> Vec<(String, bool)> {
    let PL::C(parts) = &tag.payload else {
        return Vec::new();
    };
    let Some(ctrl) = parts
        .iter()
        .find(|t| t.class == TagClass::Context && t.id == 0)
    else {
        return Vec::new();
    };
    let PL::C(list) = &ctrl.payload else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|c| {
            let PL::C(fields) = &c.payload else {
                return None;
            };
            let oid = match &fields.first()?.payload {
                PL::P(b) => String::from_utf8(b.clone()).ok()?,
                PL::C(_) => return None,
            };
            let critical = fields.get(1).is_some_and(|f| {
                f.class == TagClass::Universal
                    && f.id == 1
                    && matches!(&f.payload, PL::P(b) if b.iter().any(|x| *x != 0))
            });
            Some((oid, critical))
        })
        .collect()
}

/// Decodes exactly one complete LDAP message (as delimited by [`frame_len`]).
pub fn decode_message(frame: &[u8]) -> Result<Request, FrameError> {
    let mut parser = ldap3_lber::parse::Parser::new(MAX_BER_DEPTH);
    let (rest, tag) = parser
        .parse(frame)
        .map_err(|_| FrameError::Malformed("the BER does not parse (or nests too deeply)"))?;
    if !rest.is_empty() {
        return Err(FrameError::Malformed("bytes after the message"));
    }
    // An operation the decoder does not know makes ldap3_proto print a line to standard
    // output: refuse it here first, so a client cannot write into the server's output.
    if !known_operation(&tag) {
        return Err(FrameError::Malformed("not an LDAP operation"));
    }
    let controls = raw_controls(&tag);
    let msg = LdapMsg::try_from(tag).map_err(|_| FrameError::Malformed("not an LDAP message"))?;
    if msg.msgid < 0 {
        return Err(FrameError::Malformed("a negative message ID"));
    }
    Ok(Request { msg, controls })
}

/// Whether the protocolOp of an LDAPMessage (RFC 4511 §4.2: SEQUENCE { messageID,
/// protocolOp, controls }) is an [APPLICATION n] choice of RFC 4511 in the form (constructed
/// or primitive) its ASN.1 type has.
fn known_operation(message: &StructureTag) -> bool {
    let PL::C(parts) = &message.payload else {
        return false;
    };
    let Some(op) = parts.get(1) else {
        return false;
    };
    if op.class != TagClass::Application {
        return false;
    }
    let constructed = matches!(op.payload, PL::C(_));
    match op.id {
        // unbindRequest (NULL, though some clients send it constructed).
        2 => true,
        // delRequest (LDAPDN) and abandonRequest (MessageID): primitive.
        10 | 16 => !constructed,
        0..=9 | 11..=15 | 19 | 23..=25 => constructed,
        _ => false,
    }
}

/// Appends the BER of `msg` to `out`.
pub fn encode(msg: LdapMsg, out: &mut BytesMut) {
    let tag: StructureTag = msg.into();
    // Encoding into memory cannot fail.
    let _ = ldap3_lber::write::encode_into(out, tag);
}

/// The Notice of Disconnection (RFC 4511 §4.4.1) with `code`.
pub fn notice_of_disconnection(code: LdapResultCode, message: &str) -> LdapMsg {
    LdapMsg {
        msgid: 0,
        op: LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: LdapResult {
                code,
                matcheddn: String::new(),
                message: message.to_string(),
                referral: Vec::new(),
            },
            name: Some("1.3.6.1.4.1.1466.20036".into()),
            value: None,
        }),
        ctrl: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::control::LdapControl;
    use ldap3_proto::proto::{LdapDerefAliases, LdapSearchRequest, LdapSearchScope};

    fn encoded(msg: LdapMsg) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode(msg, &mut b);
        b.to_vec()
    }

    #[test]
    fn unknown_operations_are_refused_before_the_library_sees_them() {
        // messageID 1, [APPLICATION 20] (unassigned) constructed, empty.
        let unknown = [0x30, 0x05, 0x02, 0x01, 0x01, 0x74, 0x00];
        assert!(matches!(
            decode_message(&unknown),
            Err(FrameError::Malformed("not an LDAP operation"))
        ));
        // A context-class choice instead of an application one.
        let context = [0x30, 0x05, 0x02, 0x01, 0x01, 0xa3, 0x00];
        assert!(decode_message(&context).is_err());
        // A primitive searchRequest (it is a SEQUENCE).
        let primitive = [0x30, 0x05, 0x02, 0x01, 0x01, 0x43, 0x00];
        assert!(decode_message(&primitive).is_err());
        // An anonymous bind still decodes.
        let bind = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ];
        assert!(decode_message(&bind).is_ok());
    }

    #[test]
    fn frames_and_decodes_a_search_with_controls() {
        let msg = LdapMsg {
            msgid: 7,
            op: LdapOp::SearchRequest(LdapSearchRequest {
                base: "dc=example,dc=test".into(),
                scope: LdapSearchScope::Subtree,
                aliases: LdapDerefAliases::Never,
                sizelimit: 0,
                timelimit: 0,
                typesonly: false,
                filter: ldap3_proto::parse_ldap_filter_str("(mail=a@b.c)").unwrap(),
                attrs: vec!["mail".into()],
            }),
            ctrl: vec![
                LdapControl::SimplePagedResults {
                    size: 10,
                    cookie: Vec::new(),
                },
                LdapControl::Unknown {
                    oid: "1.2.3.4".into(),
                    criticality: true,
                    value: None,
                },
            ],
        };
        let bytes = encoded(msg.clone());
        assert_eq!(frame_len(&bytes[..1], MAX_MESSAGE), Ok(None));
        assert_eq!(frame_len(&bytes, MAX_MESSAGE), Ok(Some(bytes.len())));
        let r = decode_message(&bytes).unwrap();
        assert_eq!(r.msg.msgid, 7);
        assert_eq!(
            r.controls,
            vec![
                ("1.2.840.113556.1.4.319".to_string(), false),
                ("1.2.3.4".to_string(), true)
            ]
        );
    }

    #[test]
    fn refuses_bad_frames() {
        assert!(matches!(
            frame_len(&[0x04, 0x00], MAX_MESSAGE),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            frame_len(&[0x30, 0x80], MAX_MESSAGE),
            Err(FrameError::Malformed(_))
        ));
        assert_eq!(
            frame_len(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff], MAX_MESSAGE),
            Err(FrameError::TooLarge(0x7fff_ffff + 6))
        );
        assert!(frame_len(&[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9], MAX_MESSAGE).is_err());
        assert!(decode_message(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
        assert!(decode_message(&[0x30, 0x00]).is_err());
        // 1,000 nested NOTs.
        let mut f = vec![0x87, 0x02, b'c', b'n'];
        for _ in 0..1000 {
            let mut n = vec![0xa2];
            push_len(&mut n, f.len());
            n.extend_from_slice(&f);
            f = n;
        }
        let mut body = vec![0x02, 0x01, 0x01];
        let mut search = vec![
            0x04, 0x00, 0x0a, 0x01, 0x02, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
            0x01, 0x01, 0x00,
        ];
        search.extend_from_slice(&f);
        search.extend_from_slice(&[0x30, 0x00]);
        body.push(0x63);
        push_len(&mut body, search.len());
        body.extend_from_slice(&search);
        let mut msg = vec![0x30];
        push_len(&mut msg, body.len());
        msg.extend_from_slice(&body);
        assert_eq!(frame_len(&msg, MAX_MESSAGE), Ok(Some(msg.len())));
        assert!(decode_message(&msg).is_err());
    }

    pub(crate) fn push_len(v: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            v.push(len as u8);
        } else {
            let b = (len as u32).to_be_bytes();
            let skip = b.iter().take_while(|x| **x == 0).count();
            v.push(0x80 | (4 - skip) as u8);
            v.extend_from_slice(&b[skip..]);
        }
    }
}
