//! The MLP experiment's analysis: grid points per (η, β) over the seeds, the
//! eq. (14) fits of β*(η) and the slope through `harness::beta_star`, claim
//! C15, and the summary. A function of the run records alone.

use super::*;

/// The experiment summary, `summary.json`, written last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpSummary {
    /// The keys every experiment summary has, flattened into the JSON (see [`SummaryHeader`]).
    #[serde(flatten)]
    pub header: SummaryHeader,
    /// The resolved scale.
    pub config: MlpScale,
    /// The valley phase (None when its record is not in the directory, e.g. merged shards).
    pub valley: Option<ValleySummary>,
    /// Every run's result.
    pub runs: Vec<MlpRunSummary>,
    /// The eq. (14) fit per η.
    pub beta_star: Vec<BetaStarAtLr>,
    /// The slope fit, when ≥ 3 η have an interior β*.
    pub slope: Option<SlopeFit>,
    /// The bootstrap over run seeds that gives the slope's standard error.
    pub bootstrap: SlopeBootstrap,
    /// C of 1 − β* = C·η^(2/3) over the η with an interior β* (the slope held
    /// at 2/3); `cargo xtask advise` uses it when C15 holds.
    pub c_fit: Option<f64>,
    /// Why there is no slope, if there is none.
    pub slope_error: Option<String>,
    /// The rule C15 was judged by.
    pub rules: MlpRules,
    /// The (η, 1 − β) cells of the shared grid not run: past the stability edge.
    pub skipped_cells: Vec<(f64, f64)>,
}

/// What [`analyse`] finds: the fields of [`MlpSummary`] that come from the runs.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpAnalysis {
    /// The eq. (14) fit per η.
    pub beta_star: Vec<BetaStarAtLr>,
    /// The slope fit, when ≥ 3 η have an interior β*.
    pub slope: Option<SlopeFit>,
    /// The bootstrap over run seeds.
    pub bootstrap: SlopeBootstrap,
    /// Why there is no slope, if there is none.
    pub slope_error: Option<String>,
    /// C of 1 − β* = C·η^(2/3) over the η with an interior β*.
    pub c_fit: Option<f64>,
    /// C15.
    pub criteria: Vec<Criterion>,
    /// What the summary says in words.
    pub notes: Vec<String>,
}

