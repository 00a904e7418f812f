//! `lgb validate` checks every adapter's and every target's options beyond their
//! schema, names the JSON path of a bad one, exits 2, and connects to nothing.
//!
//! Each config points its endpoint (or address) at a listener of this test that
//! never answers: a connection attempt would sit in its accept queue, where the test
//! looks after `validate` returned. The same config with the one bad option fixed
//! must validate (exit 0), also without a connection, so the refusal is the option's.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long `lgb validate` may take: it parses and checks, nothing more (an attempt
/// to reach the listener would wait for an answer that never comes).
const QUICK: Duration = Duration::from_secs(1);

/// A TCP listener that records connection attempts and never answers.
struct Silent {
    listener: TcpListener,
}

impl Silent {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Self { listener }
    }

    /// `127.0.0.1:PORT`.
    fn addr(&self) -> String {
        self.listener.local_addr().unwrap().to_string()
    }

    fn assert_untouched(&self, what: &str) {
        match self.listener.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Ok((_, peer)) => panic!("{what}: validate connected to the endpoint (from {peer})"),
            Err(e) => panic!("{what}: accept failed: {e}"),
        }
    }
}

/// Runs `lgb validate` on `config` and returns (exit code, stderr, elapsed).
fn validate(config: &serde_json::Value) -> (Option<i32>, String, Duration) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bench.json");
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lgb"))
        .arg("validate")
        .arg(&path)
        // No AWS settings reach the checks: validation must not need them.
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
    )
}

fn config(database: serde_json::Value, runner: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "database": database,
        "runner": runner,
        "tests": [{"name": "reads", "operation": {"type": "read"}, "duration": "1s"}],
    })
}

/// `bad` exits 2 naming `path` (and `message`), `good` exits 0; neither touches
/// `endpoint` nor takes long.
fn refuses(
    what: &str,
    bad: serde_json::Value,
    good: serde_json::Value,
    path: &str,
    message: &str,
    endpoint: &Silent,
) {
    let (code, err, elapsed) = validate(&bad);
    assert_eq!(code, Some(2), "{what}: {err}");
    assert!(
        err.contains(&format!("{path}: ")),
        "{what}: `{path}` not named in: {err}"
    );
    assert!(err.contains(message), "{what}: `{message}` not in: {err}");
    assert!(elapsed < QUICK, "{what}: validate took {elapsed:?}");
    endpoint.assert_untouched(what);

    let (code, err, elapsed) = validate(&good);
    assert_eq!(code, Some(0), "{what} (fixed): {err}");
    assert!(elapsed < QUICK, "{what} (fixed): validate took {elapsed:?}");
    endpoint.assert_untouched(what);
}

#[test]
fn memory_options_are_checked() {
    let none = Silent::new();
    refuses(
        "memory",
        config(
            serde_json::json!({"type": "memory", "max_batch_size": 0}),
            serde_json::json!({}),
        ),
        config(
            serde_json::json!({"type": "memory", "max_batch_size": 1}),
            serde_json::json!({}),
        ),
        "database.max_batch_size",
        "must be at least 1",
        &none,
    );
}

#[cfg(feature = "dynamodb")]
#[test]
fn dynamodb_options_are_checked_without_connecting() {
    let server = Silent::new();
    let db = |separator: &str| {
        serde_json::json!({
            "type": "dynamodb", "table": "lgb-bench", "endpoint": format!("http://{}", server.addr()),
            "create_table_if_missing": true, "sort_key": {"name": "ts", "type": "N"},
            "key_separator": separator,
        })
    };
    refuses(
        "dynamodb",
        config(db(""), serde_json::json!({})),
        config(db("#"), serde_json::json!({})),
        "database.key_separator",
        "must not be empty",
        &server,
    );
}

#[cfg(feature = "immudb")]
#[test]
fn immudb_options_are_checked_without_connecting() {
    let server = Silent::new();
    let db = |address: &str| serde_json::json!({"type": "immudb", "address": address, "password_env": "LGB_SECRET_IMMUDB_PASSWORD"});
    // A host without a port is refused where `connect` would have refused it.
    refuses(
        "immudb",
        config(db("127.0.0.1"), serde_json::json!({})),
        config(db(&server.addr()), serde_json::json!({})),
        "database.address",
        "names no port",
        &server,
    );
}

#[cfg(feature = "timestream")]
#[test]
fn timestream_options_are_checked_without_connecting() {
    let server = Silent::new();
    let db = |table: &str| {
        serde_json::json!({
            "type": "timestream", "database": "lgb", "table": table,
            "endpoint": format!("http://{}", server.addr()), "create_if_missing": true,
        })
    };
    refuses(
        "timestream",
        config(db("t"), serde_json::json!({})),
        config(db("cpu"), serde_json::json!({})),
        "database.table",
        "Timestream names are 3 to 256 characters",
        &server,
    );
}

