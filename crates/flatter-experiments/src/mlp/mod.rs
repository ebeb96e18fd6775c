//! The 6-layer MLP on Fashion-MNIST (Fig. 5, App. A.4): config, the (η, β)
//! grid, per-run results, the eq. (14) fit of β*(η) and claim C15.
//!
//! Protocol (Fig. 5, App. A.4): one "valley" checkpoint from full-batch GD without
//! momentum on the expected loss (p = 0.2) until 100% train accuracy; then,
//! for each (η, β), heavy-ball SGD with fresh label flips (p = 0.2) for
//! `epochs_noisy` epochs and a noise-free phase of `epochs_clean` epochs; the
//! best test accuracy over both phases is the run's score. For each η, the
//! score against log(1 − β) is fitted with a parabola (eq. 14) whose vertex is
//! β*(η); the slope of log(1 − β*) against log η is then compared with 2/3.


mod analyse;
pub mod figures;
#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod train;

pub use analyse::*;
use serde::{Deserialize, Serialize};

use crate::harness::same_value;
use crate::harness::io::read_json;
use crate::harness::plan::{Job, REFERENCE_FLOPS, run_dir};
use crate::harness::{AnalyseCtx, Experiment};
#[cfg(feature = "train")]
use crate::harness::TrainCtx;
use anyhow::Context as _;
use crate::harness::claims::SummaryHeader;
pub use crate::harness::config::ConfigError;
use crate::harness::config::{Invalid, MAX_COUNT, distinct_in_ids, require, require_each, require_f64, within_memory, within_runs};
pub use crate::harness::beta_star::{BetaStarAtLr, GridPoint, SeedScores, SlopeBootstrap, SlopeFit, bootstrap_slope, fit_beta_star_at, fit_slope};
pub use crate::harness::{Activation, Criterion, GAMMA_OPT};
pub use crate::harness::claims::ClaimKind;

/// A run whose final test accuracy is below this (twice chance for 10
/// classes) has collapsed and counts as failed.
pub const FAILED_ACC: f64 = 0.2;

/// The loss of the noise-free phase that follows the label-noise phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanLoss {
    /// The expected loss over the label flips (soft targets, p = `label_noise_prob`):
    /// the same valley as the label-noise phase, without its randomness.
    Expected,
    /// Plain cross-entropy on the true labels.
    CrossEntropy,
}

/// One scale of the MLP experiment. Every value that matters is here; none has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpScale {
    /// Training images per class, a seeded class-balanced subset (6000 per class is the whole split).
    pub train_per_class: usize,
    /// Test images per class (1000 per class is the whole split).
    pub test_per_class: usize,
    /// Seed of the class-balanced subsets.
    pub subset_seed: u64,
    /// Seed of the weight initialisation, i.e. of the valley checkpoint every run starts from.
    pub seed: u64,
    /// Seeds of the data order and the label flips. Every (η, β) runs once
    /// per seed, all from the same valley; its score is the mean over the
    /// seeds, with the standard error of that mean. Within one seed every
    /// (η, β) sees the same minibatches and flips (common random numbers).
    pub run_seeds: Vec<u64>,
    /// The five hidden widths (outputs of layers 1–5).
    pub widths: Vec<usize>,
    /// Activation A, after layers 1–4.
    pub activation_a: Activation,
    /// Activation B, after layer 5.
    pub activation_b: Activation,
    /// Label-flip probability p (uniformly wrong label), also the p of the expected loss.
    pub label_noise_prob: f64,
    /// Learning rate of the full-batch GD (no momentum) of the valley phase.
    pub valley_lr: f64,
    /// The valley phase fails (an error, not a silent continue) if 100% train
    /// accuracy is not reached within this many full-batch steps.
    pub valley_max_epochs: u64,
    /// Minibatch size of the (η, β) runs.
    pub batch_size: usize,
    /// Epochs of label-noise SGD (the paper: 600).
    pub epochs_noisy: u64,
    /// Epochs of the noise-free phase that follows (the paper: 400).
    pub epochs_clean: u64,
    /// The loss of the noise-free phase.
    pub clean_loss: CleanLoss,
    /// Test accuracy is measured every this many epochs (and after the last).
    pub eval_every: u64,
    /// The learning rates η.
    pub lrs: Vec<f64>,
    /// The 1 − β grid, one and the same for every η (issue 13: a grid built
    /// around the rule 1 − β ∝ η^(2/3) would put the peak at the same place
    /// on the grid for every η and give the slope 2/3 by construction).
    pub one_minus_betas: Vec<f64>,
    /// Cells with η/(1 − β) above this are not run: past the stability edge
    /// of heavy ball (the effective learning rate η/(1 − β) of eq. (1)), the
    /// runs diverge or collapse and carry no information about the peak.
    pub max_effective_lr: f64,
    /// The parabola of eq. (14) is fitted to the best-scoring β and this many
    /// neighbours on each side (in log(1 − β)), diverged runs excluded.
    pub fit_half_width: usize,
}

