//! Turning results into things people read: tables, CSV, JSON, Markdown, HTML and PNG.
//!
//! A [`Report`] holds one run, or several runs compared with the first. A [`Reporter`]
//! writes it in one format; there is one small type per format (hyperfine's exporter
//! pattern), chosen by [`Format`]: [`table`] (the default, sized to the terminal),
//! [`csv`], [`json`], [`markdown`], [`html`] (one self-contained file with inline SVG
//! charts) and [`png`] (charts drawn with plotters). Every reporter writes to any
//! `impl Write`, so the same code serves terminals, files and tests.
//!
//! This module reads results; it never runs anything. Cost estimates come from
//! [`crate::results::cost`], comparisons from [`compare()`].
//!
//! ```
//! use lgb_core::report::{Format, Report};
//! # fn demo(run: lgb_core::results::RunResult) -> lgb_core::Result<()> {
//! let mut out = Vec::new();
//! Report::new(run).write(Format::Markdown, &mut out)?;
//! # Ok(()) }
//! ```

#[cfg(feature = "charts")]
pub mod chart;
pub mod compare;
pub mod csv;
#[cfg(feature = "charts")]
pub mod html;
pub mod json;
pub mod markdown;
#[cfg(feature = "charts")]
pub mod png;
pub mod progress;
pub mod sweep;
pub mod table;

use std::io::Write;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use compare::Comparison;

use crate::error::{Error, Result};
use crate::results::cost::{self, CostEstimate, PriceTable};
use crate::results::tables::{summary_rows, summary_rows_with_prices, write_csv, SummaryRow};
use crate::results::RunResult;

/// Writes a [`Report`] in one format.
pub trait Reporter {
    /// Writes `report` into `out`.
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<()>;
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A text table sized to the terminal.
    Table,
    /// CSV: one row per test and operation (per run in a comparison).
    Csv,
    /// JSON: the whole result with summaries and cost, or the comparison.
    Json,
    /// GitHub-flavoured Markdown tables.
    Markdown,
    /// One self-contained HTML page with inline SVG charts.
    Html,
    /// A PNG image of the percentile spectrum and the timeline.
    Png,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 6] = [
        Format::Table,
        Format::Csv,
        Format::Json,
        Format::Markdown,
        Format::Html,
        Format::Png,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Png => "png",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            other => other.name(),
        }
    }

    /// Whether the output is binary (not for a terminal).
    pub fn is_binary(self) -> bool {
        self == Format::Png
    }

    /// Whether this build can write the format: `html` and `png` need lgb-core's
    /// `charts` feature.
    pub fn is_compiled_in(self) -> bool {
        cfg!(feature = "charts") || !matches!(self, Format::Html | Format::Png)
    }

    /// The reporter of this format. Without the `charts` feature, the `html` and
    /// `png` reporters fail with an error that names the feature.
    pub fn reporter(self) -> Box<dyn Reporter> {
        match self {
            Format::Table => Box::new(table::TableReporter),
            Format::Csv => Box::new(csv::CsvReporter),
            Format::Json => Box::new(json::JsonReporter),
            Format::Markdown => Box::new(markdown::MarkdownReporter),
            #[cfg(feature = "charts")]
            Format::Html => Box::new(html::HtmlReporter),
            #[cfg(feature = "charts")]
            Format::Png => Box::new(png::PngReporter),
            #[cfg(not(feature = "charts"))]
            Format::Html | Format::Png => Box::new(NotCompiledIn(self)),
        }
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "table" | "text" | "txt" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "md" | "markdown" => Ok(Format::Markdown),
            "html" | "htm" => Ok(Format::Html),
            "png" => Ok(Format::Png),
            other => Err(Error::config(
                "format",
                format!("unknown report format `{other}`; use table, csv, json, md, html or png"),
            )),
        }
    }
}

/// The reporter of a format this build leaves out (html and png without `charts`).
#[cfg(not(feature = "charts"))]
struct NotCompiledIn(Format);

