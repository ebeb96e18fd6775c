//! The theory rows C1–C3 from independent pieces (issue 13, §2), as an
//! experiment of the registry: `results/theory/summary.json` like any other.
//!
//! - C1, C2: τ(η, γ) = τ₁ + τ₂ with τ₁ the slowest relaxation time of the
//!   linearised map (a numerical eigen-solve of the eq. (8) Jacobian) and τ₂
//!   the inverse drift rate of eq. (126); the exponent a(γ) is the fitted
//!   slope of ln τ over small η, and γ* its minimiser over γ
//!   ([`flatter_theory::exponents`]). Negative controls change the drift
//!   law to (1 − β)^{−p}, p ≠ 2, where theory puts γ* at 2/(p + 1). These are
//!   pure f64 and computed in the analysis from the config.
//! - C3: the Jacobian of one real `flatter_optim::HeavyBall` step (eq. (1):
//!   π ← βπ − ∇L, w ← w + ηπ, no dampening) on L = λw²/2 in Burn, by central
//!   finite differences of the state (π, w) → (π', w'), compared with
//!   [`flatter_theory::spectrum::jacobian`] and its eigenvalues; and the γ at
//!   which its eigenvalues turn complex (λ = 1, C = 1), found by bisection on
//!   the sign of the finite-difference Jacobian's discriminant, moving toward
//!   γ = 1/2 as η shrinks (Sec. 2.3). That part needs Burn: it is the
//!   experiment's training (`train.rs`, one run per η).
//!
//! Every threshold is in the `[rules]` table of `experiments/theory.toml`.

mod analyse;
pub mod figures;
#[cfg(feature = "train")]
pub mod train;

pub use analyse::*;
use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::harness::claims::SummaryHeader;
use crate::harness::config::{Invalid, distinct_in_ids, require, require_each, require_f64, within_memory};
use crate::harness::plan::Job;
#[cfg(feature = "train")]
use crate::harness::TrainCtx;
use crate::harness::{AnalyseCtx, Experiment};

/// One scale of the experiment (the scales may be identical: it runs in seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TheoryScale {
    /// C1/C2: the label-noise scale ε of the drift law (eq. 126).
    pub eps: f64,
    /// The data variance σ_x².
    pub sigma_x2: f64,
    /// The number of samples n.
    pub n: usize,
    /// κ of the per-sample loss (κ/2)(f − y)².
    pub kappa: f64,
    /// The transverse curvature λ of the linearised mode.
    pub lambda: f64,
    /// C/C* of the rule (C* of eq. 10 from ε, σ_x², n, κ).
    pub c_over_c_star: f64,
    /// The η window of the exponent fit: [lo, hi].
    pub fit_lrs: [f64; 2],
    /// Log-spaced points in the window.
    pub fit_points: usize,
    /// The γ at which the fitted a(γ) is tabulated.
    pub gammas: Vec<f64>,
    /// Negative controls: drift powers p ≠ 2 of (1 − β)^{−p}.
    pub control_drift_powers: Vec<f64>,
    /// Other C/C* whose finite-η optimum is reported beside the main one.
    pub c_sweep: Vec<f64>,
    /// Smaller η windows, each below the previous one (and below `fit_lrs`),
    /// on which the optimum at every C is also found: off C* the finite-window
    /// bias must shrink along them (C1's second row).
    pub windows: Vec<[f64; 2]>,
    /// C3: the learning rates of the finite-difference runs (one run each).
    pub fd_lrs: Vec<f64>,
    /// C of the rule in the finite-difference runs.
    pub fd_c: f64,
    /// The curvatures λ of the quadratic loss at which the Jacobian is compared (0 is the zero mode).
    pub fd_lambdas: Vec<f64>,
    /// The γ at which the Jacobian is compared.
    pub fd_gammas: Vec<f64>,
    /// The base point (π₀, w₀) of the central differences.
    pub fd_base: [f64; 2],
    /// The step h of the central differences (the map is linear, so any h is exact up to rounding).
    pub fd_h: f64,
    /// The curvature at which the real/complex boundary is located.
    pub boundary_lambda: f64,
    /// The bisection stops when the γ bracket is narrower than this.
    pub bisection_tol: f64,
}

