//! `cachet token …`: bearer tokens of the REST API (`/api/v1/`), each with one role.

use crate::commands::{DataArg, UnlockArg, open, print_json, unlock};
use crate::io::{CliError, Result, actor, now};
use cachet_pki::time::rfc3339;
use cachet_service::tokens::Role;
use clap::Subcommand;
use serde_json::json;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        /// What it is for (letters, digits, - _ . @).
        #[arg(long)]
        name: String,
        /// admin, recovery-officer or auditor.
        #[arg(long, value_parser = ["admin", "recovery-officer", "auditor"])]
        role: String,
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        data: DataArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token's id (the hex after `cachet_`).
        id: String,
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        unlock: UnlockArg,
    },
}

pub(crate) async fn run(command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Create {
            name,
            role,
            data,
            unlock: u,
            json,
        } => {
            let role =
                Role::from_name(&role).ok_or_else(|| CliError(format!("unknown role '{role}'")))?;
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            let t = c
                .create_api_token(&kek, &name, role, &actor(), now())
                .await?;
            c.store().close().await;
            if json {
                print_json(&json!({
                    "id": t.record.id,
                    "name": t.record.name,
                    "role": t.record.role,
                    "token": t.token.as_str(),
                }))?;
            } else {
                crate::out!(
                    "Token for '{}' ({}), shown once:",
                    t.record.name,
                    t.record.role
                );
                crate::out!("  {}", t.token.as_str());
                crate::out!("Use it as: Authorization: Bearer <token>");
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { data, json } => {
            let c = open(&data).await?;
            let tokens = c.api_tokens().await?;
            c.store().close().await;
            if json {
                print_json(&json!(
                    tokens
                        .iter()
                        .map(|t| json!({
                            "id": t.id,
                            "name": t.name,
                            "role": t.role,
                            "created_at": rfc3339(t.created_at.max(0) as u64),
                            "revoked_at": t.revoked_at.map(|r| rfc3339(r.max(0) as u64)),
                        }))
                        .collect::<Vec<_>>()
                ))?;
            } else {
                for t in &tokens {
                    crate::out!(
                        "{}  {:<16} {:<24} {}",
                        t.id,
                        t.role,
                        t.name,
                        if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke {
            id,
            data,
            unlock: u,
        } => {
            let c = open(&data).await?;
            let kek = unlock(&c, &u).await?;
            c.revoke_api_token(&kek, &id, &actor(), now()).await?;
            c.store().close().await;
            crate::out!("Token {id} revoked.");
            Ok(ExitCode::SUCCESS)
        }
    }
}
