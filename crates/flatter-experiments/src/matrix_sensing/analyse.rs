//! Matrix sensing's analysis: the speed curves against β per (η, data seed),
//! their interior optima, C_opt against the eq. (135) bound, the double
//! descent, and claims C9–C10. A function of the run records alone.

use super::*;

/// β* at one (η, data seed), or per η over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeedCurve {
    /// η.
    pub lr: f64,
    /// The data seed, or None for the geometric mean over seeds.
    pub data_seed: Option<u64>,
    /// (1 − β, steps to the level) for every grid point that reached it.
    pub points: Vec<(f64, f64)>,
    /// Whether the fastest grid point is interior with finite neighbours.
    pub interior: bool,
    /// 1 − β* from the parabola through the fastest point and its neighbours (log–log), when interior.
    pub one_minus_beta_star: Option<f64>,
    /// C_opt = (1 − β*)/η^(2/3).
    pub c_opt: Option<f64>,
}

pub(super) fn speed_curve(lr: f64, data_seed: Option<u64>, grid: &[f64], times: &[Option<f64>]) -> SpeedCurve {
    let points: Vec<(f64, f64)> = grid.iter().zip(times).filter_map(|(&o, t)| t.map(|t| (o, t))).collect();
    // Sorted by 1 − β; the fastest point is interior when both grid neighbours reached the level.
    let mut order: Vec<usize> = (0..grid.len()).collect();
    order.sort_by(|&a, &b| grid[a].total_cmp(&grid[b]));
    let ys: Vec<f64> = order.iter().map(|&i| times[i].map_or(f64::INFINITY, f64::ln)).collect();
    let xs: Vec<f64> = order.iter().map(|&i| grid[i].ln()).collect();
    let best = (0..ys.len()).min_by(|&a, &b| ys[a].total_cmp(&ys[b]));
    let interior = best.is_some_and(|i| i > 0 && i + 1 < ys.len() && ys[i].is_finite() && ys[i - 1].is_finite() && ys[i + 1].is_finite());
    let star = interior.then(|| {
        let i = best.unwrap();
        argmin_parabola(&xs[i - 1..=i + 1], &ys[i - 1..=i + 1]).map_or(grid[order[i]], f64::exp)
    });
    SpeedCurve { lr, data_seed, points, interior, one_minus_beta_star: star, c_opt: star.map(|s| s / lr.powf(GAMMA_OPT)) }
}

/// The experiment's summary (its header keys are what the report reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MsSummary {
    /// The keys every experiment summary has, flattened into the JSON (see [`SummaryHeader`]).
    #[serde(flatten)]
    pub header: SummaryHeader,
    /// The resolved config.
    pub config: MsScale,
    /// The eq. (135) bound on C.
    pub c_bound: f64,
    /// Speed curves per (η, seed).
    pub curves: Vec<SpeedCurve>,
    /// Speed curves per η, geometric mean over seeds (grid points every seed reached).
    pub curves_mean: Vec<SpeedCurve>,
    /// C_opt: the geometric mean over (η, seed) cells with an interior optimum.
    pub c_opt: Option<f64>,
    /// Standard error of ln C_opt.
    pub c_opt_log_se: Option<f64>,
    /// Cells with an interior optimum, of all cells.
    pub interior_cells: (usize, usize),
    /// The strongest double-descent ratio per double-descent run: (1 − β, ratio).
    pub double_descent: Vec<(f64, Option<f64>)>,
    /// Runs that diverged.
    pub diverged: usize,
}

