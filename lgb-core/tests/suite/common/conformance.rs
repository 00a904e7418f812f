//! The adapter conformance suite: the same behaviour checked against every adapter.
//! Use it from an integration test with
//! `conformance_suite!(async { Arc<dyn Database> });`.

use std::sync::Arc;

use lgb_core::database::Database;
use lgb_core::record::{Query, Record, Value};
use lgb_core::ErrorClass;

fn record(key: &str, v: &str) -> Record {
    Record::new(key)
        .with_field("field0", Value::Str(format!("{v}-0")))
        .with_field("field1", Value::Str(format!("{v}-1")))
}

pub async fn round_trip(db: Arc<dyn Database>, prefix: &str) {
    let key = format!("{prefix}rt");
    let r = record(&key, "a");
    db.write(&r).await.expect("write");
    let got = db
        .read(&key)
        .await
        .expect("read")
        .record
        .expect("record exists");
    assert_eq!(got.key, key);
    if db.capabilities().reads_records {
        for (name, value) in &r.fields {
            assert_eq!(got.field(name), Some(value), "field {name}");
        }
    }
}

pub async fn overwrite_keeps_last(db: Arc<dyn Database>, prefix: &str) {
    let key = format!("{prefix}ow");
    db.write(&record(&key, "old")).await.expect("write 1");
    db.write(&record(&key, "new")).await.expect("write 2");
    let got = db.read(&key).await.expect("read").record.expect("exists");
    if db.capabilities().reads_records {
        assert_eq!(got.field("field0"), Some(&Value::Str("new-0".into())));
    }
}

pub async fn missing_key_is_none(db: Arc<dyn Database>, prefix: &str) {
    let out = db
        .read(&format!("{prefix}does-not-exist"))
        .await
        .expect("read of a missing key is not an error");
    assert!(out.record.is_none());
}

pub async fn batch_larger_than_limit_is_split(db: Arc<dyn Database>, prefix: &str) {
    let max = db.capabilities().max_batch_size.clamp(1, 50);
    let n = max * 2 + 3;
    let batch: Vec<Record> = (0..n)
        .map(|i| record(&format!("{prefix}b{i:04}"), &i.to_string()))
        .collect();
    let out = db.batch_write(&batch).await.expect("batch write");
    assert!(out.failed.is_empty(), "items failed: {:?}", out.failed);
    let keys: Vec<String> = batch.iter().map(|r| r.key.clone()).collect();
    let got = db.read_many(&keys).await.expect("read many");
    assert_eq!(got.records.len(), n, "every written item is read back");
    let mut got_keys: Vec<String> = got.records.into_iter().map(|r| r.key).collect();
    got_keys.sort();
    assert_eq!(got_keys, keys);
}

pub async fn unsupported_query_is_classified(db: Arc<dyn Database>, prefix: &str) {
    let caps = db.capabilities();
    let kinds = [
        lgb_core::record::QueryKind::History,
        lgb_core::record::QueryKind::TimeRange,
        lgb_core::record::QueryKind::Latest,
    ];
    if let Some(kind) = kinds.iter().find(|k| !caps.queries.contains(k)) {
        let key = format!("{prefix}q");
        let q = match kind {
            lgb_core::record::QueryKind::History => Query::History { key, limit: 1 },
            lgb_core::record::QueryKind::TimeRange => Query::TimeRange {
                key,
                start_ms: 0,
                end_ms: 1,
            },
            _ => Query::Latest { key, limit: 1 },
        };
        let err = db.query(&q).await.expect_err("an unsupported query fails");
        assert_eq!(err.class(), ErrorClass::Unsupported, "{err}");
    }
}

/// Runs the conformance suite against the adapter built by `$make` (an async block
/// returning `Arc<dyn Database>`).
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        mod conformance {
            use super::*;
            use $crate::common::conformance as c;
            use $crate::common::unique_prefix;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn round_trip() {
                c::round_trip($make, &unique_prefix("rt")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn overwrite_keeps_last() {
                c::overwrite_keeps_last($make, &unique_prefix("ow")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn missing_key_is_none() {
                c::missing_key_is_none($make, &unique_prefix("mk")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn batch_larger_than_limit_is_split() {
                c::batch_larger_than_limit_is_split($make, &unique_prefix("bs")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn unsupported_query_is_classified() {
                c::unsupported_query_is_classified($make, &unique_prefix("uq")).await;
            }
        }
    };
}
