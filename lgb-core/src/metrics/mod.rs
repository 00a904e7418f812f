//! What a test measured: per-operation latency histograms ([`LatencyHistogram`]),
//! errors by class with a few redacted samples ([`ErrorLog`]), summed database costs,
//! and a per-second [`timeline`].
//!
//! Everything here merges exactly: adding the metrics of N workers gives the metrics of
//! all their operations, never an average of percentiles.
//!
//! Counts come from workers and result files, which may be anyone's: every sum of them
//! saturates at `u64::MAX` instead of overflowing.

mod binary;
pub(crate) mod compact;
mod counts;
mod histogram;
mod layout;
mod sparse;
mod timeline;
mod varint;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use histogram::{LatencyHistogram, LatencySummary};
pub use layout::{HIGHEST_NS, SIGFIG};
pub use sparse::{SecondRecorder, SparseHistogram};
#[cfg(test)]
pub(crate) use timeline::SECONDS;
pub use timeline::{Timeline, TimelinePoint};

use crate::error::{Error, ErrorClass, Result};
use crate::record::OpMeta;
use crate::redact::redact;

/// Error samples kept per class.
pub const SAMPLES_PER_CLASS: usize = 5;

/// Errors counted by class, with a few redacted messages per class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorLog {
    /// Count per class.
    pub counts: BTreeMap<ErrorClass, u64>,
    /// Up to [`SAMPLES_PER_CLASS`] messages per class, secrets redacted.
    pub samples: BTreeMap<ErrorClass, Vec<String>>,
}

impl ErrorLog {
    /// Counts one error.
    pub fn record(&mut self, err: &Error) {
        self.record_class(err.class(), || err.to_string());
    }

    /// Counts one error of `class`, taking the message only if a sample is still needed.
    pub fn record_class(&mut self, class: ErrorClass, message: impl FnOnce() -> String) {
        let n = self.counts.entry(class).or_default();
        *n = n.saturating_add(1);
        let samples = self.samples.entry(class).or_default();
        if samples.len() < SAMPLES_PER_CLASS {
            samples.push(redact(&message()));
        }
    }

    /// Total errors (saturating).
    pub fn total(&self) -> u64 {
        saturating_sum(self.counts.values().copied())
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ErrorLog) {
        for (c, n) in &other.counts {
            let mine = self.counts.entry(*c).or_default();
            *mine = mine.saturating_add(*n);
        }
        for (c, msgs) in &other.samples {
            let mine = self.samples.entry(*c).or_default();
            for m in msgs {
                if mine.len() < SAMPLES_PER_CLASS && !mine.contains(m) {
                    mine.push(m.clone());
                }
            }
        }
    }
}

/// Everything measured for one operation kind (`read`, `update`, `batch_write`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationMetrics {
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed (each also counted in `errors`).
    pub failed: u64,
    /// Latency of successful operations. In open-loop tests this is measured from each
    /// operation's intended start (coordinated omission corrected).
    pub latency: LatencyHistogram,
    /// Service time (from actual start) of successful operations; present in open-loop
    /// tests, where it differs from `latency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<LatencyHistogram>,
    /// Latency of failed operations, so that slow failures are not hidden.
    pub failed_latency: LatencyHistogram,
    /// Errors by class, including items of a batch that the database did not take.
    pub errors: ErrorLog,
    /// Summed database costs (capacity units, retries, bytes, items).
    pub meta: OpMeta,
}

impl OperationMetrics {
    /// Metrics for a test; `open_loop` keeps a separate service-time histogram.
    pub fn new(open_loop: bool) -> Self {
        Self {
            service: open_loop.then(LatencyHistogram::new),
            ..Self::default()
        }
    }

    /// Records a success that started (as intended) at `intended_ns`, actually started
    /// at `start_ns`, and ended at `end_ns`.
    #[inline]
    pub fn record_ok(&mut self, intended_ns: u64, start_ns: u64, end_ns: u64, meta: &OpMeta) {
        self.ok = self.ok.saturating_add(1);
        self.latency.record_ns(end_ns.saturating_sub(intended_ns));
        if let Some(s) = &mut self.service {
            s.record_ns(end_ns.saturating_sub(start_ns));
        }
        self.meta.add(meta);
    }

    /// Records a failure.
    pub fn record_err(&mut self, intended_ns: u64, end_ns: u64, err: &Error) {
        self.failed = self.failed.saturating_add(1);
        self.failed_latency
            .record_ns(end_ns.saturating_sub(intended_ns));
        self.errors.record(err);
    }

