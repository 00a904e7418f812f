//! What a benchmark asks of the database: which keys ([`keys`]), which records
//! ([`records`]), and named workloads ([`Preset`], YCSB A–F).
//!
//! Everything here is deterministic given the workload seed, so two runs with the same
//! config touch the same keys with the same records.

pub mod keys;
pub mod records;
pub mod timeseries;

/// The logical key space a chooser draws from, as YCSB's CoreWorkload sizes it: the
/// loaded `records` plus twice the inserts expected in `operations` (its "fudge
/// factor" of 2), so that the popularity of keys stays put while inserts grow the
/// data set; draws of keys not yet inserted are drawn again. Like YCSB's
/// `ScrambledZipfianGenerator(0, records + expected)`, whose bounds are inclusive, it
/// holds one key more than that sum.
pub(crate) fn key_space(records: u64, operations: Option<u64>, insert_fraction: f64) -> u64 {
    // `as` from a float saturates; so do the sums (records come from input).
    let expected = (operations.unwrap_or(0) as f64 * insert_fraction * 2.0) as u64;
    records.saturating_add(expected).saturating_add(1)
}

/// splitmix64's finalizer: a fast, well-mixed hash of one word, from which the record
/// and time-series generators derive every value deterministically from their seed.
#[inline]
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
