//! Byte streams over a [`Source`]: a range read in order, and base64 text decoded on the
//! fly, as `application/pkcs7-mime` bodies are (RFC 8551 §3.2, RFC 2045 §6.8).

use crate::source::Source;
use std::io::Read;
use std::ops::Range;

/// `src[range]` as a [`Read`].
pub struct RangeReader<'a> {
    src: &'a dyn Source,
    pos: u64,
    end: u64,
}

impl<'a> RangeReader<'a> {
    /// Reads `src[range]` from its start.
    pub fn new(src: &'a dyn Source, range: Range<u64>) -> Self {
        RangeReader {
            src,
            pos: range.start,
            end: range.end,
        }
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        self.src.read_exact_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// What a base64 text byte means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sym {
    Value(u8),
    Space,
    Pad,
    Invalid,
}

const fn table() -> [Sym; 256] {
    let mut t = [Sym::Invalid; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = Sym::Value(i as u8);
        i += 1;
    }
    t[b' ' as usize] = Sym::Space;
    t[b'\t' as usize] = Sym::Space;
    t[b'\r' as usize] = Sym::Space;
    t[b'\n' as usize] = Sym::Space;
    t[b'=' as usize] = Sym::Pad;
    t
}

static SYMBOLS: [Sym; 256] = table();

/// Alphabet values, and 0x80 for every other byte.
static VALUES: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The alphabet values shifted into place for each position of a group of four, so that a
/// group decodes to its 24 bits with four lookups and three ORs; every other byte has
/// [`INVALID`], which no OR of valid entries can produce.
static SHIFTED: [[u32; 256]; 4] = {
    let mut t = [[INVALID; 256]; 4];
    let mut pos = 0;
    while pos < 4 {
        let mut c = 0;
        while c < 256 {
            if VALUES[c] < 64 {
                t[pos][c] = (VALUES[c] as u32) << (18 - 6 * pos);
            }
            c += 1;
        }
        pos += 1;
    }
    t
};

/// Marks a byte outside the alphabet in [`SHIFTED`].
const INVALID: u32 = 1 << 31;

/// The 24 bits of one group of four alphabet characters, or a value with [`INVALID`] set.
#[inline(always)]
fn group(g: &[u8]) -> u32 {
    SHIFTED[0][g[0] as usize]
        | SHIFTED[1][g[1] as usize]
        | SHIFTED[2][g[2] as usize]
        | SHIFTED[3][g[3] as usize]
}

/// Decodes `line` (whole groups of four) into the front of `dst`, which has room for its
/// bytes plus 8 of slack; false when a byte is outside the alphabet (padding, white space or
/// an error: the caller decides). Two groups at a time: their 48 bits are written with one
/// 8-byte store, so the loop has no per-byte work — base64 decoding was the largest cost of
/// decrypting a message after the RSA operation.
fn decode_groups(line: &[u8], dst: &mut [u8]) -> bool {
    let mut bad = 0u32;
    let mut o = 0;
    let mut pairs = line.chunks_exact(8);
    for g in &mut pairs {
        let (hi, lo) = (group(&g[..4]), group(&g[4..]));
        bad |= hi | lo;
        let v = (u64::from(hi) << 40) | (u64::from(lo) << 16);
        dst[o..o + 8].copy_from_slice(&v.to_be_bytes());
        o += 6;
    }
    if let [a, b, c, d] = *pairs.remainder() {
        let v = group(&[a, b, c, d]);
        bad |= v;
        dst[o..o + 4].copy_from_slice(&(v << 8).to_be_bytes());
    }
    bad & INVALID == 0
}

/// Room for what `len` bytes of base64 text decode to, plus the 8 bytes of slack the bulk
/// decoder's stores need. Every buffer decoding goes into is sized by this, so that it is
/// never grown (and copied) on the way.
pub(crate) fn decoded_room(len: usize) -> usize {
    len / 4 * 3 + 8
}

/// Decodes the whole lines at the start of `text` that are whole groups of alphabet
/// characters (what every encoder writes but for the last line), appending to `out`; stops
/// before the first line that is not. Returns how many bytes of `text` were consumed. A line
/// is expected to be as long as the one before it (encoders write one width), which is
/// checked with two byte comparisons instead of a search for its end.
fn decode_lines(text: &[u8], out: &mut Vec<u8>) -> usize {
    let base = out.len();
    out.resize(base + decoded_room(text.len()), 0);
    let mut o = base;
    let mut i = 0;
    let mut width = 0;
    while i < text.len() {
        let (line, next) = if width > 0
            && text.get(i + width) == Some(&b'\r')
            && text.get(i + width + 1) == Some(&b'\n')
        {
            (&text[i..i + width], i + width + 2)
        } else {
            let end = memchr::memchr(b'\n', &text[i..]).map_or(text.len(), |n| i + n + 1);
            let mut line = &text[i..end];
            line = line.strip_suffix(b"\n").unwrap_or(line);
            line = line.strip_suffix(b"\r").unwrap_or(line);
            width = line.len();
            (line, end)
        };
        if !line.len().is_multiple_of(4) || !decode_groups(line, &mut out[o..]) {
            break;
        }
        o += line.len() / 4 * 3;
        i = next;
    }
    out.truncate(o);
    i
}

/// Why base64 text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// A byte outside the alphabet and white space.
    #[error("invalid base64 character at byte {0}")]
    Invalid(u64),
    /// Data after the padding.
    #[error("base64 data after padding at byte {0}")]
    AfterPadding(u64),
    /// The text ends inside a group, or with too much padding.
    #[error("truncated base64")]
    Truncated,
}

