//! The `noop` adapter: every call succeeds at once and nothing is stored. It is the
//! harness's own ceiling, as YCSB's `BasicDB` and go-ycsb's `basic` are: a run against
//! it measures what lgb itself costs per operation on this machine.
//!
//! What it answers:
//! - `write`, `batch_write`: success, nothing kept (every item of a batch of any size
//!   is taken; `items` counts them).
//! - `read`: one fixed small record (key `noop`, field `field0` = `"noop"`), shared, so
//!   a read is a success and costs a reference count, never a copy.
//! - `read_many`: that record once per key.
//! - `query` of any kind: no records.
//!
//! With `reads: "not_found"` every read answers "no such key" instead (to measure the
//! not-found path); reads of a run then end `not_found`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::{BatchOutcome, Capabilities, Database, OpMeta, QueryOutcome, ReadOutcome};
use crate::error::Result;
use crate::record::{Query, QueryKind, Record, Value};

/// What reads of the `noop` adapter answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoopReads {
    /// A fixed small record (the default).
    #[default]
    Found,
    /// "No such key".
    NotFound,
}

/// Options of the `noop` adapter.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoopOptions {
    /// What reads answer: `found` (a fixed small record, the default) or `not_found`.
    #[serde(default)]
    pub reads: NoopReads,
}

/// A database that does nothing and answers at once; see the module docs.
#[derive(Debug)]
pub struct NoopDatabase {
    record: Option<Arc<Record>>,
}

impl Default for NoopDatabase {
    fn default() -> Self {
        Self::new(NoopOptions::default())
    }
}

/// What a no-op database can do is known without one.
impl super::AdapterOptions for NoopOptions {
    fn capabilities(&self) -> Option<Capabilities> {
        Some(NoopDatabase::default().capabilities())
    }
}

impl NoopDatabase {
    /// A no-op database whose reads answer as `options.reads` says.
    pub fn new(options: NoopOptions) -> Self {
        Self {
            record: (options.reads == NoopReads::Found).then(|| Arc::new(Self::fixed_record())),
        }
    }

    /// The record every read returns (with `reads: found`).
    pub fn fixed_record() -> Record {
        Record::new("noop").with_field("field0", Value::Str("noop".into()))
    }

    #[inline]
    fn outcome(&self) -> ReadOutcome {
        ReadOutcome {
            meta: OpMeta {
                items: u64::from(self.record.is_some()),
                ..OpMeta::default()
            },
            record: self.record.clone(),
        }
    }
}

#[async_trait]
impl Database for NoopDatabase {
    fn name(&self) -> &str {
        "noop"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_batch_size: crate::config::MAX_BATCH,
            queries: vec![
                QueryKind::Key,
                QueryKind::Prefix,
                QueryKind::Range,
                QueryKind::TimeRange,
                QueryKind::Latest,
                QueryKind::History,
                QueryKind::Native,
            ],
            max_item_bytes: None,
            reads_records: true,
        }
    }

    async fn write(&self, _record: &Record) -> Result<OpMeta> {
        Ok(OpMeta {
            items: 1,
            ..OpMeta::default()
        })
    }

    fn write_now(&self, _record: &Record) -> Option<Result<OpMeta>> {
        Some(Ok(OpMeta {
            items: 1,
            ..OpMeta::default()
        }))
    }

    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        Ok(BatchOutcome {
            meta: OpMeta {
                items: records.len() as u64,
                ..OpMeta::default()
            },
            failed: Vec::new(),
        })
    }

    async fn read(&self, _key: &str) -> Result<ReadOutcome> {
        Ok(self.outcome())
    }

    fn read_now(&self, _key: &str) -> Option<Result<ReadOutcome>> {
        Some(Ok(self.outcome()))
    }

    async fn read_many(&self, keys: &[String]) -> Result<QueryOutcome> {
        let records: Vec<Record> = match &self.record {
            Some(r) => keys.iter().map(|_| Record::clone(r)).collect(),
            None => Vec::new(),
        };
        Ok(QueryOutcome {
            meta: OpMeta {
                items: records.len() as u64,
                ..OpMeta::default()
            },
            records,
        })
    }

    async fn query(&self, _query: &Query) -> Result<QueryOutcome> {
        Ok(QueryOutcome::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_every_call_at_once_and_keeps_nothing() {
        let db = NoopDatabase::default();
        let r = Record::new("k").with_field("f", Value::Int(1));
        assert_eq!(db.write(&r).await.unwrap().items, 1);
        let got = db.read("k").await.unwrap().record.unwrap();
        // Nothing was stored: the read answers the fixed record, not what was written.
        assert_eq!(*got, NoopDatabase::fixed_record());
        assert_eq!(
            db.read_now("other").unwrap().unwrap(),
            db.read("x").await.unwrap()
        );
        let batch = vec![r.clone(); 5000];
        let out = db.batch_write(&batch).await.unwrap();
        assert_eq!((out.meta.items, out.failed.len()), (5000, 0));
        let many = db.read_many(&["a".into(), "b".into()]).await.unwrap();
        assert_eq!(many.records.len(), 2);
        let q = Query::Range {
            start: "a".into(),
            end: None,
            limit: 10,
        };
        assert!(db.query(&q).await.unwrap().records.is_empty());
    }

    #[tokio::test]
    async fn not_found_reads_answer_no_record() {
        let db = NoopDatabase::new(NoopOptions {
            reads: NoopReads::NotFound,
        });
        assert!(db.read("k").await.unwrap().record.is_none());
        assert!(db
            .read_many(&["k".into()])
            .await
            .unwrap()
            .records
            .is_empty());
    }
}
