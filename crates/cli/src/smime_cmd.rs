//! `cachet smime sign|verify|encrypt|decrypt`: S/MIME messages (RFC 8551) or raw CMS, from
//! files or pipes.

use crate::io::{CliError, Result, read_file, read_password, write_output};
use cachet_crypto::PrivateKey;
use cachet_pki::ParsedCertificate;
use cachet_pki::verdict::{Code, Severity, Verdict};
use cachet_smime::ber::BerLimits;
use cachet_smime::enveloped::{self, ContentCipher, DecryptError, Decrypted, RsaPadding};
use cachet_smime::message::{SignMessage, sign_message, verify_message};
use cachet_smime::mime::Limits;
use cachet_smime::mime::canon::to_crlf;
use cachet_smime::mime::encode::make_7bit_safe;
use cachet_smime::mime::header::parse_header_block;
use cachet_smime::mime::smime::{self as wrap, Layer, SmimeType, classify, split_message};
use cachet_smime::signed::{
    self, ContentDigests, SidKind, SignRequest, SignedContent, Signer, VerifyOptions,
};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Input and output encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// An S/MIME message (MIME).
    #[default]
    Smime,
    /// Raw CMS, DER.
    Der,
    /// Raw CMS, PEM ("CMS").
    Pem,
}

#[derive(Args, Clone)]
pub struct Io {
    /// Input file (default: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file (default: standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// smime (a MIME message), der or pem (raw CMS).
    #[arg(long, value_enum, default_value_t = Format::Smime)]
    format: Format,
}

/// The content-encryption algorithms `encrypt` offers (RFC 8551 §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CipherArg {
    /// AES-256-GCM, AuthEnvelopedData (RFC 5083/5084).
    #[value(name = "aes-256-gcm")]
    Aes256Gcm,
    /// AES-128-GCM, AuthEnvelopedData.
    #[value(name = "aes-128-gcm")]
    Aes128Gcm,
    /// AES-256-CBC, EnvelopedData (RFC 3565): what every client reads.
    #[value(name = "aes-256-cbc")]
    Aes256Cbc,
    /// AES-128-CBC, EnvelopedData.
    #[value(name = "aes-128-cbc")]
    Aes128Cbc,
}

impl From<CipherArg> for ContentCipher {
    fn from(c: CipherArg) -> Self {
        match c {
            CipherArg::Aes256Gcm => ContentCipher::Aes256Gcm,
            CipherArg::Aes128Gcm => ContentCipher::Aes128Gcm,
            CipherArg::Aes256Cbc => ContentCipher::Aes256Cbc,
            CipherArg::Aes128Cbc => ContentCipher::Aes128Cbc,
        }
    }
}

