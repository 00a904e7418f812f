//! `lgb._lgb`: the native half of the Python package `lgb`.
//!
//! This crate only converts. Configs go from Python text or paths to
//! [`BenchmarkConfig`]; runs go through lgb-core's runner ([`running`]); results come
//! back as Arrow tables ([`frames`]) handed over through the Arrow PyCapsule interface
//! ([`ArrowTable`]), which the Python half (`python/lgb/`) turns into polars frames
//! without copying, and errors become the exceptions of `lgb/_errors.py` ([`errors`]).
//! The public Python API, its documentation and stubs live in `python/lgb/`.
//!
//! It is built by maturin (`pyproject.toml`), which enables `pyo3/extension-module`;
//! plain `cargo build`/`cargo test` link against libpython instead.

pub mod errors;
pub mod frames;
pub mod running;

use lgb_core::prelude::{
    BenchmarkConfig, ConfigSource, DatabaseRegistry, DeployedTargets, OperationRegistry,
    PriceTable, RunResult, Session, SweepPlan,
};
use std::path::{Path, PathBuf};

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::ArrowError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// The session of a config given as JSON text or as a path, with what the deployment
/// outputs at `targets` (a path) fill in.
fn load_session(
    config: &str,
    is_path: bool,
    overrides: &[String],
    targets: Option<&str>,
) -> lgb_core::Result<Session> {
    let targets = targets
        .map(|t| DeployedTargets::load(Path::new(t)))
        .transpose()?;
    let source = if is_path {
        ConfigSource::Path(Path::new(config))
    } else {
        ConfigSource::Text(config)
    };
    Session::load(source, overrides, targets.as_ref())
}

/// The default price table, or it with the fields of `prices` (JSON text, or a path
/// to a JSON file) overriding it, as `lgb report --prices` reads them.
fn price_table(prices: Option<&str>, is_path: bool) -> lgb_core::Result<PriceTable> {
    match prices {
        None => Ok(PriceTable::default()),
        Some(p) if is_path => PriceTable::load(Path::new(p)),
        Some(text) => PriceTable::with_overrides(text),
    }
}

/// One table of a run, for Python: an Arrow record batch exported through the Arrow
/// PyCapsule interface (`__arrow_c_stream__`), so that polars (`polars.DataFrame(t)`)
/// or any other Arrow consumer takes the Rust buffers as they are. An IPC buffer was
/// the first design: encoding, copying into `bytes` and decoding a million-row table
/// cost more than building it.
#[pyclass(frozen, module = "lgb._lgb", name = "ArrowTable")]
pub struct ArrowTable {
    batch: RecordBatch,
}

#[pymethods]
impl ArrowTable {
    /// Number of rows.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// A capsule named `arrow_array_stream` holding an `ArrowArrayStream` of the one
    /// record batch (the buffers are shared, not copied; each call makes a new stream).
    /// `requested_schema` is not applied, as the interface allows: the types are the
    /// ones `lgb.Run` documents.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let batches = RecordBatchIterator::new([Ok(self.batch.clone())], self.batch.schema());
        // The consumer moves the stream out of the capsule and releases it; if it never
        // does, dropping the capsule's value releases it.
        let stream = FFI_ArrowArrayStream::new(Box::new(batches));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }
}

/// A loaded or finished run. Python's `lgb.Run` wraps it; each table method returns
/// an [`ArrowTable`].
#[pyclass(frozen, module = "lgb._lgb", name = "RunData")]
pub struct RunData {
    run: RunResult,
    path: Option<PathBuf>,
}

impl RunData {
    fn table(
        &self,
        py: Python<'_>,
        table: impl FnOnce(&RunResult) -> Result<RecordBatch, ArrowError> + Send,
    ) -> PyResult<ArrowTable> {
        match py.detach(|| table(&self.run)) {
            Ok(batch) => Ok(ArrowTable { batch }),
            Err(e) => Err(errors::internal(
                py,
                format!("building an Arrow table: {e}"),
            )),
        }
    }
}

