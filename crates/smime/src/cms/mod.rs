//! The Cryptographic Message Syntax (CMS, RFC 5652) as S/MIME uses it: decoding received
//! BER and encoding DER.
//!
//! The structures are the `cms` crate's (re-exported here, named as in RFC 5652):
//! [`ContentInfo`], [`SignedData`], [`SignerInfo`], [`EnvelopedData`], [`AuthEnvelopedData`]
//! (RFC 5083), [`RecipientInfo`] with [`KeyTransRecipientInfo`] and
//! [`KeyAgreeRecipientInfo`], and so on. What that crate lacks is defined beside them in the
//! same style: algorithm parameters in [`params`] ([`GcmParameters`], [`RsaesOaepParams`],
//! [`EccCmsSharedInfo`]), S/MIME attributes in [`attr`] ([`SmimeCapabilities`],
//! [`SigningCertificateV2`]) and object identifiers in [`oid`].
//!
//! [`decode_content_info`] is the way in: it normalises BER to DER ([`crate::ber`]), joins the
//! segments of `[0] IMPLICIT` OCTET STRINGs that only the CMS schema identifies, decodes, and
//! says which content type it found. It also keeps what a verifier needs from the *received*
//! bytes: the DER decoder sorts every SET OF it reads, so the order of `SignerInfo`s and the
//! encoding of `signedAttrs` are taken from the received encoding, not from the decoded
//! structures (RFC 5652 §5.4).
//!
//! Writing is `der::Encode` on the same types; [`encode_content_info`] wraps a content in its
//! `ContentInfo`.

pub mod attr;
pub mod oid;
pub mod params;

use der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Sequence, Tagged};

use crate::ber::{BerError, BerLimits, BerTree, NodeId};

pub use attr::{
    EssCertIdV2, IssuerSerial, SigningCertificateV2, SmimeCapabilities, SmimeCapability,
    single_attribute_value,
};
pub use cms::authenveloped_data::{AuthAttributes, AuthEnvelopedData, UnauthAttributes};
pub use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
pub use cms::content_info::{CmsVersion, ContentInfo};
pub use cms::enveloped_data::{
    EncryptedContentInfo, EncryptedKey, EnvelopedData, KekRecipientInfo,
    KeyAgreeRecipientIdentifier, KeyAgreeRecipientInfo, KeyTransRecipientInfo,
    OriginatorIdentifierOrKey, OriginatorInfo, OriginatorPublicKey, PasswordRecipientInfo,
    RecipientEncryptedKey, RecipientEncryptedKeys, RecipientIdentifier, RecipientInfo,
    RecipientInfos, RecipientKeyIdentifier, UserKeyingMaterial,
};
pub use cms::signed_data::{
    CertificateSet, DigestAlgorithmIdentifiers, EncapsulatedContentInfo, SignatureValue,
    SignedAttributes, SignedData, SignerIdentifier, SignerInfo, SignerInfos, UnsignedAttributes,
};
pub use params::{EccCmsSharedInfo, GcmParameters, RsaesOaepParams, decode_parameters};

/// Why a CMS input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CmsError {
    /// The input is not a valid encoding of the structure named by `what`.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// The structure or field that is malformed.
        what: &'static str,
        /// What is wrong, with the byte offset where one is known.
        detail: String,
    },
    /// A well-formed input that uses something Cachet does not handle.
    #[error("unsupported {what}")]
    Unsupported {
        /// What is not supported, e.g. "content type 1.2.840.113549.1.7.5".
        what: String,
    },
    /// The input exceeds a size or element-count limit.
    #[error("too large: {detail}")]
    TooLarge {
        /// Which limit, and by how much.
        detail: String,
    },
    /// The input nests deeper than the depth limit.
    #[error("offset {offset}: nested deeper than {max} levels")]
    TooDeep {
        /// Offset of the element that is too deep.
        offset: usize,
        /// The limit.
        max: usize,
    },
}

