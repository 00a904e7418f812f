//! The `dynamodb` adapter against the local `dynamodb` service (a moto server, started
//! through `scripts/services`). Throttling and UnprocessedItems/Keys, which moto never
//! produces, come from a small fault-injecting HTTP proxy on 127.0.0.1 between the
//! adapter and moto: the proxy forwards part of a batch and reports the rest as
//! unprocessed, or answers with a throttling error, so the retry paths run for real.
#![cfg(feature = "dynamodb")]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use lgb_core::config::DatabaseConfig;
use lgb_core::database::dynamodb::{
    Billing, DynamoDbDatabase, DynamoDbOptions, KeyAttribute, KeyType, ParallelRead, RetryPolicy,
};
use lgb_core::database::{Database, DatabaseRegistry, QueryOutcome};
use lgb_core::prelude::*;
use lgb_core::record::QueryKind;
use lgb_core::session::{ConfigSource, Session};

/// The local service's endpoint; puts its AWS_* defaults into this process's
/// environment once, so that the standard credential chain finds them.
fn endpoint() -> String {
    common::aws_endpoint("dynamodb")
}

/// A table name unique to this test process (3–255 characters).
fn table(name: &str) -> String {
    format!("lgb-{}", common::unique_prefix(name).trim_end_matches('-'))
}

fn options(name: &str) -> DynamoDbOptions {
    let mut o = DynamoDbOptions::new(table(name));
    o.endpoint = Some(endpoint());
    o.region = Some("us-east-1".into());
    o.create_table_if_missing = true;
    o
}

async fn connect(o: DynamoDbOptions) -> DynamoDbDatabase {
    DynamoDbDatabase::connect(o)
        .await
        .expect("connect to the local dynamodb service")
}

async fn conformance_db() -> Arc<dyn Database> {
    Arc::new(connect(options("conformance")).await)
}

fn record(key: &str, v: usize) -> Record {
    Record::new(key)
        .with_field("field0", Value::Str(format!("value-{v}")))
        .with_field("n", Value::Int(v as i64))
}

