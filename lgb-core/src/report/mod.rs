//! Turning results into things people read: summary rows, a terminal table and CSV.
//! Each format writes to any `impl Write`, so the same code serves terminals, files
//! and tests.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runner::RunResult;

/// One row of a summary: one test and operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Test name.
    pub test: String,
    /// Operation kind.
    pub operation: String,
    /// Successful operations.
    pub ok: u64,
    /// Failed operations.
    pub failed: u64,
    /// Operations per second over the measured window.
    pub throughput: f64,
    /// Latency: min, mean, p50, p90, p95, p99, p99.9, max (ns).
    pub min_ns: u64,
    /// Mean latency (ns).
    pub mean_ns: f64,
    /// Median latency (ns).
    pub p50_ns: u64,
    /// 90th percentile (ns).
    pub p90_ns: u64,
    /// 95th percentile (ns).
    pub p95_ns: u64,
    /// 99th percentile (ns).
    pub p99_ns: u64,
    /// 99.9th percentile (ns).
    pub p999_ns: u64,
    /// Max latency (ns).
    pub max_ns: u64,
    /// Standard deviation (ns).
    pub stddev_ns: f64,
    /// Median service time (open loop only), ns.
    pub service_p50_ns: Option<u64>,
    /// 99th percentile service time (open loop only), ns.
    pub service_p99_ns: Option<u64>,
    /// Errors by class, as `class=count` joined by spaces.
    pub errors: String,
    /// Read capacity units consumed.
    pub read_units: f64,
    /// Write capacity units consumed.
    pub write_units: f64,
}

/// Rows of every test and operation of `run`.
pub fn summary_rows(run: &RunResult) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for t in &run.tests {
        for (op, m) in &t.metrics.operations {
            let s = m.latency.summary();
            let svc = m.service.as_ref().map(|h| h.summary());
            rows.push(SummaryRow {
                test: t.name.clone(),
                operation: op.clone(),
                ok: m.ok,
                failed: m.failed,
                throughput: t.throughput_of(op),
                min_ns: s.min_ns,
                mean_ns: s.mean_ns,
                p50_ns: s.p50_ns,
                p90_ns: s.p90_ns,
                p95_ns: s.p95_ns,
                p99_ns: s.p99_ns,
                p999_ns: s.p999_ns,
                max_ns: s.max_ns,
                stddev_ns: s.stddev_ns,
                service_p50_ns: svc.map(|s| s.p50_ns),
                service_p99_ns: svc.map(|s| s.p99_ns),
                errors: m
                    .errors
                    .counts
                    .iter()
                    .map(|(c, n)| format!("{c}={n}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                read_units: m.meta.read_units,
                write_units: m.meta.write_units,
            });
        }
    }
    rows
}

/// Writes rows as CSV with a header.
pub fn write_csv(rows: &[SummaryRow], out: &mut impl Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for r in rows {
        w.serialize(r).map_err(|e| Error::Backend(format!("writing CSV: {e}")))?;
    }
    w.flush().map_err(|e| Error::io("writing CSV", e))
}

/// A latency for people: `812ns`, `3.42µs`, `12.5ms`, `1.20s`.
pub fn format_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if unit == "ns" {
        format!("{v:.0}{unit}")
    } else if v < 10.0 {
        format!("{v:.2}{unit}")
    } else if v < 100.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.0}{unit}")
    }
}

/// A rate for people: `950/s`, `12.3k/s`, `4.41M/s`.
pub fn format_rate(r: f64) -> String {
    if r < 1e3 {
        format!("{r:.0}/s")
    } else if r < 1e6 {
        format!("{:.1}k/s", r / 1e3)
    } else {
        format!("{:.2}M/s", r / 1e6)
    }
}

/// Renders the summary as a terminal table no wider than `width` columns (or the
/// terminal's width when `None` and output is a terminal).
pub fn render_table(run: &RunResult, width: Option<u16>) -> String {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement, Table};
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = width {
        table.set_width(w);
    }
    table.set_header([
        "test", "op", "ops", "err", "throughput", "p50", "p90", "p99", "p99.9", "max", "errors",
    ]);
    for r in summary_rows(run) {
        let fmt = |v: u64| format_ns(v as f64);
        table.add_row([
            r.test,
            r.operation,
            r.ok.to_string(),
            r.failed.to_string(),
            format_rate(r.throughput),
            fmt(r.p50_ns),
            fmt(r.p90_ns),
            fmt(r.p99_ns),
            fmt(r.p999_ns),
            fmt(r.max_ns),
            if r.errors.is_empty() { "-".into() } else { r.errors },
        ]);
    }
    for i in 2..10 {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_readable() {
        assert_eq!(format_ns(812.0), "812ns");
        assert_eq!(format_ns(3_420.0), "3.42µs");
        assert_eq!(format_ns(12_500_000.0), "12.5ms");
        assert_eq!(format_ns(1_200_000_000.0), "1.20s");
        assert_eq!(format_rate(4_410_000.0), "4.41M/s");
        assert_eq!(format_rate(950.0), "950/s");
    }
}
