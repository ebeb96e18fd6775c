//! ResNet-18 on CIFAR-10, the three-phase protocol of Fig. 2 and Fig. 4
//! (Sec. 4.2, App. A.3): config, run expansion, the eq. (14) fits and the
//! criteria of claims C11–C14. No Burn here: everything below is a
//! function of the files the runs write.
//!
//! Phase 1 puts the network on the valley once (full-batch GD on the expected
//! label-noise loss, warm-up then cosine, until 100% train accuracy); phase 2
//! runs label-noise heavy-ball SGD from that checkpoint for every (η, β) of a
//! grid; phase 3 projects each result back onto the valley with full-batch
//! Adam and measures test accuracy. β*(η) is the vertex of eq. (14) fitted to
//! test accuracy against log(1 − β); 1 − β* against η should have slope 2/3.

mod analyse;
pub mod figures;
#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod train;

pub use analyse::*;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::harness::scale::Scale;
use crate::harness::claims::{ClaimKind, SummaryHeader};
pub use crate::harness::config::ConfigError;
use crate::harness::config::{distinct_in_ids, require_count, require_each, require_f64, within_memory, within_runs};
pub use crate::harness::claims::{Criterion, FigureRef};
use crate::harness::io::read_json;
use crate::harness::beta_star::{BetaStarAtLr, GridPoint, SlopeFit, fit_beta_star_at, fit_slope};
use crate::harness::plan::{Job, REFERENCE_FLOPS};
use crate::harness::{GAMMA_OPT, same_value};
use crate::harness::{AnalyseCtx, Experiment};
#[cfg(feature = "train")]
use crate::harness::TrainCtx;
use anyhow::Context as _;

/// Which images the experiment trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetChoice {
    /// CIFAR-10 when it is found, else Fashion-MNIST padded to 32×32.
    Auto,
    /// CIFAR-10; an error when it is absent.
    Cifar10,
    /// Fashion-MNIST padded to 32×32 (1 channel), even when CIFAR-10 is present.
    FashionMnistPadded,
}

/// The normalisation layer after every conv: in the experiment file
/// (`norm = "batch"`) and in [`model::ResNetConfig`] alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// BatchNorm (the paper's model): batch statistics in training mode,
    /// running statistics in evaluation mode.
    Batch,
    /// GroupNorm with min(32, channels) groups: no batch dependence at all.
    Group,
}

/// Phase 1: full-batch GD on the expected loss onto the valley.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase1 {
    /// Peak learning rate η₀ (the paper blanks it).
    pub lr: f64,
    /// Heavy-ball momentum β₀ (the paper blanks it).
    pub momentum: f64,
    /// Linear warm-up 0 → η₀ over this many epochs (one full-batch step per epoch).
    pub warmup_epochs: u64,
    /// The cosine decay is planned to end at this epoch (2000 in the paper).
    pub total_epochs: u64,
    /// Save a resumable checkpoint every this many epochs.
    pub checkpoint_every: u64,
}

/// Phase 2: label-noise heavy-ball SGD for every (η, β).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase2 {
    /// Minibatch size (512 in the paper).
    pub batch_size: usize,
    /// Epochs per run (200 in the paper).
    pub epochs: u64,
    /// The learning rates η.
    pub lrs: Vec<f64>,
    /// The prefactor C of the scaling law 1 − β = C η^γ.
    pub c: f64,
    /// The exponent γ of the scaling law (2/3).
    pub gamma: f64,
    /// For each η, β = 1 − m · C η^γ for every multiplier m (1 is on the law).
    pub c_multipliers: Vec<f64>,
    /// Test accuracy is measured every this many epochs (and after the last).
    pub eval_every: u64,
    /// The η whose runs Fig. 4's panel shows.
    pub fig4_lr: f64,
}

/// Phase 3: noise-free full-batch Adam back onto the valley.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase3 {
    /// Adam's learning rate (the paper blanks it).
    pub lr: f64,
    /// At most this many full-batch Adam steps (it stops at 100% training-mode train accuracy).
    pub steps: u64,
}

/// One scale of the ResNet experiment. Every value that matters is here; none has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResnetScale {
    /// Which images.
    pub dataset: DatasetChoice,
    /// Training images per class (0: all).
    pub train_per_class: usize,
    /// Test images per class (0: all) on which the projected accuracy, the
    /// score eq. (14) is fitted to, is measured (10 000 is the whole split).
    pub test_per_class: usize,
    /// Test images per class of the phase-2 epoch curve (Fig. 4, C14) and of
    /// its phase-1 baseline: a class-balanced subset of the scored test
    /// images, as evaluating them all at every curve point costs more than the
    /// run (0: the whole scored set).
    pub curve_test_per_class: usize,
    /// Seed of the class-balanced subsets.
    pub subset_seed: u64,
    /// Width of the first stage (64 in the paper; 8 is a width multiplier of 1/8).
    pub base_width: usize,
    /// The normalisation layers.
    pub norm: NormKind,
    /// Label-noise probability p (0.2 in the paper).
    pub label_noise_prob: f64,
    /// Images per forward pass in the full-batch phases and in evaluation.
    pub chunk_size: usize,
    /// Seed of the initial weights (phase 1): the valley every run starts from.
    pub seed: u64,
    /// Seeds of the phase-2 data order and label flips. Every (η, β) runs
    /// once per seed from the same phase-1 valley; its score is the mean over
    /// the seeds with the standard error of that mean. Within one seed every
    /// (η, β) sees the same minibatches and flips (common random numbers, as
    /// in the MLP).
    pub run_seeds: Vec<u64>,
    /// Phase 1.
    pub phase1: Phase1,
    /// Phase 2.
    pub phase2: Phase2,
    /// Phase 3.
    pub phase3: Phase3,
}

