//! `lgb report` and `lgb compare` (load results directories, write a report) and the
//! results-at-rest commands `lgb encrypt`, `lgb decrypt` and `lgb upload`. All the work
//! is in `lgb_core::report` and `lgb_core::results`; this reads arguments and chooses
//! where bytes go.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use lgb_core::prelude::PriceTable;
use lgb_core::report::{Format, Report};

use crate::Outcome;

/// Formats of `lgb report`.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum ReportFormat {
    /// Tables sized to the terminal.
    #[default]
    Table,
    /// One row per test and operation.
    Csv,
    /// The whole result, with summaries and estimated cost.
    Json,
    /// Markdown tables.
    #[value(alias = "markdown")]
    Md,
    /// One self-contained HTML page with charts (opens offline).
    Html,
    /// Percentile spectrum and timeline charts as one PNG image.
    Png,
}

/// Formats of `lgb compare`.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum CompareFormat {
    /// A table of changes sized to the terminal.
    #[default]
    Table,
    /// One row per run, test, operation and metric.
    Csv,
    /// The comparison with every run's estimated cost.
    Json,
    /// Markdown tables.
    #[value(alias = "markdown")]
    Md,
    /// One HTML page: every run's charts and the comparison.
    Html,
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Table => Format::Table,
            ReportFormat::Csv => Format::Csv,
            ReportFormat::Json => Format::Json,
            ReportFormat::Md => Format::Markdown,
            ReportFormat::Html => Format::Html,
            ReportFormat::Png => Format::Png,
        }
    }
}

impl From<CompareFormat> for Format {
    fn from(f: CompareFormat) -> Self {
        match f {
            CompareFormat::Table => Format::Table,
            CompareFormat::Csv => Format::Csv,
            CompareFormat::Json => Format::Json,
            CompareFormat::Md => Format::Markdown,
            CompareFormat::Html => Format::Html,
        }
    }
}

/// Arguments of `lgb report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results directory (or its result.json).
    dir: PathBuf,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t)]
    format: ReportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Prices for cost estimates: a JSON object overriding fields of the default
    /// us-east-1 table (see docs/results.md).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// PNG size in pixels.
    #[arg(long, value_name = "WIDTHxHEIGHT", default_value = "1200x1500", value_parser = parse_size)]
    size: (u32, u32),
}

/// Arguments of `lgb compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Results directories; the first is the baseline the others are compared to.
    #[arg(required = true, num_args = 2..)]
    dirs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t)]
    format: CompareFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Prices for cost estimates (see `lgb report --prices`).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
}

fn parse_size(s: &str) -> std::result::Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, for example 1200x1500")?;
    let n = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (100..=10_000).contains(n))
    };
    match (n(w), n(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err("width and height must be whole numbers from 100 to 10000".into()),
    }
}

fn prices(path: Option<&Path>) -> Result<PriceTable> {
    Ok(match path {
        Some(p) => PriceTable::load(p)?,
        None => PriceTable::default(),
    })
}

/// Writes `report` to `out` or standard output; binary output is refused on a terminal.
fn emit(report: Report, format: Format, out: Option<&Path>) -> Result<Outcome> {
    let stdout = std::io::stdout();
    if out.is_none() && format.is_binary() && stdout.is_terminal() {
        return Err(lgb_core::Error::config(
            "--out",
            format!(
                "{} output is binary; give --out FILE or redirect standard output",
                format.name()
            ),
        )
        .into());
    }
    // A file gets a fixed width; a terminal its own.
    let report = report.with_width(if out.is_some() { Some(120) } else { None });
    let bytes = report.to_bytes(format)?;
    match out {
        Some(p) => {
            std::fs::write(p, &bytes)
                .map_err(|e| lgb_core::Error::io(format!("writing {}", p.display()), e))?;
            eprintln!("wrote {}", p.display());
        }
        None => crate::output::write_stdout(&bytes)?,
    }
    Ok(Outcome::Success)
}

/// Refuses, as bad input (exit 2) and before reading anything, a format this build of
/// `lgb` leaves out (html and png without the `charts` feature).
fn check_compiled_in(format: Format) -> Result<()> {
    if format.is_compiled_in() {
        return Ok(());
    }
    Err(lgb_core::Error::config(
        "--format",
        format!(
            "{} reports are not compiled into this lgb; enable feature `charts` \
             (the full command: cargo install --locked --path lgb-cli)",
            format.name()
        ),
    )
    .into())
}

/// `lgb report`.
pub fn report(args: ReportArgs) -> Result<Outcome> {
    check_compiled_in(args.format.into())?;
    let run = lgb_core::results::load_run(&args.dir)?;
    let mut report = Report::new(run)
        .with_prices(prices(args.prices.as_deref())?)
        .with_png_size(args.size);
    // A sweep's directory: its table and chart too.
    if args.dir.join(lgb_core::sweep::SWEEP_FILE).is_file() {
        report = report.with_sweep(lgb_core::sweep::load_report(&args.dir)?);
    }
    emit(report, args.format.into(), args.out.as_deref())
}

