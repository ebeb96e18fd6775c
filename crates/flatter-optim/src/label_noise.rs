//! Label noise (Sec. 3.2 of the paper): it acts on targets, never on gradients.
//!
//! - Regression: `y ← y + ε ξ`, ξ ~ N(0, 1) drawn fresh for every sample at every step.
//! - Classification: with probability p the label is replaced by one drawn
//!   uniformly from the K − 1 *wrong* classes, fresh every step.
//! - The noise-free phases train on the expected loss over that randomness:
//!   cross-entropy against the soft target q (1 − p on the true class,
//!   p/(K − 1) elsewhere), minus its minimum H(q), so the valley sits at 0.
//!
//! Every draw comes from a caller-owned generator, normally the
//! [`RandomStream::LabelNoise`](crate::rng::RandomStream) stream, so noise is
//! reproducible and independent of weight init and data order.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use rand::RngExt as _;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A label-noise parameter outside its range, or labels that do not fit.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LabelNoiseError {
    /// A field outside its range.
    #[error("{field} = {value} is out of range: expected {expected}")]
    OutOfRange {
        /// The config field.
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// The allowed range, in words.
        expected: &'static str,
    },
    /// A label that is not a class index.
    #[error("label {label} at index {index} is out of range: expected 0 <= label < {num_classes}")]
    LabelOutOfRange {
        /// The offending label.
        label: i64,
        /// Its position in the batch.
        index: usize,
        /// K.
        num_classes: usize,
    },
}

fn check(field: &'static str, value: f64, ok: bool, expected: &'static str) -> Result<(), LabelNoiseError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(LabelNoiseError::OutOfRange { field, value, expected })
    }
}

fn check_classes(num_classes: usize) -> Result<(), LabelNoiseError> {
    check("num_classes", num_classes as f64, num_classes >= 2, "num_classes >= 2")
}

/// Gaussian target noise of standard deviation ε, for regression.
///
/// ```
/// use flatter_optim::{GaussianTargetNoise, RandomStream, Streams};
/// let noise = GaussianTargetNoise::new(0.5)?;
/// let mut rng = Streams::new(7).epoch_rng(RandomStream::LabelNoise, 0);
/// let xi = noise.sample(10_000, &mut rng); // ε·ξ, ξ ~ N(0, 1), fresh each call
/// let var = xi.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / xi.len() as f64;
/// assert!((var - 0.25).abs() < 0.02);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianTargetNoise {
    std: f64,
}

impl GaussianTargetNoise {
    /// Noise of standard deviation `std` = ε ≥ 0.
    pub fn new(std: f64) -> Result<Self, LabelNoiseError> {
        check("label_noise_std", std, std >= 0.0, "label_noise_std >= 0")?;
        Ok(GaussianTargetNoise { std })
    }

    /// ε.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// `n` draws of ε ξ.
    pub fn sample(&self, n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let xi: f64 = StandardNormal.sample(rng);
                (self.std * xi) as f32
            })
            .collect()
    }

    /// `targets + ε ξ`, one fresh ξ per element. With ε = 0 the targets are
    /// returned untouched and nothing is drawn.
    pub fn apply<const D: usize>(&self, targets: Tensor<D>, rng: &mut ChaCha8Rng) -> Tensor<D> {
        if self.std == 0.0 {
            return targets;
        }
        let shape = targets.shape();
        let noise = self.sample(shape.num_elements(), rng);
        let noise = Tensor::<D>::from_data(TensorData::new(noise, shape), &targets.device());
        targets + noise
    }
}

/// Uniformly-wrong label flips with probability p among K classes.
///
/// ```
/// use flatter_optim::{LabelFlip, RandomStream, Streams};
/// let flip = LabelFlip::new(0.2, 10)?;
/// let mut rng = Streams::new(7).epoch_rng(RandomStream::LabelNoise, 0);
/// let labels = vec![3i64; 10_000];
/// let noisy = flip.flip(&labels, &mut rng)?;
/// let flipped = noisy.iter().filter(|&&y| y != 3).count() as f64 / 10_000.0;
/// assert!((flipped - 0.2).abs() < 0.02); // a flipped label is never the true one
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelFlip {
    prob: f64,
    num_classes: usize,
}

impl LabelFlip {
    /// Flips with probability `prob` ∈ [0, 1] among `num_classes` ≥ 2 classes.
    pub fn new(prob: f64, num_classes: usize) -> Result<Self, LabelNoiseError> {
        check("label_noise_prob", prob, (0.0..=1.0).contains(&prob), "0 <= label_noise_prob <= 1")?;
        check_classes(num_classes)?;
        Ok(LabelFlip { prob, num_classes })
    }

