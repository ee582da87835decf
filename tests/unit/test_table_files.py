"""The read model's table files (readmodel.store.ArrowFileStore) on a real directory: a file is checked
before it is mapped, and a file that fails is dropped with one warning line and computed again."""

from __future__ import annotations

import logging
import os
import stat

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from readmodel.store import ArrowFileStore

DATABASE = "d" * 32


def _frame(rows: int, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"store_id": np.arange(rows, dtype=np.int32) + offset,
                         "revenue": np.arange(rows, dtype=np.float64) * 1.5,
                         "name": [f"门店{i + offset}" for i in range(rows)]})  # fmt: skip


def _replace(path, data: bytes) -> None:
    """What an operator or a second writer could do without touching the mapped inode: a new
    file renamed onto the name."""
    new = path.with_name(".incoming")
    new.write_bytes(data)
    new.replace(path)


def _plain_arrow(frame: pd.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(frame)
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def test_mapped001_damaged_files_are_dropped_before_mapping(tmp_path, caplog):
    tier = ArrowFileStore(tmp_path, other_max_age=3600)
    good = _frame(1000)
    for key, offset in (("a", 0), ("b", 5000)):
        tier.save(key, 1, DATABASE, _frame(1000, offset))
    path, other = tier.path_for("a", 1, DATABASE), tier.path_for("b", 1, DATABASE)
    original = path.read_bytes()
    assert tier.load("a", 1, DATABASE).equals(good)
    damages = {
        "another table's file renamed onto the name": other.read_bytes(),
        "one byte of the values changed": _flipped(original, 2000),
        "the file cut short": original[: len(original) // 2],
        "garbage": os.urandom(len(original)),
        "an Arrow file without the trailer (an earlier release)": _plain_arrow(_frame(1000, 7)),
        "empty": b"",
    }
    for what, data in damages.items():
        _replace(path, data)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="readmodel.store"):
            assert tier.load("a", 1, DATABASE) is None, what
        assert not path.exists(), what  # removed: the next reader computes it again
        records = [r for r in caplog.records if r.name == "readmodel.store"]
        assert len(records) == 1 and records[0].exc_info is None, (what, caplog.text)
        assert path.name in records[0].getMessage()
        tier.save("a", 1, DATABASE, good)
        assert tier.load("a", 1, DATABASE).equals(good), what
    assert tier.load("b", 1, DATABASE).equals(_frame(1000, 5000))  # untouched by all of this


def test_mapped002_a_mapped_frame_survives_its_name_being_replaced(tmp_path):
    """A process keeps reading the inode it mapped when a new file (even garbage) is renamed onto
    its name or the file is removed; the files the app writes are read-only and never reopened."""
    tier = ArrowFileStore(tmp_path, other_max_age=3600)
    frame = tier.save("a", 1, DATABASE, _frame(20_000))
    loaded = tier.load("a", 1, DATABASE)
    path = tier.path_for("a", 1, DATABASE)
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0  # `> file` as the app's user is refused
    _replace(path, os.urandom(path.stat().st_size))
    path.unlink()
    for mapped in (frame, loaded):
        assert not mapped["revenue"].to_numpy().flags.writeable  # views of the mapping, not copies
        assert mapped["revenue"].sum() == pytest.approx(1.5 * 20_000 * 19_999 / 2)
        assert mapped["name"].iloc[-1] == "门店19999"
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left beside
