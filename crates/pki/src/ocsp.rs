//! OCSP, the Online Certificate Status Protocol (RFC 6960), with the nonce of RFC 8954 and
//! the HTTP GET form of RFC 6960 Appendix A.1 / RFC 5019.
//!
//! Both sides, pure:
//!
//! - the client builds a request ([`CertId`], [`build_request`], [`get_url`]) and checks the
//!   answer ([`check_response`]): status, response type, signature, the responder's
//!   authorisation (RFC 6960 §4.2.2.2), the matching SingleResponse, the nonce and freshness;
//! - the responder reads a request ([`parse_request`]) and answers it, signed
//!   ([`ResponseBuilder`], [`build_response`]) or with an error status ([`error_response`]).
//!
//! No I/O and no clock: the time of a check and the times a response states are parameters.
//! The ASN.1 types below mirror RFC 6960 §4 (its module uses EXPLICIT tags) field for field.

use crate::cert::{ParsedCertificate, first_element_of_sequence};
use crate::crl::RevocationReason;
use crate::time::{UnixTime, rfc3339};
use cachet_crypto::digest::DigestAlgorithm;
use cachet_crypto::signature::{ID_RSASSA_PSS, pss_parameters};
use cachet_crypto::{KeyType, PrivateKey, SignatureAlgorithm};
use const_oid::ObjectIdentifier;
use der::asn1::{Any, AnyRef, BitStringRef, GeneralizedTime, Int, Null, OctetString};
use der::{
    Choice, Decode, DecodeValue, Encode, EncodeValue, Enumerated, FixedTag, Header, Length, Reader,
    Sequence, Tag, Writer,
};
use spki::AlgorithmIdentifierOwned;
use std::fmt;
use std::time::Duration;
use x509_cert::ext::Extension;
use x509_cert::name::Name;

/// id-pkix-ocsp-basic (RFC 6960 §4.2.1): the only response type Cachet reads and writes.
pub const ID_PKIX_OCSP_BASIC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1, RFC 8954).
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): a delegated responder certificate whose own
/// revocation status need not be checked.
pub const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// id-kp-OCSPSigning (RFC 5280 §4.2.1.12): the extended key usage of a delegated responder.
pub const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// The largest OCSP response [`check_response`] reads.
pub const MAX_RESPONSE_LEN: usize = 1024 * 1024;
/// The largest OCSP request [`parse_request`] reads.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;
/// The most CertIDs one request may carry ([`build_request`] and [`parse_request`]).
pub const MAX_REQUESTS: usize = 16;
/// The longest nonce (RFC 8954 §2.1: 1 to 32 octets).
pub const MAX_NONCE_LEN: usize = 32;
/// A GET URL longer than this is not used: send the request by POST (RFC 5019 §5).
pub const MAX_GET_URL_LEN: usize = 255;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why an OCSP request or response was refused, or could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcspError {
    /// The bytes are not the DER structure RFC 6960 defines.
    #[error("malformed OCSP {what}: {detail}")]
    Malformed {
        /// "request" or "response".
        what: &'static str,
        /// The decoder's reason.
        detail: String,
    },
    /// The input is larger than Cachet reads.
    #[error("the OCSP {what} is {len} bytes, more than the {max} Cachet reads")]
    TooLarge {
        /// "request" or "response".
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A request asks about more certificates than the limit ([`MAX_REQUESTS`]).
    #[error("the OCSP request asks about {count} certificates, more than the {max} allowed")]
    TooManyRequests {
        /// How many it asks about.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The responder answered with an error status instead of a signed response (§4.2.1).
    #[error("the OCSP responder refused the request with status {status}")]
    Unsuccessful {
        /// Which error status.
        status: ErrorStatus,
    },
    /// The response is not an id-pkix-ocsp-basic response (§4.2.1).
    #[error("the OCSP response is of type {oid}, not id-pkix-ocsp-basic")]
    UnsupportedResponseType {
        /// The responseType it names.
        oid: String,
    },
    /// A signature or hash algorithm, or a key type, that Cachet does not support.
    #[error("unsupported algorithm in OCSP: {detail}")]
    UnsupportedAlgorithm {
        /// Which.
        detail: String,
    },
    /// The response's signature does not verify with the responder's key.
    #[error("the OCSP response's signature does not verify with the responder's key")]
    BadSignature,
    /// The signer is neither the CA nor a responder the CA delegated to (§4.2.2.2).
    #[error("the OCSP response is signed by a responder the CA has not authorised: {detail}")]
    UnauthorisedResponder {
        /// Why the responder is not authorised.
        detail: String,
    },
    /// The query's CertID does not name the issuer certificate given with it.
    #[error("the OCSP CertID does not name the issuer certificate given with it")]
    WrongIssuer,
    /// No SingleResponse in the response is about the certificate asked about.
    #[error("the OCSP response holds no status for the certificate asked about")]
    NoMatchingResponse,
    /// The response carries a nonce different from the request's: possibly a replay.
    #[error("the OCSP response's nonce differs from the request's, so it may be a replay")]
    NonceMismatch,
    /// A nonce was sent and required back, and the response carries none.
    #[error("the OCSP response does not echo the request's nonce, and the check requires it")]
    NonceMissing,
    /// thisUpdate is later than the time of the check, beyond the allowed clock skew.
    #[error(
        "the OCSP response's thisUpdate {} is later than the time of the check {}",
        rfc3339(*.this_update),
        rfc3339(*.at)
    )]
    NotYetValid {
        /// thisUpdate.
        this_update: UnixTime,
        /// The time of the check.
        at: UnixTime,
    },
    /// The response is out of date: past its nextUpdate, or without one and older than the
    /// maximum age.
    #[error("{}", stale_sentence(*.this_update, *.next_update, *.at))]
    Stale {
        /// thisUpdate.
        this_update: UnixTime,
        /// nextUpdate, when the response has one.
        next_update: Option<UnixTime>,
        /// The time of the check.
        at: UnixTime,
    },
    /// A value given to a builder is outside what RFC 6960 or Cachet accepts.
    #[error("invalid OCSP {what}: {detail}")]
    Invalid {
        /// The value.
        what: &'static str,
        /// The problem.
        detail: String,
    },
    /// Signing the response failed.
    #[error("signing the OCSP response failed: {0}")]
    Signing(cachet_crypto::Error),
}

fn stale_sentence(this_update: UnixTime, next_update: Option<UnixTime>, at: UnixTime) -> String {
    match next_update {
        Some(n) => format!(
            "the OCSP response expired at its nextUpdate {}, before the time of the check {}",
            rfc3339(n),
            rfc3339(at)
        ),
        None => format!(
            "the OCSP response has no nextUpdate and its thisUpdate {} is older than the maximum age at {}",
            rfc3339(this_update),
            rfc3339(at)
        ),
    }
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> OcspError {
    move |e| OcspError::Malformed {
        what,
        detail: e.to_string(),
    }
}

fn malformed_msg(what: &'static str, detail: impl Into<String>) -> OcspError {
    OcspError::Malformed {
        what,
        detail: detail.into(),
    }
}

fn invalid(what: &'static str, detail: impl Into<String>) -> OcspError {
    OcspError::Invalid {
        what,
        detail: detail.into(),
    }
}

fn encoding(e: der::Error) -> OcspError {
    invalid("encoding", e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Status codes
// ---------------------------------------------------------------------------------------------

/// OCSPResponseStatus (RFC 6960 §4.2.1), as encoded.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Enumerated)]
#[repr(u32)]
enum OcspResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
    SigRequired = 5,
    Unauthorized = 6,
}

/// The error values of OCSPResponseStatus (RFC 6960 §4.2.1, §2.3): a response with one of
/// these carries no responseBytes and is not signed.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash)]
pub enum ErrorStatus {
    /// malformedRequest (1): the request does not conform to the OCSP syntax.
    MalformedRequest,
    /// internalError (2): the responder reached an inconsistent internal state.
    InternalError,
    /// tryLater (3): the responder cannot answer now.
    TryLater,
    /// sigRequired (5): the responder requires signed requests.
    SigRequired,
    /// unauthorized (6): the responder may not answer for this certificate.
    Unauthorized,
}

impl ErrorStatus {
    /// The RFC 6960 name (`malformedRequest`, `tryLater`…).
    pub fn name(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformedRequest",
            Self::InternalError => "internalError",
            Self::TryLater => "tryLater",
            Self::SigRequired => "sigRequired",
            Self::Unauthorized => "unauthorized",
        }
    }

    /// The numeric value.
    pub fn code(self) -> u8 {
        match self {
            Self::MalformedRequest => 1,
            Self::InternalError => 2,
            Self::TryLater => 3,
            Self::SigRequired => 5,
            Self::Unauthorized => 6,
        }
    }
}

impl fmt::Display for ErrorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------------------------
// GeneralizedTime as OCSP uses it
// ---------------------------------------------------------------------------------------------

/// A GeneralizedTime of RFC 6960 §4 (`producedAt`, `thisUpdate`, `nextUpdate`,
/// `revocationTime`). Written `YYYYMMDDHHMMSSZ`; read in that form or with fractional
/// seconds (which some responders write, and RFC 6960, unlike RFC 5280, does not forbid),
/// the fraction dropped.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
struct OcspTime(UnixTime);

impl FixedTag for OcspTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for OcspTime {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let v = reader.read_slice(header.length())?;
        let mut core = [0u8; 15];
        match v.len() {
            15 => core.copy_from_slice(v),
            n if n > 16
                && v[14] == b'.'
                && v[n - 1] == b'Z'
                && v[15..n - 1].iter().all(u8::is_ascii_digit) =>
            {
                core[..14].copy_from_slice(&v[..14]);
                core[14] = b'Z';
            }
            _ => return Err(reader.error(Tag::GeneralizedTime.value_error())),
        }
        let mut tlv = Vec::with_capacity(17);
        tlv.extend_from_slice(&[0x18, 15]);
        tlv.extend_from_slice(&core);
        let t = GeneralizedTime::from_der(&tlv)?;
        Ok(OcspTime(t.to_unix_duration().as_secs()))
    }
}

