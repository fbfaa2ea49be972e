//! Reading BER from a byte stream (X.690 §8.1): element headers, small elements whole, and
//! the contents of a large OCTET STRING — primitive or in constructed segments, definite or
//! indefinite, as OpenSSL `-stream`, NSS and Outlook write `encryptedContent` and
//! `eContent` — passed on in pieces without ever being held whole.
//!
//! Every element read whole is bounded by the caller, nesting is bounded, and offsets in
//! errors count from the start of the stream.

use crate::ber::{BerError, Header, Length, read_header};
use std::io::Read;

/// Why a stream is not the expected BER.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The stream could not be read (includes base64 that does not decode).
    #[error("{0}")]
    Read(#[from] std::io::Error),
    /// The encoding is not valid BER, or not the structure expected.
    #[error("offset {offset}: {what}")]
    Malformed {
        /// Offset in the decoded stream.
        offset: u64,
        /// What is wrong.
        what: String,
    },
}

/// Deepest nesting of constructed OCTET STRING segments, and of indefinite-length elements
/// read whole.
const MAX_DEPTH: usize = 32;

/// A BER stream with a read-ahead buffer.
pub struct BerStream<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pos: u64,
}

/// Bytes read ahead at a time.
const BUF: usize = 256 * 1024;

/// The smallest read-ahead buffer: room for any header (at most 17 octets are looked at).
const MIN_BUF: usize = 64;

impl<R: Read> BerStream<R> {
    /// Reads BER from `inner`.
    pub fn new(inner: R) -> Self {
        Self::with_size_hint(inner, BUF)
    }

    /// Reads BER from `inner`, which holds about `len` bytes: the read-ahead buffer is no
    /// larger than needed (a 10 KB message must not cost a 256 KiB buffer).
    pub fn with_size_hint(inner: R, len: usize) -> Self {
        BerStream {
            inner,
            buf: vec![0u8; len.clamp(MIN_BUF, BUF)],
            start: 0,
            end: 0,
            pos: 0,
        }
    }

    /// Reads the BER in `bytes`, then whatever `inner` yields. The bytes are the read-ahead
    /// buffer as they are: BER already in memory is not copied.
    pub fn starting_with(bytes: Vec<u8>, inner: R) -> Self {
        let end = bytes.len();
        let mut buf = bytes;
        // Room for any header, as `with_size_hint` guarantees.
        if buf.len() < MIN_BUF {
            buf.resize(MIN_BUF, 0);
        }
        BerStream {
            inner,
            buf,
            start: 0,
            end,
            pos: 0,
        }
    }

    /// The offset of the next byte.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// A malformation at the current offset.
    pub fn malformed(&self, what: impl Into<String>) -> StreamError {
        StreamError::Malformed {
            offset: self.pos,
            what: what.into(),
        }
    }

