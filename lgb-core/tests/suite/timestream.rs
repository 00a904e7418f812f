//! The `timestream` adapter against the local `timestream` service: a moto server,
//! started through `scripts/services`.
//!
//! moto stores what `WriteRecords` sends (visible in `/moto-api/data.json`) but never
//! computes a query: results are registered beforehand through
//! `/moto-api/static/timestream/query-results`, keyed by the exact query string, and
//! handed out one per call in order, so a list of pages registered for one statement is
//! read back page by page through `NextToken`. moto never rejects a record nor throttles,
//! so a small HTTP proxy on 127.0.0.1 between the adapter and moto does: it drops chosen
//! records before forwarding a call and answers `RejectedRecordsException` for them, or
//! answers `ThrottlingException`.
#![cfg(feature = "timestream")]

use crate::common;

use std::sync::Arc;

use lgb_core::catalog::Registries;
use lgb_core::database::timestream::{
    tsbs, Cell, ColumnType, Mapping, TimestreamDatabase, TimestreamOptions,
};
use lgb_core::database::{Database, DatabaseRegistry};
use lgb_core::operation::OperationRegistry;
use lgb_core::prelude::*;
use lgb_core::record::QueryKind;
use lgb_core::results::RunStatus;
use lgb_core::runner::{CancellationToken, LocalInvoker, Runner};
use lgb_core::session::{ConfigSource, Session};
use lgb_testkit::Request;
use serde_json::{json, Value as Json};

/// The local service's endpoint; puts its AWS_* defaults into this process's
/// environment once, so that the standard credential chain finds them.
fn endpoint() -> String {
    common::aws_endpoint("timestream")
}

/// A database name unique to this test process; tables are named per test.
fn database() -> String {
    format!("lgb-{}", common::unique_prefix("db").trim_end_matches('-'))
}

fn options(table: &str) -> TimestreamOptions {
    let mut o = TimestreamOptions::new(database(), table);
    o.endpoint = Some(endpoint());
    o.region = Some("us-east-1".into());
    o.create_if_missing = true;
    o.key_dimension = "hostname".into();
    o
}

async fn connect(o: TimestreamOptions) -> TimestreamDatabase {
    TimestreamDatabase::connect(o)
        .await
        .expect("connect to the local timestream service")
}

