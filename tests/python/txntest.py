"""Helpers for the idempotence and transaction tests.

Records carry a JSON payload that says who wrote them and where they belong in the
writer's own order (producer, transaction, index, size; or producer, partition,
sequence), so a reader can tell a duplicate, a gap, a torn transaction or a record
that should not be visible from the records alone. Offsets are asked for and batches
fetched over raw sockets (`kafka_wire`) where the tests need what a client library
hides: the last stable offset, control batches, the aborted-transactions list.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional

import kafka_wire as wire
from weirtest import need, wait_until

ck = need("confluent_kafka", "confluent-kafka")
admin_mod = need("confluent_kafka.admin", "confluent-kafka")
TopicPartition = ck.TopicPartition

TIMEOUT_S = 30
READ_UNCOMMITTED, READ_COMMITTED = 0, 1
LATEST = -1
ISOLATION_NAMES = {READ_UNCOMMITTED: "read_uncommitted", READ_COMMITTED: "read_committed"}


@dataclass(frozen=True)
class Msg:
    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]

    def payload(self) -> dict:
        """The JSON payload every test record carries; fails on anything else."""
        try:
            decoded = json.loads(self.value)
        except (TypeError, ValueError) as exc:
            raise AssertionError(
                f"record at {self.topic}-{self.partition}@{self.offset} is not a test record "
                f"(a control record or garbage delivered as data?): {self.value!r}") from exc
        assert isinstance(decoded, dict), f"unexpected payload {self.value!r}"
        return decoded


def payload(**fields) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


# --- topics ---------------------------------------------------------------------------


def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    """Creates each topic with its partition count and waits until all have leaders."""
    admin = admin_mod.AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [admin_mod.NewTopic(t, num_partitions=n, replication_factor=1) for t, n in topics.items()],
        operation_timeout=TIMEOUT_S)
    for f in futures.values():
        f.result(timeout=TIMEOUT_S)

    def ready():
        md = admin.list_topics(timeout=5).topics
        return all(t in md and md[t].error is None and len(md[t].partitions) == n
                   and all(p.leader >= 0 for p in md[t].partitions.values())
                   for t, n in topics.items())

    wait_until(ready, TIMEOUT_S, f"metadata for topics {topics}")


# --- raw offsets and fetches ----------------------------------------------------------


def list_offsets(broker, topic: str, partitions: int, isolation: int,
                 timestamp: int = LATEST) -> dict[int, int]:
    """ListOffsets v5 at an isolation level: LATEST is the high watermark for
    read_uncommitted and the last stable offset for read_committed."""
    with wire.Connection(broker.host, broker.port) as conn:
        answer = conn.call("ListOffsets", 5, {
            "ReplicaId": -1, "IsolationLevel": isolation,
            "Topics": [{"Name": topic, "Partitions": [
                {"PartitionIndex": p, "Timestamp": timestamp} for p in range(partitions)]}]})
    out = {}
    for t in answer["Topics"]:
        for p in t["Partitions"]:
            assert p["ErrorCode"] == 0, (
                f"ListOffsets {ISOLATION_NAMES[isolation]} {topic}-{p['PartitionIndex']}: "
                f"{wire.error_name(p['ErrorCode'])}")
            out[p["PartitionIndex"]] = p["Offset"]
    assert set(out) == set(range(partitions)), f"ListOffsets answered partitions {sorted(out)}"
    return out


def wait_stable(broker, topic: str, partitions: int, timeout_s: float = 60) -> dict[int, int]:
    """Waits until no transaction is open on the topic (last stable offset == high
    watermark on every partition) and returns the high watermarks."""
    last: dict = {}

    def stable():
        hw = list_offsets(broker, topic, partitions, READ_UNCOMMITTED)
        lso = list_offsets(broker, topic, partitions, READ_COMMITTED)
        last.update(hw=hw, lso=lso)
        return hw if hw == lso else None

    return wait_until(stable, timeout_s,
                      f"{topic}'s last stable offsets to reach its high watermarks "
                      f"(an open transaction holds them back): {last}")


@dataclass
class FetchedPartition:
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int
    aborted: list[tuple[int, int]]  # (producer id, first offset)
    batches: list[wire.Batch]


def fetch_all(broker, topic: str, partition: int, isolation: int,
              until: Optional[int] = None) -> FetchedPartition:
    """Every batch of a partition from offset 0 with raw Fetch v11, up to `until` (default:
    the high watermark, or the last stable offset for read_committed)."""
    batches: list[wire.Batch] = []
    aborted: set[tuple[int, int]] = set()
    offset = 0
    with wire.Connection(broker.host, broker.port) as conn:
        while True:
            answer = conn.call("Fetch", 11, {
                "ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": 8 << 20,
                "IsolationLevel": isolation, "SessionId": 0, "SessionEpoch": -1,
                "Topics": [{"Topic": topic, "Partitions": [{
                    "Partition": partition, "CurrentLeaderEpoch": -1, "FetchOffset": offset,
                    "LogStartOffset": -1, "PartitionMaxBytes": 4 << 20}]}],
                "ForgottenTopicsData": [], "RackId": ""})
            assert answer["ErrorCode"] == 0, f"Fetch: {wire.error_name(answer['ErrorCode'])}"
            part = answer["Responses"][0]["Partitions"][0]
            assert part["ErrorCode"] == 0, (
                f"Fetch {topic}-{partition}@{offset}: {wire.error_name(part['ErrorCode'])}")
            end = until
            if end is None:
                end = part["LastStableOffset"] if isolation == READ_COMMITTED else part["HighWatermark"]
            for a in part["AbortedTransactions"] or []:
                aborted.add((a["ProducerId"], a["FirstOffset"]))
            got = [b for b in wire.decode_batches(part["Records"]) if b.last_offset >= offset]
            for b in got:
                assert b.crc_ok, f"batch at {topic}-{partition}@{b.base_offset} fails its CRC-32C"
            batches += got
            if got:
                offset = got[-1].last_offset + 1
            if offset >= end or not got:
                assert offset >= end, (
                    f"Fetch {topic}-{partition} stopped at {offset} before {end}: {part}")
                return FetchedPartition(part["HighWatermark"], part["LastStableOffset"],
                                        part["LogStartOffset"], sorted(aborted), batches)


# --- reading through a client -----------------------------------------------------------


def consume_all(bootstrap: str, topic: str, ends: dict[int, int], isolation: str,
                timeout_s: float = 60) -> list[Msg]:
    """Reads every partition of `topic` from the beginning with confluent-kafka at the
    isolation level (`read_committed` / `read_uncommitted`) until the consumer reports the
    end of each partition at or past `ends[p]`."""
    c = ck.Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"weir-txn-reader-{uuid.uuid4()}",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "enable.partition.eof": True, "isolation.level": isolation,
    })
    out: list[Msg] = []
    at_end: dict[int, int] = {}
    try:
        c.assign([TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in ends])

        def done():
            for msg in c.consume(500, timeout=0.5):
                err = msg.error()
                if err is not None and err.code() == ck.KafkaError._PARTITION_EOF:
                    at_end[msg.partition()] = msg.offset()
                    continue
                assert err is None, f"{isolation} fetch error: {err}"
                out.append(Msg(msg.topic(), msg.partition(), msg.offset(), msg.key(),
                               msg.value()))
            return all(at_end.get(p, -1) >= end for p, end in ends.items())

        wait_until(done, timeout_s,
                   f"{isolation} reading {topic} to {ends} (at end: {at_end})", interval_s=0)
        return out
    finally:
        c.close()


def assert_no_duplicates(msgs: Iterable[Msg], what: str) -> None:
    seen: dict[bytes, Msg] = {}
    twice = []
    for m in msgs:
        if m.value in seen:
            twice.append((seen[m.value], m))
        seen[m.value] = m
    assert not twice, f"{len(twice)} {what} records read twice, e.g. {twice[:3]}"


def by_partition(msgs: Iterable[Msg]) -> dict[int, list[Msg]]:
    out: dict[int, list[Msg]] = defaultdict(list)
    for m in msgs:
        out[m.partition].append(m)
    for rs in out.values():
        rs.sort(key=lambda m: m.offset)
    return out


# --- transactional requests by hand ---------------------------------------------------
#
# Versions: the newest non-flexible or first flexible ones the Java client sends, each
# one where Kafka answers PRODUCER_FENCED (90) rather than INVALID_PRODUCER_EPOCH (47).

INIT_PRODUCER_ID_V = 4
ADD_PARTITIONS_V = 3
ADD_OFFSETS_V = 3
END_TXN_V = 3
PRODUCE_V = 8


def find_coordinator(conn: wire.Connection, key: str, key_type: int) -> dict:
    """FindCoordinator v3 (key type 0: group, 1: transaction)."""
    return conn.call("FindCoordinator", 3, {"Key": key, "KeyType": key_type})


def init_producer_id(conn: wire.Connection, transactional_id: Optional[str],
                     timeout_ms: int = 60000, producer_id: int = -1, epoch: int = -1,
                     version: int = INIT_PRODUCER_ID_V, retry_concurrent: bool = True) -> dict:
    """InitProducerId, retried while the coordinator answers CONCURRENT_TRANSACTIONS (it
    is still completing the previous transaction) or is loading/not yet the coordinator."""
    body = {"TransactionalId": transactional_id, "TransactionTimeoutMs": timeout_ms}
    if version >= 3:
        body.update(ProducerId=producer_id, ProducerEpoch=epoch)
    retriable = {wire.CONCURRENT_TRANSACTIONS, wire.COORDINATOR_NOT_AVAILABLE,
                 wire.NOT_COORDINATOR, 14}  # 14: COORDINATOR_LOAD_IN_PROGRESS
    answer: dict = {}

    def attempt():
        answer.clear()
        answer.update(conn.call("InitProducerId", version, body))
        return not (retry_concurrent and answer["ErrorCode"] in retriable)

    wait_until(attempt, TIMEOUT_S, f"InitProducerId({transactional_id!r}) to stop answering "
               "a retriable error", interval_s=0.1)
    return answer


def add_partitions(conn: wire.Connection, transactional_id: str, producer_id: int, epoch: int,
                   topic: str, partitions: list[int]) -> dict[int, int]:
    """AddPartitionsToTxn v3: partition -> error code."""
    answer = conn.call("AddPartitionsToTxn", ADD_PARTITIONS_V, {
        "V3AndBelowTransactionalId": transactional_id, "V3AndBelowProducerId": producer_id,
        "V3AndBelowProducerEpoch": epoch,
        "V3AndBelowTopics": [{"Name": topic, "Partitions": partitions}]})
    return {p["PartitionIndex"]: p["PartitionErrorCode"]
            for t in answer["ResultsByTopicV3AndBelow"] for p in t["ResultsByPartition"]}


def add_offsets(conn: wire.Connection, transactional_id: str, producer_id: int, epoch: int,
                group: str) -> int:
    return conn.call("AddOffsetsToTxn", ADD_OFFSETS_V, {
        "TransactionalId": transactional_id, "ProducerId": producer_id,
        "ProducerEpoch": epoch, "GroupId": group})["ErrorCode"]


def end_txn(conn: wire.Connection, transactional_id: str, producer_id: int, epoch: int,
            commit: bool, version: int = END_TXN_V) -> int:
    return conn.call("EndTxn", version, {
        "TransactionalId": transactional_id, "ProducerId": producer_id,
        "ProducerEpoch": epoch, "Committed": commit})["ErrorCode"]


def produce_batch(conn: wire.Connection, topic: str, partition: int, batch: bytes,
                  transactional_id: Optional[str] = None) -> dict:
    """Produce v8 of one batch with acks=all: the partition's answer (ErrorCode,
    BaseOffset, ErrorMessage, …)."""
    answer = conn.call("Produce", PRODUCE_V, {
        "TransactionalId": transactional_id, "Acks": -1, "TimeoutMs": TIMEOUT_S * 1000,
        "TopicData": [{"Name": topic, "PartitionData": [{"Index": partition, "Records": batch}]}]})
    return answer["Responses"][0]["PartitionResponses"][0]


# --- child processes --------------------------------------------------------------------


class Worker:
    """`txn_worker.py MODE ARGS…` in a child process; its JSON stdout lines are collected
    in `reports` by a reader thread, its stderr in `stderr`."""

    def __init__(self, *args: str):
        script = Path(__file__).with_name("txn_worker.py")
        self.cmd = [sys.executable, str(script), *map(str, args)]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.reports: list[dict] = []
        self.stderr: list[str] = []
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            try:
                self.reports.append(json.loads(line))
            except ValueError:
                self.stderr.append(f"unexpected stdout: {line!r}")

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def committed(self) -> int:
        return sum(r.get("committed", 0) for r in self.reports)

    def done(self) -> bool:
        return any(r.get("done") for r in self.reports)

    def ready(self) -> bool:
        return any(r.get("ready") for r in self.reports)

    def exited(self) -> Optional[int]:
        return self.proc.poll()

    def describe(self) -> str:
        return (f"`{' '.join(self.cmd[1:])}` exit code {self.proc.poll()}, stderr:\n"
                + "".join(self.stderr[-30:]))

    def kill(self) -> None:
        """SIGKILL: no abort, no LeaveGroup, nothing flushed."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for t in self._threads:
            t.join(5)