/// The rules of the criteria C11–C14, fixed before the data (the `[rules]`
/// table of the experiment file); the report quotes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResnetRules {
    /// When the rules were fixed, and what changed after data were seen (and why).
    pub fixed: String,
    /// C12: the slope of log(1 − β*) against log η is false when
    /// |slope − 2/3| > slope_tolerance + slope_se_multiple · SE.
    pub slope_tolerance: f64,
    /// C12: how many standard errors widen the tolerance.
    pub slope_se_multiple: f64,
    /// C12 holds only when the slope's SE is at most this (else it is n/a:
    /// too coarse to confirm 2/3, though it can still refute it).
    pub slope_max_stderr: f64,
    /// C12: interior β* needed for a slope (at least 3).
    pub min_interior_lrs: usize,
    /// C13: interior β* needed for a value of C (at least 2).
    pub c_min_interior_lrs: usize,
    /// C14: a dip (rise) is a mean curve point below (above) the phase-1
    /// baseline by more than this many standard errors.
    pub dip_rise_se_multiple: f64,
}

impl ResnetRules {
    /// Checks every rule; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        ensure(!self.fixed.trim().is_empty(), "rules.fixed", "must say when the rules were fixed")?;
        ensure(self.slope_tolerance > 0.0, "rules.slope_tolerance", format!("{} must be > 0", self.slope_tolerance))?;
        ensure(self.slope_se_multiple >= 0.0, "rules.slope_se_multiple", format!("{} must be >= 0", self.slope_se_multiple))?;
        ensure(self.slope_max_stderr > 0.0, "rules.slope_max_stderr", format!("{} must be > 0", self.slope_max_stderr))?;
        ensure(self.min_interior_lrs >= 3, "rules.min_interior_lrs", format!("{} must be >= 3 (a line through 2 points has no error)", self.min_interior_lrs))?;
        ensure(self.c_min_interior_lrs >= 2, "rules.c_min_interior_lrs", format!("{} must be >= 2", self.c_min_interior_lrs))?;
        ensure(self.dip_rise_se_multiple > 0.0, "rules.dip_rise_se_multiple", format!("{} must be > 0", self.dip_rise_se_multiple))?;
        Ok(())
    }
}

/// The experiment file `experiments/resnet-cifar.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResnetExperiment {
    /// The experiment's name.
    pub name: String,
    /// The figures and claims it reproduces.
    pub reproduces: String,
    /// Our choices where the paper gives no value, repeated in the summary.
    pub choices: Vec<String>,
    /// Gaps between each scale and Fig. 2, repeated in the summary's notes.
    pub notes: BTreeMap<String, Vec<String>>,
    /// The criteria's rules, fixed before the data.
    pub rules: ResnetRules,
    /// How its jobs share the machine (`[schedule]`, issue 18).
    #[serde(default)]
    pub schedule: crate::harness::Schedule,
    /// Seconds, for `cargo test`.
    pub smoke: ResnetScale,
    /// Minutes on 2 cores.
    pub cpu: ResnetScale,
    /// The paper's scale.
    pub paper: ResnetScale,
}


impl ResnetExperiment {
    /// The notes of one scale.
    pub fn notes(&self, scale: Scale) -> Vec<String> {
        self.notes.get(scale.name()).cloned().unwrap_or_default()
    }
}

/// One phase-2 run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResnetRun {
    /// Stable id, e.g. `lr0.05-m1-s0`: its directory under `runs/`.
    pub id: String,
    /// η.
    pub lr: f64,
    /// β = 1 − m·C·η^γ.
    pub beta: f64,
    /// The multiplier m of C.
    pub c_multiplier: f64,
    /// Seed of the run's label-noise and data-order streams.
    pub seed: u64,
}

fn ensure(ok: bool, field: &'static str, message: impl Into<String>) -> Result<(), (&'static str, String)> {
    if ok { Ok(()) } else { Err((field, message.into())) }
}

impl ResnetScale {
    /// Training FLOP per 32×32 image (forward and backward): 3.33e9 at base
    /// width 64, scaling with the square of the width.
    pub fn flops_per_image(&self) -> f64 {
        3.33e9 * (self.base_width as f64 / 64.0).powi(2)
    }

    /// Training, test and curve images (0 per class: the whole split, taken
    /// as 5,000 training and 1,000 test images per class), for cost estimates.
    pub fn image_counts(&self) -> (f64, f64, f64) {
        let count = |per_class: usize, whole: usize| 10.0 * if per_class == 0 { whole } else { per_class } as f64;
        let n_test = count(self.test_per_class, 1000);
        let n_curve = if self.curve_test_per_class == 0 { n_test } else { count(self.curve_test_per_class, 1000) };
        (count(self.train_per_class, 5000), n_test, n_curve)
    }

