//! Markdown: GitHub-flavoured tables for pull requests and notes, with the same units
//! as the terminal table.

use std::io::Write;

use super::compare::{format_change, Comparison, Metric};
use super::table::run_heading;
use super::{format_ns, format_rate, io_err, summary_rows_with_prices, Report, Reporter};
use crate::error::Result;
use crate::results::cost::{format_usd, CostEstimate};
use crate::results::RunResult;

/// Writes Markdown.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkdownReporter;

/// Escapes the characters that would break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn write_summary(run: &RunResult, report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "| test | op | ok | failed | throughput | p50 | p90 | p99 | p99.9 | max | errors |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")?;
    for r in summary_rows_with_prices(run, report.prices()) {
        let f = |v: u64| format_ns(v as f64);
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&r.test),
            cell(&r.operation),
            r.ok,
            r.failed,
            format_rate(r.throughput),
            f(r.p50_ns),
            f(r.p90_ns),
            f(r.p99_ns),
            f(r.p999_ns),
            f(r.max_ns),
            if r.errors.is_empty() {
                "-".into()
            } else {
                cell(&r.errors)
            }
        )?;
    }
    Ok(())
}

fn write_cost(cost: &CostEstimate, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "| test | operations | lambda | database | total | per 1M ops |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    for c in &cost.tests {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&c.test),
            c.operations,
            format_usd(c.lambda_usd()),
            format_usd(c.database_usd()),
            format_usd(c.total_usd),
            c.per_million_ops_usd.map_or("-".into(), format_usd)
        )?;
    }
    writeln!(out)?;
    for n in &cost.notes {
        writeln!(out, "{n}  ")?;
    }
    Ok(())
}

/// Writes `cmp` as a Markdown table: baseline value, run value and change per metric.
pub(crate) fn write_comparison(cmp: &Comparison, out: &mut dyn Write) -> std::io::Result<()> {
    write!(out, "| test | op | run |")?;
    for m in Metric::ALL {
        write!(out, " {} |", m.label())?;
    }
    writeln!(out)?;
    write!(out, "|---|---|---|")?;
    for _ in Metric::ALL {
        write!(out, "---:|")?;
    }
    writeln!(out)?;
    for r in &cmp.rows {
        write!(
            out,
            "| {} | {} | {} |",
            cell(&r.test),
            cell(&r.operation),
            cell(&r.run_id)
        )?;
        for m in Metric::ALL {
            match r.change(m) {
                Some(c) => {
                    let fmt = |v: f64| {
                        if m == Metric::Throughput {
                            format_rate(v)
                        } else {
                            format_ns(v)
                        }
                    };
                    write!(
                        out,
                        " {} → {} ({}) |",
                        fmt(c.baseline),
                        fmt(c.value),
                        format_change(c)
                    )?;
                }
                None => write!(out, " - |")?,
            }
        }
        writeln!(out)?;
    }
    if !cmp.unmatched.is_empty() {
        writeln!(out)?;
        for u in &cmp.unmatched {
            writeln!(out, "- not compared: {}", cell(u))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "_Method:_ {}", cmp.method)
}

impl Reporter for MarkdownReporter {
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<()> {
        let io = io_err("Markdown");
        match report.comparison() {
            None => {
                let run = &report.runs()[0];
                writeln!(out, "# {}\n", cell(&run.name)).map_err(&io)?;
                writeln!(out, "{}\n", cell(&run_heading(run))).map_err(&io)?;
                if let Some(d) = &run.config.description {
                    writeln!(out, "{}\n", cell(d)).map_err(&io)?;
                }
                writeln!(out, "## Summary\n").map_err(&io)?;
                write_summary(run, report, out).map_err(&io)?;
                writeln!(out, "\n## Estimated cost\n").map_err(&io)?;
                write_cost(&crate::results::cost::estimate(run, report.prices()), out)
                    .map_err(&io)?;
            }
            Some(cmp) => {
                writeln!(out, "# Comparison\n").map_err(&io)?;
                writeln!(out, "- baseline: {}", cell(&run_heading(&report.runs()[0])))
                    .map_err(&io)?;
                for run in &report.runs()[1..] {
                    writeln!(out, "- run: {}", cell(&run_heading(run))).map_err(&io)?;
                }
                writeln!(out).map_err(&io)?;
                write_comparison(cmp, out).map_err(&io)?;
            }
        }
        Ok(())
    }
}
