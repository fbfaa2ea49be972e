//! Runs one testcase: maps its inputs onto [`cachet_pki::validate::validate`], then checks
//! the peer names (and key usages) the relying party asked for. No validation logic of its
//! own: whatever is about the path is the validator's.

use crate::features;
use crate::testcase::{Kind, Peer, PeerKind, Testcase};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::ParsedCrl;
use cachet_pki::validate::names::{PeerName, cert_matches_peer};
use cachet_pki::validate::{
    Material, Purpose, RevocationPolicy, TrustAnchor, ValidationOptions, validate,
};
use cachet_pki::verdict::Severity;
use std::net::IpAddr;
use x509_cert::ext::pkix::KeyUsages;

/// `actual_result` with its `context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success(String),
    Failure(String),
    Skipped(String),
}

impl Outcome {
    /// The limbo name of the result.
    pub fn result(&self) -> &'static str {
        match self {
            Outcome::Success(_) => "SUCCESS",
            Outcome::Failure(_) => "FAILURE",
            Outcome::Skipped(_) => "SKIPPED",
        }
    }

    /// The explanation.
    pub fn context(&self) -> &str {
        match self {
            Outcome::Success(c) | Outcome::Failure(c) | Outcome::Skipped(c) => c,
        }
    }
}

/// Evaluates `case`; `now` (seconds since the epoch) stands in for an absent
/// `validation_time`.
pub fn run(case: &Testcase, now: u64) -> Outcome {
    match evaluate(case, now) {
        Ok(o) | Err(o) => o,
    }
}

fn evaluate(case: &Testcase, now: u64) -> Result<Outcome, Outcome> {
    if let Some((feature, why)) = features::first_unsupported(&case.features) {
        return Err(Outcome::Skipped(format!(
            "feature {feature} is not implemented: {why}"
        )));
    }
    if let Some(why) = features::unimplemented_rule(&case.id) {
        return Err(Outcome::Skipped(format!("not implemented: {why}")));
    }
    if let Some(why) = features::contradicts_pkits(&case.id) {
        return Err(Outcome::Skipped(format!(
            "contradicts NIST PKITS, which Cachet passes: {why}"
        )));
    }
    if let Some((chosen, why)) = features::chosen_conflict(&case.conflicts_with) {
        return Err(Outcome::Skipped(format!(
            "conflicts with {chosen}, whose behaviour Cachet implements: {why}"
        )));
    }
    if !case.signature_algorithms.is_empty() {
        return Err(Outcome::Skipped(
            "signature_algorithms: Cachet's validator takes no list of acceptable signature algorithms"
                .into(),
        ));
    }
    let purpose = purpose(case)?;
    let key_usages = key_usages(&case.key_usage)?;
    let at = match &case.validation_time {
        None => now,
        Some(t) => parse_time(t).map_err(|e| unusable(&e))?,
    };

    let leaf = parse_one(&case.peer_certificate, "the peer certificate")?;
    let anchors = case
        .trusted_certs
        .iter()
        .enumerate()
        .map(|(i, pem)| parse_one(pem, &format!("trusted certificate {i}")).map(TrustAnchor::new))
        .collect::<Result<Vec<_>, _>>()?;
    let intermediates = case
        .untrusted_intermediates
        .iter()
        .enumerate()
        .map(|(i, pem)| parse_one(pem, &format!("untrusted intermediate {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let crls = case
        .crls
        .iter()
        .enumerate()
        .map(|(i, pem)| parse_crl(pem, i))
        .collect::<Result<Vec<_>, _>>()?;

    let mut opts = ValidationOptions::new(at, purpose);
    // The suite's `webpki::` namespace tests the web PKI's profile for TLS servers (CA/B
    // Forum TLS BR) on top of RFC 5280; the other namespaces test RFC 5280 alone.
    opts.web_pki = case.id.starts_with("webpki::");
    opts.revocation = if crls.is_empty() {
        RevocationPolicy::Off
    } else {
        RevocationPolicy::Require
    };
    if let Some(depth) = case.max_chain_depth {
        // limbo counts the intermediates that are not self-issued; Cachet's bound counts
        // the same plus the leaf.
        opts.max_depth = usize::try_from(depth)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
    }
    let material = Material {
        anchors: &anchors,
        intermediates: &intermediates,
        crls: &crls,
        // Offline: the testcase's certificates and CRLs are all there is.
        ..Material::default()
    };
    let validation = validate(&leaf, &material, &opts);
    let errors: Vec<String> = validation
        .verdict
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(Outcome::Failure(errors.join("; ")));
    }

    check_key_usages(&leaf, &key_usages)?;
    for peer in &case.peer_names {
        check_peer(&leaf, peer)?;
    }
    Ok(Outcome::Success(format!(
        "valid: a path of {} certificates to a trust anchor",
        validation.chain.len()
    )))
}

/// A testcase whose inputs cannot be mapped: reported as SKIPPED, since nothing was
/// evaluated.
fn unusable(why: &str) -> Outcome {
    Outcome::Skipped(format!("unusable testcase: {why}"))
}

/// The purpose for `extended_key_usage` (empty: the one of the validation kind).
fn purpose(case: &Testcase) -> Result<Purpose, Outcome> {
    match case.extended_key_usage.as_slice() {
        [] => Ok(match case.kind {
            Kind::Server => Purpose::ServerAuth,
            Kind::Client => Purpose::ClientAuth,
        }),
        [one] if one == "serverAuth" => Ok(Purpose::ServerAuth),
        [one] if one == "clientAuth" => Ok(Purpose::ClientAuth),
        other => Err(Outcome::Skipped(format!(
            "extended_key_usage {other:?}: the harness maps only serverAuth or clientAuth alone onto a validation purpose"
        ))),
    }
}

fn key_usages(names: &[String]) -> Result<Vec<KeyUsages>, Outcome> {
    names
        .iter()
        .map(|n| {
            Ok(match n.as_str() {
                "digitalSignature" => KeyUsages::DigitalSignature,
                "contentCommitment" => KeyUsages::NonRepudiation,
                "keyEncipherment" => KeyUsages::KeyEncipherment,
                "dataEncipherment" => KeyUsages::DataEncipherment,
                "keyAgreement" => KeyUsages::KeyAgreement,
                "keyCertSign" => KeyUsages::KeyCertSign,
                "cRLSign" => KeyUsages::CRLSign,
                "encipherOnly" => KeyUsages::EncipherOnly,
                "decipherOnly" => KeyUsages::DecipherOnly,
                other => return Err(unusable(&format!("unknown key usage {other:?}"))),
            })
        })
        .collect()
}

/// An RFC 3339 time, floored to the second (as limbo's validity cases require).
fn parse_time(s: &str) -> Result<u64, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("validation_time {s:?} is not an RFC 3339 time: {e}"))?;
    u64::try_from(t.unix_timestamp()).map_err(|_| format!("validation_time {s:?} is before 1970"))
}

