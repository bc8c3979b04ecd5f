"""Idempotence and transaction requests made by hand, wrong on purpose: stale epochs,
unknown producer ids, sequences out of order or out of range, transactions that do not
exist, control records forged by a client, frames cut short. Each gets Kafka's error
code (as Kafka's broker answers it) and the broker keeps serving everyone.

Requests are encoded from Kafka's message definitions (`kafka_wire`); the versions are
those where Kafka answers PRODUCER_FENCED (90) rather than INVALID_PRODUCER_EPOCH (47).
"""

from __future__ import annotations

import struct

import pytest

import kafka_wire as wire
from test_protocol_abuse import assert_broker_serves_clients, connect, error_response_or_close
from txntest import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    add_offsets,
    add_partitions,
    create_topics,
    end_txn,
    fetch_all,
    find_coordinator,
    init_producer_id,
    list_offsets,
    payload,
    produce_batch,
)
from weirtest import wait_until

TOPIC = "raw-txn"


def name(code: int) -> str:
    return wire.error_name(code)


@pytest.fixture
def raw(txn_broker):
    """A broker with a one-partition topic, and a connection to it."""
    # abuse-survivor: the topic assert_broker_serves_clients produces to.
    create_topics(txn_broker.bootstrap, {TOPIC: 1, "abuse-survivor": 1})
    conn = wire.Connection(txn_broker.host, txn_broker.port)
    yield txn_broker, conn
    conn.close()
    # Whatever was thrown at it, the broker still serves ordinary clients.
    healthy = connect(txn_broker)
    try:
        assert_broker_serves_clients(txn_broker, healthy, 900)
    finally:
        healthy.close()


def begin(conn, txn_id: str) -> tuple[int, int]:
    """InitProducerId + AddPartitionsToTxn: an open transaction on partition 0."""
    init = init_producer_id(conn, txn_id)
    assert init["ErrorCode"] == 0, f"InitProducerId({txn_id}): {name(init['ErrorCode'])}"
    pid, epoch = init["ProducerId"], init["ProducerEpoch"]
    assert add_partitions(conn, txn_id, pid, epoch, TOPIC, [0]) == {0: 0}
    return pid, epoch


def txn_batch(pid: int, epoch: int, seq: int, n: int = 1, **extra) -> bytes:
    return wire.encode_batch([payload(p=pid, e=epoch, s=seq + i) for i in range(n)],
                             producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                             transactional=True, **extra)


# --- coordinators ------------------------------------------------------------------------


def test_find_coordinator_for_a_transactional_id_names_this_broker(raw):
    broker, conn = raw
    answer = find_coordinator(conn, "any-txn-id", key_type=1)
    assert answer["ErrorCode"] == 0, f"FindCoordinator(TRANSACTION): {name(answer['ErrorCode'])}"
    assert (answer["Host"], answer["Port"]) == (broker.host, broker.port), answer


# --- InitProducerId ----------------------------------------------------------------------


def test_init_producer_id_bumps_the_epoch_and_fences_a_stale_or_foreign_producer(raw):
    _, conn = raw
    first = init_producer_id(conn, "raw-bump")
    second = init_producer_id(conn, "raw-bump")
    assert first["ErrorCode"] == second["ErrorCode"] == 0
    assert second["ProducerId"] == first["ProducerId"], "the producer id must survive a re-init"
    assert second["ProducerEpoch"] == first["ProducerEpoch"] + 1, (
        f"re-init must bump the epoch: {first} then {second}")
    pid = second["ProducerId"]
    # KIP-360 (v3+): a producer naming its current id and epoch may re-init (a bump);
    # one naming an old epoch or someone else's id is fenced.
    resumed = init_producer_id(conn, "raw-bump", producer_id=pid, epoch=second["ProducerEpoch"])
    assert resumed["ErrorCode"] == 0 and resumed["ProducerEpoch"] == second["ProducerEpoch"] + 1, resumed
    stale = init_producer_id(conn, "raw-bump", producer_id=pid, epoch=first["ProducerEpoch"])
    assert stale["ErrorCode"] == wire.PRODUCER_FENCED, f"stale epoch: {name(stale['ErrorCode'])}"
    foreign = init_producer_id(conn, "raw-bump", producer_id=pid + 1000, epoch=0)
    assert foreign["ErrorCode"] == wire.PRODUCER_FENCED, f"foreign id: {name(foreign['ErrorCode'])}"
    # v3 predates PRODUCER_FENCED: Kafka answers INVALID_PRODUCER_EPOCH there.
    old = init_producer_id(conn, "raw-bump", producer_id=pid, epoch=first["ProducerEpoch"], version=3)
    assert old["ErrorCode"] == wire.INVALID_PRODUCER_EPOCH, f"v3 stale epoch: {name(old['ErrorCode'])}"


