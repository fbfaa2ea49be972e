//! The validation inputs every verifying command takes (`smime verify`, `pki validate`,
//! `doctor`): trust anchors, intermediates, CRLs, the time, the RFC 5280 §6.1.1 policy
//! inputs and the revocation policy — read and checked once, here. With `--data DIR` the
//! data directory's trust store adds its anchors (with their address constraints and
//! revocation policies), intermediates and CRLs, and the organisation's own CAs and CRLs.

use crate::io::{CliError, Result, read_file};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::ParsedCrl;
use cachet_pki::validate::{ANY_POLICY, Fetcher, PolicyInputs, RevocationPolicy, TrustAnchor};
use cachet_service::{Cachet, DataDir, TrustMaterial};
use const_oid::ObjectIdentifier;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Also trust what this data directory's trust store holds (`cachet trust list`): its
    /// anchors with their address constraints and revocation policies, its intermediates
    /// and imported CRLs, and the organisation's own CAs and their newest CRLs. No default
    /// (and CACHET_DATA is not read): without it, only the files given count.
    #[arg(long = "data", id = "trust_data", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Do not use the network: no CRL from distribution points, no OCSP, no issuer from
    /// AIA. Default: fetch them (over http://) when revocation checking is not off.
    #[arg(long)]
    pub offline: bool,
    /// How long one fetch (a CRL, an OCSP answer, an issuer certificate) may take in all.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub fetch_timeout: u64,
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
    /// CRLs, OCSP answers and missing issuers from the network; `None` with `--offline` or
    /// when no revocation checking is asked for.
    pub fetcher: Option<Arc<dyn Fetcher>>,
}

impl TrustArgs {
    /// Reads every file and parses every flag, and with `--data` reads the trust store;
    /// `now` is the time when `--at` is absent.
    ///
    /// Callable from synchronous code, also while the CLI's runtime is running: the store
    /// (async, over sqlx) is then read on a thread of its own with its own runtime, because
    /// blocking on the running one would panic. Without `--data` no runtime is involved.
    pub fn load(&self, now: u64) -> Result<Loaded> {
        let mut loaded = self.load_files(now)?;
        if let Some(dir) = &self.data {
            let material = std::thread::scope(|s| {
                s.spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| CliError(format!("cannot start the runtime: {e}")))?;
                    rt.block_on(store_material(dir))
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(CliError(format!(
                        "--data {}: reading the trust store failed",
                        dir.display()
                    )))
                })
            })?;
            merge(&mut loaded, material);
        }
        loaded.fetcher = self.fetcher(&loaded, now);
        Ok(loaded)
    }

    /// The HTTP fetcher, unless `--offline` or every anchor's revocation policy is off.
    /// With `--data DIR`, fetched CRLs are kept in `DIR/crl-cache` until their nextUpdate.
    /// `now` is the real time (not `--at`): it judges whether a cached CRL is still the
    /// newest one published.
    fn fetcher(&self, loaded: &Loaded, now: u64) -> Option<Arc<dyn Fetcher>> {
        let checks = |p: RevocationPolicy| p != RevocationPolicy::Off;
        let wanted = checks(loaded.revocation)
            || loaded
                .anchors
                .iter()
                .any(|a| a.revocation.is_some_and(checks));
        if self.offline || !wanted {
            return None;
        }
        let mut f = cachet_service::HttpFetcher::new(now)
            .with_timeout(std::time::Duration::from_secs(self.fetch_timeout));
        if let Some(dir) = &self.data {
            f = f.with_cache_dir(dir.join("crl-cache"));
        }
        Some(Arc::new(f))
    }

    /// Reads the files and parses the flags.
    fn load_files(&self, now: u64) -> Result<Loaded> {
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
            fetcher: None,
        })
    }
}

/// The trust store of the data directory `dir` (see [`cachet_service::trust`]).
async fn store_material(dir: &Path) -> Result<TrustMaterial> {
    let named = |e: &dyn std::fmt::Display| CliError(format!("--data {}: {e}", dir.display()));
    let c = Cachet::open(&DataDir::new(dir))
        .await
        .map_err(|e| named(&e))?;
    let material = c.trust().load().await.map_err(|e| named(&e));
    c.store().close().await;
    material
}

/// Adds the store's material to what the files gave, leaving out what is already there (the
/// same certificate or CRL given twice; an anchor counts as the same only with the same
/// constraints).
fn merge(loaded: &mut Loaded, m: TrustMaterial) {
    for a in m.anchors {
        let dup = loaded.anchors.iter().any(|x| {
            x.certificate.der() == a.certificate.der()
                && x.permitted_email == a.permitted_email
                && x.revocation == a.revocation
        });
        if !dup {
            loaded.anchors.push(a);
        }
    }
    for i in m.intermediates {
        if !loaded.intermediates.iter().any(|x| x.der() == i.der()) {
            loaded.intermediates.push(i);
        }
    }
    for c in m.crls {
        if !loaded.crls.iter().any(|x| x.der() == c.der()) {
            loaded.crls.push(c);
        }
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
