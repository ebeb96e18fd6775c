//! Beyond the paper (issue 16): does the rule 1 − β = C·η^(2/3) help under
//! the decaying learning-rate schedules everyone trains with?
//!
//! The paper studies a constant η near the valley (Sec. 3). Under a schedule
//! the rule raises β toward 1 as η decays, so the effective rate
//! η/(1 − β) = η^(1/3)/C falls much more slowly than η. This experiment
//! trains the Fashion-MNIST MLP from scratch with five momentum arms under
//! three schedules, with and without label noise, and compares the arms by
//! final test accuracy, epochs to a fixed accuracy and the Hessian trace at
//! the end, with seeds as the unit of replication. Its criteria (B1–B5) are
//! fixed in `experiments/schedules.toml` before the runs, and the report
//! lists them under "beyond the paper", apart from the paper's C1–C15.

mod analyse;
pub mod figures;
#[cfg(feature = "train")]
pub mod train;

pub use analyse::*;
use flatter_optim::{CSource, MomentumRule};
use serde::{Deserialize, Serialize};

#[cfg(feature = "train")]
use crate::harness::TrainCtx;
use crate::harness::claims::SummaryHeader;
use crate::harness::config::{Invalid, require, require_f64, within_memory, within_runs};
use crate::harness::plan::{Job, REFERENCE_FLOPS};
use crate::harness::{AnalyseCtx, Experiment, GAMMA_OPT};

/// Classes of Fashion-MNIST.
pub const CLASSES: usize = 10;

/// A learning-rate schedule, as a function of the step (see [`Shapes::lr`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// Linear warm-up, then cosine decay to a floor.
    Cosine,
    /// Constant, then multiplied by a factor at each milestone.
    Step,
    /// PyTorch's `OneCycleLR` (cosine annealing, its defaults).
    OneCycle,
}

impl LrSchedule {
    /// Its name in run ids and the report.
    pub fn name(self) -> &'static str {
        match self {
            LrSchedule::Cosine => "cosine",
            LrSchedule::Step => "step",
            LrSchedule::OneCycle => "one_cycle",
        }
    }
}

/// With or without label noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Cross-entropy on the true labels.
    Clean,
    /// Cross-entropy on labels flipped to a uniformly drawn wrong class with
    /// probability `label_noise_prob`, fresh every step.
    Noisy,
}

impl Task {
    /// Its name in run ids and the report.
    pub fn name(self) -> &'static str {
        match self {
            Task::Clean => "clean",
            Task::Noisy => "noisy",
        }
    }
}

/// A momentum arm. Every arm is heavy ball (eq. 1) with the same peak η.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// β = `fixed_beta` (0.9) whatever η: the usual default.
    Fixed,
    /// The rule 1 − β = C·η^(2/3) with C such that β = `fixed_beta` at the peak η.
    RulePeak,
    /// The rule with the C that `MomentumRule::advised` (`cargo xtask advise`)
    /// gives from the data statistics (C* of eq. 10). Label-noise task only:
    /// without noise advise has no statistics and falls back to the peak
    /// anchor, which is [`Arm::RulePeak`].
    RuleAdvised,
    /// The one-cycle policy's momentum, β linear in η between `cycled_betas`.
    Cycled,
    /// Plain SGD, β = 0.
    Sgd,
}

impl Arm {
    /// Its name in run ids.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Fixed => "fixed",
            Arm::RulePeak => "rule_peak",
            Arm::RuleAdvised => "rule_advised",
            Arm::Cycled => "cycled",
            Arm::Sgd => "sgd",
        }
    }

    /// Its label in figures and tables.
    pub fn label(self, scale: &SchedScale) -> String {
        match self {
            Arm::Fixed => format!("fixed β = {}", scale.fixed_beta),
            Arm::RulePeak => format!("rule, β = {} at the peak", scale.fixed_beta),
            Arm::RuleAdvised => "rule, C* from advise".into(),
            Arm::Cycled => format!("one-cycle β ∈ [{}, {}]", scale.cycled_betas[0], scale.cycled_betas[1]),
            Arm::Sgd => "SGD (β = 0)".into(),
        }
    }
}

