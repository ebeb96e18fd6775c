//! The kernels on flex tensors: recognising a flex `f32` tensor behind Burn's
//! dispatch tensor, running [`crate::elementwise`] over its storage in rayon
//! chunks, and tanh's backward pass as a Burn autodiff operation.
//!
//! Anything that is not a flex `f32` tensor is handed back untouched (`Err`),
//! and the caller runs [`crate::reference`].

// The `Err` of these functions hands the caller its own tensors back, by
// value, for Burn's path; boxing them would allocate on every call.
#![allow(clippy::result_large_err)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind, unary};
use burn::backend::flex::{Flex, FlexTensor};
use burn::backend::{
    Autodiff, BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind,
    GradientCheckpointingStrategy,
};
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::tensor::module::BatchNormTrainOutput;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use crate::conv::Geometry;
use crate::elementwise;

/// Elements per rayon task: large enough that a task outweighs its
/// scheduling (a few µs of work), small enough to split a 512×512 layer.
const CHUNK: usize = 1 << 15;

/// Where a tensor lives, as far as the kernels care.
enum Route {
    /// A flex tensor outside autodiff (what an optimizer step sees).
    Plain,
    /// A flex tensor on an autodiff device without gradient checkpointing.
    Autodiff,
    /// Anything else: another backend, another dtype, checkpointing.
    Other,
}

fn route(dispatch: &DispatchTensor) -> Route {
    use burn::backend::TensorMetadata;
    if dispatch.dtype() != DType::F32 {
        return Route::Other;
    }
    match (&dispatch.kind, dispatch.autodiff) {
        (DispatchTensorKind::Flex(BackendTensor::Float(_)), DispatchAutodiffContext::Disabled) => Route::Plain,
        (
            DispatchTensorKind::Autodiff(inner),
            DispatchAutodiffContext::Enabled(GradientCheckpointingStrategy::Disabled),
        ) if matches!(**inner, DispatchTensorKind::Flex(BackendTensor::Autodiff(_))) => Route::Autodiff,
        _ => Route::Other,
    }
}

pub(crate) fn applies_to<const D: usize>(tensor: &Tensor<D>) -> bool {
    !matches!(route(&tensor.clone().into_dispatch()), Route::Other)
}

/// The flex primitive of a tensor already routed `Plain`.
fn plain(dispatch: DispatchTensor) -> FlexTensor {
    match dispatch.kind {
        DispatchTensorKind::Flex(BackendTensor::Float(t)) => t,
        _ => unreachable!("routed Plain"),
    }
}

/// The flex primitive and autodiff node of a tensor already routed `Autodiff`.
fn autodiff_parts(dispatch: DispatchTensor) -> (FlexTensor, NodeGuard) {
    match dispatch.kind {
        DispatchTensorKind::Autodiff(inner) => match *inner {
            DispatchTensorKind::Flex(BackendTensor::Autodiff(t)) => t.into_parts(),
            _ => unreachable!("routed Autodiff"),
        },
        _ => unreachable!("routed Autodiff"),
    }
}

fn wrap<const D: usize>(t: FlexTensor) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(t)
}

/// A flex `f32` tensor whose storage this code may write: the tensor itself
/// when it is unique and contiguous from offset 0, else a contiguous copy.
fn owned(t: FlexTensor) -> FlexTensor {
    match t.layout().contiguous_offsets() {
        Some((0, _)) if t.is_unique() => t,
        _ => {
            let shape = t.layout().shape().clone();
            let values: Vec<f32> = t.to_contiguous().storage::<f32>()[..shape.num_elements()].to_vec();
            FlexTensor::from_data(TensorData::new(values, shape))
        }
    }
}

/// A flex `f32` tensor's elements in row-major order, borrowed when possible.
pub(crate) fn contiguous(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => s.into(),
        None => {
            let c = t.to_contiguous();
            let n = c.layout().shape().num_elements();
            c.storage::<f32>()[..n].to_vec().into()
        }
    }
}

fn values_mut(t: &mut FlexTensor) -> &mut [f32] {
    let n = t.layout().shape().num_elements();
    // `t` came from `owned`, so this never copies.
    &mut t.storage_mut::<f32>()[..n]
}

