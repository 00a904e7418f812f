//! Key choosers (YCSB's request distributions) and the key format.
//!
//! `zipfian`, `scrambled_zipfian` and `latest` draw ranks exactly as YCSB 0.17's
//! `ZipfianGenerator` does ([`YcsbZipfian`]: Gray et al.'s approximation of the
//! zipfian law, its ζ handling, and for the scrambled chooser its precomputed ζ of
//! 10^10 items and `fnvhash64`); the approximation puts more weight on ranks 2 to 10
//! than the law. `exact_zipfian` samples the law itself ([`ZipfianTable`]).

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::Rng;

use crate::config::{Distribution, ZIPFIAN_THETA};

/// The exact zipfian law over ranks `0..n` (the `exact_zipfian` distribution): rank
/// `i` has probability `1/(i+1)^theta / ζ(n, theta)`. Sampling is exact
/// (rejection-inversion, Hörmann and Derflinger 1996) and O(1); built once per worker
/// and shared by its tasks.
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

/// ζ(to, θ) from ζ(from, θ) = `zeta_from`, adding the terms `from+1 ..= to` in order
/// as YCSB's incremental `zeta(st, n, theta, initialsum)` does; a jump of more than
/// 10^5 terms is computed afresh with [`zeta_estimate`].
pub fn zeta_grown(from: u64, to: u64, theta: f64, zeta_from: f64) -> f64 {
    if to <= from {
        return zeta_from;
    }
    if to - from > 100_000 {
        return zeta_estimate(to, theta);
    }
    (from + 1..=to).fold(zeta_from, |sum, i| sum + 1.0 / (i as f64).powf(theta))
}

/// `x`^`n` by repeated squaring, multiplied in the order of `f64::powi`'s (so the
/// same bits), without its call.
#[inline]
fn power(mut x: f64, mut n: u32) -> f64 {
    let mut r = 1.0;
    loop {
        if n & 1 == 1 {
            r *= x;
        }
        n >>= 1;
        if n == 0 {
            return r;
        }
        x *= x;
    }
}

/// `a % n` for one `n` and many `a`, by Lemire's direct computation of the
/// remainder (two 128-bit multiplications, where a 64-bit division takes 40–90
/// cycles): the scrambled distributions take one per draw.
///
/// ```
/// use lgb_core::workload::keys::Modulus;
/// let m = Modulus::new(10_000);
/// assert_eq!((m.rem(u64::MAX), m.n()), (u64::MAX % 10_000, 10_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modulus {
    n: u64,
    /// ⌊(2^128 − 1) / n⌋ + 1, wrapped (0 for `n` = 1, whose remainders are all 0).
    m: u128,
}

impl Modulus {
    /// Remainders by `n`; `n` = 0 gives remainders of 0 (an empty key space has
    /// no key to choose, and the caller never asks it for one).
    pub fn new(n: u64) -> Self {
        let m = match n {
            0 => 0,
            n => (u128::MAX / u128::from(n)).wrapping_add(1),
        };
        Self { n, m }
    }

    /// The divisor.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// `a % n`.
    #[inline]
    pub fn rem(&self, a: u64) -> u64 {
        let low = self.m.wrapping_mul(u128::from(a));
        let n = u128::from(self.n);
        let bottom = ((low as u64 as u128) * n) >> 64;
        let top = (low >> 64) * n;
        ((bottom + top) >> 64) as u64
    }
}

/// `alpha` as a whole number when it is one to within 10^-9 (1/(1 − 0.99) is
/// 99.99999999999991 in binary floating point), between 1 and 1,024.
fn whole(alpha: f64) -> Option<u32> {
    let n = alpha.round();
    ((1.0..=1024.0).contains(&n) && (alpha - n).abs() < 1e-9).then_some(n as u32)
}

/// YCSB's precomputed ζ(10^10, 0.99) (`ScrambledZipfianGenerator.ZETAN`).
pub const SCRAMBLED_ZETAN: f64 = 26.469_028_201_783_02;

/// The rank generator of YCSB 0.17's `ZipfianGenerator` (Gray et al., "Quickly
/// Generating Billion-Record Synthetic Databases", SIGMOD 1994), over ranks
/// `0..items`: with `u` uniform in [0, 1), rank 0 when `u·ζ(n) < 1`, rank 1 when
/// `u·ζ(n) < 1 + 0.5^θ`, otherwise `⌊n · (η·u − η + 1)^α⌋` with `α = 1/(1−θ)` and
/// `η = (1 − (2/items)^(1−θ)) / (1 − ζ(2)/ζ(n))`. An approximation of the zipfian
/// law: it puts more weight on ranks 2 to 10 (10,000 items, θ 0.99: the first 10
/// ranks take 30.3% of the draws against the law's 28.9%). One `pow` per draw.
///
/// Built once per worker and shared by its tasks; a chooser whose item count grows
/// (`latest`) keeps its own ζ and η ([`YcsbZipfian::grown`]). At θ = 1, where
/// YCSB's α and η are undefined, the formula's limit `⌊n · e^{c(u−1)}⌋`,
/// `c = ln(items/2) / (1 − ζ(2)/ζ(n))`, is used.
#[derive(Debug, Clone, PartialEq)]
pub struct YcsbZipfian {
    items: u64,
    theta: f64,
    alpha: f64,
    zeta2theta: f64,
    zetan: f64,
    eta: f64,
    /// θ = 1: the exponential limit of the formula.
    limit: bool,
    /// α when it is a whole number (θ 0.99 gives 100, 0.9 gives 10, 0.5 gives 2): the
    /// power is then taken by repeated squaring, about a third of a log and an exp.
    whole_alpha: Option<u32>,
}