/// Aggregates run summaries into the experiment's summary and criteria.
pub fn analyse(scale_name: Scale, scale: &MsScale, choices: &[String], results: &[MsRunSummary], backend: &str) -> MsSummary {
    let find = |seed: u64, lr: f64, omb: f64| {
        results.iter().find(|r| {
            r.run.kind == RunKind::Phase2 && r.run.data_seed == seed && same_value(r.run.lr, lr) && same_value(1.0 - r.run.beta, omb)
        })
    };
    let grid = &scale.one_minus_betas;
    let mut curves = Vec::new();
    let mut curves_mean = Vec::new();
    for &lr in &scale.lrs {
        let mut per_seed: Vec<Vec<Option<f64>>> = Vec::new();
        for &seed in &scale.data_seeds {
            let times: Vec<Option<f64>> =
                grid.iter().map(|&o| find(seed, lr, o).and_then(|r| r.steps_to_level).map(|t| t.max(1) as f64)).collect();
            curves.push(speed_curve(lr, Some(seed), grid, &times));
            per_seed.push(times);
        }
        let mean: Vec<Option<f64>> = (0..grid.len())
            .map(|j| {
                let ts: Option<Vec<f64>> = per_seed.iter().map(|t| t[j]).collect();
                ts.map(|ts| (ts.iter().map(|t| t.ln()).sum::<f64>() / ts.len() as f64).exp())
            })
            .collect();
        curves_mean.push(speed_curve(lr, None, grid, &mean));
    }
    let logs: Vec<f64> = curves.iter().filter_map(|c| c.c_opt).map(f64::ln).collect();
    let (c_opt, c_opt_log_se) = if logs.is_empty() {
        (None, None)
    } else {
        let m = logs.iter().sum::<f64>() / logs.len() as f64;
        let se = (logs.len() > 1).then(|| {
            let var = logs.iter().map(|l| (l - m).powi(2)).sum::<f64>() / (logs.len() - 1) as f64;
            (var / logs.len() as f64).sqrt()
        });
        (Some(m.exp()), se)
    };
    let c_bound = scale.c_bound();
    let double_descent: Vec<(f64, Option<f64>)> = results
        .iter()
        .filter(|r| r.run.kind == RunKind::DoubleDescent)
        .map(|r| (1.0 - r.run.beta, r.double_descent.map(|d| d.ratio)))
        .collect();
    let diverged = results.iter().filter(|r| r.diverged_at.is_some()).count();
    let interior_cells = (curves.iter().filter(|c| c.interior).count(), curves.len());

    let mut criteria = Vec::new();
    let interior_etas = curves_mean.iter().filter(|c| c.interior).count();
    criteria.push(Criterion {
        id: "C9".into(),
        quantity: format!(
            "share of η (of {}) whose seed-averaged speed of the Hessian-trace decrease has an interior optimum in β",
            scale.lrs.len()
        ),
        paper: "non-monotonic in β, with an optimum".into(),
        measured: Some(interior_etas as f64 / scale.lrs.len() as f64),
        uncertainty: None,
        tolerance: "1 (an interior optimum for every η)".into(),
        holds: Some(interior_etas == scale.lrs.len()),
        ..Default::default()
    });
    let best_dd = double_descent.iter().filter_map(|d| d.1).fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    criteria.push(Criterion {
        id: "C9".into(),
        quantity: "epoch-wise double descent of the test error: largest peak/(dip, later minimum) ratio".into(),
        paper: "double descent, peak controlled by β".into(),
        measured: best_dd,
        uncertainty: None,
        tolerance: format!("ratio > {} for at least one β", scale.dd_min_ratio),
        holds: best_dd.map(|r| r > scale.dd_min_ratio),
        ..Default::default()
    });
    criteria.push(Criterion {
        id: "C10".into(),
        quantity: format!("C_opt (γ = 2/3, geometric mean of {} cells) vs the eq. (135) bound {c_bound:.4}", logs.len()),
        paper: "C_opt ≤ bound, \"compares favorably\"".into(),
        measured: c_opt,
        uncertainty: c_opt.zip(c_opt_log_se).map(|(c, se)| c * se),
        tolerance: format!("bound/4 ≤ C_opt ≤ bound = {c_bound:.4}"),
        holds: c_opt.map(|c| c <= c_bound && c >= c_bound / 4.0),
        ..Default::default()
    });

    let mut notes = vec![format!(
        "{} of {} (η, seed) cells have an interior optimum; {} runs diverged (they count as never reaching the level).",
        interior_cells.0, interior_cells.1, diverged
    )];
    if let Some(c) = c_opt {
        notes.push(format!("C_opt / bound = {:.3}.", c / c_bound));
    }
    let strongest = results
        .iter()
        .filter_map(|r| r.double_descent.map(|d| (1.0 - r.run.beta, d)))
        .max_by(|a, b| a.1.ratio.total_cmp(&b.1.ratio));
    if let Some((omb, d)) = strongest {
        notes.push(format!(
            "Strongest test-error bump at 1 − β = {omb:.4}: dip {:.3} at step {}, peak {:.3} at step {}, then {:.3} at step {} (log-smoothed). \
             At this scale the bumps are transient rises during the descent from a random initialisation at large β, and they grow as β → 1; \
             we read them as the epoch-wise double descent the paper reports, but its figure is blanked, so the match is qualitative.",
            d.dip.1, d.dip.0, d.peak.1, d.peak.0, d.later.1, d.later.0
        ));
    }
    if best_dd.is_none_or(|r| r <= scale.dd_min_ratio) {
        notes.push("No epoch-wise double-descent peak above the threshold at this scale; the test-error figure shows the curves.".into());
    }
    MsSummary {
        header: SummaryHeader {
            experiment: "matrix-sensing".into(),
            scale: scale_name,
            dataset: format!(
                "synthetic: d = {}, rank {}, n = {} Gaussian measurements, {} data seeds, ε = {}",
                scale.d,
                scale.r,
                scale.n,
                scale.data_seeds.len(),
                scale.eps
            ),
            criteria,
            figures: Vec::new(),
            choices: choices.to_vec(),
            notes,
            wall_seconds: results.iter().map(|r| r.train_seconds).sum(),
            backend: backend.into(),
        },
        config: scale.clone(),
        c_bound,
        curves,
        curves_mean,
        c_opt,
        c_opt_log_se,
        interior_cells,
        double_descent,
        diverged,
    }
}
