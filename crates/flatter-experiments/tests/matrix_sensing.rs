//! Matrix sensing: the Burn stacked model against the plain-f64 reference,
//! and the experiment end to end at the smoke scale.

#![cfg(feature = "train")]

use std::path::Path;

use flatter_device::BackendKind;
use flatter_experiments::harness::Scale;
use flatter_experiments::harness::io::read_json;
use flatter_experiments::harness::claims::ClaimKind;
use flatter_experiments::matrix_sensing::{MsExperiment, MsSummary, MsTrace, RunKind};
use flatter_theory::matrix_sensing::MsProblem;
use flatter_experiments::matrix_sensing::train::StackedMs;
use flatter_experiments::harness::stacked::{self, EngineConfig, Row};

fn experiment() -> MsExperiment {
    MsExperiment::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/matrix-sensing.toml")).unwrap()
}

#[test]
fn the_stacked_burn_model_follows_the_f64_reference_without_noise() {
    let device = BackendKind::DEFAULT.device().unwrap();
    let problem = MsProblem::draw(6, 2, 40, 9);
    let start = problem.init(5, 0.5, 10);
    let model = StackedMs::new(&problem, start.clone(), &device);
    let rows = [(0.05, 0.9), (0.1, 0.0), (0.02, 0.99)]
        .map(|(lr, beta)| Row { lr, beta, steps: 200, log_every: 50, noise_seed: 0 });
    // ε = 0: the label noise vanishes and eq. (1) is deterministic.
    let traces = stacked::run(&device, &model, EngineConfig { eps: 0.0, check_every: 50 }, &rows, None);
    for (row, trace) in rows.iter().zip(&traces) {
        for (i, &k) in trace.steps.iter().enumerate() {
            let f = problem.heavy_ball(&start, row.lr, row.beta, k as usize);
            let want = [problem.train_loss(&f), problem.hessian_trace(&f), problem.test_error(&f)];
            for (m, w) in want.iter().enumerate() {
                let got = trace.values[i][m];
                // f32 against f64; the loss decays by orders of magnitude, so compare it absolutely too.
                let tol = 2e-3 * w.abs() + if m == 0 { 1e-4 * want[0].max(problem.train_loss(&start)) } else { 1e-5 };
                assert!((got - w).abs() <= tol, "lr {} beta {} step {k} observable {m}: {got} vs {w}", row.lr, row.beta);
            }
        }
    }
}

#[test]
fn the_smoke_scale_runs_end_to_end_deterministically() {
    let exp = experiment();
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &Path| {
        flatter_experiments::harness::run_loaded::<flatter_experiments::matrix_sensing::MsExp>(&exp, &flatter_experiments::Invocation::new(Scale::Smoke, out, BackendKind::DEFAULT.name())).unwrap().complete().unwrap()
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let summary = run(&a);
    let on_disk: MsSummary = read_json(&a.join("summary.json")).unwrap();
    assert_eq!(on_disk.header.criteria, summary.header.criteria);
    let ids: Vec<&str> = summary.header.criteria.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["C9", "C9", "C10", "C10"]);
    // Every row says what kind of evidence it is; the rule-bound rows quote their rule.
    assert!(summary.header.criteria.iter().all(|c| c.kind == ClaimKind::Empirical), "{:?}", summary.header.criteria);
    assert!(summary.header.criteria[1].tolerance.contains(&exp.rules.dd_control_margin.to_string()));
    // The ε = 0 controls ran beside every double-descent run, and each (β, seed) was judged against its control.
    let smoke = exp.scale(Scale::Smoke);
    let controls = smoke.runs().into_iter().filter(|r| r.kind == RunKind::DdControl).count();
    assert_eq!(controls, smoke.dd_one_minus_betas.len() * smoke.dd_seeds.len());
    assert_eq!(summary.dd_cells.len(), controls);
    assert!(summary.dd_cells.iter().all(|c| c.control_fit_step.is_some()), "{:?}", summary.dd_cells);
    // C_opt is shown at every level fraction of the rules, the verdict's one among them.
    let fs: Vec<f64> = summary.levels.iter().map(|l| l.level_fraction).collect();
    assert_eq!(fs, exp.rules.fractions());
    assert!(summary.header.notes.iter().any(|n| n.starts_with("C_opt against the level fraction")));
    for f in &summary.header.figures {
        assert!(std::fs::metadata(a.join(&f.file)).map(|m| m.len() > 1000).unwrap_or(false), "{}", f.file);
    }
    assert_eq!(summary.header.figures.len(), 4);
    run(&b);
    for r in exp.scale(Scale::Smoke).runs() {
        let read = |root: &Path| std::fs::read_to_string(root.join("runs").join(&r.id).join("metrics.csv")).unwrap();
        let (ta, tb) = (read(&a), read(&b));
        assert_eq!(ta, tb, "{}", r.id);
        let trace = MsTrace::from_csv(&ta).unwrap();
        assert_eq!(trace.steps.last().copied(), Some(r.steps), "{}", r.id);
    }
}

#[test]
fn a_bad_field_names_the_file_the_scale_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/matrix-sensing.toml")).unwrap();
    let path = dir.path().join("ms.toml");
    std::fs::write(&path, text.replacen("h = 6", "h = 0", 1)).unwrap();
    let err = MsExperiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("ms.toml") && err.contains("[smoke] h") && err.contains("h >= r"), "{err}");
    std::fs::write(&path, text.replacen("dd_fit_fraction = 0.01", "dd_fit_fraction = 2.0", 1)).unwrap();
    let err = MsExperiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("ms.toml") && err.contains("[rules] dd_fit_fraction"), "{err}");
    std::fs::write(&path, text.replacen("dd_steps", "dd_stepz", 1)).unwrap();
    let err = MsExperiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("dd_stepz"), "{err}");
}
