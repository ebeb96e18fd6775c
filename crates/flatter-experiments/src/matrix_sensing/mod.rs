//! Matrix sensing under label noise (App. A.2 and D): config,
//! runs and jobs, the speed of the Hessian-trace decrease, β* per η, C_opt
//! against the eq. (135) bound, epoch-wise double descent, and the criteria
//! of claims C9–C10.
//!
//! Protocol (our reconstruction; every value is in `experiments/matrix-sensing.toml`):
//! 1. Phase 1, once per data seed: noise-free heavy ball from a small random
//!    initialisation onto the valley (train loss ~ 0), at a sharp point.
//! 2. Phase 2, per (η, β): label-noise heavy ball (eq. 12) from that point;
//!    the Hessian trace (eq. 129) drifts down toward its valley minimum T*.
//!    Its *speed* is the first step at which a causal running mean of the
//!    trace falls below T* + f·(tr₀ − T*).
//! 3. Double descent: label-noise runs from a random initialisation at large
//!    β, where the test error (eq. 13) may dip, peak and fall again, each
//!    beside an ε = 0 control run (same data, init, η, β): a bump the control
//!    shows too is the heavy ball's own overshoot, not the label noise's.
//!
//! Every threshold a criterion uses is in the file's `[rules]` table
//! ([`MsRules`]); the scale tables hold only what is run.


mod analyse;
pub mod figures;
#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod train;

pub use analyse::*;
use flatter_theory::fit::argmin_parabola;
use flatter_theory::matrix_sensing::MsProblem;
use flatter_theory::timescales::c_bound_matrix_sensing;
use serde::{Deserialize, Serialize};

use crate::harness::{GAMMA_OPT, same_value};
pub use crate::harness::claims::Criterion;
use crate::harness::plan::{Job, run_dir};
use crate::harness::{AnalyseCtx, Experiment};
#[cfg(feature = "train")]
use crate::harness::TrainCtx;
use anyhow::Context as _;
use crate::harness::scale::Scale;
use crate::harness::claims::SummaryHeader;
pub use crate::harness::config::ConfigError;
use crate::harness::config::{Invalid, distinct_in_ids, require, require_count, require_each, require_f64, within_memory, within_runs};

/// One scale of the experiment. Every value that matters is here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsScale {
    /// Side d of Y* ∈ R^{d×d}.
    pub d: usize,
    /// Rank r of Y*.
    pub r: usize,
    /// Inner width h of U ∈ R^{d×h}, V ∈ R^{h×d} (h ≥ r: overparameterised).
    pub h: usize,
    /// Measurements n.
    pub n: usize,
    /// Label-noise standard deviation ε.
    pub eps: f64,
    /// Std of the i.i.d. Gaussian entries of U and V at initialisation (phase 1).
    pub init_sigma: f64,
    /// Phase 1: noise-free heavy ball learning rate…
    pub phase1_lr: f64,
    /// …momentum…
    pub phase1_beta: f64,
    /// …and steps.
    pub phase1_steps: usize,
    /// Phase 2 learning rates η.
    pub lrs: Vec<f64>,
    /// Phase 2 values of 1 − β, the same for every η (on and off the rule).
    pub one_minus_betas: Vec<f64>,
    /// Data seeds: each draws Y*, the A_i and the initialisation.
    pub data_seeds: Vec<u64>,
    /// Phase 2 steps.
    pub steps: u64,
    /// Observables every `log_every` steps.
    pub log_every: u64,
    /// The running mean at step k averages the trace over [(1 − smooth_fraction)k, k].
    pub smooth_fraction: f64,
    /// A trace above diverge_factor · tr₀ (or not finite) marks a run diverged.
    pub diverge_factor: f64,
    /// Double descent: std of the random initialisation…
    pub dd_init_sigma: f64,
    /// …learning rate…
    pub dd_lr: f64,
    /// …values of 1 − β…
    pub dd_one_minus_betas: Vec<f64>,
    /// …steps…
    pub dd_steps: u64,
    /// …and data seeds (a subset of data_seeds). Each run has an ε = 0 control.
    pub dd_seeds: Vec<u64>,
}

/// The thresholds of the criteria, fixed before the runs (`[rules]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsRules {
    /// When the rules were fixed, and what changed since (and why).
    pub fixed: String,
    /// The speed level T* + level_fraction · (tr₀ − T*) the C9/C10 verdicts use.
    pub level_fraction: f64,
    /// Fractions at which C_opt is also shown (notes, no verdict).
    pub level_fractions_shown: Vec<f64>,
    /// C9: the share of η with an interior optimum that must be reached.
    pub interior_share: f64,
    /// C9 double descent: the bump is searched after the train loss falls below this fraction of its step-0 value.
    pub dd_fit_fraction: f64,
    /// C9 double descent: the ratio (peak over both the earlier dip and the later minimum) must exceed this…
    pub dd_min_ratio: f64,
    /// …and be at least this multiple of max(1, the ε = 0 control's ratio)…
    pub dd_control_margin: f64,
    /// …in at least this share of the data seeds.
    pub dd_seed_share: f64,
    /// C10 slope: |slope − 2/3| < slope_tolerance + slope_se_factor · SE…
    pub slope_tolerance: f64,
    /// …(the factor on the standard error)…
    pub slope_se_factor: f64,
    /// …measured only with interior cells at this many distinct η.
    pub slope_min_etas: usize,
    /// C10: c_opt_lower_fraction · bound ≤ C_opt ≤ bound.
    pub c_opt_lower_fraction: f64,
}

