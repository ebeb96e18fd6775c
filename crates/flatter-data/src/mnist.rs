//! Fashion-MNIST and MNIST: four IDX files each, same names, same format.
//!
//! A directory holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each either raw or
//! gzipped with a `.gz` suffix (the raw name is tried first; the content, not
//! the name, decides whether it is unpacked).

use std::path::{Path, PathBuf};

use crate::files::{check_labels, verify_file};
use crate::{DataError, ImageDataset, Split, Verify, how_to_get, idx, resolve_dir};

/// The IDX file names, without `.gz`: train images, train labels, test images, test labels.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// SHA-256 of the unpacked official Fashion-MNIST files, in the order of [`FILES`].
///
/// Obtained by unpacking the files of the Debian package `dataset-fashion-mnist`
/// (0.0~git20200523.55506a9-1, in `/usr/share/datasets/fashion-mnist/`) and
/// running `sha256sum`. Debian recompressed the files, so the `.gz` bytes
/// differ from upstream's (whose published MD5s are of the `.gz`), but the
/// unpacked sizes are the expected 47040016, 60008, 7840016 and 10008 bytes,
/// the headers give 60000/10000 images of 28x28, and the same four SHA-256
/// values are published independently by several projects that unpacked the
/// upstream archives after checking them against upstream's MD5s.
pub const FASHION_MNIST_SHA256: [Option<&str>; 4] = [
    Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
];

/// SHA-256 of the unpacked official MNIST files: none, since no copy of MNIST
/// was at hand to verify any value against, so MNIST is never `official`.
pub const MNIST_SHA256: [Option<&str>; 4] = [None; 4];

/// Images in the official training and test splits (both datasets).
pub const OFFICIAL_COUNTS: [usize; 2] = [60_000, 10_000];
/// Rows and columns of every official image (both datasets).
pub const OFFICIAL_SIDE: usize = 28;

/// Fashion-MNIST's pixel mean, on pixels scaled to [0, 1].
pub const FASHION_MNIST_MEAN: f32 = 0.2860;
/// Fashion-MNIST's pixel standard deviation, on pixels scaled to [0, 1].
pub const FASHION_MNIST_STD: f32 = 0.3530;
/// MNIST's pixel mean, on pixels scaled to [0, 1].
pub const MNIST_MEAN: f32 = 0.1307;
/// MNIST's pixel standard deviation, on pixels scaled to [0, 1].
pub const MNIST_STD: f32 = 0.3081;

/// What differs between the two datasets.
struct Spec {
    name: &'static str,
    sha256: [Option<&'static str>; 4],
    mean: f32,
    std: f32,
}

const FASHION: Spec = Spec {
    name: crate::FASHION_MNIST,
    sha256: FASHION_MNIST_SHA256,
    mean: FASHION_MNIST_MEAN,
    std: FASHION_MNIST_STD,
};

const DIGITS: Spec = Spec {
    name: crate::MNIST,
    sha256: MNIST_SHA256,
    mean: MNIST_MEAN,
    std: MNIST_STD,
};

/// The Fashion-MNIST loader: 10 classes of 28x28 grey clothing images.
#[derive(Debug, Clone, Copy)]
pub struct FashionMnist;

impl FashionMnist {
    /// Loads one split from `dir`.
    pub fn load_dir(dir: &Path, split: Split, verify: Verify) -> Result<ImageDataset, DataError> {
        load(&FASHION, dir, split, verify)
    }

    /// Loads one split from `data_dir`, or from where [`resolve_dir`] finds it.
    pub fn load(
        data_dir: Option<&Path>,
        split: Split,
        verify: Verify,
    ) -> Result<ImageDataset, DataError> {
        Self::load_dir(&resolve_dir(FASHION.name, data_dir)?, split, verify)
    }
}

/// The MNIST loader: 10 classes of 28x28 grey handwritten digits.
#[derive(Debug, Clone, Copy)]
pub struct Mnist;

impl Mnist {
    /// Loads one split from `dir`.
    pub fn load_dir(dir: &Path, split: Split, verify: Verify) -> Result<ImageDataset, DataError> {
        load(&DIGITS, dir, split, verify)
    }

    /// Loads one split from `data_dir`, or from where [`resolve_dir`] finds it.
    pub fn load(
        data_dir: Option<&Path>,
        split: Split,
        verify: Verify,
    ) -> Result<ImageDataset, DataError> {
        Self::load_dir(&resolve_dir(DIGITS.name, data_dir)?, split, verify)
    }
}

/// Finds `name` or `name.gz` in `dir`.
pub(crate) fn locate(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|path| path.is_file())
}

/// Loads, checks and verifies one split.
fn load(spec: &Spec, dir: &Path, split: Split, verify: Verify) -> Result<ImageDataset, DataError> {
    let (images_at, labels_at, official_count) = match split {
        Split::Train => (0, 1, OFFICIAL_COUNTS[0]),
        Split::Test => (2, 3, OFFICIAL_COUNTS[1]),
    };
    let find = |at: usize| {
        locate(dir, FILES[at]).ok_or_else(|| DataError::Missing {
            path: dir.join(FILES[at]),
            hint: format!("nor {}.gz; {}", FILES[at], how_to_get(spec.name)),
        })
    };
    let images_path = find(images_at)?;
    let labels_path = find(labels_at)?;
    let images_bytes = idx::read(&images_path, idx::IMAGES_MAGIC)?;
    let labels_bytes = idx::read(&labels_path, idx::LABELS_MAGIC)?;

    // Structure first, so that a damaged file gets the precise error rather
    // than just a checksum mismatch.
    let images = idx::parse_images(&images_path, &images_bytes)?;
    let labels = idx::parse_labels(&labels_path, &labels_bytes)?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path,
            images: images.count,
            labels_path,
            labels: labels.len(),
        });
    }
    let num_classes = 10;
    check_labels(&labels_path, &labels, num_classes)?;

    let images_official = verify_file(&images_path, &images_bytes, spec.sha256[images_at], verify)?;
    let labels_official = verify_file(&labels_path, &labels_bytes, spec.sha256[labels_at], verify)?;
    // MNIST has no checksum here, and an IDX file with any count is
    // structurally valid: after the checks above (so a damaged or unofficial
    // file is named for that first), the count and size tell a short or
    // foreign file from the official one.
    let shape_ok = images.rows == OFFICIAL_SIDE && images.cols == OFFICIAL_SIDE;
    if images.count != official_count || !shape_ok {
        let what = format!(
            "{} images of {}x{}, but the official file holds {official_count} of {OFFICIAL_SIDE}x{OFFICIAL_SIDE}",
            images.count, images.rows, images.cols
        );
        match verify {
            Verify::Strict if !shape_ok => {
                return Err(DataError::BadHeader {
                    path: images_path,
                    reason: format!(
                        "{what}: not the official file (Verify::Warn or Skip accepts it)"
                    ),
                });
            }
            Verify::Strict => {
                return Err(DataError::WrongRecordCount {
                    path: images_path,
                    expected: official_count,
                    found: images.count,
                });
            }
            Verify::Warn => eprintln!(
                "warning: {}: {what}; using it anyway",
                images_path.display()
            ),
            Verify::Skip => {}
        }
    }
    Ok(ImageDataset {
        n: images.count,
        channels: 1,
        height: images.rows,
        width: images.cols,
        num_classes,
        images: images.pixels,
        labels,
        official: images_official && labels_official,
        mean: vec![spec.mean],
        std: vec![spec.std],
    })
}
