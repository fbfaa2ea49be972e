//! The trust store's tables (schema `cachet-2`): trust anchors with their constraints,
//! trusted intermediates and imported CRLs. Every change is written together with its audit
//! record, in one transaction.
//!
//! The store keeps what it is given; deciding what may be trusted (parsing, signature
//! checks) is the service's work. The one rule applied here is which of two CRLs of the same
//! scope is kept, because reading the stored one and replacing it must happen in one
//! transaction (see [`crl_supersedes`]).

use crate::audit::{AuditEntry, AuditKey};
use crate::db::DbRow;
use crate::error::Result;
use crate::store::{Store, append_audit};
use sqlx::Row;

/// A trust anchor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchorRecord {
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// The administrator's name for it, if given.
    pub label: Option<String>,
    /// rfc822Name subtrees it may vouch for (RFC 5280 §4.2.1.10); empty: any address.
    pub permitted_email: Vec<String>,
    /// Its own revocation policy (`off`, `prefer`, `require`); `None`: the verifier's.
    pub revocation: Option<String>,
    /// DER certificate.
    pub der: Vec<u8>,
    /// When it was added.
    pub added_at: i64,
}

/// A trusted intermediate (a certificate that may complete a path) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustIntermediateRecord {
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// DER certificate.
    pub der: Vec<u8>,
    /// When it was added.
    pub added_at: i64,
}

/// An imported CRL as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedCrlRecord {
    /// SHA-256 of the DER CRL, lower-case hex.
    pub fingerprint: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Issuer, DER (part of the scope).
    pub issuer_der: Vec<u8>,
    /// The issuingDistributionPoint extension's value (DER), empty when the CRL has none
    /// (part of the scope).
    pub idp_der: Vec<u8>,
    /// Whether it is a delta CRL (deltaCRLIndicator present; part of the scope).
    pub delta: bool,
    /// cRLNumber, when present and within 63 bits.
    pub crl_number: Option<i64>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate, when present.
    pub next_update: Option<i64>,
    /// DER CRL.
    pub der: Vec<u8>,
    /// When it was imported.
    pub imported_at: i64,
}

/// What adding a certificate did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome<T> {
    /// Stored, with its audit record.
    Added,
    /// The same certificate was already there: nothing changed, no audit record.
    AlreadyPresent(T),
}

/// What importing a CRL did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrlImportOutcome {
    /// Stored; no CRL of its scope was there.
    Stored,
    /// Stored in place of this older CRL of the same scope.
    Replaced(ImportedCrlRecord),
    /// Not stored: this CRL of the same scope is as new or newer.
    KeptNewer(ImportedCrlRecord),
    /// The very same CRL was already stored.
    AlreadyPresent,
}

/// Whether `new` supersedes `old`, two CRLs of the same scope: the higher cRLNumber wins
/// (RFC 5280 §5.2.3: numbers increase monotonically within a scope); when either lacks a
/// number, or the numbers are equal, the later thisUpdate. A tie keeps `old`, so importing
/// a file twice, or an older file after a newer one, changes nothing.
pub fn crl_supersedes(new: &ImportedCrlRecord, old: &ImportedCrlRecord) -> bool {
    match (new.crl_number, old.crl_number) {
        (Some(n), Some(o)) if n != o => n > o,
        _ => new.this_update > old.this_update,
    }
}

fn anchor_row(r: &DbRow) -> Result<TrustAnchorRecord> {
    Ok(TrustAnchorRecord {
        fingerprint: r.try_get("fingerprint")?,
        subject: r.try_get("subject")?,
        label: r.try_get("label")?,
        permitted_email: Vec::new(),
        revocation: r.try_get("revocation")?,
        der: r.try_get("der")?,
        added_at: r.try_get("added_at")?,
    })
}

fn intermediate_row(r: &DbRow) -> Result<TrustIntermediateRecord> {
    Ok(TrustIntermediateRecord {
        fingerprint: r.try_get("fingerprint")?,
        subject: r.try_get("subject")?,
        der: r.try_get("der")?,
        added_at: r.try_get("added_at")?,
    })
}

fn crl_row(r: &DbRow) -> Result<ImportedCrlRecord> {
    Ok(ImportedCrlRecord {
        fingerprint: r.try_get("fingerprint")?,
        issuer: r.try_get("issuer")?,
        issuer_der: r.try_get("issuer_der")?,
        idp_der: r.try_get("idp_der")?,
        delta: r.try_get::<i64, _>("delta")? != 0,
        crl_number: r.try_get("crl_number")?,
        this_update: r.try_get("this_update")?,
        next_update: r.try_get("next_update")?,
        der: r.try_get("der")?,
        imported_at: r.try_get("imported_at")?,
    })
}

