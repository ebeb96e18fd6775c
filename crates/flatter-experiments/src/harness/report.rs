//! The report: every checkable claim of the paper (C1–C15, our numbering) beside our measured
//! value, from the summaries on disk (`results/REPORT.md` and
//! `results/claims.json`).
//!
//! The report reads only the [`SummaryHeader`] of each experiment's
//! `summary.json`, so an experiment plugs in by writing that header. Rows
//! that no experiment measured stay in the table as "not run".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::harness::claims::{ClaimKind, Criterion, SummaryHeader, fmt_value};
use crate::harness::io::{IoError, read_json, write_atomic, write_json};

/// A checkable claim of the paper, as the paper states it.
#[derive(Clone, Copy, Debug)]
pub struct PaperClaim {
    /// "C1" … "C15".
    pub id: &'static str,
    /// The experiment that measures it (its results directory name).
    pub experiment: &'static str,
    /// The quantity.
    pub quantity: &'static str,
    /// The paper's value.
    pub paper: &'static str,
    /// The tolerance we apply.
    pub tolerance: &'static str,
}

/// The paper's checkable claims, C1–C15.
pub const PAPER_CLAIMS: [PaperClaim; 15] = [
    PaperClaim { id: "C1", experiment: "theory", quantity: "optimal exponent γ* in 1−β = Cη^γ", paper: "2/3", tolerance: "experiments/theory.toml [rules]" },
    PaperClaim { id: "C2", experiment: "theory", quantity: "convergence-time exponent a(γ) = max(γ, 2−2γ)", paper: "η^(−2/3) at γ = 2/3; η^(−2) at fixed β", tolerance: "experiments/theory.toml [rules]" },
    PaperClaim { id: "C3", experiment: "theory", quantity: "zero-mode eigenvalues; spectrum type (eq. 8)", paper: "{1, β}; real for γ < 1/2, complex with |μ| = √β for γ > 1/2", tolerance: "experiments/theory.toml [rules]" },
    PaperClaim { id: "C4", experiment: "uv", quantity: "fitted a(γ), τ ∝ η^(−a), linear UV", paper: "2−2γ (γ<2/3), γ (γ>2/3)", tolerance: "±0.1 (γ ≤ 1/2), ±0.25 (γ ≥ 2/3)" },
    PaperClaim { id: "C5", experiment: "uv", quantity: "argmin over γ of τ at small η, linear UV", paper: "≈ 2/3", tolerance: "in [0.55, 0.8]" },
    PaperClaim { id: "C6", experiment: "uv", quantity: "fitted C / C*, linear UV", paper: "consistent", tolerance: "within a factor 2" },
    PaperClaim { id: "C7", experiment: "uv", quantity: "optimal γ and C, tanh and ReLU UV", paper: "2/3; close to C*", tolerance: "as C5–C6" },
    PaperClaim { id: "C8", experiment: "uv", quantity: "drift rate at small η, γ < 2/3 (eq. 126)", paper: "η²ε²σ_x²κ²/(n(1−β)²) per step", tolerance: "within 10%" },
    PaperClaim { id: "C9", experiment: "matrix-sensing", quantity: "β-dependence of speed; epoch-wise double descent", paper: "non-monotonic with an optimum; double descent", tolerance: "qualitative" },
    PaperClaim { id: "C10", experiment: "matrix-sensing", quantity: "C_opt (γ = 2/3) vs bound (135)", paper: "C_opt ≤ bound", tolerance: "C_opt ≤ (ε²⟨A²⟩d/n)^(1/3)" },
    PaperClaim { id: "C11", experiment: "resnet-cifar", quantity: "phase 1: epochs to 100% train accuracy", paper: "1119", tolerance: "within the schedule" },
    PaperClaim { id: "C12", experiment: "resnet-cifar", quantity: "slope of log(1−β*) vs log η", paper: "≈ 2/3", tolerance: "0.67 ± 0.15 over ≥ 3 η" },
    PaperClaim { id: "C13", experiment: "resnet-cifar", quantity: "β* at the reference η₀", paper: "0.9", tolerance: "[0.85, 0.95] if η₀ known; else report C" },
    PaperClaim { id: "C14", experiment: "resnet-cifar", quantity: "phase-2 test accuracy vs epoch", paper: "dip, then rise above baseline; fastest on the rule", tolerance: "qualitative" },
    PaperClaim { id: "C15", experiment: "mlp-fashion", quantity: "slope of log(1−β*) vs log η", paper: "consistent with 2/3", tolerance: "0.67 ± 0.2" },
];

