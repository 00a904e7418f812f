//! Charts shared by the HTML (SVG) and PNG reports: the latency percentile spectrum and
//! the per-second timeline, drawn once with plotters for either backend; and simple
//! horizontal bar charts, written as SVG by hand for the HTML report.
//!
//! Text is rendered with DejaVu Sans from the `dejavu` crate through plotters'
//! `ab_glyph` support, so no system font library is needed.

use std::fmt::Write as _;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::protocol::Phase;
use crate::results::{RunResult, TestResult};

/// Line colours (Tableau 10): distinguishable, and still distinct when printed in grey.
pub(crate) const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// CSS colour of series `i`.
pub(crate) fn css_colour(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

static FONTS: Once = Once::new();

/// Registers the bundled font under plotters' `sans-serif` family (once per process).
pub(crate) fn register_fonts() {
    FONTS.call_once(|| {
        // Cannot fail: the font is a valid TTF shipped by the crate; if it ever were
        // not, drawing text reports a font error instead of panicking here.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// Tests worth charting: the run phase, or the load phase when nothing else ran.
pub(crate) fn charted_tests(run: &RunResult) -> Vec<&TestResult> {
    let run_tests: Vec<_> = run.tests.iter().filter(|t| t.phase == Phase::Run).collect();
    if run_tests.is_empty() {
        run.tests.iter().collect()
    } else {
        run_tests
    }
}

/// How runs are named in legends: by benchmark name when the names differ, else by
/// position (`run 1` is the first directory given).
pub(crate) fn run_tags(runs: &[RunResult]) -> Vec<String> {
    let mut names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if runs.len() == 1 {
        vec![String::new()]
    } else if names.len() == runs.len() {
        runs.iter().map(|r| r.name.clone()).collect()
    } else {
        (1..=runs.len()).map(|i| format!("run {i}")).collect()
    }
}

fn series_label(tag: &str, run: &RunResult, test: &str, op: &str) -> String {
    let base = format!("{}/{}/{}", run.config.database.kind, test, op);
    if tag.is_empty() {
        base
    } else {
        format!("{tag}: {base}")
    }
}

/// Largest x of the spectrum: 10^-x is the distance to 100%. Six nines at most.
const SPECTRUM_MAX_NINES: f64 = 6.0;

/// Maps a percentile (0..=100) to the spectrum's x axis, `log10(1 / (1 − p))`.
pub(crate) fn spectrum_x(percentile: f64) -> f64 {
    let rest = 1.0 - percentile / 100.0;
    if rest <= 0.0 {
        SPECTRUM_MAX_NINES
    } else {
        (1.0 / rest).log10().min(SPECTRUM_MAX_NINES)
    }
}

/// Label of a tick of the spectrum's x axis: 0 → `0%`, 1 → `90%`, 3 → `99.9%`.
pub(crate) fn spectrum_tick(x: f64) -> String {
    if (x - x.round()).abs() > 1e-6 {
        return String::new();
    }
    // The axis ends at six nines; a tick beyond it is labelled as the end, not with
    // as many nines as a huge `x` asks for.
    let n = x.round().min(SPECTRUM_MAX_NINES) as i32;
    match n {
        ..=0 => "0%".into(),
        1 => "90%".into(),
        2 => "99%".into(),
        _ => format!("99.{}%", "9".repeat((n - 2) as usize)),
    }
}

/// One spectrum line per run, test and operation (x: [`spectrum_x`], y: ns).
pub(crate) fn spectrum_series(runs: &[RunResult]) -> Vec<Series> {
    let tags = run_tags(runs);
    let mut out = Vec::new();
    for (run, tag) in runs.iter().zip(&tags) {
        for t in charted_tests(run) {
            for (op, m) in &t.metrics.operations {
                if m.latency.is_empty() {
                    continue;
                }
                // The last point (100%) sits at the right edge; points beyond what the
                // sample count can resolve add nothing but the max.
                let resolvable = (m.latency.len() as f64)
                    .log10()
                    .ceil()
                    .clamp(1.0, SPECTRUM_MAX_NINES);
                let mut points: Vec<(f64, f64)> = m
                    .latency
                    .spectrum(5)
                    .into_iter()
                    .map(|(p, v)| (spectrum_x(p).min(resolvable), v as f64))
                    .collect();
                points.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
                out.push(Series {
                    label: series_label(tag, run, &t.name, op),
                    points,
                });
            }
        }
    }
    out
}

/// Seconds from `start` to `second` (`second >= start`), without overflowing however
/// far apart they are.
fn offset(second: i64, start: i64) -> f64 {
    second.abs_diff(start) as f64
}

/// Per-second throughput (ops/s) and p99 (ns) lines per run, test and operation; x is
/// seconds since the test's first second.
pub(crate) fn timeline_series(runs: &[RunResult]) -> (Vec<Series>, Vec<Series>) {
    let tags = run_tags(runs);
    let (mut thr, mut p99) = (Vec::new(), Vec::new());
    for (run, tag) in runs.iter().zip(&tags) {
        for t in charted_tests(run) {
            let start = t
                .metrics
                .timeline
                .points()
                .map(|p| p.second)
                .min()
                .unwrap_or(0);
            for op in t.metrics.operations.keys() {
                let label = series_label(tag, run, &t.name, op);
                let pts: Vec<_> = t
                    .metrics
                    .timeline
                    .points()
                    .filter(|p| &p.operation == op)
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                thr.push(Series {
                    label: label.clone(),
                    points: pts
                        .iter()
                        .map(|p| (offset(p.second, start), p.ops as f64))
                        .collect(),
                });
                p99.push(Series {
                    label,
                    points: pts
                        .iter()
                        .filter(|p| !p.latency.is_empty())
                        .map(|p| (offset(p.second, start), p.latency.quantile_ns(0.99) as f64))
                        .collect(),
                });
            }
        }
    }
    (thr, p99)
}

/// A latency unit that keeps axis numbers short: (divisor, name).
fn latency_unit(max_ns: f64) -> (f64, &'static str) {
    if max_ns < 10e3 {
        (1.0, "ns")
    } else if max_ns < 10e6 {
        (1e3, "µs")
    } else if max_ns < 10e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    }
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        1.0
    } else {
        v * 1.08
    }
}

fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

type DrawResult<E> = std::result::Result<(), DrawingAreaErrorKind<E>>;

#[allow(clippy::too_many_arguments)]
fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[Series],
    x_range: std::ops::Range<f64>,
    x_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    x_labels: usize,
    y_is_latency: bool,
    legend_on_top: bool,
) -> DrawResult<DB::ErrorType> {
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let (div, unit) = if y_is_latency {
        latency_unit(y_max)
    } else {
        (1.0, "")
    };
    // Room above the lines for the legend (about one line of text per series).
    let headroom = if legend_on_top {
        1.0 + 0.09 * series.len() as f64
    } else {
        1.0
    };
    let y_desc = if y_is_latency {
        format!("latency ({unit})")
    } else {
        "operations per second".to_string()
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 24).into_font().style(FontStyle::Bold))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(52)
        .y_label_area_size(76)
        .build_cartesian_2d(x_range, 0.0..nice_max(y_max / div) * headroom)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(x_labels)
        .y_labels(8)
        .x_label_formatter(x_fmt)
        .y_label_formatter(&|v| short_number(*v))
        .label_style(("sans-serif", 17))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|&(x, y)| (x, y / div)),
                c.stroke_width(2),
            ))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font(("sans-serif", 17))
            .draw()?;
    }
    Ok(())
}