#[allow(clippy::type_complexity)]
pub(crate) fn heavy_ball<const D: usize>(
    weights: Tensor<D>,
    grad: Tensor<D>,
    momentum: Option<Tensor<D>>,
    beta: f64,
    lr: f64,
) -> Result<(Tensor<D>, Tensor<D>), (Tensor<D>, Tensor<D>, Option<Tensor<D>>)> {
    let (w, g) = (weights.into_dispatch(), grad.into_dispatch());
    let m = momentum.map(Tensor::into_dispatch);
    let all_plain = matches!(route(&w), Route::Plain)
        && matches!(route(&g), Route::Plain)
        && m.as_ref().is_none_or(|m| matches!(route(m), Route::Plain));
    let same_shape = {
        use burn::backend::TensorMetadata;
        w.shape() == g.shape() && m.as_ref().is_none_or(|m| m.shape() == w.shape())
    };
    if !(all_plain && same_shape) {
        return Err((Tensor::from_dispatch(w), Tensor::from_dispatch(g), m.map(Tensor::from_dispatch)));
    }
    let (mut w, g) = (owned(plain(w)), plain(g));
    // Burn's `mul_scalar` on flex rounds the scalar to f32 (scalar_op); so do we.
    let (beta, lr) = (beta as f32, lr as f32);
    let grad = contiguous(&g);
    let first = m.is_none();
    let mut pi = match m {
        Some(m) => owned(plain(m)),
        None => FlexTensor::zeros(w.layout().shape().clone(), DType::F32),
    };
    {
        let (wv, pv) = (values_mut(&mut w), values_mut(&mut pi));
        let chunks = wv.par_chunks_mut(CHUNK).zip(pv.par_chunks_mut(CHUNK)).zip(grad.par_chunks(CHUNK));
        chunks.for_each(|((wc, pc), gc)| {
            if first {
                elementwise::heavy_ball_first(wc, pc, gc, lr);
            } else {
                elementwise::heavy_ball_step(wc, pc, gc, beta, lr);
            }
        });
    }
    drop(grad);
    Ok((wrap(w), wrap(pi)))
}

/// `tanh` of a flex tensor, into its own storage when it is unique.
fn tanh_forward(x: FlexTensor) -> FlexTensor {
    let mut y = owned(x);
    values_mut(&mut y).par_chunks_mut(CHUNK).for_each(elementwise::tanh_in_place);
    y
}

/// tanh's backward pass from the saved output y: `grad · (1 − y²)`.
#[derive(Debug)]
struct TanhFromOutput;

impl Backward<Flex, 1> for TanhFromOutput {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let y = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            let mut grad = owned(grad);
            let y = contiguous(&y);
            values_mut(&mut grad)
                .par_chunks_mut(CHUNK)
                .zip(y.par_chunks(CHUNK))
                .for_each(|(g, y)| elementwise::tanh_backward_in_place(g, y));
            grad
        });
    }
}

pub(crate) fn tanh<const D: usize>(x: Tensor<D>) -> Result<Tensor<D>, Tensor<D>> {
    let x = x.into_dispatch();
    match route(&x) {
        Route::Plain => Ok(wrap(tanh_forward(plain(x)))),
        Route::Autodiff => {
            let (primitive, node) = autodiff_parts(x);
            let y = match TanhFromOutput.prepare::<NoCheckpointing>([node]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let y = tanh_forward(primitive);
                    prep.finish(y.clone(), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(tanh_forward(primitive)),
            };
            Ok(Tensor::from_primitive::<Autodiff<Flex>>(y))
        }
        Route::Other => Err(Tensor::from_dispatch(x)),
    }
}

/// The rows of a contiguous `[batch, channels, rest…]` buffer that belong to
/// channel `c`: one slice of `rest` elements per image.
/// With `sub` set, each row is cut into pieces of `sub` elements: channel-major
/// maps pass one image's H·W, so their sums are taken image by image, in the
/// same order and with the same bits as on Burn's layout.
fn channel_rows(values: &[f32], batch: usize, channels: usize, c: usize, sub: Option<usize>) -> Vec<&[f32]> {
    let row = values.len() / (batch * channels);
    let piece = sub.unwrap_or(row).max(1);
    (0..batch).flat_map(|b| values[(b * channels + c) * row..][..row].chunks(piece)).collect()
}

/// `[batch, channels]` and the row length of a `[batch, channels, rest…]` shape.
fn bn_dims(t: &FlexTensor) -> (usize, usize) {
    let shape = t.layout().shape();
    (shape[0], shape[1])
}

fn tensor(values: Vec<f32>, dims: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, dims))
}

