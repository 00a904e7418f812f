//! How a test's workers are fanned out, in one place: at most `runner.max_in_flight`
//! invocations open at once (later workers start as earlier ones return, so a large
//! test runs in waves; forced cold starts go in whole waves), worker `i` of `n` not
//! before `runner.ramp * i / n`. [`FanOut`] says so in words for `lgb validate`;
//! `InvocationGate` enforces it while a test runs.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::{BenchmarkConfig, ColdStart, RunnerConfig};
use crate::error::Error;
use crate::metrics::TestMetrics;
use crate::protocol::{Environment, WorkerResult, WorkerSlot, WorkerStatus};

/// The most invocations open at once: `runner.max_in_flight`, and never fewer than one
/// (validation refuses 0; a config built in code may still hold it).
fn in_flight(runner: &RunnerConfig) -> u32 {
    runner.max_in_flight.max(1)
}

/// The fan-out of a config's largest test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanOut {
    workers: u32,
    in_flight: u32,
    ramp: Duration,
    cold: bool,
}

impl FanOut {
    /// The fan-out `config` asks for.
    pub fn of(config: &BenchmarkConfig) -> Self {
        let workers = config
            .tests
            .iter()
            .map(|t| config.workers_for(t))
            .max()
            .unwrap_or(1);
        Self {
            workers,
            in_flight: in_flight(&config.runner),
            ramp: config.runner.ramp.0,
            cold: config.runner.cold_start == ColdStart::Force,
        }
    }

    /// The most invocations open at once (also the size of a forced-cold wave).
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Whether the largest test's workers run in waves rather than all at once.
    pub fn in_waves(&self) -> bool {
        self.workers > self.in_flight
    }

    /// The fan-out in words, as `lgb validate` prints it.
    pub fn summary(&self) -> String {
        let (workers, cap) = (self.workers, self.in_flight);
        let mut s = if self.in_waves() {
            format!(
                "{workers} workers run in waves: at most {cap} invocations are open at once \
                 (runner.max_in_flight), and a worker starts when an earlier one returns, so \
                 workers of one test do not all measure at the same time"
            )
        } else {
            format!("{workers} worker(s) invoked at once (runner.max_in_flight {cap})")
        };
        if !self.ramp.is_zero() {
            s.push_str(&format!(
                "; starts spread over {}",
                humantime::format_duration(self.ramp)
            ));
        }
        if self.cold {
            s.push_str("; every worker starts cold (runner.cold_start force)");
        }
        s
    }
}

/// Bounds a test's fan-out: at most `runner.max_in_flight` invocations open at once
/// (later workers wait for a free slot: the test runs in waves), and worker `i` of `n`
/// does not start before `runner.ramp * i / n`.
pub(super) struct InvocationGate {
    slots: tokio::sync::Semaphore,
    ramp: Duration,
    workers: u32,
}

impl InvocationGate {
    pub(super) fn new(runner: &RunnerConfig, workers: u32) -> Self {
        Self {
            slots: tokio::sync::Semaphore::new(in_flight(runner) as usize),
            ramp: runner.ramp.0,
            workers: workers.max(1),
        }
    }

    /// When worker `index` may start, counted from the test's start: never after the
    /// ramp. Not `Duration::mul_f64`, which panics when the product leaves `Duration`'s
    /// range (a ramp built in code may be anything, an index past the last worker too).
    fn delay(&self, index: u32) -> Duration {
        let share = f64::from(index.min(self.workers)) / f64::from(self.workers);
        Duration::try_from_secs_f64(self.ramp.as_secs_f64() * share)
            .map_or(self.ramp, |d| d.min(self.ramp))
    }

    /// Runs `call` (one worker's invocations, retries included) once its ramp delay
    /// has passed and a slot is free. A worker that never got to start because the run
    /// was stopped is reported cancelled, never invoked.
    pub(super) async fn run<F>(
        &self,
        index: u32,
        slot: WorkerSlot,
        cancel: &CancellationToken,
        call: F,
    ) -> (WorkerResult, u32)
    where
        F: std::future::Future<Output = (WorkerResult, u32)>,
    {
        let delay = self.delay(index);
        let ready = async {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            self.slots.acquire().await
        };
        let permit = tokio::select! {
            p = ready => p,
            _ = cancel.cancelled() => {
                let mut r = WorkerResult::failed(None, &Error::Cancelled, Environment::default());
                r.worker = slot;
                r.status = WorkerStatus::Cancelled;
                // Not an error that happened: the worker was never invoked.
                r.metrics = TestMetrics::default();
                r.error = Some("stopped before it was invoked".into());
                return (r, 0);
            }
        };
        let out = call.await;
        drop(permit);
        out
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;
    use crate::config::RunnerConfig;

    fn gate(ramp: Duration, workers: u32) -> InvocationGate {
        let runner = RunnerConfig {
            ramp: crate::units::HumanDuration(ramp),
            ..RunnerConfig::default()
        };
        InvocationGate::new(&runner, workers)
    }

    #[test]
    fn ramp_delays_stay_within_the_ramp_whatever_it_is() {
        let g = gate(Duration::from_millis(400), 4);
        let delays: Vec<Duration> = (0..4).map(|i| g.delay(i)).collect();
        assert_eq!(delays, [0, 100, 200, 300].map(Duration::from_millis));
        // The whole range of `Duration`, and indices at or past the worker count:
        // `Duration::mul_f64` panics there (2^64 s does not fit).
        let g = gate(Duration::MAX, 1000);
        assert_eq!(g.delay(0), Duration::ZERO);
        assert!(g.delay(999) < Duration::MAX);
        assert_eq!(g.delay(1000), Duration::MAX);
        assert_eq!(g.delay(u32::MAX), Duration::MAX);
        assert_eq!(
            gate(Duration::from_secs(8), 4).delay(9),
            Duration::from_secs(8)
        );
    }
}

#[cfg(test)]
mod fan_out_words {
    use super::*;

    fn config(runner: &str) -> BenchmarkConfig {
        let text = format!(
            r#"{{"database": {{"type": "noop"}}, "runner": {runner},
                "tests": [{{"name": "t", "operation": {{"type": "read"}}, "operations": 10}}]}}"#
        );
        BenchmarkConfig::from_json_str_with(&text, &[], &crate::catalog::Registries::builtin())
            .unwrap()
    }

    #[test]
    fn waves_only_past_max_in_flight() {
        let f = FanOut::of(&config(r#"{"workers": 200, "max_in_flight": 10}"#));
        assert!(f.in_waves() && f.in_flight() == 10);
        assert_eq!(
            f.summary(),
            "200 workers run in waves: at most 10 invocations are open at once \
             (runner.max_in_flight), and a worker starts when an earlier one returns, so \
             workers of one test do not all measure at the same time"
        );
        let mut cold = config(r#"{"workers": 20, "ramp": "2s"}"#);
        cold.runner.cold_start = ColdStart::Force;
        let f = FanOut::of(&cold);
        assert!(!f.in_waves());
        assert_eq!(
            f.summary(),
            "20 worker(s) invoked at once (runner.max_in_flight 100); starts spread over 2s; \
             every worker starts cold (runner.cold_start force)"
        );
        let mut zero = config(r#"{"workers": 3}"#);
        zero.runner.max_in_flight = 0;
        assert_eq!(FanOut::of(&zero).in_flight(), 1, "never fewer than one");
    }
}
