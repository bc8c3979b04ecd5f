"""Weir against kafka-python (a pure-Python client with its own protocol code)."""

from __future__ import annotations

import threading

import pytest

from weirtest import (
    BASE_TIMESTAMP_MS,
    CODECS,
    PARTITIONS,
    Record,
    assert_acked,
    assert_contiguous,
    assert_read_back_exactly,
    need,
    records_for_codec,
    wait_until,
)

kafka = need("kafka", "kafka-python")
kafka_admin = need("kafka.admin", "kafka-python")
kafka_errors = need("kafka.errors", "kafka-python")
TopicPartition = kafka.TopicPartition

TIMEOUT_S = 30


# --- client helpers ---------------------------------------------------------------


def admin(bootstrap: str):
    return kafka_admin.KafkaAdminClient(bootstrap_servers=bootstrap, client_id="weir-e2e",
                                        request_timeout_ms=TIMEOUT_S * 1000)


def create_topic(bootstrap: str, topic: str, partitions: int = PARTITIONS, config=None) -> None:
    client = admin(bootstrap)
    try:
        client.create_topics([kafka_admin.NewTopic(topic, num_partitions=partitions,
                                                   replication_factor=1,
                                                   topic_configs=config or {})])
    finally:
        client.close()
    c = consumer(bootstrap)
    try:
        wait_until(lambda: c.partitions_for_topic(topic) == set(range(partitions)), TIMEOUT_S,
                   f"metadata for {topic} with {partitions} partitions")
    finally:
        c.close()


def producer(bootstrap: str, codec: str = "none", **extra):
    # Plain (non-idempotent) produce, as in the confluent-kafka tests: kafka-python 3.x
    # enables idempotence by default, which test_idempotence.py covers on its own.
    config = dict(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                  compression_type=None if codec == "none" else codec,
                  request_timeout_ms=TIMEOUT_S * 1000, enable_idempotence=False)
    config.update(extra)
    return kafka.KafkaProducer(**config)


def produce(bootstrap: str, topic: str, records: list[Record], codec: str = "none") -> None:
    p = producer(bootstrap, codec)
    try:
        futures = [(r, p.send(topic, value=r.value, key=r.key, headers=r.headers,
                              timestamp_ms=r.timestamp_ms)) for r in records]
        p.flush(timeout=TIMEOUT_S)
        for r, f in futures:
            md = f.get(timeout=TIMEOUT_S)
            r.partition, r.offset = md.partition, md.offset
    finally:
        p.close(timeout=5)
    assert_acked(records)


def consumer(bootstrap: str):
    return kafka.KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                               enable_auto_commit=False, auto_offset_reset="earliest",
                               request_timeout_ms=TIMEOUT_S * 1000 + 5000)


def watermarks(bootstrap: str, topic: str, partition: int) -> tuple[int, int]:
    c = consumer(bootstrap)
    try:
        tp = TopicPartition(topic, partition)
        return c.beginning_offsets([tp])[tp], c.end_offsets([tp])[tp]
    finally:
        c.close()


