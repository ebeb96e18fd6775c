//! Matrix sensing in plain f64 (App. A.2 and D of the paper): the problem,
//! the eq. (129) Hessian trace, its minimum over the valley, and eq. (1) on
//! it, as the reference that the Burn experiment draws its data from and is
//! checked against.
//!
//! - Target Y* = A Bᵀ with A, B ∈ R^{d×r} standard Gaussian, rescaled so that
//!   ‖Y*‖²_F = d·r (rank r, entries of order one).
//! - Measurements A_i ∈ R^{d×d} with i.i.d. N(0, 1) entries, y_i = ⟨A_i, Y*⟩.
//! - Model Y = U V, U ∈ R^{d×h}, V ∈ R^{h×d}; loss
//!   L = (1/2n) Σ_i (⟨A_i, UV⟩ − y_i − ε ξ_i)² (eq. 12).
//! - Σ_U = (1/n) Σ A_i A_iᵀ, Σ_V = (1/n) Σ A_iᵀ A_i; on the valley
//!   tr ∇²L = tr(Uᵀ Σ_U U) + tr(V Σ_V Vᵀ) (eq. 129), whose minimum over the
//!   factorisations UV = Y* is T* = 2 ‖Σ_U^{1/2} Y* Σ_V^{1/2}‖_* (the
//!   AM–GM bound tr(PᵀP) + tr(QQᵀ) ≥ 2‖PQ‖_* with P = Σ_U^{1/2} U,
//!   Q = V Σ_V^{1/2}, attained by balanced factors).
//!
//! Random numbers: one [`SplitMix64`] per data seed draws A, then B, then the
//! A_i (row-major, i-major); initialisations draw U then V from their own seed.

use crate::sim::SplitMix64;

/// One drawn matrix-sensing problem.
#[derive(Clone, Debug, PartialEq)]
pub struct MsProblem {
    /// Side d of Y*.
    pub d: usize,
    /// Rank r of Y*.
    pub r: usize,
    /// Measurements n.
    pub n: usize,
    /// Y*, row-major d×d.
    pub y_star: Vec<f64>,
    /// The A_i, i-major, each row-major d×d: `[n·d·d]`.
    pub a: Vec<f64>,
    /// y_i = ⟨A_i, Y*⟩.
    pub y: Vec<f64>,
    /// Σ_U = (1/n) Σ A_i A_iᵀ, d×d.
    pub sigma_u: Vec<f64>,
    /// Σ_V = (1/n) Σ A_iᵀ A_i, d×d.
    pub sigma_v: Vec<f64>,
}

/// Factors U (d×h) and V (h×d), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Factors {
    /// Inner width h.
    pub h: usize,
    /// U, d×h.
    pub u: Vec<f64>,
    /// V, h×d.
    pub v: Vec<f64>,
}

fn matmul(x: &[f64], y: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for l in 0..k {
            let xv = x[i * k + l];
            for j in 0..n {
                out[i * n + j] += xv * y[l * n + j];
            }
        }
    }
    out
}

fn transpose(x: &[f64], m: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[j * m + i] = x[i * n + j];
        }
    }
    out
}

/// Eigen-decomposition of a symmetric n×n matrix by cyclic Jacobi rotations:
/// (eigenvalues, eigenvectors as the columns of a row-major n×n matrix).
pub fn symmetric_eigen(mat: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(mat.len(), n * n, "symmetric_eigen: expected an n×n matrix");
    let mut a = mat.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n).flat_map(|p| ((p + 1)..n).map(move |q| (p, q))).map(|(p, q)| a[p * n + q] * a[p * n + q]).sum();
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = if theta == 0.0 { 1.0 } else { theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt()) };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// f(M) = V f(Λ) Vᵀ for a symmetric M.
fn symmetric_fn(mat: &[f64], n: usize, f: impl Fn(f64) -> f64) -> Vec<f64> {
    let (ev, v) = symmetric_eigen(mat, n);
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|k| v[i * n + k] * f(ev[k]) * v[j * n + k]).sum();
        }
    }
    out
}

