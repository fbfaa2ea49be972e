//! SignedData (RFC 5652 §5) as S/MIME uses it (RFC 8551 §2): signing with the signed
//! attributes S/MIME clients expect, and verification that explains every finding.
//!
//! Signing writes DER. Verification reads BER and checks each signature over the signed
//! attributes *as received* (re-tagged as SET, RFC 5652 §5.4) — never over a re-encoding.
//! Content digests are computed by the caller (see [`ContentDigests`]) so that a 1 GiB body
//! can be hashed while it streams past.

use crate::ber::BerLimits;
use crate::cms::attr::{
    EssCertIdV2, IssuerSerial, SigningCertificateV2, SmimeCapabilities, SmimeCapability,
    sha256_identifier, single_attribute_value,
};
use crate::cms::{
    self, CmsContent, CmsError, IssuerAndSerialNumber, ReceivedSignerInfo, SignedData,
    SignerIdentifier, SignerInfo, oid,
};
use cachet_crypto::digest::{DigestAlgorithm, Hasher};
use cachet_crypto::{KeyType, PrivateKey, SignatureAlgorithm};
use cachet_pki::ParsedCertificate;
use cachet_pki::crl::ParsedCrl;
use cachet_pki::validate::mailbox::{MailboxMatch, mailbox_match};
use cachet_pki::validate::{
    Fetcher, Material, PolicyInputs, Purpose, RevocationPolicy, TrustAnchor, Validation,
    ValidationOptions,
};
use cachet_pki::verdict::{Code, Finding, Verdict};
use const_oid::ObjectIdentifier;
use der::asn1::{Any, OctetString, SetOfVec};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::time::Time;

/// Why signing failed (verification never fails this way: it returns findings).
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The signer's key cannot sign (X25519) or does not match the certificate.
    #[error("{0}")]
    Key(String),
    /// Encoding failed.
    #[error(transparent)]
    Cms(#[from] CmsError),
    /// The primitive failed.
    #[error(transparent)]
    Crypto(#[from] cachet_crypto::Error),
}

/// The digest algorithm paired with a signer's key (RFC 5754, RFC 8419): SHA-384 for P-384,
/// SHA-512 for Ed25519, SHA-256 otherwise.
pub fn digest_for(kt: KeyType) -> DigestAlgorithm {
    match kt {
        KeyType::EcdsaP384 => DigestAlgorithm::Sha384,
        KeyType::Ed25519 => DigestAlgorithm::Sha512,
        _ => DigestAlgorithm::Sha256,
    }
}

/// The OID of a digest algorithm.
pub fn digest_oid(d: DigestAlgorithm) -> ObjectIdentifier {
    match d {
        DigestAlgorithm::Sha1 => oid::ID_SHA1,
        DigestAlgorithm::Sha256 => oid::ID_SHA256,
        DigestAlgorithm::Sha384 => oid::ID_SHA384,
        DigestAlgorithm::Sha512 => oid::ID_SHA512,
    }
}

/// The digest algorithm with `oid`.
pub fn digest_from_oid(o: &ObjectIdentifier) -> Option<DigestAlgorithm> {
    [
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ]
    .into_iter()
    .find(|d| digest_oid(*d) == *o)
}

/// The `micalg` parameter of multipart/signed for a digest (RFC 8551 §3.5.3.2).
pub fn micalg(d: DigestAlgorithm) -> &'static str {
    match d {
        DigestAlgorithm::Sha1 => "sha-1",
        DigestAlgorithm::Sha256 => "sha-256",
        DigestAlgorithm::Sha384 => "sha-384",
        DigestAlgorithm::Sha512 => "sha-512",
    }
}

/// Digests of one content under several algorithms, computed in one pass.
#[derive(Clone)]
pub struct ContentDigests {
    hashers: Vec<Hasher>,
}

/// Finished digests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests(Vec<(DigestAlgorithm, Vec<u8>)>);

impl Digests {
    /// The digest under `alg`, if computed.
    pub fn get(&self, alg: DigestAlgorithm) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, d)| d.as_slice())
    }
}

impl ContentDigests {
    /// Hashers for each distinct algorithm in `algs`.
    pub fn new(algs: impl IntoIterator<Item = DigestAlgorithm>) -> Self {
        let mut hashers: Vec<Hasher> = Vec::new();
        for a in algs {
            if !hashers.iter().any(|h| h.algorithm() == a) {
                hashers.push(Hasher::new(a));
            }
        }
        ContentDigests { hashers }
    }

    /// Adds content.
    pub fn update(&mut self, data: &[u8]) {
        for h in &mut self.hashers {
            h.update(data);
        }
    }

    /// The digests.
    pub fn finish(self) -> Digests {
        Digests(
            self.hashers
                .into_iter()
                .map(|h| (h.algorithm(), h.finish()))
                .collect(),
        )
    }

    /// Digests of `content` in one call.
    pub fn of(content: &[u8], algs: impl IntoIterator<Item = DigestAlgorithm>) -> Digests {
        let mut c = Self::new(algs);
        c.update(content);
        c.finish()
    }
}

