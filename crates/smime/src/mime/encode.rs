//! Transfer encodings (RFC 2045 §6): base64 and quoted-printable, and the conversion of an
//! entity with 8-bit or binary content to a 7-bit-safe form *before* it is signed
//! (RFC 8551 §3.1.2), so that no relay has cause to re-encode — and thereby break — it.

use super::canon::CrlfWriter;
use super::header::{ContentType, parse_header_block};
use super::{Limits, MimeError, multipart};
use crate::source::{Source, for_each_chunk, read_range};
use std::borrow::Cow;
use std::ops::Range;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The two characters of every 12-bit value: two lookups encode three bytes.
static B64_PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [B64[i >> 6], B64[i & 63]];
        i += 1;
    }
    t
};

/// Base64 with CRLF after every 76 characters (RFC 2045 §6.8), ending in CRLF.
pub fn base64_encode_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(Base64Lines::encoded_len(data.len() as u64) as usize);
    let mut e = Base64Lines::default();
    e.feed(data, &mut out);
    e.finish(&mut out);
    out
}

/// Streaming base64 in lines of 76 characters ending in CRLF (RFC 2045 §6.8): the same
/// output as [`base64_encode_lines`] whatever the chunking.
#[derive(Debug, Clone)]
pub struct Base64Lines {
    carry: [u8; 3],
    carry_len: usize,
    col: usize,
    /// Characters per line (a multiple of 4, at most 76).
    width: usize,
    eol: &'static [u8],
}

impl Default for Base64Lines {
    /// MIME: 76 characters, CRLF (RFC 2045 §6.8).
    fn default() -> Self {
        Base64Lines {
            carry: [0; 3],
            carry_len: 0,
            col: 0,
            width: 76,
            eol: b"\r\n",
        }
    }
}

impl Base64Lines {
    /// PEM: 64 characters, LF (RFC 7468 §2).
    pub fn pem() -> Self {
        Base64Lines {
            width: 64,
            eol: b"\n",
            ..Base64Lines::default()
        }
    }

    /// The length of the MIME encoding (76 columns, CRLF) of `n` bytes, line breaks
    /// included; for a PEM encoder only an estimate.
    pub fn encoded_len(n: u64) -> u64 {
        let chars = n.div_ceil(3) * 4;
        chars + chars.div_ceil(76) * 2
    }

    fn quad(&mut self, c: [u8; 3], out: &mut Vec<u8>) {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[
            B64[(n >> 18) as usize & 63],
            B64[(n >> 12) as usize & 63],
            B64[(n >> 6) as usize & 63],
            B64[n as usize & 63],
        ]);
        self.col += 4;
        if self.col == self.width {
            out.extend_from_slice(self.eol);
            self.col = 0;
        }
    }

    /// Encodes `data`, appending to `out`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        while self.carry_len > 0 && !data.is_empty() {
            self.carry[self.carry_len] = data[0];
            self.carry_len += 1;
            data = &data[1..];
            if self.carry_len == 3 {
                self.carry_len = 0;
                self.quad(self.carry, out);
            }
        }
        if self.carry_len > 0 {
            return; // `data` ran out while completing the held group
        }
        out.reserve(Base64Lines::encoded_len(data.len() as u64) as usize);
        // Whole lines at a time once aligned: the common case for large bodies.
        while self.col != 0 && data.len() >= 3 {
            self.quad([data[0], data[1], data[2]], out);
            data = &data[3..];
        }
        let mut line = [0u8; 80];
        let line_in = self.width / 4 * 3;
        let line_len = self.width + self.eol.len();
        while data.len() >= line_in {
            for (c, q) in data[..line_in]
                .chunks_exact(3)
                .zip(line[..self.width].chunks_exact_mut(4))
            {
                let n = (usize::from(c[0]) << 16) | (usize::from(c[1]) << 8) | usize::from(c[2]);
                q[..2].copy_from_slice(&B64_PAIRS[n >> 12]);
                q[2..].copy_from_slice(&B64_PAIRS[n & 0xfff]);
            }
            line[self.width..line_len].copy_from_slice(self.eol);
            out.extend_from_slice(&line[..line_len]);
            data = &data[line_in..];
        }
        while data.len() >= 3 {
            self.quad([data[0], data[1], data[2]], out);
            data = &data[3..];
        }
        self.carry[..data.len()].copy_from_slice(data);
        self.carry_len = data.len();
    }

    /// Writes the final, padded group and the last line break.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if self.carry_len > 0 {
            let len = self.carry_len;
            self.carry[len..].fill(0);
            let c = self.carry;
            let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
            out.extend_from_slice(&[
                B64[(n >> 18) as usize & 63],
                B64[(n >> 12) as usize & 63],
                if len > 1 {
                    B64[(n >> 6) as usize & 63]
                } else {
                    b'='
                },
                b'=',
            ]);
            self.col += 4;
        }
        if self.col > 0 {
            out.extend_from_slice(self.eol);
        }
    }
}

