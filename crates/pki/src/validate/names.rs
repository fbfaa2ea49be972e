//! Name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)–(c), §6.1.4 (g)), and the matching of a
//! certificate against the peer name a TLS or mail client expects (RFC 6125 §6.4).
//!
//! [`NameConstraintsState`] carries `permitted_subtrees` and `excluded_subtrees` along a
//! path. Rather than computing intersections of subtrees, it keeps every certificate's
//! permitted subtrees as one layer per name form: a name is permitted when, for each layer
//! of its form, it lies in at least one subtree of that layer — exactly the intersection of
//! §6.1.4 (g)(1) — and excluded subtrees simply accumulate (§6.1.4 (g)(2)). A form without
//! layers is unconstrained.
//!
//! Forms evaluated: rfc822Name (also applied to SmtpUTF8Mailbox otherNames, RFC 9598 §6, and,
//! for a certificate without an rfc822Name subjectAltName, to the subject's emailAddress
//! attributes), dNSName, iPAddress, directoryName (also applied to a non-empty subject) and
//! uniformResourceIdentifier (host part). Constraints of other forms (other otherName types,
//! ediPartyName, registeredID) are kept; a certificate carrying a name of such a constrained
//! form is refused, as §4.2.1.10 requires of a critical extension one cannot process.
//!
//! The work is bounded: at most [`MAX_SUBTREES`] subtrees are kept along a path, and
//! checking one certificate may compare at most [`MAX_NAME_COMPARISONS`] name–subtree pairs.

use super::dn::{NameKey, decode_directory_string};
use crate::ParsedCertificate;
use const_oid::ObjectIdentifier;
use der::{Decode, Tagged};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use x509_cert::ext::pkix::NameConstraints;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

/// Upper bound on the name–subtree comparisons one [`NameConstraintsState::check`] may make;
/// beyond it the certificate is refused as [`NameConstraintError::TooComplex`].
pub const MAX_NAME_COMPARISONS: usize = 1 << 20;

/// Upper bound on the subtrees a [`NameConstraintsState`] keeps along one path.
pub const MAX_SUBTREES: usize = 1 << 14;

/// id-on-SmtpUTF8Mailbox (RFC 9598 §3).
const ID_ON_SMTP_UTF8_MAILBOX: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.8.9");

/// emailAddress (PKCS #9, RFC 5280 §4.1.2.6).
const EMAIL_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

/// Why a certificate's names fail the name constraints of its path (RFC 5280 §6.1.3 (b)–(c)),
/// or why a nameConstraints extension cannot be used (§4.2.1.10).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameConstraintError {
    /// A name lies outside the permitted subtrees of some CA on the path.
    #[error(
        "The {name} is outside the names a CA on the path may certify; only a CA whose name constraints permit it can issue this certificate."
    )]
    NotPermitted {
        /// The name, with its form (e.g. "rfc822Name alice@example.com").
        name: String,
    },
    /// A name lies inside the excluded subtrees of some CA on the path.
    #[error(
        "The {name} falls within names a CA on the path has excluded; this certificate cannot be trusted for it."
    )]
    Excluded {
        /// The name, with its form.
        name: String,
    },
    /// A CA constrains a name form that Cachet cannot evaluate, and the certificate carries a
    /// name of that form (RFC 5280 §4.2.1.10 then requires rejecting it).
    #[error(
        "A CA on the path constrains {form} names, which Cachet cannot evaluate, and this certificate carries one, so it is refused as RFC 5280 requires."
    )]
    Unsupported {
        /// The name form.
        form: &'static str,
    },
    /// Checking would exceed [`MAX_NAME_COMPARISONS`] or keeping the constraints
    /// [`MAX_SUBTREES`].
    #[error(
        "The name constraints on this path are too large to check within Cachet's limits, so the path is refused; ask the CA to issue simpler constraints."
    )]
    TooComplex,
    /// A name or a name constraint does not have the syntax RFC 5280 requires.
    #[error("A name or name constraint is malformed ({detail}), so the path is refused.")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
}

fn malformed(detail: impl Into<String>) -> NameConstraintError {
    NameConstraintError::Malformed {
        detail: detail.into(),
    }
}

/// The GeneralName forms (RFC 5280 §4.2.1.6) a constraint can apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Rfc822,
    Dns,
    Directory,
    Uri,
    Ip,
    OtherName,
    EdiParty,
    RegisteredId,
}

const FORM_COUNT: usize = 8;

impl Form {
    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Form::Rfc822 => "rfc822Name",
            Form::Dns => "dNSName",
            Form::Directory => "directoryName",
            Form::Uri => "uniformResourceIdentifier",
            Form::Ip => "iPAddress",
            Form::OtherName => "otherName",
            Form::EdiParty => "ediPartyName",
            Form::RegisteredId => "registeredID",
        }
    }
}

/// An IPv4 or IPv6 network: `len` (4 or 16) octets of address and mask.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IpNetwork {
    len: usize,
    address: [u8; 16],
    mask: [u8; 16],
}

impl IpNetwork {
    fn contains(&self, ip: &IpName) -> bool {
        ip.len == self.len
            && (0..self.len).all(|i| ip.octets[i] & self.mask[i] == self.address[i] & self.mask[i])
    }
}

/// One base of a GeneralSubtree, prepared for matching (RFC 5280 §4.2.1.10).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Subtree {
    /// rfc822Name "local@domain": that mailbox (domain lower-case ASCII).
    Mailbox { local: String, domain: String },
    /// rfc822Name "host": every mailbox at that host.
    MailHost(String),
    /// rfc822Name ".domain" (kept with its dot): every mailbox at hosts under the domain.
    MailDomain(String),
    /// dNSName: the name and every name below it; "" is every name.
    DnsDomain(String),
    /// uniformResourceIdentifier "host": URIs whose host is exactly that host.
    UriHost(String),
    /// uniformResourceIdentifier ".domain" (kept with its dot): hosts under the domain.
    UriDomain(String),
    /// iPAddress network.
    Ip(IpNetwork),
    /// directoryName: names that start with these RDNs.
    Directory(NameKey),
    /// A form Cachet does not evaluate; for otherName, its type-id.
    Unevaluated(Option<ObjectIdentifier>),
}

/// The subtrees of one name form along the path.
#[derive(Debug, Clone, Default)]
struct FormConstraints {
    /// One entry per certificate whose permittedSubtrees had this form; a name must lie in
    /// some subtree of every entry. An empty entry permits nothing.
    permitted_layers: Vec<Vec<Subtree>>,
    /// The union of the excludedSubtrees of this form.
    excluded: Vec<Subtree>,
    /// Subtrees held, permitted and excluded: the comparisons one name of this form costs.
    subtree_count: usize,
}

impl FormConstraints {
    fn is_constrained(&self) -> bool {
        !self.permitted_layers.is_empty() || !self.excluded.is_empty()
    }
}

/// The `permitted_subtrees` and `excluded_subtrees` state variables of RFC 5280 §6.1.2 (b)–(c)
/// through a path. The default is unconstrained.
#[derive(Debug, Clone, Default)]
pub struct NameConstraintsState {
    forms: [FormConstraints; FORM_COUNT],
    stored_subtrees: usize,
}

/// A certificate name prepared for matching.
#[derive(Debug)]
enum NameValue {
    /// A mailbox: local part as written, domain lower-case ASCII (A-labels).
    Mailbox {
        local: String,
        domain: String,
    },
    /// A DNS name, lower case; may start with a "*" label.
    Dns(String),
    /// The host of a URI, lower case.
    UriHost(String),
    Ip(IpName),
    Directory(NameKey),
}

