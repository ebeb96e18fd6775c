//! Training matrix sensing. A job is one data seed's phase-2 runs, its double-descent runs, or their ε = 0 controls: one
//! stacked program of U `[R, d, h]` and V `[R, h, d]`. Phase 1 (noise-free
//! heavy ball onto the valley) runs once per job in plain f64
//! (`flatter_theory::matrix_sensing`), which is exact and takes milliseconds.

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use flatter_theory::matrix_sensing::{Factors, MsProblem};
use indicatif::ProgressBar;

use crate::harness::TrainCtx;
use crate::harness::plan::{Job, write_run};
use crate::harness::stacked::{self, EngineConfig, Row, StackedModel};
use crate::matrix_sensing::model::{stacked_hessian_trace, stacked_measurements, stacked_test_error};
use crate::matrix_sensing::{MsExp, MsRun, MsScale, MsTrace, RunKind, summarise_run};

fn tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape), device)
}

/// The stacked matrix-sensing model: parameters `[U, V]`.
pub struct StackedMs {
    d: usize,
    start: Factors,
    y: Tensor<2>,
    a_flat_t: Tensor<2>,
    sigma_u: Tensor<3>,
    sigma_v: Tensor<3>,
    target: Tensor<3>,
}

impl StackedMs {
    /// The model of `problem`, every row starting from `start`.
    pub fn new(problem: &MsProblem, start: Factors, device: &Device) -> StackedMs {
        let (d, n) = (problem.d, problem.n);
        let a_flat = tensor(&problem.a, [n, d * d], device);
        StackedMs {
            d,
            start,
            y: tensor(&problem.y, [1, n], device),
            a_flat_t: a_flat.transpose(),
            sigma_u: tensor(&problem.sigma_u, [1, d, d], device),
            sigma_v: tensor(&problem.sigma_v, [1, d, d], device),
            target: tensor(&problem.y_star, [1, d, d], device),
        }
    }
}

impl StackedModel<3> for StackedMs {
    fn init(&self, rows: usize, device: &Device) -> Vec<Tensor<3>> {
        let (d, h) = (self.d, self.start.h);
        let u = tensor(&self.start.u, [1, d, h], device).repeat_dim(0, rows);
        let v = tensor(&self.start.v, [1, h, d], device).repeat_dim(0, rows);
        vec![u, v]
    }

    fn targets(&self, _device: &Device) -> Tensor<2> {
        self.y.clone()
    }

    fn predictions(&self, params: &[Tensor<3>]) -> Tensor<2> {
        stacked_measurements(params[0].clone(), params[1].clone(), self.a_flat_t.clone())
    }

    fn observable_names(&self) -> Vec<&'static str> {
        vec!["train_loss", "hessian_trace", "test_error"]
    }

    fn observables(&self, params: &[Tensor<3>]) -> Tensor<2> {
        let (u, v) = (params[0].clone(), params[1].clone());
        let n = self.y.dims()[1];
        let loss = (self.predictions(params) - self.y.clone()).powi_scalar(2).sum_dim(1).div_scalar(2.0 * n as f64);
        let trace = stacked_hessian_trace(u.clone(), v.clone(), self.sigma_u.clone(), self.sigma_v.clone());
        let test = stacked_test_error(u, v, self.target.clone());
        Tensor::cat(vec![loss, trace, test], 1)
    }
}

/// Where a job starts: the phase-1 point for phase 2, the random init for double descent.
pub fn start(scale: &MsScale, problem: &MsProblem, kind: RunKind, data_seed: u64) -> Factors {
    let init_seed = MsScale::init_seed(data_seed);
    match kind {
        RunKind::Phase2 => {
            let f0 = problem.init(scale.h, scale.init_sigma, init_seed);
            problem.heavy_ball(&f0, scale.phase1_lr, scale.phase1_beta, scale.phase1_steps)
        }
        RunKind::DoubleDescent | RunKind::DdControl => problem.init(scale.h, scale.dd_init_sigma, init_seed.wrapping_add(1)),
    }
}

/// Trains one job's runs; returns each with its trace, and T* of the problem.
pub fn train_job(scale: &MsScale, runs: &[MsRun], device: &Device, bar: Option<&ProgressBar>) -> (f64, Vec<MsTrace>) {
    let (kind, seed) = (runs[0].kind, runs[0].data_seed);
    assert!(runs.iter().all(|r| r.kind == kind && r.data_seed == seed), "a job has one kind and one data seed");
    let device = device.clone().without_autodiff();
    let problem = scale.problem(seed);
    let model = StackedMs::new(&problem, start(scale, &problem, kind, seed), &device);
    let rows: Vec<Row> =
        runs.iter().map(|r| Row { lr: r.lr, beta: r.beta, steps: r.steps, log_every: scale.log_every, noise_seed: r.noise_seed }).collect();
    if let Some(bar) = bar {
        bar.set_length(rows.iter().map(|r| r.steps).max().unwrap_or(0));
    }
    // The ε = 0 control drops the label noise of eq. (12) and nothing else.
    let eps = if kind.noisy() { scale.eps } else { 0.0 };
    let traces = stacked::run(&device, &model, EngineConfig { eps, check_every: scale.log_every }, &rows, bar);
    let traces = traces
        .into_iter()
        .map(|t| MsTrace { train_loss: t.column(0), hessian_trace: t.column(1), test_error: t.column(2), steps: t.steps })
        .collect();
    (problem.min_hessian_trace(), traces)
}

/// Trains one job as one stacked program (a node of the invocation's queue).
pub fn train(ctx: &TrainCtx<'_, MsExp>, device: &Device, job: &Job) -> anyhow::Result<()> {
    let scale = ctx.scale;
    let runs: Vec<MsRun> = scale.runs().into_iter().filter(|r| job.runs.contains(&r.id)).collect();
    let bar = ctx.progress.job_bar(&job.id, 0);
    let t0 = Instant::now();
    let (t_star, traces) = train_job(scale, &runs, device, Some(&bar));
    let share = t0.elapsed().as_secs_f64() / runs.len() as f64;
    bar.finish_and_clear();
    for (run, trace) in runs.iter().zip(&traces) {
        write_run(ctx.out, &run.id, run, &trace.to_csv(), &summarise_run(scale, run, t_star, trace, share))?;
    }
    Ok(())
}
