//! Operations: what one benchmark operation does to a database, one type per kind,
//! chosen by the test's `operation.type`. Built-ins cover YCSB's operations plus batch writes, parallel reads
//! and queries; users add their own by implementing [`Operation`] and registering it in
//! the [`OperationRegistry`].
//!
//! Built-in strategies are dispatched statically: the executor's hot path makes no
//! virtual call and no allocation of its own for them.

mod context;
pub mod timeseries;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use rand::Rng;
use serde::Deserialize;

pub use context::{KeySet, OpContext, WorkerKeys};

use crate::config::OperationConfig;
use crate::database::{Capabilities, Database, ReadOutcome};
use crate::error::{ConfigProblem, Error, Result};
use crate::record::OpMeta;
use crate::record::{Query, QueryKind, Record};

/// A user-defined operation strategy.
///
/// `execute` performs one operation and says which of [`Operation::kinds`] it was, so
/// that a strategy can mix several kinds, each measured separately.
#[async_trait]
pub trait Operation: Send + Sync + 'static {
    /// Names of the operation kinds this strategy reports, as they appear in results.
    fn kinds(&self) -> Vec<String>;
    /// Problems with running this strategy on a database with `caps`.
    fn check(&self, _caps: &Capabilities) -> Vec<ConfigProblem> {
        Vec::new()
    }
    /// Performs one operation: returns the index of its kind and its outcome.
    async fn execute(&self, ctx: &mut OpContext, db: &dyn Database) -> (usize, Result<OpMeta>);
}

/// [`Database::write`], or [`Database::write_now`] when the adapter writes at once
/// (no boxed future on the hot path of an in-process store).
#[inline]
async fn write(db: &dyn Database, record: &Record) -> Result<OpMeta> {
    match db.write_now(record) {
        Some(out) => out,
        None => db.write(record).await,
    }
}

/// The outcome of a read of the chosen key: not finding it is an error.
#[inline]
fn found(ctx: &OpContext, out: Result<ReadOutcome>) -> Result<OpMeta> {
    let out = out?;
    if out.record.is_none() {
        return Err(Error::NotFound(ctx.key.clone()));
    }
    Ok(out.meta)
}

/// The outcome of a write of key number `id` (after a read costing `read`).
#[inline]
fn written(ctx: &mut OpContext, id: u64, out: Result<OpMeta>, read: &OpMeta) -> Result<OpMeta> {
    let mut meta = out?;
    ctx.ack(id);
    meta.add(read);
    Ok(meta)
}

/// The outcome of insert `seq` of key number `id`: acknowledged once finished, failed
/// or not (see [`WorkerKeys::acknowledge`]).
#[inline]
fn inserted(ctx: &mut OpContext, seq: u64, id: u64, out: Result<OpMeta>) -> Result<OpMeta> {
    ctx.shared.acknowledge(seq);
    let meta = out?;
    ctx.ack(id);
    Ok(meta)
}

/// How far an operation got without waiting ([`Strategy::begin`]).
pub(crate) enum Begun {
    /// Done: the index of its kind and its outcome.
    Done(usize, Result<OpMeta>),
    /// The database must be awaited: [`Strategy::finish`] completes the operation.
    Waiting(usize, Rest),
}

/// What is left of a step once its database must be awaited.
pub(crate) enum Rest {
    /// All of it (a step that always awaits, or a user's strategy).
    Step,
    /// Reading the chosen key.
    Read,
    /// Writing the filled record of key number `id`, after a read that cost `read`.
    Write { id: u64, read: OpMeta },
    /// Writing insert `seq`, the filled record of key number `id`.
    Insert { seq: u64, id: u64 },
    /// Reading the chosen key number `id`, then writing it back.
    Modify(u64),
}

