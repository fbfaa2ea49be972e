//! BER → DER normalisation (ITU-T X.690 §8 basic encoding rules → §10 distinguished encoding
//! rules), bounded and linear in the size of the input.
//!
//! S/MIME peers write CMS in BER: streaming encoders such as `openssl cms -stream` send
//! indefinite lengths (X.690 §8.1.3.6) and OCTET STRINGs cut into constructed segments
//! (X.690 §8.7.3.2). The `der` and `cms` crates decode DER: their BER support takes some
//! indefinite lengths but leaves constructed OCTET STRINGs as raw segments, which the `cms`
//! types then reject. So every CMS input goes through this module first. The normaliser
//! rewrites, and only rewrites:
//!
//! - indefinite lengths into definite lengths, dropping the end-of-contents octets
//!   (X.690 §10.1);
//! - non-minimal length octets into the shortest form (X.690 §10.1);
//! - constructed BIT STRING, OCTET STRING and restricted character string encodings into one
//!   primitive encoding whose contents are the segments joined in order (X.690 §10.2,
//!   §8.6.4, §8.7.3, §8.23.6), however deeply the segments nest. Elements that the schema
//!   declares `[n] IMPLICIT OCTET STRING` (CMS `encryptedContent`, RFC 5652 §6.1) cannot be
//!   recognised without the schema: the caller names them, see [`BerTree::to_der_with`].
//!
//! Everything else is copied byte for byte. In particular the elements of a SET OF are **not**
//! re-sorted (X.690 §11.6 would require it): a signature covers the bytes as the signer encoded
//! them. A verifier must therefore hash `signedAttrs` in its *received* encoding with the
//! `[0] IMPLICIT` identifier octet replaced by the SET identifier, as RFC 5652 §5.4 requires;
//! [`BerTree::raw`] gives those received bytes for any element. DER input comes out byte for
//! byte identical.
//!
//! The work is bounded by [`BerLimits`]: the input size, the nesting depth and the number of
//! elements. Parsing is one pass over the input that builds a flat pre-order list of elements
//! (no recursion, so hostile nesting cannot exhaust the stack); writing DER takes three more
//! passes over that list. Every element is visited a constant number of times, so the whole
//! normalisation is O(n) in time and memory. Every failure is a [`BerError`] naming the byte
//! offset in the input and the problem.
//!
//! [`read_header`] is the tokenizer on its own: it reads one identifier and length from a
//! slice without needing the contents, which is what a streaming reader needs.

use core::ops::Range;

/// Default largest input accepted by [`BerLimits::default`]: 64 MiB, more than the
/// 25–50 MB message size limits of common mail systems.
pub const DEFAULT_MAX_LEN: usize = 64 << 20;

/// Default deepest nesting accepted: CMS nests about 15 levels deep in practice.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Default largest number of elements accepted in one input.
///
/// Each element costs about 80 bytes of bookkeeping while normalising, so this default caps
/// that at about 80 MiB.
pub const DEFAULT_MAX_ELEMENTS: usize = 1 << 20;

/// Bounds on the work the normaliser does for one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BerLimits {
    /// Largest input accepted, in bytes.
    pub max_len: usize,
    /// Deepest nesting accepted; the outermost element is at depth 0.
    pub max_depth: usize,
    /// Largest number of elements (TLVs, not counting end-of-contents markers) accepted.
    pub max_elements: usize,
}

impl Default for BerLimits {
    /// [`DEFAULT_MAX_LEN`], [`DEFAULT_MAX_DEPTH`] and [`DEFAULT_MAX_ELEMENTS`].
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LEN)
    }
}

impl BerLimits {
    /// Limits with the given maximum input size and the default depth and element limits.
    pub const fn new(max_len: usize) -> Self {
        Self {
            max_len,
            max_depth: DEFAULT_MAX_DEPTH,
            max_elements: DEFAULT_MAX_ELEMENTS,
        }
    }
}