/// The rule that judges claim C15, fixed before the runs it judges (the
/// `[rules]` table of the experiment file; the report quotes it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpRules {
    /// When the rule was fixed, and what changed after seeing data, and why.
    pub fixed: String,
    /// C15 holds when |slope − 2/3| ≤ this.
    pub slope_tolerance: f64,
    /// The slope needs at least this many η with an interior β*.
    pub min_interior_lrs: usize,
    /// C15 is not measured (n/a) when the bootstrap standard error of the
    /// slope exceeds this: the data cannot tell 2/3 from its neighbours.
    pub max_slope_stderr: f64,
    /// Bootstrap resamples over the run seeds.
    pub bootstrap_resamples: usize,
    /// Seed of the bootstrap's resampling stream.
    pub bootstrap_seed: u64,
    /// C15 is not measured (n/a) when fewer than this share of the resamples
    /// have a slope (too few interior β* to be stable).
    pub min_bootstrap_share: f64,
}

impl MlpRules {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), Invalid> {
        require(self.slope_tolerance > 0.0 && self.slope_tolerance < 1.0, "slope_tolerance", "expected 0 < x < 1")?;
        require(self.min_interior_lrs >= 3, "min_interior_lrs", "expected >= 3 (a line with a standard error needs 3 points)")?;
        require(self.max_slope_stderr > 0.0 && self.max_slope_stderr < 1.0, "max_slope_stderr", "expected 0 < x < 1")?;
        require((100..=100_000).contains(&self.bootstrap_resamples), "bootstrap_resamples", "expected 100..=100000")?;
        require(self.min_bootstrap_share > 0.0 && self.min_bootstrap_share <= 1.0, "min_bootstrap_share", "expected 0 < x <= 1")?;
        Ok(())
    }

    /// The rule in words, as the report's tolerance cell quotes it.
    pub fn text(&self) -> String {
        format!(
            "|slope − 2/3| ≤ {} over ≥ {} η with an interior β*; n/a when the seed-bootstrap SE > {} or < {:.0}% of {} resamples give a slope (experiments/mlp-fashion.toml [rules])",
            self.slope_tolerance,
            self.min_interior_lrs,
            self.max_slope_stderr,
            100.0 * self.min_bootstrap_share,
            self.bootstrap_resamples
        )
    }
}

/// The experiment file `experiments/mlp-fashion.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpExperiment {
    /// The experiment's name.
    pub name: String,
    /// The figures and claims it reproduces.
    pub reproduces: String,
    /// Our choices where the paper gives no value, repeated in the summary.
    pub choices: Vec<String>,
    /// The rule of claim C15, fixed before the runs.
    pub rules: MlpRules,
    /// How its jobs share the machine (`[schedule]`, issue 18).
    #[serde(default)]
    pub schedule: crate::harness::Schedule,
    /// Seconds, for `cargo test`.
    pub smoke: MlpScale,
    /// Minutes on 2 cores.
    pub cpu: MlpScale,
    /// The paper's scale.
    pub paper: MlpScale,
}


