//! The validation inputs every verifying command takes (`smime verify`, `pki validate`,
//! `doctor`): trust anchors, intermediates, CRLs, the time, the RFC 5280 §6.1.1 policy
//! inputs and the revocation policy — read and checked once, here.

use crate::io::{CliError, Result, read_file};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::ParsedCrl;
use cachet_pki::validate::{ANY_POLICY, PolicyInputs, RevocationPolicy, TrustAnchor};
use const_oid::ObjectIdentifier;
use std::path::{Path, PathBuf};

/// How much revocation checking to do.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationArg {
    /// Do not check revocation.
    Off,
    /// Check when a CRL is at hand; an unknown status is a warning.
    Prefer,
    /// Every certificate of the chain must have a known status from a current CRL.
    Require,
}

impl From<RevocationArg> for RevocationPolicy {
    fn from(a: RevocationArg) -> Self {
        match a {
            RevocationArg::Off => RevocationPolicy::Off,
            RevocationArg::Prefer => RevocationPolicy::Prefer,
            RevocationArg::Require => RevocationPolicy::Require,
        }
    }
}

/// Trust and validation flags.
#[derive(clap::Args, Debug, Clone)]
pub struct TrustArgs {
    /// Trust anchors (PEM bundle or DER); repeatable.
    #[arg(long, value_name = "FILE")]
    pub trust: Vec<PathBuf>,
    /// More certificates that may complete the chain (PEM bundle or DER); repeatable.
    #[arg(long, value_name = "FILE")]
    pub intermediates: Vec<PathBuf>,
    /// CRLs to check revocation against (PEM, several per file, or DER); repeatable.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// Check validity at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// An acceptable certificate policy (RFC 5280 user-initial-policy-set; dotted OID or
    /// `anyPolicy`); repeatable. Default: any policy.
    #[arg(long = "policy", value_name = "OID")]
    pub policies: Vec<String>,
    /// Require a valid certificate policy on the whole chain (initial-explicit-policy).
    #[arg(long)]
    pub explicit_policy: bool,
    /// Do not follow policy mappings (initial-policy-mapping-inhibit).
    #[arg(long)]
    pub inhibit_policy_mapping: bool,
    /// Do not accept anyPolicy in certificates (initial-any-policy-inhibit).
    #[arg(long)]
    pub inhibit_any_policy: bool,
    /// Revocation checking.
    #[arg(long, value_enum, default_value = "prefer")]
    pub revocation: RevocationArg,
}

/// The inputs, read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub anchors: Vec<TrustAnchor>,
    pub intermediates: Vec<ParsedCertificate>,
    pub crls: Vec<ParsedCrl>,
    pub at: u64,
    pub policy: PolicyInputs,
    pub revocation: RevocationPolicy,
}

impl TrustArgs {
    /// Reads every file and parses every flag; `now` is the time when `--at` is absent.
    pub fn load(&self, now: u64) -> Result<Loaded> {
        let mut anchors = Vec::new();
        for p in &self.trust {
            anchors.extend(
                read_certs(p, "trust anchor")?
                    .into_iter()
                    .map(TrustAnchor::new),
            );
        }
        let mut intermediates = Vec::new();
        for p in &self.intermediates {
            intermediates.extend(read_certs(p, "intermediates")?);
        }
        let mut crls = Vec::new();
        for p in &self.crl {
            crls.extend(read_crls(p)?);
        }
        let at = match &self.at {
            Some(s) => parse_time(s)?,
            None => now,
        };
        let mut initial = Vec::new();
        for p in &self.policies {
            initial.push(parse_policy(p)?);
        }
        Ok(Loaded {
            anchors,
            intermediates,
            crls,
            at,
            policy: PolicyInputs {
                initial_policy_set: initial,
                initial_explicit_policy: self.explicit_policy,
                initial_policy_mapping_inhibit: self.inhibit_policy_mapping,
                initial_any_policy_inhibit: self.inhibit_any_policy,
            },
            revocation: self.revocation.into(),
        })
    }
}

/// A policy OID, dotted or `anyPolicy`.
fn parse_policy(s: &str) -> Result<ObjectIdentifier> {
    if s == "anyPolicy" {
        return Ok(ANY_POLICY);
    }
    ObjectIdentifier::new(s).map_err(|e| {
        CliError(format!(
            "--policy '{s}' is not an OID (e.g. 2.16.840.1.101.3.2.1.48.1) or anyPolicy: {e}"
        ))
    })
}

/// Every certificate of a PEM bundle or one DER certificate.
pub fn read_certs(path: &Path, what: &str) -> Result<Vec<ParsedCertificate>> {
    let bytes = read_file(path, what)?;
    ParsedCertificate::from_pem_or_der(&bytes)
        .map_err(|e| CliError(format!("{what} {}: {e}", path.display())))
}

/// Every CRL of a PEM file ("X509 CRL") or one DER CRL.
pub fn read_crls(path: &Path) -> Result<Vec<ParsedCrl>> {
    let bytes = read_file(path, "CRL")?;
    cachet_pki::pem::der_objects(&bytes, &["X509 CRL"], "CRL")
        .and_then(|ders| ders.iter().map(|d| ParsedCrl::from_der(d)).collect())
        .map_err(|e| CliError(format!("CRL {}: {e}", path.display())))
}

/// An RFC 3339 time as seconds since the epoch.
pub fn parse_time(s: &str) -> Result<u64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            CliError(format!(
                "--at '{s}' is not an RFC 3339 time (e.g. 2026-11-23T12:00:00Z): {e}"
            ))
        })?;
    u64::try_from(t.unix_timestamp()).map_err(|_| CliError(format!("--at '{s}' is before 1970")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_oids_or_any_policy() {
        assert_eq!(parse_policy("anyPolicy").unwrap(), ANY_POLICY);
        assert_eq!(
            parse_policy("2.16.840.1.101.3.2.1.48.1")
                .unwrap()
                .to_string(),
            "2.16.840.1.101.3.2.1.48.1"
        );
        let e = parse_policy("policy-one").unwrap_err();
        assert!(e.0.contains("--policy 'policy-one'"), "{}", e.0);
    }
}
