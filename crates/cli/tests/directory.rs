//! The LDAP certificate directory (issue #7) as mail clients and administrators meet it:
//! `cachet serve --listen ldap=127.0.0.1:0` beside a data directory with accounts, queried
//! with OpenLDAP's `ldapsearch`/`ldapmodify` (Debian `ldap-utils`) and checked with
//! `openssl` — Alice found by mail and by a substring of her name, anonymously and bound;
//! `userCertificate;binary` and `userSMIMECertificate` holding the same certificates as the
//! HTTPS lookup; a revocation and a disabled account visible on the next search without a
//! restart; paged results; writes refused (insufficientAccessRights, exit 50) and audited;
//! hostile input closing only its own connection.
//!
//! Servers are killed by a guard if a test fails; every wait is bounded.

mod common;
use common::server::Server;
use common::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

const BASE: &str = "dc=example,dc=test";
const ALICE_DN: &str = "uid=alice,ou=people,dc=example,dc=test";
const PASSWORD: &str = "correct horse battery staple";

fn require_tools() {
    require("ldapsearch", "apt-get install ldap-utils");
    require("ldapmodify", "apt-get install ldap-utils");
    require("openssl", "apt-get install openssl");
    require("curl", "apt-get install curl");
}

/// A data directory with Alice (with an LDAP password) and the server running on it.
fn setup(dir: &Path) -> (Server, String, String) {
    setup_with(dir, &[])
}

