//! Before anything is paid: what a run or a sweep will do and cost, checked against
//! what the deployed function and its account allow.
//!
//! [`preflight`] reads the function's configuration and its account's concurrency
//! through [`DeployedFunction`] (GetFunctionConfiguration, GetFunctionConcurrency,
//! GetAccountSettings: free calls) and refuses, as a config error naming the number to
//! change, a run whose workers in flight exceed the concurrency the function can get,
//! a test whose duration plus warmup and overhead exceeds the function's timeout, a
//! sweep over a qualifier that runs other code than `$LATEST`, and forced cold starts
//! on an environment the caller cannot read (a KMS key). It also makes the plan that
//! `lgb validate`, `lgb run` and `lgb sweep` print: records and bytes to load,
//! operations or duration per test, workers and waves, and the estimated Lambda and
//! database cost at the function's architecture; [`Preflight::guard`] asks for a
//! confirmation above a threshold. The database's share is priced with the report's
//! cost model (`results::cost`): per request (DynamoDB on-demand, Timestream for
//! LiveAnalytics) from the operations the config fixes, per hour (DynamoDB
//! provisioned, a Timestream for InfluxDB instance, `infra/`'s immudb task on Fargate)
//! over the run's expected wall time; every assumption is a note of the plan, and so
//! is a server that is not priced. The memory cap of an account is not readable by any
//! API: Lambda refuses a size above it when the sweep sets it, before anything runs.
//!
//! This module decides and renders; it does not run anything.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::config::{BenchmarkConfig, ColdStart, OperationConfig, Target};
use crate::error::{ConfigProblem, Error, Result};
use crate::results::cost::{
    dynamodb_billing, dynamodb_items, format_usd, hosting, influxdb_region, timestream_items,
    CostItem, DynamoBilling, Hosting, PriceTable,
};
use crate::runner::deployed::{AccountFacts, DeployedFunction, FunctionFacts};
use crate::runner::Runner;

/// What a worker's invocation takes beyond its test's warmup and duration: the cold
/// start, the adapter's connection, and the time the worker keeps to send its result
/// (up to 3 s before the deadline).
pub const INVOCATION_OVERHEAD_S: f64 = 5.0;

/// The estimate above which a run or sweep asks for a confirmation (`--yes`) unless
/// told otherwise (`--confirm-above`).
pub const DEFAULT_CONFIRM_ABOVE_USD: f64 = 1.0;

/// How the preflight prices and guards.
#[derive(Debug, Clone, PartialEq)]
pub struct PreflightOptions {
    /// Prices (`--prices FILE` overrides the default table field by field).
    pub prices: PriceTable,
    /// Estimates above this ask for `yes`.
    pub confirm_above_usd: f64,
    /// The user confirmed the cost (`--yes`).
    pub yes: bool,
}

impl Default for PreflightOptions {
    fn default() -> Self {
        Self {
            prices: PriceTable::default(),
            confirm_above_usd: DEFAULT_CONFIRM_ABOVE_USD,
            yes: false,
        }
    }
}

/// What a sweep adds to the plan: its sizes and whether they may run side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepShape {
    /// Memory sizes (MB).
    pub memory_mb: Vec<u32>,
    /// Sizes run one after another even when concurrency would allow more.
    pub sequential: bool,
    /// The sweep publishes versions and measures through aliases (the config's
    /// qualifier must run `$LATEST`'s code).
    pub through_aliases: bool,
    /// The load phase runs at every size (the database lives in the worker).
    pub load_per_size: bool,
    /// Only cold starts: every wave of every test at a size starts in new sandboxes.
    pub only_cold_starts: bool,
    /// Versions published per size through aliases
    /// ([`crate::sweep::versions_per_size`]): one, or one per wave of cold starts.
    pub versions_per_size: u32,
}

/// One test (or the load phase) in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestPlan {
    /// Test name (`load` for the load phase).
    pub name: String,
    /// Workers.
    pub workers: u32,
    /// Invocations open at once (`runner.max_in_flight` bounds it).
    pub in_flight: u32,
    /// Waves the workers run in.
    pub waves: u32,
    /// Operations over all workers, when the config says.
    pub operations: Option<u64>,
    /// Warmup plus duration of each worker, when the test has a duration.
    pub seconds: Option<f64>,
    /// Estimated Lambda cost (compute and requests), in USD, over every size of a
    /// sweep; with `lambda_upper_bound`, computed at the function's timeout.
    pub lambda_usd: f64,
    /// The Lambda cost is an upper bound (a test of N operations lasts as long as it
    /// takes; at most the timeout).
    pub lambda_upper_bound: bool,
    /// Estimated database cost over every size of a sweep: per request when the
    /// operations are known, per hour when the test's wall time is; `None` when
    /// what it depends on is not known before the run.
    pub database_usd: Option<f64>,
    /// The database cost is an upper bound (hours at the function's timeout).
    pub database_upper_bound: bool,
}

/// The plan of a run or sweep, and the deployment it was checked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preflight {
    /// Where workers run.
    pub target: Target,
    /// The function's facts (remote targets with `runner.function`).
    pub function: Option<FunctionFacts>,
    /// The account's concurrency.
    pub account: Option<AccountFacts>,
    /// Invocations the function can have open at once (its reservation, or what the
    /// account leaves unreserved).
    pub available_concurrency: Option<u32>,
    /// Records to load (0 without a load phase).
    pub load_records: u64,
    /// About how many bytes they are.
    pub load_bytes: u64,
    /// Per test, the load phase first.
    pub tests: Vec<TestPlan>,
    /// A sweep's sizes (empty for a run).
    pub sweep_memory_mb: Vec<u32>,
    /// Sizes a sweep runs at once.
    pub sizes_at_once: u32,
    /// Versions a sweep through aliases publishes (and deletes afterwards).
    #[serde(default)]
    pub sweep_versions: u32,
    /// A sweep measures cold starts only.
    #[serde(default)]
    pub sweep_only_cold_starts: bool,
    /// Lambda's estimated cost (some parts may be upper bounds).
    pub lambda_usd: f64,
    /// The database's estimated cost, over what is known.
    pub database_usd: f64,
    /// `lambda_usd + database_usd`.
    pub total_usd: f64,
    /// The prices used.
    pub prices: PriceTable,
    /// The architecture priced.
    pub architecture: String,
    /// What the estimate leaves out.
    pub notes: Vec<String>,
    /// The confirmation threshold.
    pub confirm_above_usd: f64,
}