/// How the signer's certificate is identified (RFC 5652 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidKind {
    /// issuerAndSerialNumber (version 1): what every client reads.
    #[default]
    IssuerAndSerialNumber,
    /// subjectKeyIdentifier (version 3).
    SubjectKeyIdentifier,
}

/// One signer.
pub struct Signer<'a> {
    /// The signer's certificate.
    pub certificate: &'a ParsedCertificate,
    /// Its private key.
    pub key: &'a PrivateKey,
    /// Further certificates to carry (intermediates; the root is optional).
    pub chain: &'a [ParsedCertificate],
}

/// What to sign and how.
pub struct SignRequest<'a> {
    /// The signers.
    pub signers: &'a [Signer<'a>],
    /// Digests of the content (must include each signer's [`digest_for`]).
    pub digests: &'a Digests,
    /// The content itself when it is encapsulated (opaque signing); `None` for detached.
    pub encapsulated: Option<&'a [u8]>,
    /// signingTime, seconds since the epoch.
    pub signing_time: u64,
    /// How signers are identified.
    pub sid: SidKind,
    /// RSA signers use RSASSA-PSS (RFC 4056) instead of PKCS#1 v1.5.
    pub rsa_pss: bool,
}

/// The content-encryption algorithms Cachet reads, in order of preference, for the
/// SMIMECapabilities attribute (RFC 8551 §2.5.2).
pub fn capabilities() -> SmimeCapabilities {
    [
        oid::ID_AES256_GCM,
        oid::ID_AES128_GCM,
        oid::ID_AES256_CBC,
        oid::ID_AES128_CBC,
    ]
    .into_iter()
    .map(|capability_id| SmimeCapability {
        capability_id,
        parameters: None,
    })
    .collect()
}

/// `Attribute ::= SEQUENCE { attrType, attrValues SET OF }` (RFC 5652 §5.3) with one value.
fn attribute_der<T: Encode>(o: ObjectIdentifier, value: &T) -> Result<Vec<u8>, CmsError> {
    let bad = |e: der::Error| CmsError::malformed("attribute", e);
    let value = value.to_der().map_err(bad)?;
    Ok(cms::tlv(
        0x30,
        &[&o.to_der().map_err(bad)?, &cms::tlv(0x31, &[&value])],
    ))
}

/// The SMIMECapabilities attribute, the same in every signature: encoded once.
fn capabilities_attribute() -> Result<&'static [u8], CmsError> {
    static ATTR: std::sync::OnceLock<Result<Vec<u8>, CmsError>> = std::sync::OnceLock::new();
    ATTR.get_or_init(|| attribute_der(oid::SMIME_CAPABILITIES, &capabilities()))
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// The SignerInfo.signatureAlgorithm Cachet writes: rsaEncryption (as OpenSSL, NSS and
/// Outlook write it, RFC 5754 §3.2 allows it), ecdsa-with-SHA*, id-Ed25519.
fn signature_algorithm_identifier(kt: KeyType, d: DigestAlgorithm) -> AlgorithmIdentifierOwned {
    let null = || Any::new(der::Tag::Null, []).ok();
    match kt {
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => AlgorithmIdentifierOwned {
            oid: oid::RSA_ENCRYPTION,
            parameters: null(),
        },
        KeyType::Ed25519 => AlgorithmIdentifierOwned {
            oid: oid::ID_ED25519,
            parameters: None,
        },
        _ => AlgorithmIdentifierOwned {
            oid: if d == DigestAlgorithm::Sha384 {
                oid::ECDSA_WITH_SHA384
            } else {
                oid::ECDSA_WITH_SHA256
            },
            parameters: None,
        },
    }
}

