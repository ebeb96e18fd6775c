//! End-to-end tests of `render`: the files it writes, what they contain, the
//! errors it reports, and that atomic writes leave nothing behind.

use std::fs;
use std::path::{Path, PathBuf};

use flatter_plots::style::FIGURE_SIZE;
use flatter_plots::{Axis, DataError, Figure, LegendPosition, PlotError, Scale, Series, render};

/// A fresh, empty directory for one test under cargo's scratch directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("flatter-plots")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// The names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Decodes a PNG and returns its width, height, and RGB(A) pixels.
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>, usize) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h));
    buf.truncate(info.buffer_size());
    (w, h, buf, info.color_type.samples())
}

/// A log–log figure with data over several decades, a dashed theory line
/// and a reference line.
fn log_log_figure() -> Figure {
    let etas = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1];
    let measured: Vec<(f64, f64)> = etas
        .iter()
        .map(|&e: &f64| (e, 3.0 * e.powf(-4.0 / 3.0) * (1.0 + 0.1 * e.ln().sin())))
        .collect();
    let errors = measured.iter().map(|&(_, t)| 0.2 * t).collect();
    let theory = etas
        .iter()
        .map(|&e: &f64| (e, 3.0 * e.powf(-4.0 / 3.0)))
        .collect();
    Figure::new(
        "Relaxation time vs learning rate",
        "learning rate η",
        "τ (steps)",
    )
    .log_log()
    .with_series(Series::markers("measured τ", measured).with_errors(errors))
    .with_series(Series::dashed("theory ∝ η^(-4/3)", theory).with_color(0))
    .hline(1e4, "budget 10⁴ steps")
    .legend_at(LegendPosition::UpperRight)
}

/// A linear figure with every series style and both kinds of reference line.
fn linear_figure() -> Figure {
    let gammas: Vec<f64> = (0..=10).map(|i| 0.2 + 0.08 * f64::from(i)).collect();
    let a = gammas.iter().map(|&g| (g, g.max(2.0 - 2.0 * g))).collect();
    let b: Vec<(f64, f64)> = gammas
        .iter()
        .map(|&g| (g, g.max(2.0 - 2.0 * g) + 0.05))
        .collect();
    let errs = vec![0.03; b.len()];
    Figure::new("Exponent a(γ) = max(γ, 2 − 2γ)", "γ", "a(γ)")
        .with_series(Series::line("theory", a))
        .with_series(Series::line_and_markers("fit", b).with_errors(errs))
        .with_series(Series::markers("single", vec![(0.5, 1.2)]))
        .vline(2.0 / 3.0, "γ = 2/3")
        .hline(2.0 / 3.0, "a = 2/3")
        .legend_at(LegendPosition::LowerRight)
}

#[test]
fn log_log_figure_writes_svg_and_png() {
    let dir = scratch("log_log");
    let written = render(&log_log_figure(), &dir.join("nested/tau_vs_lr")).unwrap();
    assert_eq!(
        written,
        [
            dir.join("nested/tau_vs_lr.svg"),
            dir.join("nested/tau_vs_lr.png")
        ]
    );
    let svg = fs::read_to_string(&written[0]).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    for text in [
        "Relaxation time vs learning rate",
        "measured τ",
        "theory ∝ η^(-4/3)",
        "budget 10⁴ steps",
        "learning rate η",
        "τ (steps)",
        "10⁻⁴",
    ] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    assert!(svg.contains("<text"), "text is SVG text, not paths");
    let (w, h, pixels, samples) = decode_png(&written[1]);
    assert_eq!((w, h), FIGURE_SIZE);
    // The figure is mostly white but not blank, and it has the palette's
    // blue in it.
    let px: Vec<&[u8]> = pixels.chunks(samples).collect();
    let white = px.iter().filter(|p| p[..3] == [255, 255, 255]).count();
    assert!(
        white > px.len() / 2 && white < px.len(),
        "{white} of {}",
        px.len()
    );
    assert!(
        px.iter().any(|p| p[..3] == [0, 114, 178]),
        "no series colour"
    );
    assert_eq!(
        listing(&dir.join("nested")),
        ["tau_vs_lr.png", "tau_vs_lr.svg"]
    );
}

#[test]
fn linear_figure_writes_svg_and_png() {
    let dir = scratch("linear");
    let written = render(&linear_figure(), &dir.join("exponent")).unwrap();
    for path in &written {
        assert!(
            fs::metadata(path).unwrap().len() > 1000,
            "{}",
            path.display()
        );
    }
    let svg = fs::read_to_string(&written[0]).unwrap();
    for text in [
        "Exponent a(γ)",
        "theory",
        "fit",
        "single",
        "γ = 2/3",
        "a = 2/3",
    ] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    let (w, h, _, _) = decode_png(&written[1]);
    assert_eq!((w, h), FIGURE_SIZE);
    assert_eq!(listing(&dir), ["exponent.png", "exponent.svg"]);
}

