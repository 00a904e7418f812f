//! Runs a [`WorkerRequest`]: the [`Worker`] builds the adapter (cached by
//! configuration, so a warm Lambda reuses its connections), plans the test, runs the
//! executor and answers a [`WorkerResult`]; [`lambda`] shapes that for AWS Lambda.
//!
//! A worker never panics on bad input: every failure becomes a result with
//! `status: failed` and the error counted by class. It must not know the runner or the
//! results model: what it answers is the wire type of `crate::protocol`.

pub mod lambda;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::database::{Database, DatabaseConfig, DatabaseRegistry};
use crate::error::{Error, Result};
use crate::executor::{self, ExecutionPlan, Progress};
use crate::metrics::ErrorLog;
use crate::operation::{Mix, OpContext, OperationRegistry, Step, Strategy, WorkerKeys};
use crate::protocol::{
    check_limits, decode_request, Environment, Phase, WorkerRequest, WorkerResult, WorkerSlot,
    WorkerStatus, PROTOCOL_VERSION,
};
use crate::workload::{KeyChooser, KeyFormatter, RecordGenerator};

/// A worker: registries plus adapters cached by configuration.
///
/// ```
/// use lgb_core::worker::Worker;
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
        // YCSB sizes a scrambled zipfian chooser for the inserts to come (draws of keys
        // not yet written are drawn again); other choosers cover the loaded records.
        let key_space = match dist {
            crate::workload::Distribution::ScrambledZipfian { .. } => {
                crate::workload::key_space(w.records, plan.operations, strategy.fraction("insert"))
            }
            _ => w.records,
        };
        let table = KeyChooser::table_for(&dist, key_space);
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
                    KeyChooser::new(&dist, key_space, table.clone(), slot, slots),
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
        let mut result = WorkerResult {
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
            first_op_ns: exec.first_op_ns,
            metrics: exec.metrics,
            environment: crate::protocol::Environment {
                peak_rss_kb: crate::protocol::peak_rss_kb(),
                ..self.environment()
            },
            timeline_shift: 0,
        };
        crate::protocol::fit_response(&mut result, crate::protocol::RESPONSE_BUDGET_BYTES);
        Ok(result)
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

/// This worker's share of `total` operations: the first `total % count` workers do one more.
fn per_worker(total: u64, w: WorkerSlot) -> u64 {
    let n = u64::from(w.count);
    total / n + u64::from(u64::from(w.index) < total % n)
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
    use crate::config::{TestConfig, WorkloadConfig};
    use crate::protocol::MAX_REQUEST_BYTES;

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
        test.duration = Some(crate::units::HumanDuration::secs(3600));
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
