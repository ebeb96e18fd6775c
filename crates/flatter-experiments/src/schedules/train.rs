//! Training for the schedule study: the setup draws one set of initial
//! weights per seed (the backend's generator, seeded from the seed's Weights
//! stream); each job trains one run from its seed's weights, alone.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Context as _;
use burn::module::Module as _;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use flatter_device::BackendKind;
use flatter_optim::rng::{RandomStream, Streams};
use flatter_optim::{ExpectedLoss, HeavyBallConfig, LabelFlip};
use indicatif::ProgressBar;

use crate::harness::abort;
use crate::harness::hessian::hutchinson_trace;
use crate::harness::images::{ImageBatcher, epoch_order, label_tensor, minibatches};
use crate::harness::io::{write_atomic, write_json, write_record};
use crate::harness::plan::{Job, run_dir};
use crate::harness::TrainCtx;
use crate::mlp::model::{Mlp, MlpConfig};
use crate::mlp::train::{accuracy, fashion_subsets};
use crate::schedules::{CLASSES, EpochPoint, SchedRun, SchedRunSummary, SchedScale, SchedulesExp, Task};

/// The model of a scale: Fig. 5's 6-layer MLP (ReLU after layers 1–4, tanh after 5).
pub fn model_config(scale: &SchedScale) -> MlpConfig {
    let w = &scale.widths;
    MlpConfig { hidden: [w[0], w[1], w[2], w[3], w[4]], ..MlpConfig::fig5(w[0]) }
}

/// What every run shares: the data and each seed's initial weights.
pub struct Prepared {
    train: ImageBatcher,
    test: ImageBatcher,
    hessian: ImageBatcher,
    initial: Vec<(u64, Mlp)>,
}

/// Loads Fashion-MNIST (checksums verified), takes the scale's subsets and
/// draws every seed's initial weights, one seed after another from the
/// backend's generator (this setup runs alone: `SETUP_SEEDS_BACKEND`).
pub fn prepare(ctx: &TrainCtx<'_, SchedulesExp>) -> anyhow::Result<Prepared> {
    let scale = ctx.scale;
    let (train, test) = fashion_subsets(scale.train_per_class, scale.test_per_class, scale.subset_seed, ctx.inv.data_dir.as_deref())?;
    let hessian = train.subset_per_class(scale.hessian_per_class, scale.subset_seed)?;
    let device = ctx.backend.autodiff_device()?;
    let mut initial = Vec::new();
    for &seed in &scale.run_seeds {
        device.seed(Streams::new(seed).backend_seed());
        let model = model_config(scale).init(&device);
        // Burn draws lazily, at a parameter's first use: draw now, in this
        // exclusive setup, so that no job ever touches the generator.
        let _ = model.forward(Tensor::<2>::zeros([1, 784], &device));
        initial.push((seed, model));
    }
    Ok(Prepared { train: ImageBatcher::new(&train), test: ImageBatcher::new(&test), hessian: ImageBatcher::new(&hessian), initial })
}

