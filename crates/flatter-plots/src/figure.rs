//! The data a figure is made of: [`Figure`], its [`Series`], and how each is
//! drawn. These are plain values; [`crate::render`] turns them into files.

use crate::error::{Axis, DataError};

/// How one axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Equal distances for equal differences.
    #[default]
    Linear,
    /// Equal distances for equal ratios; every value on the axis must be positive.
    Log10,
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesStyle {
    /// A solid line through the points in the given order.
    #[default]
    Line,
    /// A filled marker at each point and no line.
    Markers,
    /// A solid line with a marker at each point.
    LineAndMarkers,
    /// A dashed line, meant for theory curves drawn over measured data.
    Dashed,
}

/// Where the legend box sits inside the plotting area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPosition {
    /// The top left corner.
    UpperLeft,
    /// The top right corner.
    #[default]
    UpperRight,
    /// The bottom left corner.
    LowerLeft,
    /// The bottom right corner.
    LowerRight,
}

/// One labelled set of points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The legend text; a series with an empty label gets no legend entry.
    pub label: String,
    /// The (x, y) points, drawn in this order.
    pub points: Vec<(f64, f64)>,
    /// How the points are drawn.
    pub style: SeriesStyle,
    /// Optional symmetric y error bars, one half-width per point, each finite
    /// and non-negative.
    pub errors: Option<Vec<f64>>,
    /// Optional index into [`crate::style::PALETTE`] (taken modulo its
    /// length), so that a theory curve can share the colour of the data it
    /// describes; by default a series takes the colour of its position.
    pub color: Option<usize>,
}

impl Series {
    /// A series drawn in `style`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>, style: SeriesStyle) -> Self {
        Self {
            label: label.into(),
            points,
            style,
            errors: None,
            color: None,
        }
    }

    /// A solid line.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::new(label, points, SeriesStyle::Line)
    }

    /// Markers without a line.
    pub fn markers(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::new(label, points, SeriesStyle::Markers)
    }

    /// A solid line with markers.
    pub fn line_and_markers(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::new(label, points, SeriesStyle::LineAndMarkers)
    }

    /// A dashed line, for theory curves.
    pub fn dashed(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::new(label, points, SeriesStyle::Dashed)
    }

    /// Adds symmetric y error bars, one half-width per point.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<f64>) -> Self {
        self.errors = Some(errors);
        self
    }

    /// Picks the palette colour with this index instead of the positional one.
    #[must_use]
    pub fn with_color(mut self, palette_index: usize) -> Self {
        self.color = Some(palette_index);
        self
    }

    /// Drops every point whose x, y or error bar is not finite and returns
    /// the remaining series with the number of points dropped.
    ///
    /// [`crate::render`] rejects non-finite values instead of skipping them,
    /// so a caller that wants to plot a run that diverged calls this first
    /// and can report the count.
    #[must_use]
    pub fn finite_only(self) -> (Self, usize) {
        let before = self.points.len();
        let errors = self.errors.as_deref();
        let keep: Vec<usize> = (0..before)
            .filter(|&i| {
                let (x, y) = self.points[i];
                let e_ok = errors.is_none_or(|e| e.get(i).is_none_or(|v| v.is_finite()));
                x.is_finite() && y.is_finite() && e_ok
            })
            .collect();
        let points = keep.iter().map(|&i| self.points[i]).collect();
        let errors = self
            .errors
            .as_ref()
            .map(|e| keep.iter().filter_map(|&i| e.get(i).copied()).collect());
        let dropped = before - keep.len();
        (
            Self {
                points,
                errors,
                ..self
            },
            dropped,
        )
    }
}

/// A horizontal or vertical reference line, such as γ = 2/3.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    /// Where the line crosses its axis.
    pub value: f64,
    /// The legend text; empty means no legend entry.
    pub label: String,
}

/// A complete 2-D figure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figure {
    /// The caption above the plot.
    pub title: String,
    /// The text under the x axis.
    pub x_label: String,
    /// The text beside the y axis.
    pub y_label: String,
    /// The x axis scale.
    pub x_scale: Scale,
    /// The y axis scale.
    pub y_scale: Scale,
    /// The data, drawn in order, so later series lie on top.
    pub series: Vec<Series>,
    /// Horizontal reference lines (y values), drawn under the data.
    pub hlines: Vec<RefLine>,
    /// Vertical reference lines (x values), drawn under the data.
    pub vlines: Vec<RefLine>,
    /// Where the legend goes.
    pub legend: LegendPosition,
}

