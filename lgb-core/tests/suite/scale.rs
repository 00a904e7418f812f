//! Results at the scale lgb is for: a worst-case 14-minute worker result fits Lambda's
//! 6 MB response (coarsening its timeline, and saying so, if it must), and 1,000 merged
//! workers give exactly the per-second and whole-test percentiles of one histogram of
//! all their samples.

use lgb_core::config::{OperationConfig, TestConfig};
use lgb_core::metrics::{LatencyHistogram, OperationMetrics, SparseHistogram, TestMetrics};
use lgb_core::protocol::{
    fit_response, Phase, WorkerResult, WorkerSlot, RESPONSE_BUDGET_BYTES, RESPONSE_LIMIT_BYTES,
};
use lgb_core::record::OpMeta;
use lgb_core::runner::TestMerge;

const START_S: i64 = 1_700_000_000;
const QUANTILES: [f64; 7] = [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0];

/// A small deterministic generator (no shared state between workers).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }
    /// Log-uniform latency between 100 µs and 10 s: the widest spread a second sees.
    fn latency(&mut self) -> u64 {
        let u = (self.next() % 1_000_000) as f64 / 1e6;
        (1e5 * 1e5_f64.powf(u)) as u64
    }
}

/// A worker result of `seconds` seconds with `per_second` samples per second for each of
/// `ops`; calls `seen` with every (second, op index, latency).
fn worker(
    index: u32,
    seconds: i64,
    ops: &[&str],
    per_second: u64,
    seed: u64,
    mut seen: impl FnMut(i64, usize, u64),
) -> WorkerResult {
    let mut rng = Lcg(seed);
    let mut metrics = TestMetrics::default();
    for (k, op) in ops.iter().enumerate() {
        let mut m = OperationMetrics::new(false);
        for s in 0..seconds {
            let mut second = LatencyHistogram::new();
            for _ in 0..per_second {
                let ns = rng.latency();
                m.record_ok(0, 0, ns, &OpMeta::default());
                second.record_ns(ns);
                seen(s, k, ns);
            }
            metrics
                .timeline
                .add(
                    START_S + s,
                    op,
                    per_second,
                    0,
                    &SparseHistogram::from_histogram(&second),
                )
                .unwrap();
        }
        metrics.operations.insert(op.to_string(), m);
    }
    WorkerResult::completed(
        "scale",
        "t",
        WorkerSlot { index, count: 1 },
        START_S * 1000,
        seconds as u64 * 1_000_000_000,
        metrics,
    )
}

#[test]
fn a_worst_case_fourteen_minute_worker_result_fits_lambdas_response_limit() {
    let ops = ["read", "update", "insert", "scan"];
    // 14 minutes, 4 kinds, 500 operations per second each spread over five decades.
    let mut r = worker(0, 14 * 60, &ops, 500, 1, |_, _, _| {});
    let full = serde_json::to_vec(&r).unwrap().len();
    eprintln!(
        "14-minute worker result, full precision: {full} bytes ({:.0} bytes per minute per operation)",
        full as f64 / 14.0 / 4.0
    );
    let before = r.metrics.operations["read"].latency.clone();
    let bytes = fit_response(&mut r, RESPONSE_BUDGET_BYTES);
    eprintln!(
        "after fit_response: {bytes} bytes, timeline shift {}",
        r.timeline_shift
    );
    assert!(bytes <= RESPONSE_BUDGET_BYTES, "{bytes} bytes");
    assert!(bytes < RESPONSE_LIMIT_BYTES * 9 / 10);
    assert_eq!(serde_json::to_vec(&r).unwrap().len(), bytes);
    // Whole-test histograms are never coarsened: sent whole, or left to an exact
    // timeline whose seconds sum to them.
    assert_eq!(r.latencies()["read"], before);
    assert_eq!(r.latency_in_timeline, r.timeline_shift == 0);
    // A full-precision result under the budget is left at full precision; one over it,
    // even without its whole-test histograms, says so.
    if full <= RESPONSE_BUDGET_BYTES {
        assert_eq!(r.timeline_shift, 0);
    }
    if r.timeline_shift > 0 {
        assert!(full > RESPONSE_BUDGET_BYTES);
        assert!(r
            .metrics
            .timeline
            .points()
            .all(|p| p.latency.shift() == r.timeline_shift));
    }
}

#[test]
fn a_result_over_budget_is_coarsened_and_says_so() {
    let mut r = worker(0, 60, &["read", "update"], 2_000, 2, |_, _, _| {});
    let full = serde_json::to_vec(&r).unwrap().len();
    let budget = full / 2;
    let bytes = fit_response(&mut r, budget);
    assert!(bytes <= budget, "{bytes} > {budget}");
    assert!(r.timeline_shift >= 3);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"timeline_shift\":"), "the result says so");
    // Coarse per-second counts still add up.
    let ops: u64 = r.metrics.timeline.points().map(|p| p.latency.len()).sum();
    assert_eq!(ops, 60 * 2 * 2_000);
}

#[test]
fn a_thousand_merged_workers_give_the_percentiles_of_one_histogram() {
    let (workers, seconds, ops) = (1_000u32, 5i64, ["read", "update"]);
    let mut all: Vec<LatencyHistogram> = ops.iter().map(|_| LatencyHistogram::new()).collect();
    let mut per_second: Vec<Vec<LatencyHistogram>> = (0..seconds)
        .map(|_| ops.iter().map(|_| LatencyHistogram::new()).collect())
        .collect();
    let test = TestConfig::new("t", OperationConfig::new("read"));
    let mut merge = TestMerge::new(&test, Phase::Run);
    let mut merge_cpu = std::time::Duration::ZERO;
    for w in 0..workers {
        let r = worker(w, seconds, &ops, 20, u64::from(w) + 7, |s, k, ns| {
            all[k].record_ns(ns);
            per_second[s as usize][k].record_ns(ns);
        });
        // Across the wire as JSON, as from Lambda.
        let json = serde_json::to_vec(&r).unwrap();
        let t = std::time::Instant::now();
        let r: WorkerResult = serde_json::from_slice(&json).unwrap();
        merge.add(r, 1).unwrap();
        merge_cpu += t.elapsed();
    }
    eprintln!("decoding and merging {workers} worker results: {merge_cpu:?}");
    let merged = merge.finish().unwrap();
    assert_eq!(merged.workers.len(), workers as usize);
    for (k, op) in ops.iter().enumerate() {
        let m = &merged.metrics.operations[*op];
        assert_eq!(m.latency, all[k]);
        for q in QUANTILES {
            assert_eq!(
                m.latency.quantile_ns(q),
                all[k].quantile_ns(q),
                "{op} q={q}"
            );
        }
    }
    let points: Vec<_> = merged.metrics.timeline.points().collect();
    assert_eq!(points.len(), seconds as usize * ops.len());
    for p in points {
        let k = ops.iter().position(|o| *o == p.operation).unwrap();
        let want = &per_second[(p.second - START_S) as usize][k];
        assert_eq!(p.latency.len(), want.len());
        assert_eq!(p.latency.to_histogram(), *want);
        for q in QUANTILES {
            assert_eq!(
                p.latency.quantile_ns(q),
                want.quantile_ns(q),
                "{} q={q}",
                p.second
            );
        }
        assert_eq!(p.latency.max_ns(), want.summary().max_ns);
    }
}
