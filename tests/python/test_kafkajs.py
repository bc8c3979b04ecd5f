"""Weir against kafkajs (Node.js, its own protocol code): the idempotent producer, and a
transactional producer with commits and aborts read by a read_committed consumer
(readUncommitted: false) and a read_uncommitted one.

`tests/js/eos.js` drives kafkajs and prints what it produced and saw; the assertions
are here, so kafkajs failures show up in the one pytest run. scripts/test.sh installs
Node.js and npm (Debian packages) and runs `npm ci` in tests/js.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import defaultdict

import pytest

from weirtest import REPO_ROOT

JS_DIR = REPO_ROOT / "tests" / "js"
PARTITIONS = 3


def run_node(scenario: str, broker, topic: str) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run scripts/test.sh (it runs "
                    "`apt-get install -y nodejs npm`)", pytrace=False)
    if not (JS_DIR / "node_modules" / "kafkajs").is_dir():
        pytest.fail("kafkajs is not installed in tests/js/node_modules: run scripts/test.sh "
                    "(it runs `npm ci` in tests/js)", pytrace=False)
    try:
        done = subprocess.run([node, "eos.js", scenario, broker.bootstrap, topic, str(PARTITIONS)],
                              cwd=JS_DIR, capture_output=True, timeout=150,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"kafkajs {scenario} did not finish in 150 s; stderr:\n"
                    f"{(exc.stderr or b'').decode(errors='replace')[-3000:]}", pytrace=False)
    err = done.stderr.decode(errors="replace")
    assert done.returncode == 0, f"kafkajs {scenario} exited {done.returncode}:\n{err[-4000:]}"
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def assert_once_in_order(seen: list[dict], what: str) -> None:
    values = [r["value"] for r in seen]
    assert len(values) == len(set(values)), f"{what}: {len(values) - len(set(values))} duplicates"
    per_partition = defaultdict(list)
    for r in sorted(seen, key=lambda r: (r["partition"], r["offset"])):
        per_partition[r["partition"]].append(json.loads(r["value"]))
    for part, rs in per_partition.items():
        keys = [(v.get("t", 0), v.get("i", v.get("s"))) for v in rs]
        assert keys == sorted(keys), f"{what}: partition {part} out of production order"


def test_kafkajs_idempotent_producer_reads_back_exactly_once_in_order(txn_broker, topic):
    result = run_node("idempotent", txn_broker, topic)
    seen = result["seen"]
    assert_once_in_order(seen, "kafkajs idempotent read-back")
    assert sorted(r["value"] for r in seen) == sorted(result["produced"]), (
        f"read {len(seen)} records, produced {len(result['produced'])}")


def test_kafkajs_transactions_read_committed_sees_only_committed_records(txn_broker, topic):
    result = run_node("transactions", txn_broker, topic)
    committed, aborted = set(result["committed"]), set(result["aborted"])
    rc = result["committedView"]
    rc_values = {r["value"] for r in rc}
    leaked = rc_values & aborted
    assert not leaked, f"readUncommitted=false saw {len(leaked)} aborted records: {sorted(leaked)[:3]}"
    assert rc_values == committed, (
        f"readUncommitted=false saw {len(rc_values & committed)} of {len(committed)} committed "
        f"records and {len(rc_values - committed)} others")
    assert_once_in_order(rc, "kafkajs read_committed")
    ru = result["uncommittedView"]
    assert {r["value"] for r in ru} == committed | aborted, (
        "readUncommitted=true must see every record, aborted ones too")
    assert_once_in_order(ru, "kafkajs read_uncommitted")
