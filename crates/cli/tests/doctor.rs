//! `cachet doctor` on the messages the deployment guides' troubleshooting chapters are
//! about: each must name the problem by its code and give the fix. The PKI and the messages
//! are made by OpenSSL (a partner's CA, as Cachet would meet it).

mod common;

use common::{cachet, require, run_in, scratch, write};
use std::path::Path;

/// A root CA, an intermediate and end-entity certificates made with `openssl ca`.
struct Pki<'a> {
    dir: &'a Path,
}

const CA_CONF: &str = r#"
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = .
database = $dir/DB/index.txt
new_certs_dir = $dir/DB/new
serial = $dir/DB/serial
crlnumber = $dir/DB/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
default_crl_days = 30
[ policy_any ]
commonName = supplied
emailAddress = optional
[ v3_root ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_ca ]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_signer ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:alice@partner.example
[ v3_signer_dp ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:alice@partner.example
crlDistributionPoints = URI:http://127.0.0.1:9/partner-issuing.crl
"#;

impl<'a> Pki<'a> {
    fn new(dir: &'a Path) -> Self {
        require("openssl", "apt-get install openssl");
        let p = Pki { dir };
        for d in ["root", "inter"] {
            std::fs::create_dir_all(dir.join(d).join("DB/new")).unwrap();
            write(&dir.join(d), "DB/index.txt", "");
            write(&dir.join(d), "DB/serial", "1000\n");
            write(&dir.join(d), "DB/crlnumber", "01\n");
            write(&dir.join(d), "ca.cnf", CA_CONF);
        }
        p.ossl(
            "root",
            &[
                "req",
                "-x509",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "3650",
                "-subj",
                "/CN=Partner Root CA",
                "-config",
                "ca.cnf",
                "-extensions",
                "v3_root",
            ],
        );
        p.ossl(
            "inter",
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "req.pem",
                "-subj",
                "/CN=Partner Issuing CA",
            ],
        );
        p.ossl(
            "root",
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-extensions",
                "v3_ca",
                "-days",
                "3000",
                "-cert",
                "cert.pem",
                "-keyfile",
                "key.pem",
                "-in",
                "../inter/req.pem",
                "-out",
                "../inter/cert.pem",
                "-notext",
            ],
        );
        p
    }

    fn ossl(&self, sub: &str, args: &[&str]) -> String {
        let r = run_in(&self.dir.join(sub), "openssl", args);
        assert_eq!(r.code, 0, "openssl {args:?}: {}", r.stderr);
        r.stdout
    }

    fn path(&self, p: &str) -> String {
        self.dir.join(p).display().to_string()
    }

    /// A signer certificate under the intermediate, valid `start`..`end` (openssl ca
    /// dates), with extensions `ext`; returns its name (files NAME.pem, NAME.key).
    fn signer(&self, name: &str, ext: &str, dates: Option<(&str, &str)>) {
        self.ossl(
            "inter",
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("../{name}.key"),
                "-out",
                &format!("../{name}.req"),
                "-subj",
                "/CN=Alice Partner",
            ],
        );
        let mut args = vec![
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-extensions",
            ext,
            "-cert",
            "cert.pem",
            "-keyfile",
            "key.pem",
            "-notext",
        ];
        let input = format!("../{name}.req");
        let out = format!("../{name}.pem");
        args.extend(["-in", &input, "-out", &out]);
        match dates {
            Some((start, end)) => args.extend(["-startdate", start, "-enddate", end]),
            None => args.extend(["-days", "365"]),
        }
        self.ossl("inter", &args);
    }

    /// A multipart/signed message by `name`, From `from`, carrying `certfile` too.
    fn sign(&self, name: &str, from: &str, certfile: Option<&str>) -> String {
        write(
            self.dir,
            "body.txt",
            "Content-Type: text/plain\r\n\r\nQuarterly figures attached.\r\n",
        );
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = format!("{name}-{n}.eml");
        let signer = format!("{name}.pem");
        let key = format!("{name}.key");
        let mut args = vec![
            "cms",
            "-sign",
            "-in",
            "body.txt",
            "-signer",
            &signer,
            "-inkey",
            &key,
            "-from",
            from,
            "-to",
            "bob@example.com",
            "-subject",
            "Figures",
            "-out",
            &out,
        ];
        if let Some(c) = certfile {
            args.extend(["-certfile", c]);
        }
        let refs = args;
        let r = run_in(self.dir, "openssl", &refs);
        assert_eq!(r.code, 0, "openssl cms -sign: {}", r.stderr);
        self.path(&out)
    }
}

/// Runs `cachet doctor` (human and --json); returns (exit code, text, json).
fn doctor(dir: &Path, eml: &str, extra: &[&str]) -> (i32, String, serde_json::Value) {
    let mut a = vec!["doctor", eml];
    a.extend_from_slice(extra);
    let text = cachet(dir, &a);
    a.push("--json");
    let j = cachet(dir, &a);
    assert_eq!(text.code, j.code, "{}", text.stderr);
    let v: serde_json::Value = serde_json::from_str(&j.stdout)
        .unwrap_or_else(|e| panic!("doctor --json is JSON ({e}): {}", j.stdout));
    (text.code, text.stdout, v)
}

