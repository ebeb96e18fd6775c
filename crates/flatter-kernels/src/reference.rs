//! The kernels' computations in Burn's own ops: what every backend but flex
//! runs, and what the tests hold the flex kernels to.

use burn::tensor::Tensor;

/// Eq. (1) in Burn's ops, as `flatter_optim::HeavyBall` has always computed
/// it: `π' = π·β − grad` (π' = −grad on the first step) and
/// `w' = w + π'·η`.
pub fn heavy_ball<const D: usize>(
    weights: Tensor<D>,
    grad: Tensor<D>,
    momentum: Option<Tensor<D>>,
    beta: f64,
    lr: f64,
) -> (Tensor<D>, Tensor<D>) {
    let momentum = match momentum {
        None => grad.neg(),
        Some(momentum) => momentum.mul_scalar(beta).sub(grad),
    };
    (weights.add(momentum.clone().mul_scalar(lr)), momentum)
}

/// Burn's `tanh` (its autodiff recomputes tanh of the input for the backward
/// pass and multiplies by `1 − tanh²`).
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.tanh()
}

/// Burn's BatchNorm in training mode (its default for flex is composed of
/// tensor ops; autodiff differentiates it as one operation).
pub fn batch_norm_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> burn::tensor::module::BatchNormTrainOutput<D> {
    burn::tensor::module::batch_norm_train(x, gamma, beta, epsilon)
}

/// The layer's own forward pass, Burn's `conv2d`.
pub fn conv2d(conv: &burn::nn::conv::Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv.forward(x)
}