/// Singular values of a square n×n matrix, descending.
pub fn singular_values(m: &[f64], n: usize) -> Vec<f64> {
    let gram = matmul(&transpose(m, n, n), m, n, n, n);
    let (ev, _) = symmetric_eigen(&gram, n);
    let mut s: Vec<f64> = ev.iter().map(|x| x.max(0.0).sqrt()).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

/// The nuclear norm ‖M‖_* of a square matrix.
pub fn nuclear_norm(m: &[f64], n: usize) -> f64 {
    singular_values(m, n).iter().sum()
}

impl MsProblem {
    /// Draws a problem from `seed` (see the module docs for the order of draws).
    pub fn draw(d: usize, r: usize, n: usize, seed: u64) -> MsProblem {
        assert!(d >= 1 && r >= 1 && r <= d && n >= 1, "matrix sensing needs 1 <= r <= d and n >= 1");
        let mut rng = SplitMix64::new(seed);
        let (mut fa, mut fb) = (vec![0.0; d * r], vec![0.0; d * r]);
        rng.fill_normal(&mut fa);
        rng.fill_normal(&mut fb);
        let mut y_star = matmul(&fa, &transpose(&fb, d, r), d, r, d);
        let f2: f64 = y_star.iter().map(|v| v * v).sum();
        let scale = ((d * r) as f64 / f2).sqrt();
        y_star.iter_mut().for_each(|v| *v *= scale);
        let mut a = vec![0.0; n * d * d];
        rng.fill_normal(&mut a);
        let dd = d * d;
        let y = (0..n).map(|i| a[i * dd..(i + 1) * dd].iter().zip(&y_star).map(|(p, q)| p * q).sum()).collect();
        let (mut sigma_u, mut sigma_v) = (vec![0.0; dd], vec![0.0; dd]);
        for i in 0..n {
            let ai = &a[i * dd..(i + 1) * dd];
            for p in 0..d {
                for q in 0..d {
                    let (mut su, mut sv) = (0.0, 0.0);
                    for c in 0..d {
                        su += ai[p * d + c] * ai[q * d + c];
                        sv += ai[c * d + p] * ai[c * d + q];
                    }
                    sigma_u[p * d + q] += su / n as f64;
                    sigma_v[p * d + q] += sv / n as f64;
                }
            }
        }
        MsProblem { d, r, n, y_star, a, y, sigma_u, sigma_v }
    }

    /// T* = 2 ‖Σ_U^{1/2} Y* Σ_V^{1/2}‖_*: the smallest Hessian trace (eq. 129)
    /// of any factorisation UV = Y*, the flattest point of the valley.
    pub fn min_hessian_trace(&self) -> f64 {
        let d = self.d;
        let su = symmetric_fn(&self.sigma_u, d, |x| x.max(0.0).sqrt());
        let sv = symmetric_fn(&self.sigma_v, d, |x| x.max(0.0).sqrt());
        2.0 * nuclear_norm(&matmul(&matmul(&su, &self.y_star, d, d, d), &sv, d, d, d), d)
    }

    /// Factors with i.i.d. N(0, σ₀²) entries drawn from `seed` (U, then V).
    pub fn init(&self, h: usize, sigma0: f64, seed: u64) -> Factors {
        let mut rng = SplitMix64::new(seed);
        let (mut u, mut v) = (vec![0.0; self.d * h], vec![0.0; h * self.d]);
        rng.fill_normal(&mut u);
        rng.fill_normal(&mut v);
        u.iter_mut().chain(v.iter_mut()).for_each(|x| *x *= sigma0);
        Factors { h, u, v }
    }

    fn residuals(&self, f: &Factors, offsets: &[f64]) -> Vec<f64> {
        let dd = self.d * self.d;
        let y = matmul(&f.u, &f.v, self.d, f.h, self.d);
        (0..self.n)
            .map(|i| self.a[i * dd..(i + 1) * dd].iter().zip(&y).map(|(p, q)| p * q).sum::<f64>() - self.y[i] - offsets[i])
            .collect()
    }

    /// The noise-free loss (1/2n) Σ (⟨A_i, UV⟩ − y_i)².
    pub fn train_loss(&self, f: &Factors) -> f64 {
        self.residuals(f, &vec![0.0; self.n]).iter().map(|r| r * r).sum::<f64>() / (2.0 * self.n as f64)
    }

    /// tr(Uᵀ Σ_U U) + tr(V Σ_V Vᵀ) (eq. 129).
    pub fn hessian_trace(&self, f: &Factors) -> f64 {
        let (d, h) = (self.d, f.h);
        let su_u = matmul(&self.sigma_u, &f.u, d, d, h);
        let v_sv = matmul(&f.v, &self.sigma_v, h, d, d);
        su_u.iter().zip(&f.u).map(|(p, q)| p * q).sum::<f64>() + v_sv.iter().zip(&f.v).map(|(p, q)| p * q).sum::<f64>()
    }

    /// ‖UV − Y*‖²_F (eq. 13 without its constant).
    pub fn test_error(&self, f: &Factors) -> f64 {
        let y = matmul(&f.u, &f.v, self.d, f.h, self.d);
        y.iter().zip(&self.y_star).map(|(p, q)| (p - q) * (p - q)).sum()
    }

    /// ∇L at `f` with label offsets ε ξ_i: (∇_U, ∇_V).
    pub fn gradient(&self, f: &Factors, offsets: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (d, h, dd) = (self.d, f.h, self.d * self.d);
        let res = self.residuals(f, offsets);
        let mut g = vec![0.0; dd];
        for (i, r) in res.iter().enumerate() {
            let r = r / self.n as f64;
            for (gx, ax) in g.iter_mut().zip(&self.a[i * dd..(i + 1) * dd]) {
                *gx += r * ax;
            }
        }
        (matmul(&g, &transpose(&f.v, h, d), d, d, h), matmul(&transpose(&f.u, d, h), &g, h, d, d))
    }

    /// `steps` steps of eq. (1) without label noise from `f` (π₀ = 0).
    pub fn heavy_ball(&self, f: &Factors, lr: f64, beta: f64, steps: usize) -> Factors {
        let mut f = f.clone();
        let (mut pu, mut pv) = (vec![0.0; f.u.len()], vec![0.0; f.v.len()]);
        let zero = vec![0.0; self.n];
        for _ in 0..steps {
            let (gu, gv) = self.gradient(&f, &zero);
            for (i, g) in gu.iter().enumerate() {
                pu[i] = beta * pu[i] - g;
                f.u[i] += lr * pu[i];
            }
            for (i, g) in gv.iter().enumerate() {
                pv[i] = beta * pv[i] - g;
                f.v[i] += lr * pv[i];
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalises_a_known_matrix() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let (mut ev, v) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        ev.sort_by(f64::total_cmp);
        assert!((ev[0] - 1.0).abs() < 1e-14 && (ev[1] - 3.0).abs() < 1e-14, "{ev:?}");
        // Orthonormal eigenvectors.
        let dot = v[0] * v[1] + v[2] * v[3];
        assert!(dot.abs() < 1e-14);
        // A random symmetric matrix is rebuilt from its decomposition.
        let p = MsProblem::draw(6, 2, 40, 3);
        let (ev, v) = symmetric_eigen(&p.sigma_u, 6);
        for i in 0..6 {
            for j in 0..6 {
                let m: f64 = (0..6).map(|k| v[i * 6 + k] * ev[k] * v[j * 6 + k]).sum();
                assert!((m - p.sigma_u[i * 6 + j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn the_target_has_rank_r_and_the_stated_norm() {
        let p = MsProblem::draw(8, 2, 50, 1);
        let s = singular_values(&p.y_star, 8);
        let f2: f64 = p.y_star.iter().map(|x| x * x).sum();
        assert!((f2 - 16.0).abs() < 1e-10);
        assert!(s[1] > 1e-3 && s[2] < 1e-6, "{s:?}");
    }

    #[test]
    fn hessian_trace_is_the_gauss_newton_trace_by_finite_differences() {
        // On the valley the Hessian of the loss is (1/n) Σ J_iᵀ J_i, so its trace is
        // (1/n) Σ_i ‖∂⟨A_i, UV⟩/∂θ‖²; a central difference of the loss at a random point
        // adds the residual term, so compare there against the Jacobian form instead.
        let p = MsProblem::draw(4, 1, 9, 7);
        let f = p.init(3, 0.7, 11);
        let n_params = f.u.len() + f.v.len();
        let h = 1e-6;
        let mut gn = 0.0;
        for j in 0..n_params {
            let bump = |s: f64| {
                let mut g = f.clone();
                if j < f.u.len() { g.u[j] += s } else { g.v[j - f.u.len()] += s }
                p.residuals(&g, &vec![0.0; p.n])
            };
            let (plus, minus) = (bump(h), bump(-h));
            gn += plus.iter().zip(&minus).map(|(a, b)| ((a - b) / (2.0 * h)).powi(2)).sum::<f64>() / p.n as f64;
        }
        assert!((gn - p.hessian_trace(&f)).abs() < 1e-6 * gn, "{gn} vs {}", p.hessian_trace(&f));
    }

    #[test]
    fn balanced_factors_of_the_target_attain_the_minimum_trace() {
        // Y* = U V with U = Σ_U^{-1/2} P S^{1/2}, V = S^{1/2} Qᵀ Σ_V^{-1/2}, where
        // Σ_U^{1/2} Y* Σ_V^{1/2} = P S Qᵀ, attains T*; a rebalanced factorisation does not.
        let p = MsProblem::draw(5, 2, 60, 2);
        let d = 5;
        let su_half = symmetric_fn(&p.sigma_u, d, |x| x.sqrt());
        let sv_half = symmetric_fn(&p.sigma_v, d, |x| x.sqrt());
        let su_ihalf = symmetric_fn(&p.sigma_u, d, |x| 1.0 / x.sqrt());
        let sv_ihalf = symmetric_fn(&p.sigma_v, d, |x| 1.0 / x.sqrt());
        let m = matmul(&matmul(&su_half, &p.y_star, d, d, d), &sv_half, d, d, d);
        // SVD of m through the eigen-decompositions of mᵀm (Q) and then P = m Q S^{-1}.
        let (ev, q) = symmetric_eigen(&matmul(&transpose(&m, d, d), &m, d, d, d), d);
        let mut u = vec![0.0; d * d];
        let mut v = vec![0.0; d * d];
        let mq = matmul(&m, &q, d, d, d);
        for k in 0..d {
            let s = ev[k].max(0.0).sqrt();
            if s < 1e-9 {
                continue;
            }
            for i in 0..d {
                u[i * d + k] = mq[i * d + k] / s * s.sqrt();
                v[k * d + i] = q[i * d + k] * s.sqrt();
            }
        }
        let f = Factors { h: d, u: matmul(&su_ihalf, &u, d, d, d), v: matmul(&v, &sv_ihalf, d, d, d) };
        assert!(p.test_error(&f) < 1e-18, "{}", p.test_error(&f));
        let t_star = p.min_hessian_trace();
        assert!((p.hessian_trace(&f) - t_star).abs() < 1e-9 * t_star);
        let g = Factors { h: d, u: f.u.iter().map(|x| 2.0 * x).collect(), v: f.v.iter().map(|x| 0.5 * x).collect() };
        assert!(p.test_error(&g) < 1e-18 && p.hessian_trace(&g) > 1.2 * t_star);
    }

    #[test]
    fn noise_free_heavy_ball_reaches_the_valley() {
        // The cpu scale's problem and phase 1.
        let p = MsProblem::draw(16, 2, 160, 1);
        let f0 = p.init(16, 0.5, 1_000_001);
        let f = p.heavy_ball(&f0, 0.05, 0.9, 1000);
        assert!(p.train_loss(&f) < 1e-12 * p.train_loss(&f0), "{} {}", p.train_loss(&f0), p.train_loss(&f));
        assert!(p.hessian_trace(&f) > p.min_hessian_trace());
    }
}
