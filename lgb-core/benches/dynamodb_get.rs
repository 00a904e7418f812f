//! lgb's per-operation overhead on DynamoDB: the same GetItem calls made by a plain
//! aws-sdk-dynamodb loop and by lgb's runner (read test, one task), against the local
//! `dynamodb` service, in alternating rounds after a warm-up of both.
//!
//! ```text
//! cargo bench -p lgb-core --features dynamodb --bench dynamodb_get
//! LGB_BENCH_OPS=20000 LGB_BENCH_ROUNDS=20 cargo bench ...   # ops per side (default 6000), rounds (default 10)
//! LGB_BENCH_TABLE=t LGB_BENCH_SIDE=lgb cargo bench ...        # then LGB_BENCH_SIDE=plain, same table
//! ```
//!
//! With `LGB_BENCH_SIDE` (`lgb` or `plain`) one process runs one side only and prints
//! its CPU time per GetItem (user + system, over the measured rounds) and its peak RSS,
//! so that the two sides' memory is not mixed up. Run the `lgb` side first: it creates
//! and loads `LGB_BENCH_TABLE`, which the `plain` side then reads (and deletes).
//!
//! Uses `$LGB_DYNAMODB_ENDPOINT` when set, otherwise starts the service with
//! `scripts/services`. Both sides ask for consumed capacity, as lgb always does.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use lgb_core::database::dynamodb::{KeyAttribute, KeySchema, KeyType};
use lgb_core::metrics::{LatencyHistogram, LatencySummary};
use lgb_core::prelude::*;
use lgb_core::runner::{CancellationToken, LocalInvoker, Runner};
use lgb_core::session::{ConfigSource, Session};
use lgb_core::workload::keys::KeyFormatter;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const RECORDS: u64 = 1000;

/// The service's `export` lines, starting it when no endpoint is given.
fn service_env() -> HashMap<String, String> {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    if env.contains_key("LGB_DYNAMODB_ENDPOINT") {
        return env;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services");
    let ok = Command::new(script)
        .args(["start", "dynamodb"])
        .status()
        .expect("run scripts/services");
    assert!(ok.success(), "scripts/services start dynamodb failed");
    let out = Command::new(script)
        .args(["env", "dynamodb"])
        .output()
        .expect("scripts/services env");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            env.entry(k.to_string())
                .or_insert_with(|| v.trim_matches('"').to_string());
        }
    }
    env
}

struct Side {
    latency: LatencyHistogram,
    ops: u64,
    busy_ns: u64,
}

impl Side {
    fn new() -> Self {
        Self {
            latency: LatencyHistogram::new(),
            ops: 0,
            busy_ns: 0,
        }
    }
    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / (self.busy_ns as f64 / 1e9)
    }
}

