//! Content encryption for CMS: AES-CBC with PKCS#7 padding for `EnvelopedData`
//! (RFC 3565 §2.3.1, padding per RFC 5652 §6.3) and AES-GCM for `AuthEnvelopedData`
//! (RFC 5083, RFC 5084 §3.2), one-shot and streaming; and, to read old mail only,
//! DES-EDE3-CBC decryption (RFC 3370 §5.1).
//!
//! # Streaming GCM
//!
//! aws-lc-rs's AEAD interface is one-shot and knows only 16-byte tags, while Cachet streams
//! messages of a gigabyte in bounded memory and must read the 12-byte tags RFC 5084 §3.2
//! defaults to. [`GcmEncryptor`] and [`GcmDecryptor`] therefore build GCM from its parts,
//! per NIST SP 800-38D §7: AES-CTR from aws-lc-rs (`inc32` counter blocks from
//! `J0 + 1`), GHASH from the RustCrypto `ghash` crate (constant time, CLMUL), and the tag
//! `MSB_t(GHASH_H(A ‖ C ‖ lengths) ⊕ E_K(J0))`, compared in constant time.
//!
//! In `AuthEnvelopedData` the `authAttrs` (the additional authenticated data, RFC 5083
//! §2.2) follow the ciphertext, so the AAD may be given at any point before `finish`: its
//! GHASH contribution is computed on its own and multiplied by `H^(v+1)`, `v` being the
//! number of ciphertext blocks (GHASH is linear), instead of being hashed first.

use crate::Error;
#[allow(deprecated)]
use aws_lc_rs::cipher::DES_EDE3_FOR_LEGACY_USE_ONLY;
use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptionContext, EncryptingKey, EncryptionContext,
    StreamingDecryptingKey, StreamingEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::{aead, error::Unspecified};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// AES block length, and the length of an AES-CBC IV.
pub const AES_BLOCK_LEN: usize = 16;
/// DES-EDE3 key length.
pub const DES_EDE3_KEY_LEN: usize = 24;
/// DES block length, and the length of a DES-EDE3-CBC IV.
pub const DES_BLOCK_LEN: usize = 8;
/// The GCM nonce length Cachet writes (RFC 5084 §3.2 recommends 12 octets).
pub const GCM_NONCE_LEN: usize = 12;
/// The GCM tag length Cachet writes (RFC 5084 §3.2 `aes-ICVlen`; 16 is what OpenSSL and
/// Bouncy Castle read).
pub const GCM_TAG_LEN: usize = 16;
/// The shortest GCM tag Cachet reads (RFC 5084 §3.2: `aes-ICVlen` is 12 to 16).
pub const GCM_MIN_TAG_LEN: usize = 12;
/// The longest GCM plaintext, `2^39 − 256` bits (NIST SP 800-38D §5.2.1.1).
pub const GCM_MAX_PLAINTEXT_LEN: u64 = (1 << 36) - 32;

/// How much a streaming update hands to aws-lc and GHASH at a time, so that the ciphertext
/// is still in cache when GHASH reads it.
const CHUNK: usize = 16 * 1024;

fn aes_alg(key: &[u8]) -> Result<&'static Algorithm, Error> {
    match key.len() {
        16 => Ok(&AES_128),
        24 => Ok(&AES_192),
        32 => Ok(&AES_256),
        _ => Err(Error::InvalidParameter(
            "AES key must be 16, 24 or 32 bytes",
        )),
    }
}

fn unbound(alg: &'static Algorithm, key: &[u8]) -> Result<UnboundCipherKey, Error> {
    UnboundCipherKey::new(alg, key).map_err(|_| Error::InvalidParameter("cipher key"))
}

/// Appends what `f` writes into `out`: `f` gets `room` spare bytes at the end of `out` and
/// returns how many it wrote.
fn append_with(
    out: &mut Vec<u8>,
    room: usize,
    f: impl FnOnce(&mut [u8]) -> Result<usize, Unspecified>,
    err: Error,
) -> Result<(), Error> {
    let start = out.len();
    out.resize(start + room, 0);
    match f(&mut out[start..]) {
        Ok(n) if n <= room => {
            out.truncate(start + n);
            Ok(())
        }
        _ => {
            out.truncate(start);
            Err(err)
        }
    }
}

// ---------------------------------------------------------------------------------------
// CBC
// ---------------------------------------------------------------------------------------

/// Streaming AES-CBC encryption with PKCS#7 padding (RFC 3565 §2.3.1, RFC 5652 §6.3).
pub struct CbcEncryptor {
    key: StreamingEncryptingKey,
}

impl std::fmt::Debug for CbcEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CbcEncryptor").finish_non_exhaustive()
    }
}