fn vector(values: Vec<f32>) -> FlexTensor {
    let n = values.len();
    FlexTensor::from_data(TensorData::new(values, [n]))
}

/// BatchNorm in training mode on flex: per-channel mean and biased variance,
/// then `y = (x − mean)·γ/√(var + ε) + β`. Returns `(y, mean, var)`.
fn batch_norm_forward(x: &FlexTensor, gamma: &[f32], beta: &[f32], epsilon: f64, sub: Option<usize>) -> (FlexTensor, Vec<f32>, Vec<f32>) {
    let (batch, channels) = bn_dims(x);
    let xs = contiguous(x);
    let stats: Vec<(f32, f32)> =
        (0..channels).into_par_iter().map(|c| elementwise::channel_mean_var(&channel_rows(&xs, batch, channels, c, sub))).collect();
    let (mean, var): (Vec<f32>, Vec<f32>) = stats.into_iter().unzip();
    let scale: Vec<f32> = (0..channels).map(|c| gamma[c] * inv_std(var[c], epsilon)).collect();
    let mut out = FlexTensor::zeros(x.layout().shape().clone(), DType::F32);
    let row = xs.len() / (batch * channels);
    values_mut(&mut out).par_chunks_mut(row).zip(xs.par_chunks(row)).enumerate().for_each(|(r, (o, xr))| {
        let c = r % channels;
        elementwise::batch_norm_row(xr, o, mean[c], scale[c], beta[c]);
    });
    (out, mean, var)
}

/// 1/√(var + ε) in f32, as Burn's default computes it (`recip(sqrt(var + ε))`).
fn inv_std(var: f32, epsilon: f64) -> f32 {
    1.0 / (var + epsilon as f32).sqrt()
}

/// BatchNorm's gradients: `(dx, dγ, dβ)`. `dx` is written over the incoming
/// gradient's buffer when nothing else holds it (each element needs only its
/// own g and its channel's two sums, computed first).
fn batch_norm_backward(
    x: &FlexTensor,
    gamma: &[f32],
    mean: &[f32],
    var: &[f32],
    epsilon: f64,
    grad: FlexTensor,
    sub: Option<usize>,
) -> (FlexTensor, Vec<f32>, Vec<f32>) {
    let (batch, channels) = bn_dims(x);
    let xs = contiguous(x);
    let mut dx = owned(grad);
    let n = (xs.len() / channels) as f64;
    let inv: Vec<f32> = var.iter().map(|&v| inv_std(v, epsilon)).collect();
    let sums: Vec<(f64, f64)> = {
        let gs = values_mut(&mut dx);
        (0..channels)
            .into_par_iter()
            .map(|c| {
                elementwise::channel_grad_sums(
                    &channel_rows(&xs, batch, channels, c, sub),
                    &channel_rows(gs, batch, channels, c, sub),
                    mean[c],
                    inv[c],
                )
            })
            .collect()
    };
    let row = xs.len() / (batch * channels);
    values_mut(&mut dx).par_chunks_mut(row).zip(xs.par_chunks(row)).enumerate().for_each(|(r, (d, xr))| {
        let c = r % channels;
        let (sum_g, sum_gx) = sums[c];
        let (mean_g, mean_gx) = ((sum_g / n) as f32, (sum_gx / n) as f32);
        elementwise::batch_norm_backward_in_place(xr, d, mean[c], inv[c], gamma[c] * inv[c], mean_g, mean_gx);
    });
    let dbeta = sums.iter().map(|&(g, _)| g as f32).collect();
    let dgamma = sums.iter().map(|&(_, gx)| gx as f32).collect();
    (dx, dgamma, dbeta)
}

