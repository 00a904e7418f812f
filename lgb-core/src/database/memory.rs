//! The `memory` adapter: an ordered in-process map. It needs no service, so it is the
//! embedded default for quick runs, for tests and for measuring lgb's own overhead.
//!
//! Data lives as long as the adapter: in a local run every worker of the run shares
//! one adapter (the worker caches adapters by config); each Lambda process has its own.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde::Deserialize;

use super::{BatchOutcome, Capabilities, Database, OpMeta, QueryOutcome, ReadOutcome};
use crate::error::{Error, Result};
use crate::record::{Query, QueryKind, Record, Value};

/// Options of the `memory` adapter.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryOptions {
    /// Largest batch accepted by one `batch_write` call.
    #[serde(default = "default_max_batch")]
    pub max_batch_size: usize,
    /// Largest item in bytes; larger writes are rejected like a real database would.
    #[serde(default)]
    pub max_item_bytes: Option<usize>,
}

fn default_max_batch() -> usize {
    1000
}

/// The store's capabilities are known from its options, and so is the memory a data
/// set takes, so that `lgb validate` refuses one that cannot fit in this machine.
impl super::AdapterOptions for MemoryOptions {
    fn capabilities(&self) -> Option<Capabilities> {
        Some(MemoryDatabase::new(self.clone()).capabilities())
    }

    fn memory_needed(&self, records: u64, record_bytes: u64, fields: u64) -> Option<u64> {
        // The key is held twice (the record's and the index's shared copy).
        let per_record = record_bytes
            .saturating_add(fields.saturating_mul(PER_FIELD_OVERHEAD))
            .saturating_add(PER_RECORD_OVERHEAD);
        Some(records.saturating_mul(per_record))
    }

    fn problems(&self) -> Vec<crate::error::ConfigProblem> {
        let mut p = Vec::new();
        if self.max_batch_size == 0 {
            p.push(crate::error::ConfigProblem::new(
                "max_batch_size",
                "must be at least 1",
            ));
        }
        if self.max_item_bytes == Some(0) {
            p.push(crate::error::ConfigProblem::new(
                "max_item_bytes",
                "must be at least 1 (leave it out for no limit)",
            ));
        }
        p
    }
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self {
            max_batch_size: default_max_batch(),
            max_item_bytes: None,
        }
    }
}

/// Bytes the store spends per record beyond its field data and key: the hash map
/// slot, the ordered key index, the shared key, the record's allocations and its
/// key copy (an estimate from the sizes of those types on 64-bit targets).
const PER_RECORD_OVERHEAD: u64 = 160;
/// Bytes per field beyond its value: its name (`String`) and value (`Value`) headers
/// and the name's text.
const PER_FIELD_OVERHEAD: u64 = 64;

/// Hashing of the store's keys. std's default, SipHash, resists hash flooding by
/// untrusted keys; the keys here come from the benchmark's own generator in the same
/// process, never from outside, so foldhash (fast, still seeded per map) is enough, and
/// hashing is a visible share of an in-process read.
type KeyHasher = foldhash::fast::RandomState;

/// A stored record and its size ([`Record::size`]), computed once when written: a read
/// reports the size without walking the record's fields, which on a data set larger
/// than the cache costs more cache misses than the lookup itself.
#[derive(Debug)]
struct Stored {
    record: Arc<Record>,
    bytes: u64,
}

/// Records by key for point operations, plus the keys in order for scans. A hash
/// lookup touches one or two cache lines where a B-tree of string keys chases a
/// pointer per comparison; on large data sets that is the difference between a
/// benchmark of lgb and a benchmark of cache misses.
#[derive(Debug, Default)]
struct Store {
    items: HashMap<Arc<str>, Stored, KeyHasher>,
    order: BTreeSet<Arc<str>>,
}

impl Store {
    fn put(&mut self, record: &Record, bytes: u64) {
        match self.items.get_mut(record.key.as_str()) {
            Some(existing) => {
                existing.bytes = bytes;
                match Arc::get_mut(&mut existing.record) {
                    // No reader holds the old version: reuse its allocations.
                    Some(old) => assign(old, record),
                    None => existing.record = Arc::new(copy(record)),
                }
            }
            None => {
                let key: Arc<str> = Arc::from(record.key.as_str());
                self.order.insert(key.clone());
                let record = Arc::new(copy(record));
                self.items.insert(key, Stored { record, bytes });
            }
        }
    }
}

/// A copy of `src` whose text is its own (a [`Value::Shared`] becomes a string).
fn copy(src: &Record) -> Record {
    let mut dst = Record::default();
    assign(&mut dst, src);
    dst
}