/// One row of `claims.json`: a criterion (flattened, so its keys stand at
/// the top level of the row) and where it was measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimRow {
    /// "C1" … "C15" (a claim of the paper), the quantity, the paper's value,
    /// ours (null when qualitative or not run), its uncertainty, the tolerance
    /// and whether it holds (null when not run or not measurable).
    #[serde(flatten)]
    pub criterion: Criterion,
    /// The experiment.
    pub experiment: String,
    /// The scale it was measured at, or "not run".
    pub scale: String,
    /// The data it was measured on.
    pub dataset: String,
    /// A question beyond the paper (ids B1… of the `schedules` experiment),
    /// not one of the paper's claims C1–C15: listed apart, never counted
    /// in the paper's headline.
    #[serde(default)]
    pub beyond_paper: bool,
}

/// Whether `id` is one of the paper's claims C1–C15.
pub fn is_paper_claim(id: &str) -> bool {
    PAPER_CLAIMS.iter().any(|p| p.id == id)
}

/// What the report found for one experiment.
#[derive(Clone, Debug)]
pub enum ExperimentStatus {
    /// Its summary, with its directory.
    Done(SummaryHeader),
    /// Its `summary.json` does not read (why); rerunning the experiment
    /// rewrites it.
    Unreadable(String),
    /// A process is writing it now (training, or shards): no summary yet.
    InProgress {
        /// Runs with a summary on disk.
        runs_complete: usize,
    },
    /// Some runs exist but no summary: the run set is incomplete.
    Incomplete {
        /// Runs complete on disk.
        runs_complete: usize,
    },
    /// Nothing under `results/<experiment>/`.
    Absent,
}

/// Reads `<results>/<experiment>/summary.json` for every experiment.
pub fn collect(results: &Path) -> Result<Vec<(String, ExperimentStatus)>, IoError> {
    let mut out = Vec::new();
    for name in crate::REGISTRY.iter().map(|e| e.name) {
        let dir = results.join(name);
        let summary = dir.join("summary.json");
        let runs_complete = || {
            std::fs::read_dir(dir.join("runs"))
                .map(|it| it.flatten().filter(|e| e.path().join("summary.json").exists()).count())
                .unwrap_or(0)
        };
        let status = if summary.exists() {
            match read_json::<SummaryHeader>(&summary) {
                Ok(h) => ExperimentStatus::Done(h),
                Err(e) => ExperimentStatus::Unreadable(e.to_string()),
            }
        } else if crate::harness::plan::being_written(&dir) {
            ExperimentStatus::InProgress { runs_complete: runs_complete() }
        } else if dir.join("runs").is_dir() {
            ExperimentStatus::Incomplete { runs_complete: runs_complete() }
        } else {
            ExperimentStatus::Absent
        };
        out.push((name.to_string(), status));
    }
    Ok(out)
}

