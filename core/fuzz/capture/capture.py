#!/usr/bin/env python3
"""Records the request frames real Kafka clients send, as seeds for the fuzz targets.

Starts a `weir broker` advertising a recording proxy, points real clients at the
proxy (kcat/librdkafka always; confluent-kafka and kafka-python when importable),
and writes every request frame body (what the 4-byte size prefix covers) to
`core/fuzz/corpus/request/`, one file per distinct API key, version and client,
plus the record batches found in produce requests to `corpus/record_batch/` and a
few raw client streams (size prefixes included) to `corpus/frame/`.

    python3 core/fuzz/capture/capture.py --weir target/release/weir

Uses only the standard library; run it with a Python that has confluent_kafka and
kafka (kafka-python) installed to capture those clients too. Everything runs on
127.0.0.1 and stops by itself.
"""

import argparse
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(os.path.dirname(HERE), "corpus")

# Kafka API names by key, for file names only.
API_NAMES = {
    0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 8: "offset_commit",
    9: "offset_fetch", 10: "find_coordinator", 11: "join_group", 12: "heartbeat",
    13: "leave_group", 14: "sync_group", 15: "describe_groups", 16: "list_groups",
    18: "api_versions", 19: "create_topics", 20: "delete_topics", 21: "delete_records",
    22: "init_producer_id", 23: "offset_for_leader_epoch", 29: "describe_acls",
    32: "describe_configs", 33: "alter_configs", 35: "describe_log_dirs",
    36: "sasl_authenticate", 37: "create_partitions", 42: "delete_groups",
    44: "incremental_alter_configs", 47: "offset_delete", 60: "describe_cluster",
    24: "add_partitions_to_txn", 25: "add_offsets_to_txn", 26: "end_txn",
    27: "write_txn_markers", 28: "txn_offset_commit", 61: "describe_producers",
    65: "describe_transactions", 66: "list_transactions",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """Keeps a few frames per (api key, version, client) and every stream's start."""

    def __init__(self):
        self.lock = threading.Lock()
        self.client = "unknown"
        self.frames = {}
        self.streams = []

    def frame(self, body):
        if len(body) < 4:
            return
        key, version = struct.unpack(">hh", body[:4])
        with self.lock:
            kept = self.frames.setdefault((key, version, self.client), [])
            # Produce requests differ by codec and headers: keep more of them.
            if len(kept) < (8 if key == 0 else 2) and body[8:] not in [k[8:] for k in kept]:
                kept.append(body)

    def stream(self, data):
        with self.lock:
            self.streams.append((self.client, data))


def pump(src, dst, recorder=None):
    """Copies src to dst; when recording, cuts the client's stream into frames."""
    pending = b""
    seen = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            if recorder is None:
                continue
            if len(seen) < 4096:
                seen += data
            pending += data
            while len(pending) >= 4:
                (size,) = struct.unpack(">i", pending[:4])
                if size < 0 or len(pending) < 4 + size:
                    break
                recorder.frame(pending[4 : 4 + size])
                pending = pending[4 + size :]
    except OSError:
        pass
    finally:
        if recorder is not None and seen:
            recorder.stream(seen[:4096])
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def proxy(listen, upstream_port, recorder, stop):
    listen.settimeout(0.2)
    while not stop.is_set():
        try:
            client, _ = listen.accept()
        except socket.timeout:
            continue
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
        threading.Thread(target=pump, args=(client, upstream, recorder), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


def wait_for_port(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"broker did not listen on {port}")


def run(cmd, **kwargs):
    print("   ", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, timeout=60, capture_output=True, **kwargs)


def kcat_clients(bootstrap, recorder):
    recorder.client = "kcat"
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        lines = "".join(f"key{i}:value {i} {codec}\n" for i in range(5)).encode()
        run(["kcat", "-b", bootstrap, "-P", "-t", f"cap-{codec}", "-K:",
             "-X", f"compression.codec={codec}", "-X", "linger.ms=50"], input=lines)
    run(["kcat", "-b", bootstrap, "-P", "-t", "cap-headers", "-H", "h1=v1",
         "-H", "h2=v2", "-X", "enable.idempotence=true"], input=b"with headers\n")
    run(["kcat", "-b", bootstrap, "-C", "-t", "cap-none", "-o", "beginning", "-e"])
    run(["kcat", "-b", bootstrap, "-C", "-t", "cap-zstd", "-o", "-2", "-e", "-c", "2"])
    run(["kcat", "-b", bootstrap, "-C", "-t", "cap-gzip", "-o", "s@0", "-e"])
    run(["kcat", "-b", bootstrap, "-L"])
    run(["kcat", "-b", bootstrap, "-Q", "-t", "cap-none:0:0"])


def confluent_clients(bootstrap, recorder):
    try:
        import confluent_kafka
        from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic
    except ImportError:
        print("    confluent_kafka not importable; skipped", file=sys.stderr)
        return
    recorder.client = "confluent"
    conf = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000}
    admin = AdminClient(conf)
    for f in admin.create_topics([NewTopic("cap-admin", 2, 1,
                                          config={"retention.ms": "3600000"})]).values():
        f.result(timeout=10)
    admin.create_partitions([NewPartitions("cap-admin", 3)])["cap-admin"].result(timeout=10)
    resource = ConfigResource("topic", "cap-admin")
    admin.describe_configs([resource])[resource].result(timeout=10)
    admin.list_topics(timeout=10)
    try:
        admin.describe_cluster().result(timeout=10)
    except Exception:
        pass
    producer = confluent_kafka.Producer({**conf, "compression.type": "lz4", "acks": "all"})
    for i in range(10):
        producer.produce("cap-admin", key=f"k{i}", value=f"v{i}" * 10, headers={"h": b"x"})
    producer.flush(10)
    consumer = confluent_kafka.Consumer({**conf, "group.id": "cap", "auto.offset.reset":
                                         "earliest", "enable.auto.commit": False})
    consumer.assign([confluent_kafka.TopicPartition("cap-admin", p, 0) for p in range(3)])
    deadline = time.time() + 5
    while time.time() < deadline:
        consumer.poll(0.5)
    consumer.close()
    # Transactions: InitProducerId with a transactional id, AddPartitionsToTxn,
    # AddOffsetsToTxn, TxnOffsetCommit, EndTxn (commit and abort), read_committed.
    txn = confluent_kafka.Producer({**conf, "transactional.id": "cap-txn"})
    txn.init_transactions(10)
    for commit in (True, False):
        txn.begin_transaction()
        txn.produce("cap-admin", key="t", value="in a transaction")
        txn.flush(10)
        txn.send_offsets_to_transaction(
            [confluent_kafka.TopicPartition("cap-admin", 0, 1)],
            confluent_kafka.Consumer({**conf, "group.id": "cap-txn"}).consumer_group_metadata(),
            10)
        (txn.commit_transaction if commit else txn.abort_transaction)(10)
    committed = confluent_kafka.Consumer({**conf, "group.id": "cap-rc", "auto.offset.reset":
                                          "earliest", "isolation.level": "read_committed"})
    committed.assign([confluent_kafka.TopicPartition("cap-admin", p, 0) for p in range(3)])
    deadline = time.time() + 3
    while time.time() < deadline:
        committed.poll(0.5)
    committed.close()
    admin.delete_topics(["cap-admin"])["cap-admin"].result(timeout=10)


def kafka_python_clients(bootstrap, recorder):
    try:
        import kafka
    except ImportError:
        print("    kafka-python not importable; skipped", file=sys.stderr)
        return
    recorder.client = "kafka-python"
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip",
                                   request_timeout_ms=5000)
    for i in range(5):
        producer.send("cap-kp", key=b"k", value=b"kafka-python %d" % i)
    producer.flush(10)
    producer.close(5)
    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=3000,
                                   auto_offset_reset="earliest")
    consumer.assign([kafka.TopicPartition("cap-kp", 0)])
    for _ in consumer:
        pass
    consumer.close()