/// A point of host `host` at `time`: one dimension shared by every point, two measures.
fn point(host: &str, time: i64, v: f64) -> Record {
    let mut r = Record::new(host)
        .with_field("cpu", Value::Float(v))
        .with_field("n", Value::Int(time));
    r.timestamp = Some(time);
    r.dimensions.push(("region".into(), "eu-west-1".into()));
    r
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Minimal HTTP/1.1 over a fresh connection, for moto's own API.
async fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let req = Request {
        method: method.to_string(),
        path,
        headers: vec![
            ("host".into(), host.to_string()),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.unwrap_or("").as_bytes().to_vec(),
    };
    let resp = lgb_testkit::http::send(host, &req)
        .await
        .expect("an answer from moto");
    (resp.status, String::from_utf8(resp.body).unwrap())
}

/// Registers `pages` as the results of `statement` (in order, one per Query call).
async fn register_results(statement: &str, pages: Vec<Json>) {
    let mut results = serde_json::Map::new();
    results.insert(statement.to_string(), Json::Array(pages));
    let doc = json!({"region": "us-east-1", "results": results});
    let (status, body) = http(
        "POST",
        &format!("{}/moto-api/static/timestream/query-results", endpoint()),
        Some(&doc.to_string()),
    )
    .await;
    assert_eq!(status, 201, "registering query results: {body}");
}

/// The records moto stored in `table` (of this process's database), and the table.
async fn stored(table: &str) -> (Vec<Json>, Json) {
    let (status, body) = http("GET", &format!("{}/moto-api/data.json", endpoint()), None).await;
    assert_eq!(status, 200, "{body}");
    let data: Json = serde_json::from_str(&body).unwrap();
    let t = data["timestreamwrite"]["TimestreamTable"]
        .as_array()
        .into_iter()
        .flatten()
        // The last one: moto lists a table it replaced too.
        .rfind(|t| t["db_name"] == database().as_str() && t["name"] == table)
        .cloned()
        .unwrap_or_else(|| panic!("moto has no table {table}"));
    (t["records"].as_array().cloned().unwrap_or_default(), t)
}

fn varchar(name: &str) -> Json {
    json!({"Name": name, "Type": {"ScalarType": "VARCHAR"}})
}
fn scalar(name: &str, t: &str) -> Json {
    json!({"Name": name, "Type": {"ScalarType": t}})
}
fn s(v: &str) -> Json {
    json!({"ScalarValue": v})
}
fn null() -> Json {
    json!({"NullValue": true})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_if_missing_creates_database_and_table_with_retention() {
    let mut o = options("created");
    o.memory_retention_hours = 12;
    o.magnetic_retention_days = 30;
    let _db = connect(o.clone()).await;
    let (records, table) = stored("created").await;
    assert!(records.is_empty());
    assert_eq!(
        table["retention_properties"]["MemoryStoreRetentionPeriodInHours"],
        12
    );
    assert_eq!(
        table["retention_properties"]["MagneticStoreRetentionPeriodInDays"],
        30
    );
    // A second adapter (another worker) finds both and creates nothing.
    connect(o).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_of_1_100_and_250_records_are_counted_with_write_units() {
    let db = connect(options("writes")).await;
    let t = 1_700_000_000_000;

    let meta = db.write(&point("h0", t, 0.5)).await.unwrap();
    assert_eq!(meta.items, 1);
    // Everything of a lone record is common: hostname+h0 (10) + region+eu-west-1 (15)
    // + time (8) + "metrics" (7) + cpu (3+8) + n (1+8) = 60 bytes, one write unit.
    assert_eq!(meta.bytes, 60);
    assert_eq!(meta.write_units, 1.0);

    let batch = |n: usize| -> Vec<Record> {
        (0..n)
            .map(|i| point(&format!("h{}", i % 5), t, i as f64))
            .collect()
    };
    let out = db.batch_write(&batch(100)).await.unwrap();
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!(out.meta.items, 100);
    // Common per call: region (15) + time (8) + "metrics" (7) = 30; per record:
    // hostname+hN (10) + cpu (11) + n (9) = 30. 30 + 100 × 30 = 3030 bytes: 3 units.
    assert_eq!(out.meta.bytes, 3030);
    assert_eq!(out.meta.write_units, 3.0);

    let out = db.batch_write(&batch(250)).await.unwrap();
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!(out.meta.items, 250);
    assert_eq!(out.meta.retries, 0);
    // Three calls, 100 + 100 + 50: 3030 + 3030 + 1530 bytes = 3 + 3 + 2 units.
    assert_eq!(out.meta.bytes, 7590);
    assert_eq!(out.meta.write_units, 8.0);

    let (records, _) = stored("writes").await;
    assert_eq!(
        records.len(),
        351,
        "every acknowledged record reached the server"
    );
    let last = &records[350];
    assert_eq!(
        last["Dimensions"],
        json!([{"Name": "hostname", "Value": "h4"}])
    );
    let types: Vec<&str> = last["MeasureValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["DOUBLE", "BIGINT"]);
    assert_eq!(last["MeasureValues"][0]["Value"], "249.0");

    // A batch with a bad record is refused before anything is sent.
    let mut bad = batch(20);
    bad[7].dimensions.push(("measure_name".into(), "x".into()));
    bad[12].fields.push(("raw".into(), Value::Bytes(vec![0])));
    let err = db.batch_write(&bad).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Rejected, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("record 7: dimension name `measure_name` is reserved"),
        "{text}"
    );
    assert!(
        text.contains("record 12: field `raw` holds bytes"),
        "{text}"
    );
    assert_eq!(
        stored("writes").await.0.len(),
        351,
        "nothing of the bad batch was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_measure_mapping_writes_a_record_per_field() {
    let mut o = options("single");
    o.mapping = Mapping::Single;
    o.common_attributes = false;
    let db = connect(o).await;
    let batch: Vec<Record> = (0..60)
        .map(|i| point("h1", 1_700_000_000_000 + i, 1.0))
        .collect();
    let out = db.batch_write(&batch).await.unwrap();
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!(out.meta.items, 60);
    // 120 single-measure records in two calls of 100 and 20; each record carries
    // hostname+h1 (10), region (15), time (8) and its measure (cpu 11 or n 9).
    assert_eq!(out.meta.bytes, 60 * (33 + 11) + 60 * (33 + 9));
    // Calls of 50 and 10 lgb records: 4300 bytes (5 units) and 860 bytes (1 unit).
    assert_eq!(out.meta.write_units, 6.0);
    let (records, _) = stored("single").await;
    assert_eq!(records.len(), 120);
    assert_eq!(records[0]["MeasureName"], "cpu");
    assert_eq!(records[0]["MeasureValueType"], "DOUBLE");
    assert_eq!(records[1]["MeasureName"], "n");
    assert_eq!(records[1]["MeasureValueType"], "BIGINT");
    assert_eq!(records[1]["TimeUnit"], "MILLISECONDS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_records_fail_alone_and_the_rest_count_as_written() {
    let mut o = options("rejects");
    let proxy = proxy::start(&endpoint(), proxy::Fault::Reject(vec![1, 3])).await;
    connect(o.clone()).await; // creates the table directly
    o.endpoint = Some(proxy.endpoint.clone());
    o.create_if_missing = false;
    let db = connect(o).await;
    let t = 1_700_000_000_000;
    let batch: Vec<Record> = (0..150).map(|i| point(&format!("h{i}"), t, 1.0)).collect();
    let out = db.batch_write(&batch).await.unwrap();
    let failed: Vec<usize> = out.failed.iter().map(|f| f.index).collect();
    assert_eq!(failed, [1, 3, 101, 103]);
    for f in &out.failed {
        assert_eq!(f.class, ErrorClass::Rejected);
        assert!(f.message.contains("injected rejection"), "{f:?}");
    }
    assert_eq!(out.meta.items, 146);
    // Only accepted records are billed: hostname+hN is 10, 11 or 12 bytes.
    let size = |i: usize| (8 + format!("h{i}").len() + 20) as u64;
    let call = |r: std::ops::Range<usize>| -> u64 {
        30 + r
            .filter(|i| ![1, 3, 101, 103].contains(i))
            .map(size)
            .sum::<u64>()
    };
    assert_eq!(out.meta.bytes, call(0..100) + call(100..150));
    assert_eq!(
        out.meta.write_units,
        (call(0..100).div_ceil(1024) + call(100..150).div_ceil(1024)) as f64
    );
    let (records, _) = stored("rejects").await;
    assert_eq!(
        records.len(),
        146,
        "the proxy forwarded the accepted records only"
    );
    assert_eq!(proxy.faults(), 2);

    // A call of two records: the second is rejected, the first written.
    let two = [point("x0", t, 1.0), point("x1", t, 1.0)];
    let out = db.batch_write(&two).await.unwrap();
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].index, 1);
    assert_eq!(out.meta.items, 1);
    assert_eq!(stored("rejects").await.0.len(), 147);

    // A single write that is rejected is a `rejected` error.
    let mut o = options("rejects");
    let proxy = proxy::start(&endpoint(), proxy::Fault::Reject(vec![0])).await;
    o.endpoint = Some(proxy.endpoint.clone());
    let db = connect(o).await;
    let err = db.write(&point("x2", t, 1.0)).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Rejected, "{err}");
    assert!(
        err.to_string().contains("injected rejection of record 0"),
        "{err}"
    );
    assert_eq!(stored("rejects").await.0.len(), 147);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_with_backoff_then_counted() {
    let mut o = options("throttled");
    connect(o.clone()).await;
    o.create_if_missing = false;
    o.max_retries = 3;
    o.retry_backoff = "1ms".parse().unwrap();

    let proxy = proxy::start(&endpoint(), proxy::Fault::ThrottleFirst(2)).await;
    o.endpoint = Some(proxy.endpoint.clone());
    let db = connect(o.clone()).await;
    let meta = db
        .write(&point("h0", 1_700_000_000_000, 1.0))
        .await
        .unwrap();
    assert_eq!(meta.retries, 2);
    assert_eq!(meta.items, 1);
    assert_eq!(stored("throttled").await.0.len(), 1);

    let proxy = proxy::start(&endpoint(), proxy::Fault::ThrottleFirst(u64::MAX)).await;
    o.endpoint = Some(proxy.endpoint.clone());
    let db = connect(o).await;
    let err = db
        .write(&point("h0", 1_700_000_000_001, 1.0))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Throttled, "{err}");
    assert!(err.to_string().contains("after 3 retries"), "{err}");
    assert_eq!(proxy.faults(), 4, "one try and three retries");
    let err = db
        .query(&Query::Native {
            statement: "SELECT 1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Throttled, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_results_are_typed_over_every_page() {
    let db = connect(options("queries")).await;
    let statement = format!(
        "SELECT * FROM \"{}\".\"queries\" WHERE time >= ago(1h) -- typed",
        database()
    );
    let columns = json!([
        varchar("hostname"),
        scalar("time", "TIMESTAMP"),
        scalar("usage_user", "DOUBLE"),
        scalar("n", "BIGINT"),
        scalar("up", "BOOLEAN"),
        varchar("note"),
        scalar("day", "DATE"),
    ]);
    let row = |h: &str, t: &str, u: Json, n: Json, up: Json, note: Json| json!({"Data": [s(h), s(t), u, n, up, note, s("2024-05-01")]});
    let pages = vec![
        json!({"QueryId": "q", "NextToken": "page-2", "ColumnInfo": columns, "Rows": [
            row("h1", "2024-05-01 12:30:00.123456789", s("1.5"), s("7"), s("true"), s("ok")),
            row("h2", "2024-05-01 12:30:01.000000000", null(), s("-3"), s("false"), null()),
        ], "QueryStatus": {"ProgressPercentage": 50.0, "CumulativeBytesScanned": 1000, "CumulativeBytesMetered": 10000000}}),
        // Timestream may answer a page without rows while the query runs.
        json!({"QueryId": "q", "NextToken": "page-3", "ColumnInfo": columns, "Rows": []}),
        json!({"QueryId": "q", "ColumnInfo": columns, "Rows": [
            row("h3", "2024-05-01 12:30:02", s("99.25"), null(), null(), s("it's")),
        ], "QueryStatus": {"ProgressPercentage": 100.0, "CumulativeBytesScanned": 4096, "CumulativeBytesMetered": 10000000}}),
    ];
    register_results(&statement, pages.clone()).await;
    let (set, meta) = db.query_rows(&statement).await.unwrap();
    assert_eq!(meta.items, 3);
    assert_eq!(meta.bytes, 4096, "bytes scanned, as last reported");
    let kinds: Vec<ColumnType> = set.columns.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            ColumnType::Varchar,
            ColumnType::Timestamp,
            ColumnType::Double,
            ColumnType::Bigint,
            ColumnType::Boolean,
            ColumnType::Varchar,
            ColumnType::Date
        ]
    );
    assert_eq!(
        set.rows,
        [
            vec![
                Cell::Str("h1".into()),
                Cell::Timestamp(1_714_566_600_123_456_789),
                Cell::Float(1.5),
                Cell::Int(7),
                Cell::Bool(true),
                Cell::Str("ok".into()),
                Cell::Text("2024-05-01".into())
            ],
            vec![
                Cell::Str("h2".into()),
                Cell::Timestamp(1_714_566_601_000_000_000),
                Cell::Null,
                Cell::Int(-3),
                Cell::Bool(false),
                Cell::Null,
                Cell::Text("2024-05-01".into())
            ],
            vec![
                Cell::Str("h3".into()),
                Cell::Timestamp(1_714_566_602_000_000_000),
                Cell::Float(99.25),
                Cell::Null,
                Cell::Null,
                Cell::Str("it's".into()),
                Cell::Text("2024-05-01".into())
            ],
        ]
    );

    // The same pages through `Database::query`: records keyed by host, NULLs left out.
    register_results(&statement, pages).await;
    let out = db
        .query(&Query::Native {
            statement: statement.clone(),
        })
        .await
        .unwrap();
    assert_eq!(out.records.len(), 3);
    let r = &out.records[1];
    assert_eq!(r.key, "h2");
    assert_eq!(r.timestamp, Some(1_714_566_601_000));
    assert_eq!(
        r.fields,
        [
            ("n".to_string(), Value::Int(-3)),
            ("up".to_string(), Value::Bool(false)),
            ("day".to_string(), Value::Str("2024-05-01".into()))
        ]
    );
    assert_eq!(
        out.records[2].field("usage_user"),
        Some(&Value::Float(99.25))
    );

    // Registered results are used up: the statement now returns nothing.
    let (set, _) = db.query_rows(&statement).await.unwrap();
    assert!(set.rows.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_latest_and_time_range_parse_their_points() {
    let db = connect(options("points")).await;
    let key = common::unique_prefix("host");
    let columns = json!([
        varchar("hostname"),
        varchar("measure_name"),
        scalar("time", "TIMESTAMP"),
        scalar("cpu", "DOUBLE"),
        scalar("n", "BIGINT")
    ]);
    let point_row =
        |t: &str, cpu: &str| json!({"Data": [s(&key), s("metrics"), s(t), s(cpu), s("1")]});

    register_results(
        &db.statements().read(&key),
        vec![json!({"QueryId": "r", "ColumnInfo": columns, "Rows": [point_row("2024-05-01 00:00:10", "2.5")]})],
    )
    .await;
    let got = db
        .read(&key)
        .await
        .unwrap()
        .record
        .expect("the registered point");
    assert_eq!(got.key, key);
    assert_eq!(got.timestamp, Some(1_714_521_610_000));
    assert_eq!(
        got.fields,
        [
            ("cpu".to_string(), Value::Float(2.5)),
            ("n".to_string(), Value::Int(1))
        ]
    );
    // No result (nothing registered, nothing written): not found is `None`, not an error.
    assert!(db
        .read(&format!("{key}-none"))
        .await
        .unwrap()
        .record
        .is_none());

    register_results(
        &db.statements().latest(&key, 2),
        vec![json!({"QueryId": "l", "ColumnInfo": columns, "Rows": [
            point_row("2024-05-01 00:00:10", "2.5"), point_row("2024-05-01 00:00:00", "1.5")]})],
    )
    .await;
    let out = db
        .query(&Query::Latest {
            key: key.clone(),
            limit: 2,
        })
        .await
        .unwrap();
    let times: Vec<Option<i64>> = out.records.iter().map(|r| r.timestamp).collect();
    assert_eq!(times, [Some(1_714_521_610_000), Some(1_714_521_600_000)]);

    register_results(
        &db.statements().time_range(&key, 1_714_521_600_000, 1_714_521_700_000),
        vec![
            json!({"QueryId": "t", "NextToken": "2", "ColumnInfo": columns, "Rows": [point_row("2024-05-01 00:00:00", "1.5")]}),
            json!({"QueryId": "t", "ColumnInfo": columns, "Rows": [point_row("2024-05-01 00:00:10", "2.5")]}),
        ],
    )
    .await;
    let q = Query::TimeRange {
        key: key.clone(),
        start_ms: 1_714_521_600_000,
        end_ms: 1_714_521_700_000,
    };
    let out = db.query(&q).await.unwrap();
    let cpu: Vec<Option<&Value>> = out.records.iter().map(|r| r.field("cpu")).collect();
    assert_eq!(cpu, [Some(&Value::Float(1.5)), Some(&Value::Float(2.5))]);
    assert!(db.capabilities().queries.contains(&QueryKind::TimeRange));

    // Arrays (and time series, rows) are refused with a clear error.
    let statement = format!("SELECT array_agg(cpu) AS a FROM points -- {key}");
    register_results(
        &statement,
        vec![json!({"QueryId": "a", "ColumnInfo": [{"Name": "a", "Type": {"ArrayColumnInfo": {"Type": {"ScalarType": "DOUBLE"}}}}],
                    "Rows": [{"Data": [{"ArrayValue": [s("1.0")]}]}]})],
    )
    .await;
    let err = db.query(&Query::Native { statement }).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported, "{err}");
    assert!(err.to_string().contains("column `a` is an ARRAY"), "{err}");
    let err = db
        .query(&Query::Prefix {
            prefix: "h".into(),
            limit: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_table_is_a_config_error_naming_it() {
    let mut o = options("absent");
    o.create_if_missing = false;
    o.table = "no-such-table".into();
    let db = connect(o.clone()).await;
    let err = db.write(&point("h0", 1, 1.0)).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Config, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("`{}`.`no-such-table`", database())),
        "{text}"
    );
    assert!(text.contains("us-east-1"), "{text}");
    assert_eq!(err.config_problems()[0].path, "database.table");

    o.database = "lgb-no-such-database".into();
    let db = connect(o).await;
    let err = db
        .batch_write(&[point("h0", 1, 1.0), point("h1", 1, 1.0)])
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Config, "{err}");
    assert!(err.to_string().contains("lgb-no-such-database"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_a_connect_error() {
    endpoint();
    let mut o = TimestreamOptions::new("lgb-db", "cpu");
    o.endpoint = Some(format!("http://127.0.0.1:{}", closed_port()));
    o.region = Some("us-east-1".into());
    let db = connect(o.clone()).await;
    let err = db.write(&point("h0", 1, 1.0)).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Connect, "{err}");
    let err = db
        .query(&Query::Native {
            statement: "SELECT 1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Connect, "{err}");
    // With create_if_missing the adapter talks to the server while it is built.
    o.create_if_missing = true;
    let err = TimestreamDatabase::connect(o).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Connect, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_an_answer_is_a_timeout() {
    let proxy = proxy::start(&endpoint(), proxy::Fault::Hang).await;
    let mut o = options("hang");
    o.create_if_missing = false;
    o.endpoint = Some(proxy.endpoint.clone());
    o.request_timeout = Some("200ms".parse().unwrap());
    let db = connect(o).await;
    let started = std::time::Instant::now();
    let err = db.write(&point("h0", 1, 1.0)).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Timeout, "{err}");
    let err = db
        .query(&Query::Native {
            statement: "SELECT 1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Timeout, "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(proxy.faults(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_builds_the_adapter_and_checks_its_options() {
    let registry = DatabaseRegistry::with_builtins();
    let cfg: lgb_core::config::DatabaseConfig = serde_json::from_value(json!({
        "type": "timestream", "database": database(), "table": "registry",
        "endpoint": endpoint(), "region": "us-east-1", "create_if_missing": true
    }))
    .unwrap();
    assert!(registry.validate(&cfg).is_empty());
    let db = registry.build(&cfg).await.unwrap();
    assert_eq!(db.name(), "timestream");
    assert_eq!(db.capabilities().max_batch_size, 100);
    let bad: lgb_core::config::DatabaseConfig = serde_json::from_value(
        json!({"type": "timestream", "database": "x", "table": "cpu", "key_dimension": "ts_host"}),
    )
    .unwrap();
    let paths: Vec<String> = registry
        .validate(&bad)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(paths, ["database.database", "database.key_dimension"]);
}

/// The example config, run locally with `timeseries_write` registered: it writes the
/// whole time series it promises, and its TSBS statements are the ones [`tsbs`] builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_config_runs_a_time_series_workload_end_to_end() {
    let text = std::fs::read_to_string(common::repo_root().join("examples/timestream-local.json"))
        .unwrap();
    let mut ops = OperationRegistry::default();
    lgb_core::operation::timeseries::register(&mut ops);
    let registries = Registries {
        databases: DatabaseRegistry::with_builtins(),
        operations: ops.clone(),
    };
    let table = "example";
    let overrides: Vec<String> = vec![
        format!("database.endpoint={}", endpoint()),
        format!("database.database={}", database()),
        format!("database.table={table}"),
        "tests[0].operation.steps=6".into(),
        "runner.workers=2".into(),
        // Each stored record must carry its own hostname for the (host, time) check
        // below: with common attributes, a call whose points are all one host's (a
        // task's short last call) sends hostname once for the call, and moto stores
        // the records without it. Factoring is tested in timestream/mapping.rs.
        "database.common_attributes=false".into(),
    ];
    let mut config = Session::load_with(
        ConfigSource::Text(&text),
        &overrides,
        None,
        registries.clone(),
    )
    .map(Session::into_config)
    .unwrap();
    for t in config.tests.iter_mut().skip(1) {
        t.duration = Some("300ms".parse().unwrap());
        t.warmup = Default::default();
    }

    // The statements in the example are what the builders make for its own table.
    let as_written = Session::load_with(ConfigSource::Text(&text), &[], None, registries.clone())
        .map(Session::into_config)
        .unwrap();
    let hosts = config.workload.records;
    let t = tsbs::TsbsTable {
        database: as_written.database.options["database"]
            .as_str()
            .unwrap()
            .into(),
        table: as_written.database.options["table"]
            .as_str()
            .unwrap()
            .into(),
        host_column: as_written.database.options["key_dimension"]
            .as_str()
            .unwrap()
            .into(),
        mapping: Mapping::Multi,
    };
    let names: Vec<String> = lgb_core::workload::timeseries::CPU_METRICS
        .iter()
        .map(|m| m.to_string())
        .collect();
    let expected: std::collections::BTreeMap<String, String> =
        tsbs::devops_statements(&t, &names).into_iter().collect();
    let mut checked = 0;
    for test in &as_written.tests {
        let op = test.operation.as_ref().unwrap();
        if let Some(statement) = op.options.get("statement").and_then(Json::as_str) {
            assert_eq!(
                Some(&statement.to_string()),
                expected.get(&test.name),
                "statement of {}",
                test.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "the example runs TSBS statements");

    let worker = Arc::new(lgb_core::worker::Worker::new(
        DatabaseRegistry::with_builtins(),
        ops,
    ));
    let runner = Runner::new(Arc::new(LocalInvoker::new(worker)), 0);
    let run = runner
        .run(&config, CancellationToken::new(), &Silent)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    let ingest = &run.tests[0];
    let m = &ingest.metrics.operations["timeseries_write"];
    assert_eq!(m.failed, 0, "{:?}", ingest.metrics.errors);
    let points = hosts * 6;
    assert_eq!(
        m.meta.items, points,
        "every point of 6 steps × {hosts} hosts"
    );
    // Calls of 100 points, but for the last call of each task, which may be short.
    let tasks = 2 * u64::from(ingest.test.concurrency);
    assert!(
        (points.div_ceil(100)..=points.div_ceil(100) + tasks).contains(&m.ok),
        "{} calls",
        m.ok
    );
    assert!(m.meta.write_units >= m.ok as f64, "{:?}", m.meta);
    assert!(m.meta.bytes > points * 100, "{:?}", m.meta);

    let (records, _) = stored(table).await;
    assert_eq!(records.len() as u64, points);
    // Every (host, time) once: the workers together wrote one stream.
    let mut seen = std::collections::HashSet::new();
    for r in &records {
        let host = r["Dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["Name"] == "hostname")
            .map(|d| d["Value"].clone());
        assert!(
            seen.insert((host, r["Time"].clone())),
            "duplicate point {r}"
        );
    }
    for test in &run.tests[1..] {
        assert!(test.metrics.ok() > 0, "{} ran", test.name);
        assert_eq!(
            test.metrics.failed(),
            0,
            "{}: {:?}",
            test.name,
            test.metrics.errors
        );
    }
}

/// Faults for Timestream's JSON protocol, injected by lgb-testkit's fault proxy
/// between the adapter and moto.
mod proxy {
    use lgb_testkit::{FaultProxy, Response};
    use serde_json::{json, Value};

    #[derive(Debug, Clone)]
    pub enum Fault {
        /// Every WriteRecords call: these record indices are dropped and reported rejected.
        Reject(Vec<usize>),
        /// The first n WriteRecords and Query calls get a ThrottlingException.
        ThrottleFirst(u64),
        /// Requests are read and never answered.
        Hang,
    }

    fn error(status: u16, error_type: &str, body: &Value) -> Response {
        Response::new(status, body.to_string())
            .with_header("content-type", "application/x-amz-json-1.0")
            .with_header("x-amzn-errortype", error_type)
            .with_header("x-amzn-requestid", "lgb-test-proxy")
    }

    pub async fn start(upstream: &str, fault: Fault) -> FaultProxy {
        FaultProxy::start(upstream, move |req, ex| {
            let fault = fault.clone();
            async move {
                match (&fault, req.amz_operation()) {
                    (Fault::Hang, _) => {
                        ex.fault();
                        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                        Err(std::io::Error::other("hung"))
                    }
                    (Fault::ThrottleFirst(n), "WriteRecords" | "Query") if ex.faults() < *n => {
                        ex.fault();
                        let body = json!({"__type": "ThrottlingException", "Message": "Rate exceeded (injected by the lgb test proxy)"});
                        Ok(error(400, "ThrottlingException", &body))
                    }
                    (Fault::Reject(indices), "WriteRecords") => {
                        let mut doc = req.json();
                        let records = doc["Records"].as_array().cloned().unwrap_or_default();
                        let rejected: Vec<usize> = indices
                            .iter()
                            .copied()
                            .filter(|&i| i < records.len())
                            .collect();
                        if rejected.is_empty() {
                            return ex.forward(&req).await;
                        }
                        let kept: Vec<Value> = records
                            .into_iter()
                            .enumerate()
                            .filter(|(i, _)| !rejected.contains(i))
                            .map(|(_, r)| r)
                            .collect();
                        if !kept.is_empty() {
                            doc["Records"] = Value::Array(kept);
                            ex.forward(&req.with_body(doc.to_string())).await?;
                        }
                        ex.fault();
                        let body = json!({
                            "__type": "RejectedRecordsException",
                            "Message": "One or more records have been rejected. See RejectedRecords for details.",
                            "RejectedRecords": rejected.iter().map(|i| json!({
                                "RecordIndex": i,
                                "Reason": format!("injected rejection of record {i}")
                            })).collect::<Vec<_>>()
                        });
                        Ok(error(419, "RejectedRecordsException", &body))
                    }
                    _ => ex.forward(&req).await,
                }
            }
        })
        .await
    }
}
