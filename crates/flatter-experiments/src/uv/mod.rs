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
use std::collections::BTreeMap;

use flatter_theory::fit::{DecayFit, WindowRule, argmin_parabola, decay_time_fit, power_law_fit};
use flatter_theory::sim::UvInit;
use flatter_theory::timescales::{c_star, drift_rate, exponent_a, tau1, tau2};
use serde::{Deserialize, Serialize};

use crate::harness::{GAMMA_OPT, same_value};
pub use crate::harness::claims::Criterion;
use crate::harness::plan::Job;
use crate::harness::{AnalyseCtx, Experiment};
#[cfg(feature = "train")]
use crate::harness::TrainCtx;
use anyhow::Context as _;
use crate::harness::scale::Scale;
use crate::harness::claims::SummaryHeader;
pub use crate::harness::config::ConfigError;
use crate::harness::config::{Invalid, require};

/// The loss normalisation: L = (1/2n) Σ (f − y)², so κ = 1 in the drift rate of eq. (126).
pub const KAPPA: f64 = 1.0;

pub use crate::harness::Activation;

/// One scale of the UV experiment. Every value that matters is here; none has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UvScale {
    /// Width d of u and v.
    pub d: usize,
    /// Number of samples n (scalar inputs x_i ~ N(0, 1), drawn once).
    pub n: usize,
    /// Label-noise standard deviation ε.
    pub eps: f64,
    /// C as a multiple of C* = (κ² ε² σ_x² / n)^{1/3} (eq. 10).
    pub c_over_c_star: f64,
    /// The first-layer nonlinearities to sweep.
    pub activations: Vec<Activation>,
    /// The exponents γ of 1 − β = C η^γ.
    pub gammas: Vec<f64>,
    /// The learning rates η.
    pub lrs: Vec<f64>,
    /// Number of independent label-noise realisations per (activation, γ, η).
    pub noise_seeds: u64,
    /// Seed of the data x and the initialisation (u, v), shared by every run.
    pub data_seed: u64,
    /// A run lasts `run_length_multiple · max(τ₁, τ₂) + skip_factor · τ₁` steps.
    pub run_length_multiple: f64,
    /// The fit window opens `skip_factor · τ₁` steps in, after the transient:
    /// the relaxation onto the valley (γ < 2/3) or the ballistic plunge and
    /// its ringing (γ > 2/3), so that the fit sees the asymptotic decay. A
    /// shorter skip, e.g. `skip_factor · min(τ₁, τ₂)`, fits the end of the
    /// plunge for γ > 2/3 and reports decay times well below τ₁.
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
    /// A (activation, γ, η) cell is fitted only if at least this share of its seeds succeeded.
    pub min_success_share: f64,
    /// γ values below 2/3 whose drift rate is checked against eq. (126) at the smallest η.
    pub drift_check_gammas: Vec<f64>,
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
    /// Seconds, for `cargo test`.
    pub smoke: UvScale,
    /// Minutes on 2 cores.
    pub cpu: UvScale,
    /// The paper's scale.
    pub paper: UvScale,
}



fn all_finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite())
}

