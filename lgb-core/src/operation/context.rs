//! Per-task state of an operation strategy: its random generator, key chooser and
//! reusable buffers, plus the key counters its worker's tasks share.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::database::ItemFailure;
use crate::error::{Error, Result};
use crate::record::{Query, QueryKind, Record};
use crate::workload::keys::{KeyChooser, KeyFormatter};
use crate::workload::records::RecordGenerator;

/// Key counters shared by the tasks of one worker: inserts, the acknowledged-insert
/// counter that bounds reads, and the load cursor.
///
/// Reads never target the future. Choosers work in this worker's *logical* key space:
/// numbers `0..records` are the loaded records, and number `records + s` is this
/// worker's `s`-th insert. [`WorkerKeys::latest`] is the highest logical number known
/// written: the loaded records plus the highest *contiguous* run of acknowledged
/// inserts (YCSB's `AcknowledgedCounterGenerator`), shared by the worker's tasks. A
/// worker never reads another worker's inserts, whose acknowledgement it cannot see;
/// [`WorkerKeys::key_id`] maps logical numbers to the key numbers of the data set,
/// where workers' inserts interleave above `records` without colliding.
#[derive(Debug)]
pub struct WorkerKeys {
    records: u64,
    worker_index: u64,
    workers: u64,
    insert_seq: AtomicU64,
    /// Inserts `0..acked` are all acknowledged (the contiguous prefix).
    acked: AtomicU64,
    /// Acknowledged inserts above the contiguous prefix, waiting for the gap to close.
    pending: Mutex<BTreeSet<u64>>,
    load_next: AtomicU64,
    load_end: u64,
}

impl WorkerKeys {
    /// Counters for worker `worker_index` of `workers` over `records` loaded records.
    /// The worker's load slice is its contiguous share of `0..records`.
    pub fn new(records: u64, worker_index: u32, workers: u32) -> Self {
        let (i, n) = (u64::from(worker_index), u64::from(workers.max(1)));
        Self {
            records,
            worker_index: i,
            workers: n,
            insert_seq: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            pending: Mutex::new(BTreeSet::new()),
            load_next: AtomicU64::new(records * i / n),
            load_end: records * (i + 1) / n,
        }
    }

    /// Records in the data set before inserts.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The highest logical key number known written: the last loaded record plus this
    /// worker's contiguous acknowledged inserts (used by the `latest` distribution and
    /// as the bound of every chosen key).
    #[inline]
    pub fn latest(&self) -> u64 {
        (self.records + self.acked.load(Ordering::Acquire)).saturating_sub(1)
    }

    /// Inserts of this worker acknowledged without a gap before them.
    pub fn acknowledged_inserts(&self) -> u64 {
        self.acked.load(Ordering::Acquire)
    }

    /// The key number of logical number `logical` (see the type's docs).
    #[inline]
    pub fn key_id(&self, logical: u64) -> u64 {
        if logical < self.records {
            logical
        } else {
            self.insert_id(logical - self.records)
        }
    }

    /// The key number of this worker's `seq`-th insert: workers interleave above
    /// `records`, so no two workers insert the same key.
    #[inline]
    pub fn insert_id(&self, seq: u64) -> u64 {
        self.records + self.worker_index + self.workers * seq
    }

    /// Issues the next insert of this worker: its sequence number (for
    /// [`WorkerKeys::acknowledge`]) and its key number.
    #[inline]
    pub fn next_insert(&self) -> (u64, u64) {
        let seq = self.insert_seq.fetch_add(1, Ordering::Relaxed);
        (seq, self.insert_id(seq))
    }

    /// A key number no other task of any worker inserts (an insert that is never
    /// acknowledged, so reads never reach it).
    #[inline]
    pub fn next_insert_id(&self) -> u64 {
        self.next_insert().1
    }

