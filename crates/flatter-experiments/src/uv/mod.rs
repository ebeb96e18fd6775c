//! The UV / teacher–student experiment (Fig. 1, Sec. 4.1, App. A.1): config,
//! run expansion, per-run decay-time fits, and the criteria of claims C4–C8.
//!
//! Every run trains f(x) = Σ_j v_j φ(u_j x) (φ = identity is the vector UV
//! model f = (u·v)x) on a zero teacher with full-batch Gaussian label noise,
//! with 1 − β = C η^γ. Its decay time τ of ‖u‖² + ‖v‖² is fitted on a window
//! after the transient; τ against η gives the exponent a(γ), which theory puts
//! at max(γ, 2 − 2γ), minimised at γ = 2/3.

mod analyse;
pub mod figures;
#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod sweep;
#[cfg(feature = "train")]
pub mod train;

pub use analyse::*;

use flatter_theory::fit::{DecayFit, WindowRule, argmin_parabola, decay_time_fit, power_law_fit};
use flatter_theory::sim::UvInit;
use flatter_theory::timescales::{c_star, exponent_a, tau1, tau2};
use serde::{Deserialize, Serialize};

use crate::harness::{GAMMA_OPT, same_value};
pub use crate::harness::claims::Criterion;
use crate::harness::plan::Job;
use crate::harness::{AnalyseCtx, Experiment};
#[cfg(feature = "train")]
use crate::harness::TrainCtx;
use anyhow::Context as _;
use crate::harness::scale::Scale;
use crate::harness::claims::{ClaimKind, SummaryHeader};
pub use crate::harness::config::ConfigError;
use crate::harness::config::{Invalid, MAX_COUNT, distinct_in_ids, require, require_count, require_each, require_f64, within_memory, within_runs};

/// The loss normalisation: L = (1/2n) Σ (f − y)², so κ = 1 in the drift rate of eq. (126).
pub const KAPPA: f64 = 1.0;

pub use crate::harness::Activation;

/// Noise seeds of data draw `data_seed` are `data_seed · NOISE_SEED_STRIDE + s`,
/// so that draws never share a label-noise stream (draw 0 keeps seeds 0, 1, …).
pub const NOISE_SEED_STRIDE: u64 = 1_000_000;

/// One scale of the UV experiment. Every value that matters is here; none has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UvScale {
    /// Width d of u and v.
    pub d: usize,
    /// Number of samples n (scalar inputs x_i ~ N(0, 1), drawn once per data seed).
    pub n: usize,
    /// Label-noise standard deviation ε.
    pub eps: f64,
    /// C of the (γ, η) grid as a multiple of each draw's C* = (κ² ε² σ_x² / n)^{1/3} (eq. 10).
    pub c_over_c_star: f64,
    /// The first-layer nonlinearities to sweep.
    pub activations: Vec<Activation>,
    /// The exponents γ of 1 − β = C η^γ.
    pub gammas: Vec<f64>,
    /// The learning rates η.
    pub lrs: Vec<f64>,
    /// Number of independent label-noise realisations per (draw, activation, γ, η, C).
    pub noise_seeds: u64,
    /// Seeds of the data draws: each draws its own x and initialisation (u, v), hence its own C*.
    pub data_seeds: Vec<u64>,
    /// The C sweep (claims C6, C7): C/C* values run at `c_sweep_gamma` on `c_sweep_lrs`.
    pub c_sweep: Vec<f64>,
    /// γ of the C sweep (2/3, Sec. 4.1).
    pub c_sweep_gamma: f64,
    /// η values of the C sweep (the smallest of `lrs`).
    pub c_sweep_lrs: Vec<f64>,
    /// A run lasts `run_length_multiple · max(τ₁, τ₂) + skip_factor · τ₁` steps.
    pub run_length_multiple: f64,
    /// The fit window opens `skip_factor · τ₁` steps in (the window rule: see
    /// `[rules] window` in the experiment file for the rule and its history).
    pub skip_factor: f64,
    /// Upper bound on any run's length.
    pub max_steps: u64,
    /// ‖u‖² + ‖v‖² is checked every `log_every` steps…
    pub log_every: u64,
    /// …and a run records at most about this many points (its own interval is
    /// the smallest multiple of `log_every` that keeps it under this).
    pub max_points: u64,
    /// The window starts at the first point below `start_fraction` × the value
    /// at the end of the skip (≥ 1: right after the skip).
    pub start_fraction: f64,
    /// The window ends at the first point below `floor_fraction` × that value (the noise floor).
    pub floor_fraction: f64,
    /// A value above `diverge_factor` × the initial one marks the run diverged.
    pub diverge_factor: f64,
    /// A cell (pooled over draws, or one draw's) has a τ only if at least this share of its seeds fitted.
    pub min_success_share: f64,
}