    /// One phase-2 run's images: those trained (forward and backward: its
    /// phase-2 epochs and phase 3 at its step budget, each full batch) and
    /// those only evaluated (the curve points, the BatchNorm recalibrations
    /// over the training set and the final scores). The queue's cost model
    /// and the GPU estimate (`gpu_check::estimate`) both count these.
    pub fn run_images(&self) -> (f64, f64) {
        let (n_train, n_test, n_curve) = self.image_counts();
        let p2 = &self.phase2;
        let trained = p2.epochs as f64 * n_train + self.phase3.steps as f64 * n_train;
        let evaluated = (p2.epochs / p2.eval_every.max(1) + 1) as f64 * n_curve + 2.0 * n_test + 3.0 * n_train;
        (trained, evaluated)
    }

    /// Phase 1's images at its budget: every full-batch epoch (it stops
    /// earlier at 100% train accuracy).
    pub fn phase1_images(&self) -> f64 {
        self.phase1.total_epochs as f64 * self.image_counts().0
    }

    /// Checks every field; the error names the field. Every float is finite
    /// and in range, every scheduled learning rate is > 0 (HeavyBall panics
    /// on 0), every size is bounded by the memory it implies and every
    /// integer product is checked (issue 17).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        ensure(self.base_width >= 1, "base_width", "must be >= 1")?;
        ensure(
            (0.0..1.0).contains(&self.label_noise_prob),
            "label_noise_prob",
            format!("{} must be in [0, 1)", self.label_noise_prob),
        )?;
        ensure(self.chunk_size >= 1, "chunk_size", "must be >= 1")?;
        ensure(
            self.test_per_class == 0 || self.curve_test_per_class <= self.test_per_class,
            "curve_test_per_class",
            format!("{} must be at most test_per_class = {} (the curve's images are a subset of the scored ones)", self.curve_test_per_class, self.test_per_class),
        )?;
        let mut seeds = self.run_seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        ensure(
            !self.run_seeds.is_empty() && seeds.len() == self.run_seeds.len(),
            "run_seeds",
            "must be non-empty, without repeats",
        )?;
        let p1 = &self.phase1;
        ensure(p1.lr > 0.0 && p1.lr.is_finite(), "phase1.lr", format!("{} must be > 0 and finite", p1.lr))?;
        ensure((0.0..1.0).contains(&p1.momentum), "phase1.momentum", format!("{} must be in [0, 1)", p1.momentum))?;
        ensure(p1.total_epochs >= 1, "phase1.total_epochs", "must be >= 1")?;
        require_count(p1.total_epochs, "phase1.total_epochs")?;
        ensure(p1.warmup_epochs < p1.total_epochs, "phase1.warmup_epochs", "must be below phase1.total_epochs")?;
        ensure(p1.checkpoint_every >= 1, "phase1.checkpoint_every", "must be >= 1")?;
        // The schedule rises through the warm-up and falls through the
        // cosine, so its smallest values are at epoch 0 and at the last
        // epoch; either may underflow to 0 (η₀/warmup_epochs, or
        // 1 + cos(π t) for t near 1), which HeavyBall::step refuses by panicking.
        for epoch in [0, p1.total_epochs - 1] {
            let lr = self.phase1_lr(epoch);
            ensure(
                lr > 0.0 && lr.is_finite(),
                "phase1.lr",
                format!(
                    "the schedule (phase1.lr = {}, warmup_epochs = {}, total_epochs = {}) gives η = {lr} at epoch {epoch}; every scheduled η must be > 0 and finite",
                    p1.lr, p1.warmup_epochs, p1.total_epochs
                ),
            )?;
        }
        let p2 = &self.phase2;
        ensure(p2.batch_size >= 1, "phase2.batch_size", "must be >= 1")?;
        ensure(p2.epochs >= 1, "phase2.epochs", "must be >= 1")?;
        require_count(p2.epochs, "phase2.epochs")?;
        ensure(!p2.lrs.is_empty(), "phase2.lrs", "must not be empty")?;
        require_each(&p2.lrs, |l| l > 0.0, "phase2.lrs", "every η > 0")?;
        distinct_in_ids("phase2.lrs", p2.lrs.iter().map(|&l| format!("lr{l}")))?;
        ensure(!p2.c_multipliers.is_empty(), "phase2.c_multipliers", "must not be empty")?;
        require_each(&p2.c_multipliers, |m| m > 0.0, "phase2.c_multipliers", "every multiplier > 0")?;
        distinct_in_ids("phase2.c_multipliers", p2.c_multipliers.iter().map(|&m| format!("m{m}")))?;
        require_f64(p2.c, p2.c > 0.0, "phase2.c", "> 0")?;
        require_f64(p2.gamma, p2.gamma > 0.0, "phase2.gamma", "> 0")?;
        ensure(p2.eval_every >= 1, "phase2.eval_every", "must be >= 1")?;
        ensure(p2.lrs.contains(&p2.fig4_lr), "phase2.fig4_lr", "must be one of phase2.lrs")?;
        require_f64(self.phase3.lr, self.phase3.lr > 0.0, "phase3.lr", "> 0")?;
        require_count(self.phase3.steps, "phase3.steps")?;
        // Sizes, before anything is allocated: the runs; the network (about
        // 2728 · base_width² parameters: 11,173,962 at width 64) with its
        // gradients, momenta and phase-1 copy in f32; the activations of a
        // forward and backward pass over a chunk or a batch (an estimate:
        // 32 × 32 × base_width per image for each of ~40 stored tensors); and
        // each run's curve points.
        within_runs(
            "run_seeds",
            &[("phase2.lrs", p2.lrs.len() as u64), ("phase2.c_multipliers", p2.c_multipliers.len() as u64), ("run_seeds", self.run_seeds.len() as u64)],
        )?;
        let width = self.base_width as u64;
        let images = (self.chunk_size as u64).max(p2.batch_size as u64);
        within_memory(
            "base_width",
            &[
                &[("2728 · base_width²", width.checked_mul(width).and_then(|w| w.checked_mul(2728)).unwrap_or(u64::MAX)), ("4 copies", 4), ("", 4)],
                &[("max(chunk_size, phase2.batch_size)", images), ("40 × 32 × 32", 40 * 32 * 32), ("base_width", width), ("", 4)],
                &[("curve points", p2.epochs / p2.eval_every + 2), ("", 16)],
            ],
        )?;
        for run in self.runs() {
            ensure(
                run.beta > 0.0 && run.beta < 1.0,
                "phase2.c_multipliers",
                format!("run {} has β = {} outside (0, 1)", run.id, run.beta),
            )?;
        }
        Ok(())
    }

    /// One job per phase-2 run (phase 1 is the shared setup every job needs).
    pub fn jobs(&self) -> Vec<Job> {
        self.runs().into_iter().map(|r| Job { id: r.id.clone(), runs: vec![r.id] }).collect()
    }

    /// Every phase-2 run: η-major in config order, then the multipliers,
    /// then the run seeds.
    pub fn runs(&self) -> Vec<ResnetRun> {
        let p2 = &self.phase2;
        let mut runs = Vec::new();
        for &lr in &p2.lrs {
            for &m in &p2.c_multipliers {
                let beta = 1.0 - m * p2.c * lr.powf(p2.gamma);
                for &seed in &self.run_seeds {
                    runs.push(ResnetRun { id: format!("lr{lr}-m{m}-s{seed}"), lr, beta, c_multiplier: m, seed });
                }
            }
        }
        runs
    }

    /// The phase-1 learning rate at `epoch` (0-based): linear warm-up from
    /// η₀/warmup to η₀, then cosine decay to 0 at `total_epochs`.
    pub fn phase1_lr(&self, epoch: u64) -> f64 {
        let p1 = &self.phase1;
        if epoch < p1.warmup_epochs {
            return p1.lr * (epoch + 1) as f64 / p1.warmup_epochs as f64;
        }
        let t = (epoch - p1.warmup_epochs) as f64 / (p1.total_epochs - p1.warmup_epochs) as f64;
        0.5 * p1.lr * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
    }
}

