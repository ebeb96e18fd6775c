//! The MLP on Fashion-MNIST (Fig. 5) end to end: a scale of
//! `experiments/mlp-fashion.toml` in, a finished `results/mlp-fashion/` out.
//!
//! Layout of the output directory:
//! - `config.json`: the resolved scale, written before training;
//! - `setup/valley.bpk` + `setup/valley.json`: the valley checkpoint (a
//!   burnpack module record) and what produced it, written atomically and
//!   reused when `valley.json` matches the scale's valley settings;
//! - `runs/<id>/{config.json, metrics.csv, summary.json}`: `summary.json` is
//!   written last and atomically, so a run with one is complete and is
//!   skipped on a rerun (resume);
//! - `figures/*.svg|png`;
//! - `summary.json`: fits and criteria, written last.
//!
//! Runs are trained on one worker thread per core, each run alone with the
//! `ModuleOptimizer` + `HeavyBall` path. They are not stacked into one batched program as the UV
//! sweep is: the stacked engine (`crate::stacked`) is written for full-batch
//! regression with Gaussian target noise, and an MLP stack needs batched
//! matmuls with per-run weights `[R, in, out]`, per-run minibatch orders and
//! per-run label flips; at our widths a single run's step is already a few
//! matmuls of useful size, so the gain would be the per-op overhead only. That
//! is left for the speed work that `benches/mlp_throughput.rs` is the baseline of.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use burn::module::Module as _;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use flatter_data::{FashionMnist, ImageDataset, Split, Verify};
use flatter_device::BackendKind;
use flatter_models::mlp::{Mlp, MlpConfig};
use flatter_models::uv::Activation;
use flatter_optim::rng::{RandomStream, Streams};
use flatter_optim::{ExpectedLoss, HeavyBallConfig, LabelFlip, MomentumRule};
use flatter_runs::Scale;
use flatter_runs::io::{read_json, write_atomic, write_json};
use flatter_runs::mlp::{
    CleanLoss, EpochPoint, MlpRun, MlpRunSummary, MlpScale, MlpSummary, Nonlinearity, ValleySummary, analyse,
};
use flatter_runs::mlp_figures::write_figures;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::batcher::{ImageBatcher, epoch_order, label_tensor, minibatches};
use crate::uv::lock_dir;

/// The experiment's name, as in paths and summaries.
pub const EXPERIMENT: &str = "mlp-fashion";

/// How [`run`] behaves, beyond the scale.
#[derive(Clone, Debug, Default)]
pub struct MlpOptions {
    /// Show progress bars.
    pub show_progress: bool,
    /// `--data-dir`: where Fashion-MNIST is (else [`flatter_data::resolve_dir`]'s search).
    pub data_dir: Option<PathBuf>,
    /// Retrain every run and the valley even if complete ones are on disk,
    /// and overwrite a results directory written for another config.
    pub force: bool,
    /// The experiment's `choices` list, copied into the summary.
    pub choices: Vec<String>,
    /// Runs trained at once (default: one per core).
    pub threads: Option<usize>,
}

fn activation(n: Nonlinearity) -> Activation {
    match n {
        Nonlinearity::Relu => Activation::Relu,
        Nonlinearity::Tanh => Activation::Tanh,
        Nonlinearity::Linear => Activation::Linear,
    }
}

