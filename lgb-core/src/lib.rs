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
//! let text = r#"{
//!     "database": {"type": "memory"},
//!     "workload": {"records": 1000},
//!     "tests": [{"name": "ycsb-a", "preset": "ycsb-a", "operations": 5000}]
//! }"#;
//! let session = Session::load(ConfigSource::Text(text), &[], None)?;
//! let out = tempfile::tempdir().unwrap();
//! let recorded = session.connect(None).await?.run(out.path(), &Stop::new(), &Silent).await?;
//! let test = &recorded.run.tests[1];
//! assert_eq!(test.metrics.ok() + test.metrics.failed(), 5000);
//! assert!(recorded.dir.join("result.json").is_file());
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
mod error;
pub mod executor;
pub mod iam;
#[cfg(test)]
mod layers;
pub mod metrics;
pub mod operation;
pub mod preflight;
pub mod protocol;
pub mod record;
pub mod redact;
pub mod report;
pub mod results;
pub mod runner;
pub mod session;
#[cfg(test)]
mod surface;
pub mod sweep;
pub mod targets;
pub mod units;
pub mod worker;
pub mod workload;

pub use error::{ConfigProblem, Error, ErrorClass, Result};

/// What a user of the library needs in one line: what the frontends (`lgb`, the
/// Python package, the Lambda worker) and the examples in the docs import, and nothing
/// else (a test of lgb-core checks both ways).
pub mod prelude {
    pub use crate::catalog::Registries;
    pub use crate::config::{BenchmarkConfig, DatabaseConfig, TestConfig};
    pub use crate::database::{AdapterOptions, Database, DatabaseRegistry};
    pub use crate::error::{ConfigProblem, Error, ErrorClass, Result};
    pub use crate::executor::Progress;
    pub use crate::operation::OperationRegistry;
    pub use crate::protocol::{Phase, WorkerStatus};
    pub use crate::record::{OpMeta, Query, Record, Value};
    pub use crate::results::cost::PriceTable;
    pub use crate::results::{RunResult, TestResult};
    pub use crate::runner::{RunObserver, Silent};
    pub use crate::session::{ConfigSource, Recorded, Session, Stop};
    pub use crate::sweep::SweepPlan;
    pub use crate::targets::DeployedTargets;
    pub use crate::worker::Worker;
}

/// README.md's library example compiles as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

/// docs/contributing.md's worked example (a new adapter in one module and one
/// registration line) runs as a doc test, so the guide stays true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/contributing.md")]
pub struct ContributingGuide;
