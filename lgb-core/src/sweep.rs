//! A memory-size sweep (what AWS Lambda Power Tuning does, inside a database
//! benchmark): the benchmark's tests at each memory size of the worker function, then
//! per size throughput, p50/p99, billed GB-seconds and cost per million operations, and
//! a recommendation.
//!
//! This module owns the order of changes and the promise to put the function back as
//! it was (memory and environment), after success, an error or a stop. It does not
//! print; frontends show [`SweepReport`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::BenchmarkConfig;
use crate::error::{Error, Result};
use crate::metrics::LatencyHistogram;
use crate::protocol::Phase;
use crate::results::cost::{estimate_test, PriceTable};
use crate::runner::{
    new_run_id, FunctionControl, RunObserver, RunResult, RunStatus, Runner, TestResult,
};

/// File of a results directory that holds the sweep's [`SweepReport`].
pub const SWEEP_FILE: &str = "sweep.json";

/// Lambda's memory limits (MB).
pub const MEMORY_RANGE: std::ops::RangeInclusive<u32> = 128..=10_240;

/// What to sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPlan {
    /// Memory sizes in MB, run in this order.
    pub memory_mb: Vec<u32>,
    /// The p99 a size must meet to be recommended as the cheapest.
    pub p99_max: Option<Duration>,
}

impl SweepPlan {
    /// A plan; sizes outside Lambda's 128–10240 MB or given twice are a config error
    /// at `--memory`.
    pub fn new(memory_mb: Vec<u32>, p99_max: Option<Duration>) -> Result<Self> {
        if memory_mb.is_empty() {
            return Err(Error::config("--memory", "needs at least one memory size"));
        }
        for (i, m) in memory_mb.iter().enumerate() {
            if !MEMORY_RANGE.contains(m) {
                return Err(Error::config(
                    "--memory",
                    format!("{m} MB is outside Lambda's 128–10240 MB"),
                ));
            }
            if memory_mb[..i].contains(m) {
                return Err(Error::config("--memory", format!("{m} MB is given twice")));
            }
        }
        Ok(Self { memory_mb, p99_max })
    }
}

/// What one memory size measured, over the run-phase tests at that size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Memory size (MB).
    pub memory_mb: u32,
    /// Operations measured (ok and failed).
    pub operations: u64,
    /// Operations per second of the measured windows.
    pub throughput: f64,
    /// Median latency of successful operations (ns).
    pub p50_ns: u64,
    /// 99th percentile (ns).
    pub p99_ns: u64,
    /// Billed Lambda compute (GB-seconds).
    pub billed_gb_seconds: f64,
    /// Lambda compute and requests plus the database's billed units, per million
    /// operations (US dollars, default price table).
    pub cost_per_million_ops_usd: Option<f64>,
    /// Memory sizes the workers reported seeing (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub seen_memory_mb: Vec<u32>,
}

/// The sweep's outcome: one point per size that ran, and the recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Per memory size, in the order run.
    pub points: Vec<SweepPoint>,
    /// The `--p99-max` used (ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_max_ns: Option<u64>,
    /// The cheapest size (cost per million operations) whose p99 meets `p99_max` (any
    /// p99 without one).
    pub cheapest: Option<u32>,
    /// The size with the lowest p99.
    pub fastest: Option<u32>,
    /// The size with the lowest cost per million operations × p99.
    pub best_cost_latency: Option<u32>,
    /// The memory size the function had before, and has again.
    pub original_memory_mb: u32,
}

impl SweepReport {
    /// Recommends from `points`.
    pub fn new(
        points: Vec<SweepPoint>,
        p99_max: Option<Duration>,
        original_memory_mb: u32,
    ) -> Self {
        // Saturating: a limit past `u64::MAX` ns (584 years) is no limit, not a wrapped one.
        let max_ns = p99_max.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let priced = || {
            points
                .iter()
                .filter(|p| p.operations > 0)
                .filter_map(|p| p.cost_per_million_ops_usd.map(|c| (p, c)))
        };
        let cheapest = priced()
            .filter(|(p, _)| max_ns.is_none_or(|m| p.p99_ns <= m))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(p, _)| p.memory_mb);
        let fastest = points
            .iter()
            .filter(|p| p.operations > 0)
            .min_by_key(|p| p.p99_ns)
            .map(|p| p.memory_mb);
        let best_cost_latency = priced()
            .min_by(|a, b| (a.1 * a.0.p99_ns as f64).total_cmp(&(b.1 * b.0.p99_ns as f64)))
            .map(|(p, _)| p.memory_mb);
        Self {
            points,
            p99_max_ns: max_ns,
            cheapest,
            fastest,
            best_cost_latency,
            original_memory_mb,
        }
    }
}

/// The tests of one size in the sweep's results are named `<test>@<memory>MB`.
pub fn sized_name(test: &str, memory_mb: u32) -> String {
    format!("{test}@{memory_mb}MB")
}

