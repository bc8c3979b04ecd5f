"""Exactly-once consume-transform-produce (KIP-98/KIP-447) with confluent-kafka: a copier
(`txn_worker.py copy`) reads an input topic read_committed and writes each record to an
output topic, committing its input offsets in the same transaction. SIGKILL the copier
mid-stream and start another, or SIGKILL the broker under it: the output, read
read_committed, holds every input record exactly once, in input order per partition.
"""

from __future__ import annotations

import json
import os

from txntest import (
    TIMEOUT_S,
    Worker,
    by_partition,
    consume_all,
    create_topics,
    payload,
    wait_stable,
)
from weirtest import need, wait_until

ck = need("confluent_kafka", "confluent-kafka")

PARTITIONS = 3
RECORDS = int(os.environ.get("WEIR_EOS_RECORDS", "1500"))
# Kill points, as committed-record counts; more with WEIR_EOS_KILLS.
KILLS = int(os.environ.get("WEIR_EOS_KILLS", "2"))
PAUSE_MS = 20  # between the copier's transactions, so it is still running when killed


def fill_input(bootstrap: str, topic: str) -> list[bytes]:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
                            "enable.idempotence": True})
    values, errors = [], []
    for i in range(RECORDS):
        value = payload(p="input", i=i)
        producer.produce(topic, value=value, partition=i % PARTITIONS,
                         on_delivery=lambda err, msg: err is not None and errors.append(err))
        values.append(value)
        producer.poll(0)
    assert producer.flush(TIMEOUT_S) == 0 and not errors, f"input not written: {errors[:5]}"
    return values


def copier(broker, inp: str, out: str) -> Worker:
    return Worker("copy", broker.bootstrap, inp, out, "weir-copier", "weir-copier-txn",
                  RECORDS, PAUSE_MS)


def assert_output_is_input_exactly_once(broker, out: str, inputs: list[bytes]) -> None:
    ends = wait_stable(broker, out, PARTITIONS)
    rc = consume_all(broker.bootstrap, out, ends, "read_committed")
    got = [m.value for m in rc]
    want = {b"out:" + v for v in inputs}
    twice = len(got) - len(set(got))
    missing = want - set(got)
    extra = set(got) - want
    assert not twice, f"{twice} input records reached the output more than once"
    assert not missing, f"{len(missing)} input records never reached the output, e.g. {sorted(missing)[:3]}"
    assert not extra, f"unexpected output records: {sorted(extra)[:3]}"
    for part, msgs in by_partition(rc).items():
        order = [json.loads(m.value[len(b"out:"):])["i"] for m in msgs]
        assert order == sorted(order), f"output partition {part} is out of input order"


def run_to_done(broker, inp: str, out: str, kill_at: list[int], kill_broker: bool) -> list[str]:
    """Runs copiers until one reports done; at each kill point SIGKILLs the copier (and
    starts another) or the broker (restarted on the same port). A copier that dies of a
    fatal client error is restarted too, as an application would; its stderr is kept."""
    history: list[str] = []
    committed_before = 0
    worker = copier(broker, inp, out)
    try:
        for point in kill_at:
            wait_until(lambda: committed_before + worker.committed() >= point or worker.done()
                       or worker.exited() is not None, 90,
                       lambda: f"the copier to commit {point} records ({worker.describe()})")
            if worker.exited() is not None and not worker.done():
                history.append(worker.describe())
                committed_before += worker.committed()
                worker = copier(broker, inp, out)
                continue
            assert not worker.done(), (
                f"the copier finished before the kill point {point}: nothing was tested")
            if kill_broker:
                broker.kill_and_restart()
            else:
                committed_before += worker.committed()
                worker.kill()
                worker = copier(broker, inp, out)
        restarts = 0
        while True:
            wait_until(lambda: worker.done() or worker.exited() is not None, 120,
                       lambda: f"the copier to finish ({worker.describe()})")
            if worker.done():
                break
            history.append(worker.describe())
            restarts += 1
            assert restarts <= 3, "the copier kept dying:\n" + "\n".join(history)
            worker = copier(broker, inp, out)
        wait_until(lambda: worker.exited() is not None, 30, "the finished copier to exit")
        assert worker.exited() == 0, worker.describe()
        return history
    finally:
        worker.kill()


def test_copier_sigkilled_mid_stream_and_restarted_writes_each_input_exactly_once(txn_broker):
    inp, out = "eos-input", "eos-output"
    create_topics(txn_broker.bootstrap, {inp: PARTITIONS, out: PARTITIONS})
    inputs = fill_input(txn_broker.bootstrap, inp)
    points = [RECORDS * (k + 1) // (KILLS + 2) for k in range(KILLS)]
    run_to_done(txn_broker, inp, out, points, kill_broker=False)
    assert_output_is_input_exactly_once(txn_broker, out, inputs)


def test_copier_through_broker_sigkills_writes_each_input_exactly_once(txn_broker):
    inp, out = "eos-input", "eos-output"
    create_topics(txn_broker.bootstrap, {inp: PARTITIONS, out: PARTITIONS})
    inputs = fill_input(txn_broker.bootstrap, inp)
    points = [RECORDS * (k + 1) // (KILLS + 2) for k in range(KILLS)]
    history = run_to_done(txn_broker, inp, out, points, kill_broker=True)
    assert_output_is_input_exactly_once(txn_broker, out, inputs)
    print("copier restarts after client errors:", len(history))
