//! A memory sweep for people: the per-size table (latencies in the results table's
//! units, costs with significant digits) and the chart of cost per million operations
//! and p50/p99 per size, cold and warm apart, the recommendation marked, for the HTML
//! (SVG) and PNG reports.

use crate::results::cost::format_usd;
use crate::sweep::{RankBy, Strategy, SweepReport};

use super::format_ns;

/// The report as a text table and the recommendation.
pub fn render_sweep(report: &SweepReport) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "memory",
        "ops",
        "ops/s",
        "p50",
        "p99",
        "cold",
        "cold p99",
        "warm p99",
        "GB-s",
        "$ per 1M ops",
        "Lambda",
        "database",
    ]);
    let ns = |v: u64| format_ns(v as f64);
    let usd = |v: Option<f64>| v.map_or("-".to_string(), format_usd);
    for p in &report.points {
        let marked = if report.recommended == Some(p.memory_mb) {
            format!("{} MB ◀", p.memory_mb)
        } else {
            format!("{} MB", p.memory_mb)
        };
        table.add_row([
            marked,
            p.operations.to_string(),
            super::format_rate(p.throughput),
            ns(p.p50_ns),
            ns(p.p99_ns),
            format!("{} of {}", p.cold_workers, p.workers),
            p.cold.as_ref().map_or("-".into(), |c| ns(c.p99_ns)),
            p.warm.as_ref().map_or("-".into(), |w| ns(w.p99_ns)),
            format!("{:.4}", p.billed_gb_seconds),
            usd(p.cost_per_million_ops_usd),
            usd(p.lambda_per_million_ops_usd),
            usd(p.database_per_million_ops_usd),
        ]);
    }
    let size = |m: Option<u32>| m.map_or("none".to_string(), |m| format!("{m} MB"));
    let limit = report
        .p99_max_ns
        .map_or(String::new(), |n| format!(" with p99 ≤ {}", ns(n)));
    let rank = match report.rank_by {
        RankBy::P99 => "p99",
        RankBy::P50 => "p50",
        RankBy::Mean => "trimmed mean",
    };
    let strategy = match report.strategy {
        Strategy::Cost => format!("cost{limit}"),
        Strategy::Speed => format!("speed (lowest {rank})"),
        Strategy::Balanced => format!("balanced (weight {} on cost, {rank})", report.weight),
    };
    let mut out = format!(
        "{table}\nrecommended ({strategy}{}): {}\ncheapest{limit}: {}\nfastest (lowest p99): {}\nbest cost × p99: {}",
        if report.only_cold_starts {
            ", cold starts only"
        } else {
            ""
        },
        size(report.recommended),
        size(report.cheapest),
        size(report.fastest),
        size(report.best_cost_latency),
    );
    out.push_str(&format!(
        "\nsizes {} ({} at once); {}",
        if report.through_aliases {
            "ran on published versions through aliases, $LATEST untouched while measuring, versions and aliases deleted"
        } else {
            "set on $LATEST one after another"
        },
        report.sizes_at_once,
        match &report.applied {
            Some(to) => format!(
                "applied {} to {to}",
                size(report.recommended)
            ),
            None => format!("restored to {} MB", report.original_memory_mb),
        }
    ));
    if let Some(arch) = &report.architecture {
        out.push_str(&format!("; priced for {arch}"));
    }
    out
}

