//! Results as Arrow tables: each function turns part of a [`RunResult`] into one
//! [`RecordBatch`], which crosses to Python through the Arrow C stream interface
//! (`crate::ArrowTable`) and becomes a polars frame without a copy. This module owns
//! the column names and types that `lgb.Run`'s methods document; it computes nothing
//! that lgb-core does not already provide (summaries, percentiles, spectra and costs
//! come from lgb-core and HdrHistogram; rows of the summary, its phases and the
//! timeline's per-second figures are `lgb_core::results::tables`').
//!
//! Types: latencies are `Duration(ns)`, instants are `Timestamp(ns, "UTC")`, counts are
//! `UInt64`, rates and capacity units are `Float64`, money is `Float64` US dollars (the
//! unit lgb-core's cost model computes in) named `…_usd`, dates are `Date32`.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, StringViewBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DurationNanosecondArray, Float64Array, RecordBatch,
    StringViewArray, TimestampNanosecondArray, UInt32Array, UInt64Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};
use lgb_core::metrics::{LatencyHistogram, OperationMetrics};
use lgb_core::prelude::{PriceTable, RunResult, TestResult, WorkerStatus};
use lgb_core::results::cost;
pub use lgb_core::results::tables::phase_name;
use lgb_core::results::tables::summary_rows;
use lgb_core::results::tables::{summary_phases, timeline_rows, IntervalStats};

/// Which tests and operations a latency table covers (`None` means all).
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection<'a> {
    /// Only this test.
    pub test: Option<&'a str>,
    /// Only this operation kind.
    pub operation: Option<&'a str>,
}

impl Selection<'_> {
    fn keeps(&self, test: &str, operation: &str) -> bool {
        self.test.is_none_or(|t| t == test) && self.operation.is_none_or(|o| o == operation)
    }
}

/// Columns of a table being built, in order.
#[derive(Default)]
struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

