//! What a Lambda handler needs around [`Worker`]: telling a direct Invoke payload from a
//! Function URL event, shaping the answer for each, filling the worker's
//! [`Environment`] (cold start, init time, memory, region, function) from the Lambda
//! environment, stopping a run before the invocation's deadline, and parsing the
//! platform's `REPORT` log line that the runner's Lambda invoker reads from the log tail.
//!
//! This module owns no runtime loop and depends on no Lambda crate: the `bootstrap`
//! binary (lgb-lambda) owns the loop, so a custom handler can use any runtime and still
//! answer exactly like the built-in one.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use lgb_core::worker::lambda::{LambdaHandler, LambdaPlatform};
//! use lgb_core::worker::Worker;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let handler = LambdaHandler::new(Arc::new(Worker::default()), Instant::now())
//!     .with_platform(LambdaPlatform::default());
//! // A Function URL event whose body is not a request: an HTTP 400 with a failed result.
//! let event = serde_json::json!({
//!     "version": "2.0",
//!     "requestContext": {"http": {"method": "POST", "path": "/"}},
//!     "body": "{}",
//!     "isBase64Encoded": false
//! });
//! let answer = handler.handle(event, None).await;
//! assert_eq!(answer["statusCode"], 400);
//! # });
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorClass, Result};
use crate::protocol::{Environment, WorkerResult, WorkerStatus};
use crate::worker::Worker;

/// Configured memory at which Lambda gives a function the equivalent of one full vCPU:
/// CPU time is granted in proportion to memory (AWS's "Configuring Lambda function
/// memory").
pub const MB_PER_VCPU: u32 = 1769;

