//! Faults on purpose, for tests only: the tests of "nothing measured is lost" make a
//! run fail at a chosen point and read its results directory back.
//!
//! [`FAULT_ENV`] (`LGB_TEST_FAULT`) holds comma-separated points; the code of the
//! runner's process fails there with an error naming the point:
//!
//! | point | where |
//! |---|---|
//! | `test:<name>` | before test `<name>` starts (`load` is the load phase) |
//! | `cold-start:<name>` | the forced cold start before test `<name>` |
//! | `sweep-size:<mb>` | changing the function to `<mb>` MB in a sweep |
//! | `restore` | putting the function back after a sweep |
//!
//! It is read only where the runner's process works (runner, sweep); a deployed
//! worker never reads it, and nothing in a config or a worker request reaches it. It
//! is documented as test-only in docs/measurement.md; a user has no reason to set it.

use crate::error::{Error, Result};

/// The environment variable naming the points that fail (tests only).
pub const FAULT_ENV: &str = "LGB_TEST_FAULT";

/// Fails when [`FAULT_ENV`] names `point`.
pub(crate) fn check(point: &str) -> Result<()> {
    check_in(std::env::var(FAULT_ENV).ok().as_deref(), point)
}

fn check_in(points: Option<&str>, point: &str) -> Result<()> {
    match points {
        Some(points) if points.split(',').any(|p| p.trim() == point) => Err(Error::Backend(
            format!("injected fault at `{point}` ({FAULT_ENV}, for tests only)"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_named_points_fail() {
        let points = Some("test:one, restore");
        assert!(check_in(points, "test:one")
            .unwrap_err()
            .to_string()
            .contains("injected fault at `test:one`"));
        assert!(check_in(points, "restore").is_err());
        assert!(check_in(points, "test:on").is_ok());
        assert!(check_in(None, "restore").is_ok());
    }
}
