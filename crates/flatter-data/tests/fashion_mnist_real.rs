//! The real Fashion-MNIST from Debian's `dataset-fashion-mnist` package.
//!
//! Outside CI these tests skip, loudly, when the package is not installed; in
//! CI (`CI=true`) `.ci/run` installs it, so its absence is a failure.

use std::path::{Path, PathBuf};

use flatter_data::{FashionMnist, Split, Verify, resolve_dir};

const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The data directory, or `None` (after saying so) when the tests should skip.
fn debian_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(DEBIAN_DIR);
    if dir.is_dir() {
        return Some(dir.to_path_buf());
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{DEBIAN_DIR} is missing in CI: .ci/run must `apt-get install dataset-fashion-mnist`"
        );
    }
    eprintln!(
        "SKIPPED {test}: {DEBIAN_DIR} not found; run `apt-get install dataset-fashion-mnist` to test on the real data"
    );
    None
}

#[test]
fn train_split_is_official_and_balanced() {
    let Some(dir) = debian_dir("train_split_is_official_and_balanced") else {
        return;
    };
    let train = FashionMnist::load_dir(&dir, Split::Train, Verify::Strict).unwrap();
    assert_eq!(
        (
            train.n,
            train.channels,
            train.height,
            train.width,
            train.num_classes
        ),
        (60000, 1, 28, 28, 10)
    );
    assert_eq!(train.images.len(), 60000 * 28 * 28);
    assert!(train.official, "checksums matched, so the data is official");
    assert_eq!(train.label_histogram(), vec![6000; 10]);
    assert_eq!(train.labels[..8], [9, 0, 0, 3, 0, 2, 7, 2]);
    train.check().unwrap();

    // The normalisation constants are the training set's own statistics.
    let x = train.normalized();
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / x.len() as f64;
    assert!(mean.abs() < 1e-3, "normalised mean {mean}");
    assert!(
        (var.sqrt() - 1.0).abs() < 1e-3,
        "normalised std {}",
        var.sqrt()
    );
}

#[test]
fn test_split_is_official_and_balanced() {
    let Some(dir) = debian_dir("test_split_is_official_and_balanced") else {
        return;
    };
    let test = FashionMnist::load_dir(&dir, Split::Test, Verify::Strict).unwrap();
    assert_eq!((test.n, test.height, test.width), (10000, 28, 28));
    assert!(test.official);
    assert_eq!(test.label_histogram(), vec![1000; 10]);
    assert_eq!(test.labels[..8], [9, 2, 1, 1, 6, 1, 4, 6]);

    let padded = test.pad_to(32, 32).unwrap();
    assert_eq!((padded.n, padded.height, padded.width), (10000, 32, 32));
    let subset = test.subset_per_class(100, 0).unwrap();
    assert_eq!(subset.label_histogram(), vec![100; 10]);
}

#[test]
fn resolve_and_load_from_an_explicit_dir() {
    let Some(dir) = debian_dir("resolve_and_load_from_an_explicit_dir") else {
        return;
    };
    assert_eq!(resolve_dir("fashion-mnist", Some(&dir)).unwrap(), dir);
    // Without a directory some candidate is found, at worst the Debian one.
    let found = resolve_dir("fashion-mnist", None).unwrap();
    assert!(
        found.join("t10k-labels-idx1-ubyte.gz").is_file()
            || found.join("t10k-labels-idx1-ubyte").is_file()
    );
    let test = FashionMnist::load(Some(&dir), Split::Test, Verify::Strict).unwrap();
    assert_eq!(test.n, 10000);
}
