//! CIFAR-10 parsing of handcrafted records, and the dataset operations:
//! histogram, per-class subsets, padding and normalisation.

mod common;

use common::*;
use flatter_data::cifar10::{self, Cifar10};
use flatter_data::{DataError, ImageDataset, Split, Verify};
use tempfile::TempDir;

#[test]
fn cifar_records_are_chw_with_the_red_plane_first() {
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let test = Cifar10::load_dir(dir.path(), Split::Test, Verify::Warn).unwrap();
    assert_eq!(
        (
            test.n,
            test.channels,
            test.height,
            test.width,
            test.num_classes
        ),
        (2, 3, 32, 32, 10)
    );
    assert_eq!(test.labels, vec![7, 9]);
    assert!(!test.official, "CIFAR-10 has no per-file checksums");

    let image = test.image(1).unwrap();
    assert_eq!(image.len(), 3072);
    // Plane 0 is red (4), plane 1 green (5), plane 2 blue (6).
    assert_eq!(image[0], 4);
    assert_eq!(image[1024], 5);
    assert_eq!(image[2048], 6);
    assert!(image[..1024].iter().filter(|&&p| p == 4).count() == 1023);
    // Pixel (row 2, col 3) of the red plane is row-major at 2 * 32 + 3.
    assert_eq!(image[2 * 32 + 3], 255);
    assert_eq!(image[3 * 32 + 2], 4);
    assert!(test.image(2).is_none());
}

#[test]
fn cifar_train_concatenates_the_five_batches_in_order() {
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let train = Cifar10::load_dir(dir.path(), Split::Train, Verify::Warn).unwrap();
    assert_eq!(train.n, 15);
    assert_eq!(train.images.len(), 15 * 3072);
    assert_eq!(
        train.labels,
        vec![0, 1, 2, 2, 3, 4, 3, 4, 5, 6, 4, 5, 6, 7, 8]
    );
    // Image 5 is the third record of batch 3: red 3, green 30, blue 103.
    let image = train.image(5).unwrap();
    assert_eq!((image[0], image[1024], image[2048]), (3, 30, 103));
    train.check().unwrap();
}

#[test]
fn cifar_found_in_the_archive_subdirectory() {
    let dir = TempDir::new().unwrap();
    write_cifar(&dir.path().join(cifar10::SUBDIR));
    let test = Cifar10::load_dir(dir.path(), Split::Test, Verify::Warn).unwrap();
    assert_eq!(test.labels, vec![7, 9]);
    let resolved = flatter_data::resolve_dir("cifar10", Some(dir.path())).unwrap();
    assert_eq!(resolved, dir.path());
    assert_eq!(
        Cifar10::load(Some(dir.path()), Split::Train, Verify::Skip)
            .unwrap()
            .n,
        15
    );
}

#[test]
fn cifar_parse_batch_directly() {
    let bytes = [cifar_record(3, 1, 2, 3), cifar_record(0, 9, 9, 9)].concat();
    let path = std::path::Path::new("in-memory.bin");
    let (images, labels) = cifar10::parse_batch(path, &bytes).unwrap();
    assert_eq!(labels, vec![3, 0]);
    assert_eq!(images.len(), 2 * 3072);
    assert_eq!(images[3072], 9);
}

/// A one-channel 2x2 dataset where class `c` has `5 + c` images; the first
/// pixel of each image is its index, so selections can be traced.
fn uneven() -> ImageDataset {
    let mut labels = Vec::new();
    for class in 0..10u8 {
        labels.extend(std::iter::repeat_n(class, 5 + usize::from(class)));
    }
    // Interleave the classes so that a subset is not a prefix.
    labels.sort_by_key(|&l| (l as usize * 7919) % 13);
    let n = labels.len();
    let images = (0..n).flat_map(|i| [i as u8, 1, 2, 3]).collect();
    ImageDataset {
        images,
        labels,
        n,
        channels: 1,
        height: 2,
        width: 2,
        num_classes: 10,
        official: true,
        mean: vec![0.5],
        std: vec![0.25],
    }
}

#[test]
fn label_histogram_counts_each_class() {
    let data = uneven();
    assert_eq!(data.label_histogram(), (5..15).collect::<Vec<usize>>());
}

#[test]
fn subset_per_class_is_deterministic_and_balanced() {
    let data = uneven();
    let a = data.subset_per_class(4, 42).unwrap();
    let b = data.subset_per_class(4, 42).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.n, 40);
    assert_eq!(a.label_histogram(), vec![4; 10]);
    a.check().unwrap();
    assert!(a.official);

    // Each kept image still carries its own label, and originals keep their order.
    let picked: Vec<usize> = (0..a.n)
        .map(|i| usize::from(a.image(i).unwrap()[0]))
        .collect();
    assert!(picked.windows(2).all(|w| w[0] < w[1]), "{picked:?}");
    for (k, &i) in picked.iter().enumerate() {
        assert_eq!(a.labels[k], data.labels[i]);
    }

    let c = data.subset_per_class(4, 43).unwrap();
    assert_ne!(a.images, c.images, "another seed should pick other images");

    // Every image of the smallest class is the whole class.
    let all = data.subset_per_class(5, 7).unwrap();
    assert_eq!(all.label_histogram(), vec![5; 10]);
}