/// What went wrong, and at which byte offset of the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    /// The input ends inside an element, or an element header crosses the end of its
    /// enclosing element.
    #[error("offset {offset}: the encoding ends in the middle of an element")]
    Truncated {
        /// Where the incomplete header or contents begin.
        offset: usize,
    },
    /// The length of an element is larger than what is left of its enclosing element.
    #[error(
        "offset {offset}: an element of length {length} does not fit in the {available} bytes left"
    )]
    LengthOverrun {
        /// Offset of the element's identifier.
        offset: usize,
        /// The length the element claims.
        length: usize,
        /// Bytes available for its contents.
        available: usize,
    },
    /// The length octets encode a number larger than the address space.
    #[error("offset {offset}: the length does not fit in memory")]
    LengthTooLarge {
        /// Offset of the element's identifier.
        offset: usize,
    },
    /// The first length octet is 0xFF, reserved by X.690 §8.1.3.5.
    #[error("offset {offset}: reserved length octet 0xFF (X.690 §8.1.3.5)")]
    ReservedLength {
        /// Offset of the element's identifier.
        offset: usize,
    },
    /// A tag number larger than 2^32 - 1.
    #[error("offset {offset}: the tag number is larger than 32 bits")]
    TagNumberTooLarge {
        /// Offset of the element's identifier.
        offset: usize,
    },
    /// A tag number in the high-tag-number form that should use fewer octets or the
    /// low-tag-number form (X.690 §8.1.2.4).
    #[error("offset {offset}: the tag number is not in its shortest form (X.690 §8.1.2.4)")]
    NonMinimalTag {
        /// Offset of the element's identifier.
        offset: usize,
    },
    /// The indefinite form of length on a primitive element (X.690 §8.1.3.2).
    #[error("offset {offset}: indefinite length on a primitive element (X.690 §8.1.3.2)")]
    IndefinitePrimitive {
        /// Offset of the element's identifier.
        offset: usize,
    },
    /// An identifier with tag number 0 of the universal class that is not the two zero
    /// octets of end-of-contents (X.690 §8.1.5).
    #[error("offset {offset}: malformed end-of-contents (X.690 §8.1.5)")]
    BadEndOfContents {
        /// Offset of the identifier.
        offset: usize,
    },
    /// End-of-contents where no indefinite-length element is open.
    #[error("offset {offset}: end-of-contents outside an indefinite-length element")]
    UnexpectedEndOfContents {
        /// Offset of the end-of-contents octets.
        offset: usize,
    },
    /// A segment of a constructed string that is not a segment of the right type
    /// (X.690 §8.6.4.1, §8.7.3.2, §8.23.6).
    #[error("offset {offset}: a segment of a constructed {expected} has another type")]
    BadStringSegment {
        /// Offset of the segment.
        offset: usize,
        /// The type the segment must have.
        expected: &'static str,
    },
    /// A segment of a constructed BIT STRING with an unused-bits octet that is missing,
    /// larger than 7, non-zero in a segment other than the last, or non-zero in an empty
    /// segment (X.690 §8.6.2, §8.6.4).
    #[error("offset {offset}: bad unused-bits octet in a BIT STRING segment (X.690 §8.6.4)")]
    BadBitStringSegment {
        /// Offset of the segment.
        offset: usize,
    },
    /// Bytes after the end of the outermost element.
    #[error("offset {offset}: {count} bytes of trailing data after the element")]
    TrailingData {
        /// Where the trailing data begins.
        offset: usize,
        /// How many bytes follow the element.
        count: usize,
    },
    /// The input is larger than [`BerLimits::max_len`].
    #[error("input of {len} bytes is larger than the limit of {max}")]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Nesting deeper than [`BerLimits::max_depth`].
    #[error("offset {offset}: nested deeper than {max} levels")]
    TooDeep {
        /// Offset of the element that is too deep.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// More elements than [`BerLimits::max_elements`].
    #[error("offset {offset}: more than {max} elements")]
    TooManyElements {
        /// Offset of the first element over the limit.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// A [`NodeId`] passed to [`BerTree::to_der_with`] that does not belong to the tree.
    #[error("element #{index} is not in this tree")]
    UnknownNode {
        /// The index of the element.
        index: usize,
    },
}

impl BerError {
    /// The byte offset in the input where the problem was found (0 for errors about the
    /// input as a whole).
    pub fn offset(&self) -> usize {
        match *self {
            Self::Truncated { offset }
            | Self::LengthOverrun { offset, .. }
            | Self::LengthTooLarge { offset }
            | Self::ReservedLength { offset }
            | Self::TagNumberTooLarge { offset }
            | Self::NonMinimalTag { offset }
            | Self::IndefinitePrimitive { offset }
            | Self::BadEndOfContents { offset }
            | Self::UnexpectedEndOfContents { offset }
            | Self::BadStringSegment { offset, .. }
            | Self::BadBitStringSegment { offset }
            | Self::TrailingData { offset, .. }
            | Self::TooDeep { offset, .. }
            | Self::TooManyElements { offset, .. } => offset,
            Self::TooLarge { .. } | Self::UnknownNode { .. } => 0,
        }
    }
}

/// The class of a tag (X.690 §8.1.2.2, table 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Universal (bits 8–7 = 00).
    Universal,
    /// Application (01).
    Application,
    /// Context-specific (10).
    ContextSpecific,
    /// Private (11).
    Private,
}

impl Class {
    fn from_bits(first: u8) -> Self {
        match first >> 6 {
            0 => Self::Universal,
            1 => Self::Application,
            2 => Self::ContextSpecific,
            _ => Self::Private,
        }
    }
}

/// The identifier octets of an encoding: class, primitive/constructed and tag number
/// (X.690 §8.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// Tag class.
    pub class: Class,
    /// Whether the encoding is constructed (bit 6 set, X.690 §8.1.2.5).
    pub constructed: bool,
    /// Tag number.
    pub number: u32,
}

impl Identifier {
    /// Universal tag numbers (X.680 §8.4, table 1) used by the normaliser.
    const BIT_STRING: u32 = 3;
    const OCTET_STRING: u32 = 4;

    /// Whether this is the identifier of end-of-contents (universal, primitive, 0).
    pub fn is_end_of_contents(&self) -> bool {
        self.class == Class::Universal && !self.constructed && self.number == 0
    }

    /// Whether this is a universal SEQUENCE (constructed, 16).
    pub fn is_sequence(&self) -> bool {
        self.class == Class::Universal && self.constructed && self.number == 16
    }

    /// Whether this is a universal SET (constructed, 17).
    pub fn is_set(&self) -> bool {
        self.class == Class::Universal && self.constructed && self.number == 17
    }

    /// Whether this is a context-specific tag with the given number.
    pub fn is_context(&self, number: u32) -> bool {
        self.class == Class::ContextSpecific && self.number == number
    }

    /// Whether this is the given universal tag number, primitive or constructed.
    pub fn is_universal(&self, number: u32) -> bool {
        self.class == Class::Universal && self.number == number
    }