    /// Adds `other` into `self` (exact).
    pub fn merge(&mut self, other: &OperationMetrics) -> Result<()> {
        self.ok = self.ok.saturating_add(other.ok);
        self.failed = self.failed.saturating_add(other.failed);
        self.latency.add(&other.latency);
        match (&mut self.service, &other.service) {
            (Some(a), Some(b)) => a.add(b),
            (None, Some(b)) => self.service = Some(b.clone()),
            _ => {}
        }
        self.failed_latency.add(&other.failed_latency);
        self.errors.merge(&other.errors);
        self.meta.add(&other.meta);
        Ok(())
    }

    /// Operations attempted (saturating).
    pub fn total(&self) -> u64 {
        self.ok.saturating_add(self.failed)
    }
}

/// Metrics of one test on one or more workers, keyed by operation kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    /// Per operation kind.
    pub operations: BTreeMap<String, OperationMetrics>,
    /// Per second and operation kind.
    pub timeline: Timeline,
    /// Errors not tied to an operation (setup, worker failures, lost writes).
    #[serde(default)]
    pub errors: ErrorLog,
    /// Read-back of acknowledged writes, for tests with `verify: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
}

/// What a read-back of acknowledged writes found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Distinct keys whose write the database acknowledged.
    pub acknowledged: u64,
    /// Of those, keys found on read-back.
    pub found: u64,
    /// Of those, keys missing on read-back (lost writes).
    pub missing: u64,
    /// Keys that could not be checked (the read-back itself failed).
    pub unchecked: u64,
}

impl VerifyReport {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &VerifyReport) {
        self.acknowledged = self.acknowledged.saturating_add(other.acknowledged);
        self.found = self.found.saturating_add(other.found);
        self.missing = self.missing.saturating_add(other.missing);
        self.unchecked = self.unchecked.saturating_add(other.unchecked);
    }
}

impl TestMetrics {
    /// Adds `other` into `self` (exact).
    pub fn merge(&mut self, other: &TestMetrics) -> Result<()> {
        if let Some(v) = &other.verify {
            self.verify.get_or_insert_with(VerifyReport::default).add(v);
        }
        for (k, m) in &other.operations {
            match self.operations.get_mut(k) {
                Some(mine) => mine.merge(m)?,
                None => {
                    self.operations.insert(k.clone(), m.clone());
                }
            }
        }
        self.timeline.merge(&other.timeline)?;
        self.errors.merge(&other.errors);
        Ok(())
    }

    /// Takes every operation's whole-test latency histogram out when each is exactly
    /// the sum of its operation's timeline seconds at full precision (as a worker's
    /// are: its executor folds each second into the totals), so that a worker need not
    /// send them and a runner need not decode them ([`TestMetrics::add_timeline_latency`]
    /// puts the sums back). `None`, with nothing taken, when any differs or the
    /// timeline is coarsened; otherwise what was taken, for [`TestMetrics::put_latency`].
    pub(crate) fn take_latency_in_timeline(&mut self) -> Option<Vec<(String, LatencyHistogram)>> {
        if self.operations.is_empty() || self.timeline.shift() != 0 {
            return None;
        }
        let sums = self.timeline.latency_sums();
        let empty = LatencyHistogram::new();
        let exact = sums.keys().all(|op| self.operations.contains_key(op))
            && self
                .operations
                .iter()
                .all(|(op, m)| *sums.get(op).unwrap_or(&empty) == m.latency);
        exact.then(|| {
            self.operations
                .iter_mut()
                .map(|(op, m)| (op.clone(), std::mem::take(&mut m.latency)))
                .collect()
        })
    }

    /// Puts back what [`TestMetrics::take_latency_in_timeline`] took.
    pub(crate) fn put_latency(&mut self, taken: Vec<(String, LatencyHistogram)>) {
        for (op, h) in taken {
            if let Some(m) = self.operations.get_mut(&op) {
                m.latency = h;
            }
        }
    }

    /// Adds each second of `timeline` (at full precision) into its operation's
    /// whole-test latency: the runner's side of
    /// [`TestMetrics::take_latency_in_timeline`], once, over the merged seconds of
    /// every worker that sent its latency that way.
    pub(crate) fn add_timeline_latency(&mut self, timeline: &Timeline) -> Result<()> {
        if timeline.shift() != 0 {
            return Err(Error::Internal(
                "a timeline that stands for whole-test latencies is coarsened".into(),
            ));
        }
        for (op, sum) in timeline.latency_sums() {
            self.operations.entry(op).or_default().latency.add(&sum);
        }
        Ok(())
    }

