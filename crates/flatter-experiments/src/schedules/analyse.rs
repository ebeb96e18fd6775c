//! The schedule study's analysis: per arm and cell (schedule × task) the
//! mean and standard error over seeds of each measure, and the paired
//! comparisons B1–B5 judged by the `[rules]` of `experiments/schedules.toml`.
//! A function of the run records alone.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::harness::AnalyseCtx;
use crate::harness::claims::{ClaimKind, Criterion, SummaryHeader};
use crate::schedules::{Arm, LrSchedule, SchedRules, SchedRunSummary, SchedScale, SchedulesExp, Task, figures};

/// A diverged run's final accuracy in the comparisons: chance for 10 classes.
pub const CHANCE: f64 = 0.1;

/// A mean over seeds with its standard error (sample sd / √n).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// The mean, when n ≥ 1.
    #[serde(with = "crate::harness::real::option")]
    pub mean: Option<f64>,
    /// Its standard error, when n ≥ 2.
    #[serde(with = "crate::harness::real::option")]
    pub stderr: Option<f64>,
    /// How many values.
    pub n: usize,
}

impl Stat {
    /// The mean and standard error of `xs`.
    pub fn of(xs: &[f64]) -> Stat {
        let n = xs.len();
        if n == 0 {
            return Stat::default();
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let stderr = (n >= 2).then(|| (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0) / n as f64).sqrt());
        Stat { mean: Some(mean), stderr, n }
    }

    fn text(&self, digits: usize) -> String {
        match (self.mean, self.stderr) {
            (Some(m), Some(se)) => format!("{m:.digits$} ± {se:.digits$}"),
            (Some(m), None) => format!("{m:.digits$}"),
            _ => "-".into(),
        }
    }
}

/// One arm in one cell, over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmStats {
    /// The schedule.
    pub schedule: LrSchedule,
    /// The task.
    pub task: Task,
    /// The arm.
    pub arm: Arm,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds whose loss became non-finite.
    pub diverged: usize,
    /// Final test accuracy (a diverged run counts as [`CHANCE`]).
    pub final_accuracy: Stat,
    /// Epochs to the accuracy target (a run that never reaches it counts as epochs + 1).
    pub epochs_to_target: Stat,
    /// Seeds that reached the target.
    pub reached: usize,
    /// Hutchinson's tr H at the end (diverged runs excluded).
    pub hessian_trace: Stat,
    /// Test accuracy per epoch (epoch 0 first) over the seeds that did not diverge.
    pub curve: Vec<Stat>,
}

/// A measure the comparisons use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Final test accuracy.
    FinalAccuracy,
    /// Epochs to the accuracy target.
    EpochsToTarget,
    /// The Hessian trace at the end.
    HessianTrace,
}

impl Measure {
    fn words(self) -> &'static str {
        match self {
            Measure::FinalAccuracy => "final test accuracy",
            Measure::EpochsToTarget => "epochs to the accuracy target",
            Measure::HessianTrace => "Hessian trace tr H at the end",
        }
    }

    /// The run's value, as the comparisons count it.
    pub fn of(self, r: &SchedRunSummary, scale: &SchedScale) -> Option<f64> {
        match self {
            Measure::FinalAccuracy => Some(if r.diverged { CHANCE } else { r.final_test_accuracy.unwrap_or(CHANCE) }),
            Measure::EpochsToTarget => Some(r.epochs_to_target.map_or(scale.epochs as f64 + 1.0, |e| e as f64)),
            Measure::HessianTrace => r.hessian_trace.filter(|t| t.is_finite() && !r.diverged),
        }
    }
}

/// The comparisons, in id order: (id, measure, arm a, arm b); each measures
/// the mean over seeds of a − b, seed by seed.
pub const COMPARISONS: [(&str, Measure, Arm, Arm); 5] = [
    ("B1", Measure::FinalAccuracy, Arm::RulePeak, Arm::Fixed),
    ("B2", Measure::EpochsToTarget, Arm::RulePeak, Arm::Fixed),
    ("B3", Measure::HessianTrace, Arm::RulePeak, Arm::Fixed),
    ("B4", Measure::FinalAccuracy, Arm::RuleAdvised, Arm::Fixed),
    ("B5", Measure::FinalAccuracy, Arm::Cycled, Arm::RulePeak),
];

