//! The eq. (14) fit of β*(η), and the slope of log(1 − β*) against log η:
//! one fitter with one policy for every experiment that measures the slope
//! (the MLP's C15 and ResNet's C12).
//!
//! The policy, stated once:
//! - a grid point is one β at one η, its score averaged over the seeds; a
//!   point where any seed failed is left out;
//! - at each η, eq. (14), acc = a − b·(log(1 − β) − log(1 − β*))², is fitted
//!   as a parabola in log(1 − β) to the best point and `half_width`
//!   neighbours on each side (the window shifted inside the grid);
//! - β* counts only when it is *interior*: the best grid point is not at
//!   either end of the η's grid (failed points left out), and the vertex lies
//!   strictly inside the fitted β range; an extrapolated vertex, or a vertex
//!   of a score that only rises toward one end of the grid, is reported,
//!   flagged, and never used;
//! - the slope is the least-squares line of log(1 − β*) against log η over the
//!   interior η, and needs 3 of them; C of 1 − β* = C·η^(2/3) is fitted over
//!   the same η with the slope held at 2/3 ([`c_at_two_thirds`]);
//! - the slope's uncertainty is a bootstrap over the run seeds
//!   ([`bootstrap_slope`]): each resample refits every β* and the slope, so
//!   the uncertainty of each β* is carried into the slope.

use flatter_theory::fit::{fit_beta_star, linear_fit};
use serde::{Deserialize, Serialize};

use crate::harness::GAMMA_OPT;

/// One β at one η: its runs over the seeds, reduced to a score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    /// β.
    pub beta: f64,
    /// The mean over the seeds of the run's score (e.g. best test accuracy).
    pub score: f64,
    /// The standard error of that mean (sample standard deviation / √n); None with one seed.
    pub stderr: Option<f64>,
    /// How many seeds ran.
    pub seeds: usize,
    /// Whether any seed's run failed (diverged or collapsed): the point sits
    /// at or beyond the stability edge and is left out of the fit.
    pub failed: bool,
}

impl GridPoint {
    /// The point of one β from its seeds' scores: their mean and the
    /// standard error of that mean (sample standard deviation / √n, None with
    /// one seed). `failed` leaves it out of the fit.
    pub fn of_seeds(beta: f64, scores: &[f64], failed: bool) -> GridPoint {
        let n = scores.len();
        let score = scores.iter().sum::<f64>() / n.max(1) as f64;
        let stderr = (n >= 2).then(|| {
            let var = scores.iter().map(|s| (s - score).powi(2)).sum::<f64>() / (n - 1) as f64;
            (var / n as f64).sqrt()
        });
        GridPoint { beta, score, stderr, seeds: n, failed: failed || n == 0 || !score.is_finite() }
    }
}

/// The fit of eq. (14) at one η.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BetaStarAtLr {
    /// η.
    pub lr: f64,
    /// Every β at this η, increasing.
    pub points: Vec<GridPoint>,
    /// The β values the parabola was fitted on.
    pub fitted_betas: Vec<f64>,
    /// β*, when the fit has a maximum.
    pub beta_star: Option<f64>,
    /// log(1 − β*), with its standard error (delta method).
    pub log_one_minus_beta_star: Option<f64>,
    /// Standard error of log(1 − β*).
    pub log_one_minus_beta_star_stderr: Option<f64>,
    /// The fitted parabola in x = log(1 − β): acc = a x² + b x + c.
    pub parabola: Option<[f64; 3]>,
    /// Whether β* is interior: the best grid point is not at an end of the
    /// grid and the vertex lies strictly inside the fitted β range (only
    /// those enter the slope).
    pub interior: bool,
    /// How far the best score stands above the mean of the fit window's two
    /// end points, in accuracy (the height of the peak the parabola describes).
    pub peak_height: Option<f64>,
    /// That height in units of its standard error (from the seeds); None with
    /// one seed. Below about 2 the peak is not distinguishable from seed noise.
    pub peak_sigma: Option<f64>,
    /// Why there is no usable β*, if there is none.
    pub error: Option<String>,
}

