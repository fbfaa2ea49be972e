//! The S/MIME structures of RFC 8551 §3 at the MIME level: recognising a layer
//! (multipart/signed, application/pkcs7-mime with its smime-type) and building the wrappers
//! Cachet writes, with the message's envelope headers (From, To, Subject…) kept outside.

use super::encode::{base64_decode, base64_encode_lines, content_type, read_header_block};
use super::header::{HeaderBlock, HeaderField, parse_header_block};
use super::{Limits, MimeError, multipart};
use crate::source::{Source, read_range};
use std::ops::Range;

/// The `smime-type` parameter values (RFC 8551 §3.2.2, RFC 5083 §3 for authEnveloped-data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmimeType {
    /// SignedData with encapsulated content.
    SignedData,
    /// EnvelopedData.
    EnvelopedData,
    /// AuthEnvelopedData.
    AuthEnvelopedData,
    /// A certs-only SignedData (certificate transport).
    CertsOnly,
    /// application/pkcs7-mime without (or with an unknown) smime-type: decided by the CMS
    /// content type.
    Unspecified,
}

impl SmimeType {
    /// The parameter value.
    pub fn name(self) -> &'static str {
        match self {
            SmimeType::SignedData => "signed-data",
            SmimeType::EnvelopedData => "enveloped-data",
            SmimeType::AuthEnvelopedData => "authEnveloped-data",
            SmimeType::CertsOnly => "certs-only",
            SmimeType::Unspecified => "",
        }
    }

    fn parse(v: Option<&str>) -> SmimeType {
        match v.map(str::to_ascii_lowercase).as_deref() {
            Some("signed-data") => SmimeType::SignedData,
            Some("enveloped-data") => SmimeType::EnvelopedData,
            Some("authenveloped-data") => SmimeType::AuthEnvelopedData,
            Some("certs-only") => SmimeType::CertsOnly,
            _ => SmimeType::Unspecified,
        }
    }
}

/// What the outermost layer of an entity is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// multipart/signed: the exact bytes of the signed part (a range into the entity, to be
    /// canonicalised to CRLF before hashing) and the detached signature (DER/BER CMS).
    DetachedSigned {
        /// Range of the first body part within the entity given.
        content: Range<usize>,
        /// The decoded application/pkcs7-signature body.
        signature: Vec<u8>,
        /// The micalg parameter, lower-cased, as informative only (RFC 8551 §3.5.3).
        micalg: Option<String>,
    },
    /// application/pkcs7-mime: the decoded CMS object.
    Pkcs7Mime {
        /// The smime-type parameter.
        smime_type: SmimeType,
        /// The decoded body (BER or DER).
        cms: Vec<u8>,
    },
    /// Anything else: content, not an S/MIME layer.
    Content,
}

fn is_pkcs7_signature(t: &str) -> bool {
    t.eq_ignore_ascii_case("application/pkcs7-signature")
        || t.eq_ignore_ascii_case("application/x-pkcs7-signature")
}

fn is_pkcs7_mime(t: &str) -> bool {
    t.eq_ignore_ascii_case("application/pkcs7-mime")
        || t.eq_ignore_ascii_case("application/x-pkcs7-mime")
}

/// Decodes a body according to its Content-Transfer-Encoding (CMS bodies are base64 in mail;
/// 7bit/8bit/binary are taken as they are).
fn decode_body(cte: &str, body: &[u8]) -> Result<Vec<u8>, MimeError> {
    if is_base64_body(cte)? {
        base64_decode(body)
    } else {
        Ok(body.to_vec())
    }
}

/// Whether a CMS body in transfer encoding `cte` is base64 text (else the bytes as they are).
fn is_base64_body(cte: &str) -> Result<bool, MimeError> {
    match cte {
        "base64" => Ok(true),
        "7bit" | "8bit" | "binary" => Ok(false),
        other => Err(MimeError::Malformed(format!(
            "a CMS body in transfer encoding '{other}'"
        ))),
    }
}

/// Classifies the outermost layer of `entity` (a header block and body).
pub fn classify(entity: &[u8], limits: &Limits) -> Result<Layer, MimeError> {
    Ok(
        match classify_in(&entity, 0..entity.len() as u64, limits)? {
            SourceLayer::DetachedSigned {
                content,
                signature,
                micalg,
            } => Layer::DetachedSigned {
                content: content.start as usize..content.end as usize,
                signature,
                micalg,
            },
            SourceLayer::Pkcs7Mime {
                smime_type,
                body,
                base64,
            } => {
                let raw = &entity[body.start as usize..body.end as usize];
                Layer::Pkcs7Mime {
                    smime_type,
                    cms: if base64 {
                        base64_decode(raw)?
                    } else {
                        raw.to_vec()
                    },
                }
            }
            SourceLayer::Content => Layer::Content,
        },
    )
}

