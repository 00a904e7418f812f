//! A time-series workload in the manner of TSBS `devops`: N hosts, each reporting M
//! metrics every `interval`, as [`Record`]s with dimensions and timestamps.
//!
//! Every point is a pure function of (seed, host, step): no state is carried from one
//! point to the next, so any worker can generate any slice of the stream and two runs
//! with the same options write the same data. Points are numbered in *arrival* order;
//! [`TimeSeriesGenerator::locate`] maps an arrival number to (host, step), which is
//! where in-order and out-of-order arrival differ.
//!
//! This module must not know any database or operation: it produces records, and
//! [`crate::operation::timeseries::TimeSeriesWrite`] hands them to whatever database the
//! worker runs.

use std::f64::consts::TAU;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::mix;
use crate::record::{Record, Value};
use crate::units::HumanDuration;
use crate::workload::keys::KeyFormatter;

/// Metric names of TSBS's `cpu` measurement; metrics beyond these are `metric_<i>`.
pub const CPU_METRICS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// Dimension names every point carries, besides its host (the record key).
pub const DIMENSIONS: [&str; 9] = [
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
];

const REGIONS: [&str; 9] = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
];
const ZONES: [&str; 3] = ["a", "b", "c"];
const OSES: [&str; 3] = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCHES: [&str; 2] = ["x64", "x86"];
const TEAMS: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "test"];

/// Largest out-of-order window, in steps (the permutation of a window lives on the stack).
pub const MAX_WINDOW: u32 = 256;

/// Options of the time-series workload (and of the `timeseries_write` operation).
///
/// ```json
/// {"type": "timeseries_write", "hosts": 100, "metrics": 10, "interval": "10s", "batch": 100,
///  "out_of_order": 0.1, "window": 6}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeSeriesOptions {
    /// Hosts (series). Default: the workload's `records`, so that `{key}` in native
    /// query statements names a host that exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<u64>,
    /// Metrics per point (the first ten are TSBS's cpu metrics).
    #[serde(default = "default_metrics")]
    pub metrics: usize,
    /// Time between two points of one host.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// Points per call; 1 uses single writes.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Share of points, 0 to 1, that arrive out of order within their window.
    #[serde(default)]
    pub out_of_order: f64,
    /// Window of steps (per host) within which late points are reordered.
    #[serde(default = "default_window")]
    pub window: u32,
    /// Seed of metric values and host dimensions.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The first point's time, in ms since the epoch. Default: `start_offset` before
    /// now, rounded down to the hour so that workers started together agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    /// How far in the past the series start when `start_ms` is not given.
    #[serde(default = "default_start_offset")]
    pub start_offset: HumanDuration,
    /// Stop after this many steps of every host (`hosts × steps` points in all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
}

fn default_metrics() -> usize {
    10
}
fn default_interval() -> HumanDuration {
    HumanDuration::secs(10)
}
fn default_batch() -> usize {
    100
}
fn default_window() -> u32 {
    6
}
fn default_seed() -> u64 {
    42
}
fn default_start_offset() -> HumanDuration {
    HumanDuration::secs(3600)
}

impl Default for TimeSeriesOptions {
    fn default() -> Self {
        Self {
            hosts: None,
            metrics: default_metrics(),
            interval: default_interval(),
            batch: default_batch(),
            out_of_order: 0.0,
            window: default_window(),
            seed: default_seed(),
            start_ms: None,
            start_offset: default_start_offset(),
            steps: None,
        }
    }
}

