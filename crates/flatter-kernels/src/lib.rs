//! Fused CPU kernels for the two hot spots of flatter's training step on
//! Burn's flex backend (issue 14, `docs/bench/profile-2026-12-02.md`):
//!
//! - [`heavy_ball`]: eq. (1)'s update, π ← βπ − g; w ← w + ηπ, as one
//!   multithreaded pass over w, π and g, in place where the buffers are not
//!   shared. Burn's ops take four single-threaded passes, one of them
//!   allocating (10% of the paper-width MLP step, 16% at the cpu scale).
//! - [`tanh`]: a vectorised tanh whose backward pass is one multiply from the
//!   saved output, g·(1 − y²). Flex calls libm's `tanhf` per element, and
//!   Burn's autodiff recomputes tanh of the input in the backward pass and
//!   then takes four more passes (11–16% of the MLP step).
//!
//! Each kernel applies only to flex `f32` tensors (checked at run time on
//! Burn's dispatch tensor); everything else goes through [`reference`], the
//! same computation in Burn's own ops, which is also what the tests compare
//! the kernels against. [`heavy_ball`] gives the reference's bits exactly;
//! [`tanh`] is within [`TANH_MAX_ULP`] of the correctly rounded tanh.

#[cfg(feature = "flex")]
mod conv;
pub mod elementwise;
#[cfg(feature = "flex")]
mod flex;
mod maps;
pub mod reference;

pub use maps::{FeatureMaps, batch_norm_maps, conv2d_maps};

use burn::tensor::Tensor;

/// The largest error of [`elementwise::tanh_f32`] (and so of [`tanh`] on flex)
/// against tanh computed in `f64` and rounded, in units in the last place of
/// the result, over all 2³² inputs: measured exhaustively by the ignored test
/// `tanh_f32_exhaustively` (93 s on 2026-12-02); CI checks every 61st.
pub const TANH_MAX_ULP: u32 = 1;

/// One heavy-ball step, eq. (1) with no dampening: with π the previous
/// momentum (`None` means π = 0, the first step),
/// `π' = β·π − grad` and `w' = weights + η·π'`. Returns `(w', π')`.
///
/// On flex `f32` tensors this is one fused pass, split across rayon's
/// threads, computing in `f32` exactly the operations of
/// [`reference::heavy_ball`] in the same order (β and η rounded to `f32`, as
/// Burn's `mul_scalar` does), so the bits are the same. Elsewhere it is
/// [`reference::heavy_ball`].
pub fn heavy_ball<const D: usize>(
    weights: Tensor<D>,
    grad: Tensor<D>,
    momentum: Option<Tensor<D>>,
    beta: f64,
    lr: f64,
) -> (Tensor<D>, Tensor<D>) {
    #[cfg(feature = "flex")]
    let (weights, grad, momentum) = match flex::heavy_ball(weights, grad, momentum, beta, lr) {
        Ok(done) => return done,
        Err(inputs) => inputs,
    };
    reference::heavy_ball(weights, grad, momentum, beta, lr)
}

/// tanh, differentiable. On flex `f32` tensors (with or without autodiff)
/// the forward pass is [`elementwise::tanh_f32`] over the tensor, vectorised
/// and split across rayon's threads, and the backward pass is
/// `grad · (1 − y²)` from the saved output y in one pass. Elsewhere it is
/// Burn's `tanh` ([`reference::tanh`]).
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    let x = match flex::tanh(x) {
        Ok(y) => return y,
        Err(x) => x,
    };
    reference::tanh(x)
}

/// Whether the kernels of this crate run on `tensor` (a flex `f32` tensor,
/// with or without autodiff, in a build with the `flex` feature), rather than
/// Burn's ops. The tests use it to show that a comparison with
/// [`reference`] compared two different code paths.
pub fn applies_to<const D: usize>(tensor: &Tensor<D>) -> bool {
    #[cfg(feature = "flex")]
    {
        flex::applies_to(tensor)
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = tensor;
        false
    }
}

/// BatchNorm in training mode (batch statistics), differentiable in `x`, γ
/// and β: Burn's `burn::tensor::module::batch_norm_train`, whose result type
/// it returns. On flex with autodiff (no checkpointing) the statistics, the
/// output and the backward pass are each one multithreaded pass per channel
/// or row over the `[batch, channels, …]` buffer; Burn's default for flex is
/// some ten tensor ops each way, with layout copies for its reductions.
/// Elsewhere it is [`reference::batch_norm_train`].
pub fn batch_norm_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> burn::tensor::module::BatchNormTrainOutput<D> {
    batch_norm_train_pieces(x, gamma, beta, epsilon, None)
}