impl CmsError {
    pub(crate) fn malformed(what: &'static str, e: impl core::fmt::Display) -> Self {
        Self::Malformed {
            what,
            detail: e.to_string(),
        }
    }
}

impl From<BerError> for CmsError {
    fn from(e: BerError) -> Self {
        match e {
            BerError::TooLarge { .. } | BerError::TooManyElements { .. } => Self::TooLarge {
                detail: e.to_string(),
            },
            BerError::TooDeep { offset, max } => Self::TooDeep { offset, max },
            other => Self::malformed("BER encoding", other),
        }
    }
}

/// A `ContentInfo` (RFC 5652 §3) decoded by [`decode_content_info`].
#[derive(Clone, Debug)]
pub struct DecodedContentInfo {
    /// `contentType`.
    pub content_type: ObjectIdentifier,
    /// `content`, decoded according to `contentType`.
    pub content: CmsContent,
}

/// The content of a `ContentInfo`, by content type.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum CmsContent {
    /// `id-data` (RFC 5652 §4): the octets.
    Data(OctetString),
    /// `id-signedData` (RFC 5652 §5).
    SignedData {
        /// The decoded structure, without its `certificates` and with an empty
        /// `signerInfos`: those are in the two fields below, each decoded once and as
        /// received (see [`decode_content_info`]).
        signed_data: Box<SignedData>,
        /// The `SignerInfo`s in received order, with the received `signedAttrs`.
        signer_infos: Vec<ReceivedSignerInfo>,
        /// The DER of each `certificate` choice of `certificates`, in received order (the
        /// decoded `signed_data` has none: see [`decode_content_info`]).
        certificates: Vec<Vec<u8>>,
    },
    /// `id-envelopedData` (RFC 5652 §6).
    EnvelopedData(Box<EnvelopedData>),
    /// `id-ct-authEnvelopedData` (RFC 5083 §2.1).
    AuthEnvelopedData {
        /// The decoded structure.
        auth_enveloped_data: Box<AuthEnvelopedData>,
        /// The additional authenticated data of AES-GCM (RFC 5083 §2.2): the received
        /// `authAttrs` with the `[1] IMPLICIT` identifier replaced by SET (0x31); `None`
        /// when there are no `authAttrs` (the AAD is then empty).
        auth_attrs_encoding: Option<Vec<u8>>,
    },
}

/// The kind of a [`CmsContent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentKind {
    /// `id-data`.
    Data,
    /// `id-signedData`.
    SignedData,
    /// `id-envelopedData`.
    EnvelopedData,
    /// `id-ct-authEnvelopedData`.
    AuthEnvelopedData,
}

impl CmsContent {
    /// Which content type this is.
    pub fn kind(&self) -> ContentKind {
        match self {
            Self::Data(_) => ContentKind::Data,
            Self::SignedData { .. } => ContentKind::SignedData,
            Self::EnvelopedData(_) => ContentKind::EnvelopedData,
            Self::AuthEnvelopedData { .. } => ContentKind::AuthEnvelopedData,
        }
    }
}

/// One `SignerInfo` (RFC 5652 §5.3) as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedSignerInfo {
    /// The decoded structure (its `signed_attrs` sorted by the decoder).
    pub signer_info: SignerInfo,
    /// The octets the signature covers when `signedAttrs` is present (RFC 5652 §5.4): the
    /// received encoding of `signedAttrs` with its `[0] IMPLICIT` identifier octet replaced by
    /// the SET identifier (0x31), length and contents exactly as received (not re-sorted).
    /// RFC 5652 §5.3 requires those to be DER already; a signer that sent them with an
    /// indefinite length has the DER lengths from [`BerTree::to_der_with`] on the same node.
    pub signed_attrs_encoding: Option<Vec<u8>>,
}

/// A borrowed view of `ContentInfo` (RFC 5652 §3), to decode the content without copying.
#[derive(Sequence)]
struct ContentInfoRef<'a> {
    content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: AnyRef<'a>,
}

