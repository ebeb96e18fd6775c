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
use crate::harness::plan::{Job, run_dir};
use crate::harness::{AnalyseCtx, Experiment};
#[cfg(feature = "train")]
use crate::harness::TrainCtx;
use anyhow::Context as _;
use crate::harness::claims::SummaryHeader;
pub use crate::harness::config::ConfigError;
use crate::harness::config::{Invalid, require};
pub use crate::harness::beta_star::{BetaStarAtLr, GridPoint, SlopeFit, fit_beta_star_at, fit_slope};
pub use crate::harness::{Activation, Criterion, GAMMA_OPT};

/// The tolerance of claim C15.
pub const SLOPE_TOLERANCE: f64 = 0.2;
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
    /// C of the rule 1 − β = C η^(2/3) that the β grid is centred on.
    pub rule_c: f64,
    /// For each η, the runs have 1 − β = f · C η^(2/3) for each f here (skipped
    /// where that would make β < 0); f = 1 is on the rule.
    pub rule_factors: Vec<f64>,
    /// The parabola of eq. (14) is fitted to the best-scoring β and this many
    /// neighbours on each side (in log(1 − β)), diverged runs excluded.
    pub fit_half_width: usize,
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
        require(self.valley_lr > 0.0 && self.valley_lr.is_finite(), "valley_lr", "expected > 0")?;
        require(self.valley_max_epochs >= 1, "valley_max_epochs", "expected >= 1")?;
        require(
            self.batch_size >= 1 && self.batch_size <= 10 * self.train_per_class,
            "batch_size",
            "expected 1 <= batch_size <= the training set",
        )?;
        require(self.epochs_noisy >= 1, "epochs_noisy", "expected >= 1")?;
        require(self.eval_every >= 1, "eval_every", "expected >= 1")?;
        require(
            self.lrs.len() >= 3 && self.lrs.iter().all(|&l| l > 0.0 && l.is_finite()),
            "lrs",
            "expected at least 3 values, each > 0 (the slope needs 3 points)",
        )?;
        require(self.rule_c > 0.0 && self.rule_c.is_finite(), "rule_c", "expected > 0")?;
        require(
            self.rule_factors.len() >= 3 && self.rule_factors.iter().all(|&f| f > 0.0 && f.is_finite()),
            "rule_factors",
            "expected at least 3 values, each > 0 (a parabola needs 3 points)",
        )?;
        let mut seeds = self.run_seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        require(
            !self.run_seeds.is_empty() && seeds.len() == self.run_seeds.len(),
            "run_seeds",
            "expected at least one seed, without repeats",
        )?;
        require(self.fit_half_width >= 1, "fit_half_width", "expected >= 1 (a parabola needs 3 points)")?;
        for &lr in &self.lrs {
            let valid = self.rule_factors.iter().filter(|&&f| f * self.rule_c * lr.powf(GAMMA_OPT) <= 1.0).count();
            require(
                valid >= 3,
                "rule_factors",
                format!("η = {lr} has {valid} factors with 1 − β = f·C·η^(2/3) <= 1 (β >= 0); a parabola needs 3"),
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

    /// The (η, β, seed) grid: η outer, then β increasing, then the run seeds.
    /// Factors that would give β < 0 (1 − β > 1) are skipped at that η.
    pub fn runs(&self) -> Vec<MlpRun> {
        let mut factors = self.rule_factors.clone();
        factors.sort_by(|a, b| b.total_cmp(a));
        let mut runs = Vec::new();
        for &lr in &self.lrs {
            for &f in &factors {
                let one_minus_beta = f * self.rule_c * lr.powf(GAMMA_OPT);
                if one_minus_beta > 1.0 {
                    continue;
                }
                let beta = 1.0 - one_minus_beta;
                for &seed in &self.run_seeds {
                    runs.push(MlpRun {
                        id: format!("lr{}-b{}-s{seed}", fmt_id(lr), fmt_id(beta)),
                        lr,
                        beta,
                        rule_factor: f,
                        on_rule: (f - 1.0).abs() < 1e-12,
                        seed,
                    });
                }
            }
        }
        runs
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
    /// f in 1 − β = f · C η^(2/3).
    pub rule_factor: f64,
    /// Whether f = 1.
    pub on_rule: bool,
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
    pub best_test_accuracy: f64,
    /// The epoch of the best test accuracy.
    pub best_epoch: u64,
    /// Test accuracy after the last epoch; None when the run diverged.
    #[serde(alias = "final_test_acc")]
    pub final_test_accuracy: Option<f64>,
    /// Train accuracy (true labels) after the last epoch; None when the run diverged.
    #[serde(alias = "final_train_acc")]
    pub final_train_accuracy: Option<f64>,
    /// Test accuracy at the valley checkpoint, before any SGD.
    #[serde(alias = "start_test_acc")]
    pub start_test_accuracy: f64,
    /// Whether the loss became non-finite.
    pub diverged: bool,
    /// Whether the run failed: it diverged, or it ended at a test accuracy
    /// below [`FAILED_ACC`] (the network collapsed to near-constant
    /// predictions). Failed runs are excluded from the eq. (14) fits: a
    /// parabola models the smooth peak, not a training failure.
    pub failed: bool,
    /// Wall time of this run, seconds.
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

    #[cfg(feature = "train")]
    fn train(ctx: &TrainCtx<'_, Self>, todo: &[&Job]) -> anyhow::Result<()> {
        train::train(ctx, todo)
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, results: Vec<MlpRunSummary>) -> anyhow::Result<MlpSummary> {
        summarise(ctx, results)
    }

    fn header(summary: &MlpSummary) -> &SummaryHeader {
        &summary.header
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
            lrs: vec![0.01, 0.03, 0.1, 0.3],
            rule_c: 0.5,
            rule_factors: vec![0.25, 0.5, 1.0, 2.0, 4.0],
            fit_half_width: 2,
        }
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

    /// β* following 1 − β* = C η^(2/3) exactly gives slope 2/3 through the whole analysis.
    #[test]
    fn slope_of_a_synthetic_rule_is_two_thirds() {
        let scale = scale();
        scale.validate().unwrap();
        // The true optimum sits at 1.3 × the rule, so it is off-grid but bracketed.
        let runs: Vec<MlpRunSummary> = scale
            .runs()
            .into_iter()
            .map(|run| {
                let x_star = (1.3 * scale.rule_c * run.lr.powf(GAMMA_OPT)).ln();
                let acc = 0.8 - 0.02 * ((1.0 - run.beta).ln() - x_star).powi(2);
                summary(run, acc, false)
            })
            .collect();
        let MlpAnalysis { beta_star: per_lr, slope, criteria, .. } = analyse(&scale, &runs);
        assert!(per_lr.iter().all(|b| b.interior));
        let slope = slope.unwrap();
        assert!((slope.slope - GAMMA_OPT).abs() < 1e-9, "{slope:?}");
        assert_eq!(criteria[0].holds, Some(true));
        assert!((slope.intercept - (1.3f64 * 0.5).ln()).abs() < 1e-9);
    }

    /// With several seeds, a point's score is the mean over its seeds with the
    /// standard error of the mean; one failed seed fails the point; the peak's
    /// height is measured in those standard errors; and the per-seed noise,
    /// symmetric around a known curve, leaves β* where the curve puts it.
    #[test]
    fn seeds_are_averaged_with_standard_errors() {
        let scale = MlpScale { run_seeds: vec![3, 7], lrs: vec![0.01, 0.03, 0.1], ..scale() };
        scale.validate().unwrap();
        let runs = scale.runs();
        assert_eq!(runs.len(), 3 * 5 * 2);
        assert!(runs.iter().all(|r| r.id.ends_with(&format!("-s{}", r.seed))));
        let ids: std::collections::HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), runs.len(), "ids are unique across seeds");
        let x_star = |lr: f64| (1.3 * scale.rule_c * lr.powf(GAMMA_OPT)).ln();
        // Seed 3 is 0.002 above the curve, seed 7 0.002 below: the mean is the curve, the
        // standard error is 0.002 exactly (sd = 0.002·√2, n = 2).
        let summaries: Vec<MlpRunSummary> = runs
            .iter()
            .map(|r| {
                let curve = 0.8 - 0.02 * ((1.0 - r.beta).ln() - x_star(r.lr)).powi(2);
                let noise = if r.seed == 3 { 0.002 } else { -0.002 };
                let failed = r.lr == 0.1 && r.rule_factor == 0.25 && r.seed == 7;
                summary(r.clone(), curve + noise, failed)
            })
            .collect();
        let MlpAnalysis { beta_star: per_lr, slope, notes, .. } = analyse(&scale, &summaries);
        for b in &per_lr {
            assert!(b.interior, "{b:?}");
            for p in &b.points {
                assert_eq!(p.seeds, 2);
                assert!((p.stderr.unwrap() - 0.002).abs() < 1e-12, "{p:?}");
                let curve = 0.8 - 0.02 * ((1.0 - p.beta).ln() - x_star(b.lr)).powi(2);
                assert!((p.score - curve).abs() < 1e-12, "{p:?}");
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
}

crate::harness::config::experiment_file!(MlpExperiment, MlpScale);
