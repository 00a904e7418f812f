//! Harness overhead in process: one worker, one task, one core.
//!
//! 1. Key choosers: CPU per draw of each, YCSB's zipfian generator (what `zipfian`,
//!    `scrambled_zipfian` and `latest` draw with) beside the exact law's
//!    rejection-inversion sampler (`exact_zipfian`, what lgb drew zipfian keys with
//!    before).
//! 2. The executor: throughput and CPU per operation on the `memory` adapter, the same
//!    reads done by a bare loop (no harness) and the difference (what lgb adds per
//!    operation), the p50 latency lgb records; on the `noop` adapter (every call
//!    returns at once, what YCSB's BasicDB measures: the harness alone), single
//!    operations and YCSB workload A (`preset ycsb-a`: scrambled zipfian keys, reads
//!    and 10 x 100 B updates), each with the time-stamp counter clock and with the OS
//!    clock; RSS after 1M and after 10M operations.
//!
//! Run: `cargo bench -p lgb-core --bench harness` (release profile). Goals, printed
//! beside the figures: ycsb-a on noop at most 150 ns CPU per operation (the whole
//! `lgb run` process against YCSB 0.17 in the same run is `scripts/bench-harness`),
//! added latency p50 under 1 µs, RSS after 10M within 10 MB of RSS after 1M. CPU
//! time is the process's user + system time from /proc (10 ms ticks: cases run for
//! seconds), steadier than wall time on a shared machine.
//!
//! For profilers: `LGB_HARNESS_OPS=200000` sets the operations per case and skips the
//! RSS check; `LGB_HARNESS_CASES=noop` runs only the cases whose name contains it
//! (`LGB_HARNESS_CASES=draw` only the choosers).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lgb_core::clock::SystemClock;
use lgb_core::config::Distribution;
use lgb_core::config::OperationConfig;
use lgb_core::config::Preset;
use lgb_core::database::memory::MemoryDatabase;
use lgb_core::database::noop::NoopDatabase;
use lgb_core::database::{BatchOutcome, Capabilities, Database, QueryOutcome, ReadOutcome};
use lgb_core::executor::{execute, ExecutionPlan};
use lgb_core::operation::{OpContext, OperationRegistry, WorkerKeys};
use lgb_core::record::OpMeta;
use lgb_core::record::{Query, Record};
use lgb_core::workload::keys::{KeyChooser, KeyFormatter};
use lgb_core::workload::records::RecordGenerator;
use lgb_core::Result;
use rand::rngs::SmallRng;
use rand::SeedableRng;
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

