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
use crate::harness::claims::SummaryHeader;
pub use crate::harness::config::ConfigError;
pub use crate::harness::claims::{Criterion, FigureRef};
use crate::harness::io::read_json;
use crate::harness::beta_star::{self, BetaStarAtLr, GridPoint, SlopeFit, fit_beta_star_at, fit_slope};
use crate::harness::plan::Job;
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
    /// Test images per class (0: all).
    pub test_per_class: usize,
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
    /// Seed of the initial weights (phase 1) and of every run's streams.
    pub seed: u64,
    /// Phase 1.
    pub phase1: Phase1,
    /// Phase 2.
    pub phase2: Phase2,
    /// Phase 3.
    pub phase3: Phase3,
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
    /// Stable id, e.g. `lr0.05-m1`: its directory under `runs/`.
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
    /// Checks every field; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        ensure(self.base_width >= 1, "base_width", "must be >= 1")?;
        ensure(
            (0.0..1.0).contains(&self.label_noise_prob),
            "label_noise_prob",
            format!("{} must be in [0, 1)", self.label_noise_prob),
        )?;
        ensure(self.chunk_size >= 1, "chunk_size", "must be >= 1")?;
        let p1 = &self.phase1;
        ensure(p1.lr > 0.0 && p1.lr.is_finite(), "phase1.lr", format!("{} must be > 0", p1.lr))?;
        ensure((0.0..1.0).contains(&p1.momentum), "phase1.momentum", format!("{} must be in [0, 1)", p1.momentum))?;
        ensure(p1.total_epochs >= 1, "phase1.total_epochs", "must be >= 1")?;
        ensure(p1.warmup_epochs < p1.total_epochs, "phase1.warmup_epochs", "must be below phase1.total_epochs")?;
        ensure(p1.checkpoint_every >= 1, "phase1.checkpoint_every", "must be >= 1")?;
        let p2 = &self.phase2;
        ensure(p2.batch_size >= 1, "phase2.batch_size", "must be >= 1")?;
        ensure(p2.epochs >= 1, "phase2.epochs", "must be >= 1")?;
        ensure(!p2.lrs.is_empty(), "phase2.lrs", "must not be empty")?;
        ensure(p2.lrs.iter().all(|&l| l > 0.0 && l.is_finite()), "phase2.lrs", "every η must be > 0")?;
        ensure(!p2.c_multipliers.is_empty(), "phase2.c_multipliers", "must not be empty")?;
        ensure(p2.c > 0.0, "phase2.c", "must be > 0")?;
        ensure(p2.gamma > 0.0, "phase2.gamma", "must be > 0")?;
        ensure(p2.eval_every >= 1, "phase2.eval_every", "must be >= 1")?;
        ensure(p2.lrs.contains(&p2.fig4_lr), "phase2.fig4_lr", "must be one of phase2.lrs")?;
        for run in self.runs() {
            ensure(
                run.beta > 0.0 && run.beta < 1.0,
                "phase2.c_multipliers",
                format!("run {} has β = {} outside (0, 1)", run.id, run.beta),
            )?;
        }
        ensure(self.phase3.lr > 0.0, "phase3.lr", "must be > 0")?;
        Ok(())
    }

    /// One job per phase-2 run (phase 1 is the shared setup every job needs).
    pub fn jobs(&self) -> Vec<Job> {
        self.runs().into_iter().map(|r| Job { id: r.id.clone(), runs: vec![r.id] }).collect()
    }

    /// Every phase-2 run, η-major in config order.
    pub fn runs(&self) -> Vec<ResnetRun> {
        let p2 = &self.phase2;
        let mut runs = Vec::new();
        for (i, &lr) in p2.lrs.iter().enumerate() {
            for (j, &m) in p2.c_multipliers.iter().enumerate() {
                let beta = 1.0 - m * p2.c * lr.powf(p2.gamma);
                runs.push(ResnetRun {
                    id: format!("lr{lr}-m{m}"),
                    lr,
                    beta,
                    c_multiplier: m,
                    seed: self.seed.wrapping_add(1 + (i * p2.c_multipliers.len() + j) as u64),
                });
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
    /// Test accuracy in evaluation mode at the end: the baseline of Fig. 4.
    pub test_accuracy: f64,
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
}

/// The position of an interrupted phase, saved beside the model and optimizer
/// records (`state.json`, written last and atomically): enough to continue
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
    /// Test accuracy at those epochs.
    pub test_accuracy: Vec<f64>,
    /// Best phase-2 test accuracy.
    pub best_test_accuracy: f64,
    /// Train accuracy on the clean labels after phase 2 (eval mode).
    pub train_accuracy_phase2: f64,
    /// Train accuracy after the phase-3 projection (eval mode).
    pub train_accuracy_projected: f64,
    /// Test accuracy after the phase-3 projection: what eq. (14) is fitted to.
    pub test_accuracy_projected: f64,
    /// Adam steps phase 3 took (it stops at 100% training-mode train accuracy).
    #[serde(default)]
    pub phase3_steps: u64,
    /// Set when the run diverged (a non-finite loss); then no accuracy is fitted.
    pub error: Option<String>,
    /// Wall time of this run (this process only, if resumed).
    pub wall_seconds: f64,
}

/// ResNet-18 on CIFAR-10, the three-phase protocol (Fig. 2, 4), as the harness runs it.
pub struct ResnetExp;

impl Experiment for ResnetExp {
    const NAME: &'static str = "resnet-cifar";
    const ABOUT: &'static str = "ResNet-18 on CIFAR-10 (Fashion-MNIST padded to 32×32 when CIFAR-10 is absent): Fig. 2, 4";
    type File = ResnetExperiment;
    type RunSummary = ResnetRunSummary;
    type Summary = ResnetSummary;

    #[cfg(feature = "train")]
    fn train(ctx: &TrainCtx<'_, Self>, todo: &[&Job]) -> anyhow::Result<()> {
        train::train(ctx, todo)
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, runs: Vec<ResnetRunSummary>) -> anyhow::Result<ResnetSummary> {
        let phase1: Phase1Summary =
            read_json(&ctx.out.join("setup").join("phase1.json")).context("phase 1 must be on disk once every run is")?;
        let mut summary = analyse(ctx.scale_name, ctx.file, &phase1, runs, ctx.backend);
        summary.header.figures = figures::write_figures(&summary, ctx.out).context("writing the ResNet figures")?;
        Ok(summary)
    }

    fn header(summary: &ResnetSummary) -> &SummaryHeader {
        &summary.header
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
        assert!((beta_star::c_fit(&stars).unwrap() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn dip_then_rise_reads_fig4() {
        let r = run(0.1, 0.9, 0.0);
        assert_eq!(dip_then_rise(&r, 0.8).0, true);
        assert_eq!(dip_then_rise(&r, 0.8).1, true);
        assert!((dip_then_rise(&r, 0.8).2 - 0.05).abs() < 1e-12);
        assert_eq!(dip_then_rise(&r, 0.9).1, false);
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

crate::harness::config::experiment_file!(ResnetExperiment, ResnetScale);
