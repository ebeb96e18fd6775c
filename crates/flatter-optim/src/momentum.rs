//! The momentum scaling rule, eq. (2): `1 − β = C η^γ`.
//!
//! β is a pure function of the raw learning rate η (the `lr` Burn passes to
//! every step), not of the effective rate η/(1−β). γ = 2/3 balances the
//! mixing time τ₁ = 1/(1−β) against the drift time τ₂ ∝ η^{2γ−2} (eq. 9–10),
//! which is the paper's optimum. A fixed β (γ = 0 in effect) is the baseline.

use serde::{Deserialize, Serialize};

/// The exponent γ = 2/3 at which τ₁ and τ₂ scale alike, the paper's optimum.
pub const OPTIMAL_GAMMA: f64 = 2.0 / 3.0;

/// How the momentum β is obtained at each step.
///
/// ```
/// use flatter_optim::MomentumRule;
/// // The rule through β = 0.9 at η = 0.05; a schedule that decays η to
/// // 0.005 raises β to 1 − 0.1·0.1^(2/3) ≈ 0.978.
/// let rule = MomentumRule::scaled_through(0.05, 0.9, 2.0 / 3.0)?;
/// assert!((rule.beta(0.05)? - 0.9).abs() < 1e-12);
/// assert!((rule.beta(0.005)? - (1.0 - 0.1 * 0.1f64.powf(2.0 / 3.0))).abs() < 1e-12);
/// // The baseline: β = 0.9 whatever η.
/// assert_eq!(MomentumRule::fixed(0.9)?.beta(0.005)?, 0.9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MomentumRule {
    /// `β(η) = 1 − C η^γ`, recomputed from the learning rate of every step.
    Scaled {
        /// The prefactor C > 0.
        c: f64,
        /// The exponent γ ≥ 0; 2/3 is optimal.
        gamma: f64,
    },
    /// A constant β in [0, 1), whatever the learning rate.
    Fixed {
        /// The momentum β.
        beta: f64,
    },
    /// The one-cycle policy's momentum as a function of the learning rate
    /// (Smith's one-cycle; PyTorch's `OneCycleLR(cycle_momentum=True)`):
    /// β = β_max − (β_max − β_min)·min(η/η_peak, 1), i.e. linear in η, from
    /// β_max as η → 0 to β_min at the peak. It raises β as η falls, like the
    /// rule, but linearly in η rather than as 1 − Cη^(2/3). PyTorch anneals
    /// β between the same ends with the same phase as η, so under its
    /// `OneCycleLR` this equals PyTorch's β up to its floors η_peak/25 and
    /// η_peak/(25·10⁴), where PyTorch's β is exactly β_max and ours is within
    /// (β_max − β_min)/25 of it. Not a rule of the paper: the baseline users know.
    Cycled {
        /// β at the peak learning rate (PyTorch's `base_momentum`, 0.85).
        beta_min: f64,
        /// β as η → 0 (PyTorch's `max_momentum`, 0.95).
        beta_max: f64,
        /// The schedule's peak learning rate; above it β stays β_min.
        peak_lr: f64,
    },
}

/// A hyperparameter outside its allowed range. The message names the field,
/// the value and the range, so a config error can be fixed from it alone.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// A field outside its range.
    #[error("{field} = {value} is out of range: expected {expected}")]
    OutOfRange {
        /// The field's name as it appears in configs (`c`, `gamma`, `beta`, `lr`).
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// The allowed range, in words.
        expected: &'static str,
    },
    /// C and η are each valid but give a β outside [0, 1).
    #[error(
        "c = {c} with gamma = {gamma} and lr = {lr} gives beta = 1 - c*lr^gamma = {beta}, outside [0, 1): \
         lower c or lr so that c*lr^gamma <= 1"
    )]
    BetaOutOfRange {
        /// The prefactor.
        c: f64,
        /// The exponent.
        gamma: f64,
        /// The learning rate.
        lr: f64,
        /// The β this gives.
        beta: f64,
    },
}

fn check(field: &'static str, value: f64, ok: bool, expected: &'static str) -> Result<(), RuleError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(RuleError::OutOfRange { field, value, expected })
    }
}

impl MomentumRule {
    /// The scaling rule with exponent γ = 2/3.
    pub fn scaled(c: f64) -> Result<Self, RuleError> {
        Self::scaled_with_gamma(c, OPTIMAL_GAMMA)
    }

    /// The scaling rule `1 − β = C η^γ` with an explicit exponent.
    pub fn scaled_with_gamma(c: f64, gamma: f64) -> Result<Self, RuleError> {
        let rule = MomentumRule::Scaled { c, gamma };
        rule.validate()?;
        Ok(rule)
    }

