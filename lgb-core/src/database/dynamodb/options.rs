//! The `dynamodb` adapter's options: the table and its key schema, billing, retries,
//! timeouts, and what they allow (capabilities), checked without connecting.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use super::item::MAX_ITEM_BYTES;
use crate::database::{AdapterOptions, Capabilities};
use crate::record::QueryKind;
use crate::units::HumanDuration;

/// Largest BatchWriteItem request DynamoDB accepts.
pub const MAX_BATCH_WRITE: usize = 25;
/// Largest BatchGetItem request DynamoDB accepts.
pub const MAX_BATCH_GET: usize = 100;

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

impl AdapterOptions for DynamoDbOptions {
    /// Where requests go: a pinned worker keeps these as deployed.
    const DESTINATIONS: &'static [&'static str] = &["table", "region", "endpoint"];

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

/// What a DynamoDB adapter with `options` can do: key and native (PartiQL) queries;
/// with a sort key also range, latest and (string sort keys) prefix or (numeric sort
/// keys) time-range queries; without one, open-ended ranges (YCSB's `scan`) as a
/// paginated Scan from the start key. Known without connecting.
pub(crate) fn capabilities_for(options: &DynamoDbOptions) -> Capabilities {
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
