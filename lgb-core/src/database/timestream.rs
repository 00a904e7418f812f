//! The `timestream` adapter: Amazon Timestream for LiveAnalytics through the
//! `timestream-write` and `timestream-query` SDKs.
//!
//! Timestream for LiveAnalytics stopped taking new customers in June 2025; accounts that
//! used it before keep using it, and this adapter is for them (and for local runs
//! against moto).
//!
//! * A record is a point of series `key`: the key becomes a dimension
//!   (`key_dimension`, default `series`), [`Record::dimensions`] become dimensions, the
//!   fields become measures (Int → BIGINT, Float → DOUBLE, Bool → BOOLEAN,
//!   Str → VARCHAR) and [`Record::timestamp`] the time (now when it has none), sent in
//!   `time_unit`. With the `multi` mapping a record is one multi-measure record; with
//!   `single`, one single-measure record per field.
//! * `write` is one `WriteRecords` call; `batch_write` splits into calls of at most 100
//!   Timestream records, with the dimensions and time every record of a call shares
//!   sent once as common attributes. Records are checked before anything is sent.
//!   Records Timestream rejects (`RejectedRecordsException`) are listed per record as
//!   `rejected`; the others of the same call count as written. Throttling is retried
//!   with exponential backoff and full jitter, then counted as `throttled`.
//! * Every write reports the billable bytes (Timestream's metering: 8 bytes of time,
//!   UTF-8 lengths of names and string values, 8 bytes per BIGINT or DOUBLE, 1 per
//!   BOOLEAN; common attributes once per call) in [`OpMeta::bytes`], and the write units
//!   billed, one per started KiB *of each call*, in [`OpMeta::write_units`].
//! * `read(key)` is a query for the newest point of the series; `Latest`, `TimeRange`
//!   and `Native` queries go through `timestream-query`, every page (`NextToken`) read
//!   and every value typed by its column ([`rows`]). [`tsbs`] builds TSBS-style queries.
//! * Against AWS both clients use endpoint discovery, as Timestream requires; with an
//!   `endpoint` (a local moto server) discovery is off and the endpoint is used as is.
//!   Clients are built once per adapter, and workers cache adapters by config.
//!
//! This module maps SDK errors once, in its `errors` module; nothing above it sees an SDK type.

mod errors;
mod mapping;
mod rows;
mod sql;
pub mod tsbs;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_timestreamwrite::error::{DisplayErrorContext, SdkError};
use aws_sdk_timestreamwrite::operation::describe_endpoints::DescribeEndpointsError;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{
    AdapterOptions, BatchOutcome, Capabilities, Database, ItemFailure, OpMeta, QueryOutcome,
    ReadOutcome,
};
use crate::error::{ConfigProblem, Error, ErrorClass, Result};
use crate::record::{Query, QueryKind, Record};
use crate::units::HumanDuration;
use errors::{Rejection, Target, WriteFailure};
use mapping::{Call, Encoder};

pub use mapping::{
    check_name, write_units, MAX_DIMENSION_NAME, MAX_MEASURE_NAME, MAX_RECORDS_PER_CALL,
    WRITE_UNIT_BYTES,
};
pub use rows::{Cell, Column, ColumnType, ResultSet};
pub use sql::{Statements, Window};

/// How lgb records map onto Timestream records.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// One multi-measure record per lgb record; fields are its measures.
    #[default]
    Multi,
    /// One single-measure record per field (measure name = field name).
    Single,
}

/// The unit record times are sent in.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Milliseconds (lgb's own unit; exact).
    #[default]
    Milliseconds,
    /// Seconds (record times are rounded down).
    Seconds,
    /// Microseconds.
    Microseconds,
    /// Nanoseconds.
    Nanoseconds,
}

