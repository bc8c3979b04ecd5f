"""Consumer groups with kafka-python (its own protocol code, no librdkafka).

The same behaviours as test_groups_confluent_kafka.py: members of one group split a
topic and every record goes to exactly one of them; partitions move when a member
leaves or dies; two groups each see every record; committed offsets survive a broker
restart; a sticky assignor keeps what it can; a static member comes back to its
partitions without a rebalance; `weir groups reset-offsets` moves where a group resumes.

kafka-python's StickyPartitionAssignor is eager (it revokes every partition and
assigns the new set), and stands in for the cooperative test: when a member joins,
the others keep a subset of what they had.

Each member polls in its own thread, as an application would. Members commit manually
after processing each batch, and in `on_partitions_revoked` (before the group
changes), so a record is never delivered twice.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Optional

import pytest

from weirtest import MemberProcess, assert_disjoint_cover, assert_each_once, need

kafka = need("kafka", "kafka-python")
kafka_admin = need("kafka.admin", "kafka-python")
kafka_errors = need("kafka.errors", "kafka-python")
assignors = need("kafka.coordinator.assignors.sticky.sticky_assignor", "kafka-python")
TopicPartition = kafka.TopicPartition
OffsetAndMetadata = kafka.OffsetAndMetadata

TIMEOUT_S = 30
# Generous bounds for a loaded 2-core machine; nothing here is a timing assertion.
REBALANCE_S = 45
SESSION_MS = 6000


# --- client helpers ---------------------------------------------------------------


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    client = kafka_admin.KafkaAdminClient(bootstrap_servers=bootstrap, client_id="weir-e2e",
                                          request_timeout_ms=TIMEOUT_S * 1000)
    try:
        client.create_topics([kafka_admin.NewTopic(topic, num_partitions=partitions,
                                                   replication_factor=1)])
    finally:
        client.close()
    c = kafka.KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while c.partitions_for_topic(topic) != set(range(partitions)):
            assert time.monotonic() < deadline, f"no metadata for {topic} after {TIMEOUT_S}s"
            time.sleep(0.1)
    finally:
        c.close()


def produce(bootstrap: str, topic: str, values: list[bytes],
            partition: Optional[int] = None) -> None:
    """Produces `values` (keyed by themselves, or all to `partition`), every one acked."""
    # Non-idempotent, as everywhere but test_idempotence.py (kafka-python 3.x's default
    # is idempotent).
    p = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                            enable_idempotence=False,
                            request_timeout_ms=TIMEOUT_S * 1000)
    try:
        futures = [p.send(topic, key=None if partition is not None else v, value=v,
                          partition=partition) for v in values]
        p.flush(timeout=TIMEOUT_S)
        for f in futures:
            f.get(timeout=TIMEOUT_S)
    finally:
        p.close(timeout=5)


def values(tag: str, count: int, start: int = 0) -> list[bytes]:
    return [f"{tag}-{i}".encode() for i in range(start, start + count)]


class Member(kafka.ConsumerRebalanceListener):
    """One consumer in a group, polling in its own thread as an application does.

    `events` lists ("assign" | "revoke", partitions) in order; `owned` is the
    assignment they add up to; `records` is every (partition, offset, value)
    delivered. Processed offsets are committed synchronously after every batch and in
    `on_partitions_revoked` before the group changes.

    Each member polls continuously in its own thread: kafka-python 3 runs a rebalance
    as a task that only a poll of that consumer collects, and members polled in turn
    from one thread leave each other's finished rebalances uncollected (the client
    then starts another). The consumer is not thread-safe, so everything else done
    with it goes through `call`, which runs in the member's thread between polls.
    """

    def __init__(self, bootstrap: str, group: str, topic: str, name: str, **extra):
        self.name = name
        self.topic = topic
        # Rebound, never mutated, so the test thread can read them while polls go on.
        self.events: list[tuple[str, list[int]]] = []
        self.owned: frozenset[int] = frozenset()
        self.records: list[tuple[int, int, bytes]] = []
        self.pending: dict[int, int] = {}  # partition -> next offset, not yet committed
        config = dict(
            bootstrap_servers=bootstrap, group_id=group, client_id=name,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=SESSION_MS, heartbeat_interval_ms=500,
            max_poll_interval_ms=30000, request_timeout_ms=TIMEOUT_S * 1000 + 5000,
        )
        config.update(extra)
        self.consumer = kafka.KafkaConsumer(**config)
        # kafka-python 3 joins without waiting for the topic's metadata; a leader that
        # assigned from none rejoins once it arrives, and that second rebalance's end
        # is lost if it comes between two polls (the member then waits forever with
        # heartbeats off). Fetching the metadata first keeps the first rebalance whole.
        assert self.consumer.partitions_for_topic(topic), f"no metadata for {topic}"
        self.consumer.subscribe([topic], listener=self)
        self.closed = False
        self.polling = threading.Event()
        self.polling.set()
        self.stopping = threading.Event()
        self.calls: queue.Queue = queue.Queue()
        self.failure: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    # ConsumerRebalanceListener (called from inside a poll, in the member's thread)
    def on_partitions_revoked(self, revoked) -> None:
        parts = sorted(tp.partition for tp in revoked)
        self.events = self.events + [("revoke", parts)]
        self._commit(only=set(parts))
        self.owned = self.owned - set(parts)

    def on_partitions_assigned(self, assigned) -> None:
        parts = sorted(tp.partition for tp in assigned)
        self.events = self.events + [("assign", parts)]
        self.owned = self.owned | set(parts)

    def _commit(self, only: Optional[set[int]] = None, retriable_ok: bool = False) -> None:
        offsets = {TopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1)
                   for p, o in sorted(self.pending.items()) if only is None or p in only}
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets)
        except kafka_errors.RebalanceInProgressError:
            # The client is between JoinGroup and SyncGroup: a periodic commit keeps
            # its offsets and tries again after the next poll.
            if not retriable_ok:
                raise
            return
        for tp in offsets:
            self.pending.pop(tp.partition, None)

    def _poll(self) -> None:
        batch = self.consumer.poll(timeout_ms=200, max_records=100)
        got = []
        for tp, records in batch.items():
            for r in records:
                got.append((tp.partition, r.offset, r.value))
                self.pending[tp.partition] = r.offset + 1
        if got:
            self.records = self.records + got
        self._commit(retriable_ok=True)

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    fn, done = self.calls.get_nowait()
                except queue.Empty:
                    if self.polling.is_set():
                        try:
                            self._poll()
                        except kafka_errors.KafkaError as e:
                            # A broker restart surfaces as a retriable error from poll;
                            # an application polls again, and so does this loop.
                            if not e.retriable:
                                raise
                            time.sleep(0.1)
                    else:
                        time.sleep(0.05)
                    continue
                try:
                    done.append(("ok", fn()))
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    done.append(("error", e))
        except BaseException as e:  # noqa: BLE001 - reported by check()
            self.failure = e

    def call(self, fn: Callable[[], object]) -> object:
        """Runs `fn` in the member's thread, between two polls, and returns its result."""
        done: list = []
        self.calls.put((fn, done))
        deadline = time.monotonic() + TIMEOUT_S * 2
        while not done:
            self.check()
            assert time.monotonic() < deadline, f"{self.name}: no answer from its thread"
            time.sleep(0.01)
        kind, value = done[0]
        if kind == "error":
            raise value
        return value

    def check(self) -> None:
        """Raises what stopped the member's poll loop, if anything did."""
        if self.failure is not None:
            raise AssertionError(f"{self.name}'s poll loop failed") from self.failure
        assert self.closed or self.thread.is_alive(), f"{self.name}'s poll loop is gone"

    def assignment(self) -> set[int]:
        return self.call(lambda: {tp.partition for tp in self.consumer.assignment()})

    def commit(self) -> None:
        self.call(self._commit)

    def stop_polling(self) -> None:
        """Stops calling poll (the consumer stays open), as a stuck application would."""
        self.polling.clear()

    def close(self) -> None:
        if not self.closed:
            def close() -> None:
                self._commit()
                self.consumer.close(autocommit=False)
            try:
                self.call(close)
            finally:
                self.closed = True
                self.stopping.set()
                self.thread.join(timeout=TIMEOUT_S)