/// One built-in step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Read one chosen key (YCSB read).
    Read,
    /// Overwrite one chosen key with a new version (YCSB update).
    Write,
    /// Write a new key after the loaded ones (YCSB insert).
    Insert,
    /// Range query from a chosen key of 1..=`max_length` records (YCSB scan).
    Scan {
        /// Longest scan.
        max_length: usize,
    },
    /// Read a chosen key, then write it back changed (YCSB read-modify-write).
    ReadModifyWrite,
    /// Write `size` records of chosen keys in one call.
    BatchWrite {
        /// Records per call.
        size: usize,
    },
    /// Read `fanout` chosen keys in one call.
    ParallelRead {
        /// Keys per call.
        fanout: usize,
    },
    /// Load phase: write the next `batch` records of this worker's slice.
    Load {
        /// Records per call; 1 uses single writes.
        batch: usize,
    },
    /// One query of `kind` around a chosen key.
    Query {
        /// Query kind.
        kind: QueryKind,
        /// Most records returned.
        limit: usize,
        /// Statement for `native` queries; `{key}` is replaced by the chosen key.
        statement: Option<String>,
    },
}

impl Step {
    fn check(&self, caps: &Capabilities) -> Option<String> {
        let needs = |k: QueryKind| {
            (!caps.queries.contains(&k))
                .then(|| format!("the database has no `{}` queries", k.as_str()))
        };
        match self {
            Step::Scan { .. } => needs(QueryKind::Range),
            Step::Query { kind, .. } => needs(*kind),
            _ => None,
        }
    }

    /// Does what the step can without waiting: an in-process store
    /// ([`Database::read_now`], [`Database::write_now`]) answers here, with no future
    /// made or polled; otherwise it says what is left for [`Step::finish`].
    #[inline]
    fn begin(&self, ctx: &mut OpContext, db: &dyn Database) -> Result<Result<OpMeta>, Rest> {
        match self {
            Step::Read => {
                ctx.choose_key();
                match db.read_now(&ctx.key) {
                    Some(out) => Ok(found(ctx, out)),
                    None => Err(Rest::Read),
                }
            }
            Step::Write => {
                let id = ctx.choose_key();
                ctx.fill_record(id);
                match db.write_now(&ctx.record) {
                    Some(out) => Ok(written(ctx, id, out, &OpMeta::default())),
                    None => Err(Rest::Write {
                        id,
                        read: OpMeta::default(),
                    }),
                }
            }
            Step::Insert => {
                let (seq, id) = ctx.shared.next_insert();
                ctx.keys.write(id, &mut ctx.key);
                ctx.fill_record(id);
                match db.write_now(&ctx.record) {
                    Some(out) => Ok(inserted(ctx, seq, id, out)),
                    None => Err(Rest::Insert { seq, id }),
                }
            }
            Step::ReadModifyWrite => {
                let id = ctx.choose_key();
                let Some(out) = db.read_now(&ctx.key) else {
                    return Err(Rest::Modify(id));
                };
                let read = match found(ctx, out) {
                    Ok(read) => read,
                    Err(e) => return Ok(Err(e)),
                };
                ctx.fill_record(id);
                match db.write_now(&ctx.record) {
                    Some(out) => Ok(written(ctx, id, out, &read)),
                    None => Err(Rest::Write { id, read }),
                }
            }
            _ => Err(Rest::Step),
        }
    }

    /// Completes the step from where [`Step::begin`] left it.
    async fn finish(&self, rest: Rest, ctx: &mut OpContext, db: &dyn Database) -> Result<OpMeta> {
        match rest {
            Rest::Step => self.execute_waiting(ctx, db).await,
            Rest::Read => found(ctx, db.read(&ctx.key).await),
            Rest::Write { id, read } => {
                let out = db.write(&ctx.record).await;
                written(ctx, id, out, &read)
            }
            Rest::Insert { seq, id } => {
                let out = db.write(&ctx.record).await;
                inserted(ctx, seq, id, out)
            }
            Rest::Modify(id) => {
                let read = found(ctx, db.read(&ctx.key).await)?;
                ctx.fill_record(id);
                let out = write(db, &ctx.record).await;
                written(ctx, id, out, &read)
            }
        }
    }

