//! PKCS#12 (RFC 7292) — being written.
