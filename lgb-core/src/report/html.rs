//! HTML: one self-contained page (inline CSS and inline SVG charts, no script and no
//! network fetch) with the summary, the latency percentile spectrum, throughput and
//! p99 over time, errors by class, cold starts, estimated cost and, for several runs,
//! the comparison. Laid out for a laptop screen and for print.
//!
//! The page is rendered by a minijinja template (`templates/report.html`, compiled in)
//! with auto-escaping; only the SVG charts this module generates are inserted as is.

use std::io::Write;

use minijinja::Environment;
use serde::Serialize;

use super::chart::{
    bar_svg, charted_tests, run_tags, spectrum_series, svg_chart, timeline_series, Bar, Chart,
};
use super::compare::{format_change, Metric};
use super::{format_ns, format_rate, io_err, summary_rows_with_prices, Report, Reporter};
use crate::error::{Error, Result};
use crate::results::cost::format_usd;
use crate::results::RunResult;

const TEMPLATE: &str = include_str!("templates/report.html");

/// Writes the HTML page.
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlReporter;

#[derive(Serialize)]
struct RunInfo {
    tag: String,
    run_id: String,
    status: String,
    database: String,
    target: String,
    created_at: String,
    lgb_version: String,
    description: Option<String>,
    summary: Vec<SummaryCells>,
}

#[derive(Serialize)]
struct SummaryCells {
    test: String,
    operation: String,
    ok: u64,
    failed: u64,
    throughput: String,
    p50: String,
    p90: String,
    p99: String,
    p999: String,
    max: String,
    errors: String,
}

#[derive(Serialize)]
struct ErrorRow {
    run: String,
    test: String,
    operation: String,
    class: String,
    count: u64,
    samples: Vec<String>,
}

#[derive(Serialize)]
struct ColdRow {
    run: String,
    test: String,
    runtime: String,
    workers: usize,
    cold: usize,
    warm: usize,
    init_mean: String,
    init_max: String,
    /// Lambda's own `Init Duration` (REPORT line) of the cold starts.
    lambda_init_mean: String,
    /// First operation's latency of cold and of warm workers.
    first_op_cold: String,
    first_op_warm: String,
    memory: String,
}

#[derive(Serialize)]
struct CostRow {
    run: String,
    test: String,
    service: String,
    item: String,
    quantity: String,
    unit: String,
    unit_price: String,
    usd: String,
}

#[derive(Serialize)]
struct CostTotal {
    run: String,
    test: String,
    operations: u64,
    per_million: String,
    total: String,
}

#[derive(Serialize)]
struct ChangeCell {
    baseline: String,
    value: String,
    change: String,
    ci: String,
    class: &'static str,
}

#[derive(Serialize)]
struct ComparisonRowCells {
    test: String,
    operation: String,
    run: String,
    cells: Vec<ChangeCell>,
}

#[derive(Serialize)]
struct ComparisonView {
    baseline: String,
    metrics: Vec<&'static str>,
    rows: Vec<ComparisonRowCells>,
    unmatched: Vec<String>,
    method: String,
}

#[derive(Serialize)]
struct Section<T> {
    svg: String,
    bars: bool,
    rows: Vec<T>,
}

#[derive(Serialize)]
struct CostSection {
    svg: String,
    bars: bool,
    rows: Vec<CostRow>,
    totals: Vec<CostTotal>,
    notes: Vec<String>,
    source: String,
    region: String,
    as_of: String,
}

#[derive(Serialize)]
struct Page {
    title: String,
    lgb_version: &'static str,
    open_loop: bool,
    runs: Vec<RunInfo>,
    comparison: Option<ComparisonView>,
    spectrum_svg: String,
    throughput_svg: String,
    p99_svg: String,
    errors: Section<ErrorRow>,
    cold: Section<ColdRow>,
    cost: CostSection,
    sweep: Option<SweepView>,
}

/// The memory sweep's chart, table and recommendation.
#[derive(Serialize)]
struct SweepView {
    svg: String,
    rows: Vec<Vec<String>>,
    recommended: Vec<String>,
}

