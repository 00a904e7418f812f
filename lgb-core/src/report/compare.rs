//! Comparison of runs: for each test and operation found in the baseline and in another
//! run, the change in throughput and in each percentile, and whether the change is
//! significant.
//!
//! Method (also printed with every comparison, see [`METHOD`]): a percentile bootstrap
//! over the per-second timeline. For each run, the seconds of a test and operation give
//! one sample each (its throughput, and its p50/p90/p99/p99.9 from that second's
//! histogram); the first and last second are left out when there are at least three,
//! because they are partial. Seconds are resampled with replacement from each run
//! separately, 1000 times, with a fixed seed; each resample gives the difference of the
//! two means. The 2.5th and 97.5th percentiles of those differences are the 95%
//! confidence interval, and a change is significant when that interval excludes 0.
//! Fewer than two seconds on either side gives no verdict.
//!
//! The change itself is computed from the merged, exact histograms of the whole test:
//! the bootstrap only decides whether it is more than second-to-second noise.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::results::{RunResult, TestResult};

/// Resamples drawn per metric.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;
/// Seed of every bootstrap, so that a comparison is repeatable.
pub const BOOTSTRAP_SEED: u64 = 0x6c67_625f_626f_6f74;
/// Two-sided confidence level of the interval.
pub const CONFIDENCE: f64 = 0.95;

/// The method, in words, as reports state it.
pub const METHOD: &str = "Change = (run − baseline) / baseline, from the merged histograms of the whole test. \
Significance: percentile bootstrap over the per-second timeline (each second of a test and operation is one \
sample of throughput and of p50/p90/p99/p99.9; first and last seconds dropped as partial when there are at \
least 3), 1000 resamples with replacement from each run, fixed seed; 95% confidence interval of the \
difference of the per-second means, shown relative to the baseline's per-second mean. Significant (*) when \
the interval excludes 0; no verdict with fewer than 2 seconds in either run.";

/// What is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Operations per second.
    Throughput,
    /// Median latency.
    P50,
    /// 90th percentile latency.
    P90,
    /// 99th percentile latency.
    P99,
    /// 99.9th percentile latency.
    P999,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 5] = [
        Metric::Throughput,
        Metric::P50,
        Metric::P90,
        Metric::P99,
        Metric::P999,
    ];

    /// Short name: `throughput`, `p50`, …, `p99.9`.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
        }
    }

    /// The quantile of a latency metric.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Metric::Throughput => None,
            Metric::P50 => Some(0.5),
            Metric::P90 => Some(0.9),
            Metric::P99 => Some(0.99),
            Metric::P999 => Some(0.999),
        }
    }

    /// Whether a larger value is an improvement (throughput) or a regression (latency).
    pub fn higher_is_better(self) -> bool {
        self == Metric::Throughput
    }
}

/// The change of one metric between the baseline and a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricChange {
    /// Which metric.
    pub metric: Metric,
    /// Baseline value: ops/s for throughput, ns for percentiles.
    pub baseline: f64,
    /// The run's value, same unit.
    pub value: f64,
    /// `(value − baseline) / baseline × 100`; `None` when the baseline is 0.
    pub change_pct: Option<f64>,
    /// Lower bound of the 95% interval of the per-second difference, % of the baseline.
    pub ci_low_pct: Option<f64>,
    /// Upper bound of that interval.
    pub ci_high_pct: Option<f64>,
    /// Whether the interval excludes 0; `None` when there were too few seconds.
    pub significant: Option<bool>,
}

impl MetricChange {
    /// Whether this is a significant improvement (`Some(true)`), a significant
    /// regression (`Some(false)`), or neither (`None`).
    pub fn verdict(&self) -> Option<bool> {
        match (self.significant, self.change_pct) {
            (Some(true), Some(c)) if c != 0.0 => Some((c > 0.0) == self.metric.higher_is_better()),
            _ => None,
        }
    }
}

/// One test and operation of one run, against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// Test name.
    pub test: String,
    /// Operation kind.
    pub operation: String,
    /// Id of the compared run.
    pub run_id: String,
    /// Per-second samples used from the baseline and from the run.
    pub seconds: [usize; 2],
    /// Changes, in [`Metric::ALL`] order.
    pub changes: Vec<MetricChange>,
}

