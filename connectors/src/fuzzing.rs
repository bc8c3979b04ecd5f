//! Entry points of the `cargo fuzz` targets in `connectors/fuzz/`, shared with the
//! corpus replay test (`connectors/tests/fuzz_corpus.rs`). Not part of the API.

use bytes::Bytes;

use crate::elasticsearch::response::{error_body, read_bulk, Sent};
use crate::jdbc_sink::{Cell, ConnectionUrl, FieldType, Unit};
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

/// A database sink `connection.url`: any text parses or is refused without a panic;
/// a refusal never repeats the password the text may hold; what parses names a host,
/// a port and a database, and its `Display` and `Debug` (which logs and errors show)
/// never contain the password.
pub fn jdbc_connection_url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ConnectionUrl::parse(text) {
        Ok(url) => {
            assert!(!url.host.is_empty() && url.port > 0 && !url.database.is_empty());
            if let Some(password) = url.password.as_ref().map(|p| p.expose()) {
                if password.len() >= 4 {
                    for shown in [url.to_string(), format!("{url:?}")] {
                        assert!(!shown.contains(password), "{shown}");
                    }
                }
            }
        }
        Err(message) => {
            // Only the first 24 characters of a scheme are ever quoted back.
            if let Some((_, rest)) = text.split_once("://") {
                if rest.len() >= 24 {
                    assert!(!message.contains(rest), "{message}");
                }
            }
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

/// A record field's JSON value converted for a column: byte 0 picks the field type,
/// the rest is JSON text. Any value converts or is refused without a panic (base64,
/// decimals of any length, dates and times of any range), and a decimal's text reads
/// as a number.
pub fn jdbc_cell(data: &[u8]) {
    let Some((&pick, json)) = data.split_first() else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let types = [
        FieldType::Int32,
        FieldType::Float64,
        FieldType::Boolean,
        FieldType::Bytes,
        FieldType::Decimal {
            scale: u32::from(pick >> 4),
            precision: None,
        },
        FieldType::VariableDecimal,
        FieldType::Date,
        FieldType::Time(Unit::Nanos),
        FieldType::Timestamp(Unit::Micros),
        FieldType::ZonedTimestamp,
        FieldType::Json,
    ];
    let ty = &types[usize::from(pick) % types.len()];
    if let Ok(Cell::Text(text)) = ty.cell(&value) {
        if matches!(ty, FieldType::Decimal { .. } | FieldType::VariableDecimal) && value.is_string()
        {
            let digits = text.trim_start_matches('-');
            assert!(
                !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '.'),
                "{text}"
            );
        }
    }
}