#[derive(Debug)]
struct IpName {
    len: usize,
    octets: [u8; 16],
}

/// A name of the certificate, with its form and how to show it in an error.
#[derive(Debug)]
struct Candidate {
    form: Form,
    value: NameValue,
    shown: String,
}

impl NameConstraintsState {
    /// An unconstrained state (RFC 5280 §6.1.2 (b)–(c) initial values).
    pub fn new() -> Self {
        Self::default()
    }

    /// A state whose rfc822Name names (and SmtpUTF8Mailbox names, and emailAddress
    /// attributes of certificates without an rfc822Name) must lie within `entries`, in the
    /// syntax of RFC 5280 §4.2.1.10: "partner.example" is every mailbox at that host,
    /// ".partner.example" every mailbox at hosts under it, "user@partner.example" that one
    /// mailbox. For a constrained trust anchor. An empty list permits no mailbox at all.
    /// Internationalised domains are converted to A-labels.
    pub fn permit_rfc822<S: AsRef<str>>(entries: &[S]) -> Result<Self, NameConstraintError> {
        if entries.len() > MAX_SUBTREES {
            return Err(NameConstraintError::TooComplex);
        }
        let layer = entries
            .iter()
            .map(|e| parse_rfc822_constraint(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = Self::default();
        let rfc822 = &mut state.forms[Form::Rfc822.index()];
        rfc822.subtree_count = layer.len();
        rfc822.permitted_layers.push(layer);
        state.stored_subtrees = entries.len();
        Ok(state)
    }

    /// Whether no constraint of any form applies.
    pub fn is_unconstrained(&self) -> bool {
        self.forms.iter().all(|f| !f.is_constrained())
    }

    /// RFC 5280 §6.1.4 (g): intersects the permitted subtrees with, and adds the excluded
    /// subtrees of, a CA certificate's nameConstraints. The state is unchanged on error.
    ///
    /// Refused as malformed (§4.2.1.10): an extension with neither field or with an empty
    /// one, a minimum other than 0 or any maximum, an iPAddress that is not an address and
    /// a CIDR mask of the same family, dNSName with a wildcard or a leading period,
    /// rfc822Name and URI constraints that are not mailboxes or host names.
    pub fn apply(&mut self, nc: &NameConstraints) -> Result<(), NameConstraintError> {
        if nc.permitted_subtrees.is_none() && nc.excluded_subtrees.is_none() {
            return Err(malformed(
                "nameConstraints has neither permittedSubtrees nor excludedSubtrees",
            ));
        }
        let permitted = compile_subtrees(nc.permitted_subtrees.as_deref(), "permittedSubtrees")?;
        let excluded = compile_subtrees(nc.excluded_subtrees.as_deref(), "excludedSubtrees")?;
        let total = self
            .stored_subtrees
            .saturating_add(permitted.len())
            .saturating_add(excluded.len());
        if total > MAX_SUBTREES {
            return Err(NameConstraintError::TooComplex);
        }
        self.stored_subtrees = total;

        // One new layer per form present in permittedSubtrees; other forms keep theirs.
        let mut layers: [Option<Vec<Subtree>>; FORM_COUNT] = Default::default();
        for (form, subtree) in permitted {
            layers[form.index()]
                .get_or_insert_with(Vec::new)
                .push(subtree);
        }
        for (constraints, layer) in self.forms.iter_mut().zip(layers) {
            if let Some(layer) = layer {
                constraints.subtree_count += layer.len();
                constraints.permitted_layers.push(layer);
            }
        }
        for (form, subtree) in excluded {
            let constraints = &mut self.forms[form.index()];
            constraints.subtree_count += 1;
            constraints.excluded.push(subtree);
        }
        Ok(())
    }

    /// RFC 5280 §6.1.3 (b)–(c): checks the subject and every subjectAltName of `cert`.
    ///
    /// §4.2.1.10 exempts self-issued certificates other than the last in the path; that
    /// decision is the caller's (see [`super::dn::is_self_issued`]).
    pub fn check(&self, cert: &ParsedCertificate) -> Result<(), NameConstraintError> {
        if self.is_unconstrained() {
            return Ok(());
        }
        let san = cert
            .subject_alt_name()
            .map_err(|e| malformed(e.to_string()))?;
        let alt_names = san.as_ref().map_or(&[][..], |(_, san)| san.0.as_slice());
        self.check_names(cert.inner().tbs_certificate().subject(), alt_names)
    }

    /// [`Self::check`] over a subject and subjectAltName entries: the subject, when not
    /// empty, against directoryName constraints; its emailAddress attributes against
    /// rfc822Name constraints when `alt_names` holds no rfc822Name; each alternative name
    /// against the constraints of its form.
    pub fn check_names(
        &self,
        subject: &Name,
        alt_names: &[GeneralName],
    ) -> Result<(), NameConstraintError> {
        if self.is_unconstrained() {
            return Ok(());
        }
        // otherNames are compared by type-id with every otherName constraint.
        let other_names = alt_names
            .iter()
            .filter(|n| matches!(n, GeneralName::OtherName(_)))
            .count();
        let other_name_comparisons =
            other_names.saturating_mul(self.forms[Form::OtherName.index()].subtree_count);
        if other_name_comparisons > MAX_NAME_COMPARISONS {
            return Err(NameConstraintError::TooComplex);
        }
        let candidates = self.candidates(subject, alt_names)?;
        let comparisons = candidates.iter().fold(other_name_comparisons, |sum, c| {
            sum.saturating_add(self.forms[c.form.index()].subtree_count)
        });
        if comparisons > MAX_NAME_COMPARISONS {
            return Err(NameConstraintError::TooComplex);
        }
        candidates.iter().try_for_each(|c| self.check_candidate(c))
    }

    fn constrains(&self, form: Form) -> bool {
        self.forms[form.index()].is_constrained()
    }

    /// Whether an otherName of `type_id` meets a constraint of the same type.
    fn constrains_other_name(&self, type_id: &ObjectIdentifier) -> bool {
        let other = &self.forms[Form::OtherName.index()];
        other
            .permitted_layers
            .iter()
            .flatten()
            .chain(&other.excluded)
            .any(|s| matches!(s, Subtree::Unevaluated(Some(t)) if t == type_id))
    }

    /// The certificate's names of constrained forms, parsed; an unparseable name of a
    /// constrained form is an error, since it cannot be shown to lie within the constraints.
    fn candidates(
        &self,
        subject: &Name,
        alt_names: &[GeneralName],
    ) -> Result<Vec<Candidate>, NameConstraintError> {
        let mut out = Vec::new();
        if !subject.is_empty() && self.constrains(Form::Directory) {
            out.push(Candidate {
                form: Form::Directory,
                value: NameValue::Directory(NameKey::of(subject)),
                shown: format!("subject {subject}"),
            });
        }
        let mut has_rfc822_name = false;
        for name in alt_names {
            match name {
                GeneralName::Rfc822Name(address) => {
                    has_rfc822_name = true;
                    if self.constrains(Form::Rfc822) {
                        let shown = format!("rfc822Name {}", address.as_str());
                        out.push(mailbox_candidate(address.as_str(), shown)?);
                    }
                }
                GeneralName::DnsName(dns) if self.constrains(Form::Dns) => {
                    let shown = format!("dNSName {}", dns.as_str());
                    let Some(value) = dns_name_value(dns.as_str()) else {
                        return Err(invalid_name(&shown));
                    };
                    out.push(Candidate {
                        form: Form::Dns,
                        value: NameValue::Dns(value),
                        shown,
                    });
                }
                GeneralName::UniformResourceIdentifier(uri) if self.constrains(Form::Uri) => {
                    let shown = format!("uniformResourceIdentifier {}", uri.as_str());
                    let host = uri_host(uri.as_str()).ok_or(NameConstraintError::Unsupported {
                        form: "uniformResourceIdentifier (without a host name)",
                    })?;
                    if !is_valid_host(host) {
                        return Err(invalid_name(&shown));
                    }
                    out.push(Candidate {
                        form: Form::Uri,
                        value: NameValue::UriHost(host.to_ascii_lowercase()),
                        shown,
                    });
                }
                GeneralName::IpAddress(octets) if self.constrains(Form::Ip) => {
                    let octets = octets.as_bytes();
                    let Some(ip) = ip_name(octets) else {
                        return Err(invalid_name(&format!(
                            "iPAddress of {} octets",
                            octets.len()
                        )));
                    };
                    out.push(Candidate {
                        form: Form::Ip,
                        shown: format!("iPAddress {}", show_ip(&ip)),
                        value: NameValue::Ip(ip),
                    });
                }
                GeneralName::DirectoryName(dn) if self.constrains(Form::Directory) => {
                    out.push(Candidate {
                        form: Form::Directory,
                        value: NameValue::Directory(NameKey::of(dn)),
                        shown: format!("directoryName {dn}"),
                    });
                }
                GeneralName::OtherName(other) => {
                    if self.constrains(Form::OtherName)
                        && self.constrains_other_name(&other.type_id)
                    {
                        return Err(NameConstraintError::Unsupported { form: "otherName" });
                    }
                    if other.type_id == ID_ON_SMTP_UTF8_MAILBOX && self.constrains(Form::Rfc822) {
                        let address = match other.value.tag() {
                            der::Tag::Utf8String => std::str::from_utf8(other.value.value()).ok(),
                            _ => None,
                        };
                        let Some(address) = address else {
                            return Err(invalid_name("SmtpUTF8Mailbox that is not a UTF8String"));
                        };
                        let shown = format!("SmtpUTF8Mailbox {address}");
                        out.push(mailbox_candidate(address, shown)?);
                    }
                }
                GeneralName::EdiPartyName(_) if self.constrains(Form::EdiParty) => {
                    return Err(NameConstraintError::Unsupported {
                        form: Form::EdiParty.label(),
                    });
                }
                GeneralName::RegisteredId(_) if self.constrains(Form::RegisteredId) => {
                    return Err(NameConstraintError::Unsupported {
                        form: Form::RegisteredId.label(),
                    });
                }
                _ => {}
            }
        }
        // RFC 5280 §4.2.1.10: legacy emailAddress attributes in the subject.
        if !has_rfc822_name && self.constrains(Form::Rfc822) {
            for attribute in subject.iter().filter(|a| a.oid == EMAIL_ADDRESS) {
                let Some(address) =
                    decode_directory_string(attribute.value.tag(), attribute.value.value())
                else {
                    return Err(invalid_name("subject emailAddress that is not a string"));
                };
                let shown = format!("subject emailAddress {address}");
                out.push(mailbox_candidate(&address, shown)?);
            }
        }
        Ok(out)
    }

    fn check_candidate(&self, candidate: &Candidate) -> Result<(), NameConstraintError> {
        let constraints = &self.forms[candidate.form.index()];
        for layer in &constraints.permitted_layers {
            if !layer.iter().any(|s| permits(s, &candidate.value)) {
                return Err(NameConstraintError::NotPermitted {
                    name: candidate.shown.clone(),
                });
            }
        }
        if constraints
            .excluded
            .iter()
            .any(|s| excludes(s, &candidate.value))
        {
            return Err(NameConstraintError::Excluded {
                name: candidate.shown.clone(),
            });
        }
        Ok(())
    }
}

fn invalid_name(shown: &str) -> NameConstraintError {
    malformed(format!(
        "the certificate's {shown} is not a valid name of its form"
    ))
}

/// The nameConstraints extension of `cert` with its criticality, decoded.
pub fn name_constraints_of(
    cert: &ParsedCertificate,
) -> Result<Option<(bool, NameConstraints)>, NameConstraintError> {
    use const_oid::AssociatedOid;
    let Some(extension) = cert
        .extension(NameConstraints::OID)
        .map_err(|e| malformed(e.to_string()))?
    else {
        return Ok(None);
    };
    let nc = NameConstraints::from_der(extension.extn_value.as_bytes())
        .map_err(|e| malformed(format!("nameConstraints: {e}")))?;
    Ok(Some((extension.critical, nc)))
}

/// Prepares the subtrees of one nameConstraints field, each with its form.
fn compile_subtrees(
    subtrees: Option<&[GeneralSubtree]>,
    field: &str,
) -> Result<Vec<(Form, Subtree)>, NameConstraintError> {
    let Some(subtrees) = subtrees else {
        return Ok(Vec::new());
    };
    if subtrees.is_empty() {
        return Err(malformed(format!("nameConstraints {field} is empty")));
    }
    if subtrees.len() > MAX_SUBTREES {
        return Err(NameConstraintError::TooComplex);
    }
    subtrees.iter().map(compile_subtree).collect()
}

/// Prepares one GeneralSubtree (RFC 5280 §4.2.1.10).
fn compile_subtree(subtree: &GeneralSubtree) -> Result<(Form, Subtree), NameConstraintError> {
    if subtree.minimum != 0 || subtree.maximum.is_some() {
        return Err(malformed(
            "a GeneralSubtree has a minimum or maximum, which RFC 5280 forbids",
        ));
    }
    Ok(match &subtree.base {
        GeneralName::Rfc822Name(c) => (Form::Rfc822, parse_rfc822_constraint(c.as_str())?),
        GeneralName::DnsName(c) => {
            let c = c.as_str();
            if !c.is_empty() && !is_valid_host(c) {
                return Err(malformed(format!(
                    "dNSName constraint \"{c}\" is not a domain name"
                )));
            }
            (Form::Dns, Subtree::DnsDomain(c.to_ascii_lowercase()))
        }
        GeneralName::UniformResourceIdentifier(c) => {
            let c = c.as_str();
            let subtree = match c.strip_prefix('.') {
                Some(domain) if is_valid_host(domain) => Subtree::UriDomain(c.to_ascii_lowercase()),
                None if is_valid_host(c) => Subtree::UriHost(c.to_ascii_lowercase()),
                _ => {
                    return Err(malformed(format!(
                        "uniformResourceIdentifier constraint \"{c}\" is not a host or domain name"
                    )));
                }
            };
            (Form::Uri, subtree)
        }
        GeneralName::IpAddress(c) => (Form::Ip, Subtree::Ip(parse_ip_constraint(c.as_bytes())?)),
        GeneralName::DirectoryName(base) => {
            (Form::Directory, Subtree::Directory(NameKey::of(base)))
        }
        GeneralName::OtherName(other) => {
            (Form::OtherName, Subtree::Unevaluated(Some(other.type_id)))
        }
        GeneralName::EdiPartyName(_) => (Form::EdiParty, Subtree::Unevaluated(None)),
        GeneralName::RegisteredId(_) => (Form::RegisteredId, Subtree::Unevaluated(None)),
    })
}

/// An rfc822Name constraint: a mailbox, a host, or a domain with a leading period
/// (RFC 5280 §4.2.1.10). Domains are lower-cased and converted to A-labels.
fn parse_rfc822_constraint(c: &str) -> Result<Subtree, NameConstraintError> {
    let bad = || {
        malformed(format!(
            "rfc822Name constraint \"{c}\" is not a mailbox, host or domain"
        ))
    };
    if c.contains('@') {
        let (local, domain) = split_mailbox(c).ok_or_else(bad)?;
        let domain = domain_to_ascii(domain)
            .filter(|d| is_valid_host(d))
            .ok_or_else(bad)?;
        return Ok(Subtree::Mailbox {
            local: local.to_string(),
            domain,
        });
    }
    match c.strip_prefix('.') {
        Some(domain) => {
            let domain = domain_to_ascii(domain)
                .filter(|d| is_valid_host(d))
                .ok_or_else(bad)?;
            Ok(Subtree::MailDomain(format!(".{domain}")))
        }
        None => {
            let host = domain_to_ascii(c)
                .filter(|d| is_valid_host(d))
                .ok_or_else(bad)?;
            Ok(Subtree::MailHost(host))
        }
    }
}

/// An iPAddress constraint: an IPv4 address and mask (8 octets) or IPv6 (32 octets), the
/// mask a CIDR prefix (RFC 5280 §4.2.1.10, RFC 4632).
fn parse_ip_constraint(octets: &[u8]) -> Result<IpNetwork, NameConstraintError> {
    let len = match octets.len() {
        8 => 4,
        32 => 16,
        n => {
            return Err(malformed(format!(
                "iPAddress constraint of {n} octets is not an address and mask"
            )));
        }
    };
    let (address_octets, mask_octets) = octets.split_at(len);
    let mut address = [0u8; 16];
    let mut mask = [0u8; 16];
    address[..len].copy_from_slice(address_octets);
    mask[..len].copy_from_slice(mask_octets);
    // A CIDR mask is ones then zeros (the unused IPv4 tail is zero too).
    let bits = u128::from_be_bytes(mask);
    let contiguous = bits.leading_ones() + bits.trailing_zeros() == 128;
    if !contiguous {
        return Err(malformed("iPAddress constraint mask is not a CIDR prefix"));
    }
    Ok(IpNetwork { len, address, mask })
}

fn ip_name(octets: &[u8]) -> Option<IpName> {
    if octets.len() != 4 && octets.len() != 16 {
        return None;
    }
    let mut ip = IpName {
        len: octets.len(),
        octets: [0u8; 16],
    };
    ip.octets[..octets.len()].copy_from_slice(octets);
    Some(ip)
}

fn show_ip(ip: &IpName) -> String {
    if ip.len == 4 {
        Ipv4Addr::new(ip.octets[0], ip.octets[1], ip.octets[2], ip.octets[3]).to_string()
    } else {
        Ipv6Addr::from(ip.octets).to_string()
    }
}

/// A mailbox name (rfc822Name, SmtpUTF8Mailbox or emailAddress) prepared for matching.
fn mailbox_candidate(address: &str, shown: String) -> Result<Candidate, NameConstraintError> {
    let Some((local, domain)) = split_mailbox(address) else {
        return Err(invalid_name(&shown));
    };
    let Some(domain) = domain_to_ascii(domain).filter(|d| is_valid_host(d)) else {
        return Err(invalid_name(&shown));
    };
    Ok(Candidate {
        form: Form::Rfc822,
        value: NameValue::Mailbox {
            local: local.to_string(),
            domain,
        },
        shown,
    })
}

/// Splits "local@domain" (RFC 5321 §4.1.2 Mailbox; a quoted local part may hold "@").
/// `None` without exactly one unquoted "@", or with an empty part.
fn split_mailbox(address: &str) -> Option<(&str, &str)> {
    let at = if address.starts_with('"') {
        let bytes = address.as_bytes();
        let mut i = 1;
        let mut closing = None;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    closing = Some(i);
                    break;
                }
                _ => i += 1,
            }
        }
        let after = closing? + 1;
        (address.as_bytes().get(after) == Some(&b'@')).then_some(after)?
    } else {
        address.find('@')?
    };
    let (local, domain) = (address.get(..at)?, address.get(at + 1..)?);
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return None;
    }
    Some((local, domain))
}

