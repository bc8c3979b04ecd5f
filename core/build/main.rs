//! Generates Weir's Kafka protocol codec from the JSON message definitions in
//! `kafka-specs/`: message structs with their encoders and decoders
//! (`$OUT_DIR/messages.rs`), the `ApiKey` enum (`api_key.rs`) and the request and
//! response dispatch enums (`body.rs`).
//!
//! The generator is strict: a definition using a feature it does not understand
//! fails the build instead of producing a codec that silently mis-reads the wire.

mod emit_api;
mod emit_codec;
mod emit_sample;
mod emit_struct;
mod model;
mod spec;
mod versions;

use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let spec_dir = manifest.join("kafka-specs");
    println!("cargo:rerun-if-changed={}", spec_dir.display());
    println!("cargo:rerun-if-changed=build");

    let messages = load_messages(&spec_dir);
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    write(
        &out.join("messages.rs"),
        &emit_struct::messages_file(&messages),
    );
    write(&out.join("api_key.rs"), &emit_api::api_key_file(&messages));
    write(&out.join("body.rs"), &emit_api::body_file(&messages));
}

/// Every request and response, the two headers and the consumer protocol data types.
fn load_messages(dir: &Path) -> Vec<model::Message> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with("Request.json")
                || name.ends_with("Response.json")
                || matches!(
                    name,
                    "RequestHeader.json"
                        | "ResponseHeader.json"
                        | "ConsumerProtocolSubscription.json"
                        | "ConsumerProtocolAssignment.json"
                )
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let spec =
                spec::parse(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
            model::Message::from_spec(spec).unwrap_or_else(|e| panic!("in {}: {e}", path.display()))
        })
        .collect()
}

fn write(path: &Path, content: &str) {
    fs::write(path, content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