/// The thresholds every criterion applies, fixed before the runs they judge
/// (the top-level `[rules]` table; the report quotes them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UvRules {
    /// When the rules were fixed, and what changed after data were seen, and why.
    pub fixed: String,
    /// The fit-window rule in words, with its history (the numbers are the scale's).
    pub window: String,
    /// C4: |a − max(γ, 2−2γ)| allowed for γ ≤ 2/3…
    pub a_tol_left: f64,
    /// …and for γ > 2/3.
    pub a_tol_right: f64,
    /// C4 right arm: the slope of a(γ) is fitted over γ ≥ this value…
    pub right_arm_from_gamma: f64,
    /// …and holds when slope ≥ this many standard errors above 0.
    pub right_arm_min_z: f64,
    /// C5, C7: argmin over γ of τ must lie in [lo, hi].
    pub argmin_gamma_window: [f64; 2],
    /// C6, C7: argmin over C of τ, as C/C*, must lie in [lo, hi].
    pub argmin_c_window: [f64; 2],
    /// C8: a cell is drift-dominated when τ₂/τ₁ ≥ this in every draw.
    pub drift_min_tau_ratio: f64,
    /// C8: |measured / eq. (126) drift rate − 1| allowed.
    pub drift_tol: f64,
}

impl UvRules {
    /// Checks every field's range; the error names the field.
    pub fn validate(&self) -> Result<(), Invalid> {
        require(!self.fixed.trim().is_empty(), "fixed", "expected when the rules were fixed")?;
        require(!self.window.trim().is_empty(), "window", "expected the window rule in words")?;
        require(self.a_tol_left > 0.0 && self.a_tol_right > 0.0, "a_tol_left", "expected both a tolerances > 0")?;
        require((0.0..=1.0).contains(&self.right_arm_from_gamma), "right_arm_from_gamma", "expected 0..=1")?;
        require(self.right_arm_min_z >= 0.0, "right_arm_min_z", "expected >= 0")?;
        let [lo, hi] = self.argmin_gamma_window;
        require(lo < hi && lo >= 0.0, "argmin_gamma_window", "expected [lo, hi] with 0 <= lo < hi")?;
        let [lo, hi] = self.argmin_c_window;
        require(lo < hi && lo > 0.0, "argmin_c_window", "expected [lo, hi] with 0 < lo < hi")?;
        require(self.drift_min_tau_ratio >= 1.0, "drift_min_tau_ratio", "expected >= 1")?;
        require(self.drift_tol > 0.0, "drift_tol", "expected > 0")?;
        Ok(())
    }
}

fn validated_rules<'de, D: serde::Deserializer<'de>>(d: D) -> Result<UvRules, D::Error> {
    let rules = UvRules::deserialize(d)?;
    rules.validate().map_err(|(field, msg)| serde::de::Error::custom(format!("[rules] {field}: {msg}")))?;
    Ok(rules)
}

/// The experiment file `experiments/uv.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UvExperiment {
    /// The experiment's name.
    pub name: String,
    /// The figures and claims it reproduces.
    pub reproduces: String,
    /// Our choices where the paper gives no value, repeated in the report.
    pub choices: Vec<String>,
    /// The criteria's thresholds, fixed before the runs.
    #[serde(deserialize_with = "validated_rules")]
    pub rules: UvRules,
    /// How its jobs share the machine (`[schedule]`, issue 18).
    #[serde(default)]
    pub schedule: crate::harness::Schedule,
    /// Seconds, for `cargo test`.
    pub smoke: UvScale,
    /// Minutes on 2 cores.
    pub cpu: UvScale,
    /// The paper's scale.
    pub paper: UvScale,
}

/// γ as run ids print it.
fn gamma_tag(gamma: f64) -> String {
    format!("g{gamma:.4}")
}

/// η as run and job ids print it.
fn lr_tag(lr: f64) -> String {
    format!("lr{lr:.1e}")
}

/// C/C* of a C-sweep cell as run ids print it.
fn c_tag(factor: f64) -> String {
    format!("-c{factor:.3}")
}

fn contains(xs: &[f64], x: f64) -> bool {
    xs.iter().any(|&y| same_value(x, y))
}

/// One data draw: its seed, data and initialisation, and its C*.
#[derive(Clone, Debug)]
pub struct Draw {
    /// The data seed.
    pub data_seed: u64,
    /// x, u₀, v₀.
    pub data: UvInit,
    /// σ_x² of this draw.
    pub sigma_x2: f64,
    /// C* of eq. (10) for this draw.
    pub c_star: f64,
}