/// Builds a SignedData ContentInfo (DER).
pub fn sign(req: &SignRequest<'_>) -> Result<Vec<u8>, SignError> {
    let enc = |e: der::Error| SignError::Cms(CmsError::malformed("SignedData", e));
    let mut digest_algorithms = SetOfVec::new();
    let mut signer_infos: Vec<Vec<u8>> = Vec::new();
    let mut certificates: Vec<&ParsedCertificate> = Vec::new();
    let mut any_v3 = false;
    for s in req.signers {
        let kt = s.key.key_type();
        if !kt.can_sign() {
            return Err(SignError::Key(format!("a {kt} key cannot sign")));
        }
        if s.certificate
            .spki_der()
            .map_err(|e| SignError::Key(e.to_string()))?
            != s.key.public_key_der()
        {
            return Err(SignError::Key(
                "the private key does not belong to the signer's certificate".into(),
            ));
        }
        let d = digest_for(kt);
        let digest = req.digests.get(d).ok_or_else(|| {
            SignError::Key(format!(
                "no {} digest of the content was computed",
                micalg(d)
            ))
        })?;
        let digest_alg = AlgorithmIdentifierOwned {
            oid: digest_oid(d),
            parameters: None,
        };
        let _ = digest_algorithms.insert(digest_alg.clone());

        let cert = s.certificate.inner();
        let time = cachet_pki::time::x509_time(req.signing_time)
            .map_err(|e| SignError::Key(e.to_string()))?;
        // The signed attributes, each encoded once; the SET OF in DER order (X.690 §11.6).
        let mut attrs: Vec<Vec<u8>> = vec![
            attribute_der(oid::ID_CONTENT_TYPE, &oid::ID_DATA)?,
            attribute_der(oid::ID_SIGNING_TIME, &time)?,
            attribute_der(
                oid::ID_MESSAGE_DIGEST,
                &OctetString::new(digest).map_err(enc)?,
            )?,
            capabilities_attribute()?.to_vec(),
            attribute_der(
                oid::ID_AA_SIGNING_CERTIFICATE_V2,
                &SigningCertificateV2 {
                    certs: vec![EssCertIdV2 {
                        hash_algorithm: sha256_identifier(),
                        cert_hash: OctetString::new(cachet_crypto::digest::sha256(
                            s.certificate.der(),
                        ))
                        .map_err(enc)?,
                        issuer_serial: Some(IssuerSerial {
                            issuer: vec![GeneralName::DirectoryName(
                                cert.tbs_certificate().issuer().clone(),
                            )],
                            serial_number: cert.tbs_certificate().serial_number().clone(),
                        }),
                    }],
                    policies: None,
                },
            )?,
        ];
        attrs.sort_unstable();
        let attr_parts: Vec<&[u8]> = attrs.iter().map(Vec::as_slice).collect();
        // RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF.
        let mut attrs_der = cms::tlv(0x31, &attr_parts);
        let pss = req.rsa_pss && kt.is_rsa();
        let signature = if pss {
            s.key
                .sign_rsa_pss(&attrs_der, SignatureAlgorithm::RsaPssSha256)?
        } else {
            s.key.sign(&attrs_der)?
        };
        // …and is sent as [0] IMPLICIT.
        attrs_der[0] = 0xa0;
        let sid = match req.sid {
            SidKind::IssuerAndSerialNumber => IssuerAndSerialNumber {
                issuer: cert.tbs_certificate().issuer().clone(),
                serial_number: cert.tbs_certificate().serial_number().clone(),
            }
            .to_der()
            .map_err(enc)?,
            SidKind::SubjectKeyIdentifier => {
                any_v3 = true;
                let ski = s
                    .certificate
                    .subject_key_id()
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        SignError::Key(
                            "the signer's certificate has no subjectKeyIdentifier".into(),
                        )
                    })?;
                // [0] IMPLICIT SubjectKeyIdentifier (RFC 5652 §5.3).
                cms::tlv(0x80, &[&ski])
            }
        };
        let version = if req.sid == SidKind::SubjectKeyIdentifier {
            cms::CmsVersion::V3
        } else {
            cms::CmsVersion::V1
        };
        let signature_algorithm = if pss {
            SignatureAlgorithm::RsaPssSha256.algorithm_identifier_der()
        } else {
            signature_algorithm_identifier(kt, d)
                .to_der()
                .map_err(enc)?
        };
        signer_infos.push(cms::tlv(
            0x30,
            &[
                &version.to_der().map_err(enc)?,
                &sid,
                &digest_alg.to_der().map_err(enc)?,
                &attrs_der,
                &signature_algorithm,
                &OctetString::new(signature)
                    .map_err(enc)?
                    .to_der()
                    .map_err(enc)?,
            ],
        ));
        certificates.push(s.certificate);
        certificates.extend(s.chain.iter());
    }
    // certificates [0] IMPLICIT SET OF: the certificates' own DER, in DER order (X.690
    // §11.6), each once (a shared intermediate) — not re-encoded from decoded structures.
    let mut cert_ders: Vec<&[u8]> = certificates.iter().map(|c| c.der()).collect();
    cert_ders.sort_unstable();
    cert_ders.dedup();
    let certificates = cms::tlv(0xa0, &cert_ders);
    let econtent = match req.encapsulated {
        Some(content) => {
            let os = OctetString::new(content).map_err(enc)?;
            Some(Any::from_der(&os.to_der().map_err(enc)?).map_err(enc)?)
        }
        None => None,
    };
    // RFC 5652 §5.1: version 3 when any SignerInfo is version 3, else 1 (id-data, no
    // attribute certificates).
    let version = if any_v3 {
        cms::CmsVersion::V3
    } else {
        cms::CmsVersion::V1
    };
    let eci = cms::EncapsulatedContentInfo {
        econtent_type: oid::ID_DATA,
        econtent,
    };
    signer_infos.sort_unstable();
    let si_parts: Vec<&[u8]> = signer_infos.iter().map(Vec::as_slice).collect();
    let signer_infos_der = cms::tlv(0x31, &si_parts);
    let signed_data = cms::tlv(
        0x30,
        &[
            &version.to_der().map_err(enc)?,
            &digest_algorithms.to_der().map_err(enc)?,
            &eci.to_der().map_err(enc)?,
            &certificates,
            &signer_infos_der,
        ],
    );
    Ok(cms::wrap_content_info(oid::ID_SIGNED_DATA, &signed_data)?)
}

pub use cachet_pki::validate::{CertificateIntern, SignatureCache};

