//! [`SparseHistogram`]: the per-second latency of the timeline, kept as sorted
//! `(bucket index, count)` pairs in exactly the bucket layout of [`LatencyHistogram`]
//! (1 ns–60 s, 3 significant digits). A second holds a few hundred occupied buckets
//! (2–3 bytes each while it is only kept) rather than the 2 KiB pages of counters of a
//! full histogram, merges exactly, and answers quantiles with the same values
//! HdrHistogram gives for the same samples.
//!
//! Encoding (base64 in JSON): a format byte, the precision shift, the number of pairs,
//! then per pair one LEB128 varint of the index gap (shifted) times two, plus one when
//! the count is 1, followed by the count as a varint only when it is not 1. Most
//! buckets of a second hold one sample: a pair takes one or two bytes. (Format 0x53,
//! results of schema version 2, wrote the gap and the count as two varints; it still
//! decodes.) The timeline's binary form ([`super::binary`]) holds the same pairs, or a
//! run of counts where a second fills its range.
//!
//! A histogram may be *coarsened* by `shift` bits: sub-buckets are grouped `2^shift`
//! at a time (relative precision about `2^shift / 1024`, 0.1% at shift 0). Coarse
//! groups are unions of whole fine buckets, so coarsening is exact, and merging a fine
//! and a coarse histogram coarsens the fine one first: the result is exact at the
//! coarser precision. Workers only coarsen to fit a response limit, and say so.

use std::sync::Arc;

use base64::Engine;

use super::counts::Counts;
use super::histogram::{flat, FLAT_COUNT_BITS};
use super::layout::{self, HIGHEST_NS};
use super::varint;
use super::LatencyHistogram;
use crate::error::{Error, Result};

use super::layout::index_of;
#[cfg(test)]
use super::layout::value_of;

/// First byte of the encoding; HdrHistogram's V2 cookie starts with 0x1c, so the two
/// forms never mix up.
const FORMAT: u8 = 0x54;
/// First byte of the encoding of results of schema version 2 (gap and count, always).
const FORMAT_V2: u8 = 0x53;
/// Largest allowed coarsening (12.5% buckets).
pub const MAX_SHIFT: u8 = 7;

/// Latencies of one second as sorted `(bucket index, count)` pairs; see the module docs.
///
/// A histogram that is only kept (a worker's second) sits in memory in its encoded
/// form, 1–3 bytes per occupied bucket, and is iterated from it; one decoded from a
/// timeline's binary form keeps its pairs unpacked, 3 bytes each. Merging turns it
/// into pairs; a merge that fills enough of its range (an eighth of the buckets between
/// its lowest and highest occupied, as a second of tens of merged workers does) keeps
/// its counts in one run instead, so that adding another worker's second costs that
/// second's size, not the merged one's; while its counts fit two bytes, the run takes
/// no more memory than the pairs would.
#[derive(Debug, Clone, Default)]
pub struct SparseHistogram {
    shift: u8,
    store: Store,
    total: u64,
}

#[derive(Debug, Clone)]
enum Store {
    /// `len` pairs as the encoding writes them (see the module docs); `last` is the
    /// highest index (meaningless when `len` is 0).
    Packed { bytes: Shared, len: u32, last: u32 },
    /// Pairs as a timeline's binary form is decoded into them
    /// ([`SparseHistogram::take_body`]): three bytes each, the index (little-endian
    /// u16) and a count from 1 to 255, so that folding them into a run reads no varint
    /// again; `last` is the highest index (meaningless when there is no pair).
    Flat { bytes: Shared, last: u32 },
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

/// Whether `bytes` start with a format byte of this encoding.
pub(crate) fn is_sparse(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(&(FORMAT | FORMAT_V2)))
}

/// Reads the encoding (at full precision) straight into a full histogram, checking
/// every pair as [`SparseHistogram::from_bytes`] does.
pub(crate) fn read_into_histogram(bytes: &[u8]) -> Result<LatencyHistogram> {
    let (&format, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
    let (&shift, mut rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    if shift != 0 {
        return Err(bad(
            "a whole-test histogram must be at full precision (shift 0)",
        ));
    }
    let len = take_len(&mut rest, shift)?;
    // Read into a list of buckets (checked), which a merge adds without going through
    // pages; a histogram with a count of 2^48 or more (no worker records that many) is
    // read again, into pages.
    let legacy = format == FORMAT_V2;
    let mut pending = Vec::with_capacity(len as usize);
    let mut huge = false;
    let before = rest;
    let (total, _) = scan(&mut rest, len, shift, legacy, |i, n| {
        if n >> FLAT_COUNT_BITS != 0 {
            huge = true;
        } else if n > 0 {
            pending.push(flat(i, n));
        }
    })?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    if !huge {
        return Ok(LatencyHistogram::from_flat(pending, total));
    }
    let mut h = LatencyHistogram::new();
    let mut rest = before;
    scan(&mut rest, len, shift, legacy, |i, n| h.add_at(i, n))?;
    Ok(h)
}

/// Bytes shared by the histograms decoded from one buffer (a worker's timeline is
/// one allocation, not one per second).
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    buf: Arc<[u8]>,
    start: usize,
    end: usize,
}

impl Shared {
    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        let end = bytes.len();
        Self {
            buf: bytes.into(),
            start: 0,
            end,
        }
    }

    /// A copy of `bytes`, in one allocation of their size.
    pub(crate) fn copied(bytes: &[u8]) -> Self {
        Self {
            buf: bytes.into(),
            start: 0,
            end: bytes.len(),
        }
    }
}

