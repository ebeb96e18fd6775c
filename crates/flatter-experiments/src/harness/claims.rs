//! Claims checked against the paper, and the header every experiment's
//! `summary.json` carries so that the report can read any experiment
//! without knowing its internals.

use serde::{Deserialize, Serialize};

use crate::harness::scale::Scale;

/// What kind of evidence a row is. The report's headline counts only
/// [`ClaimKind::Empirical`] rows: a derivation cannot fail on data, and a
/// pipeline check at a stand-in scale does not test the paper's claim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimKind {
    /// A theory identity checked numerically (C1–C3): a consistency check.
    Derivation,
    /// The pipeline ran and produced what the claim needs, at a scale that
    /// cannot test the claim itself (e.g. C11 at a stand-in scale).
    Pipeline,
    /// A measurement on data that could have come out otherwise.
    #[default]
    Empirical,
}

impl ClaimKind {
    /// The word the report prints.
    pub fn word(self) -> &'static str {
        match self {
            ClaimKind::Derivation => "derivation",
            ClaimKind::Pipeline => "pipeline check",
            ClaimKind::Empirical => "empirical",
        }
    }
}

/// A claim checked against the paper, as the report prints it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// Our id of the paper's claim, C1–C15 in the report's order (e.g. "C4").
    pub id: String,
    /// What is measured.
    pub quantity: String,
    /// The paper's (or theory's) value.
    pub paper: String,
    /// Our value, when numeric.
    #[serde(with = "crate::harness::real::option")]
    pub measured: Option<f64>,
    /// Its standard error, when known.
    #[serde(with = "crate::harness::real::option")]
    pub uncertainty: Option<f64>,
    /// The tolerance applied.
    pub tolerance: String,
    /// Whether it holds; None when it could not be measured.
    pub holds: Option<bool>,
    /// Derivation, pipeline check or empirical claim.
    #[serde(default)]
    pub kind: ClaimKind,
    /// Theory's numeric value, when there is one: the report flags a
    /// measurement more than 3 standard errors from it even when it is
    /// inside the tolerance.
    #[serde(default, with = "crate::harness::real::option")]
    pub theory: Option<f64>,
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

impl Criterion {
    /// How many standard errors the measurement lies from theory's value,
    /// when all three are known and the standard error is positive.
    pub fn sigmas_from_theory(&self) -> Option<f64> {
        match (self.measured, self.uncertainty, self.theory) {
            (Some(m), Some(se), Some(t)) if se > 0.0 && m.is_finite() => Some((m - t).abs() / se),
            _ => None,
        }
    }

    /// A NaN or infinite measurement (or uncertainty) is no measurement: it
    /// cannot hold or fail, whatever a comparison with NaN computed. `holds`
    /// becomes `None` and the tolerance says why (issue 17: a NaN used to
    /// print as "–" beside a verdict computed from it). The harness settles
    /// every criterion before a summary is written, and the report again
    /// when it reads one.
    pub fn settle(&mut self) {
        let bad = |x: Option<f64>| x.is_some_and(|x| !x.is_finite());
        if (bad(self.measured) || bad(self.uncertainty)) && self.holds.is_some() {
            self.holds = None;
            self.tolerance = format!("{} (not judged: the measurement is not finite)", self.tolerance);
        }
    }

    /// "yes", "NO" or "n/a": whether it holds, in one word.
    pub fn holds_word(&self) -> &'static str {
        match self.holds {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "n/a",
        }
    }
}

/// A measured value or its uncertainty as every table prints it: three
/// decimals, scientific notation outside [1e-3, 1e4), "–" when absent.
pub fn fmt_value(x: Option<f64>) -> String {
    match x {
        None => "–".into(),
        Some(x) if x.is_nan() => "NaN".into(),
        Some(x) if x.is_infinite() => if x > 0.0 { "inf".into() } else { "-inf".into() },
        Some(0.0) => "0".into(),
        Some(x) if x.abs() < 1e-3 || x.abs() >= 1e4 => format!("{x:.2e}"),
        Some(x) => format!("{x:.3}"),
    }
}

/// Criteria as a plain-text table: the one terminal rendering of a
/// [`Criterion`] (the report renders the same cells as Markdown).
pub fn table(criteria: &[Criterion]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    writeln!(s, "{:<4} {:<70} {:>10} {:>8} {:<26} holds", "id", "quantity", "measured", "± se", "tolerance").expect("writing to a String");
    for c in criteria {
        let q: String = c.quantity.chars().take(70).collect();
        writeln!(s, "{:<4} {:<70} {:>10} {:>8} {:<26} {}", c.id, q, fmt_value(c.measured), fmt_value(c.uncertainty), c.tolerance, c.holds_word())
            .expect("writing to a String");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: a NaN measurement printed as "–" beside a verdict computed
    /// from the NaN. Settled, it prints as NaN and is not judged; a finite
    /// measurement keeps its verdict.
    #[test]
    fn a_non_finite_measurement_is_not_judged() {
        let mut c = Criterion { measured: Some(f64::NAN), holds: Some(false), tolerance: "|x| < 1".into(), ..Default::default() };
        c.settle();
        assert_eq!((c.holds, c.holds_word()), (None, "n/a"));
        assert!(c.tolerance.contains("not finite"), "{}", c.tolerance);
        assert!(table(&[c]).contains("NaN"));
        let mut inf_se = Criterion { measured: Some(1.0), uncertainty: Some(f64::INFINITY), holds: Some(true), ..Default::default() };
        inf_se.settle();
        assert_eq!(inf_se.holds, None);
        assert_eq!(fmt_value(Some(f64::NEG_INFINITY)), "-inf");
        let mut fine = Criterion { measured: Some(0.5), uncertainty: Some(0.1), holds: Some(true), tolerance: "t".into(), ..Default::default() };
        fine.settle();
        assert_eq!((fine.holds, fine.tolerance.as_str()), (Some(true), "t"));
    }
}