fn ns(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn ns_f(v: f64) -> i64 {
    // `as` saturates; latencies are at most 60 s, far inside i64.
    v.round() as i64
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// A string column whose rows come in runs of one value (the test, operation and
/// histogram of each bucket of a latency table): each distinct value is stored once
/// and every row is a copy of its 16-byte view, so a million rows cost no append each.
#[derive(Default)]
struct TextRuns<'a> {
    distinct: Vec<&'a str>,
    /// (index in `distinct`, rows)
    runs: Vec<(usize, usize)>,
    rows: usize,
}

impl<'a> TextRuns<'a> {
    fn push(&mut self, value: &'a str, rows: usize) {
        // Few distinct values (tests, operations): a scan beats hashing.
        let i = match self.distinct.iter().position(|d| *d == value) {
            Some(i) => i,
            None => {
                self.distinct.push(value);
                self.distinct.len() - 1
            }
        };
        self.runs.push((i, rows));
        self.rows += rows;
    }

    fn finish(self) -> Result<StringViewArray, ArrowError> {
        let mut builder = StringViewBuilder::with_capacity(self.distinct.len());
        for v in &self.distinct {
            builder.append_value(v);
        }
        let values = builder.finish();
        let mut views = Vec::with_capacity(self.rows);
        for (i, n) in self.runs {
            views.extend(std::iter::repeat_n(values.views()[i], n));
        }
        StringViewArray::try_new(views.into(), values.data_buffers().to_vec(), None)
    }
}

impl Columns {
    fn push(
        &mut self,
        name: &str,
        data_type: DataType,
        nullable: bool,
        array: ArrayRef,
    ) -> &mut Self {
        self.fields.push(Field::new(name, data_type, nullable));
        self.arrays.push(array);
        self
    }

    /// Strings as views: values up to 12 bytes (test, operation and class names) sit
    /// inline in the view, so a million-row column costs no per-row allocation, and
    /// polars takes view arrays as they are.
    fn text<S: AsRef<str>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        let values = values.into_iter();
        let mut builder = StringViewBuilder::with_capacity(values.size_hint().0);
        for v in values {
            builder.append_value(v);
        }
        self.push(name, DataType::Utf8View, false, Arc::new(builder.finish()))
    }

    fn text_runs(&mut self, name: &str, runs: TextRuns<'_>) -> Result<&mut Self, ArrowError> {
        let array = runs.finish()?;
        Ok(self.push(name, DataType::Utf8View, false, Arc::new(array)))
    }

    fn text_opt<S: AsRef<str>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = Option<S>>,
    ) -> &mut Self {
        let values = values.into_iter();
        let mut builder = StringViewBuilder::with_capacity(values.size_hint().0);
        for v in values {
            builder.append_option(v);
        }
        self.push(name, DataType::Utf8View, true, Arc::new(builder.finish()))
    }

    fn u64(&mut self, name: &str, values: Vec<u64>) -> &mut Self {
        self.push(
            name,
            DataType::UInt64,
            false,
            Arc::new(UInt64Array::from(values)),
        )
    }

    fn u64_opt(&mut self, name: &str, values: Vec<Option<u64>>) -> &mut Self {
        self.push(
            name,
            DataType::UInt64,
            true,
            Arc::new(UInt64Array::from(values)),
        )
    }

    fn u32(&mut self, name: &str, values: Vec<u32>) -> &mut Self {
        self.push(
            name,
            DataType::UInt32,
            false,
            Arc::new(UInt32Array::from(values)),
        )
    }

    fn u32_opt(&mut self, name: &str, values: Vec<Option<u32>>) -> &mut Self {
        self.push(
            name,
            DataType::UInt32,
            true,
            Arc::new(UInt32Array::from(values)),
        )
    }

    fn f64(&mut self, name: &str, values: Vec<f64>) -> &mut Self {
        self.push(
            name,
            DataType::Float64,
            false,
            Arc::new(Float64Array::from(values)),
        )
    }

    fn f64_opt(&mut self, name: &str, values: Vec<Option<f64>>) -> &mut Self {
        self.push(
            name,
            DataType::Float64,
            true,
            Arc::new(Float64Array::from(values)),
        )
    }

    fn date_opt(&mut self, name: &str, days: Vec<Option<i32>>) -> &mut Self {
        self.push(
            name,
            DataType::Date32,
            true,
            Arc::new(Date32Array::from(days)),
        )
    }

    fn flag(&mut self, name: &str, values: Vec<bool>) -> &mut Self {
        self.push(
            name,
            DataType::Boolean,
            false,
            Arc::new(BooleanArray::from(values)),
        )
    }

    fn duration(&mut self, name: &str, values: Vec<i64>) -> &mut Self {
        let dt = DataType::Duration(TimeUnit::Nanosecond);
        self.push(
            name,
            dt,
            false,
            Arc::new(DurationNanosecondArray::from(values)),
        )
    }

    fn duration_opt(&mut self, name: &str, values: Vec<Option<i64>>) -> &mut Self {
        let dt = DataType::Duration(TimeUnit::Nanosecond);
        self.push(
            name,
            dt,
            true,
            Arc::new(DurationNanosecondArray::from(values)),
        )
    }

    fn time(&mut self, name: &str, unix_ns: Vec<i64>) -> &mut Self {
        let array = TimestampNanosecondArray::from(unix_ns).with_timezone("UTC");
        self.push(name, utc(), false, Arc::new(array))
    }

    fn text_lists(&mut self, name: &str, values: Vec<Vec<String>>) -> &mut Self {
        let mut builder = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
            "item",
            DataType::Utf8,
            false,
        )));
        for list in values {
            for v in list {
                builder.values().append_value(v);
            }
            builder.append(true);
        }
        let item = Field::new("item", DataType::Utf8, false);
        let dt = DataType::List(Arc::new(item));
        self.push(name, dt, false, Arc::new(builder.finish()))
    }

    fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let schema = Arc::new(Schema::new(std::mem::take(&mut self.fields)));
        RecordBatch::try_new(schema, std::mem::take(&mut self.arrays))
    }
}

fn status_name(status: WorkerStatus) -> &'static str {
    match status {
        WorkerStatus::Completed => "completed",
        WorkerStatus::Cancelled => "cancelled",
        WorkerStatus::Failed => "failed",
    }
}

