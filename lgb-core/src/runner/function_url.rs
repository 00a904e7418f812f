//! [`FunctionUrlInvoker`]: runs each worker as one HTTPS POST to a Lambda Function URL,
//! signed with SigV4 (service `lambda`) when the URL uses `AWS_IAM` auth, plain for
//! `NONE`.
//!
//! The worker answers 200 with its `WorkerResult`, or 400 with a failed one when the
//! request was wrong; both are results (`Ok`). Throttling (429), 5xx (Lambda answers 502
//! when the function crashed), timeouts and network failures are invocation failures
//! the runner retries; a refused caller (401/403) or a missing URL (404) are
//! configuration errors it does not retry. The body is read up to 7 MiB (Lambda's
//! 6 MiB response limit and 1 MiB of margin), never further: a longer one is an error
//! the runner does not retry.

use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tokio_util::sync::CancellationToken;

use super::answer::{decode_result_apart, response_too_large, snippet, MAX_RESPONSE_BYTES};
use super::Invoker;
use crate::config::{RunnerConfig, UrlTarget};
use crate::error::{Error, Result};
use crate::protocol::{WorkerRequest, WorkerResult};
use crate::redact::redact;

use crate::config::UrlAuth;

/// Where signed requests get their credentials and region.
#[derive(Debug, Clone)]
struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
}

/// POSTs worker requests to a Lambda Function URL.
#[derive(Debug, Clone)]
pub struct FunctionUrlInvoker {
    http: reqwest::Client,
    url: reqwest::Url,
    signer: Option<Signer>,
}

impl FunctionUrlInvoker {
    /// An invoker for `url` without signing (auth `NONE`).
    pub fn unsigned(url: &str) -> Result<Self> {
        Ok(Self {
            http: http_client()?,
            url: parse_url(url)?,
            signer: None,
        })
    }

    /// An invoker for `url` signing with `credentials` for `region` (auth `AWS_IAM`).
    pub fn signed(
        url: &str,
        credentials: SharedCredentialsProvider,
        region: impl Into<String>,
    ) -> Result<Self> {
        Ok(Self {
            http: http_client()?,
            url: parse_url(url)?,
            signer: Some(Signer {
                credentials,
                region: region.into(),
            }),
        })
    }

    /// The invoker `runner` describes ([`RunnerConfig::url_target`]: `runner.url`, and
    /// in `runner.options` `auth` (`AWS_IAM`, the default, or `NONE`), `region`
    /// (default: the URL's own region, then the AWS chain) and `profile`). Credentials
    /// come from the standard chain.
    pub async fn from_config(runner: &RunnerConfig) -> Result<Self> {
        Self::from_target(runner.url_target()?).await
    }

    /// The invoker for a checked [`UrlTarget`].
    pub async fn from_target(target: UrlTarget) -> Result<Self> {
        let UrlTarget { url, options } = target;
        if options.auth == UrlAuth::None {
            return Self::unsigned(&url);
        }
        let url_region = parse_url(&url)?.host_str().and_then(region_of_host);
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(r) = options.region.or(url_region) {
            loader = loader.region(Region::new(r));
        }
        if let Some(p) = &options.profile {
            loader = loader.profile_name(p);
        }
        let shared = loader.load().await;
        let region = shared.region().map(ToString::to_string).ok_or_else(|| {
            Error::config(
                "runner.options.region",
                "cannot tell the region to sign for: set runner.options.region or AWS_REGION",
            )
        })?;
        let credentials = shared.credentials_provider().ok_or_else(|| {
            Error::config(
                "runner.options.auth",
                "AWS_IAM auth needs AWS credentials, and none are configured",
            )
        })?;
        Self::signed(&url, credentials, region)
    }

    /// The `Host` header value, as the HTTP client will send it.
    fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// The SigV4 headers for a POST of `body`.
    async fn sign(&self, signer: &Signer, body: &[u8]) -> Result<Vec<(String, String)>> {
        let credentials = signer
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| {
                Error::config(
                    "runner.options.auth",
                    format!(
                        "no AWS credentials to sign with: {}",
                        redact(&e.to_string())
                    ),
                )
            })?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&signer.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Error::Internal(format!("SigV4 parameters: {e}")))?
            .into();
        let host = self.host();
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/json"),
        ];
        let request = SignableRequest::new(
            "POST",
            self.url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| Error::Internal(format!("SigV4 request: {e}")))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| Error::Internal(format!("SigV4 signing: {e}")))?
            .into_parts();
        let mut out: Vec<(String, String)> = instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        out.push(("host".into(), host));
        Ok(out)
    }
}

