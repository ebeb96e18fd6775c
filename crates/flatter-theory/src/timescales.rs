//! The two timescales of heavy-ball SGD with label noise and the optimal
//! scaling they imply: τ₁ (Sec. 1.1), the drift rate and τ₂ of the vector UV
//! model (eqs. (126) and (9)), the optimal prefactor C* (eq. (10)), the
//! exponent a(γ) = max(γ, 2 − 2γ), and the matrix-sensing estimates
//! (eqs. (134) and (135)).
//!
//! # The κ convention
//!
//! The per-sample loss is taken to be (κ/2)(f − y)². So κ = 1 for the paper's
//! L = (1/2n) Σᵢ (fᵢ − yᵢ)² (used by [`crate::sim`]), and κ = 2 for
//! L = (1/n) Σᵢ (fᵢ − yᵢ)² (PyTorch's `MSELoss` and Burn's `MseLoss` with mean
//! reduction). Label noise y = ε ξ then gives σσᵀ = (κ/n) ∇²L on Γ and
//! tr ∇²L = κ σ_x² (‖u‖² + ‖v‖²), so κ enters every rate squared.
//!
//! # The factor 2 in the drift rate
//!
//! Eq. (126) in vector form reads d(u, v)/dk = −(κ² η² ε² σ_x² / (2n(1−β)²)) (u, v):
//! that is the rate of the *vector*. The paper measures τ on ‖u‖² + ‖v‖², which
//! therefore decays at twice that rate, κ² η² ε² σ_x² / (n (1−β)²), and τ₂ of
//! eq. (9) is its inverse. [`drift_rate`] and [`tau2`] are both for ‖u‖² + ‖v‖².

// The rule and its two timescales are defined once, in flatter-optim (which
// uses them for `MomentumRule::advised`, and without its `burn` feature is
// pure f64), and re-exported here beside the rest of the theory.
pub use flatter_optim::momentum::{OPTIMAL_GAMMA, beta_from_rule, c_star, drift_rate, tau1, tau2};

/// κ for the loss (1/2n) Σᵢ (fᵢ − yᵢ)², the paper's convention.
pub const KAPPA_HALF_MSE: f64 = 1.0;

/// κ for the loss (1/n) Σᵢ (fᵢ − yᵢ)², the mean-reduced MSE of PyTorch and Burn.
pub const KAPPA_MSE: f64 = 2.0;

/// The predicted convergence exponent a(γ) = max(γ, 2 − 2γ) in τ ∝ η^{−a}
/// (Sec. 2.2): the drift sets the pace below γ = 2/3, equilibration above.
pub fn exponent_a(gamma: f64) -> f64 {
    gamma.max(2.0 - 2.0 * gamma)
}

/// The crude matrix-sensing drift time of eq. (134),
/// τ₂ ≈ n (1 − β)² / (η² ε² ⟨A²⟩ d), where `a2` = ⟨A²⟩ is the second moment of
/// the measurement entries (1 for standard Gaussians).
pub fn tau2_matrix_sensing(lr: f64, beta: f64, eps: f64, a2: f64, d: usize, n: usize) -> f64 {
    let one_minus_beta = 1.0 - beta;
    n as f64 * one_minus_beta * one_minus_beta / (lr * lr * eps * eps * a2 * d as f64)
}