/// One row per test and operation: lgb-core's summary rows (the columns of
/// `summary.csv`) with latencies as durations and the test's phase.
pub fn summary(run: &RunResult) -> Result<RecordBatch, ArrowError> {
    let rows = summary_rows(run);
    let phases = summary_phases(run, &rows);
    let col = |f: fn(&lgb_core::results::tables::SummaryRow) -> u64| {
        rows.iter().map(|r| ns(f(r))).collect::<Vec<_>>()
    };
    Columns::default()
        .text("test", rows.iter().map(|r| &r.test))
        .text("phase", phases.into_iter().map(phase_name))
        .text("operation", rows.iter().map(|r| &r.operation))
        .u64("ok", rows.iter().map(|r| r.ok).collect())
        .u64("failed", rows.iter().map(|r| r.failed).collect())
        .f64("throughput", rows.iter().map(|r| r.throughput).collect())
        .duration("min", col(|r| r.min_ns))
        .duration("mean", rows.iter().map(|r| ns_f(r.mean_ns)).collect())
        .duration("p50", col(|r| r.p50_ns))
        .duration("p90", col(|r| r.p90_ns))
        .duration("p95", col(|r| r.p95_ns))
        .duration("p99", col(|r| r.p99_ns))
        .duration("p999", col(|r| r.p999_ns))
        .duration("max", col(|r| r.max_ns))
        .duration("stddev", rows.iter().map(|r| ns_f(r.stddev_ns)).collect())
        .duration_opt(
            "service_p50",
            rows.iter().map(|r| r.service_p50_ns.map(ns)).collect(),
        )
        .duration_opt(
            "service_p99",
            rows.iter().map(|r| r.service_p99_ns.map(ns)).collect(),
        )
        .text("errors", rows.iter().map(|r| &r.errors))
        .f64("read_units", rows.iter().map(|r| r.read_units).collect())
        .f64("write_units", rows.iter().map(|r| r.write_units).collect())
        .finish()
}

/// One row per test, second and operation: operations that ended in that second,
/// failures, and latency statistics of that second's successful operations
/// (lgb-core's [`timeline_rows`]).
pub fn timeline(run: &RunResult) -> Result<RecordBatch, ArrowError> {
    let rows = timeline_rows(run);
    let stat = |f: fn(&IntervalStats) -> u64| -> Vec<i64> {
        rows.iter().map(|r| ns(f(&r.latency))).collect()
    };
    Columns::default()
        .text("test", rows.iter().map(|r| r.test))
        .text("phase", rows.iter().map(|r| phase_name(r.phase)))
        .text("operation", rows.iter().map(|r| r.operation))
        .time(
            "time",
            rows.iter()
                .map(|r| r.second.saturating_mul(1_000_000_000))
                .collect(),
        )
        .u64("ops", rows.iter().map(|r| r.ops).collect())
        .u64("errors", rows.iter().map(|r| r.errors).collect())
        .duration(
            "mean",
            rows.iter().map(|r| ns_f(r.latency.mean_ns)).collect(),
        )
        .duration("p50", stat(|s| s.p50_ns))
        .duration("p90", stat(|s| s.p90_ns))
        .duration("p99", stat(|s| s.p99_ns))
        .duration("p999", stat(|s| s.p999_ns))
        .duration("max", stat(|s| s.max_ns))
        .finish()
}

/// The histograms of one operation, by name: `latency` (successes; from the intended
/// start in open-loop tests), `service` (open loop only) and `failed_latency`.
fn histograms(m: &OperationMetrics) -> impl Iterator<Item = (&'static str, &LatencyHistogram)> {
    [
        ("latency", Some(&m.latency)),
        ("service", m.service.as_ref()),
        ("failed_latency", Some(&m.failed_latency)),
    ]
    .into_iter()
    .filter_map(|(name, h)| h.map(|h| (name, h)))
}

fn selected<'r>(
    run: &'r RunResult,
    sel: Selection<'r>,
) -> impl Iterator<Item = (&'r TestResult, &'r str, &'static str, &'r LatencyHistogram)> + 'r {
    run.tests.iter().flat_map(move |t| {
        t.metrics
            .operations
            .iter()
            .filter(move |(op, _)| sel.keeps(&t.name, op))
            .flat_map(move |(op, m)| histograms(m).map(move |(kind, h)| (t, op.as_str(), kind, h)))
    })
}

