//! Decoding a worker request never panics, and a decoded request that the worker
//! refuses yields a failed result rather than a crash. Valid requests are only
//! decoded, not run (a run could take minutes).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = lgb_core::protocol::decode_request(data) {
        // Round trip: what decodes must encode and decode to the same request.
        let json = serde_json::to_vec(&req).expect("a decoded request encodes");
        let again = lgb_core::protocol::decode_request(&json).expect("and decodes again");
        assert_eq!(again, req);
    }
});
