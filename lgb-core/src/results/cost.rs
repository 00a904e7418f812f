//! Estimated cost of a run: what the tests would have been billed in AWS, per test and
//! per million operations.
//!
//! Inputs are only what the results hold: each worker's environment (Lambda memory,
//! cold start and init time) and measured window, and the per-operation [`OpMeta`]
//! sums the adapters reported (DynamoDB consumed capacity, Timestream write units and
//! bytes scanned). Prices come from a [`PriceTable`]: a dated us-east-1 default that a
//! JSON file can override field by field.
//!
//! This module estimates; it never calls a billing API, and it must not guess usage the
//! results do not show (storage, data transfer, free tiers are left out and said so).
//!
//! ```
//! use lgb_core::results::cost::PriceTable;
//! let prices = PriceTable::with_overrides(r#"{"lambda_gb_second": 0.0000133334}"#).unwrap();
//! assert_eq!(prices.lambda_per_million_requests, PriceTable::default().lambda_per_million_requests);
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{RunResult, TestResult};
use crate::error::{Error, Result};
use crate::protocol::{Environment, Phase};
use crate::record::OpMeta;

/// Prices in US dollars. Every field has the default of [`PriceTable::default`], so an
/// override file names only what differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PriceTable {
    /// Region the prices are for.
    pub region: String,
    /// When the prices were taken from the providers' documentation (ISO date).
    pub as_of: String,
    /// Where they come from, shown in reports.
    pub source: String,
    /// Lambda compute, per GB-second (x86_64).
    pub lambda_gb_second: f64,
    /// Lambda compute on arm64 (Graviton), per GB-second: 20% less than x86_64.
    pub lambda_gb_second_arm64: f64,
    /// Lambda requests, per million invocations.
    pub lambda_per_million_requests: f64,
    /// DynamoDB on-demand, per million read request units.
    pub dynamodb_per_million_rru: f64,
    /// DynamoDB on-demand, per million write request units.
    pub dynamodb_per_million_wru: f64,
    /// DynamoDB provisioned, per read capacity unit-hour.
    pub dynamodb_rcu_hour: f64,
    /// DynamoDB provisioned, per write capacity unit-hour.
    pub dynamodb_wcu_hour: f64,
    /// Timestream for LiveAnalytics, per million 1 KiB writes.
    pub timestream_per_million_writes: f64,
    /// Timestream queries, per GB (10^9 bytes) scanned.
    pub timestream_per_gb_scanned: f64,
    /// Timestream's minimum billed scan per query, in bytes.
    pub timestream_min_query_bytes: u64,
    /// Instance-priced databases (Timestream for InfluxDB): USD per hour of the
    /// benchmarked instance, billed whether it is busy or not. 0 (the default):
    /// not set, since the hourly price depends on the instance class, storage type,
    /// deployment and region; the estimate then shows the instance-hours at $0 and
    /// says so.
    pub influxdb_instance_hour: f64,
    /// How many instances the benchmarked deployment bills (2 for Multi-AZ).
    pub influxdb_instances: u32,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            as_of: "2025-07-21".into(),
            source: "AWS public price lists for us-east-1: Lambda (x86_64), DynamoDB Standard \
                     table class (on-demand after the 2024-11-01 reduction; provisioned), \
                     Timestream for LiveAnalytics (writes; scan-based query pricing)"
                .into(),
            lambda_gb_second: 0.000_016_666_7,
            lambda_gb_second_arm64: 0.000_013_333_4,
            lambda_per_million_requests: 0.20,
            dynamodb_per_million_rru: 0.125,
            dynamodb_per_million_wru: 0.625,
            dynamodb_rcu_hour: 0.000_13,
            dynamodb_wcu_hour: 0.000_65,
            timestream_per_million_writes: 0.50,
            timestream_per_gb_scanned: 0.01,
            timestream_min_query_bytes: 10_000_000,
            influxdb_instance_hour: 0.0,
            influxdb_instances: 1,
        }
    }
}

