//! The UV experiment's analysis: decay times aggregated per (activation, γ, η),
//! the exponent fits a(γ), the optimum over γ, C against C*, the drift rate
//! of eq. (126), and claims C4–C8. A function of the run records alone.

use super::*;

/// The exponent fit at one (activation, γ).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExponentFit {
    /// φ.
    pub activation: Activation,
    /// γ.
    pub gamma: f64,
    /// Fitted a(γ) from τ ∝ η^{−a}, with its standard error; None when < 3 η had a τ.
    pub a: Option<f64>,
    /// Standard error of a.
    pub a_stderr: Option<f64>,
    /// ln of the fitted prefactor.
    pub log_prefactor: Option<f64>,
    /// Theory: max(γ, 2 − 2γ).
    pub a_theory: f64,
    /// The geometric-mean τ per η (None where too few seeds succeeded).
    pub tau_by_lr: Vec<(f64, Option<f64>)>,
}

/// The aggregate result of a UV sweep: `results/uv/summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UvSummary {
    /// The keys every experiment summary has, flattened into the JSON (see [`SummaryHeader`]).
    #[serde(flatten)]
    pub header: SummaryHeader,
    /// The resolved scale config.
    pub config: UvScale,
    /// σ_x² of the drawn data.
    pub sigma_x2: f64,
    /// C* of eq. (10).
    pub c_star: f64,
    /// The C used.
    pub c: f64,
    /// Runs, and how many produced a τ.
    pub runs: usize,
    /// Runs with a fitted τ.
    pub runs_fitted: usize,
    /// a(γ) per activation and γ.
    pub exponents: Vec<ExponentFit>,
    /// argmin over γ of τ at the smallest η, per activation (parabola through the minimum).
    pub argmin_gamma: BTreeMap<String, Option<f64>>,
    /// The fitted C (γ-independent prefactors), per activation.
    pub c_fit: BTreeMap<String, Option<f64>>,
    /// Measured/predicted drift rate at the smallest η, per checked γ (linear model).
    pub drift_ratio: Vec<(f64, Option<f64>)>,
}

pub(super) fn geometric_mean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

/// The geometric mean τ of a cell, if enough seeds succeeded.
pub(super) fn cell_tau(scale: &UvScale, runs: &[&UvRunSummary]) -> Option<f64> {
    let taus: Vec<f64> = runs.iter().filter_map(|r| r.fit.map(|f| f.tau)).collect();
    let enough = !taus.is_empty() && taus.len() as f64 >= scale.min_success_share * runs.len() as f64;
    enough.then(|| geometric_mean(&taus))
}


/// Fits, aggregates and checks claims C4–C8. The
/// figures are listed by the caller that renders them.
pub fn analyse(scale_name: Scale, scale: &UvScale, choices: &[String], results: &[UvRunSummary], backend: &str) -> UvSummary {
    let wall_seconds = results.iter().map(|r| r.train_seconds).sum();
    let data = scale.data();
    let (sigma_x2, c_star, c) = (data.sigma_x2(), scale.c_star(&data), scale.c(&data));
    let lr_min = scale.lrs.iter().copied().fold(f64::INFINITY, f64::min);
    let cell = |act: Activation, gamma: f64, lr: f64| -> Option<f64> {
        let runs: Vec<&UvRunSummary> =
            results.iter().filter(|r| r.run.activation == act && same_value(r.run.gamma, gamma) && same_value(r.run.lr, lr)).collect();
        cell_tau(scale, &runs)
    };

    let mut exponents = Vec::new();
    let mut argmin_gamma = BTreeMap::new();
    let mut c_fit = BTreeMap::new();
    for &act in &scale.activations {
        let mut alpha_lo = Vec::new();
        let mut alpha_hi = Vec::new();
        for &gamma in &scale.gammas {
            let tau_by_lr: Vec<(f64, Option<f64>)> = scale.lrs.iter().map(|&lr| (lr, cell(act, gamma, lr))).collect();
            let (etas, taus): (Vec<f64>, Vec<f64>) = tau_by_lr.iter().filter_map(|&(lr, t)| t.map(|t| (lr, t))).unzip();
            let fit = (etas.len() >= 3).then(|| power_law_fit(&etas, &taus).ok()).flatten();
            // γ-independent prefactors (Sec. 4.1): τ η^{2−2γ} / C² below 2/3, τ η^γ C above.
            for (&eta, &tau) in etas.iter().zip(&taus) {
                if gamma < GAMMA_OPT - 1e-6 {
                    alpha_lo.push(tau * eta.powf(2.0 - 2.0 * gamma) / (c * c));
                } else if gamma > GAMMA_OPT + 1e-6 {
                    alpha_hi.push(tau * eta.powf(gamma) * c);
                }
            }
            exponents.push(ExponentFit {
                activation: act,
                gamma,
                a: fit.map(|f| f.exponent_a),
                a_stderr: fit.map(|f| f.a_stderr),
                log_prefactor: fit.map(|f| f.prefactor_log),
                a_theory: exponent_a(gamma),
                tau_by_lr,
            });
        }
        let (gs, ts): (Vec<f64>, Vec<f64>) =
            scale.gammas.iter().filter_map(|&g| cell(act, g, lr_min).map(|t| (g, t.ln()))).unzip();
        let argmin = argmin_parabola(&gs, &ts).or_else(|| {
            // The minimum at an end of the grid: report it (it will fail the window check).
            gs.iter().zip(&ts).min_by(|a, b| a.1.total_cmp(b.1)).map(|(g, _)| *g)
        });
        argmin_gamma.insert(act.name().to_string(), argmin);
        let c_value = (!alpha_lo.is_empty() && !alpha_hi.is_empty())
            .then(|| (geometric_mean(&alpha_hi) / geometric_mean(&alpha_lo)).cbrt());
        c_fit.insert(act.name().to_string(), c_value);
    }

    let drift_ratio: Vec<(f64, Option<f64>)> = scale
        .drift_check_gammas
        .iter()
        .map(|&gamma| {
            let beta = 1.0 - c * lr_min.powf(gamma);
            let predicted = drift_rate(lr_min, beta, scale.eps, sigma_x2, scale.n, KAPPA);
            (gamma, cell(Activation::Linear, gamma, lr_min).map(|tau| (1.0 / tau) / predicted))
        })
        .collect();

    let criteria = criteria(scale, &exponents, &argmin_gamma, &c_fit, c_star, &drift_ratio);
    let failed = results.iter().filter(|r| r.fit.is_none()).count();
    let mut notes = vec![format!(
        "{} of {} runs produced a decay time; the others diverged, did not decay to the floor in the window, or had too few points (each run's summary.json says which).",
        results.len() - failed,
        results.len()
    )];
    if criteria.iter().any(|c| c.holds == Some(false)) {
        notes.push("At least one criterion does not hold at this scale; see the table.".to_string());
    }
    UvSummary {
        header: SummaryHeader {
            experiment: "uv".to_string(),
            scale: scale_name,
            dataset: format!("synthetic: x ~ N(0, 1), n = {}, zero teacher, Gaussian label noise ε = {}", scale.n, scale.eps),
            criteria,
            figures: Vec::new(),
            choices: choices.to_vec(),
            notes,
            wall_seconds,
            backend: backend.to_string(),
        },
        config: scale.clone(),
        sigma_x2,
        c_star,
        c,
        runs: results.len(),
        runs_fitted: results.iter().filter(|r| r.fit.is_some()).count(),
        exponents,
        argmin_gamma,
        c_fit,
        drift_ratio,
    }
}

