//! C1–C3 from the finite-difference records and the config: a pure function
//! (no Burn), so the report path can rerun it.

use flatter_theory::exponents::{TauModel, eigenvalues_2x2, log_grid};
use flatter_theory::spectrum::{SpectrumKind, classify, eigenvalues, jacobian};
use flatter_theory::timescales::{beta_from_rule, c_star, exponent_a};
use serde::{Deserialize, Serialize};

use super::{TheoryRules, TheoryRunSummary, TheoryScale};
use crate::harness::{Experiment, GAMMA_OPT};
use crate::harness::claims::{ClaimKind, Criterion, SummaryHeader};
use crate::harness::scale::Scale;

/// The golden-section search stops at this bracket width in γ.
pub const GOLDEN_TOL: f64 = 1e-7;

/// The fitted exponent at one γ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExponentRow {
    /// γ.
    pub gamma: f64,
    /// The fitted a(γ) = −slope of ln τ against ln η.
    pub a: f64,
    /// The slope's least-squares standard error (it measures how far ln τ is
    /// from a straight line over the window; τ is deterministic).
    pub a_stderr: f64,
    /// max(γ, 2 − 2γ) of Sec. 2.2, printed beside the fit for the reader; not used by it.
    pub formula: f64,
}

/// The minimiser of the fitted a(γ) for one drift law, C and η window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Optimum {
    /// p of the drift rate ∝ (1 − β)^{−p} (2 is eq. 126).
    pub drift_power: f64,
    /// C/C*.
    pub c_over_c_star: f64,
    /// The η window of the fit.
    pub window: [f64; 2],
    /// argmin over γ ∈ [0, 1] of the fitted a(γ).
    pub gamma_star: f64,
    /// a(γ*).
    pub a_star: f64,
    /// What theory predicts for this drift law as η → 0.
    pub predicted: f64,
}

/// Where the finite-difference Jacobian turns complex, at one η.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundaryRow {
    /// η.
    pub lr: f64,
    /// γ found by bisection on the finite-difference Jacobian.
    pub fd: Option<f64>,
    /// γ where eq. (8)'s discriminant vanishes: C η^γ = 1 − (1 − √(ηλ))².
    pub eq8: f64,
}

/// The experiment's summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheorySummary {
    /// The keys every experiment summary has.
    #[serde(flatten)]
    pub header: SummaryHeader,
    /// The resolved config.
    pub config: TheoryScale,
    /// The rules the criteria applied.
    pub rules: TheoryRules,
    /// C* of eq. (10) for the config's ε, σ_x², n, κ.
    pub c_star: f64,
    /// The main optimum (drift law of eq. 126, the config's C and window).
    pub gamma_star: f64,
    /// a(γ*).
    pub a_star: f64,
    /// The fitted a(γ) on the config's γ grid.
    pub exponents: Vec<ExponentRow>,
    /// The negative controls (other drift laws).
    pub controls: Vec<Optimum>,
    /// The optimum at other C and on smaller η windows (finite-η bias).
    pub sensitivity: Vec<Optimum>,
    /// Largest |J_fd − J_eq8| entry over every run and point.
    pub fd_entry_error: f64,
    /// Largest eigenvalue difference (FD Jacobian's numerical eigenvalues vs eq. 8's closed form).
    pub fd_eigen_error: f64,
    /// Points whose spectrum kind (real or complex) from the FD Jacobian differs from eq. (8)'s.
    pub kind_mismatches: usize,
    /// Points compared.
    pub fd_points: usize,
    /// The real/complex boundary per η, in the order of `fd_lrs` (decreasing η).
    pub boundary: Vec<BoundaryRow>,
    /// The float type of the finite-difference tensors.
    pub dtype: String,
}

