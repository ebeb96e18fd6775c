//! The Fashion-MNIST MLP (Fig. 5's network) trained the way most Burn users
//! train: burn-train's `SupervisedTraining::launch` with a `Learner`, here
//! with `HeavyBall` and the scaling rule 1 − β = C·η^(2/3) under Burn's own
//! warm-up + cosine scheduler (issue 16). Each epoch it prints the learning
//! rate of the last step, the β the rule gives for it, the effective rate
//! η/(1 − β), the training loss, and the test loss and accuracy: β follows
//! the schedule.
//!
//! ```sh
//! cargo run --release --example learner                       # 5 epochs on 10,000 training images
//! cargo run --release --example learner -- --epochs 10 --train-per-class 6000
//! ```
//!
//! The data come from `--data-dir`, else `FLATTER_DATA_DIR`, the user cache,
//! or Debian's `/usr/share/datasets/fashion-mnist` (`cargo xtask data fetch
//! fashion-mnist` downloads them). burn-train writes its logs under `--logs`.

use std::path::PathBuf;
use std::sync::Arc;

use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{Learner, SupervisedTraining};
use clap::Parser;
use flatter::device::default_autodiff_device;
use flatter::experiments::harness::images::ImageBatcher;
use flatter::experiments::mlp::model::MlpConfig;
use flatter::optim::{HeavyBallConfig, MomentumRule, Streams};
use flatter_data::{FashionMnist, Split, Verify};
use flatter_learner::launch::{EpochTable, MomentumMetric, loader};
use flatter_learner::{Classifier, warmup_cosine};

#[derive(Parser, Debug)]
#[command(about = "Train the Fashion-MNIST MLP through burn-train's Learner and SupervisedTraining::launch, with HeavyBall and the scaling rule")]
struct Args {
    /// Epochs.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Training images per class (6000: all 60,000).
    #[arg(long, default_value_t = 1000)]
    train_per_class: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Peak learning rate, reached after the warm-up epoch.
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// β at the peak learning rate; the rule 1 − β = C·η^(2/3) sets C from it.
    #[arg(long, default_value_t = 0.9)]
    beta_at_peak: f64,
    /// Hidden width of the six-layer MLP.
    #[arg(long, default_value_t = 128)]
    width: usize,
    /// Seed of the weights and the data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The directory with the Fashion-MNIST files.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where burn-train writes its metric logs and `experiment.log`.
    #[arg(long, default_value = "target/learner-example")]
    logs: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.epochs >= 2, "--epochs must be at least 2 (one of warm-up, then the cosine)");
    let (backend, device) = default_autodiff_device()?;
    let plain = device.clone().without_autodiff();
    let train = FashionMnist::load(args.data_dir.as_deref(), Split::Train, Verify::Strict)?;
    let train = if args.train_per_class >= 6000 { train } else { train.subset_per_class(args.train_per_class, args.seed)? };
    let test = FashionMnist::load(args.data_dir.as_deref(), Split::Test, Verify::Strict)?;
    let (train, test) = (Arc::new(ImageBatcher::new(&train)), Arc::new(ImageBatcher::new(&test)));
    let steps_per_epoch = train.len().div_ceil(args.batch);
    anyhow::ensure!(args.batch <= train.len(), "--batch {} is larger than the {} training images", args.batch, train.len());

    let streams = Streams::new(args.seed);
    device.seed(streams.backend_seed());
    let rule = MomentumRule::scaled_through(args.lr, args.beta_at_peak, 2.0 / 3.0)?;
    let total = args.epochs * steps_per_epoch;
    // One epoch of linear warm-up, then cosine to a hundredth of the peak
    // (the rule needs η > 0 at every step).
    let schedule = warmup_cosine(args.lr, steps_per_epoch, total, args.lr / 100.0).map_err(anyhow::Error::msg)?;
    rule.validate_lr_range(args.lr / steps_per_epoch as f64, args.lr)?;
    let model = Classifier { mlp: MlpConfig::fig5(args.width).init(&device) };
    let learner = Learner::new(model, HeavyBallConfig::new(rule).init()?, schedule);

    println!(
        "{} training and {} test images, batch {}, {} steps per epoch, on {backend}; {rule:?}; burn-train logs in {}",
        train.len(),
        test.len(),
        args.batch,
        steps_per_epoch,
        args.logs.display()
    );
    // Burn's DataLoader shuffles with its own seeded generator every epoch.
    let train_loader = loader(train, args.batch, Some(args.seed), &device);
    let test_loader = loader(test, 1000, None, &plain);
    SupervisedTraining::new(&args.logs, train_loader, test_loader)
        .metric_train_numeric(MomentumMetric::lr(rule))
        .metric_train_numeric(MomentumMetric::beta(rule))
        .metric_train_numeric(MomentumMetric::effective_lr(rule))
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .renderer(Box::new(EpochTable::default()))
        .num_epochs(args.epochs)
        .launch(learner);
    Ok(())
}
