//! The results directory, lgb's one interchange format:
//!
//! ```text
//! <out>/<run-id>/
//!   result.json            RunResult: config, environment, merged metrics, timeline
//!   summary.csv            one row per test and operation
//!   hdr/<test>.<op>.hlog   HdrHistogram interval log (one interval per second)
//! ```
//!
//! `result.json` carries `schema_version`; loaders accept every version up to
//! [`SCHEMA_VERSION`] and refuse newer ones with a clear message. Version 2 stores each
//! timeline point's latency as a sparse histogram
//! ([`crate::metrics::SparseHistogram`]); version 1 stored full HdrHistograms there,
//! which still load (converted exactly).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use super::tables::{summary_rows, write_csv};
use super::RunResult;
use crate::error::{Error, Result};

/// Current layout version of a results directory.
pub const SCHEMA_VERSION: u32 = 2;
/// Name of the main file of a results directory.
pub const RESULT_FILE: &str = "result.json";

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("renaming {}", tmp.display()), e))
}

/// A file name made of safe characters only.
pub(crate) fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `run` into `<out>/<run-id>/` and returns that directory.
pub fn write_run(run: &RunResult, out: &Path) -> Result<PathBuf> {
    let dir = out.join(&run.run_id);
    let hdr = dir.join("hdr");
    fs::create_dir_all(&hdr).map_err(|e| Error::io(format!("creating {}", hdr.display()), e))?;
    let json = serde_json::to_vec_pretty(run)
        .map_err(|e| Error::Internal(format!("encoding results: {e}")))?;
    write_atomic(&dir.join(RESULT_FILE), &json)?;

    let mut csv = Vec::new();
    write_csv(&summary_rows(run), &mut csv)?;
    write_atomic(&dir.join("summary.csv"), &csv)?;

    for test in &run.tests {
        for op in test.metrics.operations.keys() {
            let mut buf = Vec::new();
            write_interval_log(run, test, op, &mut buf)?;
            let name = format!("{}.{}.hlog", safe_name(&test.name), safe_name(op));
            write_atomic(&hdr.join(name), &buf)?;
        }
    }
    Ok(dir)
}

/// Writes the per-second histograms of one test and operation in HdrHistogram's
/// interval log format (readable by HistogramLogProcessor and friends). Values are in
/// nanoseconds.
pub fn write_interval_log(
    run: &RunResult,
    test: &super::TestResult,
    op: &str,
    out: &mut impl Write,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("writing interval log", e);
    let start = UNIX_EPOCH + Duration::from_millis(test.start_unix_ms.max(0) as u64);
    writeln!(
        out,
        "#[lgb run {} test {} operation {} (values in ns)]",
        run.run_id, test.name, op
    )
    .map_err(io)?;
    let mut ser = V2DeflateSerializer::new();
    let mut writer = IntervalLogWriterBuilder::new()
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1e6)
        .begin_log_with(out, &mut ser)
        .map_err(io)?;
    let tag_name = safe_name(op);
    let tag = Tag::new(&tag_name);
    for p in test.metrics.timeline.points().filter(|p| p.operation == op) {
        let at = UNIX_EPOCH + Duration::from_secs(p.second.max(0) as u64);
        let offset = at.duration_since(start).unwrap_or(Duration::ZERO);
        writer
            .write_histogram(
                &p.latency.to_histogram().to_hdr(),
                offset,
                Duration::from_secs(1),
                tag,
            )
            .map_err(|e| Error::Internal(format!("writing interval log: {e:?}")))?;
    }
    Ok(())
}

/// Loads a run from its directory (or its `result.json`).
pub fn load_run(path: &Path) -> Result<RunResult> {
    let file = if path.is_dir() {
        path.join(RESULT_FILE)
    } else {
        path.to_path_buf()
    };
    let text = fs::read(&file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::config(file.display().to_string(), format!("not valid JSON: {e}")))?;
    let version = value
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| {
            Error::config(
                format!("{}: schema_version", file.display()),
                "missing; this is not an lgb result file",
            )
        })?;
    if version > u64::from(SCHEMA_VERSION) {
        return Err(Error::config(
            format!("{}: schema_version", file.display()),
            format!("results have schema version {version}, written by a newer lgb; this lgb reads up to {SCHEMA_VERSION}. Upgrade lgb"),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        Error::config(
            format!("{}: {}", file.display(), e.path()),
            e.inner().to_string(),
        )
    })
}