    /// The kind of string whose constructed form DER forbids, if this is one (X.690 §10.2):
    /// BIT STRING, OCTET STRING, ObjectDescriptor, the restricted character strings and the
    /// two time types, which X.680 defines as VisibleString.
    fn string_kind(&self) -> Option<StringKind> {
        if self.class != Class::Universal {
            return None;
        }
        match self.number {
            Self::BIT_STRING => Some(StringKind::Bit),
            // OCTET STRING; ObjectDescriptor; UTF8String; NumericString to GeneralString
            // (PrintableString, T61, Videotex, IA5, UTCTime, GeneralizedTime, Graphic,
            // Visible); UniversalString; BMPString.
            4 | 7 | 12 | 18..=28 | 30 => Some(StringKind::Octet),
            _ => None,
        }
    }
}

/// The length of an encoding (X.690 §8.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// The definite form: the number of contents octets.
    Definite(usize),
    /// The indefinite form: the contents end with end-of-contents (X.690 §8.1.3.6).
    Indefinite,
}

/// One identifier and length, as read by [`read_header`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The identifier octets.
    pub identifier: Identifier,
    /// The length octets.
    pub length: Length,
    /// Number of identifier and length octets: the contents begin this many bytes after the
    /// start of the header.
    pub header_len: usize,
    /// Number of identifier octets.
    pub identifier_len: usize,
}

/// Reads one identifier and length (X.690 §8.1.2, §8.1.3) from `input` at offset `at`.
///
/// Only the header octets need to be present: the contents are not looked at, so a streaming
/// reader can call this on a partial buffer and treat [`BerError::Truncated`] as "read more".
/// Errors carry offsets in `input`. Checked here: the high-tag-number form is minimal and fits
/// 32 bits; the length is not the reserved 0xFF and fits `usize`; indefinite lengths are on
/// constructed elements only; universal tag 0 is exactly end-of-contents (`00 00`).
/// Non-minimal length octets are accepted (BER allows them, X.690 §8.1.3.5 note 2).
pub fn read_header(input: &[u8], at: usize) -> Result<Header, BerError> {
    let offset = at;
    let truncated = BerError::Truncated { offset };
    let mut pos = at;
    let first = *input.get(pos).ok_or(truncated.clone())?;
    pos += 1;
    let class = Class::from_bits(first);
    let constructed = first & 0x20 != 0;
    let mut number = u32::from(first & 0x1f);
    if number == 0x1f {
        // High-tag-number form (X.690 §8.1.2.4): base-128 digits, most significant first.
        number = 0;
        let mut digits = 0;
        loop {
            let b = *input.get(pos).ok_or(truncated.clone())?;
            pos += 1;
            if digits == 0 && b == 0x80 {
                return Err(BerError::NonMinimalTag { offset });
            }
            digits += 1;
            if number > (u32::MAX >> 7) {
                return Err(BerError::TagNumberTooLarge { offset });
            }
            number = (number << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        if number < 0x1f {
            return Err(BerError::NonMinimalTag { offset });
        }
    }
    let identifier = Identifier {
        class,
        constructed,
        number,
    };
    let identifier_len = pos - at;

    let l = *input.get(pos).ok_or(truncated.clone())?;
    pos += 1;
    let length = match l {
        0x80 => {
            if !constructed {
                return Err(BerError::IndefinitePrimitive { offset });
            }
            Length::Indefinite
        }
        0xff => return Err(BerError::ReservedLength { offset }),
        short if short < 0x80 => Length::Definite(usize::from(short)),
        long => {
            let count = usize::from(long & 0x7f);
            let digits = input
                .get(pos..pos.saturating_add(count))
                .ok_or(truncated.clone())?;
            pos += count;
            let mut value: usize = 0;
            for &d in digits {
                value = value
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(usize::from(d)))
                    .ok_or(BerError::LengthTooLarge { offset })?;
            }
            Length::Definite(value)
        }
    };
    if identifier.class == Class::Universal
        && identifier.number == 0
        && (identifier.constructed || length != Length::Definite(0))
    {
        return Err(BerError::BadEndOfContents { offset });
    }
    Ok(Header {
        identifier,
        length,
        header_len: pos - at,
        identifier_len,
    })
}

/// Identifies one element of a [`BerTree`]: its index in pre-order (the outermost element
/// is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(usize);

impl NodeId {
    /// The pre-order index of the element.
    pub fn index(self) -> usize {
        self.0
    }
}

/// One element as received.
#[derive(Clone, Debug)]
struct Node {
    identifier: Identifier,
    /// Offset of the identifier octets.
    start: usize,
    identifier_len: u8,
    /// Offset of the contents octets.
    content_start: usize,
    /// End of the contents octets (before end-of-contents, if indefinite).
    content_end: usize,
    /// End of the whole encoding, end-of-contents included.
    end: usize,
    indefinite: bool,
    /// Index just past the last descendant: the next sibling's index, if any.
    subtree_end: usize,
}

/// An open constructed element while parsing.
struct Frame {
    node: usize,
    /// End of the contents of a definite-length element.
    end: Option<usize>,
    /// How far this element's children may extend: its own end if definite, else the
    /// limit of its parent.
    limit: usize,
}

/// The structure of a BER encoding: every element with its identifier and the byte spans of
/// its received encoding, without copying the input.
///
/// Built by [`BerTree::parse`] in one pass. Use it to find elements by position
/// ([`children`](Self::children), [`child`](Self::child)), to read their received bytes
/// ([`raw`](Self::raw), [`content`](Self::content)), and to write DER
/// ([`to_der`](Self::to_der), [`to_der_with`](Self::to_der_with)).
#[derive(Clone, Debug)]
pub struct BerTree<'a> {
    input: &'a [u8],
    nodes: Vec<Node>,
}

