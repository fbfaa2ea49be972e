//! The basic path validation algorithm of RFC 5280 §6.1 over one candidate path, then
//! revocation (§6.3) of each of its certificates.

use super::build::Builder;
use super::names::NameConstraintsState;
use super::policy::{PolicyExtensions, PolicyValidator};
use super::{Purpose, RevocationCheck, RevocationPolicy, RevocationStatus};
use crate::ParsedCertificate;
use crate::time::rfc3339;
use crate::verdict::{Code, Finding, Severity};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280 as oids;
use x509_cert::ext::pkix::KeyUsages;

/// anyExtendedKeyUsage (RFC 5280 §4.2.1.12).
pub(super) const ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// Extensions this validator processes: a critical extension outside this list makes the
/// certificate unusable (RFC 5280 §4.2, §6.1.4 (o), §6.1.5 (f)).
const UNDERSTOOD: [ObjectIdentifier; 14] = [
    oids::ID_CE_BASIC_CONSTRAINTS,
    oids::ID_CE_KEY_USAGE,
    oids::ID_CE_EXT_KEY_USAGE,
    oids::ID_CE_SUBJECT_ALT_NAME,
    oids::ID_CE_ISSUER_ALT_NAME,
    oids::ID_CE_NAME_CONSTRAINTS,
    oids::ID_CE_CERTIFICATE_POLICIES,
    oids::ID_CE_POLICY_MAPPINGS,
    oids::ID_CE_POLICY_CONSTRAINTS,
    oids::ID_CE_INHIBIT_ANY_POLICY,
    oids::ID_CE_SUBJECT_KEY_IDENTIFIER,
    oids::ID_CE_AUTHORITY_KEY_IDENTIFIER,
    oids::ID_CE_CRL_DISTRIBUTION_POINTS,
    oids::ID_CE_FRESHEST_CRL,
];

/// What processing one path found.
#[derive(Debug, Default)]
pub(super) struct PathOutcome {
    pub findings: Vec<Finding>,
    pub policies: Vec<ObjectIdentifier>,
    pub revocation: Vec<RevocationCheck>,
    pub leaf_key: Option<Vec<u8>>,
}

impl PathOutcome {
    pub fn first_error(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.severity == Severity::Error)
    }

    fn error(&mut self, code: Code, about: &ParsedCertificate, message: String) {
        self.findings
            .push(Finding::error(code, message).about(about.subject()));
    }

    fn has_errors(&self) -> bool {
        self.first_error().is_some()
    }
}

