//! Which x509-limbo `features` Cachet's validator implements. A testcase tagged with a
//! feature that is not implemented is SKIPPED (the suite's rule: never guess), with the
//! reason given here as its context.

/// Why Cachet does not run testcases with `feature`, or `None` when it implements it.
pub fn unsupported(feature: &str) -> Option<&'static str> {
    match feature {
        // RFC 5280 §6.1 policy processing (PKITS 4.8–4.12 pass).
        "has-policy-constraints" | "has-cert-policies" | "no-cert-policies" => None,
        // directoryName constraints are evaluated against the subject and SAN entries.
        "name-constraint-dn" => None,
        // ValidationOptions::max_depth bounds the path.
        "max-chain-depth" => None,
        // Path building is bounded in depth, candidate paths and signature checks, and
        // name-constraint checking in comparisons.
        "denial-of-service" => None,
        // CRLs given as input are checked (RFC 5280 §6.3).
        "has-crl" => None,
        "pedantic-public-suffix-wildcard" => Some(
            "Cachet has no public suffix list, so it cannot refuse wildcards over a public suffix",
        ),
        "pedantic-webpki-subscriber-key" => Some(
            "Cachet accepts weak end-entity keys (small RSA, DSA, P-192) with a weak-algorithm warning, so old mail stays readable; webpki key rules are not applied",
        ),
        "pedantic-webpki-eku" => Some(
            "Cachet follows RFC 5280 §4.2.1.12 for extKeyUsage (absent or anyExtendedKeyUsage allows every purpose); the stricter webpki rules are not applied",
        ),
        "pedantic-serial-number" => Some(
            "Cachet does not police serial number encodings (zero, negative, over 20 octets) when validating",
        ),
        "pedantic-rfc5280" => Some(
            "Cachet does not refuse certificates for omitting fields RFC 5280 requires of conforming CAs only (such as authorityKeyIdentifier)",
        ),
        "rfc5280-incompatible-with-webpki" => Some(
            "Cachet processes non-critical nameConstraints rather than refusing them (the web PKI's choice, tested by webpki::nc::permitted-dns-match-noncritical)",
        ),
        _ => Some("a feature this harness does not know"),
    }
}

/// Testcases that expect the opposite of what NIST PKITS requires of a relying party, with
/// the PKITS tests: SKIPPED, since Cachet follows PKITS (247/247).
const PKITS_CONTRADICTIONS: [(&str, &str); 2] = [
    (
        "rfc5280::pc::ica-noncritical-pc",
        "PKITS 4.8.6, 4.8.10, 4.8.11, 4.8.13, 4.10.x expect paths through CAs whose policyConstraints is not critical to be valid",
    ),
    (
        "rfc5280::root-non-critical-basic-constraints",
        "PKITS 4.6.4 (Valid basicConstraints Not Critical Test4) expects a CA whose basicConstraints is not critical to be accepted",
    ),
];

/// Groups of testcases for rules Cachet does not implement although the suite does not tag
/// them with a feature: (id prefix, why).
const UNIMPLEMENTED_RULES: [(&str, &str); 1] = [(
    "webpki::cn::",
    "the CA/Browser Forum TLS BR §7.1.4.3 subject commonName rules are issuance rules Cachet does not judge (no client reads the CN as the name when a subjectAltName is present); the suite's other webpki cases do not follow them either (their certificates carry CN=example.com beside other names)",
)];

/// Why the testcase `id` tests a rule Cachet does not implement, if it does.
pub fn unimplemented_rule(id: &str) -> Option<&'static str> {
    UNIMPLEMENTED_RULES
        .iter()
        .find(|(prefix, _)| id.starts_with(prefix))
        .map(|(_, why)| *why)
}

/// Why the testcase `id` contradicts PKITS, if it does.
pub fn contradicts_pkits(id: &str) -> Option<&'static str> {
    PKITS_CONTRADICTIONS
        .iter()
        .find(|(c, _)| *c == id)
        .map(|(_, why)| *why)
}

/// Testcases whose behaviour Cachet implements where the suite holds a contradicting one
/// (`conflicts_with`), with why; the contradicting testcase is SKIPPED.
const CHOSEN: [(&str, &str); 2] = [
    (
        "rfc5280::eku::ee-without-eku",
        "without extKeyUsage a certificate is not restricted in purpose (RFC 5280 §4.2.1.12)",
    ),
    (
        "webpki::nc::permitted-dns-match-noncritical",
        "non-critical nameConstraints are processed, not refused",
    ),
];

/// The testcase among `conflicts_with` whose contradicting behaviour Cachet implements,
/// with why.
pub fn chosen_conflict(conflicts_with: &[String]) -> Option<(&str, &'static str)> {
    conflicts_with.iter().find_map(|id| {
        CHOSEN
            .iter()
            .find(|(chosen, _)| chosen == id)
            .map(|(_, why)| (id.as_str(), *why))
    })
}

/// The first feature of `features` that Cachet does not implement, with why.
pub fn first_unsupported(features: &[String]) -> Option<(&str, &'static str)> {
    features
        .iter()
        .find_map(|f| unsupported(f).map(|why| (f.as_str(), why)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implemented_features_run_and_others_skip() {
        assert_eq!(unsupported("has-crl"), None);
        assert_eq!(unsupported("denial-of-service"), None);
        assert!(unsupported("pedantic-serial-number").is_some());
        assert!(unsupported("something-new").is_some());
        let f = vec![
            "max-chain-depth".to_string(),
            "pedantic-rfc5280".to_string(),
        ];
        assert_eq!(first_unsupported(&f).map(|x| x.0), Some("pedantic-rfc5280"));
        assert_eq!(first_unsupported(&f[..1]), None);
        let c = vec![
            "x::y".to_string(),
            "rfc5280::eku::ee-without-eku".to_string(),
        ];
        assert_eq!(
            chosen_conflict(&c).map(|x| x.0),
            Some("rfc5280::eku::ee-without-eku")
        );
        assert_eq!(chosen_conflict(&c[..1]), None);
        assert!(contradicts_pkits("rfc5280::pc::ica-noncritical-pc").is_some());
        assert!(contradicts_pkits("rfc5280::pc::ica-critical-pc").is_none());
    }
}
