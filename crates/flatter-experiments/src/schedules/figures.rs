//! The schedule study's figures, as functions of its summary and config.

use std::path::Path;

use flatter_plots::{Figure, LegendPosition, PlotError, Scale as AxisScale, Series};

use crate::harness::claims::FigureRef;
use crate::harness::render_figure as render;
use crate::schedules::{Arm, LrSchedule, SchedScale, SchedSummary, Task};

/// Writes every figure under `<out>/figures/` and returns their entries.
pub fn write_figures(summary: &SchedSummary, scale: &SchedScale, out: &Path) -> Result<Vec<FigureRef>, PlotError> {
    let dir = out.join("figures");
    let mut entries = Vec::new();
    for &s in &scale.schedules {
        let name = format!("momentum_{}", s.name());
        render(&momentum(scale, s, false), &dir.join(&name))?;
        entries.push(FigureRef {
            file: format!("figures/{name}.png"),
            caption: format!("β against epoch under the {} schedule, per arm, from the config (no training): the rule and the one-cycle momentum raise β as η decays.", s.name().replace('_', "-")),
        });
        let name = format!("effective_lr_{}", s.name());
        render(&momentum(scale, s, true), &dir.join(&name))?;
        entries.push(FigureRef {
            file: format!("figures/{name}.png"),
            caption: format!(
                "The effective learning rate η/(1 − β) against epoch under the {} schedule, per arm (log scale): under the rule it falls as η^(1/3), far more slowly than η.",
                s.name().replace('_', "-")
            ),
        });
    }
    for &s in &scale.schedules {
        for &t in &scale.tasks {
            let name = format!("accuracy_vs_epoch_{}_{}", s.name(), t.name());
            render(&accuracy_vs_epoch(summary, scale, s, t), &dir.join(&name))?;
            entries.push(FigureRef {
                file: format!("figures/{name}.png"),
                caption: format!(
                    "Test accuracy against epoch, {} schedule, {}: the mean over the seeds per arm, with its standard error as error bars (diverged runs left out; an arm below 0.5 at every epoch has collapsed and is named in the title instead of drawn).",
                    s.name().replace('_', "-"),
                    if t == Task::Noisy { "label noise" } else { "no label noise" }
                ),
            });
        }
    }
    for &t in &scale.tasks {
        for (measure, title) in [("final_accuracy", "final test accuracy"), ("hessian_trace", "Hessian trace tr H at the end")] {
            let name = format!("{measure}_{}", t.name());
            render(&per_arm(summary, scale, t, measure, title), &dir.join(&name))?;
            entries.push(FigureRef {
                file: format!("figures/{name}.png"),
                caption: format!(
                    "The {title} per arm ({}), one series per schedule, mean ± standard error over the seeds. Arms: {}.",
                    if t == Task::Noisy { "label noise" } else { "no label noise" },
                    arm_key(scale, t)
                ),
            });
        }
    }
    Ok(entries)
}

fn arm_key(scale: &SchedScale, t: Task) -> String {
    scale.arms_for(t).iter().enumerate().map(|(i, a)| format!("{} = {}", i + 1, a.label(scale))).collect::<Vec<_>>().join(", ")
}