#[test]
fn lambda_target_options_are_checked_without_connecting() {
    let server = Silent::new();
    let endpoint = format!("http://{}", server.addr());
    let memory = serde_json::json!({"type": "memory"});
    refuses(
        "lambda without a function",
        config(
            memory.clone(),
            serde_json::json!({"target": "lambda", "options": {"endpoint": endpoint, "region": "eu-west-1"}}),
        ),
        config(
            memory.clone(),
            serde_json::json!({"target": "lambda", "function": "lgb-worker", "options": {"endpoint": endpoint, "region": "eu-west-1"}}),
        ),
        "runner.function",
        "target `lambda` needs the function's name or ARN",
        &server,
    );
    refuses(
        "lambda with an endpoint without a scheme",
        config(
            memory.clone(),
            serde_json::json!({"target": "lambda", "function": "lgb-worker", "options": {"endpoint": server.addr()}}),
        ),
        config(
            memory,
            serde_json::json!({"target": "lambda", "function": "lgb-worker", "options": {"endpoint": endpoint, "qualifier": 3}}),
        ),
        "runner.options.endpoint",
        "is not an http:// or https:// URL",
        &server,
    );
}

#[test]
fn url_target_options_are_checked_without_connecting() {
    let server = Silent::new();
    let url = format!("http://{}/", server.addr());
    let memory = serde_json::json!({"type": "memory"});
    refuses(
        "url that is not http(s)",
        config(
            memory.clone(),
            serde_json::json!({"target": "url", "url": format!("ftp://{}/", server.addr()), "options": {"auth": "NONE"}}),
        ),
        config(
            memory.clone(),
            serde_json::json!({"target": "url", "url": url, "options": {"auth": "NONE"}}),
        ),
        "runner.url",
        "is not an http:// or https:// URL",
        &server,
    );
    refuses(
        "url with an unknown auth type",
        config(
            memory.clone(),
            serde_json::json!({"target": "url", "url": url, "options": {"auth": "basic"}}),
        ),
        config(
            memory,
            serde_json::json!({"target": "url", "url": url, "options": {"auth": "AWS_IAM", "region": "eu-west-1"}}),
        ),
        "runner.options.auth",
        "is not a Function URL auth type",
        &server,
    );
}

#[test]
fn a_duration_that_would_overflow_exits_2_naming_it() {
    // This config made `lgb validate` panic (exit 101) adding duration and warmup.
    let mut bad = config(serde_json::json!({"type": "memory"}), serde_json::json!({}));
    bad["tests"][0]["duration"] = "18446744073709551615s".into();
    bad["tests"][0]["warmup"] = "1s".into();
    let (code, err, _) = validate(&bad);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tests[0].duration: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[cfg(feature = "immudb")]
#[test]
fn password_env_may_name_only_lgb_secret_variables() {
    let server = Silent::new();
    let db = |var: &str| serde_json::json!({"type": "immudb", "address": server.addr(), "password_env": var});
    refuses(
        "immudb password_env",
        config(db("AWS_SECRET_ACCESS_KEY"), serde_json::json!({})),
        config(db("LGB_SECRET_IMMUDB_PASSWORD"), serde_json::json!({})),
        "database.password_env",
        "LGB_SECRET_",
        &server,
    );
}

/// `lgb validate --targets outputs.json` checks a config that names only the database
/// type as `lgb run --targets` would run it: the deployed worker and settings (from
/// `tofu output -json`, here generated from infra/outputs.tf) are filled in first,
/// and the deployed function is looked up (preflight) on the local Lambda control
/// plane. Without them the same config lacks its table; `--targets` with the local
/// target is refused, naming `runner.target`.
#[test]
fn validate_with_targets_checks_the_config_as_deployed() {
    let aws = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let bootstrap = lgb_testkit::services::repo_root().join("scripts/lib/echo-bootstrap");
    let cp = lgb_testkit::control_plane::ControlPlane::start(
        &serde_json::json!({"region": "eu-west-1", "functions": {"lgb-dynamodb": {"bootstrap": bootstrap, "timeout": 60}}}),
        &aws,
    );
    let tmp = tempfile::tempdir().unwrap();
    let outputs = tmp.path().join("outputs.json");
    let doc = lgb_testkit::outputs_tf::sample_outputs(&["dynamodb"], &|path| {
        let last = path.rsplit('.').next().unwrap_or_default();
        Some(match (path, last) {
            (p, "region") if p.starts_with("lgb_targets") => serde_json::json!("eu-west-1"),
            (_, "table") => serde_json::json!("deployed-bench"),
            (_, "function_name") => serde_json::json!("lgb-dynamodb"),
            (p, "name") if p.ends_with("partition_key.name") => serde_json::json!("pk"),
            (p, "type") if p.ends_with("partition_key.type") => serde_json::json!("S"),
            _ => return None,
        })
    });
    std::fs::write(&outputs, doc.to_string()).unwrap();
    let bench = tmp.path().join("bench.json");
    let cfg = config(
        serde_json::json!({"type": "dynamodb"}),
        serde_json::json!({"options": {"endpoint": cp.endpoint}}),
    );
    std::fs::write(&bench, cfg.to_string()).unwrap();
    let lgb = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lgb"))
            .arg("validate")
            .arg(&bench)
            .args(args)
            .env_remove("AWS_PROFILE")
            .envs(aws)
            .output()
            .unwrap()
    };

    let out = lgb(&["--target", "lambda", "--targets", outputs.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{stderr}\n{}",
        cp.log_text()
    );
    assert!(stdout.contains("database `dynamodb`"), "{stdout}");

    let out = lgb(&["--target", "lambda"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing field `table`"), "{stderr}");

    // A config that says nothing of where workers run runs them on Lambda with
    // --targets (infra/README.md's commands); the local target is refused.
    let out = lgb(&["--targets", outputs.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let out = lgb(&["--target", "local", "--targets", outputs.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("runner.target"), "{stderr}");
}
