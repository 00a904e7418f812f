//! Fans a benchmark out to workers and merges what they measured: each worker
//! invocation is a self-contained [`WorkerRequest`] handed to an [`Invoker`].
//! [`LocalInvoker`] runs workers in this process; Lambda and Function URL invokers run
//! them in AWS. Invocation failures are retried with backoff and jitter; the
//! benchmark's own errors never are (they are measurements).

#[cfg(feature = "lambda")]
mod answer;
pub mod deployed;
mod fan_out;
#[cfg(feature = "lambda")]
mod function_url;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "lambda")]
mod lambda_admin;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
pub use tokio_util::sync::CancellationToken;

use crate::results::{RunResult, RunStatus, TestResult, WorkerSummary};
#[cfg(feature = "lambda")]
pub use answer::parse_report;
pub use fan_out::FanOut;
use fan_out::InvocationGate;
#[cfg(feature = "lambda")]
pub use function_url::FunctionUrlInvoker;
#[cfg(feature = "lambda")]
pub use lambda::{LambdaFunction, LambdaInvoker};

use std::collections::BTreeMap;

use crate::catalog::Registries;
use crate::config::{BenchmarkConfig, ColdStart, Target, TestConfig};
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
    /// How long a stopped run still waits for this invoker's workers to answer. Local
    /// workers see the stop themselves and return what they measured at once (zero);
    /// remote workers cannot be told to stop, so those about to answer get
    /// [`REMOTE_STOP_GRACE`].
    fn stop_grace(&self) -> Duration {
        Duration::ZERO
    }
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
    build_invoker_with(config, &Registries::builtin(), progress).await
}