/// About how many bytes one record of the workload is: fields, field names, key.
pub fn record_bytes(config: &BenchmarkConfig) -> u64 {
    let w = &config.workload;
    let key_bytes = (w.key_prefix.len() + crate::workload::keys::KEY_DIGITS) as u64;
    let name_bytes = (0..w.fields)
        .map(|f| format!("field{f}").len() as u64)
        .sum::<u64>();
    (w.fields as u64)
        .saturating_mul(w.field_size.0)
        .saturating_add(name_bytes)
        .saturating_add(key_bytes)
}

/// Read and write request units one operation of `op` consumes in DynamoDB on
/// records of `bytes` (reads strongly consistent, the upper bound), `None` for an
/// operation whose units depend on data (queries, scans).
fn dynamodb_units(op: &OperationConfig, bytes: u64) -> Option<(f64, f64)> {
    let read = bytes.div_ceil(4096).max(1) as f64;
    let write = bytes.div_ceil(1024).max(1) as f64;
    let size = op
        .options
        .get("size")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(1) as f64;
    match op.kind.as_str() {
        "read" => Some((read, 0.0)),
        "batch_read" => Some((read * size, 0.0)),
        "write" | "insert" | "update" | "load" => Some((0.0, write)),
        "batch_write" => Some((0.0, write * size)),
        "read_modify_write" | "rmw" => Some((read, write)),
        "mix" => mix_usage(op, |kind| dynamodb_units(kind, bytes)),
        _ => None,
    }
}

/// A `mix` operation's usage per operation: each kind's `usage` weighted by its share
/// of the mix's `weights`; `None` when the weights are missing or a kind is unknown.
fn mix_usage(
    op: &OperationConfig,
    usage: impl Fn(&OperationConfig) -> Option<(f64, f64)>,
) -> Option<(f64, f64)> {
    let weights = op.options.get("weights")?.as_object()?;
    let total: f64 = weights.values().filter_map(|w| w.as_f64()).sum();
    if total <= 0.0 {
        return None;
    }
    let (mut a, mut b) = (0.0, 0.0);
    for (kind, weight) in weights {
        let (x, y) = usage(&OperationConfig::new(kind.clone()))?;
        let share = weight.as_f64().unwrap_or(0.0) / total;
        a += x * share;
        b += y * share;
    }
    Some((a, b))
}

/// Billable bytes of one record of the workload in Timestream: its fields, names and
/// key (as [`record_bytes`]), the key's dimension name and 8 bytes of time.
fn timestream_record_bytes(config: &BenchmarkConfig) -> u64 {
    let dimension = config
        .database
        .options
        .get("key_dimension")
        .and_then(|d| d.as_str())
        .unwrap_or("series");
    record_bytes(config)
        .saturating_add(dimension.len() as u64)
        .saturating_add(8)
}

/// Records Timestream takes in one `WriteRecords` call.
const TIMESTREAM_RECORDS_PER_CALL: u64 = 100;

/// Timestream write units (one per started KiB of each call) and queries one
/// operation of `op` makes on records of `bytes`, `load_batch` records a load call;
/// `None` for operations whose records or calls depend on data.
fn timestream_usage(op: &OperationConfig, bytes: u64, load_batch: u64) -> Option<(f64, f64)> {
    let units = |records: u64| records.saturating_mul(bytes).div_ceil(1024) as f64;
    // `records` written in calls of at most 100.
    let calls = |records: u64| {
        let full = records / TIMESTREAM_RECORDS_PER_CALL;
        let rest = records % TIMESTREAM_RECORDS_PER_CALL;
        full as f64 * units(TIMESTREAM_RECORDS_PER_CALL) + if rest > 0 { units(rest) } else { 0.0 }
    };
    let option = |name: &str| {
        op.options
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1)
            .max(1)
    };
    match op.kind.as_str() {
        "write" | "insert" | "update" => Some((units(1), 0.0)),
        "load" => {
            let per_call = load_batch.clamp(1, TIMESTREAM_RECORDS_PER_CALL);
            Some((units(per_call) / per_call as f64, 0.0))
        }
        "batch_write" => Some((calls(option("size")), 0.0)),
        "read" | "scan" | "query" => Some((0.0, 1.0)),
        "parallel_read" => Some((0.0, option("fanout") as f64)),
        "read_modify_write" => Some((units(1), 1.0)),
        "mix" => mix_usage(op, |kind| timestream_usage(kind, bytes, load_batch)),
        _ => None,
    }
}

/// The databases billed per request, whose cost the plan takes from the operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PerRequest {
    DynamoDb,
    Timestream,
}

/// A wall time for people: `25 min`, `1.5 h`.
fn wall(hours: f64) -> String {
    if hours < 1.0 {
        format!("{:.0} min", (hours * 60.0).max(1.0))
    } else {
        format!("{hours:.1} h")
    }
}

fn usd(items: &[CostItem]) -> f64 {
    items.iter().map(|i| i.usd).sum()
}

/// Checks `config` (and a sweep's `shape`) against the deployment `deployed` reaches
/// and makes the plan. Refusals are one config error with every problem, each naming
/// the number to change.
pub async fn preflight(
    config: &BenchmarkConfig,
    deployed: Option<&dyn DeployedFunction>,
    shape: Option<&SweepShape>,
    options: &PreflightOptions,
) -> Result<Preflight> {
    let qualifier = match config.runner.target {
        Target::Lambda => config
            .runner
            .options
            .get("qualifier")
            .map(|q| q.as_str().map_or(q.to_string(), str::to_string)),
        _ => None,
    };
    let (function, account) = match deployed {
        Some(d) => (
            Some(d.facts(qualifier.as_deref()).await?),
            Some(d.account().await?),
        ),
        None => (None, None),
    };
    let mut problems = Vec::new();
    if let (Some(shape), Some(d), Some(f)) = (shape, deployed, &function) {
        if shape.through_aliases && qualifier.is_some() {
            let latest = d.facts(None).await?;
            if latest.code_sha256 != f.code_sha256 {
                problems.push(ConfigProblem::new(
                    "runner.options.qualifier",
                    format!(
                        "a sweep publishes versions of $LATEST, whose code differs from qualifier `{}` \
                         (version {}); remove the qualifier or deploy that code to $LATEST",
                        qualifier.as_deref().unwrap_or_default(),
                        f.version
                    ),
                ));
            }
        }
    }
    let plan = make_plan(config, function, account, shape, options, &mut problems);
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(Error::Config(problems))
    }
}

