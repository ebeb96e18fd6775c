//! The UV experiment end to end at the smoke scale, and the experiment file's validity.

#![cfg(feature = "train")]

use std::path::{Path, PathBuf};

use flatter_device::BackendKind;
use flatter_experiments::harness::io::read_json;
use flatter_experiments::harness::run_loaded;
use flatter_experiments::uv::{UvExp, UvExperiment, UvRunSummary, UvSummary};
use flatter_experiments::{Invocation, Scale};

/// The workspace root (experiments/ lives there).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn experiment() -> UvExperiment {
    UvExperiment::load(&root().join("experiments/uv.toml")).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flatter-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_experiment_file_parses_and_every_scale_validates() {
    let exp = experiment();
    for scale in [Scale::Smoke, Scale::Cpu, Scale::Paper] {
        assert!(!exp.scale(scale).runs().is_empty(), "{scale}");
    }
    // The cpu scale is the one the issue sizes: 3 activations, >= 6 γ, >= 5 η, >= 2 seeds,
    // >= 3 data draws, and a C sweep around C* on the two smallest η.
    let cpu = exp.scale(Scale::Cpu);
    assert!(cpu.activations.len() == 3 && cpu.gammas.len() >= 6 && cpu.lrs.len() >= 5 && cpu.noise_seeds >= 2);
    assert!(cpu.data_seeds.len() >= 3);
    let mut lrs = cpu.lrs.clone();
    lrs.sort_by(f64::total_cmp);
    assert_eq!(cpu.c_sweep_lrs.len(), 2);
    assert!(cpu.c_sweep_lrs.iter().all(|l| lrs[..2].contains(l)));
    assert!(cpu.c_sweep.iter().any(|&c| c < 0.5) && cpu.c_sweep.iter().any(|&c| c > 2.0), "the C sweep brackets the rule's window");
}