impl CbcEncryptor {
    /// AES-128/192/256-CBC (by key length) under `iv`, which must be unpredictable and
    /// fresh (RFC 3565 §4.2; take it from [`crate::rand`]).
    pub fn aes(key: &[u8], iv: &[u8; AES_BLOCK_LEN]) -> Result<Self, Error> {
        let key = StreamingEncryptingKey::less_safe_cbc_pkcs7(
            unbound(aes_alg(key)?, key)?,
            EncryptionContext::Iv128((*iv).into()),
        )
        .map_err(|_| Error::InvalidParameter("AES-CBC key"))?;
        Ok(CbcEncryptor { key })
    }

    /// Encrypts the next piece of plaintext, appending whole blocks of ciphertext to `out`.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        for chunk in plaintext.chunks(CHUNK) {
            append_with(
                out,
                chunk.len() + AES_BLOCK_LEN,
                |buf| self.key.update(chunk, buf).map(|u| u.written().len()),
                Error::Encryption("AES-CBC"),
            )?;
        }
        Ok(())
    }

    /// Pads and encrypts the rest, appending the last block(s) to `out`.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), Error> {
        append_with(
            out,
            AES_BLOCK_LEN,
            |buf| self.key.finish(buf).map(|(_, u)| u.written().len()),
            Error::Encryption("AES-CBC"),
        )
    }
}

/// Streaming CBC decryption with PKCS#7 padding, AES or (legacy, read only) DES-EDE3.
///
/// CBC has no integrity: what `update` returns is whatever the key makes of the bytes.
/// A wrong key or altered data usually shows as a padding error at [`finish`](Self::finish),
/// but not always.
pub struct CbcDecryptor {
    key: StreamingDecryptingKey,
    block_len: usize,
}

impl std::fmt::Debug for CbcDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CbcDecryptor")
            .field("block_len", &self.block_len)
            .finish_non_exhaustive()
    }
}

impl CbcDecryptor {
    /// AES-128/192/256-CBC (by key length) with the IV from the `AlgorithmIdentifier`
    /// parameters (RFC 3565 §4.1).
    pub fn aes(key: &[u8], iv: &[u8; AES_BLOCK_LEN]) -> Result<Self, Error> {
        let key = StreamingDecryptingKey::cbc_pkcs7(
            unbound(aes_alg(key)?, key)?,
            DecryptionContext::Iv128((*iv).into()),
        )
        .map_err(|_| Error::InvalidParameter("AES-CBC key"))?;
        Ok(CbcDecryptor {
            key,
            block_len: AES_BLOCK_LEN,
        })
    }

    /// DES-EDE3-CBC (`des-ede3-cbc`, RFC 3370 §5.1), to read old mail only: Cachet never
    /// encrypts with it (RFC 8551 §2.7). The 24-byte key's parity bits are ignored; keys
    /// whose thirds are weak DES keys or equal are refused.
    pub fn des_ede3(key: &[u8], iv: &[u8; DES_BLOCK_LEN]) -> Result<Self, Error> {
        if key.len() != DES_EDE3_KEY_LEN {
            return Err(Error::InvalidParameter("DES-EDE3 key must be 24 bytes"));
        }
        #[allow(deprecated)]
        let alg = &DES_EDE3_FOR_LEGACY_USE_ONLY;
        let key = StreamingDecryptingKey::cbc_pkcs7(
            unbound(alg, key)?,
            DecryptionContext::Iv64((*iv).into()),
        )
        .map_err(|_| Error::InvalidParameter("DES-EDE3 key (weak or degenerate)"))?;
        Ok(CbcDecryptor {
            key,
            block_len: DES_BLOCK_LEN,
        })
    }

    /// Decrypts the next piece of ciphertext, appending plaintext to `out`. The last block
    /// is held back until [`finish`](Self::finish), which removes the padding.
    pub fn update(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        for chunk in ciphertext.chunks(CHUNK) {
            append_with(
                out,
                chunk.len() + 2 * self.block_len,
                |buf| self.key.update(chunk, buf).map(|u| u.written().len()),
                Error::Decryption,
            )?;
        }
        Ok(())
    }

    /// Decrypts the held-back block and removes the PKCS#7 padding. A ciphertext that is
    /// not a whole number of blocks, or bad padding, gives [`Error::Decryption`].
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), Error> {
        let block_len = self.block_len;
        append_with(
            out,
            block_len,
            |buf| self.key.finish(buf).map(|u| u.written().len()),
            Error::Decryption,
        )
    }
}

/// One-shot AES-CBC encryption with PKCS#7 padding (RFC 3565 §2.3.1).
pub fn aes_cbc_encrypt(
    key: &[u8],
    iv: &[u8; AES_BLOCK_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut e = CbcEncryptor::aes(key, iv)?;
    let mut out = Vec::with_capacity(plaintext.len() + AES_BLOCK_LEN);
    e.update(plaintext, &mut out)?;
    e.finish(&mut out)?;
    Ok(out)
}

/// One-shot AES-CBC decryption removing PKCS#7 padding; see [`CbcDecryptor`].
pub fn aes_cbc_decrypt(
    key: &[u8],
    iv: &[u8; AES_BLOCK_LEN],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut d = CbcDecryptor::aes(key, iv)?;
    // Room for every update up front: no reallocation may leave a plaintext copy behind.
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len() + 2 * AES_BLOCK_LEN));
    d.update(ciphertext, &mut out)?;
    d.finish(&mut out)?;
    Ok(out)
}

