//! [`SparseHistogram`]: the per-second latency of the timeline, kept as sorted
//! `(bucket index, count)` pairs in exactly the bucket layout of [`LatencyHistogram`]
//! (1 ns–60 s, 3 significant digits). A second holds a few hundred occupied buckets
//! rather than the 27,648 counters (216 KiB) of a full histogram, merges exactly, and
//! answers quantiles with the same values HdrHistogram gives for the same samples.
//!
//! Encoding (base64 in JSON): a format byte, the precision shift, the number of pairs,
//! then per pair the index delta (shifted) and the count as LEB128 varints. Typical
//! seconds take 2–3 bytes per occupied bucket.
//!
//! A histogram may be *coarsened* by `shift` bits: sub-buckets are grouped `2^shift`
//! at a time (relative precision about `2^shift / 1024`, 0.1% at shift 0). Coarse
//! groups are unions of whole fine buckets, so coarsening is exact, and merging a fine
//! and a coarse histogram coarsens the fine one first: the result is exact at the
//! coarser precision. Workers only coarsen to fit a response limit, and say so.

use base64::Engine;

use super::{LatencyHistogram, HIGHEST_NS};
use crate::error::{Error, Result};

/// Sub-buckets in the lower half of each HdrHistogram bucket at 3 significant digits
/// (`2 * 10^3` rounded up to a power of two, halved).
const HALF_MAGNITUDE: u32 = 10;
/// `64 - log2(sub-bucket count)`: HdrHistogram's leading-zero base for unit 1.
const LEADING_ZERO_BASE: u32 = 64 - (HALF_MAGNITUDE + 1);
const SUB_BUCKET_MASK: u64 = (1 << (HALF_MAGNITUDE + 1)) - 1;
/// First byte of the encoding; HdrHistogram's V2 cookie starts with 0x1c, so the two
/// forms never mix up.
const FORMAT: u8 = 0x53;
/// Largest allowed coarsening (12.5% buckets).
pub const MAX_SHIFT: u8 = 7;

/// Index of `ns` (clamped to 60 s) in the [`LatencyHistogram`] layout.
#[inline]
pub fn index_of(ns: u64) -> u32 {
    let v = ns.min(HIGHEST_NS);
    let bucket = LEADING_ZERO_BASE - (v | SUB_BUCKET_MASK).leading_zeros();
    let sub = (v >> bucket) as u32;
    ((bucket + 1) << HALF_MAGNITUDE) + sub - (1 << HALF_MAGNITUDE)
}

/// Lowest value of the bucket at `index` and the number of values it spans.
#[inline]
fn bucket_range(index: u32) -> (u64, u64) {
    let mut bucket = (index >> HALF_MAGNITUDE) as i32 - 1;
    let mut sub = u64::from(index & ((1 << HALF_MAGNITUDE) - 1)) + (1 << HALF_MAGNITUDE);
    if bucket < 0 {
        sub -= 1 << HALF_MAGNITUDE;
        bucket = 0;
    }
    (sub << bucket, 1 << bucket)
}

/// Lowest value of the (fine) bucket at `index`.
#[inline]
pub fn value_of(index: u32) -> u64 {
    bucket_range(index).0
}

/// Latencies of one second as sorted `(bucket index, count)` pairs; see the module docs.
///
/// A histogram that merging has filled (most of the range between its lowest and
/// highest bucket occupied, as a second of 1,000 merged workers is) keeps its counts
/// in one run instead, so that adding another worker's second costs that second's
/// size, not the merged one's; the run never takes more memory than the pairs would.
#[derive(Debug, Clone, Default)]
pub struct SparseHistogram {
    shift: u8,
    /// The pairs, sorted by index; empty while `dense` holds the counts.
    buckets: Vec<(u32, u64)>,
    dense: Option<Dense>,
    total: u64,
}

/// Counts of consecutive groups of `1 << shift` indices from `first`.
#[derive(Debug, Clone)]
struct Dense {
    first: u32,
    counts: Vec<u64>,
}

