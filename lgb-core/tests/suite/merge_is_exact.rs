//! Merging what N workers measured gives exactly what one histogram of all their
//! samples would hold: through the wire encoding, through `runner::merge`, and end to
//! end with several local workers.

use lgb_core::metrics::{LatencyHistogram, OperationMetrics, SparseHistogram, TestMetrics};
use lgb_core::protocol::{Phase, WorkerResult, WorkerSlot};
use lgb_core::record::OpMeta;
use lgb_core::runner::merge;
use lgb_core::session::{ConfigSource, Session};
use proptest::prelude::*;

fn worker_result(index: u32, count: u32, samples: &[u64]) -> WorkerResult {
    let mut m = OperationMetrics::new(false);
    let mut metrics = TestMetrics::default();
    for (i, &ns) in samples.iter().enumerate() {
        m.record_ok(
            0,
            0,
            ns,
            &OpMeta {
                items: 1,
                ..OpMeta::default()
            },
        );
        let mut h = LatencyHistogram::new();
        h.record_ns(ns);
        metrics
            .timeline
            .add(
                1_700_000_000 + (i % 3) as i64,
                "read",
                1,
                0,
                &SparseHistogram::from_histogram(&h),
            )
            .unwrap();
    }
    metrics.operations.insert("read".into(), m);
    WorkerResult::completed(
        "r",
        "t",
        WorkerSlot { index, count },
        1_700_000_000_000,
        3_000_000_000,
        metrics,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn merged_workers_equal_one_histogram_of_all_samples(
        workers in prop::collection::vec(prop::collection::vec(0u64..120_000_000_000, 0..300), 1..8)
    ) {
        let count = workers.len() as u32;
        // Every worker result crosses the wire as JSON, as it would from Lambda.
        let outcomes: Vec<(WorkerResult, u32)> = workers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let json = serde_json::to_vec(&worker_result(i as u32, count, s)).unwrap();
                (serde_json::from_slice(&json).unwrap(), 1)
            })
            .collect();
        let test = lgb_core::config::TestConfig::new("t", lgb_core::config::OperationConfig::new("read"));
        let merged = merge(&test, Phase::Run, outcomes).unwrap();

        let mut all = LatencyHistogram::new();
        let mut n = 0;
        for s in &workers {
            for &v in s {
                all.record_ns(v);
                n += 1;
            }
        }
        let m = &merged.metrics.operations["read"];
        prop_assert_eq!(&m.latency, &all);
        prop_assert_eq!(m.ok, n);
        prop_assert_eq!(m.meta.items, n);
        // The timeline merges exactly too: its histograms add up to the total.
        let mut from_timeline = LatencyHistogram::new();
        for p in merged.metrics.timeline.points() {
            from_timeline.add(&p.latency.to_histogram());
        }
        prop_assert_eq!(from_timeline, all);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_local_workers_merge_to_the_sum_of_their_parts() {
    let config = Session::load(
        ConfigSource::Text(
            r#"{
            "database": {"type": "memory"},
            "workload": {"records": 2000, "fields": 2, "field_size": 16},
            "runner": {"workers": 4},
            "tests": [{"name": "a", "preset": "ycsb-a", "operations": 40001, "concurrency": 2}]
        }"#,
        ),
        &[],
        None,
    )
    .map(Session::into_config)
    .unwrap();
    let run = crate::common::exec::run_local(&config).await;
    let load = &run.tests[0];
    assert_eq!(
        load.metrics.operations["load"].meta.items, 2000,
        "every record loaded once"
    );
    let t = &run.tests[1];
    assert_eq!(t.workers.len(), 4);
    let per_worker: u64 = t.workers.iter().map(|w| w.ops).sum();
    assert_eq!(per_worker, 40001);
    assert_eq!(t.metrics.ok() + t.metrics.failed(), 40001);
    assert_eq!(t.metrics.failed(), 0, "{:?}", t.metrics.operations);
    let hist_total: u64 = t.metrics.operations.values().map(|m| m.latency.len()).sum();
    assert_eq!(hist_total, 40001);
    let reads = t.metrics.operations["read"].ok as f64 / 40001.0;
    assert!((reads - 0.5).abs() < 0.02, "ycsb-a is half reads: {reads}");
}

