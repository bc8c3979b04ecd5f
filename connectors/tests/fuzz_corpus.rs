//! Replays the fuzz corpus through the entry points the `cargo fuzz` targets call
//! (`weir_connectors::fuzzing`), so a fixed crash stays fixed without a fuzzer.

use std::path::Path;

/// Runs every input of `fuzz/corpus/<target>` through `entry`.
fn replay(target: &str, entry: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut replayed = 0;
    for file in std::fs::read_dir(&dir).expect("the corpus directory") {
        let path = file.expect("a corpus entry").path();
        let data = std::fs::read(&path).expect("a corpus file");
        entry(&data);
        replayed += 1;
    }
    assert!(replayed >= 8, "only {replayed} inputs in {}", dir.display());
}

#[test]
fn pgoutput_message_corpus_replays() {
    replay(
        "pgoutput_message",
        weir_connectors::fuzzing::pgoutput_message,
    );
}

#[test]
fn signal_data_corpus_replays() {
    replay("signal_data", weir_connectors::fuzzing::signal_data);
}

#[test]
fn bulk_response_corpus_replays() {
    replay("bulk_response", weir_connectors::fuzzing::bulk_response);
}

#[test]
fn jdbc_connection_url_corpus_replays() {
    replay(
        "jdbc_connection_url",
        weir_connectors::fuzzing::jdbc_connection_url,
    );
}

#[test]
fn jdbc_cell_corpus_replays() {
    replay("jdbc_cell", weir_connectors::fuzzing::jdbc_cell);
}
