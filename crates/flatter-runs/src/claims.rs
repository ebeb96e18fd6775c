//! Claims checked against the paper, and the header every experiment's
//! `summary.json` carries so that the report can read any experiment
//! without knowing its internals.

use serde::{Deserialize, Serialize};

use crate::scale::Scale;

/// A claim checked against the paper, as the report prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// Row of PAPER.md §9 (e.g. "C4").
    pub id: String,
    /// What is measured.
    pub quantity: String,
    /// The paper's (or theory's) value.
    pub paper: String,
    /// Our value, when numeric.
    pub measured: Option<f64>,
    /// Its standard error, when known.
    pub uncertainty: Option<f64>,
    /// The tolerance applied.
    pub tolerance: String,
    /// Whether it holds; None when it could not be measured.
    pub holds: Option<bool>,
}

/// A figure of an experiment, relative to its results directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FigureRef {
    /// e.g. `figures/tau_vs_lr_linear.png`.
    pub file: String,
    /// One sentence: what it shows.
    pub caption: String,
}

/// The keys every experiment summary has (other keys are the experiment's own).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryHeader {
    /// e.g. "uv", "matrix-sensing".
    pub experiment: String,
    /// The scale it ran at.
    pub scale: Scale,
    /// What data it used, said plainly (synthetic, real subset, stand-in).
    pub dataset: String,
    /// The checkable claims it measured.
    pub criteria: Vec<Criterion>,
    /// Its figures.
    pub figures: Vec<FigureRef>,
    /// Values we chose where the paper gives none.
    pub choices: Vec<String>,
    /// Gaps and remarks the report must show.
    pub notes: Vec<String>,
    /// Wall time of the training, seconds (summed over shards and resumes).
    pub wall_seconds: f64,
    /// The backend that ran it.
    pub backend: String,
}

/// C of the rule 1 − β* = C·η^(2/3) fitted to (η, 1 − β*) points: the
/// geometric mean of (1 − β*)/η^(2/3), i.e. the least-squares intercept of
/// log(1 − β*) against log η with the slope held at 2/3. None without points.
pub fn c_at_two_thirds(points: &[(f64, f64)]) -> Option<f64> {
    let logs: Vec<f64> = points.iter().filter(|p| p.0 > 0.0 && p.1 > 0.0).map(|(lr, om)| om.ln() - (2.0 / 3.0) * lr.ln()).collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

#[cfg(test)]
mod c_tests {
    /// Points exactly on 1 − β = 0.3·η^(2/3) give C = 0.3; off-rule points give their geometric mean.
    #[test]
    fn c_at_two_thirds_recovers_the_rule() {
        let on: Vec<(f64, f64)> = [0.01, 0.05, 0.2].iter().map(|&lr: &f64| (lr, 0.3 * lr.powf(2.0 / 3.0))).collect();
        assert!((super::c_at_two_thirds(&on).unwrap() - 0.3).abs() < 1e-12);
        let off = [(1.0, 0.2), (1.0, 0.8)];
        assert!((super::c_at_two_thirds(&off).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(super::c_at_two_thirds(&[]), None);
    }
}