/// The criteria's thresholds, fixed before the runs and quoted by the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TheoryRules {
    /// When and why these were fixed, and any change since.
    pub fixed: String,
    /// C1: |γ* − 2/3| at most this.
    pub c1_gamma_tolerance: f64,
    /// C1: each negative control's γ* within this of 2/(p + 1) (clamped to the search range).
    pub c1_control_tolerance: f64,
    /// C2: |a(2/3) − 2/3| and |a(0) − 2| at most this.
    pub c2_exponent_tolerance: f64,
    /// C3: largest |J_fd − J_eq8| entry with f64 tensors.
    pub c3_entry_tolerance_f64: f64,
    /// … with f32 tensors (a backend without f64).
    pub c3_entry_tolerance_f32: f64,
    /// C3: largest eigenvalue difference, f64.
    pub c3_eigen_tolerance_f64: f64,
    /// … f32.
    pub c3_eigen_tolerance_f32: f64,
    /// C3: |γ_boundary(FD) − γ_boundary(eq. 8)| at most this, f64.
    pub c3_boundary_tolerance_f64: f64,
    /// … f32.
    pub c3_boundary_tolerance_f32: f64,
}

impl TheoryRules {
    /// Checks every threshold.
    pub fn validate(&self) -> Result<(), Invalid> {
        require(!self.fixed.trim().is_empty(), "rules.fixed", "say when the rules were fixed")?;
        for (field, v) in [
            ("rules.c1_gamma_tolerance", self.c1_gamma_tolerance),
            ("rules.c1_control_tolerance", self.c1_control_tolerance),
            ("rules.c2_exponent_tolerance", self.c2_exponent_tolerance),
            ("rules.c3_entry_tolerance_f64", self.c3_entry_tolerance_f64),
            ("rules.c3_entry_tolerance_f32", self.c3_entry_tolerance_f32),
            ("rules.c3_eigen_tolerance_f64", self.c3_eigen_tolerance_f64),
            ("rules.c3_eigen_tolerance_f32", self.c3_eigen_tolerance_f32),
            ("rules.c3_boundary_tolerance_f64", self.c3_boundary_tolerance_f64),
            ("rules.c3_boundary_tolerance_f32", self.c3_boundary_tolerance_f32),
        ] {
            require(v > 0.0 && v < 1.0, field, "expected 0 < tolerance < 1")?;
        }
        Ok(())
    }
}

/// The experiment file `experiments/theory.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TheoryExperiment {
    /// The experiment's name.
    pub name: String,
    /// What it reproduces.
    pub reproduces: String,
    /// Our choices where the paper gives none.
    pub choices: Vec<String>,
    /// The criteria's thresholds.
    pub rules: TheoryRules,
    /// How its jobs share the machine (`[schedule]`, issue 18).
    #[serde(default)]
    pub schedule: crate::harness::Schedule,
    /// Seconds.
    pub smoke: TheoryScale,
    /// Seconds.
    pub cpu: TheoryScale,
    /// Seconds.
    pub paper: TheoryScale,
}

crate::harness::config::experiment_file!(TheoryExperiment, TheoryScale, rules);

/// One finite-difference run: every Jacobian of one η.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FdRun {
    /// Unique id.
    pub id: String,
    /// η.
    pub lr: f64,
    /// C of the rule.
    pub c: f64,
    /// The γ of the compared Jacobians.
    pub gammas: Vec<f64>,
    /// The λ of the compared Jacobians.
    pub lambdas: Vec<f64>,
    /// (π₀, w₀).
    pub base: [f64; 2],
    /// The difference step.
    pub h: f64,
    /// λ of the boundary search.
    pub boundary_lambda: f64,
    /// Its bracket width.
    pub bisection_tol: f64,
}

/// η as run ids print it.
fn lr_tag(lr: f64) -> String {
    format!("lr{lr:.3e}")
}

fn finite_positive(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite() && *x > 0.0)
}

