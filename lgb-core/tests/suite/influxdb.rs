//! The `influxdb` adapter against the local `influxdb` service (Debian's InfluxDB
//! 1.6.7, v1 API, started through `scripts/services`): the conformance suite, bad
//! input, partial writes read back, escaping round trips, queries, the TSBS queries
//! over the time-series workload, gzip; throttling and rejections through the fault
//! proxy in front of it; and the v2 and v3 request shapes against lgb-testkit's
//! recorded expectations (no local v2 or v3 server: docs/influxdb.md).
#![cfg(feature = "influxdb")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common;

use lgb_core::database::influxdb::query::{Statements, Tsbs};
use lgb_core::database::influxdb::{Api, InfluxdbDatabase, InfluxdbOptions, QueryLanguage, Token};
use lgb_core::database::Database;
use lgb_core::prelude::*;
use lgb_testkit::influxdb as recorded;
use lgb_testkit::{FaultProxy, Response};

fn endpoint() -> String {
    lgb_testkit::services::influxdb_endpoint()
}

/// A database name unique to this test process and test.
fn database(test: &str) -> String {
    common::unique_prefix(test).replace('-', "_")
}

fn options(test: &str) -> InfluxdbOptions {
    let mut o = InfluxdbOptions::new(endpoint(), database(test));
    o.create_database_if_missing = true;
    o.measurement = "cpu".into();
    o.key_tag = "hostname".into();
    o
}

async fn connect(o: InfluxdbOptions) -> InfluxdbDatabase {
    InfluxdbDatabase::connect(o)
        .await
        .expect("connect to the local influxdb service")
}

/// Runs an InfluxQL statement on `db` and returns the raw series values.
async fn count(db: &InfluxdbDatabase, key: &str) -> usize {
    let q = format!("SELECT * FROM \"cpu\" WHERE \"hostname\" = '{key}'");
    db.query(&Query::Native { statement: q })
        .await
        .expect("query")
        .records
        .len()
}

async fn conformance_db() -> Arc<dyn Database> {
    Arc::new(connect(options("conf")).await)
}

