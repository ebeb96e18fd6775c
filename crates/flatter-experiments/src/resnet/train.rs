//! Training ResNet-18 through the three-phase protocol of Fig. 2 / Fig. 4.
//! `crate::harness::run_experiment` drives it; the analysis is in the parent
//! module and reads only what this writes.
//!
//! Layout of the output directory:
//! - `config.json`: the resolved scale, written before training;
//! - `setup/`: phase 1's result, `phase1.bpk` and then its manifest
//!   `phase1.json` (the [`Phase1Summary`], the setup key it was made for and
//!   the SHA-256 of `phase1.bpk`), reused whenever it verifies and its key
//!   matches; while phase 1 runs, its resumable checkpoint lives in
//!   `setup/phase1-progress/`;
//! - `runs/<id>/{config.json, metrics.csv, summary.json}`, `summary.json` last;
//!   while a run trains, its resumable checkpoint lives in `runs/<id>/checkpoint/`;
//! - `figures/*.svg|png`; and last `summary.json`.
//!
//! BatchNorm: in the full-batch phases (1 and 3) the gradient is accumulated
//! over chunks and every chunk is normalised with its own batch statistics;
//! in phase 2 every minibatch uses its own. Evaluation uses evaluation mode
//! (running statistics), and the running statistics are recomputed over the
//! whole training set (the chunk-size-weighted average of the chunk
//! statistics) right before every evaluation, so no number depends on the
//! last minibatches that happened to be seen.
//!
//! Resuming: phase 1 and every phase-2 run save the model record, the
//! optimizer record (π) and a [`Checkpoint`] (epoch, step, metrics so far)
//! at epoch ends as one unit: `model.<g>.bpk` and `optim.<g>.bpk` of
//! generation g, then `manifest.json` (the position, the key and both files'
//! SHA-256), then generation g − 1 is removed ([`FileSet`]). A kill at any
//! point resumes from the last complete generation; a set that does not
//! verify is discarded and the phase starts over. Data order and label noise of epoch e come from
//! ChaCha8 streams of (seed, stream, e), so a resumed run replays exactly what
//! a straight run would have done. Phase 3 is short and is redone from the
//! phase-2 result when interrupted.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Device, Tensor};
use burn::tensor::Bytes;
use flatter_data::{Cifar10, DataError, FashionMnist, ImageDataset, Split, Verify};
use flatter_optim::rng::{RandomStream, Streams};
use flatter_optim::{ExpectedLoss, HeavyBallConfig, LabelFlip, MomentumRule};
use indicatif::{ProgressBar, ProgressDrawTarget};
use serde::{Deserialize, Serialize};

use crate::harness::TrainCtx;
use crate::harness::abort;
use crate::harness::setup::{FileSet, SetupKey};
use crate::harness::images::{ImageBatcher, epoch_order, label_tensor};
use crate::harness::io::{write_atomic, write_json, write_record};
use crate::harness::plan::{Job, run_dir};
use crate::harness::progress::Progress;
use crate::resnet::model::{ResNet, ResNetConfig};
use crate::resnet::{Checkpoint, RunTiming, DatasetChoice, Phase1Summary, ResnetExp, ResnetRun, ResnetRunSummary, ResnetScale, dataset_label};

/// The training and test images of a scale.
pub struct Data {
    /// Training images (a class-balanced subset when the scale asks for one).
    pub train: ImageBatcher,
    /// Test images: the projected accuracy (the score of eq. 14) is measured on these.
    pub test: ImageBatcher,
    /// The phase-2 epoch curve's test images (Fig. 4, C14): a class-balanced
    /// subset of `test`, or all of them.
    pub test_curve: ImageBatcher,
    /// Number of classes.
    pub num_classes: usize,
    /// Whether this is CIFAR-10 (else Fashion-MNIST padded to 32×32).
    pub is_cifar: bool,
}

