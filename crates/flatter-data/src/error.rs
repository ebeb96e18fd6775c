//! The crate's one error type; every variant about a file names the file.

use std::path::PathBuf;

/// Everything that can go wrong while finding, reading, checking or reshaping a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file the split needs does not exist.
    #[error("{}: file not found; {hint}", .path.display())]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
        /// What else was tried, and how to get the data.
        hint: String,
    },
    /// No candidate directory holds the whole dataset.
    #[error("{name}: no directory with its files; looked in: {}; {hint}", list(.looked))]
    NotFound {
        /// The dataset's name, as given to [`crate::resolve_dir`].
        name: String,
        /// Every directory that was looked in, in order.
        looked: Vec<PathBuf>,
        /// How to get the data.
        hint: String,
    },
    /// A directory holding some of a dataset's files but not all: an error, so
    /// that a damaged copy is never silently replaced by another directory or dataset.
    #[error("{}: {name} is only partly there, missing {}; a partial dataset is never skipped or replaced (complete it, or remove the directory); {hint}", .dir.display(), list(.missing))]
    Partial {
        /// The dataset's name, as given to [`crate::resolve_dir`].
        name: String,
        /// The directory that holds some of its files.
        dir: PathBuf,
        /// The files it lacks.
        missing: Vec<PathBuf>,
        /// How to get the data.
        hint: String,
    },
    /// A dataset name that [`crate::resolve_dir`] does not know.
    #[error("unknown dataset {name:?}; known: fashion-mnist, mnist, cifar10")]
    UnknownDataset {
        /// The name that was given.
        name: String,
    },
    /// The file exists but could not be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file starts with the gzip magic but does not unpack.
    #[error("{}: corrupt or truncated gzip stream: {source}", .path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// An IDX file whose magic number is not the one its role needs.
    #[error("{}: wrong magic number: expected {expected:#010x}, found {found:#010x}", .path.display())]
    WrongMagic {
        /// The file.
        path: PathBuf,
        /// The magic number this file must have.
        expected: u32,
        /// The magic number it has.
        found: u32,
    },
    /// An IDX header that cannot describe images, such as zero rows.
    #[error("{}: bad header: {reason}", .path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Fewer bytes than the header (or the record size) promises.
    #[error("{}: truncated: expected {expected} bytes, only {available} available", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises (saturated at `u64::MAX`).
        expected: u64,
        /// Bytes the unpacked file has.
        available: u64,
    },
    /// More bytes than the header promises.
    #[error("{}: {} trailing bytes: expected {expected} bytes, found {found}", .path.display(), .found - .expected)]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises.
        expected: u64,
        /// Bytes the unpacked file has.
        found: u64,
    },
    /// A file that unpacks to more bytes than it may hold; reading stopped there,
    /// so a gzip bomb is refused without being unpacked.
    #[error("{}: unpacks to more than {limit} bytes, {why}", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The most bytes it may unpack to.
        limit: u64,
        /// Where the limit comes from.
        why: String,
    },
    /// A CIFAR-10 batch whose size is not a whole number of records.
    #[error("{}: size {size} bytes is not a multiple of the {record}-byte record", .path.display())]
    NotRecordMultiple {
        /// The file.
        path: PathBuf,
        /// Its unpacked size in bytes.
        size: u64,
        /// The record size (3073 for CIFAR-10).
        record: u64,
    },
    /// An images file and its labels file disagree on the number of examples.
    #[error("{} holds {images} images but {} holds {labels} labels", .images_path.display(), .labels_path.display())]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Images it holds.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Labels it holds.
        labels: usize,
    },
    /// Under [`crate::Verify::Strict`], an official file name holding another number of records
    /// (e.g. a CIFAR-10 batch cut at a record boundary, which no size check can see).
    #[error("{}: holds {found} records, but the official file holds {expected}: truncated or not the official file (Verify::Warn or Skip accepts it)", .path.display())]
    WrongRecordCount {
        /// The file.
        path: PathBuf,
        /// Records in the official file.
        expected: usize,
        /// Records found.
        found: usize,
    },
    /// A label that is not a class index.
    #[error("{}: label {index} is {value}, outside 0..{num_classes}", .path.display())]
    LabelOutOfRange {
        /// The file holding the label.
        path: PathBuf,
        /// The example's index within that file.
        index: usize,
        /// The label found.
        value: u8,
        /// The number of classes.
        num_classes: usize,
    },
    /// Under [`crate::Verify::Strict`], unpacked bytes whose SHA-256 is not the official one.
    #[error("{}: SHA-256 of the unpacked bytes is {found}, expected {expected}: this is not the official file", .path.display())]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The official SHA-256, lowercase hex.
        expected: String,
        /// The SHA-256 found, lowercase hex.
        found: String,
    },
    /// [`crate::ImageDataset::subset_per_class`] asked for more examples than a class has.
    #[error("class {class} has {available} examples, fewer than the {requested} requested")]
    TooFewInClass {
        /// The class.
        class: usize,
        /// Examples of it in the dataset.
        available: usize,
        /// Examples asked for.
        requested: usize,
    },
    /// [`crate::ImageDataset::pad_to`] asked for a size smaller than the images.
    #[error("cannot pad {from_height}x{from_width} images to the smaller {height}x{width}")]
    PadTooSmall {
        /// The images' height.
        from_height: usize,
        /// The images' width.
        from_width: usize,
        /// The height asked for.
        height: usize,
        /// The width asked for.
        width: usize,
    },
    /// An [`crate::ImageDataset`] whose fields break its invariants.
    #[error("inconsistent dataset: {0}")]
    Inconsistent(String),
}

/// Joins paths for a message.
fn list(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}