/// One paired comparison in one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// B1–B5.
    pub id: String,
    /// The schedule.
    pub schedule: LrSchedule,
    /// The task.
    pub task: Task,
    /// The measure.
    pub measure: Measure,
    /// Arm a.
    pub a: Arm,
    /// Arm b.
    pub b: Arm,
    /// The mean over seeds of a − b, and its paired standard error.
    pub difference: Stat,
    /// Whether |difference| > significance_se × SE; None when fewer than 2 pairs.
    pub differs: Option<bool>,
}

/// What the analysis writes to `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchedSummary {
    /// The keys every summary has.
    #[serde(flatten)]
    pub header: SummaryHeader,
    /// Runs analysed.
    pub runs: usize,
    /// Per arm and cell.
    pub arms: Vec<ArmStats>,
    /// The comparisons B1–B5 per cell.
    pub comparisons: Vec<Comparison>,
    /// The answer in one paragraph, from the comparisons.
    pub answer: String,
}

/// Everything but the header's file-level parts: what the unit tests check.
pub struct SchedAnalysis {
    /// Per arm and cell.
    pub arms: Vec<ArmStats>,
    /// The comparisons.
    pub comparisons: Vec<Comparison>,
    /// The criteria rows.
    pub criteria: Vec<Criterion>,
    /// The answer.
    pub answer: String,
}

fn runs_of<'a>(runs: &'a [SchedRunSummary], s: LrSchedule, t: Task, a: Arm) -> Vec<&'a SchedRunSummary> {
    runs.iter().filter(|r| r.run.schedule == s && r.run.task == t && r.run.arm == a).collect()
}

fn cell_name(s: LrSchedule, t: Task) -> String {
    format!("{}, {}", s.name().replace('_', "-"), if t == Task::Noisy { "label noise" } else { "no label noise" })
}

/// The statistics, comparisons and criteria of a set of run records.
pub fn analyse(scale: &SchedScale, rules: &SchedRules, runs: &[SchedRunSummary]) -> SchedAnalysis {
    let mut arms = Vec::new();
    for &s in &scale.schedules {
        for &t in &scale.tasks {
            for a in scale.arms_for(t) {
                let rs = runs_of(runs, s, t, a);
                let vals = |m: Measure| -> Vec<f64> { rs.iter().filter_map(|r| m.of(r, scale)).collect() };
                let epochs = scale.epochs as usize;
                let curve = (0..=epochs)
                    .map(|e| {
                        let xs: Vec<f64> = rs
                            .iter()
                            .filter(|r| !r.diverged)
                            .filter_map(|r| r.points.iter().find(|p| p.epoch == e as u64).map(|p| p.test_accuracy))
                            .filter(|x| x.is_finite())
                            .collect();
                        Stat::of(&xs)
                    })
                    .collect();
                arms.push(ArmStats {
                    schedule: s,
                    task: t,
                    arm: a,
                    seeds: rs.len(),
                    diverged: rs.iter().filter(|r| r.diverged).count(),
                    final_accuracy: Stat::of(&vals(Measure::FinalAccuracy)),
                    epochs_to_target: Stat::of(&vals(Measure::EpochsToTarget)),
                    reached: rs.iter().filter(|r| r.epochs_to_target.is_some()).count(),
                    hessian_trace: Stat::of(&vals(Measure::HessianTrace)),
                    curve,
                });
            }
        }
    }
    let mut comparisons = Vec::new();
    let mut criteria = Vec::new();
    for (id, measure, a, b) in COMPARISONS {
        for &s in &scale.schedules {
            for &t in &scale.tasks {
                let arms_here = scale.arms_for(t);
                if !arms_here.contains(&a) || !arms_here.contains(&b) {
                    continue;
                }
                let (ra, rb) = (runs_of(runs, s, t, a), runs_of(runs, s, t, b));
                let diffs: Vec<f64> = ra
                    .iter()
                    .filter_map(|x| {
                        let y = rb.iter().find(|y| y.run.seed == x.run.seed)?;
                        Some(measure.of(x, scale)? - measure.of(y, scale)?)
                    })
                    .collect();
                let difference = Stat::of(&diffs);
                let differs = match (difference.mean, difference.stderr) {
                    (Some(m), Some(se)) => Some(m.abs() > rules.significance_se * se),
                    _ => None,
                };
                let diverged = ra.iter().chain(&rb).filter(|r| r.diverged).count();
                let mut tolerance = format!(
                    "differs when |mean a − b| > {} paired SE over {} seeds (experiments/schedules.toml [rules])",
                    rules.significance_se, difference.n
                );
                if diverged > 0 {
                    tolerance.push_str(&format!(
                        "; {diverged} of {} runs diverged{}",
                        ra.len() + rb.len(),
                        match measure {
                            Measure::FinalAccuracy => " and count as chance, 0.1",
                            Measure::EpochsToTarget => " and count as never reaching the target",
                            Measure::HessianTrace => " and are left out",
                        }
                    ));
                }
                if differs.is_none() {
                    tolerance.push_str("; fewer than 2 seed pairs: not judged");
                }
                // Accuracy differences are read in percentage points.
                let unit = if measure == Measure::FinalAccuracy { 100.0 } else { 1.0 };
                criteria.push(Criterion {
                    id: id.into(),
                    quantity: format!(
                        "{}{} [{}]: {} − {}; ± is the paired standard error over the seeds; \"yes\" means the two differ",
                        measure.words(),
                        if measure == Measure::FinalAccuracy { " (percentage points)" } else { "" },
                        cell_name(s, t),
                        a.label(scale),
                        b.label(scale)
                    ),
                    paper: "not in the paper (an open question it leaves)".into(),
                    measured: difference.mean.map(|d| unit * d),
                    uncertainty: difference.stderr.map(|se| unit * se),
                    tolerance,
                    holds: differs,
                    kind: ClaimKind::Empirical,
                    theory: None,
                });
                comparisons.push(Comparison { id: id.into(), schedule: s, task: t, measure, a, b, difference, differs });
            }
        }
    }
    let answer = answer(scale, rules, &comparisons);
    SchedAnalysis { arms, comparisons, criteria, answer }
}

