//! The search operation (RFC 4511 §4.5) over a [`Tree`]: base object and scope, filter,
//! attribute selection (§4.5.1.8, with `*`, `+` of RFC 3673 and `1.1`), the `;binary`
//! transfer option (RFC 4522, required for certificates by RFC 4523 §2), size and time
//! limits (§4.5.1.4–5), and simple paged results (RFC 2696).
//!
//! Pure: the time and the deadline are parameters; the caller holds the tree.

use crate::dn;
use crate::filter::{self, FilterLimit, Truth};
use crate::schema::{self, AttrType};
use crate::tree::{Entry, Kind, Tree};
use ldap3_proto::proto::{
    LdapPartialAttribute, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry,
    LdapSearchScope,
};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

/// Entries looked at between two checks of the deadline.
const DEADLINE_STRIDE: usize = 256;

/// The server's side of a search's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most entries one search (or one page) returns; the client may ask for fewer.
    pub size: usize,
    /// When the search must stop (the smaller of the client's and the server's limits).
    pub deadline: Option<Instant>,
}

/// A paged-results request (RFC 2696 §2): the page size and the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Entries wanted in this page.
    pub size: usize,
    /// Empty on the first page; the server's cookie after.
    pub cookie: Vec<u8>,
}

/// The result of one search (or one page).
#[derive(Debug)]
pub struct Outcome {
    /// The entries, in the order sent.
    pub entries: Vec<LdapSearchResultEntry>,
    /// The SearchResultDone.
    pub result: LdapResult,
    /// For a paged search: the cookie to send back (empty when this was the last page).
    pub cookie: Option<Vec<u8>>,
}

fn result(code: LdapResultCode, matched: &str, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: matched.to_string(),
        message: message.into(),
        referral: Vec::new(),
    }
}

fn fail(code: LdapResultCode, matched: &str, message: impl Into<String>) -> Outcome {
    Outcome {
        entries: Vec::new(),
        result: result(code, matched, message),
        cookie: None,
    }
}

/// Which attributes to return (RFC 4511 §4.5.1.8).
#[derive(Debug, Default)]
struct Selection {
    all_user: bool,
    all_operational: bool,
    /// Named types, and whether `;binary` was asked for.
    named: Vec<(&'static AttrType, bool)>,
}

impl Selection {
    fn new(attrs: &[String]) -> Selection {
        let mut s = Selection::default();
        let wanted: Vec<&String> = attrs.iter().filter(|a| a.as_str() != "1.1").collect();
        if attrs.is_empty() {
            s.all_user = true;
        }
        for a in wanted {
            match a.as_str() {
                "*" => s.all_user = true,
                "+" => s.all_operational = true,
                other => {
                    if let (Some(ty), binary) = schema::parse_description(other) {
                        s.named.push((ty, binary));
                    }
                }
            }
        }
        s
    }

