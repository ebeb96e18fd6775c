//! `flatter-experiment`: runs one experiment at one scale into a results
//! directory. `cargo xtask reproduce` spawns it in the release profile.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flatter_device::BackendKind;
use flatter_runs::Scale;
use flatter_runs::mlp::MlpExperiment;
use flatter_runs::uv::UvExperiment;

/// Run one of flatter's experiments at one scale.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    experiment: Experiment,
}

#[derive(Subcommand, Debug)]
enum Experiment {
    /// UV / teacher–student decay times against η and γ (Fig. 1, App. A).
    Uv(Common),
    /// The 6-layer MLP on Fashion-MNIST: β*(η) and its slope (Fig. 5).
    MlpFashion(MlpArgs),
}

#[derive(Parser, Debug)]
struct MlpArgs {
    #[command(flatten)]
    common: Common,
    /// The directory holding Fashion-MNIST's IDX files (default: FLATTER_DATA_DIR, the user cache, then Debian's location).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Retrain the valley and every run even when complete ones are on disk.
    #[arg(long)]
    force: bool,
}

#[derive(Parser, Debug)]
struct Common {
    /// smoke (seconds), cpu (minutes on 2 cores) or paper.
    #[arg(long, default_value = "cpu")]
    scale: Scale,
    /// The experiment file.
    #[arg(long)]
    config: PathBuf,
    /// The results directory to write.
    #[arg(long)]
    out: PathBuf,
    /// flex, ndarray or wgpu (default: FLATTER_BACKEND, else the fastest compiled CPU backend).
    #[arg(long)]
    backend: Option<BackendKind>,
    /// Hide the progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.experiment {
        Experiment::Uv(args) => {
            let backend = match args.backend {
                Some(b) => b,
                None => BackendKind::from_env()?,
            };
            let exp = UvExperiment::load(&args.config)?;
            let summary = flatter_train::uv::run(args.scale, exp.scale(args.scale), backend, &args.out, !args.quiet)?;
            println!(
                "uv [{}] on {backend}: {} runs ({} fitted) in {:.1} s -> {}",
                args.scale,
                summary.runs,
                summary.runs_fitted,
                summary.wall_seconds,
                args.out.display()
            );
            print!("{}", flatter_train::uv::criteria_table(&summary));
            Ok(())
        }
        Experiment::MlpFashion(args) => {
            let MlpArgs { common: args, data_dir, force } = args;
            let backend = match args.backend {
                Some(b) => b,
                None => BackendKind::from_env()?,
            };
            let exp = MlpExperiment::load(&args.config)?;
            let opts = flatter_train::mlp::MlpOptions { show_progress: !args.quiet, data_dir, force, choices: exp.choices.clone(), threads: None };
            let summary = flatter_train::mlp::run(args.scale, exp.scale(args.scale), backend, &args.out, &opts)?;
            println!(
                "mlp-fashion [{}] on {backend}: {} runs, valley in {} GD steps, {:.1} s -> {}",
                args.scale,
                summary.runs.len(),
                summary.valley.epochs,
                summary.wall_seconds,
                args.out.display()
            );
            print!("{}", flatter_train::mlp::report(&summary));
            Ok(())
        }
    }
}
