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

use lgb_testkit::outputs_tf;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

const FUNCTION: &str = "lgb-dynamodb";

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
            let control = lgb_core::runner::lambda::LambdaFunction::from_config(&runner)
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
/// endpoint, creating the table); the rest comes from the outputs.
fn write_config(dir: &Path, cp: &ControlPlane, moto: &str, workers: u32) -> PathBuf {
    let path = dir.join("bench.json");
    std::fs::write(
        &path,
        json!({
            "name": "lambda-path",
            "database": {"type": "dynamodb", "endpoint": moto, "create_table_if_missing": true},
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
    // The nonce changed the environment; everything else in it was kept.
    let (_, env_after) = cp.configuration();
    assert_eq!(env_after["KEEP_ME"], "yes");
    assert_eq!(env_after["RUST_LOG"], env_before["RUST_LOG"]);
    assert!(env_after.contains_key("LGB_COLD_START_NONCE"));

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
                "database": {"type": "dynamodb", "endpoint": moto, "create_table_if_missing": true},
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
        let path = |name: &str| self.dir.path().join(name).to_str().unwrap().to_string();
        let (config, outputs, results) =
            (path("sweep.json"), path("outputs.json"), path("results"));
        let mut args = vec![
            "sweep",
            &config,
            "--targets",
            &outputs,
            "--memory",
            "128,512,1024",
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
    assert_eq!(seen, [128, 512, 1024], "{stats}");
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
    let deadline = Instant::now() + Duration::from_secs(120);
    while cp.stats()["sandbox_memory_sizes"]
        .as_array()
        .is_none_or(|a| !a.iter().any(|m| m == 128))
    {
        assert!(
            Instant::now() < deadline,
            "the sweep never started: {}",
            cp.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
