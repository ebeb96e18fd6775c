//! A seeded mutational fuzz of the IDX, gzip and CIFAR-10 parsers (issue 17):
//! small valid files in the real formats, mutated at random (bit flips, byte
//! sets, truncation, extension, header fields set to huge values, duplicated
//! chunks, damaged gzip streams), must give an error or a dataset, never a
//! panic, and never allocate more than the input justifies (a counting global
//! allocator measures each case).
//!
//! Not `proptest` or `arbitrary`: a new dev-dependency can change the feature
//! unification of crates Burn shares and split Burn's build between
//! `cargo test` and `cargo build`, which issue 17 forbids. A SplitMix64
//! stream (as in `flatter-experiments`' `harness::beta_star`) makes every
//! case reproducible from its index. 2,000 cases take about a second.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use common::counting::{Counting, peak, reset_peak};
use common::*;
use flatter_data::{Cifar10, Mnist, Split, Verify, cifar10, idx, read_unpacked};
use tempfile::TempDir;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CASES: u64 = 2_000;
const MIB: usize = 1 << 20;
/// No case may have more than this live at once, whatever its input.
const CAP: usize = 64 * MIB;

/// SplitMix64 (Steele, Lea & Flood 2014).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), up to a negligible bias.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Images,
    Labels,
    Cifar,
}

/// A small valid file of `kind` in the real format.
fn seed(kind: Kind) -> Vec<u8> {
    match kind {
        Kind::Images => idx_images(
            3,
            28,
            28,
            &(0..3 * 784).map(|i| i as u8).collect::<Vec<_>>(),
        ),
        Kind::Labels => idx_labels(3, &[1, 2, 3]),
        Kind::Cifar => [cifar_record(3, 1, 2, 3), cifar_record(9, 4, 5, 6)].concat(),
    }
}

/// Values that stress size arithmetic when written into a header field.
const HUGE: [u32; 7] = [0, 1, 28, 0x0100_0000, 0x7fff_ffff, 0x8000_0000, u32::MAX];

/// Applies one random mutation to `bytes`.
fn mutate(rng: &mut SplitMix64, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    match rng.below(7) {
        0 if len > 0 => {
            let i = rng.below(len);
            bytes[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            bytes[i] = [0, 0xff, rng.next() as u8][rng.below(3)];
        }
        2 => bytes.truncate(rng.below(len + 1)),
        3 => {
            let extra = rng.below(4096);
            if rng.below(2) == 0 {
                bytes.extend(std::iter::repeat_n(0, extra));
            } else {
                bytes.extend((0..extra.min(64)).map(|_| rng.next() as u8));
            }
        }
        4 => {
            // A header field (magic, count, rows or cols) set to a huge or random value.
            let at = 4 * rng.below(4);
            let value = if rng.below(4) == 0 {
                rng.next() as u32
            } else {
                HUGE[rng.below(HUGE.len())]
            };
            if at + 4 <= len {
                bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
        5 if len > 0 => {
            let start = rng.below(len);
            let chunk = bytes[start..(start + rng.below(512) + 1).min(len)].to_vec();
            let at = rng.below(len + 1);
            bytes.splice(at..at, chunk);
        }
        _ => {
            // A magic number of another IDX role or type.
            let magic = [0x0801u32, 0x0803, 0x0802, 0x0903, 0x0804][rng.below(5)];
            if len >= 4 {
                bytes[..4].copy_from_slice(&magic.to_be_bytes());
            }
        }
    }
}

/// Runs every parser that can read `file` (the unpacked, mutated bytes are
/// `raw`), ignoring their results: only panics and memory matter here.
fn parse_all(kind: Kind, dir: &Path, path: &Path, raw: &[u8]) {
    let _ = read_unpacked(path);
    match kind {
        Kind::Images | Kind::Labels => {
            let magic = if matches!(kind, Kind::Images) {
                idx::IMAGES_MAGIC
            } else {
                idx::LABELS_MAGIC
            };
            let _ = idx::read(path, magic);
            let _ = idx::parse_images(path, raw);
            let _ = idx::parse_labels(path, raw);
            for verify in [Verify::Skip, Verify::Strict] {
                let _ = Mnist::load_dir(dir, Split::Test, verify);
            }
        }
        Kind::Cifar => {
            let _ = cifar10::parse_batch(path, raw);
            for verify in [Verify::Skip, Verify::Strict] {
                let _ = Cifar10::load_dir(dir, Split::Test, verify);
            }
        }
    }
}

#[test]
fn mutated_files_never_panic_and_stay_within_memory() {
    let dir = TempDir::new().unwrap();
    // The partner files of the MNIST test split, valid, so the loader reaches the mutated one.
    write(dir.path(), "t10k-images-idx3-ubyte", &seed(Kind::Images));
    write(dir.path(), "t10k-labels-idx1-ubyte", &seed(Kind::Labels));
    let mut worst = 0;
    for case in 0..CASES {
        let mut rng = SplitMix64(0x5eed_0000 + case);
        let kind = [Kind::Images, Kind::Labels, Kind::Cifar][rng.below(3)];
        let mut raw = seed(kind);
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut raw);
        }
        // Raw, gzipped, or gzipped and then damaged.
        let packing = rng.below(10);
        let mut on_disk = if packing < 5 { raw.clone() } else { gzip(&raw) };
        if packing >= 8 {
            mutate(&mut rng, &mut on_disk);
            if rng.below(2) == 0 {
                // Members concatenated: still a valid multi-member gzip file.
                let again = gzip(&raw);
                on_disk.extend_from_slice(&again);
            }
        }
        let name = match kind {
            Kind::Images => "t10k-images-idx3-ubyte",
            Kind::Labels => "t10k-labels-idx1-ubyte",
            Kind::Cifar => "test_batch.bin",
        };
        let path = write(dir.path(), name, &on_disk);

        let base = reset_peak();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            parse_all(kind, dir.path(), &path, &raw)
        }));
        let used = peak().saturating_sub(base);
        assert!(
            outcome.is_ok(),
            "case {case} ({kind:?}, packing {packing}, {} bytes) panicked",
            on_disk.len()
        );
        // Each parser copies its input a few times at most; raw inputs are
        // bounded by their size, gzipped ones also by the cap.
        let justified = 8 * raw.len().max(on_disk.len()) + MIB;
        let bound = if packing < 5 { justified.min(CAP) } else { CAP };
        assert!(
            used <= bound,
            "case {case} ({kind:?}, packing {packing}): {used} bytes live, bound {bound}"
        );
        worst = worst.max(used);
        // Restore the partner file a mutated one replaced.
        write(dir.path(), name, &seed(kind));
    }
    eprintln!("{CASES} cases, worst peak {worst} bytes");
}
