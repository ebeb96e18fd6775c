//! Feature maps kept channel-major between the layers of a convolutional
//! network on flex (issue 14).
//!
//! [`crate::conv2d`] on Burn's `[images, channels, h, w]` tensors must permute
//! every product between that layout and its GEMMs' `[channels, (image, h,
//! w)]` matrices, forward and backward (the memmoves of
//! `docs/bench/profile-2026-12-02.md`). Stored channel-major,
//! `[channels, images, h, w]`, the tensors *are* those matrices. BatchNorm's
//! per-channel statistics read one contiguous block per channel, and
//! elementwise ops (ReLU, the residual sum) do not care. So a network that
//! converts its input once, runs every conv, norm and activation on
//! [`FeatureMaps`] and converts back before pooling moves no data between
//! layers.
//!
//! Only where [`crate::conv2d`] runs its kernels (flex `f32`) are the maps
//! channel-major; elsewhere [`FeatureMaps`] holds Burn's layout and every
//! function here is exactly the Burn op it replaces. The arithmetic is the
//! same in both layouts (the same GEMMs and per-channel passes over the same
//! values), which `tests/kernels.rs` checks against Burn's ops.

use burn::tensor::Tensor;

/// A batch of feature maps with logical dims `[images, channels, h, w]`,
/// stored channel-major (`[channels, images, h, w]`) where the kernels of this
/// crate run on it, and as given elsewhere.
#[derive(Clone, Debug)]
pub struct FeatureMaps {
    tensor: Tensor<4>,
    channel_major: bool,
}

impl FeatureMaps {
    /// Maps from `x` `[images, channels, h, w]`. They are kept channel-major
    /// when `allow_channel_major` and the kernels apply to `x` (a flex `f32`
    /// tensor in a build with the `flex` feature); pass `false` for a network
    /// with layers that need Burn's layout at every step (GroupNorm).
    pub fn new(x: Tensor<4>, allow_channel_major: bool) -> FeatureMaps {
        let channel_major = allow_channel_major && crate::applies_to(&x);
        let tensor = if channel_major { x.swap_dims(0, 1) } else { x };
        FeatureMaps { tensor, channel_major }
    }

    /// Whether the maps are stored channel-major.
    pub fn is_channel_major(&self) -> bool {
        self.channel_major
    }

    /// The logical dims `[images, channels, h, w]`.
    pub fn dims(&self) -> [usize; 4] {
        let [a, b, h, w] = self.tensor.dims();
        if self.channel_major { [b, a, h, w] } else { [a, b, h, w] }
    }

    /// The maps as a Burn `[images, channels, h, w]` tensor (a strided view
    /// when they are channel-major).
    pub fn into_nchw(self) -> Tensor<4> {
        if self.channel_major { self.tensor.swap_dims(0, 1) } else { self.tensor }
    }

    /// `f` applied to the stored tensor. `f` must act on each element on its
    /// own (ReLU, a scalar multiply), so that it means the same in either
    /// layout.
    pub fn map_elementwise(self, f: impl FnOnce(Tensor<4>) -> Tensor<4>) -> FeatureMaps {
        FeatureMaps { tensor: f(self.tensor), channel_major: self.channel_major }
    }

    /// `f` applied in Burn's layout, for a layer that needs it (GroupNorm);
    /// the result is stored as `self` was.
    pub fn map_nchw(self, f: impl FnOnce(Tensor<4>) -> Tensor<4>) -> FeatureMaps {
        let channel_major = self.channel_major;
        let y = f(self.into_nchw());
        FeatureMaps { tensor: if channel_major { y.swap_dims(0, 1) } else { y }, channel_major }
    }

}

impl std::ops::Add for FeatureMaps {
    type Output = FeatureMaps;

    /// The elementwise sum (a residual connection).
    ///
    /// # Panics
    /// If the two are stored differently.
    fn add(self, other: FeatureMaps) -> FeatureMaps {
        assert_eq!(self.channel_major, other.channel_major, "FeatureMaps + FeatureMaps: the two maps are stored in different layouts");
        FeatureMaps { tensor: self.tensor + other.tensor, channel_major: self.channel_major }
    }
}

/// [`crate::conv2d`] on feature maps. Channel-major maps run the batched GEMMs
/// with no permutes (the product is written straight into the output); a
/// layer the kernels do not cover (a bias, groups, dilation, `Same` padding)
/// runs the layer's own `forward` in Burn's layout.
pub fn conv2d_maps(conv: &burn::nn::conv::Conv2d, x: FeatureMaps) -> FeatureMaps {
    if !x.channel_major {
        return x.map_nchw(|t| crate::conv2d(conv, t));
    }
    #[cfg(feature = "flex")]
    let x = match crate::conv_geometry(conv, x.dims(), crate::conv::Layout::ChannelsFirst) {
        Some(geometry) => match crate::flex::conv2d(x.tensor, conv.weight.val(), geometry) {
            Ok(tensor) => return FeatureMaps { tensor, channel_major: true },
            Err((tensor, _)) => FeatureMaps { tensor, channel_major: true },
        },
        None => x,
    };
    x.map_nchw(|t| crate::reference::conv2d(conv, t))
}

/// [`crate::batch_norm`] on feature maps. Channel-major `[c, images, h, w]` is
/// BatchNorm's `[1, c, images·h, w]`: the same per-channel statistics over the
/// same values, summed image by image in the same order, so with the same
/// bits; the same running-statistics update; one contiguous block per channel.
pub fn batch_norm_maps(bn: &burn::nn::BatchNorm, x: FeatureMaps) -> FeatureMaps {
    if !x.channel_major {
        return x.map_nchw(|t| crate::batch_norm(bn, t));
    }
    let [c, b, h, w] = x.tensor.dims();
    // Sums image by image (pieces of h·w), as on Burn's layout: the same
    // bits as `batch_norm` there, whatever the batch.
    let y = crate::batch_norm_pieces(bn, x.tensor.reshape([1, c, b * h, w]), Some(h * w));
    FeatureMaps { tensor: y.reshape([c, b, h, w]), channel_major: true }
}