impl EncodeValue for OcspTime {
    fn value_len(&self) -> der::Result<Length> {
        Ok(Length::new(15))
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        GeneralizedTime::from_unix_duration(Duration::from_secs(self.0))?.encode_value(writer)
    }
}

// ---------------------------------------------------------------------------------------------
// ASN.1 (RFC 6960 §4)
// ---------------------------------------------------------------------------------------------

/// CertID (RFC 6960 §4.1.1).
///
/// ```text
/// CertID ::= SEQUENCE {
///     hashAlgorithm       AlgorithmIdentifier,
///     issuerNameHash      OCTET STRING, -- Hash of issuer's DN
///     issuerKeyHash       OCTET STRING, -- Hash of issuer's public key
///     serialNumber        CertificateSerialNumber }
/// ```
#[derive(Clone, Debug, Sequence)]
struct CertIdAsn1 {
    hash_algorithm: AlgorithmIdentifierOwned,
    issuer_name_hash: OctetString,
    issuer_key_hash: OctetString,
    serial_number: Int,
}

/// OCSPRequest (RFC 6960 §4.1.1).
///
/// ```text
/// OCSPRequest ::= SEQUENCE {
///     tbsRequest                  TBSRequest,
///     optionalSignature   [0]     EXPLICIT Signature OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
struct OcspRequestAsn1<'a> {
    tbs_request: TbsRequest<'a>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    optional_signature: Option<AnyRef<'a>>,
}

/// TBSRequest (RFC 6960 §4.1.1).
///
/// ```text
/// TBSRequest ::= SEQUENCE {
///     version             [0]     EXPLICIT Version DEFAULT v1,
///     requestorName       [1]     EXPLICIT GeneralName OPTIONAL,
///     requestList                 SEQUENCE OF Request,
///     requestExtensions   [2]     EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
struct TbsRequest<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<u8>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    requestor_name: Option<AnyRef<'a>>,
    request_list: Vec<RequestAsn1>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    request_extensions: Option<Vec<Extension>>,
}

/// Request (RFC 6960 §4.1.1).
///
/// ```text
/// Request ::= SEQUENCE {
///     reqCert                     CertID,
///     singleRequestExtensions     [0] EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
struct RequestAsn1 {
    req_cert: CertIdAsn1,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    single_request_extensions: Option<Vec<Extension>>,
}

/// OCSPResponse (RFC 6960 §4.2.1).
///
/// ```text
/// OCSPResponse ::= SEQUENCE {
///    responseStatus         OCSPResponseStatus,
///    responseBytes          [0] EXPLICIT ResponseBytes OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
struct OcspResponseAsn1 {
    response_status: OcspResponseStatus,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    response_bytes: Option<ResponseBytes>,
}

/// ResponseBytes (RFC 6960 §4.2.1).
///
/// ```text
/// ResponseBytes ::=       SEQUENCE {
///     responseType   OBJECT IDENTIFIER,
///     response       OCTET STRING }
/// ```
#[derive(Clone, Debug, Sequence)]
struct ResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

/// BasicOCSPResponse (RFC 6960 §4.2.1). The signed part and the certificates are kept as
/// received, so that the signature is checked over the exact bytes.
///
/// ```text
/// BasicOCSPResponse       ::= SEQUENCE {
///    tbsResponseData      ResponseData,
///    signatureAlgorithm   AlgorithmIdentifier,
///    signature            BIT STRING,
///    certs            [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
struct BasicOcspResponse<'a> {
    tbs_response_data: AnyRef<'a>,
    signature_algorithm: AnyRef<'a>,
    signature: BitStringRef<'a>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    certs: Option<Vec<AnyRef<'a>>>,
}

/// ResponseData (RFC 6960 §4.2.1).
///
/// ```text
/// ResponseData ::= SEQUENCE {
///    version              [0] EXPLICIT Version DEFAULT v1,
///    responderID              ResponderID,
///    producedAt               GeneralizedTime,
///    responses                SEQUENCE OF SingleResponse,
///    responseExtensions   [1] EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
struct ResponseData {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<u8>,
    responder_id: ResponderIdAsn1,
    produced_at: OcspTime,
    responses: Vec<SingleResponseAsn1>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    response_extensions: Option<Vec<Extension>>,
}

/// ResponderID (RFC 6960 §4.2.1).
///
/// ```text
/// ResponderID ::= CHOICE {
///    byName   [1] Name,
///    byKey    [2] KeyHash }
/// KeyHash ::= OCTET STRING -- SHA-1 hash of responder's public key
///                          -- (excluding the tag and length fields)
/// ```
#[derive(Clone, Debug, Choice)]
enum ResponderIdAsn1 {
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(Name),
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

/// SingleResponse (RFC 6960 §4.2.1).
///
/// ```text
/// SingleResponse ::= SEQUENCE {
///    certID                       CertID,
///    certStatus                   CertStatus,
///    thisUpdate                   GeneralizedTime,
///    nextUpdate         [0]       EXPLICIT GeneralizedTime OPTIONAL,
///    singleExtensions   [1]       EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
struct SingleResponseAsn1 {
    cert_id: CertIdAsn1,
    cert_status: CertStatusAsn1,
    this_update: OcspTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    next_update: Option<OcspTime>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    single_extensions: Option<Vec<Extension>>,
}

/// CertStatus (RFC 6960 §4.2.1).
///
/// ```text
/// CertStatus ::= CHOICE {
///    good        [0]     IMPLICIT NULL,
///    revoked     [1]     IMPLICIT RevokedInfo,
///    unknown     [2]     IMPLICIT UnknownInfo }
/// UnknownInfo ::= NULL
/// ```
#[derive(Clone, Debug, Choice)]
enum CertStatusAsn1 {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

/// RevokedInfo (RFC 6960 §4.2.1).
///
/// ```text
/// RevokedInfo ::= SEQUENCE {
///    revocationTime              GeneralizedTime,
///    revocationReason    [0]     EXPLICIT CRLReason OPTIONAL }
/// ```
#[derive(Clone, Debug, Sequence)]
struct RevokedInfo {
    revocation_time: OcspTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    revocation_reason: Option<RevocationReason>,
}

// ---------------------------------------------------------------------------------------------
// CertID
// ---------------------------------------------------------------------------------------------

/// The hash algorithm of a CertID (RFC 6960 §4.1.1). SHA-1 is what every responder
/// understands (RFC 5019 §2.1.1 requires it); RFC 6960 allows others.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash)]
pub enum CertIdHash {
    /// SHA-1 (id-sha1): the default, for interoperability. Used here only to identify, not
    /// to sign.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl CertIdHash {
    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => ID_SHA1,
            Self::Sha256 => ID_SHA256,
            Self::Sha384 => ID_SHA384,
            Self::Sha512 => ID_SHA512,
        }
    }

    /// The algorithm named by `oid`, if Cachet computes it.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|h| h.oid() == *oid)
    }

    fn digest(self) -> DigestAlgorithm {
        match self {
            Self::Sha1 => DigestAlgorithm::Sha1,
            Self::Sha256 => DigestAlgorithm::Sha256,
            Self::Sha384 => DigestAlgorithm::Sha384,
            Self::Sha512 => DigestAlgorithm::Sha512,
        }
    }
}

/// A CertID (RFC 6960 §4.1.1): which certificate a request or a SingleResponse is about —
/// hashes of the issuer's name and key, and the serial number.
#[derive(Clone, Debug, Eq, PartialEq, Hash)]
pub struct CertId {
    /// hashAlgorithm's OID (see [`CertIdHash`]; a parsed request may name another one).
    pub hash_algorithm: ObjectIdentifier,
    /// issuerNameHash: the hash of the issuer's subject DN (DER).
    pub issuer_name_hash: Vec<u8>,
    /// issuerKeyHash: the hash of the value of the issuer's subjectPublicKey BIT STRING.
    pub issuer_key_hash: Vec<u8>,
    /// serialNumber: the INTEGER's content octets, minimal two's complement, as
    /// [`ParsedCertificate::serial_bytes`] returns them.
    pub serial: Vec<u8>,
}

/// (issuerNameHash, issuerKeyHash).
type IssuerHashes = (Vec<u8>, Vec<u8>);

/// (issuerNameHash, issuerKeyHash) of `issuer` under `hash`.
fn issuer_hashes(issuer: &ParsedCertificate, hash: CertIdHash) -> IssuerHashes {
    let alg = hash.digest();
    let tbs = issuer.inner().tbs_certificate();
    // The name as the certificate encodes it; a Name that does not re-encode hashes to a
    // value nothing matches.
    let name = tbs.subject().to_der().unwrap_or_default();
    let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
    (alg.digest(&name), alg.digest(key))
}

/// The content octets of an INTEGER in minimal form: redundant leading 0x00 or 0xFF octets
/// removed.
fn canonical_integer(mut bytes: &[u8]) -> Vec<u8> {
    while let [first, second, ..] = bytes {
        let redundant =
            (*first == 0x00 && second & 0x80 == 0) || (*first == 0xff && second & 0x80 != 0);
        if !redundant {
            break;
        }
        bytes = &bytes[1..];
    }
    bytes.to_vec()
}

impl CertId {
    /// The CertID of the certificate with serial number `serial` (INTEGER content octets,
    /// as [`ParsedCertificate::serial_bytes`] gives them) issued by `issuer`.
    pub fn new(
        issuer: &ParsedCertificate,
        serial: &[u8],
        hash: CertIdHash,
    ) -> Result<Self, OcspError> {
        let serial = canonical_integer(serial);
        if serial.is_empty() {
            return Err(invalid("serial number", "is empty"));
        }
        let (issuer_name_hash, issuer_key_hash) = issuer_hashes(issuer, hash);
        Ok(CertId {
            hash_algorithm: hash.oid(),
            issuer_name_hash,
            issuer_key_hash,
            serial,
        })
    }

    /// The CertID of `cert`, issued by `issuer`; refuses a certificate whose issuer name is
    /// not the issuer's subject ([`OcspError::WrongIssuer`]).
    pub fn for_certificate(
        issuer: &ParsedCertificate,
        cert: &ParsedCertificate,
        hash: CertIdHash,
    ) -> Result<Self, OcspError> {
        if cert.inner().tbs_certificate().issuer() != issuer.inner().tbs_certificate().subject() {
            return Err(OcspError::WrongIssuer);
        }
        Self::new(issuer, cert.serial_bytes(), hash)
    }

