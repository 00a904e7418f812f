//! lgb's latencies against the truth: DynamoDB (the local moto server) behind a
//! latency-injecting proxy whose per-request turnaround histogram is the ground truth.
//!
//! The reference is absolute: a plain aws-sdk-dynamodb GetItem loop timed with
//! `Instant`, nothing of lgb in it, through the same proxy in the same test,
//! alternating with lgb's rounds (so a slow second of the shared machine falls on both;
//! each side goes first in every other pair, and both run as tasks on the runtime's
//! worker threads, as lgb's executor runs its own). Closed loop, lgb's p50 and p99 must
//! lie within max(1 ms, 3%) of the plain loop's. Open loop, the plain client keeps the
//! same schedule at the same time as lgb (each read intended at i / rate, timed from
//! its intended start and from its actual start; rounds alternate as in closed loop),
//! and lgb's corrected latency and service time must each lie within max(1 ms, 3%) of
//! the plain client's at p50 and p99. A test-only read strategy that sleeps 2 ms inside
//! lgb's measured span must fail both checks. Counts are held exactly: every injected
//! stall, and nothing else, is in the slow band of one side or the other. A round pair
//! in which the proxy saw the server itself pause (a turnaround far beyond the median
//! besides its injected delay) is measured again on both sides, since a pause that
//! falls on one side only moves its tail by tens of milliseconds; the count of such
//! pairs is printed and bounded.
//!
//! The coordinated-omission test predicts lgb's corrected p99.9 from the proxy's
//! turnarounds (one task is a FIFO queue) plus the plain client's own cost (its p50
//! minus the proxy's, measured in the same test), again independent of lgb.
//!
//! Closed-loop schedule: 2 ms on every request plus a 100 ms stall on every 50th (open
//! loop: every 25th, an odd number so that two clients taking turns share the stalls;
//! 20 reads a second each, so a stall delays the next read into the queue but never
//! into the stall band). With 2% stalls
//! p99 sits in the middle of the stall band (ranks 589–600 of 600 are stalls, p99 is
//! rank 594) and p50 in the middle of the 2 ms band; with the "every 100th",
//! p99 would be rank 594 of 600 while stalls are ranks 595–600: exactly on the
//! boundary, where one sample decides between ~3 ms and ~100 ms.
#![cfg(feature = "dynamodb")]

use lgb_testkit::services;

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use lgb_core::results::TestResult;
use lgb_core::runner::{LocalInvoker, Runner, Silent};
use lgb_core::session::{ConfigSource, Session};
use lgb_testkit::latency_proxy::{self as proxy, Proxy, Schedule};
use tokio_util::sync::CancellationToken;

const GET: &str = "DynamoDB_20120810.GetItem";
const MS: u64 = 1_000_000;

fn endpoint() -> String {
    services::aws_endpoint("dynamodb")
}

/// The tests of this file run one at a time: run concurrently, they would share two
/// cores and each other's latencies.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

fn table(name: &str) -> String {
    format!(
        "lgb-{}",
        services::unique_prefix(name).trim_end_matches('-')
    )
}

/// Runs one read test through `proxy`; the table is loaded directly (not through the
/// proxy) by a first run, so the proxy sees GetItem calls only (plus DescribeTable).
async fn read_test(proxy: &Proxy, name: &str, test: serde_json::Value) -> TestResult {
    let t = table(name);
    let config = |endpoint: String, load: bool, tests: serde_json::Value| {
        Session::load(ConfigSource::Text(&serde_json::json!({
                "name": name,
                "database": {
                    "type": "dynamodb", "table": t, "endpoint": endpoint, "region": "us-east-1",
                    "create_table_if_missing": true, "request_timeout": "5s",
                    "retry": { "max_attempts": 1 }
                },
                "workload": { "records": 200, "fields": 2, "field_size": "20B", "load_batch": 25, "load": load },
                "tests": tests
            })
            .to_string()), &[], None).map(Session::into_config)
        .unwrap()
    };
    let runner = Runner::new(Arc::new(LocalInvoker::default()), 0);
    // Load directly; a tiny read test is required by the config and harmless.
    let load = config(
        endpoint(),
        true,
        serde_json::json!([{ "name": "prime", "operation": { "type": "read" }, "operations": 50 }]),
    );
    let run = runner
        .run(&load, CancellationToken::new(), &Silent)
        .await
        .unwrap();
    assert_eq!(
        run.tests[0].metrics.failed(),
        0,
        "{:?}",
        run.tests[0].metrics.errors
    );
    let mut test = test;
    test["name"] = "read".into();
    test["operation"] = serde_json::json!({ "type": "read" });
    let run = runner
        .run(
            &config(proxy.endpoint.clone(), false, serde_json::json!([test])),
            CancellationToken::new(),
            &Silent,
        )
        .await
        .unwrap();
    let t = run.tests.into_iter().last().unwrap();
    assert_eq!(t.metrics.failed(), 0, "{:?}", t.metrics.errors);
    t
}

