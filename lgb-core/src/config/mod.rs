//! Benchmark configuration: the JSON document users write, its defaults, `--set`
//! overrides, validation that reports every problem with its JSON path, and the JSON
//! Schema that editors and `lgb schema` use.
//!
//! Precedence, lowest first: built-in defaults, the config file, `--set` overrides.
//!
//! ```
//! use lgb_core::session::{ConfigSource, Session};
//! let text = r#"{
//!     "database": {"type": "memory"},
//!     "tests": [{"name": "reads", "operation": {"type": "read"}, "duration": "1s"}]
//! }"#;
//! let overrides = ["tests[0].concurrency=4".to_string()];
//! let cfg = Session::load(ConfigSource::Text(text), &overrides, None).unwrap().into_config();
//! assert_eq!(cfg.tests[0].concurrency, 4);
//! assert_eq!(cfg.tests[0].name, "reads");
//! ```

mod distribution;
mod overrides;
mod preset;
mod target;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, HumanDuration};
pub use distribution::{Distribution, ZIPFIAN_THETA};
pub use overrides::apply_override;
pub use preset::Preset;
pub use target::{
    LambdaOptions, LambdaTarget, TargetSpec, UrlAuth, UrlOptions, UrlTarget, LAMBDA_OPTIONS,
    URL_OPTIONS,
};

use crate::error::{Error, Result};

/// The whole benchmark: one database, a workload, and the tests to run on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkConfig {
    /// Name of the benchmark, used in result directory names and reports.
    #[serde(default = "default_name")]
    pub name: String,
    /// Free text shown in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The database under test.
    pub database: DatabaseConfig,
    /// Keys, records and their distribution.
    #[serde(default)]
    pub workload: WorkloadConfig,
    /// Tests, run one after another.
    pub tests: Vec<TestConfig>,
    /// How tests are fanned out to workers.
    #[serde(default)]
    pub runner: RunnerConfig,
}

fn default_name() -> String {
    "benchmark".into()
}

/// Configuration of the database under test: its `type` and the adapter's own options.
///
/// ```json
/// { "type": "memory" }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DatabaseConfig {
    /// Adapter name, as listed by `lgb list`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The adapter's own options (see its schema).
    #[serde(flatten)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

impl DatabaseConfig {
    /// A config of adapter `kind` with no options.
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            options: serde_json::Map::new(),
        }
    }

    /// A stable key identifying this configuration, used to cache adapters.
    pub fn cache_key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The data set: how many records, how big, which keys are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// Records loaded before the tests (YCSB `recordcount`).
    #[serde(
        default = "default_records",
        deserialize_with = "crate::units::whole_number"
    )]
    #[schemars(range(min = 1))]
    pub records: u64,
    /// Key prefix; keys are the prefix and a zero-padded number (`user000000042`).
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Fields per record (YCSB `fieldcount`).
    #[serde(default = "default_fields")]
    pub fields: usize,
    /// Size of each field value (YCSB `fieldlength`).
    #[serde(default = "default_field_size")]
    pub field_size: ByteSize,
    /// How keys are chosen by reads, updates and queries.
    #[serde(default)]
    pub distribution: Distribution,
    /// Longest scan (YCSB `maxscanlength`); scan lengths are uniform in 1..=this.
    #[serde(default = "default_scan_length")]
    pub scan_length: usize,
    /// Seed of every random choice; equal seeds give equal keys and records.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Whether to load `records` records before the tests (the load phase).
    #[serde(default = "default_true")]
    pub load: bool,
    /// Records per batch in the load phase (split further by the adapter's limit).
    #[serde(default = "default_load_batch")]
    pub load_batch: usize,
    /// Tasks per worker in the load phase.
    #[serde(default = "default_load_concurrency")]
    pub load_concurrency: u32,
}

fn default_records() -> u64 {
    10_000
}
fn default_prefix() -> String {
    "user".into()
}
fn default_fields() -> usize {
    10
}
fn default_field_size() -> ByteSize {
    ByteSize(100)
}
fn default_scan_length() -> usize {
    100
}
fn default_seed() -> u64 {
    42
}
fn default_true() -> bool {
    true
}
fn default_load_batch() -> usize {
    100
}
fn default_load_concurrency() -> u32 {
    4
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        Self {
            records: default_records(),
            key_prefix: default_prefix(),
            fields: default_fields(),
            field_size: default_field_size(),
            distribution: Distribution::default(),
            scan_length: default_scan_length(),
            seed: default_seed(),
            load: true,
            load_batch: default_load_batch(),
            load_concurrency: default_load_concurrency(),
        }
    }
}