/// Processes `path` (node indices, leaf first, anchor last) per RFC 5280 §6.1.
pub(super) fn process(b: &mut Builder<'_>, path: &[usize]) -> PathOutcome {
    let mut out = PathOutcome::default();
    let at = b.opts.at;
    let anchor_node = *path.last().unwrap_or(&0);
    let n = path.len() - 1;

    // §6.1.2 initialisation from the trust anchor.
    let anchor = &b.graph.nodes[anchor_node];
    let mut working_key = anchor.spki.clone();
    let mut working_params = cachet_crypto::dsa::parameters_of(&working_key);
    let mut max_path_length = n;
    let mut policy = PolicyValidator::new(&b.opts.policy, n);
    let mut policy_failed = false;
    let mut constraints = match anchor.anchor.and_then(|a| b.material.anchors.get(a)) {
        Some(a) if !a.permitted_email.is_empty() => {
            match NameConstraintsState::permit_rfc822(&a.permitted_email) {
                Ok(c) => c,
                Err(e) => {
                    let cert = anchor.cert.clone();
                    out.error(
                        Code::Malformed,
                        &cert,
                        format!("the trust anchor's address constraint is unusable: {e}"),
                    );
                    NameConstraintsState::default()
                }
            }
        }
        _ => NameConstraintsState::default(),
    };
    // An anchor's own nameConstraints bind the whole path (RFC 5280 §6.1.1 (d) lets the
    // trust anchor information carry them; a CA that constrains itself means it).
    if n > 0 {
        let cert = anchor.cert.clone();
        check_anchor(&cert, at, &mut out);
        if b.opts.web_pki {
            for p in super::tls::server_root_problems(&cert) {
                out.error(Code::Malformed, &cert, p);
            }
        }
        apply_name_constraints(&cert, &mut constraints, &mut out);
    }
    if n == 0 {
        // The leaf is itself an anchor.
        out.leaf_key = Some(working_key);
        return out;
    }

    // Certificates from the one the anchor issued (i = 1) down to the leaf (i = n).
    for (k, &node) in path[..n].iter().rev().enumerate() {
        let i = k + 1;
        let is_leaf = i == n;
        let issuer_node = path[n - k];
        let cert = b.graph.nodes[node].cert.clone();
        let self_issued = b.graph.nodes[node].self_issued;

        // (a)(1) the signature, with the working public key (DSA parameters inherited).
        if !b.signed_by(node, issuer_node, &working_key) {
            out.error(
                Code::BadSignature,
                &cert,
                format!(
                    "the signature on '{}' does not verify with the key of its issuer '{}': the certificate is forged or corrupted",
                    cert.subject(),
                    b.graph.nodes[issuer_node].cert.subject()
                ),
            );
        }
        if let Some(alg) = cert.signature_algorithm()
            && alg.is_weak()
        {
            out.findings.push(
                Finding::warning(
                    Code::WeakAlgorithm,
                    "the certificate is signed with a weak algorithm (SHA-1 or DSA): accepted for old mail only",
                )
                .about(cert.subject()),
            );
        }
        // (a)(2) validity at the time of checking.
        let role = if is_leaf { Role::Leaf } else { Role::Ca };
        check_validity(&cert, at, role, &mut out);
        // A certificate that is malformed (RFC 5280 §4.1.1.2, §4.1.2.4, §4.2) means nothing
        // (the leaf's is checked once, by `check_leaf`).
        if !is_leaf && let Err(e) = cert.check_structure() {
            out.error(
                Code::Malformed,
                &cert,
                format!("'{}' is malformed: {e}", cert.subject()),
            );
        }
        if !is_leaf && let Some(p) = cert.key_identifier_problem(false) {
            out.error(
                Code::Malformed,
                &cert,
                format!("'{}' does not conform: {p}", cert.subject()),
            );
        }
        // (a)(4) name chaining holds by construction (candidates are found by subject).

        // (b)–(c) name constraints, except for self-issued intermediates.
        if (!self_issued || is_leaf)
            && let Err(e) = constraints.check(&cert)
        {
            // The error is a whole sentence that already says what to do.
            out.error(Code::NameNotPermitted, &cert, e.to_string());
        }

        // (d)–(f) and, below, §6.1.4 (a)–(b), (h)–(j): certificate policies.
        // The policy state stops at the first error (it would repeat it).
        if !policy_failed {
            let result = PolicyExtensions::from_certificate(&cert)
                .and_then(|ext| policy.process(&ext, self_issued));
            if let Err(e) = result {
                policy_failed = true;
                let code = if matches!(e, super::policy::PolicyError::Malformed { .. }) {
                    Code::Malformed
                } else {
                    Code::PolicyNotAcceptable
                };
                out.error(code, &cert, e.to_string());
            }
        }

        check_critical_extensions(&cert, &mut out);

        // The working public key: §6.1.4 (d)–(f) / §6.1.5 (c)–(e).
        let key = b.graph.nodes[node].spki.clone();
        if cachet_crypto::dsa::lacks_parameters(&key) {
            match &working_params {
                Some(p) => match cachet_crypto::dsa::spki_with_parameters(&key, p) {
                    Ok(full) => working_key = full,
                    Err(e) => {
                        out.error(Code::Malformed, &cert, e.to_string());
                        working_key = key;
                    }
                },
                None => working_key = key,
            }
        } else {
            working_params = cachet_crypto::dsa::parameters_of(&key);
            working_key = key;
        }

        if is_leaf {
            out.leaf_key = Some(working_key.clone());
            break;
        }

        // §6.1.4 (g) name constraints.
        apply_name_constraints(&cert, &mut constraints, &mut out);

        // (k) a CA by basicConstraints (a v1/v2 intermediate cannot be shown to be a CA).
        let path_len = match cert.basic_constraints() {
            Ok(Some((_, bc))) if bc.ca => bc.path_len_constraint,
            Ok(_) => {
                out.error(
                    Code::NotCa,
                    &cert,
                    format!(
                        "'{}' issued a certificate in the chain but is not a CA (basicConstraints): the chain is forged or misbuilt",
                        cert.subject()
                    ),
                );
                None
            }
            Err(e) => {
                out.error(Code::Malformed, &cert, e.to_string());
                None
            }
        };
        // (l) max_path_length counts non-self-issued intermediates.
        if !self_issued {
            if max_path_length == 0 {
                out.error(
                    Code::PathTooLong,
                    &cert,
                    format!(
                        "the CA '{}' is more certificates below a CA than that CA's pathLenConstraint allows",
                        cert.subject()
                    ),
                );
            } else {
                max_path_length -= 1;
            }
        }
        // (m) pathLenConstraint.
        if let Some(len) = path_len {
            max_path_length = max_path_length.min(usize::from(len));
        }
        // (n) keyCertSign.
        match cert.key_usage() {
            Ok(Some((_, ku))) if !ku.0.contains(KeyUsages::KeyCertSign) => out.error(
                Code::WrongKeyUsage,
                &cert,
                format!(
                    "the CA '{}' may not sign certificates (keyUsage lacks keyCertSign)",
                    cert.subject()
                ),
            ),
            Ok(_) => {}
            Err(e) => out.error(Code::Malformed, &cert, e.to_string()),
        }
        // extKeyUsage on a CA restricts what it may vouch for (as every S/MIME client reads
        // it; the S/MIME BR require it on issuing CAs).
        if let Some(eku) = b.opts.purpose.eku() {
            match cert.ext_key_usage() {
                Ok(Some((_, list))) if !list.0.iter().any(|o| *o == eku || *o == ANY_EKU) => out
                    .error(
                        Code::WrongExtendedKeyUsage,
                        &cert,
                        format!(
                            "the CA '{}' is restricted by extKeyUsage to other purposes",
                            cert.subject()
                        ),
                    ),
                Ok(_) => {}
                Err(e) => out.error(Code::Malformed, &cert, e.to_string()),
            }
        }
    }

    // §6.1.5 (g): the user-constrained policy set.
    if !policy_failed {
        match policy.finish() {
            Ok(o) => out.policies = o.user_constrained_policy_set,
            Err(e) => {
                let leaf = b.graph.nodes[path[0]].cert.clone();
                out.error(Code::PolicyNotAcceptable, &leaf, e.to_string());
            }
        }
    }

    if !out.has_errors() {
        check_revocation(b, path, &mut out);
    }
    out
}

