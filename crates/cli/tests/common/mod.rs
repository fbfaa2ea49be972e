//! Helpers for the CLI's integration and interop tests: run `cachet` and real peer tools
//! in temporary directories. A missing peer tool fails the test with the command that
//! installs it; nothing is skipped.
#![allow(dead_code)]

pub mod gpgsm;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `cachet` binary under test.
pub fn cachet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cachet")
}

/// Output of a finished command, with its status code.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            raw_stdout: o.stdout,
        }
    }

    /// Panics with the output unless the command exited 0.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "command failed: stdout={} stderr={}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `program args` in `dir`.
pub fn run_in(dir: &Path, program: &str, args: &[&str]) -> Run {
    let o = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("CACHET_DATA")
        .env_remove("CACHET_PASSPHRASE_FILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Run::from(o)
}

/// Runs `cachet args` in `dir`.
pub fn cachet(dir: &Path, args: &[&str]) -> Run {
    run_in(dir, cachet_bin(), args)
}

/// Fails the test, naming the Debian package, if `tool` is not installed.
pub fn require(tool: &str, install: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is required by this test and is not installed: run `{install}` (or the README's test command, which installs it)"
    );
}

/// A scratch directory removed at drop.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cachet-test-")
        .tempdir()
        .expect("temp dir")
}

/// An initialised data directory in `dir` for example.com (pkilint rejects internal names),
/// without key recovery: these suites issue every profile, `dual` included, which a data
/// directory with recovery on refuses. `tests/recovery.rs` runs the default (recovery on).
pub fn init_ca(dir: &Path, key_type: &str) {
    cachet(
        dir,
        &[
            "init",
            "--domain",
            "example.com",
            "--org",
            "Example Org",
            "--base-url",
            "http://pki.example.com",
            "--key-type",
            key_type,
            "--no-recovery",
        ],
    )
    .ok();
}

/// Writes `chain.pem` from `cachet ca chain` and splits it into issuing.pem and root.pem.
pub fn write_chain(dir: &Path) -> (PathBuf, PathBuf) {
    let chain = cachet(dir, &["ca", "chain"]).ok().stdout;
    let blocks: Vec<String> = chain
        .split_inclusive("-----END CERTIFICATE-----\n")
        .map(str::to_string)
        .filter(|b| b.contains("BEGIN"))
        .collect();
    assert_eq!(blocks.len(), 2, "ca chain prints two certificates");
    let issuing = dir.join("issuing.pem");
    let root = dir.join("root.pem");
    std::fs::write(&issuing, &blocks[0]).unwrap();
    std::fs::write(&root, &blocks[1]).unwrap();
    (issuing, root)
}

/// Writes `contents` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p.display().to_string()
}

/// Issues a certificate; returns the output directory.
pub fn issue(dir: &Path, email: &str, profile: &str, key_type: &str, extra: &[&str]) -> PathBuf {
    let out = format!("out-{profile}-{key_type}-{}", email.replace('@', "_"));
    let mut args = vec![
        "cert",
        "issue",
        "--email",
        email,
        "--profile",
        profile,
        "--key-type",
        key_type,
        "--out-dir",
        &out,
    ];
    args.extend_from_slice(extra);
    cachet(dir, &args).ok();
    dir.join(out)
}

/// The serial of the certificate in `out/cert.pem`, as `cachet` prints serials.
pub fn serial_of(dir: &Path, cert: &Path) -> String {
    let r = run_in(
        dir,
        "openssl",
        &[
            "x509",
            "-in",
            &cert.display().to_string(),
            "-noout",
            "-serial",
        ],
    )
    .ok();
    r.stdout
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
        .trim_start_matches("00")
        .to_string()
}

/// The files `cachet cert issue` wrote for one identity.
pub struct Identity {
    pub cert: String,
    pub key: String,
    pub chain: String,
}

/// The identity in `cert issue`'s output directory `out`.
pub fn identity(out: PathBuf) -> Identity {
    Identity {
        cert: out.join("cert.pem").display().to_string(),
        key: out.join("key.pem").display().to_string(),
        chain: out.join("chain.pem").display().to_string(),
    }
}

/// `cachet smime sign --format der` of `input` into `out`, detached unless `opaque`, the
/// signer named by subjectKeyIdentifier when `ski`; panics unless it succeeds.
pub fn sign_raw(dir: &Path, who: &Identity, input: &str, out: &str, opaque: bool, ski: bool) {
    let mut args = vec![
        "smime", "sign", "--format", "der", "--cert", &who.cert, "--key", &who.key, "--chain",
        &who.chain, "--in", input, "--out", out,
    ];
    if opaque {
        args.push("--opaque");
    }
    if ski {
        args.push("--ski");
    }
    cachet(dir, &args).ok();
}

/// `cachet smime verify` of a raw signature against `root.pem` (`--json`), writing the signed
/// content to `verified.out` (removed first); `content` for a detached signature.
pub fn verify_raw(dir: &Path, format: &str, sig: &str, content: Option<&str>) -> Run {
    let _ = std::fs::remove_file(dir.join("verified.out"));
    let mut a = vec![
        "smime",
        "verify",
        "--format",
        format,
        "--in",
        sig,
        "--trust",
        "root.pem",
        "--json",
        "--out",
        "verified.out",
    ];
    if let Some(c) = content {
        a.extend_from_slice(&["--content", c]);
    }
    cachet(dir, &a)
}
