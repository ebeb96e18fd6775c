//! The UV experiment end to end: a scale of `experiments/uv.toml` in, a
//! finished `results/uv/` out.
//!
//! Layout of the output directory:
//! - `config.json`: the resolved scale, written before training;
//! - `runs/<id>/{config.json, metrics.csv, summary.json}` for every run;
//! - `figures/*.svg|png`;
//! - `summary.json`: fits and criteria, written last, so its presence means
//!   the whole experiment completed.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use flatter_device::BackendKind;
use flatter_models::uv::Activation as ModelActivation;
use flatter_runs::io::{write_atomic, write_json};
use flatter_runs::uv::{Activation, UvRun, UvRunSummary, UvScale, UvSummary, UvTrace, analyse, fit_run};
use flatter_runs::uv_figures::write_figures;
use flatter_runs::Scale;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stacked::Row;
use crate::uv_sweep::{UvProblem, run_stacked};

fn model_activation(act: Activation) -> ModelActivation {
    match act {
        Activation::Linear => ModelActivation::Linear,
        Activation::Tanh => ModelActivation::Tanh,
        Activation::Relu => ModelActivation::Relu,
    }
}

/// The problem every run of one activation shares.
pub fn problem(scale: &UvScale, act: Activation) -> UvProblem {
    let data = scale.data();
    UvProblem { activation: model_activation(act), x: data.x, u0: data.u, v0: data.v, eps: scale.eps, check_every: scale.log_every }
}

/// The engine row of a run.
pub fn row(run: &UvRun) -> Row {
    Row { lr: run.lr, beta: run.beta, steps: run.steps, log_every: run.log_every, noise_seed: run.noise_seed }
}

/// Trains every run of `scale` (one stacked program per activation, on
/// parallel threads), fits them and returns the per-run results.
pub fn train(scale: &UvScale, backend: BackendKind, show_progress: bool) -> anyhow::Result<Vec<(UvRun, UvTrace)>> {
    let device = backend.device()?;
    let runs = scale.runs();
    let bars = MultiProgress::with_draw_target(if show_progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    let style = ProgressStyle::with_template("{prefix:>7} [{elapsed_precise}] {wide_bar} {pos}/{len} steps (eta {eta})")
        .expect("progress template");
    let groups: Vec<(Activation, Vec<&UvRun>)> = scale
        .activations
        .iter()
        .map(|&act| (act, runs.iter().filter(|r| r.activation == act).collect()))
        .collect();
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|(act, group)| {
                let bar = bars.add(ProgressBar::new(group.iter().map(|r| r.steps).max().unwrap_or(0)));
                bar.set_style(style.clone());
                bar.set_prefix(act.name());
                let device = device.clone();
                let problem = problem(scale, *act);
                scope.spawn(move || {
                    let rows: Vec<Row> = group.iter().map(|r| row(r)).collect();
                    let traces = run_stacked(&device, &problem, &rows, Some(&bar));
                    bar.finish();
                    group
                        .iter()
                        .zip(traces)
                        .map(|(run, t)| ((*run).clone(), UvTrace { norm2: t.column(0), steps: t.steps }))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a sweep thread panicked")).collect::<Vec<_>>()
    });
    Ok(results.into_iter().flatten().collect())
}

fn metrics_csv(trace: &UvTrace) -> String {
    let mut csv = String::from("step,norm2\n");
    for (k, v) in trace.steps.iter().zip(&trace.norm2) {
        writeln!(csv, "{k},{v:e}").expect("writing to a String");
    }
    csv
}

/// Runs the UV experiment at `scale_name` and writes everything under `out`.
pub fn run(scale_name: Scale, scale: &UvScale, backend: BackendKind, out: &Path, show_progress: bool) -> anyhow::Result<UvSummary> {
    scale.validate().map_err(|(field, msg)| anyhow::anyhow!("uv [{scale_name}] {field}: {msg}"))?;
    let _lock = lock_dir(out)?;
    // A stale summary must never describe new runs: remove it before anything else.
    let summary_path = out.join("summary.json");
    if summary_path.exists() {
        std::fs::remove_file(&summary_path).with_context(|| format!("removing stale {}", summary_path.display()))?;
    }
    write_json(&out.join("config.json"), &(scale_name, scale))?;
    let start = Instant::now();
    let trained = train(scale, backend, show_progress)?;
    let wall = start.elapsed().as_secs_f64();

    let mut results: Vec<UvRunSummary> = Vec::with_capacity(trained.len());
    for (run, trace) in &trained {
        let dir = out.join("runs").join(&run.id);
        write_json(&dir.join("config.json"), run)?;
        write_atomic(&dir.join("metrics.csv"), metrics_csv(trace).as_bytes())?;
        let result = fit_run(scale, run, trace);
        write_json(&dir.join("summary.json"), &result)?;
        results.push(result);
    }
    let summary = analyse(scale_name, scale, &results, wall, backend.name());
    write_figures(&summary, &out.join("figures")).context("writing the UV figures")?;
    write_json(&summary_path, &summary)?;
    Ok(summary)
}

/// Holds an exclusive advisory lock on `out/.lock` for as long as the
/// returned file lives, so two processes never write one results directory
/// at once. The operating system releases it when the process exits, even if
/// it is killed, so a lock never goes stale.
pub fn lock_dir(out: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("{} is being written by another process (it holds {})", out.display(), path.display())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// The criteria as a plain-text table.
pub fn criteria_table(summary: &UvSummary) -> String {
    criteria_table_of(&summary.criteria)
}

/// Any experiment's criteria as a plain-text table.
pub fn criteria_table_of(criteria: &[flatter_runs::uv::Criterion]) -> String {
    let mut s = String::new();
    writeln!(s, "{:<4} {:<62} {:>10} {:>8} {:<18} {}", "id", "quantity", "measured", "± se", "tolerance", "holds").unwrap();
    for c in criteria {
        let fmt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
        let holds = match c.holds {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "n/a",
        };
        writeln!(s, "{:<4} {:<62} {:>10} {:>8} {:<18} {}", c.id, c.quantity, fmt(c.measured), fmt(c.uncertainty), c.tolerance, holds).unwrap();
    }
    s
}
