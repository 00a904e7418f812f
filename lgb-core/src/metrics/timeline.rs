//! The per-second timeline: for each wall-clock second and operation kind, how many
//! operations ended, how many failed, and their latency as a [`SparseHistogram`] (the
//! whole-test histogram's buckets, only those occupied), so that per-second p50/p99 of
//! many workers merge exactly at the whole-test precision.
//!
//! Seconds are Unix seconds (not seconds since a worker started), so workers that
//! started at slightly different times line up.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SparseHistogram;
use crate::error::{Error, Result};

/// The seconds a timeline holds: Unix seconds from 1970 to the end of 9999. A worker's
/// clock gives nothing else; a point outside (from a hostile worker or an altered
/// results file) is refused, so that reports can subtract and index by seconds.
pub const SECONDS: std::ops::RangeInclusive<i64> = 0..=253_402_300_799;

fn check_second(second: i64) -> Result<()> {
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    points: BTreeMap<(i64, String), TimelinePoint>,
}

impl Timeline {
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
        self.points
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
        match self.points.entry((point.second, point.operation.clone())) {
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
    /// merged point of a wide latency spread is a 100 KiB run of counts).
    pub fn merge_all(&mut self, others: Vec<Timeline>) {
        let mut points: Vec<TimelinePoint> = others
            .into_iter()
            .flat_map(|t| t.points.into_values())
            .collect();
        points.sort_by(|a, b| (a.second, &a.operation).cmp(&(b.second, &b.operation)));
        let mut rest = &points[..];
        while let Some(first) = rest.first() {
            let same = rest
                .iter()
                .take_while(|p| p.second == first.second && p.operation == first.operation)
                .count();
            let (group, tail) = rest.split_at(same);
            rest = tail;
            let p = self.point_mut(first.second, &first.operation);
            let latencies: Vec<&SparseHistogram> = group.iter().map(|q| &q.latency).collect();
            p.ops = group.iter().fold(p.ops, |n, q| n.saturating_add(q.ops));
            p.errors = group
                .iter()
                .fold(p.errors, |n, q| n.saturating_add(q.errors));
            p.latency.add_many(&latencies);
        }
    }

    /// Bytes the points' histograms keep their buckets in.
    pub fn allocated_bytes(&self) -> usize {
        self.points
            .values()
            .map(|p| p.latency.allocated_bytes())
            .sum()
    }

    /// Groups every point's latency buckets `2^shift` at a time (see
    /// [`SparseHistogram::coarsen`]); used by a worker whose result would not fit.
    pub fn coarsen(&mut self, shift: u8) {
        for p in self.points.values_mut() {
            p.latency.coarsen(shift);
        }
    }

    /// Bytes of the points' encoded histograms (before base64), to size a result.
    pub fn histogram_bytes(&self) -> usize {
        self.points
            .values()
            .map(|p| p.latency.to_bytes().len())
            .sum()
    }

    /// The coarsest precision shift among the points (0: all at full precision).
    pub fn shift(&self) -> u8 {
        self.points
            .values()
            .map(|p| p.latency.shift())
            .max()
            .unwrap_or(0)
    }

    /// Adds every point of `other` (exact).
    pub fn merge(&mut self, other: &Timeline) -> Result<()> {
        for p in other.points.values() {
            self.add(p.second, &p.operation, p.ops, p.errors, &p.latency)?;
        }
        Ok(())
    }

    /// Points in order of second, then operation.
    pub fn points(&self) -> impl Iterator<Item = &TimelinePoint> {
        self.points.values()
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

impl Serialize for Timeline {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.points.values())
    }
}

impl<'de> Deserialize<'de> for Timeline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let points = Vec::<TimelinePoint>::deserialize(d)?;
        let mut t = Timeline::default();
        for p in points {
            check_second(p.second).map_err(serde::de::Error::custom)?;
            t.insert(p);
        }
        Ok(t)
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
