//! The linearised spectrum of heavy-ball SGD, eq. (8) and Appendix E.
//!
//! Near a fixed point (π = 0, w* ∈ Γ), each Hessian eigenpair (λ, v) gives a
//! 2×2 block acting on (π, w) along v:
//!
//! ```text
//! M = [[β,   −λ     ],
//!      [ηβ,  1 − ηλ ]]      trace = 1 + β − ηλ,  det = β
//! μ± = ½ [ (1+β−ηλ) ± sqrt((1+β−ηλ)² − 4β) ]      (8)
//! ```
//!
//! The eigenvalues are real for ηλ ≤ (1−√β)² or ηλ ≥ (1+√β)², and a complex
//! pair of modulus √β in between. The block is stable (spectral radius ≤ 1)
//! exactly for 0 ≤ ηλ ≤ 2(1+β) when 0 ≤ β < 1.

use serde::Serialize;

/// A complex number, just enough for the eigenvalues of a real 2×2 map.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Complex {
    /// The real part.
    pub re: f64,
    /// The imaginary part.
    pub im: f64,
}

impl Complex {
    /// The complex number re + i·im.
    pub fn new(re: f64, im: f64) -> Self {
        Complex { re, im }
    }

    /// The real number re.
    pub fn real(re: f64) -> Self {
        Complex { re, im: 0.0 }
    }

    /// The modulus |z|.
    pub fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
}

/// The kind of a mode's spectrum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SpectrumKind {
    /// Two real eigenvalues inside the closed unit disk (overdamped).
    Real,
    /// A complex-conjugate pair of modulus √β (underdamped, oscillating).
    Complex,
    /// Some eigenvalue lies outside the unit circle: the mode grows.
    Unstable,
}

/// The spectrum of one Hessian mode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ModeSpectrum {
    /// μ₊ of eq. (8): the eigenvalue of larger modulus (the slow one).
    pub mu_plus: Complex,
    /// μ₋ of eq. (8): the other eigenvalue.
    pub mu_minus: Complex,
    /// Real, complex or unstable.
    pub kind: SpectrumKind,
    /// The relaxation time −1/ln|μ₊| in steps (infinite for |μ₊| = 1).
    pub tau_plus: f64,
    /// The relaxation time −1/ln|μ₋| in steps.
    pub tau_minus: f64,
}

/// The Jacobian block of eq. (1) on (π, w) for a mode of curvature λ:
/// [[β, −λ], [ηβ, 1 − ηλ]].
pub fn jacobian(lr: f64, beta: f64, lambda: f64) -> [[f64; 2]; 2] {
    [[beta, -lambda], [lr * beta, 1.0 - lr * lambda]]
}

/// The discriminant (1+β−ηλ)² − 4β of eq. (8), computed as a product of
/// (t − 2√β)(t + 2√β) so that it vanishes exactly at the real/complex boundary.
fn discriminant(lr: f64, beta: f64, lambda: f64) -> f64 {
    let t = 1.0 + beta - lr * lambda;
    if beta >= 0.0 {
        let s = 2.0 * beta.sqrt();
        (t - s) * (t + s)
    } else {
        t * t - 4.0 * beta
    }
}

/// Both eigenvalues (μ₊, μ₋) of eq. (8), with |μ₊| ≥ |μ₋|.
///
/// In the real case the larger root is computed directly and the smaller as
/// det/μ₊ = β/μ₊, which avoids cancellation when ηλ ≪ 1 − β.
pub fn eigenvalues(lr: f64, beta: f64, lambda: f64) -> (Complex, Complex) {
    let t = 1.0 + beta - lr * lambda;
    let disc = discriminant(lr, beta, lambda);
    if disc >= 0.0 {
        let root = disc.sqrt();
        let big = 0.5 * (t + t.signum() * root);
        let small = if big == 0.0 { 0.0 } else { beta / big };
        (Complex::real(big), Complex::real(small))
    } else {
        let im = 0.5 * (-disc).sqrt();
        (Complex::new(0.5 * t, im), Complex::new(0.5 * t, -im))
    }
}

/// The values of ηλ at which the spectrum changes between real and complex:
/// ((1−√β)², (1+√β)²). It is complex strictly between them. Requires β ≥ 0.
pub fn real_complex_boundaries(beta: f64) -> (f64, f64) {
    let s = beta.sqrt();
    ((1.0 - s) * (1.0 - s), (1.0 + s) * (1.0 + s))
}

/// Classifies the mode by the Jury criterion (stable iff |det| ≤ 1 and
/// |trace| ≤ 1 + det, with det = β) and then by the sign of the discriminant.
///
/// The zero mode λ = 0 (μ = 1, marginal) counts as [`SpectrumKind::Real`].
pub fn classify(lr: f64, beta: f64, lambda: f64) -> SpectrumKind {
    let t = 1.0 + beta - lr * lambda;
    if beta.abs() > 1.0 || t.abs() > 1.0 + beta {
        SpectrumKind::Unstable
    } else if discriminant(lr, beta, lambda) >= 0.0 {
        SpectrumKind::Real
    } else {
        SpectrumKind::Complex
    }
}

