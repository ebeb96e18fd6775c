//! Malformed IDX and CIFAR-10 files, written in the real binary formats: each
//! must give its specific error, with a message that names the file.

mod common;

use std::path::Path;

use common::*;
use flatter_data::{Cifar10, DataError, FashionMnist, Mnist, Split, Verify};
use tempfile::TempDir;

/// Asserts that the error's message names `path`, and returns the message.
fn names(err: &DataError, path: &Path) -> String {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message does not name {}: {msg}",
        path.display()
    );
    msg
}

/// Structure checks on small files: `Skip`, since `Strict` also demands the
/// official 60,000 images of 28x28 (tested in `provenance.rs`).
fn load_mnist(dir: &Path) -> Result<flatter_data::ImageDataset, DataError> {
    Mnist::load_dir(dir, Split::Train, Verify::Skip)
}

#[test]
fn idx_well_formed_loads() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 25);
    let data = load_mnist(dir.path()).unwrap();
    assert_eq!(
        (data.n, data.channels, data.height, data.width),
        (25, 1, 4, 3)
    );
    assert_eq!(data.images, pixels(25));
    assert_eq!(data.labels, labels(25));
    assert_eq!(data.num_classes, 10);
    assert!(
        !data.official,
        "MNIST has no checksums, so it cannot be official"
    );
}

#[test]
fn idx_wrong_magic_in_images() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let mut bytes = idx_images(5, 4, 3, &pixels(5));
    bytes[3] = 0x01;
    let path = write(dir.path(), "train-images-idx3-ubyte", &bytes);
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongMagic {
                expected: 0x803,
                found: 0x801,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = names(&err, &path);
    assert!(
        msg.contains("0x00000803") && msg.contains("0x00000801"),
        "{msg}"
    );
}

#[test]
fn idx_wrong_magic_in_labels() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let path = write(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx_images(5, 4, 3, &pixels(5)),
    );
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongMagic {
                expected: 0x801,
                found: 0x803,
                ..
            }
        ),
        "{err:?}"
    );
    names(&err, &path);
}

#[test]
fn idx_truncated_images() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    // The header promises 5 images; the file holds 4 and a half.
    let path = write(
        dir.path(),
        "train-images-idx3-ubyte",
        &idx_images(5, 4, 3, &pixels(5)[..54]),
    );
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 76,
                available: 70,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = names(&err, &path);
    assert!(msg.contains("76") && msg.contains("70"), "{msg}");
}

#[test]
fn idx_truncated_header() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let path = write(dir.path(), "train-images-idx3-ubyte", &[0, 0, 8, 3, 0, 0]);
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 8,
                available: 6,
                ..
            }
        ),
        "{err:?}"
    );
    names(&err, &path);
}

#[test]
fn idx_truncated_labels() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let path = write(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx_labels(5, &labels(3)),
    );
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 13,
                available: 11,
                ..
            }
        ),
        "{err:?}"
    );
    names(&err, &path);
}

#[test]
fn idx_trailing_bytes() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let mut bytes = idx_images(5, 4, 3, &pixels(5));
    bytes.extend_from_slice(&[1, 2, 3]);
    let path = write(dir.path(), "train-images-idx3-ubyte", &bytes);
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TrailingBytes {
                expected: 76,
                found: 79,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = names(&err, &path);
    assert!(msg.contains("3 trailing bytes"), "{msg}");
}

#[test]
fn idx_trailing_bytes_in_labels() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let path = write(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx_labels(4, &labels(5)),
    );
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::TrailingBytes { .. }), "{err:?}");
    names(&err, &path);
}

#[test]
fn idx_count_mismatch() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let labels_path = write(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx_labels(4, &labels(4)),
    );
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                images: 5,
                labels: 4,
                ..
            }
        ),
        "{err:?}"
    );
    names(&err, &labels_path);
    names(&err, &dir.path().join("train-images-idx3-ubyte"));
}

#[test]
fn idx_label_out_of_range() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let path = write(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx_labels(5, &[0, 1, 2, 200, 4]),
    );
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 3,
                value: 200,
                num_classes: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = names(&err, &path);
    assert!(msg.contains("label 3 is 200"), "{msg}");
}

#[test]
fn idx_zero_sized_images() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 5);
    let path = write(
        dir.path(),
        "train-images-idx3-ubyte",
        &idx_images(5, 0, 3, &[]),
    );
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::BadHeader { .. }), "{err:?}");
    names(&err, &path);
}

#[test]
fn idx_gzip_and_raw_read_the_same() {
    let raw = TempDir::new().unwrap();
    write_idx_split(raw.path(), "t10k", 17);
    let from_raw = Mnist::load_dir(raw.path(), Split::Test, Verify::Skip).unwrap();

    // Gzipped under the usual `.gz` names.
    let gz = TempDir::new().unwrap();
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        let bytes = std::fs::read(raw.path().join(name)).unwrap();
        write(gz.path(), &format!("{name}.gz"), &gzip(&bytes));
    }
    let from_gz = Mnist::load_dir(gz.path(), Split::Test, Verify::Skip).unwrap();
    assert_eq!(from_gz, from_raw);

    // Gzipped under the raw names: the magic bytes decide, not the name.
    let renamed = TempDir::new().unwrap();
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        let bytes = std::fs::read(raw.path().join(name)).unwrap();
        write(renamed.path(), name, &gzip(&bytes));
    }
    let from_renamed = Mnist::load_dir(renamed.path(), Split::Test, Verify::Skip).unwrap();
    assert_eq!(from_renamed, from_raw);
}