/// The shapes of the schedules: every number that defines them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shapes {
    /// Cosine: the share of the steps spent warming up linearly.
    pub warmup_fraction: f64,
    /// Cosine: the warm-up starts at peak × this.
    pub warmup_start: f64,
    /// Cosine: the decay ends at peak × this (above 0: the rule needs η > 0).
    pub cosine_floor: f64,
    /// Step: the shares of the steps at which η is multiplied by `step_factor`.
    pub step_milestones: Vec<f64>,
    /// Step: the factor at each milestone.
    pub step_factor: f64,
    /// One-cycle: the share of the steps rising to the peak (PyTorch: 0.3).
    pub one_cycle_pct_start: f64,
    /// One-cycle: it starts at peak / this (PyTorch: 25).
    pub one_cycle_div_factor: f64,
    /// One-cycle: it ends at peak / div_factor / this (PyTorch: 1e4).
    pub one_cycle_final_div_factor: f64,
}

/// PyTorch's cosine annealing from `start` to `end` at `pct` ∈ [0, 1].
fn anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
}

impl Shapes {
    /// The learning rate of step `step` (0-based) of `total`, peak `peak`.
    pub fn lr(&self, schedule: LrSchedule, peak: f64, step: u64, total: u64) -> f64 {
        let (t, n) = (step as f64, total as f64);
        match schedule {
            LrSchedule::Cosine => {
                let warm = (self.warmup_fraction * n).round();
                if t < warm {
                    peak * (self.warmup_start + (1.0 - self.warmup_start) * t / warm)
                } else {
                    let progress = if n > warm { (t - warm) / (n - warm) } else { 1.0 };
                    peak * (self.cosine_floor + (1.0 - self.cosine_floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
                }
            }
            LrSchedule::Step => {
                let passed = self.step_milestones.iter().filter(|&&m| t >= (m * n).round()).count();
                peak * self.step_factor.powi(passed as i32)
            }
            LrSchedule::OneCycle => {
                // torch.optim.lr_scheduler.OneCycleLR, anneal_strategy="cos", three_phase=False.
                let initial = peak / self.one_cycle_div_factor;
                let min = initial / self.one_cycle_final_div_factor;
                let end_up = self.one_cycle_pct_start * n - 1.0;
                if t <= end_up {
                    anneal(initial, peak, if end_up > 0.0 { t / end_up } else { 1.0 })
                } else {
                    anneal(peak, min, ((t - end_up) / (n - 1.0 - end_up)).min(1.0))
                }
            }
        }
    }

    /// The smallest learning rate the schedule visits (for validating the rules).
    pub fn min_lr(&self, schedule: LrSchedule, peak: f64) -> f64 {
        match schedule {
            LrSchedule::Cosine => peak * self.warmup_start.min(self.cosine_floor),
            LrSchedule::Step => peak * self.step_factor.powi(self.step_milestones.len() as i32),
            LrSchedule::OneCycle => peak / self.one_cycle_div_factor / self.one_cycle_final_div_factor,
        }
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), Invalid> {
        require_f64(self.warmup_fraction, (0.0..1.0).contains(&self.warmup_fraction), "shapes.warmup_fraction", "in [0, 1)")?;
        require_f64(self.warmup_start, self.warmup_start > 0.0 && self.warmup_start <= 1.0, "shapes.warmup_start", "in (0, 1]")?;
        require_f64(self.cosine_floor, self.cosine_floor > 0.0 && self.cosine_floor < 1.0, "shapes.cosine_floor", "in (0, 1)")?;
        require(
            self.step_milestones.iter().all(|m| m.is_finite() && *m > 0.0 && *m < 1.0) && self.step_milestones.windows(2).all(|w| w[0] < w[1]),
            "shapes.step_milestones",
            "expected increasing values in (0, 1)",
        )?;
        require_f64(self.step_factor, self.step_factor > 0.0 && self.step_factor < 1.0, "shapes.step_factor", "in (0, 1)")?;
        require_f64(self.one_cycle_pct_start, self.one_cycle_pct_start > 0.0 && self.one_cycle_pct_start < 1.0, "shapes.one_cycle_pct_start", "in (0, 1)")?;
        require_f64(self.one_cycle_div_factor, self.one_cycle_div_factor >= 1.0, "shapes.one_cycle_div_factor", ">= 1")?;
        require_f64(self.one_cycle_final_div_factor, self.one_cycle_final_div_factor >= 1.0, "shapes.one_cycle_final_div_factor", ">= 1")
    }
}

/// One scale of the experiment. Every value that matters is here; none has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedScale {
    /// Training images per class (6000: the whole training split).
    pub train_per_class: usize,
    /// Test images per class (1000: the whole test split).
    pub test_per_class: usize,
    /// Seed of the class-balanced subsets (unused when both are whole).
    pub subset_seed: u64,
    /// Seeds: each initialises the weights (its Weights stream) and draws the
    /// data order and the label flips (its DataOrder and LabelNoise streams).
    /// Every arm sees the same seeds, so arms are compared seed by seed.
    pub run_seeds: Vec<u64>,
    /// The five hidden widths of the 6-layer MLP (Fig. 5's network).
    pub widths: Vec<usize>,
    /// Minibatch size.
    pub batch_size: usize,
    /// Epochs per run.
    pub epochs: u64,
    /// The peak learning rate, the same for every arm.
    pub peak_lr: f64,
    /// Label-flip probability of the noisy task.
    pub label_noise_prob: f64,
    /// The schedules trained.
    pub schedules: Vec<LrSchedule>,
    /// The tasks trained.
    pub tasks: Vec<Task>,
    /// The arms trained.
    pub arms: Vec<Arm>,
    /// β of the fixed arm, and of the rule's arm at the peak.
    pub fixed_beta: f64,
    /// The one-cycle arm's β at the peak and as η → 0 (PyTorch: 0.85, 0.95).
    pub cycled_betas: [f64; 2],
    /// "Epochs to target" is the first epoch whose test accuracy reaches this.
    pub accuracy_target: f64,
    /// Training images per class on which the Hessian trace is taken (the
    /// first of each class in a seeded order).
    pub hessian_per_class: usize,
    /// Rademacher probes of Hutchinson's estimator.
    pub hessian_probes: usize,
    /// Central-difference step per coordinate of Hv.
    pub hessian_eps: f64,
    /// The schedules' shapes.
    pub shapes: Shapes,
}

/// The per-coordinate standard deviation of one-hot targets under uniform
/// flips with probability p among K classes: the root mean square over the
/// K coordinates of the target's standard deviation, √((p(1−p) + (K−1)q(1−q))/K)
/// with q = p/(K−1). It is the ε a user gives `advise` for a classifier
/// (eq. 10 is derived for Gaussian target noise of standard deviation ε).
pub fn flip_noise_std(p: f64, classes: usize) -> f64 {
    let k = classes as f64;
    let q = p / (k - 1.0);
    ((p * (1.0 - p) + (k - 1.0) * q * (1.0 - q)) / k).sqrt()
}

impl SchedScale {
    /// Training images in total.
    pub fn train_size(&self) -> usize {
        CLASSES * self.train_per_class
    }

