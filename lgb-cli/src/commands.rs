//! The subcommands: each parses nothing itself, calls lgb-core and prints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use lgb_core::prelude::{
    BenchmarkConfig, ConfigSource, DeployedTargets, Progress, Registries, Session, SweepPlan,
    WorkerStatus,
};
use lgb_core::report;
use lgb_core::results::RunOutcome;
use lgb_core::session;

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
    /// Results go to OUT/<run-id>/, a new directory written as the run goes (an
    /// existing one is never written over).
    #[arg(long, short, default_value = "results")]
    out: PathBuf,
    /// Upload the results directory when the run ends (also when it stopped early) to
    /// `s3://bucket/prefix`, as `lgb upload` does: SSE-S3, LGB_S3_ENDPOINT honoured,
    /// the manifest last.
    #[arg(long, value_name = "S3_URL")]
    upload: Option<String>,
    /// No progress bar and no table; print only the results directory.
    #[arg(long, short)]
    quiet: bool,
    /// Deployment outputs (`tofu output -json > outputs.json` in infra/): the worker
    /// of the config's database type and its deployed settings (table, region, …)
    /// fill in what the config and --set leave open.
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    #[command(flatten)]
    cost: CostArgs,
}

/// How the plan is priced and when it asks before paying.
#[derive(Debug, Args)]
pub struct CostArgs {
    /// Run even when the estimated cost is above `--confirm-above`.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Ask for `--yes` when the estimate is above this many US dollars.
    #[arg(long, value_name = "USD", default_value_t = lgb_core::preflight::DEFAULT_CONFIRM_ABOVE_USD)]
    confirm_above: f64,
    /// A JSON file of prices overriding the default us-east-1 table field by field.
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
}

impl CostArgs {
    fn options(&self) -> Result<lgb_core::preflight::PreflightOptions> {
        if !(self.confirm_above.is_finite() && self.confirm_above >= 0.0) {
            return Err(lgb_core::Error::config(
                "--confirm-above",
                "must be an amount of at least 0",
            )
            .into());
        }
        Ok(lgb_core::preflight::PreflightOptions {
            prices: match &self.prices {
                Some(p) => lgb_core::results::cost::PriceTable::load(p)?,
                None => Default::default(),
            },
            confirm_above_usd: self.confirm_above,
            yes: self.yes,
        })
    }
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
    /// How to recommend: `cost` (cheapest within --p99-max), `speed` (lowest latency)
    /// or `balanced` (--weight).
    #[arg(long, default_value = "cost", value_name = "cost|speed|balanced")]
    strategy: String,
    /// The balanced strategy's trade-off: 0 is speed, 1 is cost.
    #[arg(long, default_value_t = 0.5)]
    weight: f64,
    /// The latency speed and balanced rank by: `p99`, `p50` or `mean` (trimmed by
    /// --discard).
    #[arg(long, default_value = "p99", value_name = "p99|p50|mean")]
    rank_by: String,
    /// Share (0–0.4) of the fastest and of the slowest operations left out of the mean.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    discard: f64,
    /// Measure cold starts only: every wave of every test at a size runs in new
    /// sandboxes (a version of its own), and sizes are ranked on them.
    #[arg(long)]
    only_cold_starts: bool,
    /// One size at a time, even when the concurrency allows more side by side.
    #[arg(long)]
    sequential: bool,
    /// Afterwards, set the recommended size on `$LATEST` (`--apply latest`) or point
    /// an alias at it (`--apply ALIAS`).
    #[arg(long, value_name = "latest|ALIAS")]
    apply: Option<String>,
}

impl SweepArgs {
    fn plan(&self) -> Result<SweepPlan> {
        let p99_max = self
            .p99_max
            .as_deref()
            .map(|d| {
                d.parse::<lgb_core::units::HumanDuration>()
                    .map(|d| d.0)
                    .map_err(|e| lgb_core::Error::config("--p99-max", e))
            })
            .transpose()?;
        let mut plan = SweepPlan::new(self.memory.clone(), p99_max)?;
        plan.strategy = self.strategy.parse()?;
        plan.weight = self.weight;
        plan.rank_by = self.rank_by.parse()?;
        plan.discard = self.discard;
        plan.only_cold_starts = self.only_cold_starts;
        plan.sequential = self.sequential;
        plan.apply = self.apply.as_deref().map(|a| match a {
            "latest" | "$LATEST" => lgb_core::sweep::ApplyTo::Latest,
            alias => lgb_core::sweep::ApplyTo::Alias(alias.to_string()),
        });
        plan.check()?;
        Ok(plan)
    }
}