impl std::ops::Deref for Shared {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

fn bad(why: &str) -> Error {
    Error::Backend(format!("not a sparse histogram: {why}"))
}

/// Takes the precision shift's check and the number of pairs (at most the layout's
/// buckets) off the front of `rest`.
fn take_len(rest: &mut &[u8], shift: u8) -> Result<u64> {
    if shift > MAX_SHIFT {
        return Err(bad("precision shift out of range"));
    }
    let len = varint::take(rest).ok_or_else(|| bad("truncated"))?;
    if len > u64::from(index_of(HIGHEST_NS)) + 1 {
        return Err(bad("more buckets than the layout has"));
    }
    Ok(len)
}

/// Walks `len` pairs at `shift` off the front of `rest` (the gap-and-count coding of
/// schema version 2 when `legacy`), checking that every index is in the layout, and
/// calls `each` with each pair; returns the total (saturating, as merges are: a
/// merged histogram whose counts saturated is written with them, and reads back) and
/// the last index.
fn scan(
    rest: &mut &[u8],
    len: u64,
    shift: u8,
    legacy: bool,
    mut each: impl FnMut(u32, u64),
) -> Result<(u64, u32)> {
    let limit = u64::from(index_of(HIGHEST_NS)) + 1;
    let (mut total, mut next, mut last) = (0u64, 0u64, 0u64);
    // A local cursor, so that the loop keeps it in registers.
    let mut r = *rest;
    for _ in 0..len {
        let pair = if legacy {
            varint::take(&mut r).zip(varint::take(&mut r))
        } else {
            take_pair(&mut r)
        };
        let (delta, n) = pair.ok_or_else(|| bad("truncated"))?;
        // Bounded before the shift, so that no bit is lost: `next` stays below
        // `limit + 128` and `delta << shift` below `limit << 7`.
        if delta >= limit {
            return Err(bad("bucket index out of range"));
        }
        let i = next + (delta << shift);
        if i >= limit {
            return Err(bad("bucket index out of range"));
        }
        total = total.saturating_add(n);
        each(i as u32, n);
        last = i;
        next = i + (1 << shift);
    }
    *rest = r;
    Ok((total, last as u32))
}

/// Takes `len` pairs at `shift` off the front of `rest`, checking each as [`scan`]
/// does, and appends those of a count from 1 to 255 to `out` as [`Store::Flat`] keeps
/// them (pairs of count 0, which only a hostile encoding has, are dropped: walks skip
/// them anyway). Returns the total and the highest index kept, or `None`, with `out`
/// as it was, at the first count over 255 (the caller keeps those pairs packed).
fn take_flat(
    rest: &mut &[u8],
    len: u64,
    shift: u8,
    out: &mut Vec<u8>,
) -> Result<Option<(u64, u32)>> {
    let limit = u64::from(index_of(HIGHEST_NS)) + 1;
    let base = out.len();
    // `len` is at most the layout's size (`take_len`): room for every pair, cut to
    // those kept at the end.
    out.resize(base + len as usize * FLAT, 0);
    let mut slots = out[base..].chunks_exact_mut(FLAT);
    let mut kept = 0;
    let (mut total, mut next, mut last) = (0u64, 0u64, 0u64);
    let mut r = *rest;
    for _ in 0..len {
        let Some((delta, n)) = take_pair(&mut r) else {
            out.truncate(base);
            return Err(bad("truncated"));
        };
        // As in `scan`: bounded before the shift, so that no bit is lost.
        let i = next + (delta.min(limit) << shift);
        if delta >= limit || i >= limit {
            out.truncate(base);
            return Err(bad("bucket index out of range"));
        }
        if n > 255 {
            out.truncate(base);
            return Ok(None);
        }
        if n > 0 {
            if let Some(slot) = slots.next() {
                slot.copy_from_slice(&[i as u8, (i >> 8) as u8, n as u8]);
            }
            kept += 1;
            last = i;
        }
        // At most 27,390 counts of at most 255: no overflow.
        total += n;
        next = i + (1 << shift);
    }
    out.truncate(base + kept * FLAT);
    *rest = r;
    Ok(Some((total, last as u32)))
}

/// Takes kind 2 of the timeline's binary form, `len` pairs at `shift`, off the front
/// of `rest`, checking every index as [`scan`] does, and appends them to `out` as
/// [`Store::Flat`] keeps them. Returns the total and the highest index.
///
/// Kind 2 holds a second whose counts all fit a byte in fixed-width streams, so that
/// where each pair's bytes lie follows from two bitmaps, not from the bytes before it
/// (the reads overlap instead of forming one chain, as varints do):
///
/// ```text
/// wide:    ⌈len/8⌉ bytes, bit k (LSB first) set when pair k's gap takes two bytes
/// counted: ⌈len/8⌉ bytes, bit k set when pair k's count is not 1
/// gaps:    len + popcount(wide) bytes: each gap (shifted) as one byte, or two (LE)
/// counts:  popcount(counted) bytes: each count that is not 1, from 2 to 255
/// ```
fn take_split(rest: &mut &[u8], len: u64, shift: u8, out: &mut Vec<u8>) -> Result<(u64, u32)> {
    let limit = u64::from(index_of(HIGHEST_NS)) + 1;
    // `len` is at most the layout's size (`take_len`).
    let len = len as usize;
    let bitmap = len.div_ceil(8);
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
        let (head, tail) = rest.split_at_checked(n).ok_or_else(|| bad("truncated"))?;
        *rest = tail;
        Ok(head)
    }
    let mut r = *rest;
    let wide = take(&mut r, bitmap)?;
    let counted = take(&mut r, bitmap)?;
    // Bits past the last pair are clear, so that the popcounts count pairs.
    if !len.is_multiple_of(8) && (wide[bitmap - 1] | counted[bitmap - 1]) >> (len % 8) != 0 {
        return Err(bad("bits set past the last pair"));
    }
    let ones = |m: &[u8]| m.iter().map(|b| b.count_ones() as usize).sum::<usize>();
    let gaps = take(&mut r, len + ones(wide))?;
    let counts = take(&mut r, ones(counted))?;
    if counts.contains(&0) {
        return Err(bad("a count of 0"));
    }
    // At most 27,390 pairs of at most 255: no overflow.
    let total = (len - counts.len()) as u64 + counts.iter().map(|&n| u64::from(n)).sum::<u64>();
    let base = out.len();
    out.resize(base + len * FLAT, 0);
    let step = 1u64 << shift;
    let (mut next, mut i, mut at, mut c) = (0u64, 0u64, 0usize, 0usize);
    let mut slots = out[base..].chunks_exact_mut(FLAT);
    for (&wb, &cb) in wide.iter().zip(counted) {
        if wb | cb == 0 && slots.len() >= 8 {
            // Eight narrow gaps with a count of 1 each (most of a wide second's pairs):
            // nothing to choose per pair.
            for (slot, &g) in slots.by_ref().take(8).zip(&gaps[at..at + 8]) {
                i = next + (u64::from(g) << shift);
                next = i + step;
                slot.copy_from_slice(&[i as u8, (i >> 8) as u8, 1]);
            }
            at += 8;
            continue;
        }
        let (mut wb, mut cb) = (wb, cb);
        // Eight pairs a byte of each bitmap (the last byte's clear bits end early).
        for slot in slots.by_ref().take(8) {
            let w = usize::from(wb & 1);
            let counted = cb & 1 == 1;
            (wb, cb) = (wb >> 1, cb >> 1);
            // A narrow gap reads its own byte twice and masks the second out, so
            // that no read depends on whether the gap is wide.
            let high = u64::from(gaps[at + w]) * w as u64;
            let gap = u64::from(gaps[at]) | (high << 8);
            at += 1 + w;
            let n = if counted { counts[c] } else { 1 };
            c += usize::from(counted);
            // At most 65,535 << 7 per pair and 27,390 pairs: no overflow.
            i = next + (gap << shift);
            next = i + step;
            slot.copy_from_slice(&[i as u8, (i >> 8) as u8, n]);
        }
    }
    // Indices only grow: the last one in the layout means every one is.
    if len > 0 && i >= limit {
        out.truncate(base);
        return Err(bad("bucket index out of range"));
    }
    *rest = r;
    Ok((total, i as u32))
}

