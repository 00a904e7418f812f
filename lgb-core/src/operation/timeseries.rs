//! The `timeseries_write` operation: hands the points of the time-series workload
//! ([`crate::workload::timeseries`]) to whatever database the worker runs.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use crate::database::{Capabilities, Database};
use crate::error::{ConfigProblem, Error, Result};
use crate::operation::{OpContext, Operation, OperationRegistry};
use crate::record::{OpMeta, QueryKind, Record};
use crate::workload::timeseries::{TimeSeriesGenerator, TimeSeriesOptions};

/// The operation name [`register`] adds.
pub const OPERATION: &str = "timeseries_write";

/// The `timeseries_write` operation: writes the next `batch` points of the stream.
///
/// Point numbers come from the worker's insert counter, which interleaves workers, so
/// the workers of a test together write one stream without writing a point twice.
#[derive(Debug)]
pub struct TimeSeriesWrite {
    options: TimeSeriesOptions,
    start_ms: i64,
    generator: OnceLock<TimeSeriesGenerator>,
}

impl TimeSeriesWrite {
    /// The operation with `options`; an unset start is taken from the clock now.
    pub fn new(options: TimeSeriesOptions) -> Result<Self> {
        let problems = options.problems();
        if !problems.is_empty() {
            return Err(Error::Config(
                problems
                    .into_iter()
                    .map(|(path, msg)| crate::error::ConfigProblem::new(path, msg))
                    .collect(),
            ));
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Ok(Self {
            start_ms: options.start_at(now_ms),
            options,
            generator: OnceLock::new(),
        })
    }

    /// Builds the operation from its JSON options, naming the path of a bad option.
    pub fn from_json(options: &serde_json::Value) -> Result<Self> {
        let o: TimeSeriesOptions = serde_path_to_error::deserialize(options).map_err(|e| {
            let p = e.path().to_string();
            Error::config(
                if p == "." { String::new() } else { p },
                e.inner().to_string(),
            )
        })?;
        Self::new(o)
    }

    /// The options.
    pub fn options(&self) -> &TimeSeriesOptions {
        &self.options
    }
}

#[async_trait]
impl Operation for TimeSeriesWrite {
    fn kinds(&self) -> Vec<String> {
        vec![OPERATION.to_string()]
    }

