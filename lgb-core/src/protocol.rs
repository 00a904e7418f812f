//! The worker contract, wire types only: a versioned [`WorkerRequest`] goes in, a
//! [`WorkerResult`] comes out, whether the worker is in this process, in AWS Lambda or
//! behind a Function URL. `crate::worker::Worker` is what runs a request.
//!
//! This module must not run anything or know adapters and operations beyond their
//! configs: it is what the runner and the workers agree on, and nothing more.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{DatabaseConfig, TestConfig, WorkloadConfig};
use crate::error::{Error, Result};
use crate::metrics::{ErrorLog, LatencyHistogram, TestMetrics};
use crate::redact::redact;

/// Version of the request/result contract. Workers refuse other versions, and the
/// runner refuses answers of another. Version 2: a result may leave its whole-test
/// latency histograms to its timeline ([`WorkerResult::latency_in_timeline`]), which a
/// runner of version 1 would merge as empty.
pub const PROTOCOL_VERSION: u32 = 2;

/// Which part of a benchmark a request runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Load this worker's slice of the data set.
    Load,
    /// Run the test.
    #[default]
    Run,
}

/// Position of one worker among the workers of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSlot {
    /// 0-based index.
    pub index: u32,
    /// Number of workers.
    pub count: u32,
}

/// What the runner asks one worker to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerRequest {
    /// Must equal [`PROTOCOL_VERSION`].
    pub version: u32,
    /// Run this request belongs to.
    pub run_id: String,
    /// Load or run.
    #[serde(default)]
    pub phase: Phase,
    /// The test, with any preset already resolved into `operation` and `distribution`.
    pub test: TestConfig,
    /// The database.
    pub database: DatabaseConfig,
    /// The data set.
    pub workload: WorkloadConfig,
    /// This worker's slot.
    pub worker: WorkerSlot,
    /// Seed of this worker's random choices.
    pub seed: u64,
}

/// Whether a worker finished its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerStatus {
    /// Ran to the planned end.
    Completed,
    /// Stopped early by cancellation; the metrics cover what ran.
    Cancelled,
    /// Could not run (bad request, no database); see `error`.
    Failed,
}

/// Where and how a worker ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// `local`, `lambda`, …
    pub runtime: String,
    /// First request served by this process.
    pub cold_start: bool,
    /// Time from process start to the first request, in ms (Lambda init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_ms: Option<f64>,
    /// Configured memory in MB (Lambda).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// AWS region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Function name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Function version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_version: Option<String>,
    /// lgb version of the worker.
    pub lgb_version: String,
    /// Logical CPUs seen by the worker.
    pub cpus: usize,
    /// Worker threads of the async runtime the worker ran on (a Lambda worker's follow
    /// its memory's CPU share: `LambdaPlatform::runtime_threads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// The Lambda platform's account of the invocation (its `REPORT` log line:
    /// duration, billed duration, peak memory, init duration), added by the runner's
    /// Lambda invoker from the log tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<InvocationReport>,
    /// The worker process's peak resident memory in KiB when its result was made
    /// (`VmHWM`): for a Lambda worker, since its invocation began; a local worker
    /// shares the runner's process and reports the process's peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<u64>,
}

impl Environment {
    /// The environment of this process as a local worker.
    pub fn local() -> Self {
        Self {
            runtime: "local".into(),
            lgb_version: env!("CARGO_PKG_VERSION").into(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ..Self::default()
        }
    }
}

/// Worker threads of the async runtime this is called on (`None` outside one).
pub(crate) fn runtime_threads() -> Option<usize> {
    tokio::runtime::Handle::try_current()
        .ok()
        .map(|h| h.metrics().num_workers())
}

/// The Lambda platform's account of one invocation: its `REPORT` log line (text log
/// format) or `platform.report` record (JSON log format).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationReport {
    /// Lambda's request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Time the function ran, in ms.
    #[serde(default)]
    pub duration_ms: f64,
    /// Time billed, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_duration_ms: Option<f64>,
    /// Configured memory, in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_size_mb: Option<u32>,
    /// Peak memory of the sandbox, in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_used_mb: Option<u32>,
    /// Init phase of a cold start, in ms; absent for warm invocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_duration_ms: Option<f64>,
}

