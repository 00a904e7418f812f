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

use crate::config::{BenchmarkConfig, ColdStart};
use crate::error::{Error, Result};
use crate::metrics::LatencyHistogram;
use crate::protocol::Phase;
use crate::results::cost::{estimate_test, PriceTable};
use crate::results::{RunResult, RunStatus, TestResult};
use crate::runner::{new_run_id, FunctionControl, RunObserver, Runner};

/// File of a results directory that holds the sweep's [`SweepReport`].
pub const SWEEP_FILE: &str = "sweep.json";

/// Lambda's memory limits (MB).
pub const MEMORY_RANGE: std::ops::RangeInclusive<u32> = 128..=10_240;

/// How a sweep picks its recommendation (AWS Lambda Power Tuning's strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The cheapest size per million operations whose p99 meets `--p99-max`.
    #[default]
    Cost,
    /// The size with the lowest latency (`rank_by`).
    Speed,
    /// The lowest `weight × cost / max cost + (1 − weight) × latency / max latency`.
    Balanced,
}

impl std::str::FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cost" => Ok(Self::Cost),
            "speed" => Ok(Self::Speed),
            "balanced" => Ok(Self::Balanced),
            other => Err(Error::config(
                "--strategy",
                format!("`{other}` is not a strategy: cost, speed or balanced"),
            )),
        }
    }
}

/// Which latency ranks sizes for the speed and balanced strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// The 99th percentile.
    #[default]
    P99,
    /// The median.
    P50,
    /// The mean after discarding the fastest and slowest share (`discard`).
    Mean,
}

impl std::str::FromStr for RankBy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "p99" => Ok(Self::P99),
            "p50" => Ok(Self::P50),
            "mean" => Ok(Self::Mean),
            other => Err(Error::config(
                "--rank-by",
                format!("`{other}` is not a latency to rank by: p99, p50 or mean"),
            )),
        }
    }
}

/// Where `--apply` puts the recommended size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyTo {
    /// `$LATEST`'s memory.
    Latest,
    /// An alias, pointed at the sweep's version of that size (which is then kept).
    Alias(String),
}

/// The largest share of the fastest and of the slowest operations a sweep may discard.
pub const MAX_DISCARD: f64 = 0.4;

/// What to sweep and how to choose.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPlan {
    /// Memory sizes in MB (run side by side when concurrency allows).
    pub memory_mb: Vec<u32>,
    /// The p99 a size must meet to be recommended by the cost strategy.
    pub p99_max: Option<Duration>,
    /// How to recommend.
    pub strategy: Strategy,
    /// The balanced strategy's weight: 0 is speed, 1 is cost (default 0.5).
    pub weight: f64,
    /// The latency the speed and balanced strategies rank by.
    pub rank_by: RankBy,
    /// Share (0–0.4) of the fastest and of the slowest operations left out of the mean.
    pub discard: f64,
    /// Measure cold starts only: every wave of workers of every test at a size runs in
    /// new sandboxes (a version of its own, or a new environment nonce in place), and
    /// sizes are ranked on the workers that started cold.
    pub only_cold_starts: bool,
    /// One size at a time even when concurrency allows more.
    pub sequential: bool,
    /// Where to apply the recommended size afterwards, if anywhere.
    pub apply: Option<ApplyTo>,
}

impl SweepPlan {
    /// A plan with the defaults (cost strategy, weight 0.5, p99, no discard, sizes side
    /// by side, nothing applied); sizes outside Lambda's 128–10240 MB or given twice
    /// are a config error at `--memory`.
    pub fn new(memory_mb: Vec<u32>, p99_max: Option<Duration>) -> Result<Self> {
        let plan = Self {
            memory_mb,
            p99_max,
            strategy: Strategy::Cost,
            weight: 0.5,
            rank_by: RankBy::P99,
            discard: 0.0,
            only_cold_starts: false,
            sequential: false,
            apply: None,
        };
        plan.check()?;
        Ok(plan)
    }

    /// Checks the sizes, the weight (0–1) and the discarded share (0–0.4), each at its
    /// flag.
    pub fn check(&self) -> Result<()> {
        if self.memory_mb.is_empty() {
            return Err(Error::config("--memory", "needs at least one memory size"));
        }
        for (i, m) in self.memory_mb.iter().enumerate() {
            if !MEMORY_RANGE.contains(m) {
                return Err(Error::config(
                    "--memory",
                    format!("{m} MB is outside Lambda's 128–10240 MB"),
                ));
            }
            if self.memory_mb[..i].contains(m) {
                return Err(Error::config("--memory", format!("{m} MB is given twice")));
            }
        }
        if !(0.0..=1.0).contains(&self.weight) {
            return Err(Error::config(
                "--weight",
                format!("{} is not from 0 (speed) to 1 (cost)", self.weight),
            ));
        }
        if !(0.0..=MAX_DISCARD).contains(&self.discard) {
            return Err(Error::config(
                "--discard",
                format!("{} is not a share from 0 to {MAX_DISCARD}", self.discard),
            ));
        }
        if let Some(ApplyTo::Alias(a)) = &self.apply {
            let ok = !a.is_empty()
                && a.len() <= 128
                && !a.chars().all(|c| c.is_ascii_digit())
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(Error::config(
                    "--apply",
                    format!("`{a}` is not an alias name: 1–128 of a-z, A-Z, 0-9, `-`, `_`, not all digits"),
                ));
            }
        }
        Ok(())
    }
}

