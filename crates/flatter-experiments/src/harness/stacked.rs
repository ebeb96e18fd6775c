//! The stacked-run engine: R independent training runs as one tensor program.
//!
//! A sweep is many small runs of one model with different (η, β, seed). They
//! are stacked along a leading axis: every parameter tensor has shape
//! `[R, …]`, η and β are `[R, 1, …]` tensors, and the loss is the sum of the R
//! full-batch losses, so its autodiff gradient gives each row exactly its own
//! run's gradient. The update is [`heavy_ball_rows`], the optimizer crate's
//! eq. (1) with per-row β and η, so a row follows the same update a lone run
//! would.
//!
//! Runs are ordered by length; when the shortest finish, the stacked tensors
//! shrink to the runs still going, so a run costs only its own steps. Each
//! run's label noise comes from its own seed's stream and depends only on
//! (seed, step): a run gives the same trajectory alone or in any batch.

use burn::tensor::{Device, Tensor, TensorData};
use flatter_optim::rng::{RandomStream, Streams};
use flatter_optim::{GaussianTargetNoise, heavy_ball_rows};
use indicatif::ProgressBar;
use rand::rngs::ChaCha8Rng;

/// A model whose R stacked copies the engine trains by regression with
/// Gaussian label noise, all parameters of rank `D` with the run on axis 0.
pub trait StackedModel<const D: usize>: Sync {
    /// The parameters of `rows` runs, all starting from the model's one initialisation.
    fn init(&self, rows: usize, device: &Device) -> Vec<Tensor<D>>;
    /// The clean targets, shape `[1, n]` (broadcast over rows).
    fn targets(&self, device: &Device) -> Tensor<2>;
    /// Predictions of every run on every sample, `[R, n]`; `params` carry autodiff.
    fn predictions(&self, params: &[Tensor<D>]) -> Tensor<2>;
    /// Names of the recorded observables, in column order.
    fn observable_names(&self) -> Vec<&'static str>;
    /// The observables of every run, `[R, M]`, on plain (non-autodiff) parameters.
    fn observables(&self, params: &[Tensor<D>]) -> Tensor<2>;
}

/// One stacked run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// Steps to train.
    pub steps: u64,
    /// Observables are recorded every `log_every` steps (a multiple of the engine's `check_every`).
    pub log_every: u64,
    /// The label-noise seed.
    pub noise_seed: u64,
}

/// How the engine runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineConfig {
    /// Label-noise standard deviation ε.
    pub eps: f64,
    /// How often observables are read back and the batch may shrink.
    pub check_every: u64,
}

/// A row's record: the observables at steps 0, log_every, 2·log_every, …
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Recorded steps.
    pub steps: Vec<u64>,
    /// One row per recorded step, one column per observable.
    pub values: Vec<Vec<f64>>,
    /// The first recorded step at which an observable was not finite; recording stops there.
    pub diverged_at: Option<u64>,
}

impl Trace {
    fn empty() -> Self {
        Trace { steps: vec![], values: vec![], diverged_at: None }
    }

    /// Column `m` of the record.
    pub fn column(&self, m: usize) -> Vec<f64> {
        self.values.iter().map(|v| v[m]).collect()
    }
}