/// The children of an element, in order.
#[derive(Clone, Debug)]
pub struct Children<'t> {
    nodes: &'t [Node],
    next: usize,
    end: usize,
}

impl Iterator for Children<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next >= self.end {
            return None;
        }
        let id = self.next;
        self.next = self.nodes.get(id).map_or(self.end, |n| n.subtree_end);
        Some(NodeId(id))
    }
}

/// How an element is written out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Copied, with its length made definite and minimal.
    Normal,
    /// A constructed string written as one primitive string.
    StringRoot(StringKind),
    /// A segment inside a [`Mode::StringRoot`]: only its data is written.
    Segment(StringKind),
}

/// What a constructed string's segments are (X.690 §8.6.4.1, §8.7.3.2, §8.23.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StringKind {
    /// BIT STRING segments, each with its own unused-bits octet.
    Bit,
    /// OCTET STRING segments (also for the character strings and `IMPLICIT OCTET STRING`).
    Octet,
}

impl StringKind {
    fn segment_number(self) -> u32 {
        match self {
            Self::Bit => Identifier::BIT_STRING,
            Self::Octet => Identifier::OCTET_STRING,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Bit => "BIT STRING",
            Self::Octet => "OCTET STRING",
        }
    }
}

impl<'a> BerTree<'a> {
    /// Parses `input`, which must be exactly one BER element, within `limits`.
    pub fn parse(input: &'a [u8], limits: &BerLimits) -> Result<Self, BerError> {
        if input.len() > limits.max_len {
            return Err(BerError::TooLarge {
                len: input.len(),
                max: limits.max_len,
            });
        }
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut pos = 0usize;
        loop {
            // Close the definite-length elements that end here.
            while let Some(top) = stack.last() {
                if top.end != Some(pos) {
                    break;
                }
                close(&mut nodes, top.node, pos, pos);
                stack.pop();
            }
            if stack.is_empty() && !nodes.is_empty() {
                break;
            }
            let limit = stack.last().map_or(input.len(), |f| f.limit);
            let window = input
                .get(..limit)
                .ok_or(BerError::Truncated { offset: pos })?;
            let header = read_header(window, pos)?;
            if header.identifier.is_end_of_contents() {
                match stack.last() {
                    Some(top) if top.end.is_none() => {
                        close(&mut nodes, top.node, pos, pos + header.header_len);
                        stack.pop();
                        pos += header.header_len;
                        continue;
                    }
                    _ => return Err(BerError::UnexpectedEndOfContents { offset: pos }),
                }
            }
            if nodes.len() >= limits.max_elements {
                return Err(BerError::TooManyElements {
                    offset: pos,
                    max: limits.max_elements,
                });
            }
            if stack.len() > limits.max_depth {
                return Err(BerError::TooDeep {
                    offset: pos,
                    max: limits.max_depth,
                });
            }
            let content_start = pos + header.header_len;
            let index = nodes.len();
            let mut node = Node {
                identifier: header.identifier,
                start: pos,
                // At most 1 + 5 octets: larger tag numbers fail in `read_header`.
                identifier_len: u8::try_from(header.identifier_len)
                    .map_err(|_| BerError::TagNumberTooLarge { offset: pos })?,
                content_start,
                content_end: content_start,
                end: content_start,
                indefinite: header.length == Length::Indefinite,
                subtree_end: index + 1,
            };
            match header.length {
                Length::Definite(len) => {
                    let available = limit - content_start;
                    if len > available {
                        return Err(BerError::LengthOverrun {
                            offset: pos,
                            length: len,
                            available,
                        });
                    }
                    let end = content_start + len;
                    node.content_end = end;
                    node.end = end;
                    nodes.push(node);
                    if header.identifier.constructed {
                        stack.push(Frame {
                            node: index,
                            end: Some(end),
                            limit: end,
                        });
                        pos = content_start;
                    } else {
                        pos = end;
                    }
                }
                Length::Indefinite => {
                    nodes.push(node);
                    stack.push(Frame {
                        node: index,
                        end: None,
                        limit,
                    });
                    pos = content_start;
                }
            }
        }
        if pos != input.len() {
            return Err(BerError::TrailingData {
                offset: pos,
                count: input.len() - pos,
            });
        }
        Ok(Self { input, nodes })
    }