/// `*dst = src.clone()`, reusing `dst`'s buffers, with shared text copied into
/// strings of the store's own. The derived `clone_from` of a `Vec<(String, Value)>`
/// clones each pair anew, which allocated every field of every update.
fn assign(dst: &mut Record, src: &Record) {
    dst.key.clone_from(&src.key);
    dst.timestamp = src.timestamp;
    assign_pairs(
        &mut dst.dimensions,
        &src.dimensions,
        String::clone_from,
        String::clone,
    );
    let value = |d: &mut Value, s: &Value| match (d, s) {
        (Value::Str(d), Value::Str(s)) => d.clone_from(s),
        // The store keeps a copy of what it is given, as a database would.
        (Value::Str(d), Value::Shared(s)) => {
            d.clear();
            d.push_str(s.as_str());
        }
        (Value::Bytes(d), Value::Bytes(s)) => d.clone_from(s),
        (d, s) => *d = s.to_owned_text(),
    };
    assign_pairs(&mut dst.fields, &src.fields, value, Value::to_owned_text);
}

/// `dst` made equal to `src`: pairs already in `dst` take `src`'s by `value`, the
/// rest are added as made by `copy`.
fn assign_pairs<V>(
    dst: &mut Vec<(String, V)>,
    src: &[(String, V)],
    value: impl Fn(&mut V, &V),
    copy: impl Fn(&V) -> V,
) {
    dst.truncate(src.len());
    for ((dn, dv), (sn, sv)) in dst.iter_mut().zip(src) {
        dn.clone_from(sn);
        value(dv, sv);
    }
    let reused = dst.len();
    dst.extend(src[reused..].iter().map(|(n, v)| (n.clone(), copy(v))));
}

/// An ordered in-memory key-value store implementing [`Database`].
#[derive(Debug, Default)]
pub struct MemoryDatabase {
    options: MemoryOptions,
    items: RwLock<Store>,
}

impl MemoryDatabase {
    /// An empty store with `options`.
    pub fn new(options: MemoryOptions) -> Self {
        Self {
            options,
            items: RwLock::new(Store::default()),
        }
    }

    /// Number of records stored.
    pub fn len(&self) -> usize {
        self.items.read().map(|m| m.items.len()).unwrap_or(0)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check_size(&self, record: &Record) -> Result<usize> {
        let size = record.size();
        match self.options.max_item_bytes {
            Some(max) if size > max => Err(Error::Rejected(format!(
                "item `{}` is {size} bytes, over the limit of {max}",
                record.key
            ))),
            _ => Ok(size),
        }
    }

    fn read_stored(&self, key: &str) -> Result<ReadOutcome> {
        let map = self.map()?;
        Ok(match map.items.get(key) {
            Some(s) => ReadOutcome {
                meta: OpMeta {
                    bytes: s.bytes,
                    items: 1,
                    ..OpMeta::default()
                },
                record: Some(s.record.clone()),
            },
            None => ReadOutcome::default(),
        })
    }

    fn write_stored(&self, record: &Record) -> Result<OpMeta> {
        let bytes = self.check_size(record)? as u64;
        self.map_mut()?.put(record, bytes);
        Ok(OpMeta {
            bytes,
            items: 1,
            ..OpMeta::default()
        })
    }

    fn map(&self) -> Result<std::sync::RwLockReadGuard<'_, Store>> {
        self.items
            .read()
            .map_err(|_| Error::Backend("memory store poisoned".into()))
    }

    fn map_mut(&self) -> Result<std::sync::RwLockWriteGuard<'_, Store>> {
        self.items
            .write()
            .map_err(|_| Error::Backend("memory store poisoned".into()))
    }
}

fn collect<'a>(
    store: &Store,
    keys: impl Iterator<Item = &'a Arc<str>>,
    limit: usize,
) -> QueryOutcome {
    let mut bytes = 0;
    let records: Vec<Record> = keys
        .take(limit)
        .filter_map(|k| store.items.get(k))
        .map(|s| {
            bytes += s.bytes;
            Record::clone(&s.record)
        })
        .collect();
    QueryOutcome {
        meta: OpMeta {
            items: records.len() as u64,
            bytes,
            ..OpMeta::default()
        },
        records,
    }
}

#[async_trait]
impl Database for MemoryDatabase {
    fn name(&self) -> &str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_batch_size: self.options.max_batch_size,
            queries: vec![QueryKind::Key, QueryKind::Prefix, QueryKind::Range],
            max_item_bytes: self.options.max_item_bytes,
            reads_records: true,
        }
    }

    async fn write(&self, record: &Record) -> Result<OpMeta> {
        self.write_stored(record)
    }

    fn write_now(&self, record: &Record) -> Option<Result<OpMeta>> {
        Some(self.write_stored(record))
    }

    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        // Batches over the limit are split, as the trait promises: one write lock per
        // chunk of at most `max_batch_size` items, as a real database takes one call
        // per chunk. Failed items keep their index in the whole batch.
        let mut out = BatchOutcome::default();
        let chunk = self.options.max_batch_size.max(1);
        for (c, part) in records.chunks(chunk).enumerate() {
            self.write_chunk(part, c * chunk, &mut out)?;
        }
        Ok(out)
    }

    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        self.read_stored(key)
    }

    fn read_now(&self, key: &str) -> Option<Result<ReadOutcome>> {
        Some(self.read_stored(key))
    }

    async fn query(&self, query: &Query) -> Result<QueryOutcome> {
        self.run_query(query)
    }
}