fn column_tensor<const D: usize>(values: &[f64], device: &Device) -> Tensor<D> {
    let data: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    let mut shape = [1usize; D];
    shape[0] = values.len();
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// Trains every row for its own number of steps; returns the traces in the
/// order of `rows`. The engine keeps parameters off the autodiff tape and
/// enters autodiff for each step's gradient only.
pub fn run<const D: usize, M: StackedModel<D>>(
    device: &Device,
    model: &M,
    config: EngineConfig,
    rows: &[Row],
    progress: Option<&ProgressBar>,
) -> Vec<Trace> {
    assert!(!rows.is_empty(), "no rows to run");
    assert!(
        config.check_every > 0 && rows.iter().all(|r| r.log_every % config.check_every == 0 && r.steps % r.log_every == 0),
        "log_every must be a multiple of check_every, and steps a multiple of log_every"
    );
    let device = device.clone().without_autodiff();
    let noise = GaussianTargetNoise::new(config.eps).expect("eps validated by the config");
    let targets = model.targets(&device);
    let n = targets.dims()[1];

    // Longest runs first, so the active set is always a prefix.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| rows[b].steps.cmp(&rows[a].steps).then(a.cmp(&b)));
    let sorted: Vec<Row> = order.iter().map(|&i| rows[i]).collect();

    // One noise stream per distinct seed; rows copy their seed's draws.
    let mut seeds: Vec<u64> = sorted.iter().map(|r| r.noise_seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let mut rngs: Vec<ChaCha8Rng> = seeds.iter().map(|&s| Streams::new(s).rng(RandomStream::LabelNoise)).collect();
    let seed_of_row: Vec<usize> = sorted.iter().map(|r| seeds.binary_search(&r.noise_seed).unwrap()).collect();

    let mut active = sorted.len();
    let mut params = model.init(active, &device);
    let mut momenta: Vec<Option<Tensor<D>>> = vec![None; params.len()];
    let beta_all: Tensor<D> = column_tensor(&sorted.iter().map(|r| r.beta).collect::<Vec<_>>(), &device);
    let lr_all: Tensor<D> = column_tensor(&sorted.iter().map(|r| r.lr).collect::<Vec<_>>(), &device);
    let (mut beta, mut lr) = (beta_all.clone(), lr_all.clone());
    let mut traces: Vec<Trace> = sorted.iter().map(|_| Trace::empty()).collect();
    let mut noise_buf = vec![0f32; seeds.len() * n];
    let mut y_buf = vec![0f32; active * n];

    let record = |k: u64, params: &[Tensor<D>], active: usize, traces: &mut [Trace]| {
        let obs = model.observables(params);
        let [_, m] = obs.dims();
        let obs: Vec<f64> = obs.into_data().convert::<f64>().try_into_vec().expect("observables to f64");
        for (r, trace) in traces.iter_mut().enumerate().take(active) {
            if trace.diverged_at.is_some() || k % sorted[r].log_every != 0 {
                continue;
            }
            let values = obs[r * m..(r + 1) * m].to_vec();
            if values.iter().any(|v| !v.is_finite()) {
                trace.diverged_at = Some(k);
            }
            trace.steps.push(k);
            trace.values.push(values);
        }
    };
    record(0, &params, active, &mut traces);

    let total = sorted[0].steps;
    for k in 1..=total {
        for (s, rng) in rngs.iter_mut().enumerate() {
            noise_buf[s * n..(s + 1) * n].copy_from_slice(&noise.sample(n, rng));
        }
        for r in 0..active {
            let s = seed_of_row[r];
            y_buf[r * n..(r + 1) * n].copy_from_slice(&noise_buf[s * n..(s + 1) * n]);
        }
        let noisy = targets.clone() + Tensor::<2>::from_data(TensorData::new(y_buf[..active * n].to_vec(), [active, n]), &device);

        let tracked: Vec<Tensor<D>> = params.iter().map(|p| p.clone().autodiff().require_grad()).collect();
        let residual = model.predictions(&tracked) - noisy;
        let loss = residual.powi_scalar(2).sum().div_scalar(2.0 * n as f64);
        let grads = loss.backward();
        let mut next = Vec::with_capacity(params.len());
        for ((param, tracked), momentum) in params.into_iter().zip(&tracked).zip(momenta.iter_mut()) {
            let grad = tracked.grad(&grads).expect("every parameter gets a gradient");
            let (p, m) = heavy_ball_rows(param, grad, momentum.take(), beta.clone(), lr.clone());
            *momentum = Some(m);
            next.push(p);
        }
        params = next;

        if k % config.check_every == 0 {
            record(k, &params, active, &mut traces);
            let still = sorted[..active].iter().filter(|r| r.steps > k).count();
            if still < active {
                active = still;
                if active == 0 {
                    break;
                }
                let keep = |t: Tensor<D>| t.narrow(0, 0, active);
                params = params.into_iter().map(keep).collect();
                momenta = momenta.into_iter().map(|m| m.map(keep)).collect();
                beta = beta_all.clone().narrow(0, 0, active);
                lr = lr_all.clone().narrow(0, 0, active);
            }
            if let Some(bar) = progress {
                bar.set_position(k);
            }
        }
    }

    let mut out = vec![Trace::empty(); rows.len()];
    for (pos, &i) in order.iter().enumerate() {
        out[i] = std::mem::replace(&mut traces[pos], Trace::empty());
    }
    out
}
