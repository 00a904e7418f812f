//! # lgb-core
//!
//! Benchmark databases as they are seen from AWS Lambda. This crate holds everything
//! real: database adapters behind one async [`Database`](database::Database) trait,
//! operation strategies, workloads, an executor that measures every operation into
//! HdrHistograms, a runner that fans a benchmark out to workers and merges their
//! results exactly, and the results format the reports read.
//!
//! ```
//! use lgb_core::prelude::*;
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let config = BenchmarkConfig::from_json_str(r#"{
//!     "database": {"type": "memory"},
//!     "workload": {"records": 1000},
//!     "tests": [{"name": "ycsb-a", "preset": "ycsb-a", "operations": 5000}]
//! }"#, &[])?;
//! let runner = Runner::new(std::sync::Arc::new(LocalInvoker::default()), 0);
//! let run = runner.run(&config, CancellationToken::new(), &Silent).await?;
//! let test = &run.tests[1];
//! assert_eq!(test.metrics.ok() + test.metrics.failed(), 5000);
//! # Ok::<(), lgb_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! Design: `docs/architecture.md` in the repository: the crates, the layers of this
//! crate (lowest first: units/error/record → config → metrics → workload → database →
//! operation → catalog → executor → protocol → worker → results → runner → report;
//! a unit test fails on a use that goes up), and the data flow. Adapters for real
//! databases sit behind cargo features of their own names (`dynamodb`, `immudb`,
//! `timestream`).

#![deny(missing_docs)]

pub mod catalog;
pub mod clock;
pub mod config;
pub mod database;
pub mod error;
pub mod executor;
pub mod iam;
#[cfg(test)]
mod layers;
pub mod metrics;
pub mod operation;
pub mod protocol;
pub mod record;
pub mod preflight;
pub mod redact;
pub mod report;
pub mod results;
pub mod runner;
pub mod session;
pub mod sweep;
pub mod targets;
pub mod units;
pub mod worker;
pub mod workload;

/// Cost estimates of a run (the same module as [`results::cost`]).
pub use results::cost;

pub use error::{Error, ErrorClass, Result};

/// What a user of the library needs in one line.
pub mod prelude {
    pub use crate::catalog::Registries;
    pub use crate::config::{BenchmarkConfig, TestConfig};
    pub use crate::database::{AdapterOptions, Database, DatabaseConfig, DatabaseRegistry, OpMeta};
    pub use crate::error::{Error, ErrorClass, Result};
    pub use crate::metrics::{LatencyHistogram, TestMetrics};
    pub use crate::operation::{Operation, OperationRegistry};
    pub use crate::protocol::{WorkerRequest, WorkerResult};
    pub use crate::record::{Query, Record, Value};
    pub use crate::results::{RunResult, TestResult};
    pub use crate::runner::{LocalInvoker, Runner, Silent};
    pub use crate::session::{ConfigSource, Session};
    pub use crate::worker::Worker;
    pub use tokio_util::sync::CancellationToken;
}

/// docs/contributing.md's worked example (a new adapter in one module and one
/// registration line) runs as a doc test, so the guide stays true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/contributing.md")]
pub struct ContributingGuide;
