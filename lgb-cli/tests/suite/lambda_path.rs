//! The Lambda path end to end through the real `lgb` binary, on this machine: outputs
//! generated from infra/outputs.tf → `lgb run --target lambda|url --targets …` over
//! the local Lambda control plane (`scripts/services run-lambda`, real `bootstrap`
//! sandboxes under the Runtime Interface Emulator) → workers on moto DynamoDB, bounded
//! by `runner.max_in_flight`, every one forced cold → results → `lgb report`. And
//! `lgb sweep` over three memory sizes, the function restored after success and after
//! Ctrl-C.
//!
//! The control plane's `/_lgb/stats` is the witness: how many invocations were ever in
//! flight at once, how many sandboxes started cold, which memory sizes they saw.

use crate::kit::{signal_and_wait, wait_until};
use lgb_testkit::outputs_tf;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

const FUNCTION: &str = "lgb-dynamodb";

/// `request_timeout` of every config here that reads moto: moto, shared by the suite's
/// parallel tests, answers in seconds now and then on a busy machine, and these tests
/// are about the Lambda path, not the database.
const MOTO_TIMEOUT: &str = "30s";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dynamodb_service() -> String {
    lgb_testkit::services::endpoint("dynamodb")
}

fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "lgb-path-{name}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_007
    )
}

/// The worker binary: next to `lgb` in the same target folder, built if missing.
fn bootstrap() -> PathBuf {
    let lgb = PathBuf::from(env!("CARGO_BIN_EXE_lgb"));
    let path = lgb.with_file_name("bootstrap");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "lgb-lambda", "--bin", "bootstrap"])
            .current_dir(repo_root())
            .status()
            .expect("cargo build of the bootstrap");
        assert!(status.success(), "building lgb-lambda's bootstrap failed");
    }
    assert!(path.exists(), "no bootstrap at {}", path.display());
    path
}

/// A local Lambda control plane serving one worker function, `FUNCTION`.
struct ControlPlane(lgb_testkit::control_plane::ControlPlane);

impl std::ops::Deref for ControlPlane {
    type Target = lgb_testkit::control_plane::ControlPlane;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl ControlPlane {
    fn start(memory_mb: u32) -> ControlPlane {
        ControlPlane(lgb_testkit::control_plane::ControlPlane::start(
            &json!({
                "update_delay_ms": 100,
                "functions": {FUNCTION: {
                    "bootstrap": bootstrap(),
                    "memory_size": memory_mb,
                    "timeout": 120,
                    "environment": {"RUST_LOG": "info", "KEEP_ME": "yes"},
                }}
            }),
            &aws_env(),
        ))
    }

    /// `/_lgb/stats` of `FUNCTION`.
    fn stats(&self) -> Value {
        self.0.stats(FUNCTION)
    }

    /// The function's configuration, through lgb-core's own client (signed calls).
    fn configuration(&self) -> (u32, serde_json::Map<String, Value>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for (k, v) in aws_env() {
                std::env::set_var(k, v);
            }
            let runner: lgb_core::config::RunnerConfig = serde_json::from_value(json!({
                "target": "lambda", "function": FUNCTION,
                "options": {"endpoint": self.endpoint, "region": "us-east-1"}
            }))
            .unwrap();
            let control = lgb_core::runner::LambdaFunction::from_config(&runner)
                .await
                .unwrap();
            let s = lgb_core::runner::FunctionControl::settings(&control)
                .await
                .unwrap();
            (
                s.memory_mb,
                s.environment
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect(),
            )
        })
    }
}

fn aws_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

/// outputs.json as `tofu output -json` would print it for a deployment of the
/// dynamodb worker, generated from infra/outputs.tf, pointing at the control plane.
fn write_outputs(dir: &Path, cp: &ControlPlane, table: &str) -> PathBuf {
    let endpoint = cp.endpoint.clone();
    let table = table.to_string();
    let doc = outputs_tf::sample_outputs(&["dynamodb"], &move |path| {
        let last = path.rsplit('.').next().unwrap_or_default();
        Some(match (path, last) {
            (p, "region") if p.starts_with("lgb_targets") => json!("us-east-1"),
            (_, "function_name") => json!(FUNCTION),
            (_, "function_url") => json!(format!("{endpoint}/lambda-url/{FUNCTION}/")),
            (_, "url_auth") => json!("AWS_IAM"),
            (_, "table") => json!(table),
            (p, "name") if p.ends_with("partition_key.name") => json!("pk"),
            (p, "type") if p.ends_with("partition_key.type") => json!("S"),
            _ => return None,
        })
    });
    let path = dir.join("outputs.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    path
}

/// A config naming only the database type and what only a local run needs (moto's
/// endpoint, creating the table, [`MOTO_TIMEOUT`]); the rest comes from the outputs.
fn write_config(dir: &Path, cp: &ControlPlane, moto: &str, workers: u32) -> PathBuf {
    let path = dir.join("bench.json");
    std::fs::write(
        &path,
        json!({
            "name": "lambda-path",
            "database": {"type": "dynamodb", "endpoint": moto, "create_table_if_missing": true,
                         "request_timeout": MOTO_TIMEOUT},
            "workload": {"records": 200, "load_batch": 25, "load_concurrency": 1},
            "runner": {
                "workers": workers, "max_in_flight": 5, "cold_start": "force", "retries": 1,
                "options": {"endpoint": cp.endpoint}
            },
            "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": workers * 10, "concurrency": 1}]
        })
        .to_string(),
    )
    .unwrap();
    path
}

