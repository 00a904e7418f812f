//! The [`Database`] trait every adapter implements, so that workloads and operations
//! never see a database's own client, and the [`DatabaseRegistry`] that builds an
//! adapter from the config's `database` section by its type name.
//!
//! This module owns the contract between the executor and a database. It must not know
//! any particular backend: adapters live in submodules, each behind a cargo feature of
//! its own name, except [`memory`], [`noop`] and [`scripted`], which need no service.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "immudb")]
pub mod immudb;
#[cfg(feature = "influxdb")]
pub mod influxdb;
#[cfg(any(feature = "immudb", feature = "influxdb"))]
mod secrets;
#[cfg(any(feature = "immudb", feature = "influxdb"))]
pub(crate) use secrets::secret_text;
pub mod memory;
pub mod noop;
pub mod scripted;
#[cfg(feature = "timestream")]
pub mod timestream;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::DatabaseConfig;
use crate::error::{ConfigProblem, Error, ErrorClass, Result};
use crate::record::OpMeta;
use crate::record::{Query, QueryKind, Record};

/// The result of [`Database::read`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOutcome {
    /// The record, or `None` when the key does not exist. Shared, so that an
    /// in-process store can hand out what it holds without copying it on every read
    /// (a copy would make a benchmark of lgb's overhead a benchmark of `malloc`).
    pub record: Option<Arc<Record>>,
    /// What the call cost.
    pub meta: OpMeta,
}

/// The result of [`Database::query`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOutcome {
    /// Records returned, in the database's order.
    pub records: Vec<Record>,
    /// What the call cost, summed over every page.
    pub meta: OpMeta,
}

/// One item of a batch that the database did not accept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// Index of the item in the batch.
    pub index: usize,
    /// Why, as an error class.
    pub class: ErrorClass,
    /// The database's reason.
    pub message: String,
}

/// The result of [`Database::batch_write`]: items the database did not take are listed,
/// never silently dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// What the call cost.
    pub meta: OpMeta,
    /// Items not written, with their reasons.
    pub failed: Vec<ItemFailure>,
}

/// What an adapter can do; validation uses it to reject impossible configs before a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Largest batch one `batch_write` call accepts (adapters split larger batches).
    pub max_batch_size: usize,
    /// Query kinds the adapter supports.
    pub queries: Vec<QueryKind>,
    /// Largest item in bytes, if the database has a limit.
    pub max_item_bytes: Option<usize>,
    /// Whether `read` returns the record's fields (some adapters only check existence).
    pub reads_records: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            max_batch_size: 1,
            queries: Vec::new(),
            max_item_bytes: None,
            reads_records: true,
        }
    }
}

/// A database as the benchmark sees it: write, read, batch write and query, async.
///
/// Implementations must be cheap to share (`Arc<dyn Database>`): one instance serves
/// every task of a worker and is kept across warm Lambda invocations.
///
/// ```
/// use lgb_core::prelude::*;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let db = lgb_core::database::memory::MemoryDatabase::default();
/// db.write(&Record::new("k1")).await?;
/// assert!(db.read("k1").await?.record.is_some());
/// # Ok::<(), lgb_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// The adapter's type name, as in config (`"memory"`, `"dynamodb"`).
    fn name(&self) -> &str;
    /// What this adapter can do.
    fn capabilities(&self) -> Capabilities;
    /// Writes (inserts or replaces) one record.
    async fn write(&self, record: &Record) -> Result<OpMeta>;
    /// Writes many records; adapters split batches larger than their limit.
    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome>;
    /// Reads one record by key.
    async fn read(&self, key: &str) -> Result<ReadOutcome>;
    /// Reads one record at once, when the adapter can answer without waiting (an
    /// in-process store): `Some` holds exactly what [`Database::read`] would return;
    /// `None`, the default, means "call `read`". The built-in operations try this
    /// first: it spares an in-process store the boxed future that every call of an
    /// `async` trait method allocates, which costs as much as its read. Adapters that
    /// talk to a server leave it alone.
    fn read_now(&self, _key: &str) -> Option<Result<ReadOutcome>> {
        None
    }
    /// Writes one record at once, when the adapter can without waiting; see
    /// [`Database::read_now`].
    fn write_now(&self, _record: &Record) -> Option<Result<OpMeta>> {
        None
    }
    /// Reads many keys at once; the default issues reads one after another.
    async fn read_many(&self, keys: &[String]) -> Result<QueryOutcome> {
        let mut out = QueryOutcome::default();
        for key in keys {
            let r = match self.read_now(key) {
                Some(r) => r?,
                None => self.read(key).await?,
            };
            out.meta.add(&r.meta);
            out.records.extend(r.record.map(Arc::unwrap_or_clone));
        }
        Ok(out)
    }
    /// Runs a query.
    async fn query(&self, query: &Query) -> Result<QueryOutcome>;
    /// Releases connections; the adapter is not used afterwards.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// The type of the future a factory returns.
