//! The `lgb` binary end to end: exit codes, results on disk, Ctrl-C.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::kit::{lgb, run_ok};

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
    crate::kit::signal_and_wait(child, "INT", 130);
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

/// Runs `lgb ARGS` with a standard output whose reader has already gone, as in
/// `lgb list | head -0`: the parent closes its end of the pipe before the child writes.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = lgb()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_printing_commands_quietly_with_exit_0() {
    for args in [
        &["list"][..],
        &["schema"],
        &["completions", "bash"],
        &[
            "validate",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/quickstart.json"),
        ],
    ] {
        let out = with_closed_stdout(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "lgb {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "lgb {args:?} printed to stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // In shell pipelines, with pipefail so that lgb's own status counts.
    let exe = env!("CARGO_BIN_EXE_lgb");
    for pipeline in [
        "\"$LGB\" list | head -1",
        "\"$LGB\" list | grep -q Databases",
        "\"$LGB\" schema | head -c 10",
    ] {
        let out = Command::new("bash")
            .args(["-c", &format!("set -o pipefail; {pipeline}")])
            .env("LGB", exe)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{pipeline}");
        assert!(
            out.stderr.is_empty(),
            "{pipeline}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let head = Command::new("bash")
        .args(["-c", "\"$LGB\" list | head -1"])
        .env("LGB", exe)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&head.stdout),
        "Databases (compiled in):\n"
    );
}

#[test]
fn a_run_whose_reader_went_away_keeps_its_results_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), "300ms");
    let out_dir = tmp.path().join("results");
    let out = with_closed_stdout(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("Error"), "{stderr}");
    assert!(only_run_dir(&out_dir).join("result.json").is_file());
}

/// SGR sequences (`ESC [ … m`): colours and bold, not cursor movement.
fn colour_codes(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    text.split('\u{1b}')
        .skip(1)
        .filter(|rest| {
            rest.strip_prefix('[').is_some_and(|r| {
                let end = r.find(|c: char| !(c.is_ascii_digit() || c == ';'));
                end.is_some_and(|i| r[i..].starts_with('m'))
            })
        })
        .count()
}

#[test]
fn no_colour_codes_without_a_terminal_or_with_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), "200ms");
    let run = |cmd: &mut Command| {
        cmd.args(["-vv", "run"])
            .arg(&cfg)
            .arg("--out")
            .arg(tmp.path().join("results"))
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG");
    };
    // stderr into a pipe (a log file, CI): debug log lines, no colour.
    let mut cmd = lgb();
    run(&mut cmd);
    let out = run_ok(&mut cmd);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("worker starting"),
        "no debug log line: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        colour_codes(&out.stderr),
        0,
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );

    // On a terminal (util-linux `script` gives the command a pseudo-terminal), colour
    // appears, unless NO_COLOR is set.
    let on_terminal = |no_color: Option<&str>| {
        let mut inner = lgb();
        run(&mut inner);
        let line = std::iter::once(inner.get_program())
            .chain(inner.get_args())
            .map(|a| format!("'{}'", a.to_str().unwrap()))
            .collect::<Vec<_>>()
            .join(" ");
        let mut script = Command::new("script");
        script
            .args(["-qec", &line, "/dev/null"])
            .env("TERM", "xterm");
        match no_color {
            Some(v) => script.env("NO_COLOR", v),
            None => script.env_remove("NO_COLOR"),
        };
        let out = run_ok(&mut script);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("worker starting"), "{text}");
        colour_codes(&out.stdout)
    };
    assert!(on_terminal(None) > 0, "a terminal gets colour");
    assert_eq!(on_terminal(Some("1")), 0, "NO_COLOR=1 on a terminal");
}

