//! The `dynamodb` adapter: Amazon DynamoDB through aws-sdk-dynamodb.
//!
//! One [`Client`] per adapter, built from the standard AWS credential chain and region
//! (or an `endpoint` override for local servers), serves every task of a worker; the
//! worker caches adapters by config, so a warm Lambda reuses its connections.
//!
//! Every request asks for `ReturnConsumedCapacity: TOTAL`; consumed read and write
//! units, retries, bytes and items go into [`OpMeta`], summed over pages, chunks and
//! retries. The SDK's own retries are off: this adapter retries (throttling, 5xx,
//! connection failures; exponential backoff with full jitter) so that every retry is
//! counted in results.
//!
//! How a [`Record`] maps to an item:
//!
//! | record | item |
//! |---|---|
//! | `key` | partition key (type S, N or B; N must be a number, B takes the UTF-8 bytes) |
//! | `timestamp` | sort key, when the table has one (decimal); otherwise number attribute `timestamp` |
//! | `fields` | one attribute each: `Str` → S, `Int`/`Float` → N, `Bool` → BOOL, `Bytes` → B |
//! | `dimensions` | one string (S) attribute each |
//!
//! Reads return every non-key attribute as a field, sorted by name (DynamoDB does not
//! keep dimensions apart from fields, nor attribute order). With a sort key, key strings
//! (`read`, `read_many`, `prefix` and `range` queries) are `partition#sort`, split at the
//! last `key_separator`.
//!
//! This module owns the mapping between lgb and DynamoDB; it must not measure time
//! (the executor does) nor decide what counts as a benchmark error beyond the class.

mod errors;
mod item;

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConsumedCapacity, KeySchemaElement,
    KeyType as SdkKeyType, KeysAndAttributes, ProvisionedThroughput, PutRequest,
    ReturnConsumedCapacity, ScalarAttributeType, TableStatus, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

pub use item::{is_number, KeySchema, MAX_ITEM_BYTES, TIMESTAMP_ATTRIBUTE};

use self::errors::{classify, Backoff, Target};
use self::item::{item_size, Item};
use super::{BatchOutcome, Capabilities, Database, ItemFailure, OpMeta, QueryOutcome, ReadOutcome};
use crate::error::{Error, ErrorClass, Result};
use crate::record::{Query, QueryKind, Record};
use crate::units::HumanDuration;

/// Largest BatchWriteItem request DynamoDB accepts.
pub const MAX_BATCH_WRITE: usize = 25;
/// Largest BatchGetItem request DynamoDB accepts.
pub const MAX_BATCH_GET: usize = 100;
/// How long `create_table_if_missing` waits for the table to become ACTIVE.
const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum KeyType {
    /// String.
    S,
    /// Number (key strings must be decimal numbers).
    N,
    /// Binary (the UTF-8 bytes of the key string).
    B,
}

/// A key attribute of the table: its name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Attribute type: `S`, `N` or `B`.
    #[serde(rename = "type", default = "default_key_type")]
    pub kind: KeyType,
}

fn default_key_type() -> KeyType {
    KeyType::S
}

/// Capacity mode of a table created by `create_table_if_missing`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Billing {
    /// On-demand (PAY_PER_REQUEST).
    #[default]
    OnDemand,
    /// Provisioned capacity.
    Provisioned {
        /// Read capacity units.
        read_capacity: NonZeroU32,
        /// Write capacity units.
        write_capacity: NonZeroU32,
    },
}

/// How `parallel_read` operations read many keys.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ParallelRead {
    /// BatchGetItem, 100 keys per request, UnprocessedKeys retried.
    #[default]
    BatchGet,
    /// One GetItem per key, all at once.
    ConcurrentGet,
}

/// The adapter's retry policy (exponential backoff with full jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per request, including the first; 1 disables retries.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: NonZeroU32,
    /// Backoff cap of the first retry; doubled per retry.
    #[serde(default = "default_base_backoff")]
    pub base_backoff: HumanDuration,
    /// Largest backoff cap.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
}

