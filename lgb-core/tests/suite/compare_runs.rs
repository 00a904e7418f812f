//! `compare`: a known 2× slowdown is significant, identical runs are not.
use crate::report_common;

use lgb_core::report::compare::{compare, Metric};
use lgb_core::report::{Format, Report};
use report_common::{run, run_with, slow_run, Shape};

#[test]
fn a_known_2x_slowdown_is_significant_in_every_metric() {
    let base = run();
    let slow = slow_run();
    let cmp = compare(&[base.clone(), slow.clone()]).unwrap();
    assert_eq!(cmp.rows.len(), 2);
    assert!(cmp.unmatched.is_empty());
    let read = cmp.rows.iter().find(|r| r.operation == "read").unwrap();
    assert_eq!(read.run_id, slow.run_id);
    assert_eq!(
        read.seconds,
        [8, 8],
        "10 seconds less the partial first and last"
    );
    for m in Metric::ALL {
        let c = read.change(m).unwrap();
        assert_eq!(c.significant, Some(true), "{m:?}: {c:?}");
        let pct = c.change_pct.unwrap();
        // Throughput halves (±rounding); latencies double, the tails within the
        // precision of which seconds' slow operations fall at the percentile.
        let (want, within) = if m == Metric::Throughput {
            (-50.0, 3.0)
        } else {
            (100.0, 15.0)
        };
        assert!(
            (pct - want).abs() < within,
            "{m:?} changed {pct}%, want about {want}%"
        );
        assert_eq!(c.verdict(), Some(false), "a regression");
        let (lo, hi) = (c.ci_low_pct.unwrap(), c.ci_high_pct.unwrap());
        assert!(lo <= hi && (lo > 0.0 || hi < 0.0));
    }
    // The change is computed from the merged histograms, exactly.
    let p99 = read.change(Metric::P99).unwrap();
    assert_eq!(
        p99.baseline,
        base.tests[0].metrics.operations["read"]
            .latency
            .quantile_ns(0.99) as f64
    );
    assert_eq!(
        p99.value,
        slow.tests[0].metrics.operations["read"]
            .latency
            .quantile_ns(0.99) as f64
    );
}

#[test]
fn identical_runs_are_not_significant() {
    let a = run();
    let cmp = compare(&[a.clone(), a.clone()]).unwrap();
    for row in &cmp.rows {
        for c in &row.changes {
            assert_eq!(c.change_pct, Some(0.0), "{c:?}");
            assert_eq!(c.significant, Some(false), "{c:?}");
            assert_eq!(c.verdict(), None);
        }
    }
}

#[test]
fn comparisons_are_repeatable_and_name_unmatched_operations() {
    let a = run();
    let mut b = run_with(
        "dynamodb",
        Shape {
            slowdown: 1.1,
            phase: 2,
        },
    );
    b.tests[0].metrics.operations.remove("update");
    let one = compare(&[a.clone(), b.clone()]).unwrap();
    let two = compare(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(one, two, "fixed seed");
    assert_eq!(one.rows.len(), 1);
    assert_eq!(one.unmatched.len(), 1);
    assert!(
        one.unmatched[0].contains("ycsb-b/update"),
        "{:?}",
        one.unmatched
    );
    assert!(compare(std::slice::from_ref(&a)).is_err());
}

#[test]
fn comparison_formats_state_the_method() {
    let report = Report::compare(vec![run(), slow_run()])
        .unwrap()
        .with_width(Some(140));
    let table = String::from_utf8(report.to_bytes(Format::Table).unwrap()).unwrap();
    assert!(
        table.contains("bootstrap") && table.contains("+100"),
        "{table}"
    );
    let md = String::from_utf8(report.to_bytes(Format::Markdown).unwrap()).unwrap();
    assert!(
        md.contains("_Method:_") && md.contains("| test | op | run |"),
        "{md}"
    );
    let csv = String::from_utf8(report.to_bytes(Format::Csv).unwrap()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * Metric::ALL.len(), "{csv}");
    assert!(
        csv.starts_with("test,operation,baseline_run,run,metric,baseline,value,change_pct"),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&report.to_bytes(Format::Json).unwrap()).unwrap();
    assert!(json["method"].as_str().unwrap().contains("1000 resamples"));
    assert_eq!(json["rows"].as_array().unwrap().len(), 2);
    assert_eq!(json["costs"].as_array().unwrap().len(), 2);
}