impl PriceTable {
    /// The default table with the fields of `text` (a JSON object) overriding it.
    pub fn with_overrides(text: &str) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "prices".to_string()
            } else {
                format!("prices.{path}")
            };
            Error::config(path, e.inner().to_string())
        })
    }

    /// This table with Lambda compute at `architecture`'s price (`arm64` or
    /// `x86_64`), for estimates of a function whose architecture is known.
    pub fn for_architecture(&self, architecture: &str) -> Self {
        let mut t = self.clone();
        if architecture == "arm64" {
            t.lambda_gb_second = self.lambda_gb_second_arm64;
        }
        t
    }

    /// Reads an override file (see [`PriceTable::with_overrides`]).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::with_overrides(&text).map_err(|e| match e {
            Error::Config(mut problems) => {
                for p in &mut problems {
                    p.path = format!("{}: {}", path.display(), p.path);
                }
                Error::Config(problems)
            }
            other => other,
        })
    }
}

/// One billed quantity of a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostItem {
    /// `lambda`, `dynamodb` or `timestream`.
    pub service: String,
    /// What is billed: `compute`, `requests`, `read units`, `write units`, `writes`, `scanned`, …
    pub item: String,
    /// How much of it.
    pub quantity: f64,
    /// Unit of `quantity`: `GB-s`, `requests`, `RRU`, `WRU`, `RCU-h`, `WCU-h`, `KiB writes`, `GB`.
    pub unit: String,
    /// Price of one unit.
    pub unit_price_usd: f64,
    /// `quantity × unit_price_usd`.
    pub usd: f64,
}

impl CostItem {
    fn new(service: &str, item: &str, quantity: f64, unit: &str, unit_price_usd: f64) -> Self {
        let quantity = finite(quantity);
        Self {
            service: service.into(),
            item: item.into(),
            quantity,
            unit: unit.into(),
            unit_price_usd,
            usd: finite(quantity * unit_price_usd),
        }
    }
}

/// `x` as a quantity or an amount that a report can print and add: not negative, and
/// finite. Worker-reported numbers (billed duration, init time, capacity units) may be
/// anything: NaN and negatives count as 0, and infinity or an overflowing product as
/// `f64::MAX`.
fn finite(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        0.0
    } else {
        x.min(f64::MAX)
    }
}

/// The sum of `xs`, each and the total through [`finite`].
fn finite_sum(xs: impl IntoIterator<Item = f64>) -> f64 {
    xs.into_iter().fold(0.0, |sum, x| finite(sum + finite(x)))
}

/// Estimated cost of one test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCost {
    /// Test name.
    pub test: String,
    /// Operations attempted (successes and failures).
    pub operations: u64,
    /// Billed quantities.
    pub items: Vec<CostItem>,
    /// Sum of the items.
    pub total_usd: f64,
    /// `total_usd` per million operations; `None` without operations.
    pub per_million_ops_usd: Option<f64>,
}

impl TestCost {
    /// The Lambda share of the test's cost (invocations and GB-seconds), in USD.
    pub fn lambda_usd(&self) -> f64 {
        finite_sum(
            self.items
                .iter()
                .filter(|i| i.service == "lambda")
                .map(|i| i.usd),
        )
    }

    /// Everything but Lambda: what the database billed, in USD.
    pub fn database_usd(&self) -> f64 {
        finite_sum(
            self.items
                .iter()
                .filter(|i| i.service != "lambda")
                .map(|i| i.usd),
        )
    }
}

/// Estimated cost of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// The prices used.
    pub prices: PriceTable,
    /// Per test, in run order (the load phase included).
    pub tests: Vec<TestCost>,
    /// Sum over tests.
    pub total_usd: f64,
    /// What the estimate leaves out or assumes.
    pub notes: Vec<String>,
}

/// How a DynamoDB table is billed, read from the database options of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DynamoBilling {
    OnDemand,
    Provisioned { read: f64, write: f64 },
}

