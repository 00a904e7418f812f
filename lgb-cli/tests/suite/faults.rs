//! Faults end to end through the real `lgb` binary: a database killed mid-run (a
//! private moto server, SIGKILLed), a database that stops answering (lgb-testkit's
//! latency proxy with a hang, in front of the local DynamoDB service), and SIGTERM,
//! also while the database hangs. Each run must end in bounded time, write what it
//! measured, count its errors by class and exit with the code the README documents
//! ("Exit codes"). No secret the runs were given (AWS secret key, session token) may
//! appear in their results directories or in their output.

use lgb_testkit::latency_proxy as proxy;
use lgb_testkit::services;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

/// Real-looking temporary AWS credentials; moto accepts any. None of them may leak.
const ACCESS_KEY_ID: &str = "ASIAQFAULTTESTKEY7XQ";
const SECRET_KEY: &str = "r8Gx2vLq9TzW4mPa7KcN1sYfB3hJ6dQe0uVtXo5i";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEFaUlTtEsT0kEn//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7f4uLtS3sSi0nT0k3nQ9w2Zr8YpLm6Vb1Kc5Hd0Jg==";

/// The endpoint of the shared local DynamoDB service, started if needed.
fn dynamodb_service() -> String {
    services::endpoint("dynamodb")
}

fn unique_table(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "lgb-faults-{test}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_007
    )
}

/// A moto server of this test's own (the one `scripts/services` installs), so it can be
/// killed without disturbing other tests.
struct Moto {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl Moto {
    fn start(dir: &Path) -> Moto {
        services::run(&["install", "dynamodb"]);
        let python = PathBuf::from(services::run(&["path", "python"]).trim());
        let program = python.with_file_name("moto_server");
        let port: u16 = services::run(&["free-port"]).trim().parse().unwrap();
        let log = dir.join("moto.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http_answers(port) {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto exited ({status}):\n{}", moto.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "moto did not answer within 60 s:\n{}",
                moto.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// DynamoDB requests it has answered with 200 (its request log).
    fn answered(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains("\"POST / HTTP/1.1\" 200"))
            .count()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

fn http_answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// `lgb run CONFIG --out OUT` with the test's credentials and nothing else from the
/// user's AWS setup.
fn lgb_run(config: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lgb"));
    cmd.arg("run")
        .arg(config)
        .arg("--out")
        .arg(out)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A started `lgb` whose output is collected on a thread, so that the test can signal
/// it and wait with a limit.
struct Running {
    pid: u32,
    started: Instant,
    done: mpsc::Receiver<Output>,
}

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        let child = cmd.spawn().expect("start lgb");
        let pid = child.id();
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output().expect("wait for lgb"));
        });
        Running {
            pid,
            started: Instant::now(),
            done,
        }
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {}", self.pid);
    }