impl TimeSeriesOptions {
    /// Every problem with these options, as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if self.hosts == Some(0) {
            p.push(("hosts", "must be at least 1".to_string()));
        }
        if self.metrics == 0 {
            p.push(("metrics", "must be at least 1".to_string()));
        }
        if self.interval.0.as_millis() == 0 {
            p.push(("interval", "must be at least 1ms".to_string()));
        }
        if self.batch == 0 {
            p.push(("batch", "must be at least 1".to_string()));
        }
        if !(0.0..=1.0).contains(&self.out_of_order) {
            p.push(("out_of_order", "must be between 0 and 1".to_string()));
        }
        if self.window < 2 || self.window > MAX_WINDOW {
            p.push((
                "window",
                format!("must be between 2 and {MAX_WINDOW} steps"),
            ));
        }
        if self.steps == Some(0) {
            p.push(("steps", "must be at least 1".to_string()));
        }
        p
    }

    /// The start time: `start_ms`, or `start_offset` before `now_ms` rounded down to the hour.
    pub fn start_at(&self, now_ms: i64) -> i64 {
        self.start_ms.unwrap_or_else(|| {
            let offset = i64::try_from(self.start_offset.0.as_millis()).unwrap_or(i64::MAX);
            let t = now_ms.saturating_sub(offset);
            t - t.rem_euclid(3_600_000)
        })
    }
}

/// Where one point sits: which host, which step of that host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PointId {
    /// Host number, `0..hosts`.
    pub host: u64,
    /// Step number; the point's time is `start_ms + step × interval`.
    pub step: u64,
}

#[inline]
fn hash(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix(seed), |h, p| mix(h ^ p))
}

/// A uniform number in `[0, 1)` from a hash.
#[inline]
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Generates the points of a time-series workload; see the module docs.
///
/// ```
/// use lgb_core::workload::timeseries::{TimeSeriesGenerator, TimeSeriesOptions};
/// use lgb_core::workload::keys::KeyFormatter;
/// let opts = TimeSeriesOptions { hosts: Some(3), metrics: 2, ..Default::default() };
/// let gen = TimeSeriesGenerator::new(&opts, 3, KeyFormatter::new("host"), 1_000_000);
/// let r = gen.record(4); // the second step of host 1
/// assert_eq!(r.key, "host000000000001");
/// assert_eq!(r.timestamp, Some(1_000_000 + 10_000));
/// assert_eq!(r.fields.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct TimeSeriesGenerator {
    seed: u64,
    hosts: u64,
    interval_ms: i64,
    start_ms: i64,
    out_of_order: f64,
    window: u32,
    keys: KeyFormatter,
    metric_names: Vec<String>,
    /// Dimensions of each host, built once: they never change.
    host_dims: Vec<Arc<[(String, String)]>>,
}

impl TimeSeriesGenerator {
    /// A generator of `hosts` hosts whose keys `keys` formats, starting at `start_ms`.
    pub fn new(options: &TimeSeriesOptions, hosts: u64, keys: KeyFormatter, start_ms: i64) -> Self {
        let hosts = hosts.max(1);
        let metric_names = (0..options.metrics.max(1))
            .map(|i| {
                CPU_METRICS
                    .get(i)
                    .map_or_else(|| format!("metric_{i}"), |s| s.to_string())
            })
            .collect();
        let host_dims = (0..hosts)
            .map(|h| host_dimensions(options.seed, h).into())
            .collect();
        Self {
            seed: options.seed,
            hosts,
            interval_ms: options.interval.0.as_millis().max(1) as i64,
            start_ms,
            out_of_order: options.out_of_order.clamp(0.0, 1.0),
            window: options.window.clamp(2, MAX_WINDOW),
            keys,
            metric_names,
            host_dims,
        }
    }

    /// Number of hosts.
    pub fn hosts(&self) -> u64 {
        self.hosts
    }

    /// Metric names, in field order.
    pub fn metric_names(&self) -> &[String] {
        &self.metric_names
    }

    /// Time of the first step, ms since the epoch.
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// Time between two steps of a host, in ms.
    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    /// The key (host name) of host `host`.
    pub fn host_key(&self, host: u64) -> String {
        self.keys.key(host)
    }

    /// Time of step `step`, ms since the epoch.
    pub fn time_of(&self, step: u64) -> i64 {
        self.start_ms + step as i64 * self.interval_ms
    }