fn dynamodb_billing(run: &RunResult) -> DynamoBilling {
    let provisioned = run
        .config
        .database
        .options
        .get("billing")
        .and_then(|b| b.get("provisioned"));
    match provisioned {
        Some(p) => DynamoBilling::Provisioned {
            read: p
                .get("read_capacity")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0),
            write: p
                .get("write_capacity")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0),
        },
        None => DynamoBilling::OnDemand,
    }
}

/// The billed duration (ms) from the platform's invocation report, when the invoker
/// captured one. Read through JSON so that results written before reports existed, and
/// builds without the Lambda invoker, need nothing special.
fn reported_billed_ms(env: &Environment) -> Option<f64> {
    let v = serde_json::to_value(env).ok()?;
    v.get("report")?.get("billed_duration_ms")?.as_f64()
}

/// Seconds Lambda bills for one worker: the platform's billed duration when reported;
/// else its warmup and measured window, plus the init phase when the invocation was a
/// cold start (custom runtimes are billed for init).
fn billed_seconds(test: &TestResult, window_ns: u64, env: &Environment) -> f64 {
    if let Some(ms) = reported_billed_ms(env) {
        return finite(ms / 1e3);
    }
    let warmup = if test.phase == Phase::Run {
        test.test.warmup.0.as_secs_f64()
    } else {
        0.0
    };
    let init = if env.cold_start {
        finite(env.init_ms.unwrap_or(0.0) / 1e3)
    } else {
        0.0
    };
    finite_sum([window_ns as f64 / 1e9, warmup, init])
}

/// Estimates the cost of one test.
pub(crate) fn estimate_test(run: &RunResult, test: &TestResult, prices: &PriceTable) -> TestCost {
    let mut items = Vec::new();

    let mut gb_seconds = 0.0;
    let mut requests = 0u64;
    for w in &test.workers {
        if let Some(mb) = w.environment.memory_mb {
            gb_seconds = finite_sum([
                gb_seconds,
                f64::from(mb) / 1024.0 * billed_seconds(test, w.window_ns, &w.environment),
            ]);
            requests = requests.saturating_add(u64::from(w.attempts.max(1)));
        }
    }
    if requests > 0 {
        items.push(CostItem::new(
            "lambda",
            "compute",
            gb_seconds,
            "GB-s",
            prices.lambda_gb_second,
        ));
        items.push(CostItem::new(
            "lambda",
            "requests",
            requests as f64,
            "requests",
            prices.lambda_per_million_requests / 1e6,
        ));
    }

    let mut meta = OpMeta::default();
    let mut scanned = 0u64;
    let mut queries = 0u64;
    for m in test.metrics.operations.values() {
        meta.add(&m.meta);
        // Timestream reports billable bytes for writes and scanned bytes for queries in
        // the same field; an operation that wrote nothing was a query.
        if m.meta.write_units == 0.0 {
            scanned = scanned.saturating_add(m.meta.bytes);
            queries = queries.saturating_add(m.ok);
        }
    }
    match run.config.database.kind.as_str() {
        "dynamodb" => match dynamodb_billing(run) {
            DynamoBilling::OnDemand => {
                items.push(CostItem::new(
                    "dynamodb",
                    "read units",
                    meta.read_units,
                    "RRU",
                    prices.dynamodb_per_million_rru / 1e6,
                ));
                items.push(CostItem::new(
                    "dynamodb",
                    "write units",
                    meta.write_units,
                    "WRU",
                    prices.dynamodb_per_million_wru / 1e6,
                ));
            }
            DynamoBilling::Provisioned { read, write } => {
                let hours = test.window_ns as f64 / 3.6e12;
                items.push(CostItem::new(
                    "dynamodb",
                    "provisioned reads",
                    read * hours,
                    "RCU-h",
                    prices.dynamodb_rcu_hour,
                ));
                items.push(CostItem::new(
                    "dynamodb",
                    "provisioned writes",
                    write * hours,
                    "WCU-h",
                    prices.dynamodb_wcu_hour,
                ));
            }
        },
        "timestream" => {
            items.push(CostItem::new(
                "timestream",
                "writes",
                meta.write_units,
                "KiB writes",
                prices.timestream_per_million_writes / 1e6,
            ));
            if queries > 0 {
                let billed = scanned.max(queries.saturating_mul(prices.timestream_min_query_bytes));
                items.push(CostItem::new(
                    "timestream",
                    "scanned",
                    billed as f64 / 1e9,
                    "GB",
                    prices.timestream_per_gb_scanned,
                ));
            }
        }
        "influxdb" => items.extend(instance_hours(test, prices)),
        _ => {}
    }

    let operations = test.metrics.ok().saturating_add(test.metrics.failed());
    let total_usd = finite_sum(items.iter().map(|i| i.usd));
    TestCost {
        test: test.name.clone(),
        operations,
        items,
        total_usd,
        per_million_ops_usd: (operations > 0).then(|| finite(total_usd / operations as f64 * 1e6)),
    }
}

