//! `cachet user …` and `cachet renew`: accounts with automatic enrollment (issue #6). The
//! work is `cachet_service::accounts`'; this module reads files, writes the PKCS#12 files
//! (mode 0600), prints (`--json` too), shows progress on a terminal, and parses the CSV of a
//! bulk import.

use crate::commands::{DataArg, UnlockArg, open, open_configured, print_json, unlock};
use crate::io::{CliError, Result, actor, create_new, fill, now, read_file, read_password};
use cachet_pki::time::rfc3339;
use cachet_service::ServiceError;
use cachet_service::accounts::{Enrolled, KeyBundle, KeyDelivery, NewAccount, PreparedAccount};
use cachet_service::config::Config;
use cachet_service::views::AccountView;
use cachet_store::{AccountRecord, AccountState};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Where the enrollment policy comes from.
#[derive(Args, Clone)]
pub(crate) struct ConfigArg {
    /// Settings file (default: DATA/cachet.toml when it exists, else the defaults).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

impl ConfigArg {
    pub(crate) fn load(&self, data: &DataArg) -> Result<Config> {
        Ok(Config::load(self.config.as_deref(), &data.dir)?)
    }
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create an account and enroll it: a signing and an archived encryption certificate
    /// (key recovery on) or one dual certificate (off). The keys come back once, as a
    /// PKCS#12 whose one-time password is printed.
    Add {
        /// The mailbox.
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// EST password for the account (first line of FILE, at least 12 characters).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Where to write the PKCS#12 (default: EMAIL.p12 in the current directory).
        #[arg(long, value_name = "FILE")]
        p12: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// List accounts.
    List {
        /// Only accounts in this state.
        #[arg(long, value_parser = ["active", "disabled", "removed"])]
        state: Option<String>,
        #[command(flatten)]
        data: DataArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show an account and its certificates.
    Show {
        /// The mailbox.
        email: String,
        #[command(flatten)]
        data: DataArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: revoke its certificates (affiliationChanged), stop renewal.
    Disable {
        /// The mailbox.
        email: String,
        #[command(flatten)]
        common: Common,
    },
    /// Enable a disabled account and enroll it again.
    Enable {
        /// The mailbox.
        email: String,
        /// Where to write the PKCS#12 (default: EMAIL.p12).
        #[arg(long, value_name = "FILE")]
        p12: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Remove an account for good: revoke its certificates (cessationOfOperation). Its
    /// history and archived keys stay.
    Remove {
        /// The mailbox.
        email: String,
        #[command(flatten)]
        common: Common,
    },
    /// Set or clear the account's EST password.
    Password {
        /// The mailbox.
        email: String,
        /// The new password (first line of FILE, at least 12 characters).
        #[arg(long, value_name = "FILE", required_unless_present = "clear")]
        password_file: Option<PathBuf>,
        /// Remove the password (EST then needs a client certificate).
        #[arg(long, conflicts_with = "password_file")]
        clear: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Hand over the keys generated for the account at renewal or bulk import, once, as a
    /// PKCS#12 whose one-time password is printed.
    Keys {
        /// The mailbox.
        email: String,
        /// Where to write the PKCS#12 (default: EMAIL.p12).
        #[arg(long, value_name = "FILE")]
        p12: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Create accounts from a CSV file (`email,name[,password]`, header optional). Rows
    /// whose account exists are skipped, so an interrupted import is resumed by running it
    /// again. Keys wait in the store for `cachet user keys`, or go to --out-dir as PKCS#12.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Write each account's PKCS#12 here (EMAIL.p12) and the one-time passwords to
        /// passwords.csv (mode 0600). Slower: each PKCS#12 costs its PBKDF2 iterations.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// Write the rows that failed, with why, to FILE (CSV: line,email,error).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
pub(crate) struct Common {
    #[command(flatten)]
    data: DataArg,
    #[command(flatten)]
    unlock: UnlockArg,
    #[command(flatten)]
    config: ConfigArg,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn account_json(a: &AccountRecord) -> serde_json::Value {
    json!(AccountView::of(a))
}

fn default_p12(email: &str) -> PathBuf {
    PathBuf::from(p12_file_name(email))
}

/// `EMAIL.p12` with every character other than letters, digits and `@ . _ + -` replaced by
/// `_`: a local part may hold `/`, which must not pick another directory.
fn p12_file_name(email: &str) -> String {
    let safe: String = email
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.p12")
}

/// Writes the PKCS#12 (never over an existing file) and prints where, and the password.
/// The file a PKCS#12 goes to, created empty (mode 0600, never over an existing file)
/// before the keys exist: a path that cannot be written fails before anything is stored.
/// Removed again if the keys never come.
struct KeyFile {
    file: Option<std::fs::File>,
    path: PathBuf,
}

impl KeyFile {
    fn reserve(path: PathBuf) -> Result<KeyFile> {
        if path.exists() {
            return Err(CliError(format!(
                "{} already exists: choose another file with --p12 (a key file is never overwritten)",
                path.display()
            )));
        }
        let file = create_new(&path, true)?;
        Ok(KeyFile {
            file: Some(file),
            path,
        })
    }

    fn fill(mut self, bytes: &[u8]) -> Result<PathBuf> {
        let mut f = self
            .file
            .take()
            .ok_or_else(|| CliError(format!("{} was already written", self.path.display())))?;
        fill(&mut f, &self.path, bytes)?;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn hand_over(
    bundle: &KeyBundle,
    file: KeyFile,
    json: bool,
    extra: serde_json::Value,
) -> Result<()> {
    let path = file.fill(&bundle.pkcs12)?;
    if json {
        let mut v = extra;
        v["pkcs12"] = json!(path.display().to_string());
        v["pkcs12_password"] = json!(bundle.password.as_str());
        v["key_serials"] = json!(bundle.serials);
        print_json(&v)
    } else {
        crate::out!("PKCS#12:        {} (mode 0600)", path.display());
        crate::out!("One-time password (shown once, stored nowhere):");
        crate::out!("  {}", bundle.password.as_str());
        Ok(())
    }
}

fn print_enrolled(e: &Enrolled, p12: KeyFile, json: bool, now: u64) -> Result<()> {
    let certs: Vec<serde_json::Value> = e
        .certificates
        .iter()
        .map(|i| crate::commands::cert_json(&i.record, now))
        .collect();
    if !json {
        crate::out!(
            "Account:        {} ({})",
            e.account.email,
            e.account.state.name()
        );
        for i in &e.certificates {
            crate::out!(
                "Certificate:    {} {} {} until {}",
                i.record.serial,
                i.record.profile,
                i.record.key_type,
                rfc3339(i.record.not_after as u64)
            );
        }
    }
    match &e.keys {
        Some(bundle) => hand_over(
            bundle,
            p12,
            json,
            json!({"account": account_json(&e.account), "certificates": certs}),
        ),
        None if json => {
            print_json(&json!({"account": account_json(&e.account), "certificates": certs}))
        }
        None => Ok(()),
    }
}

fn password_from(file: Option<&Path>) -> Result<Option<Zeroizing<String>>> {
    let Some(file) = file else { return Ok(None) };
    let bytes = read_password(file, "password file")?;
    let s = std::str::from_utf8(&bytes)
        .map_err(|_| CliError(format!("{}: the password is not UTF-8", file.display())))?;
    Ok(Some(Zeroizing::new(s.to_string())))
}

/// Runs `cachet user …`.
pub(crate) async fn run(command: UserCommand) -> Result<ExitCode> {
    match command {
        UserCommand::Add {
            email,
            name,
            password_file,
            p12,
            common,
        } => {
            let p12 = p12.unwrap_or_else(|| default_p12(&email));
            let p12 = KeyFile::reserve(p12)?;
            let config = common.config.load(&common.data)?;
            let password = password_from(password_file.as_deref())?;
            let c = open_configured(&common.data, &config).await?;
            let kek = unlock(&c, &common.unlock).await?;
            let t = now();
            let enrolled = c
                .add_account(
                    &kek,
                    &NewAccount {
                        email,
                        name,
                        password,
                    },
                    &config.enrollment,
                    &actor(),
                    t,
                )
                .await?;
            print_enrolled(&enrolled, p12, common.json, t)?;
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::List { state, data, json } => {
            let c = open(&data).await?;
            let state = match state.as_deref() {
                Some("active") => Some(AccountState::Active),
                Some("disabled") => Some(AccountState::Disabled),
                Some("removed") => Some(AccountState::Removed),
                _ => None,
            };
            let accounts = c.accounts(state).await?;
            if json {
                print_json(&json!(
                    accounts.iter().map(account_json).collect::<Vec<_>>()
                ))?;
            } else if accounts.is_empty() {
                crate::out!("No accounts. Create one with `cachet user add EMAIL`.");
            } else {
                for a in &accounts {
                    crate::out!(
                        "{:<40} {:<9} {}",
                        a.email,
                        a.state.name(),
                        a.name.as_deref().unwrap_or("")
                    );
                }
            }
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Show { email, data, json } => {
            let c = open(&data).await?;
            let (a, certs) = c.account(&email).await?;
            let t = now();
            if json {
                let mut v = account_json(&a);
                v["certificates"] = json!(
                    certs
                        .iter()
                        .map(|r| crate::commands::cert_json(r, t))
                        .collect::<Vec<_>>()
                );
                print_json(&v)?;
            } else {
                crate::out!("Account:        {}", a.email);
                crate::out!("Name:           {}", a.name.as_deref().unwrap_or("-"));
                crate::out!("State:          {}", a.state.name());
                crate::out!(
                    "EST password:   {}",
                    if a.password_hash.is_some() {
                        "set"
                    } else {
                        "none"
                    }
                );
                crate::out!("Created:        {}", rfc3339(a.created_at.max(0) as u64));
                for r in &certs {
                    crate::out!(
                        "Certificate:    {} {:<10} {:<10} until {} {}",
                        r.serial,
                        r.profile,
                        r.key_type,
                        rfc3339(r.not_after as u64),
                        r.status(t)
                    );
                }
            }
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Disable { email, common } => close(&email, &common, false).await,
        UserCommand::Remove { email, common } => close(&email, &common, true).await,
        UserCommand::Enable { email, p12, common } => {
            let p12 = p12.unwrap_or_else(|| default_p12(&email));
            let p12 = KeyFile::reserve(p12)?;
            let config = common.config.load(&common.data)?;
            let c = open_configured(&common.data, &config).await?;
            let kek = unlock(&c, &common.unlock).await?;
            let t = now();
            let enrolled = c
                .enable_account(&kek, &email, &config.enrollment, &actor(), t)
                .await?;
            print_enrolled(&enrolled, p12, common.json, t)?;
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Password {
            email,
            password_file,
            clear: _,
            common,
        } => {
            let password = password_from(password_file.as_deref())?;
            let c = open_configured(&common.data, &common.config.load(&common.data)?).await?;
            let kek = unlock(&c, &common.unlock).await?;
            c.set_account_password(
                &kek,
                &email,
                password.as_ref().map(|p| p.as_str()),
                &actor(),
                now(),
            )
            .await?;
            if common.json {
                print_json(&json!({"email": email, "est_password": password.is_some()}))?;
            } else if password.is_some() {
                crate::out!("EST password of {email} set.");
            } else {
                crate::out!("EST password of {email} removed.");
            }
            c.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Keys { email, p12, common } => {
            let p12 = p12.unwrap_or_else(|| default_p12(&email));
            let p12 = KeyFile::reserve(p12)?;
            let c = open_configured(&common.data, &common.config.load(&common.data)?).await?;
            let kek = unlock(&c, &common.unlock).await?;
            let bundle = c.collect_keys(&kek, &email, &actor(), now()).await?;
            c.store().close().await;
            match bundle {
                Some(b) => {
                    hand_over(&b, p12, common.json, json!({"email": email}))?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(CliError(format!(
                    "no keys wait for {email}: they were handed over already, or nothing was generated since"
                ))),
            }
        }
        UserCommand::Import {
            file,
            out_dir,
            report,
            common,
        } => import(&file, out_dir.as_deref(), report.as_deref(), &common).await,
    }
}

/// `cachet renew --due`.
pub(crate) async fn renew(
    data: &DataArg,
    u: &UnlockArg,
    config: &ConfigArg,
    at: Option<&str>,
    limit: usize,
    json: bool,
) -> Result<ExitCode> {
    let t = match at {
        Some(s) => crate::trust_args::parse_time(s)?,
        None => now(),
    };
    let config = config.load(data)?;
    let c = open_configured(data, &config).await?;
    let kek = unlock(&c, u).await?;
    let report = c
        .renew_due(&kek, &config.enrollment, &actor(), t, limit)
        .await?;
    c.store().close().await;
    if json {
        print_json(&json!({
            "at": rfc3339(t),
            "renewed": report.renewed.iter().map(|(e, o, n)| json!({"email": e, "old": o, "new": n})).collect::<Vec<_>>(),
            "failed": report.failed.iter().map(|(s, m)| json!({"serial": s, "error": m})).collect::<Vec<_>>(),
        }))?;
    } else {
        for (e, o, n) in &report.renewed {
            crate::out!("Renewed:        {e} {o} -> {n}");
        }
        for (s, m) in &report.failed {
            eprintln!("cachet: could not renew {s}: {m}");
        }
        crate::out!(
            "{} certificate(s) renewed, {} failed. New keys wait for `cachet user keys EMAIL`.",
            report.renewed.len(),
            report.failed.len()
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn close(email: &str, common: &Common, remove: bool) -> Result<ExitCode> {
    let c = open_configured(&common.data, &common.config.load(&common.data)?).await?;
    let kek = unlock(&c, &common.unlock).await?;
    let revoked = if remove {
        c.remove_account(&kek, email, &actor(), now()).await?
    } else {
        c.disable_account(&kek, email, &actor(), now()).await?
    };
    let state = if remove { "removed" } else { "disabled" };
    if common.json {
        print_json(&json!({
            "email": email,
            "state": state,
            "revoked": revoked.iter().map(|r| r.serial.clone()).collect::<Vec<_>>(),
        }))?;
    } else {
        crate::out!("Account {email} {state}.");
        for r in &revoked {
            crate::out!(
                "Revoked:        {} {} ({})",
                r.serial,
                r.profile,
                r.revocation_reason.as_deref().unwrap_or("")
            );
        }
    }
    c.store().close().await;
    Ok(ExitCode::SUCCESS)
}

/// One CSV row: its line number and the account it asks for.
struct Row {
    line: usize,
    account: NewAccount,
}

/// Splits one CSV record (RFC 4180: fields separated by commas, optionally in double quotes
/// with `""` for a quote). Quoted fields spanning lines are refused.
fn csv_fields(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed on its line".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(c) => return Err(format!("unexpected '{c}' after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim().to_string());
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field.trim().to_string());
    }
}

/// Parses the import file: rows with line numbers, and the lines that could not be read.
fn parse_csv(text: &str) -> (Vec<Row>, Vec<(usize, String, String)>) {
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        let fields = match csv_fields(raw) {
            Ok(f) => f,
            Err(e) => {
                bad.push((line, String::new(), e));
                continue;
            }
        };
        if line == 1
            && fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("email"))
        {
            continue;
        }
        if fields.len() > 3 {
            bad.push((
                line,
                fields[0].clone(),
                format!("{} fields; expected email,name[,password]", fields.len()),
            ));
            continue;
        }
        let mut it = fields.into_iter();
        let email = it.next().unwrap_or_default();
        let name = it.next().filter(|n| !n.is_empty());
        let password = it.next().filter(|p| !p.is_empty()).map(Zeroizing::new);
        rows.push(Row {
            line,
            account: NewAccount {
                email,
                name,
                password,
            },
        });
    }
    (rows, bad)
}

/// Accounts per transaction: one disk sync per batch instead of per account.
const IMPORT_BATCH: usize = 64;

async fn import(
    file: &Path,
    out_dir: Option<&Path>,
    report: Option<&Path>,
    common: &Common,
) -> Result<ExitCode> {
    let bytes = read_file(file, "import file")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError(format!("{}: not UTF-8 text", file.display())))?;
    let (rows, mut failed) = parse_csv(&text);
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut passwords = match out_dir {
        Some(dir) => {
            let path = dir.join("passwords.csv");
            let f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode_secret()
                .open(&path)
                .map_err(|e| CliError(format!("cannot open {}: {e}", path.display())))?;
            Some((f, path))
        }
        None => None,
    };
    let config = common.config.load(&common.data)?;
    let c = open_configured(&common.data, &config).await?;
    let kek = unlock(&c, &common.unlock).await?;
    let enroller = c.enroller(&kek).await?;
    let delivery = if out_dir.is_some() {
        KeyDelivery::Bundle
    } else {
        KeyDelivery::Pending
    };
    let bar = progress(rows.len() as u64);
    let who = actor();
    let (mut created, mut skipped) = (0usize, 0usize);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for chunk in rows.chunks(IMPORT_BATCH) {
        // Skip addresses that already have an account before doing any crypto: a resumed
        // import redoes nothing.
        let mut todo = Vec::with_capacity(chunk.len());
        for r in chunk {
            match cachet_pki::profile::normalize_email(&r.account.email) {
                Ok(e) if c.store().account(&e).await?.is_some() => {
                    skipped += 1;
                    bar.inc(1);
                }
                _ => todo.push(r),
            }
        }
        let t = now();
        let prepared = prepare_parallel(&enroller, &todo, &config, delivery, &who, t, threads);
        let mut ready: Vec<PreparedAccount> = Vec::new();
        // Per stored account: its line and, with --out-dir, the file made for its keys
        // *before* the account is committed, so that no committed key lacks a place to go.
        let mut ready_rows = Vec::new();
        for (r, p) in todo.iter().zip(prepared) {
            let p = match p {
                Ok(p) => p,
                Err(e) => {
                    failed.push((r.line, r.account.email.clone(), e.to_string()));
                    bar.inc(1);
                    continue;
                }
            };
            let file = match out_dir {
                Some(dir) => {
                    let path = dir.join(p12_file_name(p.email()));
                    match create_new(&path, true) {
                        Ok(f) => Some((f, path)),
                        Err(e) => {
                            failed.push((r.line, r.account.email.clone(), e.0));
                            bar.inc(1);
                            continue;
                        }
                    }
                }
                None => None,
            };
            ready_rows.push((r.line, file));
            ready.push(p);
        }
        for ((line, file), result) in ready_rows.into_iter().zip(enroller.store(ready).await?) {
            bar.inc(1);
            match result {
                Ok(enrolled) => {
                    created += 1;
                    if let (Some((mut out, p12)), Some(bundle), Some((f, path))) =
                        (file, &enrolled.keys, passwords.as_mut())
                    {
                        fill(&mut out, &p12, &bundle.pkcs12)?;
                        use std::io::Write as _;
                        writeln!(
                            f,
                            "{},{},{}",
                            enrolled.account.email,
                            bundle.password.as_str(),
                            p12.display()
                        )
                        .and_then(|_| f.sync_data())
                        .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
                    }
                }
                Err(e) => {
                    if let Some((_, p12)) = file {
                        let _ = std::fs::remove_file(p12);
                    }
                    match e {
                        ServiceError::Invalid(msg) if msg.ends_with("already exists") => {
                            skipped += 1;
                        }
                        e => failed.push((line, String::new(), e.to_string())),
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    c.store().close().await;
    failed.sort_by_key(|f| f.0);
    if let Some(path) = report {
        let mut text = String::from("line,email,error\n");
        for (line, email, err) in &failed {
            text.push_str(&format!(
                "{line},{},\"{}\"\n",
                email,
                err.replace('"', "\"\"")
            ));
        }
        crate::io::write_output(Some(path), text.as_bytes())?;
    }
    if common.json {
        print_json(&json!({
            "created": created,
            "skipped": skipped,
            "failed": failed.iter().map(|(l, e, m)| json!({"line": l, "email": e, "error": m})).collect::<Vec<_>>(),
            "keys": if out_dir.is_some() { "pkcs12" } else { "pending" },
        }))?;
    } else {
        crate::out!(
            "Imported {created} account(s); {skipped} already existed; {} failed.",
            failed.len()
        );
        for (line, email, err) in &failed {
            eprintln!("cachet: {}:{line}: {email}: {err}", file.display());
        }
        if out_dir.is_none() && created > 0 {
            crate::out!(
                "Keys wait in the store: hand each user theirs with `cachet user keys EMAIL`."
            );
        }
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prepares accounts on every core; results in input order.
fn prepare_parallel(
    enroller: &cachet_service::accounts::Enroller<'_>,
    rows: &[&Row],
    config: &Config,
    delivery: KeyDelivery,
    actor: &str,
    now: u64,
    threads: usize,
) -> Vec<std::result::Result<PreparedAccount, ServiceError>> {
    let per = rows.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|r| {
                            enroller.prepare(&r.account, &config.enrollment, delivery, actor, now)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(ServiceError::Invalid(
                        "a worker thread panicked".into(),
                    ))]
                })
            })
            .collect()
    })
}

fn progress(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} importing [{bar:40}] {pos}/{len} accounts ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

trait SecretMode {
    fn mode_secret(&mut self) -> &mut Self;
}

impl SecretMode for std::fs::OpenOptions {
    fn mode_secret(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_quotes_headers_and_mistakes() {
        let (rows, bad) = parse_csv(
            "email,name\nalice@example.test,Alice Liddell\n\"bob@example.test\",\"Doe, \"\"Bob\"\"\"\n# comment\ncarol@example.test\nx,y,z,w\n\"open,\n",
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].account.name.as_deref(), Some("Doe, \"Bob\""));
        assert_eq!(rows[2].account.name, None);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].0, 6);
        assert_eq!(bad[1].0, 7);
    }
}