    /// The point that arrives `index`-th. Every arrival step carries one point of each
    /// host; out of order, a host's steps are permuted within windows of `window` steps,
    /// so a point arrives at most `window - 1` steps late or early.
    pub fn locate(&self, index: u64) -> PointId {
        let host = index % self.hosts;
        let arrival_step = index / self.hosts;
        if self.out_of_order <= 0.0 {
            return PointId {
                host,
                step: arrival_step,
            };
        }
        let w = u64::from(self.window);
        let block = arrival_step / w;
        let slot = (arrival_step % w) as usize;
        let perm = self.window_permutation(host, block);
        PointId {
            host,
            step: block * w + u64::from(perm[slot]),
        }
    }

    /// Partial Fisher–Yates over one window: each slot is swapped with a later one with
    /// probability `out_of_order`, so that share of points leaves its place.
    fn window_permutation(&self, host: u64, block: u64) -> [u16; MAX_WINDOW as usize] {
        let w = self.window as usize;
        let mut perm = [0u16; MAX_WINDOW as usize];
        for (i, p) in perm.iter_mut().enumerate().take(w) {
            *p = i as u16;
        }
        for i in 0..w - 1 {
            let h = hash(self.seed, &[0xf00d, host, block, i as u64]);
            if unit(h) < self.out_of_order {
                let j = i + 1 + (mix(h) % (w - i - 1) as u64) as usize;
                perm.swap(i, j);
            }
        }
        perm
    }

    /// The value of metric `metric` of `host` at `step`: a slow wave around a per-host
    /// level plus noise, in `[0, 100]`, rounded to hundredths.
    pub fn value(&self, host: u64, metric: usize, step: u64) -> f64 {
        let base = hash(self.seed, &[host, metric as u64]);
        let level = 10.0 + 70.0 * unit(base);
        let period = 60.0 + 300.0 * unit(mix(base));
        let phase = TAU * unit(mix(mix(base)));
        let noise = unit(hash(self.seed, &[host, metric as u64, step])) - 0.5;
        let v = level + 15.0 * (TAU * step as f64 / period + phase).sin() + 10.0 * noise;
        (v.clamp(0.0, 100.0) * 100.0).round() / 100.0
    }

    /// Fills `record` with the point that arrives `index`-th, reusing its buffers.
    pub fn fill(&self, record: &mut Record, index: u64) -> PointId {
        let id = self.locate(index);
        self.fill_point(record, id);
        id
    }

    /// Fills `record` with point `id`, reusing its buffers.
    pub fn fill_point(&self, record: &mut Record, id: PointId) {
        let host = id.host % self.hosts;
        self.keys.write(host, &mut record.key);
        record.timestamp = Some(self.time_of(id.step));
        let dims = &self.host_dims[host as usize];
        if record.dimensions.len() != dims.len()
            || record
                .dimensions
                .iter()
                .zip(dims.iter())
                .any(|(a, b)| a != b)
        {
            record.dimensions.clear();
            record.dimensions.extend(dims.iter().cloned());
        }
        if record.fields.len() != self.metric_names.len() {
            record.fields.clear();
            record.fields.extend(
                self.metric_names
                    .iter()
                    .map(|n| (n.clone(), Value::Float(0.0))),
            );
        }
        for (m, (name, value)) in record.fields.iter_mut().enumerate() {
            if name != &self.metric_names[m] {
                name.clone_from(&self.metric_names[m]);
            }
            *value = Value::Float(self.value(host, m, id.step));
        }
    }

    /// The point that arrives `index`-th, as a new record.
    pub fn record(&self, index: u64) -> Record {
        let mut r = Record::default();
        self.fill(&mut r, index);
        r
    }
}

