//! Running the executor directly on a scripted adapter with a virtual clock, so that
//! the true latency of every operation is known.

use std::sync::Arc;

use lgb_core::clock::VirtualClock;
use lgb_core::config::Distribution;
use lgb_core::config::OperationConfig;
use lgb_core::database::scripted::{ScriptedDatabase, ScriptedOptions};
use lgb_core::database::Database;
use lgb_core::executor::{execute, Execution, ExecutionPlan};
use lgb_core::operation::{OpContext, OperationRegistry, WorkerKeys};
use lgb_core::workload::keys::{KeyChooser, KeyFormatter};
use lgb_core::workload::records::RecordGenerator;
use tokio_util::sync::CancellationToken;

pub fn contexts(n: u32, records: u64) -> Vec<OpContext> {
    let shared = Arc::new(WorkerKeys::new(records, 0, 1));
    let gen = Arc::new(RecordGenerator::new(1, 2, 8));
    (0..n)
        .map(|t| {
            OpContext::new(
                u64::from(t),
                KeyChooser::new(&Distribution::Uniform, records, None, 0, 1),
                KeyFormatter::new("k"),
                gen.clone(),
                shared.clone(),
            )
        })
        .collect()
}

/// Runs `op` on a scripted database (virtual clock) with `options` JSON.
pub async fn run_scripted(
    options: serde_json::Value,
    op: &str,
    plan: ExecutionPlan,
) -> (Execution, ScriptedDatabaseHandle) {
    let clock = VirtualClock::new();
    let opts: ScriptedOptions = serde_json::from_value(options).unwrap();
    let db = Arc::new(ScriptedDatabase::with_virtual_clock(opts, clock.clone()).unwrap());
    let strategy = OperationRegistry::default()
        .build(&OperationConfig::new(op), 10)
        .unwrap();
    let exec = execute(
        plan,
        strategy,
        db.clone() as Arc<dyn Database>,
        contexts(plan.concurrency, 1000),
        clock,
        CancellationToken::new(),
        None,
    )
    .await
    .unwrap();
    (exec, ScriptedDatabaseHandle(db))
}

pub struct ScriptedDatabaseHandle(pub Arc<ScriptedDatabase>);

/// The exact `q` quantile of `values` by HdrHistogram's definition: the smallest value
/// with at least `q` of the samples at or below it.
pub fn true_quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Whether `reported` equals `truth` within HdrHistogram's 3 significant digits.
pub fn within_precision(reported: u64, truth: u64) -> bool {
    let tol = (truth as f64 * 0.001).max(1.0);
    (reported as f64 - truth as f64).abs() <= tol
}

/// Runs `config` in this process (local workers), as `lgb run` does, to the end.
pub async fn run_local(config: &lgb_core::config::BenchmarkConfig) -> lgb_core::results::RunResult {
    lgb_core::runner::Runner::new(Arc::new(lgb_core::runner::LocalInvoker::default()), 0)
        .run(config, CancellationToken::new(), &lgb_core::runner::Silent)
        .await
        .unwrap_or_else(|e| panic!("the local run failed: {e}"))
}
