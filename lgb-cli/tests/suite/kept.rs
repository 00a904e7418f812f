//! Nothing measured is lost, through the real `lgb` binary on local workers: a run
//! stopped by an injected failure of its second test (`LGB_TEST_FAULT`, test-only) or
//! by SIGHUP leaves a results directory with every test that ended, exactly as the
//! runner had it when the test ended (the counts `lgb` printed then, the histograms),
//! marked incomplete with the reason and the tests that did not run, which `lgb
//! report` and `lgb compare` read. Test names that map to one file name get distinct
//! files; an existing run is never written over.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lgb_core::results::{load_run, RunResult, RunStatus};
use serde_json::{json, Value};

use crate::kit::{lgb, run_ok};

fn write_config(dir: &Path, tests: Value) -> PathBuf {
    let path = dir.join("bench.json");
    let config = json!({
        "name": "kept", "database": {"type": "memory"},
        "workload": {"records": 300, "fields": 2, "field_size": 8},
        "tests": tests
    });
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// `(ops, window)` of each test's line `lgb` printed when the test ended, as the
/// runner held it then ("NAME N ops in W s, …").
fn finished_lines(stderr: &str) -> Vec<(String, u64, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let (head, _) = l.split_once(" ops in ")?;
            let (name, ops) = head.trim().rsplit_once(' ')?;
            let window = l.split(" ops in ").nth(1)?.split(',').next()?.to_string();
            Some((name.trim().to_string(), ops.parse().ok()?, window))
        })
        .collect()
}

/// Every test of `run` is what `lgb` printed when it ended, and its histograms are on
/// disk with the counts of `result.json`.
fn assert_kept_as_printed(run: &RunResult, dir: &Path, stderr: &str) {
    let printed = finished_lines(stderr);
    for t in &run.tests {
        let (_, ops, window) = printed
            .iter()
            .find(|(n, _, _)| n == &t.name)
            .unwrap_or_else(|| panic!("no finished line for {} in {stderr}", t.name));
        assert_eq!(t.metrics.ok() + t.metrics.failed(), *ops, "{}", t.name);
        assert_eq!(&format!("{:.1}s", t.window_ns as f64 / 1e9), window);
        for (op, m) in &t.metrics.operations {
            assert_eq!(m.latency.len(), m.ok, "{} {op}", t.name);
            let file = dir.join(&t.files[op]);
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.contains(&format!("operation {op}")),
                "{}",
                file.display()
            );
        }
    }
    assert_eq!(printed.len(), run.tests.len(), "{stderr}");
}

fn report_and_compare_read(dir: &Path) -> String {
    let table = run_ok(lgb().arg("report").arg(dir));
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    run_ok(lgb().arg("compare").arg(dir).arg(dir));
    let json = run_ok(lgb().arg("report").arg(dir).args(["--format", "json"]));
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["incomplete"]["reason"].is_string(), "{v}");
    table
}

#[test]
fn an_injected_failure_of_the_second_of_three_tests_keeps_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        json!([
            {"name": "first", "operation": {"type": "read"}, "operations": 3000, "concurrency": 2},
            {"name": "second", "operation": {"type": "update"}, "operations": 3000},
            {"name": "third", "operation": {"type": "read"}, "operations": 3000}
        ]),
    );
    let out = tmp.path().join("results");
    let run = lgb()
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .env("LGB_TEST_FAULT", "test:second")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("injected fault at `test:second`"),
        "{stderr}"
    );
    assert!(stderr.contains("not run: second, third"), "{stderr}");
    let dir = run_dir(&out);
    assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
    let kept = load_run(&dir).unwrap();
    assert_eq!(kept.status, RunStatus::Failed);
    let names: Vec<&str> = kept.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["load", "first"]);
    assert_eq!(kept.tests[1].metrics.ok(), 3000);
    let incomplete = kept.incomplete.clone().expect("marked incomplete");
    assert!(
        incomplete.reason.contains("injected fault"),
        "{incomplete:?}"
    );
    assert_eq!(incomplete.not_run, ["second", "third"]);
    assert_kept_as_printed(&kept, &dir, &stderr);
    let table = report_and_compare_read(&dir);
    assert!(
        table.contains("INCOMPLETE") || table.contains("incomplete"),
        "{table}"
    );
}

#[cfg(unix)]
#[test]
fn sighup_keeps_the_tests_that_ended_and_exits_129() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        json!([
            {"name": "first", "operation": {"type": "read"}, "operations": 2000},
            {"name": "long", "preset": "ycsb-b", "duration": "5m"},
            {"name": "never", "operation": {"type": "read"}, "operations": 10}
        ]),
    );
    let out = tmp.path().join("results");
    let child = lgb()
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The directory says when the first test has ended (and the long one begun).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ended = std::fs::read_dir(&out)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| load_run(&e.unwrap().path()).ok())
            .is_some_and(|r| r.tests.iter().any(|t| t.name == "first"));
        if ended {
            break;
        }
        assert!(Instant::now() < deadline, "the first test never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let done: Output = child.wait_with_output().unwrap();
    let stop = signalled.elapsed();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(129), "{stderr}");
    assert!(stop < Duration::from_secs(5), "stopped promptly: {stop:?}");
    let dir = run_dir(&out);
    let kept = load_run(&dir).unwrap();
    assert_eq!(kept.status, RunStatus::Cancelled);
    let incomplete = kept.incomplete.clone().expect("marked incomplete");
    assert!(incomplete.reason.contains("SIGHUP"), "{incomplete:?}");
    assert_eq!(incomplete.not_run, ["never"]);
    let names: Vec<&str> = kept.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["load", "first", "long"]);
    assert_eq!(kept.tests[1].metrics.ok(), 2000);
    assert!(
        kept.tests[2].metrics.ok() > 0,
        "the stopped test keeps what it measured"
    );
    assert_eq!(
        serde_json::to_value(kept.tests[2].workers[0].status).unwrap(),
        "cancelled"
    );
    assert_kept_as_printed(&kept, &dir, &stderr);
    report_and_compare_read(&dir);
}

