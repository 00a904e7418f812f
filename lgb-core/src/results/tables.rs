//! The tables every frontend shows of a run: one [`SummaryRow`] per test and
//! operation (what `summary.csv` holds, and what the CLI, the reports and Python
//! print) with each row's phase ([`summary_phases`]), and one [`TimelineRow`] per
//! test, second and operation with that second's [`IntervalStats`]. Formatting for
//! people is the report layer's, Arrow columns are lgb-py's; this is numbers only.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::cost::{self, PriceTable};
use super::RunResult;
use crate::error::{Error, Result};
use crate::metrics::SparseHistogram;
use crate::protocol::Phase;

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
    /// Estimated cost of the whole test this operation belongs to (USD; see
    /// [`super::cost`]); the same on every row of a test.
    #[serde(default)]
    pub test_cost_usd: Option<f64>,
    /// That cost per million operations of the test (USD).
    #[serde(default)]
    pub test_cost_per_million_ops_usd: Option<f64>,
}

/// Rows of every test and operation of `run`, costs at the default prices.
pub fn summary_rows(run: &RunResult) -> Vec<SummaryRow> {
    summary_rows_with_prices(run, &PriceTable::default())
}

/// Rows of every test and operation of `run`, costs at `prices`.
pub(crate) fn summary_rows_with_prices(run: &RunResult, prices: &PriceTable) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for t in &run.tests {
        let cost = cost::estimate_test(run, t, prices);
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
                test_cost_usd: Some(cost.total_usd),
                test_cost_per_million_ops_usd: cost.per_million_ops_usd,
            });
        }
    }
    rows
}

/// Writes rows as CSV with a header.
pub fn write_csv(rows: &[SummaryRow], out: &mut impl Write) -> Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    for r in rows {
        w.serialize(r)
            .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    }
    w.flush().map_err(|e| Error::io("writing CSV", e))
}

/// `load` or `run`, as in `result.json`.
pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Load => "load",
        Phase::Run => "run",
    }
}

/// The phase of each of `rows` (rows of [`summary_rows`] of `run`): that of the test
/// the row belongs to.
pub fn summary_phases(run: &RunResult, rows: &[SummaryRow]) -> Vec<Phase> {
    // summary_rows walks tests in order and their operations in key order.
    let phases: Vec<Phase> = run
        .tests
        .iter()
        .flat_map(|t| std::iter::repeat_n(t.phase, t.metrics.operations.len()))
        .collect();
    if phases.len() == rows.len() {
        return phases;
    }
    rows.iter()
        .map(|r| {
            let phase = run.tests.iter().find(|t| t.name == r.test).map(|t| t.phase);
            phase.unwrap_or_default()
        })
        .collect()
}

/// Latency statistics of one timeline interval (ns): the numbers of
/// [`crate::metrics::LatencyHistogram::summary`] without the minimum and the standard deviation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IntervalStats {
    /// Mean.
    pub mean_ns: f64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Maximum.
    pub max_ns: u64,
}

/// The [`IntervalStats`] of one timeline point, read from its sparse histogram (which
/// holds only its occupied buckets): the figures of [`crate::metrics::LatencyHistogram::summary`] for
/// the same samples.
pub(crate) fn interval_stats(latency: &SparseHistogram) -> IntervalStats {
    if latency.is_empty() {
        return IntervalStats::default();
    }
    let [p50_ns, p90_ns, p99_ns, p999_ns] = latency.quantiles_ns([0.50, 0.90, 0.99, 0.999]);
    IntervalStats {
        mean_ns: latency.mean_ns(),
        p50_ns,
        p90_ns,
        p99_ns,
        p999_ns,
        max_ns: latency.max_ns(),
    }
}

/// One second of one operation of one test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineRow<'a> {
    /// Test name.
    pub test: &'a str,
    /// The test's phase.
    pub phase: Phase,
    /// Operation kind.
    pub operation: &'a str,
    /// Unix time of the second, in seconds.
    pub second: i64,
    /// Operations that ended in that second (successes and failures).
    pub ops: u64,
    /// Failed operations that ended in that second.
    pub errors: u64,
    /// Latency of that second's successful operations.
    pub latency: IntervalStats,
}

/// Rows of every test's timeline, tests in order, each test's points in its order.
pub fn timeline_rows(run: &RunResult) -> Vec<TimelineRow<'_>> {
    run.tests
        .iter()
        .flat_map(|t| {
            t.metrics.timeline.points().map(move |p| TimelineRow {
                test: &t.name,
                phase: t.phase,
                operation: &p.operation,
                second: p.second,
                ops: p.ops,
                errors: p.errors,
                latency: interval_stats(&p.latency),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LatencyHistogram;

    #[test]
    fn interval_stats_are_the_summary_figures() {
        let mut shapes = vec![LatencyHistogram::new()];
        let mut h = LatencyHistogram::new();
        h.record_ns(0);
        shapes.push(h.clone());
        // Spread over six decades, with repeats and a 60 s ceiling.
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ns = 10u64.pow((x % 7) as u32) + x % 1000;
            h.record_n(ns, 1 + i % 3);
            if i % 5_000 == 0 {
                shapes.push(h.clone());
            }
        }
        h.record_ns(120_000_000_000);
        shapes.push(h);
        for h in shapes {
            let s = h.summary();
            let got = interval_stats(&SparseHistogram::from_histogram(&h));
            assert_eq!(got.mean_ns.round(), s.mean_ns.round(), "{h:?}");
            assert_eq!(
                [got.p50_ns, got.p90_ns, got.p99_ns, got.p999_ns, got.max_ns],
                [s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.max_ns],
                "{h:?}"
            );
        }
    }
}