fn http_client() -> Result<reqwest::Client> {
    // No overall timeout: an invocation lasts as long as its test (up to 15 minutes).
    // Keepalive probes keep a silent, minutes-long invocation's connection alive
    // through NATs and proxies (see `lambda::TCP_KEEPALIVE`).
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .tcp_keepalive(super::lambda::TCP_KEEPALIVE)
        .build()
        .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))
}

fn parse_url(url: &str) -> Result<reqwest::Url> {
    reqwest::Url::parse(url.trim())
        .map_err(|e| Error::config("runner.url", redact(&format!("`{url}` is not a URL: {e}"))))
}

/// The region in a Function URL host (`<id>.lambda-url.<region>.on.aws`).
fn region_of_host(host: &str) -> Option<String> {
    let mut parts = host.split('.');
    parts.find(|p| *p == "lambda-url")?;
    parts.next().filter(|r| !r.is_empty()).map(str::to_string)
}

#[async_trait]
impl Invoker for FunctionUrlInvoker {
    fn name(&self) -> &str {
        "url"
    }

    fn stop_grace(&self) -> std::time::Duration {
        super::REMOTE_STOP_GRACE
    }

    async fn invoke(
        &self,
        request: &WorkerRequest,
        cancel: CancellationToken,
    ) -> Result<WorkerResult> {
        let body = serde_json::to_vec(request)
            .map_err(|e| Error::Internal(format!("encoding the request: {e}")))?;
        let mut post = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/json");
        if let Some(signer) = &self.signer {
            for (k, v) in self.sign(signer, &body).await? {
                post = post.header(k, v);
            }
        }
        let target = format!("Function URL {}", redact(self.url.as_str()));
        let call = async {
            let response = match post.body(body).send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() || super::lambda::never_sent(&e) => {
                    return Err(map_http_error(&target, &e))
                }
                // Sent, and no answer: the invocation may still run; never retried
                // (see `lambda::not_retried`).
                Err(e) => {
                    return Ok(Err(super::lambda::not_retried(
                        request,
                        map_http_error(&target, &e),
                    )))
                }
            };
            let status = response.status().as_u16();
            let bytes = read_body(response, MAX_RESPONSE_BYTES, &target).await?;
            Ok::<_, Error>(Ok((status, bytes)))
        };
        // The function keeps running when the caller gives up; it is billed either way.
        let (status, bytes) = tokio::select! {
            r = call => match r? {
                Ok(answer) => answer,
                Err(lost) => return Ok(lost),
            },
            _ = cancel.cancelled() => return Err(Error::Cancelled),
        };
        let what = || {
            redact(&format!(
                "{target} answered HTTP {status}: {}",
                snippet(&bytes)
            ))
        };
        match status {
            200 | 400 => decode_result_apart(bytes, target, "runner.url").await,
            429 => Err(Error::LambdaThrottled(what())),
            401 | 403 => Err(Error::config(
                "runner.options.auth",
                format!(
                    "{} (with AWS_IAM auth the caller needs both lambda:InvokeFunctionUrl and \
                     lambda:InvokeFunction on the function: Function URLs created since October \
                     2025 check both; a URL with auth NONE needs runner.options.auth=NONE)",
                    what()
                ),
            )),
            404 => Err(Error::config("runner.url", what())),
            500..=599 => Err(Error::Backend(what())),
            _ => Err(Error::Rejected(what())),
        }
    }
}

