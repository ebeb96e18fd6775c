//! Training the UV experiment: each job, an (activation, η) cell, is one
//! stacked program over every data draw, γ, C and seed (the [`crate::uv::sweep`] engine);
//! each run's record is `runs/<id>/{config.json, metrics.csv, summary.json}`,
//! the summary last.

use std::fmt::Write as _;
use std::time::Instant;

use indicatif::ProgressBar;

use crate::harness::TrainCtx;
use crate::harness::plan::{Job, write_run};
use crate::harness::stacked::Row;
use crate::uv::{UvExp, UvRun, UvScale, UvTrace, fit_run};
use crate::uv::sweep::{DrawRow, run_stacked_draws};

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
    let draws = scale.draws();
    let rows: Vec<DrawRow<'_>> = runs
        .iter()
        .map(|r| {
            let draw = draws.iter().find(|d| d.data_seed == r.data_seed).expect("a run's draw is in the scale");
            DrawRow { row: row(r), data: &draw.data }
        })
        .collect();
    let traces = run_stacked_draws(device, act, scale.eps, scale.log_every, &rows, bar);
    runs.into_iter().zip(traces).map(|(run, t)| (run, UvTrace { norm2: t.column(0), steps: t.steps })).collect()
}

fn metrics_csv(trace: &UvTrace) -> String {
    let mut csv = String::from("step,norm2\n");
    for (k, v) in trace.steps.iter().zip(&trace.norm2) {
        writeln!(csv, "{k},{v:e}").expect("writing to a String");
    }
    csv
}

/// Trains one job as one stacked program (a node of the invocation's
/// queue); every run's record is written as soon as the job ends.
pub fn train(ctx: &TrainCtx<'_, UvExp>, device: &burn::tensor::Device, job: &Job) -> anyhow::Result<()> {
    let scale = ctx.scale;
    let bar = ctx.progress.job_bar(&job.id, 0);
    let start = Instant::now();
    let trained = train_job(scale, job, device, Some(&bar));
    let share = start.elapsed().as_secs_f64() / trained.len() as f64;
    bar.finish_and_clear();
    for (run, trace) in &trained {
        write_run(ctx.out, &run.id, run, &metrics_csv(trace), &fit_run(scale, run, trace, share))?;
    }
    Ok(())
}
