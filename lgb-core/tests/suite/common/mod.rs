//! Helpers shared by the integration tests: the local services (from lgb-testkit),
//! the adapter conformance suite and the scripted executor.
#![allow(dead_code)]

#[macro_use]
pub mod conformance;
pub mod exec;
pub mod outputs_tf;

pub use lgb_testkit::services::{aws_endpoint, repo_root, service_env, unique_prefix};