    /// The hash algorithm, if Cachet computes it.
    pub fn hash(&self) -> Option<CertIdHash> {
        CertIdHash::from_oid(&self.hash_algorithm)
    }

    /// Whether the issuer hashes name `issuer` (false for a hash Cachet does not compute).
    /// A responder uses this to find which of its CAs a request is about.
    pub fn matches_issuer(&self, issuer: &ParsedCertificate) -> bool {
        self.hash().is_some_and(|h| {
            let (n, k) = issuer_hashes(issuer, h);
            n == self.issuer_name_hash && k == self.issuer_key_hash
        })
    }

    /// The serial number in lower-case hex, as [`ParsedCertificate::serial_hex`] writes it.
    pub fn serial_hex(&self) -> String {
        crate::cert::serial_hex(&self.serial)
    }

    fn to_asn1(&self) -> Result<CertIdAsn1, OcspError> {
        Ok(CertIdAsn1 {
            // id-sha1 and the SHA-2 OIDs with NULL parameters, as OpenSSL writes them.
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: self.hash_algorithm,
                parameters: Some(Any::from(Null)),
            },
            issuer_name_hash: OctetString::new(self.issuer_name_hash.clone()).map_err(encoding)?,
            issuer_key_hash: OctetString::new(self.issuer_key_hash.clone()).map_err(encoding)?,
            serial_number: Int::new(&self.serial).map_err(encoding)?,
        })
    }

    fn from_asn1(c: &CertIdAsn1) -> Self {
        CertId {
            hash_algorithm: c.hash_algorithm.oid,
            issuer_name_hash: c.issuer_name_hash.as_bytes().to_vec(),
            issuer_key_hash: c.issuer_key_hash.as_bytes().to_vec(),
            serial: canonical_integer(c.serial_number.as_bytes()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nonce (RFC 8954)
// ---------------------------------------------------------------------------------------------

/// The extnValue of a nonce extension as RFC 8954 writes it: the DER of an OCTET STRING.
fn nonce_ext_value(nonce: &[u8]) -> Result<Vec<u8>, OcspError> {
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
        return Err(invalid(
            "nonce",
            format!(
                "is {} octets; RFC 8954 allows 1 to {MAX_NONCE_LEN}",
                nonce.len()
            ),
        ));
    }
    OctetString::new(nonce)
        .and_then(|o| o.to_der())
        .map_err(encoding)
}

fn nonce_extension(ext_value: Vec<u8>) -> Result<Extension, OcspError> {
    Ok(Extension {
        extn_id: ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(ext_value).map_err(encoding)?,
    })
}

/// The nonce in an extnValue: the content of the OCTET STRING RFC 8954 puts there, or the
/// whole value from responders that predate it and write the nonce bare.
fn nonce_from_ext_value(v: &[u8]) -> Vec<u8> {
    match OctetString::from_der(v) {
        Ok(o) => o.as_bytes().to_vec(),
        Err(_) => v.to_vec(),
    }
}

/// The one extension `oid` of `exts`; two are malformed.
fn find_extension<'e>(
    exts: Option<&'e [Extension]>,
    oid: ObjectIdentifier,
    what: &'static str,
) -> Result<Option<&'e Extension>, OcspError> {
    let mut it = exts.unwrap_or_default().iter().filter(|e| e.extn_id == oid);
    let first = it.next();
    if it.next().is_some() {
        return Err(malformed_msg(
            what,
            format!("extension {oid} appears twice"),
        ));
    }
    Ok(first)
}

