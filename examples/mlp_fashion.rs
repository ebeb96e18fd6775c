//! One training of the Fashion-MNIST MLP (Fig. 5's protocol, a single (η, β)):
//! the valley checkpoint (reused from `--out/setup/` when present), then
//! label-noise heavy-ball SGD and the noise-free phase, printing the test
//! accuracy as it goes.
//!
//! `cargo run --release --example mlp_fashion -- --scale cpu --lr 0.05`
//! (β defaults to the rule 1 − β = C η^(2/3) with the scale's C).

use std::path::PathBuf;

use clap::Parser;
use flatter::device::BackendKind;
use flatter::experiments::Scale;
use flatter::experiments::mlp::{GAMMA_OPT, MlpExperiment, MlpRun};
use flatter::experiments::mlp::train::{load_data, train_run, valley};
use indicatif::ProgressBar;

/// A single (η, β) run of the MLP on Fashion-MNIST.
#[derive(Parser, Debug)]
struct Args {
    /// smoke (seconds), cpu (the experiment's cpu table) or paper.
    #[arg(long, default_value = "smoke")]
    scale: Scale,
    /// The experiment file (data subset, widths, epochs, p).
    #[arg(long, default_value = "experiments/mlp-fashion.toml")]
    config: PathBuf,
    /// η.
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// β (default: on the rule 1 − β = C η^(2/3) with C = --rule-c).
    #[arg(long)]
    beta: Option<f64>,
    /// C of the rule that gives the default β (the cpu-scale fit is in
    /// docs/results/mlp-fashion/summary.json, key c_fit).
    #[arg(long, default_value_t = 1.0)]
    rule_c: f64,
    /// Seed of the data order and the label flips (default: the scale's first run seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Where the valley checkpoint is kept (`<out>/setup/`).
    #[arg(long, default_value = "results/mlp-fashion-example")]
    out: PathBuf,
    /// The directory with Fashion-MNIST's IDX files.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let exp = MlpExperiment::load(&args.config)?;
    let scale = exp.scale(args.scale);
    let backend = BackendKind::from_env()?;
    let data = load_data(scale, args.data_dir.as_deref())?;
    println!("{}", data.description);
    let (model, v) = valley(scale, &data, backend, &args.out, false, &ProgressBar::new(scale.valley_max_epochs))?;
    println!("valley: 100% train accuracy after {} GD steps, test accuracy {:.4}", v.epochs, v.test_accuracy);
    let beta = args.beta.unwrap_or(1.0 - args.rule_c * args.lr.powf(GAMMA_OPT));
    let seed = args.seed.unwrap_or(scale.run_seeds[0]);
    let run = MlpRun { id: "example".into(), lr: args.lr, beta, seed };
    let bar = ProgressBar::new(scale.epochs_noisy + scale.epochs_clean);
    let (summary, points) = train_run(scale, &data, &model, &run, backend, &bar)?;
    bar.finish_and_clear();
    println!("η = {}, β = {beta:.4}, seed {seed} ({} epochs with label noise p = {}, then {} without), on {backend}", args.lr, scale.epochs_noisy, scale.label_noise_prob, scale.epochs_clean);
    println!("{:>6} {:>12} {:>10}", "epoch", "train loss", "test acc");
    for p in &points {
        println!("{:>6} {:>12.4} {:>10.4}", p.epoch, p.train_loss, p.test_accuracy);
    }
    println!(
        "best test accuracy {:.4} at epoch {}, final {} (start {:.4}){}; {:.1} s",
        summary.best_test_accuracy,
        summary.best_epoch,
        summary.final_test_accuracy.map_or("-".to_string(), |a| format!("{a:.4}")),
        summary.start_test_accuracy,
        if summary.diverged { ", DIVERGED" } else { "" },
        summary.wall_seconds
    );
    Ok(())
}