    /// Successful operations over all kinds (saturating).
    pub fn ok(&self) -> u64 {
        saturating_sum(self.operations.values().map(|m| m.ok))
    }

    /// Failed operations over all kinds (saturating).
    pub fn failed(&self) -> u64 {
        saturating_sum(self.operations.values().map(|m| m.failed))
    }
}

/// The sum of `counts`, `u64::MAX` if it would overflow (`Iterator::sum` panics in
/// debug builds and wraps in release ones).
pub(crate) fn saturating_sum(counts: impl IntoIterator<Item = u64>) -> u64 {
    counts.into_iter().fold(0, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_log_counts_all_but_keeps_few_redacted_samples() {
        let mut log = ErrorLog::default();
        for i in 0..20 {
            log.record(&Error::Backend(format!("boom {i} password=hunter2")));
        }
        log.record(&Error::Timeout("slow".into()));
        assert_eq!(log.counts[&ErrorClass::Backend], 20);
        assert_eq!(log.total(), 21);
        assert_eq!(log.samples[&ErrorClass::Backend].len(), SAMPLES_PER_CLASS);
        assert!(log.samples[&ErrorClass::Backend]
            .iter()
            .all(|m| !m.contains("hunter2")));
    }

    #[test]
    fn operation_metrics_merge_and_round_trip() {
        let mut a = OperationMetrics::new(true);
        a.record_ok(
            0,
            5,
            10,
            &OpMeta {
                items: 1,
                ..OpMeta::default()
            },
        );
        let mut b = OperationMetrics::new(true);
        b.record_err(0, 7, &Error::Throttled("x".into()));
        a.merge(&b).unwrap();
        assert_eq!((a.ok, a.failed, a.meta.items), (1, 1, 1));
        assert_eq!(a.service.as_ref().unwrap().summary().max_ns, 5);
        assert_eq!(a.latency.summary().max_ns, 10);
        let json = serde_json::to_string(&a).unwrap();
        let back: OperationMetrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn counts_from_results_saturate_when_merged() {
        // Error logs as a hostile worker result or results file may carry them.
        let log: ErrorLog = serde_json::from_str(&format!(
            r#"{{"counts": {{"backend": {}, "timeout": {}}}, "samples": {{}}}}"#,
            u64::MAX - 1,
            u64::MAX - 1
        ))
        .unwrap();
        assert_eq!(log.total(), u64::MAX);
        let mut merged = log.clone();
        merged.merge(&log);
        assert_eq!(merged.counts[&ErrorClass::Backend], u64::MAX);
        assert_eq!(merged.counts[&ErrorClass::Timeout], u64::MAX);
        merged.record(&Error::Backend("one more".into()));
        assert_eq!(merged.counts[&ErrorClass::Backend], u64::MAX);

        let mut op = OperationMetrics {
            ok: u64::MAX - 1,
            failed: u64::MAX - 1,
            meta: OpMeta {
                retries: u32::MAX,
                bytes: u64::MAX,
                items: 1,
                ..OpMeta::default()
            },
            ..OperationMetrics::default()
        };
        assert_eq!(op.total(), u64::MAX);
        let other = op.clone();
        op.merge(&other).unwrap();
        assert_eq!((op.ok, op.failed), (u64::MAX, u64::MAX));
        assert_eq!(
            (op.meta.retries, op.meta.bytes, op.meta.items),
            (u32::MAX, u64::MAX, 2)
        );
        op.record_ok(0, 0, 1, &OpMeta::default());
        op.record_err(0, 1, &Error::Timeout("slow".into()));
        assert_eq!((op.ok, op.failed), (u64::MAX, u64::MAX));

        let mut test = TestMetrics::default();
        test.operations.insert("read".into(), op.clone());
        test.operations.insert("write".into(), op);
        test.verify = Some(VerifyReport {
            acknowledged: u64::MAX,
            found: u64::MAX,
            missing: 1,
            unchecked: 0,
        });
        let copy = test.clone();
        test.merge(&copy).unwrap();
        assert_eq!((test.ok(), test.failed()), (u64::MAX, u64::MAX));
        let v = test.verify.unwrap();
        assert_eq!(
            (v.acknowledged, v.found, v.missing),
            (u64::MAX, u64::MAX, 2)
        );
    }
}
