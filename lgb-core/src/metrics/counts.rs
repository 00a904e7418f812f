//! [`Counts`]: a run of bucket counts stored in the narrowest unsigned width that holds
//! every count (u8, u16, u32, then u64), widened in place when an addition would
//! overflow. A merged second of 1,000 workers holds tens of samples per bucket, so its
//! run takes one byte per bucket instead of eight; a 14-minute test of 4 operations
//! keeps 3,360 such runs of up to 17,000 buckets while workers arrive. At u64, counts
//! saturate (merged counts come from workers and files, which may carry anything).

/// A count width of [`Counts`].
trait Width: Copy + Default {
    /// `self + n`, or `None` when it does not fit this width.
    fn plus(self, n: u64) -> Option<Self>;
    fn get(self) -> u64;
}

macro_rules! width {
    ($t:ty) => {
        impl Width for $t {
            #[inline]
            fn plus(self, n: u64) -> Option<Self> {
                <$t>::try_from(n).ok().and_then(|n| self.checked_add(n))
            }
            #[inline]
            fn get(self) -> u64 {
                u64::from(self)
            }
        }
    };
}
width!(u8);
width!(u16);
width!(u32);

/// Counts of consecutive buckets, each as wide as the largest needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Counts {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

impl Default for Counts {
    fn default() -> Self {
        Counts::U8(Vec::new())
    }
}

/// Adds `pairs` (run position, count) into `v` until one does not fit: returns it.
#[inline]
fn add_narrow<T: Width>(
    v: &mut [T],
    pairs: &mut impl Iterator<Item = (usize, u64)>,
) -> Option<(usize, u64)> {
    for (k, n) in pairs {
        match v[k].plus(n) {
            Some(x) => v[k] = x,
            None => return Some((k, n)),
        }
    }
    None
}

fn widen<A: Width, B: From<A>>(v: &[A]) -> Vec<B> {
    v.iter().map(|&x| B::from(x)).collect()
}

impl Counts {
    /// `len` zero counts.
    pub(crate) fn zeros(len: usize) -> Self {
        Counts::U8(vec![0; len])
    }

    /// `values` in the narrowest width that holds `max`, their largest.
    pub(crate) fn from_values(values: Vec<u64>, max: u64) -> Self {
        if max <= u64::from(u8::MAX) {
            Counts::U8(values.iter().map(|&n| n as u8).collect())
        } else if max <= u64::from(u16::MAX) {
            Counts::U16(values.iter().map(|&n| n as u16).collect())
        } else if max <= u64::from(u32::MAX) {
            Counts::U32(values.iter().map(|&n| n as u32).collect())
        } else {
            Counts::U64(values)
        }
    }

    /// Number of counts (zeros included).
    pub(crate) fn len(&self) -> usize {
        match self {
            Counts::U8(v) => v.len(),
            Counts::U16(v) => v.len(),
            Counts::U32(v) => v.len(),
            Counts::U64(v) => v.len(),
        }
    }

    /// The count at `k`.
    #[inline]
    pub(crate) fn get(&self, k: usize) -> u64 {
        match self {
            Counts::U8(v) => v[k].get(),
            Counts::U16(v) => v[k].get(),
            Counts::U32(v) => v[k].get(),
            Counts::U64(v) => v[k],
        }
    }

    /// Bytes allocated for the counts.
    pub(crate) fn allocated_bytes(&self) -> usize {
        match self {
            Counts::U8(v) => v.capacity(),
            Counts::U16(v) => v.capacity() * 2,
            Counts::U32(v) => v.capacity() * 4,
            Counts::U64(v) => v.capacity() * 8,
        }
    }

    /// Bytes per count (1, 2, 4 or 8).
    #[cfg(test)]
    pub(crate) fn width(&self) -> usize {
        match self {
            Counts::U8(_) => 1,
            Counts::U16(_) => 2,
            Counts::U32(_) => 4,
            Counts::U64(_) => 8,
        }
    }

    /// The position of the last non-zero count.
    pub(crate) fn last_nonzero(&self) -> Option<usize> {
        match self {
            Counts::U8(v) => v.iter().rposition(|&n| n > 0),
            Counts::U16(v) => v.iter().rposition(|&n| n > 0),
            Counts::U32(v) => v.iter().rposition(|&n| n > 0),
            Counts::U64(v) => v.iter().rposition(|&n| n > 0),
        }
    }

    /// Puts `grow` zero counts in front.
    pub(crate) fn grow_front(&mut self, grow: usize) {
        match self {
            Counts::U8(v) => drop(v.splice(0..0, std::iter::repeat_n(0, grow))),
            Counts::U16(v) => drop(v.splice(0..0, std::iter::repeat_n(0, grow))),
            Counts::U32(v) => drop(v.splice(0..0, std::iter::repeat_n(0, grow))),
            Counts::U64(v) => drop(v.splice(0..0, std::iter::repeat_n(0, grow))),
        }
    }