/// The answer to "does the rule help under my schedule?", from B1, B2 and B3.
fn answer(scale: &SchedScale, rules: &SchedRules, comparisons: &[Comparison]) -> String {
    let of = |id: &str| comparisons.iter().filter(|c| c.id == id).collect::<Vec<_>>();
    let describe = |id: &str, what: &str, better_is_lower: bool, scale_by: f64, unit: &str| -> String {
        let cs = of(id);
        let judged: Vec<&Comparison> = cs.iter().copied().filter(|c| c.differs.is_some()).collect();
        let (better, worse): (Vec<&Comparison>, Vec<&Comparison>) = judged
            .iter()
            .copied()
            .filter(|c| c.differs == Some(true))
            .partition(|c| (c.difference.mean.unwrap_or(0.0) < 0.0) == better_is_lower);
        let cells = |v: &[&Comparison]| v.iter().map(|c| cell_name(c.schedule, c.task)).collect::<Vec<_>>().join("; ");
        let diffs: Vec<f64> = judged.iter().filter_map(|c| c.difference.mean).map(|d| scale_by * d).collect();
        let (lo, hi) = diffs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &d| (l.min(d), h.max(d)));
        let mut s = format!(
            "{what}: the rule is better in {} of {} cells, worse in {}, and within {} SE in {}",
            better.len(),
            judged.len(),
            worse.len(),
            rules.significance_se,
            judged.len() - better.len() - worse.len()
        );
        if !diffs.is_empty() {
            s.push_str(&format!(" (rule − fixed from {lo:+.2} to {hi:+.2}{unit})"));
        }
        if !better.is_empty() {
            s.push_str(&format!(" (better: {})", cells(&better)));
        }
        if !worse.is_empty() {
            s.push_str(&format!(" (worse: {})", cells(&worse)));
        }
        s
    };
    format!(
        "Against fixed β = {} at the same peak η = {} ({} epochs, {} seeds per cell): {}. {}. {} (lower trace = flatter).",
        scale.fixed_beta,
        scale.peak_lr,
        scale.epochs,
        scale.run_seeds.len(),
        describe("B1", "Final test accuracy", false, 100.0, " points"),
        describe("B2", "Epochs to the accuracy target", true, 1.0, " epochs"),
        describe("B3", "Hessian trace at the end", true, 1.0, "")
    )
}

