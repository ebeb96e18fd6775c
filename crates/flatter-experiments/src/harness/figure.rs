//! Writing a results figure so that a legitimate outcome never fails the
//! analysis (issue 17): points that cannot be drawn (a diverged run's NaN)
//! are left out and the title says how many, and a figure with nothing left
//! is written as a "no data" figure that says so.

use std::path::{Path, PathBuf};

use flatter_plots::{Figure, PlotError};

/// Renders `fig` to `<path>.svg` and `<path>.png` ([`flatter_plots::render`]),
/// after dropping undrawable points (named in the title); with no point
/// left, writes the "no data" figure instead.
pub fn render_figure(fig: &Figure, path: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let mut fig = fig.clone();
    let dropped = fig.drop_undrawable();
    if !fig.has_points() {
        let why = if dropped > 0 {
            format!("no data: all {dropped} points are NaN, infinite or not positive on a log axis")
        } else {
            "no data: no run produced a value for this figure (see summary.json)".to_string()
        };
        return flatter_plots::render_no_data(&fig.title, &why, path);
    }
    if dropped > 0 {
        fig.title = format!("{} ({dropped} undrawable points omitted)", fig.title);
    }
    flatter_plots::render(&fig, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatter_plots::{Scale, Series};

    /// A figure whose only points are NaN, or that has none, is still
    /// written (as "no data"); a NaN beside good points is omitted and
    /// counted; the strict renderer refuses both (the negative control).
    #[test]
    fn undrawable_and_empty_figures_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let nan = Figure::new("t", "x", "y").with_series(Series::line("a", vec![(1.0, f64::NAN)]));
        assert!(flatter_plots::render(&nan, &dir.path().join("strict")).is_err());
        let files = render_figure(&nan, &dir.path().join("nan")).unwrap();
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        assert!(svg.contains("no data") && files[1].is_file(), "{svg}");
        let empty = Figure::new("t", "x", "y");
        assert!(flatter_plots::render(&empty, &dir.path().join("strict")).is_err());
        render_figure(&empty, &dir.path().join("empty")).unwrap();
        let mixed = Figure::new("t", "x", "y")
            .scales(Scale::Linear, Scale::Log10)
            .with_series(Series::line("a", vec![(1.0, 1.0), (2.0, f64::INFINITY), (3.0, -1.0), (4.0, 2.0)]));
        let files = render_figure(&mixed, &dir.path().join("mixed")).unwrap();
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        assert!(svg.contains("2 undrawable points omitted"), "{svg}");
    }
}
