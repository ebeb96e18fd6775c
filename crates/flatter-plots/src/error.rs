//! Errors: [`DataError`] says what in a [`crate::Figure`] cannot be drawn,
//! and [`PlotError`] adds which file was being written.

use std::fmt;
use std::path::PathBuf;

/// One of the two axes, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// The horizontal axis.
    X,
    /// The vertical axis.
    Y,
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X => "x",
            Self::Y => "y",
        })
    }
}

/// A value in a figure that cannot be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    /// No series has any point.
    #[error("the figure has no data points")]
    NoData,
    /// A coordinate is NaN or infinite.
    #[error(
        "series \"{series}\": point {index} is ({x}, {y}), which is not finite \
         (drop such points explicitly with Series::finite_only)"
    )]
    NonFinite {
        /// The series label.
        series: String,
        /// The index of the point in the series.
        index: usize,
        /// Its x value.
        x: f64,
        /// Its y value.
        y: f64,
    },
    /// A value on a logarithmic axis is zero or negative.
    #[error(
        "series \"{series}\": point {index} has {axis} = {value}, but the {axis} axis \
         is logarithmic and can only show positive values"
    )]
    NonPositiveOnLog {
        /// The series label.
        series: String,
        /// The logarithmic axis.
        axis: Axis,
        /// The index of the point in the series.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// The error bars are not one per point.
    #[error("series \"{series}\": {errors} error bars for {points} points")]
    ErrorsLength {
        /// The series label.
        series: String,
        /// How many points the series has.
        points: usize,
        /// How many error bars it has.
        errors: usize,
    },
    /// An error bar half-width is negative or not finite.
    #[error(
        "series \"{series}\": error bar {index} is {value}; it must be finite and non-negative"
    )]
    BadErrorBar {
        /// The series label.
        series: String,
        /// The index of the point in the series.
        index: usize,
        /// The offending half-width.
        value: f64,
    },
    /// A reference line is not finite, or not positive on a log axis.
    #[error(
        "reference line \"{label}\" at {axis} = {value} cannot be drawn \
         (it must be finite, and positive on a logarithmic axis)"
    )]
    BadRefLine {
        /// The line's label.
        label: String,
        /// The axis it crosses.
        axis: Axis,
        /// The offending value.
        value: f64,
    },
}

/// Why a figure was not written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The figure's data cannot be drawn; nothing was written.
    #[error("cannot plot {}: {source}", path.display())]
    Data {
        /// The file that would have been written.
        path: PathBuf,
        /// What is wrong with the data.
        #[source]
        source: DataError,
    },
    /// Plotters or the PNG encoder failed.
    #[error("drawing {} failed: {message}", path.display())]
    Draw {
        /// The file being drawn.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },
    /// Creating the directory, writing the temporary file or renaming it failed.
    #[error("writing {} failed: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}