    /// Minibatch steps per epoch (the last, short batch is kept).
    pub fn steps_per_epoch(&self) -> u64 {
        self.train_size().div_ceil(self.batch_size) as u64
    }

    /// Steps per run.
    pub fn total_steps(&self) -> u64 {
        self.epochs * self.steps_per_epoch()
    }

    /// What `advise` says for the label-noise task at the peak: C* of eq. (10)
    /// from n, ε = [`flip_noise_std`], σ_x² = 1 (standardised pixels), κ = 1.
    pub fn advised_source(&self) -> CSource {
        CSource::DataStatistics {
            n_train: self.train_size(),
            label_noise: flip_noise_std(self.label_noise_prob, CLASSES),
            sigma_x2: 1.0,
            kappa: 1.0,
        }
    }

    /// The momentum rule of an arm.
    pub fn rule(&self, arm: Arm) -> Result<MomentumRule, String> {
        match arm {
            Arm::Fixed => MomentumRule::fixed(self.fixed_beta),
            Arm::RulePeak => MomentumRule::scaled_through(self.peak_lr, self.fixed_beta, GAMMA_OPT),
            Arm::RuleAdvised => return MomentumRule::advised(self.peak_lr, GAMMA_OPT, self.advised_source()).map(|a| a.rule).map_err(|e| e.to_string()),
            Arm::Cycled => MomentumRule::cycled(self.cycled_betas[0], self.cycled_betas[1], self.peak_lr),
            Arm::Sgd => MomentumRule::fixed(0.0),
        }
        .map_err(|e| e.to_string())
    }