/// An operation strategy and its options, for example `{"type": "batch_write", "size": 25}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OperationConfig {
    /// Operation name, as listed by `lgb list`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The operation's own options.
    #[serde(flatten)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

impl OperationConfig {
    /// An operation of `kind` with no options.
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            options: serde_json::Map::new(),
        }
    }
}

/// One test: an operation strategy run for a duration or a number of operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestConfig {
    /// Unique name of the test.
    pub name: String,
    /// A named workload (`ycsb-a` … `ycsb-f`) that sets the operation and distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// The operation strategy; required unless `preset` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationConfig>,
    /// Overrides the workload's key distribution for this test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
    /// Concurrent tasks per worker.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = MAX_CONCURRENCY))]
    pub concurrency: u32,
    /// How long to measure, after warmup. Default 10s when `operations` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// Stop after this many measured operations in total (split over the workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<u64>,
    /// Time run before measuring starts; its operations are not in the results.
    #[serde(default)]
    pub warmup: HumanDuration,
    /// Open-loop target rate in operations per second over all workers; closed loop if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Deadline of one operation; a slower one counts as a `timeout` error.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Workers for this test; overrides `runner.workers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// After the test, read back every key whose write the database acknowledged and
    /// report acknowledged, found and missing; a missing write is an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verify: bool,
}

fn default_concurrency() -> u32 {
    1
}
fn default_timeout() -> HumanDuration {
    HumanDuration::secs(10)
}

impl TestConfig {
    /// A closed-loop test of `operation` with defaults for everything else.
    pub fn new(name: impl Into<String>, operation: OperationConfig) -> Self {
        Self {
            name: name.into(),
            preset: None,
            operation: Some(operation),
            distribution: None,
            concurrency: 1,
            duration: None,
            operations: None,
            warmup: HumanDuration::default(),
            rate: None,
            timeout: default_timeout(),
            workers: None,
            verify: false,
        }
    }

    /// This test with its preset expanded into an operation and a distribution (what
    /// it sets itself wins).
    pub fn resolved(&self) -> TestConfig {
        let mut t = self.clone();
        if let Some(p) = t.preset {
            if t.operation.is_none() {
                t.operation = Some(p.operation());
            }
            if t.distribution.is_none() {
                t.distribution = Some(p.distribution());
            }
        }
        t
    }

    /// The measured duration: as configured, or 10 s when neither a duration nor an
    /// operation count is given.
    pub fn effective_duration(&self) -> Option<std::time::Duration> {
        match (self.duration, self.operations) {
            (Some(d), _) => Some(d.0),
            (None, Some(_)) => None,
            (None, None) => Some(std::time::Duration::from_secs(10)),
        }
    }
}

/// Where workers run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// In this process (the default).
    #[default]
    Local,
    /// AWS Lambda, through the Invoke API.
    Lambda,
    /// A Lambda Function URL over HTTPS.
    Url,
}

/// How tests are fanned out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// Workers per test (Lambda invocations at once, or local workers).
    #[serde(default = "default_workers")]
    #[schemars(range(min = 1, max = MAX_WORKERS))]
    pub workers: u32,
    /// Where workers run.
    #[serde(default)]
    pub target: Target,
    /// Retries of a failed invocation (not of the benchmark's own errors).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Lambda function name or ARN, for `target: lambda`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Function URL, for `target: url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Settings of the target, as given: for `lambda` [`LambdaOptions`], for `url`
    /// [`UrlOptions`]; [`RunnerConfig::target_spec`] reads them typed, and validation
    /// reports every unknown key or bad value with its path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, serde_json::Value>,
    /// Most worker invocations open at once. A test with more workers runs them in
    /// waves: a worker starts when an earlier one has returned.
    #[serde(default = "default_max_in_flight")]
    #[schemars(range(min = 1, max = MAX_WORKERS))]
    pub max_in_flight: u32,
    /// Spreads worker starts evenly over this time (worker `i` of `n` starts after
    /// `ramp * i / n`); `0s` starts them at once.
    #[serde(default, skip_serializing_if = "is_zero_duration")]
    pub ramp: HumanDuration,
    /// Cold starts: `allow` takes sandboxes as Lambda hands them out; `force` changes
    /// the function's configuration before each test so every worker starts cold
    /// (targets `lambda` and `url`; needs `lambda:UpdateFunctionConfiguration`).
    #[serde(default, skip_serializing_if = "ColdStart::is_allow")]
    pub cold_start: ColdStart,
}

