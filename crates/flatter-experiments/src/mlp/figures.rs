//! The MLP experiment's figures (Fig. 5), as functions of its results.

use std::path::Path;

use flatter_plots::{Figure, LegendPosition, PlotError, Scale as AxisScale, Series};
use crate::harness::render_figure as render;

use crate::harness::same_value;
use crate::harness::claims::FigureRef;
use crate::mlp::{EpochPoint, FAILED_ACC, GAMMA_OPT, MlpRun, MlpSummary};

/// Writes the three figures under `<out>/figures/` and returns their entries
/// (PNG paths relative to `out`; an SVG sits beside each).
pub fn write_figures(summary: &MlpSummary, traces: &[(MlpRun, Vec<EpochPoint>)], out: &Path) -> Result<Vec<FigureRef>, PlotError> {
    let dir = out.join("figures");
    let mut entries = Vec::new();
    render(&acc_vs_beta(summary), &dir.join("acc_vs_beta"))?;
    entries.push(FigureRef {
        file: "figures/acc_vs_beta.png".into(),
        caption: "Best test accuracy (mean over the run seeds, with its standard error when there are several) against 1 − β for each η (markers), with the eq. (14) parabola in log(1 − β) fitted around the peak (lines), whose vertex is β*. Failed runs (diverged, or collapsed below 0.2 test accuracy) are not drawn; they are listed in summary.json.".into(),
    });
    if let Some(fig) = beta_star_vs_lr(summary) {
        render(&fig, &dir.join("beta_star_vs_lr"))?;
        entries.push(FigureRef {
            file: "figures/beta_star_vs_lr.png".into(),
            caption: "1 − β* against η (log–log) with standard errors, the fitted line and a slope-2/3 line through the data's centre (Fig. 5).".into(),
        });
    }
    render(&acc_vs_epoch(summary, traces), &dir.join("acc_vs_epoch"))?;
    entries.push(FigureRef {
        file: "figures/acc_vs_epoch.png".into(),
        caption: "Test accuracy against epoch at the middle η and the first run seed, one line per 1 − β of the shared grid (markers: the β with the best mean score); the dashed vertical marks the end of the label-noise phase. Failed runs are not drawn.".into(),
    });
    Ok(entries)
}

fn acc_vs_beta(summary: &MlpSummary) -> Figure {
    let mut fig = Figure::new("MLP on Fashion-MNIST: best test accuracy against 1 − β", "1 − β", "best test accuracy")
        .scales(AxisScale::Log10, AxisScale::Linear)
        // The peaks are at the top; the low corner on the momentum-free side is empty.
        .legend_at(LegendPosition::LowerRight);
    for (color, b) in summary.beta_star.iter().enumerate() {
        let mut ok: Vec<_> = b.points.iter().filter(|p| !p.failed).collect();
        ok.sort_by(|a, b| (1.0 - a.beta).total_cmp(&(1.0 - b.beta)));
        let points: Vec<(f64, f64)> = ok.iter().map(|p| (1.0 - p.beta, p.score)).collect();
        let errors: Option<Vec<f64>> = ok.iter().map(|p| p.stderr).collect();
        let label = match (b.beta_star, b.interior) {
            (Some(s), true) => format!("η = {}: β* = {s:.4}", b.lr),
            _ => format!("η = {}: no interior β*", b.lr),
        };
        if !points.is_empty() {
            let series = Series::markers(label, points).with_color(color);
            fig = fig.with_series(match errors {
                Some(e) => series.with_errors(e),
                None => series,
            });
        }
        if let Some([a, bb, c]) = b.parabola {
            let (lo, hi) = b.fitted_betas.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                let x = (1.0 - x).ln();
                (l.min(x), h.max(x))
            });
            let curve: Vec<(f64, f64)> =
                (0..=40).map(|i| lo + (hi - lo) * i as f64 / 40.0).map(|x| (x.exp(), a * x * x + bb * x + c)).collect();
            fig = fig.with_series(Series::line("", curve).with_color(color));
        }
    }
    fig
}

