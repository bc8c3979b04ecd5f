#!/usr/bin/env python3
"""Transactional producer throughput against a running broker.

Runs transactions of RECORDS_PER_TXN 100-byte records into a new topic, each begun,
filled, committed in turn by confluent-kafka's (librdkafka's) transactional producer,
for TOTAL records; prints records/s, MB/s, transactions/s and commit latency
percentiles (commit_transaction: flush + EndTxn + markers).

    .venv/bin/python scripts/txn_bench.py [BOOTSTRAP] [RECORDS_PER_TXN] [TOTAL] [PARTITIONS]

Defaults: localhost:9092, 100 records per transaction, 1,000,000 records, 1 partition.
The .venv is the one scripts/test.sh creates.
"""
import os
import sys
import time

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic


def main():
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "localhost:9092"
    per_txn = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    total = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    partitions = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    topic = f"txn-bench-{os.getpid()}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)
    producer = confluent_kafka.Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": topic,
        "linger.ms": 5,
        "batch.size": 1_000_000,
    })
    producer.init_transactions(30)
    value = b"x" * 100
    commits = []
    sent = 0
    started = time.perf_counter()
    while sent < total:
        producer.begin_transaction()
        n = min(per_txn, total - sent)
        for i in range(n):
            while True:
                try:
                    producer.produce(topic, value=value, partition=(sent + i) % partitions)
                    break
                except BufferError:
                    producer.poll(0.001)
        sent += n
        t0 = time.perf_counter()
        producer.commit_transaction(30)
        commits.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    commits.sort()
    pct = lambda p: commits[min(int(len(commits) * p), len(commits) - 1)] * 1000
    print(f"{sent} records in {len(commits)} transactions of {per_txn} ({partitions} partition(s)): "
          f"{sent / elapsed:,.0f} records/s, {sent * 100 / elapsed / 1048576:.1f} MB/s, "
          f"{len(commits) / elapsed:,.0f} transactions/s")
    print(f"commit latency (flush + EndTxn): p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms, "
          f"max {commits[-1] * 1000:.2f} ms")
    admin.delete_topics([topic])[topic].result(timeout=30)


if __name__ == "__main__":
    main()
