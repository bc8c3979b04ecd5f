"""Weir against kcat, the command-line producer/consumer (librdkafka 2.0 from Debian).

kcat cannot create topics, set per-record timestamps or delete records, so those steps
use the confluent-kafka admin and producer; everything read and written in the
assertions here goes through the kcat binary.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import defaultdict

import pytest

from weirtest import BASE_TIMESTAMP_MS, CODECS, PARTITIONS, assert_contiguous, wait_until
from test_confluent_kafka import create_topic, ck, admin_mod, produce as ck_produce
from weirtest import Record, records_for_codec

TIMEOUT_S = 60
FORMAT = "%p|%o|%T|%k|%s|%h\\n"


def run_kcat(kcat: str, args: list[str], stdin: bytes | None = None,
             timeout: float = TIMEOUT_S) -> str:
    cmd = [kcat, *args]
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`{' '.join(cmd)}` did not finish within {timeout}s; stderr: {exc.stderr!r}",
                    pytrace=False)
    assert done.returncode == 0, (
        f"`{' '.join(cmd)}` exited {done.returncode}; stderr:\n{done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def kcat_produce(kcat: str, bootstrap: str, topic: str, lines: list[str], codec: str = "none",
                 headers: dict[str, str] | None = None) -> None:
    args = ["-b", bootstrap, "-P", "-t", topic, "-K", ":", "-X", "acks=all",
            "-X", "linger.ms=5"]
    if codec != "none":
        args += ["-z", codec]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}={v}"]
    run_kcat(kcat, args, stdin=("\n".join(lines) + "\n").encode())


def kcat_consume(kcat: str, bootstrap: str, topic: str, offset: str = "beginning") -> list[dict]:
    out = run_kcat(kcat, ["-b", bootstrap, "-C", "-t", topic, "-o", offset, "-e", "-q",
                          "-f", FORMAT])
    rows = []
    for line in out.splitlines():
        if not line:
            continue
        p, o, ts, key, value, headers = line.split("|", 5)
        rows.append({"partition": int(p), "offset": int(o), "timestamp": int(ts), "key": key,
                     "value": value,
                     "headers": dict(h.split("=", 1) for h in headers.split(",") if h)})
    return rows


def as_records(rows: list[dict]) -> list[Record]:
    return [Record(key=r["key"].encode(), value=r["value"].encode(), partition=r["partition"],
                   offset=r["offset"]) for r in rows]


def check_partition_order_and_keys(rows: list[dict]) -> None:
    by_partition = defaultdict(list)
    key_partitions = defaultdict(set)
    for r in rows:
        by_partition[r["partition"]].append(r)
        key_partitions[r["key"]].add(r["partition"])
    spread = {k: v for k, v in key_partitions.items() if len(v) > 1}
    assert not spread, f"keys on more than one partition: {spread}"
    for p, rs in by_partition.items():
        rs.sort(key=lambda r: r["offset"])
        seqs = [int(r["value"].split("-")[-1]) for r in rs]
        assert seqs == sorted(seqs), f"partition {p} out of production order: {seqs[:30]}"


def lines_for(codec: str, count: int, first: int) -> list[str]:
    return [f"key-{i % 7}:{codec}-value-{i}" for i in range(first, first + count)]


def produce_every_codec(kcat: str, bootstrap: str, topic: str, per_codec: int = 40):
    expected = []
    for i, codec in enumerate(CODECS):
        lines = lines_for(codec, per_codec, i * per_codec)
        kcat_produce(kcat, bootstrap, topic, lines, codec,
                     headers={"codec": codec, "client": "kcat"})
        for line in lines:
            key, value = line.split(":", 1)
            expected.append((key, value, (("client", "kcat"), ("codec", codec))))
    return expected


def observed(rows: list[dict]) -> list[tuple]:
    return [(r["key"], r["value"], tuple(sorted(r["headers"].items()))) for r in rows]


# --- tests --------------------------------------------------------------------------


def test_kcat_records_with_every_codec_read_back_exactly_with_keys_and_headers(
        kcat, broker, topic):
    create_topic(broker.bootstrap, topic)
    before_ms = int(time.time() * 1000)
    expected = produce_every_codec(kcat, broker.bootstrap, topic)
    after_ms = int(time.time() * 1000)
    rows = kcat_consume(kcat, broker.bootstrap, topic)
    assert sorted(observed(rows)) == sorted(expected)
    assert {r["partition"] for r in rows} == set(range(PARTITIONS)), "keys did not spread"
    check_partition_order_and_keys(rows)
    assert_contiguous(as_records(rows))
    # kcat stamps CreateTime when it produces; the broker must hand it back unchanged.
    outside = [r for r in rows if not before_ms - 1000 <= r["timestamp"] <= after_ms + 1000]
    assert not outside, f"timestamps outside the produce window: {outside[:5]}"


def test_kcat_offset_by_timestamp_starts_at_first_record_at_or_after_it(kcat, broker, topic):
    create_topic(broker.bootstrap, topic)
    produced = records_for_codec("none", 60, first_seq=0)
    ck_produce(broker.bootstrap, topic, produced)
    for seq in (0, 25, 59):
        target = BASE_TIMESTAMP_MS + seq * 1000 - 500
        rows = kcat_consume(kcat, broker.bootstrap, topic, offset=f"s@{target}")
        got = sorted((r["partition"], r["offset"], r["timestamp"]) for r in rows)
        want = sorted((r.partition, r.offset, r.timestamp_ms) for r in produced
                      if r.timestamp_ms >= target)
        assert got == want, f"-o s@{target}: got {got[:10]}..., want {want[:10]}..."


def test_kcat_reads_everything_after_graceful_restart(kcat, broker, topic):
    create_topic(broker.bootstrap, topic)
    expected = produce_every_codec(kcat, broker.bootstrap, topic, per_codec=20)
    broker.restart(graceful=True)
    rows = kcat_consume(kcat, broker.bootstrap, topic)
    assert sorted(observed(rows)) == sorted(expected)
    more = lines_for("gzip", 10, 5000)
    kcat_produce(kcat, broker.bootstrap, topic, more, "gzip", {"codec": "gzip", "client": "kcat"})
    rows = kcat_consume(kcat, broker.bootstrap, topic)
    assert len(rows) == len(expected) + len(more)
    assert_contiguous(as_records(rows))
    check_partition_order_and_keys(rows)


def test_kcat_sigkill_during_produce_keeps_every_acknowledged_chunk(kcat, broker, topic):
    """kcat exits 0 only when every record of its input was acknowledged (acks=all)."""
    create_topic(broker.bootstrap, topic)
    bootstrap = broker.bootstrap
    acked_chunks: list[list[str]] = []
    sent: set[str] = set()
    stop = threading.Event()

    def produce_chunks():
        chunk_no = 0
        while not stop.is_set():
            lines = [f"k{i % 5}:chunk{chunk_no}-{i}" for i in range(20)]
            sent.update(line.split(":", 1)[1] for line in lines)
            try:
                done = subprocess.run(
                    [kcat, "-b", bootstrap, "-P", "-t", topic, "-K", ":", "-X", "acks=all",
                     "-X", "message.timeout.ms=5000", "-m", "5"],
                    input=("\n".join(lines) + "\n").encode(), capture_output=True, timeout=30)
                if done.returncode == 0 and b"fail" not in done.stderr.lower():
                    acked_chunks.append(lines)
            except subprocess.TimeoutExpired:
                pass
            chunk_no += 1

    thread = threading.Thread(target=produce_chunks, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(acked_chunks) >= 15, 120, "15 acknowledged kcat chunks")
        broker.kill()
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive(), "kcat producer loop did not finish"

    broker.start()
    rows = kcat_consume(kcat, broker.bootstrap, topic)
    values = {r["value"] for r in rows}
    lost = [line for chunk in acked_chunks for line in chunk if line.split(":", 1)[1] not in values]
    assert not lost, f"{len(lost)} acknowledged records missing after SIGKILL: {lost[:10]}"
    phantom = [r["value"] for r in rows if r["value"] not in sent]
    assert not phantom, f"records read that were never produced: {phantom[:10]}"
    assert_contiguous(as_records(rows))


def test_kcat_sees_log_start_offset_advance_under_retention(kcat, broker_factory, topic):
    """kcat stamps records "now", so they expire under retention.ms=1000 while we look:
    whatever kcat reads must be a contiguous tail of what it wrote, past offset 0."""
    broker = broker_factory(**{"log.retention.check.interval.ms": 200})
    create_topic(broker.bootstrap, topic, partitions=1,
                 config={"segment.bytes": "1024", "retention.ms": "1000"})
    for round_ in range(12):
        kcat_produce(kcat, broker.bootstrap, topic,
                     [f"k:r{round_}-{i}-" + "v" * 200 for i in range(5)])
    segment_dir = broker.partition_dir(topic, 0)
    first_segment = segment_dir / "00000000000000000000.log"
    assert segment_dir.is_dir(), f"no partition directory {segment_dir}"
    wait_until(lambda: not first_segment.exists(), 60, f"{first_segment} to be deleted")

    def tail_past_zero():
        rows = kcat_consume(kcat, broker.bootstrap, topic)
        return (not rows or rows[0]["offset"] > 0) and {"rows": rows}
    rows = wait_until(tail_past_zero, 60, "kcat to read from a log start offset past 0")["rows"]
    offsets = [r["offset"] for r in rows]
    assert offsets == list(range(60 - len(rows), 60)), f"not a contiguous tail: {offsets}"
    want = [f"r{o // 5}-{o % 5}-" + "v" * 200 for o in offsets]
    assert [r["value"] for r in rows] == want


def test_kcat_reads_from_new_log_start_offset_after_delete_records(kcat, broker, topic):
    create_topic(broker.bootstrap, topic, partitions=1)
    kcat_produce(kcat, broker.bootstrap, topic, [f"k:d-{i}" for i in range(40)], "snappy")
    admin = admin_mod.AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.delete_records([ck.TopicPartition(topic, 0, 15)], request_timeout=30)
    list(futures.values())[0].result(timeout=30)
    rows = kcat_consume(kcat, broker.bootstrap, topic)
    assert [r["offset"] for r in rows] == list(range(15, 40))
    assert [r["value"] for r in rows] == [f"d-{i}" for i in range(15, 40)]
