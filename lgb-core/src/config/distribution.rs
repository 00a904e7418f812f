//! Key distributions as a config names them; the choosers that draw from them are
//! in `crate::workload::keys`.

use serde::{Deserialize, Serialize};

use crate::error::ConfigProblem;

/// YCSB's default zipfian constant.
pub const ZIPFIAN_THETA: f64 = 0.99;

fn default_theta() -> f64 {
    ZIPFIAN_THETA
}
fn default_hot_fraction() -> f64 {
    0.2
}
fn default_hot_ops() -> f64 {
    0.8
}

/// How keys are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Every key equally likely.
    Uniform,
    /// Popular keys first, key `i` at rank `i`, drawn as YCSB 0.17's
    /// `ZipfianGenerator` draws: Gray et al.'s approximation of the zipfian law
    /// (weight `1/(i+1)^theta`), which puts more weight on ranks 2 to 10 than the law.
    Zipfian {
        /// Skew, theta > 0 (YCSB: 0.99).
        #[serde(default = "default_theta")]
        theta: f64,
    },
    /// Popular keys first, drawn from the zipfian law itself: key `i` has probability
    /// `1/(i+1)^theta / ζ(keys, theta)` (exact rejection-inversion sampling).
    ExactZipfian {
        /// Skew, theta > 0.
        #[serde(default = "default_theta")]
        theta: f64,
    },
    /// Zipfian popularity spread over the key space by hashing, exactly as YCSB's
    /// `ScrambledZipfianGenerator` (what YCSB's `requestdistribution=zipfian` uses): a
    /// rank is drawn by YCSB's generator over 10^10 + 1 ranks (ζ precomputed at 0.99)
    /// and the key is `fnvhash64(rank) mod keys`.
    ScrambledZipfian {
        /// Skew, theta > 0.
        #[serde(default = "default_theta")]
        theta: f64,
    },
    /// The most recently inserted keys are the most popular, as YCSB's
    /// `SkewedLatestGenerator`: the newest key minus a rank of YCSB's generator over
    /// as many ranks as the newest key number (grown incrementally with inserts).
    Latest {
        /// Skew, theta > 0.
        #[serde(default = "default_theta")]
        theta: f64,
    },
    /// `hot_ops` of the operations go to the first `hot_fraction` of the keys.
    Hotspot {
        /// Fraction of keys that are hot.
        #[serde(default = "default_hot_fraction")]
        hot_fraction: f64,
        /// Fraction of operations that go to hot keys.
        #[serde(default = "default_hot_ops")]
        hot_ops: f64,
    },
    /// Keys in order; each task walks its own interleaved slice, wrapping around.
    Sequential,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution::Zipfian {
            theta: ZIPFIAN_THETA,
        }
    }
}

impl Distribution {
    /// Names of every distribution, for `lgb list`.
    pub const NAMES: [(&'static str, &'static str); 7] = [
        ("uniform", "every key equally likely"),
        (
            "zipfian",
            "skewed to low key numbers as YCSB's ZipfianGenerator; `theta` (default 0.99)",
        ),
        (
            "exact_zipfian",
            "skewed to low key numbers by the exact zipfian law; `theta` (default 0.99)",
        ),
        (
            "scrambled_zipfian",
            "YCSB's zipfian: ranks over 10^10 items, FNV-hashed over the key space",
        ),
        ("latest", "skewed to the most recently inserted keys"),
        (
            "hotspot",
            "`hot_ops` of operations on the first `hot_fraction` of keys",
        ),
        ("sequential", "keys in order, each task its own slice"),
    ];

    /// Problems with the parameters, reported under `path`.
    pub fn problems(&self, path: &str) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        match *self {
            Distribution::Zipfian { theta }
            | Distribution::ExactZipfian { theta }
            | Distribution::ScrambledZipfian { theta }
            | Distribution::Latest { theta } => {
                if !(theta.is_finite() && theta > 0.0 && theta <= 10.0) {
                    p.push(ConfigProblem::new(
                        format!("{path}.theta"),
                        "must be above 0 (and at most 10)",
                    ));
                }
            }
            Distribution::Hotspot {
                hot_fraction,
                hot_ops,
            } => {
                if !(hot_fraction > 0.0 && hot_fraction < 1.0) {
                    p.push(ConfigProblem::new(
                        format!("{path}.hot_fraction"),
                        "must be between 0 and 1 (exclusive)",
                    ));
                }
                if !(0.0..=1.0).contains(&hot_ops) {
                    p.push(ConfigProblem::new(
                        format!("{path}.hot_ops"),
                        "must be between 0 and 1",
                    ));
                }
            }
            Distribution::Uniform | Distribution::Sequential => {}
        }
        p
    }
}
