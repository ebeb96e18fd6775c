//! The UV experiment end to end: a scale of `experiments/uv.toml` in, a
//! finished `results/uv/` out.
//!
//! Layout of the output directory:
//! - `config.json`: the resolved scale, written before training;
//! - `runs/<id>/{config.json, metrics.csv, summary.json}` for every run, the
//!   summary last (a run is complete when it exists);
//! - `figures/*.svg|png`;
//! - `summary.json`: fits and criteria, written last, once every run is
//!   complete, so its presence means the whole experiment completed.
//!
//! The jobs are (activation, η) cells, each one stacked program over every
//! γ and seed; they shard and resume as `flatter_runs::plan` describes.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use flatter_device::BackendKind;
use flatter_models::uv::Activation as ModelActivation;
use flatter_runs::Scale;
use flatter_runs::io::write_json;
use flatter_runs::plan::{Job, all_complete, prepare_out, read_summaries, select, validate_jobs, write_run};
use flatter_runs::uv::{Activation, UvExperiment, UvRun, UvRunSummary, UvScale, UvSummary, UvTrace, analyse, fit_run};
use flatter_runs::uv_figures::write_figures;
use indicatif::ProgressBar;

use crate::experiment::{Options, Outcome, Progress, cpu_workers, for_each_parallel, partial};
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

/// Trains the runs of one job (one stacked program) and returns them with their traces.
pub fn train_job(scale: &UvScale, job: &Job, device: &burn::tensor::Device, bar: Option<&ProgressBar>) -> Vec<(UvRun, UvTrace)> {
    let runs: Vec<UvRun> = scale.runs().into_iter().filter(|r| job.runs.contains(&r.id)).collect();
    assert_eq!(runs.len(), job.runs.len(), "job {} names runs that are not in the scale", job.id);
    let act = runs[0].activation;
    assert!(runs.iter().all(|r| r.activation == act), "a UV job has one activation");
    let rows: Vec<Row> = runs.iter().map(row).collect();
    let traces = run_stacked(device, &problem(scale, act), &rows, bar);
    runs.into_iter().zip(traces).map(|(run, t)| (run, UvTrace { norm2: t.column(0), steps: t.steps })).collect()
}

fn metrics_csv(trace: &UvTrace) -> String {
    let mut csv = String::from("step,norm2\n");
    for (k, v) in trace.steps.iter().zip(&trace.norm2) {
        writeln!(csv, "{k},{v:e}").expect("writing to a String");
    }
    csv
}

/// Runs the UV experiment at `scale_name` into `out`: trains the jobs that
/// `opts` selects and that are not complete, then, once every run is
/// complete, analyses them, draws the figures and writes `summary.json` last.
pub fn run(
    scale_name: Scale,
    exp: &UvExperiment,
    backend: BackendKind,
    out: &Path,
    opts: Options,
) -> anyhow::Result<Outcome<UvSummary>> {
    let scale = exp.scale(scale_name);
    scale.validate().map_err(|(field, msg)| anyhow::anyhow!("uv [{scale_name}] {field}: {msg}"))?;
    let jobs = scale.jobs();
    validate_jobs(&jobs).map_err(|e| anyhow::anyhow!("uv [{scale_name}]: {e}"))?;
    let _lock = prepare_out(out, &(scale_name, scale), opts.force, opts.shard)?;
    if !opts.analyse_only {
        let device = backend.device()?;
        let selection = select(&jobs, out, opts.shard, opts.force);
        let progress = Progress::new("uv", &jobs, &selection, opts.progress);
        let todo: Vec<&Job> = selection.todo.iter().map(|&i| &jobs[i]).collect();
        for_each_parallel(&todo, cpu_workers(), |job| {
            let bar = progress.job_bar(&job.id, 0);
            let start = Instant::now();
            let trained = train_job(scale, job, &device, Some(&bar));
            let share = start.elapsed().as_secs_f64() / trained.len() as f64;
            bar.finish_and_clear();
            for (run, trace) in &trained {
                write_run(out, &run.id, run, &metrics_csv(trace), &fit_run(scale, run, trace, share))?;
            }
            progress.job_done();
            Ok(())
        })?;
        progress.jobs.finish_and_clear();
    }
    if !all_complete(&jobs, out) {
        return Ok(partial(&jobs, out));
    }
    let results: Vec<UvRunSummary> = read_summaries(out, scale.runs().iter().map(|r| &r.id))?;
    let mut summary = analyse(scale_name, scale, &exp.choices, &results, backend.name());
    summary.header.figures = write_figures(&summary, out).context("writing the UV figures")?;
    write_json(&out.join("summary.json"), &summary)?;
    Ok(Outcome::Complete(summary))
}

/// The criteria as a plain-text table.
pub fn criteria_table(summary: &UvSummary) -> String {
    table(&summary.header.criteria)
}

/// Criteria as a plain-text table.
pub fn table(criteria: &[flatter_runs::claims::Criterion]) -> String {
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
