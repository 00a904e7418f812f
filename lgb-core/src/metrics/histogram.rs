//! [`LatencyHistogram`]: an HdrHistogram of nanoseconds (1 ns–60 s, 3 significant
//! digits) whose counters are allocated in pages only where latencies fall, and which
//! serializes to the standard compressed V2 encoding (base64 in JSON), so histograms
//! from many workers merge exactly and HdrHistogram's own tools read them.

use std::fmt;
use std::io::Read;

use base64::Engine;
use hdrhistogram::serialization::{
    Deserializer as HdrDeserializer, Serializer as _, V2DeflateSerializer,
};
use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::layout::{self, index_of, value_of, COUNTERS, HIGHEST_NS, SIGFIG};
use super::varint;
use crate::error::{Error, Result};

/// Counters per page: a quarter of an HdrHistogram bucket (a factor of two in value).
const PAGE_BITS: u32 = 8;
const PAGE: usize = 1 << PAGE_BITS;
const PAGES: usize = COUNTERS.div_ceil(PAGE);

type Page = Box<[u64; PAGE]>;

/// Latencies in nanoseconds, from 1 ns (and so from 1 µs upwards at full precision)
/// to 60 s, with 3 significant digits: HdrHistogram's bucket layout, with the
/// counters of its 27,389 buckets kept in pages of 256 (2 KiB) allocated on first use.
/// A histogram of one database's latencies takes tens of KiB instead of 216 KiB, and
/// an empty one (say, the failures of a test without any) nothing.
///
/// Statistics are HdrHistogram's, value for value: [`LatencyHistogram::to_hdr`] gives
/// the `hdrhistogram` crate's histogram of the same samples.
///
/// ```
/// use lgb_core::metrics::LatencyHistogram;
/// let mut a = LatencyHistogram::new();
/// a.record_ns(1_000);
/// let mut b = LatencyHistogram::new();
/// b.record_ns(3_000);
/// a.add(&b);
/// assert_eq!(a.len(), 2);
/// let text = a.encode();
/// assert_eq!(LatencyHistogram::decode(&text).unwrap(), a);
/// ```
#[derive(Clone, Default)]
pub struct LatencyHistogram {
    /// Empty until the first sample; then one slot per page of the layout.
    pages: Vec<Option<Page>>,
    /// The samples of a histogram read from lgb's sparse form (how workers send theirs:
    /// [`super::compact`]), as [`Flat`] pairs in index order, while `pages` is empty:
    /// merging a worker's histogram then adds its occupied buckets, not its pages, and
    /// decoding it allocates and clears no page. Moved into pages on the first change.
    pending: Vec<u64>,
    total: u64,
}

/// A bucket of [`LatencyHistogram::pending`]: its index above [`FLAT_COUNT_BITS`], its
/// count (1 to 2^48 - 1) below.
pub(super) type Flat = u64;
/// Bits of a [`Flat`] bucket's count.
pub(super) const FLAT_COUNT_BITS: u32 = 48;
// Every index fits above the count.
const _: () = assert!(COUNTERS < 1 << (64 - FLAT_COUNT_BITS));

/// The [`Flat`] bucket of `n` (1 to 2^48 - 1) samples at index `i`.
#[inline]
pub(super) fn flat(i: u32, n: u64) -> Flat {
    (u64::from(i) << FLAT_COUNT_BITS) | n
}

fn unflat(f: Flat) -> (u32, u64) {
    (
        (f >> FLAT_COUNT_BITS) as u32,
        f & ((1 << FLAT_COUNT_BITS) - 1),
    )
}

