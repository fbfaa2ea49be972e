//! Certificate revocation lists (RFC 5280 §5): building a v2 CRL with a CRL number, the
//! issuer's key identifier and per-entry reason codes, and reading one back.

use crate::cert::ParsedCertificate;
use crate::error::{PkiError, Result};
use crate::ext;
use crate::time::{UnixTime, unix, x509_time};
use crate::validate::revocation::CrlIndex;
use cachet_crypto::PrivateKey;
use const_oid::db::rfc5280 as oids;
use der::asn1::{AnyRef, BitStringRef, OctetString, UintRef};
use der::{Decode, Encode, Enumerated, Sequence};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::CrlNumber;
use x509_cert::time::Time;

/// CRLReason (RFC 5280 §5.3.1).
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash, Enumerated)]
#[repr(u32)]
pub enum RevocationReason {
    /// unspecified (0): written as an entry without a reasonCode, as §5.3.1 recommends.
    Unspecified = 0,
    /// keyCompromise (1).
    KeyCompromise = 1,
    /// cACompromise (2).
    CaCompromise = 2,
    /// affiliationChanged (3).
    AffiliationChanged = 3,
    /// superseded (4).
    Superseded = 4,
    /// cessationOfOperation (5).
    CessationOfOperation = 5,
    /// certificateHold (6): read only; Cachet never puts certificates on hold.
    CertificateHold = 6,
    /// removeFromCRL (8): only in delta CRLs, undoing a hold (RFC 5280 §5.3.1).
    RemoveFromCrl = 8,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn = 9,
    /// aACompromise (10).
    AaCompromise = 10,
}

impl RevocationReason {
    const NAMES: [(RevocationReason, &'static str); 10] = [
        (Self::Unspecified, "unspecified"),
        (Self::KeyCompromise, "key-compromise"),
        (Self::CaCompromise, "ca-compromise"),
        (Self::AffiliationChanged, "affiliation-changed"),
        (Self::Superseded, "superseded"),
        (Self::CessationOfOperation, "cessation-of-operation"),
        (Self::CertificateHold, "certificate-hold"),
        (Self::RemoveFromCrl, "remove-from-crl"),
        (Self::PrivilegeWithdrawn, "privilege-withdrawn"),
        (Self::AaCompromise, "aa-compromise"),
    ];

    /// Kebab-case name as the CLI takes it.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("unspecified", |(_, n)| n)
    }

    /// The reasons an administrator may give with `cachet cert revoke`.
    pub fn for_subscribers() -> [RevocationReason; 5] {
        [
            Self::Unspecified,
            Self::KeyCompromise,
            Self::AffiliationChanged,
            Self::Superseded,
            Self::CessationOfOperation,
        ]
    }

    /// The numeric code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The reason named `name` (any reason, including those an administrator cannot give).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(r, _)| *r)
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RevocationReason {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::for_subscribers()
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::for_subscribers().iter().map(|r| r.name()).collect();
                format!(
                    "unknown revocation reason '{s}' (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number content octets.
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: UnixTime,
    /// Why.
    pub reason: RevocationReason,
}

/// revokedCertificates entry (RFC 5280 §5.1).
#[derive(Sequence)]
struct RevokedCertificate<'a> {
    user_certificate: UintRef<'a>,
    revocation_date: Time,
    #[asn1(optional = "true")]
    crl_entry_extensions: Option<Vec<Extension>>,
}

/// TBSCertList (RFC 5280 §5.1), v2.
#[derive(Sequence)]
struct TbsCertList<'a> {
    version: u8,
    signature: AnyRef<'a>,
    issuer: AnyRef<'a>,
    this_update: Time,
    next_update: Time,
    #[asn1(optional = "true")]
    revoked_certificates: Option<Vec<RevokedCertificate<'a>>>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    crl_extensions: Vec<Extension>,
}

/// CertificateList (RFC 5280 §5.1).
#[derive(Sequence)]
struct CertificateListOut<'a> {
    tbs_cert_list: AnyRef<'a>,
    signature_algorithm: AnyRef<'a>,
    signature_value: BitStringRef<'a>,
}

