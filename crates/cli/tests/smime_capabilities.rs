//! `verify --capabilities FILE` remembers what a valid signer can decrypt (its
//! SMIMECapabilities), and `encrypt --capabilities FILE` uses AES-GCM only when every
//! recipient advertised it (RFC 8551 §2.7.1) — with Cachet's own signers (which advertise
//! AES-256-GCM) and OpenSSL's (3.0 advertises only CBC ciphers).

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

fn smime_type(dir: &std::path::Path, file: &str) -> String {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .find(|l| l.starts_with("Content-Type:"))
        .unwrap()
        .to_string()
}

/// `cachet smime encrypt` of to-them.eml to `recipients` with the capabilities `book`.
fn encrypt(dir: &std::path::Path, recipients: &[&str], book: &str, out: &str) -> Run {
    let mut args = vec![
        "smime",
        "encrypt",
        "--capabilities",
        book,
        "--in",
        "to-them.eml",
        "--out",
        out,
    ];
    for r in recipients {
        args.extend_from_slice(&["--recipient", r]);
    }
    cachet(dir, &args)
}

/// `cachet smime verify --capabilities book.json` of `input`.
fn remember(dir: &std::path::Path, root: &str, input: &str) -> Run {
    cachet(
        dir,
        &[
            "smime",
            "verify",
            "--trust",
            root,
            "--capabilities",
            "book.json",
            "--in",
            input,
        ],
    )
}

#[test]
fn gcm_is_chosen_only_for_recipients_known_to_read_it() {
    let t = scratch();
    let d = t.path();
    init_ca(d, "ecdsa-p256");
    let (_, root) = write_chain(d);
    let root = root.display().to_string();
    let alice_sig = identity(issue(d, "alice@example.com", "signing", "ecdsa-p256", &[]));
    let alice_enc = identity(issue(d, "alice@example.com", "encryption", "rsa-2048", &[]));
    let carol_sig = identity(issue(d, "carol@example.com", "signing", "ecdsa-p256", &[]));
    let carol_enc = identity(issue(
        d,
        "carol@example.com",
        "encryption",
        "ecdsa-p256",
        &[],
    ));
    std::fs::write(
        d.join("from-alice.eml"),
        "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\nhi Bob\r\n",
    )
    .unwrap();
    std::fs::write(
        d.join("from-carol.eml"),
        "From: carol@example.com\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\nhi Bob\r\n",
    )
    .unwrap();
    std::fs::write(
        d.join("to-them.eml"),
        "Subject: secret\r\n\r\nthe figures\r\n",
    )
    .unwrap();

    // Nobody known yet: CBC, and the reason is given.
    let r = encrypt(d, &[&alice_enc.cert], "book.json", "e0.eml").ok();
    assert!(
        r.stderr
            .contains("cipher aes-256-cbc: 1 recipient(s) not in book.json"),
        "{}",
        r.stderr
    );
    assert!(smime_type(d, "e0.eml").contains("enveloped-data"));

    // Alice's signature (Cachet advertises AES-256-GCM first) is verified and remembered.
    cachet(
        d,
        &[
            "smime",
            "sign",
            "--cert",
            &alice_sig.cert,
            "--key",
            &alice_sig.key,
            "--chain",
            &alice_sig.chain,
            "--in",
            "from-alice.eml",
            "--out",
            "alice.signed",
        ],
    )
    .ok();
    remember(d, &root, "alice.signed").ok();
    let book: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("book.json")).unwrap()).unwrap();
    let caps = book["correspondents"]["alice@example.com"]["capabilities"]
        .as_array()
        .unwrap();
    assert_eq!(
        caps[0], "2.16.840.1.101.3.4.1.46",
        "AES-256-GCM first: {book}"
    );
    let mode = std::fs::metadata(d.join("book.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // To Alice alone: GCM.
    let r = encrypt(d, &[&alice_enc.cert], "book.json", "e1.eml").ok();
    assert!(
        smime_type(d, "e1.eml").contains("authEnveloped-data"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("cipher aes-256-gcm: every recipient advertised it"),
        "{}",
        r.stderr
    );
    cachet(
        d,
        &[
            "smime",
            "decrypt",
            "--cert",
            &alice_enc.cert,
            "--key",
            &alice_enc.key,
            "--in",
            "e1.eml",
            "--out",
            "e1.txt",
        ],
    )
    .ok();

    // To Alice and Carol, who is not known: CBC for both.
    encrypt(
        d,
        &[&alice_enc.cert, &carol_enc.cert],
        "book.json",
        "e2.eml",
    )
    .ok();
    assert!(smime_type(d, "e2.eml").contains("smime-type=enveloped-data"));

    // Carol signs with OpenSSL, which advertises CBC ciphers only: still CBC.
    run_in(
        d,
        "openssl",
        &[
            "cms",
            "-sign",
            "-signer",
            &carol_sig.cert,
            "-inkey",
            &carol_sig.key,
            "-certfile",
            &carol_sig.chain,
            "-in",
            "from-carol.eml",
            "-out",
            "carol.signed",
        ],
    )
    .ok();
    remember(d, &root, "carol.signed").ok();
    let book: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("book.json")).unwrap()).unwrap();
    assert!(
        book["correspondents"]["carol@example.com"].is_object(),
        "{book}"
    );
    assert!(
        book["correspondents"]["alice@example.com"].is_object(),
        "{book}"
    );
    encrypt(
        d,
        &[&alice_enc.cert, &carol_enc.cert],
        "book.json",
        "e3.eml",
    )
    .ok();
    assert!(smime_type(d, "e3.eml").contains("smime-type=enveloped-data"));

    // A signature that is not valid teaches nothing.
    let mut forged = std::fs::read_to_string(d.join("alice.signed")).unwrap();
    forged = forged.replace("hi Bob", "hi Eve");
    std::fs::write(d.join("forged.signed"), forged).unwrap();
    std::fs::remove_file(d.join("book.json")).unwrap();
    let r = remember(d, &root, "forged.signed");
    assert_eq!(r.code, 1);
    assert!(!d.join("book.json").exists());

    // An unreadable book is an error naming the file, exit 2.
    std::fs::write(d.join("bad.json"), "{not json").unwrap();
    let r = encrypt(d, &[&alice_enc.cert], "bad.json", "e4.eml");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.json"), "{}", r.stderr);
    assert!(!d.join("e4.eml").exists());
}