/// Options of the `timestream` adapter.
///
/// ```json
/// {"type": "timestream", "database": "lgb", "table": "cpu", "region": "eu-west-1",
///  "create_if_missing": true, "mapping": "multi", "key_dimension": "hostname"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimestreamOptions {
    /// Timestream database.
    pub database: String,
    /// Table in that database.
    pub table: String,
    /// AWS region; default: the environment's (`AWS_REGION`, profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Endpoint override for a local server (moto), which also turns endpoint discovery off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Create the database and table when they do not exist (for local and test use).
    #[serde(default)]
    pub create_if_missing: bool,
    /// Memory store retention of a created table, in hours (1 to 8766).
    #[serde(default = "default_memory_hours")]
    pub memory_retention_hours: i64,
    /// Magnetic store retention of a created table, in days (1 to 73000).
    #[serde(default = "default_magnetic_days")]
    pub magnetic_retention_days: i64,
    /// `multi` (one multi-measure record per lgb record) or `single` (one record per field).
    #[serde(default)]
    pub mapping: Mapping,
    /// Measure name of multi-measure records.
    #[serde(default = "default_measure_name")]
    pub measure_name: String,
    /// The dimension that holds the record key.
    #[serde(default = "default_key_dimension")]
    pub key_dimension: String,
    /// Unit record times are sent in.
    #[serde(default)]
    pub time_unit: TimeUnit,
    /// Send what every record of a call shares (dimensions, time, measure name) once, as
    /// common attributes; `false` sends everything with every record.
    #[serde(default = "default_true")]
    pub common_attributes: bool,
    /// Dimensions added to every record (for example the benchmark's name).
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Retries of a throttled call before it counts as `throttled`.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// First retry delay; doubled per retry, with full jitter, at most 5 s.
    #[serde(default = "default_backoff")]
    pub retry_backoff: HumanDuration,
    /// Connect timeout of the HTTP client.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Deadline of one HTTP request (each retry has its own); a slower one is a
    /// `timeout`. None: only the test's per-operation `timeout` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<HumanDuration>,
    /// How far back `read` and `Latest` queries look for a series' newest point.
    #[serde(default = "default_lookback")]
    pub lookback: HumanDuration,
}

fn default_memory_hours() -> i64 {
    24
}
fn default_magnetic_days() -> i64 {
    7
}
fn default_measure_name() -> String {
    "metrics".into()
}
fn default_key_dimension() -> String {
    "series".into()
}
fn default_true() -> bool {
    true
}
fn default_retries() -> u32 {
    5
}
fn default_backoff() -> HumanDuration {
    HumanDuration::millis(50)
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration::secs(3)
}
fn default_lookback() -> HumanDuration {
    HumanDuration::secs(24 * 3600)
}

impl TimestreamOptions {
    /// Options for `database`.`table` with every default.
    pub fn new(database: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            table: table.into(),
            region: None,
            endpoint: None,
            create_if_missing: false,
            memory_retention_hours: default_memory_hours(),
            magnetic_retention_days: default_magnetic_days(),
            mapping: Mapping::default(),
            measure_name: default_measure_name(),
            key_dimension: default_key_dimension(),
            time_unit: TimeUnit::default(),
            common_attributes: true,
            dimensions: BTreeMap::new(),
            max_retries: default_retries(),
            retry_backoff: default_backoff(),
            connect_timeout: default_connect_timeout(),
            request_timeout: None,
            lookback: default_lookback(),
        }
    }
}

impl AdapterOptions for TimestreamOptions {
    /// Where requests go: a pinned worker keeps these as deployed.
    const DESTINATIONS: &'static [&'static str] = &["database", "table", "region", "endpoint"];

    /// The same for every option set.
    fn capabilities(&self) -> Option<Capabilities> {
        Some(capabilities())
    }

    /// What `connect` refuses before it builds a client, paths under `database`.
    fn problems(&self) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        let mut add = |path: &str, msg: String| p.push(ConfigProblem::new(path, msg));
        for (path, name) in [("database", &self.database), ("table", &self.table)] {
            let ok_chars = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !(3..=256).contains(&name.len()) || !ok_chars {
                add(path, format!("`{name}`: Timestream names are 3 to 256 characters of a-z, A-Z, 0-9, _ . -"));
            }
        }
        if let Some(e) = &self.endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                add(
                    "endpoint",
                    format!("`{e}` is not an http:// or https:// URL"),
                );
            }
        }
        if !(1..=8766).contains(&self.memory_retention_hours) {
            add(
                "memory_retention_hours",
                "must be between 1 and 8766".into(),
            );
        }
        if !(1..=73000).contains(&self.magnetic_retention_days) {
            add(
                "magnetic_retention_days",
                "must be between 1 and 73000".into(),
            );
        }
        if let Some(m) = check_name("dimension", &self.key_dimension, MAX_DIMENSION_NAME) {
            add("key_dimension", m);
        }
        if self.mapping == Mapping::Multi {
            if let Some(m) = check_name("measure", &self.measure_name, MAX_MEASURE_NAME) {
                add("measure_name", m);
            }
        }
        for (n, v) in &self.dimensions {
            if let Some(m) = check_name("dimension", n, MAX_DIMENSION_NAME) {
                add(&format!("dimensions.{n}"), m);
            } else if n == &self.key_dimension {
                add(&format!("dimensions.{n}"), "is the key dimension".into());
            } else if v.is_empty() {
                add(&format!("dimensions.{n}"), "has an empty value".into());
            }
        }
        if self.lookback.0.is_zero() {
            add("lookback", "must be above 0".into());
        }
        p
    }
}

