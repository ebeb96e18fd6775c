//! ResNet-18, CIFAR variant (Kuang Liu's pytorch-cifar `models/resnet.py`,
//! the model of the paper's Sec. 4.2 and App. A.3).
//!
//! A 3×3 stride-1 stem with no max-pool, BasicBlocks [2, 2, 2, 2] with widths
//! 64/128/256/512 (times a width factor) and strides 1/2/2/2, a 1×1
//! projection shortcut (with its norm) where the stride or the width changes,
//! no conv biases, a norm after every conv, a 4×4 average pool and a linear
//! head. At full width with BatchNorm, 3 input channels and 10 classes it has
//! 11,173,962 trainable parameters.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use flatter_kernels::{FeatureMaps, batch_norm_maps, conv2d_maps};

pub use crate::resnet::NormKind;

/// The shape of a CIFAR ResNet-18.
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Channels of the input images (3 for CIFAR-10, 1 for padded Fashion-MNIST).
    pub in_channels: usize,
    /// Number of classes of the linear head.
    pub num_classes: usize,
    /// Width of the first stage; the stages are base, 2·base, 4·base, 8·base
    /// (64 in the paper; 8 is a width multiplier of 1/8).
    #[config(default = 64)]
    pub base_width: usize,
    /// The normalisation layer.
    #[config(default = "NormKind::Batch")]
    pub norm: NormKind,
    /// Blocks per stage.
    #[config(default = "[2, 2, 2, 2]")]
    pub blocks: [usize; 4],
}

/// A norm layer of either kind.
#[derive(Module, Debug)]
pub enum Norm {
    /// BatchNorm.
    Batch(BatchNorm),
    /// GroupNorm.
    Group(GroupNorm),
}

impl Norm {
    fn new(kind: NormKind, channels: usize, device: &Device) -> Self {
        match kind {
            NormKind::Batch => Norm::Batch(BatchNormConfig::new(channels).init(device)),
            NormKind::Group => Norm::Group(GroupNormConfig::new(channels.min(32), channels).init(device)),
        }
    }

    fn forward(&self, x: FeatureMaps) -> FeatureMaps {
        match self {
            Norm::Batch(bn) => batch_norm_maps(bn, x),
            Norm::Group(gn) => x.map_nchw(|t| gn.forward(t)),
        }
    }

    fn set_bn_momentum(&mut self, momentum: f64) {
        if let Norm::Batch(bn) = self {
            bn.momentum = momentum;
        }
    }

    fn running_stat_count(&self) -> usize {
        match self {
            Norm::Batch(bn) => 2 * bn.gamma.shape().num_elements(),
            Norm::Group(_) => 0,
        }
    }
}

fn conv(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .init(device)
}

/// The 1×1 projection shortcut and its norm.
#[derive(Module, Debug)]
pub struct Shortcut {
    conv: Conv2d,
    norm: Norm,
}

/// Kuang Liu's `BasicBlock`: conv-norm-relu, conv-norm, plus the shortcut, relu.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    norm1: Norm,
    conv2: Conv2d,
    norm2: Norm,
    shortcut: Option<Shortcut>,
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, norm: NormKind, device: &Device) -> Self {
        let shortcut = (stride != 1 || c_in != c_out)
            .then(|| Shortcut { conv: conv(c_in, c_out, 1, stride, device), norm: Norm::new(norm, c_out, device) });
        BasicBlock {
            conv1: conv(c_in, c_out, 3, stride, device),
            norm1: Norm::new(norm, c_out, device),
            conv2: conv(c_out, c_out, 3, 1, device),
            norm2: Norm::new(norm, c_out, device),
            shortcut,
        }
    }

    fn forward(&self, x: FeatureMaps) -> FeatureMaps {
        let out = self.norm1.forward(conv2d_maps(&self.conv1, x.clone())).map_elementwise(relu);
        let out = self.norm2.forward(conv2d_maps(&self.conv2, out));
        let skip = match &self.shortcut {
            Some(s) => s.norm.forward(conv2d_maps(&s.conv, x)),
            None => x,
        };
        (out + skip).map_elementwise(relu)
    }

    fn norms_mut(&mut self) -> Vec<&mut Norm> {
        let mut v = vec![&mut self.norm1, &mut self.norm2];
        if let Some(s) = &mut self.shortcut {
            v.push(&mut s.norm);
        }
        v
    }

    fn norms(&self) -> Vec<&Norm> {
        let mut v = vec![&self.norm1, &self.norm2];
        if let Some(s) = &self.shortcut {
            v.push(&s.norm);
        }
        v
    }
}

/// ResNet-18 for 32×32 images.
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    stem_norm: Norm,
    blocks: Vec<BasicBlock>,
    pool: AvgPool2d,
    head: Linear,
}