impl MlpScale {
    /// Checks every field's range; the error names the field and the expectation.
    pub fn validate(&self) -> Result<(), Invalid> {
        require((1..=6000).contains(&self.train_per_class), "train_per_class", "expected 1..=6000")?;
        require((1..=1000).contains(&self.test_per_class), "test_per_class", "expected 1..=1000")?;
        require(self.widths.len() == 5 && self.widths.iter().all(|&w| w >= 1), "widths", "expected 5 widths, each >= 1")?;
        require(
            self.label_noise_prob > 0.0 && self.label_noise_prob < 0.9,
            "label_noise_prob",
            "expected 0 < p < 0.9 (below 1 − 1/K, so the true class stays the most likely)",
        )?;
        require_f64(self.valley_lr, self.valley_lr > 0.0, "valley_lr", "> 0")?;
        require(self.valley_max_epochs >= 1, "valley_max_epochs", "expected >= 1")?;
        require(
            self.batch_size >= 1 && self.batch_size <= 10 * self.train_per_class,
            "batch_size",
            "expected 1 <= batch_size <= the training set",
        )?;
        require(self.epochs_noisy >= 1, "epochs_noisy", "expected >= 1")?;
        require(
            self.epochs_noisy.checked_add(self.epochs_clean).is_some_and(|t| t <= MAX_COUNT),
            "epochs_clean",
            format!("epochs_noisy ({}) + epochs_clean ({}) must be at most 2^53", self.epochs_noisy, self.epochs_clean),
        )?;
        require(self.eval_every >= 1, "eval_every", "expected >= 1")?;
        require(self.lrs.len() >= 3, "lrs", "expected at least 3 values, each > 0 (the slope needs 3 points)")?;
        require_each(&self.lrs, |l| l > 0.0, "lrs", "at least 3 values, each > 0 (the slope needs 3 points)")?;
        distinct_in_ids("lrs", self.lrs.iter().map(|&l| format!("lr{}", fmt_id(l))))?;
        require(
            self.one_minus_betas.len() >= 3 && self.one_minus_betas.iter().all(|&x| x > 0.0 && x <= 1.0),
            "one_minus_betas",
            "expected at least 3 values, each in (0, 1] (β in [0, 1))",
        )?;
        require(
            self.one_minus_betas.windows(2).all(|w| w[0] < w[1]),
            "one_minus_betas",
            "expected strictly increasing values",
        )?;
        distinct_in_ids("one_minus_betas", self.one_minus_betas.iter().map(|&x| format!("b{}", fmt_id(1.0 - x))))?;
        require_f64(self.max_effective_lr, self.max_effective_lr > 0.0, "max_effective_lr", "> 0")?;
        let mut seeds = self.run_seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        require(
            !self.run_seeds.is_empty() && seeds.len() == self.run_seeds.len(),
            "run_seeds",
            "expected at least one seed, without repeats",
        )?;
        require(
            self.fit_half_width >= 1 && self.fit_half_width <= self.one_minus_betas.len(),
            "fit_half_width",
            "expected 1 <= fit_half_width <= the number of one_minus_betas (a parabola needs 3 points)",
        )?;
        // Sizes, before anything is allocated: the runs, and per run (one per
        // worker) the weights with their gradients, momenta and the valley's
        // copy (4 × the parameters in f32), a batch's activations (forward
        // and backward) and the evaluation points.
        within_runs(
            "run_seeds",
            &[("lrs", self.lrs.len() as u64), ("one_minus_betas", self.one_minus_betas.len() as u64), ("run_seeds", self.run_seeds.len() as u64)],
        )?;
        let sizes: Vec<u64> = std::iter::once(784).chain(self.widths.iter().map(|&w| w as u64)).chain(std::iter::once(10)).collect();
        let params = sizes.windows(2).try_fold(0u64, |acc, w| w[0].checked_mul(w[1])?.checked_add(w[1])?.checked_add(acc));
        let units = sizes.iter().try_fold(0u64, |acc, &w| acc.checked_add(w));
        let points = (self.epochs_noisy + self.epochs_clean) / self.eval_every + 2;
        within_memory(
            "widths",
            &[
                &[("parameters", params.unwrap_or(u64::MAX)), ("4 copies", 4), ("", 4)],
                &[("batch_size", self.batch_size as u64), ("units", units.unwrap_or(u64::MAX)), ("forward and backward", 2), ("", 4)],
                &[("evaluation points", points), ("", 24)],
            ],
        )?;
        for &lr in &self.lrs {
            let kept = self.one_minus_betas.iter().filter(|&&x| self.runs_at(lr, x)).count();
            require(
                kept > 2 * self.fit_half_width,
                "one_minus_betas",
                format!(
                    "η = {lr} keeps {kept} values with η/(1 − β) <= max_effective_lr = {}; the parabola needs 2·fit_half_width + 1 = {}",
                    self.max_effective_lr,
                    2 * self.fit_half_width + 1
                ),
            )?;
        }
        Ok(())
    }

    /// Training images in total.
    pub fn train_size(&self) -> usize {
        10 * self.train_per_class
    }

