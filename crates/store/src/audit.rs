//! The audit log's records and their hash chain.
//!
//! Each record carries the hash of its predecessor, and its own hash covers every field and
//! that predecessor hash, so editing, reordering or deleting any record breaks the chain from
//! that point on. The hash of the newest record is also kept as the chain's *head* in the
//! settings table, so that removing records from the end is detected too.
//!
//! The hash is keyed: HMAC-SHA-256 under an [`AuditKey`] derived from the installation's
//! key-encryption key. Someone who can write the database but does not hold the master key
//! (or passphrase) cannot recompute the chain after editing it; a plain SHA-256 chain would
//! let them.

use cachet_crypto::pbe::{HmacAlgorithm, hmac};
use zeroize::Zeroizing;

/// The key of the audit chain's HMAC. Derived by the service from the key-encryption key;
/// never stored.
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl AuditKey {
    /// Wraps derived key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        AuditKey(Zeroizing::new(bytes))
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// The hash that precedes the first record.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// What an administrator action says, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, in seconds since the epoch.
    pub at: i64,
    /// Who: an operator name, `cli:<user>`, an API token's name.
    pub actor: String,
    /// What: a stable kebab-case verb, e.g. `certificate-issued`.
    pub action: String,
    /// The certificate's serial (hex), if one is concerned.
    pub serial: Option<String>,
    /// The certificate's subject, if one is concerned.
    pub subject: Option<String>,
    /// Anything else worth keeping (profile, reason…), as text.
    pub detail: String,
}

/// A stored record: the entry, its position and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position, from 1, without gaps.
    pub seq: i64,
    /// The entry.
    pub entry: AuditEntry,
    /// Hash of the previous record ([`GENESIS`] for the first).
    pub prev_hash: Vec<u8>,
    /// This record's hash.
    pub hash: Vec<u8>,
}

fn put(buf: &mut Vec<u8>, field: Option<&str>) {
    match field {
        None => buf.push(0),
        Some(s) => {
            buf.push(1);
            buf.extend_from_slice(&(s.len() as u64).to_be_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

/// The hash of record `seq` holding `entry` after `prev_hash`: HMAC-SHA-256 under `key` over
/// a length-prefixed encoding of every field, so no two different records encode alike.
pub fn record_hash(key: &AuditKey, seq: i64, entry: &AuditEntry, prev_hash: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128 + entry.detail.len());
    buf.extend_from_slice(b"cachet-audit-v1");
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&entry.at.to_be_bytes());
    put(&mut buf, Some(&entry.actor));
    put(&mut buf, Some(&entry.action));
    put(&mut buf, entry.serial.as_deref());
    put(&mut buf, entry.subject.as_deref());
    put(&mut buf, Some(&entry.detail));
    buf.extend_from_slice(&(prev_hash.len() as u64).to_be_bytes());
    buf.extend_from_slice(prev_hash);
    hmac(HmacAlgorithm::Sha256, key.0.as_ref(), &buf)
}

/// A break in the chain, located at a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// A record's sequence number is not the one expected: records were deleted or inserted.
    Gap {
        /// The number expected.
        expected: i64,
        /// The number found.
        found: i64,
    },
    /// A record does not point at its predecessor: reordered or a predecessor was replaced.
    BrokenLink {
        /// The record.
        seq: i64,
    },
    /// A record's content does not match its hash: it was edited.
    Altered {
        /// The record.
        seq: i64,
    },
    /// The chain ends before the recorded head: records were removed from the end.
    Truncated {
        /// The last record present.
        last_seq: i64,
        /// The head recorded when the last record was appended.
        head_seq: i64,
    },
    /// The recorded head does not match the last record.
    HeadMismatch,
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::Gap { expected, found } => {
                write!(
                    f,
                    "record {expected} is missing (found {found} in its place): records were deleted or inserted"
                )
            }
            ChainProblem::BrokenLink { seq } => {
                write!(
                    f,
                    "record {seq} does not follow its predecessor: records were reordered or replaced"
                )
            }
            ChainProblem::Altered { seq } => write!(
                f,
                "record {seq} was edited: its content does not match its hash"
            ),
            ChainProblem::Truncated { last_seq, head_seq } => write!(
                f,
                "the log ends at record {last_seq} but {head_seq} records were written: records were deleted from the end"
            ),
            ChainProblem::HeadMismatch => write!(
                f,
                "the last record does not match the recorded head of the chain"
            ),
        }
    }
}

