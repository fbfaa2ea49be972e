//! The DER plumbing shared by every record: version checks, borrowed strings and octets,
//! and encoding of secret-bearing structures straight into zeroized buffers.
//!
//! Records are DER (X.690) with a leading `version INTEGER`, defined with the `der` derive
//! macros over *borrowed* types (`&OctetStringRef`, `Utf8StringRef`): a structure holding a
//! secret borrows it from a zeroized buffer, and its encoding is written into another one
//! of exactly the right size, so no unzeroized copy is ever made.

use crate::EscrowError;
use der::asn1::{OctetStringRef, Utf8StringRef};
use der::{Decode, Encode};
use zeroize::Zeroizing;

/// The format version every record of this crate writes.
pub(crate) const V1: u32 = 1;

/// Borrowed OCTET STRING.
pub(crate) fn octets<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<&'a OctetStringRef, EscrowError> {
    OctetStringRef::new(bytes).map_err(|e| EscrowError::malformed(what, e))
}

/// Borrowed UTF8String.
pub(crate) fn utf8<'a>(s: &'a str, what: &'static str) -> Result<Utf8StringRef<'a>, EscrowError> {
    Utf8StringRef::new(s).map_err(|e| EscrowError::malformed(what, e))
}

/// DER of a public structure.
pub(crate) fn encode<T: Encode>(value: &T, what: &'static str) -> Result<Vec<u8>, EscrowError> {
    value.to_der().map_err(|e| EscrowError::malformed(what, e))
}

/// DER of a structure that borrows secrets, written into a zeroized buffer allocated once at
/// its final size (a growing `Vec` would leave copies behind in freed memory).
pub(crate) fn encode_secret<T: Encode>(
    value: &T,
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, EscrowError> {
    let len = value
        .encoded_len()
        .and_then(usize::try_from)
        .map_err(|e| EscrowError::malformed(what, e))?;
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    value
        .encode_to_vec(&mut out)
        .map_err(|e| EscrowError::malformed(what, e))?;
    Ok(out)
}

/// Decodes `bytes` as `T` (DER, nothing trailing).
pub(crate) fn decode<'a, T: Decode<'a>>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<T, EscrowError> {
    T::from_der(bytes).map_err(|e| EscrowError::malformed(what, e))
}

/// Refuses any version but [`V1`].
pub(crate) fn check_version(version: u32, what: &'static str) -> Result<(), EscrowError> {
    if version == V1 {
        Ok(())
    } else {
        Err(EscrowError::UnsupportedVersion { what, version })
    }
}

/// A fixed-size array from an OCTET STRING.
pub(crate) fn array<const N: usize>(
    o: &OctetStringRef,
    what: &'static str,
) -> Result<[u8; N], EscrowError> {
    <[u8; N]>::try_from(o.as_bytes())
        .map_err(|_| EscrowError::malformed(what, format!("expected {N} octets")))
}

/// Lower-case hex, for identifiers in messages and `Debug`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
