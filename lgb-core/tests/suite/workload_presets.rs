//! The YCSB presets draw keys from YCSB 0.17 CoreWorkload's laws, checked statistically
//! on the keys a real run sends to the database (Pearson's chi-square against the
//! expected law), and ycsb-d never reads a key whose insert was not acknowledged.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lgb_core::catalog::Registries;
use lgb_core::config::BenchmarkConfig;
use lgb_core::database::memory::MemoryDatabase;
use lgb_core::database::{
    BatchOutcome, Capabilities, Database, DatabaseRegistry, OpMeta, QueryOutcome, ReadOutcome,
};
use lgb_core::operation::OperationRegistry;
use lgb_core::record::{Query, Record};
use lgb_core::runner::{LocalInvoker, RunResult, Runner, Silent};
use lgb_core::worker::Worker;
use lgb_core::workload::keys::{ycsb_fnvhash64, zeta_estimate, SCRAMBLED_ITEMS, ZIPFIAN_THETA};
use lgb_core::workload::Preset;
use lgb_core::{ErrorClass, Result};
use tokio_util::sync::CancellationToken;

/// The memory store, noting the key number of every key a test reads or starts a scan
/// at, and (for `latest`) its age: the highest key inserted so far minus the key.
/// Loads go through `batch_write` and are not noted.
#[derive(Default)]
struct Recorder {
    inner: MemoryDatabase,
    drawn: Mutex<Vec<u64>>,
    ages: Mutex<Vec<u64>>,
    newest: AtomicU64,
}

fn number(key: &str) -> u64 {
    key.trim_start_matches("user")
        .parse()
        .expect("a generated key")
}

impl Recorder {
    fn note(&self, key: &str) {
        let id = number(key);
        self.drawn.lock().unwrap().push(id);
        let newest = self.newest.load(Ordering::SeqCst);
        self.ages.lock().unwrap().push(newest.saturating_sub(id));
    }
}

#[async_trait]
impl Database for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn write(&self, record: &Record) -> Result<OpMeta> {
        let meta = self.inner.write(record).await?;
        self.newest.fetch_max(number(&record.key), Ordering::SeqCst);
        Ok(meta)
    }
    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        let out = self.inner.batch_write(records).await?;
        for r in records {
            self.newest.fetch_max(number(&r.key), Ordering::SeqCst);
        }
        Ok(out)
    }
    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        self.note(key);
        self.inner.read(key).await
    }
    async fn query(&self, query: &Query) -> Result<QueryOutcome> {
        if let Query::Range { start, .. } = query {
            self.note(start);
        }
        self.inner.query(query).await
    }
}

async fn run_on(db: Arc<dyn Database>, config: &str) -> RunResult {
    let mut databases = DatabaseRegistry::with_builtins();
    databases.register("recorder", "records keys", move |_: serde_json::Value| {
        let db = db.clone();
        async move { Ok(db) }
    });
    let registries = Registries {
        databases,
        operations: OperationRegistry::default(),
    };
    let cfg = BenchmarkConfig::from_json_str_with(config, &[], &registries).unwrap();
    let worker = Arc::new(Worker::new(registries.databases, registries.operations));
    Runner::new(Arc::new(LocalInvoker::new(worker)), 0)
        .run(&cfg, CancellationToken::new(), &Silent)
        .await
        .unwrap()
}

async fn preset_run(preset: Preset, records: u64, ops: u64) -> (Arc<Recorder>, RunResult) {
    let rec = Arc::new(Recorder::default());
    let config = format!(
        r#"{{"database": {{"type": "recorder"}},
            "workload": {{"records": {records}, "fields": 1, "field_size": 8}},
            "tests": [{{"name": "p", "preset": "{}", "operations": {ops}, "concurrency": 1}}]}}"#,
        preset.name()
    );
    let run = run_on(rec.clone() as Arc<dyn Database>, &config).await;
    (rec, run)
}

/// Probability of each key of `0..n` under YCSB's scrambled zipfian over a key space of
/// `n`: ranks over 10^10 items hashed with `fnvhash64 mod n`. The first `RANKS` ranks
/// are summed exactly; the rest (tiny probabilities hashed uniformly) are spread evenly.
fn scrambled_law(n: u64) -> Vec<f64> {
    const RANKS: u64 = 2_000_000;
    let zetan = zeta_estimate(SCRAMBLED_ITEMS, ZIPFIAN_THETA);
    let mut p = vec![0.0; n as usize];
    let mut head = 0.0;
    for r in 0..RANKS {
        let pr = 1.0 / ((r + 1) as f64).powf(ZIPFIAN_THETA) / zetan;
        p[(ycsb_fnvhash64(r) % n) as usize] += pr;
        head += pr;
    }
    let tail = (1.0 - head) / n as f64;
    p.iter_mut().for_each(|v| *v += tail);
    p
}

/// The zipfian law over `n` ranks.
fn zipf_law(n: u64) -> Vec<f64> {
    let z: f64 = (1..=n).map(|i| 1.0 / (i as f64).powf(ZIPFIAN_THETA)).sum();
    (0..n)
        .map(|i| 1.0 / ((i + 1) as f64).powf(ZIPFIAN_THETA) / z)
        .collect()
}

