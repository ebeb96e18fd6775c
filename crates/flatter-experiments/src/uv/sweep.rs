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

/// One row with its own data draw: inputs x (length n) and initialisation (u₀, v₀).
#[derive(Clone, Copy, Debug)]
pub struct DrawRow<'a> {
    /// The engine row.
    pub row: Row,
    /// x, u₀, v₀ of its draw.
    pub data: &'a flatter_theory::sim::UvInit,
}

/// Stacked UV runs each with its own data and initialisation: x is `[R, n]`,
/// narrowed with the batch. The engine keeps the active rows a prefix of its
/// order (longest first, ties by position); the rows are handed to it in that
/// order already, so row r of the engine is row r of `x`, `u₀`, `v₀`.
struct StackedUvDraws {
    activation: Activation,
    x: Tensor<2>,
    u0: Tensor<2>,
    v0: Tensor<2>,
}

impl StackedModel<2> for StackedUvDraws {
    fn init(&self, rows: usize, _device: &Device) -> Vec<Tensor<2>> {
        vec![self.u0.clone().narrow(0, 0, rows), self.v0.clone().narrow(0, 0, rows)]
    }

    fn targets(&self, device: &Device) -> Tensor<2> {
        Tensor::zeros([1, self.x.dims()[1]], device)
    }

    fn predictions(&self, params: &[Tensor<2>]) -> Tensor<2> {
        let active = params[0].dims()[0];
        stacked_forward(params[0].clone(), params[1].clone(), self.x.clone().narrow(0, 0, active), self.activation)
    }

    fn observable_names(&self) -> Vec<&'static str> {
        vec!["norm2"]
    }

    fn observables(&self, params: &[Tensor<2>]) -> Tensor<2> {
        params[0].clone().powi_scalar(2).sum_dim(1) + params[1].clone().powi_scalar(2).sum_dim(1)
    }
}

/// Trains rows that differ in their data draw as one stacked program; returns
/// traces (‖u‖² + ‖v‖²) in the order of `rows`. Every draw must have the same n and d.
pub fn run_stacked_draws(
    device: &Device,
    activation: Activation,
    eps: f64,
    check_every: u64,
    rows: &[DrawRow<'_>],
    progress: Option<&ProgressBar>,
) -> Vec<Trace> {
    assert!(!rows.is_empty(), "no rows to run");
    let device = device.clone().without_autodiff();
    let (n, d) = (rows[0].data.x.len(), rows[0].data.u.len());
    assert!(rows.iter().all(|r| r.data.x.len() == n && r.data.u.len() == d && r.data.v.len() == d), "draws differ in n or d");
    // The engine's order: longest first, ties by position (a stable sort).
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| rows[b].row.steps.cmp(&rows[a].row.steps).then(a.cmp(&b)));
    let matrix = |slices: Vec<&[f64]>, width: usize| {
        let data: Vec<f32> = slices.iter().flat_map(|s| s.iter().map(|&v| v as f32)).collect();
        Tensor::<2>::from_data(TensorData::new(data, [rows.len(), width]), &device)
    };
    let model = StackedUvDraws {
        activation,
        x: matrix(order.iter().map(|&i| rows[i].data.x.as_slice()).collect(), n),
        u0: matrix(order.iter().map(|&i| rows[i].data.u.as_slice()).collect(), d),
        v0: matrix(order.iter().map(|&i| rows[i].data.v.as_slice()).collect(), d),
    };
    let sorted: Vec<Row> = order.iter().map(|&i| rows[i].row).collect();
    let traces = stacked::run(&device, &model, EngineConfig { eps, check_every }, &sorted, progress);
    let mut out: Vec<Option<Trace>> = vec![None; rows.len()];
    for (pos, trace) in traces.into_iter().enumerate() {
        out[order[pos]] = Some(trace);
    }
    out.into_iter().map(|t| t.expect("every row has a trace")).collect()
}
