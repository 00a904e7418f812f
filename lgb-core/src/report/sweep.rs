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
        if report.only_cold_starts { ", cold starts only" } else { "" },
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
#[allow(dead_code)] // drawn by the HTML and PNG reports (charts feature)
pub(crate) struct SweepLine {
    pub label: &'static str,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// The chart's lines: cost per million operations (USD), and p50, p99, cold p99 and
/// warm p99 (ns), each over the sizes that have it.
#[allow(dead_code)]
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