/// What the outermost layer of an entity in a [`Source`] is: [`Layer`] with the CMS body
/// left where it is, to be decoded as it streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLayer {
    /// multipart/signed: the signed part's range and the decoded detached signature.
    DetachedSigned {
        /// Range of the first body part in the source.
        content: Range<u64>,
        /// The decoded application/pkcs7-signature body.
        signature: Vec<u8>,
        /// The micalg parameter, lower-cased, informative only (RFC 8551 §3.5.3).
        micalg: Option<String>,
    },
    /// application/pkcs7-mime.
    Pkcs7Mime {
        /// The smime-type parameter.
        smime_type: SmimeType,
        /// The body's range in the source.
        body: Range<u64>,
        /// Whether the body is base64 text (else BER as it is).
        base64: bool,
    },
    /// Anything else: content, not an S/MIME layer.
    Content,
}

/// The largest detached signature read (certificates and CRLs included).
pub const MAX_SIGNATURE_PART: u64 = 16 << 20;

/// Classifies the outermost layer of the entity at `entity` in `src`.
pub fn classify_in(
    src: &dyn Source,
    entity: Range<u64>,
    limits: &Limits,
) -> Result<SourceLayer, MimeError> {
    let (window, body_start) = read_header_block(src, entity.clone(), limits)?;
    let h = parse_header_block(&window, limits)?;
    h.check_single_content_fields()?;
    let ct = h.content_type()?;
    let body = entity.start + body_start as u64..entity.end;
    if ct.is("multipart/signed") {
        // RFC 1847 §2.1: the protocol parameter is required and names the signature type.
        if !ct.param("protocol").is_some_and(is_pkcs7_signature) {
            return Err(MimeError::Malformed(
                "multipart/signed without protocol=\"application/pkcs7-signature\"".into(),
            ));
        }
        let boundary = ct
            .param("boundary")
            .ok_or_else(|| MimeError::Malformed("multipart/signed without a boundary".into()))?;
        let m = multipart::split_in(src, body, boundary, limits)?;
        if m.parts.len() != 2 {
            return Err(MimeError::Malformed(format!(
                "multipart/signed must have exactly two parts, found {}",
                m.parts.len()
            )));
        }
        let sig_range = m.parts[1].clone();
        if sig_range.end - sig_range.start > MAX_SIGNATURE_PART {
            return Err(MimeError::TooLarge(format!(
                "a signature part larger than {} MiB",
                MAX_SIGNATURE_PART >> 20
            )));
        }
        let sig_part = read_range(src, sig_range)?;
        let sh = parse_header_block(&sig_part, limits)?;
        sh.check_single_content_fields()?;
        let sct = sh.content_type()?;
        if !is_pkcs7_signature(&sct.mime_type) {
            return Err(MimeError::Malformed(format!(
                "the second part of multipart/signed is {}, not application/pkcs7-signature",
                sct.mime_type
            )));
        }
        let signature = decode_body(&sh.transfer_encoding(), &sig_part[sh.body_start..])?;
        return Ok(SourceLayer::DetachedSigned {
            content: m.parts[0].clone(),
            signature,
            micalg: ct.param("micalg").map(str::to_ascii_lowercase),
        });
    }
    if is_pkcs7_mime(&ct.mime_type)
        || (ct.is("application/octet-stream")
            && ct
                .param("name")
                .is_some_and(|n| n.to_ascii_lowercase().ends_with(".p7m")))
    {
        return Ok(SourceLayer::Pkcs7Mime {
            smime_type: SmimeType::parse(ct.param("smime-type")),
            body,
            base64: is_base64_body(&h.transfer_encoding())?,
        });
    }
    Ok(SourceLayer::Content)
}

/// A message split into its envelope header fields (From, To, Subject, Date… — everything
/// but Content-* and MIME-Version) and the MIME entity that will be signed or encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMessage<'a> {
    /// Envelope fields, raw, in order.
    pub outer: Vec<HeaderField<'a>>,
    /// The inner entity: the content fields and the body (bytes owned: the header block is
    /// rebuilt from the content fields).
    pub inner: Vec<u8>,
}