/// `lgb report -f html|png` from a build without the `charts` feature is bad input
/// that names the feature; with it (the default `lgb`), the page is written.
#[test]
fn html_reports_need_the_charts_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), "200ms");
    let out_dir = tmp.path().join("results");
    run_ok(
        lgb()
            .arg("run")
            .arg(&cfg)
            .arg("--out")
            .arg(&out_dir)
            .arg("-q"),
    );
    let dir = only_run_dir(&out_dir);
    let out = lgb()
        .args(["report", "-f", "html"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "charts") {
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("enable feature `charts`"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// A data set that cannot fit in this machine's memory is refused by `lgb validate`
/// and by `lgb run` before the load, at once, naming `workload.records` and the memory
/// it would need.
#[test]
fn memory_database_refuses_a_data_set_larger_than_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("huge.json");
    std::fs::write(
        &cfg,
        r#"{"database": {"type": "memory"}, "workload": {"records": 2e14},
            "tests": [{"name": "r", "operation": {"type": "read"}, "operations": 10}]}"#,
    )
    .unwrap();
    for sub in ["validate", "run"] {
        let started = std::time::Instant::now();
        let out = lgb().arg(sub).arg(&cfg).output().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{sub} took {:?}",
            started.elapsed()
        );
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("workload.records"), "{err}");
        assert!(err.contains("need about") && err.contains("PiB"), "{err}");
        assert!(err.contains("available"), "{err}");
    }
    // A data set that fits passes.
    std::fs::write(
        &cfg,
        r#"{"database": {"type": "memory"}, "workload": {"records": 1000},
            "tests": [{"name": "r", "operation": {"type": "read"}, "operations": 10}]}"#,
    )
    .unwrap();
    run_ok(lgb().arg("validate").arg(&cfg));
}

/// An operation the database cannot run is refused up front, naming the operation,
/// the adapter and why: nothing connects (the endpoints below have no server) and
/// nothing is loaded.
#[cfg(all(feature = "dynamodb", feature = "timestream"))]
#[test]
fn operations_an_adapter_cannot_run_are_refused_before_the_load() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"type": "timestream", "database": "bench_db", "table": "bench_table",
                "endpoint": "http://127.0.0.1:9", "region": "us-east-1"}"#,
            r#"{"name": "e", "preset": "ycsb-e", "operations": 10}"#,
            [
                "tests[0].preset",
                "scan",
                "no `range` queries",
                "database `timestream`",
            ],
        ),
        (
            r#"{"type": "dynamodb", "table": "bench_table", "endpoint": "http://127.0.0.1:9",
                "region": "us-east-1"}"#,
            r#"{"name": "q", "operation": {"type": "query", "kind": "prefix"}, "operations": 10}"#,
            [
                "tests[0].operation",
                "query",
                "no `prefix` queries",
                "database `dynamodb`",
            ],
        ),
    ];
    for (db, test, wants) in cases {
        let cfg = tmp.path().join("refused.json");
        std::fs::write(
            &cfg,
            format!(r#"{{"database": {db}, "workload": {{"records": 1000}}, "tests": [{test}]}}"#),
        )
        .unwrap();
        for sub in ["validate", "run"] {
            let started = std::time::Instant::now();
            let out = lgb().arg(sub).arg(&cfg).output().unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{sub} connected?"
            );
            assert_eq!(out.status.code(), Some(2), "{sub} {db}");
            let err = String::from_utf8_lossy(&out.stderr);
            for want in wants {
                assert!(err.contains(want), "{want} not in {err}");
            }
        }
    }
    // ycsb-e on DynamoDB without a sort key is accepted: its scan is a paginated Scan.
    let ok = tmp.path().join("ok.json");
    std::fs::write(
        &ok,
        r#"{"database": {"type": "dynamodb", "table": "bench_table", "endpoint": "http://127.0.0.1:9",
                         "region": "us-east-1"},
            "tests": [{"name": "e", "preset": "ycsb-e", "operations": 10}]}"#,
    )
    .unwrap();
    run_ok(lgb().arg("validate").arg(&ok));
}

/// `lgb list` shows the `noop` database, and a run on it completes.
#[test]
fn noop_database_is_listed_and_runs() {
    let list = run_ok(lgb().arg("list"));
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("noop"), "{list}");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("noop.json");
    std::fs::write(
        &cfg,
        r#"{"database": {"type": "noop"}, "workload": {"records": 100},
            "tests": [{"name": "a", "preset": "ycsb-a", "operations": 5000}]}"#,
    )
    .unwrap();
    let out = run_ok(
        lgb()
            .arg("run")
            .arg(&cfg)
            .arg("--out")
            .arg(tmp.path().join("r")),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("read") && table.contains("update"),
        "{table}"
    );
}

