//! Results at scale: for 10, 100 and 1,000 synthetic workers of a `LGB_SCALE_MINUTES`
//! (default 1) minute test with 4 operation kinds (200 operations per second each,
//! latencies log-uniform from 100 µs over `LGB_SCALE_DECADES`, default 5: to 10 s, the
//! worst case; 1 is a database answering in 0.1–1 ms), prints a worker result's bytes per
//! minute per operation, the CPU time to decode and merge all worker results (the
//! runner decodes each on the blocking pool as it arrives and folds it on its own task;
//! here both run on this thread, one result at a time, and the CPU time is this
//! thread's, as `getrusage(RUSAGE_THREAD)` counts it, so that the generation of the
//! synthetic results and other processes on the machine do not count), the process's
//! peak RSS during the merge (`VmHWM`, reset before each case), and the size, load time
//! (`load_run`, CPU) and table-report time (`lgb report`'s work after loading, CPU) of
//! the written result.json. For 1,000 workers each figure is printed beside issue 31's
//! goal for the test length (1 and 14 minutes).
//!
//! Each worker result is readied as a worker sends it (`fit_response`: its whole-test
//! latencies left to its timeline, whose seconds sum to them).
//!
//! Run: `cargo bench -p lgb-core --bench scale` (and `LGB_SCALE_DECADES=1 …`;
//! `LGB_SCALE_WORKERS=1000 …` runs one case; `LGB_SCALE_MINUTES=14 …` a 14-minute test;
//! `LGB_SCALE_WHOLE=1 …` sends the whole-test histograms, as protocol version 1 did;
//! `LGB_SCALE_KEEP=1 …` keeps the written results and prints where).

use lgb_core::config::{OperationConfig, Target, TestConfig};
use lgb_core::metrics::{LatencyHistogram, OperationMetrics, SparseHistogram, TestMetrics};
use lgb_core::protocol::{fit_response, Phase, WorkerResult, WorkerSlot, RESPONSE_BUDGET_BYTES};
use lgb_core::record::OpMeta;
use lgb_core::report::{Format, Report};
use lgb_core::results::{load_run, write_run, RunResult, RunStatus, SCHEMA_VERSION};
use lgb_core::runner::TestMerge;
use lgb_core::session::{ConfigSource, Session};

const OPS: [&str; 4] = ["read", "update", "insert", "scan"];
const PER_SECOND: u64 = 200;
const START_S: i64 = 1_700_000_000;

fn worker_json(index: u32, count: u32, seconds: i64, decades: f64) -> Vec<u8> {
    let mut x = u64::from(index) * 2_654_435_761 + 1;
    let mut metrics = TestMetrics::default();
    for op in OPS {
        let mut m = OperationMetrics::new(false);
        for s in 0..seconds {
            let mut second = LatencyHistogram::new();
            for _ in 0..PER_SECOND {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = ((x >> 11) % 1_000_000) as f64 / 1e6;
                let ns = (1e5 * 10_f64.powf(decades * u)) as u64;
                m.record_ok(0, 0, ns, &OpMeta::default());
                second.record_ns(ns);
            }
            let sparse = SparseHistogram::from_histogram(&second);
            metrics
                .timeline
                .add(START_S + s, op, PER_SECOND, 0, &sparse)
                .expect("timeline add");
        }
        metrics.operations.insert(op.to_string(), m);
    }
    let mut r = WorkerResult::completed(
        "scale",
        "t",
        WorkerSlot { index, count },
        START_S * 1000,
        seconds as u64 * 1_000_000_000,
        metrics,
    );
    // Readied as a worker sends it: the whole-test latencies left to the timeline
    // (they are its seconds' sums), unless `LGB_SCALE_WHOLE=1` asks for them whole,
    // as workers of protocol version 1 sent them.
    if std::env::var_os("LGB_SCALE_WHOLE").is_none() {
        fit_response(&mut r, RESPONSE_BUDGET_BYTES);
        assert!(
            r.latency_in_timeline,
            "a synthetic worker's latencies are its seconds'"
        );
    }
    serde_json::to_vec(&r).expect("encode")
}

/// CPU time of this thread in seconds (Linux: the first field of its schedstat, ns).
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