    /// Notes that insert `seq` completed; [`WorkerKeys::latest`] advances over the
    /// contiguous acknowledged prefix. As YCSB does, a failed insert is acknowledged
    /// too (it finished; its key may be read and then counts as not found), so that
    /// one failure does not freeze "latest" for the rest of the run.
    pub fn acknowledge(&self, seq: u64) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let mut next = self.acked.load(Ordering::Acquire);
        if seq != next {
            if seq > next {
                pending.insert(seq);
            }
            return;
        }
        next += 1;
        while pending.remove(&next) {
            next += 1;
        }
        self.acked.store(next, Ordering::Release);
    }

    /// Notes that key number `id` was inserted. Kept for callers that insert outside
    /// [`WorkerKeys::next_insert`]: it acknowledges `id` if it is this worker's insert.
    pub fn inserted(&self, id: u64) {
        if id >= self.records + self.worker_index
            && (id - self.records - self.worker_index).is_multiple_of(self.workers)
        {
            self.acknowledge((id - self.records - self.worker_index) / self.workers);
        }
    }

    /// The next `n` key numbers of this worker's load slice, or `None` when it is done.
    pub fn take_load(&self, n: u64) -> Option<Range<u64>> {
        let start = self.load_next.fetch_add(n, Ordering::Relaxed);
        (start < self.load_end).then(|| start..(start + n).min(self.load_end))
    }

    /// Records this worker loads.
    pub fn load_len(&self) -> u64 {
        self.load_end - self.records * self.worker_index / self.workers
    }
}

/// State of one task, handed to every operation it performs.
#[derive(Debug)]
pub struct OpContext {
    /// The task's random generator (seeded from the workload seed, worker and task).
    pub rng: SmallRng,
    /// The task's key chooser.
    pub chooser: KeyChooser,
    /// Key format.
    pub keys: KeyFormatter,
    /// Record generator shared by the worker.
    pub records: Arc<RecordGenerator>,
    /// Key counters shared by the worker.
    pub shared: Arc<WorkerKeys>,
    /// The current key (filled by [`OpContext::choose_key`]).
    pub key: String,
    /// The current record (filled by [`OpContext::fill_record`]).
    pub record: Record,
    /// Batch buffer (filled by [`OpContext::fill_batch`]).
    pub batch: Vec<Record>,
    /// Key batch buffer (filled by [`OpContext::fill_keys`]).
    pub keys_batch: Vec<String>,
    /// Items of the last batch the database did not take; the executor counts them.
    pub item_failures: Vec<ItemFailure>,
    /// Set by a strategy when it has no more work (the load phase); stops the task.
    pub done: bool,
    /// Key numbers of the last [`OpContext::fill_batch`] / [`OpContext::fill_batch_ids`].
    pub batch_ids: Vec<u64>,
    /// Key numbers whose writes the database acknowledged, when the test verifies.
    pub acked: Option<KeySet>,
    version: u64,
}

/// A set of key numbers, one bit each in 64-key words kept only where keys are (a
/// sparse bitmap): its memory follows the keys written, not the largest key number,
/// so verifying a few writes into a key space of 2^48 records takes a few words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    words: std::collections::BTreeMap<u64, u64>,
}

impl KeySet {
    /// Adds key number `id`.
    #[inline]
    pub fn insert(&mut self, id: u64) {
        *self.words.entry(id / 64).or_insert(0) |= 1 << (id % 64);
    }

    /// Adds every key of `other`.
    pub fn union(&mut self, other: &KeySet) {
        for (&w, &bits) in &other.words {
            *self.words.entry(w).or_insert(0) |= bits;
        }
    }

    /// Number of keys.
    pub fn len(&self) -> u64 {
        self.words.values().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.values().all(|w| *w == 0)
    }

    /// The key numbers, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().flat_map(|(&i, &w)| {
            (0..64u64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| i * 64 + b)
        })
    }
}