/// Pearson's chi-square of `draws` against `law` (over `0..law.len()`): the 30 most
/// probable values are cells of their own, the rest are grouped into 30 bins in value
/// order. Returns (chi2, the 99.9% critical value for its degrees of freedom).
fn chi_square(draws: &[u64], law: &[f64]) -> (f64, f64) {
    let mut order: Vec<usize> = (0..law.len()).collect();
    order.sort_by(|a, b| law[*b].total_cmp(&law[*a]));
    let mut cell = vec![0usize; law.len()];
    let top = 30.min(law.len());
    for (i, &v) in order[..top].iter().enumerate() {
        cell[v] = i;
    }
    let mut rest: Vec<usize> = order[top..].to_vec();
    rest.sort_unstable();
    let bins = 30.min(rest.len());
    for (i, &v) in rest.iter().enumerate() {
        cell[v] = top + i * bins / rest.len().max(1);
    }
    let cells = top + bins;
    let mut expected = vec![0.0; cells];
    for (v, p) in law.iter().enumerate() {
        expected[cell[v]] += p * draws.len() as f64;
    }
    let mut observed = vec![0u64; cells];
    for &d in draws {
        observed[cell[d as usize]] += 1;
    }
    let chi2 = observed
        .iter()
        .zip(&expected)
        .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
        .sum();
    // Wilson-Hilferty: the 99.9% quantile of chi-square with k degrees of freedom.
    let k = (cells - 1) as f64;
    let crit = k * (1.0 - 2.0 / (9.0 * k) + 3.09 * (2.0 / (9.0 * k)).sqrt()).powi(3);
    (chi2, crit)
}

fn assert_follows(name: &str, draws: &[u64], law: &[f64], wrong: &[f64]) {
    assert!(draws.len() > 10_000, "{name}: {} draws", draws.len());
    let (chi2, crit) = chi_square(draws, law);
    assert!(chi2 < crit, "{name}: chi2 {chi2:.1} >= {crit:.1}");
    // The test has power: the same draws reject a different law.
    let (chi2, crit) = chi_square(draws, wrong);
    assert!(chi2 > crit, "{name}: wrong law accepted, chi2 {chi2:.1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_update_presets_draw_ycsb_scrambled_zipfian() {
    let n = 1000;
    let law = scrambled_law(n);
    let plain = zipf_law(n);
    for preset in [Preset::YcsbA, Preset::YcsbB, Preset::YcsbC, Preset::YcsbF] {
        let (rec, run) = preset_run(preset, n, 40_000).await;
        let t = &run.tests[1];
        assert_eq!(t.metrics.errors.total(), 0, "{preset:?}");
        let draws = rec.drawn.lock().unwrap().clone();
        assert_follows(preset.name(), &draws, &law, &plain);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ycsb_e_scan_starts_are_scrambled_over_the_grown_key_space() {
    // YCSB sizes the chooser for records + 2 x expected inserts and draws again above
    // the newest acknowledged key; starts among the loaded records then follow the
    // scrambled law of that key space, conditioned on the loaded records.
    let (records, ops) = (2000u64, 20_000u64);
    let (rec, run) = preset_run(Preset::YcsbE, records, ops).await;
    let t = &run.tests[1];
    assert_eq!(t.metrics.errors.total(), 0);
    let scans = t.metrics.operations["scan"].ok;
    let inserts = t.metrics.operations["insert"].ok;
    assert!((scans as f64 / ops as f64 - 0.95).abs() < 0.01, "{scans}");
    assert_eq!(scans + inserts, ops);
    let space = records + (ops as f64 * 0.05 * 2.0) as u64;
    let full = scrambled_law(space);
    let mass: f64 = full[..records as usize].iter().sum();
    let law: Vec<f64> = full[..records as usize].iter().map(|p| p / mass).collect();
    let unscaled = scrambled_law(records);
    let draws: Vec<u64> = rec
        .drawn
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|&d| d < records)
        .collect();
    assert_follows("ycsb-e", &draws, &law, &unscaled);
    // Inserted keys are scanned from too, once acknowledged.
    assert!(rec.drawn.lock().unwrap().iter().any(|&d| d >= records));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ycsb_d_reads_the_latest_keys_by_zipfian_age() {
    let records = 1000;
    let (rec, run) = preset_run(Preset::YcsbD, records, 40_000).await;
    let t = &run.tests[1];
    assert_eq!(t.metrics.errors.total(), 0);
    // One task: every read's age is its distance from the newest acknowledged insert,
    // which follows the zipfian law over the loaded record count.
    let ages = rec.ages.lock().unwrap().clone();
    assert!(
        ages.iter().all(|&a| a < records),
        "ages stay within the law"
    );
    let uniform = vec![1.0 / records as f64; records as usize];
    assert_follows("ycsb-d", &ages, &zipf_law(records), &uniform);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ycsb_d_on_4_workers_by_4_tasks_never_reads_the_future() {
    let db = Arc::new(MemoryDatabase::default());
    let run = run_on(
        db.clone() as Arc<dyn Database>,
        r#"{"database": {"type": "recorder"},
            "workload": {"records": 2000, "fields": 2, "field_size": 16},
            "tests": [{"name": "d", "preset": "ycsb-d", "operations": 20000,
                       "concurrency": 4, "workers": 4}]}"#,
    )
    .await;
    let t = &run.tests[1];
    assert_eq!(t.workers.len(), 4);
    let reads = &t.metrics.operations["read"];
    let inserts = &t.metrics.operations["insert"];
    assert_eq!(reads.ok + inserts.ok, 20_000);
    assert!(inserts.ok > 500, "{}", inserts.ok);
    assert_eq!(
        t.metrics.errors.counts.get(&ErrorClass::NotFound),
        None,
        "{:?}",
        t.metrics.errors.samples
    );
    assert_eq!(reads.failed, 0);
    // Every insert landed on a key of its own.
    assert_eq!(db.len() as u64, 2000 + inserts.ok);
}
