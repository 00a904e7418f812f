//! The per-second timeline: for each wall-clock second and operation kind, how many
//! operations ended, how many failed, and their latency as a [`SparseHistogram`] (the
//! whole-test histogram's buckets, only those occupied), so that per-second p50/p99 of
//! many workers merge exactly at the whole-test precision.
//!
//! Seconds are Unix seconds (not seconds since a worker started), so workers that
//! started at slightly different times line up.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::binary::{self, PointRef};
use super::{LatencyHistogram, SparseHistogram};
use crate::error::{Error, Result};

/// The seconds a timeline holds: Unix seconds from 1970 to the end of 9999. A worker's
/// clock gives nothing else; a point outside (from a hostile worker or an altered
/// results file) is refused, so that reports can subtract and index by seconds.
pub const SECONDS: std::ops::RangeInclusive<i64> = 0..=253_402_300_799;

pub(crate) fn check_second(second: i64) -> Result<()> {
    if SECONDS.contains(&second) {
        Ok(())
    } else {
        Err(Error::Backend(format!(
            "timeline second {second} is not a Unix second between 1970 and 9999"
        )))
    }
}

/// One second of one operation kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Unix time of the second, in seconds.
    pub second: i64,
    /// Operation kind.
    pub operation: String,
    /// Operations that ended in this second (successes and failures).
    pub ops: u64,
    /// Failed operations that ended in this second.
    pub errors: u64,
    /// Latencies of the successful operations that ended in this second.
    pub latency: SparseHistogram,
}

/// Timeline points keyed by (second, operation).
///
/// A timeline decoded from the binary form ([`super::binary`]: a worker's result, a
/// results file) keeps the decoded points as they came until something needs them as
/// [`TimelinePoint`]s, so that the runner folds thousands of worker timelines without
/// building a map of points for each.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    points: OnceLock<BTreeMap<(i64, String), TimelinePoint>>,
    wire: Option<Wire>,
}

/// Points decoded from the binary form, in order of second and operation name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wire {
    pub(crate) operations: Vec<String>,
    pub(crate) points: Vec<WirePoint>,
}

/// One decoded point; `op` indexes [`Wire::operations`].
#[derive(Debug, Clone)]
pub(crate) struct WirePoint {
    pub(crate) second: i64,
    pub(crate) op: u32,
    pub(crate) ops: u64,
    pub(crate) errors: u64,
    pub(crate) latency: SparseHistogram,
}

impl Wire {
    fn refs(&self) -> impl Iterator<Item = PointRef<'_>> {
        self.points.iter().map(|p| PointRef {
            second: p.second,
            operation: &self.operations[p.op as usize],
            ops: p.ops,
            errors: p.errors,
            latency: &p.latency,
        })
    }

    fn into_map(self) -> BTreeMap<(i64, String), TimelinePoint> {
        let Wire { operations, points } = self;
        points
            .into_iter()
            .map(|p| {
                let operation = operations[p.op as usize].clone();
                (
                    (p.second, operation.clone()),
                    TimelinePoint {
                        second: p.second,
                        operation,
                        ops: p.ops,
                        errors: p.errors,
                        latency: p.latency,
                    },
                )
            })
            .collect()
    }
}

fn point_ref(p: &TimelinePoint) -> PointRef<'_> {
    PointRef {
        second: p.second,
        operation: &p.operation,
        ops: p.ops,
        errors: p.errors,
        latency: &p.latency,
    }
}

impl Timeline {
    /// The points as a map, built from the decoded form on first use.
    fn map(&self) -> &BTreeMap<(i64, String), TimelinePoint> {
        self.points
            .get_or_init(|| self.wire.clone().map(Wire::into_map).unwrap_or_default())
    }

    /// The points as a map to change (the decoded form goes).
    fn map_mut(&mut self) -> &mut BTreeMap<(i64, String), TimelinePoint> {
        if let Some(w) = self.wire.take() {
            if self.points.get().is_none() {
                let _ = self.points.set(w.into_map());
            }
        }
        if self.points.get().is_none() {
            let _ = self.points.set(BTreeMap::new());
        }
        self.points.get_mut().expect("just set")
    }

    /// Every point, in order, without building the map.
    fn refs(&self) -> Box<dyn Iterator<Item = PointRef<'_>> + '_> {
        match (self.points.get(), &self.wire) {
            (None, Some(w)) => Box::new(w.refs()),
            (Some(m), _) => Box::new(m.values().map(point_ref)),
            (None, None) => Box::new(std::iter::empty()),
        }
    }

