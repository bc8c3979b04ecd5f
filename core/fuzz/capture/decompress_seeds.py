#!/usr/bin/env python3
"""Writes seeds for the decompress_* fuzz targets into core/fuzz/corpus/.

The records sections of the compressed client batches captured by capture.py (in
corpus/record_batch/), plus sections made here with Python's codecs: text, a
high-ratio run of zeros, empty input, several gzip members or zstd frames, a zstd
frame without its content size, LZ4 with checksums, and snappy both as raw blocks
and in xerial framing (what Java clients send).

Needs python-snappy, lz4 and zstandard (tests/python/requirements.txt has them).
"""

import glob
import gzip
import hashlib
import os
import struct

import lz4.frame
import snappy
import zstandard

BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "corpus")
CODECS = {1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def write(codec, name, data):
    folder = os.path.join(BASE, "decompress_" + codec)
    os.makedirs(folder, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:8]
    with open(os.path.join(folder, f"{name}-{digest}"), "wb") as f:
        f.write(data)


def xerial(raw):
    out = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    for block in [raw[i : i + 32768] for i in range(0, len(raw), 32768)] or [b""]:
        packed = snappy.compress(block)
        out += struct.pack(">i", len(packed)) + packed
    return out


def main():
    for path in glob.glob(os.path.join(BASE, "record_batch", "*")):
        batch = open(path, "rb").read()
        codec = struct.unpack(">h", batch[21:23])[0] & 7
        if codec in CODECS:
            name = os.path.basename(path).rsplit("-", 1)[0]
            write(CODECS[codec], "client-" + name, batch[61:])
    samples = {
        "text": b"".join(b"key%d value %d " % (i, i) for i in range(200)),
        "zeros": bytes(70000),
        "empty": b"",
    }
    for label, raw in samples.items():
        write("gzip", "py-" + label, gzip.compress(raw))
        write("snappy", "py-raw-" + label, snappy.compress(raw))
        write("snappy", "py-xerial-" + label, xerial(raw))
        write("lz4", "py-" + label, lz4.frame.compress(raw))
        write("zstd", "py-" + label, zstandard.ZstdCompressor(level=3).compress(raw))
    write("gzip", "py-two-members", gzip.compress(b"first") + gzip.compress(b"second"))
    two = zstandard.ZstdCompressor()
    write("zstd", "py-two-frames", two.compress(b"first") + two.compress(b"second"))
    unsized = zstandard.ZstdCompressor(write_content_size=False)
    write("zstd", "py-streamed-no-size", unsized.compress(b"no content size" * 50))
    write("lz4", "py-block-checksum",
          lz4.frame.compress(b"checksummed" * 100, block_checksum=True, content_checksum=True))


if __name__ == "__main__":
    main()
