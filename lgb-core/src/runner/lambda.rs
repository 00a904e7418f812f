//! [`LambdaInvoker`]: runs each worker as one synchronous AWS Lambda invocation (Invoke
//! API, `RequestResponse`) and keeps the platform's `REPORT` line of each invocation.
//!
//! It maps AWS failures onto [`Error`] once, here: throttling, 5xx, timeouts, network
//! failures and function errors (the function crashed or timed out) are invocation
//! failures the runner retries; a missing function, a refused caller or an answer that
//! is not a `WorkerResult` are configuration errors it does not retry. A worker that
//! ran and failed is a result, returned as `Ok`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use aws_sdk_lambda::Client;
use base64::Engine as _;
use tokio_util::sync::CancellationToken;

use super::answer::{
    decode_result_apart, parse_report, response_too_large, snippet, MAX_RESPONSE_BYTES,
};
use super::Invoker;
use crate::config::{LambdaTarget, RunnerConfig, Target};
use crate::error::{Error, Result};
use crate::protocol::{WorkerRequest, WorkerResult};
use crate::redact::redact;

/// Invokes an AWS Lambda function running the lgb worker (`bootstrap` of lgb-lambda).
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: Client,
    function: String,
    qualifier: Option<String>,
}

impl LambdaInvoker {
    /// An invoker calling `function` (name, partial or full ARN) at `qualifier` (a
    /// version or alias) through `client`. The client should not retry by itself, so
    /// that the runner counts every attempt.
    pub fn new(client: Client, function: impl Into<String>, qualifier: Option<String>) -> Self {
        Self {
            client,
            function: function.into(),
            qualifier,
        }
    }

    /// The invoker `runner` describes ([`RunnerConfig::lambda_target`]:
    /// `runner.function`, and in `runner.options` `qualifier`, `region`, `profile` and
    /// `endpoint`, for a local emulator). AWS credentials and the default region come
    /// from the standard chain.
    pub async fn from_config(runner: &RunnerConfig) -> Result<Self> {
        Self::from_target(runner.lambda_target()?).await
    }

    /// The invoker for a checked [`LambdaTarget`].
    pub async fn from_target(target: LambdaTarget) -> Result<Self> {
        let LambdaTarget { function, options } = target;
        let client = lambda_client(
            options.region.as_deref(),
            options.profile.as_deref(),
            options.endpoint.as_deref(),
        )
        .await?;
        Ok(Self::new(client, function, options.qualifier))
    }

    fn describe(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("`{}` (qualifier `{q}`)", self.function),
            None => format!("`{}`", self.function),
        }
    }

    fn map_sdk_error<E>(&self, err: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let detail = || redact(&DisplayErrorContext(&err).to_string());
        match &err {
            SdkError::ServiceError(ctx) => {
                let status = ctx.raw().status().as_u16();
                let code = ctx.err().code().unwrap_or("UnknownError");
                let message = redact(ctx.err().message().unwrap_or(""));
                let what = format!(
                    "invoking {}: {code} (HTTP {status}): {message}",
                    self.describe()
                );
                match (status, code) {
                    (429, _) | (_, "TooManyRequestsException") => Error::LambdaThrottled(what),
                    (_, "ResourceNotFoundException") | (404, _) => {
                        Error::config("runner.function", what)
                    }
                    (401 | 403, _) | (_, "AccessDeniedException") => {
                        Error::config("runner.function", what)
                    }
                    (500..=599, _) => Error::Backend(what),
                    // Function being updated or not yet ready: a later attempt can succeed.
                    (_, "ResourceConflictException" | "ResourceNotReadyException") => {
                        Error::Backend(what)
                    }
                    _ => Error::Rejected(what),
                }
            }
            SdkError::TimeoutError(_) => {
                Error::Timeout(format!("invoking {}: {}", self.describe(), detail()))
            }
            SdkError::DispatchFailure(d) if d.is_timeout() => {
                Error::Timeout(format!("invoking {}: {}", self.describe(), detail()))
            }
            SdkError::DispatchFailure(d) if d.is_user() => Error::config(
                "runner",
                format!(
                    "invoking {} could not be sent: {}",
                    self.describe(),
                    detail()
                ),
            ),
            SdkError::DispatchFailure(_) => {
                Error::Connect(format!("invoking {}: {}", self.describe(), detail()))
            }
            SdkError::ConstructionFailure(_) => Error::config(
                "runner",
                format!(
                    "invoking {} could not be built: {}",
                    self.describe(),
                    detail()
                ),
            ),
            _ => Error::Backend(format!("invoking {}: {}", self.describe(), detail())),
        }
    }
}