def consume_all(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> list[Record]:
    c = consumer(bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = c.end_offsets(tps)
        c.assign(tps)
        c.seek_to_beginning(*tps)
        out: list[Record] = []

        def done():
            for tp, batch in c.poll(timeout_ms=500).items():
                for m in batch:
                    out.append(Record(key=m.key, value=m.value,
                                      headers=[(k, v) for k, v in (m.headers or [])],
                                      timestamp_ms=m.timestamp, partition=m.partition,
                                      offset=m.offset))
            return all(c.position(tp) >= ends[tp] for tp in tps)

        wait_until(done, 60, f"reading {topic} up to {ends}", interval_s=0)
        return out
    finally:
        c.close()


def with_seq(consumed: list[Record], produced: list[Record]) -> list[Record]:
    by_value = {r.value: r.seq for r in produced}
    for r in consumed:
        r.seq = by_value.get(r.value, -1)
    return consumed


def produce_every_codec(bootstrap: str, topic: str, per_codec: int = 40) -> list[Record]:
    produced = []
    for i, codec in enumerate(CODECS):
        batch = records_for_codec(codec, per_codec, first_seq=i * per_codec)
        produce(bootstrap, topic, batch, codec)
        produced += batch
    return produced


# --- tests --------------------------------------------------------------------------


def test_records_with_every_codec_read_back_exactly_with_keys_headers_and_timestamps(broker, topic):
    create_topic(broker.bootstrap, topic)
    produced = produce_every_codec(broker.bootstrap, topic)
    assert {r.partition for r in produced} == set(range(PARTITIONS)), "keys did not spread"
    consumed = with_seq(consume_all(broker.bootstrap, topic), produced)
    assert_read_back_exactly(produced, consumed)
    assert_contiguous(consumed)


@pytest.mark.parametrize("zero_copy", [True, False], ids=["sendfile", "copying"])
def test_every_codec_reads_back_exactly_through_sendfile_and_through_copies(
    broker_factory, topic, zero_copy
):
    # Small segments, so one fetch spans several segment files.
    broker = broker_factory(**{
        "num.partitions": 3,
        "weir.fetch.zero.copy.enable": zero_copy,
        "log.segment.bytes": 4096,
    })
    create_topic(broker.bootstrap, topic)
    produced = produce_every_codec(broker.bootstrap, topic, per_codec=120)
    consumed = with_seq(consume_all(broker.bootstrap, topic), produced)
    assert_read_back_exactly(produced, consumed)
    assert_contiguous(consumed)


def test_offsets_for_times_returns_first_offset_at_or_after_timestamp(broker, topic):
    create_topic(broker.bootstrap, topic)
    produced = records_for_codec("none", 60, first_seq=0)
    produce(broker.bootstrap, topic, produced)
    c = consumer(broker.bootstrap)
    try:
        for seq in (0, 17, 42):
            for target in (BASE_TIMESTAMP_MS + seq * 1000, BASE_TIMESTAMP_MS + seq * 1000 - 500):
                answer = c.offsets_for_times(
                    {TopicPartition(topic, p): target for p in range(PARTITIONS)})
                for tp, found in answer.items():
                    candidates = [r for r in produced
                                  if r.partition == tp.partition and r.timestamp_ms >= target]
                    if not candidates:
                        assert found is None, f"{tp} at {target}: expected no offset, got {found}"
                        continue
                    want = min(candidates, key=lambda r: r.offset)
                    assert found is not None, f"{tp} at {target}: no offset, want {want.offset}"
                    assert (found.offset, found.timestamp) == (want.offset, want.timestamp_ms), (
                        f"{tp} at {target}: got {found}, want offset {want.offset} "
                        f"timestamp {want.timestamp_ms}")
        late = c.offsets_for_times(
            {TopicPartition(topic, p): BASE_TIMESTAMP_MS + 10**9 for p in range(PARTITIONS)})
        assert all(v is None for v in late.values()), f"expected nothing past the end: {late}"
    finally:
        c.close()


def test_graceful_restart_keeps_every_record_and_continues_offsets(broker, topic):
    create_topic(broker.bootstrap, topic)
    produced = produce_every_codec(broker.bootstrap, topic, per_codec=20)
    broker.restart(graceful=True)
    consumed = with_seq(consume_all(broker.bootstrap, topic), produced)
    assert_read_back_exactly(produced, consumed)
    more = records_for_codec("zstd", 30, first_seq=1000)
    produce(broker.bootstrap, topic, more, "zstd")
    all_consumed = with_seq(consume_all(broker.bootstrap, topic), produced + more)
    assert_read_back_exactly(produced + more, all_consumed)
    assert_contiguous(all_consumed)


# kafka-python's producer, closed after its broker died, complains again from __del__.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sigkill_during_acks_all_produce_keeps_every_acked_record_at_its_offset(broker, topic):
    create_topic(broker.bootstrap, topic)
    acked: dict[bytes, tuple[int, int]] = {}
    sent: set[bytes] = set()
    stop = threading.Event()
    lock = threading.Lock()

    def produce_forever():
        p = producer(broker.bootstrap, "gzip", max_block_ms=2000, retries=2, request_timeout_ms=5000,
                     delivery_timeout_ms=8000,
                     reconnect_backoff_max_ms=500)
        seq = 0
        while not stop.is_set():
            value = f"crash-{seq}".encode()
            try:
                future = p.send(topic, value=value, key=f"k{seq % 11}".encode())
            except kafka_errors.KafkaError:
                continue
            sent.add(value)
            seq += 1

            def on_ack(md, value=value):
                with lock:
                    acked[value] = (md.partition, md.offset)
            future.add_callback(on_ack)
            if seq % 50 == 0:
                try:
                    future.get(timeout=10)
                except kafka_errors.KafkaError:
                    pass
        # The broker is gone: whatever is still unacknowledged fails here, which is fine.
        try:
            p.flush(timeout=20)
        except kafka_errors.KafkaError:
            pass
        try:
            p.close(timeout=0)
        except kafka_errors.KafkaError:
            pass

    thread = threading.Thread(target=produce_forever, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(acked) >= 500, 60, "500 acked records before the crash")
        broker.kill()
    finally:
        stop.set()
        thread.join(90)
    assert not thread.is_alive(), "producer thread did not finish"

    broker.start()
    consumed = consume_all(broker.bootstrap, topic)
    at = {(r.partition, r.offset): r.value for r in consumed}
    lost = [(v, pos) for v, pos in acked.items() if at.get(pos) != v]
    assert not lost, (f"{len(lost)} of {len(acked)} acked records are not at their acked "
                      f"(partition, offset) after SIGKILL: {lost[:10]}")
    phantom = [r.value for r in consumed if r.value not in sent]
    assert not phantom, f"records read that were never produced: {phantom[:10]}"
    assert_contiguous(consumed)


def test_retention_deletes_old_segments_and_advances_log_start_offset(broker_factory, topic):
    """Rounds stamped an hour ago expire under retention.ms=10 min; a fresh round stays.

    Each round is one batch of more than segment.bytes, so it fills a segment of its own:
    every old segment goes, the fresh one is kept, and the outcome does not depend on
    how fast this machine is.
    """
    broker = broker_factory(**{"log.retention.check.interval.ms": 200})
    create_topic(broker.bootstrap, topic, partitions=1,
                 config={"segment.bytes": "1024", "retention.ms": "600000"})
    old = []
    for round_ in range(12):
        batch = [Record(key=b"k", value=f"old{round_}-{i}-".encode() + b"v" * 200,
                        timestamp_ms=BASE_TIMESTAMP_MS + round_ * 5 + i, seq=round_ * 5 + i)
                 for i in range(5)]
        produce(broker.bootstrap, topic, batch)  # one flush per round: one batch each
        old += batch
    fresh = [Record(key=b"k", value=f"fresh-{i}-".encode() + b"v" * 200, seq=100 + i)
             for i in range(5)]
    produce(broker.bootstrap, topic, fresh)
    assert [r.offset for r in fresh] == list(range(60, 65))
    segment_dir = broker.partition_dir(topic, 0)
    assert segment_dir.is_dir(), f"no partition directory {segment_dir}"

    wait_until(lambda: watermarks(broker.bootstrap, topic, 0) == (60, 65), 60,
               "the log start offset to reach 60, the first record retention keeps")
    remaining = sorted(p.name for p in segment_dir.glob("*.log"))
    assert remaining == ["00000000000000000060.log"], f"segments left: {remaining}"
    consumed = consume_all(broker.bootstrap, topic, partitions=1)
    assert [(r.offset, r.value) for r in consumed] == [(r.offset, r.value) for r in fresh]


def test_delete_records_moves_log_start_offset(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=1)
    produced = [Record(key=b"k", value=f"d{i}".encode(), seq=i) for i in range(50)]
    produce(broker.bootstrap, topic, produced)
    client = admin(broker.bootstrap)
    try:
        result = client.delete_records({TopicPartition(topic, 0): 30})
    finally:
        client.close()
    assert len(result) == 1, f"DeleteRecords answered {result}"
    assert watermarks(broker.bootstrap, topic, 0) == (30, 50)
    consumed = consume_all(broker.bootstrap, topic, partitions=1)
    assert [r.offset for r in consumed] == list(range(30, 50))
    assert [r.value for r in consumed] == [r.value for r in produced[30:]]