#[derive(Subcommand)]
pub enum SmimeCommand {
    /// Sign a message: multipart/signed by default, application/pkcs7-mime with --opaque.
    Sign {
        /// The signer's certificate.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// The signer's private key (PKCS#8, PEM or DER).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Certificates to carry with the signature (intermediates).
        #[arg(long, value_name = "FILE")]
        chain: Option<PathBuf>,
        /// Encapsulate the content in the signature (signed-data) instead of detaching it.
        #[arg(long)]
        opaque: bool,
        /// Identify the signer by subjectKeyIdentifier instead of issuer and serial number.
        #[arg(long)]
        ski: bool,
        /// Sign with RSASSA-PSS (SHA-256) instead of PKCS#1 v1.5 (RSA keys).
        #[arg(long)]
        pss: bool,
        #[command(flatten)]
        io: Io,
    },
    /// Verify a signed message; exit 0 when valid, 1 when not, 2 when unreadable.
    Verify {
        /// Trust anchors (PEM bundle or DER); repeatable.
        #[arg(long, value_name = "FILE")]
        trust: Vec<PathBuf>,
        /// More certificates that may complete the chain.
        #[arg(long, value_name = "FILE")]
        intermediates: Vec<PathBuf>,
        /// Check validity at this time (RFC 3339) instead of now.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// The detached content of a raw (der/pem) signature.
        #[arg(long, value_name = "FILE")]
        content: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        io: Io,
    },
    /// Encrypt a message to one or more recipients' certificates: application/pkcs7-mime
    /// enveloped-data (CBC) or authEnveloped-data (GCM).
    Encrypt {
        /// A recipient's encryption certificate (PEM or DER; the first certificate of the
        /// file); repeatable.
        #[arg(long = "recipient", value_name = "CERT", required = true)]
        recipients: Vec<PathBuf>,
        /// Content encryption. Default aes-256-cbc, which every client reads; choose
        /// aes-256-gcm when every recipient is known to read AuthEnvelopedData.
        #[arg(long, value_enum)]
        cipher: Option<CipherArg>,
        /// Give RSA recipients the key with RSAES-OAEP (SHA-256) instead of PKCS#1 v1.5.
        #[arg(long)]
        oaep: bool,
        /// GCM tag length: 16 (default; OpenSSL, Bouncy Castle) or 12 (the RFC 5084 default,
        /// the only one GnuPG 2.2 gpgsm reads).
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u8).range(12..=16), value_name = "OCTETS")]
        gcm_tag_len: u8,
        #[command(flatten)]
        io: Io,
    },
    /// Decrypt a message with a certificate and its private key (or a PKCS#12 file) and write
    /// the inner content.
    #[command(group(ArgGroup::new("identity").required(true).args(["cert", "p12"])))]
    Decrypt {
        /// The recipient's certificate.
        #[arg(long, value_name = "FILE", requires = "key", conflicts_with = "p12")]
        cert: Option<PathBuf>,
        /// The recipient's private key (PKCS#8, PEM or DER).
        #[arg(long, value_name = "FILE", requires = "cert")]
        key: Option<PathBuf>,
        /// A PKCS#12 file with the recipient's key and certificate.
        #[arg(long, value_name = "FILE", requires = "password_file")]
        p12: Option<PathBuf>,
        /// The file holding the PKCS#12 password (first line).
        #[arg(long, value_name = "FILE", requires = "p12")]
        password_file: Option<PathBuf>,
        /// Trust anchors: with them, signed layers inside (sign-then-encrypt, triple wrapping)
        /// are verified too, every layer is unwrapped (up to 8), and the innermost content is
        /// written only if every signature is valid. Repeatable.
        #[arg(long, value_name = "FILE")]
        trust: Vec<PathBuf>,
        #[command(flatten)]
        io: Io,
    },
}

/// Messages are read whole, up to 1 GiB, until the streaming paths arrive.
const MAX_MESSAGE: u64 = 1 << 30;

fn read_input(path: Option<&PathBuf>, what: &str) -> Result<Vec<u8>> {
    match path {
        Some(p) => crate::io::read_file_up_to(p, what, MAX_MESSAGE),
        None => {
            use std::io::Read;
            let mut buf = Vec::new();
            std::io::stdin()
                .take(MAX_MESSAGE)
                .read_to_end(&mut buf)
                .map_err(|e| CliError(format!("cannot read standard input: {e}")))?;
            Ok(buf)
        }
    }
}

fn read_certs(path: &std::path::Path, what: &str) -> Result<Vec<ParsedCertificate>> {
    let bytes = read_file(path, what)?;
    ParsedCertificate::from_pem_or_der(&bytes)
        .map_err(|e| CliError(format!("{what} {}: {e}", path.display())))
}

fn read_key(path: &std::path::Path) -> Result<PrivateKey> {
    let bytes = zeroize::Zeroizing::new(read_file(path, "private key")?);
    let der = if cachet_pki::pem::is_pem(&bytes) {
        let blocks = cachet_pki::pem::decode_all(&bytes)
            .map_err(|e| CliError(format!("private key {}: {e}", path.display())))?;
        let (label, der) = blocks
            .into_iter()
            .next()
            .ok_or_else(|| CliError(format!("private key {}: no PEM block", path.display())))?;
        if label != "PRIVATE KEY" {
            return Err(CliError(format!(
                "private key {}: a '{label}' block; Cachet reads unencrypted PKCS#8 ('PRIVATE KEY'): convert with `openssl pkcs8 -topk8 -nocrypt`",
                path.display()
            )));
        }
        zeroize::Zeroizing::new(der)
    } else {
        bytes
    };
    PrivateKey::from_pkcs8_der(&der)
        .map_err(|e| CliError(format!("private key {}: {e}", path.display())))
}

