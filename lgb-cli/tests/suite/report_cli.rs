//! `lgb report`, `lgb compare`, `lgb encrypt` and `lgb decrypt` end to end.
use std::path::{Path, PathBuf};

use crate::kit::{lgb, run_ok as ok};

fn run(dir: &Path, name: &str, latency: &str) -> PathBuf {
    let cfg = dir.join(format!("{name}.json"));
    std::fs::write(
        &cfg,
        format!(
            r#"{{"name": "{name}", "database": {{"type": "scripted", "latencies": ["{latency}"]}},
                "workload": {{"records": 100, "load": false}},
                "tests": [{{"name": "reads", "operation": {{"type": "read"}}, "duration": "3s", "concurrency": 2}}]}}"#
        ),
    )
    .unwrap();
    let out = dir.join(format!("{name}-results"));
    ok(lgb().arg("run").arg(&cfg).arg("--out").arg(&out).arg("-q"));
    let dirs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs[0].clone()
}

#[test]
fn report_formats_compare_and_encryption() {
    let tmp = tempfile::tempdir().unwrap();
    let fast = run(tmp.path(), "fast", "1ms");
    let slow = run(tmp.path(), "slow", "4ms");

    for (format, check) in [
        ("md", "| test | op |"),
        ("html", "<svg"),
        ("csv", "test,operation,ok,failed"),
        ("json", "\"schema_version\""),
        ("table", "p99.9"),
    ] {
        let out = ok(lgb().arg("report").arg(&fast).args(["--format", format]));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(check), "{format}: {text}");
    }
    let png = tmp.path().join("charts.png");
    ok(lgb()
        .arg("report")
        .arg(&fast)
        .args(["-f", "png", "--size", "800x1000", "-o"])
        .arg(&png));
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");

    // The slower run: fewer operations per second and higher latency, significantly.
    let out = ok(lgb()
        .arg("compare")
        .arg(&fast)
        .arg(&slow)
        .args(["--format", "csv"]));
    let csv = String::from_utf8_lossy(&out.stdout);
    let row = |metric: &str| {
        csv.lines()
            .find(|l| l.split(',').nth(4) == Some(metric))
            .unwrap()
            .to_string()
    };
    let field = |line: &str, i: usize| line.split(',').nth(i).unwrap().to_string();
    let thr = row("throughput");
    assert!(field(&thr, 7).parse::<f64>().unwrap() < -40.0, "{thr}");
    assert_eq!(field(&thr, 10), "true", "{thr}");
    let p50 = row("p50");
    assert!(field(&p50, 7).parse::<f64>().unwrap() > 100.0, "{p50}");
    let out = lgb().arg("compare").arg(&fast).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "one directory is not a comparison"
    );

    // Encryption with a key from the environment; a wrong key exits 2.
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
    let sealed = tmp.path().join("fast.lgbenc");
    let out = lgb()
        .arg("encrypt")
        .arg(&fast)
        .arg("-o")
        .arg(&sealed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no key");
    assert!(String::from_utf8_lossy(&out.stderr).contains("LGB_RESULTS_KEY"));
    ok(lgb()
        .env("LGB_RESULTS_KEY", key)
        .arg("encrypt")
        .arg(&fast)
        .arg("-o")
        .arg(&sealed));
    let back = tmp.path().join("back");
    let wrong = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    let out = lgb()
        .env("LGB_RESULTS_KEY", wrong)
        .arg("decrypt")
        .arg(&sealed)
        .arg("-o")
        .arg(&back)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong key"));
    ok(lgb()
        .env("LGB_RESULTS_KEY", key)
        .arg("decrypt")
        .arg(&sealed)
        .arg("-o")
        .arg(&back));
    assert_eq!(
        std::fs::read(back.join("result.json")).unwrap(),
        std::fs::read(fast.join("result.json")).unwrap()
    );
    let out = ok(lgb().arg("report").arg(&back));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reads"));
}