fn apply_name_constraints(
    cert: &ParsedCertificate,
    constraints: &mut NameConstraintsState,
    out: &mut PathOutcome,
) {
    match super::names::name_constraints_of(cert) {
        Ok(Some((_, nc))) => {
            if let Err(err) = constraints.apply(&nc) {
                out.error(Code::NameNotPermitted, cert, err.to_string());
            }
        }
        Ok(None) => {}
        Err(err) => out.error(
            Code::Malformed,
            cert,
            format!("the nameConstraints extension cannot be read: {err}"),
        ),
    }
}

/// Where a certificate stands in the path, for the wording of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Leaf,
    Ca,
    Anchor,
}

fn check_validity(cert: &ParsedCertificate, at: u64, role: Role, out: &mut PathOutcome) {
    let (whose, fix) = match role {
        Role::Leaf => ("the certificate", ": the owner needs a new one"),
        Role::Ca => ("the CA certificate", ": the issuer must renew it"),
        Role::Anchor => (
            "the trust anchor",
            ": trust the CA's current root certificate instead",
        ),
    };
    if cert.not_after() < at {
        out.error(
            Code::Expired,
            cert,
            format!(
                "{whose} '{}' expired on {}{fix}",
                cert.subject(),
                rfc3339(cert.not_after()),
            ),
        );
    }
    if cert.not_before() > at {
        out.error(
            Code::NotYetValid,
            cert,
            format!(
                "{whose} '{}' is valid only from {}",
                cert.subject(),
                rfc3339(cert.not_before())
            ),
        );
    }
}

