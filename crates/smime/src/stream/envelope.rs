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
use super::ber::{BerStream, Frame, HOLLOW_END, OpenContentInfo, StreamError, open_content_info};
use super::reader::{Base64Reader, RangeReader};
use super::splice::splice;
use crate::ber::{BerLimits, normalize};
use crate::cms::{self, CmsContent, CmsVersion, EncryptedContentInfo, RecipientInfos, oid};
use crate::enveloped::{
    ContentAlgorithm, ContentCipher, ContentDecryptor, DecryptError, EncryptError, KeyManagement,
    RsaPadding, check_mac_len, envelope_der, make_recipient_infos, open_envelope,
};
use crate::source::Source;
use cachet_crypto::{PrivateKey, content};
use cachet_pki::ParsedCertificate;
use const_oid::ObjectIdentifier;
use der::Decode;
use spki::AlgorithmIdentifierOwned;
use std::io::Read;
use std::ops::Range;
use zeroize::Zeroizing;

/// The largest piece of content decrypted at a time.
const PLAIN_PIECE: usize = 8 * 1024;

/// What a decryptor may write beyond the piece it is given: the blocks it held back (CBC
/// keeps the last block until it knows whether it is the padding), and the room it asks for.
const PLAIN_SLACK: usize = 64;

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
        match self.decoded_whole() {
            Some(decoded) => Box::new(std::io::Cursor::new(decoded)),
            None => self.streaming_reader(),
        }
    }

    /// Base64 text of a message held in memory, decoded in one go where it lies: no copy of
    /// the text into a reading buffer first. `None` for anything else, and for text that
    /// does not decode: that is left to the streaming reader, which reports the error where
    /// it meets it.
    fn decoded_whole(&self) -> Option<Vec<u8>> {
        if !self.base64 || self.range.end - self.range.start > WHOLE_DECODE_MAX {
            return None;
        }
        let text = self.src.borrow(self.range.clone())?;
        crate::mime::encode::base64_decode(text).ok()
    }

    fn streaming_reader(&self) -> Box<dyn Read + 'a> {
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

    /// A BER stream over the decoded bytes. Bytes decoded whole become the stream's
    /// read-ahead buffer as they are, not copied into another.
    pub fn ber(&self) -> BerStream<Box<dyn Read + 'a>> {
        match self.decoded_whole() {
            Some(decoded) => BerStream::starting_with(decoded, Box::new(std::io::empty())),
            None => BerStream::with_size_hint(
                self.streaming_reader(),
                self.len_hint().saturating_add(16),
            ),
        }
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

/// The elements of an envelope before its content, as received (BER or DER).
struct Received<'a> {
    version: &'a [u8],
    originator: Option<&'a [u8]>,
    infos: &'a [u8],
    content_type: &'a [u8],
    algorithm: &'a [u8],
}