/// Counts of consecutive groups of `1 << shift` indices from `first`.
#[derive(Debug, Clone)]
struct Dense {
    first: u32,
    counts: Counts,
}

impl Dense {
    /// Grows the run at either end to cover indices `lo..=hi` at precision `shift`.
    fn cover(&mut self, lo: u32, hi: u32, shift: u8) {
        if self.counts.len() == 0 {
            self.first = lo;
        }
        if lo < self.first {
            self.counts
                .grow_front(((self.first - lo) >> shift) as usize);
            self.first = lo;
        }
        self.counts
            .grow_to(((hi.max(self.first) - self.first) >> shift) as usize + 1);
    }

    /// Adds pairs whose indices the run covers ([`Dense::cover`]).
    fn add(&mut self, pairs: impl Iterator<Item = (u32, u64)>, shift: u8) {
        let first = self.first;
        self.counts
            .add(pairs.map(|(i, n)| (((i - first) >> shift) as usize, n)));
    }

    /// Adds the samples of `h` (at precision `shift`, covered by the run): packed pairs
    /// are read straight into the counts.
    fn add_histogram(&mut self, h: &SparseHistogram, shift: u8) {
        match &h.store {
            Store::Packed { bytes, len, .. } => {
                let first = self.first;
                self.counts.add(PackedPairs {
                    bytes,
                    left: *len,
                    next: 0,
                    shift,
                    first,
                });
            }
            Store::Flat { bytes, .. } => {
                let first = self.first;
                self.counts.add(bytes.chunks_exact(FLAT).map(|p| {
                    let i = u32::from(u16::from_le_bytes([p[0], p[1]]));
                    (((i - first) >> shift) as usize, u64::from(p[2]))
                }));
            }
            _ => self.add(h.iter(), shift),
        }
    }
}

/// Bytes of one pair of [`Store::Flat`].
const FLAT: usize = 3;
// Every index of the layout fits the two bytes of a flat pair.
const _: () = assert!(layout::COUNTERS <= 1 << 16);