    /// The steps that always await their database.
    async fn execute_waiting(&self, ctx: &mut OpContext, db: &dyn Database) -> Result<OpMeta> {
        match self {
            Step::Read | Step::Write | Step::Insert | Step::ReadModifyWrite => Err(
                Error::Internal("a one-key step was left to wait whole".into()),
            ),
            Step::Scan { max_length } => {
                ctx.choose_key();
                let limit = ctx.rng.gen_range(1..=*max_length);
                let q = Query::Range {
                    start: ctx.key.clone(),
                    end: None,
                    limit,
                };
                Ok(db.query(&q).await?.meta)
            }
            Step::BatchWrite { size } => {
                ctx.fill_batch(*size);
                let out = db.batch_write(&ctx.batch).await?;
                ctx.item_failures.extend(out.failed.iter().cloned());
                ctx.ack_batch();
                Ok(out.meta)
            }
            Step::ParallelRead { fanout } => {
                ctx.fill_keys(*fanout);
                let out = db.read_many(&ctx.keys_batch).await?;
                let missing = ctx.keys_batch.len() as u64 - out.records.len() as u64;
                if missing > 0 {
                    return Err(Error::NotFound(format!(
                        "{missing} of {} keys, for example {}",
                        ctx.keys_batch.len(),
                        ctx.keys_batch[0]
                    )));
                }
                Ok(out.meta)
            }
            Step::Load { batch } => {
                let Some(ids) = ctx.shared.take_load(*batch as u64) else {
                    ctx.done = true;
                    return Ok(OpMeta::default());
                };
                ctx.fill_batch_ids(ids);
                let meta = if ctx.batch.len() == 1 {
                    write(db, &ctx.batch[0]).await?
                } else {
                    let out = db.batch_write(&ctx.batch).await?;
                    ctx.item_failures.extend(out.failed.iter().cloned());
                    out.meta
                };
                ctx.ack_batch();
                Ok(meta)
            }
            Step::Query {
                kind,
                limit,
                statement,
            } => {
                ctx.choose_key();
                let q = ctx.query(*kind, *limit, statement.as_deref())?;
                Ok(db.query(&q).await?.meta)
            }
        }
    }
}

/// Built-in strategies: one step, or a weighted mix of steps.
#[derive(Debug, Clone)]
pub struct Mix {
    names: Vec<String>,
    steps: Vec<Step>,
    cumulative: Vec<f64>,
}

impl Mix {
    /// A strategy of one step named `name`.
    pub fn single(name: &str, step: Step) -> Self {
        Self {
            names: vec![name.to_string()],
            steps: vec![step],
            cumulative: vec![1.0],
        }
    }

    /// The steps, by kind name.
    pub fn steps(&self) -> impl Iterator<Item = (&str, &Step)> {
        self.names.iter().map(String::as_str).zip(&self.steps)
    }

    #[inline]
    fn pick(&self, ctx: &mut OpContext) -> usize {
        if self.steps.len() == 1 {
            return 0;
        }
        let u: f64 = ctx.rng.gen();
        self.cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.steps.len() - 1)
    }
}

/// A strategy ready to run: built-in (static dispatch) or user-defined.
#[derive(Clone)]
pub enum Strategy {
    /// A built-in strategy.
    Builtin(Mix),
    /// A user-registered strategy.
    Custom(Arc<dyn Operation>),
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Strategy::Builtin(m) => f.debug_tuple("Builtin").field(&m.names).finish(),
            Strategy::Custom(o) => f.debug_tuple("Custom").field(&o.kinds()).finish(),
        }
    }
}

impl Strategy {
    /// Operation kinds reported by this strategy, in index order.
    pub fn kinds(&self) -> Vec<String> {
        match self {
            Strategy::Builtin(m) => m.names.clone(),
            Strategy::Custom(o) => o.kinds(),
        }
    }

    /// The share of operations of kind `kind` (0 for user strategies, whose mix lgb
    /// does not know).
    pub fn fraction(&self, kind: &str) -> f64 {
        match self {
            Strategy::Builtin(m) => {
                let mut prev = 0.0;
                let mut share = 0.0;
                for (name, c) in m.names.iter().zip(&m.cumulative) {
                    if name == kind {
                        share += c - prev;
                    }
                    prev = *c;
                }
                share
            }
            Strategy::Custom(_) => 0.0,
        }
    }

