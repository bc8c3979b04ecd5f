"""Malformed and hostile requests on raw sockets: the broker answers with an error or
closes that one connection, and stays up and useful for everyone else."""

from __future__ import annotations

import random
import socket
import struct
from pathlib import Path

import pytest

from weirtest import need

ck = need("confluent_kafka", "confluent-kafka")

API_VERSIONS, METADATA, PRODUCE = 18, 3, 0
UNSUPPORTED_VERSION = 35
READ_TIMEOUT_S = 15


def request(api_key: int, version: int, correlation_id: int, body: bytes = b"",
            client_id: bytes = b"abuse") -> bytes:
    """A size-prefixed request with a v1 (non-flexible) header."""
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def connect(broker) -> socket.socket:
    sock = socket.create_connection((broker.host, broker.port), timeout=READ_TIMEOUT_S)
    sock.settimeout(READ_TIMEOUT_S)
    return sock


def read_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_response(sock: socket.socket) -> tuple[str, bytes]:
    """('closed', b'') if the broker closed the connection, else ('response', frame)."""
    try:
        size = read_exact(sock, 4)
        if size is None:
            return "closed", b""
        (length,) = struct.unpack(">i", size)
        assert 4 <= length <= 64 * 1024 * 1024, f"implausible response size {length}"
        frame = read_exact(sock, length)
        return ("closed", b"") if frame is None else ("response", frame)
    except (ConnectionResetError, BrokenPipeError):
        return "closed", b""
    except socket.timeout:
        pytest.fail(f"the broker neither answered nor closed within {READ_TIMEOUT_S}s",
                    pytrace=False)


def api_versions_works(sock: socket.socket, correlation_id: int) -> None:
    sock.sendall(request(API_VERSIONS, 0, correlation_id))
    kind, frame = read_response(sock)
    assert kind == "response", "ApiVersions v0 on a healthy connection got no answer"
    corr, error = struct.unpack(">ih", frame[:6])
    assert (corr, error) == (correlation_id, 0), f"ApiVersions answered {corr=} {error=}"
    (count,) = struct.unpack(">i", frame[6:10])
    keys = {struct.unpack(">h", frame[10 + 6 * i:12 + 6 * i])[0] for i in range(count)}
    assert {PRODUCE, METADATA, API_VERSIONS} <= keys, f"ApiVersions lists only {sorted(keys)}"


def error_response_or_close(sock: socket.socket, correlation_id: int | None) -> tuple[str, bytes]:
    """Reads one answer; garbage has no trustworthy correlation id, so pass None for it."""
    kind, frame = read_response(sock)
    if kind == "response" and correlation_id is not None:
        (corr,) = struct.unpack(">i", frame[:4])
        assert corr == correlation_id, f"response carries correlation id {corr}, not {correlation_id}"
    return kind, frame


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def assert_broker_serves_clients(broker, healthy: socket.socket, correlation_id: int) -> None:
    assert broker.is_alive(), f"broker died; log:\n{broker.log_tail()}"
    api_versions_works(healthy, correlation_id)
    with connect(broker) as fresh:
        api_versions_works(fresh, correlation_id + 1)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    delivered = []
    producer.produce("abuse-survivor", value=b"still here",
                     on_delivery=lambda err, msg: delivered.append((err, msg.offset())))
    assert producer.flush(30) == 0, "a normal producer could not deliver after the abuse"
    assert delivered and delivered[0][0] is None, f"delivery failed: {delivered}"


ABUSES = {
    # name: (bytes to send, half-close afterwards)
    "truncated_frame": (struct.pack(">i", 100) + b"\x00\x12\x00\x00\x00\x00", True),
    "truncated_size_prefix": (b"\x00\x00", True),
    "frame_claiming_2_gib": (struct.pack(">i", 0x7FFFFFFF) + b"\x00\x12\x00\x00" * 4, False),
    "negative_frame_size": (struct.pack(">i", -1) + b"\x00" * 16, False),
    "metadata_with_huge_topic_array_count": (
        request(METADATA, 1, 7, body=struct.pack(">i", 0x7FFFFFFF)), False),
    "metadata_with_huge_topic_name_length": (
        request(METADATA, 1, 7, body=struct.pack(">ih", 1, 0x7FFF) + b"t"), False),
    "produce_with_huge_records_length": (
        request(PRODUCE, 3, 7, body=struct.pack(">hhii", -1, -1, 1000, 1)
                + struct.pack(">h", 1) + b"t" + struct.pack(">iii", 1, 0, 0x7FFFFFF0)), False),
    "client_id_longer_than_frame": (
        struct.pack(">i", 10) + struct.pack(">hhih", API_VERSIONS, 0, 7, 0x7FFF), False),
    "unknown_api_key": (request(30000, 0, 7), False),
    "negative_api_key": (request(-5, 0, 7), False),
    "unsupported_metadata_version": (request(METADATA, 999, 7), False),
    "garbage_frame_body": (
        struct.pack(">i", 64) + random.Random(1).randbytes(64), False),
    "garbage_stream": (random.Random(2).randbytes(4096), True),
}


@pytest.mark.parametrize("abuse", sorted(ABUSES))
def test_bad_request_gets_error_or_close_and_broker_keeps_serving(broker, abuse):
    payload, half_close = ABUSES[abuse]
    healthy = connect(broker)
    try:
        api_versions_works(healthy, 1)
        rss_before = rss_bytes(broker.proc.pid)
        with connect(broker) as bad:
            bad.sendall(payload)
            if half_close:
                bad.shutdown(socket.SHUT_WR)
            error_response_or_close(bad, None if abuse.startswith("garbage") else 7)
        # Claims of gigabytes must not turn into allocations.
        grown = rss_bytes(broker.proc.pid) - rss_before
        assert grown < 512 * 1024 * 1024, f"broker memory grew by {grown >> 20} MiB"
        assert_broker_serves_clients(broker, healthy, 100)
    finally:
        healthy.close()


def test_api_versions_with_unsupported_version_answers_unsupported_version_error(broker):
    with connect(broker) as sock:
        sock.sendall(request(API_VERSIONS, 999, 42))
        kind, frame = read_response(sock)
        assert kind == "response", "ApiVersions v999 must be answered (KIP-511), not closed"
        corr, error = struct.unpack(">ih", frame[:6])
        assert corr == 42
        assert error == UNSUPPORTED_VERSION, f"error code {error}, want {UNSUPPORTED_VERSION}"
        # The connection stays usable: the client retries with a version the broker lists.
        api_versions_works(sock, 43)


def test_many_bad_connections_in_a_row_leave_the_broker_serving(broker):
    rng = random.Random(3)
    healthy = connect(broker)
    try:
        for i in range(50):
            with connect(broker) as bad:
                bad.sendall(rng.choice(list(ABUSES.values()))[0][: rng.randint(1, 200)])
                bad.shutdown(socket.SHUT_WR)
                error_response_or_close(bad, None)
        assert_broker_serves_clients(broker, healthy, 500)
    finally:
        healthy.close()