    /// The jobs of `crate::harness::plan`: one per run, in the order of [`Self::runs`].
    pub fn jobs(&self) -> Vec<Job> {
        self.runs().into_iter().map(|r| Job { id: r.id.clone(), runs: vec![r.id] }).collect()
    }

    /// Minibatch steps per epoch (the last, short batch is kept).
    pub fn steps_per_epoch(&self) -> usize {
        self.train_size().div_ceil(self.batch_size)
    }

    /// Whether the cell (η, 1 − β) is run: η/(1 − β) <= `max_effective_lr`.
    pub fn runs_at(&self, lr: f64, one_minus_beta: f64) -> bool {
        lr / one_minus_beta <= self.max_effective_lr * (1.0 + 1e-12)
    }

    /// The model's parameter count (28×28 inputs, the hidden widths, 10
    /// classes), for the queue's cost estimates.
    pub fn params(&self) -> f64 {
        let mut sizes = vec![28 * 28];
        sizes.extend(&self.widths);
        sizes.push(10);
        sizes.windows(2).map(|w| (w[0] * w[1] + w[1]) as f64).sum()
    }

    /// The (η, β, seed) grid: η outer, then β increasing, then the run seeds.
    /// Every η has the same 1 − β values, less those past the stability edge
    /// ([`Self::runs_at`]).
    pub fn runs(&self) -> Vec<MlpRun> {
        let mut runs = Vec::new();
        for &lr in &self.lrs {
            for &one_minus_beta in self.one_minus_betas.iter().rev().filter(|&&x| self.runs_at(lr, x)) {
                let beta = 1.0 - one_minus_beta;
                for &seed in &self.run_seeds {
                    runs.push(MlpRun { id: format!("lr{}-b{}-s{seed}", fmt_id(lr), fmt_id(beta)), lr, beta, seed });
                }
            }
        }
        runs
    }

    /// The (η, 1 − β) cells past the stability edge, which are not run.
    pub fn skipped_cells(&self) -> Vec<(f64, f64)> {
        self.lrs.iter().flat_map(|&lr| self.one_minus_betas.iter().filter(move |&&x| !self.runs_at(lr, x)).map(move |&x| (lr, x))).collect()
    }
}

/// A short, stable text for a number in a run id (up to 6 significant digits).
fn fmt_id(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".to_string() } else { s.to_string() }
}

/// One (η, β) run with one seed of data order and label flips.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpRun {
    /// Stable id, e.g. `lr0.05-b0.9-s0`; its directory is `runs/<id>/`.
    pub id: String,
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// Seed of the run's DataOrder and LabelNoise streams (one of `run_seeds`).
    pub seed: u64,
}

/// One evaluation of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    /// Epochs trained so far (both phases counted).
    pub epoch: u64,
    /// Mean training loss over the last epoch (the phase's own loss).
    pub train_loss: f64,
    /// Test accuracy in [0, 1].
    #[serde(alias = "test_acc")]
    pub test_accuracy: f64,
}

/// What a finished run writes to `runs/<id>/summary.json`. Accuracies are
/// `…_accuracy`, as in every experiment; the serde aliases read records
/// written before the names were unified (`…_acc`), so they resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpRunSummary {
    /// The run.
    pub run: MlpRun,
    /// Best test accuracy over the evaluations during both phases, the start
    /// excluded (the paper's score).
    #[serde(alias = "best_test_acc")]
    #[serde(with = "crate::harness::real")]
    pub best_test_accuracy: f64,
    /// The epoch of the best test accuracy.
    pub best_epoch: u64,
    /// Test accuracy after the last epoch; None when the run diverged.
    #[serde(alias = "final_test_acc")]
    #[serde(with = "crate::harness::real::option")]
    pub final_test_accuracy: Option<f64>,
    /// Train accuracy (true labels) after the last epoch; None when the run diverged.
    #[serde(alias = "final_train_acc")]
    #[serde(with = "crate::harness::real::option")]
    pub final_train_accuracy: Option<f64>,
    /// Test accuracy at the valley checkpoint, before any SGD.
    #[serde(alias = "start_test_acc")]
    #[serde(with = "crate::harness::real")]
    pub start_test_accuracy: f64,
    /// Whether the loss became non-finite.
    pub diverged: bool,
    /// Whether the run failed: it diverged, or it ended at a test accuracy
    /// below [`FAILED_ACC`] (the network collapsed to near-constant
    /// predictions). Failed runs are excluded from the eq. (14) fits: a
    /// parabola models the smooth peak, not a training failure.
    pub failed: bool,
    /// Wall time of this run, seconds.
    #[serde(with = "crate::harness::real")]
    pub wall_seconds: f64,
}