/// One line of the sweep chart: `(memory MB, value)` per size that measured it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "charts"), allow(dead_code))]
pub(crate) struct SweepLine {
    pub label: &'static str,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// The chart's lines: cost per million operations (USD), and p50, p99, cold p99 and
/// warm p99 (ns), each over the sizes that have it.
#[cfg_attr(not(feature = "charts"), allow(dead_code))]
pub(crate) fn sweep_lines(report: &SweepReport) -> (SweepLine, Vec<SweepLine>) {
    let by = |f: &dyn Fn(&crate::sweep::SweepPoint) -> Option<f64>| -> Vec<(f64, f64)> {
        report
            .points
            .iter()
            .filter(|p| p.operations > 0)
            .filter_map(|p| f(p).map(|v| (f64::from(p.memory_mb), v)))
            .collect()
    };
    let cost = SweepLine {
        label: "$ per 1M ops",
        points: by(&|p| p.cost_per_million_ops_usd),
        dashed: false,
    };
    let latency = vec![
        SweepLine {
            label: "p50",
            points: by(&|p| Some(p.p50_ns as f64)),
            dashed: false,
        },
        SweepLine {
            label: "p99",
            points: by(&|p| Some(p.p99_ns as f64)),
            dashed: false,
        },
        SweepLine {
            label: "p99 cold workers",
            points: by(&|p| p.cold.as_ref().map(|c| c.p99_ns as f64)),
            dashed: true,
        },
        SweepLine {
            label: "p99 warm workers",
            points: by(&|p| p.warm.as_ref().map(|w| w.p99_ns as f64)),
            dashed: true,
        },
    ];
    (
        cost,
        latency
            .into_iter()
            .filter(|l| !l.points.is_empty())
            .collect(),
    )
}

/// The colour that marks the recommended size (the palette's red).
#[cfg(feature = "charts")]
const MARK: (u8, u8, u8) = super::chart::PALETTE[3];

#[cfg(feature = "charts")]
fn palette(i: usize) -> plotters::style::RGBColor {
    let (r, g, b) = super::chart::PALETTE[i % super::chart::PALETTE.len()];
    plotters::style::RGBColor(r, g, b)
}

/// Draws the sweep: cost per million operations by memory size above, p50/p99 (and
/// p99 of cold and of warm workers) below, the recommended size marked on both.
#[cfg(feature = "charts")]
pub(crate) fn draw_sweep<DB: plotters::prelude::DrawingBackend>(
    area: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    report: &SweepReport,
) -> std::result::Result<(), plotters::prelude::DrawingAreaErrorKind<DB::ErrorType>> {
    use plotters::prelude::*;
    let (cost, latency) = sweep_lines(report);
    let sizes: Vec<f64> = report
        .points
        .iter()
        .map(|p| f64::from(p.memory_mb))
        .collect();
    let lo = sizes.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = sizes.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() {
        (lo, hi)
    } else {
        (128.0, 1024.0)
    };
    let pad = ((hi - lo) * 0.06).max(32.0);
    let x_range = (lo - pad).max(0.0)..hi + pad;
    let mark = {
        let (r, g, b) = MARK;
        RGBColor(r, g, b)
    };
    let recommended = report.recommended.map(f64::from);
    let parts = area.split_evenly((2, 1));
    let title_font = ("sans-serif", 24).into_font().style(FontStyle::Bold);

    // Cost.
    let cost_max = cost.points.iter().map(|p| p.1).fold(0.0, f64::max);
    let cost_top = if cost_max > 0.0 { cost_max * 1.25 } else { 1.0 };
    let mut chart = ChartBuilder::on(&parts[0])
        .caption(
            "Cost per million operations by memory size",
            title_font.clone(),
        )
        .margin(12)
        .margin_right(40)
        .x_label_area_size(52)
        .y_label_area_size(90)
        .build_cartesian_2d(x_range.clone(), 0.0..cost_top)?;
    chart
        .configure_mesh()
        .x_desc("memory (MB)")
        .y_desc("US dollars per 1M operations")
        .x_labels(10)
        .y_labels(8)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|v| crate::results::cost::format_usd(*v))
        .label_style(("sans-serif", 17))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()?;
    let c = palette(0);
    chart
        .draw_series(LineSeries::new(cost.points.clone(), c.stroke_width(2)))?
        .label(cost.label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
    chart.draw_series(cost.points.iter().map(|&p| Circle::new(p, 5, c.filled())))?;
    if let Some(x) = recommended {
        if let Some(&(_, y)) = cost.points.iter().find(|p| p.0 == x) {
            chart.draw_series(std::iter::once(Circle::new(
                (x, y),
                11,
                mark.stroke_width(3),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("recommended: {x:.0} MB"),
                (x, y + cost_top * 0.08),
                ("sans-serif", 18).into_font().color(&mark),
            )))?;
        }
    }

    // Latency.
    let lat_max = latency
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let (div, unit) = if lat_max < 10e3 {
        (1.0, "ns")
    } else if lat_max < 10e6 {
        (1e3, "µs")
    } else if lat_max < 10e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    };
    let lat_top = if lat_max > 0.0 {
        lat_max / div * 1.3
    } else {
        1.0
    };
    let mut chart = ChartBuilder::on(&parts[1])
        .caption("Latency by memory size", title_font)
        .margin(12)
        .margin_right(40)
        .x_label_area_size(52)
        .y_label_area_size(90)
        .build_cartesian_2d(x_range, 0.0..lat_top)?;
    chart
        .configure_mesh()
        .x_desc("memory (MB)")
        .y_desc(format!("latency ({unit})"))
        .x_labels(10)
        .y_labels(8)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 17))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()?;
    if let Some(x) = recommended {
        chart
            .draw_series(LineSeries::new(
                vec![(x, 0.0), (x, lat_top)],
                mark.stroke_width(2),
            ))?
            .label("recommended")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], mark.stroke_width(3))
            });
    }
    for (i, l) in latency.iter().enumerate() {
        // Colours 0, 1, 2 and 4: 3 is the recommendation's.
        let c = palette(if i >= 3 { i + 1 } else { i });
        let width = if l.dashed { 1 } else { 2 };
        let points: Vec<(f64, f64)> = l.points.iter().map(|&(x, y)| (x, y / div)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), c.stroke_width(width)))?
            .label(l.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 17))
        .draw()?;
    Ok(())
}
