//! Header blocks (RFC 5322 §2.2, §3.6) and Content-Type (RFC 2045 §5.1, RFC 2231).

use super::{Limits, MimeError};
use std::borrow::Cow;

/// One header field, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// The field name as written (compare with [`HeaderField::is`]).
    pub name: &'a str,
    /// The raw value: everything after the colon, folding and the final line ending
    /// excluded.
    pub value: &'a [u8],
    /// The whole field as transmitted, including folded lines and the final line ending.
    pub raw: &'a [u8],
}

impl HeaderField<'_> {
    /// Case-insensitive name comparison.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value unfolded (CRLF/LF before white space removed) and trimmed, as text
    /// (invalid UTF-8 replaced).
    pub fn unfolded(&self) -> String {
        let text = String::from_utf8_lossy(self.value);
        // Most values are one line: nothing to remove but the surrounding white space.
        if !self.value.iter().any(|&b| b == b'\r' || b == b'\n') {
            return text.trim().to_string();
        }
        let mut out = String::with_capacity(self.value.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\r' && chars.peek() == Some(&'\n') {
                continue;
            }
            if c == '\n' {
                continue;
            }
            out.push(c);
        }
        out.trim().to_string()
    }

    /// Whether this is a MIME content field (`Content-*` or `MIME-Version`), which belongs to
    /// the entity rather than to the message envelope.
    pub fn is_content_field(&self) -> bool {
        self.is("MIME-Version")
            || self.name.len() > 8 && self.name[..8].eq_ignore_ascii_case("content-")
    }
}

/// A parsed header block: the fields in order, and where the body starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBlock<'a> {
    /// The fields.
    pub fields: Vec<HeaderField<'a>>,
    /// Offset of the body: after the empty line that ends the header block, or the input's
    /// length when the block is not terminated (a header-only entity).
    pub body_start: usize,
}

impl<'a> HeaderBlock<'a> {
    /// Refuses a header block with more than one Content-Type or Content-Transfer-Encoding
    /// field (RFC 2045 allows one): clients disagree on which wins.
    pub fn check_single_content_fields(&self) -> Result<(), MimeError> {
        for name in ["Content-Type", "Content-Transfer-Encoding"] {
            if self.fields.iter().filter(|f| f.is(name)).count() > 1 {
                return Err(MimeError::Malformed(format!("more than one {name} header")));
            }
        }
        Ok(())
    }

    /// The first field called `name`.
    pub fn get(&self, name: &str) -> Option<&HeaderField<'a>> {
        self.fields.iter().find(|f| f.is(name))
    }

    /// The parsed Content-Type, or the RFC 2045 §5.2 default `text/plain; charset=us-ascii`.
    pub fn content_type(&self) -> Result<ContentType, MimeError> {
        match self.get("Content-Type") {
            Some(f) => ContentType::parse(&f.unfolded()),
            None => Ok(ContentType::default_text()),
        }
    }

    /// The Content-Transfer-Encoding, lower-cased (`7bit` when absent).
    pub fn transfer_encoding(&self) -> String {
        self.get("Content-Transfer-Encoding")
            .map(|f| f.unfolded().to_ascii_lowercase())
            .unwrap_or_else(|| "7bit".into())
    }
}

/// Length of the line ending at `input[i..]` (2 for CRLF, 1 for LF), or 0.
fn eol_at(input: &[u8], i: usize) -> usize {
    match input.get(i) {
        Some(b'\n') => 1,
        Some(b'\r') if input.get(i + 1) == Some(&b'\n') => 2,
        _ => 0,
    }
}

/// Parses the header block at the start of `input`. Lines may end in CRLF or LF (mail
/// stored on Unix systems); continuation lines start with a space or tab.
pub fn parse_header_block<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<HeaderBlock<'a>, MimeError> {
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        if i >= input.len() {
            return Ok(HeaderBlock {
                fields,
                body_start: input.len(),
            });
        }
        if i > limits.max_header_bytes {
            return Err(MimeError::TooLarge(format!(
                "header block larger than {} bytes",
                limits.max_header_bytes
            )));
        }
        let eol = eol_at(input, i);
        if eol > 0 {
            return Ok(HeaderBlock {
                fields,
                body_start: i + eol,
            });
        }
        if fields.len() >= limits.max_fields {
            return Err(MimeError::TooLarge(format!(
                "more than {} header fields",
                limits.max_fields
            )));
        }
        // One field: up to the first line ending not followed by white space.
        let start = i;
        let search_end = input
            .len()
            .min(start.saturating_add(limits.max_header_bytes + 1));
        let mut end = None;
        let mut j = start;
        while j < search_end {
            match memchr(b'\n', &input[j..search_end]) {
                None => break,
                Some(off) => {
                    let nl = j + off;
                    if matches!(input.get(nl + 1), Some(b' ' | b'\t')) {
                        j = nl + 1;
                        continue;
                    }
                    end = Some(nl + 1);
                    break;
                }
            }
        }
        let end = match end {
            Some(e) => e,
            None if search_end == input.len() => input.len(),
            None => {
                return Err(MimeError::TooLarge(format!(
                    "header block larger than {} bytes",
                    limits.max_header_bytes
                )));
            }
        };
        let raw = &input[start..end];
        let colon = raw.iter().position(|&b| b == b':').ok_or_else(|| {
            MimeError::Malformed(format!("header line at byte {start} has no colon"))
        })?;
        let name = std::str::from_utf8(&raw[..colon])
            .ok()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (33..=126).contains(&b)))
            .ok_or_else(|| {
                MimeError::Malformed(format!("invalid header field name at byte {start}"))
            })?;
        let mut value = &raw[colon + 1..];
        if value.ends_with(b"\r\n") {
            value = &value[..value.len() - 2];
        } else if value.ends_with(b"\n") {
            value = &value[..value.len() - 1];
        }
        fields.push(HeaderField { name, value, raw });
        i = end;
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(needle, hay)
}