impl YcsbZipfian {
    /// The generator over `items` ranks with skew `theta` (> 0), ζ(items) computed as
    /// YCSB's `zetastatic` (summed exactly up to 10^5 items, beyond by
    /// [`zeta_estimate`]).
    pub fn new(items: u64, theta: f64) -> Self {
        let theta = valid_theta(theta);
        Self::with_zetan(items, theta, zeta_estimate(items, theta))
    }

    /// The generator over `items` ranks with a given ζ(items) (YCSB's four-argument
    /// constructor).
    pub fn with_zetan(items: u64, theta: f64, zetan: f64) -> Self {
        let theta = valid_theta(theta);
        let limit = theta == 1.0;
        let alpha = if limit { 0.0 } else { 1.0 / (1.0 - theta) };
        let mut g = Self {
            items,
            theta,
            alpha,
            zeta2theta: zeta(2, theta),
            zetan,
            eta: 0.0,
            limit,
            whole_alpha: whole(alpha),
        };
        g.eta = g.eta_for(zetan);
        g
    }

    /// YCSB's `ScrambledZipfianGenerator` ranks: `new ZipfianGenerator(0, ITEM_COUNT,
    /// θ, ZETAN)`, that is [`SCRAMBLED_ITEMS`]` + 1` ranks, with the precomputed
    /// [`SCRAMBLED_ZETAN`] at θ 0.99 and ζ(10^10 + 1, θ) by [`zeta_estimate`] otherwise
    /// (YCSB sums 10^10 terms).
    pub fn scrambled(theta: f64) -> Self {
        let theta = valid_theta(theta);
        let items = SCRAMBLED_ITEMS + 1;
        let zetan = if theta == ZIPFIAN_THETA {
            SCRAMBLED_ZETAN
        } else {
            zeta_estimate(items, theta)
        };
        Self::with_zetan(items, theta, zetan)
    }

    /// η for a given ζ(n): YCSB computes it from the constructor's item count even
    /// after the count grew, and so does this.
    fn eta_for(&self, zetan: f64) -> f64 {
        let n = self.items as f64;
        let denominator = 1.0 - self.zeta2theta / zetan;
        if self.limit {
            (n / 2.0).ln() / denominator
        } else {
            (1.0 - (2.0 / n).powf(1.0 - self.theta)) / denominator
        }
    }

    /// Ranks the generator was built for.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// The skew θ.
    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// ζ(items, θ) as the generator uses it.
    pub fn zetan(&self) -> f64 {
        self.zetan
    }

    /// ζ and η once the item count has grown from `count` (ζ = `zetan`) to `items`:
    /// YCSB's incremental recomputation in `nextLong`. A count that shrank keeps both,
    /// as YCSB does unless told to allow it.
    pub fn grown(&self, count: u64, zetan: f64, items: u64) -> (f64, f64) {
        let z = zeta_grown(count, items, self.theta, zetan);
        (z, self.eta_for(z))
    }

    /// A rank in `0..items`, drawn as YCSB's `nextValue()`.
    #[inline]
    pub fn sample(&self, rng: &mut SmallRng) -> u64 {
        self.rank_of(rng.gen::<f64>())
    }

    /// The rank of uniform `u` in `0..items` (YCSB's `nextValue()` once it has drawn
    /// `u`).
    #[inline]
    pub fn rank_of(&self, u: f64) -> u64 {
        self.rank(u, self.items, self.zetan, self.eta)
    }

    /// The rank of uniform `u` over `itemcount` ranks with ζ `zetan` and η `eta`
    /// (YCSB's `nextLong(itemcount)` after its ζ update). Always below `itemcount`
    /// (or 0).
    #[inline]
    pub fn rank(&self, u: f64, itemcount: u64, zetan: f64, eta: f64) -> u64 {
        let uz = u * zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < self.zeta2theta {
            return 1.min(itemcount.saturating_sub(1));
        }
        // (η·u − η + 1)^α by repeated squaring when α is whole, otherwise as
        // e^(α·ln(η·u − η + 1)): a log and an exp cost about half of libm's `pow`
        // (which keeps extra precision for arguments this formula never has). Either
        // differs from `pow` in its last bits only, which moves a rank only where it is
        // a hair from a boundary (`powers_agree_with_pow` counts how often).
        let base = eta * u - eta + 1.0;
        let x = if self.limit {
            (eta * (u - 1.0)).exp()
        } else if let Some(n) = self.whole_alpha {
            power(base, n)
        } else {
            (self.alpha * base.ln()).exp()
        };
        // `as` saturates (NaN of a degenerate count to 0); YCSB's cast cannot reach
        // `itemcount` for u < 1 but rounding could.
        ((itemcount as f64 * x) as u64).min(itemcount.saturating_sub(1))
    }

