//! The tables every frontend shows of a run: one [`SummaryRow`] per test and
//! operation (what `summary.csv` holds, and what the CLI, the reports and Python
//! print). Formatting for people is the report layer's; this is numbers only.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::cost::{self, PriceTable};
use super::RunResult;
use crate::error::{Error, Result};

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
pub fn summary_rows_with_prices(run: &RunResult, prices: &PriceTable) -> Vec<SummaryRow> {
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
