//! Runs one test inside one worker: `concurrency` tasks, each performing operations of a
//! strategy against a database, closed loop or open loop at a target rate.
//!
//! In open-loop mode every operation has an intended start time on a fixed schedule;
//! its latency is measured from that time, so a stall delays the operations behind it
//! and shows up in the tail (coordinated omission corrected). The service time, from
//! the moment the operation actually started, is kept as well.
//!
//! This module owns timing and stopping. It must not know any database: everything it
//! measures goes through [`Strategy::execute`] and a [`Clock`].

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::database::Database;
use crate::error::{Error, Result};
use crate::metrics::{OperationMetrics, SecondRecorder, TestMetrics, Timeline};
use crate::operation::{Begun, KeySet, OpContext, Strategy};
use crate::record::OpMeta;

/// How one test runs in one worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecutionPlan {
    /// Concurrent tasks.
    pub concurrency: u32,
    /// Measured time after warmup; `None` runs until `operations` are done.
    pub duration: Option<Duration>,
    /// Measured operations to perform; `None` runs for `duration`.
    pub operations: Option<u64>,
    /// Time before measuring; operations in it are not recorded.
    pub warmup: Duration,
    /// Open-loop rate of this worker in operations per second; closed loop if `None`.
    pub rate: Option<f64>,
    /// Deadline of one operation.
    pub timeout: Duration,
}