/// What a plain client sees without injected delay: its own cost at p50 (its p50
/// minus the proxy's) and its p50, which sets the open-loop rates below. Nothing of
/// lgb is in it.
#[derive(Debug, Clone, Copy)]
struct Calibration {
    overhead_ns: u64,
    op_ns: u64,
}

async fn calibrate(name: &str) -> Calibration {
    let p = proxy::start(&endpoint(), Schedule::default(), Some(GET)).await;
    // Loads the table (directly) and warms up; the proxy's truth is reset below.
    read_test(
        &p,
        name,
        serde_json::json!({ "operations": 20, "concurrency": 1 }),
    )
    .await;
    let p = proxy::start(&endpoint(), Schedule::default(), Some(GET)).await;
    let plain = plain_reads(&p.endpoint, &table(name), 300, 3).await;
    let op_ns = plain.value_at_quantile(0.5);
    let truth = p.truth().value_at_quantile(0.5);
    assert_eq!(
        p.truth().len(),
        300,
        "the proxy saw the plain client's reads"
    );
    let c = Calibration {
        overhead_ns: op_ns.saturating_sub(truth),
        op_ns,
    };
    eprintln!(
        "no delay: plain client p50 {} µs, proxy p50 {} µs, client overhead {} µs",
        op_ns / 1000,
        truth / 1000,
        c.overhead_ns / 1000
    );
    assert!(
        c.overhead_ns < 10 * MS,
        "the client's own overhead is implausible: {c:?}"
    );
    c
}

/// `lgb` is within 3% (or 100 µs) of `truth`.
fn check(what: &str, lgb: u64, truth: u64) {
    let tolerance = (truth * 3 / 100).max(100_000);
    eprintln!(
        "{what}: lgb {} µs, truth {} µs (± {} µs)",
        lgb / 1000,
        truth / 1000,
        tolerance / 1000
    );
    assert!(
        lgb.abs_diff(truth) <= tolerance,
        "{what}: lgb {lgb} ns vs truth {truth} ns (tolerance {tolerance} ns)"
    );
}

/// Samples of `h` at or above 100 ms: the stall band of these schedules (a stalled
/// request takes 100 ms + 2 ms + the service's own time).
fn slow(h: &Histogram<u64>) -> u64 {
    h.count_between(STALL, h.max().max(STALL))
}

/// What the proxy adds to every request, and to every `n`th besides (ns).
const FIXED: u64 = 2 * MS;
const STALL: u64 = 100 * MS;

/// Every `n`th request stalls [`STALL`]; every request waits [`FIXED`].
fn stalls(n: u64) -> Schedule {
    Schedule {
        fixed: Duration::from_nanos(FIXED),
        every_nth: Some((n, Duration::from_nanos(STALL))),
        ..Schedule::default()
    }
}

/// Closed loop: every 50th request stalls.
const CLOSED_STALL_EVERY: u64 = 50;
/// Open loop: every 25th (odd, so that two clients taking turns share the stalls).
const OPEN_STALL_EVERY: u64 = 25;
/// Open loop: each side's rate, reads per second.
const OPEN_RATE: f64 = 20.0;
/// Open loop: reads per side and round, and rounds (2.5 s rounds, 1,000 reads a side).
const OPEN_ROUND: usize = 50;
const OPEN_ROUNDS: usize = 20;
const OPEN_READS: u64 = (OPEN_ROUND * OPEN_ROUNDS) as u64;

fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3).unwrap()
}

/// A plain client: aws-sdk-dynamodb's GetItem in a loop, one at a time, each call
/// timed directly with `Instant` — nothing of lgb in it. Reads `n` keys of the table
/// (records 0..200, as lgb's workload names them) through `endpoint`.
///
/// With `rate`, open loop on a fixed schedule: both service times (from each call's
/// start) and corrected latencies (from its intended start); closed, both are the
/// service times.
async fn plain_loop(
    endpoint: &str,
    table: &str,
    n: usize,
    seed: u64,
    rate: Option<f64>,
) -> (Histogram<u64>, Histogram<u64>) {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&shared)
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    let (mut service, mut corrected) = (histogram(), histogram());
    let mut x = seed | 1;
    let t0 = std::time::Instant::now();
    for i in 0..n {
        // xorshift: a spread of keys, like lgb's uniform chooser.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = format!("user{:012}", x % 200);
        // Open loop: read i is intended at i / rate; wait for it the way any careful
        // client does (sleep, then yield until the instant), and count from it.
        let intended = rate.map(|r| t0 + Duration::from_secs_f64(i as f64 / r));
        if let Some(at) = intended {
            loop {
                let now = std::time::Instant::now();
                if now >= at {
                    break;
                }
                if at - now > Duration::from_micros(1500) {
                    tokio::time::sleep(at - now - Duration::from_micros(1500)).await;
                } else {
                    tokio::task::yield_now().await;
                }
            }
        }
        let started = std::time::Instant::now();
        let got = client
            .get_item()
            .table_name(table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(key.clone()),
            )
            // The request lgb's adapter sends, so that the server does the same work.
            .consistent_read(false)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .unwrap_or_else(|e| panic!("plain GetItem {key}: {e:?}"));
        let end = std::time::Instant::now();
        assert!(got.item().is_some(), "{key} is in the table");
        service.record((end - started).as_nanos() as u64).unwrap();
        corrected
            .record((end - intended.unwrap_or(started)).as_nanos() as u64)
            .unwrap();
    }
    (service, corrected)
}

/// [`plain_loop`] run the way lgb runs its tasks: spawned onto the runtime's worker
/// threads. Awaited in the test's own future instead, it would run on the thread
/// blocked in `block_on`, which a worker must wake through a futex at every response
/// (lgb's task is woken on the worker that read the socket): on a machine short of
/// CPU, that wake-up made the plain client 1–3 ms slower than lgb, a bias of the
/// reference and not of lgb.
async fn plain_task(
    endpoint: String,
    table: String,
    n: usize,
    seed: u64,
    rate: Option<f64>,
) -> (Histogram<u64>, Histogram<u64>) {
    tokio::spawn(async move { plain_loop(&endpoint, &table, n, seed, rate).await })
        .await
        .expect("the plain client's task")
}

/// [`plain_task`] closed: one read after another, each timed from its start.
async fn plain_reads(endpoint: &str, table: &str, n: usize, seed: u64) -> Histogram<u64> {
    plain_task(endpoint.into(), table.into(), n, seed, None)
        .await
        .0
}

/// A read operation that waits `delay` inside the measured span before it reads: the
/// test-only hook that proves the check below catches a bias of lgb's timing. It is
/// registered by this test alone (a user strategy), so nothing deployed has it.
struct DelayedRead(Duration);

#[async_trait::async_trait]
impl lgb_core::operation::Operation for DelayedRead {
    fn kinds(&self) -> Vec<String> {
        vec!["read".into()]
    }
    async fn execute(
        &self,
        ctx: &mut lgb_core::operation::OpContext,
        db: &dyn lgb_core::database::Database,
    ) -> (usize, lgb_core::Result<lgb_core::record::OpMeta>) {
        // A plain sleep of the task's thread: exactly the delay, not rounded up to the
        // timer's millisecond (the test runs one task).
        std::thread::sleep(self.0);
        ctx.choose_key();
        (0, db.read(&ctx.key).await.map(|r| r.meta))
    }
}