    /// Grows the run with zeros to at least `len` counts.
    pub(crate) fn grow_to(&mut self, len: usize) {
        if len <= self.len() {
            return;
        }
        match self {
            Counts::U8(v) => v.resize(len, 0),
            Counts::U16(v) => v.resize(len, 0),
            Counts::U32(v) => v.resize(len, 0),
            Counts::U64(v) => v.resize(len, 0),
        }
    }

    /// Adds the counts into `h`'s buckets from index `first` (see
    /// [`LatencyHistogram::add_run`]).
    pub(crate) fn add_into(&self, first: u32, h: &mut super::LatencyHistogram) {
        match self {
            Counts::U8(v) => h.add_run(first, v),
            Counts::U16(v) => h.add_run(first, v),
            Counts::U32(v) => h.add_run(first, v),
            Counts::U64(v) => h.add_run(first, v),
        }
    }

    /// One width up (u64 stays).
    fn widen(&mut self) {
        *self = match self {
            Counts::U8(v) => Counts::U16(widen(v)),
            Counts::U16(v) => Counts::U32(widen(v)),
            Counts::U32(v) => Counts::U64(widen(v)),
            Counts::U64(v) => Counts::U64(std::mem::take(v)),
        };
    }

    /// Adds each `(position, count)` of `pairs` (positions below [`Counts::len`]),
    /// widening the run when a sum would not fit; at u64 sums saturate.
    pub(crate) fn add(&mut self, pairs: impl IntoIterator<Item = (usize, u64)>) {
        let mut pairs = pairs.into_iter();
        loop {
            let stuck = match self {
                Counts::U8(v) => add_narrow(v, &mut pairs),
                Counts::U16(v) => add_narrow(v, &mut pairs),
                Counts::U32(v) => add_narrow(v, &mut pairs),
                Counts::U64(v) => {
                    for (k, n) in pairs.by_ref() {
                        v[k] = v[k].saturating_add(n);
                    }
                    None
                }
            };
            let Some((k, n)) = stuck else { return };
            // Widened until this one fits (a count of 2^40 goes from u8 to u64).
            while !self.fits(k, n) {
                self.widen();
            }
            self.add(std::iter::once((k, n)));
        }
    }

    /// Whether adding `n` at `k` fits the current width.
    fn fits(&self, k: usize, n: u64) -> bool {
        match self {
            Counts::U8(v) => v[k].plus(n).is_some(),
            Counts::U16(v) => v[k].plus(n).is_some(),
            Counts::U32(v) => v[k].plus(n).is_some(),
            Counts::U64(_) => true,
        }
    }

    /// The non-zero counts as `(position, count)`, in order.
    #[cfg(test)]
    pub(crate) fn nonzero(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let mut k = 0;
        std::iter::from_fn(move || {
            let len = self.len();
            while k < len {
                let n = self.get(k);
                k += 1;
                if n > 0 {
                    return Some((k - 1, n));
                }
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_only_as_far_as_needed_and_saturates_at_u64() {
        let mut c = Counts::zeros(4);
        c.add([(0, 200), (1, 1)]);
        assert_eq!(c.width(), 1);
        c.add([(0, 55), (3, 7)]);
        assert_eq!((c.width(), c.get(0)), (1, 255));
        // One more in bucket 0 does not fit a byte; the rest of the batch still lands.
        c.add([(0, 1), (2, 2), (1, 65_535)]);
        assert_eq!(c.width(), 4, "65,536 needs u32");
        assert_eq!(
            c.nonzero().collect::<Vec<_>>(),
            [(0, 256), (1, 65_536), (2, 2), (3, 7)]
        );
        c.add([(2, 1 << 40)]);
        assert_eq!((c.width(), c.get(2)), (8, (1 << 40) + 2));
        c.add([(2, u64::MAX), (3, 1)]);
        assert_eq!((c.get(2), c.get(3)), (u64::MAX, 8));
        for (max, width) in [(255, 1), (256, 2), (70_000, 4), (1 << 40, 8)] {
            let c = Counts::from_values(vec![0, max, 1], max);
            assert_eq!((c.width(), c.get(1), c.get(2)), (width, max, 1));
        }
        c.grow_front(2);
        c.grow_to(8);
        assert_eq!(c.len(), 8);
        assert_eq!(c.get(4), u64::MAX);
        assert_eq!(c.last_nonzero(), Some(5));
        assert!(c.allocated_bytes() >= 64);
    }
}
