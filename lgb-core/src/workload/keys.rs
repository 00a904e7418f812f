//! Key choosers (YCSB's request distributions) and the key format.
//!
//! Zipfian keys are drawn exactly from the zipfian law ([`ZipfianTable`]); YCSB's
//! `ZipfianGenerator` uses Gray et al.'s faster approximation, which a chi-square test
//! against the law rejects (it over-weights ranks 2 to 10).

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::Rng;

pub use crate::config::{Distribution, ZIPFIAN_THETA};

/// A zipfian distribution over ranks `0..n`: rank `i` has probability
/// `1/(i+1)^theta / ζ(n, theta)`. Sampling is exact (rejection-inversion, Hörmann and
/// Derflinger 1996) and O(1); built once per worker and shared by its tasks.
#[derive(Debug, Clone)]
pub struct ZipfianTable {
    n: u64,
    theta: f64,
    zetan: f64,
    zipf: rand_distr::Zipf<f64>,
}

/// ζ(n, θ) = Σ_{i=1..n} 1/i^θ.
pub fn zeta(n: u64, theta: f64) -> f64 {
    (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum()
}

/// ζ(n, θ) for large `n`: the first 10^5 terms summed, the rest by Euler-Maclaurin
/// (relative error far below 10^-12 for θ near 1).
pub fn zeta_estimate(n: u64, theta: f64) -> f64 {
    let m: u64 = 100_000;
    if n <= m {
        return zeta(n, theta);
    }
    let (mf, nf) = (m as f64, n as f64);
    let integral = if (theta - 1.0).abs() < 1e-12 {
        (nf / mf).ln()
    } else {
        (nf.powf(1.0 - theta) - mf.powf(1.0 - theta)) / (1.0 - theta)
    };
    zeta(m, theta) + integral - mf.powf(-theta) / 2.0
        + nf.powf(-theta) / 2.0
        + theta / 12.0 * (mf.powf(-theta - 1.0) - nf.powf(-theta - 1.0))
}

impl ZipfianTable {
    /// A distribution over `n` items with skew `theta` (> 0).
    pub fn new(n: u64, theta: f64) -> Self {
        let n = n.max(1);
        let theta = if theta.is_finite() && theta > 0.0 {
            theta
        } else {
            ZIPFIAN_THETA
        };
        Self {
            n,
            theta,
            // ζ is only needed for reports and tests; huge key spaces (the 10^10 items
            // of the scrambled law) get the Euler-Maclaurin estimate.
            zetan: if n <= 1_000_000 {
                zeta(n, theta)
            } else {
                zeta_estimate(n, theta)
            },
            zipf: rand_distr::Zipf::new(n, theta).expect("n >= 1 and theta > 0 were checked"),
        }
    }

    /// A rank in `0..n`; rank 0 is the most popular.
    #[inline]
    pub fn sample(&self, rng: &mut SmallRng) -> u64 {
        let r: f64 = rand_distr::Distribution::sample(&self.zipf, rng);
        (r as u64).clamp(1, self.n) - 1
    }

    /// Items of the law.
    pub fn items(&self) -> u64 {
        self.n
    }

    /// The probability of rank `i` (0-based), for tests and reports.
    pub fn probability(&self, i: u64) -> f64 {
        1.0 / ((i + 1) as f64).powf(self.theta) / self.zetan
    }
}

/// 64-bit FNV-1a of a number's eight little-endian bytes.
#[inline]
pub fn fnv1a64(v: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// YCSB's `Utils.fnvhash64`: [`fnv1a64`] read as a signed Java `long`, then
/// `Math.abs` (its one negative result, for `Long.MIN_VALUE`, is taken as 2^63 here).
#[inline]
pub fn ycsb_fnvhash64(v: u64) -> u64 {
    (fnv1a64(v) as i64).unsigned_abs()
}

/// Items of the zipfian law under YCSB's `ScrambledZipfianGenerator` (its
/// `ITEM_COUNT`): ranks are drawn over 10^10 items and hashed onto the key space, so
/// the popularity of keys does not depend on how many there are.
pub const SCRAMBLED_ITEMS: u64 = 10_000_000_000;

/// Chooses key numbers for one task.
#[derive(Debug, Clone)]
pub enum KeyChooser {
    /// See [`Distribution::Uniform`].
    Uniform {
        /// Items.
        n: u64,
    },
    /// See [`Distribution::Zipfian`].
    Zipfian(Arc<ZipfianTable>),
    /// See [`Distribution::ScrambledZipfian`]: a rank over [`SCRAMBLED_ITEMS`] items
    /// (the table), hashed onto `0..n`.
    Scrambled {
        /// Zipfian law over [`SCRAMBLED_ITEMS`] ranks.
        table: Arc<ZipfianTable>,
        /// Items.
        n: u64,
    },
    /// See [`Distribution::Latest`].
    Latest(Arc<ZipfianTable>),
    /// See [`Distribution::Hotspot`].
    Hotspot {
        /// Items.
        n: u64,
        /// Hot items (the first `hot` numbers).
        hot: u64,
        /// Probability of a hot item.
        hot_ops: f64,
    },
    /// See [`Distribution::Sequential`].
    Sequential {
        /// Items.
        n: u64,
        /// Next number.
        next: u64,
        /// Stride between this task's numbers.
        step: u64,
    },
}

impl KeyChooser {
    /// A chooser over `n` items. `table` is a shared zipfian table for zipfian kinds
    /// (built with [`KeyChooser::table_for`]); `slot`/`slots` place a sequential
    /// chooser's slice among all tasks of all workers.
    pub fn new(
        dist: &Distribution,
        n: u64,
        table: Option<Arc<ZipfianTable>>,
        slot: u64,
        slots: u64,
    ) -> Self {
        let n = n.max(1);
        let zipf_table = || {
            table
                .clone()
                .unwrap_or_else(|| Arc::new(ZipfianTable::new(n, ZIPFIAN_THETA)))
        };
        match *dist {
            Distribution::Uniform => KeyChooser::Uniform { n },
            Distribution::Zipfian { .. } => KeyChooser::Zipfian(zipf_table()),
            Distribution::ScrambledZipfian { theta } => KeyChooser::Scrambled {
                table: match table {
                    Some(t) if t.n == SCRAMBLED_ITEMS => t,
                    _ => Arc::new(ZipfianTable::new(SCRAMBLED_ITEMS, theta)),
                },
                n,
            },
            Distribution::Latest { .. } => KeyChooser::Latest(zipf_table()),
            Distribution::Hotspot {
                hot_fraction,
                hot_ops,
            } => KeyChooser::Hotspot {
                n,
                hot: ((n as f64 * hot_fraction) as u64).clamp(1, n),
                hot_ops,
            },
            Distribution::Sequential => KeyChooser::Sequential {
                n,
                next: slot % n,
                step: slots.max(1),
            },
        }
    }

    /// The shared table a distribution needs over `n` items, if any.
    pub fn table_for(dist: &Distribution, n: u64) -> Option<Arc<ZipfianTable>> {
        match *dist {
            Distribution::Zipfian { theta } | Distribution::Latest { theta } => {
                Some(Arc::new(ZipfianTable::new(n, theta)))
            }
            Distribution::ScrambledZipfian { theta } => {
                Some(Arc::new(ZipfianTable::new(SCRAMBLED_ITEMS, theta)))
            }
            _ => None,
        }
    }

    /// The next key number. `latest` is the highest key number written so far (used by
    /// the `latest` distribution).
    #[inline]
    pub fn next(&mut self, rng: &mut SmallRng, latest: u64) -> u64 {
        match self {
            KeyChooser::Uniform { n } => rng.gen_range(0..*n),
            KeyChooser::Zipfian(t) => t.sample(rng),
            KeyChooser::Scrambled { table, n } => ycsb_fnvhash64(table.sample(rng)) % *n,
            KeyChooser::Latest(t) => latest.saturating_sub(t.sample(rng)),
            KeyChooser::Hotspot { n, hot, hot_ops } => {
                if *hot >= *n || rng.gen::<f64>() < *hot_ops {
                    rng.gen_range(0..*hot)
                } else {
                    rng.gen_range(*hot..*n)
                }
            }
            KeyChooser::Sequential { n, next, step } => {
                let v = *next;
                *next = (*next + *step) % *n;
                v
            }
        }
    }
}

/// Formats key numbers as `prefix` + 12 zero-padded digits, so that keys sort in
/// numeric order (range scans rely on it), without allocating.
#[derive(Debug, Clone)]
pub struct KeyFormatter {
    prefix: String,
}

/// Digits after the prefix.
pub const KEY_DIGITS: usize = 12;

impl KeyFormatter {
    /// Keys with `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// Writes the key of number `id` into `buf`, replacing its contents. Numbers of more
    /// than [`KEY_DIGITS`] digits keep their last ones, so every key has one width.
    #[inline]
    pub fn write(&self, id: u64, buf: &mut String) {
        const ZEROS: &str = "000000000000";
        // itoa writes two digits per step; a digit loop plus the UTF-8 check of its
        // bytes cost about 300 instructions, as much as the rest of an operation.
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(id % 10u64.pow(KEY_DIGITS as u32));
        buf.clear();
        buf.push_str(&self.prefix);
        buf.push_str(&ZEROS[digits.len()..]);
        buf.push_str(digits);
    }

    /// The key of number `id` as a new string.
    pub fn key(&self, id: u64) -> String {
        let mut s = String::with_capacity(self.prefix.len() + KEY_DIGITS);
        self.write(id, &mut s);
        s
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(7)
    }

    #[test]
    fn keys_are_padded_and_sort_numerically() {
        let f = KeyFormatter::new("user");
        assert_eq!(f.key(42), "user000000000042");
        assert!(f.key(9) < f.key(10));
        for id in [0, 7, 10, 99_999, 123_456_789_012, 999_999_999_999, u64::MAX] {
            let want = format!("user{:012}", id % 1_000_000_000_000);
            assert_eq!(f.key(id), want);
        }
        let mut buf = "left over from before".to_string();
        KeyFormatter::new("").write(5, &mut buf);
        assert_eq!(buf, "000000000005");
    }

    /// Pearson's chi-square over the top ranks (plus one bucket for the rest) against
    /// the theoretical zipfian probabilities.
    #[test]
    fn zipfian_matches_theory_chi_square() {
        let n = 1000;
        let t = Arc::new(ZipfianTable::new(n, 0.99));
        let mut c = KeyChooser::new(&Distribution::default(), n, Some(t.clone()), 0, 1);
        let mut r = rng();
        let samples = 200_000u64;
        let top = 20usize;
        let mut counts = vec![0u64; top + 1];
        for _ in 0..samples {
            let k = c.next(&mut r, 0) as usize;
            assert!(k < n as usize);
            counts[k.min(top)] += 1;
        }
        let mut expected: Vec<f64> = (0..top)
            .map(|i| t.probability(i as u64) * samples as f64)
            .collect();
        expected.push(samples as f64 - expected.iter().sum::<f64>());
        let chi2: f64 = counts
            .iter()
            .zip(&expected)
            .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
            .sum();
        // 20 degrees of freedom: the 99.9% critical value is 45.3.
        assert!(chi2 < 45.3, "chi2 {chi2}, counts {counts:?}");
        // The skew is real: rank 0 alone takes far more than a uniform share.
        assert!(counts[0] as f64 > 50.0 * samples as f64 / n as f64);
    }

    #[test]
    fn latest_prefers_the_newest_keys() {
        let n = 10_000;
        let t = KeyChooser::table_for(&Distribution::Latest { theta: 0.99 }, n);
        let mut c = KeyChooser::new(&Distribution::Latest { theta: 0.99 }, n, t, 0, 1);
        let mut r = rng();
        let latest = 50_000;
        let draws: Vec<u64> = (0..100_000).map(|_| c.next(&mut r, latest)).collect();
        assert!(draws.iter().all(|&k| k <= latest));
        let newest_10 =
            draws.iter().filter(|&&k| k > latest - 10).count() as f64 / draws.len() as f64;
        let expected: f64 = (0..10).map(|i| c_prob(n, i)).sum();
        assert!(
            (newest_10 - expected).abs() < 0.01,
            "{newest_10} vs {expected}"
        );
        assert!(newest_10 > 0.25, "{newest_10}");
    }

    fn c_prob(n: u64, i: u64) -> f64 {
        ZipfianTable::new(n, 0.99).probability(i)
    }

    #[test]
    fn scrambled_spreads_popularity_and_hotspot_respects_fraction() {
        let n = 1000;
        let t = KeyChooser::table_for(&Distribution::ScrambledZipfian { theta: 0.99 }, n);
        let mut c = KeyChooser::new(&Distribution::ScrambledZipfian { theta: 0.99 }, n, t, 0, 1);
        let mut r = rng();
        let low = (0..50_000).filter(|_| c.next(&mut r, 0) < 100).count();
        // Plain zipfian puts ~70% of draws below 100; scrambling spreads them out.
        assert!(low < 35_000, "{low}");

        let d = Distribution::Hotspot {
            hot_fraction: 0.1,
            hot_ops: 0.9,
        };
        let mut c = KeyChooser::new(&d, n, None, 0, 1);
        let hot = (0..100_000).filter(|_| c.next(&mut r, 0) < 100).count() as f64 / 100_000.0;
        assert!((hot - 0.9).abs() < 0.01, "{hot}");
    }

    #[test]
    fn zeta_of_ten_billion_items_matches_ycsb() {
        // YCSB's ScrambledZipfianGenerator.ZETAN, precomputed for 10^10 items at 0.99.
        let z = zeta_estimate(SCRAMBLED_ITEMS, 0.99);
        assert!((z - 26.469_028_201_783_02).abs() < 1e-6, "{z}");
        let exact = zeta(2_000_000, 0.99);
        assert!((zeta_estimate(2_000_000, 0.99) - exact).abs() < 1e-9);
    }

    #[test]
    fn ycsb_fnv_hash_matches_ycsb() {
        // Utils.fnvhash64 of YCSB 0.17 (FNV-1a over the 8 bytes low first, Java signed
        // arithmetic, Math.abs), computed by an independent transcription.
        for (v, want) in [
            (0, 6_284_781_860_667_377_211),
            (1, 8_517_097_267_634_966_620),
            (42, 55_488_592_825_689_361),
            (123_456_789, 2_350_796_791_908_741_607),
        ] {
            assert_eq!(ycsb_fnvhash64(v), want, "fnvhash64({v})");
        }
    }

    #[test]
    fn sequential_slices_cover_every_key_once() {
        let n = 10;
        let mut seen = vec![0; n as usize];
        for slot in 0..3 {
            let mut c = KeyChooser::new(&Distribution::Sequential, n, None, slot, 3);
            let mut r = rng();
            let count = (n - slot).div_ceil(3);
            for _ in 0..count {
                seen[c.next(&mut r, 0) as usize] += 1;
            }
        }
        assert_eq!(seen, vec![1; n as usize]);
    }

    #[test]
    fn bad_parameters_name_their_path() {
        let p = Distribution::Zipfian { theta: -1.0 }.problems("workload.distribution");
        assert_eq!(p[0].path, "workload.distribution.theta");
        assert!(Distribution::Uniform.problems("x").is_empty());
    }
}
