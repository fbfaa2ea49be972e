//! Whole messages: signing an RFC 5322 message into multipart/signed or signed-data
//! (RFC 8551 §3.5), and verifying one, MIME and CMS together. The command line, the gateway
//! and `cachet bench` all go through here, so they sign and verify exactly alike.

use crate::ber::BerLimits;
use crate::mime::canon::to_crlf;
use crate::mime::encode::make_7bit_safe;
use crate::mime::header::parse_header_block;
use crate::mime::smime::{
    Layer, SmimeType, build_multipart_signed, build_pkcs7_mime, classify, fresh_boundary,
    split_message,
};
use crate::mime::{Limits, MimeError};
use crate::signed::{
    self, ContentDigests, SidKind, SignError, SignRequest, SignedContent, SignedReport, Signer,
    VerifyOptions,
};
use cachet_pki::verdict::{Code, Finding};

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The input is not a readable MIME message.
    #[error("malformed message: {0}")]
    Mime(#[from] MimeError),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(#[from] SignError),
}

/// How to sign a message.
pub struct SignMessage<'a> {
    /// The signer.
    pub signer: Signer<'a>,
    /// Encapsulate (application/pkcs7-mime signed-data) rather than detach (multipart/signed).
    pub opaque: bool,
    /// How the signer is identified.
    pub sid: SidKind,
    /// signingTime.
    pub signing_time: u64,
    /// RSA signers use RSASSA-PSS.
    pub rsa_pss: bool,
}

/// Signs `message`: the envelope headers stay outside, the content is made 7-bit safe and
/// canonical (CRLF) and exactly those bytes are signed and sent.
pub fn sign_message(
    message: &[u8],
    how: &SignMessage<'_>,
    limits: &Limits,
) -> Result<Vec<u8>, MessageError> {
    let split = split_message(message, limits)?;
    let safe = make_7bit_safe(&split.inner, limits)?;
    let entity = to_crlf(&safe);
    let d = signed::digest_for(how.signer.key.key_type());
    let digests = ContentDigests::of(&entity, [d]);
    let signers = std::slice::from_ref(&how.signer);
    let req = SignRequest {
        signers,
        digests: &digests,
        encapsulated: how.opaque.then_some(&entity[..]),
        signing_time: how.signing_time,
        sid: how.sid,
        rsa_pss: how.rsa_pss,
    };
    let cms = signed::sign(&req)?;
    if how.opaque {
        return Ok(build_pkcs7_mime(&split.outer, SmimeType::SignedData, &cms));
    }
    let boundary = fresh_boundary(&entity, &mut || {
        cachet_crypto::rand::bytes::<12>().unwrap_or([0x5a; 12])
    });
    Ok(build_multipart_signed(
        &split.outer,
        &entity,
        &cms,
        signed::micalg(d),
        &boundary,
    ))
}

/// A verified (or not) message.
pub struct VerifiedMessage {
    /// Signers and findings.
    pub report: SignedReport,
    /// The signed entity (what the signature covers), when it could be located.
    pub content: Option<Vec<u8>>,
}

/// The addr-spec of a From header value ("Alice <alice@example.com>" → alice@example.com).
pub fn from_address(value: &str) -> Option<String> {
    let v = value.trim();
    let addr = match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    };
    let addr = addr.trim();
    addr.contains('@').then(|| addr.to_string())
}

fn malformed(message: String) -> VerifiedMessage {
    let mut report = SignedReport {
        signers: Vec::new(),
        content: None,
        certificates: Vec::new(),
        verdict: Default::default(),
    };
    report
        .verdict
        .push(Finding::error(Code::Malformed, message));
    VerifiedMessage {
        report,
        content: None,
    }
}

/// Verifies the outermost signature layer of `message`. The From header (if `opts` names no
/// address) is checked against the signer certificate. Unreadable input gives a `malformed`
/// finding, never an error: a verdict is always returned.
pub fn verify_message(
    message: &[u8],
    opts: &VerifyOptions,
    limits: &Limits,
    ber: &BerLimits,
) -> VerifiedMessage {
    let headers = match parse_header_block(message, limits) {
        Ok(h) => h,
        Err(e) => return malformed(format!("the message cannot be read: {e}")),
    };
    let mut opts = opts.clone();
    if opts.from_address.is_none() {
        opts.from_address = headers
            .get("From")
            .and_then(|f| from_address(&f.unfolded()));
    }
    match classify(message, limits) {
        Err(e) => malformed(format!("the message cannot be read: {e}")),
        Ok(Layer::Content) => malformed(
            "the message is not signed (no multipart/signed or application/pkcs7-mime layer)"
                .into(),
        ),
        Ok(Layer::DetachedSigned {
            content, signature, ..
        }) => {
            let entity = to_crlf(&message[content]).into_owned();
            let report = signed::verify(&signature, SignedContent::Detached(&entity), &opts, ber);
            VerifiedMessage {
                report,
                content: Some(entity),
            }
        }
        Ok(Layer::Pkcs7Mime { cms, .. }) => {
            let report = signed::verify(&cms, SignedContent::Encapsulated, &opts, ber);
            let content = report.content.clone();
            VerifiedMessage { report, content }
        }
    }
}
