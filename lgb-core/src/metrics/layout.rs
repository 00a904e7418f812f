//! The bucket layout every latency histogram of lgb shares: HdrHistogram's for values
//! from 1 ns to 60 s at 3 significant digits (27,389 counters), addressed by index.
//! [`LatencyHistogram`](super::LatencyHistogram) keeps its counters in pages of this
//! layout and [`SparseHistogram`](super::SparseHistogram) keeps the occupied ones as
//! pairs, so both merge exactly and answer with the values HdrHistogram gives.
//!
//! Statistics are computed here from `(index, count)` pairs in index order, with the
//! same arithmetic (and floating-point order) as the `hdrhistogram` crate.

/// Highest latency tracked exactly: 60 s. Slower operations are recorded as 60 s.
pub const HIGHEST_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept: 3, so any value is within 0.1% of the truth.
pub const SIGFIG: u8 = 3;

/// Sub-buckets in the lower half of each HdrHistogram bucket at 3 significant digits
/// (`2 * 10^3` rounded up to a power of two, halved).
pub(crate) const HALF_MAGNITUDE: u32 = 10;
/// `64 - log2(sub-bucket count)`: HdrHistogram's leading-zero base for unit 1.
const LEADING_ZERO_BASE: u32 = 64 - (HALF_MAGNITUDE + 1);
const SUB_BUCKET_MASK: u64 = (1 << (HALF_MAGNITUDE + 1)) - 1;
/// Counters in the layout (indices `0..COUNTERS`).
pub(crate) const COUNTERS: usize = index_of(HIGHEST_NS) as usize + 1;

/// Index of `ns` (clamped to 60 s) in the layout.
#[inline]
pub const fn index_of(ns: u64) -> u32 {
    let v = if ns < HIGHEST_NS { ns } else { HIGHEST_NS };
    let bucket = LEADING_ZERO_BASE - (v | SUB_BUCKET_MASK).leading_zeros();
    let sub = (v >> bucket) as u32;
    ((bucket + 1) << HALF_MAGNITUDE) + sub - (1 << HALF_MAGNITUDE)
}

/// Lowest value of the bucket at `index` and the number of values it spans.
#[inline]
pub(crate) fn bucket_range(index: u32) -> (u64, u64) {
    let mut bucket = (index >> HALF_MAGNITUDE) as i32 - 1;
    let mut sub = u64::from(index & ((1 << HALF_MAGNITUDE) - 1)) + (1 << HALF_MAGNITUDE);
    if bucket < 0 {
        sub -= 1 << HALF_MAGNITUDE;
        bucket = 0;
    }
    (sub << bucket, 1 << bucket)
}

/// Lowest value of the bucket at `index`.
#[inline]
pub fn value_of(index: u32) -> u64 {
    bucket_range(index).0
}

/// Lowest value and span of the bucket at `index` grouped `2^shift` sub-buckets at a
/// time (shift 0: the layout's own bucket). Bucket 0 (indices below 2048) has unit
/// width; groups never cross a bucket boundary because every boundary is a multiple
/// of 1024.
#[inline]
pub(crate) fn range(index: u32, shift: u8) -> (u64, u64) {
    let (low, width) = bucket_range(index);
    (low, width << shift)
}

/// Value at quantile `q` (0..=1) of the pairs `buckets` holding `total` samples, as
/// HdrHistogram's `value_at_quantile`: the top of the bucket where the cumulative count
/// reaches `ceil(q * total)` (its bottom for `q == 0`).
pub(crate) fn quantile(
    buckets: impl Iterator<Item = (u32, u64)>,
    total: u64,
    shift: u8,
    q: f64,
) -> u64 {
    let q = q.min(1.0);
    let target = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0u64;
    for (i, n) in buckets {
        // Saturating: merged counts from anywhere may sum past `u64::MAX`.
        seen = seen.saturating_add(n);
        if seen >= target {
            let (low, width) = range(i, shift);
            return if q == 0.0 { low } else { low + width - 1 };
        }
    }
    0
}

/// Values at the ascending quantiles `qs`, each as [`quantile`] gives it, in one walk.
pub(crate) fn quantiles<const N: usize>(
    buckets: impl Iterator<Item = (u32, u64)>,
    total: u64,
    shift: u8,
    qs: [f64; N],
) -> [u64; N] {
    debug_assert!(
        qs.windows(2).all(|w| w[0] <= w[1]),
        "quantiles out of order"
    );
    let targets = qs.map(|q| ((q.min(1.0) * total as f64).ceil() as u64).max(1));
    let mut out = [0; N];
    let (mut k, mut seen) = (0, 0u64);
    for (i, n) in buckets {
        seen = seen.saturating_add(n);
        while k < N && seen >= targets[k] {
            let (low, width) = range(i, shift);
            out[k] = if qs[k] == 0.0 { low } else { low + width - 1 };
            k += 1;
        }
        if k == N {
            break;
        }
    }
    out
}

/// The middle value of a bucket, as HdrHistogram's `median_equivalent`.
#[inline]
fn middle(index: u32, shift: u8) -> u64 {
    let (low, width) = range(index, shift);
    low + (width >> 1)
}

/// Mean over the buckets' middle values, as HdrHistogram's `mean`.
pub(crate) fn mean(buckets: impl Iterator<Item = (u32, u64)>, total: u64, shift: u8) -> f64 {
    if total == 0 {
        return 0.0;
    }
    buckets.fold(0.0, |acc, (i, n)| {
        acc + middle(i, shift) as f64 * n as f64 / total as f64
    })
}

/// Standard deviation around `mean`, as HdrHistogram's `stdev`.
pub(crate) fn stdev(
    buckets: impl Iterator<Item = (u32, u64)>,
    total: u64,
    shift: u8,
    mean: f64,
) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let sum = buckets.fold(0.0, |acc, (i, n)| {
        let dev = middle(i, shift) as f64 - mean;
        acc + (dev * dev) * n as f64
    });
    (sum / total as f64).sqrt()
}

/// Top of the bucket at `index`, as HdrHistogram's `max` for a histogram whose highest
/// sample fell in it.
#[inline]
pub(crate) fn top(index: u32, shift: u8) -> u64 {
    let (low, width) = range(index, shift);
    low + width - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    #[test]
    fn layout_matches_hdrhistogram_everywhere() {
        let h = Histogram::<u64>::new_with_bounds(1, HIGHEST_NS, SIGFIG).unwrap();
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
        // The layout ends at 60 s's bucket; HdrHistogram rounds its array up to whole
        // buckets (27,648), whose tail above 60 s no clamped value reaches.
        assert_eq!(last, Some(COUNTERS as u32 - 1));
        assert!(COUNTERS <= h.distinct_values());
    }
}
