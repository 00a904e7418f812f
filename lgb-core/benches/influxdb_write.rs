//! The `influxdb` adapter against the local InfluxDB (`scripts/services start
//! influxdb`): points/s and p50/p99 of single writes, 5,000-point batches and queries,
//! and lgb's client CPU per point against a plain reqwest loop that writes the same
//! 5,000-point batches (its own `write!` line formatting, no checks), in alternating
//! rounds of the same run. Goal: lgb ≤ 1.1× the plain loop's CPU per point.
//!
//! ```text
//! cargo bench -p lgb-core --features influxdb --bench influxdb_write
//! LGB_BENCH_ROUNDS=20 LGB_BENCH_BATCHES=4 cargo bench ...   # rounds (default 10), batches per side per round (default 4)
//! ```
//!
//! Everything runs on one thread (a current-thread runtime), so the thread's CPU time
//! (`/proc/thread-self/schedstat`, nanoseconds) is all the client's work. Points are
//! the time-series workload's (TSBS cpu: 10 float fields, hostname and 9 tags).
//! Uses `$LGB_INFLUXDB_ENDPOINT` when set, otherwise starts the service.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use lgb_core::database::influxdb::{InfluxdbDatabase, InfluxdbOptions};
use lgb_core::metrics::LatencyHistogram;
use lgb_core::prelude::*;
use lgb_core::workload::keys::KeyFormatter;
use lgb_core::workload::timeseries::{TimeSeriesGenerator, TimeSeriesOptions};

const BATCH: usize = 5000;
const HOSTS: u64 = 1000;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time of this thread, in nanoseconds (the first field of its schedstat).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn endpoint() -> String {
    std::env::var("LGB_INFLUXDB_ENDPOINT")
        .unwrap_or_else(|_| lgb_testkit::services::influxdb_endpoint())
}

/// The plain client's line formatting: what a hand-written loop would do for points
/// whose names need no escaping.
fn plain_body(points: &[Record], body: &mut String) {
    body.clear();
    for p in points {
        let _ = write!(body, "cpu,hostname={}", p.key);
        for (k, v) in &p.dimensions {
            let _ = write!(body, ",{k}={v}");
        }
        for (i, (k, v)) in p.fields.iter().enumerate() {
            let sep = if i == 0 { ' ' } else { ',' };
            if let Value::Float(f) = v {
                let _ = write!(body, "{sep}{k}={f:?}");
            }
        }
        let _ = writeln!(body, " {}", p.timestamp.unwrap_or(0));
    }
}

struct Figure {
    latency: LatencyHistogram,
    items: u64,
    wall: Duration,
}

impl Figure {
    fn new() -> Self {
        Self {
            latency: LatencyHistogram::new(),
            items: 0,
            wall: Duration::ZERO,
        }
    }
    fn add(&mut self, took: Duration, items: u64) {
        self.latency.record_ns(took.as_nanos() as u64);
        self.items += items;
        self.wall += took;
    }
    fn print(&self, what: &str, unit: &str) {
        let s = self.latency.summary();
        println!(
            "{what:<34} {:>10.0} {unit}/s   p50 {:>8.3} ms   p99 {:>8.3} ms   ({} calls)",
            self.items as f64 / self.wall.as_secs_f64(),
            s.p50_ns as f64 / 1e6,
            s.p99_ns as f64 / 1e6,
            s.count
        );
    }
}