/// Measures one memory size from the tests it ran.
pub fn point(run: &RunResult, tests: &[TestResult], memory_mb: u32) -> Result<SweepPoint> {
    let prices = PriceTable::default();
    let mut latency = LatencyHistogram::new();
    let (mut ops, mut window_ns, mut gb_s, mut usd) = (0u64, 0u64, 0.0, 0.0);
    let mut seen = Vec::new();
    for t in tests.iter().filter(|t| t.phase == Phase::Run) {
        for m in t.metrics.operations.values() {
            latency.add(&m.latency);
        }
        ops = ops.saturating_add(t.metrics.ok().saturating_add(t.metrics.failed()));
        window_ns += t.window_ns;
        let cost = estimate_test(run, t, &prices);
        usd += cost.total_usd;
        gb_s += cost
            .items
            .iter()
            .filter(|i| i.service == "lambda" && i.unit == "GB-s")
            .map(|i| i.quantity)
            .sum::<f64>();
        for w in &t.workers {
            if let Some(m) = w.environment.memory_mb {
                if !seen.contains(&m) {
                    seen.push(m);
                }
            }
        }
    }
    seen.sort_unstable();
    Ok(SweepPoint {
        memory_mb,
        operations: ops,
        throughput: if window_ns == 0 {
            0.0
        } else {
            ops as f64 / (window_ns as f64 / 1e9)
        },
        p50_ns: latency.quantile_ns(0.5),
        p99_ns: latency.quantile_ns(0.99),
        billed_gb_seconds: gb_s,
        cost_per_million_ops_usd: (ops > 0).then(|| usd / ops as f64 * 1e6),
        seen_memory_mb: seen,
    })
}

/// What a sweep saves as it goes: `run` after each test, and the report of the sizes
/// measured so far after each size. The results directory is written there.
pub type SweepSaver<'a> =
    dyn FnMut(&mut RunResult, Option<&SweepReport>) -> Result<()> + Send + 'a;

/// The names of the tests a sweep of `plan` runs, in order: the load phase (once, at
/// the first size) and `<test>@<size>MB` of each size.
pub fn planned_tests(config: &BenchmarkConfig, plan: &SweepPlan) -> Vec<String> {
    let mut names = Vec::new();
    for (i, &mb) in plan.memory_mb.iter().enumerate() {
        for (t, phase) in Runner::plan(config) {
            match phase {
                Phase::Load if i == 0 => names.push(t.name),
                Phase::Load => {}
                Phase::Run => names.push(sized_name(&t.name, mb)),
            }
        }
    }
    names
}

/// Runs `config`'s tests at each memory size of `plan` through `runner` (whose invoker
/// reaches the function `control` changes) into `run`, then restores the function's
/// memory and environment, also after an error or when `cancel` fires. The load
/// phase runs once, at the first size; the tests of each size are named
/// `<test>@<size>MB` (an ordinary results directory). `saved` sees the run after each
/// test and the report after each size. On an error (a size that failed, a failed
/// restore), `run` keeps every test that ended and the error says what failed; a
/// failed restore also says how to restore the function by hand.
pub async fn sweep(
    runner: &Runner,
    control: &dyn FunctionControl,
    config: &BenchmarkConfig,
    plan: &SweepPlan,
    run: &mut RunResult,
    cancel: CancellationToken,
    observer: &dyn RunObserver,
    saved: &mut SweepSaver<'_>,
) -> Result<SweepReport> {
    let original = control.settings().await?;
    let mut points = Vec::new();
    let outcome = sweep_sizes(
        runner,
        control,
        config,
        plan,
        (run, &mut points, original.memory_mb),
        &cancel,
        observer,
        saved,
    )
    .await;
    // Put the function back whatever happened.
    let restored = match crate::results::faults::check("restore") {
        Ok(()) => {
            control
                .update(Some(original.memory_mb), Some(&original.environment))
                .await
        }
        Err(e) => Err(e),
    };
    let restored = restored.map_err(|e| {
        let by_hand = match config.runner.function.as_deref() {
            Some(f) => format!(
                "; restore it by hand: aws lambda update-function-configuration \
                 --function-name {f} --memory-size {}",
                original.memory_mb
            ),
            None => String::new(),
        };
        Error::Backend(format!(
            "restoring the function's memory ({} MB) and environment failed: {e}{by_hand} \
             (of its environment, lgb changes only {} when it forces cold starts)",
            original.memory_mb,
            crate::runner::COLD_START_NONCE_VAR
        ))
    });
    match (outcome, restored) {
        (Ok(()), Ok(())) => Ok(SweepReport::new(points, plan.p99_max, original.memory_mb)),
        (Err(e), Ok(())) => Err(e),
        (Ok(()), Err(r)) => Err(r),
        (Err(e), Err(r)) => Err(Error::Backend(format!("{e}; and {r}"))),
    }
}