/// The model config of a scale (784 inputs, 10 classes).
pub fn model_config(scale: &MlpScale) -> MlpConfig {
    let w = &scale.widths;
    MlpConfig {
        input: 28 * 28,
        hidden: [w[0], w[1], w[2], w[3], w[4]],
        classes: 10,
        activation_a: activation(scale.activation_a),
        activation_b: activation(scale.activation_b),
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

/// Loads Fashion-MNIST (checksums verified) and takes the scale's seeded class-balanced subsets.
pub fn load_data(scale: &MlpScale, data_dir: Option<&Path>) -> anyhow::Result<MlpData> {
    let train = FashionMnist::load(data_dir, Split::Train, Verify::Strict).context("loading the Fashion-MNIST training split")?;
    let test = FashionMnist::load(data_dir, Split::Test, Verify::Strict).context("loading the Fashion-MNIST test split")?;
    let subset = |d: ImageDataset, per_class: usize, full: usize| -> anyhow::Result<ImageDataset> {
        Ok(if per_class * d.num_classes == d.n && per_class * 10 == full { d } else { d.subset_per_class(per_class, scale.subset_seed)? })
    };
    let official = train.official && test.official;
    let train = subset(train, scale.train_per_class, 60_000)?;
    let test = subset(test, scale.test_per_class, 10_000)?;
    let description = format!(
        "Fashion-MNIST ({}, {}-image class-balanced training subset, {}-image test {})",
        if official { "real, official SHA-256 verified" } else { "real" },
        train.n,
        test.n,
        if test.n == 10_000 { "split" } else { "subset" }
    );
    Ok(MlpData { train: ImageBatcher::new(&train), test: ImageBatcher::new(&test), description })
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

/// The settings that determine the valley checkpoint; it is reused only when they match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValleyKey {
    train_per_class: usize,
    subset_seed: u64,
    seed: u64,
    widths: Vec<usize>,
    activation_a: Nonlinearity,
    activation_b: Nonlinearity,
    label_noise_prob: f64,
    valley_lr: f64,
    valley_max_epochs: u64,
    backend: String,
}

impl ValleyKey {
    fn of(scale: &MlpScale, backend: BackendKind) -> Self {
        ValleyKey {
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

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ValleyFile {
    key: ValleyKey,
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
            bail!("valley phase diverged at step {epoch} (loss {loss_value}); lower valley_lr ({})", scale.valley_lr);
        }
        bar.set_position(epoch);
        bar.set_message(format!("train acc {:.4}, loss {loss_value:.4}", correct as f64 / n as f64));
        if correct == n {
            let valid = model.valid();
            let summary = ValleySummary {
                epochs: epoch,
                train_acc: 1.0,
                test_acc: accuracy(&valid, &data.test, &plain),
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

/// The valley checkpoint under `<out>/setup/`: loaded when present and made
/// for the same settings, else trained and written atomically.
pub fn valley(scale: &MlpScale, data: &MlpData, backend: BackendKind, out: &Path, force: bool, bar: &ProgressBar) -> anyhow::Result<(Mlp, ValleySummary)> {
    let dir = out.join("setup");
    let (record, meta) = (dir.join("valley.bpk"), dir.join("valley.json"));
    let key = ValleyKey::of(scale, backend);
    let device = backend.autodiff_device()?;
    if !force && record.is_file() {
        if let Ok(file) = read_json::<ValleyFile>(&meta) {
            if file.key == key {
                let model = model_config(scale)
                    .init(&device)
                    .try_load_file(&record)
                    .with_context(|| format!("loading the valley checkpoint {}", record.display()))?;
                bar.finish_and_clear();
                return Ok((model, file.summary));
            }
        }
    }
    let (model, summary) = train_valley(scale, data, backend, bar)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Atomic: write to a temporary sibling, then rename; the json (the marker) goes last.
    let tmp = dir.join(format!(".valley.bpk.tmp{}", std::process::id()));
    model.clone().save_file(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &record).with_context(|| format!("renaming to {}", record.display()))?;
    write_json(&meta, &ValleyFile { key, summary: summary.clone() })?;
    Ok((model, summary))
}

/// One (η, β) run from the valley checkpoint: `epochs_noisy` epochs of
/// minibatch heavy-ball SGD on cross-entropy with fresh label flips, then
/// `epochs_clean` epochs on the noise-free loss, with the same η, β and
/// minibatches. The data order and the flips come from the DataOrder and
/// LabelNoise streams of `scale.seed`, so every run sees the same minibatch
/// sequence and the same flips (common random numbers across the grid).
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
    let streams = Streams::new(scale.seed);
    let mut order_rng = streams.rng(RandomStream::DataOrder);
    let mut noise_rng = streams.rng(RandomStream::LabelNoise);
    let flip = LabelFlip::new(scale.label_noise_prob, 10)?;
    let noisy_loss = ExpectedLoss::hard(10)?;
    let clean_loss = match scale.clean_loss {
        CleanLoss::Expected => ExpectedLoss::new(scale.label_noise_prob, 10)?,
        CleanLoss::CrossEntropy => ExpectedLoss::hard(10)?,
    };
    let mut optim = HeavyBallConfig::new(MomentumRule::fixed(run.beta)?).init()?;
    let mut model = valley.clone();
    let start_test_acc = accuracy(&model.valid(), &data.test, &plain);
    let mut points = vec![EpochPoint { epoch: 0, train_loss: f64::NAN, test_acc: start_test_acc }];
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
            points.push(EpochPoint { epoch, train_loss, test_acc: f64::NAN });
            bar.inc(total - epoch);
            break;
        }
        if epoch % scale.eval_every == 0 || epoch == total || epoch == scale.epochs_noisy {
            let test_acc = accuracy(&model.valid(), &data.test, &plain);
            points.push(EpochPoint { epoch, train_loss, test_acc });
        }
    }
    // The best over the evaluations *during training* (the shared start excluded,
    // so runs that never improve on the valley still differ); the start when
    // the run diverged before its first evaluation.
    let best = points
        .iter()
        .skip(1)
        .filter(|p| p.test_acc.is_finite())
        .max_by(|a, b| a.test_acc.total_cmp(&b.test_acc))
        .unwrap_or(&points[0]);
    let last = points.last().expect("the start is recorded");
    let summary = MlpRunSummary {
        run: run.clone(),
        best_test_acc: best.test_acc,
        best_epoch: best.epoch,
        final_test_acc: last.test_acc.is_finite().then_some(last.test_acc),
        final_train_acc: (!diverged).then(|| accuracy(&model.valid(), &data.train, &plain)),
        start_test_acc,
        diverged,
        failed: diverged || !(last.test_acc >= flatter_runs::mlp::FAILED_ACC),
        wall_seconds: start.elapsed().as_secs_f64(),
    };
    Ok((summary, points))
}

fn metrics_csv(points: &[EpochPoint]) -> String {
    let mut csv = String::from("epoch,train_loss,test_acc\n");
    for p in points {
        writeln!(csv, "{},{},{}", p.epoch, p.train_loss, p.test_acc).expect("writing to a String");
    }
    csv
}

fn parse_metrics(text: &str) -> Option<Vec<EpochPoint>> {
    text.lines()
        .skip(1)
        .map(|line| {
            let mut f = line.split(',');
            Some(EpochPoint { epoch: f.next()?.parse().ok()?, train_loss: f.next()?.parse().ok()?, test_acc: f.next()?.parse().ok()? })
        })
        .collect()
}

/// A complete run on disk (its `summary.json` and `metrics.csv`), if it is one of this run.
fn completed(dir: &Path, run: &MlpRun) -> Option<(MlpRunSummary, Vec<EpochPoint>)> {
    let summary: MlpRunSummary = read_json(&dir.join("summary.json")).ok()?;
    if &summary.run != run {
        return None;
    }
    let points = parse_metrics(&std::fs::read_to_string(dir.join("metrics.csv")).ok()?)?;
    Some((summary, points))
}

/// Runs the MLP experiment at `scale_name` and writes everything under `out`.
pub fn run(scale_name: Scale, scale: &MlpScale, backend: BackendKind, out: &Path, opts: &MlpOptions) -> anyhow::Result<MlpSummary> {
    scale.validate().map_err(|(field, msg)| anyhow::anyhow!("{EXPERIMENT} [{scale_name}] {field}: {msg}"))?;
    let wall = Instant::now();
    let _lock = lock_dir(out)?;
    let config_path = out.join("config.json");
    let resolved = serde_json::to_value((scale_name, scale))?;
    if !opts.force {
        if let Ok(existing) = read_json::<serde_json::Value>(&config_path) {
            if existing != resolved {
                bail!(
                    "{} holds results of another config ({}); pass --force to overwrite, or choose another --out",
                    out.display(),
                    config_path.display()
                );
            }
        }
    }
    // A stale summary must never describe new runs: remove it before training.
    let summary_path = out.join("summary.json");
    if summary_path.exists() {
        std::fs::remove_file(&summary_path).with_context(|| format!("removing stale {}", summary_path.display()))?;
    }
    write_json(&config_path, &resolved)?;

    let data = load_data(scale, opts.data_dir.as_deref())?;
    let draw = |show: bool| if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let valley_bar = ProgressBar::with_draw_target(Some(scale.valley_max_epochs), draw(opts.show_progress));
    valley_bar.set_style(
        ProgressStyle::with_template("valley [{elapsed_precise}] {wide_bar} {pos}/{len} GD steps {msg}").expect("progress template"),
    );
    let (valley_model, valley_summary) = valley(scale, &data, backend, out, opts.force, &valley_bar)?;

    let runs = scale.runs();
    let epochs_per_run = scale.epochs_noisy + scale.epochs_clean;
    let bar = ProgressBar::with_draw_target(Some(epochs_per_run * runs.len() as u64), draw(opts.show_progress));
    bar.set_style(
        ProgressStyle::with_template("runs   [{elapsed_precise}] {wide_bar} {pos}/{len} epochs (eta {eta}) {msg}").expect("progress template"),
    );
    // Complete runs on disk are read back; the rest are trained by one worker
    // thread per core, each taking the next pending run (runs are independent,
    // so the order of completion changes nothing in the results).
    let mut slots: Vec<Option<(MlpRunSummary, Vec<EpochPoint>)>> = vec![None; runs.len()];
    let mut pending = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        match (!opts.force).then(|| completed(&out.join("runs").join(&run.id), run)).flatten() {
            Some(done) => {
                bar.inc(epochs_per_run);
                slots[i] = Some(done);
            }
            None => pending.push(i),
        }
    }
    let workers = opts.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).clamp(1, pending.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let trained = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some(&i) = pending.get(k) else { return Ok(()) };
                        let run = &runs[i];
                        let dir = out.join("runs").join(&run.id);
                        write_json(&dir.join("config.json"), run)?;
                        let (summary, points) = train_run(scale, &data, &valley_model, run, backend, &bar)?;
                        write_atomic(&dir.join("metrics.csv"), metrics_csv(&points).as_bytes())?;
                        // Written last and atomically: its presence means the run is complete.
                        write_json(&dir.join("summary.json"), &summary)?;
                        trained.lock().expect("no worker panicked").push((i, (summary, points)));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("a training thread panicked"))??;
        }
        Ok(())
    })?;
    for (i, result) in trained.into_inner().expect("no worker panicked") {
        slots[i] = Some(result);
    }
    let results: Vec<(MlpRunSummary, Vec<EpochPoint>)> = slots.into_iter().map(|s| s.expect("every run is complete")).collect();
    bar.finish();

    let run_summaries: Vec<MlpRunSummary> = results.iter().map(|r| r.0.clone()).collect();
    let (beta_star, slope, slope_error, criteria, mut notes) = analyse(scale, &run_summaries);
    notes.push(format!(
        "Valley: 100% train accuracy after {} full-batch GD steps at η₀ = {} (test accuracy there {:.4}).",
        valley_summary.epochs, scale.valley_lr, valley_summary.test_acc
    ));
    let mut summary = MlpSummary {
        experiment: EXPERIMENT.to_string(),
        scale: scale_name,
        dataset: data.description,
        config: scale.clone(),
        valley: valley_summary,
        runs: run_summaries,
        beta_star,
        slope,
        slope_error,
        criteria,
        figures: Vec::new(),
        choices: opts.choices.clone(),
        notes,
        wall_seconds: 0.0,
        backend: backend.name().to_string(),
    };
    let traces: Vec<(MlpRun, Vec<EpochPoint>)> = results.into_iter().map(|(s, p)| (s.run, p)).collect();
    summary.figures = write_figures(&summary, &traces, out).context("writing the MLP figures")?;
    summary.wall_seconds = wall.elapsed().as_secs_f64();
    write_json(&summary_path, &summary)?;
    Ok(summary)
}

/// The per-η fits and the criterion as a plain-text table.
pub fn report(summary: &MlpSummary) -> String {
    let mut s = String::new();
    writeln!(s, "{:>10} {:>10} {:>14} {:>9}  {}", "η", "β*", "log(1−β*)", "± se", "fit").unwrap();
    for b in &summary.beta_star {
        let fmt = |x: Option<f64>, p: usize| x.map_or("-".to_string(), |x| format!("{x:.p$}"));
        writeln!(
            s,
            "{:>10} {:>10} {:>14} {:>9}  {}",
            b.lr,
            fmt(b.beta_star, 4),
            fmt(b.log_one_minus_beta_star, 3),
            fmt(b.log_one_minus_beta_star_stderr, 3),
            b.error.as_deref().unwrap_or("interior")
        )
        .unwrap();
    }
    s.push_str(&crate::uv::criteria_table_of(&summary.criteria));
    s
}
