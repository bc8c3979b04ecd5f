//! Fetches served with `sendfile(2)` (`weir.fetch.zero.copy.enable=true`, the default)
//! against the copying path: a real client (librdkafka) reads every codec back exactly
//! through both, raw Fetch responses are the same bytes through both, a response held
//! up mid-send survives retention deleting its segments, and clients that reset their
//! connection mid-send leave the broker serving.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::{
    admin, admin_options, block_on, client_config, create_topic, read_all, wait_until,
    BrokerProcess, InProcessBroker, WAIT,
};
use weir_core::broker::BrokerConfig;
use weir_core::protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use weir_core::protocol::messages::{FetchRequest, FetchResponse};
use weir_core::protocol::{
    request_header_version, response_header_version, ApiKey, Decodable, Encodable, RequestHeader,
    ResponseHeader,
};

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

fn start_broker(dir: &Path, zero_copy: bool) -> InProcessBroker {
    let mut config = BrokerConfig::new(dir);
    config.auto_create_topics = false;
    config
        .set("weir.fetch.zero.copy.enable", &zero_copy.to_string())
        .unwrap();
    InProcessBroker::start(config)
}

fn producer(bootstrap: &str, compression: &str) -> BaseProducer {
    client_config(bootstrap)
        .set("compression.type", compression)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "65536")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("create producer")
}

fn flush(producer: &BaseProducer) {
    producer.flush(WAIT).expect("flush");
    assert_eq!(producer.in_flight_count(), 0);
}

/// Record `i`'s value: 1 to 3000 bytes, partly repetitive so every codec has work.
fn value(i: usize) -> Vec<u8> {
    let len = 1 + (i * 7919) % 3000;
    (0..len)
        .map(|j| {
            if j % 5 == 0 {
                (i ^ j) as u8
            } else {
                b'a' + (j % 7) as u8
            }
        })
        .collect()
}

fn produce(bootstrap: &str, topic: &str, codec: &str, records: usize) {
    let producer = producer(bootstrap, codec);
    for i in 0..records {
        let key = format!("k{i}");
        let value = value(i);
        producer
            .send(BaseRecord::to(topic).key(&key).payload(&value).partition(0))
            .unwrap_or_else(|(err, _)| panic!("send failed: {err}"));
        producer.poll(Duration::ZERO);
    }
    flush(&producer);
}

/// A blocking raw-protocol connection, for what librdkafka does not expose: the
/// response bytes themselves, and reading them at the test's own pace.
struct Raw {
    stream: TcpStream,
    correlation_id: i32,
}

