//! Runs a [`WorkerRequest`]: the [`Worker`] builds the adapter (cached by
//! configuration, so a warm Lambda reuses its connections), plans the test, runs the
//! executor and answers a [`WorkerResult`]; [`lambda`] shapes that for AWS Lambda.
//!
//! A deployed worker is pinned to its [`Deployment`] ([`Worker::pinned_from_env`]):
//! it refuses a request for another database before building anything.
//!
//! A worker never panics on bad input: every failure becomes a result with
//! `status: failed` and the error counted by class. It must not know the runner or the
//! results model: what it answers is the wire type of `crate::protocol`.

mod deployment;
pub mod lambda;

pub use deployment::{Deployment, DEPLOYMENT_ENV};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config::DatabaseConfig;
use crate::database::{Database, DatabaseRegistry};
use crate::error::{Error, Result};
use crate::executor::{self, ExecutionPlan, Progress};
use crate::metrics::ErrorLog;
use crate::operation::{Mix, OpContext, OperationRegistry, Step, Strategy, WorkerKeys};
use crate::protocol::{
    check_limits, decode_request, Environment, Phase, WorkerRequest, WorkerResult, WorkerSlot,
    WorkerStatus, PROTOCOL_VERSION,
};
use crate::workload::keys::{KeyChooser, KeyFormatter};
use crate::workload::records::RecordGenerator;

/// A worker: registries, adapters cached by configuration (at most
/// [`MAX_CACHED_ADAPTERS`], least recently used dropped first) and, when deployed,
/// the [`Deployment`] it is pinned to.
///
/// ```
/// use lgb_core::worker::Worker;
/// // Unpinned unless LGB_DEPLOYMENT is set.
/// let worker = Worker::default().pinned_from_env();
/// # let _ = worker;
/// ```
pub struct Worker {
    databases: DatabaseRegistry,
    operations: OperationRegistry,
    /// Most recently used last.
    adapters: Mutex<Vec<(String, Arc<dyn Database>)>>,
    environment: Mutex<Environment>,
    pin: Pin,
}

/// Most adapters a warm worker keeps; a request for another configuration drops (and
/// closes) the least recently used one.
pub const MAX_CACHED_ADAPTERS: usize = 4;

/// What a worker may run.
#[derive(Debug, Clone)]
enum Pin {
    /// Any database (local runs, tests, library users).
    Unpinned,
    /// Only its deployment.
    Pinned(Deployment),
    /// Deployed, but the deployment could not be read: nothing.
    Unreadable(String),
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
            .field("pin", &self.pin)
            .finish()
    }
}

