//! Config parsing and validation never panic, whatever the input.
#![no_main]
use lgb_core::session::{ConfigSource, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = Session::load(ConfigSource::Text(text), &[], None).map(Session::into_config) {
            // Every refusal names its problems.
            assert!(!e.to_string().is_empty());
        }
    }
});
