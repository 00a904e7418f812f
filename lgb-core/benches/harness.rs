//! Harness overhead on the in-process `memory` adapter: one worker, one task, one core.
//!
//! Prints throughput and CPU per operation of lgb's executor, the same reads done by a
//! bare loop (no harness), the difference (what lgb adds per operation), the p50
//! latency lgb records, and RSS after 1M and after 10M operations. The last cases
//! run against the `noop` adapter (every call returns at once), which is what YCSB's
//! own no-op figure (BasicDB) measures: the harness alone.
//!
//! Run: `cargo bench -p lgb-core --bench harness` (release profile). Targets: at least
//! 1M ops/s (the floor; YCSB 0.17 does 1.46M at 1.1 µs CPU per op on a no-op
//! database, and lgb aims at 3x that: 4.4M), added latency p50 under 1 µs, RSS after
//! 10M within 10 MB of RSS after 1M.
//!
//! For profilers: `LGB_HARNESS_OPS=200000` sets the operations per case and skips the
//! RSS check; `LGB_HARNESS_CASES=noop` runs only the cases whose name contains it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lgb_core::clock::SystemClock;
use lgb_core::config::OperationConfig;
use lgb_core::database::memory::MemoryDatabase;
use lgb_core::database::noop::NoopDatabase;
use lgb_core::database::{BatchOutcome, Capabilities, Database, OpMeta, QueryOutcome, ReadOutcome};
use lgb_core::executor::{execute, ExecutionPlan};
use lgb_core::operation::{OpContext, OperationRegistry, WorkerKeys};
use lgb_core::record::{Query, Record};
use lgb_core::workload::{Distribution, KeyChooser, KeyFormatter, RecordGenerator};
use lgb_core::Result;
use tokio_util::sync::CancellationToken;

/// Records in the data set: small enough to stay in cache, so that the figures are
/// lgb's overhead and not the machine's memory latency.
const RECORDS: u64 = 10_000;

/// The real `noop` adapter, answering through [`Database::read_now`] as an in-process
/// adapter does; wrapped with `now: false`, only through the `async` call (one boxed
/// future per call), as an adapter that implements only the required methods does.
struct AsyncOnly(NoopDatabase);

#[async_trait]
impl Database for AsyncOnly {
    fn name(&self) -> &str {
        "noop"
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn write(&self, record: &Record) -> Result<OpMeta> {
        self.0.write(record).await
    }
    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        self.0.batch_write(records).await
    }
    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        self.0.read(key).await
    }
    async fn query(&self, query: &Query) -> Result<QueryOutcome> {
        self.0.query(query).await
    }
}

fn cpu_time() -> Duration {
    // getrusage(RUSAGE_SELF) via /proc to avoid a libc dependency: utime + stime ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn context(dist: &Distribution, shared: Arc<WorkerKeys>, gen: Arc<RecordGenerator>) -> OpContext {
    OpContext::new(
        7,
        KeyChooser::new(dist, RECORDS, KeyChooser::table_for(dist, RECORDS), 0, 1),
        KeyFormatter::new("user"),
        gen,
        shared,
    )
}

async fn load(db: &MemoryDatabase, gen: &RecordGenerator) {
    let keys = KeyFormatter::new("user");
    for id in 0..RECORDS {
        db.write(&gen.record(&keys.key(id), id, 0)).await.unwrap();
    }
}

async fn harness(
    db: Arc<dyn Database>,
    op: &str,
    dist: Distribution,
    ops: u64,
) -> (f64, Duration, u64) {
    let gen = Arc::new(RecordGenerator::new(1, 10, 100));
    let shared = Arc::new(WorkerKeys::new(RECORDS, 0, 1));
    let plan = ExecutionPlan {
        concurrency: 1,
        duration: None,
        operations: Some(ops),
        ..ExecutionPlan::default()
    };
    let strategy = OperationRegistry::default()
        .build(&OperationConfig::new(op), 10)
        .unwrap();
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let exec = execute(
        plan,
        strategy,
        db,
        vec![context(&dist, shared, gen)],
        SystemClock::new(),
        CancellationToken::new(),
        None,
    )
    .await
    .unwrap();
    let wall = t0.elapsed();
    let cpu = cpu_time() - cpu0;
    let m = &exec.metrics.operations[op];
    assert_eq!(m.ok, ops, "{:?}", m.errors);
    (
        ops as f64 / wall.as_secs_f64(),
        cpu,
        m.latency.summary().p50_ns,
    )
}