    /// Ensures `want` bytes are buffered (fewer only at the end of the stream).
    fn fill(&mut self, want: usize) -> std::io::Result<bool> {
        if self.end - self.start >= want {
            return Ok(true);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < want.min(self.buf.len()) {
            let n = self.inner.read(&mut self.buf[self.end..])?;
            if n == 0 {
                return Ok(false);
            }
            self.end += n;
        }
        Ok(self.end - self.start >= want)
    }

    /// Whether the stream has no more bytes.
    pub fn at_end(&mut self) -> Result<bool, StreamError> {
        Ok(!self.fill(1)?)
    }

    /// Reads the next identifier and length without consuming them.
    pub fn peek_header(&mut self) -> Result<Header, StreamError> {
        let mut want = 2;
        loop {
            match read_header(&self.buf[self.start..self.end], 0) {
                Ok(h) => return Ok(h),
                Err(BerError::Truncated { .. }) => {
                    if want > 16 || !self.fill(want)? {
                        return Err(self.malformed("the encoding ends in the middle of a header"));
                    }
                    want += 1;
                }
                Err(e) => return Err(self.malformed(e.to_string())),
            }
        }
    }

    /// Reads the next identifier and length, appending their octets to `raw`.
    pub fn header(&mut self, raw: &mut Vec<u8>) -> Result<Header, StreamError> {
        let h = self.peek_header()?;
        raw.extend_from_slice(&self.buf[self.start..self.start + h.header_len]);
        self.start += h.header_len;
        self.pos += h.header_len as u64;
        Ok(h)
    }

    /// Whether the next two octets are end-of-contents (`00 00`).
    pub fn at_end_of_contents(&mut self) -> Result<bool, StreamError> {
        Ok(self.fill(2)? && self.buf[self.start] == 0 && self.buf[self.start + 1] == 0)
    }

    /// Consumes an end-of-contents marker.
    pub fn end_of_contents(&mut self) -> Result<(), StreamError> {
        if !self.at_end_of_contents()? {
            return Err(self.malformed("end-of-contents expected"));
        }
        self.start += 2;
        self.pos += 2;
        Ok(())
    }

    /// Passes the next `n` bytes to `f`, in pieces.
    pub fn consume(
        &mut self,
        mut n: u64,
        f: &mut dyn FnMut(&[u8]) -> Result<(), StreamError>,
    ) -> Result<(), StreamError> {
        while n > 0 {
            if self.start == self.end && !self.fill(1)? {
                return Err(self.malformed(format!(
                    "the encoding ends {n} bytes before the element does"
                )));
            }
            let take = ((self.end - self.start) as u64).min(n) as usize;
            f(&self.buf[self.start..self.start + take])?;
            self.start += take;
            self.pos += take as u64;
            n -= take as u64;
        }
        Ok(())
    }

    /// Reads the next element whole (identifier, length and contents as received), at most
    /// `max` bytes.
    pub fn element(&mut self, max: usize) -> Result<Vec<u8>, StreamError> {
        let mut raw = Vec::new();
        self.element_into(&mut raw, max, 0)?;
        Ok(raw)
    }

    fn element_into(
        &mut self,
        raw: &mut Vec<u8>,
        max: usize,
        depth: usize,
    ) -> Result<(), StreamError> {
        if depth > MAX_DEPTH {
            return Err(self.malformed(format!("nested deeper than {MAX_DEPTH}")));
        }
        let h = self.header(raw)?;
        match h.length {
            Length::Definite(n) => {
                if raw.len().saturating_add(n) > max {
                    return Err(self.malformed(format!(
                        "an element of {n} bytes where at most {max} are accepted"
                    )));
                }
                raw.reserve(n);
                self.consume(n as u64, &mut |c| {
                    raw.extend_from_slice(c);
                    Ok(())
                })
            }
            Length::Indefinite => loop {
                if self.at_end_of_contents()? {
                    self.end_of_contents()?;
                    raw.extend_from_slice(&[0, 0]);
                    return Ok(());
                }
                self.element_into(raw, max, depth + 1)?;
            },
        }
    }

    /// Passes the contents of an OCTET STRING whose header `h` was just read to `f`: a
    /// primitive one directly, a constructed one segment by segment (X.690 §8.7.3.2, every
    /// segment itself an OCTET STRING).
    pub fn octets(
        &mut self,
        h: Header,
        f: &mut dyn FnMut(&[u8]) -> Result<(), StreamError>,
    ) -> Result<(), StreamError> {
        self.octets_at(h, f, 0)
    }

    fn octets_at(
        &mut self,
        h: Header,
        f: &mut dyn FnMut(&[u8]) -> Result<(), StreamError>,
        depth: usize,
    ) -> Result<(), StreamError> {
        if depth > MAX_DEPTH {
            return Err(self.malformed(format!(
                "OCTET STRING segments nested deeper than {MAX_DEPTH}"
            )));
        }
        if !h.identifier.constructed {
            let Length::Definite(n) = h.length else {
                return Err(self.malformed("a primitive element of indefinite length"));
            };
            return self.consume(n as u64, f);
        }
        let end = match h.length {
            Length::Definite(n) => Some(self.pos.saturating_add(n as u64)),
            Length::Indefinite => None,
        };
        loop {
            match end {
                Some(e) if self.pos == e => return Ok(()),
                Some(e) if self.pos > e => {
                    return Err(self.malformed("a segment runs past its constructed OCTET STRING"));
                }
                None if self.at_end_of_contents()? => return self.end_of_contents(),
                _ => {}
            }
            let seg = self.header(&mut Vec::new())?;
            if !seg.identifier.is_universal(4) {
                return Err(self.malformed(
                    "a segment of a constructed OCTET STRING is not an OCTET STRING (X.690 §8.7.3.2)",
                ));
            }
            self.octets_at(seg, f, depth + 1)?;
        }
    }
}

/// The end of a constructed element being walked: where a definite one ends, or `None` for
/// an indefinite one (which ends at end-of-contents).
#[derive(Debug, Clone, Copy)]
pub struct Frame(Option<u64>);

impl Frame {
    /// The frame of the constructed element whose header `h` was just read from `r`.
    pub fn of<R: Read>(r: &BerStream<R>, h: &Header) -> Frame {
        Frame(match h.length {
            Length::Definite(n) => Some(r.pos().saturating_add(n as u64)),
            Length::Indefinite => None,
        })
    }