    /// The input the tree was parsed from.
    pub fn input(&self) -> &'a [u8] {
        self.input
    }

    /// The outermost element.
    pub fn root(&self) -> NodeId {
        NodeId(0)
    }

    /// Number of elements (end-of-contents markers not counted).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree has no elements (never true for a parsed tree).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0)
    }

    /// The identifier of an element, or `None` for an id from another tree.
    pub fn identifier(&self, id: NodeId) -> Option<Identifier> {
        self.node(id).map(|n| n.identifier)
    }

    /// Whether an element was received with an indefinite length.
    pub fn is_indefinite(&self, id: NodeId) -> bool {
        self.node(id).is_some_and(|n| n.indefinite)
    }

    /// The byte range of an element's whole received encoding, end-of-contents included.
    pub fn span(&self, id: NodeId) -> Option<Range<usize>> {
        self.node(id).map(|n| n.start..n.end)
    }

    /// The received encoding of an element exactly as it arrived: identifier, length,
    /// contents and, for an indefinite length, the end-of-contents octets.
    ///
    /// This is what a verifier hashes for `signedAttrs` (with the identifier octet replaced
    /// by SET, RFC 5652 §5.4), since the normaliser does not re-sort SET OF.
    pub fn raw(&self, id: NodeId) -> Option<&'a [u8]> {
        let n = self.node(id)?;
        self.input.get(n.start..n.end)
    }

    /// The received contents octets of an element (without end-of-contents). For a
    /// constructed element these are its children's received encodings.
    pub fn content(&self, id: NodeId) -> Option<&'a [u8]> {
        let n = self.node(id)?;
        self.input.get(n.content_start..n.content_end)
    }

    /// The children of an element, in received order (none for a primitive element or an
    /// id from another tree).
    pub fn children(&self, id: NodeId) -> Children<'_> {
        match self.node(id) {
            Some(n) => Children {
                nodes: &self.nodes,
                next: id.0 + 1,
                end: n.subtree_end,
            },
            None => Children {
                nodes: &self.nodes,
                next: 0,
                end: 0,
            },
        }
    }

    /// The `index`-th child of an element.
    pub fn child(&self, id: NodeId, index: usize) -> Option<NodeId> {
        self.children(id).nth(index)
    }

    /// The DER form of the whole input: see the module documentation for what changes.
    pub fn to_der(&self) -> Result<Vec<u8>, BerError> {
        self.to_der_with(self.root(), &[])
    }

    /// The DER form of the element `id` and its descendants as [`Self::to_der_with`] writes
    /// it, borrowed from the input when the received encoding is that form already — the
    /// usual case, since most signers write DER — so that it is neither copied nor rebuilt.
    ///
    /// `implicit_octet_strings` must be sorted (ascending): only the run of it inside the
    /// subtree is looked at, found by binary search, so that calling this for each of many
    /// siblings (a SignerInfo each) stays linear in the input rather than in signers × list.
    pub fn der_of(
        &self,
        id: NodeId,
        implicit_octet_strings: &[NodeId],
    ) -> Result<std::borrow::Cow<'a, [u8]>, BerError> {
        let root = self.node(id).ok_or(BerError::UnknownNode { index: id.0 })?;
        debug_assert!(implicit_octet_strings.is_sorted());
        let implicit_octet_strings = {
            let from = implicit_octet_strings.partition_point(|n| n.0 < id.0);
            let to = implicit_octet_strings.partition_point(|n| n.0 < root.subtree_end);
            &implicit_octet_strings[from..to.max(from)]
        };
        let unchanged = self.nodes[id.0..root.subtree_end]
            .iter()
            .enumerate()
            .all(|(k, node)| {
                let len = node.content_end - node.content_start;
                let length_octets =
                    node.content_start - node.start - usize::from(node.identifier_len);
                !node.indefinite
                    && length_octets == der_length_len(len)
                    && !(node.identifier.constructed
                        && (node.identifier.string_kind().is_some()
                            || implicit_octet_strings
                                .binary_search(&NodeId(id.0 + k))
                                .is_ok()))
            });
        if unchanged {
            Ok(std::borrow::Cow::Borrowed(
                &self.input[root.start..root.end],
            ))
        } else {
            self.to_der_with(id, implicit_octet_strings)
                .map(std::borrow::Cow::Owned)
        }
    }

    /// The DER form of the element `id` and its descendants, where the elements listed in
    /// `implicit_octet_strings` are `[n] IMPLICIT OCTET STRING`s in the schema: if one was
    /// received constructed, its OCTET STRING segments are joined into one primitive
    /// encoding that keeps its own tag (X.690 §8.7.3, §8.14.3). Listed elements outside the
    /// subtree, or primitive ones, are ignored. The work is linear in the size of the subtree
    /// plus the length of the list.
    pub fn to_der_with(
        &self,
        id: NodeId,
        implicit_octet_strings: &[NodeId],
    ) -> Result<Vec<u8>, BerError> {
        let root = self.node(id).ok_or(BerError::UnknownNode { index: id.0 })?;
        let range = id.0..root.subtree_end;
        let base = id.0;
        let count = range.len();

        // Pass 1, pre-order: decide how each element is written and check that the segments
        // of constructed strings have the right type.
        let mut mode = vec![Mode::Normal; count];
        let mut forced = vec![false; count];
        for &NodeId(i) in implicit_octet_strings {
            if let Some(f) = i.checked_sub(base).and_then(|k| forced.get_mut(k)) {
                *f = true;
            }
        }
        for k in 0..count {
            let node = &self.nodes[base + k];
            if !node.identifier.constructed {
                continue;
            }
            let kind = match mode[k] {
                Mode::Segment(kind) => kind,
                _ if forced[k] => StringKind::Octet,
                _ => match node.identifier.string_kind() {
                    Some(kind) => kind,
                    None => continue,
                },
            };
            if mode[k] == Mode::Normal {
                mode[k] = Mode::StringRoot(kind);
            }
            for NodeId(c) in self.children(NodeId(base + k)) {
                let child = &self.nodes[c];
                if child.identifier.class != Class::Universal
                    || child.identifier.number != kind.segment_number()
                {
                    return Err(BerError::BadStringSegment {
                        offset: child.start,
                        expected: kind.name(),
                    });
                }
                mode[c - base] = Mode::Segment(kind);
            }
        }

        // Pass 2, reverse pre-order (children before parents): the DER contents length of
        // each element, and for string segments the number of data octets they carry.
        let mut content_len = vec![0usize; count];
        let mut total_len = vec![0usize; count];
        let overflow = BerError::LengthTooLarge { offset: root.start };
        for k in (0..count).rev() {
            let node = &self.nodes[base + k];
            let data = if node.identifier.constructed {
                let mut sum = 0usize;
                for NodeId(c) in self.children(NodeId(base + k)) {
                    let child_len = match mode[c - base] {
                        Mode::Segment(_) => content_len[c - base],
                        _ => total_len[c - base],
                    };
                    sum = sum.checked_add(child_len).ok_or(overflow.clone())?;
                }
                sum
            } else {
                let len = node.content_end - node.content_start;
                match mode[k] {
                    Mode::Segment(StringKind::Bit) => {
                        // The unused-bits octet must be inside the segment itself.
                        let content = &self.input[node.content_start..node.content_end];
                        match content.first().copied() {
                            Some(u) if u <= 7 && (u == 0 || len > 1) => len - 1,
                            _ => {
                                return Err(BerError::BadBitStringSegment { offset: node.start });
                            }
                        }
                    }
                    _ => len,
                }
            };
            content_len[k] = match mode[k] {
                Mode::StringRoot(StringKind::Bit) => data.checked_add(1).ok_or(overflow.clone())?,
                _ => data,
            };
            total_len[k] = usize::from(node.identifier_len)
                .checked_add(der_length_len(content_len[k]))
                .and_then(|v| v.checked_add(content_len[k]))
                .ok_or(overflow.clone())?;
        }

        // Pass 3, pre-order: write.
        let mut out = Vec::with_capacity(total_len[0]);
        let mut k = 0;
        while k < count {
            let node = &self.nodes[base + k];
            let ident = &self.input[node.start..node.start + usize::from(node.identifier_len)];
            match mode[k] {
                Mode::StringRoot(kind) => {
                    out.push(ident[0] & !0x20);
                    out.extend_from_slice(&ident[1..]);
                    push_der_length(&mut out, content_len[k]);
                    self.write_segments(&mut out, base + k, kind)?;
                    k = node.subtree_end - base;
                }
                // Segments are written by their root.
                Mode::Segment(_) | Mode::Normal => {
                    out.extend_from_slice(ident);
                    push_der_length(&mut out, content_len[k]);
                    if !node.identifier.constructed {
                        out.extend_from_slice(&self.input[node.content_start..node.content_end]);
                    }
                    k += 1;
                }
            }
        }
        Ok(out)
    }

    /// Writes the joined data of the primitive segments below the constructed string `root`.
    fn write_segments(
        &self,
        out: &mut Vec<u8>,
        root: usize,
        kind: StringKind,
    ) -> Result<(), BerError> {
        let end = self.nodes[root].subtree_end;
        let unused_at = out.len();
        if kind == StringKind::Bit {
            out.push(0);
        }
        let mut pending_unused: Option<(u8, usize)> = None;
        for node in &self.nodes[root + 1..end] {
            if node.identifier.constructed {
                continue;
            }
            let data = &self.input[node.content_start..node.content_end];
            match kind {
                StringKind::Octet => out.extend_from_slice(data),
                StringKind::Bit => {
                    // Only the last segment may leave bits unused (X.690 §8.6.4).
                    if let Some((_, offset)) = pending_unused {
                        return Err(BerError::BadBitStringSegment { offset });
                    }
                    let unused = data.first().copied().unwrap_or(0);
                    if unused != 0 {
                        pending_unused = Some((unused, node.start));
                    }
                    out.extend_from_slice(data.get(1..).unwrap_or_default());
                }
            }
        }
        if let Some((unused, _)) = pending_unused {
            out[unused_at] = unused;
        }
        Ok(())
    }
}