/// Exactly one certificate from PEM; one that does not parse is not valid.
fn parse_one(pem: &str, what: &str) -> Result<ParsedCertificate, Outcome> {
    let mut certs = ParsedCertificate::from_pem_or_der(pem.as_bytes())
        .map_err(|e| Outcome::Failure(format!("{what} cannot be parsed: {e}")))?;
    match (certs.pop(), certs.is_empty()) {
        (Some(c), true) => Ok(c),
        _ => Err(Outcome::Failure(format!(
            "{what} is not exactly one PEM certificate"
        ))),
    }
}

fn parse_crl(pem: &str, i: usize) -> Result<ParsedCrl, Outcome> {
    let ders = cachet_pki::pem::der_objects(pem.as_bytes(), &["X509 CRL"], "CRL")
        .map_err(|e| Outcome::Failure(format!("CRL {i} cannot be read: {e}")))?;
    match ders.as_slice() {
        [der] => ParsedCrl::from_der(der)
            .map_err(|e| Outcome::Failure(format!("CRL {i} cannot be parsed: {e}"))),
        _ => Err(Outcome::Failure(format!(
            "CRL {i} is not exactly one PEM CRL"
        ))),
    }
}

/// The relying party's key usages: each must be asserted by the leaf's keyUsage when the
/// leaf has one (RFC 5280 §4.2.1.3: without the extension, no usage is restricted).
fn check_key_usages(leaf: &ParsedCertificate, wanted: &[KeyUsages]) -> Result<(), Outcome> {
    if wanted.is_empty() {
        return Ok(());
    }
    match leaf.key_usage() {
        Ok(None) => Ok(()),
        Ok(Some((_, ku))) => match wanted.iter().find(|u| !ku.0.contains(**u)) {
            None => Ok(()),
            Some(u) => Err(Outcome::Failure(format!(
                "the leaf's keyUsage lacks {u:?}, which the relying party requires"
            ))),
        },
        Err(e) => Err(Outcome::Failure(format!(
            "the leaf's keyUsage cannot be read: {e}"
        ))),
    }
}

/// The expected peer name must be among the leaf's subjectAltNames (RFC 6125 §6.4,
/// RFC 8550 §3).
fn check_peer(leaf: &ParsedCertificate, peer: &Peer) -> Result<(), Outcome> {
    let name = match peer.kind {
        PeerKind::Dns => PeerName::Dns(&peer.value),
        PeerKind::Rfc822 => PeerName::Rfc822(&peer.value),
        PeerKind::Ip => match peer.value.parse::<IpAddr>() {
            Ok(ip) => PeerName::Ip(ip),
            Err(_) => {
                return Err(unusable(&format!(
                    "expected IP peer name {:?} is not an IP address",
                    peer.value
                )));
            }
        },
    };
    if cert_matches_peer(leaf, name) {
        Ok(())
    } else {
        Err(Outcome::Failure(format!(
            "the certificate does not name the expected peer {:?} in its subjectAltName",
            peer.value
        )))
    }
}
