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

mod batch;
mod errors;
mod item;
mod options;
mod query;
mod table;

use std::future::Future;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, PutRequest, ReturnConsumedCapacity, WriteRequest,
};
use aws_sdk_dynamodb::Client;

pub use item::{is_number, KeySchema, MAX_ITEM_BYTES, TIMESTAMP_ATTRIBUTE};
use options::capabilities_for;
pub use options::{
    Billing, DynamoDbOptions, KeyAttribute, KeyType, ParallelRead, RetryPolicy, MAX_BATCH_GET,
    MAX_BATCH_WRITE,
};

use self::errors::{classify, Backoff, Target};
use self::item::{item_size, Item};
use super::{BatchOutcome, Capabilities, Database, ItemFailure, OpMeta, QueryOutcome, ReadOutcome};
use crate::error::{Error, Result};
use crate::record::{Query, QueryKind, Record};

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
        let deadline = batch::deadline_after(self.options.batch_deadline.0);
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