/// [`batch_norm_train`], with each channel's sums taken over pieces of `sub`
/// elements of its rows on flex (`None`: whole rows).
fn batch_norm_train_pieces<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    sub: Option<usize>,
) -> burn::tensor::module::BatchNormTrainOutput<D> {
    #[cfg(feature = "flex")]
    let (x, gamma, beta) = match flex::batch_norm_train(x, gamma, beta, epsilon, sub) {
        Ok(out) => return out,
        Err(inputs) => inputs,
    };
    #[cfg(not(feature = "flex"))]
    let _ = sub;
    reference::batch_norm_train(x, gamma, beta, epsilon)
}

/// `burn::nn::BatchNorm::forward` with its training path through
/// [`batch_norm_train`]: the same choice of path (an autodiff device and the
/// layer's training flag), the same running-statistics update
/// (`running ← running·(1 − momentum) + batch·momentum`, biased variance),
/// and Burn's inference path unchanged. The module, its parameters and its
/// record are Burn's.
pub fn batch_norm<const D: usize>(bn: &burn::nn::BatchNorm, x: Tensor<D>) -> Tensor<D> {
    batch_norm_pieces(bn, x, None)
}

/// [`batch_norm`], with each channel's sums taken over pieces of `sub`
/// elements of its rows on flex (`None`: whole rows).
pub(crate) fn batch_norm_pieces<const D: usize>(bn: &burn::nn::BatchNorm, x: Tensor<D>, sub: Option<usize>) -> Tensor<D> {
    let [channels] = bn.gamma.shape().dims();
    assert!(D >= 2 && x.dims()[1] == channels, "batch_norm: expected [batch, {channels}, …], got {:?}", x.dims());
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return bn.forward(x);
    }
    let device = x.device();
    let result = batch_norm_train_pieces(x, bn.gamma.val(), bn.beta.val(), bn.epsilon, sub);
    let running = |state: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let value = state.value_sync().to_device(&device);
        let value = value.mul_scalar(1.0 - bn.momentum).add(batch.detach().mul_scalar(bn.momentum));
        state.update(value.detach());
    };
    running(&bn.running_mean, result.mean);
    running(&bn.running_var, result.variance);
    result.output
}

/// `burn::nn::conv::Conv2d::forward`, with the convolution as batched GEMMs
/// on flex (issue 14): the images of a group form one im2col matrix, and the
/// forward product, the weight gradient and the input gradient are one GEMM
/// each (the `gemm` crate that flex's matmul calls), where flex runs one GEMM
/// per image and a direct loop for the input gradient. On Burn's
/// `[images, channels, h, w]` tensors each product is permuted to and from
/// that layout; a network that keeps its maps channel-major
/// ([`FeatureMaps`], [`conv2d_maps`]) needs no permutes. It applies to convolutions without
/// bias, groups or dilation, with `Valid` or symmetric `Explicit` padding,
/// on flex `f32` tensors (plain, or autodiff without checkpointing); every
/// other case is the layer's own `forward` ([`reference::conv2d`]).
pub fn conv2d(conv: &burn::nn::conv::Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    let x = match conv_geometry(conv, x.dims(), conv::Layout::ImagesFirst) {
        Some(geometry) => match flex::conv2d(x, conv.weight.val(), geometry) {
            Ok(out) => return out,
            Err((x, _)) => x,
        },
        None => x,
    };
    reference::conv2d(conv, x)
}

/// Whether [`conv2d`] runs its batched GEMMs for this layer and input (else
/// it is the layer's own `forward`).
pub fn conv2d_applies(conv: &burn::nn::conv::Conv2d, x: &Tensor<4>) -> bool {
    #[cfg(feature = "flex")]
    {
        applies_to(x) && applies_to(&conv.weight.val()) && conv_geometry(conv, x.dims(), conv::Layout::ImagesFirst).is_some()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = (conv, x);
        false
    }
}

#[cfg(feature = "flex")]
/// The geometry of `conv` on an input of logical dims `[b, c, h, w]` (images,
/// channels, height, width) stored in `layout`, if the batched GEMMs apply.
fn conv_geometry(conv: &burn::nn::conv::Conv2d, [b, c, h, w]: [usize; 4], layout: conv::Layout) -> Option<conv::Geometry> {
    use burn::nn::PaddingConfig2d;
    let (ph, pw) = match conv.padding {
        PaddingConfig2d::Valid => (0, 0),
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => (top, left),
        _ => return None,
    };
    let [o, c_w, kh, kw] = conv.weight.dims();
    let [sh, sw] = conv.stride;
    let simple = conv.bias.is_none() && conv.groups == 1 && conv.dilation == [1, 1] && c == c_w && b > 0;
    (simple && h + 2 * ph >= kh && w + 2 * pw >= kw).then_some(conv::Geometry { b, c, h, w, o, kh, kw, sh, sw, ph, pw, layout })
}