fn default_max_attempts() -> NonZeroU32 {
    NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN)
}
fn default_base_backoff() -> HumanDuration {
    HumanDuration::millis(25)
}
fn default_max_backoff() -> HumanDuration {
    HumanDuration::secs(1)
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            base_backoff: default_base_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

/// Options of the `dynamodb` adapter.
///
/// ```json
/// { "type": "dynamodb", "table": "lgb-bench", "endpoint": "http://127.0.0.1:8000",
///   "create_table_if_missing": true }
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DynamoDbOptions {
    /// Table name: 3–255 characters of `a-z A-Z 0-9 _ - .`.
    #[serde(deserialize_with = "table_name")]
    pub table: String,
    /// AWS region; default: the standard chain (`AWS_REGION`, profile, instance metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Endpoint URL for local servers (for example `http://127.0.0.1:8000`); default: AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Partition (hash) key; takes `Record.key`. Default `{"name": "pk", "type": "S"}`.
    #[serde(default = "default_partition_key")]
    pub partition_key: KeyAttribute,
    /// Sort (range) key, if the table has one; takes `Record.timestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<KeyAttribute>,
    /// Strongly consistent reads (GetItem, BatchGetItem, Query, PartiQL).
    #[serde(default)]
    pub consistent_read: bool,
    /// Create the table when it does not exist, then wait until it is ACTIVE. For local
    /// and test use; when the table exists its key schema is checked against the config.
    #[serde(default)]
    pub create_table_if_missing: bool,
    /// Capacity mode of a created table: `"on_demand"` or
    /// `{"provisioned": {"read_capacity": 5, "write_capacity": 5}}`.
    #[serde(default)]
    pub billing: Billing,
    /// Deadline of one request attempt (connect included).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// Retries of throttled, 5xx and connection-failed requests.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// How long a batch keeps retrying UnprocessedItems / UnprocessedKeys; what is left
    /// then is reported as `throttled` item failures. Keep it below the test's `timeout`.
    #[serde(default = "default_batch_deadline")]
    pub batch_deadline: HumanDuration,
    /// How `parallel_read` reads many keys: `batch_get` or `concurrent_get`.
    #[serde(default)]
    pub parallel_read: ParallelRead,
    /// Items per Query / ExecuteStatement page (the request's `Limit`); default: as
    /// many as fit in DynamoDB's 1 MB page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<NonZeroU32>,
    /// Most items returned by `key` and `native` queries, which carry no limit of their own.
    #[serde(default = "default_max_query_items")]
    pub max_query_items: usize,
    /// Separates partition and sort values in key strings when the table has a sort key.
    #[serde(default = "default_separator")]
    pub key_separator: String,
}

fn default_partition_key() -> KeyAttribute {
    KeyAttribute {
        name: "pk".into(),
        kind: KeyType::S,
    }
}
fn default_request_timeout() -> HumanDuration {
    HumanDuration::secs(5)
}
fn default_batch_deadline() -> HumanDuration {
    HumanDuration::secs(5)
}
fn default_max_query_items() -> usize {
    10_000
}
fn default_separator() -> String {
    "#".into()
}

fn table_name<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let name = String::deserialize(d)?;
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !(3..=255).contains(&name.len()) || !ok_chars {
        return Err(serde::de::Error::custom(format!(
            "`{name}` is not a DynamoDB table name: 3–255 characters of a-z, A-Z, 0-9, `_`, `-`, `.`"
        )));
    }
    Ok(name)
}

impl DynamoDbOptions {
    /// Options for `table` with every default.
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            region: None,
            endpoint: None,
            partition_key: default_partition_key(),
            sort_key: None,
            consistent_read: false,
            create_table_if_missing: false,
            billing: Billing::default(),
            request_timeout: default_request_timeout(),
            retry: RetryPolicy::default(),
            batch_deadline: default_batch_deadline(),
            parallel_read: ParallelRead::default(),
            page_size: None,
            max_query_items: default_max_query_items(),
            key_separator: default_separator(),
        }
    }
}

impl super::AdapterOptions for DynamoDbOptions {
    fn capabilities(&self) -> Option<Capabilities> {
        Some(capabilities_for(self))
    }

    /// What `connect` refuses before it builds a client, paths under `database`.
    fn problems(&self) -> Vec<crate::error::ConfigProblem> {
        use crate::error::ConfigProblem;
        let mut problems = Vec::new();
        if let Some(e) = &self.endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                problems.push(ConfigProblem::new(
                    "endpoint",
                    format!("`{e}` is not an http:// or https:// URL"),
                ));
            }
        }
        // DynamoDB attribute names of keys are 1 to 255 bytes.
        let keys = std::iter::once(("partition_key.name", &self.partition_key))
            .chain(self.sort_key.as_ref().map(|k| ("sort_key.name", k)));
        for (path, key) in keys {
            if !(1..=255).contains(&key.name.len()) {
                problems.push(ConfigProblem::new(path, "must be 1 to 255 bytes long"));
            }
        }
        if self
            .sort_key
            .as_ref()
            .is_some_and(|s| s.name == self.partition_key.name)
        {
            problems.push(ConfigProblem::new(
                "sort_key.name",
                "must differ from the partition key's name",
            ));
        }
        if self.key_separator.is_empty() {
            problems.push(ConfigProblem::new("key_separator", "must not be empty"));
        }
        if self.request_timeout.0.is_zero() {
            problems.push(ConfigProblem::new("request_timeout", "must be above 0"));
        }
        problems
    }
}

