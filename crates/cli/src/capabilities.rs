//! What correspondents can decrypt, learnt from their signed mail: the SMIMECapabilities a
//! valid signature carried (RFC 8551 §2.5.2), kept per address in a small JSON file that
//! `cachet smime verify --capabilities FILE` writes and `cachet smime encrypt --capabilities
//! FILE` reads to choose AES-GCM when every recipient is known to read it (RFC 8551 §2.7.1),
//! as mail clients do with their address books.
//!
//! Only valid signatures (trust-anchored, address matching) are recorded; a newer signing
//! time replaces an older one. The file holds no secret but is written 0600 like everything
//! Cachet makes about people, and replaced atomically.

use crate::io::{CliError, Output, Result};
use cachet_pki::ParsedCertificate;
use cachet_smime::signed::SignedReport;
use const_oid::ObjectIdentifier;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// One correspondent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The capabilities advertised, in the signer's order of preference.
    pub capabilities: Vec<ObjectIdentifier>,
    /// The signingTime of the signature they came from (seconds since the epoch).
    pub signed_at: u64,
}

/// The capabilities of every correspondent seen, by lower-case address.
#[derive(Debug, Default)]
pub struct Book {
    entries: BTreeMap<String, Entry>,
}

impl Book {
    /// Reads `path`; a missing file is an empty book.
    pub fn load(path: &Path) -> Result<Book> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Book::default()),
            Err(e) => return Err(CliError(format!("cannot read {}: {e}", path.display()))),
        };
        let bad = |what: &str| CliError(format!("{}: {what}", path.display()));
        let v: Value = serde_json::from_slice(&text)
            .map_err(|e| bad(&format!("not a capabilities file ({e})")))?;
        let mut entries = BTreeMap::new();
        let map = v
            .get("correspondents")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no \"correspondents\" object"))?;
        for (address, e) in map {
            let capabilities = e
                .get("capabilities")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(&format!("{address}: no capabilities list")))?
                .iter()
                .map(|o| {
                    o.as_str()
                        .and_then(|s| ObjectIdentifier::new(s).ok())
                        .ok_or_else(|| bad(&format!("{address}: {o} is not an OID")))
                })
                .collect::<Result<Vec<_>>>()?;
            let signed_at = e
                .get("signed_at")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(&format!("{address}: no signed_at")))?;
            entries.insert(
                address.to_ascii_lowercase(),
                Entry {
                    capabilities,
                    signed_at,
                },
            );
        }
        Ok(Book { entries })
    }

    /// Records the capabilities of every signer of a *valid* report, under each address of
    /// its certificate; returns how many addresses were recorded or updated.
    pub fn record(&mut self, report: &SignedReport, now: u64) -> usize {
        if !report.verdict.is_valid() {
            return 0;
        }
        let mut n = 0;
        for s in &report.signers {
            let (Some(cert), false) = (&s.certificate, s.capabilities.is_empty()) else {
                continue;
            };
            let signed_at = s.signing_time.unwrap_or(now);
            for address in cert.email_addresses().unwrap_or_default() {
                let key = address.to_ascii_lowercase();
                let newer = self
                    .entries
                    .get(&key)
                    .is_none_or(|old| old.signed_at <= signed_at);
                if newer {
                    self.entries.insert(
                        key,
                        Entry {
                            capabilities: s.capabilities.clone(),
                            signed_at,
                        },
                    );
                    n += 1;
                }
            }
        }
        n
    }

    /// What the holder of `cert` advertised, by any of its addresses.
    pub fn lookup(&self, cert: &ParsedCertificate) -> Option<&Entry> {
        cert.email_addresses()
            .unwrap_or_default()
            .iter()
            .find_map(|a| self.entries.get(&a.to_ascii_lowercase()))
    }

    /// Writes the book to `path` atomically (a 0600 temporary file renamed into place).
    pub fn save(&self, path: &Path) -> Result<()> {
        let correspondents: serde_json::Map<String, Value> = self
            .entries
            .iter()
            .map(|(a, e)| {
                (
                    a.clone(),
                    json!({
                        "capabilities": e.capabilities.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
                        "signed_at": e.signed_at,
                    }),
                )
            })
            .collect();
        let text = serde_json::to_vec_pretty(&json!({ "correspondents": correspondents }))
            .map_err(|e| CliError(e.to_string()))?;
        let mut out = Output::open(Some(path))?;
        out.write_all(&text)
            .and_then(|_| out.write_all(b"\n"))
            .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
        out.commit()?;
        Ok(())
    }
}
