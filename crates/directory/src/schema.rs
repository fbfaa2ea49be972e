//! The directory's schema: the attribute types and object classes it publishes, how each is
//! matched, and the subschema subentry that describes them (RFC 4512 §4.2).
//!
//! Attribute types come from RFC 4519 (cn, sn, ou, dc, uid…), RFC 4524 (mail), RFC 2798
//! (inetOrgPerson: givenName, displayName, userSMIMECertificate), RFC 4523 (certificate
//! attributes, which must be transferred with the `;binary` option, RFC 4523 §2) and RFC 4512
//! (operational attributes of the root DSE and the subschema subentry).

/// How values of an attribute are compared in filters (RFC 4517 §4.2 matching rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// caseIgnoreMatch / caseIgnoreSubstringsMatch / caseIgnoreOrderingMatch: case folded,
    /// insignificant spaces removed (RFC 4518 §2.6.1, simplified to ASCII-free folding).
    CaseIgnore,
    /// caseIgnoreIA5Match / caseIgnoreIA5SubstringsMatch (mail, dc).
    CaseIgnoreIa5,
    /// objectIdentifierMatch (objectClass): names compared case-insensitively.
    Oid,
    /// distinguishedNameMatch.
    Dn,
    /// integerMatch.
    Integer,
    /// booleanMatch.
    Boolean,
    /// No string matching: certificates, CRLs, PKCS#7 — presence only in filters.
    Binary,
}

/// An attribute type the directory knows.
#[derive(Debug)]
pub struct AttrType {
    /// The canonical name, as returned.
    pub name: &'static str,
    /// Other names (lower-case), and the numeric OID is accepted too.
    pub aliases: &'static [&'static str],
    /// Numeric OID.
    pub oid: &'static str,
    /// Syntax OID (RFC 4517 §3.3).
    pub syntax: &'static str,
    /// Matching.
    pub matching: Matching,
    /// Transferred as `NAME;binary` (RFC 4522; required for certificate syntaxes, RFC 4523).
    pub binary: bool,
    /// Operational (returned only when asked for by name or with `+`, RFC 3673).
    pub operational: bool,
}

const DIRECTORY_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.15";
const IA5_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.26";
const OID_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.38";
const DN_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.12";
const INTEGER_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.27";
const BOOLEAN_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.7";
const BINARY_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.5";
const CERTIFICATE_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.8";
const CERTIFICATE_LIST_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.9";
const CERTIFICATE_PAIR_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.10";
const ATTRIBUTE_TYPE_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.3";
const OBJECT_CLASS_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.37";
const SYNTAX_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.54";
const MATCHING_RULE_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.30";

macro_rules! attr {
    ($name:expr, [$($alias:expr),*], $oid:expr, $syntax:expr, $m:ident, $bin:expr, $op:expr) => {
        AttrType {
            name: $name,
            aliases: &[$($alias),*],
            oid: $oid,
            syntax: $syntax,
            matching: Matching::$m,
            binary: $bin,
            operational: $op,
        }
    };
}

