"""Payloads for the shared tiers (disk, Redis). No pickle: a shared cache must not be a
code-execution path.

Envelope: ``O2C`` + format version (1 byte) + kind (``J`` JSON / ``A`` Arrow IPC) + codec
(0 none / 1 zstd) + raw length (8 bytes LE) + CRC-32 of the body (4 bytes) + body.

- DataFrames: Arrow IPC stream (pandas metadata keeps index, categoricals, datetimes),
  compressed by Arrow itself with zstd.
- Everything else: orjson (numpy, datetime, UUID natively; Decimal → float), zstd above 1 KiB.
  JSON has no date type: dates come back as ISO strings, so cached services return
  JSON-native values (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from decimal import Decimal

import orjson
import pandas as pd
import pyarrow as pa

MAGIC = b"O2C"
FORMAT = 1
HEADER = struct.Struct("<3sBcBQI")  # magic, format, kind, codec, raw length, crc32
KIND_JSON = b"J"
KIND_ARROW = b"A"
CODEC_NONE = 0
CODEC_ZSTD = 1
COMPRESS_FROM_BYTES = 1024
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class CorruptPayloadError(ValueError):
    """The bytes are not a payload this module wrote (truncated, tampered, other format)."""


@dataclass(frozen=True)
class Encoded:
    data: bytes  # what is stored
    raw_size: int  # size before compression (for stats and the L1 size estimate)


def _json_default(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not cacheable as JSON: {type(value).__name__}")


def encode(value) -> Encoded:
    """Serialise a DataFrame or a JSON-like value into an envelope."""
    if isinstance(value, pd.DataFrame):
        table = pa.Table.from_pandas(value, preserve_index=True)
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        body = sink.getvalue().to_pybytes()
        raw_size = int(table.nbytes)
        return Encoded(_header(KIND_ARROW, CODEC_NONE, raw_size, body) + body, raw_size)
    raw = orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS)
    if len(raw) >= COMPRESS_FROM_BYTES:
        body = pa.compress(raw, codec="zstd", asbytes=True)
        return Encoded(_header(KIND_JSON, CODEC_ZSTD, len(raw), body) + body, len(raw))
    return Encoded(_header(KIND_JSON, CODEC_NONE, len(raw), raw) + raw, len(raw))


def _header(kind: bytes, codec: int, raw_size: int, body: bytes) -> bytes:
    return HEADER.pack(MAGIC, FORMAT, kind, codec, raw_size, zlib.crc32(body))


def decode(data: bytes):
    """Inverse of :func:`encode`; raises CorruptPayloadError on anything else."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < HEADER.size:
        raise CorruptPayloadError("payload too short")
    magic, fmt, kind, codec, raw_size, crc = HEADER.unpack_from(data)
    body = bytes(data[HEADER.size :])
    if magic != MAGIC or fmt != FORMAT:
        raise CorruptPayloadError("unknown payload format")
    if zlib.crc32(body) != crc:
        raise CorruptPayloadError("checksum mismatch")
    try:
        if kind == KIND_ARROW:
            with pa.ipc.open_stream(body) as reader:
                return reader.read_all().to_pandas()
        if kind == KIND_JSON:
            if codec == CODEC_ZSTD:
                body = pa.decompress(body, decompressed_size=raw_size, codec="zstd", asbytes=True)
            return orjson.loads(body)
    except (pa.ArrowException, orjson.JSONDecodeError, OSError) as exc:
        raise CorruptPayloadError(str(exc)) from exc
    raise CorruptPayloadError(f"unknown payload kind {kind!r}")


def estimate_size(value, encoded: Encoded | None = None) -> int:
    """Bytes an object is taken to occupy in the in-process tier."""
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=True, deep=False).sum()) + 256
    if encoded is not None:
        return encoded.raw_size * 3 + 64  # Python objects are ~3x their JSON text
    return 1024