fn peak_rss_mb() -> f64 {
    lgb_core::protocol::peak_rss_kb().map_or(f64::NAN, |k| k as f64 / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux), so each case's peak is its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let minutes: i64 = std::env::var("LGB_SCALE_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let seconds = minutes * 60;
    let decades: f64 = std::env::var("LGB_SCALE_DECADES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5.0);
    let config = Session::load(ConfigSource::Text(r#"{"database": {"type": "memory"}, "tests": [{"name": "t", "preset": "ycsb-c", "operations": 1}]}"#), &[], None).map(Session::into_config)
    .expect("config");
    let dir = tempfile_dir();
    println!(
        "{:>8} {:>22} {:>14} {:>10} {:>10} {:>14} {:>16} {:>12} {:>12}",
        "workers",
        "bytes/min/op (worker)",
        "merge CPU s",
        "decode s",
        "fold s",
        "peak RSS MB",
        "result.json MB",
        "load CPU s",
        "report CPU s"
    );
    let mut goals = Vec::new();
    // `LGB_SCALE_WORKERS=1000` runs one case.
    let cases: Vec<u32> = std::env::var("LGB_SCALE_WORKERS")
        .ok()
        .map(|v| v.split(',').filter_map(|w| w.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1_000]);
    for workers in cases {
        // One worker's encoding is generated per distinct seed; the runner decodes each.
        let sample = worker_json(0, workers, seconds, decades);
        let per_min_op = sample.len() as f64 / minutes as f64 / OPS.len() as f64;
        reset_peak();
        let test = TestConfig::new("t", OperationConfig::new("read"));
        let mut merge = TestMerge::new(&test, Phase::Run);
        let (mut decode, mut fold) = (0.0, 0.0);
        for w in 0..workers {
            let json = worker_json(w, workers, seconds, decades);
            // This thread's CPU time, so that other processes on the machine do not count.
            let t = cpu_s();
            let r: WorkerResult = serde_json::from_slice(&json).expect("decode");
            decode += cpu_s() - t;
            let t = cpu_s();
            merge.add(r, 1).expect("merge");
            fold += cpu_s() - t;
        }
        // The last batch of timelines is folded when the merge finishes.
        let t = cpu_s();
        let merged = merge.finish().expect("finish");
        fold += cpu_s() - t;
        let cpu = decode + fold;
        let rss = peak_rss_mb();
        let run = RunResult {
            schema_version: SCHEMA_VERSION,
            run_id: format!("scale-{workers}"),
            name: "scale".into(),
            created_at: String::new(),
            status: RunStatus::Completed,
            target: Target::Local,
            lgb_version: env!("CARGO_PKG_VERSION").into(),
            config: config.clone(),
            tests: vec![merged],
            incomplete: None,
        };
        let path = write_run(&run, &dir).expect("write");
        let size = std::fs::metadata(path.join("result.json")).map_or(0, |m| m.len());
        let t = cpu_s();
        let back = load_run(&path).expect("load");
        let load = cpu_s() - t;
        assert_eq!(back.tests[0].workers.len(), workers as usize);
        let t = cpu_s();
        let table = Report::new(back).to_bytes(Format::Table).expect("report");
        let report = cpu_s() - t;
        assert!(!table.is_empty());
        let mb = size as f64 / 1e6;
        println!(
            "{workers:>8} {per_min_op:>22.0} {cpu:>14.2} {decode:>10.2} {fold:>10.2} {rss:>14.1} {mb:>16.2} {load:>12.3} {report:>12.3}"
        );
        if workers == 1_000 && decades == 5.0 {
            match minutes {
                1 => goals.push(("1,000 workers × 1 min: merge CPU s", cpu, 0.5)),
                14 => goals.extend([
                    ("1,000 workers × 14 min: merge CPU s", cpu, 5.0),
                    ("1,000 workers × 14 min: runner peak RSS MB", rss, 300.0),
                    ("1,000 workers × 14 min: result.json MB", mb, 50.0),
                    ("1,000 workers × 14 min: load_run CPU s", load, 1.0),
                    (
                        "1,000 workers × 14 min: load + table report CPU s",
                        load + report,
                        1.0,
                    ),
                ]),
                _ => {}
            }
        }
    }
    if !goals.is_empty() {
        println!(
            "\n{:<52} {:>10} {:>10}  verdict",
            "figure (issue 31, 5 decades)", "measured", "goal <"
        );
        for (what, got, goal) in goals {
            let verdict = if got < goal { "met" } else { "NOT met" };
            println!("{what:<52} {got:>10.3} {goal:>10.1}  {verdict}");
        }
    }
    // `LGB_SCALE_KEEP=1` keeps the written results (to time `lgb report` or `lgb.load`).
    if std::env::var_os("LGB_SCALE_KEEP").is_some() {
        println!("results kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lgb-scale-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