/// The same reads with no harness: choose a key, read it, nothing measured.
async fn bare(db: &MemoryDatabase, dist: Distribution, ops: u64) -> f64 {
    let gen = Arc::new(RecordGenerator::new(1, 10, 100));
    let shared = Arc::new(WorkerKeys::new(RECORDS, 0, 1));
    let mut ctx = context(&dist, shared, gen);
    let t0 = Instant::now();
    for _ in 0..ops {
        ctx.choose_key();
        let r = db.read(&ctx.key).await.unwrap();
        std::hint::black_box(&r);
    }
    ops as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    let quick: Option<u64> = std::env::var("LGB_HARNESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok());
    let only = std::env::var("LGB_HARNESS_CASES").unwrap_or_default();
    // One thread: the whole benchmark runs on one core.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = Arc::new(MemoryDatabase::default());
        let gen = RecordGenerator::new(1, 10, 100);
        load(&db, &gen).await;
        let noop = |now| -> Arc<dyn Database> {
            if now {
                Arc::new(NoopDatabase::default())
            } else {
                Arc::new(AsyncOnly(NoopDatabase::default()))
            }
        };
        let n = quick.unwrap_or(2_000_000);
        println!("lgb harness on the memory adapter: 1 worker, 1 task, 1 core, {RECORDS} records of 10 x 100 B");
        println!("{:<28} {:>12} {:>12} {:>12} {:>12}", "case", "ops/s", "ns/op wall", "CPU ns/op", "p50");
        for (name, op, dist, on_noop) in [
            ("read, uniform", "read", Distribution::Uniform, None),
            ("read, zipfian 0.99", "read", Distribution::default(), None),
            ("update, uniform", "update", Distribution::Uniform, None),
            ("read, noop database", "read", Distribution::Uniform, Some(true)),
            ("update, noop database", "update", Distribution::Uniform, Some(true)),
            ("read, noop, async only", "read", Distribution::Uniform, Some(false)),
        ] {
            if !name.contains(only.as_str()) {
                continue;
            }
            let target: Arc<dyn Database> = match on_noop {
                Some(now) => noop(now),
                None => db.clone(),
            };
            // Warm once, then measure.
            harness(target.clone(), op, dist, n / 10).await;
            let (rate, cpu, p50) = harness(target, op, dist, n).await;
            println!(
                "{:<28} {:>12.0} {:>12.0} {:>12.0} {:>10}ns",
                format!("lgb {name}"),
                rate,
                1e9 / rate,
                cpu.as_nanos() as f64 / n as f64,
                p50
            );
            if op == "read" && on_noop.is_none() {
                let bare_rate = bare(&db, dist, n).await;
                println!(
                    "{:<28} {:>12.0} {:>12.0}   -> lgb adds {:.0} ns per operation",
                    format!("bare loop {name}"),
                    bare_rate,
                    1e9 / bare_rate,
                    1e9 / rate - 1e9 / bare_rate
                );
            }
        }
        if quick.is_some() {
            return;
        }

        // Memory stays flat in the number of operations.
        harness(db.clone(), "read", Distribution::Uniform, 1_000_000).await;
        let rss_1m = rss_mb();
        harness(db.clone(), "read", Distribution::Uniform, 10_000_000).await;
        let rss_10m = rss_mb();
        println!(
            "RSS after 1M operations {rss_1m:.1} MB, after 10M {rss_10m:.1} MB (difference {:.1} MB; target < 10 MB)",
            rss_10m - rss_1m
        );
    });
}
