//! LEB128 varints: lgb's sparse histogram encoding (up to 10 bytes) and HdrHistogram's
//! V2 encoding (at most 9 bytes, the ninth taken whole).

/// Appends `v` as LEB128.
pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Takes one LEB128 varint off the front of `bytes`.
#[inline(always)]
pub(crate) fn take(bytes: &mut &[u8]) -> Option<u64> {
    // One or two bytes without a branch on which (most gaps of a sparse histogram
    // take one or the other at random, and a mispredicted branch costs more than
    // reading both).
    if let [b0, b1, ..] = **bytes {
        if b0 & b1 & 0x80 == 0 {
            let two = usize::from(b0 >> 7);
            let v = u64::from(b0 & 0x7f) | ((u64::from(b1 & 0x7f) << 7) * two as u64);
            *bytes = &bytes[1 + two..];
            return Some(v);
        }
    }
    take_as(bytes, false)
}

/// Takes one of HdrHistogram's varints (LEB128 whose ninth byte is taken whole).
#[inline]
pub(crate) fn take_hdr(bytes: &mut &[u8]) -> Option<u64> {
    take_as(bytes, true)
}

#[inline]
fn take_as(bytes: &mut &[u8], ninth_whole: bool) -> Option<u64> {
    // Most gaps and counts take one byte.
    match bytes.split_first() {
        Some((&b, rest)) if b < 0x80 => {
            *bytes = rest;
            Some(u64::from(b))
        }
        _ => take_long(bytes, ninth_whole),
    }
}

fn take_long(bytes: &mut &[u8], ninth_whole: bool) -> Option<u64> {
    let mut v = 0u64;
    for k in 0..10u32 {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        if ninth_whole && k == 8 {
            return Some(v | (u64::from(b) << 56));
        }
        v |= u64::from(b & 0x7f).checked_shl(7 * k)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_hdrhistograms_ninth_byte_whole() {
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX >> 1, u64::MAX] {
            let mut out = Vec::new();
            put(&mut out, v);
            let mut bytes = &out[..];
            assert_eq!(take(&mut bytes), Some(v));
            assert!(bytes.is_empty());
        }
        // Nine bytes, the last taken whole: 8 × 7 bits of ones, then 0xff << 56.
        let nine = [0xff; 9];
        assert_eq!(take_hdr(&mut &nine[..]), Some(u64::MAX));
        assert_eq!(take(&mut &nine[..]), None, "truncated as plain LEB128");
        assert_eq!(take(&mut &[0x80][..]), None);
        // One- and two-byte varints followed by anything, as a stream holds them.
        let mut stream = Vec::new();
        for v in [5, 127, 128, 16_383, 16_384, 0, u64::MAX, 1] {
            put(&mut stream, v);
        }
        let mut bytes = &stream[..];
        for v in [5, 127, 128, 16_383, 16_384, 0, u64::MAX, 1] {
            assert_eq!(take(&mut bytes), Some(v));
        }
        assert!(bytes.is_empty());
    }
}