/// Fits eq. (14) at one η: a parabola in log(1 − β) through the best score
/// and `half_width` neighbours on each side, failed runs excluded.
///
/// β* is "interior" when the best point is not at an end of the grid and the
/// vertex lies strictly between the smallest and largest fitted β, i.e. the
/// data bracket a peak.
pub fn fit_beta_star_at(lr: f64, points: &[GridPoint], half_width: usize) -> BetaStarAtLr {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.beta.total_cmp(&b.beta));
    let ok: Vec<&GridPoint> = sorted.iter().filter(|p| !p.failed && p.score.is_finite()).collect();
    let mut out = BetaStarAtLr {
        lr,
        points: sorted.clone(),
        fitted_betas: Vec::new(),
        beta_star: None,
        log_one_minus_beta_star: None,
        log_one_minus_beta_star_stderr: None,
        parabola: None,
        interior: false,
        peak_height: None,
        peak_sigma: None,
        error: None,
    };
    if ok.len() < 3 {
        out.error = Some(format!("{} runs did not fail; a parabola needs 3", ok.len()));
        return out;
    }
    let best = ok.iter().enumerate().max_by(|a, b| a.1.score.total_cmp(&b.1.score)).map(|(i, _)| i).unwrap_or(0);
    // A window of 2·half_width + 1 points around the best, shifted inside the grid.
    let width = (2 * half_width + 1).min(ok.len());
    let start = best.saturating_sub(half_width).min(ok.len() - width);
    let window = &ok[start..start + width];
    let betas: Vec<f64> = window.iter().map(|p| p.beta).collect();
    let accs: Vec<f64> = window.iter().map(|p| p.score).collect();
    out.fitted_betas = betas.clone();
    // The peak against the window's ends: best − (first + last)/2, and its
    // standard error from the seeds (the three means are independent).
    let (first, last, top) = (window[0], window[window.len() - 1], ok[best]);
    let height = top.score - 0.5 * (first.score + last.score);
    out.peak_height = Some(height);
    out.peak_sigma = match (top.stderr, first.stderr, last.stderr) {
        (Some(t), Some(f), Some(l)) => Some(t.hypot(0.5 * f.hypot(l))).filter(|&se| se > 0.0).map(|se| height / se),
        _ => None,
    };
    match fit_beta_star(&betas, &accs) {
        Ok(fit) => {
            let (lo, hi) = (betas[0], betas[betas.len() - 1]);
            out.beta_star = Some(fit.beta_star);
            out.log_one_minus_beta_star = Some(fit.log_one_minus_beta_star);
            out.log_one_minus_beta_star_stderr = fit.log_one_minus_beta_star_stderr;
            out.parabola = Some([fit.quadratic.a, fit.quadratic.b, fit.quadratic.c]);
            let best_inside = best > 0 && best + 1 < ok.len();
            out.interior = best_inside && fit.beta_star > lo && fit.beta_star < hi;
            if !best_inside {
                out.error = Some(format!(
                    "the best grid point (β = {:.4}) is at the {} end of the grid: no peak is bracketed",
                    ok[best].beta,
                    if best == 0 { "low-β" } else { "high-β" }
                ));
            } else if !out.interior {
                out.error = Some(format!("β* = {:.4} lies outside the fitted range [{lo:.4}, {hi:.4}]", fit.beta_star));
            }
        }
        Err(e) => out.error = Some(format!("no peak: {e}")),
    }
    out
}

/// The line log(1 − β*) = slope · log η + intercept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlopeFit {
    /// The fitted exponent (theory: 2/3).
    pub slope: f64,
    /// Its standard error.
    pub slope_stderr: f64,
    /// The intercept, log C of the fitted rule.
    pub intercept: f64,
    /// R² of the line.
    pub r2: f64,
    /// The η values that entered (those with an interior β*).
    pub lrs: Vec<f64>,
}

