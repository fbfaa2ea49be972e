//! Transfer encodings (RFC 2045 §6): base64 and quoted-printable, and the conversion of an
//! entity with 8-bit or binary content to a 7-bit-safe form *before* it is signed
//! (RFC 8551 §3.1.2), so that no relay has cause to re-encode — and thereby break — it.

use super::header::{ContentType, parse_header_block};
use super::{Limits, MimeError, multipart};
use std::borrow::Cow;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 with CRLF after every 76 characters (RFC 2045 §6.8), ending in CRLF.
pub fn base64_encode_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 4);
    let mut col = 0;
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        let quad = [
            B64[(n >> 18) as usize & 63],
            B64[(n >> 12) as usize & 63],
            if chunk.len() > 1 {
                B64[(n >> 6) as usize & 63]
            } else {
                b'='
            },
            if chunk.len() > 2 {
                B64[n as usize & 63]
            } else {
                b'='
            },
        ];
        out.extend_from_slice(&quad);
        col += 4;
        if col == 76 {
            out.extend_from_slice(b"\r\n");
            col = 0;
        }
    }
    if col > 0 {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decodes base64, ignoring line breaks and white space; any other character outside the
/// alphabet, or misplaced padding, is an error naming its offset.
pub fn base64_decode(text: &[u8]) -> Result<Vec<u8>, MimeError> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut pad = 0;
    for (i, &c) in text.iter().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => {
                return Err(MimeError::Malformed(format!(
                    "invalid base64 character at byte {i}"
                )));
            }
        };
        if pad > 0 {
            return Err(MimeError::Malformed(format!(
                "base64 data after padding at byte {i}"
            )));
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if pad > 2 || (bits >= 6) {
        return Err(MimeError::Malformed("truncated base64".into()));
    }
    Ok(out)
}

/// Quoted-printable (RFC 2045 §6.7) with CRLF hard line breaks and soft breaks before 76
/// columns. Also encodes a leading "From " and a lone "." (RFC 8551 §3.1.1's advice for
/// content that must survive relays).
pub fn quoted_printable_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let lines: Vec<&[u8]> = split_lines(data);
    let n = lines.len();
    for (li, line) in lines.into_iter().enumerate() {
        let mut col = 0usize;
        let len = line.len();
        for (i, &b) in line.iter().enumerate() {
            let at_end = i + 1 == len;
            let from_line = i == 0 && line.starts_with(b"From ");
            let lone_dot = i == 0 && line == b".";
            let must = b == b'='
                || b >= 0x7f
                || (b < 0x20 && b != b'\t')
                || ((b == b' ' || b == b'\t') && at_end)
                || from_line
                || lone_dot;
            let width = if must { 3 } else { 1 };
            if col + width > 75 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if must {
                out.push(b'=');
                out.push(b"0123456789ABCDEF"[(b >> 4) as usize]);
                out.push(b"0123456789ABCDEF"[(b & 15) as usize]);
            } else {
                out.push(b);
            }
            col += width;
        }
        if li + 1 < n {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Lines without their endings; a final line ending yields a final empty line.
fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            let end = if i > start && data[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            v.push(&data[start..end]);
            start = i + 1;
        }
    }
    v.push(&data[start..]);
    v
}

/// Whether a body must be transfer-encoded to be 7-bit safe (RFC 5322 §2.3: no NUL, no
/// 8-bit bytes, no bare CR, lines of at most 998 octets).
pub fn needs_encoding(body: &[u8]) -> bool {
    // Vectorised scans (is_ascii, memchr) rather than a byte loop: this runs over every
    // message body that is signed.
    if !body.is_ascii() || memchr::memchr(0, body).is_some() {
        return true;
    }
    if memchr::memchr_iter(b'\r', body).any(|i| body.get(i + 1) != Some(&b'\n')) {
        return true;
    }
    let mut line_start = 0;
    for nl in memchr::memchr_iter(b'\n', body) {
        let cr = usize::from(nl > line_start && body[nl - 1] == b'\r');
        if nl - line_start - cr > 998 {
            return true;
        }
        line_start = nl + 1;
    }
    body.len() - line_start > 998
}

/// Returns `entity` (a header block and body) in a 7-bit-safe form: every leaf part whose
/// body needs it is re-encoded (quoted-printable for text, base64 otherwise) and its
/// Content-Transfer-Encoding set; multiparts are processed part by part, keeping their
/// structure and the bytes of parts that need nothing. Entities already safe are borrowed.
pub fn make_7bit_safe<'a>(entity: &'a [u8], limits: &Limits) -> Result<Cow<'a, [u8]>, MimeError> {
    make_safe_at(entity, limits, 0)
}

fn make_safe_at<'a>(
    entity: &'a [u8],
    limits: &Limits,
    depth: usize,
) -> Result<Cow<'a, [u8]>, MimeError> {
    if depth > limits.max_depth {
        return Err(MimeError::TooLarge(format!(
            "MIME nesting deeper than {}",
            limits.max_depth
        )));
    }
    let h = parse_header_block(entity, limits)?;
    let body = &entity[h.body_start..];
    let ct = h.content_type()?;
    let cte = h.transfer_encoding();
    if ct.top_level() == "multipart" {
        let boundary = ct
            .param("boundary")
            .ok_or_else(|| MimeError::Malformed(format!("{} without a boundary", ct.mime_type)))?;
        let m = multipart::split(body, boundary, limits)?;
        let mut changed: Vec<(std::ops::Range<usize>, Vec<u8>)> = Vec::new();
        for r in &m.parts {
            if let Cow::Owned(new) = make_safe_at(&body[r.clone()], limits, depth + 1)? {
                changed.push((r.clone(), new));
            }
        }
        // Preamble/epilogue with 8-bit bytes cannot be re-encoded; RFC 2046 says to ignore
        // them, so they are dropped only if they are unsafe.
        if changed.is_empty() && !needs_encoding_outside(body, &m.parts) {
            return Ok(Cow::Borrowed(entity));
        }
        let mut out = entity[..h.body_start].to_vec();
        let mut pos = 0;
        for (r, new) in changed {
            out.extend_from_slice(&body[pos..r.start]);
            out.extend_from_slice(&new);
            pos = r.end;
        }
        out.extend_from_slice(&body[pos..]);
        return Ok(Cow::Owned(out));
    }
    if matches!(cte.as_str(), "base64" | "quoted-printable") || !needs_encoding(body) {
        return Ok(Cow::Borrowed(entity));
    }
    let (new_cte, new_body) = if ct.top_level() == "text" {
        ("quoted-printable", quoted_printable_encode(body))
    } else {
        ("base64", base64_encode_lines(body))
    };
    let mut out = Vec::with_capacity(h.body_start + new_body.len() + 64);
    let mut wrote_cte = false;
    for f in &h.fields {
        if f.is("Content-Transfer-Encoding") {
            if !wrote_cte {
                out.extend_from_slice(
                    format!("Content-Transfer-Encoding: {new_cte}\r\n").as_bytes(),
                );
                wrote_cte = true;
            }
        } else {
            out.extend_from_slice(f.raw);
        }
    }
    if !wrote_cte {
        out.extend_from_slice(format!("Content-Transfer-Encoding: {new_cte}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&new_body);
    Ok(Cow::Owned(out))
}

fn needs_encoding_outside(body: &[u8], parts: &[std::ops::Range<usize>]) -> bool {
    let mut pos = 0;
    for r in parts {
        if needs_encoding(&body[pos..r.start]) {
            return true;
        }
        pos = r.end;
    }
    needs_encoding(&body[pos..])
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
}
