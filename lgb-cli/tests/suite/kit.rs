//! What the `lgb` binary's tests share: the command, and checks of its exit.

use std::process::{Command, Output};

/// The `lgb` binary of this build, without a results key from the environment.
pub fn lgb() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lgb"));
    c.env_remove("LGB_RESULTS_KEY");
    c
}

/// Runs `cmd`, which must succeed; its output.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