impl Dense {
    /// Adds sorted pairs at precision `shift`, growing the run at either end.
    fn add(&mut self, pairs: impl Iterator<Item = (u32, u64)>, shift: u8) {
        for (i, n) in pairs {
            if i < self.first {
                let grow = ((self.first - i) >> shift) as usize;
                self.counts.splice(0..0, std::iter::repeat_n(0, grow));
                self.first = i;
            }
            let k = ((i - self.first) >> shift) as usize;
            if k >= self.counts.len() {
                self.counts.resize(k + 1, 0);
            }
            self.counts[k] += n;
        }
    }
}

/// Pairs that make a run of counts at most this many times longer are kept as a run.
const DENSE_SPAN_PER_PAIR: usize = 2;
/// Histograms with fewer pairs stay pairs (their merges are cheap anyway).
const DENSE_MIN_PAIRS: usize = 256;

impl PartialEq for SparseHistogram {
    /// The same samples at the same precision, however they are kept.
    fn eq(&self, other: &Self) -> bool {
        self.shift == other.shift && self.total == other.total && self.iter().eq(other.iter())
    }
}

impl Eq for SparseHistogram {}

impl SparseHistogram {
    /// An empty histogram at full precision.
    pub fn new() -> Self {
        Self::default()
    }

    /// The occupied buckets of `h`, exactly.
    pub fn from_histogram(h: &LatencyHistogram) -> Self {
        let mut out = Self::new();
        for v in h.inner().iter_recorded() {
            let n = v.count_at_value();
            out.buckets.push((index_of(v.value_iterated_to()), n));
            out.total += n;
        }
        out
    }

