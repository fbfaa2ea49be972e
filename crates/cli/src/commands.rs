//! Command-line grammar (DESIGN.md "Command line") and the handlers.

use crate::io::{CliError, Result, actor, now, read_file, read_password, write_output};
use cachet_crypto::KeyType;
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::RevocationReason;
use cachet_pki::profile::Profile;
use cachet_pki::time::rfc3339;
use cachet_service::ca::{DEFAULT_CRL_DAYS, ISSUING, ROOT};
use cachet_service::{Cachet, DataDir, InitOptions, IssueRequest, KeySource, RecoverySetup};
use cachet_store::CertificateRecord;
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Cachet: an organisation's S/MIME certificate authority, key archive, directory and mail
/// tools in one binary.
#[derive(Parser)]
#[command(name = "cachet", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// Whether the command is a long-running server (`serve`), which gets a multi-threaded
    /// runtime; every other command runs on one thread.
    pub fn is_server(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }
}

#[derive(Args, Clone)]
pub(crate) struct DataArg {
    /// Data directory.
    #[arg(
        long = "data",
        env = "CACHET_DATA",
        default_value = "cachet-data",
        value_name = "DIR"
    )]
    pub(crate) dir: PathBuf,
}

#[derive(Args, Clone)]
pub(crate) struct UnlockArg {
    /// File holding the passphrase that protects the CA keys (data directories made with
    /// `init --passphrase-file`).
    #[arg(long, env = "CACHET_PASSPHRASE_FILE", value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory with a root CA and an issuing CA.
    Init {
        #[command(flatten)]
        data: DataArg,
        /// The organisation's mail domain, e.g. example.com.
        #[arg(long)]
        domain: String,
        /// Organisation name in the CA subjects (default: the domain).
        #[arg(long = "org", value_name = "NAME")]
        organization: Option<String>,
        /// URL under which CRLs (/crl/NAME.crl) and CA certificates (/ca/NAME.crt) are served.
        #[arg(long, default_value = "http://localhost:8080", value_name = "URL")]
        base_url: String,
        /// CA key type.
        #[arg(long, default_value = "ecdsa-p256", value_name = "T")]
        key_type: KeyType,
        /// Protect the CA keys with a passphrase (Argon2id) instead of a master.key file.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// CRL validity (nextUpdate − thisUpdate) in days.
        #[arg(long, default_value_t = DEFAULT_CRL_DAYS, value_name = "DAYS")]
        crl_days: u32,
        /// Key recovery officers. With none, one officer 'admin' (1 of 1) gets a generated
        /// passphrase in DIR/officers/admin.passphrase, to be moved offline.
        #[command(flatten)]
        officers: crate::recovery_cmd::OfficerArgs,
        /// No key archive: encryption keys are not archived and can never be recovered.
        #[arg(long, conflicts_with_all = ["officers", "officer_certs", "threshold"])]
        no_recovery: bool,
        /// Keep the database in PostgreSQL (an empty database, e.g.
        /// postgres://cachet:secret@db/cachet) instead of SQLite in DIR; several `cachet
        /// serve` nodes can then share it. Written to DIR/cachet.toml.
        #[arg(long, env = "CACHET_DATABASE_URL", value_name = "URL")]
        database_url: Option<String>,
    },
    /// Accounts: enrolled automatically on creation, renewed, revoked when disabled.
    User {
        #[command(subcommand)]
        command: crate::user_cmd::UserCommand,
    },
    /// Renew the certificates of active accounts that have passed the renewal point of
    /// their life (`enrollment.renew_at`); for cron when `cachet serve` is not running.
    Renew {
        /// Renew what is due now (required: renewal of everything is not a thing).
        #[arg(long, required = true)]
        due: bool,
        /// Pretend the time is this (RFC 3339), e.g. to see what renews next month.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// Renew at most this many certificates in this run.
        #[arg(long, default_value_t = 100_000)]
        limit: usize,
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        #[command(flatten)]
        config: crate::user_cmd::ConfigArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Bearer tokens of the REST API.
    Token {
        #[command(subcommand)]
        command: crate::token_cmd::TokenCommand,
    },
    /// Key archive and M-of-N recovery of encryption keys.
    Recovery {
        #[command(subcommand)]
        command: crate::recovery_cmd::RecoveryCommand,
    },
    /// The certificate authorities.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Subscriber certificates.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Issue a fresh CRL and write it (PEM to standard output by default).
    Crl {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// DER instead of PEM.
        #[arg(long)]
        der: bool,
        /// Which CA: `issuing` (subscriber certificates) or `root` (issuing CAs).
        #[arg(long, default_value = ISSUING, value_parser = [ISSUING, ROOT])]
        ca: String,
    },
    /// Sign, verify, encrypt and decrypt S/MIME messages.
    Smime {
        #[command(subcommand)]
        command: crate::smime_cmd::SmimeCommand,
    },
    /// Operations per second of the engine beside the primitive's rate, like `openssl speed`.
    Bench {
        /// What to measure (default: all).
        #[arg(value_enum)]
        operations: Vec<crate::bench_cmd::BenchOp>,
        /// Time spent measuring each figure.
        #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
        seconds: f64,
        /// Only this key type (rsa-2048 or ecdsa-p256); repeatable.
        #[arg(long = "key-type", value_name = "T")]
        key_types: Vec<String>,
        /// Only messages of this many bytes (default 10240 and 1048576); repeatable.
        #[arg(long = "size", value_name = "BYTES")]
        sizes: Vec<usize>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Explain a message layer by layer: encryption, each signature, the signer's
    /// certificate, the chain and each revocation source, with the fix for every problem.
    Doctor(crate::doctor_cmd::DoctorArgs),
    /// Offline PKI tools.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The trust store used by `smime verify`, `pki validate` and `doctor` with --data:
    /// partners' anchors, intermediates and imported CRLs.
    Trust {
        #[command(subcommand)]
        command: crate::trust_cmd::TrustCommand,
    },
    /// Run the network services: CRLs, CA certificates, OCSP and certificate lookup over
    /// HTTP (the mail and directory services come in later releases).
    Serve(crate::serve_cmd::ServeArgs),
}

#[derive(Subcommand)]
enum CaCommand {
    /// Show the CAs and the installation's settings.
    Show {
        #[command(flatten)]
        data: DataArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the CA chain as PEM: issuing CA, then root.
    Chain {
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Issue a certificate, generating the key or signing a CSR.
    Issue {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// The mailbox the certificate is for.
        #[arg(long)]
        email: String,
        /// signing, encryption or dual.
        #[arg(long)]
        profile: Profile,
        /// Sign this PKCS#10 request (PEM or DER) instead of generating a key.
        #[arg(long, value_name = "FILE", conflicts_with = "key_type")]
        csr: Option<PathBuf>,
        /// Type of the generated key (default ecdsa-p256).
        #[arg(long, value_name = "T")]
        key_type: Option<KeyType>,
        /// Where to write cert.pem, chain.pem, key.pem and bundle.p12.
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Also write bundle.p12 protected by the password in FILE.
        #[arg(long, value_name = "FILE")]
        p12_password_file: Option<PathBuf>,
        /// Write bundle.p12 with parameters GnuPG 2.2's gpgsm also reads (RSA keys).
        #[arg(long, requires = "p12_password_file")]
        p12_compat: bool,
        /// Validity in days (1 to 825).
        #[arg(long, value_name = "DAYS")]
        validity_days: Option<u32>,
        /// Also assert nonRepudiation (signing and dual profiles).
        #[arg(long)]
        non_repudiation: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List certificates.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Only this mailbox's certificates.
        #[arg(long)]
        email: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show one certificate.
    Show {
        #[command(flatten)]
        data: DataArg,
        /// Serial number (hex).
        serial: String,
        /// Machine-readable output (includes the PEM).
        #[arg(long)]
        json: bool,
        /// Print only the certificate as PEM.
        #[arg(long, conflicts_with = "json")]
        pem: bool,
    },
    /// Revoke a certificate. Publish the change with `cachet crl`.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// Serial number (hex).
        serial: String,
        /// unspecified, key-compromise, affiliation-changed, superseded or cessation-of-operation.
        #[arg(long)]
        reason: RevocationReason,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Validate a certificate (RFC 5280 path building, validation and revocation): exit 0
    /// when valid, 1 when not, 2 on unreadable input.
    Validate(crate::pki_cmd::ValidateArgs),
    /// Open a PKCS#12 file and list what it holds (checks the password and the MAC).
    P12Info {
        /// The PKCS#12 file.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// File holding the password.
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the audit records.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain: exit 0 when intact, 1 when any record was edited, reordered or deleted.
    Verify {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn open(data: &DataArg) -> Result<Cachet> {
    Ok(Cachet::open(&DataDir::new(&data.dir)).await?)
}

/// Opens the data directory with settings already read (`--config FILE`), whose
/// `database_url` chooses the database.
pub(crate) async fn open_configured(
    data: &DataArg,
    config: &cachet_service::config::Config,
) -> Result<Cachet> {
    Ok(Cachet::open_with(&DataDir::new(&data.dir), config).await?)
}

pub(crate) async fn unlock(c: &Cachet, u: &UnlockArg) -> Result<cachet_service::Kek> {
    let pass = match &u.passphrase_file {
        Some(p) => Some(read_password(p, "passphrase file")?),
        None => None,
    };
    Ok(c.unlock(pass.as_ref().map(|p| p.as_slice())).await?)
}

pub(crate) fn print_json(v: &serde_json::Value) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| CliError(e.to_string()))?;
    crate::out!("{s}");
    Ok(())
}

/// A certificate record as every `--json` output of the command line shows it (the REST
/// API's view, without the PEM).
pub(crate) fn cert_json(r: &CertificateRecord, now: u64) -> serde_json::Value {
    json!(cachet_service::views::CertificateView::of(r, now, false))
}

fn fingerprint(der: &[u8]) -> String {
    cachet_crypto::digest::sha256(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Runs a parsed command; returns the exit code for verdicts, or an error (exit 2).
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init {
            data,
            domain,
            organization,
            base_url,
            key_type,
            passphrase_file,
            crl_days,
            officers,
            no_recovery,
            database_url,
        } => {
            let pass = match &passphrase_file {
                Some(p) => Some(read_password(p, "passphrase file")?),
                None => None,
            };
            let recovery = if no_recovery {
                RecoverySetup::Off
            } else if officers.is_empty() {
                RecoverySetup::DefaultAdmin
            } else {
                let (officers, threshold) = officers.read()?;
                RecoverySetup::Officers {
                    officers,
                    threshold,
                }
            };
            let generated = matches!(recovery, RecoverySetup::DefaultAdmin);
            let opts = InitOptions {
                domain,
                organization,
                base_url,
                key_type,
                crl_days,
                actor: actor(),
                recovery,
                database_url,
            };
            let dir = DataDir::new(&data.dir);
            let c = Cachet::init(&dir, &opts, pass.as_ref().map(|p| p.as_slice()), now()).await?;
            let chain = c.chain().await?;
            crate::out!("Initialised {} for {}", data.dir.display(), c.domain());
            crate::out!(
                "  root CA:    {} (valid until {})",
                chain[1].subject(),
                rfc3339(chain[1].not_after())
            );
            crate::out!(
                "  issuing CA: {} (valid until {})",
                chain[0].subject(),
                rfc3339(chain[0].not_after())
            );
            if pass.is_some() {
                crate::out!(
                    "  CA keys are sealed under your passphrase (Argon2id); keep it safe: nothing else opens them."
                );
            } else {
                crate::out!(
                    "  CA keys are sealed under {} (mode 0600): back it up separately from the database.",
                    dir.master_key().display()
                );
            }
            crate::out!(
                "  certificates will point at {}/crl/{ISSUING}.crl and {}/ca/{ISSUING}.crt",
                c.base_url(),
                c.base_url()
            );
            let officer_file = dir.officers_dir().join(format!(
                "{}.passphrase",
                cachet_service::recovery::DEFAULT_OFFICER
            ));
            let report =
                crate::recovery_cmd::report_init(&c, generated.then_some(&*officer_file)).await;
            c.store().close().await;
            report?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ca {
            command: CaCommand::Show { data, json },
        } => {
            let c = open(&data).await?;
            let cas = c.cas().await?;
            let mut list = Vec::new();
            for (rec, cert) in &cas {
                list.push(json!({
                    "name": rec.slug,
                    "role": rec.role,
                    "subject": cert.subject(),
                    "issuer": cert.issuer(),
                    "serial": cert.serial_hex(),
                    "key_type": cert.key_type().map(|k| k.name()).unwrap_or("unknown"),
                    "not_before": rfc3339(cert.not_before()),
                    "not_after": rfc3339(cert.not_after()),
                    "sha256_fingerprint": fingerprint(cert.der()),
                    "next_crl_number": rec.next_crl_number,
                    "crl_url": format!("{}/crl/{}.crl", c.base_url(), rec.slug),
                    "certificate_url": format!("{}/ca/{}.crt", c.base_url(), rec.slug),
                }));
            }
            let v = json!({
                "data_dir": data.dir.display().to_string(),
                "domain": c.domain(),
                "base_url": c.base_url(),
                "key_protection": c.key_protection().name(),
                "key_recovery": c.recovery_enabled(),
                "cas": list,
            });
            if json {
                print_json(&v)?;
            } else {
                crate::out!("Domain:         {}", c.domain());
                crate::out!("Base URL:       {}", c.base_url());
                crate::out!(
                    "Key protection: {}",
                    v["key_protection"].as_str().unwrap_or_default()
                );
                for ca in &list {
                    crate::out!();
                    for k in [
                        "name",
                        "role",
                        "subject",
                        "issuer",
                        "serial",
                        "key_type",
                        "not_before",
                        "not_after",
                        "sha256_fingerprint",
                        "crl_url",
                        "certificate_url",
                    ] {
                        crate::out!(
                            "  {:<20}{}",
                            format!("{k}:"),
                            ca[k].as_str().unwrap_or_default()
                        );
                    }
                }
            }
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ca {
            command: CaCommand::Chain { data },
        } => {
            let c = open(&data).await?;
            let pem: String = c
                .chain()
                .await?
                .iter()
                .map(ParsedCertificate::to_pem)
                .collect();
            write_output(None, pem.as_bytes())?;
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cert { command } => cert_command(command).await,
        Command::Pki { command } => pki_command(command),
        Command::Doctor(args) => crate::doctor_cmd::doctor_command(&args, now()),
        Command::Smime { command } => crate::smime_cmd::run(command, now()),
        Command::Trust { command } => crate::trust_cmd::run(command).await,
        Command::Serve(args) => crate::serve_cmd::run(args).await,
        Command::Recovery { command } => crate::recovery_cmd::run(command).await,
        Command::User { command } => crate::user_cmd::run(command).await,
        Command::Token { command } => crate::token_cmd::run(command).await,
        Command::Renew {
            due: _,
            at,
            limit,
            data,
            unlock: u,
            config,
            json,
        } => crate::user_cmd::renew(&data, &u, &config, at.as_deref(), limit, json).await,
        Command::Bench {
            operations,
            seconds,
            key_types,
            sizes,
            json,
        } => {
            let only = crate::bench_cmd::Only::new(&key_types, &sizes)?;
            crate::bench_cmd::run(&operations, &only, seconds, json, now())
        }
        Command::Crl {
            data,
            unlock: u,
            out,
            der,
            ca,
        } => {
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            // Claim the output before a CRL number is used up.
            let target = crate::io::Output::open(out.as_deref())?;
            let crl = c.publish_crl(&kek, &ca, &actor(), now()).await?;
            let bytes = if der {
                crl.der.clone()
            } else {
                cachet_pki::pem::encode("X509 CRL", &crl.der).into_bytes()
            };
            target.finish(&bytes)?;
            if let Some(p) = &out {
                eprintln!(
                    "CRL number {} of the {ca} CA written to {}",
                    crl.number,
                    p.display()
                );
            }
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::List { data, json },
        } => {
            let c = open(&data).await?;
            let records = c.audit_log().await?;
            if json {
                let v: Vec<_> = records
                    .iter()
                    .map(|r| {
                        json!({
                            "seq": r.seq, "at": rfc3339(r.entry.at as u64), "actor": r.entry.actor,
                            "action": r.entry.action, "serial": r.entry.serial, "subject": r.entry.subject,
                            "detail": r.entry.detail,
                            "hash": r.hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                        })
                    })
                    .collect();
                print_json(&json!(v))?;
            } else {
                for r in &records {
                    crate::out!(
                        "{:>6}  {}  {:<20} {:<20} {} {} {}",
                        r.seq,
                        rfc3339(r.entry.at as u64),
                        r.entry.actor,
                        r.entry.action,
                        r.entry.serial.as_deref().unwrap_or("-"),
                        r.entry.subject.as_deref().unwrap_or("-"),
                        r.entry.detail
                    );
                }
            }
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    data,
                    unlock: u,
                    json,
                },
        } => {
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            let (count, problems) = c.verify_audit(&kek).await?;
            c.store().close().await;
            if json {
                print_json(&json!({
                    "records": count,
                    "intact": problems.is_empty(),
                    "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }))?;
            } else if problems.is_empty() {
                crate::out!("audit log intact: {count} records, hash chain unbroken");
            } else {
                crate::out!(
                    "audit log TAMPERED: {} problem(s) in {count} records",
                    problems.len()
                );
                for p in &problems {
                    crate::out!("  - {p}");
                }
            }
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn pki_command(command: PkiCommand) -> Result<ExitCode> {
    match command {
        PkiCommand::Validate(args) => crate::pki_cmd::validate_command(&args, now()),
        PkiCommand::P12Info {
            input,
            password_file,
            json,
        } => {
            let bytes = read_file(&input, "PKCS#12 file")?;
            let password = read_password(&password_file, "password file")?;
            let contents = cachet_pki::pkcs12::parse(&bytes, &password)
                .map_err(|e| CliError(format!("{}: {e}", input.display())))?;
            let mut keys = Vec::new();
            for (i, k) in contents.keys.iter().enumerate() {
                let key = cachet_crypto::PrivateKey::from_pkcs8_der(k).map_err(|e| {
                    CliError(format!(
                        "{}: key {} is not usable: {e}",
                        input.display(),
                        i + 1
                    ))
                })?;
                let cert = contents
                    .certificate_for_key(i)
                    .and_then(|c| ParsedCertificate::from_der(&contents.certificates[c]).ok());
                let matches = cert
                    .as_ref()
                    .and_then(|c| c.spki_der().ok())
                    .is_some_and(|s| s == key.public_key_der());
                keys.push(json!({
                    "key_type": key.key_type().name(),
                    "certificate": cert.as_ref().map(|c| c.subject()),
                    "certificate_matches_key": matches,
                }));
            }
            let mut certs = Vec::new();
            for c in &contents.certificates {
                let c = ParsedCertificate::from_der(c)?;
                certs.push(json!({
                    "subject": c.subject(),
                    "issuer": c.issuer(),
                    "serial": c.serial_hex(),
                    "not_after": rfc3339(c.not_after()),
                }));
            }
            if json {
                print_json(&json!({"keys": keys, "certificates": certs}))?;
            } else {
                crate::out!("{}: password and MAC verified", input.display());
                for k in &keys {
                    crate::out!(
                        "  key {} for {} (matches: {})",
                        k["key_type"].as_str().unwrap_or_default(),
                        k["certificate"].as_str().unwrap_or("no certificate"),
                        k["certificate_matches_key"]
                    );
                }
                for c in &certs {
                    crate::out!(
                        "  certificate {} (serial {}, until {})",
                        c["subject"].as_str().unwrap_or_default(),
                        c["serial"].as_str().unwrap_or_default(),
                        c["not_after"].as_str().unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn cert_command(command: CertCommand) -> Result<ExitCode> {
    match command {
        CertCommand::Issue {
            data,
            unlock: u,
            email,
            profile,
            csr,
            key_type,
            out_dir,
            p12_password_file,
            p12_compat,
            validity_days,
            non_repudiation,
            json,
        } => {
            // Read and check every input before anything is issued or written.
            let c = open(&data).await?;
            let key = match &csr {
                Some(p) => KeySource::Csr {
                    bytes: read_file(p, "CSR")?,
                    source: p.display().to_string(),
                },
                None => KeySource::Generate(key_type.unwrap_or(profile.default_key_type())),
            };
            let p12_password = match &p12_password_file {
                Some(p) => {
                    if csr.is_some() {
                        return Err(CliError(
                            "--p12-password-file needs a key Cachet generates: with --csr the private key stays with you".into(),
                        ));
                    }
                    Some(read_password(p, "PKCS#12 password file")?)
                }
                None => None,
            };
            let kek = unlock(&c, &u).await?;
            // Claim the output files (create-new) before issuing, so a bad output directory
            // fails before a certificate exists; give them up if issuance fails.
            let files = OutputFiles::create(&out_dir, csr.is_none(), p12_password.is_some())?;
            let request = IssueRequest {
                email,
                profile,
                key,
                validity_days,
                non_repudiation,
                actor: actor(),
            };
            let issued = match c.issue(&kek, request, now()).await {
                Ok(i) => i,
                Err(e) => {
                    files.discard();
                    return Err(e.into());
                }
            };
            let written = match files.write(
                &issued,
                p12_password.as_ref().map(|p| p.as_slice()),
                p12_compat,
            ) {
                Ok(w) => w,
                Err(e) => {
                    // The key exists nowhere else: a certificate whose key was not delivered
                    // must not stay valid.
                    let serial = issued.record.serial.clone();
                    let revoked = c
                        .revoke(
                            &kek,
                            &serial,
                            RevocationReason::CessationOfOperation,
                            &actor(),
                            now(),
                        )
                        .await;
                    c.store().close().await;
                    return Err(CliError(match revoked {
                        Ok(_) => format!(
                            "{e}; certificate {serial} was issued and has been revoked (cessation-of-operation)"
                        ),
                        Err(r) => format!(
                            "{e}; certificate {serial} was issued and could not be revoked ({r}): revoke it by hand"
                        ),
                    }));
                }
            };
            c.store().close().await;
            if json {
                let mut v = cert_json(&issued.record, now());
                v["files"] = json!(
                    written
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                );
                print_json(&v)?;
            } else {
                crate::out!(
                    "Issued {} certificate {} for {}",
                    issued.record.profile,
                    issued.record.serial,
                    issued.record.email
                );
                crate::out!("  key type:   {}", issued.record.key_type);
                crate::out!(
                    "  valid:      {} to {}",
                    rfc3339(issued.record.not_before as u64),
                    rfc3339(issued.record.not_after as u64)
                );
                for p in &written {
                    crate::out!("  wrote       {}", p.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::List { data, email, json } => {
            let c = open(&data).await?;
            let email = match email {
                Some(e) => Some(cachet_pki::profile::normalize_email(&e)?),
                None => None,
            };
            let certs = c.certificates(email.as_deref()).await?;
            c.store().close().await;
            let t = now();
            if json {
                print_json(&json!(
                    certs.iter().map(|r| cert_json(r, t)).collect::<Vec<_>>()
                ))?;
            } else {
                crate::out!(
                    "{:<34} {:<8} {:<10} {:<11} {:<21} EMAIL",
                    "SERIAL",
                    "STATUS",
                    "PROFILE",
                    "KEY",
                    "NOT AFTER"
                );
                for r in &certs {
                    crate::out!(
                        "{:<34} {:<8} {:<10} {:<11} {:<21} {}",
                        r.serial,
                        r.status(t),
                        r.profile,
                        r.key_type,
                        rfc3339(r.not_after as u64),
                        r.email
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::Show {
            data,
            serial,
            json,
            pem,
        } => {
            let c = open(&data).await?;
            let r = c.certificate(&serial).await?;
            c.store().close().await;
            let cert = ParsedCertificate::from_der(&r.der)?;
            if pem {
                write_output(None, cert.to_pem().as_bytes())?;
            } else if json {
                let mut v = cert_json(&r, now());
                v["issuer"] = json!(cert.issuer());
                v["sha256_fingerprint"] = json!(fingerprint(&r.der));
                v["pem"] = json!(cert.to_pem());
                print_json(&v)?;
            } else {
                let v = cert_json(&r, now());
                for k in [
                    "serial",
                    "status",
                    "email",
                    "subject",
                    "profile",
                    "key_type",
                    "not_before",
                    "not_after",
                    "issued_at",
                ] {
                    crate::out!(
                        "{:<20}{}",
                        format!("{k}:"),
                        v[k].as_str().unwrap_or_default()
                    );
                }
                crate::out!("{:<20}{}", "issuer:", cert.issuer());
                crate::out!("{:<20}{}", "sha256_fingerprint:", fingerprint(&r.der));
                if let (Some(at), Some(why)) = (r.revoked_at, &r.revocation_reason) {
                    crate::out!("{:<20}{} ({why})", "revoked:", rfc3339(at as u64));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::Revoke {
            data,
            unlock: u,
            serial,
            reason,
            json,
        } => {
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            let r = c.revoke(&kek, &serial, reason, &actor(), now()).await?;
            c.store().close().await;
            if json {
                print_json(&cert_json(&r, now()))?;
            } else {
                crate::out!(
                    "Revoked {} ({}) for {}: run `cachet crl` to publish the change",
                    r.serial,
                    reason,
                    r.email
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The files `cert issue` writes, created empty (create-new, secrets mode 0600) before the
/// certificate is issued and filled afterwards.
struct OutputFiles {
    /// Directories this command created, outermost first.
    created_dirs: Vec<PathBuf>,
    files: Vec<(PathBuf, std::fs::File)>,
    dir: PathBuf,
}

impl OutputFiles {
    fn create(dir: &Path, key: bool, p12: bool) -> Result<Self> {
        let mut missing = Vec::new();
        let mut d = dir.to_path_buf();
        while !d.as_os_str().is_empty() && !d.exists() {
            missing.push(d.clone());
            d = d.parent().map(Path::to_path_buf).unwrap_or_default();
        }
        let mut out = OutputFiles {
            created_dirs: Vec::new(),
            files: Vec::new(),
            dir: dir.to_path_buf(),
        };
        for m in missing.into_iter().rev() {
            if let Err(e) = std::fs::create_dir(&m) {
                out.discard();
                return Err(CliError(format!(
                    "cannot create output directory {}: {e}",
                    m.display()
                )));
            }
            out.created_dirs.push(m);
        }
        let mut names = vec![("cert.pem", false), ("chain.pem", false)];
        if key {
            names.push(("key.pem", true));
        }
        if p12 {
            names.push(("bundle.p12", true));
        }
        for (name, secret) in names {
            let p = dir.join(name);
            match crate::io::create_new(&p, secret) {
                Ok(f) => out.files.push((p, f)),
                Err(e) => {
                    out.discard();
                    return Err(CliError(format!("{e} (nothing was issued)")));
                }
            }
        }
        Ok(out)
    }

    /// Removes every file and directory this command created.
    fn discard(self) {
        for (p, f) in self.files {
            drop(f);
            let _ = std::fs::remove_file(p);
        }
        for d in self.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }

    fn write(
        mut self,
        issued: &cachet_service::Issued,
        p12_password: Option<&[u8]>,
        p12_compat: bool,
    ) -> Result<Vec<PathBuf>> {
        let mut contents: Vec<(&str, zeroize::Zeroizing<Vec<u8>>)> = Vec::new();
        if let Some(k) = &issued.key {
            contents.push((
                "key.pem",
                zeroize::Zeroizing::new(
                    cachet_pki::pem::encode("PRIVATE KEY", k.pkcs8_der()).into_bytes(),
                ),
            ));
            if let Some(pw) = p12_password {
                contents.push((
                    "bundle.p12",
                    crate::commands::p12::bundle(k, issued, pw, p12_compat)?,
                ));
            }
        }
        contents.push((
            "cert.pem",
            zeroize::Zeroizing::new(issued.certificate.to_pem().into_bytes()),
        ));
        let chain: String = issued.chain.iter().map(ParsedCertificate::to_pem).collect();
        contents.push(("chain.pem", zeroize::Zeroizing::new(chain.into_bytes())));
        let mut written = Vec::new();
        for (name, bytes) in &contents {
            let p = self.dir.join(name);
            let Some((_, f)) = self.files.iter_mut().find(|(fp, _)| *fp == p) else {
                continue;
            };
            if let Err(e) = crate::io::fill(f, &p, bytes) {
                self.discard();
                return Err(e);
            }
            written.push(p);
        }
        Ok(written)
    }
}

mod p12 {
    use crate::io::{CliError, Result};

    pub fn bundle(
        key: &cachet_crypto::PrivateKey,
        issued: &cachet_service::Issued,
        password: &[u8],
        compat: bool,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        use cachet_pki::pkcs12::{Pkcs12Profile, build};
        let chain: Vec<&[u8]> = issued.chain.iter().map(|c| c.der()).collect();
        let profile = if compat {
            Pkcs12Profile::Compatible
        } else {
            Pkcs12Profile::Modern
        };
        build(
            key.pkcs8_der(),
            issued.certificate.der(),
            &chain,
            Some(&issued.record.email),
            password,
            profile,
        )
        .map_err(|e| CliError(format!("cannot build the PKCS#12 file: {e}")))
    }
}