    /// The arms run for a task: every arm, less `rule_advised` without label noise.
    pub fn arms_for(&self, task: Task) -> Vec<Arm> {
        self.arms.iter().copied().filter(|&a| !(a == Arm::RuleAdvised && task == Task::Clean)).collect()
    }

    /// Checks every field's range; the error names the field and the expectation.
    pub fn validate(&self) -> Result<(), Invalid> {
        require((1..=6000).contains(&self.train_per_class), "train_per_class", "expected 1..=6000")?;
        require((1..=1000).contains(&self.test_per_class), "test_per_class", "expected 1..=1000")?;
        require(self.widths.len() == 5 && self.widths.iter().all(|&w| (1..=65_536).contains(&w)), "widths", "expected 5 widths, each in 1..=65536")?;
        require(self.batch_size >= 1 && self.batch_size <= self.train_size(), "batch_size", "expected 1 <= batch_size <= the training set")?;
        require((1..=100_000).contains(&self.epochs), "epochs", "expected 1..=100000")?;
        require_f64(self.peak_lr, self.peak_lr > 0.0 && self.peak_lr <= 10.0, "peak_lr", "in (0, 10]")?;
        require_f64(self.label_noise_prob, self.label_noise_prob > 0.0 && self.label_noise_prob < 0.9, "label_noise_prob", "in (0, 0.9)")?;
        let distinct = |n: usize, mut v: Vec<String>| {
            v.sort();
            v.dedup();
            n >= 1 && v.len() == n
        };
        require(distinct(self.schedules.len(), self.schedules.iter().map(|s| s.name().into()).collect()), "schedules", "expected at least one, without repeats")?;
        require(distinct(self.tasks.len(), self.tasks.iter().map(|s| s.name().into()).collect()), "tasks", "expected at least one, without repeats")?;
        require(distinct(self.arms.len(), self.arms.iter().map(|s| s.name().into()).collect()), "arms", "expected at least one, without repeats")?;
        let mut seeds = self.run_seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        require(seeds.len() == self.run_seeds.len() && seeds.len() >= 2, "run_seeds", "expected at least 2 seeds (a standard error), without repeats")?;
        require_f64(self.fixed_beta, (0.0..1.0).contains(&self.fixed_beta), "fixed_beta", "in [0, 1)")?;
        let [lo, hi] = self.cycled_betas;
        require(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi < 1.0, "cycled_betas", "expected 0 <= low <= high < 1")?;
        require_f64(self.accuracy_target, self.accuracy_target > 0.1 && self.accuracy_target < 1.0, "accuracy_target", "in (0.1, 1)")?;
        require((1..=self.train_per_class).contains(&self.hessian_per_class), "hessian_per_class", "expected 1..=train_per_class")?;
        require((2..=10_000).contains(&self.hessian_probes), "hessian_probes", "expected 2..=10000")?;
        require_f64(self.hessian_eps, self.hessian_eps > 0.0 && self.hessian_eps <= 0.1, "hessian_eps", "in (0, 0.1]")?;
        self.shapes.validate()?;
        // Every arm's β is valid over every schedule's range of η (β is monotone in η).
        for &arm in &self.arms {
            let rule = self.rule(arm).map_err(|e| ("arms", format!("{}: {e}", arm.name())))?;
            for &s in &self.schedules {
                rule.validate_lr_range(self.shapes.min_lr(s, self.peak_lr), self.peak_lr)
                    .map_err(|e| ("arms", format!("{} under {}: {e}", arm.name(), s.name())))?;
            }
        }
        within_runs(
            "run_seeds",
            &[
                ("schedules", self.schedules.len() as u64),
                ("tasks", self.tasks.len() as u64),
                ("arms", self.arms.len() as u64),
                ("run_seeds", self.run_seeds.len() as u64),
            ],
        )?;
        let units: u64 = 784 + self.widths.iter().map(|&w| w as u64).sum::<u64>() + 10;
        within_memory(
            "widths",
            &[
                &[("parameters", self.params() as u64), ("6 copies", 6), ("", 4)],
                &[("batch_size", self.batch_size as u64), ("units", units), ("forward and backward", 2), ("", 4)],
                &[("hessian images", (CLASSES * self.hessian_per_class) as u64), ("units", units), ("forward and backward", 2), ("", 4)],
            ],
        )?;
        Ok(())
    }

