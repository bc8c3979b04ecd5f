"""The idempotent producer (KIP-98): a producer id and epoch from InitProducerId, a
sequence number per partition on every batch, retries deduplicated by the broker and
answered with the original offset, and the sequence state rebuilt after a crash.

Each record's value says which producer wrote it, to which partition, and its sequence
number there, so the log itself shows any duplicate, gap or reordering.
"""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict

import kafka_wire as wire
from txntest import (
    READ_UNCOMMITTED,
    TIMEOUT_S,
    consume_all,
    create_topics,
    fetch_all,
    init_producer_id,
    list_offsets,
    payload,
    produce_batch,
)
from weirtest import need, wait_until

ck = need("confluent_kafka", "confluent-kafka")
kafka = need("kafka", "kafka-python")
kafka_errors = need("kafka.errors", "kafka-python")

PARTITIONS = 3
# Broker restarts in the kill loop: a few in CI, more with WEIR_IDEMPOTENCE_KILLS=50.
KILLS = int(os.environ.get("WEIR_IDEMPOTENCE_KILLS", "3"))


def assert_log_is_each_sequence_once_in_order(broker, topic: str, producer: str,
                                              sent: dict[int, int],
                                              acked: dict[tuple[int, int], int]) -> None:
    """The raw log of each partition holds exactly the producer's sequence numbers
    0..sent[p]-1, in order, once each; every acknowledged record is at its acked offset;
    and every batch carries a producer id with per-partition sequences that follow on."""
    for p in range(PARTITIONS):
        fetched = fetch_all(broker, topic, p, READ_UNCOMMITTED)
        records = [(r.offset, json_of(r.value)) for b in fetched.batches for r in b.records
                   if not b.is_control]
        seqs = [v["s"] for _, v in records if v["p"] == producer]
        assert seqs == list(range(sent.get(p, 0))), (
            f"partition {p}: the log holds sequences {compress(seqs)}; "
            f"want 0..{sent.get(p, 0) - 1} once each, in order")
        at = {v["s"]: off for off, v in records}
        wrong = {s: (off, at.get(s)) for (pp, s), off in acked.items() if pp == p and at.get(s) != off}
        assert not wrong, (f"partition {p}: records not at their acknowledged offsets "
                           f"(seq: (acked, in log)): {dict(list(wrong.items())[:10])}")
        data = [b for b in fetched.batches if not b.is_control]
        assert all(b.producer_id >= 0 and b.producer_epoch >= 0 for b in data), (
            f"partition {p}: batches without a producer id/epoch: "
            f"{[(b.base_offset, b.producer_id, b.producer_epoch) for b in data][:10]}")
        expected_seq: dict[tuple[int, int], int] = defaultdict(int)
        for b in data:
            key = (b.producer_id, b.producer_epoch)
            assert b.base_sequence == expected_seq[key], (
                f"partition {p}: batch at offset {b.base_offset} of producer {key} has base "
                f"sequence {b.base_sequence}, want {expected_seq[key]}")
            expected_seq[key] = b.base_sequence + len(b.records)


def json_of(value: bytes) -> dict:
    return json.loads(value)


