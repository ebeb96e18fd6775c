//! The MLP experiment on the real Fashion-MNIST: the valley checkpoint, and
//! the smoke scale end to end (valley at 100%, every run's summary, the
//! analysis, the figures, resume, shards). Never touches the network.

#![cfg(feature = "train")]

use std::path::{Path, PathBuf};

use flatter_device::BackendKind;
use flatter_experiments::Invocation;
use flatter_experiments::harness::plan::Shard;
use flatter_experiments::harness::{Options, Outcome, Scale};
use flatter_experiments::mlp::train::{accuracy, load_data, valley};
use flatter_experiments::mlp::{MlpExp, MlpExperiment, MlpRunSummary, MlpScale, MlpSummary};
use indicatif::ProgressBar;

/// The MLP experiment at `scale_name` into `out` through the harness.
fn run(scale_name: Scale, exp: &MlpExperiment, backend: BackendKind, out: &Path, opts: Options) -> anyhow::Result<Outcome<MlpSummary>> {
    let mut inv = Invocation::new(scale_name, out, backend.name());
    inv.opts = opts;
    flatter_experiments::harness::run_loaded::<MlpExp>(exp, &inv)
}

fn experiment() -> MlpExperiment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/mlp-fashion.toml");
    MlpExperiment::load(&path).unwrap()
}

fn smoke() -> MlpScale {
    experiment().scale(Scale::Smoke).clone()
}

/// The tests of this file train models in one process, and Burn's device
/// RNG, which seeds a model's initialisation, is one per device: two tests
/// initialising at once interleave their draws and get other weights. They
/// take this lock so that each initialises alone (a test artefact: the
/// experiment binary initialises one model at a time).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn valley_reaches_100_percent_and_the_checkpoint_round_trips() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let scale = smoke();
    let backend = BackendKind::DEFAULT;
    let data = load_data(&scale, None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (model, summary) = valley(&scale, &data, backend, out.path(), false, &ProgressBar::hidden()).unwrap();
    let plain = backend.device().unwrap();
    use burn::module::Module as _;
    assert_eq!(accuracy(&model.valid(), &data.train, &plain), 1.0);
    assert_eq!(summary.train_accuracy, 1.0);
    assert!(out.path().join("setup/valley.bpk").is_file() && out.path().join("setup/valley.json").is_file());
    // The second call loads the checkpoint instead of training: same model, same summary.
    let (loaded, again) = valley(&scale, &data, backend, out.path(), false, &ProgressBar::hidden()).unwrap();
    assert_eq!(again, summary);
    assert_eq!(accuracy(&loaded.valid(), &data.test, &plain), summary.test_accuracy);
    // Another valley setting does not reuse it: with a cap of 1 step it is an error naming the cap.
    let capped = MlpScale { valley_max_epochs: 1, ..scale };
    let err = valley(&capped, &data, backend, out.path(), false, &ProgressBar::hidden()).unwrap_err();
    assert!(err.to_string().contains("valley_max_epochs"), "{err:#}");
}

#[test]
fn smoke_scale_end_to_end_resume_and_shards() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let exp = experiment();
    let scale = exp.scale(Scale::Smoke).clone();
    let out = tempfile::tempdir().unwrap();
    let opts = Options::default();
    let summary = run(Scale::Smoke, &exp, BackendKind::DEFAULT, out.path(), opts).unwrap().complete().unwrap();
    assert_eq!(summary.valley.as_ref().unwrap().train_accuracy, 1.0);
    assert_eq!(summary.runs.len(), scale.runs().len());
    for r in &scale.runs() {
        let dir = out.path().join("runs").join(&r.id);
        for f in ["config.json", "metrics.csv", "summary.json"] {
            assert!(dir.join(f).is_file(), "{}/{f}", r.id);
        }
    }
    assert_eq!(summary.beta_star.len(), scale.lrs.len());
    // Each (η, β) ran once per run seed; the seeds draw different minibatches
    // and flips (their training losses differ), and each point averages them.
    assert!(scale.run_seeds.len() >= 2, "the smoke scale exercises seed averaging");
    for b in &summary.beta_star {
        assert!(b.points.iter().all(|p| p.seeds == scale.run_seeds.len()), "{b:?}");
    }
    let first = &scale.runs()[0];
    let twin = scale.runs().into_iter().find(|r| r.lr == first.lr && r.beta == first.beta && r.seed != first.seed).unwrap();
    let metrics = |id: &str| std::fs::read_to_string(out.path().join("runs").join(id).join("metrics.csv")).unwrap();
    assert_ne!(metrics(&first.id), metrics(&twin.id), "two seeds of one (η, β) trained identically");
    assert_eq!(summary.header.criteria[0].id, "C15");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap()).unwrap();
    for key in ["experiment", "scale", "dataset", "criteria", "figures", "choices", "notes", "wall_seconds", "backend"] {
        assert!(json.get(key).is_some(), "summary.json lacks {key}");
    }
    assert_eq!(json["experiment"], "mlp-fashion");
    assert!(!summary.header.choices.is_empty());
    for fig in &summary.header.figures {
        assert!(out.path().join(&fig.file).is_file(), "{}", fig.file);
        assert!(out.path().join(&fig.file).with_extension("svg").is_file());
    }
    assert!(summary.header.figures.len() >= 2);

    // A rerun resumes: complete runs are read back, not retrained.
    let one: PathBuf = out.path().join("runs").join(&scale.runs()[0].id).join("summary.json");
    let before = std::fs::metadata(&one).unwrap().modified().unwrap();
    let again = run(Scale::Smoke, &exp, BackendKind::DEFAULT, out.path(), opts).unwrap().complete().unwrap();
    assert_eq!(std::fs::metadata(&one).unwrap().modified().unwrap(), before);
    let strip = |v: &[MlpRunSummary]| v.iter().map(|r| (r.run.id.clone(), r.best_test_accuracy)).collect::<Vec<_>>();
    assert_eq!(strip(&again.runs), strip(&summary.runs));

    // Another config in the same directory is refused unless forced.
    let mut other = exp.clone();
    other.smoke.epochs_noisy += 1;
    let err = run(Scale::Smoke, &other, BackendKind::DEFAULT, out.path(), opts).unwrap_err();
    assert!(format!("{err:#}").contains("--force"), "{err:#}");

    // Two shards in a fresh directory: the first is partial, the second completes,
    // and the runs equal the unsharded ones (each run depends only on its seed).
    let sharded = tempfile::tempdir().unwrap();
    for (i, want_complete) in [(1, false), (2, true)] {
        let shard = Some(Shard { index: i, count: 2 });
        let outcome = run(Scale::Smoke, &exp, BackendKind::DEFAULT, sharded.path(), Options { shard, ..opts }).unwrap();
        assert_eq!(matches!(outcome, Outcome::Complete(_)), want_complete);
        if let Outcome::Complete(s) = outcome {
            assert_eq!(strip(&s.runs), strip(&summary.runs));
        }
    }
}
