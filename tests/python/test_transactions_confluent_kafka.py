"""Kafka transactions with confluent-kafka (librdkafka): commits and aborts, what
read_committed and read_uncommitted consumers see, the last stable offset, control
records, fencing by transactional.id, and the timeout that aborts an abandoned
transaction.

Every record's value names its producer, transaction and index, so the readers can
tell exactly which records must, may and must not be visible.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict

import kafka_wire as wire
from txntest import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    TIMEOUT_S,
    Worker,
    assert_no_duplicates,
    by_partition,
    consume_all,
    create_topics,
    fetch_all,
    list_offsets,
    payload,
    wait_stable,
)
from weirtest import need, wait_until

ck = need("confluent_kafka", "confluent-kafka")
KafkaError = ck.KafkaError

FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


def txn_producer(bootstrap: str, txn_id: str, **extra) -> "ck.Producer":
    config = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5,
              "transaction.timeout.ms": 30000, "message.timeout.ms": 30000}
    config.update(extra)
    p = ck.Producer(config)
    p.init_transactions(TIMEOUT_S)
    return p


def plain_producer(bootstrap: str) -> "ck.Producer":
    return ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
                        "enable.idempotence": False})


def produce_acked(p: "ck.Producer", topic: str, partition: int, value: bytes,
                  errors: list) -> None:
    p.produce(topic, value=value, partition=partition,
              on_delivery=lambda err, msg: err is not None and errors.append(err))
    p.poll(0)


# --- commits and aborts interleaved --------------------------------------------------------


def test_read_committed_sees_all_committed_and_no_aborted_records_read_uncommitted_sees_all(
        txn_broker):
    topics = {"txn-a": 3, "txn-b": 2}
    create_topics(txn_broker.bootstrap, topics)
    rng = random.Random(7)
    t1, t2 = (txn_producer(txn_broker.bootstrap, name) for name in ("weir-t1", "weir-t2"))
    plain = plain_producer(txn_broker.bootstrap)
    # Per topic: values of committed and aborted transactions, and plain records.
    committed: dict[str, set[bytes]] = defaultdict(set)
    aborted: dict[str, set[bytes]] = defaultdict(set)
    plain_values: dict[str, set[bytes]] = defaultdict(set)
    # (producer, txn) -> outcome, and the partitions each transaction wrote to.
    outcome: dict[tuple[str, int], bool] = {}
    touched: dict[tuple[str, int], set[tuple[str, int]]] = defaultdict(set)
    errors: list = []
    decisions = [(True, False), (False, True), (True, True), (False, False)]
    for round_ in range(12):
        for p in (t1, t2):
            p.begin_transaction()
        written: dict[str, list[tuple[str, bytes]]] = {"weir-t1": [], "weir-t2": []}
        for i in range(rng.randint(4, 9)):
            for name, p in (("weir-t1", t1), ("weir-t2", t2)):
                topic = rng.choice(sorted(topics))
                part = rng.randrange(topics[topic])
                value = payload(p=name, t=round_, i=i, topic=topic, part=part)
                produce_acked(p, topic, part, value, errors)
                written[name].append((topic, value))
                touched[(name, round_)].add((topic, part))
            # Non-transactional records between the transactional ones.
            value = payload(p="plain", t=round_, i=i)
            produce_acked(plain, "txn-a", i % topics["txn-a"], value, errors)
            plain_values["txn-a"].add(value)
        # Every record acknowledged first, so aborted ones are really in the log (an
        # abort would otherwise purge what is still queued in the client).
        for p in (t1, t2):
            assert p.flush(TIMEOUT_S) == 0
        decision = decisions[round_ % 4]
        order = [("weir-t1", t1, decision[0]), ("weir-t2", t2, decision[1])]
        rng.shuffle(order)
        for name, p, commit in order:
            if commit:
                p.commit_transaction(TIMEOUT_S)
            else:
                p.abort_transaction(TIMEOUT_S)
            for topic, value in written[name]:
                (committed if commit else aborted)[topic].add(value)
            outcome[(name, round_)] = commit
    assert plain.flush(TIMEOUT_S) == 0 and not errors, f"delivery errors: {errors[:5]}"

    for topic, n in topics.items():
        ends = wait_stable(txn_broker, topic, n)
        rc = consume_all(txn_broker.bootstrap, topic, ends, "read_committed")
        ru = consume_all(txn_broker.bootstrap, topic, ends, "read_uncommitted")
        assert_no_duplicates(rc, f"{topic} read_committed")
        assert_no_duplicates(ru, f"{topic} read_uncommitted")
        for m in rc + ru:
            m.payload()  # only test records are delivered: never a control record as data
        rc_values = {m.value for m in rc}
        visible = committed[topic] | plain_values[topic]
        leaked = rc_values & aborted[topic]
        assert not leaked, f"read_committed saw {len(leaked)} aborted records, e.g. {sorted(leaked)[:3]}"
        missing = visible - rc_values
        assert not missing, (f"read_committed missed {len(missing)} committed or plain records, "
                             f"e.g. {sorted(missing)[:3]}")
        assert rc_values == visible, "read_committed saw records nobody wrote"
        assert {m.value for m in ru} == visible | aborted[topic], (
            "read_uncommitted must see every record, aborted ones too")
        for part, msgs in by_partition(rc).items():
            for name in ("weir-t1", "weir-t2", "plain"):
                order = [(m.payload()["t"], m.payload()["i"]) for m in msgs
                         if m.payload()["p"] == name]
                assert order == sorted(order), f"{topic}-{part}: {name}'s records out of order"

        for part in range(n):
            check_markers_and_aborted_index(txn_broker, topic, part, outcome, touched)


def check_markers_and_aborted_index(broker, topic, part, outcome, touched) -> None:
    """In the raw log: every offset is a data record or a control record; one COMMIT or
    ABORT marker per transaction that wrote to the partition, matching its outcome; and a
    read_committed Fetch lists exactly the aborted transactions, at their first offsets."""
    ru = fetch_all(broker, topic, part, READ_UNCOMMITTED)
    offsets = sorted(r.offset for b in ru.batches for r in b.records)
    assert offsets == list(range(ru.high_watermark)), (
        f"{topic}-{part}: offsets in the log are not 0..{ru.high_watermark - 1} "
        f"(data and control records together)")
    pid_of: dict[int, str] = {}
    first_offset: dict[tuple[str, int], int] = {}
    markers: dict[str, list[int]] = defaultdict(list)
    for b in ru.batches:
        if b.is_control:
            assert b.is_transactional, f"{topic}-{part}@{b.base_offset}: control batch not transactional"
            assert len(b.records) == 1, f"{topic}-{part}@{b.base_offset}: control batch of {len(b.records)}"
            kind = b.control_type()
            assert kind in (wire.CONTROL_ABORT, wire.CONTROL_COMMIT), (
                f"{topic}-{part}@{b.base_offset}: control record key {b.records[0].key!r}")
            markers[pid_of.get(b.producer_id, f"pid {b.producer_id}")].append(kind)
            continue
        for r in b.records:
            v = json.loads(r.value)
            if v["p"] == "plain":
                assert not b.is_transactional, f"{topic}-{part}@{r.offset}: plain record in a transactional batch"
                continue
            assert b.is_transactional, f"{topic}-{part}@{r.offset}: transactional record in a plain batch"
            pid_of[b.producer_id] = v["p"]
            first_offset.setdefault((v["p"], v["t"]), r.offset)
    for name in ("weir-t1", "weir-t2"):
        want = [wire.CONTROL_COMMIT if outcome[(name, t)] else wire.CONTROL_ABORT
                for t in sorted(t for (n, t) in outcome if n == name and (topic, part) in touched[(n, t)])]
        assert markers.get(name, []) == want, (
            f"{topic}-{part}: {name}'s markers (0 abort, 1 commit) are {markers.get(name)}, "
            f"its transactions there ended {want}")
    rc = fetch_all(broker, topic, part, READ_COMMITTED)
    assert rc.last_stable_offset == rc.high_watermark == ru.high_watermark
    pids = {v: k for k, v in pid_of.items()}
    want_aborted = sorted((pids[n], off) for (n, t), off in first_offset.items() if not outcome[(n, t)])
    assert rc.aborted == want_aborted, (
        f"{topic}-{part}: read_committed Fetch lists aborted transactions {rc.aborted}, "
        f"want (producer id, first offset) {want_aborted}")


# --- the last stable offset -----------------------------------------------------------------


def test_open_transaction_holds_back_read_committed_at_its_first_offset(txn_broker, topic):
    create_topics(txn_broker.bootstrap, {topic: 1})
    errors: list = []
    plain = plain_producer(txn_broker.bootstrap)
    for i in range(2):
        produce_acked(plain, topic, 0, payload(p="plain", i=i), errors)
    assert plain.flush(TIMEOUT_S) == 0
    t1 = txn_producer(txn_broker.bootstrap, "weir-open")
    t1.begin_transaction()
    for i in range(3):
        produce_acked(t1, topic, 0, payload(p="open", i=i), errors)
    assert t1.flush(TIMEOUT_S) == 0
    produce_acked(plain, topic, 0, payload(p="plain", i=2), errors)
    assert plain.flush(TIMEOUT_S) == 0 and not errors, errors

    assert list_offsets(txn_broker, topic, 1, READ_UNCOMMITTED) == {0: 6}
    assert list_offsets(txn_broker, topic, 1, READ_COMMITTED) == {0: 2}, (
        "the last stable offset must stop at the open transaction's first offset (2)")
    fetched = fetch_all(txn_broker, topic, 0, READ_COMMITTED)
    assert fetched.last_stable_offset == 2
    assert max(r.offset for b in fetched.batches for r in b.records) <= 1, (
        "a read_committed Fetch returned records past the last stable offset")
    rc = consume_all(txn_broker.bootstrap, topic, {0: 2}, "read_committed")
    assert [m.offset for m in rc] == [0, 1]
    ru = consume_all(txn_broker.bootstrap, topic, {0: 6}, "read_uncommitted")
    assert [m.offset for m in ru] == list(range(6))

    t1.commit_transaction(TIMEOUT_S)
    ends = wait_stable(txn_broker, topic, 1)
    assert ends == {0: 7}, f"after the commit marker the log should end at 7, not {ends}"
    rc = consume_all(txn_broker.bootstrap, topic, ends, "read_committed")
    assert [m.offset for m in rc] == list(range(6))


# --- fencing ----------------------------------------------------------------------------


def test_a_second_producer_with_the_same_transactional_id_fences_the_first(txn_broker, topic):
    create_topics(txn_broker.bootstrap, {topic: 1})
    errors: list = []
    old = txn_producer(txn_broker.bootstrap, "weir-fenced")
    old.begin_transaction()
    for i in range(5):
        produce_acked(old, topic, 0, payload(p="old", i=i), errors)
    assert old.flush(TIMEOUT_S) == 0 and not errors, errors

    new = txn_producer(txn_broker.bootstrap, "weir-fenced")  # bumps the epoch

    # The fence may surface on the next produce (flush raises the fatal error), on the
    # commit, or on the abort that an abortable produce error calls for.
    late: list = []
    fenced_error = None
    try:
        old.produce(topic, value=payload(p="old", i=5), partition=0,
                    on_delivery=lambda err, msg: late.append(err))
        old.flush(TIMEOUT_S)
        old.commit_transaction(TIMEOUT_S)
    except (ck.KafkaException, SystemError) as exc:
        # confluent-kafka raises a fatal error from flush() through the delivery
        # callback's frame, as a SystemError caused by the KafkaException.
        cause = exc if isinstance(exc, ck.KafkaException) else exc.__cause__
        assert isinstance(cause, ck.KafkaException), f"unexpected {exc!r}"
        fenced_error = cause.args[0]
        if not fenced_error.fatal() and fenced_error.txn_requires_abort():
            # An abortable produce error first; the abort must then meet the fence.
            try:
                old.abort_transaction(TIMEOUT_S)
                fenced_error = None
            except ck.KafkaException as exc2:
                fenced_error = exc2.args[0]
    assert fenced_error is not None, "the fenced producer's commit (or abort) succeeded"
    assert fenced_error.fatal() and fenced_error.code() in FENCED, (
        f"the fenced producer got {fenced_error!r}, want a fatal PRODUCER_FENCED / "
        f"INVALID_PRODUCER_EPOCH")

    new.begin_transaction()
    for i in range(3):
        produce_acked(new, topic, 0, payload(p="new", i=i), errors)
    new.commit_transaction(TIMEOUT_S)
    assert not errors, errors

    ends = wait_stable(txn_broker, topic, 1)
    rc = consume_all(txn_broker.bootstrap, topic, ends, "read_committed")
    assert [m.payload() for m in rc] == [{"p": "new", "i": i} for i in range(3)], (
        "read_committed must see only the new producer's transaction")
    raw = fetch_all(txn_broker, topic, 0, READ_UNCOMMITTED)
    kinds = [b.control_type() for b in raw.batches if b.is_control]
    assert kinds == [wire.CONTROL_ABORT, wire.CONTROL_COMMIT], (
        f"want the old transaction aborted by the fence, then the new one committed: {kinds}")


# --- transaction.timeout.ms ------------------------------------------------------------------


def test_a_transaction_abandoned_by_a_killed_producer_is_aborted_after_its_timeout(
        txn_broker, topic):
    create_topics(txn_broker.bootstrap, {topic: 1})
    worker = Worker("open-transaction", txn_broker.bootstrap, topic, "weir-abandoned", 3000, 4)
    try:
        wait_until(lambda: worker.ready() or worker.exited() is not None, 60,
                   "the producer to have its open transaction's records acknowledged")
        assert worker.ready(), worker.describe()
    finally:
        worker.kill()
    assert list_offsets(txn_broker, topic, 1, READ_COMMITTED) == {0: 0}
    # Kafka's coordinator looks for expired transactions every 10 s by default
    # (transaction.abort.timed.out.transaction.cleanup.interval.ms).
    ends = wait_stable(txn_broker, topic, 1, timeout_s=60)
    assert ends == {0: 5}, f"want 4 records and an ABORT marker, the log ends at {ends}"
    raw = fetch_all(txn_broker, topic, 0, READ_UNCOMMITTED)
    assert [b.control_type() for b in raw.batches if b.is_control] == [wire.CONTROL_ABORT]
    rc = consume_all(txn_broker.bootstrap, topic, ends, "read_committed")
    assert rc == [], f"read_committed saw the timed-out transaction: {rc[:3]}"

    p = txn_producer(txn_broker.bootstrap, "weir-abandoned")
    p.begin_transaction()
    errors: list = []
    produce_acked(p, topic, 0, payload(p="after", i=0), errors)
    p.commit_transaction(TIMEOUT_S)
    ends = wait_stable(txn_broker, topic, 1)
    rc = consume_all(txn_broker.bootstrap, topic, ends, "read_committed")
    assert [m.payload() for m in rc] == [{"p": "after", "i": 0}]
