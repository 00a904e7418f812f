//! `verify: true`: after a write test every acknowledged key is read back; what is
//! missing is reported and counted as an error.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use lgb_core::config::BenchmarkConfig;
use lgb_core::database::memory::MemoryDatabase;
use lgb_core::database::{
    BatchOutcome, Capabilities, Database, DatabaseRegistry, QueryOutcome, ReadOutcome,
};
use lgb_core::operation::OperationRegistry;
use lgb_core::record::OpMeta;
use lgb_core::record::{Query, Record};
use lgb_core::runner::{LocalInvoker, Runner, Silent};
use lgb_core::session::{ConfigSource, Session};
use lgb_core::worker::Worker;
use lgb_core::{ErrorClass, Result};
use tokio_util::sync::CancellationToken;

/// A store that acknowledges every write but silently drops every 10th new key.
struct Lossy {
    inner: MemoryDatabase,
    writes: AtomicU64,
    dropped: AtomicU64,
}

#[async_trait]
impl Database for Lossy {
    fn name(&self) -> &str {
        "lossy"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn write(&self, record: &Record) -> Result<OpMeta> {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        let exists = self.inner.read(&record.key).await?.record.is_some();
        if n % 10 == 9 && !exists {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(OpMeta::default());
        }
        self.inner.write(record).await
    }
    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        for r in records {
            self.write(r).await?;
        }
        Ok(BatchOutcome::default())
    }
    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        self.inner.read(key).await
    }
    async fn query(&self, query: &Query) -> Result<QueryOutcome> {
        self.inner.query(query).await
    }
}

fn config(db: &str) -> BenchmarkConfig {
    Session::load_with(ConfigSource::Text(&format!(
            r#"{{
            "database": {{"type": "{db}"}},
            "workload": {{"records": 500, "fields": 1, "field_size": 8, "load": false, "distribution": {{"type": "uniform"}}}},
            "runner": {{"workers": 2}},
            "tests": [{{"name": "w", "operation": {{"type": "insert"}}, "operations": 2000, "concurrency": 2, "verify": true}}]
        }}"#
        )), &[], None, registries().clone()).map(Session::into_config)
    .unwrap()
}

fn registries() -> lgb_core::catalog::Registries {
    let mut databases = DatabaseRegistry::with_builtins();
    databases.register(
        "lossy",
        "drops every 10th new key",
        |_: serde_json::Value| async {
            Ok(Arc::new(Lossy {
                inner: MemoryDatabase::default(),
                writes: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            }) as Arc<dyn Database>)
        },
    );
    lgb_core::catalog::Registries {
        databases,
        operations: OperationRegistry::default(),
    }
}

async fn run(db: &str) -> lgb_core::results::TestResult {
    let r = registries();
    let worker = Arc::new(Worker::new(r.databases, r.operations));
    let runner = Runner::new(Arc::new(LocalInvoker::new(worker)), 0);
    let run = runner
        .run(&config(db), CancellationToken::new(), &Silent)
        .await
        .unwrap();
    run.tests.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_store_loses_nothing() {
    let t = run("memory").await;
    let v = t.metrics.verify.expect("verify report");
    assert_eq!(v.acknowledged, 2000, "inserts write distinct keys");
    assert_eq!((v.found, v.missing, v.unchecked), (2000, 0, 0));
    assert_eq!(t.metrics.errors.total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_writes_are_found_and_counted_as_errors() {
    let t = run("lossy").await;
    let v = t.metrics.verify.expect("verify report");
    assert_eq!(v.acknowledged, 2000);
    // The workers share one store, which drops every 10th write: 200 in all.
    assert_eq!(v.missing, 200, "{v:?}");
    assert_eq!(v.found, 1800);
    assert_eq!(t.metrics.errors.counts[&ErrorClass::NotFound], 200);
    let sample = &t.metrics.errors.samples[&ErrorClass::NotFound][0];
    assert!(sample.contains("lost write"), "{sample}");
}
