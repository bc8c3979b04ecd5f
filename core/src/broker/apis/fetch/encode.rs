//! Encoding a fetch response whose records stay in the segment files.
//!
//! The generated codec writes a `records` field as its length prefix followed by the
//! bytes, which here are file regions not in memory. So each partition that has records
//! is encoded twice with a stand-in, once null and once empty. Both encodings of a
//! nullable `records` field are the same length and differ in every byte of the
//! prefix (classic versions: int32 -1 against 0; flexible versions: unsigned varint 0
//! against 1), and nothing else in the response depends on them, so the bytes where
//! the two encodings differ are exactly the stand-ins' prefixes, in encoding order. Each
//! is replaced by the real prefix, the regions go after it, and the size prefix grows by
//! the records' length.
//!
//! The rejected alternatives: a second, hand-written encoder for `FetchResponse`
//! (every version, tagged fields and all, kept in step with the generated one by
//! hand); or generating every encoder against a buffer trait that can hold file
//! regions, which changes the whole codec for one field of one message. Encoding the
//! framing twice costs a few dozen bytes per partition; the records are never copied.

use bytes::{Bytes, BytesMut};

use crate::broker::apis::RequestContext;
use crate::broker::response::Response;
use crate::log::{FetchedRecords, FileRegion};
use crate::protocol::messages::FetchResponse;
use crate::protocol::{put_bytes_length, Message};

/// Encodes `response` as this request's response frame. `fetched` holds each
/// partition's records in the order of `response.responses[..].partitions[..]`; the
/// partitions' own `records` fields are overwritten.
pub(in crate::broker::apis) fn encode(
    ctx: &RequestContext,
    response: &mut FetchResponse,
    fetched: Vec<FetchedRecords>,
) -> Response {
    match encode_with_regions(ctx, response, &fetched) {
        Some(encoded) => encoded,
        None => {
            // Cannot happen for a codec that follows Kafka's encoding of nullable
            // records (the tests check every version); should it, the client still
            // gets its answer, copied.
            tracing::error!(
                version = ctx.version,
                "fetch response stand-ins not found in the encoding; sending records copied"
            );
            encode_copied(ctx, response, &fetched)
        }
    }
}

fn set_records(response: &mut FetchResponse, fetched: &[FetchedRecords], stand_in: Option<Bytes>) {
    let partitions = response
        .responses
        .iter_mut()
        .flat_map(|t| &mut t.partitions);
    let mut fetched = fetched.iter();
    for data in partitions {
        let has_records = fetched.next().is_some_and(|f| !f.is_empty());
        data.records = if has_records {
            stand_in.clone()
        } else {
            Some(Bytes::new())
        };
    }
}

fn encode_with_regions(
    ctx: &RequestContext,
    response: &mut FetchResponse,
    fetched: &[FetchedRecords],
) -> Option<Response> {
    let with_records: Vec<&FetchedRecords> = fetched.iter().filter(|f| !f.is_empty()).collect();
    set_records(response, fetched, Some(Bytes::new()));
    let empty = ctx.encode(response);
    if with_records.is_empty() {
        return Some(empty.into());
    }
    set_records(response, fetched, None);
    let null = ctx.encode(response);
    set_records(response, fetched, Some(Bytes::new()));

    let compact = FetchResponse::FLEXIBLE.is_some_and(|v| ctx.version >= v);
    let prefix_len = if compact { 1 } else { 4 };
    let sites = differing_runs(&empty, &null)?;
    if sites.len() != with_records.len() || sites.iter().any(|s| s.len() != prefix_len) {
        return None;
    }

    let records_len: usize = with_records.iter().map(|f| f.len()).sum();
    let mut framing = BytesMut::with_capacity(empty.len() + sites.len() * 5);
    let mut cuts = Vec::with_capacity(sites.len());
    let mut from = 0;
    for (site, records) in sites.iter().zip(&with_records) {
        framing.extend_from_slice(&empty[from..site.start]);
        put_bytes_length(&mut framing, records.len(), compact);
        cuts.push(framing.len());
        from = site.end;
    }
    framing.extend_from_slice(&empty[from..]);
    let size = i32::try_from(framing.len() - 4 + records_len).unwrap_or(i32::MAX);
    framing[..4].copy_from_slice(&size.to_be_bytes());

    let mut framing = framing.freeze();
    let head = framing.split_to(cuts[0]);
    let mut tail: Vec<(FileRegion, Bytes)> = Vec::with_capacity(with_records.len());
    for (i, records) in with_records.iter().enumerate() {
        let next_cut = cuts.get(i + 1).map_or(framing.len(), |&c| c - cuts[i]);
        let regions = records.regions();
        for region in &regions[..regions.len() - 1] {
            tail.push((region.clone(), Bytes::new()));
        }
        let last = regions.last().expect("non-empty records have a region");
        tail.push((last.clone(), framing.split_to(next_cut)));
    }
    Some(Response::with_regions(head, tail))
}