/// One side's histograms: latency as lgb reports it (corrected, in open loop) and
/// service time (from each call's actual start; closed loop, the same).
struct Side {
    latency: Histogram<u64>,
    service: Histogram<u64>,
}

impl Side {
    fn new() -> Self {
        Self {
            latency: histogram(),
            service: histogram(),
        }
    }
}

/// lgb's reads and a plain client's, through the same proxy and server: both sides'
/// histograms and the proxy's truth, in alternating rounds (so that a slow minute of
/// the shared machine falls on both); closed loop (`open` false) or open loop at
/// [`OPEN_RATE`] on both sides. With `delay`, lgb's reads run [`DelayedRead`].
async fn lgb_and_plain(
    name: &str,
    open: bool,
    delay: Option<Duration>,
) -> (Side, Side, Histogram<u64>) {
    let t = table(name);
    {
        // Loads the table (directly, not through the proxy) and warms lgb up.
        let p = proxy::start(&endpoint(), Schedule::default(), Some(GET)).await;
        read_test(
            &p,
            name,
            serde_json::json!({ "operations": 50, "concurrency": 1 }),
        )
        .await;
    }
    let every = if open {
        OPEN_STALL_EVERY
    } else {
        CLOSED_STALL_EVERY
    };
    let p = proxy::start(&endpoint(), stalls(every), Some(GET)).await;
    let registries = || {
        let mut r = lgb_core::catalog::Registries::builtin();
        if let Some(d) = delay {
            r.operations.register(
                "delayed_read",
                "read after a delay (tests only)",
                move |_| Ok(Arc::new(DelayedRead(d))),
            );
        }
        r
    };
    let op = if delay.is_some() {
        "delayed_read"
    } else {
        "read"
    };
    let mut test = serde_json::json!({
        "name": "read", "operation": { "type": op }, "operations": ROUND, "concurrency": 1
    });
    let (round_reads, rounds, rate) = if open {
        test["rate"] = OPEN_RATE.into();
        test["operations"] = OPEN_ROUND.into();
        (OPEN_ROUND, OPEN_ROUNDS, Some(OPEN_RATE))
    } else {
        (ROUND, ROUNDS, None)
    };
    let config = Session::load_with(
        ConfigSource::Text(
            &serde_json::json!({
                "name": name,
                "database": {
                    "type": "dynamodb", "table": t, "endpoint": p.endpoint, "region": "us-east-1",
                    "request_timeout": "5s", "retry": { "max_attempts": 1 }
                },
                "workload": { "records": 200, "fields": 2, "field_size": "20B", "load": false },
                "tests": [test]
            })
            .to_string(),
        ),
        &[],
        None,
        registries(),
    )
    .unwrap()
    .into_config();
    let registries = registries();
    let worker = lgb_core::worker::Worker::new(registries.databases, registries.operations);
    let runner = Runner::new(Arc::new(LocalInvoker::new(Arc::new(worker))), 0);
    let (mut lgb, mut plain, mut truth) = (Side::new(), Side::new(), histogram());
    let (mut round, mut redone) = (0, 0);
    while round < rounds {
        let (before, mut this_lgb, mut this_plain) = (p.requests(), Side::new(), Side::new());
        p.reset();
        // The sides take turns at going first, so that whatever the first leaves
        // behind (a closing connection, a result being decoded) falls on both.
        let plain_side = || {
            let seed = (round + redone) as u64 + 7;
            plain_task(p.endpoint.clone(), t.clone(), round_reads, seed, rate)
        };
        let plain_first = (round + redone) % 2 == 1;
        let early = if plain_first {
            Some(plain_side().await)
        } else {
            None
        };
        let run = runner
            .run(&config, CancellationToken::new(), &Silent)
            .await
            .unwrap();
        let m = &run.tests[0].metrics.operations["read"];
        assert_eq!((m.ok, m.failed), (round_reads as u64, 0), "{:?}", m.errors);
        this_lgb.latency.add(m.latency.to_hdr()).unwrap();
        match (&m.service, rate) {
            (Some(s), Some(_)) => this_lgb.service.add(s.to_hdr()).unwrap(),
            (None, None) => this_lgb.service.add(m.latency.to_hdr()).unwrap(),
            (s, r) => panic!("service time kept: {}, rate {r:?}", s.is_some()),
        }
        let (service, latency) = match early {
            Some(plain) => plain,
            None => plain_side().await,
        };
        this_plain.service.add(service).unwrap();
        this_plain.latency.add(latency).unwrap();
        let stalled = p.requests() / every - before / every;
        if let Some(why) = disturbed(&p, stalled) {
            redone += 1;
            eprintln!("round {round} run again, both sides: the server was disturbed ({why})");
            assert!(
                redone <= rounds,
                "the server was disturbed in {redone} round pairs of {}: this machine is \
                 too busy to compare two clients to 1 ms",
                round + redone
            );
            continue;
        }
        for (all, this) in [(&mut lgb, this_lgb), (&mut plain, this_plain)] {
            all.latency.add(this.latency).unwrap();
            all.service.add(this.service).unwrap();
        }
        truth.add(p.truth()).unwrap();
        round += 1;
    }
    eprintln!("{rounds} round pairs kept, {redone} run again");
    (lgb, plain, truth)
}

