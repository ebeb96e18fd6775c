//! Axis planning: the range each axis shows, where its ticks go and how
//! their labels read. Plotters' own choices are replaced because its log
//! axis gives no ticks at all on a range that holds no power of ten, and its
//! default labels print float noise such as 0.30000000000000004.

use crate::figure::{Figure, Scale};

/// The fraction of the data span (in log space on a log axis) added on
/// each side so that no point sits on the frame.
const MARGIN_FRACTION: f64 = 0.05;

/// About how many labelled ticks a linear axis gets.
const TARGET_TICKS: f64 = 6.0;

/// The most labelled powers of ten a log axis gets before it labels every
/// second, third, ... decade instead.
const MAX_DECADE_TICKS: i32 = 10;

/// How tick labels are written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TickFormat {
    /// Evenly spaced ticks shown to the resolution `quantum`, in scientific
    /// notation when `sci` is set.
    Fixed {
        /// The tick spacing, which fixes how many digits are shown.
        quantum: f64,
        /// Whether labels read m×10ᵏ instead of plain decimals.
        sci: bool,
    },
    /// Ticks with one significant digit (1, 2, 5 times a power of ten).
    LeadingDigit {
        /// Whether labels read m×10ᵏ instead of plain decimals.
        sci: bool,
    },
    /// Powers of ten written as 10ᵏ.
    Power,
}

impl TickFormat {
    /// The label of the tick at `v`.
    pub(crate) fn label(self, v: f64) -> String {
        match self {
            Self::Fixed { quantum, sci } => format_with_quantum(v, quantum, sci),
            Self::LeadingDigit { sci } => {
                let quantum = if v == 0.0 {
                    1.0
                } else {
                    10f64.powf((v.abs().log10() + 1e-9).floor())
                };
                format_with_quantum(v, quantum, sci)
            }
            Self::Power => {
                let k = v.log10().round() as i32;
                format!("10{}", superscript(k))
            }
        }
    }
}

/// One planned axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AxisPlan {
    /// The scale.
    pub scale: Scale,
    /// The smallest value shown.
    pub lo: f64,
    /// The largest value shown.
    pub hi: f64,
    /// The labelled ticks, with major grid lines.
    pub major: Vec<f64>,
    /// Unlabelled minor grid lines.
    pub minor: Vec<f64>,
    /// How the labels read.
    pub format: TickFormat,
}

/// The x and y plans of a validated figure.
pub(crate) fn plan_axes(fig: &Figure) -> (AxisPlan, AxisPlan) {
    let log_y = fig.y_scale == Scale::Log10;
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for s in &fig.series {
        for (i, &(x, y)) in s.points.iter().enumerate() {
            xs.push(x);
            ys.push(y);
            if let Some(e) = s.errors.as_ref().map(|e| e[i]) {
                ys.push(y + e);
                // A lower end at or below zero on a log axis is clipped to
                // the frame when drawn, so it does not widen the range.
                if !log_y || y - e > 0.0 {
                    ys.push(y - e);
                }
            }
        }
    }
    xs.extend(fig.vlines.iter().map(|l| l.value));
    ys.extend(fig.hlines.iter().map(|l| l.value));
    (plan_axis(&xs, fig.x_scale), plan_axis(&ys, fig.y_scale))
}

/// Plans one axis for non-empty, finite values that are positive on a log
/// axis.
pub(crate) fn plan_axis(values: &[f64], scale: Scale) -> AxisPlan {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match scale {
        Scale::Linear => {
            let (lo, hi) = padded(min, max);
            let (major, step) = linear_ticks(lo, hi);
            AxisPlan {
                scale,
                lo,
                hi,
                major,
                minor: Vec::new(),
                format: TickFormat::Fixed {
                    quantum: step,
                    sci: wants_sci(lo, hi),
                },
            }
        }
        Scale::Log10 => {
            let (llo, lhi) = padded_log(min.log10(), max.log10());
            let (lo, hi) = (10f64.powf(llo), 10f64.powf(lhi));
            let (major, minor, format) = log_ticks(lo, hi);
            AxisPlan {
                scale,
                lo,
                hi,
                major,
                minor,
                format,
            }
        }
    }
}

