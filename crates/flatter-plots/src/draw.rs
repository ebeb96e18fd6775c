//! Drawing a validated [`Figure`] with plotters onto any backend, and the
//! two in-memory outputs: an SVG string and PNG bytes.

use plotters::coord::Shift;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

use crate::axis::AxisPlan;
use crate::figure::{Figure, LegendPosition, Scale, Series, SeriesStyle};
use crate::style::{
    AXIS_LABEL_SIZE, ERROR_CAP, FIGURE_SIZE, FONT_FAMILY, GRID_COLOR, LEGEND_SIZE, LINE_WIDTH,
    MARGIN, MARKER_RADIUS, MINOR_GRID_COLOR, REFERENCE_COLOR, REFERENCE_DASHES, SERIES_DASH,
    TICK_LABEL_SIZE, TITLE_SIZE, X_LABEL_AREA, Y_LABEL_AREA, ensure_font, series_color,
};

/// The width of a legend sample in pixels.
const LEGEND_SAMPLE: i32 = 22;

/// Renders the figure as an SVG document.
pub(crate) fn svg_string(fig: &Figure, x: &AxisPlan, y: &AxisPlan) -> Result<String, String> {
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        draw_figure(&root, fig, x, y)?;
    }
    Ok(svg)
}

/// Renders the figure into an RGB buffer and encodes it as PNG.
pub(crate) fn png_bytes(fig: &Figure, x: &AxisPlan, y: &AxisPlan) -> Result<Vec<u8>, String> {
    ensure_font()?;
    let (w, h) = FIGURE_SIZE;
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_figure(&root, fig, x, y)?;
    }
    encode_png(&rgb, w, h)
}

/// The title and a message where the plot would be.
fn draw_no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, message: &str) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (w, h) = FIGURE_SIZE;
    let centre = |size: f64| {
        (FONT_FAMILY, size).into_font().color(&BLACK).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ))
    };
    root.draw_text(title, &centre(TITLE_SIZE), (w as i32 / 2, MARGIN as i32 + TITLE_SIZE as i32)).map_err(|e| e.to_string())?;
    root.draw_text(message, &centre(AXIS_LABEL_SIZE), (w as i32 / 2, h as i32 / 2)).map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// [`draw_no_data`] as an SVG document.
pub(crate) fn no_data_svg(title: &str, message: &str) -> Result<String, String> {
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        draw_no_data(&root, title, message)?;
    }
    Ok(svg)
}

/// [`draw_no_data`] as PNG bytes.
pub(crate) fn no_data_png(title: &str, message: &str) -> Result<Vec<u8>, String> {
    ensure_font()?;
    let (w, h) = FIGURE_SIZE;
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_no_data(&root, title, message)?;
    }
    encode_png(&rgb, w, h)
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Fills the background, draws the chart for the figure's pair of scales,
/// and flushes the backend.
fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    x: &AxisPlan,
    y: &AxisPlan,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    // Each pair of scales is its own coordinate type, so each gets its own
    // instance of the generic chart code.
    match (x.scale, y.scale) {
        (Scale::Linear, Scale::Linear) => chart(root, fig, x, y, linear(x), linear(y)),
        (Scale::Linear, Scale::Log10) => chart(root, fig, x, y, linear(x), log10(y)),
        (Scale::Log10, Scale::Linear) => chart(root, fig, x, y, log10(x), linear(y)),
        (Scale::Log10, Scale::Log10) => chart(root, fig, x, y, log10(x), log10(y)),
    }?;
    root.present().map_err(|e| e.to_string())
}

/// A coordinate whose ticks are the planned ones, wrapping plotters' linear
/// or log coordinate. Plotters' own `WithKeyPoints` wrapper loses the value
/// formatter of `f64` ranges, which the mesh needs even when a custom label
/// formatter replaces it.
struct Ticked<R> {
    /// The coordinate that maps values to pixels.
    inner: R,
    /// The labelled ticks.
    major: Vec<f64>,
    /// The minor grid lines.
    minor: Vec<f64>,
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }

    fn axis_pixel_range(&self, limit: (i32, i32)) -> Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