impl Store {
    /// Every trust anchor, oldest first, with its permitted subtrees.
    pub async fn trust_anchors(&self) -> Result<Vec<TrustAnchorRecord>> {
        let rows = sqlx::query("SELECT * FROM trust_anchors ORDER BY added_at, fingerprint")
            .fetch_all(&self.pool)
            .await?;
        let mut anchors = rows.iter().map(anchor_row).collect::<Result<Vec<_>>>()?;
        let emails =
            sqlx::query("SELECT anchor, subtree FROM trust_anchor_emails ORDER BY anchor, subtree")
                .fetch_all(&self.pool)
                .await?;
        for e in &emails {
            let anchor: String = e.try_get("anchor")?;
            let subtree: String = e.try_get("subtree")?;
            if let Some(a) = anchors.iter_mut().find(|a| a.fingerprint == anchor) {
                a.permitted_email.push(subtree);
            }
        }
        Ok(anchors)
    }

    /// Every trusted intermediate, oldest first.
    pub async fn trust_intermediates(&self) -> Result<Vec<TrustIntermediateRecord>> {
        sqlx::query("SELECT * FROM trust_intermediates ORDER BY added_at, fingerprint")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(intermediate_row)
            .collect()
    }

    /// Every imported CRL, by issuer.
    pub async fn imported_crls(&self) -> Result<Vec<ImportedCrlRecord>> {
        sqlx::query("SELECT * FROM imported_crls ORDER BY issuer, delta, this_update")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(crl_row)
            .collect()
    }

