//! Replays the fuzz corpus through the entry points the `cargo fuzz` targets call
//! (`weir_connect::fuzzing`), so a fixed crash stays fixed without a fuzzer.

use std::path::Path;

#[test]
fn worker_properties_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/worker_properties");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus directory") {
        let path = entry.expect("a corpus entry").path();
        let data = std::fs::read(&path).expect("a corpus file");
        weir_connect::fuzzing::worker_properties(&data);
        replayed += 1;
    }
    assert!(replayed >= 4, "only {replayed} inputs in {}", dir.display());
}

#[test]
fn header_value_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/header_value");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus directory") {
        let path = entry.expect("a corpus entry").path();
        let data = std::fs::read(&path).expect("a corpus file");
        weir_connect::fuzzing::header_value(&data);
        replayed += 1;
    }
    assert!(replayed >= 4, "only {replayed} inputs in {}", dir.display());
}
