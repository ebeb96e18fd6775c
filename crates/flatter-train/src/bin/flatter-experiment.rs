//! `flatter-experiment`: runs one experiment at one scale into a results
//! directory. `cargo xtask reproduce` spawns it in the release profile.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flatter_device::BackendKind;
use flatter_runs::Scale;
use flatter_runs::resnet::ResnetExperiment;
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
    /// ResNet-18 on CIFAR-10 (Fashion-MNIST padded to 32×32 when CIFAR-10 is absent): Fig. 2, 4.
    ResnetCifar(Common),
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
    /// Where the datasets are (default: FLATTER_DATA_DIR, the user cache, /usr/share/datasets).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl Common {
    fn backend(&self) -> anyhow::Result<BackendKind> {
        Ok(match self.backend {
            Some(b) => b,
            None => BackendKind::from_env()?,
        })
    }
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
        Experiment::ResnetCifar(args) => {
            let backend = args.backend()?;
            let exp = ResnetExperiment::load(&args.config)?;
            let opts = flatter_train::resnet::Options {
                show_progress: !args.quiet,
                data_dir: args.data_dir.clone(),
                stop_after_steps: None,
                analyse_only: false,
            };
            let summary = flatter_train::resnet::run(
                args.scale,
                exp.scale(args.scale),
                &exp.choices,
                &exp.notes(args.scale),
                backend,
                &args.out,
                &opts,
            )?;
            println!(
                "resnet-cifar [{}] on {backend}: {}; phase 1 {} epochs (100%: {}), {} runs in {:.1} s -> {}",
                args.scale,
                summary.dataset,
                summary.phase1.epochs,
                summary.phase1.reached_full_accuracy,
                summary.runs.len(),
                summary.wall_seconds,
                args.out.display()
            );
            print!("{}", flatter_train::uv::criteria_table_of(&summary.criteria));
            Ok(())
        }
    }
}