impl UvScale {
    /// Checks every field's range; the error names the field and the expectation.
    pub fn validate(&self) -> Result<(), Invalid> {
        require(self.d >= 1, "d", "expected d >= 1")?;
        require(self.n >= 2, "n", "expected n >= 2")?;
        require(self.eps > 0.0 && self.eps.is_finite(), "eps", "expected eps > 0")?;
        require(self.c_over_c_star > 0.0 && self.c_over_c_star.is_finite(), "c_over_c_star", "expected > 0")?;
        require(!self.activations.is_empty(), "activations", "expected at least one of linear, tanh, relu")?;
        require(
            self.gammas.len() >= 3 && all_finite(&self.gammas) && self.gammas.iter().all(|&g| g >= 0.0),
            "gammas",
            "expected at least 3 values, each >= 0",
        )?;
        require(
            self.lrs.len() >= 3 && all_finite(&self.lrs) && self.lrs.iter().all(|&l| l > 0.0),
            "lrs",
            "expected at least 3 values, each > 0",
        )?;
        require(self.noise_seeds >= 1, "noise_seeds", "expected >= 1")?;
        require(self.run_length_multiple > 0.0, "run_length_multiple", "expected > 0")?;
        require(self.skip_factor >= 0.0, "skip_factor", "expected >= 0")?;
        require(self.log_every >= 1, "log_every", "expected >= 1")?;
        require(self.max_points >= 50, "max_points", "expected >= 50 (the fits need points)")?;
        require(self.max_steps >= 10 * self.log_every, "max_steps", "expected >= 10 * log_every")?;
        require(self.start_fraction > 0.0, "start_fraction", "expected > 0")?;
        require(
            self.floor_fraction > 0.0 && self.floor_fraction < 1.0,
            "floor_fraction",
            "expected 0 < floor_fraction < 1",
        )?;
        require(self.diverge_factor > 1.0, "diverge_factor", "expected > 1")?;
        require(
            (0.0..=1.0).contains(&self.min_success_share),
            "min_success_share",
            "expected 0 <= min_success_share <= 1",
        )?;
        require(
            self.drift_check_gammas.iter().all(|g| self.gammas.iter().any(|x| (x - g).abs() < 1e-9) && *g < GAMMA_OPT),
            "drift_check_gammas",
            "expected values from gammas, each below 2/3",
        )?;
        // Every (C, η, γ) must give β in [0, 1).
        let data = self.data();
        let c = self.c(&data);
        for &gamma in &self.gammas {
            for &lr in &self.lrs {
                let beta = 1.0 - c * lr.powf(gamma);
                require(
                    (0.0..1.0).contains(&beta),
                    "lrs",
                    format!("lr {lr} with gamma {gamma} and C {c:.4} gives beta {beta}, outside [0, 1)"),
                )?;
            }
        }
        Ok(())
    }

    /// The data x and the shared initialisation (u, v).
    pub fn data(&self) -> UvInit {
        UvInit::draw(self.d, self.n, self.data_seed)
    }

    /// C* of eq. (10) for the drawn data.
    pub fn c_star(&self, data: &UvInit) -> f64 {
        c_star(self.eps, data.sigma_x2(), self.n, KAPPA)
    }

    /// The C every run uses.
    pub fn c(&self, data: &UvInit) -> f64 {
        self.c_over_c_star * self.c_star(data)
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

    /// Expands the grid into runs, ordered by activation, then γ, η and seed.
    pub fn runs(&self) -> Vec<UvRun> {
        let data = self.data();
        let (c, sigma_x2) = (self.c(&data), data.sigma_x2());
        let mut runs = Vec::new();
        for &activation in &self.activations {
            for &gamma in &self.gammas {
                for &lr in &self.lrs {
                    let beta = 1.0 - c * lr.powf(gamma);
                    let t1 = tau1(beta);
                    let t2 = tau2(lr, beta, self.eps, sigma_x2, self.n, KAPPA);
                    let planned = (self.run_length_multiple * t1.max(t2) + self.skip_factor * t1).ceil() as u64;
                    let planned = planned.min(self.max_steps).max(self.log_every);
                    let log_every = self.log_every * planned.div_ceil(self.log_every * self.max_points).max(1);
                    let steps = planned.div_ceil(log_every) * log_every;
                    for seed in 0..self.noise_seeds {
                        runs.push(UvRun {
                            id: format!("{}-g{gamma:.4}-lr{lr:.1e}-s{seed}", activation.name()),
                            activation,
                            gamma,
                            lr,
                            c,
                            beta,
                            noise_seed: seed,
                            steps,
                            log_every,
                            tau1: t1,
                            tau2: t2,
                        });
                    }
                }
            }
        }
        runs
    }
}

impl UvScale {
    /// The jobs: one per (activation, η), whose runs (every γ and seed) train
    /// as one stacked program; runs of one η have similar lengths.
    pub fn jobs(&self) -> Vec<Job> {
        let runs = self.runs();
        let mut jobs = Vec::new();
        for &act in &self.activations {
            for &lr in &self.lrs {
                let ids = runs.iter().filter(|r| r.activation == act && same_value(r.lr, lr)).map(|r| r.id.clone()).collect();
                jobs.push(Job { id: format!("{}-lr{lr:.1e}", act.name()), runs: ids });
            }
        }
        jobs
    }
}

/// One run of the sweep, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UvRun {
    /// Unique, human-readable id: activation, γ, η, seed.
    pub id: String,
    /// φ.
    pub activation: Activation,
    /// γ.
    pub gamma: f64,
    /// η.
    pub lr: f64,
    /// C.
    pub c: f64,
    /// β = 1 − C η^γ.
    pub beta: f64,
    /// The label-noise realisation (runs with the same seed see the same ξ).
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
    pub train_seconds: f64,
}