impl UvScale {
    /// Checks every field's range; the error names the field and the
    /// expectation. Every float is finite and in range, every size is bounded
    /// by the memory it implies, and every integer product is checked, before
    /// anything is allocated (issue 17).
    pub fn validate(&self) -> Result<(), Invalid> {
        require(self.d >= 1, "d", "expected d >= 1")?;
        require(self.n >= 2, "n", "expected n >= 2")?;
        require_f64(self.eps, self.eps > 0.0, "eps", "eps > 0")?;
        require_f64(self.c_over_c_star, self.c_over_c_star > 0.0, "c_over_c_star", "> 0")?;
        require(!self.activations.is_empty(), "activations", "expected at least one of linear, tanh, relu")?;
        distinct_in_ids("activations", self.activations.iter().map(|a| a.name().to_string()))?;
        require(self.gammas.len() >= 3, "gammas", "expected at least 3 values, each >= 0")?;
        require_each(&self.gammas, |g| g >= 0.0, "gammas", "at least 3 values, each >= 0")?;
        distinct_in_ids("gammas", self.gammas.iter().map(|&g| gamma_tag(g)))?;
        require(self.lrs.len() >= 3, "lrs", "expected at least 3 values, each > 0")?;
        require_each(&self.lrs, |l| l > 0.0, "lrs", "at least 3 values, each > 0")?;
        distinct_in_ids("lrs", self.lrs.iter().map(|&l| lr_tag(l)))?;
        require(self.noise_seeds >= 1 && self.noise_seeds < NOISE_SEED_STRIDE, "noise_seeds", "expected 1 <= noise_seeds < 1e6")?;
        let mut seeds = self.data_seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        require(
            !self.data_seeds.is_empty() && seeds.len() == self.data_seeds.len() && seeds.iter().all(|&s| s < u64::MAX / NOISE_SEED_STRIDE),
            "data_seeds",
            "expected at least one seed, no repeats, each below 2^64 / 1e6 (its noise seeds are seed · 1e6 + s)",
        )?;
        require(self.c_sweep.is_empty() || self.c_sweep.len() >= 3, "c_sweep", "expected no values or at least 3, each > 0")?;
        require_each(&self.c_sweep, |c| c > 0.0, "c_sweep", "no values or at least 3, each > 0")?;
        distinct_in_ids("c_sweep", self.c_sweep.iter().map(|&c| c_tag(c)))?;
        require_f64(self.c_sweep_gamma, self.c_sweep_gamma >= 0.0, "c_sweep_gamma", ">= 0")?;
        require(self.c_sweep_lrs.iter().all(|&l| contains(&self.lrs, l)), "c_sweep_lrs", "expected values from lrs")?;
        distinct_in_ids("c_sweep_lrs", self.c_sweep_lrs.iter().map(|&l| lr_tag(l)))?;
        require_f64(self.run_length_multiple, self.run_length_multiple > 0.0, "run_length_multiple", "> 0")?;
        require_f64(self.skip_factor, self.skip_factor >= 0.0, "skip_factor", ">= 0")?;
        require(self.log_every >= 1, "log_every", "expected >= 1")?;
        require(self.max_points >= 50, "max_points", "expected >= 50 (the fits need points)")?;
        require_count(self.max_steps, "max_steps")?;
        require(
            self.log_every.checked_mul(10).is_some_and(|m| self.max_steps >= m),
            "max_steps",
            "expected >= 10 * log_every",
        )?;
        // runs() divides by log_every · max_points: a product that wraps to 0 would panic.
        require(
            self.log_every.checked_mul(self.max_points).is_some_and(|m| m <= MAX_COUNT),
            "max_points",
            format!("log_every ({}) × max_points ({}) must be at most 2^53", self.log_every, self.max_points),
        )?;
        require_f64(self.start_fraction, self.start_fraction > 0.0, "start_fraction", "> 0")?;
        require_f64(self.floor_fraction, self.floor_fraction > 0.0 && self.floor_fraction < 1.0, "floor_fraction", "0 < floor_fraction < 1")?;
        require_f64(self.diverge_factor, self.diverge_factor > 1.0, "diverge_factor", "> 1")?;
        require(
            (0.0..=1.0).contains(&self.min_success_share),
            "min_success_share",
            "expected 0 <= min_success_share <= 1",
        )?;
        // Sizes, before anything is allocated: the runs (at most every
        // cell), each draw's x, u, v in f64, and per run in the stacked
        // program its x row (n), u, v, their gradients and momenta (6d) in
        // f32 and its trace (max_points + 2 points of a u64 and an f64).
        let act = self.activations.len() as u64;
        let cells = (self.gammas.len() as u64)
            .checked_mul(self.lrs.len() as u64)
            .and_then(|g| g.checked_add((self.c_sweep_lrs.len() as u64).checked_mul(self.c_sweep.len() as u64)?));
        let cells = cells.ok_or(("lrs", "the number of cells overflows 64 bits".to_string()))?;
        let runs = within_runs(
            "noise_seeds",
            &[("activations", act), ("cells", cells), ("data_seeds", self.data_seeds.len() as u64), ("noise_seeds", self.noise_seeds)],
        )?;
        let (n, d) = (self.n as u64, self.d as u64);
        let row = n.saturating_add(d.saturating_mul(6));
        let draw = n.saturating_add(d.saturating_mul(2));
        within_memory(
            "n",
            &[
                &[("runs", runs), ("n + 6·d", row), ("", 4)],
                &[("data_seeds", self.data_seeds.len() as u64), ("n + 2·d", draw), ("", 8)],
                &[("runs", runs), ("max_points + 2", self.max_points.saturating_add(2)), ("", 16)],
            ],
        )?;
        // Every run must have β in [0, 1), and a unique id. The noise seeds
        // of a (cell, draw) share its β and differ only in their id's last
        // part (`-s{seed}`), so one seed checks them all.
        let mut ids = std::collections::HashSet::new();
        for run in (UvScale { noise_seeds: 1, ..self.clone() }).runs() {
            require(
                (0.0..1.0).contains(&run.beta),
                "lrs",
                format!("lr {} with gamma {} and C {:.4} (data seed {}) gives beta {}, outside [0, 1)", run.lr, run.gamma, run.c, run.data_seed, run.beta),
            )?;
            require(
                ids.insert(run.id.clone()),
                "c_sweep_gamma",
                format!("run id {} appears twice: a C-sweep cell (c_sweep_gamma, c_sweep) prints like a grid cell (gammas, c_over_c_star)", run.id),
            )?;
        }
        Ok(())
    }

