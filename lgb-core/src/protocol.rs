//! The worker contract: a versioned [`WorkerRequest`] goes in, a [`WorkerResult`] comes
//! out, whether the worker is in this process, in AWS Lambda or behind a Function URL.
//! [`Worker::handle`] is what every handler calls.
//!
//! A worker keeps adapters across requests, keyed by their configuration, so a warm
//! Lambda reuses its connections. It never panics on bad input: every failure becomes a
//! result with `status: failed` and the error counted by class.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config::{TestConfig, WorkloadConfig};
use crate::database::{Database, DatabaseConfig, DatabaseRegistry};
use crate::error::{Error, Result};
use crate::executor::{self, ExecutionPlan, Progress};
use crate::metrics::{ErrorLog, TestMetrics};
use crate::operation::{Mix, OpContext, OperationRegistry, Step, Strategy, WorkerKeys};
use crate::redact::redact;
use crate::workload::{KeyChooser, KeyFormatter, RecordGenerator};

/// Version of the request/result contract. Workers refuse other versions.
pub const PROTOCOL_VERSION: u32 = 1;

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
    /// The Lambda platform's account of the invocation (its `REPORT` log line:
    /// duration, billed duration, peak memory, init duration), added by the runner's
    /// Lambda invoker from the log tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::lambda::InvocationReport>,
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
    /// The measurements.
    pub metrics: TestMetrics,
    /// Where the worker ran.
    pub environment: Environment,
}

impl WorkerResult {
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
            metrics: TestMetrics {
                errors,
                ..TestMetrics::default()
            },
            environment,
        }
    }
}

/// A worker: registries plus adapters cached by configuration.
///
/// ```
/// use lgb_core::protocol::Worker;
/// let worker = Worker::default();
/// # let _ = worker;
/// ```
pub struct Worker {
    databases: DatabaseRegistry,
    operations: OperationRegistry,
    adapters: Mutex<HashMap<String, Arc<dyn Database>>>,
    environment: Mutex<Environment>,
}

impl Default for Worker {
    fn default() -> Self {
        Self::new(
            DatabaseRegistry::with_builtins(),
            OperationRegistry::default(),
        )
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("databases", &self.databases)
            .finish()
    }
}