/// One row per recorded bucket of each histogram: the bucket's range (`low` ..= `value`,
/// `value` being the bucket's highest equivalent value as HdrHistogram reports it), its
/// count, and the cumulative count and percentile up to and including it (so `value`
/// against `percentile` is the percentile spectrum at full resolution).
pub fn latencies(run: &RunResult, sel: Selection<'_>) -> Result<RecordBatch, ArrowError> {
    let histograms: Vec<_> = selected(run, sel).collect();
    // Count the rows first so that each column is allocated once: growing million-row
    // vectors by doubling cost more than filling them.
    let rows: usize = histograms
        .iter()
        .map(|(_, _, _, h)| h.buckets().count())
        .sum();
    let (mut test, mut op, mut kind) = (
        TextRuns::default(),
        TextRuns::default(),
        TextRuns::default(),
    );
    let (mut low, mut value) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let (mut count, mut cumulative) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let mut percentile = Vec::with_capacity(rows);
    for (t, o, k, h) in histograms {
        let h = h.to_hdr();
        let total = h.len() as f64;
        let first = value.len();
        let mut running = 0u64;
        for v in h.iter_recorded() {
            let n = v.count_at_value();
            // Counts of a loaded file may sum past u64 (four of 2^62): the column saturates.
            running = running.saturating_add(n);
            low.push(ns(h.lowest_equivalent(v.value_iterated_to())));
            value.push(ns(v.value_iterated_to()));
            count.push(n);
            cumulative.push(running);
            percentile.push(running as f64 * 100.0 / total);
        }
        let n = value.len() - first;
        test.push(t.name.as_str(), n);
        op.push(o, n);
        kind.push(k, n);
    }
    Columns::default()
        .text_runs("test", test)?
        .text_runs("operation", op)?
        .text_runs("histogram", kind)?
        .duration("low", low)
        .duration("value", value)
        .u64("count", count)
        .u64("cumulative_count", cumulative)
        .f64("percentile", percentile)
        .finish()
}

/// HdrHistogram's classic percentile distribution of each histogram (lgb-core's
/// `LatencyHistogram::spectrum`): `ticks` steps per halving of the distance to 100%.
pub fn percentiles(
    run: &RunResult,
    sel: Selection<'_>,
    ticks: u32,
) -> Result<RecordBatch, ArrowError> {
    let (mut test, mut op, mut kind, mut percentile, mut value) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (t, o, k, h) in selected(run, sel) {
        for (p, v) in h.spectrum(ticks.max(1)) {
            test.push(t.name.as_str());
            op.push(o);
            kind.push(k);
            percentile.push(p);
            value.push(ns(v));
        }
    }
    Columns::default()
        .text("test", test)
        .text("operation", op)
        .text("histogram", kind)
        .f64("percentile", percentile)
        .duration("value", value)
        .finish()
}

/// One row per test, operation and error class, with the redacted samples kept for it.
/// Errors not tied to an operation (setup, worker failures) have a null `operation`.
pub fn errors(run: &RunResult) -> Result<RecordBatch, ArrowError> {
    let (mut test, mut phase, mut op, mut class, mut count, mut samples) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for t in &run.tests {
        let logs = t
            .metrics
            .operations
            .iter()
            .map(|(o, m)| (Some(o.as_str()), &m.errors))
            .chain(std::iter::once((None, &t.metrics.errors)));
        for (o, log) in logs {
            for (c, n) in &log.counts {
                test.push(t.name.as_str());
                phase.push(phase_name(t.phase));
                op.push(o);
                class.push(c.as_str());
                count.push(*n);
                samples.push(log.samples.get(c).cloned().unwrap_or_default());
            }
        }
    }
    Columns::default()
        .text("test", test)
        .text("phase", phase)
        .text_opt("operation", op)
        .text("class", class)
        .u64("count", count)
        .text_lists("samples", samples)
        .finish()
}