/// Reduces the runs of one (η, β), one per seed, to a grid point: the score
/// of a run is its best test accuracy.
pub fn grid_point(beta: f64, runs: &[&MlpRunSummary]) -> GridPoint {
    let scores: Vec<f64> = runs.iter().map(|r| r.best_test_accuracy).collect();
    GridPoint::of_seeds(beta, &scores, runs.is_empty() || runs.iter().any(|r| r.failed))
}

/// What the valley phase produced (`setup/valley.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValleySummary {
    /// Full-batch steps until 100% train accuracy.
    pub epochs: u64,
    /// Train accuracy at the checkpoint (1.0).
    #[serde(alias = "train_acc")]
    pub train_accuracy: f64,
    /// Test accuracy at the checkpoint.
    #[serde(alias = "test_acc")]
    pub test_accuracy: f64,
    /// The expected loss at the checkpoint.
    pub loss: f64,
    /// Wall time, seconds.
    pub wall_seconds: f64,
}

/// The 6-layer MLP on Fashion-MNIST (Fig. 5) as the harness runs it.
pub struct MlpExp;

impl Experiment for MlpExp {
    const NAME: &'static str = "mlp-fashion";
    const ABOUT: &'static str = "The 6-layer MLP on Fashion-MNIST: β*(η) and its slope (Fig. 5)";
    type File = MlpExperiment;
    type RunSummary = MlpRunSummary;
    type Summary = MlpSummary;

    /// The valley's weights are drawn from the backend's seeded generator.
    const SETUP_SEEDS_BACKEND: bool = true;

    #[cfg(feature = "train")]
    type Prepared = train::Prepared;

    #[cfg(feature = "train")]
    fn prepare(ctx: &TrainCtx<'_, Self>) -> anyhow::Result<train::Prepared> {
        train::prepare(ctx)
    }

    #[cfg(feature = "train")]
    fn train_job(ctx: &TrainCtx<'_, Self>, prepared: &train::Prepared, job: &Job) -> anyhow::Result<()> {
        train::train(ctx, prepared, job)
    }

    /// 6 FLOP per parameter per training sample, 2 per evaluated sample; the
    /// dense layers run at about twice the reference rate (the cpu-scale run,
    /// 5.4e11 FLOP, took 14.5 s, 2026-12-02).
    fn job_cost(scale: &MlpScale, _job: &Job) -> f64 {
        let (n_train, n_test) = (10.0 * scale.train_per_class as f64, 10.0 * scale.test_per_class as f64);
        let epochs = (scale.epochs_noisy + scale.epochs_clean) as f64;
        let evals = epochs / scale.eval_every.max(1) as f64 + 2.0;
        scale.params() * (6.0 * epochs * n_train + 2.0 * (evals * n_test + n_train)) / (2.0 * REFERENCE_FLOPS)
    }

    /// Every full-batch step of the valley's budget (an upper bound: the
    /// cpu-scale valley stopped after 1,716 of 5,000 steps, in 55 s).
    fn setup_cost(scale: &MlpScale) -> f64 {
        scale.params() * 6.0 * scale.valley_max_epochs as f64 * 10.0 * scale.train_per_class as f64 / (4.0 * REFERENCE_FLOPS)
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, results: Vec<MlpRunSummary>) -> anyhow::Result<MlpSummary> {
        summarise(ctx, results)
    }

    fn header(summary: &MlpSummary) -> &SummaryHeader {
        &summary.header
    }

    fn header_mut(summary: &mut MlpSummary) -> &mut SummaryHeader {
        &mut summary.header
    }

    fn headline(s: &MlpSummary) -> String {
        format!("{} runs, valley in {} GD steps", s.runs.len(), s.valley.as_ref().map_or("?".into(), |v| v.epochs.to_string()))
    }