conformance_suite!(conformance_db().await);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escaping_round_trips_through_the_server() {
    let db = connect(options("esc")).await;
    let key = "host a,b=c\\d";
    let mut r = Record::new(key)
        .with_field(
            "field with space",
            Value::Str("quote \" and back\\slash, = too".into()),
        )
        .with_field("i", Value::Int(-7))
        .with_field("f", Value::Float(2.5))
        .with_field("b", Value::Bool(true));
    r.dimensions
        .push(("region name".into(), "eu west,1=x".into()));
    r.timestamp = Some(1_700_000_000_123);
    db.write(&r).await.expect("write");
    let got = db
        .query(&Query::TimeRange {
            key: key.into(),
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_001_000,
        })
        .await
        .expect("time range")
        .records;
    assert_eq!(got.len(), 1, "{got:?}");
    let p = &got[0];
    assert_eq!(p.key, key);
    assert_eq!(p.timestamp, Some(1_700_000_000_123));
    assert_eq!(
        p.dimensions,
        [("region name".to_string(), "eu west,1=x".to_string())]
    );
    for (name, v) in &r.fields {
        assert_eq!(p.field(name), Some(v), "field {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_before_sending() {
    let db = connect(options("bad")).await;
    let ok = |k: &str| Record::new(k).with_field("v", Value::Int(1));

    let mut nl = ok("nl");
    nl.dimensions.push(("region".into(), "eu\nwest".into()));
    let e = db.write(&nl).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Rejected);
    assert!(
        e.to_string()
            .contains("tag `region`: a tag value cannot hold a newline"),
        "{e}"
    );

    let mut clash = ok("clash");
    clash.dimensions.push(("region".into(), "eu".into()));
    clash.fields.push(("region".into(), Value::Str("x".into())));
    let e = db.write(&clash).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("field `region` has the name of a tag"),
        "{e}"
    );
    let e = db
        .write(&ok("k").with_field("hostname", Value::Int(1)))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("field `hostname` has the name of a tag"),
        "{e}"
    );

    let empty = db
        .batch_write(&[])
        .await
        .expect("an empty batch is no error");
    assert!(empty.failed.is_empty());
    assert_eq!(empty.meta.items, 0);
    assert_eq!(empty.meta.bytes, 0, "an empty batch sends nothing");

    let big = Record::new("big").with_field("blob", Value::Str("x".repeat(10 << 20)));
    let e = db.write(&big).await.unwrap_err();
    assert!(
        e.to_string().contains("10.0 MiB") && e.to_string().contains("batch_bytes"),
        "{e}"
    );

    // In a batch, the bad points are listed and the good ones written.
    let batch = vec![ok("good1"), big, nl, ok("good2")];
    let out = db.batch_write(&batch).await.expect("batch");
    assert_eq!(out.meta.items, 2);
    let failed: Vec<usize> = out.failed.iter().map(|f| f.index).collect();
    assert_eq!(failed, [1, 2]);
    assert!(out.failed.iter().all(|f| f.class == ErrorClass::Rejected));
    assert_eq!(count(&db, "good1").await, 1);
    assert_eq!(count(&db, "good2").await, 1);
    assert_eq!(count(&db, "big").await, 0);
    assert_eq!(count(&db, "nl").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_write_counts_the_rejected_points_and_never_reports_them_written() {
    let db = connect(options("partial")).await;
    // `v` becomes an integer field.
    db.write(&Record::new("seed").with_field("v", Value::Int(1)))
        .await
        .expect("seed");
    // Within one request, a new field `u` sent as integer then as string: InfluxDB
    // 1.6 writes the first and drops the second, and says so.
    let mixed = vec![
        Record::new("m0").with_field("u", Value::Int(1)),
        Record::new("m1").with_field("u", Value::Str("x".into())),
    ];
    let out = db.batch_write(&mixed).await.unwrap();
    assert_eq!(out.failed.iter().map(|f| f.index).collect::<Vec<_>>(), [1]);
    assert_eq!(out.meta.items, 1);
    assert_eq!((count(&db, "m0").await, count(&db, "m1").await), (1, 0));
    // Points 1 and 3 send `v` as a string: InfluxDB drops them and writes the others
    // (which send another field).
    let batch: Vec<Record> = (0..5)
        .map(|i| {
            let (name, v) = if i % 2 == 1 {
                ("v", Value::Str(format!("s{i}")))
            } else {
                ("w", Value::Int(i))
            };
            // No timestamp: the time of the call, in the seed's shard (InfluxDB 1.x
            // keeps field types per shard, a week of time by default).
            Record::new(format!("p{i}")).with_field(name, v)
        })
        .collect();
    let out = db
        .batch_write(&batch)
        .await
        .expect("a partial write is no call error");
    let failed: Vec<usize> = out.failed.iter().map(|f| f.index).collect();
    assert_eq!(failed, [1, 3], "{:?}", out.failed);
    assert_eq!(out.meta.items, 3);
    for f in &out.failed {
        assert_eq!(f.class, ErrorClass::Rejected);
        assert!(f.message.contains("field type conflict"), "{}", f.message);
    }
    // Read back: exactly the points reported written are there.
    for (i, _) in batch.iter().enumerate() {
        let n = count(&db, &format!("p{i}")).await;
        assert_eq!(n, usize::from(!failed.contains(&i)), "point p{i}");
    }
    // A single write the server rejects is an error naming InfluxDB's message.
    let e = db
        .write(&Record::new("one").with_field("v", Value::Bool(true)))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Rejected);
    assert!(e.to_string().contains("field type conflict"), "{e}");
    assert_eq!(count(&db, "one").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_latest_time_range_and_native() {
    let mut o = options("query");
    o.gzip = true;
    o.batch_points = 7;
    let db = connect(o).await;
    let points: Vec<Record> = (0..20)
        .map(|i| {
            let mut r = Record::new("h1").with_field("usage_user", Value::Float(i as f64 + 0.5));
            r.timestamp = Some(1_700_000_000_000 + i * 1000);
            r
        })
        .collect();
    let out = db.batch_write(&points).await.expect("gzipped batches");
    assert!(out.failed.is_empty());
    assert_eq!(out.meta.items, 20);
    let range = db
        .query(&Query::TimeRange {
            key: "h1".into(),
            start_ms: 1_700_000_005_000,
            end_ms: 1_700_000_010_000,
        })
        .await
        .unwrap();
    let times: Vec<i64> = range.records.iter().map(|r| r.timestamp.unwrap()).collect();
    assert_eq!(
        times,
        (5..10)
            .map(|i| 1_700_000_000_000 + i * 1000)
            .collect::<Vec<_>>()
    );
    assert_eq!(range.meta.items, 5);
    assert!(range.meta.bytes > 0);
    // The points are years old: `latest` looks back `lookback` only.
    let mut o = options("query");
    o.lookback = lgb_core::units::HumanDuration(Duration::from_secs(100 * 365 * 86400));
    let wide = connect(o).await;
    let latest = wide
        .query(&Query::Latest {
            key: "h1".into(),
            limit: 3,
        })
        .await
        .unwrap();
    let times: Vec<i64> = latest
        .records
        .iter()
        .map(|r| r.timestamp.unwrap())
        .collect();
    assert_eq!(
        times,
        [1_700_000_019_000, 1_700_000_018_000, 1_700_000_017_000]
    );
    assert!(
        db.read("h1").await.unwrap().record.is_none(),
        "outside the default lookback"
    );
    let native = db
        .query(&Query::Native {
            statement: "SELECT max(\"usage_user\") FROM \"cpu\" WHERE \"hostname\" = 'h1'".into(),
        })
        .await
        .unwrap();
    assert_eq!(native.records[0].field("max"), Some(&Value::Float(19.5)));
    let e = db
        .query(&Query::Native {
            statement: "SELEKT nonsense".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Rejected);
    assert!(e.to_string().contains("error parsing query"), "{e}");
    let e = db
        .query(&Query::Range {
            start: "a".into(),
            end: None,
            limit: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Unsupported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tsbs_queries_run_on_the_written_time_series() {
    use lgb_core::workload::keys::KeyFormatter;
    use lgb_core::workload::timeseries::{TimeSeriesGenerator, TimeSeriesOptions};
    let db = connect(options("tsbs")).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let opts = TimeSeriesOptions {
        hosts: Some(20),
        metrics: 10,
        ..Default::default()
    };
    let gen = TimeSeriesGenerator::new(&opts, 20, KeyFormatter::new("host"), now - 3_600_000);
    let points: Vec<Record> = (0..20 * 30).map(|i| gen.record(i)).collect();
    let out = db.batch_write(&points).await.unwrap();
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    let t = Tsbs {
        s: Statements {
            measurement: "cpu".into(),
            key_tag: "hostname".into(),
            language: QueryLanguage::Influxql,
            api: Api::V1,
            lookback: Duration::from_secs(3600),
        },
    };
    let host = points[0].key.clone();
    let w = Duration::from_secs(2 * 3600);
    let metrics = &lgb_core::workload::timeseries::CPU_METRICS;
    for (name, q, min_rows) in [
        (
            "single-groupby-1-1-1",
            t.single_groupby(&metrics[..1], &[&host], w),
            1,
        ),
        ("cpu-max-all-1", t.max_all(&metrics[..], &[&host], w), 1),
        ("double-groupby-1", t.double_groupby(&metrics[..1], w), 20),
        ("high-cpu-all", t.high_cpu(&[], w), 0),
        ("lastpoint", t.lastpoint(&metrics[..], w), 20),
        (
            "groupby-orderby-limit",
            t.groupby_orderby_limit("usage_user", w),
            5,
        ),
    ] {
        let out = db
            .query(&Query::Native {
                statement: q.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n{q}"));
        assert!(
            out.records.len() >= min_rows,
            "{name}: {} rows",
            out.records.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_then_classified_and_4xx_names_influxdbs_message() {
    let upstream = endpoint();
    let throttles = Arc::new(AtomicUsize::new(2));
    let left = throttles.clone();
    let proxy = FaultProxy::start(&upstream, move |req, ex| {
        let left = left.clone();
        async move {
            if req.path.starts_with("/write") && left.load(Ordering::SeqCst) > 0 {
                left.fetch_sub(1, Ordering::SeqCst);
                ex.fault();
                return Ok(Response::json(429, r#"{"error":"too many requests"}"#)
                    .with_header("retry-after", "0"));
            }
            ex.forward(&req).await
        }
    })
    .await;
    let mut o = options("throttle");
    o.endpoint = proxy.endpoint.clone();
    let db = connect(o).await;
    let meta = db
        .write(&Record::new("t").with_field("v", Value::Int(1)))
        .await
        .unwrap();
    assert_eq!(meta.retries, 2);
    assert_eq!(count(&db, "t").await, 1);

    throttles.store(100, Ordering::SeqCst);
    let e = db
        .write(&Record::new("t2").with_field("v", Value::Int(1)))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Throttled);
    assert!(e.to_string().contains("after 5 retries"), "{e}");
    throttles.store(0, Ordering::SeqCst);

    // A database that does not exist: InfluxDB's 404 and its message.
    let mut o = InfluxdbOptions::new(endpoint(), database("missing"));
    o.measurement = "cpu".into();
    let db = connect(o).await;
    let e = db
        .write(&Record::new("x").with_field("v", Value::Int(1)))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Rejected);
    assert!(e.to_string().contains("database not found"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_come_from_secret_variables_only() {
    let mut o = options("tok");
    o.token_env = Some("AWS_SECRET_ACCESS_KEY".into());
    let e = InfluxdbDatabase::connect(o).await.unwrap_err();
    assert_eq!(e.config_problems()[0].path, "database.token_env");
    let mut o = options("tok");
    o.token_env = Some("LGB_SECRET_INFLUXDB_TOKEN_UNSET_IN_TESTS".into());
    let e = InfluxdbDatabase::connect(o).await.unwrap_err();
    assert!(e.to_string().contains("is not set"), "{e}");
}

/// The v2 scenario's options against `url`.
fn scenario(url: &str, api: Api) -> InfluxdbOptions {
    let mut o = InfluxdbOptions::new(url, "bench");
    o.api = api;
    if api == Api::V2 {
        o.database = None;
        o.org = Some("lgb".into());
        o.bucket = Some("bench".into());
    }
    o.token = Some(Token::new(recorded::TOKEN));
    o.measurement = "cpu".into();
    o.key_tag = "hostname".into();
    o.create_database_if_missing = true;
    o
}

fn scenario_point() -> Record {
    let mut r = Record::new("host 1")
        .with_field("usage_user", Value::Float(1.5))
        .with_field("n", Value::Int(3))
        .with_field("msg", Value::Str("say \"hi\"".into()));
    r.dimensions.push(("region".into(), "eu,west".into()));
    r.timestamp = Some(1_700_000_000_000);
    r
}

async fn run_scenario(api: Api, expected: &[recorded::Expected]) {
    let server = recorded::Recorder::start(recorded::answer).await;
    let db = connect(scenario(&server.url, api)).await;
    let p = scenario_point();
    assert_eq!(db.write(&p).await.unwrap().items, 1);
    let got = db
        .read("host 1")
        .await
        .unwrap()
        .record
        .expect("the point comes back");
    assert_eq!(got.key, "host 1");
    assert_eq!(got.timestamp, Some(1_700_000_000_000));
    assert_eq!(got.dimensions, p.dimensions);
    for (name, v) in &p.fields {
        assert_eq!(got.field(name), Some(v), "{name}");
    }
    recorded::assert_requests(&server.requests(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_requests_match_the_recorded_expectations() {
    run_scenario(Api::V2, recorded::V2_EXPECTED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_requests_match_the_recorded_expectations() {
    run_scenario(Api::V3, recorded::V3_EXPECTED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_and_v3_partial_writes_are_counted() {
    let records: Vec<Record> = (0..3)
        .map(|i| {
            let v = if i == 1 {
                Value::Str("x".into())
            } else {
                Value::Int(i)
            };
            Record::new(format!("h{i}")).with_field("n", v)
        })
        .collect();
    // v2: 422 with InfluxDB 2's message for a field type conflict.
    let server = recorded::Recorder::start(|req| {
        if req.path.starts_with("/api/v2/write") {
            Response::json(422, r#"{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \"n\" on measurement \"cpu\" is type string, already exists as type integer dropped=1"}"#)
        } else {
            recorded::answer(req)
        }
    })
    .await;
    let mut o = scenario(&server.url, Api::V2);
    o.create_database_if_missing = false;
    let out = connect(o).await.batch_write(&records).await.unwrap();
    assert_eq!(out.failed.iter().map(|f| f.index).collect::<Vec<_>>(), [1]);
    assert_eq!(out.meta.items, 2);
    // v3: 400 with the lines that failed, numbered from 1.
    let server = recorded::Recorder::start(|req| {
        if req.path.starts_with("/api/v3/write_lp") {
            Response::json(400, r#"{"error":"partial write of line protocol occurred","data":[{"original_line":"cpu,hostname=h2 n=2i","line_number":3,"error_message":"invalid column type for column 'n', expected iox::column_type::field::integer, got iox::column_type::field::string"}]}"#)
        } else {
            recorded::answer(req)
        }
    })
    .await;
    let mut o = scenario(&server.url, Api::V3);
    o.create_database_if_missing = false;
    let out = connect(o).await.batch_write(&records).await.unwrap();
    assert_eq!(out.failed.iter().map(|f| f.index).collect::<Vec<_>>(), [2]);
    assert!(out.failed[0].message.contains("invalid column type"));
    assert_eq!(out.meta.items, 2);
    // A v2 403 is a rejection with InfluxDB's message, not retried.
    let server = recorded::Recorder::start(|_| {
        Response::json(
            403,
            r#"{"code":"forbidden","message":"insufficient permissions for write"}"#,
        )
    })
    .await;
    let mut o = scenario(&server.url, Api::V2);
    o.create_database_if_missing = false;
    let e = connect(o).await.write(&records[0]).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Rejected);
    assert!(
        e.to_string()
            .contains("forbidden: insufficient permissions"),
        "{e}"
    );
    assert!(!e.to_string().contains(recorded::TOKEN));
    assert_eq!(server.requests().len(), 1);
}

/// The TSBS queries of `examples/influxdb-tsbs.json`, as [`Tsbs`] writes them.
fn tsbs_example_statements() -> Vec<(&'static str, String)> {
    let t = Tsbs {
        s: Statements {
            measurement: "cpu".into(),
            key_tag: "hostname".into(),
            language: QueryLanguage::Influxql,
            api: Api::V1,
            lookback: Duration::from_secs(3600),
        },
    };
    let m = &lgb_core::workload::timeseries::CPU_METRICS;
    let h = Duration::from_secs(3600);
    vec![
        (
            "single-groupby-1-1-1",
            t.single_groupby(&m[..1], &["{key}"], h),
        ),
        (
            "single-groupby-5-1-1",
            t.single_groupby(&m[..5], &["{key}"], h),
        ),
        ("cpu-max-all-1", t.max_all(&m[..], &["{key}"], 8 * h)),
        ("double-groupby-1", t.double_groupby(&m[..1], h)),
        ("high-cpu-1", t.high_cpu(&["{key}"], 12 * h)),
        ("lastpoint", t.lastpoint(&m[..], h)),
        (
            "groupby-orderby-limit",
            t.groupby_orderby_limit("usage_user", h),
        ),
    ]
}

/// Runs example `name` shortened (every test 1 s, no warmup) against the local
/// server with the documented override, in a database of its own; every test must
/// do something and fail nothing.
async fn run_example(name: &str, extra: &[String]) -> lgb_core::results::RunResult {
    use lgb_core::runner::{LocalInvoker, Runner, Silent};
    use lgb_core::session::{ConfigSource, Session};
    let path = common::repo_root().join(format!("examples/{name}"));
    let text = std::fs::read_to_string(&path).unwrap();
    let tests = serde_json::from_str::<serde_json::Value>(&text).unwrap()["tests"]
        .as_array()
        .unwrap()
        .len();
    let mut overrides = vec![
        format!("database.endpoint={}", endpoint()),
        format!(
            "database.database={}",
            database(name.trim_end_matches(".json"))
        ),
    ];
    for i in 0..tests {
        overrides.push(format!("tests[{i}].duration=1s"));
        overrides.push(format!("tests[{i}].warmup=0s"));
    }
    overrides.extend_from_slice(extra);
    let config = Session::load(ConfigSource::Path(&path), &overrides, None)
        .map(Session::into_config)
        .expect("the example is valid");
    let run = Runner::new(Arc::new(LocalInvoker::default()), 0)
        .run(&config, tokio_util::sync::CancellationToken::new(), &Silent)
        .await
        .expect("run");
    for test in &run.tests {
        assert!(test.metrics.ok() > 0, "{name}: {} did nothing", test.name);
        assert_eq!(
            test.metrics.failed(),
            0,
            "{name}: {}: {:?}",
            test.name,
            test.metrics.errors.samples
        );
    }
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_example_runs_with_the_documented_override() {
    let run = run_example("influxdb-local.json", &["workload.records=20000".into()]).await;
    let names: Vec<&str> = run.tests.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"batch-5000"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tsbs_example_holds_the_tsbs_queries_and_runs() {
    let text =
        std::fs::read_to_string(common::repo_root().join("examples/influxdb-tsbs.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tests = config["tests"].as_array().unwrap();
    for (name, statement) in tsbs_example_statements() {
        let t = tests
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("the example has no test {name}"));
        assert_eq!(
            t["operation"]["statement"].as_str(),
            Some(statement.as_str()),
            "{name}: {}",
            serde_json::to_string(&statement).unwrap()
        );
    }
    // 2,000 hosts instead of 100,000 in the high-cardinality shape: on a shared
    // 2-core machine, lastpoint over 100,000 series takes longer than the 1 s test.
    let run = run_example(
        "influxdb-tsbs.json",
        &["tests[2].operation.hosts=2000".into()],
    )
    .await;
    let mix = run
        .tests
        .iter()
        .find(|t| t.name == "insert+query")
        .expect("the mix");
    for kind in ["timeseries_write", "timeseries_query"] {
        assert!(
            mix.metrics.operations.get(kind).is_some_and(|m| m.ok > 0),
            "{kind} in {:?}",
            mix.metrics.operations.keys()
        );
    }
}