impl MsRules {
    /// Checks every field; the error names the field and the expectation.
    pub fn validate(&self) -> Result<(), Invalid> {
        let frac = |f: f64| f > 0.0 && f < 1.0;
        require(!self.fixed.trim().is_empty(), "fixed", "expected when the rules were fixed")?;
        require(frac(self.level_fraction), "level_fraction", "expected 0 < f < 1")?;
        require(self.level_fractions_shown.iter().all(|f| frac(*f)), "level_fractions_shown", "expected values in (0, 1)")?;
        require(self.interior_share > 0.0 && self.interior_share <= 1.0, "interior_share", "expected 0 < share <= 1")?;
        require(frac(self.dd_fit_fraction), "dd_fit_fraction", "expected 0 < f < 1")?;
        require(self.dd_min_ratio > 1.0, "dd_min_ratio", "expected > 1")?;
        require(self.dd_control_margin >= 1.0, "dd_control_margin", "expected >= 1")?;
        require(self.dd_seed_share > 0.0 && self.dd_seed_share <= 1.0, "dd_seed_share", "expected 0 < share <= 1")?;
        require(self.slope_tolerance > 0.0, "slope_tolerance", "expected > 0")?;
        require(self.slope_se_factor >= 0.0, "slope_se_factor", "expected >= 0")?;
        require(self.slope_min_etas >= 2, "slope_min_etas", "expected >= 2")?;
        require(frac(self.c_opt_lower_fraction), "c_opt_lower_fraction", "expected 0 < f < 1")?;
        Ok(())
    }

    /// The level fractions to show: `level_fractions_shown` and `level_fraction`, sorted, without repeats.
    pub fn fractions(&self) -> Vec<f64> {
        let mut fs = self.level_fractions_shown.clone();
        fs.push(self.level_fraction);
        fs.sort_by(f64::total_cmp);
        fs.dedup_by(|a, b| same_value(*a, *b));
        fs
    }
}

/// Reads `[rules]` and validates it, so a bad rule fails at load naming its field.
fn checked_rules<'de, D: serde::Deserializer<'de>>(d: D) -> Result<MsRules, D::Error> {
    let rules = MsRules::deserialize(d)?;
    rules.validate().map_err(|(field, message)| serde::de::Error::custom(format!("[rules] {field}: {message}")))?;
    Ok(rules)
}

/// The experiment file `experiments/matrix-sensing.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsExperiment {
    /// The experiment's name.
    pub name: String,
    /// What it reproduces.
    pub reproduces: String,
    /// Our choices where the paper gives none.
    pub choices: Vec<String>,
    /// The criteria's thresholds, fixed before the runs.
    #[serde(deserialize_with = "checked_rules")]
    pub rules: MsRules,
    /// How its jobs share the machine (`[schedule]`, issue 18).
    #[serde(default)]
    pub schedule: crate::harness::Schedule,
    /// Seconds.
    pub smoke: MsScale,
    /// Minutes on 2 cores.
    pub cpu: MsScale,
    /// The paper's (unknown) scale, larger.
    pub paper: MsScale,
}



/// Noise seeds are `data_seed · 1e6 + offset`: phase-2 runs take offsets
/// `i · 1000 + j` (η index i, 1 − β index j), double-descent runs `900_000 + j`.
const NOISE_SEED_STRIDE: u64 = 1_000_000;

/// η as run ids print it.
fn lr_tag(lr: f64) -> String {
    format!("lr{lr:.3e}")
}

/// 1 − β as run ids print it.
fn omb_tag(omb: f64) -> String {
    format!("omb{omb:.3e}")
}

