//! The organisation's certificate authority: set-up, issuance, revocation, CRLs, audit.

use crate::datadir::DataDir;
use crate::error::{Result, ServiceError};
use crate::keyring::{Kek, KeyProtection};
use crate::recovery::{RecoverySetup, init_recovery};
use cachet_crypto::{KeyType, PrivateKey};
use cachet_pki::crl::{CrlRequest, RevocationReason, RevokedEntry, build_crl};
use cachet_pki::csr::VerifiedCsr;
use cachet_pki::issue::{random_serial, sign_certificate};
use cachet_pki::lint::{Role, lint};
use cachet_pki::name::NameBuilder;
use cachet_pki::profile::{
    self, DEFAULT_VALIDITY_DAYS, Profile, PublicationUrls, SubscriberRequest, check_base_url,
    normalize_domain, normalize_email,
};
use cachet_pki::{ParsedCertificate, PkiError};
use cachet_store::{
    ArchivedKeyRecord, AuditEntry, CaRecord, CertificateRecord, ChainProblem, CrlRecord,
    RevokeOutcome, Store, StoreError,
};

/// Slug of the root CA.
pub const ROOT: &str = "root";
/// Slug of the issuing CA.
pub const ISSUING: &str = "issuing";
/// Default CRL validity (nextUpdate − thisUpdate) of the issuing CA, in days.
pub const DEFAULT_CRL_DAYS: u32 = 7;
/// The S/MIME BR (§4.9.7) allow at most 10 days between thisUpdate and nextUpdate for a CRL
/// covering subscriber certificates.
pub const MAX_CRL_DAYS: u32 = 10;
/// The root's CRL covers only the issuing CA: 12 months, the BR maximum, so the root key is
/// needed once a year rather than every week.
pub const ROOT_CRL_DAYS: u32 = 365;

/// Options of `cachet init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The organisation's mail domain.
    pub domain: String,
    /// Organisation name for the CA subjects (defaults to the domain).
    pub organization: Option<String>,
    /// Base URL under which CRLs and CA certificates are published.
    pub base_url: String,
    /// Key type of both CA keys.
    pub key_type: KeyType,
    /// CRL validity in days.
    pub crl_days: u32,
    /// Who runs it (for the audit log).
    pub actor: String,
    /// Key archive and recovery officers.
    pub recovery: RecoverySetup,
    /// PostgreSQL instead of the embedded SQLite file: the URL of an empty database. It is
    /// written into the data directory's `cachet.toml`, where every node reads it.
    pub database_url: Option<String>,
}

/// Where a subscriber key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// Cachet generates it (and returns it once).
    Generate(KeyType),
    /// A PKCS#10 request (PEM or DER bytes), and where it came from (for messages).
    Csr {
        /// The request.
        bytes: Vec<u8>,
        /// Its file name or other origin.
        source: String,
    },
}

/// A request to issue a subscriber certificate.
#[derive(Clone)]
pub struct IssueRequest {
    /// The mailbox.
    pub email: String,
    /// The profile.
    pub profile: Profile,
    /// The key.
    pub key: KeySource,
    /// Validity in days (default 365).
    pub validity_days: Option<u32>,
    /// Assert nonRepudiation on signing certificates.
    pub non_repudiation: bool,
    /// Who asks (audit).
    pub actor: String,
}

/// The result of an issuance.
pub struct Issued {
    /// The stored record.
    pub record: CertificateRecord,
    /// The certificate.
    pub certificate: ParsedCertificate,
    /// Issuing CA then root.
    pub chain: Vec<ParsedCertificate>,
    /// The generated key, when Cachet generated it.
    pub key: Option<PrivateKey>,
}

/// The issuing CA, its key, the root and the KRA certificate, loaded for a batch of issuances.
pub(crate) struct IssuerContext {
    pub(crate) issuer: ParsedCertificate,
    subject_der: Vec<u8>,
    key: PrivateKey,
    root: ParsedCertificate,
    urls: PublicationUrls,
    kra: Option<ParsedCertificate>,
}

/// A certificate signed but not yet stored, with its archive record and audit records.
pub(crate) struct Prepared {
    pub(crate) issued: Issued,
    pub(crate) archived: Option<ArchivedKeyRecord>,
    pub(crate) audit: Vec<AuditEntry>,
}

