//! `flatter-experiment`: runs experiments into results directories, and
//! writes the report. `cargo xtask reproduce` and `reproduce-all` spawn it in
//! the release profile. The experiments it knows are
//! `flatter_experiments::REGISTRY`; nothing here names one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use flatter_device::BackendKind;
use flatter_experiments::harness::config::IntraOp;
use flatter_experiments::harness::plan::Shard;
use flatter_experiments::{Invocation, Options, REGISTRY, Scale};

/// Run flatter's experiments, resumably and shardably, and write the report.
#[derive(Parser, Debug)]
#[command(version, about, after_help = experiments_help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn experiments_help() -> String {
    let mut s = String::from("Experiments:\n");
    for e in &REGISTRY {
        s += &format!("  {:<16} {}\n", e.name, e.about);
    }
    s
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One experiment into one results directory.
    Run(One),
    /// Every experiment (or `--only` some) at one scale into `<out>/<experiment>/`, then the report.
    All(All),
    /// Analyse whatever is complete under `<out>` (merging shards) and write
    /// `<out>/REPORT.md` and `<out>/claims.json`.
    Report(Report),
    /// The GPU check (issue 15): correctness of GPU backends against flex,
    /// ResNet-18 and MLP training throughput against PyTorch on the same
    /// device, and a paper-scale slice of the ResNet protocol priced into
    /// GPU-hours. Writes `<out>/gpu-check.json`; `cargo xtask gpu-report`
    /// renders it. `cargo xtask gpu-check` prepares the run.
    GpuCheck(GpuCheckArgs),
}