pub type BuildFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn Database>>> + Send>>;

/// Builds adapters of one type from their options.
pub trait DatabaseFactory: Send + Sync {
    /// One line for `lgb list`.
    fn description(&self) -> &str;
    /// JSON Schema of the adapter's options (without `type`).
    fn options_schema(&self) -> serde_json::Value;
    /// Checks options without connecting; returns every problem found.
    fn validate(&self, options: &serde_json::Value) -> Vec<ConfigProblem>;
    /// Builds an adapter; may connect.
    fn build(&self, options: serde_json::Value) -> BuildFuture;
    /// What an adapter built from `options` can do, known without connecting, so that
    /// `lgb validate` (and `lgb run`, before any load) refuses operations it cannot
    /// run. `None`, the default, means only a connected adapter knows; the worker then
    /// checks before its tests (after the load).
    fn capabilities(&self, _options: &serde_json::Value) -> Option<Capabilities> {
        None
    }
    /// Bytes of this process's memory that `records` records of about `record_bytes`
    /// bytes each (in `fields` fields) take in the adapter, for stores that keep data
    /// in process; `None`, the default, for databases that keep it elsewhere.
    fn memory_needed(
        &self,
        _options: &serde_json::Value,
        _records: u64,
        _record_bytes: u64,
        _fields: u64,
    ) -> Option<u64> {
        None
    }
    /// Options that say where the adapter connects (see
    /// [`AdapterOptions::DESTINATIONS`]); none by default.
    fn destinations(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Options of one adapter type: deserialized from the `database` section (without
/// `type`), described by a JSON Schema, and checked beyond the schema by
/// [`AdapterOptions::problems`]. [`DatabaseRegistry::register`] requires it, and
/// `lgb validate` runs exactly the checks the adapter's builder runs, before anything
/// connects. What the options alone tell about the adapter (its capabilities, the
/// memory a data set takes in process) lets validation refuse a run that cannot work.
///
/// ```
/// use lgb_core::database::AdapterOptions;
/// use lgb_core::ConfigProblem;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct MyOptions { shards: u32 }
///
/// impl AdapterOptions for MyOptions {
///     fn problems(&self) -> Vec<ConfigProblem> {
///         if self.shards == 0 {
///             vec![ConfigProblem::new("shards", "must be at least 1")]
///         } else {
///             vec![]
///         }
///     }
/// }
/// let o = MyOptions { shards: 0 };
/// assert_eq!(o.check().unwrap_err().config_problems()[0].path, "database.shards");
/// ```
pub trait AdapterOptions: DeserializeOwned + schemars::JsonSchema + Send + 'static {
    /// Every problem a value of the right types can still have (an empty separator, a
    /// URL without a scheme), found without connecting. Paths are relative to
    /// `database` (`key_separator`, `sort_key.name`); the default finds none.
    fn problems(&self) -> Vec<ConfigProblem> {
        Vec::new()
    }

    /// [`AdapterOptions::problems`] as a result, paths under `database`: what a
    /// builder calls first, so that it refuses exactly what validation refuses.
    fn check(&self) -> Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(
                problems
                    .into_iter()
                    .map(|p| under_database(&p.path, p.message))
                    .collect(),
            ))
        }
    }

    /// What an adapter built from these options can do, known without connecting (see
    /// [`DatabaseFactory::capabilities`]); `None`, the default, when only a connected
    /// adapter knows.
    fn capabilities(&self) -> Option<Capabilities> {
        None
    }

    /// Bytes of this process's memory a data set takes in the adapter (see
    /// [`DatabaseFactory::memory_needed`]); `None`, the default, for databases that
    /// keep their data elsewhere.
    fn memory_needed(&self, _records: u64, _record_bytes: u64, _fields: u64) -> Option<u64> {
        None
    }

    /// Options that say where the adapter connects or where it reads a secret (an
    /// address, an endpoint, a table, a secret id). A pinned worker
    /// ([`crate::worker::Deployment`]) refuses a request that sets one of them to
    /// anything but what it was deployed with. The default names none: an adapter
    /// with such options must list them, or a deployment must name them.
    const DESTINATIONS: &'static [&'static str] = &[];
}