// ------------------------------------------------- instance-priced databases ---

/// The instance-hours of a test on an instance-priced database (Timestream for
/// InfluxDB): the instances billed for the test's measured window, at
/// `influxdb_instance_hour`. The instance bills around the clock; this charges each
/// test only the hours it ran, so that tests compare per million operations.
fn instance_hours(test: &TestResult, prices: &PriceTable) -> Option<CostItem> {
    let hours = finite(test.window_ns as f64 / 3.6e12 * f64::from(prices.influxdb_instances));
    (hours > 0.0).then(|| {
        CostItem::new(
            "timestream for influxdb",
            "instance-hours",
            hours,
            "instance-h",
            prices.influxdb_instance_hour,
        )
    })
}

fn instance_note(prices: &PriceTable) -> String {
    if prices.influxdb_instance_hour > 0.0 {
        format!(
            "Timestream for InfluxDB: {} instance(s) at ${}/hour for each test's measured window \
             (the instance bills every hour it runs, used or not); storage is not included.",
            prices.influxdb_instances, prices.influxdb_instance_hour
        )
    } else {
        "Timestream for InfluxDB: instance-hours of each test's window are shown at $0: set \
         `influxdb_instance_hour` (the hourly price of your instance class, storage type and \
         region) in a --prices file to price them."
            .into()
    }
}

/// Estimates the cost of every test of `run`.
pub fn estimate(run: &RunResult, prices: &PriceTable) -> CostEstimate {
    let tests: Vec<TestCost> = run
        .tests
        .iter()
        .map(|t| estimate_test(run, t, prices))
        .collect();
    let mut notes = vec![format!(
        "Estimate at {} list prices as of {}; storage, data transfer and free tiers are not included.",
        prices.region, prices.as_of
    )];
    let lambda = run
        .tests
        .iter()
        .flat_map(|t| &t.workers)
        .any(|w| w.environment.memory_mb.is_some());
    if lambda {
        notes.push(
            "Lambda: memory × billed duration per worker (from the invocation report when captured, \
             else warmup + measured window + init on cold starts); one request per invocation attempt."
                .into(),
        );
    } else {
        notes.push(
            "Workers did not run on Lambda (no memory size reported): no Lambda cost.".into(),
        );
    }
    match run.config.database.kind.as_str() {
        "dynamodb" => notes.push(match dynamodb_billing(run) {
            DynamoBilling::OnDemand => {
                "DynamoDB on-demand: request units as consumed capacity reported by each call.".into()
            }
            DynamoBilling::Provisioned { .. } => {
                "DynamoDB provisioned: configured capacity for the measured window, whatever was consumed.".into()
            }
        }),
        "timestream" => notes.push(format!(
            "Timestream: one write unit per started KiB of each call; queries at the scan-based price with \
             a {} MB minimum per query (accounts on compute-unit query pricing pay differently).",
            prices.timestream_min_query_bytes / 1_000_000
        )),
        "influxdb" => notes.push(instance_note(prices)),
        other => notes.push(format!("No database cost for `{other}` (not a priced AWS service).")),
    }
    CostEstimate {
        prices: prices.clone(),
        total_usd: finite_sum(tests.iter().map(|t| t.total_usd)),
        tests,
        notes,
    }
}

