//! The IDX format of MNIST and Fashion-MNIST.
//!
//! An IDX file is a big-endian header followed by the data. The magic number's
//! third byte is the element type (`0x08`, unsigned byte) and its fourth the
//! number of dimensions, each then given as a `u32`. Images are
//! `0x00000803`: count, rows, cols, then `count * rows * cols` pixels, row-major.
//! Labels are `0x00000801`: count, then `count` bytes. The parsers here take
//! the unpacked bytes (see [`crate::read_unpacked`]) and demand that the file
//! holds exactly what its header promises.

use std::path::Path;

use crate::DataError;

/// The magic number of an IDX file of `u8` images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of `u8` labels (1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The contents of an IDX images file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, row-major.
    pub pixels: Vec<u8>,
}

/// Parses an unpacked IDX images file; `path` is only used in errors.
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<IdxImages, DataError> {
    check_magic(path, bytes, IMAGES_MAGIC)?;
    // Sizes are computed in u128, where no product of three u32 overflows.
    let count = u128::from(be_u32(path, bytes, 4)?);
    let rows = u128::from(be_u32(path, bytes, 8)?);
    let cols = u128::from(be_u32(path, bytes, 12)?);
    if rows == 0 || cols == 0 {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            reason: format!("images of {rows}x{cols} pixels hold no pixels"),
        });
    }
    let header = 16;
    check_len(path, bytes.len(), header + count * rows * cols)?;
    Ok(IdxImages {
        count: to_usize(count),
        rows: to_usize(rows),
        cols: to_usize(cols),
        pixels: bytes[header as usize..].to_vec(),
    })
}

/// Parses an unpacked IDX labels file; `path` is only used in errors.
///
/// Labels are not range-checked here, since the number of classes is the
/// dataset's business.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    check_magic(path, bytes, LABELS_MAGIC)?;
    let count = u128::from(be_u32(path, bytes, 4)?);
    let header = 8;
    check_len(path, bytes.len(), header + count)?;
    Ok(bytes[header as usize..].to_vec())
}

/// Fails unless the file starts with `expected`.
fn check_magic(path: &Path, bytes: &[u8], expected: u32) -> Result<(), DataError> {
    let found = be_u32(path, bytes, 0)?;
    if found == expected {
        Ok(())
    } else {
        Err(DataError::WrongMagic {
            path: path.to_path_buf(),
            expected,
            found,
        })
    }
}

/// Reads the big-endian `u32` at `offset`.
fn be_u32(path: &Path, bytes: &[u8], offset: usize) -> Result<u32, DataError> {
    match bytes.get(offset..offset + 4) {
        Some(word) => Ok(u32::from_be_bytes([word[0], word[1], word[2], word[3]])),
        None => Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: (offset + 4) as u64,
            available: bytes.len() as u64,
        }),
    }
}

/// Fails unless the file is exactly `expected` bytes long.
fn check_len(path: &Path, available: usize, expected: u128) -> Result<(), DataError> {
    let available = available as u128;
    if available < expected {
        Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: u64::try_from(expected).unwrap_or(u64::MAX),
            available: available as u64,
        })
    } else if available > expected {
        Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: expected as u64,
            found: available as u64,
        })
    } else {
        Ok(())
    }
}

/// Narrows a header field that [`check_len`] has already bounded by the file size.
fn to_usize(value: u128) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