/// A dNSName from a certificate, lower-cased: a host name, or "*." and a host name.
fn dns_name_value(name: &str) -> Option<String> {
    let host = name.strip_prefix("*.").unwrap_or(name);
    is_valid_host(host).then(|| name.to_ascii_lowercase())
}

/// Whether `s` is an ASCII host name: dot-separated labels of 1–63 letters, digits, hyphens
/// or underscores (seen in practice), 253 octets at most, no empty label.
fn is_valid_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Whether `name` is `domain` or below it, label-wise; both lower case.
fn is_within_domain(name: &str, domain: &str) -> bool {
    name == domain
        || (name.len() > domain.len()
            && name.ends_with(domain)
            && name.as_bytes()[name.len() - domain.len() - 1] == b'.')
}

/// Whether `name` ends with `dotted_domain` (which starts with ".") and is longer.
fn is_below_domain(name: &str, dotted_domain: &str) -> bool {
    name.len() > dotted_domain.len() && name.ends_with(dotted_domain)
}

/// Whether a dNSName constraint covers every name `name` can stand for.
fn dns_subtree_contains(domain: &str, name: &str) -> bool {
    domain.is_empty() || is_within_domain(name, domain)
}

/// Whether the names `name` stands for and the subtree `domain` overlap: for "*.rest", also
/// a subtree of exactly one label below "rest", which the wildcard can name.
fn dns_subtree_meets(domain: &str, name: &str) -> bool {
    if dns_subtree_contains(domain, name) {
        return true;
    }
    match name.strip_prefix("*.") {
        Some(rest) => domain
            .strip_suffix(rest)
            .and_then(|label| label.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => false,
    }
}

/// Whether subtree `s` contains all of `name` (for permittedSubtrees).
fn permits(s: &Subtree, name: &NameValue) -> bool {
    match (s, name) {
        (Subtree::DnsDomain(d), NameValue::Dns(n)) => dns_subtree_contains(d, n),
        _ => contains(s, name),
    }
}

/// Whether subtree `s` contains any of `name` (for excludedSubtrees).
fn excludes(s: &Subtree, name: &NameValue) -> bool {
    match (s, name) {
        (Subtree::DnsDomain(d), NameValue::Dns(n)) => dns_subtree_meets(d, n),
        _ => contains(s, name),
    }
}

/// Whether subtree `s` contains `name` (RFC 5280 §4.2.1.10), for names that stand for one
/// name only.
fn contains(s: &Subtree, name: &NameValue) -> bool {
    match (s, name) {
        (
            Subtree::Mailbox { local, domain },
            NameValue::Mailbox {
                local: l,
                domain: d,
            },
        ) => local == l && domain == d,
        (Subtree::MailHost(host), NameValue::Mailbox { domain, .. }) => host == domain,
        (Subtree::MailDomain(dotted), NameValue::Mailbox { domain, .. }) => {
            is_below_domain(domain, dotted)
        }
        (Subtree::DnsDomain(d), NameValue::Dns(n)) => dns_subtree_contains(d, n),
        (Subtree::UriHost(h), NameValue::UriHost(host)) => h == host,
        (Subtree::UriDomain(dotted), NameValue::UriHost(host)) => is_below_domain(host, dotted),
        (Subtree::Ip(network), NameValue::Ip(ip)) => network.contains(ip),
        (Subtree::Directory(base), NameValue::Directory(key)) => base.is_prefix_of(key),
        _ => false,
    }
}

/// The host of an absolute URI with an authority ("scheme://[userinfo@]host[:port]..."),
/// or `None` when it has none or the host is an IP literal (RFC 3986 §3.2.2).
fn uri_host(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once(':')?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let rest = rest.strip_prefix("//")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return None;
    }
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return None,
        None => host_port,
    };
    if host.is_empty() || host.parse::<Ipv4Addr>().is_ok() {
        return None;
    }
    Some(host)
}