/// The per-arm table `details` prints and the report's notes carry.
pub fn table(summary: &SchedSummary) -> String {
    arm_table(&summary.arms)
}

fn arm_table(arms: &[ArmStats]) -> String {
    let mut s = String::new();
    writeln!(s, "{:<26} {:<13} {:>17} {:>17} {:>7} {:>17} {:>4}", "cell", "arm", "final accuracy", "epochs to target", "reached", "tr H", "div").expect("writing to a String");
    for a in arms {
        writeln!(
            s,
            "{:<26} {:<13} {:>17} {:>17} {:>7} {:>17} {:>4}",
            cell_name(a.schedule, a.task),
            a.arm.name(),
            a.final_accuracy.text(4),
            a.epochs_to_target.text(2),
            format!("{}/{}", a.reached, a.seeds),
            a.hessian_trace.text(1),
            a.diverged
        )
        .expect("writing to a String");
    }
    s
}

/// The summary, figures included, from the run records.
pub fn summarise(ctx: &AnalyseCtx<'_, SchedulesExp>, runs: Vec<SchedRunSummary>) -> anyhow::Result<SchedSummary> {
    let scale = ctx.scale;
    let analysis = analyse(scale, &ctx.file.rules, &runs);
    let mut summary = SchedSummary {
        header: SummaryHeader {
            experiment: "schedules".into(),
            scale: ctx.scale_name,
            dataset: format!(
                "Fashion-MNIST: {} training images ({} per class), {} test images",
                scale.train_size(),
                scale.train_per_class,
                10 * scale.test_per_class
            ),
            criteria: analysis.criteria,
            figures: Vec::new(),
            choices: ctx.file.choices.clone(),
            notes: Vec::new(),
            wall_seconds: runs.iter().map(|r| r.wall_seconds).sum(),
            backend: ctx.backend.to_string(),
        },
        runs: runs.len(),
        arms: analysis.arms,
        comparisons: analysis.comparisons,
        answer: analysis.answer,
    };
    let notes = &mut summary.header.notes;
    notes.push(format!("**The answer.** {}", summary.answer));
    notes.push(format!("Rules fixed before the runs: {}", ctx.file.rules.fixed));
    for l in &ctx.file.left_out {
        notes.push(format!("Left out at this scale: {l}"));
    }
    let diverged: Vec<&str> = runs.iter().filter(|r| r.diverged).map(|r| r.run.id.as_str()).collect();
    if !diverged.is_empty() {
        notes.push(format!("{} runs diverged (non-finite loss): {}", diverged.len(), diverged.join(", ")));
    }
    notes.push(format!(
        "Per arm and cell, mean ± standard error over the seeds (a diverged run counts as chance, 0.1, in final accuracy, and as never reaching the target; tr H leaves it out):\n\n```\n{}```",
        arm_table(&summary.arms)
    ));
    summary.header.figures = figures::write_figures(&summary, scale, ctx.out)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedules::{EpochPoint, SchedRun};

    fn scale() -> SchedScale {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/schedules.toml");
        let mut s = crate::schedules::SchedExperiment::load(&path).unwrap().cpu;
        s.run_seeds = vec![0, 1, 2, 3, 4];
        s
    }

    fn rules() -> SchedRules {
        SchedRules { fixed: "test".into(), significance_se: 2.0 }
    }

    /// A deterministic noise in [−1, 1] per (seed, salt).
    fn noise(seed: u64, salt: u64) -> f64 {
        let mut h = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        (h as f64 / u64::MAX as f64) * 2.0 - 1.0
    }

    /// Runs whose final accuracy is `acc(arm) + amp·noise(seed)`, the same
    /// noise for every arm of a seed (as common random numbers give), plus
    /// `own·noise(seed, arm)` of independent noise.
    fn synthetic(scale: &SchedScale, acc: impl Fn(Arm) -> f64, amp: f64, own: f64) -> Vec<SchedRunSummary> {
        scale
            .runs()
            .into_iter()
            .map(|run: SchedRun| {
                let a = acc(run.arm) + amp * noise(run.seed, 0) + own * noise(run.seed, run.arm as u64 + 1);
                SchedRunSummary {
                    points: (0..=scale.epochs)
                        .map(|e| EpochPoint { epoch: e, lr: 0.1, beta: 0.9, train_loss: 0.5, test_accuracy: a * e as f64 / scale.epochs as f64 })
                        .collect(),
                    final_test_accuracy: Some(a),
                    epochs_to_target: (a >= scale.accuracy_target).then_some(scale.epochs),
                    hessian_trace: Some(100.0 * a),
                    hessian_trace_stderr: Some(1.0),
                    diverged: false,
                    wall_seconds: 1.0,
                    run,
                }
            })
            .collect()
    }

    /// The positive control: the rule 0.01 better than fixed β, with seed
    /// noise 10× larger that is shared by the arms, is found in every cell
    /// (the paired SE removes the shared part), with the right sign.
    #[test]
    fn a_real_difference_is_found_in_every_cell() {
        let scale = scale();
        let runs = synthetic(&scale, |a| if a == Arm::RulePeak { 0.86 } else { 0.85 }, 0.1, 0.001);
        let an = analyse(&scale, &rules(), &runs);
        let b1: Vec<&Comparison> = an.comparisons.iter().filter(|c| c.id == "B1").collect();
        assert_eq!(b1.len(), scale.schedules.len() * scale.tasks.len());
        for c in &b1 {
            assert_eq!(c.differs, Some(true), "{c:?}");
            assert!((c.difference.mean.unwrap() - 0.01).abs() < 0.002, "{c:?}");
        }
        assert!(an.answer.contains(&format!("Final test accuracy: the rule is better in {} of {} cells", b1.len(), b1.len())), "{}", an.answer);
        // The rows are the paper-independent ids, never C-ids.
        assert!(an.criteria.iter().all(|c| c.id.starts_with('B')));
    }

    /// The null control: arms that differ only by independent seed noise are
    /// judged "differs" in few cells (at 2 SE, 5 seeds: about 1 in 10 by chance).
    #[test]
    fn no_effect_rarely_differs() {
        let scale = scale();
        let mut flagged = 0;
        let mut total = 0;
        for salt in 0..20u64 {
            let runs: Vec<SchedRunSummary> = synthetic(&scale, |_| 0.85, 0.0, 0.0)
                .into_iter()
                .map(|mut r| {
                    let a = 0.85 + 0.01 * noise(r.run.seed + 100 * salt, r.run.arm as u64 + 7 * r.run.schedule as u64 + 31 * r.run.task as u64);
                    r.final_test_accuracy = Some(a);
                    r
                })
                .collect();
            let an = analyse(&scale, &rules(), &runs);
            for c in an.comparisons.iter().filter(|c| c.id == "B1") {
                total += 1;
                flagged += usize::from(c.differs == Some(true));
            }
        }
        assert!(flagged as f64 / (total as f64) < 0.2, "{flagged} of {total} null comparisons flagged");
    }

    /// A worse rule is reported as worse, and diverged runs count as chance
    /// in accuracy and are named in the tolerance.
    #[test]
    fn worse_and_diverged_are_reported_as_such() {
        let scale = scale();
        let mut runs = synthetic(&scale, |a| if a == Arm::RulePeak { 0.80 } else { 0.85 }, 0.05, 0.001);
        for r in runs.iter_mut().filter(|r| r.run.arm == Arm::RuleAdvised) {
            r.diverged = true;
            r.final_test_accuracy = None;
            r.hessian_trace = None;
        }
        let an = analyse(&scale, &rules(), &runs);
        assert!(an.answer.contains("better in 0 of") && an.answer.contains("worse in"), "{}", an.answer);
        let b4 = an.criteria.iter().find(|c| c.id == "B4").unwrap();
        // Chance (0.1) against about 0.85 ± the seed noise (0.05).
        assert!((b4.measured.unwrap() - 100.0 * (CHANCE - 0.85)).abs() < 6.0 && b4.holds == Some(true), "{b4:?} (percentage points)");
        assert!(b4.tolerance.contains("diverged and count as chance"), "{}", b4.tolerance);
        let advised = an.arms.iter().find(|a| a.arm == Arm::RuleAdvised).unwrap();
        assert_eq!(advised.diverged, advised.seeds);
        assert_eq!(advised.hessian_trace.n, 0);
    }
}