/// One-shot DES-EDE3-CBC decryption (legacy, read only); see [`CbcDecryptor::des_ede3`].
pub fn des_ede3_cbc_decrypt(
    key: &[u8],
    iv: &[u8; DES_BLOCK_LEN],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut d = CbcDecryptor::des_ede3(key, iv)?;
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len() + 2 * DES_BLOCK_LEN));
    d.update(ciphertext, &mut out)?;
    d.finish(&mut out)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// GCM
// ---------------------------------------------------------------------------------------

type Block = [u8; 16];

/// `a · b` in GF(2^128) with GCM's bit order: one GHASH step keyed with `b`.
fn gf_mul(a: &Block, b: &Block) -> Zeroizing<Block> {
    let mut g = GHash::new(&ghash::Key::from(*b));
    g.update_padded(a);
    Zeroizing::new(g.finalize().into())
}

/// `h^e` for `e ≥ 1` (square and multiply; `e` is a public length).
fn gf_pow(h: &Block, e: u64) -> Zeroizing<Block> {
    debug_assert!(e >= 1);
    let mut result: Option<Zeroizing<Block>> = None;
    let mut base = Zeroizing::new(*h);
    let mut e = e;
    while e > 0 {
        if e & 1 == 1 {
            result = Some(match result {
                None => base.clone(),
                Some(r) => gf_mul(&r, &base),
            });
        }
        e >>= 1;
        if e > 0 {
            base = gf_mul(&base, &base);
        }
    }
    result.unwrap_or(base)
}

/// GHASH over a byte stream, zero-padding only at the end (SP 800-38D §6.4).
struct GhashStream {
    g: GHash,
    buf: Zeroizing<Block>,
    buf_len: usize,
}

impl GhashStream {
    fn new(h: &Block) -> Self {
        GhashStream {
            g: GHash::new(&ghash::Key::from(*h)),
            buf: Zeroizing::new([0u8; 16]),
            buf_len: 0,
        }
    }

