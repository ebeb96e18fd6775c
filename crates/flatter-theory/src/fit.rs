//! Least-squares fits for the experiments: the decay time τ of Sec. 4.1
//! (a line through log‖w‖² against the step k, τ = −1/slope), the exponent
//! a(γ) of τ ∝ η^{−a} (Sec. 4.1), and the optimal momentum β* of eq. (14),
//! acc(β) = a − b (log(1−β) − log(1−β*))², which is a quadratic in log(1−β).
//!
//! Every fit checks its input and reports a typed [`FitError`] instead of a
//! number it cannot stand behind: in particular, a run that diverges or never
//! decays comes back as an error, never as a decay time.

use serde::Serialize;

/// Why a fit could not be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FitError {
    /// The two input slices differ in length.
    #[error("length mismatch: {xs} x values but {ys} y values")]
    LengthMismatch {
        /// The number of x values.
        xs: usize,
        /// The number of y values.
        ys: usize,
    },
    /// Too few points to fit (or, for a decay fit, inside the window).
    #[error("too few points: {got}, need at least {need}")]
    TooFewPoints {
        /// How many points there were.
        got: usize,
        /// How many the fit needs.
        need: usize,
    },
    /// An input is NaN or infinite where a finite number is required.
    #[error("non-finite input at index {index}")]
    NonFinite {
        /// The index of the offending point.
        index: usize,
    },
    /// A value that is logged is zero or negative.
    #[error("non-positive value {value} at index {index} cannot be logged")]
    NonPositive {
        /// The index of the offending point.
        index: usize,
        /// The value there.
        value: f64,
    },
    /// The x values do not determine the fit (all equal, or a singular system).
    #[error("degenerate x values: the fit is not determined")]
    Degenerate,
    /// The steps of a decay series are not strictly increasing.
    #[error("steps are not strictly increasing at index {index}")]
    StepsNotIncreasing {
        /// The index of the first step that is not larger than the one before.
        index: usize,
    },
    /// After the transient, the value never fell below `start_fraction` of its
    /// value there (v_ref of [`WindowRule`]).
    #[error(
        "never decays: after the transient the value never fell below {start_fraction} of its starting value (lowest ratio {lowest_ratio})"
    )]
    NeverDecays {
        /// The start fraction of the window rule.
        start_fraction: f64,
        /// The smallest value/v_ref ratio reached after the transient.
        lowest_ratio: f64,
    },
    /// The line through log(value) against step has slope ≥ 0.
    #[error("never decays: fitted log-slope {slope} is not negative")]
    NonNegativeSlope {
        /// The fitted slope of log(value) per step.
        slope: f64,
    },
    /// The value grew above `diverge_factor` × its first value, or overflowed.
    #[error("diverged at step {step}: value {value}")]
    Diverged {
        /// The step at which divergence was detected.
        step: f64,
        /// The value there (possibly infinite or NaN).
        value: f64,
    },
    /// A quadratic has the wrong curvature for the extremum asked for.
    #[error("wrong curvature: quadratic coefficient {a} has no {wanted}")]
    WrongCurvature {
        /// The fitted coefficient of x².
        a: f64,
        /// "maximum" or "minimum".
        wanted: &'static str,
    },
}

/// An ordinary least-squares line y = slope·x + intercept.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LinearFit {
    /// The fitted slope.
    pub slope: f64,
    /// The fitted intercept (value at x = 0).
    pub intercept: f64,
    /// The textbook standard error of the slope, sqrt(s²/Sxx) with s² = SSR/(n−2).
    pub slope_stderr: f64,
    /// The standard error of the intercept, sqrt(s² (1/n + x̄²/Sxx)).
    pub intercept_stderr: f64,
    /// The coefficient of determination 1 − SSR/SST (1 when SST = 0 = SSR).
    pub r2: f64,
    /// The number of points.
    pub n: usize,
}

impl LinearFit {
    /// The fitted value at x.
    pub fn predict(&self, x: f64) -> f64 {
        self.slope * x + self.intercept
    }
}

fn check_pairs(xs: &[f64], ys: &[f64], need: usize) -> Result<(), FitError> {
    if xs.len() != ys.len() {
        return Err(FitError::LengthMismatch {
            xs: xs.len(),
            ys: ys.len(),
        });
    }
    if xs.len() < need {
        return Err(FitError::TooFewPoints {
            got: xs.len(),
            need,
        });
    }
    if let Some(index) = xs
        .iter()
        .zip(ys)
        .position(|(x, y)| !x.is_finite() || !y.is_finite())
    {
        return Err(FitError::NonFinite { index });
    }
    Ok(())
}

