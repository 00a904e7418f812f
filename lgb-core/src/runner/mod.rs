//! Fans a benchmark out to workers and merges what they measured (the seed's Command
//! pattern): each worker invocation is a [`WorkerRequest`] handed to an [`Invoker`].
//! [`LocalInvoker`] runs workers in this process; Lambda and Function URL invokers run
//! them in AWS. Invocation failures are retried with backoff and jitter; the
//! benchmark's own errors never are (they are measurements).

#[cfg(feature = "lambda")]
pub mod function_url;
#[cfg(feature = "lambda")]
pub mod lambda;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use tokio_util::sync::CancellationToken;

pub use crate::results::{
    load_run, write_run, RunOutcome, RunResult, RunStatus, TestResult, WorkerSummary, RESULT_FILE,
    SCHEMA_VERSION,
};
#[cfg(feature = "lambda")]
pub use function_url::{FunctionUrlInvoker, UrlAuth};
#[cfg(feature = "lambda")]
pub use lambda::LambdaInvoker;

use crate::config::{BenchmarkConfig, Target, TestConfig};
use crate::error::{Error, Result};
use crate::executor::Progress;
use crate::metrics::TestMetrics;
use crate::protocol::{
    Environment, Phase, WorkerRequest, WorkerResult, WorkerSlot, WorkerStatus, PROTOCOL_VERSION,
};
use crate::worker::Worker;

/// Runs one worker request somewhere.
#[async_trait]
pub trait Invoker: Send + Sync {
    /// Short name for results (`local`, `lambda`, `url`).
    fn name(&self) -> &str;
    /// Invokes one worker. An `Err` is an invocation failure (retried); a worker that ran
    /// and failed returns `Ok` with a failed status (not retried).
    async fn invoke(
        &self,
        request: &WorkerRequest,
        cancel: CancellationToken,
    ) -> Result<WorkerResult>;
}

/// Runs workers in this process, all sharing one [`Worker`] (and so one adapter per
/// database config, which lets the memory adapter's data outlive the load phase).
#[derive(Debug, Clone)]
pub struct LocalInvoker {
    worker: Arc<Worker>,
    progress: Option<Arc<Progress>>,
}

impl LocalInvoker {
    /// A local invoker over `worker`.
    pub fn new(worker: Arc<Worker>) -> Self {
        Self {
            worker,
            progress: None,
        }
    }

    /// Reports live progress into `progress`.
    pub fn with_progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }
}

impl Default for LocalInvoker {
    fn default() -> Self {
        Self::new(Arc::new(Worker::default()))
    }
}

#[async_trait]
impl Invoker for LocalInvoker {
    fn name(&self) -> &str {
        "local"
    }

    async fn invoke(
        &self,
        request: &WorkerRequest,
        cancel: CancellationToken,
    ) -> Result<WorkerResult> {
        Ok(self
            .worker
            .handle(request, cancel, self.progress.clone())
            .await)
    }
}

/// The invoker for `config.runner.target`. Local workers report live progress into
/// `progress`; remote targets need their cargo feature.
pub async fn build_invoker(
    config: &BenchmarkConfig,
    progress: Option<Arc<Progress>>,
) -> Result<Arc<dyn Invoker>> {
    match config.runner.target {
        Target::Local => {
            let mut local = LocalInvoker::default();
            if let Some(p) = progress {
                local = local.with_progress(p);
            }
            Ok(Arc::new(local))
        }
        #[cfg(feature = "lambda")]
        Target::Lambda => Ok(Arc::new(
            lambda::LambdaInvoker::from_config(&config.runner).await?,
        )),
        #[cfg(feature = "lambda")]
        Target::Url => Ok(Arc::new(
            function_url::FunctionUrlInvoker::from_config(&config.runner).await?,
        )),
        #[cfg(not(feature = "lambda"))]
        Target::Lambda | Target::Url => Err(Error::config(
            "runner.target",
            "remote targets are not compiled in; enable feature `lambda`",
        )),
    }
}

/// Something that wants to know how a run is going (progress bars, logs).
pub trait RunObserver: Send + Sync {
    /// A test (or the load phase) starts on `workers` workers.
    fn test_started(&self, _test: &TestConfig, _phase: Phase, _workers: u32) {}
    /// A test ended.
    fn test_finished(&self, _result: &TestResult) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Silent;
impl RunObserver for Silent {}

/// Runs benchmarks through an invoker.
pub struct Runner {
    invoker: Arc<dyn Invoker>,
    retries: u32,
    backoff: Duration,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("invoker", &self.invoker.name())
            .field("retries", &self.retries)
            .finish()
    }
}