/// Normalises `ber` (a BER or DER `ContentInfo`, RFC 5652 §3) to DER within `limits` and
/// decodes it, for the content types S/MIME uses: `id-signedData`, `id-envelopedData`,
/// `id-ct-authEnvelopedData` and `id-data`. Other content types are
/// [`CmsError::Unsupported`].
///
/// Besides the generic BER → DER rules of [`crate::ber`], the `[0] IMPLICIT OCTET STRING`
/// fields that peers send constructed are joined: `encryptedContent` (RFC 5652 §6.1;
/// `openssl cms -encrypt -stream` writes it in 4 KiB segments) and the `[0] IMPLICIT
/// SubjectKeyIdentifier` choices of `sid`, `rid` and `originator` (RFC 5652 §5.3, §6.2.1,
/// §6.2.2).
///
/// Certificates and CRLs inside are normalised like everything else, which leaves DER ones
/// unchanged; a verifier that needs a certificate's received bytes finds them with a
/// [`BerTree`] of the input.
pub fn decode_content_info(ber: &[u8], limits: &BerLimits) -> Result<DecodedContentInfo, CmsError> {
    let tree = BerTree::parse(ber, limits)?;
    let root = tree.root();
    let content_type = content_type_of(&tree)?;
    let content_node = tree
        .child(root, 1)
        .filter(|&n| tree.identifier(n).is_some_and(|i| i.is_context(0)))
        .and_then(|n| tree.child(n, 0));

    let mut implicit = Vec::new();
    let mut signer_nodes = Vec::new();
    let mut auth_attrs_node = None;
    let kind = if content_type == oid::ID_DATA {
        ContentKind::Data
    } else if content_type == oid::ID_SIGNED_DATA {
        if let Some(sd) = content_node {
            signer_nodes = signed_data_layout(&tree, sd, &mut implicit);
        }
        ContentKind::SignedData
    } else if content_type == oid::ID_ENVELOPED_DATA {
        if let Some(ed) = content_node {
            enveloped_layout(&tree, ed, &mut implicit);
        }
        ContentKind::EnvelopedData
    } else if content_type == oid::ID_CT_AUTH_ENVELOPED_DATA {
        if let Some(aed) = content_node {
            auth_attrs_node = enveloped_layout(&tree, aed, &mut implicit);
        }
        ContentKind::AuthEnvelopedData
    } else {
        return Err(CmsError::Unsupported {
            what: format!("content type {content_type}"),
        });
    };

    // Sorted, as `der_of` needs (the layouts find them in tree order already).
    implicit.sort_unstable();
    let der = tree.der_of(root, &implicit)?;
    let info = || ContentInfoRef::from_der(&der).map_err(|e| CmsError::malformed("ContentInfo", e));
    let content = match kind {
        ContentKind::Data => CmsContent::Data(
            info()?
                .content
                .decode_as::<OctetString>()
                .map_err(|e| CmsError::malformed("Data", e))?,
        ),
        ContentKind::SignedData => {
            // The certificates are taken out as received and parsed by the caller: decoding
            // and re-encoding each would cost more than the rest of the structure, and the
            // X.509 decoder cannot hold every time RFC 5280 allows (UTCTime before 1970).
            // The SignerInfos are decoded one by one below, in received order and with the
            // received signedAttrs; decoding them here as well would do it twice.
            let (without, certificates) = split_certificates(&der)?;
            let info = ContentInfoRef::from_der(&without)
                .map_err(|e| CmsError::malformed("ContentInfo", e))?;
            let signed_data = info
                .content
                .decode_as::<SignedData>()
                .map_err(|e| CmsError::malformed("SignedData", e))?;
            let signer_infos = received_signer_infos(&tree, &signer_nodes, &implicit)?;
            CmsContent::SignedData {
                signed_data: Box::new(signed_data),
                signer_infos,
                certificates,
            }
        }
        ContentKind::EnvelopedData => CmsContent::EnvelopedData(Box::new(
            info()?
                .content
                .decode_as::<EnvelopedData>()
                .map_err(|e| CmsError::malformed("EnvelopedData", e))?,
        )),
        ContentKind::AuthEnvelopedData => CmsContent::AuthEnvelopedData {
            auth_enveloped_data: Box::new(
                info()?
                    .content
                    .decode_as::<AuthEnvelopedData>()
                    .map_err(|e| CmsError::malformed("AuthEnvelopedData", e))?,
            ),
            auth_attrs_encoding: auth_attrs_node.and_then(|n| as_set(&tree, n)),
        },
    };
    Ok(DecodedContentInfo {
        content_type,
        content,
    })
}

