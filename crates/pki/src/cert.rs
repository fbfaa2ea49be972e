//! A parsed certificate: decoded once, with the accessors the profiles, the linter, the CLI
//! and (later) path validation need. Parsing is not validation: a [`ParsedCertificate`] says
//! nothing about trust.

use crate::error::{PkiError, Result};
use crate::time::{UnixTime, unix};
use crate::validate::dn::NameKey;
use cachet_crypto::{KeyType, SignatureAlgorithm};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280 as oids;
use der::{Decode, Encode};
use std::sync::{Arc, OnceLock};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName,
    SubjectKeyIdentifier,
};

/// Upper bound on the size of one certificate Cachet will parse.
pub const MAX_CERTIFICATE_LEN: usize = 64 * 1024;

/// A DER certificate, decoded. Cloning is cheap (shared): a verifier passes the same
/// certificates through chains, reports and caches without copying them.
#[derive(Clone, Debug)]
pub struct ParsedCertificate {
    der: Arc<[u8]>,
    cert: Arc<Certificate>,
    memo: Arc<Memo>,
}

/// What is derived from a certificate on first use and kept with it: a gateway validates
/// the same CA certificates for every message, and formatting a name (an OID table lookup
/// per attribute) or preparing it for comparison costs more than the checks themselves.
#[derive(Debug, Default)]
struct Memo {
    subject: OnceLock<String>,
    issuer: OnceLock<String>,
    spki: OnceLock<Option<Vec<u8>>>,
    name_keys: OnceLock<(NameKey, NameKey)>,
    structure: OnceLock<Option<(&'static str, String)>>,
    /// The extensions path validation reads for every certificate of every path, decoded
    /// once (`None`: the extension does not decode, and asking again reports why).
    basic_constraints: OnceLock<Option<Option<(bool, BasicConstraints)>>>,
    key_usage: OnceLock<Option<Option<(bool, KeyUsage)>>>,
    ext_key_usage: OnceLock<Option<Option<(bool, ExtendedKeyUsage)>>>,
    subject_alt_name: OnceLock<Option<Option<(bool, SubjectAltName)>>>,
}

impl ParsedCertificate {
    /// Decodes a DER certificate.
    pub fn from_der(der_bytes: &[u8]) -> Result<Self> {
        if der_bytes.len() > MAX_CERTIFICATE_LEN {
            return Err(PkiError::malformed("certificate", "larger than 64 KiB"));
        }
        let cert = match Certificate::from_der(der_bytes) {
            Ok(c) => c,
            Err(e) => match clamp_validity_before_1970(der_bytes) {
                // The decoded copy has its early time clamped; the DER kept (and verified)
                // is the one received.
                Some(patched) => Certificate::from_der(&patched)
                    .map_err(|_| PkiError::malformed("certificate", e))?,
                None => return Err(PkiError::malformed("certificate", e)),
            },
        };
        Ok(ParsedCertificate {
            der: der_bytes.into(),
            cert: Arc::new(cert),
            memo: Arc::default(),
        })
    }

    /// A certificate already decoded (from a CMS `CertificateSet`, say), encoded once for its
    /// DER instead of encoded and decoded again.
    pub fn from_certificate(cert: Certificate) -> Result<Self> {
        let der = cert
            .to_der()
            .map_err(|e| PkiError::malformed("certificate", e))?;
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(PkiError::malformed("certificate", "larger than 64 KiB"));
        }
        Ok(ParsedCertificate {
            der: der.into(),
            cert: Arc::new(cert),
            memo: Arc::default(),
        })
    }