fn point(series: &str, ts: i64) -> Record {
    let mut r = Record::new(series).with_field("v", Value::Float(ts as f64 / 2.0));
    r.timestamp = Some(ts);
    r
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

conformance_suite!(conformance_db().await);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_60_is_written_in_three_chunks_and_read_back() {
    let db = connect(options("b60")).await;
    let batch: Vec<Record> = (0..60).map(|i| record(&format!("k{i:03}"), i)).collect();
    let out = db.batch_write(&batch).await.unwrap();
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!(out.meta.items, 60);
    assert_eq!(out.meta.retries, 0);
    // moto reports 1 capacity unit per BatchWriteItem call whatever its size (real
    // DynamoDB charges per item), so 3 units here are 3 calls: 25 + 25 + 10.
    assert_eq!(out.meta.write_units, 3.0);
    assert!(out.meta.bytes > 60 * 10, "{:?}", out.meta);

    let keys: Vec<String> = batch.iter().map(|r| r.key.clone()).collect();
    for mode in [ParallelRead::BatchGet, ParallelRead::ConcurrentGet] {
        let mut o = options("b60");
        o.parallel_read = mode;
        let reader = connect(o).await;
        let got = reader.read_many(&keys).await.unwrap();
        assert_eq!(got.records.len(), 60, "{mode:?}");
        assert_eq!(got.meta.items, 60, "{mode:?}");
        assert!(got.meta.read_units > 0.0, "{mode:?}: {:?}", got.meta);
        for (want, have) in batch.iter().zip(&got.records) {
            assert_eq!(
                want.key, have.key,
                "{mode:?}: records come back in the order asked"
            );
            assert_eq!(want.fields, have.fields, "{mode:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_26_100_and_1000_split_and_repeated_keys_keep_the_last_version() {
    let db = connect(options("sizes")).await;
    for n in [26usize, 100, 1000] {
        let batch: Vec<Record> = (0..n).map(|i| record(&format!("n{n}-{i:04}"), i)).collect();
        let out = db.batch_write(&batch).await.unwrap();
        assert!(out.failed.is_empty(), "{n}: {:?}", out.failed);
        assert_eq!(out.meta.items, n as u64);
        assert_eq!(
            out.meta.write_units,
            n.div_ceil(25) as f64,
            "{n}: one unit per call on moto"
        );
        let keys: Vec<String> = batch.iter().map(|r| r.key.clone()).collect();
        assert_eq!(db.read_many(&keys).await.unwrap().records.len(), n);
    }
    // DynamoDB refuses a batch naming one key twice; the adapter splits it instead.
    let out = db
        .batch_write(&[record("dup", 1), record("other", 2), record("dup", 3)])
        .await
        .unwrap();
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!(out.meta.items, 3);
    let got = db.read("dup").await.unwrap().record.unwrap();
    assert_eq!(got.field("n"), Some(&Value::Int(3)));
    // Repeated keys in one read_many are asked once and answered each time.
    let got = db
        .read_many(&["dup".into(), "other".into(), "dup".into()])
        .await
        .unwrap();
    assert_eq!(got.records.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumed_capacity_bytes_and_items_are_recorded() {
    let db = connect(options("capacity")).await;
    let r = record("c1", 1);
    let w = db.write(&r).await.unwrap();
    // What moto reports: PutItem 1 WCU, GetItem 0.5 RCU, Query 1 RCU per page.
    assert_eq!((w.write_units, w.read_units, w.items), (1.0, 0.0, 1));
    // Sized as DynamoDB counts: names plus values, a 1-digit number is 2 bytes:
    // "pk"+"c1" + "field0"+"value-1" + "n"+2.
    assert_eq!(w.bytes, 2 + 2 + 6 + 7 + 1 + 2, "{w:?}");
    let got = db.read("c1").await.unwrap();
    assert_eq!(
        (got.meta.read_units, got.meta.write_units, got.meta.items),
        (0.5, 0.0, 1)
    );
    assert_eq!(
        got.meta.bytes, w.bytes,
        "the same item counted the same way both ways"
    );
    let missing = db.read("nope").await.unwrap();
    assert!(missing.record.is_none());
    assert_eq!((missing.meta.items, missing.meta.bytes), (0, 0));
    let q = db.query(&Query::Key { key: "c1".into() }).await.unwrap();
    assert_eq!((q.records.len(), q.meta.read_units), (1, 1.0));
}

fn sorted_options(name: &str, sort: KeyType, page: u32) -> DynamoDbOptions {
    let mut o = options(name);
    o.partition_key = KeyAttribute {
        name: "series".into(),
        kind: KeyType::S,
    };
    o.sort_key = Some(KeyAttribute {
        name: "ts".into(),
        kind: sort,
    });
    o.page_size = std::num::NonZeroU32::new(page);
    o
}

fn timestamps(q: &QueryOutcome) -> Vec<i64> {
    q.records.iter().map(|r| r.timestamp.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_kind_paginates_on_a_string_sort_key() {
    let mut options = sorted_options("qs", KeyType::S, 3);
    // moto answers ExecuteStatement (the native query below) by serializing every
    // item of every table it holds: against a server that has served the suite for
    // an hour that takes longer than the default request timeout.
    options.request_timeout = lgb_core::units::HumanDuration(Duration::from_secs(60));
    let db = connect(options).await;
    let mut points: Vec<Record> = (1000..1013)
        .chain(2000..2005)
        .map(|t| point("h1", t))
        .collect();
    points.push(point("h2", 1000));
    assert!(db.batch_write(&points).await.unwrap().failed.is_empty());
    let caps = db.capabilities();
    for k in [
        QueryKind::Key,
        QueryKind::Prefix,
        QueryKind::Range,
        QueryKind::Native,
    ] {
        assert!(caps.queries.contains(&k), "{k:?}");
    }

    // 18 points of h1 in pages of 3: at least 6 Query calls, 1 RCU each on moto.
    let q = db.query(&Query::Key { key: "h1".into() }).await.unwrap();
    assert_eq!(q.records.len(), 18);
    assert!(q.meta.read_units >= 6.0, "{:?}", q.meta);
    assert_eq!(q.meta.items, 18);

    let q = db
        .query(&Query::Prefix {
            prefix: "h1#10".into(),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(timestamps(&q), (1000..1013).collect::<Vec<_>>());
    let q = db
        .query(&Query::Prefix {
            prefix: "h1#10".into(),
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(
        timestamps(&q),
        (1000..1005).collect::<Vec<_>>(),
        "limit across pages"
    );
    assert_eq!(q.meta.items, 5);

    // Strings compare as strings: "1005" ≤ ts ≤ "2001".
    let range = Query::Range {
        start: "h1#1005".into(),
        end: Some("h1#2001".into()),
        limit: 100,
    };
    let q = db.query(&range).await.unwrap();
    assert_eq!(
        timestamps(&q),
        (1005..1013).chain(2000..2002).collect::<Vec<_>>()
    );
    let open = Query::Range {
        start: "h1#2003".into(),
        end: None,
        limit: 100,
    };
    assert_eq!(timestamps(&db.query(&open).await.unwrap()), [2003, 2004]);
    let two = Query::Range {
        start: "h1#1".into(),
        end: Some("h2#9".into()),
        limit: 10,
    };
    assert_eq!(
        db.query(&two).await.unwrap_err().class(),
        ErrorClass::Rejected
    );
    let nosep = Query::Prefix {
        prefix: "h1".into(),
        limit: 10,
    };
    let err = db.query(&nosep).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Rejected);
    assert!(err.to_string().contains("partition#sort"), "{err}");

    let sql = format!(
        "SELECT * FROM \"{}\" WHERE series = 'h1'",
        db.options().table
    );
    let q = db.query(&Query::Native { statement: sql }).await.unwrap();
    assert_eq!(q.records.len(), 18);
    assert!(q.records.iter().all(|r| r.key == "h1"));

    // A read by key names the sort value too.
    let got = db.read("h1#1003").await.unwrap().record.unwrap();
    assert_eq!((got.key.as_str(), got.timestamp), ("h1", Some(1003)));
    assert_eq!(got.field("v"), Some(&Value::Float(501.5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_sort_key_has_range_time_range_and_latest_but_no_prefix() {
    let db = connect(sorted_options("qn", KeyType::N, 2)).await;
    let points: Vec<Record> = (0..25)
        .map(|i| point("cpu", 1_700_000_000_000 + i * 1000))
        .collect();
    assert!(db.batch_write(&points).await.unwrap().failed.is_empty());
    let t0 = 1_700_000_000_000i64;

    let q = db
        .query(&Query::TimeRange {
            key: "cpu".into(),
            start_ms: t0 + 5000,
            end_ms: t0 + 10_000,
        })
        .await
        .unwrap();
    assert_eq!(
        timestamps(&q),
        (5..10).map(|i| t0 + i * 1000).collect::<Vec<_>>(),
        "end is exclusive"
    );
    let q = db
        .query(&Query::Latest {
            key: "cpu".into(),
            limit: 3,
        })
        .await
        .unwrap();
    assert_eq!(timestamps(&q), [t0 + 24_000, t0 + 23_000, t0 + 22_000]);
    let range = Query::Range {
        start: format!("cpu#{}", t0 + 20_000),
        end: Some(format!("cpu#{}", t0 + 30_000)),
        limit: 100,
    };
    assert_eq!(db.query(&range).await.unwrap().records.len(), 5);
    let q = db.query(&Query::Key { key: "cpu".into() }).await.unwrap();
    assert_eq!(q.records.len(), 25, "13 pages of 2");

    let err = db
        .query(&Query::Prefix {
            prefix: "cpu#17".into(),
            limit: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported);
    assert!(!db.capabilities().queries.contains(&QueryKind::Prefix));
    let err = db.read("cpu#soon").await.unwrap_err();
    assert_eq!(
        err.class(),
        ErrorClass::Rejected,
        "a non-numeric N key is refused: {err}"
    );

    // Without a sort key, prefix is unsupported and says why.
    let flat = connect(options("qflat")).await;
    let err = flat
        .query(&Query::Prefix {
            prefix: "a".into(),
            limit: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported);
    assert!(err.to_string().contains("sort key"), "{err}");
    // An open-ended range on it is YCSB's scan: a paginated Scan (as YCSB's DynamoDB
    // binding does it), bounded by the limit and billed; a bounded range still needs
    // a sort key.
    let scanned = flat
        .query(&Query::Range {
            start: "a".into(),
            end: None,
            limit: 5,
        })
        .await
        .unwrap();
    assert!(scanned.records.len() <= 5, "{scanned:?}");
    assert!(scanned.meta.read_units > 0.0, "{scanned:?}");
    let err = flat
        .query(&Query::Range {
            start: "a".into(),
            end: Some("b".into()),
            limit: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_if_missing_creates_provisioned_tables_and_checks_existing_ones() {
    let mut o = sorted_options("create", KeyType::N, 0);
    o.billing = Billing::Provisioned {
        read_capacity: 5.try_into().unwrap(),
        write_capacity: 7.try_into().unwrap(),
    };
    let db = connect(o.clone()).await;
    let t = db
        .client()
        .describe_table()
        .table_name(&o.table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(
        t.table_status,
        Some(aws_sdk_dynamodb::types::TableStatus::Active)
    );
    let p = t.provisioned_throughput.unwrap();
    assert_eq!(
        (p.read_capacity_units, p.write_capacity_units),
        (Some(5), Some(7))
    );
    let keys: Vec<(String, String)> = t
        .key_schema
        .unwrap()
        .into_iter()
        .map(|k| (k.attribute_name, k.key_type.as_str().to_string()))
        .collect();
    assert_eq!(
        keys,
        [
            ("series".into(), "HASH".into()),
            ("ts".into(), "RANGE".into())
        ]
    );
    db.write(&point("s", 1)).await.unwrap();

    // Connecting again finds the table; a config that disagrees with it is refused.
    connect(o.clone()).await;
    let mut wrong = o.clone();
    wrong.partition_key.name = "id".into();
    let err = DynamoDbDatabase::connect(wrong).await.unwrap_err();
    assert_eq!(
        err.config_problems()[0].path,
        "database.partition_key",
        "{err}"
    );
    db.client()
        .delete_table()
        .table_name(&o.table)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_a_config_error_naming_table_and_region() {
    let mut o = options("missing");
    o.create_table_if_missing = false;
    let db = connect(o.clone()).await;
    for err in [
        db.write(&record("a", 1)).await.unwrap_err(),
        db.read("a").await.unwrap_err(),
        db.query(&Query::Key { key: "a".into() }).await.unwrap_err(),
    ] {
        assert_eq!(err.class(), ErrorClass::Config, "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{}`", o.table)) && text.contains("us-east-1"),
            "{text}"
        );
        assert!(
            !text.contains("testing"),
            "no credentials in messages: {text}"
        );
    }
    let out = db.batch_write(&[record("a", 1)]).await;
    assert_eq!(out.unwrap_err().class(), ErrorClass::Config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_items_and_wrong_key_types_are_rejected_before_sending() {
    // Nothing listens at this endpoint: an error other than `rejected` would mean a send.
    let mut o = options("nosend");
    o.endpoint = Some(format!("http://127.0.0.1:{}", closed_port()));
    o.create_table_if_missing = false;
    o.partition_key = KeyAttribute {
        name: "id".into(),
        kind: KeyType::N,
    };
    let db = connect(o).await;
    let big = Record::new("1").with_field("blob", Value::Str("x".repeat(400 * 1024)));
    let err = db.write(&big).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Rejected, "{err}");
    assert!(err.to_string().contains("400 KB"), "{err}");
    let err = db.write(&record("user1", 1)).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Rejected, "{err}");
    assert!(err.to_string().contains("not a number"), "{err}");
    assert_eq!(
        db.read("12x").await.unwrap_err().class(),
        ErrorClass::Rejected
    );
    let out = db
        .batch_write(&[big.clone(), record("abc", 2)])
        .await
        .unwrap();
    let failed: Vec<(usize, ErrorClass)> = out.failed.iter().map(|f| (f.index, f.class)).collect();
    assert_eq!(
        failed,
        [(0, ErrorClass::Rejected), (1, ErrorClass::Rejected)]
    );
    // A valid item does go out, and fails as a connection error.
    let err = db.write(&record("42", 1)).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Connect, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_connect_error() {
    let mut o = options("refused");
    o.endpoint = Some(format!("http://127.0.0.1:{}", closed_port()));
    o.create_table_if_missing = false;
    o.retry = RetryPolicy {
        max_attempts: 2.try_into().unwrap(),
        ..RetryPolicy::default()
    };
    let db = connect(o.clone()).await;
    let err = db.read("a").await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Connect, "{err}");
    assert!(err.to_string().contains("us-east-1"), "{err}");
    // Through the registry, with table creation on, the build itself fails the same way.
    o.create_table_if_missing = true;
    let mut cfg = DatabaseConfig::new("dynamodb");
    cfg.options = serde_json::to_value(&o)
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    let err = DatabaseRegistry::with_builtins()
        .build(&cfg)
        .await
        .err()
        .expect("build fails");
    assert_eq!(err.class(), ErrorClass::Connect, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_and_counted_then_classified() {
    let upstream = endpoint();
    let name = "throttle";
    connect(options(name))
        .await
        .write(&record("a", 1))
        .await
        .unwrap();
    let proxy = proxy::start(&upstream, proxy::Fault::ThrottleEveryOther).await;
    let mut o = options(name);
    o.endpoint = Some(proxy.endpoint.clone());
    o.create_table_if_missing = false;
    o.retry.base_backoff = lgb_core::units::HumanDuration::millis(1);
    let db = connect(o.clone()).await;
    let mut retries = 0;
    for _ in 0..4 {
        let r = db.read("a").await.unwrap();
        assert!(r.record.is_some());
        retries += r.meta.retries;
    }
    assert_eq!(
        retries, 4,
        "every read was throttled once, then retried and counted"
    );
    o.retry.max_attempts = 1.try_into().unwrap();
    let once = connect(o).await;
    let mut classes = Vec::new();
    for _ in 0..2 {
        classes.push(once.read("a").await.map(|_| ()).map_err(|e| e.class()));
    }
    assert!(classes.contains(&Err(ErrorClass::Throttled)), "{classes:?}");
    assert!(proxy.faults() >= 5);
}

/// An insert test of 1000 distinct keys through a proxy that throttles every 10th
/// PutItem, with `verify: true`; returns the test and the number of injected faults.
async fn throttled_inserts(name: &str, max_attempts: u32) -> (lgb_core::results::TestResult, u64) {
    let t = table(name);
    // Create the table directly, so the proxy sees the benchmark's writes only.
    connect(options(name)).await;
    let proxy = proxy::start(&endpoint(), proxy::Fault::ThrottleWrites(10)).await;
    let config = Session::load(ConfigSource::Text(&serde_json::json!({
            "name": name,
            "database": {
                "type": "dynamodb", "table": t, "endpoint": proxy.endpoint, "region": "us-east-1",
                "retry": { "max_attempts": max_attempts, "base_backoff": "1ms" }
            },
            "workload": { "records": 1, "fields": 2, "field_size": "20B", "load": false },
            "tests": [{
                "name": "insert", "operation": { "type": "insert" },
                "operations": 1000, "concurrency": 4, "verify": true
            }]
        })
        .to_string()), &[], None).map(Session::into_config)
    .unwrap();
    let run = crate::common::exec::run_local(&config).await;
    (run.tests.into_iter().last().unwrap(), proxy.faults())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ten_percent_of_writes_throttled_and_retried_no_write_is_missing() {
    let (t, faults) = throttled_inserts("throttle-verify", 5).await;
    let m = &t.metrics;
    let v = m.verify.as_ref().expect("verify report");
    // 10% of every PutItem sent (first attempts and retries) was throttled.
    assert!(faults >= 100, "faults injected: {faults}");
    assert_eq!(m.failed(), 0, "{:?}", m.errors);
    assert_eq!(m.ok(), 1000);
    assert_eq!(
        u64::from(m.operations["insert"].meta.retries),
        faults,
        "every throttle was retried and counted"
    );
    assert_eq!(
        (v.acknowledged, v.found, v.missing, v.unchecked),
        (1000, 1000, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_writes_that_fail_are_errors_not_missing_writes() {
    let (t, faults) = throttled_inserts("throttle-fail", 1).await;
    let m = &t.metrics;
    let v = m.verify.as_ref().expect("verify report");
    // Without retries each throttled PutItem is a failed insert, counted by class.
    assert_eq!(faults, 100);
    let insert = &m.operations["insert"];
    assert_eq!(
        insert.errors.counts.get(&ErrorClass::Throttled),
        Some(&100),
        "{:?}",
        insert.errors
    );
    assert_eq!(m.ok(), 900);
    // Only acknowledged writes are expected on read-back, and all of them are there.
    assert_eq!(
        (v.acknowledged, v.found, v.missing, v.unchecked),
        (900, 900, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprocessed_items_and_keys_are_retried_until_every_item_lands() {
    let upstream = endpoint();
    let name = "unprocessed";
    let direct = connect(options(name)).await;
    let proxy = proxy::start(&upstream, proxy::Fault::HalfUnprocessed).await;
    let mut o = options(name);
    o.endpoint = Some(proxy.endpoint.clone());
    o.retry.base_backoff = lgb_core::units::HumanDuration::millis(1);
    let db = connect(o).await;
    let batch: Vec<Record> = (0..60).map(|i| record(&format!("u{i:03}"), i)).collect();
    let out = db.batch_write(&batch).await.unwrap();
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!(out.meta.items, 60);
    // Each chunk is halved until one item is left: 25 → 13+12 → … takes 5 retries.
    assert!(out.meta.retries >= 10, "{:?}", out.meta);
    let keys: Vec<String> = batch.iter().map(|r| r.key.clone()).collect();
    // Every item landed: read back directly from moto, without the proxy.
    let got = direct.read_many(&keys).await.unwrap();
    assert_eq!(got.records.len(), 60);
    // And BatchGetItem through the proxy gets UnprocessedKeys and retries them.
    let got = db.read_many(&keys).await.unwrap();
    assert_eq!(got.records.len(), 60);
    assert!(got.meta.retries >= 1, "{:?}", got.meta);
    assert!(proxy.faults() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_never_processed_become_throttled_failures_at_the_deadline() {
    let upstream = endpoint();
    let name = "deadline";
    let direct = connect(options(name)).await;
    let proxy = proxy::start(&upstream, proxy::Fault::NothingProcessed).await;
    let mut o = options(name);
    o.endpoint = Some(proxy.endpoint.clone());
    o.create_table_if_missing = false;
    o.batch_deadline = lgb_core::units::HumanDuration::millis(300);
    o.retry.base_backoff = lgb_core::units::HumanDuration::millis(5);
    let db = connect(o).await;
    let batch: Vec<Record> = (0..30).map(|i| record(&format!("d{i:03}"), i)).collect();
    let started = std::time::Instant::now();
    let out = db.batch_write(&batch).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let indices: Vec<usize> = out.failed.iter().map(|f| f.index).collect();
    assert_eq!(
        indices,
        (0..30).collect::<Vec<_>>(),
        "no item is dropped silently"
    );
    assert!(out.failed.iter().all(|f| f.class == ErrorClass::Throttled));
    assert!(
        out.failed[0].message.contains("UnprocessedItems"),
        "{}",
        out.failed[0].message
    );
    assert_eq!(out.meta.items, 0);
    assert!(out.meta.retries >= 1);
    let keys: Vec<String> = batch.iter().map(|r| r.key.clone()).collect();
    assert!(
        direct.read_many(&keys).await.unwrap().records.is_empty(),
        "the proxy wrote nothing"
    );
    let err = db.read_many(&keys).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Throttled, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ycsb_a_run_through_the_runner_has_no_errors_and_loses_no_writes() {
    let t = table("e2e");
    let config = Session::load(ConfigSource::Text(&serde_json::json!({
            "name": "dynamodb-e2e",
            "database": {
                "type": "dynamodb",
                "table": t,
                "endpoint": endpoint(),
                "region": "us-east-1",
                "create_table_if_missing": true
            },
            "workload": { "records": 500, "fields": 4, "field_size": "50B", "load_batch": 60 },
            "tests": [{ "name": "ycsb-a", "preset": "ycsb-a", "operations": 2000, "concurrency": 4 }]
        })
        .to_string()), &[], None).map(Session::into_config)
    .unwrap();
    let run = crate::common::exec::run_local(&config).await;
    assert_eq!(run.tests.len(), 2);
    let load = &run.tests[0].metrics;
    assert_eq!(load.failed(), 0, "{:?}", load.errors);
    let loaded: u64 = load.operations.values().map(|m| m.meta.items).sum();
    assert_eq!(loaded, 500);
    let test = &run.tests[1];
    assert_eq!(test.metrics.ok(), 2000, "{:?}", test.metrics.errors);
    assert_eq!(test.metrics.failed(), 0);
    for (name, m) in &test.metrics.operations {
        assert_eq!(m.errors.total(), 0, "{name}: {:?}", m.errors);
        assert!(m.ok > 500, "{name}: about half of 2000");
    }
    let read = &test.metrics.operations["read"].meta;
    let update = &test.metrics.operations["update"].meta;
    assert!(
        read.read_units > 0.0 && update.write_units > 0.0,
        "{read:?} {update:?}"
    );

    // No lost writes: a scan counts exactly the loaded keys (updates overwrite them).
    let db = connect({
        let mut o = DynamoDbOptions::new(&t);
        o.endpoint = Some(endpoint());
        o.region = Some("us-east-1".into());
        o
    })
    .await;
    let mut count = 0;
    let mut start = None;
    loop {
        let page = db
            .client()
            .scan()
            .table_name(&t)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        count += page.count;
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(count, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_config_runs_against_the_local_service() {
    let path = common::repo_root().join("examples/dynamodb-local.json");
    let overrides: Vec<String> = [
        format!("database.endpoint={}", endpoint()),
        format!("database.table={}", table("example")),
        "workload.records=300".into(),
        "tests[0].warmup=0s".into(),
        "tests[0].duration=1s".into(),
        "tests[1].duration=1s".into(),
        "tests[2].duration=1s".into(),
    ]
    .into();
    let config = Session::load(ConfigSource::Path(&path), &overrides, None)
        .map(Session::into_config)
        .unwrap();
    let run = crate::common::exec::run_local(&config).await;
    let names: Vec<&str> = run.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["load", "ycsb-a", "batch-write", "batch-read"]);
    for t in &run.tests {
        assert!(t.metrics.ok() > 0, "{}", t.name);
        assert_eq!(
            t.metrics.failed(),
            0,
            "{}: {:?}",
            t.name,
            t.metrics.operations
        );
        for (op, m) in &t.metrics.operations {
            assert_eq!(m.errors.total(), 0, "{}/{op}: {:?}", t.name, m.errors);
        }
    }
    let batch = &run.tests[2].metrics.operations["batch_write"].meta;
    assert_eq!(batch.items, 25 * run.tests[2].metrics.ok(), "{batch:?}");
    let reads = &run.tests[3].metrics.operations["parallel_read"].meta;
    // Repeated keys in one call are fetched once, so at most 50 items per call.
    let calls = run.tests[3].metrics.ok();
    assert!(
        reads.items > calls && reads.items <= 50 * calls,
        "{reads:?}"
    );
    assert!(reads.read_units > 0.0, "{reads:?}");
}

/// Faults for DynamoDB's JSON protocol, injected by lgb-testkit's fault proxy between
/// the adapter and moto.
mod proxy {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use lgb_testkit::{FaultProxy, Response};
    use serde_json::{json, Value};

    #[derive(Debug, Clone, Copy)]
    pub enum Fault {
        /// Every other GetItem gets a ProvisionedThroughputExceededException.
        ThrottleEveryOther,
        /// Every `n`th PutItem is throttled without reaching the table.
        ThrottleWrites(u64),
        /// Batches: forward the first half, report the rest unprocessed.
        HalfUnprocessed,
        /// Batches: forward nothing, report everything unprocessed.
        NothingProcessed,
    }

    /// An answer as DynamoDB gives it (a body the proxy changed has no valid CRC32
    /// header of moto's any more, so none is passed on).
    fn answer(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status, body)
            .with_header("content-type", "application/x-amz-json-1.0")
            .with_header("x-amzn-requestid", "lgb-test-proxy")
    }

    fn throttled() -> Response {
        let body = json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "injected by the lgb test proxy"
        });
        answer(400, body.to_string())
    }

    pub async fn start(upstream: &str, fault: Fault) -> FaultProxy {
        // Calls of the operation the fault is about.
        let calls = Arc::new(AtomicU64::new(0));
        FaultProxy::start(upstream, move |req, ex| {
            let calls = calls.clone();
            async move {
                let op = req.amz_operation().to_string();
                match (fault, op.as_str()) {
                    (Fault::ThrottleEveryOther, "GetItem")
                        if calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) =>
                    {
                        ex.fault();
                        Ok(throttled())
                    }
                    (Fault::ThrottleWrites(n), "PutItem")
                        if (calls.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(n) =>
                    {
                        ex.fault();
                        Ok(throttled())
                    }
                    (
                        Fault::HalfUnprocessed | Fault::NothingProcessed,
                        "BatchWriteItem" | "BatchGetItem",
                    ) => {
                        let write = op == "BatchWriteItem";
                        let mut json = req.json();
                        let items = json["RequestItems"].as_object_mut().unwrap();
                        let (table, entry) = items.iter_mut().next().unwrap();
                        let table = table.clone();
                        let list = if write {
                            entry.as_array_mut().unwrap()
                        } else {
                            entry["Keys"].as_array_mut().unwrap()
                        };
                        let keep = match fault {
                            Fault::NothingProcessed => 0,
                            _ if list.len() == 1 => 1,
                            _ => list.len().div_ceil(2),
                        };
                        let rest: Vec<Value> = list.split_off(keep);
                        if !rest.is_empty() {
                            ex.fault();
                        }
                        let (status, mut resp) = if keep == 0 {
                            let empty = if write {
                                json!({})
                            } else {
                                json!({"Responses": {table.clone(): []}})
                            };
                            (200, empty)
                        } else {
                            let r = ex.forward(&req.with_body(json.to_string())).await?;
                            (r.status, r.json_body())
                        };
                        if status == 200 && !rest.is_empty() {
                            if write {
                                resp["UnprocessedItems"] = json!({ table: rest });
                            } else {
                                resp["UnprocessedKeys"] = json!({ table: { "Keys": rest } });
                            }
                        }
                        Ok(answer(status, resp.to_string()))
                    }
                    _ => {
                        let r = ex.forward(&req).await?;
                        Ok(answer(r.status, r.body))
                    }
                }
            }
        })
        .await
    }
}
