//! Generates the CRI `runtime.v1` messages and gRPC clients from
//! `proto/runtime/v1/api.proto` (needs `protoc`, from Debian's
//! `protobuf-compiler`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let api = format!("{proto_root}/runtime/v1/api.proto");
    println!("cargo:rerun-if-changed={api}");
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .build_transport(false)
        .compile_protos(&[api.as_str()], &[proto_root])?;
    Ok(())
}
