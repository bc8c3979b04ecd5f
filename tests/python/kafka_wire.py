"""A small Kafka wire codec for tests that speak the protocol by hand.

Requests and responses are encoded and decoded from Apache Kafka's own message
definitions (the JSON files in `core/kafka-specs/`), so a test names fields as Kafka does
(`{"TransactionalId": "t", "ProducerEpoch": 3}`) and a version picks the layout,
flexible (compact strings, tagged fields) or not. Record batches (magic v2, CRC-32C)
are built and parsed here too, including control batches, so a test can produce an
idempotent or transactional batch with any producer id, epoch and sequence, and see
the COMMIT/ABORT markers a broker writes.

This is test code: it checks nothing a broker must check, and trusts its own input.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
SPEC_DIRS = [HERE.parents[1] / "core" / "kafka-specs"]

# Kafka's error codes used by the tests (org.apache.kafka.common.protocol.Errors).
NONE = 0
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
UNSUPPORTED_VERSION = 35
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
DUPLICATE_SEQUENCE_NUMBER = 46
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_PRODUCER_ID_MAPPING = 49
INVALID_TRANSACTION_TIMEOUT = 50
CONCURRENT_TRANSACTIONS = 51
UNKNOWN_PRODUCER_ID = 59
INVALID_RECORD = 87
PRODUCER_FENCED = 90
TRANSACTIONAL_ID_NOT_FOUND = 105

ERROR_NAMES = {
    0: "NONE", 2: "CORRUPT_MESSAGE", 3: "UNKNOWN_TOPIC_OR_PARTITION", 7: "REQUEST_TIMED_OUT",
    15: "COORDINATOR_NOT_AVAILABLE", 16: "NOT_COORDINATOR", 35: "UNSUPPORTED_VERSION",
    42: "INVALID_REQUEST", 45: "OUT_OF_ORDER_SEQUENCE_NUMBER",
    46: "DUPLICATE_SEQUENCE_NUMBER", 47: "INVALID_PRODUCER_EPOCH", 48: "INVALID_TXN_STATE",
    49: "INVALID_PRODUCER_ID_MAPPING", 50: "INVALID_TRANSACTION_TIMEOUT",
    51: "CONCURRENT_TRANSACTIONS", 53: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
    59: "UNKNOWN_PRODUCER_ID", 87: "INVALID_RECORD", 90: "PRODUCER_FENCED",
    105: "TRANSACTIONAL_ID_NOT_FOUND",
}


def error_name(code: int) -> str:
    return f"{ERROR_NAMES.get(code, 'error')} ({code})"


# --- message definitions ------------------------------------------------------------


class Versions:
    """A Kafka version range: "0+", "3-5", "7" or "none"."""

    def __init__(self, text: Optional[str]):
        if text is None or text == "none":
            self.lo, self.hi = 1, 0
        elif text.endswith("+"):
            self.lo, self.hi = int(text[:-1]), 1 << 15
        elif "-" in text:
            lo, hi = text.split("-")
            self.lo, self.hi = int(lo), int(hi)
        else:
            self.lo = self.hi = int(text)

    def __contains__(self, version: int) -> bool:
        return self.lo <= version <= self.hi


@dataclass
class Field:
    name: str
    type: str
    versions: Versions
    nullable: Versions
    tagged: Versions
    tag: Optional[int]
    default: Any
    fields: list["Field"]

    def element_type(self) -> str:
        return self.type[2:] if self.type.startswith("[]") else self.type


@dataclass
class Message:
    name: str
    api_key: int
    valid: Versions
    flexible: Versions
    fields: list[Field]


def _load_json(path: Path) -> dict:
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("//")]
    return json.loads("\n".join(lines))


@lru_cache(maxsize=None)
def message(name: str) -> Message:
    """The definition of e.g. "InitProducerIdRequest", from the first spec dir holding it."""
    for directory in SPEC_DIRS:
        path = directory / f"{name}.json"
        if path.is_file():
            break
    else:
        raise FileNotFoundError(f"no Kafka message definition {name}.json in {SPEC_DIRS}")
    spec = _load_json(path)
    common = {s["name"]: s["fields"] for s in spec.get("commonStructs", [])}

    def parse(fields: list[dict]) -> list[Field]:
        out = []
        for f in fields:
            element = f["type"][2:] if f["type"].startswith("[]") else f["type"]
            children = f.get("fields") or common.get(element) or []
            out.append(Field(
                name=f["name"], type=f["type"], versions=Versions(f.get("versions")),
                nullable=Versions(f.get("nullableVersions")),
                tagged=Versions(f.get("taggedVersions")), tag=f.get("tag"),
                default=f.get("default"), fields=parse(children)))
        return out

    return Message(name=spec["name"], api_key=spec["apiKey"], valid=Versions(spec["validVersions"]),
                   flexible=Versions(spec.get("flexibleVersions")), fields=parse(spec["fields"]))


# --- primitive encoding ---------------------------------------------------------------


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint(n: int) -> bytes:
    """Zigzag signed varint (records use these)."""
    return uvarint((n << 1) ^ (n >> 63))


class Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))[0]

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.take(1)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def varint(self) -> int:
        n = self.uvarint()
        return (n >> 1) ^ -(n & 1)

    def remaining(self) -> int:
        return len(self.data) - self.pos


FIXED = {"int8": ">b", "int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I",
         "int64": ">q", "float64": ">d"}
ZERO = {"int8": 0, "int16": 0, "uint16": 0, "int32": 0, "uint32": 0, "int64": 0,
        "float64": 0.0, "bool": False, "string": "", "bytes": b"", "records": None,
        "uuid": b"\0" * 16}


def _default(f: Field, version: int) -> Any:
    if f.type.startswith("[]"):
        return []
    if f.fields:
        return {}
    if f.default is not None:
        if f.default == "null":
            return None
        if f.type == "bool":
            return str(f.default).lower() == "true"
        if f.type in FIXED:
            return int(str(f.default), 0) if f.type != "float64" else float(f.default)
        return f.default
    if version in f.nullable and f.type in ("string", "bytes", "records"):
        return None
    return ZERO.get(f.type)


def encode_value(f_type: str, value: Any, flexible: bool, nullable: bool,
                 children: list[Field], version: int) -> bytes:
    if f_type.startswith("[]"):
        element = f_type[2:]
        if value is None:
            return uvarint(0) if flexible else struct.pack(">i", -1)
        head = uvarint(len(value) + 1) if flexible else struct.pack(">i", len(value))
        return head + b"".join(encode_value(element, v, flexible, False, children, version)
                               for v in value)
    if children:
        return encode_struct(children, value or {}, version, flexible)
    if f_type in FIXED:
        return struct.pack(FIXED[f_type], value)
    if f_type == "bool":
        return b"\x01" if value else b"\x00"
    if f_type == "uuid":
        return bytes(value)
    if f_type == "string":
        if value is None:
            return uvarint(0) if flexible else struct.pack(">h", -1)
        raw = value.encode()
        return (uvarint(len(raw) + 1) if flexible else struct.pack(">h", len(raw))) + raw
    if f_type in ("bytes", "records"):
        if value is None:
            return uvarint(0) if flexible else struct.pack(">i", -1)
        raw = bytes(value)
        return (uvarint(len(raw) + 1) if flexible else struct.pack(">i", len(raw))) + raw
    raise ValueError(f"cannot encode type {f_type}")


def encode_struct(fields: list[Field], values: dict, version: int, flexible: bool) -> bytes:
    unknown = set(values) - {f.name for f in fields}
    if unknown:
        raise KeyError(f"no such fields {sorted(unknown)} (have {[f.name for f in fields]})")
    out = bytearray()
    tagged = []
    for f in fields:
        if version not in f.versions:
            continue
        value = values.get(f.name, _default(f, version))
        if flexible and version in f.tagged:
            if f.name in values:
                tagged.append((f.tag, encode_value(f.type, value, True, version in f.nullable,
                                                   f.fields, version)))
            continue
        out += encode_value(f.type, value, flexible, version in f.nullable, f.fields, version)
    if flexible:
        out += uvarint(len(tagged))
        for tag, raw in sorted(tagged):
            out += uvarint(tag) + uvarint(len(raw)) + raw
    return bytes(out)


def decode_value(r: Reader, f_type: str, flexible: bool, children: list[Field], version: int):
    if f_type.startswith("[]"):
        element = f_type[2:]
        if flexible:
            n = r.uvarint() - 1
        else:
            n = r.unpack(">i")
        if n < 0:
            return None
        if n > r.remaining():
            raise ValueError(f"array of {n} elements with {r.remaining()} bytes left")
        return [decode_value(r, element, flexible, children, version) for _ in range(n)]
    if children:
        return decode_struct(r, children, version, flexible)
    if f_type in FIXED:
        return r.unpack(FIXED[f_type])
    if f_type == "bool":
        return r.take(1) != b"\x00"
    if f_type == "uuid":
        return r.take(16)
    if f_type == "string":
        n = (r.uvarint() - 1) if flexible else r.unpack(">h")
        return None if n < 0 else r.take(n).decode()
    if f_type in ("bytes", "records"):
        n = (r.uvarint() - 1) if flexible else r.unpack(">i")
        return None if n < 0 else r.take(n)
    raise ValueError(f"cannot decode type {f_type}")


def decode_struct(r: Reader, fields: list[Field], version: int, flexible: bool) -> dict:
    out: dict[str, Any] = {}
    for f in fields:
        if version not in f.versions:
            continue
        if flexible and version in f.tagged:
            out[f.name] = _default(f, version)
            continue
        out[f.name] = decode_value(r, f.type, flexible, f.fields, version)
    if flexible:
        by_tag = {f.tag: f for f in fields if version in f.tagged and version in f.versions}
        for _ in range(r.uvarint()):
            tag, size = r.uvarint(), r.uvarint()
            raw = r.take(size)
            f = by_tag.get(tag)
            if f is not None:
                out[f.name] = decode_value(Reader(raw), f.type, True, f.fields, version)
    return out


# --- requests over a socket -----------------------------------------------------------


def encode_request(api: str, version: int, correlation_id: int, body: dict,
                   client_id: str = "weir-wire-test") -> bytes:
    """A size-prefixed `{api}Request` frame with header v1 (v2 if flexible)."""
    msg = message(f"{api}Request")
    assert version in msg.valid, f"{api} v{version} is outside Kafka's {msg.valid.lo}-{msg.valid.hi}"
    flexible = version in msg.flexible
    cid = client_id.encode()
    header = struct.pack(">hhih", msg.api_key, version, correlation_id, len(cid)) + cid
    if flexible:
        header += uvarint(0)
    payload = header + encode_struct(msg.fields, body, version, flexible)
    return struct.pack(">i", len(payload)) + payload


def decode_response(api: str, version: int, frame: bytes) -> tuple[int, dict]:
    """(correlation id, body) of a `{api}Response` frame without its size prefix."""
    msg = message(f"{api}Response")
    flexible = version in msg.flexible
    r = Reader(frame)
    correlation_id = r.unpack(">i")
    if flexible and api != "ApiVersions":  # ApiVersions answers with header v0 always
        for _ in range(r.uvarint()):
            r.uvarint()
            r.take(r.uvarint())
    body = decode_struct(r, msg.fields, version, flexible)
    if r.remaining():
        raise ValueError(f"{api} v{version} response has {r.remaining()} bytes left over")
    return correlation_id, body


class Closed(Exception):
    """The broker closed the connection instead of answering."""


class Connection:
    """One TCP connection to a broker, speaking request/response in order."""

    def __init__(self, host: str, port: int, timeout_s: float = 15.0):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.settimeout(timeout_s)
        self.correlation_id = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_frame(self) -> bytes:
        size = self._read_exact(4)
        (length,) = struct.unpack(">i", size)
        if not 4 <= length <= 64 << 20:
            raise ValueError(f"implausible response size {length}")
        return self._read_exact(length)

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except (ConnectionResetError, BrokenPipeError) as exc:
                raise Closed(str(exc)) from exc
            if not chunk:
                raise Closed("connection closed by the broker")
            data += chunk
        return data

    def call(self, api: str, version: int, body: dict) -> dict:
        """Sends one request and returns the decoded response body."""
        self.correlation_id += 1
        self.sock.sendall(encode_request(api, version, self.correlation_id, body))
        corr, decoded = decode_response(api, version, self.read_frame())
        if corr != self.correlation_id:
            raise AssertionError(f"{api} answer has correlation id {corr}, not {self.correlation_id}")
        return decoded


# --- record batches (magic v2) --------------------------------------------------------


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


TRANSACTIONAL_FLAG = 0x10
CONTROL_FLAG = 0x20
NO_PRODUCER_ID = -1
CONTROL_ABORT, CONTROL_COMMIT = 0, 1


@dataclass
class BatchRecord:
    offset: int
    timestamp_ms: int
    key: Optional[bytes]
    value: Optional[bytes]
    headers: list[tuple[str, Optional[bytes]]] = field(default_factory=list)


@dataclass
class Batch:
    base_offset: int
    partition_leader_epoch: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: list[BatchRecord]
    crc_ok: bool

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_FLAG)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_FLAG)

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    def control_type(self) -> Optional[int]:
        """CONTROL_ABORT or CONTROL_COMMIT for a control batch's one record, else None."""
        if not self.is_control or not self.records or self.records[0].key is None:
            return None
        key = self.records[0].key
        if len(key) < 4:
            return None
        _version, kind = struct.unpack(">hh", key[:4])
        return kind


