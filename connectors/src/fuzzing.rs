//! Entry points of the `cargo fuzz` targets in `connectors/fuzz/`, shared with the
//! corpus replay test (`connectors/tests/fuzz_corpus.rs`). Not part of the API.

use bytes::Bytes;

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
