//! Estimated cost of a run: what the tests would have been billed in AWS, per test and
//! per million operations.
//!
//! Inputs are only what the results hold: each worker's environment (Lambda memory,
//! cold start and init time) and measured window, and the per-operation [`OpMeta`]
//! sums the adapters reported (DynamoDB consumed capacity, Timestream write units and
//! bytes scanned), and for databases billed by the hour (a Timestream for InfluxDB
//! instance, the immudb task `infra/` runs on ECS Fargate) each test's window. Prices
//! come from a [`PriceTable`]: a dated us-east-1 default that a JSON file can override
//! field by field. The preflight's plan prices what a run will do with the same
//! functions (`dynamodb_items`, `timestream_items`, `hosting`).
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
use crate::config::DatabaseConfig;
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
    /// not set. The hourly price depends on the instance class, storage type,
    /// deployment and region, and this table has no checked figure for `infra/`'s
    /// default (db.influx.medium, Single-AZ, us-east-1), so lgb does not guess one:
    /// estimates show the instance-hours at $0 and say so until a `--prices` file
    /// sets it.
    pub influxdb_instance_hour: f64,
    /// How many instances the benchmarked deployment bills (2 for Multi-AZ).
    pub influxdb_instances: u32,
    /// AWS Fargate (Linux, x86_64), per vCPU-hour: the immudb task `infra/` deploys.
    pub fargate_vcpu_hour: f64,
    /// AWS Fargate (Linux, x86_64), per GB-hour of memory.
    pub fargate_gb_hour: f64,
    /// AWS Fargate on arm64 (Graviton), per vCPU-hour.
    pub fargate_vcpu_hour_arm64: f64,
    /// AWS Fargate on arm64 (Graviton), per GB-hour of memory.
    pub fargate_gb_hour_arm64: f64,
    /// vCPUs of the immudb task (`infra/`'s `immudb_cpu` / 1024; default 1024).
    pub immudb_vcpu: f64,
    /// Memory of the immudb task in GB (`infra/`'s `immudb_memory_mb` / 1024; default
    /// 2048).
    pub immudb_memory_gb: f64,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            as_of: "2025-07-21".into(),
            source: "AWS public price lists for us-east-1: Lambda (x86_64), DynamoDB Standard \
                     table class (on-demand after the 2024-11-01 reduction; provisioned), \
                     Timestream for LiveAnalytics (writes; scan-based query pricing), \
                     AWS Fargate Linux on-demand (x86_64 and arm64, per vCPU-hour and GB-hour)"
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
            fargate_vcpu_hour: 0.040_48,
            fargate_gb_hour: 0.004_445,
            fargate_vcpu_hour_arm64: 0.032_38,
            fargate_gb_hour_arm64: 0.003_56,
            immudb_vcpu: 1.0,
            immudb_memory_gb: 2.0,
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

    /// This table with Lambda compute (and Fargate, which `infra/` runs at the
    /// workers' architecture) at `architecture`'s price (`arm64` or `x86_64`), for
    /// estimates of a function whose architecture is known.
    pub fn for_architecture(&self, architecture: &str) -> Self {
        let mut t = self.clone();
        if architecture == "arm64" {
            t.lambda_gb_second = self.lambda_gb_second_arm64;
            t.fargate_vcpu_hour = self.fargate_vcpu_hour_arm64;
            t.fargate_gb_hour = self.fargate_gb_hour_arm64;
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

/// How a DynamoDB table is billed, read from a config's database options
/// (`billing.provisioned`; anything else is on-demand).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DynamoBilling {
    /// Per request unit consumed.
    OnDemand,
    /// Per capacity unit-hour configured, whatever is consumed.
    Provisioned {
        /// Read capacity units.
        read: f64,
        /// Write capacity units.
        write: f64,
    },
}

pub(crate) fn dynamodb_billing(database: &DatabaseConfig) -> DynamoBilling {
    let provisioned = database
        .options
        .get("billing")
        .and_then(|b| b.get("provisioned"));
    let units = |p: &serde_json::Value, name: &str| p.get(name).and_then(|v| v.as_f64());
    match provisioned {
        Some(p) => DynamoBilling::Provisioned {
            read: units(p, "read_capacity").unwrap_or(0.0),
            write: units(p, "write_capacity").unwrap_or(0.0),
        },
        None => DynamoBilling::OnDemand,
    }
}

/// What DynamoDB bills: on-demand, `read_units` and `write_units` request units;
/// provisioned, the configured capacity for `hours`.
pub(crate) fn dynamodb_items(
    billing: DynamoBilling,
    read_units: f64,
    write_units: f64,
    hours: f64,
    prices: &PriceTable,
) -> Vec<CostItem> {
    match billing {
        DynamoBilling::OnDemand => vec![
            CostItem::new(
                "dynamodb",
                "read units",
                read_units,
                "RRU",
                prices.dynamodb_per_million_rru / 1e6,
            ),
            CostItem::new(
                "dynamodb",
                "write units",
                write_units,
                "WRU",
                prices.dynamodb_per_million_wru / 1e6,
            ),
        ],
        DynamoBilling::Provisioned { read, write } => vec![
            CostItem::new(
                "dynamodb",
                "provisioned reads",
                read * hours,
                "RCU-h",
                prices.dynamodb_rcu_hour,
            ),
            CostItem::new(
                "dynamodb",
                "provisioned writes",
                write * hours,
                "WCU-h",
                prices.dynamodb_wcu_hour,
            ),
        ],
    }
}

/// What Timestream for LiveAnalytics bills for `write_units` 1 KiB writes and
/// `queries` queries that scanned `scanned` bytes in all: at least the minimum scan
/// per query.
pub(crate) fn timestream_items(
    write_units: f64,
    queries: u64,
    scanned: u64,
    prices: &PriceTable,
) -> Vec<CostItem> {
    let mut items = vec![CostItem::new(
        "timestream",
        "writes",
        write_units,
        "KiB writes",
        prices.timestream_per_million_writes / 1e6,
    )];
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
    items
}

// ------------------------------------------------- instance-priced databases ---

/// A database billed by the hour while it runs, busy or not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hourly {
    /// `CostItem::service` of its hours.
    pub service: &'static str,
    /// `CostItem::item`.
    pub item: &'static str,
    /// `CostItem::unit`.
    pub unit: &'static str,
    /// USD per hour of one instance (or task).
    pub usd_per_hour: f64,
    /// Instances billed at once.
    pub instances: f64,
    /// What it is, for notes: `Timestream for InfluxDB`.
    pub label: &'static str,
    /// What is billed at which prices, for notes: `1 instance(s) at $0.5/hour`.
    pub details: String,
    /// What its estimate leaves out, for notes: `storage is not included`.
    pub leaves_out: &'static str,
    /// The price is not set (0): how to set it, for notes.
    pub unset: Option<&'static str>,
}