#[derive(Debug)]
struct BatchNormOps;

impl Backward<Flex, 3> for BatchNormOps {
    /// The input, γ, the batch mean and variance, and ε.
    type State = (FlexTensor, FlexTensor, Vec<f32>, Vec<f32>, f64, Option<usize>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, gamma, mean, var, epsilon, sub) = ops.state;
        let (dx, dgamma, dbeta) = batch_norm_backward(&x, &contiguous(&gamma), &mean, &var, epsilon, grad, sub);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, vector(dgamma));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, vector(dbeta));
        }
    }
}

#[allow(clippy::type_complexity)]
pub(crate) fn batch_norm_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    sub: Option<usize>,
) -> Result<BatchNormTrainOutput<D>, (Tensor<D>, Tensor<1>, Tensor<1>)> {
    let device = x.device();
    let (xd, gd, bd) = (x.into_dispatch(), gamma.into_dispatch(), beta.into_dispatch());
    let routed = [&xd, &gd, &bd].iter().all(|t| matches!(route(t), Route::Autodiff));
    if !routed || D < 2 {
        return Err((Tensor::from_dispatch(xd), Tensor::from_dispatch(gd), Tensor::from_dispatch(bd)));
    }
    let ((xp, xn), (gp, gn), (bp, bn)) = (autodiff_parts(xd), autodiff_parts(gd), autodiff_parts(bd));
    let (out, mean, var) = batch_norm_forward(&xp, &contiguous(&gp), &contiguous(&bp), epsilon, sub);
    // The statistics as untracked tensors on the autodiff device, as Burn
    // returns them (C values each: a copy costs nothing).
    let stat = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
    let (mean_t, var_t) = (stat(&mean), stat(&var));
    let output = match BatchNormOps.prepare::<NoCheckpointing>([xn, gn, bn]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((xp, gp, mean, var, epsilon, sub), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Ok(BatchNormTrainOutput {
        output: Tensor::from_primitive::<Autodiff<Flex>>(output),
        mean: mean_t,
        variance: var_t,
    })
}

/// A convolution's backward pass: the input and weight gradients by
/// batched GEMMs ([`crate::conv::backward`]).
#[derive(Debug)]
struct Conv2dOps;

impl Backward<Flex, 2> for Conv2dOps {
    /// The input, the weight and the geometry.
    type State = (FlexTensor, FlexTensor, Geometry);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, w, geometry) = ops.state;
        let (dx, dw) = crate::conv::backward(&contiguous(&x), &contiguous(&w), &contiguous(&grad), &geometry, node_x.is_some());
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<Flex>(node.id, tensor(dx, geometry.input_dims()));
        }
        if let Some(node) = node_w {
            grads.register::<Flex>(node.id, tensor(dw, [geometry.o, geometry.c, geometry.kh, geometry.kw]));
        }
    }
}

/// A convolution without bias, groups or dilation on flex: plain tensors get
/// the batched forward, autodiff ones the forward and [`Conv2dOps`].
pub(crate) fn conv2d(x: Tensor<4>, weight: Tensor<4>, geometry: Geometry) -> Result<Tensor<4>, (Tensor<4>, Tensor<4>)> {
    let (xd, wd) = (x.into_dispatch(), weight.into_dispatch());
    match (route(&xd), route(&wd)) {
        (Route::Plain, Route::Plain) => {
            let (x, w) = (plain(xd), plain(wd));
            Ok(wrap(tensor(crate::conv::forward(&contiguous(&x), &contiguous(&w), &geometry), geometry.output_dims())))
        }
        (Route::Autodiff, Route::Autodiff) => {
            let ((xp, xn), (wp, wn)) = (autodiff_parts(xd), autodiff_parts(wd));
            let out = tensor(crate::conv::forward(&contiguous(&xp), &contiguous(&wp), &geometry), geometry.output_dims());
            let out = match Conv2dOps.prepare::<NoCheckpointing>([xn, wn]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((xp, wp, geometry), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            };
            Ok(Tensor::from_primitive::<Autodiff<Flex>>(out))
        }
        _ => Err((Tensor::from_dispatch(xd), Tensor::from_dispatch(wd))),
    }
}
