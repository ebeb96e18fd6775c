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

pub mod elementwise;
#[cfg(feature = "flex")]
mod flex;
pub mod reference;

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
    #[cfg(feature = "flex")]
    let (x, gamma, beta) = match flex::batch_norm_train(x, gamma, beta, epsilon) {
        Ok(out) => return out,
        Err(inputs) => inputs,
    };
    reference::batch_norm_train(x, gamma, beta, epsilon)
}

/// `burn::nn::BatchNorm::forward` with its training path through
/// [`batch_norm_train`]: the same choice of path (an autodiff device and the
/// layer's training flag), the same running-statistics update
/// (`running ← running·(1 − momentum) + batch·momentum`, biased variance),
/// and Burn's inference path unchanged. The module, its parameters and its
/// record are Burn's.
pub fn batch_norm<const D: usize>(bn: &burn::nn::BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let [channels] = bn.gamma.shape().dims();
    assert!(D >= 2 && x.dims()[1] == channels, "batch_norm: expected [batch, {channels}, …], got {:?}", x.dims());
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return bn.forward(x);
    }
    let device = x.device();
    let result = batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon);
    let running = |state: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let value = state.value_sync().to_device(&device);
        let value = value.mul_scalar(1.0 - bn.momentum).add(batch.detach().mul_scalar(bn.momentum));
        state.update(value.detach());
    };
    running(&bn.running_mean, result.mean);
    running(&bn.running_var, result.variance);
    result.output
}