/// A new run id: UTC time and benchmark name, safe as a directory name.
pub fn new_run_id(name: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let suffix: u16 = rand::thread_rng().gen();
    format!("{stamp}-{clean}-{suffix:04x}")
}

impl Runner {
    /// A runner over `invoker` retrying failed invocations `retries` times.
    pub fn new(invoker: Arc<dyn Invoker>, retries: u32) -> Self {
        Self {
            invoker,
            retries,
            backoff: Duration::from_millis(200),
        }
    }

    /// Sets the first retry delay (doubled per attempt, with full jitter).
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Runs every test of `config`: the load phase (if enabled), then each test on its
    /// workers. Stops early, keeping what was measured, when `cancel` fires.
    pub async fn run(
        &self,
        config: &BenchmarkConfig,
        cancel: CancellationToken,
        observer: &dyn RunObserver,
    ) -> Result<RunResult> {
        let run_id = new_run_id(&config.name);
        let created_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut tests = Vec::new();
        let mut status = RunStatus::Completed;

        let mut plan: Vec<(TestConfig, Phase)> = Vec::new();
        if config.workload.load {
            let mut load = TestConfig::new("load", crate::config::OperationConfig::new("load"));
            load.operation = None;
            load.concurrency = config.workload.load_concurrency;
            plan.push((load, Phase::Load));
        }
        for t in &config.tests {
            plan.push((resolve_preset(t), Phase::Run));
        }

        for (test, phase) in plan {
            if cancel.is_cancelled() {
                status = RunStatus::Cancelled;
                break;
            }
            let workers = match phase {
                Phase::Load => config.runner.workers.max(1),
                Phase::Run => config.workers_for(&test),
            };
            observer.test_started(&test, phase, workers);
            let result = self
                .run_test(config, &run_id, &test, phase, workers, &cancel)
                .await?;
            observer.test_finished(&result);
            let all_failed = result
                .workers
                .iter()
                .all(|w| w.status == WorkerStatus::Failed);
            tests.push(result);
            // Only the caller's token means the run was stopped. A worker that stopped
            // early on its own (its Lambda deadline came first) is a partial worker, not
            // an interrupted run: later tests still run. A stop also comes before
            // "failed": remote workers cut off by it have no result to return.
            if cancel.is_cancelled() {
                status = RunStatus::Cancelled;
                break;
            }
            if all_failed {
                status = RunStatus::Failed;
                break;
            }
        }
        Ok(RunResult {
            schema_version: SCHEMA_VERSION,
            run_id,
            name: config.name.clone(),
            created_at,
            status,
            target: config.runner.target,
            lgb_version: env!("CARGO_PKG_VERSION").into(),
            // Results are shared; the config in them must not carry secrets.
            config: config.redacted(),
            tests,
        })
    }

    async fn run_test(
        &self,
        config: &BenchmarkConfig,
        run_id: &str,
        test: &TestConfig,
        phase: Phase,
        workers: u32,
        cancel: &CancellationToken,
    ) -> Result<TestResult> {
        use futures::StreamExt;
        let request = |index| WorkerRequest {
            version: PROTOCOL_VERSION,
            run_id: run_id.to_string(),
            phase,
            test: test.clone(),
            database: config.database.clone(),
            workload: config.workload.clone(),
            worker: WorkerSlot {
                index,
                count: workers,
            },
            seed: config.workload.seed,
        };
        // Each worker's result is folded into the merge as it arrives and dropped, so
        // the runner never holds all workers' results (and their timelines) at once.
        let mut outcomes: futures::stream::FuturesUnordered<_> = (0..workers)
            .map(|index| {
                let req = request(index);
                async move { self.invoke_with_retries(&req, cancel.clone()).await }
            })
            .collect();
        let mut acc = TestMerge::new(test, phase);
        while let Some((result, attempts)) = outcomes.next().await {
            acc.add(result, attempts)?;
        }
        acc.finish()
    }

    async fn invoke_with_retries(
        &self,
        req: &WorkerRequest,
        cancel: CancellationToken,
    ) -> (WorkerResult, u32) {
        let mut attempt = 0;
        // Failed attempts before the last one: counted by class in the worker's
        // result, so a retried crash or timeout stays visible even when a retry ran.
        let mut retried = crate::metrics::ErrorLog::default();
        loop {
            attempt += 1;
            match self.invoker.invoke(req, cancel.clone()).await {
                Ok(mut r) => {
                    r.metrics.errors.merge(&retried);
                    return (r, attempt);
                }
                Err(e) if attempt > self.retries || cancel.is_cancelled() || !retryable(&e) => {
                    tracing::warn!(worker = req.worker.index, attempt, error = %e, "invocation failed; giving up");
                    let mut r = WorkerResult::failed(Some(req), &e, Environment::default());
                    r.metrics.errors.merge(&retried);
                    if cancel.is_cancelled() {
                        // Stopped by the caller while a remote worker ran: what it
                        // measured stays with it, but the worker did not fail.
                        r.status = WorkerStatus::Cancelled;
                    }
                    return (r, attempt);
                }
                Err(e) => {
                    retried.record(&e);
                    let cap = self.backoff.saturating_mul(1 << (attempt - 1).min(10));
                    let wait = cap.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
                    tracing::warn!(worker = req.worker.index, attempt, error = %e, ?wait, "invocation failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => {}
                    }
                }
            }
        }
    }
}