/// Reads and changes a Lambda function's configuration (GetFunctionConfiguration,
/// UpdateFunctionConfiguration): forced cold starts and memory sweeps.
#[derive(Debug, Clone)]
pub struct LambdaFunction {
    pub(super) client: Client,
    pub(super) function: String,
    poll: std::time::Duration,
    patience: std::time::Duration,
}

impl LambdaFunction {
    /// Control of `function` (name or ARN; always the unpublished `$LATEST`, the only
    /// version whose configuration can change) through `client`.
    pub fn new(client: Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
            poll: std::time::Duration::from_millis(250),
            patience: std::time::Duration::from_secs(300),
        }
    }

    /// Control of the function `runner` names (`runner.function`), with the same
    /// client settings as [`LambdaInvoker::from_config`] (`runner.options.region`,
    /// `profile`, `endpoint`).
    pub async fn from_config(runner: &RunnerConfig) -> Result<Self> {
        let (function, region, profile, endpoint) = match runner.target {
            Target::Url => {
                let t = runner.url_target()?;
                let function = runner
                    .function_name("changing the function's configuration needs")
                    .map_err(|p| Error::Config(vec![p]))?;
                (
                    function,
                    t.options.region,
                    t.options.profile,
                    t.options.endpoint,
                )
            }
            _ => {
                let t = runner.lambda_target()?;
                (
                    t.function,
                    t.options.region,
                    t.options.profile,
                    t.options.endpoint,
                )
            }
        };
        let client =
            lambda_client(region.as_deref(), profile.as_deref(), endpoint.as_deref()).await?;
        Ok(Self::new(client, function))
    }

    pub(super) fn map_error<E>(&self, what: &str, err: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let detail = redact(&DisplayErrorContext(&err).to_string());
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().unwrap_or("");
        let message = format!("{what} of `{}`: {detail}", self.function);
        match (status, code) {
            (Some(404), _) | (_, "ResourceNotFoundException") => {
                Error::config("runner.function", message)
            }
            (Some(401 | 403), _) | (_, "AccessDeniedException") => Error::config(
                "runner.function",
                format!("{message} (the caller needs lambda:GetFunctionConfiguration and lambda:UpdateFunctionConfiguration)"),
            ),
            (Some(429), _) => Error::LambdaThrottled(message),
            _ => Error::Backend(message),
        }
    }

    /// The function's configuration (GetFunctionConfiguration of `$LATEST`).
    async fn configuration(
        &self,
    ) -> Result<aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput>
    {
        self.client
            .get_function_configuration()
            .function_name(&self.function)
            .send()
            .await
            .map_err(|e| self.map_error("GetFunctionConfiguration", e))
    }

    /// Polls until the last update is complete; a failed update is an error naming
    /// Lambda's reason.
    pub(super) async fn wait_until_updated(&self) -> Result<()> {
        let started = tokio::time::Instant::now();
        loop {
            let conf = self.configuration().await?;
            use aws_sdk_lambda::types::LastUpdateStatus as S;
            match conf.last_update_status() {
                None | Some(S::Successful) => return Ok(()),
                Some(S::Failed) => {
                    return Err(Error::Backend(format!(
                        "the configuration update of `{}` failed: {}",
                        self.function,
                        conf.last_update_status_reason()
                            .unwrap_or("no reason given")
                    )))
                }
                Some(_) => {}
            }
            if started.elapsed() > self.patience {
                return Err(Error::Timeout(format!(
                    "the configuration update of `{}` was not complete after {:?}",
                    self.function, self.patience
                )));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

#[async_trait]
impl super::FunctionControl for LambdaFunction {
    async fn settings(&self) -> Result<super::FunctionSettings> {
        let conf = self.configuration().await?;
        let environment = conf
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok(super::FunctionSettings {
            memory_mb: conf.memory_size().unwrap_or(128).max(0) as u32,
            environment,
        })
    }

    async fn update(
        &self,
        memory_mb: Option<u32>,
        environment: Option<&BTreeMap<String, String>>,
    ) -> Result<()> {
        // An update refused while another is in progress (ResourceConflictException)
        // is retried after waiting for that one.
        for attempt in 0..5 {
            let mut call = self
                .client
                .update_function_configuration()
                .function_name(&self.function)
                .set_memory_size(memory_mb.map(|m| m as i32));
            if let Some(env) = environment {
                call = call.environment(
                    aws_sdk_lambda::types::Environment::builder()
                        .set_variables(Some(env.clone().into_iter().collect()))
                        .build(),
                );
            }
            match call.send().await {
                Ok(_) => return self.wait_until_updated().await,
                Err(e) if attempt < 4 && e.code() == Some("ResourceConflictException") => {
                    self.wait_until_updated().await?;
                }
                Err(e) => return Err(self.map_error("UpdateFunctionConfiguration", e)),
            }
        }
        Err(Error::Backend(format!(
            "`{}` kept refusing configuration updates (another update in progress)",
            self.function
        )))
    }
}

/// How often an idle connection is probed (TCP keepalive). A synchronous invocation
/// stays silent for as long as its test runs (up to 15 minutes); a NAT gateway or
/// proxy drops connections idle for 350 s, which would fail an invocation that still
/// runs. Probes every 60 s keep the connection known to them.
pub(crate) const TCP_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(60);

/// The SDK's HTTPS client (rustls with aws-lc, as its default) with [`TCP_KEEPALIVE`]
/// on every connection.
fn keepalive_http_client() -> Result<aws_smithy_http_client::pool::Client> {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let pool = aws_smithy_http_client::pool::ConnectionPool::builder()
        .tcp_keepalive(TCP_KEEPALIVE)
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
        .map_err(|e| Error::Internal(format!("building the Lambda HTTP client: {e}")))?;
    aws_smithy_http_client::pool::Client::new(&pool)
        .map_err(|e| Error::Internal(format!("building the Lambda HTTP client: {e}")))
}

/// Whether a failed dispatch provably never reached Lambda: the connection was not
/// made (refused, unreachable, a name that does not resolve, the connect timeout).
/// Anything else (a connection reset or closed while waiting for the answer, a read
/// timeout) may have started the invocation, which goes on running and is billed.
pub(crate) fn never_sent(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::AddrNotAvailable
                    | K::NetworkUnreachable
                    | K::HostUnreachable
            ) {
                return true;
            }
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("client error (connect)")
            || text.contains("connect timeout")
            || text.contains("dns error")
            || text.contains("failed to lookup address")
            || text.contains("connection refused")
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// The answer for a worker whose invocation failed after it may have started: a
/// failed result, which the runner does not retry, so that a second invocation never
/// runs beside one that may still be measuring (it would double the load on the
/// database). The error keeps its class.
pub(crate) fn not_retried(request: &WorkerRequest, error: Error) -> WorkerResult {
    let error = match error {
        Error::Timeout(m) => Error::Timeout(format!(
            "{m} (the invocation may still be running, so it is not retried: a second one would double the load)"
        )),
        Error::Connect(m) | Error::Backend(m) => Error::Backend(format!(
            "{m} (the invocation may still be running, so it is not retried: a second one would double the load)"
        )),
        other => other,
    };
    WorkerResult::failed(
        Some(request),
        &error,
        crate::protocol::Environment::default(),
    )
}

/// A Lambda client for checked options (region, profile, endpoint), without the SDK's
/// own retries: the runner retries where it can count.
async fn lambda_client(
    region: Option<&str>,
    profile: Option<&str>,
    endpoint: Option<&str>,
) -> Result<Client> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    let shared = loader.load().await;
    if shared.region().is_none() {
        return Err(Error::config(
            "runner.options.region",
            "no AWS region: set runner.options.region or the AWS_REGION environment variable",
        ));
    }
    let mut builder = aws_sdk_lambda::config::Builder::from(&shared)
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .http_client(keepalive_http_client()?);
    if let Some(e) = endpoint {
        builder = builder.endpoint_url(e);
    }
    Ok(Client::from_conf(builder.build()))
}

#[async_trait]
impl Invoker for LambdaInvoker {
    fn name(&self) -> &str {
        "lambda"
    }

    fn stop_grace(&self) -> std::time::Duration {
        super::REMOTE_STOP_GRACE
    }

    async fn invoke(
        &self,
        request: &WorkerRequest,
        cancel: CancellationToken,
    ) -> Result<WorkerResult> {
        let payload = serde_json::to_vec(request)
            .map_err(|e| Error::Internal(format!("encoding the request: {e}")))?;
        let call = self
            .client
            .invoke()
            .function_name(&self.function)
            .set_qualifier(self.qualifier.clone())
            .invocation_type(InvocationType::RequestResponse)
            .log_type(LogType::Tail)
            .payload(Blob::new(payload))
            .send();
        // The function keeps running when the caller gives up; it is billed either way.
        let out = tokio::select! {
            r = call => match r {
                Ok(out) => out,
                // Lost while it may run: never retried (see `not_retried`).
                Err(e) if may_have_started(&e) => {
                    return Ok(not_retried(request, self.map_sdk_error(e)))
                }
                Err(e) => return Err(self.map_sdk_error(e)),
            },
            _ = cancel.cancelled() => return Err(Error::Cancelled),
        };
        let report = out
            .log_result()
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .and_then(|tail| parse_report(&String::from_utf8_lossy(&tail)));
        let body = out.payload().map(Blob::as_ref).unwrap_or_default();
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(response_too_large(
                body.len(),
                MAX_RESPONSE_BYTES,
                &self.describe(),
            ));
        }
        if let Some(kind) = out.function_error() {
            return Err(function_error(&self.describe(), kind, body));
        }
        let body = body.to_vec();
        let mut result = decode_result_apart(body, self.describe(), "runner.function").await?;
        tracing::debug!(worker = request.worker.index, ?report, "invocation report");
        result.environment.report = report;
        Ok(result)
    }
}

/// Whether an Invoke call that failed may have started the function: Lambda did not
/// answer (an answer, even an error, means the invocation ended or never began), and
/// the request was not provably left unsent ([`never_sent`]).
fn may_have_started<E: std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) => false,
        SdkError::DispatchFailure(d) if d.is_user() => false,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            !never_sent(err)
        }
        _ => false,
    }
}