    /// Adds counts and a histogram to the point of (`second`, `operation`); counts
    /// saturate. A `second` outside [`SECONDS`] is refused.
    pub fn add(
        &mut self,
        second: i64,
        operation: &str,
        ops: u64,
        errors: u64,
        latency: &SparseHistogram,
    ) -> Result<()> {
        check_second(second)?;
        let p = self.point_mut(second, operation);
        p.ops = p.ops.saturating_add(ops);
        p.errors = p.errors.saturating_add(errors);
        p.latency.add(latency);
        Ok(())
    }

    /// The point of (`second`, `operation`), empty if it was not there.
    fn point_mut(&mut self, second: i64, operation: &str) -> &mut TimelinePoint {
        self.map_mut()
            .entry((second, operation.to_string()))
            .or_insert_with(|| TimelinePoint {
                second,
                operation: operation.to_string(),
                ops: 0,
                errors: 0,
                latency: SparseHistogram::new(),
            })
    }

    /// Adds `point` (taken as it is when its second and operation are new).
    pub fn insert(&mut self, point: TimelinePoint) {
        use std::collections::btree_map::Entry;
        match self
            .map_mut()
            .entry((point.second, point.operation.clone()))
        {
            Entry::Vacant(e) => {
                e.insert(point);
            }
            Entry::Occupied(mut e) => {
                let p = e.get_mut();
                p.ops = p.ops.saturating_add(point.ops);
                p.errors = p.errors.saturating_add(point.errors);
                p.latency.add(&point.latency);
            }
        }
    }

    /// Adds every point of `others`, one (second, operation) at a time: the merged
    /// point stays in the CPU's cache while each timeline's second is added to it
    /// (adding worker by worker touches every merged point once per worker, and a
    /// merged point of a wide latency spread is a run of up to 27,389 counts). Decoded
    /// timelines are read as they came, without building their points.
    pub fn merge_all(&mut self, others: Vec<Timeline>) {
        let mut points: Vec<PointRef<'_>> = others.iter().flat_map(|t| t.refs()).collect();
        // Each timeline is in order: the (stable) sort merges their runs.
        points.sort_by(|a, b| (a.second, a.operation).cmp(&(b.second, b.operation)));
        let mut rest = &points[..];
        let mut latencies = Vec::new();
        while let Some(first) = rest.first() {
            let same = rest
                .iter()
                .take_while(|p| p.second == first.second && p.operation == first.operation)
                .count();
            let (group, tail) = rest.split_at(same);
            rest = tail;
            let p = self.point_mut(first.second, first.operation);
            latencies.clear();
            latencies.extend(group.iter().map(|q| q.latency));
            p.ops = group.iter().fold(p.ops, |n, q| n.saturating_add(q.ops));
            p.errors = group
                .iter()
                .fold(p.errors, |n, q| n.saturating_add(q.errors));
            p.latency.add_many(&latencies);
        }
    }

    /// Bytes the points' histograms keep their buckets in.
    pub fn allocated_bytes(&self) -> usize {
        self.refs().map(|p| p.latency.allocated_bytes()).sum()
    }

    /// Groups every point's latency buckets `2^shift` at a time (see
    /// [`SparseHistogram::coarsen`]); used by a worker whose result would not fit.
    pub fn coarsen(&mut self, shift: u8) {
        for p in self.map_mut().values_mut() {
            p.latency.coarsen(shift);
        }
    }

    /// Bytes of the points' encoded histograms (before base64), to size a result.
    pub fn histogram_bytes(&self) -> usize {
        self.refs().map(|p| p.latency.to_bytes().len()).sum()
    }

    /// Each operation's latencies summed over the seconds (exact at full precision;
    /// at a coarser shift each group's samples sit on its lowest bucket), a merged
    /// second's run of counts added page by page.
    pub(crate) fn latency_sums(&self) -> BTreeMap<String, LatencyHistogram> {
        let mut sums: BTreeMap<String, LatencyHistogram> = BTreeMap::new();
        for p in self.points() {
            let sum = match sums.get_mut(&p.operation) {
                Some(sum) => sum,
                None => sums.entry(p.operation.clone()).or_default(),
            };
            p.latency.add_into(sum);
        }
        sums
    }

    /// The coarsest precision shift among the points (0: all at full precision).
    pub fn shift(&self) -> u8 {
        self.refs().map(|p| p.latency.shift()).max().unwrap_or(0)
    }

