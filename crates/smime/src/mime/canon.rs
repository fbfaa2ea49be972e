//! Canonical line endings (RFC 8551 §3.1.1, RFC 5652 §5.4 over MIME): every line of a signed
//! or encrypted entity ends in CRLF. Mail stored on Unix systems uses bare LF, so both the
//! signer and the verifier convert; nothing else about the bytes changes.

/// Converts bare LF to CRLF in one pass; CRLF and lone CR are left as they are.
pub fn to_crlf(input: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bare = memchr::memchr_iter(b'\n', input).any(|i| i == 0 || input[i - 1] != b'\r');
    if !bare {
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() + input.len() / 32);
    let mut c = CrlfWriter::default();
    c.feed(input, &mut |s| out.extend_from_slice(s));
    std::borrow::Cow::Owned(out)
}

/// Streaming bare-LF → CRLF conversion, for bodies that do not fit in memory: remembers
/// whether the previous chunk ended in CR.
#[derive(Debug, Default, Clone)]
pub struct CrlfWriter {
    last_was_cr: bool,
}

impl CrlfWriter {
    /// Whether `chunk`, after what came before, has a LF without a CR before it: a scan
    /// the compiler vectorises, so canonical text (the usual case) costs one pass.
    pub fn has_bare_lf(&self, chunk: &[u8]) -> bool {
        let Some(&first) = chunk.first() else {
            return false;
        };
        if first == b'\n' && !self.last_was_cr {
            return true;
        }
        let (prev, next) = (&chunk[..chunk.len() - 1], &chunk[1..]);
        let mut bad = false;
        for (p, n) in prev.chunks(64).zip(next.chunks(64)) {
            let mut any = false;
            for (&a, &b) in p.iter().zip(n) {
                any |= (b == b'\n') & (a != b'\r');
            }
            if any {
                bad = true;
                break;
            }
        }
        bad
    }

    /// Notes a chunk passed on unchanged (one without a bare LF).
    pub fn pass(&mut self, chunk: &[u8]) {
        if let Some(&last) = chunk.last() {
            self.last_was_cr = last == b'\r';
        }
    }

    /// Converts `chunk`, passing the output to `sink` in as few slices as possible.
    pub fn feed(&mut self, chunk: &[u8], sink: &mut dyn FnMut(&[u8])) {
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', chunk) {
            let prev_cr = if i == 0 {
                self.last_was_cr
            } else {
                chunk[i - 1] == b'\r'
            };
            if !prev_cr {
                sink(&chunk[start..i]);
                sink(b"\r\n");
                start = i + 1;
            }
        }
        sink(&chunk[start..]);
        if let Some(&last) = chunk.last() {
            self.last_was_cr = last == b'\r';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_only_bare_lf() {
        assert_eq!(&*to_crlf(b"a\nb\r\nc\rd\n"), b"a\r\nb\r\nc\rd\r\n");
        assert!(matches!(to_crlf(b"a\r\nb"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(&*to_crlf(b"\n"), b"\r\n");
    }

    #[test]
    fn streaming_matches_one_shot_at_every_split() {
        let input = b"line1\r\nline2\nline3\r\n\n\r\r\nend";
        let want = to_crlf(input).into_owned();
        for split in 0..=input.len() {
            let mut w = CrlfWriter::default();
            let mut out = Vec::new();
            w.feed(&input[..split], &mut |s| out.extend_from_slice(s));
            w.feed(&input[split..], &mut |s| out.extend_from_slice(s));
            assert_eq!(out, want, "split at {split}");
        }
    }

    #[test]
    fn bare_lf_detection_agrees_with_conversion() {
        let inputs: [&[u8]; 6] = [b"a\r\nb\r\n", b"a\nb", b"\n", b"\r", b"\r\n\r\n", b""];
        for a in inputs {
            for b in inputs {
                let mut w = CrlfWriter::default();
                let mut out = Vec::new();
                w.feed(a, &mut |s| out.extend_from_slice(s));
                let bare = w.has_bare_lf(b);
                let before = out.len();
                w.feed(b, &mut |s| out.extend_from_slice(s));
                assert_eq!(bare, out.len() - before != b.len(), "{a:?} then {b:?}");
            }
        }
        let mut long = b"x\r\n".repeat(100);
        assert!(!CrlfWriter::default().has_bare_lf(&long));
        long[250] = b'y';
        assert_eq!(long[251], b'\n');
        assert!(CrlfWriter::default().has_bare_lf(&long));
    }
}
