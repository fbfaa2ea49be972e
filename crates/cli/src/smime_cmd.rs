//! `cachet smime sign|verify|encrypt|decrypt`: S/MIME messages (RFC 8551) or raw CMS, from
//! files or pipes.

use crate::capabilities::Book;
use crate::io::Output;
use crate::io::{CliError, Result, read_file, read_password};
use crate::stream_io::{CmsWriter, FileSource, Held, open_input};
use crate::trust_args::{TrustArgs, read_certs};
use cachet_crypto::PrivateKey;
use cachet_pki::ParsedCertificate;
use cachet_pki::verdict::{Code, Severity, Verdict};
use cachet_smime::ber::BerLimits;
use cachet_smime::enveloped::{ContentCipher, DecryptError, RsaPadding};
use cachet_smime::message::SignMessage;
use cachet_smime::mime::Limits;
use cachet_smime::mime::smime::{SmimeType, SourceLayer, classify_in};
use cachet_smime::signed::{self, SidKind, Signer, VerifyOptions};
use cachet_smime::source::Source;
use cachet_smime::stream::envelope::{
    self as stream_envelope, CmsInput, DecryptedStream, EncryptRequest,
};
use cachet_smime::stream::message as stream_msg;
use cachet_smime::stream::signed as stream_signed;
use cachet_smime::stream::{ContentSink, Discard};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use const_oid::ObjectIdentifier;
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
        #[command(flatten)]
        validation: TrustArgs,
        /// The detached content of a raw (der/pem) signature.
        #[arg(long, value_name = "FILE")]
        content: Option<PathBuf>,
        /// Remember in FILE what each signer of a valid message can decrypt (its
        /// SMIMECapabilities), for `encrypt --capabilities FILE`.
        #[arg(long, value_name = "FILE")]
        capabilities: Option<PathBuf>,
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
        /// Content encryption. Default: aes-256-gcm when every recipient is known (from
        /// --capabilities) to read it, else aes-256-cbc, which every client reads.
        #[arg(long, value_enum)]
        cipher: Option<CipherArg>,
        /// What correspondents advertised in their signed mail, as `verify --capabilities`
        /// records it: chooses AES-GCM when every recipient is known to read it.
        #[arg(long, value_name = "FILE")]
        capabilities: Option<PathBuf>,
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

fn write_failed(e: std::io::Error) -> CliError {
    CliError(format!("cannot write the output: {e}"))
}

/// The largest detached raw signature read (certificates and CRLs included).
const MAX_RAW_SIGNATURE: u64 = 64 << 20;