/// The error of an invocation whose function failed (crashed, timed out, ran out of
/// memory): Lambda's `errorType` and `errorMessage`, as an error the runner retries.
pub(crate) fn function_error(function: &str, kind: &str, body: &[u8]) -> Error {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Failure {
        #[serde(default)]
        error_type: String,
        #[serde(default)]
        error_message: String,
    }
    let (error_type, message) = match serde_json::from_slice::<Failure>(body) {
        Ok(f) => (f.error_type, f.error_message),
        Err(_) => (String::new(), snippet(body)),
    };
    let what = redact(&format!(
        "function {function} failed ({kind}): {error_type}: {message}"
    ));
    if error_type.contains("Timedout") || error_type.contains("Timeout") {
        Error::Timeout(what)
    } else {
        Error::Backend(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::runner::answer::decode_result;

    fn runner(function: Option<&str>, options: serde_json::Value) -> RunnerConfig {
        RunnerConfig {
            function: function.map(str::to_string),
            options: serde_json::from_value(options).unwrap(),
            ..RunnerConfig::default()
        }
    }

    #[tokio::test]
    async fn options_are_checked_with_paths() {
        let err = LambdaInvoker::from_config(&runner(None, serde_json::json!({})))
            .await
            .unwrap_err();
        assert_eq!(err.config_problems()[0].path, "runner.function");
        let err = LambdaInvoker::from_config(&runner(
            Some("f"),
            serde_json::json!({"qualifer": "live", "endpoint": true, "region": "eu-west-1"}),
        ))
        .await
        .unwrap_err();
        let paths: Vec<&str> = err
            .config_problems()
            .iter()
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(
            paths,
            ["runner.options.endpoint", "runner.options.qualifer"]
        );
        assert!(
            err.to_string().contains("known: endpoint, qualifier"),
            "{err}"
        );
        let err = LambdaInvoker::from_config(&runner(
            Some("f"),
            serde_json::json!({"endpoint": "127.0.0.1:9000", "region": "eu-west-1"}),
        ))
        .await
        .unwrap_err();
        assert!(err.to_string().contains("runner.options.endpoint"), "{err}");
        let err = LambdaInvoker::from_config(&runner(Some("my function"), serde_json::json!({})))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("not a Lambda function name"),
            "{err}"
        );
        let t = runner(
            Some("f"),
            serde_json::json!({"qualifier": 7, "region": "eu-west-1"}),
        )
        .lambda_target()
        .unwrap();
        assert_eq!(t.options.qualifier.as_deref(), Some("7"));
        let inv = LambdaInvoker::from_target(t).await.unwrap();
        assert_eq!(inv.describe(), "`f` (qualifier `7`)");
    }

    #[test]
    fn function_errors_are_retryable_classes() {
        let body = br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 3.00 seconds"}"#;
        assert_eq!(
            function_error("`f`", "Unhandled", body).class(),
            ErrorClass::Timeout
        );
        let e = function_error(
            "`f`",
            "Unhandled",
            br#"{"errorType":"Runtime.ExitError","errorMessage":"exit status 101"}"#,
        );
        assert_eq!(e.class(), ErrorClass::Backend);
        assert!(
            e.to_string().contains("Runtime.ExitError: exit status 101"),
            "{e}"
        );
        let e = function_error("`f`", "Unhandled", b"plain text");
        assert!(e.to_string().contains("plain text"), "{e}");
    }

    #[test]
    fn answers_that_are_not_results_name_the_target() {
        let e = decode_result(b"{\"hello\": 1}", "function `echo`", "runner.function").unwrap_err();
        assert_eq!(e.config_problems()[0].path, "runner.function");
        assert!(e.to_string().contains("not an lgb WorkerResult"), "{e}");
        let e = decode_result(
            b"Task timed out after 3.00 seconds",
            "function `f`",
            "runner.function",
        )
        .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Timeout);
        assert_eq!(snippet("é".repeat(300).as_bytes()).chars().count(), 201);
    }
}

