//! Your own Lambda worker on lgb-core, benchmarking your own database adapter.
//!
//! Three steps: implement [`Database`] for your store, register it in a
//! [`DatabaseRegistry`] under a type name, and hand a [`Worker`] built on that registry
//! to [`LambdaHandler`], which speaks the same protocol as the stock `bootstrap` (direct
//! invokes and Function URLs, cold start and init time, deadline cut-off). Configs then
//! use `"database": {"type": "kv"}` and run with `lgb run … --target lambda`.
//!
//! Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`), this example handles one load and one
//! read request itself and prints what they measured:
//!
//! ```text
//! cargo run -p lgb-lambda --example custom_handler
//! ```
//!
//! To deploy it, build it as the function's `bootstrap` (docs/lambda.md, "Your own
//! handler").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use lambda_runtime::{service_fn, LambdaEvent};
use lgb_core::database::{AdapterOptions, BatchOutcome, Capabilities, QueryOutcome, ReadOutcome};
use lgb_core::prelude::*;
use lgb_core::protocol::WorkerResult;
use lgb_core::worker::lambda::LambdaHandler;
use serde_json::{json, Value};

/// A toy key-value store standing in for your database client.
#[derive(Default)]
struct KvStore {
    items: Mutex<HashMap<String, Record>>,
}

#[async_trait]
impl Database for KvStore {
    fn name(&self) -> &str {
        "kv"
    }

    fn capabilities(&self) -> Capabilities {
        // One record per batch call and no queries: validation refuses tests that need more.
        Capabilities::default()
    }

    async fn write(&self, record: &Record) -> Result<OpMeta> {
        let mut items = self
            .items
            .lock()
            .map_err(|_| Error::Backend("store poisoned".into()))?;
        items.insert(record.key.clone(), record.clone());
        Ok(OpMeta {
            items: 1,
            ..OpMeta::default()
        })
    }

    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        for r in records {
            self.write(r).await?;
        }
        Ok(BatchOutcome::default())
    }

    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        let items = self
            .items
            .lock()
            .map_err(|_| Error::Backend("store poisoned".into()))?;
        Ok(ReadOutcome {
            record: items.get(key).cloned().map(Into::into),
            meta: OpMeta::default(),
        })
    }

    async fn query(&self, _query: &Query) -> Result<QueryOutcome> {
        Err(Error::Unsupported("kv has no queries".into()))
    }
}

/// The adapter's options, as they appear next to `"type": "kv"` in a config.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct KvOptions {}

/// No checks beyond the schema: the default `problems()` finds none.
impl AdapterOptions for KvOptions {}

/// The built-in adapters plus `kv`.
fn worker() -> Worker {
    let mut databases = DatabaseRegistry::with_builtins();
    databases.register("kv", "a toy key-value store", |_: KvOptions| async {
        Ok(Arc::new(KvStore::default()) as Arc<dyn Database>)
    });
    // Pinned to LGB_DEPLOYMENT when deployed; unpinned here.
    Worker::new(databases, OperationRegistry::default()).pinned_from_env()
}

fn request(phase: &str, test: Value) -> Value {
    json!({
        "version": lgb_core::protocol::PROTOCOL_VERSION,
        "run_id": "example",
        "phase": phase,
        "test": test,
        "database": {"type": "kv"},
        "workload": {"records": 1000},
        "worker": {"index": 0, "count": 1},
        "seed": 1
    })
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = Instant::now();
    // Built once: the `kv` adapter (and its data) lives across warm invocations.
    let handler = Arc::new(LambdaHandler::new(Arc::new(worker()), started));
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        for event in [
            request("load", json!({"name": "load"})),
            request(
                "run",
                json!({"name": "reads", "operation": {"type": "read"}, "operations": 10000}),
            ),
        ] {
            let result: WorkerResult = serde_json::from_value(handler.handle(event, None).await)?;
            println!(
                "{} ({:?}): {} ok, {} failed, cold start {}, error {:?}",
                result.test,
                result.status,
                result.metrics.ok(),
                result.metrics.failed(),
                result.environment.cold_start,
                result.error
            );
        }
        return Ok(());
    }
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let deadline = (event.context.deadline > 0).then(|| {
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline)
            });
            Ok::<Value, lambda_runtime::Error>(handler.handle(event.payload, deadline).await)
        }
    }))
    .await
}
