//! Multipart bodies (RFC 2046 §5.1.1): locating each body part by its exact byte range.
//!
//! A part is the bytes between the line ending that follows a dash-boundary line and the
//! line ending that precedes the next delimiter — that line ending belongs to the delimiter
//! (RFC 2046 §5.1.1), which is why the signed part of a multipart/signed message never
//! includes it. Delimiter lines may carry trailing white space (transport padding) and end in
//! CRLF or, in mail stored on Unix, LF.

use super::{Limits, MimeError};
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
    check_boundary(boundary)?;
    let b = boundary.as_bytes();
    let mut parts = Vec::new();
    let mut part_start: Option<usize> = None;
    let mut line_start = 0usize;
    loop {
        if line_start <= body.len()
            && let Some((close, next)) = delimiter_at(body, line_start, b)
        {
            if let Some(s) = part_start {
                // The line ending before the delimiter belongs to the delimiter.
                let mut end = line_start;
                if end > s && body[end - 1] == b'\n' {
                    end -= 1;
                    if end > s && body[end - 1] == b'\r' {
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
                return Ok(Multipart {
                    parts,
                    closed: true,
                });
            }
            part_start = Some(next);
            line_start = next;
            continue;
        }
        match body[line_start.min(body.len())..]
            .iter()
            .position(|&c| c == b'\n')
        {
            Some(off) => line_start += off + 1,
            None => break,
        }
    }
    // No close delimiter: the last part runs to the end (lenient, as mail clients are).
    if let Some(s) = part_start {
        parts.push(s..body.len());
    }
    if parts.is_empty() {
        return Err(MimeError::Malformed(format!(
            "no body part delimited by boundary '{boundary}'"
        )));
    }
    Ok(Multipart {
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
}
