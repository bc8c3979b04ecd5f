"""Weir against Python confluent-kafka (librdkafka): produce, fetch, offsets, durability."""

from __future__ import annotations

import threading
import time

from weirtest import (
    CODECS,
    PARTITIONS,
    BASE_TIMESTAMP_MS,
    Record,
    assert_acked,
    assert_contiguous,
    assert_read_back_exactly,
    need,
    records_for_codec,
    wait_until,
)

ck = need("confluent_kafka", "confluent-kafka")
admin_mod = need("confluent_kafka.admin", "confluent-kafka")
TopicPartition = ck.TopicPartition

TIMEOUT_S = 30


# --- client helpers ---------------------------------------------------------------


def create_topic(bootstrap: str, topic: str, partitions: int = PARTITIONS, config=None) -> None:
    admin = admin_mod.AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [admin_mod.NewTopic(topic, num_partitions=partitions, replication_factor=1,
                            config=config or {})],
        operation_timeout=TIMEOUT_S,
    )
    futures[topic].result(timeout=TIMEOUT_S)
    # The topic is usable once metadata shows every partition with a leader.
    def ready():
        md = admin.list_topics(topic=topic, timeout=5).topics.get(topic)
        return md is not None and md.error is None and len(md.partitions) == partitions and all(
            p.leader >= 0 for p in md.partitions.values())
    wait_until(ready, TIMEOUT_S, f"metadata for topic {topic} with {partitions} partitions")


def producer(bootstrap: str, **extra) -> "ck.Producer":
    config = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
              "enable.idempotence": False, "message.timeout.ms": TIMEOUT_S * 1000}
    config.update({k.replace("_", "."): v for k, v in extra.items()})
    return ck.Producer(config)


def produce(bootstrap: str, topic: str, records: list[Record], codec: str = "none") -> None:
    """Produces `records` in one producer session; fills in their acked partition/offset."""
    errors = []

    def on_delivery(record: Record):
        def callback(err, msg):
            if err is not None:
                errors.append((record.seq, err))
            else:
                record.partition, record.offset = msg.partition(), msg.offset()
        return callback

    p = producer(bootstrap, compression_type=codec)
    for r in records:
        p.produce(topic, value=r.value, key=r.key, headers=r.headers,
                  timestamp=r.timestamp_ms or 0, on_delivery=on_delivery(r))
        p.poll(0)
    remaining = p.flush(TIMEOUT_S)
    assert remaining == 0, f"{remaining} records still unacknowledged after {TIMEOUT_S}s"
    assert not errors, f"delivery failed ({codec}): {errors[:5]}"
    assert_acked(records)


def consumer(bootstrap: str) -> "ck.Consumer":
    return ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "weir-e2e-reader",
                        "enable.auto.commit": False, "auto.offset.reset": "earliest",
                        "enable.partition.eof": False})


def watermarks(bootstrap: str, topic: str, partition: int) -> tuple[int, int]:
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=TIMEOUT_S,
                                       cached=False)
    finally:
        c.close()


