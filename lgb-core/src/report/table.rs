//! The default format: text tables for a terminal, sized to its width, with units
//! chosen per value (`812ns`, `3.42µs`, `12.5ms`) and rates as `12.3k/s`.

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement, Table};

use super::compare::{format_change, Comparison, Metric};
use super::{io_err, render_table, Report, Reporter};
use crate::error::Result;
use crate::results::cost::{format_usd, CostEstimate};
use crate::results::RunResult;

/// Writes text tables: the summary and cost of one run, or a comparison.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableReporter;

fn new_table(width: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = width {
        t.set_width(w);
    }
    t
}

fn right_align(t: &mut Table, from: usize, to: usize) {
    for i in from..to {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// The heading line of a run.
pub(crate) fn run_heading(run: &RunResult) -> String {
    format!(
        "{} ({}, {}, database {}, target {}, started {})",
        run.name,
        run.run_id,
        serde_json::to_value(run.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        run.config.database.kind,
        serde_json::to_value(run.target)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        run.created_at
    )
}

/// The cost table of one run: one row per test with a cost.
pub fn render_cost_table(cost: &CostEstimate, width: Option<u16>) -> String {
    let mut t = new_table(width);
    t.set_header(["test", "ops", "lambda", "database", "total", "per 1M ops"]);
    for c in &cost.tests {
        let lambda: f64 = c
            .items
            .iter()
            .filter(|i| i.service == "lambda")
            .map(|i| i.usd)
            .sum();
        let db: f64 = c
            .items
            .iter()
            .filter(|i| i.service != "lambda")
            .map(|i| i.usd)
            .sum();
        t.add_row([
            c.test.clone(),
            c.operations.to_string(),
            format_usd(lambda),
            format_usd(db),
            format_usd(c.total_usd),
            c.per_million_ops_usd.map_or("-".into(), format_usd),
        ]);
    }
    right_align(&mut t, 1, 6);
    t.to_string()
}

/// The comparison as a table: one row per run, test and operation; cells are changes
/// against the baseline, `*` when significant.
pub fn render_comparison_table(cmp: &Comparison, width: Option<u16>) -> String {
    let mut t = new_table(width);
    let mut header = vec!["test".to_string(), "op".into(), "run".into()];
    header.extend(Metric::ALL.iter().map(|m| m.label().to_string()));
    t.set_header(header);
    for r in &cmp.rows {
        let mut row = vec![r.test.clone(), r.operation.clone(), r.run_id.clone()];
        row.extend(
            Metric::ALL
                .iter()
                .map(|&m| r.change(m).map_or("-".into(), format_change)),
        );
        t.add_row(row);
    }
    right_align(&mut t, 3, 3 + Metric::ALL.len());
    t.to_string()
}

impl Reporter for TableReporter {
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<()> {
        let io = io_err("the table");
        match report.comparison() {
            None => {
                let run = &report.runs()[0];
                writeln!(out, "{}", run_heading(run)).map_err(&io)?;
                writeln!(out, "{}", render_table(run, report.width())).map_err(&io)?;
                let cost = crate::results::cost::estimate(run, report.prices());
                if cost.total_usd > 0.0 {
                    writeln!(out, "Estimated cost:").map_err(&io)?;
                    writeln!(out, "{}", render_cost_table(&cost, report.width())).map_err(&io)?;
                }
                for n in &cost.notes {
                    writeln!(out, "{n}").map_err(&io)?;
                }
            }
            Some(cmp) => {
                writeln!(out, "baseline: {}", run_heading(&report.runs()[0])).map_err(&io)?;
                for run in &report.runs()[1..] {
                    writeln!(out, "run:      {}", run_heading(run)).map_err(&io)?;
                }
                writeln!(out, "{}", render_comparison_table(cmp, report.width())).map_err(&io)?;
                for u in &cmp.unmatched {
                    writeln!(out, "not compared: {u}").map_err(&io)?;
                }
                writeln!(out, "{}", cmp.method).map_err(&io)?;
            }
        }
        Ok(())
    }
}
