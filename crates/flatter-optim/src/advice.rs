//! Which β to use at a learning rate, and why: [`MomentumRule::advised`].
//!
//! The scaling rule (2), 1 − β = C η^γ, needs a prefactor C. The best C is
//! C* of eq. (10), which makes the mixing time τ₁ = 1/(1 − β) equal the
//! drift time τ₂ of eq. (9) in the paper's linearised model. It needs the
//! training-set size and the label-noise strength; without them, C can
//! be given, taken from a calibration, or anchored at a known-good (η, β).
//! `cargo xtask advise` is this function with a command line.
//!
//! ```
//! use flatter_optim::{CSource, MomentumRule};
//!
//! // 50,000 examples, Gaussian label noise of strength 0.5, standardised
//! // inputs, loss (1/2n)Σ(f − y)² (κ = 1): C = C*.
//! let stats = CSource::DataStatistics { n_train: 50_000, label_noise: 0.5, sigma_x2: 1.0, kappa: 1.0 };
//! let advice = MomentumRule::advised(0.05, 2.0 / 3.0, stats)?;
//! assert!((advice.tau1 - advice.tau2.unwrap()).abs() < 1e-9 * advice.tau1); // τ₁ = τ₂ at C*
//! let optimizer_rule = advice.rule; // MomentumRule::Scaled { c: C*, gamma: 2/3 }
//! assert!((optimizer_rule.beta(0.05)? - advice.beta).abs() < 1e-15);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::momentum::{MomentumRule, c_star, effective_lr, tau1, tau2};

/// Where the prefactor C comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CSource {
    /// C as given.
    Given {
        /// The prefactor.
        c: f64,
    },
    /// C* = (κ²ε²σ_x²/n)^(1/3) of eq. (10), from data statistics.
    DataStatistics {
        /// Training-set size n.
        n_train: usize,
        /// Label-noise strength ε (the standard deviation of Gaussian target noise).
        label_noise: f64,
        /// Input variance σ_x² (1 for standardised inputs).
        sigma_x2: f64,
        /// κ of the per-sample loss (κ/2)(f − y)²: 1 for (1/2n)Σ(f − y)², 2 for mean-reduced MSE.
        kappa: f64,
    },
    /// C calibrated elsewhere (a fitted C of an experiment), with where from.
    Calibrated {
        /// The prefactor.
        c: f64,
        /// Where it was fitted, in words.
        from: String,
    },
    /// The rule through a known-good point: C = (1 − β)/η^γ, so that β at η
    /// is the given β (the paper's remark that the rule gives the usual
    /// β = 0.9 at its η₀).
    Anchor {
        /// The anchor's learning rate.
        lr: f64,
        /// The momentum wanted there.
        beta: f64,
    },
}

/// What [`MomentumRule::advised`] recommends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// The learning rate η asked about.
    pub lr: f64,
    /// The exponent γ.
    pub gamma: f64,
    /// The prefactor C.
    pub c: f64,
    /// β = 1 − C η^γ.
    pub beta: f64,
    /// The rule to give [`HeavyBallConfig`](crate::HeavyBallConfig): β
    /// follows every learning rate a schedule visits.
    pub rule: MomentumRule,
    /// η/(1 − β), the step under a constant gradient once the momentum has saturated.
    pub effective_lr: f64,
    /// The mixing time τ₁ = 1/(1 − β), in steps.
    pub tau1: f64,
    /// The drift time τ₂ = n(1 − β)²/(κ²η²ε²σ_x²) of eq. (9), in steps; only
    /// with data statistics.
    pub tau2: Option<f64>,
    /// Where C came from.
    pub source: CSource,
    /// Why this C, in a sentence.
    pub reason: String,
}

/// An input the advice cannot use. `field` is the name of the argument
/// (`lr`, `c`, `gamma`, `n_train`, `label_noise`, `sigma_x2`, `kappa`,
/// `beta`), so a command line can name its own flag.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AdviceError {
    /// An argument outside its range.
    #[error("{field} must be {expected}, got {value}")]
    Input {
        /// The argument.
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// The range, in words.
        expected: &'static str,
    },
    /// C* overflowed: each input is finite, the formula is not.
    #[error("C* = (κ²ε²σ_x²/n)^(1/3) (eq. 10) is {c} for label_noise {label_noise}, sigma_x2 {sigma_x2}, kappa {kappa}, n_train {n_train}: outside what f64 can hold")]
    CStar {
        /// What the formula gave.
        c: f64,
        /// ε.
        label_noise: f64,
        /// σ_x².
        sigma_x2: f64,
        /// κ.
        kappa: f64,
        /// n.
        n_train: usize,
    },
    /// The inputs are valid but give β outside [0, 1); `hint` says which way to move η.
    #[error("lr {lr:?} with C = {c:.4} and γ = {gamma:.4} gives β = {beta_text}, outside [0, 1): {hint}")]
    BetaOutOfRange {
        /// η.
        lr: f64,
        /// C.
        c: f64,
        /// γ.
        gamma: f64,
        /// β, formatted.
        beta_text: String,
        /// Which way out.
        hint: String,
    },
}

