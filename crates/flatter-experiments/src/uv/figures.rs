//! The UV experiment's figures, as functions of its results (Fig. 1b, 1c, App. A).

use std::path::Path;

use flatter_plots::{Figure, PlotError, Scale as AxisScale, Series};
use crate::harness::render_figure as render;
use flatter_theory::timescales::exponent_a;

use crate::harness::GAMMA_OPT;
use crate::harness::same_value;
use crate::harness::claims::FigureRef;
use crate::uv::{Activation, UvSummary};

/// Writes every figure of a UV summary under `<out>/figures/` (SVG and PNG
/// each); returns them, relative to `out`, with captions.
pub fn write_figures(summary: &UvSummary, out: &Path) -> Result<Vec<FigureRef>, PlotError> {
    let mut figures = Vec::new();
    let mut add = |fig: &Figure, name: String, caption: String| -> Result<(), PlotError> {
        render(fig, &out.join("figures").join(&name))?;
        figures.push(FigureRef { file: format!("figures/{name}.png"), caption });
        Ok(())
    };
    for &act in &summary.config.activations {
        add(
            &tau_vs_lr(summary, act),
            format!("tau_vs_lr_{}", act.name()),
            format!("UV {}: decay time τ against η for each γ, with power-law fits (Fig. 1b/1c).", act.name()),
        )?;
    }
    add(
        &exponent_vs_gamma(summary),
        "exponent_vs_gamma".into(),
        "Fitted exponent a(γ) of τ ∝ η^(−a) against the theory max(γ, 2 − 2γ) (claim C4).".into(),
    )?;
    add(
        &tau_vs_gamma(summary),
        "tau_vs_gamma".into(),
        "τ against γ at the smallest η: the minimum sits near γ = 2/3 (row 5).".into(),
    )?;
    if !summary.argmin_c.is_empty() {
        add(
            &tau_vs_c(summary),
            "tau_vs_c".into(),
            "τ against C/C* at γ = 2/3 on the two smallest η, pooled over the draws (claims C6, C7): the minimum should sit near C*.".into(),
        )?;
    }
    Ok(figures)
}

/// τ against η in log–log for each γ, with the fitted power laws and the theory slopes.
fn tau_vs_lr(summary: &UvSummary, act: Activation) -> Figure {
    let mut fig = Figure::new(
        format!(
            "UV {}: decay time of |u|²+|v|² (1−β = Cη^γ, C = {}·C*, {} draws pooled)",
            act.name(),
            summary.config.c_over_c_star,
            summary.draws.len()
        ),
        "learning rate η",
        "τ (steps)",
    )
    .log_log();
    for (color, e) in summary.exponents.iter().filter(|e| e.activation == act).enumerate() {
        let points: Vec<(f64, f64)> = e.tau_by_lr.iter().filter_map(|&(lr, t)| t.map(|t| (lr, t))).collect();
        if points.is_empty() {
            continue;
        }
        let label = match e.a {
            Some(a) => format!("γ = {:.3}: a = {a:.2} (theory {:.2})", e.gamma, e.a_theory),
            None => format!("γ = {:.3}: too few fits", e.gamma),
        };
        fig = fig.with_series(Series::markers(label, points.clone()).with_color(color));
        if let (Some(a), Some(log_k)) = (e.a, e.log_prefactor) {
            let ends = [points.first().unwrap().0, points.last().unwrap().0];
            let fitted: Vec<(f64, f64)> = ends.iter().map(|&lr| (lr, (log_k - a * lr.ln()).exp())).collect();
            fig = fig.with_series(Series::line(format!("fit γ = {:.3}", e.gamma), fitted).with_color(color));
            // The theory slope −max(γ, 2−2γ), drawn through the data's geometric centre.
            let (mx, my) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p.0.ln(), y + p.1.ln()));
            let (mx, my) = (mx / points.len() as f64, my / points.len() as f64);
            let theory: Vec<(f64, f64)> = ends.iter().map(|&lr| (lr, (my - e.a_theory * (lr.ln() - mx)).exp())).collect();
            fig = fig.with_series(Series::dashed(format!("theory slope γ = {:.3}", e.gamma), theory).with_color(color));
        }
    }
    fig
}

/// Fitted a(γ) against γ, per activation, with the theory max(γ, 2 − 2γ).
fn exponent_vs_gamma(summary: &UvSummary) -> Figure {
    let mut fig = Figure::new("Exponent of τ ∝ η^-a against γ", "γ", "a(γ)").vline(GAMMA_OPT, "γ = 2/3");
    let gammas: Vec<f64> = summary.config.gammas.clone();
    let (lo, hi) = gammas.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &g| (l.min(g), h.max(g)));
    let theory: Vec<(f64, f64)> = (0..=100).map(|i| lo + (hi - lo) * i as f64 / 100.0).map(|g| (g, exponent_a(g))).collect();
    fig = fig.with_series(Series::dashed("theory max(γ, 2−2γ)", theory).with_color(7));
    for (color, &act) in summary.config.activations.iter().enumerate() {
        let (points, errors): (Vec<(f64, f64)>, Vec<f64>) = summary
            .exponents
            .iter()
            .filter(|e| e.activation == act)
            .filter_map(|e| Some(((e.gamma, e.a?), e.a_stderr.unwrap_or(0.0))))
            .unzip();
        if !points.is_empty() {
            fig = fig.with_series(Series::line_and_markers(act.name(), points).with_errors(errors).with_color(color));
        }
    }
    fig
}

/// τ against γ at the smallest η, per activation: the minimum sits near 2/3.
fn tau_vs_gamma(summary: &UvSummary) -> Figure {
    let lr_min = summary.config.lrs.iter().copied().fold(f64::INFINITY, f64::min);
    let mut fig = Figure::new(format!("Decay time against γ at η = {lr_min:.1e}"), "γ", "τ (steps)")
        .scales(AxisScale::Linear, AxisScale::Log10)
        .vline(GAMMA_OPT, "γ = 2/3");
    for (color, &act) in summary.config.activations.iter().enumerate() {
        let points: Vec<(f64, f64)> = summary
            .exponents
            .iter()
            .filter(|e| e.activation == act)
            .filter_map(|e| {
                let tau = e.tau_by_lr.iter().find(|(lr, _)| same_value(*lr, lr_min)).and_then(|(_, t)| *t)?;
                Some((e.gamma, tau))
            })
            .collect();
        if !points.is_empty() {
            let label = match summary.argmin_gamma_at(act, lr_min) {
                Some(g) => format!("{} (argmin γ ≈ {g:.3})", act.name()),
                None => act.name().to_string(),
            };
            fig = fig.with_series(Series::line_and_markers(label, points).with_color(color));
        }
    }
    fig
}

/// τ against C/C* at γ = 2/3 (the C sweep), per activation and η.
fn tau_vs_c(summary: &UvSummary) -> Figure {
    let mut fig = Figure::new("Decay time against C at γ = 2/3 (draws pooled)", "C / C*", "τ (steps)").log_log().vline(1.0, "C = C*");
    for (color, a) in summary.argmin_c.iter().enumerate() {
        let points: Vec<(f64, f64)> = a.tau_by_c.iter().filter_map(|&(f, t)| t.map(|t| (f, t))).collect();
        if points.is_empty() {
            continue;
        }
        let label = match a.pooled {
            Some(c) => format!("{}, η = {:.1e} (argmin C/C* ≈ {c:.2})", a.activation.name(), a.lr),
            None => format!("{}, η = {:.1e}", a.activation.name(), a.lr),
        };
        fig = fig.with_series(Series::line_and_markers(label, points).with_color(color));
    }
    fig
}