    fn absorb(&mut self, mut data: &[u8]) {
        if self.buf_len > 0 {
            let take = (16 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 16 {
                return;
            }
            self.g.update_padded(&self.buf[..]);
            self.buf_len = 0;
        }
        let whole = data.len() - data.len() % 16;
        self.g.update_padded(&data[..whole]);
        let rest = &data[whole..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    /// Pads the pending partial block, absorbs `last`, and returns the GHASH value.
    fn finish(mut self, last: Option<&Block>) -> Zeroizing<Block> {
        if self.buf_len > 0 {
            self.g.update_padded(&self.buf[..self.buf_len]);
        }
        if let Some(l) = last {
            self.g.update_padded(l);
        }
        Zeroizing::new(self.g.finalize().into())
    }
}

/// AES-CTR with GCM's `inc32` counter (SP 800-38D §6.2): aws-lc-rs's CTR increments all
/// 128 bits, so when the low 32 bits would wrap the stream is restarted with them at zero.
/// With a 96-bit nonce that cannot happen within the GCM length limit.
struct CtrStream {
    alg: &'static Algorithm,
    key: Zeroizing<Vec<u8>>,
    upper: [u8; 12],
    stream: StreamingEncryptingKey,
    /// Bytes the stream can produce before the low 32 counter bits wrap.
    left_before_wrap: u64,
}

impl CtrStream {
    fn new(alg: &'static Algorithm, key: &[u8], first: &Block) -> Result<Self, Error> {
        let mut upper = [0u8; 12];
        upper.copy_from_slice(&first[..12]);
        let low = u32::from_be_bytes([first[12], first[13], first[14], first[15]]);
        Ok(CtrStream {
            alg,
            key: Zeroizing::new(key.to_vec()),
            upper,
            stream: Self::start(alg, key, first)?,
            left_before_wrap: ((1u64 << 32) - u64::from(low)) * 16,
        })
    }

    fn start(
        alg: &'static Algorithm,
        key: &[u8],
        counter: &Block,
    ) -> Result<StreamingEncryptingKey, Error> {
        StreamingEncryptingKey::less_safe_ctr(
            unbound(alg, key)?,
            EncryptionContext::Iv128((*counter).into()),
        )
        .map_err(|_| Error::InvalidParameter("AES-CTR key"))
    }

    /// XORs the key stream onto `input` into `out`, which has room for `input.len() + 16`.
    /// Returns the bytes written (`input.len()`).
    fn apply(&mut self, mut input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let mut pos = 0;
        while !input.is_empty() {
            let n = (input.len() as u64).min(self.left_before_wrap) as usize;
            let (now, later) = input.split_at(n);
            let written = self
                .stream
                .update(now, &mut out[pos..])
                .map_err(|_| Error::Encryption("AES-CTR"))?
                .written()
                .len();
            if written != n {
                return Err(Error::Encryption("AES-CTR"));
            }
            pos += n;
            input = later;
            self.left_before_wrap -= n as u64;
            if self.left_before_wrap == 0 {
                let mut counter = [0u8; 16];
                counter[..12].copy_from_slice(&self.upper);
                self.stream = Self::start(self.alg, &self.key, &counter)?;
                self.left_before_wrap = 1 << 36;
            }
        }
        Ok(pos)
    }
}

/// The parts both directions share.
struct GcmCore {
    ctr: CtrStream,
    ghash: GhashStream,
    h: Zeroizing<Block>,
    /// `E_K(J0)`, the tag mask.
    ek_j0: Zeroizing<Block>,
    /// GHASH of the AAD alone, when AAD was given.
    aad_hash: Option<Zeroizing<Block>>,
    aad_len: u64,
    text_len: u64,
}

impl GcmCore {
    fn new(key: &[u8], nonce: &[u8]) -> Result<Self, Error> {
        let alg = aes_alg(key)?;
        if nonce.is_empty() {
            return Err(Error::InvalidParameter("GCM nonce must not be empty"));
        }
        let ecb = EncryptingKey::ecb(unbound(alg, key)?)
            .map_err(|_| Error::InvalidParameter("AES key"))?;
        let block = |b: &mut Block| {
            ecb.less_safe_encrypt(b, EncryptionContext::None)
                .map(|_| ())
                .map_err(|_| Error::InvalidParameter("AES key"))
        };
        // H = E_K(0^128) (SP 800-38D §7.1 step 1).
        let mut h = Zeroizing::new([0u8; 16]);
        block(&mut h)?;
        // J0 (step 2): nonce ‖ 0^31 ‖ 1 for 96-bit nonces, else GHASH_H(nonce ‖ 0 ‖ [len]64).
        let mut j0 = [0u8; 16];
        if nonce.len() == 12 {
            j0[..12].copy_from_slice(nonce);
            j0[15] = 1;
        } else {
            let mut lens = [0u8; 16];
            lens[8..].copy_from_slice(&((nonce.len() as u64) * 8).to_be_bytes());
            let mut g = GhashStream::new(&h);
            g.absorb(nonce);
            j0 = *g.finish(Some(&lens));
        }
        let mut ek_j0 = Zeroizing::new(j0);
        block(&mut ek_j0)?;
        // The first counter block is inc32(J0) (step 3).
        let mut first = j0;
        let low = u32::from_be_bytes([j0[12], j0[13], j0[14], j0[15]]).wrapping_add(1);
        first[12..].copy_from_slice(&low.to_be_bytes());
        Ok(GcmCore {
            ctr: CtrStream::new(alg, key, &first)?,
            ghash: GhashStream::new(&h),
            h,
            ek_j0,
            aad_hash: None,
            aad_len: 0,
            text_len: 0,
        })
    }

    fn set_aad(&mut self, aad: &[u8]) -> Result<(), Error> {
        if self.aad_hash.is_some() {
            return Err(Error::InvalidParameter("GCM additional data given twice"));
        }
        let mut g = GhashStream::new(&self.h);
        g.absorb(aad);
        self.aad_hash = Some(g.finish(None));
        self.aad_len = aad.len() as u64;
        Ok(())
    }

    fn count(&mut self, n: usize) -> Result<(), Error> {
        let total = self.text_len.saturating_add(n as u64);
        if total > GCM_MAX_PLAINTEXT_LEN {
            return Err(Error::InvalidParameter(
                "GCM message longer than 2^36 - 32 bytes",
            ));
        }
        self.text_len = total;
        Ok(())
    }

    /// The full 16-byte tag (SP 800-38D §7.1 steps 5–6).
    fn tag(self) -> Zeroizing<Block> {
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(self.text_len * 8).to_be_bytes());
        let mut s = self.ghash.finish(Some(&lens));
        if let Some(a) = &self.aad_hash {
            // GHASH(A ‖ C ‖ L) = GHASH(A)·H^(v+1) ⊕ GHASH(C ‖ L), v = blocks of C.
            let v = self.text_len.div_ceil(16);
            let shifted = gf_mul(a, &gf_pow(&self.h, v + 1));
            for (x, y) in s.iter_mut().zip(shifted.iter()) {
                *x ^= y;
            }
        }
        for (x, y) in s.iter_mut().zip(self.ek_j0.iter()) {
            *x ^= y;
        }
        s
    }
}

/// Streaming AES-GCM encryption (NIST SP 800-38D §7.1) for `AuthEnvelopedData`
/// (RFC 5083, RFC 5084). Writes 16-byte tags.
///
/// The nonce must never repeat under one key; CMS uses a fresh content key per message and
/// a 12-byte random nonce ([`GCM_NONCE_LEN`]).
pub struct GcmEncryptor {
    core: GcmCore,
}

impl std::fmt::Debug for GcmEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcmEncryptor").finish_non_exhaustive()
    }
}

