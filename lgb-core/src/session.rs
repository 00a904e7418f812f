//! The one way in for a run: a [`Session`] loads and validates a config once (file or
//! text, `--set` overrides, a deployment's outputs), [`Session::connect`] builds the
//! invoker, the function control and the [`Runner`] from `config.runner` (retries
//! included), and the connected session runs, sweeps and writes. `lgb validate`,
//! `lgb run`, `lgb sweep` and Python's `validate`, `run` and `sweep` are each a few
//! lines over it.
//!
//! ```
//! use lgb_core::session::{ConfigSource, Session};
//! use lgb_core::session::Stop;
//! use lgb_core::prelude::Silent;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let text = r#"{"database": {"type": "memory"}, "workload": {"records": 100},
//!                "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": 500}]}"#;
//! let session = Session::load(ConfigSource::Text(text), &[], None).unwrap();
//! let connected = session.connect(None).await.unwrap();
//! let out = tempfile::tempdir().unwrap();
//! let recorded = connected.run(out.path(), &Stop::new(), &Silent).await.unwrap();
//! assert!(recorded.error.is_none());
//! assert_eq!(recorded.run.tests.last().unwrap().metrics.ok(), 500);
//! assert!(recorded.dir.join("result.json").exists());
//! # });
//! ```
//!
//! Nothing measured is lost: [`Connected::run`] and [`Connected::sweep`] create the
//! results directory before the first test (never over an existing one) and write it
//! after each test and each sweep size ([`RunDir`]). A run that stops early, by a
//! [`Stop`] (Ctrl-C, SIGTERM, SIGHUP) or an error, leaves a directory marked
//! incomplete with the reason and the tests that did not run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::catalog::Registries;
use crate::config::{BenchmarkConfig, Target};
use crate::error::{Error, Result};
use crate::executor::Progress;
use crate::preflight::{Preflight, PreflightOptions, SweepShape};
use crate::results::{Incomplete, RunDir, RunResult, RunStatus};
use crate::runner::deployed::DeployedFunction;
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
    registries: Registries,
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
        Self::load_with(source, overrides, targets, Registries::builtin())
    }

    /// [`Session::load`] with adapters and operations of your own (registered in
    /// `registries`): the config is validated against them, and local workers run
    /// with them.
    pub fn load_with(
        source: ConfigSource<'_>,
        overrides: &[String],
        targets: Option<&DeployedTargets>,
        registries: Registries,
    ) -> Result<Self> {
        let owned;
        let text = match source {
            ConfigSource::Path(path) => {
                owned = std::fs::read_to_string(path)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                owned.as_str()
            }
            ConfigSource::Text(text) => text,
        };
        let mut document = BenchmarkConfig::document(text, overrides)?;
        let filled = match targets {
            Some(t) => {
                // Deployment outputs name Lambda workers: a config that does not say
                // where workers run (infra/README.md's example) runs them there.
                let (target, chosen) = match document.pointer("/runner/target") {
                    None => {
                        if let Some(root) = document.as_object_mut() {
                            let runner = root
                                .entry("runner")
                                .or_insert_with(|| serde_json::json!({}));
                            if let Some(r) = runner.as_object_mut() {
                                r.insert("target".into(), "lambda".into());
                            }
                        }
                        (Target::Lambda, true)
                    }
                    Some(v) => (
                        serde_json::from_value(v.clone())
                            .map_err(|e| Error::config("runner.target", format!("{e}")))?,
                        false,
                    ),
                };
                let mut filled = t.apply(&mut document, target)?;
                if chosen {
                    filled.insert(
                        0,
                        FilledSetting {
                            path: "runner.target".into(),
                            value: "lambda".into(),
                        },
                    );
                }
                filled
            }
            None => Vec::new(),
        };
        let config = crate::config::validate_value(&document, &registries)?;
        Ok(Self {
            config,
            filled,
            registries,
        })
    }

    /// The validated config, taken out of the session: for code that runs it its own
    /// way (a custom [`crate::runner::Invoker`], tests, benches).
    pub fn into_config(self) -> BenchmarkConfig {
        self.config
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
        let invoker = runner::build_invoker_with(&self.config, &self.registries, progress).await?;
        let control = runner::build_function_control(&self.config, false).await?;
        let deployed = runner::deployed::connect(&self.config).await?;
        let mut runner = Runner::new(invoker, self.config.runner.retries);
        if let Some(c) = &control {
            runner = runner.with_control(c.clone());
        }
        Ok(Connected {
            config: self.config,
            runner,
            control,
            deployed,
            preflight: PreflightOptions::default(),
        })
    }
}

