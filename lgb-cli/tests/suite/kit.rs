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

/// Sends `signal` (`"INT"`, `"TERM"`, `"HUP"`) to `child` and waits for it to exit,
/// which it must with `code` (130, 143, 129 as the README's exit codes say); its
/// output.
pub fn signal_and_wait(child: std::process::Child, signal: &str, code: i32) -> Output {
    assert!(Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "after SIG{signal}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Polls `ready` every `every` until it holds; fails after `within` with `what` and
/// `context()` (a log, say).
pub fn wait_until(
    within: std::time::Duration,
    every: std::time::Duration,
    what: &str,
    mut ready: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = std::time::Instant::now() + within;
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {}",
            context()
        );
        std::thread::sleep(every);
    }
}