/// Decodes base64, ignoring line breaks and white space; any other character outside the
/// alphabet, or misplaced padding, is an error naming its offset.
pub fn base64_decode(text: &[u8]) -> Result<Vec<u8>, MimeError> {
    let mut d = crate::stream::reader::Base64Decoder::default();
    let mut out = Vec::with_capacity(crate::stream::reader::decoded_room(text.len()));
    d.feed(text, &mut out)
        .and_then(|()| d.finish())
        .map_err(|e| MimeError::Malformed(e.to_string()))?;
    Ok(out)
}

/// Quoted-printable (RFC 2045 §6.7) with CRLF hard line breaks and soft breaks before 76
/// columns. Also encodes a leading "From " and a lone "." (RFC 8551 §3.1.1's advice for
/// content that must survive relays).
pub fn quoted_printable_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let mut q = QuotedPrintable::default();
    q.feed(data, &mut out);
    q.finish(&mut out);
    out
}

/// Streaming [`quoted_printable_encode`]: a line is held until its end is seen (whether its
/// last character is white space decides its encoding), except that a line longer than
/// [`QP_HOLD`] is encoded up to its last two bytes, so memory stays bounded.
#[derive(Debug, Default, Clone)]
pub struct QuotedPrintable {
    /// The unencoded rest of the current line.
    line: Vec<u8>,
    /// How many bytes of the current line were already encoded.
    done: usize,
    /// Whether the current line starts with "From " (known once it has 5 bytes).
    from_line: bool,
    col: usize,
}

/// Longest part of a line held back by [`QuotedPrintable`].
pub const QP_HOLD: usize = 64 * 1024;

impl QuotedPrintable {
    /// Encodes `data`, appending to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', data) {
            self.line.extend_from_slice(&data[start..nl]);
            // The CR of a CRLF is always still held (two bytes are).
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            self.end_line(out);
            out.extend_from_slice(b"\r\n");
            start = nl + 1;
        }
        self.line.extend_from_slice(&data[start..]);
        if self.line.len() > QP_HOLD {
            self.note_start();
            let upto = self.line.len() - 2;
            self.encode(0, upto, false, out);
            self.line.drain(..upto);
            self.done += upto;
        }
    }

    /// Encodes the last line (after the last line break), without a line break.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.end_line(out);
    }

    fn note_start(&mut self) {
        if self.done == 0 {
            self.from_line = self.line.starts_with(b"From ");
        }
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        self.note_start();
        let len = self.line.len();
        self.encode(0, len, true, out);
        self.line.clear();
        self.done = 0;
        self.from_line = false;
        self.col = 0;
    }

    /// Encodes `line[from..to]`; `ends` when `to` is the end of the line.
    fn encode(&mut self, from: usize, to: usize, ends: bool, out: &mut Vec<u8>) {
        let lone_dot = self.done == 0 && ends && self.line == b".";
        for i in from..to {
            let b = self.line[i];
            let first = self.done + i == 0;
            let at_end = ends && i + 1 == to;
            let must = b == b'='
                || b >= 0x7f
                || (b < 0x20 && b != b'\t')
                || ((b == b' ' || b == b'\t') && at_end)
                || (first && (self.from_line || lone_dot));
            let width = if must { 3 } else { 1 };
            if self.col + width > 75 {
                out.extend_from_slice(b"=\r\n");
                self.col = 0;
            }
            if must {
                out.push(b'=');
                out.push(b"0123456789ABCDEF"[(b >> 4) as usize]);
                out.push(b"0123456789ABCDEF"[(b & 15) as usize]);
            } else {
                out.push(b);
            }
            self.col += width;
        }
    }
}

/// Whether a body must be transfer-encoded to be 7-bit safe (RFC 5322 §2.3: no NUL, no
/// 8-bit bytes, no bare CR, lines of at most 998 octets).
pub fn needs_encoding(body: &[u8]) -> bool {
    let mut scan = SafetyScan::default();
    scan.feed(body);
    scan.needs_encoding()
}

