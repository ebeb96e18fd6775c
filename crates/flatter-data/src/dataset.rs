//! The in-memory dataset and the few operations the experiments need on it.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

use crate::DataError;

/// Labelled images as plain bytes.
///
/// Invariants, which the loaders guarantee and [`ImageDataset::check`] tests:
/// `images.len() == n * channels * height * width`, `labels.len() == n`, every
/// label is below `num_classes`, the image sides are non-zero, and `mean` and
/// `std` have one entry per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDataset {
    /// Pixels in N×C×H×W order: image after image, each one channel plane
    /// after another, each plane row-major. Raw values in 0..=255.
    pub images: Vec<u8>,
    /// One class index per image.
    pub labels: Vec<u8>,
    /// Number of images.
    pub n: usize,
    /// Channels per image (1 for the MNISTs, 3 for CIFAR-10, R then G then B).
    pub channels: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Whether every file it was read from matched a known official SHA-256
    /// (see [`crate::Verify`]); kept by [`Self::subset_per_class`] and
    /// [`Self::pad_to`], which derive from the same files.
    pub official: bool,
    /// Per-channel mean used by [`Self::normalized`], on pixels scaled to [0, 1].
    pub mean: Vec<f32>,
    /// Per-channel standard deviation used by [`Self::normalized`], on pixels scaled to [0, 1].
    pub std: Vec<f32>,
}

impl ImageDataset {
    /// Checks the invariants listed on the type.
    pub fn check(&self) -> Result<(), DataError> {
        let fail = |what: String| Err(DataError::Inconsistent(what));
        if self.channels == 0 || self.height == 0 || self.width == 0 {
            return fail(format!(
                "{}x{}x{} images hold no pixels",
                self.channels, self.height, self.width
            ));
        }
        let want = self.n * self.image_len();
        if self.images.len() != want {
            return fail(format!(
                "{} pixel bytes, expected {want}",
                self.images.len()
            ));
        }
        if self.labels.len() != self.n {
            return fail(format!(
                "{} labels for {} images",
                self.labels.len(),
                self.n
            ));
        }
        if let Some(i) = self
            .labels
            .iter()
            .position(|&l| usize::from(l) >= self.num_classes)
        {
            return fail(format!(
                "label {i} is {}, outside 0..{}",
                self.labels[i], self.num_classes
            ));
        }
        if self.mean.len() != self.channels || self.std.len() != self.channels {
            return fail(format!(
                "{} means and {} standard deviations for {} channels",
                self.mean.len(),
                self.std.len(),
                self.channels
            ));
        }
        Ok(())
    }

    /// Bytes per image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i`, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let len = self.image_len();
        self.images.get(i * len..(i + 1) * len)
    }

    /// The images as `f32`, same layout: pixel / 255, then minus the channel's
    /// mean, divided by the channel's standard deviation.
    pub fn normalized(&self) -> Vec<f32> {
        let plane = self.height * self.width;
        let mut out = Vec::with_capacity(self.images.len());
        if plane == 0 {
            return out;
        }
        for (k, pixels) in self.images.chunks_exact(plane).enumerate() {
            let c = k % self.channels;
            let (mean, std) = (self.mean[c], self.std[c]);
            out.extend(pixels.iter().map(|&p| (f32::from(p) / 255.0 - mean) / std));
        }
        out
    }

    /// How many images each class has, indexed by class.
    pub fn label_histogram(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &label in &self.labels {
            if let Some(count) = counts.get_mut(usize::from(label)) {
                *count += 1;
            }
        }
        counts
    }

    /// Exactly `n_per_class` images of each class, chosen by a seeded shuffle.
    ///
    /// All indices are shuffled with `ChaCha8Rng::seed_from_u64(seed)`, and
    /// the first `n_per_class` of each class in that order are kept; the kept
    /// images are then returned in their original order. The same seed gives
    /// the same subset (for a given rand 0.10 shuffle algorithm). Fails if a
    /// class has fewer than `n_per_class` images.
    pub fn subset_per_class(&self, n_per_class: usize, seed: u64) -> Result<Self, DataError> {
        self.check()?;
        for (class, &available) in self.label_histogram().iter().enumerate() {
            if available < n_per_class {
                return Err(DataError::TooFewInClass {
                    class,
                    available,
                    requested: n_per_class,
                });
            }
        }
        let mut order: Vec<usize> = (0..self.n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut taken = vec![0; self.num_classes];
        let mut keep = Vec::with_capacity(n_per_class * self.num_classes);
        for i in order {
            let class = usize::from(self.labels[i]);
            if taken[class] < n_per_class {
                taken[class] += 1;
                keep.push(i);
            }
        }
        keep.sort_unstable();

        let len = self.image_len();
        let mut images = Vec::with_capacity(keep.len() * len);
        for &i in &keep {
            images.extend_from_slice(&self.images[i * len..(i + 1) * len]);
        }
        Ok(Self {
            images,
            labels: keep.iter().map(|&i| self.labels[i]).collect(),
            n: keep.len(),
            mean: self.mean.clone(),
            std: self.std.clone(),
            ..*self
        })
    }

    /// The same images zero-padded, centred, to `height` x `width`.
    ///
    /// The padding is 0 in raw pixel space (black), so after
    /// [`Self::normalized`] it becomes `-mean / std` of its channel, not 0.
    /// When the extra rows or columns are odd in number, the extra one goes at
    /// the bottom or right. 28x28 to 32x32 adds 2 on each side, which lets
    /// Fashion-MNIST run through the CIFAR-sized ResNet protocol.
    pub fn pad_to(&self, height: usize, width: usize) -> Result<Self, DataError> {
        self.check()?;
        if height < self.height || width < self.width {
            return Err(DataError::PadTooSmall {
                from_height: self.height,
                from_width: self.width,
                height,
                width,
            });
        }
        let (top, left) = ((height - self.height) / 2, (width - self.width) / 2);
        let plane = self.height * self.width;
        let mut images = vec![0; self.n * self.channels * height * width];
        for (src, dst) in self
            .images
            .chunks_exact(plane)
            .zip(images.chunks_exact_mut(height * width))
        {
            for (r, row) in src.chunks_exact(self.width).enumerate() {
                let start = (top + r) * width + left;
                dst[start..start + self.width].copy_from_slice(row);
            }
        }
        Ok(Self {
            images,
            labels: self.labels.clone(),
            height,
            width,
            mean: self.mean.clone(),
            std: self.std.clone(),
            ..*self
        })
    }
}
