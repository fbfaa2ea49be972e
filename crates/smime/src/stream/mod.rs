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
pub mod reader;
pub mod splice;
