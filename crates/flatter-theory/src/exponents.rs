//! The convergence exponent a(γ) in τ ∝ η^{−a} *measured* from the pieces of
//! the theory, not read off the formula a(γ) = max(γ, 2 − 2γ) of Sec. 2.2.
//!
//! τ(η, γ) is built from two independent ingredients on the rule
//! 1 − β = C η^γ (eq. (2)):
//!
//! - τ₁, the relaxation time −1/ln|μ| of the slowest non-unit eigenvalue of
//!   the linearised map of eq. (1) (the Jacobian of eq. (8)), over the zero
//!   mode λ = 0 and one transverse mode of curvature λ. The eigenvalues come
//!   from a generic numerical 2×2 solve of the Jacobian's entries
//!   ([`eigenvalues_2x2`]), not from the closed form μ± of eq. (8).
//! - τ₂ = 1/rate, with the drift rate of eq. (126),
//!   κ² η² ε² σ_x² / (n (1 − β)^p) per step, p = 2 in the paper. The power p
//!   is a parameter so that a test can change the drift law (a negative
//!   control): a(γ) then becomes max(γ, 2 − pγ), minimised at γ* = 2/(p + 1).
//!
//! τ = τ₁ + τ₂: the transverse modes equilibrate (τ₁) and the noise-driven
//! drift along the valley (τ₂) then carries w to the flat region, one after
//! the other (Sec. 2.2). A sum of two powers of η has the exponent of the
//! larger one as η → 0, so the sum and max(τ₁, τ₂) share the exponent and
//! differ by at most a factor 2 at any η; the sum is smooth across the
//! crossover, where the max has a kink.
//!
//! The exponent is the least-squares slope of ln τ against ln η over a grid of
//! small η ([`TauModel::fit_exponent`]), and γ* its minimiser over γ by
//! golden-section search ([`TauModel::argmin_exponent`]). Nothing here calls
//! [`crate::timescales::exponent_a`].

use serde::{Deserialize, Serialize};

use crate::fit::{FitError, LinearFit, linear_fit};
use crate::spectrum::{Complex, jacobian};

/// Why τ(η, γ) or its exponent could not be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExponentError {
    /// C η^γ outside (0, 1]: β = 1 − C η^γ is not a momentum.
    #[error("c = {c}, gamma = {gamma}, lr = {lr} give 1 - beta = {one_minus_beta}, outside (0, 1]")]
    BetaOutOfRange {
        /// The prefactor C.
        c: f64,
        /// The exponent γ.
        gamma: f64,
        /// The learning rate η.
        lr: f64,
        /// C η^γ.
        one_minus_beta: f64,
    },
    /// A parameter of the model is out of range.
    #[error("{field} = {value}: {expected}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What was expected.
        expected: &'static str,
    },
    /// The least-squares fit failed.
    #[error(transparent)]
    Fit(#[from] FitError),
}

/// The eigenvalues of a real 2×2 matrix from its entries alone, larger
/// modulus first: μ = (tr ± √disc)/2 with disc = (a − d)² + 4bc (the form
/// that does not cancel when the two diagonal entries are close), the
/// smaller real root as det/μ_big, and a complex pair when disc < 0.
pub fn eigenvalues_2x2(m: [[f64; 2]; 2]) -> (Complex, Complex) {
    let ([a, b], [c, d]) = (m[0], m[1]);
    let (tr, det) = (a + d, a * d - b * c);
    let disc = (a - d) * (a - d) + 4.0 * b * c;
    if disc >= 0.0 {
        let big = 0.5 * (tr + disc.sqrt().copysign(tr));
        let small = if big == 0.0 { 0.0 } else { det / big };
        (Complex::real(big), Complex::real(small))
    } else {
        let im = 0.5 * (-disc).sqrt();
        (Complex::new(0.5 * tr, im), Complex::new(0.5 * tr, -im))
    }
}

/// An eigenvalue within this distance of the unit circle is the flat
/// direction of the valley (μ = 1 of the zero mode), not a relaxing mode.
pub const UNIT_TOLERANCE: f64 = 1e-12;

