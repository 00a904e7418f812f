//! The one place where Rust errors become Python exceptions. lgb-core's error class
//! (`config`, `connect`, `timeout`, …) picks the exception; the classes themselves are
//! defined in Python (`lgb/_errors.py`) so that they can also derive from the matching
//! built-in exceptions (`ConfigError` is a `ValueError`, `TimeoutError` a
//! `builtins.TimeoutError`, …), which `create_exception!` cannot express.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The Python exception for `err`: `lgb._errors._from_rust(class, message, problems)`,
/// carrying the Rust message and, for configuration errors, every problem with its
/// JSON path.
pub fn to_py(py: Python<'_>, err: &lgb_core::Error) -> PyErr {
    let problems: Vec<(String, String)> = err
        .config_problems()
        .iter()
        .map(|p| (p.path.clone(), p.message.clone()))
        .collect();
    let exception = py
        .import("lgb._errors")
        .and_then(|m| m.getattr("_from_rust"))
        .and_then(|f| f.call1((err.class().as_str(), err.to_string(), problems)));
    match exception {
        Ok(value) => PyErr::from_value(value),
        // Only when the Python half of the package is missing or broken.
        Err(e) => e,
    }
}

/// A failure of lgb itself, not of a database (an Arrow encoding failure, a panicked
/// worker task): lgb-core's `internal` class, `lgb.InternalError` in Python.
pub fn internal(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, &lgb_core::Error::Internal(message.into()))
}

/// Raised when the runtime cannot even be started.
pub fn runtime(message: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(format!("lgb: {message}"))
}
