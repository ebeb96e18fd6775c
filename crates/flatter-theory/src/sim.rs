//! A plain-f64 reference simulation of eq. (1) on the vector UV model of
//! eq. (11), with full-batch Gaussian label noise (Sec. 3.1), and the small
//! seeded RNG it uses.
//!
//! ```text
//! L(u, v) = (1/2n) Σᵢ ((u·v) xᵢ − yᵢ)²,   yᵢ = ε ξᵢ (fresh every step), u, v ∈ R^d, xᵢ ∈ R
//! π ← β π − ∇L(w),   w ← w + η π,   π₀ = 0                                  (1)
//! ∂L/∂u = g v,  ∂L/∂v = g u,  g = (1/n) Σᵢ rᵢ xᵢ,  rᵢ = (u·v) xᵢ − yᵢ
//! ```
//!
//! It records ‖u‖² + ‖v‖², whose decay rate eq. (126) predicts to be
//! η² ε² σ_x² / (n (1 − β)²) ([`crate::timescales::drift_rate`] with κ = 1).
//! It is deliberately independent of any tensor framework, so that the
//! framework-based sweep engine can be checked against it.

use serde::Serialize;

use crate::fit::{DecayFit, FitError, WindowRule, decay_time_fit};

/// The splitmix64 generator (Steele, Lea & Flood 2014) with Box–Muller
/// normals: tiny, fast, and specified bit for bit by this file.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
    spare: Option<f64>,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 {
            state: seed,
            spare: None,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in the open interval (0, 1), from the top 53 bits.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal number by the Box–Muller transform; the second
    /// number of each pair is kept for the next call.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        let angle = std::f64::consts::TAU * self.uniform();
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }

    /// Fills `out` with standard normal numbers.
    pub fn fill_normal(&mut self, out: &mut [f64]) {
        for z in out {
            *z = self.normal();
        }
    }
}

/// The parameters of one UV-model run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct UvParams {
    /// The width d of u and v.
    pub d: usize,
    /// The number of samples n.
    pub n: usize,
    /// The label-noise strength ε.
    pub eps: f64,
    /// The learning rate η.
    pub lr: f64,
    /// The heavy-ball momentum β.
    pub beta: f64,
    /// The number of steps to run.
    pub steps: u64,
    /// ‖u‖² + ‖v‖² is recorded at step 0 and every `log_every` steps.
    pub log_every: u64,
    /// The seed of [`simulate_uv`] (unused by [`simulate_uv_with`]).
    pub seed: u64,
}

/// The data and the initial weights of a UV-model run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UvInit {
    /// The scalar inputs xᵢ, i = 1..n.
    pub x: Vec<f64>,
    /// The initial u ∈ R^d.
    pub u: Vec<f64>,
    /// The initial v ∈ R^d.
    pub v: Vec<f64>,
}

impl UvInit {
    /// Draws xᵢ, u and v i.i.d. N(0, 1) from two streams of `seed` (see
    /// [`simulate_uv`] for the stream layout): first x from the data stream,
    /// then u and then v from the init stream.
    pub fn draw(d: usize, n: usize, seed: u64) -> Self {
        let [mut data, mut init, _] = streams(seed);
        let mut x = vec![0.0; n];
        data.fill_normal(&mut x);
        let mut u = vec![0.0; d];
        let mut v = vec![0.0; d];
        init.fill_normal(&mut u);
        init.fill_normal(&mut v);
        UvInit { x, u, v }
    }

    /// The dataset variance σ_x² = (1/n) Σᵢ xᵢ² (Sec. 5.1, scalar inputs).
    pub fn sigma_x2(&self) -> f64 {
        self.x.iter().map(|x| x * x).sum::<f64>() / self.x.len() as f64
    }
}