/// β (or η/(1 − β)) against fractional epoch for every arm under schedule `s`.
fn momentum(scale: &SchedScale, s: LrSchedule, effective: bool) -> Figure {
    let (title, y) = if effective {
        (format!("{}: effective learning rate η/(1 − β)", s.name().replace('_', "-")), "η/(1 − β)")
    } else {
        (format!("{}: momentum β", s.name().replace('_', "-")), "β")
    };
    let mut fig = Figure::new(title, "epoch", y)
        .scales(AxisScale::Linear, if effective { AxisScale::Log10 } else { AxisScale::Linear })
        .legend_at(if effective { LegendPosition::LowerLeft } else { LegendPosition::LowerRight });
    let total = scale.total_steps();
    let samples = 400.min(total);
    for (i, &arm) in scale.arms.iter().enumerate() {
        let Ok(rule) = scale.rule(arm) else { continue };
        let points: Vec<(f64, f64)> = (0..samples)
            .filter_map(|k| {
                let step = k * total / samples;
                let lr = scale.shapes.lr(s, scale.peak_lr, step, total);
                let beta = rule.beta(lr).ok()?;
                let epoch = step as f64 / scale.steps_per_epoch() as f64;
                Some((epoch, if effective { lr / (1.0 - beta) } else { beta }))
            })
            .collect();
        fig = fig.with_series(Series::line(arm.label(scale), points).with_color(i));
    }
    if effective {
        let points: Vec<(f64, f64)> =
            (0..samples).map(|k| k * total / samples).map(|step| (step as f64 / scale.steps_per_epoch() as f64, scale.shapes.lr(s, scale.peak_lr, step, total))).collect();
        fig = fig.with_series(Series::dashed("η itself", points).with_color(scale.arms.len()));
    }
    fig
}

/// Below this best mean accuracy an arm has collapsed (chance is 0.1): it is
/// named in the title rather than drawn, which would squash the others.
const COLLAPSED: f64 = 0.5;

fn accuracy_vs_epoch(summary: &SchedSummary, scale: &SchedScale, s: LrSchedule, t: Task) -> Figure {
    let mut series = Vec::new();
    let mut collapsed = Vec::new();
    for (i, &arm) in scale.arms.iter().enumerate() {
        let Some(a) = summary.arms.iter().find(|a| a.schedule == s && a.task == t && a.arm == arm) else { continue };
        // Epoch 0 (the initial weights, at chance) would squash the curves; it is in summary.json.
        let pts: Vec<(f64, f64, f64)> = a
            .curve
            .iter()
            .enumerate()
            .skip(1)
            .filter_map(|(e, st)| Some((e as f64, st.mean?, st.stderr.unwrap_or(0.0))))
            .collect();
        if pts.iter().all(|p| p.1 < COLLAPSED) {
            collapsed.push(arm.label(scale));
            continue;
        }
        let line = Series::line_and_markers(arm.label(scale), pts.iter().map(|p| (p.0, p.1)).collect()).with_errors(pts.iter().map(|p| p.2).collect());
        series.push(line.with_color(i));
    }
    let mut title = format!("{}, {}: test accuracy", s.name().replace('_', "-"), t.name());
    if !collapsed.is_empty() {
        title.push_str(&format!(" ({} at chance, not drawn)", collapsed.join(", ")));
    }
    series.into_iter().fold(Figure::new(title, "epoch", "test accuracy").legend_at(LegendPosition::LowerRight), Figure::with_series)
}

fn per_arm(summary: &SchedSummary, scale: &SchedScale, t: Task, measure: &str, title: &str) -> Figure {
    let arms: Vec<Arm> = scale.arms_for(t);
    let mut fig = Figure::new(format!("{}: {title} per arm", t.name()), "arm (see the caption)", title).legend_at(LegendPosition::LowerLeft);
    for (k, &s) in scale.schedules.iter().enumerate() {
        let pts: Vec<(f64, f64, f64)> = arms
            .iter()
            .enumerate()
            .filter_map(|(i, &arm)| {
                let a = summary.arms.iter().find(|a| a.schedule == s && a.task == t && a.arm == arm)?;
                let st = if measure == "final_accuracy" { a.final_accuracy } else { a.hessian_trace };
                // Schedules side by side around each arm's integer position.
                Some((i as f64 + 1.0 + 0.12 * (k as f64 - 1.0), st.mean?, st.stderr.unwrap_or(0.0)))
            })
            .collect();
        if pts.is_empty() {
            continue;
        }
        let series = Series::markers(s.name().replace('_', "-"), pts.iter().map(|p| (p.0, p.1)).collect()).with_errors(pts.iter().map(|p| p.2).collect());
        fig = fig.with_series(series.with_color(k));
    }
    fig
}
