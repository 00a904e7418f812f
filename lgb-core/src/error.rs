//! The one error type of lgb-core and the stable classes a benchmark counts.
//!
//! Every adapter maps its backend's failures onto [`Error`] once, at its edge, so that
//! metrics can count failures by [`ErrorClass`] without knowing which database failed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A `Result` whose error is lgb's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in lgb-core, grouped by what a benchmark counts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is wrong; `problems` lists each one with its JSON path.
    #[error("invalid configuration: {}", ConfigProblem::join(.0))]
    Config(Vec<ConfigProblem>),
    /// The database could not be reached.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// An operation did not finish within its deadline.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The database refused the request because of load or capacity limits.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The requested key or object does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database rejected the request as invalid (validation, condition, size).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The adapter or database cannot do what was asked.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A proof of integrity from the database failed verification.
    #[error("verification failed: {0}")]
    Tampered(String),
    /// Reading or writing a local file failed.
    #[error("{context}: {source}")]
    Io {
        /// What lgb was doing, for example the path it was writing.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The run was cancelled (Ctrl-C, SIGTERM or a caller's token).
    #[error("cancelled")]
    Cancelled,
    /// Any other failure reported by a database backend or a worker: only what a
    /// database (or a remote worker) said.
    #[error("{0}")]
    Backend(String),
    /// A failure of lgb itself, not of the database: a bug or a local step that cannot
    /// fail in a sound build (encoding results, drawing a chart, a poisoned lock, a
    /// panicked task). The runner never retries it, and it is never counted as the
    /// database's error class.
    #[error("internal error: {0}")]
    Internal(String),
    /// AWS Lambda itself refused an invocation for lack of concurrency
    /// (`TooManyRequestsException`, or HTTP 429 from a Function URL): the runner's
    /// fan-out is too wide for the function, which is not the database's throttling.
    #[error("Lambda throttled the invocation: {0}")]
    LambdaThrottled(String),
}

impl Error {
    /// The stable class name used in results, for example `"timeout"`.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config(_) => ErrorClass::Config,
            Error::Connect(_) => ErrorClass::Connect,
            Error::Timeout(_) => ErrorClass::Timeout,
            Error::Throttled(_) => ErrorClass::Throttled,
            Error::NotFound(_) => ErrorClass::NotFound,
            Error::Rejected(_) => ErrorClass::Rejected,
            Error::Unsupported(_) => ErrorClass::Unsupported,
            Error::Tampered(_) => ErrorClass::Tampered,
            Error::Io { .. } => ErrorClass::Io,
            Error::Cancelled => ErrorClass::Cancelled,
            Error::Backend(_) => ErrorClass::Backend,
            Error::Internal(_) => ErrorClass::Internal,
            Error::LambdaThrottled(_) => ErrorClass::LambdaThrottled,
        }
    }

    /// A configuration error with one problem at `path`.
    pub fn config(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config(vec![ConfigProblem::new(path, message)])
    }

    /// An I/O error with the context of what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The problems of a configuration error, or an empty slice for other errors.
    pub fn config_problems(&self) -> &[ConfigProblem] {
        match self {
            Error::Config(problems) => problems,
            _ => &[],
        }
    }
}

/// The class of an error as counted in results. The string forms are stable.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// See [`Error::Config`].
    Config,
    /// See [`Error::Connect`].
    Connect,
    /// See [`Error::Timeout`].
    Timeout,
    /// See [`Error::Throttled`].
    Throttled,
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::Rejected`].
    Rejected,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::Tampered`].
    Tampered,
    /// See [`Error::Io`].
    Io,
    /// See [`Error::Cancelled`].
    Cancelled,
    /// See [`Error::Backend`].
    Backend,
    /// See [`Error::Internal`].
    Internal,
    /// See [`Error::LambdaThrottled`].
    LambdaThrottled,
}