/// A trust anchor given as a certificate, when it issued the next certificate of the path,
/// is held to what §6.1 asks of every CA certificate there (RFC 5937 §2 lets a trust
/// anchor's certificate constrain the path; OpenSSL, NSS and Go check it likewise): valid
/// at the time of checking, well-formed, no critical extension Cachet does not process, a
/// CA by basicConstraints (§6.1.4 (k); a v1 or v2 root, which cannot say, is taken as one)
/// and, when it has keyUsage, allowed keyCertSign (§6.1.4 (n)).
fn check_anchor(cert: &ParsedCertificate, at: u64, out: &mut PathOutcome) {
    check_validity(cert, at, Role::Anchor, out);
    if let Err(e) = cert.check_structure() {
        out.error(
            Code::Malformed,
            cert,
            format!("the trust anchor '{}' is malformed: {e}", cert.subject()),
        );
    }
    check_critical_extensions(cert, out);
    if let Some(p) = cert.key_identifier_problem(true) {
        out.error(
            Code::Malformed,
            cert,
            format!(
                "the trust anchor '{}' does not conform: {p}",
                cert.subject()
            ),
        );
    }
    let v3 = cert.inner().tbs_certificate().version() == x509_cert::certificate::Version::V3;
    match cert.basic_constraints() {
        Ok(Some((_, bc))) if bc.ca => {}
        Ok(_) if !v3 => {}
        Ok(_) => out.error(
            Code::NotCa,
            cert,
            format!(
                "the trust anchor '{}' issued a certificate in the chain but is not a CA (basicConstraints): trust the CA's root certificate, not this one",
                cert.subject()
            ),
        ),
        Err(e) => out.error(Code::Malformed, cert, e.to_string()),
    }
    match cert.key_usage() {
        Ok(Some((_, ku))) if !ku.0.contains(KeyUsages::KeyCertSign) => out.error(
            Code::WrongKeyUsage,
            cert,
            format!(
                "the trust anchor '{}' may not sign certificates (keyUsage lacks keyCertSign)",
                cert.subject()
            ),
        ),
        Ok(_) => {}
        Err(e) => out.error(Code::Malformed, cert, e.to_string()),
    }
}

fn check_critical_extensions(cert: &ParsedCertificate, out: &mut PathOutcome) {
    for e in cert.extensions() {
        if e.critical && !UNDERSTOOD.contains(&e.extn_id) {
            out.error(
                Code::UnknownCriticalExtension,
                cert,
                format!(
                    "'{}' has a critical extension {} that Cachet does not process, so it may not be relied on (RFC 5280 §4.2)",
                    cert.subject(),
                    e.extn_id
                ),
            );
        }
    }
}

