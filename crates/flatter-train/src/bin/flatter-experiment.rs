//! `flatter-experiment`: runs experiments into results directories, and
//! writes the report. `cargo xtask reproduce`, `reproduce-all` and `report`
//! spawn it in the release profile.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use flatter_device::BackendKind;
use flatter_runs::Scale;
use flatter_runs::plan::Shard;
use flatter_train::experiment::{Options, Outcome};

/// Run flatter's experiments, resumably and shardably, and write the report.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// UV / teacher–student decay times against η and γ (Fig. 1, App. A).
    Uv(Common),
    /// Matrix sensing: the optimal β, C against its bound, double descent (App. A.2, D).
    MatrixSensing(Common),
    /// The 6-layer MLP on Fashion-MNIST: β*(η) and its slope (Fig. 5).
    MlpFashion(DataArgs),
    /// ResNet-18 on CIFAR-10 (Fashion-MNIST padded to 32×32 when CIFAR-10 is absent): Fig. 2, 4.
    ResnetCifar(DataArgs),
    /// Every experiment at one scale into `<out>/<experiment>/`, then the report.
    All(All),
    /// Analyse whatever is complete under `<out>` (merging shards) and write
    /// `<out>/REPORT.md` and `<out>/claims.json`.
    Report(Report),
}

/// The experiments, in the order `all` runs them.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Experiment {
    /// UV / teacher–student (Fig. 1).
    Uv,
    /// Matrix sensing (App. A.2, D).
    MatrixSensing,
    /// The MLP on Fashion-MNIST (Fig. 5).
    MlpFashion,
    /// ResNet-18 on CIFAR-10, the three-phase protocol (Fig. 2, 4).
    ResnetCifar,
}

impl Experiment {
    fn name(self) -> &'static str {
        match self {
            Experiment::Uv => "uv",
            Experiment::MatrixSensing => "matrix-sensing",
            Experiment::MlpFashion => "mlp-fashion",
            Experiment::ResnetCifar => "resnet-cifar",
        }
    }
}

