//! The UV / teacher–student sweep of Fig. 1, in process: trains every run of
//! one scale of `experiments/uv.toml`, fits the decay times and prints the
//! paper's claims beside the measured values.
//!
//! `cargo run --release --example uv -- --scale cpu` (about 3 minutes on 2 cores).

use std::path::PathBuf;

use clap::Parser;
use flatter::device::BackendKind;
use flatter::experiments::harness::{claims, run_loaded};
use flatter::experiments::uv::{UvExp, UvExperiment};
use flatter::experiments::{Invocation, Scale};

/// Fig. 1: how fast label-noise SGD with momentum 1 − β = Cη^γ drifts to the flattest minimum.
#[derive(Parser, Debug)]
struct Args {
    /// smoke (seconds), cpu (minutes) or paper.
    #[arg(long, default_value = "smoke")]
    scale: Scale,
    /// The experiment file.
    #[arg(long, default_value = "experiments/uv.toml")]
    config: PathBuf,
    /// Where to write results.
    #[arg(long, default_value = "results/uv")]
    out: PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let exp = UvExperiment::load(&args.config)?;
    let backend = BackendKind::from_env()?;
    let mut inv = Invocation::new(args.scale, &args.out, backend.name());
    inv.opts.progress = true;
    let summary = run_loaded::<UvExp>(&exp, &inv)?
        .complete()
        .expect("an unsharded run completes every run");
    let c_stars: Vec<String> = summary.draws.iter().map(|d| format!("{:.4} (data seed {})", d.c_star, d.data_seed)).collect();
    println!(
        "{} runs, {} fitted, {:.1} s on {backend}; C* = {}",
        summary.runs,
        summary.runs_fitted,
        summary.header.wall_seconds,
        c_stars.join(", ")
    );
    print!("{}", claims::table(&summary.header.criteria));
    println!("figures and per-run results in {}", args.out.display());
    Ok(())
}