fn parse_time(s: &str) -> Result<u64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            CliError(format!(
                "--at '{s}' is not an RFC 3339 time (e.g. 2026-11-23T12:00:00Z): {e}"
            ))
        })?;
    u64::try_from(t.unix_timestamp()).map_err(|_| CliError(format!("--at '{s}' is before 1970")))
}

/// The PEM labels raw CMS input may carry: RFC 7468's CMS, OpenSSL's PKCS7, and what GnuPG's
/// `gpgsm --armor` writes (SIGNED MESSAGE, ENCRYPTED MESSAGE).
const CMS_PEM_LABELS: [&str; 4] = ["CMS", "PKCS7", "SIGNED MESSAGE", "ENCRYPTED MESSAGE"];

/// Decodes raw CMS input (DER, or PEM with one of [`CMS_PEM_LABELS`]).
fn raw_cms(bytes: &[u8], format: Format) -> Result<Vec<u8>> {
    match format {
        Format::Pem if !cachet_pki::pem::is_pem(bytes) => Err(CliError(
            "--format pem was given but the input holds no PEM block".into(),
        )),
        Format::Pem => cachet_pki::pem::der_objects(bytes, &CMS_PEM_LABELS, "CMS")
            .map_err(|e| CliError(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| CliError("no CMS block found".into())),
        _ => Ok(bytes.to_vec()),
    }
}

fn encode_raw(der: &[u8], format: Format) -> Vec<u8> {
    match format {
        Format::Pem => cachet_pki::pem::encode("CMS", der).into_bytes(),
        _ => der.to_vec(),
    }
}

/// Runs an `smime` subcommand.
pub fn run(cmd: SmimeCommand, now: u64) -> Result<ExitCode> {
    let limits = Limits::default();
    match cmd {
        SmimeCommand::Sign {
            cert,
            key,
            chain,
            opaque,
            ski,
            pss,
            io,
        } => {
            let certs = read_certs(&cert, "certificate")?;
            let signer_cert = certs
                .first()
                .ok_or_else(|| CliError(format!("certificate {}: empty", cert.display())))?;
            let key = read_key(&key)?;
            let chain = match &chain {
                Some(p) => read_certs(p, "chain")?,
                None => certs[1..].to_vec(),
            };
            let input = read_input(io.input.as_ref(), "message")?;
            let d = signed::digest_for(key.key_type());
            let sid = if ski {
                SidKind::SubjectKeyIdentifier
            } else {
                SidKind::IssuerAndSerialNumber
            };
            let sign_content = |content: &[u8], encapsulate: bool| -> Result<Vec<u8>> {
                let digests = ContentDigests::of(content, [d]);
                let signers = [Signer {
                    certificate: signer_cert,
                    key: &key,
                    chain: &chain,
                }];
                signed::sign(&SignRequest {
                    signers: &signers,
                    digests: &digests,
                    encapsulated: encapsulate.then_some(content),
                    signing_time: now,
                    sid,
                    rsa_pss: pss,
                })
                .map_err(|e| CliError(format!("cannot sign: {e}")))
            };
            let out = match io.format {
                Format::Der | Format::Pem => encode_raw(&sign_content(&input, opaque)?, io.format),
                Format::Smime => {
                    let how = SignMessage {
                        signer: Signer {
                            certificate: signer_cert,
                            key: &key,
                            chain: &chain,
                        },
                        opaque,
                        sid,
                        signing_time: now,
                        rsa_pss: pss,
                    };
                    sign_message(&input, &how, &limits).map_err(|e| CliError(e.to_string()))?
                }
            };
            write_output(io.out.as_deref(), &out)?;
            Ok(ExitCode::SUCCESS)
        }
        SmimeCommand::Verify {
            trust,
            intermediates,
            at,
            content,
            json,
            io,
        } => {
            let mut anchors = Vec::new();
            for t in &trust {
                anchors.extend(read_certs(t, "trust anchor")?);
            }
            let mut extra = Vec::new();
            for t in &intermediates {
                extra.extend(read_certs(t, "intermediates")?);
            }
            let at = match &at {
                Some(s) => parse_time(s)?,
                None => now,
            };
            let input = read_input(io.input.as_ref(), "message")?;
            let opts = VerifyOptions {
                at,
                trust_anchors: anchors,
                extra_certificates: extra,
                from_addresses: Vec::new(),
                cache: None,
            };
            let (report, inner) = match io.format {
                Format::Der | Format::Pem => {
                    let cms = raw_cms(&input, io.format)?;
                    let detached = match &content {
                        Some(p) => Some(read_file(p, "content")?),
                        None => None,
                    };
                    let sc = match &detached {
                        Some(c) => SignedContent::Detached(c),
                        None => SignedContent::Encapsulated,
                    };
                    let r = signed::verify(&cms, sc, &opts, &BerLimits::default());
                    // Exactly the bytes that were digested.
                    let inner = match detached {
                        Some(d) => Some(d),
                        None => r.content.clone(),
                    };
                    (r, inner)
                }
                Format::Smime => {
                    let v = verify_message(&input, &opts, &limits, &BerLimits::default());
                    (v.report, v.content)
                }
            };
            print_report(&report, json)?;
            // The signed content is released only when the verdict is valid.
            if let (Some(out), Some(inner), true) = (&io.out, &inner, report.verdict.is_valid()) {
                write_output(Some(out), inner)?;
            }
            Ok(exit_for(&report.verdict))
        }
        SmimeCommand::Encrypt {
            recipients,
            cipher,
            oaep,
            gcm_tag_len,
            io,
        } => encrypt_command(&recipients, cipher, oaep, gcm_tag_len, &io, &limits),
        SmimeCommand::Decrypt {
            cert,
            key,
            p12,
            password_file,
            trust,
            io,
        } => {
            let identities = read_identities(
                cert.as_ref(),
                key.as_ref(),
                p12.as_ref(),
                password_file.as_ref(),
            )?;
            let mut anchors = Vec::new();
            for t in &trust {
                anchors.extend(read_certs(t, "trust anchor")?);
            }
            decrypt_command(&identities, &anchors, now, &io, &limits)
        }
    }
}

/// The default content encryption: AES-256-CBC, which every S/MIME client reads.
///
/// DESIGN principle 5 asks for AES-256-GCM when every recipient is known to read it. Knowing
/// that needs the SMIMECapabilities each recipient advertised in signed mail (RFC 8551
/// §2.7.1), and the offline command has no store of those; so it writes what every recipient
/// reads, and `--cipher aes-256-gcm` is the sender's choice when they know better.
const DEFAULT_CIPHER: ContentCipher = ContentCipher::Aes256Cbc;

/// The first certificate of each `--recipient` file.
fn read_recipients(paths: &[PathBuf]) -> Result<Vec<ParsedCertificate>> {
    paths
        .iter()
        .map(|p| {
            read_certs(p, "recipient certificate")?
                .into_iter()
                .next()
                .ok_or_else(|| CliError(format!("recipient certificate {}: empty", p.display())))
        })
        .collect()
}

fn encrypt_command(
    recipients: &[PathBuf],
    cipher: Option<CipherArg>,
    oaep: bool,
    gcm_tag_len: u8,
    io: &Io,
    limits: &Limits,
) -> Result<ExitCode> {
    let certs = read_recipients(recipients)?;
    let cipher = cipher.map(ContentCipher::from).unwrap_or(DEFAULT_CIPHER);
    let padding = if oaep {
        RsaPadding::OaepSha256
    } else {
        RsaPadding::Pkcs1v15
    };
    let input = Zeroizing::new(read_input(io.input.as_ref(), "message")?);
    let encrypt = |content: &[u8]| {
        enveloped::encrypt_with_tag_len(content, &certs, cipher, padding, gcm_tag_len)
            .map_err(|e| CliError(format!("cannot encrypt: {e}")))
    };
    let out = match io.format {
        Format::Der | Format::Pem => encode_raw(&encrypt(&input)?, io.format),
        Format::Smime => {
            let split =
                split_message(&input, limits).map_err(|e| CliError(format!("message: {e}")))?;
            // The same inner entity a signature would cover (RFC 8551 §3.1): 7-bit safe,
            // CRLF; the envelope headers stay outside (§3.3).
            let safe = make_7bit_safe(&split.inner, limits)
                .map_err(|e| CliError(format!("message: {e}")))?;
            let entity = Zeroizing::new(to_crlf(&safe).into_owned());
            let smime_type = if cipher.is_authenticated() {
                SmimeType::AuthEnvelopedData
            } else {
                SmimeType::EnvelopedData
            };
            wrap::build_pkcs7_mime(&split.outer, smime_type, &encrypt(&entity)?)
        }
    };
    write_output(io.out.as_deref(), &out)?;
    Ok(ExitCode::SUCCESS)
}

/// The certificate and key pairs to try: the one given, or each key of a PKCS#12 file with
/// its certificate.
fn read_identities(
    cert: Option<&PathBuf>,
    key: Option<&PathBuf>,
    p12: Option<&PathBuf>,
    password_file: Option<&PathBuf>,
) -> Result<Vec<(ParsedCertificate, PrivateKey)>> {
    if let (Some(p12), Some(pw)) = (p12, password_file) {
        let bytes = Zeroizing::new(read_file(p12, "PKCS#12 file")?);
        let password = read_password(pw, "password file")?;
        let contents = cachet_pki::pkcs12::parse(&bytes, &password).map_err(|e| match e {
            cachet_pki::pkcs12::Pkcs12Error::WrongPassword => CliError(format!(
                "wrong password for --p12 {}: the password in {} does not open it",
                p12.display(),
                pw.display()
            )),
            other => CliError(format!("{}: {other}", p12.display())),
        })?;
        let certs: Vec<ParsedCertificate> = contents
            .certificates
            .iter()
            .filter_map(|d| ParsedCertificate::from_der(d).ok())
            .collect();
        let mut out = Vec::new();
        for (i, k) in contents.keys.iter().enumerate() {
            let key = PrivateKey::from_pkcs8_der(k).map_err(|e| {
                CliError(format!(
                    "{}: key {} is not usable: {e}",
                    p12.display(),
                    i + 1
                ))
            })?;
            let by_id = contents
                .certificate_for_key(i)
                .and_then(|c| contents.certificates.get(c))
                .and_then(|d| ParsedCertificate::from_der(d).ok());
            let cert = by_id
                .filter(|c| c.spki_der().ok().as_deref() == Some(key.public_key_der()))
                .or_else(|| {
                    certs
                        .iter()
                        .find(|c| c.spki_der().ok().as_deref() == Some(key.public_key_der()))
                        .cloned()
                });
            if let Some(cert) = cert {
                out.push((cert, key));
            }
        }
        if out.is_empty() {
            return Err(CliError(format!(
                "{}: no private key with its certificate",
                p12.display()
            )));
        }
        return Ok(out);
    }
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let c = read_certs(cert, "certificate")?
                .into_iter()
                .next()
                .ok_or_else(|| CliError(format!("certificate {}: empty", cert.display())))?;
            let k = read_key(key)?;
            if c.spki_der().ok().as_deref() != Some(k.public_key_der()) {
                return Err(CliError(format!(
                    "the private key {} does not belong to the certificate {}",
                    key.display(),
                    cert.display()
                )));
            }
            Ok(vec![(c, k)])
        }
        _ => Err(CliError(
            "give --cert and --key, or --p12 and --password-file".into(),
        )),
    }
}