    /// The model's parameter count, for the cost estimate.
    pub fn params(&self) -> f64 {
        let mut sizes = vec![784];
        sizes.extend(&self.widths);
        sizes.push(CLASSES);
        sizes.windows(2).map(|w| (w[0] * w[1] + w[1]) as f64).sum()
    }

    /// Every run: schedule outer, then task, arm and seed.
    pub fn runs(&self) -> Vec<SchedRun> {
        let mut runs = Vec::new();
        for &schedule in &self.schedules {
            for &task in &self.tasks {
                for arm in self.arms_for(task) {
                    let rule = self.rule(arm).expect("validated");
                    for &seed in &self.run_seeds {
                        runs.push(SchedRun {
                            id: format!("{}-{}-{}-s{seed}", schedule.name(), task.name(), arm.name()),
                            schedule,
                            task,
                            arm,
                            seed,
                            peak_lr: self.peak_lr,
                            rule,
                        });
                    }
                }
            }
        }
        runs
    }

    /// One job per run.
    pub fn jobs(&self) -> Vec<Job> {
        self.runs().into_iter().map(|r| Job { id: r.id.clone(), runs: vec![r.id] }).collect()
    }
}

/// One run: an arm under a schedule on a task, with one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchedRun {
    /// Stable id, e.g. `cosine-noisy-rule_peak-s0`.
    pub id: String,
    /// The schedule.
    pub schedule: LrSchedule,
    /// The task.
    pub task: Task,
    /// The arm.
    pub arm: Arm,
    /// The seed (weights, data order, label flips).
    pub seed: u64,
    /// The peak learning rate.
    pub peak_lr: f64,
    /// The momentum rule the arm resolves to (β as a function of each step's η).
    pub rule: MomentumRule,
}

/// One evaluation, at the end of an epoch (epoch 0: the initial weights).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    /// Epochs trained.
    pub epoch: u64,
    /// η of the epoch's last step (the peak's schedule value at epoch 0).
    pub lr: f64,
    /// β of that step.
    pub beta: f64,
    /// Mean training loss of the epoch (on the task's targets); NaN at epoch 0.
    #[serde(with = "crate::harness::real")]
    pub train_loss: f64,
    /// Test accuracy in [0, 1].
    #[serde(with = "crate::harness::real")]
    pub test_accuracy: f64,
}

/// What a finished run writes to `runs/<id>/summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchedRunSummary {
    /// The run.
    pub run: SchedRun,
    /// One point per epoch, the initial weights first.
    pub points: Vec<EpochPoint>,
    /// Test accuracy after the last epoch (None when the run diverged).
    #[serde(with = "crate::harness::real::option")]
    pub final_test_accuracy: Option<f64>,
    /// The first epoch whose test accuracy reached the target (None: never).
    pub epochs_to_target: Option<u64>,
    /// Hutchinson's tr H of the clean cross-entropy at the end (None when diverged).
    #[serde(with = "crate::harness::real::option")]
    pub hessian_trace: Option<f64>,
    /// Its standard error over the probes.
    #[serde(with = "crate::harness::real::option")]
    pub hessian_trace_stderr: Option<f64>,
    /// Whether the training loss became non-finite.
    pub diverged: bool,
    /// Wall time, seconds.
    #[serde(with = "crate::harness::real")]
    pub wall_seconds: f64,
}

/// The experiment as the harness runs it.
pub struct SchedulesExp;

impl Experiment for SchedulesExp {
    const NAME: &'static str = "schedules";
    const ABOUT: &'static str = "Beyond the paper: the rule against fixed and one-cycle momentum under decaying LR schedules (issue 16)";
    type File = SchedExperiment;
    type RunSummary = SchedRunSummary;
    type Summary = SchedSummary;

    /// Every seed's initial weights are drawn from the backend's seeded generator.
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

    /// 6 FLOP per parameter per training image, 2 per evaluated image, and
    /// 2 gradients (6 FLOP each) per Hessian probe and image; the dense layers
    /// run at about twice the reference rate (as the MLP experiment measured).
    fn job_cost(scale: &SchedScale, _job: &Job) -> f64 {
        let (n_train, n_test) = (scale.train_size() as f64, CLASSES as f64 * scale.test_per_class as f64);
        let epochs = scale.epochs as f64;
        let hessian = 12.0 * scale.hessian_probes as f64 * (CLASSES * scale.hessian_per_class) as f64;
        scale.params() * (6.0 * epochs * n_train + 2.0 * (epochs + 1.0) * n_test + hessian) / (2.0 * REFERENCE_FLOPS)
    }

