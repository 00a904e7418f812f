//! Decoding histograms from results (base64 text or raw V2 bytes) never panics, and
//! whatever decodes survives a round trip unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lgb_core::metrics::LatencyHistogram;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = LatencyHistogram::from_v2_bytes(data) {
        let back = LatencyHistogram::decode(&h.encode()).expect("an encoded histogram decodes");
        assert_eq!(back, h);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = LatencyHistogram::decode(text);
    }
});