/// TSBS-style dimensions of one host, a pure function of (seed, host).
fn host_dimensions(seed: u64, host: u64) -> Vec<(String, String)> {
    let pick = |i: u64, n: usize| (hash(seed, &[0xd1_3e, host, i]) % n as u64) as usize;
    let region = REGIONS[pick(0, REGIONS.len())];
    let values = [
        region.to_string(),
        format!("{region}{}", ZONES[pick(1, ZONES.len())]),
        pick(2, 100).to_string(),
        OSES[pick(3, OSES.len())].to_string(),
        ARCHES[pick(4, ARCHES.len())].to_string(),
        TEAMS[pick(5, TEAMS.len())].to_string(),
        pick(6, 20).to_string(),
        pick(7, 2).to_string(),
        ENVIRONMENTS[pick(8, ENVIRONMENTS.len())].to_string(),
    ];
    DIMENSIONS
        .iter()
        .map(|d| d.to_string())
        .zip(values)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn gen(out_of_order: f64, hosts: u64) -> TimeSeriesGenerator {
        let o = TimeSeriesOptions {
            metrics: 12,
            out_of_order,
            window: 5,
            ..TimeSeriesOptions::default()
        };
        TimeSeriesGenerator::new(&o, hosts, KeyFormatter::new("host"), 1_700_000_000_000)
    }

    #[test]
    fn in_order_is_step_major_and_deterministic() {
        let g = gen(0.0, 4);
        let ids: Vec<PointId> = (0..8).map(|i| g.locate(i)).collect();
        assert_eq!(ids[0], PointId { host: 0, step: 0 });
        assert_eq!(ids[5], PointId { host: 1, step: 1 });
        let a = g.record(5);
        let b = gen(0.0, 4).record(5);
        assert_eq!(a, b, "same options and index give the same record");
        assert_eq!(a.key, "host000000000001");
        assert_eq!(a.timestamp, Some(1_700_000_000_000 + 10_000));
        assert_eq!(a.dimensions.len(), DIMENSIONS.len());
        assert_eq!(a.fields[0].0, "usage_user");
        assert_eq!(a.fields[11].0, "metric_11");
        for (_, v) in &a.fields {
            let Value::Float(x) = v else {
                panic!("metrics are floats")
            };
            assert!((0.0..=100.0).contains(x));
        }
        // Another seed gives other values.
        let o = TimeSeriesOptions {
            seed: 7,
            metrics: 12,
            ..Default::default()
        };
        let c =
            TimeSeriesGenerator::new(&o, 4, KeyFormatter::new("host"), 1_700_000_000_000).record(5);
        assert_ne!(a.fields, c.fields);
    }

    #[test]
    fn out_of_order_permutes_each_host_within_windows() {
        let hosts = 3;
        let g = gen(0.5, hosts);
        let n = hosts * 50;
        let ids: Vec<PointId> = (0..n).map(|i| g.locate(i)).collect();
        // Every point appears exactly once.
        let set: HashSet<PointId> = ids.iter().copied().collect();
        assert_eq!(set.len() as u64, n);
        for h in 0..hosts {
            let steps: Vec<u64> = ids.iter().filter(|p| p.host == h).map(|p| p.step).collect();
            let mut sorted = steps.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..50).collect::<Vec<_>>());
            let late = steps.windows(2).filter(|w| w[1] < w[0]).count();
            assert!(late > 0, "host {h} has out-of-order points: {steps:?}");
            for (arrival, step) in steps.iter().enumerate() {
                assert!(
                    (arrival as i64 - *step as i64).abs() < 5,
                    "within the window"
                );
            }
        }
        assert_eq!(gen(0.5, hosts).locate(77), g.locate(77));
    }

    #[test]
    fn fill_reuses_buffers_and_options_are_checked() {
        let g = gen(0.0, 2);
        let mut r = Record::default();
        g.fill(&mut r, 0);
        let first = r.clone();
        g.fill(&mut r, 3);
        assert_eq!(r, g.record(3));
        assert_ne!(r, first);
        let bad = TimeSeriesOptions {
            batch: 0,
            out_of_order: 2.0,
            window: 1,
            ..Default::default()
        };
        let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["batch", "out_of_order", "window"]);
    }

    #[test]
    fn default_start_is_an_hour_boundary_before_the_offset() {
        let o = TimeSeriesOptions::default();
        let now = 1_700_000_123_456;
        let s = o.start_at(now);
        assert_eq!(s % 3_600_000, 0);
        assert!(s <= now - 3_600_000 && s > now - 7_200_000);
        let o = TimeSeriesOptions {
            start_ms: Some(5),
            ..Default::default()
        };
        assert_eq!(o.start_at(now), 5);
    }
}