    /// Loading the data and drawing one set of weights per seed.
    fn setup_cost(scale: &SchedScale) -> f64 {
        2.0 + scale.params() * scale.run_seeds.len() as f64 / REFERENCE_FLOPS
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, runs: Vec<SchedRunSummary>) -> anyhow::Result<SchedSummary> {
        summarise(ctx, runs)
    }

    fn header(summary: &SchedSummary) -> &SummaryHeader {
        &summary.header
    }

    fn header_mut(summary: &mut SchedSummary) -> &mut SummaryHeader {
        &mut summary.header
    }

    fn headline(s: &SchedSummary) -> String {
        let differ = s.header.criteria.iter().filter(|c| c.holds == Some(true)).count();
        format!("{} runs; {differ} of {} comparisons differ by more than the rule's threshold", s.runs, s.header.criteria.len())
    }

    fn details(summary: &SchedSummary) -> String {
        table(summary)
    }
}

/// The rules the criteria B1–B5 are judged by, fixed before the runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedRules {
    /// When the rules were fixed, and what changed after seeing data, and why.
    pub fixed: String,
    /// Two arms differ when |mean paired difference| > this × its standard error.
    pub significance_se: f64,
}

impl SchedRules {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), Invalid> {
        require(self.significance_se.is_finite() && self.significance_se >= 1.0, "significance_se", "expected >= 1")
    }
}

/// The experiment file `experiments/schedules.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedExperiment {
    /// The experiment's name.
    pub name: String,
    /// What it answers.
    pub reproduces: String,
    /// Our choices, repeated in the summary.
    pub choices: Vec<String>,
    /// What the cpu scale leaves out of the full grid, repeated in the summary.
    pub left_out: Vec<String>,
    /// The rules of B1–B5.
    pub rules: SchedRules,
    /// How its jobs share the machine.
    #[serde(default)]
    pub schedule: crate::harness::Schedule,
    /// Seconds, for `cargo test`.
    pub smoke: SchedScale,
    /// Minutes on 2 cores.
    pub cpu: SchedScale,
    /// The full grid, for a GPU.
    pub paper: SchedScale,
}

