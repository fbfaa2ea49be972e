//! Streaming SignedData (RFC 5652 §5): verifying a signature whose content is too large to
//! hold — encapsulated (`eContent` digested as it is read) or detached (the signed part of
//! a multipart/signed message digested from the [`Source`], canonicalised on the way).
//!
//! The signer infos, certificates and CRLs are small; they are read whole and checked by
//! [`crate::signed::verify`] in a hollow SignedData without the content, with the digests
//! computed here. So the verdicts are exactly those of the in-memory verifier.

use super::ContentSink;
use super::ber::{HOLLOW_END, StreamError, open_content_info};
use super::envelope::CmsInput;
use crate::ber::BerLimits;
use crate::cms::oid;
use crate::mime::canon::CrlfWriter;
use crate::signed::{self, ContentDigests, SignedContent, SignedReport, VerifyOptions};
use crate::source::{Source, for_each_chunk};
use cachet_crypto::digest::DigestAlgorithm;
use cachet_pki::verdict::{Code, Finding, Verdict};
use std::ops::Range;

/// The largest certificates, CRLs or signer infos read.
const MAX_PART: usize = 16 << 20;

fn failed(message: String) -> SignedReport {
    let mut verdict = Verdict::default();
    verdict.push(Finding::error(Code::Malformed, message));
    SignedReport {
        signers: Vec::new(),
        content: None,
        certificates: Vec::new(),
        crls: Vec::new(),
        verdict,
    }
}

fn describe(e: StreamError) -> String {
    match e {
        StreamError::Read(e) => format!("the signature cannot be read: {e}"),
        StreamError::Malformed { offset, what } => {
            format!("the signature is not a readable CMS structure: at byte {offset}: {what}")
        }
    }
}

/// Verifies the SignedData of `input` with its encapsulated content, passing the content to
/// `sink` as it is digested. Never fails: an unreadable input is a `malformed` finding.
pub fn verify_encapsulated(
    input: &CmsInput<'_>,
    opts: &VerifyOptions,
    ber: &BerLimits,
    sink: &mut dyn ContentSink,
) -> SignedReport {
    match walk(input, opts, ber, sink) {
        Ok(r) => r,
        Err(e) => failed(describe(e)),
    }
}

fn walk(
    input: &CmsInput<'_>,
    opts: &VerifyOptions,
    ber: &BerLimits,
    sink: &mut dyn ContentSink,
) -> Result<SignedReport, StreamError> {
    let mut r = input.ber();
    let ci = open_content_info(&mut r)?;
    if ci.content_type != oid::ID_SIGNED_DATA {
        return Ok(failed("the CMS structure is not SignedData".into()));
    }
    let sd = ci.content();
    let mut hollow = ci.hollow_start();
    hollow.extend_from_slice(&r.element(16)?); // version
    let algs_raw = r.element(64 * 1024)?; // digestAlgorithms
    hollow.extend_from_slice(&algs_raw);
    let mut skip = Vec::new();
    let he = r.header(&mut skip)?;
    if !he.identifier.is_sequence() {
        return Err(r.malformed("encapContentInfo is a SEQUENCE"));
    }
    let fe = super::ber::Frame::of(&r, &he);
    hollow.extend_from_slice(&[0x30, 0x80]);
    hollow.extend_from_slice(&r.element(64)?); // eContentType
    hollow.extend_from_slice(&[0, 0]);
    let mut digests = None;
    if fe.more(&mut r)? {
        let h0 = r.header(&mut skip)?;
        if !(h0.identifier.is_context(0) && h0.identifier.constructed) {
            return Err(r.malformed("eContent is [0] EXPLICIT OCTET STRING"));
        }
        let f0 = super::ber::Frame::of(&r, &h0);
        let ho = r.header(&mut skip)?;
        if !ho.identifier.is_universal(4) {
            return Err(r.malformed("eContent is not an OCTET STRING"));
        }
        let mut hasher = ContentDigests::new(digest_algorithms(&algs_raw));
        r.octets(ho, &mut |c| {
            hasher.update(c);
            sink.write(c)?;
            Ok(())
        })?;
        f0.close(&mut r)?;
        digests = Some(hasher.finish());
    }
    fe.close(&mut r)?;
    while sd.more(&mut r)? {
        // certificates [0], crls [1], signerInfos.
        hollow.extend_from_slice(&r.element(MAX_PART)?);
    }
    ci.close(&mut r)?;
    hollow.extend_from_slice(&HOLLOW_END);
    Ok(match &digests {
        Some(d) => signed::verify(&hollow, SignedContent::DetachedDigests(d), opts, ber),
        // No content: verify says a detached signature needs its content given.
        None => signed::verify(&hollow, SignedContent::Encapsulated, opts, ber),
    })
}

/// The digest algorithms of a received `digestAlgorithms` SET (unknown ones left out).
fn digest_algorithms(raw: &[u8]) -> Vec<DigestAlgorithm> {
    use der::Decode;
    let Ok(der) = crate::ber::normalize(raw, &BerLimits::new(raw.len())) else {
        return Vec::new();
    };
    der::asn1::SetOfVec::<spki::AlgorithmIdentifierOwned>::from_der(&der)
        .map(|set| {
            set.iter()
                .filter_map(|a| signed::digest_from_oid(&a.oid))
                .collect()
        })
        .unwrap_or_default()
}

/// Verifies a detached `signature` over the bytes at `content` in `src` — with `canonical`,
/// the entity of a multipart/signed message canonicalised to CRLF (RFC 8551 §3.1.1);
/// without, raw content as it is — passing what is digested to `sink`.
#[allow(clippy::too_many_arguments)]
pub fn verify_detached(
    src: &dyn Source,
    content: Range<u64>,
    canonical: bool,
    signature: &[u8],
    opts: &VerifyOptions,
    ber: &BerLimits,
    sink: &mut dyn ContentSink,
) -> SignedReport {
    let mut read_error = None;
    let mut digester = |algs: &[DigestAlgorithm]| {
        let mut hasher = ContentDigests::new(algs.iter().copied());
        let mut crlf = CrlfWriter::default();
        let mut canon = Vec::new();
        let r = for_each_chunk::<std::io::Error>(src, content.clone(), |c| {
            if !canonical {
                hasher.update(c);
                return sink.write(c);
            }
            // Text that is canonical already (the usual case) is digested where it lies.
            if !crlf.has_bare_lf(c) {
                crlf.pass(c);
                hasher.update(c);
                return sink.write(c);
            }
            canon.clear();
            crlf.feed(c, &mut |s| canon.extend_from_slice(s));
            hasher.update(&canon);
            sink.write(&canon)
        });
        if let Err(e) = r {
            read_error = Some(e);
        }
        hasher.finish()
    };
    let report = signed::verify(
        signature,
        SignedContent::DetachedDigester(&mut digester),
        opts,
        ber,
    );
    match read_error {
        Some(e) => failed(format!("the signed content cannot be read: {e}")),
        None => report,
    }
}