/// A scripted HTTP/1.1 endpoint on 127.0.0.1 standing in for the Lambda Invoke API or
/// a Function URL in unit tests (lgb-testkit's test server: one request per
/// connection, answered by a closure), and the requests the tests send through it.
#[cfg(test)]
pub(crate) mod test_support {
    pub use lgb_testkit::http::{serve, Request as Received, Response as Reply};

    use crate::config::DatabaseConfig;
    use crate::config::{OperationConfig, TestConfig, WorkloadConfig};
    use crate::protocol::{Phase, WorkerRequest, WorkerSlot, PROTOCOL_VERSION};

    /// A run-phase request for worker `index` of `count`: 20 writes to memory.
    pub fn request(index: u32, count: u32) -> WorkerRequest {
        let mut test = TestConfig::new("writes", OperationConfig::new("write"));
        test.operations = Some(20);
        WorkerRequest {
            version: PROTOCOL_VERSION,
            run_id: "r".into(),
            phase: Phase::Run,
            test,
            database: DatabaseConfig::new("memory"),
            workload: WorkloadConfig {
                records: 100,
                load: false,
                ..WorkloadConfig::default()
            },
            worker: WorkerSlot { index, count },
            seed: 1,
        }
    }
}

#[cfg(test)]
mod runner_tests {
    //! The runner's retry rules, driven through the real invoker against a scripted
    //! Invoke endpoint that runs a real worker for the requests it lets through.

    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::test_support::{serve, Received, Reply};
    use super::*;
    use crate::config::BenchmarkConfig;
    use crate::error::ErrorClass;
    use crate::protocol::WorkerStatus;
    use crate::results::RunStatus;
    use crate::runner::{Runner, Silent};
    use crate::worker::Worker;

