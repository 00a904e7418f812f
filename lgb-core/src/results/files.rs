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
//! [`SCHEMA_VERSION`] and refuse newer ones with a clear message. Version 3 stores each
//! test's timeline as one string, the base64 of its binary form
//! ([`crate::metrics::Timeline::to_binary`]: per-second sparse histograms, runs of
//! counts where merged seconds fill their range, deflated); version 2 stored a list of
//! points with a sparse histogram each, and version 1 full HdrHistograms there; both
//! still load (converted exactly).

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
pub const SCHEMA_VERSION: u32 = 3;
/// Name of the main file of a results directory.
pub const RESULT_FILE: &str = "result.json";

/// The temporary name a file is written under before it is renamed into place: hidden,
/// so that readers (and [`super::files_of`]) never take a half-written file for one.
pub(crate) fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Whether `name` is one of [`temp_name`]'s.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Makes what was written under `dir` durable: the directory's entries (new names,
/// renames) reach the disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let d = fs::File::open(dir).map_err(|e| Error::io(format!("opening {}", dir.display()), e))?;
    d.sync_all()
        .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}

/// Writes `path` so that it is either its old content or all of the new one, also
/// after a crash or a power loss: a temporary file in the same directory, written
/// through `fill`, fsynced, renamed over `path`, and the directory fsynced.
pub(crate) fn write_durable(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let tmp = temp_name(path);
    let file =
        fs::File::create(&tmp).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    let mut out = std::io::BufWriter::new(file);
    let written = fill(&mut out).and_then(|()| {
        let file = out
            .into_inner()
            .map_err(|e| Error::io(format!("writing {}", tmp.display()), e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io(format!("syncing {}", tmp.display()), e))
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("renaming {}", tmp.display()), e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_durable(path, |out| {
        out.write_all(bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    })
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

/// A readable piece of a file name for a test or operation name: letters and digits
/// of any script, `-` and `_` are kept, anything else becomes `_`, at most 60 bytes.
fn file_part(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = if c.is_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        };
        if out.len() + c.len_utf8() > 60 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The histogram file of each operation of `test`, unique among the `taken` ones
/// (kept in lower case, for file systems that ignore case), which it adds to: names
/// that map to one file name (`a b` and `a_b`; `读`+`取` and `写`+`入` on a system
/// that kept only ASCII) get `-2`, `-3`, … Each path is relative to the results
/// directory.
pub(crate) fn unique_files(
    taken: &mut std::collections::BTreeSet<String>,
    test: &super::TestResult,
) -> std::collections::BTreeMap<String, String> {
    let mut files = std::collections::BTreeMap::new();
    for op in test.metrics.operations.keys() {
        let base = format!("hdr/{}.{}", file_part(&test.name), file_part(op));
        let mut n = 1u32;
        let path = loop {
            let candidate = if n == 1 {
                format!("{base}.hlog")
            } else {
                format!("{base}-{n}.hlog")
            };
            if taken.insert(candidate.to_lowercase()) {
                break candidate;
            }
            n = n.saturating_add(1);
        };
        files.insert(op.clone(), path);
    }
    files
}

/// Each test's histogram files: those the run recorded ([`RunResult::push_test`]),
/// and for tests built without them, names given the same way.
fn files_of_run(run: &RunResult) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut taken = std::collections::BTreeSet::new();
    run.tests
        .iter()
        .map(|t| {
            let recorded = !t.files.is_empty()
                && t.metrics
                    .operations
                    .keys()
                    .all(|op| t.files.contains_key(op));
            if recorded {
                taken.extend(t.files.values().map(|f| f.to_lowercase()));
                t.files.clone()
            } else {
                unique_files(&mut taken, t)
            }
        })
        .collect()
}

/// A results directory written as the run goes. [`RunDir::create`] makes it (never
/// over an existing one); [`RunDir::save`] after each test writes the tests not
/// written yet (their histogram files), `summary.csv` and `result.json`, each to a
/// temporary file, fsynced, renamed, the directory fsynced: at any moment the
/// directory holds the last complete state, which `load_run`, `lgb report`, `lgb
/// compare` and `lgb.load` read. Safe to share between tasks (a sweep's sizes).
#[derive(Debug)]
pub struct RunDir {
    dir: PathBuf,
    /// Tests whose histogram files are written.
    written: std::sync::Mutex<usize>,
}

impl RunDir {
    /// Creates `<out>/<run_id>/` (and `out` if needed). Refuses, as a config error at
    /// `--out` before anything runs, an `out` that is itself a results directory
    /// and a run directory that exists: lgb never writes over results.
    pub fn create(out: &Path, run_id: &str) -> Result<Self> {
        if out.join(RESULT_FILE).exists() {
            return Err(Error::config(
                "--out",
                format!(
                    "{} is the results directory of a run; lgb never writes over results: \
                     give the directory that holds runs (results/) or a new one",
                    out.display()
                ),
            ));
        }
        fs::create_dir_all(out).map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
        let dir = out.join(run_id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::config(
                    "--out",
                    format!(
                        "{} already exists; lgb never writes over results",
                        dir.display()
                    ),
                ))
            }
            Err(e) => return Err(Error::io(format!("creating {}", dir.display()), e)),
        }
        let hdr = dir.join("hdr");
        fs::create_dir(&hdr).map_err(|e| Error::io(format!("creating {}", hdr.display()), e))?;
        sync_dir(&dir)?;
        sync_dir(out)?;
        Ok(Self {
            dir,
            written: std::sync::Mutex::new(0),
        })
    }

    /// The run's directory, `<out>/<run-id>`.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Makes the directory hold `run` as it is now: the histogram files of the tests
    /// added since the last call, then `summary.csv`, then `result.json` (last, so
    /// that every file it names is there).
    pub fn save(&self, run: &RunResult) -> Result<()> {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let files = files_of_run(run);
        for (test, files) in run.tests.iter().zip(&files).skip(*written) {
            for (op, file) in files {
                let path = self.dir.join(file);
                write_durable(&path, |mut out| write_interval_log(run, test, op, &mut out))?;
            }
        }
        *written = run.tests.len();
        let mut csv = Vec::new();
        write_csv(&summary_rows(run), &mut csv)?;
        write_atomic(&self.dir.join("summary.csv"), &csv)?;
        let path = self.dir.join(RESULT_FILE);
        write_durable(&path, |out| {
            serde_json::to_writer_pretty(out, run)
                .map_err(|e| Error::Internal(format!("encoding results: {e}")))
        })
    }

    /// Writes one more file of the run (such as the sweep's `sweep.json`) the same
    /// way: complete or not at all.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.dir.join(name), bytes)
    }
}

/// Writes `run` into a new directory `<out>/<run-id>/` and returns it; refuses to
/// write over an existing one (see [`RunDir::create`]).
pub fn write_run(run: &RunResult, out: &Path) -> Result<PathBuf> {
    let dir = RunDir::create(out, &run.run_id)?;
    dir.save(run)?;
    Ok(dir.dir)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BenchmarkConfig;
    use crate::results::{RunStatus, TestResult};

    fn run_of(names: &[&str]) -> RunResult {
        let config = BenchmarkConfig::from_json_str(
            r#"{"database": {"type": "memory"}, "tests": [{"name": "t", "operation": {"type": "read"}}]}"#,
            &[],
        )
        .unwrap();
        let mut run = RunResult::begin(&config, "20260101T000000Z-files-0001".into());
        for name in names {
            let mut metrics = crate::metrics::TestMetrics::default();
            let m = metrics.operations.entry("read".into()).or_default();
            m.ok = 3;
            m.latency.record_n(1_000_000, 3);
            run.push_test(TestResult {
                name: name.to_string(),
                phase: crate::protocol::Phase::Run,
                test: config.tests[0].clone(),
                start_unix_ms: 1_767_225_600_000,
                window_ns: 1_000_000_000,
                workers: Vec::new(),
                metrics,
                files: Default::default(),
            });
        }
        run
    }

    #[test]
    fn names_that_map_to_one_file_get_distinct_files() {
        let run = run_of(&["a b", "a_b", "a/b", "A_B", "读取", "写入", "读取", ""]);
        let files: Vec<&str> = run.tests.iter().map(|t| t.files["read"].as_str()).collect();
        assert_eq!(
            files,
            [
                "hdr/a_b.read.hlog",
                "hdr/a_b.read-2.hlog",
                "hdr/a_b.read-3.hlog",
                // Another case only: the same file where case is ignored.
                "hdr/A_B.read-4.hlog",
                "hdr/读取.read.hlog",
                "hdr/写入.read.hlog",
                "hdr/读取.read-2.hlog",
                "hdr/_.read.hlog",
            ]
        );
        // A name of any length stays a valid file name.
        let long = run_of(&[&"x".repeat(10_000)]);
        assert!(long.tests[0].files["read"].len() < 100);
    }

    #[test]
    fn a_run_directory_is_written_as_the_run_goes_and_never_over_another() {
        let out = tempfile::tempdir().unwrap();
        let mut run = run_of(&[]);
        let dir = RunDir::create(out.path(), &run.run_id).unwrap();
        dir.save(&run).unwrap();
        assert_eq!(load_run(dir.path()).unwrap().status, RunStatus::Running);
        for (i, name) in ["a b", "a_b"].iter().enumerate() {
            let more = run_of(&[name]);
            run.push_test(more.tests.into_iter().next().unwrap());
            dir.save(&run).unwrap();
            let back = load_run(dir.path()).unwrap();
            assert_eq!(back, run, "after test {i}");
            for t in &back.tests {
                assert!(dir.path().join(&t.files["read"]).is_file());
            }
        }
        // No temporary file is left, and the files are the run's own.
        let names: Vec<String> = crate::results::files_of(dir.path())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "hdr/a_b.read-2.hlog",
                "hdr/a_b.read.hlog",
                "result.json",
                "summary.csv"
            ]
        );
        assert!(fs::read_dir(dir.path())
            .unwrap()
            .all(|e| !is_temp_name(&e.unwrap().file_name().to_string_lossy())));

        // The same run id again, or `out` naming a run: refused, nothing touched.
        let before = fs::read(dir.path().join(RESULT_FILE)).unwrap();
        let e = RunDir::create(out.path(), &run.run_id).unwrap_err();
        assert_eq!(e.config_problems()[0].path, "--out");
        assert!(e.to_string().contains("already exists"), "{e}");
        let e = RunDir::create(dir.path(), "20260101T000001Z-x-0002").unwrap_err();
        assert!(
            e.to_string().contains("is the results directory of a run"),
            "{e}"
        );
        assert!(write_run(&run, out.path()).is_err());
        assert_eq!(fs::read(dir.path().join(RESULT_FILE)).unwrap(), before);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("f.json");
        write_atomic(&path, b"old").unwrap();
        let e = write_durable(&path, |w| {
            w.write_all(b"half").unwrap();
            Err(Error::Internal("stopped halfway".into()))
        })
        .unwrap_err();
        assert!(e.to_string().contains("stopped halfway"));
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
    }
}
