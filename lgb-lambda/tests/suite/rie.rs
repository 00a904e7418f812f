//! The real `bootstrap` under the AWS Lambda Runtime Interface Emulator (RIE), started
//! through `scripts/services run-rie`: direct invokes, Function URL events, bad
//! requests, and the runner's Lambda and Function URL invokers end to end.
//!
//! Each test starts its own emulator(s) on free ports and ends them by pid. An emulator
//! that cannot start fails the test with its log; nothing is skipped.
//!
//! The RIE runs one invocation at a time and returns no log tail, so the end-to-end
//! tests put a small front end in between that does what the Lambda service does:
//! route each worker to a sandbox of its own, and (for `LogType: Tail`) return the
//! emulator's real `REPORT` line for the invocation as `X-Amz-Log-Result`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use lgb_core::config::BenchmarkConfig;
use lgb_core::protocol::{Phase, WorkerResult, WorkerStatus};
use lgb_core::results::RunStatus;
use lgb_core::runner::CancellationToken;
use lgb_core::runner::{build_invoker, Runner, Silent};
use lgb_core::session::{ConfigSource, Session};
use lgb_core::worker::lambda::{FunctionUrlRequest, FunctionUrlResponse};
use lgb_testkit::{serve, Request, Response};
use serde_json::{json, Value};

use crate::support::{aws_env, http, Rie, ACCESS_KEY_ID, SECRET_KEY, SESSION_TOKEN};

const MEMORY_MB: &str = "512";
const FUNCTION_NAME: &str = "lgb-rie-test";

/// An emulator with this file's function settings.
fn start_rie() -> Rie {
    Rie::start(&[
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.to_string()),
        ("RUST_LOG", "info".to_string()),
    ])
}

fn request(
    phase: &str,
    test: Value,
    database: Value,
    workload: Value,
    index: u32,
    count: u32,
) -> Value {
    json!({
        "version": 2,
        "run_id": "rie",
        "phase": phase,
        "test": test,
        "database": database,
        "workload": workload,
        "worker": {"index": index, "count": count},
        "seed": 7
    })
}

fn memory_load(records: u64) -> Value {
    request(
        "load",
        json!({"name": "load"}),
        json!({"type": "memory"}),
        json!({"records": records, "load_batch": 100}),
        0,
        1,
    )
}

fn memory_reads(records: u64, ops: u64) -> Value {
    request(
        "run",
        json!({"name": "reads", "operation": {"type": "read"}, "operations": ops, "concurrency": 2}),
        json!({"type": "memory"}),
        json!({"records": records, "load_batch": 100}),
        0,
        1,
    )
}