/// Ordinary least squares of ys on xs with standard errors; needs at least
/// three points (so that the residual variance has a degree of freedom) and
/// two distinct x values.
pub fn linear_fit(xs: &[f64], ys: &[f64]) -> Result<LinearFit, FitError> {
    check_pairs(xs, ys, 3)?;
    let n = xs.len();
    let nf = n as f64;
    let x_mean = xs.iter().sum::<f64>() / nf;
    let y_mean = ys.iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let (dx, dy) = (x - x_mean, y - y_mean);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx <= 0.0 {
        return Err(FitError::Degenerate);
    }
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    // Residuals are summed directly rather than as syy − slope·sxy, which
    // cancels catastrophically for near-exact lines.
    let ssr: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| {
            let r = y - (slope * (x - x_mean) + y_mean);
            r * r
        })
        .sum();
    let s2 = ssr / (nf - 2.0);
    let r2 = if syy > 0.0 { 1.0 - ssr / syy } else { 1.0 };
    Ok(LinearFit {
        slope,
        intercept,
        slope_stderr: (s2 / sxx).sqrt(),
        intercept_stderr: (s2 * (1.0 / nf + x_mean * x_mean / sxx)).sqrt(),
        r2,
        n,
    })
}

/// The minimum number of points inside a decay-fit window.
pub const MIN_WINDOW_POINTS: usize = 5;

/// Which part of a decaying series [`decay_time_fit`] fits.
///
/// Let v_ref be the value at the first point with step ≥ `skip_steps`: the
/// start of the series after the transient (a few τ₁ = 1/(1−β) plus the fall
/// onto the valley, see [`WindowRule::after_transient`]). With the default
/// `skip_steps = 0`, v_ref is simply the first value v₀. The window is:
///
/// 1. **Start after the transient:** the first point with step ≥ `skip_steps`
///    and value < `start_fraction` · v_ref.
/// 2. **Stop before the noise floor:** the last point before the first one
///    (from the start on) with value < `floor_fraction` · v_ref, or the end of
///    the series.
///
/// The reference is taken after the transient, not at step 0, because the
/// fall from a random initialisation onto Γ can itself shrink ‖w‖² by a large
/// factor (with momentum it may overshoot to near the origin).
///
/// Before any window is chosen the whole series is checked against the first
/// value v₀: a value above `diverge_factor` · v₀, infinite or NaN (after v₀)
/// is a divergence, and a value ≤ 0 cannot be logged.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WindowRule {
    /// Points at steps below this are part of the transient and never fitted.
    pub skip_steps: f64,
    /// The window starts once the value has fallen below this fraction of v_ref.
    pub start_fraction: f64,
    /// The window stops before the value first falls below this fraction of v_ref.
    pub floor_fraction: f64,
    /// A value above this multiple of v₀ means the run diverged.
    pub diverge_factor: f64,
}

impl Default for WindowRule {
    /// No transient skip, start below 0.9 v_ref, stop at 0.05 v_ref, diverged above 10 v₀.
    fn default() -> Self {
        WindowRule {
            skip_steps: 0.0,
            start_fraction: 0.9,
            floor_fraction: 0.05,
            diverge_factor: 10.0,
        }
    }
}

impl WindowRule {
    /// The default fractions, skipping the first `skip_factor · tau1` steps.
    pub fn after_transient(skip_factor: f64, tau1: f64) -> Self {
        WindowRule {
            skip_steps: skip_factor * tau1,
            ..WindowRule::default()
        }
    }
}

/// An exponential decay value ≈ exp(log_intercept − step/τ).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DecayFit {
    /// The decay (e-folding) time τ = −1/slope, in the units of `steps`.
    pub tau: f64,
    /// Its standard error by the delta method, slope_stderr / slope².
    pub tau_stderr: f64,
    /// The decay rate 1/τ = −slope.
    pub rate: f64,
    /// The standard error of the rate (= that of the slope).
    pub rate_stderr: f64,
    /// The intercept of log(value) at step 0.
    pub log_intercept: f64,
    /// R² of the line in log space.
    pub r2: f64,
    /// The index of the first point in the window.
    pub first_index: usize,
    /// The index one past the last point in the window.
    pub end_index: usize,
    /// The step of the first point in the window.
    pub first_step: f64,
    /// The step of the last point in the window.
    pub last_step: f64,
}

impl DecayFit {
    /// The number of points that were fitted.
    pub fn n_points(&self) -> usize {
        self.end_index - self.first_index
    }
}