/// Why a round pair is unfair to compare, from the proxy's turnarounds alone (the
/// server's time plus the injected delay, which neither client can change): the server
/// itself paused (a read beyond four times the median turnaround and 20 ms besides its
/// injected delay, or more reads in the stall band than the proxy stalled), so one
/// side met a pause that the other did not. Such a pair is measured again, both sides.
fn disturbed(p: &Proxy, stalled: u64) -> Option<String> {
    let slow = slow(&p.truth());
    if slow > stalled {
        return Some(format!("{slow} reads in the stall band, {stalled} stalled"));
    }
    let mut sorted = p.turnarounds();
    sorted.sort_unstable();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
    let pause = (4 * median).max(20 * MS);
    let beyond = |t: u64| {
        if t >= STALL {
            t.saturating_sub(FIXED + STALL)
        } else {
            t
        }
    };
    sorted
        .iter()
        .find(|&&t| beyond(t) > pause)
        .map(|t| format!("a read took {} µs, median {} µs", t / 1000, median / 1000))
}

/// Reads per side and round, and rounds: 1,200 reads a side, so that p99 (rank 1,188)
/// sits among ~24 stalled reads on each side: near their median, which moto's own
/// time (added to each stall) moves far less than it moves one of a dozen.
/// Short rounds (a third of a second closed) so that the bursts of a shared machine's
/// load fall on both sides alike.
const ROUND: usize = 30;
const ROUNDS: usize = 40;
const READS: u64 = (ROUND * ROUNDS) as u64;

/// Where lgb's p50 or p99 is more than 1 ms and 3% away from the plain client's
/// (`max(1 ms, 3%)`): the differences, or nothing when both are within.
fn off_by(what: &str, lgb: &Histogram<u64>, plain: &Histogram<u64>) -> Vec<String> {
    let mut off = Vec::new();
    for q in [0.5, 0.99] {
        let (l, r) = (lgb.value_at_quantile(q), plain.value_at_quantile(q));
        let tolerance = (r * 3 / 100).max(MS);
        eprintln!(
            "{what} p{}: lgb {} µs, plain client {} µs (± {} µs)",
            q * 100.0,
            l / 1000,
            r / 1000,
            tolerance / 1000
        );
        if l.abs_diff(r) > tolerance {
            off.push(format!(
                "{what} p{}: lgb {l} ns, plain client {r} ns",
                q * 100.0
            ));
        }
    }
    off
}

