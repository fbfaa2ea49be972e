//! A running `cachet serve` for the tests that talk to it over the network: started in a
//! directory, its listening lines parsed from standard error, killed on drop.

use super::{cachet_bin, run_in};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `cachet serve`, killed on drop (also when an assertion fails).
pub struct Server {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    /// Every line it wrote to standard error so far.
    pub log: Vec<String>,
}

impl Server {
    /// Starts `cachet serve args` in `dir` and waits (at most a minute) for the line that
    /// names the http address; returns the server and that address.
    pub fn start(dir: &Path, args: &[&str]) -> (Server, String) {
        let mut child = Command::new(cachet_bin())
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .env_remove("CACHET_DATA")
            .env_remove("CACHET_PASSPHRASE_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cachet serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            lines: rx,
            log: Vec::new(),
        };
        let http = server.wait_for("cachet: http listening on ");
        (server, http)
    }

    /// Waits (at most a minute) for a line starting with `prefix` (e.g. `cachet: ldap
    /// listening on `) and returns the rest of it, trimmed.
    pub fn wait_for(&mut self, prefix: &str) -> String {
        if let Some(l) = self.log.iter().find_map(|l| l.strip_prefix(prefix)) {
            return l.trim().to_string();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if let Some(a) = line.strip_prefix(prefix) {
                        return a.trim().to_string();
                    }
                }
                Err(_) => panic!(
                    "cachet serve wrote no line starting with {prefix:?} within a minute; its output:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// Sends SIGTERM and waits (at most 30 s) for the exit status.
    pub fn terminate(&mut self) -> i32 {
        let r = run_in(Path::new("."), "kill", &["-TERM", &self.pid().to_string()]);
        assert_eq!(r.code, 0, "kill -TERM: {}", r.stderr);
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(1)) {
                    self.log.push(l);
                }
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cachet serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A port that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
