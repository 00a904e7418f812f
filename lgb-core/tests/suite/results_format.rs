//! The results directory: HdrHistogram interval logs read back by the hdrhistogram
//! crate's own reader, and `result.json` versions (an old v1 file keeps loading; newer
//! or foreign files fail with a clear message).
use crate::report_common;

use std::path::{Path, PathBuf};

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use lgb_core::report::{Format, Report};
use lgb_core::results::{load_run, write_run};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn interval_logs_read_back_with_the_hdrhistogram_reader() {
    let run = report_common::run();
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_run(&run, tmp.path()).unwrap();
    for (op, m) in &run.tests[0].metrics.operations {
        let bytes = std::fs::read(dir.join(format!("hdr/ycsb-b.{op}.hlog"))).unwrap();
        let mut total: Histogram<u64> = Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        let mut intervals = 0;
        let mut first_start = None;
        for entry in IntervalLogIterator::new(&bytes) {
            match entry.unwrap() {
                LogEntry::Interval(h) => {
                    assert_eq!(h.tag().map(|t| t.as_str()), Some(op.as_str()));
                    assert_eq!(h.duration(), std::time::Duration::from_secs(1));
                    first_start.get_or_insert(h.start_timestamp());
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(h.encoded_histogram())
                        .unwrap();
                    let part: Histogram<u64> = Deserializer::new()
                        .deserialize(&mut raw.as_slice())
                        .unwrap();
                    // The log's max column is in ms (values are ns, divisor 1e6).
                    assert!((h.max() - part.max() as f64 / 1e6).abs() < 0.01 * h.max().max(1.0));
                    total.add(&part).unwrap();
                    intervals += 1;
                }
                LogEntry::StartTime(t) | LogEntry::BaseTime(t) => {
                    assert_eq!(t.as_secs() as i64, report_common::START_S);
                }
            }
        }
        assert_eq!(intervals, report_common::SECONDS, "one interval per second");
        assert_eq!(first_start, Some(std::time::Duration::ZERO));
        // Exactly the test's histogram: same count and same values at every quantile.
        assert_eq!(total.len(), m.latency.len(), "{op}");
        assert_eq!(total.len(), m.ok);
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                total.value_at_quantile(q),
                m.latency.quantile_ns(q),
                "{op} q={q}"
            );
        }
    }
}

#[test]
fn a_version_1_result_keeps_loading_and_reporting() {
    let run = load_run(&fixture("result-v1.json")).unwrap();
    assert_eq!(run.schema_version, 1);
    assert_eq!(run.name, "v1-fixture");
    let names: Vec<_> = run.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["load", "ycsb-a"]);
    let ops = &run.tests[1].metrics.operations;
    assert_eq!((ops["read"].ok, ops["update"].ok), (199, 201));
    assert_eq!(ops["read"].latency.len(), 199, "histograms decode");
    // Version 1 stored full histograms in the timeline; they load as sparse ones, exactly.
    let timeline = &run.tests[1].metrics.timeline;
    let read_seconds: u64 = timeline
        .points()
        .filter(|p| p.operation == "read")
        .map(|p| p.latency.len())
        .sum();
    assert_eq!(read_seconds, 199, "timeline histograms decode");
    let report = Report::new(run);
    for f in Format::ALL {
        assert!(!report.to_bytes(f).unwrap().is_empty(), "{f:?}");
    }
}

#[test]
fn newer_and_foreign_files_fail_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let v1: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("result-v1.json")).unwrap()).unwrap();

    let mut newer = v1.clone();
    let next = lgb_core::results::SCHEMA_VERSION + 1;
    newer["schema_version"] = next.into();
    let p = tmp.path().join("newer.json");
    std::fs::write(&p, newer.to_string()).unwrap();
    let err = load_run(&p).unwrap_err().to_string();
    assert!(
        err.contains(&format!("schema version {next}")) && err.contains("newer lgb"),
        "{err}"
    );

    let mut foreign = v1.clone();
    foreign.as_object_mut().unwrap().remove("schema_version");
    std::fs::write(&p, foreign.to_string()).unwrap();
    let err = load_run(&p).unwrap_err().to_string();
    assert!(
        err.contains("schema_version") && err.contains("not an lgb result"),
        "{err}"
    );

    let mut broken = v1;
    broken["tests"][1]["metrics"]["operations"]["read"]["latency"] = "not a histogram".into();
    std::fs::write(&p, broken.to_string()).unwrap();
    let err = load_run(&p).unwrap_err().to_string();
    assert!(
        err.contains("tests[1].metrics.operations.read.latency"),
        "names the path: {err}"
    );
}
