//! `cachet recovery …`: the key archive's M-of-N recovery from the command line — requests,
//! officer approvals, completion into a PKCS#12 file, the request list, the officers and
//! their rotation. The work is `cachet_service::recovery`'s; this module reads files and
//! passwords, prints, and maps refusals to exit status 1 (bad input stays 2).

use crate::commands::{DataArg, UnlockArg, open, print_json, unlock};
use crate::io::{CliError, Result, actor, now, read_file, read_password};
use cachet_escrow::{
    DEFAULT_REQUEST_TTL, OfficerCredential, Pkcs12Profile, RecoveryRequest, RequestPurpose,
};
use cachet_pki::ParsedCertificate;
use cachet_pki::time::rfc3339;
use cachet_service::{Cachet, OfficerInput, RecoveryStatus, ServiceError};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Recovery officers given on the command line (`init`, `recovery reshare`).
#[derive(Args, Clone, Default)]
pub(crate) struct OfficerArgs {
    /// A recovery officer who approves with a passphrase: NAME=FILE, the passphrase on the
    /// file's first line (at least 12 bytes). Repeat for each of the N officers.
    #[arg(long = "officer", value_name = "NAME=FILE")]
    pub(crate) officers: Vec<String>,
    /// A recovery officer who approves with the private key of their own encryption
    /// certificate: NAME=CERT_FILE (PEM or DER). Repeatable.
    #[arg(long = "officer-cert", value_name = "NAME=CERT_FILE")]
    pub(crate) officer_certs: Vec<String>,
    /// How many officers must approve a recovery (M, 1 ≤ M ≤ N). Required with two or
    /// more officers: how many must agree is a decision, not a default.
    #[arg(long, value_name = "M")]
    pub(crate) threshold: Option<usize>,
}

impl OfficerArgs {
    pub(crate) fn is_empty(&self) -> bool {
        self.officers.is_empty() && self.officer_certs.is_empty() && self.threshold.is_none()
    }

    /// Reads every officer's passphrase file or certificate; returns them with M.
    pub(crate) fn read(&self) -> Result<(Vec<OfficerInput>, usize)> {
        let split = |spec: &str, flag: &str| -> Result<(String, PathBuf)> {
            match spec.split_once('=') {
                Some((n, f)) if !n.trim().is_empty() && !f.is_empty() => {
                    Ok((n.to_string(), PathBuf::from(f)))
                }
                _ => Err(CliError(format!(
                    "{flag} '{spec}' is not NAME=FILE (e.g. {flag} alice=alice.pass)"
                ))),
            }
        };
        let mut out = Vec::new();
        for spec in &self.officers {
            let (name, file) = split(spec, "--officer")?;
            let passphrase = read_password(&file, &format!("passphrase file of officer '{name}'"))?;
            out.push(OfficerInput::Passphrase { name, passphrase });
        }
        for spec in &self.officer_certs {
            let (name, file) = split(spec, "--officer-cert")?;
            let bytes = read_file(&file, &format!("certificate of officer '{name}'"))?;
            let cert = ParsedCertificate::from_pem_or_der(&bytes)
                .map_err(|e| CliError(format!("{}: {e}", file.display())))?
                .into_iter()
                .next()
                .ok_or_else(|| CliError(format!("{}: no certificate", file.display())))?;
            out.push(OfficerInput::Certificate { name, cert });
        }
        if out.is_empty() {
            return Err(CliError(
                "--threshold needs the officers: give --officer NAME=PASSPHRASE_FILE (or --officer-cert NAME=CERT_FILE) for each of them".into(),
            ));
        }
        let threshold = match (self.threshold, out.len()) {
            (Some(m), _) => m,
            (None, 1) => 1,
            (None, n) => {
                return Err(CliError(format!(
                    "{n} recovery officers given without --threshold: say how many of them must approve a recovery (--threshold M, 1 to {n})"
                )));
            }
        };
        if threshold == 0 || threshold > out.len() {
            return Err(CliError(format!(
                "--threshold {threshold} with {} officers: it must be between 1 and the number of officers",
                out.len()
            )));
        }
        Ok((out, threshold))
    }
}