/// The slope of log(1 − β*) against log η over the η values with an interior β*.
pub fn fit_slope(per_lr: &[BetaStarAtLr]) -> Result<SlopeFit, String> {
    let used: Vec<&BetaStarAtLr> = per_lr.iter().filter(|b| b.interior).collect();
    if used.len() < 3 {
        return Err(format!("{} η values have an interior β*; the slope needs 3", used.len()));
    }
    let xs: Vec<f64> = used.iter().map(|b| b.lr.ln()).collect();
    let ys: Vec<f64> = used.iter().map(|b| b.log_one_minus_beta_star.expect("interior fits have a vertex")).collect();
    let fit = linear_fit(&xs, &ys).map_err(|e| e.to_string())?;
    Ok(SlopeFit { slope: fit.slope, slope_stderr: fit.slope_stderr, intercept: fit.intercept, r2: fit.r2, lrs: used.iter().map(|b| b.lr).collect() })
}

/// C of the rule 1 − β* = C·η^(2/3) fitted to (η, 1 − β*) points: the
/// geometric mean of (1 − β*)/η^(2/3), i.e. the least-squares intercept of
/// log(1 − β*) against log η with the slope held at 2/3. None without points.
pub fn c_at_two_thirds(points: &[(f64, f64)]) -> Option<f64> {
    let logs: Vec<f64> = points.iter().filter(|p| p.0 > 0.0 && p.1 > 0.0).map(|(lr, om)| om.ln() - GAMMA_OPT * lr.ln()).collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

/// C of 1 − β* = C·η^(2/3) over the η whose β* is interior (the η the slope uses).
pub fn c_fit(per_lr: &[BetaStarAtLr]) -> Option<f64> {
    let points: Vec<(f64, f64)> = per_lr.iter().filter(|b| b.interior).filter_map(|b| Some((b.lr, 1.0 - b.beta_star?))).collect();
    c_at_two_thirds(&points)
}

/// One (η, β) cell with one score per run seed, in the same seed order at
/// every cell (so a bootstrap resample keeps the common random numbers).
#[derive(Clone, Debug, PartialEq)]
pub struct SeedScores {
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// One score per run seed.
    pub scores: Vec<f64>,
    /// Whether any seed's run failed (decided on all the seeds, so a resample
    /// never revives a cell the full data excluded).
    pub failed: bool,
}

/// The bootstrap over run seeds of the slope of log(1 − β*) against log η.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlopeBootstrap {
    /// Resamples drawn (seeds drawn with replacement, as many as there are).
    pub resamples: usize,
    /// Resamples in which at least `min_lrs` η had an interior β*, so a slope exists.
    pub with_slope: usize,
    /// The standard deviation of the resampled slopes: the slope's standard
    /// error. None with fewer than 2 slopes.
    pub slope_stderr: Option<f64>,
    /// The 2.5% and 97.5% percentiles of the resampled slopes.
    pub slope_ci95: Option<[f64; 2]>,
    /// How often each η had an interior β*, over the resamples (in `lrs` order).
    pub interior_share: Vec<(f64, f64)>,
}