    /// Adds every point of `other` (exact).
    pub fn merge(&mut self, other: &Timeline) -> Result<()> {
        for p in other.refs() {
            self.add(p.second, p.operation, p.ops, p.errors, p.latency)?;
        }
        Ok(())
    }

    /// Points in order of second, then operation.
    pub fn points(&self) -> impl Iterator<Item = &TimelinePoint> {
        self.map().values()
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        match (self.points.get(), &self.wire) {
            (None, Some(w)) => w.points.len(),
            (Some(m), _) => m.len(),
            (None, None) => 0,
        }
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The binary form ([`super::binary`]).
    pub fn to_binary(&self) -> Vec<u8> {
        binary::encode(self.refs())
    }

    /// Decodes [`Timeline::to_binary`]'s output, checking everything.
    pub fn from_binary(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            points: OnceLock::new(),
            wire: Some(binary::decode(bytes)?),
        })
    }
}

impl PartialEq for Timeline {
    /// The same points, however they are kept.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.refs().zip(other.refs()).all(|(a, b)| {
                (a.second, a.operation, a.ops, a.errors) == (b.second, b.operation, b.ops, b.errors)
                    && a.latency == b.latency
            })
    }
}

impl Serialize for Timeline {
    /// Base64 of the binary form.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.to_binary()))
    }
}

impl<'de> Deserialize<'de> for Timeline {
    /// The binary form in base64, or (results of schema version 2 and earlier, and
    /// workers of lgb versions before it) a list of points.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Timeline;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a timeline: base64 of its binary form, or a list of points")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Timeline, E> {
                // SIMD: a 14-minute test's workers send gigabytes of it.
                let bytes: Vec<u8> = base64_simd::STANDARD
                    .decode_type(v)
                    .map_err(|e| E::custom(format!("timeline is not base64: {e}")))?;
                Timeline::from_binary(&bytes).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Timeline, A::Error> {
                let mut t = Timeline::default();
                while let Some(p) = seq.next_element::<TimelinePoint>()? {
                    check_second(p.second).map_err(serde::de::Error::custom)?;
                    t.insert(p);
                }
                Ok(t)
            }
        }
        d.deserialize_any(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_matching_seconds() {
        let mut full = crate::metrics::LatencyHistogram::new();
        full.record_ns(100);
        let h = SparseHistogram::from_histogram(&full);
        let mut a = Timeline::default();
        a.add(10, "read", 1, 0, &h).unwrap();
        let mut b = Timeline::default();
        b.add(10, "read", 2, 1, &h).unwrap();
        b.add(11, "read", 1, 0, &h).unwrap();
        a.merge(&b).unwrap();
        let pts: Vec<_> = a.points().collect();
        assert_eq!(pts.len(), 2);
        assert_eq!((pts[0].ops, pts[0].errors, pts[0].latency.len()), (3, 1, 2));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Timeline>(&json).unwrap(), a);
    }

    fn one(second: i64, ops: u64) -> TimelinePoint {
        TimelinePoint {
            second,
            operation: "read".into(),
            ops,
            errors: ops,
            latency: SparseHistogram::new(),
        }
    }

    #[test]
    fn counts_saturate_and_absurd_seconds_are_refused() {
        let big = one(1_700_000_000, u64::MAX - 1);
        let mut a = Timeline::default();
        a.insert(big.clone());
        a.insert(big.clone());
        let b = a.clone();
        a.merge(&b).unwrap();
        let mut c = Timeline::default();
        c.merge_all(vec![b.clone(), b.clone(), b]);
        for t in [&a, &c] {
            let p = t.points().next().unwrap();
            assert_eq!((p.ops, p.errors), (u64::MAX, u64::MAX));
        }
        // Seconds no clock gives are refused, whether added or read from a file.
        let empty = SparseHistogram::new();
        for second in [-1, i64::MIN, i64::MAX, SECONDS.end() + 1] {
            let e = Timeline::default()
                .add(second, "read", 1, 0, &empty)
                .unwrap_err();
            assert!(e.to_string().contains("not a Unix second"), "{e}");
            let json = serde_json::to_string(&[one(1_700_000_000, 1), one(second, 1)]).unwrap();
            let e = serde_json::from_str::<Timeline>(&json).unwrap_err();
            assert!(e.to_string().contains("not a Unix second"), "{e}");
        }
        for second in [*SECONDS.start(), *SECONDS.end()] {
            Timeline::default()
                .add(second, "read", 1, 0, &empty)
                .unwrap();
        }
    }
}