/// RFC 6960 §4.4: unrecognised extensions are ignored unless critical.
fn refuse_critical(exts: Option<&[Extension]>, what: &'static str) -> Result<(), OcspError> {
    match exts
        .unwrap_or_default()
        .iter()
        .find(|e| e.critical && e.extn_id != ID_PKIX_OCSP_NONCE)
    {
        Some(e) => Err(malformed_msg(
            what,
            format!("critical extension {} is not understood", e.extn_id),
        )),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Client: requests
// ---------------------------------------------------------------------------------------------

/// An OCSPRequest (RFC 6960 §4.1.1), DER, unsigned, asking about `cert_ids` (1 to
/// [`MAX_REQUESTS`]), with a nonce extension (RFC 8954: 1 to 32 octets; 32 random octets
/// recommended) when `nonce` is given.
pub fn build_request(cert_ids: &[CertId], nonce: Option<&[u8]>) -> Result<Vec<u8>, OcspError> {
    if cert_ids.is_empty() {
        return Err(invalid("request", "asks about no certificate"));
    }
    if cert_ids.len() > MAX_REQUESTS {
        return Err(OcspError::TooManyRequests {
            count: cert_ids.len(),
            max: MAX_REQUESTS,
        });
    }
    let request_list = cert_ids
        .iter()
        .map(|c| {
            Ok(RequestAsn1 {
                req_cert: c.to_asn1()?,
                single_request_extensions: None,
            })
        })
        .collect::<Result<Vec<_>, OcspError>>()?;
    let request_extensions = match nonce {
        Some(n) => Some(vec![nonce_extension(nonce_ext_value(n)?)?]),
        None => None,
    };
    OcspRequestAsn1 {
        tbs_request: TbsRequest {
            version: None,
            requestor_name: None,
            request_list,
            request_extensions,
        },
        optional_signature: None,
    }
    .to_der()
    .map_err(encoding)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// The path segment of an OCSP GET (RFC 6960 Appendix A.1): the URL-encoding of the
/// base64 encoding of the DER request.
pub fn get_path(request_der: &[u8]) -> String {
    let mut out = String::new();
    for c in base64_encode(request_der).chars() {
        match c {
            '+' => out.push_str("%2B"),
            '/' => out.push_str("%2F"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
    out
}

/// The GET URL for `request_der` at the responder `base_url` (from the certificate's AIA
/// id-ad-ocsp), or `None` when it would be longer than [`MAX_GET_URL_LEN`] and the request
/// must be POSTed as `application/ocsp-request` (RFC 5019 §5).
pub fn get_url(base_url: &str, request_der: &[u8]) -> Option<String> {
    let sep = if base_url.ends_with('/') { "" } else { "/" };
    let url = format!("{base_url}{sep}{}", get_path(request_der));
    (url.len() <= MAX_GET_URL_LEN).then_some(url)
}

/// The DER request carried by an OCSP GET path (everything after the responder's base
/// path, RFC 6960 Appendix A.1): percent-decoded, then base64-decoded (standard or URL-safe
/// alphabet, padding optional).
pub fn decode_get_path(path: &str) -> Result<Vec<u8>, OcspError> {
    let bad = |d: &str| malformed_msg("request", format!("GET path: {d}"));
    if path.len() > MAX_REQUEST_LEN * 2 {
        return Err(OcspError::TooLarge {
            what: "request",
            len: path.len(),
            max: MAX_REQUEST_LEN * 2,
        });
    }
    let p = path.as_bytes();
    let mut text = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'%' {
            let hex = p
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("a '%' escape is not followed by two hex digits"))?;
            text.push(hex);
            i += 3;
        } else {
            text.push(p[i]);
            i += 1;
        }
    }
    while text.last() == Some(&b'=') {
        text.pop();
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in &text {
        let v = base64_value(c).ok_or_else(|| bad("not base64"))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err(bad("truncated base64"));
    }
    if out.is_empty() {
        return Err(bad("empty"));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Client: checking a response
// ---------------------------------------------------------------------------------------------

/// What a request asked about one certificate: what [`check_response`] checks the answer
/// against.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OcspQuery {
    /// The certificate asked about.
    pub cert_id: CertId,
    /// The nonce sent, if any.
    pub nonce: Option<Vec<u8>>,
}

/// How strict [`check_response`] is about time and the nonce.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct CheckOptions {
    /// Seconds of clock difference tolerated between the responder and the checker
    /// (default 300).
    pub clock_skew: u64,
    /// How old (seconds since thisUpdate) a response without nextUpdate may be (default
    /// 86 400, one day).
    pub max_age: u64,
    /// Refuse a response that does not echo the nonce sent ([`OcspError::NonceMissing`]).
    /// Off by default: many responders (all of those serving pre-signed responses, RFC 5019)
    /// omit it. A nonce that is echoed but different is always refused.
    pub require_nonce: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            clock_skew: 300,
            max_age: 86_400,
            require_nonce: false,
        }
    }
}

/// The revocation status of one certificate (RFC 6960 §2.2).
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum CertStatus {
    /// good: not revoked (which says nothing of whether it was ever issued).
    Good,
    /// revoked, at `time`, for `reason` when the responder gives one.
    Revoked {
        /// revocationTime.
        time: UnixTime,
        /// revocationReason.
        reason: Option<RevocationReason>,
    },
    /// unknown: the responder does not know the certificate.
    Unknown,
}

/// ResponderID (RFC 6960 §4.2.1).
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ResponderId {
    /// byName: the DER of the responder's subject Name.
    ByName(Vec<u8>),
    /// byKey: the SHA-1 hash of the responder's subjectPublicKey value.
    ByKey(Vec<u8>),
}

/// Who signed a response that [`check_response`] accepted (RFC 6960 §4.2.2.2).
#[derive(Clone, Debug)]
pub enum Responder {
    /// The CA that issued the certificate signed it with its own key.
    Issuer,
    /// A delegated responder: a certificate issued directly by that CA with
    /// id-kp-OCSPSigning, valid at the time of the check.
    Delegated {
        /// The responder's certificate (from the response's `certs`).
        certificate: ParsedCertificate,
        /// It carries id-pkix-ocsp-nocheck: its own revocation status need not be checked.
        /// Without it, the caller should check the responder certificate's status (by CRL)
        /// as it would any certificate the CA issued.
        no_check: bool,
    },
}

/// What a checked response says about the certificate asked about.
#[derive(Clone, Debug)]
pub struct SingleStatus {
    /// The status.
    pub status: CertStatus,
    /// thisUpdate: when the status was known to be correct.
    pub this_update: UnixTime,
    /// nextUpdate: when newer information will be available, if the responder says.
    pub next_update: Option<UnixTime>,
    /// producedAt: when the response was signed.
    pub produced_at: UnixTime,
    /// Who signed it.
    pub responder: Responder,
    /// How the response names its signer.
    pub responder_id: ResponderId,
    /// Whether the response echoed the nonce sent (false when none was sent).
    pub nonce_echoed: bool,
    /// The response's signature algorithm ([`SignatureAlgorithm::is_weak`] tells whether a
    /// warning is due).
    pub signature_algorithm: SignatureAlgorithm,
    /// The CertID as the response wrote it (its hash algorithm may differ from the query's).
    pub cert_id: CertId,
}

/// The signature algorithm of an AlgorithmIdentifier (DER), and how to verify with it.
enum Verifier {
    Plain(SignatureAlgorithm),
    Pss(cachet_crypto::signature::PssParameters),
}

impl Verifier {
    fn from_algorithm_identifier(der_bytes: &[u8]) -> Result<Self, OcspError> {
        let ai =
            spki::AlgorithmIdentifierRef::from_der(der_bytes).map_err(malformed("response"))?;
        if ai.oid == ID_RSASSA_PSS {
            return pss_parameters(der_bytes).map(Verifier::Pss).ok_or_else(|| {
                OcspError::UnsupportedAlgorithm {
                    detail:
                        "RSASSA-PSS with parameters other than SHA-2 and MGF1 over the same hash"
                            .into(),
                }
            });
        }
        SignatureAlgorithm::from_oid(&ai.oid)
            .map(Verifier::Plain)
            .ok_or_else(|| OcspError::UnsupportedAlgorithm {
                detail: format!("signature algorithm {}", ai.oid),
            })
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            Verifier::Plain(a) => *a,
            Verifier::Pss(p) => p.algorithm,
        }
    }

    fn verify(&self, spki_der: &[u8], message: &[u8], signature: &[u8]) -> Result<(), OcspError> {
        // A key Cachet cannot use at all is unsupported; any other failure (including a key
        // of the wrong type for the algorithm) means the signature is not this key's.
        KeyType::of_spki(spki_der).map_err(|e| OcspError::UnsupportedAlgorithm {
            detail: format!("responder key: {e}"),
        })?;
        let r = match self {
            Verifier::Plain(a) => a.verify(spki_der, message, signature),
            Verifier::Pss(p) => p.verify(spki_der, message, signature),
        };
        match r {
            Ok(()) => Ok(()),
            Err(cachet_crypto::Error::UnsupportedAlgorithm(d)) => {
                Err(OcspError::UnsupportedAlgorithm { detail: d })
            }
            Err(_) => Err(OcspError::BadSignature),
        }
    }
}

fn responder_id(r: &ResponderIdAsn1) -> ResponderId {
    match r {
        ResponderIdAsn1::ByName(n) => ResponderId::ByName(n.to_der().unwrap_or_default()),
        ResponderIdAsn1::ByKey(k) => ResponderId::ByKey(k.as_bytes().to_vec()),
    }
}

/// Whether `id` names the holder of `cert`: by its subject, or by the hash of its key
/// (SHA-1 as RFC 6960 says; SHA-256 accepted too).
fn names_certificate(id: &ResponderIdAsn1, cert: &ParsedCertificate) -> bool {
    let tbs = cert.inner().tbs_certificate();
    match id {
        ResponderIdAsn1::ByName(n) => n == tbs.subject(),
        ResponderIdAsn1::ByKey(k) => {
            let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
            let k = k.as_bytes();
            k == cachet_crypto::digest::sha1(key).as_slice()
                || k == cachet_crypto::digest::sha256(key).as_slice()
        }
    }
}

fn responder_label(id: &ResponderIdAsn1) -> String {
    match id {
        ResponderIdAsn1::ByName(n) => format!("'{n}'"),
        ResponderIdAsn1::ByKey(k) => format!("the key with hash {}", hex_lower(k.as_bytes())),
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 6960 §4.2.2.2 for a delegated responder: issued directly by the CA, with
/// id-kp-OCSPSigning (and digitalSignature when keyUsage is present), valid at `at`.
/// Returns whether it carries id-pkix-ocsp-nocheck.
fn authorise_delegate(
    cert: &ParsedCertificate,
    ca: &ParsedCertificate,
    ca_spki: &[u8],
    at: UnixTime,
    skew: u64,
) -> Result<bool, OcspError> {
    let unauthorised = |detail: String| OcspError::UnauthorisedResponder { detail };
    let subject = cert.subject();
    if cert.inner().tbs_certificate().issuer() != ca.inner().tbs_certificate().subject() {
        return Err(unauthorised(format!(
            "the responder certificate '{subject}' is issued by '{}', not by the CA '{}'",
            cert.issuer(),
            ca.subject()
        )));
    }
    if cert.verify_signature(ca_spki).is_err() {
        return Err(unauthorised(format!(
            "the responder certificate '{subject}' names the CA as issuer but its signature does not verify with the CA's key"
        )));
    }
    let eku = cert
        .ext_key_usage()
        .map_err(|e| unauthorised(format!("the responder certificate '{subject}': {e}")))?;
    if !eku.is_some_and(|(_, e)| e.0.contains(&ID_KP_OCSP_SIGNING)) {
        return Err(unauthorised(format!(
            "the responder certificate '{subject}' lacks extendedKeyUsage id-kp-OCSPSigning"
        )));
    }
    let ku = cert
        .key_usage()
        .map_err(|e| unauthorised(format!("the responder certificate '{subject}': {e}")))?;
    if let Some((_, ku)) = ku
        && !ku.digital_signature()
        && !ku.non_repudiation()
    {
        return Err(unauthorised(format!(
            "the responder certificate '{subject}' has a keyUsage without digitalSignature"
        )));
    }
    if cert.not_before() > at.saturating_add(skew) || cert.not_after().saturating_add(skew) < at {
        return Err(unauthorised(format!(
            "the responder certificate '{subject}' is valid from {} to {}, not at {}",
            rfc3339(cert.not_before()),
            rfc3339(cert.not_after()),
            rfc3339(at)
        )));
    }
    Ok(cert
        .extension(ID_PKIX_OCSP_NOCHECK)
        .ok()
        .flatten()
        .is_some())
}

/// Checks an OCSP response (DER) to `query` about a certificate issued by `issuer`, at time
/// `at` (seconds since the epoch: the time of the check, i.e. now, not a historical
/// validation time).
///
/// In order: the size ([`MAX_RESPONSE_LEN`]); the DER; responseStatus successful; type
/// id-pkix-ocsp-basic; the responder authorised by RFC 6960 §4.2.2.2 — the CA itself
/// (responderID naming the issuer by name or key hash) or a delegated responder certificate
/// carried in `certs`, issued directly by the CA, with id-kp-OCSPSigning, valid at `at`; the
/// signature with the responder's key; the SingleResponse whose CertID names the same
/// certificate (recomputed under the response's hash algorithm); no critical extension that
/// is not understood; the nonce; and freshness: thisUpdate ≤ at + skew, nextUpdate ≥
/// at − skew, or without nextUpdate, thisUpdate no older than `max_age`.
pub fn check_response(
    der_bytes: &[u8],
    query: &OcspQuery,
    issuer: &ParsedCertificate,
    at: UnixTime,
    options: &CheckOptions,
) -> Result<SingleStatus, OcspError> {
    const W: &str = "response";
    if der_bytes.len() > MAX_RESPONSE_LEN {
        return Err(OcspError::TooLarge {
            what: W,
            len: der_bytes.len(),
            max: MAX_RESPONSE_LEN,
        });
    }
    if !query.cert_id.matches_issuer(issuer) {
        return Err(OcspError::WrongIssuer);
    }
    let resp = OcspResponseAsn1::from_der(der_bytes).map_err(malformed(W))?;
    let status = match resp.response_status {
        OcspResponseStatus::Successful => None,
        OcspResponseStatus::MalformedRequest => Some(ErrorStatus::MalformedRequest),
        OcspResponseStatus::InternalError => Some(ErrorStatus::InternalError),
        OcspResponseStatus::TryLater => Some(ErrorStatus::TryLater),
        OcspResponseStatus::SigRequired => Some(ErrorStatus::SigRequired),
        OcspResponseStatus::Unauthorized => Some(ErrorStatus::Unauthorized),
    };
    if let Some(status) = status {
        return Err(OcspError::Unsuccessful { status });
    }
    let bytes = resp
        .response_bytes
        .ok_or_else(|| malformed_msg(W, "status successful without responseBytes"))?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(OcspError::UnsupportedResponseType {
            oid: bytes.response_type.to_string(),
        });
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der).map_err(malformed(W))?;
    // The signed part exactly as received.
    let tbs = first_element_of_sequence(basic_der, "OCSP response")
        .map_err(|e| malformed_msg(W, e.to_string()))?;
    let data = ResponseData::from_der(tbs).map_err(malformed(W))?;
    if data.version.is_some_and(|v| v != 0) {
        return Err(malformed_msg(W, "version is not v1"));
    }
    let alg_der = basic.signature_algorithm.to_der().map_err(malformed(W))?;
    let verifier = Verifier::from_algorithm_identifier(&alg_der)?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or_else(|| malformed_msg(W, "the signature BIT STRING has unused bits"))?;

    // RFC 6960 §4.2.2.2: who may sign.
    let issuer_spki = issuer
        .spki_der()
        .map_err(|e| invalid("issuer certificate", e.to_string()))?;
    let (responder, signer_spki) = if names_certificate(&data.responder_id, issuer) {
        (Responder::Issuer, issuer_spki)
    } else {
        let mut found = None;
        for c in basic.certs.as_deref().unwrap_or_default() {
            let c_der = c.to_der().map_err(malformed(W))?;
            let cert = ParsedCertificate::from_der(&c_der)
                .map_err(|e| malformed_msg(W, format!("a certificate in certs: {e}")))?;
            if names_certificate(&data.responder_id, &cert) {
                found = Some(cert);
                break;
            }
        }
        let cert = found.ok_or_else(|| OcspError::UnauthorisedResponder {
            detail: format!(
                "the responder {} is not the CA '{}', and the response carries no certificate for it",
                responder_label(&data.responder_id),
                issuer.subject()
            ),
        })?;
        let no_check = authorise_delegate(&cert, issuer, &issuer_spki, at, options.clock_skew)?;
        let spki = cert
            .spki_der()
            .map_err(|e| malformed_msg(W, format!("the responder certificate: {e}")))?;
        (
            Responder::Delegated {
                certificate: cert,
                no_check,
            },
            spki,
        )
    };
    verifier.verify(&signer_spki, tbs, signature)?;
    refuse_critical(data.response_extensions.as_deref(), W)?;

    // The SingleResponse about the certificate asked about, whatever hash it uses.
    let mut hashes: Vec<(CertIdHash, IssuerHashes)> = Vec::new();
    let mut single = None;
    for s in &data.responses {
        let Some(h) = CertIdHash::from_oid(&s.cert_id.hash_algorithm.oid) else {
            continue;
        };
        if canonical_integer(s.cert_id.serial_number.as_bytes()) != query.cert_id.serial {
            continue;
        }
        let (name_hash, key_hash) = match hashes.iter().find(|(x, _)| *x == h) {
            Some((_, v)) => v.clone(),
            None => {
                let v = issuer_hashes(issuer, h);
                hashes.push((h, v.clone()));
                v
            }
        };
        if s.cert_id.issuer_name_hash.as_bytes() == name_hash
            && s.cert_id.issuer_key_hash.as_bytes() == key_hash
        {
            single = Some(s);
            break;
        }
    }
    let single = single.ok_or(OcspError::NoMatchingResponse)?;
    refuse_critical(single.single_extensions.as_deref(), W)?;

    // RFC 8954: the nonce.
    let echoed = find_extension(data.response_extensions.as_deref(), ID_PKIX_OCSP_NONCE, W)?;
    let nonce_echoed = match (&query.nonce, echoed) {
        (Some(sent), Some(e)) => {
            if nonce_from_ext_value(e.extn_value.as_bytes()) != *sent {
                return Err(OcspError::NonceMismatch);
            }
            true
        }
        (Some(_), None) if options.require_nonce => return Err(OcspError::NonceMissing),
        _ => false,
    };

    // Freshness (RFC 6960 §4.2.2.1, §3.2 item 5).
    let this_update = single.this_update.0;
    let next_update = single.next_update.map(|t| t.0);
    if next_update.is_some_and(|n| n < this_update) {
        return Err(malformed_msg(W, "nextUpdate is earlier than thisUpdate"));
    }
    if this_update > at.saturating_add(options.clock_skew) {
        return Err(OcspError::NotYetValid { this_update, at });
    }
    let stale = match next_update {
        Some(n) => n.saturating_add(options.clock_skew) < at,
        None => at.saturating_sub(this_update) > options.max_age.saturating_add(options.clock_skew),
    };
    if stale {
        return Err(OcspError::Stale {
            this_update,
            next_update,
            at,
        });
    }

    let status = match &single.cert_status {
        CertStatusAsn1::Good(_) => CertStatus::Good,
        CertStatusAsn1::Revoked(r) => CertStatus::Revoked {
            time: r.revocation_time.0,
            reason: r.revocation_reason,
        },
        CertStatusAsn1::Unknown(_) => CertStatus::Unknown,
    };
    Ok(SingleStatus {
        status,
        this_update,
        next_update,
        produced_at: data.produced_at.0,
        responder,
        responder_id: responder_id(&data.responder_id),
        nonce_echoed,
        signature_algorithm: verifier.algorithm(),
        cert_id: CertId::from_asn1(&single.cert_id),
    })
}

// ---------------------------------------------------------------------------------------------
// Responder: reading requests
// ---------------------------------------------------------------------------------------------

/// A decoded OCSPRequest (RFC 6960 §4.1.1). Parsing is not authorisation: whether the
/// responder serves the CA each CertID names is [`CertId::matches_issuer`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ParsedRequest {
    /// The certificates asked about, in order (1 to [`MAX_REQUESTS`]).
    pub cert_ids: Vec<CertId>,
    /// The nonce (RFC 8954), when the request carries one of 1 to 32 octets. A longer or
    /// empty one is ignored and not echoed, as RFC 8954 §2.1 allows.
    pub nonce: Option<Vec<u8>>,
    /// Whether the request carries optionalSignature. Cachet does not verify request
    /// signatures; a responder that requires them answers sigRequired.
    pub signed: bool,
    /// The nonce's extnValue exactly as sent, to echo byte for byte.
    nonce_ext_value: Option<Vec<u8>>,
}

/// Reads a DER OCSPRequest (at most [`MAX_REQUEST_LEN`] bytes and [`MAX_REQUESTS`]
/// CertIDs). An error here is answered with malformedRequest ([`error_response`]).
pub fn parse_request(der_bytes: &[u8]) -> Result<ParsedRequest, OcspError> {
    const W: &str = "request";
    if der_bytes.len() > MAX_REQUEST_LEN {
        return Err(OcspError::TooLarge {
            what: W,
            len: der_bytes.len(),
            max: MAX_REQUEST_LEN,
        });
    }
    let req = OcspRequestAsn1::from_der(der_bytes).map_err(malformed(W))?;
    let tbs = &req.tbs_request;
    if tbs.version.is_some_and(|v| v != 0) {
        return Err(malformed_msg(W, "version is not v1"));
    }
    if tbs.request_list.is_empty() {
        return Err(malformed_msg(W, "requestList is empty"));
    }
    if tbs.request_list.len() > MAX_REQUESTS {
        return Err(OcspError::TooManyRequests {
            count: tbs.request_list.len(),
            max: MAX_REQUESTS,
        });
    }
    refuse_critical(tbs.request_extensions.as_deref(), W)?;
    for r in &tbs.request_list {
        refuse_critical(r.single_request_extensions.as_deref(), W)?;
    }
    let nonce_ext = find_extension(tbs.request_extensions.as_deref(), ID_PKIX_OCSP_NONCE, W)?;
    let (nonce, nonce_ext_value) = match nonce_ext {
        Some(e) => {
            let raw = e.extn_value.as_bytes();
            let n = nonce_from_ext_value(raw);
            if (1..=MAX_NONCE_LEN).contains(&n.len()) {
                (Some(n), Some(raw.to_vec()))
            } else {
                (None, None)
            }
        }
        None => (None, None),
    };
    Ok(ParsedRequest {
        cert_ids: tbs
            .request_list
            .iter()
            .map(|r| CertId::from_asn1(&r.req_cert))
            .collect(),
        nonce,
        signed: req.optional_signature.is_some(),
        nonce_ext_value,
    })
}

// ---------------------------------------------------------------------------------------------
// Responder: building responses
// ---------------------------------------------------------------------------------------------

/// One SingleResponse to write.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ResponseEntry {
    /// The CertID, as the request gave it (echo it unchanged: clients match on it).
    pub cert_id: CertId,
    /// The status.
    pub status: CertStatus,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate (RFC 5019 §2.2.4 wants it present).
    pub next_update: Option<UnixTime>,
}

#[derive(Clone, Debug)]
enum NonceOut {
    /// A nonce value, written as RFC 8954 says.
    Value(Vec<u8>),
    /// An extnValue copied from the request.
    Echo(Vec<u8>),
}

/// Builds a signed BasicOCSPResponse (RFC 6960 §4.2.1) wrapped in a successful
/// OCSPResponse: responderID byKey, producedAt, one SingleResponse per entry, the nonce when
/// asked to, the signer's certificate in `certs` (unless turned off), signed with the
/// signer's key (any signing key type `cachet_crypto` has: ECDSA P-256/P-384, RSA, Ed25519).
///
/// The signer is the CA itself, or a delegated responder certificate the CA issued with
/// id-kp-OCSPSigning (RFC 6960 §4.2.2.2); which one is the caller's choice.
#[derive(Clone, Debug)]
pub struct ResponseBuilder<'a> {
    signer: &'a ParsedCertificate,
    key: &'a PrivateKey,
    produced_at: UnixTime,
    entries: Vec<ResponseEntry>,
    nonce: Option<NonceOut>,
    include_certificate: bool,
}