/// The pairs of a packed histogram as (run position, count) from `first`: the
/// iterator [`Dense::add_histogram`] feeds a run with, with no per-pair dispatch.
struct PackedPairs<'a> {
    bytes: &'a [u8],
    left: u32,
    next: u32,
    shift: u8,
    first: u32,
}

impl Iterator for PackedPairs<'_> {
    type Item = (usize, u64);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, u64)> {
        // Pairs of count 0 (only a hostile encoding has them) are skipped: they may
        // lie below the run, which starts at the lowest occupied bucket.
        loop {
            if self.left == 0 {
                return None;
            }
            self.left -= 1;
            // Checked when the bytes were taken in (every index within the layout).
            let (gap, n) = take_pair(&mut self.bytes)?;
            let i = self.next + ((gap as u32) << self.shift);
            self.next = i + (1 << self.shift);
            if n > 0 {
                return Some((((i - self.first) >> self.shift) as usize, n));
            }
        }
    }
}

/// Appends one pair of the encoding: `gap` (shifted) and count `n`.
#[inline]
fn put_pair(out: &mut Vec<u8>, gap: u64, n: u64) {
    if n == 1 {
        varint::put(out, (gap << 1) | 1);
    } else {
        varint::put(out, gap << 1);
        varint::put(out, n);
    }
}

/// Takes one pair of the encoding: `(gap, count)`.
#[inline(always)]
fn take_pair(bytes: &mut &[u8]) -> Option<(u64, u64)> {
    let v = varint::take(bytes)?;
    if v & 1 == 1 {
        Some((v >> 1, 1))
    } else {
        Some((v >> 1, varint::take(bytes)?))
    }
}

/// Bytes of one varint.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Pairs that make a run of counts at most this many times longer are kept as a run:
/// a pair takes 16 bytes, a count of the run one or two (until a bucket holds more
/// than 65,535 samples). With 2, a batch of 32 workers' seconds over 5 decades
/// (6,000 pairs over 17,000 buckets) was merged pair by pair, worker by worker.
const DENSE_SPAN_PER_PAIR: usize = 8;
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
    Flat(std::slice::ChunksExact<'a, u8>),
    Dense {
        first: u32,
        counts: &'a Counts,
        k: usize,
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
                // Pairs of count 0 (only a hostile encoding has them) are skipped, as a
                // run skips its empty groups.
                loop {
                    if *left == 0 {
                        return None;
                    }
                    *left -= 1;
                    // Checked when the bytes were taken in; a short read ends the walk.
                    let (delta, n) = take_pair(bytes)?;
                    let i = *next + (delta << *shift);
                    *next = i + (1 << *shift);
                    if n > 0 {
                        return Some((i as u32, n));
                    }
                }
            }
            BucketsInner::Pairs(it) => it.next().copied(),
            BucketsInner::Flat(it) => it
                .next()
                .map(|p| (u32::from(u16::from_le_bytes([p[0], p[1]])), u64::from(p[2]))),
            BucketsInner::Dense {
                first,
                counts,
                k,
                shift,
            } => {
                let len = counts.len();
                while *k < len {
                    let n = counts.get(*k);
                    *k += 1;
                    if n > 0 {
                        return Some((*first + (((*k - 1) as u32) << *shift), n));
                    }
                }
                None
            }
        }
    }
}

impl PartialEq for SparseHistogram {
    /// The same samples at the same precision, however they are kept. Histograms
    /// without samples are equal at any precision (merges skip them, so a merged
    /// empty second has the precision of wherever it started).
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total
            && (self.total == 0 && self.iter().next().is_none() && other.iter().next().is_none()
                || self.shift == other.shift && self.iter().eq(other.iter()))
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
        Self::pack(buckets, 0)
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