/// A domain name in lower-case ASCII, its non-ASCII labels as Punycode A-labels
/// (RFC 5891 §4.4, RFC 3492). A best effort: labels are lower-cased, not UTS #46-mapped.
fn domain_to_ascii(domain: &str) -> Option<String> {
    if domain.is_ascii() {
        return Some(domain.to_ascii_lowercase());
    }
    let mut out = String::with_capacity(domain.len() + 8);
    for (i, label) in domain.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        if label.is_ascii() {
            out.push_str(&label.to_ascii_lowercase());
        } else {
            let lower: Vec<char> = label.chars().flat_map(char::to_lowercase).collect();
            out.push_str("xn--");
            out.push_str(&punycode_encode(&lower)?);
        }
    }
    Some(out)
}

/// Punycode encoding (RFC 3492 §6.3); `None` on overflow.
fn punycode_encode(input: &[char]) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const INITIAL_N: u32 = 128;
    const INITIAL_BIAS: u32 = 72;

    fn digit(d: u32) -> char {
        // d < 36 by construction.
        let d = u8::try_from(d).unwrap_or(0);
        if d < 26 {
            char::from(b'a' + d)
        } else {
            char::from(b'0' + d - 26)
        }
    }
    fn threshold(k: u32, bias: u32) -> u32 {
        if k <= bias {
            T_MIN
        } else if k >= bias + T_MAX {
            T_MAX
        } else {
            k - bias
        }
    }

    let mut output: String = input.iter().filter(|c| c.is_ascii()).collect();
    let basic = u32::try_from(output.len()).ok()?;
    let total = u32::try_from(input.len()).ok()?;
    if basic > 0 {
        output.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (INITIAL_N, 0u32, INITIAL_BIAS, basic);
    while handled < total {
        let m = input
            .iter()
            .map(|&c| u32::from(c))
            .filter(|&c| c >= n)
            .min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in input {
            let c = u32::from(c);
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = threshold(k, bias);
                    if q < t {
                        break;
                    }
                    output.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(digit(q));
                bias = punycode_adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(output)
}

/// Bias adaptation (RFC 3492 §6.1).
fn punycode_adapt(delta: u32, points: u32, first: bool) -> u32 {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

/// Whether the dNSName `pattern` of a certificate matches the reference host name `host`
/// (RFC 6125 §6.4.1, §6.4.3): equal ignoring ASCII case, or `pattern` is "*." and a domain,
/// and `host` is one non-empty label more than that domain. No other wildcard is honoured
/// (none in other labels, none inside a label). Both must be in the preferred name syntax
/// RFC 5280 §4.2.1.6 requires of a dNSName (see [`is_preferred_name`]): a name with an
/// underscore, say, matches nothing.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    if !is_preferred_name(host) {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(domain) => {
            is_preferred_name(domain)
                && host
                    .split_once('.')
                    .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(domain))
        }
        None => is_preferred_name(pattern) && pattern.eq_ignore_ascii_case(host),
    }
}