/// Settings of a verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The time of checking (seconds since the epoch): certificate validity is judged then.
    pub at: u64,
    /// Trust anchors. Empty: the chain is not checked (and the verdict says so).
    pub trust_anchors: Vec<TrustAnchor>,
    /// More certificates that may complete a chain (intermediates from elsewhere).
    pub extra_certificates: Vec<ParsedCertificate>,
    /// CRLs besides those the message carries (files, the trust store, fetched).
    pub crls: Vec<ParsedCrl>,
    /// The RFC 5280 §6.1.1 policy inputs.
    pub policy: PolicyInputs,
    /// Revocation policy for anchors without one of their own.
    pub revocation: RevocationPolicy,
    /// The message's From address, checked against the signer certificate.
    pub from_addresses: Vec<String>,
    /// Certificates parsed by earlier verifications with these options (or options cloned
    /// from them): one that arrives again is not decoded and structure-checked again. On by
    /// default; it changes no verdict (see [`CertificateIntern`]).
    pub certificates: std::sync::Arc<CertificateIntern>,
    /// Certificate signatures verified by earlier verifications with these options (or
    /// options cloned from them): a CA certificate's signature over the same bytes with the
    /// same issuer key is checked once, not for every message. On by default; it changes no
    /// verdict (see [`SignatureCache`]): validity, revocation, name constraints and policies
    /// are still checked for each message, and so is each message's own signature. `None`
    /// verifies every certificate signature every time.
    pub cache: Option<std::sync::Arc<SignatureCache>>,
    /// Fetches CRLs, OCSP answers and missing issuers over the network; `None`: offline.
    pub fetcher: Option<std::sync::Arc<dyn Fetcher>>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            at: 0,
            trust_anchors: Vec::new(),
            extra_certificates: Vec::new(),
            crls: Vec::new(),
            policy: PolicyInputs::default(),
            revocation: RevocationPolicy::default(),
            from_addresses: Vec::new(),
            certificates: Default::default(),
            cache: Some(Default::default()),
            fetcher: None,
        }
    }
}

impl VerifyOptions {
    /// Options trusting `anchors` (unconstrained) at `at`.
    pub fn trusting(at: u64, anchors: impl IntoIterator<Item = ParsedCertificate>) -> Self {
        VerifyOptions {
            at,
            trust_anchors: anchors.into_iter().map(TrustAnchor::new).collect(),
            ..Default::default()
        }
    }
}

/// What was found about one signer.
#[derive(Debug, Clone)]
pub struct SignerReport {
    /// The signer's certificate, if it was found.
    pub certificate: Option<ParsedCertificate>,
    /// The signingTime attribute.
    pub signing_time: Option<u64>,
    /// The digest algorithm.
    pub digest_algorithm: Option<DigestAlgorithm>,
    /// The chain that was built (signer first), when trust anchors were given.
    pub chain: Vec<ParsedCertificate>,
    /// The path validation of the signer's certificate (chain, revocation, policies), when
    /// trust anchors were given.
    pub validation: Option<Validation>,
    /// The SMIMECapabilities the signer advertised (OIDs).
    pub capabilities: Vec<ObjectIdentifier>,
    /// Findings about this signer.
    pub verdict: Verdict,
}

/// The result of verifying a SignedData.
#[derive(Debug, Clone)]
pub struct SignedReport {
    /// One report per SignerInfo, in received order.
    pub signers: Vec<SignerReport>,
    /// The encapsulated content, when the signature is not detached.
    pub content: Option<Vec<u8>>,
    /// Every certificate the message carries.
    pub certificates: Vec<ParsedCertificate>,
    /// Every CRL the message carries.
    pub crls: Vec<ParsedCrl>,
    /// Findings about the whole (e.g. no signers) and each signer's findings.
    pub verdict: Verdict,
}

/// Where the signed content comes from when verifying.
pub enum SignedContent<'a> {
    /// Encapsulated in the SignedData (opaque signing).
    Encapsulated,
    /// Detached: the bytes (already canonicalised by the caller).
    Detached(&'a [u8]),
    /// Detached, digested by the caller while it streamed past.
    DetachedDigests(&'a Digests),
    /// Detached, digested by the caller once told which algorithms the signers used (the
    /// streaming verifier reads a multipart/signed signature before the content).
    DetachedDigester(&'a mut dyn FnMut(&[DigestAlgorithm]) -> Digests),
}

fn time_of(t: &Time) -> u64 {
    cachet_pki::time::unix(t)
}

fn find_signer<'c>(
    sid: &SignerIdentifier,
    certs: &'c [ParsedCertificate],
) -> Option<&'c ParsedCertificate> {
    certs.iter().find(|c| match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            let tbs = c.inner().tbs_certificate();
            tbs.serial_number() == &isn.serial_number && tbs.issuer() == &isn.issuer
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => c
            .subject_key_id()
            .ok()
            .flatten()
            .is_some_and(|k| k == ski.0.as_bytes()),
    })
}

/// RFC 4056 §3: an RSASSA-PSS SignerInfo's parameters name the hash, MGF and salt length.
fn pss_of(si: &SignerInfo) -> Option<cachet_crypto::signature::PssParameters> {
    si.signature_algorithm
        .to_der()
        .ok()
        .and_then(|d| cachet_crypto::signature::pss_parameters(&d))
}