/// `n` GetItems of uniformly chosen keys, one after another, with the plain SDK.
async fn plain_round(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    n: u64,
    seed: u64,
    side: &mut Side,
) {
    let keys = KeyFormatter::new("user");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut key = String::new();
    let start = Instant::now();
    for _ in 0..n {
        keys.write(rng.gen_range(0..RECORDS), &mut key);
        let t = Instant::now();
        let out = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(key.clone()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("GetItem");
        side.latency.record_ns(t.elapsed().as_nanos() as u64);
        assert!(out.item.is_some(), "key {key} was loaded");
    }
    side.ops += n;
    side.busy_ns += start.elapsed().as_nanos() as u64;
}

fn config(env: &HashMap<String, String>, table: &str, n: u64, load: bool) -> BenchmarkConfig {
    let json = serde_json::json!({
        "name": "dynamodb-get-overhead",
        "database": {
            "type": "dynamodb",
            "table": table,
            "endpoint": env["LGB_DYNAMODB_ENDPOINT"],
            "region": "us-east-1",
            "create_table_if_missing": true
        },
        "workload": { "records": RECORDS, "fields": 10, "field_size": "100B", "load": load },
        "tests": [{
            "name": "get",
            "operation": { "type": "read" },
            "distribution": { "type": "uniform" },
            "concurrency": 1,
            "operations": n
        }]
    });
    Session::load(ConfigSource::Text(&json.to_string()), &[], None)
        .map(Session::into_config)
        .expect("bench config")
}

/// `n` reads through lgb's runner; returns its own measurement of them.
async fn lgb_round(runner: &Runner, config: &BenchmarkConfig, side: &mut Side) {
    let run = runner
        .run(config, CancellationToken::new(), &Silent)
        .await
        .expect("lgb run");
    let test = run.tests.last().expect("the get test ran");
    let read = &test.metrics.operations["read"];
    assert_eq!(read.failed, 0, "{:?}", read.errors);
    side.latency.add(&read.latency);
    side.ops += read.ok;
    side.busy_ns += test.window_ns;
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn line(name: &str, s: &Side) -> LatencySummary {
    let sum = s.latency.summary();
    println!(
        "{name:<22} {:>7} ops  {:>8.0} ops/s  p50 {:>7.1} µs  p99 {:>7.1} µs  mean {:>7.1} µs",
        s.ops,
        s.ops_per_s(),
        us(sum.p50_ns),
        us(sum.p99_ns),
        sum.mean_ns / 1000.0
    );
    sum
}

fn main() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let ops = var("LGB_BENCH_OPS", 6000);
    let rounds = var("LGB_BENCH_ROUNDS", 10).max(1);
    let env = service_env();
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, env.get(var).map_or("testing", String::as_str));
        }
    }
    let only = std::env::var("LGB_BENCH_SIDE").ok();
    if only.as_deref().is_some_and(|s| s != "lgb" && s != "plain") {
        panic!("LGB_BENCH_SIDE is `lgb` or `plain`");
    }
    let runs = |side: &str| only.as_deref().is_none_or(|s| s == side);
    let table = std::env::var("LGB_BENCH_TABLE")
        .unwrap_or_else(|_| format!("lgb-bench-get-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .load()
            .await;
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&shared)
                .endpoint_url(&env["LGB_DYNAMODB_ENDPOINT"])
                .build(),
        );
        // One runner (and so one cached adapter) for every round, as a warm Lambda has.
        let runner = Runner::new(Arc::new(LocalInvoker::default()), 0);
        let per_round = (ops / rounds).max(1);
        println!("loading {RECORDS} records into {table}, warming up both sides …");
        let (mut warm_a, mut warm_b) = (Side::new(), Side::new());
        if runs("lgb") {
            lgb_round(&runner, &config(&env, &table, per_round, true), &mut warm_b).await;
        }
        if runs("plain") {
            plain_round(&client, &table, per_round, 1, &mut warm_a).await;
        }

        let (mut plain, mut lgb) = (Side::new(), Side::new());
        let lgb_config = config(&env, &table, per_round, false);
        let cpu_before = process_cpu_s();
        for round in 0..rounds {
            // Alternate who goes first, so drift in the server hits both sides alike.
            if round % 2 == 0 {
                if runs("plain") {
                    plain_round(&client, &table, per_round, 100 + round, &mut plain).await;
                }
                if runs("lgb") {
                    lgb_round(&runner, &lgb_config, &mut lgb).await;
                }
            } else {
                if runs("lgb") {
                    lgb_round(&runner, &lgb_config, &mut lgb).await;
                }
                if runs("plain") {
                    plain_round(&client, &table, per_round, 100 + round, &mut plain).await;
                }
            }
        }
        if let Some(side) = &only {
            let done = if side == "lgb" { &lgb } else { &plain };
            let cpu = process_cpu_s() - cpu_before;
            println!(
                "{side} only: {} GetItems, CPU {:.1} µs per op (user + system), peak RSS {:.1} MB",
                done.ops,
                cpu * 1e6 / done.ops as f64,
                lgb_core::protocol::peak_rss_kb().map_or(f64::NAN, |k| k as f64 / 1024.0)
            );
            if side == "plain" {
                let _ = client.delete_table().table_name(&table).send().await;
            }
            return;
        }
        println!(
            "GetItem against {} ({rounds} alternating rounds, 1 task):",
            env["LGB_DYNAMODB_ENDPOINT"]
        );
        let a = line("plain aws-sdk-dynamodb", &plain);
        let b = line("lgb (runner, read)", &lgb);
        let pct = |x: f64, y: f64| (y - x) / x * 100.0;
        println!(
            "difference (lgb vs plain): ops/s {:+.1}%  p50 {:+.1}% ({:+.1} µs)  p99 {:+.1}%",
            pct(plain.ops_per_s(), lgb.ops_per_s()),
            pct(a.p50_ns as f64, b.p50_ns as f64),
            us(b.p50_ns) - us(a.p50_ns),
            pct(a.p99_ns as f64, b.p99_ns as f64),
        );
        mapping_cost(&client, &table).await;
        let _ = client.delete_table().table_name(&table).send().await;
    });
}

/// This process's CPU time, user and system, in seconds (`/proc/self/stat`, 10 ms
/// ticks: run enough operations for a few seconds of CPU).
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    // After the command name: state is field 3, utime 14 and stime 15.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// The adapter's own CPU work per GetItem, without the network: building the key and
/// turning the returned item into a Record. Server noise cannot hide in this figure.
async fn mapping_cost(client: &aws_sdk_dynamodb::Client, table: &str) {
    let schema = KeySchema {
        partition: KeyAttribute {
            name: "pk".into(),
            kind: KeyType::S,
        },
        sort: None,
        separator: "#".into(),
    };
    let key = "user000000000001";
    let item = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.into()))
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("loaded item");
    let n = 200_000u32;
    // The adapter takes the returned item by value; cloning it here is the bench's own
    // cost, measured apart and subtracted.
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(item.clone());
    }
    let clone = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        let k = schema.key(std::hint::black_box(key)).expect("key");
        let r = schema.record(item.clone());
        std::hint::black_box((k, r));
    }
    let both = t.elapsed() / n;
    println!(
        "adapter mapping per GetItem (key + item→Record, {} attributes): {:.2} µs",
        item.len(),
        both.saturating_sub(clone).as_nanos() as f64 / 1000.0
    );
}