impl MsScale {
    /// Checks every field; the error names the field and the expectation.
    /// Every float is finite and in range, every size is bounded by the
    /// memory it implies, every integer product is checked, and no two runs
    /// share an id or a noise stream (issue 17).
    pub fn validate(&self) -> Result<(), Invalid> {
        let unit = |x: f64| x > 0.0 && x <= 1.0;
        require(self.d >= 2, "d", "expected d >= 2")?;
        require(self.r >= 1 && self.r <= self.d, "r", "expected 1 <= r <= d")?;
        require(self.h >= self.r, "h", "expected h >= r")?;
        require(self.n >= 1, "n", "expected n >= 1")?;
        require_f64(self.eps, self.eps > 0.0, "eps", "eps > 0")?;
        require_f64(self.init_sigma, self.init_sigma > 0.0, "init_sigma", "> 0")?;
        require_f64(self.phase1_lr, self.phase1_lr > 0.0, "phase1_lr", "> 0")?;
        require_f64(self.phase1_beta, (0.0..1.0).contains(&self.phase1_beta), "phase1_beta", "0 <= beta < 1")?;
        require(!self.lrs.is_empty(), "lrs", "expected at least one value, each > 0")?;
        require_each(&self.lrs, |l| l > 0.0, "lrs", "at least one value, each > 0")?;
        distinct_in_ids("lrs", self.lrs.iter().map(|&l| lr_tag(l)))?;
        require(self.one_minus_betas.len() >= 3, "one_minus_betas", "expected at least 3 values in (0, 1]")?;
        require_each(&self.one_minus_betas, unit, "one_minus_betas", "at least 3 values in (0, 1]")?;
        distinct_in_ids("one_minus_betas", self.one_minus_betas.iter().map(|&o| omb_tag(o)))?;
        // Distinct noise streams: i · 1000 + j < 900_000 <= 900_000 + j < 1e6.
        require(self.lrs.len() <= 900, "lrs", format!("{} values: expected at most 900 (each run's noise seed is data_seed · 1e6 + η index · 1000 + 1 − β index)", self.lrs.len()))?;
        require(self.one_minus_betas.len() <= 1000, "one_minus_betas", format!("{} values: expected at most 1000 (noise seeds are data_seed · 1e6 + η index · 1000 + 1 − β index)", self.one_minus_betas.len()))?;
        require(!self.data_seeds.is_empty(), "data_seeds", "expected at least one seed")?;
        distinct_in_ids("data_seeds", self.data_seeds.iter().map(|s| s.to_string()))?;
        require(
            self.data_seeds.iter().all(|&s| s < u64::MAX / NOISE_SEED_STRIDE - 1),
            "data_seeds",
            "expected seeds below 2^64 / 1e6 (noise seeds are data_seed · 1e6 + offset)",
        )?;
        require(self.log_every >= 1, "log_every", "expected >= 1")?;
        require_count(self.steps, "steps")?;
        require(self.log_every.checked_mul(10).is_some_and(|m| self.steps >= m) && self.steps.is_multiple_of(self.log_every), "steps", "expected a multiple of log_every, >= 10 * log_every")?;
        require_f64(self.smooth_fraction, (0.0..1.0).contains(&self.smooth_fraction), "smooth_fraction", "0 <= f < 1")?;
        require_f64(self.diverge_factor, self.diverge_factor > 1.0, "diverge_factor", "> 1")?;
        require_f64(self.dd_init_sigma, self.dd_init_sigma > 0.0, "dd_init_sigma", "> 0")?;
        require_f64(self.dd_lr, self.dd_lr > 0.0, "dd_lr", "> 0")?;
        require_each(&self.dd_one_minus_betas, unit, "dd_one_minus_betas", "values in (0, 1]")?;
        distinct_in_ids("dd_one_minus_betas", self.dd_one_minus_betas.iter().map(|&o| omb_tag(o)))?;
        require(self.dd_one_minus_betas.len() <= 100_000, "dd_one_minus_betas", "expected at most 100000 values (noise seeds are data_seed · 1e6 + 900000 + index)")?;
        require_count(self.dd_steps, "dd_steps")?;
        require(self.dd_steps.is_multiple_of(self.log_every) && self.log_every.checked_mul(10).is_some_and(|m| self.dd_steps >= m), "dd_steps", "expected a multiple of log_every, >= 10 * log_every")?;
        require(self.dd_seeds.iter().all(|s| self.data_seeds.contains(s)), "dd_seeds", "expected a subset of data_seeds")?;
        distinct_in_ids("dd_seeds", self.dd_seeds.iter().map(|s| s.to_string()))?;
        // Sizes, before anything is allocated: the problem (the n
        // measurements A_i, d × d each, in f64 and again in f32 on the
        // device), per run U and V with their gradients and momenta (6·d·h
        // in f32), and every run's trace (steps / log_every + 1 points of a
        // step and three f64).
        let grid = within_runs(
            "lrs",
            &[("data_seeds", self.data_seeds.len() as u64), ("lrs", self.lrs.len() as u64), ("one_minus_betas", self.one_minus_betas.len() as u64)],
        )?;
        let dd = within_runs("dd_one_minus_betas", &[("2 (with controls)", 2), ("dd_seeds", self.dd_seeds.len() as u64), ("dd_one_minus_betas", self.dd_one_minus_betas.len() as u64)])?;
        let (n, d, h) = (self.n as u64, self.d as u64, self.h as u64);
        within_memory(
            "n",
            &[
                &[("n", n), ("d", d), ("d", d), ("", 12)],
                &[("runs", grid.saturating_add(dd)), ("6", 6), ("d", d), ("h", h), ("", 4)],
                &[("phase-2 runs", grid), ("steps / log_every + 1", self.steps / self.log_every + 1), ("", 32)],
                &[("double-descent runs", dd), ("dd_steps / log_every + 1", self.dd_steps / self.log_every + 1), ("", 32)],
            ],
        )?;
        Ok(())
    }

    /// C of eq. (135) with ⟨A²⟩ = 1 (standard Gaussian measurements).
    pub fn c_bound(&self) -> f64 {
        c_bound_matrix_sensing(self.eps, 1.0, self.d, self.n)
    }