/// What phase 1 left: written to `setup/phase1.json` beside the checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phase1Summary {
    /// Epochs run (one full-batch step each).
    pub epochs: u64,
    /// Whether train accuracy reached 100% within `total_epochs`.
    pub reached_full_accuracy: bool,
    /// Train accuracy, training-mode forward (the criterion), at the end.
    pub train_accuracy: f64,
    /// Train accuracy in evaluation mode at the end.
    pub train_accuracy_eval: f64,
    /// Test accuracy in evaluation mode at the end, on the scored test images.
    pub test_accuracy: f64,
    /// The same on the curve's test images: the baseline of Fig. 4 and C14
    /// (NaN in a record written before this field existed).
    #[serde(default = "nan")]
    pub test_accuracy_curve: f64,
    /// Expected (label-noise averaged) loss, minus its minimum, at the end.
    pub expected_loss: f64,
    /// Trainable parameters of the network.
    pub parameters: usize,
    /// Wall time of phase 1 (this process only, if resumed).
    pub wall_seconds: f64,
    /// The data it ran on, in words (empty in a record written before this
    /// field existed).
    #[serde(default)]
    pub dataset: String,
    /// Test images: the sampling error of one accuracy is √(a(1 − a)/n_test)
    /// (0 in a record written before this field existed).
    #[serde(default)]
    pub n_test: usize,
    /// The curve's test images (0 in a record written before this field existed).
    #[serde(default)]
    pub n_test_curve: usize,
    /// Whether the data were CIFAR-10 (false: the Fashion-MNIST stand-in, or
    /// a record written before this field existed).
    #[serde(default)]
    pub is_cifar: bool,
}

fn nan() -> f64 {
    f64::NAN
}