/// Reads a response body of at most `limit` bytes ([`MAX_RESPONSE_BYTES`] outside
/// tests) chunk by chunk: a body that says (`content-length`) or turns out to be
/// longer is refused as soon as that is known, never holding more than `limit` bytes
/// of it ([`response_too_large`] says why that error is not retried).
async fn read_body(mut response: reqwest::Response, limit: usize, target: &str) -> Result<Vec<u8>> {
    let declared = response.content_length().unwrap_or(0);
    if declared > limit as u64 {
        let size = usize::try_from(declared).unwrap_or(usize::MAX);
        return Err(response_too_large(size, limit, target));
    }
    let mut body = Vec::with_capacity(declared as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| map_http_error(target, &e))?
    {
        let size = body.len() + chunk.len();
        if size > limit {
            return Err(response_too_large(size, limit, target));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn map_http_error(target: &str, e: &reqwest::Error) -> Error {
    // The error's source chain says why (refused, reset, TLS); redact in case a URL
    // carries credentials.
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    let what = redact(&format!("{target}: {detail}"));
    if e.is_timeout() {
        Error::Timeout(what)
    } else if e.is_connect() {
        Error::Connect(what)
    } else {
        Error::Backend(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    fn runner(url: Option<&str>, options: serde_json::Value) -> RunnerConfig {
        RunnerConfig {
            url: url.map(str::to_string),
            options: serde_json::from_value(options).unwrap(),
            ..RunnerConfig::default()
        }
    }

    #[test]
    fn region_comes_from_the_url_host() {
        assert_eq!(
            region_of_host("abcdef.lambda-url.eu-central-1.on.aws").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(region_of_host("127.0.0.1"), None);
        assert_eq!(UrlAuth::parse("aws_iam"), Some(UrlAuth::AwsIam));
        assert_eq!(UrlAuth::parse("None"), Some(UrlAuth::None));
        assert_eq!(UrlAuth::parse("basic"), None);
    }

    #[tokio::test]
    async fn config_problems_name_their_paths() {
        let err = FunctionUrlInvoker::from_config(&runner(None, serde_json::json!({})))
            .await
            .unwrap_err();
        assert_eq!(err.config_problems()[0].path, "runner.url");
        let err = FunctionUrlInvoker::from_config(&runner(Some("ftp://x"), serde_json::json!({})))
            .await
            .unwrap_err();
        assert_eq!(err.config_problems()[0].path, "runner.url");
        let err = FunctionUrlInvoker::from_config(&runner(
            Some("https://x.example"),
            serde_json::json!({"auth": "basic"}),
        ))
        .await
        .unwrap_err();
        assert_eq!(err.config_problems()[0].path, "runner.options.auth");
        let err = FunctionUrlInvoker::from_config(&runner(
            Some("https://x.example"),
            serde_json::json!({"qualifier": "1"}),
        ))
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown option for target `url`"),
            "{err}"
        );
        let ok = FunctionUrlInvoker::from_config(&runner(
            Some("http://127.0.0.1:9/"),
            serde_json::json!({"auth": "NONE"}),
        ))
        .await
        .unwrap();
        assert!(ok.signer.is_none());
        assert_eq!(ok.host(), "127.0.0.1:9");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let inv = FunctionUrlInvoker::unsigned(&format!("http://127.0.0.1:{port}/")).unwrap();
        let req = crate::runner::lambda::test_support::request(0, 1);
        let err = inv
            .invoke(&req, CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Connect, "{err}");
    }

    /// Whether `text` names `action` as a whole word (`lambda:InvokeFunction` is not
    /// named by `lambda:InvokeFunctionUrl`).
    fn names(text: &str, action: &str) -> bool {
        text.match_indices(action).any(|(i, _)| {
            !text[i + action.len()..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric)
        })
    }

    #[tokio::test]
    async fn a_refused_caller_is_told_every_action_a_function_url_needs() {
        use crate::runner::lambda::test_support::{serve, Reply};
        let (url, server) = serve(|_| async {
            Reply::json(403, r#"{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}"#)
        })
        .await;
        let inv = FunctionUrlInvoker::unsigned(&url).unwrap();
        let req = crate::runner::lambda::test_support::request(0, 1);
        let err = inv
            .invoke(&req, CancellationToken::new())
            .await
            .unwrap_err();
        server.abort();
        assert_eq!(err.config_problems()[0].path, "runner.options.auth");
        let text = err.to_string();
        let actions: Vec<&str> = crate::iam::FUNCTION_URL_INVOKER
            .calls
            .iter()
            .map(|c| c.action)
            .collect();
        assert_eq!(
            actions,
            ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]
        );
        for action in actions {
            assert!(names(&text, action), "{action} missing: {text}");
        }
        assert!(!names(
            "needs lambda:InvokeFunctionUrl",
            "lambda:InvokeFunction"
        ));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_once_and_not_retried() {
        use crate::runner::lambda::test_support::{serve, Reply};
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::sync::Arc;
        assert_eq!(MAX_RESPONSE_BYTES, 7 * 1024 * 1024);
        let calls = Arc::new(AtomicU32::new(0));
        let (url, server) = {
            let calls = calls.clone();
            serve(move |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Reply::json(200, vec![b' '; MAX_RESPONSE_BYTES + 1]) }
            })
            .await
        };
        let inv = Arc::new(FunctionUrlInvoker::unsigned(&url).unwrap());
        let req = crate::runner::lambda::test_support::request(0, 1);
        let err = inv
            .invoke(&req, CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Internal, "{err}");
        assert!(!crate::runner::retryable(&err));
        let text = err.to_string();
        assert!(
            text.contains(&format!("at least {} bytes", MAX_RESPONSE_BYTES + 1))
                && text.contains("not retried"),
            "{text}"
        );
        // Through the runner: one attempt, whatever the retry budget.
        let config = crate::config::BenchmarkConfig::from_json_str(
            r#"{"database": {"type": "memory"}, "workload": {"records": 100, "load": false},
                "tests": [{"name": "writes", "operation": {"type": "write"}, "operations": 10}]}"#,
            &[],
        )
        .unwrap();
        calls.store(0, Ordering::SeqCst);
        let run = crate::runner::Runner::new(inv, 3)
            .with_backoff(std::time::Duration::from_millis(1))
            .run(&config, CancellationToken::new(), &crate::runner::Silent)
            .await
            .unwrap();
        server.abort();
        let w = &run.tests[0].workers[0];
        assert_eq!((w.attempts, calls.load(Ordering::SeqCst)), (1, 1));
        assert_eq!(w.status, crate::protocol::WorkerStatus::Failed);
        assert_eq!(run.tests[0].metrics.ok(), 0);
    }

    /// A server that answers one request with status 200, no length, and `body_len`
    /// bytes streamed until it closes; its task returns whether it wrote them all.
    async fn streaming_server(body_len: usize) -> (String, tokio::task::JoinHandle<bool>) {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            lgb_testkit::http::read_request(&mut socket).await.unwrap();
            let head =
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
            let sent = async {
                socket.write_all(head).await?;
                for _ in 0..body_len / 4096 {
                    socket.write_all(&[b' '; 4096]).await?;
                }
                socket.write_all(&vec![b' '; body_len % 4096]).await?;
                socket.shutdown().await
            };
            sent.await.is_ok()
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_body_without_a_length_is_read_in_chunks_up_to_the_limit() {
        let client = reqwest::Client::new();
        // Exactly the limit is read whole.
        let (url, server) = streaming_server(10_000).await;
        let response = client.post(&url).send().await.unwrap();
        let body = read_body(response, 10_000, "t").await.unwrap();
        assert_eq!(body.len(), 10_000);
        assert!(server.await.unwrap());
        // One byte more is refused; a 64 MiB stream is refused long before its end:
        // the server cannot write it all.
        for (len, limit) in [(10_001, 10_000), (64 << 20, 10_000)] {
            let (url, server) = streaming_server(len).await;
            let response = client.post(&url).send().await.unwrap();
            assert_eq!(response.content_length(), None);
            let err = read_body(response, limit, "Function URL t")
                .await
                .unwrap_err();
            assert_eq!(err.class(), ErrorClass::Internal, "{err}");
            assert!(err.to_string().contains("over the 10000"), "{err}");
            if len > limit + 1 {
                let wrote_all = tokio::time::timeout(std::time::Duration::from_secs(20), server)
                    .await
                    .expect("the server stops once the reader is gone")
                    .unwrap();
                assert!(!wrote_all, "the whole stream was read");
            }
        }
    }
}