/// The runs of positions where `a` and `b` differ; `None` if their lengths do.
fn differing_runs(a: &[u8], b: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    if a.len() != b.len() {
        return None;
    }
    let mut runs = Vec::new();
    let mut i = 0;
    while i < a.len() {
        if a[i] == b[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < a.len() && a[i] != b[i] {
            i += 1;
        }
        runs.push(start..i);
    }
    Some(runs)
}

/// The records read into memory and encoded the ordinary way.
fn encode_copied(
    ctx: &RequestContext,
    response: &mut FetchResponse,
    fetched: &[FetchedRecords],
) -> Response {
    let partitions = response
        .responses
        .iter_mut()
        .flat_map(|t| &mut t.partitions);
    let mut size = 256;
    for (data, records) in partitions.zip(fetched) {
        match records.read_to_bytes() {
            Ok(bytes) => {
                size += bytes.len() + 64;
                data.records = Some(bytes);
            }
            Err(error) => {
                data.records = Some(Bytes::new());
                data.error_code = crate::protocol::ErrorCode::KafkaStorageError.code();
                tracing::warn!(%error, "reading fetched records failed");
            }
        }
    }
    ctx.encode_sized(response, size).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::RecordBatchBuilder;
    use crate::log::{Log, LogConfig};
    use crate::protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use crate::protocol::{ApiKey, Decodable, ResponseHeader, Uuid};

    fn ctx(version: i16) -> RequestContext {
        RequestContext {
            api_key: ApiKey::Fetch,
            version,
            correlation_id: 77,
            client_id: None,
            peer: "127.0.0.1:1".parse().unwrap(),
        }
    }

    /// A log of three segments of five one-record batches each.
    fn log(dir: &std::path::Path) -> Log {
        let config = LogConfig {
            segment_bytes: 600,
            ..LogConfig::default()
        };
        let mut log = Log::open(&dir.join("t-0"), config, 0).unwrap();
        for i in 0..15 {
            let mut batch = RecordBatchBuilder::new();
            batch.push(1_000 + i, Some(b"key"), Some(&[i as u8; 60][..]));
            log.append(batch.build(), 0).unwrap();
        }
        assert!(log.segment_count() >= 3);
        log
    }

    fn partition(index: i32) -> PartitionData {
        PartitionData {
            partition_index: index,
            high_watermark: 15,
            last_stable_offset: 15,
            log_start_offset: 0,
            // -1 is all 0xff, as a null records prefix is in classic versions.
            preferred_read_replica: -1,
            ..Default::default()
        }
    }

    /// Two topics; partitions with records crossing segments, none, and one batch.
    fn response(log: &Log) -> (FetchResponse, Vec<FetchedRecords>) {
        let fetched = vec![
            log.read_records(2, 1 << 20, 15).unwrap(),
            FetchedRecords::empty(),
            log.read_records(14, 1 << 20, 15).unwrap(),
            log.read_records(0, 1, 15).unwrap(),
        ];
        assert!(fetched[0].regions().len() >= 2);
        let response = FetchResponse {
            responses: vec![
                FetchableTopicResponse {
                    topic: "orders".into(),
                    topic_id: Uuid([0xff; 16]),
                    partitions: vec![partition(0), partition(1), partition(2)],
                    ..Default::default()
                },
                FetchableTopicResponse {
                    topic: "t".into(),
                    topic_id: Uuid([1; 16]),
                    partitions: vec![partition(0)],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        (response, fetched)
    }

    #[test]
    fn every_version_sends_the_bytes_the_copying_encoder_would() {
        let tmp = tempfile::tempdir().unwrap();
        let log = log(tmp.path());
        for version in 4..=16 {
            let ctx = ctx(version);
            let (mut response, fetched) = response(&log);
            let encoded = encode_with_regions(&ctx, &mut response, &fetched)
                .unwrap_or_else(|| panic!("v{version}: stand-ins not found"));
            let regions: usize = fetched.iter().map(|f| f.regions().len()).sum();
            assert_eq!(encoded.regions().count(), regions, "v{version}");

            let (copied, fetched) = response_with_bytes(&log);
            let expected = ctx.encode(&copied);
            let sent = encoded.to_vec().unwrap();
            assert_eq!(sent.len(), encoded.len(), "v{version}");
            assert!(sent == expected[..], "v{version}: the frames differ");

            // And it decodes to the records fetched.
            let mut body = Bytes::from(sent).split_off(4);
            let header_version = crate::protocol::response_header_version(ApiKey::Fetch, version);
            ResponseHeader::decode(&mut body, header_version).unwrap();
            let decoded = FetchResponse::decode(&mut body, version).unwrap();
            assert!(body.is_empty());
            let records = |r: &FetchResponse| -> Vec<Option<Bytes>> {
                r.responses
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.records.clone())
                    .collect()
            };
            let want: Vec<Option<Bytes>> = fetched
                .iter()
                .map(|f| Some(f.read_to_bytes().unwrap()))
                .collect();
            assert_eq!(records(&decoded), want, "v{version}");
        }
    }

    /// The same response with the records read into memory.
    fn response_with_bytes(log: &Log) -> (FetchResponse, Vec<FetchedRecords>) {
        let (mut response, fetched) = response(log);
        let partitions = response
            .responses
            .iter_mut()
            .flat_map(|t| &mut t.partitions);
        for (data, records) in partitions.zip(&fetched) {
            data.records = Some(records.read_to_bytes().unwrap());
        }
        (response, fetched)
    }

    #[test]
    fn a_response_without_records_is_one_buffer() {
        let mut response = FetchResponse {
            responses: vec![FetchableTopicResponse {
                topic: "orders".into(),
                partitions: vec![partition(0)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let encoded = encode(&ctx(12), &mut response, vec![FetchedRecords::empty()]);
        assert_eq!(encoded.regions().count(), 0);
        assert_eq!(encoded.to_vec().unwrap(), ctx(12).encode(&response)[..]);
    }

    #[test]
    fn the_copied_fallback_encodes_the_same_frame() {
        let tmp = tempfile::tempdir().unwrap();
        let log = log(tmp.path());
        let (mut response, fetched) = response(&log);
        let fallback = encode_copied(&ctx(11), &mut response, &fetched);
        let (expected, _) = response_with_bytes(&log);
        assert_eq!(fallback.to_vec().unwrap(), ctx(11).encode(&expected)[..]);
    }
}