/// What one case runs: a single operation or a preset's mix.
#[derive(Clone, Copy)]
enum Op {
    One(&'static str),
    Preset(Preset),
}

impl Op {
    fn config(self) -> OperationConfig {
        match self {
            Op::One(op) => OperationConfig::new(op),
            Op::Preset(p) => p.operation(),
        }
    }
}

/// Runs `ops` operations of `op` on `db` through the executor with `clock`: (ops/s,
/// CPU time, p50 latency in ns of the first kind).
async fn harness(
    db: Arc<dyn Database>,
    op: Op,
    dist: Distribution,
    ops: u64,
    clock: SystemClock,
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
        .build(&op.config(), 10)
        .unwrap();
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let exec = execute(
        plan,
        strategy,
        db,
        vec![context(&dist, shared, gen)],
        clock,
        CancellationToken::new(),
        None,
    )
    .await
    .unwrap();
    let wall = t0.elapsed();
    let cpu = cpu_time() - cpu0;
    let done: u64 = exec.metrics.operations.values().map(|m| m.ok).sum();
    assert_eq!(done, ops, "{:?}", exec.metrics.errors);
    let first = exec.metrics.operations.values().next().unwrap();
    (
        ops as f64 / wall.as_secs_f64(),
        cpu,
        first.latency.summary().p50_ns,
    )
}

/// CPU nanoseconds per draw of `dist` over `keys` keys, over `draws` draws.
fn draw_cost(dist: Distribution, keys: u64, draws: u64) -> f64 {
    let mut chooser = KeyChooser::new(&dist, keys, KeyChooser::table_for(&dist, keys), 0, 1);
    let mut rng = SmallRng::seed_from_u64(7);
    let latest = keys - 1;
    let mut sum = 0u64;
    let cpu0 = cpu_time();
    for _ in 0..draws {
        sum = sum.wrapping_add(chooser.next(&mut rng, latest));
    }
    let cpu = cpu_time() - cpu0;
    std::hint::black_box(sum);
    cpu.as_nanos() as f64 / draws as f64
}

/// Section 1: the key choosers' cost per draw, YCSB's generator beside the exact law.
fn draws(quick: Option<u64>) {
    let n = quick.map_or(20_000_000, |q| q * 10);
    let theta = 0.99;
    println!("key choosers over {RECORDS} keys: CPU per draw ({n} draws each)");
    println!("{:<58} {:>10}", "chooser", "ns/draw");
    for (name, dist) in [
        ("uniform", Distribution::Uniform),
        (
            "exact_zipfian (rejection-inversion; lgb's zipfian before)",
            Distribution::ExactZipfian { theta },
        ),
        (
            "zipfian (YCSB's ZipfianGenerator)",
            Distribution::Zipfian { theta },
        ),
        (
            "scrambled_zipfian (YCSB's, 10^10 ranks + fnvhash64)",
            Distribution::ScrambledZipfian { theta },
        ),
        (
            "latest (YCSB's SkewedLatestGenerator)",
            Distribution::Latest { theta },
        ),
    ] {
        println!("{name:<58} {:>10.1}", draw_cost(dist, RECORDS, n));
    }
    println!();
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
        if only.is_empty() || "draw".contains(only.as_str()) {
            draws(quick);
        }
        if only == "draw" {
            return;
        }
        let a = Distribution::ScrambledZipfian { theta: 0.99 };
        let tsc: fn() -> SystemClock = SystemClock::new;
        let os: fn() -> SystemClock = SystemClock::os;
        println!(
            "lgb harness: 1 worker, 1 task, 1 core, {RECORDS} records of 10 x 100 B; default clock: {}",
            SystemClock::new().source().as_str()
        );
        println!("{:<34} {:>12} {:>12} {:>12} {:>12}", "case", "ops/s", "ns/op wall", "CPU ns/op", "p50");
        let mut ycsb_a = Vec::new();
        for (name, op, dist, on_noop, clock) in [
            ("read, uniform", Op::One("read"), Distribution::Uniform, None, tsc),
            ("read, zipfian 0.99", Op::One("read"), Distribution::default(), None, tsc),
            ("update, uniform", Op::One("update"), Distribution::Uniform, None, tsc),
            ("read, noop database", Op::One("read"), Distribution::Uniform, Some(true), tsc),
            ("read, noop database, OS clock", Op::One("read"), Distribution::Uniform, Some(true), os),
            ("update, noop database", Op::One("update"), Distribution::Uniform, Some(true), tsc),
            ("read, noop, async only", Op::One("read"), Distribution::Uniform, Some(false), tsc),
            ("ycsb-a, noop database", Op::Preset(Preset::YcsbA), a, Some(true), tsc),
            ("ycsb-a, noop database, OS clock", Op::Preset(Preset::YcsbA), a, Some(true), os),
        ] {
            if !name.contains(only.as_str()) {
                continue;
            }
            let target: Arc<dyn Database> = match on_noop {
                Some(now) => noop(now),
                None => db.clone(),
            };
            // Warm once, then measure.
            harness(target.clone(), op, dist, n / 10, clock()).await;
            let (rate, cpu, p50) = harness(target, op, dist, n, clock()).await;
            let cpu_ns = cpu.as_nanos() as f64 / n as f64;
            println!(
                "{:<34} {:>12.0} {:>12.0} {:>12.0} {:>10}ns",
                format!("lgb {name}"),
                rate,
                1e9 / rate,
                cpu_ns,
                p50
            );
            if name.starts_with("ycsb-a") {
                ycsb_a.push((name, cpu_ns));
            }
            if matches!(op, Op::One("read")) && on_noop.is_none() {
                let bare_rate = bare(&db, dist, n).await;
                println!(
                    "{:<34} {:>12.0} {:>12.0}   -> lgb adds {:.0} ns per operation",
                    format!("bare loop {name}"),
                    bare_rate,
                    1e9 / bare_rate,
                    1e9 / rate - 1e9 / bare_rate
                );
            }
        }
        for (name, cpu_ns) in ycsb_a {
            println!(
                "{name}: {cpu_ns:.0} ns CPU per operation (goal <= 150 ns: {})",
                if cpu_ns <= 150.0 { "met" } else { "NOT met" }
            );
        }
        if quick.is_some() {
            return;
        }

        // Memory stays flat in the number of operations.
        let read = Op::One("read");
        harness(db.clone(), read, Distribution::Uniform, 1_000_000, tsc()).await;
        let rss_1m = rss_mb();
        harness(db.clone(), read, Distribution::Uniform, 10_000_000, tsc()).await;
        let rss_10m = rss_mb();
        println!(
            "RSS after 1M operations {rss_1m:.1} MB, after 10M {rss_10m:.1} MB (difference {:.1} MB; target < 10 MB)",
            rss_10m - rss_1m
        );
    });
}
