//! `cachet doctor FILE.eml`: explains a message layer by layer — each encryption layer
//! (cipher, recipients, whether a given key opens it), each signature (signer, signing
//! time, signature check), the signer's certificate, every certificate of the chosen chain
//! with its revocation status and sources — and for every problem, its code and the fix in
//! one sentence. The classic "cannot verify the sender's digital signature" and "cannot
//! access the CRL" cases each get a named cause and a command to run.

use crate::io::{CliError, Result, read_file_up_to};
use crate::pki_cmd::{certificate_json, validation_json};
use crate::trust_args::TrustArgs;
use cachet_crypto::PrivateKey;
use cachet_pki::ParsedCertificate;
use cachet_pki::time::rfc3339;
use cachet_pki::verdict::{Code, Finding, Severity};
use cachet_smime::ber::BerLimits;
use cachet_smime::cms::{
    self, CmsContent, KeyAgreeRecipientIdentifier, RecipientIdentifier, RecipientInfo, oid,
};
use cachet_smime::message::verify_message;
use cachet_smime::mime::Limits;
use cachet_smime::mime::smime::{SourceLayer, classify_in};
use cachet_smime::signed::{SignerReport, VerifyOptions, micalg};
use cachet_smime::stream::Plaintext;
use cachet_smime::stream::envelope::{self as stream_envelope, CmsInput};
use const_oid::ObjectIdentifier;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// The largest message `doctor` reads (it holds the message and each unwrapped layer).
const MAX_MESSAGE: u64 = 256 << 20;
/// Layers unwrapped at most (sign, encrypt, sign again… ).
const MAX_LAYERS: usize = 8;

/// `cachet doctor`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct DoctorArgs {
    /// The message (RFC 5322, as saved from a mail client).
    #[arg(value_name = "FILE.eml")]
    pub message: PathBuf,
    #[command(flatten)]
    pub validation: TrustArgs,
    /// A certificate to look inside encrypted layers with (with --key).
    #[arg(long, value_name = "FILE", requires = "key", conflicts_with = "p12")]
    pub cert: Option<PathBuf>,
    /// Its private key (PKCS#8).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// A PKCS#12 file to look inside encrypted layers with.
    #[arg(long, value_name = "FILE", requires = "password_file")]
    pub p12: Option<PathBuf>,
    /// The file holding the PKCS#12 password.
    #[arg(long, value_name = "FILE", requires = "p12")]
    pub password_file: Option<PathBuf>,
    /// Machine-readable output (the same structure).
    #[arg(long)]
    pub json: bool,
}