/// The claims table in §9 order: every criterion an experiment measured for
/// a row (some rows have several, e.g. C4 per γ), or one "not run" row.
pub fn claim_rows(experiments: &[(String, ExperimentStatus)]) -> Vec<ClaimRow> {
    let mut rows = Vec::new();
    for p in &PAPER_CLAIMS {
        let found: Vec<(&Criterion, &SummaryHeader)> = experiments
            .iter()
            .filter_map(|(name, st)| match st {
                ExperimentStatus::Done(h) if name == p.experiment => Some(h),
                _ => None,
            })
            .flat_map(|h| h.criteria.iter().filter(|c| c.id == p.id).map(move |c| (c, h)))
            .collect();
        if found.is_empty() {
            rows.push(ClaimRow {
                criterion: Criterion {
                    id: p.id.into(),
                    quantity: p.quantity.into(),
                    paper: p.paper.into(),
                    measured: None,
                    uncertainty: None,
                    tolerance: p.tolerance.into(),
                    holds: None,
                    // The theory rows are derivations whether or not they ran;
                    // a row nobody measured is otherwise counted as empirical.
                    kind: if p.experiment == "theory" { ClaimKind::Derivation } else { ClaimKind::default() },
                    ..Default::default()
                },
                experiment: p.experiment.into(),
                scale: "not run".into(),
                dataset: "-".into(),
                beyond_paper: false,
            });
        }
        for (c, header) in found {
            let mut criterion = Criterion { id: p.id.into(), ..c.clone() };
            criterion.settle();
            rows.push(ClaimRow {
                criterion,
                experiment: p.experiment.into(),
                scale: header.scale.to_string(),
                dataset: header.dataset.clone(),
                beyond_paper: false,
            });
        }
    }
    // Then the questions beyond the paper, in registry order: every criterion
    // whose id is not a paper claim.
    for (name, st) in experiments {
        let ExperimentStatus::Done(h) = st else { continue };
        for c in h.criteria.iter().filter(|c| !is_paper_claim(&c.id)) {
            let mut criterion = c.clone();
            criterion.settle();
            rows.push(ClaimRow { criterion, experiment: name.clone(), scale: h.scale.to_string(), dataset: h.dataset.clone(), beyond_paper: true });
        }
    }
    rows
}

/// How far from theory, in standard errors, a measurement must be for the
/// report to say so even when it is inside the tolerance.
pub const SIGMA_FLAG: f64 = 3.0;

/// The Markdown "holds" cell: the criterion's word, a failure in bold, and
/// a measurement more than [`SIGMA_FLAG`] standard errors from theory said.
fn holds_cell(c: &Criterion, beyond_paper: bool) -> String {
    // A question beyond the paper compares two arms: "no" is a null result, not a failure.
    if beyond_paper {
        return match c.holds {
            Some(true) => "yes: they differ".into(),
            Some(false) => "no: within the rule".into(),
            None => "n/a".into(),
        };
    }
    let word = if c.holds == Some(false) { "**no**".to_string() } else { c.holds_word().to_string() };
    match c.sigmas_from_theory() {
        Some(z) if z > SIGMA_FLAG => format!("{word} ({z:.1} SE from theory)"),
        _ => word,
    }
}

