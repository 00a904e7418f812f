//! CSV: one row per test and operation with the summary columns of `summary.csv`
//! (latencies in ns, throughput in ops/s, the test's estimated cost in USD); for a
//! comparison, one row per run, test, operation and metric.

use std::io::Write;

use serde::Serialize;

use super::compare::Comparison;
use super::{summary_rows_with_prices, write_csv, Report, Reporter};
use crate::error::{Error, Result};

/// Writes CSV.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvReporter;

#[derive(Serialize)]
struct ComparisonCsvRow<'a> {
    test: &'a str,
    operation: &'a str,
    baseline_run: &'a str,
    run: &'a str,
    metric: &'a str,
    baseline: f64,
    value: f64,
    change_pct: Option<f64>,
    ci_low_pct: Option<f64>,
    ci_high_pct: Option<f64>,
    significant: Option<bool>,
    baseline_seconds: usize,
    run_seconds: usize,
}

/// Writes `cmp` as CSV, one row per metric.
pub(crate) fn write_comparison_csv(cmp: &Comparison, out: &mut dyn Write) -> Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    for r in &cmp.rows {
        for c in &r.changes {
            w.serialize(ComparisonCsvRow {
                test: &r.test,
                operation: &r.operation,
                baseline_run: &cmp.baseline.run_id,
                run: &r.run_id,
                metric: c.metric.label(),
                baseline: c.baseline,
                value: c.value,
                change_pct: c.change_pct,
                ci_low_pct: c.ci_low_pct,
                ci_high_pct: c.ci_high_pct,
                significant: c.significant,
                baseline_seconds: r.seconds[0],
                run_seconds: r.seconds[1],
            })
            .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
        }
    }
    w.flush().map_err(|e| Error::io("writing CSV", e))
}

impl Reporter for CsvReporter {
    fn write(&self, report: &Report, mut out: &mut dyn Write) -> Result<()> {
        match report.comparison() {
            Some(cmp) => write_comparison_csv(cmp, out),
            None => write_csv(
                &summary_rows_with_prices(&report.runs()[0], report.prices()),
                &mut out,
            ),
        }
    }
}
