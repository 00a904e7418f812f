//! With a database whose every latency is known, lgb reports the true distribution:
//! percentiles within HdrHistogram precision, warmup excluded, and in open loop a
//! stall shows up in the corrected latency (coordinated omission) but not in the
//! service time.
use crate::common;

use std::time::Duration;

use common::exec::{run_scripted, true_quantile, within_precision};
use lgb_core::executor::ExecutionPlan;
use serde_json::json;

const QS: [f64; 6] = [0.5, 0.9, 0.95, 0.99, 0.999, 1.0];

fn check_all(reported: &lgb_core::metrics::LatencyHistogram, mut truth: Vec<u64>) {
    truth.sort_unstable();
    assert_eq!(reported.len(), truth.len() as u64, "sample count");
    for q in QS {
        let r = reported.quantile_ns(q);
        let t = true_quantile(&truth, q);
        assert!(
            within_precision(r, t),
            "q{q}: reported {r} ns, truth {t} ns"
        );
    }
}

#[tokio::test]
async fn closed_loop_percentiles_match_the_schedule() {
    let lat_ms: Vec<u64> = (1..=10).collect();
    let ops = 10_000u64;
    let plan = ExecutionPlan {
        concurrency: 1,
        duration: None,
        operations: Some(ops),
        ..ExecutionPlan::default()
    };
    let schedule: Vec<String> = lat_ms.iter().map(|m| format!("{m}ms")).collect();
    let (exec, _) = run_scripted(
        json!({"latencies": schedule, "stalls": [{"at": 77, "for": "2s"}]}),
        "read",
        plan,
    )
    .await;
    let m = &exec.metrics.operations["read"];
    assert_eq!(m.ok, ops);
    let mut truth: Vec<u64> = (0..ops)
        .map(|i| lat_ms[(i % 10) as usize] * 1_000_000)
        .collect();
    truth[77] += 2_000_000_000;
    check_all(&m.latency, truth.clone());
    // Closed loop has no separate service time: latency is service time.
    assert!(m.service.is_none());
    // The measured window is exactly the sum of the latencies.
    assert_eq!(exec.window_ns, truth.iter().sum::<u64>());
}

#[tokio::test]
async fn warmup_operations_are_not_measured() {
    let plan = ExecutionPlan {
        concurrency: 1,
        duration: Some(Duration::from_secs(2)),
        warmup: Duration::from_secs(1),
        ..ExecutionPlan::default()
    };
    // Warmup calls are slow (50 ms), measured calls take 1 ms.
    let stalls: Vec<_> = (0..20).map(|i| json!({"at": i, "for": "49ms"})).collect();
    let (exec, _) = run_scripted(
        json!({"latencies": ["1ms"], "stalls": stalls}),
        "read",
        plan,
    )
    .await;
    let m = &exec.metrics.operations["read"];
    assert_eq!(exec.warmup_ops, 20, "20 × 50 ms fill the 1 s warmup");
    assert_eq!(m.ok, 2000, "2 s of 1 ms operations");
    let max = m.latency.summary().max_ns;
    assert!(
        within_precision(max, 1_000_000),
        "no warmup latency leaks into results: max {max}"
    );
}

#[tokio::test]
async fn open_loop_stall_shows_in_corrected_latency_not_in_service_time() {
    let interval_ms = 1u64; // 1000 ops/s
    let service_us = 100u64;
    let stall_at = 1000u64;
    let stall_ms = 500u64;
    let plan = ExecutionPlan {
        concurrency: 1,
        duration: Some(Duration::from_secs(5)),
        rate: Some(1000.0),
        ..ExecutionPlan::default()
    };
    let (exec, _) = run_scripted(
        json!({"latencies": [format!("{service_us}us")], "stalls": [{"at": stall_at, "for": format!("{stall_ms}ms")}]}),
        "read",
        plan,
    )
    .await;
    let m = &exec.metrics.operations["read"];

    // The truth, simulated independently: one task, operations on a 1 ms schedule.
    let (mut t, mut corrected, mut service) = (0u64, Vec::new(), Vec::new());
    for i in 0.. {
        let intended = i * interval_ms * 1_000_000;
        if intended >= 5_000_000_000 {
            break;
        }
        let start = t.max(intended);
        let d = service_us * 1_000
            + if i == stall_at {
                stall_ms * 1_000_000
            } else {
                0
            };
        t = start + d;
        corrected.push(t - intended);
        service.push(d);
    }
    check_all(&m.latency, corrected.clone());
    check_all(
        m.service.as_ref().expect("open loop keeps service time"),
        service,
    );

    let s = m.latency.summary();
    let svc = m.service.as_ref().unwrap().summary();
    assert!(
        s.p99_ns > 400_000_000,
        "the stall is in the corrected tail: p99 {}",
        s.p99_ns
    );
    assert!(
        svc.p99_ns < 1_000_000,
        "but not in service time: p99 {}",
        svc.p99_ns
    );
    assert!(
        svc.max_ns >= 500_000_000,
        "the stalled call itself is in service time"
    );
}

#[tokio::test]
async fn failures_are_counted_by_class_and_timed_separately() {
    let plan = ExecutionPlan {
        concurrency: 1,
        duration: None,
        operations: Some(100),
        ..ExecutionPlan::default()
    };
    let (exec, _) = run_scripted(
        json!({"latencies": ["2ms"], "fail_every": 10, "fail_class": "throttled"}),
        "update",
        plan,
    )
    .await;
    let m = &exec.metrics.operations["update"];
    assert_eq!((m.ok, m.failed), (90, 10));
    assert_eq!(m.errors.counts[&lgb_core::ErrorClass::Throttled], 10);
    assert_eq!(m.failed_latency.len(), 10);
    assert_eq!(m.latency.len(), 90);
    let tl_errors: u64 = exec.metrics.timeline.points().map(|p| p.errors).sum();
    let tl_ops: u64 = exec.metrics.timeline.points().map(|p| p.ops).sum();
    assert_eq!(
        (tl_ops, tl_errors),
        (100, 10),
        "the timeline counts every operation"
    );
}