impl Data {
    /// Says plainly which data these are.
    pub fn label(&self) -> String {
        dataset_label(self.is_cifar, self.train.len(), self.test.len())
    }
}

fn subset(d: ImageDataset, per_class: usize, seed: u64) -> anyhow::Result<ImageDataset> {
    if per_class == 0 { Ok(d) } else { Ok(d.subset_per_class(per_class, seed)?) }
}

/// Loads the data a scale names: CIFAR-10, or Fashion-MNIST padded to 32×32.
pub fn load_data(scale: &ResnetScale, data_dir: Option<&Path>) -> anyhow::Result<Data> {
    let cifar = match scale.dataset {
        DatasetChoice::FashionMnistPadded => None,
        DatasetChoice::Cifar10 => Some(
            (Cifar10::load(data_dir, Split::Train, Verify::Strict)?, Cifar10::load(data_dir, Split::Test, Verify::Strict)?),
        ),
        // Only CIFAR-10 absent from every place looked at (`NotFound`) falls
        // back to Fashion-MNIST (and the summary says so); a directory with
        // some of its files (`DataError::Partial`) or damaged files is an
        // error, never a silent fallback (issue 17).
        DatasetChoice::Auto => match Cifar10::load(data_dir, Split::Train, Verify::Strict) {
            Ok(train) => Some((train, Cifar10::load(data_dir, Split::Test, Verify::Strict)?)),
            Err(DataError::NotFound { .. }) => None,
            Err(e) => return Err(e).context("CIFAR-10 is present but does not load"),
        },
    };
    let (train, test, is_cifar) = match cifar {
        Some((train, test)) => (train, test, true),
        None => {
            let train = FashionMnist::load(data_dir, Split::Train, Verify::Strict).context("loading Fashion-MNIST")?;
            let test = FashionMnist::load(data_dir, Split::Test, Verify::Strict).context("loading Fashion-MNIST")?;
            (train.pad_to(32, 32)?, test.pad_to(32, 32)?, false)
        }
    };
    let train = subset(train, scale.train_per_class, scale.subset_seed)?;
    let test = subset(test, scale.test_per_class, scale.subset_seed.wrapping_add(1))?;
    // The curve's images are drawn from the scored ones; with the scored set
    // the whole split, the same seed gives the subset a `test_per_class` of
    // the same size would.
    let test_curve = subset(test.clone(), scale.curve_test_per_class, scale.subset_seed.wrapping_add(1))?;
    Ok(Data {
        num_classes: train.num_classes,
        train: ImageBatcher::new(&train),
        test: ImageBatcher::new(&test),
        test_curve: ImageBatcher::new(&test_curve),
        is_cifar,
    })
}

/// The network of a scale.
pub fn model_config(scale: &ResnetScale, data: &Data) -> ResNetConfig {
    ResNetConfig::new(data.train.shape()[0], data.num_classes).with_base_width(scale.base_width).with_norm(scale.norm)
}

/// Recomputes the BatchNorm running statistics over the training set: chunk
/// k gets momentum len_k / (len_0 + … + len_k), so the result is the
/// size-weighted average of the chunk statistics. Needs an autodiff device
/// (BatchNorm updates its statistics only in training mode there).
pub fn recalibrate_bn(mut model: ResNet, images: &ImageBatcher, chunk: usize, device: &Device) -> ResNet {
    if !model.has_batch_norm() {
        return model;
    }
    let mut seen = 0usize;
    for idx in images.chunks(chunk) {
        seen += idx.len();
        model.set_bn_momentum(idx.len() as f64 / seen as f64);
        let (x, _) = images.batch_images(&idx, device);
        drop(model.forward(x.detach()));
    }
    model.set_bn_momentum(0.1);
    model
}

/// Share of `images` classified correctly in evaluation mode.
pub fn accuracy(model: &ResNet, images: &ImageBatcher, chunk: usize, device: &Device) -> f64 {
    let eval = model.valid();
    let plain = device.clone().without_autodiff();
    let mut correct = 0.0;
    for idx in images.chunks(chunk) {
        let (x, y) = images.batch_images(&idx, &plain);
        correct += count_correct(eval.forward(x), &y, &plain);
    }
    correct / images.len() as f64
}