/// Decrypts with the first identity the message is addressed to.
fn decrypt_with(cms: &[u8], identities: &[(ParsedCertificate, PrivateKey)]) -> Result<Decrypted> {
    for (cert, key) in identities {
        match enveloped::decrypt(cms, cert, key, &BerLimits::default()) {
            Ok(d) => return Ok(d),
            Err(DecryptError::NoRecipient) => continue,
            Err(e) => return Err(decrypt_error(&e)),
        }
    }
    let names: Vec<String> = identities
        .iter()
        .map(|(c, _)| format!("'{}' (serial {})", c.subject(), c.serial_hex()))
        .collect();
    Err(CliError(format!(
        "{}: the message is not encrypted to the certificate {}: decrypt it with the key of a certificate it was sent to",
        cachet_pki::verdict::Code::NoRecipientKey.as_str(),
        names.join(" or ")
    )))
}

fn decrypt_error(e: &DecryptError) -> CliError {
    match e {
        DecryptError::DecryptionFailed => CliError(
            "the message cannot be decrypted: the key does not match or the message was altered"
                .into(),
        ),
        DecryptError::NotEncrypted(what) => CliError(format!(
            "the message is not encrypted (it is {what}): to check a signature, run `cachet smime verify`"
        )),
        other => CliError(format!("{}: {other}", other.code().as_str())),
    }
}

