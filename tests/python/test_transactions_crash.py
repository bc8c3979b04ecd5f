"""A Jepsen-style check of transactions through broker crashes.

Several transactional producers (confluent-kafka) write transactions of random size
over several partitions and commit or abort them at random, while the broker is
SIGKILLed at random moments (some timed to land while a commit is in flight) and
restarted on the same port. Each producer keeps a ledger: a transaction it aborted, or
never asked to commit, must never be visible; one whose commit was acknowledged must be
visible in full; one whose commit was asked for but never acknowledged is
indeterminate — allowed either way, but all or nothing. A read_committed read of
everything afterwards must show no aborted read, no torn transaction, no lost committed
write, no duplicate, and each producer's transactions in order on every partition.

The random choices come from a seed (WEIR_TXN_SEED, printed in every failure); how
many kills from WEIR_TXN_KILLS (3 by default, more for a soak).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict

from txntest import consume_all, create_topics, payload, wait_stable
from weirtest import need, wait_until

ck = need("confluent_kafka", "confluent-kafka")

SEED = int(os.environ.get("WEIR_TXN_SEED", random.randrange(1 << 32)))
KILLS = int(os.environ.get("WEIR_TXN_KILLS", "3"))
PRODUCERS = 3
PARTITIONS = 4
TOPIC = "jepsen-txn"
COMMITTED, ABORTED, UNKNOWN = "committed", "aborted", "indeterminate"


class TxnProducer(threading.Thread):
    """One transactional.id's loop of random transactions, with its ledger."""

    def __init__(self, index: int, bootstrap: str, stop: threading.Event,
                 committing: threading.Event):
        super().__init__(daemon=True)
        self.index = index
        self.txn_id = f"jepsen-{index}"
        self.bootstrap = bootstrap
        self.stop = stop
        self.committing = committing
        self.rng = random.Random(SEED * 1000 + index)
        self.ledger: dict[int, tuple[str, int]] = {}  # txn -> (outcome, record count)
        self.commit_times: list[float] = []
        self.events: list[str] = []
        self.failure: BaseException | None = None
        self.producer = None

    def make_producer(self) -> None:
        deadline = time.monotonic() + 90
        while True:
            p = ck.Producer({
                "bootstrap.servers": self.bootstrap, "transactional.id": self.txn_id,
                "linger.ms": 2, "transaction.timeout.ms": 15000, "message.timeout.ms": 15000,
                "request.timeout.ms": 5000, "socket.timeout.ms": 5000,
                "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 500,
            })
            try:
                p.init_transactions(20)
                self.producer = p
                return
            except ck.KafkaException as exc:
                self.events.append(f"init_transactions: {exc.args[0]}")
                if time.monotonic() > deadline:
                    raise

    def run(self) -> None:
        try:
            self.make_producer()
            txn = 0
            while not self.stop.is_set():
                self.one_transaction(txn)
                txn += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.failure = exc

    def one_transaction(self, txn: int) -> None:
        p = self.producer
        n = self.rng.randint(1, 8)
        parts = self.rng.sample(range(PARTITIONS), self.rng.randint(1, PARTITIONS))
        commit = self.rng.random() < 0.65
        self.ledger[txn] = (ABORTED, n)  # never visible until a commit is asked for
        try:
            p.begin_transaction()
            for j in range(n):
                p.produce(TOPIC, value=payload(p=self.index, t=txn, j=j, n=n),
                          partition=parts[j % len(parts)])
            p.poll(0)
            if not commit:
                p.abort_transaction(20)
                return
            self.ledger[txn] = (UNKNOWN, n)
            self.committing.set()
            for _ in range(20):
                try:
                    p.commit_transaction(20)
                    self.ledger[txn] = (COMMITTED, n)
                    self.commit_times.append(time.monotonic())
                    return
                except ck.KafkaException as exc:
                    if not exc.args[0].retriable():
                        raise
                    self.events.append(f"txn {txn} commit retried: {exc.args[0]}")
            raise ck.KafkaException(ck.KafkaError(ck.KafkaError._TIMED_OUT, "commit retries"))
        except ck.KafkaException as exc:
            err = exc.args[0]
            self.events.append(f"txn {txn}: {err}")
            if not err.fatal():
                try:
                    p.abort_transaction(20)
                    return
                except ck.KafkaException as exc2:
                    self.events.append(f"txn {txn} abort: {exc2.args[0]}")
            # Fatal (or the abort failed): a new producer instance, as an application
            # would; its init_transactions fences this one and aborts what it left open.
            self.make_producer()
        except BufferError:
            self.events.append(f"txn {txn}: local queue full")
            try:
                p.abort_transaction(20)
            except ck.KafkaException:
                self.make_producer()