    /// The data draws, in the order of `data_seeds`.
    pub fn draws(&self) -> Vec<Draw> {
        self.data_seeds
            .iter()
            .map(|&seed| {
                let data = UvInit::draw(self.d, self.n, seed);
                let sigma_x2 = data.sigma_x2();
                Draw { data_seed: seed, c_star: c_star(self.eps, sigma_x2, self.n, KAPPA), data, sigma_x2 }
            })
            .collect()
    }

    /// The window rule of the decay fit of a run.
    pub fn window(&self, run: &UvRun) -> WindowRule {
        WindowRule {
            skip_steps: self.skip_factor * run.tau1,
            start_fraction: self.start_fraction,
            floor_fraction: self.floor_fraction,
            diverge_factor: self.diverge_factor,
        }
    }

    /// The (activation, γ, η, C/C*) cells: the grid at `c_over_c_star`, then
    /// the C sweep where it is not already in the grid.
    pub fn cells(&self) -> Vec<(Activation, f64, f64, f64)> {
        let mut cells = Vec::new();
        for &act in &self.activations {
            for &gamma in &self.gammas {
                for &lr in &self.lrs {
                    cells.push((act, gamma, lr, self.c_over_c_star));
                }
            }
            for &lr in &self.c_sweep_lrs {
                for &f in &self.c_sweep {
                    let in_grid = same_value(f, self.c_over_c_star) && contains(&self.gammas, self.c_sweep_gamma) && contains(&self.lrs, lr);
                    if !in_grid {
                        cells.push((act, self.c_sweep_gamma, lr, f));
                    }
                }
            }
        }
        cells
    }

    /// Expands the cells into runs: per cell, every draw and noise seed.
    pub fn runs(&self) -> Vec<UvRun> {
        let draws = self.draws();
        let mut runs = Vec::new();
        for (activation, gamma, lr, factor) in self.cells() {
            for draw in &draws {
                let c = factor * draw.c_star;
                let beta = 1.0 - c * lr.powf(gamma);
                let t1 = tau1(beta);
                let t2 = tau2(lr, beta, self.eps, draw.sigma_x2, self.n, KAPPA);
                let planned = (self.run_length_multiple * t1.max(t2) + self.skip_factor * t1).ceil();
                let planned = if planned.is_finite() { (planned as u64).min(self.max_steps) } else { self.max_steps };
                let planned = planned.max(self.log_every);
                let log_every = self.log_every * planned.div_ceil(self.log_every * self.max_points).max(1);
                let steps = planned.div_ceil(log_every) * log_every;
                let c_tag = if same_value(factor, self.c_over_c_star) { String::new() } else { c_tag(factor) };
                for seed in 0..self.noise_seeds {
                    runs.push(UvRun {
                        id: format!("{}-d{}-{}-{}{c_tag}-s{seed}", activation.name(), draw.data_seed, gamma_tag(gamma), lr_tag(lr)),
                        activation,
                        gamma,
                        lr,
                        data_seed: draw.data_seed,
                        c_over_c_star: factor,
                        c,
                        beta,
                        noise_seed: draw.data_seed * NOISE_SEED_STRIDE + seed,
                        steps,
                        log_every,
                        tau1: t1,
                        tau2: t2,
                    });
                }
            }
        }
        runs
    }

