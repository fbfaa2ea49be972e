//! Streaming EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083): encryption of a
//! content of known length into DER, and decryption of BER or DER read from a
//! [`Source`], in pieces.
//!
//! Both reuse [`crate::enveloped`] for everything but the content: the encryptor has the
//! in-memory code build the structure with an empty `encryptedContent` and a zero `mac`,
//! and [`splice`]s the ciphertext and tag in; the decryptor reads the elements before
//! `encryptedContent` whole, has the in-memory decoder open that *hollow* envelope (finding
//! the recipient and recovering the key without any oracle, RFC 3218), then decrypts the
//! content as it streams past. The mac and any `authAttrs` come after the content: the
//! plaintext goes to a [`ContentSink`] that the caller releases only when
//! [`decrypt`] returns `Ok` (a GCM tag failure releases nothing).

use super::ContentSink;
use super::ber::{BerStream, Frame, HOLLOW_END, StreamError, open_content_info};
use super::reader::{Base64Reader, RangeReader};
use super::splice::splice;
use crate::ber::{BerLimits, normalize};
use crate::cms::{self, CmsContent, oid};
use crate::enveloped::{
    ContentAlgorithm, ContentCipher, ContentDecryptor, DecryptError, EncryptError, KeyManagement,
    RsaPadding, check_mac_len, envelope_der, make_recipient_infos, open_envelope,
};
use crate::source::Source;
use cachet_crypto::{PrivateKey, content};
use cachet_pki::ParsedCertificate;
use const_oid::ObjectIdentifier;
use der::Decode;
use std::io::Read;
use std::ops::Range;
use zeroize::Zeroizing;

/// Base64 text up to this size, when its source holds it in memory, is decoded whole rather
/// than streamed (the decoded bytes are at most three quarters of what is in memory already).
const WHOLE_DECODE_MAX: u64 = 4 << 20;

/// A CMS object inside a [`Source`]: DER/BER bytes, or base64 text of them (the body of an
/// `application/pkcs7-mime` part, or the inside of a PEM block).
#[derive(Clone)]
pub struct CmsInput<'a> {
    /// Where the bytes are.
    pub src: &'a dyn Source,
    /// Which of them.
    pub range: Range<u64>,
    /// Whether they are base64 text.
    pub base64: bool,
}

impl<'a> CmsInput<'a> {
    /// The decoded bytes, from the start.
    pub fn reader(&self) -> Box<dyn Read + 'a> {
        // Base64 text of a message held in memory is decoded in one go, where it lies: no
        // copy of the text into a reading buffer first. Text that does not decode is left to
        // the streaming reader, which reports the error where it meets it.
        if self.base64
            && self.range.end - self.range.start <= WHOLE_DECODE_MAX
            && let Some(text) = self.src.borrow(self.range.clone())
            && let Ok(decoded) = crate::mime::encode::base64_decode(text)
        {
            return Box::new(std::io::Cursor::new(decoded));
        }
        let r = RangeReader::new(self.src, self.range.clone());
        if self.base64 {
            Box::new(Base64Reader::with_size_hint(r, self.len_hint()))
        } else {
            Box::new(r)
        }
    }

    /// About how many bytes the reader yields (buffers are sized by it).
    pub fn len_hint(&self) -> usize {
        let len =
            usize::try_from(self.range.end.saturating_sub(self.range.start)).unwrap_or(usize::MAX);
        if self.base64 { len / 4 * 3 } else { len }
    }

    /// A BER stream over the decoded bytes.
    pub fn ber(&self) -> BerStream<Box<dyn Read + 'a>> {
        BerStream::with_size_hint(self.reader(), self.len_hint().saturating_add(16))
    }
}

// ---------------------------------------------------------------------------------------
// Encryption
// ---------------------------------------------------------------------------------------

/// How to encrypt (see [`crate::enveloped::encrypt_with_tag_len`]).
#[derive(Clone, Copy)]
pub struct EncryptRequest<'a> {
    /// The recipients' certificates.
    pub recipients: &'a [ParsedCertificate],
    /// The content encryption.
    pub cipher: ContentCipher,
    /// RSA key transport.
    pub key_transport: RsaPadding,
    /// GCM tag length (12 to 16).
    pub gcm_tag_len: u8,
}

enum ContentEncryptor {
    Cbc(content::CbcEncryptor),
    Gcm(Box<content::GcmEncryptor>),
}

/// Encrypts a content of known length in pieces, producing the same DER `ContentInfo` as
/// [`crate::enveloped::encrypt_with_tag_len`].
pub struct Encryptor {
    content: ContentEncryptor,
    suffix: Vec<u8>,
    mac_len: usize,
    expected: u64,
    seen: u64,
}