fn count_correct(logits: Tensor<2>, y: &[i64], device: &Device) -> f64 {
    let n = y.len();
    logits.argmax(1).reshape([n]).equal(label_tensor(y, device)).float().sum().into_scalar::<f64>()
}

/// Recalibrates, then measures (train accuracy, test accuracy on `test`) in evaluation mode.
fn evaluate(model: ResNet, data: &Data, test: &ImageBatcher, chunk: usize, device: &Device, with_train: bool) -> (ResNet, f64, f64) {
    let model = recalibrate_bn(model, &data.train, chunk, device);
    let train = if with_train { accuracy(&model, &data.train, chunk, device) } else { f64::NAN };
    let test = accuracy(&model, test, chunk, device);
    (model, train, test)
}

/// One full-batch gradient of the expected loss, accumulated over chunks.
/// Returns the gradient, the expected loss and the training-mode train accuracy.
fn full_batch_gradient(model: &ResNet, data: &Data, loss: &ExpectedLoss, chunk: usize, device: &Device) -> (GradientsParams, f64, f64) {
    let n = data.train.len() as f64;
    let mut acc = GradientsAccumulator::<ResNet>::new();
    let (mut total, mut correct) = (0.0, 0.0);
    for idx in data.train.chunks(chunk) {
        let (x, y) = data.train.batch_images(&idx, device);
        let logits = model.forward(x);
        correct += count_correct(logits.clone().detach(), &y, device);
        let l = loss.loss(logits, label_tensor(&y, device)).mul_scalar(idx.len() as f64 / n);
        total += l.clone().into_scalar::<f64>();
        acc.accumulate(model, GradientsParams::from_grads(l.backward(), model));
    }
    (acc.grads(), total, correct / n)
}

/// What a checkpoint's manifest carries beside its two files: the
/// generation g of `model.<g>.bpk` and `optim.<g>.bpk`, the key of what is
/// being trained (phase 1's setup, or the run), and the position.
#[derive(Serialize, Deserialize)]
struct CheckpointState {
    generation: u64,
    key: SetupKey,
    #[serde(flatten)]
    position: Checkpoint,
}

/// A resumable checkpoint directory (`setup/phase1-progress/`, `runs/<id>/checkpoint/`).
struct CheckpointDir<'a> {
    set: FileSet<'a>,
    key: SetupKey,
    /// The generation the next save writes.
    next: u64,
}

impl<'a> CheckpointDir<'a> {
    fn new(dir: &'a Path, point: &'a str, key: SetupKey) -> Self {
        CheckpointDir { set: FileSet { dir, manifest: "manifest.json", point }, key, next: 0 }
    }

    /// Saves generation `next` as one unit (see the module docs), then
    /// removes the previous one.
    fn save(&mut self, model: &ResNet, optim: &ModuleOptimizer, position: &Checkpoint) -> anyhow::Result<()> {
        let g = self.next;
        let model_bytes = model.valid().into_record().into_bytes().context("serialising the model record")?;
        let optim_bytes = optim.into_bytes().context("serialising the optimizer record")?;
        let (model_name, optim_name) = (format!("model.{g}.bpk"), format!("optim.{g}.bpk"));
        let state = CheckpointState { generation: g, key: self.key.clone(), position: position.clone() };
        self.set.write(&[("model", &model_name, &model_bytes), ("optim", &optim_name, &optim_bytes)], &state, true)?;
        self.next = g + 1;
        Ok(())
    }