impl LatencyHistogram {
    /// An empty histogram (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one latency in nanoseconds (clamped to 60 s).
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.add_at(index_of(ns), 1);
    }

    /// Records `count` latencies of `ns` nanoseconds (clamped to 60 s; counters saturate).
    #[inline]
    pub fn record_n(&mut self, ns: u64, count: u64) {
        self.add_at(index_of(ns), count);
    }

    /// Adds `count` to the bucket at `index` (below [`COUNTERS`]).
    #[inline]
    pub(crate) fn add_at(&mut self, index: u32, count: u64) {
        let i = index as usize;
        let c = &mut self.page_mut(i >> PAGE_BITS)[i & (PAGE - 1)];
        *c = c.saturating_add(count);
        self.total = self.total.saturating_add(count);
    }

    #[inline]
    fn page_mut(&mut self, page: usize) -> &mut [u64; PAGE] {
        if self.pages.is_empty() {
            self.make_pages();
        }
        self.pages[page].get_or_insert_with(|| Box::new([0; PAGE]))
    }

    /// Adds `counts` to the consecutive buckets from index `first` (the run must end
    /// within the layout; the caller's run comes from checked indices), page by page:
    /// a merged second's run of tens of thousands of counts is added without a page
    /// lookup per bucket.
    pub(crate) fn add_run<T: Copy + Into<u64>>(&mut self, first: u32, counts: &[T]) {
        let mut at = first as usize;
        let mut rest = counts;
        let mut total = 0u64;
        while !rest.is_empty() && at < COUNTERS {
            let (page, offset) = (at >> PAGE_BITS, at & (PAGE - 1));
            let n = rest.len().min(PAGE - offset);
            let (now, later) = rest.split_at(n);
            let dst = &mut self.page_mut(page)[offset..offset + n];
            for (d, &c) in dst.iter_mut().zip(now) {
                let c: u64 = c.into();
                *d = d.saturating_add(c);
                total = total.saturating_add(c);
            }
            (at, rest) = (at + n, later);
        }
        self.total = self.total.saturating_add(total);
    }

    /// Allocates the slots of the pages (empty until then), and moves the pending
    /// buckets, if any, into pages.
    #[cold]
    fn make_pages(&mut self) {
        self.pages.resize_with(PAGES, || None);
        let pending = std::mem::take(&mut self.pending);
        self.add_flat(&pending);
    }

    /// Adds pending buckets' counts to the pages (not to the total).
    fn add_flat(&mut self, pending: &[Flat]) {
        for &f in pending {
            let (i, n) = unflat(f);
            let i = i as usize;
            let c = &mut self.page_mut(i >> PAGE_BITS)[i & (PAGE - 1)];
            *c = c.saturating_add(n);
        }
    }

    /// A histogram of `pending` buckets (in index order, each once, of `total` samples),
    /// kept so until it changes.
    pub(super) fn from_flat(pending: Vec<Flat>, total: u64) -> Self {
        Self {
            pages: Vec::new(),
            pending,
            total,
        }
    }

    /// Adds every sample of `other` (exact: same bucket layout).
    pub fn add(&mut self, other: &LatencyHistogram) {
        if !other.pending.is_empty() {
            self.add_flat(&other.pending);
            self.total = self.total.saturating_add(other.total);
            return;
        }
        for (p, page) in other.pages.iter().enumerate() {
            let Some(src) = page else { continue };
            if src.iter().all(|&n| n == 0) {
                continue;
            }
            let dst = self.page_mut(p);
            for (d, s) in dst.iter_mut().zip(src.iter()) {
                *d = d.saturating_add(*s);
            }
        }
        self.total = self.total.saturating_add(other.total);
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Clears all samples, keeping the pages.
    pub fn reset(&mut self) {
        self.pending.clear();
        for page in self.pages.iter_mut().flatten() {
            page.fill(0);
        }
        self.total = 0;
    }

    /// Occupied buckets: `(index, count)` in index order (see [`value_of`]).
    pub fn buckets(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        // One of the two is empty.
        self.pending
            .iter()
            .map(|&f| unflat(f))
            .chain(self.pages.iter().enumerate().flat_map(|(p, page)| {
                page.iter().flat_map(move |counts| {
                    counts
                        .iter()
                        .enumerate()
                        .filter(|(_, &n)| n > 0)
                        .map(move |(k, &n)| (((p << PAGE_BITS) + k) as u32, n))
                })
            }))
    }

    /// Bytes of counters allocated (2 KiB per page in use, 8 bytes per pending bucket).
    pub fn allocated_bytes(&self) -> usize {
        self.pages.iter().flatten().count() * PAGE * 8 + self.pending.capacity() * 8
    }

    /// The `hdrhistogram` crate's histogram of the same samples (1 ns–60 s, 3 digits).
    pub fn to_hdr(&self) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, HIGHEST_NS, SIGFIG)
            .expect("constant histogram bounds are valid");
        for (i, n) in self.buckets() {
            h.saturating_record_n(value_of(i), n);
        }
        h
    }

    /// Value at quantile `q` (0..=1), in nanoseconds, as HdrHistogram's
    /// `value_at_quantile`.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        layout::quantile(self.buckets(), self.total, 0, q)
    }

    /// The compressed V2 encoding (HdrHistogram's standard wire form). The encoding
    /// carries counts up to `i64::MAX`; a larger one (only a saturated merge of
    /// counts from elsewhere makes one) is written as `i64::MAX`.
    pub fn to_v2_bytes(&self) -> Vec<u8> {
        let mut h = Histogram::new_with_bounds(1, HIGHEST_NS, SIGFIG)
            .expect("constant histogram bounds are valid");
        for (i, n) in self.buckets() {
            h.saturating_record_n(value_of(i), n.min(i64::MAX as u64));
        }
        let mut out = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&h, &mut out)
            .expect("serializing to memory cannot fail: every count fits the encoding");
        out
    }

    /// Decodes the compressed (or plain) V2 encoding. A histogram in lgb's own layout
    /// (lowest 1, 3 significant digits) is read counter by counter into pages; any
    /// other is re-bucketed value by value, as HdrHistogram's `add` would.
    pub fn from_v2_bytes(bytes: &[u8]) -> Result<Self> {
        match v2::decode(bytes) {
            Ok(Some(h)) => return Ok(h),
            Ok(None) => {}
            Err(why) => {
                return Err(Error::Backend(format!(
                    "not an HdrHistogram V2 encoding: {why}"
                )))
            }
        }
        let h: Histogram<u64> = HdrDeserializer::new()
            .deserialize(&mut std::io::Cursor::new(bytes))
            .map_err(|e| Error::Backend(format!("not an HdrHistogram V2 encoding: {e:?}")))?;
        let mut out = Self::new();
        for v in h.iter_recorded() {
            let value = h.lowest_equivalent(v.value_iterated_to());
            if value > HIGHEST_NS {
                return Err(Error::Backend(format!(
                    "histogram out of range: a value of {value} ns is above 60 s"
                )));
            }
            out.record_n(value, v.count_at_value());
        }
        Ok(out)
    }

    /// Base64 of the compressed V2 encoding, as stored in results.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_v2_bytes())
    }

    /// Decodes [`LatencyHistogram::encode`]'s output, or lgb's sparse form of the same
    /// layout at full precision ([`super::SparseHistogram::encode`], how workers send
    /// their whole-test histograms: [`super::compact`]).
    pub fn decode(text: &str) -> Result<Self> {
        let bytes: Vec<u8> = base64_simd::STANDARD
            .decode_type(text.trim())
            .map_err(|e| Error::Backend(format!("histogram is not base64: {e}")))?;
        if super::sparse::is_sparse(&bytes) {
            return super::sparse::read_into_histogram(&bytes);
        }
        Self::from_v2_bytes(&bytes)
    }

    /// Summary statistics (HdrHistogram's values for the same samples).
    pub fn summary(&self) -> LatencySummary {
        let total = self.total;
        let (Some((first, _)), Some((last, _))) = (self.buckets().next(), self.last_bucket())
        else {
            return LatencySummary::default();
        };
        let mean = layout::mean(self.buckets(), total, 0);
        let [p50_ns, p90_ns, p95_ns, p99_ns, p999_ns] =
            layout::quantiles(self.buckets(), total, 0, [0.50, 0.90, 0.95, 0.99, 0.999]);
        LatencySummary {
            count: total,
            min_ns: value_of(first),
            mean_ns: mean,
            stddev_ns: layout::stdev(self.buckets(), total, 0, mean),
            p50_ns,
            p90_ns,
            p95_ns,
            p99_ns,
            p999_ns,
            max_ns: layout::top(last, 0),
        }
    }

    fn last_bucket(&self) -> Option<(u32, u64)> {
        if let Some(&f) = self.pending.last() {
            return Some(unflat(f));
        }
        let (p, counts) = self
            .pages
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(p, page)| page.as_ref().map(|c| (p, c)))
            .find(|(_, c)| c.iter().any(|&n| n > 0))?;
        let k = counts.iter().rposition(|&n| n > 0)?;
        Some((((p << PAGE_BITS) + k) as u32, counts[k]))
    }

    /// The percentile spectrum: `(percentile, value_ns)` pairs as HdrHistogram plots
    /// draw them, with `ticks` steps per halving of the distance to 100%.
    pub fn spectrum(&self, ticks: u32) -> Vec<(f64, u64)> {
        if self.is_empty() {
            return Vec::new();
        }
        self.to_hdr()
            .iter_quantiles(ticks)
            .map(|v| (v.quantile_iterated_to() * 100.0, v.value_iterated_to()))
            .collect()
    }
}

