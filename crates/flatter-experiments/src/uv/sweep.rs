//! The UV model as a [`StackedModel`]: R runs of f(x) = Σ_j v_j φ(u_j x)
//! trained by the stacked engine, recording ‖u‖² + ‖v‖².

use burn::tensor::{Device, Tensor, TensorData};
use crate::harness::Activation;
use crate::uv::model::stacked_forward;
use indicatif::ProgressBar;

use crate::harness::stacked::{self, EngineConfig, Row, StackedModel, Trace};

/// What every row shares: the model, the data, the initialisation and the noise level.
#[derive(Clone, Debug)]
pub struct UvProblem {
    /// φ.
    pub activation: Activation,
    /// Inputs x_i, length n.
    pub x: Vec<f64>,
    /// Initial u, length d (every row starts here).
    pub u0: Vec<f64>,
    /// Initial v, length d.
    pub v0: Vec<f64>,
    /// Label-noise standard deviation ε (the teacher is zero: y = ε ξ).
    pub eps: f64,
    /// How often the engine reads ‖u‖² + ‖v‖² back and shrinks the batch.
    pub check_every: u64,
}

fn repeat_rows(row: &[f64], rows: usize, device: &Device) -> Tensor<2> {
    let data: Vec<f32> = (0..rows).flat_map(|_| row.iter().map(|&x| x as f32)).collect();
    Tensor::from_data(TensorData::new(data, [rows, row.len()]), device)
}

/// The stacked UV model; parameters are `[u, v]`, each `[R, d]`.
struct StackedUv<'a> {
    problem: &'a UvProblem,
    x: Tensor<2>,
}

impl StackedModel<2> for StackedUv<'_> {
    fn init(&self, rows: usize, device: &Device) -> Vec<Tensor<2>> {
        vec![repeat_rows(&self.problem.u0, rows, device), repeat_rows(&self.problem.v0, rows, device)]
    }

    fn targets(&self, device: &Device) -> Tensor<2> {
        Tensor::zeros([1, self.problem.x.len()], device)
    }

    fn predictions(&self, params: &[Tensor<2>]) -> Tensor<2> {
        stacked_forward(params[0].clone(), params[1].clone(), self.x.clone(), self.problem.activation)
    }

    fn observable_names(&self) -> Vec<&'static str> {
        vec!["norm2"]
    }

    fn observables(&self, params: &[Tensor<2>]) -> Tensor<2> {
        params[0].clone().powi_scalar(2).sum_dim(1) + params[1].clone().powi_scalar(2).sum_dim(1)
    }
}

/// Trains every row; returns traces (one observable: ‖u‖² + ‖v‖²) in the order of `rows`.
pub fn run_stacked(device: &Device, problem: &UvProblem, rows: &[Row], progress: Option<&ProgressBar>) -> Vec<Trace> {
    let device = device.clone().without_autodiff();
    let n = problem.x.len();
    let x = Tensor::<2>::from_data(TensorData::new(problem.x.iter().map(|&x| x as f32).collect::<Vec<_>>(), [1, n]), &device);
    let model = StackedUv { problem, x };
    let config = EngineConfig { eps: problem.eps, check_every: problem.check_every };
    stacked::run(&device, &model, config, rows, progress)
}