impl GcmEncryptor {
    /// AES-128/192/256-GCM (by key length). `nonce` is the `GCMParameters.aes-nonce`;
    /// any length from 1 byte is accepted, 12 is what Cachet writes.
    pub fn new(key: &[u8], nonce: &[u8]) -> Result<Self, Error> {
        Ok(GcmEncryptor {
            core: GcmCore::new(key, nonce)?,
        })
    }

    /// Sets the additional authenticated data: the DER of `authAttrs` with its `SET OF`
    /// tag (RFC 5083 §2.2). At most once, at any point before [`finish`](Self::finish).
    pub fn set_aad(&mut self, aad: &[u8]) -> Result<(), Error> {
        self.core.set_aad(aad)
    }

    /// Encrypts the next piece of plaintext, appending as many bytes of ciphertext to `out`.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.core.count(plaintext.len())?;
        let start = out.len();
        out.resize(start + plaintext.len() + 16, 0);
        let mut pos = start;
        for chunk in plaintext.chunks(CHUNK) {
            let n = match self.core.ctr.apply(chunk, &mut out[pos..]) {
                Ok(n) => n,
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            };
            self.core.ghash.absorb(&out[pos..pos + n]);
            pos += n;
        }
        out.truncate(pos);
        Ok(())
    }

    /// Finishes and returns the 16-byte tag (the `mac` of `AuthEnvelopedData`).
    pub fn finish(self) -> [u8; GCM_TAG_LEN] {
        *self.core.tag()
    }
}

/// Streaming AES-GCM decryption (NIST SP 800-38D §7.2). Reads tags of 12 to 16 bytes.
///
/// Plaintext comes out of [`update_unverified`](Self::update_unverified) before the tag is
/// checked: it is **unauthenticated** until [`finish`](Self::finish) returns `Ok`, and
/// must be discarded (not shown, not stored as decrypted) if it does not.
pub struct GcmDecryptor {
    core: GcmCore,
    tag_len: usize,
}

impl std::fmt::Debug for GcmDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcmDecryptor")
            .field("tag_len", &self.tag_len)
            .finish_non_exhaustive()
    }
}

impl GcmDecryptor {
    /// AES-128/192/256-GCM (by key length) with the `GCMParameters` of the message:
    /// `nonce` (any length from 1 byte) and `tag_len` (`aes-ICVlen`, 12 to 16).
    pub fn new(key: &[u8], nonce: &[u8], tag_len: usize) -> Result<Self, Error> {
        if !(GCM_MIN_TAG_LEN..=GCM_TAG_LEN).contains(&tag_len) {
            return Err(Error::InvalidParameter(
                "GCM tag length must be 12 to 16 bytes",
            ));
        }
        Ok(GcmDecryptor {
            core: GcmCore::new(key, nonce)?,
            tag_len,
        })
    }

    /// Sets the additional authenticated data: the DER of `authAttrs` with its `SET OF`
    /// tag (RFC 5083 §2.2). At most once, at any point before [`finish`](Self::finish), so
    /// it can be given after the ciphertext, where `AuthEnvelopedData` puts it.
    pub fn set_aad(&mut self, aad: &[u8]) -> Result<(), Error> {
        self.core.set_aad(aad)
    }

    /// Decrypts the next piece of ciphertext, appending **unauthenticated** plaintext to
    /// `out`; see the type's documentation.
    pub fn update_unverified(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.core.count(ciphertext.len())?;
        let start = out.len();
        out.resize(start + ciphertext.len() + 16, 0);
        let mut pos = start;
        for chunk in ciphertext.chunks(CHUNK) {
            self.core.ghash.absorb(chunk);
            let n = match self.core.ctr.apply(chunk, &mut out[pos..]) {
                Ok(n) => n,
                Err(_) => {
                    out.truncate(start);
                    return Err(Error::Decryption);
                }
            };
            pos += n;
        }
        out.truncate(pos);
        Ok(())
    }

    /// Checks the tag (`mac`) in constant time. `Err(`[`Error::Decryption`]`)` means the key
    /// is wrong or the message, its AAD or its tag was altered: everything
    /// `update_unverified` produced must be thrown away.
    pub fn finish(self, tag: &[u8]) -> Result<(), Error> {
        let expected = self.core.tag();
        if tag.len() == self.tag_len && bool::from(expected[..self.tag_len].ct_eq(tag)) {
            Ok(())
        } else {
            Err(Error::Decryption)
        }
    }
}

