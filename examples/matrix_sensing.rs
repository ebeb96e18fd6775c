//! Matrix sensing under label noise (App. A.2, D), in process: the speed of
//! the Hessian-trace decrease against β at several η, C_opt against the
//! eq. (135) bound, and the double-descent runs.
//!
//! `cargo run --release --example matrix_sensing -- --scale cpu` (seconds on 2 cores).

use std::path::PathBuf;

use clap::Parser;
use flatter::device::BackendKind;
use flatter::experiments::harness::{claims, run_loaded};
use flatter::experiments::matrix_sensing::{MsExp, MsExperiment};
use flatter::experiments::{Invocation, Scale};

/// Matrix sensing: the optimal momentum and its C against the bound.
#[derive(Parser, Debug)]
struct Args {
    /// smoke (seconds), cpu or paper.
    #[arg(long, default_value = "cpu")]
    scale: Scale,
    /// The experiment file.
    #[arg(long, default_value = "experiments/matrix-sensing.toml")]
    config: PathBuf,
    /// Where to write results.
    #[arg(long, default_value = "results/matrix-sensing")]
    out: PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let exp = MsExperiment::load(&args.config)?;
    let backend = BackendKind::from_env()?;
    let mut inv = Invocation::new(args.scale, &args.out, backend.name());
    inv.opts.progress = true;
    let summary = run_loaded::<MsExp>(&exp, &inv)?
        .complete()
        .expect("an unsharded run completes every run");
    for c in &summary.curves_mean {
        let star = c.one_minus_beta_star.map_or("edge of the grid".to_string(), |s| format!("{s:.4}"));
        println!("η = {}: fastest 1 − β* = {star}", c.lr);
    }
    println!("C_opt = {:?}, eq. (135) bound = {:.4}", summary.c_opt, summary.c_bound);
    print!("{}", claims::table(&summary.header.criteria));
    println!("figures and per-run results in {}", args.out.display());
    Ok(())
}