    /// The problem of a data seed.
    pub fn problem(&self, data_seed: u64) -> MsProblem {
        MsProblem::draw(self.d, self.r, self.n, data_seed)
    }

    /// The seed of a data seed's initialisations (distinct from its data stream).
    pub fn init_seed(data_seed: u64) -> u64 {
        data_seed.wrapping_add(1_000_000)
    }

    /// Every run: phase-2 runs by seed, η, 1 − β; then the double-descent runs; then their ε = 0 controls.
    pub fn runs(&self) -> Vec<MsRun> {
        let mut runs = Vec::new();
        for &seed in &self.data_seeds {
            for (i, &lr) in self.lrs.iter().enumerate() {
                for (j, &omb) in self.one_minus_betas.iter().enumerate() {
                    runs.push(MsRun {
                        id: format!("p2-s{seed}-{}-{}", lr_tag(lr), omb_tag(omb)),
                        kind: RunKind::Phase2,
                        data_seed: seed,
                        lr,
                        beta: 1.0 - omb,
                        noise_seed: seed * NOISE_SEED_STRIDE + (i * 1000 + j) as u64,
                        steps: self.steps,
                    });
                }
            }
        }
        for &seed in &self.dd_seeds {
            for (j, &omb) in self.dd_one_minus_betas.iter().enumerate() {
                runs.push(MsRun {
                    id: format!("dd-s{seed}-{}-{}", lr_tag(self.dd_lr), omb_tag(omb)),
                    kind: RunKind::DoubleDescent,
                    data_seed: seed,
                    lr: self.dd_lr,
                    beta: 1.0 - omb,
                    noise_seed: seed * NOISE_SEED_STRIDE + 900_000 + j as u64,
                    steps: self.dd_steps,
                });
            }
        }
        // The controls: the same data, init, η, β, steps and noise seed, run at ε = 0.
        let controls: Vec<MsRun> = runs
            .iter()
            .filter(|r| r.kind == RunKind::DoubleDescent)
            .map(|r| MsRun { id: format!("ddc{}", &r.id[2..]), kind: RunKind::DdControl, ..r.clone() })
            .collect();
        runs.extend(controls);
        runs
    }

    /// One job per (kind, data seed): its runs share the data and the starting point.
    pub fn jobs(&self) -> Vec<Job> {
        let runs = self.runs();
        let mut jobs = Vec::new();
        for kind in [RunKind::Phase2, RunKind::DoubleDescent, RunKind::DdControl] {
            for &seed in &self.data_seeds {
                let ids: Vec<String> =
                    runs.iter().filter(|r| r.kind == kind && r.data_seed == seed).map(|r| r.id.clone()).collect();
                if !ids.is_empty() {
                    let prefix = match kind {
                        RunKind::Phase2 => "p2",
                        RunKind::DoubleDescent => "dd",
                        RunKind::DdControl => "ddc",
                    };
                    jobs.push(Job { id: format!("{prefix}-s{seed}"), runs: ids });
                }
            }
        }
        jobs
    }
}

/// What a run is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Label noise from the phase-1 point on the valley: the speed of the trace decrease.
    Phase2,
    /// Label noise from a random initialisation: the test-error curve.
    DoubleDescent,
    /// A double-descent run without label noise (ε = 0): its control.
    DdControl,
}

impl RunKind {
    /// Whether the run trains with label noise (every kind but the control).
    pub fn noisy(self) -> bool {
        self != RunKind::DdControl
    }
}

/// One run, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MsRun {
    /// Unique id.
    pub id: String,
    /// Phase 2 or double descent.
    pub kind: RunKind,
    /// The data seed.
    pub data_seed: u64,
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// The label-noise stream's seed.
    pub noise_seed: u64,
    /// Steps.
    pub steps: u64,
}

/// A run's record: the observables at steps 0, log_every, …
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MsTrace {
    /// Recorded steps.
    pub steps: Vec<u64>,
    /// Noise-free train loss.
    pub train_loss: Vec<f64>,
    /// tr ∇²L (eq. 129).
    pub hessian_trace: Vec<f64>,
    /// ‖UV − Y*‖²_F.
    pub test_error: Vec<f64>,
}

impl MsTrace {
    /// As CSV: `step,train_loss,hessian_trace,test_error`.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("step,train_loss,hessian_trace,test_error\n");
        for i in 0..self.steps.len() {
            s.push_str(&format!("{},{:e},{:e},{:e}\n", self.steps[i], self.train_loss[i], self.hessian_trace[i], self.test_error[i]));
        }
        s
    }

    /// Parses [`MsTrace::to_csv`]; the error names the line.
    pub fn from_csv(text: &str) -> Result<MsTrace, String> {
        let mut t = MsTrace { steps: vec![], train_loss: vec![], hessian_trace: vec![], test_error: vec![] };
        let mut lines = text.lines();
        if lines.next() != Some("step,train_loss,hessian_trace,test_error") {
            return Err("line 1: expected the header step,train_loss,hessian_trace,test_error".into());
        }
        for (i, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || format!("line {}: expected 4 numbers, got {line:?}", i + 2);
            if f.len() != 4 {
                return Err(bad());
            }
            t.steps.push(f[0].parse().map_err(|_| bad())?);
            t.train_loss.push(f[1].parse().map_err(|_| bad())?);
            t.hessian_trace.push(f[2].parse().map_err(|_| bad())?);
            t.test_error.push(f[3].parse().map_err(|_| bad())?);
        }
        Ok(t)
    }
}

