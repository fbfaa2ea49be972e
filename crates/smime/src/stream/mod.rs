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

impl ContentSink for zeroize::Zeroizing<Vec<u8>> {
    fn write(&mut self, content: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(content);
        Ok(())
    }

    fn restart(&mut self) -> std::io::Result<()> {
        use zeroize::Zeroize;
        self.zeroize();
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