impl PartialEq for LatencyHistogram {
    /// The same samples, however the pages were allocated.
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total && self.buckets().eq(other.buckets())
    }
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.summary();
        write!(
            f,
            "LatencyHistogram(n={}, p50={}ns, max={}ns)",
            s.count, s.p50_ns, s.max_ns
        )
    }
}

impl Serialize for LatencyHistogram {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for LatencyHistogram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::decode(&s).map_err(serde::de::Error::custom)
    }
}

/// HdrHistogram's V2 encoding, read straight into pages when its layout is lgb's.
mod v2 {
    use super::*;

    const V2_COOKIE: u32 = 0x1c84_9313;
    const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
    /// Cookie, payload length, normalizing offset, digits, lowest, highest, ratio.
    const HEADER: usize = 4 + 4 + 4 + 4 + 8 + 8 + 8;

    fn be_u32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }

    fn be_u64(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }

    /// `Ok(None)`: a valid header of another layout (the caller re-buckets it).
    pub(super) fn decode(bytes: &[u8]) -> std::result::Result<Option<LatencyHistogram>, String> {
        let plain;
        let bytes = match be_u32(bytes, 0) {
            Some(V2_COMPRESSED_COOKIE) => {
                let len = be_u32(bytes, 4).ok_or("truncated")? as usize;
                let body = bytes
                    .get(8..8 + len)
                    .ok_or("truncated compressed payload")?;
                // No histogram of lgb's layout inflates beyond a 9-byte varint per
                // counter; a larger stream is not one (and is not read to its end).
                let limit = HEADER + COUNTERS * 9;
                let mut out = Vec::with_capacity(len.saturating_mul(4).min(limit));
                flate2::read::ZlibDecoder::new(body)
                    .take(limit as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("bad compressed payload: {e}"))?;
                if out.len() > limit {
                    return Err(
                        "compressed payload inflates beyond any histogram of lgb's layout".into(),
                    );
                }
                plain = out;
                &plain[..]
            }
            Some(V2_COOKIE) => bytes,
            _ => return Err("unknown cookie".into()),
        };
        if be_u32(bytes, 0) != Some(V2_COOKIE) {
            return Err("unknown inner cookie".into());
        }
        let header = || -> Option<(usize, u32, u32, u64, u64)> {
            Some((
                be_u32(bytes, 4)? as usize,
                be_u32(bytes, 8)?,
                be_u32(bytes, 12)?,
                be_u64(bytes, 16)?,
                be_u64(bytes, 32)?,
            ))
        };
        let (len, offset, digits, lowest, ratio) = header().ok_or("truncated header")?;
        if offset != 0 || f64::from_bits(ratio) != 1.0 {
            // HdrHistogram's reader refuses these too.
            return Err("normalizing offset or conversion ratio not supported".into());
        }
        if lowest != 1 || digits != u32::from(SIGFIG) {
            return Ok(None);
        }
        let mut payload = bytes.get(HEADER..HEADER + len).ok_or("truncated payload")?;
        let mut out = LatencyHistogram::new();
        let (mut index, mut total) = (0usize, 0u64);
        while !payload.is_empty() {
            let v = varint::take_hdr(&mut payload).ok_or("truncated count")?;
            let n = ((v >> 1) as i64) ^ -((v & 1) as i64);
            if n < 0 {
                index = index.saturating_add(n.unsigned_abs() as usize);
            } else {
                if n > 0 {
                    if index >= COUNTERS {
                        return Err("histogram out of range: a value above 60 s".into());
                    }
                    // Each counter appears once, in order.
                    out.page_mut(index >> PAGE_BITS)[index & (PAGE - 1)] = n as u64;
                    total = total.saturating_add(n as u64);
                }
                // Saturating: skips of up to 2^63 each may already have put it there.
                index = index.saturating_add(1);
            }
        }
        out.total = total;
        Ok(Some(out))
    }
}

