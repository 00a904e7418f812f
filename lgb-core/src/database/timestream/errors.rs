//! The one place where Timestream SDK errors become lgb error classes.
//!
//! Service errors are classified by their code, so the same table serves the write and
//! the query client. `RejectedRecordsException` is not an error of the whole call: its
//! per-record reasons are returned so that the accepted records still count.

use aws_sdk_timestreamwrite::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_timestreamwrite::operation::write_records::WriteRecordsError;
use aws_sdk_timestreamwrite::types::error::RejectedRecordsException;

use crate::error::Error;
use crate::redact::redact;

/// What the adapter talks to, for error messages that say where to look.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub database: String,
    pub table: String,
    pub region: String,
}

/// A record Timestream rejected: its index in the call and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub index: usize,
    pub reason: String,
}

/// The outcome of a failed `WriteRecords` call.
#[derive(Debug)]
pub(crate) enum WriteFailure {
    /// Some records were rejected; the others were written.
    Rejected(Vec<Rejection>),
    /// The call failed as a whole.
    Failed(Error),
}

/// The rejected records of a `RejectedRecordsException`, each with its reason (and the
/// version already stored, when that is why).
pub(crate) fn rejections(e: &RejectedRecordsException) -> Vec<Rejection> {
    e.rejected_records()
        .iter()
        .map(|r| {
            let mut reason = redact(r.reason().unwrap_or("rejected without a reason"));
            if let Some(v) = r.existing_version() {
                reason.push_str(&format!(" (existing version {v})"));
            }
            Rejection {
                index: usize::try_from(r.record_index()).unwrap_or(usize::MAX),
                reason,
            }
        })
        .collect()
}

/// Classifies the error of a `WriteRecords` call.
pub(crate) fn write_failure(err: SdkError<WriteRecordsError>, target: &Target) -> WriteFailure {
    if let SdkError::ServiceError(s) = &err {
        if let WriteRecordsError::RejectedRecordsException(e) = s.err() {
            return WriteFailure::Rejected(rejections(e));
        }
    }
    WriteFailure::Failed(from_sdk(&err, target))
}

/// Maps any Timestream SDK error (write or query client) onto an lgb error class.
pub(crate) fn from_sdk<E, R>(err: &SdkError<E, R>, target: &Target) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = || redact(&DisplayErrorContext(err).to_string());
    match err {
        SdkError::TimeoutError(_) => Error::Timeout(text()),
        SdkError::DispatchFailure(d) if d.is_timeout() => Error::Timeout(text()),
        SdkError::DispatchFailure(d) if d.is_user() => Error::config("database", text()),
        SdkError::DispatchFailure(_) => Error::Connect(text()),
        SdkError::ConstructionFailure(_) => Error::config(
            "database",
            format!(
                "cannot build the request (check AWS credentials and region): {}",
                text()
            ),
        ),
        SdkError::ServiceError(s) => from_code(s.err().code(), s.err().message(), target),
        _ => Error::Backend(text()),
    }
}

/// Maps a service error code onto an lgb error class.
pub(crate) fn from_code(code: Option<&str>, message: Option<&str>, target: &Target) -> Error {
    let code = code.unwrap_or("Unknown");
    let message = redact(message.unwrap_or(""));
    let full = format!("{code}: {message}");
    match code {
        "ThrottlingException" | "ServiceQuotaExceededException" => Error::Throttled(full),
        "ResourceNotFoundException" => not_found(target, &message),
        // A query names a table that does not exist with a validation error.
        "ValidationException" if message.contains("does not exist") => not_found(target, &message),
        "ValidationException" | "RejectedRecordsException" | "QueryExecutionException" => {
            Error::Rejected(full)
        }
        "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException" => {
            Error::config(
                "database",
                format!(
                    "{full} (check the AWS credentials and their permissions in region {})",
                    target.region
                ),
            )
        }
        "InvalidEndpointException" => Error::Connect(full),
        _ => Error::Backend(full),
    }
}

fn not_found(target: &Target, message: &str) -> Error {
    Error::config(
        "database.table",
        format!(
            "Timestream table `{}`.`{}` not found in region {} ({message}); create it, or set \
             database.create_if_missing to true",
            target.database, target.table, target.region
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use aws_sdk_timestreamwrite::types::RejectedRecord;

    fn target() -> Target {
        Target {
            database: "db".into(),
            table: "cpu".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn rejected_records_are_parsed_per_record() {
        let e = RejectedRecordsException::builder()
            .message("One or more records have been rejected.")
            .rejected_records(RejectedRecord::builder().record_index(3).reason("The record timestamp is outside the time range [2024-05-01T00:00:00Z, 2024-05-01T06:15:00Z) of the memory store.").build())
            .rejected_records(
                RejectedRecord::builder()
                    .record_index(7)
                    .reason("A record with the same dimensions, time and measure name exists with a higher version.")
                    .existing_version(4)
                    .build(),
            )
            .build();
        let r = rejections(&e);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].index, 3);
        assert!(r[0].reason.contains("outside the time range"), "{r:?}");
        assert_eq!(r[1].index, 7);
        assert!(r[1].reason.ends_with("(existing version 4)"), "{r:?}");
    }

    #[test]
    fn service_codes_map_to_classes() {
        let t = target();
        assert_eq!(
            from_code(Some("ThrottlingException"), Some("Rate exceeded"), &t).class(),
            ErrorClass::Throttled
        );
        assert_eq!(
            from_code(Some("ValidationException"), Some("bad"), &t).class(),
            ErrorClass::Rejected
        );
        assert_eq!(
            from_code(Some("InternalServerException"), None, &t).class(),
            ErrorClass::Backend
        );
        let e = from_code(
            Some("ResourceNotFoundException"),
            Some("The table cpu does not exist."),
            &t,
        );
        assert_eq!(e.class(), ErrorClass::Config);
        let text = e.to_string();
        assert!(
            text.contains("`db`.`cpu`") && text.contains("eu-west-1"),
            "{text}"
        );
        assert_eq!(e.config_problems()[0].path, "database.table");
        let e = from_code(
            Some("ValidationException"),
            Some("line 1:15: Table 'db.cpu' does not exist"),
            &t,
        );
        assert_eq!(e.class(), ErrorClass::Config);
        let e = from_code(Some("AccessDeniedException"), Some("secret=abc denied"), &t);
        assert!(!e.to_string().contains("abc"), "{e}");
    }
}