    /// Whether `ty` is returned, and under which description.
    fn name_for(&self, ty: &'static AttrType) -> Option<String> {
        let named = self.named.iter().find(|(t, _)| std::ptr::eq(*t, ty));
        let wanted = named.is_some()
            || if ty.operational {
                self.all_operational
            } else {
                self.all_user
            };
        if !wanted {
            return None;
        }
        let binary = ty.binary || named.is_some_and(|(_, b)| *b);
        Some(if binary {
            format!("{};binary", ty.name)
        } else {
            ty.name.to_string()
        })
    }
}

/// The values of the attributes computed when asked: certificates valid at `now` and the
/// certs-only SignedData of exactly those (`userSMIMECertificate`), a CA's certificate and
/// its current CRL. Only the attributes `wanted` accepts are built: the SignedData costs
/// more than the rest of an entry, and most searches do not ask for it.
fn computed(
    entry: &Entry,
    now: u64,
    tree: &Tree,
    wanted: impl Fn(&str) -> bool,
) -> Vec<(&'static str, Vec<Vec<u8>>)> {
    match &entry.kind {
        Kind::Person { .. } => {
            let (x509, p7) = (wanted("userCertificate"), wanted("userSMIMECertificate"));
            if !x509 && !p7 {
                return Vec::new();
            }
            let certs = entry.current_certs(now);
            if certs.is_empty() {
                return Vec::new();
            }
            let ders: Vec<&[u8]> = certs.iter().map(|c| c.der.as_slice()).collect();
            let mut out = Vec::with_capacity(2);
            if x509 {
                out.push((
                    "userCertificate",
                    ders.iter().map(|d| d.to_vec()).collect::<Vec<_>>(),
                ));
            }
            if p7 && let Ok(p7) = cachet_smime::signed::certs_only(&ders) {
                out.push(("userSMIMECertificate", vec![p7]));
            }
            out
        }
        Kind::Ca { slug, cert } => {
            let mut out = vec![("cACertificate", vec![cert.as_ref().clone()])];
            if let Some(crl) = tree.crls.get(slug) {
                out.push(("certificateRevocationList", vec![crl.as_ref().clone()]));
            }
            out
        }
        Kind::Container | Kind::Special => Vec::new(),
    }
}

/// The entry as sent: the selected attributes, values omitted with `typesOnly`.
pub fn render(
    entry: &Entry,
    attrs: &[String],
    types_only: bool,
    now: u64,
    tree: &Tree,
) -> LdapSearchResultEntry {
    let sel = Selection::new(attrs);
    let mut out = Vec::new();
    for a in &entry.attrs {
        if let Some(name) = sel.name_for(a.ty) {
            out.push(LdapPartialAttribute {
                atype: name,
                vals: if types_only {
                    Vec::new()
                } else {
                    a.values.iter().map(|v| v.raw.as_bytes().to_vec()).collect()
                },
            });
        }
    }
    let wanted = |name: &str| schema::attr_type(name).is_some_and(|ty| sel.name_for(ty).is_some());
    for (name, vals) in computed(entry, now, tree, wanted) {
        let Some(ty) = schema::attr_type(name) else {
            continue;
        };
        if let Some(name) = sel.name_for(ty) {
            out.push(LdapPartialAttribute {
                atype: name,
                vals: if types_only { Vec::new() } else { vals },
            });
        }
    }
    LdapSearchResultEntry {
        dn: entry.dn.clone(),
        attributes: out,
    }
}

/// The cookie's binding to its search: a hash of everything but the controls, so a cookie
/// cannot continue a different search (RFC 2696 §3: the rest of the request must not
/// change between pages).
fn request_hash(req: &LdapSearchRequest, base: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    base.hash(&mut h);
    (req.scope.clone() as i64).hash(&mut h);
    req.filter.hash(&mut h);
    req.attrs.hash(&mut h);
    req.typesonly.hash(&mut h);
    h.finish()
}

const COOKIE_VERSION: u8 = 1;

fn make_cookie(hash: u64, last: &str) -> Vec<u8> {
    let mut c = Vec::with_capacity(9 + last.len());
    c.push(COOKIE_VERSION);
    c.extend_from_slice(&hash.to_be_bytes());
    c.extend_from_slice(last.as_bytes());
    c
}

/// The normalised DN after which a page resumes, if `cookie` belongs to this search.
fn read_cookie(cookie: &[u8], hash: u64) -> Option<String> {
    let (&v, rest) = cookie.split_first()?;
    if v != COOKIE_VERSION || rest.len() < 8 {
        return None;
    }
    let (h, last) = rest.split_at(8);
    if h != hash.to_be_bytes() {
        return None;
    }
    String::from_utf8(last.to_vec()).ok()
}

/// Whether normalised `ndn` is in the scope of normalised `base`.
fn in_scope(ndn: &str, base: &str, scope: &LdapSearchScope) -> bool {
    match scope {
        LdapSearchScope::Base => ndn == base,
        LdapSearchScope::OneLevel => ndn != base && dn::parent(ndn) == base,
        LdapSearchScope::Subtree => dn::within(ndn, base),
        LdapSearchScope::Children => ndn != base && dn::within(ndn, base),
    }
}

/// The deepest existing ancestor of normalised `ndn`, as returned (RFC 4511 §4.1.9).
fn matched_dn(tree: &Tree, ndn: &str) -> String {
    let mut cur = dn::parent(ndn);
    while !cur.is_empty() {
        if let Some(e) = tree.entries.get(cur) {
            return e.dn.clone();
        }
        cur = dn::parent(cur);
    }
    String::new()
}

/// Runs a search. `page` is the paged-results control, if the client sent one.
pub fn search(
    tree: &Tree,
    req: &LdapSearchRequest,
    page: Option<&PageRequest>,
    now: u64,
    limits: Limits,
) -> Outcome {
    if let Err(e) = filter::check(&req.filter) {
        let why = match e {
            FilterLimit::TooDeep => format!(
                "the filter is nested deeper than {} levels",
                filter::MAX_FILTER_DEPTH
            ),
            FilterLimit::TooLarge => format!(
                "the filter has more than {} items",
                filter::MAX_FILTER_NODES
            ),
        };
        return fail(LdapResultCode::UnwillingToPerform, "", why);
    }
    let base = match dn::normalize(&req.base) {
        Ok(b) => b,
        Err(e) => return fail(LdapResultCode::InvalidDNSyntax, "", e.0),
    };
    let check_one = |e: &Arc<Entry>| filter::eval(&req.filter, e, now, tree) == Truth::True;

    // The root DSE and the subschema subentry answer base searches only (RFC 4512 §5.1,
    // §4.4); a one-level or subtree search from the empty DN covers the naming context.
    let special = if base.is_empty() {
        Some(&tree.root_dse)
    } else if base == tree.subschema.ndn {
        Some(&tree.subschema)
    } else {
        None
    };
    if let Some(special) = special {
        let include = matches!(req.scope, LdapSearchScope::Base)
            || (base == tree.subschema.ndn && matches!(req.scope, LdapSearchScope::Subtree));
        if include || !base.is_empty() {
            let entries = if include && check_one(special) {
                vec![render(special, &req.attrs, req.typesonly, now, tree)]
            } else {
                Vec::new()
            };
            return Outcome {
                entries,
                result: result(LdapResultCode::Success, "", ""),
                cookie: page.map(|_| Vec::new()),
            };
        }
    } else if !tree.entries.contains_key(&base) {
        return fail(
            LdapResultCode::NoSuchObject,
            &matched_dn(tree, &base),
            format!("no entry is named '{}'", req.base),
        );
    }

    let hash = request_hash(req, &base);
    let mut after: Option<String> = None;
    let mut want = limits.size;
    let mut size_exceeded_code = LdapResultCode::SizeLimitExceeded;
    if let Some(p) = page {
        if !p.cookie.is_empty() {
            match read_cookie(&p.cookie, hash) {
                Some(last) => after = Some(last),
                None => {
                    return fail(
                        LdapResultCode::UnwillingToPerform,
                        "",
                        "the paged-results cookie does not belong to this search (RFC 2696 §3)",
                    );
                }
            }
        }
        if p.size == 0 {
            // RFC 2696 §3: a size of zero abandons the paged search.
            return Outcome {
                entries: Vec::new(),
                result: result(LdapResultCode::Success, "", ""),
                cookie: Some(Vec::new()),
            };
        }
        want = p.size.min(limits.size);
        // The client's sizeLimit applies to the whole paged search (RFC 2696 §5) — capped
        // per page here.
        if req.sizelimit > 0 {
            want = want.min(req.sizelimit as usize);
        }
        size_exceeded_code = LdapResultCode::Success;
    } else if req.sizelimit > 0 && (req.sizelimit as usize) < want {
        want = req.sizelimit as usize;
    }

    let lower = match &after {
        Some(a) => Bound::Excluded(a.clone()),
        None => Bound::Unbounded,
    };
    let planned: Option<BTreeSet<String>> = filter::plan(&req.filter, tree);
    let candidates: Box<dyn Iterator<Item = &Arc<Entry>>> = match &planned {
        Some(set) => Box::new(
            set.range::<String, _>((lower.clone(), Bound::Unbounded))
                .filter_map(|k| tree.entries.get(k)),
        ),
        None => Box::new(
            tree.entries
                .range::<String, _>((lower, Bound::Unbounded))
                .map(|(_, e)| e),
        ),
    };

    let mut entries = Vec::new();
    let mut last: Option<&str> = None;
    let mut more = false;
    for (seen, e) in candidates.enumerate() {
        if seen % DEADLINE_STRIDE == 0 && limits.deadline.is_some_and(|d| Instant::now() >= d) {
            return Outcome {
                entries,
                result: result(
                    LdapResultCode::TimeLimitExceeded,
                    "",
                    "the search took longer than its time limit",
                ),
                cookie: None,
            };
        }
        if !in_scope(&e.ndn, &base, &req.scope) || !check_one(e) {
            continue;
        }
        if entries.len() >= want {
            more = true;
            break;
        }
        entries.push(render(e, &req.attrs, req.typesonly, now, tree));
        last = Some(&e.ndn);
    }
    match page {
        Some(_) => Outcome {
            cookie: Some(match (more, last) {
                (true, Some(l)) => make_cookie(hash, l),
                _ => Vec::new(),
            }),
            entries,
            result: result(size_exceeded_code, "", ""),
        },
        None if more => Outcome {
            entries,
            result: result(
                LdapResultCode::SizeLimitExceeded,
                "",
                format!(
                    "more than {want} entries match; use paged results (RFC 2696) or a narrower filter"
                ),
            ),
            cookie: None,
        },
        None => Outcome {
            entries,
            result: result(LdapResultCode::Success, "", ""),
            cookie: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::PersonData;
    use crate::tree::tests::sample;
    use ldap3_proto::proto::LdapDerefAliases;

    fn req(base: &str, scope: LdapSearchScope, filter: &str, attrs: &[&str]) -> LdapSearchRequest {
        LdapSearchRequest {
            base: base.into(),
            scope,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: ldap3_proto::parse_ldap_filter_str(filter).unwrap(),
            attrs: attrs.iter().map(|s| s.to_string()).collect(),
        }
    }

    const LIMITS: Limits = Limits {
        size: 1000,
        deadline: None,
    };

    fn names(e: &LdapSearchResultEntry) -> Vec<&str> {
        e.attributes.iter().map(|a| a.atype.as_str()).collect()
    }

    #[test]
    fn finds_people_with_both_certificate_attributes() {
        let t = sample();
        let r = search(
            &t,
            &req(
                "dc=example,dc=test",
                LdapSearchScope::Subtree,
                "(mail=alice@example.test)",
                &[],
            ),
            None,
            150,
            LIMITS,
        );
        assert_eq!(r.result.code, LdapResultCode::Success);
        assert_eq!(r.entries.len(), 1);
        let e = &r.entries[0];
        let n = names(e);
        assert!(n.contains(&"userCertificate;binary"), "{n:?}");
        assert!(n.contains(&"userSMIMECertificate"), "{n:?}");
        assert!(
            !n.contains(&"entryDN"),
            "operational attributes only on request"
        );
        let certs = &e
            .attributes
            .iter()
            .find(|a| a.atype == "userCertificate;binary")
            .unwrap()
            .vals;
        assert_eq!(certs.len(), 2);
        // After the first certificate expires only one is left, in both attributes.
        let r = search(
            &t,
            &req(
                "dc=example,dc=test",
                LdapSearchScope::Subtree,
                "(mail=alice@example.test)",
                &["userCertificate", "userSMIMECertificate;binary"],
            ),
            None,
            250,
            LIMITS,
        );
        let e = &r.entries[0];
        assert_eq!(
            names(e),
            vec!["userCertificate;binary", "userSMIMECertificate;binary"]
        );
        assert_eq!(e.attributes[0].vals.len(), 1);
        let p7 = cachet_smime::signed::certs_only(&[&e.attributes[0].vals[0]]).unwrap();
        assert_eq!(e.attributes[1].vals[0], p7);
    }

    #[test]
    fn scopes_selection_and_special_entries() {
        let t = sample();
        let one = search(
            &t,
            &req(
                "ou=people,dc=example,dc=test",
                LdapSearchScope::OneLevel,
                "(objectClass=*)",
                &["1.1"],
            ),
            None,
            150,
            LIMITS,
        );
        assert_eq!(one.entries.len(), 2);
        assert!(one.entries.iter().all(|e| e.attributes.is_empty()));
        let base = search(
            &t,
            &req(
                "OU=People,DC=Example,DC=Test",
                LdapSearchScope::Base,
                "(objectClass=*)",
                &["+"],
            ),
            None,
            150,
            LIMITS,
        );
        assert_eq!(base.entries.len(), 1);
        assert!(names(&base.entries[0]).contains(&"subschemaSubentry"));
        assert!(!names(&base.entries[0]).contains(&"ou"));
        let dse = search(
            &t,
            &req(
                "",
                LdapSearchScope::Base,
                "(objectClass=*)",
                &[
                    "namingContexts",
                    "supportedControl",
                    "supportedLDAPVersion",
                    "subschemaSubentry",
                ],
            ),
            None,
            150,
            LIMITS,
        );
        assert_eq!(dse.entries.len(), 1);
        let a = &dse.entries[0].attributes;
        assert_eq!(a[0].vals, vec![b"dc=example,dc=test".to_vec()]);
        let schema = search(
            &t,
            &req(
                "cn=subschema",
                LdapSearchScope::Base,
                "(objectClass=subschema)",
                &["attributeTypes", "objectClasses"],
            ),
            None,
            150,
            LIMITS,
        );
        assert_eq!(schema.entries.len(), 1);
        assert_eq!(schema.entries[0].attributes.len(), 2);
        let missing = search(
            &t,
            &req(
                "uid=nobody,ou=people,dc=example,dc=test",
                LdapSearchScope::Base,
                "(objectClass=*)",
                &[],
            ),
            None,
            150,
            LIMITS,
        );
        assert_eq!(missing.result.code, LdapResultCode::NoSuchObject);
        assert_eq!(missing.result.matcheddn, "ou=people,dc=example,dc=test");
        let bad = search(
            &t,
            &req("garbage", LdapSearchScope::Base, "(objectClass=*)", &[]),
            None,
            150,
            LIMITS,
        );
        assert_eq!(bad.result.code, LdapResultCode::InvalidDNSyntax);
        let ca = search(
            &t,
            &req(
                "ou=pki,dc=example,dc=test",
                LdapSearchScope::OneLevel,
                "(cACertificate=*)",
                &[],
            ),
            None,
            150,
            LIMITS,
        );
        assert_eq!(
            names(&ca.entries[0]),
            vec!["objectClass", "cn", "cACertificate;binary"]
        );
    }

    #[test]
    fn size_limits_and_pages() {
        let mut t = sample();
        for i in 0..25 {
            t.put_person(&PersonData {
                email: format!("user{i:02}@example.test"),
                name: None,
                certs: Vec::new(),
            });
        }
        let all = req(
            "dc=example,dc=test",
            LdapSearchScope::Subtree,
            "(objectClass=inetOrgPerson)",
            &["mail"],
        );
        let r = search(
            &t,
            &all,
            None,
            150,
            Limits {
                size: 10,
                deadline: None,
            },
        );
        assert_eq!(r.result.code, LdapResultCode::SizeLimitExceeded);
        assert_eq!(r.entries.len(), 10);
        let mut small = all.clone();
        small.sizelimit = 3;
        assert_eq!(search(&t, &small, None, 150, LIMITS).entries.len(), 3);

        let mut seen = Vec::new();
        let mut cookie = Vec::new();
        let mut pages = 0;
        loop {
            let p = PageRequest {
                size: 10,
                cookie: cookie.clone(),
            };
            let r = search(&t, &all, Some(&p), 150, LIMITS);
            assert_eq!(r.result.code, LdapResultCode::Success);
            seen.extend(r.entries.into_iter().map(|e| e.dn));
            pages += 1;
            cookie = r.cookie.unwrap();
            if cookie.is_empty() {
                break;
            }
            assert!(pages < 10);
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 27);
        let unique: BTreeSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 27);
        // A cookie of another search is refused.
        let p = PageRequest {
            size: 10,
            cookie: make_cookie(1, "x"),
        };
        assert_eq!(
            search(&t, &all, Some(&p), 150, LIMITS).result.code,
            LdapResultCode::UnwillingToPerform
        );
        // An expired deadline stops a scan.
        let past = Instant::now();
        let r = search(
            &t,
            &all,
            None,
            150,
            Limits {
                size: 1000,
                deadline: Some(past),
            },
        );
        assert_eq!(r.result.code, LdapResultCode::TimeLimitExceeded);
    }
}