impl Figure {
    /// An empty figure with linear axes.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Self::default()
        }
    }

    /// Sets both axis scales.
    #[must_use]
    pub fn scales(mut self, x: Scale, y: Scale) -> Self {
        self.x_scale = x;
        self.y_scale = y;
        self
    }

    /// Makes both axes logarithmic.
    #[must_use]
    pub fn log_log(self) -> Self {
        self.scales(Scale::Log10, Scale::Log10)
    }

    /// Adds a series.
    #[must_use]
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Adds a horizontal reference line at `y`.
    #[must_use]
    pub fn hline(mut self, y: f64, label: impl Into<String>) -> Self {
        self.hlines.push(RefLine {
            value: y,
            label: label.into(),
        });
        self
    }

    /// Adds a vertical reference line at `x`.
    #[must_use]
    pub fn vline(mut self, x: f64, label: impl Into<String>) -> Self {
        self.vlines.push(RefLine {
            value: x,
            label: label.into(),
        });
        self
    }

    /// Moves the legend.
    #[must_use]
    pub fn legend_at(mut self, position: LegendPosition) -> Self {
        self.legend = position;
        self
    }

    /// The scale of one axis.
    pub fn scale(&self, axis: Axis) -> Scale {
        match axis {
            Axis::X => self.x_scale,
            Axis::Y => self.y_scale,
        }
    }

    /// Removes the points that cannot be drawn (a non-finite coordinate or
    /// error bar, a value ≤ 0 on a log axis) with their error bars, and
    /// reference lines that cannot be drawn; returns how many points went.
    /// For a results figure where a diverged run is a legitimate outcome, so
    /// the figure is still written, and says what it omits.
    pub fn drop_undrawable(&mut self) -> usize {
        let (xlog, ylog) = (self.x_scale == Scale::Log10, self.y_scale == Scale::Log10);
        let mut dropped = 0;
        for s in &mut self.series {
            let keep: Vec<bool> = s
                .points
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| {
                    let bar_ok = s.errors.as_ref().is_none_or(|e| e.get(i).is_some_and(|v| v.is_finite() && *v >= 0.0));
                    x.is_finite() && y.is_finite() && !(xlog && x <= 0.0) && !(ylog && y <= 0.0) && bar_ok
                })
                .collect();
            dropped += keep.iter().filter(|k| !**k).count();
            let mut it = keep.iter();
            s.points.retain(|_| *it.next().expect("one flag per point"));
            if let Some(e) = &mut s.errors
                && e.len() == keep.len()
            {
                let mut it = keep.iter();
                e.retain(|_| *it.next().expect("one flag per bar"));
            }
        }
        self.hlines.retain(|l| l.value.is_finite() && !(ylog && l.value <= 0.0));
        self.vlines.retain(|l| l.value.is_finite() && !(xlog && l.value <= 0.0));
        dropped
    }

    /// Whether any series has a point.
    pub fn has_points(&self) -> bool {
        self.series.iter().any(|s| !s.points.is_empty())
    }

    /// Checks that every value can be drawn: all coordinates and error bars
    /// finite, error bars non-negative and one per point, values on a log
    /// axis positive, and at least one point in the figure.
    ///
    /// On a log y axis an error bar may reach zero or below; its lower end is
    /// then drawn down to the bottom of the plot.
    pub fn validate(&self) -> Result<(), DataError> {
        let mut any_point = false;
        for s in &self.series {
            if let Some(e) = &s.errors
                && e.len() != s.points.len()
            {
                return Err(DataError::ErrorsLength {
                    series: s.label.clone(),
                    points: s.points.len(),
                    errors: e.len(),
                });
            }
            for (index, &(x, y)) in s.points.iter().enumerate() {
                any_point = true;
                if !x.is_finite() || !y.is_finite() {
                    return Err(DataError::NonFinite {
                        series: s.label.clone(),
                        index,
                        x,
                        y,
                    });
                }
                for (axis, value) in [(Axis::X, x), (Axis::Y, y)] {
                    if self.scale(axis) == Scale::Log10 && value <= 0.0 {
                        return Err(DataError::NonPositiveOnLog {
                            series: s.label.clone(),
                            axis,
                            index,
                            value,
                        });
                    }
                }
                if let Some(e) = &s.errors {
                    let value = e[index];
                    if !value.is_finite() || value < 0.0 {
                        return Err(DataError::BadErrorBar {
                            series: s.label.clone(),
                            index,
                            value,
                        });
                    }
                }
            }
        }
        for (axis, lines) in [(Axis::Y, &self.hlines), (Axis::X, &self.vlines)] {
            for line in lines {
                let log = self.scale(axis) == Scale::Log10;
                if !line.value.is_finite() || (log && line.value <= 0.0) {
                    return Err(DataError::BadRefLine {
                        label: line.label.clone(),
                        axis,
                        value: line.value,
                    });
                }
            }
        }
        if any_point {
            Ok(())
        } else {
            Err(DataError::NoData)
        }
    }
}