/// The signature algorithm of a SignerInfo, from signatureAlgorithm and digestAlgorithm.
fn signer_signature_algorithm(si: &SignerInfo, d: DigestAlgorithm) -> Option<SignatureAlgorithm> {
    let o = si.signature_algorithm.oid;
    if o == oid::RSA_ENCRYPTION {
        return Some(match d {
            DigestAlgorithm::Sha1 => SignatureAlgorithm::RsaPkcs1Sha1,
            DigestAlgorithm::Sha256 => SignatureAlgorithm::RsaPkcs1Sha256,
            DigestAlgorithm::Sha384 => SignatureAlgorithm::RsaPkcs1Sha384,
            DigestAlgorithm::Sha512 => SignatureAlgorithm::RsaPkcs1Sha512,
        });
    }
    if o == oid::ID_EC_PUBLIC_KEY {
        // Some signers name the key algorithm; the digest algorithm decides.
        return Some(match d {
            DigestAlgorithm::Sha1 => SignatureAlgorithm::EcdsaSha1,
            DigestAlgorithm::Sha256 => SignatureAlgorithm::EcdsaSha256,
            DigestAlgorithm::Sha384 => SignatureAlgorithm::EcdsaSha384,
            DigestAlgorithm::Sha512 => SignatureAlgorithm::EcdsaSha512,
        });
    }
    if o == cachet_crypto::signature::ID_RSASSA_PSS {
        return pss_of(si).map(|p| p.algorithm);
    }
    if o == cachet_crypto::dsa::ID_DSA {
        // Some signers name the key algorithm; the digest algorithm decides.
        return match d {
            DigestAlgorithm::Sha1 => Some(SignatureAlgorithm::DsaSha1),
            DigestAlgorithm::Sha256 => Some(SignatureAlgorithm::DsaSha256),
            _ => None,
        };
    }
    SignatureAlgorithm::from_oid(&o)
}

/// Whether the certificate names `address` (subjectAltName rfc822Name or SmtpUTF8Mailbox,
/// or the subject's emailAddress when there is no subjectAltName mailbox), comparing the
/// domain without case and the local part exactly (RFC 5280 §7.5) — or the local part
/// without case too, as every mail system delivers that way.
pub fn certificate_has_address(cert: &ParsedCertificate, address: &str) -> bool {
    mailbox_match(cert, address) != MailboxMatch::None
}

/// What can be said of the signer's certificate without a trust anchor (validity, key
/// usage, extended key usage); with anchors, path validation checks all of it.
fn check_signer_certificate(cert: &ParsedCertificate, opts: &VerifyOptions, v: &mut Verdict) {
    // The subject only for findings: formatting it costs more than the checks.
    let subject = || cert.subject();
    if cert.not_after() < opts.at {
        v.push(
            Finding::error(
                Code::Expired,
                format!(
                    "the signer's certificate expired on {}",
                    cachet_pki::time::rfc3339(cert.not_after())
                ),
            )
            .about(subject()),
        );
    }
    if cert.not_before() > opts.at {
        v.push(
            Finding::error(
                Code::NotYetValid,
                format!(
                    "the signer's certificate is valid only from {}",
                    cachet_pki::time::rfc3339(cert.not_before())
                ),
            )
            .about(subject()),
        );
    }
    use x509_cert::ext::pkix::KeyUsages;
    match cert.key_usage() {
        Ok(Some((_, ku))) => {
            if !(ku.0.contains(KeyUsages::DigitalSignature)
                || ku.0.contains(KeyUsages::NonRepudiation))
            {
                v.push(Finding::error(Code::WrongKeyUsage, "the signer's certificate does not allow signing (keyUsage has neither digitalSignature nor nonRepudiation): the sender needs a signing certificate").about(subject()));
            }
        }
        Ok(None) => {}
        Err(e) => v.push(
            Finding::error(
                Code::Malformed,
                format!("the signer's keyUsage cannot be read: {e}"),
            )
            .about(subject()),
        ),
    }
    match cert.ext_key_usage() {
        Ok(Some((_, eku))) => {
            let any = ObjectIdentifier::new_unwrap("2.5.29.37.0");
            if !eku
                .0
                .iter()
                .any(|o| *o == const_oid::db::rfc5280::ID_KP_EMAIL_PROTECTION || *o == any)
            {
                v.push(Finding::error(Code::WrongExtendedKeyUsage, "the signer's certificate is not for e-mail (extKeyUsage lacks emailProtection): the sender needs an S/MIME certificate").about(subject()));
            }
        }
        Ok(None) => {}
        Err(e) => v.push(
            Finding::error(
                Code::Malformed,
                format!("the signer's extKeyUsage cannot be read: {e}"),
            )
            .about(subject()),
        ),
    }
}