    /// The jobs: one per (activation, η), whose runs (every draw, γ, C and
    /// seed) train as one stacked program; runs of one η have similar lengths.
    pub fn jobs(&self) -> Vec<Job> {
        let mut jobs: Vec<Job> = self
            .activations
            .iter()
            .flat_map(|act| self.lrs.iter().map(move |&lr| Job { id: format!("{}-{}", act.name(), lr_tag(lr)), runs: Vec::new() }))
            .collect();
        // One pass, in the order of runs() (a filter per job was quadratic).
        for run in self.runs() {
            let act = self.activations.iter().position(|&a| a == run.activation);
            let lr = self.lrs.iter().position(|&l| same_value(run.lr, l));
            if let (Some(a), Some(l)) = (act, lr) {
                jobs[a * self.lrs.len() + l].runs.push(run.id);
            }
        }
        jobs
    }
}

/// One run of the sweep, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UvRun {
    /// Unique, human-readable id: activation, draw, γ, η, C/C* (when off the grid's), seed.
    pub id: String,
    /// φ.
    pub activation: Activation,
    /// γ.
    pub gamma: f64,
    /// η.
    pub lr: f64,
    /// The data draw's seed.
    pub data_seed: u64,
    /// C as a multiple of this draw's C*.
    pub c_over_c_star: f64,
    /// C.
    pub c: f64,
    /// β = 1 − C η^γ.
    pub beta: f64,
    /// The label-noise stream (runs with the same seed see the same ξ; draws never share one).
    pub noise_seed: u64,
    /// Steps to train (a multiple of `log_every`).
    pub steps: u64,
    /// This run's recording interval (a multiple of the scale's `log_every`).
    pub log_every: u64,
    /// τ₁ = 1/(1 − β).
    pub tau1: f64,
    /// τ₂ of eq. (9) for the linear model.
    pub tau2: f64,
}

/// What a run recorded: ‖u‖² + ‖v‖² at steps 0, log_every, 2·log_every, …
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UvTrace {
    /// Recorded steps.
    pub steps: Vec<u64>,
    /// ‖u‖² + ‖v‖² at those steps.
    pub norm2: Vec<f64>,
}

/// The per-run result: the fitted decay time, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UvRunSummary {
    /// The run.
    pub run: UvRun,
    /// The fit, when the run decayed cleanly inside the window.
    pub fit: Option<DecayFitRecord>,
    /// Why there is no fit (diverged, never decays, too few points), or null.
    pub error: Option<String>,
    /// This run's share of its job's training time, seconds (the runs of a
    /// job train together), so that the sum over runs is the training time.
    #[serde(with = "crate::harness::real")]
    pub train_seconds: f64,
}

/// The parts of a [`DecayFit`] kept in results.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecayFitRecord {
    /// τ, steps.
    #[serde(with = "crate::harness::real")]
    pub tau: f64,
    /// Its standard error.
    #[serde(with = "crate::harness::real")]
    pub tau_stderr: f64,
    /// First and last step of the fit window.
    #[serde(with = "crate::harness::real::pair")]
    pub window: (f64, f64),
    /// Points in the window.
    pub points: usize,
    /// R² of the log-linear fit.
    #[serde(with = "crate::harness::real")]
    pub r2: f64,
}

impl From<DecayFit> for DecayFitRecord {
    fn from(f: DecayFit) -> Self {
        DecayFitRecord { tau: f.tau, tau_stderr: f.tau_stderr, window: (f.first_step, f.last_step), points: f.n_points(), r2: f.r2 }
    }
}

/// Fits one run's trace. A diverged or non-decaying run gets an error, never a τ.
pub fn fit_run(scale: &UvScale, run: &UvRun, trace: &UvTrace, train_seconds: f64) -> UvRunSummary {
    let steps: Vec<f64> = trace.steps.iter().map(|&k| k as f64).collect();
    match decay_time_fit(&steps, &trace.norm2, scale.window(run)) {
        Ok(fit) => UvRunSummary { run: run.clone(), fit: Some(fit.into()), error: None, train_seconds },
        Err(e) => UvRunSummary { run: run.clone(), fit: None, error: Some(e.to_string()), train_seconds },
    }
}