#[test]
fn a_bad_field_is_reported_with_file_scale_and_field() {
    let dir = temp("uv-bad-config");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(root().join("experiments/uv.toml")).unwrap();
    let path = dir.join("uv.toml");
    std::fs::write(&path, text.replacen("eps = 0.1", "eps = -0.1", 2)).unwrap();
    let err = UvExperiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("uv.toml") && err.contains("[smoke] eps") && err.contains("eps > 0"), "{err}");
    std::fs::write(&path, text.replacen("noise_seeds", "noise_seedz", 1)).unwrap();
    let err = UvExperiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("noise_seedz") && err.contains("uv.toml"), "{err}");
    // A rule out of range names the [rules] field.
    std::fs::write(&path, text.replacen("argmin_c_window = [0.5, 2.0]", "argmin_c_window = [2.0, 0.5]", 1)).unwrap();
    let err = UvExperiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("uv.toml") && err.contains("[rules] argmin_c_window"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_smoke_scale_writes_every_run_the_summary_and_the_figures_deterministically() {
    let exp = experiment();
    let scale = exp.scale(Scale::Smoke);
    let (a, b) = (temp("uv-smoke-a"), temp("uv-smoke-b"));
    let run = |out: &Path| {
        run_loaded::<UvExp>(&exp, &Invocation::new(Scale::Smoke, out, BackendKind::DEFAULT.name())).unwrap().complete().unwrap()
    };
    let summary = run(&a);
    assert_eq!(summary.runs, scale.runs().len());
    assert!(summary.runs_fitted > 0);
    // Every draw ran, the C sweep ran, and the rows the issue asks for are there.
    assert_eq!(summary.draws.len(), scale.data_seeds.len());
    for &seed in &scale.data_seeds {
        assert!(scale.runs().iter().any(|r| r.data_seed == seed && r.c_over_c_star > 2.0), "draw {seed} has C sweep runs");
    }
    let ids = |id: &str| summary.header.criteria.iter().filter(|c| c.id == id).count();
    assert_eq!(ids("C4"), scale.gammas.len() + 1, "a(γ) per γ and the right arm's slope");
    assert_eq!(ids("C5"), 1);
    assert_eq!(ids("C6"), scale.c_sweep_lrs.len());
    assert_eq!(ids("C7"), 2 * (scale.lrs.len() + scale.c_sweep_lrs.len()), "argmin γ at every η and argmin C, tanh and ReLU");
    assert!(ids("C8") >= 1);
    assert!(summary.header.criteria.iter().all(|c| c.theory.is_some()));
    assert_eq!(summary.argmin_c.len(), scale.activations.len() * scale.c_sweep_lrs.len());
    for a in &summary.argmin_c {
        assert_eq!(a.by_draw.len(), scale.data_seeds.len());
    }
    let on_disk: UvSummary = read_json(&a.join("summary.json")).unwrap();
    assert_eq!(on_disk.header.criteria, summary.header.criteria);
    for run in scale.runs() {
        let dir = a.join("runs").join(&run.id);
        let result: UvRunSummary = read_json(&dir.join("summary.json")).unwrap();
        assert!(result.fit.is_some() != result.error.is_some(), "{}: a fit or an error, never both", run.id);
        assert!(dir.join("config.json").exists() && dir.join("metrics.csv").exists());
    }
    for fig in ["tau_vs_lr_linear", "tau_vs_lr_tanh", "tau_vs_lr_relu", "exponent_vs_gamma", "tau_vs_gamma", "tau_vs_c"] {
        for ext in ["svg", "png"] {
            let path = a.join("figures").join(format!("{fig}.{ext}"));
            assert!(std::fs::metadata(&path).map(|m| m.len() > 1000).unwrap_or(false), "{}", path.display());
        }
    }
    // Same seed, same CPU backend: identical metrics, run for run.
    run(&b);
    for run in scale.runs() {
        let read = |root: &Path| std::fs::read(root.join("runs").join(&run.id).join("metrics.csv")).unwrap();
        assert_eq!(read(&a), read(&b), "{}", run.id);
    }
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

/// Rows of different data draws stacked in one program follow the same
/// trajectories as each draw's rows run on their own (the cpu scale stacks
/// every draw of an (activation, η) into one job).
#[test]
fn rows_of_different_draws_stacked_together_match_each_draw_alone() {
    use flatter_experiments::harness::Activation;
    use flatter_experiments::harness::stacked::Row;
    use flatter_experiments::uv::sweep::{DrawRow, UvProblem, run_stacked, run_stacked_draws};
    use flatter_theory::sim::UvInit;

    let device = BackendKind::DEFAULT.device().unwrap();
    let draws = [UvInit::draw(5, 10, 0), UvInit::draw(5, 10, 1)];
    let rows = [
        (Row { lr: 0.05, beta: 0.9, steps: 200, log_every: 10, noise_seed: 1 }, 0),
        (Row { lr: 0.02, beta: 0.5, steps: 300, log_every: 5, noise_seed: 1_000_002 }, 1),
        (Row { lr: 0.1, beta: 0.0, steps: 100, log_every: 20, noise_seed: 1 }, 1),
        (Row { lr: 0.01, beta: 0.99, steps: 300, log_every: 5, noise_seed: 7 }, 0),
    ];
    for act in [Activation::Linear, Activation::Tanh, Activation::Relu] {
        let stacked: Vec<DrawRow<'_>> = rows.iter().map(|&(row, d)| DrawRow { row, data: &draws[d] }).collect();
        let together = run_stacked_draws(&device, act, 0.1, 5, &stacked, None);
        for (i, &(row, d)) in rows.iter().enumerate() {
            let data = &draws[d];
            let problem = UvProblem { activation: act, x: data.x.clone(), u0: data.u.clone(), v0: data.v.clone(), eps: 0.1, check_every: 5 };
            let alone = &run_stacked(&device, &problem, &[row], None)[0];
            assert_eq!(together[i].steps, alone.steps, "{act:?} row {i}");
            for (a, b) in together[i].column(0).iter().zip(&alone.column(0)) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-3), "{act:?} row {i}: {a} vs {b}");
            }
        }
        // Row 0 on the other draw's data is a different trajectory: the draw matters.
        let d1 = &draws[1];
        let other = UvProblem { activation: act, x: d1.x.clone(), u0: d1.u.clone(), v0: d1.v.clone(), eps: 0.1, check_every: 5 };
        assert_ne!(run_stacked(&device, &other, &[rows[0].0], None)[0].column(0), together[0].column(0), "{act:?}");
    }
}
