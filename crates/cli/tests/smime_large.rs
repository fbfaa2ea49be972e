//! Large messages in bounded memory (issue #3): signing, verifying, encrypting and
//! decrypting a message far larger than the memory each run may use, the peak resident set
//! of every `cachet` run measured by GNU time, and the results checked against OpenSSL.
//!
//! The message (96 MiB) is multipart/mixed with a text part in bare LF line endings and
//! 8-bit UTF-8 (converted to quoted-printable and CRLF before signing and encryption) and a
//! base64 attachment, so the streaming MIME planner, the multipart splitter and both
//! transfer encoders work on parts far larger than their buffers. A whole-message
//! implementation needs at least the message size; the bound checked is a third of it.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;

const MESSAGE_MIB: usize = 96;
/// The peak resident set allowed to each run, in KiB.
const BOUND_KIB: u64 = 32 * 1024;

/// Runs `cachet args` under GNU time; returns the run and its peak resident set in KiB.
fn cachet_measured(dir: &Path, args: &[&str]) -> (Run, u64) {
    let report = dir.join("time.txt");
    let mut full = vec!["-f", "%M", "-o", report.to_str().unwrap(), cachet_bin()];
    full.extend_from_slice(args);
    let r = run_in(dir, "/usr/bin/time", &full);
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!("GNU time wrote no report ({e}); install it with `apt-get install time`")
    });
    let kib = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("unreadable GNU time report: {text}"));
    (r, kib)
}

fn write_message(path: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(
        b"From: alice@example.com\nTo: bob@example.com\nSubject: large\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n",
    )
    .unwrap();
    let line = "Grüße aus dem Süden, line of text that is long enough to matter = 100%\n";
    for _ in 0..(8 << 20) / line.len() {
        f.write_all(line.as_bytes()).unwrap();
    }
    f.write_all(
        b"\n--outer\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n",
    )
    .unwrap();
    let mut x: u32 = 0x9e37_79b9;
    let mut raw = [0u8; 57];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for _ in 0..((MESSAGE_MIB - 9) << 20) / 78 {
        let mut text = Vec::with_capacity(78);
        for b in raw.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        for c in raw.chunks(3) {
            let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
            for s in [18, 12, 6, 0] {
                text.push(alphabet[(n >> s) as usize & 63]);
            }
        }
        text.extend_from_slice(b"\r\n");
        f.write_all(&text).unwrap();
    }
    f.write_all(b"--outer--\n").unwrap();
}

/// Runs `cachet args` measured; it must succeed within [`BOUND_KIB`].
fn cachet_bounded(dir: &Path, what: &str, args: &[&str]) -> Run {
    let (r, kib) = cachet_measured(dir, args);
    let r = r.ok();
    check_bound(what, kib);
    r
}

/// `openssl cms -verify` of `input` against `root`; the content goes to `out`.
fn openssl_verify(dir: &Path, root: &str, input: &str, out: &str) {
    run_in(
        dir,
        "openssl",
        &[
            "cms", "-verify", "-CAfile", root, "-purpose", "any", "-in", input, "-out", out,
        ],
    )
    .ok();
}

fn check_bound(what: &str, kib: u64) {
    assert!(
        kib <= BOUND_KIB,
        "{what} used {kib} KiB at its peak, more than {BOUND_KIB} KiB for a {MESSAGE_MIB} MiB message"
    );
}

#[test]
fn a_message_larger_than_memory_streams_through_every_operation() {
    let t = scratch();
    let d = t.path();
    init_ca(d, "ecdsa-p256");
    let (_, root) = write_chain(d);
    let root = root.display().to_string();
    let bob = identity(issue(d, "bob@example.com", "encryption", "rsa-2048", &[]));
    let alice = identity(issue(d, "alice@example.com", "signing", "ecdsa-p256", &[]));
    write_message(&d.join("big.eml"));
    let size = std::fs::metadata(d.join("big.eml")).unwrap().len();
    assert!(
        size >= (MESSAGE_MIB as u64 - 1) << 20,
        "message of {size} bytes"
    );

    // Encrypt (GCM) and decrypt.
    let r = cachet_bounded(
        d,
        "encrypt",
        &[
            "smime",
            "encrypt",
            "--recipient",
            &bob.cert,
            "--cipher",
            "aes-256-gcm",
            "--in",
            "big.eml",
            "--out",
            "big.p7m",
        ],
    );
    assert!(r.stdout.is_empty());
    cachet_bounded(
        d,
        "decrypt",
        &[
            "smime", "decrypt", "--cert", &bob.cert, "--key", &bob.key, "--in", "big.p7m", "--out",
            "big.dec",
        ],
    );
    // OpenSSL decrypts the same message to the same entity.
    run_in(
        d,
        "openssl",
        &[
            "cms", "-decrypt", "-recip", &bob.cert, "-inkey", &bob.key, "-in", "big.p7m", "-out",
            "big.ossl",
        ],
    )
    .ok();
    let ours = std::fs::read(d.join("big.dec")).unwrap();
    assert!(
        ours == std::fs::read(d.join("big.ossl")).unwrap(),
        "OpenSSL's plaintext differs"
    );
    // The entity is 7-bit safe and canonical: the text part became quoted-printable.
    assert!(
        ours.starts_with(b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n")
    );
    assert!(
        ours.windows(36)
            .any(|w| w == b"Content-Transfer-Encoding: quoted-pr")
    );
    assert!(ours.is_ascii());
    assert!(!ours.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));

    // Opaque signing, verified by Cachet (content released) and by OpenSSL.
    cachet_bounded(
        d,
        "sign --opaque",
        &[
            "smime",
            "sign",
            "--opaque",
            "--cert",
            &alice.cert,
            "--key",
            &alice.key,
            "--chain",
            &alice.chain,
            "--in",
            "big.eml",
            "--out",
            "big.p7s",
        ],
    );
    let r = cachet_bounded(
        d,
        "verify (signed-data)",
        &[
            "smime",
            "verify",
            "--trust",
            &root,
            "--in",
            "big.p7s",
            "--out",
            "big.content",
        ],
    );
    assert!(r.stdout.starts_with("valid"), "{}", r.stdout);
    assert!(
        std::fs::read(d.join("big.content")).unwrap() == ours,
        "signed content differs"
    );
    openssl_verify(d, &root, "big.p7s", "big.ossl2");
    assert!(std::fs::read(d.join("big.ossl2")).unwrap() == ours);

    // Detached signing, verified by Cachet and by OpenSSL; a changed byte deep in the
    // attachment is caught.
    cachet_bounded(
        d,
        "sign",
        &[
            "smime",
            "sign",
            "--cert",
            &alice.cert,
            "--key",
            &alice.key,
            "--chain",
            &alice.chain,
            "--in",
            "big.eml",
            "--out",
            "big.signed",
        ],
    );
    cachet_bounded(
        d,
        "verify (multipart/signed)",
        &["smime", "verify", "--trust", &root, "--in", "big.signed"],
    );
    openssl_verify(d, &root, "big.signed", "/dev/null");
    let mut signed = std::fs::read(d.join("big.signed")).unwrap();
    let at = signed.len() / 2;
    signed[at] = if signed[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(d.join("altered.signed"), &signed).unwrap();
    drop(signed);
    let r = cachet(
        d,
        &[
            "smime",
            "verify",
            "--trust",
            &root,
            "--in",
            "altered.signed",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("content-altered"), "{}", r.stdout);
}