crate::harness::config::experiment_file!(SchedExperiment, SchedScale, rules);

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> SchedExperiment {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/schedules.toml");
        SchedExperiment::load(&path).unwrap()
    }

    /// The cosine schedule warms up linearly to the peak, then decays to its
    /// floor; the step schedule drops by the factor at each milestone.
    #[test]
    fn cosine_and_step_have_their_shape() {
        let s = file().cpu.shapes;
        let (peak, n) = (0.1, 1000);
        let warm = (s.warmup_fraction * n as f64).round() as u64;
        assert!((s.lr(LrSchedule::Cosine, peak, 0, n) - peak * s.warmup_start).abs() < 1e-15);
        assert!((s.lr(LrSchedule::Cosine, peak, warm, n) - peak).abs() < 1e-15);
        let last = s.lr(LrSchedule::Cosine, peak, n - 1, n);
        assert!(last > peak * s.cosine_floor && last < peak * s.cosine_floor * 1.01 + 1e-6, "{last}");
        let lrs: Vec<f64> = (warm..n).map(|t| s.lr(LrSchedule::Cosine, peak, t, n)).collect();
        assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
        let m0 = (s.step_milestones[0] * n as f64).round() as u64;
        assert_eq!(s.lr(LrSchedule::Step, peak, m0 - 1, n), peak);
        assert!((s.lr(LrSchedule::Step, peak, m0, n) - peak * s.step_factor).abs() < 1e-15);
        assert!((s.lr(LrSchedule::Step, peak, n - 1, n) - s.min_lr(LrSchedule::Step, peak)).abs() < 1e-15);
    }

    /// PyTorch's `OneCycleLR(SGD(momentum=0.9), max_lr=0.1, total_steps=100)`
    /// (defaults: pct_start 0.3, cos, div_factor 25, final_div_factor 1e4,
    /// cycle_momentum between 0.85 and 0.95): `get_last_lr()` and the
    /// group's momentum at steps 0, 1, 14, 29, 30, 50, 99, printed by torch
    /// 2.15.0 on 2026-12-02. Our η matches to rounding; our one-cycle β
    /// (linear in η, [`MomentumRule::Cycled`]) is within 0.1/25 of PyTorch's.
    #[test]
    fn one_cycle_matches_pytorch() {
        let s = file().cpu.shapes;
        let torch = [
            (0, 0.0040000000000000036, 0.95),
            (1, 0.004281378056590748, 0.9497068978577179),
            (14, 0.04940133238789996, 0.9027069454292709),
            (29, 0.1, 0.85),
            (30, 0.09994965352845243, 0.8500503466729342),
            (50, 0.0793893450575732, 0.8706107373853763),
            (99, 4e-07, 0.95),
        ];
        let cycled = MomentumRule::cycled(0.85, 0.95, 0.1).unwrap();
        for (t, lr, momentum) in torch {
            let got = s.lr(LrSchedule::OneCycle, 0.1, t, 100);
            assert!((got - lr).abs() <= 1e-12 * lr, "step {t}: {got} vs {lr}");
            let beta = cycled.beta(got).unwrap();
            assert!((beta - momentum).abs() <= 0.1 / 25.0 + 1e-12, "step {t}: β {beta} vs {momentum}");
        }
    }

    /// The arms resolve to the rules they are named for, and `rule_advised`
    /// is `advise`'s C* (eq. 10), run with label noise only.
    #[test]
    fn arms_resolve_to_their_rules() {
        let scale = file().cpu;
        scale.validate().unwrap();
        let beta = |arm, lr| scale.rule(arm).unwrap().beta(lr).unwrap();
        assert_eq!(beta(Arm::Fixed, 0.001), scale.fixed_beta);
        assert!((beta(Arm::RulePeak, scale.peak_lr) - scale.fixed_beta).abs() < 1e-12);
        assert!(beta(Arm::RulePeak, scale.peak_lr / 8.0) > scale.fixed_beta);
        assert!((beta(Arm::Cycled, scale.peak_lr) - scale.cycled_betas[0]).abs() < 1e-12);
        assert_eq!(beta(Arm::Sgd, 0.01), 0.0);
        let c_star = flatter_optim::momentum::c_star(flip_noise_std(scale.label_noise_prob, CLASSES), 1.0, scale.train_size(), 1.0);
        let MomentumRule::Scaled { c, .. } = scale.rule(Arm::RuleAdvised).unwrap() else { panic!() };
        assert!((c - c_star).abs() < 1e-12 * c_star);
        let runs = scale.runs();
        assert!(runs.iter().all(|r| r.arm != Arm::RuleAdvised || r.task == Task::Noisy));
        let ids: std::collections::HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), runs.len());
    }

    /// One-hot targets under flips: p(1−p) on the true class and q(1−q) on
    /// each other, q = p/(K−1); no noise gives 0.
    #[test]
    fn flip_noise_std_is_the_one_hot_std() {
        assert_eq!(flip_noise_std(0.0, 10), 0.0);
        let want = ((0.2 * 0.8 + 9.0 * (0.2 / 9.0) * (1.0 - 0.2 / 9.0)) / 10.0f64).sqrt();
        assert!((flip_noise_std(0.2, 10) - want).abs() < 1e-15);
    }

    /// Repeated seeds, a single seed, or a repeated arm are refused, naming the field.
    #[test]
    fn bad_scales_name_the_field() {
        let base = file().smoke;
        for (scale, field) in [
            (SchedScale { run_seeds: vec![1, 1], ..base.clone() }, "run_seeds"),
            (SchedScale { run_seeds: vec![1], ..base.clone() }, "run_seeds"),
            (SchedScale { arms: vec![Arm::Fixed, Arm::Fixed], ..base.clone() }, "arms"),
            (SchedScale { cycled_betas: [0.95, 0.85], ..base.clone() }, "cycled_betas"),
            (SchedScale { shapes: Shapes { cosine_floor: 0.0, ..base.shapes.clone() }, ..base.clone() }, "shapes.cosine_floor"),
        ] {
            assert_eq!(scale.validate().unwrap_err().0, field);
        }
    }
}
