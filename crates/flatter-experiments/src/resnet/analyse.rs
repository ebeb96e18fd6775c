//! The ResNet experiment's analysis: β*(η) and the slope through
//! `harness::beta_star`, the dip-then-rise of Fig. 4, the gaps the numbers
//! show, and claims C11–C14. A function of the run records alone.

use super::*;

/// The experiment summary `summary.json`, written last.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResnetSummary {
    /// The keys every experiment summary has, flattened into the JSON (see [`SummaryHeader`]).
    #[serde(flatten)]
    pub header: SummaryHeader,
    /// The resolved config.
    pub config: ResnetScale,
    /// The rules the criteria were judged by.
    pub rules: ResnetRules,
    /// Phase 1.
    pub phase1: Phase1Summary,
    /// β* per η, fitted to the seed means (each point's standard error is over the seeds).
    pub beta_star: Vec<BetaStarAtLr>,
    /// β* per η fitted to each run seed alone: every draw, beside the pooled fit.
    pub beta_star_per_seed: Vec<SeedBetaStars>,
    /// Slope of log(1 − β*) against log η over the η with an interior β*
    /// (the policy of [`crate::harness::beta_star`]).
    pub slope: Option<f64>,
    /// Standard error of the slope: the larger of the regression's and the
    /// one propagated from each β*'s own standard error (see [`slope_stderr`]).
    pub slope_stderr: Option<f64>,
    /// Why there is no slope, if there is none.
    pub slope_error: Option<String>,
    /// C fitted with the exponent fixed at 2/3 over the same η: geometric mean of (1 − β*)/η^(2/3).
    pub c_fit: Option<f64>,
    /// Standard error of `c_fit` (see [`c_with_stderr`]); None with fewer than
    /// `rules.c_min_interior_lrs` interior β*.
    pub c_fit_stderr: Option<f64>,
    /// Fig. 4's curve at `fig4_lr` on the law (m closest to 1): seed mean and standard error per epoch.
    pub fig4_curve: Option<MeanCurve>,
    /// Every run's result.
    pub runs: Vec<ResnetRunSummary>,
}

/// β* per η from the runs of one seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedBetaStars {
    /// The run seed.
    pub seed: u64,
    /// β* per η from this seed's projected accuracies alone.
    pub beta_star: Vec<BetaStarAtLr>,
    /// Its slope, when 3 η have an interior β*.
    pub slope: Option<f64>,
}

/// β* at every η (eq. 14), by the one fitter of [`crate::harness::beta_star`].
/// A grid point is one (η, β), its score the mean over the run seeds of the
/// projected test accuracy, with the standard error of that mean; a point
/// where any seed diverged is a failed point. The fit window is the whole β
/// grid of an η, as the ResNet grid has only a few β per η.
pub fn beta_stars(scale: &ResnetScale, runs: &[ResnetRunSummary]) -> Vec<BetaStarAtLr> {
    scale
        .phase2
        .lrs
        .iter()
        .map(|&lr| {
            let at_lr: Vec<&ResnetRunSummary> = runs.iter().filter(|r| same_value(r.run.lr, lr)).collect();
            let mut betas: Vec<f64> = Vec::new();
            for r in &at_lr {
                if !betas.iter().any(|&b| same_value(b, r.run.beta)) {
                    betas.push(r.run.beta);
                }
            }
            let points: Vec<GridPoint> = betas
                .iter()
                .map(|&beta| {
                    let seeds: Vec<&&ResnetRunSummary> = at_lr.iter().filter(|r| same_value(r.run.beta, beta)).collect();
                    let scores: Vec<f64> = seeds.iter().filter(|r| r.error.is_none()).map(|r| r.test_accuracy_projected).collect();
                    GridPoint::of_seeds(beta, &scores, seeds.iter().any(|r| r.error.is_some()))
                })
                .collect();
            let half_width = points.len();
            fit_beta_star_at(lr, &points, half_width)
        })
        .collect()
}

/// β* per η and the slope for each run seed alone.
pub fn beta_stars_per_seed(scale: &ResnetScale, runs: &[ResnetRunSummary]) -> Vec<SeedBetaStars> {
    scale
        .run_seeds
        .iter()
        .map(|&seed| {
            let mine: Vec<ResnetRunSummary> = runs.iter().filter(|r| r.run.seed == seed).cloned().collect();
            let stars = beta_stars(scale, &mine);
            let slope = fit_slope(&stars).ok().map(|f| f.slope);
            SeedBetaStars { seed, beta_star: stars, slope }
        })
        .collect()
}

