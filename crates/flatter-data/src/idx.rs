//! The IDX format of MNIST and Fashion-MNIST.
//!
//! An IDX file is a big-endian header followed by the data. The magic number's
//! third byte is the element type (`0x08`, unsigned byte) and its fourth the
//! number of dimensions, each then given as a `u32`. Images are
//! `0x00000803`: count, rows, cols, then `count * rows * cols` pixels, row-major.
//! Labels are `0x00000801`: count, then `count` bytes. [`read`] reads a file
//! (raw or gzipped) no further than its header promises; the parsers take the
//! unpacked bytes and demand that they hold exactly what the header promises.

use std::io::Read as _;
use std::path::Path;

use crate::{DataError, files};

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

/// Bytes of an IDX header: the magic number and one `u32` per dimension.
fn header_len(magic: u32) -> usize {
    4 + 4 * (magic & 0xff) as usize
}

/// The total size, header included, that the header at the start of `bytes`
/// promises for a file with magic number `magic`. Computed in u128, where no
/// product of three u32 overflows.
fn promised_len(path: &Path, bytes: &[u8], magic: u32) -> Result<u128, DataError> {
    check_magic(path, bytes, magic)?;
    let header = header_len(magic) as u128;
    let count = u128::from(be_u32(path, bytes, 4)?);
    if magic != IMAGES_MAGIC {
        return Ok(header + count);
    }
    let rows = u128::from(be_u32(path, bytes, 8)?);
    let cols = u128::from(be_u32(path, bytes, 12)?);
    if rows == 0 || cols == 0 {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            reason: format!("images of {rows}x{cols} pixels hold no pixels"),
        });
    }
    Ok(header + count * rows * cols)
}

/// Reads the IDX file at `path` ([`IMAGES_MAGIC`] or [`LABELS_MAGIC`]), raw
/// or gzipped, and returns its unpacked bytes, header included.
///
/// The header is read and checked first, so a wrong magic number or an
/// impossible size is refused before the rest is unpacked; then at most the
/// promised size plus one byte is unpacked. A gzip bomb therefore costs no
/// more memory than its header honestly promises, and that promise is capped
/// by what the compressed size can unpack to (see `MAX_GZIP_RATIO`).
pub fn read(path: &Path, magic: u32) -> Result<Vec<u8>, DataError> {
    let mut opened = files::open(path)?;
    let mut out = vec![0; header_len(magic)];
    let got =
        files::read_up_to(&mut opened.reader, &mut out).map_err(|e| opened.read_error(path, e))?;
    out.truncate(got);
    let total = promised_len(path, &out, magic)?;
    let on_disk = u128::from(opened.len);
    if opened.gzip {
        let most = on_disk * u128::from(files::MAX_GZIP_RATIO);
        if total > most {
            return Err(DataError::BadHeader {
                path: path.to_path_buf(),
                reason: format!(
                    "it promises {total} bytes, but a gzip file of {on_disk} bytes unpacks to at most {most}"
                ),
            });
        }
    } else {
        // A raw file's size is known: compare before reading anything more.
        check_len(path, on_disk, total)?;
    }
    // `total` is now at most 1032 times the file's size, so it fits.
    let total = to_usize(total);
    let rest = total - out.len();
    // A raw file's size is exact; a gzipped one grows as it unpacks, so
    // memory follows the bytes actually there, not the promise.
    out.reserve(if opened.gzip { rest.min(1 << 20) } else { rest });
    (&mut opened.reader)
        .take(rest as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| opened.read_error(path, e))?;
    if opened.gzip && out.len() > total {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            limit: total as u64,
            why: "the size its IDX header promises (trailing data)".to_string(),
        });
    }
    check_len(path, out.len() as u128, total as u128)?;
    Ok(out)
}

/// Parses an unpacked IDX images file; `path` is only used in errors.
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<IdxImages, DataError> {
    let total = promised_len(path, bytes, IMAGES_MAGIC)?;
    check_len(path, bytes.len() as u128, total)?;
    let field = |offset| be_u32(path, bytes, offset).map(|v| v as usize);
    Ok(IdxImages {
        count: field(4)?,
        rows: field(8)?,
        cols: field(12)?,
        pixels: bytes[header_len(IMAGES_MAGIC)..].to_vec(),
    })
}

/// Parses an unpacked IDX labels file; `path` is only used in errors.
///
/// Labels are not range-checked here, since the number of classes is the
/// dataset's business.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    let total = promised_len(path, bytes, LABELS_MAGIC)?;
    check_len(path, bytes.len() as u128, total)?;
    Ok(bytes[header_len(LABELS_MAGIC)..].to_vec())
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
fn check_len(path: &Path, available: u128, expected: u128) -> Result<(), DataError> {
    if available < expected {
        Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: u64::try_from(expected).unwrap_or(u64::MAX),
            available: u64::try_from(available).unwrap_or(u64::MAX),
        })
    } else if available > expected {
        Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: expected as u64,
            found: u64::try_from(available).unwrap_or(u64::MAX),
        })
    } else {
        Ok(())
    }
}

/// Narrows a size that [`check_len`] or the gzip bound has already bounded by the file size.
fn to_usize(value: u128) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
