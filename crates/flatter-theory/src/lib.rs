//! Closed-form theory of heavy-ball SGD with label noise, the fits the
//! experiments need, and a plain-f64 reference simulation, for Cowsik, Can &
//! Glorioso, "Flatter, faster: scaling momentum for optimal speedup of SGD"
//! (arXiv:2210.16400). Everything here is pure f64 with no framework.
//!
//! The update is eq. (1), π ← β π − ∇L + ε σ ξ, w ← w + η π, with momentum
//! scaled as 1 − β = C η^γ (eq. (2)).
//!
//! - [`timescales`]: the mixing time τ₁ = 1/(1 − β); the drift rate of
//!   ‖u‖² + ‖v‖² in the vector UV model, κ² η² ε² σ_x² / (n (1 − β)²)
//!   (eq. (126)), and τ₂ its inverse (eq. (9)); the optimal prefactor
//!   C* = (κ² ε² σ_x² / n)^{1/3} (eq. (10)); the exponent
//!   a(γ) = max(γ, 2 − 2γ), minimised at γ* = 2/3; the matrix-sensing
//!   estimates (eqs. (134) and (135)).
//! - [`spectrum`]: the eigenvalues μ± = ½[(1+β−ηλ) ± sqrt((1+β−ηλ)² − 4β)] of
//!   the linearised map (eq. (8)), their kind (real, complex of modulus √β,
//!   unstable) and the per-mode relaxation times −1/ln|μ|.
//! - [`exponents`]: the exponent a(γ) measured from the pieces: τ = τ₁ + τ₂
//!   with τ₁ from a numerical eigen-solve of the eq. (8) Jacobian and τ₂ from
//!   the drift rate of eq. (126), fitted over small η and minimised over γ.
//! - [`ou`]: the stationary moments ⟨x²⟩, ⟨xp⟩, ⟨p²⟩ of one transverse mode
//!   (eq. (177)) and a direct discrete-Lyapunov solve to check them.
//! - [`fit`]: least-squares lines with standard errors, the decay time
//!   τ = −1/slope of log‖w‖² over a stated window (the paper's Sec. 4.1),
//!   the power law τ ∝ η^{−a}, quadratic fits, the parabola minimiser, and
//!   β* of eq. (14).
//! - [`matrix_sensing`]: the matrix-sensing problem in plain f64: its draw,
//!   the eq. (129) Hessian trace and its minimum T* over the valley, eq. (1).
//! - [`sim`]: eq. (1) on the vector UV model L = (1/2n) Σᵢ ((u·v) xᵢ − ε ξᵢ)²,
//!   with its own splitmix64 + Box–Muller generator.
//!
//! The drift law on a direct simulation (d = 5, n = 10, ε = 0.3, β = 0.5):
//!
//! ```
//! use flatter_theory::{UvParams, WindowRule, drift_rate, simulate_uv, tau1};
//! let (lr, beta) = (0.05, 0.5);
//! let mut params = UvParams { d: 5, n: 10, eps: 0.3, lr, beta, steps: 0, log_every: 50, seed: 0 };
//! let sigma_x2 = flatter_theory::UvInit::draw(5, 10, 0).sigma_x2();
//! let rate = drift_rate(lr, beta, 0.3, sigma_x2, 10, 1.0);
//! params.steps = (4.0 / rate) as u64;
//! let fit = simulate_uv(&params).decay_fit(WindowRule::after_transient(50.0, tau1(beta))).unwrap();
//! assert!((fit.rate / rate - 1.0).abs() < 0.15);
//! ```

pub mod exponents;
pub mod fit;
pub mod matrix_sensing;
pub mod ou;
pub mod sim;
pub mod spectrum;
pub mod timescales;

pub use fit::{
    BetaStarFit, DecayFit, FitError, LinearFit, MIN_WINDOW_POINTS, PowerLawFit, QuadraticFit,
    WindowRule, argmax_parabola, argmin_parabola, decay_time_fit, fit_beta_star, linear_fit,
    power_law_fit, quadratic_fit,
};
pub use ou::{OuMoments, mode_map, ou_moments, stationary_covariance, x2_small_lr};
pub use sim::{SplitMix64, Trajectory, UvInit, UvParams, simulate_uv, simulate_uv_with};
pub use spectrum::{
    Complex, ModeSpectrum, SpectrumKind, classify, eigenvalues, jacobian, mode_spectrum,
    real_complex_boundaries, relaxation_time,
};
pub use timescales::{
    KAPPA_HALF_MSE, KAPPA_MSE, OPTIMAL_GAMMA, beta_from_rule, c_bound_matrix_sensing, c_star,
    drift_rate, exponent_a, tau1, tau2, tau2_matrix_sensing,
};
