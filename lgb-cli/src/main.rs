//! `lgb`: run database benchmarks as seen from AWS Lambda, and read their results.
//!
//! This binary only parses arguments, calls lgb-core and prints; everything real is
//! in the library.

mod commands;
mod output;
mod progress;
mod report_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Benchmark databases as they are seen from AWS Lambda.
///
/// Start with `lgb init bench.json`, edit it, then `lgb run bench.json`.
/// Results go to `results/<run-id>/`; read them again with `lgb report`.
#[derive(Debug, Parser)]
#[command(name = "lgb", version, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a benchmark and write its results directory.
    #[command(after_long_help = RUN_EXIT_CODES)]
    Run(commands::RunArgs),
    /// Run the benchmark at several memory sizes of the Lambda worker and recommend one;
    /// the function's configuration is restored afterwards, also after Ctrl-C.
    #[command(after_long_help = RUN_EXIT_CODES)]
    Sweep(commands::SweepArgs),
    /// Check a config without running it; reports every problem with its JSON path.
    Validate {
        /// The benchmark config (JSON, comments allowed).
        config: PathBuf,
        /// Override a config value: `--set tests[0].concurrency=8` (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Where workers run (overrides `runner.target`); `--targets` needs lambda or url.
        #[arg(long, short, value_enum)]
        target: Option<commands::TargetArg>,
        /// Deployment outputs (`tofu output -json > outputs.json` in infra/): checked
        /// with the deployed worker and settings filled in, as `lgb run --targets` does.
        #[arg(long, value_name = "FILE")]
        targets: Option<PathBuf>,
    },
    /// List databases, operations, key distributions and presets.
    List,
    /// Print the JSON Schema of benchmark configs.
    Schema,
    /// Write a commented example config to start from.
    Init {
        /// Where to write it.
        #[arg(default_value = "bench.json")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Show the results of a run: tables, CSV, JSON, Markdown, HTML or PNG charts.
    Report(report_cmd::ReportArgs),
    /// Compare runs with a baseline: change in throughput and percentiles, and whether
    /// each change is significant.
    Compare(report_cmd::CompareArgs),
    /// Encrypt a results directory into one file with the key in LGB_RESULTS_KEY.
    Encrypt(report_cmd::EncryptArgs),
    /// Decrypt a file written by `lgb encrypt` back into a results directory.
    Decrypt(report_cmd::DecryptArgs),
    /// Upload a results directory to S3 (needs a build with lgb-core's `s3` feature).
    Upload(report_cmd::UploadArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The end of `lgb run --help`: what its exit code says (the README's "Exit codes").
const RUN_EXIT_CODES: &str = "\
Exit codes:
  0    every worker ran to its end and nothing failed
  1    the run failed: a test where no worker could run, or an error (a failed forced
       cold start, sweep size or restore); the tests that ended are kept, marked
       incomplete
  2    bad input (config, arguments, files, an existing --out run), a run the
       deployment cannot take (concurrency, timeout, memory cap), or an estimate
       above --confirm-above without --yes; nothing ran
  3    completed, but errors were counted (failed operations, lost writes, retried
       worker invocations); stderr sums them by class
  4    some workers failed after their retries or stopped early; the others' results
       are kept and stderr names each failed worker
  129  stopped by SIGHUP (terminal or SSH session closed); partial results kept
  130  interrupted by Ctrl-C; partial results kept
  143  stopped by SIGTERM; partial results kept
Results are written after each test, so a run stopped early keeps every test that
ended; result.json's `incomplete` says why and which tests did not run.";

/// How `lgb` ends; the README's "Exit codes" lists the numbers.
#[derive(Debug)]
pub enum Outcome {
    /// Everything went as planned (0).
    Success,
    /// The run failed: a test where no worker could run (1).
    RunFailed,
    /// The run completed, but errors were counted in the results (3).
    Errors,
    /// Some workers failed or stopped early; the others' results were written (4).
    WorkersFailed,
    /// Stopped by a signal (SIGINT 130, SIGTERM 143); partial results were written.
    Interrupted {
        /// The number of the signal.
        signal: u8,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match commands::dispatch(cli.command) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::RunFailed) => ExitCode::from(1),
        Ok(Outcome::Errors) => ExitCode::from(3),
        Ok(Outcome::WorkersFailed) => ExitCode::from(4),
        // The shell's convention for "terminated by signal N".
        Ok(Outcome::Interrupted { signal }) => ExitCode::from(128 + signal),
        // The reader of a pipe went away (`lgb list | head -1`): it has what it wanted.
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = exit_code(&err);
            match err.downcast_ref::<lgb_core::Error>() {
                Some(lgb_core::Error::Config(problems)) if problems.len() > 1 => {
                    eprintln!("Error: the configuration has {} problems:", problems.len());
                    for p in problems {
                        eprintln!("  - {p}");
                    }
                }
                _ => eprintln!("Error: {err:#}"),
            }
            ExitCode::from(code)
        }
    }
}

/// Bad input (config, files that cannot be read) exits 2; anything else 1.
fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<lgb_core::Error>() {
        Some(lgb_core::Error::Config(_)) | Some(lgb_core::Error::Io { .. }) => 2,
        _ => 1,
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::stderr_colour())
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
