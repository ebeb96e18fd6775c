//! Figures for the flatter experiments: numbers in, SVG and PNG files out.
//!
//! A [`Figure`] holds [`Series`] of (x, y) points, each drawn as a line,
//! markers, both, or a dashed theory curve, with optional y error bars, on
//! linear or base-10 log axes, plus horizontal and vertical reference lines
//! such as γ = 2/3. [`render`] validates it, draws it with plotters and
//! writes `<path>.svg` and `<path>.png` atomically.
//!
//! Text uses DejaVu Sans embedded in the binary, so rendering needs no
//! system fonts. The look (size, palette, fonts) lives in [`style`].
//!
//! Values that cannot be drawn are errors, never silently dropped: NaN or
//! infinite coordinates, and zero or negative values on a log axis, are
//! reported with the series name and point index. [`Series::finite_only`]
//! drops non-finite points explicitly and returns how many it dropped.
//!
//! ```no_run
//! use flatter_plots::{Figure, Scale, Series, render};
//!
//! let fig = Figure::new("Relaxation time", "learning rate η", "τ (steps)")
//!     .log_log()
//!     .with_series(Series::markers("measured", vec![(1e-3, 2e5), (1e-2, 9e3)]))
//!     .with_series(Series::dashed("theory ∝ η⁻⁴ᐟ³", vec![(1e-3, 2e5), (1e-2, 9.3e3)]));
//! let written = render(&fig, "results/fig2/tau".as_ref())?;
//! assert_eq!(written.len(), 2);
//! # Ok::<(), flatter_plots::PlotError>(())
//! ```

mod axis;
mod draw;
mod error;
mod figure;
pub mod style;
mod write;

use std::path::{Path, PathBuf};

pub use error::{Axis, DataError, PlotError};
pub use figure::{Figure, LegendPosition, RefLine, Scale, Series, SeriesStyle};

/// Writes the figure as `<path_without_extension>.svg` and
/// `<path_without_extension>.png` and returns those two paths.
///
/// The extension is appended, so dots already in the file name stay. The
/// parent directory is created if needed. Both images are rendered in memory
/// first, so invalid data writes nothing; each file is then written to a
/// temporary sibling and renamed into place.
pub fn render(fig: &Figure, path_without_extension: &Path) -> Result<Vec<PathBuf>, PlotError> {
    fig.validate().map_err(|source| PlotError::Data {
        path: path_without_extension.to_path_buf(),
        source,
    })?;
    let (x, y) = axis::plan_axes(fig);
    let svg_path = write::with_suffix(path_without_extension, "svg");
    let png_path = write::with_suffix(path_without_extension, "png");
    let svg = draw::svg_string(fig, &x, &y).map_err(|message| PlotError::Draw {
        path: svg_path.clone(),
        message,
    })?;
    let png = draw::png_bytes(fig, &x, &y).map_err(|message| PlotError::Draw {
        path: png_path.clone(),
        message,
    })?;
    write::create_parent(&svg_path)?;
    write::write_atomic(&svg_path, svg.as_bytes())?;
    write::write_atomic(&png_path, &png)?;
    Ok(vec![svg_path, png_path])
}

/// Writes a figure that has no data to show, as
/// `<path_without_extension>.svg` and `.png`: the title and, in the plot's
/// place, `message` (e.g. "no data: every run diverged"). Results pipelines
/// use it so that an outcome with nothing to plot still yields its figure
/// files, saying why, instead of failing the analysis.
pub fn render_no_data(title: &str, message: &str, path_without_extension: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let svg_path = write::with_suffix(path_without_extension, "svg");
    let png_path = write::with_suffix(path_without_extension, "png");
    let svg = draw::no_data_svg(title, message).map_err(|message| PlotError::Draw { path: svg_path.clone(), message })?;
    let png = draw::no_data_png(title, message).map_err(|message| PlotError::Draw { path: png_path.clone(), message })?;
    write::create_parent(&svg_path)?;
    write::write_atomic(&svg_path, svg.as_bytes())?;
    write::write_atomic(&png_path, &png)?;
    Ok(vec![svg_path, png_path])
}