/// The standard error of the slope of log(1 − β*) against log η: the larger
/// of the least-squares line's own (from the scatter about it; 1 degree of
/// freedom with 3 η) and the one propagated from each β*'s standard error of
/// log(1 − β*) (the eq. (14) fit's delta method, on seed-mean scores),
/// Σ wᵢ² seᵢ² with wᵢ = (xᵢ − x̄)/Sxx. The propagated part is left out when
/// any interior β* lacks an error (a parabola through 3 points has none).
pub fn slope_stderr(stars: &[BetaStarAtLr], fit: &SlopeFit) -> f64 {
    let used: Vec<&BetaStarAtLr> = stars.iter().filter(|s| s.interior).collect();
    let xs: Vec<f64> = used.iter().map(|s| s.lr.ln()).collect();
    let mean = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    let sxx: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
    let ses: Option<Vec<f64>> = used.iter().map(|s| s.log_one_minus_beta_star_stderr).collect();
    let propagated = match ses {
        Some(ses) if sxx > 0.0 => xs.iter().zip(&ses).map(|(x, se)| ((x - mean) / sxx * se).powi(2)).sum::<f64>().sqrt(),
        _ => 0.0,
    };
    fit.slope_stderr.max(propagated)
}

/// C12's rule (Sec. 4.2: "1 − β* ∝ η^(2/3) almost exactly"): false when
/// |slope − 2/3| > tolerance + k·SE; true when inside that and SE ≤
/// `slope_max_stderr`; None when inside but too coarse to confirm.
pub fn judge_slope(slope: f64, stderr: f64, rules: &ResnetRules) -> Option<bool> {
    let off = (slope - GAMMA_OPT).abs();
    let inside = off <= rules.slope_tolerance + rules.slope_se_multiple * stderr;
    // A NaN slope or SE is never inside: it refutes rather than confirms.
    if !inside {
        Some(false)
    } else if stderr <= rules.slope_max_stderr {
        Some(true)
    } else {
        None
    }
}

/// C of 1 − β* = C·η^(2/3) with its standard error.
#[derive(Clone, Debug, PartialEq)]
pub struct CFit {
    /// C: exp of the mean of log(1 − β*) − (2/3)·log η over the interior η.
    pub c: f64,
    /// Its standard error, C·SE(log C), where SE(log C) is the larger of the
    /// scatter's (sample SD/√n) and the one propagated from each β*'s own
    /// (√Σ seᵢ² / n, when every β* has one).
    pub stderr: f64,
    /// The η that entered.
    pub lrs: Vec<f64>,
}

/// C of 1 − β* = C·η^(2/3) over the interior β*, with its standard error;
/// an error (the reason) with fewer than `min_interior` of them.
pub fn c_with_stderr(stars: &[BetaStarAtLr], min_interior: usize) -> Result<CFit, String> {
    let used: Vec<&BetaStarAtLr> = stars.iter().filter(|s| s.interior && s.log_one_minus_beta_star.is_some()).collect();
    if used.len() < min_interior.max(2) {
        return Err(format!("{} η have an interior β*; C with an error needs {}", used.len(), min_interior.max(2)));
    }
    let n = used.len() as f64;
    let ys: Vec<f64> = used.iter().map(|s| s.log_one_minus_beta_star.unwrap_or(f64::NAN) - GAMMA_OPT * s.lr.ln()).collect();
    let mean = ys.iter().sum::<f64>() / n;
    let scatter = (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
    let ses: Option<Vec<f64>> = used.iter().map(|s| s.log_one_minus_beta_star_stderr).collect();
    let propagated = ses.map_or(0.0, |ses| ses.iter().map(|se| se * se).sum::<f64>().sqrt() / n);
    let c = mean.exp();
    Ok(CFit { c, stderr: c * scatter.max(propagated), lrs: used.iter().map(|s| s.lr).collect() })
}

/// A phase-2 test-accuracy curve averaged over the run seeds of one (η, β).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeanCurve {
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// Epochs after the start (epoch 0, the baseline, is left out).
    pub epochs: Vec<u64>,
    /// Mean test accuracy over the seeds at each epoch.
    pub mean: Vec<f64>,
    /// Its standard error at each epoch: over the seeds (sample SD/√k) with
    /// 2 or more seeds, else the binomial √(a(1 − a)/n) of one accuracy on
    /// the n curve images.
    pub stderr: Vec<f64>,
    /// Which standard error, in words.
    pub stderr_kind: String,
    /// Seeds averaged.
    pub seeds: usize,
}