fn make_plan(
    config: &BenchmarkConfig,
    function: Option<FunctionFacts>,
    account: Option<AccountFacts>,
    shape: Option<&SweepShape>,
    options: &PreflightOptions,
    problems: &mut Vec<ConfigProblem>,
) -> Preflight {
    let prices = &options.prices;
    let remote = config.runner.target != Target::Local;
    let architecture = function
        .as_ref()
        .map_or("x86_64".to_string(), |f| f.architecture.clone());
    // Lambda, and Fargate (infra/ runs the immudb task at the workers' architecture).
    let priced = prices.for_architecture(&architecture);
    let available = match (&function, &account) {
        (Some(f), Some(a)) => Some(
            f.reserved_concurrency
                .unwrap_or(a.unreserved_concurrent_executions),
        ),
        _ => None,
    };
    let sizes: Vec<u32> = match shape {
        Some(s) => s.memory_mb.clone(),
        None => function.iter().map(|f| f.memory_mb).collect(),
    };
    let timeout_s = function.as_ref().map(|f| f.timeout_s);
    let bytes = record_bytes(config);
    let mut tests = Vec::new();
    let mut notes = Vec::new();
    let mut max_in_flight = 0u32;
    let note = |notes: &mut Vec<String>, what: String| {
        if !notes.contains(&what) {
            notes.push(what);
        }
    };
    // How the database bills: per request (DynamoDB on-demand, Timestream), or per
    // hour of the run (DynamoDB provisioned, an instance or a task), or not at all.
    let database = &config.database;
    // A database on this machine (a local stand-in such as moto) bills nothing.
    let local = database
        .options
        .get("endpoint")
        .and_then(|e| e.as_str())
        .filter(|e| is_loopback(e));
    let billing =
        (database.kind == "dynamodb" && local.is_none()).then(|| dynamodb_billing(database));
    let per_request = match (database.kind.as_str(), billing) {
        _ if local.is_some() => None,
        ("dynamodb", Some(DynamoBilling::OnDemand)) => Some(PerRequest::DynamoDb),
        ("timestream", _) => Some(PerRequest::Timestream),
        _ => None,
    };
    let hosted = if local.is_some() {
        None
    } else {
        hosting(database, &priced)
    };
    let ts_bytes = timestream_record_bytes(config);
    // Per test: seconds of one run of it (all its waves), whether that is an upper
    // bound, and how many times it runs (sizes of a sweep).
    let mut walls: Vec<(Option<f64>, bool, usize)> = Vec::new();
    for (i, (test, phase)) in Runner::plan(config).into_iter().enumerate() {
        let load = phase == crate::protocol::Phase::Load;
        let workers = if load {
            config.runner.workers.max(1)
        } else {
            config.workers_for(&test)
        };
        let in_flight = if remote {
            workers.min(config.runner.max_in_flight.max(1))
        } else {
            workers
        };
        max_in_flight = max_in_flight.max(in_flight);
        let waves = workers.div_ceil(in_flight.max(1));
        let seconds = (!load && test.operations.is_none()).then(|| {
            let duration = test.duration.map_or(10.0, |d| d.0.as_secs_f64());
            test.warmup.0.as_secs_f64() + duration
        });
        let operations = if load {
            Some(config.workload.records)
        } else {
            test.operations.or_else(|| {
                let rate = test.rate?;
                let d = test.duration.map_or(10.0, |d| d.0.as_secs_f64());
                Some((rate * d).round() as u64)
            })
        };
        // Where the test is in the config, for messages (the load phase is `workload`).
        let at = if load {
            "workload".to_string()
        } else {
            let index = config
                .tests
                .iter()
                .position(|t| t.name == test.name)
                .unwrap_or(i);
            format!("tests[{index}]")
        };
        if let (Some(s), Some(timeout)) = (seconds, timeout_s) {
            let need = s + INVOCATION_OVERHEAD_S;
            if need > f64::from(timeout) {
                problems.push(ConfigProblem::new(
                    format!("{at}.duration"),
                    format!(
                        "warmup and duration ({s:.0} s) plus {INVOCATION_OVERHEAD_S:.0} s of overhead \
                         exceed the function's timeout of {timeout} s: shorten the test to at most {:.0} s \
                         of warmup and duration, or raise the timeout to at least {:.0} s \
                         (infra: timeout_seconds)",
                        (f64::from(timeout) - INVOCATION_OVERHEAD_S).max(0.0),
                        need.ceil()
                    ),
                ));
            }
        }
        // Lambda: GB-s over every size the test runs at.
        let runs_at: Vec<u32> = match shape {
            Some(s) if load && !s.load_per_size => sizes.first().copied().into_iter().collect(),
            _ => sizes.clone(),
        };
        let per_worker_s = seconds
            .map(|s| s + INVOCATION_OVERHEAD_S)
            .or(timeout_s.map(f64::from));
        let mut lambda_usd = 0.0;
        if remote {
            for mb in &runs_at {
                let gb_s =
                    f64::from(workers) * f64::from(*mb) / 1024.0 * per_worker_s.unwrap_or(0.0);
                lambda_usd += gb_s * priced.lambda_gb_second
                    + f64::from(workers) * priced.lambda_per_million_requests / 1e6;
            }
        }
        let times = if load {
            runs_at.len().max(1)
        } else {
            sizes.len().max(1)
        };
        // The wall time of one run of the test: its waves one after another, each as
        // long as its workers (a test of a number of operations, and the load, at most
        // the function's timeout).
        let run_s = match (seconds, timeout_s) {
            (Some(s), _) => Some(f64::from(waves) * (s + INVOCATION_OVERHEAD_S)),
            (None, Some(t)) if remote => Some(f64::from(waves) * f64::from(t)),
            _ => None,
        };
        walls.push((run_s, seconds.is_none(), times));
        let op = if load {
            Some(OperationConfig::new("load"))
        } else {
            test.operation.clone()
        };
        let n = operations.map(|n| times as f64 * n as f64);
        let database_usd = match per_request {
            Some(PerRequest::DynamoDb) => {
                match (n, op.as_ref().and_then(|o| dynamodb_units(o, bytes))) {
                    (Some(n), Some((r, w))) => Some(usd(&dynamodb_items(
                        DynamoBilling::OnDemand,
                        n * r,
                        n * w,
                        0.0,
                        &priced,
                    ))),
                    _ => {
                        note(
                            &mut notes,
                            "DynamoDB: tests that run for a duration (or whose operations depend on \
                             data) are not in the database estimate; it depends on the throughput."
                                .into(),
                        );
                        None
                    }
                }
            }
            Some(PerRequest::Timestream) => {
                let load_batch = config.workload.load_batch as u64;
                match (
                    n,
                    op.as_ref()
                        .and_then(|o| timestream_usage(o, ts_bytes, load_batch)),
                ) {
                    (Some(n), Some((w, q))) => Some(usd(&timestream_items(
                        n * w,
                        (n * q).round() as u64,
                        0,
                        &priced,
                    ))),
                    _ => {
                        note(
                            &mut notes,
                            "Timestream: tests that run for a duration (their operations depend on \
                             the throughput), and operations that make their own records \
                             (timeseries_write, timeseries_mix), are not in the database estimate."
                                .into(),
                        );
                        None
                    }
                }
            }
            None => None,
        };
        tests.push(TestPlan {
            name: test.name,
            workers,
            in_flight,
            waves,
            operations,
            seconds,
            lambda_usd,
            lambda_upper_bound: remote && seconds.is_none(),
            database_usd,
            database_upper_bound: false,
        });
    }
    // Sizes side by side: as many as the concurrency allows.
    let sizes_at_once = match shape {
        Some(s) if s.through_aliases && !s.sequential => {
            let fit = available.map_or(1, |a| a / max_in_flight.max(1));
            fit.clamp(1, s.memory_mb.len().max(1) as u32)
        }
        _ => 1,
    };
    // Databases billed by the hour: the run's expected wall time, test by test (the
    // sizes of a sweep in rounds of `sizes_at_once`).
    let by_the_hour = |hours: f64| -> Option<Vec<CostItem>> {
        match (billing, &hosted) {
            (Some(b @ DynamoBilling::Provisioned { .. }), _) => {
                Some(dynamodb_items(b, 0.0, 0.0, hours, &priced))
            }
            (_, Some(Hosting::Hourly(h))) => Some(vec![h.item(hours)]),
            _ => None,
        }
    };
    if by_the_hour(0.0).is_some() {
        let (mut hours, mut bounded, mut unknown) = (0.0, false, false);
        for (t, (run_s, upper, times)) in tests.iter_mut().zip(&walls) {
            let Some(run_s) = run_s else {
                unknown = true;
                continue;
            };
            let rounds = times.div_ceil(sizes_at_once.max(1) as usize) as f64;
            let h = rounds * run_s / 3600.0;
            let cost = by_the_hour(h).map_or(0.0, |items| usd(&items));
            t.database_usd = Some(t.database_usd.unwrap_or(0.0) + cost);
            t.database_upper_bound = *upper;
            hours += h;
            bounded |= *upper;
        }
        let mut span = format!(
            "the run's expected {} (each test's waves × (warmup + duration + {INVOCATION_OVERHEAD_S:.0} s)",
            wall(hours)
        );
        span.push_str(if bounded {
            "; tests of a number of operations and the load at the function's timeout, an upper bound)"
        } else {
            ")"
        });
        let label = match (billing, &hosted) {
            (Some(DynamoBilling::Provisioned { read, write }), _) => {
                notes.push(format!(
                    "DynamoDB provisioned: {read} RCU and {write} WCU for {span}, whatever is \
                     consumed; the table bills its capacity every hour it exists, before and after \
                     the run too."
                ));
                "DynamoDB provisioned"
            }
            (_, Some(Hosting::Hourly(h))) => {
                notes.push(h.note(&span));
                h.label
            }
            _ => "",
        };
        if unknown {
            notes.push(format!(
                "{label}: the load and tests of a number of operations are not in the database \
                 estimate: how long they take is not known before the run (no function timeout \
                 bounds them)."
            ));
        }
    }
    match (per_request, &hosted) {
        (Some(PerRequest::DynamoDb), _) => {
            let read = bytes.div_ceil(4096).max(1);
            let write = bytes.div_ceil(1024).max(1);
            notes.push(format!(
                "DynamoDB on-demand: items of about {bytes} bytes, {read} RRU a strongly consistent \
                 read (eventually consistent ones cost half) and {write} WRU a write."
            ));
        }
        (Some(PerRequest::Timestream), _) => notes.push(format!(
            "Timestream: records of about {ts_bytes} bytes (fields, names, key and 8 bytes of time), \
             one write unit per started KiB of each call of up to {TIMESTREAM_RECORDS_PER_CALL} \
             records; every query is assumed to scan the {} MB minimum (a query over a wider time \
             range or many series scans, and bills, more; accounts on compute-unit query pricing \
             pay per TCU-hour instead).",
            priced.timestream_min_query_bytes / 1_000_000
        )),
                (None, Some(Hosting::SelfHosted(n))) => notes.push(n.clone()),
        (None, None) if local.is_some() => notes.push(format!(
            "No database cost: `database.endpoint` {} is on this machine, not a billed service.",
            local.unwrap_or_default()
        )),
        (None, None) if billing.is_none() => notes.push(format!(
            "No database cost for `{}`: not a priced AWS service.",
            database.kind
        )),
        _ => {}
    }
    if let Some(a) = available {
        if max_in_flight > a {
            let why = match (&function, &account) {
                (Some(f), _) if f.reserved_concurrency.is_some() => {
                    format!("the function's reserved concurrency is {a}")
                }
                (_, Some(acc)) => format!(
                    "the account allows {} at once and leaves {a} unreserved",
                    acc.concurrent_executions
                ),
                _ => format!("{a} are available"),
            };
            problems.push(ConfigProblem::new(
                "runner.max_in_flight",
                format!(
                    "{max_in_flight} invocations would be open at once, but {why}: set \
                     runner.max_in_flight to {a} or less (workers then run in waves), or ask AWS \
                     for a higher concurrency quota"
                ),
            ));
        }
    }
    if let (Some(f), ColdStart::Force) = (&function, config.runner.cold_start) {
        if let (Some(key), Some(error)) = (&f.kms_key_arn, &f.environment_error) {
            problems.push(ConfigProblem::new(
                "runner.cold_start",
                format!(
                    "`force` rewrites the function's environment, which is encrypted with KMS key \
                     {key} that this caller may not use ({error}); grant the runner kms:Decrypt and \
                     kms:Encrypt on that key (infra/ does with kms_key_arn) or use cold_start \
                     `allow`"
                ),
            ));
        }
    }
    let load_records = if config.workload.load {
        config.workload.records
    } else {
        0
    };
    let lambda_usd: f64 = tests.iter().map(|t| t.lambda_usd).sum();
    let database_usd: f64 = tests.iter().filter_map(|t| t.database_usd).sum();
    if !remote {
        notes.push("Local workers: no Lambda cost.".into());
    } else if tests.iter().any(|t| t.lambda_upper_bound) {
        notes.push(
            "Lambda: tests of a number of operations (and the load phase) are priced at the \
             function's timeout, an upper bound."
                .into(),
        );
    }
    // Region: the prices are one region's; say where they do not fit.
    let mut elsewhere = Vec::new();
    if let Some(region) = config.runner.options.get("region").and_then(|r| r.as_str()) {
        if remote && region != prices.region {
            elsewhere.push(format!("the function is in {region}"));
        }
    }
    let database_region = database
        .options
        .get("region")
        .and_then(|r| r.as_str())
        .map(str::to_string)
        .or_else(|| {
            (database.kind == "influxdb")
                .then(|| database.options.get("endpoint")?.as_str())
                .flatten()
                .and_then(influxdb_region)
        });
    if let Some(region) = database_region {
        if region != prices.region && (per_request.is_some() || by_the_hour(0.0).is_some()) {
            elsewhere.push(format!("the database is in {region}"));
        }
    }
    if !elsewhere.is_empty() {
        notes.push(format!(
            "Prices are {}'s; {}: pass --prices with that region's.",
            prices.region,
            elsewhere.join(" and ")
        ));
    }
    Preflight {
        target: config.runner.target,
        function,
        account,
        available_concurrency: available,
        load_records,
        load_bytes: load_records.saturating_mul(bytes),
        tests,
        sweep_memory_mb: shape.map(|s| s.memory_mb.clone()).unwrap_or_default(),
        sizes_at_once,
        sweep_versions: shape.filter(|s| s.through_aliases).map_or(0, |s| {
            s.versions_per_size.saturating_mul(s.memory_mb.len() as u32)
        }),
        sweep_only_cold_starts: shape.is_some_and(|s| s.only_cold_starts),
        lambda_usd,
        database_usd,
        total_usd: lambda_usd + database_usd,
        prices: prices.clone(),
        architecture,
        notes,
        confirm_above_usd: options.confirm_above_usd,
    }
}