/// Fits log(value) against step with a line over the window of `rule` and
/// returns τ = −1/slope with its uncertainty.
///
/// Errors: [`FitError::Diverged`] if any value exceeds `diverge_factor` · v₀
/// or is not finite after v₀, [`FitError::NonPositive`] for a value ≤ 0,
/// [`FitError::NeverDecays`] if no point after the transient falls below
/// `start_fraction` · v_ref, [`FitError::TooFewPoints`] for a window of fewer
/// than [`MIN_WINDOW_POINTS`], and [`FitError::NonNegativeSlope`] if the
/// fitted slope is ≥ 0.
pub fn decay_time_fit(
    steps: &[f64],
    values: &[f64],
    rule: WindowRule,
) -> Result<DecayFit, FitError> {
    if steps.len() != values.len() {
        return Err(FitError::LengthMismatch {
            xs: steps.len(),
            ys: values.len(),
        });
    }
    if values.is_empty() {
        return Err(FitError::TooFewPoints {
            got: 0,
            need: MIN_WINDOW_POINTS,
        });
    }
    if let Some(index) = steps.iter().position(|s| !s.is_finite()) {
        return Err(FitError::NonFinite { index });
    }
    if let Some(index) = steps.windows(2).position(|w| w[1] <= w[0]) {
        return Err(FitError::StepsNotIncreasing { index: index + 1 });
    }
    let v0 = values[0];
    if !v0.is_finite() {
        return Err(FitError::NonFinite { index: 0 });
    }
    if v0 <= 0.0 {
        return Err(FitError::NonPositive {
            index: 0,
            value: v0,
        });
    }
    for (index, (&step, &value)) in steps.iter().zip(values).enumerate() {
        if value.is_nan() || value == f64::INFINITY || value > rule.diverge_factor * v0 {
            return Err(FitError::Diverged { step, value });
        }
        if value <= 0.0 {
            return Err(FitError::NonPositive { index, value });
        }
    }
    let Some(after_transient) = steps.iter().position(|&s| s >= rule.skip_steps) else {
        return Err(FitError::TooFewPoints {
            got: 0,
            need: MIN_WINDOW_POINTS,
        });
    };
    let v_ref = values[after_transient];
    let start_level = rule.start_fraction * v_ref;
    let floor_level = rule.floor_fraction * v_ref;
    let Some(first) = (after_transient..values.len()).find(|&i| values[i] < start_level) else {
        let lowest_ratio = values[after_transient..]
            .iter()
            .fold(f64::INFINITY, |m, &v| m.min(v / v_ref));
        return Err(FitError::NeverDecays {
            start_fraction: rule.start_fraction,
            lowest_ratio,
        });
    };
    let end = (first..values.len())
        .find(|&i| values[i] < floor_level)
        .unwrap_or(values.len());
    let got = end - first;
    if got < MIN_WINDOW_POINTS {
        return Err(FitError::TooFewPoints {
            got,
            need: MIN_WINDOW_POINTS,
        });
    }
    let logs: Vec<f64> = values[first..end].iter().map(|v| v.ln()).collect();
    let line = linear_fit(&steps[first..end], &logs)?;
    if line.slope >= 0.0 {
        return Err(FitError::NonNegativeSlope { slope: line.slope });
    }
    let rate = -line.slope;
    Ok(DecayFit {
        tau: 1.0 / rate,
        tau_stderr: line.slope_stderr / (rate * rate),
        rate,
        rate_stderr: line.slope_stderr,
        log_intercept: line.intercept,
        r2: line.r2,
        first_index: first,
        end_index: end,
        first_step: steps[first],
        last_step: steps[end - 1],
    })
}

/// A power law τ = exp(prefactor_log) · η^{−exponent_a}.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PowerLawFit {
    /// The exponent a in τ ∝ η^{−a} (minus the log-log slope).
    pub exponent_a: f64,
    /// The standard error of a.
    pub a_stderr: f64,
    /// ln K, the log of the prefactor.
    pub prefactor_log: f64,
    /// The standard error of ln K.
    pub prefactor_log_stderr: f64,
    /// R² of the log-log line.
    pub r2: f64,
    /// The number of points.
    pub n: usize,
}

impl PowerLawFit {
    /// The fitted τ at learning rate η.
    pub fn predict(&self, eta: f64) -> f64 {
        (self.prefactor_log - self.exponent_a * eta.ln()).exp()
    }
}

/// Fits τ ∝ η^{−a} by a line through (ln η, ln τ); needs at least three
/// positive points with at least two distinct η.
pub fn power_law_fit(etas: &[f64], taus: &[f64]) -> Result<PowerLawFit, FitError> {
    check_pairs(etas, taus, 3)?;
    for (index, &value) in etas.iter().chain(taus).enumerate() {
        if value <= 0.0 {
            return Err(FitError::NonPositive {
                index: index % etas.len(),
                value,
            });
        }
    }
    let xs: Vec<f64> = etas.iter().map(|e| e.ln()).collect();
    let ys: Vec<f64> = taus.iter().map(|t| t.ln()).collect();
    let line = linear_fit(&xs, &ys)?;
    Ok(PowerLawFit {
        exponent_a: -line.slope,
        a_stderr: line.slope_stderr,
        prefactor_log: line.intercept,
        prefactor_log_stderr: line.intercept_stderr,
        r2: line.r2,
        n: line.n,
    })
}

/// A least-squares parabola y = a x² + b x + c.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct QuadraticFit {
    /// The coefficient of x².
    pub a: f64,
    /// The coefficient of x.
    pub b: f64,
    /// The constant term.
    pub c: f64,
    /// The abscissa of the extremum, −b/(2a).
    pub vertex: f64,
    /// The standard error of the vertex by the delta method; `None` with
    /// exactly three points (no residual degree of freedom).
    pub vertex_stderr: Option<f64>,
    /// R² of the fit.
    pub r2: f64,
    /// The number of points.
    pub n: usize,
}

impl QuadraticFit {
    /// The fitted value at x.
    pub fn predict(&self, x: f64) -> f64 {
        (self.a * x + self.b) * x + self.c
    }