/// The seed-mean curve of runs of one (η, β) (diverged runs left out);
/// `n_curve` is the number of test images each point was measured on.
pub fn mean_curve(runs: &[&ResnetRunSummary], n_curve: usize) -> Option<MeanCurve> {
    let ok: Vec<&&ResnetRunSummary> = runs.iter().filter(|r| r.error.is_none()).collect();
    let first = ok.first()?;
    let epochs: Vec<u64> = first.epochs.iter().copied().filter(|&e| e > 0).collect();
    let k = ok.len();
    let (mut mean, mut stderr) = (Vec::new(), Vec::new());
    for &e in &epochs {
        let xs: Vec<f64> = ok.iter().filter_map(|r| r.epochs.iter().position(|&x| x == e).map(|i| r.test_accuracy[i])).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let se = if xs.len() >= 2 {
            (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64 / xs.len() as f64).sqrt()
        } else {
            (m * (1.0 - m) / n_curve.max(1) as f64).sqrt()
        };
        mean.push(m);
        stderr.push(se);
    }
    let stderr_kind = if k >= 2 {
        format!("standard error over {k} run seeds")
    } else {
        format!("binomial standard error of one accuracy on {n_curve} test images (one seed)")
    };
    Some(MeanCurve { lr: first.run.lr, beta: first.run.beta, epochs, mean, stderr, stderr_kind, seeds: k })
}

/// Fig. 4's reading of a curve against the phase-1 baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct DipRise {
    /// Some point lies below the baseline by more than k standard errors.
    pub dip: bool,
    /// A point after the first such dip lies above the baseline by more than k standard errors.
    pub rise: bool,
    /// The best mean accuracy minus the baseline.
    pub best_gain: f64,
    /// The standard error at that point.
    pub best_gain_stderr: f64,
}

/// Fig. 4 (Sec. 4.2): after the phase-1 checkpoint, test accuracy first dips
/// below the baseline, then rises above it. Both are judged against `k`
/// standard errors of the curve point (the baseline is on the same test
/// images, so their sampling error is shared and not added).
pub fn dip_then_rise(curve: &MeanCurve, baseline: f64, k: f64) -> DipRise {
    let first_dip = curve.mean.iter().zip(&curve.stderr).position(|(m, se)| baseline - m > k * se);
    let rise = first_dip.is_some_and(|i| curve.mean.iter().zip(&curve.stderr).skip(i + 1).any(|(m, se)| m - baseline > k * se));
    let best = curve.mean.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
    DipRise {
        dip: first_dip.is_some(),
        rise,
        best_gain: best.map_or(f64::NAN, |i| curve.mean[i] - baseline),
        best_gain_stderr: best.map_or(f64::NAN, |i| curve.stderr[i]),
    }
}

/// Fig. 4's runs: every seed at `fig4_lr` on the law (the multiplier closest to 1).
pub fn fig4_runs<'a>(scale: &ResnetScale, runs: &'a [ResnetRunSummary]) -> Vec<&'a ResnetRunSummary> {
    let at: Vec<&ResnetRunSummary> = runs.iter().filter(|r| same_value(r.run.lr, scale.phase2.fig4_lr)).collect();
    let Some(m) = at.iter().map(|r| r.run.c_multiplier).min_by(|a, b| (a - 1.0).abs().total_cmp(&(b - 1.0).abs())) else {
        return vec![];
    };
    at.into_iter().filter(|r| same_value(r.run.c_multiplier, m)).collect()
}

/// The paper's scale (App. A.3): full-width ResNet-18 on all of CIFAR-10,
/// 600 + 1400 phase-1 epochs, 200 phase-2 epochs. Below it, C11 checks the
/// pipeline, not the paper's 1119 epochs.
pub fn at_paper_scale(scale: &ResnetScale, phase1: &Phase1Summary) -> bool {
    phase1.is_cifar
        && scale.base_width >= 64
        && scale.train_per_class == 0
        && scale.phase1.warmup_epochs >= 600
        && scale.phase1.total_epochs >= 2000
        && scale.phase2.epochs >= 200
}