impl ComparisonRow {
    /// The change of `metric`.
    pub fn change(&self, metric: Metric) -> Option<&MetricChange> {
        self.changes.iter().find(|c| c.metric == metric)
    }
}

/// Identifies a run in a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLabel {
    /// Run id.
    pub run_id: String,
    /// Benchmark name.
    pub name: String,
    /// When it started (RFC 3339).
    pub created_at: String,
    /// Database type.
    pub database: String,
}

impl RunLabel {
    fn of(run: &RunResult) -> Self {
        Self {
            run_id: run.run_id.clone(),
            name: run.name.clone(),
            created_at: run.created_at.clone(),
            database: run.config.database.kind.clone(),
        }
    }
}

/// Several runs against the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// How changes and significance are computed ([`METHOD`]).
    pub method: String,
    /// The run the others are compared to.
    pub baseline: RunLabel,
    /// The other runs, in the order given.
    pub runs: Vec<RunLabel>,
    /// One row per run, test and operation present in both.
    pub rows: Vec<ComparisonRow>,
    /// `run_id: test/operation` pairs found in only one of the two runs.
    pub unmatched: Vec<String>,
}

/// Per-second samples of one test and operation.
#[derive(Debug, Default)]
struct Seconds {
    throughput: Vec<f64>,
    quantiles: [Vec<f64>; 4],
}

/// Most seconds of one test a comparison lays out one by one (a day; a test lasts at
/// most 14 minutes).
const MAX_COMPARED_SECONDS: usize = 86_400;

fn seconds_of(test: &TestResult, op: &str) -> Seconds {
    let points: Vec<_> = test
        .metrics
        .timeline
        .points()
        .filter(|p| p.operation == op)
        .collect();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Seconds::default();
    };
    // A second in which no operation ended is a second of zero throughput. A span
    // longer than any test can be (a damaged or hostile file) keeps only the seconds
    // that have points rather than allocating a slot for each second between them.
    let span = usize::try_from(last.second.abs_diff(first.second))
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let mut slots: Vec<Option<&crate::metrics::TimelinePoint>> = if span <= MAX_COMPARED_SECONDS {
        let mut slots = vec![None; span];
        for p in &points {
            let at = usize::try_from(p.second.abs_diff(first.second)).unwrap_or(usize::MAX);
            if let Some(slot) = slots.get_mut(at) {
                *slot = Some(*p);
            }
        }
        slots
    } else {
        points.iter().copied().map(Some).collect()
    };
    if slots.len() >= 3 {
        slots.remove(0);
        slots.pop();
    }
    let mut s = Seconds::default();
    for slot in slots {
        s.throughput.push(slot.map_or(0.0, |p| p.ops as f64));
        if let Some(p) = slot.filter(|p| !p.latency.is_empty()) {
            for (i, q) in [0.5, 0.9, 0.99, 0.999].into_iter().enumerate() {
                s.quantiles[i].push(p.latency.quantile_ns(q) as f64);
            }
        }
    }
    s
}

