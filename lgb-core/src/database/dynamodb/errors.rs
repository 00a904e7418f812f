//! The one place where AWS SDK errors become lgb [`Error`]s, and the retry policy
//! that decides which of them are worth another attempt.
//!
//! Messages keep the service's error code and text (redacted) and never the request:
//! requests carry signatures, and credentials must not reach results.

use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use rand::Rng;

use crate::error::Error;
use crate::redact::redact;

/// Error codes DynamoDB uses when it sheds load.
const THROTTLING: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "Throttling",
    "TooManyRequestsException",
];

/// Error codes of requests DynamoDB refused as invalid.
const REJECTED: &[&str] = &[
    "ConditionalCheckFailedException",
    "ValidationException",
    "TransactionCanceledException",
    "ItemCollectionSizeLimitExceededException",
    "DuplicateItemException",
    "SerializationException",
];

/// Error codes that mean the credentials or permissions are wrong.
const CREDENTIALS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "AccessDeniedException",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
    "IncompleteSignature",
    "InvalidClientTokenId",
];

/// Where a request went, for messages that must name the table and region.
#[derive(Debug, Clone)]
pub struct Target {
    /// Table name.
    pub table: String,
    /// Region the client signs for.
    pub region: String,
    /// Endpoint override, if any (local servers).
    pub endpoint: Option<String>,
}

impl Target {
    fn place(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("region `{}` at endpoint {e}", self.region),
            None => format!("region `{}`", self.region),
        }
    }
}

/// An SDK error mapped to lgb's class, and whether another attempt may succeed.
#[derive(Debug)]
pub struct Classified {
    /// The mapped error.
    pub error: Error,
    /// Whether the retry policy may try again.
    pub retryable: bool,
}

/// Maps an SDK error of operation `op` onto an lgb error class.
pub fn classify<E>(op: &str, err: SdkError<E, HttpResponse>, target: &Target) -> Classified
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code().unwrap_or("UnknownError").to_string();
            let message = redact(ctx.err().message().unwrap_or(""));
            service_error(op, &code, &message, status, target)
        }
        SdkError::TimeoutError(_) => Classified {
            error: Error::Timeout(format!(
                "DynamoDB {op} on table `{}` timed out (request_timeout)",
                target.table
            )),
            retryable: false,
        },
        SdkError::DispatchFailure(d) => {
            let detail = redact(&DisplayErrorContext(&err).to_string());
            if d.is_timeout() {
                Classified {
                    error: Error::Timeout(format!("DynamoDB {op}: {detail}")),
                    retryable: false,
                }
            } else if d.is_user()
                || (d.is_other() && detail.to_ascii_lowercase().contains("credential"))
            {
                // Credentials that cannot be loaded, or a bad endpoint: a setup problem.
                Classified {
                    error: Error::config(
                        "database",
                        format!("DynamoDB {op} could not be sent: {detail}"),
                    ),
                    retryable: false,
                }
            } else {
                Classified {
                    error: Error::Connect(format!("DynamoDB {op} in {}: {detail}", target.place())),
                    retryable: true,
                }
            }
        }
        SdkError::ConstructionFailure(_) => Classified {
            error: Error::config(
                "database",
                format!(
                    "DynamoDB {op} could not be built: {}",
                    redact(&DisplayErrorContext(&err).to_string())
                ),
            ),
            retryable: false,
        },
        // The connection broke while the answer was being read (the server died or
        // reset it): the database became unreachable mid-request, which is not a
        // malformed answer. Retried like a refused connection.
        SdkError::ResponseError(_) if caused_by_io(&err) => Classified {
            error: Error::Connect(format!(
                "DynamoDB {op} in {}: connection lost while reading the response: {}",
                target.place(),
                redact(&DisplayErrorContext(&err).to_string())
            )),
            retryable: true,
        },
        _ => Classified {
            error: Error::Backend(format!(
                "DynamoDB {op}: unreadable response: {}",
                redact(&DisplayErrorContext(&err).to_string())
            )),
            retryable: false,
        },
    }
}

/// Whether an operating-system I/O error (end of stream, reset) is among the causes.
fn caused_by_io(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = err.source();
    while let Some(e) = cause {
        if e.is::<std::io::Error>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Maps a service error code (as DynamoDB names it, without namespace) onto a class.
pub fn service_error(
    op: &str,
    code: &str,
    message: &str,
    status: u16,
    target: &Target,
) -> Classified {
    let text = if message.is_empty() {
        format!("DynamoDB {op}: {code}")
    } else {
        format!("DynamoDB {op}: {code}: {message}")
    };
    let (error, retryable) = if THROTTLING.contains(&code) {
        (Error::Throttled(text), true)
    } else if REJECTED.contains(&code) {
        (Error::Rejected(text), false)
    } else if code == "ResourceNotFoundException" {
        (
            Error::config(
                "database.table",
                format!(
                    "table `{}` was not found in {} ({text})",
                    target.table,
                    target.place()
                ),
            ),
            false,
        )
    } else if CREDENTIALS.contains(&code) {
        (
            Error::config(
                "database",
                format!(
                    "AWS refused the credentials or permissions for table `{}` in {} ({text})",
                    target.table,
                    target.place()
                ),
            ),
            false,
        )
    } else {
        // 5xx (InternalServerError, ServiceUnavailable) are transient by contract.
        (Error::Backend(text), status >= 500)
    };
    Classified { error, retryable }
}

/// How often and how patiently the adapter retries: exponential backoff with full
/// jitter (a random wait between zero and `base × 2^(attempt−1)`, capped).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Attempts per request, including the first.
    pub max_attempts: u32,
    /// First backoff cap.
    pub base: Duration,
    /// Largest backoff cap.
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (1-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max);
        cap.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            table: "orders".into(),
            region: "eu-west-1".into(),
            endpoint: None,
        }
    }

    #[test]
    fn service_codes_map_to_classes() {
        use crate::error::ErrorClass as C;
        let cases = [
            (
                "ProvisionedThroughputExceededException",
                400,
                C::Throttled,
                true,
            ),
            ("ThrottlingException", 400, C::Throttled, true),
            ("RequestLimitExceeded", 400, C::Throttled, true),
            ("ConditionalCheckFailedException", 400, C::Rejected, false),
            ("ValidationException", 400, C::Rejected, false),
            ("ResourceNotFoundException", 400, C::Config, false),
            ("UnrecognizedClientException", 400, C::Config, false),
            ("InternalServerError", 500, C::Backend, true),
            ("SomethingNew", 400, C::Backend, false),
        ];
        for (code, status, class, retry) in cases {
            let c = service_error("GetItem", code, "msg", status, &target());
            assert_eq!((c.error.class(), c.retryable), (class, retry), "{code}");
        }
        let c = service_error(
            "GetItem",
            "ResourceNotFoundException",
            "Requested resource not found",
            400,
            &target(),
        );
        let text = c.error.to_string();
        assert!(
            text.contains("`orders`") && text.contains("eu-west-1"),
            "{text}"
        );
        assert_eq!(c.error.config_problems()[0].path, "database.table");
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let b = Backoff {
            max_attempts: 5,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        for retry in 1..10 {
            let d = b.delay(retry);
            let cap = Duration::from_millis(10 * (1 << (retry - 1))).min(b.max);
            assert!(d <= cap, "retry {retry}: {d:?} > {cap:?}");
        }
    }
}
