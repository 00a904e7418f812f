//! `lgb validate` never panics, whatever the file holds: the text goes through the
//! front door the command (and Python's `lgb.validate`) takes, `Session::load` with no
//! overrides and no deployment, then what the command prints of an accepted config
//! (workers per test, the fan-out summary). A refusal is always `Error::Config` naming
//! at least one problem, each with a message.
#![no_main]
use lgb_core::session::{ConfigSource, Session};
use lgb_core::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `load` reads the file as UTF-8 text (other bytes are an I/O error there).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Session::load(ConfigSource::Text(text), &[], None).map(|s| s.config().clone()) {
        Ok(cfg) => {
            assert!(!cfg.tests.is_empty(), "an accepted config has a test");
            let workers = cfg.tests.iter().map(|t| cfg.workers_for(t)).max();
            assert!(workers.is_some_and(|w| w >= 1));
            assert!(!lgb_core::runner::FanOut::of(&cfg).summary().is_empty());
            // What validation accepts, it accepts again as it would run.
            let json = serde_json::to_string(&cfg).expect("an accepted config encodes");
            if let Err(e) = Session::load(ConfigSource::Text(&json), &[], None) {
                panic!("an accepted config, encoded, is refused: {e}\n{json}");
            }
        }
        Err(Error::Config(problems)) => {
            assert!(!problems.is_empty(), "a refusal names a problem");
            for p in &problems {
                assert!(!p.message.trim().is_empty(), "problem without a message: {p:?}");
            }
        }
        Err(other) => panic!("validation failed with something other than a config error: {other:?}"),
    }
});
