//! lgb-core's integration tests, in one binary: each module is one behaviour (the
//! file names say which), so the AWS SDKs are linked once for the whole suite instead
//! of once per file. Modules that need a database feature say so with
//! `#![cfg(feature = ...)]` at their top; `cargo test -p lgb-core --all-features` runs
//! them all (their local services are started through `scripts/services`).
//!
//! One behaviour has a binary of its own: `tests/truth_through_proxy.rs` compares
//! lgb's latencies with a proxy's to within 3%, so nothing else of the suite may run
//! beside it (cargo runs test binaries one after another).

#[macro_use]
mod common;
mod report_common;

mod cancellation;
mod compare_runs;
mod config_errors;
mod conformance_matrix;
mod cost_estimates;
mod dynamodb;
mod immudb;
mod influxdb;
mod known_latencies;
mod memory_conformance;
mod merge_is_exact;
mod report_chromium;
mod report_formats;
mod report_html;
mod results_at_rest;
mod results_format;
mod results_s3;
mod scale;
mod targets_follow_outputs_tf;
mod timestream;
mod verify_writes;
mod workload_presets;
