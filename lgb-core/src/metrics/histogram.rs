//! [`LatencyHistogram`]: an HdrHistogram of nanoseconds that serializes to the standard
//! compressed V2 encoding (base64 in JSON), so histograms from many workers merge exactly.

use std::fmt;

use base64::Engine;
use hdrhistogram::serialization::{
    Deserializer as HdrDeserializer, Serializer as _, V2DeflateSerializer,
};
use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Highest latency tracked exactly: 60 s. Slower operations are recorded as 60 s.
pub const HIGHEST_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept: 3, so any value is within 0.1% of the truth.
pub const SIGFIG: u8 = 3;

/// Latencies in nanoseconds, from 1 ns (and so from 1 µs upwards at full precision)
/// to 60 s, with 3 significant digits.
///
/// ```
/// use lgb_core::metrics::LatencyHistogram;
/// let mut a = LatencyHistogram::new();
/// a.record_ns(1_000);
/// let mut b = LatencyHistogram::new();
/// b.record_ns(3_000);
/// a.add(&b).unwrap();
/// assert_eq!(a.len(), 2);
/// let text = a.encode();
/// assert_eq!(LatencyHistogram::decode(&text).unwrap(), a);
/// ```
#[derive(Clone, PartialEq)]
pub struct LatencyHistogram(Histogram<u64>);

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self(
            Histogram::new_with_bounds(1, HIGHEST_NS, SIGFIG)
                .expect("constant histogram bounds are valid"),
        )
    }

    /// Records one latency in nanoseconds (clamped to 60 s).
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.0.saturating_record(ns.min(HIGHEST_NS));
    }

    /// Records `count` latencies of `ns` nanoseconds.
    pub fn record_n(&mut self, ns: u64, count: u64) {
        // Cannot fail: the value is clamped into range and the counter saturates.
        let _ = self.0.record_n(ns.min(HIGHEST_NS), count);
    }

    /// Adds every sample of `other` (exact: same bucket layout).
    pub fn add(&mut self, other: &LatencyHistogram) -> Result<()> {
        self.0
            .add(&other.0)
            .map_err(|e| Error::Internal(format!("cannot merge histograms: {e:?}")))
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Clears all samples, keeping the allocation.
    pub fn reset(&mut self) {
        self.0.reset();
    }

    /// The underlying HdrHistogram.
    pub fn inner(&self) -> &Histogram<u64> {
        &self.0
    }

    /// Value at quantile `q` (0..=1), in nanoseconds.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        self.0.value_at_quantile(q)
    }

    /// The compressed V2 encoding (HdrHistogram's standard wire form).
    pub fn to_v2_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut out)
            .expect("serializing to memory cannot fail");
        out
    }

    /// Decodes the compressed (or plain) V2 encoding.
    pub fn from_v2_bytes(bytes: &[u8]) -> Result<Self> {
        let h: Histogram<u64> = HdrDeserializer::new()
            .deserialize(&mut std::io::Cursor::new(bytes))
            .map_err(|e| Error::Backend(format!("not an HdrHistogram V2 encoding: {e:?}")))?;
        // Re-home into the standard layout so that merging is always exact.
        let mut out = Self::new();
        out.0
            .add(&h)
            .map_err(|e| Error::Backend(format!("histogram out of range: {e:?}")))?;
        Ok(out)
    }

    /// Base64 of the compressed V2 encoding, as stored in results.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_v2_bytes())
    }

    /// Decodes [`LatencyHistogram::encode`]'s output.
    pub fn decode(text: &str) -> Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| Error::Backend(format!("histogram is not base64: {e}")))?;
        Self::from_v2_bytes(&bytes)
    }

    /// Summary statistics.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min_ns: h.min(),
            mean_ns: h.mean(),
            stddev_ns: h.stdev(),
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p95_ns: h.value_at_quantile(0.95),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
        }
    }

    /// The percentile spectrum: `(percentile, value_ns)` pairs as HdrHistogram plots
    /// draw them, with `ticks` steps per halving of the distance to 100%.
    pub fn spectrum(&self, ticks: u32) -> Vec<(f64, u64)> {
        if self.0.is_empty() {
            return Vec::new();
        }
        self.0
            .iter_quantiles(ticks)
            .map(|v| (v.quantile_iterated_to() * 100.0, v.value_iterated_to()))
            .collect()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
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
        let s = String::deserialize(d)?;
        Self::decode(&s).map_err(serde::de::Error::custom)
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