impl ResNetConfig {
    /// A freshly initialised network (Burn's default initialisers).
    pub fn init(&self, device: &Device) -> ResNet {
        let b = self.base_width;
        let widths = [b, 2 * b, 4 * b, 8 * b];
        let strides = [1, 2, 2, 2];
        let mut blocks = Vec::new();
        let mut c_in = b;
        for stage in 0..4 {
            for k in 0..self.blocks[stage] {
                let stride = if k == 0 { strides[stage] } else { 1 };
                blocks.push(BasicBlock::new(c_in, widths[stage], stride, self.norm, device));
                c_in = widths[stage];
            }
        }
        ResNet {
            stem: conv(self.in_channels, b, 3, 1, device),
            stem_norm: Norm::new(self.norm, b, device),
            blocks,
            pool: AvgPool2dConfig::new([4, 4]).with_strides([4, 4]).init(),
            head: LinearConfig::new(8 * b, self.num_classes).init(device),
        }
    }
}

impl ResNet {
    /// Logits.
    ///
    /// Shapes: `x` is `[batch, in_channels, 32, 32]`; returns `[batch, num_classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        // With BatchNorm the maps stay channel-major between layers on flex
        // (no permutes around the convolutions' GEMMs); GroupNorm needs
        // Burn's layout at every norm, so its maps keep it.
        let x = FeatureMaps::new(x, self.has_batch_norm());
        let mut out = self.stem_norm.forward(conv2d_maps(&self.stem, x)).map_elementwise(relu);
        for block in &self.blocks {
            out = block.forward(out);
        }
        let out = self.pool.forward(out.into_nchw());
        let [batch, c, h, w] = out.dims();
        self.head.forward(out.reshape([batch, c * h * w]))
    }

    /// Sets the running-statistics momentum of every BatchNorm (no-op for
    /// GroupNorm). With momentum 1/(k+1) on the k-th of equal chunks, the
    /// running statistics become the plain average over the chunks.
    pub fn set_bn_momentum(&mut self, momentum: f64) {
        self.stem_norm.set_bn_momentum(momentum);
        for block in &mut self.blocks {
            for norm in block.norms_mut() {
                norm.set_bn_momentum(momentum);
            }
        }
    }

    /// Whether the norm layers are BatchNorm (they carry running statistics).
    pub fn has_batch_norm(&self) -> bool {
        matches!(self.stem_norm, Norm::Batch(_))
    }

    /// The number of BatchNorm running-statistics entries (mean and variance),
    /// which Burn's `num_params` counts but which are not trained.
    pub fn running_stat_count(&self) -> usize {
        self.stem_norm.running_stat_count()
            + self.blocks.iter().flat_map(|b| b.norms()).map(|n| n.running_stat_count()).sum::<usize>()
    }

    /// Trainable parameters: `num_params` minus the BatchNorm running statistics.
    pub fn num_trainable_params(&self) -> usize {
        self.num_params() - self.running_stat_count()
    }
}

/// Forward FLOPs (multiply-adds counted as 2) of one 32×32 image, convs and
/// head only: what the throughput estimates in the notes are based on.
pub fn forward_flops(config: &ResNetConfig) -> f64 {
    let b = config.base_width as f64;
    let mut flops = 2.0 * 9.0 * config.in_channels as f64 * b * 1024.0;
    let widths = [b, 2.0 * b, 4.0 * b, 8.0 * b];
    let mut side = 32.0f64;
    let mut c_in = b;
    for (stage, (&c, &blocks)) in widths.iter().zip(&config.blocks).enumerate() {
        for k in 0..blocks {
            let stride = if k == 0 && stage > 0 { 2.0 } else { 1.0 };
            let out_side = side / stride;
            let px = out_side * out_side;
            flops += 2.0 * 9.0 * c_in * c * px + 2.0 * 9.0 * c * c * px;
            if stride != 1.0 || c_in != c {
                flops += 2.0 * c_in * c * px;
            }
            side = out_side;
            c_in = c;
        }
    }
    flops + 2.0 * 8.0 * b * config.num_classes as f64
}

#[cfg(test)]
mod tests {
    use burn::module::Module as _;
    use burn::tensor::{Distribution, Tensor};
    use flatter_device::BackendKind;

    use super::*;

    #[test]
    fn resnet18_has_11_173_962_trainable_parameters() {
        let device = BackendKind::Flex.device().unwrap();
        let model = ResNetConfig::new(3, 10).init(&device);
        assert_eq!(model.num_trainable_params(), 11_173_962);
        // 4,800 BatchNorm channels, each with a running mean and variance, which
        // Burn's num_params also counts.
        assert_eq!(model.running_stat_count(), 9_600);
        assert_eq!(model.num_params(), 11_173_962 + 9_600);
        let gn = ResNetConfig::new(3, 10).with_norm(NormKind::Group).init(&device);
        assert_eq!((gn.num_trainable_params(), gn.running_stat_count()), (11_173_962, 0));
        // 0.56 GMAC per 32×32 image.
        assert!((forward_flops(&ResNetConfig::new(3, 10)) / 1e9 - 1.11).abs() < 0.02);
    }

    #[test]
    fn output_shapes_follow_channels_and_classes() {
        let device = BackendKind::Flex.device().unwrap();
        for (channels, classes, width, norm) in [(3, 10, 4, NormKind::Batch), (1, 7, 2, NormKind::Group)] {
            let model = ResNetConfig::new(channels, classes).with_base_width(width).with_norm(norm).init(&device);
            let x = Tensor::<4>::random([5, channels, 32, 32], Distribution::Default, &device);
            assert_eq!(model.forward(x).dims(), [5, classes]);
        }
    }
}