/// The shape both loops must show, whatever lgb's accuracy: every read counted, p50
/// in the 2 ms band, p99 among the 100 ms stalls, and the stalls exactly where the
/// proxy put them (each side sees about its share: a 1/`every` of its `reads`).
fn check_shape(lgb: &Side, plain: &Side, truth: &Histogram<u64>, reads: u64, every: u64) {
    for (side, s) in [("lgb", lgb), ("plain", plain)] {
        assert_eq!((s.latency.len(), s.service.len()), (reads, reads), "{side}");
        assert!(
            (2 * MS..30 * MS).contains(&s.service.value_at_quantile(0.5)),
            "{side} p50 {}",
            s.service.value_at_quantile(0.5)
        );
        assert!(
            (100 * MS..1000 * MS).contains(&s.service.value_at_quantile(0.99)),
            "{side} p99 {}",
            s.service.value_at_quantile(0.99)
        );
        let stalled = slow(&s.service);
        assert!(
            stalled >= reads / every / 2,
            "{side} saw {stalled} stalled reads of {reads}"
        );
    }
    assert_eq!(
        truth.len(),
        2 * reads,
        "the proxy saw every read of both sides"
    );
    // Every read the proxy stalled is slow on the side that sent it; a read the proxy
    // did not stall is slow only when the shared machine held its client off the
    // cores for most of 100 ms, which a loaded 2-core machine does now and then:
    // allowed for one read in 200.
    let (seen, stalled) = (slow(&lgb.service) + slow(&plain.service), slow(truth));
    eprintln!(
        "slow reads: lgb {}, plain {}, proxy {stalled}",
        slow(&lgb.service),
        slow(&plain.service)
    );
    assert!(
        seen >= stalled && seen <= stalled + 2 * reads / 200,
        "{seen} slow reads on the two sides, {stalled} stalled by the proxy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_p50_and_p99_match_a_plain_client_within_1_ms() {
    let _one_at_a_time = serial().await;
    let (lgb, plain, truth) = lgb_and_plain("plain", false, None).await;
    check_shape(&lgb, &plain, &truth, READS, CLOSED_STALL_EVERY);
    let off = off_by("closed", &lgb.latency, &plain.latency);
    assert!(off.is_empty(), "{off:?}");
}

/// The same comparison with 2 ms added inside lgb's measured span: it must fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_fails_when_lgb_adds_2_ms() {
    let _one_at_a_time = serial().await;
    let (lgb, plain, truth) = lgb_and_plain("biased", false, Some(Duration::from_millis(2))).await;
    check_shape(&lgb, &plain, &truth, READS, CLOSED_STALL_EVERY);
    let off = off_by("closed", &lgb.latency, &plain.latency);
    assert!(
        off.iter().any(|o| o.starts_with("closed p50")),
        "a 2 ms bias passed the check: {off:?}"
    );
}

