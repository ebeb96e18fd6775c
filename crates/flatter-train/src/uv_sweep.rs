//! The stacked-run engine for UV sweeps.
//!
//! A Fig. 1 sweep is hundreds of tiny runs. They are trained as one tensor
//! program: R models stacked along a leading axis, per-run η and β as `[R, 1]`
//! tensors. The loss is the sum of the R full-batch losses, so its autodiff
//! gradient gives each row exactly its own run's gradient, and the update is
//! [`heavy_ball_rows`], the optimizer crate's eq. (1) with per-row β and η.
//!
//! Runs are ordered by length; when the shortest runs finish, the stacked
//! tensors shrink to the runs still going, so a run costs only its own steps.
//! Each run's label noise comes from its own seed's stream and depends only on
//! (seed, step): a run gives the same trajectory alone or in any batch.

use burn::tensor::{Device, Tensor, TensorData};
use flatter_models::uv::{Activation, stacked_forward};
use flatter_optim::rng::{RandomStream, Streams};
use flatter_optim::{GaussianTargetNoise, heavy_ball_rows};
use indicatif::ProgressBar;
use rand::rngs::ChaCha8Rng;

/// One stacked run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepRow {
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// Steps to train.
    pub steps: u64,
    /// ‖u‖² + ‖v‖² is recorded every `log_every` steps (a multiple of the problem's `check_every`).
    pub log_every: u64,
    /// The label-noise seed.
    pub noise_seed: u64,
}

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
    /// Label-noise standard deviation ε.
    pub eps: f64,
    /// How often the engine reads ‖u‖² + ‖v‖² back and shrinks the batch.
    pub check_every: u64,
}

/// A row's record: ‖u‖² + ‖v‖² at steps 0, log_every, 2·log_every, … and
/// whether it went non-finite (recording stops there).
#[derive(Clone, Debug, PartialEq)]
pub struct RowTrace {
    /// Recorded steps.
    pub steps: Vec<u64>,
    /// ‖u‖² + ‖v‖².
    pub norm2: Vec<f64>,
    /// The first recorded step at which the value was not finite.
    pub diverged_at: Option<u64>,
}

fn column(values: &[f64], device: &Device) -> Tensor<2> {
    let data: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(data, [values.len(), 1]), device)
}

fn repeat_rows(row: &[f64], rows: usize, device: &Device) -> Tensor<2> {
    let data: Vec<f32> = (0..rows).flat_map(|_| row.iter().map(|&x| x as f32)).collect();
    Tensor::from_data(TensorData::new(data, [rows, row.len()]), device)
}

