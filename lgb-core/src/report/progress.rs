//! Progress of a running test, for people: what `lgb run`'s bar and Python's progress
//! object show while a test runs, and the line each prints when it ends.
//!
//! The executor counts into an [`executor::Progress`](crate::executor::Progress); a
//! frontend's [`RunObserver`](crate::runner::RunObserver) starts a [`TestProgress`]
//! when a test starts, asks it for a [`ProgressSnapshot`] whenever it redraws, and
//! prints [`finished_line`] when the test ends. Frontends only draw; the wording,
//! the fraction done and the rates are computed here, once.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{format_ns, format_rate};
use crate::config::TestConfig;
use crate::executor::Progress;
use crate::protocol::Phase;
use crate::results::TestResult;

/// One test (or load phase) in progress: its label and how long it is planned to be.
#[derive(Debug, Clone)]
pub struct TestProgress {
    label: String,
    started: Instant,
    planned: Option<Duration>,
    planned_ops: Option<u64>,
}

impl TestProgress {
    /// Starts following `test` in `phase` on `workers` workers, and zeroes `progress`'s
    /// counters (the executor counts every test into the same [`Progress`]).
    pub fn start(progress: &Progress, test: &TestConfig, phase: Phase, workers: u32) -> Self {
        progress.ops.store(0, Ordering::Relaxed);
        progress.errors.store(0, Ordering::Relaxed);
        progress.measuring.store(false, Ordering::Relaxed);
        let (name, planned) = match phase {
            Phase::Load => ("load".to_string(), None),
            Phase::Run => (
                test.name.clone(),
                // Saturating: a config built in code may hold any durations.
                test.effective_duration()
                    .map(|d| d.saturating_add(test.warmup.0)),
            ),
        };
        Self {
            label: format!("{name} ×{workers}"),
            started: Instant::now(),
            planned,
            planned_ops: test.operations,
        }
    }

    /// What a bar shows before it: the test's name (`load` for the load phase) and
    /// its number of workers, `read-heavy ×4`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The counters now.
    pub fn snapshot(&self, progress: &Progress) -> ProgressSnapshot {
        self.snapshot_at(progress, self.started.elapsed())
    }

    /// The counters as they would read `elapsed` after the start.
    pub fn snapshot_at(&self, progress: &Progress, elapsed: Duration) -> ProgressSnapshot {
        let ops = progress.ops.load(Ordering::Relaxed);
        let fraction = match (self.planned_ops, self.planned) {
            (Some(total), _) => Some((ops as f64 / total.max(1) as f64).min(1.0)),
            (None, Some(d)) => Some((elapsed.as_secs_f64() / d.as_secs_f64().max(1e-3)).min(1.0)),
            _ => None,
        };
        ProgressSnapshot {
            ops,
            errors: progress.errors.load(Ordering::Relaxed),
            measuring: progress.measuring.load(Ordering::Relaxed),
            elapsed,
            fraction,
        }
    }
}

/// The counters of a running test at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressSnapshot {
    /// Measured operations finished.
    pub ops: u64,
    /// Measured operations that failed.
    pub errors: u64,
    /// Whether the warmup is over.
    pub measuring: bool,
    /// Time since the test started.
    pub elapsed: Duration,
    /// How much of the test is done (0..=1), when its length (operations, or
    /// duration plus warmup) is known.
    pub fraction: Option<f64>,
}

impl ProgressSnapshot {
    /// Operations per second since the start.
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }

    /// The status a bar shows: `1200 ops, 3 errors, 600/s (warming up)`.
    pub fn message(&self) -> String {
        let warming = if self.measuring { "" } else { " (warming up)" };
        format!(
            "{} ops, {} errors, {}{warming}",
            self.ops,
            self.errors,
            format_rate(self.rate())
        )
    }
}