/// Every finding of every signer of every layer.
fn findings(v: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for l in v["layers"].as_array().unwrap() {
        for f in l["findings"].as_array().into_iter().flatten() {
            out.push(f.clone());
        }
        for s in l["signers"].as_array().into_iter().flatten() {
            out.extend(s["findings"].as_array().unwrap().iter().cloned());
        }
    }
    out
}

fn assert_finding(v: &serde_json::Value, text: &str, code: &str, problem: &str, fix: &str) {
    let all = findings(v);
    let f = all
        .iter()
        .find(|f| f["code"] == code && f["problem"].as_str().unwrap().contains(problem))
        .unwrap_or_else(|| panic!("no {code} finding mentioning '{problem}' in {all:#?}"));
    assert!(
        f["fix"].as_str().unwrap().contains(fix),
        "the fix for {code} says '{fix}': {f:#?}"
    );
    assert!(text.contains(code) && text.contains(fix), "{text}");
}

#[test]
fn doctor_explains_what_breaks_trust_and_how_to_fix_it() {
    let tmp = scratch();
    let dir = tmp.path();
    let pki = Pki::new(dir);
    let root = pki.path("root/cert.pem");
    let inter = pki.path("inter/cert.pem");
    pki.signer("alice", "v3_signer", None);

    // The message carries the intermediate: valid with the root trusted.
    let good = pki.sign("alice", "alice@partner.example", Some(&inter));
    let (code, text, v) = doctor(dir, &good, &["--trust", &root]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(v["valid"], true);
    assert!(
        text.contains("[trust anchor]") && text.contains("Partner Issuing CA"),
        "{text}"
    );
    assert_eq!(v["layers"][0]["kind"], "signed");
    assert_eq!(v["layers"][1]["kind"], "content");

    // The chain lacks the intermediate.
    let bare = pki.sign("alice", "alice@partner.example", None);
    let (code, text, v) = doctor(dir, &bare, &["--trust", &root]);
    assert_eq!(code, 1, "{text}");
    assert_finding(
        &v,
        &text,
        "missing-intermediate",
        "Partner Issuing CA",
        "cachet trust add --intermediate",
    );
    // … and with it given, valid again.
    let (code, text, _) = doctor(dir, &bare, &["--trust", &root, "--intermediates", &inter]);
    assert_eq!(code, 0, "{text}");

    // The root is not trusted (the message carries the whole chain, root included).
    let whole = dir.join("whole.pem");
    std::fs::write(
        &whole,
        [
            std::fs::read(&inter).unwrap(),
            std::fs::read(&root).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let with_root = pki.sign(
        "alice",
        "alice@partner.example",
        Some(&whole.display().to_string()),
    );
    let (code, text, v) = doctor(dir, &with_root, &[]);
    assert_eq!(code, 1, "{text}");
    assert_finding(&v, &text, "untrusted-root", "", "cachet trust add");
    let other = scratch();
    let other_pki = Pki::new(other.path());
    let (code, text, v) = doctor(
        dir,
        &with_root,
        &["--trust", &other_pki.path("root/cert.pem")],
    );
    assert_eq!(code, 1, "{text}");
    assert_finding(
        &v,
        &text,
        "untrusted-root",
        "Partner Root CA",
        "cachet trust add",
    );

    // The From differs from the certificate's address.
    let spoofed = pki.sign("alice", "ceo@partner.example", Some(&inter));
    let (code, text, v) = doctor(dir, &spoofed, &["--trust", &root]);
    assert_eq!(code, 1, "{text}");
    assert_finding(
        &v,
        &text,
        "signer-address-mismatch",
        "ceo@partner.example",
        "sign with the certificate for the address",
    );

    // A stale CRL (nextUpdate passed) when revocation checking is required.
    let stale = dir.join("stale.crl");
    pki.ossl(
        "inter",
        &[
            "ca",
            "-gencrl",
            "-config",
            "ca.cnf",
            "-cert",
            "cert.pem",
            "-keyfile",
            "key.pem",
            "-crl_lastupdate",
            "20200101000000Z",
            "-crl_nextupdate",
            "20200201000000Z",
            "-out",
            &stale.display().to_string(),
        ],
    );
    let root_crl = dir.join("root.crl");
    pki.ossl(
        "root",
        &[
            "ca",
            "-gencrl",
            "-config",
            "ca.cnf",
            "-cert",
            "cert.pem",
            "-keyfile",
            "key.pem",
            "-out",
            &root_crl.display().to_string(),
        ],
    );
    let (code, text, v) = doctor(
        dir,
        &good,
        &[
            "--trust",
            &root,
            "--crl",
            &stale.display().to_string(),
            "--crl",
            &root_crl.display().to_string(),
            "--revocation",
            "require",
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert_finding(
        &v,
        &text,
        "crl-expired",
        "expired on 2020-02-01",
        "cachet trust import-crl",
    );
    // With prefer, a stale CRL is a warning, and the verdict stands.
    let (code, text, _) = doctor(
        dir,
        &good,
        &[
            "--trust",
            &root,
            "--crl",
            &stale.display().to_string(),
            "--revocation",
            "prefer",
        ],
    );
    assert_eq!(code, 0, "{text}");

    // The CRL's distribution point cannot be reached (nothing listens on port 9).
    pki.signer("alice-dp", "v3_signer_dp", None);
    let dp = pki.sign("alice-dp", "alice@partner.example", Some(&inter));
    let (code, text, v) = doctor(
        dir,
        &dp,
        &[
            "--trust",
            &root,
            "--crl",
            &root_crl.display().to_string(),
            "--revocation",
            "require",
            "--fetch-timeout",
            "3",
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert_finding(
        &v,
        &text,
        "crl-unavailable",
        "http://127.0.0.1:9/partner-issuing.crl",
        "cachet trust import-crl",
    );

    // A signer certificate that had expired before the message was signed.
    pki.signer(
        "alice-old",
        "v3_signer",
        Some(("20200101000000Z", "20210101000000Z")),
    );
    let late = pki.sign("alice-old", "alice@partner.example", Some(&inter));
    let (code, text, v) = doctor(dir, &late, &["--trust", &root]);
    assert_eq!(code, 1, "{text}");
    assert_finding(
        &v,
        &text,
        "expired",
        "had already expired when the message was signed",
        "needs a new one",
    );
}

#[test]
fn doctor_opens_encrypted_layers_and_explains_the_signature_inside() {
    use common::{init_ca, issue};
    let tmp = scratch();
    let dir = tmp.path();
    init_ca(dir, "ecdsa-p256");
    write(dir, "pw.txt", "correct horse\n");
    write(
        dir,
        "msg.eml",
        "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: Figures\r\n\r\nQuarterly figures.\r\n",
    );
    let bob = issue(
        dir,
        "bob@example.com",
        "encryption",
        "ecdsa-p256",
        &["--p12-password-file", "pw.txt"],
    );
    let alice = issue(dir, "alice@example.com", "signing", "ecdsa-p256", &[]);
    let p = |d: &Path, f: &str| d.join(f).display().to_string();
    cachet(
        dir,
        &[
            "smime",
            "sign",
            "--cert",
            &p(&alice, "cert.pem"),
            "--key",
            &p(&alice, "key.pem"),
            "--chain",
            &p(&alice, "chain.pem"),
            "--in",
            "msg.eml",
            "--out",
            "signed.eml",
        ],
    )
    .ok();
    cachet(
        dir,
        &[
            "smime",
            "encrypt",
            "--recipient",
            &p(&bob, "cert.pem"),
            "--cipher",
            "aes-256-gcm",
            "--in",
            "signed.eml",
            "--out",
            "signed-enc.eml",
        ],
    )
    .ok();
    let eml = p(dir, "signed-enc.eml");

    // Without a key: the encryption layer is described, and the verdict is not valid
    // (what is inside cannot be checked).
    let (code, text, v) = doctor(dir, &eml, &["--data", "cachet-data", "--offline"]);
    assert_eq!(v["layers"][0]["kind"], "encrypted", "{text}");
    assert_eq!(v["layers"][0]["cipher"], "aes-256-gcm");
    assert_eq!(v["layers"][0]["structure"], "authEnveloped-data");
    let recipients = v["layers"][0]["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 1);
    assert!(
        recipients[0].as_str().unwrap().contains("key agreement"),
        "{recipients:?}"
    );
    assert!(text.contains("not opened: pass --p12"), "{text}");
    assert_eq!(v["layers"].as_array().unwrap().len(), 1);
    assert_eq!(
        code, 0,
        "an unopened layer is reported, not an error: {text}"
    );

    // With Bob's PKCS#12: opened, and Alice's signature inside is valid against the
    // organisation's own root (the data directory's trust store).
    let (code, text, v) = doctor(
        dir,
        &eml,
        &[
            "--data",
            "cachet-data",
            "--offline",
            "--p12",
            &p(&bob, "bundle.p12"),
            "--password-file",
            "pw.txt",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        v["layers"][0]["opened_with"]
            .as_str()
            .unwrap()
            .contains("bob@example.com"),
        "{text}"
    );
    assert_eq!(v["layers"][1]["kind"], "signed");
    assert_eq!(v["layers"][1]["signers"][0]["valid"], true, "{text}");
    assert_eq!(v["layers"][2]["kind"], "content");

    // Someone else's key: the message was not encrypted to it.
    let carol = issue(
        dir,
        "carol@example.com",
        "encryption",
        "ecdsa-p256",
        &["--p12-password-file", "pw.txt"],
    );
    let (code, text, v) = doctor(
        dir,
        &eml,
        &[
            "--data",
            "cachet-data",
            "--offline",
            "--p12",
            &p(&carol, "bundle.p12"),
            "--password-file",
            "pw.txt",
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert_finding(
        &v,
        &text,
        "no-recipient-key",
        "not encrypted to",
        "key recovery",
    );
}