/// The `timestream` adapter.
#[derive(Debug)]
pub struct TimestreamDatabase {
    write: aws_sdk_timestreamwrite::Client,
    query: aws_sdk_timestreamquery::Client,
    encoder: Encoder,
    statements: Statements,
    target: Target,
    options: TimestreamOptions,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Most pages one query reads; a guard against a server that never stops paging.
const MAX_PAGES: usize = 100_000;

impl TimestreamDatabase {
    /// Builds the clients (with endpoint discovery against AWS) and, when asked, creates
    /// the database and table. Without `create_if_missing` nothing is sent until the
    /// first operation (against AWS, discovery sends one `DescribeEndpoints` per client).
    pub async fn connect(options: TimestreamOptions) -> Result<Self> {
        options.check()?;
        let mut timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(options.connect_timeout.0);
        if let Some(t) = options.request_timeout {
            timeouts = timeouts.operation_attempt_timeout(t.0);
        }
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            // lgb retries throttling itself, so that every retry is counted.
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(timeouts.build());
        if let Some(r) = &options.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(e) = &options.endpoint {
            loader = loader.endpoint_url(e.clone());
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
            Error::config(
                "database.region",
                "no AWS region: set database.region or AWS_REGION",
            )
        })?;
        let target = Target {
            database: options.database.clone(),
            table: options.table.clone(),
            region,
        };
        let write = aws_sdk_timestreamwrite::Client::new(&sdk);
        let query = aws_sdk_timestreamquery::Client::new(&sdk);
        let (write, query) = if options.endpoint.is_some() {
            (write, query)
        } else {
            let (write, reload) = write
                .with_endpoint_discovery_enabled()
                .await
                .map_err(|e| discovery_error(e, &target))?;
            // Ends by itself when the client is dropped.
            tokio::spawn(reload.reload_task());
            let (query, reload) = query
                .with_endpoint_discovery_enabled()
                .await
                .map_err(|e| discovery_error(e, &target))?;
            tokio::spawn(reload.reload_task());
            (write, query)
        };
        let db = Self {
            write,
            query,
            encoder: Encoder {
                mapping: options.mapping,
                measure_name: options.measure_name.clone(),
                key_dimension: options.key_dimension.clone(),
                time_unit: options.time_unit,
                static_dims: options
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                factor_common: options.common_attributes,
            },
            statements: Statements {
                database: options.database.clone(),
                table: options.table.clone(),
                key_dimension: options.key_dimension.clone(),
                mapping: options.mapping,
                lookback: options.lookback.0,
            },
            target,
            options,
        };
        if db.options.create_if_missing {
            db.create_if_missing().await?;
        }
        Ok(db)
    }

    /// The options the adapter was built with.
    pub fn options(&self) -> &TimestreamOptions {
        &self.options
    }

    /// The statements `read`, `Latest` and `TimeRange` send.
    pub fn statements(&self) -> &Statements {
        &self.statements
    }

    /// The table, as the [`tsbs`] query builders want it.
    pub fn tsbs_table(&self) -> tsbs::TsbsTable {
        tsbs::TsbsTable {
            database: self.options.database.clone(),
            table: self.options.table.clone(),
            host_column: self.options.key_dimension.clone(),
            mapping: self.options.mapping,
        }
    }

