//! Reading a file, unpacking gzip within a size limit, and checking SHA-256 against a known value.

use std::fs::File;
use std::io::{BufReader, Read, Seek as _};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::{DataError, Verify};

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most bytes one byte of a deflate stream can unpack to: a 258-byte
/// match whose length and distance codes take one bit each (RFC 1951 §3.2.5),
/// 258 bytes from 2 bits. Gzip adds headers, so a gzip file of `n` bytes never
/// unpacks to more than `n * MAX_GZIP_RATIO`.
pub(crate) const MAX_GZIP_RATIO: u64 = 1032;

/// A data file opened for reading; a gzipped one is unpacked as it is read.
pub(crate) struct Opened {
    /// The (unpacked) contents.
    pub reader: Box<dyn Read>,
    /// Whether the file is gzipped (by its magic bytes, not its name).
    pub gzip: bool,
    /// The size of the file on disk.
    pub len: u64,
}

impl Opened {
    /// The error for a failed read: [`DataError::Gzip`] for a gzipped file.
    pub(crate) fn read_error(&self, path: &Path, source: std::io::Error) -> DataError {
        let path = path.to_path_buf();
        if self.gzip {
            DataError::Gzip { path, source }
        } else {
            DataError::Io { path, source }
        }
    }
}

/// Opens `path`, recognising gzip by its magic bytes `1f 8b`.
pub(crate) fn open(path: &Path) -> Result<Opened, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut magic = [0; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(io)?;
    file.rewind().map_err(io)?;
    let gzip = n == 2 && magic == GZIP_MAGIC;
    let buffered = BufReader::new(file);
    let reader: Box<dyn Read> = if gzip {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    Ok(Opened { reader, gzip, len })
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub(crate) fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads a file and unpacks it if it is gzipped, with no limit on the size.
///
/// Gzip is recognised by its magic bytes `1f 8b`, not by the file name, so a
/// `.gz` name holding raw bytes, or the reverse, reads the same. The loaders
/// use bounded reads instead ([`crate::idx::read`], [`read_unpacked_max`]); this
/// is for files that already passed them.
pub fn read_unpacked(path: &Path) -> Result<Vec<u8>, DataError> {
    read_unpacked_max(path, u64::MAX, "")
}

/// Like [`read_unpacked`], but refuses with [`DataError::TooLarge`] (`why`
/// saying where `limit` comes from) a file that unpacks to more than `limit`
/// bytes, having unpacked at most `limit + 1`.
pub fn read_unpacked_max(path: &Path, limit: u64, why: &str) -> Result<Vec<u8>, DataError> {
    let too_large = || DataError::TooLarge {
        path: path.to_path_buf(),
        limit,
        why: why.to_string(),
    };
    let mut opened = open(path)?;
    let mut out = Vec::new();
    if !opened.gzip {
        if opened.len > limit {
            return Err(too_large());
        }
        out.reserve(usize::try_from(opened.len).unwrap_or(0));
    }
    (&mut opened.reader)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| opened.read_error(path, e))?;
    if out.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Applies the policy to one file, and says whether it is verified official.
///
/// A file without a known checksum is accepted and is not verified official;
/// under [`Verify::Skip`] nothing is hashed.
pub(crate) fn verify_file(
    path: &Path,
    unpacked: &[u8],
    expected: Option<&str>,
    verify: Verify,
) -> Result<bool, DataError> {
    let Some(expected) = expected else {
        return Ok(false);
    };
    if verify == Verify::Skip {
        return Ok(false);
    }
    let found = sha256_hex(unpacked);
    if found == expected {
        return Ok(true);
    }
    match verify {
        Verify::Strict => Err(DataError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            found,
        }),
        _ => {
            eprintln!(
                "warning: {}: SHA-256 {found} is not the official {expected}; using it anyway",
                path.display()
            );
            Ok(false)
        }
    }
}

/// Checks that every label is a class index.
pub(crate) fn check_labels(
    path: &Path,
    labels: &[u8],
    num_classes: usize,
) -> Result<(), DataError> {
    match labels
        .iter()
        .position(|&label| usize::from(label) >= num_classes)
    {
        Some(index) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            value: labels[index],
            num_classes,
        }),
        None => Ok(()),
    }
}