/// The prefix every environment variable that holds a secret must have
/// (`password_env`, `token_env`): a request may not name any other variable, so it
/// cannot make a worker send its own AWS keys (`AWS_SECRET_ACCESS_KEY`) as a password.
pub const SECRET_ENV_PREFIX: &str = "LGB_SECRET_";

/// Why `name` may not be read as a secret's variable, or `None` when it may.
///
/// ```
/// use lgb_core::database::secret_env_problem;
/// assert!(secret_env_problem("LGB_SECRET_IMMUDB_PASSWORD").is_none());
/// assert!(secret_env_problem("AWS_SECRET_ACCESS_KEY").is_some());
/// ```
pub fn secret_env_problem(name: &str) -> Option<String> {
    let ok = name.strip_prefix(SECRET_ENV_PREFIX).is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    (!ok).then(|| {
        format!(
            "`{name}` is not a secret's variable: only variables named {SECRET_ENV_PREFIX}<NAME> \
             (letters, digits and `_`) may hold a password or token"
        )
    })
}

/// The value of the secret variable `name` (see [`SECRET_ENV_PREFIX`]); `path` names
/// the option in errors. Refuses any other variable even if validation was skipped.
pub fn read_secret_env(name: &str, path: &str) -> Result<String> {
    if let Some(why) = secret_env_problem(name) {
        return Err(Error::config(path, why));
    }
    std::env::var(name)
        .map_err(|_| Error::config(path, format!("environment variable `{name}` is not set")))
}

/// `read_many` for databases without a multi-key read: one `read` per key, at most
/// `parallel` in flight at once; records come back in key order, missing keys are
/// left out, and the first error ends the call.
#[cfg(any(feature = "timestream", feature = "influxdb"))]
pub(crate) async fn read_each<D: Database + ?Sized>(
    db: &D,
    keys: &[String],
    parallel: usize,
) -> Result<QueryOutcome> {
    use futures::{StreamExt, TryStreamExt};
    // By index, not `iter(keys)`: a closure taking `&String` is not general enough
    // for the boxed futures of `#[async_trait]` methods.
    let reads: Vec<ReadOutcome> = futures::stream::iter(0..keys.len())
        .map(|i| db.read(&keys[i]))
        .buffered(parallel)
        .try_collect()
        .await?;
    let mut out = QueryOutcome::default();
    for r in reads {
        out.meta.add(&r.meta);
        out.records.extend(r.record.map(Arc::unwrap_or_clone));
    }
    Ok(out)
}

fn under_database(path: &str, message: String) -> ConfigProblem {
    if path.is_empty() {
        ConfigProblem::new("database", message)
    } else if path.starts_with('[') {
        ConfigProblem::new(format!("database{path}"), message)
    } else {
        ConfigProblem::new(format!("database.{path}"), message)
    }
}

/// Options taken as they come, unchecked beyond being JSON: for adapters that read
/// nothing from their options, or check them in their own constructor.
impl AdapterOptions for serde_json::Value {}

/// Parses adapter options, naming the JSON path (under `database`) of a bad field; see
/// [`checked_options`] for the checks beyond the types.
pub(crate) fn parse_options<C: DeserializeOwned>(options: &serde_json::Value) -> Result<C> {
    serde_path_to_error::deserialize(options).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "database".to_string()
        } else {
            format!("database.{path}")
        };
        Error::config(path, e.inner().to_string())
    })
}

/// Parses adapter options and runs their [`AdapterOptions::problems`]: every problem,
/// each named by its JSON path under `database`. Connects to nothing.
pub(crate) fn checked_options<C: AdapterOptions>(options: &serde_json::Value) -> Result<C> {
    let c: C = parse_options(options)?;
    c.check()?;
    Ok(c)
}

/// A factory from a typed options struct and an async constructor.
struct TypedFactory<C, F> {
    description: String,
    build: F,
    _options: std::marker::PhantomData<fn() -> C>,
}