/// Latencies of the workers that started cold, or warm, at one size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartLatencies {
    /// Workers.
    pub workers: u32,
    /// Successful operations measured.
    pub operations: u64,
    /// Median latency (ns).
    pub p50_ns: u64,
    /// 99th percentile (ns).
    pub p99_ns: u64,
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
    /// Median latency of successful operations (ns); of cold workers only with
    /// `only_cold_starts`.
    pub p50_ns: u64,
    /// 99th percentile (ns), as `p50_ns`.
    pub p99_ns: u64,
    /// Mean latency without the discarded fastest and slowest share (ns).
    #[serde(default)]
    pub mean_ns: f64,
    /// Billed Lambda compute (GB-seconds).
    pub billed_gb_seconds: f64,
    /// Lambda compute and requests plus the database's billed units, per million
    /// operations (US dollars, at the function's architecture).
    pub cost_per_million_ops_usd: Option<f64>,
    /// Lambda's part of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_per_million_ops_usd: Option<f64>,
    /// The database's part of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_per_million_ops_usd: Option<f64>,
    /// Memory sizes the workers reported seeing (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub seen_memory_mb: Vec<u32>,
    /// Workers of the size's tests.
    #[serde(default)]
    pub workers: u32,
    /// Of them, the workers that started cold (a new sandbox).
    #[serde(default)]
    pub cold_workers: u32,
    /// Workers that started cold (a new sandbox) and their latencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold: Option<StartLatencies>,
    /// Workers that reused a warm sandbox and their latencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm: Option<StartLatencies>,
    /// The version the size was measured on (sweeps through aliases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl SweepPoint {
    /// The latency `rank_by` names (ns).
    pub fn latency_ns(&self, rank_by: RankBy) -> f64 {
        match rank_by {
            RankBy::P99 => self.p99_ns as f64,
            RankBy::P50 => self.p50_ns as f64,
            RankBy::Mean => self.mean_ns,
        }
    }
}

/// The sweep's outcome: one point per size that ran, and the recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Per memory size, in the order given.
    pub points: Vec<SweepPoint>,
    /// The `--p99-max` used (ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_max_ns: Option<u64>,
    /// The strategy of `recommended`.
    #[serde(default)]
    pub strategy: Strategy,
    /// The balanced strategy's weight.
    #[serde(default = "half")]
    pub weight: f64,
    /// The latency ranked by.
    #[serde(default)]
    pub rank_by: RankBy,
    /// The share discarded from each end for `mean_ns`.
    #[serde(default)]
    pub discard: f64,
    /// Latencies are of cold workers only.
    #[serde(default)]
    pub only_cold_starts: bool,
    /// The size the strategy recommends.
    #[serde(default)]
    pub recommended: Option<u32>,
    /// The cheapest size (cost per million operations) whose p99 meets `p99_max` (any
    /// p99 without one).
    pub cheapest: Option<u32>,
    /// The size with the lowest p99.
    pub fastest: Option<u32>,
    /// The size with the lowest cost per million operations × p99.
    pub best_cost_latency: Option<u32>,
    /// The memory size the function had before, and has again (unless applied).
    pub original_memory_mb: u32,
    /// Sizes measured side by side (1: one after another).
    #[serde(default = "one")]
    pub sizes_at_once: u32,
    /// The sizes ran on published versions through aliases, `$LATEST` untouched while
    /// measuring.
    #[serde(default)]
    pub through_aliases: bool,
    /// The architecture priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Where the recommended size was applied (`$LATEST` or an alias), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
}

fn half() -> f64 {
    0.5
}

fn one() -> u32 {
    1
}

impl SweepReport {
    /// Recommends from `points` as `plan` says.
    pub fn new(points: Vec<SweepPoint>, plan: &SweepPlan, original_memory_mb: u32) -> Self {
        // Saturating: a limit past `u64::MAX` ns (584 years) is no limit, not a wrapped one.
        let max_ns = plan
            .p99_max
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let measured = || points.iter().filter(|p| p.operations > 0);
        let priced = || measured().filter_map(|p| p.cost_per_million_ops_usd.map(|c| (p, c)));
        let cheapest = priced()
            .filter(|(p, _)| max_ns.is_none_or(|m| p.p99_ns <= m))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(p, _)| p.memory_mb);
        let fastest = measured().min_by_key(|p| p.p99_ns).map(|p| p.memory_mb);
        let best_cost_latency = priced()
            .min_by(|a, b| (a.1 * a.0.p99_ns as f64).total_cmp(&(b.1 * b.0.p99_ns as f64)))
            .map(|(p, _)| p.memory_mb);
        let rank = plan.rank_by;
        let recommended = match plan.strategy {
            Strategy::Cost => cheapest,
            Strategy::Speed => measured()
                .min_by(|a, b| a.latency_ns(rank).total_cmp(&b.latency_ns(rank)))
                .map(|p| p.memory_mb),
            Strategy::Balanced => {
                let max_cost = priced().map(|(_, c)| c).fold(0.0, f64::max);
                let max_latency = measured().map(|p| p.latency_ns(rank)).fold(0.0, f64::max);
                let share = |x: f64, max: f64| if max > 0.0 { x / max } else { 0.0 };
                priced()
                    .filter(|(p, _)| max_ns.is_none_or(|m| p.p99_ns <= m))
                    .map(|(p, c)| {
                        let value = plan.weight * share(c, max_cost)
                            + (1.0 - plan.weight) * share(p.latency_ns(rank), max_latency);
                        (p.memory_mb, value)
                    })
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(m, _)| m)
            }
        };
        Self {
            points,
            p99_max_ns: max_ns,
            strategy: plan.strategy,
            weight: plan.weight,
            rank_by: rank,
            discard: plan.discard,
            only_cold_starts: plan.only_cold_starts,
            recommended,
            cheapest,
            fastest,
            best_cost_latency,
            original_memory_mb,
            sizes_at_once: 1,
            through_aliases: false,
            architecture: None,
            applied: None,
        }
    }
}