fn result(v: Value) -> WorkerResult {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not a WorkerResult ({e}): {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_invokes_are_cold_then_warm_and_reuse_the_adapter() {
    let rie = start_rie();
    let t = Instant::now();
    let load = result(rie.invoke_json(&memory_load(500)).await);
    let cold_wall = t.elapsed();
    assert_eq!(
        load.status,
        WorkerStatus::Completed,
        "{:?}\n{}",
        load.error,
        rie.log_text()
    );
    assert_eq!(load.phase, Phase::Load);
    assert_eq!(load.metrics.ok(), 5, "500 records in batches of 100");
    let env = &load.environment;
    assert!(env.cold_start);
    assert_eq!(env.runtime, "lambda");
    assert_eq!(env.memory_mb, Some(512));
    // 512 MB is 29% of a vCPU's time: one runtime thread, whatever the CPUs seen.
    assert_eq!(env.threads, Some(1));
    assert_eq!(env.function.as_deref(), Some(FUNCTION_NAME));
    assert_eq!(env.function_version.as_deref(), Some("$LATEST"));
    assert_eq!(env.region.as_deref(), Some("us-east-1"));
    let init_ms = env.init_ms.expect("the cold start reports its init time");
    assert!(init_ms > 0.0 && init_ms < 5_000.0, "init {init_ms} ms");

    // The second invocation reads what the first loaded: same process, same adapter.
    let t = Instant::now();
    let reads = result(rie.invoke_json(&memory_reads(500, 1000)).await);
    let warm_wall = t.elapsed();
    assert_eq!(reads.status, WorkerStatus::Completed, "{:?}", reads.error);
    assert!(!reads.environment.cold_start);
    assert_eq!(reads.environment.init_ms, None);
    assert_eq!(reads.metrics.ok(), 1000);
    assert_eq!(
        reads.metrics.errors.total(),
        0,
        "reads found the loaded keys: {:?}",
        reads.metrics.errors
    );

    // Timings of small warm invocations (one read each), for the record.
    let mut warm = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = result(rie.invoke_json(&memory_reads(500, 1)).await);
        warm.push(t.elapsed());
        assert!(!r.environment.cold_start);
    }
    warm.sort();
    let rss = rie
        .bootstrap_peak_rss_kib()
        .expect("the bootstrap runs under the emulator");
    eprintln!(
        "RIE timings: init {init_ms:.2} ms; cold invoke (load 500) {cold_wall:.2?} wall; \
         read 1000 {warm_wall:.2?} wall; warm 1-read invoke p50 {:.2?} min {:.2?} max {:.2?}; \
         bootstrap peak RSS {} KiB",
        warm[warm.len() / 2],
        warm[0],
        warm[warm.len() - 1],
        rss
    );
    assert!(rss < 100 * 1024, "peak RSS {rss} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_url_event_with_a_base64_body_gets_an_http_200() {
    let rie = start_rie();
    let body = serde_json::to_vec(&memory_load(300)).unwrap();
    let event = serde_json::to_value(FunctionUrlRequest::wrap(&body, true)).unwrap();
    let answer: FunctionUrlResponse =
        serde_json::from_value(rie.invoke_json(&event).await).unwrap();
    assert_eq!(answer.status_code, 200);
    assert_eq!(
        answer.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert!(!answer.is_base64_encoded);
    let r: WorkerResult = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(r.status, WorkerStatus::Completed);
    assert_eq!(r.metrics.ok(), 3);
    assert!(r.environment.cold_start);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_structured_errors_and_the_worker_survives() {
    let rie = start_rie();
    let mut wrong_version = memory_reads(10, 1);
    wrong_version["version"] = json!(99);
    let mut unknown_db = memory_reads(10, 1);
    unknown_db["database"] = json!({"type": "nosuch"});
    let mut absurd = memory_reads(10, 1);
    absurd["test"]["concurrency"] = json!(10_000_000);
    let cases = [
        (json!({"version": 1, "run_id": 5}), "run_id"),
        (wrong_version, "protocol version 2, the request has 99"),
        (unknown_db, "unknown database `nosuch`"),
        (absurd, "test.concurrency"),
        (json!("hello"), "expected struct WorkerRequest"),
    ];
    for (payload, expected) in cases {
        let r = result(rie.invoke_json(&payload).await);
        assert_eq!(r.status, WorkerStatus::Failed, "{payload}");
        let error = r.error.unwrap_or_default();
        assert!(error.contains(expected), "{expected:?} in {error:?}");
        assert_eq!(r.metrics.errors.total(), 1);
    }
    // Function URL: a body that is not JSON is a 400 with the same structured result.
    let event =
        serde_json::to_value(FunctionUrlRequest::wrap(b"definitely not json", true)).unwrap();
    let answer: FunctionUrlResponse =
        serde_json::from_value(rie.invoke_json(&event).await).unwrap();
    assert_eq!(answer.status_code, 400);
    let r: WorkerResult = serde_json::from_str(&answer.body).unwrap();
    assert!(
        r.error.as_deref().unwrap().contains("expected value"),
        "{:?}",
        r.error
    );
    // A payload that is not JSON at all never reaches lgb: the runtime refuses it with
    // an error object. The process lives on and still serves.
    let (_, bytes) = rie.invoke(b"{not json").await;
    let refusal: Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    assert!(
        refusal.to_string().to_lowercase().contains("error"),
        "{refusal}"
    );
    let ok = result(rie.invoke_json(&memory_load(100)).await);
    assert_eq!(ok.status, WorkerStatus::Completed);
    assert!(
        !ok.environment.cold_start,
        "the same process served every request"
    );
    assert!(!rie.log_text().contains("panicked"), "{}", rie.log_text());
}

// ---------------------------------------------------------------------------------
// A minimal HTTP/1.1 front end (one request per connection) for the end-to-end tests.

/// What the Lambda service does in front of sandboxes, over emulators: each worker
/// index goes to its own sandbox (worker `i` to emulator `i % n`), the request id is
/// passed on, and with `X-Amz-Log-Type: Tail` the emulator's own `REPORT` line for the
/// invocation comes back base64 in `X-Amz-Log-Result`.
async fn invoke_front_end(
    emulators: Arc<Vec<Rie>>,
    calls: Arc<AtomicU32>,
) -> (String, tokio::task::JoinHandle<()>) {
    serve(move |req: Request| {
        let emulators = emulators.clone();
        let n = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            assert_eq!(req.path, "/2015-03-31/functions/function/invocations");
            let payload: Value = serde_json::from_slice(&req.body).unwrap();
            let index = payload["worker"]["index"].as_u64().unwrap() as usize;
            let rie = &emulators[index % emulators.len()];
            let id = format!("req-{n}-{index}");
            let r = http()
                .post(rie.invoke_url())
                .header("X-Amzn-RequestId", &id)
                .body(req.body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap().to_vec();
            let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
            if req.header("x-amz-log-type") == Some("Tail") {
                let line = rie
                    .report_line(&id)
                    .unwrap_or_else(|| panic!("no REPORT for {id}:\n{}", rie.log_text()));
                let tail = format!(
                    "START RequestId: {id} Version: $LATEST\nEND RequestId: {id}\n{line}\n"
                );
                headers.push((
                    "x-amz-log-result".into(),
                    base64::engine::general_purpose::STANDARD.encode(tail),
                ));
            }
            Response {
                status,
                headers,
                body,
            }
        }
    })
    .await
}

fn bench(database: Value, workers: u32, tests: Value, runner: Value) -> BenchmarkConfig {
    let mut runner = runner;
    runner["workers"] = json!(workers);
    let doc = json!({
        "name": "rie",
        "database": database,
        "workload": {"records": 400, "load_batch": 50, "load_concurrency": 2},
        "runner": runner,
        "tests": tests,
    });
    Session::load(ConfigSource::Text(&doc.to_string()), &[], None)
        .map(Session::into_config)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `config` through `build_invoker` (as `lgb run` does) and checks what every
/// run through an emulator must show: exact merges, cold then warm.
async fn run_and_check(config: &BenchmarkConfig) -> lgb_core::results::RunResult {
    let invoker = build_invoker(config, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let runner =
        Runner::new(invoker, config.runner.retries).with_backoff(Duration::from_millis(20));
    let run = runner
        .run(config, CancellationToken::new(), &Silent)
        .await
        .unwrap();
    for test in &run.tests {
        for w in &test.workers {
            assert_eq!(
                w.status,
                WorkerStatus::Completed,
                "{} worker {}: {:?}",
                test.name,
                w.index,
                w.error
            );
            assert_eq!(w.attempts, 1);
        }
        let merged = test.metrics.ok() + test.metrics.failed();
        let sum: u64 = test.workers.iter().map(|w| w.ops).sum();
        assert_eq!(
            merged, sum,
            "{}: merged count is the sum of the workers'",
            test.name
        );
        assert!(merged > 0);
        let cold = test.phase == Phase::Load;
        assert!(
            test.workers
                .iter()
                .all(|w| w.environment.cold_start == cold),
            "{}",
            test.name
        );
    }
    assert_eq!(run.status, RunStatus::Completed);
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_invoker_drives_two_emulated_sandboxes_through_the_runner() {
    aws_env();
    let emulators = Arc::new(vec![start_rie(), start_rie()]);
    let calls = Arc::new(AtomicU32::new(0));
    let (front, server) = invoke_front_end(emulators.clone(), calls.clone()).await;
    let config = bench(
        json!({"type": "memory"}),
        2,
        json!([
            {"name": "writes", "operation": {"type": "write"}, "operations": 600, "concurrency": 2},
            {"name": "updates", "operation": {"type": "update"}, "operations": 301}
        ]),
        json!({"target": "lambda", "function": "function", "options": {"endpoint": front, "region": "us-east-1"}}),
    );
    let run = run_and_check(&config).await;
    server.abort();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        6,
        "3 phases × 2 workers, no retries"
    );
    let (load, writes, updates) = (&run.tests[0], &run.tests[1], &run.tests[2]);
    assert_eq!(load.workers.len(), 2);
    assert_eq!(
        load.metrics.ok(),
        8,
        "each worker loads 200 records in batches of 50"
    );
    assert_eq!(writes.metrics.ok(), 600);
    assert_eq!(updates.metrics.ok(), 301);
    assert_eq!((updates.workers[0].ops, updates.workers[1].ops), (151, 150));
    // The platform's REPORT line of every invocation, parsed from the log tail.
    for test in &run.tests {
        for w in &test.workers {
            let report = w
                .environment
                .report
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no REPORT", test.name));
            assert!(report.duration_ms > 0.0);
            assert_eq!(report.memory_size_mb, Some(512));
            assert_eq!(
                report.init_duration_ms.is_some(),
                test.phase == Phase::Load,
                "{}",
                test.name
            );
        }
    }
    drop(emulators);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_invoker_runs_dynamodb_on_the_local_service() {
    aws_env();
    let endpoint = lgb_testkit::services::endpoint("dynamodb");
    let emulators = Arc::new(vec![start_rie(), start_rie()]);
    let (front, server) = invoke_front_end(emulators.clone(), Arc::new(AtomicU32::new(0))).await;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let table = format!("lgb-rie-{}-{}", std::process::id(), nanos % 1_000_000_007);
    let config = bench(
        json!({"type": "dynamodb", "table": table, "endpoint": endpoint, "region": "us-east-1",
               "create_table_if_missing": true}),
        2,
        json!([{"name": "reads", "operation": {"type": "read"}, "operations": 300, "concurrency": 2}]),
        json!({"target": "lambda", "function": "function", "options": {"endpoint": front}}),
    );
    let run = run_and_check(&config).await;
    server.abort();
    let reads = &run.tests[1];
    assert_eq!(reads.metrics.ok(), 300);
    // Both sandboxes share the table: every read finds a key that some worker loaded.
    assert_eq!(
        reads.metrics.errors.total(),
        0,
        "{:?}",
        reads.metrics.errors
    );
    drop(emulators);
}

/// Recomputes a SigV4 signature from what the front end received; `Err` says why the
/// request is refused.
fn verify_sigv4(req: &Request, url: &str) -> Result<(), String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let auth = req
        .header("authorization")
        .ok_or("no Authorization header")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let fields: HashMap<&str, &str> = rest.split(", ").filter_map(|f| f.split_once('=')).collect();
    let credential = fields.get("Credential").ok_or("no Credential")?;
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5
        || scope[0] != ACCESS_KEY_ID
        || scope[2] != "us-east-1"
        || scope[3] != "lambda"
        || scope[4] != "aws4_request"
    {
        return Err(format!("bad credential scope {credential}"));
    }
    let signed: Vec<&str> = fields
        .get("SignedHeaders")
        .ok_or("no SignedHeaders")?
        .split(';')
        .collect();
    for needed in ["host", "x-amz-date", "content-type"] {
        if !signed.contains(&needed) {
            return Err(format!("{needed} is not signed: {signed:?}"));
        }
    }
    let signature = fields.get("Signature").ok_or("no Signature")?;
    if signature.len() != 64 || !signature.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("malformed signature {signature}"));
    }
    let date = req.header("x-amz-date").ok_or("no x-amz-date")?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let time = time::PrimitiveDateTime::parse(date, format)
        .map_err(|e| e.to_string())?
        .assume_utc();
    if scope[1] != &date[..8] {
        return Err("credential date differs from x-amz-date".into());
    }
    let headers: Vec<(&str, &str)> = signed
        .iter()
        // The signer adds these two itself, from the time and the identity.
        .filter(|h| !matches!(**h, "x-amz-date" | "x-amz-security-token"))
        .map(|h| (*h, req.header(h).unwrap_or_default()))
        .collect();
    let identity = aws_credential_types::Credentials::new(
        ACCESS_KEY_ID,
        SECRET_KEY,
        Some(SESSION_TOKEN.to_string()),
        None,
        "test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("lambda")
        .time(time.into())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = format!("{url}{}", req.path);
    let signable = SignableRequest::new(
        "POST",
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(&req.body),
    )
    .map_err(|e| e.to_string())?;
    let (_, expected) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    if &expected != signature {
        return Err(format!(
            "signature mismatch: got {signature}, expected {expected}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_url_invoker_signs_and_the_url_front_end_reaches_the_worker() {
    aws_env();
    let rie = Arc::new(start_rie());
    let verified = Arc::new(AtomicU32::new(0));
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let (url, server) = {
        let (rie, verified, base) = (rie.clone(), verified.clone(), base.clone());
        serve(move |req: Request| {
            let (rie, verified, base) = (rie.clone(), verified.clone(), base.clone());
            async move {
                if let Err(why) = verify_sigv4(&req, base.get().unwrap()) {
                    return Response {
                        status: 403,
                        headers: vec![("content-type".into(), "application/json".into())],
                        body: json!({"Message": format!("Forbidden: {why}")})
                            .to_string()
                            .into_bytes(),
                    };
                }
                verified.fetch_add(1, Ordering::SeqCst);
                // Lambda's Function URL front end: the body goes base64 into an event.
                let event = serde_json::to_vec(&FunctionUrlRequest::wrap(&req.body, true)).unwrap();
                let (status, bytes) = rie.invoke(&event).await;
                assert_eq!(status, 200);
                let answer: FunctionUrlResponse = serde_json::from_slice(&bytes).unwrap();
                let body = answer.body_bytes().unwrap();
                Response {
                    status: answer.status_code,
                    headers: answer.headers.into_iter().collect(),
                    body,
                }
            }
        })
        .await
    };
    base.set(url.clone()).unwrap();
    let database = json!({"type": "memory"});
    let tests = json!([{"name": "reads", "operation": {"type": "read"}, "operations": 500}]);
    let config = bench(
        database.clone(),
        1,
        tests.clone(),
        json!({"target": "url", "url": format!("{url}/"), "options": {"region": "us-east-1"}}),
    );
    let run = run_and_check(&config).await;
    assert_eq!(
        verified.load(Ordering::SeqCst),
        2,
        "load and reads, each signed correctly"
    );
    assert_eq!(run.tests[1].metrics.ok(), 500);
    assert_eq!(
        run.tests[1].metrics.errors.total(),
        0,
        "the reads found the loaded keys"
    );

    // Unsigned requests are refused: a configuration error, reported and not retried.
    let unsigned = bench(
        database,
        1,
        tests,
        json!({"target": "url", "url": format!("{url}/"), "options": {"auth": "NONE"}}),
    );
    let invoker = build_invoker(&unsigned, None).await.unwrap();
    let run = Runner::new(invoker, 3)
        .run(&unsigned, CancellationToken::new(), &Silent)
        .await
        .unwrap();
    server.abort();
    let w = &run.tests[0].workers[0];
    assert_eq!((w.status, w.attempts), (WorkerStatus::Failed, 1));
    let error = w.error.as_deref().unwrap();
    assert!(
        error.contains("runner.options.auth") && error.contains("no Authorization header"),
        "{error}"
    );
    assert_eq!(verified.load(Ordering::SeqCst), 2);
}
