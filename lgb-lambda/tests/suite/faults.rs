//! Lambda workers that fail, with the real `bootstrap` under the AWS Lambda Runtime
//! Interface Emulator (RIE) and the runner's Lambda invoker: a worker killed
//! mid-invocation (a crash), a worker frozen past its function timeout, a function
//! timeout shorter than the test, and a database that hangs inside a worker near its
//! deadline. Each run must end in bounded time, keep what the other workers (and the
//! failed one, when it could answer) measured, say which worker failed and why, count
//! the failure by class, and end with the outcome the CLI maps to its documented exit
//! code. No secret the runner and the functions were given may appear in the results
//! or in the functions' logs.
//!
//! A small front end stands in for the Lambda service, as in `rie.rs`: worker `i` goes
//! to emulator `i % n`, and the emulator's answers to a crash (HTTP 502) or a timeout
//! ("Task timed out…") become what Lambda answers: HTTP 200 with
//! `X-Amz-Function-Error: Unhandled` and an `errorType`/`errorMessage` body.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lgb_core::config::BenchmarkConfig;
use lgb_core::protocol::WorkerStatus;
use lgb_core::results::{load_run, write_run, RunOutcome, RunResult, RunStatus};
use lgb_core::runner::CancellationToken;
use lgb_core::runner::{build_invoker, Runner, Silent};
use lgb_core::session::{ConfigSource, Session};
use lgb_core::ErrorClass;
use lgb_testkit::latency_proxy as proxy;
use lgb_testkit::{serve, Request, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::{aws_env, http, Rie, SECRET_KEY, SESSION_TOKEN};

/// An emulator whose function times out after `timeout_s` seconds.
fn start_rie(timeout_s: u32) -> Rie {
    Rie::start(&[
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout_s.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "lgb-faults".to_string()),
        ("RUST_LOG", "debug".to_string()),
    ])
}

fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} {pid}");
}

// ---------------------------------------------------------------------------------
// The Lambda service's front end: one HTTP/1.1 request per connection.

/// An invocation the front end passed on: worker index and phase.
type Forwarded = (u32, String);

/// Starts the front end over `emulators`; each forwarded invocation is announced on
/// the returned channel before it is sent on.
async fn lambda_front_end(
    emulators: Arc<Vec<Rie>>,
) -> (
    String,
    mpsc::UnboundedReceiver<Forwarded>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicU32::new(0));
    let (url, task) = serve(move |req: Request| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let (emulators, tx) = (emulators.clone(), tx.clone());
        async move {
            let payload: Value = serde_json::from_slice(&req.body).unwrap();
            let index = payload["worker"]["index"].as_u64().unwrap() as u32;
            let phase = payload["phase"].as_str().unwrap_or("run").to_string();
            let rie = &emulators[index as usize % emulators.len()];
            let id = format!("req-{n}-{index}");
            let _ = tx.send((index, phase));
            let r = http()
                .post(rie.invoke_url())
                .header("X-Amzn-RequestId", &id)
                .body(req.body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap().to_vec();
            let (body, function_error) = as_lambda_answers(status, body, &id);
            let response = Response::json(200, body);
            if function_error {
                response.with_header("x-amz-function-error", "Unhandled")
            } else {
                response
            }
        }
    })
    .await;
    (url, rx, task)
}

/// The emulator's answer as the Lambda service gives it: a crash (502) or a timeout
/// is HTTP 200 with a function error and an `errorType`/`errorMessage` body.
fn as_lambda_answers(status: u16, body: Vec<u8>, id: &str) -> (Vec<u8>, bool) {
    let text = String::from_utf8_lossy(&body).into_owned();
    if text.starts_with("Task timed out") {
        let error = json!({"errorType": "Sandbox.Timedout",
                           "errorMessage": format!("RequestId: {id} Error: {text}")});
        return (error.to_string().into_bytes(), true);
    }
    if status >= 500 {
        let error = match serde_json::from_str::<Value>(&text) {
            Ok(v) if v.get("errorType").is_some() => v,
            _ => json!({"errorType": "Runtime.ExitError",
                        "errorMessage": format!("RequestId: {id} Error: {text}")}),
        };
        return (error.to_string().into_bytes(), true);
    }
    assert_eq!(status, 200, "{text}");
    (body, false)
}

