//! Shamir's secret sharing (Shamir 1979, "How to share a secret", CACM 22(11)) over GF(2^8),
//! byte by byte, with `vsss-rs` (constant-time field arithmetic, no lookup tables).
//!
//! A share is the evaluation point `x` (1..=255, the officer's index) and one `y` byte per
//! secret byte: `y_i = f_i(x)` where `f_i` is a fresh random polynomial of degree `M − 1`
//! with `f_i(0) = secret_i`. Any `M` shares determine every `f_i` by Lagrange
//! interpolation; `M − 1` shares are consistent with every value of every secret byte, each
//! equally likely — the scheme is information-theoretically secure, not merely hard to break.
//!
//! Two details of this module:
//!
//! - `vsss-rs` keeps the coefficients of the polynomial of the byte it is working on in a
//!   buffer it frees without zeroizing; after the loop that buffer holds the polynomial of
//!   the *last* byte. A public trailing byte (`0x00`) is therefore appended to the secret
//!   before splitting and dropped after combining, so the polynomial left behind shares
//!   nothing secret. Every share's `y` is one byte longer than the secret.
//! - Threshold 1 (one officer, or "any one of N") is the degree-0 polynomial: every share's
//!   `y` is the secret itself. `vsss-rs` refuses a threshold below 2, so that case is
//!   written out here.

use crate::EscrowError;
use std::convert::Infallible;
use vsss_rs::{Gf256, IdentifierGf256};
use zeroize::Zeroizing;

/// The public byte appended to the secret before splitting (see the module docs).
const TRAILER: u8 = 0x00;

/// One share: the evaluation point and the values. Secret; zeroized on drop.
pub(crate) struct RawShare {
    /// `x`, 1..=255: the officer's index.
    pub(crate) index: u8,
    /// `y`, one byte per secret byte plus the trailer.
    pub(crate) value: Zeroizing<Vec<u8>>,
}

/// The operating system's randomness (through aws-lc-rs) in the shape of RNG `vsss-rs` takes.
/// `rand_core`'s `CryptoRng` cannot fail, but the generator can: a failure is recorded and
/// checked after the split, which is then discarded.
struct SystemRng {
    failed: bool,
}