    /// Adds a trust anchor and its audit record in one transaction; an anchor with the same
    /// fingerprint already there is returned instead, unchanged.
    pub async fn add_trust_anchor(
        &self,
        key: &AuditKey,
        a: &TrustAnchorRecord,
        audit: &AuditEntry,
    ) -> Result<AddOutcome<TrustAnchorRecord>> {
        let mut tx = self.begin().await?;
        if let Some(r) = sqlx::query("SELECT * FROM trust_anchors WHERE fingerprint = $1")
            .bind(&a.fingerprint)
            .fetch_optional(&mut *tx)
            .await?
        {
            let mut existing = anchor_row(&r)?;
            existing.permitted_email = sqlx::query_scalar(
                "SELECT subtree FROM trust_anchor_emails WHERE anchor = $1 ORDER BY subtree",
            )
            .bind(&a.fingerprint)
            .fetch_all(&mut *tx)
            .await?;
            return Ok(AddOutcome::AlreadyPresent(existing));
        }
        sqlx::query(
            "INSERT INTO trust_anchors (fingerprint, subject, label, revocation, der, added_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&a.fingerprint)
        .bind(&a.subject)
        .bind(&a.label)
        .bind(&a.revocation)
        .bind(&a.der)
        .bind(a.added_at)
        .execute(&mut *tx)
        .await?;
        let mut subtrees: Vec<&String> = a.permitted_email.iter().collect();
        subtrees.sort();
        subtrees.dedup();
        for s in subtrees {
            sqlx::query("INSERT INTO trust_anchor_emails (anchor, subtree) VALUES ($1, $2)")
                .bind(&a.fingerprint)
                .bind(s)
                .execute(&mut *tx)
                .await?;
        }
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(AddOutcome::Added)
    }

    /// Adds a trusted intermediate and its audit record in one transaction; one with the same
    /// fingerprint already there is returned instead, unchanged.
    pub async fn add_trust_intermediate(
        &self,
        key: &AuditKey,
        c: &TrustIntermediateRecord,
        audit: &AuditEntry,
    ) -> Result<AddOutcome<TrustIntermediateRecord>> {
        let mut tx = self.begin().await?;
        if let Some(r) = sqlx::query("SELECT * FROM trust_intermediates WHERE fingerprint = $1")
            .bind(&c.fingerprint)
            .fetch_optional(&mut *tx)
            .await?
        {
            return Ok(AddOutcome::AlreadyPresent(intermediate_row(&r)?));
        }
        sqlx::query(
            "INSERT INTO trust_intermediates (fingerprint, subject, der, added_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&c.fingerprint)
        .bind(&c.subject)
        .bind(&c.der)
        .bind(c.added_at)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(AddOutcome::Added)
    }

    /// Removes the trust anchor `fingerprint` (and its constraints) with its audit record.
    /// Returns whether it was there; nothing is recorded when it was not.
    pub async fn remove_trust_anchor(
        &self,
        key: &AuditKey,
        fingerprint: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM trust_anchor_emails WHERE anchor = $1")
            .bind(fingerprint)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM trust_anchors WHERE fingerprint = $1")
            .bind(fingerprint)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes the trusted intermediate `fingerprint` with its audit record. Returns whether
    /// it was there; nothing is recorded when it was not.
    pub async fn remove_trust_intermediate(
        &self,
        key: &AuditKey,
        fingerprint: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM trust_intermediates WHERE fingerprint = $1")
            .bind(fingerprint)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Imports a CRL, keeping one CRL per scope (issuer, issuingDistributionPoint, complete
    /// or delta): stored when its scope has none, in place of an older one when
    /// [`crl_supersedes`] says so, not at all otherwise. `audit` makes the record from the CRL
    /// replaced, if any; it is appended only when something was stored.
    pub async fn import_crl(
        &self,
        key: &AuditKey,
        c: &ImportedCrlRecord,
        audit: impl FnOnce(Option<&ImportedCrlRecord>) -> AuditEntry,
    ) -> Result<CrlImportOutcome> {
        let mut tx = self.begin().await?;
        let existing = sqlx::query(
            "SELECT * FROM imported_crls WHERE issuer_der = $1 AND idp_der = $2 AND delta = $3",
        )
        .bind(&c.issuer_der)
        .bind(&c.idp_der)
        .bind(i64::from(c.delta))
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(crl_row)
        .transpose()?;
        if let Some(old) = &existing {
            if old.fingerprint == c.fingerprint {
                return Ok(CrlImportOutcome::AlreadyPresent);
            }
            if !crl_supersedes(c, old) {
                return Ok(CrlImportOutcome::KeptNewer(old.clone()));
            }
            sqlx::query("DELETE FROM imported_crls WHERE fingerprint = $1")
                .bind(&old.fingerprint)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO imported_crls (fingerprint, issuer, issuer_der, idp_der, delta, crl_number, this_update, next_update, der, imported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&c.fingerprint)
        .bind(&c.issuer)
        .bind(&c.issuer_der)
        .bind(&c.idp_der)
        .bind(i64::from(c.delta))
        .bind(c.crl_number)
        .bind(c.this_update)
        .bind(c.next_update)
        .bind(&c.der)
        .bind(c.imported_at)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, key, &audit(existing.as_ref())).await?;
        tx.commit().await?;
        Ok(match existing {
            Some(old) => CrlImportOutcome::Replaced(old),
            None => CrlImportOutcome::Stored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::verify_chain;

    fn key() -> AuditKey {
        AuditKey::new([7; 32])
    }

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            at: 1000,
            actor: "test".into(),
            action: action.into(),
            serial: None,
            subject: None,
            detail: String::new(),
        }
    }

    fn crl(fp: &str, number: Option<i64>, this_update: i64) -> ImportedCrlRecord {
        ImportedCrlRecord {
            fingerprint: fp.into(),
            issuer: "CN=Partner CA".into(),
            issuer_der: vec![0x30, 0x01, 0x02],
            idp_der: Vec::new(),
            delta: false,
            crl_number: number,
            this_update,
            next_update: Some(this_update + 86_400),
            der: fp.as_bytes().to_vec(),
            imported_at: 5,
        }
    }

    async fn store(dir: &tempfile::TempDir) -> Store {
        Store::create(&dir.path().join("cachet.db")).await.unwrap()
    }

    #[test]
    fn higher_number_wins_then_later_this_update() {
        assert!(crl_supersedes(
            &crl("b", Some(2), 100),
            &crl("a", Some(1), 200)
        ));
        assert!(!crl_supersedes(
            &crl("b", Some(1), 300),
            &crl("a", Some(2), 200)
        ));
        // Equal numbers, or a number missing on either side: thisUpdate decides.
        assert!(crl_supersedes(
            &crl("b", Some(2), 300),
            &crl("a", Some(2), 200)
        ));
        assert!(crl_supersedes(
            &crl("b", None, 300),
            &crl("a", Some(9), 200)
        ));
        assert!(!crl_supersedes(
            &crl("b", Some(9), 100),
            &crl("a", None, 200)
        ));
        // A tie keeps the stored one.
        assert!(!crl_supersedes(&crl("b", None, 200), &crl("a", None, 200)));
    }

    #[tokio::test]
    async fn a_newer_crl_of_the_same_scope_replaces_the_older_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let k = key();
        let e = |_: Option<&ImportedCrlRecord>| entry("crl-imported");
        assert_eq!(
            s.import_crl(&k, &crl("n1", Some(1), 100), e).await.unwrap(),
            CrlImportOutcome::Stored
        );
        assert_eq!(
            s.import_crl(&k, &crl("n1", Some(1), 100), e).await.unwrap(),
            CrlImportOutcome::AlreadyPresent
        );
        match s.import_crl(&k, &crl("n3", Some(3), 300), e).await.unwrap() {
            CrlImportOutcome::Replaced(old) => assert_eq!(old.fingerprint, "n1"),
            other => panic!("{other:?}"),
        }
        match s.import_crl(&k, &crl("n2", Some(2), 400), e).await.unwrap() {
            CrlImportOutcome::KeptNewer(kept) => assert_eq!(kept.fingerprint, "n3"),
            other => panic!("{other:?}"),
        }
        // Another scope lives beside it: a delta CRL, another distribution point, another
        // issuer.
        let mut delta = crl("d1", Some(4), 300);
        delta.delta = true;
        let mut idp = crl("p1", Some(1), 300);
        idp.idp_der = vec![0x30, 0x00];
        let mut other = crl("o1", Some(1), 300);
        other.issuer_der = vec![0x30, 0x01, 0x03];
        for c in [&delta, &idp, &other] {
            assert_eq!(
                s.import_crl(&k, c, e).await.unwrap(),
                CrlImportOutcome::Stored
            );
        }
        let mut stored: Vec<String> = s
            .imported_crls()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.fingerprint)
            .collect();
        stored.sort();
        assert_eq!(stored, ["d1", "n3", "o1", "p1"]);
        // Stored, Replaced and the three other scopes were recorded; the no-ops were not.
        let (records, head) = s.audit_log().await.unwrap();
        assert_eq!(records.len(), 5);
        assert!(verify_chain(&k, &records, head).is_empty());
    }

    #[tokio::test]
    async fn anchors_keep_their_constraints_and_adding_twice_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let k = key();
        let a = TrustAnchorRecord {
            fingerprint: "ab".repeat(32),
            subject: "CN=Partner Root".into(),
            label: Some("partner".into()),
            permitted_email: vec![".partner.example".into(), "partner.example".into()],
            revocation: Some("require".into()),
            der: vec![1, 2, 3],
            added_at: 10,
        };
        assert_eq!(
            s.add_trust_anchor(&k, &a, &entry("trust-anchor-added"))
                .await
                .unwrap(),
            AddOutcome::Added
        );
        let mut again = a.clone();
        again.permitted_email.clear();
        assert_eq!(
            s.add_trust_anchor(&k, &again, &entry("trust-anchor-added"))
                .await
                .unwrap(),
            AddOutcome::AlreadyPresent(a.clone())
        );
        assert_eq!(s.trust_anchors().await.unwrap(), vec![a.clone()]);
        let i = TrustIntermediateRecord {
            fingerprint: "cd".repeat(32),
            subject: "CN=Partner Issuing".into(),
            der: vec![4, 5],
            added_at: 11,
        };
        assert_eq!(
            s.add_trust_intermediate(&k, &i, &entry("trust-intermediate-added"))
                .await
                .unwrap(),
            AddOutcome::Added
        );
        assert_eq!(s.trust_intermediates().await.unwrap(), vec![i.clone()]);

        assert!(
            s.remove_trust_anchor(&k, &a.fingerprint, &entry("trust-anchor-removed"))
                .await
                .unwrap()
        );
        assert!(
            !s.remove_trust_anchor(&k, &a.fingerprint, &entry("trust-anchor-removed"))
                .await
                .unwrap()
        );
        assert!(
            s.remove_trust_intermediate(&k, &i.fingerprint, &entry("x"))
                .await
                .unwrap()
        );
        assert!(s.trust_anchors().await.unwrap().is_empty());
        assert!(s.trust_intermediates().await.unwrap().is_empty());
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trust_anchor_emails")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        let (records, head) = s.audit_log().await.unwrap();
        let actions: Vec<&str> = records.iter().map(|r| r.entry.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "trust-anchor-added",
                "trust-intermediate-added",
                "trust-anchor-removed",
                "x"
            ]
        );
        assert!(verify_chain(&k, &records, head).is_empty());
    }
}