/// The tests of one size in the sweep's results are named `<test>@<memory>MB`.
pub fn sized_name(test: &str, memory_mb: u32) -> String {
    format!("{test}@{memory_mb}MB")
}

/// The mean of `h` without its `discard` share of fastest and of slowest samples (ns).
pub fn trimmed_mean_ns(h: &LatencyHistogram, discard: f64) -> f64 {
    let total = h.len();
    if total == 0 {
        return 0.0;
    }
    let drop = (total as f64 * discard.clamp(0.0, MAX_DISCARD)).floor() as u64;
    let (lo, hi) = (drop, total.saturating_sub(drop));
    let (mut seen, mut sum, mut n) = (0u64, 0.0f64, 0u64);
    for v in h.to_hdr().iter_recorded() {
        let count = v.count_at_value();
        let (start, end) = (seen, seen + count);
        seen = end;
        let kept = end.min(hi).saturating_sub(start.max(lo));
        sum += v.value_iterated_to() as f64 * kept as f64;
        n += kept;
    }
    if n == 0 {
        h.quantile_ns(0.5) as f64
    } else {
        sum / n as f64
    }
}

/// Cold and warm workers' latencies of one size, kept apart as workers answer
/// ([`RunObserver::worker_finished`]), passing every event on to `inner`.
pub struct StartSplit<'a> {
    inner: &'a dyn RunObserver,
    split: std::sync::Mutex<[(u32, LatencyHistogram); 2]>,
}

impl<'a> StartSplit<'a> {
    /// A split in front of `inner`.
    pub fn new(inner: &'a dyn RunObserver) -> Self {
        Self {
            inner,
            split: std::sync::Mutex::new(Default::default()),
        }
    }

