//! The directory information tree (RFC 4512 §2), held in memory and kept current by the
//! server (see `live`):
//!
//! ```text
//! dc=example,dc=test                      domain
//! ├── ou=people                           organizationalUnit
//! │   └── uid=alice                       inetOrgPerson: cn, sn, givenName, displayName, mail,
//! │                                       userCertificate;binary, userSMIMECertificate
//! └── ou=pki                              organizationalUnit
//!     └── cn=issuing, cn=root             applicationProcess + pkiCA: cACertificate;binary,
//!                                         certificateRevocationList;binary
//! ```
//!
//! plus the root DSE (RFC 4512 §5.1) and the subschema subentry `cn=Subschema` (§4.2).
//! A person's `uid` is the local part of the mailbox when its domain is the organisation's,
//! else the whole address (so two domains never collide). Certificates are kept with their
//! validity and filtered at the moment of each search, so expiry needs no reload;
//! `userSMIMECertificate` is built from exactly the certificates `userCertificate` holds
//! (issue #7: the two attributes never differ).

use crate::dn;
use crate::schema::{self, AttrType, Matching};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One value of a string attribute, with its folded form for matching.
#[derive(Debug, Clone)]
pub struct Value {
    /// As stored and returned.
    pub raw: String,
    /// Folded by the attribute's matching rule.
    pub folded: String,
}

/// A string attribute of an entry.
#[derive(Debug, Clone)]
pub struct Attr {
    /// Its type.
    pub ty: &'static AttrType,
    /// Its values.
    pub values: Vec<Value>,
}

/// A certificate published for a person, with its validity (seconds since the epoch).
#[derive(Debug, Clone)]
pub struct PublishedCert {
    /// DER.
    pub der: Arc<Vec<u8>>,
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
}

impl PublishedCert {
    /// Valid at `now` (RFC 5280 §4.1.2.5: both ends inclusive).
    pub fn valid_at(&self, now: u64) -> bool {
        let now = now as i64;
        self.not_before <= now && now <= self.not_after
    }
}

/// What an entry is, beyond its string attributes.
#[derive(Debug, Clone)]
pub enum Kind {
    /// The suffix, the two organisational units.
    Container,
    /// A person with certificates.
    Person {
        /// Their mailbox (normalised).
        email: String,
        /// Publishable certificates, newest first.
        certs: Vec<PublishedCert>,
    },
    /// A CA: its certificate, and its CRL looked up by slug at search time.
    Ca {
        /// The CA's slug (`issuing`, `root`).
        slug: String,
        /// DER certificate.
        cert: Arc<Vec<u8>>,
    },
    /// The root DSE or the subschema subentry: only reachable by a base search.
    Special,
}

/// An entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The DN as returned.
    pub dn: String,
    /// The normalised DN (the key).
    pub ndn: String,
    /// String attributes, user and operational.
    pub attrs: Vec<Attr>,
    /// What else it is.
    pub kind: Kind,
}

impl Entry {
    /// The string attribute of type `ty`, if the entry has it.
    pub fn attr(&self, ty: &AttrType) -> Option<&Attr> {
        self.attrs.iter().find(|a| std::ptr::eq(a.ty, ty))
    }

    /// The certificates valid at `now` (people only).
    pub fn current_certs(&self, now: u64) -> Vec<&PublishedCert> {
        match &self.kind {
            Kind::Person { certs, .. } => certs.iter().filter(|c| c.valid_at(now)).collect(),
            _ => Vec::new(),
        }
    }
}

/// Builds an entry's attribute list.
struct Builder {
    attrs: Vec<Attr>,
}

impl Builder {
    fn new() -> Self {
        Builder { attrs: Vec::new() }
    }

    fn add<S: AsRef<str>>(mut self, name: &str, values: &[S]) -> Self {
        let Some(ty) = schema::attr_type(name) else {
            return self;
        };
        let values: Vec<Value> = values
            .iter()
            .map(|v| Value {
                raw: v.as_ref().to_string(),
                folded: dn::fold(v.as_ref(), ty.matching),
            })
            .collect();
        if !values.is_empty() {
            self.attrs.push(Attr { ty, values });
        }
        self
    }

    fn entry(self, dn: String, ndn: String, kind: Kind, leaf: bool) -> Entry {
        let structural = self
            .attrs
            .iter()
            .find(|a| a.ty.name == "objectClass")
            .and_then(|a| a.values.last())
            .map(|v| v.raw.clone());
        let mut b = self
            .add("subschemaSubentry", &[SUBSCHEMA_DN])
            .add("entryDN", &[dn.as_str()])
            .add("hasSubordinates", &[if leaf { "FALSE" } else { "TRUE" }]);
        if let Some(s) = structural {
            b = b.add("structuralObjectClass", &[s]);
        }
        Entry {
            dn,
            ndn,
            attrs: b.attrs,
            kind,
        }
    }
}

