//! Nothing to build: this script exists so that the `[build-dependencies]` of
//! Cargo.toml (the proc-macros' `syn` features) take part in feature resolution.

fn main() {}
