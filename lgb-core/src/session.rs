//! The one way in for a run: a [`Session`] loads and validates a config once (file or
//! text, `--set` overrides, a deployment's outputs), [`Session::connect`] builds the
//! invoker, the function control and the [`Runner`] from `config.runner` (retries
//! included), and the connected session runs, sweeps and writes. `lgb validate`,
//! `lgb run`, `lgb sweep` and Python's `validate`, `run` and `sweep` are each a few
//! lines over it.
//!
//! ```
//! use lgb_core::session::{ConfigSource, Session};
//! use lgb_core::prelude::{CancellationToken, Silent};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let text = r#"{"database": {"type": "memory"}, "workload": {"records": 100},
//!                "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": 500}]}"#;
//! let session = Session::load(ConfigSource::Text(text), &[], None).unwrap();
//! let connected = session.connect(None).await.unwrap();
//! let run = connected.run(CancellationToken::new(), &Silent).await.unwrap();
//! assert_eq!(run.tests.last().unwrap().metrics.ok(), 500);
//! let out = tempfile::tempdir().unwrap();
//! let dir = lgb_core::session::write(&run, None, out.path()).unwrap();
//! assert!(dir.join("result.json").exists());
//! # });
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::BenchmarkConfig;
use crate::error::{Error, Result};
use crate::executor::Progress;
use crate::results::RunResult;
use crate::runner::{self, FunctionControl, RunObserver, Runner};
use crate::sweep::{SweepPlan, SweepReport};
use crate::targets::{DeployedTargets, FilledSetting};

/// Where a config comes from.
#[derive(Debug, Clone, Copy)]
pub enum ConfigSource<'a> {
    /// A file (JSON, comments allowed).
    Path(&'a Path),
    /// The config's text.
    Text(&'a str),
}

/// A validated config, ready to connect: what `lgb validate` checks and `lgb run`
/// runs.
#[derive(Debug, Clone)]
pub struct Session {
    config: BenchmarkConfig,
    filled: Vec<FilledSetting>,
}

impl Session {
    /// Reads `source`, applies `overrides` (`path=value`, as `--set` takes them) and
    /// what `targets` (a deployment's outputs) fills in, and validates the result
    /// against the built-in adapters and operations: every problem with its JSON path,
    /// before anything connects.
    pub fn load(
        source: ConfigSource<'_>,
        overrides: &[String],
        targets: Option<&DeployedTargets>,
    ) -> Result<Self> {
        let (config, filled) = match source {
            ConfigSource::Path(path) => crate::targets::load_config(path, overrides, targets)?,
            ConfigSource::Text(text) => {
                crate::targets::config_with_targets(text, overrides, targets)?
            }
        };
        Ok(Self { config, filled })
    }

    /// The validated config.
    pub fn config(&self) -> &BenchmarkConfig {
        &self.config
    }

    /// The values the deployment's outputs put into the config (empty without them).
    pub fn filled(&self) -> &[FilledSetting] {
        &self.filled
    }

    /// Builds what runs the config: the invoker of `runner.target` (local workers
    /// report live counts into `progress`), the control of `runner.function` when one
    /// is named (forced cold starts, sweeps), and a [`Runner`] with `runner.retries`.
    pub async fn connect(self, progress: Option<Arc<Progress>>) -> Result<Connected> {
        let invoker = runner::build_invoker(&self.config, progress).await?;
        let control = runner::build_function_control(&self.config, false).await?;
        let mut runner = Runner::new(invoker, self.config.runner.retries);
        if let Some(c) = &control {
            runner = runner.with_control(c.clone());
        }
        Ok(Connected {
            config: self.config,
            runner,
            control,
        })
    }
}

/// A session with its runner: runs the config or sweeps it over memory sizes.
pub struct Connected {
    config: BenchmarkConfig,
    runner: Runner,
    control: Option<Arc<dyn FunctionControl>>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("config", &self.config.name)
            .field("runner", &self.runner)
            .field("control", &self.control.is_some())
            .finish()
    }
}

