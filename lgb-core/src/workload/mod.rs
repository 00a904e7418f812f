//! What a benchmark asks of the database: which keys ([`keys`]), which records
//! ([`records`]), and named workloads ([`Preset`], YCSB A–F).
//!
//! Everything here is deterministic given the workload seed, so two runs with the same
//! config touch the same keys with the same records.

pub mod keys;
pub mod records;
pub mod timeseries;

pub use crate::config::{Distribution, Preset};
pub use keys::{KeyChooser, KeyFormatter};
pub use records::RecordGenerator;