fn beta_star_vs_lr(summary: &MlpSummary) -> Option<Figure> {
    let used: Vec<_> = summary.beta_star.iter().filter(|b| b.interior).collect();
    if used.is_empty() {
        return None;
    }
    let points: Vec<(f64, f64)> = used.iter().map(|b| (b.lr, 1.0 - b.beta_star.unwrap())).collect();
    // Error bars in log space mapped to a symmetric bar on the value: (1 − β*)·se.
    let errors: Vec<f64> = used.iter().map(|b| (1.0 - b.beta_star.unwrap()) * b.log_one_minus_beta_star_stderr.unwrap_or(0.0)).collect();
    // 1 − β* rises with η: the upper left corner is empty.
    let mut fig = Figure::new("Optimal momentum against learning rate", "learning rate η", "1 − β*")
        .log_log()
        .legend_at(LegendPosition::UpperLeft)
        .with_series(Series::markers("β* from the eq. (14) fit", points.clone()).with_errors(errors).with_color(0));
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.0), h.max(p.0)));
    let ends = [lo, hi];
    if let Some(s) = &summary.slope {
        let line: Vec<(f64, f64)> = ends.iter().map(|&lr| (lr, (s.intercept + s.slope * lr.ln()).exp())).collect();
        fig = fig.with_series(Series::line(format!("fit: slope {:.2} ± {:.2}", s.slope, s.slope_stderr), line).with_color(1));
    }
    let (mx, my) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p.0.ln(), y + p.1.ln()));
    let (mx, my) = (mx / points.len() as f64, my / points.len() as f64);
    let theory: Vec<(f64, f64)> = ends.iter().map(|&lr| (lr, (my + GAMMA_OPT * (lr.ln() - mx)).exp())).collect();
    Some(fig.with_series(Series::dashed("slope 2/3", theory).with_color(7)))
}

fn acc_vs_epoch(summary: &MlpSummary, traces: &[(MlpRun, Vec<EpochPoint>)]) -> Figure {
    let lrs = &summary.config.lrs;
    let mid = lrs[lrs.len() / 2];
    let seed = summary.config.run_seeds[0];
    let mut fig = Figure::new(format!("Test accuracy during training at η = {mid} (seed {seed})"), "epoch", "test accuracy")
        .vline(summary.config.epochs_noisy as f64, "end of label noise")
        // The noise-free plateau is at the top right; the dips of the noisy phase leave the low right empty.
        .legend_at(LegendPosition::LowerRight);
    // The grid point with the best mean score at this η is drawn with markers.
    let best_beta = summary
        .beta_star
        .iter()
        .find(|b| same_value(b.lr, mid))
        .and_then(|b| b.points.iter().filter(|p| !p.failed).max_by(|a, b| a.score.total_cmp(&b.score)))
        .map(|p| p.beta);
    let mut at_mid: Vec<&(MlpRun, Vec<EpochPoint>)> =
        traces.iter().filter(|(r, _)| same_value(r.lr, mid) && r.seed == seed).collect();
    at_mid.sort_by(|a, b| a.0.beta.total_cmp(&b.0.beta));
    // Failed runs (ending below FAILED_ACC, or diverged) would squash the axis; they are in summary.json.
    at_mid.retain(|(_, points)| points.last().is_some_and(|p| p.test_accuracy >= FAILED_ACC));
    for (color, (run, points)) in at_mid.iter().enumerate() {
        let pts: Vec<(f64, f64)> = points.iter().filter(|p| p.test_accuracy.is_finite()).map(|p| (p.epoch as f64, p.test_accuracy)).collect();
        if pts.is_empty() {
            continue;
        }
        let is_best = best_beta.is_some_and(|b| b == run.beta);
        let label = format!("1 − β = {:.4}{}", 1.0 - run.beta, if is_best { " (best score)" } else { "" });
        let series = if is_best { Series::line_and_markers(label, pts) } else { Series::line(label, pts) };
        fig = fig.with_series(series.with_color(color));
    }
    fig
}