/// The DN of the subschema subentry.
pub const SUBSCHEMA_DN: &str = "cn=Subschema";

/// The OID of the simple paged results control (RFC 2696).
pub const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";
/// ManageDsaIT (RFC 3296): honoured trivially, the directory holds no referrals.
pub const MANAGE_DSA_IT_OID: &str = "2.16.840.1.113730.3.4.2";
/// The "Who am I?" extended operation (RFC 4532).
pub const WHOAMI_OID: &str = "1.3.6.1.4.1.4203.1.11.3";
/// StartTLS (RFC 4511 §4.14): advertised and served when TLS is configured, answered
/// `unavailable` otherwise.
pub const STARTTLS_OID: &str = "1.3.6.1.4.1.1466.20037";

/// A person as the tree takes it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonData {
    /// Mailbox (normalised).
    pub email: String,
    /// Display name, if any.
    pub name: Option<String>,
    /// (DER, notBefore, notAfter), newest first.
    pub certs: Vec<(Vec<u8>, i64, i64)>,
}

/// A CA as the tree takes it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaData {
    /// Slug.
    pub slug: String,
    /// DER certificate.
    pub cert: Vec<u8>,
}

/// The tree: every entry by normalised DN, with indexes for the equality searches address
/// books send (`mail`, `uid`), and the CRL of each CA.
#[derive(Debug)]
pub struct Tree {
    domain: String,
    /// The normalised suffix (`dc=example,dc=test`).
    pub suffix: String,
    people_ndn: String,
    pki_ndn: String,
    /// Every entry but the root DSE and the subschema subentry.
    pub entries: BTreeMap<String, Arc<Entry>>,
    /// Folded mail → normalised DN.
    pub by_mail: HashMap<String, String>,
    /// Folded uid → normalised DN.
    pub by_uid: HashMap<String, String>,
    /// Normalised mailbox → normalised DN.
    by_email: HashMap<String, String>,
    /// CRL by CA slug.
    pub crls: HashMap<String, Arc<Vec<u8>>>,
    /// The root DSE.
    pub root_dse: Arc<Entry>,
    /// The subschema subentry.
    pub subschema: Arc<Entry>,
}

/// Splits a display name into given name and surname (the last word), for `sn` (which
/// `person` requires) and `givenName`.
fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.trim().rsplit_once(' ') {
        Some((given, sn)) if !given.trim().is_empty() => (Some(given.trim()), sn),
        _ => (None, name.trim()),
    }
}

