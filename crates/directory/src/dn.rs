//! Distinguished names in their string form (RFC 4514): parsing, escaping, and the
//! normalised form used as the key of every entry, so that `UID=Alice, OU=People,…` and
//! `uid=alice,ou=people,…` name the same entry (distinguishedNameMatch, RFC 4517 §4.2.15,
//! with the caseIgnore/caseIgnoreIA5 rules of the naming attributes used here).

use crate::schema::{self, Matching};

/// Longest DN accepted (bytes); longer ones are invalid syntax.
pub const MAX_DN_LEN: usize = 4096;

/// The folded form of a value under `matching` (RFC 4518 §2, simplified: Unicode lower-case
/// and insignificant-space handling — leading and trailing spaces dropped, inner runs of
/// spaces collapsed to one).
pub fn fold(value: &str, matching: Matching) -> String {
    match matching {
        Matching::CaseIgnore | Matching::CaseIgnoreIa5 | Matching::Oid | Matching::Boolean => {
            let mut out = String::with_capacity(value.len());
            for word in value.split(' ').filter(|w| !w.is_empty()) {
                if !out.is_empty() {
                    out.push(' ');
                }
                for c in word.chars() {
                    out.extend(c.to_lowercase());
                }
            }
            out
        }
        Matching::Integer => value.trim().to_string(),
        Matching::Dn => normalize(value).unwrap_or_else(|_| value.to_string()),
        Matching::Binary => String::new(),
    }
}

/// Escapes an attribute value for a DN string (RFC 4514 §2.4).
pub fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 4);
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if c == '\0' {
            out.push_str("\\00");
        } else {
            if special {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Why a DN string is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnError(pub String);

/// Splits a DN string into its RDNs as (attribute type, value), unescaped, most specific
/// first. Multi-valued RDNs (`a=1+b=2`) are accepted as one pair whose value is the rest.
pub fn parse(dn: &str) -> Result<Vec<(String, String)>, DnError> {
    if dn.len() > MAX_DN_LEN {
        return Err(DnError("the DN is too long".into()));
    }
    let mut out = Vec::new();
    if dn.trim().is_empty() {
        return Ok(out);
    }
    let bytes = dn.as_bytes();
    let mut i = 0;
    while i <= bytes.len() {
        // attribute type
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' {
            if bytes[i] == b',' {
                return Err(DnError(format!("'{dn}': an RDN has no '='")));
            }
            i += 1;
        }
        if i >= bytes.len() {
            return Err(DnError(format!("'{dn}': an RDN has no '='")));
        }
        let ty = dn[start..i].trim();
        if ty.is_empty() {
            return Err(DnError(format!("'{dn}': an RDN has no attribute type")));
        }
        i += 1;
        // value, up to an unescaped ','
        let mut value: Vec<u8> = Vec::new();
        while i < bytes.len() && bytes[i] != b',' {
            if bytes[i] == b'\\' {
                let next = *bytes
                    .get(i + 1)
                    .ok_or_else(|| DnError(format!("'{dn}': a trailing '\\'")))?;
                let hex = |b: u8| (b as char).to_digit(16);
                if let (Some(h), Some(l)) = (hex(next), bytes.get(i + 2).and_then(|b| hex(*b))) {
                    value.push((h * 16 + l) as u8);
                    i += 3;
                } else {
                    value.push(next);
                    i += 2;
                }
            } else {
                value.push(bytes[i]);
                i += 1;
            }
        }
        let value = String::from_utf8(value)
            .map_err(|_| DnError(format!("'{dn}': a value is not UTF-8")))?;
        out.push((ty.to_string(), value.trim().to_string()));
        if i >= bytes.len() {
            break;
        }
        i += 1; // ','
        if i >= bytes.len() {
            return Err(DnError(format!("'{dn}': ends with ','")));
        }
    }
    Ok(out)
}

/// The normalised form of one RDN.
fn normalize_rdn(ty: &str, value: &str) -> String {
    match schema::attr_type(ty) {
        Some(t) => format!(
            "{}={}",
            t.name.to_ascii_lowercase(),
            escape_value(&fold(value, t.matching))
        ),
        None => format!(
            "{}={}",
            ty.to_ascii_lowercase(),
            escape_value(&fold(value, Matching::CaseIgnore))
        ),
    }
}

/// The normalised form of a DN string: attribute types by their canonical lower-case name,
/// values folded and re-escaped, no spaces around separators. The empty DN is `""`.
pub fn normalize(dn: &str) -> Result<String, DnError> {
    Ok(parse(dn)?
        .iter()
        .map(|(t, v)| normalize_rdn(t, v))
        .collect::<Vec<_>>()
        .join(","))
}

/// The normalised DN of `rdn` (type, raw value) under the normalised `parent`.
pub fn child(ty: &str, value: &str, parent: &str) -> String {
    let rdn = normalize_rdn(ty, value);
    if parent.is_empty() {
        rdn
    } else {
        format!("{rdn},{parent}")
    }
}

/// The normalised parent of a normalised DN (`""` for a one-RDN DN): the part after the
/// first unescaped ','.
pub fn parent(ndn: &str) -> &str {
    let b = ndn.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b',' => return &ndn[i + 1..],
            _ => i += 1,
        }
    }
    ""
}

/// Whether normalised `ndn` is `base` or below it.
pub fn within(ndn: &str, base: &str) -> bool {
    if base.is_empty() {
        return true;
    }
    ndn == base
        || (ndn.len() > base.len()
            && ndn.ends_with(base)
            && ndn.as_bytes()[ndn.len() - base.len() - 1] == b','
            && !escaped_at(ndn, ndn.len() - base.len() - 1))
}

/// Whether the byte at `pos` is escaped (preceded by an odd number of backslashes).
fn escaped_at(s: &str, pos: usize) -> bool {
    s.as_bytes()[..pos]
        .iter()
        .rev()
        .take_while(|b| **b == b'\\')
        .count()
        % 2
        == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_spaces_and_aliases() {
        assert_eq!(
            normalize("UID=Alice , OU=People,DC=Example,dc=TEST").unwrap(),
            "uid=alice,ou=people,dc=example,dc=test"
        );
        assert_eq!(
            normalize("commonName=A  B,ou=x").unwrap(),
            normalize("cn=a b,OU=X").unwrap()
        );
        assert_eq!(normalize("").unwrap(), "");
        assert!(normalize("nonsense").is_err());
        assert!(normalize("a=b,").is_err());
        assert!(normalize("a=b\\").is_err());
    }

    #[test]
    fn escapes_and_unescapes() {
        let dn = child("uid", "a,b+c@x.test", "ou=people");
        assert_eq!(dn, "uid=a\\,b\\+c@x.test,ou=people");
        assert_eq!(parse(&dn).unwrap()[0].1, "a,b+c@x.test");
        assert_eq!(parse("cn=\\41b").unwrap()[0].1, "Ab");
        assert_eq!(parent(&dn), "ou=people");
        assert!(within(&dn, "ou=people"));
        assert!(within(&dn, ""));
        assert!(!within("ou=people", &dn));
        assert!(!within("uid=x,aou=people", "ou=people"));
    }
}