#[pymethods]
impl RunData {
    /// Every field of the run but its tests (`run_id`, `name`, `status`, `config`, …),
    /// as JSON text: the Python `Run` reads its properties from it, so a new field of
    /// `RunResult` needs no code here.
    fn run_json(&self) -> PyResult<String> {
        let encoded = serde_json::to_value(&self.run).and_then(|mut v| {
            if let Some(fields) = v.as_object_mut() {
                fields.remove("tests");
            }
            serde_json::to_string(&v)
        });
        encoded.map_err(|e| {
            Python::attach(|py| errors::internal(py, format!("encoding the run: {e}")))
        })
    }

    /// The results directory, if the run was written or loaded from disk.
    #[getter]
    fn path(&self) -> Option<String> {
        self.path.as_ref().map(|p| p.display().to_string())
    }

    /// `(test, phase, [operations])` for each test in the order they ran.
    fn tests(&self) -> Vec<(String, String, Vec<String>)> {
        self.run
            .tests
            .iter()
            .map(|t| {
                let ops = t.metrics.operations.keys().cloned().collect();
                (t.name.clone(), frames::phase_name(t.phase).to_string(), ops)
            })
            .collect()
    }

    fn summary(&self, py: Python<'_>) -> PyResult<ArrowTable> {
        self.table(py, frames::summary)
    }

    fn timeline(&self, py: Python<'_>) -> PyResult<ArrowTable> {
        self.table(py, frames::timeline)
    }

    #[pyo3(signature = (test=None, operation=None))]
    fn latencies(
        &self,
        py: Python<'_>,
        test: Option<&str>,
        operation: Option<&str>,
    ) -> PyResult<ArrowTable> {
        let sel = frames::Selection { test, operation };
        self.table(py, |run| frames::latencies(run, sel))
    }

    #[pyo3(signature = (test=None, operation=None, ticks=5))]
    fn percentiles(
        &self,
        py: Python<'_>,
        test: Option<&str>,
        operation: Option<&str>,
        ticks: u32,
    ) -> PyResult<ArrowTable> {
        let sel = frames::Selection { test, operation };
        self.table(py, |run| frames::percentiles(run, sel, ticks))
    }

    fn errors(&self, py: Python<'_>) -> PyResult<ArrowTable> {
        self.table(py, frames::errors)
    }

    fn workers(&self, py: Python<'_>) -> PyResult<ArrowTable> {
        self.table(py, frames::workers)
    }

    #[pyo3(signature = (prices=None, prices_is_path=false))]
    fn cost(
        &self,
        py: Python<'_>,
        prices: Option<&str>,
        prices_is_path: bool,
    ) -> PyResult<ArrowTable> {
        let prices = price_table(prices, prices_is_path).map_err(|e| errors::to_py(py, &e))?;
        self.table(py, |run| frames::cost(run, &prices))
    }

    #[pyo3(signature = (prices=None, prices_is_path=false))]
    fn cost_notes(
        &self,
        py: Python<'_>,
        prices: Option<&str>,
        prices_is_path: bool,
    ) -> PyResult<Vec<String>> {
        let prices = price_table(prices, prices_is_path).map_err(|e| errors::to_py(py, &e))?;
        Ok(frames::cost_notes(&self.run, &prices))
    }
}

/// The preflight's cost guard: `yes` confirms any estimate; otherwise one above
/// `confirm_above_usd` (default lgb's $1) is refused before anything is paid.
fn preflight_options(
    yes: bool,
    confirm_above_usd: Option<f64>,
) -> lgb_core::Result<lgb_core::preflight::PreflightOptions> {
    let mut options = lgb_core::preflight::PreflightOptions {
        yes,
        ..Default::default()
    };
    if let Some(usd) = confirm_above_usd {
        if !(usd.is_finite() && usd >= 0.0) {
            return Err(lgb_core::Error::config(
                "confirm_above_usd",
                "must be an amount of at least 0",
            ));
        }
        options.confirm_above_usd = usd;
    }
    Ok(options)
}