impl Tree {
    /// An empty tree for `domain` (e.g. `example.test` → `dc=example,dc=test`) with `cas`.
    pub fn new(domain: &str, organization: Option<&str>, cas: &[CaData]) -> Tree {
        let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
        let suffix_dn = labels
            .iter()
            .map(|l| format!("dc={}", dn::escape_value(l)))
            .collect::<Vec<_>>()
            .join(",");
        let suffix = dn::normalize(&suffix_dn).unwrap_or_default();
        let mut entries = BTreeMap::new();
        let top = Builder::new()
            .add("objectClass", &["top", "domain"])
            .add("dc", &[labels.first().copied().unwrap_or_default()])
            .add("o", &[organization.unwrap_or(domain)]);
        entries.insert(
            suffix.clone(),
            Arc::new(top.entry(suffix_dn.clone(), suffix.clone(), Kind::Container, false)),
        );
        let mut ou = |name: &str, description: &str| {
            let ndn = dn::child("ou", name, &suffix);
            let e = Builder::new()
                .add("objectClass", &["top", "organizationalUnit"])
                .add("ou", &[name])
                .add("description", &[description])
                .entry(
                    format!("ou={name},{suffix_dn}"),
                    ndn.clone(),
                    Kind::Container,
                    false,
                );
            entries.insert(ndn.clone(), Arc::new(e));
            ndn
        };
        let people_ndn = ou("people", "Every account's current S/MIME certificates");
        let pki_ndn = ou("pki", "The certification authorities and their CRLs");
        for ca in cas {
            let ndn = dn::child("cn", &ca.slug, &pki_ndn);
            let e = Builder::new()
                .add("objectClass", &["top", "pkiCA", "applicationProcess"])
                .add("cn", &[ca.slug.as_str()])
                .entry(
                    format!("cn={},ou=pki,{suffix_dn}", dn::escape_value(&ca.slug)),
                    ndn.clone(),
                    Kind::Ca {
                        slug: ca.slug.clone(),
                        cert: Arc::new(ca.cert.clone()),
                    },
                    true,
                );
            entries.insert(ndn, Arc::new(e));
        }
        let root_dse = Builder::new()
            .add("objectClass", &["top", "extensibleObject"])
            .add("namingContexts", &[suffix_dn.as_str()])
            .add("supportedLDAPVersion", &["3"])
            .add("supportedControl", &[PAGED_RESULTS_OID, MANAGE_DSA_IT_OID])
            .add("supportedExtension", &[WHOAMI_OID])
            // All operational attributes with '+' (RFC 3673).
            .add("supportedFeatures", &["1.3.6.1.4.1.4203.1.5.1"])
            .add("vendorName", &["Cachet"])
            .add("vendorVersion", &[env!("CARGO_PKG_VERSION")])
            .add("subschemaSubentry", &[SUBSCHEMA_DN]);
        let root_dse = Arc::new(Entry {
            dn: String::new(),
            ndn: String::new(),
            attrs: root_dse.attrs,
            kind: Kind::Special,
        });
        let oc: Vec<&str> = schema::OBJECT_CLASSES.iter().map(|(_, d)| *d).collect();
        let subschema = Builder::new()
            .add(
                "objectClass",
                &["top", "subentry", "subschema", "extensibleObject"],
            )
            .add("cn", &["Subschema"])
            .add("attributeTypes", &schema::attribute_type_descriptions())
            .add("objectClasses", &oc)
            .add("ldapSyntaxes", &schema::syntax_descriptions())
            .add("matchingRules", &schema::matching_rule_descriptions())
            .add("entryDN", &[SUBSCHEMA_DN])
            .add("hasSubordinates", &["FALSE"])
            .add("structuralObjectClass", &["subentry"]);
        let subschema = Arc::new(Entry {
            dn: SUBSCHEMA_DN.into(),
            ndn: dn::normalize(SUBSCHEMA_DN).unwrap_or_default(),
            attrs: subschema.attrs,
            kind: Kind::Special,
        });
        Tree {
            domain: domain.to_ascii_lowercase(),
            suffix,
            people_ndn,
            pki_ndn,
            entries,
            by_mail: HashMap::new(),
            by_uid: HashMap::new(),
            by_email: HashMap::new(),
            crls: HashMap::new(),
            root_dse,
            subschema,
        }
    }

    /// Lists `oid` in the root DSE's `supportedExtension` (RFC 4512 §5.1.6), as clients
    /// look there before they send an extended operation such as StartTLS.
    pub fn advertise_extension(&mut self, oid: &str) {
        let Some(ty) = schema::attr_type("supportedExtension") else {
            return;
        };
        let dse = Arc::make_mut(&mut self.root_dse);
        let value = Value {
            raw: oid.to_string(),
            folded: dn::fold(oid, ty.matching),
        };
        match dse.attrs.iter_mut().find(|a| std::ptr::eq(a.ty, ty)) {
            Some(a) if a.values.iter().any(|v| v.raw == oid) => {}
            Some(a) => a.values.push(value),
            None => dse.attrs.push(Attr {
                ty,
                values: vec![value],
            }),
        }
    }

    /// The suffix as returned.
    pub fn suffix_dn(&self) -> &str {
        self.entries
            .get(&self.suffix)
            .map(|e| e.dn.as_str())
            .unwrap_or_default()
    }

    /// The normalised DN of `ou=pki`.
    pub fn pki_ndn(&self) -> &str {
        &self.pki_ndn
    }

    /// The number of people.
    pub fn people(&self) -> usize {
        self.by_email.len()
    }

    /// The mailbox of the person at normalised `ndn`, if it is one.
    pub fn person_email(&self, ndn: &str) -> Option<&str> {
        match &self.entries.get(ndn)?.kind {
            Kind::Person { email, .. } => Some(email),
            _ => None,
        }
    }

    /// Removes the person with mailbox `email` (normalised), if present.
    pub fn remove_person(&mut self, email: &str) {
        let Some(ndn) = self.by_email.remove(email) else {
            return;
        };
        if let Some(e) = self.entries.remove(&ndn) {
            for (attr, index) in [("mail", &mut self.by_mail), ("uid", &mut self.by_uid)] {
                if let Some(a) = schema::attr_type(attr).and_then(|t| e.attr(t)) {
                    for v in &a.values {
                        if index.get(&v.folded) == Some(&ndn) {
                            index.remove(&v.folded);
                        }
                    }
                }
            }
        }
    }

