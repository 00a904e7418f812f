//! [`SparseHistogram`]: the per-second latency of the timeline, kept as sorted
//! `(bucket index, count)` pairs in exactly the bucket layout of [`LatencyHistogram`]
//! (1 ns–60 s, 3 significant digits). A second holds a few hundred occupied buckets
//! (2–3 bytes each while it is only kept) rather than the 2 KiB pages of counters of a
//! full histogram, merges exactly, and answers quantiles with the same values
//! HdrHistogram gives for the same samples.
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

use super::layout::{self, HIGHEST_NS};
use super::varint;
use super::LatencyHistogram;
use crate::error::{Error, Result};

pub use super::layout::{index_of, value_of};

/// First byte of the encoding; HdrHistogram's V2 cookie starts with 0x1c, so the two
/// forms never mix up.
const FORMAT: u8 = 0x53;
/// Largest allowed coarsening (12.5% buckets).
pub const MAX_SHIFT: u8 = 7;

/// Latencies of one second as sorted `(bucket index, count)` pairs; see the module docs.
///
/// A histogram that is only kept (a worker's second, or one just decoded) sits in
/// memory in its encoded form, 2–3 bytes per occupied bucket, and is iterated from it.
/// Merging turns it into pairs; a merge that fills its range (most of the range
/// between its lowest and highest bucket occupied, as a second of 1,000 merged
/// workers is) keeps its counts in one run instead, so that adding another worker's
/// second costs that second's size, not the merged one's; the run never takes more
/// memory than the pairs would.
#[derive(Debug, Clone, Default)]
pub struct SparseHistogram {
    shift: u8,
    store: Store,
    total: u64,
}

#[derive(Debug, Clone)]
enum Store {
    /// `len` pairs as the encoding writes them: index gap (shifted), count, as varints;
    /// `last` is the highest index (meaningless when `len` is 0).
    Packed {
        bytes: Box<[u8]>,
        len: u32,
        last: u32,
    },
    /// Sorted pairs.
    Pairs(Vec<(u32, u64)>),
    /// A run of counts.
    Dense(Dense),
}

impl Default for Store {
    fn default() -> Self {
        Store::Pairs(Vec::new())
    }
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
            self.counts[k] = self.counts[k].saturating_add(n);
        }
    }
}

/// Pairs that make a run of counts at most this many times longer are kept as a run.
const DENSE_SPAN_PER_PAIR: usize = 2;
/// Histograms with fewer pairs stay pairs (their merges are cheap anyway).
const DENSE_MIN_PAIRS: usize = 256;

/// The occupied buckets of a [`SparseHistogram`], in index order.
pub struct Buckets<'a>(BucketsInner<'a>);

enum BucketsInner<'a> {
    Packed {
        bytes: &'a [u8],
        left: u32,
        next: u64,
        shift: u8,
    },
    Pairs(std::slice::Iter<'a, (u32, u64)>),
    Dense {
        first: u32,
        counts: std::iter::Enumerate<std::slice::Iter<'a, u64>>,
        shift: u8,
    },
}