    /// The last complete generation, when there is one that verifies and was
    /// saved for this key (one saved for another key is discarded).
    fn load(
        &mut self,
        config: &ResNetConfig,
        optim: impl FnOnce() -> anyhow::Result<ModuleOptimizer>,
        device: &Device,
    ) -> anyhow::Result<Option<(ResNet, ModuleOptimizer, Checkpoint)>> {
        let Some(loaded) = self.set.load::<CheckpointState>()? else { return Ok(None) };
        if loaded.state.key != self.key {
            eprintln!("note: discarding {}: it was saved for other settings", self.set.dir.display());
            self.set.invalidate()?;
            return Ok(None);
        }
        let model_path = self.set.dir.join(format!("model.{}.bpk", loaded.state.generation));
        let model = model_from_bytes(&loaded.files["model"], &model_path, config, device)?;
        let optim_bytes = Bytes::from_bytes_vec(loaded.files["optim"].clone());
        let optim = optim()?.from_bytes(optim_bytes).context("loading the optimizer record")?;
        self.next = loaded.state.generation + 1;
        Ok(Some((model, optim, loaded.state.position)))
    }

    /// Removes the directory once its phase is complete (the manifest first).
    fn remove(&self) -> anyhow::Result<()> {
        Ok(self.set.remove()?)
    }
}

/// A model from a verified burnpack record; `path` names where it came from.
fn model_from_bytes(bytes: &[u8], path: &Path, config: &ResNetConfig, device: &Device) -> anyhow::Result<ResNet> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).with_context(|| format!("reading {}", path.display()))?;
    config.init(device).try_load_record(record).with_context(|| format!("loading {}", path.display()))
}

/// `setup/phase1.json`: phase 1's summary (what the analysis reads) with the
/// key it was made for, flattened into the manifest of `phase1.bpk`.
#[derive(Serialize, Deserialize)]
struct Phase1File {
    key: SetupKey,
    #[serde(flatten)]
    summary: Phase1Summary,
}

/// Everything the phases share.
struct Ctx<'a> {
    scale: &'a ResnetScale,
    data: &'a Data,
    config: ResNetConfig,
    device: Device,
    stop_after_steps: Option<u64>,
    progress: Option<&'a Progress>,
    force: bool,
    /// Optimizer steps taken in this process, over every worker (the
    /// `stop_after_steps` test hook counts these).
    steps: &'a std::sync::atomic::AtomicU64,
}

impl Ctx<'_> {
    fn step_taken(&mut self) -> anyhow::Result<()> {
        let steps = self.steps.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if self.stop_after_steps.is_some_and(|k| steps >= k) {
            bail!("interrupted after {steps} steps (stop_after_steps)");
        }
        Ok(())
    }

    fn bar(&self, len: u64, prefix: &str) -> ProgressBar {
        match self.progress {
            Some(p) => p.job_bar(prefix, len),
            None => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden()),
        }
    }

    fn expected_loss(&self) -> anyhow::Result<ExpectedLoss> {
        Ok(ExpectedLoss::new(self.scale.label_noise_prob, self.data.num_classes)?)
    }
}

/// What the phase-1 checkpoint depends on; it is reused only when this matches.
fn setup_key(scale: &ResnetScale, data: &Data) -> SetupKey {
    SetupKey::of(&serde_json::json!({
        "dataset": data.label(),
        "train_per_class": scale.train_per_class,
        "test_per_class": scale.test_per_class,
        "curve_test_per_class": scale.curve_test_per_class,
        "subset_seed": scale.subset_seed,
        "base_width": scale.base_width,
        "norm": scale.norm,
        "label_noise_prob": scale.label_noise_prob,
        "chunk_size": scale.chunk_size,
        "seed": scale.seed,
        "phase1": scale.phase1,
    }))
}

