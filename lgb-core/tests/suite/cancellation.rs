//! Cancelling a run (Ctrl-C in the CLI) stops it promptly and keeps what was measured:
//! the partial result is complete, valid, and loads back from its directory.
use std::sync::Arc;
use std::time::{Duration, Instant};

use lgb_core::protocol::WorkerStatus;
use lgb_core::results::{load_run, write_run, RunStatus};
use lgb_core::runner::{LocalInvoker, Runner, Silent};
use lgb_core::session::{ConfigSource, Session};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_run_writes_a_valid_partial_result() {
    let config = Session::load(ConfigSource::Text(r#"{
            "database": {"type": "memory"},
            "workload": {"records": 1000, "fields": 1, "field_size": 8},
            "runner": {"workers": 2},
            "tests": [
                {"name": "long", "operation": {"type": "read"}, "duration": "60s", "concurrency": 2},
                {"name": "never", "operation": {"type": "read"}, "duration": "60s"}
            ]
        }"#), &[], None).map(Session::into_config)
    .unwrap();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        c.cancel();
    });
    let started = Instant::now();
    let runner = Runner::new(Arc::new(LocalInvoker::default()), 0);
    let run = runner.run(&config, cancel, &Silent).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped promptly"
    );
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(
        run.tests.len(),
        2,
        "load and the interrupted test; the next test never starts"
    );
    let t = &run.tests[1];
    assert!(t
        .workers
        .iter()
        .all(|w| w.status == WorkerStatus::Cancelled));
    let ops = t.metrics.operations["read"].ok;
    assert!(ops > 0, "what ran before the interrupt is kept");
    assert!(
        t.window_ns > 0 && t.window_ns < 5_000_000_000,
        "window covers the partial run: {}",
        t.window_ns
    );

    let dir = tempfile::tempdir().unwrap();
    let path = write_run(&run, dir.path()).unwrap();
    let back = load_run(&path).unwrap();
    assert_eq!(back, run);
    assert!(path.join("summary.csv").exists());
    assert!(path.join("hdr/long.read.hlog").exists());
}

#[test]
fn results_from_a_newer_lgb_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("result.json"), r#"{"schema_version": 99}"#).unwrap();
    let err = load_run(dir.path()).unwrap_err();
    assert!(err.to_string().contains("newer lgb"), "{err}");
    std::fs::write(dir.path().join("result.json"), r#"{"name": "x"}"#).unwrap();
    let err = load_run(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not an lgb result"), "{err}");
}