/// A session with its runner: runs the config or sweeps it over memory sizes.
pub struct Connected {
    config: BenchmarkConfig,
    runner: Runner,
    control: Option<Arc<dyn FunctionControl>>,
    deployed: Option<Arc<dyn DeployedFunction>>,
    preflight: PreflightOptions,
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

    /// Prices, the confirmation threshold and the confirmation that
    /// [`Connected::run`] and [`Connected::sweep`] check their estimate against.
    pub fn with_preflight(mut self, options: PreflightOptions) -> Self {
        self.preflight = options;
        self
    }

    /// What a run (or, with `sweep`, a sweep) of this config will do and cost, checked
    /// against the deployed function and its account ([`crate::preflight`]): free
    /// API calls only. A run or sweep that does not fit is a config error naming the
    /// number to change; `run` and `sweep` check this first and refuse before
    /// anything is invoked.
    pub async fn preflight(&self, sweep: Option<&SweepPlan>) -> Result<Preflight> {
        let shape = sweep.map(|plan| SweepShape {
            memory_mb: plan.memory_mb.clone(),
            sequential: plan.sequential,
            through_aliases: self.through_aliases(),
            load_per_size: self.config.workload.load
                && crate::sweep::database_in_worker(&self.config),
            only_cold_starts: plan.only_cold_starts,
            versions_per_size: crate::sweep::versions_per_size(&self.config, plan),
        });
        if shape
            .as_ref()
            .is_some_and(|s| s.only_cold_starts && s.load_per_size)
        {
            return Err(Error::config(
                "--only-cold-starts",
                format!(
                    "the `{}` database lives in the worker's sandbox, and a new sandbox has none \
                     of the records loaded: measure cold starts with a database outside the \
                     worker, or set workload.load to false",
                    self.config.database.kind
                ),
            ));
        }
        let forced = self.config.runner.cold_start == crate::config::ColdStart::Force;
        if shape.as_ref().is_some_and(|s| s.through_aliases) && forced {
            return Err(Error::config(
                "runner.cold_start",
                "a sweep measures published versions, whose environment cannot change: use \
                 --only-cold-starts instead, which runs every wave on a version of its own",
            ));
        }
        crate::preflight::preflight(
            &self.config,
            self.deployed.as_deref(),
            shape.as_ref(),
            &self.preflight,
        )
        .await
    }

    /// A sweep of this session publishes versions and measures through aliases (the
    /// Invoke API) rather than changing `$LATEST` in place (a Function URL).
    fn through_aliases(&self) -> bool {
        self.config.runner.target == crate::config::Target::Lambda && self.deployed.is_some()
    }

    /// The preflight and the cost guard, before anything is paid.
    async fn checked(&self, sweep: Option<&SweepPlan>) -> Result<Preflight> {
        let plan = self.preflight(sweep).await?;
        plan.guard(&self.preflight)?;
        Ok(plan)
    }

    /// Takes the cold-start nonce out of the function's environment after a run that
    /// forced cold starts (also after a stop or an error): `error` is the run's, and a
    /// failed clean-up is added to it.
    async fn remove_nonce(&self, error: Option<Error>) -> Option<Error> {
        let (Some(control), crate::config::ColdStart::Force) =
            (&self.control, self.config.runner.cold_start)
        else {
            return error;
        };
        match (
            runner::deployed::remove_cold_start_nonce(control.as_ref()).await,
            error,
        ) {
            (Ok(_), e) => e,
            (Err(c), None) => Some(Error::Backend(format!(
                "the run ended, but removing {} from the function's environment failed: {c}",
                runner::COLD_START_NONCE_VAR
            ))),
            (Err(c), Some(e)) => Some(Error::Backend(format!(
                "{e}; and removing {} from the function's environment failed: {c}",
                runner::COLD_START_NONCE_VAR
            ))),
        }
    }

    /// Runs every test into a new results directory under `out` (`out/<run-id>/`,
    /// created before the first test; an existing one is refused), written after each
    /// test. `stop` stops the run: what was measured is kept, marked cancelled with
    /// the stop's reason; `observer` hears each test start and end. An error once the
    /// directory exists does not lose it: the returned [`Recorded`] carries the error,
    /// and the directory every test that ended before it.
    pub async fn run(
        &self,
        out: &Path,
        stop: &Stop,
        observer: &dyn RunObserver,
    ) -> Result<Recorded> {
        self.checked(None).await?;
        let planned: Vec<String> = Runner::plan(&self.config)
            .into_iter()
            .map(|(t, _)| t.name)
            .collect();
        let run = RunResult::begin(&self.config, runner::new_run_id(&self.config.name));
        let mut recording = Recording::start(out, run, planned)?;
        let (dir, planned) = (&recording.dir, &recording.planned);
        let outcome = self
            .runner
            .run_into(
                &self.config,
                &mut recording.run,
                stop.token(),
                observer,
                &mut |run| save_running(dir, run, planned),
            )
            .await;
        let error = self.remove_nonce(outcome.err()).await;
        recording.finish(stop, error, None)
    }