/// Widens [min, max] by the margin, or around a single value by a tenth of
/// its size (by one if it is zero).
fn padded(min: f64, max: f64) -> (f64, f64) {
    let span = max - min;
    if span <= 1e-12 * max.abs().max(min.abs()) || span == 0.0 {
        let half = if max == 0.0 { 1.0 } else { 0.1 * max.abs() };
        (min - half, max + half)
    } else {
        let pad = MARGIN_FRACTION * span;
        (min - pad, max + pad)
    }
}

/// Widens [llo, lhi] (in decades) by the margin, or by 0.3 decades around a
/// single value.
fn padded_log(llo: f64, lhi: f64) -> (f64, f64) {
    let span = lhi - llo;
    if span < 1e-9 {
        (llo - 0.3, lhi + 0.3)
    } else {
        let pad = MARGIN_FRACTION * span;
        (llo - pad, lhi + pad)
    }
}

/// A 1, 2 or 5 times a power of ten close to `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let r = raw / mag;
    let nice = if r < 1.5 {
        1.0
    } else if r < 3.0 {
        2.0
    } else if r < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Evenly spaced nice ticks inside [lo, hi] and their spacing.
fn linear_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64) {
    let step = nice_step((hi - lo) / TARGET_TICKS);
    let tol = 1e-9 * step;
    let first = ((lo - tol) / step).ceil() as i64;
    let last = ((hi + tol) / step).floor() as i64;
    let ticks = (first..=last)
        .map(|k| {
            let t = k as f64 * step;
            // A tick at zero is exactly zero, never -0 or 1e-17.
            if k == 0 { 0.0 } else { t }
        })
        .collect();
    (ticks, step)
}

/// Whether labels should use scientific notation: the axis only shows very
/// large or very small magnitudes.
fn wants_sci(lo: f64, hi: f64) -> bool {
    let m = lo.abs().max(hi.abs());
    !(1e-3..1e5).contains(&m)
}

/// Ticks for a log axis on [lo, hi], 0 < lo < hi: labelled powers of ten
/// with minor lines at their multiples when the range holds three or more
/// of them, else 1-2-5 ticks when there are at least three, else linear
/// ticks.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>, TickFormat) {
    let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    let kmin = (lo.log10() - 1e-9).ceil() as i32;
    let kmax = (hi.log10() + 1e-9).floor() as i32;
    let decades = kmax - kmin + 1;
    let lk = lo.log10().floor() as i32;
    let hk = hi.log10().ceil() as i32;
    if decades >= 3 {
        let stride = (decades + MAX_DECADE_TICKS - 1) / MAX_DECADE_TICKS;
        let (major, minor): (Vec<i32>, Vec<i32>) =
            (kmin..=kmax).partition(|k| k.rem_euclid(stride) == 0);
        let major: Vec<f64> = major.into_iter().map(|k| 10f64.powi(k)).collect();
        let minor = if stride == 1 {
            (lk..=hk)
                .flat_map(|k| (2..=9).map(move |m| f64::from(m) * 10f64.powi(k)))
                .filter(|&v| inside(v))
                .collect()
        } else {
            minor.into_iter().map(|k| 10f64.powi(k)).collect()
        };
        return (major, minor, TickFormat::Power);
    }
    let one_two_five: Vec<f64> = (lk..=hk)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .filter(|&v| inside(v))
        .collect();
    if one_two_five.len() >= 3 {
        let minor = (lk..=hk)
            .flat_map(|k| (1..=9).map(move |m| f64::from(m) * 10f64.powi(k)))
            .filter(|&v| inside(v) && !one_two_five.contains(&v))
            .collect();
        return (
            one_two_five,
            minor,
            TickFormat::LeadingDigit {
                sci: wants_sci(lo, hi),
            },
        );
    }
    let (major, step) = linear_ticks(lo, hi);
    (
        major,
        Vec::new(),
        TickFormat::Fixed {
            quantum: step,
            sci: wants_sci(lo, hi),
        },
    )
}