impl ErrorClass {
    /// Every class, in the order reports list them.
    pub const ALL: [ErrorClass; 13] = [
        ErrorClass::Config,
        ErrorClass::Connect,
        ErrorClass::Timeout,
        ErrorClass::Throttled,
        ErrorClass::NotFound,
        ErrorClass::Rejected,
        ErrorClass::Unsupported,
        ErrorClass::Tampered,
        ErrorClass::Io,
        ErrorClass::Cancelled,
        ErrorClass::Backend,
        ErrorClass::Internal,
        ErrorClass::LambdaThrottled,
    ];

    /// The stable string used in results, for example `"not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Config => "config",
            ErrorClass::Connect => "connect",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Throttled => "throttled",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Rejected => "rejected",
            ErrorClass::Unsupported => "unsupported",
            ErrorClass::Tampered => "tampered",
            ErrorClass::Io => "io",
            ErrorClass::Cancelled => "cancelled",
            ErrorClass::Backend => "backend",
            ErrorClass::Internal => "internal",
            ErrorClass::LambdaThrottled => "lambda_throttled",
        }
    }

    /// Position in [`ErrorClass::ALL`], used to index counters without hashing.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a configuration: where it is (a JSON path such as
/// `tests[0].concurrency`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigProblem {
    /// JSON path of the offending value; empty for the document itself.
    pub path: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl ConfigProblem {
    /// A problem at `path`. Under a secret's key (`password`, `token`…) a value that
    /// serde quotes in `message` is left out.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        let path = path.into();
        let mut message = message.into();
        if names_a_secret(&path) {
            message = without_value(message);
        }
        Self { path, message }
    }

    fn join(problems: &[ConfigProblem]) -> String {
        problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Whether the last key of `path` (`database.password`, `auth.tokens[0]`) names a secret.
fn names_a_secret(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or_default();
    crate::redact::is_secret_key(last.split('[').next().unwrap_or_default())
}

/// serde says "invalid type: integer `73519264028`, expected a string": it quotes the
/// value it could not read, and under a secret's key that value is the secret (a
/// numeric password, say). Keeps what was expected.
fn without_value(message: String) -> String {
    for kind in ["invalid type", "invalid value"] {
        if let Some(rest) = message
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix(": "))
        {
            let expected = rest.find(", expected").map_or("", |i| &rest[i..]);
            return format!("{kind} (not shown: it may be a secret){expected}");
        }
    }
    message
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "(top level): {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_that_cannot_be_read_is_not_repeated() {
        let serde = "invalid type: integer `73519264028`, expected a string";
        for path in [
            "database.password",
            "password",
            "runner.options.token",
            "keys[0].secret_key",
        ] {
            let p = ConfigProblem::new(path, serde);
            assert!(!p.message.contains("73519264028"), "{p}");
            assert!(p.message.ends_with(", expected a string"), "{p}");
        }
        let p = ConfigProblem::new(
            "database.password",
            "invalid value: string \"hunter2\", expected 8 characters",
        );
        assert!(!p.to_string().contains("hunter2"), "{p}");
        // Other fields keep the value, which helps to find the mistake.
        for path in ["tests[0].concurrency", "database.password_env"] {
            assert_eq!(ConfigProblem::new(path, serde).message, serde);
        }
    }

    #[test]
    fn class_strings_are_stable_and_indexed() {
        assert_eq!(Error::Timeout("x".into()).class().as_str(), "timeout");
        assert_eq!(Error::NotFound("k".into()).class().as_str(), "not_found");
        for (i, c) in ErrorClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
    }

    #[test]
    fn config_error_lists_every_problem_with_its_path() {
        let err = Error::Config(vec![
            ConfigProblem::new("tests[0].concurrency", "must be at least 1"),
            ConfigProblem::new("workload.records", "expected an integer"),
        ]);
        let text = err.to_string();
        assert!(
            text.contains("tests[0].concurrency: must be at least 1"),
            "{text}"
        );
        assert!(
            text.contains("workload.records: expected an integer"),
            "{text}"
        );
    }
}