/// Draws the latency percentile spectrum of `series` (from [`spectrum_series`]).
pub(crate) fn draw_spectrum<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &[Series],
) -> DrawResult<DB::ErrorType> {
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(2.0, f64::max)
        .ceil();
    draw_lines(
        area,
        "Latency by percentile",
        series,
        0.0..x_max,
        "percentile (log scale of 1/(1-p))",
        &|x| spectrum_tick(*x),
        // One label per nine; `as` saturates, and the count stays small.
        (x_max.min(SPECTRUM_MAX_NINES) as usize).saturating_add(1),
        true,
        false,
    )
}

/// Draws per-second throughput or p99 lines (from [`timeline_series`]).
pub(crate) fn draw_timeline<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[Series],
    latency: bool,
) -> DrawResult<DB::ErrorType> {
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    draw_lines(
        area,
        title,
        series,
        0.0..x_max,
        "seconds since the test started",
        // Whole seconds only: plotters may place ticks between them on short runs.
        &|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        },
        // `as` saturates (a timeline may span any number of seconds); so does the sum.
        (x_max as usize).saturating_add(1).min(12),
        latency,
        true,
    )
}

fn chart_error(e: impl std::fmt::Debug) -> Error {
    Error::Internal(format!("drawing a chart: {e:?}"))
}

/// What to draw into an area.
#[derive(Debug, Clone)]
pub(crate) enum Chart<'a> {
    /// [`draw_spectrum`].
    Spectrum(&'a [Series]),
    /// [`draw_timeline`].
    Timeline {
        title: &'a str,
        series: &'a [Series],
        latency: bool,
    },
    /// Charts stacked top to bottom in equal parts.
    Stack(Vec<Chart<'a>>),
    /// A memory sweep's cost and latency by size ([`super::sweep::draw_sweep`]).
    Sweep(&'a crate::sweep::SweepReport),
}

impl Chart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB::ErrorType> {
        match self {
            Chart::Spectrum(series) => draw_spectrum(area, series),
            Chart::Timeline {
                title,
                series,
                latency,
            } => draw_timeline(area, title, series, *latency),
            Chart::Sweep(report) => super::sweep::draw_sweep(area, report),
            Chart::Stack(parts) => {
                let areas = area.split_evenly((parts.len().max(1), 1));
                for (part, a) in parts.iter().zip(&areas) {
                    part.draw(a)?;
                }
                Ok(())
            }
        }
    }
}

/// `chart` as an SVG document of `size` (scaled to the page by CSS).
pub(crate) fn svg_chart(size: (u32, u32), label: &str, chart: &Chart<'_>) -> Result<String> {
    register_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        chart.draw(&root).map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    // Scale with the page instead of a fixed pixel size; the viewBox keeps proportions.
    let fixed = format!("<svg width=\"{}\" height=\"{}\"", size.0, size.1);
    let fluid = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\"",
        escape(label)
    );
    Ok(svg.replacen(&fixed, &fluid, 1))
}