def consume_all(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> list[Record]:
    """Reads every partition from its log start offset up to the high watermark."""
    c = consumer(bootstrap)
    try:
        ends, next_offset = {}, {}
        for p in range(partitions):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S,
                                                cached=False)
            ends[p], next_offset[p] = high, low
        c.assign([TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
        out: list[Record] = []

        def done():
            msg = c.poll(0.5)
            if msg is not None:
                assert msg.error() is None, f"fetch error: {msg.error()}"
                _, ts = msg.timestamp()
                headers = [(k, v) for k, v in (msg.headers() or [])]
                out.append(Record(key=msg.key(), value=msg.value(), headers=headers,
                                  timestamp_ms=ts, partition=msg.partition(),
                                  offset=msg.offset()))
                next_offset[msg.partition()] = msg.offset() + 1
            return all(next_offset[p] >= ends[p] for p in ends)

        wait_until(done, 60, f"reading {topic} up to high watermarks {ends}", interval_s=0)
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


def test_offsets_for_times_returns_first_offset_at_or_after_timestamp(broker, topic):
    create_topic(broker.bootstrap, topic)
    produced = records_for_codec("none", 60, first_seq=0)
    produce(broker.bootstrap, topic, produced)
    c = consumer(broker.bootstrap)
    try:
        for seq in (0, 17, 42):
            for target in (BASE_TIMESTAMP_MS + seq * 1000, BASE_TIMESTAMP_MS + seq * 1000 - 500):
                asked = [TopicPartition(topic, p, target) for p in range(PARTITIONS)]
                answer = c.offsets_for_times(asked, timeout=TIMEOUT_S)
                for tp in answer:
                    assert tp.error is None, f"offsets_for_times error on {tp}: {tp.error}"
                    candidates = [r.offset for r in produced
                                  if r.partition == tp.partition and r.timestamp_ms >= target]
                    want = min(candidates) if candidates else -1
                    assert tp.offset == want, (
                        f"partition {tp.partition}, timestamp {target}: got offset {tp.offset}, "
                        f"want {want}")
        # Past the last record: no offset (-1, end) on every partition.
        late = c.offsets_for_times(
            [TopicPartition(topic, p, BASE_TIMESTAMP_MS + 10**9) for p in range(PARTITIONS)],
            timeout=TIMEOUT_S)
        assert all(tp.offset == -1 for tp in late), f"expected -1 past the end, got {late}"
    finally:
        c.close()


def test_graceful_restart_keeps_every_record_and_continues_offsets(broker, topic):
    create_topic(broker.bootstrap, topic)
    produced = produce_every_codec(broker.bootstrap, topic, per_codec=20)
    broker.restart(graceful=True)
    consumed = with_seq(consume_all(broker.bootstrap, topic), produced)
    assert_read_back_exactly(produced, consumed)

    ends = {p: watermarks(broker.bootstrap, topic, p)[1] for p in range(PARTITIONS)}
    more = records_for_codec("gzip", 30, first_seq=1000)
    produce(broker.bootstrap, topic, more, "gzip")
    for p in range(PARTITIONS):
        offsets = sorted(r.offset for r in more if r.partition == p)
        if offsets:
            assert offsets[0] == ends[p], f"partition {p} did not continue at {ends[p]}: {offsets}"
    all_consumed = with_seq(consume_all(broker.bootstrap, topic), produced + more)
    assert_read_back_exactly(produced + more, all_consumed)


def test_sigkill_during_acks_all_produce_keeps_every_acked_record_at_its_offset(broker, topic):
    create_topic(broker.bootstrap, topic)
    acked: dict[bytes, tuple[int, int]] = {}
    sent: set[bytes] = set()
    failed = []
    stop = threading.Event()
    lock = threading.Lock()

    def on_delivery(err, msg):
        with lock:
            if err is None:
                acked[msg.value()] = (msg.partition(), msg.offset())
            else:
                failed.append(err)

    def produce_forever():
        p = producer(broker.bootstrap, linger_ms=2, message_timeout_ms=8000,
                     compression_type="lz4")
        seq = 0
        while not stop.is_set():
            value = f"crash-{seq}".encode()
            try:
                p.produce(topic, value=value, key=f"k{seq % 11}".encode(), on_delivery=on_delivery)
                sent.add(value)
                seq += 1
            except BufferError:
                pass
            p.poll(0.001 if seq % 20 == 0 else 0)
        p.flush(20)

    thread = threading.Thread(target=produce_forever, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(acked) >= 500, 60, "500 acked records before the crash")
        broker.kill()
        acked_at_kill = len(acked)
    finally:
        stop.set()
        thread.join(60)
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
    assert acked_at_kill >= 500


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
    admin = admin_mod.AdminClient({"bootstrap.servers": broker.bootstrap})
    tp = TopicPartition(topic, 0, 20)
    result = admin.delete_records([tp], request_timeout=TIMEOUT_S)
    deleted = list(result.values())[0].result(timeout=TIMEOUT_S)
    assert deleted.low_watermark == 20, f"DeleteRecords answered low watermark {deleted}"
    assert watermarks(broker.bootstrap, topic, 0) == (20, 50)
    consumed = consume_all(broker.bootstrap, topic, partitions=1)
    assert [r.offset for r in consumed] == list(range(20, 50))
    assert [r.value for r in consumed] == [r.value for r in produced[20:]]
    # The new start offset survives a restart.
    broker.restart()
    assert watermarks(broker.bootstrap, topic, 0) == (20, 50)
