//! The operation × adapter matrix: every built-in YCSB operation and every preset
//! (ycsb-a … ycsb-f) on memory, noop, DynamoDB (moto), immudb and InfluxDB 1.6.7 (its
//! `scan` rows refused: InfluxDB has no key ranges), against the local
//! services. (Timestream's column is not here yet: its reads on moto need query
//! results registered per key, which this generic runner does not do.) Each cell either runs with no error, or is refused up
//! front by validation (before anything connects or loads) — and the refused cells are
//! exactly the ones expected. Each test prints its column of the matrix.
#![cfg(all(feature = "dynamodb", feature = "immudb"))]

use std::sync::Arc;

use crate::common;

use lgb_core::protocol::WorkerStatus;
use lgb_core::runner::{LocalInvoker, Runner, Silent};
use lgb_core::session::{ConfigSource, Session};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Rows: operations, then presets.
const OPERATIONS: [&str; 7] = [
    "read",
    "update",
    "insert",
    "scan",
    "read_modify_write",
    "batch_write",
    "parallel_read",
];
const PRESETS: [&str; 6] = ["ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f"];
const OPS: u64 = 200;

#[derive(Debug, PartialEq)]
enum Cell {
    /// Ran: operations completed without error.
    Ran(u64),
    /// Refused by validation, with the message.
    Refused(String),
}

fn test_json(row: &str) -> Value {
    if row.starts_with("ycsb-") {
        json!({"name": row, "preset": row, "operations": OPS, "concurrency": 2})
    } else {
        json!({"name": row, "operation": {"type": row}, "operations": OPS, "concurrency": 2})
    }
}

async fn cell(database: &Value, prefix: &str, row: &str) -> Cell {
    let config = json!({
        "name": format!("matrix-{row}"),
        "database": database,
        "workload": {"records": 200, "key_prefix": prefix, "fields": 2, "field_size": "20B",
                     "load_batch": 25},
        "runner": {"workers": 2},
        "tests": [test_json(row)],
    });
    let cfg = match Session::load(ConfigSource::Text(&config.to_string()), &[], None)
        .map(Session::into_config)
    {
        Ok(cfg) => cfg,
        Err(e) => {
            let problems = e.config_problems();
            assert!(!problems.is_empty(), "{row}: not a config error: {e}");
            return Cell::Refused(
                problems
                    .iter()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
    };
    let run = Runner::new(Arc::new(LocalInvoker::default()), 0)
        .run(&cfg, CancellationToken::new(), &Silent)
        .await
        .unwrap_or_else(|e| panic!("{row}: {e}"));
    for t in &run.tests {
        for w in &t.workers {
            assert_eq!(
                w.status,
                WorkerStatus::Completed,
                "{row}/{}: {:?}",
                t.name,
                w.error
            );
        }
        assert_eq!(
            t.metrics.failed(),
            0,
            "{row}/{}: {:?}",
            t.name,
            t.metrics.errors.samples
        );
    }
    let t = &run.tests[1];
    assert_eq!(t.metrics.ok(), OPS, "{row}");
    Cell::Ran(t.metrics.ok())
}

/// Runs every row on `database`; asserts that exactly `refused` rows are refused (each
/// message naming the adapter) and every other row ran; prints the column.
async fn column(name: &str, database: Value, prefix: &str, refused: &[&str]) {
    let mut lines = Vec::new();
    for row in OPERATIONS.iter().chain(&PRESETS) {
        let c = cell(&database, &format!("{prefix}{row}-"), row).await;
        match (&c, refused.contains(row)) {
            (Cell::Ran(_), false) => {}
            (Cell::Refused(msg), true) => {
                assert!(msg.contains(&format!("database `{name}`")), "{msg}");
                assert!(msg.contains("queries"), "says why: {msg}");
            }
            _ => panic!(
                "{name} {row}: {c:?}, expected refused: {}",
                refused.contains(row)
            ),
        }
        lines.push(format!(
            "{name:<11} {row:<18} {}",
            match c {
                Cell::Ran(n) => format!("ran ({n} ops, 0 errors)"),
                Cell::Refused(m) => format!("refused: {}", m.lines().last().unwrap_or("")),
            }
        ));
    }
    println!("{}", lines.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_memory_and_noop() {
    column("memory", json!({"type": "memory"}), "m-", &[]).await;
    column("noop", json!({"type": "noop"}), "n-", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_dynamodb() {
    let endpoint = common::aws_endpoint("dynamodb");
    let table = format!(
        "lgb-{}",
        common::unique_prefix("matrix").trim_end_matches('-')
    );
    let db = json!({"type": "dynamodb", "table": table, "endpoint": endpoint,
                    "region": "us-east-1", "create_table_if_missing": true,
                    "consistent_read": true});
    // Scans without a sort key are a paginated Scan, as YCSB's DynamoDB binding does.
    column("dynamodb", db, "d-", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_immudb() {
    let env = common::service_env("immudb");
    let db = json!({
        "type": "immudb",
        "address": env["LGB_IMMUDB_ENDPOINT"],
        "database": env["LGB_IMMUDB_DATABASE"],
        "username": env["LGB_IMMUDB_USER"],
        "password": env["LGB_SECRET_IMMUDB_PASSWORD"],
    });
    column("immudb", db, &common::unique_prefix("matrix"), &[]).await;
}

#[cfg(feature = "influxdb")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_influxdb() {
    let database = common::unique_prefix("matrix").replace('-', "_");
    let db = json!({
        "type": "influxdb",
        "endpoint": lgb_testkit::services::influxdb_endpoint(),
        "database": database,
        "create_database_if_missing": true,
    });
    // InfluxQL compares tags for equality and patterns only: no key-range scans.
    column("influxdb", db, "i-", &["scan", "ycsb-e"]).await;
}
