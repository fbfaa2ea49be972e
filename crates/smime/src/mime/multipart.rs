//! Multipart bodies (RFC 2046 §5.1.1): locating each body part by its exact byte range.
//!
//! A part is the bytes between the line ending that follows a dash-boundary line and the
//! line ending that precedes the next delimiter — that line ending belongs to the delimiter
//! (RFC 2046 §5.1.1), which is why the signed part of a multipart/signed message never
//! includes it. Delimiter lines may carry trailing white space (transport padding) and end in
//! CRLF or, in mail stored on Unix, LF.

use super::{Limits, MimeError};
use crate::source::{CHUNK, Source, read_range};
use std::ops::Range;

/// A multipart body split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// Byte ranges (into the body given) of each part, in order.
    pub parts: Vec<Range<usize>>,
    /// Whether the close delimiter (`--boundary--`) was found.
    pub closed: bool,
}

/// Checks a boundary parameter (RFC 2046 §5.1.1: 1 to 70 characters, no trailing space).
pub fn check_boundary(b: &str) -> Result<(), MimeError> {
    const ALLOWED: &[u8] = b"'()+_,-./:=? ";
    let ok = !b.is_empty()
        && b.len() <= 70
        && !b.ends_with(' ')
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || ALLOWED.contains(&c));
    if ok {
        Ok(())
    } else {
        Err(MimeError::Malformed(format!(
            "invalid multipart boundary '{b}'"
        )))
    }
}

/// If a delimiter line for `boundary` starts at `body[i..]` (at the start of a line),
/// returns (is_close, offset just after the line).
fn delimiter_at(body: &[u8], i: usize, boundary: &[u8]) -> Option<(bool, usize)> {
    let rest = body.get(i..)?;
    let after_dashes = rest.strip_prefix(b"--")?;
    let after = after_dashes.strip_prefix(boundary)?;
    let (close, mut j) = if after.starts_with(b"--") {
        (true, 2)
    } else {
        (false, 0)
    };
    while matches!(after.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    let line_len = 2 + boundary.len() + j;
    match after.get(j) {
        None => Some((close, i + line_len)),
        Some(b'\n') => Some((close, i + line_len + 1)),
        Some(b'\r') if after.get(j + 1) == Some(&b'\n') => Some((close, i + line_len + 2)),
        // Anything else means the boundary was only a prefix of a longer line.
        _ if close => Some((close, i + line_len)),
        _ => None,
    }
}

/// Splits a multipart body on `boundary`.
pub fn split(body: &[u8], boundary: &str, limits: &Limits) -> Result<Multipart, MimeError> {
    let m = split_in(&body, 0..body.len() as u64, boundary, limits)?;
    Ok(Multipart {
        parts: m
            .parts
            .into_iter()
            .map(|r| r.start as usize..r.end as usize)
            .collect(),
        closed: m.closed,
    })
}

/// A multipart body in a [`Source`], split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMultipart {
    /// Byte ranges (into the source) of each part, in order.
    pub parts: Vec<Range<u64>>,
    /// Whether the close delimiter (`--boundary--`) was found.
    pub closed: bool,
}

/// Longest transport padding read after a boundary (RFC 2046 allows any; real mail has a
/// few spaces at most).
const MAX_PADDING: u64 = 4096;

