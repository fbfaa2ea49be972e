//! MIME for S/MIME (RFC 2045–2049, RFC 5322 header syntax, RFC 8551 §3): header blocks,
//! Content-Type parameters, multipart bodies located by exact byte ranges, line-ending
//! canonicalisation, and the 7-bit transfer encodings applied *before* signing.
//!
//! Everything here borrows from the input and reports byte ranges, so a signed part is
//! verified over exactly the bytes that were transmitted (RFC 8551 §3.5 and §3.1.1: the
//! only change allowed is converting line endings to CRLF). Parsing is bounded: header
//! blocks, fields, parameters and nesting have limits, and no path is quadratic.

pub mod canon;
pub mod encode;
pub mod header;
pub mod multipart;
pub mod smime;

pub use header::{ContentType, HeaderBlock, HeaderField};

/// Why a MIME structure could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    /// A structural problem, with what and where.
    #[error("malformed MIME: {0}")]
    Malformed(String),
    /// A limit was exceeded (e.g. a header block larger than allowed).
    #[error("MIME limit exceeded: {0}")]
    TooLarge(String),
    /// The input could not be read (a [`crate::source::Source`] failed).
    #[error("cannot read the message: {0}")]
    Read(String),
}

impl From<std::io::Error> for MimeError {
    fn from(e: std::io::Error) -> Self {
        MimeError::Read(e.to_string())
    }
}

/// Limits applied while parsing untrusted MIME.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest header block, in bytes (RFC 5322 sets no limit; real mail stays far below).
    pub max_header_bytes: usize,
    /// Most header fields in one block.
    pub max_fields: usize,
    /// Most parts in one multipart body.
    pub max_parts: usize,
    /// Deepest nesting of multiparts and S/MIME layers.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 1 << 20,
            max_fields: 2_000,
            max_parts: 10_000,
            max_depth: 16,
        }
    }
}