impl rand_core::TryRng for SystemRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if cachet_crypto::rand::fill(dst).is_err() {
            self.failed = true;
            dst.fill(0);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for SystemRng {}

/// Splits `secret` into `total` shares with indices `1..=total`, any `threshold` of which
/// rebuild it.
pub(crate) fn split(secret: &[u8], threshold: u8, total: u8) -> Result<Vec<RawShare>, EscrowError> {
    if threshold == 0 || threshold > total {
        return Err(EscrowError::InvalidThreshold {
            threshold: threshold.into(),
            officers: total.into(),
        });
    }
    if secret.is_empty() {
        return Err(EscrowError::Crypto(cachet_crypto::Error::InvalidParameter(
            "empty secret to split",
        )));
    }
    let mut padded = Zeroizing::new(Vec::with_capacity(secret.len() + 1));
    padded.extend_from_slice(secret);
    padded.push(TRAILER);
    if threshold == 1 {
        // f(x) = secret: every share is the secret.
        return Ok((1..=total)
            .map(|index| RawShare {
                index,
                value: padded.clone(),
            })
            .collect());
    }
    let mut rng = SystemRng { failed: false };
    let ids = (1..=total).map(|i| IdentifierGf256(Gf256(i)));
    let shares = Gf256::split_bytes_with_participant_ids_iter(
        threshold.into(),
        total.into(),
        &*padded,
        &mut rng,
        ids,
    );
    // Take ownership of every share buffer (zeroized on drop) before anything can fail.
    let shares: Zeroizing<Vec<Vec<u8>>> = match shares {
        Ok(s) => Zeroizing::new(s),
        Err(e) => {
            return Err(EscrowError::Crypto(cachet_crypto::Error::InvalidParameter(
                match e {
                    vsss_rs::Error::SharingLimitLessThanThreshold
                    | vsss_rs::Error::SharingMinThreshold
                    | vsss_rs::Error::InvalidSizeRequest => "Shamir threshold or share count",
                    _ => "Shamir split",
                },
            )));
        }
    };
    if rng.failed {
        return Err(EscrowError::Crypto(cachet_crypto::Error::InvalidParameter(
            "random generator failed",
        )));
    }
    let mut out = Vec::with_capacity(shares.len());
    for s in shares.iter() {
        let (&index, value) =
            s.split_first()
                .ok_or(EscrowError::Crypto(cachet_crypto::Error::InvalidParameter(
                    "Shamir split produced an empty share",
                )))?;
        out.push(RawShare {
            index,
            value: Zeroizing::new(value.to_vec()),
        });
    }
    Ok(out)
}

/// Rebuilds the secret from `threshold` or more shares (only the first `threshold` are
/// used). Fails on duplicate or zero indices, shares of different lengths, or a wrong
/// trailer. Nothing else checks the result: the caller opens something sealed under it
/// (AES-GCM) to find out.
pub(crate) fn combine(
    shares: &[RawShare],
    threshold: u8,
) -> Result<Zeroizing<Vec<u8>>, EscrowError> {
    let need = usize::from(threshold);
    if need == 0 || shares.len() < need {
        return Err(EscrowError::NotEnoughApprovals {
            have: shares.len(),
            need,
        });
    }
    let mut padded = interpolate(&shares[..need])?;
    // A wrong trailer means shares of different splits or altered values; the caller's
    // AES-GCM open would catch it too (the trailer alone lets 1 in 256 bad sets through).
    if padded.pop() != Some(TRAILER) {
        return Err(EscrowError::CombinationFailed);
    }
    Ok(padded)
}

/// Lagrange interpolation at 0 of every byte position through exactly the points given.
pub(crate) fn interpolate(used: &[RawShare]) -> Result<Zeroizing<Vec<u8>>, EscrowError> {
    let first = used.first().ok_or(EscrowError::CombinationFailed)?;
    let len = first.value.len();
    if len < 2 || used.iter().any(|s| s.value.len() != len || s.index == 0) {
        return Err(EscrowError::CombinationFailed);
    }
    if used.len() == 1 {
        return Ok(first.value.clone());
    }
    let mut points: Zeroizing<Vec<Vec<u8>>> = Zeroizing::new(Vec::with_capacity(used.len()));
    for s in used {
        let mut p = Vec::with_capacity(len + 1);
        p.push(s.index);
        p.extend_from_slice(&s.value);
        points.push(p);
    }
    Gf256::combine_bytes(&*points)
        .map(Zeroizing::new)
        .map_err(|_| EscrowError::CombinationFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Vec<u8> {
        (0u8..32)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect()
    }

    #[test]
    fn any_m_of_n_rebuild_the_secret() {
        let s = secret();
        for (m, n) in [(1u8, 1u8), (1, 3), (2, 2), (2, 3), (3, 5), (5, 5), (4, 9)] {
            let shares = split(&s, m, n).unwrap();
            assert_eq!(shares.len(), usize::from(n));
            assert!(shares.iter().all(|sh| sh.value.len() == s.len() + 1));
            assert_eq!(
                shares.iter().map(|sh| sh.index).collect::<Vec<_>>(),
                (1..=n).collect::<Vec<_>>()
            );
            // Every window of m consecutive shares (cyclically) rebuilds it.
            for start in 0..usize::from(n) {
                let pick: Vec<RawShare> = (0..usize::from(m))
                    .map(|k| {
                        let sh = &shares[(start + k) % usize::from(n)];
                        RawShare {
                            index: sh.index,
                            value: sh.value.clone(),
                        }
                    })
                    .collect();
                assert_eq!(&combine(&pick, m).unwrap()[..], &s[..], "{m}-of-{n}");
            }
        }
    }

    #[test]
    fn bad_parameters_and_sets_are_refused() {
        let s = secret();
        assert!(matches!(
            split(&s, 0, 3),
            Err(EscrowError::InvalidThreshold { .. })
        ));
        assert!(matches!(
            split(&s, 4, 3),
            Err(EscrowError::InvalidThreshold { .. })
        ));
        let shares = split(&s, 3, 5).unwrap();
        let two: Vec<RawShare> = shares
            .iter()
            .take(2)
            .map(|s| RawShare {
                index: s.index,
                value: s.value.clone(),
            })
            .collect();
        assert_eq!(
            combine(&two, 3).unwrap_err(),
            EscrowError::NotEnoughApprovals { have: 2, need: 3 }
        );
        // The same share twice is not two shares.
        let dup: Vec<RawShare> = [0, 0, 1]
            .iter()
            .map(|&i| RawShare {
                index: shares[i].index,
                value: shares[i].value.clone(),
            })
            .collect();
        assert_eq!(
            combine(&dup, 3).unwrap_err(),
            EscrowError::CombinationFailed
        );
    }

    /// With a 2-of-3 split, one share says nothing about the secret: for every one of the
    /// 256 values the missing share's byte could take, interpolation with the real share
    /// gives a different secret byte — every secret byte value is exactly as consistent with
    /// what the holder of one share knows as the true one (Shamir 1979, §2).
    #[test]
    fn m_minus_one_shares_do_not_determine_the_secret() {
        let s = secret();
        let shares = split(&s, 2, 3).unwrap();
        let known = &shares[0];
        for byte in [0usize, 1, 17, 31] {
            let mut candidates = std::collections::BTreeSet::new();
            let mut hits_true_value = 0;
            for guess in 0..=255u8 {
                // The real share and a guessed second share (index 2) that agrees with the
                // real one everywhere except in the byte under test: only that byte of the
                // candidate secret is read.
                let mut forged = known.value.clone();
                forged[byte] = guess;
                let pair = [
                    RawShare {
                        index: known.index,
                        value: known.value.clone(),
                    },
                    RawShare {
                        index: 2,
                        value: forged,
                    },
                ];
                let candidate = interpolate(&pair).unwrap();
                candidates.insert(candidate[byte]);
                if candidate[byte] == s[byte] {
                    hits_true_value += 1;
                }
            }
            assert_eq!(
                candidates.len(),
                256,
                "byte {byte}: all 256 candidates differ"
            );
            assert_eq!(hits_true_value, 1);
        }
    }

    #[test]
    fn shares_of_two_splits_do_not_mix() {
        let s = secret();
        let a = split(&s, 2, 3).unwrap();
        let b = split(&s, 2, 3).unwrap();
        // Fresh polynomials: the same index gets different values in two splits.
        assert_ne!(a[0].value, b[0].value);
        let mixed = [
            RawShare {
                index: a[0].index,
                value: a[0].value.clone(),
            },
            RawShare {
                index: b[1].index,
                value: b[1].value.clone(),
            },
        ];
        match combine(&mixed, 2) {
            Err(EscrowError::CombinationFailed) => {}
            Ok(v) => assert_ne!(&v[..], &s[..]),
            Err(e) => panic!("unexpected {e}"),
        }
    }
}