    /// Adds or replaces a person.
    pub fn put_person(&mut self, p: &PersonData) {
        self.remove_person(&p.email);
        let (local, domain) = p.email.rsplit_once('@').unwrap_or((p.email.as_str(), ""));
        let mut uid = if domain.eq_ignore_ascii_case(&self.domain) {
            local.to_string()
        } else {
            p.email.clone()
        };
        let mut ndn = dn::child("uid", &uid, &self.people_ndn);
        if self.entries.contains_key(&ndn) {
            // Another mailbox whose local part differs only in case: use the address.
            uid = p.email.clone();
            ndn = dn::child("uid", &uid, &self.people_ndn);
            if self.entries.contains_key(&ndn) {
                return;
            }
        }
        let cn = p.name.clone().unwrap_or_else(|| p.email.clone());
        let (given, sn) = match &p.name {
            Some(n) => split_name(n),
            None => (None, local),
        };
        let mut b = Builder::new()
            .add(
                "objectClass",
                &["top", "person", "organizationalPerson", "inetOrgPerson"],
            )
            .add("uid", &[uid.as_str()])
            .add("cn", &[cn.as_str()])
            .add("sn", &[sn])
            .add("mail", &[p.email.as_str()]);
        if let Some(g) = given {
            b = b.add("givenName", &[g]);
        }
        if let Some(n) = &p.name {
            b = b.add("displayName", &[n.as_str()]);
        }
        let suffix_dn = self.suffix_dn().to_string();
        let entry = b.entry(
            format!("uid={},ou=people,{suffix_dn}", dn::escape_value(&uid)),
            ndn.clone(),
            Kind::Person {
                email: p.email.clone(),
                certs: p
                    .certs
                    .iter()
                    .map(|(der, nb, na)| PublishedCert {
                        der: Arc::new(der.clone()),
                        not_before: *nb,
                        not_after: *na,
                    })
                    .collect(),
            },
            true,
        );
        self.by_mail
            .insert(dn::fold(&p.email, Matching::CaseIgnoreIa5), ndn.clone());
        self.by_uid
            .insert(dn::fold(&uid, Matching::CaseIgnore), ndn.clone());
        self.by_email.insert(p.email.clone(), ndn.clone());
        self.entries.insert(ndn, Arc::new(entry));
    }

    /// Replaces every person with `people`.
    pub fn replace_people(&mut self, people: &[PersonData]) {
        let emails: Vec<String> = self.by_email.keys().cloned().collect();
        for e in emails {
            self.remove_person(&e);
        }
        for p in people {
            self.put_person(p);
        }
    }

    /// The CA slugs in the tree.
    pub fn ca_slugs(&self) -> Vec<String> {
        self.entries
            .values()
            .filter_map(|e| match &e.kind {
                Kind::Ca { slug, .. } => Some(slug.clone()),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Tree {
        let mut t = Tree::new(
            "example.test",
            None,
            &[CaData {
                slug: "issuing".into(),
                cert: vec![0x30, 0x00],
            }],
        );
        t.put_person(&PersonData {
            email: "alice@example.test".into(),
            name: Some("Alice Liddell".into()),
            certs: vec![
                (vec![0x30, 0x03, 0x02, 0x01, 0x01], 100, 200),
                (vec![0x30, 0x03, 0x02, 0x01, 0x02], 100, 300),
            ],
        });
        t.put_person(&PersonData {
            email: "bob@other.test".into(),
            name: None,
            certs: vec![(vec![0x30, 0x03, 0x02, 0x01, 0x03], 100, 300)],
        });
        t
    }

    #[test]
    fn builds_the_tree() {
        let mut t = sample();
        assert_eq!(t.suffix, "dc=example,dc=test");
        assert_eq!(t.people(), 2);
        let alice = t.by_mail.get("alice@example.test").unwrap().clone();
        assert_eq!(alice, "uid=alice,ou=people,dc=example,dc=test");
        let e = &t.entries[&alice];
        assert_eq!(e.dn, "uid=alice,ou=people,dc=example,dc=test");
        assert_eq!(e.current_certs(250).len(), 1);
        assert_eq!(e.current_certs(150).len(), 2);
        let bob = t.by_mail.get("bob@other.test").unwrap();
        assert_eq!(bob, "uid=bob@other.test,ou=people,dc=example,dc=test");
        assert_eq!(t.ca_slugs(), vec!["issuing".to_string()]);
        t.remove_person("alice@example.test");
        assert!(!t.entries.contains_key(&alice));
        assert!(!t.by_mail.contains_key("alice@example.test"));
        assert_eq!(t.people(), 1);
    }
}