/// The path from `ContentInfo` to `encryptedContent`: content [0] → (Auth)EnvelopedData →
/// its third element ((auth)EncryptedContentInfo; no originatorInfo is written) → its third
/// element.
const ENCRYPTED_CONTENT_PATH: [usize; 4] = [1, 0, 2, 2];

impl Encryptor {
    /// Starts encrypting exactly `content_len` bytes to `req.recipients`; returns the
    /// encryptor and the first bytes of the DER output.
    pub fn start(
        content_len: u64,
        req: &EncryptRequest<'_>,
    ) -> Result<(Self, Vec<u8>), EncryptError> {
        let (cek, infos) = make_recipient_infos(
            req.recipients,
            req.cipher,
            req.key_transport,
            req.gcm_tag_len,
        )?;
        let (content, iv, mac_len, ct_len) = if req.cipher.is_authenticated() {
            let nonce = cachet_crypto::rand::bytes::<{ cms::GcmParameters::NONCE_LEN }>()?;
            let e = content::GcmEncryptor::new(&cek, &nonce)?;
            (
                ContentEncryptor::Gcm(Box::new(e)),
                nonce.to_vec(),
                usize::from(req.gcm_tag_len),
                content_len,
            )
        } else {
            let iv = cachet_crypto::rand::bytes::<{ content::AES_BLOCK_LEN }>()?;
            let e = content::CbcEncryptor::aes(&cek, &iv)?;
            // PKCS#7 padding always adds 1 to 16 bytes (RFC 5652 §6.3).
            let padded = (content_len / 16 + 1) * 16;
            (ContentEncryptor::Cbc(e), iv.to_vec(), 0, padded)
        };
        let hollow = envelope_der(req.cipher, &iv, infos, None, Vec::new(), vec![0; mac_len])?;
        let s = splice(&hollow, &ENCRYPTED_CONTENT_PATH, ct_len)
            .map_err(|e| EncryptError::Invalid(format!("envelope: {e}")))?;
        Ok((
            Encryptor {
                content,
                suffix: s.suffix,
                mac_len,
                expected: content_len,
                seen: 0,
            },
            s.prefix,
        ))
    }

