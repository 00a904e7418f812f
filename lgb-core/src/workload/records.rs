//! Deterministic records: the record of key number `id` at `version` is always the same
//! for a given seed, so a benchmark can be repeated and written data can be verified.
//!
//! Field values are slices of one seeded 64 KiB pool of printable characters (62 of
//! them, about 5.95 bits a byte), each at an offset taken from a hash of (seed, id,
//! version): one hash gives the 16-bit offsets of four fields. A field's value is a
//! [`Value::Shared`] slice of the pool, so filling a record moves each slice to its new
//! offset: generating a record on the hot path neither allocates nor copies a value
//! (the database sees the same bytes as if each were a string of its own).

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::mix;
use crate::record::{Record, SharedText, Value};

const POOL_LEN: usize = 64 * 1024;
// A field's offset is 16 bits of a hash.
const _: () = assert!(POOL_LEN == 1 << 16);
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Builds records of `fields` fields of `field_size` bytes each.
#[derive(Debug, Clone)]
pub struct RecordGenerator {
    seed: u64,
    fields: usize,
    field_size: usize,
    names: Vec<String>,
    pool: Arc<str>,
    /// A slice of `pool` of one field's size, cloned into records that lack one.
    slice: Option<SharedText>,
}

impl RecordGenerator {
    /// A generator for records of `fields` × `field_size` bytes, seeded by `seed`.
    pub fn new(seed: u64, fields: usize, field_size: usize) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let pool: String = (0..POOL_LEN + field_size)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        let pool: Arc<str> = Arc::from(pool);
        Self {
            seed,
            fields,
            field_size,
            names: (0..fields).map(|i| format!("field{i}")).collect(),
            slice: SharedText::new(pool.clone(), 0..field_size),
            pool,
        }
    }

    /// Bytes of field data per record.
    pub fn value_bytes(&self) -> usize {
        self.fields * self.field_size
    }

    /// Fills `record` with key `key` and the fields of (`id`, `version`), reusing its buffers.
    #[inline]
    pub fn fill(&self, record: &mut Record, key: &str, id: u64, version: u64) {
        record.key.clear();
        record.key.push_str(key);
        record.timestamp = None;
        record.dimensions.clear();
        if record.fields.len() != self.fields {
            record.fields.clear();
            // Each field a slice of the pool, which the loop below moves into place.
            let blank = || {
                self.slice
                    .clone()
                    .map_or_else(|| Value::Str(String::new()), Value::Shared)
            };
            record
                .fields
                .extend(self.names.iter().map(|n| (n.clone(), blank())));
        }
        // Each hash gives the 16-bit pool offsets of four fields.
        let base = mix(self.seed ^ mix(id ^ version.rotate_left(32)));
        let (pool, size) = (&self.pool, self.field_size);
        let mut h = 0u64;
        for (i, ((name, value), want)) in record.fields.iter_mut().zip(&self.names).enumerate() {
            if i % 4 == 0 {
                h = mix(base.wrapping_add(i as u64));
            }
            let off = (h & 0xffff) as usize;
            h >>= 16;
            if !same(name.as_bytes(), want.as_bytes()) {
                name.clone_from(want);
            }
            match value {
                // The pool is `POOL_LEN + field_size` ASCII bytes: the move is kept.
                Value::Shared(t) if t.len() == size && t.is_of(pool) => _ = t.move_to(off),
                other => {
                    // `slice` is `Some` and `off` within the pool (see `new`).
                    if let Some(mut t) = self.slice.clone() {
                        t.move_to(off);
                        *other = Value::Shared(t);
                    }
                }
            }
        }
    }

    /// A new record for (`key`, `id`, `version`).
    pub fn record(&self, key: &str, id: u64, version: u64) -> Record {
        let mut r = Record::default();
        self.fill(&mut r, key, id, version);
        r
    }
}

/// Byte equality of two short strings without a `memcmp` call or a byte loop (field
/// names are a few bytes; the call cost more than the comparison): up to 16 bytes
/// are compared as two overlapping words.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        8..=16 => ends_equal::<8>(a, b),
        4..=7 => ends_equal::<4>(a, b),
        _ => a == b,
    }
}

/// Whether the first and the last `N` bytes of `a` and `b` (of one length, at least
/// `N`) are equal, each compared as one word.
#[inline]
fn ends_equal<const N: usize>(a: &[u8], b: &[u8]) -> bool {
    let word = |s: &[u8], at: usize| s.get(at..at + N).and_then(|w| <[u8; N]>::try_from(w).ok());
    let last = a.len().saturating_sub(N);
    word(a, 0) == word(b, 0) && word(a, last) == word(b, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_deterministic_and_sized() {
        let a = RecordGenerator::new(1, 3, 16);
        let b = RecordGenerator::new(1, 3, 16);
        let ra = a.record("k", 5, 0);
        assert_eq!(ra, b.record("k", 5, 0));
        assert_eq!(ra.fields.len(), 3);
        assert!(ra.fields.iter().all(|(_, v)| v.size() == 16));
        assert_ne!(ra, a.record("k", 6, 0));
        assert_ne!(ra, a.record("k", 5, 1));
        assert_ne!(ra, RecordGenerator::new(2, 3, 16).record("k", 5, 0));
    }

    #[test]
    fn same_compares_every_byte_of_short_strings() {
        for n in 0..24usize {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i).collect();
            assert!(same(&a, &a.clone()), "length {n}");
            assert!(!same(&a, &a[..n.saturating_sub(1)]) || n == 0);
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 1;
                assert!(!same(&a, &b), "length {n}, byte {i}");
            }
        }
    }

    #[test]
    fn fill_moves_shared_slices_of_the_pool() {
        let g = RecordGenerator::new(1, 2, 8);
        let mut r = g.record("a", 1, 0);
        assert_eq!(
            Arc::strong_count(&g.pool),
            4,
            "the generator (pool, slice), two fields"
        );
        let before = r.clone();
        let shares = Arc::strong_count(&g.pool);
        g.fill(&mut r, "b", 2, 0);
        assert_eq!(Arc::strong_count(&g.pool), shares, "no new references");
        for (_, v) in &r.fields {
            assert!(matches!(v, Value::Shared(t) if t.is_of(&g.pool) && t.len() == 8));
        }
        assert_eq!(r, g.record("b", 2, 0));
        assert_ne!(r.fields, before.fields);
        // A record whose fields hold other values gets the pool's slices again.
        r.fields[1].1 = Value::Str("other".into());
        g.fill(&mut r, "a", 1, 0);
        assert_eq!(r, before);
        assert!(matches!(&r.fields[1].1, Value::Shared(t) if t.is_of(&g.pool)));
    }
}