/// Writes `v` to the resolution `quantum`, as a decimal or as m×10ᵏ.
fn format_with_quantum(v: f64, quantum: f64, sci: bool) -> String {
    let q_exp = (quantum.log10() + 1e-9).floor() as i32;
    if !sci {
        let decimals = usize::try_from(-q_exp).unwrap_or(0).min(15);
        let s = format!("{v:.decimals$}");
        return if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_owned()
        } else {
            s
        };
    }
    if v == 0.0 || v.abs() < 1e-9 * quantum {
        return "0".to_owned();
    }
    let mut exp = (v.abs().log10() + 1e-9).floor() as i32;
    let mut decimals = usize::try_from(exp - q_exp).unwrap_or(0).min(6);
    let mut mantissa = v / 10f64.powi(exp);
    // Rounding can carry the mantissa to 10, as in 999.6 to a resolution of
    // one, which reads 1.000×10³ and not 10.00×10².
    if format!("{:.decimals$}", mantissa.abs()).starts_with("10") {
        exp += 1;
        mantissa /= 10.0;
        decimals = usize::try_from(exp - q_exp).unwrap_or(0).min(6);
    }
    let m = format!("{mantissa:.decimals$}");
    match m.as_str() {
        "1" => format!("10{}", superscript(exp)),
        "-1" => format!("-10{}", superscript(exp)),
        _ => format!("{m}×10{}", superscript(exp)),
    }
}

/// `k` in superscript digits, with a superscript minus.
fn superscript(k: i32) -> String {
    k.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_labels_have_no_float_noise() {
        let p = plan_axis(&[0.0, 1.0], Scale::Linear);
        let labels: Vec<String> = p.major.iter().map(|&v| p.format.label(v)).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert!(p.lo < 0.0 && p.hi > 1.0, "a margin is added");
    }

    #[test]
    fn log_axis_over_many_decades_labels_powers_of_ten() {
        let p = plan_axis(&[1e-6, 1e2], Scale::Log10);
        let labels: Vec<String> = p.major.iter().map(|&v| p.format.label(v)).collect();
        assert_eq!(
            labels,
            [
                "10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹", "10²"
            ]
        );
        assert!(p.minor.contains(&(2.0 * 1e-6)));
        let wide = plan_axis(&[1e-20, 1e20], Scale::Log10);
        assert!(wide.major.len() <= MAX_DECADE_TICKS as usize + 1);
        assert!(wide.major.len() >= 4);
    }

    #[test]
    fn two_decade_log_axis_labels_one_two_five() {
        let p = plan_axis(&[0.01, 0.1], Scale::Log10);
        let labels: Vec<String> = p.major.iter().map(|&v| p.format.label(v)).collect();
        assert_eq!(labels, ["0.01", "0.02", "0.05", "0.1"]);
        let q = plan_axis(&[1e-6, 1e-5], Scale::Log10);
        let labels: Vec<String> = q.major.iter().map(|&v| q.format.label(v)).collect();
        assert_eq!(labels, ["10⁻⁶", "2×10⁻⁶", "5×10⁻⁶", "10⁻⁵"]);
    }

    #[test]
    fn narrow_log_axis_still_has_ticks() {
        let p = plan_axis(&[0.3, 0.8], Scale::Log10);
        assert!(p.major.len() >= 2, "{p:?}");
        let q = plan_axis(&[0.31, 0.34], Scale::Log10);
        assert!(q.major.len() >= 2, "{q:?}");
        let single = plan_axis(&[5.0], Scale::Log10);
        assert!(single.lo < 5.0 && single.hi > 5.0 && single.major.len() >= 2);
    }

    #[test]
    fn scientific_labels() {
        assert_eq!(format_with_quantum(2.5e-6, 1e-7, true), "2.5×10⁻⁶");
        assert_eq!(format_with_quantum(1e6, 1e5, true), "1.0×10⁶");
        assert_eq!(format_with_quantum(1e6, 1e6, true), "10⁶");
        assert_eq!(format_with_quantum(999.6, 1.0, true), "1.000×10³");
        assert_eq!(format_with_quantum(-0.0000001, 0.5, false), "0.0");
        assert_eq!(format_with_quantum(0.0, 1e6, true), "0");
        assert_eq!(TickFormat::LeadingDigit { sci: false }.label(0.05), "0.05");
    }
}
