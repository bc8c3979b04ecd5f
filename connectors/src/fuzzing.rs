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
