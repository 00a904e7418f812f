//! The `lgb` binary's integration tests, in one binary: each module is one area (the
//! file names say which).

mod cli;
mod docs_commands;
mod faults;
mod kept;
mod kit;
mod lambda_path;
mod report_cli;
mod validate_options;