/// Whether `s` is a host name in the "preferred name syntax" of RFC 1034 §3.5 as relaxed by
/// RFC 1123 §2.1 (which RFC 5280 §4.2.1.6 requires of dNSName): labels of ASCII letters,
/// digits and hyphens, neither starting nor ending with a hyphen.
fn is_preferred_name(s: &str) -> bool {
    is_valid_host(s)
        && s.split('.').all(|label| {
            !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The identity a relying party expects of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerName<'a> {
    /// A DNS host name, matched against subjectAltName dNSNames (RFC 6125 §6.4).
    Dns(&'a str),
    /// An IP address, matched against subjectAltName iPAddress entries.
    Ip(IpAddr),
    /// A mailbox, matched against subjectAltName rfc822Name and SmtpUTF8Mailbox entries
    /// (RFC 8550 §3, RFC 9598 §5): local part exact, domain ignoring case.
    Rfc822(&'a str),
}

/// Whether `cert` names `peer` in its subjectAltName. The subject's commonName is never
/// consulted (RFC 6125 §6.4.4 is not followed: no CN fallback).
pub fn cert_matches_peer(cert: &ParsedCertificate, peer: PeerName<'_>) -> bool {
    match cert.subject_alt_name() {
        Ok(Some((_, san))) => alt_names_match_peer(&san.0, peer),
        _ => false,
    }
}

/// [`cert_matches_peer`] over subjectAltName entries.
pub fn alt_names_match_peer(alt_names: &[GeneralName], peer: PeerName<'_>) -> bool {
    match peer {
        PeerName::Dns(host) => {
            let Some(host) = domain_to_ascii(host) else {
                return false;
            };
            alt_names.iter().any(|name| match name {
                GeneralName::DnsName(pattern) => dns_name_matches(pattern.as_str(), &host),
                _ => false,
            })
        }
        PeerName::Ip(ip) => {
            let wanted: Vec<u8> = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            alt_names.iter().any(|name| match name {
                GeneralName::IpAddress(octets) => octets.as_bytes() == wanted.as_slice(),
                _ => false,
            })
        }
        PeerName::Rfc822(address) => {
            let Some(wanted) = normalized_mailbox(address) else {
                return false;
            };
            alt_names.iter().any(|name| {
                let found = match name {
                    GeneralName::Rfc822Name(a) => normalized_mailbox(a.as_str()),
                    GeneralName::OtherName(other) if other.type_id == ID_ON_SMTP_UTF8_MAILBOX => {
                        match other.value.tag() {
                            der::Tag::Utf8String => std::str::from_utf8(other.value.value())
                                .ok()
                                .and_then(normalized_mailbox),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                found.as_ref() == Some(&wanted)
            })
        }
    }
}

/// A mailbox as (local part, domain in lower-case A-labels).
fn normalized_mailbox(address: &str) -> Option<(String, String)> {
    let (local, domain) = split_mailbox(address)?;
    let domain = domain_to_ascii(domain).filter(|d| is_valid_host(d))?;
    Some((local.to_string(), domain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::{Any, Ia5String, OctetString};
    use std::str::FromStr;
    use x509_cert::ext::pkix::name::OtherName;

    fn ia5(s: &str) -> Ia5String {
        Ia5String::new(s).expect("ASCII")
    }
    fn dns(s: &str) -> GeneralName {
        GeneralName::DnsName(ia5(s))
    }
    fn email(s: &str) -> GeneralName {
        GeneralName::Rfc822Name(ia5(s))
    }
    fn uri(s: &str) -> GeneralName {
        GeneralName::UniformResourceIdentifier(ia5(s))
    }
    fn ip(octets: &[u8]) -> GeneralName {
        GeneralName::IpAddress(OctetString::new(octets).expect("octets"))
    }
    fn dir(s: &str) -> GeneralName {
        GeneralName::DirectoryName(name(s))
    }
    fn name(s: &str) -> Name {
        if s.is_empty() {
            return Name::default();
        }
        Name::from_str(s).expect("test name")
    }
    fn other_name(oid: &str, value: Any) -> GeneralName {
        GeneralName::OtherName(OtherName {
            type_id: ObjectIdentifier::new_unwrap(oid),
            value,
        })
    }
    fn smtp_utf8(address: &str) -> GeneralName {
        other_name(
            "1.3.6.1.5.5.7.8.9",
            Any::new(der::Tag::Utf8String, address.as_bytes()).expect("utf8"),
        )
    }
    fn subtree(base: GeneralName) -> GeneralSubtree {
        GeneralSubtree {
            base,
            minimum: 0,
            maximum: None,
        }
    }
    fn permitted(bases: Vec<GeneralName>) -> NameConstraints {
        NameConstraints {
            permitted_subtrees: Some(bases.into_iter().map(subtree).collect()),
            excluded_subtrees: None,
        }
    }
    fn excluded(bases: Vec<GeneralName>) -> NameConstraints {
        NameConstraints {
            permitted_subtrees: None,
            excluded_subtrees: Some(bases.into_iter().map(subtree).collect()),
        }
    }
    fn state(constraints: &[NameConstraints]) -> NameConstraintsState {
        let mut state = NameConstraintsState::default();
        for nc in constraints {
            state.apply(nc).expect("constraints apply");
        }
        state
    }
    /// Checks alternative names with an empty subject.
    fn check(
        state: &NameConstraintsState,
        names: &[GeneralName],
    ) -> Result<(), NameConstraintError> {
        state.check_names(&Name::default(), names)
    }
    fn is_not_permitted(r: Result<(), NameConstraintError>) -> bool {
        matches!(r, Err(NameConstraintError::NotPermitted { .. }))
    }
    fn is_excluded(r: Result<(), NameConstraintError>) -> bool {
        matches!(r, Err(NameConstraintError::Excluded { .. }))
    }
    fn is_malformed(r: Result<(), NameConstraintError>) -> bool {
        matches!(r, Err(NameConstraintError::Malformed { .. }))
    }

    #[test]
    fn default_state_permits_everything() {
        let s = NameConstraintsState::default();
        assert!(s.is_unconstrained());
        assert!(check(&s, &[dns("anything.test"), email("a@b"), ip(&[1])]).is_ok());
    }

    #[test]
    fn rfc822_host_domain_and_mailbox_constraints() {
        // RFC 5280 §4.2.1.10: host, ".domain" (subdomains only), exact mailbox.
        let host = state(&[permitted(vec![email("example.com")])]);
        assert!(check(&host, &[email("alice@example.com")]).is_ok());
        assert!(check(&host, &[email("alice@EXAMPLE.com")]).is_ok());
        assert!(is_not_permitted(check(
            &host,
            &[email("alice@sub.example.com")]
        )));
        assert!(is_not_permitted(check(
            &host,
            &[email("alice@badexample.com")]
        )));

        let domain = state(&[permitted(vec![email(".example.com")])]);
        assert!(check(&domain, &[email("alice@sub.example.com")]).is_ok());
        assert!(check(&domain, &[email("alice@a.b.Example.COM")]).is_ok());
        assert!(is_not_permitted(check(
            &domain,
            &[email("alice@example.com")]
        )));
        assert!(is_not_permitted(check(
            &domain,
            &[email("alice@badexample.com")]
        )));

        let mailbox = state(&[permitted(vec![email("alice@example.com")])]);
        assert!(check(&mailbox, &[email("alice@Example.com")]).is_ok());
        // The local part is compared exactly.
        assert!(is_not_permitted(check(
            &mailbox,
            &[email("Alice@example.com")]
        )));
        assert!(is_not_permitted(check(
            &mailbox,
            &[email("bob@example.com")]
        )));
    }

    #[test]
    fn rfc822_literal_asterisk_is_not_a_wildcard() {
        let s = state(&[permitted(vec![email("*@example.com")])]);
        assert!(check(&s, &[email("*@example.com")]).is_ok());
        assert!(is_not_permitted(check(&s, &[email("user@example.com")])));
    }

    #[test]
    fn rfc822_excluded() {
        let s = state(&[excluded(vec![email("example.com")])]);
        assert!(is_excluded(check(&s, &[email("bob@example.com")])));
        assert!(check(&s, &[email("bob@other.com")]).is_ok());
    }

    #[test]
    fn malformed_mailboxes_fail_when_constrained() {
        let s = state(&[permitted(vec![email("example.com")])]);
        assert!(is_malformed(check(
            &s,
            &[email("invalid@address@example.com")]
        )));
        assert!(is_malformed(check(&s, &[email("no-at-sign")])));
        // A quoted local part may contain "@".
        assert!(check(&s, &[email("\"a@b\"@example.com")]).is_ok());
        // Not constrained: not examined.
        let dns_only = state(&[permitted(vec![dns("example.com")])]);
        assert!(check(&dns_only, &[email("invalid@address@example.com")]).is_ok());
    }

    #[test]
    fn malformed_rfc822_constraint_is_refused() {
        let mut s = NameConstraintsState::default();
        let r = s.apply(&permitted(vec![email("invalid@invalid@example.com")]));
        assert!(is_malformed(r));
        assert!(s.is_unconstrained(), "state unchanged on error");
    }

    #[test]
    fn subject_email_address_is_checked_without_rfc822_san() {
        let s = state(&[permitted(vec![email("example.com")])]);
        let subject = name("CN=Alice,1.2.840.113549.1.9.1=alice@other.com");
        assert!(is_not_permitted(s.check_names(&subject, &[])));
        let subject_ok = name("CN=Alice,1.2.840.113549.1.9.1=alice@example.com");
        assert!(s.check_names(&subject_ok, &[]).is_ok());
        // With an rfc822Name SAN, the SAN is what is checked.
        assert!(
            s.check_names(&subject, &[email("alice@example.com")])
                .is_ok()
        );
    }

    #[test]
    fn smtp_utf8_mailbox_is_checked_as_rfc822() {
        let s = state(&[permitted(vec![email("xn--bcher-kva.example")])]);
        assert!(check(&s, &[smtp_utf8("用户@Bücher.example")]).is_ok());
        assert!(is_not_permitted(check(
            &s,
            &[smtp_utf8("用户@other.example")]
        )));
        let x = state(&[excluded(vec![email(".example")])]);
        assert!(is_excluded(check(&x, &[smtp_utf8("用户@bücher.example")])));
    }

    #[test]
    fn punycode_matches_rfc_3492_examples() {
        assert_eq!(
            domain_to_ascii("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            domain_to_ascii("MÜNCHEN.de").as_deref(),
            Some("xn--mnchen-3ya.de")
        );
        assert_eq!(
            domain_to_ascii("例え.jp").as_deref(),
            Some("xn--r8jz45g.jp")
        );
    }

    #[test]
    fn dns_constraints_are_label_suffixes() {
        let s = state(&[permitted(vec![dns("example.com")])]);
        assert!(check(&s, &[dns("example.com")]).is_ok());
        assert!(check(&s, &[dns("foo.bar.EXAMPLE.com")]).is_ok());
        assert!(is_not_permitted(check(&s, &[dns("myexample.com")])));
        assert!(is_not_permitted(check(&s, &[dns("example.com.evil")])));
        // Every name must be permitted.
        assert!(is_not_permitted(check(
            &s,
            &[dns("a.example.com"), dns("b.test")]
        )));
        // Other forms are not constrained by dNSName subtrees.
        assert!(check(&s, &[email("x@elsewhere.test"), ip(&[10, 0, 0, 1])]).is_ok());
    }

    #[test]
    fn empty_dns_constraint_covers_every_name() {
        let all = state(&[excluded(vec![dns("")])]);
        assert!(is_excluded(check(&all, &[dns("anything.test")])));
        let any = state(&[permitted(vec![dns("")])]);
        assert!(check(&any, &[dns("anything.test")]).is_ok());
    }

    #[test]
    fn dns_constraint_syntax_is_enforced() {
        for bad in [
            "*.example.com",
            ".example.com",
            "exa mple.com",
            "example..com",
        ] {
            let mut s = NameConstraintsState::default();
            assert!(is_malformed(s.apply(&permitted(vec![dns(bad)]))), "{bad}");
        }
        let s = state(&[permitted(vec![dns("example.com")])]);
        assert!(is_malformed(check(&s, &[dns(".example.com")])));
    }

    #[test]
    fn wildcard_dns_names() {
        let s = state(&[permitted(vec![dns("foo.com")])]);
        assert!(check(&s, &[dns("*.foo.com")]).is_ok());
        let narrow = state(&[permitted(vec![dns("bar.foo.com")])]);
        assert!(is_not_permitted(check(&narrow, &[dns("*.foo.com")])));
        // "*.example.com" can stand for bar.example.com, which is excluded.
        let x = state(&[excluded(vec![dns("bar.example.com")])]);
        assert!(is_excluded(check(&x, &[dns("*.example.com")])));
        let deeper = state(&[excluded(vec![dns("a.bar.example.com")])]);
        assert!(check(&deeper, &[dns("*.example.com")]).is_ok());
    }

    #[test]
    fn permitted_subtrees_intersect_across_certificates() {
        // Each certificate's permitted dNSName subtrees narrow the set.
        let s = state(&[
            permitted(vec![dns("example.com")]),
            permitted(vec![dns("foo.example.com"), dns("other.test")]),
        ]);
        assert!(check(&s, &[dns("a.foo.example.com")]).is_ok());
        assert!(is_not_permitted(check(&s, &[dns("bar.example.com")])));
        assert!(is_not_permitted(check(&s, &[dns("other.test")])));
        // A later certificate cannot widen.
        let widen = state(&[
            permitted(vec![dns("foo.example.com")]),
            permitted(vec![dns("example.com")]),
        ]);
        assert!(is_not_permitted(check(&widen, &[dns("bar.example.com")])));
        // A certificate without a form's permitted subtrees leaves that form as it was.
        let other_form = state(&[
            permitted(vec![dns("example.com")]),
            permitted(vec![email("example.com")]),
        ]);
        assert!(check(&other_form, &[dns("a.example.com"), email("x@example.com")]).is_ok());
        assert!(is_not_permitted(check(&other_form, &[dns("a.test")])));
    }

    #[test]
    fn excluded_subtrees_accumulate_and_win() {
        let s = state(&[
            NameConstraints {
                permitted_subtrees: Some(vec![subtree(dns("example.com"))]),
                excluded_subtrees: Some(vec![subtree(dns("bad.example.com"))]),
            },
            excluded(vec![dns("worse.example.com")]),
        ]);
        assert!(check(&s, &[dns("good.example.com")]).is_ok());
        assert!(is_excluded(check(&s, &[dns("x.bad.example.com")])));
        assert!(is_excluded(check(&s, &[dns("worse.example.com")])));
    }

    #[test]
    fn ip_constraints() {
        let s = state(&[permitted(vec![
            ip(&[192, 0, 2, 0, 255, 255, 255, 0]),
            ip(&[
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ]),
        ])]);
        assert!(check(&s, &[ip(&[192, 0, 2, 77])]).is_ok());
        assert!(is_not_permitted(check(&s, &[ip(&[192, 0, 3, 1])])));
        let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(check(&s, &[ip(&v6)]).is_ok());
        // A name that is not an address is malformed.
        assert!(is_malformed(check(
            &s,
            &[ip(&[192, 0, 2, 0, 255, 255, 255, 0])]
        )));
    }

    #[test]
    fn ipv4_names_never_match_ipv6_constraints() {
        let mut v6_all = vec![0u8; 32];
        v6_all[..16].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 0]);
        v6_all[16..].fill(0xff);
        let s = state(&[permitted(vec![ip(&v6_all)])]);
        assert!(is_not_permitted(check(&s, &[ip(&[192, 0, 2, 0])])));
        let x = state(&[excluded(vec![ip(&[0u8; 32])])]);
        assert!(check(&x, &[ip(&[10, 0, 0, 1])]).is_ok());
        assert!(is_excluded(check(&x, &[ip(&[0u8; 16])])));
    }

    #[test]
    fn ip_constraint_syntax_is_enforced() {
        for bad in [
            vec![127, 0, 0, 1],
            vec![10, 0, 0, 0, 255, 0, 255, 0],
            vec![10, 0, 0, 0, 255, 255, 0b1011_0000, 0],
        ] {
            let mut s = NameConstraintsState::default();
            assert!(is_malformed(s.apply(&permitted(vec![ip(&bad)]))), "{bad:?}");
        }
        let mut s = NameConstraintsState::default();
        assert!(
            s.apply(&permitted(vec![ip(&[10, 0, 0, 0, 255, 240, 0, 0])]))
                .is_ok()
        );
    }

    #[test]
    fn directory_name_constraints_apply_to_subject_and_san() {
        let s = state(&[permitted(vec![dir("O=Test Certificates,C=US")])]);
        let inside = name("CN=Alice,OU=permitted,O=Test Certificates,C=US");
        let outside = name("CN=Alice,O=Other,C=US");
        assert!(s.check_names(&inside, &[]).is_ok());
        // RFC 4518 preparation applies.
        assert!(
            s.check_names(&name("CN=a,O=test  certificates,C=us"), &[])
                .is_ok()
        );
        assert!(is_not_permitted(s.check_names(&outside, &[])));
        // An empty subject is not checked, but a directoryName in the SAN is.
        assert!(s.check_names(&Name::default(), &[]).is_ok());
        assert!(is_not_permitted(
            s.check_names(&inside, &[dir("CN=x,O=Other,C=US")])
        ));

        let x = state(&[excluded(vec![dir("OU=excluded,O=Test Certificates,C=US")])]);
        assert!(is_excluded(x.check_names(
            &name("CN=Bob,OU=excluded,O=Test Certificates,C=US"),
            &[]
        )));
        assert!(x.check_names(&inside, &[]).is_ok());
    }

    #[test]
    fn uri_constraints_match_the_host() {
        let domain = state(&[permitted(vec![uri(".example.com")])]);
        assert!(check(&domain, &[uri("http://host.example.com/index.html")]).is_ok());
        assert!(check(&domain, &[uri("https://user@a.b.EXAMPLE.com:8443/x?y#z")]).is_ok());
        assert!(is_not_permitted(check(
            &domain,
            &[uri("http://example.com/")]
        )));
        let host = state(&[excluded(vec![uri("example.com")])]);
        assert!(is_excluded(check(&host, &[uri("ftp://example.com:21/x/")])));
        assert!(check(&host, &[uri("http://sub.example.com/")]).is_ok());
        assert!(matches!(
            check(&host, &[uri("urn:isbn:123")]),
            Err(NameConstraintError::Unsupported { .. })
        ));
    }

    #[test]
    fn unevaluated_forms_refuse_only_names_of_that_form() {
        let private = "1.3.6.1.4.1.55738.666.1";
        let value = Any::new(der::Tag::Utf8String, b"x".as_slice()).expect("utf8");
        let s = state(&[excluded(vec![other_name(private, value.clone())])]);
        assert_eq!(
            check(&s, &[other_name(private, value.clone())]),
            Err(NameConstraintError::Unsupported { form: "otherName" })
        );
        assert!(check(&s, &[dns("example.com")]).is_ok());
        // Another otherName type is another form.
        assert!(check(&s, &[other_name("1.3.6.1.4.1.55738.666.2", value)]).is_ok());
        let r = state(&[permitted(vec![GeneralName::RegisteredId(
            ObjectIdentifier::new_unwrap("1.2.3"),
        )])]);
        assert!(matches!(
            check(
                &r,
                &[GeneralName::RegisteredId(ObjectIdentifier::new_unwrap(
                    "1.2.3"
                ))]
            ),
            Err(NameConstraintError::Unsupported { .. })
        ));
    }

    #[test]
    fn malformed_extensions_are_refused() {
        let mut s = NameConstraintsState::default();
        let neither = NameConstraints {
            permitted_subtrees: None,
            excluded_subtrees: None,
        };
        assert!(is_malformed(s.apply(&neither)));
        let empty = NameConstraints {
            permitted_subtrees: Some(vec![]),
            excluded_subtrees: Some(vec![]),
        };
        assert!(is_malformed(s.apply(&empty)));
        let with_minimum = NameConstraints {
            permitted_subtrees: Some(vec![GeneralSubtree {
                base: dns("example.com"),
                minimum: 1,
                maximum: None,
            }]),
            excluded_subtrees: None,
        };
        assert!(is_malformed(s.apply(&with_minimum)));
        let with_maximum = NameConstraints {
            permitted_subtrees: Some(vec![GeneralSubtree {
                base: dns("example.com"),
                minimum: 0,
                maximum: Some(3),
            }]),
            excluded_subtrees: None,
        };
        assert!(is_malformed(s.apply(&with_maximum)));
        assert!(s.is_unconstrained());
    }

    #[test]
    fn work_is_bounded() {
        let constraints: Vec<GeneralName> = (0..2048).map(|i| dns(&format!("t{i}.test"))).collect();
        let s = state(&[NameConstraints {
            permitted_subtrees: Some(constraints.iter().cloned().map(subtree).collect()),
            excluded_subtrees: Some(constraints.iter().cloned().map(subtree).collect()),
        }]);
        let names: Vec<GeneralName> = (0..1024).map(|i| dns(&format!("x{i}.test"))).collect();
        assert_eq!(check(&s, &names), Err(NameConstraintError::TooComplex));
        // A few names against the same constraints are fine.
        assert!(is_not_permitted(check(&s, &names[..4])));

        let mut big = NameConstraintsState::default();
        let many: Vec<GeneralName> = (0..MAX_SUBTREES / 2 + 1)
            .map(|i| dns(&format!("t{i}.test")))
            .collect();
        big.apply(&permitted(many.clone()))
            .expect("first half fits");
        assert_eq!(
            big.apply(&permitted(many)),
            Err(NameConstraintError::TooComplex)
        );
    }

    #[test]
    fn permit_rfc822_constrains_a_trust_anchor() {
        let s = NameConstraintsState::permit_rfc822(&[
            "partner.example",
            ".partner.example",
            "ceo@corp.example",
        ])
        .expect("valid entries");
        assert!(check(&s, &[email("a@partner.example")]).is_ok());
        assert!(check(&s, &[email("a@mail.Partner.example")]).is_ok());
        assert!(check(&s, &[email("ceo@corp.example")]).is_ok());
        assert!(is_not_permitted(check(&s, &[email("cfo@corp.example")])));
        assert!(is_not_permitted(check(&s, &[email("a@elsewhere.example")])));
        // Names of other forms are unconstrained.
        assert!(check(&s, &[dns("www.elsewhere.example")]).is_ok());
        // Further constraints still narrow it.
        let mut narrowed = s.clone();
        narrowed
            .apply(&permitted(vec![email(".partner.example")]))
            .expect("applies");
        assert!(is_not_permitted(check(
            &narrowed,
            &[email("a@partner.example")]
        )));

        let nothing = NameConstraintsState::permit_rfc822::<&str>(&[]).expect("empty");
        assert!(is_not_permitted(check(
            &nothing,
            &[email("a@partner.example")]
        )));
        assert!(NameConstraintsState::permit_rfc822(&["a@b@c"]).is_err());
    }

    #[test]
    fn errors_read_as_sentences() {
        let e = NameConstraintError::NotPermitted {
            name: "rfc822Name alice@x.example".into(),
        };
        assert!(
            e.to_string()
                .starts_with("The rfc822Name alice@x.example is outside")
        );
        assert!(NameConstraintError::TooComplex.to_string().ends_with('.'));
    }

    #[test]
    fn dns_peer_name_matching_follows_rfc_6125() {
        assert!(dns_name_matches("www.example.com", "WWW.Example.com"));
        assert!(dns_name_matches("*.example.com", "foo.example.com"));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("*.example.com", ".example.com"));
        assert!(!dns_name_matches("f*.example.com", "foo.example.com"));
        assert!(!dns_name_matches("www.*.com", "www.example.com"));
        assert!(!dns_name_matches("*", "localhost"));
        assert!(!dns_name_matches("*.*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("example.com", "example.com."));
        // RFC 5280 §4.2.1.6: only the preferred name syntax (no underscore, no hyphen at
        // either end of a label) names a host.
        assert!(!dns_name_matches(
            "foo_bar.example.com",
            "foo_bar.example.com"
        ));
        assert!(!dns_name_matches("*.example.com", "foo_bar.example.com"));
        assert!(!dns_name_matches("-foo.example.com", "-foo.example.com"));
        assert!(!dns_name_matches("foo-.example.com", "foo-.example.com"));
        assert!(dns_name_matches(
            "foo-bar.example.com",
            "FOO-BAR.example.com"
        ));
        assert!(dns_name_matches(
            "xn--bcher-kva.example",
            "xn--bcher-kva.example"
        ));
    }

    #[test]
    fn peer_names_match_subject_alt_names() {
        let san = [
            dns("*.example.com"),
            ip(&[192, 0, 2, 1]),
            email("Alice@Example.COM"),
            smtp_utf8("用户@bücher.example"),
        ];
        assert!(alt_names_match_peer(
            &san,
            PeerName::Dns("mail.example.com")
        ));
        assert!(!alt_names_match_peer(&san, PeerName::Dns("example.com")));
        assert!(alt_names_match_peer(
            &san,
            PeerName::Ip("192.0.2.1".parse().expect("ip"))
        ));
        assert!(!alt_names_match_peer(
            &san,
            PeerName::Ip("::ffff:192.0.2.1".parse().expect("ip"))
        ));
        assert!(alt_names_match_peer(
            &san,
            PeerName::Rfc822("Alice@example.com")
        ));
        assert!(!alt_names_match_peer(
            &san,
            PeerName::Rfc822("alice@example.com")
        ));
        assert!(alt_names_match_peer(
            &san,
            PeerName::Rfc822("用户@xn--bcher-kva.example")
        ));
        assert!(!alt_names_match_peer(
            &san,
            PeerName::Rfc822("not an address")
        ));
    }
}