def test_init_producer_id_refuses_a_timeout_over_the_broker_maximum(raw):
    _, conn = raw
    # transaction.max.timeout.ms is 15 minutes by default.
    answer = init_producer_id(conn, "raw-timeout", timeout_ms=3_600_000)
    assert answer["ErrorCode"] == wire.INVALID_TRANSACTION_TIMEOUT, name(answer["ErrorCode"])


# --- AddPartitionsToTxn / AddOffsetsToTxn -------------------------------------------------


def test_add_partitions_with_unknown_id_wrong_producer_or_stale_epoch_is_refused(raw):
    _, conn = raw
    unknown = add_partitions(conn, "raw-never-initialised", 12345, 0, TOPIC, [0])
    assert unknown == {0: wire.INVALID_PRODUCER_ID_MAPPING}, {p: name(e) for p, e in unknown.items()}
    pid, epoch = begin(conn, "raw-add")
    wrong_pid = add_partitions(conn, "raw-add", pid + 1000, epoch, TOPIC, [0])
    assert wrong_pid == {0: wire.INVALID_PRODUCER_ID_MAPPING}, {p: name(e) for p, e in wrong_pid.items()}
    assert end_txn(conn, "raw-add", pid, epoch, commit=False) == 0
    bumped = init_producer_id(conn, "raw-add")
    assert bumped["ProducerEpoch"] == epoch + 1
    stale = add_partitions(conn, "raw-add", pid, epoch, TOPIC, [0])
    assert stale == {0: wire.PRODUCER_FENCED}, {p: name(e) for p, e in stale.items()}
    assert add_offsets(conn, "raw-add", pid, epoch, "raw-group") == wire.PRODUCER_FENCED
    assert add_offsets(conn, "raw-never-initialised", 12345, 0, "raw-group") == (
        wire.INVALID_PRODUCER_ID_MAPPING)


def test_add_partitions_for_an_unknown_topic_is_refused_per_partition(raw):
    _, conn = raw
    init = init_producer_id(conn, "raw-no-topic")
    answer = add_partitions(conn, "raw-no-topic", init["ProducerId"], init["ProducerEpoch"],
                            "no-such-topic", [0])
    assert answer == {0: wire.UNKNOWN_TOPIC_OR_PARTITION}, {p: name(e) for p, e in answer.items()}


# --- EndTxn ------------------------------------------------------------------------------


def test_end_txn_for_unknown_transactions_wrong_producers_and_stale_epochs(raw):
    _, conn = raw
    assert end_txn(conn, "raw-unknown", 777, 0, commit=True) == wire.INVALID_PRODUCER_ID_MAPPING
    init = init_producer_id(conn, "raw-end")
    pid, epoch = init["ProducerId"], init["ProducerEpoch"]
    # Nothing begun: committing an empty (never started) transaction is an invalid state.
    code = end_txn(conn, "raw-end", pid, epoch, commit=True)
    assert code == wire.INVALID_TXN_STATE, f"EndTxn with no transaction: {name(code)}"
    assert end_txn(conn, "raw-end", pid + 1000, epoch, commit=True) == wire.INVALID_PRODUCER_ID_MAPPING
    pid, epoch = begin(conn, "raw-end")
    assert end_txn(conn, "raw-end", pid, epoch - 1 if epoch else epoch + 5, commit=True) == (
        wire.PRODUCER_FENCED)
    # EndTxn v1 predates PRODUCER_FENCED.
    assert end_txn(conn, "raw-end", pid, epoch + 5, commit=True, version=1) == (
        wire.INVALID_PRODUCER_EPOCH)
    assert end_txn(conn, "raw-end", pid, epoch, commit=True) == 0
    # A retried commit is answered NONE (CONCURRENT_TRANSACTIONS while the markers are
    # still being written); an abort after the commit is an invalid state.
    wait_until(lambda: end_txn(conn, "raw-end", pid, epoch, commit=True) == 0, 30,
               "a retried EndTxn(commit) to be answered NONE")
    code = end_txn(conn, "raw-end", pid, epoch, commit=False)
    assert code == wire.INVALID_TXN_STATE, f"abort after commit: {name(code)}"