fn positive(field: &'static str, value: f64) -> Result<f64, AdviceError> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(AdviceError::Input { field, value, expected: "a finite number > 0" })
    }
}

impl MomentumRule {
    /// The β the scaling rule gives at `lr`, with the C `source` gives, the
    /// timescales it implies and why: see the [module docs](crate::advice).
    /// Every argument is checked by name before any formula, and a β outside
    /// [0, 1) is an error that says whether η is too large or too small.
    pub fn advised(lr: f64, gamma: f64, source: CSource) -> Result<Advice, AdviceError> {
        positive("lr", lr)?;
        if !(gamma >= 0.0 && gamma.is_finite()) {
            return Err(AdviceError::Input { field: "gamma", value: gamma, expected: "a finite number >= 0" });
        }
        let (c, reason, stats) = match &source {
            CSource::Given { c } => (positive("c", *c)?, "C as given.".to_string(), None),
            CSource::Calibrated { c, from } => (positive("c", *c)?, format!("C calibrated by {from}."), None),
            CSource::Anchor { lr: anchor_lr, beta } => {
                positive("lr", *anchor_lr)?;
                if !((0.0..1.0).contains(beta)) {
                    return Err(AdviceError::Input { field: "beta", value: *beta, expected: "in [0, 1)" });
                }
                let c = (1.0 - beta) / anchor_lr.powf(gamma);
                let reason = format!(
                    "no data statistics and no calibration, so C assumes β = {beta} is optimal at η = {anchor_lr} \
                     (the paper's remark that the rule gives the usual β = 0.9 at its η₀; η₀ is not given). \
                     Give the training-set size and the label noise for C*."
                );
                (c, reason, None)
            }
            &CSource::DataStatistics { n_train, label_noise, sigma_x2, kappa } => {
                if n_train == 0 {
                    return Err(AdviceError::Input { field: "n_train", value: 0.0, expected: "an integer >= 1" });
                }
                positive("label_noise", label_noise)?;
                positive("sigma_x2", sigma_x2)?;
                positive("kappa", kappa)?;
                let c = c_star(label_noise, sigma_x2, n_train, kappa);
                if !(c > 0.0 && c.is_finite()) {
                    return Err(AdviceError::CStar { c, label_noise, sigma_x2, kappa, n_train });
                }
                let reason = format!(
                    "C = C* = (κ²ε²σ_x²/n)^(1/3) (eq. 10) from n = {n_train}, ε = {label_noise}, σ_x² = {sigma_x2}, κ = {kappa}: \
                     the C at which the momentum mixes exactly as fast as the noise drives the drift toward flatter minima."
                );
                (c, reason, Some((n_train, label_noise, sigma_x2, kappa)))
            }
        };
        let one_minus_beta = c * lr.powf(gamma);
        let beta = 1.0 - one_minus_beta;
        if !(0.0..1.0).contains(&beta) || one_minus_beta <= 0.0 {
            // Two ways out of [0, 1): C η^γ ≥ 1 (η too large), or C η^γ so
            // small that 1 − C η^γ rounds to 1 in f64 (η too small).
            let hint = if beta < 1.0 {
                if gamma > 0.0 {
                    format!("the rule needs C η^γ < 1, i.e. lr < {:.4}", c.powf(-1.0 / gamma))
                } else {
                    "at γ = 0 the rule needs C < 1".to_string()
                }
            } else if gamma > 0.0 {
                format!(
                    "1 − β = C η^γ is below f64's resolution next to 1, so β rounds to 1: the rule needs lr > {:.3e} (or a larger C)",
                    (f64::EPSILON / c).powf(1.0 / gamma)
                )
            } else {
                "1 − β = C is below f64's resolution next to 1, so β rounds to 1: use a larger C".to_string()
            };
            let beta_text = if beta.abs() < 1e4 { format!("{beta:.4}") } else { format!("{beta:.3e}") };
            return Err(AdviceError::BetaOutOfRange { lr, c, gamma, beta_text, hint });
        }
        Ok(Advice {
            lr,
            gamma,
            c,
            beta,
            rule: MomentumRule::Scaled { c, gamma },
            effective_lr: effective_lr(lr, beta),
            tau1: tau1(beta),
            tau2: stats.map(|(n, eps, s2, kappa)| tau2(lr, beta, eps, s2, n, kappa)),
            source,
            reason,
        })
    }
}