    /// Runs the config once per memory size of `plan` on the function of
    /// `runner.function` into a new results directory under `out`, as
    /// [`Connected::run`] does, writing it after each test and each size (with
    /// `sweep.json` of the sizes so far), and restores the function's configuration
    /// afterwards ([`crate::sweep::sweep`]), also after an error or a stop.
    pub async fn sweep(
        &self,
        plan: &SweepPlan,
        out: &Path,
        stop: &Stop,
        observer: &dyn RunObserver,
    ) -> Result<Recorded> {
        let control = match &self.control {
            Some(c) => c.clone(),
            // Says why there is none (a local target, no function named).
            None => runner::build_function_control(&self.config, true)
                .await?
                .ok_or_else(|| {
                    Error::config("runner.function", "a sweep needs a function to change")
                })?,
        };
        plan.check()?;
        let checked = self.checked(Some(plan)).await?;
        let load_per_size =
            self.config.workload.load && crate::sweep::database_in_worker(&self.config);
        let planned = crate::sweep::planned_tests(&self.config, plan, load_per_size);
        let run = RunResult::begin(&self.config, crate::sweep::new_sweep_id(&self.config.name));
        let mut recording = Recording::start(out, run, planned)?;
        let (dir, planned) = (&recording.dir, &recording.planned);
        let setup = crate::sweep::SweepSetup {
            runner: &self.runner,
            config: &self.config,
            plan,
            prices: checked.prices.for_architecture(&checked.architecture),
            architecture: checked.architecture.clone(),
            sizes_at_once: checked.sizes_at_once.max(1) as usize,
        };
        let target = match (&self.deployed, self.through_aliases()) {
            (Some(d), true) => crate::sweep::SweepTarget::Aliases(d.as_ref()),
            _ => crate::sweep::SweepTarget::InPlace(control.as_ref()),
        };
        let outcome = crate::sweep::sweep(
            &setup,
            target,
            &mut recording.run,
            stop.token(),
            observer,
            &mut |run, report| {
                save_running(dir, run, planned)?;
                match report {
                    Some(r) => write_sweep(dir, r),
                    None => Ok(()),
                }
            },
        )
        .await;
        match outcome {
            Ok(report) => recording.finish(stop, None, Some(report)),
            Err(e) => recording.finish(stop, Some(e), None),
        }
    }
}

/// Stops a run and says why; the reason goes into `result.json` (`incomplete`).
/// Clones share one stop.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    reason: Arc<std::sync::OnceLock<String>>,
}

impl Stop {
    /// A stop not given yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the run (`reason`: "stopped by SIGTERM", …); the first reason given is
    /// the one kept.
    pub fn stop(&self, reason: impl Into<String>) {
        let _ = self.reason.set(reason.into());
        self.token.cancel();
    }

    /// Whether the run was told to stop.
    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Why the run was told to stop, if it was.
    pub fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// The token the runner watches.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }
}

/// A run as it was recorded: the run, its results directory and, for a sweep, its
/// report. `error` is what stopped the run before its end, if anything did: the
/// directory keeps every test that ended before it, and `run.incomplete` (also in
/// `result.json`) says why and which tests did not run.
#[derive(Debug)]
pub struct Recorded {
    /// The run as written.
    pub run: RunResult,
    /// Its results directory, `<out>/<run-id>`.
    pub dir: PathBuf,
    /// The sweep's report, when the sweep reached its end (the sizes measured before
    /// an error are in `sweep.json` too).
    pub sweep: Option<SweepReport>,
    /// The error that ended the run early.
    pub error: Option<Error>,
}

/// A run being written: its directory and the tests it plans.
struct Recording {
    dir: RunDir,
    run: RunResult,
    planned: Vec<String>,
}

impl Recording {
    /// Creates the run's directory (refusing an existing one) and writes the run with
    /// no test yet, marked running.
    fn start(out: &Path, mut run: RunResult, planned: Vec<String>) -> Result<Self> {
        let dir = RunDir::create(out, &run.run_id)?;
        save_running(&dir, &mut run, &planned)?;
        Ok(Self { dir, run, planned })
    }