/// The UV / teacher–student experiment (Fig. 1, App. A) as the harness runs it.
pub struct UvExp;

impl Experiment for UvExp {
    const NAME: &'static str = "uv";
    const ABOUT: &'static str = "UV / teacher–student decay times against η and γ (Fig. 1, App. A)";
    type File = UvExperiment;
    type RunSummary = UvRunSummary;
    type Summary = UvSummary;

    #[cfg(feature = "train")]
    type Prepared = burn::tensor::Device;

    #[cfg(feature = "train")]
    fn prepare(ctx: &TrainCtx<'_, Self>) -> anyhow::Result<burn::tensor::Device> {
        Ok(ctx.backend.device()?)
    }

    #[cfg(feature = "train")]
    fn train_job(ctx: &TrainCtx<'_, Self>, device: &burn::tensor::Device, job: &Job) -> anyhow::Result<()> {
        train::train(ctx, device, job)
    }

    /// 1 µs per stacked step and run: the cpu scale's 7,182 runs took 223 s
    /// of training for 2.24e8 run-steps, one thread per job (2026-12-02).
    fn job_cost(scale: &UvScale, job: &Job) -> f64 {
        let steps: u64 = scale.runs().iter().filter(|r| job.runs.contains(&r.id)).map(|r| r.steps).sum();
        steps as f64 * 1.0e-6
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, runs: Vec<UvRunSummary>) -> anyhow::Result<UvSummary> {
        let mut summary = analyse(ctx.scale_name, ctx.scale, &ctx.file.rules, &ctx.file.choices, &runs, ctx.backend);
        summary.header.figures = figures::write_figures(&summary, ctx.out).context("writing the UV figures")?;
        Ok(summary)
    }

    fn header(summary: &UvSummary) -> &SummaryHeader {
        &summary.header
    }

    fn header_mut(summary: &mut UvSummary) -> &mut SummaryHeader {
        &mut summary.header
    }

    fn headline(summary: &UvSummary) -> String {
        format!("{} runs ({} fitted)", summary.runs, summary.runs_fitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale() -> UvScale {
        UvScale {
            d: 5,
            n: 10,
            eps: 0.1,
            c_over_c_star: 1.0,
            activations: vec![Activation::Linear],
            gammas: vec![0.5, 2.0 / 3.0, 0.75, 0.85],
            lrs: vec![1e-3, 1e-2, 2e-2],
            noise_seeds: 2,
            data_seeds: vec![0, 1, 2],
            c_sweep: vec![0.25, 0.5, 1.0, 2.0, 4.0],
            c_sweep_gamma: 2.0 / 3.0,
            c_sweep_lrs: vec![1e-3, 1e-2],
            run_length_multiple: 5.0,
            skip_factor: 8.0,
            max_steps: 1_000_000,
            log_every: 10,
            max_points: 200,
            start_fraction: 1000.0,
            floor_fraction: 1e-3,
            diverge_factor: 1e4,
            min_success_share: 0.5,
        }
    }

    fn rules() -> UvRules {
        UvRules {
            fixed: "test".into(),
            window: "test".into(),
            a_tol_left: 0.1,
            a_tol_right: 0.25,
            right_arm_from_gamma: 2.0 / 3.0,
            right_arm_min_z: 2.0,
            argmin_gamma_window: [0.55, 0.8],
            argmin_c_window: [0.5, 2.0],
            drift_min_tau_ratio: 10.0,
            drift_tol: 0.1,
        }
    }

    /// Every run's trace decays exactly as exp(−k/τ) with τ = `tau(run)`.
    fn synthetic(s: &UvScale, tau: impl Fn(&UvRun) -> f64) -> Vec<UvRunSummary> {
        s.runs()
            .iter()
            .map(|run| {
                let tau = tau(run);
                let steps: Vec<u64> = (0..=run.steps / run.log_every).map(|i| i * run.log_every).collect();
                let norm2 = steps.iter().map(|&k| 10.0 * (-(k as f64) / tau).exp()).collect();
                fit_run(s, run, &UvTrace { steps, norm2 }, 1.0)
            })
            .collect()
    }

    /// Run records whose fitted τ is `tau(run)` exactly (the analysis sees only records).
    fn records(s: &UvScale, tau: impl Fn(&UvRun) -> f64) -> Vec<UvRunSummary> {
        s.runs()
            .into_iter()
            .map(|run| {
                let fit = DecayFitRecord { tau: tau(&run), tau_stderr: 0.0, window: (0.0, 1.0), points: 100, r2: 1.0 };
                UvRunSummary { run, fit: Some(fit), error: None, train_seconds: 1.0 }
            })
            .collect()
    }

    fn rows<'a>(summary: &'a UvSummary, id: &str) -> Vec<&'a Criterion> {
        summary.header.criteria.iter().filter(|c| c.id == id).collect()
    }

