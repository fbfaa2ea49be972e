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
use std::time::Duration;

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
    let (mut server, http) = Server::start(
        dir,
        &[
            "--listen",
            "http=127.0.0.1:0",
            "--listen",
            "ldap=127.0.0.1:0",
        ],
    );
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