/// RFC 8551 §3.8: the From address against the signer's certificate.
fn check_sender_address(cert: &ParsedCertificate, opts: &VerifyOptions, v: &mut Verdict) {
    for from in opts
        .from_addresses
        .iter()
        .filter(|a| !certificate_has_address(cert, a))
    {
        let names = cachet_pki::validate::mailbox::mailboxes(cert).join(", ");
        v.push(
            Finding::error(
                Code::SignerAddressMismatch,
                format!("the message is From {from} but the signer's certificate is for {}: it may be forged, or the sender signs with another address's certificate", if names.is_empty() { "no address".to_string() } else { names }),
            )
            .about(cert.subject()),
        );
    }
}

/// RFC 5280 §6 path validation of the signer's certificate for e-mail signing.
fn validate_signer(
    cert: &ParsedCertificate,
    certs: &[ParsedCertificate],
    crls: &[ParsedCrl],
    opts: &VerifyOptions,
) -> Validation {
    let mut vopts = ValidationOptions::new(opts.at, Purpose::EmailSigning);
    vopts.policy = opts.policy.clone();
    vopts.revocation = opts.revocation;
    let material = Material {
        anchors: &opts.trust_anchors,
        intermediates: certs,
        crls,
        cache: opts.cache.as_deref(),
        fetcher: opts.fetcher.as_deref(),
    };
    cachet_pki::validate::validate(cert, &material, &vopts)
}

/// RFC 5035 §3: the first ESSCertIDv2 identifies the signer's certificate; its hash (and
/// issuerSerial, when present) must match the certificate that verified the signature.
fn check_signing_certificate(sc: &SigningCertificateV2, cert: &ParsedCertificate, v: &mut Verdict) {
    let Some(first) = sc.certs.first() else {
        v.push(Finding::error(
            Code::Malformed,
            "the signing-certificate attribute is empty",
        ));
        return;
    };
    let Some(alg) = digest_from_oid(&first.hash_algorithm.oid) else {
        v.push(Finding::error(
            Code::Malformed,
            format!(
                "the signing-certificate attribute uses unsupported hash {}",
                first.hash_algorithm.oid
            ),
        ));
        return;
    };
    let serial_ok = first.issuer_serial.as_ref().is_none_or(|is| {
        let tbs = cert.inner().tbs_certificate();
        is.serial_number == *tbs.serial_number()
            && is
                .issuer
                .iter()
                .any(|g| matches!(g, GeneralName::DirectoryName(n) if n == tbs.issuer()))
    });
    if alg.digest(cert.der()) != first.cert_hash.as_bytes() || !serial_ok {
        v.push(Finding::error(
            Code::BadSignature,
            "the signing-certificate attribute names a different certificate than the one used: the signer certificate was swapped",
        ));
    }
}