impl TheoryScale {
    /// Checks every field; the error names the field and the expectation.
    pub fn validate(&self) -> Result<(), Invalid> {
        require_f64(self.eps, self.eps > 0.0, "eps", "eps > 0")?;
        require_f64(self.sigma_x2, self.sigma_x2 > 0.0, "sigma_x2", "> 0")?;
        require_f64(self.kappa, self.kappa > 0.0, "kappa", "> 0")?;
        require(self.n >= 1, "n", "expected n >= 1")?;
        require_f64(self.lambda, self.lambda > 0.0, "lambda", "lambda > 0")?;
        require_f64(self.c_over_c_star, self.c_over_c_star > 0.0, "c_over_c_star", "> 0")?;
        require(self.fit_lrs[0] > 0.0 && self.fit_lrs[1] > self.fit_lrs[0] && self.fit_lrs[1] < 1.0, "fit_lrs", "expected 0 < lo < hi < 1")?;
        require(self.fit_points >= 3, "fit_points", "expected >= 3")?;
        require(self.gammas.iter().all(|g| (0.0..=1.0).contains(g)) && self.gammas.len() >= 3, "gammas", "expected >= 3 values in [0, 1]")?;
        require_each(&self.control_drift_powers, |p| p >= 0.0 && (p - 2.0).abs() > 0.1, "control_drift_powers", "p >= 0, away from 2")?;
        require(finite_positive(&self.c_sweep), "c_sweep", "expected values > 0")?;
        require(self.windows.iter().all(|w| w[0] > 0.0 && w[1] > w[0] && w[1] < 1.0), "windows", "expected 0 < lo < hi < 1 for each")?;
        require(
            std::iter::once(&self.fit_lrs).chain(&self.windows).collect::<Vec<_>>().windows(2).all(|w| w[1][1] <= w[0][0]),
            "windows",
            "expected windows below fit_lrs and below one another, toward smaller η",
        )?;
        require(self.fd_lrs.len() >= 2 && finite_positive(&self.fd_lrs) && self.fd_lrs.iter().all(|l| *l < 1.0), "fd_lrs", "expected >= 2 values in (0, 1)")?;
        require(self.fd_lrs.windows(2).all(|w| w[1] < w[0]), "fd_lrs", "expected decreasing η (the boundary must approach 1/2 along the list)")?;
        distinct_in_ids("fd_lrs", self.fd_lrs.iter().map(|&l| lr_tag(l)))?;
        require_f64(self.fd_c, self.fd_c > 0.0 && self.fd_c <= 1.0, "fd_c", "0 < C <= 1 (so that β >= 0 at γ = 0)")?;
        require(!self.fd_lambdas.is_empty(), "fd_lambdas", "expected values >= 0")?;
        require_each(&self.fd_lambdas, |l| l >= 0.0, "fd_lambdas", "values >= 0")?;
        require(self.fd_gammas.iter().all(|g| (0.0..=1.0).contains(g)) && !self.fd_gammas.is_empty(), "fd_gammas", "expected values in [0, 1]")?;
        require_each(&self.fd_base, |_| true, "fd_base", "finite values")?;
        require_f64(self.fd_h, self.fd_h > 0.0, "fd_h", "> 0")?;
        require_f64(self.boundary_lambda, self.boundary_lambda > 0.0, "boundary_lambda", "> 0")?;
        require(self.fd_lrs.iter().all(|l| l * self.boundary_lambda < 1.0), "boundary_lambda", "expected η λ < 1 at every fd_lrs (a real spectrum at γ = 0)")?;
        require(self.bisection_tol > 0.0 && self.bisection_tol < 0.01, "bisection_tol", "expected 0 < tol < 0.01")?;
        // Sizes: the τ curves of the analysis, fit_points values of η for
        // every γ, control, C and window (two f64 each); and the Jacobians of
        // the finite-difference runs (fd_lrs × fd_gammas × fd_lambdas, 64 bytes each).
        let curves = [self.gammas.len(), self.control_drift_powers.len(), self.c_sweep.len(), self.windows.len(), 1]
            .iter()
            .try_fold(1u64, |acc, &k| acc.checked_mul(k as u64 + 1))
            .unwrap_or(u64::MAX);
        within_memory(
            "fit_points",
            &[
                &[("fit_points", self.fit_points as u64), ("curves", curves), ("", 16)],
                &[("fd_lrs", self.fd_lrs.len() as u64), ("fd_gammas", self.fd_gammas.len() as u64), ("fd_lambdas", self.fd_lambdas.len() as u64), ("", 64)],
            ],
        )?;
        Ok(())
    }

