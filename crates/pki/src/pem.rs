//! PEM (RFC 7468) reading and writing, and "PEM or DER" input as the CLI accepts it.

use crate::error::{PkiError, Result};
use der::pem::LineEnding;

/// Encodes DER as one PEM block with `label` (e.g. "CERTIFICATE").
pub fn encode(label: &str, der_bytes: &[u8]) -> String {
    // Encoding into a String cannot fail for a valid label; fall back to an empty block
    // rather than panic if the library ever refuses.
    der::pem::encode_string(label, LineEnding::LF, der_bytes).unwrap_or_default()
}

/// Returns every PEM block in `text` with its label, in order, ignoring text between blocks
/// (as `openssl` writes "Bag Attributes" and comments around them).
pub fn decode_all(text: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = find(rest, BEGIN) {
        let block = &rest[start..];
        let end_marker = find(block, END)
            .ok_or_else(|| PkiError::malformed("PEM", "a BEGIN line has no matching END line"))?;
        let after_end = &block[end_marker..];
        let line_end = after_end
            .iter()
            .position(|&b| b == b'\n')
            .map_or(after_end.len(), |p| p + 1);
        let one = &block[..end_marker + line_end];
        let (label, bytes) =
            der::pem::decode_vec(one).map_err(|e| PkiError::malformed("PEM", e))?;
        out.push((label.to_string(), bytes));
        rest = &block[end_marker + line_end..];
    }
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Whether `bytes` look like PEM text rather than DER.
pub fn is_pem(bytes: &[u8]) -> bool {
    find(&bytes[..bytes.len().min(64 * 1024)], b"-----BEGIN ").is_some()
}

/// Reads input that is either DER (one object) or PEM (any number of blocks whose label is
/// one of `labels`), returning the DER objects in order.
pub fn der_objects(bytes: &[u8], labels: &[&str], what: &'static str) -> Result<Vec<Vec<u8>>> {
    if !is_pem(bytes) {
        if bytes.is_empty() {
            return Err(PkiError::malformed(what, "the input is empty"));
        }
        return Ok(vec![bytes.to_vec()]);
    }
    let blocks = decode_all(bytes)?;
    let found: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|(l, _)| labels.contains(&l.as_str()))
        .map(|(_, d)| d)
        .collect();
    if found.is_empty() {
        return Err(PkiError::malformed(
            what,
            format!("no PEM block labelled {}", labels.join(" or ")),
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bundles() {
        let a = encode("CERTIFICATE", b"\x30\x00");
        let b = encode("CERTIFICATE", b"\x30\x01\x00");
        let text = format!("Bag Attributes\n{a}junk\n{b}");
        let objs = der_objects(text.as_bytes(), &["CERTIFICATE"], "certificate").unwrap();
        assert_eq!(objs, vec![b"\x30\x00".to_vec(), b"\x30\x01\x00".to_vec()]);
        assert!(der_objects(a.as_bytes(), &["PRIVATE KEY"], "key").is_err());
        assert_eq!(
            der_objects(b"\x30\x00", &["X"], "x").unwrap(),
            vec![b"\x30\x00".to_vec()]
        );
        assert!(
            der_objects(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n",
                &["CERTIFICATE"],
                "c"
            )
            .is_err()
        );
    }
}