impl<'a> ResponseBuilder<'a> {
    /// A response signed by `key`, the key of `signer`, produced at `produced_at`.
    pub fn new(signer: &'a ParsedCertificate, key: &'a PrivateKey, produced_at: UnixTime) -> Self {
        ResponseBuilder {
            signer,
            key,
            produced_at,
            entries: Vec::new(),
            nonce: None,
            include_certificate: true,
        }
    }

    /// Adds a SingleResponse.
    pub fn entry(mut self, entry: ResponseEntry) -> Self {
        self.entries.push(entry);
        self
    }

    /// Adds SingleResponses.
    pub fn entries(mut self, entries: impl IntoIterator<Item = ResponseEntry>) -> Self {
        self.entries.extend(entries);
        self
    }

    /// Echoes the request's nonce extension byte for byte, if it carried an acceptable one.
    pub fn echo_nonce(mut self, request: &ParsedRequest) -> Self {
        self.nonce = request.nonce_ext_value.clone().map(NonceOut::Echo);
        self
    }

    /// Writes this nonce (1 to 32 octets).
    pub fn nonce(mut self, nonce: &[u8]) -> Self {
        self.nonce = Some(NonceOut::Value(nonce.to_vec()));
        self
    }

    /// Whether to put the signer's certificate in `certs` (default: yes; a delegated
    /// responder's certificate must be there for clients to find it).
    pub fn include_certificate(mut self, include: bool) -> Self {
        self.include_certificate = include;
        self
    }

