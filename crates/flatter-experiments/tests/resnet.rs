//! ResNet-18's three-phase protocol: the smoke scale end to end, and resuming
//! after an interruption bit for bit. (The model's own tests, the parameter
//! count and shapes, are beside it in `src/resnet/model.rs`.)

#![cfg(feature = "train")]

use std::path::{Path, PathBuf};

use flatter_device::BackendKind;
use flatter_experiments::harness::Scale;
use flatter_experiments::harness::io::read_json;
use flatter_experiments::resnet::{Phase1Summary, ResnetExperiment, ResnetRunSummary};
use flatter_experiments::harness::Outcome;
use flatter_experiments::resnet::ResnetExp;
use flatter_experiments::Invocation;

fn experiment() -> ResnetExperiment {
    ResnetExperiment::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments/resnet-cifar.toml"))).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flatter-resnet-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn smoke(out: &Path, stop_after_steps: Option<u64>) -> anyhow::Result<flatter_experiments::resnet::ResnetSummary> {
    let exp = experiment();
    let mut inv = Invocation::new(Scale::Smoke, out, BackendKind::Flex.name());
    inv.stop_after_steps = stop_after_steps;
    match flatter_experiments::harness::run_loaded::<ResnetExp>(&exp, &inv)? {
        Outcome::Complete(s) => Ok(s),
        Outcome::Partial { complete_runs, total_runs } => anyhow::bail!("partial: {complete_runs} of {total_runs}"),
    }
}

fn runs_of(out: &Path) -> Vec<ResnetRunSummary> {
    experiment().smoke.runs().iter().map(|r| read_json(&out.join("runs").join(&r.id).join("summary.json")).unwrap()).collect()
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

/// The smoke scale runs phase 1, phase 2 and phase 3 for every grid point and
/// writes the summary, figures and criteria; a run killed (twice: once in
/// phase 1, once inside a phase-2 run) and resumed gives bit-identical metrics.
#[test]
fn smoke_runs_all_three_phases_and_resumes_bit_identically() {
    let straight = tmp("straight");
    let summary = smoke(&straight, None).unwrap();
    assert_eq!(summary.header.experiment, "resnet-cifar");
    let ids: Vec<&str> = summary.header.criteria.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["C11", "C12", "C13", "C14"]);
    assert_eq!(summary.runs.len(), experiment().smoke.runs().len());
    assert!(summary.header.dataset.contains("CIFAR-10") || summary.header.dataset.contains("Fashion-MNIST"), "{}", summary.header.dataset);
    for fig in &summary.header.figures {
        assert!(straight.join(&fig.file).exists(), "{}", fig.file);
    }
    assert!(straight.join("summary.json").exists());
    for r in &summary.runs {
        assert!(r.error.is_none(), "{:?}", r.error);
        assert!(r.test_accuracy_projected.is_finite() && r.test_accuracy.len() == 3, "{r:?}");
    }
    // Every (η, β) once per run seed, each seed's β* reported beside the pooled fit.
    let seeds = &experiment().smoke.run_seeds;
    assert!(seeds.len() >= 2);
    assert_eq!(summary.beta_star_per_seed.iter().map(|p| p.seed).collect::<Vec<_>>(), *seeds);
    for star in &summary.beta_star {
        for p in star.points.iter().filter(|p| !p.failed) {
            assert_eq!(p.seeds, seeds.len(), "{p:?}");
            assert!(p.stderr.is_some(), "{p:?}");
        }
    }
    // The score on the scored test images, the curve on its stated subset.
    let smoke_scale = experiment().smoke;
    assert_eq!(summary.phase1.n_test, 10 * smoke_scale.test_per_class);
    assert_eq!(summary.phase1.n_test_curve, 10 * smoke_scale.curve_test_per_class);
    assert!(summary.phase1.test_accuracy_curve.is_finite());
    for r in &summary.runs {
        assert_eq!(r.test_accuracy[0].to_bits(), summary.phase1.test_accuracy_curve.to_bits(), "the curve starts at its baseline");
        assert!(r.timing.phase2_step_count > 0 && r.timing.curve_eval_count == 2, "{:?}", r.timing);
    }
    // Stand-in data and schedule: C11 is a pipeline check; the rules are quoted.
    let c = |id: &str| summary.header.criteria.iter().find(|c| c.id == id).unwrap().clone();
    assert_eq!(c("C11").kind, flatter_experiments::harness::claims::ClaimKind::Pipeline);
    let rules = &experiment().rules;
    assert!(c("C12").tolerance.contains(&rules.slope_tolerance.to_string()), "{}", c("C12").tolerance);
    assert!(c("C14").tolerance.contains(&rules.dip_rise_se_multiple.to_string()), "{}", c("C14").tolerance);
    assert!(c("C14").quantity.contains("run seeds"), "{}", c("C14").quantity);

    let resumed = tmp("resumed");
    // Interrupted inside phase 1 (after its first checkpoint)...
    let err = smoke(&resumed, Some(7)).unwrap_err();
    assert!(err.to_string().contains("interrupted"), "{err:#}");
    assert!(!resumed.join("summary.json").exists());
    // ...and again inside the phase-2 grid.
    let err = smoke(&resumed, Some(23)).unwrap_err();
    assert!(err.to_string().contains("interrupted"), "{err:#}");
    let done = smoke(&resumed, None).unwrap();

    let p1a: Phase1Summary = read_json(&straight.join("setup/phase1.json")).unwrap();
    let p1b: Phase1Summary = read_json(&resumed.join("setup/phase1.json")).unwrap();
    assert_eq!(p1a.epochs, p1b.epochs);
    assert_eq!(
        bits(&[p1a.train_accuracy, p1a.test_accuracy, p1a.expected_loss, p1a.train_accuracy_eval]),
        bits(&[p1b.train_accuracy, p1b.test_accuracy, p1b.expected_loss, p1b.train_accuracy_eval])
    );
    for (a, b) in runs_of(&straight).iter().zip(&runs_of(&resumed)) {
        assert_eq!(a.run, b.run);
        assert_eq!(a.epochs, b.epochs);
        assert_eq!(bits(&a.test_accuracy), bits(&b.test_accuracy), "{}", a.run.id);
        assert_eq!(
            bits(&[a.test_accuracy_projected, a.train_accuracy_projected, a.train_accuracy_phase2]),
            bits(&[b.test_accuracy_projected, b.train_accuracy_projected, b.train_accuracy_phase2]),
            "{}",
            a.run.id
        );
        assert_eq!(
            std::fs::read(straight.join("runs").join(&a.run.id).join("metrics.csv")).unwrap(),
            std::fs::read(resumed.join("runs").join(&a.run.id).join("metrics.csv")).unwrap()
        );
    }
    assert_eq!(summary.slope.map(f64::to_bits), done.slope.map(f64::to_bits));
    std::fs::remove_dir_all(&straight).ok();
    std::fs::remove_dir_all(&resumed).ok();
}