/// The line printed when a test ends, its name right-aligned in `name_width`
/// columns: `read 12000 ops in 10.0s, 1.2k/s, 0 failed, worst p99 1.20ms`.
pub fn finished_line(result: &TestResult, name_width: usize) -> String {
    let p99 = result
        .metrics
        .operations
        .values()
        .map(|m| m.latency.summary().p99_ns)
        .max()
        .unwrap_or(0);
    format!(
        "{:>name_width$} {} ops in {:.1}s, {}, {} failed, worst p99 {}",
        result.name,
        result.metrics.ok().saturating_add(result.metrics.failed()),
        result.window_ns as f64 / 1e9,
        format_rate(result.throughput()),
        result.metrics.failed(),
        format_ns(p99 as f64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::TestMetrics;

    fn test_config(json: &str) -> TestConfig {
        serde_json::from_str(json).expect("test config")
    }

    #[test]
    fn snapshot_counts_rate_and_fraction_by_operations() {
        let progress = Progress::default();
        progress.ops.store(77, Ordering::Relaxed);
        let test = test_config(r#"{"name": "reads", "operations": 1000}"#);
        let t = TestProgress::start(&progress, &test, Phase::Run, 4);
        assert_eq!(progress.ops.load(Ordering::Relaxed), 0, "start zeroes");
        assert_eq!(t.label(), "reads ×4");
        progress.ops.store(250, Ordering::Relaxed);
        progress.errors.store(3, Ordering::Relaxed);
        let s = t.snapshot_at(&progress, Duration::from_millis(500));
        assert_eq!(s.fraction, Some(0.25));
        assert_eq!(s.rate(), 500.0);
        assert_eq!(s.message(), "250 ops, 3 errors, 500/s (warming up)");
        progress.measuring.store(true, Ordering::Relaxed);
        progress.ops.store(5000, Ordering::Relaxed);
        let s = t.snapshot_at(&progress, Duration::from_secs(2));
        assert_eq!(s.fraction, Some(1.0), "capped at done");
        assert_eq!(s.message(), "5000 ops, 3 errors, 2.5k/s");
    }

    #[test]
    fn snapshot_fraction_by_duration_and_warmup_and_none_for_load() {
        let progress = Progress::default();
        let test = test_config(r#"{"name": "w", "duration": "3s", "warmup": "1s"}"#);
        let t = TestProgress::start(&progress, &test, Phase::Run, 1);
        assert_eq!(
            t.snapshot_at(&progress, Duration::from_secs(1)).fraction,
            Some(0.25)
        );
        let load = TestProgress::start(&progress, &test, Phase::Load, 2);
        assert_eq!(load.label(), "load ×2");
        assert_eq!(
            load.snapshot_at(&progress, Duration::from_secs(1)).fraction,
            None
        );
    }

    #[test]
    fn durations_and_counts_past_their_range_saturate() {
        let progress = Progress::default();
        let mut test = test_config(r#"{"name": "w", "duration": "1s"}"#);
        test.duration = Some(crate::units::HumanDuration(Duration::MAX));
        test.warmup = crate::units::HumanDuration(Duration::MAX);
        let t = TestProgress::start(&progress, &test, Phase::Run, 1);
        assert_eq!(t.planned, Some(Duration::MAX));
        let f = t.snapshot_at(&progress, Duration::from_secs(1)).fraction;
        assert!(f.is_some_and(|f| (0.0..1e-18).contains(&f)), "{f:?}");

        let mut metrics = TestMetrics::default();
        for op in ["get", "put"] {
            let m = metrics.operations.entry(op.into()).or_default();
            m.ok = u64::MAX - 1;
            m.failed = u64::MAX - 1;
        }
        let result = TestResult {
            name: "huge".into(),
            phase: Phase::Run,
            test: test_config(r#"{"name": "huge"}"#),
            start_unix_ms: 0,
            window_ns: 0,
            workers: Vec::new(),
            metrics,
            files: Default::default(),
        };
        let line = finished_line(&result, 0);
        assert!(
            line.starts_with(&format!("huge {} ops in 0.0s", u64::MAX)),
            "{line}"
        );
    }

    #[test]
    fn finished_line_names_ops_rate_failures_and_worst_p99() {
        let mut metrics = TestMetrics::default();
        let a = metrics.operations.entry("get".into()).or_default();
        a.ok = 1999;
        a.failed = 1;
        a.latency.record_n(1_200_000, 100);
        let b = metrics.operations.entry("put".into()).or_default();
        b.ok = 1000;
        b.latency.record_ns(5_000);
        let result = TestResult {
            name: "mix".into(),
            phase: Phase::Run,
            test: test_config(r#"{"name": "mix"}"#),
            start_unix_ms: 0,
            window_ns: 2_000_000_000,
            workers: Vec::new(),
            metrics,
            files: Default::default(),
        };
        let p99 = format_ns(result.metrics.operations["get"].latency.summary().p99_ns as f64);
        assert_eq!(
            finished_line(&result, 6),
            format!("   mix 3000 ops in 2.0s, 1.5k/s, 1 failed, worst p99 {p99}")
        );
        assert!(p99.ends_with("ms"), "{p99}");
        assert!(finished_line(&result, 0).starts_with("mix 3000 ops"));
    }
}