/// The relaxation time −1/ln|μ| in steps of the slowest relaxing mode of the
/// eq. (1) map linearised at a valley point, over the zero mode (λ = 0) and
/// a transverse mode of curvature `lambda`: eigenvalues within
/// [`UNIT_TOLERANCE`] of modulus 1 are skipped (they do not relax).
pub fn slowest_relaxation_time(lr: f64, beta: f64, lambda: f64) -> f64 {
    let mut slowest: f64 = 0.0;
    for l in [0.0, lambda] {
        let (p, q) = eigenvalues_2x2(jacobian(lr, beta, l));
        for mu in [p, q] {
            let r = mu.abs();
            if (1.0 - r).abs() > UNIT_TOLERANCE && r > 0.0 {
                slowest = slowest.max(-1.0 / r.ln());
            }
        }
    }
    slowest
}

/// The ingredients of τ(η, γ): the rule's prefactor C, the transverse
/// curvature λ, and the drift law κ² η² ε² σ_x² / (n (1 − β)^p).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TauModel {
    /// C of 1 − β = C η^γ.
    pub c: f64,
    /// The curvature λ of the transverse mode.
    pub lambda: f64,
    /// The label-noise scale ε.
    pub eps: f64,
    /// The data variance σ_x².
    pub sigma_x2: f64,
    /// The number of samples n.
    pub n: usize,
    /// κ of the per-sample loss (κ/2)(f − y)² (see [`crate::timescales`]).
    pub kappa: f64,
    /// The power p of (1 − β) in the drift rate: 2 in eq. (126).
    pub drift_power: f64,
}

/// One point of τ(η, γ).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TauPoint {
    /// η.
    pub lr: f64,
    /// β = 1 − C η^γ.
    pub beta: f64,
    /// The slowest relaxation time of the linearised map.
    pub tau1: f64,
    /// The drift time 1/rate.
    pub tau2: f64,
}

impl TauPoint {
    /// τ = τ₁ + τ₂ (see the module docs for why the sum).
    pub fn tau(&self) -> f64 {
        self.tau1 + self.tau2
    }
}

impl TauModel {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ExponentError> {
        let check = |field: &'static str, value: f64, ok: bool, expected: &'static str| {
            if ok && value.is_finite() { Ok(()) } else { Err(ExponentError::Invalid { field, value, expected }) }
        };
        check("c", self.c, self.c > 0.0, "expected c > 0")?;
        check("lambda", self.lambda, self.lambda > 0.0, "expected lambda > 0")?;
        check("eps", self.eps, self.eps > 0.0, "expected eps > 0")?;
        check("sigma_x2", self.sigma_x2, self.sigma_x2 > 0.0, "expected sigma_x2 > 0")?;
        check("n", self.n as f64, self.n >= 1, "expected n >= 1")?;
        check("kappa", self.kappa, self.kappa > 0.0, "expected kappa > 0")?;
        check("drift_power", self.drift_power, self.drift_power >= 0.0, "expected drift_power >= 0")
    }

    /// The drift rate per step of ‖u‖² + ‖v‖², κ² η² ε² σ_x² / (n (1 − β)^p);
    /// with p = 2 it is eq. (126) ([`crate::timescales::drift_rate`]).
    pub fn drift_rate(&self, lr: f64, beta: f64) -> f64 {
        self.kappa * self.kappa * lr * lr * self.eps * self.eps * self.sigma_x2 / (self.n as f64 * (1.0 - beta).powf(self.drift_power))
    }

    /// τ₁ and τ₂ at (η, γ).
    pub fn point(&self, lr: f64, gamma: f64) -> Result<TauPoint, ExponentError> {
        let one_minus_beta = self.c * lr.powf(gamma);
        if !(one_minus_beta > 0.0 && one_minus_beta <= 1.0) || lr <= 0.0 {
            return Err(ExponentError::BetaOutOfRange { c: self.c, gamma, lr, one_minus_beta });
        }
        let beta = 1.0 - one_minus_beta;
        Ok(TauPoint { lr, beta, tau1: slowest_relaxation_time(lr, beta, self.lambda), tau2: 1.0 / self.drift_rate(lr, beta) })
    }

    /// The least-squares line of ln τ against ln η over `lrs` at exponent γ:
    /// the fitted a(γ) is −slope.
    pub fn fit_exponent(&self, gamma: f64, lrs: &[f64]) -> Result<LinearFit, ExponentError> {
        self.validate()?;
        let mut xs = Vec::with_capacity(lrs.len());
        let mut ys = Vec::with_capacity(lrs.len());
        for &lr in lrs {
            xs.push(lr.ln());
            ys.push(self.point(lr, gamma)?.tau().ln());
        }
        Ok(linear_fit(&xs, &ys)?)
    }

