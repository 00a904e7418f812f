//! A worker's answer as the runner reads it, for both remote invokers (Lambda and
//! Function URLs): the size an answer may have, decoding it into a [`WorkerResult`]
//! with errors that say what answered, and the Lambda `REPORT` line of the
//! invocation's log tail (init, billed duration, memory used).

use serde_json::Value;

use crate::error::{Error, Result};
use crate::protocol::{InvocationReport, WorkerResult, PROTOCOL_VERSION, RESPONSE_LIMIT_BYTES};
use crate::redact::redact;

/// The largest answer an invoker reads: Lambda returns at most
/// [`RESPONSE_LIMIT_BYTES`] (6 MiB) from a synchronous invocation, and the margin of
/// 1 MiB covers an HTTP front end's framing. Anything larger did not come from an lgb
/// worker through Lambda, and is refused before it is held or decoded.
pub(crate) const MAX_RESPONSE_BYTES: usize = RESPONSE_LIMIT_BYTES + 1024 * 1024;

/// The error for an answer from `target` of at least `size` bytes, over `limit`
/// ([`MAX_RESPONSE_BYTES`] outside tests).
///
/// The class is [`Error::Internal`], which the runner never retries: the worker fits
/// its result into [`crate::protocol::RESPONSE_BUDGET_BYTES`] and Lambda cannot return
/// more than its limit, so an answer this large is a broken worker or something that
/// is not a Lambda worker answering. Another attempt gets the same answer (and reads
/// megabytes again); a throttle, a timeout or a 5xx, which a retry can fix, have their
/// own retryable classes.
pub(crate) fn response_too_large(size: usize, limit: usize, target: &str) -> Error {
    Error::Internal(format!(
        "{target} answered with at least {size} bytes, over the {limit} an invoker reads \
         (Lambda returns at most {RESPONSE_LIMIT_BYTES}): not an lgb worker's answer; not \
         read further and not retried"
    ))
}

/// Decodes a worker's answer; an answer that is not a `WorkerResult` means the target
/// is not an lgb worker of this protocol version (a setup problem named at `path`).
pub(crate) fn decode_result(body: &[u8], target: &str, path: &str) -> Result<WorkerResult> {
    // The emulator answers a timed-out invocation with this text and no error flag.
    if body.starts_with(b"Task timed out") {
        return Err(Error::Timeout(format!("{target}: {}", snippet(body))));
    }
    serde_json::from_slice(body).map_err(|e| {
        Error::config(
            path,
            format!(
                "{target} answered something that is not an lgb WorkerResult of protocol version \
                 {PROTOCOL_VERSION} ({e}); it begins: {}",
                redact(&snippet(body))
            ),
        )
    })
}

/// Answers from this size on are decoded on tokio's blocking pool.
const DECODE_APART_BYTES: usize = 64 * 1024;

/// [`decode_result`] of an answer as it arrives: a large one (a long test's worker
/// result is megabytes of JSON and binary timeline) is decoded, and its timeline
/// checked, on tokio's blocking pool, so that the answers of many workers decode in
/// parallel while the runner's task folds the ones decoded before.
pub(crate) async fn decode_result_apart(
    body: Vec<u8>,
    target: String,
    path: &'static str,
) -> Result<WorkerResult> {
    if body.len() < DECODE_APART_BYTES {
        return decode_result(&body, &target, path);
    }
    tokio::task::spawn_blocking(move || decode_result(&body, &target, path))
        .await
        .map_err(|e| Error::Internal(format!("decoding a worker's answer: {e}")))?
}

/// The first 200 characters of a body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.into_owned(),
    }
}

