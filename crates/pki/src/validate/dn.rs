//! Distinguished-name comparison for path building (RFC 5280 §7.1): two names match when
//! they have the same number of RDNs, in the same order, and each pair of RDNs holds the same
//! set of attribute types whose values compare equal after the string preparation of
//! RFC 4518 (insignificant whitespace removed, case folded) — the rule PKITS §4.3 tests
//! (whitespace, capitalisation, PrintableString → UTF8String rollover). Non-string values,
//! and string values that do not decode, compare by their DER encoding.
//!
//! Deliberate simplifications of RFC 4518: case folding is Unicode lower-casing and the
//! NFKC normalisation step (§2.3) and the prohibited-character check (§2.4) are skipped.
//! UniversalString values cannot occur: der 0.8 rejects that tag when the name is decoded.

use crate::ParsedCertificate;
use der::{Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;

/// A name reduced to a canonical byte string: equal keys ⇔ names that match per RFC 5280
/// §7.1. Computed once per certificate so that path building compares and hashes bytes.
///
/// The key is a sequence of length-prefixed RDN keys, each a sorted, de-duplicated
/// sequence of length-prefixed attribute keys, so RDN boundaries stay recoverable: one key
/// is a byte prefix of another exactly when its name is an RDN-wise prefix of the other's
/// (see [`NameKey::is_prefix_of`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameKey(Vec<u8>);

/// Marks an attribute value compared as an RFC 4518 prepared string.
const PREPARED_STRING: u8 = 0;
/// Marks an attribute value compared by its complete DER encoding (tag, length, value).
const DER_VALUE: u8 = 1;

impl NameKey {
    /// The canonical key of `name` (RFC 5280 §7.1).
    pub fn of(name: &Name) -> NameKey {
        let mut key = Vec::with_capacity(64 * name.len());
        let mut attribute_keys: Vec<Vec<u8>> = Vec::new();
        for rdn in name.iter_rdn() {
            attribute_keys.clear();
            attribute_keys.extend(rdn.iter().map(attribute_key));
            // An RDN is a SET: compare its attributes regardless of their encoded order.
            attribute_keys.sort_unstable();
            attribute_keys.dedup();
            let rdn_len: usize = attribute_keys.iter().map(|k| 4 + k.len()).sum();
            push_length(&mut key, rdn_len);
            for attribute in &attribute_keys {
                push_length(&mut key, attribute.len());
                key.extend_from_slice(attribute);
            }
        }
        NameKey(key)
    }

    /// The canonical bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the name has no RDNs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether this name's RDNs match the first RDNs of `other`, in order (RFC 5280
    /// §4.2.1.10: a directoryName subtree holds every name that starts with its base). A
    /// name is a prefix of itself; the empty name is a prefix of every name.
    pub fn is_prefix_of(&self, other: &NameKey) -> bool {
        // Every RDN key is length-prefixed, so a byte prefix that is itself a whole key
        // ends on an RDN boundary of `other`.
        other.0.starts_with(&self.0)
    }
}

/// Whether `cert` is self-issued (RFC 5280 §6.1: its subject and issuer match per §7.1).
pub fn is_self_issued(cert: &ParsedCertificate) -> bool {
    let tbs = cert.inner().tbs_certificate();
    NameKey::of(tbs.subject()) == NameKey::of(tbs.issuer())
}

/// Appends a four-octet big-endian length. Names come from certificates of at most 64 KiB,
/// so every length fits; a larger one saturates, which cannot collide with a real length.
fn push_length(key: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    key.extend_from_slice(&len.to_be_bytes());
}

/// The key of one AttributeTypeAndValue: the length-prefixed type OID, then the value as a
/// prepared string or as DER.
fn attribute_key(attribute: &AttributeTypeAndValue) -> Vec<u8> {
    let oid = attribute.oid.as_bytes();
    let value = attribute.value.value();
    let mut key = Vec::with_capacity(oid.len() + value.len() + 8);
    push_length(&mut key, oid.len());
    key.extend_from_slice(oid);
    match decode_directory_string(attribute.value.tag(), value) {
        Some(text) => {
            key.push(PREPARED_STRING);
            prepare_string_into(&text, &mut key);
        }
        None => {
            key.push(DER_VALUE);
            match der::Encode::to_der(&attribute.value) {
                Ok(encoded) => key.extend_from_slice(&encoded),
                // Unreachable for a decoded value; keep the key unambiguous regardless.
                Err(_) => {
                    key.extend_from_slice(&[0xff]);
                    key.extend_from_slice(value);
                }
            }
        }
    }
    key
}

/// The text of a string-typed attribute value, or `None` when the tag is not a string type
/// or the octets do not decode. PrintableString, IA5String, VisibleString and NumericString
/// must be ASCII; TeletexString is read as ISO 8859-1 (as OpenSSL does); BMPString is UCS-2
/// (UTF-16BE without surrogates).
pub(crate) fn decode_directory_string(tag: Tag, value: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match tag {
        Tag::Utf8String => std::str::from_utf8(value).ok().map(Cow::Borrowed),
        Tag::PrintableString | Tag::Ia5String | Tag::VisibleString | Tag::NumericString => {
            if value.is_ascii() {
                std::str::from_utf8(value).ok().map(Cow::Borrowed)
            } else {
                None
            }
        }
        Tag::TeletexString => Some(Cow::Owned(value.iter().map(|&b| char::from(b)).collect())),
        Tag::BmpString => {
            if !value.len().is_multiple_of(2) {
                return None;
            }
            let units = value
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
                .map(Cow::Owned)
        }
        _ => None,
    }
}

/// What RFC 4518 §2.2 maps a character to.
enum Mapped {
    Nothing,
    Space,
    Keep,
}

/// RFC 4518 §2.2 (Map), without case folding.
fn map_character(c: char) -> Mapped {
    match c {
        // Mapped to SPACE: the whitespace controls and every other separator (Zs, Zl, Zp).
        '\u{0009}'..='\u{000D}'
        | '\u{0085}'
        | ' '
        | '\u{00A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => Mapped::Space,
        // Mapped to nothing: soft hyphens, joiners, variation selectors, the object
        // replacement character, zero-width space and the other control and format
        // characters the RFC lists.
        '\u{0000}'..='\u{0008}'
        | '\u{000E}'..='\u{001F}'
        | '\u{007F}'..='\u{0084}'
        | '\u{0086}'..='\u{009F}'
        | '\u{00AD}'
        | '\u{034F}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{1806}'
        | '\u{180B}'..='\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2063}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFC}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}' => Mapped::Nothing,
        _ => Mapped::Keep,
    }
}

/// Appends the RFC 4518 preparation of `text` for caseIgnoreMatch to `out` as UTF-8:
/// characters mapped (§2.2), case folded (as Unicode lower case), and insignificant
/// space removed (§2.6.1: no leading or trailing space, inner runs of space as one).
fn prepare_string_into(text: &str, out: &mut Vec<u8>) {
    let mut pending_space = false;
    let mut wrote_any = false;
    let mut utf8 = [0u8; 4];
    for c in text.chars() {
        match map_character(c) {
            Mapped::Nothing => {}
            Mapped::Space => pending_space = wrote_any,
            Mapped::Keep => {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                wrote_any = true;
                if c.is_ascii() {
                    out.push(c.to_ascii_lowercase() as u8);
                } else {
                    for lower in c.to_lowercase() {
                        out.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
                    }
                }
            }
        }
    }
}

/// The RFC 4518 prepared form of `text` (for tests and diagnostics).
#[cfg(test)]
fn prepared(text: &str) -> String {
    let mut out = Vec::new();
    prepare_string_into(text, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::Any;
    use der::{Decode, Encode};
    use std::str::FromStr;
    use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

    fn key(s: &str) -> NameKey {
        if s.is_empty() {
            return NameKey::of(&Name::default());
        }
        NameKey::of(&Name::from_str(s).expect("test name parses"))
    }

    /// A name from (OID, tag, value octets) RDNs, each single-valued.
    fn name_of(rdns: &[(&str, Tag, &[u8])]) -> Name {
        let mut seq = RdnSequence::default();
        for (oid, tag, value) in rdns {
            let atv = AttributeTypeAndValue {
                oid: const_oid::ObjectIdentifier::new_unwrap(oid),
                value: Any::new(*tag, *value).expect("test value"),
            };
            seq.push(RelativeDistinguishedName::try_from(vec![atv]).expect("one attribute"));
        }
        Name::from_der(&seq.to_der().expect("encodes")).expect("decodes")
    }

    const CN: &str = "2.5.4.3";
    const O: &str = "2.5.4.10";

    #[test]
    fn identical_names_match() {
        assert_eq!(key("CN=Good CA,O=Test,C=US"), key("CN=Good CA,O=Test,C=US"));
    }

    #[test]
    fn different_values_do_not_match() {
        assert_ne!(key("CN=Good CA,O=Test,C=US"), key("CN=Bad CA,O=Test,C=US"));
    }

    #[test]
    fn rdn_order_matters() {
        // PKITS 4.3.2: the same RDNs in another order are another name.
        assert_ne!(key("CN=a,O=b"), key("O=b,CN=a"));
    }

    #[test]
    fn rdn_count_matters() {
        assert_ne!(key("CN=a,O=b"), key("CN=a,O=b,C=US"));
        assert_ne!(key("CN=a"), key(""));
    }

    #[test]
    fn whitespace_is_insignificant() {
        // PKITS 4.3.3 and 4.3.4.
        assert_eq!(key("CN=  Good   CA ,O=Test"), key("CN=Good CA,O=Test"));
        assert_eq!(key("CN=Good\tCA,O=Test"), key("CN=Good CA,O=Test"));
        assert_ne!(key("CN=GoodCA,O=Test"), key("CN=Good CA,O=Test"));
    }

    #[test]
    fn case_is_insignificant() {
        // PKITS 4.3.5 (ASCII) and 4.3.11 (UTF8String beyond ASCII).
        assert_eq!(key("CN=GOOD ca,O=TEST"), key("CN=good CA,O=test"));
        assert_eq!(key("CN=ÉCOLE Ärger"), key("CN=école ärger"));
    }

    #[test]
    fn printable_and_utf8_strings_match() {
        // PKITS 4.3.10: rollover from PrintableString to UTF8String.
        let printable = name_of(&[(O, Tag::PrintableString, b"Test  Certificates")]);
        let utf8 = name_of(&[(O, Tag::Utf8String, b"test certificates")]);
        assert_eq!(NameKey::of(&printable), NameKey::of(&utf8));
    }

    #[test]
    fn bmp_and_teletex_strings_decode() {
        let bmp = name_of(&[(CN, Tag::BmpString, &[0, b'A', 0, b'b'])]);
        let teletex = name_of(&[(CN, Tag::TeletexString, b"ab")]);
        assert_eq!(NameKey::of(&bmp), NameKey::of(&teletex));
        assert_eq!(NameKey::of(&bmp), key("CN=AB"));
    }

    #[test]
    fn non_strings_compare_by_der() {
        let a = name_of(&[(CN, Tag::OctetString, b"ab")]);
        let b = name_of(&[(CN, Tag::OctetString, b"AB")]);
        let c = name_of(&[(CN, Tag::OctetString, b"ab")]);
        assert_ne!(NameKey::of(&a), NameKey::of(&b));
        assert_eq!(NameKey::of(&a), NameKey::of(&c));
        // An octet string never equals a character string with the same octets.
        assert_ne!(NameKey::of(&a), key("CN=ab"));
    }

    #[test]
    fn undecodable_strings_compare_by_der() {
        let bad_utf8 = name_of(&[(CN, Tag::Utf8String, &[0xff, 0x41])]);
        let other = name_of(&[(CN, Tag::Utf8String, &[0xff, 0x61])]);
        assert_ne!(NameKey::of(&bad_utf8), NameKey::of(&other));
    }

    #[test]
    fn attribute_types_matter() {
        assert_ne!(key("CN=a"), key("O=a"));
    }

    #[test]
    fn multi_valued_rdns_compare_as_sets() {
        assert_eq!(key("OU=x+CN=y,O=z"), key("CN=y+OU=x,O=z"));
        assert_eq!(key("OU=X+CN=y,O=z"), key("CN=Y+OU=x,O=z"));
        // A multi-valued RDN is not the same as the values in separate RDNs.
        assert_ne!(key("OU=x+CN=y,O=z"), key("OU=x,CN=y,O=z"));
    }

    #[test]
    fn keys_are_unambiguous() {
        // Value boundaries cannot shift between attributes or RDNs.
        assert_ne!(key("CN=ab,O=c"), key("CN=a,O=bc"));
        assert_ne!(key("CN=a+O=b"), key("CN=a,O=b"));
    }

    #[test]
    fn prefixes_follow_rdn_boundaries() {
        // Names print most-specific RDN first, so a prefix drops RDNs from the left.
        let base = key("O=Test,C=US");
        assert!(base.is_prefix_of(&key("CN=Alice,O=Test,C=US")));
        assert!(base.is_prefix_of(&key("CN=Alice,OU=x,O=Test,C=US")));
        assert!(base.is_prefix_of(&base));
        assert!(key("").is_prefix_of(&base));
        assert!(!base.is_prefix_of(&key("CN=Alice,O=Other,C=US")));
        assert!(!base.is_prefix_of(&key("C=US")));
        // A value that merely starts the same is not a prefix.
        assert!(!key("O=Te,C=US").is_prefix_of(&key("CN=A,O=Test,C=US")));
        // Preparation applies to prefixes too.
        assert!(key("O= TEST ,C=us").is_prefix_of(&key("CN=A,O=Test,C=US")));
    }

    #[test]
    fn preparation_follows_rfc_4518() {
        assert_eq!(prepared("  Hello \u{00A0}\u{3000} World  "), "hello world");
        assert_eq!(prepared("soft\u{00AD}hyphen\u{200B}"), "softhyphen");
        assert_eq!(prepared("a\r\nb"), "a b");
        assert_eq!(prepared("   "), "");
        assert_eq!(prepared("ΣΑΣ"), "σασ");
    }
}
