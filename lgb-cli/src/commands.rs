//! The subcommands: each parses nothing itself, calls lgb-core and prints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use lgb_core::config::BenchmarkConfig;
use lgb_core::database::DatabaseRegistry;
use lgb_core::executor::Progress;
use lgb_core::operation::OperationRegistry;
use lgb_core::report;
use lgb_core::runner::{self, RunStatus, Runner};
use lgb_core::workload::{Distribution, Preset};
use tokio_util::sync::CancellationToken;

use crate::progress::ProgressObserver;
use crate::{Command, Outcome};

/// Where workers run, as chosen on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TargetArg {
    /// In this process.
    Local,
    /// AWS Lambda (Invoke API).
    Lambda,
    /// A Lambda Function URL.
    Url,
}

/// Arguments of `lgb run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The benchmark config (JSON, comments allowed).
    config: PathBuf,
    /// Workers per test (overrides `runner.workers`).
    #[arg(long, short)]
    workers: Option<u32>,
    /// Where workers run (overrides `runner.target`).
    #[arg(long, short, value_enum)]
    target: Option<TargetArg>,
    /// Override a config value: `--set tests[0].concurrency=8` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Results go to OUT/<run-id>/.
    #[arg(long, short, default_value = "results")]
    out: PathBuf,
    /// No progress bar and no table; print only the results directory.
    #[arg(long, short)]
    quiet: bool,
}

pub fn dispatch(cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::Run(args) => run(args),
        Command::Validate { config, set } => validate(&config, &set),
        Command::List => list(),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&BenchmarkConfig::json_schema())?
            );
            Ok(Outcome::Success)
        }
        Command::Init { path, force } => init(&path, force),
        Command::Report(args) => crate::report_cmd::report(args),
        Command::Compare(args) => crate::report_cmd::compare(args),
        Command::Encrypt(args) => crate::report_cmd::encrypt(args),
        Command::Decrypt(args) => crate::report_cmd::decrypt(args),
        Command::Upload(args) => crate::report_cmd::upload(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut crate::Cli::command(),
                "lgb",
                &mut std::io::stdout(),
            );
            Ok(Outcome::Success)
        }
    }
}

fn load_config(path: &Path, set: &[String]) -> Result<BenchmarkConfig> {
    Ok(BenchmarkConfig::load(path, set)?)
}

fn run(args: RunArgs) -> Result<Outcome> {
    let mut set = args.set.clone();
    if let Some(w) = args.workers {
        set.push(format!("runner.workers={w}"));
    }
    if let Some(t) = args.target {
        let name = t
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        set.push(format!("runner.target={name}"));
    }
    let config = load_config(&args.config, &set)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let cancel = CancellationToken::new();
        spawn_signal_handler(cancel.clone());
        let progress = Arc::new(Progress::default());
        let invoker = runner::build_invoker(&config, Some(progress.clone())).await?;
        let runner = Runner::new(invoker, config.runner.retries);
        let observer = ProgressObserver::new(progress, args.quiet);
        let run = runner.run(&config, cancel.clone(), &observer).await;
        observer.finish();
        let run = run?;
        let dir = runner::write_run(&run, &args.out)?;
        if !args.quiet {
            println!("{}", report::render_table(&run, None));
        }
        match run.status {
            RunStatus::Completed => {
                eprintln!("results: {}", dir.display());
                Ok(Outcome::Success)
            }
            RunStatus::Cancelled => {
                eprintln!("interrupted; partial results: {}", dir.display());
                Ok(Outcome::Interrupted)
            }
            RunStatus::Failed => {
                for t in &run.tests {
                    for w in t.workers.iter().filter_map(|w| w.error.as_ref()) {
                        eprintln!("test {}: worker failed: {w}", t.name);
                    }
                }
                eprintln!("run failed; results: {}", dir.display());
                Ok(Outcome::RunFailed)
            }
        }
    })
}

/// Ctrl-C or SIGTERM cancels the run (partial results are still written); a second
/// Ctrl-C exits at once.
fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        #[cfg(unix)]
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let terminated = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminated => {}
        }
        eprintln!("\nstopping: writing what was measured (Ctrl-C again to quit at once)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
}

fn validate(path: &Path, set: &[String]) -> Result<Outcome> {
    let cfg = load_config(path, set)?;
    let workers: u32 = cfg
        .tests
        .iter()
        .map(|t| cfg.workers_for(t))
        .max()
        .unwrap_or(1);
    println!(
        "{}: ok ({} test{}, database `{}`, up to {} worker{})",
        path.display(),
        cfg.tests.len(),
        if cfg.tests.len() == 1 { "" } else { "s" },
        cfg.database.kind,
        workers,
        if workers == 1 { "" } else { "s" }
    );
    Ok(Outcome::Success)
}

fn list() -> Result<Outcome> {
    let mut out = std::io::stdout().lock();
    let dbs = DatabaseRegistry::with_builtins();
    writeln!(out, "Databases (compiled in):")?;
    for (name, desc) in dbs.describe() {
        writeln!(out, "  {name:<20} {desc}")?;
    }
    for name in ["dynamodb", "immudb", "timestream"] {
        if dbs.factory(name).is_err() {
            writeln!(
                out,
                "  {name:<20} (not compiled in; build with feature `{name}`)"
            )?;
        }
    }
    writeln!(out, "\nOperations:")?;
    for (name, desc) in OperationRegistry::default().describe() {
        writeln!(out, "  {name:<20} {desc}")?;
    }
    writeln!(out, "\nKey distributions:")?;
    for (name, desc) in Distribution::NAMES {
        writeln!(out, "  {name:<20} {desc}")?;
    }
    writeln!(out, "\nPresets:")?;
    for p in Preset::ALL {
        writeln!(out, "  {:<20} {}", p.name(), p.description())?;
    }
    Ok(Outcome::Success)
}

const INIT_TEMPLATE: &str = include_str!("../../examples/init.jsonc");

fn init(path: &Path, force: bool) -> Result<Outcome> {
    if path.exists() && !force {
        return Err(lgb_core::Error::config(
            path.display().to_string(),
            "already exists; pass --force to overwrite",
        )
        .into());
    }
    std::fs::write(path, INIT_TEMPLATE)
        .map_err(|e| lgb_core::Error::io(format!("writing {}", path.display()), e))?;
    eprintln!(
        "wrote {}; run it with: lgb run {}",
        path.display(),
        path.display()
    );
    Ok(Outcome::Success)
}
