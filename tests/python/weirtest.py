"""Helpers shared by the end-to-end tests: bounded waits, test records and their checks."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PARTITIONS = 3
# Explicit CreateTime timestamps an hour in the past: far enough from "now" that a
# broker-assigned time cannot pass for them, recent enough that the default retention
# (7 days, by record timestamp, as in Kafka) keeps them.
BASE_TIMESTAMP_MS = (int(time.time()) - 3600) * 1000

T = TypeVar("T")


def need(module: str, package: str):
    """Imports `module`, or fails (never skips) saying which package is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(
            f"Python package {package!r} is not importable ({exc}): run scripts/test.sh, "
            "which installs tests/python/requirements.txt into .venv",
            pytrace=False,
        )


def wait_until(
    condition: Callable[[], Optional[T]],
    timeout_s: float,
    what: "str | Callable[[], str]",
    interval_s: float = 0.1,
) -> T:
    """Polls `condition` until it returns something truthy; fails after `timeout_s`.

    `what` may be a callable, called on timeout, when the message should describe the
    state at that moment (a child process's stderr, say)."""
    deadline = time.monotonic() + timeout_s
    last_error: Optional[BaseException] = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - report the last one on timeout
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_error!r}" if last_error else ""
            if callable(what):
                what = what()
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}{detail}",
                        pytrace=False)
        time.sleep(interval_s)


@dataclass
class Record:
    key: Optional[bytes]
    value: Optional[bytes]
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp_ms: Optional[int] = None
    partition: Optional[int] = None
    offset: Optional[int] = None
    seq: int = 0  # production order within the test

    def content(self) -> tuple:
        return (self.key, self.value, tuple(self.headers), self.timestamp_ms)


def records_for_codec(codec: str, count: int, first_seq: int) -> list[Record]:
    """Keyed records with headers, explicit timestamps and values that say what they are."""
    out = []
    for i in range(count):
        seq = first_seq + i
        out.append(
            Record(
                key=f"key-{seq % 7}".encode(),
                value=f"{codec}-value-{seq}-".encode() + b"x" * (seq % 50),
                headers=[("codec", codec.encode()), ("seq", str(seq).encode())],
                timestamp_ms=BASE_TIMESTAMP_MS + seq * 1000,
                seq=seq,
            )
        )
    return out


def assert_acked(produced: Iterable[Record]) -> None:
    missing = [r.seq for r in produced if r.partition is None or r.offset is None]
    assert not missing, f"{len(missing)} records were never acknowledged: seqs {missing[:20]}"


def assert_read_back_exactly(produced: list[Record], consumed: list[Record]) -> None:
    """Consumed is exactly produced: same records at their acked (partition, offset)."""
    assert_acked(produced)
    by_position = {}
    for r in consumed:
        pos = (r.partition, r.offset)
        assert pos not in by_position, f"record at {pos} was read twice"
        by_position[pos] = r
    expected = {(r.partition, r.offset): r for r in produced}
    assert len(expected) == len(produced), "two produced records were acked at one offset"
    extra = sorted(set(by_position) - set(expected))
    lost = sorted(set(expected) - set(by_position))
    assert not lost, f"{len(lost)} acked records not read back, first (partition, offset): {lost[:10]}"
    assert not extra, f"{len(extra)} records read that were never produced: {extra[:10]}"
    for pos, want in expected.items():
        got = by_position[pos]
        assert got.content() == want.content(), f"record at {pos} differs:\n got  {got}\n want {want}"
    assert_partition_order(produced)
    assert_keys_on_one_partition(consumed)


def assert_partition_order(records: Iterable[Record]) -> None:
    per_partition = defaultdict(list)
    for r in records:
        per_partition[r.partition].append(r)
    for partition, rs in per_partition.items():
        rs.sort(key=lambda r: r.offset)
        seqs = [r.seq for r in rs]
        assert seqs == sorted(seqs), f"partition {partition} is out of production order: {seqs[:30]}"


def assert_keys_on_one_partition(records: Iterable[Record]) -> None:
    partitions_of = defaultdict(set)
    for r in records:
        partitions_of[r.key].add(r.partition)
    spread = {k: p for k, p in partitions_of.items() if len(p) > 1}
    assert not spread, f"keys found on more than one partition: {spread}"


def assert_contiguous(records: Iterable[Record], start: dict[int, int] | None = None) -> None:
    """Offsets per partition are unique and have no gaps (from `start[p]`, default 0)."""
    per_partition = defaultdict(list)
    for r in records:
        per_partition[r.partition].append(r.offset)
    for partition, offsets in per_partition.items():
        offsets.sort()
        first = (start or {}).get(partition, 0)
        assert offsets == list(range(first, first + len(offsets))), (
            f"partition {partition} offsets are not unique and contiguous from {first}: "
            f"{offsets[:20]}...{offsets[-5:]}"
        )


class MemberProcess:
    """A group member running `group_member.py` in a child process (so it can be killed).

    A reader thread collects the assignments the child reports; `assigned()` is the
    latest one.
    """

    def __init__(self, client: str, bootstrap: str, group: str, topic: str, session_ms: int):
        script = Path(__file__).with_name("group_member.py")
        self.cmd = [sys.executable, str(script), client, bootstrap, group, topic, str(session_ms)]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.reports: list[list[int]] = []
        self.stderr: list[bytes] = []
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            try:
                self.reports.append(json.loads(line)["assigned"])
            except (ValueError, KeyError):
                self.stderr.append(b"unexpected stdout: " + line)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def assigned(self) -> set[int]:
        if self.proc.poll() is not None:
            err = b"".join(self.stderr[-30:]).decode(errors="replace")
            pytest.fail(f"member process exited with {self.proc.returncode}: {err}",
                        pytrace=False)
        return set(self.reports[-1]) if self.reports else set()

    def kill(self) -> None:
        """SIGKILL: no LeaveGroup, no more heartbeats."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def assert_disjoint_cover(assignments: dict[str, set[int]], partitions: int) -> None:
    """Every partition owned by exactly one member."""
    seen: dict[int, str] = {}
    for name, parts in assignments.items():
        for p in parts:
            assert p not in seen, f"partition {p} owned by both {seen[p]} and {name}: {assignments}"
            seen[p] = name
    assert set(seen) == set(range(partitions)), (
        f"partitions {sorted(set(range(partitions)) - set(seen))} unowned: {assignments}")


def assert_each_once(delivered: dict[str, list[tuple[int, int, bytes]]],
                     expected: Iterable[bytes], context: str = "") -> None:
    """Each expected value delivered to exactly one member, exactly once, nothing else.

    `delivered` maps a member to its (partition, offset, value) records; `context`
    (say, the members' rebalance callbacks) is added to a failure message.
    """
    where: dict[bytes, list[tuple[str, int, int]]] = defaultdict(list)
    for name, records in delivered.items():
        for partition, offset, value in records:
            where[value].append((name, partition, offset))
    twice = {v: w for v, w in where.items() if len(w) > 1}
    assert not twice, (f"{len(twice)} records delivered more than once, e.g. "
                       f"{list(twice.items())[:5]}{context}")
    expected = set(expected)
    missed = sorted(expected - set(where))
    extra = sorted(set(where) - expected)
    assert not missed, f"{len(missed)} records never delivered, e.g. {missed[:10]}{context}"
    assert not extra, f"{len(extra)} unexpected records delivered, e.g. {extra[:10]}{context}"