/// Held, failed and not measured, among the empirical rows of the paper's
/// claims only (rows beyond the paper are counted apart).
pub fn empirical_counts(rows: &[ClaimRow]) -> (usize, usize, usize) {
    let empirical = rows.iter().filter(|r| r.criterion.kind == ClaimKind::Empirical && !r.beyond_paper);
    let held = empirical.clone().filter(|r| r.criterion.holds == Some(true)).count();
    let failed = empirical.clone().filter(|r| r.criterion.holds == Some(false)).count();
    (held, failed, empirical.count() - held - failed)
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The cells kind | quantity | paper | measured | ± | tolerance | holds of a criterion.
fn criterion_cells(c: &Criterion, beyond_paper: bool) -> String {
    format!(
        "{} | {} | {} | {} | {} | {} | {}",
        c.kind.word(),
        md_escape(&c.quantity),
        md_escape(&c.paper),
        fmt_value(c.measured),
        fmt_value(c.uncertainty),
        md_escape(&c.tolerance),
        holds_cell(c, beyond_paper)
    )
}

/// The claims table in Markdown.
pub fn claims_table_markdown(rows: &[ClaimRow]) -> String {
    let mut s = String::new();
    writeln!(s, "| # | experiment | kind | quantity | paper | measured | ± | tolerance | holds | scale | data |").unwrap();
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|").unwrap();
    for r in rows {
        let c = &r.criterion;
        writeln!(s, "| {} | {} | {} | {} | {} |", c.id, r.experiment, criterion_cells(c, r.beyond_paper), r.scale, md_escape(&r.dataset)).unwrap();
    }
    s
}

/// The whole `REPORT.md`; figure links are relative to the results root.
pub fn render(experiments: &[(String, ExperimentStatus)], rows: &[ClaimRow]) -> String {
    let mut s = String::new();
    writeln!(s, "# flatter: the paper's claims beside our measurements\n").unwrap();
    writeln!(
        s,
        "Generated by `cargo xtask report` from the summaries under this directory. \
         Each row is a checkable claim of the paper (C1–C15, our numbering): its kind, the paper's value, ours with its standard error, \
         the rule it is judged by (fixed in the experiment file before the runs), whether it holds, and the scale and data it was measured on. \
         \"n/a\" means not measurable at that scale, or not run. A measurement more than {SIGMA_FLAG} standard errors from theory's value \
         says so in its \"holds\" cell even when it is inside the tolerance.\n\n\
         Rows are of three kinds, and only the third is evidence about the paper's claims: \
         **derivations** are the theory's identities, checked numerically as consistency checks; \
         **pipeline checks** show that a protocol runs end to end at a stand-in scale that cannot test the claim; \
         **empirical** rows are measurements that could have come out otherwise.\n"
    )
    .unwrap();
    let (held, failed, open) = empirical_counts(rows);
    let (paper, beyond): (Vec<ClaimRow>, Vec<ClaimRow>) = rows.iter().cloned().partition(|r| !r.beyond_paper);
    let other = paper.len() - held - failed - open;
    writeln!(
        s,
        "**Empirical claims: {held} hold, {failed} do not, {open} not measured at this scale or not run** \
         (of {} empirical rows; {other} further rows are derivations and pipeline checks, not counted).\n",
        held + failed + open
    )
    .unwrap();
    s.push_str(&claims_table_markdown(&paper));
    if !beyond.is_empty() {
        let differ = beyond.iter().filter(|r| r.criterion.holds == Some(true)).count();
        let judged = beyond.iter().filter(|r| r.criterion.holds.is_some()).count();
        writeln!(
            s,
            "\n## Beyond the paper\n\n\
             Questions the paper leaves open, answered by our own experiments with criteria fixed in their experiment files before the runs. \
             Their ids (B1, B2, …) are not the paper's claims and are not counted above. \
             Each row compares two arms; \"yes\" in its \"holds\" cell means they differ by the stated rule, \"no\" that they do not (a null result). \
             **{differ} of {judged} judged comparisons differ.** The experiment's section below states the answer in words.\n"
        )
        .unwrap();
        s.push_str(&claims_table_markdown(&beyond));
    }
    for (name, status) in experiments {
        writeln!(s, "\n## {name}\n").unwrap();
        match status {
            ExperimentStatus::Absent => writeln!(s, "Not run: no `{name}/` in this results directory.").unwrap(),
            ExperimentStatus::Unreadable(why) => writeln!(
                s,
                "Unreadable summary: {why}. Its claims are not counted; rerun the experiment (its complete runs are kept) to rewrite it."
            )
            .unwrap(),
            ExperimentStatus::InProgress { runs_complete } => writeln!(
                s,
                "In progress: a process is writing `{name}/` now ({runs_complete} runs complete so far); \
                 run `report` again when it has finished."
            )
            .unwrap(),
            ExperimentStatus::Incomplete { runs_complete } => writeln!(
                s,
                "Incomplete: {runs_complete} runs are complete but there is no summary yet \
                 (other shards still running, or the run was interrupted; rerun the same command to resume)."
            )
            .unwrap(),
            ExperimentStatus::Done(h) => {
                writeln!(s, "Scale `{}`, data: {}. Training time {:.0} s (the jobs' times summed, so parallel workers count twice) on `{}`.\n", h.scale, h.dataset, h.wall_seconds, h.backend)
                    .unwrap();
                let mut crit = h.criteria.clone();
                crit.sort_by_key(|c| c.id.trim_start_matches('C').parse::<u32>().unwrap_or(u32::MAX));
                if !crit.is_empty() {
                    writeln!(s, "| # | kind | quantity | paper | measured | ± | tolerance | holds |\n|---|---|---|---|---|---|---|---|").unwrap();
                    for c in &crit {
                        writeln!(s, "| {} | {} |", c.id, criterion_cells(c, !is_paper_claim(&c.id))).unwrap();
                    }
                    s.push('\n');
                }
                for n in &h.notes {
                    writeln!(s, "- {n}").unwrap();
                }
                if !h.notes.is_empty() {
                    s.push('\n');
                }
                for f in &h.figures {
                    writeln!(s, "![{}]({name}/{})\n\n*{}*\n", md_escape(&f.caption), f.file, f.caption).unwrap();
                }
                if !h.choices.is_empty() {
                    writeln!(s, "Our choices where the paper gives no value:\n").unwrap();
                    for c in &h.choices {
                        writeln!(s, "- {c}").unwrap();
                    }
                }
            }
        }
    }
    s
}

/// Writes `<results>/REPORT.md` and `<results>/claims.json`; returns their paths.
pub fn write_report(results: &Path) -> Result<Written, IoError> {
    let experiments = collect(results)?;
    let rows = claim_rows(&experiments);
    let md = results.join("REPORT.md");
    let json = results.join("claims.json");
    write_json(&json, &rows)?;
    write_atomic(&md, render(&experiments, &rows).as_bytes())?;
    Ok(Written { md, json, rows })
}

/// What [`write_report`] wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// `REPORT.md`.
    pub md: PathBuf,
    /// `claims.json`.
    pub json: PathBuf,
    /// Its rows.
    pub rows: Vec<ClaimRow>,
}