impl Raw {
    fn connect(bootstrap: &str) -> Raw {
        let stream = TcpStream::connect(bootstrap).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Raw {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends a Fetch of `topic`-0 from `offset` with both byte limits `max_bytes`.
    fn send_fetch(&mut self, topic: &str, offset: i64, max_bytes: i32, version: i16) {
        self.correlation_id += 1;
        let request = FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: topic.into(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: offset,
                    partition_max_bytes: max_bytes,
                    current_leader_epoch: -1,
                    log_start_offset: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader {
            request_api_key: ApiKey::Fetch as i16,
            request_api_version: version,
            correlation_id: self.correlation_id,
            client_id: Some("zero-copy-test".into()),
            ..Default::default()
        }
        .encode(&mut buf, request_header_version(ApiKey::Fetch, version));
        request.encode(&mut buf, version);
        let size = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&size.to_be_bytes());
        self.stream.write_all(&buf).expect("send the fetch");
    }

    /// Reads one whole response frame, size prefix included.
    fn read_frame(&mut self) -> Vec<u8> {
        let mut size = [0; 4];
        self.stream.read_exact(&mut size).expect("read a size");
        let mut frame = vec![0; 4 + i32::from_be_bytes(size) as usize];
        frame[..4].copy_from_slice(&size);
        self.stream
            .read_exact(&mut frame[4..])
            .expect("read a frame");
        frame
    }
}

fn decode_fetch(frame: &[u8], version: i16) -> FetchResponse {
    let mut body = Bytes::copy_from_slice(&frame[4..]);
    ResponseHeader::decode(&mut body, response_header_version(ApiKey::Fetch, version)).unwrap();
    let response = FetchResponse::decode(&mut body, version).unwrap();
    assert!(!body.has_remaining());
    response
}

/// Every frame a raw consumer gets reading `topic`-0 to its end in fetches of
/// `max_bytes`, at `version`.
fn raw_frames(bootstrap: &str, topic: &str, max_bytes: i32, version: i16) -> Vec<Vec<u8>> {
    let mut raw = Raw::connect(bootstrap);
    let mut frames = Vec::new();
    let mut offset = 0;
    loop {
        raw.send_fetch(topic, offset, max_bytes, version);
        let frame = raw.read_frame();
        let response = decode_fetch(&frame, version);
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, 0, "{topic} at {offset}");
        let records = partition.records.clone().unwrap_or_default();
        frames.push(frame);
        if records.is_empty() {
            return frames;
        }
        offset = last_offset(&records) + 1;
    }
}

/// The last offset of the last batch in `records` (baseOffset + lastOffsetDelta).
fn last_offset(records: &[u8]) -> i64 {
    let mut pos = 0;
    let mut last = -1;
    while pos + 61 <= records.len() {
        let base = i64::from_be_bytes(records[pos..pos + 8].try_into().unwrap());
        let length = i32::from_be_bytes(records[pos + 8..pos + 12].try_into().unwrap());
        let delta = i32::from_be_bytes(records[pos + 23..pos + 27].try_into().unwrap());
        last = base + i64::from(delta);
        pos += 12 + length as usize;
    }
    assert_eq!(pos, records.len(), "records end inside a batch");
    last
}

type Frames = BTreeMap<(String, i16), Vec<Vec<u8>>>;

/// Reads every codec's topic back with librdkafka, checking each record, and with raw
/// fetches in a classic and a flexible version, returning their frames.
fn consume_everything(bootstrap: &str, records: usize) -> Frames {
    let mut frames = Frames::new();
    for codec in CODECS {
        let topic = format!("codec-{codec}");
        let read = read_all(bootstrap, &topic, 1);
        let read = &read[&0];
        assert_eq!(read.len(), records, "{codec}");
        for (i, message) in read.iter().enumerate() {
            assert_eq!(message.offset(), i as i64, "{codec}");
            assert_eq!(message.key(), Some(format!("k{i}").as_bytes()), "{codec}");
            assert!(
                message.payload() == Some(&value(i)[..]),
                "{codec}: value {i}"
            );
        }
        for version in [11, 12] {
            let got = raw_frames(bootstrap, &topic, 100_000, version);
            frames.insert((codec.to_owned(), version), got);
        }
    }
    frames
}

#[test]
fn every_codec_reads_back_byte_exactly_through_sendfile_and_through_copies() {
    let dir = tempfile::tempdir().unwrap();
    let records = 3_000;
    let zero_copy = start_broker(dir.path(), true);
    for codec in CODECS {
        let topic = format!("codec-{codec}");
        // Small segments, so fetches cross segment boundaries.
        create_topic(
            &zero_copy.bootstrap,
            &topic,
            1,
            &[("segment.bytes", "200000")],
        );
        produce(&zero_copy.bootstrap, &topic, codec, records);
    }
    let sent = consume_everything(&zero_copy.bootstrap, records);
    zero_copy.stop();

    let copying = start_broker(dir.path(), false);
    let copied = consume_everything(&copying.bootstrap, records);
    copying.stop();

    for (key, frames) in &sent {
        assert!(frames.len() > 2, "{key:?}: {} fetches", frames.len());
        assert!(
            frames == &copied[key],
            "{key:?}: the zero-copy and copying responses differ"
        );
    }
}

/// Produces about `mb` MiB of 100 KiB records to `topic`-0.
fn produce_mb(bootstrap: &str, topic: &str, mb: usize) {
    let producer = producer(bootstrap, "none");
    let value = vec![b'x'; 100 * 1024];
    for i in 0..mb * 10 {
        let key = format!("k{i}");
        producer
            .send(BaseRecord::to(topic).key(&key).payload(&value).partition(0))
            .unwrap_or_else(|(err, _)| panic!("send failed: {err}"));
        producer.poll(Duration::ZERO);
    }
    flush(&producer);
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_response_held_up_mid_sendfile_survives_retention_deleting_its_segments() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(dir.path(), true);
    let topic = "racing-retention";
    create_topic(&broker.bootstrap, topic, 1, &[("segment.bytes", "1048576")]);
    produce_mb(&broker.bootstrap, topic, 40);
    let partition_dir = dir.path().join(format!("{topic}-0"));
    let before = segment_files(&partition_dir);
    assert!(before.len() > 30, "{before:?}");

    // The bytes as a fetch before the deletion gets them.
    let max_bytes = 48 << 20;
    let mut reference = Raw::connect(&broker.bootstrap);
    reference.send_fetch(topic, 0, max_bytes, 12);
    let expected = reference.read_frame();

    // The same fetch, read no further than its size: the broker is stuck in the
    // middle of sending it (far more than the socket buffers hold).
    let mut slow = Raw::connect(&broker.bootstrap);
    slow.send_fetch(topic, 0, max_bytes, 12);
    let mut size = [0; 4];
    slow.stream.read_exact(&mut size).unwrap();
    assert_eq!(&size[..], &expected[..4]);

    // DeleteRecords up to the high watermark removes every segment but the active one.
    let high = last_offset(
        decode_fetch(&expected, 12).responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap(),
    ) + 1;
    let mut cut = TopicPartitionList::new();
    cut.add_partition_offset(topic, 0, Offset::Offset(high))
        .unwrap();
    let admin = admin(&broker.bootstrap);
    block_on(admin.delete_records(&cut, &admin_options())).expect("DeleteRecords");
    wait_until("the old segments to be deleted", || {
        segment_files(&partition_dir).len() <= 1
    });

    let mut rest = vec![0; expected.len() - 4];
    slow.stream.read_exact(&mut rest).unwrap();
    assert!(
        rest == expected[4..],
        "the response sent across the deletion differs"
    );
    broker.stop();
}

#[test]
fn clients_resetting_mid_sendfile_leave_the_broker_serving() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &["--set", "auto.create.topics.enable=false"]);
    let topic = "resets";
    create_topic(&broker.bootstrap, topic, 1, &[]);
    produce_mb(&broker.bootstrap, topic, 30);
    for round in 0..20 {
        let mut raw = Raw::connect(&broker.bootstrap);
        raw.send_fetch(topic, 0, 32 << 20, if round % 2 == 0 { 12 } else { 4 });
        if round % 3 != 0 {
            let mut some = vec![0; 64 * 1024 * round];
            raw.stream.read_exact(&mut some).unwrap();
        }
        // Closing with unread data sends a reset; the broker is mid-sendfile.
        drop(raw);
    }
    // Everything still reads back, and the broker is the same process.
    let read = read_all(&broker.bootstrap, topic, 1);
    assert_eq!(read[&0].len(), 300);
    assert!(read[&0]
        .iter()
        .all(|m| m.payload().map(<[u8]>::len) == Some(100 * 1024)));
    broker.terminate();
}