/// Mixes seeds so that workers, tasks and tests draw different streams.
pub(crate) fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
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
            adapters: Mutex::new(Vec::new()),
            environment: Mutex::new(Environment::local()),
            pin: Pin::Unpinned,
        }
    }

    /// Pins this worker to `deployment`: see [`Worker::admit`].
    pub fn pinned(mut self, deployment: Deployment) -> Self {
        self.pin = Pin::Pinned(deployment);
        self
    }

    /// Pins this worker to the deployment in [`DEPLOYMENT_ENV`], if the variable is
    /// set; one that cannot be read makes the worker refuse every request (it never
    /// runs unpinned because of a typo). What a Lambda handler calls once at start.
    pub fn pinned_from_env(mut self) -> Self {
        self.pin = match Deployment::from_env() {
            Ok(Some(d)) => Pin::Pinned(d),
            Ok(None) => Pin::Unpinned,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the deployment; refusing every request");
                Pin::Unreadable(e.to_string())
            }
        };
        self
    }

    /// The deployment this worker is pinned to, if any.
    pub fn deployment(&self) -> Option<&Deployment> {
        match &self.pin {
            Pin::Pinned(d) => Some(d),
            _ => None,
        }
    }

    /// The database configuration a request for `requested` runs with here: itself on
    /// an unpinned worker; on a pinned one, the request completed with the deployed
    /// values, or a `rejected` error naming each option that differs from the
    /// deployment ([`Deployment::admit`], with the adapter's
    /// [`crate::database::AdapterOptions::DESTINATIONS`]). [`Worker::handle`] calls
    /// it before building an adapter; a custom handler that builds adapters itself
    /// calls it first.
    pub fn admit(&self, requested: &DatabaseConfig) -> Result<DatabaseConfig> {
        match &self.pin {
            Pin::Unpinned => Ok(requested.clone()),
            Pin::Pinned(d) => d.admit(requested, self.databases.destinations(&requested.kind)),
            Pin::Unreadable(why) => Err(Error::Rejected(format!(
                "this worker's deployment ({DEPLOYMENT_ENV}) cannot be read, so it runs \
                 nothing: {why}"
            ))),
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

    /// The adapter for `config`, built once and then reused while it stays among the
    /// [`MAX_CACHED_ADAPTERS`] most recently used. Does not check the deployment: call
    /// [`Worker::admit`] first.
    pub async fn adapter(&self, config: &DatabaseConfig) -> Result<Arc<dyn Database>> {
        let key = config.cache_key();
        if let Some(db) = self.cached(&key) {
            return Ok(db);
        }
        let db = self.databases.build(config).await?;
        let (db, evicted) = match self.adapters.lock() {
            // Another request may have built the same adapter meanwhile; keep the first.
            Ok(mut cache) => match touch(&mut cache, &key) {
                Some(first) => (first, Vec::new()),
                None => {
                    cache.push((key, db.clone()));
                    let over = cache.len().saturating_sub(MAX_CACHED_ADAPTERS);
                    let evicted: Vec<_> = cache.drain(..over).map(|(_, d)| d).collect();
                    (db, evicted)
                }
            },
            Err(_) => (db, Vec::new()),
        };
        for old in evicted {
            close_when_unused(old).await;
        }
        Ok(db)
    }

    /// A cached adapter, marked as the most recently used.
    fn cached(&self, key: &str) -> Option<Arc<dyn Database>> {
        touch(&mut *self.adapters.lock().ok()?, key)
    }

    /// How many adapters are cached.
    pub fn cached_adapters(&self) -> usize {
        self.adapters.lock().map(|c| c.len()).unwrap_or(0)
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
        let database = self.admit(&req.database)?;
        let db = self.adapter(&database).await?;
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
            crate::config::Distribution::ScrambledZipfian { .. } => {
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
                threads: crate::protocol::runtime_threads(),
                ..self.environment()
            },
            timeline_shift: 0,
            latency_in_timeline: false,
        };
        crate::protocol::fit_response(&mut result, crate::protocol::RESPONSE_BUDGET_BYTES);
        Ok(result)
    }
}

/// The adapter cached under `key`, moved to the most recently used end.
fn touch(cache: &mut Vec<(String, Arc<dyn Database>)>, key: &str) -> Option<Arc<dyn Database>> {
    let i = cache.iter().position(|(k, _)| k == key)?;
    let entry = cache.remove(i);
    let db = entry.1.clone();
    cache.push(entry);
    Some(db)
}