fn bench(database: Value, tests: Value, retries: u32, front: &str) -> BenchmarkConfig {
    let doc = json!({
        "name": "faults",
        "database": database,
        "workload": {"records": 400, "load_batch": 50, "fields": 2, "field_size": "16B"},
        "runner": {"workers": 2, "retries": retries, "target": "lambda", "function": "function",
                   "options": {"endpoint": front, "region": "us-east-1"}},
        "tests": tests,
    });
    Session::load(ConfigSource::Text(&doc.to_string()), &[], None)
        .map(Session::into_config)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `config` as `lgb run` does, with a limit on how long it may take.
async fn run(config: &BenchmarkConfig, limit: Duration) -> (RunResult, Duration) {
    let invoker = build_invoker(config, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let runner =
        Runner::new(invoker, config.runner.retries).with_backoff(Duration::from_millis(20));
    let started = Instant::now();
    let run = tokio::time::timeout(limit, runner.run(config, CancellationToken::new(), &Silent))
        .await
        .unwrap_or_else(|_| panic!("the run did not end within {limit:?}"))
        .unwrap();
    (run, started.elapsed())
}

/// Writes `run` as `lgb run` does and reads it back: the assertions look at what the
/// results directory holds.
fn written(run: &RunResult) -> (tempfile::TempDir, PathBuf, RunResult) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_run(run, tmp.path()).unwrap();
    let back = load_run(&dir).unwrap();
    assert_eq!(&back, run, "the results directory holds the run exactly");
    (tmp, dir, back)
}

/// Neither the results directory `dir` nor the functions' logs may hold any of the
/// secrets, or a recognisable piece of one.
fn assert_no_secrets(dir: &Path, emulators: &[Rie]) {
    let mut texts: Vec<(String, String)> = emulators
        .iter()
        .map(|r| ("function log".to_string(), r.log_text()))
        .collect();
    let mut files = vec![dir.to_path_buf()];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            texts.push((p.display().to_string(), text));
        }
    }
    assert!(texts.len() >= emulators.len() + 3);
    for secret in [SECRET_KEY, SESSION_TOKEN] {
        for needle in [secret, &secret[..16], &secret[secret.len() - 16..]] {
            for (name, text) in &texts {
                assert!(!text.contains(needle), "{name} holds a secret ({needle})");
            }
        }
    }
}