/// The position of an interrupted phase, saved beside the model and optimizer
/// records, inside the checkpoint's manifest (`manifest.json`, written last,
/// with the records' SHA-256; `harness::setup::FileSet`): enough to continue
/// exactly where a straight-through run would be. The random streams need no
/// saved position: every epoch's data order and label noise come from a
/// ChaCha8 stream of (seed, stream, epoch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Epochs completed.
    pub epoch: u64,
    /// Optimizer steps completed.
    pub steps: u64,
    /// Epochs at which test accuracy was measured so far.
    pub eval_epochs: Vec<u64>,
    /// Test accuracy at those epochs.
    pub test_accuracy: Vec<f64>,
    /// Wall time spent before this checkpoint, over all processes.
    pub wall_seconds: f64,
}

/// One phase-2 + phase-3 run's result: `runs/<id>/summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResnetRunSummary {
    /// The run.
    pub run: ResnetRun,
    /// Epochs at which test accuracy was measured in phase 2 (0 = the phase-1 checkpoint).
    pub epochs: Vec<u64>,
    /// Test accuracy at those epochs, on the curve's test images (`curve_test_per_class`).
    #[serde(with = "crate::harness::real::vec")]
    pub test_accuracy: Vec<f64>,
    /// Best phase-2 test accuracy.
    #[serde(with = "crate::harness::real")]
    pub best_test_accuracy: f64,
    /// Train accuracy on the clean labels after phase 2 (eval mode).
    #[serde(with = "crate::harness::real")]
    pub train_accuracy_phase2: f64,
    /// Train accuracy after the phase-3 projection (eval mode).
    #[serde(with = "crate::harness::real")]
    pub train_accuracy_projected: f64,
    /// Test accuracy after the phase-3 projection: what eq. (14) is fitted to.
    #[serde(with = "crate::harness::real")]
    pub test_accuracy_projected: f64,
    /// Adam steps phase 3 took (it stops at 100% training-mode train accuracy).
    #[serde(default)]
    pub phase3_steps: u64,
    /// Set when the run diverged (a non-finite loss); then no accuracy is fitted.
    pub error: Option<String>,
    /// Wall time of this run (this process only, if resumed).
    #[serde(with = "crate::harness::real")]
    pub wall_seconds: f64,
    /// Where that time went (this process only): the cost model of
    /// docs/notes/resnet-scale.md is built from these.
    #[serde(default)]
    pub timing: RunTiming,
}

/// Seconds spent in each part of one run (this process only; 0 in a record
/// written before this existed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTiming {
    /// Phase-2 SGD steps (forward, backward, update), evaluations excluded.
    #[serde(with = "crate::harness::real")]
    pub phase2_steps: f64,
    /// Phase-2 SGD steps taken in this process.
    pub phase2_step_count: u64,
    /// Curve evaluations (BatchNorm recalibration on the training set plus
    /// accuracy on the curve's test images).
    #[serde(with = "crate::harness::real")]
    pub curve_evals: f64,
    /// Curve evaluations in this process.
    pub curve_eval_count: u64,
    /// Phase 3 (full-batch Adam steps).
    #[serde(with = "crate::harness::real")]
    pub phase3: f64,
    /// The final evaluation: recalibration, train accuracy, and accuracy on the scored test images.
    #[serde(with = "crate::harness::real")]
    pub final_eval: f64,
}

/// ResNet-18 on CIFAR-10, the three-phase protocol (Fig. 2, 4), as the harness runs it.
pub struct ResnetExp;

impl Experiment for ResnetExp {
    const NAME: &'static str = "resnet-cifar";
    const ABOUT: &'static str = "ResNet-18 on CIFAR-10 (Fashion-MNIST padded to 32×32 when CIFAR-10 is absent): Fig. 2, 4";
    type File = ResnetExperiment;
    type RunSummary = ResnetRunSummary;
    type Summary = ResnetSummary;

    /// Phase 1's initial weights are drawn from the backend's seeded generator.
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

    /// Phase 2's minibatch epochs and phase 3's full-batch steps, plus the
    /// evaluations (a forward pass is a third of a training step).
    fn job_cost(scale: &ResnetScale, _job: &Job) -> f64 {
        let (trained, evaluated) = scale.run_images();
        scale.flops_per_image() * (trained + evaluated / 3.0) / REFERENCE_FLOPS
    }

    /// Every full-batch epoch of phase 1's budget.
    fn setup_cost(scale: &ResnetScale) -> f64 {
        scale.flops_per_image() * scale.phase1_images() / REFERENCE_FLOPS
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, runs: Vec<ResnetRunSummary>) -> anyhow::Result<ResnetSummary> {
        ctx.file
            .rules
            .validate()
            .map_err(|(field, message)| anyhow::anyhow!("experiments/{}.toml: {field}: {message}", Self::NAME))?;
        let phase1: Phase1Summary =
            read_json(&ctx.out.join("setup").join("phase1.json")).context("phase 1 must be on disk once every run is")?;
        let mut summary = analyse(ctx.scale_name, ctx.file, &phase1, runs, ctx.backend);
        summary.header.figures = figures::write_figures(&summary, ctx.out).context("writing the ResNet figures")?;
        Ok(summary)
    }

    fn header(summary: &ResnetSummary) -> &SummaryHeader {
        &summary.header
    }

    fn header_mut(summary: &mut ResnetSummary) -> &mut SummaryHeader {
        &mut summary.header
    }

