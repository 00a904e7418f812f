//! lgb's runner drives the real `bootstrap` through the local Lambda control plane
//! (`scripts/services run-lambda`, scripts/lib/lambda-control-plane.py): the
//! `LambdaInvoker` over the Invoke API (reached through `runner.options.endpoint` and
//! through `AWS_ENDPOINT_URL_LAMBDA`), the `FunctionUrlInvoker` over a SigV4-checked
//! Function URL, and Lambda's throttling (429) over a reserved concurrency.
//!
//! Each test starts its own control plane on a free port and ends it by pid; one that
//! cannot start fails the test with its log. Its counters (`/_lgb/stats`) say how many
//! invocations, cold starts and throttles happened and how many were ever in flight.

use std::time::Duration;

use lgb_core::config::BenchmarkConfig;
use lgb_core::protocol::WorkerStatus;
use lgb_core::results::{RunResult, RunStatus};
use lgb_core::runner::CancellationToken;
use lgb_core::runner::{build_invoker, Runner, Silent};
use lgb_core::session::{ConfigSource, Session};
use serde_json::{json, Value};

use lgb_testkit::control_plane::ControlPlane;

use crate::support;

/// A control plane serving `functions`, each running this crate's bootstrap.
fn control_plane(functions: Value) -> ControlPlane {
    let mut functions = functions;
    for f in functions.as_object_mut().unwrap().values_mut() {
        f["bootstrap"] = json!(env!("CARGO_BIN_EXE_bootstrap"));
        f["environment"] = json!({"RUST_LOG": "info"});
    }
    ControlPlane::start(
        &json!({"functions": functions, "update_delay_ms": 200}),
        &[
            ("AWS_ACCESS_KEY_ID", support::ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", support::SECRET_KEY),
            ("AWS_SESSION_TOKEN", support::SESSION_TOKEN),
            ("AWS_REGION", "us-east-1"),
        ],
    )
}

fn bench(workers: u32, runner: Value) -> BenchmarkConfig {
    let mut runner = runner;
    runner["workers"] = json!(workers);
    let doc = json!({
        "name": "control-plane",
        "database": {"type": "memory"},
        "workload": {"records": 100, "load": false},
        "runner": runner,
        "tests": [{"name": "writes", "operation": {"type": "write"}, "operations": 40 * workers, "concurrency": 2}],
    });
    Session::load(ConfigSource::Text(&doc.to_string()), &[], None)
        .map(Session::into_config)
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn run(config: &BenchmarkConfig, attempts: u32) -> RunResult {
    let invoker = build_invoker(config, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Runner::new(invoker, attempts)
        .with_backoff(Duration::from_millis(50))
        .run(config, CancellationToken::new(), &Silent)
        .await
        .unwrap()
}

/// Every worker completed, and the merged count is the sum of the workers'.
fn check_completed(run: &RunResult, cp: &ControlPlane) {
    let test = &run.tests[0];
    for w in &test.workers {
        assert_eq!(
            w.status,
            WorkerStatus::Completed,
            "worker {}: {:?}\n{}",
            w.index,
            w.error,
            cp.log_text()
        );
        assert_eq!(w.ops, 40);
    }
    let sum: u64 = test.workers.iter().map(|w| w.ops).sum();
    assert_eq!(test.metrics.ok(), sum);
    assert_eq!(run.status, RunStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_invoker_gets_cold_then_warm_sandboxes_with_their_report_lines() {
    support::aws_env();
    let cp = control_plane(json!({"lgb-a": {"memory_size": 256, "timeout": 60}}));
    let config = bench(
        3,
        json!({"target": "lambda", "function": "lgb-a", "options": {"endpoint": cp.endpoint, "region": "us-east-1"}}),
    );
    let first = run(&config, 1).await;
    check_completed(&first, &cp);
    let stats = cp.stats("lgb-a");
    assert_eq!(stats["invocations"], 3);
    // The runner starts its three workers at once: three sandboxes, each cold.
    assert_eq!(stats["cold_starts"], 3, "{stats}");
    assert_eq!(stats["max_in_flight"], 3, "{stats}");
    for w in &first.tests[0].workers {
        let report = w
            .environment
            .report
            .as_ref()
            .expect("REPORT from the log tail");
        assert!(w.environment.cold_start);
        assert!(report.init_duration_ms.is_some(), "{report:?}");
        assert_eq!(report.memory_size_mb, Some(256));
        assert!(
            report.max_memory_used_mb.is_some_and(|m| m < 256),
            "{report:?}"
        );
        assert_eq!(w.environment.memory_mb, Some(256));
        assert_eq!(w.environment.function.as_deref(), Some("lgb-a"));
    }
    // A second run finds the three sandboxes warm.
    let second = run(&config, 1).await;
    check_completed(&second, &cp);
    for w in &second.tests[0].workers {
        assert!(!w.environment.cold_start);
        let report = w.environment.report.as_ref().unwrap();
        assert_eq!(report.init_duration_ms, None);
    }
    let stats = cp.stats("lgb-a");
    assert_eq!(
        (stats["invocations"].as_u64(), stats["cold_starts"].as_u64()),
        (Some(6), Some(3))
    );

    // AWS_ENDPOINT_URL_LAMBDA reaches the control plane without runner.options.endpoint.
    // (Only this test sets it; the others name their endpoint, which wins.)
    std::env::set_var("AWS_ENDPOINT_URL_LAMBDA", &cp.endpoint);
    let by_env = bench(1, json!({"target": "lambda", "function": "lgb-a"}));
    let third = run(&by_env, 1).await;
    std::env::remove_var("AWS_ENDPOINT_URL_LAMBDA");
    check_completed(&third, &cp);
    assert_eq!(cp.stats("lgb-a")["invocations"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_url_invoker_is_signed_and_checked() {
    support::aws_env();
    let cp = control_plane(json!({"lgb-url": {"memory_size": 128, "timeout": 60}}));
    let url = format!("{}/lambda-url/lgb-url/", cp.endpoint);
    let config = bench(
        2,
        json!({"target": "url", "url": url, "options": {"region": "us-east-1"}}),
    );
    let signed = run(&config, 1).await;
    check_completed(&signed, &cp);
    let stats = cp.stats("lgb-url");
    assert_eq!(
        (
            stats["url_invocations"].as_u64(),
            stats["signature_failures"].as_u64()
        ),
        (Some(2), Some(0))
    );

    // Unsigned: 403, a configuration error the runner does not retry.
    let unsigned = bench(
        1,
        json!({"target": "url", "url": url, "options": {"auth": "NONE"}}),
    );
    let refused = run(&unsigned, 3).await;
    let w = &refused.tests[0].workers[0];
    assert_eq!((w.status, w.attempts), (WorkerStatus::Failed, 1));
    assert!(
        w.error.as_deref().unwrap().contains("runner.options.auth"),
        "{:?}",
        w.error
    );
    let stats = cp.stats("lgb-url");
    assert_eq!(
        (
            stats["url_invocations"].as_u64(),
            stats["signature_failures"].as_u64()
        ),
        (Some(2), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_throttling_over_the_reserved_concurrency_is_retried() {
    support::aws_env();
    let cp = control_plane(
        json!({"lgb-small": {"memory_size": 128, "timeout": 60, "reserved_concurrency": 2}}),
    );
    let config = bench(
        6,
        json!({"target": "lambda", "function": "lgb-small", "options": {"endpoint": cp.endpoint, "region": "us-east-1"}}),
    );
    let run = run(&config, 30).await;
    check_completed(&run, &cp);
    let stats = cp.stats("lgb-small");
    // Six at once against a limit of two: some 429s, retried until each got a sandbox.
    assert_eq!(stats["max_in_flight"], 2, "{stats}");
    assert_eq!(stats["invocations"], 6, "{stats}");
    let throttles = stats["throttles"].as_u64().unwrap();
    assert!(throttles >= 4, "{stats}");
    let attempts: u32 = run.tests[0].workers.iter().map(|w| w.attempts).sum();
    assert_eq!(
        u64::from(attempts),
        6 + throttles,
        "each 429 was one more attempt"
    );
}
