//! The `scripted` adapter: every call takes a latency from a known schedule and can
//! fail on a known rhythm. It exists to test lgb itself: with a known schedule the true
//! latency distribution is known, so reported percentiles can be checked against it.
//!
//! With a [`VirtualClock`] the adapter advances the clock instead of sleeping, which
//! makes executor results exact and repeatable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    AdapterOptions, BatchOutcome, Capabilities, Database, OpMeta, QueryOutcome, ReadOutcome,
};
use crate::clock::VirtualClock;
use crate::error::{ConfigProblem, Error, ErrorClass, Result};
use crate::record::{Query, QueryKind, Record};
use crate::units::HumanDuration;

/// Options of the `scripted` adapter.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptedOptions {
    /// Latencies of successive calls, cycled (for example `["1ms", "2ms"]`).
    pub latencies: Vec<HumanDuration>,
    /// Extra stalls: call number `at` (0-based, counted over all calls) takes `for` longer.
    #[serde(default)]
    pub stalls: Vec<Stall>,
    /// Every `fail_every`-th call (1-based) fails with `fail_class`; 0 never fails.
    #[serde(default)]
    pub fail_every: u64,
    /// Class of the scripted failures.
    #[serde(default = "default_fail_class")]
    pub fail_class: ErrorClass,
}

fn default_fail_class() -> ErrorClass {
    ErrorClass::Backend
}

impl AdapterOptions for ScriptedOptions {
    fn problems(&self) -> Vec<ConfigProblem> {
        if self.latencies.is_empty() {
            vec![ConfigProblem::new(
                "latencies",
                "needs at least one latency",
            )]
        } else {
            Vec::new()
        }
    }
}

/// A one-off stall in a [`ScriptedOptions`] schedule.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    /// Index of the call that stalls.
    pub at: u64,
    /// How much longer that call takes.
    #[serde(rename = "for")]
    pub duration: HumanDuration,
}

/// A [`Database`] that sleeps a known schedule.
#[derive(Debug)]
pub struct ScriptedDatabase {
    options: ScriptedOptions,
    calls: AtomicU64,
    clock: Option<VirtualClock>,
}

impl ScriptedDatabase {
    /// An adapter that really sleeps.
    pub fn new(options: ScriptedOptions) -> Result<Self> {
        options.check()?;
        Ok(Self {
            options,
            calls: AtomicU64::new(0),
            clock: None,
        })
    }

    /// An adapter that advances `clock` instead of sleeping.
    pub fn with_virtual_clock(options: ScriptedOptions, clock: VirtualClock) -> Result<Self> {
        let mut db = Self::new(options)?;
        db.clock = Some(clock);
        Ok(db)
    }

    /// The latency of call number `n` under this schedule (the truth tests compare to).
    pub fn latency_of(&self, n: u64) -> Duration {
        let l = &self.options.latencies;
        let mut d = l[(n % l.len() as u64) as usize].0;
        for s in &self.options.stalls {
            if s.at == n {
                d += s.duration.0;
            }
        }
        d
    }

    async fn call(&self) -> Result<()> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let d = self.latency_of(n);
        match &self.clock {
            Some(c) => c.advance(d),
            None => tokio::time::sleep(d).await,
        }
        let every = self.options.fail_every;
        if (n + 1).is_multiple_of(every) {
            return Err(scripted_error(self.options.fail_class, n));
        }
        Ok(())
    }
}

fn scripted_error(class: ErrorClass, n: u64) -> Error {
    let msg = format!("scripted failure of call {n}");
    match class {
        ErrorClass::Connect => Error::Connect(msg),
        ErrorClass::Timeout => Error::Timeout(msg),
        ErrorClass::Throttled => Error::Throttled(msg),
        ErrorClass::NotFound => Error::NotFound(msg),
        ErrorClass::Rejected => Error::Rejected(msg),
        ErrorClass::Unsupported => Error::Unsupported(msg),
        ErrorClass::Tampered => Error::Tampered(msg),
        _ => Error::Backend(msg),
    }
}

#[async_trait]
impl Database for ScriptedDatabase {
    fn name(&self) -> &str {
        "scripted"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_batch_size: 1000,
            queries: vec![QueryKind::Key, QueryKind::Prefix, QueryKind::Range],
            max_item_bytes: None,
            reads_records: false,
        }
    }

    async fn write(&self, record: &Record) -> Result<OpMeta> {
        self.call().await?;
        Ok(OpMeta {
            items: 1,
            bytes: record.size() as u64,
            ..OpMeta::default()
        })
    }

    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        self.call().await?;
        Ok(BatchOutcome {
            meta: OpMeta {
                items: records.len() as u64,
                ..OpMeta::default()
            },
            failed: Vec::new(),
        })
    }

    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        self.call().await?;
        Ok(ReadOutcome {
            record: Some(std::sync::Arc::new(Record::new(key))),
            meta: OpMeta {
                items: 1,
                ..OpMeta::default()
            },
        })
    }

    async fn query(&self, _query: &Query) -> Result<QueryOutcome> {
        self.call().await?;
        Ok(QueryOutcome::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(json: serde_json::Value) -> ScriptedOptions {
        serde_json::from_value(json).unwrap()
    }

    #[tokio::test]
    async fn schedule_cycles_stalls_and_fails_on_rhythm() {
        let clock = VirtualClock::new();
        let db = ScriptedDatabase::with_virtual_clock(
            opts(serde_json::json!({
                "latencies": ["1ms", "3ms"],
                "stalls": [{"at": 2, "for": "10ms"}],
                "fail_every": 3,
                "fail_class": "throttled"
            })),
            clock.clone(),
        )
        .unwrap();
        assert!(db.read("a").await.is_ok());
        assert!(db.read("a").await.is_ok());
        let err = db.read("a").await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Throttled);
        // 1 + 3 + (1 + 10) ms
        use crate::clock::Clock;
        assert_eq!(clock.now_ns(), 15_000_000);
    }
}