fn verify_one(
    rsi: &ReceivedSignerInfo,
    certs: &[ParsedCertificate],
    crls: &[ParsedCrl],
    content_type: ObjectIdentifier,
    digests: &Digests,
    opts: &VerifyOptions,
) -> SignerReport {
    let si = &rsi.signer_info;
    let mut v = Verdict::default();
    let mut report = SignerReport {
        certificate: None,
        signing_time: None,
        digest_algorithm: None,
        chain: Vec::new(),
        validation: None,
        capabilities: Vec::new(),
        verdict: Verdict::default(),
    };
    let Some(d) = digest_from_oid(&si.digest_alg.oid) else {
        v.push(Finding::error(
            Code::Malformed,
            format!("digest algorithm {} is not supported", si.digest_alg.oid),
        ));
        report.verdict = v;
        return report;
    };
    report.digest_algorithm = Some(d);
    if d == DigestAlgorithm::Sha1 {
        v.push(Finding::warning(Code::WeakAlgorithm, "the signature uses SHA-1, which is no longer secure: accepted for old mail only; ask the sender to upgrade"));
    }
    let Some(cert) = find_signer(&si.sid, certs) else {
        v.push(Finding::error(Code::MissingIntermediate, "the signer's certificate is not in the message: get it from the sender or the directory and pass it with --intermediates"));
        report.verdict = v;
        return report;
    };
    report.certificate = Some(cert.clone());
    let Some(content_digest) = digests.get(d) else {
        v.push(Finding::error(
            Code::Malformed,
            "the content digest was not computed for this signer's algorithm",
        ));
        report.verdict = v;
        return report;
    };
    // What the signature covers: the signed attributes as received, or (without them) the
    // content digest's input — here represented by the digest itself via a pre-hashed check.
    let signed_bytes: Vec<u8> = match (&si.signed_attrs, &rsi.signed_attrs_encoding) {
        (Some(attrs), Some(encoding)) => {
            match single_attribute_value::<ObjectIdentifier>(attrs, oid::ID_CONTENT_TYPE) {
                Ok(Some(ct)) if ct == content_type => {}
                Ok(_) => v.push(Finding::error(
                    Code::Malformed,
                    "the content-type attribute is missing or does not match the content",
                )),
                Err(e) => v.push(Finding::error(Code::Malformed, e.to_string())),
            }
            match single_attribute_value::<OctetString>(attrs, oid::ID_MESSAGE_DIGEST) {
                Ok(Some(md)) if md.as_bytes() == content_digest => {}
                Ok(Some(_)) => v.push(Finding::error(
                    Code::ContentAltered,
                    "the content was changed after it was signed (its digest does not match the signed message-digest): do not trust it; ask the sender to resend",
                )),
                Ok(None) => v.push(Finding::error(Code::Malformed, "the message-digest attribute is missing")),
                Err(e) => v.push(Finding::error(Code::Malformed, e.to_string())),
            }
            if let Ok(Some(t)) = single_attribute_value::<Time>(attrs, oid::ID_SIGNING_TIME) {
                report.signing_time = Some(time_of(&t));
            }
            if let Ok(Some(caps)) =
                single_attribute_value::<SmimeCapabilities>(attrs, oid::SMIME_CAPABILITIES)
            {
                report.capabilities = caps.iter().map(|c| c.capability_id).collect();
            }
            match single_attribute_value::<SigningCertificateV2>(
                attrs,
                oid::ID_AA_SIGNING_CERTIFICATE_V2,
            ) {
                Ok(Some(sc)) => check_signing_certificate(&sc, cert, &mut v),
                Ok(None) => {}
                Err(e) => v.push(Finding::error(
                    Code::Malformed,
                    format!("the signing-certificate attribute cannot be read: {e}"),
                )),
            }
            encoding.clone()
        }
        (Some(_), None) => {
            v.push(Finding::error(
                Code::Malformed,
                "the signed attributes could not be located in the received encoding",
            ));
            report.verdict = v;
            return report;
        }
        (None, _) => Vec::new(),
    };
    let Some(alg) = signer_signature_algorithm(si, d) else {
        v.push(Finding::error(
            Code::Malformed,
            format!(
                "signature algorithm {} is not supported",
                si.signature_algorithm.oid
            ),
        ));
        report.verdict = v;
        return report;
    };
    if alg.is_weak() && d != DigestAlgorithm::Sha1 {
        v.push(Finding::warning(
            Code::WeakAlgorithm,
            "the signature uses SHA-1: accepted for old mail only",
        ));
    }
    // The path first: it yields the signer's working public key (a DSA key may inherit
    // its domain parameters from the CA's, RFC 5280 §6.1.4 (f)).
    let validation =
        (!opts.trust_anchors.is_empty()).then(|| validate_signer(cert, certs, crls, opts));
    let spki = match &validation {
        Some(val) => val.leaf_public_key.clone(),
        None => cert.spki_der().unwrap_or_default(),
    };
    let sig_ok = if si.signed_attrs.is_some() {
        let result = match pss_of(si) {
            Some(p) => p.verify(&spki, &signed_bytes, si.signature.as_bytes()),
            None => alg.verify(&spki, &signed_bytes, si.signature.as_bytes()),
        };
        match result {
            Ok(()) => true,
            Err(cachet_crypto::Error::UnsupportedAlgorithm(what)) => {
                v.push(Finding::error(
                    Code::Malformed,
                    format!("the signature uses {what}, which Cachet cannot verify yet"),
                ));
                report.verdict = v;
                return report;
            }
            Err(_) => false,
        }
    } else {
        // No signed attributes (RFC 5652 §5.4): the signature is over the content itself,
        // which only the digest represents here; Cachet requires signed attributes, as
        // RFC 8551 §2.5 says every S/MIME sender includes them.
        v.push(Finding::error(
            Code::Malformed,
            "the signature has no signed attributes, which S/MIME requires (RFC 8551 §2.5)",
        ));
        false
    };
    if !sig_ok && si.signed_attrs.is_some() {
        v.push(Finding::error(Code::BadSignature, "the signature does not verify with the signer's certificate: the message or its signature was altered, or the certificate was swapped").about(cert.subject()));
    }
    check_sender_address(cert, opts, &mut v);
    match validation {
        Some(val) => {
            for f in &val.verdict.findings {
                v.push(f.clone());
            }
            report.chain = if val.is_valid() {
                val.chain.clone()
            } else {
                Vec::new()
            };
            report.validation = Some(val);
        }
        None => {
            check_signer_certificate(cert, opts, &mut v);
            // Nothing to anchor the signer in: a self-made certificate would pass every
            // other check, so the verdict cannot be valid.
            v.push(
                Finding::error(
                    Code::UntrustedRoot,
                    "no trust anchor was given, so the signer's certificate could not be checked: pass the root with --trust",
                )
                .about(cert.subject()),
            );
        }
    }
    report.verdict = v;
    report
}