def encode_batch(values: list[bytes], *, producer_id: int = NO_PRODUCER_ID,
                 producer_epoch: int = -1, base_sequence: int = -1,
                 transactional: bool = False, control: bool = False,
                 keys: Optional[list[Optional[bytes]]] = None,
                 timestamp_ms: Optional[int] = None, corrupt_crc: bool = False) -> bytes:
    """An uncompressed magic-v2 batch of `values` (base offset 0, as a producer sends it),
    stamped now unless `timestamp_ms` says otherwise (time retention would delete records
    stamped at 0)."""
    if timestamp_ms is None:
        timestamp_ms = int(time.time() * 1000)
    records = bytearray()
    for i, value in enumerate(values):
        key = keys[i] if keys else None
        body = bytearray(b"\x00")  # record attributes
        body += varint(0) + varint(i)  # timestamp delta, offset delta
        body += varint(-1) if key is None else varint(len(key)) + key
        body += varint(-1) if value is None else varint(len(value)) + value
        body += varint(0)  # headers
        records += varint(len(body)) + body
    attributes = (TRANSACTIONAL_FLAG if transactional else 0) | (CONTROL_FLAG if control else 0)
    after_crc = struct.pack(">hiqqqhii", attributes, len(values) - 1, timestamp_ms, timestamp_ms,
                            producer_id, producer_epoch, base_sequence, len(values)) + bytes(records)
    crc = crc32c(after_crc) ^ (1 if corrupt_crc else 0)
    after_length = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def control_batch_values(kind: int, coordinator_epoch: int = 0) -> tuple[bytes, bytes]:
    """The key and value of a control record (version 0)."""
    return struct.pack(">hh", 0, kind), struct.pack(">hi", 0, coordinator_epoch)


