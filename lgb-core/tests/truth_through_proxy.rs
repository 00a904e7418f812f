//! lgb's latencies against the truth: DynamoDB (the local moto server) behind a
//! latency-injecting proxy whose per-request turnaround histogram is the ground truth.
//!
//! Schedule: 2 ms on every request plus a 100 ms stall on every 50th. With 2% stalls
//! p99 sits in the middle of the stall band (ranks 589–600 of 600 are stalls, p99 is
//! rank 594) and p50 in the middle of the 2 ms band; with the "every 100th",
//! p99 would be rank 594 of 600 while stalls are ranks 595–600: exactly on the
//! boundary, where one sample decides between ~3 ms and ~100 ms.
#![cfg(feature = "dynamodb")]

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::proxy::{self, Proxy, Schedule};
use lgb_core::config::BenchmarkConfig;
use lgb_core::runner::{LocalInvoker, Runner, Silent, TestResult};
use tokio_util::sync::CancellationToken;

const GET: &str = "DynamoDB_20120810.GetItem";
const MS: u64 = 1_000_000;

fn endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            let env = common::service_env("dynamodb");
            for var in [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
            ] {
                if std::env::var_os(var).is_none() {
                    let value = env
                        .get(var)
                        .unwrap_or_else(|| panic!("scripts/services env gave no {var}"));
                    std::env::set_var(var, value);
                }
            }
            env["LGB_DYNAMODB_ENDPOINT"].clone()
        })
        .clone()
}

fn table(name: &str) -> String {
    format!("lgb-{}", common::unique_prefix(name).trim_end_matches('-'))
}

/// Runs one read test through `proxy`; the table is loaded directly (not through the
/// proxy) by a first run, so the proxy sees GetItem calls only (plus DescribeTable).
async fn read_test(proxy: &Proxy, name: &str, test: serde_json::Value) -> TestResult {
    let t = table(name);
    let config = |endpoint: String, load: bool, tests: serde_json::Value| {
        BenchmarkConfig::from_json_str(
            &serde_json::json!({
                "name": name,
                "database": {
                    "type": "dynamodb", "table": t, "endpoint": endpoint, "region": "us-east-1",
                    "create_table_if_missing": true, "request_timeout": "5s",
                    "retry": { "max_attempts": 1 }
                },
                "workload": { "records": 200, "fields": 2, "field_size": "20B", "load_batch": 25, "load": load },
                "tests": tests
            })
            .to_string(),
            &[],
        )
        .unwrap()
    };
    let runner = Runner::new(Arc::new(LocalInvoker::default()), 0);
    // Load directly; a tiny read test is required by the config and harmless.
    let load = config(
        endpoint(),
        true,
        serde_json::json!([{ "name": "prime", "operation": { "type": "read" }, "operations": 50 }]),
    );
    let run = runner
        .run(&load, CancellationToken::new(), &Silent)
        .await
        .unwrap();
    assert_eq!(
        run.tests[0].metrics.failed(),
        0,
        "{:?}",
        run.tests[0].metrics.errors
    );
    let mut test = test;
    test["name"] = "read".into();
    test["operation"] = serde_json::json!({ "type": "read" });
    let run = runner
        .run(
            &config(proxy.endpoint.clone(), false, serde_json::json!([test])),
            CancellationToken::new(),
            &Silent,
        )
        .await
        .unwrap();
    let t = run.tests.into_iter().last().unwrap();
    assert_eq!(t.metrics.failed(), 0, "{:?}", t.metrics.errors);
    t
}

/// The client's own overhead at p50 (SDK serialization, signing, parsing, loopback):
/// lgb's p50 minus the proxy's, with no injected delay.
async fn client_overhead_ns() -> u64 {
    let p = proxy::start(&endpoint(), Schedule::default(), Some(GET)).await;
    let t = read_test(
        &p,
        "overhead",
        serde_json::json!({ "operations": 300, "concurrency": 1 }),
    )
    .await;
    let lgb = t.metrics.operations["read"].latency.quantile_ns(0.5);
    let truth = p.truth().value_at_quantile(0.5);
    eprintln!(
        "no delay: lgb p50 {} µs, proxy p50 {} µs",
        lgb / 1000,
        truth / 1000
    );
    lgb.saturating_sub(truth)
}

/// `lgb` is within 3% of `truth`, or within `allowance` above it (the client's overhead
/// is outside the proxy's measurement, so lgb can only be higher, never lower than the
/// truth by more than HdrHistogram's precision).
fn check(what: &str, lgb: u64, truth: u64, allowance: u64) {
    let lo = truth - truth / 1000 - 1_000;
    let hi = truth + (truth * 3 / 100).max(allowance);
    eprintln!(
        "{what}: lgb {} µs, truth {} µs, allowed [{}, {}] µs",
        lgb / 1000,
        truth / 1000,
        lo / 1000,
        hi / 1000
    );
    assert!(
        lgb >= lo && lgb <= hi,
        "{what}: lgb {lgb} ns vs truth {truth} ns (allowed {lo}..={hi})"
    );
}

fn stalls() -> Schedule {
    Schedule {
        fixed: Duration::from_millis(2),
        every_nth: Some((50, Duration::from_millis(100))),
        ..Schedule::default()
    }
}