impl fmt::Display for Advice {
    /// What `cargo xtask advise` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "β = {:.6}   (1 − β = {:.6} = C η^γ with C = {:.4}, γ = {:.4}, η = {})",
            self.beta,
            1.0 - self.beta,
            self.c,
            self.gamma,
            self.lr
        )?;
        writeln!(f, "effective learning rate η/(1 − β) = {:.6}", self.effective_lr)?;
        writeln!(f, "mixing time τ₁ = 1/(1 − β) = {:.1} steps", self.tau1)?;
        match self.tau2 {
            Some(t2) => writeln!(f, "drift time τ₂ = n(1 − β)²/(κ²η²ε²σ_x²) = {t2:.1} steps (eq. 9, linearised model; equals τ₁ at C*)")?,
            None => writeln!(f, "drift time τ₂: give the training-set size and the label noise to predict it (eq. 9)")?,
        }
        writeln!(f, "why: {}", self.reason)?;
        writeln!(
            f,
            "rule: keep 1 − β ∝ η^(2/3) when you change η (a schedule too): then τ₁ and τ₂ shrink together and the drift to flat \
             minima is fastest (Cowsik, Can & Glorioso, eq. 2)."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::momentum::OPTIMAL_GAMMA;

    #[test]
    fn c_star_makes_tau1_equal_tau2_and_the_rule_gives_the_advised_beta() {
        let stats = CSource::DataStatistics { n_train: 100, label_noise: 0.5, sigma_x2: 1.0, kappa: 1.0 };
        let a = MomentumRule::advised(0.01, OPTIMAL_GAMMA, stats).unwrap();
        assert!((a.tau1 - a.tau2.unwrap()).abs() < 1e-9 * a.tau1, "{a:?}");
        assert!((a.c - (0.25f64 / 100.0).cbrt()).abs() < 1e-15);
        assert_eq!(a.rule.beta(0.01).unwrap(), a.beta);
        assert!((a.effective_lr - 0.01 / (1.0 - a.beta)).abs() < 1e-12 * a.effective_lr);
    }

    #[test]
    fn the_anchor_gives_its_beta_at_its_lr() {
        let a = MomentumRule::advised(0.05, OPTIMAL_GAMMA, CSource::Anchor { lr: 0.05, beta: 0.9 }).unwrap();
        assert!((a.beta - 0.9).abs() < 1e-12, "{a:?}");
        // And a smaller η gets a larger β, by the rule.
        let b = MomentumRule::advised(0.005, OPTIMAL_GAMMA, CSource::Anchor { lr: 0.05, beta: 0.9 }).unwrap();
        assert!((1.0 - b.beta - 0.1 * 0.1f64.powf(2.0 / 3.0)).abs() < 1e-12, "{b:?}");
    }

    #[test]
    fn bad_arguments_name_their_field() {
        let given = |c| CSource::Given { c };
        for (lr, gamma, src, field) in [
            (f64::NAN, 0.5, given(1.0), "lr"),
            (0.1, -1.0, given(1.0), "gamma"),
            (0.1, 0.5, given(0.0), "c"),
            (0.1, 0.5, CSource::Anchor { lr: 0.05, beta: 1.0 }, "beta"),
            (0.1, 0.5, CSource::DataStatistics { n_train: 0, label_noise: 0.5, sigma_x2: 1.0, kappa: 1.0 }, "n_train"),
            (0.1, 0.5, CSource::DataStatistics { n_train: 9, label_noise: f64::INFINITY, sigma_x2: 1.0, kappa: 1.0 }, "label_noise"),
        ] {
            match MomentumRule::advised(lr, gamma, src) {
                Err(AdviceError::Input { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn out_of_range_beta_says_which_way_to_go() {
        let err = MomentumRule::advised(2.0, OPTIMAL_GAMMA, CSource::Given { c: 1.0 }).unwrap_err().to_string();
        assert!(err.contains("lr <") && !err.contains("lr >"), "{err}");
        let err = MomentumRule::advised(1e-300, OPTIMAL_GAMMA, CSource::Given { c: 1.0 }).unwrap_err().to_string();
        assert!(err.contains("lr >") && !err.contains("lr <"), "{err}");
    }
}
