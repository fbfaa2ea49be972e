//! Certification path building and validation (RFC 5280 §6) with CRL revocation checking
//! (§6.3), explained as verdict findings.
//!
//! [`validate`] builds every candidate path from a leaf certificate through the
//! intermediates it is given to one of the trust anchors — in cross-certified hierarchies,
//! across key rollovers and self-issued certificates — and runs the §6.1 algorithm over each
//! until one passes: signatures (with DSA parameter inheritance), validity at the given
//! time, name chaining (§7.1 matching), basicConstraints and pathLenConstraint, keyUsage,
//! extKeyUsage for the purpose, name constraints, certificate policies with mappings and
//! the explicit-policy / inhibit counters, unknown critical extensions; then revocation of
//! every certificate in the path from the CRLs it is given (complete and delta CRLs,
//! issuingDistributionPoint scopes, indirect CRLs, CRL signers validated to the same
//! anchor). All of it is bounded: depth, candidate paths and signature checks have limits,
//! and hitting one gives a clear finding rather than a long wait.
//!
//! Pure: no clock (the time is an option), no network (CRLs are inputs). What this module
//! is not: a fetcher (the CLI and `service` fetch CRLs and OCSP answers and pass them in),
//! nor a trust store (callers pass anchors).

pub mod aia;
mod build;
pub mod dn;
pub mod mailbox;
pub mod names;
mod path;
pub mod policy;
pub(crate) mod revocation;
mod sigcache;
mod tls;

pub use policy::{ANY_POLICY, PolicyInputs};
pub use sigcache::{CertificateIntern, SignatureCache};

use crate::ParsedCertificate;
use crate::crl::{ParsedCrl, RevocationReason};
use crate::time::UnixTime;
use crate::verdict::Verdict;
use const_oid::ObjectIdentifier;

/// How much revocation checking a path gets (the per-trust policy of the trust store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevocationPolicy {
    /// Not checked at all.
    Off,
    /// Checked when a CRL is at hand; a status that cannot be determined is a warning.
    #[default]
    Prefer,
    /// Every certificate of the path must have a determined, unrevoked status; otherwise
    /// the path is not valid (`crl-unavailable`, `crl-expired`).
    Require,
}

impl RevocationPolicy {
    /// Lower-case name as the CLI and the trust store write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationPolicy::Off => "off",
            RevocationPolicy::Prefer => "prefer",
            RevocationPolicy::Require => "require",
        }
    }

    /// The policy named `s`.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Off, Self::Prefer, Self::Require]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// A trust anchor (RFC 5280 §6.1.1 (d)): a certificate whose name and key are trusted, and
/// the constraints the relying party puts on it.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    /// The anchor's certificate (usually self-signed). Its name and key are what is trusted;
    /// when it issues the next certificate of a path it must also be a well-formed, current
    /// CA certificate, and its own nameConstraints bind the path.
    pub certificate: ParsedCertificate,
    /// rfc822Name subtrees the anchor may vouch for (`partner.example`, `.partner.example`,
    /// `alice@partner.example`, as in RFC 5280 §4.2.1.10); empty: any address. This is the
    /// effect of cross-certification with qualified subordination, without issuing anything.
    pub permitted_email: Vec<String>,
    /// The anchor's own revocation policy; `None` takes [`ValidationOptions::revocation`].
    pub revocation: Option<RevocationPolicy>,
}

impl TrustAnchor {
    /// An unconstrained anchor.
    pub fn new(certificate: ParsedCertificate) -> Self {
        TrustAnchor {
            certificate,
            permitted_email: Vec::new(),
            revocation: None,
        }
    }
}

/// What the leaf certificate is to be valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// S/MIME signing: keyUsage digitalSignature or nonRepudiation; extKeyUsage
    /// emailProtection (or anyExtendedKeyUsage, or none).
    EmailSigning,
    /// S/MIME encryption: keyUsage keyEncipherment or keyAgreement; extKeyUsage as above.
    EmailEncryption,
    /// TLS server (for the x509-limbo conformance suite): extKeyUsage serverAuth.
    ServerAuth,
    /// TLS client: extKeyUsage clientAuth.
    ClientAuth,
    /// Signing CRLs: keyUsage cRLSign (a CRL issuer's own path).
    CrlSigning,
    /// No purpose check.
    Any,
}

impl Purpose {
    /// The extKeyUsage purpose, if any.
    pub fn eku(self) -> Option<ObjectIdentifier> {
        use const_oid::db::rfc5280 as o;
        match self {
            Purpose::EmailSigning | Purpose::EmailEncryption => Some(o::ID_KP_EMAIL_PROTECTION),
            Purpose::ServerAuth => Some(o::ID_KP_SERVER_AUTH),
            Purpose::ClientAuth => Some(o::ID_KP_CLIENT_AUTH),
            Purpose::CrlSigning | Purpose::Any => None,
        }
    }
}

/// The settings of one validation.
#[derive(Debug, Clone)]
pub struct ValidationOptions {
    /// The time of checking (seconds since the epoch).
    pub at: UnixTime,
    /// What the leaf is for.
    pub purpose: Purpose,
    /// The RFC 5280 §6.1.1 policy inputs.
    pub policy: PolicyInputs,
    /// Revocation policy for anchors that have none of their own.
    pub revocation: RevocationPolicy,
    /// Whether delta CRLs are used (RFC 5280 §6.3.3 (c)).
    pub use_delta_crls: bool,
    /// Most certificates in a path below the anchor, leaf included; self-issued
    /// intermediates (key rollover) do not count, as RFC 5280 §6.1.4 (l) does not count them.
    pub max_depth: usize,
    /// The mailbox the leaf must name (RFC 5280 §4.2.1.6 and §7.5, RFC 8398), if any.
    pub email: Option<String>,
    /// Also apply the web PKI's rules for TLS servers (CA/Browser Forum TLS Baseline
    /// Requirements, as webpki checks them): for Cachet's own TLS clients; never for S/MIME.
    pub web_pki: bool,
}