    /// The per-η fits.
    fn details(summary: &MlpSummary) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        writeln!(s, "{:>10} {:>10} {:>14} {:>9}  fit", "η", "β*", "log(1−β*)", "± se").expect("writing to a String");
        for b in &summary.beta_star {
            let fmt = |x: Option<f64>, p: usize| x.map_or("-".to_string(), |x| format!("{x:.p$}"));
            writeln!(
                s,
                "{:>10} {:>10} {:>14} {:>9}  {}",
                b.lr,
                fmt(b.beta_star, 4),
                fmt(b.log_one_minus_beta_star, 3),
                fmt(b.log_one_minus_beta_star_stderr, 3),
                b.error.as_deref().unwrap_or("interior")
            )
            .expect("writing to a String");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(beta: f64, score: f64, failed: bool) -> GridPoint {
        GridPoint { beta, score, stderr: None, seeds: 1, failed }
    }

    fn summary(run: MlpRun, acc: f64, failed: bool) -> MlpRunSummary {
        MlpRunSummary {
            run,
            best_test_accuracy: acc,
            best_epoch: 1,
            final_test_accuracy: Some(acc),
            final_train_accuracy: Some(1.0),
            start_test_accuracy: 0.7,
            diverged: false,
            failed,
            wall_seconds: 0.0,
        }
    }

    /// The shared grid of the cpu scale's shape: 1 − β = 0.01·e^(k/2), k = 0..9.
    fn grid() -> Vec<f64> {
        (0..10).map(|k| 0.01 * (0.5 * k as f64).exp()).collect()
    }

    fn scale() -> MlpScale {
        MlpScale {
            train_per_class: 10,
            test_per_class: 10,
            subset_seed: 0,
            seed: 0,
            run_seeds: vec![0],
            widths: vec![8; 5],
            activation_a: Activation::Relu,
            activation_b: Activation::Tanh,
            label_noise_prob: 0.2,
            valley_lr: 0.1,
            valley_max_epochs: 10,
            batch_size: 10,
            epochs_noisy: 1,
            epochs_clean: 1,
            clean_loss: CleanLoss::Expected,
            eval_every: 1,
            lrs: vec![0.01, 0.02, 0.04, 0.08],
            one_minus_betas: grid(),
            max_effective_lr: 1.0,
            fit_half_width: 2,
        }
    }

    fn rules() -> MlpRules {
        MlpRules {
            fixed: "test".into(),
            slope_tolerance: 0.2,
            min_interior_lrs: 3,
            max_slope_stderr: 0.2,
            bootstrap_resamples: 400,
            bootstrap_seed: 0,
            min_bootstrap_share: 0.8,
        }
    }

    /// A deterministic noise in [−1, 1] per (seed, η, β): what distinguishes
    /// one run seed from another in the synthetic surfaces below.
    fn noise(seed: u64, lr: f64, beta: f64) -> f64 {
        let mut h = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ lr.to_bits().rotate_left(17) ^ beta.to_bits().rotate_left(31);
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        (h as f64 / u64::MAX as f64) * 2.0 - 1.0
    }

    /// Runs every cell of `scale` with score `curve(η, β) + amp·noise(seed, η, β)`.
    fn synthetic(scale: &MlpScale, curve: impl Fn(f64, f64) -> f64, amp: f64) -> Vec<MlpRunSummary> {
        scale.runs().into_iter().map(|r| {
            let acc = curve(r.lr, r.beta) + amp * noise(r.seed, r.lr, r.beta);
            summary(r, acc, false)
        }).collect()
    }

    /// Eq. (14)'s peak at 1 − β* = `law(η)`, 1.5 points high across the grid.
    fn peak(law: impl Fn(f64) -> f64) -> impl Fn(f64, f64) -> f64 {
        move |lr, beta| 0.85 - 0.005 * ((1.0 - beta).ln() - law(lr).ln()).powi(2)
    }

    /// A synthetic accuracy curve with a known peak in log(1 − β) is fitted back to it.
    #[test]
    fn synthetic_peak_is_recovered() {
        let beta_star: f64 = 0.93;
        let x_star = (1.0 - beta_star).ln();
        let betas = [0.5, 0.7, 0.8, 0.87, 0.9, 0.95, 0.97, 0.99, 0.995];
        let points: Vec<GridPoint> =
            betas.iter().map(|&b: &f64| point(b, 0.85 - 0.01 * ((1.0 - b).ln() - x_star).powi(2), false)).collect();
        let fit = fit_beta_star_at(0.1, &points, 2);
        assert!(fit.interior, "{fit:?}");
        assert!((fit.beta_star.unwrap() - beta_star).abs() < 1e-9, "{fit:?}");
        assert_eq!(fit.fitted_betas.len(), 5);
    }

    /// Diverged runs are excluded, and a monotone curve has no interior β*.
    #[test]
    fn diverged_excluded_and_edge_peak_flagged() {
        let mut points: Vec<GridPoint> = [0.5, 0.7, 0.9, 0.95].iter().map(|&b: &f64| point(b, 0.7 + 0.1 * b, false)).collect();
        points.push(point(0.99, 0.1, true));
        let fit = fit_beta_star_at(0.1, &points, 1);
        assert!(!fit.fitted_betas.contains(&0.99));
        assert!(!fit.interior, "{fit:?}");
        assert!(fit.error.is_some());
    }

    /// Every η runs the same 1 − β values, less those past the stability
    /// edge η/(1 − β) > max_effective_lr, which are listed as skipped.
    #[test]
    fn one_grid_for_every_lr_less_the_stability_edge() {
        let scale = scale();
        scale.validate().unwrap();
        let runs = scale.runs();
        for &lr in &scale.lrs {
            let at: Vec<f64> = runs.iter().filter(|r| r.lr == lr).map(|r| 1.0 - r.beta).collect();
            let want: Vec<f64> = grid().into_iter().rev().filter(|&x| lr / x <= 1.0 + 1e-9).collect();
            assert_eq!(at.len(), want.len(), "η = {lr}");
            assert!(at.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12), "η = {lr}: {at:?} vs {want:?}");
        }
        // 0.01·e^(k/2) ≥ η keeps 10, 8, 7 and 5 values.
        let per_lr: Vec<usize> = scale.lrs.iter().map(|&lr| runs.iter().filter(|r| r.lr == lr).count()).collect();
        assert_eq!(per_lr, [10, 8, 7, 5]);
        assert_eq!(scale.skipped_cells().len(), 40 - 30);
        let narrow = MlpScale { max_effective_lr: 0.1, ..scale.clone() };
        let err = narrow.validate().unwrap_err();
        assert_eq!(err.0, "one_minus_betas", "{err:?}");
    }