impl Hourly {
    /// The instance-hours of `hours` of wall time.
    pub fn item(&self, hours: f64) -> CostItem {
        CostItem::new(
            self.service,
            self.item,
            finite(hours) * self.instances,
            self.unit,
            self.usd_per_hour,
        )
    }

    /// The note of an estimate that charges it for `span` (`each test's measured
    /// window`, `the run's expected 0.42 h`).
    pub fn note(&self, span: &str) -> String {
        match self.unset {
            Some(how) => format!(
                "{}: the instance-hours of {span} are shown at $0: {how}.",
                self.label
            ),
            None => format!(
                "{}: {} for {span} (billed every hour it runs, used or not); {}.",
                self.label, self.details, self.leaves_out
            ),
        }
    }
}

/// How a database that runs on servers is billed: by the hour, on an instance lgb
/// knows the price of, or not at all (a server someone runs themselves).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Hosting {
    /// Instance-hours (Timestream for InfluxDB) or task-hours (immudb on Fargate).
    Hourly(Hourly),
    /// A server lgb cannot price; the note says which.
    SelfHosted(String),
}

/// The host of `url` (`https://host:8086/x` → `host`, `host:3322` → `host`).
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// The region of a Timestream for InfluxDB endpoint's host:
/// `<id>.timestream-influxdb.<region>.on.aws`, or before December 2024
/// `<name>-<n>.<region>.timestream-influxdb.amazonaws.com`; `None` for any other host.
pub(crate) fn influxdb_region(endpoint: &str) -> Option<String> {
    let host = url_host(endpoint).to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels.iter().position(|l| *l == "timestream-influxdb")?;
    let regionish = |i: usize| {
        labels
            .get(i)
            .filter(|l| l.contains('-') && l.chars().any(|c| c.is_ascii_digit()))
    };
    regionish(at + 1)
        .or_else(|| at.checked_sub(1).and_then(regionish))
        .map(|r| r.to_string())
}

/// The private DNS namespace `infra/` gives the immudb server it runs on Fargate
/// (`immudb.<prefix>.lgb.internal`).
const LGB_INTERNAL: &str = ".lgb.internal";