impl Iterator for Buckets<'_> {
    type Item = (u32, u64);

    #[inline]
    fn next(&mut self) -> Option<(u32, u64)> {
        match &mut self.0 {
            BucketsInner::Packed {
                bytes,
                left,
                next,
                shift,
            } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                // Checked when the bytes were taken in; a short read ends the walk.
                let delta = varint::take(bytes)?;
                let n = varint::take(bytes)?;
                let i = *next + (delta << *shift);
                *next = i + (1 << *shift);
                Some((i as u32, n))
            }
            BucketsInner::Pairs(it) => it.next().copied(),
            BucketsInner::Dense {
                first,
                counts,
                shift,
            } => counts
                .find(|(_, &n)| n > 0)
                .map(|(k, &n)| (*first + ((k as u32) << *shift), n)),
        }
    }
}

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
        Self::from_sorted(h.buckets())
    }

    /// From pairs sorted by index with no duplicates (a recorder's output), kept packed.
    pub(crate) fn from_sorted(buckets: impl Iterator<Item = (u32, u64)>) -> Self {
        let mut bytes = Vec::new();
        let (mut len, mut total, mut next) = (0u32, 0u64, 0u32);
        for (i, n) in buckets {
            debug_assert!(len == 0 || i >= next, "pairs out of order");
            varint::put(&mut bytes, u64::from(i.saturating_sub(next)));
            varint::put(&mut bytes, n);
            next = i.saturating_add(1);
            len = len.saturating_add(1);
            // Counts decoded from a file may sum past u64 (four counts of 2^62).
            total = total.saturating_add(n);
        }
        Self {
            shift: 0,
            store: Store::Packed {
                bytes: bytes.into_boxed_slice(),
                len,
                last: next.saturating_sub(1),
            },
            total,
        }
    }

    /// A full histogram with the same samples (exact at shift 0; at a coarser shift each
    /// group's samples sit at its lowest value).
    pub fn to_histogram(&self) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        for (i, n) in self.iter() {
            h.add_at(i, n);
        }
        h
    }

    /// Precision shift: 0 is full precision; see the module docs.
    pub fn shift(&self) -> u8 {
        self.shift
    }

    /// Occupied buckets: `(index, count)` in index order.
    pub fn buckets(&self) -> Buckets<'_> {
        self.iter()
    }

    fn iter(&self) -> Buckets<'_> {
        Buckets(match &self.store {
            Store::Packed { bytes, len, .. } => BucketsInner::Packed {
                bytes,
                left: *len,
                next: 0,
                shift: self.shift,
            },
            Store::Pairs(p) => BucketsInner::Pairs(p.iter()),
            Store::Dense(d) => BucketsInner::Dense {
                first: d.first,
                counts: d.counts.iter().enumerate(),
                shift: self.shift,
            },
        })
    }

    /// Occupied buckets.
    fn pairs_len(&self) -> usize {
        match &self.store {
            Store::Packed { len, .. } => *len as usize,
            Store::Pairs(p) => p.len(),
            Store::Dense(_) => self.iter().count(),
        }
    }

    /// The pairs, unpacking or leaving the run if needed.
    fn pairs_mut(&mut self) -> &mut Vec<(u32, u64)> {
        if !matches!(self.store, Store::Pairs(_)) {
            let pairs = self.iter().collect();
            self.store = Store::Pairs(pairs);
        }
        match &mut self.store {
            Store::Pairs(p) => p,
            _ => unreachable!("just made pairs"),
        }
    }

    /// Keeps the counts as a run once the pairs fill enough of their range.
    fn maybe_densify(&mut self) {
        let Store::Pairs(pairs) = &mut self.store else {
            return;
        };
        let (Some(&(first, _)), Some(&(last, _))) = (pairs.first(), pairs.last()) else {
            return;
        };
        let span = ((last - first) >> self.shift) as usize + 1;
        if pairs.len() >= DENSE_MIN_PAIRS && span <= pairs.len() * DENSE_SPAN_PER_PAIR {
            let mut dense = Dense {
                first,
                counts: vec![0; span],
            };
            // Taken, not drained: the pairs' allocation goes with them.
            dense.add(std::mem::take(pairs).into_iter(), self.shift);
            self.store = Store::Dense(dense);
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
        let mask = !((1u32 << shift) - 1);
        let mut out: Vec<(u32, u64)> = Vec::with_capacity(self.pairs_len());
        for (i, n) in self.iter() {
            let i = i & mask;
            match out.last_mut() {
                Some(last) if last.0 == i => last.1 = last.1.saturating_add(n),
                _ => out.push((i, n)),
            }
        }
        self.shift = shift;
        self.store = Store::Pairs(out);
    }

    /// Adds every sample of `other` (exact, at the coarser of the two precisions).
    /// Counts saturate at `u64::MAX` (decoded histograms may carry any counts).
    pub fn add(&mut self, other: &SparseHistogram) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() && self.shift <= other.shift {
            *self = other.clone();
            return;
        }
        let mut other = std::borrow::Cow::Borrowed(other);
        if other.shift > self.shift {
            self.coarsen(other.shift);
        } else if other.shift < self.shift {
            other.to_mut().coarsen(self.shift);
        }
        self.total = self.total.saturating_add(other.total);
        let shift = self.shift;
        if let Store::Dense(dense) = &mut self.store {
            dense.add(other.iter(), shift);
            return;
        }
        let a = std::mem::take(self.pairs_mut());
        let mut out = Vec::with_capacity(a.len().max(other.pairs_len()));
        let mut b = other.iter().peekable();
        let mut a = a.into_iter().peekable();
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.0.cmp(&y.0) {
                    std::cmp::Ordering::Less => a.next(),
                    std::cmp::Ordering::Greater => b.next(),
                    std::cmp::Ordering::Equal => {
                        let (i, n) = a.next().expect("peeked");
                        let (_, m) = b.next().expect("peeked");
                        Some((i, n.saturating_add(m)))
                    }
                },
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            out.extend(next);
        }
        self.store = Store::Pairs(out);
        self.maybe_densify();
    }

    /// Lowest and highest occupied index.
    fn bounds(&self) -> Option<(u32, u32)> {
        if self.is_empty() {
            return None;
        }
        match &self.store {
            Store::Packed { last, .. } => Some((self.iter().next()?.0, *last)),
            Store::Pairs(p) => Some((p.first()?.0, p.last()?.0)),
            Store::Dense(d) => {
                let k = d.counts.iter().rposition(|&n| n > 0)?;
                Some((self.iter().next()?.0, d.first + ((k as u32) << self.shift)))
            }
        }
    }

    /// Adds every sample of `others`, as [`SparseHistogram::add`] of each in turn, but
    /// when together they would fill their range (by the same rule as one merge) the
    /// counts go into one run at once instead of through a merge of pairs per histogram.
    pub fn add_many(&mut self, others: &[&SparseHistogram]) {
        let same_shift = others.iter().all(|o| o.shift == self.shift || o.is_empty());
        if others.len() < 2 || !same_shift {
            for o in others {
                self.add(o);
            }
            return;
        }
        let mut bounds = others
            .iter()
            .filter_map(|o| o.bounds())
            .chain(self.bounds());
        let Some(first) = bounds.next() else { return };
        let (lo, hi) = bounds.fold(first, |(lo, hi), (l, h)| (lo.min(l), hi.max(h)));
        let span = ((hi - lo) >> self.shift) as usize + 1;
        let mut dense = match std::mem::take(&mut self.store) {
            Store::Dense(d) => d,
            store => {
                self.store = store;
                let pairs = self.pairs_len() + others.iter().map(|o| o.pairs_len()).sum::<usize>();
                if pairs < DENSE_MIN_PAIRS || span > pairs * DENSE_SPAN_PER_PAIR {
                    for o in others {
                        self.add(o);
                    }
                    return;
                }
                let mut d = Dense {
                    first: lo,
                    counts: Vec::with_capacity(span),
                };
                d.add(self.iter(), self.shift);
                d
            }
        };
        // Grown once to the whole range, so that no add below grows it.
        dense.add([(lo, 0), (hi, 0)].into_iter(), self.shift);
        let (first, shift) = (dense.first, self.shift);
        // An empty histogram has no bounds above; a decoded one may still list pairs
        // (of count 0) outside the range, so it is skipped, not indexed.
        for o in others.iter().filter(|o| !o.is_empty()) {
            for (i, n) in o.iter() {
                let c = &mut dense.counts[((i - first) >> shift) as usize];
                *c = c.saturating_add(n);
            }
        }
        self.total = others
            .iter()
            .fold(self.total, |t, o| t.saturating_add(o.total));
        self.store = Store::Dense(dense);
    }

    /// Value at quantile `q` (0..=1), in nanoseconds: the same value
    /// [`LatencyHistogram::quantile_ns`] gives for the same samples (at shift 0).
    pub fn quantile_ns(&self, q: f64) -> u64 {
        layout::quantile(self.iter(), self.total, self.shift, q)
    }

    /// Values at the ascending quantiles `qs`, each as [`SparseHistogram::quantile_ns`]
    /// gives it, in one walk over the buckets.
    pub fn quantiles_ns<const N: usize>(&self, qs: [f64; N]) -> [u64; N] {
        layout::quantiles(self.iter(), self.total, self.shift, qs)
    }

    /// Largest value (the top of the highest occupied bucket), as HdrHistogram's `max`.
    pub fn max_ns(&self) -> u64 {
        let last = match &self.store {
            Store::Dense(d) => d
                .counts
                .iter()
                .rposition(|&n| n > 0)
                .map(|k| d.first + ((k as u32) << self.shift)),
            Store::Pairs(p) => p.last().map(|&(i, _)| i),
            Store::Packed { len: 0, .. } => None,
            Store::Packed { last, .. } => Some(*last),
        };
        last.map_or(0, |i| layout::top(i, self.shift))
    }

    /// Mean, from each bucket's middle value (as HdrHistogram's `mean`).
    pub fn mean_ns(&self) -> f64 {
        layout::mean(self.iter(), self.total, self.shift)
    }

    /// Bytes this histogram keeps its buckets in (to size a worker's memory).
    pub fn allocated_bytes(&self) -> usize {
        match &self.store {
            Store::Packed { bytes, .. } => bytes.len(),
            Store::Pairs(p) => p.capacity() * std::mem::size_of::<(u32, u64)>(),
            Store::Dense(d) => d.counts.capacity() * 8,
        }
    }

    /// The compact binary encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.pairs_len() * 3);
        out.push(FORMAT);
        out.push(self.shift);
        varint::put(&mut out, self.pairs_len() as u64);
        if let Store::Packed { bytes, .. } = &self.store {
            out.extend_from_slice(bytes);
            return out;
        }
        let mut next = 0u32;
        for (i, n) in self.iter() {
            varint::put(&mut out, u64::from((i - next) >> self.shift));
            varint::put(&mut out, n);
            next = i + (1 << self.shift);
        }
        out
    }

    /// Decodes [`SparseHistogram::to_bytes`], checking every pair; the histogram keeps
    /// the bytes.
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
        let len = varint::take(&mut rest).ok_or_else(|| bad("truncated"))?;
        let limit = u64::from(index_of(HIGHEST_NS)) + 1;
        if len > limit {
            return Err(bad("more buckets than the layout has"));
        }
        let pairs = rest;
        let mut total = 0u64;
        let mut next = 0u64;
        for _ in 0..len {
            let delta = varint::take(&mut rest).ok_or_else(|| bad("truncated"))?;
            let n = varint::take(&mut rest).ok_or_else(|| bad("truncated"))?;
            let i = next
                .checked_add(delta.checked_shl(u32::from(shift)).unwrap_or(u64::MAX))
                .filter(|&i| i < limit)
                .ok_or_else(|| bad("bucket index out of range"))?;
            // Saturating, as merges are: a merged histogram whose counts saturated is
            // written with them, and reads back.
            total = total.saturating_add(n);
            next = i + (1 << shift);
        }
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(Self {
            shift,
            store: Store::Packed {
                bytes: pairs.into(),
                len: len as u32,
                last: next.saturating_sub(1 << shift) as u32,
            },
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

/// Per-second latency recorder of one task: a [`LatencyHistogram`] (pages allocated
/// only where latencies fall) emptied into a sparse histogram at each second's end.
#[derive(Debug, Default)]
pub struct SecondRecorder(LatencyHistogram);

impl SecondRecorder {
    /// Records one latency in nanoseconds (clamped to 60 s).
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.0.record_ns(ns);
    }

    /// Samples since the last take.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether nothing was recorded since the last take.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded samples as a sparse histogram, adding them into `totals` too;
    /// clears the counters and keeps the pages.
    pub fn take_into(&mut self, totals: &mut LatencyHistogram) -> SparseHistogram {
        if self.0.is_empty() {
            return SparseHistogram::new();
        }
        totals.add(&self.0);
        let second = SparseHistogram::from_sorted(self.0.buckets());
        self.0.reset();
        second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let qs = [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0];
        for q in qs {
            assert_eq!(s.quantile_ns(q), full.quantile_ns(q), "q={q}");
        }
        assert_eq!(s.quantiles_ns(qs), qs.map(|q| full.quantile_ns(q)));
        assert_eq!(s.max_ns(), full.summary().max_ns);
        assert_eq!(s.mean_ns().to_bits(), full.summary().mean_ns.to_bits());
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
        assert!(
            matches!(merged.store, Store::Dense(_)),
            "a filled merge is kept as a run"
        );
        let truth = SparseHistogram::from_histogram(&all);
        assert!(matches!(truth.store, Store::Packed { .. }));
        assert_eq!(merged, truth);
        assert_eq!(merged.encode(), truth.encode());
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(merged.quantile_ns(q), all.quantile_ns(q), "q {q}");
        }
        assert_eq!(merged.max_ns(), all.summary().max_ns);
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
    fn adding_many_at_once_equals_adding_one_by_one() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut second = |n: usize, spread: u64| {
            let mut h = LatencyHistogram::new();
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                h.record_ns(1_000 + x % spread);
            }
            SparseHistogram::from_histogram(&h)
        };
        // Few pairs (stays pairs), many over a narrow range (becomes a run), and a
        // target that already is a run; a coarse one falls back to one by one.
        let cases: Vec<(SparseHistogram, Vec<SparseHistogram>)> = vec![
            (
                second(3, 1_000_000),
                (0..3).map(|_| second(5, 1_000_000)).collect(),
            ),
            (
                second(50, 5_000),
                (0..40).map(|_| second(200, 5_000)).collect(),
            ),
            (
                SparseHistogram::new(),
                (0..64).map(|_| second(300, 3_000)).collect(),
            ),
            (second(100, 10_000_000), {
                let mut v: Vec<_> = (0..5).map(|_| second(100, 10_000_000)).collect();
                v[2].coarsen(3);
                v
            }),
        ];
        for (k, (start, others)) in cases.into_iter().enumerate() {
            let mut one_by_one = start.clone();
            for o in &others {
                one_by_one.add(o);
            }
            let mut at_once = start.clone();
            at_once.add_many(&others.iter().collect::<Vec<_>>());
            assert_eq!(at_once, one_by_one, "case {k}");
            assert_eq!(at_once.encode(), one_by_one.encode(), "case {k}");
            // A run keeps taking more, one by one or many at once.
            let more = second(100, 5_000);
            at_once.add_many(&[&more, &more]);
            one_by_one.add(&more);
            one_by_one.add(&more);
            assert_eq!(at_once, one_by_one, "case {k}, added to");
        }
    }

    #[test]
    fn coarsening_is_exact_and_merges_at_the_coarser_precision() {
        let mut a = SparseHistogram::from_sorted([(5_000, 2), (5_001, 3), (9_000, 1)].into_iter());
        let b = SparseHistogram::from_sorted([(5_003, 4)].into_iter());
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

    /// The encoding of `pairs` (index gap, count) at `shift`, written by hand as a
    /// hostile worker or results file could.
    fn encoded(shift: u8, pairs: &[(u64, u64)]) -> Vec<u8> {
        let mut out = vec![FORMAT, shift];
        varint::put(&mut out, pairs.len() as u64);
        for &(gap, n) in pairs {
            varint::put(&mut out, gap);
            varint::put(&mut out, n);
        }
        out
    }

    #[test]
    fn counts_saturate_when_merged() {
        let huge = SparseHistogram::from_bytes(&encoded(0, &[(5_000, u64::MAX - 1)])).unwrap();
        let mut a = huge.clone();
        a.add(&huge);
        assert_eq!(a.len(), u64::MAX);
        assert_eq!(a.buckets().collect::<Vec<_>>(), [(5_000, u64::MAX)]);
        // Quantiles over saturated counts still answer.
        assert_eq!(a.quantile_ns(1.0), layout::top(5_000, 0));
        // Many at once, into a run: the same. A run of 300 buckets (1_000..1_300) and
        // a huge count in its last bucket, twice.
        let run: Vec<(u64, u64)> = std::iter::once((1_000, 1))
            .chain((1..300).map(|_| (0, 1)))
            .collect();
        let run = SparseHistogram::from_bytes(&encoded(0, &run)).unwrap();
        let top = SparseHistogram::from_bytes(&encoded(0, &[(1_299, u64::MAX - 1)])).unwrap();
        let mut b = run.clone();
        b.add_many(&[&run, &top, &top]);
        assert!(matches!(b.store, Store::Dense(_)));
        assert_eq!(b.len(), u64::MAX);
        assert_eq!(b.buckets().last(), Some((1_299, u64::MAX)));
        assert_eq!(b.buckets().next(), Some((1_000, 2)));
        // The walk to the top passes more than `u64::MAX` samples: it saturates too.
        assert_eq!(b.quantile_ns(1.0), layout::top(1_299, 0));
        assert_eq!(b.quantiles_ns([0.5, 1.0]), [layout::top(1_299, 0); 2]);
        assert_eq!(SparseHistogram::decode(&b.encode()).unwrap(), b);
        // Coarsening sums groups of saturated counts.
        b.coarsen(MAX_SHIFT);
        assert_eq!(b.buckets().last().map(|(_, n)| n), Some(u64::MAX));
        assert_eq!(SparseHistogram::decode(&b.encode()).unwrap(), b);
    }

    #[test]
    fn hostile_encodings_merge_without_panicking_or_are_refused() {
        // No samples, but a pair (of count 0) far below everything else.
        let hollow = SparseHistogram::from_bytes(&encoded(0, &[(5, 0)])).unwrap();
        assert!(hollow.is_empty());
        let run: Vec<(u64, u64)> = std::iter::once((1_000, 1))
            .chain((1..300).map(|_| (0, 1)))
            .collect();
        let run = SparseHistogram::from_bytes(&encoded(0, &run)).unwrap();
        let mut m = SparseHistogram::new();
        m.add_many(&[&run, &hollow, &run]);
        assert_eq!(m.len(), 600);
        assert_eq!(m.buckets().next(), Some((1_000, 2)));
        // Gaps count in coarse groups: a coarse histogram's groups start at multiples
        // of their size whatever the bytes say.
        let coarse = SparseHistogram::from_bytes(&encoded(3, &[(5, 1), (0, 1)])).unwrap();
        assert_eq!(coarse.buckets().collect::<Vec<_>>(), [(40, 1), (48, 1)]);
        // An index past the layout is refused; counts past `u64::MAX` in all saturate.
        assert!(SparseHistogram::from_bytes(&encoded(0, &[(u64::MAX, 1)])).is_err());
        let full = SparseHistogram::from_bytes(&encoded(0, &[(1, u64::MAX), (0, 1)])).unwrap();
        assert_eq!(full.len(), u64::MAX);
        // Its first bucket alone holds `u64::MAX` samples: every quantile is there.
        assert_eq!(full.quantile_ns(1.0), layout::top(1, 0));
    }
}