/// Every attribute type, user attributes first.
pub static ATTRIBUTES: &[AttrType] = &[
    attr!("objectClass", [], "2.5.4.0", OID_SYNTAX, Oid, false, false),
    attr!(
        "cn",
        ["commonname"],
        "2.5.4.3",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        false
    ),
    attr!(
        "sn",
        ["surname"],
        "2.5.4.4",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        false
    ),
    attr!(
        "givenName",
        ["gn"],
        "2.5.4.42",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        false
    ),
    attr!(
        "displayName",
        [],
        "2.16.840.1.113730.3.1.241",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        false
    ),
    attr!(
        "mail",
        ["rfc822mailbox"],
        "0.9.2342.19200300.100.1.3",
        IA5_STRING,
        CaseIgnoreIa5,
        false,
        false
    ),
    attr!(
        "uid",
        ["userid"],
        "0.9.2342.19200300.100.1.1",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        false
    ),
    attr!(
        "dc",
        ["domaincomponent"],
        "0.9.2342.19200300.100.1.25",
        IA5_STRING,
        CaseIgnoreIa5,
        false,
        false
    ),
    attr!(
        "ou",
        ["organizationalunitname"],
        "2.5.4.11",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        false
    ),
    attr!(
        "o",
        ["organizationname"],
        "2.5.4.10",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        false
    ),
    attr!(
        "description",
        [],
        "2.5.4.13",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        false
    ),
    attr!(
        "userCertificate",
        [],
        "2.5.4.36",
        CERTIFICATE_SYNTAX,
        Binary,
        true,
        false
    ),
    attr!(
        "userSMIMECertificate",
        [],
        "2.16.840.1.113730.3.1.40",
        BINARY_SYNTAX,
        Binary,
        false,
        false
    ),
    attr!(
        "cACertificate",
        [],
        "2.5.4.37",
        CERTIFICATE_SYNTAX,
        Binary,
        true,
        false
    ),
    attr!(
        "authorityRevocationList",
        [],
        "2.5.4.38",
        CERTIFICATE_LIST_SYNTAX,
        Binary,
        true,
        false
    ),
    attr!(
        "certificateRevocationList",
        [],
        "2.5.4.39",
        CERTIFICATE_LIST_SYNTAX,
        Binary,
        true,
        false
    ),
    attr!(
        "crossCertificatePair",
        [],
        "2.5.4.40",
        CERTIFICATE_PAIR_SYNTAX,
        Binary,
        true,
        false
    ),
    // Operational (RFC 4512 §3.4, §5.1; RFC 3045; RFC 5020; RFC 3673).
    attr!(
        "subschemaSubentry",
        [],
        "2.5.18.10",
        DN_SYNTAX,
        Dn,
        false,
        true
    ),
    attr!("entryDN", [], "1.3.6.1.1.20", DN_SYNTAX, Dn, false, true),
    attr!(
        "hasSubordinates",
        [],
        "2.5.18.9",
        BOOLEAN_SYNTAX,
        Boolean,
        false,
        true
    ),
    attr!(
        "structuralObjectClass",
        [],
        "2.5.21.9",
        OID_SYNTAX,
        Oid,
        false,
        true
    ),
    attr!(
        "namingContexts",
        [],
        "1.3.6.1.4.1.1466.101.120.5",
        DN_SYNTAX,
        Dn,
        false,
        true
    ),
    attr!(
        "supportedLDAPVersion",
        [],
        "1.3.6.1.4.1.1466.101.120.15",
        INTEGER_SYNTAX,
        Integer,
        false,
        true
    ),
    attr!(
        "supportedControl",
        [],
        "1.3.6.1.4.1.1466.101.120.13",
        OID_SYNTAX,
        Oid,
        false,
        true
    ),
    attr!(
        "supportedExtension",
        [],
        "1.3.6.1.4.1.1466.101.120.7",
        OID_SYNTAX,
        Oid,
        false,
        true
    ),
    attr!(
        "supportedFeatures",
        [],
        "1.3.6.1.4.1.4203.1.3.5",
        OID_SYNTAX,
        Oid,
        false,
        true
    ),
    attr!(
        "supportedSASLMechanisms",
        [],
        "1.3.6.1.4.1.1466.101.120.14",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        true
    ),
    attr!(
        "vendorName",
        [],
        "1.3.6.1.1.4",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        true
    ),
    attr!(
        "vendorVersion",
        [],
        "1.3.6.1.1.5",
        DIRECTORY_STRING,
        CaseIgnore,
        false,
        true
    ),
    attr!(
        "attributeTypes",
        [],
        "2.5.21.5",
        ATTRIBUTE_TYPE_SYNTAX,
        Oid,
        false,
        true
    ),
    attr!(
        "objectClasses",
        [],
        "2.5.21.6",
        OBJECT_CLASS_SYNTAX,
        Oid,
        false,
        true
    ),
    attr!(
        "ldapSyntaxes",
        [],
        "1.3.6.1.4.1.1466.101.120.16",
        SYNTAX_SYNTAX,
        Oid,
        false,
        true
    ),
    attr!(
        "matchingRules",
        [],
        "2.5.21.4",
        MATCHING_RULE_SYNTAX,
        Oid,
        false,
        true
    ),
];

