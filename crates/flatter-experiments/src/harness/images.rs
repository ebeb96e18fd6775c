//! From an [`ImageDataset`] to Burn tensors: normalised, flattened images and
//! labels, in minibatches whose order comes from a seeded stream.
//!
//! Why not Burn's `Dataset` / `Batcher` / `DataLoader`: in Burn 0.22.1 the
//! `Batcher` trait lives in `burn::data::dataloader`, which is compiled only
//! with Burn's `dataset` feature, and that feature pulls in the `burn-dataset`
//! crate with its own download/storage stack (sqlite, image decoding, a
//! Hugging Face importer), none of which we need: the workspace builds Burn
//! with `default-features = false` and `burn-dataset` is not even in our
//! lock file. [`ImageBatcher::batch`] has exactly the shape of
//! `Batcher::batch(&self, items, &Device) -> O` (items are indices into one
//! in-memory dataset), so moving to Burn's trait later is a rename. Shuffling
//! is ours on purpose: a `DataLoader` shuffles with its own RNG, while every
//! run here draws its order from the [`RandomStream::DataOrder`] stream of its
//! seed, so that label noise and data order never shift each other.
//!
//! [`RandomStream::DataOrder`]: flatter_optim::rng::RandomStream::DataOrder

use burn::tensor::{Device, Int, Tensor, TensorData};
use flatter_data::ImageDataset;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom as _;

/// A dataset held as normalised `f32` rows, ready to be batched.
#[derive(Clone, Debug)]
pub struct ImageBatcher {
    features: Vec<f32>,
    labels: Vec<i64>,
    dim: usize,
    shape: [usize; 3],
    num_classes: usize,
}

impl ImageBatcher {
    /// Normalises `data` with its published constants (Fashion-MNIST: mean
    /// 0.2860, std 0.3530 on pixels scaled to [0, 1]) and flattens each image
    /// to one row of C·H·W features.
    pub fn new(data: &ImageDataset) -> Self {
        ImageBatcher {
            features: data.normalized(),
            labels: data.labels.iter().map(|&l| i64::from(l)).collect(),
            dim: data.image_len(),
            shape: [data.channels, data.height, data.width],
            num_classes: data.num_classes,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features per sample.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One image's [C, H, W].
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The true labels, in dataset order.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The samples at `indices`, in that order: images `[B, dim]` and the
    /// host-side labels (so label noise can be applied before upload).
    pub fn batch(&self, indices: &[usize], device: &Device) -> (Tensor<2>, Vec<i64>) {
        let mut x = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            x.extend_from_slice(&self.features[i * self.dim..(i + 1) * self.dim]);
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        (Tensor::from_data(TensorData::new(x, [indices.len(), self.dim]), device), labels)
    }

    /// The samples at `indices` as images `[B, C, H, W]` (for convolutional
    /// models) and their host-side labels.
    pub fn batch_images(&self, indices: &[usize], device: &Device) -> (Tensor<4>, Vec<i64>) {
        let (x, labels) = self.batch(indices, device);
        let [c, h, w] = self.shape;
        (x.reshape([indices.len(), c, h, w]), labels)
    }

    /// Consecutive chunks of at most `chunk` samples in dataset order, as
    /// index lists (the full-batch phases and evaluation go through these).
    pub fn chunks(&self, chunk: usize) -> Vec<Vec<usize>> {
        (0..self.len()).collect::<Vec<_>>().chunks(chunk.max(1)).map(|c| c.to_vec()).collect()
    }

    /// Every sample, in dataset order.
    pub fn all(&self, device: &Device) -> (Tensor<2>, Vec<i64>) {
        let all: Vec<usize> = (0..self.len()).collect();
        self.batch(&all, device)
    }
}

/// Labels as a `[N]` Int tensor.
pub fn label_tensor(labels: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(labels.to_vec(), [labels.len()]), device)
}

/// One epoch's order: a permutation of `0..n` drawn from `rng` (the run's
/// data-order stream, continued from epoch to epoch).
pub fn epoch_order(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
}

/// The minibatches of one epoch: consecutive chunks of `order` of
/// `batch_size`, the last one possibly shorter.
pub fn minibatches(order: &[usize], batch_size: usize) -> impl Iterator<Item = &[usize]> {
    order.chunks(batch_size)
}

#[cfg(test)]
mod tests {
    use flatter_data::{FashionMnist, Split, Verify};
    use flatter_device::BackendKind;
    use flatter_optim::rng::{RandomStream, Streams};

    use super::*;

    #[test]
    fn batcher_shapes_normalisation_and_order() {
        let test = FashionMnist::load(None, Split::Test, Verify::Strict).unwrap();
        let batcher = ImageBatcher::new(&test);
        assert_eq!((batcher.len(), batcher.dim(), batcher.num_classes()), (10_000, 784, 10));
        let device = BackendKind::DEFAULT.device().unwrap();
        let (x, labels) = batcher.batch(&[3, 0, 9999], &device);
        assert_eq!(x.dims(), [3, 784]);
        assert_eq!(labels, vec![i64::from(test.labels[3]), i64::from(test.labels[0]), i64::from(test.labels[9999])]);
        // Row 1 is image 0, normalised with the published constants.
        let got: Vec<f32> = x.into_data().convert::<f32>().try_into_vec().unwrap();
        for (k, &p) in test.image(0).unwrap().iter().enumerate() {
            let want = (f32::from(p) / 255.0 - 0.2860) / 0.3530;
            assert!((got[784 + k] - want).abs() < 1e-6, "pixel {k}: {} vs {want}", got[784 + k]);
        }
        // The whole normalised split has mean ≈ 0 and std ≈ 1 (the constants are the training split's).
        let all = test.normalized();
        let mean = all.iter().map(|&v| f64::from(v)).sum::<f64>() / all.len() as f64;
        let var = all.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / all.len() as f64;
        assert!(mean.abs() < 0.05 && (var.sqrt() - 1.0).abs() < 0.05, "mean {mean}, std {}", var.sqrt());

        // Order: a permutation, the same for the same seed, different across epochs and streams.
        let s = Streams::new(5);
        let (mut a, mut b) = (s.rng(RandomStream::DataOrder), s.rng(RandomStream::DataOrder));
        let (a1, b1) = (epoch_order(1000, &mut a), epoch_order(1000, &mut b));
        assert_eq!(a1, b1);
        let mut sorted = a1.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(epoch_order(1000, &mut a), a1, "the next epoch is another permutation");
        assert_ne!(epoch_order(1000, &mut s.rng(RandomStream::LabelNoise)), a1);
        let sizes: Vec<usize> = minibatches(&a1, 300).map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![300, 300, 300, 100]);

        // As images for convolutional models: the same values, shaped [B, C, H, W];
        // chunks cover the dataset in order.
        assert_eq!(batcher.shape(), [1, 28, 28]);
        let (img, img_labels) = batcher.batch_images(&[3, 0, 9999], &device);
        assert_eq!(img.dims(), [3, 1, 28, 28]);
        assert_eq!(img_labels, labels);
        assert_eq!(img.into_data().convert::<f32>().try_into_vec::<f32>().unwrap(), got);
        let chunks = batcher.chunks(4096);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![4096, 4096, 1808]);
        assert_eq!(chunks.concat(), (0..10_000).collect::<Vec<_>>());
    }
}