/// Streaming [`needs_encoding`]: vectorised scans (is_ascii, memchr) rather than a byte loop,
/// since this runs over every message body that is signed or encrypted.
#[derive(Debug, Default, Clone)]
pub struct SafetyScan {
    unsafe_seen: bool,
    /// Octets of the current line so far (a held CR not counted).
    line_len: u64,
    /// The last byte fed was a CR (a bare CR unless a LF comes next).
    pending_cr: bool,
}

/// RFC 5322 §2.1.1: lines of at most 998 octets without the CRLF.
const MAX_LINE: u64 = 998;

impl SafetyScan {
    /// Scans the next bytes.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.unsafe_seen || chunk.is_empty() {
            return;
        }
        if !chunk.is_ascii() || memchr::memchr(0, chunk).is_some() {
            self.unsafe_seen = true;
            return;
        }
        if self.pending_cr && chunk[0] != b'\n' {
            self.unsafe_seen = true;
            return;
        }
        if memchr::memchr_iter(b'\r', chunk).any(|i| i + 1 < chunk.len() && chunk[i + 1] != b'\n') {
            self.unsafe_seen = true;
            return;
        }
        let mut line_start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            let cr = if nl > line_start {
                u64::from(chunk[nl - 1] == b'\r')
            } else {
                // The CR of this line's CRLF ended the previous chunk.
                u64::from(self.pending_cr)
            };
            if self.line_len + (nl - line_start) as u64 - cr > MAX_LINE {
                self.unsafe_seen = true;
                return;
            }
            self.line_len = 0;
            line_start = nl + 1;
        }
        self.line_len += (chunk.len() - line_start) as u64;
        self.pending_cr = chunk[chunk.len() - 1] == b'\r';
        // A CR held for the next chunk may be the start of a CRLF: not counted yet.
        if self.line_len - u64::from(self.pending_cr) > MAX_LINE {
            self.unsafe_seen = true;
        }
    }

    /// The verdict on everything fed.
    pub fn needs_encoding(&self) -> bool {
        self.unsafe_seen || self.pending_cr || self.line_len > MAX_LINE
    }
}

/// A streaming transfer encoding: [`QuotedPrintable`] or [`Base64Lines`].
trait TransferEncoder {
    fn feed_into(&mut self, data: &[u8], out: &mut Vec<u8>);
    fn finish_into(&mut self, out: &mut Vec<u8>);
}

impl TransferEncoder for QuotedPrintable {
    fn feed_into(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.feed(data, out);
    }

    fn finish_into(&mut self, out: &mut Vec<u8>) {
        std::mem::take(self).finish(out);
    }
}

impl TransferEncoder for Base64Lines {
    fn feed_into(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.feed(data, out);
    }

    fn finish_into(&mut self, out: &mut Vec<u8>) {
        std::mem::take(self).finish(out);
    }
}

/// Encodes `src[range]` with `encoder`, passing the text to `emit` chunk by chunk.
fn encode_range(
    encoder: &mut dyn TransferEncoder,
    src: &dyn Source,
    range: &Range<u64>,
    raw: &mut Vec<u8>,
    emit: &mut dyn FnMut(&[u8]) -> Result<(), MimeError>,
) -> Result<(), MimeError> {
    for_each_chunk(src, range.clone(), |c| {
        encoder.feed_into(c, raw);
        let step = emit(raw);
        raw.clear();
        step
    })?;
    encoder.finish_into(raw);
    let step = emit(raw);
    raw.clear();
    step
}

/// One piece of a [`SafeEntity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes made here (a rebuilt header block).
    Bytes(Vec<u8>),
    /// Bytes of the source, as they are.
    Copy(Range<u64>),
    /// Bytes of the source, quoted-printable encoded.
    QuotedPrintable(Range<u64>),
    /// Bytes of the source, base64 encoded.
    Base64(Range<u64>),
}

/// The 7-bit-safe form of an entity (RFC 8551 §3.1.2) as a plan over its [`Source`]: what to
/// copy and what to re-encode. Rendering it streams, so a 1 GiB entity never sits in memory;
/// the plan itself holds only rebuilt header blocks and ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeEntity {
    /// The pieces, in order.
    pub pieces: Vec<Piece>,
    /// Whether anything differs from the source.
    pub changed: bool,
}