/// `lgb compare`.
pub fn compare(args: CompareArgs) -> Result<Outcome> {
    check_compiled_in(args.format.into())?;
    let runs = args
        .dirs
        .iter()
        .map(|d| lgb_core::results::load_run(d))
        .collect::<lgb_core::Result<Vec<_>>>()?;
    let report = Report::compare(runs)?.with_prices(prices(args.prices.as_deref())?);
    emit(report, args.format.into(), args.out.as_deref())
}

/// Arguments of `lgb encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// A results directory.
    dir: PathBuf,
    /// The encrypted file [default: DIR.lgbenc].
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Arguments of `lgb decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// A file written by `lgb encrypt`.
    file: PathBuf,
    /// The results directory to write [default: FILE without .lgbenc].
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Arguments of `lgb upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// A results directory, or a file written by `lgb encrypt`.
    dir: PathBuf,
    /// Destination, `s3://bucket/prefix`; a directory's files go to PREFIX/<run-id>/,
    /// a file to PREFIX/<file name>.
    to: String,
    /// Encrypt objects server-side with this KMS key (id, ARN or alias) instead of
    /// SSE-S3.
    #[arg(long, value_name = "KEY")]
    kms_key: Option<String>,
    /// S3 endpoint override (a local S3-compatible server); LGB_S3_ENDPOINT also works.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
}

fn key() -> Result<lgb_core::results::ResultsKey> {
    Ok(lgb_core::results::ResultsKey::from_env(
        lgb_core::results::KEY_ENV,
    )?)
}

/// `lgb encrypt`: the key comes from LGB_RESULTS_KEY (base64 of 32 bytes).
pub fn encrypt(args: EncryptArgs) -> Result<Outcome> {
    let key = key()?;
    let sealed = lgb_core::results::encrypt_dir(&args.dir, &key)?;
    let out = args.out.unwrap_or_else(|| {
        let mut name = args.dir.as_os_str().to_owned();
        name.push(format!(".{}", lgb_core::results::EXTENSION));
        PathBuf::from(name)
    });
    std::fs::write(&out, sealed)
        .map_err(|e| lgb_core::Error::io(format!("writing {}", out.display()), e))?;
    eprintln!("wrote {}", out.display());
    Ok(Outcome::Success)
}

/// `lgb decrypt`.
pub fn decrypt(args: DecryptArgs) -> Result<Outcome> {
    let key = key()?;
    let sealed = std::fs::read(&args.file)
        .map_err(|e| lgb_core::Error::io(format!("reading {}", args.file.display()), e))?;
    let out = args.out.unwrap_or_else(|| args.file.with_extension(""));
    let files = lgb_core::results::decrypt_to_dir(&sealed, &key, &out)?;
    eprintln!("wrote {} files to {}", files.len(), out.display());
    Ok(Outcome::Success)
}

/// `lgb upload`.
pub fn upload(args: UploadArgs) -> Result<Outcome> {
    let to: lgb_core::results::S3Location = args.to.parse()?;
    let options = lgb_core::results::UploadOptions {
        kms_key_id: args.kms_key,
        endpoint: args.endpoint,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let up = rt.block_on(lgb_core::results::upload_dir(&args.dir, &to, &options))?;
    let mut listing = String::new();
    for k in &up.keys {
        listing.push_str(&format!("s3://{}/{k}\n", to.bucket));
    }
    crate::output::write_stdout(listing.as_bytes())?;
    if up.already_there > 0 {
        eprintln!(
            "{} files were there already and were not sent again; {} sent",
            up.already_there, up.sent
        );
    }
    Ok(Outcome::Success)
}

/// `lgb run --upload` and `lgb sweep --upload`: the results directory `dir` to `to`,
/// as `lgb upload` puts it (SSE-S3, LGB_S3_ENDPOINT honoured, manifest last).
pub async fn upload_run(dir: &Path, to: &str) -> Result<()> {
    let to: lgb_core::results::S3Location = to.parse()?;
    let up = lgb_core::results::upload_dir(dir, &to, &Default::default()).await?;
    let run = dir.file_name().unwrap_or_default().to_string_lossy();
    eprintln!(
        "uploaded to s3://{}/{}{run}/ ({} files sent, {} there already)",
        to.bucket,
        if to.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", to.prefix)
        },
        up.sent,
        up.already_there
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("800x600"), Ok((800, 600)));
        assert!(parse_size("800").is_err());
        assert!(parse_size("0x600").is_err());
    }
}