impl Default for ExecutionPlan {
    fn default() -> Self {
        Self {
            concurrency: 1,
            duration: Some(Duration::from_secs(10)),
            operations: None,
            warmup: Duration::ZERO,
            rate: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Live counters for progress bars, updated by tasks in small batches.
#[derive(Debug, Default)]
pub struct Progress {
    /// Measured operations finished.
    pub ops: AtomicU64,
    /// Measured operations that failed.
    pub errors: AtomicU64,
    /// Whether measuring has started (warmup is over).
    pub measuring: AtomicBool,
}

/// What [`execute`] measured.
#[derive(Debug, Clone, Default)]
pub struct Execution {
    /// Metrics of the measured window.
    pub metrics: TestMetrics,
    /// Unix time (ms) at which measuring started.
    pub start_unix_ms: i64,
    /// Length of the measured window in nanoseconds.
    pub window_ns: u64,
    /// Whether the run was cancelled before its planned end.
    pub cancelled: bool,
    /// Operations performed during warmup (not in the metrics).
    pub warmup_ops: u64,
    /// Keys whose writes were acknowledged, when the contexts tracked them.
    pub acked: Option<KeySet>,
    /// Latency (ns) of the first operation to finish, warmup included: what a cold
    /// sandbox's first request pays for new connections.
    pub first_op_ns: Option<u64>,
}

struct Shared<C: Clock> {
    plan: ExecutionPlan,
    strategy: Strategy,
    db: Arc<dyn Database>,
    clock: C,
    cancel: CancellationToken,
    /// Set once `cancel` fires. Tasks read this flag rather than the token, whose
    /// `is_cancelled` takes a mutex: a lock per operation that an in-process database
    /// would feel.
    stopped: Arc<AtomicBool>,
    progress: Option<Arc<Progress>>,
    timeline: Mutex<Timeline>,
    kinds: Vec<String>,
    measure_start_ns: u64,
    deadline_ns: Option<u64>,
    /// Measured operations handed out to tasks (in blocks: [`Shared::claim`]).
    tickets: AtomicU64,
    next_slot: AtomicU64,
    interval_ns: Option<f64>,
    /// Unix time minus clock time at the start ([`Clock::unix_offset_ns`]); each task's
    /// [`Interval`] reads it again at every second boundary.
    origin_unix_ns: i128,
    /// Latency of the first operation to finish; 0 until one has.
    first_op_ns: AtomicU64,
}

/// What one task measured.
struct TaskResult {
    ops: Vec<OperationMetrics>,
    end_ns: u64,
    warmup_ops: u64,
    acked: Option<KeySet>,
}

/// Runs `strategy` against `db` according to `plan`. `contexts` gives each task's
/// [`OpContext`] (one per task). Cancelling `cancel` stops the run; what was measured
/// until then is returned with `cancelled` set.
pub async fn execute<C: Clock>(
    plan: ExecutionPlan,
    strategy: Strategy,
    db: Arc<dyn Database>,
    contexts: Vec<OpContext>,
    clock: C,
    cancel: CancellationToken,
    progress: Option<Arc<Progress>>,
) -> Result<Execution> {
    if contexts.is_empty() {
        return Err(Error::config("concurrency", "must be at least 1"));
    }
    let start_ns = clock.now_ns();
    // Saturating: a plan built in code may carry any `Duration`; a sum past the end of
    // the clock means "never", not a wrapped instant in the past.
    let measure_start_ns = start_ns.saturating_add(nanos(plan.warmup));
    let kinds = strategy.kinds();
    let stopped = Arc::new(AtomicBool::new(cancel.is_cancelled()));
    let _watcher = AbortOnDrop(tokio::spawn({
        let (cancel, stopped) = (cancel.clone(), stopped.clone());
        async move {
            cancel.cancelled().await;
            stopped.store(true, Ordering::Relaxed);
        }
    }));
    let shared = Arc::new(Shared {
        deadline_ns: plan
            .duration
            .map(|d| measure_start_ns.saturating_add(nanos(d))),
        interval_ns: plan.rate.map(|r| 1e9 / r),
        origin_unix_ns: clock.unix_offset_ns(),
        plan,
        strategy,
        db,
        clock,
        cancel,
        stopped,
        progress,
        timeline: Mutex::new(Timeline::default()),
        kinds,
        measure_start_ns,
        tickets: AtomicU64::new(0),
        next_slot: AtomicU64::new(0),
        first_op_ns: AtomicU64::new(0),
    });

    let mut handles = Vec::with_capacity(contexts.len());
    for ctx in contexts {
        let s = shared.clone();
        handles.push(tokio::spawn(
            async move { run_task(&s, ctx, start_ns).await },
        ));
    }
    let mut metrics = TestMetrics::default();
    let mut per_kind: Vec<OperationMetrics> = shared
        .kinds
        .iter()
        .map(|_| OperationMetrics::new(plan.rate.is_some()))
        .collect();
    let mut end_ns = measure_start_ns;
    let mut warmup_ops = 0u64;
    let mut acked: Option<KeySet> = None;
    for h in handles {
        match h.await {
            Ok(Ok(t)) => {
                for (mine, theirs) in per_kind.iter_mut().zip(&t.ops) {
                    mine.merge(theirs)?;
                }
                end_ns = end_ns.max(t.end_ns);
                warmup_ops = t.warmup_ops.saturating_add(warmup_ops);
                if let Some(set) = &t.acked {
                    acked.get_or_insert_with(KeySet::default).union(set);
                }
            }
            Ok(Err(e)) => metrics.errors.record(&e),
            Err(join) => metrics
                .errors
                .record(&Error::Internal(format!("a benchmark task failed: {join}"))),
        }
    }
    for (name, m) in shared.kinds.iter().zip(per_kind) {
        metrics.operations.insert(name.clone(), m);
    }
    metrics.timeline = std::mem::take(
        &mut *shared
            .timeline
            .lock()
            .map_err(|_| Error::Internal("timeline lock poisoned".into()))?,
    );
    let cancelled = shared.cancel.is_cancelled();
    let window_ns = match (shared.deadline_ns, cancelled) {
        // A timed run that ended normally measured exactly its planned window.
        (Some(d), false) => d
            .saturating_sub(measure_start_ns)
            .max(end_ns.saturating_sub(measure_start_ns)),
        _ => end_ns.saturating_sub(measure_start_ns),
    };
    Ok(Execution {
        metrics,
        start_unix_ms: i64::try_from(
            (shared.origin_unix_ns + i128::from(measure_start_ns)) / 1_000_000,
        )
        .unwrap_or(i64::MAX),
        window_ns,
        cancelled,
        warmup_ops,
        acked,
        first_op_ns: match shared.first_op_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(ns),
        },
    })
}

impl<C: Clock> Shared<C> {
    /// Claims the next block of the `total` measured operations for one task: up to 256
    /// at a time while many are left, fewer towards the end so that the last ones
    /// spread over the tasks; 0 when all are handed out. Exactly `total` are handed
    /// out in all, and a task takes one atomic operation per block, not per operation.
    #[inline]
    fn claim(&self, total: u64) -> u64 {
        let tasks = u64::from(self.plan.concurrency.max(1));
        let mut done = self.tickets.load(Ordering::Relaxed);
        loop {
            if done >= total {
                return 0;
            }
            let left = total - done;
            let block = (left / tasks.saturating_mul(8)).clamp(1, 256);
            match self.tickets.compare_exchange_weak(
                done,
                done + block,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return block,
                Err(now) => done = now,
            }
        }
    }
}

/// `d` in nanoseconds, `u64::MAX` when it does not fit (584 years and more).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Aborts a task when dropped, whichever way [`execute`] returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Per-second counters of one task, flushed into the shared timeline at each boundary.
/// A success's latency is recorded here only; each flush folds the second's buckets
/// into the task's totals, so an operation costs one histogram record, not two. The
/// recorder allocates pages only where latencies fall, not a full histogram per kind.
///
/// Seconds are wall-clock seconds: at each boundary the clock's offset to Unix time is
/// read again ([`Clock::unix_offset_ns`]), so that a calibrated counter's drift does
/// not carry a long test's seconds away from the wall clock (and from other workers').
struct Interval {
    second: i64,
    boundary_ns: u64,
    ops: Vec<u64>,
    errors: Vec<u64>,
    latency: Vec<SecondRecorder>,
}

impl Interval {
    fn new(kinds: usize) -> Self {
        Self {
            second: i64::MIN,
            boundary_ns: 0,
            ops: vec![0; kinds],
            errors: vec![0; kinds],
            latency: (0..kinds).map(|_| SecondRecorder::default()).collect(),
        }
    }

    fn start_at<C: Clock>(&mut self, s: &Shared<C>, now_ns: u64) {
        let offset = s.clock.unix_offset_ns();
        let unix_ns = offset.saturating_add(i128::from(now_ns));
        let second = unix_ns.div_euclid(1_000_000_000);
        self.second = i64::try_from(second).unwrap_or(i64::MAX);
        let boundary = second
            .saturating_add(1)
            .saturating_mul(1_000_000_000)
            .saturating_sub(offset);
        // The start of the next wall-clock second, always after `now_ns`.
        self.boundary_ns = u64::try_from(boundary.max(0)).unwrap_or(u64::MAX);
    }

    fn flush<C: Clock>(&mut self, s: &Shared<C>, totals: &mut [OperationMetrics]) -> Result<()> {
        if self.ops.iter().all(|&n| n == 0) {
            return Ok(());
        }
        let mut t = s
            .timeline
            .lock()
            .map_err(|_| Error::Internal("timeline lock poisoned".into()))?;
        for (i, name) in s.kinds.iter().enumerate() {
            if self.ops[i] > 0 {
                let latency = self.latency[i].take_into(&mut totals[i].latency);
                t.add(self.second, name, self.ops[i], self.errors[i], &latency)?;
                self.ops[i] = 0;
                self.errors[i] = 0;
            }
        }
        Ok(())
    }
}

/// How an operation ended under its deadline and the run's cancellation.
enum Finished<T> {
    /// It returned.
    Done(T),
    /// Its deadline passed first.
    TimedOut,
    /// The run was stopped while it was in flight.
    Abandoned,
}

/// Awaits `fut` with a deadline, giving up on it when `cancel` fires. A future that is
/// ready on its first poll (an in-process database) never arms a timer, which keeps
/// the hot path cheap.
#[inline]
async fn with_timeout<F: Future>(
    fut: F,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Finished<F::Output> {
    let mut fut = pin!(fut);
    let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(v) => Finished::Done(v),
        Poll::Pending => tokio::select! {
            r = tokio::time::timeout(timeout, fut) => r.map_or(Finished::TimedOut, Finished::Done),
            // A stopped run does not wait for a stalled database: Ctrl-C, SIGTERM and
            // a Lambda deadline take effect at once, and the operation, whose outcome
            // is unknown, is left out of the results.
            _ = cancel.cancelled() => Finished::Abandoned,
        },
    }
}

const PROGRESS_EVERY: u64 = 256;
/// An in-process database completes operations without ever returning `Pending`, so a
/// task would never give its thread back: timers, signal handlers and cancellation
/// would starve. A task yields once this long has passed since it last did (each
/// yield lets the runtime poll its I/O driver, a system call: every 128 operations,
/// as before, that was 5-10 ns per no-op operation)...
const YIELD_AFTER_NS: u64 = 1_000_000;
/// ... or after this many operations, whichever comes first (a clock that does not
/// move, as a virtual one in tests, still yields).
const YIELD_EVERY: u32 = 16_384;

async fn run_task<C: Clock>(
    s: &Shared<C>,
    mut ctx: OpContext,
    start_ns: u64,
) -> Result<TaskResult> {
    let plan = &s.plan;
    let mut ops: Vec<OperationMetrics> = s
        .kinds
        .iter()
        .map(|_| OperationMetrics::new(plan.rate.is_some()))
        .collect();
    let mut interval = Interval::new(s.kinds.len());
    let mut warmup_ops = 0u64;
    let mut pending_progress = (0u64, 0u64);
    let mut last_end = start_ns;
    let db: &dyn Database = &*s.db;
    let mut since_yield = 0u32;
    let mut first_done = false;
    // Measured operations this task may still start (claimed from `s.tickets`).
    let mut tickets = 0u64;

    let mut yielded_at = start_ns;

    loop {
        since_yield += 1;
        if since_yield >= YIELD_EVERY || last_end.saturating_sub(yielded_at) >= YIELD_AFTER_NS {
            since_yield = 0;
            yielded_at = last_end;
            tokio::task::yield_now().await;
            // Also ask the token itself, in case the flag's watcher has not run yet.
            if s.cancel.is_cancelled() {
                break;
            }
        }
        if s.stopped.load(Ordering::Relaxed) {
            break;
        }
        // Before the operation's clock starts.
        ctx.prepare();
        // When should this operation start?
        let intended = match s.interval_ns {
            Some(iv) => {
                let slot = s.next_slot.fetch_add(1, Ordering::Relaxed);
                // `as` from a float saturates; the sum saturates too.
                let at = start_ns.saturating_add((slot as f64 * iv) as u64);
                if s.deadline_ns.is_some_and(|d| at >= d) {
                    break;
                }
                tokio::select! {
                    _ = s.clock.sleep_until(at) => {}
                    _ = s.cancel.cancelled() => break,
                }
                at
            }
            None => s.clock.now_ns(),
        };
        let measured = intended >= s.measure_start_ns;
        if measured {
            if let Some(d) = s.deadline_ns {
                if intended >= d {
                    break;
                }
            }
            if let Some(total) = plan.operations {
                if tickets == 0 {
                    tickets = s.claim(total);
                    if tickets == 0 {
                        break;
                    }
                }
                tickets -= 1;
            }
        }
        let start = if s.interval_ns.is_some() {
            s.clock.now_ns()
        } else {
            intended
        };
        // What follows an operation that ended at `end` with `outcome` (`None`: it
        // timed out). A macro, expanded for an in-process store's answer and for an
        // awaited one, so that the first is handled where `begin` returned it: a value
        // that may be held across an await lives in the task's future, and was copied
        // into it and out of it per operation.
        macro_rules! settle {
            ($end:expr, $outcome:expr) => {{
                let end: u64 = $end;
                note_first(s, &mut first_done, start, end);
                // The measured window runs to the stop even when the last operation is
                // dropped.
                last_end = end;
                let outcome: Option<(usize, Result<OpMeta>)> = $outcome;
                if ctx.done {
                    break;
                }
                if !measured {
                    warmup_ops += 1;
                    ctx.item_failures.clear();
                    continue;
                }
                if end >= interval.boundary_ns {
                    interval.flush(s, &mut ops)?;
                    interval.start_at(s, end);
                }
                let (kind, result) = match outcome {
                    Some(r) => r,
                    None => (
                        0,
                        Err(Error::Timeout(format!(
                            "operation took longer than {:?}",
                            plan.timeout
                        ))),
                    ),
                };
                let m = &mut ops[kind];
                interval.ops[kind] += 1;
                match result {
                    Ok(meta) => {
                        record_ok(m, &mut interval, kind, intended, start, end, &meta);
                    }
                    Err(e) => {
                        m.record_err(intended, end, &e);
                        interval.errors[kind] += 1;
                        pending_progress.1 += 1;
                    }
                }
                for f in ctx.item_failures.drain(..) {
                    m.errors
                        .record_class(f.class, || format!("item {}: {}", f.index, f.message));
                }
                pending_progress.0 += 1;
                if pending_progress.0 >= PROGRESS_EVERY {
                    flush_progress(s, &mut pending_progress);
                }
            }};
        }
        // An in-process store answers in `begin`: no future is made or polled.
        let (kind, rest) = match s.strategy.begin(&mut ctx, db) {
            Begun::Done(kind, out) => {
                settle!(s.clock.now_ns(), Some((kind, out)));
                continue;
            }
            Begun::Waiting(kind, rest) => (kind, rest),
        };
        let finished = {
            // Pinned where it is made: handing the future over by value copied it per
            // operation.
            let op = pin!(s.strategy.finish(kind, rest, &mut ctx, db));
            with_timeout(op, plan.timeout, &s.cancel).await
        };
        let end = s.clock.now_ns();
        match finished {
            Finished::Done(r) => settle!(end, Some(r)),
            Finished::TimedOut => settle!(end, None),
            Finished::Abandoned => {
                // The run stopped; the operation, whose outcome is unknown, is left out.
                note_first(s, &mut first_done, start, end);
                last_end = end;
                break;
            }
        }
    }
    interval.flush(s, &mut ops)?;
    flush_progress(s, &mut pending_progress);
    Ok(TaskResult {
        ops,
        end_ns: last_end,
        warmup_ops,
        acked: ctx.acked.take(),
    })
}

/// Sets the run's first-operation latency (`end - start`) if this is the task's first
/// operation and no other task has set it (0 means unset).
#[inline]
fn note_first<C: Clock>(s: &Shared<C>, first_done: &mut bool, start: u64, end: u64) {
    if !*first_done {
        *first_done = true;
        let _ = s.first_op_ns.compare_exchange(
            0,
            end.saturating_sub(start).max(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// [`OperationMetrics::record_ok`], but with the latency recorded in the interval only
/// (see [`Interval`]).
#[inline]
fn record_ok(
    m: &mut OperationMetrics,
    interval: &mut Interval,
    kind: usize,
    intended: u64,
    start: u64,
    end: u64,
    meta: &OpMeta,
) {
    m.ok += 1;
    if let Some(service) = &mut m.service {
        service.record_ns(end.saturating_sub(start));
    }
    m.meta.add(meta);
    interval.latency[kind].record_ns(end.saturating_sub(intended));
}

fn flush_progress<C: Clock>(s: &Shared<C>, pending: &mut (u64, u64)) {
    if let Some(p) = &s.progress {
        p.measuring.store(true, Ordering::Relaxed);
        p.ops.fetch_add(pending.0, Ordering::Relaxed);
        p.errors.fetch_add(pending.1, Ordering::Relaxed);
    }
    *pending = (0, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VirtualClock;
    use crate::config::Distribution;
    use crate::database::noop::NoopDatabase;
    use crate::operation::{Mix, Step, WorkerKeys};
    use crate::workload::keys::{KeyChooser, KeyFormatter};
    use crate::workload::records::RecordGenerator;

    fn contexts(n: u64) -> Vec<OpContext> {
        let shared = Arc::new(WorkerKeys::new(10, 0, 1));
        let records = Arc::new(RecordGenerator::new(1, 1, 8));
        (0..n)
            .map(|t| {
                OpContext::new(
                    t,
                    KeyChooser::new(&Distribution::Uniform, 10, None, t, n),
                    KeyFormatter::new("k"),
                    records.clone(),
                    shared.clone(),
                )
            })
            .collect()
    }

    async fn run(plan: ExecutionPlan, cancel: CancellationToken) -> Execution {
        let clock = VirtualClock::new();
        // Not at zero: a sum from here past `u64::MAX` would overflow.
        clock.advance(Duration::from_secs(1));
        execute(
            plan,
            Strategy::Builtin(Mix::single("read", Step::Read)),
            Arc::new(NoopDatabase::default()),
            contexts(1),
            clock,
            cancel,
            None,
        )
        .await
        .expect("the run ends")
    }

    #[test]
    fn nanos_saturate_instead_of_wrapping() {
        assert_eq!(nanos(Duration::from_millis(1500)), 1_500_000_000);
        assert_eq!(nanos(Duration::from_nanos(u64::MAX)), u64::MAX);
        // `as u64` would keep the low 64 bits of 2^64 ns: 0.
        assert_eq!(
            nanos(Duration::from_nanos(u64::MAX) + Duration::from_nanos(1)),
            u64::MAX
        );
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }

    #[tokio::test]
    async fn durations_past_the_clock_saturate_to_never() {
        // A deadline beyond the clock's range: the run ends on its operation count.
        let plan = ExecutionPlan {
            duration: Some(Duration::MAX),
            operations: Some(3),
            ..ExecutionPlan::default()
        };
        let e = run(plan, CancellationToken::new()).await;
        assert!(!e.cancelled);
        assert_eq!(e.metrics.ok() + e.metrics.failed(), 3);
        // A warmup beyond it: nothing is ever measured, and stopping still works.
        let plan = ExecutionPlan {
            warmup: Duration::MAX,
            duration: Some(Duration::MAX),
            ..ExecutionPlan::default()
        };
        let cancel = CancellationToken::new();
        cancel.cancel();
        let e = run(plan, cancel).await;
        assert!(e.cancelled);
        assert_eq!(e.metrics.ok(), 0);
        assert_eq!(e.window_ns, 0);
        assert!(e.start_unix_ms > 1_700_000_000_000, "{}", e.start_unix_ms);
    }

    #[tokio::test]
    async fn claimed_blocks_hand_out_exactly_the_planned_operations() {
        for (tasks, total) in [(1u64, 1u64), (1, 5_000), (7, 1_001), (7, 3), (64, 100_003)] {
            let clock = VirtualClock::new();
            clock.advance(Duration::from_secs(1));
            let plan = ExecutionPlan {
                concurrency: tasks as u32,
                duration: None,
                operations: Some(total),
                ..ExecutionPlan::default()
            };
            let e = execute(
                plan,
                Strategy::Builtin(Mix::single("read", Step::Read)),
                Arc::new(NoopDatabase::default()),
                contexts(tasks),
                clock,
                CancellationToken::new(),
                None,
            )
            .await
            .expect("the run ends");
            assert_eq!(e.metrics.ok() + e.metrics.failed(), total, "{tasks} tasks");
        }
    }

    /// A closed-loop run on the real clock (the time-stamp counter where it is
    /// invariant): its window and latencies fit inside what `Instant` measured around
    /// it, and its seconds inside the wall clock's.
    #[tokio::test]
    async fn a_run_on_the_system_clock_agrees_with_instant() {
        use crate::clock::SystemClock;
        for clock in [SystemClock::new(), SystemClock::os()] {
            let wall_before = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let before = std::time::Instant::now();
            let plan = ExecutionPlan {
                duration: Some(Duration::from_millis(400)),
                ..ExecutionPlan::default()
            };
            let source = clock.source();
            let e = execute(
                plan,
                Strategy::Builtin(Mix::single("read", Step::Read)),
                Arc::new(NoopDatabase::default()),
                contexts(1),
                clock,
                CancellationToken::new(),
                None,
            )
            .await
            .expect("the run ends");
            let elapsed = before.elapsed();
            let wall_after = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let window = Duration::from_nanos(e.window_ns);
            assert!(
                window >= Duration::from_millis(400),
                "{source:?}: {window:?}"
            );
            assert!(
                window <= elapsed + Duration::from_micros(50),
                "{source:?}: window {window:?}, Instant {elapsed:?}"
            );
            let m = &e.metrics.operations["read"];
            assert!(m.ok > 1000, "{source:?}: {}", m.ok);
            let max = Duration::from_nanos(m.latency.summary().max_ns);
            assert!(max <= elapsed, "{source:?}: {max:?}");
            let seconds: Vec<i64> = e.metrics.timeline.points().map(|p| p.second).collect();
            assert!(
                seconds
                    .iter()
                    .all(|s| (wall_before..=wall_after).contains(s)),
                "{source:?}: {seconds:?} outside {wall_before}..={wall_after}"
            );
            assert_eq!(
                e.metrics.timeline.points().map(|p| p.ops).sum::<u64>(),
                m.ok + m.failed
            );
        }
    }

    /// A clock whose counter runs 100 ppm fast against the wall clock (a virtual one),
    /// as a badly calibrated time-stamp counter would: 84 ms over 14 minutes.
    #[derive(Clone, Default)]
    struct FastClock {
        wall: VirtualClock,
    }

    impl FastClock {
        fn reading(wall: u64) -> u64 {
            wall + wall / 10_000
        }

        /// The first wall time at which the counter reads at least `deadline`.
        fn wall_at(deadline: u64) -> u64 {
            let mut w = deadline - deadline / 10_001;
            while Self::reading(w) < deadline {
                w += 1;
            }
            while w > 0 && Self::reading(w - 1) >= deadline {
                w -= 1;
            }
            w
        }
    }

    impl Clock for FastClock {
        fn now_ns(&self) -> u64 {
            Self::reading(self.wall.now_ns())
        }
        async fn sleep_until(&self, deadline_ns: u64) {
            self.wall.sleep_until(Self::wall_at(deadline_ns)).await;
        }
        fn origin_unix_ms(&self) -> i64 {
            self.wall.origin_unix_ms()
        }
        fn unix_offset_ns(&self) -> i128 {
            let wall = self.wall.now_ns();
            i128::from(self.origin_unix_ms()) * 1_000_000 + i128::from(wall)
                - i128::from(Self::reading(wall))
        }
    }

    /// A 14-minute open-loop test at 100 ops/s on a counter 100 ppm fast: every
    /// operation is counted in the wall-clock second it ended in (to within the
    /// drift of one second, 100 µs), so the last seconds are not 84 ms late.
    #[tokio::test]
    async fn timeline_seconds_follow_the_wall_clock_over_a_long_test() {
        let clock = FastClock::default();
        clock.wall.advance(Duration::from_millis(1_250));
        let start = clock.now_ns();
        let plan = ExecutionPlan {
            rate: Some(100.0),
            duration: Some(Duration::from_secs(14 * 60)),
            ..ExecutionPlan::default()
        };
        let e = execute(
            plan,
            Strategy::Builtin(Mix::single("read", Step::Read)),
            Arc::new(NoopDatabase::default()),
            contexts(1),
            clock.clone(),
            CancellationToken::new(),
            None,
        )
        .await
        .expect("the run ends");
        // Where each operation really ended: the wall time its scheduled start maps to.
        let origin_ns = i128::from(clock.origin_unix_ms()) * 1_000_000;
        let mut expected = std::collections::BTreeMap::<i64, u64>::new();
        for slot in 0..84_000u64 {
            let wall = FastClock::wall_at(start + slot * 10_000_000);
            let second = (origin_ns + i128::from(wall)).div_euclid(1_000_000_000);
            *expected.entry(second as i64).or_default() += 1;
        }
        let seen: std::collections::BTreeMap<i64, u64> = e
            .metrics
            .timeline
            .points()
            .map(|p| (p.second, p.ops))
            .collect();
        assert_eq!(seen.values().sum::<u64>(), 84_000);
        assert_eq!(
            seen.keys().next_back(),
            expected.keys().next_back(),
            "the last second"
        );
        assert_eq!(seen.len(), expected.len());
        for (second, want) in &expected {
            let got = seen.get(second).copied().unwrap_or(0);
            assert!(
                got.abs_diff(*want) <= 1,
                "second {second}: {got} ops, {want} ended in it"
            );
        }
    }
}
