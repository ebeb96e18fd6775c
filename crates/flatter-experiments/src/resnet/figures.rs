//! The ResNet experiment's figures, as functions of its summary (Fig. 2a, 2b, 4).

use std::path::Path;

use flatter_plots::{Figure, PlotError, Scale as AxisScale, Series};
use crate::harness::render_figure as render;

use crate::harness::same_value;
use crate::harness::GAMMA_OPT;
use crate::resnet::{FigureRef, ResnetRunSummary, ResnetSummary, mean_curve};

/// Writes every figure under `out/figures/` (SVG and PNG each) and returns
/// their references relative to `out`.
pub fn write_figures(summary: &ResnetSummary, out: &Path) -> Result<Vec<FigureRef>, PlotError> {
    let dir = out.join("figures");
    let mut refs = Vec::new();
    let mut add = |fig: Figure, name: &str, caption: String| -> Result<(), PlotError> {
        render(&fig, &dir.join(name))?;
        refs.push(FigureRef { file: format!("figures/{name}.png"), caption });
        Ok(())
    };
    add(
        accuracy_vs_beta(summary),
        "accuracy_vs_beta",
        "Fig. 2a: test accuracy after the phase-3 projection against 1−β, one colour per η, with the eq. (14) parabola in log(1−β) and its vertex β*".into(),
    )?;
    if let Some(fig) = beta_star_vs_lr(summary) {
        add(
            fig,
            "one_minus_beta_star_vs_lr",
            "Fig. 2b: 1−β* against η (log–log) with the fitted power law and a slope-2/3 line through the data".into(),
        )?;
    }
    add(
        accuracy_vs_epoch(summary),
        "test_accuracy_vs_epoch",
        format!(
            "Fig. 4: phase-2 test accuracy against epoch at η = {}, one line per β, with the phase-1 baseline",
            summary.config.phase2.fig4_lr
        ),
    )?;
    Ok(refs)
}

fn accuracy_vs_beta(summary: &ResnetSummary) -> Figure {
    let mut fig = Figure::new("Test accuracy after projection against momentum", "1 − β", "test accuracy")
        .scales(AxisScale::Log10, AxisScale::Linear);
    for (color, star) in summary.beta_star.iter().enumerate() {
        let points: Vec<(f64, f64)> = star.points.iter().filter(|p| !p.failed).map(|p| (1.0 - p.beta, p.score)).collect();
        if points.is_empty() {
            continue;
        }
        // Error bars: each point's standard error over the run seeds (0 with one seed).
        let errors: Vec<f64> = star.points.iter().filter(|p| !p.failed).map(|p| p.stderr.unwrap_or(0.0)).collect();
        let label = match star.beta_star {
            Some(b) => format!("η = {}: β* = {b:.4}", star.lr),
            None => format!("η = {}: no β* fitted", star.lr),
        };
        fig = fig.with_series(Series::markers(label, points.clone()).with_errors(errors).with_color(color));
        if let (Some(b), Some([qa, qb, qc])) = (star.beta_star, star.parabola) {
            let (lo, hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(l, h), p| (l.min(p.0), h.max(p.0)));
            let (lo, hi) = (lo.min(1.0 - b), hi.max(1.0 - b));
            let curve: Vec<(f64, f64)> = (0..=60)
                .map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / 60.0).exp())
                .map(|om| (om, qa * om.ln().powi(2) + qb * om.ln() + qc))
                .collect();
            fig = fig.with_series(Series::line(format!("eq. (14) fit η = {}", star.lr), curve).with_color(color));
        }
    }
    fig
}

fn beta_star_vs_lr(summary: &ResnetSummary) -> Option<Figure> {
    let points: Vec<(f64, f64)> =
        summary.beta_star.iter().filter(|s| s.interior).filter_map(|s| Some((s.lr, 1.0 - s.beta_star?))).filter(|p| p.1 > 0.0).collect();
    if points.is_empty() {
        return None;
    }
    let errors: Vec<f64> = summary
        .beta_star
        .iter()
        .filter(|s| s.interior && s.beta_star.is_some_and(|b| b < 1.0))
        .map(|s| s.log_one_minus_beta_star_stderr.map_or(0.0, |e| (1.0 - s.beta_star.unwrap()) * e))
        .collect();
    let title = match (summary.slope, summary.slope_stderr) {
        (Some(s), Some(e)) => format!("1 − β* against η: slope {s:.2} ± {e:.2} (theory 2/3)"),
        _ => "1 − β* against η (too few β* for a slope)".into(),
    };
    let mut fig = Figure::new(title, "learning rate η", "1 − β*").log_log();
    fig = fig.with_series(Series::markers("β* from eq. (14)", points.clone()).with_errors(errors).with_color(0));
    let (mx, my) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p.0.ln(), y + p.1.ln()));
    let (mx, my) = (mx / points.len() as f64, my / points.len() as f64);
    let ends = [points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min), points.iter().map(|p| p.0).fold(0.0, f64::max)];
    if let Some(slope) = summary.slope {
        let fit: Vec<(f64, f64)> = ends.iter().map(|&lr| (lr, (my + slope * (lr.ln() - mx)).exp())).collect();
        fig = fig.with_series(Series::line(format!("fit, slope {slope:.2}"), fit).with_color(1));
    }
    let theory: Vec<(f64, f64)> = ends.iter().map(|&lr| (lr, (my + GAMMA_OPT * (lr.ln() - mx)).exp())).collect();
    fig = fig.with_series(Series::dashed("slope 2/3", theory).with_color(7));
    let on_law: Vec<(f64, f64)> =
        ends.iter().map(|&lr| (lr, summary.config.phase2.c * lr.powf(summary.config.phase2.gamma))).collect();
    Some(fig.with_series(Series::dashed(format!("grid centre C = {}", summary.config.phase2.c), on_law).with_color(2)))
}

fn accuracy_vs_epoch(summary: &ResnetSummary) -> Figure {
    let lr = summary.config.phase2.fig4_lr;
    let p1 = &summary.phase1;
    let baseline = if p1.test_accuracy_curve.is_finite() { p1.test_accuracy_curve } else { p1.test_accuracy };
    let n_curve = if p1.n_test_curve > 0 { p1.n_test_curve } else { p1.n_test };
    let mut fig = Figure::new(format!("Phase-2 test accuracy at η = {lr} (mean over run seeds ± SE)"), "epoch", "test accuracy")
        .hline(baseline, "phase-1 baseline");
    let at: Vec<&ResnetRunSummary> = summary.runs.iter().filter(|r| same_value(r.run.lr, lr)).collect();
    let mut ms: Vec<f64> = Vec::new();
    for r in &at {
        if !ms.iter().any(|&m| same_value(m, r.run.c_multiplier)) {
            ms.push(r.run.c_multiplier);
        }
    }
    for (color, m) in ms.into_iter().enumerate() {
        let runs: Vec<&ResnetRunSummary> = at.iter().copied().filter(|r| same_value(r.run.c_multiplier, m)).collect();
        let Some(curve) = mean_curve(&runs, n_curve) else { continue };
        let mut points = vec![(0.0, baseline)];
        points.extend(curve.epochs.iter().zip(&curve.mean).map(|(&e, &a)| (e as f64, a)));
        let mut errors = vec![0.0];
        errors.extend(curve.stderr.iter().copied());
        let label = format!("β = {:.4} ({m}·C)", curve.beta);
        fig = fig.with_series(Series::line_and_markers(label, points).with_errors(errors).with_color(color));
    }
    fig
}
