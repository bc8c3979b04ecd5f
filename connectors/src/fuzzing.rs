//! Entry points of the `cargo fuzz` targets in `connectors/fuzz/`, shared with the
//! corpus replay test (`connectors/tests/fuzz_corpus.rs`). Not part of the API.

use bytes::Bytes;

use crate::elasticsearch::response::{error_body, read_bulk, Sent};
use crate::postgres::pgoutput;

/// One `pgoutput` message, the payload of an XLogData message from a replication
/// slot: any bytes decode or are refused without a panic, a refusal points inside the
/// input, and what decodes, encoded again, decodes to the same message. The encoding
/// has the input's length: every field is written back at the width it was read at,
/// so a decoder that skipped or invented bytes shows here.
pub fn pgoutput_message(data: &[u8]) {
    let data = Bytes::copy_from_slice(data);
    match pgoutput::decode(&data) {
        Ok(message) => {
            let encoded = Bytes::from(pgoutput::encode(&message));
            assert_eq!(encoded.len(), data.len(), "{message:?}");
            assert_eq!(pgoutput::decode(&encoded).as_ref(), Ok(&message));
        }
        Err(err) => assert!(err.offset() <= data.len(), "{err}"),
    }
}

/// One signal's `data` (the JSON text a row of the signal table carries), under
/// each signal type: any text parses or is refused without a panic, and what an
/// `execute-snapshot` accepts names at least one collection, none of them empty,
/// which match names without a panic.
pub fn signal_data(data: &[u8]) {
    use crate::postgres::signal::{self, Signal};
    let text = String::from_utf8_lossy(data);
    for kind in [
        signal::EXECUTE_SNAPSHOT,
        signal::STOP_SNAPSHOT,
        signal::PAUSE_SNAPSHOT,
        signal::RESUME_SNAPSHOT,
        signal::WINDOW_OPEN,
        signal::WINDOW_CLOSE,
    ] {
        match signal::parse(kind, Some(&text)) {
            Ok(Signal::ExecuteSnapshot(request)) => {
                assert!(!request.collections.is_empty());
                for pattern in request
                    .collections
                    .iter()
                    .chain(request.conditions.iter().map(|(p, _)| p))
                {
                    assert!(!pattern.is_empty());
                    let _ = signal::matches(pattern, "public.orders");
                }
            }
            Ok(Signal::StopSnapshot(patterns)) => {
                for pattern in &patterns {
                    let _ = signal::matches(pattern, "public.orders");
                }
            }
            Ok(_) => {}
            Err(err) => assert!(!err.to_string().is_empty()),
        }
    }
}

/// A `_bulk` response body. Byte 0 says how many actions were sent (0–15, of mixed
/// kinds); the rest is the body. Any bytes give one outcome per action sent or an
/// error, never a panic, and an error body's reason is read without one too.
pub fn bulk_response(data: &[u8]) {
    let (count, body) = match data.split_first() {
        Some((&count, body)) => (usize::from(count % 16), body),
        None => (0, data),
    };
    let sent: Vec<Sent> = (0..count)
        .map(|i| Sent {
            conflict_is_done: i % 2 == 0,
            delete: i % 3 == 0,
        })
        .collect();
    if let Ok(outcomes) = read_bulk(body, &sent) {
        assert_eq!(outcomes.len(), count);
    }
    let _ = error_body(400, body);
}
