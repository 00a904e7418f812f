//! The timeline's binary form (how worker results and result.json carry per-second
//! histograms): decoding any bytes never panics, whatever decodes survives a round
//! trip unchanged, and merging it (as the runner folds worker timelines, and one by
//! one) gives the same points with every count doubled.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lgb_core::metrics::Timeline;

fuzz_target!(|data: &[u8]| {
    let Ok(t) = Timeline::from_binary(data) else { return };
    let bytes = t.to_binary();
    let back = Timeline::from_binary(&bytes).expect("an encoded timeline decodes");
    assert_eq!(back, t);
    let mut folded = Timeline::default();
    folded.merge_all(vec![t.clone(), back]);
    let mut one_by_one = t.clone();
    one_by_one.merge(&t).expect("decoded seconds are in range");
    assert_eq!(folded, one_by_one);
    for (p, q) in folded.points().zip(t.points()) {
        assert_eq!(p.latency.len(), q.latency.len().saturating_mul(2));
        let _ = p.latency.quantiles_ns([0.0, 0.5, 0.99, 1.0]);
        let _ = p.latency.max_ns();
    }
});
