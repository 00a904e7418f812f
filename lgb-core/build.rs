//! Generates the immudb gRPC client from the vendored `proto/immudb/schema.proto`,
//! and nothing else: without the `immudb` feature this script does no work, so a
//! build of lgb-core without it needs no protobuf tooling at all.
//!
//! protox compiles the .proto files in pure Rust, so no `protoc` binary is needed.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Cargo compiles build scripts with the package's features as cfg, so this is the
    // whole check (a runtime `return` left clippy a needless one without the feature).
    #[cfg(feature = "immudb")]
    immudb::generate();
}

#[cfg(feature = "immudb")]
mod immudb {
    pub fn generate() {
        let proto = "proto/immudb/schema.proto";
        println!("cargo:rerun-if-changed={proto}");
        let files = protox::compile([proto], ["proto"])
            .unwrap_or_else(|e| panic!("compiling {proto}: {e}"));
        tonic_prost_build::configure()
            .build_server(false)
            .build_transport(false)
            .compile_fds(files)
            .unwrap_or_else(|e| panic!("generating the immudb client: {e}"));
    }
}
