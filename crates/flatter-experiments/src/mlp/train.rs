//! Training the MLP on Fashion-MNIST (Fig. 5): the valley checkpoint, then one
//! run per job. `crate::harness::run_experiment` drives it; the analysis is in
//! the parent module and reads only what this writes.
//!
//! Layout of the output directory:
//! - `config.json`: the resolved scale, written before training;
//! - `setup/valley.bpk` + `setup/valley.json`: the valley checkpoint (a
//!   burnpack module record), then its manifest (the settings that produced
//!   it, its summary and the SHA-256 of `valley.bpk`), written last; reused
//!   when the manifest verifies and its settings match the scale's. A valley
//!   that does not verify is retrained, with a warning naming the file: it
//!   is a function of its settings alone, so retraining gives what an intact
//!   file would have held, as a shard that computes its own valley does;
//! - `runs/<id>/{config.json, metrics.csv, summary.json}`: `summary.json` is
//!   written last and atomically, so a run with one is complete and is
//!   skipped on a rerun (resume);
//! - `figures/*.svg|png`;
//! - `summary.json`: fits and criteria, written last.
//!
//! Runs are trained on one worker thread per core, each run alone with the
//! `ModuleOptimizer` + `HeavyBall` path. They are not stacked into one batched
//! program as the UV sweep is, because measured, stacking is not faster per
//! core here: `benches/mlp_throughput.rs` times cpu-scale MLPs stacked as one
//! program (weights `[R, in, out]`, the minibatch shared) against one at a
//! time, and the README's Benchmarks table has the numbers (stacking pays only
//! when one run is spread over both cores, and two workers already use both).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail};
use burn::module::Module as _;
use burn::optim::GradientsParams;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use flatter_data::{FashionMnist, ImageDataset, Split, Verify};
use flatter_device::BackendKind;
use flatter_optim::rng::{RandomStream, Streams};
use flatter_optim::{ExpectedLoss, HeavyBallConfig, LabelFlip, MomentumRule};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::harness::abort;
use crate::harness::images::{ImageBatcher, epoch_order, label_tensor, minibatches};
use crate::harness::io::{write_atomic, write_json, write_record};
use crate::harness::plan::{Job, run_dir};
use crate::harness::setup::{FileSet, SetupKey};
use crate::harness::{Activation, TrainCtx};
use crate::mlp::model::{Mlp, MlpConfig};
use crate::mlp::{CleanLoss, EpochPoint, MlpExp, MlpRun, MlpRunSummary, MlpScale, ValleySummary, dataset_description};

/// The model config of a scale (784 inputs, 10 classes).
pub fn model_config(scale: &MlpScale) -> MlpConfig {
    let w = &scale.widths;
    MlpConfig {
        input: 28 * 28,
        hidden: [w[0], w[1], w[2], w[3], w[4]],
        classes: 10,
        activation_a: scale.activation_a,
        activation_b: scale.activation_b,
    }
}

/// The train and test subsets of a scale, and a description of them.
pub struct MlpData {
    /// The training subset.
    pub train: ImageBatcher,
    /// The test subset.
    pub test: ImageBatcher,
    /// In words, for the summary.
    pub description: String,
}

/// Fashion-MNIST (checksums verified) as seeded class-balanced subsets of
/// `train_per_class` and `test_per_class` images per class (the whole split
/// when that is all of it): the data of both MLP experiments.
pub fn fashion_subsets(train_per_class: usize, test_per_class: usize, subset_seed: u64, data_dir: Option<&Path>) -> anyhow::Result<(ImageDataset, ImageDataset)> {
    let train = FashionMnist::load(data_dir, Split::Train, Verify::Strict).context("loading the Fashion-MNIST training split")?;
    let test = FashionMnist::load(data_dir, Split::Test, Verify::Strict).context("loading the Fashion-MNIST test split")?;
    let subset = |d: ImageDataset, per_class: usize, full: usize| -> anyhow::Result<ImageDataset> {
        Ok(if per_class * d.num_classes == d.n && per_class * 10 == full { d } else { d.subset_per_class(per_class, subset_seed)? })
    };
    Ok((subset(train, train_per_class, 60_000)?, subset(test, test_per_class, 10_000)?))
}

