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

/// Decodes `line` (whole groups of four) onto `out`; false, with `out` unchanged, when a
/// byte is outside the alphabet (padding, white space or an error: the caller decides).
fn decode_groups(line: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    // Through a stack buffer, so the output is written once (no zero-filling first).
    let mut buf = [0u8; 576];
    for piece in line.chunks(768) {
        let mut bad = 0u8;
        let n = piece.len() / 4 * 3;
        for (g, d) in piece.chunks_exact(4).zip(buf.chunks_exact_mut(3)) {
            let (a, b, c, e) = (
                VALUES[g[0] as usize],
                VALUES[g[1] as usize],
                VALUES[g[2] as usize],
                VALUES[g[3] as usize],
            );
            bad |= a | b | c | e;
            let v =
                (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(e);
            d[0] = (v >> 16) as u8;
            d[1] = (v >> 8) as u8;
            d[2] = v as u8;
        }
        if bad & 0x80 != 0 {
            out.truncate(start);
            return false;
        }
        out.extend_from_slice(&buf[..n]);
    }
    true
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
        out.reserve(text.len() / 4 * 3 + 3);
        let mut i = 0;
        // Line by line: a line of whole groups of alphabet characters (what every encoder
        // writes but for the last line) is decoded without per-byte branching; anything
        // else (padding, a group split between two pieces, errors) byte by byte.
        while i < text.len() {
            let nl = memchr::memchr(b'\n', &text[i..]);
            let end = nl.map_or(text.len(), |n| i + n + 1);
            if self.pad == 0 && self.bits == 0 {
                let mut line = &text[i..end];
                line = line.strip_suffix(b"\n").unwrap_or(line);
                line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.len().is_multiple_of(4) && decode_groups(line, out) {
                    i = end;
                    continue;
                }
            }
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
            decoded: Vec::with_capacity(chunk / 4 * 3 + 3),
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
}