/// A Content-Type: `type/subtype` lower-cased, and its parameters with lower-cased names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// e.g. `multipart/signed`.
    pub mime_type: String,
    /// Parameters in order; names lower-cased, values unquoted (RFC 2231 continuations joined).
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// `text/plain; charset=us-ascii` (RFC 2045 §5.2).
    pub fn default_text() -> Self {
        ContentType {
            mime_type: "text/plain".into(),
            params: vec![("charset".into(), "us-ascii".into())],
        }
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the type is `t` (case-insensitive, e.g. "multipart/signed").
    pub fn is(&self, t: &str) -> bool {
        self.mime_type.eq_ignore_ascii_case(t)
    }

    /// The top-level type (`multipart`, `text`…).
    pub fn top_level(&self) -> &str {
        self.mime_type.split('/').next().unwrap_or("")
    }

    /// Parses an unfolded Content-Type value.
    pub fn parse(value: &str) -> Result<ContentType, MimeError> {
        let v = strip_comments(value);
        let mut parts = split_params(&v).into_iter();
        let mime_type = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let valid = mime_type
            .split_once('/')
            .is_some_and(|(t, s)| is_token(t) && is_token(s));
        if !valid {
            return Err(MimeError::Malformed(format!(
                "Content-Type '{}' is not type/subtype",
                value.trim()
            )));
        }
        let mut raw_params: Vec<(String, String)> = Vec::new();
        for p in parts {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let Some((name, val)) = p.split_once('=') else {
                continue; // tolerate junk parameters, as clients do
            };
            let name = name.trim().to_ascii_lowercase();
            // A repeated parameter is ambiguous: clients disagree on which one wins, so a
            // message could show one structure and verify as another.
            if raw_params.iter().any(|(n, _)| *n == name) {
                return Err(MimeError::Malformed(format!(
                    "Content-Type parameter '{name}' appears twice"
                )));
            }
            raw_params.push((name, unquote(val.trim())));
            if raw_params.len() > 64 {
                return Err(MimeError::TooLarge(
                    "more than 64 Content-Type parameters".into(),
                ));
            }
        }
        Ok(ContentType {
            mime_type,
            params: join_rfc2231(raw_params),
        })
    }

    /// Serialises as a header value, quoting values that need it.
    pub fn to_header_value(&self) -> String {
        let mut s = self.mime_type.clone();
        for (n, v) in &self.params {
            s.push_str("; ");
            s.push_str(n);
            s.push('=');
            if is_token(v) {
                s.push_str(v);
            } else {
                s.push('"');
                for c in v.chars() {
                    if c == '"' || c == '\\' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
            }
        }
        s
    }
}

/// RFC 2045 token: printable ASCII except SPACE and tspecials.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| TOKEN[usize::from(b)])
}

/// The bytes [`is_token`] accepts: printable ASCII but SPACE and the RFC 2045 tspecials.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 33;
    while b < 127 {
        t[b] = true;
        b += 1;
    }
    let specials = b"()<>@,;:\\\"/[]?=";
    let mut i = 0;
    while i < specials.len() {
        t[specials[i] as usize] = false;
        i += 1;
    }
    t
};