/// What Lambda tells a function about itself through its reserved environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LambdaPlatform {
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory_mb: Option<u32>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_VERSION` (`$LATEST` or a number).
    pub function_version: Option<String>,
}

impl LambdaPlatform {
    /// The platform as this process's environment describes it.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The platform as `get` (a variable lookup) describes it; empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        Self {
            memory_mb: get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|v| v.trim().parse().ok()),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            function: get("AWS_LAMBDA_FUNCTION_NAME"),
            function_version: get("AWS_LAMBDA_FUNCTION_VERSION"),
        }
    }

    /// Worker threads for the bootstrap's async runtime: the vCPUs that Lambda's CPU
    /// share for the configured memory amounts to, rounded up ([`MB_PER_VCPU`] each:
    /// one up to 1,769 MB, two up to 3,538 MB, six at 10,240 MB), at most `cpus`, the
    /// CPUs the process sees; `cpus` when the memory is not known (outside Lambda).
    ///
    /// Lambda shows a function at least two CPUs whatever its memory, while a 1,024 MB
    /// function (infra/'s default) has 58% of one vCPU's time: a second worker thread
    /// there adds no CPU, only its stack, its malloc arena (1.5 MiB of the Timestream
    /// worker's peak RSS) and wake-ups from one thread to the other inside the measured
    /// latencies.
    pub fn runtime_threads(&self, cpus: usize) -> usize {
        let cpus = cpus.max(1);
        self.memory_mb.map_or(cpus, |mb| {
            usize::try_from(mb.div_ceil(MB_PER_VCPU)).map_or(cpus, |n| n.clamp(1, cpus))
        })
    }
}

/// A Lambda handler over a [`Worker`]: one per process, built before the first
/// invocation and reused by every later one, so adapters (and their connections) stay
/// warm. It counts invocations to tell a cold start from a warm one.
pub struct LambdaHandler {
    worker: Arc<Worker>,
    platform: LambdaPlatform,
    started: Instant,
    invocations: AtomicU64,
    init_ms: OnceLock<f64>,
}

impl std::fmt::Debug for LambdaHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaHandler")
            .field("platform", &self.platform)
            .field("invocations", &self.invocations.load(Ordering::Relaxed))
            .finish()
    }
}

impl LambdaHandler {
    /// A handler over `worker`; `started` is when the process started (take
    /// `Instant::now()` first thing in `main`), so the first result reports the init time.
    /// The platform is read from the environment.
    pub fn new(worker: Arc<Worker>, started: Instant) -> Self {
        Self {
            worker,
            platform: LambdaPlatform::from_env(),
            started,
            invocations: AtomicU64::new(0),
            init_ms: OnceLock::new(),
        }
    }

    /// Replaces the platform read from the environment (tests, other hosts).
    pub fn with_platform(mut self, platform: LambdaPlatform) -> Self {
        self.platform = platform;
        self
    }

    /// The worker this handler drives.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// Handles one Lambda event: a direct Invoke payload (a `WorkerRequest`) gets the
    /// `WorkerResult` JSON, a Function URL event gets an HTTP response object around it.
    /// A run still going shortly before `deadline` is stopped and its partial result
    /// returned, so a too-long test is not lost to the Lambda timeout. Never fails.
    pub async fn handle(&self, event: Value, deadline: Option<SystemTime>) -> Value {
        reset_peak_rss();
        let environment = self.next_environment();
        self.worker.set_environment(environment.clone());
        let cancel = CancellationToken::new();
        let answer = match Invocation::classify(event) {
            Invocation::Direct(payload) => {
                let bytes =
                    serde_json::to_vec(&payload).map_err(|e| Error::config("", e.to_string()));
                let result = self.run_bytes(bytes, deadline, &cancel, environment).await;
                log_result(&result);
                serde_json::to_value(&result)
            }
            Invocation::FunctionUrl(request) => {
                let bytes = request.and_then(|r| r.body_bytes());
                let result = self.run_bytes(bytes, deadline, &cancel, environment).await;
                log_result(&result);
                serde_json::to_value(FunctionUrlResponse::from_result(&result))
            }
        };
        // Serializing plain data cannot fail; if it ever did, say so instead of panicking.
        answer.unwrap_or_else(|e| serde_json::json!({ "status": "failed", "error": format!("cannot encode the result: {e}") }))
    }

    /// The environment of the next invocation; the first one is the cold start.
    /// Runs the request in `bytes` (or answers its problem) before `deadline`.
    async fn run_bytes(
        &self,
        bytes: Result<Vec<u8>>,
        deadline: Option<SystemTime>,
        cancel: &CancellationToken,
        environment: Environment,
    ) -> WorkerResult {
        match bytes {
            Ok(bytes) => {
                run_before(
                    deadline,
                    cancel,
                    self.worker.handle_json(&bytes, cancel.clone()),
                )
                .await
            }
            Err(e) => WorkerResult::failed(None, &e, environment),
        }
    }

    fn next_environment(&self) -> Environment {
        let n = self.invocations.fetch_add(1, Ordering::Relaxed);
        let init_ms = *self
            .init_ms
            .get_or_init(|| self.started.elapsed().as_secs_f64() * 1e3);
        let cold_start = n == 0;
        Environment {
            runtime: "lambda".into(),
            cold_start,
            init_ms: cold_start.then_some(init_ms),
            memory_mb: self.platform.memory_mb,
            region: self.platform.region.clone(),
            function: self.platform.function.clone(),
            function_version: self.platform.function_version.clone(),
            ..Environment::local()
        }
    }
}

fn log_result(result: &WorkerResult) {
    let ops = result.metrics.ok().saturating_add(result.metrics.failed());
    match &result.error {
        Some(error) => {
            tracing::warn!(test = %result.test, worker = result.worker.index, status = ?result.status, error = %error, "request failed")
        }
        None => {
            tracing::info!(test = %result.test, worker = result.worker.index, status = ?result.status, ops, cold_start = result.environment.cold_start, "request done")
        }
    }
}

/// Awaits `work`, cancelling `cancel` shortly before `deadline` so the worker stops and
/// returns what it measured while there is still time to send it.
async fn run_before<F: std::future::Future<Output = WorkerResult>>(
    deadline: Option<SystemTime>,
    cancel: &CancellationToken,
    work: F,
) -> WorkerResult {
    let Some(budget) = deadline.map(time_budget) else {
        return work.await;
    };
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => r,
        _ = tokio::time::sleep(budget) => {
            tracing::warn!(?budget, "stopping the run before the Lambda deadline");
            cancel.cancel();
            let mut result = work.await;
            if result.status == WorkerStatus::Cancelled && result.error.is_none() {
                // The runner must be able to tell this from its own stop, and the user
                // what to change.
                result.error = Some(format!(
                    "stopped after {:.1} s to answer before the Lambda deadline: the \
                     function's timeout is shorter than the test",
                    budget.as_secs_f64()
                ));
            }
            result
        }
    }
}

/// Time the run may take before `deadline`, keeping a tenth of what is left (at least
/// 250 ms, at most 3 s) to finish, encode and send the result.
pub(crate) fn time_budget(deadline: SystemTime) -> Duration {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    let margin = (left / 10).clamp(Duration::from_millis(250), Duration::from_secs(3));
    left.saturating_sub(margin)
}

/// What kind of event a Lambda invocation carried.
#[derive(Debug)]
pub enum Invocation {
    /// A direct Invoke: the payload is the request itself.
    Direct(Value),
    /// A Function URL (HTTP payload v2) event, or why it could not be read.
    FunctionUrl(Result<FunctionUrlRequest>),
}

impl Invocation {
    /// Tells the two apart: a Function URL event has `requestContext.http`, which no
    /// `WorkerRequest` has (they refuse unknown fields).
    pub fn classify(event: Value) -> Self {
        let is_url = event
            .get("requestContext")
            .and_then(|c| c.get("http"))
            .is_some();
        if !is_url {
            return Invocation::Direct(event);
        }
        Invocation::FunctionUrl(
            serde_path_to_error::deserialize::<_, FunctionUrlRequest>(event).map_err(|e| {
                Error::config(
                    e.path().to_string(),
                    format!("not a Function URL event: {}", e.inner()),
                )
            }),
        )
    }
}

/// The fields lgb reads of a Function URL event (HTTP payload format 2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUrlRequest {
    /// Payload format version (`2.0`).
    #[serde(default)]
    pub version: Option<String>,
    /// Path of the request.
    #[serde(default)]
    pub raw_path: Option<String>,
    /// Request headers, names in lower case.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request context.
    pub request_context: FunctionUrlContext,
    /// The body, base64 when `is_base64_encoded`.
    #[serde(default)]
    pub body: Option<String>,
    /// Whether `body` is base64.
    #[serde(default)]
    pub is_base64_encoded: bool,
}

/// `requestContext` of a Function URL event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUrlContext {
    /// The HTTP request line.
    pub http: FunctionUrlHttp,
    /// Lambda's id of the HTTP request.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// `requestContext.http` of a Function URL event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUrlHttp {
    /// HTTP method.
    pub method: String,
    /// Request path.
    #[serde(default)]
    pub path: Option<String>,
}

impl FunctionUrlRequest {
    /// A Function URL event around `body` (JSON), base64-encoded as Lambda does for
    /// bodies it does not take for text; what a Function URL front end sends a function.
    pub fn wrap(body: &[u8], base64: bool) -> Self {
        let body = if base64 {
            base64::engine::general_purpose::STANDARD.encode(body)
        } else {
            String::from_utf8_lossy(body).into_owned()
        };
        Self {
            version: Some("2.0".into()),
            raw_path: Some("/".into()),
            headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
            request_context: FunctionUrlContext {
                http: FunctionUrlHttp {
                    method: "POST".into(),
                    path: Some("/".into()),
                },
                request_id: None,
            },
            body: Some(body),
            is_base64_encoded: base64,
        }
    }

    /// The body bytes (base64-decoded if needed); an empty body is a config error.
    pub fn body_bytes(&self) -> Result<Vec<u8>> {
        let body = self.body.as_deref().unwrap_or_default();
        if body.trim().is_empty() {
            return Err(Error::config(
                "body",
                format!(
                    "the Function URL request ({} {}) has no body: POST a WorkerRequest as JSON",
                    self.request_context.http.method,
                    self.request_context
                        .http
                        .path
                        .as_deref()
                        .or(self.raw_path.as_deref())
                        .unwrap_or("/")
                ),
            ));
        }
        if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .map_err(|e| {
                    Error::config(
                        "body",
                        format!("isBase64Encoded is true but the body is not base64: {e}"),
                    )
                })
        } else {
            Ok(body.as_bytes().to_vec())
        }
    }
}

/// What a function answers a Function URL with (HTTP payload format 2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUrlResponse {
    /// HTTP status.
    pub status_code: u16,
    /// Response headers.
    pub headers: BTreeMap<String, String>,
    /// The body (a `WorkerResult` as JSON).
    pub body: String,
    /// Whether `body` is base64 (never, for lgb).
    #[serde(default)]
    pub is_base64_encoded: bool,
}

impl FunctionUrlResponse {
    /// The response for `result`: 400 when the request itself was wrong or refused
    /// before anything ran (the result failed with configuration errors or the
    /// worker's deployment refused it), otherwise 200; the body is the result in
    /// both cases, so the caller always gets the structured error. Failures of the
    /// database are measurements, not HTTP errors, and must not make a client retry.
    pub fn from_result(result: &WorkerResult) -> Self {
        // A request refused before anything ran: wrong input (config) or a database
        // this worker was not deployed for (rejected by its pin).
        let bad_request = result.status == WorkerStatus::Failed
            && result.metrics.operations.is_empty()
            && !result.metrics.errors.counts.is_empty()
            && result
                .metrics
                .errors
                .counts
                .keys()
                .all(|c| matches!(c, ErrorClass::Config | ErrorClass::Rejected));
        let body = serde_json::to_string(result)
            .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode the result: {e}\"}}"));
        Self {
            status_code: if bad_request { 400 } else { 200 },
            headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
            body,
            is_base64_encoded: false,
        }
    }

    /// The body bytes (base64-decoded if needed).
    pub fn body_bytes(&self) -> Result<Vec<u8>> {
        if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(self.body.trim())
                .map_err(|e| {
                    Error::Backend(format!("Function URL response body is not base64: {e}"))
                })
        } else {
            Ok(self.body.as_bytes().to_vec())
        }
    }
}

/// Starts a new peak of resident memory for this invocation (Linux: writing `5` to
/// /proc/self/clear_refs sets `VmHWM` to the current RSS), so that a warm sandbox's
/// `peak_rss_kb` is that of each test, not of the sandbox's life so far. Where the
/// kernel does not allow it, the figure stays the process's peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseConfig;
    use crate::config::{OperationConfig, TestConfig, WorkloadConfig};
    use crate::protocol::{Phase, WorkerRequest, WorkerSlot, PROTOCOL_VERSION};

    fn platform() -> LambdaPlatform {
        LambdaPlatform::from_lookup(|k| {
            Some(
                match k {
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => "1769",
                    "AWS_REGION" => "eu-west-1",
                    "AWS_LAMBDA_FUNCTION_NAME" => "lgb-worker",
                    "AWS_LAMBDA_FUNCTION_VERSION" => "7",
                    _ => return None,
                }
                .to_string(),
            )
        })
    }

    fn request(phase: Phase, ops: u64) -> WorkerRequest {
        let mut test = TestConfig::new("reads", OperationConfig::new("read"));
        test.operations = Some(ops);
        let workload = WorkloadConfig {
            records: 50,
            ..WorkloadConfig::default()
        };
        WorkerRequest {
            version: PROTOCOL_VERSION,
            run_id: "r1".into(),
            phase,
            test,
            database: DatabaseConfig::new("memory"),
            workload,
            worker: WorkerSlot { index: 0, count: 1 },
            seed: 3,
        }
    }

    fn handler() -> LambdaHandler {
        LambdaHandler::new(Arc::new(Worker::default()), Instant::now()).with_platform(platform())
    }

    #[test]
    fn each_invocation_starts_a_new_memory_peak() {
        let Some(_) = crate::protocol::peak_rss_kb() else {
            return; // not Linux: there is no peak to reset
        };
        let rss_kb = || crate::protocol::status_kb("VmRSS:").expect("VmRSS");
        // 256 MiB touched and given back to the kernel: a peak well above the RSS.
        let big = vec![1u8; 256 << 20];
        assert_eq!(
            big.iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>(),
            65_536
        );
        drop(big);
        let before = crate::protocol::peak_rss_kb().unwrap();
        assert!(before > rss_kb() + (200 << 10), "{before} KiB peak");
        reset_peak_rss();
        let after = crate::protocol::peak_rss_kb().unwrap();
        assert!(
            after < before - (200 << 10),
            "{before} KiB then {after} KiB"
        );
    }

    #[test]
    fn runtime_threads_follow_the_cpu_share_of_the_memory() {
        let with = |mb: Option<u32>| LambdaPlatform {
            memory_mb: mb,
            ..LambdaPlatform::default()
        };
        for (mb, cpus, want) in [
            (Some(128), 2, 1),
            (Some(1024), 2, 1),
            (Some(1769), 2, 1),
            (Some(1770), 2, 2),
            (Some(3008), 2, 2),
            (Some(3538), 3, 2),
            (Some(3539), 3, 3),
            (Some(10240), 6, 6),
            // Never more threads than CPUs seen, never fewer than one.
            (Some(10240), 2, 2),
            (Some(0), 2, 1),
            (Some(u32::MAX), 4, 4),
            (Some(1024), 0, 1),
            // Outside Lambda: every CPU.
            (None, 4, 4),
        ] {
            assert_eq!(
                with(mb).runtime_threads(cpus),
                want,
                "{mb:?} MB, {cpus} CPUs"
            );
        }
    }

    #[test]
    fn platform_reads_reserved_variables() {
        let p = platform();
        assert_eq!(p.memory_mb, Some(1769));
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        assert_eq!(p.function_version.as_deref(), Some("7"));
        let fallback = LambdaPlatform::from_lookup(|k| {
            (k == "AWS_DEFAULT_REGION").then(|| "us-west-2".to_string())
        });
        assert_eq!(fallback.region.as_deref(), Some("us-west-2"));
        assert_eq!(fallback.memory_mb, None);
    }

    #[tokio::test]
    async fn direct_invokes_report_cold_then_warm_and_keep_the_adapter() {
        let h = handler();
        let load = h
            .handle(serde_json::to_value(request(Phase::Load, 0)).unwrap(), None)
            .await;
        let load: WorkerResult = serde_json::from_value(load).unwrap();
        assert_eq!(load.status, WorkerStatus::Completed, "{:?}", load.error);
        assert!(load.environment.cold_start);
        assert!(load.environment.init_ms.is_some());
        assert_eq!(load.environment.runtime, "lambda");
        assert_eq!(load.environment.memory_mb, Some(1769));
        assert_eq!(load.environment.function.as_deref(), Some("lgb-worker"));
        let run = h
            .handle(
                serde_json::to_value(request(Phase::Run, 200)).unwrap(),
                None,
            )
            .await;
        let run: WorkerResult = serde_json::from_value(run).unwrap();
        assert_eq!(run.status, WorkerStatus::Completed, "{:?}", run.error);
        assert!(!run.environment.cold_start);
        assert_eq!(run.environment.init_ms, None);
        // Reads find what the load phase wrote: the adapter outlived the first invocation.
        assert_eq!(run.metrics.ok(), 200);
        assert_eq!(run.metrics.errors.total(), 0, "{:?}", run.metrics.errors);
    }

    #[tokio::test]
    async fn function_url_events_get_http_responses() {
        let h = handler();
        let body = serde_json::to_vec(&request(Phase::Load, 0)).unwrap();
        for base64 in [true, false] {
            let event = serde_json::to_value(FunctionUrlRequest::wrap(&body, base64)).unwrap();
            let answer: FunctionUrlResponse =
                serde_json::from_value(h.handle(event, None).await).unwrap();
            assert_eq!(answer.status_code, 200);
            assert_eq!(answer.headers["content-type"], "application/json");
            let result: WorkerResult =
                serde_json::from_slice(&answer.body_bytes().unwrap()).unwrap();
            assert_eq!(result.status, WorkerStatus::Completed);
            assert_eq!(result.metrics.ok(), 1, "one load batch of 50 records");
        }
    }

    #[tokio::test]
    async fn bad_function_url_requests_are_400_with_a_reason() {
        let h = handler();
        let cases: Vec<(Value, &str)> = vec![
            (
                serde_json::to_value(FunctionUrlRequest::wrap(b"not json", false)).unwrap(),
                "expected",
            ),
            (
                serde_json::to_value(FunctionUrlRequest::wrap(b"{}", false)).unwrap(),
                "missing field",
            ),
            (
                serde_json::json!({"requestContext": {"http": {"method": "GET"}}, "rawPath": "/x"}),
                "GET /x) has no body",
            ),
            (
                serde_json::json!({"requestContext": {"http": {"method": "POST"}}, "body": "%%%", "isBase64Encoded": true}),
                "not base64",
            ),
            (
                serde_json::json!({"requestContext": {"http": {}}}),
                "requestContext.http",
            ),
        ];
        for (event, expected) in cases {
            let answer: FunctionUrlResponse =
                serde_json::from_value(h.handle(event.clone(), None).await).unwrap();
            assert_eq!(answer.status_code, 400, "{event}");
            let result: WorkerResult = serde_json::from_str(&answer.body).unwrap();
            assert_eq!(result.status, WorkerStatus::Failed);
            let error = result.error.unwrap();
            assert!(error.contains(expected), "{expected:?} in {error:?}");
        }
    }

    #[tokio::test]
    async fn what_the_database_says_is_a_measurement_not_an_http_error() {
        // Reads of keys never loaded: the run completes and counts what it found.
        let body = serde_json::to_vec(&request(Phase::Run, 10)).unwrap();
        let event = serde_json::to_value(FunctionUrlRequest::wrap(&body, true)).unwrap();
        let answer: FunctionUrlResponse =
            serde_json::from_value(handler().handle(event, None).await).unwrap();
        assert_eq!(answer.status_code, 200);
        let result: WorkerResult = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(result.status, WorkerStatus::Completed);
        assert_eq!(result.metrics.ok() + result.metrics.failed(), 10);
    }

    #[tokio::test]
    async fn a_run_past_the_deadline_returns_partial_results() {
        let mut req = request(Phase::Run, 0);
        req.test.operations = None;
        req.test.duration = Some(crate::units::HumanDuration::secs(60));
        req.test.operation = Some(OperationConfig::new("write"));
        let started = Instant::now();
        let deadline = SystemTime::now() + Duration::from_millis(1500);
        let answer = handler()
            .handle(serde_json::to_value(&req).unwrap(), Some(deadline))
            .await;
        let result: WorkerResult = serde_json::from_value(answer).unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(result.status, WorkerStatus::Cancelled);
        assert!(
            result
                .error
                .as_deref()
                .is_some_and(|e| e.contains("before the Lambda deadline")),
            "{:?}",
            result.error
        );
        assert!(result.metrics.ok() > 0);
    }

    #[test]
    fn budget_keeps_a_margin() {
        let b = time_budget(SystemTime::now() + Duration::from_secs(60));
        assert!(
            b <= Duration::from_secs(57) && b > Duration::from_secs(56),
            "{b:?}"
        );
        let b = time_budget(SystemTime::now() + Duration::from_millis(1000));
        assert!(b <= Duration::from_millis(750), "{b:?}");
        assert_eq!(
            time_budget(SystemTime::now() - Duration::from_secs(1)),
            Duration::ZERO
        );
    }
}