impl<C, F, Fut> DatabaseFactory for TypedFactory<C, F>
where
    C: AdapterOptions,
    F: Fn(C) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Arc<dyn Database>>> + Send + 'static,
{
    fn description(&self) -> &str {
        &self.description
    }

    fn options_schema(&self) -> serde_json::Value {
        schemars::schema_for!(C).to_value()
    }

    fn validate(&self, options: &serde_json::Value) -> Vec<ConfigProblem> {
        match checked_options::<C>(options) {
            Ok(_) => Vec::new(),
            Err(e) => e.config_problems().to_vec(),
        }
    }

    fn build(&self, options: serde_json::Value) -> BuildFuture {
        match checked_options::<C>(&options) {
            Ok(c) => Box::pin((self.build)(c)),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn capabilities(&self, options: &serde_json::Value) -> Option<Capabilities> {
        parse_options::<C>(options).ok()?.capabilities()
    }

    fn memory_needed(
        &self,
        options: &serde_json::Value,
        records: u64,
        record_bytes: u64,
        fields: u64,
    ) -> Option<u64> {
        parse_options::<C>(options)
            .ok()?
            .memory_needed(records, record_bytes, fields)
    }

    fn destinations(&self) -> &'static [&'static str] {
        C::DESTINATIONS
    }
}

/// Maps adapter type names to factories. Built-in adapters are registered by
/// [`DatabaseRegistry::with_builtins`]; users add their own with [`DatabaseRegistry::register`].
///
/// ```
/// use std::sync::Arc;
/// use lgb_core::database::{AdapterOptions, DatabaseRegistry, memory::MemoryDatabase, Database};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct MyOptions { }
/// impl AdapterOptions for MyOptions {}
///
/// let mut registry = DatabaseRegistry::with_builtins();
/// registry.register("mine", "my own store", |_: MyOptions| async {
///     Ok(Arc::new(MemoryDatabase::default()) as Arc<dyn Database>)
/// });
/// assert!(registry.names().any(|n| n == "mine"));
/// ```
#[derive(Clone)]
pub struct DatabaseRegistry {
    factories: BTreeMap<String, Arc<dyn DatabaseFactory>>,
}

/// Built-in adapters that need a cargo feature, with that feature's name.
const FEATURE_GATED: &[(&str, &str)] = &[
    ("dynamodb", "dynamodb"),
    ("immudb", "immudb"),
    ("influxdb", "influxdb"),
    ("timestream", "timestream"),
];

impl DatabaseRegistry {
    /// An empty registry.
    pub fn empty() -> Self {
        Self {
            factories: BTreeMap::new(),
        }
    }

    /// A registry with every adapter compiled into this build.
    pub fn with_builtins() -> Self {
        let mut r = Self::empty();
        r.register(
            "memory",
            "in-process ordered map; needs no service (the embedded default)",
            |o: memory::MemoryOptions| async move {
                Ok(Arc::new(memory::MemoryDatabase::new(o)) as Arc<dyn Database>)
            },
        );
        r.register(
            "noop",
            "does nothing and answers at once: the harness's own ceiling (YCSB's BasicDB)",
            |o: noop::NoopOptions| async move {
                Ok(Arc::new(noop::NoopDatabase::new(o)) as Arc<dyn Database>)
            },
        );
        r.register(
            "scripted",
            "sleeps a scripted latency schedule; for testing lgb itself",
            |o: scripted::ScriptedOptions| async move {
                Ok(Arc::new(scripted::ScriptedDatabase::new(o)?) as Arc<dyn Database>)
            },
        );
        #[cfg(feature = "dynamodb")]
        r.register(
            "dynamodb",
            "Amazon DynamoDB (aws-sdk-dynamodb); `endpoint` for local servers",
            |o: dynamodb::DynamoDbOptions| async move {
                Ok(Arc::new(dynamodb::DynamoDbDatabase::connect(o).await?) as Arc<dyn Database>)
            },
        );
        #[cfg(feature = "immudb")]
        r.register(
            "immudb",
            "immudb over gRPC: Set/Get/Scan/History/SQL, optionally verified (VerifiableSet/VerifiableGet with client-side proofs)",
            |o: immudb::ImmudbOptions| async move {
                Ok(Arc::new(immudb::ImmudbDatabase::connect(o).await?) as Arc<dyn Database>)
            },
        );
        #[cfg(feature = "influxdb")]
        r.register(
            "influxdb",
            "InfluxDB 1.x/2.x/3 and Amazon Timestream for InfluxDB over HTTP (line protocol; InfluxQL or SQL)",
            |o: influxdb::InfluxdbOptions| async move {
                Ok(Arc::new(influxdb::InfluxdbDatabase::connect(o).await?) as Arc<dyn Database>)
            },
        );
        #[cfg(feature = "timestream")]
        r.register(
            "timestream",
            "Amazon Timestream for LiveAnalytics (timestream-write + timestream-query; moto locally)",
            |o: timestream::TimestreamOptions| async move {
                Ok(Arc::new(timestream::TimestreamDatabase::connect(o).await?) as Arc<dyn Database>)
            },
        );
        r
    }

    /// Registers (or replaces) adapter `name` with typed options `C` and constructor
    /// `build`. Validation and `build` both parse the options and run
    /// [`AdapterOptions::problems`]; `build` is called only with options that passed.
    pub fn register<C, F, Fut>(&mut self, name: &str, description: &str, build: F)
    where
        C: AdapterOptions,
        F: Fn(C) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<dyn Database>>> + Send + 'static,
    {
        self.register_factory(
            name,
            Arc::new(TypedFactory {
                description: description.to_string(),
                build,
                _options: std::marker::PhantomData,
            }),
        );
    }

    /// Registers a factory object directly.
    pub fn register_factory(&mut self, name: &str, factory: Arc<dyn DatabaseFactory>) {
        self.factories.insert(name.to_string(), factory);
    }

    /// Names of registered adapters, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.keys().map(String::as_str)
    }

    /// `(name, description)` of each registered adapter.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.factories
            .iter()
            .map(|(n, f)| (n.clone(), f.description().to_string()))
            .collect()
    }

    /// Built-in adapters this build lacks, as `(name, cargo feature that adds it)`;
    /// an adapter registered under such a name by the user counts as present.
    pub fn not_compiled(&self) -> Vec<(&'static str, &'static str)> {
        FEATURE_GATED
            .iter()
            .filter(|(name, _)| !self.factories.contains_key(*name))
            .copied()
            .collect()
    }

    /// The factory for `name`, or a config error that says which feature to enable.
    pub fn factory(&self, name: &str) -> Result<&Arc<dyn DatabaseFactory>> {
        if let Some(f) = self.factories.get(name) {
            return Ok(f);
        }
        if let Some((_, feature)) = FEATURE_GATED.iter().find(|(n, _)| *n == name) {
            return Err(Error::config(
                "database.type",
                format!("database `{name}` is not compiled in; enable feature `{feature}`"),
            ));
        }
        let known: Vec<&str> = self.names().collect();
        Err(Error::config(
            "database.type",
            format!("unknown database `{name}`; known: {}", known.join(", ")),
        ))
    }

    /// Checks a database config without connecting.
    pub fn validate(&self, config: &DatabaseConfig) -> Vec<ConfigProblem> {
        match self.factory(&config.kind) {
            Ok(f) => f.validate(&serde_json::Value::Object(config.options.clone())),
            Err(e) => e.config_problems().to_vec(),
        }
    }

    /// The options of adapter `kind` that say where it connects or reads a secret
    /// ([`AdapterOptions::DESTINATIONS`]); none for an unknown adapter.
    pub fn destinations(&self, kind: &str) -> &'static [&'static str] {
        self.factories.get(kind).map_or(&[], |f| f.destinations())
    }

    /// Builds an adapter from its config.
    pub async fn build(&self, config: &DatabaseConfig) -> Result<Arc<dyn Database>> {
        let factory = self.factory(&config.kind)?;
        factory
            .build(serde_json::Value::Object(config.options.clone()))
            .await
    }
}

impl Default for DatabaseRegistry {
    fn default() -> Self {
        Self::with_builtins()
    }
}

impl std::fmt::Debug for DatabaseRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.factories.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn builds_memory_and_names_missing_features() {
        let r = DatabaseRegistry::with_builtins();
        let db = r.build(&DatabaseConfig::new("memory")).await.unwrap();
        assert_eq!(db.name(), "memory");
        #[cfg(not(feature = "immudb"))]
        {
            let err = r.factory("immudb").err().unwrap();
            assert!(err.to_string().contains("enable feature `immudb`"), "{err}");
        }
        let err = r.factory("nosuch").err().unwrap();
        assert!(
            err.to_string().contains("unknown database `nosuch`"),
            "{err}"
        );
        assert_eq!(err.config_problems()[0].path, "database.type");
    }

    #[test]
    fn bad_options_name_their_path() {
        let r = DatabaseRegistry::with_builtins();
        let mut cfg = DatabaseConfig::new("memory");
        cfg.options
            .insert("bogus".into(), serde_json::Value::Bool(true));
        let problems = r.validate(&cfg);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("bogus"), "{problems:?}");
    }
}