    /// The fitted a(γ) = −slope of ln τ against ln η.
    pub fn exponent(&self, gamma: f64, lrs: &[f64]) -> Result<f64, ExponentError> {
        Ok(-self.fit_exponent(gamma, lrs)?.slope)
    }

    /// γ* = argmin over γ ∈ [lo, hi] of the fitted a(γ), by golden-section
    /// search to a bracket narrower than `tol`; returns (γ*, a(γ*)).
    pub fn argmin_exponent(&self, lrs: &[f64], lo: f64, hi: f64, tol: f64) -> Result<(f64, f64), ExponentError> {
        let mut err = None;
        let gamma = golden_section_min(
            |g| {
                self.exponent(g, lrs).unwrap_or_else(|e| {
                    err.get_or_insert(e);
                    f64::INFINITY
                })
            },
            lo,
            hi,
            tol,
        );
        if let Some(e) = err {
            return Err(e);
        }
        Ok((gamma, self.exponent(gamma, lrs)?))
    }
}

/// The minimiser of a unimodal `f` on [lo, hi] by golden-section search,
/// stopped when the bracket is narrower than `tol`: its midpoint.
pub fn golden_section_min(mut f: impl FnMut(f64) -> f64, mut lo: f64, mut hi: f64, tol: f64) -> f64 {
    let g = (5.0_f64.sqrt() - 1.0) / 2.0;
    let (mut x1, mut x2) = (hi - g * (hi - lo), lo + g * (hi - lo));
    let (mut f1, mut f2) = (f(x1), f(x2));
    while hi - lo > tol {
        if f1 < f2 {
            hi = x2;
            (x2, f2) = (x1, f1);
            x1 = hi - g * (hi - lo);
            f1 = f(x1);
        } else {
            lo = x1;
            (x1, f1) = (x2, f2);
            x2 = lo + g * (hi - lo);
            f2 = f(x2);
        }
    }
    0.5 * (lo + hi)
}

