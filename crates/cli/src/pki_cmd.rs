//! `cachet pki validate`: RFC 5280 path validation of one certificate, with its chain,
//! each certificate's revocation status and the policies the path is valid for.

use crate::io::{CliError, Result};
use crate::trust_args::{TrustArgs, read_certs};
use cachet_pki::ParsedCertificate;
use cachet_pki::time::rfc3339;
use cachet_pki::validate::{
    Material, Purpose, RevocationStatus, Validation, ValidationOptions, validate,
};
use cachet_pki::verdict::{Finding, Severity};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

/// What the certificate is to be valid for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurposeArg {
    /// S/MIME signing (keyUsage digitalSignature or nonRepudiation, EKU emailProtection).
    Signing,
    /// S/MIME encryption (keyUsage keyEncipherment or keyAgreement, EKU emailProtection).
    Encryption,
    /// No key-usage or EKU requirement on the certificate.
    Any,
}

impl From<PurposeArg> for Purpose {
    fn from(p: PurposeArg) -> Self {
        match p {
            PurposeArg::Signing => Purpose::EmailSigning,
            PurposeArg::Encryption => Purpose::EmailEncryption,
            PurposeArg::Any => Purpose::Any,
        }
    }
}

/// `cachet pki validate`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ValidateArgs {
    /// The certificate to validate (PEM or DER; the first certificate of the file).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    #[command(flatten)]
    pub validation: TrustArgs,
    /// The mailbox the certificate must name (RFC 5280 §7.5 comparison).
    #[arg(long, value_name = "ADDR")]
    pub email: Option<String>,
    /// What the certificate is for.
    #[arg(long, value_enum, default_value = "signing")]
    pub purpose: PurposeArg,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Runs `pki validate`: exit 0 when valid, 1 when not, 2 on unreadable input.
pub fn validate_command(args: &ValidateArgs, now: u64) -> Result<ExitCode> {
    let cert = read_certs(&args.cert, "certificate")?
        .into_iter()
        .next()
        .ok_or_else(|| {
            CliError(format!(
                "certificate {}: no certificate in the file",
                args.cert.display()
            ))
        })?;
    let loaded = args.validation.load(now)?;
    if loaded.anchors.is_empty() {
        return Err(CliError(
            "no trust anchor: pass the root with --trust FILE".into(),
        ));
    }
    let mut opts = ValidationOptions::new(loaded.at, args.purpose.into());
    opts.policy = loaded.policy.clone();
    opts.revocation = loaded.revocation;
    opts.email = args.email.clone();
    let material = Material {
        anchors: &loaded.anchors,
        intermediates: &loaded.intermediates,
        crls: &loaded.crls,
        cache: None,
        fetcher: loaded.fetcher.as_deref(),
    };
    let v = validate(&cert, &material, &opts);
    if args.json {
        let out = validation_json(&cert, &v);
        crate::out!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| CliError(e.to_string()))?
        );
    } else {
        print_validation(&cert, &v, "");
    }
    Ok(if v.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A finding as JSON.
pub fn finding_json(f: &Finding) -> Value {
    json!({
        "code": f.code.as_str(),
        "severity": f.severity.as_str(),
        "subject": f.subject,
        "message": f.message,
    })
}

fn status_json(s: &RevocationStatus) -> Value {
    match s {
        RevocationStatus::Good => json!({"status": "good"}),
        RevocationStatus::Revoked { at, reason } => {
            json!({"status": "revoked", "revoked_at": rfc3339(*at), "reason": reason.name()})
        }
        RevocationStatus::Undetermined(why) => json!({"status": "unknown", "reason": why}),
        RevocationStatus::NotChecked => json!({"status": "not-checked"}),
    }
}

/// One certificate of a chain as JSON.
pub fn certificate_json(c: &ParsedCertificate) -> Value {
    json!({
        "subject": c.subject(),
        "issuer": c.issuer(),
        "serial": c.serial_hex(),
        "not_before": rfc3339(c.not_before()),
        "not_after": rfc3339(c.not_after()),
        "sha256": hex_of(&cachet_crypto::digest::sha256(c.der())),
    })
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A validation as JSON: verdict, findings, the chain with each certificate's revocation
/// status, and the user-constrained policy set.
pub fn validation_json(cert: &ParsedCertificate, v: &Validation) -> Value {
    let chain: Vec<Value> = v
        .chain
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut j = certificate_json(c);
            let role = if i == 0 {
                "leaf"
            } else if i + 1 == v.chain.len() && v.anchored {
                "trust-anchor"
            } else {
                "intermediate"
            };
            j["role"] = json!(role);
            if let Some(r) = v.revocation.get(i) {
                j["revocation"] = status_json(&r.status);
                j["revocation"]["sources"] = json!(r.sources);
                j["revocation"]["distribution_points"] = json!(r.distribution_points);
            }
            j
        })
        .collect();
    json!({
        "valid": v.is_valid(),
        "certificate": certificate_json(cert),
        "findings": v.verdict.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "chain": chain,
        "policies": v.user_constrained_policy_set.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
        "paths_tried": v.paths_tried,
    })
}

/// A validation for people, every line prefixed by `indent`.
pub fn print_validation(cert: &ParsedCertificate, v: &Validation, indent: &str) {
    if v.is_valid() {
        crate::out!("{indent}valid: {}", cert.subject());
    } else {
        crate::out!("{indent}NOT VALID: {}", cert.subject());
    }
    for f in &v.verdict.findings {
        let mark = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        crate::out!("{indent}  {} [{mark}]: {}", f.code, f.message);
    }
    if !v.chain.is_empty() {
        crate::out!("{indent}  chain:");
        for (i, c) in v.chain.iter().enumerate() {
            let status = match v.revocation.get(i).map(|r| &r.status) {
                Some(RevocationStatus::Good) => " — not revoked".to_string(),
                Some(RevocationStatus::Revoked { at, reason }) => {
                    format!(" — REVOKED {} ({reason})", rfc3339(*at))
                }
                Some(RevocationStatus::Undetermined(_)) => " — revocation unknown".into(),
                Some(RevocationStatus::NotChecked) => " — revocation not checked".into(),
                None => String::new(),
            };
            let anchor = if i > 0 && i + 1 == v.chain.len() && v.anchored {
                " [trust anchor]"
            } else {
                ""
            };
            crate::out!(
                "{indent}    {i}. {}{anchor} (until {}){status}",
                c.subject(),
                rfc3339(c.not_after())
            );
        }
    }
    if !v.user_constrained_policy_set.is_empty() {
        crate::out!(
            "{indent}  policies: {}",
            v.user_constrained_policy_set
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