/// Records the end of an element and of its descendants.
fn close(nodes: &mut [Node], index: usize, content_end: usize, end: usize) {
    let count = nodes.len();
    if let Some(n) = nodes.get_mut(index) {
        n.content_end = content_end;
        n.end = end;
        n.subtree_end = count;
    }
}

/// Number of octets of the minimal DER length encoding of `len` (X.690 §10.1).
fn der_length_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    }
}

/// Appends the minimal DER length encoding of `len` (X.690 §8.1.3, §10.1).
fn push_der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Fits: len < 0x80.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let digits = &bytes[skip..];
    out.push(0x80 | digits.len() as u8);
    out.extend_from_slice(digits);
}

/// Normalises one BER element to DER: [`BerTree::parse`] then [`BerTree::to_der`].
///
/// DER input comes out unchanged. Elements that are `[n] IMPLICIT OCTET STRING` in the schema
/// stay constructed if they were received constructed; CMS callers use
/// [`crate::cms::decode_content_info`], which knows where those are.
pub fn normalize(input: &[u8], limits: &BerLimits) -> Result<Vec<u8>, BerError> {
    BerTree::parse(input, limits)?.to_der()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BerLimits = BerLimits::new(1 << 20);

    fn der(input: &[u8]) -> Result<Vec<u8>, BerError> {
        normalize(input, &LIMITS)
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn header_forms() {
        let h = read_header(&[0x30, 0x80], 0).unwrap();
        assert_eq!(h.length, Length::Indefinite);
        assert!(h.identifier.is_sequence());
        assert_eq!(h.header_len, 2);
        // Long, non-minimal length: allowed in BER.
        let h = read_header(&[0x04, 0x82, 0x00, 0x05], 0).unwrap();
        assert_eq!(h.length, Length::Definite(5));
        assert_eq!(h.header_len, 4);
        // High tag number.
        let h = read_header(&[0xbf, 0x81, 0x00, 0x00], 0).unwrap();
        assert_eq!(h.identifier.number, 128);
        assert_eq!(h.identifier.class, Class::ContextSpecific);
        assert_eq!(h.identifier_len, 3);
        // Only the header is needed.
        assert_eq!(
            read_header(&[0x04, 0x05], 0).unwrap().length,
            Length::Definite(5)
        );
        assert_eq!(
            read_header(&[0x04, 0x82, 0x01], 0),
            Err(BerError::Truncated { offset: 0 })
        );
        assert_eq!(
            read_header(&[0x04, 0x80], 0),
            Err(BerError::IndefinitePrimitive { offset: 0 })
        );
        assert_eq!(
            read_header(&[0x04, 0xff], 0),
            Err(BerError::ReservedLength { offset: 0 })
        );
        assert_eq!(
            read_header(&[0x1f, 0x05, 0x00], 0),
            Err(BerError::NonMinimalTag { offset: 0 })
        );
        assert_eq!(
            read_header(&[0x1f, 0x80, 0x20, 0x00], 0),
            Err(BerError::NonMinimalTag { offset: 0 })
        );
        assert_eq!(
            read_header(&[0x1f, 0x90, 0x80, 0x80, 0x80, 0x00, 0x00], 0),
            Err(BerError::TagNumberTooLarge { offset: 0 })
        );
        assert_eq!(
            read_header(&[0x1f, 0x8f, 0xff, 0xff, 0xff, 0x7f, 0x00], 0)
                .unwrap()
                .identifier
                .number,
            u32::MAX
        );
        assert_eq!(
            read_header(&[0x00, 0x01, 0x00], 0),
            Err(BerError::BadEndOfContents { offset: 0 })
        );
        let mut huge = vec![0x04, 0x89];
        huge.extend_from_slice(&[0xff; 9]);
        assert_eq!(
            read_header(&huge, 0),
            Err(BerError::LengthTooLarge { offset: 0 })
        );
    }

    #[test]
    fn indefinite_and_segments() {
        let ber = [
            0x30, 0x80, // SEQUENCE, indefinite
            0x24, 0x80, // OCTET STRING, constructed, indefinite
            0x04, 0x02, b'a', b'b', //
            0x24, 0x03, 0x04, 0x01, b'c', // nested constructed segment
            0x04, 0x00, // empty segment
            0x00, 0x00, //
            0x02, 0x81, 0x01, 0x05, // INTEGER with a non-minimal length
            0x00, 0x00,
        ];
        assert_eq!(
            der(&ber).unwrap(),
            [0x30, 0x08, 0x04, 0x03, b'a', b'b', b'c', 0x02, 0x01, 0x05]
        );
    }

    #[test]
    fn bit_string_segments() {
        let ber = [
            0x23, 0x80, //
            0x03, 0x03, 0x00, 0x0a, 0x3b, //
            0x03, 0x05, 0x04, 0x5f, 0x29, 0x1c, 0xd0, //
            0x00, 0x00,
        ];
        assert_eq!(
            der(&ber).unwrap(),
            [0x03, 0x07, 0x04, 0x0a, 0x3b, 0x5f, 0x29, 0x1c, 0xd0]
        );
        // Unused bits in a segment that is not the last.
        let bad = [0x23, 0x08, 0x03, 0x02, 0x04, 0xf0, 0x03, 0x02, 0x00, 0x0f];
        assert_eq!(der(&bad), Err(BerError::BadBitStringSegment { offset: 2 }));
        // Segment without its unused-bits octet.
        assert_eq!(
            der(&[0x23, 0x02, 0x03, 0x00]),
            Err(BerError::BadBitStringSegment { offset: 2 })
        );
        // An empty segment followed by more input (found by cargo-fuzz: the octet after
        // the segment was read as its unused-bits octet).
        assert_eq!(
            der(&[0x30, 0x80, 0x23, 0x02, 0x03, 0x00, 0x00, 0x00]),
            Err(BerError::BadBitStringSegment { offset: 4 })
        );
        assert_eq!(
            der(&hex_bytes("3080a00038007e007e007e0023020300 0000")),
            Err(BerError::BadBitStringSegment { offset: 14 })
        );
        // No segments at all.
        assert_eq!(der(&[0x23, 0x00]).unwrap(), [0x03, 0x01, 0x00]);
    }

    #[test]
    fn character_strings_and_wrong_segments() {
        let ber = [0x2c, 0x80, 0x04, 0x01, b'h', 0x04, 0x01, b'i', 0x00, 0x00];
        assert_eq!(der(&ber).unwrap(), [0x0c, 0x02, b'h', b'i']);
        let bad = [0x24, 0x03, 0x0c, 0x01, b'x'];
        assert_eq!(
            der(&bad),
            Err(BerError::BadStringSegment {
                offset: 2,
                expected: "OCTET STRING"
            })
        );
    }

    #[test]
    fn der_of_borrows_only_what_is_der_already() {
        use std::borrow::Cow;
        let der = [0x30, 0x06, 0xa0, 0x04, 0x04, 0x02, 1, 2];
        let tree = BerTree::parse(&der, &LIMITS).unwrap();
        let field = tree.child(tree.root(), 0).unwrap();
        assert!(matches!(tree.der_of(tree.root(), &[]).unwrap(), Cow::Borrowed(b) if b == der));
        // The same bytes where [0] is an IMPLICIT OCTET STRING sent constructed: rewritten.
        let joined = tree.der_of(tree.root(), &[field]).unwrap();
        assert!(matches!(joined, Cow::Owned(_)));
        assert_eq!(joined, tree.to_der_with(tree.root(), &[field]).unwrap());
        // Siblings given the whole (sorted) list: each rewrites only its own field.
        let two = [
            0x30, 0x0c, 0x30, 0x04, 0xa0, 0x02, 0x04, 0x00, 0x30, 0x04, 0xa0, 0x02, 0x04, 0x00,
        ];
        let tree = BerTree::parse(&two, &LIMITS).unwrap();
        let kids: Vec<NodeId> = tree.children(tree.root()).collect();
        let fields: Vec<NodeId> = kids.iter().map(|&k| tree.child(k, 0).unwrap()).collect();
        for &k in &kids {
            assert_eq!(
                &tree.der_of(k, &fields).unwrap()[..],
                [0x30, 0x02, 0x80, 0x00]
            );
        }
        // Indefinite, non-minimal and constructed-string encodings are rebuilt.
        for ber in [
            &[0x30, 0x80, 0x04, 0x01, 7, 0, 0][..],
            &[0x30, 0x81, 0x03, 0x04, 0x01, 7],
            &[0x30, 0x05, 0x24, 0x03, 0x04, 0x01, 7],
        ] {
            let tree = BerTree::parse(ber, &LIMITS).unwrap();
            let d = tree.der_of(tree.root(), &[]).unwrap();
            assert!(matches!(d, Cow::Owned(_)), "{ber:02x?}");
            assert_eq!(&d[..], [0x30, 0x03, 0x04, 0x01, 7]);
        }
    }

    #[test]
    fn implicit_octet_string_needs_the_caller() {
        // [0] IMPLICIT OCTET STRING received constructed.
        let ber = [
            0x30, 0x80, 0xa0, 0x80, 0x04, 0x01, 1, 0x04, 0x01, 2, 0, 0, 0, 0,
        ];
        let tree = BerTree::parse(&ber, &LIMITS).unwrap();
        assert_eq!(
            tree.to_der().unwrap(),
            [0x30, 0x08, 0xa0, 0x06, 0x04, 0x01, 1, 0x04, 0x01, 2]
        );
        let field = tree.child(tree.root(), 0).unwrap();
        assert_eq!(
            tree.to_der_with(tree.root(), &[field]).unwrap(),
            [0x30, 0x04, 0x80, 0x02, 1, 2]
        );
        assert_eq!(
            tree.to_der_with(field, &[field]).unwrap(),
            [0x80, 0x02, 1, 2]
        );
        assert_eq!(tree.raw(field).unwrap(), &ber[2..12]);
        assert_eq!(tree.content(field).unwrap(), &ber[4..10]);
        assert_eq!(tree.span(tree.root()), Some(0..14));
        assert!(tree.is_indefinite(field));
        assert_eq!(tree.children(field).count(), 2);
    }

    #[test]
    fn structural_errors() {
        assert_eq!(der(&[]), Err(BerError::Truncated { offset: 0 }));
        assert_eq!(der(&[0x30, 0x80]), Err(BerError::Truncated { offset: 2 }));
        assert_eq!(
            der(&[0x30, 0x03, 0x04, 0x02, 0x00]),
            Err(BerError::LengthOverrun {
                offset: 2,
                length: 2,
                available: 1
            })
        );
        assert_eq!(
            der(&[0x30, 0x02, 0x00, 0x00]),
            Err(BerError::UnexpectedEndOfContents { offset: 2 })
        );
        assert_eq!(
            der(&[0x00, 0x00]),
            Err(BerError::UnexpectedEndOfContents { offset: 0 })
        );
        assert_eq!(
            der(&[0x05, 0x00, 0x05, 0x00]),
            Err(BerError::TrailingData {
                offset: 2,
                count: 2
            })
        );
        // A header that crosses the end of its parent.
        assert_eq!(
            der(&[0x30, 0x01, 0x04, 0x00]),
            Err(BerError::Truncated { offset: 2 })
        );
        assert_eq!(
            der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            Err(BerError::LengthOverrun {
                offset: 0,
                length: 0xffff_ffff,
                available: 0
            })
        );
    }

    #[test]
    fn limits() {
        let deep: Vec<u8> = [0x30, 0x80].repeat(100);
        assert_eq!(
            der(&deep),
            Err(BerError::TooDeep {
                offset: 130,
                max: 64
            })
        );
        let many: Vec<u8> = [&[0x30, 0x80][..], &[0x05, 0x00].repeat(10), &[0, 0]].concat();
        let limits = BerLimits {
            max_elements: 5,
            ..LIMITS
        };
        assert_eq!(
            normalize(&many, &limits),
            Err(BerError::TooManyElements { offset: 10, max: 5 })
        );
        assert_eq!(
            normalize(&many, &BerLimits::new(4)),
            Err(BerError::TooLarge { len: 24, max: 4 })
        );
    }

    #[test]
    fn der_is_unchanged_and_lengths_grow_correctly() {
        let der_input = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xff];
        assert_eq!(der(&der_input).unwrap(), der_input);
        // A 300-byte primitive inside an indefinite SEQUENCE: two length octets needed.
        let mut ber = vec![0x30, 0x80, 0x04, 0x82, 0x01, 0x2c];
        ber.extend_from_slice(&[7; 300]);
        ber.extend_from_slice(&[0, 0]);
        let out = der(&ber).unwrap();
        assert_eq!(&out[..6], &[0x30, 0x82, 0x01, 0x30, 0x04, 0x82]);
        assert_eq!(out.len(), 4 + 4 + 300);
        assert_eq!(der(&out).unwrap(), out);
    }

    #[test]
    fn length_helpers() {
        for len in [
            0usize,
            1,
            0x7f,
            0x80,
            0xff,
            0x100,
            0xffff,
            0x1_0000,
            usize::MAX,
        ] {
            let mut v = Vec::new();
            push_der_length(&mut v, len);
            assert_eq!(v.len(), der_length_len(len), "{len}");
        }
    }
}