/// An open Cachet installation.
pub struct Cachet {
    dir: DataDir,
    pub(crate) store: Store,
    domain: String,
    base_url: String,
    crl_days: u32,
    protection: KeyProtection,
    pub(crate) recovery: bool,
    /// In-memory state of CRL/OCSP publication (OCSP signers, cached responses).
    pub(crate) publication: crate::publication::PublicationState,
}

pub(crate) use audit as audit_entry;

pub(crate) fn audit(
    at: u64,
    actor: &str,
    action: &str,
    serial: Option<String>,
    subject: Option<String>,
    detail: String,
) -> AuditEntry {
    AuditEntry {
        at: at as i64,
        actor: actor.to_string(),
        action: action.to_string(),
        serial,
        subject,
        detail,
    }
}

/// CA key types: anything that signs with a certificate-friendly algorithm.
fn check_ca_key_type(kt: KeyType) -> Result<()> {
    match kt {
        KeyType::EcdsaP256
        | KeyType::EcdsaP384
        | KeyType::Rsa2048
        | KeyType::Rsa3072
        | KeyType::Rsa4096 => Ok(()),
        other => Err(ServiceError::Invalid(format!(
            "key type {other} cannot be used for a CA (use ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or rsa-4096)"
        ))),
    }
}

fn lint_or_refuse(
    cert: &ParsedCertificate,
    role: Role<'_>,
    issuer: Option<&ParsedCertificate>,
) -> Result<()> {
    let findings = lint(cert, role, issuer);
    if findings.is_empty() {
        Ok(())
    } else {
        Err(PkiError::Lint(findings).into())
    }
}