/// The relaxation time −1/ln|μ| in steps of a mode with eigenvalue μ: the
/// e-folding time of its amplitude. It is infinite for |μ| = 1, zero for
/// μ = 0, and negative (a growth time) for |μ| > 1.
pub fn relaxation_time(mu: Complex) -> f64 {
    -1.0 / mu.abs().ln()
}

/// The full spectrum of one mode: both eigenvalues, the kind, and both
/// relaxation times.
pub fn mode_spectrum(lr: f64, beta: f64, lambda: f64) -> ModeSpectrum {
    let (mu_plus, mu_minus) = eigenvalues(lr, beta, lambda);
    ModeSpectrum {
        mu_plus,
        mu_minus,
        kind: classify(lr, beta, lambda),
        tau_plus: relaxation_time(mu_plus),
        tau_minus: relaxation_time(mu_minus),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timescales::beta_from_rule;

    /// |det(M − μI)| for a complex μ, computed from the matrix entries.
    fn char_poly_residual(m: [[f64; 2]; 2], mu: Complex) -> f64 {
        // (a − μ)(d − μ) − b c with complex μ.
        let (a, b, c, d) = (m[0][0], m[0][1], m[1][0], m[1][1]);
        let (ar, ai) = (a - mu.re, -mu.im);
        let (dr, di) = (d - mu.re, -mu.im);
        let re = ar * dr - ai * di - b * c;
        let im = ar * di + ai * dr;
        re.hypot(im)
    }

    fn grid() -> Vec<(f64, f64, f64)> {
        let mut out = Vec::new();
        for &lr in &[1e-4, 1e-3, 0.01, 0.1, 0.5] {
            for &beta in &[0.0, 0.3, 0.5, 0.9, 0.99, 0.999] {
                for &lambda in &[0.0, 0.01, 0.5, 1.0, 3.0, 10.0, 50.0] {
                    out.push((lr, beta, lambda));
                }
            }
        }
        out
    }

    /// The zero mode has eigenvalues exactly {1, β}.
    #[test]
    fn zero_mode_is_one_and_beta() {
        for &beta in &[0.0, 0.1, 0.5, 0.9, 0.99, 0.9999] {
            for &lr in &[1e-4, 0.1, 1.0] {
                let (p, m) = eigenvalues(lr, beta, 0.0);
                assert!((p.re - 1.0).abs() < 1e-12 && p.im == 0.0, "{p:?}");
                assert!((m.re - beta).abs() < 1e-12 && m.im == 0.0, "{m:?}");
                assert_eq!(classify(lr, beta, 0.0), SpectrumKind::Real);
            }
        }
    }

    /// Every eigenvalue is a root of det(M − μI), and the pair has trace
    /// 1 + β − ηλ and product β.
    #[test]
    fn eigenvalues_solve_the_characteristic_polynomial() {
        for (lr, beta, lambda) in grid() {
            let m = jacobian(lr, beta, lambda);
            let (p, q) = eigenvalues(lr, beta, lambda);
            let scale = 1.0 + (lr * lambda).abs();
            for mu in [p, q] {
                assert!(
                    char_poly_residual(m, mu) < 1e-12 * scale * scale,
                    "{lr} {beta} {lambda} {mu:?}"
                );
            }
            assert!((p.re + q.re - (1.0 + beta - lr * lambda)).abs() < 1e-12 * scale);
            assert!((p.im + q.im).abs() < 1e-12);
            let prod_re = p.re * q.re - p.im * q.im;
            let prod_im = p.re * q.im + p.im * q.re;
            assert!((prod_re - beta).abs() < 1e-12 * scale && prod_im.abs() < 1e-12 * scale);
            assert!(p.abs() >= q.abs() - 1e-15);
        }
    }

    /// In the complex case both eigenvalues have modulus √β.
    #[test]
    fn complex_pair_has_modulus_sqrt_beta() {
        let mut seen = 0;
        for (lr, beta, lambda) in grid() {
            if classify(lr, beta, lambda) == SpectrumKind::Complex {
                seen += 1;
                let (p, q) = eigenvalues(lr, beta, lambda);
                assert!((p.abs() - beta.sqrt()).abs() < 1e-12);
                assert!((q.abs() - beta.sqrt()).abs() < 1e-12);
                assert!(p.im > 0.0 && q.im < 0.0);
            }
        }
        assert!(seen > 10);
    }

    /// The classification agrees with the eigenvalues themselves, and the
    /// boundaries sit where the discriminant vanishes.
    #[test]
    fn classification_and_boundaries() {
        for (lr, beta, lambda) in grid() {
            let (p, _) = eigenvalues(lr, beta, lambda);
            let kind = classify(lr, beta, lambda);
            let (lo, hi) = real_complex_boundaries(beta);
            let x = lr * lambda;
            match kind {
                SpectrumKind::Unstable => assert!(p.abs() > 1.0),
                SpectrumKind::Complex => {
                    assert!(p.im != 0.0 && x > lo && x < hi);
                }
                SpectrumKind::Real => {
                    assert!(p.im == 0.0 && p.abs() <= 1.0 + 1e-12);
                    assert!(x <= lo || x >= hi);
                }
            }
            // Stability is 0 ≤ ηλ ≤ 2(1 + β).
            assert_eq!(
                kind == SpectrumKind::Unstable,
                x > 2.0 * (1.0 + beta),
                "{lr} {beta} {lambda}"
            );
        }
        // At the boundaries the two eigenvalues coincide: ±√β.
        for &beta in &[0.25, 0.5, 0.81] {
            let (lo, hi) = real_complex_boundaries(beta);
            let (p, q) = eigenvalues(1.0, beta, lo);
            assert!((p.re - beta.sqrt()).abs() < 1e-7 && (q.re - beta.sqrt()).abs() < 1e-7);
            let (p, q) = eigenvalues(1.0, beta, hi);
            assert!((p.re + beta.sqrt()).abs() < 1e-7 && (q.re + beta.sqrt()).abs() < 1e-7);
            assert_eq!(classify(1.0, beta, lo * (1.0 - 1e-9)), SpectrumKind::Real);
            assert_eq!(
                classify(1.0, beta, lo * (1.0 + 1e-9)),
                SpectrumKind::Complex
            );
        }
        // Negative curvature is unstable.
        assert_eq!(classify(0.1, 0.9, -1.0), SpectrumKind::Unstable);
    }

    /// With 1 − β = C η^γ and fixed λ, small η gives a real spectrum for
    /// γ < 1/2 and a complex one for γ > 1/2 (Sec. 2.3), with the Case-1 and
    /// Case-2 relaxation times.
    #[test]
    fn gamma_one_half_separates_real_from_complex() {
        let (c, lambda) = (1.0, 1.0);
        for &lr in &[1e-6, 1e-7, 1e-8] {
            for &gamma in &[0.2, 0.3, 0.4] {
                let beta = beta_from_rule(lr, c, gamma);
                let s = mode_spectrum(lr, beta, lambda);
                assert_eq!(s.kind, SpectrumKind::Real, "lr {lr} gamma {gamma}");
                // Slow transverse mode: (1−β)/(ηλ); fast: 1/(1−β).
                let slow = (1.0 - beta) / (lr * lambda);
                let fast = 1.0 / (1.0 - beta);
                let q = lr * lambda / ((1.0 - beta) * (1.0 - beta)); // the small ratio
                assert!(
                    (s.tau_plus / slow - 1.0).abs() < 3.0 * q + 1e-6,
                    "{} vs {slow}",
                    s.tau_plus
                );
                assert!(
                    (s.tau_minus / fast - 1.0).abs() < 3.0 * q + 3.0 * (1.0 - beta),
                    "{} vs {fast}",
                    s.tau_minus
                );
            }
            for &gamma in &[0.6, 2.0 / 3.0, 0.75, 0.9] {
                let beta = beta_from_rule(lr, c, gamma);
                let s = mode_spectrum(lr, beta, lambda);
                assert_eq!(s.kind, SpectrumKind::Complex, "lr {lr} gamma {gamma}");
                // Envelope of the amplitude: −1/ln√β ≈ 2/(1−β).
                let envelope = 2.0 / (1.0 - beta);
                assert!(
                    (s.tau_plus / envelope - 1.0).abs() < 1.0 - beta,
                    "{} vs {envelope}",
                    s.tau_plus
                );
            }
        }
    }

    /// Iterating the matrix from a generic start decays like the slowest
    /// eigenvalue: ‖Mᵏ z‖^{1/k} → |μ₊| for a stable real mode.
    #[test]
    fn power_iteration_matches_spectral_radius() {
        for &(lr, beta, lambda) in &[(0.1, 0.5, 1.0), (0.01, 0.9, 0.5), (0.5, 0.0, 3.0)] {
            let m = jacobian(lr, beta, lambda);
            let (mut a, mut b) = (1.0f64, 0.3f64);
            let mut log_norm = 0.0;
            let k = 400;
            for _ in 0..k {
                let (na, nb) = (m[0][0] * a + m[0][1] * b, m[1][0] * a + m[1][1] * b);
                let norm = na.hypot(nb);
                log_norm += norm.ln();
                a = na / norm;
                b = nb / norm;
            }
            let (p, _) = eigenvalues(lr, beta, lambda);
            assert!(
                ((log_norm / k as f64).exp() - p.abs()).abs() < 1e-2,
                "{lr} {beta} {lambda}"
            );
        }
    }
}
