//! The matrix-sensing figures, as functions of its results.

use std::path::Path;

use flatter_plots::{Figure, PlotError, Scale as AxisScale, Series};
use crate::harness::render_figure as render;

use crate::harness::GAMMA_OPT;
use crate::harness::same_value;
use crate::harness::claims::FigureRef;
use crate::matrix_sensing::{MsRun, MsSummary, MsTrace, RunKind};

/// At most this many β per trace figure, spread over the grid.
const TRACE_BETAS: usize = 6;

fn spread<T: Clone>(xs: &[T], k: usize) -> Vec<T> {
    if xs.len() <= k {
        return xs.to_vec();
    }
    (0..k).map(|i| xs[i * (xs.len() - 1) / (k - 1)].clone()).collect()
}

/// Writes every figure under `<out>/figures/`; `runs` are all runs and
/// `load` reads a run's trace (None when it is missing).
pub fn write_figures(
    summary: &MsSummary,
    runs: &[MsRun],
    out: &Path,
    load: impl Fn(&MsRun) -> Option<MsTrace>,
) -> Result<Vec<FigureRef>, PlotError> {
    let mut figures = Vec::new();
    let mut add = |fig: Figure, name: &str, caption: String| -> Result<(), PlotError> {
        render(&fig, &out.join("figures").join(name))?;
        figures.push(FigureRef { file: format!("figures/{name}.png"), caption });
        Ok(())
    };
    let cfg = &summary.config;
    let seed = cfg.data_seeds[0];
    let lr = cfg.lrs[cfg.lrs.len() / 2];
    let chosen: Vec<&MsRun> = spread(
        &runs.iter().filter(|r| r.kind == RunKind::Phase2 && r.data_seed == seed && same_value(r.lr, lr)).collect::<Vec<_>>(),
        TRACE_BETAS,
    );
    let traces: Vec<(&MsRun, MsTrace)> = chosen.iter().filter_map(|r| load(r).map(|t| (*r, t))).collect();
    let t_star = cfg_t_star(summary, seed);

    let mut trace_fig = Figure::new(
        format!("Hessian trace under label noise, η = {lr}, data seed {seed}"),
        "step",
        "tr ∇²L / T*",
    );
    let mut test_fig = Figure::new(format!("Test error under label noise, η = {lr}, data seed {seed}"), "step", "‖UV − Y*‖²_F")
        .scales(AxisScale::Linear, AxisScale::Log10);
    for (color, (run, t)) in traces.iter().enumerate() {
        let label = format!("1 − β = {:.3}", 1.0 - run.beta);
        let tr: Vec<(f64, f64)> = t.steps.iter().zip(&t.hessian_trace).map(|(&k, &v)| (k as f64, v / t_star)).collect();
        let te: Vec<(f64, f64)> = t.steps.iter().zip(&t.test_error).filter(|(_, v)| **v > 0.0).map(|(&k, &v)| (k as f64, v)).collect();
        trace_fig = trace_fig.with_series(Series::line(label.clone(), tr).with_color(color).finite_only().0);
        test_fig = test_fig.with_series(Series::line(label, te).with_color(color).finite_only().0);
    }
    trace_fig = trace_fig.hline(1.0, "T* (flattest point of the valley)");
    add(trace_fig, "hessian_trace_vs_steps", format!("Hessian trace (eq. 129) over T* against steps for several β at η = {lr}: too little and too much momentum are both slow."))?;
    add(test_fig, "test_error_vs_steps", format!("Test error (eq. 13) against steps for the same runs (η = {lr})."))?;

    let mut speed = Figure::new("Steps until the Hessian trace reaches T* + f(tr₀ − T*)", "1 − β", "steps (geometric mean over seeds)").log_log();
    for (color, c) in summary.curves_mean.iter().enumerate() {
        speed = speed.with_series(Series::line_and_markers(format!("η = {}", c.lr), c.points.clone()).with_color(color));
        if let Some(star) = c.one_minus_beta_star {
            speed = speed.vline(star, format!("1 − β* at η = {}", c.lr));
        }
        let rule = summary.c_bound * c.lr.powf(GAMMA_OPT);
        speed = speed.vline(rule, format!("bound rule C_b η^(2/3), η = {}", c.lr));
    }
    add(speed, "speed_vs_beta", "Time to a fixed Hessian-trace level against 1 − β, per η: an interior optimum (C9); vertical lines mark the fitted 1 − β* and the eq. (135) rule.".into())?;

    let dd_seed = cfg.dd_seeds.first().copied().unwrap_or(seed);
    let dd_runs: Vec<&MsRun> = runs.iter().filter(|r| r.kind == RunKind::DoubleDescent && r.data_seed == dd_seed).collect();
    if !dd_runs.is_empty() {
        let mut dd = Figure::new(
            format!("Test error, random init, η = {}, seed {dd_seed}: noise solid, ε = 0 dashed", cfg.dd_lr),
            "step",
            "‖UV − Y*‖²_F",
        )
        .log_log();
        let points = |t: &MsTrace| -> Vec<(f64, f64)> {
            t.steps.iter().zip(&t.test_error).filter(|(k, v)| **k > 0 && **v > 0.0).map(|(&k, &v)| (k as f64, v)).collect()
        };
        for (color, run) in dd_runs.iter().enumerate() {
            if let Some(t) = load(run) {
                dd = dd.with_series(Series::line(format!("1 − β = {:.4}", 1.0 - run.beta), points(&t)).with_color(color).finite_only().0);
            }
            let control = runs.iter().find(|c| c.kind == RunKind::DdControl && c.data_seed == run.data_seed && same_value(c.beta, run.beta));
            if let Some(t) = control.and_then(&load) {
                dd = dd.with_series(Series::dashed(format!("1 − β = {:.4}, ε = 0", 1.0 - run.beta), points(&t)).with_color(color).finite_only().0);
            }
        }
        add(
            dd,
            "double_descent",
            "Test error against steps from a random initialisation at large β, with label noise (solid) and its ε = 0 control (dashed): a bump both show is the heavy ball's overshoot, not a label-noise double descent (C9).".into(),
        )?;
    }
    Ok(figures)
}

fn cfg_t_star(summary: &MsSummary, seed: u64) -> f64 {
    summary.config.problem(seed).min_hessian_trace()
}
