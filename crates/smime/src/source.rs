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
}

impl Source for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        (&self.as_slice()).read_exact_at(buf, offset)
    }
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
    let mut buf = vec![0u8; CHUNK.min(range.end.saturating_sub(range.start) as usize)];
    let mut at = range.start;
    while at < range.end {
        let n = ((range.end - at) as usize).min(CHUNK);
        src.read_exact_at(&mut buf[..n], at)?;
        f(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// Reads `src[range]` whole; the caller bounds the length.
pub fn read_range(src: &dyn Source, range: Range<u64>) -> std::io::Result<Vec<u8>> {
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
    }
}