def compress(seqs: list[int]) -> str:
    """[0,1,2,3,7,7,8] -> '0-3,7,7-8' for readable failure messages."""
    if not seqs:
        return "[]"
    parts, start, prev = [], seqs[0], seqs[0]
    for s in seqs[1:] + [None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        if s is not None:
            start = prev = s
    return ",".join(parts[:40]) + (" …" if len(parts) > 40 else "")


# --- kafka-python: idempotence by default ------------------------------------------------


def test_kafka_python_default_producer_is_idempotent_and_reads_back_exactly(txn_broker, topic):
    # kafka-python 3.x (pinned: 3.0.12) enables idempotence by default (KIP-679), with
    # acks=all; 2.x did not. Only bootstrap_servers is set here: the default config.
    create_topics(txn_broker.bootstrap, {topic: PARTITIONS})
    producer = kafka.KafkaProducer(bootstrap_servers=txn_broker.bootstrap)
    try:
        assert producer.config["enable_idempotence"], (
            f"kafka-python {kafka.__version__} did not enable idempotence by default against "
            f"this broker (inferred api_version {producer.config['api_version']}); 3.x turns "
            "it off silently only for brokers it takes to be older than 0.11")
        sent: dict[int, int] = defaultdict(int)
        futures = []
        for i in range(300):
            p = i % PARTITIONS
            value = payload(p="kafka-python", s=sent[p])
            futures.append(((p, sent[p]), producer.send(topic, value=value, partition=p)))
            sent[p] += 1
        try:
            producer.flush(timeout=TIMEOUT_S)
            acked = {key: f.get(timeout=TIMEOUT_S).offset for key, f in futures}
        except kafka_errors.KafkaError as exc:
            raise AssertionError(f"kafka-python's idempotent producer could not deliver: {exc!r}")
    finally:
        producer.close(timeout=5)
    assert_log_is_each_sequence_once_in_order(txn_broker, topic, "kafka-python", sent, acked)
    ends = list_offsets(txn_broker, topic, PARTITIONS, READ_UNCOMMITTED)
    consumed = consume_all(txn_broker.bootstrap, topic, ends, "read_uncommitted")
    assert sorted((m.partition, m.offset) for m in consumed) == sorted(
        (p, off) for (p, _), off in acked.items()), "the consumer read other records than acked"


# --- confluent-kafka: exactly once through broker crashes ---------------------------------


def test_idempotent_producer_through_broker_sigkills_writes_each_record_once_in_order(
        txn_broker, topic):
    create_topics(txn_broker.bootstrap, {topic: PARTITIONS})
    lock = threading.Lock()
    acked: dict[tuple[int, int], int] = {}
    sent: dict[int, int] = defaultdict(int)
    delivery_errors: list = []
    client_errors: list = []
    stop = threading.Event()

    def on_delivery(key):
        def callback(err, msg):
            with lock:
                if err is not None:
                    delivery_errors.append((key, err))
                else:
                    acked[key] = msg.offset()
        return callback

    producer = ck.Producer({
        "bootstrap.servers": txn_broker.bootstrap, "enable.idempotence": True,
        "linger.ms": 2, "batch.num.messages": 50,
        # Long enough that nothing expires while the broker restarts: an expired batch
        # would be a gap the producer itself made.
        "message.timeout.ms": 120000, "request.timeout.ms": 10000,
        "retry.backoff.ms": 50, "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 500,
        "error_cb": lambda err: client_errors.append(err),
    })

    def produce_forever():
        i = 0
        while not stop.is_set():
            p = i % PARTITIONS
            with lock:
                seq = sent[p]
            try:
                producer.produce(topic, value=payload(p="ck", s=seq), partition=p,
                                 on_delivery=on_delivery((p, seq)))
            except BufferError:
                producer.poll(0.05)
                continue
            with lock:
                sent[p] += 1
            i += 1
            producer.poll(0.001 if i % 25 == 0 else 0)

    thread = threading.Thread(target=produce_forever, daemon=True)
    thread.start()
    try:
        for kill in range(KILLS + 1):
            goal = len(acked) + 300
            wait_until(lambda: len(acked) >= goal or any(e.fatal() for e in client_errors)
                       or delivery_errors, 90,
                       f"300 more acknowledged records before kill {kill + 1}/{KILLS} "
                       f"(acked {len(acked)}, delivery errors {delivery_errors[:3]}, "
                       f"client errors {client_errors[:3]})")
            if any(e.fatal() for e in client_errors) or delivery_errors:
                break
            if kill < KILLS:
                txn_broker.kill_and_restart()
    finally:
        stop.set()
        thread.join(30)
    fatal = [e for e in client_errors if e.fatal()]
    assert not fatal, f"the idempotent producer hit a fatal error: {fatal}"
    assert not delivery_errors, (f"{len(delivery_errors)} records failed: "
                                 f"{delivery_errors[:5]}")
    remaining = producer.flush(90)
    assert remaining == 0, f"{remaining} records still unacknowledged 90 s after the last restart"
    assert not delivery_errors, (f"{len(delivery_errors)} records failed: "
                                 f"{delivery_errors[:5]}")
    assert len(acked) == sum(sent.values())
    assert_log_is_each_sequence_once_in_order(txn_broker, topic, "ck", dict(sent), acked)
    ends = list_offsets(txn_broker, topic, PARTITIONS, READ_UNCOMMITTED)
    consumed = consume_all(txn_broker.bootstrap, topic, ends, "read_uncommitted")
    assert len(consumed) == len(acked), (
        f"a consumer read {len(consumed)} records, {len(acked)} were acknowledged")


# --- the broker's sequence checks, by hand --------------------------------------------------


def test_retried_batch_is_answered_with_its_original_offset_also_after_a_crash(txn_broker, topic):
    create_topics(txn_broker.bootstrap, {topic: 1})
    with wire.Connection(txn_broker.host, txn_broker.port) as conn:
        init = init_producer_id(conn, None)
        assert init["ErrorCode"] == 0, f"InitProducerId: {wire.error_name(init['ErrorCode'])}"
        pid, epoch = init["ProducerId"], init["ProducerEpoch"]
        assert pid >= 0 and epoch >= 0, f"InitProducerId answered {init}"

        def batch(first_seq: int, n: int) -> bytes:
            return wire.encode_batch([payload(p="raw", s=first_seq + i) for i in range(n)],
                                     producer_id=pid, producer_epoch=epoch,
                                     base_sequence=first_seq)

        first = produce_batch(conn, topic, 0, batch(0, 3))
        assert first["ErrorCode"] == 0, f"first batch: {first}"
        second = produce_batch(conn, topic, 0, batch(3, 2))
        assert (second["ErrorCode"], second["BaseOffset"]) == (0, first["BaseOffset"] + 3), second
        for attempt, b in (("first", batch(0, 3)), ("second", batch(3, 2))):
            again = produce_batch(conn, topic, 0, b)
            want = first["BaseOffset"] if attempt == "first" else second["BaseOffset"]
            # Kafka answers a duplicate of one of a producer's last five batches with
            # NONE and the offset the batch was first written at.
            assert (again["ErrorCode"], again["BaseOffset"]) == (0, want), (
                f"a retry of the {attempt} batch was answered {again}, want NONE at its "
                f"original offset {want}")
    assert list_offsets(txn_broker, topic, 1, READ_UNCOMMITTED) == {0: 5}, (
        "retried batches were appended again")

    txn_broker.kill_and_restart()
    with wire.Connection(txn_broker.host, txn_broker.port) as conn:
        again = produce_batch(conn, topic, 0, batch(3, 2))
        assert again["ErrorCode"] == 0 and again["BaseOffset"] == second["BaseOffset"], (
            f"after SIGKILL and restart a retry of the last batch was answered {again}, "
            f"want offset {second['BaseOffset']}: the producer's sequence state was not rebuilt")
        gap = produce_batch(conn, topic, 0, batch(7, 1))
        assert gap["ErrorCode"] == wire.OUT_OF_ORDER_SEQUENCE_NUMBER, (
            f"sequence 7 after 0-4 was answered {wire.error_name(gap['ErrorCode'])}, want "
            f"OUT_OF_ORDER_SEQUENCE_NUMBER after the restart too")
        nxt = produce_batch(conn, topic, 0, batch(5, 1))
        assert (nxt["ErrorCode"], nxt["BaseOffset"]) == (0, first["BaseOffset"] + 5), nxt
    txn_broker.restart(graceful=True, same_port=True)
    with wire.Connection(txn_broker.host, txn_broker.port) as conn:
        again = produce_batch(conn, topic, 0, batch(5, 1))
        assert again["ErrorCode"] == 0 and again["BaseOffset"] == nxt["BaseOffset"], (
            f"after a graceful restart a retry of the last batch was answered {again}")
    assert list_offsets(txn_broker, topic, 1, READ_UNCOMMITTED) == {0: 6}
    fetched = fetch_all(txn_broker, topic, 0, READ_UNCOMMITTED)
    seqs = [json_of(r.value)["s"] for b in fetched.batches for r in b.records]
    assert seqs == list(range(6)), f"the log holds sequences {seqs}, want 0..5 once each"
