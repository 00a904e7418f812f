//! A worker request, whatever its bytes, never crashes the worker: decoding never
//! panics, a decoded request round-trips unchanged, and a decoded request goes through
//! the whole `Worker::handle` (version check, `check_limits`, adapter, operation,
//! key choosers, executor, verification, result sizing) against the `noop` database,
//! which answers a result every time — a failed one always saying why.
//!
//! Each request is handled twice, so that one input costs milliseconds:
//! 1. as sent (only the database forced to `noop`), with the run cancelled before it
//!    starts: the limits check and everything the worker builds see the raw values;
//! 2. if the worker accepted it, once more with what costs time clamped small (tasks,
//!    duration, warmup, operations, record size, and the records of a load phase) and
//!    a 50 ms backstop cancellation, so that operations really run over the key space
//!    sent and their results are measured.
#![no_main]
use std::sync::LazyLock;
use std::time::Duration;

use lgb_core::config::DatabaseConfig;
use lgb_core::protocol::{Phase, WorkerRequest, WorkerResult, WorkerStatus};
use lgb_core::units::{ByteSize, HumanDuration};
use lgb_core::worker::Worker;
use libfuzzer_sys::fuzz_target;
use tokio_util::sync::CancellationToken;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
});
/// One worker for the whole run, as a warm Lambda keeps it (adapters cached).
static WORKER: LazyLock<Worker> = LazyLock::new(Worker::default);

/// Most the clamped run may take before it is cancelled.
const BACKSTOP: Duration = Duration::from_millis(50);

fn handle(req: &WorkerRequest, cancel: CancellationToken) -> WorkerResult {
    RUNTIME.block_on(async {
        let stop = cancel.clone();
        let backstop = tokio::spawn(async move {
            tokio::time::sleep(BACKSTOP).await;
            stop.cancel();
        });
        let result = WORKER.handle(req, cancel, None).await;
        backstop.abort();
        result
    })
}

/// What every result must be, whatever the request.
fn check(req: &WorkerRequest, r: &WorkerResult) {
    assert_eq!(r.run_id, req.run_id);
    assert_eq!(r.phase, req.phase);
    assert_eq!(r.worker, req.worker);
    match r.status {
        WorkerStatus::Failed => assert!(
            r.error.as_deref().is_some_and(|e| !e.trim().is_empty()),
            "a failed result says why: {r:?}"
        ),
        WorkerStatus::Completed | WorkerStatus::Cancelled => {
            assert!(r.error.is_none(), "only a failed result has an error: {r:?}")
        }
    }
    // The worker sends its result as JSON, and the runner reads it back.
    let json = serde_json::to_vec(r).expect("a worker result encodes");
    serde_json::from_slice::<WorkerResult>(&json).expect("and the runner decodes it");
}

/// The request with every size that costs time or memory made small.
fn clamped(req: &WorkerRequest) -> WorkerRequest {
    let mut req = req.clone();
    let small = |d: HumanDuration, max: u64| HumanDuration(d.0.min(Duration::from_millis(max)));
    let t = &mut req.test;
    t.concurrency = t.concurrency.min(2);
    t.warmup = small(t.warmup, 1);
    t.timeout = small(t.timeout, 1000);
    t.operations = t.operations.map(|n| n.min(200));
    t.duration = match (t.duration, t.operations) {
        (Some(d), _) => Some(small(d, 2)),
        (None, Some(_)) => None,
        // The 10 s default.
        (None, None) => Some(HumanDuration::millis(2)),
    };
    let w = &mut req.workload;
    // Records cost time only when loaded; a run phase keeps the key space it was sent
    // (key numbers near u64::MAX and all).
    if req.phase == Phase::Load {
        w.records = w.records.min(64);
    }
    w.fields = w.fields.min(8);
    w.field_size = ByteSize(w.field_size.0.min(64));
    w.load_concurrency = w.load_concurrency.min(2);
    w.load_batch = w.load_batch.min(16);
    req
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut req) = lgb_core::protocol::decode_request(data) else {
        return;
    };
    // Round trip: what decodes must encode and decode to the same request.
    let json = serde_json::to_vec(&req).expect("a decoded request encodes");
    let again = lgb_core::protocol::decode_request(&json).expect("and decodes again");
    assert_eq!(again, req);

    // The noop adapter, with the options the input gives it (a bad one is refused).
    if req.database.kind != "noop" {
        req.database = DatabaseConfig::new("noop");
    }

    // 1. As sent, stopped before the first operation.
    let stopped = CancellationToken::new();
    stopped.cancel();
    let r = handle(&req, stopped);
    check(&req, &r);
    if r.status == WorkerStatus::Failed {
        return;
    }

    // 2. Small, and run.
    let small = clamped(&req);
    let r = handle(&small, CancellationToken::new());
    check(&small, &r);
});
