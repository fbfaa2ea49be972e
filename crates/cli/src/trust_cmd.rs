//! `cachet trust add|list|remove|import-crl`: the data directory's trust store — partners'
//! roots and CAs, intermediates that complete their paths, and CRLs imported by hand.
//! `smime verify`, `pki validate` and `doctor` use it with `--data DIR`.

use crate::commands::{DataArg, UnlockArg, open, print_json, unlock};
use crate::io::{CliError, Result, actor, now, read_file};
use crate::trust_args::RevocationArg;
use cachet_pki::ParsedCertificate;
use cachet_pki::time::rfc3339;
use cachet_service::trust::{
    Added, AnchorConstraints, CrlImported, StoredCrl, TrustError, TrustKind, TrustedCertificate,
    short_fingerprint,
};
use cachet_store::CrlImportOutcome;
use clap::Subcommand;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The `trust` subcommands.
#[derive(Subcommand)]
pub enum TrustCommand {
    /// Trust the certificates in FILE (PEM, several certificates: each is added; or DER) as
    /// anchors — normally a partner's self-signed root or a partner's CA certificate (for
    /// cross-certification) — or, with --intermediate, as intermediates that complete paths.
    /// Adding a certificate already trusted changes nothing.
    Add {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// The certificate file.
        file: PathBuf,
        /// Store as an intermediate: used to complete a path to an anchor (for senders whose
        /// messages lack their CA certificate), trusted for nothing by itself.
        #[arg(long)]
        intermediate: bool,
        /// Trust the anchor only for these addresses (RFC 5280 §4.2.1.10 rfc822Name forms):
        /// `partner.example` means addresses @partner.example exactly, `.partner.example`
        /// addresses at any subdomain (@eu.partner.example, not @partner.example itself),
        /// `alice@partner.example` one mailbox. Repeatable; give both `partner.example` and
        /// `.partner.example` for a domain and its subdomains. Default: any address.
        #[arg(
            long = "email-domain",
            value_name = "D",
            conflicts_with = "intermediate"
        )]
        email_domains: Vec<String>,
        /// Revocation checking for paths ending at this anchor, overriding the verifier's
        /// --revocation. Default: the verifier's.
        #[arg(long, value_enum, conflicts_with = "intermediate")]
        revocation: Option<RevocationArg>,
        /// A name for the anchor, shown by `trust list` (and matched by `trust remove`).
        #[arg(long = "name", value_name = "LABEL", conflicts_with = "intermediate")]
        name: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List the anchors and intermediates (the organisation's own CAs included) and the CRLs.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Machine-readable output (whole fingerprints).
        #[arg(long)]
        json: bool,
    },
    /// Remove one trusted certificate, designated by its SHA-256 fingerprint (or a prefix of
    /// at least 4 hex digits) or by part of its subject or name. Refuses, listing the
    /// matches, when several certificates match.
    Remove {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// Fingerprint, fingerprint prefix, or subject substring.
        #[arg(value_name = "FINGERPRINT|SUBJECT")]
        query: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Import CRLs from FILE (PEM, several; or DER): the offline route when a CRL
    /// distribution point cannot be reached. The signature is checked against the trusted
    /// certificate named as issuer, if any; a newer CRL of the same issuer and scope
    /// replaces the older one.
    ImportCrl {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// The CRL file.
        file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// A trust-store failure about `file`, as one sentence naming it.
fn about(file: &Path, e: TrustError) -> CliError {
    CliError(format!("{}: {e}", file.display()))
}

fn certificate_json(c: &TrustedCertificate) -> serde_json::Value {
    let cert = &c.certificate;
    json!({
        "kind": c.kind.name(),
        "source": c.source.name(),
        "fingerprint": c.fingerprint,
        "subject": cert.subject(),
        "issuer": cert.issuer(),
        "serial": cert.serial_hex(),
        "label": c.label,
        "is_ca": cert.is_ca().unwrap_or(false),
        "not_before": rfc3339(cert.not_before()),
        "not_after": rfc3339(cert.not_after()),
        "permitted_email": c.permitted_email,
        "revocation": c.revocation.map(|r| r.as_str()),
        "added_at": c.added_at.map(rfc3339),
    })
}

fn crl_json(c: &StoredCrl, now: u64) -> serde_json::Value {
    json!({
        "source": c.source.name(),
        "fingerprint": c.fingerprint,
        "issuer": c.crl.issuer(),
        "crl_number": c.crl.crl_number(),
        "delta": c.delta,
        "this_update": rfc3339(c.crl.this_update()),
        "next_update": c.crl.next_update().map(rfc3339),
        "expired": c.crl.next_update().is_some_and(|t| t < now),
        "entries": c.crl.entries().len(),
        "imported_at": c.imported_at.map(rfc3339),
    })
}

/// Every certificate of a PEM bundle or one DER certificate; the error names the file.
fn read_certificates(file: &Path) -> Result<Vec<ParsedCertificate>> {
    let bytes = read_file(file, "certificate file")?;
    let certs = ParsedCertificate::from_pem_or_der(&bytes)
        .map_err(|e| CliError(format!("{}: {e}", file.display())))?;
    if certs.is_empty() {
        return Err(CliError(format!(
            "{}: holds no certificate",
            file.display()
        )));
    }
    Ok(certs)
}

/// Every CRL of a PEM file ("X509 CRL" blocks) or one DER CRL, as DER.
fn read_crl_ders(file: &Path) -> Result<Vec<Vec<u8>>> {
    let bytes = read_file(file, "CRL file")?;
    let ders = cachet_pki::pem::der_objects(&bytes, &["X509 CRL"], "CRL")
        .map_err(|e| CliError(format!("{}: {e}", file.display())))?;
    if ders.is_empty() {
        return Err(CliError(format!("{}: holds no CRL", file.display())));
    }
    // Every CRL must decode before any is imported.
    for (i, d) in ders.iter().enumerate() {
        cachet_pki::crl::ParsedCrl::from_der(d).map_err(|e| {
            CliError(if ders.len() == 1 {
                format!("{}: {e}", file.display())
            } else {
                format!("{}: CRL {} of {}: {e}", file.display(), i + 1, ders.len())
            })
        })?;
    }
    Ok(ders)
}

/// Runs a `trust` subcommand.
pub async fn run(command: TrustCommand) -> Result<ExitCode> {
    match command {
        TrustCommand::Add {
            data,
            unlock: u,
            file,
            intermediate,
            email_domains,
            revocation,
            name,
            json,
        } => {
            let certs = read_certificates(&file)?;
            // Check the constraints before anything is stored.
            for d in &email_domains {
                cachet_service::trust::normalize_constraint(d)
                    .map_err(|e| CliError(e.to_string()))?;
            }
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            let constraints = AnchorConstraints {
                permitted_email: email_domains,
                revocation: revocation.map(Into::into),
                label: name,
            };
            let trust = c.trust();
            let mut results = Vec::new();
            for cert in &certs {
                let r = if intermediate {
                    trust.add_intermediate(&kek, cert, &actor(), now()).await
                } else {
                    trust
                        .add_anchor(&kek, cert, &constraints, &actor(), now())
                        .await
                };
                let added = match r {
                    Ok(a) => a,
                    Err(e) => {
                        c.store().close().await;
                        return Err(about(&file, e));
                    }
                };
                for w in &added.warnings {
                    eprintln!("cachet: warning: {w}");
                }
                if !json {
                    print_added(&added);
                }
                results.push(added);
            }
            c.store().close().await;
            if json {
                print_json(&json!(
                    results
                        .iter()
                        .map(|a| {
                            let mut v = certificate_json(&a.entry);
                            v["status"] = json!(if a.already_present {
                                "already-present"
                            } else {
                                "added"
                            });
                            v["warnings"] = json!(a.warnings);
                            v
                        })
                        .collect::<Vec<_>>()
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::List { data, json } => {
            let c = open(&data).await?;
            let listing = c.trust().list().await;
            c.store().close().await;
            let listing = listing.map_err(|e| CliError(e.to_string()))?;
            let t = now();
            let (anchors, intermediates): (Vec<_>, Vec<_>) = listing
                .certificates
                .iter()
                .partition(|c| c.kind == TrustKind::Anchor);
            if json {
                print_json(&json!({
                    "anchors": anchors.iter().map(|c| certificate_json(c)).collect::<Vec<_>>(),
                    "intermediates": intermediates.iter().map(|c| certificate_json(c)).collect::<Vec<_>>(),
                    "crls": listing.crls.iter().map(|c| crl_json(c, t)).collect::<Vec<_>>(),
                }))?;
            } else {
                print_certificates("Trust anchors", &anchors, true, t);
                crate::out!();
                print_certificates("Intermediates", &intermediates, false, t);
                crate::out!();
                print_crls(&listing.crls, t);
            }
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::Remove {
            data,
            unlock: u,
            query,
            json,
        } => {
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            let removed = c.trust().remove(&kek, &query, &actor(), now()).await;
            c.store().close().await;
            let removed = removed.map_err(|e| CliError(e.to_string()))?;
            if json {
                print_json(&certificate_json(&removed))?;
            } else {
                crate::out!(
                    "Removed {} {} ({})",
                    removed.kind.name(),
                    removed.certificate.subject(),
                    removed.fingerprint
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::ImportCrl {
            data,
            unlock: u,
            file,
            json,
        } => {
            let ders = read_crl_ders(&file)?;
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            let mut results = Vec::new();
            for der in &ders {
                match c.trust().import_crl(&kek, der, &actor(), now()).await {
                    Ok(r) => {
                        warn_crl(&r, now());
                        if !json {
                            print_imported(&r);
                        }
                        results.push(r);
                    }
                    Err(e) => {
                        c.store().close().await;
                        return Err(about(&file, e));
                    }
                }
            }
            c.store().close().await;
            if json {
                print_json(&json!(
                    results
                        .iter()
                        .map(|r| {
                            let (status, other) = match &r.outcome {
                                CrlImportOutcome::Stored => ("imported", None),
                                CrlImportOutcome::Replaced(old) => ("replaced", Some(old)),
                                CrlImportOutcome::KeptNewer(kept) => ("kept-newer", Some(kept)),
                                CrlImportOutcome::AlreadyPresent => ("already-present", None),
                            };
                            json!({
                                "status": status,
                                "fingerprint": r.fingerprint,
                                "issuer": r.crl.issuer(),
                                "crl_number": r.crl.crl_number(),
                                "delta": r.delta,
                                "this_update": rfc3339(r.crl.this_update()),
                                "next_update": r.crl.next_update().map(rfc3339),
                                "entries": r.crl.entries().len(),
                                "verified_by": r.verified_by,
                                "other_crl_number": other.and_then(|o| o.crl_number),
                                "other_fingerprint": other.map(|o| o.fingerprint.clone()),
                            })
                        })
                        .collect::<Vec<_>>()
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_added(a: &Added) {
    let e = &a.entry;
    let role = e.kind.name();
    if a.already_present {
        crate::out!(
            "Already trusted as {role}: {} ({}); nothing changed",
            e.certificate.subject(),
            e.fingerprint
        );
        if e.kind == TrustKind::Anchor {
            crate::out!(
                "  constraints kept: addresses {}, revocation {} (to change them, `cachet trust remove {}` and add it again)",
                addresses(e),
                revocation(e),
                short_fingerprint(&e.fingerprint)
            );
        }
        return;
    }
    crate::out!("Added {role} {}", e.certificate.subject());
    crate::out!("  fingerprint: {}", e.fingerprint);
    crate::out!("  not after:   {}", rfc3339(e.certificate.not_after()));
    if e.kind == TrustKind::Anchor {
        crate::out!("  addresses:   {}", addresses(e));
        crate::out!("  revocation:  {}", revocation(e));
    }
}

fn addresses(e: &TrustedCertificate) -> String {
    if e.permitted_email.is_empty() {
        "any".into()
    } else {
        e.permitted_email.join(", ")
    }
}

fn revocation(e: &TrustedCertificate) -> &'static str {
    e.revocation.map_or("verifier's setting", |r| r.as_str())
}

fn print_certificates(title: &str, certs: &[&TrustedCertificate], anchors: bool, now: u64) {
    crate::out!("{title}:");
    if certs.is_empty() {
        crate::out!("  (none)");
        return;
    }
    if anchors {
        crate::out!(
            "  {:<16}  {:<12}  {:<20}  {:<10}  {:<24}  SUBJECT",
            "FINGERPRINT",
            "SOURCE",
            "NOT AFTER",
            "REVOCATION",
            "ADDRESSES"
        );
    } else {
        crate::out!(
            "  {:<16}  {:<12}  {:<20}  SUBJECT",
            "FINGERPRINT",
            "SOURCE",
            "NOT AFTER"
        );
    }
    for c in certs {
        let mut not_after = rfc3339(c.certificate.not_after());
        if c.certificate.not_after() < now {
            not_after.push_str(" EXPIRED");
        }
        let subject = match &c.label {
            Some(l) => format!("{} [{l}]", c.certificate.subject()),
            None => c.certificate.subject(),
        };
        if anchors {
            crate::out!(
                "  {:<16}  {:<12}  {:<20}  {:<10}  {:<24}  {}",
                short_fingerprint(&c.fingerprint),
                c.source.name(),
                not_after,
                c.revocation.map_or("default", |r| r.as_str()),
                addresses(c),
                subject
            );
        } else {
            crate::out!(
                "  {:<16}  {:<12}  {:<20}  {}",
                short_fingerprint(&c.fingerprint),
                c.source.name(),
                not_after,
                subject
            );
        }
    }
}

fn print_crls(crls: &[StoredCrl], now: u64) {
    crate::out!("CRLs:");
    if crls.is_empty() {
        crate::out!("  (none)");
        return;
    }
    crate::out!(
        "  {:<12}  {:<8}  {:<20}  {:<28}  {:>7}  ISSUER",
        "SOURCE",
        "NUMBER",
        "THIS UPDATE",
        "NEXT UPDATE",
        "ENTRIES"
    );
    for c in crls {
        let next = match c.crl.next_update() {
            Some(t) if t < now => format!("{} EXPIRED", rfc3339(t)),
            Some(t) => rfc3339(t),
            None => "none".into(),
        };
        let number = c
            .crl
            .crl_number()
            .map_or("-".to_string(), |n| n.to_string());
        crate::out!(
            "  {:<12}  {:<8}  {:<20}  {:<28}  {:>7}  {}{}",
            c.source.name(),
            number,
            rfc3339(c.crl.this_update()),
            next,
            c.crl.entries().len(),
            c.crl.issuer(),
            if c.delta { " (delta)" } else { "" }
        );
    }
}

fn warn_crl(r: &CrlImported, now: u64) {
    if r.verified_by.is_none() {
        eprintln!(
            "cachet: warning: no trusted certificate is named {}, so the CRL's signature was not checked now; validation checks it against the issuer on the path before using it",
            r.crl.issuer()
        );
    }
    if let Some(t) = r.crl.next_update()
        && t < now
    {
        eprintln!(
            "cachet: warning: the CRL of {} expired on {}: validation will report crl-expired until a newer one is imported",
            r.crl.issuer(),
            rfc3339(t)
        );
    }
}

fn print_imported(r: &CrlImported) {
    let number = r
        .crl
        .crl_number()
        .map_or("none".to_string(), |n| n.to_string());
    let next = r.crl.next_update().map_or("none".to_string(), rfc3339);
    let kind = if r.delta { "delta CRL" } else { "CRL" };
    let issuer = r.crl.issuer();
    match &r.outcome {
        CrlImportOutcome::Stored => {
            crate::out!("Imported {kind} of {issuer}: number {number}, next update {next}")
        }
        CrlImportOutcome::Replaced(old) => crate::out!(
            "Imported {kind} of {issuer}: number {number}, next update {next} (replaces number {})",
            old.crl_number.map_or("none".to_string(), |n| n.to_string())
        ),
        CrlImportOutcome::KeptNewer(kept) => crate::out!(
            "Not imported: the stored {kind} of {issuer} (number {}) is as new or newer than this one (number {number}); nothing changed",
            kept.crl_number
                .map_or("none".to_string(), |n| n.to_string())
        ),
        CrlImportOutcome::AlreadyPresent => {
            crate::out!("Already imported: {kind} of {issuer} number {number}; nothing changed")
        }
    }
    crate::out!("  entries: {}", r.crl.entries().len());
    if let Some(by) = &r.verified_by {
        crate::out!("  signature verified with {by}");
    }
}