impl Written {
    /// One line per claim row (id, experiment, measured, holds, scale), then
    /// where the report is: what a terminal shows after a run.
    pub fn terminal(&self) -> String {
        let mut s = String::new();
        for r in &self.rows {
            let c = &r.criterion;
            let word = match (r.beyond_paper, c.holds) {
                (true, Some(true)) => "differs",
                (true, Some(false)) => "same",
                _ => c.holds_word(),
            };
            writeln!(s, "{:<4} {:<15} {:<10} {:<7} {}", c.id, r.experiment, fmt_value(c.measured), word, r.scale)
                .expect("writing to a String");
        }
        writeln!(s, "report: {} and {}", self.md.display(), self.json.display()).expect("writing to a String");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::scale::Scale;

    /// The headline counts empirical rows only: a derivation or a pipeline
    /// check that holds is not evidence about the paper's claims.
    #[test]
    fn the_headline_counts_empirical_rows_only() {
        let row = |id: &str, kind: ClaimKind, holds: Option<bool>| ClaimRow {
            criterion: Criterion { id: id.into(), holds, kind, ..Default::default() },
            experiment: "x".into(),
            scale: "cpu".into(),
            dataset: "-".into(),
            beyond_paper: false,
        };
        let rows = vec![
            row("C1", ClaimKind::Derivation, Some(true)),
            row("C11", ClaimKind::Pipeline, Some(true)),
            row("C12", ClaimKind::Empirical, None),
            row("C15", ClaimKind::Empirical, Some(false)),
            row("C4", ClaimKind::Empirical, Some(true)),
        ];
        assert_eq!(empirical_counts(&rows), (1, 1, 1));
        let text = render(&[], &rows);
        assert!(text.contains("Empirical claims: 1 hold, 1 do not, 1 not measured"), "{text}");
        assert!(text.contains("2 further rows are derivations and pipeline checks"), "{text}");
    }

    /// A measurement more than 3 standard errors from theory says so, even
    /// inside its tolerance; within 3 it does not.
    #[test]
    fn a_measurement_far_from_theory_is_flagged() {
        let c = |m: f64| Criterion { measured: Some(m), uncertainty: Some(0.01), theory: Some(0.8), holds: Some(true), ..Default::default() };
        assert_eq!(holds_cell(&c(0.75), false), "yes (5.0 SE from theory)");
        assert_eq!(holds_cell(&c(0.78), false), "yes");
        assert_eq!(holds_cell(&Criterion { uncertainty: None, ..c(0.5) }, false), "yes");
    }

    /// A criterion whose id is not a paper claim (B1 of `schedules`) is a
    /// row beyond the paper: after C1–C15, in its own section, never in the
    /// paper's headline.
    #[test]
    fn rows_beyond_the_paper_are_listed_apart_and_not_counted() {
        let header = |experiment: &str, criteria: Vec<Criterion>| SummaryHeader {
            experiment: experiment.into(),
            scale: Scale::Cpu,
            dataset: "d".into(),
            criteria,
            figures: vec![],
            choices: vec![],
            notes: vec![],
            wall_seconds: 1.0,
            backend: "flex".into(),
        };
        let c = |id: &str, holds| Criterion { id: id.into(), holds: Some(holds), measured: Some(0.01), uncertainty: Some(0.001), ..Default::default() };
        let experiments = vec![
            ("mlp-fashion".to_string(), ExperimentStatus::Done(header("mlp-fashion", vec![c("C15", false)]))),
            ("schedules".to_string(), ExperimentStatus::Done(header("schedules", vec![c("B1", true), c("B2", false)]))),
        ];
        let rows = claim_rows(&experiments);
        assert_eq!(rows.len(), 17);
        assert!(rows[..15].iter().all(|r| !r.beyond_paper));
        assert_eq!(rows[15].criterion.id, "B1");
        assert!(rows[15].beyond_paper && rows[16].beyond_paper && rows[15].experiment == "schedules");
        assert_eq!(empirical_counts(&rows), (0, 1, 11), "B rows are not counted with the paper's claims");
        let text = render(&experiments, &rows);
        let beyond = text.find("## Beyond the paper").expect("a section beyond the paper");
        assert!(text.contains("**1 of 2 judged comparisons differ.**"), "{text}");
        assert!(text.contains("| yes: they differ |") && text.contains("| no: within the rule |"), "a null result is not bold: {text}");
        let first_table = &text[..beyond];
        assert!(!first_table.contains("| B1 |"), "the paper's table holds no B rows");
        assert!(text[beyond..].contains("| B1 | schedules |"), "{text}");
    }

    #[test]
    fn every_paper_row_appears_once_in_order_when_nothing_ran() {
        let rows = claim_rows(&[]);
        let ids: Vec<String> = rows.iter().map(|r| r.criterion.id.clone()).collect();
        let want: Vec<String> = (1..=15).map(|i| format!("C{i}")).collect();
        assert_eq!(ids, want);
        assert!(rows.iter().all(|r| r.criterion.measured.is_none() && r.criterion.holds.is_none() && r.scale == "not run"));
        // C1–C3 come from the theory experiment's summary like every other row.
        assert!(rows[..3].iter().all(|r| r.experiment == "theory"));
    }

    #[test]
    fn a_summary_header_fills_its_rows_and_the_report_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let header = SummaryHeader {
            experiment: "uv".into(),
            scale: Scale::Smoke,
            dataset: "synthetic".into(),
            criteria: vec![Criterion {
                id: "C5".into(),
                quantity: "argmin".into(),
                paper: "2/3".into(),
                measured: Some(0.7),
                uncertainty: Some(0.01),
                tolerance: "[0.55, 0.8]".into(),
                holds: Some(true),
                ..Default::default()
            }],
            figures: vec![crate::harness::claims::FigureRef { file: "figures/a.png".into(), caption: "A | B".into() }],
            choices: vec!["d = 5".into()],
            notes: vec![],
            wall_seconds: 1.0,
            backend: "flex".into(),
        };
        write_json(&dir.path().join("uv/summary.json"), &header).unwrap();
        std::fs::create_dir_all(dir.path().join("matrix-sensing/runs/r1")).unwrap();
        std::fs::write(dir.path().join("matrix-sensing/runs/r1/summary.json"), "{}").unwrap();
        let Written { md, json, rows } = write_report(dir.path()).unwrap();
        let c5 = rows.iter().find(|r| r.criterion.id == "C5").unwrap();
        assert_eq!((c5.criterion.measured, c5.criterion.holds, c5.scale.as_str()), (Some(0.7), Some(true), "smoke"));
        let text = std::fs::read_to_string(md).unwrap();
        assert!(text.contains("](uv/figures/a.png)") && text.contains("A \\| B"), "{text}");
        assert!(text.contains("Incomplete: 1 runs"), "{text}");
        let back: Vec<ClaimRow> = read_json(&json).unwrap();
        assert_eq!(back, rows);
        let keys: Vec<String> = serde_json::from_str::<Vec<serde_json::Map<String, serde_json::Value>>>(
            &std::fs::read_to_string(dir.path().join("claims.json")).unwrap(),
        )
        .unwrap()[0]
            .keys()
            .cloned()
            .collect();
        for k in ["id", "experiment", "quantity", "paper", "measured", "uncertainty", "tolerance", "holds", "scale", "dataset"] {
            assert!(keys.contains(&k.to_string()), "claims.json lacks {k}");
        }
    }
}