/// Trains every row for its own number of steps; returns the traces in the
/// order of `rows`. `device` must be a plain (non-autodiff) device; the engine
/// enters autodiff for each step's gradient only.
pub fn run_stacked(device: &Device, problem: &UvProblem, rows: &[SweepRow], progress: Option<&ProgressBar>) -> Vec<RowTrace> {
    assert!(!rows.is_empty(), "no rows to run");
    assert!(problem.check_every > 0 && rows.iter().all(|r| r.log_every % problem.check_every == 0 && r.steps % r.log_every == 0));
    let device = device.clone().without_autodiff();
    let n = problem.x.len();
    let noise = GaussianTargetNoise::new(problem.eps).expect("eps validated by the config");

    // Longest runs first, so the active set is always a prefix.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| rows[b].steps.cmp(&rows[a].steps).then(a.cmp(&b)));
    let sorted: Vec<SweepRow> = order.iter().map(|&i| rows[i]).collect();

    // One noise stream per distinct seed; rows index into that seed's draws.
    let mut seeds: Vec<u64> = sorted.iter().map(|r| r.noise_seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let mut rngs: Vec<ChaCha8Rng> = seeds.iter().map(|&s| Streams::new(s).rng(RandomStream::LabelNoise)).collect();
    let seed_of_row: Vec<usize> = sorted.iter().map(|r| seeds.binary_search(&r.noise_seed).unwrap()).collect();

    let mut active = sorted.len();
    let mut u = repeat_rows(&problem.u0, active, &device);
    let mut v = repeat_rows(&problem.v0, active, &device);
    let (mut pu, mut pv): (Option<Tensor<2>>, Option<Tensor<2>>) = (None, None);
    let beta_all = column(&sorted.iter().map(|r| r.beta).collect::<Vec<_>>(), &device);
    let lr_all = column(&sorted.iter().map(|r| r.lr).collect::<Vec<_>>(), &device);
    let (mut beta, mut lr) = (beta_all.clone(), lr_all.clone());
    let x = Tensor::<2>::from_data(TensorData::new(problem.x.iter().map(|&x| x as f32).collect::<Vec<_>>(), [1, n]), &device);
    let mut traces: Vec<RowTrace> = sorted.iter().map(|_| RowTrace { steps: vec![], norm2: vec![], diverged_at: None }).collect();
    let mut noise_buf = vec![0f32; seeds.len() * n];
    let mut y_buf = vec![0f32; active * n];

    let record = |k: u64, u: &Tensor<2>, v: &Tensor<2>, active: usize, traces: &mut [RowTrace]| {
        let norm2 = (u.clone().powi_scalar(2).sum_dim(1) + v.clone().powi_scalar(2).sum_dim(1)).into_data();
        let norm2: Vec<f64> = norm2.convert::<f64>().try_into_vec().expect("norm2 to f64");
        for (r, trace) in traces.iter_mut().enumerate().take(active) {
            if trace.diverged_at.is_some() || k % sorted[r].log_every != 0 {
                continue;
            }
            trace.steps.push(k);
            trace.norm2.push(norm2[r]);
            if !norm2[r].is_finite() {
                trace.diverged_at = Some(k);
            }
        }
    };
    record(0, &u, &v, active, &mut traces);

    let total = sorted[0].steps;
    for k in 1..=total {
        for (s, rng) in rngs.iter_mut().enumerate() {
            noise_buf[s * n..(s + 1) * n].copy_from_slice(&noise.sample(n, rng));
        }
        for r in 0..active {
            let s = seed_of_row[r];
            y_buf[r * n..(r + 1) * n].copy_from_slice(&noise_buf[s * n..(s + 1) * n]);
        }
        let y = Tensor::<2>::from_data(TensorData::new(y_buf[..active * n].to_vec(), [active, n]), &device);

        let ua = u.clone().autodiff().require_grad();
        let va = v.clone().autodiff().require_grad();
        let residual = stacked_forward(ua.clone(), va.clone(), x.clone(), problem.activation) - y;
        let loss = residual.powi_scalar(2).sum().div_scalar(2.0 * n as f64);
        let grads = loss.backward();
        let (gu, gv) = (ua.grad(&grads).expect("u gradient"), va.grad(&grads).expect("v gradient"));
        let (nu, npu) = heavy_ball_rows(u, gu, pu, beta.clone(), lr.clone());
        let (nv, npv) = heavy_ball_rows(v, gv, pv, beta.clone(), lr.clone());
        (u, v, pu, pv) = (nu, nv, Some(npu), Some(npv));

        if k % problem.check_every == 0 {
            record(k, &u, &v, active, &mut traces);
            let still = sorted[..active].iter().filter(|r| r.steps > k).count();
            if still < active {
                active = still;
                if active == 0 {
                    break;
                }
                let keep = |t: Tensor<2>| t.slice(0..active);
                (u, v) = (keep(u), keep(v));
                pu = pu.map(keep);
                pv = pv.map(keep);
                beta = beta_all.clone().slice(0..active);
                lr = lr_all.clone().slice(0..active);
            }
            if let Some(bar) = progress {
                bar.set_position(k);
            }
        }
    }

    let mut out = vec![RowTrace { steps: vec![], norm2: vec![], diverged_at: None }; rows.len()];
    for (pos, &i) in order.iter().enumerate() {
        out[i] = std::mem::replace(&mut traces[pos], RowTrace { steps: vec![], norm2: vec![], diverged_at: None });
    }
    out
}
