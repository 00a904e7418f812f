//! The binary form of a [`Timeline`](super::Timeline): how a worker's per-second
//! histograms travel to the runner (base64 in the worker's JSON result) and how the
//! merged timeline sits in `result.json`. One string replaces a JSON object per second
//! and operation, each with a base64 histogram of its own.
//!
//! ```text
//! "LGBT" | version (1 byte, VERSION) | flags (1 byte; bit 0: the body is deflated,
//!          and a varint of its inflated length comes first) | body
//! body:  operations: a varint count, then each name as a varint length and UTF-8
//!        points: a varint count, then for each point, in order of second and name:
//!          second (varint: the first point's Unix second, then the gap to the last)
//!          operation (varint index into the names), ops, errors (varints)
//!          latency: precision shift (1 byte), kind (1 byte), then
//!            kind 0: sparse pairs (see `sparse`), kind 1: a run of counts,
//!            kind 2 (version 2): pairs in fixed-width streams (`take_split`)
//! ```
//!
//! A worker's seconds hold a few hundred samples over thousands of buckets and travel
//! as pairs, one or two bytes per occupied bucket: as varints (kind 0), or, where that
//! is no longer and every count fits a byte, as two bitmaps followed by one- or
//! two-byte gaps and one-byte counts (kind 2), which decodes without one varint's
//! length waiting on the one before. A merged second of many workers
//! fills its range and is written as a run of counts; a body with such runs (a merged
//! timeline in `result.json`) is deflated, which takes its counts to about half a byte
//! each. Decoding checks everything a hostile worker or an altered file could get
//! wrong (order, ranges, lengths, UTF-8) and refuses other versions by name.

use std::io::{Read, Write};

use super::sparse::SparseHistogram;
use super::timeline::{check_second, Wire, WirePoint};
use super::varint;
use crate::error::{Error, Result};

/// First bytes of the binary form.
const MAGIC: &[u8; 4] = b"LGBT";
/// Version of the binary form this lgb writes; it reads this one and version 1 (which
/// has no histograms of kind 2).
pub(crate) const VERSION: u8 = 2;
const DEFLATED: u8 = 1;
/// Bodies with runs of counts smaller than this are not worth deflating.
const DEFLATE_FROM: usize = 4096;
/// Largest inflated body read (a 14-minute test of 1,000 workers inflates to ~60 MB).
const MAX_INFLATED: u64 = 4 << 30;

fn bad(why: impl std::fmt::Display) -> Error {
    Error::Backend(format!("not a timeline in lgb's binary form: {why}"))
}

/// One point as the encoder takes it.
pub(crate) struct PointRef<'a> {
    pub second: i64,
    pub operation: &'a str,
    pub ops: u64,
    pub errors: u64,
    pub latency: &'a SparseHistogram,
}

/// Encodes `points` (in order of second, then operation).
pub(crate) fn encode<'a>(points: impl Iterator<Item = PointRef<'a>>) -> Vec<u8> {
    let points: Vec<PointRef<'a>> = points.collect();
    let mut names: Vec<&str> = points.iter().map(|p| p.operation).collect();
    names.sort_unstable();
    names.dedup();
    let mut body = Vec::with_capacity(64 + points.len() * 16);
    varint::put(&mut body, names.len() as u64);
    for n in &names {
        varint::put(&mut body, n.len() as u64);
        body.extend_from_slice(n.as_bytes());
    }
    varint::put(&mut body, points.len() as u64);
    let mut last = 0i64;
    let mut runs = false;
    for p in &points {
        // Points are in order: the gap is never negative (the first is a Unix second).
        varint::put(&mut body, p.second.abs_diff(last));
        last = p.second;
        let op = names.binary_search(&p.operation).unwrap_or(0);
        varint::put(&mut body, op as u64);
        varint::put(&mut body, p.ops);
        varint::put(&mut body, p.errors);
        runs |= p.latency.put_body(&mut body);
    }
    let mut out = Vec::with_capacity(body.len() / 2 + 16);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    if runs && body.len() >= DEFLATE_FROM {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        let deflated = z
            .write_all(&body)
            .and_then(|()| z.finish())
            .expect("deflating into memory cannot fail");
        if deflated.len() < body.len() {
            out.push(DEFLATED);
            varint::put(&mut out, body.len() as u64);
            out.extend_from_slice(&deflated);
            return out;
        }
    }
    out.push(0);
    out.extend_from_slice(&body);
    out
}

