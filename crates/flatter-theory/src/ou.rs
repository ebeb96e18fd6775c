//! Stationary moments of one transverse mode, eq. (177) of Appendix F.
//!
//! Linearised about Γ, a transverse mode x with curvature λ, momentum p and
//! projected noise variance s² follows the discrete OU recursion of eq. (1):
//!
//! ```text
//! p ← β p − λ x + ε s ξ,    x ← x + η p      (ξ ~ N(0, 1) each step)
//! ```
//!
//! Its stationary second moments are
//!
//! ```text
//! ⟨x²⟩ = ε² s² η (1+β) / ( λ (1−β) (2(1+β) − ηλ) )   ≈ ε² s² η / (2λ(1−β))     (177)
//! ⟨xp⟩ = ε² s² η / ( (1−β) (2(1+β) − ηλ) )
//! ⟨p²⟩ = 2 ε² s² / ( (1−β) (2(1+β) − ηλ) )
//! ```
//!
//! [`stationary_covariance`] solves the discrete Lyapunov equation
//! C = A C Aᵀ + Q of any stable 2×2 linear map directly, as an independent check.

use serde::Serialize;

use crate::fit::solve3;

/// The stationary second moments of a transverse OU mode (eq. (177)).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct OuMoments {
    /// ⟨x²⟩, the transverse variance.
    pub x2: f64,
    /// ⟨x p⟩, the position–momentum covariance.
    pub xp: f64,
    /// ⟨p²⟩, the momentum variance.
    pub p2: f64,
}

/// The exact stationary moments of eq. (177) for curvature λ > 0, noise
/// variance s², noise strength ε, learning rate η and momentum β; finite only
/// for a stable mode, 0 < ηλ < 2(1 + β).
pub fn ou_moments(lr: f64, beta: f64, lambda: f64, eps: f64, s2: f64) -> OuMoments {
    let noise = eps * eps * s2;
    let denom = (1.0 - beta) * (2.0 * (1.0 + beta) - lr * lambda);
    OuMoments {
        x2: noise * lr * (1.0 + beta) / (lambda * denom),
        xp: noise * lr / denom,
        p2: 2.0 * noise / denom,
    }
}

/// The small-ηλ form of eq. (177), ⟨x²⟩ ≈ ε² s² η / (2λ(1 − β)): the
/// heuristic transverse variance ε² η/(1 − β) of Sec. 1.1 with its constant.
pub fn x2_small_lr(lr: f64, beta: f64, lambda: f64, eps: f64, s2: f64) -> f64 {
    eps * eps * s2 * lr / (2.0 * lambda * (1.0 - beta))
}

/// The stationary covariance C = A C Aᵀ + Q of the linear recursion
/// z ← A z + (noise with covariance Q), found by solving the 3×3 linear
/// system for (C₀₀, C₀₁, C₁₁). Returns `None` when the system is singular.
///
/// For the mode of eq. (177), z = (p, x), A = [[β, −λ], [ηβ, 1 − ηλ]] and
/// Q = b bᵀ with b = (ε s, η ε s). The answer is meaningful only when A is
/// stable (spectral radius < 1); otherwise it is not a covariance.
pub fn stationary_covariance(a: [[f64; 2]; 2], q: [[f64; 2]; 2]) -> Option<[[f64; 2]; 2]> {
    // Row (i, j) of vec(C) = K vec(C) + vec(Q), on the symmetric unknowns.
    let pairs = [(0usize, 0usize), (0, 1), (1, 1)];
    let mut m = [[0.0; 3]; 3];
    let mut rhs = [0.0; 3];
    for (row, &(i, j)) in pairs.iter().enumerate() {
        let k = [
            a[i][0] * a[j][0],
            a[i][0] * a[j][1] + a[i][1] * a[j][0],
            a[i][1] * a[j][1],
        ];
        for col in 0..3 {
            m[row][col] = if row == col { 1.0 } else { 0.0 } - k[col];
        }
        rhs[row] = q[i][j];
    }
    let c = solve3(m, rhs)?;
    Some([[c[0], c[1]], [c[1], c[2]]])
}