fn decrypt_command(
    identities: &[(ParsedCertificate, PrivateKey)],
    anchors: &[ParsedCertificate],
    now: u64,
    io: &Io,
    limits: &Limits,
) -> Result<ExitCode> {
    let input = read_input(io.input.as_ref(), "message")?;
    let cms = match io.format {
        Format::Der | Format::Pem => raw_cms(&input, io.format)?,
        Format::Smime => match classify(&input, limits)
            .map_err(|e| CliError(format!("malformed message: {e}")))?
        {
            Layer::Pkcs7Mime { cms, .. } => cms,
            Layer::DetachedSigned { .. } => {
                return Err(CliError(
                    "the message is signed (multipart/signed), not encrypted: to check it, run `cachet smime verify`".into(),
                ));
            }
            Layer::Content => {
                return Err(CliError(
                    "the message is not encrypted (no application/pkcs7-mime layer)".into(),
                ));
            }
        },
    };
    let d = decrypt_with(&cms, identities)?;
    if d.weak {
        eprintln!(
            "{} [warning]: the message was encrypted with {}, which is no longer secure: accepted for old mail only; ask the sender to use AES",
            cachet_pki::verdict::Code::WeakAlgorithm.as_str(),
            d.cipher.name()
        );
    }
    if d.content_type != cachet_smime::cms::oid::ID_DATA {
        eprintln!(
            "note: the encrypted content is of type {}, not id-data (RFC 8551 §3.3): it is written as it is",
            d.content_type
        );
    }
    let mut content = Zeroizing::new(d.content.to_vec());
    if io.format == Format::Smime {
        // The outer From is what the signer must match, whatever layer the signature is in.
        let from = parse_header_block(&input, limits)
            .ok()
            .and_then(|h| h.get("From").map(|f| f.unfolded()))
            .and_then(|v| cachet_smime::message::mailboxes(&v))
            .unwrap_or_default();
        for _ in 0..8 {
            let signed = match classify(&content, limits) {
                Ok(Layer::DetachedSigned { .. }) => true,
                Ok(Layer::Pkcs7Mime { smime_type, cms }) => {
                    let kind = cachet_smime::cms::decode_content_info(&cms, &BerLimits::default())
                        .map(|c| c.content.kind())
                        .ok();
                    use cachet_smime::cms::ContentKind;
                    if smime_type == SmimeType::SignedData || kind == Some(ContentKind::SignedData)
                    {
                        true
                    } else if matches!(
                        kind,
                        Some(ContentKind::EnvelopedData | ContentKind::AuthEnvelopedData)
                    ) {
                        // Encrypted again (encrypt-then-encrypt or a relay's layer): unwrap.
                        content = Zeroizing::new(decrypt_with(&cms, identities)?.content.to_vec());
                        continue;
                    } else {
                        false
                    }
                }
                _ => false,
            };
            if !signed {
                break;
            }
            if anchors.is_empty() {
                eprintln!(
                    "the decrypted content is signed: run `cachet smime verify`, or decrypt with --trust ROOT to verify it too"
                );
                break;
            }
            let opts = VerifyOptions {
                at: now,
                trust_anchors: anchors.to_vec(),
                from_addresses: from.clone(),
                ..Default::default()
            };
            let v = verify_message(&content, &opts, limits, &BerLimits::default());
            for s in &v.report.signers {
                let who = s
                    .certificate
                    .as_ref()
                    .map(|c| c.subject())
                    .unwrap_or_else(|| "unknown signer".into());
                eprintln!(
                    "signature by {who}: {}",
                    if s.verdict.is_valid() {
                        "valid"
                    } else {
                        "NOT VALID"
                    }
                );
            }
            for f in &v.report.verdict.findings {
                eprintln!("  {} [{}]: {}", f.code, f.severity.as_str(), f.message);
            }
            if !v.report.verdict.is_valid() {
                return Ok(exit_for(&v.report.verdict));
            }
            match v.content {
                Some(inner) => content = Zeroizing::new(inner),
                None => break,
            }
        }
    }
    write_output(io.out.as_deref(), &content)?;
    Ok(ExitCode::SUCCESS)
}