def drive(members: list[Member], until: Callable[[], bool], what: str,
          timeout_s: float = REBALANCE_S) -> None:
    """Waits, while the members poll, until `until()` holds; fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not until():
        for m in members:
            m.check()
        if time.monotonic() > deadline:
            state = {m.name: sorted(m.owned) for m in members}
            got = {m.name: len(m.records) for m in members}
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; "
                                 f"assignments {state}, records read {got}")
        time.sleep(0.05)


def drive_for(members: list[Member], seconds: float) -> None:
    """Keeps polling for a while, so a late duplicate or a stray rebalance shows up."""
    end = time.monotonic() + seconds
    drive(members, lambda: time.monotonic() > end, "settling", timeout_s=seconds + 5)


def balanced(members: list[Member], partitions: int) -> Callable[[], bool]:
    """Every member owns its share and together they own each partition once."""
    share = partitions // len(members)

    def check() -> bool:
        owned = [m.owned for m in members]
        return all(len(o) == share for o in owned) and set().union(*owned) == set(
            range(partitions)) and all(
            m.owned == m.assignment() for m in members)
    return check


def delivered(members: list[Member], count: int) -> Callable[[], bool]:
    return lambda: sum(len(m.records) for m in members) >= count


def history(members: list[Member]) -> str:
    """The members' rebalance callbacks and per-partition offsets read, for failures."""
    lines = []
    for m in members:
        spans: dict[int, list[int]] = {}
        for p, o, _ in m.records:
            spans.setdefault(p, []).append(o)
        read = {p: (min(os), max(os), len(os)) for p, os in sorted(spans.items())}
        lines.append(f"\n  {m.name}: callbacks {m.events}; read (first, last, count) {read}")
    return "".join(lines)


