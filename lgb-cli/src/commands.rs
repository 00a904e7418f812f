//! The subcommands: each parses nothing itself, calls lgb-core and prints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use lgb_core::catalog::Registries;
use lgb_core::config::BenchmarkConfig;
use lgb_core::executor::Progress;
use lgb_core::protocol::WorkerStatus;
use lgb_core::report;
use lgb_core::runner::{self, RunOutcome};
use lgb_core::session::{self, ConfigSource, Session};
use lgb_core::sweep::SweepPlan;
use lgb_core::targets::DeployedTargets;
use tokio_util::sync::CancellationToken;

use crate::output::write_stdout;
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
    /// Deployment outputs (`tofu output -json > outputs.json` in infra/): the worker
    /// of the config's database type and its deployed settings (table, region, …)
    /// fill in what the config and --set leave open.
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
}

/// Arguments of `lgb sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Memory sizes in MB, run in this order: `--memory 128,512,1024`.
    #[arg(long, value_delimiter = ',', required = true, value_name = "MB,MB,…")]
    memory: Vec<u32>,
    /// Recommend the cheapest size whose p99 is at most this (`20ms`).
    #[arg(long, value_name = "DURATION")]
    p99_max: Option<String>,
}

pub fn dispatch(cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::Run(args) => run(args),
        Command::Sweep(args) => sweep(args),
        Command::Validate { config, set } => validate(&config, &set),
        Command::List => list(),
        Command::Schema => {
            let mut schema = serde_json::to_string_pretty(&BenchmarkConfig::json_schema())?;
            schema.push('\n');
            write_stdout(schema.as_bytes())?;
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
            // Into a buffer first: clap_complete panics when its writer fails.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut crate::Cli::command(), "lgb", &mut script);
            write_stdout(&script)?;
            Ok(Outcome::Success)
        }
    }
}

/// The session of `lgb run`/`lgb sweep`: file, `--workers`, `--target`, `--set`, and
/// what `--targets` fills in (printed, so the user sees where each value came from).
fn prepare(args: &RunArgs) -> Result<Session> {
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
    let targets = args
        .targets
        .as_deref()
        .map(DeployedTargets::load)
        .transpose()?;
    let session = Session::load(ConfigSource::Path(&args.config), &set, targets.as_ref())?;
    if let Some(file) = &args.targets {
        let mut shown = serde_json::Value::Object(
            session
                .filled()
                .iter()
                .map(|f| (f.path.clone(), f.value.clone()))
                .collect(),
        );
        lgb_core::redact::redact_json(&mut shown);
        let mut lines = Vec::new();
        if let Some(map) = shown.as_object() {
            for (path, value) in map {
                lines.push(format!("  {path} = {value}"));
            }
        }
        if lines.is_empty() {
            eprintln!(
                "from {}: nothing (the config sets every value it deploys)",
                file.display()
            );
        } else {
            eprintln!("from {}:\n{}", file.display(), lines.join("\n"));
        }
    }
    Ok(session)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(args: RunArgs) -> Result<Outcome> {
    let session = prepare(&args)?;
    runtime()?.block_on(async move {
        let cancel = CancellationToken::new();
        let signal = spawn_signal_handler(cancel.clone());
        let progress = Arc::new(Progress::default());
        let connected = session.connect(Some(progress.clone())).await?;
        let observer = ProgressObserver::new(progress, args.quiet);
        let run = connected.run(cancel.clone(), &observer).await;
        observer.finish();
        let run = run?;
        let dir = session::write(&run, None, &args.out)?;
        if !args.quiet {
            // A reader that went away (`| head`) leaves the exit code to the run.
            match write_stdout(format!("{}\n", report::render_table(&run, None)).as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(lgb_core::Error::io("printing the results table", e).into())
                }
                _ => {}
            }
        }
        Ok(conclude(&run, &dir, &signal))
    })
}

fn sweep(args: SweepArgs) -> Result<Outcome> {
    let session = prepare(&args.run)?;
    let p99_max = args
        .p99_max
        .as_deref()
        .map(|d| {
            d.parse::<lgb_core::config::HumanDuration>()
                .map(|d| d.0)
                .map_err(|e| lgb_core::Error::config("--p99-max", e))
        })
        .transpose()?;
    let plan = SweepPlan::new(args.memory.clone(), p99_max)?;
    runtime()?.block_on(async move {
        let cancel = CancellationToken::new();
        let signal = spawn_signal_handler(cancel.clone());
        let progress = Arc::new(Progress::default());
        let connected = session.connect(Some(progress.clone())).await?;
        let observer = ProgressObserver::new(progress, args.run.quiet);
        let swept = connected.sweep(&plan, cancel.clone(), &observer).await;
        observer.finish();
        let (run, sweep_report) = swept?;
        let dir = session::write(&run, Some(&sweep_report), &args.run.out)?;
        if !args.run.quiet {
            println!("{}", report::render_table(&run, None));
        }
        println!("{}", lgb_core::sweep::render(&sweep_report));
        Ok(conclude(&run, &dir, &signal))
    })
}