/// A linear coordinate with the planned ticks.
fn linear(p: &AxisPlan) -> Ticked<RangedCoordf64> {
    Ticked {
        inner: (p.lo..p.hi).into(),
        major: p.major.clone(),
        minor: p.minor.clone(),
    }
}

/// A log coordinate with the planned ticks.
fn log10(p: &AxisPlan) -> Ticked<LogCoord<f64>> {
    Ticked {
        inner: (p.lo..p.hi).log_scale().into(),
        major: p.major.clone(),
        minor: p.minor.clone(),
    }
}

/// Draws the frame, grid, reference lines, series and legend.
fn chart<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    xp: &AxisPlan,
    yp: &AxisPlan,
    x: X,
    y: Y,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut builder = ChartBuilder::on(root);
    builder
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA);
    if !fig.title.is_empty() {
        builder.caption(&fig.title, (FONT_FAMILY, TITLE_SIZE));
    }
    let mut cc = builder.build_cartesian_2d(x, y).map_err(err)?;

    let x_fmt = |v: &f64| xp.format.label(*v);
    let y_fmt = |v: &f64| yp.format.label(*v);
    cc.configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(fig.y_label.as_str())
        .axis_desc_style((FONT_FAMILY, AXIS_LABEL_SIZE))
        .label_style((FONT_FAMILY, TICK_LABEL_SIZE))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(GRID_COLOR)
        .light_line_style(MINOR_GRID_COLOR)
        .draw()
        .map_err(err)?;

    let mut any_label = false;
    let ref_lines = fig
        .hlines
        .iter()
        .map(|l| (l, vec![(xp.lo, l.value), (xp.hi, l.value)]))
        .chain(
            fig.vlines
                .iter()
                .map(|l| (l, vec![(l.value, yp.lo), (l.value, yp.hi)])),
        );
    for (i, (line, points)) in ref_lines.enumerate() {
        let (dash, gap) = REFERENCE_DASHES[i % REFERENCE_DASHES.len()];
        let style = REFERENCE_COLOR.stroke_width(LINE_WIDTH);
        let anno = cc
            .draw_series(DashedLineSeries::new(points, dash, gap, style))
            .map_err(err)?;
        if !line.label.is_empty() {
            any_label = true;
            anno.label(line.label.as_str())
                .legend(move |at| LegendSample {
                    at,
                    color: REFERENCE_COLOR,
                    dash: Some((dash, gap)),
                    line: true,
                    marker: false,
                });
        }
    }

    for (i, s) in fig.series.iter().enumerate() {
        let color = series_color(s.color.unwrap_or(i));
        let line_style = color.stroke_width(LINE_WIDTH);
        let fill = color.filled();
        let pts = s.points.iter().copied();
        if let Some(errors) = &s.errors {
            draw_error_bars(&mut cc, s, errors, yp, color).map_err(err)?;
        }
        // A line through a single point draws nothing, so that point also
        // gets a marker rather than vanishing.
        let lone_point = s.points.len() == 1;
        if lone_point && matches!(s.style, SeriesStyle::Line | SeriesStyle::Dashed) {
            cc.draw_series(pts.clone().map(|p| Circle::new(p, MARKER_RADIUS, fill)))
                .map_err(err)?;
        }
        let anno = match s.style {
            SeriesStyle::Line => cc.draw_series(LineSeries::new(pts, line_style)),
            SeriesStyle::Dashed => cc.draw_series(DashedLineSeries::new(
                pts,
                SERIES_DASH.0,
                SERIES_DASH.1,
                line_style,
            )),
            SeriesStyle::Markers => {
                cc.draw_series(pts.map(|p| Circle::new(p, MARKER_RADIUS, fill)))
            }
            SeriesStyle::LineAndMarkers => {
                cc.draw_series(LineSeries::new(pts.clone(), line_style))
                    .map_err(err)?;
                cc.draw_series(pts.map(|p| Circle::new(p, MARKER_RADIUS, fill)))
            }
        }
        .map_err(err)?;
        if !s.label.is_empty() {
            any_label = true;
            let style = s.style;
            anno.label(s.label.as_str())
                .legend(move |at| LegendSample::series(at, style, color));
        }
    }

    if any_label {
        cc.configure_series_labels()
            .position(match fig.legend {
                LegendPosition::UpperLeft => SeriesLabelPosition::UpperLeft,
                LegendPosition::UpperRight => SeriesLabelPosition::UpperRight,
                LegendPosition::LowerLeft => SeriesLabelPosition::LowerLeft,
                LegendPosition::LowerRight => SeriesLabelPosition::LowerRight,
            })
            .margin(12)
            .legend_area_size(LEGEND_SAMPLE + 8)
            .label_font((FONT_FAMILY, LEGEND_SIZE))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(170, 170, 170))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// One vertical error bar in data coordinates.
