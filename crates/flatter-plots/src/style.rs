//! The look of every figure in one place: size, colours, line widths, font
//! sizes, and the embedded font.
//!
//! The palette is Okabe and Ito's colour-blind-safe set, without its yellow,
//! which is too pale on white, and with black last.

use std::sync::OnceLock;

use plotters::style::{FontStyle, RGBColor};

/// The size of every figure in pixels (width, height); the SVG uses the same
/// numbers as its user units.
pub const FIGURE_SIZE: (u32, u32) = (800, 560);

/// The series colours, used in order and then again from the start.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // Blue.
    RGBColor(213, 94, 0),    // Vermillion.
    RGBColor(0, 158, 115),   // Bluish green.
    RGBColor(204, 121, 167), // Reddish purple.
    RGBColor(230, 159, 0),   // Orange.
    RGBColor(86, 180, 233),  // Sky blue.
    RGBColor(0, 0, 0),       // Black.
];

/// The colour of reference lines.
pub const REFERENCE_COLOR: RGBColor = RGBColor(90, 90, 90);

/// Dash and gap lengths in pixels for successive reference lines, so that
/// several of them can be told apart in the legend.
pub const REFERENCE_DASHES: [(i32, i32); 3] = [(8, 5), (2, 4), (14, 4)];

/// Dash and gap lengths in pixels for [`crate::SeriesStyle::Dashed`] series.
pub const SERIES_DASH: (i32, i32) = (9, 5);

/// The colour of the major grid lines.
pub const GRID_COLOR: RGBColor = RGBColor(215, 215, 215);

/// The colour of the minor grid lines on log axes.
pub const MINOR_GRID_COLOR: RGBColor = RGBColor(238, 238, 238);

/// The stroke width of series lines, in pixels.
pub const LINE_WIDTH: u32 = 2;

/// The radius of series markers, in pixels.
pub const MARKER_RADIUS: i32 = 4;

/// The half-width of error bar caps, in pixels.
pub const ERROR_CAP: i32 = 4;

/// The font family every text uses; the embedded font is registered under it.
pub const FONT_FAMILY: &str = "sans-serif";

/// The title size in pixels.
pub const TITLE_SIZE: f64 = 24.0;

/// The axis label size in pixels.
pub const AXIS_LABEL_SIZE: f64 = 18.0;

/// The tick label size in pixels.
pub const TICK_LABEL_SIZE: f64 = 14.0;

/// The legend text size in pixels.
pub const LEGEND_SIZE: f64 = 14.0;

/// The margin around the whole figure, in pixels.
pub const MARGIN: u32 = 16;

/// The height of the band under the plot for x tick labels and the x label.
pub const X_LABEL_AREA: u32 = 48;

/// The width of the band left of the plot for y tick labels and the y label.
pub const Y_LABEL_AREA: u32 = 88;

/// The colour of series `index`, or of the palette entry a series asks for.
pub fn series_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// DejaVu Sans, embedded so that text renders the same everywhere without
/// system fonts (see assets/fonts/DejaVu-LICENSE).
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font with plotters under [`FONT_FAMILY`], once per
/// process, and says whether that worked.
pub(crate) fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded DejaVu Sans font could not be parsed".to_owned())
    }
}
