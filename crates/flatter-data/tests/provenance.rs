//! Data provenance (issue 17): a partly present dataset is an error, never a
//! fallback; the strict MNIST loader demands the official counts; and files
//! are unpacked no further than their header or the official size allows.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use flatter_data::{
    Cifar10, DataError, Mnist, Presence, Split, Verify, cifar10, idx, presence, resolve_dir,
};
use tempfile::TempDir;

fn cifar_files(root: &Path) -> Vec<PathBuf> {
    cifar10::TRAIN_FILES
        .iter()
        .chain([&cifar10::TEST_FILE])
        .map(|f| root.join(f))
        .collect()
}

/// Asserts a `Partial` error for `dir` that names it and exactly `missing`.
fn assert_partial(err: DataError, dir: &Path, missing: &[PathBuf]) {
    let msg = err.to_string();
    match &err {
        DataError::Partial {
            dir: d, missing: m, ..
        } => {
            assert_eq!(d, dir, "{msg}");
            assert_eq!(m, missing, "{msg}");
        }
        other => panic!("expected Partial, got {other:?}"),
    }
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    for file in missing {
        assert!(msg.contains(&file.display().to_string()), "{msg}");
    }
}

/// The case of issue 17: four of five training batches and the test batch.
/// Before, `resolve_dir` said `NotFound` and the ResNet run silently trained
/// on Fashion-MNIST.
#[test]
fn cifar_without_data_batch_5_is_partial_not_absent() {
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let gone = dir.path().join("data_batch_5.bin");
    std::fs::remove_file(&gone).unwrap();
    assert_eq!(
        Cifar10::presence(dir.path()),
        Presence::Partial {
            missing: vec![gone.clone()]
        }
    );
    assert_partial(
        resolve_dir("cifar10", Some(dir.path())).unwrap_err(),
        dir.path(),
        std::slice::from_ref(&gone),
    );
    for split in [Split::Train, Split::Test] {
        let err = Cifar10::load(Some(dir.path()), split, Verify::Skip).unwrap_err();
        assert_partial(err, dir.path(), std::slice::from_ref(&gone));
    }
}

#[test]
fn cifar_archive_subdirectory_with_a_file_missing_is_partial() {
    let dir = TempDir::new().unwrap();
    let sub = dir.path().join(cifar10::SUBDIR);
    write_cifar(&sub);
    std::fs::remove_file(sub.join("test_batch.bin")).unwrap();
    let want = vec![sub.join("test_batch.bin")];
    assert_eq!(
        Cifar10::presence(dir.path()),
        Presence::Partial {
            missing: want.clone()
        }
    );
    assert_partial(
        resolve_dir("cifar10", Some(dir.path())).unwrap_err(),
        dir.path(),
        &want,
    );

    // An empty `cifar-10-batches-bin/` (an unpacking that failed) is partial too.
    for file in std::fs::read_dir(&sub).unwrap() {
        std::fs::remove_file(file.unwrap().path()).unwrap();
    }
    assert_eq!(
        Cifar10::presence(dir.path()),
        Presence::Partial {
            missing: cifar_files(&sub)
        }
    );
}

#[test]
fn an_unextracted_cifar_archive_is_partial() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "cifar-10-binary.tar.gz", b"not unpacked");
    assert_eq!(
        Cifar10::presence(dir.path()),
        Presence::Partial {
            missing: cifar_files(dir.path())
        }
    );
}

/// Only a directory with no CIFAR-10 file at all may fall back: `NotFound`.
#[test]
fn cifar_absent_only_without_any_file() {
    let dir = TempDir::new().unwrap();
    assert_eq!(Cifar10::presence(dir.path()), Presence::Absent);
    assert_eq!(
        Cifar10::presence(&dir.path().join("no-such-dir")),
        Presence::Absent
    );
    // Fashion-MNIST's files are not CIFAR-10's: `--data-dir` pointing at them falls back.
    write_idx_split(dir.path(), "train", 3);
    write_idx_split(dir.path(), "t10k", 3);
    assert_eq!(Cifar10::presence(dir.path()), Presence::Absent);
    let err = Cifar10::load(Some(dir.path()), Split::Train, Verify::Skip).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
    assert_eq!(presence("fashion-mnist", dir.path()), Presence::Complete);

    write_cifar(dir.path());
    assert_eq!(Cifar10::presence(dir.path()), Presence::Complete);
    assert_eq!(
        Cifar10::load(Some(dir.path()), Split::Test, Verify::Skip)
            .unwrap()
            .n,
        2
    );
}

#[test]
fn mnist_with_one_split_only_is_partial() {
    let dir = TempDir::new().unwrap();
    write_idx_split(dir.path(), "t10k", 3);
    let want = vec![
        dir.path().join("train-images-idx3-ubyte"),
        dir.path().join("train-labels-idx1-ubyte"),
    ];
    assert_eq!(
        presence("mnist", dir.path()),
        Presence::Partial {
            missing: want.clone()
        }
    );
    assert_partial(
        resolve_dir("mnist", Some(dir.path())).unwrap_err(),
        dir.path(),
        &want,
    );
}