/// Whether `endpoint` (a URL or `host:port`) names this machine: `localhost`, a
/// 127.x.x.x address or `::1`.
fn is_loopback(endpoint: &str) -> bool {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Preflight {
    /// Refuses, as a config error at `--yes`, an estimate above the threshold that was
    /// not confirmed.
    pub fn guard(&self, options: &PreflightOptions) -> Result<()> {
        if options.yes || self.total_usd <= options.confirm_above_usd {
            return Ok(());
        }
        Err(Error::config(
            "--yes",
            format!(
                "the estimated cost {} is above {} (--confirm-above); run again with --yes to \
                 pay it, or make the run smaller",
                format_usd(self.total_usd),
                format_usd(options.confirm_above_usd)
            ),
        ))
    }

    /// The plan for people: what runs where, and what it will cost.
    pub fn render(&self) -> String {
        let mut out = String::from("plan:\n");
        if let Some(f) = &self.function {
            let _ = writeln!(
                out,
                "  function {} ({}), {} MB, timeout {} s, {}{}",
                f.function,
                f.version,
                f.memory_mb,
                f.timeout_s,
                f.architecture,
                f.kms_key_arn
                    .as_deref()
                    .map_or(String::new(), |k| format!(", environment key {k}"))
            );
        } else {
            let _ = writeln!(out, "  target {:?}", self.target);
        }
        if let (Some(a), Some(avail)) = (&self.account, self.available_concurrency) {
            let reserved = self
                .function
                .as_ref()
                .and_then(|f| f.reserved_concurrency)
                .map_or("none".to_string(), |r| r.to_string());
            let _ = writeln!(
                out,
                "  concurrency: account {}, unreserved {}, reserved for the function {reserved}: up to {avail} at once",
                a.concurrent_executions, a.unreserved_concurrent_executions
            );
        }
        if self.load_records > 0 {
            let _ = writeln!(
                out,
                "  load: {} records, about {}",
                self.load_records,
                bytesize::ByteSize(self.load_bytes).display().iec()
            );
        }
        for t in &self.tests {
            let what = match (t.operations, t.seconds) {
                (_, Some(s)) => format!("{s:.0} s per worker"),
                (Some(n), None) => format!("{n} operations"),
                _ => "until done".into(),
            };
            let _ = writeln!(
                out,
                "  {}: {what}, {} worker{} in {} wave{} ({} at once)",
                t.name,
                t.workers,
                if t.workers == 1 { "" } else { "s" },
                t.waves,
                if t.waves == 1 { "" } else { "s" },
                t.in_flight
            );
        }
        if !self.sweep_memory_mb.is_empty() {
            let sizes: Vec<String> = self
                .sweep_memory_mb
                .iter()
                .map(|m| format!("{m} MB"))
                .collect();
            let _ = writeln!(
                out,
                "  sweep: {} ({} at once)",
                sizes.join(", "),
                self.sizes_at_once
            );
            let per_size = self.sweep_versions / (self.sweep_memory_mb.len() as u32).max(1);
            match (self.sweep_versions, self.sweep_only_cold_starts) {
                (0, true) => {
                    let _ = writeln!(
                        out,
                        "  cold starts only: a new environment nonce on $LATEST before every \
                         wave of every test"
                    );
                }
                (0, false) => {}
                (n, true) => {
                    let _ = writeln!(
                        out,
                        "  versions published: {n} ({per_size} per size: one for every wave of \
                         every test, so that each starts cold), aliases: {}; all deleted \
                         afterwards",
                        self.sweep_memory_mb.len()
                    );
                }
                (n, false) => {
                    let _ = writeln!(
                        out,
                        "  versions published: {n}, aliases: {}; all deleted afterwards",
                        self.sweep_memory_mb.len()
                    );
                }
            }
        }
        let bound = if self.tests.iter().any(|t| t.lambda_upper_bound) {
            "at most "
        } else {
            ""
        };
        let db_bound = if self.tests.iter().any(|t| t.database_upper_bound) {
            "at most "
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  estimate: Lambda {bound}{} ({} at {} prices of {}), database {db_bound}{}; total {} (asks for --yes above {})",
            format_usd(self.lambda_usd),
            self.architecture,
            self.prices.region,
            self.prices.as_of,
            format_usd(self.database_usd),
            format_usd(self.total_usd),
            format_usd(self.confirm_above_usd)
        );
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> BenchmarkConfig {
        BenchmarkConfig::from_json_str(text, &[]).unwrap()
    }

    fn facts(memory_mb: u32, timeout_s: u32, reserved: Option<u32>) -> FunctionFacts {
        FunctionFacts {
            function: "f".into(),
            version: "$LATEST".into(),
            memory_mb,
            timeout_s,
            architecture: "x86_64".into(),
            reserved_concurrency: reserved,
            ..FunctionFacts::default()
        }
    }

    fn account(all: u32, unreserved: u32) -> Option<AccountFacts> {
        Some(AccountFacts {
            concurrent_executions: all,
            unreserved_concurrent_executions: unreserved,
        })
    }

    const LAMBDA: &str = r#"{"database": {"type": "dynamodb", "table": "bench", "region": "us-east-1"},
        "workload": {"records": 1000, "fields": 10, "field_size": "100B"},
        "runner": {"target": "lambda", "function": "f", "workers": 40, "max_in_flight": 40},
        "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": 100000},
                  {"name": "long", "operation": {"type": "write"}, "warmup": "5s", "duration": "60s"}]}"#;

    #[test]
    fn workers_over_the_concurrency_are_refused_with_the_number() {
        let mut problems = Vec::new();
        make_plan(
            &config(LAMBDA),
            Some(facts(1024, 300, None)),
            account(50, 30),
            None,
            &PreflightOptions::default(),
            &mut problems,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "runner.max_in_flight");
        assert!(
            problems[0]
                .message
                .contains("set runner.max_in_flight to 30"),
            "{problems:?}"
        );
        // A reservation is what the function gets, whatever the account leaves.
        let mut problems = Vec::new();
        make_plan(
            &config(LAMBDA),
            Some(facts(1024, 300, Some(40))),
            account(50, 10),
            None,
            &PreflightOptions::default(),
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_test_longer_than_the_timeout_is_refused() {
        let mut problems = Vec::new();
        make_plan(
            &config(LAMBDA),
            Some(facts(1024, 60, None)),
            account(1000, 1000),
            None,
            &PreflightOptions::default(),
            &mut problems,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "tests[1].duration");
        assert!(
            problems[0]
                .message
                .contains("raise the timeout to at least 70 s")
                && problems[0].message.contains("at most 55 s"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_estimate_prices_the_architecture_and_the_database() {
        let opts = PreflightOptions::default();
        let plan = |arch: &str| {
            let mut f = facts(1024, 300, None);
            f.architecture = arch.into();
            make_plan(
                &config(LAMBDA),
                Some(f),
                account(1000, 1000),
                None,
                &opts,
                &mut Vec::new(),
            )
        };
        let (x86, arm) = (plan("x86_64"), plan("arm64"));
        // The 60 s test: 40 workers × 1 GB × (65 + 5) s at each price, plus requests.
        let long = |p: &Preflight| {
            p.tests
                .iter()
                .find(|t| t.name == "long")
                .unwrap()
                .lambda_usd
        };
        let requests = 40.0 * 0.2 / 1e6;
        assert!((long(&x86) - (40.0 * 70.0 * 0.000_016_666_7 + requests)).abs() < 1e-9);
        assert!((long(&arm) - (40.0 * 70.0 * 0.000_013_333_4 + requests)).abs() < 1e-9);
        // 100,000 strongly consistent reads of a 1 KiB item: 1 RRU each; the load:
        // 1,000 writes of 2 WRU (1,076 bytes).
        let reads = x86.tests.iter().find(|t| t.name == "reads").unwrap();
        assert!((reads.database_usd.unwrap() - 100_000.0 * 0.125 / 1e6).abs() < 1e-12);
        let load = &x86.tests[0];
        assert_eq!(load.name, "load");
        assert!((load.database_usd.unwrap() - 1000.0 * 2.0 * 0.625 / 1e6).abs() < 1e-12);
        assert!(reads.lambda_upper_bound && !x86.tests[2].lambda_upper_bound);
        let text = x86.render();
        assert!(text.contains("load: 1000 records"), "{text}");
        assert!(
            text.contains("long: 65 s per worker, 40 workers in 1 wave (40 at once)"),
            "{text}"
        );
        // The guard: above the threshold without --yes, a config error at --yes.
        let cheap = PreflightOptions {
            confirm_above_usd: 0.0001,
            ..PreflightOptions::default()
        };
        let e = x86.guard(&cheap).unwrap_err();
        assert_eq!(e.config_problems()[0].path, "--yes");
        assert!(x86.guard(&PreflightOptions { yes: true, ..cheap }).is_ok());
        assert!(x86.guard(&opts).is_ok());
    }

    #[test]
    fn a_sweep_runs_as_many_sizes_at_once_as_fit() {
        let shape = SweepShape {
            memory_mb: vec![128, 512, 1024, 1769],
            sequential: false,
            through_aliases: true,
            load_per_size: false,
            only_cold_starts: false,
            versions_per_size: 1,
        };
        let plan = make_plan(
            &config(LAMBDA),
            Some(facts(1024, 300, None)),
            account(1000, 100),
            Some(&shape),
            &PreflightOptions::default(),
            &mut Vec::new(),
        );
        assert_eq!(plan.sizes_at_once, 2, "100 unreserved, 40 per size");
        let sequential = SweepShape {
            sequential: true,
            ..shape
        };
        let plan = make_plan(
            &config(LAMBDA),
            Some(facts(1024, 300, None)),
            account(1000, 1000),
            Some(&sequential),
            &PreflightOptions::default(),
            &mut Vec::new(),
        );
        assert_eq!(plan.sizes_at_once, 1);
    }

    #[test]
    fn forced_cold_starts_on_an_unreadable_environment_name_the_kms_rights() {
        let mut f = facts(1024, 300, None);
        f.kms_key_arn = Some("arn:aws:kms:us-east-1:1:key/k".into());
        f.environment_error = Some("AccessDeniedException: KMS access was denied".into());
        let mut cfg = config(LAMBDA);
        cfg.runner.cold_start = ColdStart::Force;
        let mut problems = Vec::new();
        make_plan(
            &cfg,
            Some(f),
            account(1000, 1000),
            None,
            &PreflightOptions::default(),
            &mut problems,
        );
        assert_eq!(problems[0].path, "runner.cold_start");
        assert!(
            problems[0].message.contains("kms:Decrypt and kms:Encrypt"),
            "{problems:?}"
        );
    }

    // ------------------------------------------------- database estimates ---

    /// LAMBDA with `database` instead of its DynamoDB table.
    fn with_db(database: serde_json::Value) -> BenchmarkConfig {
        let mut v: serde_json::Value = serde_json::from_str(LAMBDA).unwrap();
        v["database"] = database;
        BenchmarkConfig::from_json_str(&v.to_string(), &[]).unwrap()
    }

    fn plan_of(cfg: &BenchmarkConfig, arch: &str, options: &PreflightOptions) -> Preflight {
        let mut f = facts(1024, 300, None);
        f.architecture = arch.into();
        let mut problems = Vec::new();
        let plan = make_plan(
            cfg,
            Some(f),
            account(1000, 1000),
            None,
            options,
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        plan
    }

    fn test_usd(plan: &Preflight, name: &str) -> Option<f64> {
        plan.tests
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .database_usd
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    /// LAMBDA's wall time on a function with a 300 s timeout: the load and the
    /// 100,000 reads at the timeout (upper bounds), the 60 s test 5 + 60 + 5 s.
    const LAMBDA_SECONDS: f64 = 300.0 + 300.0 + 70.0;

    #[test]
    fn provisioned_tables_bill_their_capacity_over_the_run() {
        let cfg = with_db(serde_json::json!({"type": "dynamodb", "table": "bench",
            "billing": {"provisioned": {"read_capacity": 100, "write_capacity": 50}}}));
        let plan = plan_of(&cfg, "x86_64", &PreflightOptions::default());
        // 100 RCU at $0.00013 and 50 WCU at $0.00065 an hour.
        let per_hour = 100.0 * 0.000_13 + 50.0 * 0.000_65;
        assert!(close(plan.database_usd, LAMBDA_SECONDS / 3600.0 * per_hour));
        assert!(close(
            test_usd(&plan, "long").unwrap(),
            70.0 / 3600.0 * per_hour
        ));
        assert!(close(
            test_usd(&plan, "reads").unwrap(),
            300.0 / 3600.0 * per_hour
        ));
        let bounded: Vec<bool> = plan.tests.iter().map(|t| t.database_upper_bound).collect();
        assert_eq!(bounded, [true, true, false]);
        let text = plan.render();
        assert!(text.contains("database at most $"), "{text}");
        assert!(
            text.contains("DynamoDB provisioned: 100 RCU and 50 WCU for the run's expected 11 min"),
            "{text}"
        );
        assert!(!text.contains("No database"), "{text}");
    }

    #[test]
    fn on_demand_tables_say_what_an_item_costs() {
        let plan = plan_of(&config(LAMBDA), "x86_64", &PreflightOptions::default());
        let text = plan.render();
        assert!(
            text.contains("items of about 1076 bytes, 1 RRU a strongly consistent read")
                && text.contains("and 2 WRU a write"),
            "{text}"
        );
        assert!(text.contains("tests that run for a duration"), "{text}");
    }

    #[test]
    fn timestream_bills_writes_per_kib_and_queries_at_the_minimum_scan() {
        let cfg = with_db(serde_json::json!({"type": "timestream", "database": "lgb",
            "table": "cpu", "region": "us-east-1"}));
        let plan = plan_of(&cfg, "x86_64", &PreflightOptions::default());
        // 100,000 reads are queries, each billed the 10 MB minimum: 1,000 GB at $0.01.
        assert!(close(
            test_usd(&plan, "reads").unwrap(),
            100_000.0 * 0.01 * 0.01
        ));
        // The load: records of 1,076 + 6 ("series") + 8 bytes, 100 a call (the default
        // load_batch): ceil(109,000 / 1,024) = 107 write units a call, 10 calls, at
        // $0.50 a million.
        assert!(close(test_usd(&plan, "load").unwrap(), 1070.0 * 0.5 / 1e6));
        assert_eq!(test_usd(&plan, "long"), None, "a duration: not known");
        assert!(close(plan.database_usd, 10.0 + 1070.0 * 0.5 / 1e6));
        let text = plan.render();
        assert!(text.contains("records of about 1090 bytes"), "{text}");
        assert!(text.contains("assumed to scan the 10 MB minimum"), "{text}");
        assert!(
            text.contains("Timestream: tests that run for a duration"),
            "{text}"
        );
        // $10 of queries is above the default threshold.
        assert!(plan.guard(&PreflightOptions::default()).is_err());

        // Operations one by one, on records of 1,090 bytes (2 write units each).
        let op = |v: serde_json::Value| -> OperationConfig { serde_json::from_value(v).unwrap() };
        let usage = |v| timestream_usage(&op(v), 1090, 100).unwrap();
        assert_eq!(usage(serde_json::json!({"type": "write"})), (2.0, 0.0));
        // 250 records: two calls of 100 (107 units each) and one of 50 (54).
        assert_eq!(
            usage(serde_json::json!({"type": "batch_write", "size": 250})),
            (268.0, 0.0)
        );
        assert_eq!(
            usage(serde_json::json!({"type": "mix", "weights": {"read": 3, "write": 1}})),
            (0.5, 0.75)
        );
        assert_eq!(
            usage(serde_json::json!({"type": "parallel_read", "fanout": 4})),
            (0.0, 4.0)
        );
        assert_eq!(
            timestream_usage(
                &op(serde_json::json!({"type": "timeseries_write"})),
                1090,
                100
            ),
            None
        );
    }

    #[test]
    fn a_database_on_this_machine_bills_nothing() {
        for endpoint in [
            "http://127.0.0.1:5000",
            "http://localhost:8000/",
            "http://[::1]:8086",
            "http://user:pw@127.0.0.2:1",
        ] {
            assert!(is_loopback(endpoint), "{endpoint}");
        }
        for endpoint in [
            "https://dynamodb.us-east-1.amazonaws.com",
            "http://10.0.0.1:5000",
            "http://127.example.com",
            TIMESTREAM_INFLUXDB,
        ] {
            assert!(!is_loopback(endpoint), "{endpoint}");
        }
        // The Timestream config above costs $10 of queries against AWS; against moto,
        // nothing, and the guard lets it run.
        let cfg = with_db(serde_json::json!({"type": "timestream", "database": "lgb",
            "table": "cpu", "region": "us-east-1", "endpoint": "http://127.0.0.1:5000"}));
        let plan = plan_of(&cfg, "x86_64", &PreflightOptions::default());
        assert_eq!(plan.database_usd, 0.0);
        assert!(plan
            .tests
            .iter()
            .all(|t| t.database_usd.unwrap_or(0.0) == 0.0));
        assert!(plan.guard(&PreflightOptions::default()).is_ok());
        let text = plan.render();
        assert!(
            text.contains(
                "No database cost: `database.endpoint` http://127.0.0.1:5000 is on this machine"
            ),
            "{text}"
        );
        assert!(!text.contains("assumed to scan"), "{text}");
    }

    const TIMESTREAM_INFLUXDB: &str =
        "https://c5vasdqn0b-3ksj4dla5nfjhi.timestream-influxdb.us-east-1.on.aws:8086";

    #[test]
    fn a_timestream_for_influxdb_instance_bills_its_hours() {
        let cfg = with_db(
            serde_json::json!({"type": "influxdb", "endpoint": TIMESTREAM_INFLUXDB,
            "api": "v2", "org": "lgb", "bucket": "bench"}),
        );
        let unset = plan_of(&cfg, "x86_64", &PreflightOptions::default());
        assert_eq!(unset.database_usd, 0.0);
        let text = unset.render();
        assert!(
            text.contains(
                "Timestream for InfluxDB: the instance-hours of the run's expected 11 min"
            ) && text.contains("shown at $0")
                && text.contains("`influxdb_instance_hour`"),
            "{text}"
        );
        let options = PreflightOptions {
            prices: PriceTable::with_overrides(
                r#"{"influxdb_instance_hour": 0.5, "influxdb_instances": 2}"#,
            )
            .unwrap(),
            ..PreflightOptions::default()
        };
        let priced = plan_of(&cfg, "x86_64", &options);
        assert!(close(
            priced.database_usd,
            LAMBDA_SECONDS / 3600.0 * 2.0 * 0.5
        ));
        assert!(close(
            test_usd(&priced, "long").unwrap(),
            70.0 / 3600.0 * 2.0 * 0.5
        ));
        assert!(priced.render().contains("2 instance(s) at $0.5/hour"));

        // A sweep of 4 sizes, 2 at once (100 unreserved, 40 per size): every test
        // but the load twice in a row.
        let shape = SweepShape {
            memory_mb: vec![128, 512, 1024, 1769],
            sequential: false,
            through_aliases: true,
            load_per_size: false,
            only_cold_starts: false,
            versions_per_size: 1,
        };
        let sweep = make_plan(
            &cfg,
            Some(facts(1024, 300, None)),
            account(1000, 100),
            Some(&shape),
            &options,
            &mut Vec::new(),
        );
        assert_eq!(sweep.sizes_at_once, 2);
        let seconds = 300.0 + 2.0 * 300.0 + 2.0 * 70.0;
        assert!(close(sweep.database_usd, seconds / 3600.0 * 2.0 * 0.5));

        // Any other endpoint is a server of one's own: not priced, and said.
        let own = with_db(serde_json::json!({"type": "influxdb",
            "endpoint": "http://10.1.2.3:8086", "api": "v1", "database": "bench"}));
        let plan = plan_of(&own, "x86_64", &options);
        assert_eq!(plan.database_usd, 0.0);
        assert!(plan.tests.iter().all(|t| t.database_usd.is_none()));
        assert!(plan
            .render()
            .contains("a server you run yourself is not priced"));
    }

    #[test]
    fn immudb_on_infras_fargate_task_bills_task_hours_at_the_architecture() {
        let cfg = with_db(serde_json::json!({"type": "immudb",
            "address": "immudb.bench.lgb.internal:3322", "database": "defaultdb",
            "password_env": "LGB_SECRET_IMMUDB_PASSWORD"}));
        let plan = plan_of(&cfg, "arm64", &PreflightOptions::default());
        // 1 vCPU at $0.03238 and 2 GB at $0.00356 an hour (Fargate on arm64).
        let per_hour = 0.032_38 + 2.0 * 0.003_56;
        assert!(close(plan.database_usd, LAMBDA_SECONDS / 3600.0 * per_hour));
        assert!(plan
            .render()
            .contains("immudb on infra/'s ECS Fargate task"));

        // Local workers: no timeout bounds the load and the reads; the 60 s test
        // is 5 + 60 + 5 s at x86_64 prices ($0.04048 and $0.004445).
        let mut local = cfg.clone();
        local.runner.target = Target::Local;
        let mut problems = Vec::new();
        let plan = make_plan(
            &local,
            None,
            None,
            None,
            &PreflightOptions::default(),
            &mut problems,
        );
        assert!(close(
            plan.database_usd,
            70.0 / 3600.0 * (0.040_48 + 2.0 * 0.004_445)
        ));
        assert_eq!(test_usd(&plan, "reads"), None);
        let text = plan.render();
        assert!(text.contains("not known before the run"), "{text}");

        let own = with_db(
            serde_json::json!({"type": "immudb", "address": "10.0.0.5:3322",
            "password_env": "LGB_SECRET_IMMUDB_PASSWORD"}),
        );
        let plan = plan_of(&own, "x86_64", &PreflightOptions::default());
        assert_eq!(plan.database_usd, 0.0);
        assert!(plan
            .render()
            .contains("immudb: the server is not the Fargate task"));
    }

    #[test]
    fn prices_of_another_region_are_said() {
        let mut cfg = with_db(serde_json::json!({"type": "dynamodb", "table": "bench",
            "region": "eu-west-1"}));
        cfg.runner
            .options
            .insert("region".into(), serde_json::json!("eu-west-1"));
        let text = plan_of(&cfg, "x86_64", &PreflightOptions::default()).render();
        assert!(
            text.contains(
                "Prices are us-east-1's; the function is in eu-west-1 and the database is in \
                 eu-west-1: pass --prices with that region's."
            ),
            "{text}"
        );
        let influx = with_db(serde_json::json!({"type": "influxdb", "api": "v2",
            "org": "lgb", "bucket": "bench",
            "endpoint": "https://x-y.timestream-influxdb.ap-southeast-2.on.aws:8086"}));
        let text = plan_of(&influx, "x86_64", &PreflightOptions::default()).render();
        assert!(text.contains("the database is in ap-southeast-2"), "{text}");
        let text = plan_of(
            &with_db(serde_json::json!({"type": "memory"})),
            "x86_64",
            &PreflightOptions::default(),
        )
        .render();
        assert!(text.contains("No database cost for `memory`"), "{text}");
        assert!(!text.contains("Prices are"), "{text}");
    }
}