#[test]
fn mixed_scales_render() {
    let dir = scratch("mixed");
    let curve: Vec<(f64, f64)> = (0..50)
        .map(|i| (f64::from(i), 10f64.powf(-0.2 * f64::from(i))))
        .collect();
    let semilog = Figure::new("Decay of ‖w‖²", "step", "‖w‖²")
        .scales(Scale::Linear, Scale::Log10)
        .with_series(Series::line("run", curve.clone()));
    render(&semilog, &dir.join("semilog_y")).unwrap();
    let flipped: Vec<(f64, f64)> = curve.iter().map(|&(x, y)| (y, x)).collect();
    let other = Figure::new("", "‖w‖²", "step")
        .scales(Scale::Log10, Scale::Linear)
        .with_series(Series::line("", flipped))
        .with_series(Series::dashed("one point", vec![(1e-5, 25.0)]));
    render(&other, &dir.join("semilog_x")).unwrap();
    assert_eq!(
        listing(&dir),
        [
            "semilog_x.png",
            "semilog_x.svg",
            "semilog_y.png",
            "semilog_y.svg"
        ]
    );
}

#[test]
fn zero_on_log_axis_names_the_series_and_writes_nothing() {
    let dir = scratch("log_zero");
    let fig = Figure::new("t", "x", "y")
        .log_log()
        .with_series(Series::line("fine", vec![(1.0, 1.0), (10.0, 2.0)]))
        .with_series(Series::line("loss of run 7", vec![(1.0, 0.5), (2.0, 0.0)]));
    let err = render(&fig, &dir.join("fig")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("loss of run 7"), "{msg}");
    assert!(msg.contains("logarithmic"), "{msg}");
    assert!(msg.contains("fig"), "{msg}");
    assert!(matches!(
        err,
        PlotError::Data {
            source: DataError::NonPositiveOnLog {
                axis: Axis::Y,
                index: 1,
                ..
            },
            ..
        }
    ));
    assert!(!dir.exists(), "nothing is written for invalid data");

    let x_zero = Figure::new("t", "x", "y")
        .scales(Scale::Log10, Scale::Linear)
        .with_series(Series::markers("at origin", vec![(0.0, 1.0)]));
    let msg = render(&x_zero, &dir.join("fig")).unwrap_err().to_string();
    assert!(msg.contains("at origin") && msg.contains("x = 0"), "{msg}");
}

#[test]
fn invalid_data_is_reported_not_dropped() {
    let dir = scratch("invalid");
    let nan = Figure::new("t", "x", "y")
        .with_series(Series::line("diverged", vec![(0.0, 1.0), (1.0, f64::NAN)]));
    let msg = render(&nan, &dir.join("f")).unwrap_err().to_string();
    assert!(msg.contains("diverged") && msg.contains("point 1"), "{msg}");

    let (finite, dropped) = nan.series[0].clone().finite_only();
    assert_eq!(dropped, 1);
    assert_eq!(finite.points, [(0.0, 1.0)]);

    let short = Figure::new("t", "x", "y")
        .with_series(Series::line("s", vec![(0.0, 1.0), (1.0, 2.0)]).with_errors(vec![0.1]));
    assert!(matches!(
        short.validate(),
        Err(DataError::ErrorsLength {
            points: 2,
            errors: 1,
            ..
        })
    ));
    let negative = Figure::new("t", "x", "y")
        .with_series(Series::line("s", vec![(0.0, 1.0)]).with_errors(vec![-0.1]));
    assert!(matches!(
        negative.validate(),
        Err(DataError::BadErrorBar { .. })
    ));
    let ref_line = Figure::new("t", "x", "y")
        .log_log()
        .with_series(Series::line("s", vec![(1.0, 1.0)]))
        .vline(0.0, "zero");
    assert!(matches!(
        ref_line.validate(),
        Err(DataError::BadRefLine { .. })
    ));
    assert_eq!(
        Figure::new("t", "x", "y").validate(),
        Err(DataError::NoData)
    );
    assert!(!dir.exists());
}

#[test]
fn log_error_bars_reaching_zero_are_clipped_not_rejected() {
    let dir = scratch("log_clip");
    let fig = Figure::new("t", "x", "y").log_log().with_series(
        Series::markers("noisy", vec![(1.0, 1.0), (10.0, 0.1)]).with_errors(vec![2.0, 0.01]),
    );
    render(&fig, &dir.join("f")).unwrap();
}

#[test]
fn atomic_write_leaves_no_temp_files() {
    let dir = scratch("atomic");
    let fig = linear_figure();
    // Dots in the name are kept, and rendering twice replaces the files.
    render(&fig, &dir.join("tau_C0.5")).unwrap();
    render(&fig, &dir.join("tau_C0.5")).unwrap();
    assert_eq!(listing(&dir), ["tau_C0.5.png", "tau_C0.5.svg"]);

    // A directory in the way of the PNG makes the rename fail: the error
    // names the file and the temporary file is cleaned up.
    let blocked = dir.join("blocked");
    fs::create_dir_all(blocked.with_extension("png")).unwrap();
    fs::write(blocked.with_extension("png").join("keep"), b"x").unwrap();
    let err = render(&fig, &blocked).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }), "{err}");
    assert!(err.to_string().contains("blocked.png"), "{err}");
    let names = listing(&dir);
    assert!(
        names.iter().all(|n| !n.contains(".tmp-")),
        "temp file left: {names:?}"
    );
}

#[test]
fn title_with_markup_characters_stays_valid_svg() {
    let dir = scratch("escape");
    let fig = Figure::new("a < b & c > d", "x \"quoted\"", "y")
        .with_series(Series::line("<tag>", vec![(0.0, 0.0), (1.0, 1.0)]));
    let written = render(&fig, &dir.join("f")).unwrap();
    let svg = fs::read_to_string(&written[0]).unwrap();
    assert!(svg.contains("a &lt; b &amp; c &gt; d"), "{svg}");
    assert!(!svg.contains("<tag>"));
}