    /// Problems with running this strategy on a database with `caps`.
    pub fn check(&self, caps: &Capabilities) -> Vec<ConfigProblem> {
        match self {
            Strategy::Builtin(m) => m
                .steps()
                .filter_map(|(name, s)| {
                    s.check(caps)
                        .map(|msg| ConfigProblem::new("operation", format!("{name}: {msg}")))
                })
                .collect(),
            Strategy::Custom(o) => o.check(caps),
        }
    }

    /// Performs one operation: the index of its kind and its outcome.
    #[inline]
    pub async fn execute(&self, ctx: &mut OpContext, db: &dyn Database) -> (usize, Result<OpMeta>) {
        match self.begin(ctx, db) {
            Begun::Done(kind, out) => (kind, out),
            Begun::Waiting(kind, rest) => self.finish(kind, rest, ctx, db).await,
        }
    }

    /// Starts one operation and does what it can without waiting (all of it on an
    /// in-process store); [`Strategy::finish`] does the rest.
    #[inline]
    pub(crate) fn begin(&self, ctx: &mut OpContext, db: &dyn Database) -> Begun {
        match self {
            Strategy::Builtin(m) => {
                let i = m.pick(ctx);
                match m.steps.get(i).map(|step| step.begin(ctx, db)) {
                    Some(Ok(out)) => Begun::Done(i, out),
                    Some(Err(rest)) => Begun::Waiting(i, rest),
                    None => Begun::Done(i, Err(Error::Internal(format!("no step {i}")))),
                }
            }
            Strategy::Custom(_) => Begun::Waiting(0, Rest::Step),
        }
    }

