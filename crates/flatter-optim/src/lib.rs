//! Heavy-ball SGD whose momentum follows the learning rate, and label noise.
//!
//! This crate implements eq. (1) of Cowsik, Can & Glorioso, "Flatter, faster:
//! scaling momentum for optimal speedup of SGD" (arXiv:2210.16400):
//!
//! ```text
//! π_{k+1} = β π_k − ∇L(w_k)        (π₀ = 0, no dampening)
//! w_{k+1} = w_k + η π_{k+1}
//! ```
//!
//! with the momentum either fixed or tied to the learning rate by the scaling
//! rule (2), `1 − β = C η^γ`, γ = 2/3 at the optimum. The label noise that
//! drives the implicit regularisation acts on *targets*, never on gradients,
//! so it lives in [`label_noise`] and the optimizer never sees it.
//!
//! - [`momentum`]: the rule β(η), the effective learning rate and the
//!   timescales τ₁, τ₂ and C* of eqs. (9)–(10), as pure functions.
//! - [`advice`]: [`MomentumRule::advised`], which β to use at a learning
//!   rate, and why (what `cargo xtask advise` prints).
//! - [`heavy_ball`]: [`HeavyBall`], a Burn [`Optimizer`](burn::optim::Optimizer)
//!   driven by [`ModuleOptimizer`](burn::optim::ModuleOptimizer).
//! - [`label_noise`]: Gaussian target noise, uniformly-wrong label flips, and
//!   the expected (soft-target) loss for the noise-free phases.
//! - [`rng`]: one seed, separate reproducible random streams.
//!
//! Without the default `burn` feature the crate is [`momentum`] and
//! [`advice`] alone, pure `f64`.
//!
//! Two hand-computed steps on L = w²/2 with η = 0.1, β = 0.5, w₀ = 1:
//! π₁ = −1, w₁ = 0.9; π₂ = 0.5·(−1) − 0.9 = −1.4, w₂ = 0.9 − 0.14 = 0.76.
//!
//! ```
//! # #[cfg(feature = "burn")] {
//! use flatter_optim::{HeavyBallConfig, MomentumRule};
//! let rule = MomentumRule::fixed(0.5).unwrap();
//! let opt = HeavyBallConfig::new(rule).build().unwrap();
//! let (w1, p1) = opt.scalar_step(0.1, 1.0, 1.0, 0.0);
//! let (w2, _) = opt.scalar_step(0.1, w1, w1, p1);
//! assert!((w1 - 0.9).abs() < 1e-12 && (w2 - 0.76).abs() < 1e-12);
//! # }
//! ```

// The crate README's examples run as doctests here.
#[cfg(all(doctest, feature = "burn"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod advice;
#[cfg(feature = "burn")]
pub mod heavy_ball;
#[cfg(feature = "burn")]
pub mod label_noise;
pub mod momentum;
#[cfg(feature = "burn")]
pub mod rng;

pub use advice::{Advice, AdviceError, CSource};
#[cfg(feature = "burn")]
pub use heavy_ball::{HeavyBall, HeavyBallConfig, HeavyBallState, heavy_ball_rows};
#[cfg(feature = "burn")]
pub use label_noise::{ExpectedLoss, GaussianTargetNoise, LabelFlip, LabelNoiseError};
pub use momentum::{MomentumRule, RuleError};
#[cfg(feature = "burn")]
pub use rng::{RandomStream, Streams};