    /// P(rank ≤ `k`) over the generator's own items: the measure of the `u` that give
    /// such a rank, from the formula's inverse.
    pub fn cdf(&self, k: u64) -> f64 {
        self.cdf_with(k, self.items, self.zetan, self.eta)
    }

    /// P(rank ≤ `k`) of [`YcsbZipfian::rank`] over `itemcount` ranks with `zetan`
    /// and `eta` (those of a grown count: [`YcsbZipfian::grown`]).
    pub fn cdf_with(&self, k: u64, itemcount: u64, zetan: f64, eta: f64) -> f64 {
        if k.saturating_add(1) >= itemcount {
            return 1.0;
        }
        let c0 = (1.0 / zetan).min(1.0);
        let c1 = (self.zeta2theta / zetan).min(1.0);
        let t = (k + 1) as f64 / itemcount as f64;
        let v = if self.limit {
            1.0 + t.ln() / eta
        } else {
            1.0 + (t.powf(1.0 - self.theta) - 1.0) / eta
        };
        let base = if k == 0 { c0 } else { c1 };
        // `f64::min` of NaN (a degenerate η) is the other operand.
        (base + (v.min(1.0) - c1).max(0.0)).clamp(0.0, 1.0)
    }

    /// The probability of rank `k` (0-based), for tests and reports.
    pub fn probability(&self, k: u64) -> f64 {
        match k {
            0 => self.cdf(0),
            _ => self.cdf(k) - self.cdf(k - 1),
        }
    }
}

/// θ as the generators use it: a valid one, or YCSB's 0.99 (validation refuses
/// others before a run; this keeps library callers from NaN ranks).
fn valid_theta(theta: f64) -> f64 {
    if theta.is_finite() && theta > 0.0 {
        theta
    } else {
        ZIPFIAN_THETA
    }
}