/// The decoded bytes of `cms`, at most [`MAX_RAW_SIGNATURE`].
fn read_whole(cms: &CmsInput<'_>) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    cms.reader()
        .take(MAX_RAW_SIGNATURE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError(format!("malformed: the signature cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_RAW_SIGNATURE {
        return Err(CliError(format!(
            "the signature is larger than {} MiB",
            MAX_RAW_SIGNATURE >> 20
        )));
    }
    Ok(bytes)
}

/// Where the raw CMS of a `--format der|pem` input lies: all of a DER file, or the base64
/// text between the BEGIN and END lines of a PEM one (RFC 7468, one of [`CMS_PEM_LABELS`]).
fn cms_input<'a>(src: &'a FileSource, format: Format) -> Result<CmsInput<'a>> {
    let len = src.len();
    if format != Format::Pem {
        return Ok(CmsInput {
            src,
            range: 0..len,
            base64: false,
        });
    }
    let no_pem = || CliError("--format pem was given but the input holds no PEM block".into());
    let head = cachet_smime::source::read_range(src, 0..len.min(64 * 1024))
        .map_err(|e| CliError(format!("cannot read the input: {e}")))?;
    let begin = memchr_find(&head, b"-----BEGIN ").ok_or_else(no_pem)?;
    let line_end = head[begin..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| begin + i + 1)
        .ok_or_else(no_pem)?;
    let label = String::from_utf8_lossy(&head[begin + 11..line_end])
        .trim_end()
        .trim_end_matches('-')
        .to_string();
    if !CMS_PEM_LABELS.contains(&label.as_str()) {
        return Err(CliError(format!(
            "the PEM block is '{label}', not CMS (expected one of {})",
            CMS_PEM_LABELS.join(", ")
        )));
    }
    let tail_start = len.saturating_sub(64 * 1024).max(line_end as u64);
    let tail = cachet_smime::source::read_range(src, tail_start..len)
        .map_err(|e| CliError(format!("cannot read the input: {e}")))?;
    let end = memchr_rfind(&tail, b"-----END ")
        .ok_or_else(|| CliError("the PEM block has no END line".into()))?;
    Ok(CmsInput {
        src,
        range: line_end as u64..tail_start + end as u64,
        base64: true,
    })
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn memchr_rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

pub(crate) fn read_key(path: &std::path::Path) -> Result<PrivateKey> {
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

/// The PEM labels raw CMS input may carry: RFC 7468's CMS, OpenSSL's PKCS7, and what GnuPG's
/// `gpgsm --armor` writes (SIGNED MESSAGE, ENCRYPTED MESSAGE).
const CMS_PEM_LABELS: [&str; 4] = ["CMS", "PKCS7", "SIGNED MESSAGE", "ENCRYPTED MESSAGE"];

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
            let input = open_input(io.input.as_deref(), "message")?;
            let how = SignMessage {
                signer: Signer {
                    certificate: signer_cert,
                    key: &key,
                    chain: &chain,
                },
                opaque,
                sid: if ski {
                    SidKind::SubjectKeyIdentifier
                } else {
                    SidKind::IssuerAndSerialNumber
                },
                signing_time: now,
                rsa_pss: pss,
            };
            let mut out = Output::open(io.out.as_deref())?;
            match io.format {
                Format::Der | Format::Pem => {
                    let mut w =
                        CmsWriter::new(&mut out, io.format == Format::Pem).map_err(write_failed)?;
                    stream_msg::sign_raw(&input.source, &how, &mut w)
                        .map_err(|e| CliError(e.to_string()))?;
                    w.finish().map_err(write_failed)?;
                }
                Format::Smime => stream_msg::sign_message(&input.source, &how, &limits, &mut out)
                    .map_err(|e| CliError(e.to_string()))?,
            }
            out.commit()?;
            Ok(ExitCode::SUCCESS)
        }
        SmimeCommand::Verify {
            validation,
            content,
            capabilities,
            json,
            io,
        } => {
            let loaded = validation.load(now)?;
            let input = open_input(io.input.as_deref(), "message")?;
            let opts = VerifyOptions {
                at: loaded.at,
                trust_anchors: loaded.anchors,
                extra_certificates: loaded.intermediates,
                crls: loaded.crls,
                policy: loaded.policy,
                revocation: loaded.revocation,
                from_addresses: Vec::new(),
                fetcher: loaded.fetcher,
                ..Default::default()
            };
            // The signed content is held back and released only when the verdict is valid.
            let mut held = match &io.out {
                Some(p) => Some(Held::new(Some(p))?),
                None => None,
            };
            let mut discard = Discard;
            let sink: &mut dyn ContentSink = match &mut held {
                Some(h) => h,
                None => &mut discard,
            };
            let ber = BerLimits::default();
            let report = match io.format {
                Format::Der | Format::Pem => match &content {
                    Some(p) => {
                        // A detached raw signature is small: read whole (from the input
                        // already opened — standard input is spooled once); its content is
                        // streamed.
                        let sig = read_whole(&cms_input(&input.source, io.format)?)?;
                        let c = open_input(Some(p), "content")?;
                        stream_signed::verify_detached(
                            &c.source,
                            0..c.source.len(),
                            false,
                            &sig,
                            &opts,
                            &ber,
                            sink,
                        )
                    }
                    None => {
                        let cms = cms_input(&input.source, io.format)?;
                        stream_signed::verify_encapsulated(&cms, &opts, &ber, sink)
                    }
                },
                Format::Smime => {
                    stream_msg::verify_message(&input.source, &opts, &limits, &ber, sink).report
                }
            };
            print_report(&report, json)?;
            if let Some(path) = &capabilities {
                let mut book = Book::load(path)?;
                if book.record(&report, now) > 0 {
                    book.save(path)?;
                }
            }
            if let (Some(h), true) = (held, report.verdict.is_valid()) {
                h.release(io.out.as_deref())?;
            }
            Ok(exit_for(&report.verdict))
        }
        SmimeCommand::Encrypt {
            recipients,
            cipher,
            capabilities,
            oaep,
            gcm_tag_len,
            io,
        } => encrypt_command(
            &recipients,
            cipher,
            capabilities.as_deref(),
            oaep,
            gcm_tag_len,
            &io,
            &limits,
        ),
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

/// The default content encryption without `--capabilities`: AES-256-CBC, which every S/MIME
/// client reads.
///
/// DESIGN principle 5 asks for AES-256-GCM when every recipient is known to read it. Knowing
/// that needs the SMIMECapabilities each recipient advertised in signed mail (RFC 8551
/// §2.7.1): `verify --capabilities FILE` records them and `encrypt --capabilities FILE`
/// chooses by them; without the file, `--cipher aes-256-gcm` is the sender's choice.
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
    capabilities: Option<&std::path::Path>,
    oaep: bool,
    gcm_tag_len: u8,
    io: &Io,
    limits: &Limits,
) -> Result<ExitCode> {
    let certs = read_recipients(recipients)?;
    let cipher = match (cipher, capabilities) {
        (Some(c), _) => ContentCipher::from(c),
        (None, None) => DEFAULT_CIPHER,
        (None, Some(path)) => {
            let book = Book::load(path)?;
            let known: Vec<Option<&[ObjectIdentifier]>> = certs
                .iter()
                .map(|c| book.lookup(c).map(|e| e.capabilities.as_slice()))
                .collect();
            let chosen = ContentCipher::for_recipients(&known);
            let unknown = known.iter().filter(|k| k.is_none()).count();
            eprintln!(
                "cipher {}: {}",
                chosen.name(),
                if unknown > 0 {
                    format!("{unknown} recipient(s) not in {}", path.display())
                } else if chosen.is_authenticated() {
                    "every recipient advertised it".to_string()
                } else {
                    "not every recipient advertised AES-GCM".to_string()
                }
            );
            chosen
        }
    };
    let padding = if oaep {
        RsaPadding::OaepSha256
    } else {
        RsaPadding::Pkcs1v15
    };
    let input = open_input(io.input.as_deref(), "message")?;
    let req = EncryptRequest {
        recipients: &certs,
        cipher,
        key_transport: padding,
        gcm_tag_len,
    };
    let mut out = Output::open(io.out.as_deref())?;
    let fail = |e: cachet_smime::message::MessageError| CliError(e.to_string());
    match io.format {
        Format::Der | Format::Pem => {
            let mut w = CmsWriter::new(&mut out, io.format == Format::Pem).map_err(write_failed)?;
            stream_msg::encrypt_raw(&input.source, &req, &mut w).map_err(fail)?;
            w.finish().map_err(write_failed)?;
        }
        // The same inner entity a signature would cover (RFC 8551 §3.1): 7-bit safe, CRLF;
        // the envelope headers stay outside (§3.3).
        Format::Smime => {
            stream_msg::encrypt_message(&input.source, &req, limits, &mut out).map_err(fail)?
        }
    }
    out.commit()?;
    Ok(ExitCode::SUCCESS)
}