/// The matrix-sensing upper bound on the optimal prefactor, eq. (135),
/// C ≲ (ε² ⟨A²⟩ d / n)^{1/3}.
pub fn c_bound_matrix_sensing(eps: f64, a2: f64, d: usize, n: usize) -> f64 {
    (eps * eps * a2 * d as f64 / n as f64).cbrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    /// With C = C*, τ₁ = τ₂ at every η (the defining property of eq. (10)),
    /// for both loss conventions.
    #[test]
    fn c_star_balances_tau1_and_tau2() {
        let (eps, sigma_x2, n) = (0.3, 0.87, 10);
        for kappa in [KAPPA_HALF_MSE, KAPPA_MSE] {
            let c = c_star(eps, sigma_x2, n, kappa);
            for lr in [1e-4, 1e-3, 1e-2, 0.05] {
                let beta = beta_from_rule(lr, c, OPTIMAL_GAMMA);
                let t1 = tau1(beta);
                let t2 = tau2(lr, beta, eps, sigma_x2, n, kappa);
                assert!(rel(t1, t2) < 1e-9, "kappa {kappa} lr {lr}: {t1} vs {t2}");
            }
        }
    }

    /// Along the rule 1 − β = C η^γ, the log-log slope of τ₂ in η is 2γ − 2
    /// and that of τ₁ is −γ; the slower of the two has slope −a(γ).
    #[test]
    fn exponents_follow_the_rule() {
        // With C = C*, τ₂/τ₁ = η^{3γ−2}: the crossover sits at η = 1, so at
        // small η the slower time is τ₂ below γ = 2/3 and τ₁ above.
        let (eps, sigma_x2, n) = (0.1, 1.0, 10);
        let c = c_star(eps, sigma_x2, n, 1.0);
        for gamma in [0.0, 0.25, 0.5, OPTIMAL_GAMMA, 0.75, 0.9] {
            let (lr1, lr2) = (1e-6, 1e-5);
            let slope =
                |f: &dyn Fn(f64) -> f64| (f(lr2).ln() - f(lr1).ln()) / (lr2.ln() - lr1.ln());
            let t1 = |lr: f64| tau1(beta_from_rule(lr, c, gamma));
            let t2 = |lr: f64| tau2(lr, beta_from_rule(lr, c, gamma), eps, sigma_x2, n, 1.0);
            assert!((slope(&t1) + gamma).abs() < 1e-9);
            assert!((slope(&t2) - (2.0 * gamma - 2.0)).abs() < 1e-9);
            let slowest = |lr: f64| t1(lr).max(t2(lr));
            // Away from the crossover both points sit on the same branch.
            if (gamma - OPTIMAL_GAMMA).abs() > 0.05 {
                assert!(
                    (slope(&slowest) + exponent_a(gamma)).abs() < 1e-9,
                    "gamma {gamma}"
                );
            }
        }
    }

    /// a(γ) is minimised at γ* = 2/3 with value 2/3, and a(0) = 2 (plain SGD).
    #[test]
    fn exponent_a_minimum() {
        assert!((exponent_a(OPTIMAL_GAMMA) - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(exponent_a(0.0), 2.0);
        assert_eq!(exponent_a(1.0), 1.0);
        let grid: Vec<f64> = (0..=1000).map(|i| i as f64 / 1000.0).collect();
        let best = grid
            .iter()
            .copied()
            .fold(f64::INFINITY, |m, g| m.min(exponent_a(g)));
        assert!(best >= 2.0 / 3.0 - 1e-12);
    }

    /// The drift rate agrees with Corollary 3.5, dw/dk = −(ε²η²c/(4(1−β)²)) ∇_Γ tr∇²L
    /// with c = κ/n, where tr∇²L of the vector UV model is computed here by
    /// finite differences of the loss itself (independently of eq. (123)).
    #[test]
    fn drift_rate_matches_corollary_3_5() {
        let xs = [0.3, -1.2, 0.7, 2.0, -0.4];
        let n = xs.len();
        let sigma_x2 = xs.iter().map(|x| x * x).sum::<f64>() / n as f64;
        // A point on Γ: u·v = 0.
        let w: [f64; 6] = [1.0, 0.5, -0.2, 0.4, -0.4, 1.0]; // u = w[0..3], v = w[3..6]
        assert!((w[0] * w[3] + w[1] * w[4] + w[2] * w[5]).abs() < 1e-15);
        for kappa in [KAPPA_HALF_MSE, KAPPA_MSE] {
            let loss = |w: &[f64; 6]| {
                let s = w[0] * w[3] + w[1] * w[4] + w[2] * w[5];
                kappa / (2.0 * n as f64) * xs.iter().map(|x| (s * x).powi(2)).sum::<f64>()
            };
            let h = 1e-4;
            let trace = |w: &[f64; 6]| {
                (0..6)
                    .map(|j| {
                        let (mut wp, mut wm) = (*w, *w);
                        wp[j] += h;
                        wm[j] -= h;
                        (loss(&wp) - 2.0 * loss(w) + loss(&wm)) / (h * h)
                    })
                    .sum::<f64>()
            };
            // Gradient of the trace by central differences (exact for a quadratic).
            let g = 1e-3;
            let grad: Vec<f64> = (0..6)
                .map(|j| {
                    let (mut wp, mut wm) = (w, w);
                    wp[j] += g;
                    wm[j] -= g;
                    (trace(&wp) - trace(&wm)) / (2.0 * g)
                })
                .collect();
            let (lr, beta, eps) = (0.05, 0.5, 0.3);
            let c = kappa / n as f64;
            let pre = eps * eps * lr * lr * c / (4.0 * (1.0 - beta) * (1.0 - beta));
            // d‖w‖²/dk = 2 w·dw/dk = −rate ‖w‖².
            let norm2: f64 = w.iter().map(|x| x * x).sum();
            let dnorm2: f64 = -2.0 * pre * w.iter().zip(&grad).map(|(a, b)| a * b).sum::<f64>();
            let measured = -dnorm2 / norm2;
            let predicted = drift_rate(lr, beta, eps, sigma_x2, n, kappa);
            assert!(
                rel(measured, predicted) < 1e-5,
                "kappa {kappa}: {measured} vs {predicted}"
            );
        }
    }

    /// κ enters squared, and τ₂ is the inverse of the rate.
    #[test]
    fn kappa_and_inverse() {
        let r1 = drift_rate(0.01, 0.9, 0.2, 1.1, 20, 1.0);
        let r2 = drift_rate(0.01, 0.9, 0.2, 1.1, 20, 2.0);
        assert!(rel(r2, 4.0 * r1) < 1e-15);
        // Hand value: 1e-4 · 0.04 · 1.1 / (20 · 0.01) = 2.2e-5.
        assert!(rel(r1, 2.2e-5) < 1e-12);
        assert!(rel(tau2(0.01, 0.9, 0.2, 1.1, 20, 1.0), 1.0 / 2.2e-5) < 1e-12);
        assert!(rel(tau1(0.9), 10.0) < 1e-12);
    }

    /// The matrix-sensing bound balances τ₁ against the estimate (134) at γ = 2/3.
    #[test]
    fn matrix_sensing_bound_balances() {
        let (eps, a2, d, n) = (0.1, 1.0, 20, 200);
        let c = c_bound_matrix_sensing(eps, a2, d, n);
        assert!(rel(c, (0.01f64 * 20.0 / 200.0).cbrt()) < 1e-15);
        for lr in [1e-3, 1e-2] {
            let beta = beta_from_rule(lr, c, OPTIMAL_GAMMA);
            assert!(rel(tau1(beta), tau2_matrix_sensing(lr, beta, eps, a2, d, n)) < 1e-9);
        }
    }
}