/// Fits β*(η) for every η, the slope, its bootstrap over the run seeds and
/// C, and judges claim C15 by `rules`.
pub fn analyse(scale: &MlpScale, rules: &MlpRules, runs: &[MlpRunSummary]) -> MlpAnalysis {
    let mut per_lr = Vec::new();
    let mut notes = Vec::new();
    for &lr in &scale.lrs {
        let at_lr: Vec<&MlpRunSummary> = runs.iter().filter(|r| same_value(r.run.lr, lr)).collect();
        let mut betas: Vec<f64> = at_lr.iter().map(|r| r.run.beta).collect();
        betas.sort_by(f64::total_cmp);
        betas.dedup();
        let points: Vec<GridPoint> = betas
            .iter()
            .map(|&beta| grid_point(beta, &at_lr.iter().copied().filter(|r| r.run.beta == beta).collect::<Vec<_>>()))
            .collect();
        let fit = fit_beta_star_at(lr, &points, scale.fit_half_width);
        if let Some(e) = &fit.error {
            notes.push(format!("η = {lr}: no interior β*: {e}."));
        }
        per_lr.push(fit);
    }
    if scale.run_seeds.len() >= 2 {
        let peaks: Vec<String> = per_lr
            .iter()
            .filter_map(|b| {
                let (h, s) = (b.peak_height?, b.peak_sigma?);
                Some(format!("η = {}: {:.2} points, {s:.1} standard errors", b.lr, 100.0 * h))
            })
            .collect();
        if !peaks.is_empty() {
            notes.push(format!(
                "Peak height (best mean score minus the mean of the fit window's two ends) over {} seeds: {}. Below about 2 standard errors a peak is not distinguishable from seed noise.",
                scale.run_seeds.len(),
                peaks.join("; ")
            ));
        }
    }
    // How much β moves the score at all, in accuracy points and test images:
    // a peak is only as good as this spread is large against the noise.
    let spreads: Vec<String> = per_lr
        .iter()
        .filter_map(|b| {
            let ok: Vec<f64> = b.points.iter().filter(|p| !p.failed).map(|p| p.score).collect();
            let (lo, hi) = ok.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &a| (l.min(a), h.max(a)));
            (ok.len() >= 2).then(|| format!("η = {}: {:.2} points ({:.0} of {} test images)", b.lr, 100.0 * (hi - lo), (hi - lo) * (10 * scale.test_per_class) as f64, 10 * scale.test_per_class))
        })
        .collect();
    if !spreads.is_empty() {
        notes.push(format!("Spread of the score (best test accuracy, mean over seeds) over β among non-failed points: {}.", spreads.join("; ")));
    }
    let failed = runs.iter().filter(|r| r.failed).count();
    if failed > 0 {
        let diverged = runs.iter().filter(|r| r.diverged).count();
        notes.push(format!(
            "{failed} of {} runs failed ({diverged} with a non-finite loss, the others ending below {FAILED_ACC} test accuracy: collapsed to near-constant predictions); an (η, β) with any failed seed is excluded from the fits.",
            runs.len()
        ));
    }
    let (slope, slope_error) = match fit_slope(&per_lr) {
        Ok(s) if s.lrs.len() >= rules.min_interior_lrs => (Some(s), None),
        Ok(s) => (None, Some(format!("{} η values have an interior β*; the rule needs {}", s.lrs.len(), rules.min_interior_lrs))),
        Err(e) => (None, Some(e)),
    };
    let bootstrap = bootstrap_slope(
        &seed_scores(scale, runs),
        &scale.lrs,
        scale.fit_half_width,
        rules.min_interior_lrs,
        rules.bootstrap_resamples,
        rules.bootstrap_seed,
    );
    let share = if bootstrap.resamples == 0 { 0.0 } else { bootstrap.with_slope as f64 / bootstrap.resamples as f64 };
    let precise = bootstrap.slope_stderr.is_some_and(|se| se <= rules.max_slope_stderr) && share >= rules.min_bootstrap_share;
    let criterion = Criterion {
        id: "C15".into(),
        quantity: format!(
            "slope of log(1−β*) against log η on one 1−β grid for every η (MLP, Fashion-MNIST, Fig. 5); ± is the SE of a bootstrap over the {} run seeds",
            scale.run_seeds.len()
        ),
        paper: "consistent with 2/3".into(),
        measured: slope.as_ref().map(|s| s.slope),
        uncertainty: bootstrap.slope_stderr,
        tolerance: rules.text(),
        holds: slope.as_ref().filter(|_| precise).map(|s| (s.slope - GAMMA_OPT).abs() <= rules.slope_tolerance),
        kind: ClaimKind::Empirical,
        theory: Some(GAMMA_OPT),
    };
    match (&slope, &slope_error) {
        (Some(s), _) if criterion.holds == Some(false) => notes.push(format!(
            "The fitted slope {:.3} misses 2/3 ± {} at this scale; the per-η accuracies and fits are in beta_star and the figures.",
            s.slope, rules.slope_tolerance
        )),
        (Some(s), _) if !precise => notes.push(format!(
            "Not measured at this scale: the slope {:.3} is too uncertain to judge (bootstrap SE {}, {} of {} resamples give a slope; the rule needs SE ≤ {} and {:.0}%).",
            s.slope,
            bootstrap.slope_stderr.map_or("none".to_string(), |se| format!("{se:.3}")),
            bootstrap.with_slope,
            bootstrap.resamples,
            rules.max_slope_stderr,
            100.0 * rules.min_bootstrap_share
        )),
        (None, Some(e)) => notes.push(format!("No slope, so C15 is not measured at this scale: {e}.")),
        _ => {}
    }
    if let Some(ci) = bootstrap.slope_ci95 {
        let shares: Vec<String> = bootstrap.interior_share.iter().map(|(lr, f)| format!("η = {lr}: {:.0}%", 100.0 * f)).collect();
        notes.push(format!(
            "Bootstrap over the run seeds ({} resamples, seeds drawn with replacement, the same draw at every cell, every β* refitted): {} give a slope; its 95% percentile interval is [{:.3}, {:.3}]. Share of resamples with an interior β*: {}.",
            bootstrap.resamples,
            bootstrap.with_slope,
            ci[0],
            ci[1],
            shares.join("; ")
        ));
    }
    let per_eta: Vec<String> = per_lr
        .iter()
        .map(|b| match (b.interior, b.beta_star, b.log_one_minus_beta_star_stderr) {
            (true, Some(bs), se) => format!(
                "η = {}: 1 − β* = {:.4}{}",
                b.lr,
                1.0 - bs,
                se.map_or(String::new(), |se| format!(" (× e^±{se:.2}, delta method)"))
            ),
            _ => format!("η = {}: none", b.lr),
        })
        .collect();
    notes.push(format!("Interior β* per η: {}.", per_eta.join("; ")));
    let c_fit = crate::harness::beta_star::c_fit(&per_lr);
    if let Some(c) = c_fit {
        notes.push(format!(
            "C of 1 − β* = C·η^(2/3) over the η with an interior β* (slope held at 2/3): {c:.3}; `cargo xtask advise` calibrates with it when C15 holds."
        ));
    }
    MlpAnalysis { beta_star: per_lr, slope, bootstrap, slope_error, c_fit, criteria: vec![criterion], notes }
}