/// The map A and noise covariance Q of one transverse mode on z = (p, x).
pub fn mode_map(
    lr: f64,
    beta: f64,
    lambda: f64,
    eps: f64,
    s2: f64,
) -> ([[f64; 2]; 2], [[f64; 2]; 2]) {
    let a = [[beta, -lambda], [lr * beta, 1.0 - lr * lambda]];
    let b = [1.0, lr];
    let noise = eps * eps * s2;
    let q = [
        [noise * b[0] * b[0], noise * b[0] * b[1]],
        [noise * b[1] * b[0], noise * b[1] * b[1]],
    ];
    (a, q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SplitMix64;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    fn cases() -> Vec<(f64, f64, f64, f64, f64)> {
        // (lr, beta, lambda, eps, s2): real, complex, near-unstable and β = 0 modes.
        vec![
            (0.1, 0.5, 1.0, 1.0, 1.0),
            (0.01, 0.9, 0.5, 0.3, 2.0),
            (0.05, 0.0, 2.0, 0.1, 0.7),
            (0.5, 0.8, 6.5, 1.0, 1.0),
            (1e-3, 0.99, 3.0, 0.2, 1.5),
        ]
    }

    /// Eq. (177) equals the exact 3×3 Lyapunov solve and the fixed point of
    /// iterating C ← A C Aᵀ + Q, to 1e-9 relative.
    #[test]
    fn moments_solve_the_lyapunov_equation() {
        for (lr, beta, lambda, eps, s2) in cases() {
            let (a, q) = mode_map(lr, beta, lambda, eps, s2);
            let c = stationary_covariance(a, q).expect("stable mode");
            let m = ou_moments(lr, beta, lambda, eps, s2);
            assert!(rel(m.p2, c[0][0]) < 1e-9, "p2 {} vs {}", m.p2, c[0][0]);
            assert!(rel(m.xp, c[0][1]) < 1e-9, "xp {} vs {}", m.xp, c[0][1]);
            assert!(rel(m.x2, c[1][1]) < 1e-9, "x2 {} vs {}", m.x2, c[1][1]);

            // Independent: iterate the Lyapunov map from zero until it stops moving.
            let mut it = [[0.0f64; 2]; 2];
            for _ in 0..2_000_000 {
                let mut next = q;
                for i in 0..2 {
                    for j in 0..2 {
                        for k in 0..2 {
                            for l in 0..2 {
                                next[i][j] += a[i][k] * it[k][l] * a[j][l];
                            }
                        }
                    }
                }
                let change = (0..2)
                    .flat_map(|i| (0..2).map(move |j| (i, j)))
                    .map(|(i, j)| (next[i][j] - it[i][j]).abs())
                    .fold(0.0, f64::max);
                it = next;
                if change < 1e-15 * it[1][1].abs().max(it[0][0].abs()) {
                    break;
                }
            }
            assert!(
                rel(m.p2, it[0][0]) < 1e-9,
                "iter p2 {} vs {}",
                m.p2,
                it[0][0]
            );
            assert!(
                rel(m.xp, it[0][1]) < 1e-9,
                "iter xp {} vs {}",
                m.xp,
                it[0][1]
            );
            assert!(
                rel(m.x2, it[1][1]) < 1e-9,
                "iter x2 {} vs {}",
                m.x2,
                it[1][1]
            );
        }
    }

    /// A long direct simulation of the recursion reproduces eq. (177) within
    /// four batch-means standard errors.
    #[test]
    fn moments_match_direct_simulation() {
        let cases = [(0.1, 0.5, 1.0, 1.0, 1.0), (0.01, 0.9, 0.5, 0.3, 2.0)];
        for (seed, &(lr, beta, lambda, eps, s2)) in cases.iter().enumerate() {
            let m = ou_moments(lr, beta, lambda, eps, s2);
            let mut rng = SplitMix64::new(seed as u64 + 11);
            let s = f64::sqrt(s2);
            let (mut p, mut x) = (0.0f64, 0.0f64);
            let burn_in = 20_000;
            let batches = 100;
            let per_batch = 20_000;
            for _ in 0..burn_in {
                p = beta * p - lambda * x + eps * s * rng.normal();
                x += lr * p;
            }
            let mut means = vec![[0.0f64; 3]; batches];
            for batch in means.iter_mut() {
                for _ in 0..per_batch {
                    p = beta * p - lambda * x + eps * s * rng.normal();
                    x += lr * p;
                    batch[0] += x * x;
                    batch[1] += x * p;
                    batch[2] += p * p;
                }
                for v in batch.iter_mut() {
                    *v /= per_batch as f64;
                }
            }
            let expected = [m.x2, m.xp, m.p2];
            for (k, &want) in expected.iter().enumerate() {
                let mean = means.iter().map(|b| b[k]).sum::<f64>() / batches as f64;
                let var =
                    means.iter().map(|b| (b[k] - mean).powi(2)).sum::<f64>() / (batches - 1) as f64;
                let stderr = (var / batches as f64).sqrt();
                assert!(
                    (mean - want).abs() < 4.0 * stderr,
                    "case {seed} moment {k}: simulated {mean} ± {stderr}, eq. (177) {want}"
                );
                // And the standard error is small enough to make that meaningful.
                assert!(
                    stderr < 0.05 * want.abs(),
                    "case {seed} moment {k}: stderr {stderr}"
                );
            }
        }
    }

    /// For ηλ ≪ 1 the exact ⟨x²⟩ approaches ε² s² η / (2λ(1−β)).
    #[test]
    fn small_lr_limit() {
        for &lr in &[1e-3, 1e-5] {
            let (beta, lambda, eps, s2) = (0.9, 2.0, 0.5, 1.0);
            let exact = ou_moments(lr, beta, lambda, eps, s2).x2;
            let approx = x2_small_lr(lr, beta, lambda, eps, s2);
            assert!(rel(exact, approx) < lr * lambda, "{exact} vs {approx}");
        }
    }

    /// A map with A = I (μ₁μ₂ = 1) makes the Lyapunov system singular: `None`.
    #[test]
    fn singular_system_is_none() {
        // A = I makes I − K singular.
        assert!(
            stationary_covariance([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]).is_none()
        );
    }
}