/// Summary of a latency distribution, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Smallest value.
    pub min_ns: u64,
    /// Mean.
    pub mean_ns: f64,
    /// Standard deviation.
    pub stddev_ns: f64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 95th percentile.
    pub p95_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest value.
    pub max_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize, seed: u64, spread: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Log-uniform-ish: a random power of two times a random mantissa.
                let e = (x >> 58) % spread;
                ((x >> 20) & 0xfff) << e
            })
            .collect()
    }

    #[test]
    fn encoding_round_trips_and_clamps() {
        let mut h = LatencyHistogram::new();
        for v in [0, 1, 999, 1_000_000, 120_000_000_000] {
            h.record_ns(v);
        }
        let back = LatencyHistogram::decode(&h.encode()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.len(), 5);
        // 120 s was clamped to the 60 s ceiling (within 0.1%).
        let max = back.summary().max_ns;
        assert!(
            (HIGHEST_NS..=HIGHEST_NS + HIGHEST_NS / 1000).contains(&max),
            "{max}"
        );
        assert!(LatencyHistogram::decode("not base64!").is_err());
        assert!(LatencyHistogram::decode("aGVsbG8=").is_err());
    }

    #[test]
    fn answers_exactly_as_hdrhistogram() {
        for (seed, spread) in [(1, 4), (2, 20), (3, 36)] {
            let mut ours = LatencyHistogram::new();
            let mut hdr = Histogram::<u64>::new_with_bounds(1, HIGHEST_NS, SIGFIG).unwrap();
            for v in samples(20_000, seed, spread) {
                ours.record_ns(v);
                hdr.saturating_record(v.min(HIGHEST_NS));
            }
            assert_eq!(ours.to_hdr(), hdr);
            let s = ours.summary();
            assert_eq!(s.count, hdr.len());
            assert_eq!(s.min_ns, hdr.min());
            assert_eq!(s.max_ns, hdr.max());
            assert_eq!(s.mean_ns.to_bits(), hdr.mean().to_bits());
            assert_eq!(s.stddev_ns.to_bits(), hdr.stdev().to_bits());
            for q in [0.0, 0.001, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 0.99999, 1.0] {
                assert_eq!(ours.quantile_ns(q), hdr.value_at_quantile(q), "q {q}");
            }
            // Through both V2 readers: ours, and HdrHistogram's (for the plain form).
            let back = LatencyHistogram::from_v2_bytes(&ours.to_v2_bytes()).unwrap();
            assert_eq!(back, ours);
            let mut plain = Vec::new();
            hdrhistogram::serialization::V2Serializer::new()
                .serialize(&hdr, &mut plain)
                .unwrap();
            assert_eq!(LatencyHistogram::from_v2_bytes(&plain).unwrap(), ours);
        }
    }

    #[test]
    fn other_layouts_are_rebucketed_and_bad_encodings_refused() {
        let mut coarse = Histogram::<u64>::new_with_bounds(1_000, 3_600_000_000_000, 2).unwrap();
        coarse.record_n(5_000, 3).unwrap();
        coarse.record(2_000_000).unwrap();
        let deflated = |h: &Histogram<u64>| {
            let mut bytes = Vec::new();
            V2DeflateSerializer::new().serialize(h, &mut bytes).unwrap();
            bytes
        };
        let h = LatencyHistogram::from_v2_bytes(&deflated(&coarse)).unwrap();
        assert_eq!(h.len(), 4);
        let median = h.quantile_ns(0.5);
        assert!(
            (coarse.lowest_equivalent(5_000)..=coarse.highest_equivalent(5_000)).contains(&median),
            "{median}"
        );
        // An hour does not fit in 60 s.
        coarse.record(3_000_000_000_000).unwrap();
        let e = LatencyHistogram::from_v2_bytes(&deflated(&coarse)).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let good = LatencyHistogram::new().to_v2_bytes();
        assert!(LatencyHistogram::from_v2_bytes(&good[..good.len() - 3]).is_err());
        assert!(LatencyHistogram::from_v2_bytes(&[0x1c, 0x84, 0x93, 0x14]).is_err());
    }

    /// A plain V2 encoding of lgb's layout with `payload` as its counts.
    fn v2_with(payload: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0x1c84_9313_u32.to_be_bytes());
        b.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&u32::from(SIGFIG).to_be_bytes());
        b.extend_from_slice(&1u64.to_be_bytes());
        b.extend_from_slice(&HIGHEST_NS.to_be_bytes());
        b.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        b.extend_from_slice(payload);
        b
    }

    /// HdrHistogram's zigzag varint of `n` (LEB128, the ninth byte whole).
    fn zigzag(n: i64) -> Vec<u8> {
        let mut v = ((n << 1) ^ (n >> 63)) as u64;
        let mut out = Vec::new();
        for _ in 0..8 {
            if v < 0x80 {
                out.push(v as u8);
                return out;
            }
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    }

    #[test]
    fn hostile_counts_and_skips_saturate() {
        // Two skips of 2^63 counters saturate the position; a zero count after them
        // must not step past `usize::MAX`, and a count there is out of range.
        let mut skips = [zigzag(i64::MIN), zigzag(i64::MIN)].concat();
        skips.extend(zigzag(0));
        assert!(LatencyHistogram::from_v2_bytes(&v2_with(&skips))
            .unwrap()
            .is_empty());
        skips.extend(zigzag(1));
        let e = LatencyHistogram::from_v2_bytes(&v2_with(&skips)).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        // Three counters of 2^63 - 1: the total saturates, and every statistic (whose
        // walk passes more than `u64::MAX` samples) still answers.
        let counts = [zigzag(i64::MAX), zigzag(i64::MAX), zigzag(i64::MAX)].concat();
        let mut h = LatencyHistogram::from_v2_bytes(&v2_with(&counts)).unwrap();
        assert_eq!(h.len(), u64::MAX);
        let s = h.summary();
        assert_eq!((s.count, s.min_ns, s.max_ns), (u64::MAX, 0, 2));
        assert_eq!(h.quantile_ns(1.0), 2);
        assert_eq!(LatencyHistogram::decode(&h.encode()).unwrap(), h);
        // Merged, the counts pass what the V2 encoding carries (`i64::MAX`): they are
        // written as that, not refused with a panic.
        let copy = h.clone();
        h.add(&copy);
        assert_eq!(h.len(), u64::MAX);
        assert!(h.buckets().all(|(_, n)| n == u64::MAX - 1));
        let back = LatencyHistogram::decode(&h.encode()).unwrap();
        assert_eq!(back, copy);
    }

    #[test]
    fn pages_are_allocated_where_latencies_fall() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.allocated_bytes(), 0);
        for v in 1_000..2_000u64 {
            h.record_ns(v * 10);
        }
        // 10–20 µs: one factor of two, four pages of 2 KiB, not 216 KiB.
        assert!(
            h.allocated_bytes() <= 5 * PAGE * 8,
            "{}",
            h.allocated_bytes()
        );
        let mut empty = LatencyHistogram::new();
        empty.add(&LatencyHistogram::new());
        assert_eq!(empty.allocated_bytes(), 0);
        let copy = h.clone();
        h.reset();
        assert!(h.is_empty());
        h.add(&copy);
        assert_eq!(h, copy);
        assert_eq!(h.summary(), copy.summary());
    }

    #[test]
    fn a_workers_sparse_histogram_stays_a_list_of_buckets_until_changed() {
        let mut paged = LatencyHistogram::new();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            paged.record_ns(100_000 + x % 9_000_000_000);
        }
        paged.record_n(5_000, 1 << 40);
        let sparse = crate::metrics::SparseHistogram::from_histogram(&paged).encode();
        let read = LatencyHistogram::decode(&sparse).unwrap();
        // No page: 8 bytes per occupied bucket.
        assert!(read.pages.is_empty());
        assert_eq!(read.allocated_bytes(), 8 * paged.buckets().count());
        assert_eq!(read, paged);
        assert_eq!(read.summary(), paged.summary());
        assert_eq!(read.quantile_ns(0.999), paged.quantile_ns(0.999));
        assert_eq!(read.to_v2_bytes(), paged.to_v2_bytes());
        // Merged either way, into either: the same.
        let mut a = paged.clone();
        a.add(&read);
        let mut b = read.clone();
        b.add(&paged);
        let mut c = read.clone();
        c.add(&read);
        let mut d = paged.clone();
        d.add(&paged);
        for h in [&a, &b, &c] {
            assert_eq!(h, &d);
            assert_eq!(h.summary(), d.summary());
            assert!(h.pending.is_empty());
        }
        let mut e = LatencyHistogram::new();
        e.add(&read);
        assert_eq!(e, paged);
        // A sample recorded, or a reset, goes through pages.
        let mut f = read.clone();
        f.record_ns(7_000);
        paged.record_ns(7_000);
        assert_eq!(f, paged);
        let mut g = read.clone();
        g.reset();
        assert!(g.is_empty() && g.buckets().next().is_none());
        // A count of 2^48 or more is read into pages, and saturates as they do.
        let mut huge = LatencyHistogram::new();
        huge.record_n(5_000, u64::MAX - 1);
        huge.record_ns(9_000);
        let read = LatencyHistogram::decode(
            &crate::metrics::SparseHistogram::from_histogram(&huge).encode(),
        )
        .unwrap();
        assert!(!read.pages.is_empty());
        assert_eq!(read, huge);
        let mut twice = read.clone();
        twice.add(&read);
        assert_eq!(twice.len(), u64::MAX);
    }

    #[test]
    fn quantiles_are_within_precision() {
        let mut h = LatencyHistogram::new();
        for v in 1..=10_000u64 {
            h.record_ns(v * 1_000);
        }
        let s = h.summary();
        let within =
            |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.001 + 1.0;
        assert!(within(s.p50_ns, 5_000_000), "{}", s.p50_ns);
        assert!(within(s.p99_ns, 9_900_000), "{}", s.p99_ns);
        assert!(within(s.max_ns, 10_000_000), "{}", s.max_ns);
        let spectrum = h.spectrum(5);
        assert!(spectrum.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!((spectrum.last().unwrap().0 - 100.0).abs() < 1e-9);
    }
}