    async fn execute(&self, ctx: &mut OpContext, db: &dyn Database) -> (usize, Result<OpMeta>) {
        let gen = self.generator.get_or_init(|| {
            let hosts = self
                .options
                .hosts
                .unwrap_or_else(|| ctx.shared.records())
                .max(1);
            TimeSeriesGenerator::new(&self.options, hosts, ctx.keys.clone(), self.start_ms)
        });
        let limit = self.options.steps.map(|s| s.saturating_mul(gen.hosts()));
        let mut n = 0;
        for _ in 0..self.options.batch {
            let index = ctx.shared.next_insert_id() - ctx.shared.records();
            if limit.is_some_and(|l| index >= l) {
                break;
            }
            if n == ctx.batch.len() {
                ctx.batch.push(Record::default());
            }
            gen.fill(&mut ctx.batch[n], index);
            n += 1;
        }
        ctx.batch.truncate(n);
        if ctx.batch.is_empty() {
            ctx.done = true;
            return (0, Ok(OpMeta::default()));
        }
        if ctx.batch.len() == 1 && self.options.batch == 1 {
            return (0, db.write(&ctx.batch[0]).await);
        }
        match db.batch_write(&ctx.batch).await {
            Ok(out) => {
                ctx.item_failures.extend(out.failed);
                (0, Ok(out.meta))
            }
            Err(e) => (0, Err(e)),
        }
    }
}

/// Registers `timeseries_write` in `registry`.
///
/// ```
/// use lgb_core::operation::OperationRegistry;
/// use lgb_core::config::OperationConfig;
/// let mut ops = OperationRegistry::default();
/// lgb_core::operation::timeseries::register(&mut ops);
/// let s = ops.build(&OperationConfig::new("timeseries_write"), 100).unwrap();
/// assert_eq!(s.kinds(), ["timeseries_write"]);
/// ```
pub fn register(registry: &mut OperationRegistry) {
    registry.register(
        OPERATION,
        "write the next `batch` points of a hosts × metrics time series (TSBS devops style)",
        |opts| Ok(Arc::new(TimeSeriesWrite::from_json(opts)?) as Arc<dyn Operation>),
    );
    registry.register(
        MIX_OPERATION,
        "write the time series and query it at once: `query_share` of the operations are queries (TSBS's concurrent insert + query)",
        |opts| Ok(Arc::new(TimeSeriesMix::from_json(opts)?) as Arc<dyn Operation>),
    );
}

// ------------------------------------------------------------ timeseries_mix ---

/// The operation name of the concurrent insert + query mix [`register`] adds.
pub const MIX_OPERATION: &str = "timeseries_mix";

/// Options of `timeseries_mix`.
///
/// ```json
/// {"type": "timeseries_mix", "series": {"metrics": 10, "batch": 1000},
///  "query_share": 0.1, "kind": "native", "statement": "SELECT last(*) FROM cpu WHERE hostname = '{key}'"}
/// ```
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeSeriesMixOptions {
    /// The series written: the options of `timeseries_write`.
    #[serde(default)]
    pub series: TimeSeriesOptions,
    /// Share of operations, 0 to 1, that are queries; the others write a batch.
    pub query_share: f64,
    /// Kind of the queries: `latest` (default), `time_range` or `native`, of a host
    /// the workload's key chooser picks.
    #[serde(default = "default_mix_kind")]
    pub kind: QueryKind,
    /// The statement of `native` queries; `{key}` is replaced by the host.
    #[serde(default)]
    pub statement: Option<String>,
    /// Most points a `latest` query returns.
    #[serde(default = "default_mix_limit")]
    pub limit: usize,
}

fn default_mix_kind() -> QueryKind {
    QueryKind::Latest
}
fn default_mix_limit() -> usize {
    1
}

/// `timeseries_mix`: each operation writes the next batch of the series or, with
/// probability `query_share`, queries a host; the two kinds are measured apart
/// (`timeseries_write`, `timeseries_query`), so that write and query latencies under
/// each other's load are both in the results.
#[derive(Debug)]
pub struct TimeSeriesMix {
    write: TimeSeriesWrite,
    options: TimeSeriesMixOptions,
}

impl TimeSeriesMix {
    /// Builds the operation from its JSON options, naming the path of a bad option.
    pub fn from_json(options: &serde_json::Value) -> Result<Self> {
        let o: TimeSeriesMixOptions = serde_path_to_error::deserialize(options).map_err(|e| {
            let p = e.path().to_string();
            Error::config(
                if p == "." { String::new() } else { p },
                e.inner().to_string(),
            )
        })?;
        let mut problems: Vec<ConfigProblem> = o
            .series
            .problems()
            .into_iter()
            .map(|(path, msg)| ConfigProblem::new(format!("series.{path}"), msg))
            .collect();
        if !(0.0..=1.0).contains(&o.query_share) {
            problems.push(ConfigProblem::new("query_share", "must be between 0 and 1"));
        }
        match (o.kind, &o.statement) {
            (QueryKind::Native, None) => problems.push(ConfigProblem::new(
                "statement",
                "a `native` query needs a statement",
            )),
            (QueryKind::Latest | QueryKind::TimeRange | QueryKind::Native, _) => {}
            (other, _) => problems.push(ConfigProblem::new(
                "kind",
                format!(
                    "`{}` is not a time-series query; use latest, time_range or native",
                    other.as_str()
                ),
            )),
        }
        if o.limit == 0 {
            problems.push(ConfigProblem::new("limit", "must be at least 1"));
        }
        if !problems.is_empty() {
            return Err(Error::Config(problems));
        }
        Ok(Self {
            write: TimeSeriesWrite::new(o.series.clone())?,
            options: o,
        })
    }
}

#[async_trait]
impl Operation for TimeSeriesMix {
    fn kinds(&self) -> Vec<String> {
        vec![OPERATION.to_string(), "timeseries_query".to_string()]
    }

    fn check(&self, caps: &Capabilities) -> Vec<ConfigProblem> {
        if caps.queries.contains(&self.options.kind) {
            Vec::new()
        } else {
            vec![ConfigProblem::new(
                "kind",
                format!(
                    "the database has no `{}` queries",
                    self.options.kind.as_str()
                ),
            )]
        }
    }

    async fn execute(&self, ctx: &mut OpContext, db: &dyn Database) -> (usize, Result<OpMeta>) {
        use rand::Rng;
        if ctx.rng.gen::<f64>() < self.options.query_share {
            ctx.choose_key();
            let q = match ctx.query(
                self.options.kind,
                self.options.limit,
                self.options.statement.as_deref(),
            ) {
                Ok(q) => q,
                Err(e) => return (1, Err(e)),
            };
            return (1, db.query(&q).await.map(|out| out.meta));
        }
        self.write.execute(ctx, db).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_options_are_checked_with_paths() {
        let err = TimeSeriesMix::from_json(&serde_json::json!({
            "series": {"batch": 0}, "query_share": 2.0, "kind": "native", "limit": 0
        }))
        .unwrap_err();
        let paths: Vec<&str> = err
            .config_problems()
            .iter()
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(paths, ["series.batch", "query_share", "statement", "limit"]);
        let mix = TimeSeriesMix::from_json(&serde_json::json!({"query_share": 0.5})).unwrap();
        assert_eq!(mix.kinds(), ["timeseries_write", "timeseries_query"]);
        let caps = Capabilities::default();
        assert!(mix.check(&caps)[0].message.contains("no `latest` queries"));
    }

    #[test]
    fn bad_options_name_their_path() {
        let err = TimeSeriesWrite::from_json(&serde_json::json!({"hosts": "x"})).unwrap_err();
        assert_eq!(err.config_problems()[0].path, "hosts");
    }
}