    /// Whether another element follows inside the frame.
    pub fn more<R: Read>(&self, r: &mut BerStream<R>) -> Result<bool, StreamError> {
        match self.0 {
            Some(e) if r.pos() < e => Ok(true),
            Some(e) if r.pos() == e => Ok(false),
            Some(_) => Err(r.malformed("an element runs past the end of the one containing it")),
            None => Ok(!r.at_end_of_contents()?),
        }
    }

    /// Leaves the frame: checks its end, consuming the end-of-contents of an indefinite one.
    pub fn close<R: Read>(&self, r: &mut BerStream<R>) -> Result<(), StreamError> {
        if self.more(r)? {
            return Err(r.malformed("unexpected elements at the end of a structure"));
        }
        if self.0.is_none() {
            r.end_of_contents()?;
        }
        Ok(())
    }
}

/// A `ContentInfo` (RFC 5652 §3) opened down to the SEQUENCE of its content, whose
/// elements come next.
pub struct OpenContentInfo {
    /// The received encoding of `contentType`.
    pub type_raw: Vec<u8>,
    /// `contentType`.
    pub content_type: const_oid::ObjectIdentifier,
    /// The frames of the content SEQUENCE, `[0] EXPLICIT` and `ContentInfo`, innermost first.
    frames: [Frame; 3],
}

/// Reads `ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }` up to the start of
/// the content's elements (the content of every type S/MIME streams is a SEQUENCE).
pub fn open_content_info<R: Read>(r: &mut BerStream<R>) -> Result<OpenContentInfo, StreamError> {
    use der::Decode;
    let mut skip = Vec::new();
    let h = r.header(&mut skip)?;
    if !h.identifier.is_sequence() {
        return Err(r.malformed("a ContentInfo is a SEQUENCE"));
    }
    let f_ci = Frame::of(r, &h);
    let type_raw = r.element(64)?;
    let content_type = const_oid::ObjectIdentifier::from_der(&type_raw)
        .map_err(|e| r.malformed(format!("contentType: {e}")))?;
    let h0 = r.header(&mut skip)?;
    if !(h0.identifier.is_context(0) && h0.identifier.constructed) {
        return Err(r.malformed("the content of a ContentInfo is [0] EXPLICIT"));
    }
    let f0 = Frame::of(r, &h0);
    let hs = r.header(&mut skip)?;
    if !hs.identifier.is_sequence() {
        return Err(r.malformed("the content is not a SEQUENCE"));
    }
    let fs = Frame::of(r, &hs);
    Ok(OpenContentInfo {
        type_raw,
        content_type,
        frames: [fs, f0, f_ci],
    })
}

impl OpenContentInfo {
    /// The frame of the content SEQUENCE.
    pub fn content(&self) -> Frame {
        self.frames[0]
    }