/// Writes a split of `n` well-formed images of `side` x `side` pixels.
fn write_square_split(dir: &Path, prefix: &str, n: usize, side: u32) {
    let pixels = vec![7; n * (side * side) as usize];
    write(
        dir,
        &format!("{prefix}-images-idx3-ubyte"),
        &idx_images(n as u32, side, side, &pixels),
    );
    write(
        dir,
        &format!("{prefix}-labels-idx1-ubyte"),
        &idx_labels(n as u32, &labels(n)),
    );
}

/// MNIST has no checksum table, so before this a structurally valid file with
/// any count passed `Verify::Strict` and `data fetch mnist` installed it.
#[test]
fn strict_mnist_demands_the_official_count_and_size() {
    let dir = TempDir::new().unwrap();
    write_square_split(dir.path(), "t10k", 9, 28);
    let err = Mnist::load_dir(dir.path(), Split::Test, Verify::Strict).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            DataError::WrongRecordCount {
                expected: 10_000,
                found: 9,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        msg.contains(
            &dir.path()
                .join("t10k-images-idx3-ubyte")
                .display()
                .to_string()
        ),
        "{msg}"
    );
    assert!(
        msg.contains("holds 9 records") && msg.contains("10000"),
        "{msg}"
    );
    // Warn and Skip accept it.
    assert_eq!(
        Mnist::load_dir(dir.path(), Split::Test, Verify::Warn)
            .unwrap()
            .n,
        9
    );
    assert_eq!(
        Mnist::load_dir(dir.path(), Split::Test, Verify::Skip)
            .unwrap()
            .n,
        9
    );

    // The official count of images of the wrong size.
    write_square_split(dir.path(), "t10k", 10_000, 2);
    let err = Mnist::load_dir(dir.path(), Split::Test, Verify::Strict).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, DataError::BadHeader { .. }) && msg.contains("2x2") && msg.contains("28x28"),
        "{msg}"
    );

    // The official count and size pass.
    write_square_split(dir.path(), "t10k", 10_000, 28);
    let data = Mnist::load_dir(dir.path(), Split::Test, Verify::Strict).unwrap();
    assert_eq!((data.n, data.height, data.width), (10_000, 28, 28));
}

/// A gzipped labels file with bytes after the promised ones is refused after
/// unpacking one byte more than promised.
#[test]
fn gzip_trailing_data_is_refused_at_the_promised_size() {
    let dir = TempDir::new().unwrap();
    let mut bytes = idx_labels(3, &[1, 2, 3]);
    bytes.extend_from_slice(&[0; 5000]);
    let path = write(dir.path(), "labels.gz", &gzip(&bytes));
    let err = idx::read(&path, idx::LABELS_MAGIC).unwrap_err();
    assert!(
        matches!(err, DataError::TooLarge { limit: 11, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
    // Without the extra bytes it reads whole.
    let ok = write(dir.path(), "ok.gz", &gzip(&idx_labels(3, &[1, 2, 3])));
    assert_eq!(
        idx::read(&ok, idx::LABELS_MAGIC).unwrap(),
        idx_labels(3, &[1, 2, 3])
    );
}

/// A header promising more than the compressed size could ever unpack to is
/// refused before anything after the header is unpacked.
#[test]
fn impossible_gzip_header_is_refused_before_unpacking() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "images.gz",
        &gzip(&idx_images(1_000_000, 28, 28, &[0; 100])),
    );
    let err = idx::read(&path, idx::IMAGES_MAGIC).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, DataError::BadHeader { .. }) && msg.contains("unpacks to at most"),
        "{msg}"
    );
}

/// A raw file's size is compared with its header before it is read.
#[test]
fn raw_idx_size_is_checked_against_the_header() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "images",
        &idx_images(u32::MAX, u32::MAX, u32::MAX, &[0; 10]),
    );
    let err = idx::read(&path, idx::IMAGES_MAGIC).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: u64::MAX,
                available: 26,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A CIFAR-10 batch larger than an official one is refused, gzipped or not,
/// having unpacked at most one byte more than the official size.
#[test]
fn cifar_batch_larger_than_official_is_refused() {
    let dir = TempDir::new().unwrap();
    let record = cifar_record(1, 2, 3, 4);
    let path = dir.path().join("test_batch.bin");
    {
        use std::io::Write as _;
        let mut out = std::fs::File::create(&path).unwrap();
        let member = gzip(&record.repeat(100));
        for _ in 0..=cifar10::RECORDS_PER_FILE / 100 {
            out.write_all(&member).unwrap();
        }
    }
    let err = Cifar10::load_dir(dir.path(), Split::Test, Verify::Skip).unwrap_err();
    let limit = (cifar10::RECORDS_PER_FILE * cifar10::RECORD_BYTES) as u64;
    assert!(
        matches!(&err, DataError::TooLarge { limit: l, .. } if *l == limit),
        "{err:?}"
    );
    assert!(err.to_string().contains("official batch"), "{err}");
}