/// [`setup`], with more arguments for `cachet serve`.
fn setup_with(dir: &Path, extra: &[&str]) -> (Server, String, String) {
    cachet(dir, &["init", "--domain", "example.test"]).ok();
    write(dir, "pw", format!("{PASSWORD}\n"));
    cachet(
        dir,
        &[
            "user",
            "add",
            "alice@example.test",
            "--name",
            "Alice Liddell",
            "--password-file",
            "pw",
            "--p12",
            "alice.p12",
        ],
    )
    .ok();
    let mut args = vec![
        "--listen",
        "http=127.0.0.1:0",
        "--listen",
        "ldap=127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let (mut server, http) = Server::start(dir, &args);
    let ldap = server.wait_for("cachet: ldap listening on ");
    (server, http, ldap)
}

/// `ldapsearch -x -LLL` against `ldap` with `args`; binary values land in files under
/// `dir/values` (`-t`), which the output names as `file://` URLs.
fn ldapsearch(dir: &Path, ldap: &str, args: &[&str]) -> Run {
    let values = dir.join("values");
    std::fs::create_dir_all(&values).unwrap();
    let url = format!("ldap://{ldap}");
    let tmp = values.display().to_string();
    let mut a = vec![
        "-x",
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-o",
        "nettimeout=30",
        "-l",
        "30",
        "-H",
        &url,
        "-t",
        "-T",
        &tmp,
    ];
    a.extend_from_slice(args);
    run_in(dir, "ldapsearch", &a)
}

/// The DNs in LDIF output.
fn dns(ldif: &str) -> Vec<String> {
    ldif.lines()
        .filter_map(|l| l.strip_prefix("dn: "))
        .map(str::to_string)
        .collect()
}

/// The files holding the values of attribute `attr` (as named in the output).
fn value_files(ldif: &str, attr: &str) -> Vec<String> {
    let prefix = format!("{attr}:< file://");
    ldif.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

/// PEM blocks (bodies only) in `text`.
fn pem_blocks(text: &str) -> BTreeSet<String> {
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .filter_map(|b| b.split("-----END CERTIFICATE-----").next())
        .map(|b| b.split_whitespace().collect::<String>())
        .collect()
}

/// Alice's certificates as the directory serves them: from `userCertificate;binary`
/// (each parsed by `openssl x509 -inform DER`) and from `userSMIMECertificate` (parsed by
/// `openssl pkcs7 -inform DER -print_certs`).
fn directory_certificates(dir: &Path, ldap: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let r = ldapsearch(
        dir,
        ldap,
        &[
            "-b",
            BASE,
            "(mail=alice@example.test)",
            "userCertificate;binary",
            "userSMIMECertificate",
        ],
    )
    .ok();
    let mut x509 = BTreeSet::new();
    for f in value_files(&r.stdout, "userCertificate;binary") {
        let pem = run_in(dir, "openssl", &["x509", "-inform", "DER", "-in", &f]).ok();
        x509.extend(pem_blocks(&pem.stdout));
    }
    let mut pkcs7 = BTreeSet::new();
    let files = value_files(&r.stdout, "userSMIMECertificate");
    assert!(files.len() <= 1, "one SignedData: {}", r.stdout);
    for f in files {
        let p = run_in(
            dir,
            "openssl",
            &["pkcs7", "-inform", "DER", "-in", &f, "-print_certs"],
        )
        .ok();
        pkcs7.extend(pem_blocks(&p.stdout));
    }
    (x509, pkcs7)
}

/// Alice's current certificates from the HTTPS lookup.
fn lookup_certificates(dir: &Path, http: &str) -> BTreeSet<String> {
    let url = format!("http://{http}/certs?email=alice@example.test");
    let r = run_in(dir, "curl", &["-sS", "--max-time", "30", &url]).ok();
    pem_blocks(&r.stdout)
}

#[test]
fn ldapsearch_finds_alice_with_the_same_certificates_in_both_attributes() {
    require_tools();
    let tmp = scratch();
    let dir = tmp.path();
    let (_server, http, ldap) = setup(dir);

    // Anonymous, by mail and by a substring of her name.
    let r = ldapsearch(
        dir,
        &ldap,
        &["-b", BASE, "(mail=alice@example.test)", "cn", "mail"],
    )
    .ok();
    assert_eq!(dns(&r.stdout), vec![ALICE_DN]);
    assert!(r.stdout.contains("cn: Alice Liddell"), "{}", r.stdout);
    let r = ldapsearch(dir, &ldap, &["-b", BASE, "(cn=*Lidd*)", "1.1"]).ok();
    assert_eq!(dns(&r.stdout), vec![ALICE_DN]);
    let r = ldapsearch(
        dir,
        &ldap,
        &["-b", BASE, "(|(cn=*lid*)(mail=*lid*)(sn=lid*))", "1.1"],
    )
    .ok();
    assert_eq!(dns(&r.stdout), vec![ALICE_DN]);
    let r = ldapsearch(dir, &ldap, &["-b", BASE, "(mail=nobody@example.test)"]).ok();
    assert!(dns(&r.stdout).is_empty());

    // Bound as Alice; a wrong password is invalidCredentials (49).
    let r = ldapsearch(
        dir,
        &ldap,
        &[
            "-D",
            ALICE_DN,
            "-w",
            PASSWORD,
            "-b",
            BASE,
            "(mail=alice@example.test)",
            "1.1",
        ],
    )
    .ok();
    assert_eq!(dns(&r.stdout), vec![ALICE_DN]);
    let r = ldapsearch(
        dir,
        &ldap,
        &["-D", ALICE_DN, "-w", "not her password", "-b", BASE],
    );
    assert_eq!(r.code, 49, "{} {}", r.stdout, r.stderr);

    // Both attributes hold her current certificates, the ones the HTTPS lookup serves.
    let (x509, pkcs7) = directory_certificates(dir, &ldap);
    let served = lookup_certificates(dir, &http);
    assert!(!served.is_empty());
    assert_eq!(x509, served);
    assert_eq!(pkcs7, served);

    // Revoking one certificate removes it from both attributes on the next search.
    let victim = dir.join("victim.pem");
    std::fs::write(
        &victim,
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            served.iter().next().unwrap()
        ),
    )
    .unwrap();
    let serial = serial_of(dir, &victim);
    cachet(
        dir,
        &["cert", "revoke", &serial, "--reason", "key-compromise"],
    )
    .ok();
    let (x509, pkcs7) = directory_certificates(dir, &ldap);
    assert_eq!(x509.len(), served.len() - 1, "{x509:?}");
    assert!(!x509.contains(served.iter().next().unwrap()));
    assert_eq!(x509, pkcs7);
    assert_eq!(x509, lookup_certificates(dir, &http));

    // Disabling her account removes her entry.
    cachet(dir, &["user", "disable", "alice@example.test"]).ok();
    let r = ldapsearch(
        dir,
        &ldap,
        &["-b", BASE, "(mail=alice@example.test)", "1.1"],
    )
    .ok();
    assert!(dns(&r.stdout).is_empty(), "{}", r.stdout);

    // The root DSE and the schema are readable.
    let r = ldapsearch(
        dir,
        &ldap,
        &[
            "-s",
            "base",
            "-b",
            "",
            "namingContexts",
            "supportedControl",
            "supportedLDAPVersion",
            "subschemaSubentry",
        ],
    )
    .ok();
    assert!(
        r.stdout.contains("namingContexts: dc=example,dc=test"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("supportedControl: 1.2.840.113556.1.4.319")
    );
    assert!(r.stdout.contains("supportedLDAPVersion: 3"));
    let r = ldapsearch(
        dir,
        &ldap,
        &[
            "-s",
            "base",
            "-b",
            "cn=Subschema",
            "(objectClass=subschema)",
            "attributeTypes",
        ],
    )
    .ok();
    assert!(r.stdout.contains("'userSMIMECertificate'"), "{}", r.stdout);
}

#[test]
fn paged_results_return_every_account_and_writes_are_refused() {
    require_tools();
    let tmp = scratch();
    let dir = tmp.path();
    cachet(dir, &["init", "--domain", "example.test"]).ok();
    let csv: String = (0..50)
        .map(|i| format!("user{i:02}@example.test,User {i:02}\n"))
        .collect();
    write(dir, "people.csv", csv);
    cachet(dir, &["user", "import", "people.csv"]).ok();
    let (_server, _http, ldap) = {
        let (mut s, h) = Server::start(
            dir,
            &[
                "--listen",
                "http=127.0.0.1:0",
                "--listen",
                "ldap=127.0.0.1:0",
            ],
        );
        let l = s.wait_for("cachet: ldap listening on ");
        (s, h, l)
    };

    let r = ldapsearch(
        dir,
        &ldap,
        &[
            "-E",
            "pr=10/noprompt",
            "-b",
            "ou=people,dc=example,dc=test",
            "-s",
            "one",
            "(objectClass=inetOrgPerson)",
            "mail",
        ],
    )
    .ok();
    let found: BTreeSet<String> = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("mail: "))
        .map(str::to_string)
        .collect();
    assert_eq!(found.len(), 50, "{}", r.stdout);
    assert!(
        r.stdout.matches("# pagedresults: cookie=").count() >= 5,
        "{}",
        r.stdout
    );

    // A critical control the server does not know: unavailableCriticalExtension (12).
    let r = ldapsearch(dir, &ldap, &["-E", "!sss=cn", "-b", BASE, "(cn=*)", "1.1"]);
    assert_eq!(r.code, 12, "{} {}", r.stdout, r.stderr);

    // Writes: insufficientAccessRights (50), audited.
    let url = format!("ldap://{ldap}");
    let changes = [
        "dn: uid=user01,ou=people,dc=example,dc=test\nchangetype: modify\nreplace: cn\ncn: Mallory\n",
        "dn: uid=mallory,ou=people,dc=example,dc=test\nchangetype: add\nobjectClass: inetOrgPerson\ncn: m\nsn: m\n",
        "dn: uid=user02,ou=people,dc=example,dc=test\nchangetype: delete\n",
        "dn: uid=user03,ou=people,dc=example,dc=test\nchangetype: modrdn\nnewrdn: uid=x\ndeleteoldrdn: 1\n",
    ];
    for (i, change) in changes.iter().enumerate() {
        let f = write(dir, &format!("change{i}.ldif"), change);
        let r = run_in(dir, "ldapmodify", &["-x", "-H", &url, "-f", &f]);
        assert_eq!(r.code, 50, "{change}: {} {}", r.stdout, r.stderr);
    }
    let r = ldapsearch(dir, &ldap, &["-b", BASE, "(uid=user01)", "cn"]).ok();
    assert!(r.stdout.contains("cn: User 01"), "{}", r.stdout);
    let log = cachet(dir, &["audit", "list"]).ok().stdout;
    assert_eq!(log.matches("directory-write-refused").count(), 4, "{log}");
    cachet(dir, &["audit", "verify"]).ok();
}

/// Reads until the server closes the connection (bounded); returns what it sent.
fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the server did not close the connection: {e} (got {got:?})"),
        }
    }
}