    /// The positive control: β* on the law 1 − β* = 1.5·η^(2/3), with
    /// seed noise, gives slope 2/3 through the whole analysis, a bootstrap
    /// standard error, and C15 holds.
    #[test]
    fn a_two_thirds_law_gives_two_thirds() {
        let scale = MlpScale { run_seeds: vec![0, 1, 2, 3, 4], ..scale() };
        let runs = synthetic(&scale, peak(|lr| 1.5 * lr.powf(GAMMA_OPT)), 0.001);
        let a = analyse(&scale, &rules(), &runs);
        assert!(a.beta_star.iter().all(|b| b.interior), "{:?}", a.beta_star);
        let slope = a.slope.unwrap();
        assert!((slope.slope - GAMMA_OPT).abs() < 0.05, "{slope:?}");
        let se = a.bootstrap.slope_stderr.unwrap();
        assert!(se > 0.0 && se < 0.1, "{:?}", a.bootstrap);
        assert_eq!(a.criteria[0].holds, Some(true), "{:?}", a.criteria);
        assert_eq!(a.criteria[0].uncertainty, Some(se));
    }

    /// Negative controls (issue 13): surfaces whose true β* goes as η⁰ and as
    /// η¹ are pushed through the same analysis on the same shared grid; the
    /// slope comes out near 0 and near 1, not near 2/3, and C15 fails.
    #[test]
    fn other_laws_give_their_own_slope_not_two_thirds() {
        let scale = MlpScale { run_seeds: vec![0, 1, 2, 3, 4], ..scale() };
        for (law, want) in [(Box::new(|_: f64| 0.3) as Box<dyn Fn(f64) -> f64>, 0.0), (Box::new(|lr: f64| 5.0 * lr), 1.0)] {
            let runs = synthetic(&scale, peak(law), 0.001);
            let a = analyse(&scale, &rules(), &runs);
            let slope = a.slope.as_ref().unwrap_or_else(|| panic!("no slope: {:?}", a.slope_error));
            assert!((slope.slope - want).abs() < 0.08, "want {want}: {slope:?}");
            assert_eq!(a.criteria[0].holds, Some(false), "want {want}: {:?}", a.criteria);
        }
    }

