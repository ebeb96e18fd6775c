//! CIFAR-10, binary version: 10 classes of 32x32 colour images.
//!
//! The training split is `data_batch_1.bin` to `data_batch_5.bin`, in that
//! order, and the test split is `test_batch.bin`; each holds 10 000 records of
//! one label byte (0..=9) and 3072 pixel bytes: the 1024 red, then 1024 green,
//! then 1024 blue values of a row-major 32x32 image. That is already C×H×W, so
//! records are copied as they are. The files may sit in the given directory or
//! in its `cifar-10-batches-bin/` subdirectory, as the archive unpacks.
//!
//! Checksums: no per-file SHA-256 is hard-coded, since none could be verified
//! here. The download step (`cargo xtask data fetch cifar10`) checks the
//! archive `cifar-10-binary.tar.gz` against its published MD5,
//! `c32a1d4ab5d03f1284b67883e8d87530`, instead; so CIFAR-10 datasets are never
//! `official` in the sense of [`crate::Verify`].

use std::path::{Path, PathBuf};

use crate::files::{check_labels, read_unpacked_max, verify_file};
use crate::{DataError, ImageDataset, Presence, Split, Verify, how_to_get, resolve_dir};

/// Bytes of one image: 3 planes of 32x32.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record: the label, then the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// The subdirectory the official archive unpacks into.
pub const SUBDIR: &str = "cifar-10-batches-bin";
/// The training batches, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch.
pub const TEST_FILE: &str = "test_batch.bin";

/// Records in every official batch file (5 × 10,000 training, 10,000 test).
pub const RECORDS_PER_FILE: usize = 10_000;

/// SHA-256 of the unpacked files, the five training batches then the test
/// batch: all unknown (see the module documentation).
pub const SHA256: [Option<&str>; 6] = [None; 6];

/// CIFAR-10's per-channel (R, G, B) mean, on pixels scaled to [0, 1].
pub const MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
/// CIFAR-10's per-channel (R, G, B) standard deviation, on pixels scaled to [0, 1].
pub const STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

/// The CIFAR-10 loader.
#[derive(Debug, Clone, Copy)]
pub struct Cifar10;

impl Cifar10 {
    /// Loads one split from `dir` or from `dir/cifar-10-batches-bin/`.
    pub fn load_dir(dir: &Path, split: Split, verify: Verify) -> Result<ImageDataset, DataError> {
        let root = batches_dir(dir);
        let files: Vec<(&str, Option<&str>)> = match split {
            Split::Train => TRAIN_FILES.iter().copied().zip(SHA256).collect(),
            Split::Test => vec![(TEST_FILE, SHA256[5])],
        };
        let mut images = Vec::new();
        let mut labels = Vec::new();
        let mut official = true;
        let mut counts = Vec::new();
        // Every file must be there before any is parsed, so a missing one is named first.
        for (name, _) in &files {
            let path = root.join(name);
            if !path.is_file() {
                return Err(DataError::Missing {
                    path,
                    hint: how_to_get(crate::CIFAR10),
                });
            }
        }
        for (name, sha256) in files {
            let path = root.join(name);
            // An official batch is exactly this size; a larger (or gzipped
            // larger) file is refused after reading at most one byte more.
            let limit = (RECORDS_PER_FILE * RECORD_BYTES) as u64;
            let why = format!(
                "the size of an official batch ({RECORDS_PER_FILE} records of {RECORD_BYTES} bytes)"
            );
            let bytes = read_unpacked_max(&path, limit, &why)?;
            let (batch_images, batch_labels) = parse_batch(&path, &bytes)?;
            official &= verify_file(&path, &bytes, sha256, verify)?;
            counts.push((path, batch_labels.len()));
            images.extend_from_slice(&batch_images);
            labels.extend_from_slice(&batch_labels);
        }
        // No checksum of the unpacked batches is published, and a batch cut at a
        // record boundary passes every structural check: after those (so that a
        // malformed file is named for what is wrong with it), the record count is
        // what tells a short file from the official one.
        for (path, found) in counts {
            if found != RECORDS_PER_FILE {
                official = false;
                match verify {
                    Verify::Strict => {
                        return Err(DataError::WrongRecordCount {
                            path,
                            expected: RECORDS_PER_FILE,
                            found,
                        });
                    }
                    Verify::Warn => eprintln!(
                        "warning: {}: {found} records, not the official {RECORDS_PER_FILE}; using it anyway",
                        path.display()
                    ),
                    Verify::Skip => {}
                }
            }
        }
        Ok(ImageDataset {
            n: labels.len(),
            channels: 3,
            height: 32,
            width: 32,
            num_classes: 10,
            images,
            labels,
            official,
            mean: MEAN.to_vec(),
            std: STD.to_vec(),
        })
    }

    /// How much of CIFAR-10 `dir` holds (see [`crate::presence`]): the
    /// experiments fall back to another dataset only when it is
    /// [`Presence::Absent`].
    pub fn presence(dir: &Path) -> Presence {
        crate::presence(crate::CIFAR10, dir)
    }

    /// Loads one split from `data_dir`, or from where [`resolve_dir`] finds it;
    /// a directory holding only part of CIFAR-10 is a [`DataError::Partial`].
    pub fn load(
        data_dir: Option<&Path>,
        split: Split,
        verify: Verify,
    ) -> Result<ImageDataset, DataError> {
        Self::load_dir(&resolve_dir(crate::CIFAR10, data_dir)?, split, verify)
    }
}

/// Parses one unpacked batch into (images, labels); `path` is only used in errors.
///
/// The batch must be a non-empty whole number of records with labels in 0..10.
pub fn parse_batch(path: &Path, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    if bytes.is_empty() {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: RECORD_BYTES as u64,
            available: 0,
        });
    }
    if !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(DataError::NotRecordMultiple {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            record: RECORD_BYTES as u64,
        });
    }
    let records = bytes.len() / RECORD_BYTES;
    let mut images = Vec::with_capacity(records * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(records);
    for record in bytes.chunks_exact(RECORD_BYTES) {
        labels.push(record[0]);
        images.extend_from_slice(&record[1..]);
    }
    check_labels(path, &labels, 10)?;
    Ok((images, labels))
}

/// Files that come in the official archive besides the batches, or are the
/// archive itself: their presence, too, says that CIFAR-10 was put here.
pub(crate) const MARKERS: [&str; 2] = ["batches.meta.txt", "cifar-10-binary.tar.gz"];

/// The directory holding the batches: `dir` itself unless only its
/// `cifar-10-batches-bin/` subdirectory has them.
pub(crate) fn batches_dir(dir: &Path) -> PathBuf {
    let has_batches = |d: &Path| d.join(TEST_FILE).is_file() || d.join(TRAIN_FILES[0]).is_file();
    let sub = dir.join(SUBDIR);
    if !has_batches(dir) && sub.is_dir() {
        sub
    } else {
        dir.to_path_buf()
    }
}