async fn bench() {
    let rounds = env_or("LGB_BENCH_ROUNDS", 10);
    let batches = env_or("LGB_BENCH_BATCHES", 4);
    let ep = endpoint();
    let mut o = InfluxdbOptions::new(&ep, "lgb_bench");
    o.measurement = "cpu".into();
    o.key_tag = "hostname".into();
    o.create_database_if_missing = true;
    let db = InfluxdbDatabase::connect(o).await.expect("connect");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let opts = TimeSeriesOptions {
        hosts: Some(HOSTS),
        metrics: 10,
        ..Default::default()
    };
    let gen = TimeSeriesGenerator::new(&opts, HOSTS, KeyFormatter::new("host_"), now - 3_600_000);
    let batch_list: Vec<Vec<Record>> = (0..batches)
        .map(|b| {
            (0..BATCH as u64)
                .map(|i| gen.record(b as u64 * BATCH as u64 + i))
                .collect()
        })
        .collect();

    // Single writes.
    let mut single = Figure::new();
    for i in 0..2000u64 {
        let p = gen.record(1_000_000 + i);
        let t = Instant::now();
        db.write(&p).await.expect("write");
        single.add(t.elapsed(), 1);
    }

    // 5,000-point batches: lgb and the plain loop, alternating, same batches.
    let http = reqwest::Client::new();
    let url = format!(
        "{}/write?db=lgb_bench&precision=ms",
        ep.trim_end_matches('/')
    );
    let mut body = String::new();
    let (mut lgb_cpu, mut plain_cpu, mut points) = (0u64, 0u64, 0u64);
    let mut lgb_batch = Figure::new();
    let mut plain_batch = Figure::new();
    for round in 0..rounds + 1 {
        let measured = round > 0; // round 0 warms both sides up
        let c = thread_cpu_ns();
        for b in &batch_list {
            let t = Instant::now();
            let out = db.batch_write(b).await.expect("batch");
            assert!(out.failed.is_empty(), "{:?}", out.failed.first());
            if measured {
                lgb_batch.add(t.elapsed(), b.len() as u64);
            }
        }
        let lgb = thread_cpu_ns() - c;
        let c = thread_cpu_ns();
        for b in &batch_list {
            let t = Instant::now();
            plain_body(b, &mut body);
            let r = http
                .post(&url)
                .body(std::mem::take(&mut body))
                .send()
                .await
                .expect("plain write");
            assert_eq!(r.status().as_u16(), 204, "{:?}", r.text().await);
            if measured {
                plain_batch.add(t.elapsed(), b.len() as u64);
            }
        }
        let plain = thread_cpu_ns() - c;
        if measured {
            lgb_cpu += lgb;
            plain_cpu += plain;
            points += (batches * BATCH) as u64;
        }
    }

    // Queries: the newest point of a host, and TSBS single-groupby-1-1-1.
    let mut latest = Figure::new();
    for i in 0..1000u64 {
        let key = format!("host_{:011}", i % HOSTS);
        let t = Instant::now();
        let out = db
            .query(&Query::Latest { key, limit: 1 })
            .await
            .expect("latest");
        latest.add(t.elapsed(), 1);
        assert!(out.records.len() <= 1);
    }
    let mut groupby = Figure::new();
    for i in 0..200u64 {
        let statement = format!(
            "SELECT max(\"usage_user\") FROM \"cpu\" WHERE time >= now() - 2h AND \"hostname\" = 'host_{:011}' GROUP BY time(1m)",
            i % HOSTS
        );
        let t = Instant::now();
        db.query(&Query::Native { statement })
            .await
            .expect("groupby");
        groupby.add(t.elapsed(), 1);
    }

    println!("influxdb at {ep} ({rounds} rounds x {batches} batches of {BATCH} points a side)");
    single.print("single writes (1 point)", "points");
    lgb_batch.print("5,000-point batches, lgb", "points");
    plain_batch.print("5,000-point batches, plain reqwest", "points");
    latest.print("latest point of a host", "queries");
    groupby.print("single-groupby-1-1-1 (1 h)", "queries");
    let lgb_pp = lgb_cpu as f64 / points as f64;
    let plain_pp = plain_cpu as f64 / points as f64;
    let ratio = lgb_pp / plain_pp;
    println!(
        "client CPU per point: lgb {lgb_pp:.0} ns, plain reqwest loop {plain_pp:.0} ns: {ratio:.2}x (goal <= 1.10x) {}",
        if ratio <= 1.1 { "MET" } else { "NOT MET" }
    );
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