    /// Encrypts the next piece of content, appending the output to `out`.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        self.seen += plaintext.len() as u64;
        if self.seen > self.expected {
            return Err(EncryptError::Invalid(format!(
                "more content than the {} bytes announced",
                self.expected
            )));
        }
        match &mut self.content {
            ContentEncryptor::Cbc(e) => e.update(plaintext, out)?,
            ContentEncryptor::Gcm(e) => e.update(plaintext, out)?,
        }
        Ok(())
    }

    /// Ends the content and appends the rest of the DER output (for GCM, with the tag).
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), EncryptError> {
        if self.seen != self.expected {
            return Err(EncryptError::Invalid(format!(
                "{} bytes of content where {} were announced",
                self.seen, self.expected
            )));
        }
        let mut suffix = self.suffix;
        match self.content {
            ContentEncryptor::Cbc(e) => e.finish(out)?,
            ContentEncryptor::Gcm(e) => {
                let tag = e.finish();
                // The mac is the last field of the last element: the final octets.
                let at = suffix.len().checked_sub(self.mac_len).ok_or_else(|| {
                    EncryptError::Invalid("envelope without room for the mac".into())
                })?;
                suffix[at..].copy_from_slice(&tag[..self.mac_len]);
            }
        }
        out.extend_from_slice(&suffix);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Decryption
// ---------------------------------------------------------------------------------------

/// What [`decrypt`] found.
#[derive(Debug, Clone)]
pub struct DecryptedStream {
    /// Which of the identities given the message was addressed to.
    pub identity: usize,
    /// The type of the content (`id-data` for S/MIME).
    pub content_type: ObjectIdentifier,
    /// The content-encryption algorithm.
    pub cipher: ContentAlgorithm,
    /// How the content key reached the recipient.
    pub key_management: KeyManagement,
    /// A weak algorithm (3DES) was used: accepted for old mail, reported as a warning.
    pub weak: bool,
    /// Bytes of content written.
    pub len: u64,
}

/// The largest `RecipientInfos` (or `originatorInfo`) read: room for thousands of recipients.
const MAX_INFOS: usize = 16 << 20;
/// The largest `authAttrs` / `unauthAttrs` read.
const MAX_ATTRS: usize = 1 << 20;

fn stream_err(e: StreamError) -> DecryptError {
    match e {
        StreamError::Read(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            DecryptError::Malformed(e.to_string())
        }
        StreamError::Read(e) => DecryptError::Io(format!("cannot read the message: {e}")),
        StreamError::Malformed { offset, what } => {
            DecryptError::Malformed(format!("at byte {offset} of the CMS object: {what}"))
        }
    }
}

/// Decrypts the EnvelopedData or AuthEnvelopedData `ContentInfo` of `input` with the first
/// of `identities` it is addressed to, writing the content to `out` as it is decrypted.
///
/// Errors are those of [`crate::enveloped::decrypt`]; on any error, what `out` holds must be
/// discarded.
pub fn decrypt(
    input: &CmsInput<'_>,
    identities: &[(&ParsedCertificate, &PrivateKey)],
    out: &mut dyn ContentSink,
) -> Result<DecryptedStream, DecryptError> {
    match pass(input, identities, None, out)? {
        Pass::Done(d) => Ok(d),
        Pass::Again(aad) => {
            out.restart()
                .map_err(|e| DecryptError::Io(format!("cannot write the content: {e}")))?;
            match pass(input, identities, Some(&aad), out)? {
                Pass::Done(d) => Ok(d),
                Pass::Again(_) => Err(DecryptError::Malformed(
                    "the authenticated attributes changed between two readings".into(),
                )),
            }
        }
    }
}

enum Pass {
    Done(DecryptedStream),
    /// GCM content was decrypted without the `authAttrs` found after it: again, with them.
    Again(Vec<u8>),
}

fn pass(
    input: &CmsInput<'_>,
    identities: &[(&ParsedCertificate, &PrivateKey)],
    aad: Option<&[u8]>,
    out: &mut dyn ContentSink,
) -> Result<Pass, DecryptError> {
    let malformed = |r: &BerStream<Box<dyn Read + '_>>, what: &str| stream_err(r.malformed(what));
    let mut r = input.ber();
    let mut skip = Vec::new();
    let ci = open_content_info(&mut r).map_err(stream_err)?;
    let content_type = ci.content_type;
    let authenticated = if content_type == oid::ID_ENVELOPED_DATA {
        false
    } else if content_type == oid::ID_CT_AUTH_ENVELOPED_DATA {
        true
    } else if content_type == oid::ID_SIGNED_DATA {
        return Err(DecryptError::NotEncrypted("SignedData".into()));
    } else if content_type == oid::ID_DATA {
        return Err(DecryptError::NotEncrypted("Data".into()));
    } else {
        return Err(DecryptError::Unsupported(format!(
            "content type {content_type}"
        )));
    };
    let fs = ci.content();
    // The hollow envelope: everything before encryptedContent, indefinite lengths so that
    // nothing needs measuring.
    let mut hollow = ci.hollow_start();
    hollow.extend_from_slice(&r.element(16).map_err(stream_err)?); // version
    let next = r.peek_header().map_err(stream_err)?;
    if next.identifier.is_context(0) {
        hollow.extend_from_slice(&r.element(MAX_INFOS).map_err(stream_err)?); // originatorInfo
    }
    let infos = r.element(MAX_INFOS).map_err(stream_err)?;
    hollow.extend_from_slice(&infos);
    let he = r.header(&mut skip).map_err(stream_err)?;
    if !he.identifier.is_sequence() {
        return Err(malformed(&r, "encryptedContentInfo is a SEQUENCE"));
    }
    let fe = Frame::of(&r, &he);
    hollow.extend_from_slice(&[0x30, 0x80]);
    hollow.extend_from_slice(&r.element(64).map_err(stream_err)?); // contentType
    hollow.extend_from_slice(&r.element(4096).map_err(stream_err)?); // algorithm
    hollow.extend_from_slice(&[0x00, 0x00]);
    if authenticated {
        // A placeholder mac: the real one comes after the content.
        hollow.extend_from_slice(&[0x04, 0x10]);
        hollow.extend_from_slice(&[0u8; 16]);
    }
    hollow.extend_from_slice(&HOLLOW_END);

    let decoded = cms::decode_content_info(&hollow, &BerLimits::new(hollow.len()))?;
    let (infos, eci) = match &decoded.content {
        CmsContent::EnvelopedData(ed) => (&ed.recip_infos, &ed.encrypted_content),
        CmsContent::AuthEnvelopedData {
            auth_enveloped_data,
            ..
        } => (
            &auth_enveloped_data.recip_infos,
            &auth_enveloped_data.auth_encrypted_content_info,
        ),
        _ => return Err(DecryptError::Malformed("not an envelope".into())),
    };
    let mut opened = None;
    for (i, (cert, key)) in identities.iter().enumerate() {
        match open_envelope(infos, eci, authenticated, cert, key) {
            Ok(o) => {
                opened = Some((i, o));
                break;
            }
            Err(DecryptError::NoRecipient) => continue,
            Err(e) => return Err(e),
        }
    }
    let (identity, opened) = opened.ok_or(DecryptError::NoRecipient)?;

    if !fe.more(&mut r).map_err(stream_err)? {
        return Err(DecryptError::Malformed(
            "the encrypted content is absent (detached content is not read)".into(),
        ));
    }
    let hc = r.header(&mut skip).map_err(stream_err)?;
    if !hc.identifier.is_context(0) {
        return Err(malformed(
            &r,
            "encryptedContent is [0] IMPLICIT OCTET STRING",
        ));
    }
    let mut decryptor = ContentDecryptor::new(&opened, aad.unwrap_or_default())?;
    // Sized to the pieces that arrive, not to the largest possible one: the buffer is
    // zeroized when dropped, and wiping a 1 MiB buffer for a 10 KiB message cost more than
    // everything else the decryption does besides the private-key operation. It is replaced
    // (never grown in place, which would leave an unwiped copy behind) when a piece is larger.
    let mut plain: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    let mut len = 0u64;
    let mut failure: Option<DecryptError> = None;
    r.octets(hc, &mut |c| {
        // The decryptor appends at most two blocks of slack per piece it works on.
        let need = c.len() + 32 * (c.len() / 4096 + 2);
        if plain.capacity() < need {
            plain = Zeroizing::new(Vec::with_capacity(need.max(4096)));
        }
        decryptor.update(c, &mut plain).map_err(|e| {
            failure = Some(e);
            StreamError::Read(std::io::Error::other("decryption failed"))
        })?;
        out.write(&plain)?;
        len += plain.len() as u64;
        plain.clear();
        Ok(())
    })
    .map_err(|e| failure.take().unwrap_or_else(|| stream_err(e)))?;
    fe.close(&mut r).map_err(stream_err)?;

    let mut received_aad = None;
    let mut mac = None;
    if authenticated {
        let next = r.peek_header().map_err(stream_err)?;
        if next.identifier.is_context(1) {
            let raw = r.element(MAX_ATTRS).map_err(stream_err)?;
            // RFC 5083 §2.2: the AAD is the DER of authAttrs with the SET OF tag.
            let mut der = normalize(&raw, &BerLimits::new(raw.len()))
                .map_err(|e| DecryptError::Malformed(format!("authAttrs: {e}")))?;
            der[0] = 0x31;
            received_aad = Some(der);
        }
        let raw = r.element(64).map_err(stream_err)?;
        let tag = der::asn1::OctetString::from_der(&raw)
            .map_err(|e| DecryptError::Malformed(format!("mac: {e}")))?;
        mac = Some(tag.as_bytes().to_vec());
        if fs.more(&mut r).map_err(stream_err)? {
            let raw = r.element(MAX_ATTRS).map_err(stream_err)?; // unauthAttrs
            if raw.first().is_none_or(|&b| b & 0x1f != 2) {
                return Err(DecryptError::Malformed(
                    "unexpected element after the mac".into(),
                ));
            }
        }
    } else {
        while fs.more(&mut r).map_err(stream_err)? {
            // unprotectedAttrs [1]: not used by S/MIME, read past.
            r.element(MAX_ATTRS).map_err(stream_err)?;
        }
    }
    ci.close(&mut r).map_err(stream_err)?;
    if authenticated {
        if received_aad.as_deref() != aad
            && let Some(a) = received_aad
        {
            return Ok(Pass::Again(a));
        }
        // RFC 5083 §2.1: a content type other than id-data must be protected by authAttrs.
        if received_aad.is_none() && opened.content_type != oid::ID_DATA {
            return Err(DecryptError::Malformed(format!(
                "AuthEnvelopedData of content type {} without authenticated attributes (RFC 5083 §2.1)",
                opened.content_type
            )));
        }
    }
    check_mac_len(&opened, mac.as_deref())?;
    decryptor.finish(mac.as_deref(), &mut plain)?;
    out.write(&plain)
        .map_err(|e| DecryptError::Io(format!("cannot write the content: {e}")))?;
    len += plain.len() as u64;
    Ok(Pass::Done(DecryptedStream {
        identity,
        content_type: opened.content_type,
        cipher: opened.params.alg,
        key_management: opened.key_management,
        weak: opened.params.alg.is_weak(),
        len,
    }))
}