/// What one worker measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerResult {
    /// Equals the request's version.
    pub version: u32,
    /// From the request.
    pub run_id: String,
    /// Test name.
    pub test: String,
    /// Load or run.
    pub phase: Phase,
    /// From the request.
    pub worker: WorkerSlot,
    /// Whether the worker finished.
    pub status: WorkerStatus,
    /// Why the worker failed, if it did (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Unix time (ms) when measuring started.
    pub start_unix_ms: i64,
    /// Measured window in nanoseconds.
    pub window_ns: u64,
    /// Operations during warmup (not measured).
    pub warmup_ops: u64,
    /// Latency (ns) of the worker's first operation, warmup included; on a cold start
    /// it carries the cost of new connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_op_ns: Option<u64>,
    /// The measurements. Sent with whole-test histograms in lgb's sparse form
    /// ([`crate::metrics::compact`]), which the runner decodes several times faster
    /// than HdrHistogram's compressed V2; results files keep V2.
    #[serde(serialize_with = "crate::metrics::compact::serialize")]
    pub metrics: TestMetrics,
    /// Where the worker ran.
    pub environment: Environment,
    /// Precision shift of the timeline's per-second histograms: 0 at full precision; more
    /// when the worker coarsened them to fit the response limit (see [`fit_response`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeline_shift: u8,
    /// Whether every operation's whole-test latency histogram was left out (sent
    /// empty) because it is exactly the sum of that operation's timeline seconds, at
    /// full precision: the runner adds the merged seconds up instead of decoding and
    /// merging a histogram per worker and operation (see [`fit_response`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub latency_in_timeline: bool,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// Lambda's limit on a synchronous response.
pub const RESPONSE_LIMIT_BYTES: usize = 6 * 1024 * 1024;
/// What a worker's encoded result may take: the limit less a margin for the invoker's
/// envelope and anything added after sizing.
pub const RESPONSE_BUDGET_BYTES: usize = 5 * 1024 * 1024;

/// Readies `result` to be sent: leaves its whole-test latency histograms to its
/// timeline when they are exactly the sums of its seconds
/// ([`WorkerResult::latency_in_timeline`]), and keeps its encoded JSON within `budget`
/// bytes by coarsening the timeline's per-second histograms (3, 5, then 7 bits: about
/// 0.8%, 3% and 12.5% buckets instead of 0.1%; the whole-test histograms are then sent
/// again, never coarsened), recording the coarsening in `result.timeline_shift` so the
/// results say so. Returns the encoded size.
pub fn fit_response(result: &mut WorkerResult, budget: usize) -> usize {
    let size = |r: &WorkerResult| serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
    if !result.latency_in_timeline {
        if let Some(taken) = result.metrics.take_latency_in_timeline() {
            result.latency_in_timeline = true;
            let bytes = size(result);
            if bytes <= budget {
                return bytes;
            }
            result.metrics.put_latency(taken);
            result.latency_in_timeline = false;
        }
    }
    let mut bytes = size(result);
    for shift in [3, 5, 7] {
        if bytes <= budget {
            break;
        }
        result.metrics.timeline.coarsen(shift);
        result.timeline_shift = result.metrics.timeline.shift();
        bytes = size(result);
        tracing::warn!(
            worker = result.worker.index,
            shift,
            bytes,
            "worker result over its size budget; timeline histograms coarsened"
        );
    }
    bytes
}

/// This process's peak resident memory in KiB (`VmHWM` of /proc/self/status), where
/// the platform has it.
pub fn peak_rss_kb() -> Option<u64> {
    status_kb("VmHWM:")
}

/// A `… kB` field of /proc/self/status (`VmHWM:`, `VmRSS:`), in KiB.
pub(crate) fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

impl WorkerResult {
    /// A completed run-phase result of test `test` by `worker`, measured over
    /// `window_ns` from `start_unix_ms`, in this process ([`Environment::local`]): what
    /// synthetic results (tests, benches, other invokers' adapters) start from.
    pub fn completed(
        run_id: impl Into<String>,
        test: impl Into<String>,
        worker: WorkerSlot,
        start_unix_ms: i64,
        window_ns: u64,
        metrics: TestMetrics,
    ) -> Self {
        Self {
            version: PROTOCOL_VERSION,
            run_id: run_id.into(),
            test: test.into(),
            phase: Phase::Run,
            worker,
            status: WorkerStatus::Completed,
            error: None,
            start_unix_ms,
            window_ns,
            warmup_ops: 0,
            first_op_ns: None,
            metrics,
            environment: Environment::local(),
            timeline_shift: 0,
            latency_in_timeline: false,
        }
    }