/// One run: `epochs` epochs of minibatch heavy ball with β = rule(η_t) at
/// the schedule's η_t every step, cross-entropy on the task's targets, a
/// test evaluation after every epoch, and Hutchinson's tr H of the clean
/// cross-entropy on the Hessian subset at the end.
pub fn train_run(scale: &SchedScale, data: &Prepared, run: &SchedRun, backend: BackendKind, bar: &ProgressBar) -> anyhow::Result<SchedRunSummary> {
    let start = Instant::now();
    let device = backend.autodiff_device()?;
    let plain = backend.device()?;
    let streams = Streams::new(run.seed);
    let mut order_rng = streams.rng(RandomStream::DataOrder);
    let mut noise_rng = streams.rng(RandomStream::LabelNoise);
    let flip = LabelFlip::new(scale.label_noise_prob, CLASSES)?;
    let loss_fn = ExpectedLoss::hard(CLASSES)?;
    let total = scale.total_steps();
    let lr_at = |t: u64| scale.shapes.lr(run.schedule, run.peak_lr, t, total);
    let min_lr = scale.shapes.min_lr(run.schedule, run.peak_lr);
    run.rule.validate_lr_range(min_lr, run.peak_lr).with_context(|| format!("run {}", run.id))?;
    let mut optim = HeavyBallConfig::new(run.rule).init()?;
    let (_, initial) = data.initial.iter().find(|(s, _)| *s == run.seed).expect("a model per seed");
    // Fresh autodiff leaves with the same values (docs/notes/autodiff-deadlock.md).
    let mut model = initial.clone().fork(&device);
    let beta = |lr: f64| run.rule.beta(lr).expect("validated range");
    let mut points = vec![EpochPoint {
        epoch: 0,
        lr: lr_at(0),
        beta: beta(lr_at(0)),
        train_loss: f64::NAN,
        test_accuracy: accuracy(&model.valid(), &data.test, &plain),
    }];
    let mut step = 0u64;
    let mut diverged = false;
    for epoch in 1..=scale.epochs {
        let order = epoch_order(data.train.len(), &mut order_rng);
        let (mut sum, mut count) = (Tensor::<1>::zeros([1], &device), 0usize);
        let mut lr = lr_at(step);
        for idx in minibatches(&order, scale.batch_size) {
            let (x, labels) = data.train.batch(idx, &device);
            let targets = match run.task {
                Task::Noisy => flip.flip(&labels, &mut noise_rng)?,
                Task::Clean => labels,
            };
            let loss = loss_fn.loss(model.forward(x), label_tensor(&targets, &device));
            sum = sum + loss.clone().detach().mul_scalar(idx.len() as f64);
            count += idx.len();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            lr = lr_at(step);
            model = optim.step(lr, model, grads);
            step += 1;
        }
        let train_loss = sum.into_scalar::<f64>() / count as f64;
        bar.inc(1);
        if !train_loss.is_finite() {
            diverged = true;
            points.push(EpochPoint { epoch, lr, beta: beta(lr), train_loss, test_accuracy: f64::NAN });
            bar.inc(scale.epochs - epoch);
            break;
        }
        let test_accuracy = accuracy(&model.valid(), &data.test, &plain);
        points.push(EpochPoint { epoch, lr, beta: beta(lr), train_loss, test_accuracy });
    }
    let epochs_to_target = points.iter().skip(1).find(|p| p.test_accuracy >= scale.accuracy_target).map(|p| p.epoch);
    let final_test_accuracy = (!diverged).then(|| points.last().expect("epoch 0").test_accuracy);
    let (hessian_trace, hessian_trace_stderr) = if diverged {
        (None, None)
    } else {
        let (x, labels) = data.hessian.all(&device);
        let y = label_tensor(&labels, &device);
        let mut probes = streams.rng(RandomStream::Data);
        let est = hutchinson_trace(&model, |m: &Mlp| loss_fn.loss(m.forward(x.clone()), y.clone()), scale.hessian_probes, scale.hessian_eps, &mut probes);
        (Some(est.mean), Some(est.stderr))
    };
    Ok(SchedRunSummary {
        run: run.clone(),
        points,
        final_test_accuracy,
        epochs_to_target,
        hessian_trace,
        hessian_trace_stderr,
        diverged,
        wall_seconds: start.elapsed().as_secs_f64(),
    })
}

fn metrics_csv(points: &[EpochPoint]) -> String {
    let mut csv = String::from("epoch,lr,beta,train_loss,test_accuracy\n");
    for p in points {
        writeln!(csv, "{},{},{},{},{}", p.epoch, p.lr, p.beta, p.train_loss, p.test_accuracy).expect("writing to a String");
    }
    csv
}

/// Trains one run (a job) and writes its records, the summary last.
pub fn train(ctx: &TrainCtx<'_, SchedulesExp>, prepared: &Prepared, job: &Job) -> anyhow::Result<()> {
    let runs = ctx.scale.runs();
    let run = runs.iter().find(|r| r.id == job.id).expect("a job per run");
    let bar = ctx.progress.job_bar(&run.id, ctx.scale.epochs);
    let dir = run_dir(ctx.out, &run.id);
    write_json(&dir.join("config.json"), run)?;
    abort::at("schedules.run.config");
    let summary = train_run(ctx.scale, prepared, run, ctx.backend, &bar)?;
    bar.finish_and_clear();
    write_atomic(&dir.join("metrics.csv"), metrics_csv(&summary.points).as_bytes())?;
    abort::at("schedules.run.metrics");
    // Written last and atomically: its presence means the run is complete.
    write_record(&dir.join("summary.json"), &summary)?;
    abort::at("schedules.run.summary");
    Ok(())
}