/// The curve's test images and its phase-1 baseline, from records that may
/// predate the curve subset (then: the scored set).
fn curve_baseline(scale: &ResnetScale, phase1: &Phase1Summary) -> (f64, usize) {
    if phase1.test_accuracy_curve.is_finite() && phase1.n_test_curve > 0 {
        (phase1.test_accuracy_curve, phase1.n_test_curve)
    } else {
        let n = if phase1.n_test > 0 { phase1.n_test } else { 10 * scale.test_per_class };
        (phase1.test_accuracy, n)
    }
}

/// Every gap the numbers themselves show, said plainly (added to the scale's notes).
pub fn gap_notes(
    scale: &ResnetScale,
    phase1: &Phase1Summary,
    stars: &[BetaStarAtLr],
    per_seed: &[SeedBetaStars],
    slope: &Result<SlopeFit, String>,
    runs: &[ResnetRunSummary],
    n_test: usize,
) -> Vec<String> {
    let mut notes = Vec::new();
    if !phase1.reached_full_accuracy {
        notes.push(format!(
            "Phase 1 did NOT reach 100% train accuracy within {} epochs (it ended at {:.2}%); phases 2 and 3 start from a point that is not on the valley.",
            scale.phase1.total_epochs,
            100.0 * phase1.train_accuracy
        ));
    }
    if let Err(why) = slope {
        notes.push(format!("No slope of log(1−β*) against log η: {why}."));
    }
    for s in stars {
        if let Some(e) = &s.error {
            notes.push(format!("No interior β* at η = {} (seed means): {e}.", s.lr));
        }
    }
    for lr in &scale.phase2.lrs {
        let per: Vec<String> = per_seed
            .iter()
            .map(|p| {
                let s = p.beta_star.iter().find(|s| same_value(s.lr, *lr));
                match s.and_then(|s| s.beta_star.map(|b| (b, s.interior))) {
                    Some((b, true)) => format!("seed {}: {b:.4}", p.seed),
                    Some((b, false)) => format!("seed {}: {b:.4} (outside the grid)", p.seed),
                    None => format!("seed {}: no peak", p.seed),
                }
            })
            .collect();
        notes.push(format!("β* at η = {lr} fitted to each run seed alone: {}.", per.join("; ")));
    }
    let slopes: Vec<String> =
        per_seed.iter().map(|p| format!("seed {}: {}", p.seed, p.slope.map_or("none".into(), |s| format!("{s:.2}")))).collect();
    notes.push(format!("Slope per run seed alone: {}.", slopes.join("; ")));
    let ok: Vec<&ResnetRunSummary> = runs.iter().filter(|r| r.error.is_none()).collect();
    let diverged = runs.len() - ok.len();
    if diverged > 0 {
        notes.push(format!("{diverged} run(s) diverged and are left out of the fits."));
    }
    let short: Vec<&&ResnetRunSummary> = ok.iter().filter(|r| r.train_accuracy_projected < 1.0).collect();
    if !short.is_empty() {
        let worst = short.iter().map(|r| r.train_accuracy_projected).fold(1.0, f64::min);
        notes.push(format!(
            "Phase 3 (at most {} Adam steps) did not bring {} of {} runs back to 100% train accuracy in evaluation mode (lowest {:.1}%, mostly the largest β): those are not fully projected onto the valley, which biases eq. (14) against large β.",
            scale.phase3.steps,
            short.len(),
            ok.len(),
            100.0 * worst
        ));
    }
    if !ok.is_empty() && n_test > 0 {
        let mean = ok.iter().map(|r| r.test_accuracy_projected).sum::<f64>() / ok.len() as f64;
        let binom = (mean * (1.0 - mean) / n_test as f64).sqrt();
        let mut seed_ses: Vec<f64> = stars.iter().flat_map(|s| s.points.iter().filter_map(|p| p.stderr)).collect();
        seed_ses.sort_by(f64::total_cmp);
        let seed_part = match seed_ses.get(seed_ses.len() / 2) {
            Some(se) => format!(
                "; the median standard error of a grid point's mean over its {} run seeds is {:.1} points",
                scale.run_seeds.len(),
                100.0 * se
            ),
            None => String::new(),
        };
        let spread = stars
            .iter()
            .filter(|s| s.points.iter().filter(|p| !p.failed).count() > 1)
            .map(|s| {
                let (lo, hi) = s.points.iter().filter(|p| !p.failed).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.score), h.max(p.score)));
                hi - lo
            })
            .fold(0.0, f64::max);
        let noise = seed_ses.get(seed_ses.len() / 2).copied().unwrap_or(0.0).max(binom);
        notes.push(format!(
            "With {n_test} scored test images one projected accuracy has a binomial sampling error of about {:.2} percentage points{seed_part}; the largest spread of seed-mean projected accuracy across β at one η is {:.1} points{}.",
            100.0 * binom,
            100.0 * spread,
            if spread < 3.0 * noise { ", under 3 noise standard errors, so the β* are dominated by noise" } else { "" }
        ));
    }
    notes
}

