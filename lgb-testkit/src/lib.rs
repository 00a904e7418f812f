//! What lgb's tests share, so no test crate writes its own HTTP server, proxy or
//! services helper:
//!
//! - [`http`]: a small HTTP/1.1 test server ([`http::serve`]) answering each request
//!   with a closure, and the message framing the proxies use;
//! - [`fault_proxy`]: a proxy in front of a real local service that hands each request
//!   to a rewrite function, which forwards, changes or answers it (throttles, partial
//!   batches, rejected records, hangs);
//! - [`latency_proxy`]: a proxy that delays requests on a schedule and records each
//!   request's turnaround, the ground truth the measurement tests compare with;
//! - [`services`]: the repository root and the local services of `scripts/services`;
//! - [`control_plane`]: the local Lambda control plane, started per test;
//! - [`influxdb`]: the InfluxDB 2 and 3 requests the `influxdb` adapter must send, and a
//!   recorder that answers like those servers;
//! - [`outputs_tf`]: `tofu output -json` samples generated from infra/outputs.tf.
//!
//! Unpublished, and only ever a dev-dependency: it pulls in no AWS SDK, so it adds
//! almost nothing to the test binaries.
#![deny(missing_docs)]

pub mod control_plane;
pub mod fault_proxy;
pub mod http;
pub mod influxdb;
pub mod latency_proxy;
pub mod outputs_tf;
pub mod services;

pub use fault_proxy::{Exchange, FaultProxy};
pub use http::{serve, Request, Response};