    fn headline(s: &ResnetSummary) -> String {
        format!(
            "{}; phase 1 {} epochs (100% train accuracy: {}), {} runs, slope {}",
            s.header.dataset,
            s.phase1.epochs,
            s.phase1.reached_full_accuracy,
            s.runs.len(),
            s.slope.map_or("-".into(), |x| format!("{x:.3} ± {:.3}", s.slope_stderr.unwrap_or(f64::NAN))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lr: f64, beta: f64, acc: f64) -> ResnetRunSummary {
        ResnetRunSummary {
            run: ResnetRun { id: format!("lr{lr}-b{beta}"), lr, beta, c_multiplier: 1.0, seed: 0 },
            epochs: vec![0, 1, 2, 3],
            test_accuracy: vec![0.8, 0.75, 0.82, 0.85],
            best_test_accuracy: 0.85,
            train_accuracy_phase2: 1.0,
            train_accuracy_projected: 1.0,
            test_accuracy_projected: acc,
            phase3_steps: 0,
            error: None,
            wall_seconds: 0.0,
            timing: RunTiming::default(),
        }
    }

    /// Synthetic accuracies that peak exactly on 1 − β = 0.5 η^(2/3) give slope 2/3 and C = 0.5.
    #[test]
    fn beta_star_and_slope_recover_a_planted_law() {
        let lrs = [0.01, 0.03, 0.1];
        let mut runs = Vec::new();
        for &lr in &lrs {
            let star: f64 = 0.5 * f64::powf(lr, 2.0 / 3.0);
            for m in [0.25, 0.5, 1.0, 2.0, 4.0] {
                let om: f64 = m * star;
                let acc = 0.9 - 0.01 * (om.ln() - star.ln()).powi(2);
                runs.push(run(lr, 1.0 - om, acc));
            }
        }
        let mut scale = experiment().smoke;
        scale.phase2.lrs = lrs.to_vec();
        let stars = beta_stars(&scale, &runs);
        for s in &stars {
            let want = 1.0 - 0.5 * s.lr.powf(2.0 / 3.0);
            assert!((s.beta_star.unwrap() - want).abs() < 1e-9, "{s:?}");
        }
        let fit = fit_slope(&stars).unwrap();
        assert!((fit.slope - 2.0 / 3.0).abs() < 1e-9);
        assert!((crate::harness::beta_star::c_fit(&stars).unwrap() - 0.5).abs() < 1e-9);
    }

    /// A scale whose grid brackets a vertex anywhere in 1 − β ∈ [0.015, 0.37]
    /// at every η, with two run seeds.
    fn wide_scale() -> ResnetScale {
        let mut scale = experiment().smoke;
        scale.phase2.lrs = vec![0.01, 0.02, 0.04];
        scale.phase2.c = 1.0;
        scale.phase2.c_multipliers = vec![0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];
        scale.phase2.fig4_lr = 0.02;
        scale.run_seeds = vec![0, 1];
        scale.validate().unwrap();
        scale
    }

    /// Every run of `scale` with its projected accuracy from `acc`.
    fn synthetic(scale: &ResnetScale, acc: impl Fn(&ResnetRun) -> f64) -> Vec<ResnetRunSummary> {
        scale
            .runs()
            .into_iter()
            .map(|r| {
                let mut s = run(r.lr, r.beta, acc(&r));
                s.run = r;
                s
            })
            .collect()
    }

    /// eq. (14) with its vertex at 1 − β* = `star(η)`, plus a small
    /// deterministic seed-and-point "noise" so that every fit has residuals.
    fn peaked(r: &ResnetRun, star: impl Fn(f64) -> f64) -> f64 {
        let wiggle = 0.0004 * (((r.seed * 7 + (r.c_multiplier * 8.0) as u64 * 3) % 5) as f64 - 2.0);
        0.9 - 0.01 * ((1.0 - r.beta).ln() - star(r.lr).ln()).powi(2) + wiggle
    }

    fn phase1(is_cifar: bool) -> Phase1Summary {
        Phase1Summary {
            epochs: 40,
            reached_full_accuracy: true,
            train_accuracy: 1.0,
            train_accuracy_eval: 1.0,
            test_accuracy: 0.8,
            test_accuracy_curve: 0.8,
            expected_loss: 0.0,
            parameters: 0,
            wall_seconds: 0.0,
            dataset: String::new(),
            n_test: 10_000,
            n_test_curve: 500,
            is_cifar,
        }
    }

    fn judged(scale: &ResnetScale, runs: &[ResnetRunSummary]) -> Vec<Criterion> {
        let exp = experiment();
        let stars = beta_stars(scale, runs);
        let slope = fit_slope(&stars);
        let c = c_with_stderr(&stars, exp.rules.c_min_interior_lrs);
        criteria(scale, &exp.rules, &phase1(false), &stars, &slope, &c, runs)
    }

    fn row<'a>(rows: &'a [Criterion], id: &str) -> &'a Criterion {
        rows.iter().find(|c| c.id == id).unwrap()
    }

