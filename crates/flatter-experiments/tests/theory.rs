//! The theory experiment end to end at the smoke scale: the finite-difference
//! Jacobian of a real HeavyBall step on every CPU backend, the summary, and
//! C1–C3 present and holding in the report.

#![cfg(feature = "train")]

use std::path::{Path, PathBuf};

use burn::tensor::DType;
use flatter_device::BackendKind;
use flatter_experiments::harness::claims::ClaimKind;
use flatter_experiments::harness::io::read_json;
use flatter_experiments::harness::report::{ClaimRow, write_report};
use flatter_experiments::harness::run_loaded;
use flatter_experiments::theory::train::{fd_jacobian, heavy_ball_step};
use flatter_experiments::theory::{TheoryExp, TheoryExperiment, TheoryRunSummary, TheorySummary};
use flatter_experiments::{Invocation, Scale};
use flatter_optim::{HeavyBallConfig, MomentumRule};
use flatter_theory::spectrum::jacobian;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn experiment() -> TheoryExperiment {
    TheoryExperiment::load(&root().join("experiments/theory.toml")).unwrap()
}

#[test]
fn the_experiment_file_parses_and_its_rules_validate() {
    let exp = experiment();
    exp.rules.validate().unwrap();
    for scale in [Scale::Smoke, Scale::Cpu, Scale::Paper] {
        assert!(exp.scale(scale).runs().len() >= 3, "{scale}");
    }
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("experiments/theory.toml")).unwrap();
    let path = dir.path().join("theory.toml");
    std::fs::write(&path, text.replacen("fd_c = 1.0", "fd_c = 2.0", 1)).unwrap();
    let err = TheoryExperiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("theory.toml") && err.contains("[smoke] fd_c"), "{err}");
    std::fs::write(&path, text.replacen("c1_gamma_tolerance", "c1_gamma_tolerancez", 1)).unwrap();
    let err = TheoryExperiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("c1_gamma_tolerancez"), "{err}");
}

/// One step of the real optimizer is eq. (1), and its finite-difference
/// Jacobian is eq. (8)'s, on every CPU backend in f64 and, looser, in f32.
#[test]
fn one_heavy_ball_step_has_the_eq_8_jacobian_on_every_cpu_backend() {
    let (lr, c, gamma, lambda) = (1e-3, 1.0, 2.0 / 3.0, 3.0);
    let opt = HeavyBallConfig::new(MomentumRule::scaled_with_gamma(c, gamma).unwrap()).build().unwrap();
    let beta = opt.beta(lr).unwrap();
    for kind in BackendKind::compiled_cpu() {
        let device = kind.device().unwrap();
        let [pi, w] = heavy_ball_step(&opt, lr, lambda, [-0.5, 0.25], &device, DType::F64);
        let want_pi = beta * -0.5 - lambda * 0.25;
        assert!((pi - want_pi).abs() < 1e-15 && (w - (0.25 + lr * want_pi)).abs() < 1e-15, "{kind}: {pi} {w}");
        let want = jacobian(lr, beta, lambda);
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let got = fd_jacobian(&opt, lr, lambda, [-0.5, 0.25], 0.5, &device, dtype);
            let err = (0..4).map(|k| (got[k / 2][k % 2] - want[k / 2][k % 2]).abs()).fold(0.0, f64::max);
            assert!(err < tol, "{kind} {dtype:?}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn the_smoke_scale_writes_every_run_and_c1_to_c3_hold_in_the_report() {
    let exp = experiment();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("theory");
    let inv = Invocation::new(Scale::Smoke, &out, BackendKind::DEFAULT.name());
    let summary: TheorySummary = run_loaded::<TheoryExp>(&exp, &inv).unwrap().complete().unwrap();
    for run in exp.scale(Scale::Smoke).runs() {
        let rec: TheoryRunSummary = read_json(&out.join("runs").join(&run.id).join("summary.json")).unwrap();
        assert!(rec.boundary_gamma.is_some() && rec.boundary_error.is_none(), "{}", run.id);
        assert_eq!(rec.dtype, "f64");
    }
    let on_disk: TheorySummary = read_json(&out.join("summary.json")).unwrap();
    assert_eq!(on_disk.header.criteria, summary.header.criteria);
    // The boundary moves toward 1/2 as η shrinks, and matches eq. (8).
    assert!(summary.boundary.windows(2).all(|w| (w[1].fd.unwrap() - 0.5).abs() < (w[0].fd.unwrap() - 0.5).abs()));
    let written = write_report(dir.path()).unwrap();
    let rows: Vec<&ClaimRow> = written.rows.iter().filter(|r| r.experiment == "theory").collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.criterion.id.as_str()).collect();
    assert_eq!(ids, ["C1", "C1", "C2", "C2", "C3", "C3"]);
    for r in &rows {
        assert_eq!((r.criterion.holds, r.criterion.kind, r.scale.as_str()), (Some(true), ClaimKind::Derivation, "smoke"), "{r:?}");
    }
    let back: Vec<ClaimRow> = read_json(&dir.path().join("claims.json")).unwrap();
    assert_eq!(back, written.rows);
}

/// On a backend without f64 (wgpu) the runs use f32 tensors and the rules'
/// f32 tolerances; on flex in f32 they hold too, so that path is tested here.
#[test]
fn f32_tensors_meet_the_f32_rules() {
    let exp = experiment();
    let scale = exp.scale(Scale::Smoke);
    let device = BackendKind::DEFAULT.device().unwrap();
    let runs: Vec<TheoryRunSummary> =
        scale.runs().iter().map(|run| flatter_experiments::theory::train::run_fd(run, &device, DType::F32).unwrap()).collect();
    assert!(runs.iter().all(|r| r.dtype == "f32"));
    let s = flatter_experiments::theory::analyse(Scale::Smoke, scale, &exp.rules, &exp.choices, &runs, "flex").unwrap();
    let c3: Vec<_> = s.header.criteria.iter().filter(|c| c.id == "C3").collect();
    assert!(c3.iter().all(|c| c.holds == Some(true) && c.quantity.contains("f32")), "{c3:#?}");
    assert!(c3[0].tolerance.contains(&format!("{:e}", exp.rules.c3_entry_tolerance_f32)), "{}", c3[0].tolerance);
}