/// Loads Fashion-MNIST (checksums verified) and takes the scale's seeded class-balanced subsets.
pub fn load_data(scale: &MlpScale, data_dir: Option<&Path>) -> anyhow::Result<MlpData> {
    let (train, test) = fashion_subsets(scale.train_per_class, scale.test_per_class, scale.subset_seed, data_dir)?;
    Ok(MlpData { train: ImageBatcher::new(&train), test: ImageBatcher::new(&test), description: dataset_description(scale) })
}

/// Accuracy of `model` on a whole dataset, evaluated in chunks on the plain device.
pub fn accuracy(model: &Mlp, data: &ImageBatcher, device: &Device) -> f64 {
    let chunk = 2048;
    let mut correct = 0usize;
    let order: Vec<usize> = (0..data.len()).collect();
    for idx in order.chunks(chunk) {
        let (x, labels) = data.batch(idx, device);
        let pred: Vec<i64> = model.forward(x).argmax(1).into_data().convert::<i64>().try_into_vec().expect("argmax is Int");
        correct += pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
    }
    correct as f64 / data.len() as f64
}

/// The settings that determine the valley checkpoint (its [`SetupKey`]); it is reused only when they match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValleySettings {
    train_per_class: usize,
    subset_seed: u64,
    seed: u64,
    widths: Vec<usize>,
    activation_a: Activation,
    activation_b: Activation,
    label_noise_prob: f64,
    valley_lr: f64,
    valley_max_epochs: u64,
    backend: String,
}

impl ValleySettings {
    fn of(scale: &MlpScale, backend: BackendKind) -> Self {
        ValleySettings {
            train_per_class: scale.train_per_class,
            subset_seed: scale.subset_seed,
            seed: scale.seed,
            widths: scale.widths.clone(),
            activation_a: scale.activation_a,
            activation_b: scale.activation_b,
            label_noise_prob: scale.label_noise_prob,
            valley_lr: scale.valley_lr,
            valley_max_epochs: scale.valley_max_epochs,
            backend: backend.name().to_string(),
        }
    }
}

/// `setup/valley.json`: the key the checkpoint was made for, and what it
/// produced; the manifest of `valley.bpk` ([`FileSet`]) adds its hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ValleyFile {
    key: SetupKey,
    summary: ValleySummary,
}