/// An epoch-wise double descent: dip, peak, later minimum of the (log-smoothed) test error.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoubleDescent {
    /// Step and value of the dip before the peak.
    pub dip: (u64, f64),
    /// Step and value of the peak.
    pub peak: (u64, f64),
    /// Step and value of the lowest point after the peak.
    pub later: (u64, f64),
    /// min(peak/dip, peak/later).
    pub ratio: f64,
}

/// A run's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MsRunSummary {
    /// The run.
    pub run: MsRun,
    /// T* of its problem.
    #[serde(with = "crate::harness::real")]
    pub t_star: f64,
    /// Hessian trace at step 0.
    #[serde(with = "crate::harness::real")]
    pub trace0: f64,
    /// Final trace / T*.
    #[serde(with = "crate::harness::real::option")]
    pub final_trace_ratio: Option<f64>,
    /// Final test error.
    #[serde(with = "crate::harness::real::option")]
    pub final_test_error: Option<f64>,
    /// The step at which the run diverged, if it did.
    pub diverged_at: Option<u64>,
    /// This run's share of its job's training time, seconds.
    #[serde(with = "crate::harness::real")]
    pub train_seconds: f64,
}

/// The first index at which `values` is not finite or exceeds `limit`.
fn divergence(values: &[f64], limit: f64) -> Option<usize> {
    values.iter().position(|v| !v.is_finite() || *v > limit)
}

/// The first step k at which the mean of the trace over [(1 − frac)k, k] is below `level`.
pub fn steps_to_level(steps: &[u64], trace: &[f64], level: f64, frac: f64) -> Option<u64> {
    let mut prefix = vec![0.0];
    for v in trace {
        prefix.push(prefix.last().unwrap() + v);
    }
    let mut lo = 0;
    for (i, &k) in steps.iter().enumerate() {
        let from = (1.0 - frac) * k as f64;
        while (steps[lo] as f64) < from {
            lo += 1;
        }
        let mean = (prefix[i + 1] - prefix[lo]) / (i + 1 - lo) as f64;
        if mean < level {
            return Some(k);
        }
    }
    None
}

/// The strongest dip–peak–dip of a curve smoothed over ±15% in log-step.
pub fn double_descent(steps: &[u64], values: &[f64]) -> Option<DoubleDescent> {
    let n = values.len();
    if n < 3 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let sm: Vec<f64> = (0..n)
        .map(|i| {
            let s = steps[i] as f64;
            let (lo, hi) = (s / 1.15, s * 1.15);
            let w: Vec<f64> = (0..n).filter(|&j| (steps[j] as f64) >= lo && (steps[j] as f64) <= hi).map(|j| values[j]).collect();
            w.iter().sum::<f64>() / w.len() as f64
        })
        .collect();
    let mut prefix = vec![(0, f64::INFINITY); n];
    let mut cur = (0, f64::INFINITY);
    for i in 0..n {
        if sm[i] < cur.1 {
            cur = (i, sm[i]);
        }
        prefix[i] = cur;
    }
    let mut suffix = vec![(n - 1, f64::INFINITY); n];
    let mut cur = (n - 1, f64::INFINITY);
    for i in (0..n).rev() {
        if sm[i] < cur.1 {
            cur = (i, sm[i]);
        }
        suffix[i] = cur;
    }
    let mut best: Option<DoubleDescent> = None;
    for j in 1..n - 1 {
        let ((id, dip), (il, later)) = (prefix[j - 1], suffix[j + 1]);
        let ratio = (sm[j] / dip).min(sm[j] / later);
        if best.is_none_or(|b| ratio > b.ratio) {
            best = Some(DoubleDescent { dip: (steps[id], dip), peak: (steps[j], sm[j]), later: (steps[il], later), ratio });
        }
    }
    best
}

/// The strongest bump of the test error after the fit: the curve from the
/// first record at which the (noise-free) train loss is at most
/// `fit_fraction` times its step-0 value, through [`double_descent`]. A bump
/// during the initial descent (the heavy ball's overshoot from a random
/// initialisation) is thereby never counted. Returns the step at which the
/// fit is reached, and the bump (None when the fit is never reached or fewer
/// than 3 records follow it).
pub fn double_descent_after_fit(trace: &MsTrace, fit_fraction: f64) -> (Option<u64>, Option<DoubleDescent>) {
    let l0 = match trace.train_loss.first() {
        Some(l) if l.is_finite() && *l > 0.0 => *l,
        _ => return (None, None),
    };
    let Some(i0) = trace.train_loss.iter().position(|l| *l <= fit_fraction * l0) else { return (None, None) };
    (Some(trace.steps[i0]), double_descent(&trace.steps[i0..], &trace.test_error[i0..]))
}