fn aead_alg(key: &[u8]) -> Option<&'static aead::Algorithm> {
    match key.len() {
        16 => Some(&aead::AES_128_GCM),
        24 => Some(&aead::AES_192_GCM),
        32 => Some(&aead::AES_256_GCM),
        _ => None,
    }
}

/// One-shot AES-GCM encryption; returns the ciphertext and the 16-byte tag. With a 12-byte
/// nonce this is aws-lc-rs's AES-GCM; other nonce lengths go through [`GcmEncryptor`].
pub fn aes_gcm_encrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, [u8; GCM_TAG_LEN]), Error> {
    if let (Some(alg), Ok(n)) = (aead_alg(key), <[u8; 12]>::try_from(nonce)) {
        let k = aead::LessSafeKey::new(
            aead::UnboundKey::new(alg, key).map_err(|_| Error::InvalidParameter("AES key"))?,
        );
        let mut buf = plaintext.to_vec();
        let tag = k
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(n),
                aead::Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| Error::Encryption("AES-GCM"))?;
        let mut t = [0u8; GCM_TAG_LEN];
        t.copy_from_slice(tag.as_ref());
        return Ok((buf, t));
    }
    let mut e = GcmEncryptor::new(key, nonce)?;
    e.set_aad(aad)?;
    let mut out = Vec::with_capacity(plaintext.len());
    e.update(plaintext, &mut out)?;
    Ok((out, e.finish()))
}