/// Streaming base64 decoding that ignores line breaks and white space (RFC 2045 §6.8).
#[derive(Debug, Default, Clone)]
pub struct Base64Decoder {
    acc: u32,
    bits: u32,
    pad: u32,
    /// Text bytes consumed so far (for error offsets).
    offset: u64,
}

impl Base64Decoder {
    /// Decodes `text`, appending to `out`.
    pub fn feed(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), Base64Error> {
        out.reserve(decoded_room(text.len()));
        let mut i = 0;
        // Whole lines of whole groups in bulk ([`decode_lines`]); a line that is anything
        // else (padding, a group split between two pieces, white space, errors) byte by byte.
        while i < text.len() {
            if self.pad == 0 && self.bits == 0 {
                i += decode_lines(&text[i..], out);
                if i == text.len() {
                    break;
                }
            }
            let end = memchr::memchr(b'\n', &text[i..]).map_or(text.len(), |n| i + n + 1);
            self.bytes(&text[i..end], self.offset + i as u64, out)?;
            i = end;
        }
        self.offset += text.len() as u64;
        Ok(())
    }

    fn bytes(&mut self, text: &[u8], base: u64, out: &mut Vec<u8>) -> Result<(), Base64Error> {
        for (k, &c) in text.iter().enumerate() {
            match SYMBOLS[c as usize] {
                Sym::Value(v) => {
                    if self.pad > 0 {
                        return Err(Base64Error::AfterPadding(base + k as u64));
                    }
                    self.acc = (self.acc << 6) | u32::from(v);
                    self.bits += 6;
                    if self.bits >= 8 {
                        self.bits -= 8;
                        out.push((self.acc >> self.bits) as u8);
                    }
                }
                Sym::Space => {}
                Sym::Pad => self.pad += 1,
                Sym::Invalid => return Err(Base64Error::Invalid(base + k as u64)),
            }
        }
        Ok(())
    }

    /// Checks that the text ended on a group boundary.
    pub fn finish(&self) -> Result<(), Base64Error> {
        if self.pad > 2 || self.bits >= 6 {
            return Err(Base64Error::Truncated);
        }
        Ok(())
    }
}

/// Decoded bytes of base64 text read from `inner`.
pub struct Base64Reader<R> {
    inner: R,
    decoder: Base64Decoder,
    text: Vec<u8>,
    decoded: Vec<u8>,
    at: usize,
    done: bool,
}

/// Base64 text read at a time by [`Base64Reader`].
const TEXT_CHUNK: usize = 256 * 1024;

impl<R: Read> Base64Reader<R> {
    /// Decodes what `inner` yields.
    pub fn new(inner: R) -> Self {
        Self::with_size_hint(inner, TEXT_CHUNK)
    }

    /// Decodes what `inner` yields, about `len` bytes of text: buffers no larger than needed.
    pub fn with_size_hint(inner: R, len: usize) -> Self {
        let chunk = len.clamp(64, TEXT_CHUNK);
        Base64Reader {
            inner,
            decoder: Base64Decoder::default(),
            text: vec![0u8; chunk],
            decoded: Vec::with_capacity(decoded_room(chunk)),
            at: 0,
            done: false,
        }
    }
}