    const REPORT: &str = "START RequestId: 1 Version: $LATEST\nEND RequestId: 1\nREPORT RequestId: 1\tDuration: 8.50 ms\tBilled Duration: 9 ms\tMemory Size: 512 MB\tMax Memory Used: 20 MB\tInit Duration: 15.25 ms\t\n";

    async fn worker_answer(worker: &Worker, r: &Received) -> Reply {
        let result = worker.handle_json(&r.body, CancellationToken::new()).await;
        Reply::json(200, serde_json::to_vec(&result).unwrap())
            .with_header(
                "x-amz-log-result",
                &base64::engine::general_purpose::STANDARD.encode(REPORT),
            )
            .with_header("x-amz-executed-version", "$LATEST")
    }

    fn throttled() -> Reply {
        Reply::json(429, r#"{"Type":"User","message":"Rate Exceeded."}"#)
            .with_header("x-amzn-errortype", "TooManyRequestsException")
    }

    fn config(workers: u32) -> BenchmarkConfig {
        BenchmarkConfig::from_json_str(
            &format!(
                r#"{{"database": {{"type": "memory"}}, "workload": {{"records": 100, "load": false}},
                    "runner": {{"workers": {workers}}},
                    "tests": [{{"name": "writes", "operation": {{"type": "write"}}, "operations": 40}}]}}"#
            ),
            &[],
        )
        .unwrap()
    }

    /// Runs `config(workers)` through the endpoint at `url` with `retries` retries and
    /// a 1 ms backoff.
    async fn run_through(url: &str, retries: u32, workers: u32) -> crate::results::RunResult {
        Runner::new(invoker(url), retries)
            .with_backoff(Duration::from_millis(1))
            .run(&config(workers), CancellationToken::new(), &Silent)
            .await
            .unwrap()
    }

    fn invoker(url: &str) -> Arc<LambdaInvoker> {
        let conf = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .endpoint_url(url)
            .build();
        Arc::new(LambdaInvoker::new(
            Client::from_conf(conf),
            "function",
            None,
        ))
    }

    /// An Invoke endpoint that answers the first `throttles` invocations with 429
    /// and runs a real worker for the rest, checking that each call is a synchronous
    /// invocation with its log tail; with the count of calls it received.
    async fn throttled_first(
        throttles: u32,
    ) -> (Arc<AtomicU32>, String, tokio::task::JoinHandle<()>) {
        let calls = Arc::new(AtomicU32::new(0));
        let worker = Arc::new(Worker::default());
        let (url, server) = {
            let calls = calls.clone();
            serve(move |r| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                let worker = worker.clone();
                async move {
                    assert_eq!(r.path, "/2015-03-31/functions/function/invocations");
                    assert_eq!(r.header("x-amz-log-type"), Some("Tail"));
                    assert_eq!(r.header("x-amz-invocation-type"), Some("RequestResponse"));
                    if n < throttles {
                        throttled()
                    } else {
                        worker_answer(&worker, &r).await
                    }
                }
            })
            .await
        };
        (calls, url, server)
    }

    #[tokio::test]
    async fn throttled_twice_then_served_takes_three_attempts() {
        let (calls, url, server) = throttled_first(2).await;
        let run = run_through(&url, 3, 1).await;
        server.abort();
        assert_eq!(run.status, RunStatus::Completed);
        let w = &run.tests[0].workers[0];
        assert_eq!(w.attempts, 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(w.status, WorkerStatus::Completed);
        assert_eq!(w.ops, 40);
        let report = w
            .environment
            .report
            .as_ref()
            .expect("REPORT parsed from the log tail");
        assert_eq!(report.duration_ms, 8.5);
        assert_eq!(report.billed_duration_ms, Some(9.0));
        assert_eq!(report.max_memory_used_mb, Some(20));
        assert_eq!(report.init_duration_ms, Some(15.25));
    }

    #[tokio::test]
    async fn lambda_throttling_is_its_own_class_with_its_own_budget() {
        let (calls, url, server) = throttled_first(4).await;
        // No retries for failures, yet four throttles in a row are waited out.
        let run = run_through(&url, 0, 1).await;
        server.abort();
        let w = &run.tests[0].workers[0];
        assert_eq!((w.status, w.attempts), (WorkerStatus::Completed, 5));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        let counts = run.error_counts();
        assert_eq!(
            counts.get(&ErrorClass::LambdaThrottled),
            Some(&4),
            "{counts:?}"
        );
        assert_eq!(counts.get(&ErrorClass::Throttled), None, "{counts:?}");
    }

    #[tokio::test]
    async fn forced_cold_starts_update_the_environment_before_each_wave() {
        #[derive(Default)]
        struct Function {
            env: serde_json::Map<String, serde_json::Value>,
            log: Vec<String>,
        }
        let function = Arc::new(std::sync::Mutex::new(Function::default()));
        function
            .lock()
            .unwrap()
            .env
            .insert("KEEP".into(), "yes".into());
        let worker = Arc::new(Worker::default());
        let (url, server) = {
            let function = function.clone();
            serve(move |r| {
                let function = function.clone();
                let worker = worker.clone();
                async move {
                    let conf = |f: &Function| {
                        Reply::json(
                            200,
                            serde_json::json!({"FunctionName": "function", "MemorySize": 512,
                                "Environment": {"Variables": f.env}, "LastUpdateStatus": "Successful"})
                            .to_string(),
                        )
                    };
                    if r.path.ends_with("/invocations") {
                        function.lock().unwrap().log.push("invoke".into());
                        return worker_answer(&worker, &r).await;
                    }
                    let mut f = function.lock().unwrap();
                    if !r.body.is_empty() {
                        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                        f.env = body["Environment"]["Variables"].as_object().unwrap().clone();
                        let nonce = f.env["LGB_COLD_START_NONCE"].as_str().unwrap().to_string();
                        f.log.push(format!("update {nonce}"));
                    }
                    conf(&f)
                }
            })
            .await
        };
        let lambda = invoker(&url);
        let control = Arc::new(LambdaFunction::new(lambda.client.clone(), "function"));
        let mut cfg = config(5);
        cfg.runner.target = crate::config::Target::Lambda;
        cfg.runner.cold_start = crate::config::ColdStart::Force;
        cfg.runner.max_in_flight = 2;
        let run = Runner::new(lambda, 0)
            .with_control(control)
            .run(&cfg, CancellationToken::new(), &Silent)
            .await
            .unwrap();
        server.abort();
        assert_eq!(run.tests[0].metrics.ok(), 40);
        let f = function.lock().unwrap();
        // Waves of 2, 2 and 1 workers, each after its own update.
        let shape: Vec<&str> = f
            .log
            .iter()
            .map(|l| if l == "invoke" { "i" } else { "u" })
            .collect();
        assert_eq!(
            shape,
            ["u", "i", "i", "u", "i", "i", "u", "i"],
            "{:?}",
            f.log
        );
        let nonces: std::collections::BTreeSet<&String> =
            f.log.iter().filter(|l| l.starts_with("update")).collect();
        assert_eq!(nonces.len(), 3);
        assert_eq!(f.env["KEEP"], "yes", "the rest of the environment is kept");
    }

    #[tokio::test]
    async fn a_failed_worker_result_is_not_retried() {
        let calls = Arc::new(AtomicU32::new(0));
        let worker = Arc::new(Worker::default());
        let (url, server) = {
            let calls = calls.clone();
            serve(move |mut r| {
                calls.fetch_add(1, Ordering::SeqCst);
                let worker = worker.clone();
                async move {
                    // The worker sees a database it does not know: a real failed result.
                    let mut req: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                    req["database"]["type"] = "nosuch".into();
                    r.body = serde_json::to_vec(&req).unwrap();
                    worker_answer(&worker, &r).await
                }
            })
            .await
        };
        let run = run_through(&url, 3, 1).await;
        server.abort();
        let w = &run.tests[0].workers[0];
        assert_eq!((w.attempts, calls.load(Ordering::SeqCst)), (1, 1));
        assert_eq!(w.status, WorkerStatus::Failed);
        assert!(
            w.error
                .as_deref()
                .unwrap()
                .contains("unknown database `nosuch`"),
            "{:?}",
            w.error
        );
        assert_eq!(run.status, RunStatus::Failed);
    }

    #[tokio::test]
    async fn a_worker_that_keeps_crashing_fails_alone_and_the_others_are_merged() {
        let calls = Arc::new(AtomicU32::new(0));
        let worker = Arc::new(Worker::default());
        let (url, server) = {
            let calls = calls.clone();
            serve(move |r| {
                let worker = worker.clone();
                let calls = calls.clone();
                async move {
                    let req: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                    if req["worker"]["index"] == 1 {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Reply::json(200, r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited with error: signal: killed"}"#)
                            .with_header("x-amz-function-error", "Unhandled")
                    } else {
                        worker_answer(&worker, &r).await
                    }
                }
            })
            .await
        };
        let run = run_through(&url, 2, 2).await;
        server.abort();
        let test = &run.tests[0];
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "worker 1: one attempt and two retries"
        );
        let (ok, bad) = (&test.workers[0], &test.workers[1]);
        assert_eq!(
            (ok.status, ok.attempts, ok.ops),
            (WorkerStatus::Completed, 1, 20)
        );
        assert_eq!((bad.status, bad.attempts), (WorkerStatus::Failed, 3));
        assert!(
            bad.error.as_deref().unwrap().contains("Runtime.ExitError"),
            "{:?}",
            bad.error
        );
        // The merged metrics hold the good worker's operations plus the one counted failure.
        assert_eq!(test.metrics.ok(), 20);
        assert_eq!(run.status, RunStatus::Completed);
    }

    #[tokio::test]
    async fn a_missing_function_is_a_config_error_without_retries() {
        let calls = Arc::new(AtomicU32::new(0));
        let (url, server) = {
            let calls = calls.clone();
            serve(move |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    Reply::json(404, r#"{"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:function"}"#)
                        .with_header("x-amzn-errortype", "ResourceNotFoundException")
                }
            })
            .await
        };
        let run = run_through(&url, 3, 1).await;
        server.abort();
        let w = &run.tests[0].workers[0];
        assert_eq!((w.attempts, calls.load(Ordering::SeqCst)), (1, 1));
        let error = w.error.as_deref().unwrap();
        assert!(
            error.contains("runner.function") && error.contains("Function not found"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_payload_over_the_limit_is_refused_and_not_retried() {
        assert_eq!(MAX_RESPONSE_BYTES, 7 * 1024 * 1024);
        // (a function error?, payload bytes, the error's start)
        let cases = [
            (false, MAX_RESPONSE_BYTES + 1, "internal error: `function` answered with at least 7340033 bytes"),
            (true, MAX_RESPONSE_BYTES + 1, "internal error: `function` answered with at least 7340033 bytes"),
            // At the limit, the payload is decoded: it is not a result.
            (false, MAX_RESPONSE_BYTES, "invalid configuration: runner.function: `function` answered something that is not an lgb WorkerResult"),
        ];
        for (function_error, len, want) in cases {
            let calls = Arc::new(AtomicU32::new(0));
            let (url, server) = {
                let calls = calls.clone();
                serve(move |_| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let reply = Reply::json(200, vec![b' '; len]);
                        if function_error {
                            reply.with_header("x-amz-function-error", "Unhandled")
                        } else {
                            reply
                        }
                    }
                })
                .await
            };
            let run = run_through(&url, 3, 1).await;
            server.abort();
            let w = &run.tests[0].workers[0];
            assert_eq!((w.attempts, calls.load(Ordering::SeqCst)), (1, 1));
            assert_eq!(w.status, WorkerStatus::Failed);
            let error = w.error.as_deref().unwrap();
            assert!(error.starts_with(want), "{error}");
        }
    }
}