/// The leaf's fitness for the purpose and the mailbox; the same for every path, so the
/// builder runs it once.
pub(super) fn check_leaf(b: &Builder<'_>, node: usize, out: &mut PathOutcome) {
    let cert = b.graph.nodes[node].cert.clone();
    let purpose = b.opts.purpose;
    if b.opts.web_pki {
        for p in super::tls::server_leaf_problems(&cert) {
            out.error(Code::Malformed, &cert, p);
        }
    }
    // A malformed certificate (RFC 5280 §4.1.1.2, §4.1.2.4, §4.2) means nothing; a
    // keyUsage that does not decode is reported there.
    let well_formed = match cert.check_structure() {
        Ok(()) => true,
        Err(e) => {
            out.error(
                Code::Malformed,
                &cert,
                format!("the certificate is malformed: {e}"),
            );
            false
        }
    };
    if well_formed
        && let Some(p) = cert.key_identifier_problem(b.graph.nodes[node].anchor.is_some())
    {
        out.error(
            Code::Malformed,
            &cert,
            format!("the certificate does not conform: {p}"),
        );
    }
    let ku = match cert.key_usage() {
        Ok(k) => k.map(|(_, k)| k.0),
        Err(e) => {
            if well_formed {
                out.error(Code::Malformed, &cert, e.to_string());
            }
            None
        }
    };
    // A certificate that is not a CA may neither carry nameConstraints (RFC 5280
    // §4.2.1.10: "MUST be used only in a CA certificate") nor assert keyCertSign
    // (§4.2.1.3, §4.2.1.9): either says it is misissued.
    if !cert.is_ca().unwrap_or(false) {
        if cert
            .extensions()
            .iter()
            .any(|e| e.extn_id == oids::ID_CE_NAME_CONSTRAINTS)
        {
            out.error(
                Code::Malformed,
                &cert,
                "the certificate is not a CA but carries nameConstraints, which RFC 5280 §4.2.1.10 allows only in CA certificates: it is misissued".to_string(),
            );
        }
        if ku.is_some_and(|k| k.contains(KeyUsages::KeyCertSign)) {
            out.error(
                Code::Malformed,
                &cert,
                "the certificate is not a CA but its keyUsage asserts keyCertSign, which RFC 5280 §4.2.1.3 forbids: it is misissued".to_string(),
            );
        }
    }
    let (needed, what): (&[KeyUsages], &str) = match purpose {
        Purpose::EmailSigning => (
            &[KeyUsages::DigitalSignature, KeyUsages::NonRepudiation],
            "does not allow signing (keyUsage has neither digitalSignature nor nonRepudiation): the sender needs a signing certificate",
        ),
        Purpose::EmailEncryption => (
            &[KeyUsages::KeyEncipherment, KeyUsages::KeyAgreement],
            "does not allow encryption (keyUsage has neither keyEncipherment nor keyAgreement): the recipient needs an encryption certificate",
        ),
        Purpose::CrlSigning => (
            &[KeyUsages::CRLSign],
            "may not sign CRLs (keyUsage lacks cRLSign)",
        ),
        Purpose::ServerAuth | Purpose::ClientAuth | Purpose::Any => (&[], ""),
    };
    if let Some(ku) = ku
        && !needed.is_empty()
        && !needed.iter().any(|u| ku.contains(*u))
    {
        out.error(
            Code::WrongKeyUsage,
            &cert,
            format!("the certificate {what}"),
        );
    }
    if let Some(eku) = purpose.eku() {
        match cert.ext_key_usage() {
            Ok(Some((_, list))) if !list.0.iter().any(|o| *o == eku || *o == ANY_EKU) => {
                let msg = if matches!(purpose, Purpose::EmailSigning | Purpose::EmailEncryption) {
                    "the certificate is not for e-mail (extKeyUsage lacks emailProtection): the owner needs an S/MIME certificate".to_string()
                } else {
                    format!("the certificate's extKeyUsage does not include {eku}")
                };
                out.error(Code::WrongExtendedKeyUsage, &cert, msg);
            }
            Ok(_) => {}
            Err(e) => out.error(Code::Malformed, &cert, e.to_string()),
        }
    }
    if let Some(addr) = &b.opts.email {
        match super::mailbox::mailbox_match(&cert, addr) {
            super::mailbox::MailboxMatch::Exact => {}
            super::mailbox::MailboxMatch::IgnoringLocalPartCase => out.findings.push(
                Finding::warning(
                    Code::SignerAddressMismatch,
                    format!(
                        "{addr} matches the certificate's address only if the local part's case is ignored (RFC 5280 §7.5 compares it exactly); most mail systems deliver both to the same mailbox"
                    ),
                )
                .about(cert.subject()),
            ),
            super::mailbox::MailboxMatch::None => {
                let names = cert.email_addresses().unwrap_or_default().join(", ");
                out.error(
                    Code::SignerAddressMismatch,
                    &cert,
                    format!(
                        "the address is {addr} but the certificate is for {}: it may be forged, or the sender uses another address's certificate",
                        if names.is_empty() {
                            "no address".to_string()
                        } else {
                            names
                        }
                    ),
                );
            }
        }
    }
    if cert.key_type().is_err() {
        out.findings.push(
            Finding::warning(
                Code::WeakAlgorithm,
                "the key is of a size or type Cachet does not issue (e.g. RSA below 2048 bits, DSA): accepted for old mail only",
            )
            .about(cert.subject()),
        );
    }
}

