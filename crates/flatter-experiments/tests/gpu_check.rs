//! The GPU check's CPU dry run (issue 15): the very command a GPU machine
//! runs, at tiny sizes with ndarray standing in for the GPU backends, so the
//! check cannot rot while no GPU is around. It also holds the check's
//! negative control: a reference that is off by more than the tolerance
//! must fail the check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flatter_experiments::gpu_check::{GpuCheck, RECORD_FILE, Reference, TOLERANCE, render};

const BIN: &str = env!("CARGO_BIN_EXE_flatter-experiment");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gpu_check(args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(root())
        .arg("gpu-check")
        .args(args)
        // No PyTorch on purpose: the rows must say why they are empty.
        .args(["--python", "/nonexistent/python"])
        .output()
        .expect("spawning flatter-experiment")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn the_dry_run_checks_ndarray_against_a_shipped_flex_reference_and_prices_the_paper_grid() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.json");
    // As the pack does: the reference is written first, in its own process.
    let wrote = gpu_check(&["--dry-run", "--write-reference", reference.to_str().unwrap()]);
    // `--write-reference` conflicts with `--dry-run`: the sizes of the
    // correctness check are the same in both, so it needs no dry-run flag.
    assert!(!wrote.status.success(), "{}", text(&wrote));
    let wrote = gpu_check(&["--write-reference", reference.to_str().unwrap()]);
    assert!(wrote.status.success(), "{}", text(&wrote));
    let out = dir.path().join("out");
    let run = gpu_check(&["--dry-run", "--reference", reference.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run));

    let check = GpuCheck::read(&out.join(RECORD_FILE)).unwrap();
    assert!(check.dry_run && check.backends == ["ndarray"], "{check:?}");
    // Two CPU backends agree far inside the GPU tolerance, on both models.
    assert_eq!(check.correctness.len(), 2, "{check:?}");
    for a in &check.correctness {
        assert!(a.passed && a.loss_rel_err <= TOLERANCE && a.param_rel_err < 1e-4, "{a:?}");
    }
    assert_eq!(check.correctness.iter().map(|a| a.model.as_str()).collect::<Vec<_>>(), ["mlp", "resnet18"]);
    assert_eq!(check.correctness[0].steps, 5);
    // Every throughput row has a number for ndarray and a reason for PyTorch.
    for r in check.resnet.iter().chain(&check.mlp) {
        match r.backend.as_str() {
            "ndarray" => assert!(r.per_second.is_some_and(|v| v > 0.0), "{r:?}"),
            "pytorch" => assert!(r.per_second.is_none() && r.error.as_deref().is_some_and(|e| e.contains("/nonexistent/python")), "{r:?}"),
            other => panic!("unexpected backend {other}"),
        }
    }
    assert_eq!(check.resnet.len(), 4, "two batches, ndarray and PyTorch");
    // The slice ran the phase-2 step and priced the paper's 84-run grid.
    assert_eq!(check.slices.len(), 1);
    assert!(check.slices[0].steps > 0 && check.slices[0].train_images_per_s > 0.0, "{:?}", check.slices[0]);
    assert_eq!(check.estimates.len(), 1);
    assert_eq!(check.estimates[0].runs, 84);
    assert!(check.estimates[0].total_hours > check.estimates[0].phase1_hours, "{:?}", check.estimates[0]);
    assert!(check.errors.is_empty(), "{:?}", check.errors);
    // The report says what it is.
    let md = render(&check, "gpu-check.json");
    assert!(md.contains("**A dry run**") && md.contains("| ndarray | mlp |") && md.contains("| ndarray | 84 |"), "{md}");

    // Negative control: one MLP loss moved by twice the tolerance must fail
    // the check (and the command), and leave the ResNet row passing.
    let mut bad: Reference = serde_json::from_str(&std::fs::read_to_string(&reference).unwrap()).unwrap();
    bad.traces[0].losses[3] *= 1.0 + 2.0 * TOLERANCE;
    let bad_path = dir.path().join("bad.json");
    std::fs::write(&bad_path, serde_json::to_string(&bad).unwrap()).unwrap();
    let out_bad = dir.path().join("out-bad");
    let failed = gpu_check(&["--dry-run", "--reference", bad_path.to_str().unwrap(), "--out", out_bad.to_str().unwrap()]);
    assert!(!failed.status.success(), "{}", text(&failed));
    let check = GpuCheck::read(&out_bad.join(RECORD_FILE)).unwrap();
    let mlp = &check.correctness[0];
    assert!(!mlp.passed && (mlp.loss_rel_err - 2.0 * TOLERANCE).abs() < 1e-4, "{mlp:?}");
    assert!(check.correctness[1].passed, "{:?}", check.correctness[1]);
}

#[test]
fn a_budget_that_is_spent_skips_the_stages_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = gpu_check(&["--dry-run", "--budget-seconds", "0.001", "--out", out.to_str().unwrap()]);
    // Correctness always runs (it is what the check is for); everything
    // timed after it is skipped and recorded, so the command fails.
    assert!(!run.status.success(), "{}", text(&run));
    let check = GpuCheck::read(&out.join(RECORD_FILE)).unwrap();
    assert_eq!(check.correctness.len(), 2);
    assert!(check.slices.is_empty() && check.resnet.iter().all(|r| r.backend == "pytorch"), "{check:?}");
    assert!(check.errors.iter().any(|e| e.contains("ndarray: slice: skipped")), "{:?}", check.errors);
}

#[test]
fn a_backend_that_is_not_compiled_in_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let run = gpu_check(&["--backend", "cuda", "--out", dir.path().to_str().unwrap()]);
    if cfg!(feature = "cuda") {
        return;
    }
    assert!(!run.status.success());
    assert!(text(&run).contains("--features cuda"), "{}", text(&run));
    assert!(!dir.path().join(RECORD_FILE).exists());
}
