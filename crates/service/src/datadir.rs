//! The data directory (`./cachet-data` by default): `cachet.db` and, unless a passphrase
//! protects the keys, `master.key` (mode 0600).

use crate::error::{Result, ServiceError};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// The database file name.
pub const DB_FILE: &str = "cachet.db";
/// The folder of generated recovery-officer passphrases.
pub const OFFICERS_DIR: &str = "officers";
/// The master key file name.
pub const MASTER_KEY_FILE: &str = "master.key";

impl DataDir {
    /// A data directory at `root` (not checked).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The database.
    pub fn db(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    /// The master key file.
    pub fn master_key(&self) -> PathBuf {
        self.root.join(MASTER_KEY_FILE)
    }

    /// Where `init` writes generated recovery-officer passphrases (to be moved offline).
    pub fn officers_dir(&self) -> PathBuf {
        self.root.join(OFFICERS_DIR)
    }

    /// Checks that this is an initialised Cachet data directory.
    pub fn check_existing(&self) -> Result<()> {
        let r = self.root.display();
        if !self.root.exists() {
            return Err(ServiceError::DataDir(format!(
                "data directory {r} does not exist: run `cachet init --domain YOUR.DOMAIN` first, or pass --data DIR"
            )));
        }
        if !self.root.is_dir() {
            return Err(ServiceError::DataDir(format!("{r} is not a directory")));
        }
        if !self.db().is_file() && !self.root.join(crate::config::FILE_NAME).is_file() {
            return Err(ServiceError::DataDir(format!(
                "{r} is not a Cachet data directory (no {DB_FILE}): run `cachet init` or pass the right --data DIR"
            )));
        }
        Ok(())
    }

    /// Prepares a new data directory: refuses if `root` exists and is not an empty
    /// directory, so `init` never touches an existing installation. Returns whether this call
    /// created the directory (atomically, with `mkdir`).
    pub fn create_new(&self) -> Result<bool> {
        let r = self.root.display();
        match fs::create_dir(&self.root) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ServiceError::io(&self.root, e)),
        }
        if !self.root.is_dir() {
            return Err(ServiceError::AlreadyInitialized(format!(
                "{r} exists and is not a directory: refusing to initialise over it (nothing was changed)"
            )));
        }
        let empty = fs::read_dir(&self.root)
            .map_err(|e| ServiceError::io(&self.root, e))?
            .next()
            .is_none();
        if !empty {
            return Err(ServiceError::AlreadyInitialized(format!(
                "{r} already exists and is not empty: refusing to initialise over it (nothing was changed)"
            )));
        }
        Ok(false)
    }

    /// Restricts the directory to its owner (mode 0700), once it holds an installation.
    pub fn restrict_permissions(&self) -> Result<()> {
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
            .map_err(|e| ServiceError::io(&self.root, e))
    }
}

/// Writes `bytes` to a new file with mode 0600 (created so, never widened then narrowed),
/// and syncs it. Fails if the file exists.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| ServiceError::io(path, e))?;
    if let Err(e) = f.write_all(bytes).and_then(|_| f.sync_all()) {
        drop(f);
        let _ = fs::remove_file(path);
        return Err(ServiceError::io(path, e));
    }
    Ok(())
}