/// The plan `lgb validate` prints (and `lgb run` before anything runs) estimates the
/// database's cost and says what it assumes, for every database lgb deploys; a run
/// above the threshold asks for `--yes` before it connects (nothing listens at the
/// endpoints below).
#[cfg(all(feature = "timestream", feature = "immudb", feature = "influxdb"))]
#[test]
fn the_plan_estimates_each_databases_cost_and_says_what_it_assumes() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, database: &str, test: &str| {
        let path = tmp.path().join(name);
        std::fs::write(
            &path,
            format!(
                r#"{{"database": {database}, "workload": {{"records": 1000}}, "tests": [{test}]}}"#
            ),
        )
        .unwrap();
        path
    };
    let plan = |cfg: &Path| {
        String::from_utf8_lossy(&run_ok(lgb().arg("validate").arg(cfg)).stdout).into_owned()
    };
    // Timestream: 100,000 reads are 100,000 queries billed the 10 MB minimum each,
    // 1,000 GB at $0.01; the load's 1,000 records of 1,090 bytes, 100 a call, are
    // 10 calls of 107 write units at $0.50 a million: $10.000535.
    // 192.0.2.1 is a documentation address (RFC 5737): never routed, so nothing
    // connects, and not this machine, so the plan prices it as AWS.
    let ts = write(
        "timestream.json",
        r#"{"type": "timestream", "database": "bench_db", "table": "bench_table",
            "endpoint": "http://192.0.2.1:9", "region": "us-east-1"}"#,
        r#"{"name": "reads", "operation": {"type": "read"}, "operations": 100000}"#,
    );
    let text = plan(&ts);
    assert!(text.contains("database $10.00; total $10.00"), "{text}");
    assert!(
        text.contains("every query is assumed to scan the 10 MB minimum"),
        "{text}"
    );
    let started = std::time::Instant::now();
    let out = lgb().arg("run").arg(&ts).output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "run connected?");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes: the estimated cost $10.00"));

    // immudb on infra/'s Fargate task: 5 + 20 s of test and 5 s of overhead, 30 s of
    // 1 vCPU at $0.04048 and 2 GB at $0.004445 an hour: $0.000411. The load's length
    // is not known before a local run, and the plan says so.
    let fargate = write(
        "immudb.json",
        r#"{"type": "immudb", "address": "immudb.lgb.lgb.internal:3322",
            "password_env": "LGB_SECRET_IMMUDB_PASSWORD"}"#,
        r#"{"name": "reads", "operation": {"type": "read"}, "warmup": "5s", "duration": "20s"}"#,
    );
    let text = plan(&fargate);
    assert!(text.contains("database $0.000411"), "{text}");
    assert!(
        text.contains("immudb on infra/'s ECS Fargate task"),
        "{text}"
    );
    assert!(text.contains("not known before the run"), "{text}");

    // A server of one's own is not priced, and the plan says so.
    let own = write(
        "influxdb.json",
        r#"{"type": "influxdb", "endpoint": "http://192.0.2.1:9", "api": "v1", "database": "b"}"#,
        r#"{"name": "reads", "operation": {"type": "read"}, "duration": "5s"}"#,
    );
    let text = plan(&own);
    assert!(text.contains("database $0;"), "{text}");
    assert!(
        text.contains("a server you run yourself is not priced"),
        "{text}"
    );

    // The Timestream config against a local stand-in (moto) bills nothing, so the
    // guard lets it through: validate says why.
    let local = write(
        "timestream-local.json",
        r#"{"type": "timestream", "database": "bench_db", "table": "bench_table",
            "endpoint": "http://127.0.0.1:9", "region": "us-east-1"}"#,
        r#"{"name": "reads", "operation": {"type": "read"}, "operations": 100000}"#,
    );
    let text = plan(&local);
    assert!(text.contains("database $0;"), "{text}");
    assert!(
        text.contains("http://127.0.0.1:9 is on this machine"),
        "{text}"
    );
}
