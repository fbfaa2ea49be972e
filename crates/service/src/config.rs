//! `cachet.toml`: the settings of `cachet serve` and of enrollment that an administrator
//! edits by hand — where each service listens, which database to use, and the enrollment
//! policy (key types, validity, when to renew).
//!
//! Everything has a default, so a fresh `cachet init` directory runs with no file at all.
//! Unknown keys are refused with the key's name: a misspelt setting that is silently ignored
//! would leave, say, renewal at its default while the administrator believes it changed.
//! Settings that identify the CA (domain, base URL, key protection) are not here: they are
//! fixed at `cachet init` and kept in the database, where every node of a cluster reads the
//! same values.

use crate::error::ServiceError;
use cachet_crypto::KeyType;
use cachet_pki::profile::Profile;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The services `cachet serve` can run, with their default addresses (DESIGN.md "Defaults of
/// `cachet serve`": unprivileged ports).
pub const DEFAULT_LISTEN: &[(&str, &str)] = &[
    ("http", "0.0.0.0:8080"),
    ("https", "0.0.0.0:8443"),
    ("smtp", "0.0.0.0:2525"),
    ("submission", "0.0.0.0:2587"),
    ("imap", "0.0.0.0:2143"),
    ("pop3", "0.0.0.0:2110"),
    ("ldap", "0.0.0.0:2389"),
    ("ldaps", "0.0.0.0:2636"),
];

/// The file name looked for in the data directory when `--config` is not given.
pub const FILE_NAME: &str = "cachet.toml";

/// The parsed `cachet.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PostgreSQL URL (`postgres://user:pass@host/db`); absent: the embedded SQLite database
    /// in the data directory.
    pub database_url: Option<String>,
    /// Address per service name (`http = "127.0.0.1:8080"`), overriding [`DEFAULT_LISTEN`].
    #[serde(default)]
    pub listen: BTreeMap<String, String>,
    /// TLS for the listeners.
    pub tls: Option<TlsConfig>,
    /// How accounts are enrolled and renewed.
    #[serde(default)]
    pub enrollment: EnrollmentPolicy,
    /// The LDAP certificate directory.
    #[serde(default)]
    pub directory: DirectoryConfig,
}

/// `[directory]`: who may read the LDAP certificate directory and how much one client may
/// ask of it (RFC 4511 §4.5.1.4–5: the server's size and time limits bound every search
/// whatever the client asks).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    /// Whether clients that have not bound may search. On by default: address books and
    /// `dirmngr` read certificates anonymously, and certificates are public. Off, only
    /// accounts that bind with their password read (RFC 4513 §5.1.1: the anonymous bind
    /// still succeeds, and searches then get insufficientAccessRights); the root DSE and
    /// the schema stay readable, as clients need them to discover the server.
    pub anonymous_read: bool,
    /// Most entries one search (or one page of a paged search) returns.
    pub size_limit: usize,
    /// Longest one search may run, in seconds.
    pub time_limit: u64,
    /// Connections served at once; one more is told "busy" and closed.
    pub max_connections: usize,
    /// A connection with no request for this many seconds is closed.
    pub idle_timeout: u64,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            anonymous_read: true,
            size_limit: 1000,
            time_limit: 10,
            max_connections: 1024,
            idle_timeout: 300,
        }
    }
}

impl DirectoryConfig {
    fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("size_limit", self.size_limit as u64),
            ("time_limit", self.time_limit),
            ("max_connections", self.max_connections as u64),
            ("idle_timeout", self.idle_timeout),
        ] {
            if value == 0 {
                return Err(format!("directory.{name} = 0 must be at least 1"));
            }
        }
        Ok(())
    }
}

/// The server certificate and key of every TLS listener (PEM files).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, PEM, leaf first.
    pub certificate: PathBuf,
    /// Private key, PEM (PKCS#8).
    pub key: PathBuf,
}

/// The enrollment policy: what an account gets when it is created, and when its certificates
/// are renewed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EnrollmentPolicy {
    /// Key type of signing certificates (and of the one dual certificate when key recovery
    /// is off).
    #[serde(deserialize_with = "key_type")]
    pub signing_key_type: KeyType,
    /// Key type of encryption certificates (archived when key recovery is on).
    #[serde(deserialize_with = "key_type")]
    pub encryption_key_type: KeyType,
    /// Validity of subscriber certificates in days (the S/MIME BR allow at most 825).
    pub validity_days: u32,
    /// The fraction of a certificate's life after which it is renewed (0 < f < 1; default
    /// two thirds, so a one-year certificate is renewed four months before it expires).
    pub renew_at: f64,
    /// Assert nonRepudiation (contentCommitment) on signing certificates.
    pub non_repudiation: bool,
}