/// Looks up an attribute type by name, alias or OID, ignoring case.
pub fn attr_type(name: &str) -> Option<&'static AttrType> {
    ATTRIBUTES.iter().find(|a| {
        a.name.eq_ignore_ascii_case(name)
            || a.oid == name
            || a.aliases.iter().any(|x| x.eq_ignore_ascii_case(name))
    })
}

/// The attribute type of the named attribute (options such as `;binary` stripped; names
/// are case-insensitive, RFC 4512 §2.5), with whether `;binary` was given.
pub fn parse_description(desc: &str) -> (Option<&'static AttrType>, bool) {
    let mut parts = desc.split(';');
    let base = parts.next().unwrap_or_default();
    let binary = parts.any(|o| o.eq_ignore_ascii_case("binary"));
    (attr_type(base), binary)
}

/// The object classes published (RFC 4512 §4.1.1 descriptions).
pub const OBJECT_CLASSES: &[(&str, &str)] = &[
    ("top", "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )"),
    (
        "extensibleObject",
        "( 1.3.6.1.4.1.1466.101.120.111 NAME 'extensibleObject' SUP top AUXILIARY )",
    ),
    (
        "subschema",
        "( 2.5.20.1 NAME 'subschema' AUXILIARY MAY ( dITStructureRules $ nameForms $ dITContentRules $ objectClasses $ attributeTypes $ matchingRules $ matchingRuleUse ) )",
    ),
    (
        "subentry",
        "( 2.5.17.0 NAME 'subentry' SUP top STRUCTURAL MUST ( cn ) )",
    ),
    (
        "domain",
        "( 0.9.2342.19200300.100.4.13 NAME 'domain' SUP top STRUCTURAL MUST dc MAY ( description $ o ) )",
    ),
    (
        "organizationalUnit",
        "( 2.5.6.5 NAME 'organizationalUnit' SUP top STRUCTURAL MUST ou MAY description )",
    ),
    (
        "person",
        "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( description ) )",
    ),
    (
        "organizationalPerson",
        "( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL MAY ( ou ) )",
    ),
    (
        "inetOrgPerson",
        "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL MAY ( displayName $ givenName $ mail $ uid $ userCertificate $ userSMIMECertificate ) )",
    ),
    (
        "applicationProcess",
        "( 2.5.6.11 NAME 'applicationProcess' SUP top STRUCTURAL MUST cn MAY ( description $ ou ) )",
    ),
    (
        "pkiCA",
        "( 2.5.6.22 NAME 'pkiCA' SUP top AUXILIARY MAY ( cACertificate $ certificateRevocationList $ authorityRevocationList $ crossCertificatePair ) )",
    ),
];

fn equality(m: Matching) -> Option<&'static str> {
    match m {
        Matching::CaseIgnore => Some("caseIgnoreMatch"),
        Matching::CaseIgnoreIa5 => Some("caseIgnoreIA5Match"),
        Matching::Oid => Some("objectIdentifierMatch"),
        Matching::Dn => Some("distinguishedNameMatch"),
        Matching::Integer => Some("integerMatch"),
        Matching::Boolean => Some("booleanMatch"),
        Matching::Binary => None,
    }
}

fn substrings(m: Matching) -> Option<&'static str> {
    match m {
        Matching::CaseIgnore => Some("caseIgnoreSubstringsMatch"),
        Matching::CaseIgnoreIa5 => Some("caseIgnoreIA5SubstringsMatch"),
        _ => None,
    }
}