    /// A draw-dependent prefactor (what a different x does to τ), never the exponent.
    fn draw_factor(run: &UvRun) -> f64 {
        1.0 + 0.3 * run.data_seed as f64
    }

    #[test]
    fn runs_follow_the_rule_and_are_unique() {
        let s = scale();
        let runs = s.runs();
        // 4 γ × 3 η on the grid, plus 4 off-grid C on 2 η (C/C* = 1 is the grid's), × 3 draws × 2 seeds.
        assert_eq!(runs.len(), (4 * 3 + 4 * 2) * 3 * 2);
        let ids: std::collections::BTreeSet<_> = runs.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids.len(), runs.len());
        let draws = s.draws();
        assert!(draws[0].c_star != draws[1].c_star, "each draw has its own C*");
        for r in &runs {
            let draw = draws.iter().find(|d| d.data_seed == r.data_seed).unwrap();
            assert!((1.0 - r.beta - r.c_over_c_star * draw.c_star * r.lr.powf(r.gamma)).abs() < 1e-12);
            assert_eq!(r.noise_seed / NOISE_SEED_STRIDE, r.data_seed, "draws never share a noise stream");
            assert!(r.steps as f64 >= s.run_length_multiple * r.tau1.max(r.tau2));
            assert_eq!(r.steps % r.log_every, 0);
            assert_eq!(r.log_every % s.log_every, 0);
            assert!(r.steps / r.log_every <= s.max_points + 1, "{} points", r.steps / r.log_every);
        }
        // Every run is in exactly one job.
        let in_jobs: usize = s.jobs().iter().map(|j| j.runs.len()).sum();
        assert_eq!(in_jobs, runs.len());
    }

    #[test]
    fn invalid_fields_are_named() {
        let mut s = scale();
        s.lrs = vec![1e-3, 1e-2, 100.0];
        let (field, msg) = s.validate().unwrap_err();
        assert_eq!(field, "lrs");
        assert!(msg.contains("outside [0, 1)"), "{msg}");
        let mut s = scale();
        s.c_sweep_lrs = vec![5e-3];
        assert_eq!(s.validate().unwrap_err().0, "c_sweep_lrs");
        let mut s = scale();
        s.data_seeds = vec![1, 1];
        assert_eq!(s.validate().unwrap_err().0, "data_seeds");
        let mut r = rules();
        r.argmin_c_window = [2.0, 0.5];
        assert_eq!(r.validate().unwrap_err().0, "argmin_c_window");
    }

    #[test]
    fn analysis_recovers_exponents_and_the_optimum_from_synthetic_traces() {
        // τ = g(draw) · h(C/C*) · η^{−a(γ)} with h(f) = f + 1/(2f²), minimal at
        // f = 1: the analysis must recover a(γ) on the pooled and on every
        // draw's τ, the right arm's slope 1, and C/C* ≈ 1.
        let s = scale();
        let h = |f: f64| f + 0.5 / (f * f);
        let results = synthetic(&s, |run| draw_factor(run) * h(run.c_over_c_star) * run.lr.powf(-exponent_a(run.gamma)));
        let summary = analyse(Scale::Smoke, &s, &rules(), &[], &results, "test");
        for e in &summary.exponents {
            let a = e.a.expect("fitted");
            assert!((a - e.a_theory).abs() < 0.02, "γ {}: a {a} vs {}", e.gamma, e.a_theory);
            assert_eq!(e.a_by_draw.len(), 3);
            assert!(e.a_by_draw.iter().all(|(_, a)| (a.unwrap() - e.a_theory).abs() < 0.02));
        }
        let c4 = rows(&summary, "C4");
        assert_eq!(c4.len(), 4 + 1);
        assert!(c4.iter().all(|c| c.holds == Some(true)), "{c4:?}");
        let arm = summary.right_arm.as_ref().unwrap();
        assert!((arm.slope - 1.0).abs() < 0.05, "{arm:?}");
        let c6 = rows(&summary, "C6");
        assert_eq!(c6.len(), 2);
        for c in c6 {
            let m = c.measured.unwrap();
            assert!((0.8..1.25).contains(&m) && c.holds == Some(true), "{c:?}");
        }
        // C5 is at the smallest η; the drift-dominated cells include C/C* = 4 at γ = 2/3 (τ₂/τ₁ = 64).
        assert_eq!(rows(&summary, "C5").len(), 1);
        assert!(summary.drift.iter().any(|d| same_value(d.c_over_c_star, 4.0)));
        assert!(summary.drift.iter().all(|d| d.tau_ratio_min >= 10.0));
        assert_eq!(rows(&summary, "C8").len(), summary.drift.len());
    }

    #[test]
    fn a_flat_right_arm_is_reported_as_not_positive() {
        // Negative control: a(γ) = 2/3 for every γ ≥ 2/3 (a constant that
        // passes both ±0.25 rows); the slope must come out ≈ 0 and fail.
        let s = scale();
        // Each seed's τ scatters by a deterministic ±20% (what label noise does).
        let jitter = |run: &UvRun| (0.2 * (1000.0 * run.lr + 37.0 * run.gamma + run.noise_seed as f64).sin()).exp();
        let results = records(&s, |run| jitter(run) * draw_factor(run) * run.lr.powf(-exponent_a(run.gamma.min(2.0 / 3.0))));
        let summary = analyse(Scale::Smoke, &s, &rules(), &[], &results, "test");
        let arm = rows(&summary, "C4").into_iter().find(|c| c.quantity.starts_with("slope")).unwrap().clone();
        assert!(arm.measured.unwrap().abs() < 0.1 && arm.uncertainty.unwrap() > 0.0, "{arm:?}");
        assert_eq!(arm.holds, Some(false));
        assert_eq!(arm.theory, Some(1.0));
    }

    #[test]
    fn an_optimum_at_four_c_star_is_reported_as_four_and_fails() {
        // Negative control: τ ∝ 1/C, so the smallest τ is at the grid's top, C = 4·C*.
        let s = scale();
        let results = records(&s, |run| draw_factor(run) * run.lr.powf(-exponent_a(run.gamma)) / run.c_over_c_star);
        let summary = analyse(Scale::Smoke, &s, &rules(), &[], &results, "test");
        let c6 = rows(&summary, "C6");
        assert_eq!(c6.len(), 2);
        for c in c6 {
            assert!(same_value(c.measured.unwrap(), 4.0), "{c:?}");
            assert_eq!(c.holds, Some(false));
        }
        // And an optimum over γ at the grid's edge (τ growing with γ) fails C5.
        let results = records(&s, |run| draw_factor(run) * run.lr.powf(-0.5) * (1.0 + 10.0 * run.gamma));
        let summary = analyse(Scale::Smoke, &s, &rules(), &[], &results, "test");
        let c5 = rows(&summary, "C5")[0].clone();
        assert_eq!((c5.measured, c5.holds), (Some(0.5), Some(false)));
    }

    #[test]
    fn the_slope_fit_recovers_known_slopes_and_errors() {
        let line: Vec<(f64, f64, Option<f64>)> = [0.7, 0.75, 0.8, 0.85].iter().map(|&g| (g, 2.0 * g - 0.3, Some(0.05))).collect();
        let (slope, se) = weighted_slope(&line).unwrap();
        assert!((slope - 2.0).abs() < 1e-9);
        // Exact points: the propagated error only, σ / √Σ(x − x̄)².
        let sxx: f64 = [0.7f64, 0.75, 0.8, 0.85].iter().map(|g| (g - 0.775).powi(2)).sum();
        assert!((se - 0.05 / sxx.sqrt()).abs() < 1e-9, "{se}");
        // Scatter beyond the errors inflates the error.
        let noisy: Vec<_> = line.iter().enumerate().map(|(i, p)| (p.0, p.1 + if i % 2 == 0 { 0.2 } else { -0.2 }, p.2)).collect();
        assert!(weighted_slope(&noisy).unwrap().1 > se * 2.0);
        assert!(weighted_slope(&line[..1]).is_none());
    }

    #[test]
    fn diverged_runs_are_reported_not_fitted() {
        let s = scale();
        let run = &s.runs()[0];
        let steps: Vec<u64> = (0..50).map(|i| i * 10).collect();
        let norm2 = steps.iter().map(|&k| (k as f64 / 10.0).exp()).collect();
        let summary = fit_run(&s, run, &UvTrace { steps, norm2 }, 1.0);
        assert!(summary.fit.is_none());
        assert!(summary.error.unwrap().to_lowercase().contains("diverge"));
    }
}

crate::harness::config::experiment_file!(UvExperiment, UvScale, rules);