impl Seconds {
    fn of(&self, metric: Metric) -> &[f64] {
        match metric {
            Metric::Throughput => &self.throughput,
            Metric::P50 => &self.quantiles[0],
            Metric::P90 => &self.quantiles[1],
            Metric::P99 => &self.quantiles[2],
            Metric::P999 => &self.quantiles[3],
        }
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The 95% percentile-bootstrap interval of `mean(b) − mean(a)`, or `None` with fewer
/// than two samples on either side.
pub(crate) fn bootstrap_mean_difference(
    a: &[f64],
    b: &[f64],
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    if a.len() < 2 || b.len() < 2 || resamples == 0 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let resample_mean = |v: &[f64], rng: &mut StdRng| {
        let mut sum = 0.0;
        for _ in 0..v.len() {
            sum += v[rng.gen_range(0..v.len())];
        }
        sum / v.len() as f64
    };
    let mut diffs: Vec<f64> = (0..resamples)
        .map(|_| {
            let ma = resample_mean(a, &mut rng);
            let mb = resample_mean(b, &mut rng);
            mb - ma
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let lo = ((resamples as f64 * tail).floor() as usize).min(resamples - 1);
    let hi = ((resamples as f64 * (1.0 - tail)).ceil() as usize)
        .saturating_sub(1)
        .min(resamples - 1);
    Some((diffs[lo], diffs[hi]))
}

fn pct(delta: f64, base: f64) -> Option<f64> {
    (base != 0.0).then(|| delta / base * 100.0)
}

fn whole_value(test: &TestResult, op: &str, metric: Metric) -> f64 {
    match metric.quantile() {
        None => test.throughput_of(op),
        Some(q) => test
            .metrics
            .operations
            .get(op)
            .map_or(0.0, |m| m.latency.quantile_ns(q) as f64),
    }
}

fn compare_pair(base: &TestResult, other: &TestResult, op: &str, run_id: &str) -> ComparisonRow {
    let (sa, sb) = (seconds_of(base, op), seconds_of(other, op));
    let changes = Metric::ALL
        .iter()
        .map(|&metric| {
            let baseline = whole_value(base, op, metric);
            let value = whole_value(other, op, metric);
            let (a, b) = (sa.of(metric), sb.of(metric));
            let ci = bootstrap_mean_difference(a, b, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED);
            let base_mean = if a.is_empty() { 0.0 } else { mean(a) };
            let ci_pct = ci.and_then(|(lo, hi)| Some((pct(lo, base_mean)?, pct(hi, base_mean)?)));
            MetricChange {
                metric,
                baseline,
                value,
                change_pct: pct(value - baseline, baseline),
                ci_low_pct: ci_pct.map(|c| c.0),
                ci_high_pct: ci_pct.map(|c| c.1),
                significant: ci.map(|(lo, hi)| lo > 0.0 || hi < 0.0),
            }
        })
        .collect();
    ComparisonRow {
        test: base.name.clone(),
        operation: op.to_string(),
        run_id: run_id.to_string(),
        seconds: [sa.throughput.len(), sb.throughput.len()],
        changes,
    }
}

/// Compares `runs[1..]` with `runs[0]`, test by test (matched by name) and operation
/// by operation.
pub fn compare(runs: &[RunResult]) -> Result<Comparison> {
    let Some((baseline, others)) = runs.split_first() else {
        return Err(Error::config("runs", "comparing needs at least two runs"));
    };
    if others.is_empty() {
        return Err(Error::config("runs", "comparing needs at least two runs"));
    }
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for other in others {
        for bt in &baseline.tests {
            let ot = other.tests.iter().find(|t| t.name == bt.name);
            for op in bt.metrics.operations.keys() {
                match ot.filter(|t| t.metrics.operations.contains_key(op)) {
                    Some(ot) => rows.push(compare_pair(bt, ot, op, &other.run_id)),
                    None => unmatched.push(format!(
                        "{}: {}/{} only in the baseline",
                        other.run_id, bt.name, op
                    )),
                }
            }
        }
        for ot in &other.tests {
            let bt = baseline.tests.iter().find(|t| t.name == ot.name);
            for op in ot.metrics.operations.keys() {
                if !bt.is_some_and(|t| t.metrics.operations.contains_key(op)) {
                    unmatched.push(format!(
                        "{}: {}/{} not in the baseline",
                        other.run_id, ot.name, op
                    ));
                }
            }
        }
    }
    Ok(Comparison {
        method: METHOD.to_string(),
        baseline: RunLabel::of(baseline),
        runs: others.iter().map(RunLabel::of).collect(),
        rows,
        unmatched,
    })
}

/// A signed percentage with a significance mark: `+102.3%*`, `-0.4%`, `n/a`.
pub(crate) fn format_change(c: &MetricChange) -> String {
    match c.change_pct {
        None => "n/a".into(),
        Some(p) => format!(
            "{p:+.1}%{}",
            if c.significant == Some(true) { "*" } else { "" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_separates_shifted_samples_and_not_equal_ones() {
        let a: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 5)).collect();
        let b: Vec<f64> = a.iter().map(|v| v * 2.0).collect();
        let (lo, hi) = bootstrap_mean_difference(&a, &b, 1000, 1).unwrap();
        assert!(lo > 90.0 && hi < 115.0, "{lo} {hi}");
        let (lo, hi) = bootstrap_mean_difference(&a, &a, 1000, 1).unwrap();
        assert!(lo <= 0.0 && hi >= 0.0, "{lo} {hi}");
        assert_eq!(
            bootstrap_mean_difference(&a, &b, 1000, 1),
            bootstrap_mean_difference(&a, &b, 1000, 1)
        );
        assert!(bootstrap_mean_difference(&a[..1], &b, 1000, 1).is_none());
    }
}