    /// Reads every certificate of a PEM bundle or one DER certificate.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Vec<Self>> {
        crate::pem::der_objects(bytes, &["CERTIFICATE"], "certificate")?
            .iter()
            .map(|d| Self::from_der(d))
            .collect()
    }

    /// The DER encoding as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM encoding.
    pub fn to_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.der)
    }

    /// The decoded structure.
    pub fn inner(&self) -> &Certificate {
        &self.cert
    }

    /// The serial number's content octets.
    pub fn serial_bytes(&self) -> &[u8] {
        self.cert.tbs_certificate().serial_number().as_bytes()
    }

    /// The serial number as lower-case hex without leading zero octets (as OpenSSL prints it,
    /// lower-cased).
    pub fn serial_hex(&self) -> String {
        serial_hex(self.serial_bytes())
    }

    /// The subject in RFC 4514 form.
    pub fn subject(&self) -> String {
        self.memo
            .subject
            .get_or_init(|| self.cert.tbs_certificate().subject().to_string())
            .clone()
    }

    /// The issuer in RFC 4514 form.
    pub fn issuer(&self) -> String {
        self.memo
            .issuer
            .get_or_init(|| self.cert.tbs_certificate().issuer().to_string())
            .clone()
    }

    /// The subject and issuer prepared for RFC 5280 §7.1 comparison.
    pub(crate) fn name_keys(&self) -> &(NameKey, NameKey) {
        self.memo.name_keys.get_or_init(|| {
            let tbs = self.cert.tbs_certificate();
            (NameKey::of(tbs.subject()), NameKey::of(tbs.issuer()))
        })
    }

    /// DER of the subject name.
    pub fn subject_der(&self) -> Result<Vec<u8>> {
        self.cert
            .tbs_certificate()
            .subject()
            .to_der()
            .map_err(|e| PkiError::malformed("certificate subject", e))
    }

    /// DER of the issuer name.
    pub fn issuer_der(&self) -> Result<Vec<u8>> {
        self.cert
            .tbs_certificate()
            .issuer()
            .to_der()
            .map_err(|e| PkiError::malformed("certificate issuer", e))
    }

    /// notBefore, in seconds since the epoch.
    pub fn not_before(&self) -> UnixTime {
        unix(&self.cert.tbs_certificate().validity().not_before)
    }

    /// notAfter, in seconds since the epoch.
    pub fn not_after(&self) -> UnixTime {
        unix(&self.cert.tbs_certificate().validity().not_after)
    }

    /// DER of the SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        self.memo
            .spki
            .get_or_init(|| {
                self.cert
                    .tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .ok()
            })
            .clone()
            .ok_or_else(|| PkiError::malformed("certificate public key", "cannot be encoded"))
    }

    /// The subject key's type, if Cachet supports it.
    pub fn key_type(&self) -> Result<KeyType> {
        Ok(KeyType::of_spki(&self.spki_der()?)?)
    }

    /// The signature algorithm of the certificate's own signature.
    pub fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        SignatureAlgorithm::from_oid(&self.cert.signature_algorithm().oid)
    }

    /// Verifies this certificate's signature with `issuer_spki_der`.
    pub fn verify_signature(&self, issuer_spki_der: &[u8]) -> Result<()> {
        // The signature covers the TBSCertificate exactly as received.
        let tbs = first_element_of_sequence(&self.der, "certificate")?;
        let sig = self
            .cert
            .signature()
            .as_bytes()
            .ok_or_else(|| PkiError::malformed("certificate", "signature has unused bits"))?;
        verify_signed(self.cert.signature_algorithm(), issuer_spki_der, tbs, sig)
    }

    /// All extensions, in order.
    pub fn extensions(&self) -> &[Extension] {
        self.cert
            .tbs_certificate()
            .extensions()
            .map_or(&[], |v| v.as_slice())
    }

    /// The extension with `oid`, if present exactly once; a duplicate is an error
    /// (RFC 5280 §4.2: "MUST NOT include more than one instance").
    pub fn extension(&self, oid: ObjectIdentifier) -> Result<Option<&Extension>> {
        let mut it = self.extensions().iter().filter(|e| e.extn_id == oid);
        let first = it.next();
        if it.next().is_some() {
            return Err(PkiError::malformed(
                "certificate",
                format!("extension {oid} appears twice"),
            ));
        }
        Ok(first)
    }

    fn decode_ext<'a, T: Decode<'a>>(
        &'a self,
        oid: ObjectIdentifier,
        what: &'static str,
    ) -> Result<Option<(bool, T)>> {
        match self.extension(oid)? {
            None => Ok(None),
            Some(e) => T::from_der(e.extn_value.as_bytes())
                .map(|v| Some((e.critical, v)))
                .map_err(|err| PkiError::malformed(what, err)),
        }
    }

    /// [`Self::decode_ext`] through `memo`: decoded once, cloned after; a failure is
    /// decoded again so that its error can be returned.
    fn memo_ext<T: Clone + for<'b> Decode<'b>>(
        &self,
        memo: &OnceLock<Option<Option<(bool, T)>>>,
        oid: ObjectIdentifier,
        what: &'static str,
    ) -> Result<Option<(bool, T)>> {
        match memo.get_or_init(|| self.decode_ext(oid, what).ok()) {
            Some(v) => Ok(v.clone()),
            None => self.decode_ext(oid, what),
        }
    }

    /// basicConstraints and its criticality.
    pub fn basic_constraints(&self) -> Result<Option<(bool, BasicConstraints)>> {
        let memo = &self.memo.basic_constraints;
        self.memo_ext(memo, oids::ID_CE_BASIC_CONSTRAINTS, "basicConstraints")
    }

    /// keyUsage and its criticality.
    pub fn key_usage(&self) -> Result<Option<(bool, KeyUsage)>> {
        self.memo_ext(&self.memo.key_usage, oids::ID_CE_KEY_USAGE, "keyUsage")
    }

    /// extKeyUsage and its criticality.
    pub fn ext_key_usage(&self) -> Result<Option<(bool, ExtendedKeyUsage)>> {
        let memo = &self.memo.ext_key_usage;
        self.memo_ext(memo, oids::ID_CE_EXT_KEY_USAGE, "extKeyUsage")
    }

    /// subjectAltName and its criticality.
    pub fn subject_alt_name(&self) -> Result<Option<(bool, SubjectAltName)>> {
        let memo = &self.memo.subject_alt_name;
        self.memo_ext(memo, oids::ID_CE_SUBJECT_ALT_NAME, "subjectAltName")
    }

    /// The subjectKeyIdentifier value.
    pub fn subject_key_id(&self) -> Result<Option<Vec<u8>>> {
        Ok(self
            .decode_ext::<SubjectKeyIdentifier>(
                oids::ID_CE_SUBJECT_KEY_IDENTIFIER,
                "subjectKeyIdentifier",
            )?
            .map(|(_, s)| s.0.as_bytes().to_vec()))
    }

    /// The authorityKeyIdentifier's keyIdentifier.
    pub fn authority_key_id(&self) -> Result<Option<Vec<u8>>> {
        Ok(self
            .decode_ext::<AuthorityKeyIdentifier>(
                oids::ID_CE_AUTHORITY_KEY_IDENTIFIER,
                "authorityKeyIdentifier",
            )?
            .and_then(|(_, a)| a.key_identifier.map(|k| k.as_bytes().to_vec())))
    }

    /// rfc822Name entries of subjectAltName.
    pub fn email_addresses(&self) -> Result<Vec<String>> {
        Ok(self
            .subject_alt_name()?
            .map(|(_, san)| {
                san.0
                    .iter()
                    .filter_map(|g| match g {
                        GeneralName::Rfc822Name(s) => Some(s.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Whether basicConstraints says this is a CA.
    pub fn is_ca(&self) -> Result<bool> {
        Ok(self.basic_constraints()?.is_some_and(|(_, bc)| bc.ca))
    }

    /// The subject's commonName values.
    pub fn common_names(&self) -> Vec<String> {
        attribute_strings(
            self.cert.tbs_certificate().subject(),
            const_oid::db::rfc4519::CN,
        )
    }

    /// The RFC 5280 rules whose breach makes a certificate malformed wherever it stands in a
    /// path: the outer signatureAlgorithm is the `signature` field of the signed part
    /// (§4.1.1.2), the issuer name is not empty (§4.1.2.4), no extension appears twice
    /// (§4.2), every extension Cachet reads decodes as its syntax (§4.2.1, §4.2.2.1), and the
    /// key identifiers not marked critical (§4.2.1.1–§4.2.1.2), and a critical
    /// subjectAltName when the subject is empty (§4.2.1.6). Checked once per certificate
    /// and remembered. See also [`Self::key_identifier_problem`].
    pub fn check_structure(&self) -> Result<()> {
        self.memo
            .structure
            .get_or_init(|| self.structure_problem())
            .as_ref()
            .map_or(Ok(()), |(what, detail)| {
                Err(PkiError::Malformed {
                    what,
                    detail: detail.clone(),
                })
            })
    }

    fn structure_problem(&self) -> Option<(&'static str, String)> {
        let bad = |detail: &str| Some(("certificate", detail.to_string()));
        let tbs = self.cert.tbs_certificate();
        if tbs.signature() != self.cert.signature_algorithm() {
            return bad(
                "its signatureAlgorithm differs from the algorithm named inside the signed part (RFC 5280 §4.1.1.2)",
            );
        }
        if tbs.issuer().is_empty() {
            return bad("its issuer name is empty (RFC 5280 §4.1.2.4)");
        }
        let mut ids: Vec<&[u8]> = self
            .extensions()
            .iter()
            .map(|e| e.extn_id.as_bytes())
            .collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return bad("an extension appears twice (RFC 5280 §4.2)");
        }
        if let Err(PkiError::Malformed { what, detail }) = self
            .extensions()
            .iter()
            .try_for_each(check_extension_syntax)
        {
            return Some((what, detail));
        }
        let find = |oid| self.extensions().iter().find(|e| e.extn_id == oid);
        let aki = find(oids::ID_CE_AUTHORITY_KEY_IDENTIFIER);
        let ski = find(oids::ID_CE_SUBJECT_KEY_IDENTIFIER);
        if aki.is_some_and(|e| e.critical) || ski.is_some_and(|e| e.critical) {
            return bad(
                "its key identifier extension is marked critical, which RFC 5280 §4.2.1.1–§4.2.1.2 forbid",
            );
        }
        if tbs.subject().is_empty()
            && !find(oids::ID_CE_SUBJECT_ALT_NAME).is_some_and(|e| e.critical)
        {
            return bad(
                "its subject is empty but its subjectAltName is missing or not critical (RFC 5280 §4.2.1.6)",
            );
        }
        // A non-critical basicConstraints or policyConstraints in a CA certificate is a CA's
        // fault that NIST PKITS (4.6.4, 4.8.x, 4.10.x) requires relying parties to accept:
        // Cachet does.
        None
    }

    /// RFC 5280's key identifiers, which path building relies on: a keyIdentifier in the
    /// authorityKeyIdentifier of every certificate a CA issued to another subject
    /// (§4.2.1.1; not required of a trust anchor, which is trusted for its name and key),
    /// and a subjectKeyIdentifier in every CA certificate (§4.2.1.2). The problem, if any.
    pub fn key_identifier_problem(&self, as_trust_anchor: bool) -> Option<&'static str> {
        let (subject, issuer) = self.name_keys();
        if !as_trust_anchor && subject != issuer {
            let has_key_id = self
                .extensions()
                .iter()
                .find(|e| e.extn_id == oids::ID_CE_AUTHORITY_KEY_IDENTIFIER)
                .and_then(|e| AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
                .is_some_and(|a| a.key_identifier.is_some());
            if !has_key_id {
                return Some(
                    "it has no authorityKeyIdentifier keyIdentifier, which RFC 5280 §4.2.1.1 requires of every certificate a CA issues",
                );
            }
        }
        let has_ski = self
            .extensions()
            .iter()
            .any(|e| e.extn_id == oids::ID_CE_SUBJECT_KEY_IDENTIFIER);
        if self.is_ca().unwrap_or(false) && !has_ski {
            return Some(
                "it is a CA certificate without subjectKeyIdentifier, which RFC 5280 §4.2.1.2 requires",
            );
        }
        None
    }
}

/// Whether the value of an extension Cachet reads decodes as its ASN.1 syntax.
fn check_extension_syntax(e: &Extension) -> Result<()> {
    use x509_cert::ext::pkix as x;
    fn decodes<'a, T: Decode<'a>>(e: &'a Extension, what: &'static str) -> Result<()> {
        T::from_der(e.extn_value.as_bytes())
            .map(|_| ())
            .map_err(|err| PkiError::malformed(what, err))
    }
    match e.extn_id {
        oids::ID_CE_BASIC_CONSTRAINTS => decodes::<BasicConstraints>(e, "basicConstraints"),
        oids::ID_CE_KEY_USAGE => decodes::<KeyUsage>(e, "keyUsage"),
        oids::ID_CE_EXT_KEY_USAGE => decodes::<ExtendedKeyUsage>(e, "extKeyUsage"),
        oids::ID_CE_SUBJECT_ALT_NAME => decodes::<SubjectAltName>(e, "subjectAltName"),
        oids::ID_CE_ISSUER_ALT_NAME => decodes::<x::IssuerAltName>(e, "issuerAltName"),
        oids::ID_CE_NAME_CONSTRAINTS => decodes::<x::NameConstraints>(e, "nameConstraints"),
        oids::ID_CE_CERTIFICATE_POLICIES => {
            decodes::<x::CertificatePolicies>(e, "certificatePolicies")
        }
        oids::ID_CE_POLICY_MAPPINGS => decodes::<x::PolicyMappings>(e, "policyMappings"),
        oids::ID_CE_POLICY_CONSTRAINTS => decodes::<x::PolicyConstraints>(e, "policyConstraints"),
        oids::ID_CE_INHIBIT_ANY_POLICY => decodes::<x::InhibitAnyPolicy>(e, "inhibitAnyPolicy"),
        oids::ID_CE_SUBJECT_KEY_IDENTIFIER => {
            decodes::<SubjectKeyIdentifier>(e, "subjectKeyIdentifier")
        }
        oids::ID_CE_AUTHORITY_KEY_IDENTIFIER => {
            decodes::<AuthorityKeyIdentifier>(e, "authorityKeyIdentifier")
        }
        oids::ID_CE_CRL_DISTRIBUTION_POINTS => {
            decodes::<x::CrlDistributionPoints>(e, "cRLDistributionPoints")
        }
        oids::ID_CE_FRESHEST_CRL => decodes::<x::FreshestCrl>(e, "freshestCRL"),
        oids::ID_PE_AUTHORITY_INFO_ACCESS => {
            decodes::<x::AuthorityInfoAccessSyntax>(e, "authorityInfoAccess")
        }
        _ => Ok(()),
    }
}

/// The complete encoding (tag, length, value) of the first element inside the DER SEQUENCE
/// `outer` — the signed part of a certificate, CRL or CSR, as received.
pub(crate) fn first_element_of_sequence<'a>(
    outer: &'a [u8],
    what: &'static str,
) -> Result<&'a [u8]> {
    use der::{Reader, SliceReader};
    let mut r = SliceReader::new(outer).map_err(|e| PkiError::malformed(what, e))?;
    let header = der::Header::decode(&mut r).map_err(|e| PkiError::malformed(what, e))?;
    if header.tag() != der::Tag::Sequence {
        return Err(PkiError::malformed(what, "not a SEQUENCE"));
    }
    let start = u32::from(r.position()) as usize;
    let inner = der::Header::decode(&mut r).map_err(|e| PkiError::malformed(what, e))?;
    let len = u32::from(inner.length()) as usize;
    let end = u32::from(r.position()) as usize + len;
    outer
        .get(start..end)
        .ok_or_else(|| PkiError::malformed(what, "truncated"))
}

/// RFC 5280 §4.1.2.5.1 reads UTCTime years 50–69 as 1950–1969, which the `der` crate
/// cannot represent (it stops at 1970). Certificates valid from before 1970 exist (PKITS
/// 4.2.3 has one); to decode them, a copy of the DER gets such a validity time replaced by
/// 1970-01-01T00:00:00Z, which changes no verdict at any time Cachet checks (a notBefore
/// before 1970 is in the past either way; a notAfter before 1970 has expired either way).
/// Returns `None` when the validity has no such time.
fn clamp_validity_before_1970(der_bytes: &[u8]) -> Option<Vec<u8>> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
    //   serialNumber, signature, issuer, validity SEQUENCE { notBefore, notAfter }, … } … }
    fn header(b: &[u8], at: usize) -> Option<(u8, usize, usize)> {
        let tag = *b.get(at)?;
        let first = *b.get(at + 1)?;
        if first < 0x80 {
            return Some((tag, at + 2, usize::from(first)));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(at + 2 + i)?);
        }
        Some((tag, at + 2 + n, len))
    }
    let (_, cert_body, _) = header(der_bytes, 0)?;
    let (_, tbs_body, _) = header(der_bytes, cert_body)?;
    let mut at = tbs_body;
    let (tag, body, len) = header(der_bytes, at)?;
    if tag == 0xa0 {
        at = body + len; // version
    }
    for _ in 0..3 {
        // serialNumber, signature, issuer
        let (_, body, len) = header(der_bytes, at)?;
        at = body + len;
    }
    let (tag, validity_body, _) = header(der_bytes, at)?;
    if tag != 0x30 {
        return None;
    }
    let mut out = der_bytes.to_vec();
    let mut changed = false;
    let mut t = validity_body;
    for _ in 0..2 {
        let (tag, body, len) = header(der_bytes, t)?;
        if tag == 0x17 && len == 13 {
            let yy = der_bytes.get(body..body + 2)?;
            if yy.iter().all(u8::is_ascii_digit)
                && (b"50".as_slice()..=b"69".as_slice()).contains(&yy)
            {
                out.get_mut(body..body + 13)?
                    .copy_from_slice(b"700101000000Z");
                changed = true;
            }
        }
        t = body + len;
    }
    changed.then_some(out)
}

/// Verifies `signature` over `tbs` with `spki_der` under the AlgorithmIdentifier `alg` —
/// the one check for certificates, CRLs and OCSP responses. RSASSA-PSS reads its parameters
/// (RFC 4055 §3.1); every other algorithm is named by its OID.
pub(crate) fn verify_signed(
    alg: &spki::AlgorithmIdentifierOwned,
    spki_der: &[u8],
    tbs: &[u8],
    signature: &[u8],
) -> Result<()> {
    if alg.oid == cachet_crypto::signature::ID_RSASSA_PSS {
        let params = alg
            .to_der()
            .ok()
            .and_then(|d| cachet_crypto::signature::pss_parameters(&d))
            .ok_or_else(|| {
                PkiError::invalid(
                    "signature algorithm",
                    "RSASSA-PSS parameters are unsupported or malformed",
                )
            })?;
        params.verify(spki_der, tbs, signature)?;
        return Ok(());
    }
    let a = SignatureAlgorithm::from_oid(&alg.oid).ok_or_else(|| {
        PkiError::invalid(
            "signature algorithm",
            format!("{} is not supported", alg.oid),
        )
    })?;
    a.verify(spki_der, tbs, signature)?;
    Ok(())
}

/// String values of every attribute `oid` in `name`.
pub fn attribute_strings(name: &x509_cert::name::Name, oid: ObjectIdentifier) -> Vec<String> {
    let mut out = Vec::new();
    for atv in name.iter() {
        if atv.oid == oid
            && let Ok(s) = std::str::from_utf8(atv.value.value())
        {
            out.push(s.to_string());
        }
    }
    out
}

/// Lower-case hex of a serial's content octets, without leading zero octets.
pub fn serial_hex(bytes: &[u8]) -> String {
    let trimmed = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => &bytes[bytes.len().saturating_sub(1)..],
    };
    let mut s = String::with_capacity(trimmed.len() * 2);
    for b in trimmed {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::{CertificateTemplate, sign_certificate};
    use cachet_crypto::PrivateKey;
    use der::asn1::OctetString;

    fn name(cn: &str) -> Vec<u8> {
        crate::name::NameBuilder::new()
            .common_name(cn)
            .unwrap()
            .to_der()
            .unwrap()
    }

    fn raw_ext(oid: ObjectIdentifier, value: &[u8]) -> Extension {
        Extension {
            extn_id: oid,
            critical: false,
            extn_value: OctetString::new(value).unwrap(),
        }
    }

    /// A self-issued certificate with `extensions`, signed by a fresh P-256 key, with
    /// `issuer` as its issuer name; its DER.
    fn certificate_der(issuer: &[u8], extensions: Vec<Extension>) -> Vec<u8> {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let t = CertificateTemplate {
            serial: vec![1],
            subject_der: name("Structure"),
            spki_der: key.public_key_der().to_vec(),
            not_before: 1_700_000_000,
            not_after: 1_800_000_000,
            extensions,
        };
        sign_certificate(&t, issuer, &key).unwrap()
    }

    fn structure(der: &[u8]) -> std::result::Result<(), String> {
        ParsedCertificate::from_der(der)
            .unwrap()
            .check_structure()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn well_formed_certificates_pass_the_structure_check() {
        let ski = crate::ext::subject_key_identifier(&[7; 20]).unwrap();
        let bc = crate::ext::basic_constraints(true, Some(0)).unwrap();
        // An extension Cachet does not read may hold anything.
        let other = raw_ext(
            ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.9"),
            b"opaque",
        );
        assert_eq!(
            structure(&certificate_der(&name("Structure"), vec![ski, bc, other])),
            Ok(())
        );
    }

    #[test]
    fn remembered_extensions_are_what_decoding_gives_and_failures_stay_failures() {
        let bc = crate::ext::basic_constraints(true, Some(0)).unwrap();
        let bad_ku = raw_ext(oids::ID_CE_KEY_USAGE, b"malformed");
        let c =
            ParsedCertificate::from_der(&certificate_der(&name("S"), vec![bc, bad_ku])).unwrap();
        for _ in 0..2 {
            let (critical, bc) = c.basic_constraints().unwrap().unwrap();
            assert!(critical);
            assert!(bc.ca);
            assert_eq!(bc.path_len_constraint, Some(0));
            let e = c.key_usage().unwrap_err().to_string();
            assert!(e.contains("keyUsage"), "{e}");
            assert!(c.ext_key_usage().unwrap().is_none());
            assert!(c.subject_alt_name().unwrap().is_none());
        }
    }

    #[test]
    fn the_structure_check_refuses_what_rfc_5280_calls_malformed() {
        // §4.2: an extension twice.
        let ski = crate::ext::subject_key_identifier(&[7; 20]).unwrap();
        let e = structure(&certificate_der(&name("S"), vec![ski.clone(), ski])).unwrap_err();
        assert!(e.contains("appears twice"), "{e}");

        // §4.2.2.1: an authorityInfoAccess that is not an AuthorityInfoAccessSyntax.
        let aia = raw_ext(oids::ID_PE_AUTHORITY_INFO_ACCESS, b"malformed");
        let e = structure(&certificate_der(&name("S"), vec![aia])).unwrap_err();
        assert!(e.contains("authorityInfoAccess"), "{e}");

        // §4.1.2.4: an empty issuer name.
        let e = structure(&certificate_der(&[0x30, 0x00], vec![])).unwrap_err();
        assert!(e.contains("issuer name is empty"), "{e}");

        // §4.1.1.2: the outer signatureAlgorithm differs from the signed one
        // (ecdsa-with-SHA256 outside rewritten to ecdsa-with-SHA384).
        let mut der = certificate_der(&name("S"), vec![]);
        let sha256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
        let outer = der
            .windows(sha256.len())
            .rposition(|w| w == sha256)
            .unwrap();
        der[outer + sha256.len() - 1] = 0x03;
        let e = structure(&der).unwrap_err();
        assert!(e.contains("signatureAlgorithm differs"), "{e}");
    }
}