struct ErrorBar {
    /// The lower end.
    low: (f64, f64),
    /// The upper end.
    high: (f64, f64),
    /// Whether the lower end was cut off at the bottom of a log axis.
    clipped: bool,
}

/// Draws symmetric vertical error bars with caps. On a log y axis a lower
/// end at or below the bottom of the plot is drawn to the frame without a
/// cap, which marks it as clipped.
fn draw_error_bars<DB, X, Y>(
    cc: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    s: &Series,
    errors: &[f64],
    yp: &AxisPlan,
    color: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let style = color.stroke_width(1);
    let bars: Vec<ErrorBar> = s
        .points
        .iter()
        .zip(errors)
        .filter(|&(_, &e)| e > 0.0)
        .map(|(&(x, y), &e)| {
            let clipped = yp.scale == Scale::Log10 && y - e <= yp.lo;
            ErrorBar {
                low: (x, if clipped { yp.lo } else { y - e }),
                high: (x, y + e),
                clipped,
            }
        })
        .collect();
    cc.draw_series(
        bars.iter()
            .map(|b| PathElement::new(vec![b.low, b.high], style)),
    )?;
    let cap = move |at: (f64, f64)| {
        EmptyElement::at(at) + PathElement::new(vec![(-ERROR_CAP, 0), (ERROR_CAP, 0)], style)
    };
    cc.draw_series(bars.iter().map(|b| cap(b.high)))?;
    cc.draw_series(bars.iter().filter(|b| !b.clipped).map(|b| cap(b.low)))?;
    Ok(())
}

/// A legend sample: a short solid or dashed line, a marker, or both,
/// anchored at the left middle of the sample area. It is its own element
/// because plotters cannot take a boxed `DynElement` as a legend unless the
/// backend is `'static`, and the SVG and bitmap backends borrow their output.
struct LegendSample {
    /// The anchor in pixels.
    at: BackendCoord,
    /// The colour.
    color: RGBColor,
    /// Dash and gap lengths, or `None` for a solid line.
    dash: Option<(i32, i32)>,
    /// Whether to draw the line.
    line: bool,
    /// Whether to draw a marker in the middle.
    marker: bool,
}

impl LegendSample {
    /// The sample for a series style.
    fn series(at: BackendCoord, style: SeriesStyle, color: RGBColor) -> Self {
        let (line, marker, dash) = match style {
            SeriesStyle::Line => (true, false, None),
            SeriesStyle::Markers => (false, true, None),
            SeriesStyle::LineAndMarkers => (true, true, None),
            SeriesStyle::Dashed => (
                true,
                false,
                Some((SERIES_DASH.0 / 2 + 1, SERIES_DASH.1 / 2)),
            ),
        };
        Self {
            at,
            color,
            dash,
            line,
            marker,
        }
    }
}

impl<'a> PointCollection<'a, BackendCoord> for &'a LegendSample {
    type Point = &'a BackendCoord;
    type IntoIter = std::iter::Once<&'a BackendCoord>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for LegendSample {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _parent_dim: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else {
            return Ok(());
        };
        let stroke = self.color.stroke_width(LINE_WIDTH);
        if self.line {
            let (dash, gap) = self.dash.unwrap_or((LEGEND_SAMPLE, 0));
            let mut from = 0;
            while from < LEGEND_SAMPLE {
                let to = (from + dash).min(LEGEND_SAMPLE);
                backend.draw_line((x + from, y), (x + to, y), &stroke)?;
                from = to + gap;
            }
        }
        if self.marker {
            let center = (x + LEGEND_SAMPLE / 2, y);
            backend.draw_circle(center, MARKER_RADIUS as u32, &self.color.filled(), true)?;
        }
        Ok(())
    }
}