fn push_len(v: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        v.push(len as u8);
    } else {
        let b = (len as u32).to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        v.push(0x80 | (4 - skip) as u8);
        v.extend_from_slice(&b[skip..]);
    }
}

/// A search request whose filter is `depth` nested NOTs.
fn deep_search(depth: usize) -> Vec<u8> {
    let mut f = vec![0x87, 0x02, b'c', b'n'];
    for _ in 0..depth {
        let mut n = vec![0xa2];
        push_len(&mut n, f.len());
        n.extend_from_slice(&f);
        f = n;
    }
    let mut search = vec![
        0x04, 0x00, 0x0a, 0x01, 0x02, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01,
        0x01, 0x00,
    ];
    search.extend_from_slice(&f);
    search.extend_from_slice(&[0x30, 0x00]);
    let mut body = vec![0x02, 0x01, 0x01, 0x63];
    push_len(&mut body, search.len());
    body.extend_from_slice(&search);
    let mut msg = vec![0x30];
    push_len(&mut msg, body.len());
    msg.extend_from_slice(&body);
    msg
}

#[test]
fn hostile_input_closes_only_its_own_connection() {
    require_tools();
    let tmp = scratch();
    let dir = tmp.path();
    let (_server, _http, ldap) = setup(dir);

    // A client that stays connected throughout.
    let mut bystander = TcpStream::connect(&ldap).unwrap();

    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        (
            "indefinite length",
            vec![0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00],
        ),
        ("oversized", vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]),
        (
            "truncated inner element",
            vec![0x30, 0x05, 0x02, 0x01, 0x01, 0x63, 0x10],
        ),
        ("1,000-deep filter", deep_search(1000)),
    ];
    for (what, bytes) in hostile {
        let mut s = TcpStream::connect(&ldap).unwrap();
        s.write_all(&bytes).unwrap();
        let got = read_until_closed(&mut s);
        // A Notice of Disconnection (RFC 4511 §4.4.1) precedes the close.
        let notice = b"1.3.6.1.4.1.1466.20036";
        assert!(
            got.windows(notice.len()).any(|w| w == notice),
            "{what}: no notice of disconnection: {got:?}"
        );
        // Others are still served.
        let r = ldapsearch(
            dir,
            &ldap,
            &["-b", BASE, "(mail=alice@example.test)", "1.1"],
        )
        .ok();
        assert_eq!(dns(&r.stdout), vec![ALICE_DN], "after {what}");
    }

    // The bystander's connection still works: an anonymous bind answered with success.
    bystander
        .write_all(&[
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ])
        .unwrap();
    bystander
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = bystander.read(&mut buf).unwrap();
    // BindResponse ([APPLICATION 1]) with resultCode success (ENUMERATED 0).
    assert!(
        n > 7 && buf[..n].windows(3).any(|w| w == [0x0a, 0x01, 0x00]),
        "{:?}",
        &buf[..n]
    );
    assert!(buf[..n].contains(&0x61), "{:?}", &buf[..n]);
}

