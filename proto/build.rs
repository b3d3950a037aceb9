//! Compiles the `casebridge.v1` contract without a system `protoc`: protox parses the .proto
//! files in pure Rust into a `FileDescriptorSet`, which feeds both prost/tonic code generation
//! and the encoded descriptor set served by gRPC reflection (`FILE_DESCRIPTOR_SET`).

use std::{env, error::Error, fs, path::PathBuf};

/// Every file we own, relative to the include root (this crate's directory). Imports such as
/// `google/protobuf/timestamp.proto` are resolved by protox's bundled well-known types.
const PROTOS: &[&str] = &[
    "casebridge/v1/cases.proto",
    "casebridge/v1/common.proto",
    "casebridge/v1/directory.proto",
    "casebridge/v1/disputes.proto",
    "casebridge/v1/evidence.proto",
    "casebridge/v1/export.proto",
    "casebridge/v1/inbox.proto",
    "casebridge/v1/leads.proto",
    "casebridge/v1/rectifications.proto",
    "casebridge/v1/monitor.proto",
    "casebridge/v1/opinions.proto",
    "casebridge/v1/penalties.proto",
    "casebridge/v1/referrals.proto",
    "casebridge/v1/transfers.proto",
    "google/rpc/error_details.proto",
];

/// File name, under `OUT_DIR`, of the encoded descriptor set that `src/lib.rs` includes.
const DESCRIPTOR_SET_FILE: &str = "casebridge_descriptor_set.bin";

fn main() -> Result<(), Box<dyn Error>> {
    let include_root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    // Cargo scans directories recursively, so this covers every .proto file.
    println!("cargo:rerun-if-changed=casebridge");
    println!("cargo:rerun-if-changed=google");

    let mut compiler = protox::Compiler::new([&include_root])?;
    compiler
        // Keeps the comments: reflection clients show them and the documentation test reads them.
        .include_source_info(true)
        // Keeps google/protobuf/timestamp.proto, so reflection can resolve every type it is asked about.
        .include_imports(true)
        .open_files(PROTOS.iter().map(|proto| include_root.join(proto)))?;

    fs::write(
        out_dir.join(DESCRIPTOR_SET_FILE),
        compiler.encode_file_descriptor_set(),
    )?;

    // The well-known types map to prost-types and generate nothing; our packages become
    // casebridge.v1.rs and google.rpc.rs in OUT_DIR.
    tonic_prost_build::configure()
        // Evidence chunks as `bytes::Bytes`, so a chunk moves from the wire to storage (and
        // back) without a copy.
        .bytes(".casebridge.v1.EvidenceChunk.data")
        // prost's codec, but a message that does not decode is INVALID_ARGUMENT (src/codec.rs).
        .codec_path("crate::codec::ContractCodec")
        .build_client(true)
        .build_server(true)
        // `prost::Name` on every message: its full name finds its descriptor, so the CLI's
        // `--json` prints any message in protobuf's JSON mapping without hand-written code.
        .compile_fds_with_config(compiler.file_descriptor_set(), {
            let mut config = tonic_prost_build::Config::new();
            config.enable_type_names();
            config
        })?;
    Ok(())
}