/// Money for people: `$0.0042`, `$1.23`, `$1,234`.
pub(crate) fn format_usd(usd: f64) -> String {
    if usd == 0.0 {
        "$0".into()
    } else if usd.abs() < 0.01 {
        // Three significant digits: $0.000337.
        let decimals = (-usd.abs().log10()).ceil() as usize + 2;
        format!("${usd:.decimals$}")
    } else if usd.abs() < 1000.0 {
        format!("${usd:.2}")
    } else if usd.is_nan() || usd.abs() >= 1e15 {
        // Beyond any bill (or not a number): no digit grouping of a wrapped integer.
        format!("${usd:.3e}")
    } else {
        let whole = usd.round() as i64;
        let digits = whole.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        format!("{}${out}", if whole < 0 { "-" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_name_only_what_differs_and_reject_typos() {
        let p = PriceTable::with_overrides(
            r#"{"dynamodb_per_million_wru": 1.25, "as_of": "2024-01-01"}"#,
        )
        .unwrap();
        assert_eq!(p.dynamodb_per_million_wru, 1.25);
        assert_eq!(
            p.dynamodb_per_million_rru,
            PriceTable::default().dynamodb_per_million_rru
        );
        let err = PriceTable::with_overrides(r#"{"dynamodb_wru": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dynamodb_wru"), "{err}");
    }

    /// A run whose worker and metrics report what a hostile worker or an altered
    /// results file could: huge, infinite-making and negative numbers.
    fn hostile_run(kind: &str, billed_ms: f64, init_ms: f64) -> RunResult {
        use crate::protocol::{InvocationReport, WorkerStatus};
        use crate::results::{RunStatus, WorkerSummary};
        let config: crate::config::BenchmarkConfig = serde_json::from_value(serde_json::json!({
            "database": {"type": kind, "billing": {"provisioned": {"read_capacity": -5.0, "write_capacity": 1e308}}},
            "tests": [{"name": "t", "operation": {"type": "read"}}]
        }))
        .unwrap();
        let environment = Environment {
            runtime: "lambda".into(),
            cold_start: true,
            init_ms: Some(init_ms),
            memory_mb: Some(u32::MAX),
            report: (billed_ms != 0.0).then(|| InvocationReport {
                billed_duration_ms: Some(billed_ms),
                ..InvocationReport::default()
            }),
            ..Environment::default()
        };
        let worker = WorkerSummary {
            index: 0,
            status: WorkerStatus::Completed,
            error: None,
            attempts: u32::MAX,
            ops: u64::MAX,
            start_unix_ms: 0,
            window_ns: u64::MAX,
            first_op_ns: None,
            environment,
            timeline_shift: 0,
        };
        let mut metrics = crate::metrics::TestMetrics::default();
        for op in ["read", "scan"] {
            let m = metrics.operations.entry(op.into()).or_default();
            m.ok = u64::MAX;
            m.failed = u64::MAX;
            m.meta.read_units = f64::MAX;
            m.meta.bytes = u64::MAX;
        }
        let test = TestResult {
            name: "t".into(),
            phase: Phase::Run,
            test: config.tests[0].clone(),
            start_unix_ms: 0,
            window_ns: u64::MAX,
            workers: vec![worker.clone(), worker],
            metrics,
            files: Default::default(),
        };
        RunResult {
            schema_version: crate::results::SCHEMA_VERSION,
            run_id: "r".into(),
            name: "n".into(),
            created_at: "2025-01-01T00:00:00Z".into(),
            status: RunStatus::Completed,
            target: crate::config::Target::Lambda,
            lgb_version: "0".into(),
            tests: vec![test.clone(), test],
            config,
            incomplete: None,
        }
    }

    #[test]
    fn instance_priced_databases_bill_instance_hours_of_each_test() {
        let mut run = hostile_run("influxdb", 0.0, 0.0);
        for t in &mut run.tests {
            t.window_ns = 90 * 60 * 1_000_000_000; // 1.5 h
        }
        let unset = estimate(&run, &PriceTable::default());
        let item = unset.tests[0]
            .items
            .iter()
            .find(|i| i.service == "timestream for influxdb")
            .unwrap();
        assert_eq!((item.quantity, item.usd), (1.5, 0.0));
        assert!(
            unset
                .notes
                .iter()
                .any(|n| n.contains("influxdb_instance_hour")),
            "{:?}",
            unset.notes
        );
        let prices = PriceTable::with_overrides(
            r#"{"influxdb_instance_hour": 0.5, "influxdb_instances": 2}"#,
        )
        .unwrap();
        let priced = estimate(&run, &prices);
        let item = priced.tests[0]
            .items
            .iter()
            .find(|i| i.item == "instance-hours")
            .unwrap();
        assert_eq!((item.quantity, item.usd), (3.0, 1.5));
        assert!(priced
            .notes
            .iter()
            .any(|n| n.contains("2 instance(s) at $0.5/hour")));
        // Hostile windows stay finite.
        let est = estimate(&hostile_run("influxdb", 0.0, 0.0), &prices);
        assert!(est.total_usd.is_finite());
    }

    #[test]
    fn worker_reported_numbers_give_finite_costs() {
        for kind in ["dynamodb", "timestream"] {
            for (billed, init) in [(0.0, f64::MAX), (f64::MAX, 0.0), (-1e300, -1e300)] {
                let run = hostile_run(kind, billed, init);
                let est = estimate(&run, &PriceTable::default());
                let mut provisioned = run.clone();
                provisioned.config.database.options.remove("billing");
                let on_demand = estimate(&provisioned, &PriceTable::default());
                for e in [&est, &on_demand] {
                    assert!(e.total_usd.is_finite() && e.total_usd >= 0.0, "{e:?}");
                    for t in &e.tests {
                        assert_eq!(t.operations, u64::MAX);
                        for x in [t.total_usd, t.lambda_usd(), t.database_usd()]
                            .into_iter()
                            .chain(t.per_million_ops_usd)
                            .chain(t.items.iter().flat_map(|i| [i.quantity, i.usd]))
                        {
                            assert!(x.is_finite() && x >= 0.0, "{x} in {t:?}");
                        }
                        let _ = format_usd(t.total_usd);
                    }
                }
                // Lambda requests: attempts summed without overflow, as a count.
                let requests = est.tests[0]
                    .items
                    .iter()
                    .find(|i| i.item == "requests")
                    .unwrap();
                assert_eq!(requests.quantity, 2.0 * f64::from(u32::MAX));
            }
        }
        // A negative capacity or a negative billed time is no refund.
        let run = hostile_run("dynamodb", -1e300, -1e300);
        let est = estimate(&run, &PriceTable::default());
        let reads = est.tests[0]
            .items
            .iter()
            .find(|i| i.unit == "RCU-h")
            .unwrap();
        assert_eq!(reads.usd, 0.0);
        let compute = est.tests[0]
            .items
            .iter()
            .find(|i| i.item == "compute")
            .unwrap();
        assert_eq!(compute.quantity, 0.0);
    }

    #[test]
    fn money_is_readable() {
        assert_eq!(format_usd(0.0), "$0");
        assert_eq!(format_usd(0.004_2), "$0.00420");
        assert_eq!(format_usd(0.000_337_4), "$0.000337");
        assert_eq!(format_usd(1.234), "$1.23");
        assert_eq!(format_usd(1_234_567.0), "$1,234,567");
        assert_eq!(format_usd(-1_234.0), "-$1,234");
        // Beyond any bill, and values no estimate gives: no wrapped integer, no panic.
        assert_eq!(format_usd(f64::MAX), "$1.798e308");
        assert_eq!(format_usd(f64::NEG_INFINITY), "$-inf");
        assert_eq!(format_usd(f64::NAN), "$NaN");
    }
}