/// Encodes `ContentInfo { contentType, [0] EXPLICIT content }` (RFC 5652 §3) in DER: the
/// content encoded once and wrapped, not encoded, parsed back and encoded again.
pub fn encode_content_info<T: Encode>(
    content_type: ObjectIdentifier,
    content: &T,
) -> Result<Vec<u8>, CmsError> {
    let content = content
        .to_der()
        .map_err(|e| CmsError::malformed("content", e))?;
    wrap_content_info(content_type, &content)
}

/// `ContentInfo` around the DER `content` (RFC 5652 §3).
pub fn wrap_content_info(
    content_type: ObjectIdentifier,
    content: &[u8],
) -> Result<Vec<u8>, CmsError> {
    let oid = content_type
        .to_der()
        .map_err(|e| CmsError::malformed("contentType", e))?;
    let explicit = tlv_header(0xa0, content.len());
    let mut out = tlv_header(0x30, oid.len() + explicit.len() + content.len());
    out.reserve(oid.len() + explicit.len() + content.len());
    out.extend_from_slice(&oid);
    out.extend_from_slice(&explicit);
    out.extend_from_slice(content);
    Ok(out)
}

/// The identifier and DER length octets of an element of `len` content octets (one-octet
/// tags only).
pub fn tlv_header(tag: u8, len: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(10);
    h.push(tag);
    crate::stream::splice::der_length(len as u64, &mut h);
    h
}

