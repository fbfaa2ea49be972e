//! A throwaway GnuPG home for `gpgsm` interop tests: loopback pinentry, no CRL checks, no
//! dirmngr; the agent is stopped when the value is dropped, also when a test fails.
#![allow(dead_code)]

use super::Run;
use std::path::{Path, PathBuf};

/// The PKCS#12 password, and the passphrase gpgsm protects the imported key with.
pub const PASSPHRASE: &str = "Pässwörd 123\n";

/// A GNUPGHOME in `dir/gnupg`; its agent is stopped when dropped, also when a test fails.
pub struct Gpgsm {
    dir: PathBuf,
    home: PathBuf,
}

impl Gpgsm {
    pub fn new(dir: &Path) -> Gpgsm {
        use std::os::unix::fs::PermissionsExt;
        let home = dir.join("gnupg");
        std::fs::create_dir(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(home.join("gpg-agent.conf"), "allow-loopback-pinentry\n").unwrap();
        std::fs::write(
            home.join("gpgsm.conf"),
            "disable-crl-checks\ndisable-dirmngr\n",
        )
        .unwrap();
        Gpgsm {
            dir: dir.to_path_buf(),
            home,
        }
    }

    /// Runs gpgsm with `stdin` on fd 0; status lines (`--status-fd 1`) go to stdout.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut child = std::process::Command::new("gpgsm")
            .env("GNUPGHOME", &self.home)
            .current_dir(&self.dir)
            .args(["--batch", "--status-fd", "1"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run gpgsm");
        if let Some(mut s) = child.stdin.take() {
            let _ = s.write_all(stdin.as_bytes());
        }
        let o = child.wait_with_output().expect("gpgsm output");
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            raw_stdout: o.stdout,
        }
    }

    /// Runs gpgsm with the key passphrase on fd 0 (loopback pinentry).
    pub fn with_passphrase(&self, args: &[&str]) -> Run {
        let mut a = vec!["--pinentry-mode", "loopback", "--passphrase-fd", "0"];
        a.extend_from_slice(args);
        self.run(&a, &PASSPHRASE.repeat(3))
    }

    /// Imports `root.pem` and marks it trusted for S/MIME (flag S in trustlist.txt).
    pub fn trust_root(&self) {
        let r = self.run(&["--import", "root.pem"], "");
        assert_eq!(r.code, 0, "gpgsm --import root: {}", r.stderr);
        let r = self.run(&["--with-colons", "--list-keys"], "");
        let fpr = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| f.len() == 40))
            .unwrap_or_else(|| panic!("no fingerprint: {}", r.stdout))
            .to_string();
        std::fs::write(self.home.join("trustlist.txt"), format!("{fpr} S\n")).unwrap();
    }

    /// The fingerprint of the certificate gpgsm holds a secret key for (the only one): the
    /// name to sign with, as gpgsm also keeps Alice's P-256 certificate from a signature.
    pub fn secret_fingerprint(&self) -> String {
        let r = self.run(&["--with-colons", "--list-secret-keys"], "");
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| f.len() == 40))
            .unwrap_or_else(|| panic!("no secret key: {}", r.stdout))
            .to_string()
    }

    /// Imports a `--p12-compat` bundle with its key.
    pub fn import_p12(&self, p12: &Path) {
        let r = self.with_passphrase(&["--import", &p12.display().to_string()]);
        assert_eq!(r.code, 0, "gpgsm --import p12: {}", r.stderr);
        assert!(r.stderr.contains("secret keys imported: 1"), "{}", r.stderr);
    }
}

impl Drop for Gpgsm {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .env("GNUPGHOME", &self.home)
            .args(["--kill", "all"])
            .status();
    }
}