pub fn dispatch(cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::Run(args) => run(args),
        Command::Sweep(args) => sweep(args),
        Command::Validate {
            config,
            set,
            target,
            targets,
        } => validate(&config, &set, target, targets.as_deref()),
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
    if let Some(to) = &args.upload {
        to.parse::<lgb_core::results::S3Location>().map_err(|_| {
            lgb_core::Error::config(
                "--upload",
                format!("`{to}` is not an s3://bucket/prefix URL"),
            )
        })?;
    }
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
        let signals = spawn_signal_handler();
        let progress = Arc::new(Progress::default());
        let connected = session
            .connect(Some(progress.clone()))
            .await?
            .with_preflight(args.cost.options()?);
        if !args.quiet {
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                connected.preflight(None).await?.render().trim_end()
            );
        }
        let observer = ProgressObserver::new(progress, args.quiet);
        let recorded = connected.run(&args.out, &signals.stop, &observer).await;
        observer.finish();
        let recorded = recorded?;
        if !args.quiet {
            print_table(&recorded.run)?;
        }
        conclude(recorded, args.upload.as_deref(), &signals).await
    })
}

fn sweep(args: SweepArgs) -> Result<Outcome> {
    let session = prepare(&args.run)?;
    let plan = args.plan()?;
    runtime()?.block_on(async move {
        let signals = spawn_signal_handler();
        let progress = Arc::new(Progress::default());
        let connected = session
            .connect(Some(progress.clone()))
            .await?
            .with_preflight(args.run.cost.options()?);
        if !args.run.quiet {
            let plan = connected.preflight(Some(&plan)).await?;
            let _ = writeln!(std::io::stderr(), "{}", plan.render().trim_end());
        }
        let observer = ProgressObserver::new(progress, args.run.quiet);
        let recorded = connected
            .sweep(&plan, &args.run.out, &signals.stop, &observer)
            .await;
        observer.finish();
        let recorded = recorded?;
        if !args.run.quiet {
            print_table(&recorded.run)?;
        }
        if let Some(report) = &recorded.sweep {
            println!("{}", report::sweep::render_sweep(report));
        }
        conclude(recorded, args.run.upload.as_deref(), &signals).await
    })
}

/// `eprintln!` that never panics: after SIGHUP the terminal may be gone, and what
/// is left to do (writing the end of the run, uploading) matters more than the note.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Prints the results table; a reader that went away (`| head`) leaves the exit code
/// to the run.
fn print_table(run: &lgb_core::results::RunResult) -> Result<()> {
    match write_stdout(format!("{}\n", report::render_table(run, None)).as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(lgb_core::Error::io("printing the results table", e).into())
        }
        _ => Ok(()),
    }
}

/// Prints how the run ended, uploads its directory when `--upload` asks, and returns
/// its outcome (the exit code). An error that stopped the run is returned after the
/// directory is named (and uploaded): its exit code says why.
async fn conclude(
    recorded: session::Recorded,
    upload: Option<&str>,
    signals: &Signals,
) -> Result<Outcome> {
    let session::Recorded {
        run, dir, error, ..
    } = recorded;
    if let Some(e) = &error {
        note!(
            "stopped by an error; the tests that ended are kept (incomplete): {}",
            dir.display()
        );
        if let Some(i) = &run.incomplete {
            if !i.not_run.is_empty() {
                note!("not run: {}", i.not_run.join(", "));
            }
        }
        tracing::debug!(error = %e, "the run stopped early");
    }
    let uploaded = match upload {
        Some(to) => crate::report_cmd::upload_run(&dir, to).await,
        None => Ok(()),
    };
    if let Some(e) = error {
        return Err(e.into());
    }
    let outcome = outcome_of(&run, &dir, signals.received.load(Ordering::SeqCst));
    uploaded.map(|()| outcome)
}