/// Exit 0 valid, 2 when the input could not be read as a signed structure, 1 otherwise.
fn exit_for(v: &Verdict) -> ExitCode {
    if v.is_valid() {
        ExitCode::SUCCESS
    } else if v
        .findings
        .iter()
        .any(|f| f.code == Code::Malformed && f.severity == Severity::Error)
    {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

fn print_report(r: &signed::SignedReport, as_json: bool) -> Result<()> {
    let finding_json = |f: &cachet_pki::verdict::Finding| json!({"code": f.code.as_str(), "severity": f.severity.as_str(), "subject": f.subject, "message": f.message});
    if as_json {
        let signers: Vec<_> = r
            .signers
            .iter()
            .map(|s| {
                json!({
                    "subject": s.certificate.as_ref().map(|c| c.subject()),
                    "emails": s.certificate.as_ref().map(|c| c.email_addresses().unwrap_or_default()),
                    "serial": s.certificate.as_ref().map(|c| c.serial_hex()),
                    "signing_time": s.signing_time.map(cachet_pki::time::rfc3339),
                    "digest": s.digest_algorithm.map(signed::micalg),
                    "chain": s.chain.iter().map(|c| c.subject()).collect::<Vec<_>>(),
                    "valid": s.verdict.is_valid(),
                    "findings": s.verdict.findings.iter().map(finding_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = json!({
            "valid": r.verdict.is_valid(),
            "findings": r.verdict.findings.iter().map(finding_json).collect::<Vec<_>>(),
            "signers": signers,
        });
        crate::out!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| CliError(e.to_string()))?
        );
        return Ok(());
    }
    if r.verdict.is_valid() {
        crate::out!("valid: {} signature(s) verified", r.signers.len());
    } else {
        crate::out!("NOT VALID");
    }
    for s in &r.signers {
        let who = s
            .certificate
            .as_ref()
            .map(|c| c.subject())
            .unwrap_or_else(|| "unknown signer".into());
        let when = s
            .signing_time
            .map(cachet_pki::time::rfc3339)
            .unwrap_or_else(|| "no signing time".into());
        crate::out!("  signer {who} (signed {when})");
        for f in &s.verdict.findings {
            crate::out!("    {} [{}]: {}", f.code, f.severity.as_str(), f.message);
        }
        if s.verdict.findings.is_empty() && !s.chain.is_empty() {
            crate::out!(
                "    chain: {}",
                s.chain
                    .iter()
                    .map(|c| c.subject())
                    .collect::<Vec<_>>()
                    .join(" <- ")
            );
        }
    }
    if r.signers.is_empty() {
        for f in &r.verdict.findings {
            crate::out!("  {} [{}]: {}", f.code, f.severity.as_str(), f.message);
        }
    }
    Ok(())
}
