//! S/MIME for Cachet: the Cryptographic Message Syntax (CMS, RFC 5652) with
//! AuthEnvelopedData (RFC 5083) and AES-GCM (RFC 5084), and the MIME side of S/MIME 4.0
//! messages (RFC 8551): `multipart/signed`, `application/pkcs7-mime`, canonicalisation.
//!
//! CMS is read as BER, as peers send it (indefinite lengths, constructed OCTET STRINGs), and
//! written as DER. [`ber`] normalises received BER to DER without re-sorting anything a
//! signature covers; [`cms`] decodes and encodes the CMS structures and the algorithm
//! parameters and attributes S/MIME uses. [`signed`] signs and verifies SignedData;
//! [`enveloped`] encrypts and decrypts EnvelopedData and AuthEnvelopedData.
//!
//! Everything here is pure: functions take bytes (and keys, and the time, as parameters) and
//! return bytes or typed values. This crate does no I/O, reads no clock and keeps no state.
//! It is not a certificate validator (path building, revocation and trust live in
//! `cachet-pki`), not a mail transport or store, and not a cryptographic library: the
//! primitives come from `cachet-crypto`.
#![forbid(unsafe_code)]

pub mod ber;
pub mod cms;
pub mod enveloped;
pub mod message;
pub mod mime;
pub mod signed;
pub mod source;
pub mod stream;