/// What goes into one CRL.
#[derive(Debug, Clone)]
pub struct CrlRequest<'a> {
    /// Monotonically increasing CRL number (§5.2.3).
    pub crl_number: u64,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate (always present, as §5.1.2.5 requires of conforming CAs).
    pub next_update: UnixTime,
    /// The revoked certificates.
    pub entries: &'a [RevokedEntry],
}

fn reason_extension(reason: RevocationReason) -> Result<Extension> {
    let value = reason
        .to_der()
        .map_err(|e| PkiError::invalid("CRL reason", e.to_string()))?;
    Ok(Extension {
        extn_id: oids::ID_CE_CRL_REASONS,
        critical: false,
        extn_value: OctetString::new(value)
            .map_err(|e| PkiError::invalid("CRL reason", e.to_string()))?,
    })
}

/// Builds and signs a CRL for the CA `issuer` with `key`.
pub fn build_crl(
    req: &CrlRequest<'_>,
    issuer: &ParsedCertificate,
    key: &PrivateKey,
) -> Result<Vec<u8>> {
    let enc = |e: der::Error| PkiError::invalid("CRL", e.to_string());
    let alg = key
        .signature_algorithm()
        .ok_or_else(|| PkiError::invalid("CA key", "cannot sign"))?;
    let alg_der = alg.algorithm_identifier_der();
    let issuer_name = issuer.subject_der()?;
    let ski = issuer
        .subject_key_id()?
        .ok_or_else(|| PkiError::invalid("CA certificate", "has no subjectKeyIdentifier"))?;
    // One reasonCode extension per distinct reason, shared by every entry that uses it.
    let reason_exts = RevocationReason::NAMES
        .iter()
        .map(|(r, _)| reason_extension(*r).map(|e| (*r, e)))
        .collect::<Result<Vec<_>>>()?;
    let mut revoked = Vec::with_capacity(req.entries.len());
    for e in req.entries {
        let ext = match e.reason {
            RevocationReason::Unspecified => None,
            r => reason_exts
                .iter()
                .find(|(x, _)| *x == r)
                .map(|(_, ext)| vec![ext.clone()]),
        };
        revoked.push(RevokedCertificate {
            user_certificate: UintRef::new(&e.serial).map_err(enc)?,
            revocation_date: x509_time(e.revoked_at)?,
            crl_entry_extensions: ext,
        });
    }
    let number = der::asn1::Uint::new(&req.crl_number.to_be_bytes()).map_err(enc)?;
    let number_der = CrlNumber(number).to_der().map_err(enc)?;
    let tbs = TbsCertList {
        version: 1,
        signature: AnyRef::from_der(&alg_der).map_err(enc)?,
        issuer: AnyRef::from_der(&issuer_name).map_err(enc)?,
        this_update: x509_time(req.this_update)?,
        next_update: x509_time(req.next_update)?,
        revoked_certificates: if revoked.is_empty() {
            None
        } else {
            Some(revoked)
        },
        crl_extensions: vec![
            ext::authority_key_identifier(&ski)?,
            Extension {
                extn_id: oids::ID_CE_CRL_NUMBER,
                critical: false,
                extn_value: OctetString::new(number_der).map_err(enc)?,
            },
        ],
    };
    let tbs_der = tbs.to_der().map_err(enc)?;
    let sig = key.sign(&tbs_der)?;
    CertificateListOut {
        tbs_cert_list: AnyRef::from_der(&tbs_der).map_err(enc)?,
        signature_algorithm: AnyRef::from_der(&alg_der).map_err(enc)?,
        signature_value: BitStringRef::from_bytes(&sig).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

/// A decoded CRL. Parsing is not validation. Cloning is cheap (shared), and what
/// validation derives from a CRL — its entry index, the keys its signature verified with —
/// is computed once and shared by every clone.
#[derive(Debug, Clone)]
pub struct ParsedCrl {
    der: Arc<[u8]>,
    crl: Arc<CertificateList>,
    index: Arc<OnceLock<Arc<CrlIndex>>>,
    verified_keys: Arc<Mutex<Vec<[u8; 32]>>>,
    issuer_text: Arc<OnceLock<String>>,
}

impl ParsedCrl {
    /// Decodes a DER CRL.
    pub fn from_der(der_bytes: &[u8]) -> Result<Self> {
        let crl =
            CertificateList::from_der(der_bytes).map_err(|e| PkiError::malformed("CRL", e))?;
        Ok(ParsedCrl {
            der: der_bytes.into(),
            crl: Arc::new(crl),
            index: Arc::new(OnceLock::new()),
            verified_keys: Arc::new(Mutex::new(Vec::new())),
            issuer_text: Arc::default(),
        })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM encoding ("X509 CRL").
    pub fn to_pem(&self) -> String {
        crate::pem::encode("X509 CRL", &self.der)
    }

    /// The issuer in RFC 4514 form.
    pub fn issuer(&self) -> String {
        self.issuer_text
            .get_or_init(|| self.crl.tbs_cert_list.issuer.to_string())
            .clone()
    }

    /// thisUpdate.
    pub fn this_update(&self) -> UnixTime {
        unix(&self.crl.tbs_cert_list.this_update)
    }

    /// nextUpdate.
    pub fn next_update(&self) -> Option<UnixTime> {
        self.crl.tbs_cert_list.next_update.as_ref().map(unix)
    }

    /// The cRLNumber.
    pub fn crl_number(&self) -> Option<u64> {
        let e = self
            .crl
            .tbs_cert_list
            .crl_extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oids::ID_CE_CRL_NUMBER)?;
        let n = CrlNumber::from_der(e.extn_value.as_bytes()).ok()?;
        let b = n.0.as_bytes();
        (b.len() <= 8).then(|| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    /// The revoked entries.
    pub fn entries(&self) -> Vec<RevokedEntry> {
        self.crl
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .map(|v| {
                v.iter()
                    .map(|r| RevokedEntry {
                        serial: r.serial_number.as_bytes().to_vec(),
                        revoked_at: unix(&r.revocation_date),
                        reason: r
                            .crl_entry_extensions
                            .as_ref()
                            .and_then(|x| x.iter().find(|e| e.extn_id == oids::ID_CE_CRL_REASONS))
                            .and_then(|e| RevocationReason::from_der(e.extn_value.as_bytes()).ok())
                            .unwrap_or(RevocationReason::Unspecified),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Verifies the CRL's signature with the issuer's public key.
    pub fn verify_signature(&self, issuer_spki_der: &[u8]) -> Result<()> {
        // The signature covers the TBSCertList exactly as received.
        let tbs = crate::cert::first_element_of_sequence(&self.der, "CRL")?;
        let sig = self
            .crl
            .signature
            .as_bytes()
            .ok_or_else(|| PkiError::malformed("CRL", "signature has unused bits"))?;
        crate::cert::verify_signed(&self.crl.signature_algorithm, issuer_spki_der, tbs, sig)
    }

    /// The decoded structure.
    pub fn inner(&self) -> &CertificateList {
        &self.crl
    }

    /// What path validation reads from this CRL, built on first use.
    pub(crate) fn index(&self) -> Arc<CrlIndex> {
        self.index
            .get_or_init(|| Arc::new(CrlIndex::build(self)))
            .clone()
    }

    /// Whether the signature verifies with `spki_der`, remembered per key.
    pub fn verified_by(&self, spki_der: &[u8]) -> bool {
        let key = cachet_crypto::digest::sha256(spki_der);
        if let Ok(v) = self.verified_keys.lock()
            && v.contains(&key)
        {
            return true;
        }
        let ok = self.verify_signature(spki_der).is_ok();
        if ok && let Ok(mut v) = self.verified_keys.lock() {
            v.push(key);
        }
        ok
    }
}