/// The `attributeTypes` values of the subschema subentry (RFC 4512 §4.1.2).
pub fn attribute_type_descriptions() -> Vec<String> {
    ATTRIBUTES
        .iter()
        .map(|a| {
            let mut names = vec![a.name.to_string()];
            names.extend(a.aliases.iter().map(|x| x.to_string()));
            let names = if names.len() == 1 {
                format!("'{}'", names[0])
            } else {
                format!(
                    "( {} )",
                    names
                        .iter()
                        .map(|n| format!("'{n}'"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            };
            let mut s = format!("( {} NAME {names}", a.oid);
            if let Some(e) = equality(a.matching) {
                s.push_str(&format!(" EQUALITY {e}"));
            }
            if let Some(e) = substrings(a.matching) {
                s.push_str(&format!(" SUBSTR {e}"));
            }
            s.push_str(&format!(" SYNTAX {}", a.syntax));
            if a.operational {
                s.push_str(" NO-USER-MODIFICATION USAGE directoryOperation");
            }
            s.push_str(" )");
            s
        })
        .collect()
}

/// The `ldapSyntaxes` values (RFC 4517 §3.3).
pub fn syntax_descriptions() -> Vec<String> {
    [
        (DIRECTORY_STRING, "Directory String"),
        (IA5_STRING, "IA5 String"),
        (OID_SYNTAX, "OID"),
        (DN_SYNTAX, "DN"),
        (INTEGER_SYNTAX, "INTEGER"),
        (BOOLEAN_SYNTAX, "Boolean"),
        (BINARY_SYNTAX, "Binary"),
        (CERTIFICATE_SYNTAX, "Certificate"),
        (CERTIFICATE_LIST_SYNTAX, "Certificate List"),
        (CERTIFICATE_PAIR_SYNTAX, "Certificate Pair"),
        (ATTRIBUTE_TYPE_SYNTAX, "Attribute Type Description"),
        (OBJECT_CLASS_SYNTAX, "Object Class Description"),
        (SYNTAX_SYNTAX, "LDAP Syntax Description"),
        (MATCHING_RULE_SYNTAX, "Matching Rule Description"),
    ]
    .iter()
    .map(|(oid, d)| format!("( {oid} DESC '{d}' )"))
    .collect()
}

/// The `matchingRules` values (RFC 4517 §4.2).
pub fn matching_rule_descriptions() -> Vec<String> {
    [
        ("2.5.13.2", "caseIgnoreMatch", DIRECTORY_STRING),
        ("2.5.13.4", "caseIgnoreSubstringsMatch", DIRECTORY_STRING),
        (
            "1.3.6.1.4.1.1466.109.114.2",
            "caseIgnoreIA5Match",
            IA5_STRING,
        ),
        (
            "1.3.6.1.4.1.1466.109.114.3",
            "caseIgnoreIA5SubstringsMatch",
            IA5_STRING,
        ),
        ("2.5.13.0", "objectIdentifierMatch", OID_SYNTAX),
        ("2.5.13.1", "distinguishedNameMatch", DN_SYNTAX),
        ("2.5.13.14", "integerMatch", INTEGER_SYNTAX),
        ("2.5.13.13", "booleanMatch", BOOLEAN_SYNTAX),
    ]
    .iter()
    .map(|(oid, n, s)| format!("( {oid} NAME '{n}' SYNTAX {s} )"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_oids_resolve() {
        assert_eq!(attr_type("CN").map(|a| a.name), Some("cn"));
        assert_eq!(attr_type("commonName").map(|a| a.name), Some("cn"));
        assert_eq!(attr_type("2.5.4.3").map(|a| a.name), Some("cn"));
        assert_eq!(attr_type("RFC822Mailbox").map(|a| a.name), Some("mail"));
        let (t, bin) = parse_description("userCertificate;BINARY");
        assert_eq!(t.map(|a| a.name), Some("userCertificate"));
        assert!(bin);
        assert!(attr_type("nosuch").is_none());
        assert!(
            attribute_type_descriptions()
                .iter()
                .any(|d| d.contains("'userSMIMECertificate'"))
        );
    }
}
