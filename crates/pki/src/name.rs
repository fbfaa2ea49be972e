//! Distinguished names (RFC 5280 §4.1.2.4, X.501) as Cachet writes them.
//!
//! Names are built here and kept as DER: an issuer name in a certificate is copied byte for
//! byte from the issuer's subject, so name matching never depends on re-encoding.

use crate::error::{PkiError, Result};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519;
use der::asn1::{Any, SetOfVec};
use der::{Encode, Sequence, Tag};

/// AttributeTypeAndValue (RFC 5280 §4.1.2.4).
#[derive(Clone, Debug, Eq, PartialEq, PartialOrd, Ord, Sequence)]
struct AttributeTypeAndValue {
    r#type: ObjectIdentifier,
    value: Any,
}

impl der::DerOrd for AttributeTypeAndValue {
    fn der_cmp(&self, other: &Self) -> der::Result<std::cmp::Ordering> {
        Ok(self.to_der()?.cmp(&other.to_der()?))
    }
}

/// A name under construction: an ordered list of single-valued RDNs.
#[derive(Debug, Clone, Default)]
pub struct NameBuilder {
    rdns: Vec<(ObjectIdentifier, Tag, String)>,
}

/// Unicode format characters (category Cf) that can make a name display differently from
/// what it is: bidirectional controls, zero-width characters, the BOM.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
    )
}

/// Upper bounds of RFC 5280 Appendix A (ub-common-name 64, ub-organization-name 64).
const UB_NAME: usize = 64;

impl NameBuilder {
    /// An empty name.
    pub fn new() -> Self {
        Self::default()
    }

    /// countryName (PrintableString, two letters, ISO 3166).
    pub fn country(mut self, c: &str) -> Result<Self> {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PkiError::invalid(
                "countryName",
                format!("'{c}' is not a two-letter ISO 3166 code"),
            ));
        }
        self.rdns
            .push((rfc4519::C, Tag::PrintableString, c.to_string()));
        Ok(self)
    }

    /// organizationName (UTF8String).
    pub fn organization(self, o: &str) -> Result<Self> {
        self.utf8(rfc4519::O, "organizationName", o)
    }

    /// commonName (UTF8String).
    pub fn common_name(self, cn: &str) -> Result<Self> {
        self.utf8(rfc4519::CN, "commonName", cn)
    }

    fn utf8(mut self, oid: ObjectIdentifier, what: &'static str, v: &str) -> Result<Self> {
        if v.is_empty() || v.chars().count() > UB_NAME {
            return Err(PkiError::invalid(
                what,
                format!("must be 1 to {UB_NAME} characters"),
            ));
        }
        if v.trim().is_empty() {
            return Err(PkiError::invalid(what, "must not be only spaces"));
        }
        if v.chars().any(|c| c.is_control() || is_format_char(c)) {
            return Err(PkiError::invalid(
                what,
                "must not contain control or bidirectional formatting characters",
            ));
        }
        self.rdns.push((oid, Tag::Utf8String, v.to_string()));
        Ok(self)
    }

    /// DER of the Name (an RDNSequence).
    pub fn to_der(&self) -> Result<Vec<u8>> {
        let enc = |e: der::Error| PkiError::invalid("name", e.to_string());
        let mut rdns: Vec<SetOfVec<AttributeTypeAndValue>> = Vec::with_capacity(self.rdns.len());
        for (oid, tag, value) in &self.rdns {
            let any = Any::new(*tag, value.as_bytes()).map_err(enc)?;
            let mut set = SetOfVec::new();
            set.insert(AttributeTypeAndValue {
                r#type: *oid,
                value: any,
            })
            .map_err(enc)?;
            rdns.push(set);
        }
        rdns.to_der().map_err(enc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;

    #[test]
    fn builds_a_name_x509_cert_reads() {
        let der = NameBuilder::new()
            .country("DE")
            .unwrap()
            .organization("Example, Inc.")
            .unwrap()
            .common_name("Example Root CA")
            .unwrap()
            .to_der()
            .unwrap();
        let n = x509_cert::name::Name::from_der(&der).unwrap();
        assert_eq!(n.to_string(), "CN=Example Root CA,O=Example\\, Inc.,C=DE");
        assert!(NameBuilder::new().country("de").is_err());
        assert!(NameBuilder::new().common_name(&"x".repeat(65)).is_err());
        assert!(NameBuilder::new().organization("   ").is_err());
        assert!(NameBuilder::new().organization("Evil\u{202E}gro").is_err());
    }
}