    /// The fitted value at the vertex.
    pub fn vertex_value(&self) -> f64 {
        self.predict(self.vertex)
    }
}

/// Solves the 3×3 system m·z = rhs by Gaussian elimination with partial
/// pivoting; `None` if it is singular to working precision.
pub(crate) fn solve3(mut m: [[f64; 3]; 3], mut rhs: [f64; 3]) -> Option<[f64; 3]> {
    let scale = m.iter().flatten().fold(0.0f64, |s, v| s.max(v.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return None;
    }
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() <= 1e-13 * scale {
            return None;
        }
        m.swap(col, pivot);
        rhs.swap(col, pivot);
        for row in col + 1..3 {
            let factor = m[row][col] / m[col][col];
            let pivot_row = m[col];
            for (entry, p) in m[row].iter_mut().zip(pivot_row).skip(col) {
                *entry -= factor * p;
            }
            rhs[row] -= factor * rhs[col];
        }
    }
    let mut z = [0.0; 3];
    for row in (0..3).rev() {
        let tail: f64 = (row + 1..3).map(|k| m[row][k] * z[k]).sum();
        z[row] = (rhs[row] - tail) / m[row][row];
    }
    Some(z)
}

/// Fits y = a x² + b x + c by least squares, solving the normal equations in
/// the centred and scaled variable t = (x − x̄)/s for conditioning and
/// mapping back; needs at least three distinct x values.
pub fn quadratic_fit(xs: &[f64], ys: &[f64]) -> Result<QuadraticFit, FitError> {
    check_pairs(xs, ys, 3)?;
    let n = xs.len();
    let nf = n as f64;
    let mean = xs.iter().sum::<f64>() / nf;
    let scale = xs.iter().fold(0.0f64, |s, x| s.max((x - mean).abs()));
    if scale <= 0.0 {
        return Err(FitError::Degenerate);
    }
    let ts: Vec<f64> = xs.iter().map(|x| (x - mean) / scale).collect();
    // Normal equations for (a', b', c') in y = a' t² + b' t + c'.
    let mut m = [[0.0; 3]; 3];
    let mut rhs = [0.0; 3];
    for (t, y) in ts.iter().zip(ys) {
        let basis = [t * t, *t, 1.0];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += basis[i] * basis[j];
            }
            rhs[i] += basis[i] * y;
        }
    }
    let [ap, bp, cp] = solve3(m, rhs).ok_or(FitError::Degenerate)?;
    let y_mean = ys.iter().sum::<f64>() / nf;
    let (mut ssr, mut sst) = (0.0, 0.0);
    for (t, y) in ts.iter().zip(ys) {
        let r = y - ((ap * t + bp) * t + cp);
        ssr += r * r;
        sst += (y - y_mean) * (y - y_mean);
    }
    // Back to x: t = (x − mean)/scale.
    let a = ap / (scale * scale);
    let b = bp / scale - 2.0 * ap * mean / (scale * scale);
    let c = ap * mean * mean / (scale * scale) - bp * mean / scale + cp;
    let t_vertex = -bp / (2.0 * ap);
    let vertex = mean + scale * t_vertex;
    let vertex_stderr = if n > 3 && ap != 0.0 {
        // Cov(a', b') = s² (MᵀM)⁻¹ restricted to the first two coordinates.
        let s2 = ssr / (nf - 3.0);
        let col = |k: usize| {
            let mut e = [0.0; 3];
            e[k] = 1.0;
            solve3(m, e)
        };
        match (col(0), col(1)) {
            (Some(c0), Some(c1)) => {
                // ∂t_v/∂a' = b'/(2a'²), ∂t_v/∂b' = −1/(2a').
                let g = [bp / (2.0 * ap * ap), -1.0 / (2.0 * ap)];
                let var =
                    s2 * (g[0] * g[0] * c0[0] + 2.0 * g[0] * g[1] * c0[1] + g[1] * g[1] * c1[1]);
                Some(scale * var.max(0.0).sqrt())
            }
            _ => None,
        }
    } else {
        None
    };
    Ok(QuadraticFit {
        a,
        b,
        c,
        vertex,
        vertex_stderr,
        r2: if sst > 0.0 { 1.0 - ssr / sst } else { 1.0 },
        n,
    })
}

/// The minimiser of the parabola through the lowest point and its two
/// neighbours in x (the points are sorted by x first), e.g. the γ that
/// minimises τ at fixed η. `None` if the lowest point is the first or last
/// (the minimum is not bracketed), if x values repeat, if any input is not
/// finite, or if fewer than three points are given.
pub fn argmin_parabola(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() != ys.len() || xs.len() < 3 || xs.iter().chain(ys).any(|v| !v.is_finite()) {
        return None;
    }
    let mut points: Vec<(f64, f64)> = xs.iter().copied().zip(ys.iter().copied()).collect();
    points.sort_by(|p, q| p.0.total_cmp(&q.0));
    if points.windows(2).any(|w| w[1].0 == w[0].0) {
        return None;
    }
    let lowest = (0..points.len()).min_by(|&i, &j| points[i].1.total_cmp(&points[j].1))?;
    if lowest == 0 || lowest == points.len() - 1 {
        return None;
    }
    let [(x0, y0), (x1, y1), (x2, y2)] = [points[lowest - 1], points[lowest], points[lowest + 1]];
    // Vertex of the interpolating parabola (divided differences).
    let d01 = (y1 - y0) / (x1 - x0);
    let d12 = (y2 - y1) / (x2 - x1);
    let curvature = (d12 - d01) / (x2 - x0);
    if curvature <= 0.0 {
        return None;
    }
    Some(0.5 * (x0 + x1) - d01 / (2.0 * curvature))
}