/// ResNet-18 on flex, whose feature maps are channel-major (flatter-kernels'
/// `FeatureMaps`, batched-GEMM convolutions, fused BatchNorm), against the
/// same network in Burn's own ops and layout on ndarray, from the same
/// weights and batch (the GPU check's correctness sizes: width 1/8, batch
/// 16): the loss within 1e-5, and every parameter's gradient within a
/// stated share of its tensor's scale.
/// - Seed 0, the GPU check's: 1e-4, as its dry run requires of two CPU
///   backends. It caught channel-major BatchNorm summing whole channels in
///   blocks of 4,096 (0.4% to 3.7% off); it now sums image by image, as on
///   Burn's layout, with the same bits.
/// - Seeds 1 and 3: 3e-2. Seed 1's batch is ill-conditioned at the stem's
///   BatchNorm: flex's Burn-layout kernel path gives the identical 0.2% to
///   2.0% differences in the stem and first stage (measured 2026-12-02), so
///   they are not the layout's. Seed 3 is held to the same bound.
#[test]
fn resnet_on_flex_matches_burns_ops_on_ndarray_in_loss_and_every_gradient() {
    use flatter_device::BackendKind;
    use flatter_experiments::gpu_check::measure::{Sizes, traces};
    let sizes = Sizes::dry_run();
    for seed in [0, 1, 3] {
        let flex = traces(BackendKind::Flex, &sizes, seed).unwrap();
        let nd = traces(BackendKind::NdArray, &sizes, seed).unwrap();
        let (f, n) = (&flex[1].0, &nd[1].0);
        assert_eq!(f.model, "resnet18");
        assert!((f.losses[0] - n.losses[0]).abs() <= 1e-5 * n.losses[0].abs(), "seed {seed}: loss {} vs {}", f.losses[0], n.losses[0]);
        assert_eq!(f.tensors.len(), n.tensors.len());
        let off: Vec<(usize, f32)> = f
            .tensors
            .iter()
            .zip(&n.tensors)
            .enumerate()
            .map(|(k, (a, b))| {
                let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
                (k, a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs())) / scale)
            })
            .filter(|&(_, err)| err > if seed == 0 { 1e-4 } else { 3e-2 })
            .collect();
        assert!(off.is_empty(), "seed {seed}: gradients (index, max error / scale) off by more than the stated bound: {off:?}");
    }
}