/// An open-loop rate at which one task is busy `utilization` of the time, given the
/// calibrated time of a read plus `extra` per read.
fn rate_for(cal: Calibration, extra: Duration, utilization: f64) -> f64 {
    let op = cal.op_ns as f64 + extra.as_nanos() as f64;
    (utilization * 1e9 / op).clamp(5.0, 200.0).round()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_corrected_and_service_times_match_a_plain_client_within_1_ms() {
    let _one_at_a_time = serial().await;
    let (lgb, plain, truth) = lgb_and_plain("open", true, None).await;
    let reads = OPEN_READS;
    check_shape(&lgb, &plain, &truth, reads, OPEN_STALL_EVERY);
    // Corrected latency is never below service time, and the read after a stall
    // waited in the queue: late by tens of milliseconds in corrected latency only.
    for (side, s) in [("lgb", &lgb), ("plain", &plain)] {
        let (corrected, service) = (
            s.latency.value_at_quantile(0.5),
            s.service.value_at_quantile(0.5),
        );
        assert!(
            corrected + corrected / 500 >= service,
            "{side}: corrected p50 {corrected} ns below service p50 {service} ns"
        );
        let queued = |h: &Histogram<u64>| h.count_between(30 * MS, 95 * MS);
        assert!(
            queued(&s.latency) >= queued(&s.service) + reads / OPEN_STALL_EVERY / 4,
            "{side}: {} reads queued behind a stall in corrected latency, {} in service time",
            queued(&s.latency),
            queued(&s.service)
        );
    }
    let mut off = off_by("open corrected", &lgb.latency, &plain.latency);
    off.extend(off_by("open service", &lgb.service, &plain.service));
    assert!(off.is_empty(), "{off:?}");
}

/// The open-loop comparison with 2 ms added inside lgb's measured span: both its
/// corrected latency and its service time must fail it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_loop_check_fails_when_lgb_adds_2_ms() {
    let _one_at_a_time = serial().await;
    let (lgb, plain, truth) =
        lgb_and_plain("open-biased", true, Some(Duration::from_millis(2))).await;
    check_shape(&lgb, &plain, &truth, OPEN_READS, OPEN_STALL_EVERY);
    let corrected = off_by("open corrected", &lgb.latency, &plain.latency);
    let service = off_by("open service", &lgb.service, &plain.service);
    assert!(
        corrected.iter().any(|o| o.contains("p50")) && service.iter().any(|o| o.contains("p50")),
        "a 2 ms bias passed the check: {corrected:?} {service:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_stall_raises_corrected_p999_as_coordinated_omission_predicts() {
    let _one_at_a_time = serial().await;
    let cal = calibrate("co").await;
    let schedule = Schedule {
        // Early in the run, so the backlog drains well before the end.
        at: vec![(100, Duration::from_secs(1))],
        ..Schedule::default()
    };
    let p = proxy::start(&endpoint(), schedule, Some(GET)).await;
    // p99.9 below the maximum needs 1000 reads or more.
    let rate = rate_for(cal, Duration::ZERO, 0.33);
    let seconds = (1100.0 / rate).ceil();
    let t = read_test(
        &p,
        "co",
        serde_json::json!({ "duration": format!("{seconds}s"), "rate": rate, "concurrency": 1 }),
    )
    .await;
    let m = &t.metrics.operations["read"];
    let service = &m.service.as_ref().expect("service time").to_hdr();
    let turnarounds = p.turnarounds();
    assert_eq!(turnarounds.len() as u64, m.ok);
    assert!(m.ok >= 1000, "{} reads at {rate}/s for {seconds} s", m.ok);

    // Prediction: one task is a FIFO queue; read i is intended at i/rate and takes the
    // proxy's turnaround plus a client's own cost (the plain client's, calibrated in
    // this test: nothing of lgb's timing is in the prediction).
    let overhead = cal.overhead_ns;
    let (service_p50, truth_p50) = (
        service.value_at_quantile(0.5),
        p.truth().value_at_quantile(0.5),
    );
    assert!(
        service_p50 + truth_p50 / 500 >= truth_p50,
        "lgb's service p50 {service_p50} ns is below the proxy's {truth_p50} ns"
    );
    let interval = 1e9 / rate;
    let mut end = 0u64;
    let mut predicted: Vec<u64> = turnarounds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let intended = (i as f64 * interval) as u64;
            end = end.max(intended) + s + overhead;
            end - intended
        })
        .collect();
    predicted.sort_unstable();
    let rank = ((0.999 * predicted.len() as f64).ceil() as usize).clamp(1, predicted.len());
    let predicted_p999 = predicted[rank - 1];
    eprintln!(
        "co: {} reads at {rate}/s, predicted p99.9 {} µs, lgb corrected p99.9 {} µs, service p99.9 {} µs, truth p99.9 {} µs",
        m.ok,
        predicted_p999 / 1000,
        m.latency.quantile_ns(0.999) / 1000,
        service.value_at_quantile(0.999) / 1000,
        p.truth().value_at_quantile(0.999) / 1000
    );
    // Reads intended during the stall queue behind it: p99.9 is one of them.
    assert!(predicted_p999 > 900 * MS, "{predicted_p999}");
    check(
        "co corrected p99.9",
        m.latency.quantile_ns(0.999),
        predicted_p999,
    );
    // Service time p99.9 is an ordinary read (the stall is the single largest sample):
    // at or above the proxy's p99.9, far below the stall. Not below a fixed 100 ms: the
    // proxy's own p99.9 (the second-slowest of ~1,100 reads) was 107.5 ms in one
    // run of the suite, and lgb's 108.3 ms was then right.
    let (service_p999, truth_p999) = (
        service.value_at_quantile(0.999),
        p.truth().value_at_quantile(0.999),
    );
    assert!(
        service_p999 + truth_p999 / 500 >= truth_p999 && service_p999 < 500 * MS,
        "service p99.9 {service_p999} ns, proxy p99.9 {truth_p999} ns"
    );
    check("co service max", service.max(), p.truth().max() + overhead);
    assert!(
        service.max() >= 1_000 * MS,
        "the stalled read is in service time too"
    );
}