def test_describe_transactions_of_an_unknown_id_is_transactional_id_not_found(raw):
    _, conn = raw
    answer = conn.call("DescribeTransactions", 0, {"TransactionalIds": ["raw-nobody"]})
    [state] = answer["TransactionStates"]
    assert state["ErrorCode"] == wire.TRANSACTIONAL_ID_NOT_FOUND, name(state["ErrorCode"])


# --- Produce --------------------------------------------------------------------------------


def test_idempotent_produce_with_bad_sequences_is_refused_and_writes_nothing(raw):
    broker, conn = raw
    init = init_producer_id(conn, None)
    pid, epoch = init["ProducerId"], init["ProducerEpoch"]

    def batch(seq, n=1, pid=pid, epoch=epoch):
        return wire.encode_batch([payload(s=seq + i) for i in range(n)], producer_id=pid,
                                 producer_epoch=epoch, base_sequence=seq)

    assert produce_batch(conn, TOPIC, 0, batch(0, 3))["ErrorCode"] == 0
    for label, b, want in [
        ("a gap (seq 5 after 0-2)", batch(5), wire.OUT_OF_ORDER_SEQUENCE_NUMBER),
        # Kafka's LogValidator refuses it before any sequence check.
        ("a negative base sequence", batch(-7), wire.INVALID_RECORD),
        ("a new epoch not starting at 0", batch(4, epoch=epoch + 1), wire.OUT_OF_ORDER_SEQUENCE_NUMBER),
    ]:
        answer = produce_batch(conn, TOPIC, 0, b)
        assert answer["ErrorCode"] == want, f"{label}: {name(answer['ErrorCode'])}, want {name(want)}"
    # Six more batches: the first is no longer among the five Kafka remembers, so its
    # retry is out of order, not a duplicate.
    for seq in range(3, 9):
        assert produce_batch(conn, TOPIC, 0, batch(seq))["ErrorCode"] == 0
    old = produce_batch(conn, TOPIC, 0, batch(0, 3))
    assert old["ErrorCode"] == wire.OUT_OF_ORDER_SEQUENCE_NUMBER, name(old["ErrorCode"])
    assert list_offsets(broker, TOPIC, 1, READ_UNCOMMITTED) == {0: 9}, "a refused batch was written"


def test_transactional_produce_with_a_stale_epoch_is_refused(raw):
    broker, conn = raw
    pid, epoch = begin(conn, "raw-stale")
    assert produce_batch(conn, TOPIC, 0, txn_batch(pid, epoch, 0, 2), "raw-stale")["ErrorCode"] == 0
    # A new instance: the open transaction is aborted with a bumped epoch, and the epoch
    # is bumped once more for the new instance (Kafka returns epoch + 2 here).
    bumped = init_producer_id(conn, "raw-stale")
    assert bumped["ErrorCode"] == 0 and bumped["ProducerEpoch"] == epoch + 2, bumped
    late = produce_batch(conn, TOPIC, 0, txn_batch(pid, epoch, 2), "raw-stale")
    assert late["ErrorCode"] in (wire.INVALID_PRODUCER_EPOCH, wire.PRODUCER_FENCED), (
        f"produce with the fenced epoch: {name(late['ErrorCode'])}")
    raw_log = fetch_all(broker, TOPIC, 0, READ_UNCOMMITTED)
    kinds = [b.control_type() for b in raw_log.batches if b.is_control]
    assert kinds == [wire.CONTROL_ABORT], f"want the fenced transaction aborted: {kinds}"
    rc = fetch_all(broker, TOPIC, 0, READ_COMMITTED)
    aborted_pids = {pid_ for pid_, _ in rc.aborted}
    assert pid in aborted_pids, f"read_committed Fetch does not list the aborted transaction: {rc.aborted}"