    /// Waits at most `limit` from the start; a run still going then fails the test.
    fn wait(self, limit: Duration) -> Finished {
        let left = limit.saturating_sub(self.started.elapsed());
        match self.done.recv_timeout(left) {
            Ok(out) => Finished {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                took: self.started.elapsed(),
            },
            Err(_) => {
                self.signal("KILL");
                let out = self.done.recv().unwrap();
                panic!(
                    "lgb did not end within {limit:?}:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn only_run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(out)
        .unwrap_or_else(|e| panic!("{}: {e}", out.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn result_json(dir: &Path) -> Value {
    let text = std::fs::read(dir.join("result.json")).unwrap();
    serde_json::from_slice(&text).expect("result.json parses")
}

/// The test named `name` in a result.
fn test<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no test {name} in {result}"))
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// No file of `dir` (recursively) and no output may hold any of the run's secrets, or
/// a recognisable piece of one.
fn assert_no_secrets(dir: &Path, run: &Finished) {
    let needles: Vec<&str> = [SECRET_KEY, SESSION_TOKEN]
        .iter()
        .flat_map(|s| [*s, &s[..16], &s[s.len() - 16..]])
        .collect();
    let mut files = vec![dir.to_path_buf()];
    let mut checked = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for n in &needles {
            assert!(!text.contains(n), "{} holds a secret ({n})", p.display());
        }
        checked += 1;
    }
    assert!(checked >= 3, "result.json, summary.csv and histograms");
    for n in &needles {
        assert!(!run.stdout.contains(n), "stdout holds a secret ({n})");
        assert!(!run.stderr.contains(n), "stderr holds a secret ({n})");
    }
}

fn write_config(dir: &Path, config: &Value) -> PathBuf {
    let path = dir.join("bench.json");
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    path
}

fn dynamodb(table: &str, endpoint: &str, extra: Value) -> Value {
    let mut db = json!({
        "type": "dynamodb", "table": table, "endpoint": endpoint, "region": "us-east-1",
        "create_table_if_missing": true,
        "retry": {"max_attempts": 2, "base_backoff": "10ms"}
    });
    for (k, v) in extra.as_object().unwrap() {
        db[k] = v.clone();
    }
    db
}

#[test]
fn a_database_killed_mid_run_counts_connect_errors_and_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let mut moto = Moto::start(tmp.path());
    let config = write_config(
        tmp.path(),
        &json!({
            "name": "killed",
            "database": dynamodb(&unique_table("killed"), &moto.endpoint, json!({"request_timeout": "2s"})),
            "workload": {"records": 200, "fields": 2, "field_size": "16B", "load_batch": 25},
            "tests": [{"name": "writes", "operation": {"type": "write"}, "concurrency": 2,
                       "duration": "6s", "timeout": "3s"}]
        }),
    );
    let out = tmp.path().join("results");
    let run = Running::spawn(lgb_run(&config, &out).arg("-v"));
    // Kill the server once it has answered the load and a good number of writes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while moto.answered() < 150 {
        assert!(
            Instant::now() < deadline,
            "the run never got going:\n{}",
            moto.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    moto.kill();
    let killed_at = run.started.elapsed();
    let run = run.wait(Duration::from_secs(90));
    eprintln!(
        "killed the database {killed_at:.1?} into the run; lgb ended after {:.1?}",
        run.took
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let dir = only_run_dir(&out);
    let result = result_json(&dir);
    assert_eq!(result["status"], "completed");
    let writes = test(&result, "writes");
    let op = &writes["metrics"]["operations"]["write"];
    let (ok, failed) = (count(&op["ok"]), count(&op["failed"]));
    let connect = count(&op["errors"]["counts"]["connect"]);
    eprintln!(
        "killed database: {ok} writes ok, {failed} failed: {}",
        op["errors"]["counts"]
    );
    assert!(ok > 0, "writes before the kill are kept: {op}");
    assert!(
        connect > 0,
        "writes after the kill are connect errors: {op}"
    );
    assert_eq!(
        connect, failed,
        "every failure is a connect error: {}",
        op["errors"]
    );
    assert!(
        writes["workers"][0]["status"] == "completed",
        "the worker ran to its end: {}",
        writes["workers"]
    );
    let window = writes["window_ns"].as_u64().unwrap();
    assert!(
        (6_000_000_000..9_000_000_000).contains(&window),
        "the measured window is the planned 6 s: {window}"
    );
    assert!(
        run.stderr.contains("completed with errors") && run.stderr.contains("connect"),
        "{}",
        run.stderr
    );
    assert_no_secrets(&dir, &run);
}

/// A proxy in front of the local DynamoDB that passes table setup and the first
/// writes, then reads every later request and never answers it.
async fn hanging_dynamodb() -> proxy::Proxy {
    proxy::start(
        &dynamodb_service(),
        proxy::Schedule {
            hang_after: Some(60),
            ..proxy::Schedule::default()
        },
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_database_is_bounded_by_the_timeout_and_exits_3() {
    let hang = hanging_dynamodb().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        &json!({
            "name": "hang",
            "database": dynamodb(&unique_table("hang"), &hang.endpoint, json!({})),
            "workload": {"records": 100, "load": false},
            "tests": [{"name": "writes", "operation": {"type": "write"}, "concurrency": 2,
                       "duration": "4s", "timeout": "500ms"}]
        }),
    );
    let out = tmp.path().join("results");
    // Debug logs of every crate: they must stay free of secrets too.
    let mut cmd = lgb_run(&config, &out);
    cmd.env("RUST_LOG", "debug");
    let run =
        tokio::task::spawn_blocking(move || Running::spawn(&mut cmd).wait(Duration::from_secs(60)))
            .await
            .unwrap();
    eprintln!("hanging database: lgb ended after {:.1?}", run.took);
    assert!(hang.requests() > 60, "the proxy hung requests");
    assert_eq!(run.code, Some(3), "{}", tail(&run.stderr));
    let dir = only_run_dir(&out);
    let result = result_json(&dir);
    let writes = test(&result, "writes");
    let op = &writes["metrics"]["operations"]["write"];
    let (ok, failed) = (count(&op["ok"]), count(&op["failed"]));
    let timeouts = count(&op["errors"]["counts"]["timeout"]);
    eprintln!(
        "hanging database: {ok} writes ok, {failed} failed: {}",
        op["errors"]["counts"]
    );
    assert!(ok > 0, "writes before the hang are kept: {op}");
    // Two tasks, each waiting 500 ms per hung write, for most of 4 s.
    assert!(
        (8..=18).contains(&timeouts),
        "hung writes end as timeouts after 500 ms each: {}",
        op["errors"]
    );
    assert_eq!(timeouts, failed, "{}", op["errors"]);
    let window = writes["window_ns"].as_u64().unwrap();
    assert!(
        window < 5_000_000_000,
        "the window ends within one timeout of the planned 4 s: {window}"
    );
    assert!(run.stderr.contains("timeout"), "{}", tail(&run.stderr));
    assert_no_secrets(&dir, &run);
}

#[cfg(unix)]
#[test]
fn sigterm_writes_partial_results_and_exits_143() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        &json!({
            "name": "sigterm", "database": {"type": "memory"},
            "workload": {"records": 500, "fields": 2, "field_size": 8},
            "tests": [{"name": "mix", "preset": "ycsb-b", "duration": "5m"},
                      {"name": "never", "operation": {"type": "read"}, "duration": "1s"}]
        }),
    );
    let out = tmp.path().join("results");
    let run = Running::spawn(&mut lgb_run(&config, &out));
    std::thread::sleep(Duration::from_millis(2500));
    let signalled = Instant::now();
    run.signal("TERM");
    let run = run.wait(Duration::from_secs(60));
    let stop = signalled.elapsed();
    eprintln!("SIGTERM: lgb ended {stop:.2?} after the signal");
    assert_eq!(run.code, Some(143), "{}", run.stderr);
    assert!(stop < Duration::from_secs(5), "stopped promptly: {stop:?}");
    let dir = only_run_dir(&out);
    let result = result_json(&dir);
    assert_eq!(result["status"], "cancelled");
    assert_eq!(
        result["tests"].as_array().unwrap().len(),
        2,
        "load and the stopped test; the next one never starts"
    );
    // Marked incomplete: the signal, and the test that did not run.
    assert_eq!(result["incomplete"]["reason"], "stopped by SIGTERM");
    assert_eq!(result["incomplete"]["not_run"], json!(["never"]));
    let mix = test(&result, "mix");
    assert!(count(&mix["metrics"]["operations"]["read"]["ok"]) > 0);
    assert_eq!(mix["workers"][0]["status"], "cancelled");
    assert!(
        run.stderr.contains("interrupted; partial results"),
        "{}",
        run.stderr
    );
    assert_no_secrets(&dir, &run);
}

/// A stop must not wait for operations stuck in a hung database: with a 60 s operation
/// timeout, SIGTERM still ends the run at once, with what was measured before.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_database_hangs_stops_at_once() {
    let hang = hanging_dynamodb().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        &json!({
            "name": "hang-term",
            "database": dynamodb(&unique_table("hangterm"), &hang.endpoint, json!({"request_timeout": "60s"})),
            "workload": {"records": 100, "load": false},
            "tests": [{"name": "writes", "operation": {"type": "write"}, "concurrency": 2,
                       "duration": "5m", "timeout": "60s"}]
        }),
    );
    let out = tmp.path().join("results");
    let mut cmd = lgb_run(&config, &out);
    let run = Running::spawn(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Requests 61 and 62 are the two tasks' writes that hang.
    while hang.requests() < 62 {
        assert!(Instant::now() < deadline, "the run never reached the hang");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = Instant::now();
    run.signal("TERM");
    let run = tokio::task::spawn_blocking(move || run.wait(Duration::from_secs(120)))
        .await
        .unwrap();
    let stop = signalled.elapsed();
    eprintln!("SIGTERM during a hang: lgb ended {stop:.2?} after the signal");
    assert_eq!(run.code, Some(143), "{}", run.stderr);
    assert!(
        stop < Duration::from_secs(5),
        "did not wait for the 60 s timeout: {stop:?}"
    );
    let dir = only_run_dir(&out);
    let result = result_json(&dir);
    assert_eq!(result["status"], "cancelled");
    let op = &test(&result, "writes")["metrics"]["operations"]["write"];
    assert!(
        count(&op["ok"]) > 0,
        "writes before the hang are kept: {op}"
    );
    assert_eq!(
        count(&op["failed"]),
        0,
        "writes cut off by the stop are left out, not failed: {op}"
    );
    assert_no_secrets(&dir, &run);
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// A password given with the wrong JSON type is refused (exit 2) without being repeated:
/// serde quotes what it could not read, and here that is the secret.
#[test]
fn a_password_that_cannot_be_read_is_not_echoed() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        &json!({
            "name": "pw", "database": {"type": "immudb", "address": "127.0.0.1:1",
                                       "username": "bench", "password": 73519264028u64},
            "tests": [{"name": "r", "operation": {"type": "read"}, "duration": "1s"}]
        }),
    );
    for sub in ["validate", "run"] {
        let out = Command::new(env!("CARGO_BIN_EXE_lgb"))
            .arg(sub)
            .arg(&config)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(2), "{sub}: {stderr}");
        assert!(
            stderr.contains("database.password") && stderr.contains("expected a string"),
            "{sub} names the problem: {stderr}"
        );
        for text in [&stdout, &stderr] {
            assert!(
                !text.contains("73519264028"),
                "{sub} repeats the password: {text}"
            );
        }
    }
    assert!(
        !tmp.path().join("results").exists(),
        "nothing ran, nothing written"
    );
}
