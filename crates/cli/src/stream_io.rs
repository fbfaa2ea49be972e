//! Files for the streaming S/MIME commands: the input read positionally (a pipe is spooled
//! to a private temporary file first, since opaque signing and encryption read it twice),
//! outputs written as they are made and put in place at the end, and content that may only
//! be released after a check (decrypted plaintext before the GCM tag, signed content before
//! the verdict) held in a private temporary file until then.

use crate::io::{CliError, Result, temp_beside};
use cachet_smime::source::Source;
use cachet_smime::stream::ContentSink;
use std::cell::Cell;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Inputs at least this large show their progress on a terminal.
const PROGRESS_FROM: u64 = 64 << 20;

/// A file read positionally, with progress on standard error for large ones.
pub struct FileSource {
    file: File,
    len: u64,
    read: Cell<u64>,
    bar: Option<indicatif::ProgressBar>,
}

impl FileSource {
    fn new(file: File, what: &str) -> Result<Self> {
        let len = file
            .metadata()
            .map_err(|e| CliError(format!("cannot read {what}: {e}")))?
            .len();
        // indicatif draws only on a terminal; scripts and tests see nothing.
        let bar = (len >= PROGRESS_FROM && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(len);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} ({prefix}) {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec}",
            ) {
                bar.set_style(style);
            }
            bar.set_message(format!("reading {what}"));
            bar
        });
        Ok(FileSource {
            file,
            len,
            read: Cell::new(0),
            bar,
        })
    }

    fn report(&self) {
        if let Some(bar) = &self.bar {
            let read = self.read.get();
            let len = self.len.max(1);
            // Opaque signing and encryption read the message twice: one bar per pass.
            bar.set_prefix(format!("pass {}", read / len + 1));
            bar.set_position(read % len);
        }
    }
}

impl Drop for FileSource {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)?;
        self.read.set(self.read.get() + buf.len() as u64);
        self.report();
        Ok(())
    }
}

/// An input file, or standard input (spooled when it is not a regular file).
pub struct Input {
    /// The bytes.
    pub source: FileSource,
    _spool: Option<tempfile::NamedTempFile>,
}

/// Opens `path`, or standard input.
pub fn open_input(path: Option<&Path>, what: &str) -> Result<Input> {
    let (file, name) = match path {
        Some(p) => (
            File::open(p)
                .map_err(|e| CliError(format!("cannot read {what} {}: {e}", p.display())))?,
            format!("{what} {}", p.display()),
        ),
        None => {
            use std::os::fd::AsFd;
            let fd = std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| CliError(format!("cannot read standard input: {e}")))?;
            (File::from(fd), "standard input".to_string())
        }
    };
    let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    if regular {
        return Ok(Input {
            source: FileSource::new(file, &name)?,
            _spool: None,
        });
    }
    // A pipe or terminal: copied once to a private file (mode 0600), read from there.
    let mut spool = tempfile::Builder::new()
        .prefix(".cachet-in-")
        .tempfile()
        .map_err(|e| CliError(format!("cannot spool {name}: {e}")))?;
    let mut reader = file;
    std::io::copy(&mut reader, spool.as_file_mut())
        .map_err(|e| CliError(format!("cannot read {name}: {e}")))?;
    let copy = spool
        .reopen()
        .map_err(|e| CliError(format!("cannot spool {name}: {e}")))?;
    Ok(Input {
        source: FileSource::new(copy, &name)?,
        _spool: Some(spool),
    })
}

/// Raw CMS written as DER, or as PEM (RFC 7468 "CMS", 64 columns) encoded on the fly.
pub struct CmsWriter<W: Write> {
    inner: W,
    pem: Option<(cachet_smime::mime::encode::Base64Lines, Vec<u8>)>,
}

impl<W: Write> CmsWriter<W> {
    /// DER when `pem` is false.
    pub fn new(mut inner: W, pem: bool) -> std::io::Result<Self> {
        let pem = if pem {
            inner.write_all(b"-----BEGIN CMS-----\n")?;
            Some((cachet_smime::mime::encode::Base64Lines::pem(), Vec::new()))
        } else {
            None
        };
        Ok(CmsWriter { inner, pem })
    }

    /// Ends the PEM block; returns the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        if let Some((enc, mut text)) = self.pem.take() {
            enc.finish(&mut text);
            self.inner.write_all(&text)?;
            self.inner.write_all(b"-----END CMS-----\n")?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for CmsWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.pem {
            None => self.inner.write(buf),
            Some((enc, text)) => {
                enc.feed(buf, text);
                self.inner.write_all(text)?;
                text.clear();
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Content held back until a check passes: a private temporary file (mode 0600), beside the
/// destination when there is one so that releasing it is a rename.
pub struct Held {
    file: BufWriter<tempfile::NamedTempFile>,
}

impl Held {
    /// A new, empty holding file for content bound for `out` (or standard output).
    pub fn new(out: Option<&Path>) -> Result<Held> {
        let tmp = match out {
            Some(p) => temp_beside(p)?,
            None => tempfile::Builder::new()
                .prefix(".cachet-")
                .tempfile()
                .map_err(|e| CliError(format!("cannot make a temporary file: {e}")))?,
        };
        Ok(Held {
            file: BufWriter::with_capacity(1 << 20, tmp),
        })
    }

    /// The content held so far, as a source for the next layer.
    pub fn source(&mut self) -> Result<FileSource> {
        self.file
            .flush()
            .map_err(|e| CliError(format!("cannot write a temporary file: {e}")))?;
        let f = self
            .file
            .get_ref()
            .reopen()
            .map_err(|e| CliError(format!("cannot read a temporary file: {e}")))?;
        FileSource::new(f, "the decrypted content")
    }

    /// Releases the content: renamed to `out`, or copied to standard output.
    pub fn release(self, out: Option<&Path>) -> Result<()> {
        let tmp = self
            .file
            .into_inner()
            .map_err(|e| CliError(format!("cannot write a temporary file: {}", e.error())))?;
        match out {
            Some(p) => {
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| CliError(format!("cannot write {}: {e}", p.display())))?;
                tmp.persist(p)
                    .map_err(|e| CliError(format!("cannot write {}: {}", p.display(), e.error)))?;
                Ok(())
            }
            None => {
                let mut f = tmp
                    .reopen()
                    .map_err(|e| CliError(format!("cannot read a temporary file: {e}")))?;
                f.rewind()
                    .map_err(|e| CliError(format!("cannot read a temporary file: {e}")))?;
                let mut stdout = std::io::stdout().lock();
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = f
                        .read(&mut buf)
                        .map_err(|e| CliError(format!("cannot read a temporary file: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    stdout
                        .write_all(&buf[..n])
                        .map_err(|e| CliError(format!("cannot write to standard output: {e}")))?;
                }
                stdout
                    .flush()
                    .map_err(|e| CliError(format!("cannot write to standard output: {e}")))
            }
        }
    }
}

impl ContentSink for Held {
    fn write(&mut self, content: &[u8]) -> std::io::Result<()> {
        self.file.write_all(content)
    }

    fn restart(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        let f = self.file.get_mut().as_file_mut();
        f.set_len(0)?;
        f.rewind()
    }
}