def close_all(members: list[Member]) -> None:
    for m in members:
        try:
            m.close()
        except Exception:  # noqa: BLE001 - teardown of a failed test; report the failure
            pass


# --- tests --------------------------------------------------------------------------


def test_three_members_split_six_partitions_and_read_every_record_once(group_broker, topic):
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    first: list[bytes] = []
    members: list[Member] = []
    try:
        # Members join one by one while records flow, so the group changes mid-stream.
        for i in range(3):
            members.append(Member(b, "trio", topic, f"member-{i}"))
            batch = values(f"joining-{i}", 100)
            produce(b, topic, batch)
            first += batch
            drive(members, delivered(members, len(first)),
                  f"{len(first)} records with {i + 1} members")
        drive(members, balanced(members, 6), "three members owning two partitions each")
        assert_disjoint_cover({m.name: m.owned for m in members}, 6)

        second = values("after", 300)
        produce(b, topic, second)
        drive(members, delivered(members, 600), "all 600 records")
        drive_for(members, 1.0)
        assert_each_once({m.name: m.records for m in members}, first + second,
                         history(members))
        # Once stable, each record went to the member owning its partition.
        for m in members:
            late = {p for p, _, v in m.records if v.startswith(b"after-")}
            assert late <= m.owned, f"{m.name} read partitions {late} but owns {m.owned}"
            assert late, f"{m.name} read none of the records produced once stable"
    finally:
        close_all(members)


def test_a_closed_member_partitions_go_to_the_others(group_broker, topic):
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    members = [Member(b, "leavers", topic, f"member-{i}") for i in range(3)]
    try:
        drive(members, balanced(members, 6), "three members owning two partitions each")
        produced = values("v", 300)
        produce(b, topic, produced[:150])
        drive(members, delivered(members, 150), "150 records")
        leaving = members.pop()
        # kafka-python's close() sends LeaveGroup without calling the revoke listener;
        # Member.close() commits what it processed first.
        leaving.close()
        produce(b, topic, produced[150:])
        drive(members, balanced(members, 6), "the two remaining members owning three each")
        drive(members, delivered(members + [leaving], 300), "all 300 records")
        drive_for(members, 1.0)
        assert_each_once({m.name: m.records for m in members + [leaving]}, produced,
                         history(members + [leaving]))
    finally:
        close_all(members)


def test_a_killed_member_partitions_are_reassigned_after_its_session_times_out(
        group_broker, topic):
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    members = [Member(b, "survivors", topic, f"member-{i}") for i in range(2)]
    # The third member runs in its own process with a 2 s session, and is SIGKILLed:
    # no LeaveGroup, no more heartbeats.
    child = MemberProcess("kafka-python", b, "survivors", topic, session_ms=2000)
    try:
        def stable() -> bool:
            owned = {m.name: m.owned for m in members} | {"process": child.assigned()}
            return all(len(o) == 2 for o in owned.values()) and set().union(
                *owned.values()) == set(range(6))
        drive(members, stable, "two members and the process owning two partitions each")
        lost = child.assigned()
        child.kill()
        drive(members, balanced(members, 6),
              f"the survivors taking over partitions {sorted(lost)} of the killed member")
        assert lost <= members[0].owned | members[1].owned
        # The killed member committed nothing: its partitions are read from the start.
        produced = values("v", 120)
        produce(b, topic, produced)
        drive(members, delivered(members, 120), "all 120 records")
        drive_for(members, 0.5)
        assert_each_once({m.name: m.records for m in members}, produced,
                         history(members))
    finally:
        child.kill()
        close_all(members)


