//! Enrollment over Secure Transport (RFC 7030): the use-cases behind `/.well-known/est/`.
//! The HTTP layer authenticates the caller (HTTP Basic with the account's password, or a TLS
//! client certificate Cachet issued) and hands over the mailbox; this module decides what
//! that account may receive.
//!
//! Which certificate an enrollment yields is chosen by the optional path label (RFC 7030
//! §3.2.2): `signing`, `encryption` or `dual`. Without a label, `simpleenroll` issues a
//! signing certificate (the client holds the key), and `serverkeygen` an encryption
//! certificate whose key Cachet generates and archives when key recovery is on, or a dual
//! certificate when it is off.

use crate::ca::{Cachet, IssueRequest, Issued, KeySource, audit};
use crate::config::EnrollmentPolicy;
use crate::error::{Result, ServiceError};
use crate::keyring::Kek;
use cachet_pki::ParsedCertificate;
use cachet_pki::profile::{Profile, normalize_email};
use cachet_store::{AccountState, CertificateRecord, NewCertificate};

/// The operation being served, for choosing the default profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstOperation {
    /// `simpleenroll` (§4.2.1).
    Enroll,
    /// `simplereenroll` (§4.2.2).
    Reenroll,
    /// `serverkeygen` (§4.4).
    ServerKeygen,
}

impl EstOperation {
    fn name(self) -> &'static str {
        match self {
            EstOperation::Enroll => "simpleenroll",
            EstOperation::Reenroll => "simplereenroll",
            EstOperation::ServerKeygen => "serverkeygen",
        }
    }
}

/// The profile of an EST request: the label's, else the operation's default.
pub fn est_profile(label: Option<&str>, op: EstOperation, recovery: bool) -> Result<Profile> {
    match label {
        Some(l) => l.parse::<Profile>().map_err(|_| {
            ServiceError::Invalid(format!(
                "unknown EST label '{l}': use signing, encryption or dual"
            ))
        }),
        None => Ok(match op {
            EstOperation::Enroll | EstOperation::Reenroll => Profile::Signing,
            EstOperation::ServerKeygen if recovery => Profile::Encryption,
            EstOperation::ServerKeygen => Profile::Dual,
        }),
    }
}

impl Cachet {
    /// `/cacerts` (§4.1): the issuing CA and the root, as a certs-only SignedData (DER).
    pub async fn est_cacerts(&self) -> Result<Vec<u8>> {
        let chain = self.chain().await?;
        let ders: Vec<&[u8]> = chain.iter().map(|c| c.der()).collect();
        cachet_smime::signed::certs_only(&ders)
            .map_err(|e| ServiceError::Invalid(format!("cannot build the CA certificates: {e}")))
    }

    /// The mailbox of an active account whose current certificate `der` is (EST TLS
    /// client authentication, §3.3.2): issued by Cachet, not revoked, superseded or
    /// expired at `now`. `None` for any other certificate.
    pub async fn est_client_account(&self, der: &[u8], now: u64) -> Result<Option<String>> {
        let Ok(cert) = ParsedCertificate::from_der(der) else {
            return Ok(None);
        };
        let Some(rec) = self.store.certificate(&cert.serial_hex()).await? else {
            return Ok(None);
        };
        // Only a certificate made for signing proves who is calling: an encryption
        // certificate's key may be archived, and whoever recovered it must not gain a
        // signing certificate in the owner's name. (Dual certificates are never archived:
        // issuance refuses them while key recovery is on.)
        let signs = rec.profile.parse::<Profile>().is_ok_and(Profile::signs);
        let live = signs
            && rec.der == der
            && rec.revoked_at.is_none()
            && rec.superseded_by.is_none()
            && (rec.not_before as u64) <= now
            && now < rec.not_after as u64;
        if !live {
            return Ok(None);
        }
        match self.store.account(&rec.email).await? {
            Some(a) if a.state == AccountState::Active => Ok(Some(rec.email)),
            _ => Ok(None),
        }
    }

    /// Serves `simpleenroll`, `simplereenroll` and `serverkeygen` for the authenticated
    /// account `email`: the CSR must be signed by its key and name that mailbox (for
    /// `serverkeygen` only the mailbox matters; Cachet generates the key). A re-enrollment
    /// supersedes the account's current certificate of the same profile. The result is
    /// stored with its audit records before it is returned.
    #[allow(clippy::too_many_arguments)]
    pub async fn est_enroll(
        &self,
        kek: &Kek,
        email: &str,
        csr: &[u8],
        label: Option<&str>,
        op: EstOperation,
        policy: &EnrollmentPolicy,
        actor: &str,
        now: u64,
    ) -> Result<Issued> {
        self.est_enroll_as(kek, email, csr, label, op, policy, actor, now, None)
            .await
    }