/// The criteria of claims C11–C14, judged by the file's `[rules]`.
#[allow(clippy::too_many_arguments)]
pub fn criteria(
    scale: &ResnetScale,
    rules: &ResnetRules,
    phase1: &Phase1Summary,
    stars: &[BetaStarAtLr],
    slope: &Result<SlopeFit, String>,
    c: &Result<CFit, String>,
    runs: &[ResnetRunSummary],
) -> Vec<Criterion> {
    let mut out = Vec::new();
    let paper_scale = at_paper_scale(scale, phase1);
    out.push(Criterion {
        id: "C11".into(),
        quantity: if paper_scale {
            "phase 1: epochs of full-batch GD to 100% train accuracy".into()
        } else {
            "phase 1: epochs of full-batch GD to 100% train accuracy (a pipeline check: stand-in data or a schedule shorter than the paper's, so it does not test the 1119 epochs)".into()
        },
        paper: format!("1119 of a 2000-epoch schedule (ours: {} planned)", scale.phase1.total_epochs),
        measured: Some(phase1.epochs as f64),
        uncertainty: None,
        tolerance: "reaches 100% within the schedule".into(),
        holds: Some(phase1.reached_full_accuracy),
        kind: if paper_scale { ClaimKind::Empirical } else { ClaimKind::Pipeline },
        theory: None,
    });
    let n_interior = stars.iter().filter(|s| s.interior).count();
    let fit = slope.as_ref().ok().filter(|_| n_interior >= rules.min_interior_lrs);
    let se = fit.map(|f| slope_stderr(stars, f));
    out.push(Criterion {
        id: "C12".into(),
        quantity: format!(
            "slope of log(1−β*) against log η over {n_interior} η with an interior β* (seed-mean scores; SE the larger of the line's and the one propagated from each β*)"
        ),
        paper: "≈ 2/3 (\"almost exactly\")".into(),
        measured: fit.map(|f| f.slope),
        uncertainty: se,
        tolerance: format!(
            "false when |slope − 2/3| > {} + {}·SE; holds when inside and SE ≤ {}; n/a otherwise or with fewer than {} interior β*",
            rules.slope_tolerance, rules.slope_se_multiple, rules.slope_max_stderr, rules.min_interior_lrs
        ),
        holds: fit.zip(se).and_then(|(f, se)| judge_slope(f.slope, se, rules)),
        kind: ClaimKind::Empirical,
        theory: Some(GAMMA_OPT),
    });
    let cf = c.as_ref().ok();
    out.push(Criterion {
        id: "C13".into(),
        quantity: format!(
            "C in 1−β* = C η^(2/3) over {} interior β* (the paper's reference η₀ is blanked, so β* there cannot be checked)",
            cf.map_or(0, |c| c.lrs.len())
        ),
        paper: "β* = 0.9 at the blanked η₀, i.e. C = 0.1/η₀^(2/3)".into(),
        measured: cf.map(|c| c.c),
        uncertainty: cf.map(|c| c.stderr),
        tolerance: format!("report C with its SE from at least {} interior β* (η₀ unknown, so nothing to compare)", rules.c_min_interior_lrs),
        holds: None,
        kind: ClaimKind::Empirical,
        theory: None,
    });
    let (baseline, n_curve) = curve_baseline(scale, phase1);
    let fig4 = fig4_runs(scale, runs);
    let curve = mean_curve(&fig4, n_curve);
    let judged = curve.as_ref().map(|c| (c, dip_then_rise(c, baseline, rules.dip_rise_se_multiple)));
    out.push(Criterion {
        id: "C14".into(),
        quantity: format!(
            "phase-2 test accuracy at η = {} on the law ({} test images): best gain over the phase-1 baseline; dip, then rise ({})",
            scale.phase2.fig4_lr,
            n_curve,
            curve.as_ref().map_or("no curve".into(), |c| c.stderr_kind.clone())
        ),
        paper: "initial dip, then rise above the phase-1 baseline; fastest on the scaling law".into(),
        measured: judged.as_ref().map(|(_, d)| d.best_gain),
        uncertainty: judged.as_ref().map(|(_, d)| d.best_gain_stderr),
        tolerance: format!(
            "a curve point more than {k} SE below the baseline, then a later one more than {k} SE above it",
            k = rules.dip_rise_se_multiple
        ),
        holds: judged.as_ref().map(|(_, d)| d.dip && d.rise),
        kind: ClaimKind::Empirical,
        theory: None,
    });
    out
}