/// The γ at which eq. (8)'s spectrum at curvature λ turns complex on
/// 1 − β = C η^γ: √β = 1 − √(ηλ), i.e. γ = ln((1 − (1 − √(ηλ))²)/C) / ln η.
pub fn eq8_boundary_gamma(lr: f64, c: f64, lambda: f64) -> f64 {
    let s = (lr * lambda).sqrt();
    ((1.0 - (1.0 - s) * (1.0 - s)) / c).ln() / lr.ln()
}

/// The optimum theory predicts for a drift rate ∝ (1 − β)^{−p}: a(γ) =
/// max(γ, 2 − pγ) is smallest at 2/(p + 1), clamped to the search range
/// [0, 1]; below γ = 1/2 the real transverse mode's time (1 − β)/(ηλ) ∝ η^{γ−1}
/// floors it at 1/2 (eq. 8, Sec. 2.3).
pub fn predicted_optimum(drift_power: f64) -> f64 {
    (2.0 / (drift_power + 1.0)).clamp(0.5, 1.0)
}

pub(crate) fn model(scale: &TheoryScale, drift_power: f64, c_over_c_star: f64) -> TauModel {
    let cs = c_star(scale.eps, scale.sigma_x2, scale.n, scale.kappa);
    TauModel { c: cs * c_over_c_star, lambda: scale.lambda, eps: scale.eps, sigma_x2: scale.sigma_x2, n: scale.n, kappa: scale.kappa, drift_power }
}

fn optimum(scale: &TheoryScale, drift_power: f64, c_over_c_star: f64, window: [f64; 2]) -> anyhow::Result<Optimum> {
    let lrs = log_grid(window[0], window[1], scale.fit_points);
    let (gamma_star, a_star) = model(scale, drift_power, c_over_c_star).argmin_exponent(&lrs, 0.0, 1.0, GOLDEN_TOL)?;
    Ok(Optimum { drift_power, c_over_c_star, window, gamma_star, a_star, predicted: predicted_optimum(drift_power) })
}

/// The FD comparison over every run: (entry error, eigenvalue error, kind mismatches, points).
fn compare(runs: &[TheoryRunSummary]) -> (f64, f64, usize, usize) {
    let (mut entry, mut eigen, mut mismatches, mut points) = (0.0_f64, 0.0_f64, 0, 0);
    for r in runs {
        for p in &r.points {
            points += 1;
            let beta = beta_from_rule(r.run.lr, r.run.c, p.gamma);
            let want = jacobian(r.run.lr, beta, p.lambda);
            for (got_row, want_row) in p.jacobian.iter().zip(&want) {
                for (g, w) in got_row.iter().zip(want_row) {
                    entry = entry.max((g - w).abs());
                }
            }
            let (fp, fq) = eigenvalues_2x2(p.jacobian);
            let (ep, eq) = eigenvalues(r.run.lr, beta, p.lambda);
            for (a, b) in [(fp, ep), (fq, eq)] {
                eigen = eigen.max((a.re - b.re).hypot(a.im - b.im));
            }
            let fd_kind = if fp.im != 0.0 { SpectrumKind::Complex } else { SpectrumKind::Real };
            let kind = classify(r.run.lr, beta, p.lambda);
            if kind != SpectrumKind::Unstable && kind != fd_kind {
                mismatches += 1;
            }
        }
    }
    (entry, eigen, mismatches, points)
}

/// Whether |fd − 1/2| shrinks strictly along the rows (η decreasing).
fn approaches_one_half(rows: &[BoundaryRow]) -> bool {
    let d: Option<Vec<f64>> = rows.iter().map(|b| b.fd.map(|g| (g - 0.5).abs())).collect();
    d.is_some_and(|d| d.len() >= 2 && d.windows(2).all(|w| w[1] < w[0]))
}