/// An element with a one-octet tag whose contents are `parts` in order.
pub fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = tlv_header(tag, len);
    out.reserve(len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// The octets of `eContent` (RFC 5652 §5.2), or `None` for a detached signature.
pub fn encapsulated_content(eci: &EncapsulatedContentInfo) -> Result<Option<&[u8]>, CmsError> {
    eci.econtent
        .as_ref()
        .map(|any| {
            if any.tag() == der::Tag::OctetString {
                Ok(any.value())
            } else {
                Err(CmsError::Malformed {
                    what: "eContent",
                    detail: format!("{} instead of OCTET STRING", any.tag()),
                })
            }
        })
        .transpose()
}

/// `contentType` of the `ContentInfo` at the root of `tree`.
fn content_type_of(tree: &BerTree<'_>) -> Result<ObjectIdentifier, CmsError> {
    let root = tree.root();
    if !tree.identifier(root).is_some_and(|i| i.is_sequence()) {
        return Err(CmsError::Malformed {
            what: "ContentInfo",
            detail: "not a SEQUENCE".into(),
        });
    }
    let oid_node = tree
        .child(root, 0)
        .filter(|&n| {
            tree.identifier(n)
                .is_some_and(|i| i.is_universal(6) && !i.constructed)
        })
        .ok_or_else(|| CmsError::Malformed {
            what: "ContentInfo",
            detail: "contentType is not an OBJECT IDENTIFIER".into(),
        })?;
    let bytes = tree.content(oid_node).unwrap_or_default();
    ObjectIdentifier::from_bytes(bytes).map_err(|e| CmsError::malformed("contentType", e))
}

/// Finds, in a received `SignedData` (RFC 5652 §5.1), the `SignerInfo`s and the constructed
/// `[0] IMPLICIT SubjectKeyIdentifier` sids. Returns the `SignerInfo` nodes in order; a
/// structure that does not match is left for the decoder to reject.
fn signed_data_layout(tree: &BerTree<'_>, sd: NodeId, implicit: &mut Vec<NodeId>) -> Vec<NodeId> {
    let Some(signer_infos) = tree.children(sd).last() else {
        return Vec::new();
    };
    if !tree.identifier(signer_infos).is_some_and(|i| i.is_set()) {
        return Vec::new();
    }
    let nodes: Vec<NodeId> = tree.children(signer_infos).collect();
    for &si in &nodes {
        // SignerInfo ::= SEQUENCE { version, sid, ... }
        if let Some(sid) = tree.child(si, 1) {
            push_if_constructed_context(tree, sid, 0, implicit);
        }
    }
    nodes
}

/// Finds, in a received `EnvelopedData` (RFC 5652 §6.1) or `AuthEnvelopedData`
/// (RFC 5083 §2.1), the constructed `[0] IMPLICIT` OCTET STRINGs (`encryptedContent`, and
/// SubjectKeyIdentifier choices of `rid` and `originator`). Returns the `[1]` element that
/// follows `encryptedContentInfo`: `authAttrs` in an `AuthEnvelopedData`.
fn enveloped_layout(tree: &BerTree<'_>, ed: NodeId, implicit: &mut Vec<NodeId>) -> Option<NodeId> {
    let mut children = tree.children(ed);
    // version, [0] originatorInfo OPTIONAL, recipientInfos SET, encryptedContentInfo, ...
    let recipient_infos = children.find(|&n| tree.identifier(n).is_some_and(|i| i.is_set()))?;
    for ri in tree.children(recipient_infos) {
        let Some(id) = tree.identifier(ri) else {
            continue;
        };
        if id.is_sequence() {
            // KeyTransRecipientInfo ::= SEQUENCE { version, rid, ... } (§6.2.1)
            if let Some(rid) = tree.child(ri, 1) {
                push_if_constructed_context(tree, rid, 0, implicit);
            }
        } else if id.is_context(1) {
            // KeyAgreeRecipientInfo: { version, originator [0] EXPLICIT
            //   OriginatorIdentifierOrKey, ... } (§6.2.2)
            if let Some(choice) = tree.child(ri, 1).and_then(|o| tree.child(o, 0)) {
                push_if_constructed_context(tree, choice, 0, implicit);
            }
        }
    }
    let eci = children.next()?;
    // EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm,
    //   encryptedContent [0] IMPLICIT OCTET STRING OPTIONAL }
    if let Some(content) = tree.child(eci, 2) {
        push_if_constructed_context(tree, content, 0, implicit);
    }
    children.next().filter(|&n| {
        tree.identifier(n)
            .is_some_and(|i| i.is_context(1) && i.constructed)
    })
}

fn push_if_constructed_context(tree: &BerTree<'_>, n: NodeId, number: u32, out: &mut Vec<NodeId>) {
    if tree
        .identifier(n)
        .is_some_and(|i| i.is_context(number) && i.constructed)
    {
        out.push(n);
    }
}

/// The received encoding of `n` with its identifier replaced by SET (RFC 5652 §5.4,
/// RFC 5083 §2.2). `None` if the identifier is not one octet (a `[0]`/`[1]` always is).
fn as_set(tree: &BerTree<'_>, n: NodeId) -> Option<Vec<u8>> {
    // RFC 5652 §5.4 signs the DER encoding of the attributes. A sender that transmitted them
    // in BER (indefinite lengths) still signed their DER form, which the normaliser
    // reproduces without re-ordering anything; DER input comes out byte-identical.
    let raw = tree.der_of(n, &[]).ok()?;
    let (_, rest) = raw.split_first()?;
    let mut out = Vec::with_capacity(raw.len());
    out.push(0x31);
    out.extend_from_slice(rest);
    Some(out)
}

/// A definite-length element at `pos` (the input is already DER): (header length, contents
/// length).
fn der_element(b: &[u8], pos: usize) -> Option<(usize, usize)> {
    let h = crate::ber::read_header(b, pos).ok()?;
    match h.length {
        crate::ber::Length::Definite(len) => Some((h.header_len, len)),
        crate::ber::Length::Indefinite => None,
    }
}

/// The children of the DER element whose contents are `b[start..end]`: (start, end) each.
fn der_children(b: &[u8], start: usize, end: usize) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let (h, l) = der_element(b, pos)?;
        let next = pos.checked_add(h)?.checked_add(l)?;
        if next > end {
            return None;
        }
        out.push((pos, next));
        pos = next;
    }
    Some(out)
}

