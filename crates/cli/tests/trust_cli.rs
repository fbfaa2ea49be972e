//! The trust store end to end with the real binary: `cachet trust add|list|remove|import-crl`
//! on a data directory, and `smime verify --data DIR` using it. A partner's PKI (root,
//! issuing CA, signers, CRLs) is made with `openssl req`, `openssl x509` and `openssl ca`.

mod common;

use common::{Run, cachet, init_ca, issue, require, run_in, scratch, write};
use serde_json::Value;
use std::path::Path;

const DATA: &str = "cachet-data";

/// Extensions of the partner's certificates; the signer sections differ in their address.
const EXTENSIONS: &str = "\
[ca_ext]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
[alice_ext]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=emailProtection
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
subjectAltName=email:alice@partner.example
[bob_ext]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=emailProtection
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
subjectAltName=email:bob@other.example
";

/// `openssl ca` settings for CRLs of the partner's issuing CA.
const CA_CONFIG: &str = "\
[ca]
default_ca = issuing
[issuing]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
";

fn openssl(dir: &Path, args: &[&str]) -> Run {
    let r = run_in(dir, "openssl", args);
    assert_eq!(r.code, 0, "openssl {args:?}: {}", r.stderr);
    r
}

/// A self-signed root `name.pem` with key `name.key`.
fn root(dir: &Path, name: &str, subject: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            subject,
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `name.pem` (key `name.key`) for `subject`, issued by `issuer` with the extension section
/// `ext` of [`EXTENSIONS`].
fn issued(dir: &Path, name: &str, subject: &str, issuer: &str, ext: &str, serial: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-set_serial",
            serial,
            "-days",
            "365",
            "-extfile",
            "ext.cnf",
            "-extensions",
            ext,
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// A CRL of `ca` (its `.pem` and `.key`) with `openssl ca -gencrl`, written to `out`.
fn gencrl(dir: &Path, ca: &str, out: &str, extra: &[&str]) {
    let mut args = vec![
        "ca",
        "-config",
        "ca.cnf",
        "-gencrl",
        "-keyfile",
        &format!("{ca}.key"),
        "-cert",
        &format!("{ca}.pem"),
        "-out",
        out,
    ]
    .into_iter()
    .map(str::to_string)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(dir, &args);
}

fn sign(dir: &Path, signer: &str, from: &str, chain: Option<&str>, out: &str) {
    write(
        dir,
        &format!("{out}.txt"),
        format!(
            "From: {from}\nTo: carol@example.com\nSubject: figures\n\nThe figures are attached.\n"
        ),
    );
    let mut args = vec![
        "smime".to_string(),
        "sign".into(),
        "--cert".into(),
        format!("{signer}.pem"),
        "--key".into(),
        format!("{signer}.key"),
        "--in".into(),
        format!("{out}.txt"),
        "--out".into(),
        out.into(),
    ];
    if let Some(c) = chain {
        args.extend(["--chain".into(), c.into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cachet(dir, &args).ok();
}

/// `smime verify --json` of `file`, with `--data` when `data`: the exit code and every
/// finding code.
fn verify(dir: &Path, file: &str, data: bool) -> (i32, Vec<String>, Run) {
    // Offline: the organisation's certificates name http://pki.example.com distribution
    // points; this test is about what the store holds, not the network.
    let mut args = vec!["smime", "verify", "--offline", "--json", "--in", file];
    if data {
        args.extend(["--data", DATA]);
    }
    let r = cachet(dir, &args);
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("verify --json is not JSON ({e}): {} {}", r.stdout, r.stderr));
    let mut codes = Vec::new();
    for f in v["findings"].as_array().into_iter().flatten() {
        codes.push(f["code"].as_str().unwrap_or_default().to_string());
    }
    for s in v["signers"].as_array().into_iter().flatten() {
        for f in s["findings"].as_array().into_iter().flatten() {
            codes.push(f["code"].as_str().unwrap_or_default().to_string());
        }
    }
    (r.code, codes, r)
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", r.stdout, r.stderr))
}

fn trust(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["trust", args[0], "--data", DATA];
    all.extend_from_slice(&args[1..]);
    cachet(dir, &all)
}

fn fingerprint_of(dir: &Path, pem: &str) -> String {
    let r = openssl(
        dir,
        &["x509", "-in", pem, "-noout", "-fingerprint", "-sha256"],
    );
    r.stdout
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .replace(':', "")
        .to_ascii_lowercase()
}

/// The partner's PKI: root, issuing CA, alice@partner.example and bob@other.example (both
/// under the issuing CA), and a CRL configuration for the issuing CA.
fn partner(dir: &Path) {
    require("openssl", "apt-get install openssl");
    write(dir, "ext.cnf", EXTENSIONS);
    write(dir, "ca.cnf", CA_CONFIG);
    write(dir, "index.txt", "");
    write(dir, "crlnumber", "01\n");
    root(dir, "root", "/O=Partner/CN=Partner Root CA");
    issued(
        dir,
        "int",
        "/O=Partner/CN=Partner Issuing CA",
        "root",
        "ca_ext",
        "0x1001",
    );
    issued(dir, "alice", "/CN=Alice", "int", "alice_ext", "0x2001");
    issued(dir, "bob", "/CN=Bob", "int", "bob_ext", "0x2002");
}

#[test]
fn a_partner_is_trusted_through_the_store_with_its_constraints_and_crls() {
    let tmp = scratch();
    let dir = tmp.path();
    init_ca(dir, "ecdsa-p256");
    partner(dir);
    sign(
        dir,
        "alice",
        "Alice <alice@partner.example>",
        Some("int.pem"),
        "alice-chain.eml",
    );
    sign(
        dir,
        "alice",
        "Alice <alice@partner.example>",
        None,
        "alice-bare.eml",
    );
    sign(
        dir,
        "bob",
        "Bob <bob@other.example>",
        Some("int.pem"),
        "bob.eml",
    );

    // Before anything is trusted: the partner's root is unknown.
    let (code, codes, _) = verify(dir, "alice-chain.eml", false);
    assert_eq!(code, 1);
    assert!(codes.contains(&"untrusted-root".to_string()), "{codes:?}");
    // With the store but nothing added, only the organisation's root is trusted: the
    // partner's root is what is missing.
    let (code, codes, _) = verify(dir, "alice-chain.eml", true);
    assert_eq!(code, 1, "{codes:?}");

    // A bad constraint is refused before anything is stored.
    let r = trust(
        dir,
        &["add", "root.pem", "--email-domain", "partner!example"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("partner!example"), "{}", r.stderr);

    // The root, constrained to @partner.example, and the issuing CA as an intermediate.
    let r = trust(
        dir,
        &[
            "add",
            "root.pem",
            "--email-domain",
            "Partner.Example",
            "--name",
            "partner root",
            "--json",
        ],
    )
    .ok();
    let added = json(&r);
    assert_eq!(added[0]["status"], "added");
    assert_eq!(added[0]["permitted_email"][0], "partner.example");
    let root_fp = fingerprint_of(dir, "root.pem");
    assert_eq!(added[0]["fingerprint"], root_fp.as_str());
    let r = trust(dir, &["add", "int.pem", "--intermediate"]).ok();
    assert!(r.stdout.contains("Added intermediate"), "{}", r.stdout);
    // Again: idempotent, and says so.
    let r = trust(dir, &["add", "int.pem", "--intermediate"]).ok();
    assert!(r.stdout.contains("Already trusted"), "{}", r.stdout);
    let r = trust(dir, &["add", "root.pem"]).ok();
    assert!(r.stdout.contains("nothing changed"), "{}", r.stdout);
    // A certificate in one role cannot be added in the other.
    let r = trust(dir, &["add", "int.pem"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("int.pem") && r.stderr.contains("already trusted as an intermediate"),
        "{}",
        r.stderr
    );
    // A signer certificate as an anchor works, with a warning that it is not a CA.
    let r = trust(dir, &["add", "alice.pem"]).ok();
    assert!(r.stderr.contains("not a CA"), "{}", r.stderr);
    trust(dir, &["remove", &fingerprint_of(dir, "alice.pem")]).ok();

    let list = json(&trust(dir, &["list", "--json"]).ok());
    let anchors = list["anchors"].as_array().unwrap();
    let partner_root = anchors
        .iter()
        .find(|a| a["fingerprint"] == root_fp.as_str())
        .expect("the partner root is listed");
    assert_eq!(partner_root["source"], "store");
    assert_eq!(partner_root["label"], "partner root");
    assert_eq!(
        partner_root["permitted_email"],
        serde_json::json!(["partner.example"])
    );
    assert!(
        anchors.iter().any(|a| a["source"] == "organisation"),
        "the organisation's root counts as an anchor: {list}"
    );
    let int_fp = fingerprint_of(dir, "int.pem");
    assert!(
        list["intermediates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["fingerprint"] == int_fp.as_str() && i["source"] == "store"),
        "{list}"
    );
    let table = trust(dir, &["list"]).ok().stdout;
    assert!(
        table.contains(&root_fp[..16]) && table.contains("partner.example"),
        "{table}"
    );

    // With the store: valid; the stored intermediate completes a chain the message lacks.
    let (code, codes, r) = verify(dir, "alice-chain.eml", true);
    assert_eq!(code, 0, "{codes:?} {}", r.stdout);
    let (code, codes, r) = verify(dir, "alice-bare.eml", true);
    assert_eq!(code, 0, "{codes:?} {}", r.stdout);
    // Without it, nothing changed.
    let (code, codes, _) = verify(dir, "alice-bare.eml", false);
    assert_eq!(code, 1, "{codes:?}");
    // Files still count beside the store.
    let r = cachet(
        dir,
        &[
            "smime",
            "verify",
            "--offline",
            "--trust",
            "root.pem",
            "--in",
            "alice-chain.eml",
        ],
    );
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);

    // The constrained anchor does not vouch for @other.example.
    let (code, codes, _) = verify(dir, "bob.eml", true);
    assert_eq!(code, 1);
    assert!(
        codes.contains(&"name-not-permitted".to_string()),
        "{codes:?}"
    );

    // The organisation's own certificates verify with --data and no `trust add`.
    let out = issue(dir, "carol@example.com", "signing", "ecdsa-p256", &[]);
    std::fs::copy(out.join("cert.pem"), dir.join("carol.pem")).unwrap();
    std::fs::copy(out.join("key.pem"), dir.join("carol.key")).unwrap();
    sign(dir, "carol", "Carol <carol@example.com>", None, "carol.eml");
    let (code, codes, r) = verify(dir, "carol.eml", true);
    assert_eq!(code, 0, "{codes:?} {}", r.stdout);
    let (code, _, _) = verify(dir, "carol.eml", false);
    assert_eq!(code, 1);

    // CRLs: the first, empty; then one revoking alice replaces it; the older one again
    // changes nothing.
    gencrl(dir, "int", "crl1.pem", &[]);
    let r = trust(dir, &["import-crl", "crl1.pem"]).ok();
    assert!(
        r.stdout.contains("Imported CRL") && r.stdout.contains("number 1"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("signature verified"), "{}", r.stdout);
    openssl(
        dir,
        &[
            "ca",
            "-config",
            "ca.cnf",
            "-revoke",
            "alice.pem",
            "-keyfile",
            "int.key",
            "-cert",
            "int.pem",
        ],
    );
    gencrl(dir, "int", "crl2.pem", &[]);
    // DER works too.
    openssl(
        dir,
        &[
            "crl", "-in", "crl2.pem", "-outform", "DER", "-out", "crl2.der",
        ],
    );
    let r = trust(dir, &["import-crl", "crl2.der", "--json"]).ok();
    let imported = json(&r);
    assert_eq!(imported[0]["status"], "replaced", "{imported}");
    assert_eq!(imported[0]["crl_number"], 2);
    assert_eq!(imported[0]["other_crl_number"], 1);
    let r = trust(dir, &["import-crl", "crl1.pem"]).ok();
    assert!(r.stdout.contains("Not imported"), "{}", r.stdout);
    let list = json(&trust(dir, &["list", "--json"]).ok());
    let partner_crls: Vec<&Value> = list["crls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source"] == "store")
        .collect();
    assert_eq!(partner_crls.len(), 1, "{list}");
    assert_eq!(partner_crls[0]["crl_number"], 2);
    assert_eq!(partner_crls[0]["expired"], false);

    let (code, codes, _) = verify(dir, "alice-chain.eml", true);
    assert_eq!(code, 1);
    assert!(codes.contains(&"revoked".to_string()), "{codes:?}");
    // Without the store, the revocation is unknown (and the root untrusted).
    let (_, codes, _) = verify(dir, "alice-chain.eml", false);
    assert!(!codes.contains(&"revoked".to_string()), "{codes:?}");

    // A CRL that claims the issuing CA's name but is signed with another key is refused.
    root(dir, "forger", "/O=Partner/CN=Partner Issuing CA");
    gencrl(dir, "forger", "forged.pem", &[]);
    let r = trust(dir, &["import-crl", "forged.pem"]);
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("forged.pem") && r.stderr.contains("does not verify"),
        "{}",
        r.stderr
    );
    // A CRL of an issuer nobody trusts is kept unverified, with a warning; an expired one
    // is flagged.
    root(dir, "stranger", "/O=Elsewhere/CN=Stranger CA");
    gencrl(
        dir,
        "stranger",
        "stale.pem",
        &[
            "-crl_lastupdate",
            "20200101000000Z",
            "-crl_nextupdate",
            "20200108000000Z",
        ],
    );
    let r = trust(dir, &["import-crl", "stale.pem"]).ok();
    assert!(
        r.stderr.contains("was not checked") && r.stderr.contains("expired"),
        "{}",
        r.stderr
    );
    let list = json(&trust(dir, &["list", "--json"]).ok());
    assert!(
        list["crls"].as_array().unwrap().iter().any(|c| c["issuer"]
            .as_str()
            .unwrap_or_default()
            .contains("Stranger")
            && c["expired"] == true),
        "{list}"
    );
    assert!(trust(dir, &["list"]).ok().stdout.contains("EXPIRED"));

    // Removal: "Partner" names the root and the issuing CA, so nothing is removed.
    let r = trust(dir, &["remove", "Partner"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("matches 2")
            && r.stderr.contains(&root_fp[..16])
            && r.stderr.contains(&int_fp[..16]),
        "{}",
        r.stderr
    );
    let r = trust(dir, &["remove", "no such thing"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no trusted certificate matches"),
        "{}",
        r.stderr
    );
    let r = trust(dir, &["remove", "Example Org Root"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("organisation's own CA"), "{}", r.stderr);
    // A fingerprint prefix, with colons as openssl prints them, picks one.
    let prefix = format!("{}:{}", &int_fp[..2], &int_fp[2..8]).to_uppercase();
    let r = trust(dir, &["remove", &prefix]).ok();
    assert!(r.stdout.contains("Removed intermediate"), "{}", r.stdout);
    let (code, _, _) = verify(dir, "alice-bare.eml", true);
    assert_eq!(
        code, 1,
        "without the stored intermediate the path is incomplete"
    );

    // Every change is in the audit log, and the chain is intact.
    let log = json(&cachet(dir, &["audit", "list", "--json"]).ok());
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default())
        .collect();
    let count = |a: &str| actions.iter().filter(|x| **x == a).count();
    // root, alice (then removed); the repeated adds recorded nothing.
    assert_eq!(count("trust-anchor-added"), 2, "{actions:?}");
    assert_eq!(count("trust-anchor-removed"), 1, "{actions:?}");
    assert_eq!(count("trust-intermediate-added"), 1, "{actions:?}");
    assert_eq!(count("trust-intermediate-removed"), 1, "{actions:?}");
    // crl1, crl2 (replacing it), the stranger's; not the refused or kept ones.
    assert_eq!(count("crl-imported"), 3, "{actions:?}");
    let root_added = log
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "trust-anchor-added")
        .unwrap();
    assert!(
        root_added["detail"]
            .as_str()
            .unwrap()
            .contains("permitted_email=partner.example"),
        "{root_added}"
    );
    cachet(dir, &["audit", "verify"]).ok();
}

#[test]
fn bad_input_is_refused_with_exit_2_naming_the_file() {
    require("openssl", "apt-get install openssl");
    let tmp = scratch();
    let dir = tmp.path();
    init_ca(dir, "ecdsa-p256");
    write(
        dir,
        "junk.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    write(dir, "junk.der", [0x30, 0x03, 0x02, 0x01, 0x01]);
    write(dir, "empty", "");
    for (args, file) in [
        (vec!["add", "junk.pem"], "junk.pem"),
        (vec!["add", "junk.der", "--intermediate"], "junk.der"),
        (vec!["add", "empty"], "empty"),
        (vec!["add", "missing.pem"], "missing.pem"),
        (vec!["import-crl", "junk.der"], "junk.der"),
        (vec!["import-crl", "empty"], "empty"),
    ] {
        let r = trust(dir, &args);
        assert_eq!(r.code, 2, "{args:?}: {} {}", r.stdout, r.stderr);
        assert!(r.stderr.contains(file), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    // A certificate file given as a CRL names the PEM label it lacks.
    root(dir, "r", "/CN=Some Root");
    let r = trust(dir, &["import-crl", "r.pem"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("r.pem") && r.stderr.contains("X509 CRL"),
        "{}",
        r.stderr
    );
    // --email-domain applies to anchors only.
    let r = trust(
        dir,
        &[
            "add",
            "r.pem",
            "--intermediate",
            "--email-domain",
            "a.example",
        ],
    );
    assert_eq!(r.code, 2);
    // A missing data directory for verification is an input error.
    let r = cachet(
        dir,
        &["smime", "verify", "--data", "nowhere", "--in", "r.pem"],
    );
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("nowhere"), "{}", r.stderr);
    // Nothing was stored, nothing recorded beyond init.
    let list = json(&trust(dir, &["list", "--json"]).ok());
    assert!(
        list["anchors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["source"] == "organisation")
    );
    let log = json(&cachet(dir, &["audit", "list", "--json"]).ok());
    assert!(
        log.as_array().unwrap().iter().all(|r| !r["action"]
            .as_str()
            .unwrap_or_default()
            .starts_with("trust-")),
        "{log}"
    );
}