/// Splits an RFC 5322 message (or a bare MIME entity) for wrapping.
pub fn split_message<'a>(
    message: &'a [u8],
    limits: &Limits,
) -> Result<SplitMessage<'a>, MimeError> {
    let h = parse_header_block(message, limits)?;
    let body = &message[h.body_start..];
    let (outer, mut inner) = split_fields(&h, || {
        let mut c = CharsetScan::default();
        c.feed(body);
        c.charset()
    });
    inner.reserve(body.len());
    inner.extend_from_slice(body);
    Ok(SplitMessage { outer, inner })
}

/// Splits a parsed header block into the envelope fields and the header block of the inner
/// entity (content fields, then the empty line). `charset` is asked only when the message
/// has no Content-Type, for the label of the text/plain default.
pub fn split_fields<'a>(
    h: &HeaderBlock<'a>,
    charset: impl FnOnce() -> &'static str,
) -> (Vec<HeaderField<'a>>, Vec<u8>) {
    let mut inner = Vec::with_capacity(256);
    let mut outer = Vec::new();
    let mut has_ct = false;
    for f in &h.fields {
        if f.is_content_field() {
            if f.is("MIME-Version") {
                continue;
            }
            has_ct |= f.is("Content-Type");
            inner.extend_from_slice(f.raw);
            if !f.raw.ends_with(b"\n") {
                inner.extend_from_slice(b"\r\n");
            }
        } else {
            outer.push(*f);
        }
    }
    if !has_ct {
        inner.extend_from_slice(
            format!("Content-Type: text/plain; charset={}\r\n", charset()).as_bytes(),
        );
    }
    inner.extend_from_slice(b"\r\n");
    (outer, inner)
}

/// The charset label of an unlabelled body: RFC 2045 §5.2's default is us-ascii; a body
/// that is valid UTF-8 with 8-bit bytes (what a plain-text tool writes today) is labelled
/// as what it is. Fed in pieces; a UTF-8 sequence may straddle two.
#[derive(Debug, Default, Clone)]
pub struct CharsetScan {
    eight_bit: bool,
    invalid: bool,
    held: Vec<u8>,
}

impl CharsetScan {
    /// Scans the next bytes.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.invalid {
            return;
        }
        if chunk.is_ascii() && self.held.is_empty() {
            return;
        }
        self.eight_bit = true;
        let mut joined;
        let bytes = if self.held.is_empty() {
            chunk
        } else {
            joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(chunk);
            &joined[..]
        };
        match std::str::from_utf8(bytes) {
            Ok(_) => self.held.clear(),
            // An incomplete sequence at the end: wait for the rest.
            Err(e) if e.error_len().is_none() => self.held = bytes[e.valid_up_to()..].to_vec(),
            Err(_) => self.invalid = true,
        }
    }

    /// The label.
    pub fn charset(&self) -> &'static str {
        if self.eight_bit && !self.invalid && self.held.is_empty() {
            "utf-8"
        } else {
            "us-ascii"
        }
    }
}

