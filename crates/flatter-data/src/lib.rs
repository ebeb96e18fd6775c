//! Strict loaders for the paper's image datasets: Fashion-MNIST, MNIST and CIFAR-10.
//!
//! Every loader returns an [`ImageDataset`]: `u8` pixels in N×C×H×W order
//! (row-major, channel planes first) and one `u8` label per image. This crate
//! only parses and checks files; the training crates turn the buffers into
//! tensors, so there is no Burn here.
//!
//! Parsing is strict: a wrong magic number, a truncated or over-long file,
//! image and label counts that disagree, or a label out of range is a
//! [`DataError`] naming the file, never a panic and never a silently short
//! dataset. Checksums of the unpacked bytes are compared with the official
//! ones according to a [`Verify`] policy.
//!
//! - [`idx`]: the IDX format of MNIST and Fashion-MNIST, gzipped or raw.
//! - [`cifar10`]: the CIFAR-10 binary batches.
//! - [`mnist`]: the Fashion-MNIST and MNIST loaders.
//! - [`resolve_dir`]: where a dataset is looked for when no directory is given;
//!   [`presence`] tells an absent dataset from a partial one, which is an
//!   error and never a reason to look elsewhere or fall back.
//!
//! Memory is bounded by the input: an IDX file is unpacked no further than
//! its header promises (checked first), a CIFAR-10 batch no further than the
//! official size.

pub mod cifar10;
mod dataset;
mod error;
mod files;
pub mod idx;
pub mod mnist;
mod resolve;

pub use cifar10::Cifar10;
pub use dataset::ImageDataset;
pub use error::DataError;
pub use files::{read_unpacked, read_unpacked_max, sha256_hex};
pub use mnist::{FashionMnist, Mnist};
pub use resolve::{
    CIFAR10, DATA_DIR_ENV, FASHION_MNIST, MNIST, Presence, how_to_get, presence, resolve_dir,
};

/// Which of a dataset's two official splits to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training split (60 000 images for the MNISTs, 50 000 for CIFAR-10).
    Train,
    /// The test split (10 000 images for all three datasets).
    Test,
}

/// What to do with the SHA-256 of each unpacked file.
///
/// A file is "verified official" when its dataset has a known checksum for it
/// and the checksum matches. [`ImageDataset::official`] is true only when every
/// file of the split was verified official, so it is false under [`Verify::Skip`]
/// and for datasets without a checksum table (MNIST, CIFAR-10; see
/// [`cifar10`]). A file without a known checksum is never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Verify {
    /// A mismatch is a [`DataError::ChecksumMismatch`], and a file with
    /// another count or image size than the official one (60,000/10,000
    /// images of 28x28; 10,000 CIFAR-10 records per batch) is an error. The default.
    #[default]
    Strict,
    /// A mismatch prints a warning to stderr and leaves `official` false.
    Warn,
    /// No checksum is computed, and `official` is false.
    Skip,
}