    /// Adds the samples into `h` (exact at shift 0; at a coarser shift each group's
    /// samples land on its lowest bucket, as [`SparseHistogram::to_histogram`] puts
    /// them): a run of counts at once, page by page.
    pub(crate) fn add_into(&self, h: &mut LatencyHistogram) {
        match &self.store {
            Store::Dense(d) if self.shift == 0 => d.counts.add_into(d.first, h),
            _ => {
                for (i, n) in self.iter() {
                    h.add_at(i, n);
                }
            }
        }
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
            Store::Flat { bytes, .. } => BucketsInner::Flat(bytes.chunks_exact(FLAT)),
            Store::Dense(d) => BucketsInner::Dense {
                first: d.first,
                counts: &d.counts,
                k: 0,
                shift: self.shift,
            },
        })
    }

    /// Occupied buckets.
    fn pairs_len(&self) -> usize {
        match &self.store {
            Store::Packed { len, .. } => *len as usize,
            Store::Flat { bytes, .. } => bytes.len() / FLAT,
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
                counts: Counts::zeros(span),
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
        if let (Store::Dense(dense), Some((lo, hi))) = (&mut self.store, other.bounds()) {
            dense.cover(lo, hi, shift);
            dense.add_histogram(&other, shift);
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
            Store::Packed { last, .. } | Store::Flat { last, .. } => {
                Some((self.iter().next()?.0, *last))
            }
            Store::Pairs(p) => Some((p.first()?.0, p.last()?.0)),
            Store::Dense(d) => {
                let k = d.counts.last_nonzero()?;
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
                    counts: Counts::zeros(0),
                };
                d.cover(lo, hi, self.shift);
                if !self.is_empty() {
                    d.add(self.iter(), self.shift);
                }
                d
            }
        };
        // Grown once to the whole range, so that no add below grows it.
        dense.cover(lo, hi, self.shift);
        // An empty histogram has no bounds above; a decoded one may still list pairs
        // (of count 0) outside the range, so it is skipped, not indexed.
        for o in others.iter().filter(|o| !o.is_empty()) {
            dense.add_histogram(o, self.shift);
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
                .last_nonzero()
                .map(|k| d.first + ((k as u32) << self.shift)),
            Store::Pairs(p) => p.last().map(|&(i, _)| i),
            Store::Packed { len: 0, .. } => None,
            Store::Packed { last, .. } => Some(*last),
            Store::Flat { bytes, .. } if bytes.is_empty() => None,
            Store::Flat { last, .. } => Some(*last),
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
            Store::Packed { bytes, .. } | Store::Flat { bytes, .. } => bytes.len(),
            Store::Pairs(p) => p.capacity() * std::mem::size_of::<(u32, u64)>(),
            Store::Dense(d) => d.counts.allocated_bytes(),
        }
    }

    /// The compact binary encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.pairs_len() * 2);
        out.push(FORMAT);
        out.push(self.shift);
        self.put_pairs(&mut out);
        out
    }

    /// The number of pairs, then the pairs (see the module docs).
    fn put_pairs(&self, out: &mut Vec<u8>) {
        varint::put(out, self.pairs_len() as u64);
        if let Store::Packed { bytes, .. } = &self.store {
            out.extend_from_slice(bytes);
            return;
        }
        let mut next = 0u32;
        for (i, n) in self.iter() {
            put_pair(out, u64::from((i - next) >> self.shift), n);
            next = i + (1 << self.shift);
        }
    }

    /// Sorted pairs at precision `shift`, packed.
    fn pack(pairs: impl Iterator<Item = (u32, u64)>, shift: u8) -> Self {
        let mut bytes = Vec::new();
        let (mut len, mut total, mut next) = (0u32, 0u64, 0u32);
        for (i, n) in pairs {
            put_pair(&mut bytes, u64::from((i - next) >> shift), n);
            next = i + (1 << shift);
            len += 1;
            total = total.saturating_add(n);
        }
        Self {
            shift,
            store: Store::Packed {
                bytes: Shared::owned(bytes),
                len,
                last: next.saturating_sub(1 << shift),
            },
            total,
        }
    }

    /// Decodes [`SparseHistogram::to_bytes`] (or the format of schema version 2),
    /// checking every pair; the histogram keeps the bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (&format, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        if format != FORMAT && format != FORMAT_V2 {
            return Err(bad("unknown format byte"));
        }
        let (&shift, mut rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        let len = take_len(&mut rest, shift)?;
        if format == FORMAT_V2 {
            let mut pairs = Vec::new();
            scan(&mut rest, len, shift, true, |i, n| pairs.push((i, n)))?;
            if !rest.is_empty() {
                return Err(bad("trailing bytes"));
            }
            return Ok(Self::pack(pairs.into_iter(), shift));
        }
        let all = Shared::owned(rest.to_vec());
        let mut rest = &all[..];
        let h = Self::take_packed(&mut rest, &all, shift, len)?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(h)
    }

    /// Takes `len` pairs at `shift` off the front of `rest`, a part of `buf`, checking
    /// each; the histogram shares `buf`.
    fn take_packed(rest: &mut &[u8], buf: &Shared, shift: u8, len: u64) -> Result<Self> {
        Self::take_packed_at(rest, buf, buf, shift, len)
    }

    /// [`SparseHistogram::take_packed`] of `rest`, a part of `base`, whose bytes `buf`
    /// holds (a copy, or `base` itself).
    fn take_packed_at(
        rest: &mut &[u8],
        base: &[u8],
        buf: &Shared,
        shift: u8,
        len: u64,
    ) -> Result<Self> {
        let start = buf.start + (rest.as_ptr() as usize - base.as_ptr() as usize);
        let before = rest.len();
        let (total, last) = scan(rest, len, shift, false, |_, _| {})?;
        Ok(Self {
            shift,
            store: Store::Packed {
                bytes: Shared {
                    buf: buf.buf.clone(),
                    start,
                    end: start + (before - rest.len()),
                },
                len: len as u32,
                last,
            },
            total,
        })
    }

    /// Writes the histogram for the timeline's binary form: its shift, then either
    /// pairs (kind 0) or, where that is shorter, a run of counts (kind 1: first index,
    /// number of counts, each count as a varint), as a merged second that fills its
    /// range is. Returns whether it wrote a run.
    pub(crate) fn put_body(&self, out: &mut Vec<u8>) -> bool {
        out.push(self.shift);
        let (mut pairs, mut run, mut n_pairs) = (0usize, 0usize, 0usize);
        let (mut next, mut first, mut last) = (0u32, None, 0u32);
        // Kind 2's size beyond its bitmaps, and whether every count fits it.
        let (mut split, mut small) = (0usize, true);
        for (i, n) in self.iter() {
            let gap = u64::from((i - next) >> self.shift);
            pairs += if n == 1 {
                varint_len((gap << 1) | 1)
            } else {
                varint_len(gap << 1) + varint_len(n)
            };
            run += varint_len(n);
            split += 1 + usize::from(gap > 0xff) + usize::from(n != 1);
            small &= (1..=255).contains(&n);
            n_pairs += 1;
            first.get_or_insert(i);
            last = i;
            next = i + (1 << self.shift);
        }
        let span = first.map_or(0, |f| ((last - f) >> self.shift) as usize + 1);
        // Empty groups of the run take a byte each.
        run += span - n_pairs;
        split += 2 * n_pairs.div_ceil(8);
        match first {
            Some(first) if run < pairs.min(split) => {
                out.push(1);
                varint::put(out, u64::from(first));
                varint::put(out, span as u64);
                let mut at = first;
                for (i, n) in self.iter() {
                    while at < i {
                        out.push(0);
                        at += 1 << self.shift;
                    }
                    varint::put(out, n);
                    at = i + (1 << self.shift);
                }
                true
            }
            Some(_) if small && split <= pairs => {
                out.push(2);
                self.put_split(out, n_pairs);
                false
            }
            _ => {
                out.push(0);
                self.put_pairs(out);
                false
            }
        }
    }

    /// Writes kind 2 of the timeline's binary form (see [`take_split`]): `len` pairs,
    /// every count from 1 to 255.
    fn put_split(&self, out: &mut Vec<u8>, len: usize) {
        varint::put(out, len as u64);
        let maps = out.len();
        let bitmap = len.div_ceil(8);
        out.resize(maps + 2 * bitmap, 0);
        let mut next = 0u32;
        for (k, (i, n)) in self.iter().enumerate() {
            let gap = (i - next) >> self.shift;
            if gap > 0xff {
                out[maps + k / 8] |= 1 << (k % 8);
                out.extend_from_slice(&(gap as u16).to_le_bytes());
            } else {
                out.push(gap as u8);
            }
            if n != 1 {
                out[maps + bitmap + k / 8] |= 1 << (k % 8);
            }
            next = i + (1 << self.shift);
        }
        out.extend(self.iter().filter(|&(_, n)| n != 1).map(|(_, n)| n as u8));
    }

    /// Reads [`SparseHistogram::put_body`]'s output off the front of `rest`, a part of
    /// `body`, checking everything. Pairs are unpacked (through `scratch`) into a
    /// [`Store::Flat`] of their own, so that folding them reads no varint again, or,
    /// where a count is over 255, share `packed`, a copy of `body` made the first time
    /// it is needed; a run is read into counts.
    pub(crate) fn take_body(
        rest: &mut &[u8],
        body: &[u8],
        packed: &mut Option<Shared>,
        scratch: &mut Vec<u8>,
    ) -> Result<Self> {
        let (&shift, tail) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        let (&kind, tail) = tail.split_first().ok_or_else(|| bad("truncated"))?;
        *rest = tail;
        match kind {
            0 => {
                let len = take_len(rest, shift)?;
                let before = *rest;
                scratch.clear();
                match take_flat(rest, len, shift, scratch)? {
                    // One allocation of the exact size per second (a worker's whole
                    // timeline in one buffer grew, and was copied, by megabytes).
                    Some((total, last)) => Ok(Self {
                        shift,
                        store: Store::Flat {
                            bytes: Shared::copied(scratch),
                            last,
                        },
                        total,
                    }),
                    None => {
                        *rest = before;
                        let buf = packed.get_or_insert_with(|| Shared::copied(body));
                        Self::take_packed_at(rest, body, buf, shift, len)
                    }
                }
            }
            2 => {
                let len = take_len(rest, shift)?;
                scratch.clear();
                let (total, last) = take_split(rest, len, shift, scratch)?;
                Ok(Self {
                    shift,
                    store: Store::Flat {
                        bytes: Shared::copied(scratch),
                        last,
                    },
                    total,
                })
            }
            1 => {
                if shift > MAX_SHIFT {
                    return Err(bad("precision shift out of range"));
                }
                let first = varint::take(rest).ok_or_else(|| bad("truncated"))?;
                let span = varint::take(rest).ok_or_else(|| bad("truncated"))?;
                let limit = u64::from(index_of(HIGHEST_NS)) + 1;
                // The run's groups start at multiples of their size and stay within
                // the layout, as a coarsened histogram's do.
                let last = span
                    .checked_sub(1)
                    .and_then(|s| s.checked_shl(u32::from(shift)))
                    .and_then(|s| s.checked_add(first));
                if span == 0 || first % (1 << shift) != 0 || last.is_none_or(|l| l >= limit) {
                    return Err(bad("run of counts out of range"));
                }
                // Read whole, then kept as narrow as the largest count allows.
                let mut values = Vec::with_capacity(span as usize);
                let (mut total, mut max) = (0u64, 0u64);
                for _ in 0..span {
                    let n = varint::take(rest).ok_or_else(|| bad("truncated"))?;
                    total = total.saturating_add(n);
                    max = max.max(n);
                    values.push(n);
                }
                let counts = Counts::from_values(values, max);
                Ok(Self {
                    shift,
                    store: Store::Dense(Dense {
                        first: first as u32,
                        counts,
                    }),
                    total,
                })
            }
            _ => Err(bad("unknown kind of histogram")),
        }
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
        if matches!(bytes.first(), Some(&(FORMAT | FORMAT_V2))) {
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
        let mut out = vec![FORMAT_V2, shift];
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
        // A pair of count 0 below the samples: a run starts at the lowest sample, and
        // the empty pair is skipped, not indexed below it.
        let low: Vec<(u64, u64)> = [(100, 0), (899, 1)]
            .into_iter()
            .chain((1..300).map(|_| (0, 1)))
            .collect();
        let low = SparseHistogram::from_bytes(&encoded(0, &low)).unwrap();
        let mut m = SparseHistogram::new();
        m.add_many(&[&low, &low]);
        assert!(matches!(m.store, Store::Dense(_)));
        assert_eq!(m.buckets().next(), Some((1_000, 2)));
        m.add(&low);
        assert_eq!((m.len(), m.buckets().count()), (900, 300));
    }

    /// A timeline in the binary form whose one point has `pairs` (gap, count).
    fn timeline_of(pairs: &[(u64, u64)]) -> Vec<u8> {
        let mut b = b"LGBT\x01\x00\x01\x04read\x01".to_vec();
        varint::put(&mut b, 1_700_000_000);
        b.extend_from_slice(&[0, 1, 0, 0, 0]);
        varint::put(&mut b, pairs.len() as u64);
        for &(gap, n) in pairs {
            put_pair(&mut b, gap, n);
        }
        b
    }

    #[test]
    fn timeline_pairs_are_unpacked_once_and_fold_as_packed_pairs_do() {
        use crate::metrics::Timeline;
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut t = Timeline::default();
        for s in 0..4 {
            let mut h = LatencyHistogram::new();
            for _ in 0..300 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                h.record_ns(10_000 + x % 3_000_000);
            }
            if s == 1 {
                // A count over 255: that second's pairs stay packed.
                h.record_n(50_000, 300);
            }
            let sparse = SparseHistogram::from_histogram(&h);
            assert!(matches!(sparse.store, Store::Packed { .. }));
            t.add(1_700_000_000 + s, "read", 300, 0, &sparse).unwrap();
        }
        let back = Timeline::from_binary(&t.to_binary()).unwrap();
        assert_eq!(back, t);
        for (s, p) in back.points().enumerate() {
            let h = &p.latency;
            match &h.store {
                Store::Flat { .. } if s != 1 => {
                    assert_eq!(h.allocated_bytes(), FLAT * h.buckets().count());
                }
                Store::Packed { .. } if s == 1 => {}
                _ => panic!("second {s} is kept as {:?}", h.store),
            }
            assert_eq!(h.max_ns(), t.points().nth(s).unwrap().latency.max_ns());
        }
        // Folded as the runner folds (into runs), and one by one (into pairs): the same
        // as the packed seconds give.
        let mut folded = Timeline::default();
        folded.merge_all(vec![back.clone(); 64]);
        let mut packed = Timeline::default();
        packed.merge_all(vec![t.clone(); 64]);
        assert_eq!(folded, packed);
        let mut one_by_one = back.clone();
        one_by_one.merge(&t).unwrap();
        let mut twice = t.clone();
        twice.merge(&t).unwrap();
        assert_eq!(one_by_one, twice);
        assert_eq!(folded.points().next().unwrap().latency.len(), 64 * 300);

        // Pairs of count 0 are dropped when unpacked (walks skip them), also below the
        // samples, where a run starts.
        let mut pairs = vec![(100, 0), (899, 1)];
        pairs.extend((1..300).map(|_| (0, 1)));
        pairs.push((5, 0));
        let hollow = Timeline::from_binary(&timeline_of(&pairs)).unwrap();
        let p = hollow.points().next().unwrap();
        assert!(matches!(p.latency.store, Store::Flat { .. }));
        assert_eq!(p.latency.buckets().count(), 300);
        assert_eq!(p.latency.max_ns(), layout::top(1_299, 0));
        let mut m = Timeline::default();
        m.merge_all(vec![hollow.clone(), hollow.clone()]);
        assert_eq!(m.points().next().unwrap().latency.len(), 600);
        // Hostile pairs are refused as before: past the layout, or cut short.
        let e = Timeline::from_binary(&timeline_of(&[(5, 1), (u64::MAX >> 2, 1)]));
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("bucket index out of range"));
        let cut = timeline_of(&[(5, 1), (7, 1)]);
        let e = Timeline::from_binary(&cut[..cut.len() - 1]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    /// `h` written by `put_body` and read back by `take_body`: the kind written and
    /// the histogram read.
    fn body_round_trip(h: &SparseHistogram) -> (u8, SparseHistogram) {
        let mut body = Vec::new();
        h.put_body(&mut body);
        let mut rest = &body[..];
        let back =
            SparseHistogram::take_body(&mut rest, &body, &mut None, &mut Vec::new()).unwrap();
        assert!(rest.is_empty());
        (body[1], back)
    }

    /// Kind 2's body for `pairs` of (shifted gap, count): shift 0, built by hand.
    fn split_body(pairs: &[(u16, u8)]) -> Vec<u8> {
        let len = pairs.len();
        let mut b = vec![0, 2];
        varint::put(&mut b, len as u64);
        let maps = b.len();
        b.resize(maps + 2 * len.div_ceil(8), 0);
        for (k, &(gap, n)) in pairs.iter().enumerate() {
            if gap > 0xff {
                b[maps + k / 8] |= 1 << (k % 8);
                b.extend_from_slice(&gap.to_le_bytes());
            } else {
                b.push(gap as u8);
            }
            if n != 1 {
                b[maps + len.div_ceil(8) + k / 8] |= 1 << (k % 8);
            }
        }
        b.extend(pairs.iter().filter(|p| p.1 != 1).map(|p| p.1));
        b
    }

    fn take(body: &[u8]) -> Result<SparseHistogram> {
        SparseHistogram::take_body(&mut &body[..], body, &mut None, &mut Vec::new())
    }

    #[test]
    fn wide_seconds_travel_in_fixed_width_streams_and_read_back_exactly() {
        // Samples over five decades (gaps mostly over 63, the varint's one byte), with
        // counts from 1 to 255: 200 at full precision, 20 coarsened 8 to 1.
        let wide = |samples: u64| {
            let mut x = 0x9e37_79b9_7f4a_7c15_u64;
            let mut h = LatencyHistogram::new();
            for k in 0..samples {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let ns = 1e5 * 1e5_f64.powf((x % 1_000_000) as f64 / 1e6);
                h.record_n(ns as u64, 1 + u64::from(k % 50 == 0) * k);
            }
            h.record_n(HIGHEST_NS, 255);
            h
        };
        let mut h = wide(200);
        for (shift, samples) in [(0, 200), (3, 20)] {
            let mut w = SparseHistogram::from_histogram(&wide(samples));
            w.coarsen(shift);
            let (kind, back) = body_round_trip(&w);
            assert_eq!(kind, 2, "shift {shift}");
            assert!(matches!(back.store, Store::Flat { .. }));
            assert_eq!(back, w);
            assert_eq!(back.max_ns(), w.max_ns());
        }
        // Narrow gaps are as short as varints: kind 0 stays.
        let mut narrow = LatencyHistogram::new();
        (0..200u64).for_each(|k| narrow.record_ns(1_000_000 + 1_000 * k));
        let narrow = SparseHistogram::from_histogram(&narrow);
        assert_eq!(body_round_trip(&narrow), (0, narrow.clone()));
        // A count over 255 does not fit kind 2.
        h.record_n(HIGHEST_NS, 1);
        let big = SparseHistogram::from_histogram(&h);
        let (kind, back) = body_round_trip(&big);
        assert_eq!((kind, back), (0, big));
    }

    #[test]
    fn runs_add_into_full_histograms_page_by_page_exactly() {
        // Seconds over five decades merged into a run (counts past a byte, too), then
        // added into a histogram that already holds samples.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let seconds: Vec<SparseHistogram> = (0..40)
            .map(|_| {
                let mut h = LatencyHistogram::new();
                for _ in 0..400 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    h.record_ns((1e5 * 1e5_f64.powf((x % 1_000_000) as f64 / 1e6)) as u64);
                }
                h.record_n(3_000_000, 300);
                SparseHistogram::from_histogram(&h)
            })
            .collect();
        let mut run = SparseHistogram::new();
        run.add_many(&seconds.iter().collect::<Vec<_>>());
        assert!(matches!(run.store, Store::Dense(_)));
        let mut into = LatencyHistogram::new();
        into.record_n(5_000, 7);
        let mut want = into.clone();
        want.add(&run.to_histogram());
        run.add_into(&mut into);
        assert_eq!(into, want);
        assert_eq!(into.len(), 7 + 40 * 700);
        // Pairs take the bucket-by-bucket way to the same place.
        let mut one = LatencyHistogram::new();
        seconds[0].add_into(&mut one);
        assert_eq!(one, seconds[0].to_histogram());
    }

    #[test]
    fn hostile_fixed_width_streams_are_refused_by_name() {
        // A two-byte gap last, counts 1 and 7: read as written.
        let good = split_body(&[(3, 1), (300, 7), (1, 1), (0x3000, 1)]);
        let h = take(&good).unwrap();
        assert_eq!(
            h.buckets().collect::<Vec<_>>(),
            [(3, 1), (304, 7), (306, 1), (306 + 1 + 0x3000, 1)]
        );
        assert_eq!(h.len(), 10);
        let err = |b: &[u8]| take(b).unwrap_err().to_string();
        for cut in 3..good.len() {
            assert!(err(&good[..cut]).contains("truncated"), "cut at {cut}");
        }
        // A bit past the fourth pair, in either bitmap.
        for at in [3, 4] {
            let mut b = good.clone();
            b[at] |= 0x80;
            assert!(err(&b).contains("past the last pair"), "{}", err(&b));
        }
        let mut zero = good.clone();
        *zero.last_mut().unwrap() = 0;
        assert!(err(&zero).contains("count of 0"));
        let far = split_body(&[(0xffff, 1), (0xffff, 2)]);
        assert!(err(&far).contains("out of range"), "{}", err(&far));
        let mut more = vec![0, 2];
        varint::put(&mut more, 1 << 20);
        assert!(err(&more).contains("more buckets than the layout"));
        let mut shift = good.clone();
        shift[0] = MAX_SHIFT + 1;
        assert!(err(&shift).contains("shift"));
    }
}
