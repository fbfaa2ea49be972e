//! Pipes: every `cachet smime` command reads standard input when `--in` is not given (a pipe
//! is spooled once to a private file, since some operations read twice) and writes standard
//! output when `--out` is not given.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `cachet args` with `input` on standard input.
fn piped(dir: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(cachet_bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        raw_stdout: o.stdout,
    }
}

#[test]
fn every_command_works_through_pipes() {
    let t = scratch();
    let d = t.path();
    init_ca(d, "ecdsa-p256");
    write_chain(d);
    let alice = identity(issue(d, "alice@example.com", "signing", "ecdsa-p256", &[]));
    let bob = identity(issue(d, "bob@example.com", "encryption", "rsa-2048", &[]));
    let msg = b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: pipe\r\n\r\nthrough a pipe\r\n";

    for opaque in [false, true] {
        let mut args = vec![
            "smime",
            "sign",
            "--cert",
            &alice.cert,
            "--key",
            &alice.key,
            "--chain",
            &alice.chain,
        ];
        if opaque {
            args.push("--opaque");
        }
        let signed = piped(d, &args, msg).ok().raw_stdout;
        let r = piped(d, &["smime", "verify", "--trust", "root.pem"], &signed).ok();
        assert!(
            r.stdout.starts_with("valid"),
            "opaque {opaque}: {}",
            r.stdout
        );
    }

    let encrypted = piped(d, &["smime", "encrypt", "--recipient", &bob.cert], msg)
        .ok()
        .raw_stdout;
    let r = piped(
        d,
        &["smime", "decrypt", "--cert", &bob.cert, "--key", &bob.key],
        &encrypted,
    )
    .ok();
    assert!(r.stdout.ends_with("through a pipe\r\n"), "{}", r.stdout);

    // A raw detached signature on standard input, its content from a file.
    std::fs::write(d.join("content.bin"), b"raw content\n").unwrap();
    cachet(
        d,
        &[
            "smime",
            "sign",
            "--format",
            "der",
            "--cert",
            &alice.cert,
            "--key",
            &alice.key,
            "--chain",
            &alice.chain,
            "--in",
            "content.bin",
            "--out",
            "content.p7s",
        ],
    )
    .ok();
    let sig = std::fs::read(d.join("content.p7s")).unwrap();
    let verify = [
        "smime",
        "verify",
        "--format",
        "der",
        "--trust",
        "root.pem",
        "--content",
        "content.bin",
    ];
    let r = piped(d, &verify, &sig).ok();
    assert!(r.stdout.starts_with("valid"), "{}", r.stdout);
    // …and one byte of the content changed is caught.
    std::fs::write(d.join("content.bin"), b"raw Content\n").unwrap();
    let r = piped(d, &verify, &sig);
    assert_eq!(r.code, 1, "{}", r.stdout);
}