/// The maximiser of the parabola through the highest point and its two
/// neighbours: [`argmin_parabola`] of −y.
pub fn argmax_parabola(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let negated: Vec<f64> = ys.iter().map(|y| -y).collect();
    argmin_parabola(xs, &negated)
}

/// The optimal momentum of eq. (14), acc(β) = peak − curvature·(log(1−β) − log(1−β*))².
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BetaStarFit {
    /// The fitted optimal momentum β*.
    pub beta_star: f64,
    /// log(1 − β*), the vertex in the fitted variable.
    pub log_one_minus_beta_star: f64,
    /// The standard error of log(1 − β*), if there were more than three points.
    pub log_one_minus_beta_star_stderr: Option<f64>,
    /// The fitted accuracy at β* (the a of eq. (14)).
    pub peak: f64,
    /// The fitted curvature b > 0 of eq. (14).
    pub curvature: f64,
    /// The underlying quadratic in log(1 − β).
    pub quadratic: QuadraticFit,
}

/// Fits eq. (14) to (β, accuracy) pairs as a quadratic in log(1 − β) and
/// returns β*. Every β must be below 1; the parabola must open downwards.
pub fn fit_beta_star(betas: &[f64], accs: &[f64]) -> Result<BetaStarFit, FitError> {
    check_pairs(betas, accs, 3)?;
    if let Some(index) = betas.iter().position(|&b| b >= 1.0) {
        return Err(FitError::NonPositive {
            index,
            value: 1.0 - betas[index],
        });
    }
    let xs: Vec<f64> = betas.iter().map(|b| (1.0 - b).ln()).collect();
    let quadratic = quadratic_fit(&xs, accs)?;
    if quadratic.a >= 0.0 {
        return Err(FitError::WrongCurvature {
            a: quadratic.a,
            wanted: "maximum",
        });
    }
    Ok(BetaStarFit {
        beta_star: 1.0 - quadratic.vertex.exp(),
        log_one_minus_beta_star: quadratic.vertex,
        log_one_minus_beta_star_stderr: quadratic.vertex_stderr,
        peak: quadratic.vertex_value(),
        curvature: -quadratic.a,
        quadratic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SplitMix64;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    /// Exact lines are recovered to 1e-12 with zero standard errors and R² = 1.
    #[test]
    fn linear_fit_exact_line() {
        let xs: Vec<f64> = (0..20).map(|i| 0.5 * i as f64 - 3.0).collect();
        for &(slope, intercept) in &[(2.5, -1.0), (-0.003, 7.0), (0.0, 1.5), (1e3, 1e-3)] {
            let ys: Vec<f64> = xs.iter().map(|x| slope * x + intercept).collect();
            let fit = linear_fit(&xs, &ys).unwrap();
            assert!((fit.slope - slope).abs() < 1e-12 * (1.0 + slope.abs()));
            assert!(
                (fit.intercept - intercept).abs() < 1e-12 * (1.0 + slope.abs() + intercept.abs())
            );
            assert!(fit.slope_stderr < 1e-10 * (1.0 + slope.abs()));
            assert!((fit.r2 - 1.0).abs() < 1e-12);
            assert_eq!(fit.n, 20);
        }
    }

    /// Over many seeded trials of a noisy line, the spread of the fitted
    /// slope and intercept matches the textbook sampling error
    /// σ/sqrt(Sxx) and σ sqrt(1/n + x̄²/Sxx), and the mean reported standard
    /// errors match that spread, within a factor 1.15.
    #[test]
    fn linear_fit_standard_errors() {
        let xs: Vec<f64> = (0..15).map(|i| 1.0 + i as f64).collect();
        let n = xs.len() as f64;
        let x_mean = xs.iter().sum::<f64>() / n;
        let sxx: f64 = xs.iter().map(|x| (x - x_mean).powi(2)).sum();
        let sigma = 0.4;
        let true_slope_sd = sigma / sxx.sqrt();
        let true_intercept_sd = sigma * (1.0 / n + x_mean * x_mean / sxx).sqrt();
        let mut rng = SplitMix64::new(7);
        let trials = 4000;
        let (mut slopes, mut intercepts) = (Vec::new(), Vec::new());
        let (mut se_slope, mut se_intercept) = (0.0, 0.0);
        for _ in 0..trials {
            let ys: Vec<f64> = xs
                .iter()
                .map(|x| 0.7 * x - 2.0 + sigma * rng.normal())
                .collect();
            let fit = linear_fit(&xs, &ys).unwrap();
            slopes.push(fit.slope);
            intercepts.push(fit.intercept);
            se_slope += fit.slope_stderr / trials as f64;
            se_intercept += fit.intercept_stderr / trials as f64;
        }
        let sd = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
        };
        let ratio_ok = |a: f64, b: f64| a / b < 1.15 && b / a < 1.15;
        assert!(
            ratio_ok(sd(&slopes), true_slope_sd),
            "{} vs {}",
            sd(&slopes),
            true_slope_sd
        );
        assert!(ratio_ok(sd(&intercepts), true_intercept_sd));
        assert!(
            ratio_ok(se_slope, true_slope_sd),
            "{se_slope} vs {true_slope_sd}"
        );
        assert!(ratio_ok(se_intercept, true_intercept_sd));
        // Unbiased on average.
        let mean_slope = slopes.iter().sum::<f64>() / trials as f64;
        assert!((mean_slope - 0.7).abs() < 4.0 * true_slope_sd / (trials as f64).sqrt());
    }

    /// Too few points, mismatched lengths, non-finite input and a constant x are errors.
    #[test]
    fn linear_fit_rejects_bad_input() {
        assert!(matches!(
            linear_fit(&[1.0, 2.0], &[1.0, 2.0]),
            Err(FitError::TooFewPoints { got: 2, need: 3 })
        ));
        assert!(matches!(
            linear_fit(&[1.0, 2.0, 3.0], &[1.0, 2.0]),
            Err(FitError::LengthMismatch { .. })
        ));
        assert!(matches!(
            linear_fit(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]),
            Err(FitError::NonFinite { index: 1 })
        ));
        assert!(matches!(
            linear_fit(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]),
            Err(FitError::Degenerate)
        ));
    }

    fn exponential(tau: f64, v0: f64, steps: &[f64]) -> Vec<f64> {
        steps.iter().map(|k| v0 * (-k / tau).exp()).collect()
    }

    /// A pure exponential gives its τ to 1e-9, and the window follows the rule.
    #[test]
    fn decay_fit_pure_exponential() {
        let steps: Vec<f64> = (0..400).map(|i| 10.0 * i as f64).collect();
        for &tau in &[50.0, 300.0, 1234.5] {
            let values = exponential(tau, 10.0, &steps);
            let fit = decay_time_fit(&steps, &values, WindowRule::default()).unwrap();
            assert!(rel(fit.tau, tau) < 1e-9, "{} vs {tau}", fit.tau);
            assert!(fit.tau_stderr < 1e-9 * tau);
            // Window: first value < 0.9·v₀ and before the first < 0.05·v₀.
            assert!(values[fit.first_index] < 9.0 && values[fit.first_index - 1] >= 9.0);
            if fit.end_index < values.len() {
                assert!(values[fit.end_index] < 0.5 && values[fit.end_index - 1] >= 0.5);
            }
        }
        // The transient skip moves the start.
        let values = exponential(300.0, 10.0, &steps);
        let fit = decay_time_fit(&steps, &values, WindowRule::after_transient(5.0, 20.0)).unwrap();
        // The reference is v(100); e^{−Δ/300} < 0.9 first at Δ = 40 on this grid.
        assert_eq!(fit.first_step, 140.0);
        assert!(rel(fit.tau, 300.0) < 1e-9);
    }

    /// An exponential with 1% multiplicative noise gives τ to 1%, with an
    /// honest standard error.
    #[test]
    fn decay_fit_noisy_exponential() {
        let steps: Vec<f64> = (0..2000).map(|i| i as f64).collect();
        let tau = 400.0;
        let mut rng = SplitMix64::new(3);
        let mut pulls = Vec::new();
        for _ in 0..20 {
            let values: Vec<f64> = exponential(tau, 5.0, &steps)
                .iter()
                .map(|v| v * (1.0 + 0.01 * rng.normal()))
                .collect();
            let fit = decay_time_fit(&steps, &values, WindowRule::default()).unwrap();
            assert!(rel(fit.tau, tau) < 0.01, "{} vs {tau}", fit.tau);
            pulls.push((fit.tau - tau) / fit.tau_stderr);
        }
        let rms = (pulls.iter().map(|p| p * p).sum::<f64>() / pulls.len() as f64).sqrt();
        assert!(rms < 2.0, "pull rms {rms}");
    }

    /// A diverging series is a divergence error, never a τ; so is an overflow.
    #[test]
    fn decay_fit_diverged() {
        let steps: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let growing: Vec<f64> = steps.iter().map(|k| (k / 20.0).exp()).collect();
        assert!(matches!(
            decay_time_fit(&steps, &growing, WindowRule::default()),
            Err(FitError::Diverged { .. })
        ));
        // Decays first, then blows up to infinity and NaN.
        let mut values = exponential(20.0, 1.0, &steps);
        values[60] = f64::INFINITY;
        values[61] = f64::NAN;
        let err = decay_time_fit(&steps, &values, WindowRule::default()).unwrap_err();
        assert!(
            matches!(err, FitError::Diverged { step, .. } if step == 60.0),
            "{err}"
        );
        assert!(err.to_string().contains("diverged"));
    }

    /// A flat (noisy) series and a slowly growing one never decay; a series
    /// that drops once then rises gives a non-negative slope.
    #[test]
    fn decay_fit_never_decays() {
        let steps: Vec<f64> = (0..200).map(|i| i as f64).collect();
        let mut rng = SplitMix64::new(5);
        let flat: Vec<f64> = steps.iter().map(|_| 1.0 + 0.01 * rng.normal()).collect();
        let err = decay_time_fit(&steps, &flat, WindowRule::default()).unwrap_err();
        assert!(matches!(err, FitError::NeverDecays { .. }), "{err}");
        assert!(err.to_string().contains("never decays"));
        let growing: Vec<f64> = steps.iter().map(|k| 1.0 + k / 1000.0).collect();
        assert!(matches!(
            decay_time_fit(&steps, &growing, WindowRule::default()),
            Err(FitError::NeverDecays { .. })
        ));
        // Drops to 0.5 at once, then creeps up: inside the window the slope is positive.
        let rising: Vec<f64> = steps
            .iter()
            .map(|&k| {
                if k == 0.0 {
                    1.0
                } else {
                    0.5 * (1.0 + k / 1000.0)
                }
            })
            .collect();
        let err = decay_time_fit(&steps, &rising, WindowRule::default()).unwrap_err();
        assert!(matches!(err, FitError::NonNegativeSlope { .. }), "{err}");
        assert!(err.to_string().contains("never decays"));
    }

    /// Too short a window, a non-positive value and bad steps are errors.
    #[test]
    fn decay_fit_other_errors() {
        let steps: Vec<f64> = (0..100).map(|i| i as f64).collect();
        // Falls from 1 to below 0.05 within 3 points of crossing 0.9.
        let fast = exponential(1.0, 1.0, &steps);
        assert!(matches!(
            decay_time_fit(&steps, &fast, WindowRule::default()),
            Err(FitError::TooFewPoints { .. })
        ));
        let mut values = exponential(30.0, 1.0, &steps);
        values[10] = 0.0;
        assert!(matches!(
            decay_time_fit(&steps, &values, WindowRule::default()),
            Err(FitError::NonPositive { index: 10, .. })
        ));
        let values = exponential(30.0, 1.0, &steps);
        let mut bad_steps = steps.clone();
        bad_steps[5] = 3.0;
        assert!(matches!(
            decay_time_fit(&bad_steps, &values, WindowRule::default()),
            Err(FitError::StepsNotIncreasing { index: 5 })
        ));
        assert!(matches!(
            decay_time_fit(&steps[..3], &values, WindowRule::default()),
            Err(FitError::LengthMismatch { .. })
        ));
    }

    /// An exact power law gives its exponent and prefactor to 1e-12; a noisy
    /// one gives them within a few standard errors.
    #[test]
    fn power_law_recovers_exponent() {
        let etas = [1e-3, 2e-3, 5e-3, 1e-2, 2e-2];
        let taus: Vec<f64> = etas
            .iter()
            .map(|e: &f64| 3.0 * e.powf(-2.0 / 3.0))
            .collect();
        let fit = power_law_fit(&etas, &taus).unwrap();
        assert!((fit.exponent_a - 2.0 / 3.0).abs() < 1e-12);
        assert!((fit.prefactor_log - 3.0f64.ln()).abs() < 1e-12);
        assert!(rel(fit.predict(4e-3), 3.0 * 4e-3f64.powf(-2.0 / 3.0)) < 1e-12);
        let mut rng = SplitMix64::new(9);
        let noisy: Vec<f64> = taus
            .iter()
            .map(|t| t * (0.05 * rng.normal()).exp())
            .collect();
        let fit = power_law_fit(&etas, &noisy).unwrap();
        assert!(
            (fit.exponent_a - 2.0 / 3.0).abs() < 4.0 * fit.a_stderr,
            "{fit:?}"
        );
        assert!(fit.a_stderr > 0.0 && fit.a_stderr < 0.1);
        assert!(matches!(
            power_law_fit(&etas, &[1.0, -1.0, 1.0, 1.0, 1.0]),
            Err(FitError::NonPositive { index: 1, .. })
        ));
    }

    /// Exact parabolas (with far-off-centre x) are recovered to 1e-9.
    #[test]
    fn quadratic_fit_exact() {
        for &(a, b, c, offset) in &[
            (2.0, -3.0, 1.0, 0.0),
            (-0.5, 4.0, 10.0, 100.0),
            (1e-3, 0.01, -2.0, -7.0),
        ] {
            let xs: Vec<f64> = (0..9).map(|i| offset + 0.25 * i as f64).collect();
            let ys: Vec<f64> = xs.iter().map(|x| a * x * x + b * x + c).collect();
            let fit = quadratic_fit(&xs, &ys).unwrap();
            let tol = 1e-9 * (1.0 + a.abs() * offset * offset + b.abs() * offset.abs() + c.abs());
            assert!((fit.a - a).abs() < 1e-9 * (1.0 + a.abs()), "{fit:?}");
            assert!((fit.b - b).abs() < tol, "{fit:?}");
            assert!((fit.c - c).abs() < tol * (1.0 + offset.abs()), "{fit:?}");
            assert!(rel(fit.vertex, -b / (2.0 * a)) < 1e-9, "{fit:?}");
            assert!(fit.vertex_stderr.unwrap() < 1e-6);
        }
        // Three points: an interpolating parabola without a standard error.
        let fit = quadratic_fit(&[0.0, 1.0, 2.0], &[1.0, 0.0, 1.0]).unwrap();
        assert!((fit.vertex - 1.0).abs() < 1e-12 && fit.vertex_stderr.is_none());
        assert!(matches!(
            quadratic_fit(&[1.0, 1.0, 2.0, 2.0], &[0.0, 1.0, 2.0, 3.0]),
            Err(FitError::Degenerate)
        ));
    }

    /// On noisy parabolas the vertex scatters about the truth by about the
    /// reported standard error (pull rms between 0.7 and 1.4).
    #[test]
    fn quadratic_fit_noisy_vertex() {
        let xs: Vec<f64> = (0..11).map(|i| -1.0 + 0.25 * i as f64).collect();
        let (a, vertex) = (3.0, 0.3);
        let mut rng = SplitMix64::new(21);
        let trials = 2000;
        let mut sum_pull2 = 0.0;
        for _ in 0..trials {
            let ys: Vec<f64> = xs
                .iter()
                .map(|x| a * (x - vertex).powi(2) + 0.05 * rng.normal())
                .collect();
            let fit = quadratic_fit(&xs, &ys).unwrap();
            let pull = (fit.vertex - vertex) / fit.vertex_stderr.unwrap();
            sum_pull2 += pull * pull;
        }
        let rms = (sum_pull2 / trials as f64).sqrt();
        assert!(rms > 0.7 && rms < 1.4, "pull rms {rms}");
    }

    /// The three-point minimiser is exact for a parabola, insensitive to the
    /// order of the points, and refuses an unbracketed minimum.
    #[test]
    fn argmin_parabola_cases() {
        let xs = [0.8, 0.5, 2.0 / 3.0, 0.6, 0.75];
        let ys: Vec<f64> = xs
            .iter()
            .map(|g| 2.0 + 5.0 * (g - 0.65f64).powi(2))
            .collect();
        let got = argmin_parabola(&xs, &ys).unwrap();
        assert!((got - 0.65).abs() < 1e-12, "{got}");
        // A V-shape |x − 0.62| on an uneven grid still lands between the neighbours.
        let vs: Vec<f64> = xs.iter().map(|g| (g - 0.62f64).abs()).collect();
        let got = argmin_parabola(&xs, &vs).unwrap();
        assert!(got > 0.6 && got < 2.0 / 3.0);
        // Minimum at an end: not bracketed.
        assert_eq!(argmin_parabola(&xs, &xs), None);
        assert_eq!(argmin_parabola(&[0.0, 1.0], &[1.0, 0.0]), None);
        assert_eq!(argmin_parabola(&[0.0, 1.0, 1.0], &[1.0, 0.0, 2.0]), None);
        let peak: Vec<f64> = xs.iter().map(|g| 1.0 - (g - 0.7f64).powi(2)).collect();
        assert!((argmax_parabola(&xs, &peak).unwrap() - 0.7).abs() < 1e-12);
    }

    /// Eq. (14) with a known β* is recovered exactly from exact data and
    /// within a few standard errors from noisy data; a valley is refused.
    #[test]
    fn beta_star_recovered() {
        let betas = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99];
        let beta_star: f64 = 0.93;
        let acc = |b: f64| 0.9 - 0.02 * ((1.0 - b).ln() - (1.0 - beta_star).ln()).powi(2);
        let ys: Vec<f64> = betas.iter().map(|&b| acc(b)).collect();
        let fit = fit_beta_star(&betas, &ys).unwrap();
        assert!((fit.beta_star - beta_star).abs() < 1e-10, "{fit:?}");
        assert!((fit.peak - 0.9).abs() < 1e-10 && (fit.curvature - 0.02).abs() < 1e-10);
        let mut rng = SplitMix64::new(17);
        let noisy: Vec<f64> = ys.iter().map(|y| y + 0.002 * rng.normal()).collect();
        let fit = fit_beta_star(&betas, &noisy).unwrap();
        let se = fit.log_one_minus_beta_star_stderr.unwrap();
        assert!(
            (fit.log_one_minus_beta_star - (1.0 - beta_star).ln()).abs() < 4.0 * se,
            "{fit:?}"
        );
        let valley: Vec<f64> = ys.iter().map(|y| -y).collect();
        assert!(matches!(
            fit_beta_star(&betas, &valley),
            Err(FitError::WrongCurvature { .. })
        ));
    }
}