    /// Closes the content, `[0]` and `ContentInfo`, and checks that nothing follows.
    pub fn close<R: Read>(&self, r: &mut BerStream<R>) -> Result<(), StreamError> {
        for f in &self.frames {
            f.close(r)?;
        }
        if !r.at_end()? {
            return Err(r.malformed("data after the ContentInfo"));
        }
        Ok(())
    }

    /// The start of a hollow copy: `ContentInfo`, `contentType` and `[0]` and the content
    /// SEQUENCE opened with indefinite lengths; [`HOLLOW_END`] closes them.
    pub fn hollow_start(&self) -> Vec<u8> {
        let mut v = vec![0x30, 0x80];
        v.extend_from_slice(&self.type_raw);
        v.extend_from_slice(&[0xa0, 0x80, 0x30, 0x80]);
        v
    }
}

/// The end-of-contents octets that close a [`OpenContentInfo::hollow_start`].
pub const HOLLOW_END: [u8; 6] = [0; 6];

#[cfg(test)]
mod tests {
    use super::*;

    /// [0] constructed indefinite holding "ab" and a nested constructed "cd", then a
    /// definite SEQUENCE read whole.
    const SEGMENTED: &[u8] = &[
        0xa0, 0x80, 0x04, 0x02, b'a', b'b', 0x24, 0x80, 0x04, 0x02, b'c', b'd', 0x00, 0x00, 0x00,
        0x00, 0x30, 0x03, 0x02, 0x01, 0x05,
    ];

    /// Reads [`SEGMENTED`] from `r`: the octets, then the SEQUENCE whole, then the end.
    fn read_segmented<R: Read>(mut r: BerStream<R>, what: &str) {
        let h = r.header(&mut Vec::new()).unwrap();
        let mut got = Vec::new();
        r.octets(h, &mut |c| {
            got.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, b"abcd", "{what}");
        assert_eq!(r.element(100).unwrap(), &SEGMENTED[16..], "{what}");
        assert_eq!(r.pos(), SEGMENTED.len() as u64, "{what}");
        assert!(r.at_end().unwrap(), "{what}");
    }

    #[test]
    fn segments_and_whole_elements() {
        read_segmented(BerStream::new(SEGMENTED), "streamed");
        // The same, whatever part of it is already in memory (the read-ahead buffer handed
        // over) and whatever part the inner reader still yields.
        for k in 0..=SEGMENTED.len() {
            let r = BerStream::starting_with(SEGMENTED[..k].to_vec(), &SEGMENTED[k..]);
            read_segmented(r, &format!("{k} bytes in memory"));
        }
        let mut r = BerStream::new(&SEGMENTED[16..]);
        assert!(r.element(4).is_err(), "larger than allowed");
        for mut r in [
            BerStream::new(&SEGMENTED[..10]),
            BerStream::starting_with(SEGMENTED[..10].to_vec(), &[][..]),
        ] {
            let h = r.header(&mut Vec::new()).unwrap();
            assert!(r.octets(h, &mut |_| Ok(())).is_err(), "truncated");
        }
        let bad: &[u8] = &[0x24, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00];
        let mut r = BerStream::new(bad);
        let h = r.header(&mut Vec::new()).unwrap();
        assert!(r.octets(h, &mut |_| Ok(())).is_err(), "INTEGER segment");
    }

    #[test]
    fn absurd_lengths_are_errors_not_overflows() {
        // A SEQUENCE and a constructed OCTET STRING claiming u64::MAX bytes (the fuzzer's
        // case is in tests/data/fuzz).
        let max: &[u8] = &[
            0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x06,
        ];
        let mut r = BerStream::new(max);
        assert!(open_content_info(&mut r).is_err());
        let seg: &[u8] = &[
            0x24, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x04,
        ];
        let mut r = BerStream::new(seg);
        let h = r.header(&mut Vec::new());
        if let Ok(h) = h {
            assert!(r.octets(h, &mut |_| Ok(())).is_err());
        }
    }
}