    /// The one-cycle momentum, linear in η between `beta_max` (η → 0) and
    /// `beta_min` (η ≥ `peak_lr`); see [`MomentumRule::Cycled`].
    ///
    /// ```
    /// use flatter_optim::MomentumRule;
    /// // PyTorch's OneCycleLR defaults: β = 0.85 at the peak, 0.95 as η → 0.
    /// let rule = MomentumRule::cycled(0.85, 0.95, 0.1)?;
    /// assert_eq!(rule.beta(0.1)?, 0.85);
    /// assert!((rule.beta(0.05)? - 0.90).abs() < 1e-12);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cycled(beta_min: f64, beta_max: f64, peak_lr: f64) -> Result<Self, RuleError> {
        let rule = MomentumRule::Cycled { beta_min, beta_max, peak_lr };
        rule.validate()?;
        Ok(rule)
    }

    /// A constant momentum β ∈ [0, 1).
    pub fn fixed(beta: f64) -> Result<Self, RuleError> {
        let rule = MomentumRule::Fixed { beta };
        rule.validate()?;
        Ok(rule)
    }

    /// The rule that gives momentum `beta` at learning rate `lr` with exponent γ:
    /// C = (1 − β)/η^γ. Useful to anchor the rule at a known-good point, e.g. β = 0.9.
    pub fn scaled_through(lr: f64, beta: f64, gamma: f64) -> Result<Self, RuleError> {
        check_lr(lr)?;
        check("beta", beta, (0.0..1.0).contains(&beta), "0 <= beta < 1")?;
        Self::scaled_with_gamma((1.0 - beta) / lr.powf(gamma), gamma)
    }

    /// Checks the rule's own fields: C > 0, γ ≥ 0; or β ∈ [0, 1); or
    /// 0 ≤ β_min ≤ β_max < 1 and η_peak > 0.
    pub fn validate(&self) -> Result<(), RuleError> {
        match *self {
            MomentumRule::Scaled { c, gamma } => {
                check("c", c, c > 0.0, "c > 0")?;
                check("gamma", gamma, gamma >= 0.0, "gamma >= 0")
            }
            MomentumRule::Fixed { beta } => check("beta", beta, (0.0..1.0).contains(&beta), "0 <= beta < 1"),
            MomentumRule::Cycled { beta_min, beta_max, peak_lr } => {
                check("beta_min", beta_min, (0.0..1.0).contains(&beta_min), "0 <= beta_min < 1")?;
                check("beta_max", beta_max, (beta_min..1.0).contains(&beta_max), "beta_min <= beta_max < 1")?;
                check("peak_lr", peak_lr, peak_lr > 0.0, "peak_lr > 0")
            }
        }
    }

    /// β at learning rate `lr`. Errors when η ≤ 0 or β falls outside [0, 1).
    pub fn beta(&self, lr: f64) -> Result<f64, RuleError> {
        self.validate()?;
        check_lr(lr)?;
        match *self {
            MomentumRule::Fixed { beta } => Ok(beta),
            MomentumRule::Cycled { beta_min, beta_max, peak_lr } => Ok(beta_max - (beta_max - beta_min) * (lr / peak_lr).min(1.0)),
            MomentumRule::Scaled { c, gamma } => {
                let one_minus_beta = c * lr.powf(gamma);
                let beta = 1.0 - one_minus_beta;
                // β = 1 exactly (1−β underflows) would freeze the mixing time at infinity.
                if !(0.0..1.0).contains(&beta) || one_minus_beta <= 0.0 {
                    return Err(RuleError::BetaOutOfRange { c, gamma, lr, beta });
                }
                Ok(beta)
            }
        }
    }

    /// The effective learning rate η/(1−β): the step under a constant gradient
    /// once the momentum has saturated.
    pub fn effective_lr(&self, lr: f64) -> Result<f64, RuleError> {
        Ok(effective_lr(lr, self.beta(lr)?))
    }

    /// The mixing time τ₁ = 1/(1−β) in steps.
    pub fn mixing_time(&self, lr: f64) -> Result<f64, RuleError> {
        Ok(1.0 / (1.0 - self.beta(lr)?))
    }

    /// Checks that every learning rate in `[lr_min, lr_max]` gives a valid β,
    /// e.g. the range an LR schedule will visit. β(η) is monotone, so the ends suffice.
    pub fn validate_lr_range(&self, lr_min: f64, lr_max: f64) -> Result<(), RuleError> {
        self.beta(lr_min)?;
        self.beta(lr_max)?;
        Ok(())
    }
}

