//! A deterministic run for report tests: known histograms, fixed timestamps, no clock.
#![allow(dead_code)]

use lgb_core::config::{BenchmarkConfig, TestConfig};
use lgb_core::metrics::{LatencyHistogram, OperationMetrics, TestMetrics};
use lgb_core::protocol::{Environment, Phase, WorkerStatus};
use lgb_core::record::OpMeta;
use lgb_core::results::{RunResult, RunStatus, TestResult, WorkerSummary, SCHEMA_VERSION};
use lgb_core::Error;

/// 2026-01-01T00:00:00Z.
pub const START_S: i64 = 1_767_225_600;
/// Seconds each test measures.
pub const SECONDS: i64 = 10;

/// How a fixture run differs from the plain one.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Latencies are multiplied and per-second throughput divided by this.
    pub slowdown: f64,
    /// Varies per-second noise so that two runs are not identical.
    pub phase: u64,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            slowdown: 1.0,
            phase: 0,
        }
    }
}

fn config(kind: &str) -> BenchmarkConfig {
    serde_json::from_value(serde_json::json!({
        "name": "fixture",
        "description": "A run built by hand for report tests.",
        "database": {"type": kind, "table": "bench"},
        "tests": [{"name": "ycsb-b", "preset": "ycsb-b", "duration": "10s", "concurrency": 4}],
        "runner": {"workers": 2, "target": "lambda"}
    }))
    .unwrap()
}

/// Latency (ns) of the k-th operation of second s: 1–2 ms spread, a slow tail of
/// 1% at 20–38 ms and one of 80 ms.
fn latency_ns(op: &str, s: i64, k: u64, shape: Shape) -> u64 {
    let base = if op == "read" { 1_000_000 } else { 1_500_000 };
    let spread = (k.wrapping_mul(7_919) + (s as u64) * 31 + shape.phase * 17) % 1_000;
    let mut ns = base + spread * 1_000;
    if k % 100 == 37 {
        ns = 20_000_000 + (s as u64 % 7) * 3_000_000;
    }
    if k == 500 && s == 3 {
        ns = 80_000_000;
    }
    (ns as f64 * shape.slowdown) as u64
}

fn ops_in_second(op: &str, s: i64, shape: Shape) -> u64 {
    let base: u64 = if op == "read" { 950 } else { 50 };
    let noise = ((s as u64) * 37 + shape.phase * 11) % 41;
    ((base + noise * base / 950) as f64 / shape.slowdown).round() as u64
}

fn test_metrics(shape: Shape) -> TestMetrics {
    let mut metrics = TestMetrics::default();
    for op in ["read", "update"] {
        let mut m = OperationMetrics::new(false);
        for s in 0..SECONDS {
            let n = ops_in_second(op, s, shape);
            let mut second = LatencyHistogram::new();
            let mut failed = 0;
            for k in 0..n {
                if op == "update" && k == 3 && s % 4 == 0 {
                    failed += 1;
                    m.record_err(
                        0,
                        250_000_000,
                        &Error::Throttled("ProvisionedThroughputExceeded: slow down".into()),
                    );
                    continue;
                }
                let ns = latency_ns(op, s, k, shape);
                let meta = if op == "read" {
                    OpMeta {
                        read_units: 0.5,
                        items: 1,
                        bytes: 1_100,
                        ..OpMeta::default()
                    }
                } else {
                    OpMeta {
                        write_units: 2.0,
                        items: 1,
                        bytes: 1_100,
                        ..OpMeta::default()
                    }
                };
                m.record_ok(0, 0, ns, &meta);
                second.record_ns(ns);
            }
            metrics
                .timeline
                .add(
                    START_S + s,
                    op,
                    n,
                    failed,
                    &lgb_core::metrics::SparseHistogram::from_histogram(&second),
                )
                .unwrap();
        }
        metrics.operations.insert(op.to_string(), m);
    }
    metrics
}

fn worker(index: u32, cold: bool, ops: u64) -> WorkerSummary {
    WorkerSummary {
        index,
        status: WorkerStatus::Completed,
        error: None,
        attempts: 1,
        ops,
        start_unix_ms: START_S * 1000,
        window_ns: SECONDS as u64 * 1_000_000_000,
        first_op_ns: None,
        environment: Environment {
            runtime: "lambda".into(),
            cold_start: cold,
            init_ms: cold.then_some(180.0),
            memory_mb: Some(1024),
            region: Some("us-east-1".into()),
            function: Some("lgb-worker".into()),
            function_version: Some("$LATEST".into()),
            lgb_version: "0.1.0".into(),
            cpus: 1,
            ..Environment::default()
        },
        timeline_shift: 0,
    }
}

/// A complete run of one `ycsb-b` test on `kind` (`dynamodb` gives capacity costs).
pub fn run_with(kind: &str, shape: Shape) -> RunResult {
    let config = config(kind);
    let metrics = test_metrics(shape);
    let total = metrics.ok() + metrics.failed();
    let test = lgb_core::runner::resolve_preset(&config.tests[0]);
    RunResult {
        schema_version: SCHEMA_VERSION,
        run_id: format!(
            "20260101T000000Z-fixture-{:04x}",
            (shape.slowdown * 100.0) as u64 + shape.phase
        ),
        name: "fixture".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        status: RunStatus::Completed,
        target: lgb_core::config::Target::Lambda,
        lgb_version: "0.1.0".into(),
        config,
        tests: vec![TestResult {
            name: "ycsb-b".into(),
            phase: Phase::Run,
            test,
            start_unix_ms: START_S * 1000,
            window_ns: SECONDS as u64 * 1_000_000_000,
            workers: vec![
                worker(0, true, total / 2),
                worker(1, false, total - total / 2),
            ],
            metrics,
            files: Default::default(),
        }],
        incomplete: None,
    }
}

/// The plain fixture on DynamoDB.
pub fn run() -> RunResult {
    run_with("dynamodb", Shape::default())
}

/// [`run`] twice as slow (latencies doubled, throughput halved), with other noise.
pub fn slow_run() -> RunResult {
    run_with(
        "dynamodb",
        Shape {
            slowdown: 2.0,
            phase: 1,
        },
    )
}

/// A test config, for tests that need one.
pub fn test_config() -> TestConfig {
    run().config.tests[0].clone()
}
