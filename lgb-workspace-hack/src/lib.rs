//! Feature unification for lgb's binaries and tests; see this crate's Cargo.toml.
//! It has no code: depending on it only adds features to shared dependencies, so
//! that `cargo build -p lgb-cli` and `maturin develop` reuse the dependencies that
//! `cargo test --workspace --all-features` built.