/// Summarises one run from its trace (the rule-free part; the analysis reads
/// the rule-dependent speeds and bumps from the trace itself).
pub fn summarise_run(scale: &MsScale, run: &MsRun, t_star: f64, trace: &MsTrace, train_seconds: f64) -> MsRunSummary {
    let tr0 = trace.hessian_trace.first().copied().unwrap_or(f64::NAN);
    let div = divergence(&trace.hessian_trace, scale.diverge_factor * tr0);
    let upto = div.unwrap_or(trace.steps.len());
    let tail = |xs: &[f64]| {
        let k = (upto / 10).max(1);
        (div.is_none() && upto > 0).then(|| xs[upto - k..upto].iter().sum::<f64>() / k as f64)
    };
    MsRunSummary {
        run: run.clone(),
        t_star,
        trace0: tr0,
        final_trace_ratio: tail(&trace.hessian_trace).map(|t| t / t_star),
        final_test_error: tail(&trace.test_error),
        diverged_at: div.map(|i| trace.steps[i]),
        train_seconds,
    }
}

/// Matrix sensing (App. A.2, D) as the harness runs it.
pub struct MsExp;

impl Experiment for MsExp {
    const NAME: &'static str = "matrix-sensing";
    const ABOUT: &'static str = "Matrix sensing: the optimal β, C against its bound, double descent (App. A.2, D)";
    type File = MsExperiment;
    type RunSummary = MsRunSummary;
    type Summary = MsSummary;

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

    /// 15 µs per stacked step and run: the cpu scale's 177 runs took 10 s
    /// of training for 6.6e5 run-steps, one thread per job (2026-12-02).
    fn job_cost(scale: &MsScale, job: &Job) -> f64 {
        let steps: u64 = scale.runs().iter().filter(|r| job.runs.contains(&r.id)).map(|r| r.steps).sum();
        steps as f64 * 15e-6
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, runs: Vec<MsRunSummary>) -> anyhow::Result<MsSummary> {
        let load = |run: &MsRun| {
            std::fs::read_to_string(run_dir(ctx.out, &run.id).join("metrics.csv")).ok().and_then(|t| MsTrace::from_csv(&t).ok())
        };
        let mut summary = analyse(ctx.scale_name, ctx.scale, &ctx.file.rules, &ctx.file.choices, &runs, &load, ctx.backend);
        summary.header.figures =
            figures::write_figures(&summary, &ctx.scale.runs(), ctx.out, load).context("writing the matrix-sensing figures")?;
        Ok(summary)
    }

    fn header(summary: &MsSummary) -> &SummaryHeader {
        &summary.header
    }

    fn header_mut(summary: &mut MsSummary) -> &mut SummaryHeader {
        &mut summary.header
    }

