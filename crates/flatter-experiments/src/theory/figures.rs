//! The theory experiment's figures, functions of its summary alone: the
//! fitted exponent a(γ) for eq. (126)'s drift law and the negative controls,
//! and the real/complex boundary of a real HeavyBall step against η.

use std::path::Path;

use flatter_plots::{Figure, PlotError, Scale as AxisScale, Series};
use crate::harness::render_figure as render;
use flatter_theory::exponents::log_grid;
use flatter_theory::timescales::exponent_a;

use super::analyse::{TheorySummary, eq8_boundary_gamma, model};
use crate::harness::GAMMA_OPT;
use crate::harness::claims::FigureRef;

/// Writes both figures under `<out>/figures/` (SVG and PNG); returns them with captions.
pub fn write_figures(summary: &TheorySummary, out: &Path) -> Result<Vec<FigureRef>, PlotError> {
    let mut figures = Vec::new();
    for (fig, name, caption) in [
        (
            exponent_vs_gamma(summary),
            "exponent_vs_gamma",
            "Fitted a(γ) of τ = τ₁ + τ₂ ∝ η^(−a), τ₁ from the eq. (8) spectrum and τ₂ from the drift law, for eq. (126)'s (1−β)^(−2) and the negative controls; dashed: max(γ, 2 − 2γ) (claims C1, C2).",
        ),
        (
            boundary_vs_lr(summary),
            "boundary_vs_lr",
            "γ at which the finite-difference Jacobian of a real HeavyBall step turns complex (λ = 1), against η, beside eq. (8)'s boundary; it tends to 1/2 as η → 0 (claim C3).",
        ),
    ] {
        render(&fig, &out.join("figures").join(name))?;
        figures.push(FigureRef { file: format!("figures/{name}.png"), caption: caption.into() });
    }
    Ok(figures)
}

fn exponent_vs_gamma(s: &TheorySummary) -> Figure {
    let scale = &s.config;
    let lrs = log_grid(scale.fit_lrs[0], scale.fit_lrs[1], scale.fit_points);
    let gammas: Vec<f64> = (0..=100).map(|i| i as f64 / 100.0).collect();
    let mut fig = Figure::new(
        format!("a(γ) fitted over η ∈ [{:.0e}, {:.0e}], C = {}·C*", scale.fit_lrs[0], scale.fit_lrs[1], scale.c_over_c_star),
        "γ",
        "fitted a(γ)",
    )
    .vline(GAMMA_OPT, "γ = 2/3");
    let powers = std::iter::once(2.0).chain(scale.control_drift_powers.iter().copied());
    for (color, p) in powers.enumerate() {
        let m = model(scale, p, scale.c_over_c_star);
        let curve: Vec<(f64, f64)> = gammas.iter().filter_map(|&g| m.exponent(g, &lrs).ok().map(|a| (g, a))).collect();
        let label = if p == 2.0 { "drift ∝ (1−β)^-2 (eq. 126)".to_string() } else { format!("control: drift ∝ (1−β)^-{p}") };
        fig = fig.with_series(Series::line(label, curve).with_color(color));
    }
    fig = fig.with_series(Series::markers("γ*", vec![(s.gamma_star, s.a_star)]).with_color(0));
    let theory: Vec<(f64, f64)> = gammas.iter().map(|&g| (g, exponent_a(g))).collect();
    fig.with_series(Series::dashed("max(γ, 2 − 2γ)", theory).with_color(6))
}

fn boundary_vs_lr(s: &TheorySummary) -> Figure {
    let scale = &s.config;
    let points: Vec<(f64, f64)> = s.boundary.iter().filter_map(|b| b.fd.map(|g| (b.lr, g))).collect();
    let (lo, hi) = scale.fd_lrs.iter().fold((f64::INFINITY, 0.0_f64), |(l, h), &x| (l.min(x), h.max(x)));
    let eq8: Vec<(f64, f64)> = log_grid(lo / 10.0, hi, 60).into_iter().map(|lr| (lr, eq8_boundary_gamma(lr, scale.fd_c, scale.boundary_lambda))).collect();
    Figure::new("Real/complex boundary of the HeavyBall Jacobian (λ = 1, C = 1)", "learning rate η", "γ where the eigenvalues turn complex")
        .scales(AxisScale::Log10, AxisScale::Linear)
        .hline(0.5, "γ = 1/2")
        .with_series(Series::dashed("eq. (8)", eq8).with_color(6))
        .with_series(Series::markers("finite differences of one HeavyBall step", points).with_color(0))
}
