//! The `lgb` binary end to end: exit codes, results on disk, Ctrl-C.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn lgb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lgb"))
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write_config(dir: &Path, duration: &str) -> PathBuf {
    let path = dir.join("bench.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"name": "cli", "database": {{"type": "memory"}},
                "workload": {{"records": 500, "fields": 2, "field_size": 8}},
                "tests": [{{"name": "mix", "preset": "ycsb-b", "duration": "{duration}"}}]}}"#
        ),
    )
    .unwrap();
    path
}

fn only_run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn run_writes_results_and_report_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), "1s");
    let out_dir = tmp.path().join("results");
    let out = run_ok(
        lgb()
            .arg("run")
            .arg(&cfg)
            .arg("--out")
            .arg(&out_dir)
            .args(["--set", "tests[0].concurrency=2"]),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("p99") && table.contains("read") && table.contains("update"),
        "{table}"
    );
    let dir = only_run_dir(&out_dir);
    for f in [
        "result.json",
        "summary.csv",
        "hdr/mix.read.hlog",
        "hdr/load.load.hlog",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let csv = run_ok(lgb().arg("report").arg(&dir).args(["--format", "csv"]));
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("test,operation,ok,failed,throughput"),
        "{csv}"
    );
    assert_eq!(
        csv.lines().count(),
        1 + 3,
        "header + load + read + update: {csv}"
    );
    let json = run_ok(lgb().arg("report").arg(&dir).args(["--format", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["tests"][1]["test"]["concurrency"], 2,
        "the override was applied"
    );
    assert_eq!(v["status"], "completed");
}

#[test]
fn bad_input_exits_2_with_every_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"database": {"type": "memory"}, "tests": [{"name": "a", "operation": {"type": "read"}, "concurrency": 0, "duration": "x"}], "oops": 1}"#,
    )
    .unwrap();
    for sub in ["validate", "run"] {
        let out = lgb().arg(sub).arg(&bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("3 problems"), "{err}");
        for p in ["tests[0].concurrency", "tests[0].duration", "oops"] {
            assert!(err.contains(p), "{p} not in {err}");
        }
    }
    let out = lgb()
        .args(["run", "/nonexistent/bench.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = lgb().args(["run", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_partial_results_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), "5m");
    let out_dir = tmp.path().join("results");
    let child = lgb()
        .arg("run")
        .arg(&cfg)
        .arg("--out")
        .arg(&out_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = only_run_dir(&out_dir);
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("result.json")).unwrap()).unwrap();
    assert_eq!(v["status"], "cancelled");
    let ops = v["tests"][1]["metrics"]["operations"]["read"]["ok"]
        .as_u64()
        .unwrap();
    assert!(ops > 0);
}

#[test]
fn list_schema_and_init_help_a_new_user() {
    let list = run_ok(lgb().arg("list"));
    let list = String::from_utf8_lossy(&list.stdout);
    for want in ["memory", "ycsb-a", "zipfian", "batch_write"] {
        assert!(list.contains(want), "{want}: {list}");
    }
    let schema = run_ok(lgb().arg("schema"));
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(schema["properties"]["tests"].is_object());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("new.jsonc");
    run_ok(lgb().arg("init").arg(&path));
    run_ok(lgb().arg("validate").arg(&path));
    let again = lgb().arg("init").arg(&path).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "init refuses to overwrite");
    // `lgb run --help` ends with what each exit code means, as the README does.
    let help = run_ok(lgb().args(["run", "--help"]));
    let help = String::from_utf8_lossy(&help.stdout);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for code in ["0", "1", "2", "3", "4", "130", "143"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{code} ")))
            .unwrap_or_else(|| panic!("exit code {code} not in `lgb run --help`:\n{help}"));
        assert!(line.len() > 10, "{line}");
        assert!(
            readme.contains(&format!("| {code} |")),
            "exit code {code} not in the README's table"
        );
    }
}