#[cfg(not(feature = "charts"))]
impl Reporter for NotCompiledIn {
    fn write(&self, _report: &Report, _out: &mut dyn Write) -> Result<()> {
        Err(not_compiled_in(self.0))
    }
}

/// The error for a format this build leaves out.
#[cfg(not(feature = "charts"))]
fn not_compiled_in(format: Format) -> Error {
    Error::Unsupported(format!(
        "{} reports are not compiled in; enable feature `charts` \
         (the full `lgb`: cargo install --path lgb-cli)",
        format.name()
    ))
}

/// Default size of PNG output in pixels: three charts of 1200×500 stacked.
pub const DEFAULT_PNG_SIZE: (u32, u32) = (1200, 1500);

/// One run, or several runs compared with the first: what reporters write.
#[derive(Debug, Clone)]
pub struct Report {
    runs: Vec<RunResult>,
    sweep: Option<crate::sweep::SweepReport>,
    comparison: Option<Comparison>,
    prices: PriceTable,
    width: Option<u16>,
    png_size: (u32, u32),
}

impl Report {
    /// A report of one run.
    pub fn new(run: RunResult) -> Self {
        Self {
            runs: vec![run],
            sweep: None,
            comparison: None,
            prices: PriceTable::default(),
            width: None,
            png_size: DEFAULT_PNG_SIZE,
        }
    }

    /// A comparison of `runs[1..]` with the baseline `runs[0]` (see [`compare()`]).
    pub fn compare(runs: Vec<RunResult>) -> Result<Self> {
        let comparison = compare::compare(&runs)?;
        Ok(Self {
            runs,
            sweep: None,
            comparison: Some(comparison),
            prices: PriceTable::default(),
            width: None,
            png_size: DEFAULT_PNG_SIZE,
        })
    }

    /// Adds the memory sweep the run was (`sweep.json` of its results directory): its
    /// table and chart in the HTML and PNG reports.
    pub fn with_sweep(mut self, sweep: crate::sweep::SweepReport) -> Self {
        self.sweep = Some(sweep);
        self
    }

    /// The memory sweep, when the report has one.
    pub fn sweep(&self) -> Option<&crate::sweep::SweepReport> {
        self.sweep.as_ref()
    }

    /// Uses `prices` for cost estimates instead of the default table.
    pub fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    /// Fits text tables in `width` columns; `None` uses the terminal's width when
    /// writing to one.
    pub fn with_width(mut self, width: Option<u16>) -> Self {
        self.width = width;
        self
    }

    /// Sets the PNG size in pixels.
    pub fn with_png_size(mut self, size: (u32, u32)) -> Self {
        self.png_size = size;
        self
    }

    /// The runs, baseline first.
    pub fn runs(&self) -> &[RunResult] {
        &self.runs
    }

    /// The comparison, when the report has several runs.
    pub fn comparison(&self) -> Option<&Comparison> {
        self.comparison.as_ref()
    }

    /// The price table in use.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Width for text tables.
    pub fn width(&self) -> Option<u16> {
        self.width
    }

    /// PNG size in pixels.
    pub fn png_size(&self) -> (u32, u32) {
        self.png_size
    }

    /// Cost estimates, one per run.
    pub fn costs(&self) -> Vec<CostEstimate> {
        self.runs
            .iter()
            .map(|r| cost::estimate(r, &self.prices))
            .collect()
    }

    /// Writes the report in `format`; fails before writing anything when this build
    /// leaves the format out (see [`Format::is_compiled_in`]).
    pub fn write(&self, format: Format, out: &mut dyn Write) -> Result<()> {
        format.reporter().write(self, out)
    }

    /// The report in `format`, as bytes.
    pub fn to_bytes(&self, format: Format) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write(format, &mut out)?;
        Ok(out)
    }
}

pub(crate) fn io_err(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::io(format!("writing {what}"), e)
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
        "test",
        "op",
        "ops",
        "err",
        "throughput",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "errors",
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
            if r.errors.is_empty() {
                "-".into()
            } else {
                r.errors
            },
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