    /// The DER OCSPResponse.
    pub fn build(&self) -> Result<Vec<u8>, OcspError> {
        if self.entries.is_empty() {
            return Err(invalid("response", "has no SingleResponse"));
        }
        let spki = self
            .signer
            .spki_der()
            .map_err(|e| invalid("signer certificate", e.to_string()))?;
        if self.key.public_key_der() != spki.as_slice() {
            return Err(invalid(
                "signer key",
                "is not the key of the signer certificate",
            ));
        }
        let alg = self.key.signature_algorithm().ok_or_else(|| {
            invalid(
                "signer key",
                format!("a {} key cannot sign", self.key.key_type()),
            )
        })?;
        let alg_der = alg.algorithm_identifier_der();
        let key_hash = cachet_crypto::digest::sha1(
            self.signer
                .inner()
                .tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes(),
        );
        let mut responses = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            if e.next_update.is_some_and(|n| n < e.this_update) {
                return Err(invalid("response", "nextUpdate is earlier than thisUpdate"));
            }
            let cert_status = match &e.status {
                CertStatus::Good => CertStatusAsn1::Good(Null),
                CertStatus::Revoked { time, reason } => CertStatusAsn1::Revoked(RevokedInfo {
                    revocation_time: OcspTime(*time),
                    revocation_reason: *reason,
                }),
                CertStatus::Unknown => CertStatusAsn1::Unknown(Null),
            };
            responses.push(SingleResponseAsn1 {
                cert_id: e.cert_id.to_asn1()?,
                cert_status,
                this_update: OcspTime(e.this_update),
                next_update: e.next_update.map(OcspTime),
                single_extensions: None,
            });
        }
        let response_extensions = match &self.nonce {
            None => None,
            Some(NonceOut::Value(v)) => Some(vec![nonce_extension(nonce_ext_value(v)?)?]),
            Some(NonceOut::Echo(raw)) => Some(vec![nonce_extension(raw.clone())?]),
        };
        let data = ResponseData {
            version: None,
            responder_id: ResponderIdAsn1::ByKey(
                OctetString::new(key_hash.to_vec()).map_err(encoding)?,
            ),
            produced_at: OcspTime(self.produced_at),
            responses,
            response_extensions,
        };
        let tbs_der = data.to_der().map_err(encoding)?;
        let sig = self.key.sign(&tbs_der).map_err(OcspError::Signing)?;
        let certs = if self.include_certificate {
            Some(vec![AnyRef::from_der(self.signer.der()).map_err(encoding)?])
        } else {
            None
        };
        let basic = BasicOcspResponse {
            tbs_response_data: AnyRef::from_der(&tbs_der).map_err(encoding)?,
            signature_algorithm: AnyRef::from_der(&alg_der).map_err(encoding)?,
            signature: BitStringRef::from_bytes(&sig).map_err(encoding)?,
            certs,
        }
        .to_der()
        .map_err(encoding)?;
        OcspResponseAsn1 {
            response_status: OcspResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: ID_PKIX_OCSP_BASIC,
                response: OctetString::new(basic).map_err(encoding)?,
            }),
        }
        .to_der()
        .map_err(encoding)
    }
}

/// A signed response (see [`ResponseBuilder`]) with one SingleResponse per entry, echoing
/// `request`'s nonce when one is given and it carried one.
pub fn build_response(
    signer: &ParsedCertificate,
    key: &PrivateKey,
    produced_at: UnixTime,
    entries: &[ResponseEntry],
    request: Option<&ParsedRequest>,
) -> Result<Vec<u8>, OcspError> {
    let mut b = ResponseBuilder::new(signer, key, produced_at).entries(entries.iter().cloned());
    if let Some(r) = request {
        b = b.echo_nonce(r);
    }
    b.build()
}

