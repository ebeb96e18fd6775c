//! UV models (Definition 3.6, Sec. 4.1, App. A.1).
//!
//! The vector UV model and its teacher–student variants share one form,
//! f(x) = Σ_j v_j φ(u_j x) with u, v ∈ R^d and scalar x; φ = identity gives
//! f = (u·v)x. [`stacked_forward`] evaluates R independent models at once,
//! which is what the sweep engine trains; [`Uv`] is one model as a Burn
//! module, trained by the ordinary `ModuleOptimizer` path.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::harness::Activation;

/// R stacked models evaluated on n scalar inputs.
///
/// Shapes: `u`, `v`: `[R, d]`; `x`: `[1, n]` (shared) or `[R, n]` (a data
/// draw per run); returns `[R, n]` with entry
/// (r, i) = Σ_j v_rj φ(u_rj x_i). The linear case skips the `[R, d, n]`
/// intermediate: (u·v) x.
pub fn stacked_forward(u: Tensor<2>, v: Tensor<2>, x: Tensor<2>, activation: Activation) -> Tensor<2> {
    let [runs, _] = u.dims();
    let [_, n] = x.dims();
    match activation {
        Activation::Linear => (u * v).sum_dim(1) * x,
        _ => {
            let z = u.unsqueeze_dim::<3>(2) * x.unsqueeze_dim::<3>(1);
            let hidden = activation.apply(z);
            (v.unsqueeze_dim::<3>(2) * hidden).sum_dim(1).reshape([runs, n])
        }
    }
}

/// One UV model: f(x) = Σ_j v_j φ(u_j x).
#[derive(Module, Debug)]
pub struct Uv {
    /// First-layer weights u ∈ R^d.
    pub u: Param<Tensor<1>>,
    /// Second-layer weights v ∈ R^d.
    pub v: Param<Tensor<1>>,
}

impl Uv {
    /// A model with the given weights.
    pub fn from_weights(u: Tensor<1>, v: Tensor<1>) -> Self {
        Uv { u: Param::from_tensor(u), v: Param::from_tensor(v) }
    }

    /// f at `x` (`[1, n]`), shape `[1, n]`.
    pub fn forward(&self, x: Tensor<2>, activation: Activation) -> Tensor<2> {
        stacked_forward(self.u.val().unsqueeze(), self.v.val().unsqueeze(), x, activation)
    }

    /// ‖u‖² + ‖v‖², the observable whose decay the paper measures.
    pub fn norm2(&self) -> f64 {
        let u = self.u.val().powi_scalar(2).sum().into_scalar::<f64>();
        let v = self.v.val().powi_scalar(2).sum().into_scalar::<f64>();
        u + v
    }
}

/// The matrix UV model f(x) = U V x with U ∈ R^{d_out×h}, V ∈ R^{h×d_in}.
#[derive(Module, Debug)]
pub struct MatrixUv {
    /// x ↦ V x (no bias).
    pub v: Linear,
    /// h ↦ U h (no bias).
    pub u: Linear,
}

/// Sizes of [`MatrixUv`] (a Burn `Config`: serde and `new`).
#[derive(Config, Debug, Copy)]
pub struct MatrixUvConfig {
    /// d_in.
    pub d_in: usize,
    /// h, the inner width.
    pub hidden: usize,
    /// d_out.
    pub d_out: usize,
}

impl MatrixUvConfig {
    /// A model with Burn's default (Kaiming-uniform) initialisation.
    pub fn init(&self, device: &Device) -> MatrixUv {
        MatrixUv {
            v: LinearConfig::new(self.d_in, self.hidden).with_bias(false).init(device),
            u: LinearConfig::new(self.hidden, self.d_out).with_bias(false).init(device),
        }
    }
}

impl MatrixUv {
    /// f(x) for a batch `[N, d_in]`, shape `[N, d_out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.u.forward(self.v.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use flatter_device::BackendKind;

    fn t2(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    #[test]
    fn stacked_forward_matches_the_formula_for_each_activation() {
        let device = BackendKind::DEFAULT.device().unwrap();
        let (u, v) = (vec![0.5f32, -1.0, 2.0, 0.1, 0.3, -0.7], vec![1.0f32, 0.5, -0.25, 2.0, -1.0, 0.4]);
        let x = vec![1.5f32, -0.5, 0.2, -2.0];
        for act in [Activation::Linear, Activation::Tanh, Activation::Relu] {
            let got = stacked_forward(t2(u.clone(), [2, 3], &device), t2(v.clone(), [2, 3], &device), t2(x.clone(), [1, 4], &device), act);
            let got: Vec<f32> = got.into_data().convert::<f32>().try_into_vec().unwrap();
            let phi = |z: f32| match act {
                Activation::Linear => z,
                Activation::Tanh => z.tanh(),
                Activation::Relu => z.max(0.0),
            };
            for r in 0..2 {
                for i in 0..4 {
                    let want: f32 = (0..3).map(|j| v[r * 3 + j] * phi(u[r * 3 + j] * x[i])).sum();
                    assert!((got[r * 4 + i] - want).abs() < 1e-5, "{act:?} r {r} i {i}: {} vs {want}", got[r * 4 + i]);
                }
            }
        }
    }

    #[test]
    fn matrix_uv_is_u_times_v_times_x() {
        let device = BackendKind::DEFAULT.device().unwrap();
        let model = MatrixUvConfig { d_in: 3, hidden: 4, d_out: 2 }.init(&device);
        let x = t2(vec![1.0, 2.0, -1.0, 0.5, 0.0, 3.0], [2, 3], &device);
        // Burn's Linear stores W as [d_in, d_out] and computes x W.
        let want = x.clone().matmul(model.v.weight.val()).matmul(model.u.weight.val());
        let got = model.forward(x);
        got.into_data().assert_approx_eq::<f32>(&want.into_data(), burn::tensor::Tolerance::absolute(1e-6));
    }
}