/// A DynamoDB table as a [`Database`].
pub struct DynamoDbDatabase {
    client: Client,
    options: DynamoDbOptions,
    schema: KeySchema,
    target: Target,
    backoff: Backoff,
}

impl std::fmt::Debug for DynamoDbDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client is left out: its config holds the credentials provider.
        f.debug_struct("DynamoDbDatabase")
            .field("table", &self.target.table)
            .field("region", &self.target.region)
            .field("endpoint", &self.target.endpoint)
            .finish()
    }
}

fn sum_capacity(c: Option<&ConsumedCapacity>, meta: &mut OpMeta, write: bool) {
    let Some(c) = c else { return };
    if write {
        meta.write_units += c.write_capacity_units.or(c.capacity_units).unwrap_or(0.0);
    } else {
        meta.read_units += c.read_capacity_units.or(c.capacity_units).unwrap_or(0.0);
    }
}

impl DynamoDbDatabase {
    /// Builds the client (credential chain, region, endpoint) and, with
    /// `create_table_if_missing`, creates the table and waits until it is ACTIVE.
    pub async fn connect(options: DynamoDbOptions) -> Result<Self> {
        super::AdapterOptions::check(&options)?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(r) = &options.region {
            loader = loader.region(Region::new(r.clone()));
        }
        let shared = loader.load().await;
        let region = shared.region().map(|r| r.to_string()).ok_or_else(|| {
            Error::config(
                "database.region",
                "no AWS region: set `database.region` or the AWS_REGION environment variable",
            )
        })?;
        let timeout = options.request_timeout.0;
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&shared)
            // Retries happen in this adapter, where they are counted.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeout)
                    .operation_attempt_timeout(timeout)
                    .build(),
            );
        if let Some(e) = &options.endpoint {
            builder = builder.endpoint_url(e.clone());
        }
        let client = Client::from_conf(builder.build());
        let db = Self {
            client,
            schema: KeySchema {
                partition: options.partition_key.clone(),
                sort: options.sort_key.clone(),
                separator: options.key_separator.clone(),
            },
            target: Target {
                table: options.table.clone(),
                region,
                endpoint: options.endpoint.clone(),
            },
            backoff: Backoff {
                max_attempts: options.retry.max_attempts.get(),
                base: options.retry.base_backoff.0,
                max: options.retry.max_backoff.0,
            },
            options,
        };
        if db.options.create_table_if_missing {
            db.ensure_table().await?;
        }
        Ok(db)
    }

    /// The underlying SDK client, for setup and verification outside the benchmark.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The adapter's options.
    pub fn options(&self) -> &DynamoDbOptions {
        &self.options
    }

    /// The region the client uses.
    pub fn region(&self) -> &str {
        &self.target.region
    }

    /// Sends a request built by `call`, retrying retryable failures per the policy.
    async fn send<T, E, F, Fut>(&self, op: &str, meta: &mut OpMeta, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(err) => {
                    let c = classify(op, err, &self.target);
                    if !c.retryable || attempt >= self.backoff.max_attempts {
                        return Err(c.error);
                    }
                    tokio::time::sleep(self.backoff.delay(attempt)).await;
                    meta.retries += 1;
                    attempt += 1;
                }
            }
        }
    }

    async fn ensure_table(&self) -> Result<()> {
        let mut meta = OpMeta::default();
        let t = &self.target.table;
        let described = self
            .send("DescribeTable", &mut meta, || {
                self.client.describe_table().table_name(t).send()
            })
            .await;
        match described {
            Ok(out) => {
                if let Some(table) = out.table() {
                    self.check_key_schema(table)?;
                }
            }
            Err(Error::Config(p)) if p.iter().any(|p| p.path == "database.table") => {
                self.create_table().await?;
            }
            Err(e) => return Err(e),
        }
        self.wait_active().await
    }

    fn check_key_schema(&self, table: &aws_sdk_dynamodb::types::TableDescription) -> Result<()> {
        let defs: HashMap<&str, &ScalarAttributeType> = table
            .attribute_definitions()
            .iter()
            .map(|d| (d.attribute_name(), d.attribute_type()))
            .collect();
        let describe = |kt: SdkKeyType| {
            table
                .key_schema()
                .iter()
                .find(|k| *k.key_type() == kt)
                .map(|k| {
                    (
                        k.attribute_name().to_string(),
                        defs.get(k.attribute_name()).map(|t| t.as_str().to_string()),
                    )
                })
        };
        let want = |a: &KeyAttribute| (a.name.clone(), Some(scalar(a.kind).as_str().to_string()));
        let mut problems = Vec::new();
        let (hash, range) = (describe(SdkKeyType::Hash), describe(SdkKeyType::Range));
        if hash != Some(want(&self.options.partition_key)) {
            problems.push(crate::error::ConfigProblem::new(
                "database.partition_key",
                format!(
                    "table `{}` has partition key {hash:?}, the config says {:?}",
                    self.target.table,
                    want(&self.options.partition_key)
                ),
            ));
        }
        if range != self.options.sort_key.as_ref().map(want) {
            problems.push(crate::error::ConfigProblem::new(
                "database.sort_key",
                format!(
                    "table `{}` has sort key {range:?}, the config says {:?}",
                    self.target.table,
                    self.options.sort_key.as_ref().map(want)
                ),
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(problems))
        }
    }

    async fn create_table(&self) -> Result<()> {
        let element = |a: &KeyAttribute, kt: SdkKeyType| {
            KeySchemaElement::builder()
                .attribute_name(&a.name)
                .key_type(kt)
                .build()
        };
        let definition = |a: &KeyAttribute| {
            AttributeDefinition::builder()
                .attribute_name(&a.name)
                .attribute_type(scalar(a.kind))
                .build()
        };
        let built = || -> std::result::Result<_, aws_sdk_dynamodb::error::BuildError> {
            let mut req = self
                .client
                .create_table()
                .table_name(&self.target.table)
                .key_schema(element(&self.options.partition_key, SdkKeyType::Hash)?)
                .attribute_definitions(definition(&self.options.partition_key)?);
            if let Some(sort) = &self.options.sort_key {
                req = req
                    .key_schema(element(sort, SdkKeyType::Range)?)
                    .attribute_definitions(definition(sort)?);
            }
            Ok(match self.options.billing {
                Billing::OnDemand => req.billing_mode(BillingMode::PayPerRequest),
                Billing::Provisioned {
                    read_capacity,
                    write_capacity,
                } => req
                    .billing_mode(BillingMode::Provisioned)
                    .provisioned_throughput(
                        ProvisionedThroughput::builder()
                            .read_capacity_units(i64::from(read_capacity.get()))
                            .write_capacity_units(i64::from(write_capacity.get()))
                            .build()?,
                    ),
            })
        };
        let req = built()
            .map_err(|e| Error::config("database", format!("cannot build CreateTable: {e}")))?;
        let mut meta = OpMeta::default();
        match self
            .send("CreateTable", &mut meta, || req.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // Another worker created it meanwhile (ResourceInUseException).
            Err(Error::Backend(m)) if m.contains("ResourceInUseException") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn wait_active(&self) -> Result<()> {
        let start = Instant::now();
        let mut meta = OpMeta::default();
        loop {
            let out = self
                .send("DescribeTable", &mut meta, || {
                    self.client
                        .describe_table()
                        .table_name(&self.target.table)
                        .send()
                })
                .await;
            let status = match out {
                Ok(o) => o.table().and_then(|t| t.table_status().cloned()),
                // Just created: some servers need a moment before they describe it.
                Err(Error::Config(_)) if start.elapsed() < Duration::from_secs(5) => None,
                Err(e) => return Err(e),
            };
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if start.elapsed() > TABLE_READY_TIMEOUT {
                return Err(Error::Timeout(format!(
                    "table `{}` is not ACTIVE after {:?} (status {status:?})",
                    self.target.table, TABLE_READY_TIMEOUT
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Writes one chunk (unique keys, at most 25 items) and retries its UnprocessedItems
    /// until `deadline`; leftovers become `throttled` item failures, never dropped.
    async fn write_chunk(
        &self,
        chunk: Vec<(usize, WriteRequest, usize)>,
        deadline: Instant,
        out: &mut BatchOutcome,
    ) -> Result<()> {
        let table = &self.target.table;
        let mut todo = chunk;
        let mut round = 0u32;
        loop {
            let requests: Vec<WriteRequest> = todo.iter().map(|(_, w, _)| w.clone()).collect();
            let sent = self
                .send("BatchWriteItem", &mut out.meta, || {
                    self.client
                        .batch_write_item()
                        .request_items(table, requests.clone())
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                })
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e)
                    if matches!(
                        e.class(),
                        ErrorClass::Throttled
                            | ErrorClass::Rejected
                            | ErrorClass::Timeout
                            | ErrorClass::Backend
                    ) =>
                {
                    let message = e.to_string();
                    out.failed
                        .extend(todo.iter().map(|(index, _, _)| ItemFailure {
                            index: *index,
                            class: e.class(),
                            message: message.clone(),
                        }));
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            for c in resp.consumed_capacity() {
                sum_capacity(Some(c), &mut out.meta, true);
            }
            let unprocessed = resp
                .unprocessed_items
                .and_then(|mut m| m.remove(table))
                .unwrap_or_default();
            // Keep the unprocessed ones (matched by key), count the rest as written.
            let left_ids: Vec<String> = unprocessed
                .iter()
                .filter_map(|w| {
                    w.put_request()
                        .and_then(|p| self.schema.identity_of_item(p.item()))
                })
                .collect();
            let (left, done): (Vec<_>, Vec<_>) = todo.into_iter().partition(|(_, w, _)| {
                w.put_request()
                    .and_then(|p| self.schema.identity_of_item(p.item()))
                    .is_some_and(|id| left_ids.contains(&id))
            });
            out.meta.items += done.len() as u64;
            out.meta.bytes += done.iter().map(|(_, _, size)| *size as u64).sum::<u64>();
            if left.is_empty() {
                return Ok(());
            }
            round += 1;
            let wait = self.backoff.delay(round);
            if Instant::now() + wait >= deadline {
                let message = format!(
                    "not written: still in UnprocessedItems after {round} attempts and the batch deadline of {:?}",
                    self.options.batch_deadline.0
                );
                out.failed
                    .extend(left.iter().map(|(index, _, _)| ItemFailure {
                        index: *index,
                        class: ErrorClass::Throttled,
                        message: message.clone(),
                    }));
                return Ok(());
            }
            tokio::time::sleep(wait).await;
            out.meta.retries += 1;
            todo = left;
        }
    }

    /// Reads keys with BatchGetItem, 100 per request, retrying UnprocessedKeys until the
    /// batch deadline. Returns the found records by key identity.
    async fn batch_get(&self, keys: &[Item], meta: &mut OpMeta) -> Result<HashMap<String, Record>> {
        let table = &self.target.table;
        let deadline = Instant::now() + self.options.batch_deadline.0;
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_BATCH_GET) {
            let mut todo: Vec<Item> = chunk.to_vec();
            let mut round = 0u32;
            while !todo.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(todo))
                    .consistent_read(self.options.consistent_read)
                    .build()
                    .map_err(|e| Error::Backend(format!("cannot build BatchGetItem: {e}")))?;
                let resp = self
                    .send("BatchGetItem", meta, || {
                        self.client
                            .batch_get_item()
                            .request_items(table, request.clone())
                            .return_consumed_capacity(ReturnConsumedCapacity::Total)
                            .send()
                    })
                    .await?;
                for c in resp.consumed_capacity() {
                    sum_capacity(Some(c), meta, false);
                }
                let mut resp = resp;
                for it in resp
                    .responses
                    .take()
                    .and_then(|mut m| m.remove(table))
                    .unwrap_or_default()
                {
                    meta.bytes += item_size(&it) as u64;
                    meta.items += 1;
                    if let Some(id) = self.schema.identity_of_item(&it) {
                        found.insert(id, self.schema.record(it));
                    }
                }
                todo = resp
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if todo.is_empty() {
                    break;
                }
                round += 1;
                let wait = self.backoff.delay(round);
                if Instant::now() + wait >= deadline {
                    return Err(Error::Throttled(format!(
                        "{} keys still in UnprocessedKeys after {round} attempts and the batch deadline of {:?}",
                        todo.len(),
                        self.options.batch_deadline.0
                    )));
                }
                tokio::time::sleep(wait).await;
                meta.retries += 1;
            }
        }
        Ok(found)
    }

    /// Runs a Query with `condition` over `values`, page by page, up to `limit` items.
    async fn run_query(
        &self,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        forward: bool,
        limit: usize,
    ) -> Result<QueryOutcome> {
        let mut out = QueryOutcome::default();
        let mut start: Option<Item> = None;
        let mut names =
            HashMap::from([("#pk".to_string(), self.options.partition_key.name.clone())]);
        if let Some(s) = &self.options.sort_key {
            if condition.contains("#sk") {
                names.insert("#sk".to_string(), s.name.clone());
            }
        }
        let values: HashMap<String, AttributeValue> = values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        while out.records.len() < limit {
            let page = self.page_limit(limit - out.records.len());
            let req = self
                .client
                .query()
                .table_name(&self.target.table)
                .key_condition_expression(condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(forward)
                .consistent_read(self.options.consistent_read)
                .set_limit(page)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            let resp = self
                .send("Query", &mut out.meta, || req.clone().send())
                .await?;
            sum_capacity(resp.consumed_capacity(), &mut out.meta, false);
            let mut resp = resp;
            self.take_items(resp.items.take(), limit, &mut out);
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    fn page_limit(&self, remaining: usize) -> Option<i32> {
        let remaining = i32::try_from(remaining).unwrap_or(i32::MAX);
        Some(match self.options.page_size {
            Some(p) => remaining.min(i32::try_from(p.get()).unwrap_or(i32::MAX)),
            None => remaining,
        })
    }

    fn take_items(&self, items: Option<Vec<Item>>, limit: usize, out: &mut QueryOutcome) {
        for it in items.unwrap_or_default() {
            if out.records.len() >= limit {
                break;
            }
            out.meta.bytes += item_size(&it) as u64;
            out.meta.items += 1;
            out.records.push(self.schema.record(it));
        }
    }

    async fn partiql(&self, statement: &str) -> Result<QueryOutcome> {
        let limit = self.options.max_query_items;
        let writes = !statement
            .trim_start()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("select"));
        let mut out = QueryOutcome::default();
        let mut token: Option<String> = None;
        loop {
            let req = self
                .client
                .execute_statement()
                .statement(statement)
                .consistent_read(self.options.consistent_read)
                .set_limit(if writes {
                    None
                } else {
                    self.page_limit(limit - out.records.len())
                })
                .set_next_token(token.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            let resp = self
                .send("ExecuteStatement", &mut out.meta, || req.clone().send())
                .await?;
            sum_capacity(resp.consumed_capacity(), &mut out.meta, writes);
            let mut resp = resp;
            self.take_items(resp.items.take(), limit, &mut out);
            match resp.next_token {
                Some(t) if out.records.len() < limit => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }

    /// A range from `start` on a table without a sort key, as YCSB's DynamoDB binding
    /// scans: a paginated Scan that begins after the item of `start`
    /// (`ExclusiveStartKey`) and returns up to `limit` items in the table's own
    /// (hash) order, not key order.
    async fn scan_from(&self, start: &str, limit: usize) -> Result<QueryOutcome> {
        let mut out = QueryOutcome::default();
        let mut from: Option<HashMap<String, AttributeValue>> = Some(HashMap::from([(
            self.options.partition_key.name.clone(),
            self.partition_value(start, start)?,
        )]));
        while out.records.len() < limit {
            let page = self.page_limit(limit - out.records.len());
            let req = self
                .client
                .scan()
                .table_name(&self.target.table)
                .consistent_read(self.options.consistent_read)
                .set_limit(page)
                .set_exclusive_start_key(from.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            let resp = self
                .send("Scan", &mut out.meta, || req.clone().send())
                .await?;
            sum_capacity(resp.consumed_capacity(), &mut out.meta, false);
            let mut resp = resp;
            self.take_items(resp.items.take(), limit, &mut out);
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => from = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    fn require_sort(&self, kind: QueryKind) -> Result<&KeyAttribute> {
        self.options.sort_key.as_ref().ok_or_else(|| {
            Error::Unsupported(format!(
                "`{}` queries need a sort key, and table `{}` is configured without one (set `sort_key`)",
                kind.as_str(),
                self.target.table
            ))
        })
    }

    fn partition_value(&self, text: &str, whole: &str) -> Result<AttributeValue> {
        item::key_value(&self.options.partition_key, text, whole)
    }
}

fn scalar(k: KeyType) -> ScalarAttributeType {
    match k {
        KeyType::S => ScalarAttributeType::S,
        KeyType::N => ScalarAttributeType::N,
        KeyType::B => ScalarAttributeType::B,
    }
}

/// What a DynamoDB adapter with `options` can do: key and native (PartiQL) queries;
/// with a sort key also range, latest and (string sort keys) prefix or (numeric sort
/// keys) time-range queries; without one, open-ended ranges (YCSB's `scan`) as a
/// paginated Scan from the start key. Known without connecting.
pub fn capabilities_for(options: &DynamoDbOptions) -> Capabilities {
    let mut queries = vec![QueryKind::Key, QueryKind::Native];
    match options.sort_key.as_ref().map(|s| s.kind) {
        Some(KeyType::N) => {
            queries.extend([QueryKind::Range, QueryKind::TimeRange, QueryKind::Latest])
        }
        Some(_) => queries.extend([QueryKind::Prefix, QueryKind::Range, QueryKind::Latest]),
        None => queries.push(QueryKind::Range),
    }
    Capabilities {
        max_batch_size: MAX_BATCH_WRITE,
        queries,
        max_item_bytes: Some(MAX_ITEM_BYTES),
        reads_records: true,
    }
}

#[async_trait]
impl Database for DynamoDbDatabase {
    fn name(&self) -> &str {
        "dynamodb"
    }

    fn capabilities(&self) -> Capabilities {
        capabilities_for(&self.options)
    }

    async fn write(&self, record: &Record) -> Result<OpMeta> {
        let (item, size) = self.schema.item(record)?;
        let mut meta = OpMeta {
            bytes: size as u64,
            items: 1,
            ..OpMeta::default()
        };
        let req = self
            .client
            .put_item()
            .table_name(&self.target.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let resp = self
            .send("PutItem", &mut meta, || req.clone().send())
            .await?;
        sum_capacity(resp.consumed_capacity(), &mut meta, true);
        Ok(meta)
    }

    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        let deadline = Instant::now() + self.options.batch_deadline.0;
        let mut out = BatchOutcome::default();
        let mut chunk: Vec<(usize, WriteRequest, usize)> = Vec::with_capacity(MAX_BATCH_WRITE);
        let mut chunk_keys: Vec<(&str, Option<i64>)> = Vec::with_capacity(MAX_BATCH_WRITE);
        for (index, record) in records.iter().enumerate() {
            let put = self.schema.item(record).and_then(|(item, size)| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| (WriteRequest::builder().put_request(p).build(), size))
                    .map_err(|e| Error::Backend(format!("cannot build PutRequest: {e}")))
            });
            let (request, size) = match put {
                Ok(v) => v,
                Err(e) => {
                    out.failed.push(ItemFailure {
                        index,
                        class: e.class(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let key = (record.key.as_str(), record.timestamp);
            // DynamoDB refuses a batch that names a key twice; a repeated key starts a new
            // chunk, which is sent later, so the last version still wins.
            if chunk.len() == MAX_BATCH_WRITE || chunk_keys.contains(&key) {
                self.write_chunk(std::mem::take(&mut chunk), deadline, &mut out)
                    .await?;
                chunk_keys.clear();
            }
            chunk.push((index, request, size));
            chunk_keys.push(key);
        }
        if !chunk.is_empty() {
            self.write_chunk(chunk, deadline, &mut out).await?;
        }
        out.failed.sort_by_key(|f| f.index);
        Ok(out)
    }

    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        let key = self.schema.key(key)?;
        let mut meta = OpMeta::default();
        let req = self
            .client
            .get_item()
            .table_name(&self.target.table)
            .set_key(Some(key))
            .consistent_read(self.options.consistent_read)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let mut resp = self
            .send("GetItem", &mut meta, || req.clone().send())
            .await?;
        sum_capacity(resp.consumed_capacity(), &mut meta, false);
        let record = resp.item.take().map(|it| {
            meta.bytes += item_size(&it) as u64;
            meta.items += 1;
            std::sync::Arc::new(self.schema.record(it))
        });
        Ok(ReadOutcome { record, meta })
    }

    async fn read_many(&self, keys: &[String]) -> Result<QueryOutcome> {
        let mut out = QueryOutcome::default();
        match self.options.parallel_read {
            ParallelRead::ConcurrentGet => {
                let reads =
                    futures::future::try_join_all(keys.iter().map(|k| self.read(k))).await?;
                for r in reads {
                    out.meta.add(&r.meta);
                    out.records
                        .extend(r.record.map(std::sync::Arc::unwrap_or_clone));
                }
            }
            ParallelRead::BatchGet => {
                // BatchGetItem refuses repeated keys: ask once, answer every occurrence.
                let mut ids = Vec::with_capacity(keys.len());
                let mut unique: Vec<Item> = Vec::with_capacity(keys.len());
                let mut seen = std::collections::HashSet::with_capacity(keys.len());
                for k in keys {
                    let key = self.schema.key(k)?;
                    let id = self
                        .schema
                        .identity_of_item(&key)
                        .ok_or_else(|| Error::Backend(format!("key `{k}` has no identity")))?;
                    if seen.insert(id.clone()) {
                        unique.push(key);
                    }
                    ids.push(id);
                }
                let found = self.batch_get(&unique, &mut out.meta).await?;
                out.records
                    .extend(ids.iter().filter_map(|id| found.get(id).cloned()));
            }
        }
        Ok(out)
    }

    async fn query(&self, query: &Query) -> Result<QueryOutcome> {
        match query {
            Query::Key { key } => {
                let pk = self.partition_value(key, key)?;
                self.run_query(
                    "#pk = :pk",
                    vec![(":pk", pk)],
                    true,
                    self.options.max_query_items,
                )
                .await
            }
            Query::Prefix { prefix, limit } => {
                let sort = self.require_sort(QueryKind::Prefix)?;
                if sort.kind == KeyType::N {
                    return Err(Error::Unsupported(format!(
                        "`prefix` queries use begins_with, which DynamoDB allows on S and B sort keys only; sort key `{}` has type N",
                        sort.name
                    )));
                }
                let (p, s) = self.schema.split(prefix, "prefix")?;
                let pk = self.partition_value(p, prefix)?;
                if s.is_empty() {
                    return self
                        .run_query("#pk = :pk", vec![(":pk", pk)], true, *limit)
                        .await;
                }
                let sv = item::key_value(sort, s, prefix)?;
                self.run_query(
                    "#pk = :pk AND begins_with(#sk, :s)",
                    vec![(":pk", pk), (":s", sv)],
                    true,
                    *limit,
                )
                .await
            }
            Query::Range {
                start,
                end: None,
                limit,
            } if self.options.sort_key.is_none() => self.scan_from(start, *limit).await,
            Query::Range { start, end, limit } => {
                let sort = self.require_sort(QueryKind::Range)?;
                let (p, s) = self.schema.split(start, "range start")?;
                let pk = self.partition_value(p, start)?;
                let from = item::key_value(sort, s, start)?;
                match end {
                    None => {
                        self.run_query(
                            "#pk = :pk AND #sk >= :a",
                            vec![(":pk", pk), (":a", from)],
                            true,
                            *limit,
                        )
                        .await
                    }
                    Some(end) => {
                        let (p2, s2) = self.schema.split(end, "range end")?;
                        if p2 != p {
                            return Err(Error::Rejected(format!(
                                "range `{start}`..`{end}` spans two partitions; a DynamoDB Query reads one"
                            )));
                        }
                        let to = item::key_value(sort, s2, end)?;
                        self.run_query(
                            "#pk = :pk AND #sk BETWEEN :a AND :b",
                            vec![(":pk", pk), (":a", from), (":b", to)],
                            true,
                            *limit,
                        )
                        .await
                    }
                }
            }
            Query::TimeRange {
                key,
                start_ms,
                end_ms,
            } => {
                let sort = self.require_sort(QueryKind::TimeRange)?;
                if sort.kind != KeyType::N {
                    return Err(Error::Unsupported(format!(
                        "`time_range` queries need a sort key of type N; `{}` is not",
                        sort.name
                    )));
                }
                if end_ms <= start_ms {
                    return Ok(QueryOutcome::default());
                }
                let pk = self.partition_value(key, key)?;
                self.run_query(
                    "#pk = :pk AND #sk BETWEEN :a AND :b",
                    vec![
                        (":pk", pk),
                        (":a", AttributeValue::N(start_ms.to_string())),
                        // The end is exclusive in lgb and inclusive in BETWEEN.
                        (":b", AttributeValue::N((end_ms - 1).to_string())),
                    ],
                    true,
                    self.options.max_query_items,
                )
                .await
            }
            Query::Latest { key, limit } => {
                self.require_sort(QueryKind::Latest)?;
                let pk = self.partition_value(key, key)?;
                self.run_query("#pk = :pk", vec![(":pk", pk)], false, *limit)
                    .await
            }
            Query::Native { statement } => self.partiql(statement).await,
            other => Err(Error::Unsupported(format!(
                "the dynamodb adapter has no `{}` queries",
                other.kind().as_str()
            ))),
        }
    }
}