/// Mixes seeds so that workers, tasks and tests draw different streams.
pub fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
    let mut h = seed ^ 0x51_7c_c1_b7_27_22_0a_95;
    for p in parts {
        h ^= p
            .wrapping_add(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
    h
}

fn name_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

impl Worker {
    /// A worker with these registries.
    pub fn new(databases: DatabaseRegistry, operations: OperationRegistry) -> Self {
        Self {
            databases,
            operations,
            adapters: Mutex::new(HashMap::new()),
            environment: Mutex::new(Environment::local()),
        }
    }

    /// Sets the environment reported in results (Lambda handlers fill it in).
    pub fn set_environment(&self, env: Environment) {
        if let Ok(mut e) = self.environment.lock() {
            *e = env;
        }
    }

    fn environment(&self) -> Environment {
        self.environment
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// The adapter for `config`, built once and then reused.
    pub async fn adapter(&self, config: &DatabaseConfig) -> Result<Arc<dyn Database>> {
        let key = config.cache_key();
        if let Some(db) = self.adapters.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(db);
        }
        let db = self.databases.build(config).await?;
        if let Ok(mut m) = self.adapters.lock() {
            // Another request may have built the same adapter meanwhile; keep the first.
            return Ok(m.entry(key).or_insert(db).clone());
        }
        Ok(db)
    }

    /// Handles one request. Never fails: problems become a `failed` result.
    pub async fn handle(
        &self,
        req: &WorkerRequest,
        cancel: CancellationToken,
        progress: Option<Arc<Progress>>,
    ) -> WorkerResult {
        match self.try_handle(req, cancel, progress).await {
            Ok(r) => r,
            Err(e) => WorkerResult::failed(Some(req), &e, self.environment()),
        }
    }

    /// Decodes a JSON request and handles it; a request that cannot be decoded yields a
    /// failed result naming the JSON path of the problem.
    pub async fn handle_json(&self, payload: &[u8], cancel: CancellationToken) -> WorkerResult {
        match decode_request(payload) {
            Ok(req) => self.handle(&req, cancel, None).await,
            Err(e) => WorkerResult::failed(None, &e, self.environment()),
        }
    }

    async fn try_handle(
        &self,
        req: &WorkerRequest,
        cancel: CancellationToken,
        progress: Option<Arc<Progress>>,
    ) -> Result<WorkerResult> {
        if req.version != PROTOCOL_VERSION {
            return Err(Error::config(
                "version",
                format!(
                    "this worker speaks protocol version {PROTOCOL_VERSION}, the request has {}",
                    req.version
                ),
            ));
        }
        check_limits(req)?;
        let db = self.adapter(&req.database).await?;
        let caps = db.capabilities();
        let w = &req.workload;
        let (strategy, plan, dist) = match req.phase {
            Phase::Load => {
                let batch = if caps.max_batch_size <= 1 {
                    1
                } else {
                    w.load_batch
                };
                let plan = ExecutionPlan {
                    concurrency: w.load_concurrency.max(1),
                    duration: None,
                    operations: None,
                    warmup: Duration::ZERO,
                    rate: None,
                    timeout: req.test.timeout.0.max(Duration::from_secs(60)),
                };
                (
                    Strategy::Builtin(Mix::single("load", Step::Load { batch })),
                    plan,
                    w.distribution,
                )
            }
            Phase::Run => {
                let op = req.test.operation.as_ref().ok_or_else(|| {
                    Error::config("test.operation", "missing; resolve presets before sending")
                })?;
                let strategy = self.operations.build(op, w.scan_length)?;
                let problems = strategy.check(&caps);
                if !problems.is_empty() {
                    return Err(Error::Config(
                        problems
                            .into_iter()
                            .map(|p| {
                                crate::error::ConfigProblem::new(
                                    format!("test.{}", p.path),
                                    format!("{} (database `{}`)", p.message, db.name()),
                                )
                            })
                            .collect(),
                    ));
                }
                let plan = ExecutionPlan {
                    concurrency: req.test.concurrency.max(1),
                    duration: req.test.effective_duration(),
                    operations: req.test.operations.map(|n| per_worker(n, req.worker)),
                    warmup: req.test.warmup.0,
                    rate: req.test.rate.map(|r| r / f64::from(req.worker.count)),
                    timeout: req.test.timeout.0,
                };
                (
                    strategy,
                    plan,
                    req.test.distribution.unwrap_or(w.distribution),
                )
            }
        };
        let shared = Arc::new(WorkerKeys::new(
            w.records,
            req.worker.index,
            req.worker.count,
        ));
        let records = Arc::new(RecordGenerator::new(
            w.seed,
            w.fields,
            w.field_size.0 as usize,
        ));
        let keys = KeyFormatter::new(w.key_prefix.clone());
        let table = KeyChooser::table_for(&dist, w.records);
        let tasks = u64::from(plan.concurrency);
        let verify = req.test.verify && req.phase == Phase::Run;
        let contexts = (0..tasks)
            .map(|t| {
                let slot = u64::from(req.worker.index) * tasks + t;
                let slots = u64::from(req.worker.count) * tasks;
                let mut ctx = OpContext::new(
                    derive_seed(
                        req.seed,
                        &[u64::from(req.worker.index), t, name_hash(&req.test.name)],
                    ),
                    KeyChooser::new(&dist, w.records, table.clone(), slot, slots),
                    keys.clone(),
                    records.clone(),
                    shared.clone(),
                );
                if verify {
                    ctx.acked = Some(crate::operation::KeySet::default());
                }
                ctx
            })
            .collect();
        tracing::debug!(test = %req.test.name, worker = req.worker.index, phase = ?req.phase, "worker starting");
        let mut exec = executor::execute(
            plan,
            strategy,
            db.clone(),
            contexts,
            SystemClock::new(),
            cancel,
            progress,
        )
        .await?;
        if verify {
            let acked = exec.acked.take().unwrap_or_default();
            let report = verify_writes(&*db, &keys, &acked, &mut exec.metrics.errors).await;
            if report.missing > 0 {
                tracing::warn!(test = %req.test.name, missing = report.missing, "acknowledged writes are missing");
            }
            exec.metrics.verify = Some(report);
        }
        Ok(WorkerResult {
            version: PROTOCOL_VERSION,
            run_id: req.run_id.clone(),
            test: req.test.name.clone(),
            phase: req.phase,
            worker: req.worker,
            status: if exec.cancelled {
                WorkerStatus::Cancelled
            } else {
                WorkerStatus::Completed
            },
            error: None,
            start_unix_ms: exec.start_unix_ms,
            window_ns: exec.window_ns,
            warmup_ops: exec.warmup_ops,
            metrics: exec.metrics,
            environment: self.environment(),
        })
    }
}

/// Keys read back per call when verifying.
const VERIFY_BATCH: usize = 100;

/// Reads back every acknowledged key and counts what it finds; each missing key is
/// also counted in `errors` (class `not_found`): a lost write is an error in the results.
async fn verify_writes(
    db: &dyn Database,
    keys: &KeyFormatter,
    acked: &crate::operation::KeySet,
    errors: &mut ErrorLog,
) -> crate::metrics::VerifyReport {
    let mut report = crate::metrics::VerifyReport {
        acknowledged: acked.len(),
        ..Default::default()
    };
    let ids: Vec<u64> = acked.iter().collect();
    for chunk in ids.chunks(VERIFY_BATCH) {
        let batch: Vec<String> = chunk.iter().map(|&id| keys.key(id)).collect();
        match db.read_many(&batch).await {
            Ok(out) => {
                let found: std::collections::HashSet<&str> =
                    out.records.iter().map(|r| r.key.as_str()).collect();
                for k in &batch {
                    if found.contains(k.as_str()) {
                        report.found += 1;
                    } else {
                        report.missing += 1;
                        errors.record_class(crate::error::ErrorClass::NotFound, || {
                            format!("lost write: key `{k}` was acknowledged but is missing on read-back")
                        });
                    }
                }
            }
            Err(e) => {
                report.unchecked += batch.len() as u64;
                errors.record(&e);
            }
        }
    }
    report
}

/// Largest request a worker decodes: Lambda's limit for synchronous payloads.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;

/// Refuses absurd requests before anything runs: the worker checks what the CLI checks,
/// because requests may come from anywhere that can invoke it.
fn check_limits(req: &WorkerRequest) -> Result<()> {
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

/// This worker's share of `total` operations: the first `total % count` workers do one more.
fn per_worker(total: u64, w: WorkerSlot) -> u64 {
    let n = u64::from(w.count);
    total / n + u64::from(u64::from(w.index) < total % n)
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

/// Handles `request` with a process-wide default [`Worker`] (built-in adapters): the
/// one call a custom Lambda handler needs.
pub async fn handle(request: &WorkerRequest) -> WorkerResult {
    static WORKER: std::sync::OnceLock<Worker> = std::sync::OnceLock::new();
    WORKER
        .get_or_init(Worker::default)
        .handle(request, CancellationToken::new(), None)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_split_exactly_over_workers() {
        let total: u64 = (0..3)
            .map(|i| per_worker(10, WorkerSlot { index: i, count: 3 }))
            .sum();
        assert_eq!(total, 10);
    }

    #[tokio::test]
    async fn bad_requests_become_failed_results_with_paths() {
        let w = Worker::default();
        let r = w
            .handle_json(br#"{"version": 1, "run_id": 5}"#, CancellationToken::new())
            .await;
        assert_eq!(r.status, WorkerStatus::Failed);
        assert!(
            r.error.as_deref().unwrap().contains("run_id"),
            "{:?}",
            r.error
        );
        let r = w.handle_json(b"not json", CancellationToken::new()).await;
        assert_eq!(r.status, WorkerStatus::Failed);
        assert_eq!(r.metrics.errors.counts.values().sum::<u64>(), 1);
        let big = vec![b' '; MAX_REQUEST_BYTES + 1];
        let r = w.handle_json(&big, CancellationToken::new()).await;
        assert!(
            r.error.as_deref().unwrap().contains("over the limit"),
            "{:?}",
            r.error
        );
    }

    #[tokio::test]
    async fn absurd_requests_are_refused_before_running() {
        let mut test = TestConfig::new("t", crate::config::OperationConfig::new("read"));
        test.concurrency = 1_000_000;
        test.duration = Some(crate::config::HumanDuration::secs(3600));
        let req = WorkerRequest {
            version: PROTOCOL_VERSION,
            run_id: "r".into(),
            phase: Phase::Run,
            test,
            database: DatabaseConfig::new("memory"),
            workload: WorkloadConfig::default(),
            worker: WorkerSlot { index: 3, count: 2 },
            seed: 1,
        };
        let r = Worker::default()
            .handle(&req, CancellationToken::new(), None)
            .await;
        assert_eq!(r.status, WorkerStatus::Failed);
        let msg = r.error.unwrap();
        for part in ["test.concurrency", "test.duration", "worker"] {
            assert!(msg.contains(part), "{part} in {msg}");
        }
        assert!(r.metrics.operations.is_empty(), "nothing ran");
    }
}