impl OpContext {
    /// A context for one task.
    pub fn new(
        seed: u64,
        chooser: KeyChooser,
        keys: KeyFormatter,
        records: Arc<RecordGenerator>,
        shared: Arc<WorkerKeys>,
    ) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            chooser,
            keys,
            records,
            shared,
            key: String::with_capacity(32),
            record: Record::default(),
            batch: Vec::new(),
            keys_batch: Vec::new(),
            item_failures: Vec::new(),
            done: false,
            batch_ids: Vec::new(),
            acked: None,
            version: 0,
        }
    }

    /// Chooses a key number, writes its key into [`OpContext::key`] and returns the
    /// number. Only keys known written are chosen: a chooser's draw above
    /// [`WorkerKeys::latest`] (an insert not yet acknowledged, or one predicted for
    /// later in the run) is drawn again, as YCSB's CoreWorkload does.
    #[inline]
    pub fn choose_key(&mut self) -> u64 {
        let latest = self.shared.latest();
        let mut logical = self.chooser.next(&mut self.rng, latest);
        let mut attempts = 0;
        while logical > latest {
            attempts += 1;
            logical = if attempts < 64 {
                self.chooser.next(&mut self.rng, latest)
            } else {
                logical % (latest + 1)
            };
        }
        let id = self.shared.key_id(logical);
        self.keys.write(id, &mut self.key);
        id
    }

    /// Readies the next operation's key choice ([`KeyChooser::prepare`]); the executor
    /// calls it between operations, outside any measured latency.
    #[inline]
    pub(crate) fn prepare(&mut self) {
        self.chooser.prepare(&mut self.rng);
    }

    /// A new insert key number (see [`WorkerKeys::next_insert_id`]).
    pub fn next_insert_id(&mut self) -> u64 {
        self.shared.next_insert_id()
    }

    /// Fills [`OpContext::record`] with a new version of key number `id` at [`OpContext::key`].
    #[inline]
    pub fn fill_record(&mut self, id: u64) {
        self.version += 1;
        self.records
            .fill(&mut self.record, &self.key, id, self.version);
    }

    /// Notes that the write of key number `id` was acknowledged (when verifying).
    #[inline]
    pub fn ack(&mut self, id: u64) {
        if let Some(set) = &mut self.acked {
            set.insert(id);
        }
    }

    /// Notes the acknowledged items of the last batch: all but the failed ones.
    pub fn ack_batch(&mut self) {
        if let Some(set) = &mut self.acked {
            for (i, id) in self.batch_ids.iter().enumerate() {
                if !self.item_failures.iter().any(|f| f.index == i) {
                    set.insert(*id);
                }
            }
        }
    }

    /// Fills [`OpContext::batch`] with `n` records of chosen keys.
    pub fn fill_batch(&mut self, n: usize) {
        self.batch.resize_with(n, Record::default);
        self.batch_ids.clear();
        for i in 0..n {
            let id = self.choose_key();
            self.version += 1;
            self.records
                .fill(&mut self.batch[i], &self.key, id, self.version);
            self.batch_ids.push(id);
        }
    }

    /// Fills [`OpContext::batch`] with the first versions of key numbers `ids` (loading).
    pub fn fill_batch_ids(&mut self, ids: Range<u64>) {
        let n = (ids.end - ids.start) as usize;
        self.batch.resize_with(n, Record::default);
        self.batch_ids.clear();
        self.batch_ids.extend(ids.clone());
        for (slot, id) in ids.enumerate() {
            self.keys.write(id, &mut self.key);
            self.records.fill(&mut self.batch[slot], &self.key, id, 0);
        }
    }

    /// Fills [`OpContext::keys_batch`] with `n` distinct chosen keys (as far as the key
    /// space allows: a batch read of the same key twice is refused by some databases).
    pub fn fill_keys(&mut self, n: usize) {
        self.keys_batch.resize_with(n, String::new);
        for i in 0..n {
            for _attempt in 0..8 {
                self.choose_key();
                if !self.keys_batch[..i].contains(&self.key) {
                    break;
                }
            }
            self.keys_batch[i].clone_from(&self.key);
        }
    }

    /// A query of `kind` around the current key.
    pub fn query(&self, kind: QueryKind, limit: usize, statement: Option<&str>) -> Result<Query> {
        let key = self.key.clone();
        Ok(match kind {
            QueryKind::Key => Query::Key { key },
            QueryKind::Prefix => {
                // Drop the last two digits: a prefix shared by up to 100 keys.
                let cut = key.len().saturating_sub(2).max(self.keys.prefix().len());
                Query::Prefix {
                    prefix: key[..cut].to_string(),
                    limit,
                }
            }
            QueryKind::Range => Query::Range {
                start: key,
                end: None,
                limit,
            },
            QueryKind::History => Query::History { key, limit },
            QueryKind::Latest => Query::Latest { key, limit },
            QueryKind::TimeRange => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                Query::TimeRange {
                    key,
                    start_ms: now - 3_600_000,
                    end_ms: now,
                }
            }
            QueryKind::Native => Query::Native {
                statement: statement
                    .ok_or_else(|| {
                        Error::config("statement", "a `native` query needs a `statement`")
                    })?
                    .replace("{key}", &key),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_slices_partition_the_records() {
        let workers = 3;
        let mut all = Vec::new();
        for w in 0..workers {
            let k = WorkerKeys::new(10, w, workers);
            let mut mine = 0;
            while let Some(r) = k.take_load(4) {
                mine += r.end - r.start;
                all.extend(r);
            }
            assert_eq!(mine, k.load_len());
        }
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn key_sets_hold_union_and_count() {
        let mut a = KeySet::default();
        for id in [0, 63, 64, 1000] {
            a.insert(id);
        }
        a.insert(63);
        let mut b = KeySet::default();
        b.insert(5);
        b.insert(64);
        a.union(&b);
        assert_eq!(a.len(), 5);
        assert_eq!(a.iter().collect::<Vec<_>>(), [0, 5, 63, 64, 1000]);
    }

    #[test]
    fn key_sets_take_memory_for_their_keys_not_the_largest_number() {
        // A dense bitmap of 2^48 keys would be 32 TiB: verifying writes near the
        // record limit aborted the process.
        let mut a = KeySet::default();
        let top = crate::config::MAX_RECORDS * 1001;
        for id in [top, top - 1, 7, u64::MAX] {
            a.insert(id);
        }
        assert_eq!(a.words.len(), 4, "one word each");
        assert_eq!(a.iter().collect::<Vec<_>>(), [7, top - 1, top, u64::MAX]);
        assert_eq!(a.len(), 4);
    }

    #[test]
    fn inserts_never_collide_across_workers() {
        let a = WorkerKeys::new(100, 0, 2);
        let b = WorkerKeys::new(100, 1, 2);
        let ids: Vec<u64> = (0..3)
            .flat_map(|_| [a.next_insert_id(), b.next_insert_id()])
            .collect();
        assert_eq!(ids, [100, 101, 102, 103, 104, 105]);
        // Worker 0 issued inserts 0, 1, 2 (keys 100, 102, 104). Acknowledging 2 first
        // leaves a gap: latest stays at the loaded records until 0 and 1 close it.
        a.inserted(104);
        assert_eq!(a.latest(), 99);
        a.acknowledge(0);
        assert_eq!(a.latest(), 100);
        assert_eq!(a.key_id(100), 100);
        a.acknowledge(1);
        assert_eq!((a.latest(), a.acknowledged_inserts()), (102, 3));
        // Logical numbers map onto worker 0's own keys, never worker 1's.
        assert_eq!(
            (100..=102).map(|l| a.key_id(l)).collect::<Vec<_>>(),
            [100, 102, 104]
        );
        assert_eq!(b.key_id(101), 103);
    }

    #[test]
    fn acknowledged_counter_is_contiguous_under_concurrency() {
        let k = Arc::new(WorkerKeys::new(10, 0, 1));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let k = k.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let (seq, _) = k.next_insert();
                        // Never ahead of what was issued (read before the issue count,
                        // which only grows).
                        let seen = k.acknowledged_inserts();
                        assert!(seen <= k.insert_seq.load(Ordering::SeqCst));
                        k.acknowledge(seq);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(k.acknowledged_inserts(), 4000);
        assert_eq!(k.latest(), 10 + 4000 - 1);
    }
}