/// The certificate and key pairs to try: the one given, or each key of a PKCS#12 file with
/// its certificate.
pub(crate) fn read_identities(
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

/// Decrypts `cms` with the first identity it is addressed to into `held`.
fn decrypt_into(
    cms: &CmsInput<'_>,
    identities: &[(ParsedCertificate, PrivateKey)],
    held: &mut Held,
) -> Result<DecryptedStream> {
    let ids: Vec<(&ParsedCertificate, &PrivateKey)> =
        identities.iter().map(|(c, k)| (c, k)).collect();
    match stream_envelope::decrypt(cms, &ids, held) {
        Ok(d) => Ok(d),
        Err(DecryptError::NoRecipient) => {
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
        Err(e) => Err(decrypt_error(&e)),
    }
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
        DecryptError::Io(m) => CliError(m.clone()),
        other => CliError(format!("{}: {other}", other.code().as_str())),
    }
}

/// The type of the CMS object in `cms` (its first few bytes), if readable.
fn cms_content_type(cms: &CmsInput<'_>) -> Option<ObjectIdentifier> {
    let mut r = cms.ber();
    cachet_smime::stream::ber::open_content_info(&mut r)
        .ok()
        .map(|c| c.content_type)
}

fn report_decrypted(d: &DecryptedStream) {
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
}

fn decrypt_command(
    identities: &[(ParsedCertificate, PrivateKey)],
    anchors: &[ParsedCertificate],
    now: u64,
    io: &Io,
    limits: &Limits,
) -> Result<ExitCode> {
    let input = open_input(io.input.as_deref(), "message")?;
    let src = &input.source;
    let cms = match io.format {
        Format::Der | Format::Pem => cms_input(src, io.format)?,
        Format::Smime => match classify_in(src, 0..src.len(), limits)
            .map_err(|e| CliError(format!("malformed message: {e}")))?
        {
            SourceLayer::Pkcs7Mime { body, base64, .. } => CmsInput {
                src,
                range: body,
                base64,
            },
            SourceLayer::DetachedSigned { .. } => {
                return Err(CliError(
                    "the message is signed (multipart/signed), not encrypted: to check it, run `cachet smime verify`".into(),
                ));
            }
            SourceLayer::Content => {
                return Err(CliError(
                    "the message is not encrypted (no application/pkcs7-mime layer)".into(),
                ));
            }
        },
    };
    let mut held = Held::new(io.out.as_deref())?;
    let d = decrypt_into(&cms, identities, &mut held)?;
    report_decrypted(&d);
    if io.format == Format::Smime {
        // The outer From is what the signer must match, whatever layer the signature is in.
        let from = cachet_smime::message::sender_mailboxes(src, limits);
        for _ in 0..8 {
            let inner = held.source()?;
            let whole = 0..inner.len();
            let signed = match classify_in(&inner, whole.clone(), limits) {
                Ok(SourceLayer::DetachedSigned { .. }) => true,
                Ok(SourceLayer::Pkcs7Mime {
                    smime_type,
                    body,
                    base64,
                }) => {
                    let cms = CmsInput {
                        src: &inner,
                        range: body,
                        base64,
                    };
                    let kind = cms_content_type(&cms);
                    use cachet_smime::cms::oid;
                    if smime_type == SmimeType::SignedData || kind == Some(oid::ID_SIGNED_DATA) {
                        true
                    } else if kind == Some(oid::ID_ENVELOPED_DATA)
                        || kind == Some(oid::ID_CT_AUTH_ENVELOPED_DATA)
                    {
                        // Encrypted again (encrypt-then-encrypt or a relay's layer): unwrap.
                        let mut next = Held::new(io.out.as_deref())?;
                        report_decrypted(&decrypt_into(&cms, identities, &mut next)?);
                        drop(inner);
                        held = next;
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
            let mut opts = VerifyOptions::trusting(now, anchors.iter().cloned());
            opts.from_addresses = from.clone();
            let mut next = Held::new(io.out.as_deref())?;
            let v =
                stream_msg::verify_message(&inner, &opts, limits, &BerLimits::default(), &mut next);
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
            if !v.content_found {
                break;
            }
            drop(inner);
            held = next;
        }
    }
    held.release(io.out.as_deref())?;
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