/// Phase 1: full-batch heavy-ball GD on the expected loss, warm-up then
/// cosine, until 100% train accuracy or the end of the schedule. Saved once
/// under `setup/`; a matching saved result that verifies is loaded instead.
/// Returns the model's record (the bytes of `setup/phase1.bpk`) and the summary.
fn phase1(ctx: &mut Ctx, out: &Path) -> anyhow::Result<(Vec<u8>, Phase1Summary)> {
    // Shards running at once: one computes phase 1, the others wait and load it.
    let _setup_lock = crate::harness::plan::lock_setup(out)?;
    let setup = out.join("setup");
    let key = setup_key(ctx.scale, ctx.data);
    let result = FileSet { dir: &setup, manifest: "phase1.json", point: "resnet.phase1" };
    let progress_dir = setup.join("phase1-progress");
    let mut progress = CheckpointDir::new(&progress_dir, "resnet.phase1-progress", key.clone());
    if let Some(loaded) = result.load::<Phase1File>()? {
        if loaded.state.key == key {
            // A kill after the result, before its progress was removed, left the progress behind.
            progress.remove()?;
            let mut files = loaded.files;
            return Ok((files.remove("model").expect("the manifest names the model"), loaded.state.summary));
        }
        // A different setup: nothing under setup/ belongs to this config.
        result.remove().with_context(|| format!("removing stale {}", setup.display()))?;
    }
    let p1 = ctx.scale.phase1.clone();
    let rule = MomentumRule::fixed(p1.momentum)?;
    let make = || Ok(HeavyBallConfig::new(rule).init()?);
    let start = Instant::now();
    let (mut model, mut optim, mut state) = match progress.load(&ctx.config, make, &ctx.device)? {
        Some(loaded) => loaded,
        None => {
            ctx.device.seed(flatter_optim::Streams::new(ctx.scale.seed).backend_seed());
            let model = ctx.config.init(&ctx.device);
            (model, make()?, Checkpoint { epoch: 0, steps: 0, eval_epochs: vec![], test_accuracy: vec![], wall_seconds: 0.0 })
        }
    };
    // Wall time of earlier processes (a resumed phase 1 adds this one's).
    let prior_wall = state.wall_seconds;
    let loss = ctx.expected_loss()?;
    let bar = ctx.bar(p1.total_epochs, "phase 1 (valley)");
    bar.set_position(state.epoch);
    let (reached, train_accuracy, last_loss) = loop {
        let (grads, l, acc) = full_batch_gradient(&model, ctx.data, &loss, ctx.scale.chunk_size, &ctx.device);
        bar.set_message(format!("loss {l:.4} train acc {:.1}%", 100.0 * acc));
        if !l.is_finite() {
            bail!("phase 1 diverged at epoch {}: expected loss {l}", state.epoch);
        }
        if acc >= 1.0 || state.epoch >= p1.total_epochs {
            break (acc >= 1.0, acc, l);
        }
        model = optim.step(ctx.scale.phase1_lr(state.epoch), model, grads);
        state.epoch += 1;
        state.steps += 1;
        bar.inc(1);
        if state.epoch % p1.checkpoint_every == 0 {
            state.wall_seconds = prior_wall + start.elapsed().as_secs_f64();
            progress.save(&model, &optim, &state)?;
        }
        ctx.step_taken()?;
    };
    bar.finish();
    let (model, train_eval, test) = evaluate(model, ctx.data, &ctx.data.test, ctx.scale.chunk_size, &ctx.device, true);
    // The BatchNorm statistics are already recalibrated: only the curve's images are new.
    let test_curve = accuracy(&model, &ctx.data.test_curve, ctx.scale.chunk_size, &ctx.device);
    let summary = Phase1Summary {
        epochs: state.epoch,
        reached_full_accuracy: reached,
        train_accuracy,
        train_accuracy_eval: train_eval,
        test_accuracy: test,
        expected_loss: last_loss,
        parameters: model.num_trainable_params(),
        wall_seconds: prior_wall + start.elapsed().as_secs_f64(),
        dataset: ctx.data.label(),
        n_test: ctx.data.test.len(),
        test_accuracy_curve: test_curve,
        n_test_curve: ctx.data.test_curve.len(),
        is_cifar: ctx.data.is_cifar,
    };
    let bytes = model.valid().into_record().into_bytes().context("serialising the phase-1 model")?;
    // Under fixed names: the manifest goes first, so no old phase1.json can vouch for a new phase1.bpk.
    result.invalidate()?;
    result.write(&[("model", "phase1.bpk", &bytes)], &Phase1File { key, summary: summary.clone() }, false)?;
    progress.remove()?;
    Ok((bytes.to_vec(), summary))
}

