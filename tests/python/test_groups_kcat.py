"""kcat's balanced consumer (`kcat -G GROUP TOPIC`): two kcat processes share a topic,
every record read once between them, and their auto-committed offsets are where the
group resumes."""

from __future__ import annotations

import subprocess
import threading
import time

from test_groups_confluent_kafka import commit_start, create_topic, produce, values
from weirtest import assert_each_once

TIMEOUT_S = 45
FORMAT = "%p|%o|%s\\n"


class KcatMember:
    """`kcat -G` in the background; stdout records and stderr rebalance lines collected."""

    def __init__(self, kcat: str, bootstrap: str, group: str, topic: str, *extra: str):
        self.cmd = [kcat, "-b", bootstrap, "-G", group, "-X", "auto.offset.reset=earliest",
                    "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
                    "-u", "-f", FORMAT, *extra, topic]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.records: list[tuple[int, int, bytes]] = []
        self.stderr: list[str] = []
        self._threads = [threading.Thread(target=self._out, daemon=True),
                         threading.Thread(target=self._err, daemon=True)]
        for t in self._threads:
            t.start()

    def _out(self) -> None:
        for line in self.proc.stdout:
            p, o, v = line.rstrip(b"\n").split(b"|", 2)
            self.records.append((int(p), int(o), v))

    def _err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace").rstrip())

    def assigned(self) -> bool:
        """Whether the latest rebalance line says partitions were assigned."""
        lines = [line for line in self.stderr if "rebalanced" in line]
        return bool(lines) and "assigned:" in lines[-1]

    def stop(self) -> int:
        """SIGTERM: kcat closes its consumer, which commits and leaves the group."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        return code


def wait_for(condition, what: str, members: list[KcatMember]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            log = "\n".join(f"{m.cmd}:\n  " + "\n  ".join(m.stderr[-15:]) for m in members)
            raise AssertionError(f"timed out after {TIMEOUT_S}s waiting for {what}\n{log}")
        for m in members:
            assert m.proc.poll() is None, f"{m.cmd} exited with {m.proc.returncode}: {m.stderr}"
        time.sleep(0.05)


def test_kcat_balanced_consumers_share_a_topic_and_commit(group_broker, topic, kcat, weir_cli):
    b = group_broker.bootstrap
    create_topic(b, topic, 6)
    commit_start(b, "kcats", topic, 6)  # see commit_start: kcat is librdkafka too
    members = [KcatMember(kcat, b, "kcats", topic) for _ in range(2)]
    try:
        wait_for(lambda: all(m.assigned() for m in members), "both kcat members assigned",
                 members)
        produced = values("v", 300)
        produce(b, topic, produced)
        wait_for(lambda: sum(len(m.records) for m in members) >= 300, "300 records", members)
        time.sleep(0.5)
    finally:
        codes = [m.stop() for m in members]
    assert_each_once({f"kcat-{i}": m.records for i, m in enumerate(members)}, produced)
    assert all(m.records for m in members), "one kcat member read nothing"
    assert codes == [0, 0], f"kcat exit codes {codes}"

    describe = weir_cli("groups", "describe", "-b", b, "kcats")
    rows = [line.split() for line in describe.splitlines() if line.startswith(topic)]
    assert len(rows) == 6 and sum(int(r[2]) for r in rows) == 300, describe

    # A new kcat in the group resumes after the committed offsets: only the new records.
    more = values("more", 30)
    produce(b, topic, more)
    late = KcatMember(kcat, b, "kcats", topic, "-e")
    try:
        code = late.proc.wait(timeout=TIMEOUT_S)
    finally:
        late.stop()
    assert code == 0, f"kcat -G -e exited with {code}: {late.stderr}"
    assert_each_once({"late": late.records}, more)