/// A deterministic stream of u64 (SplitMix64): the bootstrap's only
/// randomness, so an analysis is a pure function of the run records (also
/// the config property test's generator).
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Resamples the run seeds with replacement `resamples` times; in each, every
/// β* is refitted ([`fit_beta_star_at`], the same policy) and the slope is
/// fitted over the η with an interior β* when there are at least `min_lrs`.
/// The same resampled seeds are used at every cell. With one seed there is
/// nothing to resample: no standard error.
pub fn bootstrap_slope(cells: &[SeedScores], lrs: &[f64], half_width: usize, min_lrs: usize, resamples: usize, seed: u64) -> SlopeBootstrap {
    let n = cells.iter().map(|c| c.scores.len()).min().unwrap_or(0);
    let mut state = seed;
    let mut slopes = Vec::new();
    let mut interior = vec![0usize; lrs.len()];
    let draws = if n >= 2 { resamples } else { 0 };
    for _ in 0..draws {
        let pick: Vec<usize> = (0..n).map(|_| (splitmix64(&mut state) % n as u64) as usize).collect();
        let per_lr: Vec<BetaStarAtLr> = lrs
            .iter()
            .map(|&lr| {
                let points: Vec<GridPoint> = cells
                    .iter()
                    .filter(|c| crate::harness::same_value(c.lr, lr))
                    .map(|c| GridPoint::of_seeds(c.beta, &pick.iter().map(|&i| c.scores[i]).collect::<Vec<_>>(), c.failed))
                    .collect();
                fit_beta_star_at(lr, &points, half_width)
            })
            .collect();
        for (k, b) in per_lr.iter().enumerate() {
            interior[k] += usize::from(b.interior);
        }
        if per_lr.iter().filter(|b| b.interior).count() >= min_lrs.max(3)
            && let Ok(fit) = fit_slope(&per_lr)
            && fit.slope.is_finite()
        {
            slopes.push(fit.slope);
        }
    }
    let m = slopes.len();
    let slope_stderr = (m >= 2).then(|| {
        let mean = slopes.iter().sum::<f64>() / m as f64;
        (slopes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (m - 1) as f64).sqrt()
    });
    let slope_ci95 = (m >= 2).then(|| {
        let mut sorted = slopes.clone();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((q * (m - 1) as f64).round() as usize).min(m - 1)];
        [at(0.025), at(0.975)]
    });
    SlopeBootstrap {
        resamples: draws,
        with_slope: m,
        slope_stderr,
        slope_ci95,
        interior_share: lrs.iter().zip(&interior).map(|(&lr, &k)| (lr, if draws == 0 { 0.0 } else { k as f64 / draws as f64 })).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points exactly on 1 − β = 0.3·η^(2/3) give C = 0.3; off-rule points give their geometric mean.
    #[test]
    fn c_at_two_thirds_recovers_the_rule() {
        let on: Vec<(f64, f64)> = [0.01, 0.05, 0.2].iter().map(|&lr: &f64| (lr, 0.3 * lr.powf(2.0 / 3.0))).collect();
        assert!((c_at_two_thirds(&on).unwrap() - 0.3).abs() < 1e-12);
        let off = [(1.0, 0.2), (1.0, 0.8)];
        assert!((c_at_two_thirds(&off).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(c_at_two_thirds(&[]), None);
    }

    /// The grid point's mean and standard error are the textbook ones, and a
    /// non-finite score marks the point failed.
    #[test]
    fn grid_point_mean_and_standard_error() {
        let p = GridPoint::of_seeds(0.9, &[0.5, 0.7, 0.6], false);
        assert!((p.score - 0.6).abs() < 1e-12);
        assert!((p.stderr.unwrap() - (0.01f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(!p.failed && p.seeds == 3);
        assert!(GridPoint::of_seeds(0.9, &[f64::NAN], false).failed);
        assert_eq!(GridPoint::of_seeds(0.9, &[0.5], false).stderr, None);
    }

    /// A vertex at the edge of the grid is flagged, not interior, and keeps
    /// its η out of the slope; a planted interior peak is recovered.
    #[test]
    fn interior_policy() {
        let betas = [0.5, 0.7, 0.8, 0.9, 0.95];
        let at = |x_star: f64| -> Vec<GridPoint> {
            betas.iter().map(|&b: &f64| GridPoint::of_seeds(b, &[0.9 - 0.01 * ((1.0 - b).ln() - x_star).powi(2)], false)).collect()
        };
        let inside = fit_beta_star_at(0.1, &at((0.15f64).ln()), 2);
        assert!(inside.interior && (inside.beta_star.unwrap() - 0.85).abs() < 1e-9, "{inside:?}");
        let edge = fit_beta_star_at(0.1, &at((0.9f64).ln()), 2);
        assert!(!edge.interior && edge.error.is_some(), "{edge:?}");
        assert!(fit_slope(&[inside.clone(), inside, edge]).is_err(), "two interior η cannot give a slope");
    }

    /// Negative controls: with no effect of β (flat scores) the fitter
    /// reports no β* rather than a peak; and a planted law with slope 1
    /// (not 2/3) is reported as 1, with its C.
    #[test]
    fn no_effect_gives_no_beta_star_and_another_law_gives_its_own_slope() {
        let betas = [0.5, 0.7, 0.8, 0.9, 0.95];
        let flat: Vec<GridPoint> = betas.iter().map(|&b| GridPoint::of_seeds(b, &[0.8], false)).collect();
        let fit = fit_beta_star_at(0.1, &flat, 2);
        assert!(!fit.interior && fit.beta_star.is_none() && fit.error.is_some(), "{fit:?}");
        // 1 − β* = 0.5·η (slope 1): a grid of the same β for every η brackets each vertex.
        let grid: Vec<f64> = (1..=12).map(|k| 1.0 - 0.002 * 1.6f64.powi(k)).collect();
        let per_lr: Vec<BetaStarAtLr> = [0.01, 0.03, 0.1]
            .iter()
            .map(|&lr: &f64| {
                let x_star = (0.5 * lr).ln();
                let pts: Vec<GridPoint> =
                    grid.iter().map(|&b| GridPoint::of_seeds(b, &[0.9 - 0.01 * ((1.0 - b).ln() - x_star).powi(2)], false)).collect();
                fit_beta_star_at(lr, &pts, 3)
            })
            .collect();
        assert!(per_lr.iter().all(|b| b.interior), "{per_lr:?}");
        let slope = fit_slope(&per_lr).unwrap();
        assert!((slope.slope - 1.0).abs() < 1e-6, "{slope:?}");
        // C at 2/3 is then the geometric mean of 0.5·η^(1/3), not a constant the fitter assumed.
        let want = [0.01f64, 0.03, 0.1].iter().map(|lr| (0.5 * lr.powf(1.0 / 3.0)).ln()).sum::<f64>() / 3.0;
        assert!((c_fit(&per_lr).unwrap() - want.exp()).abs() < 1e-6);
    }

    /// The bootstrap is a pure function of its inputs (same seed, same
    /// answer), has nothing to resample with one seed, and its standard error
    /// grows with the seed-to-seed scatter of the peaks.
    #[test]
    fn bootstrap_is_deterministic_and_tracks_the_seed_scatter() {
        let grid: Vec<f64> = (0..10).map(|k| 1.0 - 0.01 * (0.5 * k as f64).exp()).collect();
        let lrs = [0.01, 0.02, 0.04, 0.08];
        // Seed s has its own peak position: 1 − β* = 1.5·η^(2/3)·e^(jitter·(s − 2)/2).
        let cells = |jitter: f64, seeds: usize| -> Vec<SeedScores> {
            lrs.iter()
                .flat_map(|&lr: &f64| {
                    grid.iter().map(move |&b| SeedScores {
                        lr,
                        beta: b,
                        scores: (0..seeds)
                            .map(|s| {
                                let x = (1.5 * lr.powf(GAMMA_OPT)).ln() + jitter * (s as f64 - 2.0) * (1.0 + lr * 10.0) / 2.0;
                                0.9 - 0.005 * ((1.0 - b).ln() - x).powi(2)
                            })
                            .collect(),
                        failed: false,
                    })
                })
                .collect()
        };
        let a = bootstrap_slope(&cells(0.3, 5), &lrs, 2, 3, 300, 7);
        assert_eq!(a, bootstrap_slope(&cells(0.3, 5), &lrs, 2, 3, 300, 7));
        assert_ne!(a.slope_stderr, bootstrap_slope(&cells(0.3, 5), &lrs, 2, 3, 300, 8).slope_stderr);
        let tight = bootstrap_slope(&cells(0.05, 5), &lrs, 2, 3, 300, 7);
        assert!(tight.slope_stderr.unwrap() < a.slope_stderr.unwrap(), "{tight:?} vs {a:?}");
        let one = bootstrap_slope(&cells(0.3, 1), &lrs, 2, 3, 300, 7);
        assert_eq!((one.resamples, one.slope_stderr), (0, None));
    }

    /// A score that rises monotonically with β has no optimum, so it gives
    /// no interior β*. Accuracy linear in β is concave in log(1 − β), so the
    /// parabola's vertex lands inside the fitted range; only the rule that the
    /// best grid point must not sit at an end of the grid refuses it (it was
    /// an ignored known weakness until issue 13 added that rule).
    #[test]
    fn a_monotone_score_is_not_a_peak() {
        let betas = [0.5, 0.7, 0.8, 0.9, 0.95];
        let monotone: Vec<GridPoint> = betas.iter().map(|&b| GridPoint::of_seeds(b, &[0.5 + 0.3 * b], false)).collect();
        let fit = fit_beta_star_at(0.1, &monotone, 2);
        assert!(!fit.interior, "{fit:?}");
    }
}