impl SafeEntity {
    fn push(&mut self, p: Piece) {
        if let (Some(Piece::Copy(last)), Piece::Copy(next)) = (self.pieces.last_mut(), &p)
            && last.end == next.start
        {
            last.end = next.end;
            return;
        }
        if !matches!(&p, Piece::Copy(r) if r.is_empty()) {
            self.pieces.push(p);
        }
    }

    /// Streams the entity to `sink` in chunks; with `canonical`, bare LFs become CRLF
    /// (RFC 8551 §3.1.1), as signing and encryption need.
    pub fn render(
        &self,
        src: &dyn Source,
        canonical: bool,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<(), MimeError> {
        let mut crlf = CrlfWriter::default();
        // The content may be a message about to be encrypted: wiped when done.
        let mut canon = zeroize::Zeroizing::new(Vec::new());
        let mut raw = zeroize::Zeroizing::new(Vec::new());
        // Canonical chunks (no bare LF) go straight to the sink; others are converted.
        let mut emit_slice = |c: &[u8]| -> Result<(), MimeError> {
            if canonical && crlf.has_bare_lf(c) {
                canon.clear();
                crlf.feed(c, &mut |s| canon.extend_from_slice(s));
                sink(&canon)?;
            } else {
                crlf.pass(c);
                sink(c)?;
            }
            Ok(())
        };
        for p in &self.pieces {
            match p {
                Piece::Bytes(b) => emit_slice(b)?,
                Piece::Copy(r) => for_each_chunk(src, r.clone(), &mut emit_slice)?,
                Piece::QuotedPrintable(r) => encode_range(
                    &mut QuotedPrintable::default(),
                    src,
                    r,
                    &mut raw,
                    &mut emit_slice,
                )?,
                Piece::Base64(r) => encode_range(
                    &mut Base64Lines::default(),
                    src,
                    r,
                    &mut raw,
                    &mut emit_slice,
                )?,
            }
        }
        Ok(())
    }

    /// The length [`render`](Self::render) produces, found by rendering into a counter (the
    /// DER lengths of opaque signing and encryption need it before the content is written).
    pub fn rendered_len(&self, src: &dyn Source, canonical: bool) -> Result<u64, MimeError> {
        let mut n = 0u64;
        self.render(src, canonical, &mut |c| {
            n += c.len() as u64;
            Ok(())
        })?;
        Ok(n)
    }
}

/// Returns `entity` (a header block and body) in a 7-bit-safe form: every leaf part whose
/// body needs it is re-encoded (quoted-printable for text, base64 otherwise) and its
/// Content-Transfer-Encoding set; multiparts are processed part by part, keeping their
/// structure and the bytes of parts that need nothing. Entities already safe are borrowed.
pub fn make_7bit_safe<'a>(entity: &'a [u8], limits: &Limits) -> Result<Cow<'a, [u8]>, MimeError> {
    let plan = plan_7bit_safe(&entity, 0..entity.len() as u64, limits)?;
    if !plan.changed {
        return Ok(Cow::Borrowed(entity));
    }
    let mut out = Vec::with_capacity(entity.len() + entity.len() / 3);
    plan.render(&entity, false, &mut |c| {
        out.extend_from_slice(c);
        Ok(())
    })?;
    Ok(Cow::Owned(out))
}

/// Plans the 7-bit-safe form of the entity at `entity` in `src` (see [`make_7bit_safe`]).
pub fn plan_7bit_safe(
    src: &dyn Source,
    entity: Range<u64>,
    limits: &Limits,
) -> Result<SafeEntity, MimeError> {
    let mut plan = SafeEntity {
        pieces: Vec::new(),
        changed: false,
    };
    plan_at(src, entity, limits, 0, &mut plan)?;
    Ok(plan)
}

/// Reads the header block at the start of `entity`: a small read first, the largest allowed
/// only when the block is longer, so many small parts cost little. Borrowed when the source
/// is in memory.
pub fn read_header_block<'a>(
    src: &'a dyn Source,
    entity: Range<u64>,
    limits: &Limits,
) -> Result<(Cow<'a, [u8]>, usize), MimeError> {
    let available = entity.end.saturating_sub(entity.start);
    for want in [16 * 1024u64, limits.max_header_bytes as u64 + 4096] {
        let n = available.min(want);
        let range = entity.start..entity.start + n;
        let window = match src.borrow(range.clone()) {
            Some(b) => Cow::Borrowed(b),
            None => Cow::Owned(read_range(src, range)?),
        };
        let body_start = parse_header_block(&window, limits)?.body_start;
        if body_start < window.len() || n == available {
            return Ok((window, body_start));
        }
    }
    Err(MimeError::TooLarge(format!(
        "header block larger than {} bytes",
        limits.max_header_bytes
    )))
}

