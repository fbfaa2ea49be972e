//! Search filters (RFC 4511 §4.5.1.7): evaluation over an entry with the three-valued logic
//! the RFC prescribes (TRUE, FALSE, Undefined — an unknown attribute type or a match the
//! attribute cannot do is Undefined, and NOT Undefined stays Undefined), bounds on depth
//! and size, and the index plan that turns `(mail=…)`-style searches into look-ups.

use crate::dn;
use crate::schema::{self, AttrType, Matching};
use crate::tree::{Entry, Kind, Tree};
use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};
use std::collections::BTreeSet;

/// Deepest filter nesting accepted (and/or/not levels).
pub const MAX_FILTER_DEPTH: usize = 32;
/// Most filter items (nodes) accepted in one filter.
pub const MAX_FILTER_NODES: usize = 4096;

/// The three truth values of RFC 4511 §4.5.1.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// TRUE.
    True,
    /// FALSE.
    False,
    /// Undefined.
    Undefined,
}

impl Truth {
    fn from_bool(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }
}

/// Why a filter is refused before evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterLimit {
    /// Nested deeper than [`MAX_FILTER_DEPTH`].
    TooDeep,
    /// More than [`MAX_FILTER_NODES`] items.
    TooLarge,
}

/// Checks a filter's depth and size without recursion deeper than the limit.
pub fn check(filter: &LdapFilter) -> Result<(), FilterLimit> {
    let mut stack = vec![(filter, 1usize)];
    let mut nodes = 0usize;
    while let Some((f, depth)) = stack.pop() {
        nodes += 1;
        if nodes > MAX_FILTER_NODES {
            return Err(FilterLimit::TooLarge);
        }
        if depth > MAX_FILTER_DEPTH {
            return Err(FilterLimit::TooDeep);
        }
        match f {
            LdapFilter::And(v) | LdapFilter::Or(v) => {
                stack.extend(v.iter().map(|c| (c, depth + 1)));
            }
            LdapFilter::Not(c) => stack.push((c, depth + 1)),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `entry` has attribute `ty` (presence), including the values computed at search
/// time: certificates valid at `now`, the CA certificate and its CRL.
fn present(entry: &Entry, ty: &AttrType, now: u64, tree: &Tree) -> bool {
    match (ty.name, &entry.kind) {
        ("userCertificate" | "userSMIMECertificate", Kind::Person { .. }) => {
            !entry.current_certs(now).is_empty()
        }
        ("cACertificate", Kind::Ca { .. }) => true,
        ("certificateRevocationList", Kind::Ca { slug, .. }) => tree.crls.contains_key(slug),
        _ => entry.attr(ty).is_some(),
    }
}

fn substring_match(value: &str, sub: &LdapSubstringFilter, m: Matching) -> bool {
    let mut rest = value;
    if let Some(initial) = &sub.initial {
        let i = dn::fold(initial, m);
        match rest.strip_prefix(i.as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for any in &sub.any {
        let a = dn::fold(any, m);
        match rest.find(a.as_str()) {
            Some(pos) => rest = &rest[pos + a.len()..],
            None => return false,
        }
    }
    if let Some(fin) = &sub.final_ {
        let f = dn::fold(fin, m);
        return rest.ends_with(f.as_str());
    }
    true
}

/// Evaluates an item filter on one attribute type.
fn item(entry: &Entry, desc: &str, test: &dyn Fn(&str, Matching) -> Option<bool>) -> Truth {
    let (Some(ty), _) = schema::parse_description(desc) else {
        return Truth::Undefined;
    };
    if ty.matching == Matching::Binary {
        return Truth::Undefined;
    }
    let Some(attr) = entry.attr(ty) else {
        return Truth::False;
    };
    let mut undefined = false;
    for v in &attr.values {
        match test(&v.folded, ty.matching) {
            Some(true) => return Truth::True,
            Some(false) => {}
            None => undefined = true,
        }
    }
    if undefined {
        Truth::Undefined
    } else {
        Truth::False
    }
}

/// Evaluates `filter` on `entry` at `now`. The caller has checked the filter's bounds, so
/// recursion is at most [`MAX_FILTER_DEPTH`] deep.
pub fn eval(filter: &LdapFilter, entry: &Entry, now: u64, tree: &Tree) -> Truth {
    match filter {
        LdapFilter::And(v) => {
            let mut r = Truth::True;
            for f in v {
                match eval(f, entry, now, tree) {
                    Truth::False => return Truth::False,
                    Truth::Undefined => r = Truth::Undefined,
                    Truth::True => {}
                }
            }
            r
        }
        LdapFilter::Or(v) => {
            let mut r = Truth::False;
            for f in v {
                match eval(f, entry, now, tree) {
                    Truth::True => return Truth::True,
                    Truth::Undefined => r = Truth::Undefined,
                    Truth::False => {}
                }
            }
            r
        }
        LdapFilter::Not(f) => match eval(f, entry, now, tree) {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Undefined => Truth::Undefined,
        },
        LdapFilter::Present(desc) => match schema::parse_description(desc) {
            (Some(ty), _) => Truth::from_bool(present(entry, ty, now, tree)),
            // An unknown attribute type: this entry cannot have it (RFC 4511 §4.5.1.7.5
            // makes presence FALSE rather than Undefined for absent attributes).
            (None, _) => Truth::False,
        },
        // Approximate matching falls back to equality (RFC 4511 §4.5.1.7.6).
        LdapFilter::Equality(desc, value) | LdapFilter::Approx(desc, value) => {
            item(entry, desc, &|v, m| Some(v == dn::fold(value, m)))
        }
        LdapFilter::Substring(desc, sub) => item(entry, desc, &|v, m| match m {
            Matching::CaseIgnore | Matching::CaseIgnoreIa5 => Some(substring_match(v, sub, m)),
            _ => None,
        }),
        LdapFilter::GreaterOrEqual(desc, value) => item(entry, desc, &|v, m| match m {
            Matching::CaseIgnore | Matching::CaseIgnoreIa5 => {
                Some(v >= dn::fold(value, m).as_str())
            }
            Matching::Integer => match (v.parse::<i64>(), value.trim().parse::<i64>()) {
                (Ok(a), Ok(b)) => Some(a >= b),
                _ => None,
            },
            _ => None,
        }),
        LdapFilter::LessOrEqual(desc, value) => item(entry, desc, &|v, m| match m {
            Matching::CaseIgnore | Matching::CaseIgnoreIa5 => {
                Some(v <= dn::fold(value, m).as_str())
            }
            Matching::Integer => match (v.parse::<i64>(), value.trim().parse::<i64>()) {
                (Ok(a), Ok(b)) => Some(a <= b),
                _ => None,
            },
            _ => None,
        }),
        // Extensible matching (RFC 4511 §4.5.1.7.7) is not supported: Undefined.
        LdapFilter::Extensible(_) => Truth::Undefined,
    }
}

/// The candidate entries (normalised DNs) an index can give for `filter`, or `None` when a
/// scan is needed: an equality on `mail` or `uid`; an AND with such a child; an OR whose
/// children all have one.
pub fn plan(filter: &LdapFilter, tree: &Tree) -> Option<BTreeSet<String>> {
    match filter {
        LdapFilter::Equality(desc, value) => {
            let (ty, _) = schema::parse_description(desc);
            let ty = ty?;
            let index = match ty.name {
                "mail" => &tree.by_mail,
                "uid" => &tree.by_uid,
                _ => return None,
            };
            Some(
                index
                    .get(&dn::fold(value, ty.matching))
                    .into_iter()
                    .cloned()
                    .collect(),
            )
        }
        LdapFilter::And(v) => v
            .iter()
            .filter_map(|f| plan(f, tree))
            .min_by_key(|s| s.len()),
        LdapFilter::Or(v) if !v.is_empty() => {
            let mut all = BTreeSet::new();
            for f in v {
                all.extend(plan(f, tree)?);
            }
            Some(all)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::tests::sample;

    fn f(s: &str) -> LdapFilter {
        ldap3_proto::parse_ldap_filter_str(s).unwrap()
    }

    fn matches(s: &str) -> Vec<String> {
        matches_filter(&f(s))
    }

    fn matches_filter(filter: &LdapFilter) -> Vec<String> {
        let t = sample();
        t.entries
            .values()
            .filter(|e| eval(filter, e, 150, &t) == Truth::True)
            .map(|e| e.dn.clone())
            .collect()
    }

    #[test]
    fn evaluates_address_book_filters() {
        assert_eq!(
            matches("(mail=ALICE@example.TEST)"),
            vec!["uid=alice,ou=people,dc=example,dc=test"]
        );
        assert_eq!(matches("(cn=*lidd*)").len(), 1);
        let spaced = LdapFilter::Equality("CN".into(), " alice  liddell ".into());
        assert_eq!(matches_filter(&spaced).len(), 1);
        assert_eq!(matches("(|(cn=*bob*)(mail=*bob*)(sn=bob*))").len(), 1);
        assert_eq!(matches("(sn=Lid*ll)").len(), 1);
        assert_eq!(
            matches("(&(objectClass=inetOrgPerson)(!(uid=alice)))").len(),
            1
        );
        let certs = LdapFilter::Present("userCertificate;binary".into());
        assert_eq!(matches_filter(&certs).len(), 2);
        assert_eq!(matches("(cACertificate=*)").len(), 1);
        assert_eq!(matches("(objectClass=*)").len(), 6);
        // An unknown attribute is Undefined, and so is its negation.
        assert!(matches("(nosuch=x)").is_empty());
        assert!(matches("(!(nosuch=x))").is_empty());
        // Certificates cannot be matched by value: Undefined.
        assert!(matches("(!(userCertificate=x))").is_empty());
    }

    #[test]
    fn plans_index_lookups() {
        let t = sample();
        assert_eq!(plan(&f("(mail=alice@example.test)"), &t).unwrap().len(), 1);
        assert_eq!(
            plan(&f("(&(objectClass=*)(uid=ALICE))"), &t).unwrap().len(),
            1
        );
        assert_eq!(
            plan(&f("(|(mail=alice@example.test)(mail=bob@other.test))"), &t)
                .unwrap()
                .len(),
            2
        );
        assert!(plan(&f("(|(mail=x)(cn=y))"), &t).is_none());
        assert!(plan(&f("(cn=*)"), &t).is_none());
    }

    #[test]
    fn bounds_depth_and_size() {
        let mut deep = LdapFilter::Present("cn".into());
        for _ in 0..MAX_FILTER_DEPTH {
            deep = LdapFilter::Not(Box::new(deep));
        }
        assert_eq!(check(&deep), Err(FilterLimit::TooDeep));
        let wide = LdapFilter::Or(vec![LdapFilter::Present("cn".into()); MAX_FILTER_NODES]);
        assert_eq!(check(&wide), Err(FilterLimit::TooLarge));
        assert!(check(&f("(&(a=b)(!(c=d)))")).is_ok());
    }
}
