//! How `lgb` treats its terminal: standard output may be a pipe that closes early
//! (`lgb list | head -1`), and colour is only for a person looking at a terminal.
//!
//! Printing commands write through `std::io::Write` and return the error, never
//! `println!` (which panics on a closed pipe); `main` ends quietly with exit code 0
//! when the only problem was that the reader went away.

use std::io::{self, IsTerminal, Write};

/// Whether `err` (or anything in its chain) is a write into a pipe whose reader has
/// gone: the reader took what it wanted, so this is not a failure of `lgb`.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    // lgb_core::Error::Io names its io::Error as its source, so the chain reaches it.
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes `bytes` to standard output and flushes, so a closed pipe shows up here as
/// an error rather than later as a panic or a lost write.
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Colour (ANSI escapes) on standard error: only when it is a terminal and `NO_COLOR`
/// is unset or empty (<https://no-color.org>).
pub fn stderr_colour() -> bool {
    colour_allowed(
        std::env::var_os("NO_COLOR").as_deref(),
        io::stderr().is_terminal(),
    )
}

/// The rule behind [`stderr_colour`], apart from the process state it reads.
fn colour_allowed(no_color: Option<&std::ffi::OsStr>, is_terminal: bool) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(colour_allowed(None, true));
        assert!(colour_allowed(Some(OsStr::new("")), true));
        assert!(!colour_allowed(Some(OsStr::new("1")), true));
        assert!(!colour_allowed(None, false));
    }

    #[test]
    fn broken_pipe_is_found_anywhere_in_the_chain() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&anyhow::Error::from(pipe())));
        assert!(is_broken_pipe(
            &anyhow::Error::from(pipe()).context("printing the list")
        ));
        assert!(is_broken_pipe(&anyhow::Error::from(lgb_core::Error::io(
            "writing the table",
            pipe()
        ))));
        assert!(!is_broken_pipe(&anyhow::Error::from(io::Error::from(
            io::ErrorKind::NotFound
        ))));
    }
}