    /// p.
    pub fn prob(&self) -> f64 {
        self.prob
    }

    /// K.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Noisy copies of `labels`. Per label, one uniform draw decides the flip
    /// and, only when it flips, one draw picks among the K − 1 wrong classes.
    pub fn flip(&self, labels: &[i64], rng: &mut ChaCha8Rng) -> Result<Vec<i64>, LabelNoiseError> {
        let k = self.num_classes as i64;
        labels
            .iter()
            .enumerate()
            .map(|(index, &label)| {
                if !(0..k).contains(&label) {
                    return Err(LabelNoiseError::LabelOutOfRange { label, index, num_classes: self.num_classes });
                }
                if rng.random::<f64>() >= self.prob {
                    return Ok(label);
                }
                // Draw from {0..K−1} \ {label} by skipping over the true class.
                let other = rng.random_range(0..k - 1);
                Ok(if other >= label { other + 1 } else { other })
            })
            .collect()
    }

    /// [`LabelFlip::flip`] on a label tensor, returning a tensor on the same device.
    pub fn apply(&self, labels: Tensor<1, Int>, rng: &mut ChaCha8Rng) -> Result<Tensor<1, Int>, LabelNoiseError> {
        let device = labels.device();
        let host: Vec<i64> = labels.into_data().convert::<i64>().try_into_vec().expect("labels convert to i64");
        let noisy = self.flip(&host, rng)?;
        let n = noisy.len();
        Ok(Tensor::from_data(TensorData::new(noisy, [n]), &device))
    }
}

/// The expected cross-entropy over label flips, shifted so its minimum is 0.
///
/// ```
/// use flatter_optim::ExpectedLoss;
/// // Soft targets of p = 0.2 over 5 classes: 0.8 on the label, 0.05 elsewhere.
/// let loss = ExpectedLoss::new(0.2, 5)?;
/// assert!((loss.on_target() - 0.8).abs() < 1e-12 && (loss.off_target() - 0.05).abs() < 1e-12);
/// // Its minimum, the entropy of the soft target, is subtracted from the loss.
/// let entropy = -(0.8f64 * 0.8f64.ln() + 4.0 * 0.05 * 0.05f64.ln());
/// assert!((loss.minimum() - entropy).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpectedLoss {
    prob: f64,
    num_classes: usize,
}

impl ExpectedLoss {
    /// The expected loss for flip probability `prob` ∈ [0, 1) among `num_classes` classes.
    pub fn new(prob: f64, num_classes: usize) -> Result<Self, LabelNoiseError> {
        check("label_noise_prob", prob, (0.0..1.0).contains(&prob), "0 <= label_noise_prob < 1")?;
        check_classes(num_classes)?;
        Ok(ExpectedLoss { prob, num_classes })
    }

    /// Plain cross-entropy on hard labels (p = 0); its minimum is already 0.
    pub fn hard(num_classes: usize) -> Result<Self, LabelNoiseError> {
        Self::new(0.0, num_classes)
    }

    /// Probability of the true class in the soft target, 1 − p.
    pub fn on_target(&self) -> f64 {
        1.0 - self.prob
    }

    /// Probability of each wrong class, p/(K − 1).
    pub fn off_target(&self) -> f64 {
        self.prob / (self.num_classes - 1) as f64
    }

    /// H(q) = −(1−p) ln(1−p) − p ln(p/(K−1)): the minimum of the raw cross-entropy.
    pub fn minimum(&self) -> f64 {
        let xlogx = |x: f64| if x > 0.0 { x * x.ln() } else { 0.0 };
        -xlogx(self.on_target()) - (self.num_classes - 1) as f64 * xlogx(self.off_target())
    }

    /// Soft targets q, shape `[N, K]`.
    pub fn soft_targets(&self, labels: Tensor<1, Int>) -> Tensor<2> {
        labels
            .one_hot::<2>(self.num_classes)
            .float()
            .mul_scalar(self.on_target() - self.off_target())
            .add_scalar(self.off_target())
    }

    /// Mean over the batch of CE(q, softmax(logits)) − H(q), shape `[1]`.
    /// `logits` is `[N, K]`, `labels` is `[N]`.
    pub fn loss(&self, logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        let q = self.soft_targets(labels);
        let ce = q.mul(log_softmax(logits, 1)).sum_dim(1).neg().mean();
        if self.prob == 0.0 { ce } else { ce.sub_scalar(self.minimum()) }
    }
}