/// Decodes [`encode`]'s output, checking every field; the points' pairs share one
/// buffer.
pub(crate) fn decode(bytes: &[u8]) -> Result<Wire> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("no LGBT magic"))?;
    let (&version, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    if !(1..=VERSION).contains(&version) {
        return Err(bad(format!(
            "version {version}, and this lgb reads versions 1 to {VERSION} (results or \
             workers of a newer lgb: use the same version for the runner and the workers)"
        )));
    }
    let (&flags, mut rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    let inflated;
    let body: &[u8] = match flags {
        0 => rest,
        DEFLATED => {
            let len = varint::take(&mut rest).ok_or_else(|| bad("truncated"))?;
            if len > MAX_INFLATED {
                return Err(bad(format!(
                    "an inflated body of {len} bytes is over the limit"
                )));
            }
            // Deflate inflates at most ~1,032 times.
            let mut out = Vec::with_capacity(len.min(rest.len() as u64 * 1032) as usize);
            flate2::read::DeflateDecoder::new(rest)
                .take(len + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad(format!("bad deflated body: {e}")))?;
            if out.len() as u64 != len {
                return Err(bad("the deflated body's length differs from its header"));
            }
            inflated = out;
            &inflated
        }
        f => return Err(bad(format!("unknown flags {f:#04x}"))),
    };
    // Points whose pairs stay packed share a copy of the body, made when one needs it.
    let mut packed = None;
    let mut rest = body;
    let take = |rest: &mut &[u8]| varint::take(rest).ok_or_else(|| bad("truncated"));
    let n_ops = take(&mut rest)?;
    let mut operations = Vec::new();
    for _ in 0..n_ops {
        let len = take(&mut rest)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= rest.len())
            .ok_or_else(|| bad("truncated operation name"))?;
        let (name, tail) = rest.split_at(len);
        rest = tail;
        let name = std::str::from_utf8(name).map_err(|_| bad("operation name is not UTF-8"))?;
        operations.push(name.to_string());
    }
    let n_points = take(&mut rest)?;
    // Each point takes at least 6 bytes: not more room than the body could fill.
    let mut points = Vec::with_capacity(n_points.min(rest.len() as u64 / 6) as usize);
    // Where each point's pairs are unpacked before they are copied into their own.
    let mut scratch = Vec::new();
    let mut second = 0i64;
    for k in 0..n_points {
        let gap = take(&mut rest)?;
        second = i64::try_from(gap)
            .ok()
            .and_then(|g| second.checked_add(g))
            .ok_or_else(|| bad("second out of range"))?;
        check_second(second)?;
        let op = take(&mut rest)?;
        let name = usize::try_from(op)
            .ok()
            .and_then(|o| operations.get(o))
            .ok_or_else(|| bad("operation index out of range"))?;
        if k > 0 {
            let prev: &WirePoint = &points[points.len() - 1];
            let ordered = gap > 0 || operations[prev.op as usize].as_str() < name.as_str();
            if !ordered {
                return Err(bad("points out of order or repeated"));
            }
        }
        let ops = take(&mut rest)?;
        let errors = take(&mut rest)?;
        let latency = SparseHistogram::take_body(&mut rest, body, &mut packed, &mut scratch)?;
        points.push(WirePoint {
            second,
            op: u32::try_from(op).map_err(|_| bad("operation index out of range"))?,
            ops,
            errors,
            latency,
        });
    }
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(Wire { operations, points })
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::metrics::{LatencyHistogram, Timeline};

    const START: i64 = 1_700_000_000;

    /// A worker's timeline: `seconds` seconds of `ops` with 200 log-uniform latencies
    /// from 100 µs over `decades`; also adds every sample into `all`.
    fn worker(seed: u64, seconds: i64, ops: &[&str], all: &mut LatencyHistogram) -> Timeline {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut t = Timeline::default();
        for s in 0..seconds {
            for op in ops {
                let mut h = LatencyHistogram::new();
                for _ in 0..200 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let u = (x % 1_000_000) as f64 / 1e6;
                    let ns = (1e5 * 1e5_f64.powf(u)) as u64;
                    h.record_ns(ns);
                    all.record_ns(ns);
                }
                t.add(START + s, op, 200, 1, &SparseHistogram::from_histogram(&h))
                    .unwrap();
            }
        }
        t
    }

    #[test]
    fn worker_and_merged_timelines_round_trip_exactly() {
        let mut all = LatencyHistogram::new();
        let one = worker(1, 20, &["read", "update"], &mut all);
        let bytes = one.to_binary();
        assert_eq!(
            &bytes[..6],
            b"LGBT\x02\x00",
            "a worker's seconds are pairs, not deflated"
        );
        // About 1.5 bytes per occupied bucket (200 samples over ~17,000 buckets).
        let per_point = bytes.len() / one.len();
        assert!(
            per_point < 400,
            "{per_point} bytes per second and operation"
        );
        let back = Timeline::from_binary(&bytes).unwrap();
        assert_eq!(back, one);
        assert_eq!(back.len(), 40);
        // Read as they came, then as points: the same either way.
        assert_eq!(
            back.points().collect::<Vec<_>>(),
            one.points().collect::<Vec<_>>()
        );
        assert_eq!(back.to_binary(), bytes);

        // 100 workers merged: full seconds become runs, and the body is deflated.
        let mut workers = vec![back];
        workers.extend((2..=100).map(|w| worker(w, 20, &["read", "update"], &mut all)));
        let copies = workers.clone();
        let mut merged = Timeline::default();
        merged.merge_all(workers);
        let bytes = merged.to_binary();
        assert_eq!(&bytes[..6], b"LGBT\x02\x01", "merged runs are deflated");
        let back = Timeline::from_binary(&bytes).unwrap();
        assert_eq!(back, merged);
        // One by one, through the points, gives the same merge.
        let mut one_by_one = Timeline::default();
        for w in &copies {
            one_by_one.merge(w).unwrap();
        }
        assert_eq!(one_by_one, merged);
        // Every sample is in the merged seconds, exactly.
        let mut sum = LatencyHistogram::new();
        for p in back.points() {
            assert_eq!((p.ops, p.errors), (200 * 100, 100));
            sum.add(&p.latency.to_histogram());
        }
        assert_eq!(sum, all);
        let q = [0.0, 0.5, 0.99, 0.999, 1.0];
        let first = back.points().next().unwrap();
        let truth = merged.points().next().unwrap();
        assert_eq!(first.latency.quantiles_ns(q), truth.latency.quantiles_ns(q));
    }

    #[test]
    fn the_list_of_points_of_earlier_versions_still_loads() {
        // Schema version 2 (and workers before the binary form): one object per
        // point, its histogram in the gap-and-count format 0x53.
        let legacy = base64::engine::general_purpose::STANDARD.encode([0x53, 0, 2, 100, 1, 5, 3]);
        let json = format!(
            r#"[{{"second": {START}, "operation": "read", "ops": 4, "errors": 0, "latency": "{legacy}"}}]"#
        );
        let t: Timeline = serde_json::from_str(&json).unwrap();
        let p = t.points().next().unwrap();
        assert_eq!(
            p.latency.buckets().collect::<Vec<_>>(),
            [(100, 1), (106, 3)]
        );
        // Written again, it is the binary form, and reads back the same.
        let text = serde_json::to_string(&t).unwrap();
        assert!(text.starts_with("\"TEdCVAI"), "{text}");
        assert_eq!(serde_json::from_str::<Timeline>(&text).unwrap(), t);
    }

    #[test]
    fn other_versions_and_hostile_bytes_are_refused_by_name() {
        let mut all = LatencyHistogram::new();
        let good = worker(7, 3, &["a", "b"], &mut all).to_binary();
        let err = |bytes: &[u8]| Timeline::from_binary(bytes).unwrap_err().to_string();
        let mut newer = good.clone();
        newer[4] = 3;
        assert!(
            err(&newer).contains("version 3, and this lgb reads versions 1 to 2"),
            "{}",
            err(&newer)
        );
        let mut older = good.clone();
        older[4] = 0;
        assert!(err(&older).contains("version 0"), "{}", err(&older));
        assert!(err(b"LGB").contains("no LGBT magic"));
        let mut flags = good.clone();
        flags[5] = 0x80;
        assert!(err(&flags).contains("unknown flags"));
        for cut in [6, 7, 9, 20, good.len() - 1] {
            assert!(Timeline::from_binary(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(err(&trailing).contains("trailing bytes"));
        // Hand-made bodies: names, then points.
        let body = |points: &[u8]| {
            let mut b = b"LGBT\x01\x00\x02\x01a\x01b".to_vec();
            b.extend_from_slice(points);
            b
        };
        // Two points of the same second and operation.
        let one = [0x80, 0xe0, 0xa8, 0xab, 0x06, 0, 1, 0, 0, 0, 0];
        let mut twice = vec![2];
        twice.extend_from_slice(&one);
        twice.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0]);
        assert!(
            err(&body(&twice)).contains("out of order"),
            "{}",
            err(&body(&twice))
        );
        // An operation index past the names; a second past 9999.
        assert!(err(&body(&[1, 5, 2, 1, 0, 0, 0, 0])).contains("operation index"));
        let mut far = vec![1];
        varint::put(&mut far, 253_402_300_800);
        far.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
        assert!(err(&body(&far)).contains("not a Unix second"));
        // A run past the layout, or of nothing; a shift past the largest.
        assert!(
            err(&body(&[1, 5, 0, 1, 0, 0, 1, 0xff, 0xff, 0x03, 1, 1])).contains("run of counts")
        );
        assert!(err(&body(&[1, 5, 0, 1, 0, 0, 1, 10, 0])).contains("run of counts"));
        assert!(err(&body(&[1, 5, 0, 1, 0, 9, 0, 0])).contains("shift"));
        // A deflated body whose length lies, or that is not deflate at all.
        let mut lies = b"LGBT\x01\x01".to_vec();
        varint::put(&mut lies, 5);
        lies.extend_from_slice(&[0x03, 0x00]);
        assert!(err(&lies).contains("length differs"));
        let mut huge = b"LGBT\x01\x01".to_vec();
        varint::put(&mut huge, MAX_INFLATED + 1);
        assert!(err(&huge).contains("over the limit"));
        let mut junk = b"LGBT\x01\x01\x05".to_vec();
        junk.extend_from_slice(&[0xff; 8]);
        assert!(err(&junk).contains("deflated"));
    }

    #[test]
    fn a_fuzzed_timeline_with_a_count_over_255_round_trips_and_merges_the_same() {
        // A second whose one pair holds 9,811 samples stays packed among unpacked ones.
        let data: &[u8] = &[
            76, 71, 66, 84, 1, 0, 2, 4, 114, 101, 97, 100, 6, 117, 112, 100, 97, 116, 101, 3, 128,
            226, 207, 170, 6, 0, 3, 0, 0, 0, 2, 201, 1, 10, 2, 1, 0, 5, 1, 0, 0, 1, 4, 211, 76, 71,
            1, 0, 255, 1, 5, 0, 0,
        ];
        let t = Timeline::from_binary(data).unwrap();
        let folded = round_trips_and_merges_the_same(&t);
        for (p, q) in folded.points().zip(t.points()) {
            assert_eq!(p.latency.len(), q.latency.len().saturating_mul(2));
        }
        let second = t.points().nth(1).unwrap();
        assert_eq!(second.latency.buckets().collect::<Vec<_>>(), [(2, 9_811)]);
    }

    #[test]
    fn a_fuzzed_timeline_with_empty_pairs_round_trips_and_merges_the_same() {
        let data: &[u8] = &[
            76, 71, 66, 84, 1, 0, 2, 4, 114, 101, 97, 100, 6, 117, 112, 100, 97, 116, 101, 3, 226,
            129, 0, 0, 6, 207, 170, 4, 1, 0, 2, 201, 1, 2, 0, 7, 0, 5, 1, 0, 1, 128, 0, 3, 16, 1,
            1, 4, 0, 7, 0, 3, 0, 1, 81,
        ];
        let Ok(t) = Timeline::from_binary(data) else {
            return;
        };
        round_trips_and_merges_the_same(&t);
    }

    /// `t` encodes and decodes to itself, and `t` merged with its copy is the same
    /// folded in one batch as merged one by one: the folded timeline.
    fn round_trips_and_merges_the_same(t: &Timeline) -> Timeline {
        let back = Timeline::from_binary(&t.to_binary()).unwrap();
        assert_eq!(&back, t);
        let mut folded = Timeline::default();
        folded.merge_all(vec![t.clone(), back]);
        let mut one_by_one = t.clone();
        one_by_one.merge(t).unwrap();
        assert_eq!(folded, one_by_one);
        folded
    }
}