fn check_lr(lr: f64) -> Result<(), RuleError> {
    check("lr", lr, lr > 0.0, "lr > 0")
}

/// The effective learning rate η/(1−β).
pub fn effective_lr(lr: f64, beta: f64) -> f64 {
    lr / (1.0 - beta)
}

// The rule's timescales in the paper's linearised model (Sec. 1.1, 2, App. B),
// pure f64; flatter-theory re-exports them and tests them against simulation.

/// The momentum of the scaling rule (2), β = 1 − C η^γ.
pub fn beta_from_rule(lr: f64, c: f64, gamma: f64) -> f64 {
    1.0 - c * lr.powf(gamma)
}

/// The mixing time τ₁ = 1/(1 − β) in steps (Sec. 1.1): the relaxation time of
/// the momentum and of the mixed longitudinal mode.
pub fn tau1(beta: f64) -> f64 {
    1.0 / (1.0 - beta)
}

/// The predicted decay rate per step of ‖u‖² + ‖v‖² in the vector UV model,
/// κ² η² ε² σ_x² / (n (1 − β)²), from eq. (126) (twice the rate of the vector
/// (u, v) itself). The per-sample loss is (κ/2)(f − y)²: κ = 1 for the
/// paper's L = (1/2n) Σᵢ (fᵢ − yᵢ)², κ = 2 for mean-reduced MSE; label noise
/// y + εξ then enters every rate as κ²ε².
///
/// `sigma_x2` is the dataset variance σ_x² = (1/n) Σᵢ xᵢ² of the drawn inputs,
/// not the population variance.
pub fn drift_rate(lr: f64, beta: f64, eps: f64, sigma_x2: f64, n: usize, kappa: f64) -> f64 {
    let one_minus_beta = 1.0 - beta;
    kappa * kappa * lr * lr * eps * eps * sigma_x2 / (n as f64 * one_minus_beta * one_minus_beta)
}

/// The drift time τ₂ = n (1 − β)² / (κ² η² ε² σ_x²) of eq. (9), in steps: the
/// e-folding time of ‖u‖² + ‖v‖², the inverse of [`drift_rate`].
pub fn tau2(lr: f64, beta: f64, eps: f64, sigma_x2: f64, n: usize, kappa: f64) -> f64 {
    1.0 / drift_rate(lr, beta, eps, sigma_x2, n, kappa)
}

