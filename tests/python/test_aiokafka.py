"""Weir against aiokafka (asyncio, its own protocol code): the idempotent producer,
transactions with commit and abort read read_committed, and offsets committed inside a
transaction (send_offsets_to_transaction) that count only if it commits."""

from __future__ import annotations

import asyncio
import uuid

from txntest import (
    READ_UNCOMMITTED,
    TIMEOUT_S,
    TopicPartition,
    ck,
    create_topics,
    fetch_all,
    payload,
    wait_stable,
)
from weirtest import need

aiokafka = need("aiokafka", "aiokafka")
aiokafka_structs = need("aiokafka.structs", "aiokafka")

PARTITIONS = 3


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def read_all(bootstrap: str, topic: str, ends: dict[int, int], isolation: str) -> list:
    """Every record of `topic` up to `ends` (high watermarks) at the isolation level."""
    consumer = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", isolation_level=isolation)
    await consumer.start()
    try:
        tps = [aiokafka_structs.TopicPartition(topic, p) for p in ends]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out = []
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            for _, msgs in (await consumer.getmany(timeout_ms=500)).items():
                out += msgs
            positions = {tp.partition: await consumer.position(tp) for tp in tps}
            if all(positions[p] >= end for p, end in ends.items()):
                return out
            assert asyncio.get_running_loop().time() < deadline, (
                f"aiokafka {isolation} did not reach {ends}, positions {positions}")
    finally:
        await consumer.stop()


def test_aiokafka_idempotent_producer_reads_back_exactly_once_in_order(txn_broker, topic):
    create_topics(txn_broker.bootstrap, {topic: PARTITIONS})

    async def produce():
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers=txn_broker.bootstrap,
                                             enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            futures = []
            for i in range(300):
                futures.append((i, await producer.send(topic, value=payload(p="aio", i=i),
                                                       partition=i % PARTITIONS)))
            return {i: (await f) for i, f in futures}
        finally:
            await producer.stop()

    acked = run(produce())
    ends = wait_stable(txn_broker, topic, PARTITIONS)
    got = run(read_all(txn_broker.bootstrap, topic, ends, "read_uncommitted"))
    at = {(m.partition, m.offset): m.value for m in got}
    assert len(got) == len(at) == 300, f"read {len(got)} records, {len(at)} distinct offsets"
    for i, md in acked.items():
        assert at.get((md.partition, md.offset)) == payload(p="aio", i=i), (
            f"record {i} is not at its acknowledged offset {md.partition}@{md.offset}")
    for p in range(PARTITIONS):
        batches = [b for b in fetch_all(txn_broker, topic, p, READ_UNCOMMITTED).batches]
        assert batches and all(b.producer_id >= 0 and b.base_sequence >= 0 for b in batches), (
            f"partition {p}: aiokafka's batches carry no producer id / sequence")


def test_aiokafka_transactions_commit_and_abort_read_committed_sees_only_committed(
        txn_broker, topic):
    create_topics(txn_broker.bootstrap, {topic: PARTITIONS})
    group = f"aio-group-{uuid.uuid4()}"

    async def produce():
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers=txn_broker.bootstrap,
                                             transactional_id="aio-txn", linger_ms=5)
        await producer.start()
        try:
            offsets_tp = aiokafka_structs.TopicPartition(topic, 0)
            async with producer.transaction():
                for i in range(30):
                    await producer.send(topic, value=payload(p="aio", t=0, i=i),
                                        partition=i % PARTITIONS)
                await producer.send_offsets_to_transaction({offsets_tp: 5}, group)
            await producer.begin_transaction()
            for i in range(30):
                await producer.send(topic, value=payload(p="aio", t=1, i=i),
                                    partition=i % PARTITIONS)
            await producer.send_offsets_to_transaction({offsets_tp: 9}, group)
            await producer.flush()
            await producer.abort_transaction()
            async with producer.transaction():
                for i in range(30):
                    await producer.send(topic, value=payload(p="aio", t=2, i=i),
                                        partition=i % PARTITIONS)
        finally:
            await producer.stop()

    run(produce())
    ends = wait_stable(txn_broker, topic, PARTITIONS)
    committed = run(read_all(txn_broker.bootstrap, topic, ends, "read_committed"))
    values = sorted(m.value for m in committed)
    want = sorted(payload(p="aio", t=t, i=i) for t in (0, 2) for i in range(30))
    leaked = [v for v in values if v not in want]
    assert values == want, (
        f"read_committed saw {len(values)} records, want the 60 of the two committed "
        f"transactions; others seen: {leaked[:3]}")
    everything = run(read_all(txn_broker.bootstrap, topic, ends, "read_uncommitted"))
    assert len(everything) == 90, f"read_uncommitted saw {len(everything)} records, want 90"

    c = ck.Consumer({"bootstrap.servers": txn_broker.bootstrap, "group.id": group})
    try:
        [tp] = c.committed([TopicPartition(topic, 0)], timeout=TIMEOUT_S)
    finally:
        c.close()
    assert tp.offset == 5, (f"the group's committed offset is {tp.offset}: want 5 from the "
                            "committed transaction, not 9 from the aborted one")
