//! The results model and the results directory: [`RunResult`] and its parts (what
//! `result.json` holds), writing and loading a run directory ([`write_run`],
//! [`load_run`]), the summary table of `summary.csv` ([`tables`]), the cost estimate
//! ([`cost`]; `lgb_core::results::cost` is the same module), and results at rest (client-side
//! encryption, S3 upload).
//!
//! This layer sits below the runner, which builds a [`RunResult`], and above the
//! worker protocol whose types it keeps. It must not run anything, and it must not
//! know the report formats: reports read this model.

mod at_rest;
pub mod cost;
pub(crate) mod faults;
mod files;
pub mod tables;

use serde::{Deserialize, Serialize};

pub use at_rest::*;
pub use faults::FAULT_ENV;
pub use files::{load_run, write_run, RunDir, RESULT_FILE, SCHEMA_VERSION};

use crate::config::{BenchmarkConfig, Target, TestConfig};
use crate::metrics::TestMetrics;
use crate::protocol::{Environment, Phase, WorkerStatus};

/// Status of a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every test ran to its end.
    Completed,
    /// Stopped by the user; results cover what ran.
    Cancelled,
    /// At least one test had no worker that ran, or an error stopped the run;
    /// `incomplete` says which.
    Failed,
    /// Written while the run was going. A directory left with this status belongs to
    /// a run whose process ended before it could finish its results (killed, host
    /// lost), or to a run still going; every test in it had ended.
    Running,
}

/// Why a run did not reach its end, and the tests it did not run (`result.json`'s
/// `incomplete`; absent when the run ran every test to its end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incomplete {
    /// Why: the signal that stopped it, the error, or that it was still running.
    pub reason: String,
    /// Tests planned that did not run, in the order they would have run. A test that
    /// was running when the run stopped is in `tests` (its workers say how they ended),
    /// not here.
    pub not_run: Vec<String>,
}

/// One worker's part in a test, as kept in results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerSummary {
    /// Worker index.
    pub index: u32,
    /// How it ended.
    pub status: WorkerStatus,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Invocation attempts (1 without retries).
    pub attempts: u32,
    /// Operations it measured.
    pub ops: u64,
    /// Unix time (ms) its measuring started.
    pub start_unix_ms: i64,
    /// Its measured window (ns).
    pub window_ns: u64,
    /// Latency (ns) of its first operation, warmup included (cold connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_op_ns: Option<u64>,
    /// Where it ran.
    pub environment: Environment,
    /// Precision shift of its timeline histograms; non-zero when the worker coarsened
    /// them to fit the response limit (see [`crate::protocol::fit_response`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeline_shift: u8,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// The merged result of one test over all its workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Test name (`load` for the load phase).
    pub name: String,
    /// Load or run.
    pub phase: Phase,
    /// The test as run (presets resolved).
    pub test: TestConfig,
    /// Unix time (ms) when the first worker started measuring.
    pub start_unix_ms: i64,
    /// From the first worker's start to the last worker's end of measuring (ns).
    pub window_ns: u64,
    /// Worker parts.
    pub workers: Vec<WorkerSummary>,
    /// Merged measurements (exact).
    pub metrics: TestMetrics,
    /// The histogram file of each operation, relative to the results directory
    /// (`hdr/<test>.<operation>.hlog`, made unique within the run); set when the test
    /// is written.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<String, String>,
}

impl TestResult {
    /// Measured throughput: operations (ok and failed) per second of the window.
    pub fn throughput(&self) -> f64 {
        let ops = self.metrics.ok().saturating_add(self.metrics.failed());
        if self.window_ns == 0 {
            0.0
        } else {
            ops as f64 / (self.window_ns as f64 / 1e9)
        }
    }

    /// Throughput of one operation kind.
    pub fn throughput_of(&self, op: &str) -> f64 {
        match self.metrics.operations.get(op) {
            Some(m) if self.window_ns > 0 => m.total() as f64 / (self.window_ns as f64 / 1e9),
            _ => 0.0,
        }
    }
}

