//! The `timeseries_write` operation: hands the points of the time-series workload
//! ([`crate::workload::timeseries`]) to whatever database the worker runs.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::operation::{OpContext, Operation, OperationRegistry};
use crate::record::{OpMeta, Record};
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_name_their_path() {
        let err = TimeSeriesWrite::from_json(&serde_json::json!({"hosts": "x"})).unwrap_err();
        assert_eq!(err.config_problems()[0].path, "hosts");
    }
}