    /// As [`Cachet::est_enroll`], for a request authenticated by the TLS client certificate
    /// `client_certificate` (DER). A re-enrollment then renews *that* certificate (RFC 7030
    /// §4.2.2: the certificate being renewed or rekeyed is the client's), when it is a
    /// current certificate of the account: without a label its profile is kept, and it is
    /// the one marked superseded. Otherwise (another profile by label, or Basic
    /// authentication) the account's newest current certificate of the profile is.
    #[allow(clippy::too_many_arguments)]
    pub async fn est_enroll_as(
        &self,
        kek: &Kek,
        email: &str,
        csr: &[u8],
        label: Option<&str>,
        op: EstOperation,
        policy: &EnrollmentPolicy,
        actor: &str,
        now: u64,
        client_certificate: Option<&[u8]>,
    ) -> Result<Issued> {
        let email = normalize_email(email)?;
        match self.store.account(&email).await? {
            Some(a) if a.state == AccountState::Active => {}
            _ => return Err(ServiceError::UnknownAccount(email)),
        }
        // The client's own certificate, when it is a current one of this account.
        let renewing = match (op, client_certificate) {
            (EstOperation::Reenroll, Some(der)) => match ParsedCertificate::from_der(der) {
                Ok(c) => self
                    .store
                    .certificate(&c.serial_hex())
                    .await?
                    .filter(|r| r.der == der && r.email.eq_ignore_ascii_case(&email)),
                Err(_) => None,
            },
            _ => None,
        };
        let profile = match (&renewing, label) {
            (Some(r), None) => r.profile.parse::<Profile>().map_err(|_| {
                ServiceError::Invalid(format!("certificate {} has no known profile", r.serial))
            })?,
            _ => est_profile(label, op, self.recovery_enabled())?,
        };
        let key = match op {
            EstOperation::ServerKeygen => {
                // The CSR still has to be well formed, signed and for this mailbox.
                let named = |e: cachet_pki::PkiError| ServiceError::Invalid(format!("CSR: {e}"));
                let v = cachet_pki::csr::VerifiedCsr::from_pem_or_der(csr).map_err(named)?;
                v.check_email(&email).map_err(named)?;
                KeySource::Generate(match profile {
                    Profile::Encryption => policy.encryption_key_type,
                    Profile::Signing | Profile::Dual => policy.signing_key_type,
                })
            }
            EstOperation::Enroll | EstOperation::Reenroll => KeySource::Csr {
                bytes: csr.to_vec(),
                source: "in the EST request".into(),
            },
        };
        let previous = if op == EstOperation::Reenroll {
            let current: Vec<CertificateRecord> = self
                .store
                .certificates(Some(&email))
                .await?
                .into_iter()
                .filter(|c| {
                    c.profile == profile.name()
                        && c.revoked_at.is_none()
                        && c.superseded_by.is_none()
                        && (c.not_after as u64) > now
                })
                .collect();
            let own = renewing
                .as_ref()
                .and_then(|r| current.iter().position(|c| c.serial == r.serial));
            let chosen = match own {
                Some(i) => current.into_iter().nth(i),
                None => current.into_iter().next_back(),
            };
            match chosen {
                Some(c) => Some(c),
                None => {
                    return Err(ServiceError::Invalid(format!(
                        "{email} has no current {profile} certificate to re-enroll: use simpleenroll"
                    )));
                }
            }
        } else {
            None
        };
        let ctx = self.issuer_context(kek).await?;
        let req = IssueRequest {
            email: email.clone(),
            profile,
            key,
            validity_days: Some(policy.validity_days),
            non_repudiation: policy.non_repudiation && profile.signs(),
            actor: actor.to_string(),
        };
        let mut p = self.prepare_issue(&ctx, req, now)?;
        if self
            .store
            .key_compromised(&p.issued.record.spki_sha256)
            .await?
        {
            return Err(ServiceError::Invalid(
                "this public key belongs to a certificate revoked for key compromise: generate a new key".into(),
            ));
        }
        p.audit.push(audit(
            now,
            actor,
            "est-enrollment",
            Some(p.issued.record.serial.clone()),
            Some(p.issued.record.subject.clone()),
            format!("operation={} profile={profile}", op.name()),
        ));
        match previous {
            Some(old) => {
                p.audit.push(audit(
                    now,
                    actor,
                    "certificate-renewed",
                    Some(old.serial.clone()),
                    Some(old.subject.clone()),
                    format!("successor={} via=est", p.issued.record.serial),
                ));
                self.store
                    .renew_certificate(
                        &kek.audit_key(),
                        &old.serial,
                        &NewCertificate {
                            record: p.issued.record.clone(),
                            archived: p.archived.clone(),
                            pending_key: None,
                        },
                        &p.audit,
                    )
                    .await?;
            }
            None => {
                self.store
                    .insert_certificate_archived(
                        &kek.audit_key(),
                        &p.issued.record,
                        p.archived.as_ref(),
                        &p.audit,
                    )
                    .await?;
            }
        }
        Ok(p.issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_defaults() {
        assert_eq!(
            est_profile(None, EstOperation::Enroll, true).unwrap(),
            Profile::Signing
        );
        assert_eq!(
            est_profile(None, EstOperation::ServerKeygen, true).unwrap(),
            Profile::Encryption
        );
        assert_eq!(
            est_profile(None, EstOperation::ServerKeygen, false).unwrap(),
            Profile::Dual
        );
        assert_eq!(
            est_profile(Some("dual"), EstOperation::Enroll, false).unwrap(),
            Profile::Dual
        );
        assert!(est_profile(Some("tls"), EstOperation::Enroll, false).is_err());
    }
}