    fn headline(s: &MsSummary) -> String {
        format!("C_opt {} vs bound {:.4}, {} runs diverged", s.c_opt.map_or("-".into(), |c| format!("{c:.4}")), s.c_bound, s.diverged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_to_level_uses_the_causal_running_mean() {
        let steps: Vec<u64> = (0..=10).map(|k| k * 10).collect();
        // Falls linearly from 10 to 0.
        let trace: Vec<f64> = (0..=10).map(|k| 10.0 - k as f64).collect();
        assert_eq!(steps_to_level(&steps, &trace, 5.5, 0.0), Some(50));
        // A mean over [0.8k, k] lags: at k = 60 the window holds 50, 60 → 4.5.
        assert_eq!(steps_to_level(&steps, &trace, 4.6, 0.2), Some(60));
        assert_eq!(steps_to_level(&steps, &trace, -1.0, 0.2), None);
    }

    #[test]
    fn a_double_descent_is_found_and_a_monotone_curve_scores_at_most_one() {
        let steps: Vec<u64> = (1..=400).collect();
        let bump: Vec<f64> =
            steps.iter().map(|&k| { let x = k as f64; 1.0 / x.sqrt() + 0.5 * (-((x - 100.0) / 20.0).powi(2)).exp() }).collect();
        let dd = double_descent(&steps, &bump).unwrap();
        assert!(dd.ratio > 2.0 && (80..=120).contains(&dd.peak.0), "{dd:?}");
        let mono: Vec<f64> = steps.iter().map(|&k| 1.0 / k as f64).collect();
        assert!(double_descent(&steps, &mono).unwrap().ratio <= 1.0);
    }

    #[test]
    fn the_speed_optimum_is_interior_only_when_bracketed() {
        let grid = [1.0, 0.3, 0.1, 0.03, 0.01];
        // ln t is a parabola in ln(1 − β) with its vertex at 1 − β = 0.1.
        let times: Vec<Option<f64>> = grid.iter().map(|o: &f64| Some(100.0 * (o.ln() - 0.1f64.ln()).powi(2).exp())).collect();
        let c = speed_curve(0.05, None, &grid, &times);
        assert!(c.interior);
        assert!((c.one_minus_beta_star.unwrap() / 0.1 - 1.0).abs() < 1e-9, "{c:?}");
        assert!((c.c_opt.unwrap() - 0.1 / 0.05f64.powf(2.0 / 3.0)).abs() < 1e-9);
        // Monotone: the optimum sits at the edge.
        let mono: Vec<Option<f64>> = grid.iter().map(|o| Some(100.0 * o)).collect();
        let c = speed_curve(0.05, None, &grid, &mono);
        assert!(!c.interior && c.c_opt.is_none());
        // A neighbour that never reached the level does not bracket.
        let mut holes = times.clone();
        holes[3] = None;
        assert!(!speed_curve(0.05, None, &grid, &holes).interior);
    }

    fn rules() -> MsRules {
        MsRules {
            fixed: "test".into(),
            level_fraction: 0.05,
            level_fractions_shown: vec![0.02, 0.1],
            interior_share: 1.0,
            dd_fit_fraction: 0.01,
            dd_min_ratio: 1.2,
            dd_control_margin: 1.2,
            dd_seed_share: 0.66,
            slope_tolerance: 0.15,
            slope_se_factor: 2.0,
            slope_min_etas: 3,
            c_opt_lower_fraction: 0.25,
        }
    }

    /// A trace on steps 0, 5, …, 2000: the train loss falls as e^(−k/50)
    /// (below 1% of its start at k ≈ 230), the test error is `test(k)`.
    fn trace(test: impl Fn(f64) -> f64) -> MsTrace {
        let steps: Vec<u64> = (0..=400).map(|i| i * 5).collect();
        MsTrace {
            train_loss: steps.iter().map(|&k| 16.0 * (-(k as f64) / 50.0).exp()).collect(),
            hessian_trace: steps.iter().map(|_| 1.0).collect(),
            test_error: steps.iter().map(|&k| test(k as f64)).collect(),
            steps,
        }
    }

    fn bump(k: f64, at: f64, width: f64, height: f64) -> f64 {
        height * (-((k - at) / width).powi(2)).exp()
    }

    #[test]
    fn no_double_descent_on_a_monotone_curve_or_an_overshoot_the_control_shares() {
        let r = rules();
        // Monotone decrease, noise and control alike: nothing counts.
        let mono = trace(|k| 30.0 / (1.0 + k));
        let cell = dd_cell(&r, 0.01, 1, Some(&mono), Some(&mono));
        assert!(!cell.passes && cell.noise.is_some_and(|d| d.ratio <= 1.0), "{cell:?}");
        // A pure underdamped overshoot during the initial descent (peak at
        // step 70, train loss still ~ 0.25 of its start), the same with and
        // without noise: the fit-blind detector sees a strong bump, the rule does not count it.
        let overshoot = trace(|k| 30.0 / (1.0 + k) + bump(k, 70.0, 20.0, 2.0));
        assert!(double_descent(&overshoot.steps, &overshoot.test_error).unwrap().ratio > 2.0);
        let cell = dd_cell(&r, 0.01, 1, Some(&overshoot), Some(&overshoot));
        assert!(!cell.passes, "{cell:?}");
        assert!(cell.noise_fit_step.is_some_and(|k| k > 70 + 40), "{cell:?}");
        // A bump after the fit that the ε = 0 control shows just as much: not the label noise's.
        let late = trace(|k| 30.0 / (1.0 + k) + bump(k, 800.0, 150.0, 0.2));
        let cell = dd_cell(&r, 0.01, 1, Some(&late), Some(&late));
        assert!(cell.noise.is_some_and(|d| d.ratio > 1.2) && !cell.passes, "{cell:?}");
        // No control, or a control that never fits: cannot count.
        assert!(!dd_cell(&r, 0.01, 1, Some(&late), None).passes);
        let mut unfit = mono.clone();
        unfit.train_loss.iter_mut().for_each(|l| *l = 16.0);
        assert!(!dd_cell(&r, 0.01, 1, Some(&late), Some(&unfit)).passes);
    }

    #[test]
    fn a_late_bump_that_shrinks_without_noise_is_a_double_descent() {
        let r = rules();
        let noise = trace(|k| 30.0 / (1.0 + k) + bump(k, 800.0, 150.0, 0.2));
        let control = trace(|k| 30.0 / (1.0 + k));
        let cell = dd_cell(&r, 0.01, 1, Some(&noise), Some(&control));
        assert!(cell.passes, "{cell:?}");
        let d = cell.noise.unwrap();
        assert!((600..=1000).contains(&d.peak.0) && d.dip.0 >= cell.noise_fit_step.unwrap(), "{d:?}");
        // Per β, the share of seeds that pass.
        let cells = vec![cell.clone(), DdCell { data_seed: 2, passes: false, ..cell.clone() }, DdCell { one_minus_beta: 0.02, ..cell }];
        assert_eq!(dd_shares(&[0.01, 0.02], &[1, 2], &cells), vec![(0.01, 0.5), (0.02, 0.5)]);
    }

    #[test]
    fn the_slope_finds_the_exponent_it_was_given() {
        // β* ∝ η¹ with a seed scatter: slope ≈ 1, not 2/3.
        let jitter = [1.0, 1.05, 0.95];
        let cells: Vec<(f64, f64)> =
            [0.025, 0.05, 0.1].iter().flat_map(|&lr| jitter.iter().map(move |j| (lr, 2.0 * lr * j))).collect();
        let s = beta_star_slope(&cells).unwrap();
        assert!((s.slope - 1.0).abs() < 0.05 && s.se > 0.0 && s.se < 0.1 && s.etas == 3 && s.cells == 9, "{s:?}");
        assert!((s.slope - GAMMA_OPT).abs() > 0.15 + 2.0 * s.se);
        // Exactly η^(2/3): slope 2/3, SE 0.
        let exact: Vec<(f64, f64)> = [0.025, 0.05, 0.1].iter().map(|&lr: &f64| (lr, 0.2 * lr.powf(2.0 / 3.0))).collect();
        let s = beta_star_slope(&exact).unwrap();
        assert!((s.slope - GAMMA_OPT).abs() < 1e-9 && s.se < 1e-9, "{s:?}");
        // One η: no slope.
        assert!(beta_star_slope(&[(0.05, 0.1), (0.05, 0.11), (0.05, 0.09)]).is_none());
    }

    #[test]
    fn speed_at_level_recovers_beta_star_its_slope_and_c_per_fraction() {
        let grid: Vec<f64> = (0..17).map(|i| 0.75f64.powi(i)).collect();
        let scale = MsScale { one_minus_betas: grid, lrs: vec![0.025, 0.05, 0.1], data_seeds: vec![1, 2], ..experiment_cpu() };
        // ln t is a parabola in ln(1 − β) with vertex 1 − β* = c(f)·η¹: γ = 1, and C moves with f.
        let time = |_seed: u64, lr: f64, omb: f64, f: f64| {
            let star = (0.5 + f) * lr;
            Some((1e6 * (4.0 * (omb.ln() - star.ln()).powi(2)).exp()) as u64)
        };
        let a = speed_at_level(&scale, 0.02, &time);
        let b = speed_at_level(&scale, 0.1, &time);
        assert_eq!(a.interior_cells, (6, 6));
        let sa = a.slope.unwrap();
        assert!((sa.slope - 1.0).abs() < 0.05, "{sa:?}");
        for c in &a.curves {
            let want = 0.52 * c.lr;
            assert!((c.one_minus_beta_star.unwrap() / want - 1.0).abs() < 0.05, "{c:?}");
        }
        // C_opt = (1 − β*)/η^(2/3) grows with f here as c(f) does.
        let ratio = b.c_opt.unwrap() / a.c_opt.unwrap();
        assert!((ratio / (0.6 / 0.52) - 1.0).abs() < 0.05, "{ratio}");
    }

    fn experiment_cpu() -> MsScale {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments/matrix-sensing.toml")).unwrap();
        let exp: MsExperiment = toml::from_str(&text).unwrap();
        exp.cpu
    }

    #[test]
    fn the_rules_fail_to_load_naming_the_field() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments/matrix-sensing.toml")).unwrap();
        let err = toml::from_str::<MsExperiment>(&text.replacen("dd_control_margin = 1.2", "dd_control_margin = 0.5", 1)).unwrap_err();
        assert!(err.to_string().contains("[rules] dd_control_margin"), "{err}");
        assert!(toml::from_str::<MsExperiment>(&text).unwrap().rules.validate().is_ok());
        assert_eq!(rules().fractions(), vec![0.02, 0.05, 0.1]);
    }

    #[test]
    fn controls_mirror_the_double_descent_runs_without_noise() {
        let scale = experiment_cpu();
        let runs = scale.runs();
        let dd: Vec<&MsRun> = runs.iter().filter(|r| r.kind == RunKind::DoubleDescent).collect();
        let ddc: Vec<&MsRun> = runs.iter().filter(|r| r.kind == RunKind::DdControl).collect();
        assert_eq!(dd.len(), ddc.len());
        for (a, b) in dd.iter().zip(&ddc) {
            assert_eq!((a.data_seed, a.lr, a.beta, a.steps, a.noise_seed), (b.data_seed, b.lr, b.beta, b.steps, b.noise_seed));
            assert!(a.kind.noisy() && !b.kind.noisy() && a.id != b.id);
        }
        let jobs = scale.jobs();
        assert!(jobs.iter().any(|j| j.id.starts_with("ddc-")));
        let mut ids: Vec<&String> = runs.iter().map(|r| &r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), runs.len());
    }

    #[test]
    fn csv_round_trips_and_rejects_bad_lines() {
        let t = MsTrace { steps: vec![0, 5], train_loss: vec![1.0, 0.5], hessian_trace: vec![3.0, 2.5], test_error: vec![0.1, 0.2] };
        assert_eq!(MsTrace::from_csv(&t.to_csv()).unwrap(), t);
        let err = MsTrace::from_csv("step,train_loss,hessian_trace,test_error\n0,1,2\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}

crate::harness::config::experiment_file!(MsExperiment, MsScale, rules);