fn sweep_view(report: &Report) -> Result<Option<SweepView>> {
    let Some(sweep) = report.sweep() else {
        return Ok(None);
    };
    let svg = svg_chart(
        (1000, 820),
        "Memory sweep: cost and latency by memory size",
        &Chart::Sweep(sweep),
    )?;
    let ns = |v: u64| super::format_ns(v as f64);
    let usd = |v: Option<f64>| v.map_or("-".to_string(), crate::results::cost::format_usd);
    let rows = sweep
        .points
        .iter()
        .map(|p| {
            vec![
                if sweep.recommended == Some(p.memory_mb) {
                    format!("{} MB (recommended)", p.memory_mb)
                } else {
                    format!("{} MB", p.memory_mb)
                },
                p.operations.to_string(),
                super::format_rate(p.throughput),
                ns(p.p50_ns),
                ns(p.p99_ns),
                p.cold.as_ref().map_or("-".into(), |c| ns(c.p99_ns)),
                p.warm.as_ref().map_or("-".into(), |w| ns(w.p99_ns)),
                usd(p.cost_per_million_ops_usd),
                usd(p.lambda_per_million_ops_usd),
                usd(p.database_per_million_ops_usd),
            ]
        })
        .collect();
    let text = super::sweep::render_sweep(sweep);
    let recommended = text
        .lines()
        .skip_while(|l| !l.starts_with("recommended"))
        .map(str::to_string)
        .collect();
    Ok(Some(SweepView {
        svg,
        rows,
        recommended,
    }))
}