/// The optimal prefactor C* = (κ² ε² σ_x² / n)^{1/3} of eq. (10): with
/// 1 − β = C* η^{2/3}, τ₁ = τ₂ at every learning rate.
pub fn c_star(eps: f64, sigma_x2: f64, n: usize, kappa: f64) -> f64 {
    (kappa * kappa * eps * eps * sigma_x2 / n as f64).cbrt()
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_follows_the_rule() {
        let rule = MomentumRule::scaled(0.5).unwrap();
        for lr in [1e-4, 1e-3, 0.01, 0.1, 1.0] {
            let beta = rule.beta(lr).unwrap();
            assert!((1.0 - beta - 0.5 * lr.powf(2.0 / 3.0)).abs() < 1e-15);
        }
    }

    #[test]
    fn beta_rises_toward_one_as_lr_shrinks() {
        let rule = MomentumRule::scaled(1.0).unwrap();
        let betas: Vec<f64> = [0.5, 0.1, 0.01, 0.001].iter().map(|&lr| rule.beta(lr).unwrap()).collect();
        assert!(betas.windows(2).all(|w| w[0] < w[1]), "{betas:?}");
        assert!(betas.iter().all(|b| (0.0..1.0).contains(b)));
    }

    #[test]
    fn fixed_ignores_lr() {
        let rule = MomentumRule::fixed(0.9).unwrap();
        assert_eq!(rule.beta(1e-3).unwrap(), 0.9);
        assert_eq!(rule.beta(0.7).unwrap(), 0.9);
    }

    #[test]
    fn effective_lr_is_lr_over_one_minus_beta() {
        let rule = MomentumRule::scaled(2.0).unwrap();
        let lr: f64 = 0.008; // η^{2/3} = 0.04, 1 − β = 0.08
        assert!((rule.effective_lr(lr).unwrap() - 0.1).abs() < 1e-12);
        assert!((rule.mixing_time(lr).unwrap() - 12.5).abs() < 1e-9);
        // With γ = 2/3 the effective rate is η^{1/3}/C.
        assert!((rule.effective_lr(lr).unwrap() - lr.powf(1.0 / 3.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn scaled_through_hits_the_anchor() {
        let rule = MomentumRule::scaled_through(0.05, 0.9, OPTIMAL_GAMMA).unwrap();
        assert!((rule.beta(0.05).unwrap() - 0.9).abs() < 1e-12);
        let MomentumRule::Scaled { c, .. } = rule else { panic!() };
        assert!((c - 0.1 / 0.05f64.powf(2.0 / 3.0)).abs() < 1e-12);
    }

    fn message(err: RuleError) -> String {
        err.to_string()
    }

    #[test]
    fn bad_hyperparameters_name_the_field_and_range() {
        let cases = [
            (MomentumRule::scaled(0.0).unwrap_err(), "c = 0", "c > 0"),
            (MomentumRule::scaled(-1.0).unwrap_err(), "c = -1", "c > 0"),
            (MomentumRule::scaled(f64::NAN).unwrap_err(), "c = NaN", "c > 0"),
            (MomentumRule::scaled_with_gamma(1.0, -0.1).unwrap_err(), "gamma = -0.1", "gamma >= 0"),
            (MomentumRule::fixed(1.0).unwrap_err(), "beta = 1", "0 <= beta < 1"),
            (MomentumRule::fixed(-0.5).unwrap_err(), "beta = -0.5", "0 <= beta < 1"),
            (MomentumRule::scaled(1.0).unwrap().beta(0.0).unwrap_err(), "lr = 0", "lr > 0"),
            (MomentumRule::scaled(1.0).unwrap().beta(-0.1).unwrap_err(), "lr = -0.1", "lr > 0"),
            (MomentumRule::fixed(0.5).unwrap().beta(f64::INFINITY).unwrap_err(), "lr = inf", "lr > 0"),
        ];
        for (err, field, range) in cases {
            let msg = message(err);
            assert!(msg.contains(field) && msg.contains(range), "{msg:?} should name {field:?} and {range:?}");
        }
    }

    #[test]
    fn c_and_lr_that_push_beta_below_zero_are_rejected() {
        let rule = MomentumRule::scaled(2.0).unwrap();
        let msg = message(rule.beta(1.0).unwrap_err());
        assert!(msg.contains("beta = 1 - c*lr^gamma = -1") && msg.contains("[0, 1)"), "{msg}");
        assert!(rule.validate_lr_range(1e-3, 1.0).is_err());
        assert!(rule.validate_lr_range(1e-3, 0.1).is_ok());
    }

    #[test]
    fn cycled_is_linear_in_lr_between_its_ends() {
        let rule = MomentumRule::cycled(0.85, 0.95, 0.1).unwrap();
        assert!((rule.beta(0.1).unwrap() - 0.85).abs() < 1e-15);
        assert!((rule.beta(0.05).unwrap() - 0.90).abs() < 1e-15);
        assert!((rule.beta(0.025).unwrap() - 0.925).abs() < 1e-15);
        assert_eq!(rule.beta(0.3).unwrap(), 0.85, "above the peak β stays β_min");
        assert!((rule.beta(1e-9).unwrap() - 0.95).abs() < 1e-9);
        // PyTorch's OneCycleLR (div_factor 25): at η_peak/25 its β is exactly
        // 0.95; ours is within (β_max − β_min)/25 of it.
        assert!((rule.beta(0.1 / 25.0).unwrap() - 0.95).abs() <= 0.1 / 25.0 + 1e-15);
        // Monotone, so the ends of a range validate it.
        assert!(rule.validate_lr_range(1e-8, 10.0).is_ok());
        for (err, field) in [
            (MomentumRule::cycled(0.9, 0.85, 0.1).unwrap_err(), "beta_max = 0.85"),
            (MomentumRule::cycled(-0.1, 0.9, 0.1).unwrap_err(), "beta_min = -0.1"),
            (MomentumRule::cycled(0.85, 1.0, 0.1).unwrap_err(), "beta_max = 1"),
            (MomentumRule::cycled(0.85, 0.95, 0.0).unwrap_err(), "peak_lr = 0"),
        ] {
            assert!(message(err).contains(field), "{field}");
        }
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(json, r#"{"kind":"cycled","beta_min":0.85,"beta_max":0.95,"peak_lr":0.1}"#);
        assert_eq!(serde_json::from_str::<MomentumRule>(&json).unwrap(), rule);
    }

    #[test]
    fn beta_that_rounds_to_one_is_rejected() {
        let rule = MomentumRule::scaled_with_gamma(1.0, 2.0).unwrap();
        assert!(matches!(rule.beta(1e-10), Err(RuleError::BetaOutOfRange { .. })));
    }
}