/// The parts of a [`DecayFit`] kept in results.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecayFitRecord {
    /// τ, steps.
    pub tau: f64,
    /// Its standard error.
    pub tau_stderr: f64,
    /// First and last step of the fit window.
    pub window: (f64, f64),
    /// Points in the window.
    pub points: usize,
    /// R² of the log-linear fit.
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
    fn train(ctx: &TrainCtx<'_, Self>, todo: &[&Job]) -> anyhow::Result<()> {
        train::train(ctx, todo)
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, runs: Vec<UvRunSummary>) -> anyhow::Result<UvSummary> {
        let mut summary = analyse(ctx.scale_name, ctx.scale, &ctx.file.choices, &runs, ctx.backend);
        summary.header.figures = figures::write_figures(&summary, ctx.out).context("writing the UV figures")?;
        Ok(summary)
    }

    fn header(summary: &UvSummary) -> &SummaryHeader {
        &summary.header
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
            gammas: vec![0.5, 2.0 / 3.0, 0.8],
            lrs: vec![1e-3, 1e-2, 2e-2],
            noise_seeds: 2,
            data_seed: 0,
            run_length_multiple: 5.0,
            skip_factor: 8.0,
            max_steps: 1_000_000,
            log_every: 10,
            max_points: 200,
            start_fraction: 1000.0,
            floor_fraction: 1e-3,
            diverge_factor: 1e4,
            min_success_share: 0.5,
            drift_check_gammas: vec![0.5],
        }
    }

    #[test]
    fn runs_follow_the_rule_and_are_unique() {
        let s = scale();
        let runs = s.runs();
        assert_eq!(runs.len(), 3 * 3 * 2);
        let ids: std::collections::BTreeSet<_> = runs.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids.len(), runs.len());
        let data = s.data();
        for r in &runs {
            assert!((1.0 - r.beta - s.c(&data) * r.lr.powf(r.gamma)).abs() < 1e-12);
            assert!(r.steps as f64 >= s.run_length_multiple * r.tau1.max(r.tau2));
            assert_eq!(r.steps % r.log_every, 0);
            assert_eq!(r.log_every % s.log_every, 0);
            assert!(r.steps / r.log_every <= s.max_points + 1, "{} points", r.steps / r.log_every);
        }
    }

    #[test]
    fn invalid_fields_are_named() {
        let mut s = scale();
        s.lrs = vec![1e-3, 1e-2, 100.0];
        let (field, msg) = s.validate().unwrap_err();
        assert_eq!(field, "lrs");
        assert!(msg.contains("outside [0, 1)"), "{msg}");
        let mut s = scale();
        s.drift_check_gammas = vec![0.7];
        assert_eq!(s.validate().unwrap_err().0, "drift_check_gammas");
    }

    #[test]
    fn analysis_recovers_exponents_from_synthetic_traces() {
        // Traces that decay exactly at the theory's rate 1/τ with τ = η^{−a(γ)}:
        // the analysis must recover a(γ) and flag nothing else.
        let s = scale();
        let results: Vec<UvRunSummary> = s
            .runs()
            .iter()
            .map(|run| {
                let tau = run.lr.powf(-exponent_a(run.gamma));
                let steps: Vec<u64> = (0..=run.steps / run.log_every).map(|i| i * run.log_every).collect();
                let norm2 = steps.iter().map(|&k| 10.0 * (-(k as f64) / tau).exp()).collect();
                fit_run(&s, run, &UvTrace { steps, norm2 }, 1.0)
            })
            .collect();
        let summary = analyse(Scale::Smoke, &s, &[], &results, "test");
        for e in &summary.exponents {
            let a = e.a.expect("fitted");
            assert!((a - e.a_theory).abs() < 0.02, "γ {}: a {a} vs {}", e.gamma, e.a_theory);
        }
        let c4: Vec<_> = summary.header.criteria.iter().filter(|c| c.id == "C4").collect();
        assert_eq!(c4.len(), 3);
        assert!(c4.iter().all(|c| c.holds == Some(true)));
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

crate::harness::config::experiment_file!(UvExperiment, UvScale);
