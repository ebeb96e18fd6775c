//! The schedule study (issue 16) at the smoke scale on the real
//! Fashion-MNIST, end to end: every run's records, the analysis with its
//! B rows, the figures, determinism across two clean runs, and each run's
//! β following its schedule's η by its arm's rule. Never touches the network.

#![cfg(feature = "train")]

use std::path::Path;

use flatter_device::BackendKind;
use flatter_experiments::Invocation;
use flatter_experiments::harness::io::read_json;
use flatter_experiments::harness::{Options, Scale};
use flatter_experiments::schedules::{Arm, SchedExperiment, SchedRunSummary, SchedSummary, SchedulesExp};

fn experiment() -> SchedExperiment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/schedules.toml");
    SchedExperiment::load(&path).unwrap()
}

fn run(exp: &SchedExperiment, out: &Path) -> SchedSummary {
    let mut inv = Invocation::new(Scale::Smoke, out, BackendKind::DEFAULT.name());
    inv.opts = Options::default();
    flatter_experiments::harness::run_loaded::<SchedulesExp>(exp, &inv).unwrap().complete().unwrap()
}

#[test]
fn smoke_scale_end_to_end_and_deterministic() {
    let exp = experiment();
    let scale = exp.scale(Scale::Smoke).clone();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let summary = run(&exp, a.path());
    let runs = scale.runs();
    assert_eq!(summary.runs, runs.len());
    // Every comparison B1–B5 in every cell where both arms ran, never a C id.
    let cells = scale.schedules.len() * scale.tasks.len();
    assert_eq!(summary.header.criteria.len(), 3 * cells + cells + scale.schedules.len());
    assert!(summary.header.criteria.iter().all(|c| c.id.starts_with('B')));
    assert!(summary.header.notes.iter().any(|n| n.starts_with("**The answer.**")));
    for f in &summary.header.figures {
        assert!(a.path().join(&f.file).is_file(), "{}", f.file);
    }
    let mut records = Vec::new();
    for r in &runs {
        let rec: SchedRunSummary = read_json(&a.path().join("runs").join(&r.id).join("summary.json")).unwrap();
        assert_eq!(rec.points.len() as u64, scale.epochs + 1, "{}", r.id);
        // β at each epoch end is the arm's rule at that step's η.
        for p in &rec.points {
            assert!((p.beta - r.rule.beta(p.lr).unwrap()).abs() < 1e-15, "{}: {p:?}", r.id);
        }
        if !rec.diverged {
            assert!(rec.hessian_trace.is_some_and(|t| t.is_finite()), "{}", r.id);
        }
        records.push(rec);
    }
    // The rule's β rises as the cosine schedule decays η; fixed β does not move.
    let of = |arm: Arm| records.iter().find(|r| r.run.arm == arm && r.run.schedule == scale.schedules[0]).unwrap();
    let rule = &of(Arm::RulePeak).points;
    assert!(rule.last().unwrap().lr < rule[1].lr && rule.last().unwrap().beta > rule[1].beta, "{rule:?}");
    assert!(of(Arm::Fixed).points.iter().all(|p| p.beta == scale.fixed_beta));
    // Arms of one seed start from the same weights.
    let start = |arm: Arm, seed: u64| records.iter().find(|r| r.run.arm == arm && r.run.seed == seed).unwrap().points[0].test_accuracy;
    assert_eq!(start(Arm::Fixed, scale.run_seeds[0]), start(Arm::Sgd, scale.run_seeds[0]));
    // A second clean run gives the same records, bit for bit (timings aside).
    let again = run(&exp, b.path());
    assert_eq!(again.comparisons, summary.comparisons);
    for r in &records {
        let other: SchedRunSummary = read_json(&b.path().join("runs").join(&r.run.id).join("summary.json")).unwrap();
        // As JSON, where the NaN of epoch 0's loss reads "NaN" on both sides.
        let json = |x: SchedRunSummary| serde_json::to_string(&SchedRunSummary { wall_seconds: 0.0, ..x }).unwrap();
        assert_eq!(json(other), json(r.clone()), "{}", r.run.id);
    }
}
