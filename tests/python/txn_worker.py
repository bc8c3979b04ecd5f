"""Transactional clients in a child process, for tests that SIGKILL them.

    python txn_worker.py copy BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID TOTAL PAUSE_MS
    python txn_worker.py open-transaction BOOTSTRAP TOPIC TRANSACTIONAL_ID TIMEOUT_MS COUNT

`copy` is Kafka's consume-transform-produce loop with confluent-kafka: read INPUT
read_committed in GROUP (a static member, so a restarted copy takes the partitions back
at once), write each record to the same partition of OUTPUT with its value prefixed by
`out:`, and commit the input offsets in the same transaction
(send_offsets_to_transaction). A transaction that must be aborted is aborted and the
consumer rewound to the committed offsets. After each commit it prints
`{"committed": N}` (records in that transaction); once every one of TOTAL input records
is committed it prints `{"done": true}` and exits 0. PAUSE_MS between transactions keeps
it running long enough to be killed mid-stream.

`open-transaction` begins a transaction with transaction.timeout.ms=TIMEOUT_MS, writes
COUNT records to partition 0 of TOPIC, waits for their acks, prints `{"ready": true}`
and sleeps until killed: a producer that dies inside a transaction.
"""

from __future__ import annotations

import faulthandler
import json
import sys
import time


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


def note(text: str) -> None:
    """Progress on stderr, for the test's failure message."""
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def copy(bootstrap: str, input_topic: str, output_topic: str, group: str, txn_id: str,
         total: int, pause_ms: int) -> int:
    import confluent_kafka as ck

    producer = ck.Producer({
        "bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5,
        "transaction.timeout.ms": 20000, "message.timeout.ms": 20000,
        # With every broker down (this single broker SIGKILLed), librdkafka 2.16
        # re-bootstraps and decommissions the broker it knew; a later
        # send_offsets_to_transaction can then wait forever on that decommissioned
        # group coordinator. Without re-bootstrap it reconnects to the same broker.
        "metadata.recovery.strategy": "none",
    })
    # First, so the previous incarnation's open transaction is aborted (and its pending
    # offset commit resolved) before this one reads committed offsets.
    producer.init_transactions(60)
    note("init_transactions done")
    consumer = ck.Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "group.instance.id": "copier",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "isolation.level": "read_committed", "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    })
    consumer.subscribe([input_topic], on_assign=lambda c, parts: note(
        f"assigned {sorted(tp.partition for tp in parts)}"))

    def retrying(call) -> bool:
        """True once `call` succeeds; False if the transaction must be aborted."""
        while True:
            try:
                call()
                return True
            except ck.KafkaException as exc:
                err = exc.args[0]
                if err.retriable():
                    print(f"retrying: {err}", file=sys.stderr, flush=True)
                    continue
                if err.txn_requires_abort():
                    print(f"aborting: {err}", file=sys.stderr, flush=True)
                    return False
                raise

    def rewind() -> None:
        assignment = consumer.assignment()
        for tp in consumer.committed(assignment, timeout=30):
            offset = tp.offset if tp.offset >= 0 else ck.OFFSET_BEGINNING
            consumer.seek(ck.TopicPartition(tp.topic, tp.partition, offset))

    def describe_state() -> None:
        assignment = consumer.assignment()
        try:
            committed = consumer.committed(assignment, timeout=5) if assignment else []
            committed_text = [(tp.partition, tp.offset) for tp in committed]
        except ck.KafkaException as exc:
            committed_text = f"committed offsets unreadable: {exc.args[0]}"
        positions = [(tp.partition, tp.offset) for tp in consumer.position(assignment)]
        note(f"idle: assignment {[tp.partition for tp in assignment]}, positions {positions}, "
             f"committed {committed_text}")

    first_fetch = False
    idle = 0
    while True:
        msgs = [m for m in consumer.consume(20, timeout=0.5) if m.error() is None]
        if msgs and not first_fetch:
            first_fetch = True
            note(f"first records fetched, from offset {msgs[0].offset()}")
        if not msgs:
            idle += 1
            if idle % 10 == 0:  # every ~5 s without records: say where it stands
                describe_state()
            # Done when the committed offsets cover every input record (a partition
            # with nothing left to read has no position, so positions cannot tell).
            assignment = consumer.assignment()
            if len(assignment) > 0:
                committed = consumer.committed(assignment, timeout=30)
                if sum(max(tp.offset, 0) for tp in committed) >= total:
                    say(done=True)
                    consumer.close()
                    return 0
            continue
        producer.begin_transaction()
        for m in msgs:
            producer.produce(output_topic, key=m.key(), value=b"out:" + m.value(),
                             partition=m.partition())
            producer.poll(0)
        # librdkafka's documented error handling: retry what is retriable, abort and
        # rewind what requires an abort, die on anything else (fatal).
        positions = consumer.position(consumer.assignment())
        if not retrying(lambda: producer.send_offsets_to_transaction(
                positions, consumer.consumer_group_metadata(), 30)):
            producer.abort_transaction(60)
            rewind()
            continue
        if retrying(lambda: producer.commit_transaction(60)):
            say(committed=len(msgs))
        else:
            producer.abort_transaction(60)
            rewind()
        if pause_ms:
            time.sleep(pause_ms / 1000)


def open_transaction(bootstrap: str, topic: str, txn_id: str, timeout_ms: int, count: int) -> int:
    import confluent_kafka as ck

    producer = ck.Producer({
        "bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 0,
        "transaction.timeout.ms": timeout_ms, "message.timeout.ms": timeout_ms,
    })
    producer.init_transactions(60)
    producer.begin_transaction()
    errors = []
    for i in range(count):
        producer.produce(topic, value=json.dumps({"p": "open", "i": i}).encode(), partition=0,
                         on_delivery=lambda err, msg: err and errors.append(err))
    if producer.flush(60) or errors:
        print(f"records not acknowledged: {errors}", file=sys.stderr, flush=True)
        return 3
    say(ready=True)
    while True:
        time.sleep(60)


def main(argv: list[str]) -> int:
    # A copier that stops making progress shows where it is stuck in the test's message.
    faulthandler.dump_traceback_later(60, repeat=True)
    mode = argv[1]
    if mode == "copy":
        bootstrap, input_topic, output_topic, group, txn_id, total, pause = argv[2:9]
        return copy(bootstrap, input_topic, output_topic, group, txn_id, int(total), int(pause))
    if mode == "open-transaction":
        bootstrap, topic, txn_id, timeout_ms, count = argv[2:7]
        return open_transaction(bootstrap, topic, txn_id, int(timeout_ms), int(count))
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