def record_batches(body):
    """Record batches inside a produce request body: every `records` field found by
    scanning for a plausible magic-v2 batch header."""
    found = []
    i = 0
    while i + 61 <= len(body):
        base, length = struct.unpack(">qi", body[i : i + 12])
        if base == 0 and 49 <= length <= len(body) - i - 12 and body[i + 16] == 2:
            found.append(body[i : i + 12 + length])
            i += 12 + length
        else:
            i += 1
    return found


def save(recorder):
    for target in ["request", "record_batch", "frame"]:
        os.makedirs(os.path.join(CORPUS, target), exist_ok=True)

    def write(target, name, data):
        digest = hashlib.sha1(data).hexdigest()[:8]
        with open(os.path.join(CORPUS, target, f"{name}-{digest}"), "wb") as f:
            f.write(data)

    saved = 0
    for (key, version, client), bodies in sorted(recorder.frames.items()):
        api = API_NAMES.get(key, f"api{key}")
        for body in bodies:
            write("request", f"{client}-{api}-v{version}", body)
            saved += 1
            if key == 0:
                for n, batch in enumerate(record_batches(body)):
                    write("record_batch", f"{client}-produce-v{version}-{n}", batch)
    for n, (client, data) in enumerate(recorder.streams[:12]):
        write("frame", f"{client}-stream-{n}", data)
    print(f"saved {saved} request frames and "
          f"{min(len(recorder.streams), 12)} streams under {CORPUS}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weir", default="target/release/weir", help="the weir binary")
    args = parser.parse_args()
    if shutil.which("kcat") is None:
        sys.exit("kcat is needed (apt-get install kcat)")

    data = tempfile.mkdtemp(prefix="weir-capture-")
    broker_port, proxy_port = free_port(), free_port()
    broker = subprocess.Popen(
        [args.weir, "broker", "--data-dir", data, "--listen", f"127.0.0.1:{broker_port}",
         "--advertised-listener", f"127.0.0.1:{proxy_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    recorder, stop = Recorder(), threading.Event()
    try:
        wait_for_port(broker_port, time.time() + 30)
        listen = socket.socket()
        listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listen.bind(("127.0.0.1", proxy_port))
        listen.listen(64)
        threading.Thread(target=proxy, args=(listen, broker_port, recorder, stop),
                         daemon=True).start()
        bootstrap = f"127.0.0.1:{proxy_port}"
        kcat_clients(bootstrap, recorder)
        confluent_clients(bootstrap, recorder)
        kafka_python_clients(bootstrap, recorder)
        time.sleep(0.5)
    finally:
        stop.set()
        broker.terminate()
        broker.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    save(recorder)


if __name__ == "__main__":
    main()