fn memory_writes(duration: &str) -> Value {
    json!([{"name": "writes", "operation": {"type": "write"}, "concurrency": 2, "duration": duration}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_invocation_is_retried_and_the_crash_is_counted() {
    aws_env();
    let emulators = Arc::new(vec![start_rie(60), start_rie(60)]);
    let (front, mut forwarded, server) = lambda_front_end(emulators.clone()).await;
    let config = bench(json!({"type": "memory"}), memory_writes("3s"), 1, &front);
    // Worker 0's first run invocation: kill its bootstrap one second in.
    let killer = {
        let emulators = emulators.clone();
        tokio::spawn(async move {
            while let Some((index, phase)) = forwarded.recv().await {
                if index == 0 && phase == "run" {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let pid = emulators[0].bootstrap(None);
                    signal(pid, "KILL");
                    return pid;
                }
            }
            panic!("worker 0 never ran");
        })
    };
    let (run, took) = run(&config, Duration::from_secs(90)).await;
    server.abort();
    let (_results, dir, run) = written(&run);
    let killed = killer.await.unwrap();
    eprintln!("crash: killed bootstrap {killed}; the run took {took:.1?}");
    assert_eq!(run.status, RunStatus::Completed);
    let writes = &run.tests[1];
    let (w0, w1) = (&writes.workers[0], &writes.workers[1]);
    assert_eq!(
        (w0.status, w0.attempts),
        (WorkerStatus::Completed, 2),
        "{:?}",
        w0.error
    );
    assert!(
        w0.environment.cold_start,
        "the retry ran in a new process (the killed one is gone)"
    );
    assert_eq!((w1.status, w1.attempts), (WorkerStatus::Completed, 1));
    assert!(
        w0.ops > 0 && w1.ops > 0,
        "both workers' measurements are kept"
    );
    assert_eq!(
        writes.metrics.errors.counts.get(&ErrorClass::Backend),
        Some(&1),
        "the crash is counted: {:?}",
        writes.metrics.errors
    );
    let sample = &writes.metrics.errors.samples[&ErrorClass::Backend][0];
    eprintln!("crash: counted as backend: {sample}");
    assert!(
        sample.contains("Unhandled") && sample.contains("Runtime.ExitError"),
        "{sample}"
    );
    assert_eq!(
        run.outcome(),
        RunOutcome::Errors,
        "the CLI exits 3: completed with errors"
    );
    assert_no_secrets(&dir, &emulators);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_times_out_and_fails_after_its_retry_while_the_other_is_kept() {
    aws_env();
    // Worker 0's sandbox has a 2 s function timeout; the test needs 1 s.
    let emulators = Arc::new(vec![start_rie(2), start_rie(60)]);
    let (front, mut forwarded, server) = lambda_front_end(emulators.clone()).await;
    let config = bench(json!({"type": "memory"}), memory_writes("1s"), 1, &front);
    // Freeze worker 0's bootstrap in each of its run invocations (the first and the
    // retry, which runs in a fresh process): it can neither finish nor stop itself.
    let freezer = {
        let emulators = emulators.clone();
        tokio::spawn(async move {
            let mut frozen: Vec<u32> = Vec::new();
            while let Some((index, phase)) = forwarded.recv().await {
                if index == 0 && phase == "run" {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let pid = emulators[0].bootstrap(frozen.last().copied());
                    signal(pid, "STOP");
                    frozen.push(pid);
                }
            }
            frozen
        })
    };
    let (run, took) = run(&config, Duration::from_secs(90)).await;
    server.abort();
    let (_results, dir, run) = written(&run);
    let frozen = freezer.await.unwrap();
    eprintln!("timeout: froze bootstraps {frozen:?}; the run took {took:.1?}");
    assert_eq!(frozen.len(), 2, "the first attempt and one retry");
    assert_eq!(run.status, RunStatus::Completed, "one worker still ran");
    let writes = &run.tests[1];
    let (w0, w1) = (&writes.workers[0], &writes.workers[1]);
    assert_eq!((w0.status, w0.attempts), (WorkerStatus::Failed, 2));
    let why = w0.error.as_deref().unwrap_or_default();
    eprintln!("timeout: worker 0 failed: {why}");
    assert!(
        why.contains("Sandbox.Timedout") && why.contains("Task timed out after 2.00 seconds"),
        "the result says why worker 0 failed: {why}"
    );
    assert_eq!(
        writes.metrics.errors.counts.get(&ErrorClass::Timeout),
        Some(&2),
        "both timed-out attempts are counted: {:?}",
        writes.metrics.errors
    );
    assert_eq!((w1.status, w1.attempts), (WorkerStatus::Completed, 1));
    assert!(w1.ops > 0);
    assert_eq!(
        writes.metrics.ok() + writes.metrics.failed(),
        w1.ops,
        "the merged test is worker 1's measurements"
    );
    assert_eq!(
        run.outcome(),
        RunOutcome::WorkersFailed,
        "the CLI exits 4: a worker failed"
    );
    assert_no_secrets(&dir, &emulators);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_timeout_shorter_than_the_test_keeps_what_ran_and_the_run_goes_on() {
    aws_env();
    let emulators = Arc::new(vec![start_rie(2), start_rie(2)]);
    let (front, _forwarded, server) = lambda_front_end(emulators.clone()).await;
    let tests = json!([
        {"name": "long", "operation": {"type": "write"}, "concurrency": 2, "duration": "30s"},
        {"name": "after", "operation": {"type": "read"}, "operations": 200}
    ]);
    let config = bench(json!({"type": "memory"}), tests, 1, &front);
    let (run, took) = run(&config, Duration::from_secs(60)).await;
    server.abort();
    let (_results, dir, run) = written(&run);
    eprintln!("function timeout 2 s, test 30 s: the run took {took:.1?}");
    assert_eq!(run.status, RunStatus::Completed, "nobody stopped the run");
    let names: Vec<&str> = run.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["load", "long", "after"], "the next test still ran");
    let long = &run.tests[1];
    for w in &long.workers {
        assert_eq!((w.status, w.attempts), (WorkerStatus::Cancelled, 1));
        let why = w.error.as_deref().unwrap_or_default();
        assert!(why.contains("before the Lambda deadline"), "{why}");
        assert!(w.ops > 0, "what ran before the deadline is kept");
    }
    assert!(
        long.window_ns > 1_000_000_000 && long.window_ns < 2_000_000_000,
        "the window is the part that ran: {} ns",
        long.window_ns
    );
    assert_eq!(run.tests[2].metrics.ok(), 200);
    assert_eq!(
        run.outcome(),
        RunOutcome::WorkersFailed,
        "the CLI exits 4: workers stopped early"
    );
    assert_no_secrets(&dir, &emulators);
}

/// A worker whose database stops answering near its deadline still answers in time:
/// the in-flight operation is abandoned, not waited for (the test's 60 s operation
/// timeout would outlast the 3 s function timeout and lose everything).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_database_hangs_answers_before_its_deadline() {
    aws_env();
    let upstream = lgb_testkit::services::endpoint("dynamodb");
    let hang = proxy::start(
        &upstream,
        proxy::Schedule {
            hang_after: Some(80),
            ..proxy::Schedule::default()
        },
        None,
    )
    .await;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let table = format!(
        "lgb-faults-{}-{}",
        std::process::id(),
        nanos % 1_000_000_007
    );
    let emulators = Arc::new(vec![start_rie(3), start_rie(3)]);
    let (front, _forwarded, server) = lambda_front_end(emulators.clone()).await;
    let mut config = bench(
        json!({"type": "dynamodb", "table": table, "endpoint": hang.endpoint, "region": "us-east-1",
               "create_table_if_missing": true, "request_timeout": "60s"}),
        json!([{"name": "writes", "operation": {"type": "write"}, "concurrency": 2,
                "duration": "30s", "timeout": "60s"}]),
        0,
        &front,
    );
    config.workload.load = false;
    let (run, took) = run(&config, Duration::from_secs(60)).await;
    server.abort();
    let (_results, dir, run) = written(&run);
    eprintln!("database hang inside Lambda: the run took {took:.1?}");
    assert!(hang.requests() > 80, "the database hung");
    let writes = &run.tests[0];
    let ops: u64 = writes.workers.iter().map(|w| w.ops).sum();
    for w in &writes.workers {
        assert_eq!(w.status, WorkerStatus::Cancelled, "{:?}", w.error);
        let why = w.error.as_deref().unwrap_or_default();
        assert!(why.contains("before the Lambda deadline"), "{why}");
    }
    assert!(ops > 0, "writes before the hang are kept");
    assert_eq!(
        writes.metrics.failed(),
        0,
        "writes cut off at the deadline are left out"
    );
    assert_eq!(run.outcome(), RunOutcome::WorkersFailed);
    assert_no_secrets(&dir, &emulators);
}
