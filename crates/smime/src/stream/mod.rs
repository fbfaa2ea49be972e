//! S/MIME in bounded memory: signing, verifying, encrypting and decrypting messages of any
//! size (issue #3 asks for 1 GiB within 64 MiB) by reading the input through a
//! [`Source`](crate::source::Source) in chunks and writing the output as it is made.
//!
//! The structures are the same as the in-memory functions of [`crate::message`],
//! [`crate::signed`] and [`crate::enveloped`] produce and read, and most of the work is
//! theirs: a streaming operation parses or builds the small parts of a CMS object (recipient
//! and signer infos, certificates, attributes) with the same code, as a *hollow* object
//! whose large content is left out, and streams only that content. DER is written with
//! exact lengths, so an output of unknown length (the canonical form of a message) is
//! measured in a first pass over the source.
//!
//! Outputs go to [`std::io::Write`]; nothing here opens a file.

pub mod ber;
pub mod envelope;
pub mod message;
pub mod reader;
pub mod signed;
pub mod splice;

/// Where content read from a message goes: decrypted plaintext, or signed content that is
/// not yet verified. The caller releases it only when the operation succeeds (a GCM tag
/// failure, or a signature that is not valid, releases nothing).
pub trait ContentSink {
    /// Takes the next piece of content.
    fn write(&mut self, content: &[u8]) -> std::io::Result<()>;
    /// Forgets everything written so far (the operation starts again: a message whose GCM
    /// content is followed by `authAttrs`, which must be authenticated first).
    fn restart(&mut self) -> std::io::Result<()>;
}

/// Decrypted content held in memory, wiped when dropped or started again — and never left
/// behind when it grows: a larger buffer is allocated, filled and the old one wiped, where
/// `Vec` growth would free the old one as it is. Wiping is one bulk write over what was
/// written (the rest of the allocation never held content): `Zeroizing<Vec<u8>>` wipes a
/// vector's elements one volatile byte at a time, and its spare capacity too, which cost
/// about 1% of decrypting a 10 KiB message with RSA-2048.
#[derive(Default)]
pub struct Plaintext(Vec<u8>);

impl Plaintext {
    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Plaintext(Vec::with_capacity(capacity))
    }

    /// The content, moved out (not copied: a copy would leave the same bytes in the
    /// caller's hands while wiping the original, protecting nothing). Wiping it is now the
    /// caller's business.
    pub fn into_inner(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }

    /// Wipes what was written and leaves the buffer empty. Content is only ever appended,
    /// so what was written is what the length covers.
    fn wipe(v: &mut Vec<u8>) {
        use zeroize::Zeroize;
        v.as_mut_slice().zeroize();
        v.clear();
    }
}

impl std::ops::Deref for Plaintext {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plaintext({} bytes)", self.0.len())
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        Self::wipe(&mut self.0);
    }
}

impl ContentSink for Plaintext {
    fn write(&mut self, content: &[u8]) -> std::io::Result<()> {
        let need = self.0.len().saturating_add(content.len());
        if need > self.0.capacity() {
            let mut larger = Vec::with_capacity(need.max(self.0.capacity().saturating_mul(2)));
            larger.extend_from_slice(&self.0);
            Self::wipe(&mut self.0);
            self.0 = larger;
        }
        self.0.extend_from_slice(content);
        Ok(())
    }

    fn restart(&mut self) -> std::io::Result<()> {
        Self::wipe(&mut self.0);
        Ok(())
    }
}

/// A sink that keeps nothing (verification without `--out`).
pub struct Discard;

impl ContentSink for Discard {
    fn write(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }

    fn restart(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_keeps_what_is_written_across_growth_and_forgets_on_restart() {
        let mut p = Plaintext::with_capacity(3);
        let mut expected = Vec::new();
        for i in 0..200u8 {
            let piece = vec![i; usize::from(i % 7) + 1];
            p.write(&piece).unwrap();
            expected.extend_from_slice(&piece);
            assert_eq!(&p[..], &expected[..]);
        }
        p.restart().unwrap();
        assert!(p.is_empty());
        p.write(b"again").unwrap();
        assert_eq!(p.into_inner(), b"again");
        assert_eq!(format!("{:?}", Plaintext::default()), "Plaintext(0 bytes)");
    }
}
