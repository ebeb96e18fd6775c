//! Gzip bombs (issue 17): before, a gzipped IDX file was unpacked whole
//! (200 MiB here, 1 GiB in the issue) before its magic number was checked.
//! Now the header is read first and nothing past its promise is unpacked,
//! which the counting allocator of this test binary measures.

mod common;

use std::time::{Duration, Instant};

use common::counting::{Counting, peak, reset_peak};
use common::*;
use flatter_data::{DataError, Mnist, Split, Verify, idx};
use tempfile::TempDir;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;
const BOMB: usize = 200 * MIB;

/// One test, so no other test of this binary allocates while it measures.
#[test]
fn gzip_bombs_are_refused_without_being_unpacked() {
    let dir = TempDir::new().unwrap();

    // 200 MiB of zeros: the magic number (0) is wrong after 4 bytes.
    let zeros = dir.path().join("train-images-idx3-ubyte.gz");
    gzip_bomb(&zeros, &[], BOMB);
    write(dir.path(), "train-labels-idx1-ubyte", &idx_labels(1, &[0]));
    let on_disk = std::fs::metadata(&zeros).unwrap().len();
    assert!(
        on_disk < 1 << 20,
        "the bomb is small on disk: {on_disk} bytes"
    );
    let (base, start) = (reset_peak(), Instant::now());
    let err = Mnist::load_dir(dir.path(), Split::Train, Verify::Skip).unwrap_err();
    let (used, took) = (peak() - base, start.elapsed());
    assert!(
        matches!(err, DataError::WrongMagic { found: 0, .. }),
        "{err:?}"
    );
    assert!(used < 4 * MIB, "{used} bytes allocated to refuse a bomb");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A valid labels header promising 60,000 labels, then 200 MiB of zeros:
    // 60,008 bytes plus one are unpacked, then the rest is refused.
    let labels = dir.path().join("labels.gz");
    gzip_bomb(&labels, &idx_labels(60_000, &[]), BOMB);
    let base = reset_peak();
    let err = idx::read(&labels, idx::LABELS_MAGIC).unwrap_err();
    let used = peak() - base;
    assert!(
        matches!(err, DataError::TooLarge { limit: 60_008, .. }),
        "{err:?}"
    );
    assert!(used < 4 * MIB, "{used} bytes allocated to refuse a bomb");

    // A header promising more than the file can unpack to (u32::MAX images
    // of 28x28 from ~200 KB) is refused before the zeros are unpacked.
    let images = dir.path().join("images.gz");
    gzip_bomb(&images, &idx_images(u32::MAX, 28, 28, &[]), BOMB);
    let base = reset_peak();
    let err = idx::read(&images, idx::IMAGES_MAGIC).unwrap_err();
    let used = peak() - base;
    assert!(matches!(err, DataError::BadHeader { .. }), "{err:?}");
    assert!(used < 4 * MIB, "{used} bytes allocated to refuse a bomb");

    // An honest promise within the bound costs what it promises, and no more
    // than twice that (the buffer doubles as it grows).
    let promised = 16 + 20_000 * 28 * 28;
    gzip_bomb(&images, &idx_images(20_000, 28, 28, &[]), BOMB);
    let base = reset_peak();
    let err = idx::read(&images, idx::IMAGES_MAGIC).unwrap_err();
    let used = peak() - base;
    assert!(
        matches!(&err, DataError::TooLarge { limit, .. } if *limit == promised as u64),
        "{err:?}"
    );
    assert!(
        used < 2 * promised + 4 * MIB,
        "{used} bytes for a promise of {promised}"
    );
}