/// Three independent generators of one seed, for data, initial weights and
/// label noise, each seeded by the next output of a splitmix64 on `seed`.
fn streams(seed: u64) -> [SplitMix64; 3] {
    let mut master = SplitMix64::new(seed);
    [
        SplitMix64::new(master.next_u64()),
        SplitMix64::new(master.next_u64()),
        SplitMix64::new(master.next_u64()),
    ]
}

/// What a UV-model run recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trajectory {
    /// The steps k at which the run was recorded (0, log_every, 2·log_every, …).
    pub steps: Vec<u64>,
    /// ‖u‖² + ‖v‖² at those steps.
    pub norm2: Vec<f64>,
    /// u·v at those steps (zero on the valley Γ).
    pub uv: Vec<f64>,
    /// The dataset variance σ_x² = (1/n) Σᵢ xᵢ² of the inputs used.
    pub sigma_x2: f64,
    /// Whether the run stopped early because a weight became non-finite; the
    /// last record is then the non-finite state.
    pub diverged: bool,
}

impl Trajectory {
    /// The recorded steps as f64, for the fits.
    pub fn steps_f64(&self) -> Vec<f64> {
        self.steps.iter().map(|&k| k as f64).collect()
    }

    /// The decay time of ‖u‖² + ‖v‖² by [`decay_time_fit`] under `rule`.
    pub fn decay_fit(&self, rule: WindowRule) -> Result<DecayFit, FitError> {
        decay_time_fit(&self.steps_f64(), &self.norm2, rule)
    }
}

/// Runs eq. (1) on the vector UV model from a seed: the data, the initial
/// weights and the label noise come from three separate splitmix64 streams
/// of `params.seed` (so the noise never shifts the data or the init).
pub fn simulate_uv(params: &UvParams) -> Trajectory {
    let init = UvInit::draw(params.d, params.n, params.seed);
    let [_, _, mut noise] = streams(params.seed);
    simulate_uv_with(params, &init, |xi| noise.fill_normal(xi))
}

