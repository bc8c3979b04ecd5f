"""A consumer-group member in its own process, for tests that SIGKILL a member.

    python group_member.py CLIENT BOOTSTRAP GROUP TOPIC SESSION_TIMEOUT_MS

CLIENT is `confluent-kafka` or `kafka-python`. The member subscribes to TOPIC in GROUP,
polls forever (discarding records, committing nothing) and prints one JSON line
`{"assigned": [partitions]}` on stdout every time its assignment changes. A killed
process sends no LeaveGroup and no more heartbeats: only its session timeout ends its
membership. `weirtest.MemberProcess` runs it.
"""

from __future__ import annotations

import json
import sys


def report(partitions) -> None:
    print(json.dumps({"assigned": sorted(partitions)}), flush=True)


def run_confluent_kafka(bootstrap: str, group: str, topic: str, session_ms: int) -> None:
    import confluent_kafka as ck

    consumer = ck.Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "client.id": "member-process",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "session.timeout.ms": session_ms, "heartbeat.interval.ms": max(100, session_ms // 10),
    })
    last = None
    consumer.subscribe([topic])
    while True:
        consumer.poll(0.1)
        now = sorted(tp.partition for tp in consumer.assignment())
        if now != last:
            report(now)
            last = now


def run_kafka_python(bootstrap: str, group: str, topic: str, session_ms: int) -> None:
    import kafka

    consumer = kafka.KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, client_id="member-process",
        enable_auto_commit=False, auto_offset_reset="earliest",
        session_timeout_ms=session_ms, heartbeat_interval_ms=max(100, session_ms // 10),
    )
    # The topic's metadata first: see the note in test_groups_kafka_python.Member.
    assert consumer.partitions_for_topic(topic), f"no metadata for {topic}"
    last = None
    consumer.subscribe([topic])
    while True:
        consumer.poll(timeout_ms=100)
        now = sorted(tp.partition for tp in consumer.assignment())
        if now != last:
            report(now)
            last = now


if __name__ == "__main__":
    client, bootstrap, group, topic, session_ms = sys.argv[1:6]
    run = {"confluent-kafka": run_confluent_kafka, "kafka-python": run_kafka_python}[client]
    run(bootstrap, group, topic, int(session_ms))