pub(super) fn criteria(
    scale: &UvScale,
    exponents: &[ExponentFit],
    argmin_gamma: &BTreeMap<String, Option<f64>>,
    c_fit: &BTreeMap<String, Option<f64>>,
    c_star: f64,
    drift_ratio: &[(f64, Option<f64>)],
) -> Vec<Criterion> {
    let mut out = Vec::new();
    for e in exponents.iter().filter(|e| e.activation == Activation::Linear) {
        let tol = if e.gamma <= GAMMA_OPT + 1e-3 { 0.1 } else { 0.25 };
        out.push(Criterion {
            id: "C4".into(),
            quantity: format!("a(γ = {:.3}), τ ∝ η^-a, linear UV", e.gamma),
            paper: format!("max(γ, 2−2γ) = {:.3}", e.a_theory),
            measured: e.a,
            uncertainty: e.a_stderr,
            tolerance: format!("±{tol}"),
            holds: e.a.map(|a| (a - e.a_theory).abs() <= tol),
            ..Default::default()
        });
    }
    let in_window = |g: Option<f64>| g.map(|g| (0.55..=0.8).contains(&g));
    let lr_min = scale.lrs.iter().copied().fold(f64::INFINITY, f64::min);
    let argmin = |name: &str| argmin_gamma.get(name).copied().flatten();
    if scale.activations.contains(&Activation::Linear) {
        out.push(Criterion {
            id: "C5".into(),
            quantity: format!("argmin over γ of τ at η = {lr_min:.1e}, linear UV"),
            paper: "2/3".into(),
            measured: argmin("linear"),
            uncertainty: None,
            tolerance: "within [0.55, 0.8]".into(),
            holds: in_window(argmin("linear")),
            ..Default::default()
        });
        let ratio = c_fit.get("linear").copied().flatten().map(|c| c / c_star);
        out.push(Criterion {
            id: "C6".into(),
            quantity: "fitted C / C* (γ-independent prefactors), linear UV".into(),
            paper: format!("consistent with C* = {c_star:.4}"),
            measured: ratio,
            uncertainty: None,
            tolerance: "within a factor 2".into(),
            holds: ratio.map(|r| (0.5..=2.0).contains(&r)),
            ..Default::default()
        });
    }
    for act in [Activation::Tanh, Activation::Relu].into_iter().filter(|a| scale.activations.contains(a)) {
        out.push(Criterion {
            id: "C7".into(),
            quantity: format!("argmin over γ of τ at η = {lr_min:.1e}, {}", act.name()),
            paper: "2/3".into(),
            measured: argmin(act.name()),
            uncertainty: None,
            tolerance: "within [0.55, 0.8]".into(),
            holds: in_window(argmin(act.name())),
            ..Default::default()
        });
    }
    for &(gamma, ratio) in drift_ratio {
        out.push(Criterion {
            id: "C8".into(),
            quantity: format!("measured / eq. (126) drift rate, γ = {gamma:.3}, η = {lr_min:.1e}, linear UV"),
            paper: "1 (η²ε²σ_x²κ²/(n(1−β)²) per step)".into(),
            measured: ratio,
            uncertainty: None,
            tolerance: "within 10%".into(),
            holds: ratio.map(|r| (r - 1.0).abs() <= 0.1),
            ..Default::default()
        });
    }
    out
}