/// Phase 0: full-batch GD without momentum on the expected loss (p =
/// `label_noise_prob`) from a seeded random init, stopping at the first step
/// whose model classifies every training image correctly. Not reaching 100%
/// within `valley_max_epochs` steps is an error.
pub fn train_valley(scale: &MlpScale, data: &MlpData, backend: BackendKind, bar: &ProgressBar) -> anyhow::Result<(Mlp, ValleySummary)> {
    let start = Instant::now();
    let device = backend.autodiff_device()?;
    let plain = backend.device()?;
    device.seed(Streams::new(scale.seed).backend_seed());
    let mut model = model_config(scale).init(&device);
    let loss_fn = ExpectedLoss::new(scale.label_noise_prob, 10)?;
    // GD without momentum is eq. (1) with β = 0.
    let mut optim = HeavyBallConfig::new(MomentumRule::fixed(0.0)?).init()?;
    let (x, labels) = data.train.all(&device);
    let y = label_tensor(&labels, &device);
    let n = labels.len();
    bar.set_length(scale.valley_max_epochs);
    for epoch in 0..scale.valley_max_epochs {
        let logits = model.forward(x.clone());
        let pred: Vec<i64> = logits.clone().argmax(1).into_data().convert::<i64>().try_into_vec().expect("argmax is Int");
        let correct = pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
        let loss = loss_fn.loss(logits, y.clone());
        let loss_value = loss.clone().into_scalar::<f64>();
        if !loss_value.is_finite() {
            bail!("valley phase diverged at step {epoch} (loss {loss_value}); lower valley_lr ({:e})", scale.valley_lr);
        }
        bar.set_position(epoch);
        bar.set_message(format!("train acc {:.4}, loss {loss_value:.4}", correct as f64 / n as f64));
        if correct == n {
            let valid = model.valid();
            let summary = ValleySummary {
                epochs: epoch,
                train_accuracy: 1.0,
                test_accuracy: accuracy(&valid, &data.test, &plain),
                loss: loss_value,
                wall_seconds: start.elapsed().as_secs_f64(),
            };
            bar.finish();
            return Ok((model, summary));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(scale.valley_lr, model, grads);
    }
    bail!(
        "valley phase: train accuracy did not reach 100% within valley_max_epochs = {} full-batch steps at valley_lr = {}; raise one of them",
        scale.valley_max_epochs,
        scale.valley_lr
    )
}

/// The valley checkpoint under `<out>/setup/`: loaded when its manifest
/// verifies and names the same settings, else trained and written as one
/// unit (`valley.bpk`, then the manifest `valley.json`).
pub fn valley(scale: &MlpScale, data: &MlpData, backend: BackendKind, out: &Path, force: bool, bar: &ProgressBar) -> anyhow::Result<(Mlp, ValleySummary)> {
    // Shards running at once: one trains the valley, the others wait and load it.
    let _setup_lock = crate::harness::plan::lock_setup(out)?;
    let dir = out.join("setup");
    let set = FileSet { dir: &dir, manifest: "valley.json", point: "mlp.valley" };
    let record = dir.join("valley.bpk");
    let key = SetupKey::of(&ValleySettings::of(scale, backend));
    let device = backend.autodiff_device()?;
    if !force && let Some(loaded) = set.load::<ValleyFile>()? && loaded.state.key == key {
        let bytes = Bytes::from_bytes_vec(loaded.files["model"].clone());
        let model = ModuleRecord::from_bytes(bytes)
            .and_then(|r| model_config(scale).init(&device).try_load_record(r))
            .with_context(|| format!("loading the valley checkpoint {}", record.display()))?;
        bar.finish_and_clear();
        return Ok((model, loaded.state.summary));
    }
    let (model, summary) = train_valley(scale, data, backend, bar)?;
    let bytes = model.clone().into_record().into_bytes().with_context(|| format!("serialising {}", record.display()))?;
    // Under fixed names: the old manifest goes first, so it never vouches for a new valley.bpk.
    set.invalidate()?;
    set.write(&[("model", "valley.bpk", &bytes)], &ValleyFile { key, summary: summary.clone() }, false)?;
    Ok((model, summary))
}

/// One (η, β) run from the valley checkpoint: `epochs_noisy` epochs of
/// minibatch heavy-ball SGD on cross-entropy with fresh label flips, then
/// `epochs_clean` epochs on the noise-free loss, with the same η, β and
/// minibatches. The data order and the flips come from the DataOrder and
/// LabelNoise streams of `run.seed`, so every run with that seed sees the same
/// minibatch sequence and the same flips (common random numbers across the grid).
pub fn train_run(
    scale: &MlpScale,
    data: &MlpData,
    valley: &Mlp,
    run: &MlpRun,
    backend: BackendKind,
    bar: &ProgressBar,
) -> anyhow::Result<(MlpRunSummary, Vec<EpochPoint>)> {
    let start = Instant::now();
    let device = backend.autodiff_device()?;
    let plain = backend.device()?;
    let streams = Streams::new(run.seed);
    let mut order_rng = streams.rng(RandomStream::DataOrder);
    let mut noise_rng = streams.rng(RandomStream::LabelNoise);
    let flip = LabelFlip::new(scale.label_noise_prob, 10)?;
    let noisy_loss = ExpectedLoss::hard(10)?;
    let clean_loss = match scale.clean_loss {
        CleanLoss::Expected => ExpectedLoss::new(scale.label_noise_prob, 10)?,
        CleanLoss::CrossEntropy => ExpectedLoss::hard(10)?,
    };
    let mut optim = HeavyBallConfig::new(MomentumRule::fixed(run.beta)?).init()?;
    // Fresh autodiff leaves (same values): runs train on worker threads from
    // one valley, and leaves shared between threads join their graphs in
    // burn-autodiff, which once deadlocked two workers and let one worker's
    // results differ between runs (docs/notes/autodiff-deadlock.md).
    let mut model = valley.clone().fork(&device);
    let start_test_accuracy = accuracy(&model.valid(), &data.test, &plain);
    let mut points = vec![EpochPoint { epoch: 0, train_loss: f64::NAN, test_accuracy: start_test_accuracy }];
    let total = scale.epochs_noisy + scale.epochs_clean;
    let mut diverged = false;
    for epoch in 1..=total {
        let noisy = epoch <= scale.epochs_noisy;
        let order = epoch_order(data.train.len(), &mut order_rng);
        let (mut sum, mut count) = (Tensor::<1>::zeros([1], &device), 0usize);
        for idx in minibatches(&order, scale.batch_size) {
            let (x, labels) = data.train.batch(idx, &device);
            let (targets, loss_fn) =
                if noisy { (flip.flip(&labels, &mut noise_rng)?, &noisy_loss) } else { (labels, &clean_loss) };
            let loss = loss_fn.loss(model.forward(x), label_tensor(&targets, &device));
            sum = sum + loss.clone().detach().mul_scalar(idx.len() as f64);
            count += idx.len();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(run.lr, model, grads);
        }
        let train_loss = sum.into_scalar::<f64>() / count as f64;
        bar.inc(1);
        if !train_loss.is_finite() {
            diverged = true;
            points.push(EpochPoint { epoch, train_loss, test_accuracy: f64::NAN });
            bar.inc(total - epoch);
            break;
        }
        if epoch % scale.eval_every == 0 || epoch == total || epoch == scale.epochs_noisy {
            let test_accuracy = accuracy(&model.valid(), &data.test, &plain);
            points.push(EpochPoint { epoch, train_loss, test_accuracy });
        }
    }
    // The best over the evaluations *during training* (the shared start excluded,
    // so runs that never improve on the valley still differ); the start when
    // the run diverged before its first evaluation.
    let best = points
        .iter()
        .skip(1)
        .filter(|p| p.test_accuracy.is_finite())
        .max_by(|a, b| a.test_accuracy.total_cmp(&b.test_accuracy))
        .unwrap_or(&points[0]);
    let last = points.last().expect("the start is recorded");
    let summary = MlpRunSummary {
        run: run.clone(),
        best_test_accuracy: best.test_accuracy,
        best_epoch: best.epoch,
        final_test_accuracy: last.test_accuracy.is_finite().then_some(last.test_accuracy),
        final_train_accuracy: (!diverged).then(|| accuracy(&model.valid(), &data.train, &plain)),
        start_test_accuracy,
        diverged,
        failed: diverged || !(last.test_accuracy >= crate::mlp::FAILED_ACC),
        wall_seconds: start.elapsed().as_secs_f64(),
    };
    Ok((summary, points))
}

fn metrics_csv(points: &[EpochPoint]) -> String {
    let mut csv = String::from("epoch,train_loss,test_accuracy\n");
    for p in points {
        writeln!(csv, "{},{},{}", p.epoch, p.train_loss, p.test_accuracy).expect("writing to a String");
    }
    csv
}

/// What every run shares: the data and the valley checkpoint.
pub struct Prepared {
    data: MlpData,
    valley: Mlp,
}

/// The setup node: loads the data, then trains the valley checkpoint (or
/// loads it from `setup/`).
pub fn prepare(ctx: &TrainCtx<'_, MlpExp>) -> anyhow::Result<Prepared> {
    let data = load_data(ctx.scale, ctx.inv.data_dir.as_deref())?;
    let valley_bar = ctx.progress.job_bar("valley", ctx.scale.valley_max_epochs);
    let (valley, _) = self::valley(ctx.scale, &data, ctx.backend, ctx.out, ctx.inv.opts.force, &valley_bar)?;
    valley_bar.finish_and_clear();
    Ok(Prepared { data, valley })
}

/// Trains one run (a job) from the valley, alone.
pub fn train(ctx: &TrainCtx<'_, MlpExp>, prepared: &Prepared, job: &Job) -> anyhow::Result<()> {
    let (scale, backend, out) = (ctx.scale, ctx.backend, ctx.out);
    let runs = scale.runs();
    let run = runs.iter().find(|r| r.id == job.id).expect("a job per run");
    let bar = ctx.progress.job_bar(&run.id, scale.epochs_noisy + scale.epochs_clean);
    let dir = run_dir(out, &run.id);
    write_json(&dir.join("config.json"), run)?;
    abort::at("mlp.run.config");
    let (summary, points) = train_run(scale, &prepared.data, &prepared.valley, run, backend, &bar)?;
    bar.finish_and_clear();
    write_atomic(&dir.join("metrics.csv"), metrics_csv(&points).as_bytes())?;
    abort::at("mlp.run.metrics");
    // Written last and atomically: its presence means the run is complete.
    write_record(&dir.join("summary.json"), &summary)?;
    abort::at("mlp.run.summary");
    Ok(())
}
