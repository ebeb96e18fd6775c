//! The Fashion-MNIST MLP (Fig. 5's network) trained through burn-train's
//! `Learner` with `HeavyBall` and the scaling rule 1 − β = C·η^(2/3), under
//! Burn's own warm-up + cosine scheduler (issue 16). Each epoch it prints
//! the learning rate the scheduler handed the last step, the β the rule
//! gives for it, the effective rate η/(1 − β), the training loss and the
//! test accuracy: β follows the schedule.
//!
//! ```sh
//! cargo run --release --example learner                       # 5 epochs on 10,000 training images
//! cargo run --release --example learner -- --epochs 10 --train-per-class 6000
//! ```
//!
//! The data come from `--data-dir`, else `FLATTER_DATA_DIR`, the user cache,
//! or Debian's `/usr/share/datasets/fashion-mnist` (`cargo xtask data fetch
//! fashion-mnist` downloads them).

use std::path::PathBuf;

use burn::train::Learner;
use clap::Parser;
use flatter::device::default_autodiff_device;
use flatter::experiments::harness::images::ImageBatcher;
use flatter::experiments::mlp::model::MlpConfig;
use flatter::experiments::mlp::train::accuracy;
use flatter::optim::{HeavyBallConfig, MomentumRule, RandomStream, Streams};
use flatter_data::{FashionMnist, Split, Verify};
use flatter_learner::{Batch, Classifier, warmup_cosine};

#[derive(Parser, Debug)]
#[command(about = "Train the Fashion-MNIST MLP through burn-train's Learner with HeavyBall and the scaling rule")]
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
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.epochs >= 2, "--epochs must be at least 2 (one of warm-up, then the cosine)");
    let (backend, device) = default_autodiff_device()?;
    let train = FashionMnist::load(args.data_dir.as_deref(), Split::Train, Verify::Strict)?;
    let train = if args.train_per_class >= 6000 { train } else { train.subset_per_class(args.train_per_class, args.seed)? };
    let test = FashionMnist::load(args.data_dir.as_deref(), Split::Test, Verify::Strict)?;
    let (train, test) = (ImageBatcher::new(&train), ImageBatcher::new(&test));
    let steps_per_epoch = train.len() / args.batch;
    anyhow::ensure!(steps_per_epoch >= 1, "--batch {} is larger than the {} training images", args.batch, train.len());

    let streams = Streams::new(args.seed);
    device.seed(streams.backend_seed());
    let config = MlpConfig::fig5(args.width);
    let rule = MomentumRule::scaled_through(args.lr, args.beta_at_peak, 2.0 / 3.0)?;
    let total = args.epochs * steps_per_epoch;
    // One epoch of linear warm-up, then cosine to a hundredth of the peak
    // (the rule needs η > 0 at every step).
    let schedule = warmup_cosine(args.lr, steps_per_epoch, total, args.lr / 100.0).map_err(anyhow::Error::msg)?;
    rule.validate_lr_range(args.lr / steps_per_epoch as f64, args.lr)?;
    let mut learner = Learner::new(Classifier { mlp: config.init(&device) }, HeavyBallConfig::new(rule).init()?, schedule);

    println!("{} training and {} test images, batch {}, {} steps per epoch, on {backend}; {rule:?}", train.len(), test.len(), args.batch, steps_per_epoch);
    println!("{:>5} {:>10} {:>8} {:>12} {:>10} {:>9}", "epoch", "lr", "beta", "lr/(1-beta)", "train loss", "test acc");
    for epoch in 0..args.epochs {
        let order = flatter::experiments::harness::images::epoch_order(train.len(), &mut streams.epoch_rng(RandomStream::DataOrder, epoch as u64));
        let mut loss_sum = 0.0;
        let mut lr = 0.0;
        for idx in order.chunks_exact(args.batch) {
            learner.lr_step();
            lr = learner.lr_current().base();
            let (x, labels) = train.batch(idx, &device);
            let y = flatter::experiments::harness::images::label_tensor(&labels, &device);
            let out = learner.train_step(Batch { x, y });
            loss_sum += out.item.loss.clone().into_scalar::<f64>();
            learner.optimizer_step(out.grads);
        }
        let beta = rule.beta(lr)?;
        let acc = accuracy(&learner.model().mlp, &test, &device.clone().without_autodiff());
        println!(
            "{:>5} {:>10.5} {:>8.4} {:>12.4} {:>10.4} {:>8.2}%",
            epoch + 1,
            lr,
            beta,
            lr / (1.0 - beta),
            loss_sum / steps_per_epoch as f64,
            100.0 * acc
        );
    }
    Ok(())
}