impl Received<'_> {
    /// The recipient infos and the content's type and algorithm, decoded where they lie
    /// when each is DER — what Cachet, OpenSSL, NSS and Bouncy Castle write, and what the
    /// hollow envelope would normalise to the same bytes. `None` for anything else (BER,
    /// an originatorInfo, bad input): [`Self::decode_hollow`] then decides and explains.
    /// Measured on a 10 KiB RSA-2048 message: the hollow envelope's normalisation and
    /// decoding cost 2.4% of a decryption.
    fn decode_der(&self) -> Option<(RecipientInfos, EncryptedContentInfo)> {
        if self.originator.is_some() {
            return None;
        }
        CmsVersion::from_der(self.version).ok()?;
        Some((
            RecipientInfos::from_der(self.infos).ok()?,
            EncryptedContentInfo {
                content_type: ObjectIdentifier::from_der(self.content_type).ok()?,
                content_enc_alg: AlgorithmIdentifierOwned::from_der(self.algorithm).ok()?,
                encrypted_content: None,
            },
        ))
    }

    /// The same from the *hollow* envelope: the elements wrapped as a whole envelope
    /// without its content, indefinite lengths so that nothing needs measuring, normalised
    /// from BER and decoded by the in-memory decoder.
    fn decode_hollow(
        &self,
        ci: &OpenContentInfo,
        authenticated: bool,
    ) -> Result<(RecipientInfos, EncryptedContentInfo), DecryptError> {
        let mut hollow = ci.hollow_start();
        hollow.extend_from_slice(self.version);
        if let Some(o) = self.originator {
            hollow.extend_from_slice(o);
        }
        hollow.extend_from_slice(self.infos);
        hollow.extend_from_slice(&[0x30, 0x80]);
        hollow.extend_from_slice(self.content_type);
        hollow.extend_from_slice(self.algorithm);
        hollow.extend_from_slice(&[0x00, 0x00]);
        if authenticated {
            // A placeholder mac: the real one comes after the content.
            hollow.extend_from_slice(&[0x04, 0x10]);
            hollow.extend_from_slice(&[0u8; 16]);
        }
        hollow.extend_from_slice(&HOLLOW_END);
        match cms::decode_content_info(&hollow, &BerLimits::new(hollow.len()))?.content {
            CmsContent::EnvelopedData(ed) => Ok((ed.recip_infos, ed.encrypted_content)),
            CmsContent::AuthEnvelopedData {
                auth_enveloped_data,
                ..
            } => Ok((
                auth_enveloped_data.recip_infos,
                auth_enveloped_data.auth_encrypted_content_info,
            )),
            _ => Err(DecryptError::Malformed("not an envelope".into())),
        }
    }
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
    let version = r.element(16).map_err(stream_err)?;
    let next = r.peek_header().map_err(stream_err)?;
    let originator = if next.identifier.is_context(0) {
        Some(r.element(MAX_INFOS).map_err(stream_err)?)
    } else {
        None
    };
    let infos = r.element(MAX_INFOS).map_err(stream_err)?;
    let he = r.header(&mut skip).map_err(stream_err)?;
    if !he.identifier.is_sequence() {
        return Err(malformed(&r, "encryptedContentInfo is a SEQUENCE"));
    }
    let fe = Frame::of(&r, &he);
    let received = Received {
        version: &version,
        originator: originator.as_deref(),
        infos: &infos,
        content_type: &r.element(64).map_err(stream_err)?,
        algorithm: &r.element(4096).map_err(stream_err)?,
    };
    let (infos, eci) = match received.decode_der() {
        Some(parts) => parts,
        None => received.decode_hollow(&ci, authenticated)?,
    };
    let mut opened = None;
    for (i, (cert, key)) in identities.iter().enumerate() {
        match open_envelope(&infos, &eci, authenticated, cert, key) {
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
    // The content is decrypted in pieces of at most PLAIN_PIECE through one small buffer,
    // wiped when dropped: it stays in the CPU's nearest cache, however large the pieces that
    // arrive (a whole 10 KiB message's content arrives as one).
    let mut plain: Zeroizing<Vec<u8>> =
        Zeroizing::new(Vec::with_capacity(PLAIN_PIECE + PLAIN_SLACK));
    let mut len = 0u64;
    let mut failure: Option<DecryptError> = None;
    r.octets(hc, &mut |c| {
        for piece in c.chunks(PLAIN_PIECE) {
            decryptor.update(piece, &mut plain).map_err(|e| {
                failure = Some(e);
                StreamError::Read(std::io::Error::other("decryption failed"))
            })?;
            out.write(&plain)?;
            len += plain.len() as u64;
            plain.clear();
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use cachet_crypto::KeyType;
    use cachet_pki::ephemeral::EphemeralPki;
    use cachet_pki::profile::Profile;
    use der::Encode;

    /// The same element with an indefinite length: its definite header replaced by `tag 80`
    /// and end-of-contents octets appended (valid BER, not DER).
    fn indefinite(der: &[u8]) -> Vec<u8> {
        let header = if der[1] < 0x80 {
            2
        } else {
            2 + usize::from(der[1] & 0x7f)
        };
        let mut ber = vec![der[0] | 0x20, 0x80];
        ber.extend_from_slice(&der[header..]);
        ber.extend_from_slice(&[0, 0]);
        ber
    }

    #[test]
    fn der_elements_decode_in_place_like_the_hollow_envelope() {
        let pki = EphemeralPki::new(KeyType::EcdsaP256, 1_800_000_000).unwrap();
        let recipients = [
            pki.subscriber("rsa@example.com", Profile::Encryption, KeyType::Rsa2048, 30)
                .unwrap()
                .0,
            pki.subscriber(
                "ec@example.com",
                Profile::Encryption,
                KeyType::EcdsaP256,
                30,
            )
            .unwrap()
            .0,
        ];
        for (cipher, authenticated) in [
            (ContentCipher::Aes256Cbc, false),
            (ContentCipher::Aes128Gcm, true),
        ] {
            let (_, infos) =
                make_recipient_infos(&recipients, cipher, RsaPadding::Pkcs1v15, 16).unwrap();
            let infos = RecipientInfos::try_from(infos).unwrap().to_der().unwrap();
            let version = if authenticated {
                CmsVersion::V0
            } else {
                CmsVersion::V2
            }
            .to_der()
            .unwrap();
            let content_type = oid::ID_DATA.to_der().unwrap();
            let algorithm = AlgorithmIdentifierOwned {
                oid: oid::ID_AES256_CBC,
                parameters: Some(der::Any::new(der::Tag::OctetString, [7u8; 16]).unwrap()),
            }
            .to_der()
            .unwrap();
            let received = Received {
                version: &version,
                originator: None,
                infos: &infos,
                content_type: &content_type,
                algorithm: &algorithm,
            };
            // The ContentInfo the elements come from, opened as `pass` opens it.
            let mut start = vec![0x30, 0x80];
            start.extend_from_slice(
                &if authenticated {
                    oid::ID_CT_AUTH_ENVELOPED_DATA
                } else {
                    oid::ID_ENVELOPED_DATA
                }
                .to_der()
                .unwrap(),
            );
            start.extend_from_slice(&[0xa0, 0x80, 0x30, 0x80]);
            let ci = open_content_info(&mut BerStream::new(&start[..])).unwrap();
            let direct = received.decode_der().expect("DER decodes in place");
            let hollow = received.decode_hollow(&ci, authenticated).unwrap();
            assert_eq!(direct, hollow);
            assert_eq!(direct.0.0.len(), 2);

            // BER (an indefinite SET of recipient infos) is left to the hollow envelope,
            // which gives the same; so is bad input (a truncated SET), which it explains.
            let ber_infos = indefinite(&infos);
            let cut = &infos[..infos.len() - 1];
            for (infos, decodes) in [(&ber_infos[..], true), (cut, false)] {
                let other = Received { infos, ..received };
                assert!(other.decode_der().is_none());
                match other.decode_hollow(&ci, authenticated) {
                    Ok(parts) => assert!(decodes && parts == direct),
                    Err(e) => assert!(!decodes, "{e}"),
                }
            }
        }
    }
}