impl MemoryDatabase {
    fn write_chunk(&self, records: &[Record], first: usize, out: &mut BatchOutcome) -> Result<()> {
        let mut map = self.map_mut()?;
        for (i, record) in records.iter().enumerate() {
            let index = first + i;
            match self.check_size(record) {
                Ok(size) => {
                    map.put(record, size as u64);
                    out.meta.bytes += size as u64;
                    out.meta.items += 1;
                }
                Err(e) => out.failed.push(super::ItemFailure {
                    index,
                    class: e.class(),
                    message: e.to_string(),
                }),
            }
        }
        Ok(())
    }

    fn run_query(&self, query: &Query) -> Result<QueryOutcome> {
        let map = self.map()?;
        Ok(match query {
            Query::Key { key } => collect(&map, map.order.get(key.as_str()).into_iter(), 1),
            Query::Prefix { prefix, limit } => collect(
                &map,
                map.order
                    .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
                    .take_while(|k| k.starts_with(prefix.as_str())),
                *limit,
            ),
            Query::Range { start, end, limit } => {
                let upper = match end {
                    Some(e) => Bound::Included(e.as_str()),
                    None => Bound::Unbounded,
                };
                collect(
                    &map,
                    map.order
                        .range::<str, _>((Bound::Included(start.as_str()), upper)),
                    *limit,
                )
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "the memory adapter has no `{}` queries",
                    other.kind().as_str()
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Value;

    fn rec(k: &str) -> Record {
        Record::new(k).with_field("f", Value::Str(k.to_uppercase()))
    }

    #[tokio::test]
    async fn round_trip_overwrite_and_missing_key() {
        let db = MemoryDatabase::default();
        db.write(&rec("a")).await.unwrap();
        db.write(&Record::new("a").with_field("f", Value::Int(2)))
            .await
            .unwrap();
        let got = db.read("a").await.unwrap().record.unwrap();
        assert_eq!(got.field("f"), Some(&Value::Int(2)));
        assert!(db.read("zz").await.unwrap().record.is_none());
        assert_eq!(db.len(), 1);
    }

    #[tokio::test]
    async fn keeps_its_own_copy_of_shared_text() {
        let db = MemoryDatabase::default();
        let generator = crate::workload::records::RecordGenerator::new(7, 3, 10);
        let mut sent = generator.record("a", 1, 0);
        sent.fields.push(("extra".into(), Value::Int(1)));
        assert!(matches!(sent.fields[0].1, Value::Shared(_)));
        let own = |r: &Record| r.fields.iter().all(|(_, v)| !matches!(v, Value::Shared(_)));
        // A new item; over an item of one field; over an item a reader holds; with
        // fewer fields than the item it replaces.
        db.write(&Record::new("a").with_field("f", Value::Int(0)))
            .await
            .unwrap();
        let mut short = sent.clone();
        short.fields.truncate(2);
        let mut new = sent.clone();
        new.key = "new".into();
        let mut held = None;
        for r in [&new, &sent, &sent, &short] {
            db.write(r).await.unwrap();
            let got = db.read(&r.key).await.unwrap().record.unwrap();
            assert_eq!(*got, *r);
            assert!(own(&got), "{got:?}");
            held = Some(got);
        }
        assert!(held.is_some());
    }

    #[tokio::test]
    async fn answers_at_once_exactly_what_the_async_calls_answer() {
        let db = MemoryDatabase::new(MemoryOptions {
            max_item_bytes: Some(10),
            ..MemoryOptions::default()
        });
        let meta = db.write_now(&rec("a")).unwrap().unwrap();
        assert_eq!(meta, db.write(&rec("a")).await.unwrap());
        assert_eq!(meta.items, 1);
        for key in ["a", "missing"] {
            let now = db.read_now(key).unwrap().unwrap();
            assert_eq!(now, db.read(key).await.unwrap());
        }
        assert_eq!(
            db.read_now("a").unwrap().unwrap().record.as_deref(),
            Some(&rec("a"))
        );
        let big = Record::new("big").with_field("f", Value::Str("x".repeat(50)));
        let err = db.write_now(&big).unwrap().unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Rejected);
        assert!(db.read_now("big").unwrap().unwrap().record.is_none());
    }

    #[tokio::test]
    async fn overwrites_copy_every_part_and_leave_readers_their_version() {
        let db = MemoryDatabase::default();
        let a = rec("k").with_field("b", Value::Bytes(vec![1, 2]));
        db.write(&a).await.unwrap();
        let held = db.read("k").await.unwrap().record.unwrap();
        // A reader holds the stored version: the write must not change it.
        let mut b = Record::new("k").with_field("f", Value::Bytes(vec![9]));
        b.timestamp = Some(5);
        b.dimensions = vec![("host".into(), "a".into())];
        db.write(&b).await.unwrap();
        assert_eq!(*held, a);
        drop(held);
        // Nobody holds it now: the stored record is overwritten in place, growing,
        // shrinking and changing field types.
        let c = rec("k")
            .with_field("g", Value::Str("longer value".into()))
            .with_field("h", Value::Float(1.5));
        let d = Record::new("k").with_field("f", Value::Bool(true));
        for want in [&b, &c, &d, &a] {
            db.write(want).await.unwrap();
            let got = db.read("k").await.unwrap();
            assert_eq!(got.record.as_deref(), Some(want));
            assert_eq!(got.meta.bytes, want.size() as u64);
        }
        let q = db.query(&Query::Key { key: "k".into() }).await.unwrap();
        assert_eq!(
            (q.records, q.meta.bytes),
            (vec![a.clone()], a.size() as u64)
        );
    }

    #[tokio::test]
    async fn prefix_and_range_are_ordered_and_limited() {
        let db = MemoryDatabase::default();
        let batch: Vec<Record> = ["a1", "a2", "a3", "b1"].iter().map(|k| rec(k)).collect();
        let out = db.batch_write(&batch).await.unwrap();
        assert!(out.failed.is_empty());
        assert_eq!(out.meta.items, 4);
        let keys = |o: QueryOutcome| o.records.into_iter().map(|r| r.key).collect::<Vec<_>>();
        let q = Query::Prefix {
            prefix: "a".into(),
            limit: 2,
        };
        assert_eq!(keys(db.query(&q).await.unwrap()), ["a1", "a2"]);
        let q = Query::Range {
            start: "a2".into(),
            end: Some("b1".into()),
            limit: 10,
        };
        assert_eq!(keys(db.query(&q).await.unwrap()), ["a2", "a3", "b1"]);
        let q = Query::History {
            key: "a".into(),
            limit: 1,
        };
        assert_eq!(
            db.query(&q).await.unwrap_err().class(),
            crate::error::ErrorClass::Unsupported
        );
    }

    #[tokio::test]
    async fn batches_over_the_limit_are_split_not_refused() {
        let db = MemoryDatabase::new(MemoryOptions {
            max_batch_size: 3,
            max_item_bytes: Some(10),
        });
        let mut batch: Vec<Record> = (0..8).map(|i| rec(&format!("k{i}"))).collect();
        batch[5] = Record::new("big").with_field("f", Value::Str("x".repeat(50)));
        let out = db.batch_write(&batch).await.unwrap();
        assert_eq!(out.meta.items, 7);
        // The failed item keeps its index in the whole batch, not in its chunk.
        assert_eq!(out.failed.len(), 1);
        assert_eq!(out.failed[0].index, 5);
        assert_eq!(db.len(), 7);
        assert!(db.read("k7").await.unwrap().record.is_some());
    }

    #[test]
    fn registry_knows_capabilities_and_memory_without_building() {
        let registry = crate::database::DatabaseRegistry::with_builtins();
        let memory = registry.factory("memory").unwrap();
        let caps = memory
            .capabilities(&serde_json::json!({"max_batch_size": 7}))
            .unwrap();
        assert_eq!(caps.max_batch_size, 7);
        assert!(caps.queries.contains(&QueryKind::Range));
        let need = memory
            .memory_needed(&serde_json::json!({}), 1000, 1016, 10)
            .unwrap();
        assert_eq!(need, 1000 * (1016 + 640 + 160));
        let huge = memory.memory_needed(&serde_json::json!({}), u64::MAX / 2, 1016, 10);
        assert_eq!(huge, Some(u64::MAX));
        // A database that keeps its data elsewhere needs none of this process's.
        let noop = registry.factory("noop").unwrap();
        assert_eq!(
            noop.memory_needed(&serde_json::json!({}), 1000, 1016, 10),
            None
        );
    }

    #[tokio::test]
    async fn oversized_items_are_rejected_per_item() {
        let db = MemoryDatabase::new(MemoryOptions {
            max_item_bytes: Some(10),
            ..MemoryOptions::default()
        });
        let big = Record::new("big").with_field("f", Value::Str("x".repeat(50)));
        let out = db.batch_write(&[rec("a"), big.clone()]).await.unwrap();
        assert_eq!(out.failed.len(), 1);
        assert_eq!(out.failed[0].index, 1);
        assert!(db.write(&big).await.is_err());
    }
}