#[test]
fn with_anonymous_read_off_only_bound_accounts_search() {
    require_tools();
    let tmp = scratch();
    let dir = tmp.path();
    write(
        dir,
        "closed.toml",
        "[directory]\nanonymous_read = false\nsize_limit = 100\n",
    );
    let (_server, _http, ldap) = setup_with(dir, &["--config", "closed.toml"]);

    // Anonymous: insufficientAccessRights (50), with or without an explicit anonymous bind.
    let r = ldapsearch(
        dir,
        &ldap,
        &["-b", BASE, "(mail=alice@example.test)", "1.1"],
    );
    assert_eq!(r.code, 50, "{} {}", r.stdout, r.stderr);
    assert!(dns(&r.stdout).is_empty(), "{}", r.stdout);
    let r = ldapsearch(
        dir,
        &ldap,
        &["-D", "", "-w", "", "-b", BASE, "(cn=*)", "1.1"],
    );
    assert_eq!(r.code, 50, "{} {}", r.stdout, r.stderr);

    // The root DSE stays readable, so clients can still discover the naming context.
    let r = ldapsearch(dir, &ldap, &["-s", "base", "-b", "", "namingContexts"]).ok();
    assert!(
        r.stdout.contains("namingContexts: dc=example,dc=test"),
        "{}",
        r.stdout
    );

    // A search for Alice bound as `name` with `password`, asking for `attributes`.
    let bound_search = |name: &str, password: &str, attributes: &[&str]| {
        let mut args = vec![
            "-D",
            name,
            "-w",
            password,
            "-b",
            BASE,
            "(mail=alice@example.test)",
        ];
        args.extend_from_slice(attributes);
        ldapsearch(dir, &ldap, &args)
    };

    // Bound as Alice, by DN or by mailbox: found, with her certificates.
    for name in [ALICE_DN, "alice@example.test"] {
        let r = bound_search(name, PASSWORD, &["mail", "userCertificate;binary"]).ok();
        assert_eq!(dns(&r.stdout), vec![ALICE_DN], "{name}");
        assert!(
            !value_files(&r.stdout, "userCertificate;binary").is_empty(),
            "{}",
            r.stdout
        );
    }

    // An administrator binds with an admin (or auditor) API token and its name; a token of
    // another role, or under another name, does not bind.
    let token = |name: &str, role: &str| -> String {
        let r = cachet(
            dir,
            &["token", "create", "--name", name, "--role", role, "--json"],
        )
        .ok();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v["token"].as_str().unwrap().to_string()
    };
    let admin = token("ops", "admin");
    let officer = token("officer", "recovery-officer");
    let admin_dn = format!("cn=ops,ou=admins,{BASE}");
    for name in [admin_dn.as_str(), "ops"] {
        let r = bound_search(name, &admin, &["1.1"]).ok();
        assert_eq!(dns(&r.stdout), vec![ALICE_DN], "{name}");
    }
    for (name, password) in [
        ("cn=someone,ou=admins,dc=example,dc=test", admin.as_str()),
        ("officer", officer.as_str()),
    ] {
        let r = ldapsearch(
            dir,
            &ldap,
            &["-D", name, "-w", password, "-b", BASE, "(cn=*)", "1.1"],
        );
        assert_eq!(r.code, 49, "{name}: {}", r.stderr);
    }
}