    /// The null control: scores independent of β (seed noise only) never
    /// give C15 "holds": either no interior peaks (no slope), or a slope too
    /// uncertain to judge, or one that misses 2/3.
    #[test]
    fn scores_independent_of_beta_never_hold() {
        let scale = MlpScale { run_seeds: vec![0, 1, 2, 3, 4], ..scale() };
        for amp in [0.001, 0.01] {
            let runs = synthetic(&scale, |_, _| 0.85, amp);
            let a = analyse(&scale, &rules(), &runs);
            assert_ne!(a.criteria[0].holds, Some(true), "amp {amp}: {:?} {:?} {:?}", a.slope, a.bootstrap, a.criteria);
        }
    }

    /// With several seeds, a point's score is the mean over its seeds with the
    /// standard error of the mean; one failed seed fails the point; the peak's
    /// height is measured in those standard errors; and the per-seed noise,
    /// symmetric around a known curve, leaves β* where the curve puts it.
    #[test]
    fn seeds_are_averaged_with_standard_errors() {
        let scale = MlpScale { run_seeds: vec![3, 7], ..scale() };
        scale.validate().unwrap();
        let runs = scale.runs();
        assert_eq!(runs.len(), 30 * 2);
        assert!(runs.iter().all(|r| r.id.ends_with(&format!("-s{}", r.seed))));
        let ids: std::collections::HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), runs.len(), "ids are unique across seeds");
        let curve = peak(|lr| 1.5 * lr.powf(GAMMA_OPT));
        // Seed 3 is 0.002 above the curve, seed 7 0.002 below: the mean is the curve, the
        // standard error is 0.002 exactly (sd = 0.002·√2, n = 2).
        let summaries: Vec<MlpRunSummary> = runs
            .iter()
            .map(|r| {
                let noise = if r.seed == 3 { 0.002 } else { -0.002 };
                let failed = r.lr == 0.01 && (1.0 - r.beta - 0.01).abs() < 1e-12 && r.seed == 7;
                summary(r.clone(), curve(r.lr, r.beta) + noise, failed)
            })
            .collect();
        let MlpAnalysis { beta_star: per_lr, slope, notes, .. } = analyse(&scale, &rules(), &summaries);
        for b in &per_lr {
            assert!(b.interior, "{b:?}");
            for p in &b.points {
                assert_eq!(p.seeds, 2);
                assert!((p.stderr.unwrap() - 0.002).abs() < 1e-12, "{p:?}");
                assert!((p.score - curve(b.lr, p.beta)).abs() < 1e-12, "{p:?}");
            }
            let sigma = b.peak_sigma.unwrap();
            assert!((sigma - b.peak_height.unwrap() / (0.002 * 1.5f64.sqrt())).abs() < 1e-9, "{b:?}");
        }
        let failed: Vec<&GridPoint> = per_lr.iter().flat_map(|b| &b.points).filter(|p| p.failed).collect();
        assert_eq!(failed.len(), 1, "one failed seed fails its point");
        assert!((slope.unwrap().slope - GAMMA_OPT).abs() < 1e-9);
        assert!(notes.iter().any(|n| n.contains("standard errors")), "{notes:?}");
    }

    #[test]
    fn repeated_run_seeds_are_refused() {
        let err = MlpScale { run_seeds: vec![1, 1], ..scale() }.validate().unwrap_err();
        assert_eq!(err.0, "run_seeds");
        assert!(MlpScale { run_seeds: vec![], ..scale() }.validate().is_err());
    }

    #[test]
    fn run_ids_are_stable_and_unique() {
        assert_eq!(fmt_id(0.05), "0.05");
        assert_eq!(fmt_id(0.9), "0.9");
        assert_eq!(fmt_id(0.912345678), "0.912346");
    }

    /// The committed file's rules load and validate; a rule out of range is
    /// an error naming the file and the `[rules]` field.
    #[test]
    fn rules_are_read_and_checked() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/mlp-fashion.toml");
        let exp = MlpExperiment::load(&path).unwrap();
        exp.rules.validate().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("mlp-fashion.toml");
        let line = text.lines().find(|l| l.starts_with("min_interior_lrs")).unwrap();
        std::fs::write(&bad, text.replacen(line, "min_interior_lrs = 2", 1)).unwrap();
        let err = MlpExperiment::load(&bad).unwrap_err().to_string();
        assert!(err.contains("mlp-fashion.toml") && err.contains("[rules] min_interior_lrs"), "{err}");
    }
}

crate::harness::config::experiment_file!(MlpExperiment, MlpScale, rules);