    /// Workers and latencies of the cold (`[0]`) and warm (`[1]`) workers so far.
    pub fn take(&self) -> [(u32, LatencyHistogram); 2] {
        std::mem::take(&mut *self.split.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl RunObserver for StartSplit<'_> {
    fn test_started(&self, test: &crate::config::TestConfig, phase: Phase, workers: u32) {
        self.inner.test_started(test, phase, workers);
    }
    fn test_finished(&self, result: &TestResult) {
        self.inner.test_finished(result);
    }
    fn worker_finished(&self, test: &crate::config::TestConfig, r: &crate::protocol::WorkerResult) {
        self.inner.worker_finished(test, r);
        if r.phase != Phase::Run {
            return;
        }
        let mut split = self.split.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut split[usize::from(!r.environment.cold_start)];
        slot.0 += 1;
        for h in r.latencies().values() {
            slot.1.add(h);
        }
    }
}

fn start_latencies((workers, h): &(u32, LatencyHistogram)) -> Option<StartLatencies> {
    (*workers > 0).then(|| StartLatencies {
        workers: *workers,
        operations: h.len(),
        p50_ns: h.quantile_ns(0.5),
        p99_ns: h.quantile_ns(0.99),
    })
}

/// Measures one memory size from the tests it ran, priced by `prices` (at the
/// function's architecture); `split` holds its cold and warm workers' latencies, when
/// they were kept apart.
pub fn point(
    run: &RunResult,
    tests: &[TestResult],
    memory_mb: u32,
    prices: &PriceTable,
    plan: &SweepPlan,
    split: Option<[(u32, LatencyHistogram); 2]>,
) -> Result<SweepPoint> {
    let mut latency = LatencyHistogram::new();
    let (mut ops, mut window_ns, mut gb_s, mut usd, mut lambda_usd) = (0u64, 0u64, 0.0, 0.0, 0.0);
    let mut seen = Vec::new();
    let (mut workers, mut cold_workers) = (0u32, 0u32);
    for t in tests.iter().filter(|t| t.phase == Phase::Run) {
        workers = workers.saturating_add(u32::try_from(t.workers.len()).unwrap_or(u32::MAX));
        let cold = t
            .workers
            .iter()
            .filter(|w| w.environment.cold_start)
            .count();
        cold_workers = cold_workers.saturating_add(u32::try_from(cold).unwrap_or(u32::MAX));
        for m in t.metrics.operations.values() {
            latency.add(&m.latency);
        }
        ops = ops.saturating_add(t.metrics.ok().saturating_add(t.metrics.failed()));
        window_ns += t.window_ns;
        let cost = estimate_test(run, t, prices);
        usd += cost.total_usd;
        lambda_usd += cost.lambda_usd();
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
    let (cold, warm) = match &split {
        Some([c, w]) => (start_latencies(c), start_latencies(w)),
        None => (None, None),
    };
    let ranked = match (&split, plan.only_cold_starts) {
        (Some([c, _]), true) => c.1.clone(),
        _ => latency,
    };
    let per_million = |x: f64| (ops > 0).then(|| x / ops as f64 * 1e6);
    Ok(SweepPoint {
        memory_mb,
        operations: ops,
        throughput: if window_ns == 0 {
            0.0
        } else {
            ops as f64 / (window_ns as f64 / 1e9)
        },
        p50_ns: ranked.quantile_ns(0.5),
        p99_ns: ranked.quantile_ns(0.99),
        mean_ns: trimmed_mean_ns(&ranked, plan.discard),
        billed_gb_seconds: gb_s,
        cost_per_million_ops_usd: per_million(usd),
        lambda_per_million_ops_usd: per_million(lambda_usd),
        database_per_million_ops_usd: per_million(usd - lambda_usd),
        seen_memory_mb: seen,
        workers,
        cold_workers,
        cold,
        warm,
        version: None,
    })
}

/// What a sweep saves as it goes: `run` after each test, and the report of the sizes
/// measured so far after each size. The results directory is written there.
pub type SweepSaver<'a> = dyn FnMut(&mut RunResult, Option<&SweepReport>) -> Result<()> + Send + 'a;

/// The names of the tests a sweep of `plan` runs, in order: the load phase (once, at
/// the first size, or `load@<size>MB` at every size when `load_per_size`) and
/// `<test>@<size>MB` of each size.
pub fn planned_tests(
    config: &BenchmarkConfig,
    plan: &SweepPlan,
    load_per_size: bool,
) -> Vec<String> {
    let mut names = Vec::new();
    for (i, &mb) in plan.memory_mb.iter().enumerate() {
        for (t, phase) in Runner::plan(config) {
            match phase {
                Phase::Load if load_per_size => names.push(sized_name(&t.name, mb)),
                Phase::Load if i == 0 => names.push(t.name),
                Phase::Load => {}
                Phase::Run => names.push(sized_name(&t.name, mb)),
            }
        }
    }
    names
}

/// How many versions a sweep through aliases publishes per size: one, or with
/// `plan.only_cold_starts` one per wave of workers of every test (a test's workers go
/// in waves of `runner.max_in_flight`), so that each wave starts in new sandboxes, as
/// Power Tuning's `onlyColdStarts` publishes a version per invocation.
pub fn versions_per_size(config: &BenchmarkConfig, plan: &SweepPlan) -> u32 {
    if !plan.only_cold_starts {
        return 1;
    }
    let wave = crate::runner::FanOut::of(config).in_flight().max(1);
    Runner::plan(config)
        .into_iter()
        .filter(|(_, phase)| *phase == Phase::Run)
        .map(|(t, _)| config.workers_for(&t).max(1).div_ceil(wave))
        .fold(0u32, u32::saturating_add)
        .max(1)
}

/// Whether the config's database lives in the worker (its data is lost with the
/// sandbox), so that a sweep loads it again at every size: a database whose adapter
/// keeps its records in process memory.
pub fn database_in_worker(config: &BenchmarkConfig) -> bool {
    let options = serde_json::Value::Object(config.database.options.clone());
    crate::catalog::Registries::builtin()
        .databases
        .factory(&config.database.kind)
        .is_ok_and(|f| f.memory_needed(&options, 1, 1, 1).is_some())
}

/// How the sizes are set and measured.
pub enum SweepTarget<'a> {
    /// A version per size behind an alias, measured side by side through the Invoke
    /// API; `$LATEST` is changed only to publish, and put back before measuring.
    Aliases(&'a dyn crate::runner::deployed::DeployedFunction),
    /// `$LATEST`'s memory set size after size, measured through the run's own invoker
    /// (a Function URL, which belongs to one version): restored afterwards.
    InPlace(&'a dyn FunctionControl),
}

/// What a sweep runs with: the runner of the run's own invoker (in place), the config,
/// the plan, the prices at the function's architecture, and how many sizes may run at
/// once (the preflight's count).
pub struct SweepSetup<'a> {
    /// The run's runner.
    pub runner: &'a Runner,
    /// The validated config.
    pub config: &'a BenchmarkConfig,
    /// Sizes and choice.
    pub plan: &'a SweepPlan,
    /// Prices at the function's architecture.
    pub prices: PriceTable,
    /// The architecture priced.
    pub architecture: String,
    /// Sizes measured side by side (1: one after another).
    pub sizes_at_once: usize,
}

/// Runs `config`'s tests at each memory size of `plan` into `run` and reports per size
/// and the recommendation; then puts the function back as it was (memory,
/// description and environment), deletes every version and alias it created and, with
/// `plan.apply`, applies the recommended size: also after an error or when `cancel`
/// fires. The tests of each size are named `<test>@<size>MB` (an ordinary results
/// directory). `saved` sees the run after each test and the report after each size.
/// On an error (a size that failed, a failed restore or clean-up), `run` keeps every
/// test that ended and the error says what failed and how to undo it by hand.
pub async fn sweep(
    setup: &SweepSetup<'_>,
    target: SweepTarget<'_>,
    run: &mut RunResult,
    cancel: CancellationToken,
    observer: &dyn RunObserver,
    saved: &mut SweepSaver<'_>,
) -> Result<SweepReport> {
    setup.plan.check()?;
    let mut report = match target {
        SweepTarget::Aliases(d) => through_aliases(setup, d, run, &cancel, observer, saved).await?,
        SweepTarget::InPlace(c) => in_place(setup, c, run, cancel, observer, saved).await?,
    };
    report.architecture = Some(setup.architecture.clone());
    Ok(report)
}

/// Versions and aliases a sweep created, deleted at its end. A size's versions are in
/// the order published: its alias points at the first.
#[derive(Debug, Default)]
struct Created {
    versions: Vec<(u32, String)>,
    aliases: Vec<(u32, String)>,
}

/// Fresh sandboxes for each wave of cold starts at one size: the versions published
/// for its waves, in order, the first through the size's alias.
struct VersionWaves {
    invokers:
        std::sync::Mutex<std::collections::VecDeque<std::sync::Arc<dyn crate::runner::Invoker>>>,
    size: u32,
}

impl VersionWaves {
    fn new(
        d: &dyn crate::runner::deployed::DeployedFunction,
        created: &Created,
        (mb, alias): (u32, &str),
    ) -> Self {
        let mut invokers = std::collections::VecDeque::new();
        invokers.push_back(d.invoker_at(alias));
        for (_, v) in created.versions.iter().filter(|(m, _)| *m == mb).skip(1) {
            invokers.push_back(d.invoker_at(v));
        }
        Self {
            invokers: std::sync::Mutex::new(invokers),
            size: mb,
        }
    }
}

#[async_trait::async_trait]
impl crate::runner::ColdStarts for VersionWaves {
    async fn fresh(
        &self,
        nonce: &str,
    ) -> Result<Option<std::sync::Arc<dyn crate::runner::Invoker>>> {
        let next = self
            .invokers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        next.map(Some).ok_or_else(|| {
            Error::Internal(format!(
                "no version left for wave {nonce} at {} MB: fewer were published than the \
                 tests have waves",
                self.size
            ))
        })
    }
}

/// The alias of size `mb` in the sweep of `run_id`: unique per sweep, so that two
/// sweeps of one function do not share aliases.
fn alias_name(run_id: &str, mb: u32) -> String {
    let tag: String = run_id
        .rsplit('-')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect();
    format!("lgb-sweep-{tag}-{mb}")
}

async fn through_aliases(
    setup: &SweepSetup<'_>,
    d: &dyn crate::runner::deployed::DeployedFunction,
    run: &mut RunResult,
    cancel: &CancellationToken,
    observer: &dyn RunObserver,
    saved: &mut SweepSaver<'_>,
) -> Result<SweepReport> {
    let plan = setup.plan;
    let latest = d.facts(None).await?;
    let mut created = Created::default();
    // Publishing: $LATEST at each size (its description names the sweep and the wave,
    // so that each publish is a new version), then back as it was before anything is
    // measured.
    let waves = versions_per_size(setup.config, plan);
    let published = publish_sizes(d, (plan, waves), &run.run_id, &mut created, cancel).await;
    let restored = match crate::results::faults::check("restore") {
        Ok(()) => d.set_memory(latest.memory_mb, &latest.description).await,
        Err(e) => Err(e),
    }
    .map_err(|e| {
        Error::Backend(format!(
            "restoring $LATEST's memory ({} MB) after publishing the sizes failed: {e}; restore \
             it by hand: aws lambda update-function-configuration --function-name {} \
             --memory-size {}",
            latest.memory_mb,
            setup.config.runner.function.as_deref().unwrap_or_default(),
            latest.memory_mb
        ))
    });
    let outcome = match (published, restored) {
        (Ok(()), Ok(())) => {
            measure(
                setup,
                d,
                &created,
                latest.memory_mb,
                run,
                cancel,
                observer,
                saved,
            )
            .await
        }
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(e),
    };
    let mut report = outcome.as_ref().ok().map(|points| {
        let mut r = SweepReport::new(points.clone(), plan, latest.memory_mb);
        r.sizes_at_once = setup.sizes_at_once as u32;
        r.through_aliases = true;
        r
    });
    // Apply before cleaning up: an alias may keep the chosen size's version.
    let mut applied = Ok(());
    if let (Some(r), Some(to), false) = (&mut report, &plan.apply, cancel.is_cancelled()) {
        if let Some(mb) = r.recommended {
            applied = apply(d, to, mb, &latest, &mut created).await;
            if applied.is_ok() {
                r.applied = Some(match to {
                    ApplyTo::Latest => "$LATEST".to_string(),
                    ApplyTo::Alias(a) => a.clone(),
                });
                if *to == ApplyTo::Latest {
                    r.original_memory_mb = latest.memory_mb;
                }
            }
        }
    }
    let cleaned = clean_up(d, &created).await;
    let function = setup.config.runner.function.clone().unwrap_or_default();
    let cleaned = cleaned.map_err(|left| {
        Error::Backend(format!(
            "the sweep could not delete what it created ({left}); delete it by hand: \
             aws lambda delete-alias --function-name {function} --name <alias>, then \
             aws lambda delete-function --function-name {function} --qualifier <version>"
        ))
    });
    let points = outcome?;
    applied?;
    cleaned?;
    let _ = points;
    report.ok_or(Error::Cancelled)
}

/// Publishes `waves` versions of each size (the first behind the size's alias, the
/// others for the waves of cold starts after it), recording each in `created` as it
/// is made.
async fn publish_sizes(
    d: &dyn crate::runner::deployed::DeployedFunction,
    (plan, waves): (&SweepPlan, u32),
    run_id: &str,
    created: &mut Created,
    cancel: &CancellationToken,
) -> Result<()> {
    for &mb in &plan.memory_mb {
        for wave in 0..waves {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let description = if waves == 1 {
                format!("lgb sweep {run_id}: {mb} MB")
            } else {
                format!(
                    "lgb sweep {run_id}: {mb} MB, cold wave {}/{waves}",
                    wave + 1
                )
            };
            d.set_memory(mb, &description).await?;
            let v = d.publish_version(&description).await?;
            if created
                .versions
                .iter()
                .any(|(_, known)| *known == v.version)
            {
                return Err(Error::Backend(format!(
                    "PublishVersion answered with version {} again: $LATEST did not change",
                    v.version
                )));
            }
            created.versions.push((mb, v.version.clone()));
            if wave == 0 {
                let alias = alias_name(run_id, mb);
                d.put_alias(&alias, &v.version, &description).await?;
                created.aliases.push((mb, alias));
            }
        }
    }
    Ok(())
}

/// Deletes the aliases, then the versions, going on after a failure; what could not
/// be deleted, named.
async fn clean_up(
    d: &dyn crate::runner::deployed::DeployedFunction,
    created: &Created,
) -> std::result::Result<(), String> {
    let mut left = Vec::new();
    for (_, a) in &created.aliases {
        if let Err(e) = d.delete_alias(a).await {
            left.push(format!("alias {a}: {e}"));
        }
    }
    for (_, v) in &created.versions {
        if let Err(e) = d.delete_version(v).await {
            left.push(format!("version {v}: {e}"));
        }
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(left.join("; "))
    }
}

async fn apply(
    d: &dyn crate::runner::deployed::DeployedFunction,
    to: &ApplyTo,
    mb: u32,
    latest: &crate::runner::deployed::FunctionFacts,
    created: &mut Created,
) -> Result<()> {
    match to {
        ApplyTo::Latest => d.set_memory(mb, &latest.description).await,
        ApplyTo::Alias(alias) => {
            let i = created
                .versions
                .iter()
                .position(|(m, _)| *m == mb)
                .ok_or_else(|| Error::Internal(format!("no version of {mb} MB to apply")))?;
            let (_, version) = created.versions.remove(i);
            d.put_alias(alias, &version, &format!("lgb sweep: {mb} MB"))
                .await
        }
    }
}

/// Runs the sizes of `created` (their aliases) in groups of `sizes_at_once`, each
/// size through its own runner, into `run`; the load phase first, once, unless the
/// database lives in the worker (then every size loads its own).
#[allow(clippy::too_many_arguments)]
async fn measure(
    setup: &SweepSetup<'_>,
    d: &dyn crate::runner::deployed::DeployedFunction,
    created: &Created,
    original_mb: u32,
    run: &mut RunResult,
    cancel: &CancellationToken,
    observer: &dyn RunObserver,
    saved: &mut SweepSaver<'_>,
) -> Result<Vec<SweepPoint>> {
    use futures::future::join_all;
    let config = setup.config;
    let load_per_size = config.workload.load && database_in_worker(config);
    let aliases: Vec<(u32, &str)> = created
        .aliases
        .iter()
        .map(|(m, a)| (*m, a.as_str()))
        .collect();
    let d_invoker = |alias: &str| -> Result<Runner> {
        Ok(Runner::new(d.invoker_at(alias), config.runner.retries))
    };
    // The load goes through the run's own invoker (`$LATEST`, as deployed), so that
    // every size starts in new sandboxes of its version: its first workers cold.
    if config.workload.load && !load_per_size {
        let mut load = config.clone();
        load.tests.clear();
        setup
            .runner
            .run_into(&load, run, cancel.clone(), observer, &mut |r| {
                saved(r, None)
            })
            .await?;
        if run.status != RunStatus::Completed {
            return Ok(Vec::new());
        }
    }
    let shared = std::sync::Mutex::new((run, saved));
    let mut points: Vec<SweepPoint> = Vec::new();
    for group in aliases.chunks(setup.sizes_at_once.max(1)) {
        if cancel.is_cancelled() {
            break;
        }
        let sizes = group.iter().map(|&(mb, alias)| {
            let shared = &shared;
            async move {
                crate::results::faults::check(&format!("sweep-size:{mb}"))
                    .map_err(|e| Error::Backend(format!("measuring {mb} MB: {e}")))?;
                let mut runner = d_invoker(alias)?;
                let mut sized = config.clone();
                sized.workload.load = load_per_size;
                if setup.plan.only_cold_starts {
                    // Every wave of every test on a version of its own: new sandboxes.
                    sized.runner.cold_start = ColdStart::Force;
                    runner = runner.with_cold_starts(std::sync::Arc::new(VersionWaves::new(
                        d,
                        created,
                        (mb, alias),
                    )));
                }
                for t in &mut sized.tests {
                    t.name = sized_name(&t.name, mb);
                }
                let split = StartSplit::new(observer);
                let run_id = shared.lock().map_err(|_| poisoned())?.0.run_id.clone();
                let mut own = RunResult::begin(&sized, run_id);
                let outcome = runner
                    .run_into(&sized, &mut own, cancel.clone(), &split, &mut |r| {
                        let Some(mut t) = r.tests.last().cloned() else {
                            return Ok(());
                        };
                        if t.phase == Phase::Load {
                            t.name = sized_name(&t.name, mb);
                            t.test.name = t.name.clone();
                        }
                        let mut guard = shared.lock().map_err(|_| poisoned())?;
                        let (main, save) = &mut *guard;
                        main.push_test(t);
                        save(main, None)
                    })
                    .await;
                outcome.map(|()| (mb, alias, own, split.take()))
            }
        });
        let ended = join_all(sizes).await;
        let mut guard = shared.lock().map_err(|_| poisoned())?;
        let (main, save) = &mut *guard;
        let mut failed = None;
        for outcome in ended {
            let (mb, alias, own, split) = match outcome {
                Ok(x) => x,
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
            };
            let mut p = point(main, &own.tests, mb, &setup.prices, setup.plan, Some(split))?;
            p.version = created
                .versions
                .iter()
                .find(|(m, _)| *m == mb)
                .map(|(_, v)| v.clone());
            let _ = alias;
            points.push(p);
            if own.status != RunStatus::Completed && main.status != RunStatus::Cancelled {
                main.status = own.status;
            }
        }
        // Points in the order of the sizes given.
        points.sort_by_key(|p| setup.plan.memory_mb.iter().position(|m| *m == p.memory_mb));
        let report = SweepReport::new(points.clone(), setup.plan, original_mb);
        save(main, Some(&report))?;
        if let Some(e) = failed {
            return Err(e);
        }
        if cancel.is_cancelled() {
            main.status = RunStatus::Cancelled;
            break;
        }
        if main.status != RunStatus::Completed && main.status != RunStatus::Running {
            break;
        }
    }
    let mut guard = shared.lock().map_err(|_| poisoned())?;
    let (main, _) = &mut *guard;
    if main.status == RunStatus::Running {
        main.status = if cancel.is_cancelled() {
            RunStatus::Cancelled
        } else {
            RunStatus::Completed
        };
    }
    Ok(points)
}

fn poisoned() -> Error {
    Error::Internal("a sweep size panicked while saving".into())
}

/// The old way, for targets whose invoker belongs to one version (a Function URL):
/// `$LATEST`'s memory set size after size, one at a time, and restored afterwards.
async fn in_place(
    setup: &SweepSetup<'_>,
    control: &dyn FunctionControl,
    run: &mut RunResult,
    cancel: CancellationToken,
    observer: &dyn RunObserver,
    saved: &mut SweepSaver<'_>,
) -> Result<SweepReport> {
    let (runner, config, plan) = (setup.runner, setup.config, setup.plan);
    let original = control.settings().await?;
    let mut points = Vec::new();
    let outcome = sweep_sizes(
        setup,
        control,
        (run, &mut points, original.memory_mb),
        &cancel,
        observer,
        saved,
    )
    .await;
    let _ = runner;
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
    let mut report = match (outcome, restored) {
        (Ok(()), Ok(())) => SweepReport::new(points, plan, original.memory_mb),
        (Err(e), Ok(())) => return Err(e),
        (Ok(()), Err(r)) => return Err(r),
        (Err(e), Err(r)) => return Err(Error::Backend(format!("{e}; and {r}"))),
    };
    if let (Some(ApplyTo::Latest), Some(mb), false) =
        (&plan.apply, report.recommended, cancel.is_cancelled())
    {
        control.update(Some(mb), None).await?;
        report.applied = Some("$LATEST".into());
    } else if let Some(ApplyTo::Alias(_)) = &plan.apply {
        return Err(Error::config(
            "--apply",
            "applying to an alias needs a sweep through aliases (target `lambda`)",
        ));
    }
    Ok(report)
}

async fn sweep_sizes(
    setup: &SweepSetup<'_>,
    control: &dyn FunctionControl,
    (run, points, original_mb): (&mut RunResult, &mut Vec<SweepPoint>, u32),
    cancel: &CancellationToken,
    observer: &dyn RunObserver,
    saved: &mut SweepSaver<'_>,
) -> Result<()> {
    let (runner, config, plan) = (setup.runner, setup.config, setup.plan);
    let load_per_size = config.workload.load && database_in_worker(config);
    for (i, &mb) in plan.memory_mb.iter().enumerate() {
        if cancel.is_cancelled() {
            run.status = RunStatus::Cancelled;
            break;
        }
        crate::results::faults::check(&format!("sweep-size:{mb}"))
            .map_err(|e| Error::Backend(format!("setting the function to {mb} MB: {e}")))?;
        control.update(Some(mb), None).await?;
        let mut sized = config.clone();
        sized.workload.load = config.workload.load && (i == 0 || load_per_size);
        if plan.only_cold_starts {
            // Every wave of every test after a new environment nonce: new sandboxes
            // (the environment is restored with the memory afterwards).
            sized.runner.cold_start = ColdStart::Force;
        }
        for t in &mut sized.tests {
            t.name = sized_name(&t.name, mb);
        }
        let first = run.tests.len();
        let split = StartSplit::new(observer);
        runner
            .run_into(&sized, run, cancel.clone(), &split, &mut |r| {
                if load_per_size {
                    if let Some(t) = r.tests.last_mut().filter(|t| t.phase == Phase::Load) {
                        t.name = sized_name("load", mb);
                        t.test.name = t.name.clone();
                    }
                }
                saved(r, None)
            })
            .await?;
        points.push(point(
            run,
            &run.tests[first..],
            mb,
            &setup.prices,
            plan,
            Some(split.take()),
        )?);
        let report = SweepReport::new(points.clone(), plan, original_mb);
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
            mean_ns: p99_ms as f64 * 600_000.0,
            billed_gb_seconds: 1.0,
            cost_per_million_ops_usd: Some(cost),
            lambda_per_million_ops_usd: Some(cost / 2.0),
            database_per_million_ops_usd: Some(cost / 2.0),
            seen_memory_mb: vec![mb],
            workers: 2,
            cold_workers: 2,
            cold: None,
            warm: None,
            version: None,
        }
    }

    fn plan(p99_max: Option<Duration>) -> SweepPlan {
        SweepPlan::new(vec![128, 512, 1024], p99_max).unwrap()
    }

    #[test]
    fn recommends_cheapest_within_the_limit_fastest_and_best_product() {
        // Latency falls with memory, cost per op rises past 512.
        let points = vec![p(128, 40, 2.0), p(512, 12, 1.5), p(1024, 8, 2.5)];
        let r = SweepReport::new(points.clone(), &plan(Some(Duration::from_millis(20))), 256);
        assert_eq!((r.cheapest, r.recommended), (Some(512), Some(512)));
        assert_eq!(r.fastest, Some(1024));
        // 128: 80, 512: 18, 1024: 20.
        assert_eq!(r.best_cost_latency, Some(512));
        let r = SweepReport::new(points.clone(), &plan(Some(Duration::from_millis(10))), 256);
        assert_eq!(r.cheapest, Some(1024));
        let r = SweepReport::new(points.clone(), &plan(Some(Duration::from_millis(1))), 256);
        assert_eq!(r.cheapest, None);
        // A limit of 2^64 ns is no limit; cast with `as`, it was 0 ns and refused all.
        let huge = Duration::from_nanos(u64::MAX) + Duration::from_nanos(1);
        let r = SweepReport::new(points, &plan(Some(huge)), 256);
        assert_eq!(r.cheapest, Some(512));
    }

    #[test]
    fn strategies_follow_power_tunings_weights() {
        let points = vec![p(128, 40, 1.0), p(512, 12, 1.5), p(1024, 8, 4.0)];
        let mut pl = plan(None);
        pl.strategy = Strategy::Speed;
        assert_eq!(
            SweepReport::new(points.clone(), &pl, 256).recommended,
            Some(1024)
        );
        pl.strategy = Strategy::Balanced;
        // weight 0.5: 128: .5*.25+.5*1 = .625; 512: .5*.375+.5*.3 = .3375; 1024: .5+.1 = .6
        assert_eq!(
            SweepReport::new(points.clone(), &pl, 256).recommended,
            Some(512)
        );
        pl.weight = 1.0;
        assert_eq!(
            SweepReport::new(points.clone(), &pl, 256).recommended,
            Some(128)
        );
        pl.weight = 0.0;
        assert_eq!(
            SweepReport::new(points.clone(), &pl, 256).recommended,
            Some(1024)
        );
        // Speed by the trimmed mean instead of p99.
        let mut fast_mean = points.clone();
        fast_mean[0].mean_ns = 1.0;
        pl.strategy = Strategy::Speed;
        pl.rank_by = RankBy::Mean;
        assert_eq!(SweepReport::new(fast_mean, &pl, 256).recommended, Some(128));
    }

    #[test]
    fn plans_refuse_sizes_weights_and_shares_lambda_does_not_have() {
        assert!(SweepPlan::new(vec![128, 512], None).is_ok());
        for bad in [vec![], vec![64], vec![128, 128], vec![20_000]] {
            let e = SweepPlan::new(bad, None).unwrap_err();
            assert_eq!(e.config_problems()[0].path, "--memory");
        }
        let mut pl = plan(None);
        pl.weight = 1.5;
        assert_eq!(
            pl.check().unwrap_err().config_problems()[0].path,
            "--weight"
        );
        pl.weight = 0.5;
        pl.discard = 0.5;
        assert_eq!(
            pl.check().unwrap_err().config_problems()[0].path,
            "--discard"
        );
        pl.discard = 0.2;
        pl.apply = Some(ApplyTo::Alias("123".into()));
        assert_eq!(pl.check().unwrap_err().config_problems()[0].path, "--apply");
        pl.apply = Some(ApplyTo::Alias("live".into()));
        assert!(pl.check().is_ok());
        assert!("fast".parse::<Strategy>().is_err());
    }

    #[test]
    fn only_cold_starts_publish_a_version_per_wave_of_every_test() {
        let config = BenchmarkConfig::from_json_str(
            r#"{"database": {"type": "memory"}, "workload": {"records": 10},
                "runner": {"workers": 5, "max_in_flight": 2},
                "tests": [{"name": "a", "operation": {"type": "read"}},
                          {"name": "b", "operation": {"type": "read"}, "workers": 2}]}"#,
            &[],
        )
        .unwrap();
        let mut pl = plan(None);
        assert_eq!(versions_per_size(&config, &pl), 1);
        pl.only_cold_starts = true;
        // a: 5 workers in waves of 2 (3), b: 2 (1); the load phase is not measured.
        assert_eq!(versions_per_size(&config, &pl), 4);
    }

    #[test]
    fn the_trimmed_mean_leaves_out_both_ends() {
        let mut h = LatencyHistogram::new();
        for ns in [1_000u64, 2_000, 2_000, 2_000, 1_000_000] {
            h.record_ns(ns);
        }
        // 20% of 5 is one sample off each end: 2,000 ns each (within 0.1%).
        let m = trimmed_mean_ns(&h, 0.2);
        assert!((m - 2_000.0).abs() < 2.0, "{m}");
        assert!(trimmed_mean_ns(&h, 0.0) > 200_000.0);
        assert_eq!(trimmed_mean_ns(&LatencyHistogram::new(), 0.2), 0.0);
    }

    #[test]
    fn alias_names_are_unique_per_sweep_and_valid() {
        let a = alias_name("20260101T000000Z-bench-sweep-3fa2", 1769);
        assert_eq!(a, "lgb-sweep-3fa2-1769");
        assert_ne!(a, alias_name("20260101T000000Z-bench-sweep-77aa", 1769));
    }
}