/// Phase 2 (label-noise heavy-ball SGD) and phase 3 (full-batch Adam back
/// onto the valley) of one run, resumable at epoch ends.
fn train_run(ctx: &mut Ctx, out: &Path, run: &ResnetRun, phase1: &[u8], baseline: f64) -> anyhow::Result<ResnetRunSummary> {
    let dir = run_dir(out, &run.id);
    let ckpt_dir = dir.join("checkpoint");
    let mut ckpt = CheckpointDir::new(&ckpt_dir, "resnet.run-checkpoint", SetupKey::of(run));
    if ctx.force {
        // --force retrains from phase 1's weights, never from an old checkpoint.
        ckpt.remove()?;
    }
    write_json(&dir.join("config.json"), run)?;
    abort::at("resnet.run.config");
    let p2 = ctx.scale.phase2.clone();
    let rule = MomentumRule::scaled_with_gamma(run.c_multiplier * p2.c, p2.gamma)?;
    let make = || Ok(HeavyBallConfig::new(rule).init()?);
    let start = Instant::now();
    let (mut model, mut optim, mut state) = match ckpt.load(&ctx.config, make, &ctx.device)? {
        Some(loaded) => loaded,
        None => {
            // π₀ = 0: a fresh optimizer on phase 1's weights (its record, verified or just written).
            let model = model_from_bytes(phase1, &out.join("setup").join("phase1.bpk"), &ctx.config, &ctx.device)?;
            (model, make()?, Checkpoint { epoch: 0, steps: 0, eval_epochs: vec![0], test_accuracy: vec![baseline], wall_seconds: 0.0 })
        }
    };
    let prior_wall = state.wall_seconds;
    let flip = LabelFlip::new(ctx.scale.label_noise_prob, ctx.data.num_classes)?;
    let hard = ExpectedLoss::hard(ctx.data.num_classes)?;
    let n = ctx.data.train.len();
    let per_epoch = (n / p2.batch_size).max(1) as u64;
    let bar = ctx.bar(p2.epochs * per_epoch, &run.id);
    bar.set_position(state.epoch * per_epoch);
    let mut error = None;
    let mut timing = RunTiming::default();
    'epochs: while state.epoch < p2.epochs {
        let streams = Streams::new(run.seed);
        let order = epoch_order(n, &mut streams.epoch_rng(RandomStream::DataOrder, state.epoch));
        let mut noise = streams.epoch_rng(RandomStream::LabelNoise, state.epoch);
        // Full batches only; the remainder (n mod batch) of the shuffled order is dropped.
        for idx in order.chunks_exact(p2.batch_size.min(n)) {
            let step_start = Instant::now();
            let (stepped, value) = phase2_step(model, &mut optim, run.lr, &ctx.data.train, idx, (&flip, &mut noise), &hard, &ctx.device)?;
            model = stepped;
            if !value.is_finite() {
                error = Some(format!("diverged in epoch {} (loss {value})", state.epoch + 1));
                break 'epochs;
            }
            timing.phase2_steps += step_start.elapsed().as_secs_f64();
            timing.phase2_step_count += 1;
            state.steps += 1;
            bar.inc(1);
            ctx.step_taken()?;
        }
        state.epoch += 1;
        if state.epoch % p2.eval_every == 0 || state.epoch == p2.epochs {
            let eval_start = Instant::now();
            let (m, _, test) = evaluate(model, ctx.data, &ctx.data.test_curve, ctx.scale.chunk_size, &ctx.device, false);
            model = m;
            state.eval_epochs.push(state.epoch);
            state.test_accuracy.push(test);
            timing.curve_evals += eval_start.elapsed().as_secs_f64();
            timing.curve_eval_count += 1;
            bar.set_message(format!("test acc {:.1}%", 100.0 * test));
        }
        state.wall_seconds = prior_wall + start.elapsed().as_secs_f64();
        ckpt.save(&model, &optim, &state)?;
    }
    bar.finish();
    let best = state.test_accuracy.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut summary = ResnetRunSummary {
        run: run.clone(),
        epochs: state.eval_epochs.clone(),
        test_accuracy: state.test_accuracy.clone(),
        best_test_accuracy: best,
        train_accuracy_phase2: f64::NAN,
        train_accuracy_projected: f64::NAN,
        test_accuracy_projected: f64::NAN,
        phase3_steps: 0,
        error: error.clone(),
        wall_seconds: 0.0,
        timing: RunTiming::default(),
    };
    if error.is_none() {
        let model = recalibrate_bn(model, &ctx.data.train, ctx.scale.chunk_size, &ctx.device);
        summary.train_accuracy_phase2 = accuracy(&model, &ctx.data.train, ctx.scale.chunk_size, &ctx.device);
        let phase3_start = Instant::now();
        let projected = phase3(ctx, model)?;
        timing.phase3 = phase3_start.elapsed().as_secs_f64();
        match projected {
            Ok((model, steps)) => {
                summary.phase3_steps = steps;
                let eval_start = Instant::now();
                let (_, train, test) = evaluate(model, ctx.data, &ctx.data.test, ctx.scale.chunk_size, &ctx.device, true);
                summary.train_accuracy_projected = train;
                summary.test_accuracy_projected = test;
                timing.final_eval = eval_start.elapsed().as_secs_f64();
            }
            // A diverged projection is this run's outcome, recorded like a
            // phase-2 divergence, not an error that would stop the experiment.
            Err((steps, why)) => {
                summary.phase3_steps = steps;
                summary.error = Some(why);
            }
        }
    }
    summary.timing = timing;
    summary.wall_seconds = prior_wall + start.elapsed().as_secs_f64();
    write_atomic(&dir.join("metrics.csv"), metrics_csv(&summary).as_bytes())?;
    abort::at("resnet.run.metrics");
    write_record(&dir.join("summary.json"), &summary)?;
    abort::at("resnet.run.summary");
    ckpt.remove()?;
    Ok(summary)
}