    async fn create_if_missing(&self) -> Result<()> {
        // Workers of one process build their adapters at the same time; one at a time
        // here, the later ones find what the first created. (Across processes AWS
        // answers ConflictException, handled below; moto would replace the table.)
        static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _one_at_a_time = CREATING.lock().await;
        let db = &self.options.database;
        let table = &self.options.table;
        match self
            .write
            .describe_database()
            .database_name(db)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if service_code(&e) == Some("ResourceNotFoundException") => {
                match self.write.create_database().database_name(db).send().await {
                    // Another worker created it meanwhile.
                    Err(e) if service_code(&e) != Some("ConflictException") => {
                        return Err(errors::from_sdk(&e, &self.target))
                    }
                    _ => tracing::info!(database = %db, "created Timestream database"),
                }
            }
            Err(e) => return Err(errors::from_sdk(&e, &self.target)),
        }
        match self
            .write
            .describe_table()
            .database_name(db)
            .table_name(table)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if service_code(&e) == Some("ResourceNotFoundException") => {
                let retention = aws_sdk_timestreamwrite::types::RetentionProperties::builder()
                    .memory_store_retention_period_in_hours(self.options.memory_retention_hours)
                    .magnetic_store_retention_period_in_days(self.options.magnetic_retention_days)
                    .build()
                    .map_err(|e| Error::Backend(e.to_string()))?;
                match self
                    .write
                    .create_table()
                    .database_name(db)
                    .table_name(table)
                    .retention_properties(retention)
                    .send()
                    .await
                {
                    Err(e) if service_code(&e) != Some("ConflictException") => {
                        Err(errors::from_sdk(&e, &self.target))
                    }
                    _ => {
                        tracing::info!(database = %db, table = %table, "created Timestream table");
                        Ok(())
                    }
                }
            }
            Err(e) => Err(errors::from_sdk(&e, &self.target)),
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let cap = Duration::from_secs(5);
        let max = self
            .options
            .retry_backoff
            .0
            .saturating_mul(1u32 << retry.min(16))
            .min(cap);
        max.mul_f64(rand::thread_rng().gen::<f64>())
    }

    /// Sends one call, retrying throttling: the rejected records, or the call's error.
    async fn send(&self, call: &Call, retries: &mut u32) -> Result<Vec<Rejection>> {
        loop {
            let sent = self
                .write
                .write_records()
                .database_name(&self.options.database)
                .table_name(&self.options.table)
                .set_common_attributes(call.common.clone())
                .set_records(Some(call.records.clone()))
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(Vec::new()),
                Err(e) => match errors::write_failure(e, &self.target) {
                    WriteFailure::Rejected(r) => return Ok(r),
                    WriteFailure::Failed(err)
                        if err.class() == ErrorClass::Throttled
                            && *retries < self.options.max_retries =>
                    {
                        tokio::time::sleep(self.backoff(*retries)).await;
                        *retries += 1;
                    }
                    WriteFailure::Failed(Error::Throttled(m)) => {
                        return Err(Error::Throttled(format!(
                            "{m} (after {} retries)",
                            *retries
                        )))
                    }
                    WriteFailure::Failed(err) => return Err(err),
                },
            }
        }
    }

    /// Runs `statement` through `timestream-query`, reading every page, and types every
    /// value by its column. `OpMeta::bytes` is the bytes the query scanned, as Timestream
    /// reports it; `OpMeta::items` the rows.
    pub async fn query_rows(&self, statement: &str) -> Result<(ResultSet, OpMeta)> {
        let mut set = ResultSet::default();
        let mut meta = OpMeta::default();
        let mut token: Option<String> = None;
        let mut have_columns = false;
        for _ in 0..MAX_PAGES {
            let page = loop {
                let sent = self
                    .query
                    .query()
                    .query_string(statement)
                    .set_next_token(token.clone())
                    .send()
                    .await;
                match sent {
                    Ok(page) => break page,
                    Err(e) => match errors::from_sdk(&e, &self.target) {
                        Error::Throttled(_) if meta.retries < self.options.max_retries => {
                            tokio::time::sleep(self.backoff(meta.retries)).await;
                            meta.retries += 1;
                        }
                        err => return Err(err),
                    },
                }
            };
            if !have_columns && !page.column_info().is_empty() {
                set.columns = rows::columns(page.column_info())?;
                have_columns = true;
            }
            if !page.rows().is_empty() && !have_columns {
                return Err(Error::Backend(
                    "query result has rows but no column info".into(),
                ));
            }
            for row in page.rows() {
                set.rows.push(rows::parse_row(&set.columns, row)?);
            }
            if let Some(status) = page.query_status() {
                meta.bytes = meta
                    .bytes
                    .max(u64::try_from(status.cumulative_bytes_scanned()).unwrap_or(0));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => {
                    meta.items = set.rows.len() as u64;
                    return Ok((set, meta));
                }
            }
        }
        Err(Error::Backend(format!(
            "query still paging after {MAX_PAGES} pages"
        )))
    }

    /// Records of a result of the adapter's own statements: key, time and measures.
    fn points(&self, set: &ResultSet) -> Vec<Record> {
        match self.options.mapping {
            Mapping::Multi => set
                .rows
                .iter()
                .map(|r| {
                    rows::to_record(
                        &set.columns,
                        r,
                        &self.options.key_dimension,
                        &["measure_name"],
                    )
                })
                .collect(),
            Mapping::Single => rows::fold_single_measure(set, &self.options.key_dimension),
        }
    }
}