/// Closes an adapter dropped from the cache, unless a request still uses it (then it
/// closes when that request drops it).
async fn close_when_unused(db: Arc<dyn Database>) {
    if Arc::strong_count(&db) == 1 {
        if let Err(e) = db.close().await {
            tracing::warn!(error = %e, adapter = db.name(), "closing an unused adapter failed");
        }
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

/// Handles `request` with a process-wide default [`Worker`] (built-in adapters,
/// pinned to [`DEPLOYMENT_ENV`] when it is set): the one call a custom Lambda handler
/// needs.
pub async fn handle(request: &WorkerRequest) -> WorkerResult {
    static WORKER: std::sync::OnceLock<Worker> = std::sync::OnceLock::new();
    WORKER
        .get_or_init(|| Worker::default().pinned_from_env())
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

    fn request(database: DatabaseConfig) -> WorkerRequest {
        let mut test = TestConfig::new("t", crate::config::OperationConfig::new("read"));
        test.operations = Some(10);
        let workload = WorkloadConfig {
            records: 10,
            ..WorkloadConfig::default()
        };
        WorkerRequest {
            version: PROTOCOL_VERSION,
            run_id: "r".into(),
            phase: Phase::Run,
            test,
            database,
            workload,
            worker: WorkerSlot { index: 0, count: 1 },
            seed: 1,
        }
    }

    /// What `w` answers a small read test on `database`.
    async fn answer(w: &Worker, database: DatabaseConfig) -> WorkerResult {
        w.handle(&request(database), CancellationToken::new(), None)
            .await
    }

    fn memory(max_batch: u64) -> DatabaseConfig {
        serde_json::from_value(serde_json::json!({"type": "memory", "max_batch_size": max_batch}))
            .unwrap()
    }

    #[tokio::test]
    async fn a_pinned_worker_refuses_other_databases_before_building_them() {
        let deployed = Deployment::new(memory(7));
        let w = Worker::default().pinned(deployed);
        let r = answer(&w, memory(8)).await;
        assert_eq!(r.status, WorkerStatus::Failed);
        assert_eq!(
            r.metrics.errors.counts.keys().copied().collect::<Vec<_>>(),
            vec![crate::error::ErrorClass::Rejected]
        );
        assert!(r.error.unwrap().contains("database.max_batch_size"));
        assert_eq!(w.cached_adapters(), 0, "nothing was built");
        let r = answer(&w, DatabaseConfig::new("noop")).await;
        assert!(r.error.unwrap().contains("database.type"));
        // The deployed database runs, and so does a request that leaves it to the pin.
        let r = answer(&w, memory(7)).await;
        assert_eq!(r.status, WorkerStatus::Completed, "{:?}", r.error);
        let r = answer(&w, DatabaseConfig::new("memory")).await;
        assert_eq!(r.status, WorkerStatus::Completed, "{:?}", r.error);
    }

    #[tokio::test]
    async fn the_overflowing_duration_is_a_failed_result_not_a_panic() {
        let mut req = serde_json::to_value(request(DatabaseConfig::new("noop"))).unwrap();
        req["test"]["duration"] = "18446744073709551615s".into();
        req["test"]["warmup"] = "1s".into();
        let r = Worker::default()
            .handle_json(req.to_string().as_bytes(), CancellationToken::new())
            .await;
        assert_eq!(r.status, WorkerStatus::Failed);
        assert!(
            r.error.as_deref().unwrap().contains("test.duration"),
            "{:?}",
            r.error
        );
        // Built in code past the parser's bound: refused by the limits, no panic.
        let mut req = request(DatabaseConfig::new("noop"));
        req.test.operations = None;
        req.test.duration = Some(crate::units::HumanDuration(Duration::MAX));
        req.test.warmup = crate::units::HumanDuration(Duration::MAX);
        let r = Worker::default()
            .handle(&req, CancellationToken::new(), None)
            .await;
        assert_eq!(r.status, WorkerStatus::Failed);
        assert!(
            r.error.as_deref().unwrap().contains("test.duration"),
            "{:?}",
            r.error
        );
    }

    #[tokio::test]
    async fn an_unreadable_deployment_refuses_everything() {
        let w = Worker {
            pin: Pin::Unreadable("bad".into()),
            ..Worker::default()
        };
        let r = answer(&w, DatabaseConfig::new("memory")).await;
        assert_eq!(r.status, WorkerStatus::Failed);
        assert!(r.error.unwrap().contains("LGB_DEPLOYMENT"));
    }

    #[tokio::test]
    async fn the_adapter_cache_keeps_the_most_recently_used() {
        let w = Worker::default();
        let first = w.adapter(&memory(1)).await.unwrap();
        let second = w.adapter(&memory(2)).await.unwrap();
        for n in 3..=(MAX_CACHED_ADAPTERS as u64 + 2) {
            // Using the first one again keeps it in the cache.
            assert!(Arc::ptr_eq(&first, &w.adapter(&memory(1)).await.unwrap()));
            w.adapter(&memory(n)).await.unwrap();
            assert!(w.cached_adapters() <= MAX_CACHED_ADAPTERS);
        }
        assert_eq!(w.cached_adapters(), MAX_CACHED_ADAPTERS);
        assert!(Arc::ptr_eq(&first, &w.adapter(&memory(1)).await.unwrap()));
        // The least recently used ones (2, then 3) were dropped: 2 is built anew.
        assert!(!Arc::ptr_eq(&second, &w.adapter(&memory(2)).await.unwrap()));
        let keys: Vec<String> = w
            .adapters
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect();
        assert!(!keys.contains(&memory(3).cache_key()), "{keys:?}");
        assert!(keys.contains(&memory(1).cache_key()), "{keys:?}");
    }

    #[tokio::test]
    async fn absurd_requests_are_refused_before_running() {
        let mut req = request(DatabaseConfig::new("memory"));
        req.test.concurrency = 1_000_000;
        req.test.duration = Some(crate::units::HumanDuration::secs(3600));
        req.worker = WorkerSlot { index: 3, count: 2 };
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