/// One phase-2 step (Sec. 4.2): the images `idx` of `images`, their labels
/// flipped afresh with `flip`'s probability from the label-noise stream, the
/// cross-entropy on the flipped labels, backward, and the HeavyBall update
/// of eq. (1) at `lr`. Returns the model and the loss before the update; a
/// non-finite loss returns the model unchanged (the caller records the
/// divergence). `flatter_experiments::gpu_check` times this same function.
#[allow(clippy::too_many_arguments)]
pub fn phase2_step(
    model: ResNet,
    optim: &mut ModuleOptimizer,
    lr: f64,
    images: &ImageBatcher,
    idx: &[usize],
    (flip, noise): (&LabelFlip, &mut rand::rngs::ChaCha8Rng),
    hard: &ExpectedLoss,
    device: &Device,
) -> anyhow::Result<(ResNet, f64)> {
    let (x, y) = images.batch_images(idx, device);
    let noisy = flip.flip(&y, noise)?;
    let loss = hard.loss(model.forward(x), label_tensor(&noisy, device));
    let value = loss.clone().into_scalar::<f64>();
    if !value.is_finite() {
        return Ok((model, value));
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    Ok((optim.step(lr, model, grads), value))
}

/// Phase 3: full-batch Adam on the expected loss (no sampled label noise),
/// until the training-mode train accuracy is 100% or `phase3.steps` steps
/// were taken. Returns the model and the steps taken, or, when the expected
/// loss became non-finite, the steps and why (a recorded outcome).
#[allow(clippy::type_complexity)]
fn phase3(ctx: &mut Ctx, mut model: ResNet) -> anyhow::Result<Result<(ResNet, u64), (u64, String)>> {
    let loss = ctx.expected_loss()?;
    let mut adam = AdamConfig::new().init();
    for step in 0..ctx.scale.phase3.steps {
        let (grads, l, acc) = full_batch_gradient(&model, ctx.data, &loss, ctx.scale.chunk_size, &ctx.device);
        if !l.is_finite() {
            return Ok(Err((step, format!("phase 3 diverged at Adam step {step} (expected loss {l})"))));
        }
        if acc >= 1.0 {
            return Ok(Ok((model, step)));
        }
        model = adam.step(ctx.scale.phase3.lr, model, grads);
    }
    Ok(Ok((model, ctx.scale.phase3.steps)))
}

fn metrics_csv(s: &ResnetRunSummary) -> String {
    let mut csv = String::from("epoch,test_accuracy\n");
    for (e, a) in s.epochs.iter().zip(&s.test_accuracy) {
        writeln!(csv, "{e},{a:e}").expect("writing to a String");
    }
    csv
}

/// What every run shares: the data, the device, phase 1's record and its
/// curve accuracy, and the step count of the `stop_after_steps` test hook
/// (over every job of the process).
pub struct Prepared {
    data: Data,
    device: Device,
    phase1_record: Vec<u8>,
    baseline: f64,
    steps: std::sync::atomic::AtomicU64,
}

fn job_ctx<'a>(ctx: &'a TrainCtx<'_, ResnetExp>, data: &'a Data, device: &Device, steps: &'a std::sync::atomic::AtomicU64) -> Ctx<'a> {
    Ctx {
        scale: ctx.scale,
        data,
        config: model_config(ctx.scale, data),
        device: device.clone(),
        stop_after_steps: ctx.inv.stop_after_steps,
        progress: Some(ctx.progress),
        force: ctx.inv.opts.force,
        steps,
    }
}

/// The setup node: loads the data and trains phase 1 once (or loads it from
/// `setup/`).
pub fn prepare(ctx: &TrainCtx<'_, ResnetExp>) -> anyhow::Result<Prepared> {
    let (scale, out) = (ctx.scale, ctx.out);
    let data = load_data(scale, ctx.inv.data_dir.as_deref())?;
    let device = ctx.backend.autodiff_device()?;
    let steps = std::sync::atomic::AtomicU64::new(0);
    let (phase1_record, p1) = phase1(&mut job_ctx(ctx, &data, &device, &steps), out)?;
    // A run killed after its summary but before its checkpoint was removed is
    // complete: its checkpoint is dead weight (another shard may race us to it).
    for run in &scale.runs() {
        let dir = run_dir(out, &run.id);
        if dir.join("summary.json").exists() && dir.join("checkpoint").exists() {
            std::fs::remove_dir_all(dir.join("checkpoint")).ok();
        }
    }
    Ok(Prepared { data, device, phase1_record, baseline: p1.test_accuracy_curve, steps })
}

/// Trains one run (a job), resumable at epoch ends. It starts from phase 1's
/// record bytes (fresh leaves, nothing shared between workers' graphs) and
/// draws only from its own seed's streams, so its numbers do not depend on
/// the worker that trains it or on what runs beside it.
pub fn train(ctx: &TrainCtx<'_, ResnetExp>, prepared: &Prepared, job: &Job) -> anyhow::Result<()> {
    let runs = ctx.scale.runs();
    let run = runs.iter().find(|r| r.id == job.id).expect("a job per run");
    let mut run_ctx = job_ctx(ctx, &prepared.data, &prepared.device, &prepared.steps);
    train_run(&mut run_ctx, ctx.out, run, &prepared.phase1_record, prepared.baseline)?;
    Ok(())
}
