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
    let heading = format!(
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
    );
    // A run that stopped early says so wherever it is shown (issue 32).
    match &run.incomplete {
        None => heading,
        Some(i) if i.not_run.is_empty() => format!("{heading}; INCOMPLETE: {}", i.reason),
        Some(i) => format!(
            "{heading}; INCOMPLETE: {}; not run: {}",
            i.reason,
            i.not_run.join(", ")
        ),
    }
}

/// The cost table of one run: one row per test with a cost.
pub(crate) fn render_cost_table(cost: &CostEstimate, width: Option<u16>) -> String {
    let mut t = new_table(width);
    t.set_header(["test", "ops", "lambda", "database", "total", "per 1M ops"]);
    for c in &cost.tests {
        t.add_row([
            c.test.clone(),
            c.operations.to_string(),
            format_usd(c.lambda_usd()),
            format_usd(c.database_usd()),
            format_usd(c.total_usd),
            c.per_million_ops_usd.map_or("-".into(), format_usd),
        ]);
    }
    right_align(&mut t, 1, 6);
    t.to_string()
}

/// Cold and warm workers apart, per test of a run on Lambda: how many, Lambda's init
/// duration (the `REPORT` line), the worker's own init, and the first operation's
/// latency (new connections). `None` when no worker ran on Lambda.
pub(crate) fn render_cold_warm_table(run: &RunResult, width: Option<u16>) -> Option<String> {
    let on_lambda = run
        .tests
        .iter()
        .flat_map(|t| &t.workers)
        .any(|w| w.environment.runtime == "lambda");
    if !on_lambda {
        return None;
    }
    let mut t = new_table(width);
    t.set_header([
        "test",
        "start",
        "workers",
        "Lambda init p50",
        "Lambda init max",
        "worker init p50",
        "first op p50",
        "first op max",
    ]);
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| super::format_ns(v * 1e6));
    let ns = |v: Option<f64>| v.map_or("-".to_string(), super::format_ns);
    for test in &run.tests {
        for cold in [true, false] {
            let ws: Vec<_> = test
                .workers
                .iter()
                .filter(|w| w.environment.cold_start == cold && w.attempts > 0)
                .collect();
            if ws.is_empty() {
                continue;
            }
            let lambda_init: Vec<f64> = ws
                .iter()
                .filter_map(|w| w.environment.report.as_ref()?.init_duration_ms)
                .collect();
            let worker_init: Vec<f64> = ws.iter().filter_map(|w| w.environment.init_ms).collect();
            let first: Vec<f64> = ws
                .iter()
                .filter_map(|w| w.first_op_ns.map(|n| n as f64))
                .collect();
            t.add_row([
                test.name.clone(),
                if cold { "cold" } else { "warm" }.to_string(),
                ws.len().to_string(),
                ms(median(&lambda_init)),
                ms(lambda_init.iter().copied().reduce(f64::max)),
                ms(median(&worker_init)),
                ns(median(&first)),
                ns(first.iter().copied().reduce(f64::max)),
            ]);
        }
    }
    right_align(&mut t, 2, 8);
    Some(t.to_string())
}

/// The median of `v` (the lower middle value), `None` when empty.
fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len().saturating_sub(1) / 2).copied()
}

/// The comparison as a table: one row per run, test and operation; cells are changes
/// against the baseline, `*` when significant.
pub(crate) fn render_comparison_table(cmp: &Comparison, width: Option<u16>) -> String {
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
                if let Some(cw) = render_cold_warm_table(run, report.width()) {
                    writeln!(out, "Cold and warm workers:").map_err(&io)?;
                    writeln!(out, "{cw}").map_err(&io)?;
                }
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