/// Runs eq. (1) on the vector UV model from given data and weights, with the
/// label noise ξ drawn by `fill_xi`, which must fill its slice of length n
/// with fresh standard normals at every step; `params.seed` is not used.
///
/// # Panics
///
/// If the shapes of `init` do not match `params.d` and `params.n`, or if
/// `params.log_every` is zero.
pub fn simulate_uv_with(
    params: &UvParams,
    init: &UvInit,
    mut fill_xi: impl FnMut(&mut [f64]),
) -> Trajectory {
    assert!(params.log_every > 0, "log_every must be positive");
    assert_eq!(init.x.len(), params.n, "x must have n entries");
    assert_eq!(init.u.len(), params.d, "u must have d entries");
    assert_eq!(init.v.len(), params.d, "v must have d entries");
    let (lr, beta, eps) = (params.lr, params.beta, params.eps);
    let inv_n = 1.0 / params.n as f64;
    let x = &init.x;
    let (mut u, mut v) = (init.u.clone(), init.v.clone());
    let (mut pi_u, mut pi_v) = (vec![0.0; params.d], vec![0.0; params.d]);
    let mut xi = vec![0.0; params.n];

    let capacity = (params.steps / params.log_every + 1) as usize;
    let mut out = Trajectory {
        steps: Vec::with_capacity(capacity),
        norm2: Vec::with_capacity(capacity),
        uv: Vec::with_capacity(capacity),
        sigma_x2: init.sigma_x2(),
        diverged: false,
    };
    let record = |out: &mut Trajectory, k: u64, u: &[f64], v: &[f64]| {
        let norm2: f64 = u.iter().chain(v).map(|a| a * a).sum();
        out.steps.push(k);
        out.norm2.push(norm2);
        out.uv.push(dot(u, v));
    };
    record(&mut out, 0, &u, &v);

    for k in 1..=params.steps {
        fill_xi(&mut xi);
        let s = dot(&u, &v);
        // g = (1/n) Σᵢ rᵢ xᵢ with rᵢ = (u·v) xᵢ − ε ξᵢ.
        let g = inv_n
            * x.iter()
                .zip(&xi)
                .map(|(xi_in, noise)| (s * xi_in - eps * noise) * xi_in)
                .sum::<f64>();
        for j in 0..params.d {
            // Both gradients use the weights before this step.
            pi_u[j] = beta * pi_u[j] - g * v[j];
            pi_v[j] = beta * pi_v[j] - g * u[j];
        }
        for j in 0..params.d {
            u[j] += lr * pi_u[j];
            v[j] += lr * pi_v[j];
        }
        if !g.is_finite() || !s.is_finite() {
            record(&mut out, k, &u, &v);
            out.diverged = true;
            break;
        }
        if k % params.log_every == 0 {
            record(&mut out, k, &u, &v);
        }
    }
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timescales::{drift_rate, tau1};

    /// The generator's first output for seed 0 is the published splitmix64
    /// reference value, and its normals have mean 0 and variance 1.
    #[test]
    fn rng_reference_and_moments() {
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut rng = SplitMix64::new(42);
        let n = 200_000;
        let (mut s1, mut s2, mut s4) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let z = rng.normal();
            s1 += z;
            s2 += z * z;
            s4 += z * z * z * z;
        }
        let nf = n as f64;
        assert!((s1 / nf).abs() < 4.0 / nf.sqrt());
        assert!((s2 / nf - 1.0).abs() < 4.0 * (2.0 / nf).sqrt());
        assert!((s4 / nf - 3.0).abs() < 4.0 * (96.0 / nf).sqrt());
        let u = SplitMix64::new(1).uniform();
        assert!(u > 0.0 && u < 1.0);
    }

    /// The simulation agrees to 1e-9 with an independent implementation of
    /// eq. (1): the two-step form w_{k+1} = w_k + β(w_k − w_{k−1}) − η g_k with
    /// the gradient of the noisy loss taken by central finite differences.
    #[test]
    fn matches_two_step_form_with_numerical_gradient() {
        let (d, n) = (3, 4);
        let params = UvParams {
            d,
            n,
            eps: 0.3,
            lr: 0.05,
            beta: 0.7,
            steps: 60,
            log_every: 1,
            seed: 0,
        };
        let init = UvInit::draw(d, n, 99);
        let mut noise_rng = SplitMix64::new(5);
        let noise: Vec<Vec<f64>> = (0..params.steps)
            .map(|_| {
                let mut xi = vec![0.0; n];
                noise_rng.fill_normal(&mut xi);
                xi
            })
            .collect();
        let mut k = 0;
        let traj = simulate_uv_with(&params, &init, |xi| {
            xi.copy_from_slice(&noise[k]);
            k += 1;
        });

        let loss = |w: &[f64], xi: &[f64]| {
            let s: f64 = (0..d).map(|j| w[j] * w[d + j]).sum();
            (0..n)
                .map(|i| (s * init.x[i] - params.eps * xi[i]).powi(2))
                .sum::<f64>()
                / (2.0 * n as f64)
        };
        let mut w: Vec<f64> = init.u.iter().chain(&init.v).copied().collect();
        let mut w_prev = w.clone();
        for (step, xi) in noise.iter().enumerate() {
            let h = 1e-6;
            let grad: Vec<f64> = (0..2 * d)
                .map(|j| {
                    let (mut wp, mut wm) = (w.clone(), w.clone());
                    wp[j] += h;
                    wm[j] -= h;
                    (loss(&wp, xi) - loss(&wm, xi)) / (2.0 * h)
                })
                .collect();
            let next: Vec<f64> = (0..2 * d)
                .map(|j| w[j] + params.beta * (w[j] - w_prev[j]) - params.lr * grad[j])
                .collect();
            w_prev = std::mem::replace(&mut w, next);
            let norm2: f64 = w.iter().map(|a| a * a).sum();
            let got = traj.norm2[step + 1];
            assert!(
                (got - norm2).abs() < 1e-7 * norm2,
                "step {}: {got} vs {norm2}",
                step + 1
            );
        }
        assert_eq!(traj.steps.len(), 61);
    }

    /// The same seed gives the same run; the logging grid is as documented.
    #[test]
    fn deterministic_and_logged_on_grid() {
        let params = UvParams {
            d: 5,
            n: 10,
            eps: 0.3,
            lr: 0.05,
            beta: 0.5,
            steps: 1000,
            log_every: 100,
            seed: 3,
        };
        let a = simulate_uv(&params);
        let b = simulate_uv(&params);
        assert_eq!(a, b);
        assert_eq!(a.steps, (0..=10).map(|i| 100 * i).collect::<Vec<u64>>());
        let init = UvInit::draw(5, 10, 3);
        let norm0: f64 = init.u.iter().chain(&init.v).map(|x| x * x).sum();
        assert_eq!(a.norm2[0], norm0);
        assert_eq!(a.sigma_x2, init.sigma_x2());
        assert!(!a.diverged);
    }

    /// Without label noise the run settles on Γ and ‖u‖² + ‖v‖² stops
    /// moving: the fit reports that it never decays.
    #[test]
    fn no_noise_no_drift() {
        let params = UvParams {
            d: 5,
            n: 10,
            eps: 0.0,
            lr: 0.05,
            beta: 0.5,
            steps: 20_000,
            log_every: 100,
            seed: 1,
        };
        let traj = simulate_uv(&params);
        assert!(traj.uv.last().unwrap().abs() < 1e-12);
        let rule = WindowRule::after_transient(50.0, tau1(params.beta));
        assert!(matches!(
            traj.decay_fit(rule),
            Err(FitError::NeverDecays { .. } | FitError::NonNegativeSlope { .. })
        ));
    }

    /// A learning rate far beyond stability diverges, and the fit says so.
    #[test]
    fn unstable_run_diverges() {
        let params = UvParams {
            d: 5,
            n: 10,
            eps: 0.3,
            lr: 2.0,
            beta: 0.9,
            steps: 10_000,
            log_every: 10,
            seed: 1,
        };
        let traj = simulate_uv(&params);
        assert!(traj.diverged || traj.norm2.iter().any(|v| !v.is_finite() || *v > 1e3));
        assert!(matches!(
            traj.decay_fit(WindowRule::default()),
            Err(FitError::Diverged { .. })
        ));
    }

    /// The fitted decay rate of ‖u‖² + ‖v‖² agrees with eq. (126),
    /// η² ε² σ_x² / (n (1−β)²), within 15% for d = 5, n = 10, ε = 0.3.
    #[test]
    fn drift_law_matches_eq_126() {
        for &(lr, beta) in &[(0.05, 0.5), (0.02, 0.9)] {
            for seed in 0..3 {
                let (d, n, eps) = (5, 10, 0.3);
                let sigma_x2 = UvInit::draw(d, n, seed).sigma_x2();
                let rate = drift_rate(lr, beta, eps, sigma_x2, n, 1.0);
                let steps = (4.0 / rate) as u64;
                let params = UvParams {
                    d,
                    n,
                    eps,
                    lr,
                    beta,
                    steps,
                    log_every: (steps / 2000).max(1),
                    seed,
                };
                let traj = simulate_uv(&params);
                let fit = traj
                    .decay_fit(WindowRule::after_transient(50.0, tau1(beta)))
                    .unwrap();
                let ratio = fit.rate / rate;
                println!(
                    "lr {lr} beta {beta} seed {seed}: sigma_x2 {sigma_x2:.3}, predicted rate {rate:.3e}, fitted {:.3e} ± {:.1e}, ratio {ratio:.3}, window {}..{} ({} points)",
                    fit.rate,
                    fit.rate_stderr,
                    fit.first_step,
                    fit.last_step,
                    fit.n_points()
                );
                assert!((ratio - 1.0).abs() < 0.15, "ratio {ratio}");
            }
        }
    }
}
