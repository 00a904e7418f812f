//! A deployed worker does only what it was deployed for: the real `bootstrap` under
//! the local Lambda control plane, pinned through `LGB_DEPLOYMENT` as infra/ pins it,
//! gets requests that point it elsewhere (the immudb request that would send the
//! function's AWS secret key to a host of the caller's, another DynamoDB endpoint,
//! another table) and refuses them with class `rejected` before connecting: a listener
//! the test owns sees no connection. The runner shows such a refusal as a failed
//! worker after one attempt, never retried.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lgb_core::config::{
    BenchmarkConfig, DatabaseConfig, OperationConfig, TestConfig, WorkloadConfig,
};
use lgb_core::protocol::{
    Phase, WorkerRequest, WorkerResult, WorkerSlot, WorkerStatus, PROTOCOL_VERSION,
};
use lgb_core::results::RunStatus;
use lgb_core::runner::CancellationToken;
use lgb_core::runner::{build_invoker, Runner, Silent};
use lgb_core::session::{ConfigSource, Session};
use lgb_core::ErrorClass;
use serde_json::{json, Value};

use lgb_testkit::control_plane::ControlPlane;

use crate::support;

/// A TCP listener that counts the connections it is offered.
struct Listener {
    port: u16,
    accepted: Arc<AtomicU64>,
}

impl Listener {
    async fn start() -> Listener {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((_stream, _)) = socket.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Listener { port, accepted }
    }

    fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// The deployments infra/ would set (outputs.tf's `database_settings`), with the
/// deployed immudb server on a port nothing listens on.
fn deployments() -> Value {
    json!({
        "lgb-immudb": {"type": "immudb", "address": "127.0.0.1:9", "database": "defaultdb",
                       "password_secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:lgb/immudb-AbCdEf"},
        "lgb-dynamodb": {"type": "dynamodb", "table": "lgb-bench", "region": "us-east-1",
                         "partition_key": {"name": "pk", "type": "S"}, "sort_key": null},
    })
}

fn control_plane() -> ControlPlane {
    let mut functions = serde_json::Map::new();
    for (name, deployment) in deployments().as_object().unwrap() {
        functions.insert(
            name.clone(),
            json!({
                "bootstrap": env!("CARGO_BIN_EXE_bootstrap"),
                "memory_size": 128,
                "timeout": 60,
                "environment": {"RUST_LOG": "info", "LGB_DEPLOYMENT": deployment.to_string()},
            }),
        );
    }
    ControlPlane::start(
        &json!({"functions": functions}),
        &[
            ("AWS_ACCESS_KEY_ID", support::ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", support::SECRET_KEY),
            ("AWS_SESSION_TOKEN", support::SESSION_TOKEN),
            ("AWS_REGION", "us-east-1"),
        ],
    )
}

/// A runner config for `function` with `database` (valid: it passes `lgb validate`).
fn bench(cp: &ControlPlane, function: &str, database: Value) -> BenchmarkConfig {
    let doc = json!({
        "name": "pinned",
        "database": database,
        "workload": {"records": 10, "load": false},
        "runner": {"target": "lambda", "function": function, "workers": 2,
                   "options": {"endpoint": cp.endpoint, "region": "us-east-1"}},
        "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": 10}],
    });
    Session::load(ConfigSource::Text(&doc.to_string()), &[], None)
        .map(Session::into_config)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A raw request, as a caller who skips `lgb validate` would send it.
fn request(database: Value) -> WorkerRequest {
    let mut test = TestConfig::new("reads", OperationConfig::new("read"));
    test.operations = Some(10);
    WorkerRequest {
        version: PROTOCOL_VERSION,
        run_id: "attack".into(),
        phase: Phase::Run,
        test,
        database: serde_json::from_value::<DatabaseConfig>(database).unwrap(),
        workload: WorkloadConfig::default(),
        worker: WorkerSlot { index: 0, count: 1 },
        seed: 1,
    }
}

/// Asserts `r` is a refusal by the pin naming `field`, and that no credential of the
/// function shows in it.
fn assert_refused(r: &WorkerResult, field: &str, cp: &ControlPlane) {
    assert_eq!(
        r.status,
        WorkerStatus::Failed,
        "{:?}\n{}",
        r.error,
        cp.log_text()
    );
    assert_eq!(
        r.metrics.errors.counts.keys().copied().collect::<Vec<_>>(),
        vec![ErrorClass::Rejected],
        "{:?}",
        r.error
    );
    let error = r.error.as_deref().unwrap();
    assert!(error.contains(field), "{field} in {error}");
    assert!(error.contains("LGB_DEPLOYMENT"), "{error}");
    assert!(r.metrics.operations.is_empty(), "nothing ran");
    let text = serde_json::to_string(r).unwrap();
    for secret in [
        support::SECRET_KEY,
        support::SESSION_TOKEN,
        support::ACCESS_KEY_ID,
    ] {
        assert!(!text.contains(secret), "a credential leaked into {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_worker_refuses_to_connect_anywhere_else() {
    support::aws_env();
    let cp = control_plane();
    let listener = Listener::start().await;
    let elsewhere = format!("127.0.0.1:{}", listener.port);

    // The exfiltration request: the function's own secret key as immudb's password,
    // sent to the caller's host.
    let immudb = build_invoker(&bench(&cp, "lgb-immudb", json!({"type": "memory"})), None)
        .await
        .unwrap();
    let exfiltrate = request(json!({
        "type": "immudb", "address": elsewhere, "password_env": "AWS_SECRET_ACCESS_KEY"
    }));
    let r = immudb
        .invoke(&exfiltrate, CancellationToken::new())
        .await
        .unwrap();
    assert_refused(&r, "database.address", &cp);
    // The same with the other two AWS variables and a secret of the caller's.
    for (field, source) in [
        (
            "database.address",
            json!({"password_env": "AWS_ACCESS_KEY_ID"}),
        ),
        (
            "database.address",
            json!({"password_env": "AWS_SESSION_TOKEN"}),
        ),
        (
            "database.password_secret_id",
            json!({"password_secret_id": "arn:aws:secretsmanager:us-east-1:999999999999:secret:theirs"}),
        ),
        (
            "database.secrets_manager_endpoint",
            json!({"secrets_manager_endpoint": format!("http://{elsewhere}")}),
        ),
    ] {
        let mut database = json!({"type": "immudb", "address": elsewhere});
        if field != "database.address" {
            database["address"] = json!("127.0.0.1:9");
        }
        database
            .as_object_mut()
            .unwrap()
            .extend(source.as_object().unwrap().clone());
        let r = immudb
            .invoke(&request(database), CancellationToken::new())
            .await
            .unwrap();
        assert_refused(&r, field, &cp);
    }
    // Another adapter type on the immudb worker.
    let r = immudb
        .invoke(
            &request(json!({"type": "memory"})),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_refused(&r, "database.type", &cp);

    // The DynamoDB worker: another endpoint (SigV4-signed calls, with the session
    // token, to the caller's host) and another table.
    let dynamodb = build_invoker(&bench(&cp, "lgb-dynamodb", json!({"type": "memory"})), None)
        .await
        .unwrap();
    let r = dynamodb
        .invoke(
            &request(json!({"type": "dynamodb", "table": "lgb-bench", "endpoint": format!("http://{elsewhere}")})),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_refused(&r, "database.endpoint", &cp);
    let r = dynamodb
        .invoke(
            &request(json!({"type": "dynamodb", "table": "someone-elses"})),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_refused(&r, "database.table", &cp);

    // Through the runner: a valid config for another address fails every worker at
    // the first attempt (a refusal is not retried) and the run fails.
    let config = bench(
        &cp,
        "lgb-immudb",
        json!({"type": "immudb", "address": elsewhere, "password": "not-sent"}),
    );
    let invoker = build_invoker(&config, None).await.unwrap();
    let run = Runner::new(invoker, 3)
        .with_backoff(Duration::from_millis(10))
        .run(&config, CancellationToken::new(), &Silent)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    for w in &run.tests[0].workers {
        assert_eq!(
            (w.status, w.attempts),
            (WorkerStatus::Failed, 1),
            "{:?}",
            w.error
        );
        assert!(
            w.error.as_deref().unwrap().contains("database.address"),
            "{:?}",
            w.error
        );
    }
    assert_eq!(
        run.tests[0]
            .metrics
            .errors
            .counts
            .get(&ErrorClass::Rejected),
        Some(&2)
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(listener.connections(), 0, "a refused request connected");
    let stats = cp.stats("lgb-immudb");
    assert_eq!(stats["invocations"], 8, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpinned_worker_never_reads_aws_variables_as_passwords() {
    // Without LGB_DEPLOYMENT the worker runs any database, but `password_env` may
    // only name LGB_SECRET_ variables: refused as a config error, nothing connects.
    support::aws_env();
    let listener = Listener::start().await;
    let worker = lgb_core::worker::Worker::default();
    let r = worker
        .handle(
            &request(json!({
                "type": "immudb", "address": format!("127.0.0.1:{}", listener.port),
                "password_env": "AWS_SECRET_ACCESS_KEY"
            })),
            CancellationToken::new(),
            None,
        )
        .await;
    assert_eq!(r.status, WorkerStatus::Failed);
    let error = r.error.unwrap();
    assert!(error.contains("database.password_env"), "{error}");
    assert!(error.contains("LGB_SECRET_"), "{error}");
    assert!(!error.contains(support::SECRET_KEY));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(listener.connections(), 0);
}