    /// From pairs already sorted by index with no duplicates (a recorder's output).
    pub(crate) fn from_sorted(buckets: Vec<(u32, u64)>) -> Self {
        debug_assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0));
        let total = buckets.iter().map(|b| b.1).sum();
        Self {
            shift: 0,
            buckets,
            dense: None,
            total,
        }
    }

    /// A full histogram with the same samples (exact at shift 0; at a coarser shift each
    /// group's samples sit at its lowest value).
    pub fn to_histogram(&self) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        for (i, n) in self.iter() {
            h.record_n(value_of(i), n);
        }
        h
    }

    /// Precision shift: 0 is full precision; see the module docs.
    pub fn shift(&self) -> u8 {
        self.shift
    }

    /// Occupied buckets: `(index, count)` in index order.
    pub fn buckets(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.iter()
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let shift = self.shift;
        let dense = self.dense.iter().flat_map(move |d| {
            d.counts
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(move |(k, &n)| (d.first + ((k as u32) << shift), n))
        });
        self.buckets.iter().copied().chain(dense)
    }

    /// Back to pairs (for coarsening).
    fn make_sparse(&mut self) {
        if self.dense.is_some() {
            let pairs: Vec<(u32, u64)> = self.iter().collect();
            self.dense = None;
            self.buckets = pairs;
        }
    }

    /// Keeps the counts as a run once the pairs fill enough of their range.
    fn maybe_densify(&mut self) {
        let (Some(&(first, _)), Some(&(last, _))) = (self.buckets.first(), self.buckets.last())
        else {
            return;
        };
        let span = ((last - first) >> self.shift) as usize + 1;
        if self.buckets.len() >= DENSE_MIN_PAIRS && span <= self.buckets.len() * DENSE_SPAN_PER_PAIR
        {
            let mut dense = Dense {
                first,
                counts: vec![0; span],
            };
            // Taken, not drained: the pairs' allocation goes with them.
            dense.add(std::mem::take(&mut self.buckets).into_iter(), self.shift);
            self.dense = Some(dense);
        }
    }

    /// Samples.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Groups sub-buckets `2^shift` at a time (no-op unless coarser than now).
    pub fn coarsen(&mut self, shift: u8) {
        let shift = shift.min(MAX_SHIFT);
        if shift <= self.shift {
            return;
        }
        self.make_sparse();
        self.shift = shift;
        let mask = !((1u32 << shift) - 1);
        let mut out: Vec<(u32, u64)> = Vec::with_capacity(self.buckets.len());
        for &(i, n) in &self.buckets {
            let i = i & mask;
            match out.last_mut() {
                Some(last) if last.0 == i => last.1 += n,
                _ => out.push((i, n)),
            }
        }
        self.buckets = out;
    }

    /// Adds every sample of `other` (exact, at the coarser of the two precisions).
    pub fn add(&mut self, other: &SparseHistogram) {
        if other.is_empty() {
            return;
        }
        let mut other = std::borrow::Cow::Borrowed(other);
        if other.shift > self.shift {
            self.coarsen(other.shift);
        } else if other.shift < self.shift {
            other.to_mut().coarsen(self.shift);
        }
        self.total += other.total;
        if let Some(dense) = &mut self.dense {
            dense.add(other.iter(), self.shift);
            return;
        }
        if self.buckets.is_empty() {
            self.buckets = other.iter().collect();
            return;
        }
        let other_pairs: Vec<(u32, u64)>;
        let b: &[(u32, u64)] = if other.dense.is_some() {
            other_pairs = other.iter().collect();
            &other_pairs
        } else {
            &other.buckets
        };
        let a = &self.buckets;
        let mut out = Vec::with_capacity(a.len().max(b.len()));
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => {
                    out.push(a[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(b[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push((a[i].0, a[i].1 + b[j].1));
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        self.buckets = out;
        self.maybe_densify();
    }

    /// Lowest value and span of the (possibly coarse) bucket at `index`.
    fn range(&self, index: u32) -> (u64, u64) {
        let (low, width) = bucket_range(index);
        // Bucket 0 (indices below 2048) has unit width and 2048 sub-buckets; groups
        // never cross a bucket boundary because every boundary is a multiple of 1024.
        (low, width << self.shift)
    }

    /// Value at quantile `q` (0..=1), in nanoseconds: the same value
    /// [`LatencyHistogram::quantile_ns`] gives for the same samples (at shift 0).
    pub fn quantile_ns(&self, q: f64) -> u64 {
        let q = q.min(1.0);
        let target = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.iter() {
            seen += n;
            if seen >= target {
                let (low, width) = self.range(i);
                return if q == 0.0 { low } else { low + width - 1 };
            }
        }
        0
    }

    /// Largest value (the top of the highest occupied bucket), as HdrHistogram's `max`.
    pub fn max_ns(&self) -> u64 {
        let last = match &self.dense {
            Some(d) => d
                .counts
                .iter()
                .rposition(|&n| n > 0)
                .map(|k| d.first + ((k as u32) << self.shift)),
            None => self.buckets.last().map(|&(i, _)| i),
        };
        last.map_or(0, |i| {
            let (low, width) = self.range(i);
            low + width - 1
        })
    }

    /// Mean, from each bucket's middle value (as HdrHistogram's `mean`).
    pub fn mean_ns(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.iter().fold(0.0, |acc, (i, n)| {
            let (low, width) = self.range(i);
            acc + (low + (width >> 1)) as f64 * n as f64 / self.total as f64
        })
    }

    /// The compact binary encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let pairs = self.iter().count();
        let mut out = Vec::with_capacity(4 + pairs * 3);
        out.push(FORMAT);
        out.push(self.shift);
        put_varint(&mut out, pairs as u64);
        let mut prev = 0u32;
        for (k, (i, n)) in self.iter().enumerate() {
            let delta = if k == 0 { i } else { i - prev - 1 };
            put_varint(&mut out, u64::from(delta >> self.shift));
            put_varint(&mut out, n);
            prev = i;
        }
        out
    }

    /// Decodes [`SparseHistogram::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| Error::Backend(format!("not a sparse histogram: {why}"));
        let (&format, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        if format != FORMAT {
            return Err(bad("unknown format byte"));
        }
        let (&shift, mut rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        if shift > MAX_SHIFT {
            return Err(bad("precision shift out of range"));
        }
        let len = take_varint(&mut rest).ok_or_else(|| bad("truncated"))?;
        let limit = u64::from(index_of(HIGHEST_NS)) + 1;
        if len > limit {
            return Err(bad("more buckets than the layout has"));
        }
        let mut buckets = Vec::with_capacity(len as usize);
        let mut total = 0u64;
        let mut next = 0u64;
        for _ in 0..len {
            let delta = take_varint(&mut rest).ok_or_else(|| bad("truncated"))?;
            let n = take_varint(&mut rest).ok_or_else(|| bad("truncated"))?;
            let i = next
                .checked_add(delta.checked_shl(u32::from(shift)).unwrap_or(u64::MAX))
                .filter(|&i| i < limit)
                .ok_or_else(|| bad("bucket index out of range"))?;
            buckets.push((i as u32, n));
            total = total.checked_add(n).ok_or_else(|| bad("count overflow"))?;
            next = i + (1 << shift);
        }
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(Self {
            shift,
            buckets,
            dense: None,
            total,
        })
    }

    /// Base64 of [`SparseHistogram::to_bytes`], as stored in results.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_bytes())
    }

    /// Decodes [`SparseHistogram::encode`]'s output, or a full histogram's V2 encoding
    /// (how results of schema version 1 stored the timeline).
    pub fn decode(text: &str) -> Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| Error::Backend(format!("histogram is not base64: {e}")))?;
        if bytes.first() == Some(&FORMAT) {
            Self::from_bytes(&bytes)
        } else {
            Ok(Self::from_histogram(&LatencyHistogram::from_v2_bytes(
                &bytes,
            )?))
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl serde::Serialize for SparseHistogram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> serde::Deserialize<'de> for SparseHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::decode(&s).map_err(serde::de::Error::custom)
    }
}

/// Per-second latency recorder of one task: counters for the [`LatencyHistogram`]
/// layout in pages of 1,024, allocated only for the ranges latencies fall in (a few
/// pages, 8 KiB each, instead of one 216 KiB histogram per operation kind and task).
#[derive(Debug, Default)]
pub struct SecondRecorder {
    pages: Vec<Option<Box<[u64; 1 << HALF_MAGNITUDE]>>>,
    total: u64,
}

impl SecondRecorder {
    /// Records one latency in nanoseconds (clamped to 60 s).
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        let i = index_of(ns) as usize;
        let page = i >> HALF_MAGNITUDE;
        if page >= self.pages.len() {
            self.pages.resize_with(page + 1, || None);
        }
        let counts = self.pages[page].get_or_insert_with(|| Box::new([0; 1 << HALF_MAGNITUDE]));
        counts[i & ((1 << HALF_MAGNITUDE) - 1)] += 1;
        self.total += 1;
    }

    /// Samples since the last take.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded since the last take.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The recorded samples as a sparse histogram, adding them into `totals` too;
    /// clears the counters and keeps the pages.
    pub fn take_into(&mut self, totals: &mut LatencyHistogram) -> SparseHistogram {
        let mut buckets = Vec::new();
        if self.total > 0 {
            for (p, page) in self.pages.iter_mut().enumerate() {
                let Some(counts) = page else { continue };
                for (k, c) in counts.iter_mut().enumerate() {
                    if *c > 0 {
                        let i = ((p << HALF_MAGNITUDE) + k) as u32;
                        totals.record_n(value_of(i), *c);
                        buckets.push((i, *c));
                        *c = 0;
                    }
                }
            }
        }
        self.total = 0;
        SparseHistogram::from_sorted(buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_hdrhistogram_everywhere() {
        let h = LatencyHistogram::new();
        let h = h.inner();
        let mut v = 0u64;
        let mut last = None;
        while v <= HIGHEST_NS {
            let i = index_of(v);
            assert_eq!(value_of(i), h.lowest_equivalent(v), "value {v}");
            assert_eq!(bucket_range(i).1, h.equivalent_range(v), "value {v}");
            if let Some(l) = last {
                assert_eq!(i, l + 1, "value {v}");
            }
            last = Some(i);
            v = h.next_non_equivalent(v);
        }
    }

    #[test]
    fn round_trips_and_answers_like_hdrhistogram() {
        let mut full = LatencyHistogram::new();
        let mut rec = SecondRecorder::default();
        let mut x = 7u64;
        for _ in 0..5_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = (x >> 20) % 5_000_000_000;
            full.record_ns(v);
            rec.record_ns(v);
        }
        let mut totals = LatencyHistogram::new();
        let s = rec.take_into(&mut totals);
        assert_eq!(totals, full);
        assert_eq!(s, SparseHistogram::from_histogram(&full));
        assert_eq!(s.to_histogram(), full);
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(s.quantile_ns(q), full.quantile_ns(q), "q={q}");
        }
        assert_eq!(s.max_ns(), full.summary().max_ns);
        assert!((s.mean_ns() - full.summary().mean_ns).abs() < 1e-6 * s.mean_ns());
        assert_eq!(SparseHistogram::decode(&s.encode()).unwrap(), s);
        assert_eq!(SparseHistogram::decode(&full.encode()).unwrap(), s);
        assert!(rec.is_empty());
        assert!(SparseHistogram::decode("U3Q=").is_err());
    }

    #[test]
    fn merges_that_fill_the_range_stay_exact_as_a_run() {
        // 300 seconds of 50 samples each, over two decades: the merge fills its range
        // and turns into a run; every answer stays that of one histogram of all samples.
        let mut all = LatencyHistogram::new();
        let mut merged = SparseHistogram::new();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for second in 0..300 {
            let mut h = LatencyHistogram::new();
            for _ in 0..50 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let ns = 1_000_000 + x % 99_000_000 + second;
                h.record_ns(ns);
                all.record_ns(ns);
            }
            merged.add(&SparseHistogram::from_histogram(&h));
        }
        assert!(merged.dense.is_some(), "a filled merge is kept as a run");
        let truth = SparseHistogram::from_histogram(&all);
        assert!(truth.dense.is_none());
        assert_eq!(merged, truth);
        assert_eq!(merged.encode(), truth.encode());
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(merged.quantile_ns(q), all.quantile_ns(q), "q {q}");
        }
        assert_eq!(merged.max_ns(), all.inner().max());
        assert_eq!(merged.mean_ns(), truth.mean_ns());
        // Samples below and above the run grow it; coarsening goes back to pairs.
        let edges = SparseHistogram::from_histogram(&{
            let mut h = LatencyHistogram::new();
            h.record_ns(10);
            h.record_ns(50_000_000_000);
            all.record_ns(10);
            all.record_ns(50_000_000_000);
            h
        });
        merged.add(&edges);
        assert_eq!(merged, SparseHistogram::from_histogram(&all));
        let mut coarse_truth = SparseHistogram::from_histogram(&all);
        coarse_truth.coarsen(4);
        merged.coarsen(4);
        assert_eq!(merged, coarse_truth);
    }

    #[test]
    fn coarsening_is_exact_and_merges_at_the_coarser_precision() {
        let mut a = SparseHistogram::from_sorted(vec![(5_000, 2), (5_001, 3), (9_000, 1)]);
        let b = SparseHistogram::from_sorted(vec![(5_003, 4)]);
        a.coarsen(3);
        assert_eq!(
            a.buckets().collect::<Vec<_>>(),
            [(5_000, 9 - 4), (9_000, 1)]
        );
        a.add(&b);
        assert_eq!(a.buckets().collect::<Vec<_>>(), [(5_000, 9), (9_000, 1)]);
        assert_eq!(a.len(), 10);
        let back = SparseHistogram::decode(&a.encode()).unwrap();
        assert_eq!(back, a);
        // The top of a coarse group is the top of its last fine bucket.
        assert_eq!(a.quantile_ns(0.5), value_of(5_008) - 1);
    }
}