/// Prints how a run that reached its end (or was stopped) ended; its exit code.
fn outcome_of(run: &lgb_core::results::RunResult, dir: &Path, signal: u8) -> Outcome {
    let outcome = run.outcome();
    if matches!(outcome, RunOutcome::WorkersFailed | RunOutcome::Failed) {
        print_worker_failures(run);
    }
    match outcome {
        RunOutcome::Clean => {
            note!("results: {}", dir.display());
            Outcome::Success
        }
        RunOutcome::Errors => {
            let counts: Vec<String> = run
                .error_counts()
                .iter()
                .map(|(class, n)| format!("{n} {class}"))
                .collect();
            note!(
                "completed with errors ({}); results: {}",
                counts.join(", "),
                dir.display()
            );
            Outcome::Errors
        }
        RunOutcome::WorkersFailed => {
            note!(
                "some workers did not finish; partial results: {}",
                dir.display()
            );
            Outcome::WorkersFailed
        }
        RunOutcome::Cancelled => {
            note!("interrupted; partial results: {}", dir.display());
            let signal = match signal {
                0 => SIGINT,
                s => s,
            };
            Outcome::Interrupted { signal }
        }
        RunOutcome::Failed => {
            note!("run failed; results: {}", dir.display());
            Outcome::RunFailed
        }
    }
}

/// Names each worker that did not finish, with its reason.
fn print_worker_failures(run: &lgb_core::results::RunResult) {
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
            note!(
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
const SIGHUP: u8 = 1;
#[cfg(unix)]
const SIGTERM: u8 = 15;

/// The stop of a run and the number of the signal that gave it (0 while none came).
struct Signals {
    stop: session::Stop,
    received: Arc<AtomicU8>,
}

/// Ctrl-C (SIGINT), SIGTERM or SIGHUP (a closed terminal or SSH session) stops the
/// run: the tests that ended are on disk already, the running one is kept with what
/// its workers measured (remote workers about to answer get a few seconds), and the
/// directory is marked incomplete with the signal. A second signal exits at once.
fn spawn_signal_handler() -> Signals {
    let received = Arc::new(AtomicU8::new(0));
    let stop = session::Stop::new();
    let (first, stopper) = (received.clone(), stop.clone());
    tokio::spawn(async move {
        let mut signals = StopSignals::listen();
        let signal = signals.next().await;
        first.store(signal, Ordering::SeqCst);
        stopper.stop(format!("stopped by {}", signal_name(signal)));
        // A closed terminal may be gone: the note is best effort.
        let _ = writeln!(
            std::io::stderr(),
            "\nstopping: keeping what was measured; remote workers about to answer get up \
             to {} s ({} again to quit at once)",
            lgb_core::runner::REMOTE_STOP_GRACE.as_secs(),
            if signal == SIGINT {
                "Ctrl-C"
            } else {
                "a signal"
            }
        );
        let again = signals.next().await;
        std::process::exit(128 + i32::from(again));
    });
    Signals { stop, received }
}

fn signal_name(signal: u8) -> &'static str {
    match signal {
        SIGINT => "SIGINT (Ctrl-C)",
        #[cfg(unix)]
        SIGTERM => "SIGTERM",
        #[cfg(unix)]
        SIGHUP => "SIGHUP (the terminal or session closed)",
        _ => "a signal",
    }
}

/// The signals that stop a run. Once listened to, they no longer end the process by
/// themselves, so a second one must be handled here too.
struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
                hangup: signal(SignalKind::hangup()).ok(),
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
                _ = recv(&mut self.hangup) => SIGHUP,
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

fn validate(
    path: &Path,
    set: &[String],
    target: Option<TargetArg>,
    targets: Option<&Path>,
) -> Result<Outcome> {
    let mut set = set.to_vec();
    if let Some(t) = target.and_then(|t| t.to_possible_value()) {
        set.push(format!("runner.target={}", t.get_name()));
    }
    let (target_given, targets_given) = (target.map(|_| ()), targets.map(|_| ()));
    let targets = targets.map(DeployedTargets::load).transpose()?;
    let session = Session::load(ConfigSource::Path(path), &set, targets.as_ref())?;
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
    write_stdout(format!("fan-out: {}\n", lgb_core::runner::FanOut::of(cfg).summary()).as_bytes())?;
    // The plan, checked against the deployment (account and function) when the target
    // is remote: what `lgb run` would refuse, it refuses here, before anything is paid.
    // A remote target is checked against its deployment only when asked for with
    // --target/--targets: plain `lgb validate` never connects.
    let remote = session.config().runner.target != lgb_core::config::Target::Local;
    if remote && target_given.is_none() && targets_given.is_none() {
        write_stdout(
            b"deployment: not checked (pass --target or --targets to check the account and function)\n",
        )?;
        return Ok(Outcome::Success);
    }
    let plan = runtime()?.block_on(async move {
        let connected = session.connect(None).await?;
        connected.preflight(None).await
    })?;
    write_stdout(plan.render().as_bytes())?;
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