/// Whether every worker of a test must start in a new (cold) Lambda sandbox.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ColdStart {
    /// Sandboxes as Lambda hands them out: warm when one is free.
    #[default]
    Allow,
    /// Before each test the function's configuration is changed (a nonce environment
    /// variable), which retires every warm sandbox.
    Force,
}

impl ColdStart {
    fn is_allow(&self) -> bool {
        *self == ColdStart::Allow
    }
}

fn is_zero_duration(d: &HumanDuration) -> bool {
    d.0.is_zero()
}

/// Default of `runner.max_in_flight`.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 100;

fn default_max_in_flight() -> u32 {
    DEFAULT_MAX_IN_FLIGHT
}

fn default_workers() -> u32 {
    1
}
fn default_retries() -> u32 {
    2
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            workers: default_workers(),
            target: Target::Local,
            retries: default_retries(),
            function: None,
            url: None,
            options: BTreeMap::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            ramp: HumanDuration::default(),
            cold_start: ColdStart::Allow,
        }
    }
}

impl BenchmarkConfig {
    /// Parses, applies `overrides` (`path=value`), and validates with `checks` (the
    /// registries: [`crate::catalog::Registries`]). Outside the crate, configs come in
    /// through `session::Session::load`.
    #[cfg(test)]
    pub(crate) fn from_json_str_with(
        text: &str,
        overrides: &[String],
        checks: &dyn OptionChecks,
    ) -> Result<Self> {
        let value = Self::document(text, overrides)?;
        validate::validate_value(&value, checks)
    }

    /// The config document of `text` with `overrides` applied, not yet validated: what
    /// a caller completes before validation (`--targets` fills in deployed settings).
    pub(crate) fn document(text: &str, overrides: &[String]) -> Result<serde_json::Value> {
        // Comments (`//`, `/* */`, `#`) are allowed, as `lgb init` writes them; they are
        // replaced by spaces, so line and column numbers in errors stay true.
        let mut plain = String::with_capacity(text.len());
        std::io::Read::read_to_string(
            &mut json_comments::StripComments::new(text.as_bytes()),
            &mut plain,
        )
        .map_err(|e| Error::config("", format!("cannot read config: {e}")))?;
        let mut value: serde_json::Value = serde_json::from_str(&plain).map_err(|e| {
            Error::config(
                "",
                format!(
                    "not valid JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        for o in overrides {
            apply_override(&mut value, o)?;
        }
        Ok(value)
    }

    /// The JSON Schema of the config document.
    pub fn json_schema() -> serde_json::Value {
        schemars::schema_for!(BenchmarkConfig).to_value()
    }

    /// This config with secrets (passwords, keys, tokens in adapter options) replaced
    /// by `"[REDACTED]"`: what results and logs may show.
    pub fn redacted(&self) -> Self {
        let mut value = match serde_json::to_value(self) {
            Ok(v) => v,
            Err(_) => return self.without_database_options(),
        };
        crate::redact::redact_json(&mut value);
        serde_json::from_value(value).unwrap_or_else(|_| self.without_database_options())
    }

    fn without_database_options(&self) -> Self {
        let mut c = self.clone();
        c.database.options.clear();
        c
    }

    /// Workers for `test`: the test's own setting or the runner's.
    pub fn workers_for(&self, test: &TestConfig) -> u32 {
        test.workers.unwrap_or(self.runner.workers).max(1)
    }
}

pub(crate) use validate::{test_problems, validate_value, workload_problems};
pub use validate::{
    OptionChecks, MAX_BATCH, MAX_CONCURRENCY, MAX_RECORDS, MAX_RECORD_BYTES, MAX_TEST_DURATION,
    MAX_WORKERS,
};