#[derive(Args, Debug)]
struct GpuCheckArgs {
    /// Backends to check against flex (repeatable; default: cuda and wgpu,
    /// those of them compiled in; a dry run: ndarray).
    #[arg(long = "backend")]
    backends: Vec<BackendKind>,
    /// Tiny sizes on CPU backends, PyTorch on the CPU: a test of the check
    /// that runs without a GPU (CI runs it). No number it writes is a GPU measurement.
    #[arg(long)]
    dry_run: bool,
    /// Only compute the flex reference and write it to this file (done on
    /// the machine that prepares the run; the check compares with it).
    #[arg(long, conflicts_with_all = ["reference", "dry_run"])]
    write_reference: Option<PathBuf>,
    /// The flex reference written by `--write-reference` (default: compute it here first).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// The directory the record goes to.
    #[arg(long, default_value = "gpu-check")]
    out: PathBuf,
    /// Seconds of phase-2 steps in the paper-scale slice.
    #[arg(long, default_value_t = 120.0)]
    slice_seconds: f64,
    /// Seconds the whole check may take: later stages are skipped and
    /// recorded, and the slices are shortened to fit. The record is written
    /// after every stage either way.
    #[arg(long)]
    budget_seconds: Option<f64>,
    /// A Python with torch (repeatable, tried in order; default: python3).
    #[arg(long = "python")]
    pythons: Vec<String>,
    /// The directory with the PyTorch scripts.
    #[arg(long, default_value = "benches")]
    scripts: PathBuf,
    /// The ResNet experiment file whose `[paper]` table the estimate prices.
    #[arg(long, default_value = "experiments/resnet-cifar.toml")]
    resnet_config: PathBuf,
    /// Seed of the correctness check's weights, inputs and labels.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args, Debug, Clone)]
struct RunFlags {
    /// smoke (seconds), cpu (minutes on 2 cores) or paper.
    #[arg(long, default_value = "cpu")]
    scale: Scale,
    /// flex, ndarray or wgpu (default: FLATTER_BACKEND, else the fastest compiled CPU backend).
    #[arg(long)]
    backend: Option<BackendKind>,
    /// Train only shard i of n (1-based), e.g. `--shard 2/8`: a deterministic
    /// 1/n of the jobs. Run `report` once every shard is done.
    #[arg(long)]
    shard: Option<Shard>,
    /// Retrain runs that are already complete (and, if the config changed,
    /// discard the old results).
    #[arg(long)]
    force: bool,
    /// Hide the progress display.
    #[arg(long)]
    quiet: bool,
    /// Worker slots of the one job queue (default: FLATTER_JOBS, else one per
    /// core; one on a GPU backend). Each job takes its experiment's
    /// `[schedule] threads_per_job` slots.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Intra-op threads per job for every experiment, each job in a pool of
    /// its own, overriding the experiment files' `[schedule]` (to measure
    /// that choice).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256), conflicts_with = "shared_pool")]
    threads_per_job: Option<u64>,
    /// Every job's intra-op work on the process's shared pool (one thread per
    /// core), overriding the experiment files' `[schedule]`.
    #[arg(long)]
    shared_pool: bool,
    /// The directory with the datasets' files, for the experiments that read
    /// one (default: FLATTER_DATA_DIR, the user cache, then, for
    /// Fashion-MNIST, Debian's /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct One {
    /// The experiment's name.
    #[arg(value_parser = REGISTRY.map(|e| e.name))]
    experiment: String,
    /// The experiment file (default: `experiments/<experiment>.toml`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The results directory of this experiment.
    #[arg(long)]
    out: PathBuf,
    /// Train nothing: analyse the complete runs on disk (e.g. after shards ran elsewhere).
    #[arg(long)]
    analyse_only: bool,
    #[command(flatten)]
    flags: RunFlags,
}

#[derive(Args, Debug)]
struct All {
    /// The directory of the experiment files (`<name>.toml`).
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
    /// The results root; each experiment writes `<out>/<name>/`.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Only these experiments (repeatable).
    #[arg(long, value_parser = REGISTRY.map(|e| e.name))]
    only: Vec<String>,
    #[command(flatten)]
    flags: RunFlags,
}

#[derive(Args, Debug)]
struct Report {
    /// The results root.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// The directory of the experiment files (to analyse merged shards).
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
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

fn invocation(flags: &RunFlags, out: PathBuf, analyse_only: bool) -> anyhow::Result<Invocation> {
    let backend = match flags.backend {
        Some(b) => b,
        None => BackendKind::from_env()?,
    };
    Ok(Invocation {
        scale: flags.scale,
        out,
        opts: Options {
            shard: flags.shard,
            force: flags.force,
            analyse_only,
            progress: !flags.quiet,
            jobs: flags.jobs.map(|n| n as usize),
            intra_op: match (flags.threads_per_job, flags.shared_pool) {
                (Some(n), _) => Some(IntraOp::Own(n as usize)),
                (None, true) => Some(IntraOp::Shared),
                (None, false) => None,
            },
        },
        backend: backend.name().to_string(),
        data_dir: flags.data_dir.clone(),
        stop_after_steps: None,
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Launched by xtask: exit when it is killed, even by SIGKILL (issue 17).
    flatter_experiments::watchdog::exit_with_parent()?;
    match cli.command {
        Command::Run(args) => {
            let entry = flatter_experiments::find(&args.experiment)?;
            let config = args.config.unwrap_or_else(|| entry.config(Path::new("experiments")));
            let inv = invocation(&args.flags, args.out, args.analyse_only)?;
            println!("{}", (entry.run)(&config, &inv)?);
            Ok(())
        }
        Command::All(args) => {
            let chosen: Vec<_> = REGISTRY.iter().filter(|e| args.only.is_empty() || args.only.iter().any(|o| o == e.name)).collect();
            let start = Instant::now();
            // Every experiment is planned (and its results directory locked)
            // before anything trains, then all of them go through one queue.
            let mut stages = Vec::new();
            let mut opts = Options::default();
            for entry in &chosen {
                let config = entry.config(&args.experiments);
                let inv = invocation(&args.flags, args.out.join(entry.name), false)?;
                opts = inv.opts;
                let stage = (entry.plan)(&config, &inv).with_context(|| format!("experiment {}", entry.name))?;
                eprintln!("{}", stage.describe());
                stages.push(stage);
            }
            let refs: Vec<&dyn flatter_experiments::harness::Stage> = stages.iter().map(|s| s.as_ref()).collect();
            eprintln!("one queue on {} worker slots", flatter_experiments::harness::workers(&refs, &opts));
            for line in flatter_experiments::harness::run_stages(&refs, &opts)? {
                println!("{line}");
            }
            let written = flatter_experiments::harness::report::write_report(&args.out)?;
            print!("{}", written.terminal());
            println!("({:.0} s in all)", start.elapsed().as_secs_f64());
            Ok(())
        }
        Command::GpuCheck(args) => gpu_check(args),
        Command::Report(args) => {
            let (accounts, written) = flatter_experiments::report(&args.out, &args.experiments, BackendKind::from_env()?.name())?;
            for a in accounts {
                println!("{a}");
            }
            print!("{}", written.terminal());
            Ok(())
        }
    }
}

fn gpu_check(args: GpuCheckArgs) -> anyhow::Result<()> {
    use flatter_experiments::gpu_check::measure;
    let sizes = if args.dry_run { measure::Sizes::dry_run() } else { measure::Sizes::gpu(args.slice_seconds) };
    if let Some(path) = &args.write_reference {
        let reference = measure::reference(&sizes, args.seed)?;
        flatter_experiments::harness::io::write_json(path, &reference)?;
        eprintln!("wrote the flex reference to {}", path.display());
        return Ok(());
    }
    let backends = if !args.backends.is_empty() {
        args.backends.clone()
    } else if args.dry_run {
        vec![BackendKind::NdArray]
    } else {
        [BackendKind::Cuda, BackendKind::Wgpu].into_iter().filter(|k| k.is_compiled()).collect()
    };
    anyhow::ensure!(!backends.is_empty(), "no GPU backend is compiled in: build with `--features cuda` and/or `--features wgpu` (`cargo xtask gpu-check` does)");
    for kind in &backends {
        kind.device()?; // a backend that is not compiled in is an error now, not mid-check
    }
    anyhow::ensure!(args.slice_seconds > 0.0 && args.slice_seconds.is_finite(), "--slice-seconds must be a positive number");
    if let Some(b) = args.budget_seconds {
        anyhow::ensure!(b > 0.0 && b.is_finite(), "--budget-seconds must be a positive number");
    }
    let opts = measure::CheckOptions {
        backends,
        reference: args.reference.clone(),
        out: args.out.clone(),
        dry_run: args.dry_run,
        slice_seconds: args.slice_seconds,
        budget_seconds: args.budget_seconds,
        pythons: if args.pythons.is_empty() { vec!["python3".to_string()] } else { args.pythons.clone() },
        scripts: args.scripts.clone(),
        resnet_config: args.resnet_config.clone(),
        seed: args.seed,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let check = measure::run(&opts, &mut |line| eprintln!("gpu-check: {line}"))?;
    println!("{}", flatter_experiments::gpu_check::render(&check, &args.out.join(flatter_experiments::gpu_check::RECORD_FILE).display().to_string()));
    anyhow::ensure!(check.all_correct(), "the check found disagreements or failures (see {})", args.out.display());
    Ok(())
}