/// Most bytes of pixels (RGB) a PNG chart may take: 16384 × 16384 pixels' worth.
const MAX_PNG_BYTES: usize = 16384 * 16384 * 3;

/// `chart` as a PNG of `size` pixels.
pub(crate) fn png_chart(size: (u32, u32), chart: &Chart<'_>) -> Result<Vec<u8>> {
    if size.0 == 0 || size.1 == 0 {
        return Err(Error::config(
            "size",
            "a PNG needs a width and a height above 0",
        ));
    }
    let bytes = (size.0 as usize)
        .checked_mul(size.1 as usize)
        .and_then(|n| n.checked_mul(3))
        .filter(|&n| n <= MAX_PNG_BYTES)
        .ok_or_else(|| {
            Error::config(
                "size",
                format!(
                    "a PNG of {}×{} pixels is larger than lgb draws ({} MiB of pixels at most)",
                    size.0,
                    size.1,
                    MAX_PNG_BYTES >> 20
                ),
            )
        })?;
    register_fonts();
    let mut rgb = vec![0u8; bytes];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        chart.draw(&root).map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, size.0, size.1);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Charts are mostly flat colour: the best compression is several times smaller
        // and still fast at these sizes.
        enc.set_compression(png::Compression::Best);
        let mut w = enc
            .write_header()
            .map_err(|e| Error::Internal(format!("encoding PNG: {e}")))?;
        w.write_image_data(&rgb)
            .map_err(|e| Error::Internal(format!("encoding PNG: {e}")))?;
    }
    Ok(out)
}

/// Escapes text for HTML and SVG.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One bar of [`bar_svg`].
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
    pub colour: usize,
}

/// A horizontal bar chart as SVG, one bar per row, values labelled at the bar's end.
pub(crate) fn bar_svg(label: &str, bars: &[Bar]) -> String {
    let width = 760.0;
    let label_w = 250.0;
    let text_w = 110.0;
    let row = 26.0;
    let height = 16.0 + row * bars.len() as f64;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart bars\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"13\">",
        escape(label)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let w = if max > 0.0 {
            (width - label_w - text_w) * b.value / max
        } else {
            0.0
        };
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><path d=\"M{label_w:.1} {y:.1}h{w:.1}v18h-{w:.1}z\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            label_w - 8.0,
            y + 14.0,
            escape(&b.label),
            css_colour(b.colour),
            label_w + w + 6.0,
            y + 14.0,
            escape(&b.text)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_axis_maps_nines_to_integers() {
        assert_eq!(spectrum_x(0.0), 0.0);
        assert!((spectrum_x(90.0) - 1.0).abs() < 1e-9);
        assert!((spectrum_x(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(spectrum_x(100.0), SPECTRUM_MAX_NINES);
        assert_eq!(spectrum_tick(0.0), "0%");
        assert_eq!(spectrum_tick(2.0), "99%");
        assert_eq!(spectrum_tick(4.0), "99.99%");
        assert_eq!(spectrum_tick(2.5), "");
        // Past the axis's end (as a caller's own series may put a tick): six nines,
        // not a string of a billion.
        assert_eq!(spectrum_tick(1e9), "99.9999%");
    }

    fn series(points: Vec<(f64, f64)>) -> Vec<Series> {
        vec![Series {
            label: "far".into(),
            points,
        }]
    }

    #[test]
    fn far_apart_seconds_and_huge_axes_draw_without_overflow() {
        assert_eq!(offset(10, 7), 3.0);
        assert_eq!(offset(i64::MAX, i64::MIN), u64::MAX as f64);
        // The widest timeline results may hold (1970 to 9999), and wider series than
        // any timeline gives: the axes' label counts saturate instead of overflowing.
        let widest = offset(*crate::metrics::SECONDS.end(), 0);
        for x in [widest, u64::MAX as f64, 1e300] {
            let s = series(vec![(0.0, 1.0), (x, 2.0)]);
            let chart = Chart::Timeline {
                title: "far",
                series: &s,
                latency: false,
            };
            let svg = svg_chart((400, 300), "far", &chart).unwrap();
            assert!(svg.contains("far"));
            svg_chart((400, 300), "far", &Chart::Spectrum(&s)).unwrap();
        }
    }

    #[test]
    fn png_sizes_beyond_memory_are_refused() {
        let s = series(vec![(0.0, 1.0), (1.0, 2.0)]);
        for size in [(u32::MAX, u32::MAX), (100_000, 100_000)] {
            let e = png_chart(size, &Chart::Spectrum(&s)).unwrap_err();
            assert_eq!(e.config_problems()[0].path, "size", "{e}");
        }
        assert!(png_chart((200, 100), &Chart::Spectrum(&s)).is_ok());
    }
}
