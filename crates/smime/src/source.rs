//! Random access to the bytes of a message, wherever they are: a slice in memory, or a file
//! the caller reads positionally. The streaming operations of [`crate::stream`] and the MIME
//! planning of [`crate::mime::encode`] read their input through [`Source`], so a 1 GiB
//! message is processed in bounded memory and a 10 KB one in memory with the same code.
//!
//! The crate still does no I/O of its own: a `Source` is handed in by the caller (the
//! command line implements it for a file with positional reads), exactly as a byte slice is.

use std::ops::Range;

/// Bytes readable at any offset.
pub trait Source {
    /// The total length.
    fn len(&self) -> u64;
    /// Whether there are no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` with the bytes at `offset..offset + buf.len()`; an error when they are not
    /// all there or cannot be read.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
    /// The bytes at `range` without a copy, when they are in memory (a message verified in a
    /// gateway); `None` means "read them".
    fn borrow(&self, range: Range<u64>) -> Option<&[u8]> {
        let _ = range;
        None
    }
}

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| past_end())?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(past_end)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn borrow(&self, range: Range<u64>) -> Option<&[u8]> {
        slice_range(self, range)
    }
}

impl Source for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        (&self.as_slice()).read_exact_at(buf, offset)
    }

    fn borrow(&self, range: Range<u64>) -> Option<&[u8]> {
        slice_range(self, range)
    }
}

fn slice_range(s: &[u8], range: Range<u64>) -> Option<&[u8]> {
    s.get(usize::try_from(range.start).ok()?..usize::try_from(range.end).ok()?)
}

fn past_end() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end")
}

/// `head` followed by `tail[tail_start..]`: a rebuilt header block in front of a body that
/// stays where it is (the inner entity of a message being wrapped).
pub struct Spliced<'a> {
    /// The leading bytes, in memory.
    pub head: &'a [u8],
    /// Where the rest comes from.
    pub tail: &'a dyn Source,
    /// The offset in `tail` at which the rest starts.
    pub tail_start: u64,
}

impl Source for Spliced<'_> {
    fn borrow(&self, range: Range<u64>) -> Option<&[u8]> {
        let head_len = self.head.len() as u64;
        if range.end <= head_len {
            return slice_range(self.head, range);
        }
        if range.start >= head_len {
            let at = |o: u64| o - head_len + self.tail_start;
            return self.tail.borrow(at(range.start)..at(range.end));
        }
        None
    }

    fn len(&self) -> u64 {
        self.head.len() as u64 + self.tail.len().saturating_sub(self.tail_start)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let head_len = self.head.len() as u64;
        let mut filled = 0;
        if offset < head_len {
            let n = ((head_len - offset) as usize).min(buf.len());
            (&self.head)
                .read_exact_at(&mut buf[..n], offset)
                .map_err(|_| past_end())?;
            filled = n;
        }
        if filled < buf.len() {
            let at = offset + filled as u64 - head_len + self.tail_start;
            self.tail.read_exact_at(&mut buf[filled..], at)?;
        }
        Ok(())
    }
}

/// How much a streaming pass reads at a time: large enough that system calls and hashing
/// set-up vanish, small enough for the memory bound of issue #3 (64 MiB in all).
pub const CHUNK: usize = 1 << 20;

/// Calls `f` with consecutive chunks of `src[range]` (at most [`CHUNK`] bytes each).
pub fn for_each_chunk<E: From<std::io::Error>>(
    src: &dyn Source,
    range: Range<u64>,
    mut f: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    // Borrowed when in memory; otherwise read into one buffer, made on first need.
    let mut buf = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let n = ((range.end - at) as usize).min(CHUNK);
        match src.borrow(at..at + n as u64) {
            Some(piece) => f(piece)?,
            None => {
                if buf.len() < n {
                    buf.resize(CHUNK.min((range.end - range.start) as usize), 0);
                }
                src.read_exact_at(&mut buf[..n], at)?;
                f(&buf[..n])?;
            }
        }
        at += n as u64;
    }
    Ok(())
}

/// Reads `src[range]` whole; the caller bounds the length.
pub fn read_range(src: &dyn Source, range: Range<u64>) -> std::io::Result<Vec<u8>> {
    if let Some(b) = src.borrow(range.clone()) {
        return Ok(b.to_vec());
    }
    let len = usize::try_from(range.end.saturating_sub(range.start))
        .map_err(|_| std::io::Error::other("range too large"))?;
    let mut buf = vec![0u8; len];
    src.read_exact_at(&mut buf, range.start)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_reads_across_the_join() {
        let tail = b"0123456789".to_vec();
        let s = Spliced {
            head: b"ab",
            tail: &tail,
            tail_start: 4,
        };
        assert_eq!(s.len(), 8);
        assert_eq!(read_range(&s, 0..8).unwrap(), b"ab456789");
        assert_eq!(read_range(&s, 1..4).unwrap(), b"b45");
        assert!(read_range(&s, 5..9).is_err());
        let mut seen = Vec::new();
        for_each_chunk::<std::io::Error>(&s, 0..8, |c| {
            seen.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, b"ab456789");
        assert_eq!(s.borrow(0..2), Some(&b"ab"[..]));
        assert_eq!(s.borrow(2..5), Some(&b"456"[..]));
        assert_eq!(s.borrow(1..3), None, "across the join: read, not borrowed");
        assert_eq!(s.borrow(7..9), None, "past the end");
    }
}