#[cfg(test)]
mod lost_invocation_tests {
    //! A retried invocation never doubles the load: one that provably never reached
    //! Lambda is retried; one lost after it was sent is not.

    use std::io::Read;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::BenchmarkConfig;
    use crate::protocol::WorkerStatus;
    use crate::runner::{Runner, Silent};

    fn invoker(url: &str) -> Arc<LambdaInvoker> {
        let conf = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .http_client(keepalive_http_client().unwrap())
            .endpoint_url(url)
            .build();
        Arc::new(LambdaInvoker::new(
            Client::from_conf(conf),
            "function",
            None,
        ))
    }

    async fn run(url: &str) -> crate::results::RunResult {
        let config = BenchmarkConfig::from_json_str(
            r#"{"database": {"type": "memory"}, "workload": {"records": 10, "load": false},
                "tests": [{"name": "w", "operation": {"type": "write"}, "operations": 10}]}"#,
            &[],
        )
        .unwrap();
        Runner::new(invoker(url), 3)
            .with_backoff(Duration::from_millis(1))
            .run(&config, CancellationToken::new(), &Silent)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried() {
        // A port nothing listens on: the request never left.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let run = run(&format!("http://127.0.0.1:{port}")).await;
        let w = &run.tests[0].workers[0];
        assert_eq!((w.status, w.attempts), (WorkerStatus::Failed, 4), "{w:?}");
    }

    #[tokio::test]
    async fn a_connection_lost_after_sending_is_not_retried() {
        // Takes each request whole, then closes the connection without an answer: what
        // a NAT dropping an idle connection does to a long invocation.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU32::new(0));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                s.set_read_timeout(Some(Duration::from_millis(300))).ok();
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") && got.ends_with(b"}") {
                        break;
                    }
                }
                seen.fetch_add(1, Ordering::SeqCst);
                drop(s);
            }
        });
        let run = run(&url).await;
        let w = &run.tests[0].workers[0];
        assert_eq!((w.status, w.attempts), (WorkerStatus::Failed, 1), "{w:?}");
        assert_eq!(
            requests.load(Ordering::SeqCst),
            1,
            "one invocation, never a second"
        );
        let error = w.error.as_deref().unwrap();
        assert!(
            error.contains("may still be running, so it is not retried"),
            "{error}"
        );
    }

    #[test]
    fn connect_failures_are_told_apart_from_lost_answers() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(never_sent(&refused));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!never_sent(&reset));
        assert_eq!(TCP_KEEPALIVE, Duration::from_secs(60));
    }
}
