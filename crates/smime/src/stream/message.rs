//! Whole messages in bounded memory (RFC 8551 §3): signing into multipart/signed or
//! signed-data, encrypting into enveloped-data or authEnveloped-data, and verifying — the
//! message read from a [`Source`], the result written to a [`Write`] as it is made.
//!
//! The envelope header fields (From, To, Subject…) stay outside; the inner entity is the
//! content fields followed by the body where it lies in the source ([`Spliced`]); its
//! 7-bit-safe canonical form is a [`plan`](crate::mime::encode::plan_7bit_safe) rendered in
//! chunks. Detached signing needs one pass; opaque signing and encryption need the length
//! first (DER), so they render twice: once to measure (and digest), once to write.
//! [`crate::message`] is this code run over a message in memory.

use super::ContentSink;
use super::envelope::{CmsInput, EncryptRequest, Encryptor};
use super::splice::splice;
use crate::ber::BerLimits;
use crate::message::{MessageError, SignMessage};
use crate::mime::encode::{Base64Lines, SafeEntity, plan_7bit_safe, read_header_block};
use crate::mime::header::parse_header_block;
use crate::mime::smime::{
    CharsetScan, SmimeType, SourceLayer, classify_in, multipart_signed_head, multipart_signed_tail,
    pkcs7_mime_head, split_fields,
};
use crate::mime::{Limits, MimeError};
use crate::signed::{self, ContentDigests, SignRequest, SignedReport, VerifyOptions};
use crate::source::{Source, Spliced, for_each_chunk};
use cachet_pki::verdict::{Code, Finding, Verdict};
use std::io::Write;

/// Output written at a time: the base64 text of about this much CMS.
const OUT_CHUNK: usize = 1 << 20;

fn write_err(e: std::io::Error) -> MessageError {
    MessageError::Io(format!("cannot write the output: {e}"))
}

/// The charset label of the body at `body` (see [`CharsetScan`]); a read error is kept for
/// the caller.
fn charset_of(
    src: &dyn Source,
    body: std::ops::Range<u64>,
    err: &mut Option<MimeError>,
) -> &'static str {
    let mut scan = CharsetScan::default();
    if let Err(e) = for_each_chunk::<MimeError>(src, body, |c| {
        scan.feed(c);
        Ok(())
    }) {
        *err = Some(e);
    }
    scan.charset()
}

/// A message being wrapped: its envelope header fields, the inner entity (as a source) and
/// the inner entity's 7-bit-safe plan.
struct Wrapped<'a> {
    outer: &'a [crate::mime::HeaderField<'a>],
    inner: &'a Spliced<'a>,
    plan: &'a SafeEntity,
}

/// Calls `f` with the envelope header fields of the message in `src`, the inner entity (as
/// a source) and its 7-bit-safe plan.
fn with_inner<T>(
    src: &dyn Source,
    limits: &Limits,
    f: &mut dyn FnMut(&Wrapped<'_>) -> Result<T, MessageError>,
) -> Result<T, MessageError> {
    let (window, body_start) = read_header_block(src, 0..src.len(), limits)?;
    let h = parse_header_block(&window, limits)?;
    let body = body_start as u64..src.len();
    let mut err = None;
    let (outer, inner_head) = split_fields(&h, || charset_of(src, body.clone(), &mut err));
    if let Some(e) = err {
        return Err(e.into());
    }
    let inner = Spliced {
        head: &inner_head,
        tail: src,
        tail_start: body.start,
    };
    let plan = plan_7bit_safe(&inner, 0..inner.len(), limits)?;
    f(&Wrapped {
        outer: &outer,
        inner: &inner,
        plan: &plan,
    })
}

/// Renders `plan` (canonical) into `f`, whose errors come back as they were (not as the
/// I/O errors `render` speaks).
fn render_each(
    plan: &SafeEntity,
    inner: &Spliced<'_>,
    f: &mut dyn FnMut(&[u8]) -> Result<(), MessageError>,
) -> Result<(), MessageError> {
    let mut failure = None;
    plan.render(inner, true, &mut |c| {
        f(c).map_err(|e| {
            let msg = e.to_string();
            failure = Some(e);
            std::io::Error::other(msg)
        })
    })
    .map_err(|e| failure.take().unwrap_or_else(|| e.into()))
}

/// Base64 lines of CMS written to `out` as they fill.
struct Base64Out<'w> {
    enc: Base64Lines,
    text: Vec<u8>,
    out: &'w mut dyn Write,
}

impl<'w> Base64Out<'w> {
    fn new(out: &'w mut dyn Write) -> Self {
        Base64Out {
            enc: Base64Lines::default(),
            text: Vec::with_capacity(OUT_CHUNK * 4 / 3 + 4096),
            out,
        }
    }