fn plan_at(
    src: &dyn Source,
    entity: Range<u64>,
    limits: &Limits,
    depth: usize,
    plan: &mut SafeEntity,
) -> Result<(), MimeError> {
    if depth > limits.max_depth {
        return Err(MimeError::TooLarge(format!(
            "MIME nesting deeper than {}",
            limits.max_depth
        )));
    }
    let (window, body_start) = read_header_block(src, entity.clone(), limits)?;
    let h = parse_header_block(&window, limits)?;
    let body = entity.start + body_start as u64..entity.end;
    let ct = h.content_type()?;
    let cte = h.transfer_encoding();
    if ct.top_level() == "multipart" {
        let boundary = ct
            .param("boundary")
            .ok_or_else(|| MimeError::Malformed(format!("{} without a boundary", ct.mime_type)))?;
        let m = multipart::split_in(src, body.clone(), boundary, limits)?;
        // The header block, preamble, delimiters and epilogue are copied as they are: only
        // leaves are re-encoded.
        let mut pos = entity.start;
        for r in &m.parts {
            plan.push(Piece::Copy(pos..r.start));
            plan_at(src, r.clone(), limits, depth + 1, plan)?;
            pos = r.end;
        }
        plan.push(Piece::Copy(pos..entity.end));
        return Ok(());
    }
    let mut scan = SafetyScan::default();
    if !matches!(cte.as_str(), "base64" | "quoted-printable") {
        for_each_chunk::<MimeError>(src, body.clone(), |c| {
            scan.feed(c);
            Ok(())
        })?;
    }
    if !scan.needs_encoding() {
        plan.push(Piece::Copy(entity));
        return Ok(());
    }
    let new_cte = if ct.top_level() == "text" {
        "quoted-printable"
    } else {
        "base64"
    };
    let mut head = Vec::with_capacity(body_start + 64);
    let mut wrote_cte = false;
    for f in &h.fields {
        if f.is("Content-Transfer-Encoding") {
            if !wrote_cte {
                head.extend_from_slice(
                    format!("Content-Transfer-Encoding: {new_cte}\r\n").as_bytes(),
                );
                wrote_cte = true;
            }
        } else {
            head.extend_from_slice(f.raw);
        }
    }
    if !wrote_cte {
        head.extend_from_slice(format!("Content-Transfer-Encoding: {new_cte}\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    plan.push(Piece::Bytes(head));
    plan.push(if new_cte == "base64" {
        Piece::Base64(body)
    } else {
        Piece::QuotedPrintable(body)
    });
    plan.changed = true;
    Ok(())
}

/// Builds the Content-Type value for a new entity.
pub fn content_type(mime_type: &str, params: &[(&str, &str)]) -> String {
    ContentType {
        mime_type: mime_type.to_string(),
        params: params
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    }
    .to_header_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_errors() {
        for n in 0..200 {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
            let enc = base64_encode_lines(&data);
            assert!(enc.split(|&b| b == b'\n').all(|l| l.len() <= 77));
            assert_eq!(base64_decode(&enc).unwrap(), data);
        }
        assert_eq!(base64_encode_lines(b"Man"), b"TWFu\r\n");
        assert!(base64_decode(b"TW!u").is_err());
        assert!(base64_decode(b"TQ==TQ==").is_err());
        assert!(base64_decode(b"TWFuT").is_err());
    }

    #[test]
    fn quoted_printable_is_7bit_and_short_lined() {
        let qp = quoted_printable_encode("Grüße = 100%\r\nFrom me \r\n.\r\n".as_bytes());
        assert_eq!(
            qp,
            b"Gr=C3=BC=C3=9Fe =3D 100%\r\n=46rom me=20\r\n=2E\r\n".to_vec()
        );
        let long = quoted_printable_encode(&[b'a'; 200]);
        assert!(long.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        assert!(!needs_encoding(&qp));
    }

    #[test]
    fn line_length_limit_counts_octets_without_the_line_ending() {
        let line = |n: usize, end: &str| format!("{}{end}", "a".repeat(n)).into_bytes();
        assert!(!needs_encoding(&line(998, "\n")));
        assert!(!needs_encoding(&line(998, "\r\n")));
        assert!(needs_encoding(&line(999, "\n")));
        assert!(needs_encoding(&line(999, "\r\n")));
        assert!(needs_encoding(&line(999, "")));
        assert!(!needs_encoding(&line(998, "")));
        assert!(needs_encoding(b"a\rb"));
        assert!(needs_encoding(b"a\x00b"));
        assert!(!needs_encoding(b"a\r\nb\n"));
    }

    #[test]
    fn eight_bit_leaves_are_reencoded_inside_multiparts() {
        let entity = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n--b\r\nContent-Type: text/plain\r\n\r\nascii only\r\n--b--\r\n";
        let out = make_7bit_safe(entity.as_bytes(), &Limits::default()).unwrap();
        let text = String::from_utf8(out.into_owned()).unwrap();
        assert!(
            text.contains(
                "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n--b"
            ),
            "{text}"
        );
        assert!(text.contains("Content-Type: text/plain\r\n\r\nascii only\r\n--b--"));
        assert!(!needs_encoding(text.as_bytes()));
        let safe = b"Content-Type: text/plain\r\n\r\nhello\r\n";
        assert!(matches!(
            make_7bit_safe(safe, &Limits::default()).unwrap(),
            Cow::Borrowed(_)
        ));
        let bin = b"Content-Type: application/octet-stream\r\n\r\n\x00\x01\xff";
        let out = make_7bit_safe(bin, &Limits::default()).unwrap();
        assert!(out.ends_with(b"Content-Transfer-Encoding: base64\r\n\r\nAAH/\r\n"));
    }

    #[test]
    fn streaming_encoders_match_one_shot_at_every_split() {
        let inputs: [&[u8]; 5] = [
            "Grüße = 100%\r\nFrom me \r\n.\r\nend\t".as_bytes(),
            b"From \n.\n\r\r\n a \n",
            b"",
            b"\x00\x01\x02\xff\xfe abc\r",
            b".",
        ];
        for input in inputs {
            let qp = quoted_printable_encode(input);
            let b64 = base64_encode_lines(input);
            let unsafe_ = needs_encoding(input);
            for split in 0..=input.len() {
                for split2 in split..=input.len() {
                    let parts = [&input[..split], &input[split..split2], &input[split2..]];
                    let mut q = QuotedPrintable::default();
                    let mut e = Base64Lines::default();
                    let mut scan = SafetyScan::default();
                    let (mut qo, mut bo) = (Vec::new(), Vec::new());
                    for p in parts {
                        q.feed(p, &mut qo);
                        e.feed(p, &mut bo);
                        scan.feed(p);
                    }
                    q.finish(&mut qo);
                    e.finish(&mut bo);
                    assert_eq!(qo, qp, "qp {input:?} at {split},{split2}");
                    assert_eq!(bo, b64, "base64 {input:?} at {split},{split2}");
                    assert_eq!(
                        scan.needs_encoding(),
                        unsafe_,
                        "{input:?} at {split},{split2}"
                    );
                }
            }
            assert_eq!(
                Base64Lines::encoded_len(input.len() as u64),
                b64.len() as u64
            );
        }
        for n in [56usize, 57, 58, 114, 1000, 5000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31) as u8).collect();
            assert_eq!(
                Base64Lines::encoded_len(n as u64),
                base64_encode_lines(&data).len() as u64
            );
            assert_eq!(base64_decode(&base64_encode_lines(&data)).unwrap(), data);
        }
    }

    #[test]
    fn long_lines_are_encoded_in_bounded_memory_and_alike() {
        let mut line = vec![b'a'; QP_HOLD * 3];
        line.extend_from_slice(b" \r\nFrom x\r\n");
        let want = quoted_printable_encode(&line);
        let mut q = QuotedPrintable::default();
        let mut out = Vec::new();
        for c in line.chunks(1000) {
            q.feed(c, &mut out);
            assert!(q.line.len() <= QP_HOLD + 1000);
        }
        q.finish(&mut out);
        assert_eq!(out, want);
        assert!(want.ends_with(b"a=20\r\n=46rom x\r\n"));
        let mut scan = SafetyScan::default();
        for c in [&b"x"[..]; 999] {
            scan.feed(c);
        }
        assert!(scan.needs_encoding());
        let mut scan = SafetyScan::default();
        for c in [&b"x"[..]; 998] {
            scan.feed(c);
        }
        scan.feed(b"\r");
        scan.feed(b"\n");
        assert!(!scan.needs_encoding());
    }
}