    /// Completes an operation of kind `kind` that [`Strategy::begin`] left waiting.
    pub(crate) async fn finish(
        &self,
        kind: usize,
        rest: Rest,
        ctx: &mut OpContext,
        db: &dyn Database,
    ) -> (usize, Result<OpMeta>) {
        match self {
            Strategy::Builtin(m) => match m.steps.get(kind) {
                Some(step) => (kind, step.finish(rest, ctx, db).await),
                None => (kind, Err(Error::Internal(format!("no step {kind}")))),
            },
            Strategy::Custom(o) => o.execute(ctx, db).await,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoOptions {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchOptions {
    #[serde(default = "default_batch")]
    size: usize,
}
fn default_batch() -> usize {
    25
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FanoutOptions {
    #[serde(default = "default_fanout")]
    fanout: usize,
}
fn default_fanout() -> usize {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanOptions {
    #[serde(default)]
    max_length: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryOptions {
    kind: QueryKind,
    #[serde(default = "default_limit")]
    limit: usize,
    #[serde(default)]
    statement: Option<String>,
}
fn default_limit() -> usize {
    100
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MixOptions {
    weights: BTreeMap<String, f64>,
}

/// Built-in operation names and what they do, for `lgb list`.
pub const BUILTIN: [(&str, &str); 10] = [
    ("write", "write one chosen key (an update when it exists)"),
    (
        "update",
        "overwrite one chosen key with a new version (YCSB update)",
    ),
    (
        "insert",
        "write a new key after the loaded ones (YCSB insert)",
    ),
    ("read", "read one chosen key"),
    (
        "scan",
        "range query from a chosen key, length 1..=max_length (YCSB scan)",
    ),
    (
        "read_modify_write",
        "read a chosen key, then write it back changed",
    ),
    (
        "batch_write",
        "write `size` records in one call (default 25)",
    ),
    (
        "parallel_read",
        "read `fanout` keys in one call (default 10)",
    ),
    (
        "query",
        "one query of `kind` (key, prefix, range, history, native …) with `limit`",
    ),
    (
        "mix",
        "weighted mix of the above, e.g. {\"read\": 0.95, \"update\": 0.05}",
    ),
];

type CustomFactory = Arc<dyn Fn(&serde_json::Value) -> Result<Arc<dyn Operation>> + Send + Sync>;

/// Builds strategies from config (the Factory): built-ins and user-registered ones.
///
/// ```
/// use lgb_core::operation::OperationRegistry;
/// use lgb_core::config::OperationConfig;
/// let r = OperationRegistry::default();
/// let s = r.build(&OperationConfig::new("read"), 100).unwrap();
/// assert_eq!(s.kinds(), ["read"]);
/// ```
#[derive(Clone)]
pub struct OperationRegistry {
    custom: BTreeMap<String, (String, CustomFactory)>,
}

impl Default for OperationRegistry {
    /// The built-in strategies, including the time-series writer of
    /// [`timeseries`].
    fn default() -> Self {
        let mut r = Self {
            custom: BTreeMap::new(),
        };
        timeseries::register(&mut r);
        r
    }
}

impl std::fmt::Debug for OperationRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.custom.keys()).finish()
    }
}

impl OperationRegistry {
    /// Registers a user strategy under `name`, built from its JSON options.
    pub fn register<F>(&mut self, name: &str, description: &str, factory: F)
    where
        F: Fn(&serde_json::Value) -> Result<Arc<dyn Operation>> + Send + Sync + 'static,
    {
        self.custom.insert(
            name.to_string(),
            (description.to_string(), Arc::new(factory)),
        );
    }

    /// `(name, description)` of every strategy.
    pub fn describe(&self) -> Vec<(String, String)> {
        BUILTIN
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_string()))
            .chain(self.custom.iter().map(|(n, (d, _))| (n.clone(), d.clone())))
            .collect()
    }

    /// Checks an operation config; returns every problem (paths relative to it).
    pub fn validate(&self, cfg: &OperationConfig) -> Vec<ConfigProblem> {
        match self.build(cfg, 100) {
            Ok(_) => Vec::new(),
            Err(e) => e.config_problems().to_vec(),
        }
    }

    /// Builds the strategy of `cfg`. `scan_length` is the workload's default scan length.
    pub fn build(&self, cfg: &OperationConfig, scan_length: usize) -> Result<Strategy> {
        let opts = serde_json::Value::Object(cfg.options.clone());
        if let Some((_, f)) = self.custom.get(&cfg.kind) {
            return Ok(Strategy::Custom(f(&opts)?));
        }
        if cfg.kind == "mix" {
            let m: MixOptions = parse(&opts)?;
            return build_mix(&m.weights, scan_length).map(Strategy::Builtin);
        }
        let step = builtin_step(&cfg.kind, &opts, scan_length)?;
        Ok(Strategy::Builtin(Mix::single(&cfg.kind, step)))
    }
}

fn parse<T: serde::de::DeserializeOwned>(opts: &serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(opts).map_err(|e| {
        let p = e.path().to_string();
        Error::config(
            if p == "." { String::new() } else { p },
            e.inner().to_string(),
        )
    })
}

fn builtin_step(kind: &str, opts: &serde_json::Value, scan_length: usize) -> Result<Step> {
    let positive = |field: &str, v: usize| {
        if v == 0 || v > crate::config::MAX_BATCH {
            Err(Error::config(
                field,
                format!("must be between 1 and {}", crate::config::MAX_BATCH),
            ))
        } else {
            Ok(v)
        }
    };
    Ok(match kind {
        "read" => parse::<NoOptions>(opts).map(|_| Step::Read)?,
        "write" | "update" => parse::<NoOptions>(opts).map(|_| Step::Write)?,
        "insert" => parse::<NoOptions>(opts).map(|_| Step::Insert)?,
        "read_modify_write" => parse::<NoOptions>(opts).map(|_| Step::ReadModifyWrite)?,
        "scan" => {
            let o: ScanOptions = parse(opts)?;
            Step::Scan {
                max_length: positive("max_length", o.max_length.unwrap_or(scan_length))?,
            }
        }
        "batch_write" => Step::BatchWrite {
            size: positive("size", parse::<BatchOptions>(opts)?.size)?,
        },
        "parallel_read" => Step::ParallelRead {
            fanout: positive("fanout", parse::<FanoutOptions>(opts)?.fanout)?,
        },
        "query" => {
            let o: QueryOptions = parse(opts)?;
            if o.kind == QueryKind::Native && o.statement.is_none() {
                return Err(Error::config(
                    "statement",
                    "a `native` query needs a `statement`",
                ));
            }
            Step::Query {
                kind: o.kind,
                limit: positive("limit", o.limit)?,
                statement: o.statement,
            }
        }
        other => {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            return Err(Error::config(
                "type",
                format!("unknown operation `{other}`; known: {}", names.join(", ")),
            ));
        }
    })
}

fn build_mix(weights: &BTreeMap<String, f64>, scan_length: usize) -> Result<Mix> {
    let mut problems = Vec::new();
    let mut names = Vec::new();
    let mut steps = Vec::new();
    let mut raw = Vec::new();
    for (name, &w) in weights {
        let at = format!("weights.{name}");
        if !(w.is_finite() && w >= 0.0) {
            problems.push(ConfigProblem::new(
                &at,
                "weight must be a number of at least 0",
            ));
            continue;
        }
        if name == "mix" {
            problems.push(ConfigProblem::new(&at, "a mix cannot contain a mix"));
            continue;
        }
        match builtin_step(name, &serde_json::json!({}), scan_length) {
            Ok(step) if w > 0.0 => {
                names.push(name.clone());
                steps.push(step);
                raw.push(w);
            }
            Ok(_) => {}
            Err(e) => problems.extend(
                e.config_problems()
                    .iter()
                    .map(|p| ConfigProblem::new(&at, &p.message)),
            ),
        }
    }
    let total: f64 = raw.iter().sum();
    if problems.is_empty() && total <= 0.0 {
        problems.push(ConfigProblem::new(
            "weights",
            "at least one weight must be above 0",
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Config(problems));
    }
    let mut acc = 0.0;
    let cumulative = raw
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect();
    Ok(Mix {
        names,
        steps,
        cumulative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(v: serde_json::Value) -> OperationConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_builtins_and_reports_bad_options() {
        let r = OperationRegistry::default();
        let s = r
            .build(&op(json!({"type": "batch_write", "size": 25})), 100)
            .unwrap();
        assert_eq!(s.kinds(), ["batch_write"]);
        let p = r.validate(&op(json!({"type": "batch_write", "size": 0})));
        assert_eq!(p[0].path, "size");
        let p = r.validate(&op(json!({"type": "read", "fanout": 3})));
        assert!(p[0].message.contains("fanout"), "{p:?}");
        let p = r.validate(&op(json!({"type": "teleport"})));
        assert!(
            p[0].message.contains("unknown operation `teleport`"),
            "{p:?}"
        );
        let p = r.validate(&op(json!({"type": "query", "kind": "native"})));
        assert_eq!(p[0].path, "statement");
    }

    #[test]
    fn mix_normalizes_weights_and_names_bad_ones() {
        let r = OperationRegistry::default();
        let s = r
            .build(
                &op(json!({"type": "mix", "weights": {"read": 3, "update": 1, "scan": 0}})),
                10,
            )
            .unwrap();
        let Strategy::Builtin(m) = &s else { panic!() };
        assert_eq!(m.names, ["read", "update"]);
        assert!((m.cumulative[0] - 0.75).abs() < 1e-12);
        let p = r.validate(&op(
            json!({"type": "mix", "weights": {"read": -1, "fly": 1}}),
        ));
        let paths: Vec<_> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["weights.fly", "weights.read"]);
    }

    #[test]
    fn capability_check_names_missing_query_kinds() {
        let r = OperationRegistry::default();
        let s = r.build(&op(json!({"type": "scan"})), 10).unwrap();
        let caps = Capabilities::default();
        let p = s.check(&caps);
        assert!(p[0].message.contains("no `range` queries"), "{p:?}");
    }
}
