//! What the LDAP certificate directory (`cachet-directory`, issue #7) needs from the
//! installation: the people it publishes with their publishable certificates, a change
//! marker and feed so it can stay current without rereading everything, and an audit record
//! for every write a client attempted (the directory is read-only to clients).
//!
//! Who is published: every active account, and every other mailbox that has publishable
//! certificates (issued with `cachet cert issue` without an account) — except mailboxes whose
//! account is disabled or removed. The time is a parameter; the only I/O is the store.

use crate::ca::{Cachet, audit};
use crate::error::Result;
use crate::keyring::Kek;
use cachet_pki::profile::normalize_email;
use cachet_store::{AccountState, CertificateRecord};
use std::collections::{BTreeMap, BTreeSet};

/// A mailbox as the directory publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPerson {
    /// The mailbox (normalised: lower-case domain).
    pub email: String,
    /// The account's display name, if it has one.
    pub name: Option<String>,
    /// Certificates neither revoked, superseded nor expired when read (the reader checks
    /// notBefore/notAfter again when it answers).
    pub certificates: Vec<CertificateRecord>,
}

/// What changed after a known audit sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryDelta {
    /// Nothing.
    None,
    /// The mailboxes to read again, and the sequence number they bring the reader to.
    Mailboxes {
        /// The new marker.
        marker: i64,
        /// Mailboxes (normalised) that may have changed.
        emails: BTreeSet<String>,
    },
    /// Too much (or the log went backwards): read everything again.
    Everything,
}

/// Changes read at most per [`Cachet::directory_delta`] before the reader is told to reload
/// everything instead.
pub const MAX_DELTA_RECORDS: i64 = 5_000;

fn mailbox(s: &str) -> Option<String> {
    if s.contains('=') {
        return None; // a DN, not a mailbox
    }
    normalize_email(s.trim()).ok()
}

impl Cachet {
    /// The directory's change marker: the newest audit sequence number.
    pub async fn directory_marker(&self) -> Result<i64> {
        Ok(self.store.directory_marker().await?)
    }

    /// Everyone the directory publishes at `now`, in address order.
    pub async fn directory_people(&self, now: u64) -> Result<Vec<DirectoryPerson>> {
        let accounts = self.store.accounts(None).await?;
        let certs = self
            .store
            .publishable_certificates(None, now as i64)
            .await?;
        let mut people: BTreeMap<String, DirectoryPerson> = BTreeMap::new();
        let mut hidden = BTreeSet::new();
        for a in accounts {
            let Some(email) = mailbox(&a.email) else {
                continue;
            };
            if a.state == AccountState::Active {
                people.insert(
                    email.clone(),
                    DirectoryPerson {
                        email,
                        name: a.name,
                        certificates: Vec::new(),
                    },
                );
            } else {
                hidden.insert(email);
            }
        }
        for c in certs {
            let Some(email) = mailbox(&c.email) else {
                continue;
            };
            if hidden.contains(&email) {
                continue;
            }
            people
                .entry(email.clone())
                .or_insert_with(|| DirectoryPerson {
                    email,
                    name: None,
                    certificates: Vec::new(),
                })
                .certificates
                .push(c);
        }
        Ok(people.into_values().collect())
    }

    /// One mailbox as published at `now`, or `None` when it is not (no active account and
    /// no publishable certificate, or a disabled or removed account).
    pub async fn directory_person(&self, email: &str, now: u64) -> Result<Option<DirectoryPerson>> {
        let Some(email) = mailbox(email) else {
            return Ok(None);
        };
        let account = self.store.account(&email).await?;
        if let Some(a) = &account
            && a.state != AccountState::Active
        {
            return Ok(None);
        }
        let certificates = self
            .store
            .publishable_certificates(Some(&email), now as i64)
            .await?;
        if account.is_none() && certificates.is_empty() {
            return Ok(None);
        }
        Ok(Some(DirectoryPerson {
            name: account.and_then(|a| a.name),
            email,
            certificates,
        }))
    }

    /// What changed after audit sequence number `after` (see [`DirectoryDelta`]).
    pub async fn directory_delta(&self, after: i64) -> Result<DirectoryDelta> {
        let marker = self.store.directory_marker().await?;
        if marker == after {
            return Ok(DirectoryDelta::None);
        }
        if marker < after || marker - after > MAX_DELTA_RECORDS {
            return Ok(DirectoryDelta::Everything);
        }
        let changes = self
            .store
            .directory_changes(after, MAX_DELTA_RECORDS)
            .await?;
        let mut emails = BTreeSet::new();
        let mut seen = after;
        for c in changes {
            seen = seen.max(c.seq);
            if let Some(e) = c.certificate_email.as_deref().and_then(mailbox) {
                emails.insert(e);
            }
            if let Some(e) = c.subject.as_deref().and_then(mailbox) {
                emails.insert(e);
            }
        }
        Ok(DirectoryDelta::Mailboxes {
            marker: seen,
            emails,
        })
    }

    /// Records that a directory client attempted a write (`action`, e.g. `ldap-modify`) on
    /// `target` and was refused. `actor` names the client (`ldap:ADDR` and its bind DN).
    pub async fn audit_directory_refusal(
        &self,
        kek: &Kek,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
        now: u64,
    ) -> Result<()> {
        let entry = audit(
            now,
            actor,
            "directory-write-refused",
            None,
            Some(target.chars().take(512).collect()),
            format!("operation={action} {detail}"),
        );
        self.store
            .append_audit_entry(&kek.audit_key(), &entry)
            .await?;
        Ok(())
    }
}