def test_transactional_produce_outside_a_transaction_is_refused(raw):
    broker, conn = raw
    init = init_producer_id(conn, "raw-no-add")
    pid, epoch = init["ProducerId"], init["ProducerEpoch"]
    # No AddPartitionsToTxn: Kafka (KIP-890 verification) refuses the write.
    answer = produce_batch(conn, TOPIC, 0, txn_batch(pid, epoch, 0), "raw-no-add")
    assert answer["ErrorCode"] == wire.INVALID_TXN_STATE, name(answer["ErrorCode"])
    assert list_offsets(broker, TOPIC, 1, READ_UNCOMMITTED) == {0: 0}


def test_a_client_cannot_write_control_records(raw):
    broker, conn = raw
    pid, epoch = begin(conn, "raw-forger")
    key, value = wire.control_batch_values(wire.CONTROL_COMMIT)
    forged = wire.encode_batch([value], keys=[key], producer_id=pid, producer_epoch=epoch,
                               base_sequence=0, transactional=True, control=True)
    answer = produce_batch(conn, TOPIC, 0, forged, "raw-forger")
    assert answer["ErrorCode"] == wire.INVALID_RECORD, (
        f"a client-written COMMIT marker was answered {name(answer['ErrorCode'])}")
    assert list_offsets(broker, TOPIC, 1, READ_UNCOMMITTED) == {0: 0}


def test_unknown_producer_id_on_a_transactional_batch_is_refused(raw):
    broker, conn = raw
    answer = produce_batch(conn, TOPIC, 0, txn_batch(424242, 0, 0), "raw-ghost")
    assert answer["ErrorCode"] != 0, "a transactional batch from a producer id never issued was written"
    assert list_offsets(broker, TOPIC, 1, READ_UNCOMMITTED) == {0: 0}


# --- truncated and oversized transaction requests -----------------------------------------


def _cut(api: str, version: int, body: dict, keep: int) -> bytes:
    frame = wire.encode_request(api, version, 7, body)
    payload_ = frame[4:4 + keep]
    return struct.pack(">i", len(payload_)) + payload_


BAD_FRAMES = {
    "init_producer_id_cut_short": _cut("InitProducerId", 4, {"TransactionalId": "x" * 40,
                                                             "TransactionTimeoutMs": 1}, 30),
    "end_txn_cut_short": _cut("EndTxn", 3, {"TransactionalId": "t", "ProducerId": 1,
                                            "ProducerEpoch": 0, "Committed": True}, 25),
    "add_partitions_with_huge_topic_count": (
        lambda f: struct.pack(">i", len(f)) + f)(
            wire.encode_request("AddPartitionsToTxn", 2, 7, {
                "V3AndBelowTransactionalId": "t", "V3AndBelowProducerId": 1,
                "V3AndBelowProducerEpoch": 0, "V3AndBelowTopics": []})[4:-4]
            + struct.pack(">i", 0x7FFFFFFF)),
    "txn_offset_commit_with_huge_partition_count": (
        lambda f: struct.pack(">i", len(f)) + f)(
            wire.encode_request("TxnOffsetCommit", 2, 7, {
                "TransactionalId": "t", "GroupId": "g", "ProducerId": 1, "ProducerEpoch": 0,
                "Topics": []})[4:-4] + struct.pack(">i", 1) + struct.pack(">h", 1) + b"t"
            + struct.pack(">i", 0x7FFFFFF0)),
}


@pytest.mark.parametrize("frame", sorted(BAD_FRAMES))
def test_malformed_transaction_request_gets_error_or_close(raw, frame):
    broker, _ = raw
    with connect(broker) as bad:
        bad.sendall(BAD_FRAMES[frame])
        error_response_or_close(bad, 7)
    assert broker.is_alive(), f"broker died; log:\n{broker.log_tail()}"
