//! Protection of CA private keys at rest: every CA key is sealed with AES-256-GCM under a
//! key-encryption key (KEK). The KEK is either a random 256-bit master key in `master.key`
//! (mode 0600) or derived from an operator passphrase with Argon2id (RFC 9106); in the
//! second case nothing on disk opens the keys.

use crate::datadir::{DataDir, write_secret_file};
use crate::error::{Result, ServiceError};
use cachet_crypto::secret::{self, Argon2Params, KEY_LEN};
use zeroize::Zeroizing;

/// A key-encryption key, zeroized on drop.
pub struct Kek(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

/// How the KEK is obtained; stored in the settings table as `key_protection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProtection {
    /// Random master key in `master.key`.
    MasterKeyFile,
    /// Argon2id over a passphrase, with this salt and cost.
    Passphrase {
        /// Random salt.
        salt: Vec<u8>,
        /// Cost parameters.
        params: Argon2Params,
    },
}

const CHECK_AAD: &[u8] = b"cachet:kek-check";
const CHECK_PLAINTEXT: &[u8] = b"cachet key-encryption key check v1";

const MASTER_KEY_FILE: &str = "master-key-file";
const ARGON2ID_PASSPHRASE: &str = "argon2id-passphrase";

impl KeyProtection {
    /// The stable name of the protection, as stored and shown.
    pub fn name(&self) -> &'static str {
        match self {
            KeyProtection::MasterKeyFile => MASTER_KEY_FILE,
            KeyProtection::Passphrase { .. } => ARGON2ID_PASSPHRASE,
        }
    }

    /// Settings rows describing this protection.
    pub fn to_settings(&self) -> Vec<(&'static str, String)> {
        match self {
            KeyProtection::MasterKeyFile => vec![("key_protection", self.name().into())],
            KeyProtection::Passphrase { salt, params } => vec![
                ("key_protection", self.name().into()),
                ("kek_salt", hex::encode(salt)),
                (
                    "kek_argon2",
                    format!(
                        "m={},t={},p={}",
                        params.memory_kib, params.iterations, params.parallelism
                    ),
                ),
            ],
        }
    }

    /// Reads the protection back from settings.
    pub fn from_settings(
        kind: Option<&str>,
        salt: Option<&str>,
        params: Option<&str>,
    ) -> Result<Self> {
        match kind {
            Some(MASTER_KEY_FILE) => Ok(KeyProtection::MasterKeyFile),
            Some(ARGON2ID_PASSPHRASE) => {
                let bad = || {
                    ServiceError::DataDir(
                        "the key protection settings in the database are damaged".into(),
                    )
                };
                let salt = hex::decode(salt.ok_or_else(bad)?).map_err(|_| bad())?;
                let mut p = Argon2Params::default();
                for part in params.ok_or_else(bad)?.split(',') {
                    let (k, v) = part.split_once('=').ok_or_else(bad)?;
                    let v: u32 = v.parse().map_err(|_| bad())?;
                    match k {
                        "m" => p.memory_kib = v,
                        "t" => p.iterations = v,
                        "p" => p.parallelism = v,
                        _ => return Err(bad()),
                    }
                }
                // Bounds, so a tampered database cannot make unlocking exhaust memory or time.
                if p.memory_kib > 1 << 20
                    || p.iterations > 16
                    || p.parallelism > 16
                    || salt.len() < 8
                    || salt.len() > 64
                {
                    return Err(bad());
                }
                Ok(KeyProtection::Passphrase { salt, params: p })
            }
            _ => Err(ServiceError::DataDir(
                "the database does not say how its CA keys are protected".into(),
            )),
        }
    }

    /// Whether a passphrase is needed to unlock.
    pub fn needs_passphrase(&self) -> bool {
        matches!(self, KeyProtection::Passphrase { .. })
    }
}

impl Kek {
    /// Makes a new KEK for a new data directory: writes `master.key`, or derives from the
    /// passphrase with a fresh salt.
    pub fn create(dir: &DataDir, passphrase: Option<&[u8]>) -> Result<(Kek, KeyProtection)> {
        match passphrase {
            None => {
                let key = Zeroizing::new(cachet_crypto::rand::bytes::<KEY_LEN>()?);
                write_secret_file(&dir.master_key(), key.as_ref())?;
                Ok((Kek(key), KeyProtection::MasterKeyFile))
            }
            Some(p) => {
                let salt = cachet_crypto::rand::bytes::<16>()?.to_vec();
                let params = Argon2Params::default();
                let key = secret::argon2id(p, &salt, params)?;
                Ok((Kek(key), KeyProtection::Passphrase { salt, params }))
            }
        }
    }