#[test]
fn names_that_map_to_one_file_name_get_distinct_files() {
    let tmp = tempfile::tempdir().unwrap();
    let names = ["a b", "a_b", "读取", "写入", "a/b"];
    let tests: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "operation": {"type": "write"}, "operations": 100}))
        .collect();
    let config = write_config(tmp.path(), Value::Array(tests));
    let out = tmp.path().join("results");
    run_ok(lgb().arg("run").arg(&config).arg("--out").arg(&out).args([
        "-q",
        "--set",
        "workload.load=false",
    ]));
    let dir = run_dir(&out);
    let run = load_run(&dir).unwrap();
    let files: Vec<&str> = run
        .tests
        .iter()
        .map(|t| t.files["write"].as_str())
        .collect();
    assert_eq!(
        files,
        [
            "hdr/a_b.write.hlog",
            "hdr/a_b.write-2.hlog",
            "hdr/读取.write.hlog",
            "hdr/写入.write.hlog",
            "hdr/a_b.write-3.hlog"
        ]
    );
    for (t, f) in run.tests.iter().zip(&files) {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(
            text.contains(&format!("test {} operation write", t.name)),
            "{f} holds test {}: {}",
            t.name,
            text.lines().next().unwrap_or_default()
        );
    }
    // result.json records them.
    let raw: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap()).unwrap();
    assert_eq!(raw["tests"][1]["files"]["write"], "hdr/a_b.write-2.hlog");
}

#[test]
fn an_existing_run_is_never_written_over() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        json!([{"name": "r", "operation": {"type": "read"}, "operations": 100}]),
    );
    let out = tmp.path().join("results");
    run_ok(
        lgb()
            .arg("run")
            .arg(&config)
            .arg("--out")
            .arg(&out)
            .arg("-q"),
    );
    let dir = run_dir(&out);
    let before = std::fs::read(dir.join("result.json")).unwrap();
    // `--out` naming the run itself: refused as bad input, before anything runs.
    let again = lgb()
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is the results directory of a run") && stderr.contains("--out"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(dir.join("result.json")).unwrap(), before);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3, "nothing added");
    // The same parent again: a new run beside it.
    run_ok(
        lgb()
            .arg("run")
            .arg(&config)
            .arg("--out")
            .arg(&out)
            .arg("-q"),
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
    assert_eq!(std::fs::read(dir.join("result.json")).unwrap(), before);
    // Decrypting over it is refused too.
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let sealed = tmp.path().join("run.lgbenc");
    run_ok(
        lgb()
            .env("LGB_RESULTS_KEY", key)
            .arg("encrypt")
            .arg(&dir)
            .arg("-o")
            .arg(&sealed),
    );
    let over = lgb()
        .env("LGB_RESULTS_KEY", key)
        .arg("decrypt")
        .arg(&sealed)
        .arg("-o")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(over.status.code(), Some(2));
    assert_eq!(std::fs::read(dir.join("result.json")).unwrap(), before);
}

/// `lgb run --upload` puts the results directory in S3 (the local moto server) with
/// its manifest last, also for a run stopped early by an error; the upload reads back
/// as complete.
#[cfg(feature = "s3")]
#[test]
fn run_upload_puts_the_directory_and_its_manifest_also_after_an_error() {
    use std::io::{Read, Write};
    let env = lgb_testkit::services::service_env("timestream");
    let endpoint = env["LGB_TIMESTREAM_ENDPOINT"].clone();
    let bucket = format!(
        "lgb-run-upload-{}",
        lgb_testkit::services::unique_prefix("up")
            .to_lowercase()
            .trim_end_matches('-')
    );
    // Create the bucket with one plain request (moto takes it unsigned).
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        json!([
            {"name": "first", "operation": {"type": "read"}, "operations": 500},
            {"name": "second", "operation": {"type": "read"}, "operations": 500}
        ]),
    );
    let out = tmp.path().join("results");
    let aws = |cmd: &mut Command| {
        for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
            cmd.env(k, &env[k]);
        }
        cmd.env("LGB_S3_ENDPOINT", &endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE");
    };
    let mut cmd = lgb();
    aws(&mut cmd);
    let run = cmd
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .args(["-q", "--upload", &format!("s3://{bucket}/runs")])
        .env("LGB_TEST_FAULT", "test:second")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(1),
        "the error's exit code: {stderr}"
    );
    assert!(stderr.contains("uploaded to s3://"), "{stderr}");
    let dir = run_dir(&out);
    let run_id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        std::env::set_var(k, &env[k]);
    }
    let manifest = rt
        .block_on(lgb_core::results::verify_upload(
            &format!("s3://{bucket}/runs/{run_id}").parse().unwrap(),
            &lgb_core::results::UploadOptions {
                kms_key_id: None,
                endpoint: Some(endpoint.clone()),
            },
        ))
        .unwrap();
    let local = lgb_core::results::files_of(&dir).unwrap();
    assert_eq!(manifest.files.len(), local.len());
    assert!(manifest.files.iter().any(|f| f.path == "result.json"));
    // `--upload` that is not an S3 URL is refused before anything runs.
    let bad = lgb()
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(tmp.path().join("none"))
        .args(["--upload", "https://x"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(!tmp.path().join("none").exists());
}