fn enum_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn quantity(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

fn run_info(run: &RunResult, tag: &str, report: &Report) -> RunInfo {
    let summary = summary_rows_with_prices(run, report.prices())
        .into_iter()
        .map(|r| {
            let f = |v: u64| format_ns(v as f64);
            SummaryCells {
                p50: f(r.p50_ns),
                p90: f(r.p90_ns),
                p99: f(r.p99_ns),
                p999: f(r.p999_ns),
                max: f(r.max_ns),
                throughput: format_rate(r.throughput),
                errors: if r.errors.is_empty() {
                    "-".into()
                } else {
                    r.errors
                },
                test: r.test,
                operation: r.operation,
                ok: r.ok,
                failed: r.failed,
            }
        })
        .collect();
    RunInfo {
        tag: tag.to_string(),
        run_id: run.run_id.clone(),
        status: enum_name(&run.status),
        database: run.config.database.kind.clone(),
        target: enum_name(&run.target),
        created_at: run.created_at.clone(),
        lgb_version: run.lgb_version.clone(),
        description: run.config.description.clone(),
        summary,
    }
}

fn errors_section(runs: &[RunResult], tags: &[String]) -> Section<ErrorRow> {
    let mut rows = Vec::new();
    for (run, tag) in runs.iter().zip(tags) {
        for t in &run.tests {
            let ops = t
                .metrics
                .operations
                .iter()
                .map(|(op, m)| (op.as_str(), &m.errors));
            for (op, log) in ops.chain(std::iter::once(("(test)", &t.metrics.errors))) {
                for (class, n) in &log.counts {
                    rows.push(ErrorRow {
                        run: tag.clone(),
                        test: t.name.clone(),
                        operation: op.to_string(),
                        class: class.to_string(),
                        count: *n,
                        samples: log.samples.get(class).cloned().unwrap_or_default(),
                    });
                }
            }
        }
    }
    let mut classes: Vec<String> = rows.iter().map(|r| r.class.clone()).collect();
    classes.sort();
    classes.dedup();
    let bars: Vec<Bar> = rows
        .iter()
        .map(|r| {
            let who = if r.run.is_empty() {
                String::new()
            } else {
                format!("{}: ", r.run)
            };
            Bar {
                label: format!("{who}{}/{} {}", r.test, r.operation, r.class),
                value: r.count as f64,
                text: r.count.to_string(),
                colour: classes.iter().position(|c| c == &r.class).unwrap_or(0),
            }
        })
        .collect();
    Section {
        svg: if bars.is_empty() {
            String::new()
        } else {
            bar_svg("Errors by class", &bars)
        },
        bars: !bars.is_empty(),
        rows,
    }
}

fn cold_section(runs: &[RunResult], tags: &[String]) -> Section<ColdRow> {
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for (run, tag) in runs.iter().zip(tags) {
        for t in &run.tests {
            let cold = t
                .workers
                .iter()
                .filter(|w| w.environment.cold_start)
                .count();
            let warm = t.workers.len() - cold;
            let inits: Vec<f64> = t
                .workers
                .iter()
                .filter(|w| w.environment.cold_start)
                .filter_map(|w| w.environment.init_ms)
                .collect();
            let ms = |v: f64| format_ns(v * 1e6);
            let mean = |v: &[f64]| {
                if v.is_empty() {
                    None
                } else {
                    Some(v.iter().sum::<f64>() / v.len() as f64)
                }
            };
            let lambda_inits: Vec<f64> = t
                .workers
                .iter()
                .filter(|w| w.environment.cold_start)
                .filter_map(|w| w.environment.report.as_ref()?.init_duration_ms)
                .collect();
            let first_op = |cold: bool| -> Vec<f64> {
                t.workers
                    .iter()
                    .filter(|w| w.environment.cold_start == cold)
                    .filter_map(|w| w.first_op_ns.map(|n| n as f64))
                    .collect()
            };
            let (first_cold, first_warm) = (first_op(true), first_op(false));
            let mut runtimes: Vec<&str> = t
                .workers
                .iter()
                .map(|w| w.environment.runtime.as_str())
                .collect();
            runtimes.sort_unstable();
            runtimes.dedup();
            let mut memory: Vec<u32> = t
                .workers
                .iter()
                .filter_map(|w| w.environment.memory_mb)
                .collect();
            memory.sort_unstable();
            memory.dedup();
            let who = if tag.is_empty() {
                String::new()
            } else {
                format!("{tag}: ")
            };
            bars.push(Bar {
                label: format!("{who}{} cold", t.name),
                value: cold as f64,
                text: cold.to_string(),
                colour: 1,
            });
            bars.push(Bar {
                label: format!("{who}{} warm", t.name),
                value: warm as f64,
                text: warm.to_string(),
                colour: 0,
            });
            rows.push(ColdRow {
                run: tag.clone(),
                test: t.name.clone(),
                runtime: runtimes.join(", "),
                workers: t.workers.len(),
                cold,
                warm,
                init_mean: if inits.is_empty() {
                    "-".into()
                } else {
                    ms(inits.iter().sum::<f64>() / inits.len() as f64)
                },
                init_max: inits
                    .iter()
                    .copied()
                    .reduce(f64::max)
                    .map_or("-".into(), ms),
                lambda_init_mean: mean(&lambda_inits).map_or("-".into(), ms),
                first_op_cold: mean(&first_cold).map_or("-".into(), format_ns),
                first_op_warm: mean(&first_warm).map_or("-".into(), format_ns),
                memory: if memory.is_empty() {
                    "-".into()
                } else {
                    memory
                        .iter()
                        .map(|m| format!("{m} MB"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        }
    }
    Section {
        svg: bar_svg("Cold starts and warm invocations per test", &bars),
        bars: !bars.is_empty(),
        rows,
    }
}

fn cost_section(report: &Report, tags: &[String]) -> CostSection {
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    let mut bars = Vec::new();
    let mut notes = Vec::new();
    for (est, tag) in report.costs().iter().zip(tags) {
        for n in &est.notes {
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
        for t in &est.tests {
            for i in &t.items {
                rows.push(CostRow {
                    run: tag.clone(),
                    test: t.test.clone(),
                    service: i.service.clone(),
                    item: i.item.clone(),
                    quantity: quantity(i.quantity),
                    unit: i.unit.clone(),
                    unit_price: format!("${:.3e}", i.unit_price_usd),
                    usd: format_usd(i.usd),
                });
            }
            totals.push(CostTotal {
                run: tag.clone(),
                test: t.test.clone(),
                operations: t.operations,
                per_million: t.per_million_ops_usd.map_or("-".into(), format_usd),
                total: format_usd(t.total_usd),
            });
            if let Some(pm) = t.per_million_ops_usd.filter(|v| *v > 0.0) {
                let who = if tag.is_empty() {
                    String::new()
                } else {
                    format!("{tag}: ")
                };
                bars.push(Bar {
                    label: format!("{who}{}", t.test),
                    value: pm,
                    text: format_usd(pm),
                    colour: 2,
                });
            }
        }
    }
    let p = report.prices();
    CostSection {
        svg: if bars.is_empty() {
            String::new()
        } else {
            bar_svg("Estimated cost per million operations", &bars)
        },
        bars: !bars.is_empty(),
        rows,
        totals,
        notes,
        source: p.source.clone(),
        region: p.region.clone(),
        as_of: p.as_of.clone(),
    }
}

fn comparison_view(report: &Report) -> Option<ComparisonView> {
    let cmp = report.comparison()?;
    let rows = cmp
        .rows
        .iter()
        .map(|r| ComparisonRowCells {
            test: r.test.clone(),
            operation: r.operation.clone(),
            run: r.run_id.clone(),
            cells: Metric::ALL
                .iter()
                .filter_map(|&m| r.change(m))
                .map(|c| {
                    let fmt = |v: f64| {
                        if c.metric == Metric::Throughput {
                            format_rate(v)
                        } else {
                            format_ns(v)
                        }
                    };
                    ChangeCell {
                        baseline: fmt(c.baseline),
                        value: fmt(c.value),
                        change: format_change(c),
                        ci: match (c.ci_low_pct, c.ci_high_pct) {
                            (Some(lo), Some(hi)) => format!("{lo:+.1}% to {hi:+.1}%"),
                            _ => "too few seconds".into(),
                        },
                        class: match c.verdict() {
                            Some(true) => "better",
                            Some(false) => "worse",
                            None => "",
                        },
                    }
                })
                .collect(),
        })
        .collect();
    Some(ComparisonView {
        baseline: cmp.baseline.run_id.clone(),
        metrics: Metric::ALL.iter().map(|m| m.label()).collect(),
        rows,
        unmatched: cmp.unmatched.clone(),
        method: cmp.method.clone(),
    })
}

/// Renders the page as a string.
pub fn render(report: &Report) -> Result<String> {
    let runs = report.runs();
    let tags = run_tags(runs);
    let tags_shown: Vec<String> = if runs.len() == 1 {
        vec![String::new()]
    } else {
        tags.clone()
    };
    let spectrum = spectrum_series(runs);
    let (thr, p99) = timeline_series(runs);
    let chart_size = (1000, 460);
    let page = Page {
        title: match report.comparison() {
            Some(_) => format!(
                "lgb comparison: {}",
                runs.iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" vs ")
            ),
            None => format!("lgb report: {}", runs[0].name),
        },
        lgb_version: env!("CARGO_PKG_VERSION"),
        open_loop: runs
            .iter()
            .flat_map(charted_tests)
            .any(|t| t.test.rate.is_some()),
        runs: runs
            .iter()
            .zip(&tags_shown)
            .map(|(r, t)| run_info(r, t, report))
            .collect(),
        comparison: comparison_view(report),
        spectrum_svg: svg_chart(
            chart_size,
            "Latency by percentile",
            &Chart::Spectrum(&spectrum),
        )?,
        throughput_svg: svg_chart(
            chart_size,
            "Throughput per second",
            &Chart::Timeline {
                title: "Throughput per second",
                series: &thr,
                latency: false,
            },
        )?,
        p99_svg: svg_chart(
            chart_size,
            "p99 latency per second",
            &Chart::Timeline {
                title: "p99 latency per second",
                series: &p99,
                latency: true,
            },
        )?,
        errors: errors_section(runs, &tags_shown),
        cold: cold_section(runs, &tags_shown),
        cost: cost_section(report, &tags_shown),
        sweep: sweep_view(report)?,
    };
    let mut env = Environment::new();
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| Error::Internal(format!("HTML template: {e}")))?;
    let tmpl = env
        .get_template("report.html")
        .map_err(|e| Error::Internal(format!("HTML template: {e}")))?;
    tmpl.render(&page)
        .map_err(|e| Error::Internal(format!("rendering HTML: {e:#}")))
}

impl Reporter for HtmlReporter {
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<()> {
        let html = render(report)?;
        out.write_all(html.as_bytes()).map_err(io_err("HTML"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(quantity(3.0), "3");
        assert_eq!(quantity(0.125), "0.1250");
        assert_eq!(quantity(1234.56), "1234.6");
    }
}
