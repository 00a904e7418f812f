//! JSON: for one run, the whole `result.json` content with two more keys, `summary`
//! (the rows of `summary.csv`) and `cost` (the estimate); for a comparison, the
//! [`Comparison`] with the cost estimate of every run.

use std::io::Write;

use serde::Serialize;

use super::compare::Comparison;
use super::{summary_rows_with_prices, Report, Reporter, SummaryRow};
use crate::error::{Error, Result};
use crate::results::cost::CostEstimate;
use crate::results::RunResult;

/// Writes pretty-printed JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonReporter;

#[derive(Serialize)]
struct RunReport<'a> {
    #[serde(flatten)]
    run: &'a RunResult,
    summary: Vec<SummaryRow>,
    cost: CostEstimate,
}

#[derive(Serialize)]
struct ComparisonReport<'a> {
    #[serde(flatten)]
    comparison: &'a Comparison,
    costs: Vec<CostEstimate>,
}

impl Reporter for JsonReporter {
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<()> {
        let enc = |e: serde_json::Error| Error::Internal(format!("writing JSON: {e}"));
        match report.comparison() {
            None => {
                let run = &report.runs()[0];
                let doc = RunReport {
                    run,
                    summary: summary_rows_with_prices(run, report.prices()),
                    cost: crate::results::cost::estimate(run, report.prices()),
                };
                serde_json::to_writer_pretty(&mut *out, &doc).map_err(enc)?;
            }
            Some(comparison) => {
                let doc = ComparisonReport {
                    comparison,
                    costs: report.costs(),
                };
                serde_json::to_writer_pretty(&mut *out, &doc).map_err(enc)?;
            }
        }
        out.write_all(b"\n")
            .map_err(|e| Error::io("writing JSON", e))
    }
}
