//! Named workloads (YCSB A–F): an operation mix and a key distribution each.

use serde::{Deserialize, Serialize};

use super::distribution::{Distribution, ZIPFIAN_THETA};
use super::OperationConfig;

/// Named workloads. The YCSB core workloads follow YCSB's `workloads/workload[a-f]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Preset {
    /// Update heavy: 50% reads, 50% updates, scrambled zipfian.
    #[serde(rename = "ycsb-a")]
    YcsbA,
    /// Read mostly: 95% reads, 5% updates, scrambled zipfian.
    #[serde(rename = "ycsb-b")]
    YcsbB,
    /// Read only: 100% reads, scrambled zipfian.
    #[serde(rename = "ycsb-c")]
    YcsbC,
    /// Read latest: 95% reads, 5% inserts, latest.
    #[serde(rename = "ycsb-d")]
    YcsbD,
    /// Short ranges: 95% scans of 1..=100 records (uniform), 5% inserts, scrambled
    /// zipfian start keys.
    #[serde(rename = "ycsb-e")]
    YcsbE,
    /// Read-modify-write: 50% reads, 50% read-modify-writes, scrambled zipfian.
    #[serde(rename = "ycsb-f")]
    YcsbF,
}

impl Preset {
    /// Every preset, for `lgb list`.
    pub const ALL: [Preset; 6] = [
        Preset::YcsbA,
        Preset::YcsbB,
        Preset::YcsbC,
        Preset::YcsbD,
        Preset::YcsbE,
        Preset::YcsbF,
    ];

    /// The config name, for example `"ycsb-a"`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::YcsbA => "ycsb-a",
            Preset::YcsbB => "ycsb-b",
            Preset::YcsbC => "ycsb-c",
            Preset::YcsbD => "ycsb-d",
            Preset::YcsbE => "ycsb-e",
            Preset::YcsbF => "ycsb-f",
        }
    }

    /// One line for `lgb list`.
    pub fn description(self) -> &'static str {
        match self {
            Preset::YcsbA => "update heavy: 50% read, 50% update, scrambled zipfian",
            Preset::YcsbB => "read mostly: 95% read, 5% update, scrambled zipfian",
            Preset::YcsbC => "read only: 100% read, scrambled zipfian",
            Preset::YcsbD => "read latest: 95% read, 5% insert, latest",
            Preset::YcsbE => {
                "short ranges: 95% scan (1..=100, uniform), 5% insert, scrambled zipfian start"
            }
            Preset::YcsbF => {
                "read-modify-write: 50% read, 50% read-modify-write, scrambled zipfian"
            }
        }
    }

    /// The operation mix of this preset.
    pub fn operation(self) -> OperationConfig {
        let weights: &[(&str, f64)] = match self {
            Preset::YcsbA => &[("read", 0.5), ("update", 0.5)],
            Preset::YcsbB => &[("read", 0.95), ("update", 0.05)],
            Preset::YcsbC => &[("read", 1.0)],
            Preset::YcsbD => &[("read", 0.95), ("insert", 0.05)],
            Preset::YcsbE => &[("scan", 0.95), ("insert", 0.05)],
            Preset::YcsbF => &[("read", 0.5), ("read_modify_write", 0.5)],
        };
        let mut op = OperationConfig::new("mix");
        let w: serde_json::Map<String, serde_json::Value> = weights
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        op.options
            .insert("weights".into(), serde_json::Value::Object(w));
        op
    }

    /// The key distribution of this preset: YCSB's `requestdistribution=zipfian` is its
    /// scrambled zipfian generator (A, B, C, E, F); D uses `latest`.
    pub fn distribution(self) -> Distribution {
        match self {
            Preset::YcsbD => Distribution::Latest {
                theta: ZIPFIAN_THETA,
            },
            _ => Distribution::ScrambledZipfian {
                theta: ZIPFIAN_THETA,
            },
        }
    }
}