/// One row per test and worker: how the worker ended and where it ran (cold start,
/// init time and memory on Lambda).
pub fn workers(run: &RunResult) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<_> = run
        .tests
        .iter()
        .flat_map(|t| t.workers.iter().map(move |w| (t, w)))
        .collect();
    let env = |f: fn(&lgb_core::protocol::Environment) -> Option<String>| {
        rows.iter()
            .map(|(_, w)| f(&w.environment))
            .collect::<Vec<_>>()
    };
    Columns::default()
        .text("test", rows.iter().map(|(t, _)| &t.name))
        .text("phase", rows.iter().map(|(t, _)| phase_name(t.phase)))
        .u32("worker", rows.iter().map(|(_, w)| w.index).collect())
        .text("status", rows.iter().map(|(_, w)| status_name(w.status)))
        .text_opt("error", rows.iter().map(|(_, w)| w.error.as_ref()))
        .u32("attempts", rows.iter().map(|(_, w)| w.attempts).collect())
        .u64("ops", rows.iter().map(|(_, w)| w.ops).collect())
        .time(
            "start",
            rows.iter()
                .map(|(_, w)| w.start_unix_ms.saturating_mul(1_000_000))
                .collect(),
        )
        .duration(
            "window",
            rows.iter().map(|(_, w)| ns(w.window_ns)).collect(),
        )
        .text("runtime", rows.iter().map(|(_, w)| &w.environment.runtime))
        .flag(
            "cold_start",
            rows.iter().map(|(_, w)| w.environment.cold_start).collect(),
        )
        .duration_opt(
            "init",
            rows.iter()
                .map(|(_, w)| w.environment.init_ms.map(|ms| ns_f(ms * 1e6)))
                .collect(),
        )
        .u32_opt(
            "memory_mb",
            rows.iter().map(|(_, w)| w.environment.memory_mb).collect(),
        )
        // Lambda's REPORT line of the invocation (null when the invoker has none).
        .duration_opt(
            "duration",
            rows.iter()
                .map(|(_, w)| {
                    w.environment
                        .report
                        .as_ref()
                        .map(|r| ns_f(r.duration_ms * 1e6))
                })
                .collect(),
        )
        .duration_opt(
            "billed_duration",
            rows.iter()
                .map(|(_, w)| {
                    let r = w.environment.report.as_ref()?;
                    r.billed_duration_ms.map(|ms| ns_f(ms * 1e6))
                })
                .collect(),
        )
        .u32_opt(
            "max_memory_used_mb",
            rows.iter()
                .map(|(_, w)| {
                    let r = w.environment.report.as_ref()?;
                    r.max_memory_used_mb
                })
                .collect(),
        )
        .duration_opt(
            "init_duration",
            rows.iter()
                .map(|(_, w)| {
                    let r = w.environment.report.as_ref()?;
                    r.init_duration_ms.map(|ms| ns_f(ms * 1e6))
                })
                .collect(),
        )
        .duration_opt(
            "first_op",
            rows.iter().map(|(_, w)| w.first_op_ns.map(ns)).collect(),
        )
        .u64_opt(
            "peak_rss_kb",
            rows.iter()
                .map(|(_, w)| w.environment.peak_rss_kb)
                .collect(),
        )
        .text_opt("region", env(|e| e.region.clone()))
        .text_opt("function", env(|e| e.function.clone()))
        .text_opt("function_version", env(|e| e.function_version.clone()))
        .text(
            "lgb_version",
            rows.iter().map(|(_, w)| &w.environment.lgb_version),
        )
        .u64(
            "cpus",
            rows.iter()
                .map(|(_, w)| w.environment.cpus as u64)
                .collect(),
        )
        .u64_opt(
            "threads",
            rows.iter()
                .map(|(_, w)| w.environment.threads.map(|n| n as u64))
                .collect(),
        )
        .finish()
}

/// Days since 1970-01-01 of an ISO date (`2025-07-21`); `None` for anything else (a
/// price table's `as_of` is free text when overridden).
fn iso_date_days(text: &str) -> Option<i32> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text.trim(), &format).ok()?;
    i32::try_from((date - time::macros::date!(1970 - 01 - 01)).whole_days()).ok()
}

