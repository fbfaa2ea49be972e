//! File adapters of the CLI: reading inputs with errors that name the file, writing outputs
//! (secrets created mode 0600), and the clock.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use zeroize::Zeroizing;

/// `println!` that treats a closed standard output (`cachet … | head -1`) as the end of the
/// run rather than a panic: the process exits with 141, as if killed by SIGPIPE.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = writeln!(stdout, $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(141);
            }
            let _ = writeln!(std::io::stderr(), "cachet: cannot write to standard output: {e}");
            std::process::exit(2);
        }
    }};
}

/// A failure shown to the user as one sentence.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<cachet_service::ServiceError> for CliError {
    fn from(e: cachet_service::ServiceError) -> Self {
        CliError(e.to_string())
    }
}

impl From<cachet_store::StoreError> for CliError {
    fn from(e: cachet_store::StoreError) -> Self {
        CliError(e.to_string())
    }
}

impl From<cachet_pki::PkiError> for CliError {
    fn from(e: cachet_pki::PkiError) -> Self {
        CliError(e.to_string())
    }
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, CliError>;

/// Largest input file the CLI reads whole (certificates, CSRs, password files, CRLs).
const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// Reads a whole input file, naming it in any error.
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    read_file_up_to(path, what, MAX_INPUT)
}

/// Reads a whole input file of at most `limit` bytes.
pub fn read_file_up_to(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>> {
    let f = fs::File::open(path)
        .map_err(|e| CliError(format!("cannot read {what} {}: {e}", path.display())))?;
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError(format!("cannot read {what} {}: {e}", path.display())))?;
    if buf.len() as u64 > limit {
        return Err(CliError(format!(
            "{what} {} is larger than {} MiB",
            path.display(),
            limit >> 20
        )));
    }
    Ok(buf)
}

/// Reads a password or passphrase file: the first line, without its line ending. Empty
/// passwords are refused.
pub fn read_password(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let raw = Zeroizing::new(read_file(path, what)?);
    let line_end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    let mut line = &raw[..line_end];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    if line.is_empty() {
        return Err(CliError(format!("{what} {} is empty", path.display())));
    }
    Ok(Zeroizing::new(line.to_vec()))
}

/// Creates a new, empty file (never overwriting, never following a symlink at `path`), with
/// mode 0600 when `secret`.
pub fn create_new(path: &Path, secret: bool) -> Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(|e| CliError(format!("cannot create {}: {e}", path.display())))
}

/// Writes `bytes` into a file made by [`create_new`] and syncs it.
pub fn fill(f: &mut fs::File, path: &Path, bytes: &[u8]) -> Result<()> {
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))
}

/// An output written as it is made, that replaces `path` atomically at
/// [`commit`](Self::commit) (a temporary file in the same directory, synced, then renamed) or
/// goes to standard output. Opening it first checks that the destination is writable before
/// any work is done; dropped without `commit`, the file is never put in place.
pub enum Output {
    /// To a file.
    File(
        std::io::BufWriter<tempfile::NamedTempFile>,
        std::path::PathBuf,
    ),
    /// To standard output.
    Stdout(std::io::BufWriter<std::io::Stdout>),
}

/// A private (0600) temporary file in the directory of `p`, so that renaming it to `p` is
/// atomic.
pub fn temp_beside(p: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    tempfile::Builder::new()
        .prefix(".cachet-")
        .tempfile_in(&dir)
        .map_err(|e| CliError(format!("cannot write {}: {e}", p.display())))
}

impl Output {
    /// Prepares the output.
    pub fn open(path: Option<&Path>) -> Result<Output> {
        Ok(match path {
            Some(p) => Output::File(
                std::io::BufWriter::with_capacity(1 << 20, temp_beside(p)?),
                p.to_path_buf(),
            ),
            None => Output::Stdout(std::io::BufWriter::with_capacity(
                1 << 20,
                std::io::stdout(),
            )),
        })
    }

    /// Flushes, syncs and puts the file in place.
    pub fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => w
                .flush()
                .map_err(|e| CliError(format!("cannot write to standard output: {e}"))),
            Output::File(w, p) => {
                let tmp = w.into_inner().map_err(|e| {
                    CliError(format!("cannot write {}: {}", p.display(), e.error()))
                })?;
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| CliError(format!("cannot write {}: {e}", p.display())))?;
                tmp.persist(&p)
                    .map_err(|e| CliError(format!("cannot write {}: {}", p.display(), e.error)))?;
                Ok(())
            }
        }
    }

    /// Writes `bytes` and puts the file in place.
    pub fn finish(mut self, bytes: &[u8]) -> Result<()> {
        let what = match &self {
            Output::File(_, p) => p.display().to_string(),
            Output::Stdout(_) => "standard output".to_string(),
        };
        self.write_all(bytes)
            .map_err(|e| CliError(format!("cannot write {what}: {e}")))?;
        self.commit()
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::File(w, _) => w.write(buf),
            Output::Stdout(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::File(w, _) => w.flush(),
            Output::Stdout(w) => w.flush(),
        }
    }
}

/// Writes to `path` (replacing it atomically) or to standard output.
pub fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    Output::open(path)?.finish(bytes)
}

/// Seconds since the epoch, from the system clock.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `cli:$USER`, the actor recorded in the audit log for commands run by hand.
pub fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into())
    )
}