def test_transactions_through_broker_sigkills_are_all_or_nothing_and_never_lost(txn_broker):
    context = f"(seed {SEED}: rerun with WEIR_TXN_SEED={SEED})"
    print(f"WEIR_TXN_SEED={SEED}")
    create_topics(txn_broker.bootstrap, {TOPIC: PARTITIONS})
    stop, committing = threading.Event(), threading.Event()
    producers = [TxnProducer(i, txn_broker.bootstrap, stop, committing) for i in range(PRODUCERS)]
    for p in producers:
        p.start()
    rng = random.Random(SEED)
    kill_log: list[str] = []
    try:
        for k in range(KILLS):
            wait_until(lambda: all(len(p.commit_times) >= 2 * (k + 1) or p.failure for p in producers),
                       90, lambda: f"two more commits by every producer before kill {k + 1} "
                       f"{context}: {[p.events[-3:] for p in producers]}")
            if rng.random() < 0.5:
                committing.clear()
                committing.wait(10)
                time.sleep(rng.uniform(0, 0.01))
                kill_log.append(f"kill {k + 1} during a commit")
            else:
                time.sleep(rng.uniform(0, 0.3))
                kill_log.append(f"kill {k + 1} at a random moment")
            txn_broker.kill_and_restart()
        restarted = time.monotonic()
        # Liveness: every producer commits again after the last restart.
        wait_until(lambda: all(sum(t > restarted for t in p.commit_times) >= 3 or p.failure
                               for p in producers), 90,
                   lambda: f"three commits by every producer after the last restart {context}: "
                   f"{[p.events[-3:] for p in producers]}")
    finally:
        stop.set()
        for p in producers:
            p.join(120)
    for p in producers:
        assert p.failure is None, f"producer {p.index} failed: {p.failure!r} {context}"
        assert not p.is_alive(), f"producer {p.index} did not stop {context}"
    # A fresh instance per transactional.id aborts whatever a dead one left open.
    for p in producers:
        p.make_producer()

    ends = wait_stable(txn_broker, TOPIC, PARTITIONS)
    records = consume_all(txn_broker.bootstrap, TOPIC, ends, "read_committed")
    seen: dict[tuple[int, int], list[int]] = defaultdict(list)
    duplicates = []
    positions: set[tuple[int, int, int]] = set()
    for m in records:
        v = m.payload()
        key = (v["p"], v["t"], v["j"])
        if key in positions:
            duplicates.append(key)
        positions.add(key)
        seen[(v["p"], v["t"])].append(v["j"])
    ledgers = {p.index: p.ledger for p in producers}
    aborted_reads, torn, lost = [], [], []
    for (pi, t), js in seen.items():
        outcome, n = ledgers[pi].get(t, (ABORTED, -1))
        if outcome == ABORTED:
            aborted_reads.append((pi, t, sorted(js)))
        elif sorted(set(js)) != list(range(n)):
            torn.append((pi, t, outcome, sorted(js), n))
    for pi, ledger in ledgers.items():
        for t, (outcome, n) in ledger.items():
            if outcome == COMMITTED and sorted(set(seen.get((pi, t), []))) != list(range(n)):
                lost.append((pi, t, sorted(seen.get((pi, t), [])), n))
    summary = {o: sum(1 for lg in ledgers.values() for out, _ in lg.values() if out == o)
               for o in (COMMITTED, ABORTED, UNKNOWN)}
    detail = f"{context}; ledger totals {summary}; {kill_log}"
    assert not duplicates, f"{len(duplicates)} records visible twice, e.g. {duplicates[:5]} {detail}"
    assert not aborted_reads, (f"aborted read: {len(aborted_reads)} transactions that were "
                               f"aborted or never committed are visible, e.g. "
                               f"{aborted_reads[:5]} {detail}")
    assert not torn, (f"torn transaction: {len(torn)} visible in part, (producer, txn, "
                      f"outcome, visible, size) e.g. {torn[:5]} {detail}")
    assert not lost, (f"lost committed write: {len(lost)} acknowledged commits not fully "
                      f"visible, (producer, txn, visible, size) e.g. {lost[:5]} {detail}")
    per_partition = defaultdict(list)
    for m in sorted(records, key=lambda m: (m.partition, m.offset)):
        v = m.payload()
        per_partition[(m.partition, v["p"])].append(v["t"])
    for (part, pi), txns in per_partition.items():
        assert txns == sorted(txns), f"partition {part}: producer {pi}'s transactions out of order {detail}"
    assert summary[COMMITTED] >= PRODUCERS * (2 * KILLS + 3), f"too few commits to judge {detail}"
    print(f"transactions: {summary}; {kill_log}")