/// Prints how the run ended and returns its outcome (the exit code).
fn conclude(run: &runner::RunResult, dir: &Path, signal: &AtomicU8) -> Outcome {
    let outcome = run.outcome();
    if matches!(outcome, RunOutcome::WorkersFailed | RunOutcome::Failed) {
        print_worker_failures(run);
    }
    match outcome {
        RunOutcome::Clean => {
            eprintln!("results: {}", dir.display());
            Outcome::Success
        }
        RunOutcome::Errors => {
            let counts: Vec<String> = run
                .error_counts()
                .iter()
                .map(|(class, n)| format!("{n} {class}"))
                .collect();
            eprintln!(
                "completed with errors ({}); results: {}",
                counts.join(", "),
                dir.display()
            );
            Outcome::Errors
        }
        RunOutcome::WorkersFailed => {
            eprintln!(
                "some workers did not finish; partial results: {}",
                dir.display()
            );
            Outcome::WorkersFailed
        }
        RunOutcome::Cancelled => {
            eprintln!("interrupted; partial results: {}", dir.display());
            let signal = match signal.load(Ordering::SeqCst) {
                0 => SIGINT,
                s => s,
            };
            Outcome::Interrupted { signal }
        }
        RunOutcome::Failed => {
            eprintln!("run failed; results: {}", dir.display());
            Outcome::RunFailed
        }
    }
}

/// Names each worker that did not finish, with its reason.
fn print_worker_failures(run: &runner::RunResult) {
    for t in &run.tests {
        for w in t
            .workers
            .iter()
            .filter(|w| w.status != WorkerStatus::Completed)
        {
            let status = match w.status {
                WorkerStatus::Failed => "failed",
                _ => "stopped early",
            };
            eprintln!(
                "test {}: worker {} {status} after {} attempt{}: {}",
                t.name,
                w.index,
                w.attempts,
                if w.attempts == 1 { "" } else { "s" },
                w.error.as_deref().unwrap_or("no reason given")
            );
        }
    }
}

const SIGINT: u8 = 2;
#[cfg(unix)]
const SIGTERM: u8 = 15;

/// Ctrl-C (SIGINT) or SIGTERM cancels the run (partial results are still written); a
/// second one of either exits at once. Returns the number of the first signal (0 while
/// none came), which decides the exit code.
fn spawn_signal_handler(cancel: CancellationToken) -> Arc<AtomicU8> {
    let received = Arc::new(AtomicU8::new(0));
    let first = received.clone();
    tokio::spawn(async move {
        let mut signals = StopSignals::listen();
        let signal = signals.next().await;
        first.store(signal, Ordering::SeqCst);
        eprintln!("\nstopping: writing what was measured (Ctrl-C again to quit at once)");
        cancel.cancel();
        let again = signals.next().await;
        std::process::exit(128 + i32::from(again));
    });
    received
}

/// The signals that stop a run. Once listened to, they no longer end the process by
/// themselves, so a second one must be handled here too.
struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Waits for the next signal and returns its number.
    async fn next(&mut self) -> u8 {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = recv(&mut self.interrupt) => SIGINT,
                _ = recv(&mut self.terminate) => SIGTERM,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            SIGINT
        }
    }
}

/// The next delivery of `signal`; never, if it could not be listened to.
#[cfg(unix)]
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    let delivered = match signal {
        Some(s) => s.recv().await.is_some(),
        None => false,
    };
    if !delivered {
        std::future::pending::<()>().await;
    }
}

fn validate(path: &Path, set: &[String]) -> Result<Outcome> {
    let session = Session::load(ConfigSource::Path(path), set, None)?;
    let cfg = session.config();
    let workers: u32 = cfg
        .tests
        .iter()
        .map(|t| cfg.workers_for(t))
        .max()
        .unwrap_or(1);
    let line = format!(
        "{}: ok ({} test{}, database `{}`, up to {} worker{})\n",
        path.display(),
        cfg.tests.len(),
        if cfg.tests.len() == 1 { "" } else { "s" },
        cfg.database.kind,
        workers,
        if workers == 1 { "" } else { "s" }
    );
    write_stdout(line.as_bytes())?;
    write_stdout(format!("fan-out: {}\n", cfg.fan_out_summary()).as_bytes())?;
    Ok(Outcome::Success)
}

fn list() -> Result<Outcome> {
    let mut out = std::io::stdout().lock();
    for (i, section) in Registries::builtin().catalog().iter().enumerate() {
        let gap = if i == 0 { "" } else { "\n" };
        writeln!(out, "{gap}{}", section.title)?;
        for e in &section.entries {
            writeln!(out, "  {:<20} {}", e.name, e.description)?;
        }
    }
    out.flush()?;
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