def test_a_member_that_stops_polling_is_replaced(group_broker, topic):
    """kafka-python's own liveness rule: past `max_poll_interval_ms` without a poll, the
    heartbeat thread leaves the group, and the others take its partitions."""
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    stalling = Member(b, "stallers", topic, "stalling", session_timeout_ms=2000,
                      heartbeat_interval_ms=200, max_poll_interval_ms=2000)
    other = Member(b, "stallers", topic, "other")
    try:
        drive([stalling, other], balanced([stalling, other], 6), "two members, three each")
        stalling.stop_polling()
        drive([other], lambda: other.owned == set(range(6)),
              "the polling member taking all six partitions")
    finally:
        close_all([other, stalling])


def test_two_groups_each_read_every_record(group_broker, topic):
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    blue = [Member(b, "blue", topic, f"blue-{i}") for i in range(2)]
    green = [Member(b, "green", topic, "green-0")]
    try:
        drive(blue + green, lambda: balanced(blue, 6)() and balanced(green, 6)(),
              "both groups balanced")
        produced = values("v", 200)
        produce(b, topic, produced)
        drive(blue + green, lambda: delivered(blue, 200)() and delivered(green, 200)(),
              "both groups reading all 200 records")
        drive_for(blue + green, 1.0)
        assert_each_once({m.name: m.records for m in blue}, produced,
                         history(blue))
        assert_each_once({m.name: m.records for m in green}, produced,
                         history(green))
    finally:
        close_all(blue + green)


def test_committed_offsets_survive_a_broker_restart(group_broker, topic):
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    produced = values("v", 300)
    produce(b, topic, produced)
    before = Member(b, "durable", topic, "before-restart")
    try:
        drive([before], delivered([before], 150), "150 records")
        before.commit()
        committed = {}
        for p, o, _ in before.records:
            committed[p] = max(committed.get(p, 0), o + 1)
    finally:
        before.close()

    group_broker.restart(graceful=True)
    b = group_broker.bootstrap
    after = Member(b, "durable", topic, "after-restart")
    try:
        got = {}
        for p in range(6):
            offset = after.call(lambda p=p: after.consumer.committed(TopicPartition(topic, p)))
            if offset is not None:
                got[p] = offset
        assert got == committed, f"committed offsets after restart {got}, before {committed}"
        drive([after], delivered([before, after], 300), "the remaining records")
        drive_for([after], 1.0)
        assert_each_once({"before": before.records, "after": after.records}, produced,
                         history([before, after]))
        first = {}
        for p, o, _ in after.records:
            first[p] = min(first.get(p, o), o)
        for p, o in first.items():
            assert o == committed.get(p, 0), (
                f"partition {p} resumed at {o}, committed was {committed.get(p)}")
    finally:
        after.close()


def test_sticky_assignor_keeps_what_it_can_when_a_member_joins(group_broker, topic):
    # No cooperative protocol in kafka-python: the eager StickyPartitionAssignor revokes
    # everything, then hands each member back a subset of what it had.
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    produced = values("v", 300)
    def sticky() -> dict:
        # kafka-python's StickyPartitionAssignor keeps the owned partitions it reports
        # in class attributes, shared by every consumer in the process: each member
        # gets its own subclass, as if it ran in its own process.
        own = type("StickyPartitionAssignor", (assignors.StickyPartitionAssignor,), {})
        return {"partition_assignment_strategy": [own]}

    members = [Member(b, "sticky", topic, f"member-{i}", **sticky()) for i in range(2)]
    try:
        drive(members, balanced(members, 6), "two members owning three partitions each")
        produce(b, topic, produced[:100])
        drive(members, delivered(members, 100), "100 records")
        before = {m.name: set(m.owned) for m in members}
        marks = {m.name: len(m.events) for m in members}
        third = Member(b, "sticky", topic, "member-2", **sticky())
        produce(b, topic, produced[100:])
        members.append(third)
        drive(members, balanced(members, 6), "three members owning two partitions each")
        for m in members[:2]:
            assert m.owned < before[m.name], (
                f"{m.name} had {sorted(before[m.name])}, now {sorted(m.owned)}: "
                f"callbacks {m.events[marks[m.name]:]}")
            later = m.events[marks[m.name]:]
            assert later[0] == ("revoke", sorted(before[m.name])), later
            assert later[-1] == ("assign", sorted(m.owned)), later
        drive(members, delivered(members, 300), "all 300 records")
        drive_for(members, 1.0)
        assert_each_once({m.name: m.records for m in members}, produced,
                         history(members))
    finally:
        close_all(members)


@pytest.mark.parametrize("static_leads, broker_restarts",
                         [(True, False), (False, False), (True, True)],
                         ids=["leader", "follower", "after-broker-restart"])