/// The one `fpr:` (SHA-1 fingerprint) of gpgsm's `--with-colons` record that follows the
/// `crt:` line holding `serial`.
fn gpgsm_fingerprint(colons: &str, serial: &str) -> Option<String> {
    let mut in_cert = false;
    for line in colons.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.first() {
            Some(&"crt") => {
                in_cert = fields
                    .get(7)
                    .is_some_and(|s| s.eq_ignore_ascii_case(serial))
            }
            Some(&"fpr") if in_cert => return fields.get(9).map(|f| f.to_string()),
            _ => {}
        }
    }
    None
}

#[test]
fn gpgsm_finds_alice_through_dirmngr_and_encrypts_to_her() {
    use common::gpgsm::Gpgsm;
    require_tools();
    require("gpgsm", "apt-get install gpgsm");
    require("dirmngr", "apt-get install dirmngr");
    require("gpg-agent", "apt-get install gpg-agent");
    require("gpgconf", "apt-get install gpgconf");
    let tmp = scratch();
    let dir = tmp.path();
    cachet(dir, &["init", "--domain", "example.test"]).ok();
    // gpgsm 2.2 does not encrypt to EC key-agreement certificates (pinned in
    // smime_gpgsm_interop.rs): Alice's encryption key is RSA.
    let toml = dir.join("cachet-data/cachet.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text.replacen(
        "# encryption_key_type = \"ecdsa-p256\"",
        "encryption_key_type = \"rsa-2048\"",
        1,
    );
    assert!(
        text.contains("\nencryption_key_type = \"rsa-2048\""),
        "{text}"
    );
    std::fs::write(&toml, text).unwrap();
    let added = cachet(
        dir,
        &[
            "user",
            "add",
            "alice@example.test",
            "--name",
            "Alice Liddell",
            "--p12",
            "alice.p12",
            "--json",
        ],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&added.stdout).unwrap();
    let p12_password = v["pkcs12_password"].as_str().unwrap().to_string();
    write(dir, "p12.pw", format!("{p12_password}\n"));
    let (_issuing, _root) = write_chain(dir);
    let (mut server, _http) = Server::start(
        dir,
        &[
            "--listen",
            "http=127.0.0.1:0",
            "--listen",
            "ldap=127.0.0.1:0",
        ],
    );
    let ldap = server.wait_for("cachet: ldap listening on ");
    let (host, port) = ldap.rsplit_once(':').unwrap();

    // The encryption certificate's serial, as the directory serves it.
    let mut serials = Vec::new();
    let r = ldapsearch(
        dir,
        &ldap,
        &[
            "-b",
            BASE,
            "(mail=alice@example.test)",
            "userCertificate;binary",
        ],
    )
    .ok();
    for f in value_files(&r.stdout, "userCertificate;binary") {
        let t = run_in(
            dir,
            "openssl",
            &[
                "x509", "-inform", "DER", "-in", &f, "-noout", "-serial", "-text",
            ],
        )
        .ok();
        let serial = t
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("serial="))
            .unwrap()
            .to_string();
        serials.push((serial, t.stdout.contains("rsaEncryption")));
    }
    let rsa_serial = serials
        .iter()
        .find(|(_, rsa)| *rsa)
        .map(|(s, _)| s.clone())
        .unwrap_or_else(|| panic!("no RSA certificate for Alice: {serials:?}"));

    // gpgsm asks dirmngr, which asks the directory (an `ldapserver` line: host, port, no
    // bind name or password, the naming context, no TLS).
    let g = Gpgsm::new(dir);
    let home = dir.join("gnupg");
    std::fs::write(home.join("gpgsm.conf"), "disable-crl-checks\n").unwrap();
    std::fs::write(
        home.join("dirmngr.conf"),
        format!("ldapserver ldap:{host}:{port}:::{BASE}:plain\nldaptimeout 30\n"),
    )
    .unwrap();
    let r = g.run(
        &[
            "--with-colons",
            "--list-external-keys",
            "alice@example.test",
        ],
        "",
    );
    assert_eq!(
        r.code, 0,
        "gpgsm --list-external-keys: {} {}",
        r.stdout, r.stderr
    );
    let fpr = gpgsm_fingerprint(&r.stdout, &rsa_serial).unwrap_or_else(|| {
        panic!(
            "dirmngr did not find Alice's encryption certificate {rsa_serial}: {}\n{}",
            r.stdout, r.stderr
        )
    });
    assert!(r.stdout.contains("<alice@example.test>"), "{}", r.stdout);

    // Import what was found, trust the Cachet root, encrypt to Alice.
    g.trust_root();
    let r = g.run(&["--import", "issuing.pem"], "");
    assert_eq!(r.code, 0, "gpgsm --import issuing.pem: {}", r.stderr);
    let r = g.run(&["--with-ephemeral-keys", "--export", &fpr], "");
    assert_eq!(r.code, 0, "gpgsm --export: {}", r.stderr);
    std::fs::write(dir.join("alice-found.der"), &r.raw_stdout).unwrap();
    let r = g.run(&["--import", "alice-found.der"], "");
    assert_eq!(r.code, 0, "gpgsm --import: {}", r.stderr);
    write(dir, "letter.txt", "Dear Alice, the 100 EUR are yours.\n");
    let r = g.run(
        &[
            "-r",
            "alice@example.test",
            "-o",
            "letter.p7m",
            "--encrypt",
            "letter.txt",
        ],
        "",
    );
    assert_eq!(r.code, 0, "gpgsm --encrypt: {} {}", r.stdout, r.stderr);

    // Alice reads it with the PKCS#12 `cachet user add` gave her.
    let r = cachet(
        dir,
        &[
            "smime",
            "decrypt",
            "--format",
            "der",
            "--p12",
            "alice.p12",
            "--password-file",
            "p12.pw",
            "--in",
            "letter.p7m",
        ],
    )
    .ok();
    assert_eq!(r.stdout, "Dear Alice, the 100 EUR are yours.\n");
}