impl Connected {
    /// The config this session runs.
    pub fn config(&self) -> &BenchmarkConfig {
        &self.config
    }

    /// Runs every test; `cancel` stops the run (what was measured is returned, marked
    /// cancelled) and `observer` hears each test start and end.
    pub async fn run(
        &self,
        cancel: CancellationToken,
        observer: &dyn RunObserver,
    ) -> Result<RunResult> {
        self.runner.run(&self.config, cancel, observer).await
    }

    /// Runs the config once per memory size of `plan` on the function of
    /// `runner.function`, restoring its configuration afterwards
    /// ([`crate::sweep::sweep`]).
    pub async fn sweep(
        &self,
        plan: &SweepPlan,
        cancel: CancellationToken,
        observer: &dyn RunObserver,
    ) -> Result<(RunResult, SweepReport)> {
        let control = match &self.control {
            Some(c) => c.clone(),
            // Says why there is none (a local target, no function named).
            None => runner::build_function_control(&self.config, true)
                .await?
                .ok_or_else(|| {
                    Error::config("runner.function", "a sweep needs a function to change")
                })?,
        };
        crate::sweep::sweep(
            &self.runner,
            control.as_ref(),
            &self.config,
            plan,
            cancel,
            observer,
        )
        .await
    }
}

/// Writes `run` (and the sweep's report, if any) to `out/<run-id>/` and returns that
/// directory: `result.json`, `summary.csv`, the histograms and `sweep.json`.
pub fn write(run: &RunResult, sweep: Option<&SweepReport>, out: &Path) -> Result<PathBuf> {
    let dir = crate::results::write_run(run, out)?;
    if let Some(report) = sweep {
        crate::sweep::write_report(report, &dir)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Silent;

    const CONFIG: &str = r#"{"database": {"type": "memory"}, "workload": {"records": 50},
        "runner": {"workers": 2, "retries": 4},
        "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": 100}]}"#;

    #[tokio::test]
    async fn load_connect_run_and_write() {
        let session = Session::load(
            ConfigSource::Text(CONFIG),
            &["runner.workers=3".into()],
            None,
        )
        .unwrap();
        assert_eq!(session.config().runner.workers, 3, "overrides apply");
        assert!(session.filled().is_empty());
        let connected = session.connect(None).await.unwrap();
        assert_eq!(
            connected.runner.retries(),
            4,
            "retries come from the config"
        );
        let run = connected
            .run(CancellationToken::new(), &Silent)
            .await
            .unwrap();
        let test = run.tests.last().unwrap();
        assert_eq!((test.workers.len(), test.metrics.ok()), (3, 100));
        let out = tempfile::tempdir().unwrap();
        let dir = write(&run, None, out.path()).unwrap();
        assert_eq!(crate::results::load_run(&dir).unwrap().run_id, run.run_id);
    }

    #[tokio::test]
    async fn a_sweep_needs_a_function() {
        let connected = Session::load(ConfigSource::Text(CONFIG), &[], None)
            .unwrap()
            .connect(None)
            .await
            .unwrap();
        let plan = SweepPlan::new(vec![128, 256], None).unwrap();
        let e = connected
            .sweep(&plan, CancellationToken::new(), &Silent)
            .await
            .unwrap_err();
        assert_eq!(e.config_problems()[0].path, "runner.target", "{e}");
    }

    #[test]
    fn bad_configs_are_refused_with_paths() {
        let e = Session::load(
            ConfigSource::Text(r#"{"database": {"type": "memory"}, "tests": []}"#),
            &[],
            None,
        )
        .unwrap_err();
        assert!(e.config_problems().iter().any(|p| p.path == "tests"), "{e}");
        let e = Session::load(
            ConfigSource::Path(Path::new("/nonexistent/lgb.json")),
            &[],
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/lgb.json"), "{e}");
    }
}