def test_static_member_rejoins_to_its_partitions_without_a_rebalance(
        group_broker, topic, static_leads, broker_restarts):
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    static = {"group_instance_id": "static-0", "session_timeout_ms": 20000}
    # The first member to join leads the group and computes the assignments.
    if static_leads:
        restarting = first = Member(b, "statics", topic, "static-0", **static)
    else:
        first = Member(b, "statics", topic, "dynamic")
    drive([first], lambda: first.owned == set(range(6)), "the first member owning all six")
    if static_leads:
        other = Member(b, "statics", topic, "dynamic")
    else:
        restarting = Member(b, "statics", topic, "static-0", **static)
        other = first
    members = [restarting, other]
    try:
        drive(members, balanced(members, 6), "two members owning three partitions each")
        # Settled first, so what is measured below is the rejoin alone.
        drive_for(members, 1.0)
        drive(members, balanced(members, 6), "two members still owning three each")
        before = set(restarting.owned)
        assert len(before) == 3, f"the static member owns {sorted(before)}"
        other_owned, other_events = set(other.owned), list(other.events)
        if broker_restarts:
            # The group is loaded back from __consumer_offsets with its members, and
            # only the selected protocol's metadata of each.
            group_broker.restart(graceful=True, same_port=True)
            drive_for(members, 1.0)
        # A static member's close sends no LeaveGroup: the group keeps its place.
        restarting.close()
        back = Member(b, "statics", topic, "static-0-again", **static)
        members = [back, other]
        drive(members, lambda: back.owned == before,
              f"the restarted static member getting partitions {sorted(before)} back")
        drive_for(members, 2.0)
        assert "static member rejoined" in group_broker.log_text(), (
            "the broker did not see the same instance rejoin")
        assert back.owned == before
        assert other.owned == other_owned
        assert other.events == other_events, (
            f"the other member went through a rebalance: {other.events[len(other_events):]}")
    finally:
        close_all(members)


def test_reset_offsets_changes_where_the_group_resumes(group_broker, topic, weir_cli):
    b = group_broker.bootstrap
    create_topic(b, topic, 3)
    by_partition = {p: values(f"p{p}", 20) for p in range(3)}
    for p, vs in by_partition.items():
        produce(b, topic, vs, partition=p)
    reader = Member(b, "rewinders", topic, "reader")
    try:
        drive([reader], delivered([reader], 60), "all 60 records")
        drive_for([reader], 0.5)
        reader.commit()
        # Offsets of a group with members are not reset.
        refused = weir_cli("groups", "reset-offsets", "-b", b, "--group", "rewinders",
                           "--topic", topic, "--to-earliest", "--execute", expect_ok=False)
        assert "active member" in refused, refused
    finally:
        reader.close()
    assert_each_once({"reader": reader.records}, sum(by_partition.values(), []))

    plan = weir_cli("groups", "reset-offsets", "-b", b, "--group", "rewinders",
                    "--topic", topic, "--to-offset", "5", "--execute")
    assert topic in plan, plan
    again = Member(b, "rewinders", topic, "rereader")
    try:
        drive([again], delivered([again], 45), "the 45 records from offset 5 on")
        drive_for([again], 1.0)
        assert_each_once({"rereader": again.records},
                         [v for vs in by_partition.values() for v in vs[5:]])
        assert min(o for _, o, _ in again.records) == 5
    finally:
        again.close()


def test_a_stable_group_carries_on_across_a_broker_restart(group_broker, topic):
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    members = [Member(b, "steady", topic, f"member-{i}") for i in range(2)]
    try:
        drive(members, balanced(members, 6), "two members owning three partitions each")
        first = values("before", 100)
        produce(b, topic, first)
        drive(members, delivered(members, 100), "the first 100 records")
        drive_for(members, 0.5)
        owned = {m.name: set(m.owned) for m in members}
        marks = {m.name: len(m.events) for m in members}
        # Same port, so the clients reconnect to the broker they know.
        group_broker.restart(graceful=True, same_port=True)
        second = values("after", 100)
        produce(group_broker.bootstrap, topic, second)
        drive(members, delivered(members, 200), "the 100 records produced after the restart")
        drive_for(members, 1.0)
        assert_each_once({m.name: m.records for m in members}, first + second,
                         history(members))
        # The group was persisted with its members: they keep heartbeating in the same
        # generation and nothing is rebalanced.
        assert {m.name: m.owned for m in members} == owned
        for m in members:
            assert m.events[marks[m.name]:] == [], (
                f"{m.name} went through a rebalance: {m.events[marks[m.name]:]}")
    finally:
        close_all(members)