/// The header block of a message Cachet writes around an S/MIME layer: the envelope fields
/// (CRLF), `MIME-Version`, and the layer's content fields.
fn wrapper_head(outer: &[HeaderField<'_>], content_fields: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    push_outer(&mut out, outer);
    out.extend_from_slice(content_fields.as_bytes());
    out
}

/// The start of a multipart/signed message (RFC 8551 §3.5.3): up to and including the
/// first dash-boundary line; the signed entity follows.
pub fn multipart_signed_head(outer: &[HeaderField<'_>], micalg: &str, boundary: &str) -> Vec<u8> {
    let ct = content_type(
        "multipart/signed",
        &[
            ("protocol", "application/pkcs7-signature"),
            ("micalg", micalg),
            ("boundary", boundary),
        ],
    );
    wrapper_head(
        outer,
        &format!(
            "Content-Type: {ct}\r\n\r\nThis is an S/MIME signed message\r\n\r\n--{boundary}\r\n"
        ),
    )
}

/// The end of a multipart/signed message: the signature part and the close delimiter.
pub fn multipart_signed_tail(signature_der: &[u8], boundary: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(signature_der.len() * 4 / 3 + 512);
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n");
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
    out.extend_from_slice(b"Content-Disposition: attachment; filename=\"smime.p7s\"\r\n");
    out.extend_from_slice(b"Content-Description: S/MIME Cryptographic Signature\r\n\r\n");
    out.extend_from_slice(&base64_encode_lines(signature_der));
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The header block of an application/pkcs7-mime message (RFC 8551 §3.2); the base64 of
/// the CMS object follows.
pub fn pkcs7_mime_head(outer: &[HeaderField<'_>], smime_type: SmimeType) -> Vec<u8> {
    let ct = content_type(
        "application/pkcs7-mime",
        &[("smime-type", smime_type.name()), ("name", "smime.p7m")],
    );
    wrapper_head(
        outer,
        &format!(
            "Content-Type: {ct}\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n"
        ),
    )
}

fn push_outer(out: &mut Vec<u8>, outer: &[HeaderField<'_>]) {
    // The whole message Cachet writes uses CRLF, whatever the input used.
    for f in outer {
        out.extend_from_slice(&super::canon::to_crlf(f.raw));
        if !f.raw.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
}

/// A boundary that does not occur in `content`: 24 random hex digits after a fixed prefix.
pub fn fresh_boundary(content: &[u8], random: &mut dyn FnMut() -> [u8; 12]) -> String {
    loop {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = String::with_capacity(13 + 24);
        b.push_str("----=_cachet_");
        for x in random() {
            b.push(char::from(HEX[usize::from(x >> 4)]));
            b.push(char::from(HEX[usize::from(x & 15)]));
        }
        if memchr::memmem::find(content, b.as_bytes()).is_none() {
            return b;
        }
    }
}

/// multipart/signed (RFC 8551 §3.5.3 / RFC 1847): the canonical signed entity, then the
/// detached signature as application/pkcs7-signature.
pub fn build_multipart_signed(
    outer: &[HeaderField<'_>],
    signed_entity: &[u8],
    signature_der: &[u8],
    micalg: &str,
    boundary: &str,
) -> Vec<u8> {
    let mut out = multipart_signed_head(outer, micalg, boundary);
    out.extend_from_slice(signed_entity);
    out.extend_from_slice(&multipart_signed_tail(signature_der, boundary));
    out
}

/// application/pkcs7-mime (RFC 8551 §3.2) carrying `cms_der`, base64-encoded.
pub fn build_pkcs7_mime(
    outer: &[HeaderField<'_>],
    smime_type: SmimeType,
    cms_der: &[u8],
) -> Vec<u8> {
    let mut out = pkcs7_mime_head(outer, smime_type);
    out.extend_from_slice(&base64_encode_lines(cms_der));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> [u8; 12] {
        let mut n = 0u8;
        move || {
            n += 1;
            [n; 12]
        }
    }

    #[test]
    fn build_then_classify_detached() {
        let msg = b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
        let split = split_message(msg, &Limits::default()).unwrap();
        assert_eq!(split.outer.len(), 3);
        assert_eq!(split.inner, b"Content-Type: text/plain\r\n\r\nhello\r\n");
        let b = fresh_boundary(&split.inner, &mut counter());
        let signed = build_multipart_signed(
            &split.outer,
            &split.inner,
            b"\x30\x03\x02\x01\x01",
            "sha-256",
            &b,
        );
        let text = String::from_utf8_lossy(&signed);
        assert!(text.starts_with(
            "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
        ));
        match classify(&signed, &Limits::default()).unwrap() {
            Layer::DetachedSigned {
                content,
                signature,
                micalg,
            } => {
                assert_eq!(&signed[content], &split.inner[..]);
                assert_eq!(signature, b"\x30\x03\x02\x01\x01");
                assert_eq!(micalg.as_deref(), Some("sha-256"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn build_then_classify_pkcs7_mime() {
        let split = split_message(b"Subject: x\r\n\r\nbody", &Limits::default()).unwrap();
        assert_eq!(
            split.inner,
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\nbody"
        );
        let m = build_pkcs7_mime(&split.outer, SmimeType::AuthEnvelopedData, b"\x30\x00");
        assert!(String::from_utf8_lossy(&m).contains("smime-type=authEnveloped-data"));
        assert_eq!(
            classify(&m, &Limits::default()).unwrap(),
            Layer::Pkcs7Mime {
                smime_type: SmimeType::AuthEnvelopedData,
                cms: b"\x30\x00".to_vec()
            }
        );
        assert_eq!(
            classify(b"Content-Type: text/plain\r\n\r\nx", &Limits::default()).unwrap(),
            Layer::Content
        );
    }

    #[test]
    fn malformed_signed_structures() {
        let one_part = b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\nx\r\n--b--\r\n";
        assert!(classify(one_part, &Limits::default()).is_err());
        let wrong = b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\nx\r\n--b\r\nContent-Type: text/plain\r\n\r\ny\r\n--b--\r\n";
        assert!(classify(wrong, &Limits::default()).is_err());
        let boundary_in_content =
            fresh_boundary(b"----=_cachet_010101010101010101010101", &mut counter());
        assert!(boundary_in_content.ends_with("020202020202020202020202"));
    }
}