/// One row per test and billed item of lgb-core's cost estimate
/// ([`lgb_core::results::cost::estimate`] at `prices`, the numbers `lgb report` prints): the
/// item's quantity, unit, unit price and cost, its share of the test's cost per
/// million operations, and the price table's region and date. Tests with nothing
/// billed (local workers on an unpriced database) have no rows.
pub fn cost(run: &RunResult, prices: &PriceTable) -> Result<RecordBatch, ArrowError> {
    let estimate = cost::estimate(run, prices);
    let as_of = iso_date_days(&prices.as_of);
    let mut rows = Vec::new();
    // `estimate` has one entry per test, in run order.
    for (t, c) in run.tests.iter().zip(&estimate.tests) {
        for item in &c.items {
            rows.push((t, c, item));
        }
    }
    let per_million =
        |c: &cost::TestCost, usd: f64| (c.operations > 0).then(|| usd / c.operations as f64 * 1e6);
    Columns::default()
        .text("test", rows.iter().map(|(_, c, _)| &c.test))
        .text("phase", rows.iter().map(|(t, _, _)| phase_name(t.phase)))
        .u64(
            "operations",
            rows.iter().map(|(_, c, _)| c.operations).collect(),
        )
        .text("service", rows.iter().map(|(_, _, i)| &i.service))
        .text("item", rows.iter().map(|(_, _, i)| &i.item))
        .f64(
            "quantity",
            rows.iter().map(|(_, _, i)| i.quantity).collect(),
        )
        .text("unit", rows.iter().map(|(_, _, i)| &i.unit))
        .f64(
            "unit_price_usd",
            rows.iter().map(|(_, _, i)| i.unit_price_usd).collect(),
        )
        .f64("cost_usd", rows.iter().map(|(_, _, i)| i.usd).collect())
        .f64_opt(
            "per_million_ops_usd",
            rows.iter().map(|(_, c, i)| per_million(c, i.usd)).collect(),
        )
        .text("prices_region", rows.iter().map(|_| &prices.region))
        .date_opt("prices_as_of", rows.iter().map(|_| as_of).collect())
        .finish()
}