/// One-shot AES-GCM decryption: checks the tag (12 to 16 bytes, its length taken from
/// `tag`) before returning any plaintext. With a 12-byte nonce and a 16-byte tag this is
/// aws-lc-rs's AES-GCM; everything else goes through [`GcmDecryptor`].
pub fn aes_gcm_decrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if let (Some(alg), Ok(n), GCM_TAG_LEN) = (aead_alg(key), <[u8; 12]>::try_from(nonce), tag.len())
    {
        let k = aead::LessSafeKey::new(
            aead::UnboundKey::new(alg, key).map_err(|_| Error::InvalidParameter("AES key"))?,
        );
        let mut buf = Zeroizing::new(Vec::with_capacity(ciphertext.len() + GCM_TAG_LEN));
        buf.extend_from_slice(ciphertext);
        buf.extend_from_slice(tag);
        let n = k
            .open_in_place(
                aead::Nonce::assume_unique_for_key(n),
                aead::Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| Error::Decryption)?
            .len();
        buf.truncate(n);
        return Ok(buf);
    }
    let mut d = GcmDecryptor::new(key, nonce, tag.len())?;
    d.set_aad(aad)?;
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len() + 16));
    d.update_unverified(ciphertext, &mut out)?;
    d.finish(tag)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// A small deterministic generator for sizes and chunk boundaries.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
        fn bytes_below(&mut self, n: usize) -> Vec<u8> {
            let len = self.below(n);
            self.bytes(len)
        }
    }

    /// Feeds `data` to `f` in random pieces (some empty).
    fn chunked(rng: &mut Rng, data: &[u8], mut f: impl FnMut(&[u8])) {
        let mut rest = data;
        while !rest.is_empty() {
            let n = rng.below(rest.len().min(700) + 1);
            let (a, b) = rest.split_at(n);
            f(a);
            rest = b;
        }
        f(&[]);
    }

    #[test]
    fn cbc_matches_sp800_38a_f21_and_pads() {
        // NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, then one block of PKCS#7 padding.
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let pt = h(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                    30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
        );
        let ct = aes_cbc_encrypt(&key, &iv, &pt).unwrap();
        assert_eq!(
            hex::encode(&ct[..64]),
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
             73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"
        );
        assert_eq!(ct.len(), 80);
        assert_eq!(&aes_cbc_decrypt(&key, &iv, &ct).unwrap()[..], &pt[..]);
    }

    #[test]
    fn cbc_streaming_matches_one_shot_and_aws_lc_padded_block() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for key_len in [16, 24, 32] {
            for _ in 0..40 {
                let key = rng.bytes(key_len);
                let iv: [u8; 16] = rng.bytes(16).try_into().unwrap();
                let pt = rng.bytes_below(3000);
                let mut ct = Vec::new();
                let mut e = CbcEncryptor::aes(&key, &iv).unwrap();
                chunked(&mut rng, &pt, |c| e.update(c, &mut ct).unwrap());
                e.finish(&mut ct).unwrap();
                assert_eq!(ct, aes_cbc_encrypt(&key, &iv, &pt).unwrap());
                if key_len != 24 {
                    assert_eq!(ct, crate::pbe::aes_cbc_encrypt(&key, &iv, &pt).unwrap());
                }
                let mut back = Vec::new();
                let mut d = CbcDecryptor::aes(&key, &iv).unwrap();
                chunked(&mut rng, &ct, |c| d.update(c, &mut back).unwrap());
                d.finish(&mut back).unwrap();
                assert_eq!(back, pt);
            }
        }
    }

    #[test]
    fn cbc_rejects_truncation_and_bad_padding() {
        let key = [4u8; 32];
        let iv = [5u8; 16];
        let ct = aes_cbc_encrypt(&key, &iv, b"sixteen byte msg").unwrap();
        assert_eq!(ct.len(), 32);
        assert_eq!(
            aes_cbc_decrypt(&key, &iv, &ct[..31]).unwrap_err(),
            Error::Decryption
        );
        assert_eq!(
            aes_cbc_decrypt(&key, &iv, &ct[..16]).unwrap_err(),
            Error::Decryption
        );
        assert_eq!(
            aes_cbc_decrypt(&key, &iv, &[]).unwrap_err(),
            Error::Decryption
        );
        assert!(CbcEncryptor::aes(&[0u8; 20], &iv).is_err());
    }

    #[test]
    fn des_ede3_cbc_decrypts_a_known_ciphertext() {
        // Computed with pyca/cryptography's TripleDES-CBC and PKCS#7 padding.
        let key = h("0123456789abcdef23456789abcdef01456789abcdef0123");
        let iv: [u8; 8] = h("1234567890abcdef").try_into().unwrap();
        let ct = h(
            "d3aeeb5747fb6c52dfa2d128b47b7e13b5315e9eb57c0309724a20baa9fe203c\
                    4ac28660c3e1c001f73d1559312b9902fd1f0f18dedefe62",
        );
        let expected = b"Old mail from 2009, encrypted with des-ede3-cbc.";
        assert_eq!(&des_ede3_cbc_decrypt(&key, &iv, &ct).unwrap()[..], expected);
        let mut rng = Rng(77);
        let mut out = Vec::new();
        let mut d = CbcDecryptor::des_ede3(&key, &iv).unwrap();
        chunked(&mut rng, &ct, |c| d.update(c, &mut out).unwrap());
        d.finish(&mut out).unwrap();
        assert_eq!(&out[..], expected);
        assert!(des_ede3_cbc_decrypt(&key, &iv, &ct[..40]).is_err());
        assert!(des_ede3_cbc_decrypt(&key[..16], &iv, &ct).is_err());
        // K1 = K2 = K3 degenerates to single DES: refused.
        assert!(CbcDecryptor::des_ede3(&[0x13u8; 24], &iv).is_err());
    }

    #[test]
    fn gcm_known_answers_96_bit_and_64_bit_nonce() {
        // The GCM specification's test cases 4 and 5 (McGrew & Viega), key feffe992…,
        // 60-byte plaintext, 20-byte AAD; case 5 has an 8-byte IV (J0 from GHASH).
        let key = h("feffe9928665731c6d6a8f9467308308");
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let pt = h(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                    1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let cases = [
            (
                "cafebabefacedbaddecaf888",
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                "5bc94fbc3221a5db94fae95ae7121a47",
            ),
            (
                "cafebabefacedbad",
                "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423\
                 73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
                "3612d2e79e3b0785561be14aaca2fccb",
            ),
        ];
        for (nonce, ct, tag) in cases {
            let nonce = h(nonce);
            let mut e = GcmEncryptor::new(&key, &nonce).unwrap();
            e.set_aad(&aad).unwrap();
            let mut out = Vec::new();
            e.update(&pt, &mut out).unwrap();
            assert_eq!(hex::encode(&out), ct);
            assert_eq!(hex::encode(e.finish()), tag);
            let (c2, t2) = aes_gcm_encrypt(&key, &nonce, &aad, &pt).unwrap();
            assert_eq!(hex::encode(&c2), ct);
            assert_eq!(hex::encode(t2), tag);
            // Truncated tags (RFC 5084 aes-ICVlen 12..16) verify too.
            for tl in 12..=16 {
                let mut d = GcmDecryptor::new(&key, &nonce, tl).unwrap();
                let mut back = Vec::new();
                d.update_unverified(&out, &mut back).unwrap();
                d.set_aad(&aad).unwrap();
                d.finish(&t2[..tl]).unwrap();
                assert_eq!(back, pt);
                assert_eq!(
                    &aes_gcm_decrypt(&key, &nonce, &aad, &out, &t2[..tl]).unwrap()[..],
                    &pt[..]
                );
            }
        }
    }

    #[test]
    fn gcm_streaming_matches_aws_lc_one_shot_for_random_sizes() {
        let mut rng = Rng(0x0bad_cafe_f00d_d00d);
        for i in 0..300 {
            let key = rng.bytes([16, 24, 32][i % 3]);
            let nonce = rng.bytes(12);
            let aad = if i % 4 == 0 {
                Vec::new()
            } else {
                rng.bytes_below(100)
            };
            let pt = rng.bytes_below(5001);
            let n: [u8; 12] = nonce.clone().try_into().unwrap();

            // Reference: aws-lc-rs one-shot AES-GCM.
            let alg = aead_alg(&key).unwrap();
            let k = aead::LessSafeKey::new(aead::UnboundKey::new(alg, &key).unwrap());
            let mut reference = pt.clone();
            let ref_tag = k
                .seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(n),
                    aead::Aad::from(&aad),
                    &mut reference,
                )
                .unwrap();

            // AAD before, in the middle of, or after the text.
            let mut e = GcmEncryptor::new(&key, &nonce).unwrap();
            let when = i % 3;
            let mut aad_set = when == 0;
            if aad_set {
                e.set_aad(&aad).unwrap();
            }
            let mut ct = Vec::new();
            let mut fed = 0;
            chunked(&mut rng, &pt, |c| {
                e.update(c, &mut ct).unwrap();
                fed += c.len();
                if !aad_set && when == 1 && fed * 2 >= pt.len() {
                    e.set_aad(&aad).unwrap();
                    aad_set = true;
                }
            });
            if !aad_set {
                e.set_aad(&aad).unwrap();
            }
            let tag = e.finish();
            assert_eq!(ct, reference, "case {i}");
            assert_eq!(&tag[..], ref_tag.as_ref(), "case {i}");

            let mut d = GcmDecryptor::new(&key, &nonce, 16).unwrap();
            if when == 2 {
                d.set_aad(&aad).unwrap();
            }
            let mut back = Vec::new();
            chunked(&mut rng, &ct, |c| {
                d.update_unverified(c, &mut back).unwrap()
            });
            if when != 2 {
                d.set_aad(&aad).unwrap();
            }
            d.finish(&tag).unwrap();
            assert_eq!(back, pt, "case {i}");
        }
    }

    #[test]
    fn gcm_rejects_altered_text_aad_tag_and_bad_parameters() {
        let key = [1u8; 32];
        let nonce = [2u8; 12];
        let (ct, tag) = aes_gcm_encrypt(&key, &nonce, b"attrs", b"hello, world").unwrap();
        let open = |ct: &[u8], aad: &[u8], tag: &[u8]| {
            let mut d = GcmDecryptor::new(&key, &nonce, tag.len().clamp(12, 16)).unwrap();
            let mut out = Vec::new();
            d.update_unverified(ct, &mut out).unwrap();
            d.set_aad(aad).unwrap();
            d.finish(tag)
        };
        open(&ct, b"attrs", &tag).unwrap();
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(open(&bad, b"attrs", &tag), Err(Error::Decryption));
        assert_eq!(open(&ct[..11], b"attrs", &tag), Err(Error::Decryption));
        assert_eq!(open(&ct, b"attrs!", &tag), Err(Error::Decryption));
        assert_eq!(open(&ct, b"", &tag), Err(Error::Decryption));
        let mut t = tag;
        t[15] ^= 1;
        assert_eq!(open(&ct, b"attrs", &t), Err(Error::Decryption));
        assert_eq!(open(&ct, b"attrs", &t[..12]), Ok(()));
        assert_eq!(open(&ct, b"attrs", &tag[..11]), Err(Error::Decryption));
        assert!(aes_gcm_decrypt(&key, &nonce, b"attrs", &ct, &t).is_err());
        assert!(aes_gcm_decrypt(&key, &nonce, b"attrs", &ct, &tag[..8]).is_err());
        // An empty AAD given explicitly is the same as none.
        let (c1, t1) = aes_gcm_encrypt(&key, &nonce, b"", b"x").unwrap();
        let mut e = GcmEncryptor::new(&key, &nonce).unwrap();
        let mut c2 = Vec::new();
        e.update(b"x", &mut c2).unwrap();
        assert_eq!((c1, t1), (c2, e.finish()));
        // Parameters.
        assert!(GcmDecryptor::new(&key, &nonce, 11).is_err());
        assert!(GcmDecryptor::new(&key, &nonce, 17).is_err());
        assert!(GcmEncryptor::new(&key, &[]).is_err());
        assert!(GcmEncryptor::new(&key[..20], &nonce).is_err());
        let mut e = GcmEncryptor::new(&key, &nonce).unwrap();
        e.set_aad(b"a").unwrap();
        assert!(e.set_aad(b"a").is_err());
    }

    #[test]
    fn gcm_refuses_to_exceed_the_length_limit() {
        let mut e = GcmEncryptor::new(&[0u8; 16], &[0u8; 12]).unwrap();
        e.core.text_len = GCM_MAX_PLAINTEXT_LEN - 1;
        let mut out = Vec::new();
        e.update(b"a", &mut out).unwrap();
        assert!(e.update(b"b", &mut out).is_err());
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn gf_pow_agrees_with_repeated_multiplication() {
        let mut rng = Rng(99);
        let h: Block = rng.bytes(16).try_into().unwrap();
        let mut acc = Zeroizing::new(h);
        for e in 1..40u64 {
            assert_eq!(*gf_pow(&h, e), *acc, "exponent {e}");
            acc = gf_mul(&acc, &h);
        }
    }
}