    /// Writes how the run ended: its status, and when it did not reach its end, why
    /// and which tests did not run.
    fn finish(
        self,
        stop: &Stop,
        error: Option<Error>,
        sweep: Option<SweepReport>,
    ) -> Result<Recorded> {
        let Recording {
            dir,
            mut run,
            planned,
        } = self;
        let not_run = not_run(&planned, &run);
        let reason = match (&error, run.status) {
            (Some(e), _) => {
                run.status = RunStatus::Failed;
                Some(e.to_string())
            }
            (None, RunStatus::Cancelled) => {
                Some(stop.reason().unwrap_or("stopped by the caller").to_string())
            }
            (None, RunStatus::Failed) => Some(match run.tests.last() {
                Some(t) => format!(
                    "no worker of test `{}` ran, so the run stopped there",
                    t.name
                ),
                None => "no test ran".to_string(),
            }),
            (None, RunStatus::Running) => {
                run.status = RunStatus::Failed;
                Some("the run ended without saying how".to_string())
            }
            (None, RunStatus::Completed) => None,
        };
        run.incomplete = reason.map(|reason| Incomplete { reason, not_run });
        let saved = dir.save(&run).and_then(|()| match &sweep {
            Some(r) => write_sweep(&dir, r),
            None => Ok(()),
        });
        let error = match (error, saved) {
            (e, Ok(())) => e,
            (None, Err(s)) => Some(s),
            (Some(e), Err(s)) => Some(Error::Backend(format!(
                "{e}; and writing the results directory failed: {s}"
            ))),
        };
        let path = dir.path().to_path_buf();
        let sweep = sweep.or_else(|| crate::sweep::load_report(&path).ok());
        Ok(Recorded {
            run,
            dir: path,
            sweep,
            error,
        })
    }
}

/// The planned tests `run` does not have (yet).
fn not_run(planned: &[String], run: &RunResult) -> Vec<String> {
    // By name: a sweep's sizes run side by side and end in any order.
    planned
        .iter()
        .filter(|n| !run.tests.iter().any(|t| &t.name == *n))
        .cloned()
        .collect()
}

/// Writes `run` while it is going: marked running, with the tests still to run, so
/// that a directory left by a process that died says so.
fn save_running(dir: &RunDir, run: &mut RunResult, planned: &[String]) -> Result<()> {
    let status = run.status;
    if status == RunStatus::Completed {
        // A sweep's size ended; the next one has not started yet.
        run.status = RunStatus::Running;
    }
    if run.status == RunStatus::Running {
        run.incomplete = Some(Incomplete {
            reason: "running: the run had not ended when this was written".into(),
            not_run: not_run(planned, run),
        });
    }
    let saved = dir.save(run);
    run.status = status;
    run.incomplete = None;
    saved
}

fn write_sweep(dir: &RunDir, report: &SweepReport) -> Result<()> {
    let text = serde_json::to_vec_pretty(report)
        .map_err(|e| Error::Internal(format!("encoding the sweep report: {e}")))?;
    dir.write_file(crate::sweep::SWEEP_FILE, &text)
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
        let out = tempfile::tempdir().unwrap();
        let recorded = connected
            .run(out.path(), &Stop::new(), &Silent)
            .await
            .unwrap();
        assert!(recorded.error.is_none());
        let run = &recorded.run;
        let test = run.tests.last().unwrap();
        assert_eq!((test.workers.len(), test.metrics.ok()), (3, 100));
        let loaded = crate::results::load_run(&recorded.dir).unwrap();
        assert_eq!(&loaded, run);
        assert_eq!(
            (loaded.status, loaded.incomplete),
            (RunStatus::Completed, None)
        );
    }

    #[tokio::test]
    async fn a_sweep_needs_a_function() {
        let connected = Session::load(ConfigSource::Text(CONFIG), &[], None)
            .unwrap()
            .connect(None)
            .await
            .unwrap();
        let plan = SweepPlan::new(vec![128, 256], None).unwrap();
        let out = tempfile::tempdir().unwrap();
        let e = connected
            .sweep(&plan, out.path(), &Stop::new(), &Silent)
            .await
            .unwrap_err();
        assert_eq!(e.config_problems()[0].path, "runner.target", "{e}");
        assert_eq!(
            std::fs::read_dir(out.path()).unwrap().count(),
            0,
            "nothing written"
        );
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
