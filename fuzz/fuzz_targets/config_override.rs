//! `--set PATH=VALUE` overrides never panic on any path or value.
#![no_main]
use lgb_core::session::{ConfigSource, Session};
use libfuzzer_sys::fuzz_target;

const BASE: &str = r#"{"database": {"type": "memory"}, "tests": [{"name": "a", "operation": {"type": "read"}}]}"#;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = std::str::from_utf8(data) {
        let _ = Session::load(ConfigSource::Text(BASE), &[spec.to_string()], None).map(Session::into_config);
    }
});