    /// Obtains the KEK of an existing data directory.
    pub fn unlock(
        dir: &DataDir,
        protection: &KeyProtection,
        passphrase: Option<&[u8]>,
    ) -> Result<Kek> {
        match protection {
            KeyProtection::MasterKeyFile => {
                let path = dir.master_key();
                let bytes = Zeroizing::new(std::fs::read(&path).map_err(|e| {
                    ServiceError::Locked(format!(
                        "cannot read the master key {}: {e}",
                        path.display()
                    ))
                })?);
                let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    ServiceError::Locked(format!(
                        "{} is not a Cachet master key (wrong length)",
                        path.display()
                    ))
                })?;
                Ok(Kek(Zeroizing::new(key)))
            }
            KeyProtection::Passphrase { salt, params } => {
                let p = passphrase.ok_or_else(|| {
                    ServiceError::Locked(
                        "the CA keys are protected by a passphrase: pass --passphrase-file FILE"
                            .into(),
                    )
                })?;
                Ok(Kek(secret::argon2id(p, salt, *params)?))
            }
        }
    }

    /// The key of the audit log's HMAC chain, derived from the KEK (HMAC-SHA-256 as a PRF
    /// with a fixed label, i.e. one HKDF-Expand block). Whoever cannot unlock the CA keys
    /// cannot rewrite the audit chain either.
    pub fn audit_key(&self) -> cachet_store::AuditKey {
        let mac = cachet_crypto::pbe::hmac(
            cachet_crypto::pbe::HmacAlgorithm::Sha256,
            self.0.as_ref(),
            b"cachet audit chain key v1\x01",
        );
        let mut k = [0u8; 32];
        k.copy_from_slice(&mac[..32]);
        let key = cachet_store::AuditKey::new(k);
        zeroize::Zeroize::zeroize(&mut k);
        key
    }

    /// A sealed check value stored at init, so a wrong passphrase is reported as such.
    pub fn check_value(&self) -> Result<Vec<u8>> {
        Ok(secret::seal(&self.0, CHECK_AAD, CHECK_PLAINTEXT)?)
    }

    /// Verifies this KEK against the stored check value.
    pub fn verify(&self, check: &[u8]) -> Result<()> {
        match secret::open(&self.0, CHECK_AAD, check) {
            Ok(p) if p.as_slice() == CHECK_PLAINTEXT => Ok(()),
            _ => Err(ServiceError::Locked(
                "the passphrase or master key does not open this data directory's CA keys".into(),
            )),
        }
    }

    /// Seals a CA private key (PKCS#8) bound to the CA's slug.
    pub fn seal_ca_key(&self, slug: &str, pkcs8: &[u8]) -> Result<Vec<u8>> {
        Ok(secret::seal(
            &self.0,
            format!("cachet:ca-key:{slug}").as_bytes(),
            pkcs8,
        )?)
    }

    /// Opens a sealed CA key.
    pub fn open_ca_key(&self, slug: &str, sealed: &[u8]) -> Result<cachet_crypto::PrivateKey> {
        let pkcs8 = secret::open(&self.0, format!("cachet:ca-key:{slug}").as_bytes(), sealed)
            .map_err(|_| {
                ServiceError::Locked(format!(
                    "the key of CA '{slug}' does not open with this key-encryption key"
                ))
            })?;
        Ok(cachet_crypto::PrivateKey::from_pkcs8_der(&pkcs8)?)
    }

    /// Seals a subscriber key Cachet generated at renewal, waiting for its owner to collect
    /// it, bound to the certificate's serial.
    pub fn seal_pending_key(&self, serial: &str, pkcs8: &[u8]) -> Result<Vec<u8>> {
        Ok(secret::seal(
            &self.0,
            format!("cachet:pending-key:{serial}").as_bytes(),
            pkcs8,
        )?)
    }

    /// Opens a key sealed by [`Kek::seal_pending_key`].
    pub fn open_pending_key(&self, serial: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        secret::open(
            &self.0,
            format!("cachet:pending-key:{serial}").as_bytes(),
            sealed,
        )
        .map_err(|_| {
            ServiceError::Locked(format!(
                "the pending key of certificate {serial} does not open with this key-encryption key"
            ))
        })
    }

    /// Seals the private key (PKCS#8) of the delegated OCSP responder whose certificate has
    /// serial `serial`, bound to that serial, so a sealed key moved to another row does not
    /// open.
    pub fn seal_ocsp_signer_key(&self, serial: &str, pkcs8: &[u8]) -> Result<Vec<u8>> {
        Ok(secret::seal(
            &self.0,
            format!("cachet:ocsp-signer-key:{serial}").as_bytes(),
            pkcs8,
        )?)
    }

    /// Opens the sealed key of the OCSP responder with certificate serial `serial`.
    pub fn open_ocsp_signer_key(
        &self,
        serial: &str,
        sealed: &[u8],
    ) -> Result<cachet_crypto::PrivateKey> {
        let pkcs8 = secret::open(
            &self.0,
            format!("cachet:ocsp-signer-key:{serial}").as_bytes(),
            sealed,
        )
        .map_err(|_| {
            ServiceError::DataDir(format!(
                "the key of OCSP responder {serial} does not open with this key-encryption key: it was altered or moved"
            ))
        })?;
        Ok(cachet_crypto::PrivateKey::from_pkcs8_der(&pkcs8)?)
    }

    /// Seals the secret of recovery request `id` (its P-256 private key, PKCS#8), bound to
    /// the id, so a sealed secret moved to another request's row does not open.
    pub fn seal_request_secret(&self, id: &str, pkcs8: &[u8]) -> Result<Vec<u8>> {
        Ok(secret::seal(
            &self.0,
            format!("cachet:recovery-request:{id}").as_bytes(),
            pkcs8,
        )?)
    }

    /// Opens the sealed secret of recovery request `id`.
    pub fn open_request_secret(&self, id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        secret::open(
            &self.0,
            format!("cachet:recovery-request:{id}").as_bytes(),
            sealed,
        )
        .map_err(|_| {
            ServiceError::DataDir(format!(
                "the sealed secret of recovery request {id} does not open with this key-encryption key: it was altered or moved"
            ))
        })
    }
}