def decode_batches(data: Optional[bytes]) -> list[Batch]:
    """Every complete magic-v2 batch in fetched bytes (a partial trailing batch is dropped)."""
    batches = []
    r = Reader(data or b"")
    while r.remaining() >= 12:
        start = r.pos
        base_offset, length = struct.unpack(">qi", r.take(12))
        if r.remaining() < length:
            break
        body = Reader(r.take(length))
        leader_epoch, magic, crc = struct.unpack(">ibI", body.take(9))
        if magic != 2:
            raise ValueError(f"batch at {base_offset} (byte {start}) has magic {magic}, not 2")
        rest = body.data[body.pos:]
        (attributes, last_delta, base_ts, max_ts, pid, epoch, base_seq,
         count) = struct.unpack(">hiqqqhii", body.take(40))
        if attributes & 0x07:
            raise ValueError(f"batch at {base_offset} is compressed ({attributes & 7}); "
                             "the tests produce uncompressed transactional batches")
        records = []
        for _ in range(count):
            rec = Reader(body.take(body.varint()))
            rec.take(1)
            ts_delta, off_delta = rec.varint(), rec.varint()
            klen = rec.varint()
            key = None if klen < 0 else rec.take(klen)
            vlen = rec.varint()
            value = None if vlen < 0 else rec.take(vlen)
            headers = []
            for _ in range(rec.varint()):
                hk = rec.take(rec.varint()).decode()
                hl = rec.varint()
                headers.append((hk, None if hl < 0 else rec.take(hl)))
            records.append(BatchRecord(base_offset + off_delta, base_ts + ts_delta, key, value,
                                       headers))
        batches.append(Batch(base_offset, leader_epoch, attributes, last_delta, base_ts, max_ts,
                             pid, epoch, base_seq, records, crc32c(rest) == crc))
    return batches