impl ZipfianTable {
    /// A distribution over `n` items with skew `theta` (> 0).
    pub fn new(n: u64, theta: f64) -> Self {
        let n = n.max(1);
        let theta = valid_theta(theta);
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

/// Key numbers or ranks drawn this many at a time ([`Ahead`]).
const AHEAD: usize = 8;

/// Draws of a zipfian chooser made ahead, [`AHEAD`] at a time. A YCSB draw is one
/// chain of dependent steps (the power's squarings, then for the scrambled chooser
/// `fnvhash64`'s eight multiplications and the remainder), about 100 cycles from the
/// uniform to the key number: drawn one per operation, each waited for its chain;
/// drawn in a batch, the processor runs the independent chains side by side (ycsb-a
/// on `noop`: 10% less CPU per operation). Each key is still YCSB's function of one
/// uniform of the task's seeded generator; what changes is which of the task's
/// uniforms go to keys and which to the operation mix, and since the uniforms are
/// independent of each other, neither law moves. Only the choosers whose law does not
/// change during a test draw ahead (`zipfian`, `scrambled_zipfian`), not `latest`,
/// whose ranks follow the newest key. The executor refills a used-up batch between
/// operations ([`KeyChooser::prepare`]), so that no operation's latency carries a
/// batch's draws (a key drawn one at a time was inside it, as the rest of the request's
/// making still is).
#[derive(Debug, Clone)]
pub struct Ahead {
    values: [u64; AHEAD],
    /// Index of the next value to hand out; [`AHEAD`] when all are used.
    next: usize,
}

impl Default for Ahead {
    fn default() -> Self {
        Self {
            values: [0; AHEAD],
            next: AHEAD,
        }
    }
}

impl Ahead {
    /// Draws [`AHEAD`] uniforms from `rng` and maps each with `draw`, if every value
    /// drawn before is used.
    #[inline]
    fn refill(&mut self, rng: &mut SmallRng, draw: impl Fn(f64) -> u64) {
        if self.next >= AHEAD {
            let uniforms: [f64; AHEAD] = std::array::from_fn(|_| rng.gen::<f64>());
            for (v, u) in self.values.iter_mut().zip(uniforms) {
                *v = draw(u);
            }
            self.next = 0;
        }
    }

    /// The next value, refilling first ([`Ahead::refill`]) when none is left.
    #[inline]
    fn next(&mut self, rng: &mut SmallRng, draw: impl Fn(f64) -> u64) -> u64 {
        self.refill(rng, draw);
        let v = self.values.get(self.next).copied().unwrap_or_default();
        self.next += 1;
        v
    }
}

/// The shared part of a chooser, built once per worker ([`KeyChooser::table_for`]).
#[derive(Debug, Clone)]
pub enum KeyTable {
    /// YCSB's generator (`zipfian`, `scrambled_zipfian`, `latest`).
    Ycsb(Arc<YcsbZipfian>),
    /// The exact law (`exact_zipfian`).
    Exact(Arc<ZipfianTable>),
}

/// A `latest` chooser: YCSB's `SkewedLatestGenerator`, the newest key minus a rank
/// over as many ranks as the newest key number, with this task's ζ and η once
/// inserts have grown that count.
#[derive(Debug, Clone)]
pub struct LatestChooser {
    table: Arc<YcsbZipfian>,
    count: u64,
    zetan: f64,
    eta: f64,
}

impl LatestChooser {
    /// The key number: `latest − rank`, the rank over `latest` items (so key 0, older
    /// than every rank reaches, is never drawn once there are two keys, as in YCSB).
    #[inline]
    fn next(&mut self, rng: &mut SmallRng, latest: u64) -> u64 {
        if latest > self.count {
            (self.zetan, self.eta) = self.table.grown(self.count, self.zetan, latest);
            self.count = latest;
        }
        let rank = self
            .table
            .rank(rng.gen::<f64>(), latest, self.zetan, self.eta);
        latest - rank
    }
}

/// Chooses key numbers for one task.
#[derive(Debug, Clone)]
pub enum KeyChooser {
    /// See [`Distribution::Uniform`].
    Uniform {
        /// Items.
        n: u64,
    },
    /// See [`Distribution::Zipfian`]: YCSB's generator over the items, unscrambled.
    Zipfian {
        /// YCSB's generator over the items.
        table: Arc<YcsbZipfian>,
        /// Ranks drawn ahead.
        ahead: Ahead,
    },
    /// See [`Distribution::ExactZipfian`].
    ExactZipfian(Arc<ZipfianTable>),
    /// See [`Distribution::ScrambledZipfian`]: a rank of YCSB's generator over
    /// [`SCRAMBLED_ITEMS`]` + 1` ranks (the table), hashed onto `0..n`.
    Scrambled {
        /// YCSB's generator over 10^10 + 1 ranks.
        table: Arc<YcsbZipfian>,
        /// Items: the hashed rank's remainder by their count is the key number.
        n: Modulus,
        /// Key numbers drawn ahead.
        ahead: Ahead,
    },
    /// See [`Distribution::Latest`].
    Latest(LatestChooser),
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
    /// A chooser over `n` items. `table` is the worker's shared table for the zipfian
    /// kinds (built with [`KeyChooser::table_for`] for the same distribution and `n`;
    /// one that does not fit is ignored and built anew); `slot`/`slots` place a
    /// sequential chooser's slice among all tasks of all workers.
    pub fn new(
        dist: &Distribution,
        n: u64,
        table: Option<KeyTable>,
        slot: u64,
        slots: u64,
    ) -> Self {
        let n = n.max(1);
        let ycsb = |wanted: YcsbZipfian| match &table {
            Some(KeyTable::Ycsb(t)) if t.items == wanted.items && t.theta == wanted.theta => {
                t.clone()
            }
            _ => Arc::new(wanted),
        };
        match *dist {
            Distribution::Uniform => KeyChooser::Uniform { n },
            Distribution::Zipfian { theta } => KeyChooser::Zipfian {
                table: ycsb(Self::ycsb_table(dist, n, theta)),
                ahead: Ahead::default(),
            },
            Distribution::ExactZipfian { theta } => KeyChooser::ExactZipfian(match &table {
                Some(KeyTable::Exact(t)) if t.n == n && t.theta == valid_theta(theta) => t.clone(),
                _ => Arc::new(ZipfianTable::new(n, theta)),
            }),
            Distribution::ScrambledZipfian { theta } => KeyChooser::Scrambled {
                table: ycsb(Self::ycsb_table(dist, n, theta)),
                n: Modulus::new(n),
                ahead: Ahead::default(),
            },
            Distribution::Latest { theta } => {
                let table = ycsb(Self::ycsb_table(dist, n, theta));
                KeyChooser::Latest(LatestChooser {
                    count: table.items,
                    zetan: table.zetan,
                    eta: table.eta,
                    table,
                })
            }
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

    /// YCSB's generator of a zipfian kind over `n` items: `new ZipfianGenerator(n)`
    /// for `zipfian`; the scrambled one's 10^10 + 1 ranks; for `latest`, as
    /// `SkewedLatestGenerator` builds it, one over the newest key number at the start
    /// (`n − 1`, the last loaded record).
    fn ycsb_table(dist: &Distribution, n: u64, theta: f64) -> YcsbZipfian {
        match dist {
            Distribution::ScrambledZipfian { .. } => YcsbZipfian::scrambled(theta),
            Distribution::Latest { .. } => YcsbZipfian::new(n.max(1) - 1, theta),
            _ => YcsbZipfian::new(n.max(1), theta),
        }
    }

    /// The shared table a distribution needs over `n` items, if any.
    pub fn table_for(dist: &Distribution, n: u64) -> Option<KeyTable> {
        match *dist {
            Distribution::Zipfian { theta }
            | Distribution::Latest { theta }
            | Distribution::ScrambledZipfian { theta } => Some(KeyTable::Ycsb(Arc::new(
                Self::ycsb_table(dist, n.max(1), theta),
            ))),
            Distribution::ExactZipfian { theta } => Some(KeyTable::Exact(Arc::new(
                ZipfianTable::new(n.max(1), theta),
            ))),
            _ => None,
        }
    }

    /// Draws the keys of the next operations ahead if the chooser draws ahead and has
    /// used up its last batch ([`Ahead`]): the executor calls it between operations,
    /// so that a batch's draws fall outside every measured latency.
    #[inline]
    pub fn prepare(&mut self, rng: &mut SmallRng) {
        match self {
            KeyChooser::Zipfian { table, ahead } => ahead.refill(rng, |u| table.rank_of(u)),
            KeyChooser::Scrambled { table, n, ahead } => {
                ahead.refill(rng, |u| n.rem(ycsb_fnvhash64(table.rank_of(u))))
            }
            _ => {}
        }
    }

    /// The next key number. `latest` is the highest key number written so far (used by
    /// the `latest` distribution).
    #[inline]
    pub fn next(&mut self, rng: &mut SmallRng, latest: u64) -> u64 {
        match self {
            KeyChooser::Uniform { n } => rng.gen_range(0..*n),
            KeyChooser::Zipfian { table, ahead } => ahead.next(rng, |u| table.rank_of(u)),
            KeyChooser::ExactZipfian(t) => t.sample(rng),
            KeyChooser::Scrambled { table, n, ahead } => {
                ahead.next(rng, |u| n.rem(ycsb_fnvhash64(table.rank_of(u))))
            }
            KeyChooser::Latest(l) => l.next(rng, latest),
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
        // Two digits per step from a table, always all twelve (the zeros pad): no
        // length to find, no branch per digit, and no UTF-8 check of the result (the
        // table is a `str`; a check of twelve bytes cost 100 instructions).
        const PAIRS: &str = "0001020304050607080910111213141516171819\
            2021222324252627282930313233343536373839\
            4041424344454647484950515253545556575859\
            6061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899";
        let mut n = id % 10u64.pow(KEY_DIGITS as u32);
        let mut pairs = [0usize; KEY_DIGITS / 2];
        for p in pairs.iter_mut().rev() {
            *p = (n % 100) as usize * 2;
            n /= 100;
        }
        buf.clear();
        buf.push_str(&self.prefix);
        for p in pairs {
            buf.push_str(PAIRS.get(p..p + 2).unwrap_or("00"));
        }
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
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..10_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let id = x >> (x % 64);
            assert_eq!(f.key(id), format!("user{:012}", id % 1_000_000_000_000));
        }
        let mut buf = "left over from before".to_string();
        KeyFormatter::new("").write(5, &mut buf);
        assert_eq!(buf, "000000000005");
    }

    /// Pearson's chi-square of `samples` draws of `dist` over `n` keys against `law`
    /// (the first 20 keys, plus one bucket for the rest); 20 degrees of freedom.
    fn chi_square(dist: Distribution, n: u64, law: impl Fn(u64) -> f64) -> (f64, Vec<u64>) {
        let mut c = KeyChooser::new(&dist, n, KeyChooser::table_for(&dist, n), 0, 1);
        let mut r = rng();
        let samples = 200_000u64;
        let top = 20usize;
        let mut counts = vec![0u64; top + 1];
        for _ in 0..samples {
            let k = c.next(&mut r, 0) as usize;
            assert!(k < n as usize);
            counts[k.min(top)] += 1;
        }
        let mut expected: Vec<f64> = (0..top).map(|i| law(i as u64) * samples as f64).collect();
        expected.push(samples as f64 - expected.iter().sum::<f64>());
        let chi2: f64 = counts
            .iter()
            .zip(&expected)
            .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
            .sum();
        (chi2, counts)
    }

    /// The 99.9% critical value of chi-square with 20 degrees of freedom.
    const CHI2_20: f64 = 45.3;

    #[test]
    fn each_zipfian_follows_its_own_law_and_not_the_other() {
        let n = 1000;
        let ycsb = YcsbZipfian::new(n, 0.99);
        let exact = ZipfianTable::new(n, 0.99);
        let (chi2, counts) = chi_square(Distribution::default(), n, |k| ycsb.probability(k));
        assert!(chi2 < CHI2_20, "zipfian: chi2 {chi2}, counts {counts:?}");
        // The skew is real: rank 0 alone takes far more than a uniform share.
        assert!(counts[0] as f64 > 50.0 * 200_000.0 / n as f64);
        let (chi2, _) = chi_square(Distribution::default(), n, |k| exact.probability(k));
        assert!(
            chi2 > CHI2_20,
            "zipfian draws accepted by the exact law: {chi2}"
        );

        let d = Distribution::ExactZipfian { theta: 0.99 };
        let (chi2, counts) = chi_square(d, n, |k| exact.probability(k));
        assert!(
            chi2 < CHI2_20,
            "exact_zipfian: chi2 {chi2}, counts {counts:?}"
        );
        let (chi2, _) = chi_square(d, n, |k| ycsb.probability(k));
        assert!(chi2 > CHI2_20, "exact draws accepted by YCSB's law: {chi2}");
    }

    /// Probability of every key of `0..n` under `dist` (the newest key `n − 1` for
    /// `latest`). Scrambled: the first 2·10^6 ranks are hashed exactly, the rest (each
    /// below 10^-7) spread evenly.
    fn key_law(dist: &Distribution, n: u64) -> Vec<f64> {
        match *dist {
            Distribution::Zipfian { theta } => {
                let g = YcsbZipfian::new(n, theta);
                (0..n).map(|k| g.probability(k)).collect()
            }
            Distribution::ExactZipfian { theta } => {
                let t = ZipfianTable::new(n, theta);
                (0..n).map(|k| t.probability(k)).collect()
            }
            Distribution::ScrambledZipfian { theta } => {
                let g = YcsbZipfian::scrambled(theta);
                let mut p = vec![0.0; n as usize];
                let mut below = 0.0;
                for r in 0..2_000_000u64 {
                    let c = g.cdf(r);
                    p[(ycsb_fnvhash64(r) % n) as usize] += c - below;
                    below = c;
                }
                p.iter_mut().for_each(|v| *v += (1.0 - below) / n as f64);
                p
            }
            Distribution::Latest { theta } => {
                // Newest key n − 1, ranks over n − 1 items: key k is rank n − 1 − k.
                let g = YcsbZipfian::new(n - 1, theta);
                (0..n)
                    .map(|k| match k {
                        0 => 0.0,
                        _ => g.probability(n - 1 - k),
                    })
                    .collect()
            }
            _ => unreachable!("zipfian kinds only"),
        }
    }

    /// Shares of the `k` keys most probable under `law`: (observed in `counts`, law).
    fn top_share(counts: &[u64], law: &[f64], k: usize) -> (f64, f64) {
        let mut order: Vec<usize> = (0..law.len()).collect();
        order.sort_by(|a, b| law[*b].total_cmp(&law[*a]));
        let total: u64 = counts.iter().sum();
        let seen: u64 = order[..k].iter().map(|&i| counts[i]).sum();
        let want: f64 = order[..k].iter().map(|&i| law[i]).sum();
        (seen as f64 / total as f64, want)
    }

    /// The issue's figures: over 10,000 keys and 2,000,000 draws at θ 0.99, the top-k
    /// shares of each chooser match the analytic values of its own law within six
    /// standard errors, and the YCSB and exact laws are told apart.
    #[test]
    fn top_k_shares_match_the_analytic_values_of_each_law() {
        let (n, draws) = (10_000u64, 2_000_000u64);
        let theta = 0.99;
        let mut laws = Vec::new();
        for dist in [
            Distribution::Zipfian { theta },
            Distribution::ExactZipfian { theta },
            Distribution::ScrambledZipfian { theta },
            Distribution::Latest { theta },
        ] {
            let law = key_law(&dist, n);
            let mut c = KeyChooser::new(&dist, n, KeyChooser::table_for(&dist, n), 0, 1);
            let mut r = rng();
            let mut counts = vec![0u64; n as usize];
            for _ in 0..draws {
                counts[c.next(&mut r, n - 1) as usize] += 1;
            }
            let mut shares = Vec::new();
            for k in [1, 10, 100] {
                let (seen, want) = top_share(&counts, &law, k);
                let se = (want * (1.0 - want) / draws as f64).sqrt();
                assert!(
                    (seen - want).abs() < 6.0 * se,
                    "{dist:?} top {k}: {seen:.5} drawn, {want:.5} by its law"
                );
                shares.push(want);
            }
            laws.push(shares);
        }
        let close = |a: f64, b: f64| (a - b).abs() < 0.0005;
        // YCSB's generator: top 1, 10, 100 of 9.8%, 30.3%, 53.0%; the exact law: 9.8%,
        // 28.9%, 51.8%; latest is YCSB's law over 9,999 ranks.
        assert!(
            close(laws[0][0], 0.0978) && close(laws[0][1], 0.3027),
            "{laws:?}"
        );
        assert!(close(laws[0][2], 0.5298), "{laws:?}");
        assert!(
            close(laws[1][0], 0.0978) && close(laws[1][1], 0.2891),
            "{laws:?}"
        );
        assert!(close(laws[1][2], 0.5178), "{laws:?}");
        assert!(close(laws[3][1], laws[0][1]), "{laws:?}");
        // Scrambled over 10^10 ranks: the most popular key has 1/ζ(10^10) = 3.8%.
        assert!(
            (laws[2][0] - 1.0 / SCRAMBLED_ZETAN).abs() < 0.001,
            "{laws:?}"
        );
        // Six standard errors of a top-10 share are 0.2 points; the laws differ by 1.4.
        assert!(laws[0][1] - laws[1][1] > 0.013);
    }

    #[test]
    fn power_has_the_bits_of_powi_and_modulus_the_remainders_of_division() {
        let mut rng = rng();
        for _ in 0..100_000 {
            let x: f64 = rng.gen_range(0.0..2.0);
            let n: u32 = rng.gen_range(1..=1024);
            assert_eq!(power(x, n).to_bits(), x.powi(n as i32).to_bits(), "{x}^{n}");
        }
        let edges = [
            0,
            1,
            2,
            3,
            7,
            10_000,
            1 << 32,
            (1 << 32) + 1,
            u64::MAX / 3,
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut divisors: Vec<u64> = edges.iter().copied().filter(|&d| d > 0).collect();
        divisors.extend(
            (0..200)
                .map(|_| rng.gen::<u64>() >> rng.gen_range(0..64))
                .filter(|&d| d > 0),
        );
        for d in divisors {
            let m = Modulus::new(d);
            assert_eq!(m.n(), d);
            for a in edges
                .iter()
                .copied()
                .chain((0..2_000).map(|_| rng.gen::<u64>()))
            {
                assert_eq!(m.rem(a), a % d, "{a} % {d}");
            }
        }
        assert_eq!(Modulus::new(0).rem(12), 0);
    }

    #[test]
    fn powers_agree_with_pow() {
        // Whole α (θ 0.99, 0.9) takes the power by squaring, other θ by a log and an
        // exp: over a million draws each, the rank `pow` (Java's `Math.pow`, libm's
        // `powf`) would give differs by at most one, in at most one draw in 10^5.
        let mut rng = rng();
        for (g, whole) in [
            (YcsbZipfian::new(10_000, 0.99), true),
            (YcsbZipfian::scrambled(0.99), true),
            (YcsbZipfian::new(10_000, 0.9), true),
            (YcsbZipfian::new(10_000, 0.7), false),
        ] {
            assert_eq!(g.whole_alpha.is_some(), whole, "θ {}", g.theta);
            let mut moved = 0;
            for _ in 0..1_000_000 {
                let u: f64 = rng.gen();
                let got = g.rank(u, g.items, g.zetan, g.eta);
                let want = if u * g.zetan < g.zeta2theta {
                    got
                } else {
                    let x = (g.eta * u - g.eta + 1.0).powf(g.alpha);
                    ((g.items as f64 * x) as u64).min(g.items - 1)
                };
                assert!(
                    got.abs_diff(want) <= 1,
                    "θ {} u {u}: {got} vs {want}",
                    g.theta
                );
                moved += usize::from(got != want);
            }
            assert!(moved <= 10, "θ {}: {moved} ranks of 10^6 moved", g.theta);
        }
    }

    #[test]
    fn ranks_match_a_transcription_of_ycsb() {
        // (u, rank) of ZipfianGenerator.nextLong, transcribed independently (in
        // Python, from YCSB 0.17's source).
        let g = YcsbZipfian::new(10_000, 0.99);
        for (u, want) in [
            (0.05, 0),
            (0.1, 1),
            (0.15, 2),
            (0.3, 9),
            (0.5, 74),
            (0.9, 3821),
            (0.999_999, 9999),
        ] {
            assert_eq!(g.rank(u, g.items, g.zetan, g.eta), want, "u {u}");
        }
        let s = YcsbZipfian::scrambled(0.99);
        assert_eq!(s.items(), 10_000_000_001);
        assert_eq!(s.zetan(), SCRAMBLED_ZETAN);
        for (u, want) in [
            (0.03, 0),
            (0.05, 1),
            (0.3, 1038),
            (0.5, 134_552),
            (0.9, 1_170_869_537),
            (0.999_999, 9_999_787_803),
        ] {
            assert_eq!(s.rank(u, s.items, s.zetan, s.eta), want, "scrambled u {u}");
        }
    }

    #[test]
    fn latest_grows_zeta_incrementally_as_ycsb() {
        // SkewedLatestGenerator over 10,000 loaded records: ranks over 9,999 items; after
        // inserts up to key 50,000 YCSB adds ζ's terms 10,000..50,000 and recomputes η
        // from the constructor's 9,999 items (transcribed values).
        let n = 10_000;
        let d = Distribution::Latest { theta: 0.99 };
        let mut c = KeyChooser::new(&d, n, KeyChooser::table_for(&d, n), 0, 1);
        let mut r = rng();
        let latest = 50_000;
        let draws: Vec<u64> = (0..100_000).map(|_| c.next(&mut r, latest)).collect();
        assert!(draws.iter().all(|&k| (1..=latest).contains(&k)));
        let KeyChooser::Latest(l) = &c else {
            unreachable!()
        };
        assert_eq!((l.table.items(), l.count), (9_999, 50_000));
        assert!(
            (l.zetan - 12.003_308_835_830_557).abs() < 1e-9,
            "{}",
            l.zetan
        );
        assert!(
            (l.eta - 0.093_335_464_697_100_05).abs() < 1e-12,
            "{}",
            l.eta
        );
        for (u, want) in [(0.05, 0), (0.3, 58), (0.5, 420), (0.9, 19_575)] {
            assert_eq!(l.table.rank(u, latest, l.zetan, l.eta), want, "u {u}");
        }
        // The newest ten keys take the share of ranks 0..10 of that grown law.
        let newest_10 =
            draws.iter().filter(|&&k| k > latest - 10).count() as f64 / draws.len() as f64;
        let expected = l.table.cdf_with(9, latest, l.zetan, l.eta);
        assert!(
            (newest_10 - expected).abs() < 0.01,
            "{newest_10} vs {expected}"
        );
        // Far above the uniform share of ten keys in 50,000.
        assert!(newest_10 > 0.1, "{newest_10}");
        // A smaller newest key (another task's view) keeps the grown ζ, as YCSB does.
        c.next(&mut r, 20_000);
        let KeyChooser::Latest(l) = &c else {
            unreachable!()
        };
        assert_eq!(l.count, 50_000);
    }

    #[test]
    fn theta_of_one_uses_the_limit_of_the_formula() {
        // YCSB's α = 1/(1-θ) is infinite at θ = 1; the limit agrees with θ near 1.
        let at_one = YcsbZipfian::new(1000, 1.0);
        let near = YcsbZipfian::new(1000, 1.0 - 1e-7);
        for k in [0, 1, 2, 9, 99, 500] {
            assert!((at_one.cdf(k) - near.cdf(k)).abs() < 1e-5, "k {k}");
        }
        let d = Distribution::Zipfian { theta: 1.0 };
        let (chi2, _) = chi_square(d, 1000, |k| at_one.probability(k));
        assert!(chi2 < CHI2_20, "chi2 {chi2}");
        // Degenerate item counts draw valid ranks and never panic.
        let mut r = rng();
        for items in [0, 1, 2, 3] {
            let g = YcsbZipfian::new(items, 0.99);
            for _ in 0..1000 {
                assert!(g.sample(&mut r) <= items.saturating_sub(1));
            }
        }
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
    fn zipfian_choosers_draw_ahead_the_keys_of_the_next_uniforms() {
        let n = 10_000;
        for dist in [
            Distribution::ScrambledZipfian { theta: 0.99 },
            Distribution::Zipfian { theta: 0.99 },
        ] {
            let table = YcsbZipfian::new(n, 0.99);
            let scrambled = YcsbZipfian::scrambled(0.99);
            let want = |u: f64| match dist {
                Distribution::ScrambledZipfian { .. } => ycsb_fnvhash64(scrambled.rank_of(u)) % n,
                _ => table.rank_of(u),
            };
            let mut c = KeyChooser::new(&dist, n, None, 0, 1);
            // A prepared chooser takes its batch then, and no uniform when drawing.
            let mut p = KeyChooser::new(&dist, n, None, 0, 1);
            let mut pr = rng();
            p.prepare(&mut pr);
            let prepared = pr.clone();
            let first = p.next(&mut pr, n - 1);
            assert_eq!(pr, prepared, "{dist:?}");
            p.prepare(&mut pr);
            assert_eq!(pr, prepared, "{dist:?}: a batch with keys left is kept");
            let (mut r, mut reference) = (rng(), rng());
            assert_eq!(c.clone().next(&mut rng(), n - 1), first, "{dist:?}");
            // A batch of AHEAD keys takes AHEAD uniforms at its first draw and none
            // until it is used up: uniforms drawn by others meanwhile (the operation
            // mix's) come after the batch's, and the next batch's after those.
            for batch in 0..3 {
                let us: Vec<f64> = (0..AHEAD).map(|_| reference.gen::<f64>()).collect();
                for (i, &u) in us.iter().enumerate() {
                    assert_eq!(
                        c.next(&mut r, n - 1),
                        want(u),
                        "{dist:?} batch {batch} draw {i}"
                    );
                    let mix: f64 = r.gen();
                    assert_eq!(mix.to_bits(), reference.gen::<f64>().to_bits(), "{dist:?}");
                }
            }
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