/// Says plainly which data were used.
pub fn dataset_label(is_cifar: bool, train: usize, test: usize) -> String {
    if is_cifar {
        format!("CIFAR-10 ({train} training images, {test} test images)")
    } else {
        format!("Fashion-MNIST padded to 32×32 (CIFAR-10 absent); {train} training images, {test} test images")
    }
}

/// The experiment summary from phase 1 and every run's record (no training,
/// no dataset: its description and test-set size are in phase 1's record).
pub fn analyse(scale_name: Scale, exp: &ResnetExperiment, phase1: &Phase1Summary, runs: Vec<ResnetRunSummary>, backend: &str) -> ResnetSummary {
    let scale = exp.scale(scale_name);
    let rules = &exp.rules;
    let stars = beta_stars(scale, &runs);
    let per_seed = beta_stars_per_seed(scale, &runs);
    let slope = fit_slope(&stars);
    let c = c_with_stderr(&stars, rules.c_min_interior_lrs);
    let criteria = criteria(scale, rules, phase1, &stars, &slope, &c, &runs);
    let mut notes = exp.notes(scale_name);
    // A phase-1 record from before it stored its data: the test-set size
    // follows from the config (both datasets have 10,000 test images), and
    // the dataset itself only when the config names it.
    let n_test = if phase1.n_test > 0 {
        phase1.n_test
    } else if scale.test_per_class > 0 {
        10 * scale.test_per_class
    } else {
        10_000
    };
    notes.extend(gap_notes(scale, phase1, &stars, &per_seed, &slope, &runs, n_test));
    if let Err(why) = &c {
        notes.push(format!("No C (C13): {why}."));
    }
    let dataset = if !phase1.dataset.is_empty() {
        phase1.dataset.clone()
    } else {
        let per_class = |n: usize, full: &str| if n > 0 { (10 * n).to_string() } else { full.to_string() };
        let (train, test) = (per_class(scale.train_per_class, "all"), per_class(scale.test_per_class, "10000"));
        match scale.dataset {
            DatasetChoice::Cifar10 => format!("CIFAR-10 ({train} training images, {test} test images)"),
            DatasetChoice::FashionMnistPadded => {
                format!("Fashion-MNIST padded to 32×32; {train} training images, {test} test images")
            }
            DatasetChoice::Auto => format!(
                "CIFAR-10 if it was found, else Fashion-MNIST padded to 32×32 (setup/phase1.json predates the record of which); {train} training images, {test} test images"
            ),
        }
    };
    let (_, n_curve) = curve_baseline(scale, phase1);
    let fig4_curve = mean_curve(&fig4_runs(scale, &runs), n_curve);
    let slope_se = slope.as_ref().ok().map(|f| slope_stderr(&stars, f));
    ResnetSummary {
        header: SummaryHeader {
            experiment: ResnetExp::NAME.into(),
            scale: scale_name,
            dataset,
            criteria,
            figures: vec![],
            choices: exp.choices.clone(),
            notes,
            wall_seconds: phase1.wall_seconds + runs.iter().map(|r| r.wall_seconds).sum::<f64>(),
            backend: backend.into(),
        },
        config: scale.clone(),
        rules: rules.clone(),
        phase1: phase1.clone(),
        beta_star: stars,
        beta_star_per_seed: per_seed,
        slope: slope.as_ref().ok().map(|f| f.slope),
        slope_stderr: slope_se,
        slope_error: slope.err(),
        c_fit: c.as_ref().ok().map(|c| c.c),
        c_fit_stderr: c.as_ref().ok().map(|c| c.stderr),
        fig4_curve,
        runs,
    }
}