    /// One finite-difference run per η.
    pub fn runs(&self) -> Vec<FdRun> {
        self.fd_lrs
            .iter()
            .map(|&lr| FdRun {
                id: format!("fd-{}", lr_tag(lr)),
                lr,
                c: self.fd_c,
                gammas: self.fd_gammas.clone(),
                lambdas: self.fd_lambdas.clone(),
                base: self.fd_base,
                h: self.fd_h,
                boundary_lambda: self.boundary_lambda,
                bisection_tol: self.bisection_tol,
            })
            .collect()
    }

    /// One job: every run (together they take well under a second).
    pub fn jobs(&self) -> Vec<Job> {
        vec![Job { id: "fd".into(), runs: self.runs().into_iter().map(|r| r.id).collect() }]
    }
}

/// One Jacobian of a real HeavyBall step, in (π, w) order like eq. (8).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FdPoint {
    /// γ.
    #[serde(with = "crate::harness::real")]
    pub gamma: f64,
    /// λ.
    #[serde(with = "crate::harness::real")]
    pub lambda: f64,
    /// β = 1 − C η^γ as the optimizer's `MomentumRule` computes it.
    #[serde(with = "crate::harness::real")]
    pub beta: f64,
    /// ∂(π', w')/∂(π, w) by central differences of one `HeavyBall` step.
    #[serde(with = "crate::harness::real::matrix2")]
    pub jacobian: [[f64; 2]; 2],
}

/// A finite-difference run's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheoryRunSummary {
    /// The run.
    pub run: FdRun,
    /// The float type of the tensors ("f64", or "f32" on a backend without f64).
    pub dtype: String,
    /// Every compared Jacobian.
    pub points: Vec<FdPoint>,
    /// The γ at which the finite-difference Jacobian's eigenvalues at
    /// `boundary_lambda` turn complex (the midpoint of the last bracket).
    #[serde(with = "crate::harness::real::option")]
    pub boundary_gamma: Option<f64>,
    /// Why there is none (the sign did not change over [0, 1]).
    pub boundary_error: Option<String>,
    /// HeavyBall steps the bisection took.
    pub boundary_steps: usize,
    /// Seconds the run took.
    #[serde(with = "crate::harness::real")]
    pub train_seconds: f64,
}

/// C1–C3 as the harness runs them.
pub struct TheoryExp;

impl Experiment for TheoryExp {
    const NAME: &'static str = "theory";
    const ABOUT: &'static str = "Theory rows C1–C3 from independent pieces: the exponent fitted from the eq. (8) spectrum and the eq. (126) drift, the Jacobian of a real HeavyBall step";
    type File = TheoryExperiment;
    type RunSummary = TheoryRunSummary;
    type Summary = TheorySummary;

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

    /// A few finite-difference steps per run: well under a second.
    fn job_cost(_scale: &TheoryScale, job: &Job) -> f64 {
        0.01 * job.runs.len() as f64
    }

    fn analyse(ctx: &AnalyseCtx<'_, Self>, runs: Vec<TheoryRunSummary>) -> anyhow::Result<TheorySummary> {
        ctx.file.rules.validate().map_err(|(field, msg)| anyhow::anyhow!("experiments/theory.toml: {field}: {msg}"))?;
        let mut summary = analyse(ctx.scale_name, ctx.scale, &ctx.file.rules, &ctx.file.choices, &runs, ctx.backend)?;
        summary.header.figures = figures::write_figures(&summary, ctx.out).context("writing the theory figures")?;
        Ok(summary)
    }

    fn header(summary: &TheorySummary) -> &SummaryHeader {
        &summary.header
    }

    fn header_mut(summary: &mut TheorySummary) -> &mut SummaryHeader {
        &mut summary.header
    }

    fn headline(s: &TheorySummary) -> String {
        let boundary: Vec<String> = s.boundary.iter().map(|b| format!("{:.3}", b.fd.unwrap_or(f64::NAN))).collect();
        format!("fitted γ* = {:.4}, a(γ*) = {:.4}; complex above γ = {} as η shrinks", s.gamma_star, s.a_star, boundary.join(" → "))
    }
}