impl Cachet {
    /// Creates a data directory with a root CA and an issuing CA. Refuses, changing nothing,
    /// if `dir` exists and is not empty. On any failure the half-made directory is removed.
    pub async fn init(
        dir: &DataDir,
        opts: &InitOptions,
        passphrase: Option<&[u8]>,
        now: u64,
    ) -> Result<Cachet> {
        let domain = normalize_domain(&opts.domain)?;
        check_base_url(&opts.base_url)?;
        check_ca_key_type(opts.key_type)?;
        if opts.crl_days == 0 || opts.crl_days > MAX_CRL_DAYS {
            return Err(ServiceError::Invalid(format!(
                "the CRL period must be 1 to {MAX_CRL_DAYS} days (S/MIME BR §4.9.7)"
            )));
        }
        let org = opts.organization.clone().unwrap_or_else(|| domain.clone());
        let org = org.trim().to_string();
        // Both CA names must fit ub-common-name (64): "… S/MIME Issuing CA" adds 18.
        if org.is_empty() || org.chars().count() > 46 {
            return Err(ServiceError::Invalid(
                "the organisation name must be 1 to 46 characters".into(),
            ));
        }
        opts.recovery.check()?;
        let created_dir = dir.create_new()?;
        let mut created = Vec::new();
        let result =
            Self::init_inner(dir, opts, &domain, &org, passphrase, now, &mut created).await;
        match &result {
            Ok(_) => {
                // The settings an administrator may edit, all at their defaults, commented.
                let toml = dir.root().join(crate::config::FILE_NAME);
                let text = crate::config::template(opts.database_url.as_deref());
                // 0600: with PostgreSQL the file holds the database password.
                crate::datadir::write_secret_file(&toml, text.as_bytes())?;
                dir.restrict_permissions()?
            }
            // Leave nothing behind, and remove only what this call created.
            Err(_) if created_dir => {
                let _ = std::fs::remove_dir_all(dir.root());
            }
            Err(_) => {
                for p in created.into_iter().rev() {
                    let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir(&p));
                }
            }
        }
        result
    }

    async fn init_inner(
        dir: &DataDir,
        opts: &InitOptions,
        domain: &str,
        org: &str,
        passphrase: Option<&[u8]>,
        now: u64,
        created: &mut Vec<std::path::PathBuf>,
    ) -> Result<Cachet> {
        let (kek, protection) = Kek::create(dir, passphrase)?;
        if !protection.needs_passphrase() {
            created.push(dir.master_key());
        }
        // Backdate by a minute so clients with slightly slow clocks accept the CAs at once.
        let not_before = now.saturating_sub(60);

        let root_key = PrivateKey::generate(opts.key_type)?;
        let root_name = NameBuilder::new()
            .organization(org)?
            .common_name(&format!("{org} Root CA"))?
            .to_der()?;
        let t = profile::root_ca_template(
            root_name.clone(),
            root_key.public_key_der().to_vec(),
            random_serial()?.to_vec(),
            not_before,
        )?;
        let root = ParsedCertificate::from_der(&sign_certificate(&t, &root_name, &root_key)?)?;
        lint_or_refuse(&root, Role::RootCa, None)?;

        let issuing_key = PrivateKey::generate(opts.key_type)?;
        let issuing_name = NameBuilder::new()
            .organization(org)?
            .common_name(&format!("{org} S/MIME Issuing CA"))?
            .to_der()?;
        let root_urls = PublicationUrls::under(&opts.base_url, ROOT);
        let t = profile::issuing_ca_template(
            issuing_name,
            issuing_key.public_key_der().to_vec(),
            random_serial()?.to_vec(),
            not_before,
            &root,
            &root_urls,
        )?;
        let issuing = ParsedCertificate::from_der(&sign_certificate(&t, &root_name, &root_key)?)?;
        lint_or_refuse(&issuing, Role::IssuingCa, Some(&root))?;

        let recovery = init_recovery(
            dir,
            &opts.recovery,
            org,
            &root,
            &root_key,
            &opts.base_url,
            not_before,
            now,
            &opts.actor,
        )?;
        if let Some(r) = &recovery {
            created.extend(r.written.iter().cloned());
        }

        let store = match &opts.database_url {
            Some(url) => Store::create_postgres(url).await?,
            None => {
                let store = Store::create(&dir.db()).await?;
                for suffix in ["", "-wal", "-shm"] {
                    created.push(std::path::PathBuf::from(format!(
                        "{}{suffix}",
                        dir.db().display()
                    )));
                }
                store
            }
        };
        let mut settings: Vec<(&str, String)> = vec![
            ("domain", domain.to_string()),
            ("organization", org.to_string()),
            ("base_url", opts.base_url.trim_end_matches('/').to_string()),
            ("ca_key_type", opts.key_type.name().to_string()),
            ("crl_days", opts.crl_days.to_string()),
            ("kek_check", hex::encode(kek.check_value()?)),
            (
                "recovery",
                if recovery.is_some() { "on" } else { "off" }.to_string(),
            ),
        ];
        settings.extend(protection.to_settings());
        let cas = [
            CaRecord {
                slug: ROOT.into(),
                role: "root".into(),
                parent: None,
                cert_der: root.der().to_vec(),
                sealed_key: kek.seal_ca_key(ROOT, root_key.pkcs8_der())?,
                next_crl_number: 1,
                created_at: now as i64,
            },
            CaRecord {
                slug: ISSUING.into(),
                role: "issuing".into(),
                parent: Some(ROOT.into()),
                cert_der: issuing.der().to_vec(),
                sealed_key: kek.seal_ca_key(ISSUING, issuing_key.pkcs8_der())?,
                next_crl_number: 1,
                created_at: now as i64,
            },
        ];
        let key_note = protection.name();
        let mut entries = vec![
            audit(
                now,
                &opts.actor,
                "ca-created",
                Some(root.serial_hex()),
                Some(root.subject()),
                format!(
                    "role=root key_type={} key_protection={key_note}",
                    opts.key_type
                ),
            ),
            audit(
                now,
                &opts.actor,
                "ca-created",
                Some(issuing.serial_hex()),
                Some(issuing.subject()),
                format!(
                    "role=issuing key_type={} issuer={}",
                    opts.key_type,
                    root.subject()
                ),
            ),
        ];
        if let Some(r) = &recovery {
            entries.push(r.audit.clone());
        }
        store
            .initialize(
                &kek.audit_key(),
                &settings,
                &cas,
                recovery.as_ref().map(|r| &r.split),
                &entries,
            )
            .await?;
        let cachet = Cachet {
            dir: dir.clone(),
            store,
            domain: domain.to_string(),
            base_url: opts.base_url.trim_end_matches('/').to_string(),
            crl_days: opts.crl_days,
            protection,
            recovery: recovery.is_some(),
            publication: Default::default(),
        };
        // Publish the first CRLs so the URLs in the certificates have something to serve.
        cachet.publish_crl(&kek, ROOT, &opts.actor, now).await?;
        cachet.publish_crl(&kek, ISSUING, &opts.actor, now).await?;
        Ok(cachet)
    }

    /// Opens an existing data directory.
    pub async fn open(dir: &DataDir) -> Result<Cachet> {
        let config = crate::config::Config::load(None, dir.root())?;
        Self::open_with(dir, &config).await
    }

    /// As [`Cachet::open`], with the settings already read (`--config FILE`): its
    /// `database_url`, when set, chooses PostgreSQL.
    pub async fn open_with(dir: &DataDir, config: &crate::config::Config) -> Result<Cachet> {
        dir.check_existing()?;
        let opened = match &config.database_url {
            Some(url) => Store::open_postgres(url).await,
            None => Store::open(&dir.db()).await,
        };
        let store = opened.map_err(|e| match e {
            StoreError::Foreign { .. } | StoreError::Open { .. } => ServiceError::DataDir(format!(
                "{} is not a Cachet data directory: {e}",
                dir.root().display()
            )),
            other => other.into(),
        })?;
        let get = |k: &'static str| {
            let store = store.clone();
            async move { store.setting(k).await }
        };
        let missing = |k: &str| {
            ServiceError::DataDir(format!(
                "the database has no '{k}' setting: it is damaged or not Cachet's"
            ))
        };
        let domain = get("domain").await?.ok_or_else(|| missing("domain"))?;
        let base_url = get("base_url").await?.ok_or_else(|| missing("base_url"))?;
        let crl_days = get("crl_days")
            .await?
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_CRL_DAYS);
        let protection = KeyProtection::from_settings(
            get("key_protection").await?.as_deref(),
            get("kek_salt").await?.as_deref(),
            get("kek_argon2").await?.as_deref(),
        )?;
        let recovery = get("recovery").await?.as_deref() == Some("on");
        Ok(Cachet {
            dir: dir.clone(),
            store,
            domain,
            base_url,
            crl_days,
            protection,
            recovery,
            publication: Default::default(),
        })
    }

    /// The organisation's domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The publication base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.dir
    }

    /// The store (for adapters that read directly).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How the CA keys are protected at rest.
    pub fn key_protection(&self) -> &KeyProtection {
        &self.protection
    }

    /// Whether unlocking needs a passphrase.
    pub fn needs_passphrase(&self) -> bool {
        self.protection.needs_passphrase()
    }

    /// Obtains and checks the key-encryption key.
    pub async fn unlock(&self, passphrase: Option<&[u8]>) -> Result<Kek> {
        let kek = Kek::unlock(&self.dir, &self.protection, passphrase)?;
        let check = self
            .store
            .setting("kek_check")
            .await?
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| ServiceError::DataDir("the database has no key check value".into()))?;
        kek.verify(&check)?;
        Ok(kek)
    }

    /// The CA certificates: issuing CA then root (the order of `chain.pem`).
    pub async fn chain(&self) -> Result<Vec<ParsedCertificate>> {
        let issuing = self.store.ca(ISSUING).await?;
        let root = self.store.ca(ROOT).await?;
        Ok(vec![
            ParsedCertificate::from_der(&issuing.cert_der)?,
            ParsedCertificate::from_der(&root.cert_der)?,
        ])
    }

    /// Every CA record with its parsed certificate, root first.
    pub async fn cas(&self) -> Result<Vec<(CaRecord, ParsedCertificate)>> {
        let mut out = Vec::new();
        for r in self.store.cas().await? {
            let c = ParsedCertificate::from_der(&r.cert_der)?;
            out.push((r, c));
        }
        Ok(out)
    }

    pub(crate) async fn ca_with_key(
        &self,
        kek: &Kek,
        slug: &str,
    ) -> Result<(ParsedCertificate, PrivateKey)> {
        let rec = self.store.ca(slug).await?;
        let cert = ParsedCertificate::from_der(&rec.cert_der)?;
        let key = kek.open_ca_key(slug, &rec.sealed_key)?;
        if cert.spki_der()? != key.public_key_der() {
            return Err(ServiceError::DataDir(format!(
                "the key of CA '{slug}' does not belong to its certificate: the database is damaged"
            )));
        }
        Ok((cert, key))
    }

    /// What issuing under the issuing CA needs, loaded once: a batch (an account's
    /// certificates, an import, a renewal run) signs with the same key without opening it
    /// again for each certificate.
    pub(crate) async fn issuer_context(&self, kek: &Kek) -> Result<IssuerContext> {
        let (issuer, key) = self.ca_with_key(kek, ISSUING).await?;
        let root = ParsedCertificate::from_der(&self.store.ca(ROOT).await?.cert_der)?;
        let kra = if self.recovery {
            Some(self.kra_certificate().await?)
        } else {
            None
        };
        Ok(IssuerContext {
            subject_der: issuer.subject_der()?,
            issuer,
            key,
            root,
            urls: PublicationUrls::under(&self.base_url, ISSUING),
            kra,
        })
    }

    /// Builds, signs and lints one subscriber certificate and, with key recovery on, the
    /// archive record of its key; stores nothing. Pure apart from the random key and serial.
    pub(crate) fn prepare_issue(
        &self,
        ctx: &IssuerContext,
        req: IssueRequest,
        now: u64,
    ) -> Result<Prepared> {
        let email = normalize_email(&req.email)?;
        if !profile::email_in_domain(&email, &self.domain) {
            return Err(ServiceError::Invalid(format!(
                "{email} is not in this CA's domain {} (or a subdomain of it)",
                self.domain
            )));
        }
        // With key recovery on, an encryption key is archived: Cachet must generate it, and a
        // dual-use key is never archived (a copy of a signing key would let its holder sign
        // as the user).
        let kra = match &ctx.kra {
            Some(kra) if req.profile.encrypts() => {
                if req.profile == Profile::Dual {
                    return Err(ServiceError::Invalid(
                        "key recovery is on, so the dual profile is refused: archiving its key would copy a signing key, and not archiving it would make the mail encrypted to it unrecoverable; issue a signing and an encryption certificate instead".into(),
                    ));
                }
                if let KeySource::Csr { source, .. } = &req.key {
                    return Err(ServiceError::Invalid(format!(
                        "key recovery is on, so the key of an encryption certificate must be generated by Cachet and archived: drop --csr {source} (Cachet writes the key to key.pem and, with --p12-password-file, bundle.p12)"
                    )));
                }
                Some(kra)
            }
            _ => None,
        };
        let (spki, key) = match req.key {
            KeySource::Generate(kt) => {
                if !req.profile.allows_key_type(kt) {
                    return Err(PkiError::ProfileMismatch(format!(
                        "a {kt} key cannot be used for a {} certificate",
                        req.profile
                    ))
                    .into());
                }
                let k = PrivateKey::generate(kt)?;
                (k.public_key_der().to_vec(), Some(k))
            }
            KeySource::Csr { bytes, source } => {
                let named = |e: PkiError| ServiceError::Invalid(format!("CSR {source}: {e}"));
                let csr = VerifiedCsr::from_pem_or_der(&bytes).map_err(named)?;
                csr.check_email(&email).map_err(named)?;
                (csr.spki_der().to_vec(), None)
            }
        };
        if req.non_repudiation && !req.profile.signs() {
            return Err(ServiceError::Invalid(format!(
                "--non-repudiation applies to signing certificates, not to the {} profile",
                req.profile
            )));
        }
        let spki_sha256 = hex::encode(cachet_crypto::digest::sha256(&spki));
        let sreq = SubscriberRequest {
            email: &email,
            profile: req.profile,
            spki_der: &spki,
            not_before: now.saturating_sub(60),
            validity_days: req.validity_days.unwrap_or(DEFAULT_VALIDITY_DAYS),
            non_repudiation: req.non_repudiation,
        };
        let t =
            profile::subscriber_template(&sreq, random_serial()?.to_vec(), &ctx.issuer, &ctx.urls)?;
        let cert = ParsedCertificate::from_der(&sign_certificate(&t, &ctx.subject_der, &ctx.key)?)?;
        lint_or_refuse(
            &cert,
            Role::Subscriber {
                profile: req.profile,
                email: &email,
            },
            Some(&ctx.issuer),
        )?;
        let record = CertificateRecord {
            serial: cert.serial_hex(),
            ca: ISSUING.into(),
            email: email.clone(),
            subject: cert.subject(),
            profile: req.profile.name().into(),
            key_type: cert.key_type()?.name().into(),
            spki_sha256,
            not_before: cert.not_before() as i64,
            not_after: cert.not_after() as i64,
            issued_at: now as i64,
            der: cert.der().to_vec(),
            revoked_at: None,
            revocation_reason: None,
            superseded_by: None,
            superseded_at: None,
            key_origin: Some(if key.is_some() { "generated" } else { "csr" }.into()),
        };
        let archived = match (kra, &key) {
            (Some(kra), Some(k)) => {
                let a = cachet_escrow::archive(k, &cert, kra)?;
                Some(ArchivedKeyRecord {
                    serial: record.serial.clone(),
                    email: record.email.clone(),
                    not_after: record.not_after,
                    kra_sha256: hex::encode(a.kra_certificate_sha256),
                    der: a.to_der()?,
                    archived_at: now as i64,
                })
            }
            _ => None,
        };
        let mut entries = vec![audit(
            now,
            &req.actor,
            "certificate-issued",
            Some(record.serial.clone()),
            Some(record.subject.clone()),
            format!(
                "profile={} key_type={} key_source={} not_after={}",
                record.profile,
                record.key_type,
                if key.is_some() { "generated" } else { "csr" },
                cachet_pki::time::rfc3339(cert.not_after())
            ),
        )];
        if let (Some(a), Some(kra)) = (&archived, kra) {
            entries.push(audit(
                now,
                &req.actor,
                "key-archived",
                Some(record.serial.clone()),
                Some(record.subject.clone()),
                format!(
                    "email={} key_type={} kra_serial={} not_after={}",
                    a.email,
                    record.key_type,
                    kra.serial_hex(),
                    cachet_pki::time::rfc3339(cert.not_after())
                ),
            ));
        }
        Ok(Prepared {
            issued: Issued {
                record,
                certificate: cert,
                chain: vec![ctx.issuer.clone(), ctx.root.clone()],
                key,
            },
            archived,
            audit: entries,
        })
    }

    /// Issues a subscriber certificate: builds, signs, lints against its profile, stores it
    /// with its audit record, and only then returns it.
    pub async fn issue(&self, kek: &Kek, req: IssueRequest, now: u64) -> Result<Issued> {
        let ctx = self.issuer_context(kek).await?;
        let from_csr = matches!(req.key, KeySource::Csr { .. });
        // A serial collision (2^-127 per pair) is retried with a fresh serial.
        for _ in 0..3 {
            let p = self.prepare_issue(&ctx, req.clone(), now)?;
            if from_csr
                && self
                    .store
                    .key_compromised(&p.issued.record.spki_sha256)
                    .await?
            {
                return Err(ServiceError::Invalid(
                    "this public key belongs to a certificate revoked for key compromise: generate a new key".into(),
                ));
            }
            match self
                .store
                .insert_certificate_archived(
                    &kek.audit_key(),
                    &p.issued.record,
                    p.archived.as_ref(),
                    &p.audit,
                )
                .await
            {
                Ok(()) => return Ok(p.issued),
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Invalid(
            "could not allocate a unique serial number".into(),
        ))
    }

    /// Looks a certificate up by serial (hex, any case, with or without colons or leading zeros).
    pub async fn certificate(&self, serial: &str) -> Result<CertificateRecord> {
        let norm = normalize_serial(serial)?;
        self.store
            .certificate(&norm)
            .await?
            .ok_or(ServiceError::UnknownSerial(norm))
    }

    /// Every subscriber certificate, oldest first.
    pub async fn certificates(&self, email: Option<&str>) -> Result<Vec<CertificateRecord>> {
        Ok(self.store.certificates(email).await?)
    }

    /// Revokes a certificate. Revoking an already revoked certificate changes nothing and
    /// says so.
    pub async fn revoke(
        &self,
        kek: &Kek,
        serial: &str,
        reason: RevocationReason,
        actor: &str,
        now: u64,
    ) -> Result<CertificateRecord> {
        let rec = self.certificate(serial).await?;
        let entry = audit(
            now,
            actor,
            "certificate-revoked",
            Some(rec.serial.clone()),
            Some(rec.subject.clone()),
            format!("reason={reason}"),
        );
        match self
            .store
            .revoke(
                &kek.audit_key(),
                &rec.serial,
                now as i64,
                reason.name(),
                &entry,
            )
            .await?
        {
            RevokeOutcome::Revoked(r) => Ok(r),
            RevokeOutcome::AlreadyRevoked(r) => Err(ServiceError::Invalid(format!(
                "certificate {} was already revoked ({}): nothing changed",
                r.serial,
                r.revocation_reason.as_deref().unwrap_or("unspecified")
            ))),
            RevokeOutcome::NotFound => Err(ServiceError::UnknownSerial(rec.serial)),
        }
    }

    /// Issues a fresh CRL for the CA `slug` (`issuing` lists subscriber certificates, `root`
    /// lists revoked issuing CAs). The CRL's signature is checked before it is stored.
    pub async fn publish_crl(
        &self,
        kek: &Kek,
        slug: &str,
        actor: &str,
        now: u64,
    ) -> Result<CrlRecord> {
        let (cert, key) = self.ca_with_key(kek, slug).await?;
        let days = if slug == ROOT {
            ROOT_CRL_DAYS
        } else {
            self.crl_days
        };
        let this_update = now;
        let next_update = (now + u64::from(days) * 86_400).min(cert.not_after());
        let spki = cert.spki_der()?;
        self.store
            .publish_crl(
                &kek.audit_key(),
                slug,
                this_update as i64,
                next_update as i64,
                |number, revoked| -> Result<Vec<u8>> {
                    let entries = revoked
                        .iter()
                        .map(|r| {
                            Ok(RevokedEntry {
                                serial: hex::decode(&r.serial).map_err(|_| {
                                    ServiceError::DataDir(format!(
                                        "stored serial {} is not hex",
                                        r.serial
                                    ))
                                })?,
                                revoked_at: r.revoked_at.max(0) as u64,
                                reason: RevocationReason::from_name(&r.reason)
                                    .unwrap_or(RevocationReason::Unspecified),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let der = build_crl(
                        &CrlRequest {
                            crl_number: number as u64,
                            this_update,
                            next_update,
                            entries: &entries,
                        },
                        &cert,
                        &key,
                    )?;
                    cachet_pki::crl::ParsedCrl::from_der(&der)?.verify_signature(&spki)?;
                    Ok(der)
                },
                |number, count| {
                    audit(
                        now,
                        actor,
                        "crl-published",
                        None,
                        Some(cert.subject()),
                        format!("ca={slug} number={number} entries={count}"),
                    )
                },
            )
            .await?
    }

    /// Every audit record, oldest first.
    pub async fn audit_log(&self) -> Result<Vec<cachet_store::AuditRecord>> {
        Ok(self.store.audit_log().await?.0)
    }

    /// Checks the audit chain; empty when intact.
    pub async fn verify_audit(&self, kek: &Kek) -> Result<(usize, Vec<ChainProblem>)> {
        let (records, head) = self.store.audit_log().await?;
        let problems = cachet_store::audit::verify_chain(&kek.audit_key(), &records, head);
        Ok((records.len(), problems))
    }
}

/// Normalises a serial as users type it (hex, any case, colons, leading zeros) to the stored
/// form.
pub fn normalize_serial(s: &str) -> Result<String> {
    let cleaned: String = s
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if cleaned.is_empty() || cleaned.len() > 40 || !cleaned.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ServiceError::Invalid(format!(
            "'{s}' is not a serial number (hexadecimal, up to 20 octets)"
        )));
    }
    let trimmed = cleaned.trim_start_matches('0');
    let mut out = if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    };
    if out.len() % 2 == 1 {
        out.insert(0, '0');
    }
    Ok(out)
}
