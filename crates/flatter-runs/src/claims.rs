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