/// Allowance: the measured overhead plus half of it again, at least 1 ms (the machine
/// is shared and the tests run unoptimized, so the overhead of one run varies by that
/// much).
async fn allowance() -> u64 {
    let overhead = client_overhead_ns().await;
    eprintln!("client overhead at p50: {} µs", overhead / 1000);
    assert!(
        overhead < 5 * MS,
        "the client's own overhead is implausible: {overhead} ns"
    );
    overhead + (overhead / 2).max(MS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "not yet seen passing: tolerance depends on client overhead measured on a quiet machine; run with --ignored"]
async fn closed_loop_p50_and_p99_match_the_proxy() {
    let allowance = allowance().await;
    let p = proxy::start(&endpoint(), stalls(), Some(GET)).await;
    let t = read_test(
        &p,
        "closed",
        serde_json::json!({ "operations": 600, "concurrency": 1 }),
    )
    .await;
    let m = &t.metrics.operations["read"];
    let truth = p.truth();
    assert_eq!(m.ok, 600);
    assert_eq!(truth.len(), 600, "the proxy saw every read");
    for q in [0.5, 0.99] {
        check(
            &format!("closed p{}", q * 100.0),
            m.latency.quantile_ns(q),
            truth.value_at_quantile(q),
            allowance,
        );
    }
    // The schedule, not only the proxy, says where the bands are.
    assert!((2 * MS..20 * MS).contains(&m.latency.quantile_ns(0.5)));
    assert!((100 * MS..150 * MS).contains(&m.latency.quantile_ns(0.99)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "not yet seen passing: tolerance depends on client overhead measured on a quiet machine; run with --ignored"]
async fn open_loop_service_time_matches_the_proxy_and_p50_is_unaffected() {
    let allowance = allowance().await;
    let p = proxy::start(&endpoint(), stalls(), Some(GET)).await;
    // 100/s: well below one task's capacity at ~3-5 ms per read.
    let t = read_test(
        &p,
        "open",
        serde_json::json!({ "duration": "6s", "rate": 100, "concurrency": 1 }),
    )
    .await;
    let m = &t.metrics.operations["read"];
    let service = m.service.as_ref().expect("open loop keeps service time");
    let truth = p.truth();
    assert_eq!(truth.len(), m.ok, "the proxy saw every read");
    assert!(m.ok >= 590, "{}", m.ok);
    for q in [0.5, 0.99] {
        check(
            &format!("open service p{}", q * 100.0),
            service.quantile_ns(q),
            truth.value_at_quantile(q),
            allowance,
        );
    }
    // p50 of corrected latency: the queue after a stall holds at most ~10 of 100 ops.
    check(
        "open corrected p50",
        m.latency.quantile_ns(0.5),
        truth.value_at_quantile(0.5),
        allowance,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "not yet seen passing: tolerance depends on client overhead measured on a quiet machine; run with --ignored"]
async fn a_one_second_stall_raises_corrected_p999_as_coordinated_omission_predicts() {
    const RATE: f64 = 150.0;
    let allowance = allowance().await;
    let schedule = Schedule {
        fixed: Duration::from_millis(2),
        // Early in the run, so the backlog drains well before the end.
        at: vec![(300, Duration::from_secs(1))],
        ..Schedule::default()
    };
    let p = proxy::start(&endpoint(), schedule, Some(GET)).await;
    let t = read_test(
        &p,
        "co",
        serde_json::json!({ "duration": "8s", "rate": RATE, "concurrency": 1 }),
    )
    .await;
    let m = &t.metrics.operations["read"];
    let service = m.service.as_ref().expect("service time");
    let turnarounds = p.turnarounds();
    assert_eq!(turnarounds.len() as u64, m.ok);
    // ~1200 ops: p99.9 is rank n-1, the second largest. One op took the 1 s stall.
    assert!((1000..2000).contains(&m.ok), "{}", m.ok);

    // Prediction: one task is a FIFO queue; op i is intended at i/RATE and takes the
    // proxy's turnaround plus the client's overhead (the median gap lgb−proxy).
    let overhead = service
        .quantile_ns(0.5)
        .saturating_sub(p.truth().value_at_quantile(0.5));
    let interval = (1e9 / RATE) as u64;
    let mut end = 0u64;
    let mut predicted: Vec<u64> = turnarounds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let intended = i as u64 * interval;
            end = end.max(intended) + s + overhead;
            end - intended
        })
        .collect();
    predicted.sort_unstable();
    let rank = ((0.999 * predicted.len() as f64).ceil() as usize).clamp(1, predicted.len());
    let predicted_p999 = predicted[rank - 1];
    eprintln!(
        "co: ops {}, overhead {} µs, predicted p99.9 {} µs, lgb corrected p99.9 {} µs, service p99.9 {} µs, truth p99.9 {} µs",
        m.ok,
        overhead / 1000,
        predicted_p999 / 1000,
        m.latency.quantile_ns(0.999) / 1000,
        service.quantile_ns(0.999) / 1000,
        p.truth().value_at_quantile(0.999) / 1000
    );
    // The prediction is close to stall + 2 reads − one interval.
    assert!(predicted_p999 > 950 * MS, "{predicted_p999}");
    check(
        "co corrected p99.9",
        m.latency.quantile_ns(0.999),
        predicted_p999,
        allowance,
    );
    // Service time p99.9 is an ordinary read: the stall is the single largest sample.
    check(
        "co service p99.9",
        service.quantile_ns(0.999),
        p.truth().value_at_quantile(0.999),
        allowance,
    );
    assert!(service.quantile_ns(0.999) < 100 * MS);
    assert!(
        service.inner().max() >= 1_000 * MS,
        "the stalled op is in service time too"
    );
}
