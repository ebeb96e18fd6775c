//! Legitimate outcomes are results, never a stuck experiment (issue 17):
//! runs that diverge are recorded with why, the experiment completes, its
//! summary and figures are written, and `report` reads it. Before, a
//! diverged ResNet run (phase-2 η = 1e30) or a matrix-sensing run whose
//! Hessian trace overflowed wrote `null` where a number belonged, and every
//! later attempt, and `report`, failed on that record.

#![cfg(feature = "train")]

use std::path::Path;

use flatter_device::BackendKind;
use flatter_experiments::harness::{Outcome, Scale, run_loaded};
use flatter_experiments::matrix_sensing::{MsExp, MsExperiment};
use flatter_experiments::resnet::{ResnetExp, ResnetExperiment, ResnetRunSummary};
use flatter_experiments::{Invocation, harness};

fn experiments() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
}

/// Runs `E` twice (the second must find every run complete and analyse
/// again, as a resume would), then `report` over the results root.
fn complete_twice<E: flatter_experiments::Experiment>(file: &E::File, root: &Path) -> E::Summary {
    let inv = Invocation::new(Scale::Smoke, root.join(E::NAME), BackendKind::Flex.name());
    for attempt in 0..2 {
        match run_loaded::<E>(file, &inv).unwrap_or_else(|e| panic!("attempt {attempt}: {e:#}")) {
            Outcome::Complete(s) if attempt == 1 => return s,
            Outcome::Complete(_) => {}
            Outcome::Partial { complete_runs, total_runs } => panic!("partial: {complete_runs} of {total_runs}"),
        }
    }
    unreachable!()
}

#[test]
fn a_diverged_resnet_run_is_recorded_and_the_experiment_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut exp = ResnetExperiment::load(&experiments().join("resnet-cifar.toml")).unwrap();
    let s = &mut exp.smoke;
    s.run_seeds = vec![0];
    s.phase1.total_epochs = 5;
    s.phase1.warmup_epochs = 1;
    s.phase2.c_multipliers = vec![1.0];
    // η = 1e30 diverges in the first step (every run: nothing to fit, the
    // figures say "no data"); C keeps β = 1 − C η^γ at 0.9.
    s.phase2.lrs = vec![1e30];
    s.phase2.c = 0.1 / 1e30_f64.powf(s.phase2.gamma);
    s.phase2.fig4_lr = 1e30;
    let summary = complete_twice::<ResnetExp>(&exp, dir.path());
    let header = &summary.header;
    assert!(!header.criteria.is_empty());
    let diverged: Vec<ResnetRunSummary> = exp
        .smoke
        .runs()
        .iter()
        .filter(|r| r.lr > 1.0)
        .map(|r| harness::io::read_json(&harness::plan::run_summary_path(&dir.path().join("resnet-cifar"), &r.id)).unwrap())
        .collect();
    assert_eq!(diverged.len(), 1);
    assert!(diverged[0].error.as_deref().is_some_and(|e| e.contains("diverged")), "{:?}", diverged[0].error);
    assert!(diverged[0].test_accuracy_projected.is_nan());
    let (_, written) = flatter_experiments::report(dir.path(), &experiments(), "flex").unwrap();
    assert!(written.rows.iter().any(|r| r.experiment == "resnet-cifar" && r.scale == "smoke"));
}

#[test]
fn an_overflowing_matrix_sensing_run_is_recorded_and_the_experiment_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut exp = MsExperiment::load(&experiments().join("matrix-sensing.toml")).unwrap();
    // A start this large overflows the loss and the Hessian trace.
    exp.smoke.init_sigma = 1e200;
    let summary = complete_twice::<MsExp>(&exp, dir.path());
    assert!(summary.diverged > 0, "the runs from the huge start diverge: {}", summary.diverged);
    let text = std::fs::read_to_string(dir.path().join("matrix-sensing/summary.json")).unwrap();
    assert!(!text.is_empty());
    let (_, written) = flatter_experiments::report(dir.path(), &experiments(), "flex").unwrap();
    assert!(written.rows.iter().any(|r| r.experiment == "matrix-sensing" && r.scale == "smoke"));
}