/// A Python with the `ldap3` package: the one in `target/pytools` that scripts/test.sh
/// makes (beside pkilint), else `python3` on the PATH; fails the test, saying how to
/// install it, when neither has `ldap3`.
fn python_with_ldap3() -> String {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pytools/bin/python3");
    let mut candidates = vec!["python3".to_string()];
    if venv.is_file() {
        candidates.insert(0, venv.display().to_string());
    }
    for python in &candidates {
        let ok = std::process::Command::new(python)
            .args(["-c", "import ldap3"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return python.clone();
        }
    }
    panic!(
        "the Python package ldap3 is required by this test and is not installed: run `python3 -m venv target/pytools && target/pytools/bin/pip install ldap3==2.9.1` in the workspace (or scripts/test.sh, which installs it)"
    );
}

/// Pages through every person with ldap3's `paged_search` (500 a page, RFC 2696); prints
/// the number of entries, of distinct DNs and of distinct mailboxes.
const LDAP3_PAGED: &str = r#"
import sys, ldap3
host, port, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
server = ldap3.Server(host, port=port, get_info=ldap3.NONE, connect_timeout=30)
conn = ldap3.Connection(server, auto_bind=True, receive_timeout=120, raise_exceptions=True)
entries, dns, mails = 0, set(), set()
for e in conn.extend.standard.paged_search(base, "(objectClass=inetOrgPerson)",
        search_scope=ldap3.SUBTREE, attributes=["mail"], paged_size=500, generator=True):
    if e["type"] != "searchResEntry":
        continue
    entries += 1
    dns.add(e["dn"].lower())
    for m in e["attributes"].get("mail", []):
        mails.add(m.lower())
conn.unbind()
print(entries, len(dns), len(mails))
"#;

#[test]
fn python_ldap3_pages_through_ten_thousand_accounts() {
    require_tools();
    let python = python_with_ldap3();
    let tmp = scratch();
    let dir = tmp.path();
    cachet(dir, &["init", "--domain", "example.test"]).ok();
    let n = 10_000;
    let csv: String = (0..n)
        .map(|i| format!("user{i:05}@example.test,User {i:05}\n"))
        .collect();
    write(dir, "people.csv", csv);
    cachet(dir, &["user", "import", "people.csv"]).ok();
    let (mut server, _http) = Server::start(
        dir,
        &[
            "--listen",
            "http=127.0.0.1:0",
            "--listen",
            "ldap=127.0.0.1:0",
        ],
    );
    let ldap = server.wait_for("cachet: ldap listening on ");
    let (host, port) = ldap.rsplit_once(':').unwrap();
    // Without paging the server's size limit (1,000) stops a search long before 10,000.
    let r = ldapsearch(
        dir,
        &ldap,
        &["-b", BASE, "(objectClass=inetOrgPerson)", "1.1"],
    );
    assert_eq!(r.code, 4, "sizeLimitExceeded expected: {}", r.stderr);
    let script = write(dir, "paged.py", LDAP3_PAGED);
    let r = run_in(dir, &python, &[&script, host, port, BASE]).ok();
    assert_eq!(r.stdout.trim(), format!("{n} {n} {n}"), "{}", r.stderr);
}

/// An ExtendedRequest for StartTLS with message ID `id` (RFC 4511 §4.14.1).
fn starttls_request(id: u8) -> Vec<u8> {
    let oid = b"1.3.6.1.4.1.1466.20037";
    let mut ext = vec![0x77, (oid.len() + 2) as u8, 0x80, oid.len() as u8];
    ext.extend_from_slice(oid);
    let mut msg = vec![0x30, (ext.len() + 3) as u8, 0x02, 0x01, id];
    msg.extend_from_slice(&ext);
    msg
}

#[test]
fn starttls_and_ldaps_serve_the_https_certificate() {
    require_tools();
    let tmp = scratch();
    let dir = tmp.path();
    let (mut server, _http, ldap) = setup_with(dir, &["--listen", "ldaps=127.0.0.1:0"]);
    let ldaps = server.wait_for("cachet: ldaps listening on ");
    let ca = dir.join("cachet-data/tls/server.pem");
    assert!(ca.is_file(), "no {}", ca.display());
    let ca = ca.display().to_string();
    let tls_search = |url: &str, extra: &[&str], ca: &str| {
        let mut a = vec![
            "-x",
            "-LLL",
            "-o",
            "nettimeout=30",
            "-H",
            url,
            "-b",
            BASE,
            "(mail=alice@example.test)",
            "mail",
        ];
        a.extend_from_slice(extra);
        let o = std::process::Command::new("ldapsearch")
            .args(&a)
            .current_dir(dir)
            .env("LDAPTLS_CACERT", ca)
            .env("LDAPTLS_REQCERT", "demand")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };

    // The root DSE advertises StartTLS.
    let r = ldapsearch(dir, &ldap, &["-s", "base", "-b", "", "supportedExtension"]).ok();
    assert!(
        r.stdout
            .contains("supportedExtension: 1.3.6.1.4.1.1466.20037"),
        "{}",
        r.stdout
    );

    // StartTLS required (-ZZ), the certificate checked against DATA/tls/server.pem; and a
    // bind over it.
    let url = format!("ldap://{ldap}");
    let (code, out, err) = tls_search(&url, &["-ZZ"], &ca);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("mail: alice@example.test"), "{out}");
    let (code, out, err) = tls_search(&url, &["-ZZ", "-D", ALICE_DN, "-w", PASSWORD], &ca);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("mail: alice@example.test"), "{out}");

    // LDAPS.
    let (code, out, err) = tls_search(&format!("ldaps://{ldaps}"), &[], &ca);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("mail: alice@example.test"), "{out}");

    // With another trust anchor (the S/MIME CAs) the certificate is refused: -ZZ fails.
    let chain = cachet(dir, &["ca", "chain"]).ok().stdout;
    let other = write(dir, "smime-chain.pem", chain);
    let (code, out, _) = tls_search(&url, &["-ZZ"], &other);
    assert_ne!(code, 0, "{out}");

    // A request pipelined behind StartTLS breaks its sequencing (RFC 4511 §4.14.1):
    // operationsError, and the connection goes on in the clear.
    let mut s = TcpStream::connect(&ldap).unwrap();
    let mut bytes = starttls_request(1);
    bytes.extend_from_slice(&[
        0x30, 0x0c, 0x02, 0x01, 0x02, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ]);
    s.write_all(&bytes).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.windows(2).any(|w| w == [0x61, 0x07]) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    // ExtendedResponse ([APPLICATION 24]) with operationsError (1), then the bind's
    // success.
    let ext = got
        .iter()
        .position(|b| *b == 0x78)
        .expect("an ExtendedResponse");
    assert_eq!(&got[ext + 2..ext + 5], &[0x0a, 0x01, 0x01], "{got:?}");
    assert!(got.windows(3).any(|w| w == [0x0a, 0x01, 0x00]), "{got:?}");
}