/// Splits the multipart body at `body` (a range of `src`) on `boundary`, reading it in
/// chunks: the dash-boundaries are found with a substring search, so a 1 GiB attachment is
/// scanned once and never held in memory.
pub fn split_in(
    src: &dyn Source,
    body: Range<u64>,
    boundary: &str,
    limits: &Limits,
) -> Result<SourceMultipart, MimeError> {
    check_boundary(boundary)?;
    let b = boundary.as_bytes();
    let needle = [b"--".as_slice(), b].concat();
    let finder = memchr::memmem::Finder::new(&needle);
    let mut parts = Vec::new();
    let mut part_start: Option<u64> = None;
    // Offsets before this one are inside a delimiter line already read.
    let mut resume = body.start;
    // Filled only for a source that cannot lend its bytes (a file): a message in memory is
    // searched where it lies.
    let mut window = Vec::new();
    let mut pos = body.start;
    let mut prev_byte: Option<u8> = None;
    'scan: while pos < body.end {
        let n = ((body.end - pos) as usize).min(CHUNK);
        let win = match src.borrow(pos..pos + n as u64) {
            Some(lent) => lent,
            None => {
                if window.len() < n {
                    window.resize(CHUNK.min((body.end - body.start) as usize), 0);
                }
                src.read_exact_at(&mut window[..n], pos)?;
                &window[..n]
            }
        };
        for h in finder.find_iter(win) {
            let p = pos + h as u64;
            if p < resume {
                continue;
            }
            let at_line_start = p == body.start
                || if h > 0 {
                    win[h - 1] == b'\n'
                } else {
                    prev_byte == Some(b'\n')
                };
            if !at_line_start {
                continue;
            }
            let look_len = (body.end - p).min(needle.len() as u64 + 4 + MAX_PADDING);
            let look = read_range(src, p..p + look_len)?;
            let Some((close, next)) = delimiter_at(&look, 0, b) else {
                continue;
            };
            if let Some(s) = part_start {
                // The line ending before the delimiter belongs to the delimiter.
                let mut end = p;
                let mut tail = [0u8; 2];
                if end >= s + 2 {
                    src.read_exact_at(&mut tail, end - 2)?;
                } else if end > s {
                    src.read_exact_at(&mut tail[1..], end - 1)?;
                }
                if end > s && tail[1] == b'\n' {
                    end -= 1;
                    if end > s && tail[0] == b'\r' {
                        end -= 1;
                    }
                }
                parts.push(s..end.max(s));
                if parts.len() > limits.max_parts {
                    return Err(MimeError::TooLarge(format!(
                        "more than {} body parts",
                        limits.max_parts
                    )));
                }
            }
            if close {
                return Ok(SourceMultipart {
                    parts,
                    closed: true,
                });
            }
            let next = p + next as u64;
            part_start = Some(next);
            resume = next;
            if next >= pos + n as u64 {
                // The delimiter line ran past this window: continue after it.
                pos = next;
                prev_byte = Some(b'\n');
                if next > body.start {
                    let mut one = [0u8; 1];
                    src.read_exact_at(&mut one, next - 1)?;
                    prev_byte = Some(one[0]);
                }
                continue 'scan;
            }
        }
        let end = pos + n as u64;
        if end >= body.end {
            break;
        }
        // Overlap by the needle length so a dash-boundary across the join is found.
        let next_pos = end - (needle.len() as u64 - 1).min(n as u64 - 1);
        let mut one = [0u8; 1];
        src.read_exact_at(&mut one, next_pos - 1)?;
        prev_byte = Some(one[0]);
        pos = next_pos;
    }
    // No close delimiter: the last part runs to the end (lenient, as mail clients are).
    if let Some(s) = part_start {
        parts.push(s..body.end);
    }
    if parts.is_empty() {
        return Err(MimeError::Malformed(format!(
            "no body part delimited by boundary '{boundary}'"
        )));
    }
    Ok(SourceMultipart {
        parts,
        closed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_exact_ranges_excluding_the_delimiter_line_ending() {
        let body = b"preamble\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XYZ  \r\nsecond\r\n--XYZ--\r\nepilogue";
        let m = split(body, "XYZ", &Limits::default()).unwrap();
        assert!(m.closed);
        assert_eq!(
            &body[m.parts[0].clone()],
            b"Content-Type: text/plain\r\n\r\nhello"
        );
        assert_eq!(&body[m.parts[1].clone()], b"second");
    }

    #[test]
    fn lf_only_and_boundary_prefixes() {
        let body = b"--b\nfirst\n--bb\nstill first\n--b--\n";
        let m = split(body, "b", &Limits::default()).unwrap();
        assert_eq!(m.parts.len(), 1);
        assert_eq!(&body[m.parts[0].clone()], b"first\n--bb\nstill first");
        assert!(split(b"no parts", "b", &Limits::default()).is_err());
        assert!(check_boundary("bad boundary ").is_err());
        let unclosed = split(b"--b\r\nonly", "b", &Limits::default()).unwrap();
        assert!(!unclosed.closed);
        assert_eq!(unclosed.parts, vec![5..9]);
    }

    #[test]
    fn many_parts_are_bounded() {
        let mut body = Vec::new();
        for _ in 0..20_000 {
            body.extend_from_slice(b"--b\r\nx\r\n");
        }
        assert!(matches!(
            split(&body, "b", &Limits::default()),
            Err(MimeError::TooLarge(_))
        ));
    }

    #[test]
    fn boundaries_across_chunk_joins_are_found() {
        // A part whose delimiter straddles the 1 MiB window of split_in, at every offset
        // around the join.
        for shift in 0..12usize {
            let mut body = b"--b\r\n".to_vec();
            body.resize(CHUNK - 6 + shift, b'x');
            body.extend_from_slice(b"\r\n--b\r\nsecond\r\n--b--\r\n");
            let m = split(&body, "b", &Limits::default()).unwrap();
            assert!(m.closed, "shift {shift}");
            assert_eq!(m.parts.len(), 2, "shift {shift}");
            assert_eq!(m.parts[0], 5..CHUNK - 6 + shift);
            assert_eq!(&body[m.parts[1].clone()], b"second");
        }
    }
}