/// The runs as bootstrap cells: per (η, β), one best test accuracy per run
/// seed in `run_seeds` order; a cell fails when any seed failed or is missing.
pub fn seed_scores(scale: &MlpScale, runs: &[MlpRunSummary]) -> Vec<SeedScores> {
    let mut cells: Vec<SeedScores> = Vec::new();
    for r in runs {
        if !cells.iter().any(|c| same_value(c.lr, r.run.lr) && c.beta == r.run.beta) {
            let at: Vec<Option<&MlpRunSummary>> = scale
                .run_seeds
                .iter()
                .map(|&s| runs.iter().find(|x| same_value(x.run.lr, r.run.lr) && x.run.beta == r.run.beta && x.run.seed == s))
                .collect();
            let failed = at.iter().any(|x| x.is_none_or(|x| x.failed));
            let scores = at.iter().map(|x| x.map_or(f64::NAN, |x| x.best_test_accuracy)).collect();
            cells.push(SeedScores { lr: r.run.lr, beta: r.run.beta, scores, failed });
        }
    }
    cells
}

/// The data of a scale, in words (the loaders verify the official SHA-256,
/// so a scale that ran used the official files).
pub fn dataset_description(scale: &MlpScale) -> String {
    let test = scale.test_per_class * 10;
    format!(
        "Fashion-MNIST (real, official SHA-256 verified; {}-image class-balanced training subset, {test}-image test {})",
        scale.train_size(),
        if test == 10_000 { "split" } else { "subset" }
    )
}

/// A run's `metrics.csv` (epoch, train loss, test accuracy), None when malformed.
pub fn parse_metrics(text: &str) -> Option<Vec<EpochPoint>> {
    text.lines()
        .skip(1)
        .map(|line| {
            let mut f = line.split(',');
            Some(EpochPoint { epoch: f.next()?.parse().ok()?, train_loss: f.next()?.parse().ok()?, test_accuracy: f.next()?.parse().ok()? })
        })
        .collect()
}

/// The part of `setup/valley.json` the analysis reads (the key that decides
/// reuse is the trainer's business).
#[derive(Deserialize)]
struct ValleyRecord {
    summary: ValleySummary,
}

/// The summary from the run records, `setup/valley.json` and the metrics
/// files. Its `wall_seconds` is the valley's time plus every run's own, so
/// it adds up over shards and resumes.
pub(super) fn summarise(ctx: &AnalyseCtx<'_, MlpExp>, results: Vec<MlpRunSummary>) -> anyhow::Result<MlpSummary> {
    let (scale, out) = (ctx.scale, ctx.out);
    let runs = scale.runs();
    let traces: Vec<(MlpRun, Vec<EpochPoint>)> = runs
        .iter()
        .map(|r| {
            let text = std::fs::read_to_string(run_dir(out, &r.id).join("metrics.csv")).unwrap_or_default();
            (r.clone(), parse_metrics(&text).unwrap_or_default())
        })
        .collect();
    let valley_summary = read_json::<ValleyRecord>(&out.join("setup").join("valley.json")).ok().map(|f| f.summary);
    let MlpAnalysis { beta_star, slope, bootstrap, slope_error, c_fit, criteria, mut notes } = analyse(scale, &ctx.file.rules, &results);
    let skipped_cells = scale.skipped_cells();
    if !skipped_cells.is_empty() {
        let cells: Vec<String> = skipped_cells.iter().map(|(lr, x)| format!("(η = {lr}, 1 − β = {x})")).collect();
        notes.push(format!(
            "Not run, past the stability edge η/(1 − β) > {} (heavy ball's effective learning rate; such runs diverge or collapse): {}.",
            scale.max_effective_lr,
            cells.join(", ")
        ));
    }
    notes.push(format!("Rule of C15: {}. Fixed: {}", ctx.file.rules.text(), ctx.file.rules.fixed));
    match &valley_summary {
        Some(v) => notes.push(format!(
            "Valley: 100% train accuracy after {} full-batch GD steps at η₀ = {} (test accuracy there {:.4}).",
            v.epochs, scale.valley_lr, v.test_accuracy
        )),
        None => notes.push("The valley checkpoint's record (setup/valley.json) is not in this directory (shards merged from elsewhere); its wall time is not counted.".into()),
    }
    let wall_seconds = valley_summary.as_ref().map_or(0.0, |v| v.wall_seconds) + results.iter().map(|r| r.wall_seconds).sum::<f64>();
    let mut summary = MlpSummary {
        header: SummaryHeader {
            experiment: MlpExp::NAME.to_string(),
            scale: ctx.scale_name,
            dataset: dataset_description(scale),
            criteria,
            figures: Vec::new(),
            choices: ctx.file.choices.clone(),
            notes,
            wall_seconds,
            backend: ctx.backend.to_string(),
        },
        config: scale.clone(),
        valley: valley_summary,
        runs: results,
        beta_star,
        slope,
        bootstrap,
        slope_error,
        c_fit,
        rules: ctx.file.rules.clone(),
        skipped_cells,
    };
    summary.header.figures = figures::write_figures(&summary, &traces, out).context("writing the MLP figures")?;
    Ok(summary)
}