    fn feed(&mut self, der: &[u8]) -> Result<(), MessageError> {
        self.enc.feed(der, &mut self.text);
        if self.text.len() >= OUT_CHUNK {
            self.out.write_all(&self.text).map_err(write_err)?;
            self.text.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), MessageError> {
        self.enc.finish(&mut self.text);
        self.out.write_all(&self.text).map_err(write_err)
    }
}

/// A boundary that occurs nowhere in `src` or `head` (RFC 2046 §5.1.1). The rendered entity
/// contains nothing else that could hold one: base64 has no '-' and quoted-printable no
/// "=_", both in every boundary Cachet makes.
fn fresh_boundary_in(src: &dyn Source, head: &[u8]) -> Result<String, MessageError> {
    loop {
        let b = crate::mime::smime::fresh_boundary(head, &mut || {
            cachet_crypto::rand::bytes::<12>().unwrap_or([0x5a; 12])
        });
        let finder = memchr::memmem::Finder::new(b.as_bytes());
        let overlap = b.len() as u64;
        let mut found = false;
        let mut at = 0u64;
        // Chunks overlapping by the boundary's length, so one across a join is seen.
        while at < src.len() && !found {
            let end = (at + crate::source::CHUNK as u64).min(src.len());
            for_each_chunk::<MimeError>(src, at..end, |c| {
                found |= finder.find(c).is_some();
                Ok(())
            })?;
            if end == src.len() {
                break;
            }
            at = end.saturating_sub(overlap);
        }
        if !found {
            return Ok(b);
        }
    }
}

/// Signs the message in `src` (see [`crate::message::sign_message`]), writing the signed
/// message to `out`.
pub fn sign_message(
    src: &dyn Source,
    how: &SignMessage<'_>,
    limits: &Limits,
    out: &mut dyn Write,
) -> Result<(), MessageError> {
    with_inner(src, limits, &mut |w| {
        let (outer, inner, plan) = (w.outer, w.inner, w.plan);
        let d = signed::digest_for(how.signer.key.key_type());
        let signers = std::slice::from_ref(&how.signer);
        let request = |digests, encapsulated| SignRequest {
            signers,
            digests,
            encapsulated,
            signing_time: how.signing_time,
            sid: how.sid,
            rsa_pss: how.rsa_pss,
        };
        if !how.opaque {
            let boundary = fresh_boundary_in(src, inner.head)?;
            out.write_all(&multipart_signed_head(outer, signed::micalg(d), &boundary))
                .map_err(write_err)?;
            let mut hasher = ContentDigests::new([d]);
            plan.render(inner, true, &mut |c| {
                hasher.update(c);
                out.write_all(c)
            })?;
            let cms = signed::sign(&request(&hasher.finish(), None))?;
            out.write_all(&multipart_signed_tail(&cms, &boundary))
                .map_err(write_err)?;
            return Ok(());
        }
        // Signed-data: digest and measure, sign with an empty eContent, splice the content.
        let mut hasher = ContentDigests::new([d]);
        let mut len = 0u64;
        plan.render(inner, true, &mut |c| {
            hasher.update(c);
            len += c.len() as u64;
            Ok(())
        })?;
        let cms = signed::sign(&request(&hasher.finish(), Some(&[])))?;
        let s = splice(&cms, &ECONTENT_PATH, len)
            .map_err(|e| MessageError::Io(format!("signed-data: {e}")))?;
        out.write_all(&pkcs7_mime_head(outer, SmimeType::SignedData))
            .map_err(write_err)?;
        let mut b64 = Base64Out::new(out);
        b64.feed(&s.prefix)?;
        render_each(plan, inner, &mut |c| b64.feed(c))?;
        b64.feed(&s.suffix)?;
        b64.finish()
    })
}

/// Signs the bytes of `src` as they are (raw CMS, no MIME): a detached SignedData, or with
/// `how.opaque` one that encapsulates them, written to `out` as DER.
pub fn sign_raw(
    src: &dyn Source,
    how: &SignMessage<'_>,
    out: &mut dyn Write,
) -> Result<(), MessageError> {
    let d = signed::digest_for(how.signer.key.key_type());
    let mut hasher = ContentDigests::new([d]);
    for_each_chunk::<MessageError>(src, 0..src.len(), |c| {
        hasher.update(c);
        Ok(())
    })?;
    let cms = signed::sign(&SignRequest {
        signers: std::slice::from_ref(&how.signer),
        digests: &hasher.finish(),
        encapsulated: how.opaque.then_some(&[][..]),
        signing_time: how.signing_time,
        sid: how.sid,
        rsa_pss: how.rsa_pss,
    })?;
    if !how.opaque {
        return out.write_all(&cms).map_err(write_err);
    }
    let s = splice(&cms, &ECONTENT_PATH, src.len())
        .map_err(|e| MessageError::Io(format!("signed-data: {e}")))?;
    out.write_all(&s.prefix).map_err(write_err)?;
    for_each_chunk::<MessageError>(src, 0..src.len(), |c| out.write_all(c).map_err(write_err))?;
    out.write_all(&s.suffix).map_err(write_err)
}

/// The path from `ContentInfo` to the `eContent` OCTET STRING: content [0] → SignedData →
/// encapContentInfo (its third element: version, digestAlgorithms come first) → [0] →
/// OCTET STRING.
const ECONTENT_PATH: [usize; 5] = [1, 0, 2, 1, 0];

/// Encrypts the message in `src` to application/pkcs7-mime (RFC 8551 §3.3): the inner
/// entity, 7-bit safe and canonical, encrypted as `req` says, the envelope headers kept
/// outside.
pub fn encrypt_message(
    src: &dyn Source,
    req: &EncryptRequest<'_>,
    limits: &Limits,
    out: &mut dyn Write,
) -> Result<(), MessageError> {
    with_inner(src, limits, &mut |w| {
        let (outer, inner, plan) = (w.outer, w.inner, w.plan);
        let len = plan.rendered_len(inner, true)?;
        let (mut enc, prefix) = Encryptor::start(len, req)?;
        let smime_type = if req.cipher.is_authenticated() {
            SmimeType::AuthEnvelopedData
        } else {
            SmimeType::EnvelopedData
        };
        out.write_all(&pkcs7_mime_head(outer, smime_type))
            .map_err(write_err)?;
        let mut b64 = Base64Out::new(out);
        b64.feed(&prefix)?;
        let mut ct = Vec::with_capacity(OUT_CHUNK + 64);
        render_each(plan, inner, &mut |c| {
            let step = enc
                .update(c, &mut ct)
                .map_err(MessageError::from)
                .and_then(|()| b64.feed(&ct));
            ct.clear();
            step
        })?;
        enc.finish(&mut ct)?;
        b64.feed(&ct)?;
        b64.finish()
    })
}

/// Encrypts the bytes of `src` as they are into a DER `ContentInfo` (raw CMS, for tools
/// that speak CMS without MIME), written to `out`.
pub fn encrypt_raw(
    src: &dyn Source,
    req: &EncryptRequest<'_>,
    out: &mut dyn Write,
) -> Result<(), MessageError> {
    let (mut enc, prefix) = Encryptor::start(src.len(), req)?;
    out.write_all(&prefix).map_err(write_err)?;
    let mut ct = Vec::with_capacity(crate::source::CHUNK + 64);
    for_each_chunk::<MessageError>(src, 0..src.len(), |c| {
        enc.update(c, &mut ct)?;
        out.write_all(&ct).map_err(write_err)?;
        ct.clear();
        Ok(())
    })?;
    enc.finish(&mut ct)?;
    out.write_all(&ct).map_err(write_err)
}

/// A verification of a message read from a source.
pub struct StreamVerified {
    /// Signers and findings.
    pub report: SignedReport,
    /// Whether the signed content was found (and passed to the sink).
    pub content_found: bool,
}

fn malformed(message: String) -> StreamVerified {
    let mut verdict = Verdict::default();
    verdict.push(Finding::error(Code::Malformed, message));
    StreamVerified {
        report: SignedReport {
            signers: Vec::new(),
            content: None,
            certificates: Vec::new(),
            crls: Vec::new(),
            verdict,
        },
        content_found: false,
    }
}

/// Verifies the outermost signature layer of the message in `src` (see
/// [`crate::message::verify_message`]), passing the signed content to `sink` — to be
/// released only when the verdict is valid.
pub fn verify_message(
    src: &dyn Source,
    opts: &VerifyOptions,
    limits: &Limits,
    ber: &BerLimits,
    sink: &mut dyn ContentSink,
) -> StreamVerified {
    let whole = 0..src.len();
    let (window, _) = match read_header_block(src, whole.clone(), limits) {
        Ok(w) => w,
        Err(e) => return malformed(format!("the message cannot be read: {e}")),
    };
    let headers = match parse_header_block(&window, limits) {
        Ok(h) => h,
        Err(e) => return malformed(format!("the message cannot be read: {e}")),
    };
    let (opts, notes) = match crate::message::sender_options(&headers, opts) {
        Ok(x) => x,
        Err(m) => return malformed(m),
    };
    let mut v = match classify_in(src, whole, limits) {
        Err(e) => return malformed(format!("the message cannot be read: {e}")),
        Ok(SourceLayer::Content) => {
            return malformed(
                "the message is not signed (no multipart/signed or application/pkcs7-mime layer)"
                    .into(),
            );
        }
        Ok(SourceLayer::DetachedSigned {
            content, signature, ..
        }) => StreamVerified {
            report: super::signed::verify_detached(
                src, content, true, &signature, &opts, ber, sink,
            ),
            content_found: true,
        },
        Ok(SourceLayer::Pkcs7Mime { body, base64, .. }) => {
            let input = CmsInput {
                src,
                range: body,
                base64,
            };
            let mut counting = Counting {
                inner: sink,
                seen: false,
            };
            let report = super::signed::verify_encapsulated(&input, &opts, ber, &mut counting);
            StreamVerified {
                content_found: counting.seen,
                report,
            }
        }
    };
    v.report.verdict.findings.extend(notes);
    v
}

/// Notes whether any content passed.
struct Counting<'a> {
    inner: &'a mut dyn ContentSink,
    seen: bool,
}

impl ContentSink for Counting<'_> {
    fn write(&mut self, content: &[u8]) -> std::io::Result<()> {
        self.seen = true;
        self.inner.write(content)
    }

    fn restart(&mut self) -> std::io::Result<()> {
        self.inner.restart()
    }
}