#[derive(Args, Debug, Clone)]
struct RunFlags {
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
    /// Hide the progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct Common {
    /// smoke (seconds), cpu (minutes on 2 cores) or paper.
    #[arg(long, default_value = "cpu")]
    scale: Scale,
    /// The experiment file (e.g. experiments/uv.toml).
    #[arg(long)]
    config: PathBuf,
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
struct DataArgs {
    #[command(flatten)]
    common: Common,
    /// The directory with the dataset's files (default: FLATTER_DATA_DIR,
    /// the user cache, then, for Fashion-MNIST, Debian's /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct All {
    /// smoke (seconds), cpu (minutes on 2 cores) or paper.
    #[arg(long, default_value = "cpu")]
    scale: Scale,
    /// The directory of the experiment files (`<name>.toml`).
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
    /// The results root; each experiment writes `<out>/<name>/`.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Only these experiments (repeatable).
    #[arg(long, value_enum)]
    only: Vec<Experiment>,
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

fn options(flags: &RunFlags, analyse_only: bool) -> Options {
    Options { shard: flags.shard, force: flags.force, analyse_only, progress: !flags.quiet }
}

fn backend(flags: &RunFlags) -> anyhow::Result<BackendKind> {
    Ok(match flags.backend {
        Some(b) => b,
        None => BackendKind::from_env()?,
    })
}

/// Runs one experiment; returns a one-line account.
fn run_one(exp: Experiment, scale: Scale, config: &Path, out: &Path, backend: BackendKind, opts: Options) -> anyhow::Result<String> {
    run_one_with_data(exp, scale, config, out, backend, opts, None)
}

/// [`run_one`], with the dataset directory of the experiments that read one.
fn run_one_with_data(
    exp: Experiment,
    scale: Scale,
    config: &Path,
    out: &Path,
    backend: BackendKind,
    opts: Options,
    data_dir: Option<&Path>,
) -> anyhow::Result<String> {
    let name = exp.name();
    let outcome_line = |complete: Option<String>, partial: Option<(usize, usize)>| match (complete, partial) {
        (Some(s), _) => s,
        (None, Some((done, total))) => format!(
            "{name} [{scale}]: {done} of {total} runs complete in {}; the summary is written once all are (other shards, then `report`)",
            out.display()
        ),
        _ => unreachable!(),
    };
    match exp {
        Experiment::Uv => {
            let e = flatter_runs::uv::UvExperiment::load(config)?;
            match flatter_train::uv::run(scale, &e, backend, out, opts)? {
                Outcome::Complete(s) => Ok(outcome_line(
                    Some(format!(
                        "uv [{scale}] on {backend}: {} runs ({} fitted), {:.1} s of training -> {}\n{}",
                        s.runs,
                        s.runs_fitted,
                        s.header.wall_seconds,
                        out.display(),
                        flatter_train::uv::criteria_table(&s)
                    )),
                    None,
                )),
                Outcome::Partial { complete_runs, total_runs } => Ok(outcome_line(None, Some((complete_runs, total_runs)))),
            }
        }
        Experiment::MatrixSensing => {
            let e = flatter_runs::matrix_sensing::MsExperiment::load(config)?;
            match flatter_train::matrix_sensing::run(scale, &e, backend, out, opts)? {
                Outcome::Complete(s) => Ok(format!(
                    "matrix-sensing [{scale}] on {backend}: C_opt {} vs bound {:.4}, {} runs diverged, {:.1} s of training -> {}\n{}",
                    s.c_opt.map_or("-".into(), |c| format!("{c:.4}")),
                    s.c_bound,
                    s.diverged,
                    s.header.wall_seconds,
                    out.display(),
                    flatter_train::matrix_sensing::criteria_table(&s)
                )),
                Outcome::Partial { complete_runs, total_runs } => Ok(outcome_line(None, Some((complete_runs, total_runs)))),
            }
        }
        Experiment::MlpFashion => {
            let e = flatter_runs::mlp::MlpExperiment::load(config)?;
            match flatter_train::mlp::run_with_data(scale, &e, backend, out, opts, data_dir)? {
                Outcome::Complete(s) => Ok(format!(
                    "mlp-fashion [{scale}] on {backend}: {} runs, valley in {} GD steps, {:.1} s of training -> {}\n{}",
                    s.runs.len(),
                    s.valley.as_ref().map_or("?".into(), |v| v.epochs.to_string()),
                    s.header.wall_seconds,
                    out.display(),
                    flatter_train::mlp::report(&s)
                )),
                Outcome::Partial { complete_runs, total_runs } => Ok(outcome_line(None, Some((complete_runs, total_runs)))),
            }
        }
        Experiment::ResnetCifar => {
            let e = flatter_runs::resnet::ResnetExperiment::load(config)?;
            let extra = flatter_train::resnet::Extra { data_dir: data_dir.map(Path::to_path_buf), stop_after_steps: None };
            match flatter_train::resnet::run(scale, &e, backend, out, opts, &extra)? {
                Outcome::Complete(s) => Ok(format!(
                    "resnet-cifar [{scale}] on {backend}: {}; phase 1 {} epochs (100% train accuracy: {}), {} runs, slope {}, {:.1} s of training -> {}\n{}",
                    s.header.dataset,
                    s.phase1.epochs,
                    s.phase1.reached_full_accuracy,
                    s.runs.len(),
                    s.slope.map_or("-".into(), |x| format!("{x:.3} ± {:.3}", s.slope_stderr.unwrap_or(f64::NAN))),
                    s.header.wall_seconds,
                    out.display(),
                    flatter_train::resnet::criteria_table(&s)
                )),
                Outcome::Partial { complete_runs, total_runs } => Ok(outcome_line(None, Some((complete_runs, total_runs)))),
            }
        }
    }
}

fn single(exp: Experiment, args: &Common) -> anyhow::Result<()> {
    let b = backend(&args.flags)?;
    println!("{}", run_one(exp, args.scale, &args.config, &args.out, b, options(&args.flags, args.analyse_only))?);
    Ok(())
}

fn with_data(exp: Experiment, args: &DataArgs) -> anyhow::Result<()> {
    let c = &args.common;
    let b = backend(&c.flags)?;
    let opts = options(&c.flags, c.analyse_only);
    println!("{}", run_one_with_data(exp, c.scale, &c.config, &c.out, b, opts, args.data_dir.as_deref())?);
    Ok(())
}

fn all_experiments() -> Vec<Experiment> {
    Experiment::value_variants().to_vec()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Uv(args) => single(Experiment::Uv, &args),
        Command::MatrixSensing(args) => single(Experiment::MatrixSensing, &args),
        Command::MlpFashion(args) => with_data(Experiment::MlpFashion, &args),
        Command::ResnetCifar(args) => with_data(Experiment::ResnetCifar, &args),
        Command::All(args) => {
            let b = backend(&args.flags)?;
            let chosen = if args.only.is_empty() { all_experiments() } else { args.only.clone() };
            let start = Instant::now();
            for (i, exp) in chosen.iter().enumerate() {
                eprintln!("[{}/{}] {} ({}, {:.0} s so far)", i + 1, chosen.len(), exp.name(), args.scale, start.elapsed().as_secs_f64());
                let config = args.experiments.join(format!("{}.toml", exp.name()));
                let out = args.out.join(exp.name());
                let line = run_one(*exp, args.scale, &config, &out, b, options(&args.flags, false))
                    .with_context(|| format!("experiment {}", exp.name()))?;
                println!("{line}");
            }
            let (md, json, rows) = flatter_runs::report::write_report(&args.out)?;
            print_claims(&rows);
            println!("report: {} and {} ({:.0} s in all)", md.display(), json.display(), start.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Report(args) => {
            // Merge shards: analyse every experiment whose runs are on disk but lack a summary.
            for exp in all_experiments() {
                let out = args.out.join(exp.name());
                let config_json = out.join("config.json");
                if !config_json.exists() || out.join("summary.json").exists() {
                    continue;
                }
                let (scale, _): (Scale, serde_json::Value) = flatter_runs::io::read_json(&config_json)?;
                let config = args.experiments.join(format!("{}.toml", exp.name()));
                let opts = Options { analyse_only: true, ..Options::default() };
                println!("{}", run_one(exp, scale, &config, &out, BackendKind::from_env()?, opts)?);
            }
            let (md, json, rows) = flatter_runs::report::write_report(&args.out)?;
            print_claims(&rows);
            println!("report: {} and {}", md.display(), json.display());
            Ok(())
        }
    }
}

fn print_claims(rows: &[flatter_runs::report::ClaimRow]) {
    for r in rows {
        let c = &r.criterion;
        let holds = match c.holds {
            Some(true) => "holds",
            Some(false) => "DOES NOT HOLD",
            None => "n/a",
        };
        let measured = c.measured.map_or("-".to_string(), |m| format!("{m:.4}"));
        println!("{:<4} {:<15} {:<10} {:<14} {}", c.id, r.experiment, measured, holds, r.scale);
    }
}