impl Default for EnrollmentPolicy {
    fn default() -> Self {
        EnrollmentPolicy {
            signing_key_type: KeyType::EcdsaP256,
            encryption_key_type: KeyType::EcdsaP256,
            validity_days: cachet_pki::profile::DEFAULT_VALIDITY_DAYS,
            renew_at: 2.0 / 3.0,
            non_repudiation: false,
        }
    }
}

fn key_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<KeyType, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<KeyType>().map_err(serde::de::Error::custom)
}

impl EnrollmentPolicy {
    /// The moment a certificate valid from `not_before` to `not_after` falls due for renewal.
    pub fn renewal_due(&self, not_before: u64, not_after: u64) -> u64 {
        let life = not_after.saturating_sub(not_before) as f64;
        not_before + (life * self.renew_at) as u64
    }

    fn check(&self) -> Result<(), String> {
        if !(self.renew_at > 0.0 && self.renew_at < 1.0) {
            return Err(format!(
                "enrollment.renew_at = {} must be a fraction of the certificate's life between 0 and 1 (e.g. 0.667)",
                self.renew_at
            ));
        }
        if self.validity_days == 0 || self.validity_days > 825 {
            return Err(format!(
                "enrollment.validity_days = {} must be between 1 and 825 (S/MIME BR §6.3.2)",
                self.validity_days
            ));
        }
        if !Profile::Signing.allows_key_type(self.signing_key_type) {
            return Err(format!(
                "enrollment.signing_key_type = {} cannot sign",
                self.signing_key_type
            ));
        }
        if !Profile::Encryption.allows_key_type(self.encryption_key_type) {
            return Err(format!(
                "enrollment.encryption_key_type = {} cannot encrypt",
                self.encryption_key_type
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Parses and checks the text of a `cachet.toml`; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Config, ServiceError> {
        let bad = |detail: String| ServiceError::Invalid(format!("{source}: {detail}"));
        let config: Config = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        config.enrollment.check().map_err(bad)?;
        config.directory.check().map_err(bad)?;
        for (service, addr) in &config.listen {
            if !DEFAULT_LISTEN.iter().any(|(s, _)| s == service) {
                return Err(bad(format!(
                    "listen.{service}: unknown service (known: {})",
                    service_names()
                )));
            }
            addr.parse::<std::net::SocketAddr>().map_err(|_| {
                bad(format!(
                    "listen.{service} = \"{addr}\" is not an address like 127.0.0.1:8080"
                ))
            })?;
        }
        if let Some(url) = &config.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(bad(
                "database_url must be a postgres:// URL (leave it out for the embedded SQLite database)".into(),
            ));
        }
        Ok(config)
    }

    /// Reads `path`; when `path` is `None`, reads `DATA/cachet.toml` if it exists and
    /// otherwise returns the defaults.
    pub fn load(explicit: Option<&Path>, data_dir: &Path) -> Result<Config, ServiceError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => (data_dir.join(FILE_NAME), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path.display().to_string()),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(ServiceError::Invalid(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// The address of `service`: the file's, else the default.
    pub fn listen_address(&self, service: &str) -> Option<String> {
        self.listen.get(service).cloned().or_else(|| {
            DEFAULT_LISTEN
                .iter()
                .find(|(s, _)| *s == service)
                .map(|(_, a)| (*a).to_string())
        })
    }
}

/// The known service names, comma-separated (for messages).
pub fn service_names() -> String {
    DEFAULT_LISTEN
        .iter()
        .map(|(s, _)| *s)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The commented `cachet.toml` that `cachet init` writes: every setting at its default, so
/// an administrator sees what can be changed.
pub const TEMPLATE: &str = r#"# cachet.toml — settings of `cachet serve` and of enrollment.
# Every line is optional; the values shown commented out are the defaults.

# PostgreSQL for deployments that outgrow one node (several `cachet serve` share it).
# Without it, the embedded SQLite database in this directory is used.
# database_url = "postgres://cachet:secret@db.example.com/cachet"

[listen]
# http = "0.0.0.0:8080"        # CRL, CA certificates, OCSP, /certs lookup, REST API
# https = "0.0.0.0:8443"       # the same over TLS, plus EST enrollment (RFC 7030)
# ldap = "0.0.0.0:2389"        # the certificate directory (LDAPv3, StartTLS)
# ldaps = "0.0.0.0:2636"       # the same over TLS from the first byte

# [tls]                          # the https and ldap(s) certificate (default: a self-signed one in tls/)
# certificate = "/etc/cachet/server.pem"
# key = "/etc/cachet/server.key"

[enrollment]
# Key types: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096, ed25519 (signing only),
# x25519 (encryption only). RSA encryption keys reach the oldest clients.
# signing_key_type = "ecdsa-p256"
# encryption_key_type = "ecdsa-p256"
# validity_days = 365
# renew_at = 0.667               # renew after two thirds of a certificate's life
# non_repudiation = false

[directory]                      # the LDAP certificate directory (listen.ldap)
# anonymous_read = true          # false: only accounts that bind with their password search
# size_limit = 1000              # most entries per search (or per page of a paged search)
# time_limit = 10                # seconds one search may run
# max_connections = 1024         # clients served at once; more are told "busy"
# idle_timeout = 300             # seconds before a silent connection is closed
"#;

/// The `cachet.toml` of a new data directory: [`TEMPLATE`], with `database_url` set when
/// the installation is on PostgreSQL.
pub fn template(database_url: Option<&str>) -> String {
    match database_url {
        Some(url) => TEMPLATE.replacen(
            "# database_url = \"postgres://cachet:secret@db.example.com/cachet\"",
            &format!("database_url = {}", toml_string(url)),
            1,
        ),
        None => TEMPLATE.to_string(),
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_means_defaults_and_the_template_parses_to_them() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(None, dir.path()).unwrap(), Config::default());
        assert_eq!(
            Config::parse(TEMPLATE, "cachet.toml").unwrap(),
            Config::default()
        );
        assert_eq!(
            Config::default().listen_address("http").as_deref(),
            Some("0.0.0.0:8080")
        );
    }

    #[test]
    fn a_postgres_template_carries_the_url() {
        let url = "postgres://cachet:p\"w@db/cachet";
        let c = Config::parse(&template(Some(url)), "cachet.toml").unwrap();
        assert_eq!(c.database_url.as_deref(), Some(url));
    }

    #[test]
    fn settings_are_read_and_mistakes_are_named() {
        let c = Config::parse(
            "[listen]\nhttp = \"127.0.0.1:9000\"\n[enrollment]\nencryption_key_type = \"rsa-2048\"\nrenew_at = 0.5\n",
            "x.toml",
        )
        .unwrap();
        assert_eq!(c.listen_address("http").as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(c.enrollment.encryption_key_type, KeyType::Rsa2048);
        assert_eq!(c.enrollment.renewal_due(1000, 3000), 2000);
        for (text, needle) in [
            ("[enrollment]\nrenew_after = 0.5\n", "renew_after"),
            ("[enrollment]\nrenew_at = 1.5\n", "renew_at"),
            (
                "[enrollment]\nsigning_key_type = \"x25519\"\n",
                "cannot sign",
            ),
            ("[enrollment]\nencryption_key_type = \"dsa\"\n", "dsa"),
            ("[listen]\ngopher = \"127.0.0.1:70\"\n", "gopher"),
            ("[listen]\nhttp = \"localhost\"\n", "listen.http"),
            ("database_url = \"mysql://x\"\n", "postgres"),
            ("[enrollment\n", "x.toml"),
        ] {
            let e = Config::parse(text, "x.toml").unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("x.toml"), "{text}: {e}");
        }
        let c = Config::parse(
            "[directory]\nanonymous_read = false\nsize_limit = 50\ntime_limit = 3\n",
            "x.toml",
        )
        .unwrap();
        assert!(!c.directory.anonymous_read);
        assert_eq!(c.directory.size_limit, 50);
        assert_eq!(c.directory.time_limit, 3);
        assert_eq!(c.directory.max_connections, 1024);
        assert!(Config::default().directory.anonymous_read);
        for (text, needle) in [
            ("[directory]\nanonymous = false\n", "anonymous"),
            ("[directory]\nsize_limit = 0\n", "directory.size_limit"),
            ("[directory]\nmax_connections = -1\n", "x.toml"),
            ("[directory]\nanonymous_read = \"no\"\n", "x.toml"),
        ] {
            let e = Config::parse(text, "x.toml").unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("x.toml"), "{text}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(Config::load(Some(&missing), dir.path()).is_err());
    }
}