/// The service code of an SDK error, if the service answered.
fn service_code<E, R>(e: &SdkError<E, R>) -> Option<&str>
where
    E: aws_sdk_timestreamwrite::error::ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

fn discovery_error(e: aws_sdk_timestreamwrite::error::BoxError, target: &Target) -> Error {
    let class =
        if let Some(sdk) = e.downcast_ref::<SdkError<DescribeEndpointsError>>() {
            errors::from_sdk(sdk, target)
        } else if let Some(sdk) =
            e.downcast_ref::<SdkError<
                aws_sdk_timestreamquery::operation::describe_endpoints::DescribeEndpointsError,
            >>()
        {
            errors::from_sdk(sdk, target)
        } else {
            Error::Connect(crate::redact::redact(&DisplayErrorContext(&*e).to_string()))
        };
    match class {
        Error::Connect(m) => Error::Connect(format!(
            "Timestream endpoint discovery in region {} failed: {m}",
            target.region
        )),
        other => other,
    }
}

#[async_trait]
impl Database for TimestreamDatabase {
    fn name(&self) -> &str {
        "timestream"
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    async fn write(&self, record: &Record) -> Result<OpMeta> {
        let calls = self
            .encoder
            .encode(std::slice::from_ref(record), now_ms())?;
        let mut meta = OpMeta::default();
        for call in &calls {
            let rejected = self.send(call, &mut meta.retries).await?;
            if !rejected.is_empty() {
                let reasons: Vec<String> = rejected.into_iter().map(|r| r.reason).collect();
                return Err(Error::Rejected(reasons.join("; ")));
            }
            let bytes = call.billable_bytes(0..call.records.len());
            meta.bytes += bytes;
            meta.write_units += write_units(bytes);
        }
        meta.items = 1;
        Ok(meta)
    }

    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        let mut out = BatchOutcome::default();
        if records.is_empty() {
            return Ok(out);
        }
        let calls = self.encoder.encode(records, now_ms())?;
        for (n, call) in calls.iter().enumerate() {
            match self.send(call, &mut out.meta.retries).await {
                Ok(rejected) => {
                    let mut accepted = vec![true; call.records.len()];
                    let mut reasons: BTreeMap<usize, Vec<String>> = BTreeMap::new();
                    for r in rejected {
                        match call.owner.get(r.index) {
                            Some(&owner) => {
                                accepted[r.index] = false;
                                reasons.entry(owner).or_default().push(r.reason);
                            }
                            None => tracing::warn!(
                                index = r.index,
                                "Timestream rejected a record index outside the call"
                            ),
                        }
                    }
                    let bytes = call.billable_bytes((0..accepted.len()).filter(|&i| accepted[i]));
                    out.meta.bytes += bytes;
                    out.meta.write_units += write_units(bytes);
                    out.meta.items += (call.inputs.len() - reasons.len()) as u64;
                    out.failed
                        .extend(reasons.into_iter().map(|(index, why)| ItemFailure {
                            index,
                            class: ErrorClass::Rejected,
                            message: why.join("; "),
                        }));
                }
                // Nothing was written yet: the batch failed as a whole.
                Err(e) if n == 0 => return Err(e),
                // Earlier calls were written, so they are kept; this call's records and
                // those not sent are listed as failed.
                Err(e) => {
                    let message = e.to_string();
                    out.failed
                        .extend((call.inputs.start..records.len()).map(|index| ItemFailure {
                            index,
                            class: e.class(),
                            message: if call.inputs.contains(&index) {
                                message.clone()
                            } else {
                                "not sent: an earlier call of this batch failed".into()
                            },
                        }));
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        let (set, meta) = self.query_rows(&self.statements.read(key)).await?;
        Ok(ReadOutcome {
            record: self
                .points(&set)
                .into_iter()
                .next()
                .map(std::sync::Arc::new),
            meta,
        })
    }

    /// One query per key, at most [`PARALLEL_READS`] in flight at once (Timestream
    /// has no multi-key read).
    async fn read_many(&self, keys: &[String]) -> Result<QueryOutcome> {
        super::read_each(self, keys, PARALLEL_READS).await
    }

    async fn query(&self, query: &Query) -> Result<QueryOutcome> {
        let (records, meta) = match query {
            Query::Latest { key, limit } => {
                let (set, meta) = self
                    .query_rows(&self.statements.latest(key, *limit))
                    .await?;
                (self.points(&set), meta)
            }
            Query::TimeRange {
                key,
                start_ms,
                end_ms,
            } => {
                let (set, meta) = self
                    .query_rows(&self.statements.time_range(key, *start_ms, *end_ms))
                    .await?;
                (self.points(&set), meta)
            }
            Query::Native { statement } => {
                let (set, meta) = self.query_rows(statement).await?;
                let records = set
                    .rows
                    .iter()
                    .map(|r| rows::to_record(&set.columns, r, &self.options.key_dimension, &[]))
                    .collect();
                (records, meta)
            }
            other => {
                return Err(Error::Unsupported(format!(
                "the timestream adapter has no `{}` queries (it has latest, time_range and native)",
                other.kind().as_str()
            )))
            }
        };
        Ok(QueryOutcome { records, meta })
    }
}

/// Most queries one `read_many` (a `parallel_read`) has in flight at once.
pub const PARALLEL_READS: usize = 16;

/// What the Timestream adapter can do (the same for every option set).
fn capabilities() -> Capabilities {
    Capabilities {
        max_batch_size: MAX_RECORDS_PER_CALL,
        queries: vec![QueryKind::Latest, QueryKind::TimeRange, QueryKind::Native],
        max_item_bytes: None,
        reads_records: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_with_paths() {
        let mut o = TimestreamOptions::new("db", "t");
        o.endpoint = Some("127.0.0.1:1".into());
        o.key_dimension = "time".into();
        o.dimensions.insert("bench".into(), String::new());
        o.memory_retention_hours = 0;
        let paths: Vec<String> = o.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "database",
                "table",
                "endpoint",
                "memory_retention_hours",
                "key_dimension",
                "dimensions.bench"
            ]
        );
        assert_eq!(
            o.check().unwrap_err().config_problems()[0].path,
            "database.database"
        );
        assert!(TimestreamOptions::new("lgb", "cpu").problems().is_empty());
        let registry = crate::database::DatabaseRegistry::with_builtins();
        let f = registry.factory("timestream").unwrap();
        let p =
            f.validate(&serde_json::json!({"database": "lgb", "table": "cpu", "mapping": "wide"}));
        assert_eq!(p[0].path, "database.mapping", "{p:?}");
        let p = f.validate(
            &serde_json::json!({"database": "lgb", "table": "cpu", "measure_name": "a:b"}),
        );
        assert_eq!(p[0].path, "database.measure_name", "{p:?}");
    }
}
