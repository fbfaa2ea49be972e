//! What `cachet serve` publishes (issue #6): the current certificates of a mailbox for the
//! HTTPS lookup, the delegated OCSP signers of each CA (RFC 6960 §4.2.2.2, schema
//! `cachet-4`), and the revocation facts the service needs to decide whether a stored CRL is
//! still current.
//!
//! Queries use `$1, $2…` placeholders, which SQLite accepts and PostgreSQL requires.

use crate::audit::{AuditEntry, AuditKey};
use crate::db::DbRow;
use crate::error::Result;
use crate::store::{CertificateRecord, Store, append_audit, cert_row};
use sqlx::Row;

/// A delegated OCSP responder of a CA, as stored: a short-lived certificate with
/// id-kp-OCSPSigning issued by the CA, and its private key sealed by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspSignerRecord {
    /// The responder certificate's serial, lower-case hex.
    pub serial: String,
    /// The slug of the CA that issued it (whose certificates it answers for).
    pub ca: String,
    /// DER certificate.
    pub cert_der: Vec<u8>,
    /// The private key (PKCS#8), sealed under the key-encryption key. Never plaintext.
    pub sealed_key: Vec<u8>,
    /// notAfter of the certificate.
    pub not_after: i64,
    /// When it was made.
    pub created_at: i64,
}

/// How many certificates of a CA are revoked, and the newest revocation time: enough to
/// tell whether a CRL (which lists every revoked certificate of its CA) is out of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RevocationSummary {
    /// Number of revoked certificates.
    pub count: i64,
    /// The latest `revoked_at`, if any certificate is revoked.
    pub latest: Option<i64>,
}