impl ValidationOptions {
    /// Defaults for checking an S/MIME signer at `at`.
    pub fn new(at: UnixTime, purpose: Purpose) -> Self {
        ValidationOptions {
            at,
            purpose,
            policy: PolicyInputs::default(),
            revocation: RevocationPolicy::Prefer,
            use_delta_crls: true,
            max_depth: DEFAULT_MAX_DEPTH,
            email: None,
            web_pki: false,
        }
    }
}

/// Default for [`ValidationOptions::max_depth`]: deeper than any real hierarchy.
pub const DEFAULT_MAX_DEPTH: usize = 16;

/// Where revocation information and missing issuers come from when the material at hand
/// does not decide: the network, behind caches. Implementations do I/O and live outside
/// this crate (`cachet-service`); validation calls them only when it needs to, and a failure
/// becomes a finding (`crl-unavailable`, `ocsp-unavailable`, `missing-intermediate`) that
/// names the URL and the reason.
pub trait Fetcher: Send + Sync {
    /// The CRL published at `url` (a certificate's HTTP CRL distribution point). `Err`:
    /// why not, in a few words ("connection refused", "timed out after 10 s", "HTTP 404").
    fn crl(&self, url: &str) -> Result<ParsedCrl, String>;
    /// The DER OCSP response of the responder at `url` to the DER `request` (RFC 6960
    /// Appendix A: HTTP POST or GET).
    fn ocsp(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, String>;
    /// The certificates published at an authorityInfoAccess caIssuers `url` (RFC 5280
    /// §4.2.2.1: one DER certificate or a certs-only CMS/PKCS#7 bundle).
    fn ca_issuers(&self, url: &str) -> Result<Vec<ParsedCertificate>, String>;
}

impl std::fmt::Debug for dyn Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher")
    }
}

/// Everything a validation may draw on besides the leaf.
#[derive(Clone, Copy, Default)]
pub struct Material<'a> {
    /// Trust anchors.
    pub anchors: &'a [TrustAnchor],
    /// Untrusted certificates that may complete a path (from the message, the store, files).
    pub intermediates: &'a [ParsedCertificate],
    /// CRLs (from the message, the store, files, fetched from distribution points).
    pub crls: &'a [ParsedCrl],
    /// Certificate signatures already verified, shared between validations.
    pub cache: Option<&'a SignatureCache>,
    /// Fetches CRLs from distribution points, OCSP answers and missing issuers (AIA);
    /// `None`: offline, only the material above counts.
    pub fetcher: Option<&'a dyn Fetcher>,
}

impl std::fmt::Debug for Material<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("anchors", &self.anchors.len())
            .field("intermediates", &self.intermediates.len())
            .field("crls", &self.crls.len())
            .field("cache", &self.cache.is_some())
            .field("fetcher", &self.fetcher.is_some())
            .finish()
    }
}

/// The revocation status found for one certificate of the chosen path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    /// A CRL in scope covers every reason and does not list it, or an OCSP responder
    /// said good.
    Good,
    /// Listed on a CRL.
    Revoked {
        /// revocationDate.
        at: UnixTime,
        /// reasonCode (unspecified when absent).
        reason: RevocationReason,
    },
    /// No usable CRL or OCSP answer: why.
    Undetermined(String),
    /// Checking was off.
    NotChecked,
}

/// Revocation checking of one certificate.
#[derive(Debug, Clone)]
pub struct RevocationCheck {
    /// The certificate.
    pub certificate: ParsedCertificate,
    /// What was found.
    pub status: RevocationStatus,
    /// The CRLs that decided it (issuer and number) or were considered.
    pub sources: Vec<String>,
    /// The certificate's HTTP CRL distribution points (where a fetcher would look).
    pub distribution_points: Vec<String>,
}

/// The result of [`validate`].
#[derive(Debug, Clone)]
pub struct Validation {
    /// Findings; valid when none is an error.
    pub verdict: Verdict,
    /// The chosen path, leaf first and anchor last; for an invalid result, the path that
    /// came closest (may be just the leaf).
    pub chain: Vec<ParsedCertificate>,
    /// Whether `chain` ends at a trust anchor.
    pub anchored: bool,
    /// The user-constrained-policy-set (RFC 5280 §6.1.6) of the chosen path.
    pub user_constrained_policy_set: Vec<ObjectIdentifier>,
    /// Revocation status of each certificate of the chosen path, leaf first.
    pub revocation: Vec<RevocationCheck>,
    /// The leaf's working public key (RFC 5280 §6.1.6): its SubjectPublicKeyInfo, with DSA
    /// domain parameters inherited from the path when the certificate omits them.
    pub leaf_public_key: Vec<u8>,
    /// How many complete candidate paths were examined, those of CRL signers' own paths
    /// included (at most 64, then the search stops with a `path-too-long` finding).
    pub paths_tried: usize,
    /// How many certificate and CRL signatures were verified, for CRL signers' own paths
    /// too (the search stops when it reaches 1024; the path under examination may add a few).
    pub signature_checks: usize,
}

impl Validation {
    /// Whether the verdict is valid.
    pub fn is_valid(&self) -> bool {
        self.verdict.is_valid()
    }
}

/// Validates `leaf` for `opts.purpose` at `opts.at` against `material` (RFC 5280 §6).
pub fn validate(
    leaf: &ParsedCertificate,
    material: &Material<'_>,
    opts: &ValidationOptions,
) -> Validation {
    build::Builder::new(leaf, material, opts, 0, &[], Default::default()).run()
}