/// Splits a DER SignedData ContentInfo into the same without its `certificates [0]` and
/// with an empty `signerInfos` SET, and the DER of each certificate in it (RFC 5652 §5.1:
/// `CertificateChoices`; only the `certificate` choice, a SEQUENCE, is kept).
fn split_certificates(der: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), CmsError> {
    let bad = || CmsError::Malformed {
        what: "SignedData",
        detail: "the structure changed in normalisation".into(),
    };
    // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT SignedData }
    let (h, l) = der_element(der, 0).ok_or_else(bad)?;
    let ci = der_children(der, h, h + l).ok_or_else(bad)?;
    let (oid, explicit) = match ci.as_slice() {
        [oid, explicit] => (*oid, *explicit),
        _ => return Err(bad()),
    };
    let (eh, _) = der_element(der, explicit.0).ok_or_else(bad)?;
    let sd_at = explicit.0 + eh;
    let (sh, sl) = der_element(der, sd_at).ok_or_else(bad)?;
    let children = der_children(der, sd_at + sh, sd_at + sh + sl).ok_or_else(bad)?;
    let mut certificates = Vec::new();
    let mut kept: Vec<&[u8]> = Vec::with_capacity(children.len());
    for (i, &(a, b)) in children.iter().enumerate() {
        // version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
        if i == 3 && der[a] == 0xa0 {
            let (ch, cl) = der_element(der, a).ok_or_else(bad)?;
            for (x, y) in der_children(der, a + ch, a + ch + cl).ok_or_else(bad)? {
                if der[x] == 0x30 {
                    certificates.push(der[x..y].to_vec());
                }
            }
        } else if i + 1 == children.len() && der[a] == 0x31 {
            kept.push(&[0x31, 0x00]);
        } else {
            kept.push(&der[a..b]);
        }
    }
    let signed_data = tlv(0x30, &kept);
    let explicit = tlv(0xa0, &[&signed_data]);
    Ok((tlv(0x30, &[&der[oid.0..oid.1], &explicit]), certificates))
}

/// The `SignerInfo`s at `signer_nodes` of `tree`, in received order: each decoded from its
/// own DER (see [`BerTree::der_of`]; the work stays linear however many signers there are),
/// with `signedAttrs` as received.
fn received_signer_infos(
    tree: &BerTree<'_>,
    signer_nodes: &[NodeId],
    implicit: &[NodeId],
) -> Result<Vec<ReceivedSignerInfo>, CmsError> {
    signer_nodes
        .iter()
        .map(|&si| {
            // Each SignerInfo in DER on its own: borrowed when received as DER, rebuilt (its
            // `[0] IMPLICIT` sid joined) when not — never a second parse of the whole.
            let bytes = tree.der_of(si, implicit)?;
            let signer_info =
                SignerInfo::from_der(&bytes).map_err(|e| CmsError::malformed("SignerInfo", e))?;
            // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm,
            //   signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL, ... }
            let signed_attrs_encoding = tree
                .child(si, 3)
                .filter(|&n| {
                    tree.identifier(n)
                        .is_some_and(|i| i.is_context(0) && i.constructed)
                })
                .and_then(|n| as_set(tree, n));
            Ok(ReceivedSignerInfo {
                signer_info,
                signed_attrs_encoding,
            })
        })
        .collect()
}
