//! One ResNet-18 training through the three phases of Fig. 2: phase 1 onto
//! the valley (full-batch GD on the expected label-noise loss), phase 2
//! label-noise SGD at one (η, β) with 1 − β = C η^(2/3), phase 3 full-batch
//! Adam back onto the valley, then test accuracy. Everything else comes from
//! one scale of `experiments/resnet-cifar.toml`; CIFAR-10 when it is found,
//! else Fashion-MNIST padded to 32×32 (the output says which).
//!
//! `cargo run --release --example resnet_cifar -- --scale cpu --lr 0.05 --c 1.0`
//! (`FLATTER_BACKEND=wgpu` with `--features wgpu` on a GPU).

use std::path::PathBuf;

use clap::Parser;
use flatter::device::BackendKind;
use flatter::experiments::harness::run_loaded;
use flatter::experiments::resnet::{ResnetExp, ResnetExperiment};
use flatter::experiments::{Invocation, Outcome, Scale};

/// Fig. 2, one grid point: ResNet-18, label noise p = 0.2, heavy-ball momentum on the scaling law.
#[derive(Parser, Debug)]
struct Args {
    /// smoke (seconds), cpu (minutes) or paper.
    #[arg(long, default_value = "smoke")]
    scale: Scale,
    /// The experiment file.
    #[arg(long, default_value = "experiments/resnet-cifar.toml")]
    config: PathBuf,
    /// Learning rate η of phase 2.
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// C in 1 − β = C η^(2/3).
    #[arg(long, default_value_t = 1.0)]
    c: f64,
    /// Where to write results (phase 1 is reused from here when it matches).
    #[arg(long, default_value = "results/resnet-cifar-example")]
    out: PathBuf,
    /// Where the datasets are.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut exp = ResnetExperiment::load(&args.config)?;
    let scale = match args.scale {
        Scale::Smoke => &mut exp.smoke,
        Scale::Cpu => &mut exp.cpu,
        Scale::Paper => &mut exp.paper,
    };
    scale.phase2.lrs = vec![args.lr];
    scale.phase2.fig4_lr = args.lr;
    scale.phase2.c = args.c;
    scale.phase2.c_multipliers = vec![1.0];
    let backend = BackendKind::from_env()?;
    exp.notes.insert(
        args.scale.name().to_string(),
        vec!["A single grid point (examples/resnet_cifar.rs): no β* and no slope can be fitted.".to_string()],
    );
    let mut inv = Invocation::new(args.scale, &args.out, backend.name());
    inv.opts.progress = true;
    inv.data_dir = args.data_dir;
    let Outcome::Complete(summary) = run_loaded::<ResnetExp>(&exp, &inv)? else {
        anyhow::bail!("the run did not complete");
    };
    let run = &summary.runs[0];
    println!("{} on {backend}", summary.header.dataset);
    println!(
        "phase 1: {} epochs, train acc {:.1}%, test acc {:.2}%",
        summary.phase1.epochs,
        100.0 * summary.phase1.train_accuracy,
        100.0 * summary.phase1.test_accuracy
    );
    println!(
        "phase 2 (η = {}, β = {:.4}): test acc by epoch {:?}",
        run.run.lr,
        run.run.beta,
        run.test_accuracy.iter().map(|a| (1000.0 * a).round() / 10.0).collect::<Vec<_>>()
    );
    println!("phase 3: test acc {:.2}% after projection; results in {}", 100.0 * run.test_accuracy_projected, args.out.display());
    Ok(())
}