/// The notes of lgb-core's cost estimate: prices used and what is left out.
pub fn cost_notes(run: &RunResult, prices: &PriceTable) -> Vec<String> {
    cost::estimate(run, prices).notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{DurationNanosecondType, UInt64Type};
    use lgb_core::prelude::*;

    /// A real run: memory adapter, a read/update mix, and a scripted adapter test
    /// that fails every 4th call.
    fn run_of(config: &str) -> RunResult {
        let session = Session::load(ConfigSource::Text(config), &[], None).unwrap();
        let out = std::env::temp_dir().join(format!("lgb-py-frames-{}", std::process::id()));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let connected = session.connect(None).await.unwrap();
            let recorded = connected.run(&out, &Stop::new(), &Silent).await.unwrap();
            let _ = std::fs::remove_dir_all(&recorded.dir);
            recorded.run
        })
    }

    fn memory_run() -> RunResult {
        run_of(
            r#"{"database": {"type": "memory"}, "workload": {"records": 500},
                "runner": {"workers": 2},
                "tests": [{"name": "mix", "operation": {"type": "mix", "weights": {"read": 0.8, "update": 0.2}},
                           "operations": 4000, "concurrency": 2}]}"#,
        )
    }

    fn column_types(batch: &RecordBatch) -> Vec<(String, DataType)> {
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    }

    fn total(batch: &RecordBatch, name: &str) -> u64 {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<UInt64Type>()
            .values()
            .iter()
            .sum()
    }

    #[test]
    fn summary_has_one_row_per_test_and_operation_with_durations() {
        let run = memory_run();
        let batch = summary(&run).unwrap();
        let ops: usize = run.tests.iter().map(|t| t.metrics.operations.len()).sum();
        assert_eq!(batch.num_rows(), ops);
        let types = column_types(&batch);
        let dur = DataType::Duration(TimeUnit::Nanosecond);
        assert!(types.contains(&("p99".into(), dur.clone())), "{types:?}");
        assert!(types.contains(&("service_p99".into(), dur)), "{types:?}");
        assert!(types.contains(&("throughput".into(), DataType::Float64)));
        let ok: u64 = run.tests.iter().map(|t| t.metrics.ok()).sum();
        assert_eq!(total(&batch, "ok"), ok);
        // The load phase is labelled as such, the test as a run.
        let phases = batch.column_by_name("phase").unwrap().as_string_view();
        let tests = batch.column_by_name("test").unwrap().as_string_view();
        for i in 0..batch.num_rows() {
            let want = if tests.value(i) == "load" {
                "load"
            } else {
                "run"
            };
            assert_eq!(phases.value(i), want);
        }
        let p50 = batch
            .column_by_name("p50")
            .unwrap()
            .as_primitive::<DurationNanosecondType>();
        let p99 = batch
            .column_by_name("p99")
            .unwrap()
            .as_primitive::<DurationNanosecondType>();
        assert!((0..batch.num_rows()).all(|i| p50.value(i) > 0 && p50.value(i) <= p99.value(i)));
    }

    #[test]
    fn latency_buckets_add_up_to_the_histograms() {
        let run = memory_run();
        let mix = run.tests.iter().find(|t| t.name == "mix").unwrap();
        let reads = mix.metrics.operations["read"].ok;
        let sel = Selection {
            test: Some("mix"),
            operation: Some("read"),
        };
        let batch = latencies(&run, sel).unwrap();
        let kinds = batch.column_by_name("histogram").unwrap().as_string_view();
        let counts = batch
            .column_by_name("count")
            .unwrap()
            .as_primitive::<UInt64Type>();
        let latency_rows: Vec<usize> = (0..batch.num_rows())
            .filter(|&i| kinds.value(i) == "latency")
            .collect();
        let sum: u64 = latency_rows.iter().map(|&i| counts.value(i)).sum();
        assert_eq!(sum, reads);
        let last = *latency_rows.last().unwrap();
        let cumulative = batch
            .column_by_name("cumulative_count")
            .unwrap()
            .as_primitive::<UInt64Type>();
        assert_eq!(cumulative.value(last), reads);
        let pct = batch
            .column_by_name("percentile")
            .unwrap()
            .as_primitive::<arrow_array::types::Float64Type>();
        assert!((pct.value(last) - 100.0).abs() < 1e-9);
        let low = batch
            .column_by_name("low")
            .unwrap()
            .as_primitive::<DurationNanosecondType>();
        let value = batch
            .column_by_name("value")
            .unwrap()
            .as_primitive::<DurationNanosecondType>();
        assert!(latency_rows
            .windows(2)
            .all(|w| value.value(w[0]) < low.value(w[1])));
        assert!(latency_rows.iter().all(|&i| low.value(i) <= value.value(i)));
        let ops = batch.column_by_name("operation").unwrap().as_string_view();
        assert!((0..batch.num_rows()).all(|i| ops.value(i) == "read"));
        // No selection: every operation of every test.
        let all = latencies(&run, Selection::default()).unwrap();
        assert!(all.num_rows() > batch.num_rows());
    }

    #[test]
    fn timeline_counts_every_operation_at_utc_seconds() {
        let run = memory_run();
        let batch = timeline(&run).unwrap();
        let ops: u64 = run
            .tests
            .iter()
            .map(|t| t.metrics.ok() + t.metrics.failed())
            .sum();
        assert_eq!(total(&batch, "ops"), ops);
        let time = batch
            .schema()
            .field_with_name("time")
            .unwrap()
            .data_type()
            .clone();
        assert_eq!(
            time,
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        );
    }

    #[test]
    fn errors_keep_class_counts_and_samples() {
        let run = run_of(
            r#"{"database": {"type": "scripted", "latencies": ["20us"], "fail_every": 4, "fail_class": "throttled"},
                "workload": {"load": false},
                "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": 200}]}"#,
        );
        let batch = errors(&run).unwrap();
        assert_eq!(batch.num_rows(), 1, "{batch:?}");
        assert_eq!(
            batch
                .column_by_name("class")
                .unwrap()
                .as_string_view()
                .value(0),
            "throttled"
        );
        assert_eq!(total(&batch, "count"), 50);
        let samples = batch.column_by_name("samples").unwrap().as_list::<i32>();
        assert!(!samples.value(0).is_empty());
        let w = workers(&run).unwrap();
        assert_eq!(w.num_rows(), 1);
        assert_eq!(total(&w, "ops"), 200);
    }

    #[test]
    fn cost_rows_are_the_billed_items_with_their_prices() {
        let mut run = memory_run();
        let prices = PriceTable::default();
        // Local workers on the memory database: nothing is billed.
        assert_eq!(cost(&run, &prices).unwrap().num_rows(), 0);
        // The same run as if its workers had been 2 GB Lambda functions.
        for t in &mut run.tests {
            for w in &mut t.workers {
                w.environment.memory_mb = Some(2048);
            }
        }
        let batch = cost(&run, &prices).unwrap();
        assert_eq!(batch.num_rows(), 2 * run.tests.len(), "{batch:?}");
        let text = |name: &str| {
            let col = batch.column_by_name(name).unwrap().as_string_view();
            (0..batch.num_rows())
                .map(|i| col.value(i).to_string())
                .collect::<Vec<_>>()
        };
        let float = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_primitive::<arrow_array::types::Float64Type>()
                .values()
                .to_vec()
        };
        let (tests, items) = (text("test"), text("item"));
        let (quantity, unit_price, usd) = (
            float("quantity"),
            float("unit_price_usd"),
            float("cost_usd"),
        );
        let load = run.tests.iter().find(|t| t.name == "load").unwrap();
        for i in 0..batch.num_rows() {
            assert!((usd[i] - quantity[i] * unit_price[i]).abs() <= 1e-15 * usd[i].max(1.0));
            if tests[i] != "load" {
                continue;
            }
            match items[i].as_str() {
                // The load phase has no warmup and local workers no cold start: billed
                // time is each worker's measured window, at 2 GB.
                "compute" => {
                    let seconds: f64 = load.workers.iter().map(|w| w.window_ns as f64 / 1e9).sum();
                    assert!(
                        (quantity[i] - 2.0 * seconds).abs() < 1e-9,
                        "{}",
                        quantity[i]
                    );
                    assert_eq!(unit_price[i], prices.lambda_gb_second);
                }
                "requests" => {
                    assert_eq!(quantity[i], load.workers.len() as f64);
                    assert_eq!(unit_price[i], prices.lambda_per_million_requests / 1e6);
                }
                other => panic!("unexpected item {other}"),
            }
        }
        // Each row's share per million operations adds up to the test's figure.
        let estimate = cost::estimate(&run, &prices);
        let per_million = float("per_million_ops_usd");
        for c in &estimate.tests {
            let sum: f64 = (0..batch.num_rows())
                .filter(|&i| tests[i] == c.test)
                .map(|i| per_million[i])
                .sum();
            let want = c.per_million_ops_usd.unwrap();
            assert!((sum - want).abs() <= 1e-12 * want, "{sum} vs {want}");
        }
        let dates = batch
            .column_by_name("prices_as_of")
            .unwrap()
            .as_primitive::<arrow_array::types::Date32Type>();
        assert_eq!(dates.value(0), 20290); // 2025-07-21
        assert_eq!(text("prices_region")[0], "us-east-1");
        // A free-text date in an override is kept out of the Date column, not guessed.
        let july = PriceTable::with_overrides(r#"{"as_of": "July 2025"}"#).unwrap();
        let batch = cost(&run, &july).unwrap();
        assert_eq!(
            batch.column_by_name("prices_as_of").unwrap().null_count(),
            batch.num_rows()
        );
    }

    #[test]
    fn latency_rows_carry_the_names_of_their_histograms() {
        let run = memory_run();
        let batch = latencies(&run, Selection::default()).unwrap();
        let names = |c: &str| batch.column_by_name(c).unwrap().as_string_view().clone();
        let (tests, ops, kinds) = (names("test"), names("operation"), names("histogram"));
        let mut row = 0;
        for (t, o, k, h) in selected(&run, Selection::default()) {
            for _ in h.buckets() {
                assert_eq!(
                    (tests.value(row), ops.value(row), kinds.value(row)),
                    (t.name.as_str(), o, k),
                    "row {row}"
                );
                row += 1;
            }
        }
        assert_eq!(row, batch.num_rows());
        // Names longer than a view's 12 inline bytes live in a data buffer.
        let long = "a-test-name-longer-than-twelve-bytes";
        let mut runs = TextRuns::default();
        runs.push(long, 3);
        runs.push("short", 2);
        runs.push(long, 1);
        let array = runs.finish().unwrap();
        let values: Vec<&str> = array.iter().map(|v| v.unwrap()).collect();
        assert_eq!(values, [long, long, long, "short", "short", long]);
    }

    /// What `lgb._lgb.ArrowTable.__arrow_c_stream__` hands to Python, read back by
    /// arrow-rs's own importer.
    #[test]
    fn tables_cross_the_c_stream_interface_intact() {
        use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
        use arrow_array::{RecordBatchIterator, RecordBatchReader};
        let run = memory_run();
        for batch in [
            summary(&run),
            timeline(&run),
            latencies(&run, Selection::default()),
            percentiles(&run, Selection::default(), 5),
            errors(&run),
            workers(&run),
            cost(&run, &PriceTable::default()),
        ] {
            let batch = batch.unwrap();
            let batches = RecordBatchIterator::new([Ok(batch.clone())], batch.schema());
            let stream = FFI_ArrowArrayStream::new(Box::new(batches));
            let reader = RecordBatchStreamReader::try_new(stream).unwrap();
            assert_eq!(reader.schema(), batch.schema());
            let back: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
            assert_eq!(back, vec![batch]);
        }
    }
}