/// `lgb ARGS` with the control plane's test credentials, whatever profile is set.
fn lgb(args: &[&str]) -> Command {
    let mut cmd = crate::kit::lgb();
    cmd.args(args).envs(aws_env()).env_remove("AWS_PROFILE");
    cmd
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} exited {:?}:\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn only_results_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn end_to_end(target: &str) {
    let moto = dynamodb_service();
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(256);
    let outputs = write_outputs(dir.path(), &cp, &unique(target));
    let config = write_config(dir.path(), &cp, &moto, 20);
    let results = dir.path().join("results");
    let (_, env_before) = cp.configuration();
    cp.reset();

    let started = Instant::now();
    let out = lgb(&[
        "run",
        config.to_str().unwrap(),
        "--target",
        target,
        "--targets",
        outputs.to_str().unwrap(),
        "--out",
        results.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    check(&out, "lgb run");
    eprintln!("lgb run --target {target}: {:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("from ") && stderr.contains("outputs.json"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("runner.function = \"{FUNCTION}\"")),
        "{stderr}"
    );
    assert!(stderr.contains("database.table = "), "{stderr}");
    if target == "url" {
        assert!(stderr.contains("runner.url = "), "{stderr}");
    }

    let stats = cp.stats();
    // load + reads, 20 workers each.
    let invocations = if target == "url" {
        &stats["url_invocations"]
    } else {
        &stats["invocations"]
    };
    assert_eq!(invocations, 40, "{stats}\n{}", cp.log_text());
    let max = stats["max_in_flight"].as_u64().unwrap();
    assert!(max <= 5, "more than max_in_flight open: {stats}");
    assert_eq!(max, 5, "the waves were not 5 wide: {stats}");
    assert_eq!(
        stats["cold_starts"], 40,
        "not every invocation was cold: {stats}"
    );

    let run_dir = only_results_dir(&results);
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("result.json")).unwrap())
            .unwrap();
    for t in result["tests"].as_array().unwrap() {
        let workers = t["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 20);
        for w in workers {
            assert_eq!(w["status"], "completed", "{w}");
            assert_eq!(w["environment"]["cold_start"], true, "{w}");
            if target == "lambda" {
                assert!(
                    w["environment"]["report"]["init_duration_ms"]
                        .as_f64()
                        .is_some(),
                    "no init duration in {w}"
                );
            }
            assert!(w["first_op_ns"].as_u64().is_some(), "{w}");
        }
    }
    assert_eq!(
        result["tests"][1]["metrics"]["operations"]["read"]["ok"],
        200
    );
    // The nonce retired the sandboxes before each wave, and was taken out of the
    // environment after the run: the function is as deployed (no drift in `tofu plan`).
    let (_, env_after) = cp.configuration();
    assert_eq!(env_after, env_before);
    assert!(!env_after.contains_key("LGB_COLD_START_NONCE"));

    let report = lgb(&["report", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    check(&report, "lgb report");
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(text.contains("Cold and warm workers"), "{text}");
    assert!(text.contains("cold"), "{text}");
}

#[test]
fn lambda_target_from_outputs_bounded_and_cold() {
    end_to_end("lambda");
}

#[test]
fn url_target_from_outputs_bounded_and_cold() {
    end_to_end("url");
}

#[test]
fn an_undeployed_database_or_a_wrong_file_exits_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bench.json");
    std::fs::write(
        &config,
        json!({"database": {"type": "timestream"}, "tests": [{"name": "r", "operation": {"type": "read"}}]})
            .to_string(),
    )
    .unwrap();
    let outputs = dir.path().join("outputs.json");
    std::fs::write(
        &outputs,
        outputs_tf::sample_outputs(&["dynamodb", "immudb"], &|_| None).to_string(),
    )
    .unwrap();
    let run = || {
        let out = lgb(&[
            "run",
            config.to_str().unwrap(),
            "--target",
            "lambda",
            "--targets",
            outputs.to_str().unwrap(),
        ])
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = run();
    assert!(stderr.contains("deployed: dynamodb, immudb"), "{stderr}");

    std::fs::write(&outputs, "{\"name\": \"x\"}").unwrap();
    let stderr = run();
    assert!(
        stderr.contains("is not Terraform/OpenTofu output JSON"),
        "{stderr}"
    );
}

/// The command docs/lambda.md shows under "Fan-out".
#[test]
fn validate_says_when_workers_run_in_waves() {
    let out = lgb(&[
        "validate",
        "examples/quickstart.json",
        "--set",
        "runner.workers=200",
        "--set",
        "runner.max_in_flight=10",
    ])
    .current_dir(repo_root())
    .output()
    .unwrap();
    check(&out, "lgb validate");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("200 workers run in waves: at most 10 invocations are open at once"),
        "{text}"
    );
    let doc = std::fs::read_to_string(repo_root().join("docs/lambda.md")).unwrap();
    assert!(doc.contains(
        "lgb validate examples/quickstart.json --set runner.workers=200 --set runner.max_in_flight=10"
    ));
}

/// A sweep over 128, 512 and 1024 MB of a DynamoDB worker deployed at 384 MB: its
/// control plane, outputs, config and results folder, and the function's environment
/// before the sweep.
struct Sweep {
    dir: tempfile::TempDir,
    cp: ControlPlane,
    env_before: serde_json::Map<String, Value>,
}

impl Sweep {
    fn new(name: &str) -> Sweep {
        let moto = dynamodb_service();
        let dir = tempfile::tempdir().unwrap();
        let cp = ControlPlane::start(384);
        write_outputs(dir.path(), &cp, &unique(name));
        std::fs::write(
            dir.path().join("sweep.json"),
            json!({
                "name": "sweep",
                "database": {"type": "dynamodb", "endpoint": moto, "create_table_if_missing": true,
                             "request_timeout": MOTO_TIMEOUT},
                "workload": {"records": 100, "load_batch": 25, "load_concurrency": 1},
                "runner": {"workers": 2, "target": "lambda", "options": {"endpoint": cp.endpoint}},
                "tests": [{"name": "reads", "operation": {"type": "read"}, "duration": "1s"}]
            })
            .to_string(),
        )
        .unwrap();
        let (_, env_before) = cp.configuration();
        Sweep {
            dir,
            cp,
            env_before,
        }
    }

    fn results(&self) -> PathBuf {
        self.dir.path().join("results")
    }

    /// `lgb sweep` of the three sizes with `extra` arguments.
    fn command(&self, extra: &[&str]) -> Command {
        self.command_at("128,512,1024", extra)
    }

    /// `lgb sweep` of `memory` (`--memory`) with `extra` arguments.
    fn command_at(&self, memory: &str, extra: &[&str]) -> Command {
        let path = |name: &str| self.dir.path().join(name).to_str().unwrap().to_string();
        let (config, outputs, results) =
            (path("sweep.json"), path("outputs.json"), path("results"));
        let mut args = vec![
            "sweep",
            &config,
            "--targets",
            &outputs,
            "--memory",
            memory,
            "--out",
            &results,
        ];
        args.extend_from_slice(extra);
        lgb(&args)
    }

    /// The function is back at 384 MB with the environment it had before.
    fn assert_restored(&self) {
        let (memory, env_after) = self.cp.configuration();
        assert_eq!(memory, 384);
        assert_eq!(env_after, self.env_before);
    }
}

#[test]
fn sweep_runs_each_memory_size_and_restores_the_function() {
    let sweep = Sweep::new("sweep");
    let cp = &sweep.cp;
    let out = sweep.command(&["--p99-max", "10s"]).output().unwrap();
    check(&out, "lgb sweep");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cheapest with p99"), "{stdout}");
    assert!(stdout.contains("restored to 384 MB"), "{stdout}");
    let stats = cp.stats();
    let mut seen: Vec<u64> = stats["sandbox_memory_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    // The load ran on $LATEST as deployed (384 MB); each size on its own version.
    assert_eq!(seen, [128, 384, 512, 1024], "{stats}");
    sweep.assert_restored();

    let run_dir = only_results_dir(&sweep.results());
    let sweep: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("sweep.json")).unwrap())
            .unwrap();
    let points = sweep["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    for (p, mb) in points.iter().zip([128, 512, 1024]) {
        assert_eq!(p["memory_mb"], mb);
        assert_eq!(p["seen_memory_mb"], json!([mb]), "{p}");
        assert!(p["operations"].as_u64().unwrap() > 0, "{p}");
        assert!(p["billed_gb_seconds"].as_f64().unwrap() > 0.0, "{p}");
    }
    let report = lgb(&["report", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    check(&report, "lgb report");
    assert!(String::from_utf8_lossy(&report.stdout).contains("reads@512MB"));
}

#[test]
fn sweep_restores_the_function_after_ctrl_c() {
    let sweep = Sweep::new("sweep-int");
    let cp = &sweep.cp;
    let child = sweep
        .command(&["--set", "tests[0].duration=30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first size is running (its sandboxes started), then Ctrl-C.
    wait_until(
        Duration::from_secs(120),
        Duration::from_millis(100),
        "the sweep never started",
        || {
            cp.stats()["sandbox_memory_sizes"]
                .as_array()
                .is_some_and(|a| a.iter().any(|m| m == 128))
        },
        || cp.log_text(),
    );
    std::thread::sleep(Duration::from_secs(2));
    signal_and_wait(child, "INT", 130);
    sweep.assert_restored();
}

/// 200 workers with `max_in_flight` 10: the control plane never sees more than 10
/// invocations open. Also times `lgb run` to the first measured operation, cold (first
/// run) and warm (second run, same sandboxes).
#[test]
fn two_hundred_workers_never_have_more_than_ten_open() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(256);
    let config = dir.path().join("wide.json");
    std::fs::write(
        &config,
        json!({
            "name": "wide",
            "database": {"type": "memory"},
            "workload": {"records": 100, "load": false},
            "runner": {"workers": 200, "max_in_flight": 10, "target": "lambda", "function": FUNCTION,
                       "options": {"endpoint": cp.endpoint, "region": "us-east-1"}},
            "tests": [{"name": "writes", "operation": {"type": "write"}, "operations": 2000}]
        })
        .to_string(),
    )
    .unwrap();
    for round in ["cold", "warm"] {
        cp.reset();
        let results = dir.path().join(format!("results-{round}"));
        let started_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let out = lgb(&[
            "run",
            config.to_str().unwrap(),
            "--out",
            results.to_str().unwrap(),
            "-q",
        ])
        .output()
        .unwrap();
        check(&out, "lgb run");
        let stats = cp.stats();
        assert_eq!(stats["invocations"], 200, "{stats}");
        // Never more than ten. Cold, sandboxes take long enough that all ten slots fill;
        // warm, an invocation can end before the tenth one starts (9 seen once).
        let max_in_flight = stats["max_in_flight"].as_u64().unwrap();
        assert!(max_in_flight <= 10, "{stats}");
        if round == "cold" {
            assert_eq!(max_in_flight, 10, "{stats}");
        }
        assert_eq!(stats["throttles"], 0, "{stats}");
        let result: Value = serde_json::from_str(
            &std::fs::read_to_string(only_results_dir(&results).join("result.json")).unwrap(),
        )
        .unwrap();
        let test = &result["tests"][0];
        assert_eq!(test["metrics"]["operations"]["write"]["ok"], 2000);
        let first = test["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["start_unix_ms"].as_i64().unwrap())
            .min()
            .unwrap();
        let cold = test["workers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["environment"]["cold_start"] == true)
            .count();
        eprintln!(
            "{round}: lgb run to the first measured operation {} ms; {cold} of 200 workers cold; stats {stats}",
            first - started_ms
        );
    }
}

// ---- Nothing measured is lost on the Lambda path (issue 32) ----

/// The run's directory read back through lgb-core.
fn kept_run(out: &Path) -> (PathBuf, lgb_core::results::RunResult) {
    let dir = only_results_dir(out);
    let run = lgb_core::results::load_run(&dir).unwrap();
    (dir, run)
}

fn names(run: &lgb_core::results::RunResult) -> Vec<&str> {
    run.tests.iter().map(|t| t.name.as_str()).collect()
}

/// A forced cold start that fails before the second test: the load and the first
/// test are kept, the run is marked incomplete with the reason, exit 1.
#[test]
fn a_failed_forced_cold_start_keeps_the_tests_before_it() {
    let moto = dynamodb_service();
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(256);
    let outputs = write_outputs(dir.path(), &cp, &unique("cold-fault"));
    let config = dir.path().join("bench.json");
    std::fs::write(
        &config,
        json!({
            "name": "cold-fault",
            "database": {"type": "dynamodb", "endpoint": moto, "create_table_if_missing": true,
                         "request_timeout": MOTO_TIMEOUT},
            "workload": {"records": 100, "load_batch": 25, "load_concurrency": 1},
            "runner": {"workers": 2, "cold_start": "force", "options": {"endpoint": cp.endpoint}},
            "tests": [
                {"name": "reads", "operation": {"type": "read"}, "operations": 40},
                {"name": "again", "operation": {"type": "read"}, "operations": 40}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let results = dir.path().join("results");
    let out = lgb(&[
        "run",
        config.to_str().unwrap(),
        "--target",
        "lambda",
        "--targets",
        outputs.to_str().unwrap(),
        "--out",
        results.to_str().unwrap(),
    ])
    .env("LGB_TEST_FAULT", "cold-start:again")
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cold-start:again"), "{stderr}");
    let (_, run) = kept_run(&results);
    assert_eq!(names(&run), ["load", "reads"]);
    assert_eq!(run.tests[1].metrics.ok(), 40);
    assert!(run.tests[1]
        .workers
        .iter()
        .all(|w| w.environment.cold_start));
    let incomplete = run.incomplete.expect("marked incomplete");
    assert!(
        incomplete.reason.contains("cold-start:again"),
        "{incomplete:?}"
    );
    assert_eq!(incomplete.not_run, ["again"]);
}

/// A sweep whose second size fails keeps the first, still restores the function,
/// and exits 1; `lgb report` reads what it kept.
#[test]
fn a_sweep_failing_at_one_size_keeps_the_sizes_measured_and_restores() {
    let sweep = Sweep::new("sweep-fault");
    // In place (a Function URL's sweep): sizes one after another on $LATEST.
    let out = sweep
        .command(&["--target", "url"])
        .env("LGB_TEST_FAULT", "sweep-size:512")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("sweep-size:512"), "{stderr}");
    sweep.assert_restored();
    let (dir, run) = kept_run(&sweep.results());
    assert!(names(&run).contains(&"reads@128MB"), "{:?}", names(&run));
    assert!(!names(&run).contains(&"reads@512MB"), "{:?}", names(&run));
    let incomplete = run.incomplete.clone().expect("marked incomplete");
    assert!(
        incomplete.not_run.contains(&"reads@512MB".to_string()),
        "{incomplete:?}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    let sizes: Vec<u64> = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["memory_mb"].as_u64().unwrap())
        .collect();
    assert!(sizes.contains(&128) && !sizes.contains(&512), "{report}");
    check(
        &lgb(&["report", dir.to_str().unwrap()]).output().unwrap(),
        "lgb report",
    );
}

/// A restore that fails after a good sweep: every size is kept, the run says the
/// restore failed, and the message gives the command that restores it by hand.
#[test]
fn a_failed_restore_keeps_every_size_and_names_the_command() {
    let sweep = Sweep::new("restore-fault");
    // In place (a Function URL's sweep): $LATEST is restored after the last size.
    let out = sweep
        .command(&["--target", "url"])
        .env("LGB_TEST_FAULT", "restore")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "restore it by hand: aws lambda update-function-configuration --function-name {FUNCTION} --memory-size 384"
        )),
        "{stderr}"
    );
    let (_, run) = kept_run(&sweep.results());
    for mb in [128, 512, 1024] {
        let t = run
            .tests
            .iter()
            .find(|t| t.name == format!("reads@{mb}MB"))
            .unwrap_or_else(|| panic!("{mb} MB kept: {:?}", names(&run)));
        assert!(t.metrics.ok() > 0);
    }
    let incomplete = run.incomplete.expect("marked");
    assert!(
        incomplete.reason.contains("restoring the function"),
        "{incomplete:?}"
    );
    assert!(incomplete.not_run.is_empty());
    // The fault kept the function as the last size left it.
    assert_eq!(sweep.cp.configuration().0, 1024);
}

/// Ctrl-C with Lambda workers: the finished test is kept, and the running one's
/// workers that answer within the grace (their 4 s test ends about 2 s after the
/// signal) are kept whole; with a 60 s test they are marked cancelled once the grace
/// is over.
///
/// The signal is timed on the control plane's witness (the running test's two
/// invocations open in their sandboxes), not on a guess of how long the runner takes
/// to start them: on a loaded 2-core machine a fixed 1.5 s after the first test ended
/// could come before they were invoked (then nothing ran, 0 operations) or too late
/// for a 3 s test to answer within the grace. The workers' own start times in
/// result.json check that the signal came while they ran, and how much of the test
/// was left.
#[test]
fn ctrl_c_with_lambda_workers_keeps_what_answers_within_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(256);
    for (seconds, answered) in [(4u64, true), (60, false)] {
        cp.reset();
        let config = dir.path().join(format!("grace-{seconds}.json"));
        std::fs::write(
            &config,
            json!({
                "name": "grace",
                "database": {"type": "memory"},
                "workload": {"records": 100, "load": false},
                "runner": {"workers": 2, "target": "lambda", "function": FUNCTION,
                           "options": {"endpoint": cp.endpoint, "region": "us-east-1"}},
                "tests": [
                    {"name": "first", "operation": {"type": "write"}, "operations": 200},
                    {"name": "running", "operation": {"type": "write"}, "duration": format!("{seconds}s")},
                    {"name": "never", "operation": {"type": "write"}, "operations": 10}
                ]
            })
            .to_string(),
        )
        .unwrap();
        let results = dir.path().join(format!("results-{seconds}"));
        let child = lgb(&[
            "run",
            config.to_str().unwrap(),
            "--out",
            results.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        // The first test's 2 invocations ended and the running test's 2 are open.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let s = cp.stats();
            if s["invocations"] == 4 && s["in_flight"] == 2 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the running test never started: {s}\n{}",
                cp.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Half way through the 4 s test: it ends about 2 s after the signal, 3 s
        // before the grace is over (the 60 s test, long after).
        std::thread::sleep(Duration::from_secs(2));
        let signalled_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let signalled = Instant::now();
        assert!(Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let out = child.wait_with_output().unwrap();
        let stop = signalled.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{seconds} s test: lgb ended {stop:.1?} after Ctrl-C");
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        let (_, run) = kept_run(&results);
        assert_eq!(names(&run), ["first", "running"]);
        assert_eq!(run.tests[0].metrics.ok(), 200);
        let running = &run.tests[1];
        let incomplete = run.incomplete.clone().expect("marked incomplete");
        assert!(incomplete.reason.contains("SIGINT"), "{incomplete:?}");
        assert_eq!(incomplete.not_run, ["never"]);
        let statuses: Vec<Value> = running
            .workers
            .iter()
            .map(|w| serde_json::to_value(w.status).unwrap())
            .collect();
        assert_eq!(
            cp.stats()["invocations"],
            4,
            "only first and running were invoked"
        );
        if answered {
            // Each worker was measuring when the signal came, with less of its 4 s test
            // left than the grace: what this case is about.
            for w in &running.workers {
                let left_ms = w.start_unix_ms + 4_000 - signalled_ms;
                eprintln!(
                    "worker {}: {left_ms} ms of its test left at the signal",
                    w.index
                );
                assert!(
                    left_ms > 0 && w.start_unix_ms < signalled_ms,
                    "worker {} did not run across the signal ({left_ms} ms left): {stderr}",
                    w.index
                );
            }
            assert_eq!(statuses, ["completed", "completed"], "{stderr}");
            assert!(running.metrics.ok() > 0);
            assert!(stop < lgb_core::runner::REMOTE_STOP_GRACE, "{stop:?}");
        } else {
            assert_eq!(statuses, ["cancelled", "cancelled"], "{stderr}");
            assert_eq!(running.metrics.ok(), 0);
            assert!(
                stop >= lgb_core::runner::REMOTE_STOP_GRACE
                    && stop < lgb_core::runner::REMOTE_STOP_GRACE + Duration::from_secs(5),
                "waited the grace, no more: {stop:?}"
            );
        }
    }
}

// ---- Preflight and the sweep through versions and aliases (issue 28) ----

impl ControlPlane {
    /// A control plane with account settings `account` (`account_concurrency`,
    /// `memory_cap_mb`) and `function` merged into `FUNCTION`'s settings.
    fn start_with(memory_mb: u32, account: Value, function: Value) -> ControlPlane {
        let mut f = json!({
            "bootstrap": bootstrap(),
            "memory_size": memory_mb,
            "timeout": 120,
            "environment": {"RUST_LOG": "info", "KEEP_ME": "yes"},
        });
        for (k, v) in function.as_object().unwrap() {
            f[k] = v.clone();
        }
        let mut config = json!({"update_delay_ms": 100, "functions": {FUNCTION: f}});
        for (k, v) in account.as_object().unwrap() {
            config[k] = v.clone();
        }
        ControlPlane(lgb_testkit::control_plane::ControlPlane::start(
            &config,
            &aws_env(),
        ))
    }

    /// No version and no alias left, `$LATEST` at `memory_mb` with its environment
    /// as deployed (no nonce), and `$LATEST` never changed while an invocation ran.
    fn assert_clean(&self, memory_mb: u32) {
        let s = self.stats();
        assert_eq!(s["versions"], json!([]), "versions left: {s}");
        assert_eq!(s["aliases"], json!({}), "aliases left: {s}");
        assert_eq!(s["updates_while_invoking"], 0, "{s}");
        let (memory, env) = self.configuration();
        assert_eq!(memory, memory_mb);
        assert_eq!(
            Value::Object(env),
            json!({"RUST_LOG": "info", "KEEP_ME": "yes"}),
            "the environment is as deployed"
        );
    }
}

/// infra/README.md's `dynamodb-aws.json`, with what only a local run adds (moto's
/// endpoint, creating the table, the control plane's endpoint, shorter tests).
fn write_dynamodb_aws(dir: &Path, cp: &ControlPlane, workers: u32, extra_test: Value) -> PathBuf {
    let path = dir.join("dynamodb-aws.json");
    let mut tests = vec![
        json!({"name": "ycsb-a", "preset": "ycsb-a", "concurrency": 2, "warmup": "0s", "duration": "2s"}),
    ];
    if !extra_test.is_null() {
        tests.push(extra_test);
    }
    std::fs::write(
        &path,
        json!({
            "name": "dynamodb-aws",
            "database": {"type": "dynamodb", "retry": {"max_attempts": 3},
                         "endpoint": dynamodb_service(), "create_table_if_missing": true,
                         "request_timeout": MOTO_TIMEOUT},
            "workload": {"records": 200, "fields": 10, "field_size": "100B", "load_batch": 25},
            "runner": {"workers": workers, "options": {"endpoint": cp.endpoint}},
            "tests": tests
        })
        .to_string(),
    )
    .unwrap();
    path
}

/// The command infra/README.md documents, as written (the config names no target:
/// `--targets` means Lambda): four sizes measured side by side on published versions,
/// nothing left behind, `$LATEST` untouched while measuring.
#[test]
fn the_documented_sweep_command_runs_four_sizes_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(384, json!({}), json!({}));
    write_outputs(dir.path(), &cp, &unique("documented"));
    write_dynamodb_aws(dir.path(), &cp, 2, Value::Null);
    let readme = std::fs::read_to_string(repo_root().join("infra/README.md")).unwrap();
    let documented = "lgb sweep dynamodb-aws.json --targets outputs.json --memory\n128,512,1024,1769 --p99-max 20ms";
    assert!(
        readme.contains(documented),
        "infra/README.md no longer shows the command"
    );
    let out = lgb(&[
        "sweep",
        "dynamodb-aws.json",
        "--targets",
        "outputs.json",
        "--memory",
        "128,512,1024,1769",
        "--p99-max",
        "20ms",
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    check(&out, "the documented lgb sweep");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stderr.contains("runner.target = \"lambda\""), "{stderr}");
    assert!(
        stderr.contains("plan:")
            && stderr.contains("sweep: 128 MB, 512 MB, 1024 MB, 1769 MB (4 at once)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("recommended (cost with p99 ≤ 20.0ms"),
        "{stdout}"
    );
    let s = cp.stats();
    assert_eq!(
        s["max_versions_in_flight"], 4,
        "the sizes ran one after another: {s}"
    );
    assert_eq!(s["versions_published"], 4, "{s}");
    assert_eq!(s["aliases_created"], 4, "{s}");
    cp.assert_clean(384);
    let run_dir = only_results_dir(&dir.path().join("results"));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("sweep.json")).unwrap())
            .unwrap();
    assert_eq!(report["through_aliases"], true);
    assert_eq!(report["sizes_at_once"], 4);
    for (p, mb) in report["points"]
        .as_array()
        .unwrap()
        .iter()
        .zip([128, 512, 1024, 1769])
    {
        assert_eq!(p["memory_mb"], mb);
        assert_eq!(p["seen_memory_mb"], json!([mb]), "{p}");
        assert!(p["operations"].as_u64().unwrap() > 0, "{p}");
        // Each size starts in new sandboxes of its version (the load ran on $LATEST).
        assert_eq!(p["cold"]["workers"], 2, "{p}");
    }
}

/// A sweep stopped by Ctrl-C while its sizes run deletes its versions and aliases
/// and leaves `$LATEST` as it was.
#[test]
fn a_sweep_stopped_by_ctrl_c_leaves_no_version_or_alias() {
    let sweep = Sweep::new("sweep-int-clean");
    let cp = &sweep.cp;
    let child = sweep
        .command(&["--set", "tests[0].duration=30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(120),
        Duration::from_millis(100),
        "the sizes never ran",
        || {
            cp.stats()["in_flight"].as_u64().unwrap_or(0) >= 2
                && cp.stats()["sandbox_memory_sizes"]
                    .as_array()
                    .map_or(0, |a| a.len())
                    >= 3
        },
        || cp.log_text(),
    );
    signal_and_wait(child, "INT", 130);
    let s = cp.stats();
    assert_eq!(s["versions"], json!([]), "{s}");
    assert_eq!(s["aliases"], json!({}), "{s}");
    sweep.assert_restored();
}

/// Each worker of a sweep's result that ran at `mb` MB (tests `<test>@<mb>MB`), as
/// `(test, cold_start)`.
fn workers_at(run_dir: &Path, mb: u32) -> Vec<(String, bool)> {
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("result.json")).unwrap())
            .unwrap();
    let mut out = Vec::new();
    for t in result["tests"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        if !name.ends_with(&format!("@{mb}MB")) {
            continue;
        }
        for w in t["workers"].as_array().unwrap() {
            assert_eq!(w["status"], "completed", "{w}");
            assert_eq!(w["environment"]["memory_mb"], mb, "{w}");
            let cold = w["environment"]["cold_start"].as_bool().unwrap();
            out.push((name.split('@').next().unwrap().to_string(), cold));
        }
    }
    out
}

/// How many sandboxes of `mb` MB the control plane started (one per cold start).
fn cold_starts_at(cp: &ControlPlane, mb: u64) -> usize {
    cp.stats()["sandbox_memory_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.as_u64() == Some(mb))
        .count()
}

/// `--only-cold-starts` with two tests per size, each in two waves (2 workers, one in
/// flight): every measured worker starts in a new sandbox (a version per wave, counted
/// in the plan), the table and sweep.json say 4 of 4 cold, and the versions are gone
/// afterwards, also after Ctrl-C. Without the flag the same sweep reuses sandboxes:
/// the second test's workers are warm.
#[test]
fn only_cold_starts_runs_every_wave_of_every_test_in_new_sandboxes() {
    let sweep = Sweep::new("only-cold");
    let cp = &sweep.cp;
    let config = sweep.dir.path().join("sweep.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    doc["runner"]["max_in_flight"] = json!(1);
    doc["tests"] = json!([
        {"name": "reads", "operation": {"type": "read"}, "duration": "1s"},
        {"name": "again", "operation": {"type": "read"}, "duration": "1s"}
    ]);
    std::fs::write(&config, doc.to_string()).unwrap();
    let sizes = "128,512";

    cp.reset();
    let out = sweep
        .command_at(sizes, &["--only-cold-starts"])
        .output()
        .unwrap();
    check(&out, "lgb sweep --only-cold-starts");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stderr.contains("versions published: 8 (4 per size: one for every wave of every test"),
        "{stderr}"
    );
    assert!(stdout.contains("cold starts only"), "{stdout}");
    let s = cp.stats();
    assert_eq!(s["versions_published"], 8, "{s}");
    assert_eq!(s["aliases_created"], 2, "{s}");
    cp.assert_clean(384);
    let run_dir = only_results_dir(&sweep.results());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("sweep.json")).unwrap())
            .unwrap();
    assert_eq!(report["only_cold_starts"], true);
    for mb in [128, 512] {
        let workers = workers_at(&run_dir, mb);
        assert_eq!(workers.len(), 4, "{workers:?}");
        assert!(
            workers.iter().all(|(_, cold)| *cold),
            "{mb} MB: {workers:?}"
        );
        // The control plane's own count: a new sandbox for each of the 4 workers.
        assert_eq!(cold_starts_at(cp, u64::from(mb)), 4, "{}", cp.stats());
        let p = report["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["memory_mb"] == mb)
            .unwrap();
        assert_eq!(
            (&p["workers"], &p["cold_workers"]),
            (&json!(4), &json!(4)),
            "{p}"
        );
        assert_eq!(p["cold"]["workers"], 4, "{p}");
        assert!(p.get("warm").is_none(), "{p}");
    }
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("│ 128 MB") || l.starts_with("│ 512 MB"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows.iter().all(|r| r.contains("4 of 4")), "{stdout}");

    // Without the flag: one version per size, and the sandboxes are reused.
    std::fs::remove_dir_all(sweep.results()).unwrap();
    cp.reset();
    let out = sweep.command_at(sizes, &[]).output().unwrap();
    check(&out, "lgb sweep");
    assert_eq!(cp.stats()["versions_published"], 2);
    cp.assert_clean(384);
    let run_dir = only_results_dir(&sweep.results());
    for mb in [128, 512] {
        let workers = workers_at(&run_dir, mb);
        let again: Vec<bool> = workers
            .iter()
            .filter(|(t, _)| t == "again")
            .map(|(_, c)| *c)
            .collect();
        assert_eq!(again, [false, false], "{mb} MB: {workers:?}");
        assert_eq!(cold_starts_at(cp, u64::from(mb)), 1, "{}", cp.stats());
    }

    // Ctrl-C while the cold waves run: every version and alias is deleted.
    std::fs::remove_dir_all(sweep.results()).unwrap();
    cp.reset();
    let child = sweep
        .command_at(
            sizes,
            &["--only-cold-starts", "--set", "tests[0].duration=30s"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(120),
        Duration::from_millis(100),
        "the sizes never ran",
        || {
            cp.stats()["versions_published"].as_u64().unwrap_or(0) >= 8
                && cp.stats()["max_versions_in_flight"].as_u64().unwrap_or(0) >= 2
        },
        || cp.log_text(),
    );
    signal_and_wait(child, "INT", 130);
    let s = cp.stats();
    assert_eq!(s["versions_deleted"], 8, "{s}");
    cp.assert_clean(384);
}

/// In place (a Function URL's sweep, `$LATEST` size after size), `--only-cold-starts`
/// retires the sandboxes before every wave with the environment nonce: every worker
/// of both tests is cold, and the environment is as deployed afterwards.
#[test]
fn only_cold_starts_in_place_use_the_nonce_and_restore_the_environment() {
    let sweep = Sweep::new("only-cold-url");
    let cp = &sweep.cp;
    let config = sweep.dir.path().join("sweep.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    doc["tests"] = json!([
        {"name": "reads", "operation": {"type": "read"}, "duration": "1s"},
        {"name": "again", "operation": {"type": "read"}, "duration": "1s"}
    ]);
    std::fs::write(&config, doc.to_string()).unwrap();
    cp.reset();
    let out = sweep
        .command_at("128,512", &["--target", "url", "--only-cold-starts"])
        .output()
        .unwrap();
    check(&out, "lgb sweep --target url --only-cold-starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cold starts only: a new environment nonce on $LATEST before every wave"),
        "{stderr}"
    );
    let run_dir = only_results_dir(&sweep.results());
    for mb in [128, 512] {
        let workers = workers_at(&run_dir, mb);
        assert_eq!(workers.len(), 4, "{workers:?}");
        assert!(
            workers.iter().all(|(_, cold)| *cold),
            "{mb} MB: {workers:?}"
        );
    }
    // 512 MB ran no load: a sandbox for each of its 4 workers.
    assert_eq!(cold_starts_at(cp, 512), 4, "{}", cp.stats());
    assert_eq!(cp.stats()["versions_published"], 0);
    sweep.assert_restored();
}

/// A database that lives in the worker has no records in a new sandbox: measuring
/// only cold starts with it loaded is refused before anything runs.
#[test]
fn only_cold_starts_refuse_a_database_in_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(256, json!({}), json!({}));
    let config = dir.path().join("memory.json");
    std::fs::write(
        &config,
        json!({
            "name": "only-cold-memory",
            "database": {"type": "memory"},
            "workload": {"records": 100},
            "runner": {"workers": 2, "target": "lambda", "function": FUNCTION,
                       "options": {"endpoint": cp.endpoint, "region": "us-east-1"}},
            "tests": [{"name": "reads", "operation": {"type": "read"}, "duration": "1s"}]
        })
        .to_string(),
    )
    .unwrap();
    let out = lgb(&[
        "sweep",
        config.to_str().unwrap(),
        "--memory",
        "128,512",
        "--only-cold-starts",
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--only-cold-starts: the `memory` database lives in the worker's sandbox"),
        "{stderr}"
    );
    let s = cp.stats();
    assert_eq!(
        (s["invocations"].as_u64(), s["updates"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
}

/// More workers than the account can run at once: refused by `lgb validate
/// --targets` and by `lgb run` before any invocation, naming the number to set.
#[test]
fn more_workers_than_the_account_allows_are_refused_before_any_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(256, json!({"account_concurrency": 8}), json!({}));
    let outputs = write_outputs(dir.path(), &cp, &unique("quota"));
    let config = write_dynamodb_aws(dir.path(), &cp, 12, Value::Null);
    for cmd in ["validate", "run"] {
        let out = lgb(&[
            cmd,
            config.to_str().unwrap(),
            "--targets",
            outputs.to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {stderr}");
        assert!(
            stderr.contains("runner.max_in_flight: 12 invocations would be open at once, but the account allows 8 at once and leaves 8 unreserved: set runner.max_in_flight to 8 or less"),
            "{cmd}: {stderr}"
        );
    }
    let s = cp.stats();
    assert_eq!(
        (s["invocations"].as_u64(), s["updates"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
    // Within the quota, validate prints the plan it checked.
    let out = lgb(&[
        "validate",
        config.to_str().unwrap(),
        "--targets",
        outputs.to_str().unwrap(),
        "--set",
        "runner.max_in_flight=8",
    ])
    .output()
    .unwrap();
    check(&out, "lgb validate --targets");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("concurrency: account 8, unreserved 8"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ycsb-a: 2 s per worker, 12 workers in 2 waves (8 at once)"),
        "{stdout}"
    );
    assert_eq!(cp.stats()["invocations"], 0);
}

/// A test longer than the function's timeout is refused before anything runs; so is
/// a sweep size above the account's memory cap, which also leaves nothing behind.
#[test]
fn a_test_over_the_timeout_and_sizes_over_the_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(384, json!({"memory_cap_mb": 3008}), json!({"timeout": 30}));
    let outputs = write_outputs(dir.path(), &cp, &unique("limits"));
    let long =
        json!({"name": "long", "operation": {"type": "read"}, "warmup": "5s", "duration": "40s"});
    let config = write_dynamodb_aws(dir.path(), &cp, 2, long);
    let out = lgb(&[
        "run",
        config.to_str().unwrap(),
        "--targets",
        outputs.to_str().unwrap(),
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tests[1].duration: warmup and duration (45 s) plus 5 s of overhead exceed the function's timeout of 30 s")
            && stderr.contains("raise the timeout to at least 50 s"),
        "{stderr}"
    );
    assert_eq!(cp.stats()["invocations"], 0);

    let config = write_dynamodb_aws(dir.path(), &cp, 2, Value::Null);
    let out = lgb(&[
        "sweep",
        config.to_str().unwrap(),
        "--targets",
        outputs.to_str().unwrap(),
        "--memory",
        "128,4096",
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--memory: 4096 MB is more than this account allows (3008 MB"),
        "{stderr}"
    );
    assert_eq!(cp.stats()["invocations"], 0);
    cp.assert_clean(384);
}

/// `--apply latest` leaves `$LATEST` at the recommended size; `--apply ALIAS` points
/// the alias at the version of that size and deletes the others.
#[test]
fn apply_sets_the_recommended_size() {
    let sweep = Sweep::new("apply");
    let out = sweep
        .command(&["--strategy", "speed", "--apply", "latest", "--sequential"])
        .output()
        .unwrap();
    check(&out, "lgb sweep --apply latest");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(only_results_dir(&sweep.results()).join("sweep.json")).unwrap(),
    )
    .unwrap();
    let chosen = report["recommended"].as_u64().expect("a recommendation") as u32;
    assert_eq!(report["applied"], "$LATEST");
    assert_eq!(report["sizes_at_once"], 1);
    assert_eq!(sweep.cp.stats()["max_versions_in_flight"], 1);
    assert_eq!(sweep.cp.configuration().0, chosen);

    let first = only_results_dir(&sweep.results());
    let out = sweep.command(&["--apply", "live"]).output().unwrap();
    check(&out, "lgb sweep --apply live");
    let second = std::fs::read_dir(sweep.results())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| *p != first)
        .expect("the second sweep's directory");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(second.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(report["applied"], "live");
    let chosen = report["recommended"].as_u64().unwrap();
    let s = sweep.cp.stats();
    let version = s["aliases"]["live"]
        .as_str()
        .expect("alias live")
        .to_string();
    assert_eq!(
        s["versions"],
        json!([version.clone()]),
        "only the applied version is kept: {s}"
    );
    let point = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["memory_mb"] == chosen)
        .unwrap();
    assert_eq!(point["version"], version.as_str());
}

/// A run above the confirmation threshold asks for --yes before anything is paid.
#[test]
fn an_estimate_above_the_threshold_needs_yes() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(256, json!({}), json!({}));
    let outputs = write_outputs(dir.path(), &cp, &unique("guard"));
    let config = write_dynamodb_aws(dir.path(), &cp, 2, Value::Null);
    let args = |extra: &[&str]| {
        let mut a = vec![
            "run",
            config.to_str().unwrap(),
            "--targets",
            outputs.to_str().unwrap(),
            "--confirm-above",
            "0.000001",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let out = lgb(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--yes: the estimated cost $"), "{stderr}");
    assert_eq!(cp.stats()["invocations"], 0);
    let out = lgb(&args(&["--yes"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>())
    .current_dir(dir.path())
    .output()
    .unwrap();
    check(&out, "lgb run --yes");
}

/// The sweep figure of docs/lambda.md: its command, as written, in a folder holding
/// its `sweep-local.json` (the control plane's function and moto).
#[test]
fn the_sweep_figure_command_of_the_docs_runs() {
    let doc = std::fs::read_to_string(repo_root().join("docs/lambda.md")).unwrap();
    let command = "lgb sweep sweep-local.json --memory 128,512,1024,1769 --p99-max 300ms";
    assert!(doc.contains(command), "docs/lambda.md no longer shows it");
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(1024, json!({}), json!({}));
    std::fs::write(
        dir.path().join("sweep-local.json"),
        json!({
            "name": "sweep-local",
            "database": {"type": "dynamodb", "table": unique("figure"), "region": "us-east-1",
                         "endpoint": dynamodb_service(), "create_table_if_missing": true,
                         "request_timeout": MOTO_TIMEOUT},
            "workload": {"records": 1000, "fields": 10, "field_size": "100B", "load_batch": 25},
            "runner": {"target": "lambda", "function": FUNCTION, "workers": 4,
                       "options": {"endpoint": cp.endpoint, "region": "us-east-1"}},
            "tests": [{"name": "reads", "operation": {"type": "read"}, "concurrency": 2, "duration": "5s"}]
        })
        .to_string(),
    )
    .unwrap();
    let args: Vec<&str> = command.split(' ').skip(1).collect();
    let out = lgb(&args).current_dir(dir.path()).output().unwrap();
    check(&out, command);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("recommended (cost with p99 ≤ 300ms)"),
        "{stdout}"
    );
    assert_eq!(cp.stats()["max_versions_in_flight"], 4);
    cp.assert_clean(1024);
}

/// Forced cold starts stopped by Ctrl-C: the nonce is still taken out of the
/// function's environment before `lgb run` exits.
#[test]
fn ctrl_c_during_forced_cold_starts_leaves_no_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start_with(256, json!({}), json!({}));
    let outputs = write_outputs(dir.path(), &cp, &unique("nonce-int"));
    let config = dir.path().join("cold.json");
    std::fs::write(
        &config,
        json!({
            "name": "cold-int",
            "database": {"type": "dynamodb", "endpoint": dynamodb_service(), "create_table_if_missing": true,
                         "request_timeout": MOTO_TIMEOUT},
            "workload": {"records": 100, "load_batch": 25, "load_concurrency": 1},
            "runner": {"workers": 2, "cold_start": "force", "options": {"endpoint": cp.endpoint}},
            "tests": [{"name": "reads", "operation": {"type": "read"}, "duration": "30s"}]
        })
        .to_string(),
    )
    .unwrap();
    let child = lgb(&[
        "run",
        config.to_str().unwrap(),
        "--targets",
        outputs.to_str().unwrap(),
        "--out",
        dir.path().join("results").to_str().unwrap(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // The reads' wave runs with its nonce set.
    wait_until(
        Duration::from_secs(120),
        Duration::from_millis(100),
        "the reads never ran",
        || {
            cp.stats()["environment"]
                .get("LGB_COLD_START_NONCE")
                .is_some()
                && cp.stats()["in_flight"].as_u64().unwrap_or(0) > 0
                && cp.stats()["invocations"].as_u64().unwrap_or(0) > 2
        },
        || cp.log_text(),
    );
    signal_and_wait(child, "INT", 130);
    // The invocations cut off by the stop still run in their sandboxes; the
    // environment is already as deployed.
    let (_, env) = cp.configuration();
    assert_eq!(
        Value::Object(env),
        json!({"RUST_LOG": "info", "KEEP_ME": "yes"})
    );
}

/// With a customer managed key on the environment that the caller may not use,
/// forced cold starts are refused before anything runs, naming the KMS rights.
#[test]
fn forced_cold_starts_on_an_unreadable_environment_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let cp = ControlPlane::start_with(
        256,
        json!({}),
        json!({"kms_key_arn": key, "kms_access": "denied"}),
    );
    let outputs = write_outputs(dir.path(), &cp, &unique("kms"));
    let config = write_config(dir.path(), &cp, &dynamodb_service(), 2);
    let out = lgb(&[
        "run",
        config.to_str().unwrap(),
        "--target",
        "lambda",
        "--targets",
        outputs.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("runner.cold_start")
            && stderr.contains(key)
            && stderr.contains("kms:Decrypt and kms:Encrypt"),
        "{stderr}"
    );
    let s = cp.stats();
    assert_eq!(
        (s["invocations"].as_u64(), s["updates"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
}

// ------------------------------------------------------------ influxdb worker ---

/// An `influxdb` worker (the real bootstrap, pinned to its deployment like infra/'s)
/// under the local Lambda control plane writes the time-series workload into the local
/// InfluxDB and queries it; every point it reports written is there afterwards.
#[test]
fn an_influxdb_worker_runs_under_the_local_control_plane() {
    let influx = lgb_testkit::services::influxdb_endpoint();
    let database = unique("lambda_influx").replace('-', "_");
    let pinned = json!({"type": "influxdb", "endpoint": influx, "api": "v1", "database": database});
    let cp = ControlPlane(lgb_testkit::control_plane::ControlPlane::start(
        &json!({"functions": {"lgb-influxdb": {
            "bootstrap": bootstrap(), "memory_size": 512, "timeout": 120,
            "environment": {"RUST_LOG": "info", "LGB_DEPLOYMENT": pinned.to_string()},
        }}}),
        &aws_env(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("influxdb.json");
    let bench = |db: &Value| {
        json!({
            "name": "lambda-influxdb",
            "database": db,
            "workload": {"records": 50, "key_prefix": "host_", "load": false},
            "runner": {"target": "lambda", "function": "lgb-influxdb", "workers": 2,
                       "options": {"endpoint": cp.endpoint, "region": "us-east-1"}},
            "tests": [
                {"name": "ingest", "operation": {"type": "timeseries_write", "metrics": 10, "batch": 100, "steps": 10},
                 "concurrency": 1, "duration": "60s"},
                {"name": "latest", "operation": {"type": "query", "kind": "latest", "limit": 1},
                 "operations": 20, "concurrency": 1}
            ]
        })
    };
    let mut db = pinned.clone();
    db["measurement"] = json!("cpu");
    db["key_tag"] = json!("hostname");
    db["create_database_if_missing"] = json!(true);
    std::fs::write(&config, bench(&db).to_string()).unwrap();
    let results = dir.path().join("results");
    let out = lgb(&[
        "run",
        config.to_str().unwrap(),
        "--out",
        results.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    check(&out, "lgb run (influxdb worker)");
    let run_dir = only_results_dir(&results);
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("result.json")).unwrap())
            .unwrap();
    for t in result["tests"].as_array().unwrap() {
        for w in t["workers"].as_array().unwrap() {
            assert_eq!(w["status"], "completed", "{w}");
            assert_eq!(
                w["environment"]["memory_mb"], 512,
                "ran on the control plane: {w}"
            );
        }
    }
    let ingest = &result["tests"][0]["metrics"]["operations"]["timeseries_write"];
    assert_eq!(ingest["failed"], 0, "{ingest}");
    assert_eq!(
        ingest["meta"]["items"], 500,
        "50 hosts x 10 steps: {ingest}"
    );
    let queries: u64 = result["tests"][1]["metrics"]["operations"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m["ok"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        queries, 20,
        "{}",
        result["tests"][1]["metrics"]["operations"]
    );
    // load is off: 2 workers for each of the 2 tests.
    let stats = cp.0.stats("lgb-influxdb");
    assert_eq!(stats["invocations"], 4, "{stats}");

    // Read back through InfluxDB itself: every point reported written is there.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let counted = rt.block_on(async {
        use lgb_core::database::Database;
        let o: lgb_core::database::influxdb::InfluxdbOptions =
            serde_json::from_value(json!({"endpoint": influx, "database": database})).unwrap();
        let db = lgb_core::database::influxdb::InfluxdbDatabase::connect(o)
            .await
            .unwrap();
        let q = lgb_core::record::Query::Native {
            statement: "SELECT count(\"usage_user\") FROM \"cpu\"".into(),
        };
        db.query(&q).await.unwrap().records[0]
            .field("count")
            .cloned()
    });
    assert_eq!(counted, Some(lgb_core::record::Value::Int(500)));

    // The pinned worker refuses another database before it connects anywhere.
    let mut other = db.clone();
    other["database"] = json!("not_the_deployed_one");
    std::fs::write(&config, bench(&other).to_string()).unwrap();
    let out = lgb(&[
        "run",
        config.to_str().unwrap(),
        "--out",
        results.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!out.status.success(), "a request for another database ran");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("database"), "{text}");
}