#[test]
fn a_flood_of_connections_is_turned_away_while_clients_are_served() {
    require_tools();
    let tmp = scratch();
    let dir = tmp.path();
    cachet(dir, &["init", "--domain", "example.test"]).ok();
    cachet(
        dir,
        &[
            "user",
            "add",
            "alice@example.test",
            "--name",
            "Alice Liddell",
            "--p12",
            "a.p12",
        ],
    )
    .ok();
    // A small connection limit, so the flood exceeds it many times over.
    write(
        dir,
        "cachet-data/cachet.toml",
        "[directory]\nmax_connections = 16\n",
    );
    let (mut server, _http) = Server::start(
        dir,
        &[
            "--listen",
            "http=127.0.0.1:0",
            "--listen",
            "ldap=127.0.0.1:0",
        ],
    );
    let ldap = server.wait_for("cachet: ldap listening on ");
    let anonymous_bind = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ];
    let bound = |s: &mut TcpStream| {
        s.write_all(&anonymous_bind).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        n > 7 && buf[..n].contains(&0x61) && buf[..n].windows(3).any(|w| w == [0x0a, 0x01, 0x00])
    };
    // A client connected before the flood.
    let mut client = TcpStream::connect(&ldap).unwrap();
    assert!(bound(&mut client));

    // 300 connections that never speak.
    let mut flood = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = TcpStream::connect(&ldap) {
            flood.push(s);
        }
    }
    // Those beyond the limit are told the server is busy and closed, promptly.
    let mut closed = 0;
    for s in &mut flood {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 256];
        // Data (a Notice of Disconnection) or end of stream: turned away. A timeout: it
        // holds one of the slots.
        if s.read(&mut buf).is_ok() {
            closed += 1;
        }
    }
    assert!(
        closed >= 300 - 16,
        "only {closed} of 300 flood connections were turned away"
    );
    // The client connected before keeps being served.
    assert!(
        bound(&mut client),
        "the existing client was not served during the flood"
    );

    // When the flood leaves, new clients are served again (bounded wait).
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = ldapsearch(
            dir,
            &ldap,
            &["-b", BASE, "(mail=alice@example.test)", "1.1"],
        );
        if r.code == 0 && dns(&r.stdout) == vec![ALICE_DN] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not served after the flood: {}",
            r.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