/// Verifies a SignedData (`cms_ber`, BER or DER) over `content`.
pub fn verify(
    cms_ber: &[u8],
    content: SignedContent<'_>,
    opts: &VerifyOptions,
    limits: &BerLimits,
) -> SignedReport {
    let mut report = SignedReport {
        signers: Vec::new(),
        content: None,
        certificates: Vec::new(),
        crls: Vec::new(),
        verdict: Verdict::default(),
    };
    let decoded = match cms::decode_content_info(cms_ber, limits) {
        Ok(d) => d,
        Err(e) => {
            report.verdict.push(Finding::error(
                Code::Malformed,
                format!("the signature is not a readable CMS structure: {e}"),
            ));
            return report;
        }
    };
    let CmsContent::SignedData {
        signed_data,
        signer_infos,
        certificates,
    } = decoded.content
    else {
        report.verdict.push(Finding::error(
            Code::Malformed,
            "the CMS structure is not SignedData",
        ));
        return report;
    };
    let sd: &SignedData = &signed_data;
    for der in &certificates {
        // A certificate that cannot be read is left out: if the signer needed it, the
        // verdict says its certificate is missing.
        if let Ok(p) = opts.certificates.certificate(der) {
            report.certificates.push(p);
        }
    }
    if let Some(set) = &sd.crls {
        for c in set.0.iter() {
            if let ::cms::revocation::RevocationInfoChoice::Crl(crl) = c
                && let Ok(der) = crl.to_der()
                && let Ok(p) = ParsedCrl::from_der(&der)
            {
                report.crls.push(p);
            }
        }
    }
    let mut certs = report.certificates.clone();
    certs.extend(opts.extra_certificates.iter().cloned());
    let mut crls = report.crls.clone();
    crls.extend(opts.crls.iter().cloned());
    let content_type = sd.encap_content_info.econtent_type;
    let algs: Vec<DigestAlgorithm> = signer_infos
        .iter()
        .filter_map(|s| digest_from_oid(&s.signer_info.digest_alg.oid))
        .collect();
    let encapsulated = match cms::encapsulated_content(&sd.encap_content_info) {
        Ok(c) => c.map(<[u8]>::to_vec),
        Err(e) => {
            report
                .verdict
                .push(Finding::error(Code::Malformed, e.to_string()));
            return report;
        }
    };
    let owned_digests;
    let digests: &Digests = match (content, &encapsulated) {
        (SignedContent::Encapsulated, Some(c)) => {
            owned_digests = ContentDigests::of(c, algs);
            &owned_digests
        }
        (SignedContent::Encapsulated, None) => {
            report.verdict.push(Finding::error(
                Code::Malformed,
                "the signature is detached but no signed content was given",
            ));
            return report;
        }
        // A signature that carries its own content must not be checked against other bytes:
        // which of the two would the reader be shown?
        (
            SignedContent::Detached(_)
            | SignedContent::DetachedDigests(_)
            | SignedContent::DetachedDigester(_),
            Some(_),
        ) => {
            report.verdict.push(Finding::error(
                Code::Malformed,
                "the signature carries its own content, but separate content was also given: verify it without --content",
            ));
            return report;
        }
        (SignedContent::Detached(c), None) => {
            owned_digests = ContentDigests::of(c, algs);
            &owned_digests
        }
        (SignedContent::DetachedDigests(d), None) => d,
        (SignedContent::DetachedDigester(f), None) => {
            owned_digests = f(&algs);
            &owned_digests
        }
    };
    if signer_infos.is_empty() {
        report.verdict.push(Finding::error(
            Code::Malformed,
            "the SignedData has no signers",
        ));
    }
    for rsi in &signer_infos {
        let r = verify_one(rsi, &certs, &crls, content_type, digests, opts);
        for f in &r.verdict.findings {
            report.verdict.push(f.clone());
        }
        report.signers.push(r);
    }
    report.content = encapsulated;
    report
}

/// A "certs-only" SignedData (RFC 8551 §3.2.2, RFC 5652 §5.1 "degenerate case"): no
/// content, no signers, only `certificates` (DER) — how EST returns certificates (RFC 7030
/// §4.1.3) and what the LDAP attribute `userSMIMECertificate` holds. The certificates are
/// written in DER SET OF order (sorted by encoding), so equal sets give equal bytes.
pub fn certs_only(certificates: &[&[u8]]) -> Result<Vec<u8>, CmsError> {
    use crate::cms::{tlv, wrap_content_info};
    use der::Encode;
    let mut sorted: Vec<&[u8]> = certificates.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let version = [0x02, 0x01, 0x01];
    let digest_algorithms = [0x31, 0x00];
    let data_oid = crate::cms::oid::ID_DATA
        .to_der()
        .map_err(|e| CmsError::malformed("id-data", e))?;
    let encap = tlv(0x30, &[&data_oid]);
    let certs = tlv(0xa0, &sorted);
    let signer_infos = [0x31, 0x00];
    let signed_data = tlv(
        0x30,
        &[&version, &digest_algorithms, &encap, &certs, &signer_infos],
    );
    wrap_content_info(crate::cms::oid::ID_SIGNED_DATA, &signed_data)
}

#[cfg(test)]
mod certs_only_tests {
    use super::*;

    #[test]
    fn certs_only_round_trips_sorted_and_deduplicated() {
        // Two minimal "certificates": any DER SEQUENCE is carried as is.
        let a: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x07];
        let b: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x02];
        let der = certs_only(&[a, b, a]).unwrap();
        assert_eq!(der, certs_only(&[b, a]).unwrap(), "order does not matter");
        let decoded = crate::cms::decode_content_info(&der, &BerLimits::default()).unwrap();
        match decoded.content {
            CmsContent::SignedData {
                certificates,
                signer_infos,
                ..
            } => {
                assert_eq!(certificates, vec![b.to_vec(), a.to_vec()]);
                assert!(signer_infos.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}