/// The summary and criteria C1–C3 (figures are added by [`super::figures`]).
pub fn analyse(
    scale_name: Scale,
    scale: &TheoryScale,
    rules: &TheoryRules,
    choices: &[String],
    runs: &[TheoryRunSummary],
    backend: &str,
) -> anyhow::Result<TheorySummary> {
    let window = scale.fit_lrs;
    let lrs = log_grid(window[0], window[1], scale.fit_points);
    let main = model(scale, 2.0, scale.c_over_c_star);
    let best = optimum(scale, 2.0, scale.c_over_c_star, window)?;
    let exponents = scale
        .gammas
        .iter()
        .map(|&gamma| {
            let fit = main.fit_exponent(gamma, &lrs)?;
            Ok(ExponentRow { gamma, a: -fit.slope, a_stderr: fit.slope_stderr, formula: exponent_a(gamma) })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let controls =
        scale.control_drift_powers.iter().map(|&p| optimum(scale, p, scale.c_over_c_star, window)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut sensitivity = Vec::new();
    for &ratio in &scale.c_sweep {
        sensitivity.push(optimum(scale, 2.0, ratio, window)?);
    }
    for &w in &scale.windows {
        for &ratio in std::iter::once(&scale.c_over_c_star).chain(&scale.c_sweep) {
            sensitivity.push(optimum(scale, 2.0, ratio, w)?);
        }
    }
    let a_opt = main.exponent(GAMMA_OPT, &lrs)?;
    let a_fixed = main.exponent(0.0, &lrs)?;

    let dtype = runs.first().map_or_else(|| "none".to_string(), |r| r.dtype.clone());
    anyhow::ensure!(runs.iter().all(|r| r.dtype == dtype), "the finite-difference runs mix float types");
    let f64_tensors = dtype == "f64";
    let (entry_tol, eigen_tol, boundary_tol) = if f64_tensors {
        (rules.c3_entry_tolerance_f64, rules.c3_eigen_tolerance_f64, rules.c3_boundary_tolerance_f64)
    } else {
        (rules.c3_entry_tolerance_f32, rules.c3_eigen_tolerance_f32, rules.c3_boundary_tolerance_f32)
    };
    let (fd_entry_error, fd_eigen_error, kind_mismatches, fd_points) = compare(runs);
    let boundary: Vec<BoundaryRow> = scale
        .fd_lrs
        .iter()
        .map(|&lr| BoundaryRow {
            lr,
            fd: runs.iter().find(|r| crate::harness::same_value(r.run.lr, lr)).and_then(|r| r.boundary_gamma),
            eq8: eq8_boundary_gamma(lr, scale.fd_c, scale.boundary_lambda),
        })
        .collect();

    let c1_controls_ok = controls.iter().all(|c| (c.gamma_star - c.predicted).abs() <= rules.c1_control_tolerance);
    let controls_text: Vec<String> =
        controls.iter().map(|c| format!("p = {}: γ* = {:.4} (theory {:.3})", c.drift_power, c.gamma_star, c.predicted)).collect();
    // Off C = C*: |γ* − 2/3| along the windows, per C (the main window first).
    let along: Vec<(f64, Vec<f64>)> = scale
        .c_sweep
        .iter()
        .map(|&ratio| {
            let errs = sensitivity.iter().filter(|o| crate::harness::same_value(o.c_over_c_star, ratio)).map(|o| (o.gamma_star - GAMMA_OPT).abs()).collect();
            (ratio, errs)
        })
        .collect();
    let shrinks = !along.is_empty() && along.iter().all(|(_, e)| e.len() >= 2 && e.windows(2).all(|w| w[1] < w[0]));
    let worst_last = along.iter().filter_map(|(_, e)| e.last().copied()).fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let along_text: Vec<String> = along
        .iter()
        .map(|(r, e)| format!("C = {r}·C*: {}", e.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(" → ")))
        .collect();
    let mut criteria = vec![
        Criterion {
            id: "C1".into(),
            quantity: format!(
                "argmin over γ of the fitted a(γ), τ = τ₁ + τ₂ from the eq. (8) spectrum and the eq. (126) drift, η ∈ [{:.0e}, {:.0e}], C = {}·C*; controls with drift ∝ (1−β)^(−p): {}",
                window[0],
                window[1],
                scale.c_over_c_star,
                controls_text.join(", ")
            ),
            paper: "2/3".into(),
            measured: Some(best.gamma_star),
            uncertainty: None,
            tolerance: format!(
                "|γ* − 2/3| ≤ {}, and each control's γ* within {} of 2/(p+1) (clamped to [1/2, 1])",
                rules.c1_gamma_tolerance, rules.c1_control_tolerance
            ),
            holds: Some((best.gamma_star - GAMMA_OPT).abs() <= rules.c1_gamma_tolerance && c1_controls_ok),
            kind: ClaimKind::Derivation,
            theory: Some(GAMMA_OPT),
        },
        Criterion {
            id: "C1".into(),
            quantity: format!(
                "off C = C*: |γ* − 2/3| of the same pipeline as the η window moves toward 0 ({}); {}",
                std::iter::once(&window).chain(&scale.windows).map(|w| format!("[{:.0e}, {:.0e}]", w[0], w[1])).collect::<Vec<_>>().join(" → "),
                along_text.join("; ")
            ),
            paper: "γ* → 2/3 as η → 0, whatever C".into(),
            measured: worst_last,
            uncertainty: None,
            tolerance: "shrinks strictly at every C as the window moves to smaller η".into(),
            holds: worst_last.map(|_| shrinks),
            kind: ClaimKind::Derivation,
            theory: Some(0.0),
        },
        Criterion {
            id: "C2".into(),
            quantity: "fitted a(2/3): slope of ln τ(η) on the rule, τ from the spectrum and the drift law".into(),
            paper: "2/3 (τ ∝ η^(−2/3))".into(),
            measured: Some(a_opt),
            uncertainty: None,
            tolerance: format!("|a − 2/3| ≤ {}", rules.c2_exponent_tolerance),
            holds: Some((a_opt - GAMMA_OPT).abs() <= rules.c2_exponent_tolerance),
            kind: ClaimKind::Derivation,
            theory: Some(GAMMA_OPT),
        },
        Criterion {
            id: "C2".into(),
            quantity: "fitted a(0): slope of ln τ(η) at fixed β, τ from the spectrum and the drift law".into(),
            paper: "2 (τ ∝ η^(−2) at fixed β)".into(),
            measured: Some(a_fixed),
            uncertainty: None,
            tolerance: format!("|a − 2| ≤ {}", rules.c2_exponent_tolerance),
            holds: Some((a_fixed - 2.0).abs() <= rules.c2_exponent_tolerance),
            kind: ClaimKind::Derivation,
            theory: Some(2.0),
        },
    ];
    let c3_jacobian = if runs.is_empty() || fd_points == 0 {
        (None, None)
    } else {
        (Some(fd_entry_error), Some(fd_entry_error <= entry_tol && fd_eigen_error <= eigen_tol && kind_mismatches == 0))
    };
    criteria.push(Criterion {
        id: "C3".into(),
        quantity: format!(
            "max |J − J_eq8| entry, J by central differences of one real HeavyBall step on L = λw²/2 ({dtype} tensors, λ ∈ {:?}, {} points); eigenvalues (zero mode {{1, β}}) and real/complex kind vs eq. (8)",
            scale.fd_lambdas, fd_points
        ),
        paper: "{1, β}; real for γ < 1/2, complex with |μ| = √β for γ > 1/2".into(),
        measured: c3_jacobian.0,
        uncertainty: None,
        tolerance: format!("entries ≤ {entry_tol:e}, eigenvalues ≤ {eigen_tol:e}, every kind as eq. (8)"),
        holds: c3_jacobian.1,
        kind: ClaimKind::Derivation,
        theory: Some(0.0),
    });
    let last = boundary.last().expect("validated: at least 2 fd_lrs");
    let boundary_ok = boundary.iter().all(|b| b.fd.is_some_and(|g| (g - b.eq8).abs() <= boundary_tol)) && approaches_one_half(&boundary);
    let path: Vec<String> = boundary.iter().map(|b| format!("η = {:.0e}: {}", b.lr, b.fd.map_or("none".into(), |g| format!("{g:.4}")))).collect();
    criteria.push(Criterion {
        id: "C3".into(),
        quantity: format!(
            "γ where the HeavyBall Jacobian's eigenvalues turn complex ({dtype} tensors, λ = {}, C = {}) at the smallest η; along η: {}",
            scale.boundary_lambda,
            scale.fd_c,
            path.join(", ")
        ),
        paper: "1/2 as η → 0 (real below, complex above)".into(),
        measured: last.fd,
        uncertainty: None,
        tolerance: format!("within {boundary_tol:e} of eq. (8)'s boundary at every η, and |γ − 1/2| shrinking as η shrinks"),
        holds: (!runs.is_empty()).then_some(boundary_ok),
        kind: ClaimKind::Derivation,
        theory: Some(0.5),
    });

    let mut notes = vec![
        format!("Rules fixed: {}", rules.fixed),
        "τ = τ₁ + τ₂: τ₁ = −1/ln|μ| of the slowest non-unit eigenvalue of the eq. (8) Jacobian over the zero mode and one mode of curvature λ (a numerical 2×2 eigen-solve of its entries, not the closed form); τ₂ = 1/rate with the eq. (126) drift rate. \
         The sum (not the max) because the transverse modes equilibrate and then the drift acts; both have the exponent of the larger term. The exponent formula max(γ, 2 − 2γ) is not used; it is printed beside the fit only."
            .into(),
    ];
    let table: Vec<String> = exponents.iter().map(|e| format!("a({:.3}) = {:.4} ± {:.1e} [formula {:.4}]", e.gamma, e.a, e.a_stderr, e.formula)).collect();
    notes.push(format!("Fitted exponents (± is the slope's least-squares SE, a measure of curvature of ln τ; τ is deterministic): {}.", table.join("; ")));
    for c in &controls {
        notes.push(format!(
            "Negative control: drift rate ∝ (1 − β)^(−{}) instead of eq. (126)'s (1 − β)^(−2): the same pipeline finds γ* = {:.4}, a(γ*) = {:.4}; theory puts it at {:.3} (2/(p + 1), clamped to [1/2, 1]).",
            c.drift_power, c.gamma_star, c.a_star, c.predicted
        ));
    }
    let sens: Vec<String> = sensitivity
        .iter()
        .map(|o| format!("C = {}·C*, η ∈ [{:.0e}, {:.0e}]: γ* = {:.4}", o.c_over_c_star, o.window[0], o.window[1], o.gamma_star))
        .collect();
    notes.push(format!(
        "Finite-η sensitivity: with τ₁ ≈ A η^(−γ) (A = 2/C, since −1/ln√β ≈ 2/(1 − β) for the complex pair) and τ₂ ≈ B η^(−(2−2γ)) (B = nC²/(κ²ε²σ_x²)), the fitted a(γ) near 2/3 is 2/3 + (γ − 2/3)(A − 2B)/(A + B) + O((γ − 2/3)² |ln η|); at C = C* (eq. 10) A = 2B and the first-order bias vanishes, elsewhere the finite-window optimum is biased by O(1/|ln η|) and the bias shrinks as the window moves to smaller η (C1's second row checks that trend): {}.",
        sens.join("; ")
    ));
    for b in &boundary {
        notes.push(format!(
            "Real/complex boundary at η = {:.0e}: finite differences γ = {}, eq. (8) γ = {:.6} (→ 1/2 as η → 0).",
            b.lr,
            b.fd.map_or("none".into(), |g| format!("{g:.6}")),
            b.eq8
        ));
    }
    for r in runs.iter().filter(|r| r.boundary_error.is_some()) {
        notes.push(format!("{}: no boundary found: {}", r.run.id, r.boundary_error.as_deref().unwrap_or_default()));
    }
    notes.push(format!(
        "Finite differences: {fd_points} Jacobians, max entry error {fd_entry_error:.2e}, max eigenvalue error {fd_eigen_error:.2e}, {kind_mismatches} kind mismatches ({dtype} tensors)."
    ));
    if runs.is_empty() {
        notes.push("C3 not measured: no finite-difference runs.".into());
    }
    Ok(TheorySummary {
        header: SummaryHeader {
            experiment: <super::TheoryExp as Experiment>::NAME.into(),
            scale: scale_name,
            dataset: "none: the theory's pieces (the eq. (8) Jacobian, the eq. (126) drift law) and one real HeavyBall step on L = λw²/2".into(),
            criteria,
            figures: vec![],
            choices: choices.to_vec(),
            notes,
            wall_seconds: runs.iter().map(|r| r.train_seconds).sum(),
            backend: backend.into(),
        },
        config: scale.clone(),
        rules: rules.clone(),
        c_star: c_star(scale.eps, scale.sigma_x2, scale.n, scale.kappa),
        gamma_star: best.gamma_star,
        a_star: best.a_star,
        exponents,
        controls,
        sensitivity,
        fd_entry_error,
        fd_eigen_error,
        kind_mismatches,
        fd_points,
        boundary,
        dtype,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{FdPoint, TheoryExperiment};
    use super::*;

    fn file() -> TheoryExperiment {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/theory.toml");
        TheoryExperiment::load(&path).unwrap()
    }

    /// Synthetic records whose Jacobians come from `step` (π, w, λ, β, η) →
    /// (π', w') by the same central differences, and whose boundary is `boundary(η)`.
    fn records(scale: &TheoryScale, step: impl Fn(f64, f64, f64, f64, f64) -> [f64; 2], boundary: impl Fn(f64) -> Option<f64>) -> Vec<TheoryRunSummary> {
        scale
            .runs()
            .into_iter()
            .map(|run| {
                let mut points = Vec::new();
                for &gamma in &run.gammas {
                    let beta = beta_from_rule(run.lr, run.c, gamma);
                    for &lambda in &run.lambdas {
                        let mut jac = [[0.0; 2]; 2];
                        for j in 0..2 {
                            let (mut p, mut m) = (run.base, run.base);
                            p[j] += run.h;
                            m[j] -= run.h;
                            let (fp, fm) = (step(p[0], p[1], lambda, beta, run.lr), step(m[0], m[1], lambda, beta, run.lr));
                            for i in 0..2 {
                                jac[i][j] = (fp[i] - fm[i]) / (2.0 * run.h);
                            }
                        }
                        points.push(FdPoint { gamma, lambda, beta, jacobian: jac });
                    }
                }
                TheoryRunSummary {
                    boundary_gamma: boundary(run.lr),
                    run,
                    dtype: "f64".into(),
                    points,
                    boundary_error: None,
                    boundary_steps: 0,
                    train_seconds: 0.0,
                }
            })
            .collect()
    }

    /// Eq. (1) with dampening d: π ← βπ − (1 − d)∇L (Burn's `MomentumConfig` default is d = 0.1).
    fn heavy_ball(dampening: f64) -> impl Fn(f64, f64, f64, f64, f64) -> [f64; 2] {
        move |pi, w, lambda, beta, lr| {
            let p = beta * pi - (1.0 - dampening) * lambda * w;
            [p, w + lr * p]
        }
    }

    fn holds(s: &TheorySummary) -> Vec<(String, Option<bool>)> {
        s.header.criteria.iter().map(|c| (c.id.clone(), c.holds)).collect()
    }

    fn run(scale: &TheoryScale, runs: &[TheoryRunSummary]) -> TheorySummary {
        let f = file();
        analyse(Scale::Smoke, scale, &f.rules, &f.choices, runs, "test").unwrap()
    }

    /// The eq. (1) map and eq. (8)'s own boundary: every row holds, every row
    /// is a derivation with a theory value, and the rules are quoted.
    #[test]
    fn exact_records_hold_and_quote_their_rules() {
        let f = file();
        let scale = f.scale(Scale::Smoke);
        let s = run(scale, &records(scale, heavy_ball(0.0), |lr| Some(eq8_boundary_gamma(lr, scale.fd_c, scale.boundary_lambda))));
        assert_eq!(holds(&s).iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["C1", "C1", "C2", "C2", "C3", "C3"]);
        assert!(s.header.criteria.iter().all(|c| c.holds == Some(true) && c.kind == ClaimKind::Derivation && c.theory.is_some()), "{:#?}", s.header.criteria);
        assert!(s.header.criteria[0].tolerance.contains(&f.rules.c1_gamma_tolerance.to_string()));
        assert!(s.header.notes.iter().any(|n| n.contains(&f.rules.fixed)));
        // The controls land on their own optima, not on 2/3.
        for c in &s.controls {
            assert!((c.gamma_star - c.predicted).abs() < f.rules.c1_control_tolerance && (c.gamma_star - GAMMA_OPT).abs() > 0.1, "{c:?}");
        }
        // The boundary's eq. (8) values approach 1/2 from below.
        assert!(s.boundary.windows(2).all(|w| w[0].eq8 < w[1].eq8 && w[1].eq8 < 0.5));
    }

    /// Negative control for C3: a step with dampening 0.1 (not eq. (1)) has
    /// another Jacobian and is reported as failing; a boundary that does not
    /// move toward 1/2 fails too.
    #[test]
    fn a_damped_step_or_a_frozen_boundary_fails_c3() {
        let scale = file().scale(Scale::Smoke).clone();
        let eq8 = |lr: f64| Some(eq8_boundary_gamma(lr, scale.fd_c, scale.boundary_lambda));
        let s = run(&scale, &records(&scale, heavy_ball(0.1), eq8));
        let c3 = &s.header.criteria[4];
        assert_eq!(c3.holds, Some(false), "{c3:?}");
        assert!(c3.measured.unwrap() > 0.05);
        // The Jacobian is right but the located boundary stays at 0.4 for every η.
        let s = run(&scale, &records(&scale, heavy_ball(0.0), |_| Some(0.4)));
        assert_eq!((s.header.criteria[4].holds, s.header.criteria[5].holds), (Some(true), Some(false)));
        // No finite-difference runs: C3 is not measured, C1 and C2 still are.
        let s = run(&scale, &[]);
        assert_eq!(s.header.criteria[4].holds, None);
        assert_eq!(s.header.criteria[0].holds, Some(true));
    }

    /// Negative control for C1: off C = C* the finite window's optimum moves
    /// away from 2/3 and the rule reports it (the bias the rule was sized on).
    #[test]
    fn c1_can_fail() {
        let mut scale = file().scale(Scale::Smoke).clone();
        scale.c_over_c_star = 0.25;
        let s = run(&scale, &[]);
        assert_eq!(s.header.criteria[0].holds, Some(false), "{:?}", s.header.criteria[0]);
        assert!(s.gamma_star < GAMMA_OPT - 0.05);
    }

    #[test]
    fn the_predicted_optimum_of_a_drift_law() {
        assert!((predicted_optimum(2.0) - GAMMA_OPT).abs() < 1e-15);
        assert_eq!((predicted_optimum(1.0), predicted_optimum(3.0), predicted_optimum(5.0), predicted_optimum(0.0)), (1.0, 0.5, 0.5, 1.0));
        // The eq. (8) boundary: at η = 1e-2, λ = 1, C = 1, √β = 0.9, so 1 − β = 0.19.
        assert!((eq8_boundary_gamma(1e-2, 1.0, 1.0) - 0.19f64.ln() / 1e-2f64.ln()).abs() < 1e-12);
    }
}