    /// The grid runs every (η, β) once per run seed, with unique ids, and the
    /// seeds' scores are averaged with a standard error.
    #[test]
    fn seeds_are_averaged_with_standard_errors() {
        let scale = wide_scale();
        let runs = scale.runs();
        assert_eq!(runs.len(), 3 * 7 * 2);
        let mut ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), runs.len());
        let runs = synthetic(&scale, |r| 0.5 + 0.1 * r.seed as f64);
        for star in beta_stars(&scale, &runs) {
            for p in &star.points {
                assert_eq!(p.seeds, 2);
                assert!((p.score - 0.55).abs() < 1e-12 && (p.stderr.unwrap() - 0.05).abs() < 1e-12, "{p:?}");
            }
        }
        let per_seed = beta_stars_per_seed(&scale, &runs);
        assert_eq!(per_seed.iter().map(|p| p.seed).collect::<Vec<_>>(), [0, 1]);
        assert!(per_seed[1].beta_star[0].points.iter().all(|p| (p.score - 0.6).abs() < 1e-12));
        let mut bad = scale.clone();
        bad.run_seeds = vec![3, 3];
        assert_eq!(bad.validate().unwrap_err().0, "run_seeds");
    }

    /// C12 on a planted 2/3 law holds; negative controls: planted slopes 0
    /// and 1 (1 − β* constant, 1 − β* ∝ η) are judged false, not 2/3.
    #[test]
    fn c12_holds_on_two_thirds_and_fails_on_other_slopes() {
        let scale = wide_scale();
        type Law = fn(f64) -> f64;
        let cases: [(f64, Law, Option<bool>); 3] = [
            (2.0 / 3.0, |lr| lr.powf(2.0 / 3.0), Some(true)),
            (0.0, |_| 0.05, Some(false)),
            (1.0, |lr| 2.0 * lr, Some(false)),
        ];
        for (want, star, verdict) in cases {
            let rows = judged(&scale, &synthetic(&scale, |r| peaked(r, star)));
            let c12 = row(&rows, "C12");
            assert!((c12.measured.unwrap() - want).abs() < 0.05, "planted {want}: {c12:?}");
            assert!(c12.uncertainty.unwrap() < 0.05, "{c12:?}");
            assert_eq!(c12.holds, verdict, "planted {want}: {c12:?}");
            assert_eq!(c12.kind, ClaimKind::Empirical);
            assert_eq!(c12.theory, Some(GAMMA_OPT));
        }
    }

    /// The C12 rule itself: far off is false whatever the SE, close but too
    /// coarse is n/a, close and fine holds; the tolerance widens with the SE.
    #[test]
    fn c12_rule_reads_the_rules_table() {
        let rules = experiment().rules;
        assert_eq!(judge_slope(0.0, 0.01, &rules), Some(false));
        assert_eq!(judge_slope(0.7, 0.05, &rules), Some(true));
        assert_eq!(judge_slope(0.7, 0.5, &rules), None);
        assert_eq!(judge_slope(0.95, 0.05, &rules), Some(false), "0.28 off > 0.15 + 2·0.05");
        assert_eq!(judge_slope(0.95, 0.1, &rules), Some(true), "0.28 off ≤ 0.15 + 2·0.1");
        assert_eq!(judge_slope(f64::NAN, 0.1, &rules), Some(false));
    }

    /// With the vertex outside the grid at one η only two β* are interior:
    /// C12 is n/a (never a slope from an extrapolated vertex), C13 has a value
    /// with a standard error; with one interior β* C13 has none.
    #[test]
    fn c12_na_and_c13_needs_two_interior() {
        let scale = wide_scale();
        // 1 − β* = 2 at η = 0.04: beyond its grid (1 − β ≤ 0.94), so its vertex is extrapolated.
        let two = synthetic(&scale, |r| peaked(r, |lr| if lr > 0.03 { 2.0 } else { lr.powf(2.0 / 3.0) }));
        let rows = judged(&scale, &two);
        assert_eq!(row(&rows, "C12").holds, None);
        assert_eq!(row(&rows, "C12").measured, None);
        let c13 = row(&rows, "C13");
        assert!((c13.measured.unwrap() - 1.0).abs() < 0.05, "{c13:?}");
        assert!(c13.uncertainty.unwrap() > 0.0 && c13.uncertainty.unwrap() < 0.1, "{c13:?}");
        assert_eq!(c13.holds, None);
        let one = synthetic(&scale, |r| peaked(r, |lr| if lr > 0.015 { 2.0 } else { lr.powf(2.0 / 3.0) }));
        let rows = judged(&scale, &one);
        assert_eq!(row(&rows, "C13").measured, None);
        assert_eq!(row(&rows, "C13").uncertainty, None);
    }

    /// C's standard error grows with the scatter of the β* about the 2/3 law.
    #[test]
    fn c13_stderr_reflects_scatter() {
        let scale = wide_scale();
        let on = c_with_stderr(&beta_stars(&scale, &synthetic(&scale, |r| peaked(r, |lr| 0.5 * lr.powf(2.0 / 3.0)))), 2).unwrap();
        let off = c_with_stderr(&beta_stars(&scale, &synthetic(&scale, |r| peaked(r, |_| 0.05))), 2).unwrap();
        assert!((on.c - 0.5).abs() < 0.02, "{on:?}");
        assert!(off.stderr / off.c > 5.0 * on.stderr / on.c, "{on:?} {off:?}");
    }

    fn curve_run(seed: u64, accs: &[f64]) -> ResnetRunSummary {
        let mut r = run(0.05, 0.9, 0.8);
        r.run.seed = seed;
        r.epochs = (0..=accs.len() as u64).collect();
        r.test_accuracy = std::iter::once(0.8).chain(accs.iter().copied()).collect();
        r
    }

    /// C14: a dip then a rise beyond 2 SE holds; negative controls: a curve
    /// with no dip, a dip without a rise, and a dip inside the noise do not.
    #[test]
    fn c14_dip_and_rise_are_judged_against_two_standard_errors() {
        let k = experiment().rules.dip_rise_se_multiple;
        let judge = |a: &[f64], b: &[f64]| {
            let (ra, rb) = (curve_run(0, a), curve_run(1, b));
            let curve = mean_curve(&[&ra, &rb], 500).unwrap();
            assert!(curve.stderr_kind.contains("2 run seeds"));
            dip_then_rise(&curve, 0.8, k)
        };
        let yes = judge(&[0.70, 0.80, 0.86], &[0.72, 0.81, 0.88]);
        assert!(yes.dip && yes.rise && (yes.best_gain - 0.07).abs() < 1e-12, "{yes:?}");
        let no_dip = judge(&[0.81, 0.84, 0.86], &[0.82, 0.85, 0.88]);
        assert!(!no_dip.dip && !no_dip.rise, "{no_dip:?}");
        let no_rise = judge(&[0.70, 0.75, 0.79], &[0.72, 0.76, 0.80]);
        assert!(no_rise.dip && !no_rise.rise, "{no_rise:?}");
        // Seeds that disagree: the mean dips 3 points, but the seed SE is 5.
        let noisy = judge(&[0.72, 0.80, 0.86], &[0.82, 0.81, 0.88]);
        assert!(!noisy.dip, "{noisy:?}");
        // One seed: the binomial SE on 500 images (≈ 1.8 points) decides.
        let one = mean_curve(&[&curve_run(0, &[0.79, 0.83])], 500).unwrap();
        assert!(one.stderr_kind.contains("binomial"));
        assert!(!dip_then_rise(&one, 0.8, k).dip, "1 point below is inside 2 binomial SE");
        let one = mean_curve(&[&curve_run(0, &[0.70, 0.90])], 500).unwrap();
        let d = dip_then_rise(&one, 0.8, k);
        assert!(d.dip && d.rise, "{d:?}");
    }

    /// C11 is a pipeline check below the paper's scale (stand-in data or a
    /// shorter schedule), empirical only on CIFAR-10 at the paper's scale.
    #[test]
    fn c11_is_a_pipeline_check_at_stand_in_scales() {
        let exp = experiment();
        let c11 = |scale: &ResnetScale, p1: &Phase1Summary| {
            let stars = beta_stars(scale, &[]);
            criteria(scale, &exp.rules, p1, &stars, &fit_slope(&stars), &c_with_stderr(&stars, 2), &[]).remove(0)
        };
        assert_eq!(c11(&exp.cpu, &phase1(false)).kind, ClaimKind::Pipeline);
        assert_eq!(c11(&exp.cpu, &phase1(true)).kind, ClaimKind::Pipeline, "CIFAR-10 at a short schedule");
        assert_eq!(c11(&exp.paper, &phase1(false)).kind, ClaimKind::Pipeline, "stand-in data at the paper's schedule");
        assert_eq!(c11(&exp.paper, &phase1(true)).kind, ClaimKind::Empirical);
    }

    /// The file's rules validate; a rule out of range is refused naming its field.
    #[test]
    fn rules_are_validated() {
        let rules = experiment().rules;
        rules.validate().unwrap();
        assert_eq!(ResnetRules { min_interior_lrs: 2, ..rules.clone() }.validate().unwrap_err().0, "rules.min_interior_lrs");
        assert_eq!(ResnetRules { fixed: " ".into(), ..rules.clone() }.validate().unwrap_err().0, "rules.fixed");
        assert_eq!(ResnetRules { dip_rise_se_multiple: 0.0, ..rules }.validate().unwrap_err().0, "rules.dip_rise_se_multiple");
    }

    fn experiment() -> ResnetExperiment {
        ResnetExperiment::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments/resnet-cifar.toml"))).unwrap()
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        let exp = experiment();
        let mut s = exp.paper.clone();
        s.phase1.lr = 1.0;
        s.phase1.warmup_epochs = 600;
        s.phase1.total_epochs = 2000;
        assert!((s.phase1_lr(599) - 1.0).abs() < 1e-12);
        assert!((s.phase1_lr(0) - 1.0 / 600.0).abs() < 1e-12);
        assert!((s.phase1_lr(1300) - 0.5).abs() < 1e-12);
        assert!(s.phase1_lr(2000).abs() < 1e-12);
        for scale in [Scale::Smoke, Scale::Cpu, Scale::Paper] {
            exp.scale(scale).validate().unwrap();
        }
    }
}

crate::harness::config::experiment_file!(ResnetExperiment, ResnetScale, rules);
