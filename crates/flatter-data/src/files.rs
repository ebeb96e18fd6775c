//! Reading a file whole, unpacking gzip, and checking SHA-256 against a known value.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::{DataError, Verify};

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a file and unpacks it if it is gzipped.
///
/// Gzip is recognised by its magic bytes `1f 8b`, not by the file name, so a
/// `.gz` name holding raw bytes, or the reverse, reads the same.
pub fn read_unpacked(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut unpacked = Vec::new();
    MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut unpacked)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(unpacked)
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