/// Checks a whole chain, in `seq` order, against the recorded head `(seq, hash)`.
/// Returns every problem found (empty when intact).
pub fn verify_chain(
    key: &AuditKey,
    records: &[AuditRecord],
    head: Option<(i64, Vec<u8>)>,
) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    let mut prev: Vec<u8> = GENESIS.to_vec();
    for (i, r) in records.iter().enumerate() {
        let expected = i as i64 + 1;
        if r.seq != expected {
            problems.push(ChainProblem::Gap {
                expected,
                found: r.seq,
            });
            // Report one gap, then keep checking links and hashes from the record found.
        }
        if r.prev_hash != prev {
            problems.push(ChainProblem::BrokenLink { seq: r.seq });
        }
        if record_hash(key, r.seq, &r.entry, &r.prev_hash) != r.hash {
            problems.push(ChainProblem::Altered { seq: r.seq });
        }
        prev = r.hash.clone();
        if problems.len() > 100 {
            break;
        }
    }
    let last = records.last().map(|r| (r.seq, r.hash.clone()));
    match (head, last) {
        (None, None) => {}
        (Some((hs, hh)), Some((ls, lh))) => {
            if ls < hs {
                problems.push(ChainProblem::Truncated {
                    last_seq: ls,
                    head_seq: hs,
                });
            } else if ls != hs || lh != hh {
                problems.push(ChainProblem::HeadMismatch);
            }
        }
        (Some((hs, _)), None) => problems.push(ChainProblem::Truncated {
            last_seq: 0,
            head_seq: hs,
        }),
        (None, Some(_)) => problems.push(ChainProblem::HeadMismatch),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> AuditKey {
        AuditKey::new([b; 32])
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        chain_with(&key(1), n)
    }

    fn chain_with(k: &AuditKey, n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|seq| {
                let entry = AuditEntry {
                    at: 1000 + seq,
                    actor: "admin".into(),
                    action: "certificate-issued".into(),
                    serial: Some(format!("{seq:032x}")),
                    subject: Some("CN=a@example.com".into()),
                    detail: "profile=signing".into(),
                };
                let hash = record_hash(k, seq, &entry, &prev);
                let r = AuditRecord {
                    seq,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn head(c: &[AuditRecord]) -> Option<(i64, Vec<u8>)> {
        c.last().map(|r| (r.seq, r.hash.clone()))
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_chain(&key(1), &c, head(&c)), vec![]);
        assert_eq!(verify_chain(&key(1), &[], None), vec![]);
    }

    #[test]
    fn edits_reorders_and_deletions_are_found() {
        let c = chain(5);
        let h = head(&c);
        let mut edited = c.clone();
        edited[2].entry.actor = "mallory".into();
        assert_eq!(
            verify_chain(&key(1), &edited, h.clone()),
            vec![ChainProblem::Altered { seq: 3 }]
        );

        let mut reordered = c.clone();
        reordered.swap(1, 2);
        assert!(!verify_chain(&key(1), &reordered, h.clone()).is_empty());

        let mut deleted = c.clone();
        deleted.remove(1);
        assert!(
            verify_chain(&key(1), &deleted, h.clone()).contains(&ChainProblem::Gap {
                expected: 2,
                found: 3
            })
        );

        let truncated = &c[..4];
        assert_eq!(
            verify_chain(&key(1), truncated, h),
            vec![ChainProblem::Truncated {
                last_seq: 4,
                head_seq: 5
            }]
        );
    }

    #[test]
    fn a_chain_rebuilt_without_the_key_does_not_verify() {
        // An intruder edits a record and recomputes every hash and the head, but with a key
        // of their own: every record fails.
        let mut forged = chain_with(&key(9), 5);
        forged[2].entry.actor = "mallory".into();
        let h = head(&forged);
        let problems = verify_chain(&key(1), &forged, h);
        assert!(
            problems.contains(&ChainProblem::Altered { seq: 1 }),
            "{problems:?}"
        );
        let altered = problems
            .iter()
            .filter(|p| matches!(p, ChainProblem::Altered { .. }))
            .count();
        assert_eq!(altered, 5);
    }
}