#[test]
fn subset_per_class_refuses_more_than_a_class_has() {
    let err = uneven().subset_per_class(6, 0).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TooFewInClass {
                class: 0,
                available: 5,
                requested: 6
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("class 0 has 5"), "{err}");
}

#[test]
fn pad_to_centres_with_zeros() {
    let mut data = uneven().subset_per_class(1, 0).unwrap();
    data.height = 1;
    data.width = 4;
    data.images = (0..data.n * 4).map(|i| (i % 250 + 1) as u8).collect();

    // 1x4 to 4x7: one row above and two below, one column left and two right.
    let padded = data.pad_to(4, 7).unwrap();
    assert_eq!((padded.n, padded.height, padded.width), (10, 4, 7));
    padded.check().unwrap();
    for i in 0..data.n {
        let src = data.image(i).unwrap();
        let dst = padded.image(i).unwrap();
        assert_eq!(&dst[7 + 1..7 + 5], src);
        let nonzero = dst.iter().filter(|&&p| p != 0).count();
        assert_eq!(nonzero, 4, "only the original pixels are non-zero");
    }
    assert_eq!(padded.labels, data.labels);

    let err = data.pad_to(4, 3).unwrap_err();
    assert!(matches!(err, DataError::PadTooSmall { .. }), "{err:?}");
}

#[test]
fn pad_28_to_32_adds_two_on_each_side() {
    let data = ImageDataset {
        images: vec![200; 2 * 28 * 28],
        labels: vec![3, 4],
        n: 2,
        channels: 1,
        height: 28,
        width: 28,
        num_classes: 10,
        official: false,
        mean: vec![0.2860],
        std: vec![0.3530],
    };
    let padded = data.pad_to(32, 32).unwrap();
    let image = padded.image(1).unwrap();
    for r in 0..32 {
        for c in 0..32 {
            let inside = (2..30).contains(&r) && (2..30).contains(&c);
            assert_eq!(
                image[r * 32 + c],
                if inside { 200 } else { 0 },
                "({r}, {c})"
            );
        }
    }
}

#[test]
fn normalized_statistics_on_a_synthetic_image() {
    // Pixel values whose mean and spread are known in closed form.
    let pixels: Vec<u8> = (0..=255).collect();
    let data = ImageDataset {
        images: pixels.clone(),
        labels: vec![0],
        n: 1,
        channels: 1,
        height: 16,
        width: 16,
        num_classes: 10,
        official: false,
        mean: vec![0.2860],
        std: vec![0.3530],
    };
    let x = data.normalized();
    assert_eq!(x.len(), 256);
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / 256.0;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / 256.0;
    // Raw pixel/255 has mean 0.5 and variance (256^2 - 1) / 12 / 255^2.
    let raw_std = ((256.0f64 * 256.0 - 1.0) / 12.0).sqrt() / 255.0;
    assert!((mean - (0.5 - 0.2860) / 0.3530).abs() < 1e-5, "{mean}");
    assert!(
        (var.sqrt() - raw_std / 0.3530).abs() < 1e-5,
        "{}",
        var.sqrt()
    );
    assert!((x[0] - (-0.2860 / 0.3530)).abs() < 1e-6);
    assert!((x[255] - (1.0 - 0.2860) / 0.3530).abs() < 1e-6);
}

#[test]
fn normalized_uses_each_channels_constants() {
    let dir = TempDir::new().unwrap();
    write_cifar(dir.path());
    let test = Cifar10::load_dir(dir.path(), Split::Test, Verify::Warn).unwrap();
    let x = test.normalized();
    assert_eq!(x.len(), test.images.len());
    for (c, &value) in [4u8, 5, 6].iter().enumerate() {
        let k = 3072 + c * 1024 + 1;
        let want = (f32::from(value) / 255.0 - cifar10::MEAN[c]) / cifar10::STD[c];
        assert!(
            (x[k] - want).abs() < 1e-6,
            "channel {c}: {} vs {want}",
            x[k]
        );
    }
}

#[test]
fn check_catches_broken_invariants() {
    let mut data = uneven();
    data.labels[0] = 10;
    assert!(matches!(data.check(), Err(DataError::Inconsistent(_))));
    let mut data = uneven();
    data.images.pop();
    assert!(matches!(
        data.subset_per_class(1, 0),
        Err(DataError::Inconsistent(_))
    ));
}