/// A whole run: what `result.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Layout version of the results; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Unique id, also the results directory name.
    pub run_id: String,
    /// Benchmark name.
    pub name: String,
    /// RFC 3339 time the run started.
    pub created_at: String,
    /// How the run ended.
    pub status: RunStatus,
    /// Where workers ran.
    pub target: Target,
    /// lgb version of the runner.
    pub lgb_version: String,
    /// The config as run (overrides applied, secrets redacted).
    pub config: BenchmarkConfig,
    /// Tests in the order they ran, the load phase first.
    pub tests: Vec<TestResult>,
    /// Set when the run did not reach its end (stopped, failed, or still running when
    /// written): why, and the tests that did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<Incomplete>,
}

/// How a run ended, in the terms a frontend reports it (the CLI's exit code). Worse
/// news wins: a stopped run is [`RunOutcome::Cancelled`] whatever else happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every worker of every test ran to its end and nothing failed.
    Clean,
    /// Every worker ran to its end, but errors were counted: failed operations, lost
    /// writes, or worker invocations that failed before a retry succeeded. The errors
    /// are measurements, by class, in the results.
    Errors,
    /// Some workers failed, or stopped before their end (a Lambda deadline); the results
    /// keep the other workers' measurements and say which worker and why.
    WorkersFailed,
    /// A test had no worker that ran; the run stopped there.
    Failed,
    /// Stopped by the caller (Ctrl-C, SIGTERM); the results cover what ran.
    Cancelled,
}

impl RunResult {
    /// A run of `config` with no test yet, [`RunStatus::Running`]: what the runner
    /// adds each test to. The config is kept redacted (results are shared).
    pub fn begin(config: &BenchmarkConfig, run_id: String) -> Self {
        RunResult {
            schema_version: SCHEMA_VERSION,
            run_id,
            name: config.name.clone(),
            created_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            status: RunStatus::Running,
            target: config.runner.target,
            lgb_version: env!("CARGO_PKG_VERSION").into(),
            config: config.redacted(),
            tests: Vec::new(),
            incomplete: None,
        }
    }

    /// Adds a test that ended, naming the histogram file of each of its operations
    /// (`files`) so that no two tests of the run share one, whatever their names.
    pub fn push_test(&mut self, mut test: TestResult) {
        let mut taken = self
            .tests
            .iter()
            .flat_map(|t| t.files.values())
            .map(|f| f.to_lowercase())
            .collect();
        test.files = files::unique_files(&mut taken, &test);
        self.tests.push(test);
    }

    /// How the run ended; see [`RunOutcome`].
    pub fn outcome(&self) -> RunOutcome {
        match self.status {
            RunStatus::Cancelled => return RunOutcome::Cancelled,
            RunStatus::Failed | RunStatus::Running => return RunOutcome::Failed,
            RunStatus::Completed => {}
        }
        let workers_failed = self
            .tests
            .iter()
            .flat_map(|t| &t.workers)
            .any(|w| w.status != WorkerStatus::Completed);
        if workers_failed {
            RunOutcome::WorkersFailed
        } else if self.error_counts().is_empty() {
            RunOutcome::Clean
        } else {
            RunOutcome::Errors
        }
    }

    /// Errors of every test by class: failed operations, failed items of batches, and
    /// errors not tied to an operation (worker failures, lost writes).
    pub fn error_counts(&self) -> std::collections::BTreeMap<crate::error::ErrorClass, u64> {
        let mut counts = std::collections::BTreeMap::new();
        for t in &self.tests {
            let logs = t
                .metrics
                .operations
                .values()
                .map(|m| &m.errors)
                .chain([&t.metrics.errors]);
            for log in logs {
                for (class, n) in &log.counts {
                    let c = counts.entry(*class).or_insert(0u64);
                    *c = c.saturating_add(*n);
                }
            }
        }
        counts.retain(|_, n| *n > 0);
        counts
    }
}