fn signer_row(r: &DbRow) -> Result<OcspSignerRecord> {
    Ok(OcspSignerRecord {
        serial: r.try_get("serial")?,
        ca: r.try_get("ca")?,
        cert_der: r.try_get("cert_der")?,
        sealed_key: r.try_get("sealed_key")?,
        not_after: r.try_get("not_after")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// The certificates of `email` (compared case-insensitively) that are current at `now`:
    /// not revoked, not superseded by a renewal, and `not_before <= now <= not_after`
    /// (RFC 5280 §4.1.2.5: both ends are inside the validity period). Newest first.
    pub async fn live_certificates(&self, email: &str, now: i64) -> Result<Vec<CertificateRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM certificates
             WHERE lower(email) = lower($1)
               AND revoked_at IS NULL AND superseded_by IS NULL
               AND not_before <= $2 AND not_after >= $2
             ORDER BY not_before DESC, issued_at DESC, serial",
        )
        .bind(email)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(cert_row).collect()
    }

    /// The revoked certificates of CA `ca`: how many, and the latest revocation time.
    pub async fn revocation_summary(&self, ca: &str) -> Result<RevocationSummary> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(revoked_at) AS latest FROM certificates
             WHERE ca = $1 AND revoked_at IS NOT NULL",
        )
        .bind(ca)
        .fetch_one(&self.pool)
        .await?;
        Ok(RevocationSummary {
            count: r.try_get("n")?,
            latest: r.try_get("latest")?,
        })
    }

    /// The same summary over every CA: a cheap marker that changes whenever any
    /// certificate is revoked (by this process or another one sharing the database).
    pub async fn revocation_marker(&self) -> Result<RevocationSummary> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(revoked_at) AS latest FROM certificates
             WHERE revoked_at IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(RevocationSummary {
            count: r.try_get("n")?,
            latest: r.try_get("latest")?,
        })
    }

    /// Stores a new OCSP signer and its audit record in one transaction.
    pub async fn insert_ocsp_signer(
        &self,
        key: &AuditKey,
        signer: &OcspSignerRecord,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO ocsp_signers (serial, ca, cert_der, sealed_key, not_after, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&signer.serial)
        .bind(&signer.ca)
        .bind(&signer.cert_der)
        .bind(&signer.sealed_key)
        .bind(signer.not_after)
        .bind(signer.created_at)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, key, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest OCSP signer of CA `ca` still valid at `now` (the one made last, among
    /// those whose `not_after` is not past), if any.
    pub async fn ocsp_signer(&self, ca: &str, now: i64) -> Result<Option<OcspSignerRecord>> {
        sqlx::query(
            "SELECT * FROM ocsp_signers WHERE ca = $1 AND not_after > $2
             ORDER BY created_at DESC, not_after DESC LIMIT 1",
        )
        .bind(ca)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(signer_row)
        .transpose()
    }

    /// Whether the database answers (for health checks): reads the schema marker.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
            .bind("schema")
            .fetch_optional(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(serial: &str, email: &str, nb: i64, na: i64) -> CertificateRecord {
        CertificateRecord {
            serial: serial.into(),
            ca: "issuing".into(),
            email: email.into(),
            subject: format!("CN={email}"),
            profile: "signing".into(),
            key_type: "ecdsa-p256".into(),
            spki_sha256: serial.into(),
            not_before: nb,
            not_after: na,
            issued_at: nb,
            der: vec![0x30, 0x00],
            revoked_at: None,
            revocation_reason: None,
            superseded_by: None,
            superseded_at: None,
            key_origin: None,
        }
    }

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            at: 1,
            actor: "test".into(),
            action: action.into(),
            serial: None,
            subject: None,
            detail: String::new(),
        }
    }

    async fn store_with_ca(dir: &std::path::Path) -> (Store, AuditKey) {
        let s = Store::create(&dir.join("cachet.db")).await.unwrap();
        let key = AuditKey::new([7; 32]);
        let ca = crate::CaRecord {
            slug: "issuing".into(),
            role: "issuing".into(),
            parent: None,
            cert_der: vec![0x30, 0x00],
            sealed_key: vec![1],
            next_crl_number: 1,
            created_at: 0,
        };
        s.initialize(&key, &[], &[ca], None, &[]).await.unwrap();
        (s, key)
    }

    #[tokio::test]
    async fn live_certificates_leave_out_revoked_superseded_and_expired_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (s, key) = store_with_ca(dir.path()).await;
        for c in [
            cert("01", "Alice@Example.test", 100, 1000),
            cert("02", "alice@example.test", 200, 1000),
            cert("03", "alice@example.test", 200, 1000),
            cert("04", "alice@example.test", 10, 50),
            cert("05", "alice@example.test", 600, 1000),
            cert("06", "bob@example.test", 100, 1000),
        ] {
            s.insert_certificate(&key, &c, &entry("certificate-issued"))
                .await
                .unwrap();
        }
        s.revoke(&key, "03", 300, "superseded", &entry("certificate-revoked"))
            .await
            .unwrap();
        sqlx::query(
            "UPDATE certificates SET superseded_by = '02', superseded_at = 250 WHERE serial = '01'",
        )
        .execute(&s.pool)
        .await
        .unwrap();
        let live = s
            .live_certificates("ALICE@example.TEST", 500)
            .await
            .unwrap();
        let serials: Vec<_> = live.iter().map(|c| c.serial.as_str()).collect();
        assert_eq!(serials, ["02"]);
        let sum = s.revocation_summary("issuing").await.unwrap();
        assert_eq!(
            sum,
            RevocationSummary {
                count: 1,
                latest: Some(300)
            }
        );
        assert_eq!(s.revocation_marker().await.unwrap(), sum);
        s.close().await;
    }

    #[tokio::test]
    async fn the_newest_valid_signer_is_chosen_and_audited() {
        let dir = tempfile::tempdir().unwrap();
        let (s, key) = store_with_ca(dir.path()).await;
        assert!(s.ocsp_signer("issuing", 0).await.unwrap().is_none());
        for (serial, na, created) in [("0a", 700, 100), ("0b", 1300, 600), ("0c", 400, 700)] {
            let r = OcspSignerRecord {
                serial: serial.into(),
                ca: "issuing".into(),
                cert_der: vec![0x30, 0x00],
                sealed_key: vec![2],
                not_after: na,
                created_at: created,
            };
            s.insert_ocsp_signer(&key, &r, &entry("ocsp-signer-issued"))
                .await
                .unwrap();
        }
        assert_eq!(
            s.ocsp_signer("issuing", 500).await.unwrap().unwrap().serial,
            "0b"
        );
        assert!(s.ocsp_signer("issuing", 1300).await.unwrap().is_none());
        let (log, head) = s.audit_log().await.unwrap();
        assert_eq!(log.len(), 3);
        assert!(crate::audit::verify_chain(&key, &log, head).is_empty());
        s.ping().await.unwrap();
        s.close().await;
    }
}