/// A worker result as workers before the binary form sent it: the timeline as a list of
/// points (each histogram an HdrHistogram V2 encoding, the oldest form) and the
/// whole-test histograms in V2. It still decodes, and merges to what the binary form
/// of the same result merges to.
#[test]
fn a_worker_result_of_the_old_form_still_loads_and_merges_the_same() {
    let samples: Vec<u64> = (0..500).map(|i| 1_000 + i * 7_919 % 3_000_000).collect();
    let new = worker_result(0, 2, &samples);
    let mut old = serde_json::to_value(&new).unwrap();
    assert!(
        old["metrics"]["timeline"].is_string(),
        "the binary form travels as a string"
    );
    old["metrics"]["timeline"] = new
        .metrics
        .timeline
        .points()
        .map(|p| {
            serde_json::json!({
                "second": p.second, "operation": p.operation, "ops": p.ops,
                "errors": p.errors, "latency": p.latency.to_histogram().encode()
            })
        })
        .collect();
    let read = &new.metrics.operations["read"];
    old["metrics"]["operations"]["read"]["latency"] = read.latency.encode().into();
    old["metrics"]["operations"]["read"]["failed_latency"] = read.failed_latency.encode().into();
    let old: WorkerResult = serde_json::from_value(old).unwrap();
    assert_eq!(old, new);
    let other = worker_result(1, 2, &samples[..100]);
    let test =
        lgb_core::config::TestConfig::new("t", lgb_core::config::OperationConfig::new("read"));
    let through_json =
        |r: &WorkerResult| serde_json::from_slice(&serde_json::to_vec(r).unwrap()).unwrap();
    let a = merge(&test, Phase::Run, vec![(old, 1), (through_json(&other), 1)]).unwrap();
    let b = merge(
        &test,
        Phase::Run,
        vec![(through_json(&new), 1), (through_json(&other), 1)],
    )
    .unwrap();
    assert_eq!(a.metrics, b.metrics);
}

/// A worker result whose timeline or whole-test histogram is corrupt after thousands of
/// good pairs is refused whole when it is decoded (every pair is checked before the
/// merge reads any), so a merge never holds part of it.
#[test]
fn a_worker_result_corrupt_at_its_end_is_refused_whole() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let samples: Vec<u64> = (0..5_000).map(|i| 1_000 + i * 7_919 % 3_000_000).collect();
    let good = serde_json::to_value(worker_result(0, 2, &samples)).unwrap();
    let corrupt = |path: &[&str], bytes: &dyn Fn(&mut Vec<u8>)| {
        let mut v = good.clone();
        let field = path.iter().fold(&mut v, |v, k| &mut v[*k]);
        let mut raw = b64.decode(field.as_str().unwrap()).unwrap();
        bytes(&mut raw);
        *field = b64.encode(&raw).into();
        serde_json::from_value::<WorkerResult>(v)
            .unwrap_err()
            .to_string()
    };
    // One byte past the last pair; the last pair cut short.
    let e = corrupt(&["metrics", "timeline"], &|b| b.push(0));
    assert!(e.contains("trailing bytes"), "{e}");
    let e = corrupt(&["metrics", "timeline"], &|b| {
        b.pop();
    });
    assert!(e.contains("truncated"), "{e}");
    let latency = ["metrics", "operations", "read", "latency"];
    let e = corrupt(&latency, &|b| b.push(0));
    assert!(e.contains("trailing bytes"), "{e}");
    let e = corrupt(&latency, &|b| {
        b.pop();
    });
    assert!(e.contains("truncated"), "{e}");
    assert!(serde_json::from_value::<WorkerResult>(good).is_ok());
}
