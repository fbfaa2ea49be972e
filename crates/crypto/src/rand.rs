//! Cryptographically secure random bytes from aws-lc-rs's DRBG.

use crate::Error;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Fills `out` with random bytes.
pub fn fill(out: &mut [u8]) -> Result<(), Error> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| Error::InvalidParameter("random generator failed"))
}

/// Returns `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}
