//! Splicing a large content into a small DER structure: the structure is built whole by the
//! in-memory code with the content left empty, and the lengths of the content's element and
//! of every element around it are rewritten to make room for the bytes streamed in between
//! (X.690 §10.1: DER lengths are definite, so they must be right before the content is
//! written).

use crate::ber::{BerError, BerLimits, BerTree, read_header};

/// Appends the DER length octets of `n` (X.690 §8.1.3.4–5, §10.1: the shortest form).
pub fn der_length(n: u64, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// A DER structure opened at one element: write `prefix`, then the `extra` content bytes,
/// then `suffix`, and the result is the structure with those bytes appended to the contents
/// of that element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spliced {
    /// Everything up to and including the element's present contents, lengths adjusted.
    pub prefix: Vec<u8>,
    /// Everything after the element.
    pub suffix: Vec<u8>,
}

/// Opens `der` at the element reached by `path` (child indices, from the outermost element)
/// for `extra` more content bytes.
pub fn splice(der: &[u8], path: &[usize], extra: u64) -> Result<Spliced, BerError> {
    let tree = BerTree::parse(der, &BerLimits::new(der.len()))?;
    let mut chain = vec![tree.root()];
    for &i in path {
        let last = chain[chain.len() - 1];
        let next = tree
            .child(last, i)
            .ok_or(BerError::Truncated { offset: 0 })?;
        chain.push(next);
    }
    // Bottom-up: each element grows by the growth of the one inside it, which includes
    // the growth of that one's length octets.
    let mut headers = Vec::with_capacity(chain.len());
    let mut growth = extra;
    for &n in chain.iter().rev() {
        let span = tree.span(n).ok_or(BerError::Truncated { offset: 0 })?;
        let h = read_header(der, span.start)?;
        let content_len = (span.len() - h.header_len) as u64;
        let mut header = der[span.start..span.start + h.identifier_len].to_vec();
        der_length(content_len + growth, &mut header);
        growth += (header.len() - h.header_len) as u64;
        headers.push((span, h.header_len, header));
    }
    headers.reverse();
    let mut prefix = Vec::with_capacity(der.len() + 32);
    let mut cursor = 0;
    let mut target_end = der.len();
    for (span, header_len, header) in headers {
        prefix.extend_from_slice(&der[cursor..span.start]);
        prefix.extend_from_slice(&header);
        cursor = span.start + header_len;
        target_end = span.end;
    }
    prefix.extend_from_slice(&der[cursor..target_end]);
    Ok(Spliced {
        prefix,
        suffix: der[target_end..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_structure_equals_the_one_built_whole() {
        use der::Encode;
        use der::asn1::OctetString;
        #[derive(der::Sequence)]
        struct Outer {
            a: u8,
            inner: Inner,
            z: u8,
        }
        #[derive(der::Sequence)]
        struct Inner {
            b: u8,
            content: OctetString,
        }
        let build = |c: &[u8]| {
            Outer {
                a: 1,
                inner: Inner {
                    b: 2,
                    content: OctetString::new(c).unwrap(),
                },
                z: 3,
            }
            .to_der()
            .unwrap()
        };
        for len in [0usize, 5, 127, 128, 255, 256, 70_000] {
            let content = vec![0xab; len];
            let hollow = build(&[]);
            let s = splice(&hollow, &[1, 1], len as u64).unwrap();
            let mut joined = s.prefix.clone();
            joined.extend_from_slice(&content);
            joined.extend_from_slice(&s.suffix);
            assert_eq!(joined, build(&content), "length {len}");
        }
        let mut v = Vec::new();
        der_length(0x1_0000_0000, &mut v);
        assert_eq!(v, [0x85, 1, 0, 0, 0, 0]);
    }
}