/// Runs a benchmark; returns the run and its results directory.
#[pyfunction]
#[pyo3(signature = (config, is_path, overrides, out, progress=None, targets=None, yes=false, confirm_above_usd=None))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    config: &str,
    is_path: bool,
    overrides: Vec<String>,
    out: PathBuf,
    progress: Option<Py<PyAny>>,
    targets: Option<&str>,
    yes: bool,
    confirm_above_usd: Option<f64>,
) -> PyResult<(RunData, String)> {
    let session =
        load_session(config, is_path, &overrides, targets).map_err(|e| errors::to_py(py, &e))?;
    let guard = preflight_options(yes, confirm_above_usd).map_err(|e| errors::to_py(py, &e))?;
    let (run, dir) = running::run(py, session, &out, progress, None, guard)?;
    let shown = dir.display().to_string();
    Ok((
        RunData {
            run,
            path: Some(dir),
        },
        shown,
    ))
}

/// Runs a memory-size sweep; returns the run, its results directory and the sweep
/// report as JSON text.
#[pyfunction]
#[pyo3(signature = (config, is_path, overrides, out, memory, p99_max_ns=None, progress=None, targets=None, yes=false, confirm_above_usd=None))]
#[allow(clippy::too_many_arguments)]
fn sweep(
    py: Python<'_>,
    config: &str,
    is_path: bool,
    overrides: Vec<String>,
    out: PathBuf,
    memory: Vec<u32>,
    p99_max_ns: Option<u64>,
    progress: Option<Py<PyAny>>,
    targets: Option<&str>,
    yes: bool,
    confirm_above_usd: Option<f64>,
) -> PyResult<(RunData, String, String)> {
    let guard = preflight_options(yes, confirm_above_usd).map_err(|e| errors::to_py(py, &e))?;
    let session =
        load_session(config, is_path, &overrides, targets).map_err(|e| errors::to_py(py, &e))?;
    let plan = SweepPlan::new(memory, p99_max_ns.map(std::time::Duration::from_nanos))
        .map_err(|e| errors::to_py(py, &e))?;
    let (run, dir) = running::run(py, session, &out, progress, Some(plan), guard)?;
    let report = lgb_core::sweep::load_report(&dir).map_err(|e| errors::to_py(py, &e))?;
    let report = serde_json::to_string(&report)
        .map_err(|e| errors::internal(py, format!("encoding the sweep report: {e}")))?;
    let shown = dir.display().to_string();
    Ok((
        RunData {
            run,
            path: Some(dir),
        },
        shown,
        report,
    ))
}

/// Loads a results directory (or its `result.json`).
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<RunData> {
    let run = py
        .detach(|| lgb_core::results::load_run(&path))
        .map_err(|e| errors::to_py(py, &e))?;
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or(path)
    };
    Ok(RunData {
        run,
        path: Some(dir),
    })
}

/// Validates a config; returns it as run (defaults filled in) as JSON text.
#[pyfunction]
fn validate(
    py: Python<'_>,
    config: &str,
    is_path: bool,
    overrides: Vec<String>,
) -> PyResult<String> {
    let session =
        load_session(config, is_path, &overrides, None).map_err(|e| errors::to_py(py, &e))?;
    serde_json::to_string(session.config())
        .map_err(|e| errors::internal(py, format!("encoding the config: {e}")))
}

/// `(name, description)` of each database adapter compiled in.
#[pyfunction]
fn list_databases() -> Vec<(String, String)> {
    DatabaseRegistry::with_builtins().describe()
}

/// `(name, description)` of each operation.
#[pyfunction]
fn list_operations() -> Vec<(String, String)> {
    OperationRegistry::default().describe()
}

/// The JSON Schema of benchmark configs, as JSON text.
#[pyfunction]
fn schema() -> String {
    BenchmarkConfig::json_schema().to_string()
}

/// The names of lgb-core's error classes (`ErrorClass::ALL`): the Python package
/// checks that it has one exception class for each.
#[pyfunction]
fn error_classes() -> Vec<&'static str> {
    lgb_core::ErrorClass::ALL
        .iter()
        .map(|c| c.as_str())
        .collect()
}

/// The extension module `lgb._lgb`.
#[pymodule]
fn _lgb(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<RunData>()?;
    m.add_class::<ArrowTable>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(list_databases, m)?)?;
    m.add_function(wrap_pyfunction!(list_operations, m)?)?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_function(wrap_pyfunction!(error_classes, m)?)?;
    Ok(())
}