/// Finds the last invocation report in a log tail (Lambda returns the last 4 KB of an
/// invocation's log, which may start mid-line). Text and JSON log formats are read.
///
/// ```
/// let tail = "START RequestId: 7f Version: $LATEST\nEND RequestId: 7f\n\
///     REPORT RequestId: 7f\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\t\
///     Max Memory Used: 21 MB\tInit Duration: 18.20 ms\t\n";
/// let r = lgb_core::runner::parse_report(tail).unwrap();
/// assert_eq!(r.duration_ms, 12.34);
/// assert_eq!(r.init_duration_ms, Some(18.2));
/// assert_eq!(r.max_memory_used_mb, Some(21));
/// ```
pub fn parse_report(log: &str) -> Option<InvocationReport> {
    log.lines()
        .rev()
        .find_map(|line| parse_text_report(line).or_else(|| parse_json_report(line)))
}

fn parse_text_report(line: &str) -> Option<InvocationReport> {
    let rest = &line[line.find("REPORT RequestId:")?..];
    let mut report = InvocationReport::default();
    let mut has_duration = false;
    for field in rest.split('\t') {
        let Some((key, value)) = field.split_once(':') else {
            continue;
        };
        let number = || {
            value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
        };
        match key.trim() {
            "REPORT RequestId" => report.request_id = Some(value.trim().to_string()),
            "Duration" => {
                report.duration_ms = number()?;
                has_duration = true;
            }
            "Billed Duration" => report.billed_duration_ms = number(),
            "Memory Size" => report.memory_size_mb = number().map(|n| n as u32),
            "Max Memory Used" => report.max_memory_used_mb = number().map(|n| n as u32),
            "Init Duration" => report.init_duration_ms = number(),
            _ => {}
        }
    }
    has_duration.then_some(report)
}

fn parse_json_report(line: &str) -> Option<InvocationReport> {
    let line = line.trim();
    if !line.starts_with('{') || !line.contains("platform.report") {
        return None;
    }
    let v: Value = serde_json::from_str(line).ok()?;
    if v.get("type")?.as_str()? != "platform.report" {
        return None;
    }
    let record = v.get("record")?;
    let m = record.get("metrics")?;
    let f = |k: &str| m.get(k).and_then(Value::as_f64);
    Some(InvocationReport {
        request_id: record
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_string),
        duration_ms: f("durationMs")?,
        billed_duration_ms: f("billedDurationMs"),
        memory_size_mb: f("memorySizeMB").map(|n| n as u32),
        max_memory_used_mb: f("maxMemoryUsedMB").map(|n| n as u32),
        init_duration_ms: f("initDurationMs"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_in_both_log_formats() {
        let text = "tail of an earlier line\nREPORT RequestId: 3b1f\tDuration: 1002.71 ms\tBilled Duration: 1003 ms\tMemory Size: 128 MB\tMax Memory Used: 19 MB\t\n";
        let r = parse_report(text).unwrap();
        assert_eq!(r.request_id.as_deref(), Some("3b1f"));
        assert_eq!(r.duration_ms, 1002.71);
        assert_eq!(r.billed_duration_ms, Some(1003.0));
        assert_eq!(r.memory_size_mb, Some(128));
        assert_eq!(r.max_memory_used_mb, Some(19));
        assert_eq!(r.init_duration_ms, None);
        let json = r#"{"time":"2026-01-01T00:00:00Z","type":"platform.report","record":{"requestId":"9a","metrics":{"durationMs":2.5,"billedDurationMs":3,"memorySizeMB":1024,"maxMemoryUsedMB":30,"initDurationMs":41.25},"status":"success"}}"#;
        let r = parse_report(&format!("{{\"type\":\"platform.start\"}}\n{json}\n")).unwrap();
        assert_eq!(r.request_id.as_deref(), Some("9a"));
        assert_eq!(r.duration_ms, 2.5);
        assert_eq!(r.init_duration_ms, Some(41.25));
        assert_eq!(r.memory_size_mb, Some(1024));
        assert_eq!(parse_report("START RequestId: x\nEND RequestId: x\n"), None);
        assert_eq!(parse_report("REPORT RequestId: x\tDuration: soon\n"), None);
    }
}