/// `cachet recovery …`.
#[derive(Subcommand)]
pub enum RecoveryCommand {
    /// Ask for the archived encryption keys of a user (or, with --reshare, for a rotation of
    /// the officers); prints the request id. M officers must then approve it.
    Request {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// Whose keys: every archived encryption key of this mailbox.
        #[arg(long, required_unless_present = "reshare", conflicts_with = "reshare")]
        email: Option<String>,
        /// Only the key of this certificate (hex serial).
        #[arg(long, requires = "email")]
        serial: Option<String>,
        /// Ask to re-split the recovery key among new officers (`cachet recovery reshare`).
        #[arg(long)]
        reshare: bool,
        /// Why (kept in the request and the audit log).
        #[arg(long)]
        reason: String,
        /// Lifetime of the request in seconds (default 72 hours, at most 30 days).
        #[arg(long, default_value_t = DEFAULT_REQUEST_TTL, value_name = "SECONDS")]
        ttl_seconds: u64,
        /// Machine-readable output: {"id": …}.
        #[arg(long)]
        json: bool,
    },
    /// One officer approves a request with their passphrase (a file, or a prompt on a
    /// terminal) or, for certificate officers, their private key.
    Approve {
        #[command(flatten)]
        data: DataArg,
        /// File holding the passphrase that protects the CA keys (data directories made
        /// with `init --passphrase-file`); --passphrase-file is the officer's here.
        #[arg(long, env = "CACHET_PASSPHRASE_FILE", value_name = "FILE")]
        ca_passphrase_file: Option<PathBuf>,
        /// The request id.
        id: String,
        /// The approving officer.
        #[arg(long)]
        officer: String,
        /// File holding the officer's passphrase (first line).
        #[arg(long, value_name = "FILE", conflicts_with = "key")]
        passphrase_file: Option<PathBuf>,
        /// The officer's private key (PKCS#8 PEM or DER), for certificate officers.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// With M approvals, write every archived encryption key of the user (current and
    /// superseded) to a PKCS#12 file.
    Complete {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// The request id.
        id: String,
        /// The PKCS#12 file to create (mode 0600; never overwritten).
        #[arg(long, value_name = "FILE.p12")]
        out: PathBuf,
        /// File holding the password of the PKCS#12 file.
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
        /// Parameters GnuPG 2.2's gpgsm also reads (PBES1 3DES, for RSA keys).
        #[arg(long)]
        p12_compat: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The requests, with their state, approvals and expiry.
    List {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The recovery officers, the threshold and the key-recovery-agent certificate.
    Officers {
        #[command(flatten)]
        data: DataArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Rotation: with an approved --reshare request, split the recovery key again among new
    /// officers (the old shares stop working).
    Reshare {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// The request id (made with `cachet recovery request --reshare`).
        id: String,
        #[command(flatten)]
        officers: OfficerArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// A refusal by the recovery rules exits 1 with its sentence; anything else is an error
/// (exit 2).
fn refusal_or_error(e: ServiceError) -> Result<ExitCode> {
    if e.is_refusal() {
        eprintln!("cachet: {e}");
        Ok(ExitCode::from(1))
    } else {
        Err(e.into())
    }
}

fn request_json(r: &RecoveryRequest, now: u64) -> serde_json::Value {
    serde_json::to_value(cachet_service::recovery::RequestView::of(r, now))
        .unwrap_or(serde_json::Value::Null)
}

fn status_json(s: &RecoveryStatus) -> serde_json::Value {
    json!({
        "generation": s.generation,
        "threshold": s.threshold,
        "officers": s.officers.iter().map(|(n, k)| json!({"name": n, "approves_with": k})).collect::<Vec<_>>(),
        "created_at": rfc3339(s.created_at),
        "kra_certificate": {
            "subject": s.kra_certificate.subject(),
            "serial": s.kra_certificate.serial_hex(),
            "not_after": rfc3339(s.kra_certificate.not_after()),
        },
    })
}

/// Reads a password from the terminal without echo (`stty -echo` on /dev/tty).
fn prompt_password(prompt: &str) -> Result<Zeroizing<Vec<u8>>> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError(
            "no --passphrase-file (or --key) given and standard input is not a terminal to ask on"
                .into(),
        ));
    }
    let stty = |arg: &str| {
        std::fs::File::open("/dev/tty")
            .ok()
            .and_then(|tty| {
                std::process::Command::new("stty")
                    .arg(arg)
                    .stdin(tty)
                    .status()
                    .ok()
            })
            .is_some_and(|s| s.success())
    };
    eprint!("{prompt}");
    let hidden = stty("-echo");
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin().read_line(&mut line);
    if hidden {
        stty("echo");
    }
    eprintln!();
    read.map_err(|e| CliError(format!("cannot read the passphrase: {e}")))?;
    let trimmed = line.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        return Err(CliError("the passphrase is empty".into()));
    }
    Ok(Zeroizing::new(trimmed.as_bytes().to_vec()))
}

fn print_status(s: &RecoveryStatus) {
    crate::out!(
        "Key recovery: {} of {} officers must approve",
        s.threshold,
        s.officers.len()
    );
    for (name, kind) in &s.officers {
        crate::out!("  officer {name} (approves with a {kind})");
    }
    crate::out!(
        "  key-recovery-agent certificate: {} (serial {}, until {})",
        s.kra_certificate.subject(),
        s.kra_certificate.serial_hex(),
        rfc3339(s.kra_certificate.not_after())
    );
    crate::out!("  split {} made {}", s.generation, rfc3339(s.created_at));
}

async fn close(c: &Cachet) {
    c.store().close().await;
}

/// Runs `cachet recovery …`.
pub async fn run(command: RecoveryCommand) -> Result<ExitCode> {
    match command {
        RecoveryCommand::Request {
            data,
            unlock: u,
            email,
            serial,
            reshare,
            reason,
            ttl_seconds,
            json,
        } => {
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            let purpose = match email {
                Some(email) if !reshare => RequestPurpose::Recover { email, serial },
                _ => RequestPurpose::Reshare,
            };
            let r = c
                .request_recovery(&kek, purpose, &reason, ttl_seconds, &actor(), now())
                .await;
            close(&c).await;
            let r = match r {
                Ok(r) => r,
                Err(e) => return refusal_or_error(e),
            };
            if json {
                let mut v = request_json(&r, now());
                v["id"] = json!(r.id());
                print_json(&v)?;
            } else {
                crate::out!("{}", r.id());
                eprintln!(
                    "Recovery request {} made; it needs {} officer approval(s) before {}: `cachet recovery approve {} --officer NAME --passphrase-file FILE`",
                    r.id(),
                    r.threshold(),
                    rfc3339(r.expires_at()),
                    r.id()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RecoveryCommand::Approve {
            data,
            ca_passphrase_file,
            id,
            officer,
            passphrase_file,
            key,
            json,
        } => {
            let c = open(&data).await?;
            let kek = unlock(
                &c,
                &UnlockArg {
                    passphrase_file: ca_passphrase_file,
                },
            )
            .await?;
            let private_key;
            let passphrase;
            let credential = match (&passphrase_file, &key) {
                (_, Some(k)) => {
                    private_key = crate::smime_cmd::read_key(k)?;
                    OfficerCredential::PrivateKey(&private_key)
                }
                (Some(p), None) => {
                    passphrase = read_password(p, "officer passphrase file")?;
                    OfficerCredential::Passphrase(&passphrase)
                }
                (None, None) => {
                    passphrase =
                        prompt_password(&format!("Passphrase of recovery officer '{officer}': "))?;
                    OfficerCredential::Passphrase(&passphrase)
                }
            };
            let r = c
                .approve_recovery(&kek, &id, &officer, credential, &actor(), now())
                .await;
            close(&c).await;
            let r = match r {
                Ok(r) => r,
                Err(e) => return refusal_or_error(e),
            };
            if json {
                print_json(&request_json(&r, now()))?;
            } else {
                crate::out!(
                    "Officer {officer} approved request {id}: {} of {} approvals",
                    r.approvals().len(),
                    r.threshold()
                );
                if r.has_enough_approvals() {
                    crate::out!(
                        "  enough approvals: complete it with `cachet recovery complete {id} --out FILE.p12 --password-file FILE`"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RecoveryCommand::Complete {
            data,
            unlock: u,
            id,
            out,
            password_file,
            p12_compat,
            json,
        } => {
            let c = open(&data).await?;
            let password = read_password(&password_file, "PKCS#12 password file")?;
            let kek = unlock(&c, &u).await?;
            // Claim the output (create-new, 0600) before the request is used up.
            let mut file = crate::io::create_new(&out, true)?;
            let profile = if p12_compat {
                Pkcs12Profile::Compatible
            } else {
                Pkcs12Profile::Modern
            };
            let r = c
                .complete_recovery(&kek, &id, &password, profile, &actor(), now())
                .await;
            close(&c).await;
            let recovered = match r {
                Ok(r) => r,
                Err(e) => {
                    drop(file);
                    let _ = std::fs::remove_file(&out);
                    return refusal_or_error(e);
                }
            };
            if let Err(e) = crate::io::fill(&mut file, &out, &recovered.pkcs12) {
                drop(file);
                let _ = std::fs::remove_file(&out);
                return Err(CliError(format!(
                    "{e}; request {id} is completed and cannot be used again: make a new request"
                )));
            }
            if json {
                print_json(&json!({
                    "id": id,
                    "email": recovered.email,
                    "serials": recovered.serials,
                    "file": out.display().to_string(),
                }))?;
            } else {
                crate::out!(
                    "Recovered {} archived key(s) of {} into {} (serials {})",
                    recovered.serials.len(),
                    recovered.email,
                    out.display(),
                    recovered.serials.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RecoveryCommand::List {
            data,
            unlock: u,
            json,
        } => {
            let c = open(&data).await?;
            // Expire overdue requests when the key-encryption key is at hand (it signs the
            // audit records); listing alone never needs a passphrase.
            let kek = if c.needs_passphrase() && u.passphrase_file.is_none() {
                None
            } else {
                Some(unlock(&c, &u).await?)
            };
            let t = now();
            let list = c.recovery_requests(kek.as_ref(), &actor(), t).await;
            close(&c).await;
            let list = list?;
            if json {
                print_json(&json!(
                    list.iter().map(|r| request_json(r, t)).collect::<Vec<_>>()
                ))?;
            } else {
                crate::out!(
                    "{:<17} {:<9} {:<10} {:<9} {:<21} FOR",
                    "ID",
                    "PURPOSE",
                    "STATE",
                    "APPROVED",
                    "EXPIRES"
                );
                for r in &list {
                    let v = request_json(r, t);
                    let who = match r.purpose() {
                        RequestPurpose::Recover { email, serial } => match serial {
                            Some(s) => format!("{email} ({s})"),
                            None => email.clone(),
                        },
                        RequestPurpose::Reshare => "officers".into(),
                    };
                    crate::out!(
                        "{:<17} {:<9} {:<10} {:<9} {:<21} {who}",
                        r.id(),
                        v["purpose"].as_str().unwrap_or_default(),
                        r.state_name_at(t),
                        format!("{}/{}", r.approvals().len(), r.threshold()),
                        rfc3339(r.expires_at()),
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RecoveryCommand::Officers { data, json } => {
            let c = open(&data).await?;
            let s = c.recovery_status().await;
            close(&c).await;
            let s = s?;
            if json {
                print_json(&status_json(&s))?;
            } else {
                print_status(&s);
            }
            Ok(ExitCode::SUCCESS)
        }
        RecoveryCommand::Reshare {
            data,
            unlock: u,
            id,
            officers,
            json,
        } => {
            let c = open(&data).await?;
            let (list, threshold) = officers.read()?;
            let kek = unlock(&c, &u).await?;
            let r = c
                .reshare_recovery(&kek, &id, &list, threshold, &actor(), now())
                .await;
            close(&c).await;
            let s = match r {
                Ok(s) => s,
                Err(e) => return refusal_or_error(e),
            };
            if json {
                print_json(&status_json(&s))?;
            } else {
                crate::out!(
                    "Recovery key re-split by request {id}; the previous officers' shares no longer open anything."
                );
                print_status(&s);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints what `init` set up for recovery, and says loudly where a generated officer
/// passphrase went.
pub(crate) async fn report_init(c: &Cachet, generated: Option<&Path>) -> Result<()> {
    if !c.recovery_enabled() {
        crate::out!(
            "  key recovery is off (--no-recovery): encryption keys are not archived and cannot be recovered"
        );
        return Ok(());
    }
    let s = c.recovery_status().await?;
    let names: Vec<&str> = s.officers.iter().map(|(n, _)| n.as_str()).collect();
    crate::out!(
        "  key recovery: encryption keys are archived; {} of {} officers ({}) must approve a recovery",
        s.threshold,
        s.officers.len(),
        names.join(", ")
    );
    crate::out!(
        "  key-recovery-agent certificate: {} (serial {})",
        s.kra_certificate.subject(),
        s.kra_certificate.serial_hex()
    );
    if let Some(p) = generated {
        eprintln!();
        eprintln!("******************************************************************************");
        eprintln!(
            "  The passphrase of recovery officer 'admin' was written to\n    {}",
            p.display()
        );
        eprintln!(
            "  MOVE IT OFFLINE NOW (print it, or put it in a password safe) and delete the\n  file: with it and this data directory, anyone can recover every archived\n  encryption key. Without it, no archived key can ever be recovered."
        );
        eprintln!("******************************************************************************");
    }
    Ok(())
}