/// `points` learning rates log-spaced from `lo` to `hi`, both included.
pub fn log_grid(lo: f64, hi: f64, points: usize) -> Vec<f64> {
    assert!(points >= 2 && lo > 0.0 && hi > lo, "log_grid needs 0 < lo < hi and >= 2 points");
    let (a, b) = (lo.ln(), hi.ln());
    (0..points).map(|i| (a + (b - a) * i as f64 / (points - 1) as f64).exp()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectrum::eigenvalues;
    use crate::timescales::{c_star, drift_rate, exponent_a};

    fn model(drift_power: f64) -> TauModel {
        let (eps, sigma_x2, n, kappa) = (0.1, 1.0, 10, 1.0);
        TauModel { c: c_star(eps, sigma_x2, n, kappa), lambda: 1.0, eps, sigma_x2, n, kappa, drift_power }
    }

    /// The generic 2×2 solve agrees with the closed form of eq. (8) on the
    /// heavy-ball Jacobian, and with a rotation's complex pair.
    #[test]
    fn the_generic_solve_matches_eq_8_and_a_rotation() {
        for &lr in &[1e-6, 1e-3, 0.1] {
            for &beta in &[0.0, 0.5, 0.99, 0.999_999] {
                for &lambda in &[0.0, 1.0, 30.0] {
                    let (p, q) = eigenvalues_2x2(jacobian(lr, beta, lambda));
                    let (ep, eq) = eigenvalues(lr, beta, lambda);
                    for (a, b) in [(p, ep), (q, eq)] {
                        assert!((a.re - b.re).abs() < 1e-9 && (a.im - b.im).abs() < 1e-9, "{lr} {beta} {lambda}: {a:?} vs {b:?}");
                    }
                }
            }
        }
        let (s, c) = 0.3_f64.sin_cos();
        let (p, q) = eigenvalues_2x2([[0.9 * c, -0.9 * s], [0.9 * s, 0.9 * c]]);
        assert!((p.abs() - 0.9).abs() < 1e-15 && (p.im - 0.9 * s).abs() < 1e-15 && q.im < 0.0);
    }

    /// The zero mode contributes −1/ln β (its unit eigenvalue is skipped),
    /// and a stiff transverse mode in the complex regime −1/ln√β.
    #[test]
    fn slowest_relaxation_time_skips_the_flat_direction() {
        let (lr, beta) = (1e-3, 0.9);
        assert!((slowest_relaxation_time(lr, beta, 1e-12) - (-1.0 / beta.ln())).abs() < 1e-6);
        let complex = slowest_relaxation_time(lr, beta, 10.0);
        assert!((complex - (-1.0 / beta.sqrt().ln())).abs() < 1e-9, "{complex}");
    }

    /// With p = 2 the drift rate is eq. (126).
    #[test]
    fn drift_power_two_is_eq_126() {
        let m = model(2.0);
        for &(lr, beta) in &[(1e-3, 0.9), (1e-5, 0.999)] {
            let want = drift_rate(lr, beta, m.eps, m.sigma_x2, m.n, m.kappa);
            assert!((m.drift_rate(lr, beta) / want - 1.0).abs() < 1e-12);
        }
    }

    /// The pipeline finds γ* ≈ 2/3, a(2/3) ≈ 2/3 and a(0) ≈ 2 on eq. (126),
    /// and a fitted a(γ) close to max(γ, 2 − 2γ) away from the kink.
    #[test]
    fn the_exponent_from_the_pieces_is_minimised_at_two_thirds() {
        let m = model(2.0);
        let lrs = log_grid(1e-6, 1e-3, 13);
        let (g, a) = m.argmin_exponent(&lrs, 0.0, 1.0, 1e-6).unwrap();
        assert!((g - 2.0 / 3.0).abs() < 0.01, "{g}");
        assert!((a - 2.0 / 3.0).abs() < 0.01, "{a}");
        assert!((m.exponent(0.0, &lrs).unwrap() - 2.0).abs() < 0.01);
        for gamma in [0.1, 0.3, 0.5, 0.8, 0.9] {
            let a = m.exponent(gamma, &lrs).unwrap();
            assert!((a - exponent_a(gamma)).abs() < 0.02, "gamma {gamma}: {a} vs {}", exponent_a(gamma));
        }
    }

    /// Negative controls: a drift rate ∝ (1 − β)^{−p} with p ≠ 2 moves the
    /// optimum to γ* = 2/(p + 1): p = 1 → 1 (the end of [0, 1]), p = 3 → 1/2.
    /// The pipeline must report that, not 2/3.
    #[test]
    fn another_drift_law_gives_another_optimum() {
        let lrs = log_grid(1e-6, 1e-3, 13);
        let (g1, a1) = model(1.0).argmin_exponent(&lrs, 0.0, 1.0, 1e-6).unwrap();
        assert!(g1 > 0.98 && (a1 - 1.0).abs() < 0.02, "p = 1: {g1} {a1}");
        let (g3, a3) = model(3.0).argmin_exponent(&lrs, 0.0, 1.0, 1e-6).unwrap();
        assert!((g3 - 0.5).abs() < 0.05 && (a3 - 0.5).abs() < 0.05, "p = 3: {g3} {a3}");
        // With p = 1 the exponent at fixed β is still 2, but a(2/3) = 4/3.
        assert!((model(1.0).exponent(2.0 / 3.0, &lrs).unwrap() - 4.0 / 3.0).abs() < 0.01);
    }

    /// Away from C = C*, the finite-η optimum is biased, and the bias shrinks
    /// as the η window moves toward 0 (it is ∝ 1/|ln η|).
    #[test]
    fn off_c_star_the_optimum_approaches_two_thirds_as_eta_shrinks() {
        let mut m = model(2.0);
        m.c *= 0.25;
        let errs: Vec<f64> = [(1e-6, 1e-3), (1e-9, 1e-6), (1e-12, 1e-9)]
            .iter()
            .map(|&(lo, hi)| (m.argmin_exponent(&log_grid(lo, hi, 13), 0.0, 1.0, 1e-6).unwrap().0 - 2.0 / 3.0).abs())
            .collect();
        assert!(errs.windows(2).all(|w| w[1] < w[0]) && errs[0] > 0.02, "{errs:?}");
    }

    #[test]
    fn golden_section_and_errors() {
        let x = golden_section_min(|x| (x - 0.3).powi(2), 0.0, 1.0, 1e-9);
        assert!((x - 0.3).abs() < 1e-8);
        let mut m = model(2.0);
        m.c = 10.0; // 1 − β > 1 at η = 1e-3, γ = 0
        assert!(matches!(m.fit_exponent(0.0, &log_grid(1e-6, 1e-3, 5)), Err(ExponentError::BetaOutOfRange { .. })));
        m.c = -1.0;
        assert!(matches!(m.fit_exponent(0.5, &log_grid(1e-6, 1e-3, 5)), Err(ExponentError::Invalid { field: "c", .. })));
    }
}