/// How `database` is hosted, for the kinds that run on servers (`influxdb`,
/// `immudb`); `None` for the others. A Timestream for InfluxDB endpoint is billed
/// per instance-hour; an immudb server under `infra/`'s private namespace is its
/// Fargate task, billed per vCPU-hour and GB-hour; any other server is not priced.
pub(crate) fn hosting(database: &DatabaseConfig, prices: &PriceTable) -> Option<Hosting> {
    let option = |name: &str| {
        database
            .options
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    match database.kind.as_str() {
        "influxdb" => Some(match influxdb_region(option("endpoint")) {
            Some(_) => Hosting::Hourly(Hourly {
                service: "timestream for influxdb",
                item: "instance-hours",
                unit: "instance-h",
                usd_per_hour: prices.influxdb_instance_hour,
                instances: f64::from(prices.influxdb_instances),
                label: "Timestream for InfluxDB",
                details: format!(
                    "{} instance(s) at ${}/hour",
                    prices.influxdb_instances, prices.influxdb_instance_hour
                ),
                leaves_out: "storage is not included",
                unset: (prices.influxdb_instance_hour <= 0.0).then_some(
                    "the price table has no default for `influxdb_instance_hour` (it depends on \
                     the instance class, storage, deployment and region; infra/ deploys \
                     db.influx.medium, Single-AZ, 20 GiB of InfluxIOIncludedT1): set it, and \
                     `influxdb_instances` for Multi-AZ, from AWS's Timestream pricing page in a \
                     --prices file",
                ),
            }),
            None => Hosting::SelfHosted(
                "InfluxDB: the endpoint is not a Timestream for InfluxDB instance \
                 (*.timestream-influxdb.<region>.on.aws): a server you run yourself is not priced."
                    .into(),
            ),
        }),
        "immudb" => Some(
            if url_host(option("address"))
                .to_ascii_lowercase()
                .ends_with(LGB_INTERNAL)
            {
                Hosting::Hourly(Hourly {
                    service: "fargate",
                    item: "immudb task-hours",
                    unit: "task-h",
                    usd_per_hour: finite(
                        prices.immudb_vcpu * prices.fargate_vcpu_hour
                            + prices.immudb_memory_gb * prices.fargate_gb_hour,
                    ),
                    instances: 1.0,
                    label: "immudb on infra/'s ECS Fargate task",
                    details: format!(
                        "{} vCPU at ${}/vCPU-hour and {} GB at ${}/GB-hour",
                        prices.immudb_vcpu,
                        prices.fargate_vcpu_hour,
                        prices.immudb_memory_gb,
                        prices.fargate_gb_hour
                    ),
                    leaves_out: "the NAT gateway infra/ adds for it is not included",
                    unset: None,
                })
            } else {
                Hosting::SelfHosted(
                    "immudb: the server is not the Fargate task infra/ runs (*.lgb.internal): a \
                     server you run yourself is not priced."
                        .into(),
                )
            },
        ),
        _ => None,
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
    let database = &run.config.database;
    let window_hours = test.window_ns as f64 / 3.6e12;
    match database.kind.as_str() {
        "dynamodb" => items.extend(dynamodb_items(
            dynamodb_billing(database),
            meta.read_units,
            meta.write_units,
            window_hours,
            prices,
        )),
        "timestream" => items.extend(timestream_items(meta.write_units, queries, scanned, prices)),
        _ => {
            if let Some(Hosting::Hourly(h)) = hosting(database, prices) {
                let item = h.item(window_hours);
                if item.quantity > 0.0 {
                    items.push(item);
                }
            }
        }
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
    let database = &run.config.database;
    match database.kind.as_str() {
        "dynamodb" => notes.push(match dynamodb_billing(database) {
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
        other => notes.push(match hosting(database, prices) {
            Some(Hosting::Hourly(h)) => h.note("each test's measured window"),
            Some(Hosting::SelfHosted(note)) => note,
            None => format!("No database cost for `{other}` (not a priced AWS service)."),
        }),
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

    /// `hostile_run` of `kind` with the database option `name` set to `value`.
    fn run_at(kind: &str, name: &str, value: &str) -> RunResult {
        let mut run = hostile_run(kind, 0.0, 0.0);
        run.config
            .database
            .options
            .insert(name.into(), serde_json::Value::String(value.into()));
        run
    }

    const TIMESTREAM_INFLUXDB: &str =
        "https://c5vasdqn0b-3ksj4dla5nfjhi.timestream-influxdb.us-east-1.on.aws:8086";

    #[test]
    fn instance_priced_databases_bill_instance_hours_of_each_test() {
        let mut run = run_at("influxdb", "endpoint", TIMESTREAM_INFLUXDB);
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
            unset.notes.iter().any(|n| n.contains("shown at $0")
                && n.contains("`influxdb_instance_hour`")
                && n.contains("db.influx.medium")),
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
        let est = estimate(
            &run_at("influxdb", "endpoint", TIMESTREAM_INFLUXDB),
            &prices,
        );
        assert!(est.tests[0]
            .items
            .iter()
            .any(|i| i.item == "instance-hours"));
        assert!(est.total_usd.is_finite());
    }

    #[test]
    fn immudb_on_infras_fargate_task_bills_task_hours() {
        let mut run = run_at("immudb", "address", "immudb.lgb.lgb.internal:3322");
        for t in &mut run.tests {
            t.window_ns = 90 * 60 * 1_000_000_000; // 1.5 h
        }
        let est = estimate(&run, &PriceTable::default());
        let item = est.tests[0]
            .items
            .iter()
            .find(|i| i.service == "fargate")
            .unwrap();
        // 1 vCPU at $0.04048 and 2 GB at $0.004445 an hour, for 1.5 h.
        assert_eq!(item.quantity, 1.5);
        assert!((item.usd - 1.5 * (0.040_48 + 2.0 * 0.004_445)).abs() < 1e-12);
        assert!(
            est.notes
                .iter()
                .any(|n| n.contains("immudb on infra/'s ECS Fargate task")
                    && n.contains("NAT gateway")),
            "{:?}",
            est.notes
        );
        // arm64 (infra/ runs the task at the workers' architecture): $0.03238 and $0.00356.
        let arm = estimate(&run, &PriceTable::default().for_architecture("arm64"));
        let item = arm.tests[0]
            .items
            .iter()
            .find(|i| i.service == "fargate")
            .unwrap();
        assert!((item.usd - 1.5 * (0.032_38 + 2.0 * 0.003_56)).abs() < 1e-12);
        // Hostile windows stay finite.
        let est = estimate(
            &run_at("immudb", "address", "immudb.x.lgb.internal:3322"),
            &PriceTable::default(),
        );
        assert!(est.total_usd.is_finite() && est.total_usd > 0.0);
    }

    #[test]
    fn servers_run_elsewhere_are_not_priced_and_say_so() {
        for (kind, name, value, says) in [
            (
                "influxdb",
                "endpoint",
                "http://127.0.0.1:8086",
                "InfluxDB: the endpoint is not",
            ),
            (
                "influxdb",
                "endpoint",
                "https://influx.example.com",
                "not priced",
            ),
            (
                "immudb",
                "address",
                "127.0.0.1:3322",
                "immudb: the server is not",
            ),
            ("memory", "x", "y", "No database cost for `memory`"),
        ] {
            let est = estimate(&run_at(kind, name, value), &PriceTable::default());
            assert!(
                est.tests
                    .iter()
                    .all(|t| t.database_usd() == 0.0
                        && t.items.iter().all(|i| i.service == "lambda")),
                "{kind} {value}: {:?}",
                est.tests
            );
            assert!(
                est.notes.iter().any(|n| n.contains(says)),
                "{:?}",
                est.notes
            );
        }
    }

    #[test]
    fn timestream_for_influxdb_endpoints_name_their_region() {
        assert_eq!(
            influxdb_region(TIMESTREAM_INFLUXDB).as_deref(),
            Some("us-east-1")
        );
        // Instances created before December 2024.
        assert_eq!(
            influxdb_region(
                "https://influxdb1-123456789.eu-west-1.timestream-influxdb.amazonaws.com:8086/"
            )
            .as_deref(),
            Some("eu-west-1")
        );
        for other in [
            "http://127.0.0.1:8086",
            "",
            "timestream-influxdb",
            "https://[::1]:8086",
        ] {
            assert_eq!(influxdb_region(other), None, "{other}");
        }
    }

    #[test]
    fn billed_quantities_price_as_the_table_says() {
        let p = PriceTable::default();
        // Provisioned: 100 RCU and 50 WCU for 2 hours.
        let items = dynamodb_items(
            DynamoBilling::Provisioned {
                read: 100.0,
                write: 50.0,
            },
            1e9,
            1e9,
            2.0,
            &p,
        );
        let total: f64 = items.iter().map(|i| i.usd).sum();
        assert!((total - (200.0 * 0.000_13 + 100.0 * 0.000_65)).abs() < 1e-12);
        // On-demand: 1,000,000 RRU and 1,000,000 WRU, whatever the hours.
        let items = dynamodb_items(DynamoBilling::OnDemand, 1e6, 1e6, 5.0, &p);
        let total: f64 = items.iter().map(|i| i.usd).sum();
        assert!((total - (0.125 + 0.625)).abs() < 1e-12);
        // Timestream: 2,000 writes; 3 queries that scanned 1 MB in all are billed
        // 10 MB each, 0.03 GB at $0.01.
        let items = timestream_items(2000.0, 3, 1_000_000, &p);
        assert!((items[0].usd - 2000.0 * 0.5 / 1e6).abs() < 1e-15);
        assert!((items[1].quantity - 0.03).abs() < 1e-15);
        assert!((items[1].usd - 0.03 * 0.01).abs() < 1e-15);
        // A query that scanned more than the minimum is billed what it scanned.
        let items = timestream_items(0.0, 1, 50_000_000, &p);
        assert!((items[1].quantity - 0.05).abs() < 1e-15);
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