    /// Each operation's whole-test latency histogram: the sum of its timeline's
    /// seconds when the worker left it there ([`WorkerResult::latency_in_timeline`]).
    pub fn latencies(&self) -> BTreeMap<String, LatencyHistogram> {
        if self.latency_in_timeline {
            return self.metrics.timeline.latency_sums();
        }
        self.metrics
            .operations
            .iter()
            .map(|(op, m)| (op.clone(), m.latency.clone()))
            .collect()
    }

    /// A failed result for `req` (or for an unreadable request when `req` is `None`).
    pub fn failed(req: Option<&WorkerRequest>, err: &Error, environment: Environment) -> Self {
        let mut errors = ErrorLog::default();
        errors.record(err);
        Self {
            version: PROTOCOL_VERSION,
            run_id: req.map(|r| r.run_id.clone()).unwrap_or_default(),
            test: req.map(|r| r.test.name.clone()).unwrap_or_default(),
            phase: req.map(|r| r.phase).unwrap_or_default(),
            worker: req.map_or(WorkerSlot { index: 0, count: 1 }, |r| r.worker),
            status: WorkerStatus::Failed,
            error: Some(redact(&err.to_string())),
            start_unix_ms: 0,
            window_ns: 0,
            warmup_ops: 0,
            first_op_ns: None,
            metrics: TestMetrics {
                errors,
                ..TestMetrics::default()
            },
            environment,
            timeline_shift: 0,
            latency_in_timeline: false,
        }
    }
}

/// Largest request a worker decodes: Lambda's limit for synchronous payloads.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;

/// Refuses absurd requests before anything runs: the worker checks what the CLI checks,
/// because requests may come from anywhere that can invoke it.
pub(crate) fn check_limits(req: &WorkerRequest) -> Result<()> {
    let mut p = Vec::new();
    if req.worker.count == 0
        || req.worker.count > crate::config::MAX_WORKERS
        || req.worker.index >= req.worker.count
    {
        p.push(crate::error::ConfigProblem::new(
            "worker",
            format!(
                "index must be below count, and count between 1 and {}",
                crate::config::MAX_WORKERS
            ),
        ));
    }
    // The load phase runs the workload's load settings; the test part is not used.
    if req.phase == Phase::Run {
        p.extend(crate::config::test_problems(&req.test, "test"));
    }
    p.extend(crate::config::workload_problems(&req.workload, "workload"));
    if p.is_empty() {
        Ok(())
    } else {
        Err(Error::Config(p))
    }
}

/// Decodes a request from JSON, naming the JSON path of a bad field.
pub fn decode_request(payload: &[u8]) -> Result<WorkerRequest> {
    if payload.len() > MAX_REQUEST_BYTES {
        return Err(Error::config(
            "",
            format!(
                "request of {} bytes is over the limit of {MAX_REQUEST_BYTES}",
                payload.len()
            ),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        Error::config(
            if path == "." { String::new() } else { path },
            e.inner().to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{OperationConfig, TestConfig};
    use crate::units::HumanDuration;

    #[test]
    fn limits_refuse_durations_that_would_overflow_without_panicking() {
        // Built in code, the durations skip the parser's 366-day bound: the worker's
        // check must still add them without overflowing.
        let mut test = TestConfig::new("t", OperationConfig::new("read"));
        test.duration = Some(HumanDuration(Duration::MAX));
        test.warmup = HumanDuration::secs(1);
        let req = WorkerRequest {
            version: PROTOCOL_VERSION,
            run_id: "r".into(),
            phase: Phase::Run,
            test,
            database: DatabaseConfig::new("memory"),
            workload: WorkloadConfig::default(),
            worker: WorkerSlot { index: 0, count: 1 },
            seed: 1,
        };
        let problems = match check_limits(&req) {
            Err(Error::Config(p)) => p,
            other => panic!("expected config problems, got {other:?}"),
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "test.duration");
        assert!(
            problems[0].message.contains("under 14 minutes"),
            "{problems:?}"
        );
        // The same request from JSON is refused while decoding, at the same path.
        let mut json = serde_json::to_value(&req).unwrap();
        json["test"]["duration"] = "18446744073709551615s".into();
        let e = decode_request(json.to_string().as_bytes()).unwrap_err();
        let p = e.config_problems();
        assert_eq!(p[0].path, "test.duration", "{p:?}");
        assert!(p[0].message.contains("366 days"), "{p:?}");
    }
}