/// [`build_invoker`] whose local workers run the adapters and operations of
/// `registries` (the session's).
pub(crate) async fn build_invoker_with(
    config: &BenchmarkConfig,
    registries: &Registries,
    progress: Option<Arc<Progress>>,
) -> Result<Arc<dyn Invoker>> {
    match config.runner.target {
        Target::Local => {
            let worker = Worker::new(registries.databases.clone(), registries.operations.clone());
            let mut local = LocalInvoker::new(Arc::new(worker));
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

/// The control of the function behind `config.runner` (its `runner.function`), for
/// forced cold starts and sweeps: `None` for the local target, or when no function is
/// named and `required` is false.
pub(crate) async fn build_function_control(
    config: &BenchmarkConfig,
    required: bool,
) -> Result<Option<Arc<dyn FunctionControl>>> {
    let named = config
        .runner
        .function
        .as_deref()
        .is_some_and(|f| !f.trim().is_empty());
    let required = required || config.runner.cold_start == ColdStart::Force;
    match config.runner.target {
        Target::Local if required => Err(Error::config(
            "runner.target",
            "changing a function's configuration needs target `lambda` or `url`",
        )),
        Target::Local => Ok(None),
        _ if !named && !required => Ok(None),
        #[cfg(feature = "lambda")]
        _ => Ok(Some(Arc::new(
            lambda::LambdaFunction::from_config(&config.runner).await?,
        ))),
        #[cfg(not(feature = "lambda"))]
        _ => Err(Error::config(
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
    /// One worker of `test` answered (before its result is merged and dropped): what
    /// a sweep needs to keep cold and warm workers' latencies apart.
    fn worker_finished(&self, _test: &TestConfig, _result: &WorkerResult) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Silent;
impl RunObserver for Silent {}

/// A Lambda function's settings that lgb changes: what forced cold starts and memory
/// sweeps need. The Lambda implementation is [`lambda::LambdaFunction`]; tests may
/// give their own.
#[async_trait]
pub trait FunctionControl: Send + Sync {
    /// The function's current memory size (MB) and environment variables.
    async fn settings(&self) -> Result<FunctionSettings>;
    /// Sets memory and/or environment, and returns once the update is complete (its
    /// `LastUpdateStatus` is `Successful`): later invocations see the new settings in
    /// new sandboxes.
    async fn update(
        &self,
        memory_mb: Option<u32>,
        environment: Option<&BTreeMap<String, String>>,
    ) -> Result<()>;
}

/// The settings of a function that [`FunctionControl`] reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FunctionSettings {
    /// `MemorySize` in MB.
    pub memory_mb: u32,
    /// The environment variables.
    pub environment: BTreeMap<String, String>,
}

/// The environment variable whose new value retires every warm sandbox before a test
/// when `runner.cold_start` is `force`.
pub const COLD_START_NONCE_VAR: &str = "LGB_COLD_START_NONCE";

/// Makes every later invocation of the function start cold: sets
/// [`COLD_START_NONCE_VAR`] to `nonce`, keeping the rest of the environment, and waits
/// for the update.
pub(crate) async fn force_cold_start(control: &dyn FunctionControl, nonce: &str) -> Result<()> {
    let mut env = control.settings().await?.environment;
    env.insert(COLD_START_NONCE_VAR.to_string(), nonce.to_string());
    control.update(None, Some(&env)).await
}

/// What makes each wave of workers start in new sandboxes when `runner.cold_start` is
/// `force`: before every wave the runner asks for fresh sandboxes, and the wave's
/// workers go through the invoker it is given. [`Runner::with_control`] retires them
/// with a new environment nonce on the function ([`COLD_START_NONCE_VAR`]); a memory
/// sweep gives each wave a version of its own, published for it before anything ran.
#[async_trait]
pub trait ColdStarts: Send + Sync {
    /// Makes the workers of wave `nonce` (unique per run, test and wave) start cold,
    /// and names the invoker they go through (`None`: the runner's own).
    async fn fresh(&self, nonce: &str) -> Result<Option<Arc<dyn Invoker>>>;
}

/// Forced cold starts through the function's environment: a new nonce per wave.
struct EnvironmentNonce(Arc<dyn FunctionControl>);

#[async_trait]
impl ColdStarts for EnvironmentNonce {
    async fn fresh(&self, nonce: &str) -> Result<Option<Arc<dyn Invoker>>> {
        force_cold_start(self.0.as_ref(), nonce).await?;
        Ok(None)
    }
}

/// How long a stopped run waits for remote workers (Lambda, Function URL) of the
/// running test that are about to answer: their answers are kept, the workers still
/// running after it are marked cancelled (docs/measurement.md, docs/lambda.md).
pub const REMOTE_STOP_GRACE: Duration = Duration::from_secs(5);

/// A token that fires `grace` after `cancel` does (at once when `grace` is zero), and
/// a guard that fires it when dropped, which ends the wait.
fn answers_until(
    cancel: &CancellationToken,
    grace: Duration,
) -> (CancellationToken, Option<tokio_util::sync::DropGuard>) {
    if grace.is_zero() {
        return (cancel.clone(), None);
    }
    let late = CancellationToken::new();
    let (stop, fire) = (cancel.clone(), late.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = async { stop.cancelled().await; tokio::time::sleep(grace).await } => fire.cancel(),
            _ = fire.cancelled() => {}
        }
    });
    (late.clone(), Some(late.drop_guard()))
}

/// Lambda refusing invocations for lack of concurrency is retried this many times per
/// worker, apart from `runner.retries`: it says the fan-out is too wide right now, not
/// that the worker is broken.
pub const LAMBDA_THROTTLE_RETRIES: u32 = 10;

/// Runs benchmarks through an invoker.
pub struct Runner {
    invoker: Arc<dyn Invoker>,
    retries: u32,
    backoff: Duration,
    cold_starts: Option<Arc<dyn ColdStarts>>,
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
pub(crate) fn new_run_id(name: &str) -> String {
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
            cold_starts: None,
        }
    }

    /// How many times a failed invocation is retried.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Changes the function's configuration through `control` where the config asks
    /// (`runner.cold_start: force`: a new environment nonce before each wave).
    pub fn with_control(mut self, control: Arc<dyn FunctionControl>) -> Self {
        self.cold_starts = Some(Arc::new(EnvironmentNonce(control)));
        self
    }

    /// Forces cold starts (`runner.cold_start: force`) through `cold_starts` instead of
    /// the function's environment.
    pub fn with_cold_starts(mut self, cold_starts: Arc<dyn ColdStarts>) -> Self {
        self.cold_starts = Some(cold_starts);
        self
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
        let mut run = RunResult::begin(config, new_run_id(&config.name));
        self.run_into(config, &mut run, cancel, observer, &mut |_| Ok(()))
            .await?;
        Ok(run)
    }

    /// The tests `config` plans, in order: the load phase (if enabled), then each test
    /// with its preset resolved.
    pub fn plan(config: &BenchmarkConfig) -> Vec<(TestConfig, Phase)> {
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
        plan
    }

    /// Runs every test of `config` into `run` (see [`RunResult::begin`]), as
    /// [`Runner::run`] does, and calls `ended` after each test is added to
    /// `run.tests`: the moment to keep it (the results directory is written there).
    /// On an error, from the runner or from `ended`, `run` keeps every test that
    /// ended before it and the error is returned; `run.status` is set when the loop
    /// ends on its own (completed, cancelled, or failed when no worker of a test ran).
    pub async fn run_into(
        &self,
        config: &BenchmarkConfig,
        run: &mut RunResult,
        cancel: CancellationToken,
        observer: &dyn RunObserver,
        ended: &mut (dyn FnMut(&mut RunResult) -> Result<()> + Send),
    ) -> Result<()> {
        run.status = RunStatus::Running;
        let force_cold = config.runner.cold_start == ColdStart::Force;
        if force_cold && self.cold_starts.is_none() {
            return Err(Error::config(
                "runner.cold_start",
                "`force` needs a runner that can change the function's configuration \
                 (target `lambda` or `url` with runner.function set)",
            ));
        }
        let mut status = RunStatus::Completed;
        for (test, phase) in Self::plan(config) {
            if cancel.is_cancelled() {
                status = RunStatus::Cancelled;
                break;
            }
            crate::results::faults::check(&format!("test:{}", test.name))?;
            let workers = match phase {
                Phase::Load => config.runner.workers.max(1),
                Phase::Run => config.workers_for(&test),
            };
            observer.test_started(&test, phase, workers);
            let result = self
                .run_test(
                    config,
                    &run.run_id,
                    (&test, phase, workers),
                    &cancel,
                    observer,
                )
                .await?;
            observer.test_finished(&result);
            let all_failed = result
                .workers
                .iter()
                .all(|w| w.status == WorkerStatus::Failed);
            run.push_test(result);
            ended(run)?;
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
        run.status = status;
        Ok(())
    }

    async fn run_test(
        &self,
        config: &BenchmarkConfig,
        run_id: &str,
        (test, phase, workers): (&TestConfig, Phase, u32),
        cancel: &CancellationToken,
        observer: &dyn RunObserver,
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
        // Forced cold starts go in waves of `max_in_flight`, each in fresh sandboxes
        // ([`ColdStarts`]: a configuration update that retires those the wave before
        // left warm, or a version of its own). Otherwise one
        // gate bounds the whole test and a worker starts when a slot frees. Each
        // worker's result is folded into the merge as it arrives and dropped, so the
        // runner never holds all workers' results (and their timelines) at once.
        let force_cold = config.runner.cold_start == ColdStart::Force;
        let wave = if force_cold {
            FanOut::of(config).in_flight()
        } else {
            workers.max(1)
        };
        let mut acc = TestMerge::new(test, phase);
        // Remote workers about to answer when the run is stopped get the invoker's
        // grace to do so (see `Invoker::stop_grace`); the guard ends the wait with the test.
        let (answers, _answers_guard) = answers_until(cancel, self.invoker.stop_grace());
        let answers = &answers;
        let mut first = 0u32;
        let mut number = 0u32;
        while first < workers {
            let last = first.saturating_add(wave).min(workers);
            let mut invoker = self.invoker.clone();
            if let (true, Some(cold), false) =
                (force_cold, &self.cold_starts, cancel.is_cancelled())
            {
                let nonce = format!("{run_id}-{}-{number}", test.name);
                tokio::select! {
                    r = async {
                        crate::results::faults::check(&format!("cold-start:{}", test.name))?;
                        cold.fresh(&nonce).await
                    } => if let Some(fresh) = r? {
                        invoker = fresh;
                    },
                    _ = cancel.cancelled() => {}
                }
            }
            let invoker = invoker.as_ref();
            let gate = InvocationGate::new(&config.runner, last - first);
            let gate = &gate;
            let mut outcomes: futures::stream::FuturesUnordered<_> = (first..last)
                .map(|index| {
                    let req = request(index);
                    async move {
                        gate.run(
                            index - first,
                            req.worker,
                            cancel,
                            self.invoke_with_retries(
                                invoker,
                                &req,
                                cancel.clone(),
                                answers.clone(),
                            ),
                        )
                        .await
                    }
                })
                .collect();
            while let Some((result, attempts)) = outcomes.next().await {
                observer.worker_finished(test, &result);
                acc.add(result, attempts)?;
            }
            first = last;
            number += 1;
        }
        acc.finish()
    }

    /// Invokes one worker through `invoker`, retrying failed invocations; no retry
    /// starts once `cancel` fired, and an invocation under way gives up when `answers` fires.
    async fn invoke_with_retries(
        &self,
        invoker: &dyn Invoker,
        req: &WorkerRequest,
        cancel: CancellationToken,
        answers: CancellationToken,
    ) -> (WorkerResult, u32) {
        let mut attempt = 0;
        // Lambda's own throttling has a budget of its own; see LAMBDA_THROTTLE_RETRIES.
        let mut throttled = 0;
        // Failed attempts before the last one: counted by class in the worker's
        // result, so a retried crash or timeout stays visible even when a retry ran.
        let mut retried = crate::metrics::ErrorLog::default();
        loop {
            attempt += 1;
            match invoker.invoke(req, answers.clone()).await {
                Ok(r) => {
                    // An answer for another request is a failure of this worker, never
                    // retried (the same target would answer the same way) and never
                    // merged: its measurements are not this worker's.
                    let mut r = answer_for(req, r);
                    r.metrics.errors.merge(&retried);
                    return (r, attempt);
                }
                Err(e)
                    if matches!(e, Error::LambdaThrottled(_))
                        && throttled < LAMBDA_THROTTLE_RETRIES
                        && !cancel.is_cancelled() =>
                {
                    throttled += 1;
                    retried.record(&e);
                    let cap = self.backoff.saturating_mul(1 << (throttled - 1).min(6));
                    let wait = cap.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
                    tracing::warn!(worker = req.worker.index, attempt, error = %e, ?wait, "Lambda throttled the invocation; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => {}
                    }
                }
                Err(e)
                    if attempt - throttled > self.retries
                        || cancel.is_cancelled()
                        || !retryable(&e) =>
                {
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
                    let cap = self
                        .backoff
                        .saturating_mul(1 << (attempt - throttled - 1).min(10));
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

/// `answer` if it is the result of `req`: the protocol version, run id, phase, worker
/// slot and test it names are the request's. A failed result without a run id is the
/// worker's own refusal of a request it could not decode (it has nothing to echo): it
/// is kept, with the request's identity filled in so that it lands on its worker.
/// Any other answer becomes a failed result of `req` whose [`Error::Internal`] names
/// each field that differs; it keeps only the answer's environment (the invocation
/// ran, and its billed duration is this call's), none of its measurements.
fn answer_for(req: &WorkerRequest, mut answer: WorkerResult) -> WorkerResult {
    if answer.status == WorkerStatus::Failed && answer.run_id.is_empty() {
        answer.run_id.clone_from(&req.run_id);
        answer.test.clone_from(&req.test.name);
        answer.phase = req.phase;
        answer.worker = req.worker;
        return answer;
    }
    let mut differs = Vec::new();
    if answer.version != PROTOCOL_VERSION {
        differs.push(format!(
            "protocol version {} instead of {PROTOCOL_VERSION}",
            answer.version
        ));
    }
    if answer.run_id != req.run_id {
        differs.push(format!(
            "run_id `{}` instead of `{}`",
            answer.run_id, req.run_id
        ));
    }
    if answer.phase != req.phase {
        differs.push(format!(
            "phase {:?} instead of {:?}",
            answer.phase, req.phase
        ));
    }
    if answer.worker != req.worker {
        differs.push(format!(
            "worker {} of {} instead of {} of {}",
            answer.worker.index, answer.worker.count, req.worker.index, req.worker.count
        ));
    }
    if answer.test != req.test.name {
        differs.push(format!(
            "test `{}` instead of `{}`",
            answer.test, req.test.name
        ));
    }
    if differs.is_empty() {
        return answer;
    }
    let mut what = format!(
        "worker {} of {} answered for another request, so its result is not merged: {}",
        req.worker.index,
        req.worker.count,
        differs.join("; ")
    );
    if let Some(e) = &answer.error {
        what.push_str(&format!(" (its error: {e})"));
    }
    let error = Error::Internal(what);
    tracing::warn!(worker = req.worker.index, %error, "the answer does not match the request");
    WorkerResult::failed(Some(req), &error, answer.environment)
}

/// Whether another attempt of a failed invocation may succeed: throttling, timeouts,
/// network and server failures may pass; a wrong setup (missing function, refused
/// caller), a rejected request or a cancelled run will not.
fn retryable(e: &Error) -> bool {
    use crate::error::ErrorClass as C;
    matches!(
        e.class(),
        C::Throttled | C::LambdaThrottled | C::Timeout | C::Connect | C::Backend | C::Io
    )
}

/// The test with its preset expanded into an operation and a distribution
/// ([`TestConfig::resolved`]).
pub fn resolve_preset(t: &TestConfig) -> TestConfig {
    t.resolved()
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
///
/// Timelines are folded in batches (up to [`FOLD_WORKERS`] workers or
/// [`FOLD_BYTES`] of their histograms, whichever comes first), point by point, so that
/// each merged second is added to while it is in the CPU's cache.
#[derive(Debug)]
pub struct TestMerge {
    test: TestConfig,
    phase: Phase,
    metrics: TestMetrics,
    workers: Vec<WorkerSummary>,
    start: i64,
    end: i128,
    pending: Vec<crate::metrics::Timeline>,
    /// Timelines of workers whose whole-test latencies are their seconds' sums
    /// ([`WorkerResult::latency_in_timeline`]), folded into `derived` apart from the
    /// others, so that only their merged seconds are added up at the end.
    pending_derived: Vec<crate::metrics::Timeline>,
    derived: crate::metrics::Timeline,
    pending_bytes: usize,
}

/// Most worker timelines a [`TestMerge`] holds before folding them.
pub(crate) const FOLD_WORKERS: usize = 64;
/// Most bytes of worker timeline histograms a [`TestMerge`] holds before folding them.
pub(crate) const FOLD_BYTES: usize = 64 << 20;

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
            pending: Vec::new(),
            pending_derived: Vec::new(),
            derived: crate::metrics::Timeline::default(),
            pending_bytes: 0,
        }
    }

    /// Adds one worker's result (after `attempts` invocations) and drops it.
    pub fn add(&mut self, mut r: WorkerResult, attempts: u32) -> Result<()> {
        let timeline = std::mem::take(&mut r.metrics.timeline);
        if r.latency_in_timeline && timeline.shift() != 0 {
            return Err(Error::Backend(format!(
                "worker {} left its latencies to a coarsened timeline",
                r.worker.index
            )));
        }
        self.metrics.merge(&r.metrics)?;
        self.pending_bytes += timeline.allocated_bytes();
        if r.latency_in_timeline {
            self.pending_derived.push(timeline);
        } else {
            self.pending.push(timeline);
        }
        if self.pending.len() + self.pending_derived.len() >= FOLD_WORKERS
            || self.pending_bytes >= FOLD_BYTES
        {
            self.fold();
        }
        // Workers that never measured (failed, or stopped before their invocation)
        // have no window.
        if r.status != WorkerStatus::Failed && r.start_unix_ms > 0 {
            self.start = self.start.min(r.start_unix_ms);
            self.end = self
                .end
                .max(i128::from(r.start_unix_ms) * 1_000_000 + i128::from(r.window_ns));
        }
        self.workers.push(WorkerSummary {
            index: r.worker.index,
            status: r.status,
            ops: r.metrics.ok().saturating_add(r.metrics.failed()),
            error: r.error,
            attempts,
            start_unix_ms: r.start_unix_ms,
            window_ns: r.window_ns,
            environment: r.environment,
            timeline_shift: r.timeline_shift,
            first_op_ns: r.first_op_ns,
        });
        Ok(())
    }

    fn fold(&mut self) {
        if !self.pending.is_empty() {
            self.metrics
                .timeline
                .merge_all(std::mem::take(&mut self.pending));
        }
        if !self.pending_derived.is_empty() {
            self.derived
                .merge_all(std::mem::take(&mut self.pending_derived));
        }
        self.pending_bytes = 0;
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
    pub fn finish(mut self) -> Result<TestResult> {
        self.fold();
        // The whole-test latencies the workers left to their timelines: the sums of
        // the merged seconds, then those seconds join the others'.
        let derived = std::mem::take(&mut self.derived);
        if !derived.is_empty() {
            self.metrics.add_timeline_latency(&derived)?;
            if self.metrics.timeline.is_empty() {
                self.metrics.timeline = derived;
            } else {
                self.metrics.timeline.merge_all(vec![derived]);
            }
        }
        let Self {
            test,
            phase,
            metrics,
            mut workers,
            start,
            end,
            ..
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
            files: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    /// A worker's result as its executor would make it: each operation's whole-test
    /// latency is exactly the sum of its timeline's seconds (wide latencies: 1 µs to
    /// 50 ms, 50 a second).
    fn synthetic_worker(index: u32, count: u32, seconds: i64) -> WorkerResult {
        use crate::metrics::{LatencyHistogram, OperationMetrics, SparseHistogram};
        let mut x = u64::from(index) * 7_919 + 1;
        let mut metrics = TestMetrics::default();
        for op in ["read", "update"] {
            let mut m = OperationMetrics::new(false);
            for s in 0..seconds {
                let mut second = LatencyHistogram::new();
                for _ in 0..50 {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let ns = 1_000 + (x >> 11) % 50_000_000;
                    m.record_ok(0, 0, ns, &crate::record::OpMeta::default());
                    second.record_ns(ns);
                }
                let sparse = SparseHistogram::from_histogram(&second);
                metrics
                    .timeline
                    .add(1_700_000_000 + s, op, 50, 0, &sparse)
                    .unwrap();
            }
            metrics.operations.insert(op.into(), m);
        }
        WorkerResult::completed(
            "r",
            "t",
            WorkerSlot { index, count },
            1_700_000_000_000,
            seconds as u64 * 1_000_000_000,
            metrics,
        )
    }

    /// `r` as the runner gets it from a worker: readied by `fit_response` within
    /// `budget`, encoded and decoded.
    fn sent(mut r: WorkerResult, budget: usize) -> WorkerResult {
        crate::protocol::fit_response(&mut r, budget);
        serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap()
    }

    #[test]
    fn latencies_left_to_the_timeline_merge_exactly_as_sent_ones() {
        let test = TestConfig::new("t", crate::config::OperationConfig::new("read"));
        let workers: Vec<WorkerResult> = (0..5).map(|i| synthetic_worker(i, 5, 20)).collect();
        let whole = merge(
            &test,
            Phase::Run,
            workers.iter().map(|r| (r.clone(), 1)).collect(),
        )
        .unwrap();
        assert_eq!(whole.metrics.operations["read"].latency.len(), 5 * 20 * 50);

        // Every worker leaves its latencies to its timeline: sent empty, the sums of
        // its seconds on the runner's side, the same merged test to the last bucket.
        let derived: Vec<WorkerResult> = workers
            .iter()
            .map(|r| sent(r.clone(), crate::protocol::RESPONSE_BUDGET_BYTES))
            .collect();
        for (d, r) in derived.iter().zip(&workers) {
            assert!(d.latency_in_timeline);
            assert!(d.metrics.operations.values().all(|m| m.latency.is_empty()));
            assert_eq!(
                d.latencies(),
                r.metrics
                    .operations
                    .iter()
                    .map(|(op, m)| (op.clone(), m.latency.clone()))
                    .collect()
            );
        }
        let all = merge(
            &test,
            Phase::Run,
            derived.iter().map(|r| (r.clone(), 1)).collect(),
        );
        assert_eq!(all.unwrap(), whole);

        // Mixed: two workers sent their histograms whole (one had to coarsen its
        // timeline to fit a small budget), three left them to their timelines.
        let size = serde_json::to_vec(&derived[0]).unwrap().len();
        let coarse = sent(workers[1].clone(), size - 1);
        assert!(!coarse.latency_in_timeline && coarse.timeline_shift > 0);
        assert_eq!(coarse.metrics.operations, workers[1].metrics.operations);
        let mut plain = workers[0].clone();
        // A latency that is not its seconds' sum is sent whole.
        plain.metrics.operations.get_mut("read").unwrap().record_ok(
            0,
            0,
            7_777,
            &crate::record::OpMeta::default(),
        );
        let plain_sent = sent(plain.clone(), crate::protocol::RESPONSE_BUDGET_BYTES);
        assert!(!plain_sent.latency_in_timeline);
        let mut inputs = vec![(plain_sent, 1), (coarse, 1)];
        inputs.extend(derived[2..].iter().map(|r| (r.clone(), 1)));
        let mixed = merge(&test, Phase::Run, inputs).unwrap();
        let mut want = vec![(plain, 1), (workers[1].clone(), 1)];
        want.extend(workers[2..].iter().map(|r| (r.clone(), 1)));
        let mut want_coarse = want.clone();
        let shift = coarse_shift(&mixed);
        want_coarse[1].0.metrics.timeline.coarsen(shift);
        want_coarse[1].0.timeline_shift = shift;
        assert_eq!(mixed, merge(&test, Phase::Run, want_coarse).unwrap());
        assert_eq!(
            mixed.metrics.operations["read"].latency,
            merge(&test, Phase::Run, want).unwrap().metrics.operations["read"].latency,
            "whole-test latencies stay at full precision"
        );

        // A worker that says so of a coarsened timeline is refused.
        let mut liar = derived[0].clone();
        liar.metrics.timeline.coarsen(3);
        let e = merge(&test, Phase::Run, vec![(liar, 1)]).unwrap_err();
        assert!(e.to_string().contains("coarsened timeline"), "{e}");
    }

    /// The coarsest timeline shift among a merged test's workers.
    fn coarse_shift(t: &TestResult) -> u8 {
        t.workers
            .iter()
            .map(|w| w.timeline_shift)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn internal_errors_are_never_retried_nor_the_databases() {
        assert!(retryable(&Error::Backend("internal server error".into())));
        let bug = Error::Internal("encoding results".into());
        assert!(!retryable(&bug));
        assert_eq!(bug.class(), ErrorClass::Internal);
        assert_eq!(bug.class().as_str(), "internal");
    }

    use std::sync::atomic::{AtomicU32, Ordering};

    /// Runs a real local worker, then lets `tamper` change its answer (as a worker of
    /// another run, version or slot would answer); counts its calls.
    struct TamperingInvoker<F> {
        local: LocalInvoker,
        calls: AtomicU32,
        tamper: F,
    }

    #[async_trait]
    impl<F> Invoker for TamperingInvoker<F>
    where
        F: Fn(&WorkerRequest, &mut WorkerResult) + Send + Sync,
    {
        fn name(&self) -> &str {
            "tampering"
        }
        async fn invoke(
            &self,
            request: &WorkerRequest,
            cancel: CancellationToken,
        ) -> Result<WorkerResult> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut r = self.local.invoke(request, cancel).await?;
            (self.tamper)(request, &mut r);
            Ok(r)
        }
    }

    /// Runs 2 workers of 20 writes each through `tamper`, with 3 retries; the test
    /// result and the number of invocations.
    async fn run_tampered<F>(tamper: F) -> (TestResult, u32)
    where
        F: Fn(&WorkerRequest, &mut WorkerResult) + Send + Sync + 'static,
    {
        let inv = Arc::new(TamperingInvoker {
            local: LocalInvoker::default(),
            calls: AtomicU32::new(0),
            tamper,
        });
        let config = BenchmarkConfig::from_json_str(
            r#"{"database": {"type": "memory"}, "workload": {"records": 100, "load": false},
                "runner": {"workers": 2},
                "tests": [{"name": "writes", "operation": {"type": "write"}, "operations": 40}]}"#,
            &[],
        )
        .unwrap();
        let mut run = Runner::new(inv.clone(), 3)
            .with_backoff(Duration::from_millis(1))
            .run(&config, CancellationToken::new(), &Silent)
            .await
            .unwrap();
        (run.tests.remove(0), inv.calls.load(Ordering::SeqCst))
    }

    /// Worker 1's answer is changed by `tamper`: it must fail alone, after one
    /// attempt, with an internal error containing `names`, and only worker 0's 20
    /// operations are merged.
    async fn assert_worker_1_refused<F>(tamper: F, names: &str)
    where
        F: Fn(&mut WorkerResult) + Send + Sync + 'static,
    {
        let (test, calls) = run_tampered(move |req, r| {
            if req.worker.index == 1 {
                tamper(r)
            }
        })
        .await;
        assert_eq!(calls, 2, "no retry of the refused answer");
        let (good, bad) = (&test.workers[0], &test.workers[1]);
        assert_eq!(
            (good.index, good.status, good.ops, good.attempts),
            (0, WorkerStatus::Completed, 20, 1)
        );
        assert_eq!(
            (bad.index, bad.status, bad.attempts),
            (1, WorkerStatus::Failed, 1)
        );
        let error = bad.error.as_deref().unwrap();
        assert!(
            error.starts_with(
                "internal error: worker 1 of 2 answered for another request, so its result is not merged: "
            ) && error.contains(names),
            "{error}"
        );
        // Only worker 0's operations, and the one refused answer as an internal error.
        assert_eq!(test.metrics.ok(), 20);
        assert_eq!(
            test.metrics.errors.counts.get(&ErrorClass::Internal),
            Some(&1)
        );
        assert_eq!(test.metrics.errors.counts.values().sum::<u64>(), 1);
    }

    #[tokio::test]
    async fn an_answer_for_another_run_is_not_merged() {
        assert_worker_1_refused(
            |r| r.run_id = "20250101T000000Z-other-0001".into(),
            "run_id `20250101T000000Z-other-0001` instead of `",
        )
        .await;
    }

    #[tokio::test]
    async fn an_answer_for_another_worker_slot_is_not_merged() {
        assert_worker_1_refused(|r| r.worker.index = 0, "worker 0 of 2 instead of 1 of 2").await;
        assert_worker_1_refused(|r| r.worker.count = 10, "worker 1 of 10 instead of 1 of 2").await;
    }

    #[tokio::test]
    async fn an_answer_of_another_version_test_or_phase_is_not_merged() {
        assert_worker_1_refused(
            |r| r.version = PROTOCOL_VERSION + 1,
            &format!(
                "protocol version {} instead of {PROTOCOL_VERSION}",
                PROTOCOL_VERSION + 1
            ),
        )
        .await;
        assert_worker_1_refused(
            |r| r.test = "reads".into(),
            "test `reads` instead of `writes`",
        )
        .await;
        assert_worker_1_refused(|r| r.phase = Phase::Load, "phase Load instead of Run").await;
        // A failed answer for another run keeps what its worker said.
        assert_worker_1_refused(
            |r| {
                r.run_id = "x".into();
                r.status = WorkerStatus::Failed;
                r.error = Some("unknown database `nosuch`".into());
            },
            "run_id `x` instead of `",
        )
        .await;
        let (test, _) = run_tampered(|req, r| {
            if req.worker.index == 1 {
                r.run_id = "x".into();
                r.error = Some("unknown database `nosuch`".into());
            }
        })
        .await;
        assert!(
            test.workers[1]
                .error
                .as_deref()
                .unwrap()
                .ends_with("(its error: unknown database `nosuch`)"),
            "{:?}",
            test.workers[1].error
        );
    }

    #[tokio::test]
    async fn a_failed_answer_without_a_run_id_is_kept_on_its_worker() {
        // What a worker answers when it cannot decode the request: nothing to echo.
        let (test, calls) = run_tampered(|req, r| {
            if req.worker.index == 1 {
                *r = WorkerResult::failed(
                    None,
                    &Error::config("run_id", "invalid type: integer `5`, expected a string"),
                    Environment::default(),
                );
            }
        })
        .await;
        assert_eq!(calls, 2);
        let bad = &test.workers[1];
        assert_eq!(
            (bad.index, bad.status, bad.attempts),
            (1, WorkerStatus::Failed, 1)
        );
        let error = bad.error.as_deref().unwrap();
        assert!(
            error.contains("run_id: invalid type") && !error.contains("another request"),
            "{error}"
        );
        assert_eq!(
            test.metrics.errors.counts.get(&ErrorClass::Config),
            Some(&1)
        );
        assert_eq!(test.metrics.errors.counts.get(&ErrorClass::Internal), None);
        // The identity is the request's.
        let req = WorkerRequest {
            version: PROTOCOL_VERSION,
            run_id: "r".into(),
            phase: Phase::Load,
            test: TestConfig::new("load", crate::config::OperationConfig::new("load")),
            database: crate::config::DatabaseConfig::new("memory"),
            workload: crate::config::WorkloadConfig::default(),
            worker: WorkerSlot { index: 3, count: 4 },
            seed: 1,
        };
        let kept = answer_for(
            &req,
            WorkerResult::failed(None, &Error::Internal("x".into()), Environment::default()),
        );
        assert_eq!(
            (
                kept.run_id.as_str(),
                kept.test.as_str(),
                kept.phase,
                kept.worker
            ),
            ("r", "load", Phase::Load, req.worker)
        );
        assert_eq!(kept.error.as_deref(), Some("internal error: x"));
    }
}

#[cfg(test)]
mod fan_out_tests {
    //! `max_in_flight` and `ramp`, through an invoker that counts its open calls and
    //! runs a real local worker for each.

    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    use super::*;

    struct CountingInvoker {
        local: LocalInvoker,
        open: AtomicU32,
        max_open: AtomicU32,
        started: Mutex<Vec<(u32, std::time::Instant)>>,
    }

    #[async_trait]
    impl Invoker for CountingInvoker {
        fn name(&self) -> &str {
            "counting"
        }
        async fn invoke(
            &self,
            request: &WorkerRequest,
            cancel: CancellationToken,
        ) -> Result<WorkerResult> {
            self.started
                .lock()
                .unwrap()
                .push((request.worker.index, std::time::Instant::now()));
            let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_open.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(3)).await;
            let r = self.local.invoke(request, cancel).await;
            self.open.fetch_sub(1, Ordering::SeqCst);
            r
        }
    }

    fn invoker() -> Arc<CountingInvoker> {
        Arc::new(CountingInvoker {
            local: LocalInvoker::default(),
            open: AtomicU32::new(0),
            max_open: AtomicU32::new(0),
            started: Mutex::new(Vec::new()),
        })
    }

    fn config(runner: &str) -> BenchmarkConfig {
        BenchmarkConfig::from_json_str(
            &format!(
                r#"{{"database": {{"type": "memory"}}, "workload": {{"records": 100, "load": false}},
                    "runner": {runner},
                    "tests": [{{"name": "writes", "operation": {{"type": "write"}}, "operations": 2000}}]}}"#
            ),
            &[],
        )
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_hundred_workers_never_have_more_than_ten_open() {
        let inv = invoker();
        let run = Runner::new(inv.clone(), 0)
            .run(
                &config(r#"{"workers": 200, "max_in_flight": 10}"#),
                CancellationToken::new(),
                &Silent,
            )
            .await
            .unwrap();
        assert_eq!(inv.max_open.load(Ordering::SeqCst), 10);
        let test = &run.tests[0];
        assert_eq!(test.workers.len(), 200);
        assert!(test
            .workers
            .iter()
            .all(|w| w.status == WorkerStatus::Completed && w.attempts == 1));
        assert_eq!(test.metrics.ok(), 2000);
        // The default lets 20 workers go at once.
        let inv = invoker();
        Runner::new(inv.clone(), 0)
            .run(
                &config(r#"{"workers": 20}"#),
                CancellationToken::new(),
                &Silent,
            )
            .await
            .unwrap();
        assert_eq!(inv.max_open.load(Ordering::SeqCst), 20);
    }

    #[tokio::test]
    async fn ramp_spreads_the_starts() {
        let inv = invoker();
        let t0 = std::time::Instant::now();
        Runner::new(inv.clone(), 0)
            .run(
                &config(r#"{"workers": 4, "ramp": "400ms"}"#),
                CancellationToken::new(),
                &Silent,
            )
            .await
            .unwrap();
        let mut started = inv.started.lock().unwrap().clone();
        started.sort_by_key(|(i, _)| *i);
        for (i, at) in started {
            let after = at.duration_since(t0);
            // Worker i of 4 starts no earlier than 100 ms × i.
            assert!(
                after >= Duration::from_millis(100 * u64::from(i)),
                "worker {i} started after {after:?}"
            );
        }
    }

    /// Hands each wave its own invoker, as a sweep's versions do.
    struct WaveInvokers {
        waves: Vec<Arc<CountingInvoker>>,
        nonces: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl ColdStarts for WaveInvokers {
        async fn fresh(&self, nonce: &str) -> Result<Option<Arc<dyn Invoker>>> {
            let mut nonces = self.nonces.lock().unwrap();
            nonces.push(nonce.to_string());
            Ok(Some(self.waves[nonces.len() - 1].clone()))
        }
    }

    #[tokio::test]
    async fn forced_cold_starts_send_each_wave_where_it_is_told() {
        let waves = WaveInvokers {
            waves: vec![invoker(), invoker(), invoker()],
            nonces: Mutex::new(Vec::new()),
        };
        let waves = Arc::new(waves);
        let own = invoker();
        let mut cfg = config(r#"{"workers": 5, "max_in_flight": 2}"#);
        cfg.runner.cold_start = ColdStart::Force;
        let run = Runner::new(own.clone(), 0)
            .with_cold_starts(waves.clone())
            .run(&cfg, CancellationToken::new(), &Silent)
            .await
            .unwrap();
        assert_eq!(run.tests[0].metrics.ok(), 2000);
        let per_wave: Vec<Vec<u32>> = waves
            .waves
            .iter()
            .map(|w| {
                let mut i: Vec<u32> = w.started.lock().unwrap().iter().map(|s| s.0).collect();
                i.sort_unstable();
                i
            })
            .collect();
        // Waves of max_in_flight, in order, none through the runner's own invoker.
        assert_eq!(per_wave, [vec![0, 1], vec![2, 3], vec![4]]);
        assert!(own.started.lock().unwrap().is_empty());
        let nonces = waves.nonces.lock().unwrap().clone();
        assert_eq!(nonces.len(), 3);
        assert!(nonces[0].ends_with("-writes-0") && nonces[2].ends_with("-writes-2"));
        // Without `force` the runner's own invoker takes every worker.
        cfg.runner.cold_start = ColdStart::Allow;
        Runner::new(own.clone(), 0)
            .with_cold_starts(waves.clone())
            .run(&cfg, CancellationToken::new(), &Silent)
            .await
            .unwrap();
        assert_eq!(own.started.lock().unwrap().len(), 5);
        assert_eq!(waves.nonces.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn forced_cold_starts_need_a_lambda_target() {
        let err = BenchmarkConfig::from_json_str(
            r#"{"database": {"type": "memory"}, "runner": {"cold_start": "force"},
                "tests": [{"name": "w", "operation": {"type": "write"}}]}"#,
            &[],
        )
        .unwrap_err();
        assert_eq!(err.config_problems()[0].path, "runner.cold_start");
        let err = BenchmarkConfig::from_json_str(
            r#"{"database": {"type": "memory"}, "runner": {"max_in_flight": 0},
                "tests": [{"name": "w", "operation": {"type": "write"}}]}"#,
            &[],
        )
        .unwrap_err();
        assert!(err
            .config_problems()
            .iter()
            .any(|p| p.path == "runner.max_in_flight"));
    }
}