/// An unsigned OCSPResponse with an error status and no responseBytes (RFC 6960 §2.3).
pub fn error_response(status: ErrorStatus) -> Vec<u8> {
    vec![0x30, 0x03, 0x0a, 0x01, status.code()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ephemeral::EphemeralPki;
    use crate::ext;
    use crate::issue::{CertificateTemplate, random_serial, sign_certificate};
    use crate::name::NameBuilder;
    use crate::profile::Profile;
    use cachet_crypto::KeyType;

    const NOW: UnixTime = 1_795_000_000; // 2026-11-18
    const DAY: u64 = 86_400;

    struct Fx {
        pki: EphemeralPki,
        subscriber: ParsedCertificate,
    }

    fn fixture(kt: KeyType) -> Fx {
        let pki = EphemeralPki::new(kt, NOW - DAY).unwrap();
        let (subscriber, _) = pki
            .subscriber(
                "alice@example.com",
                Profile::Signing,
                KeyType::EcdsaP256,
                365,
            )
            .unwrap();
        Fx { pki, subscriber }
    }

    /// A responder certificate issued by `ca` with `key`, with or without the OCSPSigning
    /// EKU, optionally with nocheck.
    fn responder(
        ca: &ParsedCertificate,
        ca_key: &PrivateKey,
        kt: KeyType,
        ocsp_eku: bool,
        nocheck: bool,
    ) -> (ParsedCertificate, PrivateKey) {
        let key = PrivateKey::generate(kt).unwrap();
        let ski = ext::key_identifier(key.public_key_der()).unwrap();
        let mut extensions = vec![
            ext::basic_constraints(false, None).unwrap(),
            ext::key_usage(ext::KeyUsageBit::DigitalSignature.into()).unwrap(),
            ext::subject_key_identifier(&ski).unwrap(),
            ext::authority_key_identifier(&ca.subject_key_id().unwrap().unwrap()).unwrap(),
        ];
        extensions.push(
            ext::ext_key_usage(&[if ocsp_eku {
                ID_KP_OCSP_SIGNING
            } else {
                const_oid::db::rfc5280::ID_KP_EMAIL_PROTECTION
            }])
            .unwrap(),
        );
        if nocheck {
            extensions.push(Extension {
                extn_id: ID_PKIX_OCSP_NOCHECK,
                critical: false,
                extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
            });
        }
        let t = CertificateTemplate {
            serial: random_serial().unwrap().to_vec(),
            subject_der: NameBuilder::new()
                .common_name("Ephemeral OCSP Responder")
                .unwrap()
                .to_der()
                .unwrap(),
            spki_der: key.public_key_der().to_vec(),
            not_before: NOW - DAY,
            not_after: NOW + 30 * DAY,
            extensions,
        };
        let cert = ParsedCertificate::from_der(
            &sign_certificate(&t, &ca.subject_der().unwrap(), ca_key).unwrap(),
        )
        .unwrap();
        (cert, key)
    }

    fn query(fx: &Fx, nonce: Option<&[u8]>) -> OcspQuery {
        OcspQuery {
            cert_id: CertId::for_certificate(&fx.pki.issuing, &fx.subscriber, CertIdHash::Sha1)
                .unwrap(),
            nonce: nonce.map(<[u8]>::to_vec),
        }
    }

    fn entry(fx: &Fx, status: CertStatus) -> ResponseEntry {
        ResponseEntry {
            cert_id: CertId::for_certificate(&fx.pki.issuing, &fx.subscriber, CertIdHash::Sha1)
                .unwrap(),
            status,
            this_update: NOW - 60,
            next_update: Some(NOW + DAY),
        }
    }

    fn check(fx: &Fx, resp: &[u8], q: &OcspQuery) -> Result<SingleStatus, OcspError> {
        check_response(resp, q, &fx.pki.issuing, NOW, &CheckOptions::default())
    }

    #[test]
    fn request_round_trip() {
        let fx = fixture(KeyType::EcdsaP256);
        let a = CertId::for_certificate(&fx.pki.issuing, &fx.subscriber, CertIdHash::Sha1).unwrap();
        let b = CertId::new(&fx.pki.issuing, &[0x00, 0x85, 0x01], CertIdHash::Sha256).unwrap();
        assert_eq!(b.serial, vec![0x00, 0x85, 0x01]);
        let c = CertId::new(&fx.pki.issuing, &[0x00, 0x00, 0x05], CertIdHash::Sha1).unwrap();
        assert_eq!(c.serial, vec![0x05]);
        let nonce = [7u8; 32];
        let der = build_request(&[a.clone(), b.clone(), c.clone()], Some(&nonce)).unwrap();
        let p = parse_request(&der).unwrap();
        assert_eq!(p.cert_ids, vec![a.clone(), b.clone(), c]);
        assert_eq!(p.nonce.as_deref(), Some(&nonce[..]));
        assert!(!p.signed);
        assert!(p.cert_ids.iter().all(|c| c.matches_issuer(&fx.pki.issuing)));
        assert!(!a.matches_issuer(&fx.pki.root));
        assert_eq!(a.serial_hex(), fx.subscriber.serial_hex());
        assert_eq!(a.issuer_name_hash.len(), 20);
        assert_eq!(b.issuer_key_hash.len(), 32);

        let p = parse_request(&build_request(std::slice::from_ref(&a), None).unwrap()).unwrap();
        assert_eq!(p.nonce, None);

        // Limits on building.
        assert!(matches!(
            build_request(&[], None),
            Err(OcspError::Invalid { .. })
        ));
        assert!(matches!(
            build_request(&vec![a.clone(); MAX_REQUESTS + 1], None),
            Err(OcspError::TooManyRequests { .. })
        ));
        assert!(matches!(
            build_request(std::slice::from_ref(&a), Some(&[])),
            Err(OcspError::Invalid { .. })
        ));
        assert!(matches!(
            build_request(std::slice::from_ref(&a), Some(&[0; 33])),
            Err(OcspError::Invalid { .. })
        ));
        assert!(matches!(
            CertId::new(&fx.pki.issuing, &[], CertIdHash::Sha1),
            Err(OcspError::Invalid { .. })
        ));
        assert!(matches!(
            CertId::for_certificate(&fx.pki.root, &fx.subscriber, CertIdHash::Sha1),
            Err(OcspError::WrongIssuer)
        ));
    }

    #[test]
    fn get_form() {
        let fx = fixture(KeyType::EcdsaP256);
        let a = CertId::for_certificate(&fx.pki.issuing, &fx.subscriber, CertIdHash::Sha1).unwrap();
        let der = build_request(&[a], Some(&[0xfb; 16])).unwrap();
        let url = get_url("http://ocsp.example.com", &der).unwrap();
        let path = url.strip_prefix("http://ocsp.example.com/").unwrap();
        assert!(!path.contains(['+', '/', '=']));
        assert_eq!(decode_get_path(path).unwrap(), der);
        assert_eq!(get_url("http://ocsp.example.com/", &der).unwrap(), url);
        // Unescaped standard and URL-safe alphabets, with or without padding, read too.
        assert_eq!(decode_get_path(&base64_encode(&der)).unwrap(), der);
        assert_eq!(decode_get_path("TWFu").unwrap(), b"Man");
        assert_eq!(decode_get_path("TWE%3D").unwrap(), b"Ma");
        assert_eq!(decode_get_path("TQ").unwrap(), b"M");
        assert_eq!(base64_encode(b"\xfb\xff"), "+/8=");
        assert_eq!(decode_get_path("-_8").unwrap(), b"\xfb\xff");
        for bad in ["", "%", "%zz", "T", "TWFu!", "===="] {
            assert!(
                matches!(decode_get_path(bad), Err(OcspError::Malformed { .. })),
                "{bad}"
            );
        }
        // Too long for GET: POST.
        let ids: Vec<CertId> = (1u8..=4)
            .map(|i| CertId::new(&fx.pki.issuing, &[i; 16], CertIdHash::Sha256).unwrap())
            .collect();
        assert_eq!(
            get_url(
                "http://ocsp.example.com",
                &build_request(&ids, None).unwrap()
            ),
            None
        );
    }

    #[test]
    fn good_revoked_unknown_by_ca_and_delegate_for_every_key_type() {
        for kt in [
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::Rsa2048,
            KeyType::Ed25519,
        ] {
            let fx = fixture(kt);
            let (rcert, rkey) = responder(&fx.pki.issuing, &fx.pki.issuing_key, kt, true, true);
            let statuses = [
                CertStatus::Good,
                CertStatus::Revoked {
                    time: NOW - 3600,
                    reason: Some(RevocationReason::KeyCompromise),
                },
                CertStatus::Revoked {
                    time: NOW - 7200,
                    reason: None,
                },
                CertStatus::Unknown,
            ];
            for status in statuses {
                // Signed by the CA itself.
                let nonce = [0x42u8; 32];
                let q = query(&fx, Some(&nonce));
                let req = parse_request(
                    &build_request(std::slice::from_ref(&q.cert_id), Some(&nonce)).unwrap(),
                )
                .unwrap();
                let der = ResponseBuilder::new(&fx.pki.issuing, &fx.pki.issuing_key, NOW - 30)
                    .entry(entry(&fx, status.clone()))
                    .echo_nonce(&req)
                    .include_certificate(false)
                    .build()
                    .unwrap();
                let s = check(&fx, &der, &q).unwrap();
                assert_eq!(s.status, status);
                assert!(matches!(s.responder, Responder::Issuer));
                assert!(s.nonce_echoed);
                assert_eq!(s.this_update, NOW - 60);
                assert_eq!(s.next_update, Some(NOW + DAY));
                assert_eq!(s.produced_at, NOW - 30);
                assert_eq!(Some(s.signature_algorithm), kt.signature_algorithm());
                assert!(matches!(s.responder_id, ResponderId::ByKey(ref k) if k.len() == 20));

                // Signed by a delegated responder, no nonce.
                let der =
                    build_response(&rcert, &rkey, NOW - 30, &[entry(&fx, status.clone())], None)
                        .unwrap();
                let s = check(&fx, &der, &query(&fx, Some(&nonce))).unwrap();
                assert_eq!(s.status, status);
                assert!(!s.nonce_echoed);
                match s.responder {
                    Responder::Delegated {
                        certificate,
                        no_check,
                    } => {
                        assert_eq!(certificate.der(), rcert.der());
                        assert!(no_check);
                    }
                    Responder::Issuer => panic!("expected a delegated responder"),
                }
                // …unless the nonce is required.
                let strict = CheckOptions {
                    require_nonce: true,
                    ..CheckOptions::default()
                };
                assert_eq!(
                    check_response(
                        &der,
                        &query(&fx, Some(&nonce)),
                        &fx.pki.issuing,
                        NOW,
                        &strict
                    )
                    .unwrap_err(),
                    OcspError::NonceMissing
                );
            }
        }
    }

    #[test]
    fn several_single_responses_and_other_hashes() {
        let fx = fixture(KeyType::EcdsaP256);
        let other = CertId::new(&fx.pki.issuing, &[0x01, 0x02], CertIdHash::Sha1).unwrap();
        let mut e = entry(
            &fx,
            CertStatus::Revoked {
                time: NOW - 10,
                reason: Some(RevocationReason::Superseded),
            },
        );
        // The response uses SHA-256 where the query used SHA-1: matched by recomputing.
        e.cert_id = CertId::new(
            &fx.pki.issuing,
            fx.subscriber.serial_bytes(),
            CertIdHash::Sha256,
        )
        .unwrap();
        let der = ResponseBuilder::new(&fx.pki.issuing, &fx.pki.issuing_key, NOW)
            .entry(ResponseEntry {
                cert_id: other,
                status: CertStatus::Good,
                this_update: NOW,
                next_update: None,
            })
            .entry(e)
            .build()
            .unwrap();
        let s = check(&fx, &der, &query(&fx, None)).unwrap();
        assert_eq!(
            s.status,
            CertStatus::Revoked {
                time: NOW - 10,
                reason: Some(RevocationReason::Superseded)
            }
        );
        assert_eq!(s.cert_id.hash(), Some(CertIdHash::Sha256));
    }

    #[test]
    fn tampered_signature_is_bad_signature() {
        let fx = fixture(KeyType::EcdsaP256);
        let (rcert, rkey) = responder(
            &fx.pki.issuing,
            &fx.pki.issuing_key,
            KeyType::EcdsaP256,
            true,
            false,
        );
        for (cert, key) in [(&fx.pki.issuing, &fx.pki.issuing_key), (&rcert, &rkey)] {
            let der =
                build_response(cert, key, NOW, &[entry(&fx, CertStatus::Good)], None).unwrap();
            // Flip a byte inside the signature BIT STRING: locate it after the TBS and the
            // algorithm identifier.
            let basic = OcspResponseAsn1::from_der(&der)
                .unwrap()
                .response_bytes
                .unwrap()
                .response;
            let b = BasicOcspResponse::from_der(basic.as_bytes()).unwrap();
            let sig = b.signature.as_bytes().unwrap();
            let pos = der.windows(sig.len()).position(|w| w == sig).unwrap();
            let mut t = der.clone();
            t[pos + sig.len() / 2] ^= 0x01;
            assert_eq!(
                check(&fx, &t, &query(&fx, None)).unwrap_err(),
                OcspError::BadSignature
            );
            // And a changed thisUpdate in the signed part (2026 → 2016).
            let mut t = der.clone();
            let tu = OcspTime(NOW - 60).to_der().unwrap();
            let at = t.windows(tu.len()).position(|w| w == tu).unwrap();
            t[at + 4] = b'1';
            assert_eq!(
                check(&fx, &t, &query(&fx, None)).unwrap_err(),
                OcspError::BadSignature
            );
        }
    }

    #[test]
    fn unauthorised_responders() {
        let fx = fixture(KeyType::EcdsaP256);
        let e = [entry(&fx, CertStatus::Good)];
        // No OCSPSigning EKU.
        let (c, k) = responder(
            &fx.pki.issuing,
            &fx.pki.issuing_key,
            KeyType::EcdsaP256,
            false,
            false,
        );
        let der = build_response(&c, &k, NOW, &e, None).unwrap();
        let err = check(&fx, &der, &query(&fx, None)).unwrap_err();
        assert!(
            matches!(&err, OcspError::UnauthorisedResponder { detail } if detail.contains("OCSPSigning")),
            "{err}"
        );
        // Issued by another CA (with the same names as ours: signature check catches it).
        let other = EphemeralPki::new(KeyType::EcdsaP256, NOW - DAY).unwrap();
        let (c, k) = responder(
            &other.issuing,
            &other.issuing_key,
            KeyType::EcdsaP256,
            true,
            false,
        );
        let der = build_response(&c, &k, NOW, &e, None).unwrap();
        let err = check(&fx, &der, &query(&fx, None)).unwrap_err();
        assert!(
            matches!(&err, OcspError::UnauthorisedResponder { detail } if detail.contains("does not verify")),
            "{err}"
        );
        // Issued by the root, not directly by the issuing CA.
        let (c, k) = responder(
            &fx.pki.root,
            &fx.pki.root_key,
            KeyType::EcdsaP256,
            true,
            false,
        );
        let der = build_response(&c, &k, NOW, &e, None).unwrap();
        let err = check(&fx, &der, &query(&fx, None)).unwrap_err();
        assert!(
            matches!(&err, OcspError::UnauthorisedResponder { .. }),
            "{err}"
        );
        // Another CA signing for itself.
        let der = build_response(&other.issuing, &other.issuing_key, NOW, &e, None).unwrap();
        assert!(matches!(
            check(&fx, &der, &query(&fx, None)),
            Err(OcspError::UnauthorisedResponder { .. })
        ));
        // The delegate's certificate left out.
        let (c, k) = responder(
            &fx.pki.issuing,
            &fx.pki.issuing_key,
            KeyType::EcdsaP256,
            true,
            false,
        );
        let der = ResponseBuilder::new(&c, &k, NOW)
            .entries(e.clone())
            .include_certificate(false)
            .build()
            .unwrap();
        assert!(matches!(
            check(&fx, &der, &query(&fx, None)),
            Err(OcspError::UnauthorisedResponder { .. })
        ));
        // An expired delegate.
        let der = build_response(&c, &k, NOW, &e, None).unwrap();
        let late = NOW + 40 * DAY;
        let opts = CheckOptions {
            max_age: u64::MAX / 4,
            ..CheckOptions::default()
        };
        let mut late_entry = e[0].clone();
        late_entry.next_update = None;
        let der2 = build_response(&c, &k, NOW, &[late_entry], None).unwrap();
        assert!(matches!(
            check_response(&der2, &query(&fx, None), &fx.pki.issuing, late, &opts),
            Err(OcspError::UnauthorisedResponder { detail }) if detail.contains("valid from")
        ));
        assert!(check(&fx, &der, &query(&fx, None)).is_ok());
        assert!(matches!(
            check(&fx, &der, &query(&fx, None)).unwrap().responder,
            Responder::Delegated {
                no_check: false,
                ..
            }
        ));
    }

    #[test]
    fn nonce_mismatch() {
        let fx = fixture(KeyType::EcdsaP256);
        let der = ResponseBuilder::new(&fx.pki.issuing, &fx.pki.issuing_key, NOW)
            .entry(entry(&fx, CertStatus::Good))
            .nonce(&[1; 16])
            .build()
            .unwrap();
        assert_eq!(
            check(&fx, &der, &query(&fx, Some(&[2; 16]))).unwrap_err(),
            OcspError::NonceMismatch
        );
        assert!(
            check(&fx, &der, &query(&fx, Some(&[1; 16])))
                .unwrap()
                .nonce_echoed
        );
        // A nonce in the response when none was sent is not an error.
        assert!(!check(&fx, &der, &query(&fx, None)).unwrap().nonce_echoed);
        // Bad nonce lengths are refused when building.
        assert!(matches!(
            ResponseBuilder::new(&fx.pki.issuing, &fx.pki.issuing_key, NOW)
                .entry(entry(&fx, CertStatus::Good))
                .nonce(&[1; 33])
                .build(),
            Err(OcspError::Invalid { .. })
        ));
    }

    #[test]
    fn freshness() {
        let fx = fixture(KeyType::EcdsaP256);
        let q = query(&fx, None);
        let mk = |this_update: UnixTime, next_update: Option<UnixTime>| {
            ResponseBuilder::new(&fx.pki.issuing, &fx.pki.issuing_key, this_update)
                .entry(ResponseEntry {
                    this_update,
                    next_update,
                    ..entry(&fx, CertStatus::Good)
                })
                .build()
                .unwrap()
        };
        let opts = CheckOptions::default();
        let at = |der: &[u8], t: UnixTime| check_response(der, &q, &fx.pki.issuing, t, &opts);
        // Stale nextUpdate.
        let der = mk(NOW - 2 * DAY, Some(NOW - DAY));
        assert!(matches!(
            at(&der, NOW),
            Err(OcspError::Stale {
                next_update: Some(_),
                ..
            })
        ));
        // Within the skew it is still accepted.
        assert!(at(&der, NOW - DAY + 299).is_ok());
        // Not yet valid.
        let der = mk(NOW + 3600, Some(NOW + DAY));
        assert!(matches!(at(&der, NOW), Err(OcspError::NotYetValid { .. })));
        assert!(at(&der, NOW + 3600 - 200).is_ok());
        // No nextUpdate: max_age applies.
        let der = mk(NOW - 3600, None);
        assert!(at(&der, NOW).is_ok());
        assert!(matches!(
            at(&der, NOW + 2 * DAY),
            Err(OcspError::Stale {
                next_update: None,
                ..
            })
        ));
        let e = at(&der, NOW + 2 * DAY).unwrap_err().to_string();
        assert!(e.contains("no nextUpdate"), "{e}");
    }

    #[test]
    fn wrong_cert_id() {
        let fx = fixture(KeyType::EcdsaP256);
        let der = build_response(
            &fx.pki.issuing,
            &fx.pki.issuing_key,
            NOW,
            &[entry(&fx, CertStatus::Good)],
            None,
        )
        .unwrap();
        let mut q = query(&fx, None);
        q.cert_id = CertId::new(&fx.pki.issuing, &[0x33; 16], CertIdHash::Sha1).unwrap();
        assert_eq!(
            check(&fx, &der, &q).unwrap_err(),
            OcspError::NoMatchingResponse
        );
        // A query about another issuer is the caller's mistake.
        let mut q = query(&fx, None);
        q.cert_id =
            CertId::new(&fx.pki.root, fx.subscriber.serial_bytes(), CertIdHash::Sha1).unwrap();
        assert_eq!(check(&fx, &der, &q).unwrap_err(), OcspError::WrongIssuer);
    }

    #[test]
    fn error_statuses() {
        let fx = fixture(KeyType::EcdsaP256);
        for s in [
            ErrorStatus::MalformedRequest,
            ErrorStatus::InternalError,
            ErrorStatus::TryLater,
            ErrorStatus::SigRequired,
            ErrorStatus::Unauthorized,
        ] {
            let err = check(&fx, &error_response(s), &query(&fx, None)).unwrap_err();
            assert_eq!(err, OcspError::Unsuccessful { status: s });
            assert!(err.to_string().contains(s.name()));
        }
        // Status 4 is not assigned.
        assert!(matches!(
            check(&fx, &[0x30, 0x03, 0x0a, 0x01, 0x04], &query(&fx, None)),
            Err(OcspError::Malformed { .. })
        ));
        // Successful without responseBytes.
        assert!(matches!(
            check(&fx, &[0x30, 0x03, 0x0a, 0x01, 0x00], &query(&fx, None)),
            Err(OcspError::Malformed { .. })
        ));
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let fx = fixture(KeyType::EcdsaP256);
        let resp = build_response(
            &fx.pki.issuing,
            &fx.pki.issuing_key,
            NOW,
            &[entry(&fx, CertStatus::Good)],
            None,
        )
        .unwrap();
        let req = build_request(&[query(&fx, None).cert_id], Some(&[9; 20])).unwrap();
        let q = query(&fx, None);
        for n in 0..resp.len() {
            assert!(check(&fx, &resp[..n], &q).is_err());
        }
        for n in 0..req.len() {
            assert!(matches!(
                parse_request(&req[..n]),
                Err(OcspError::Malformed { .. })
            ));
        }
        // Every single-byte change: an error or (where the byte is not covered) a result,
        // never a panic.
        for i in 0..resp.len() {
            let mut t = resp.clone();
            t[i] ^= 0xff;
            let _ = check(&fx, &t, &q);
        }
        for i in 0..req.len() {
            let mut t = req.clone();
            t[i] ^= 0xff;
            let _ = parse_request(&t);
        }
        for junk in [
            &b""[..],
            b"\x30",
            b"\x30\x80\x00\x00",
            b"hello world",
            &[0xff; 64],
        ] {
            assert!(matches!(
                check(&fx, junk, &q),
                Err(OcspError::Malformed { .. })
            ));
            assert!(matches!(
                parse_request(junk),
                Err(OcspError::Malformed { .. })
            ));
        }
        let big = vec![0u8; MAX_RESPONSE_LEN + 1];
        assert!(matches!(
            check(&fx, &big, &q),
            Err(OcspError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_request(&big),
            Err(OcspError::TooLarge { .. })
        ));
    }

    #[test]
    fn request_limits_and_extensions() {
        let fx = fixture(KeyType::EcdsaP256);
        let id = query(&fx, None).cert_id;
        // 17 CertIDs, built by hand.
        let list: Vec<RequestAsn1> = (0..=MAX_REQUESTS)
            .map(|_| RequestAsn1 {
                req_cert: id.to_asn1().unwrap(),
                single_request_extensions: None,
            })
            .collect();
        let mk = |request_list: Vec<RequestAsn1>, exts: Option<Vec<Extension>>| {
            OcspRequestAsn1 {
                tbs_request: TbsRequest {
                    version: None,
                    requestor_name: None,
                    request_list,
                    request_extensions: exts,
                },
                optional_signature: None,
            }
            .to_der()
            .unwrap()
        };
        assert!(matches!(
            parse_request(&mk(list.clone(), None)),
            Err(OcspError::TooManyRequests { count: 17, .. })
        ));
        assert!(matches!(
            parse_request(&mk(vec![], None)),
            Err(OcspError::Malformed { .. })
        ));
        let one = || vec![list[0].clone()];
        // A nonce too long is ignored, not echoed.
        let long =
            nonce_extension(OctetString::new(vec![1u8; 40]).unwrap().to_der().unwrap()).unwrap();
        let p = parse_request(&mk(one(), Some(vec![long]))).unwrap();
        assert_eq!(p.nonce, None);
        // A bare (pre-RFC 8954) nonce is read and echoed byte for byte.
        let bare = nonce_extension(vec![0xab; 8]).unwrap();
        let p = parse_request(&mk(one(), Some(vec![bare.clone()]))).unwrap();
        assert_eq!(p.nonce, Some(vec![0xab; 8]));
        let der = ResponseBuilder::new(&fx.pki.issuing, &fx.pki.issuing_key, NOW)
            .entry(entry(&fx, CertStatus::Good))
            .echo_nonce(&p)
            .build()
            .unwrap();
        assert!(
            check(&fx, &der, &query(&fx, Some(&[0xab; 8])))
                .unwrap()
                .nonce_echoed
        );
        // Two nonces, or a critical extension not understood: malformed.
        assert!(matches!(
            parse_request(&mk(one(), Some(vec![bare.clone(), bare]))),
            Err(OcspError::Malformed { .. })
        ));
        let crit = Extension {
            extn_id: ObjectIdentifier::new_unwrap("1.2.3.4"),
            critical: true,
            extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
        };
        assert!(matches!(
            parse_request(&mk(one(), Some(vec![crit]))),
            Err(OcspError::Malformed { .. })
        ));
    }

    #[test]
    fn fractional_seconds_are_read() {
        let t = OcspTime::from_der(b"\x18\x1320261118081320.123Z").unwrap();
        assert_eq!(t, OcspTime::from_der(b"\x18\x0f20261118081320Z").unwrap());
        assert!(OcspTime::from_der(b"\x18\x1020261118081320.Z").is_err());
        assert!(OcspTime::from_der(b"\x18\x0d261118081320Z").is_err());
        assert_eq!(OcspTime(NOW).to_der().unwrap().len(), 17);
    }

    #[test]
    fn signer_key_must_match() {
        let fx = fixture(KeyType::EcdsaP256);
        assert!(matches!(
            build_response(
                &fx.pki.issuing,
                &fx.pki.root_key,
                NOW,
                &[entry(&fx, CertStatus::Good)],
                None
            ),
            Err(OcspError::Invalid { .. })
        ));
        assert!(matches!(
            build_response(&fx.pki.issuing, &fx.pki.issuing_key, NOW, &[], None),
            Err(OcspError::Invalid { .. })
        ));
        assert_eq!(
            error_response(ErrorStatus::TryLater),
            [0x30, 0x03, 0x0a, 0x01, 0x03]
        );
    }
}