impl<R: Read> Read for Base64Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.decoded.len() && !self.done {
            self.decoded.clear();
            self.at = 0;
            let n = self.inner.read(&mut self.text)?;
            let bad = |e: Base64Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
            if n == 0 {
                self.done = true;
                self.decoder.finish().map_err(bad)?;
            } else {
                self.decoder
                    .feed(&self.text[..n], &mut self.decoded)
                    .map_err(bad)?;
            }
        }
        let n = (self.decoded.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.decoded[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::encode::base64_encode_lines;

    #[test]
    fn decodes_in_any_chunking_and_reports_offsets() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let text = base64_encode_lines(&data);
        let slice: &[u8] = &text;
        let mut r = Base64Reader::new(RangeReader::new(&slice, 0..text.len() as u64));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        for split in [1usize, 3, 77, 78, 1000] {
            let mut d = Base64Decoder::default();
            let mut out = Vec::new();
            for c in text.chunks(split) {
                d.feed(c, &mut out).unwrap();
            }
            d.finish().unwrap();
            assert_eq!(out, data, "chunks of {split}");
        }
        let mut d = Base64Decoder::default();
        assert_eq!(
            d.feed(b"TWFu\r\nTW!u", &mut Vec::new()),
            Err(Base64Error::Invalid(8))
        );
        let mut d = Base64Decoder::default();
        assert_eq!(
            d.feed(b"TQ==TQ==", &mut Vec::new()),
            Err(Base64Error::AfterPadding(4))
        );
        let mut d = Base64Decoder::default();
        d.feed(b"TWFuT", &mut Vec::new()).unwrap();
        assert_eq!(d.finish(), Err(Base64Error::Truncated));
    }

    #[test]
    fn whole_line_decoding_matches_the_byte_by_byte_decoder() {
        // Lengths around the two-group stride, one character at a time replaced by bytes
        // outside the alphabet: the fast path must decode exactly, or decline (padding,
        // white space, errors) and the line decoder stop before that line.
        let data: Vec<u8> = (0..2000u32).map(|i| (i * 31 + 7) as u8).collect();
        let text: Vec<u8> = base64_encode_lines(&data)
            .into_iter()
            .filter(|&c| c != b'\r' && c != b'\n')
            .collect();
        for len in [4usize, 8, 12, 764, 768, 772, 776, 1536, 1540, 2664] {
            let line = &text[..len];
            let mut out = vec![0u8; decoded_room(len)];
            assert!(decode_groups(line, &mut out), "{len}");
            assert_eq!(out[..len / 4 * 3], data[..len / 4 * 3], "{len}");
            for bad in [b'=', b' ', b'\r', b'\n', b'!', b'-', b'_', 0x80, 0xff, 0] {
                for at in [0, len / 2, len - 1] {
                    let mut broken = line.to_vec();
                    broken[at] = bad;
                    let mut out = vec![0u8; decoded_room(len)];
                    assert!(!decode_groups(&broken, &mut out), "{len} {at} {bad}");
                    // Whole lines: the broken one stops the bulk decoder, which keeps only
                    // what came before it (a line break only moves the lines' ends).
                    if bad == b'\r' || bad == b'\n' {
                        continue;
                    }
                    let mut text = base64_encode_lines(&data[..len / 4 * 3]);
                    let line_at = at / 76 * 78 + at % 76;
                    text[line_at] = bad;
                    let mut out = vec![0xaa];
                    let consumed = decode_lines(&text, &mut out);
                    assert_eq!(consumed, at / 76 * 78, "{len} {at} {bad}");
                    assert_eq!(out[1..], data[..at / 76 * 57]);
                }
            }
        }
    }

    #[test]
    fn fast_paths_agree_with_the_byte_by_byte_decoder_on_any_text() {
        // A small deterministic generator: texts of every shape a mailer or an attacker
        // writes (line widths, CRLF or LF, stray spaces, padding in odd places, bytes
        // outside the alphabet), fed in random pieces, must give what the byte-by-byte
        // decoder alone gives — the same bytes, or the same error at the same offset.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for _ in 0..3000 {
            let width = [4u64, 8, 60, 64, 72, 76, 77][next(7) as usize] as usize;
            let eol: &[u8] = if next(2) == 0 { b"\r\n" } else { b"\n" };
            let len = next(400) as usize;
            let mut text = Vec::new();
            for k in 0..len {
                text.push(alphabet[next(64) as usize]);
                if (k + 1) % width == 0 {
                    text.extend_from_slice(eol);
                }
            }
            for _ in 0..next(3) {
                let at = next(text.len() as u64 + 1) as usize;
                let b = [b' ', b'=', b'!', b'\r', b'\n', 0xc3, b'\t'][next(7) as usize];
                text.insert(at, b);
            }
            let mut reference = Base64Decoder::default();
            let mut want = Vec::new();
            let want_result = reference
                .bytes(&text, 0, &mut want)
                .and_then(|()| reference.finish());
            let mut d = Base64Decoder::default();
            let mut got = Vec::new();
            let mut rest = &text[..];
            let mut got_result = Ok(());
            while !rest.is_empty() && got_result.is_ok() {
                let n = (next(rest.len() as u64) as usize + 1).min(rest.len());
                got_result = d.feed(&rest[..n], &mut got);
                rest = &rest[n..];
            }
            let got_result = got_result.and_then(|()| d.finish());
            assert_eq!(
                got_result,
                want_result,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
            if want_result.is_ok() {
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&text));
            }
        }
    }
}