/// Removes RFC 5322 comments (parentheses, nested, outside quoted strings).
fn strip_comments(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains('(') {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in v.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Splits on `;` outside quoted strings.
fn split_params(v: &str) -> Vec<&str> {
    // Byte by byte: the separators, quotes and backslashes are ASCII, which no byte of a
    // multi-byte UTF-8 character equals, so every cut falls on a character boundary.
    let mut out = Vec::new();
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    for (i, b) in v.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if b == b'\\' && quoted {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b';' && !quoted {
            out.push(&v[start..i]);
            start = i + 1;
        }
    }
    out.push(&v[start..]);
    out
}

fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    if !inner.contains('\\') {
        return inner.to_string();
    }
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// Joins RFC 2231 continuations (`name*0=`, `name*1*=`) and decodes `charset''percent`
/// values (UTF-8 and ASCII charsets; others are kept percent-decoded as Latin-1).
fn join_rfc2231(params: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut pieces: Vec<(String, usize, bool, String)> = Vec::new();
    for (name, value) in params {
        let (base, rest) = match name.split_once('*') {
            Some((b, r)) => (b.to_string(), r.to_string()),
            None => {
                out.push((name, value));
                continue;
            }
        };
        let encoded = rest.ends_with('*') || rest.is_empty();
        let index = rest.trim_end_matches('*').parse::<usize>().unwrap_or(0);
        pieces.push((base, index, encoded, value));
    }
    pieces.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut i = 0;
    while i < pieces.len() {
        let base = pieces[i].0.clone();
        let mut bytes: Vec<u8> = Vec::new();
        let mut charset = String::new();
        while i < pieces.len() && pieces[i].0 == base {
            let (_, idx, encoded, v) = &pieces[i];
            if *encoded {
                let mut v: &str = v;
                if *idx == 0
                    && let Some((cs, rest)) = v.split_once('\'')
                {
                    charset = cs.to_ascii_lowercase();
                    v = rest.split_once('\'').map_or(rest, |(_, r)| r);
                }
                bytes.extend(percent_decode(v));
            } else {
                bytes.extend_from_slice(v.as_bytes());
            }
            i += 1;
        }
        let value = match charset.as_str() {
            "" | "utf-8" | "us-ascii" => String::from_utf8_lossy(&bytes).into_owned(),
            _ => bytes.iter().map(|&b| b as char).collect(),
        };
        if !out.iter().any(|(n, _)| *n == base) {
            out.push((base, value));
        }
    }
    out
}

fn percent_decode(v: &str) -> Vec<u8> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 3 <= b.len()
            && let Some(h) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Returns `s` with bare LF line endings, for comparisons in tests and display.
pub fn normalise_newlines(s: &[u8]) -> Cow<'_, [u8]> {
    if s.contains(&b'\r') {
        Cow::Owned(s.iter().copied().filter(|&b| b != b'\r').collect())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_folded_fields_with_either_line_ending() {
        let msg = b"From: a@example.com\r\nSubject: hello\r\n  world\r\nContent-Type: text/plain\n\r\nbody";
        let h = parse_header_block(msg, &Limits::default()).unwrap();
        assert_eq!(h.fields.len(), 3);
        assert_eq!(h.get("subject").unwrap().unfolded(), "hello  world");
        assert_eq!(
            h.get("Subject").unwrap().raw,
            b"Subject: hello\r\n  world\r\n"
        );
        assert_eq!(&msg[h.body_start..], b"body");
        assert!(h.get("content-type").unwrap().is_content_field());
        assert!(!h.get("from").unwrap().is_content_field());
    }

    #[test]
    fn header_only_and_bad_headers() {
        let h = parse_header_block(b"Content-Type: text/plain", &Limits::default()).unwrap();
        assert_eq!(h.body_start, 24);
        assert!(parse_header_block(b"no colon here\r\n\r\n", &Limits::default()).is_err());
        let huge = vec![b'X'; 2 << 20];
        let limits = Limits::default();
        assert!(matches!(
            parse_header_block(&huge, &limits),
            Err(MimeError::TooLarge(_))
        ));
        let mut many = Vec::new();
        for _ in 0..3000 {
            many.extend_from_slice(b"X: y\r\n");
        }
        assert!(matches!(
            parse_header_block(&many, &limits),
            Err(MimeError::TooLarge(_))
        ));
    }

    #[test]
    fn content_type_parameters() {
        let ct = ContentType::parse(
            "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=SHA-256; (comment) boundary=\"----=_x;y\"",
        )
        .unwrap();
        assert!(ct.is("multipart/signed"));
        assert_eq!(ct.param("PROTOCOL"), Some("application/pkcs7-signature"));
        assert_eq!(ct.param("micalg"), Some("SHA-256"));
        assert_eq!(ct.param("boundary"), Some("----=_x;y"));
        let ct =
            ContentType::parse("application/pkcs7-mime; name*0*=utf-8''sm%C3%AFme; name*1=.p7m")
                .unwrap();
        assert_eq!(ct.param("name"), Some("smïme.p7m"));
        assert!(ContentType::parse("garbage").is_err());
        let round = ContentType::parse(&ct.to_header_value()).unwrap();
        assert_eq!(round, ct);
        // Escapes inside quotes, separators inside quotes, UTF-8 next to separators.
        let ct =
            ContentType::parse("application/octet-stream; name=\"a\\\"b;c\"; title=\"ü;x\";x=ü")
                .unwrap();
        assert_eq!(ct.param("name"), Some("a\"b;c"));
        assert_eq!(ct.param("title"), Some("ü;x"));
        assert_eq!(ct.param("x"), Some("ü"));
        assert!(ContentType::parse("text/plain; a=1; A=2").is_err());
        // A folded value is unfolded; a one-line value only trimmed.
        let block = parse_header_block(
            b"Content-Type: multipart/mixed;\r\n\tboundary=\"b\"\r\nSubject:  hi \r\n\r\n",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(block.content_type().unwrap().param("boundary"), Some("b"));
        assert_eq!(block.get("Subject").unwrap().unfolded(), "hi");
    }
}
