//! Writers for small data files in the real binary formats, shared by the tests.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

/// An IDX images file whose header claims `count` images of `rows` x `cols`.
pub fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [0x0803, count, rows, cols] {
        out.extend_from_slice(&u32::to_be_bytes(word));
    }
    out.extend_from_slice(pixels);
    out
}

/// An IDX labels file whose header claims `count` labels.
pub fn idx_labels(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [0x0801, count] {
        out.extend_from_slice(&u32::to_be_bytes(word));
    }
    out.extend_from_slice(labels);
    out
}

/// `bytes`, gzipped.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Pixels of `n` well-formed 4x3 images: image `i` holds `i * 16 + j` at pixel `j`.
pub fn pixels(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (0..12).map(move |j| (i * 16 + j) as u8))
        .collect()
}

/// Labels `0, 1, ..., 9, 0, ...` for `n` images.
pub fn labels(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 10) as u8).collect()
}

/// Writes a well-formed split (`prefix` is `train` or `t10k`) of `n` 4x3 images.
pub fn write_idx_split(dir: &Path, prefix: &str, n: usize) {
    write(
        dir,
        &format!("{prefix}-images-idx3-ubyte"),
        &idx_images(n as u32, 4, 3, &pixels(n)),
    );
    write(
        dir,
        &format!("{prefix}-labels-idx1-ubyte"),
        &idx_labels(n as u32, &labels(n)),
    );
}

/// One CIFAR-10 record: the label, then the R, G and B planes filled with
/// `r`, `g` and `b`, except that pixel (row 2, col 3) of the red plane is 255.
pub fn cifar_record(label: u8, r: u8, g: u8, b: u8) -> Vec<u8> {
    let mut record = vec![label];
    for value in [r, g, b] {
        record.extend(std::iter::repeat_n(value, 1024));
    }
    record[1 + 2 * 32 + 3] = 255;
    record
}

/// Writes the six CIFAR-10 batches into `dir`: batch `b` (1..=5) holds `b`
/// records with labels `b - 1, b, ...`, and the test batch two records.
pub fn write_cifar(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for batch in 1..=5u8 {
        let bytes: Vec<u8> = (0..batch)
            .flat_map(|k| cifar_record((batch - 1 + k) % 10, batch, 10 * batch, 100 + batch))
            .collect();
        write(dir, &format!("data_batch_{batch}.bin"), &bytes);
    }
    let test: Vec<u8> = [cifar_record(7, 1, 2, 3), cifar_record(9, 4, 5, 6)].concat();
    write(dir, "test_batch.bin", &test);
}

pub mod counting;

/// A gzip file of `header` followed by `zeros` zero bytes, built as one gzip
/// member for the header and one per MiB of zeros (gzip allows concatenated
/// members, and the loaders unpack them all): a bomb of any size costs one
/// small compression, never the unpacked bytes in memory.
pub fn gzip_bomb(path: &Path, header: &[u8], zeros: usize) {
    const MIB: usize = 1 << 20;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(&gzip(header)).unwrap();
    let member = gzip(&vec![0; MIB]);
    for _ in 0..zeros / MIB {
        out.write_all(&member).unwrap();
    }
    out.write_all(&gzip(&vec![0; zeros % MIB])).unwrap();
    out.flush().unwrap();
}