/// The fix for a finding, in one sentence, by its code (the finding's own message says
/// what is wrong with the particular certificate or message).
pub fn fix_for(f: &Finding) -> &'static str {
    match f.code {
        Code::Valid => "nothing to do",
        Code::BadSignature => {
            "the message or its signature was changed after signing, or forged: do not trust it, and ask the sender to send it again"
        }
        Code::ContentAltered => {
            "the content was changed in transit (a relay rewrote it, or it was tampered with): ask the sender to send it again, and do not trust this copy"
        }
        Code::UntrustedRoot => {
            "if you trust this root, get its certificate from its owner by a trusted channel and run `cachet trust add ROOT.pem` (or pass it with --trust)"
        }
        Code::MissingIntermediate => {
            "get the missing CA certificate (from the sender, or the URL in the certificate's Authority Information Access) and run `cachet trust add --intermediate CA.pem`, or `cachet trust add ROOT.pem` if it is a root you trust"
        }
        Code::Expired => {
            "the certificate's owner needs a new one; if the message was signed while the certificate was valid, check it as of the signing time with --at"
        }
        Code::NotYetValid => {
            "check this computer's clock, or wait until the certificate becomes valid"
        }
        Code::Revoked => {
            "do not trust what was signed after the revocation date; the owner needs a new certificate"
        }
        Code::CrlUnavailable => {
            "download the CRL where its distribution point can be reached and run `cachet trust import-crl FILE` (or pass it with --crl)"
        }
        Code::CrlExpired => {
            "get the issuer's current CRL and run `cachet trust import-crl FILE`; if the issuer has stopped publishing, ask its operator"
        }
        Code::WrongKeyUsage => {
            "the owner needs a certificate issued for this use (an S/MIME signing or encryption certificate)"
        }
        Code::WrongExtendedKeyUsage => {
            "the owner needs an S/MIME certificate (extended key usage emailProtection)"
        }
        Code::SignerAddressMismatch => {
            "ask the sender to sign with the certificate for the address they send from; until then treat the message as possibly forged"
        }
        Code::WeakAlgorithm => {
            "ask the sender to upgrade their software or certificate (SHA-256 or better, AES, RSA ≥ 2048 bits)"
        }
        Code::NoRecipientKey => {
            "open it with the key of a certificate it was sent to (--p12 or --cert/--key); if you lost that key, ask an administrator for key recovery"
        }
        Code::Malformed => {
            "the message is damaged or not S/MIME: ask the sender to send it again, as an attachment if a relay mangles it"
        }
        Code::NotCa => {
            "a certificate in the chain is used as a CA without being one: the chain is forged or misissued; report it to the issuer"
        }
        Code::PathTooLong => {
            "the chain is longer than its CAs allow, or the certificates offered loop: get the issuer's intended chain"
        }
        Code::NameNotPermitted => {
            "the issuing CA is not allowed to certify this address: trust the certificate only if its owner confirms it, and report it to the CA"
        }
        Code::PolicyNotAcceptable => {
            "the chain does not carry a certificate policy you require: check the --policy flags, or ask the issuer which policy it certifies under"
        }
        Code::UnknownCriticalExtension => {
            "a certificate carries a critical extension Cachet cannot check, so it may not be relied on: ask its issuer"
        }
        Code::OcspUnavailable => {
            "check that the OCSP responder is reachable from here, or get the issuer's CRL and run `cachet trust import-crl FILE`"
        }
    }
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "code": f.code.as_str(),
        "severity": f.severity.as_str(),
        "subject": f.subject,
        "problem": f.message,
        "fix": fix_for(f),
    })
}

/// Every problem of a layer, with its fix.
fn print_findings(findings: &[Finding], indent: &str) {
    for f in findings {
        let mark = match f.severity {
            Severity::Error => "✗",
            Severity::Warning => "!",
            Severity::Info => "·",
        };
        crate::out!(
            "{indent}{mark} {} [{}]: {}",
            f.code,
            f.severity.as_str(),
            f.message
        );
        if f.severity != Severity::Info {
            crate::out!("{indent}  fix: {}", fix_for(f));
        }
    }
}

/// A name for a content-encryption algorithm OID.
fn cipher_name(o: &ObjectIdentifier) -> String {
    match o.to_string().as_str() {
        "2.16.840.1.101.3.4.1.2" => "aes-128-cbc".into(),
        "2.16.840.1.101.3.4.1.22" => "aes-192-cbc".into(),
        "2.16.840.1.101.3.4.1.42" => "aes-256-cbc".into(),
        "2.16.840.1.101.3.4.1.6" => "aes-128-gcm".into(),
        "2.16.840.1.101.3.4.1.46" => "aes-256-gcm".into(),
        "1.2.840.113549.3.7" => "des-ede3-cbc (weak)".into(),
        "1.2.840.113549.3.2" => "rc2-cbc (weak)".into(),
        other => other.to_string(),
    }
}