/// §6.3: the revocation status of every certificate of the path, with the policy of the
/// path's anchor.
fn check_revocation(b: &mut Builder<'_>, path: &[usize], out: &mut PathOutcome) {
    let n = path.len() - 1;
    let anchor_node = path[n];
    let policy = b.revocation_policy(anchor_node);
    // Preferred, with no CRL at hand and no way to fetch one: nothing can be learnt, and one
    // finding says so for the whole chain (a verifier without CRLs meets this on every
    // message; it should cost nothing and say it once).
    let nothing_to_consult = b.material.crls.is_empty() && b.material.fetcher.is_none();
    if policy == RevocationPolicy::Prefer && nothing_to_consult && n > 0 {
        const WHY: &str = "no CRL is at hand and fetching is off";
        for &node in &path[..n] {
            out.revocation.push(RevocationCheck {
                certificate: b.graph.nodes[node].cert.clone(),
                status: RevocationStatus::Undetermined(WHY.into()),
                sources: Vec::new(),
                distribution_points: Vec::new(),
            });
        }
        out.findings.push(Finding::warning(
            Code::CrlUnavailable,
            "revocation was not checked: no CRL is at hand for this chain and fetching is off: pass the CRLs with --crl, import them with `cachet trust import-crl`, or allow fetching",
        ));
        return;
    }
    for k in 0..n {
        let node = path[k];
        let cert = b.graph.nodes[node].cert.clone();
        let dps = super::revocation::http_distribution_points(&cert);
        let mut check = RevocationCheck {
            certificate: cert.clone(),
            status: RevocationStatus::NotChecked,
            sources: Vec::new(),
            distribution_points: dps.clone(),
        };
        if policy == RevocationPolicy::Off {
            out.revocation.push(check);
            continue;
        }
        let found = super::revocation::status(b, path, k);
        check.sources = found.sources;
        check.status = found.status.clone();
        match found.status {
            RevocationStatus::Revoked { at, reason } => out.error(
                Code::Revoked,
                &cert,
                format!(
                    "'{}' was revoked on {} (reason: {reason}): do not trust what it signed after that date; the owner needs a new certificate",
                    cert.subject(),
                    rfc3339(at)
                ),
            ),
            RevocationStatus::Undetermined(why) => {
                let code = found.code.unwrap_or(if found.expired_only {
                    Code::CrlExpired
                } else {
                    Code::CrlUnavailable
                });
                let fix = if code == Code::OcspUnavailable {
                    "check that the responder is reachable from here, or get the issuer's CRL and import it with `cachet trust import-crl`"
                } else if found.expired_only {
                    "get a current CRL from the issuer and import it with `cachet trust import-crl`"
                } else if dps.is_empty() {
                    "get the issuer's CRL and import it with `cachet trust import-crl` (or pass it with --crl)"
                } else {
                    "download it and import it with `cachet trust import-crl` (or pass it with --crl)"
                };
                let where_ = if dps.is_empty() {
                    String::new()
                } else {
                    format!(" (published at {})", dps.join(", "))
                };
                let msg = format!(
                    "the revocation status of '{}' is unknown: {why}{where_}: {fix}",
                    cert.subject()
                );
                if policy == RevocationPolicy::Require {
                    out.error(code, &cert, msg);
                } else {
                    out.findings
                        .push(Finding::warning(code, msg).about(cert.subject()));
                }
            }
            RevocationStatus::Good | RevocationStatus::NotChecked => {}
        }
        out.revocation.push(check);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Material, TrustAnchor, ValidationOptions, validate};
    use super::*;
    use crate::issue::{CertificateTemplate, sign_certificate};
    use crate::verdict::Verdict;
    use cachet_crypto::{KeyType, PrivateKey};
    use der::Encode;
    use der::asn1::{Ia5String, OctetString};
    use x509_cert::ext::Extension;
    use x509_cert::ext::pkix::NameConstraints;
    use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
    use x509_cert::ext::pkix::name::GeneralName;

    const AT: u64 = 1_750_000_000;

    /// A key and the DER name it certifies under.
    struct Party {
        key: PrivateKey,
        name: Vec<u8>,
    }

    fn party(cn: &str) -> Party {
        Party {
            key: PrivateKey::generate(KeyType::EcdsaP256).unwrap(),
            name: crate::name::NameBuilder::new()
                .common_name(cn)
                .unwrap()
                .to_der()
                .unwrap(),
        }
    }

    fn issue(
        subject: &Party,
        issuer: &Party,
        not_after: u64,
        mut extensions: Vec<Extension>,
    ) -> ParsedCertificate {
        // Key identifiers as RFC 5280 §4.2.1.1–§4.2.1.2 require of a conforming CA.
        let id = |p: &Party| crate::ext::key_identifier(p.key.public_key_der()).unwrap();
        extensions.push(crate::ext::subject_key_identifier(&id(subject)).unwrap());
        if subject.name != issuer.name {
            extensions.push(crate::ext::authority_key_identifier(&id(issuer)).unwrap());
        }
        let t = CertificateTemplate {
            serial: vec![1],
            subject_der: subject.name.clone(),
            spki_der: subject.key.public_key_der().to_vec(),
            not_before: 1_700_000_000,
            not_after,
            extensions,
        };
        ParsedCertificate::from_der(&sign_certificate(&t, &issuer.name, &issuer.key).unwrap())
            .unwrap()
    }

    fn ca_extensions() -> Vec<Extension> {
        vec![
            crate::ext::basic_constraints(true, None).unwrap(),
            crate::ext::key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign).unwrap(),
        ]
    }

    fn raw(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Extension {
        Extension {
            extn_id: oid,
            critical,
            extn_value: OctetString::new(value).unwrap(),
        }
    }

    fn name_constraints() -> Extension {
        let nc = NameConstraints {
            permitted_subtrees: Some(vec![GeneralSubtree {
                base: GeneralName::DnsName(Ia5String::new("example.com").unwrap()),
                minimum: 0,
                maximum: None,
            }]),
            excluded_subtrees: None,
        };
        raw(oids::ID_CE_NAME_CONSTRAINTS, true, nc.to_der().unwrap())
    }

    fn check(
        leaf: &ParsedCertificate,
        anchor: &ParsedCertificate,
        intermediates: &[ParsedCertificate],
        max_depth: usize,
    ) -> Verdict {
        let anchors = [TrustAnchor::new(anchor.clone())];
        let material = Material {
            anchors: &anchors,
            intermediates,
            ..Material::default()
        };
        let mut opts = ValidationOptions::new(AT, Purpose::Any);
        opts.revocation = RevocationPolicy::Off;
        opts.max_depth = max_depth;
        validate(leaf, &material, &opts).verdict
    }

    fn errors(v: &Verdict) -> Vec<Code> {
        v.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn a_trust_anchor_that_issues_is_held_to_the_ca_rules() {
        let root = party("Root");
        let leaf_party = party("Leaf");
        let leaf = issue(&leaf_party, &root, 1_800_000_000, vec![]);
        let cases: [(u64, Vec<Extension>, Option<Code>); 5] = [
            (1_800_000_000, ca_extensions(), None),
            // Expired at the time of checking.
            (1_720_000_000, ca_extensions(), Some(Code::Expired)),
            // Not a CA by basicConstraints.
            (
                1_800_000_000,
                vec![crate::ext::key_usage(KeyUsages::KeyCertSign.into()).unwrap()],
                Some(Code::NotCa),
            ),
            // keyUsage without keyCertSign.
            (
                1_800_000_000,
                vec![
                    crate::ext::basic_constraints(true, None).unwrap(),
                    crate::ext::key_usage(KeyUsages::CRLSign.into()).unwrap(),
                ],
                Some(Code::WrongKeyUsage),
            ),
            // A critical extension Cachet does not process.
            (
                1_800_000_000,
                [
                    ca_extensions(),
                    vec![raw(
                        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.66"),
                        true,
                        vec![5, 0],
                    )],
                ]
                .concat(),
                Some(Code::UnknownCriticalExtension),
            ),
        ];
        for (not_after, extensions, want) in cases {
            let anchor = issue(&root, &root, not_after, extensions);
            let v = check(&leaf, &anchor, &[], 16);
            assert_eq!(errors(&v), want.into_iter().collect::<Vec<_>>(), "{v:?}");
        }
        // A certificate trusted directly (the leaf is the anchor) is not held to CA rules.
        let direct = issue(&leaf_party, &leaf_party, 1_800_000_000, vec![]);
        assert!(check(&direct, &direct, &[], 16).is_valid());
    }

    #[test]
    fn an_end_entity_may_neither_constrain_names_nor_sign_certificates() {
        let root = party("Root");
        let anchor = issue(&root, &root, 1_800_000_000, ca_extensions());
        let ee = party("Leaf");
        let with_nc = issue(&ee, &root, 1_800_000_000, vec![name_constraints()]);
        assert_eq!(
            errors(&check(&with_nc, &anchor, &[], 16)),
            [Code::Malformed]
        );
        let cert_sign = crate::ext::key_usage(KeyUsages::KeyCertSign.into()).unwrap();
        let with_ku = issue(&ee, &root, 1_800_000_000, vec![cert_sign]);
        assert_eq!(
            errors(&check(&with_ku, &anchor, &[], 16)),
            [Code::Malformed]
        );
        // A CA certificate as the leaf may carry both (RFC 5280 does not bar CA leaves).
        let ca_leaf = issue(
            &ee,
            &root,
            1_800_000_000,
            [ca_extensions(), vec![name_constraints()]].concat(),
        );
        assert!(check(&ca_leaf, &anchor, &[], 16).is_valid());
    }

    #[test]
    fn a_malformed_leaf_is_refused() {
        let root = party("Root");
        let anchor = issue(&root, &root, 1_800_000_000, ca_extensions());
        let aia = raw(
            oids::ID_PE_AUTHORITY_INFO_ACCESS,
            false,
            b"malformed".to_vec(),
        );
        let leaf = issue(&party("Leaf"), &root, 1_800_000_000, vec![aia]);
        assert_eq!(errors(&check(&leaf, &anchor, &[], 16)), [Code::Malformed]);
    }

    #[test]
    fn self_issued_intermediates_do_not_count_towards_the_depth() {
        // Root → CA (old key) → CA (new key, self-issued) → leaf.
        let root = party("Root");
        let anchor = issue(&root, &root, 1_800_000_000, ca_extensions());
        let old = party("CA");
        let new = Party {
            key: PrivateKey::generate(KeyType::EcdsaP256).unwrap(),
            name: old.name.clone(),
        };
        let ca_old = issue(&old, &root, 1_800_000_000, ca_extensions());
        let ca_new = issue(&new, &old, 1_800_000_000, ca_extensions());
        let leaf = issue(&party("Leaf"), &new, 1_800_000_000, vec![]);
        let both = [ca_old.clone(), ca_new];
        // The leaf and one CA count: two certificates.
        assert!(check(&leaf, &anchor, &both, 2).is_valid());
        // (Which finding explains the failure is the builder's ranking: the old-key CA,
        // which did not sign the leaf, may be named instead.)
        assert!(!check(&leaf, &anchor, &both, 1).is_valid());
        // Two distinct CAs below the root do count.
        let sub = party("Sub CA");
        let ca_sub = issue(&sub, &old, 1_800_000_000, ca_extensions());
        let leaf = issue(&party("Leaf"), &sub, 1_800_000_000, vec![]);
        let chain = [ca_old, ca_sub];
        assert!(check(&leaf, &anchor, &chain, 3).is_valid());
        assert_eq!(
            errors(&check(&leaf, &anchor, &chain, 2)),
            [Code::PathTooLong]
        );
    }
}