#[test]
fn idx_corrupt_gzip() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "train", 50);
    let packed = gzip(&std::fs::read(dir.path().join("train-images-idx3-ubyte")).unwrap());
    std::fs::remove_file(dir.path().join("train-images-idx3-ubyte")).unwrap();
    let path = write(
        dir.path(),
        "train-images-idx3-ubyte.gz",
        &packed[..packed.len() / 2],
    );
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    names(&err, &path);
}

#[test]
fn idx_missing_file_says_how_to_get_it() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "train-labels-idx1-ubyte", &idx_labels(1, &[0]));
    let err = FashionMnist::load_dir(dir.path(), Split::Train, Verify::Strict).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    let msg = names(&err, &dir.path().join("train-images-idx3-ubyte"));
    assert!(
        msg.contains("apt-get install dataset-fashion-mnist"),
        "{msg}"
    );
    assert!(
        msg.contains("cargo xtask data fetch fashion-mnist"),
        "{msg}"
    );

    let err = Mnist::load_dir(dir.path(), Split::Test, Verify::Strict).unwrap_err();
    let msg = names(&err, &dir.path().join("t10k-images-idx3-ubyte"));
    assert!(msg.contains("cargo xtask data fetch mnist"), "{msg}");
}

#[test]
fn idx_checksum_strict_warn_skip() {
    // Well-formed files under Fashion-MNIST's names are not the official ones.
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "t10k", 10);
    let err = FashionMnist::load_dir(dir.path(), Split::Test, Verify::Strict).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err:?}");
    let msg = names(&err, &dir.path().join("t10k-images-idx3-ubyte"));
    assert!(msg.contains("not the official file"), "{msg}");
    assert!(
        msg.contains("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "{msg}"
    );

    let warned = FashionMnist::load_dir(dir.path(), Split::Test, Verify::Warn).unwrap();
    assert!(!warned.official);
    assert_eq!(warned.n, 10);
    let skipped = FashionMnist::load_dir(dir.path(), Split::Test, Verify::Skip).unwrap();
    assert!(!skipped.official);
    assert_eq!(skipped, warned);
}

#[test]
fn cifar_label_out_of_range() {
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let bytes = [
        cifar_record(1, 0, 0, 0),
        cifar_record(2, 0, 0, 0),
        cifar_record(10, 0, 0, 0),
    ]
    .concat();
    let path = write(dir.path(), "test_batch.bin", &bytes);
    let err = Cifar10::load_dir(dir.path(), Split::Test, Verify::Strict).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 2,
                value: 10,
                num_classes: 10,
                ..
            }
        ),
        "{err:?}"
    );
    names(&err, &path);
}

#[test]
fn cifar_size_not_a_multiple_of_the_record() {
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let mut long = cifar_record(1, 0, 0, 0);
    long.extend_from_slice(&[0; 5]);
    let path = write(dir.path(), "data_batch_4.bin", &long);
    let err = Cifar10::load_dir(dir.path(), Split::Train, Verify::Strict).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NotRecordMultiple {
                size: 3078,
                record: 3073,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = names(&err, &path);
    assert!(msg.contains("3073"), "{msg}");

    // A truncated last record is the same error.
    let short = &cifar_record(1, 0, 0, 0)[..3000];
    let path = write(dir.path(), "data_batch_4.bin", short);
    let err = Cifar10::load_dir(dir.path(), Split::Train, Verify::Strict).unwrap_err();
    assert!(
        matches!(err, DataError::NotRecordMultiple { size: 3000, .. }),
        "{err:?}"
    );
    names(&err, &path);
}

#[test]
fn cifar_empty_batch() {
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let path = write(dir.path(), "test_batch.bin", &[]);
    let err = Cifar10::load_dir(dir.path(), Split::Test, Verify::Strict).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 3073,
                available: 0,
                ..
            }
        ),
        "{err:?}"
    );
    names(&err, &path);
}

#[test]
fn cifar_missing_file_says_how_to_get_it() {
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let path = dir.path().join("data_batch_3.bin");
    std::fs::remove_file(&path).unwrap();
    let err = Cifar10::load_dir(dir.path(), Split::Train, Verify::Strict).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    let msg = names(&err, &path);
    assert!(msg.contains("cargo xtask data fetch cifar10"), "{msg}");
    // The test split does not need that file.
    Cifar10::load_dir(dir.path(), Split::Test, Verify::Warn).unwrap();
}

#[test]
fn cifar_gzip_and_raw_read_the_same() {
    let raw = TempDir::new().unwrap();
    write_cifar(raw.path());
    let gz = TempDir::new().unwrap();
    write_cifar(gz.path());
    for batch in 1..=5 {
        let name = format!("data_batch_{batch}.bin");
        let bytes = std::fs::read(raw.path().join(&name)).unwrap();
        write(gz.path(), &name, &gzip(&bytes));
    }
    let a = Cifar10::load_dir(raw.path(), Split::Train, Verify::Warn).unwrap();
    let b = Cifar10::load_dir(gz.path(), Split::Train, Verify::Warn).unwrap();
    assert_eq!(a, b);
}

#[test]
fn cifar_batch_cut_at_a_record_boundary_is_refused_under_strict() {
    // Every size check passes (a whole number of records), so only the record count
    // tells the short file from the official one.
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let path = dir.path().join("test_batch.bin");
    let err = Cifar10::load_dir(dir.path(), Split::Test, Verify::Strict).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongRecordCount {
                expected: 10_000,
                ..
            }
        ),
        "{err:?}"
    );
    names(&err, &path);
    let warned = Cifar10::load_dir(dir.path(), Split::Test, Verify::Warn).unwrap();
    assert!(!warned.official && warned.n > 0);
}