#[allow(clippy::too_many_arguments)]
async fn sweep_sizes(
    runner: &Runner,
    control: &dyn FunctionControl,
    config: &BenchmarkConfig,
    plan: &SweepPlan,
    (run, points, original_mb): (&mut RunResult, &mut Vec<SweepPoint>, u32),
    cancel: &CancellationToken,
    observer: &dyn RunObserver,
    saved: &mut SweepSaver<'_>,
) -> Result<()> {
    for (i, &mb) in plan.memory_mb.iter().enumerate() {
        if cancel.is_cancelled() {
            run.status = RunStatus::Cancelled;
            break;
        }
        crate::results::faults::check(&format!("sweep-size:{mb}"))
            .map_err(|e| Error::Backend(format!("setting the function to {mb} MB: {e}")))?;
        control.update(Some(mb), None).await?;
        let mut sized = config.clone();
        sized.workload.load = config.workload.load && i == 0;
        for t in &mut sized.tests {
            t.name = sized_name(&t.name, mb);
        }
        let first = run.tests.len();
        runner
            .run_into(&sized, run, cancel.clone(), observer, &mut |r| saved(r, None))
            .await?;
        points.push(point(run, &run.tests[first..], mb)?);
        let report = SweepReport::new(points.clone(), plan.p99_max, original_mb);
        saved(run, Some(&report))?;
        if run.status != RunStatus::Completed {
            break;
        }
    }
    Ok(())
}

/// Writes `report` as [`SWEEP_FILE`] into the results directory `dir`.
pub fn write_report(report: &SweepReport, dir: &std::path::Path) -> Result<()> {
    let path = dir.join(SWEEP_FILE);
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| Error::Backend(format!("encoding the sweep report: {e}")))?;
    std::fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Reads [`SWEEP_FILE`] of a results directory.
pub fn load_report(dir: &std::path::Path) -> Result<SweepReport> {
    let path = dir.join(SWEEP_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::config(
            path.display().to_string(),
            format!("not a sweep report: {e}"),
        )
    })
}

/// The report as a text table and the recommendation.
pub fn render(report: &SweepReport) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "memory",
        "ops",
        "ops/s",
        "p50",
        "p99",
        "billed GB-s",
        "$ per 1M ops",
    ]);
    let ms = |ns: u64| format!("{:.3} ms", ns as f64 / 1e6);
    for p in &report.points {
        table.add_row([
            format!("{} MB", p.memory_mb),
            p.operations.to_string(),
            format!("{:.1}", p.throughput),
            ms(p.p50_ns),
            ms(p.p99_ns),
            format!("{:.3}", p.billed_gb_seconds),
            p.cost_per_million_ops_usd
                .map_or("-".into(), |c| format!("{c:.4}")),
        ]);
    }
    let size = |m: Option<u32>| m.map_or("none".to_string(), |m| format!("{m} MB"));
    let limit = report
        .p99_max_ns
        .map_or(String::new(), |n| format!(" with p99 ≤ {}", ms(n)));
    format!(
        "{table}\ncheapest{limit}: {}\nfastest (lowest p99): {}\nbest cost × p99: {}\nrestored to {} MB",
        size(report.cheapest),
        size(report.fastest),
        size(report.best_cost_latency),
        report.original_memory_mb
    )
}

/// A new id for a sweep's results directory.
pub fn new_sweep_id(name: &str) -> String {
    new_run_id(&format!("{name}-sweep"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(mb: u32, p99_ms: u64, cost: f64) -> SweepPoint {
        SweepPoint {
            memory_mb: mb,
            operations: 1000,
            throughput: 100.0,
            p50_ns: p99_ms * 500_000,
            p99_ns: p99_ms * 1_000_000,
            billed_gb_seconds: 1.0,
            cost_per_million_ops_usd: Some(cost),
            seen_memory_mb: vec![mb],
        }
    }

    #[test]
    fn recommends_cheapest_within_the_limit_fastest_and_best_product() {
        // Latency falls with memory, cost per op rises past 512.
        let points = vec![p(128, 40, 2.0), p(512, 12, 1.5), p(1024, 8, 2.5)];
        let r = SweepReport::new(points.clone(), Some(Duration::from_millis(20)), 256);
        assert_eq!(r.cheapest, Some(512));
        assert_eq!(r.fastest, Some(1024));
        // 128: 80, 512: 18, 1024: 20.
        assert_eq!(r.best_cost_latency, Some(512));
        let r = SweepReport::new(points.clone(), Some(Duration::from_millis(10)), 256);
        assert_eq!(r.cheapest, Some(1024));
        let r = SweepReport::new(points.clone(), Some(Duration::from_millis(1)), 256);
        assert_eq!(r.cheapest, None);
        // A limit of 2^64 ns is no limit; cast with `as`, it was 0 ns and refused all.
        let huge = Duration::from_nanos(u64::MAX) + Duration::from_nanos(1);
        let r = SweepReport::new(points, Some(huge), 256);
        assert_eq!(r.cheapest, Some(512));
    }

    #[test]
    fn plans_refuse_sizes_lambda_does_not_have() {
        assert!(SweepPlan::new(vec![128, 512], None).is_ok());
        for bad in [vec![], vec![64], vec![128, 128], vec![20_000]] {
            let e = SweepPlan::new(bad, None).unwrap_err();
            assert_eq!(e.config_problems()[0].path, "--memory");
        }
    }
}