/// Whether another attempt of a failed invocation may succeed: throttling, timeouts,
/// network and server failures may pass; a wrong setup (missing function, refused
/// caller), a rejected request or a cancelled run will not.
fn retryable(e: &Error) -> bool {
    use crate::error::ErrorClass as C;
    matches!(
        e.class(),
        C::Throttled | C::Timeout | C::Connect | C::Backend | C::Io
    )
}

/// The test with its preset expanded into an operation and a distribution.
pub fn resolve_preset(t: &TestConfig) -> TestConfig {
    let mut t = t.clone();
    if let Some(p) = t.preset {
        if t.operation.is_none() {
            t.operation = Some(p.operation());
        }
        if t.distribution.is_none() {
            t.distribution = Some(p.distribution());
        }
    }
    t
}

/// Merges worker results into one test result, exactly (all at once; the runner folds
/// them one by one with [`TestMerge`]).
pub fn merge(
    test: &TestConfig,
    phase: Phase,
    outcomes: Vec<(WorkerResult, u32)>,
) -> Result<TestResult> {
    let mut acc = TestMerge::new(test, phase);
    for (r, attempts) in outcomes {
        acc.add(r, attempts)?;
    }
    acc.finish()
}

/// Folds worker results into one test result as they arrive, so the runner holds one
/// merged set of metrics and a small summary per worker, never every worker's result.
#[derive(Debug)]
pub struct TestMerge {
    test: TestConfig,
    phase: Phase,
    metrics: TestMetrics,
    workers: Vec<WorkerSummary>,
    start: i64,
    end: i128,
}

impl TestMerge {
    /// An empty merge for `test` in `phase`.
    pub fn new(test: &TestConfig, phase: Phase) -> Self {
        Self {
            test: test.clone(),
            phase,
            metrics: TestMetrics::default(),
            workers: Vec::new(),
            start: i64::MAX,
            end: i64::MIN as i128,
        }
    }

    /// Adds one worker's result (after `attempts` invocations) and drops it.
    pub fn add(&mut self, r: WorkerResult, attempts: u32) -> Result<()> {
        self.metrics.merge(&r.metrics)?;
        if r.status != WorkerStatus::Failed {
            self.start = self.start.min(r.start_unix_ms);
            self.end = self
                .end
                .max(i128::from(r.start_unix_ms) * 1_000_000 + i128::from(r.window_ns));
        }
        self.workers.push(WorkerSummary {
            index: r.worker.index,
            status: r.status,
            ops: r.metrics.ok() + r.metrics.failed(),
            error: r.error,
            attempts,
            start_unix_ms: r.start_unix_ms,
            window_ns: r.window_ns,
            environment: r.environment,
            timeline_shift: r.timeline_shift,
        });
        Ok(())
    }

    /// Workers added so far.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Whether no worker was added yet.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The merged test result, workers in index order (they arrive in any order).
    pub fn finish(self) -> Result<TestResult> {
        let Self {
            test,
            phase,
            metrics,
            mut workers,
            start,
            end,
        } = self;
        if workers.is_empty() {
            return Err(Error::Internal(format!(
                "test `{}` has no worker result to merge",
                test.name
            )));
        }
        workers.sort_by_key(|w| w.index);
        let (start_unix_ms, window_ns) = if start == i64::MAX {
            (0, 0)
        } else {
            (start, (end - i128::from(start) * 1_000_000).max(0) as u64)
        };
        Ok(TestResult {
            name: test.name.clone(),
            phase,
            start_unix_ms,
            window_ns,
            workers,
            metrics,
            test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    #[test]
    fn internal_errors_are_never_retried_nor_the_databases() {
        assert!(retryable(&Error::Backend("internal server error".into())));
        let bug = Error::Internal("encoding results".into());
        assert!(!retryable(&bug));
        assert_eq!(bug.class(), ErrorClass::Internal);
        assert_eq!(bug.class().as_str(), "internal");
    }
}