fn rid_text(rid: &RecipientIdentifier) -> String {
    match rid {
        RecipientIdentifier::IssuerAndSerialNumber(isn) => format!(
            "issuer '{}', serial {}",
            isn.issuer,
            cachet_pki::cert::serial_hex(isn.serial_number.as_bytes())
        ),
        RecipientIdentifier::SubjectKeyIdentifier(ski) => {
            format!("subject key id {}", hex(ski.0.as_bytes()))
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The recipients and cipher of an EnvelopedData or AuthEnvelopedData.
fn envelope_summary(der: &[u8]) -> std::result::Result<(String, Vec<String>), String> {
    let decoded =
        cms::decode_content_info(der, &BerLimits::default()).map_err(|e| e.to_string())?;
    let (infos, alg) = match &decoded.content {
        CmsContent::EnvelopedData(ed) => {
            (&ed.recip_infos, ed.encrypted_content.content_enc_alg.oid)
        }
        CmsContent::AuthEnvelopedData {
            auth_enveloped_data,
            ..
        } => (
            &auth_enveloped_data.recip_infos,
            auth_enveloped_data
                .auth_encrypted_content_info
                .content_enc_alg
                .oid,
        ),
        _ => return Err("not an encrypted structure".into()),
    };
    let mut recipients = Vec::new();
    for ri in infos.0.iter() {
        match ri {
            RecipientInfo::Ktri(k) => recipients.push(format!(
                "{} (key transport {})",
                rid_text(&k.rid),
                k.key_enc_alg.oid
            )),
            RecipientInfo::Kari(k) => {
                for rek in k.recipient_enc_keys.iter() {
                    let who = match &rek.rid {
                        KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(isn) => format!(
                            "issuer '{}', serial {}",
                            isn.issuer,
                            cachet_pki::cert::serial_hex(isn.serial_number.as_bytes())
                        ),
                        KeyAgreeRecipientIdentifier::RKeyId(r) => {
                            format!(
                                "subject key id {}",
                                hex(r.subject_key_identifier.0.as_bytes())
                            )
                        }
                    };
                    recipients.push(format!("{who} (key agreement {})", k.key_enc_alg.oid));
                }
            }
            _ => recipients.push("a recipient of another kind (password or KEK)".into()),
        }
    }
    Ok((cipher_name(&alg), recipients))
}

/// What `doctor` found in one layer.
struct LayerReport {
    json: Value,
    valid: bool,
}

/// Runs `doctor`: exit 0 when every layer is valid, 1 when not, 2 on unreadable input.
pub fn doctor_command(args: &DoctorArgs, now: u64) -> Result<ExitCode> {
    let message = read_file_up_to(&args.message, "message", MAX_MESSAGE)?;
    let loaded = args.validation.load(now)?;
    let identities: Vec<(ParsedCertificate, PrivateKey)> =
        if args.cert.is_some() || args.p12.is_some() {
            crate::smime_cmd::read_identities(
                args.cert.as_ref(),
                args.key.as_ref(),
                args.p12.as_ref(),
                args.password_file.as_ref(),
            )?
        } else {
            Vec::new()
        };
    let limits = Limits::default();
    let ber = BerLimits::default();
    let from = cachet_smime::message::sender_mailboxes(&message.as_slice(), &limits);

    if !args.json {
        crate::out!("message {}", args.message.display());
        if !from.is_empty() {
            crate::out!("  From: {}", from.join(", "));
        }
    }
    let mut layers: Vec<Value> = Vec::new();
    let mut all_valid = true;
    let mut current: Zeroizing<Vec<u8>> = Zeroizing::new(message);
    for depth in 1..=MAX_LAYERS {
        let src: &[u8] = &current;
        let layer = classify_in(&src, 0..src.len() as u64, &limits);
        let (report, next) = match layer {
            Err(e) => {
                let f = Finding::error(
                    Code::Malformed,
                    format!("the MIME structure cannot be read: {e}"),
                );
                (layer_of_problem(depth, "unreadable", f, args.json), None)
            }
            Ok(SourceLayer::Content) => {
                let ct = content_type_of(src, &limits);
                if !args.json {
                    crate::out!("layer {depth}: content ({ct}), neither signed nor encrypted");
                }
                layers.push(json!({"layer": depth, "kind": "content", "content_type": ct}));
                break;
            }
            Ok(SourceLayer::DetachedSigned { .. }) => signed_layer(
                depth,
                "multipart/signed (detached signature)",
                src,
                &loaded,
                &from,
                args.json,
                &limits,
                &ber,
            ),
            Ok(SourceLayer::Pkcs7Mime { body, base64, .. }) => {
                let cms_in = CmsInput {
                    src: &src,
                    range: body,
                    base64,
                };
                let mut der = Vec::new();
                let read = std::io::Read::read_to_end(&mut cms_in.reader(), &mut der);
                let kind = cms_content_type_of(&der);
                match (read, kind) {
                    (Err(e), _) => {
                        let f = Finding::error(
                            Code::Malformed,
                            format!("the application/pkcs7-mime body cannot be decoded: {e}"),
                        );
                        (
                            layer_of_problem(depth, "application/pkcs7-mime", f, args.json),
                            None,
                        )
                    }
                    (Ok(_), Some(k)) if k == oid::ID_SIGNED_DATA => signed_layer(
                        depth,
                        "application/pkcs7-mime signed-data (opaque signature)",
                        src,
                        &loaded,
                        &from,
                        args.json,
                        &limits,
                        &ber,
                    ),
                    (Ok(_), Some(k))
                        if k == oid::ID_ENVELOPED_DATA || k == oid::ID_CT_AUTH_ENVELOPED_DATA =>
                    {
                        encrypted_layer(depth, &der, k, &identities, args.json)
                    }
                    (Ok(_), other) => {
                        let f = Finding::error(
                            Code::Malformed,
                            format!(
                                "the application/pkcs7-mime body is not signed or encrypted CMS (content type {})",
                                other.map_or_else(|| "unreadable".to_string(), |o| o.to_string())
                            ),
                        );
                        (
                            layer_of_problem(depth, "application/pkcs7-mime", f, args.json),
                            None,
                        )
                    }
                }
            }
        };
        all_valid &= report.valid;
        layers.push(report.json);
        match next {
            Some(inner) => current = inner,
            None => break,
        }
        if depth == MAX_LAYERS {
            let f = Finding::error(
                Code::Malformed,
                format!("more than {MAX_LAYERS} nested layers: Cachet stops here"),
            );
            all_valid = false;
            layers.push(layer_of_problem(depth + 1, "too deep", f, args.json).json);
        }
    }
    if args.json {
        let out = json!({
            "file": args.message.display().to_string(),
            "from": from,
            "valid": all_valid,
            "layers": layers,
        });
        crate::out!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| CliError(e.to_string()))?
        );
    } else if all_valid && layers.last().is_some_and(|l| l["kind"] == "encrypted") {
        crate::out!(
            "verdict: no problem in what could be read; the encrypted content was not opened"
        );
    } else if all_valid {
        crate::out!("verdict: valid");
    } else {
        crate::out!("verdict: NOT VALID (each problem above has its fix)");
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn layer_of_problem(depth: usize, kind: &str, f: Finding, as_json: bool) -> LayerReport {
    if !as_json {
        crate::out!("layer {depth}: {kind}");
        print_findings(std::slice::from_ref(&f), "  ");
    }
    LayerReport {
        json: json!({"layer": depth, "kind": kind, "findings": [finding_json(&f)]}),
        valid: false,
    }
}

fn content_type_of(src: &[u8], limits: &Limits) -> String {
    cachet_smime::message::header_field(&src, "Content-Type", limits)
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "text/plain".into())
}

fn cms_content_type_of(der: &[u8]) -> Option<ObjectIdentifier> {
    let input = CmsInput {
        src: &der,
        range: 0..der.len() as u64,
        base64: false,
    };
    let mut r = input.ber();
    cachet_smime::stream::ber::open_content_info(&mut r)
        .ok()
        .map(|c| c.content_type)
}

fn encrypted_layer(
    depth: usize,
    der: &[u8],
    kind: ObjectIdentifier,
    identities: &[(ParsedCertificate, PrivateKey)],
    as_json: bool,
) -> (LayerReport, Option<Zeroizing<Vec<u8>>>) {
    let structure = if kind == oid::ID_CT_AUTH_ENVELOPED_DATA {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    };
    let mut findings = Vec::new();
    let (cipher, recipients) = match envelope_summary(der) {
        Ok(s) => s,
        Err(e) => {
            let f = Finding::error(
                Code::Malformed,
                format!("the encrypted structure cannot be read: {e}"),
            );
            return (layer_of_problem(depth, structure, f, as_json), None);
        }
    };
    if !as_json {
        crate::out!("layer {depth}: encrypted ({structure}, {cipher})");
        for r in &recipients {
            crate::out!("  recipient: {r}");
        }
    }
    let mut inner = None;
    let mut opened_with = None;
    if identities.is_empty() {
        if !as_json {
            crate::out!(
                "  not opened: pass --p12 FILE --password-file F (or --cert/--key) to look inside"
            );
        }
    } else {
        let ids: Vec<(&ParsedCertificate, &PrivateKey)> =
            identities.iter().map(|(c, k)| (c, k)).collect();
        let input = CmsInput {
            src: &der,
            range: 0..der.len() as u64,
            base64: false,
        };
        let mut out = Plaintext::default();
        match stream_envelope::decrypt(&input, &ids, &mut out) {
            Ok(d) => {
                let who = &identities[d.identity].0;
                opened_with = Some(who.subject());
                if d.weak {
                    findings.push(Finding::warning(
                        Code::WeakAlgorithm,
                        format!(
                            "the message was encrypted with {}, which is no longer secure",
                            d.cipher.name()
                        ),
                    ));
                }
                if !as_json {
                    crate::out!("  opened with the key of '{}'", who.subject());
                }
                inner = Some(Zeroizing::new(out.into_inner()));
            }
            Err(cachet_smime::enveloped::DecryptError::NoRecipient) => {
                findings.push(Finding::error(
                    Code::NoRecipientKey,
                    "the message is not encrypted to any of the certificates given",
                ))
            }
            Err(e) => findings.push(Finding::error(
                Code::Malformed,
                format!("the message cannot be decrypted: {e}"),
            )),
        }
    }
    if !as_json {
        print_findings(&findings, "  ");
    }
    let valid = !findings.iter().any(|f| f.severity == Severity::Error);
    (
        LayerReport {
            json: json!({
                "layer": depth,
                "kind": "encrypted",
                "structure": structure,
                "cipher": cipher,
                "recipients": recipients,
                "opened_with": opened_with,
                "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
            }),
            valid,
        },
        inner,
    )
}

#[allow(clippy::too_many_arguments)]
fn signed_layer(
    depth: usize,
    form: &str,
    src: &[u8],
    loaded: &crate::trust_args::Loaded,
    from: &[String],
    as_json: bool,
    limits: &Limits,
    ber: &BerLimits,
) -> (LayerReport, Option<Zeroizing<Vec<u8>>>) {
    let mut opts = VerifyOptions {
        at: loaded.at,
        trust_anchors: loaded.anchors.clone(),
        extra_certificates: loaded.intermediates.clone(),
        crls: loaded.crls.clone(),
        policy: loaded.policy.clone(),
        revocation: loaded.revocation,
        fetcher: loaded.fetcher.clone(),
        ..Default::default()
    };
    // The outer From is what every signer must match, whatever layer it signs.
    opts.from_addresses = from.to_vec();
    let v = verify_message(src, &opts, limits, ber);
    let report = &v.report;
    if !as_json {
        crate::out!(
            "layer {depth}: signed ({form}), {} signer(s)",
            report.signers.len()
        );
    }
    let mut signers_json = Vec::new();
    for s in &report.signers {
        signers_json.push(signer(s, loaded, as_json));
    }
    // Findings of the layer itself (not of a signer): malformed structure, no signers.
    let own: Vec<Finding> = if report.signers.is_empty() {
        report.verdict.findings.clone()
    } else {
        Vec::new()
    };
    if !as_json {
        print_findings(&own, "  ");
    }
    let valid = report.verdict.is_valid();
    (
        LayerReport {
            json: json!({
                "layer": depth,
                "kind": "signed",
                "form": form,
                "valid": valid,
                "signers": signers_json,
                "findings": own.iter().map(finding_json).collect::<Vec<_>>(),
            }),
            valid,
        },
        v.content.map(Zeroizing::new),
    )
}

/// One signer: the signature, the certificate, the chain and revocation, and every problem
/// with its fix — plus the diagnosis of an expired certificate against the signing time.
fn signer(s: &SignerReport, loaded: &crate::trust_args::Loaded, as_json: bool) -> Value {
    let mut findings = s.verdict.findings.clone();
    // Expired: before or after the message was signed? The fix differs.
    if let (Some(cert), Some(t)) = (&s.certificate, s.signing_time)
        && findings.iter().any(|f| f.code == Code::Expired)
    {
        if cert.not_after() < t {
            findings.push(Finding::error(
                Code::Expired,
                format!(
                    "the signer's certificate had already expired when the message was signed (signed {}, expired {}): the signature was never valid; the sender must renew the certificate",
                    rfc3339(t),
                    rfc3339(cert.not_after())
                ),
            ).about(cert.subject()));
        } else if cert.not_before() <= t {
            findings.push(Finding::warning(
                Code::Expired,
                format!(
                    "the certificate was valid when the message was signed ({}; it expired {}): to judge the signature as of then, run again with --at {}",
                    rfc3339(t),
                    rfc3339(cert.not_after()),
                    rfc3339(t)
                ),
            ).about(cert.subject()));
        }
    }
    let signature_ok = !findings
        .iter()
        .any(|f| matches!(f.code, Code::BadSignature | Code::ContentAltered));
    if !as_json {
        let who = s.certificate.as_ref().map_or_else(
            || "unknown signer (certificate not in the message)".to_string(),
            |c| {
                let mails = cachet_pki::validate::mailbox::mailboxes(c);
                if mails.is_empty() {
                    c.subject()
                } else {
                    format!("{} <{}>", c.subject(), mails.join(", "))
                }
            },
        );
        crate::out!("  signer: {who}");
        crate::out!(
            "    signed: {}, digest {}",
            s.signing_time
                .map_or_else(|| "no signing time".into(), rfc3339),
            s.digest_algorithm.map_or("unknown", micalg)
        );
        crate::out!(
            "    signature: {}",
            if signature_ok {
                "verifies over the content as received"
            } else {
                "DOES NOT VERIFY"
            }
        );
        if let Some(c) = &s.certificate {
            crate::out!(
                "    certificate: serial {}, valid {} to {}",
                c.serial_hex(),
                rfc3339(c.not_before()),
                rfc3339(c.not_after())
            );
        }
        match &s.validation {
            Some(val) => {
                crate::out!("    chain (checked at {}):", rfc3339(loaded.at));
                for (i, c) in val.chain.iter().enumerate() {
                    let role = if i == 0 {
                        "signer"
                    } else if i + 1 == val.chain.len() && val.anchored {
                        "trust anchor"
                    } else {
                        "intermediate"
                    };
                    crate::out!(
                        "      {i}. {} [{role}] until {}",
                        c.subject(),
                        rfc3339(c.not_after())
                    );
                    if let Some(r) = val.revocation.get(i) {
                        let status = match &r.status {
                            cachet_pki::validate::RevocationStatus::Good => {
                                "not revoked".to_string()
                            }
                            cachet_pki::validate::RevocationStatus::Revoked { at, reason } => {
                                format!("REVOKED {} ({reason})", rfc3339(*at))
                            }
                            cachet_pki::validate::RevocationStatus::Undetermined(_) => {
                                "revocation status unknown".into()
                            }
                            cachet_pki::validate::RevocationStatus::NotChecked => {
                                "revocation not checked".into()
                            }
                        };
                        crate::out!("         revocation: {status}");
                        for src in &r.sources {
                            crate::out!("           from {src}");
                        }
                        for dp in &r.distribution_points {
                            crate::out!("           published at {dp}");
                        }
                    }
                }
            }
            None => crate::out!("    chain: not checked (no trust anchor: pass --trust or --data)"),
        }
        if findings.is_empty() {
            crate::out!("    ✓ valid");
        }
        print_findings(&findings, "    ");
    }
    let validation = match (&s.certificate, &s.validation) {
        (Some(c), Some(v)) => validation_json(c, v),
        _ => Value::Null,
    };
    json!({
        "certificate": s.certificate.as_ref().map(certificate_json),
        "emails": s.certificate.as_ref().map(cachet_pki::validate::mailbox::mailboxes),
        "signing_time": s.signing_time.map(rfc3339),
        "digest": s.digest_algorithm.map(micalg),
        "signature_ok": signature_ok,
        "valid": !findings.iter().any(|f| f.severity == Severity::Error),
        "validation": validation,
        "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
    })
}
