"""The read model's table files shared by the processes of one host (readmodel.store.SharedTables)
on a real directory: loaded once per host and data stamp, mapped read-only by every process, let
go at a new version, kept apart per database."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pandas as pd

from config.readmodel import OTHER_DATABASE_TABLES_MAX_AGE_S
from db.version import DataStamp
from readmodel.store import SharedTables


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1


def _table(counter: Counter, rows: int = 50_000) -> pd.DataFrame:
    counter()
    return pd.DataFrame({"store_id": np.arange(rows, dtype=np.int32), "revenue": np.arange(rows, dtype=np.int64) * 3,
                         "channel": pd.Categorical(["美团闪购", "饿了么"] * (rows // 2)),
                         "name": [f"商品{i}" for i in range(rows)]})  # fmt: skip


def _process(tmp_path) -> SharedTables:
    """What one worker process of the host holds."""
    return SharedTables(tmp_path / "tables", OTHER_DATABASE_TABLES_MAX_AGE_S, wait_s=30.0)


def test_tables001_one_file_per_host(tmp_path):
    """Two processes on one data directory: the table is loaded once, written as an Arrow file and
    read by both as a mapping of it (read-only views), equal to what was loaded; a new data
    version removes the old file; a damaged file is dropped and loaded again."""
    first, second = _process(tmp_path), _process(tmp_path)
    counter = Counter()
    stamp = DataStamp(1, "d" * 32)

    def table(process, at=stamp):
        return process.get("channel", at, lambda: _table(counter))

    expected = _table(Counter())
    mine, theirs = table(first), table(second)
    assert counter.calls == 1  # the second process mapped the first one's file
    assert table(first) is mine and table(second) is theirs  # each keeps its frame
    for frame in (mine, theirs):
        assert frame.equals(expected)
        assert not frame["revenue"].to_numpy().flags.writeable  # a view of the mapped file
    files = sorted(first.files.directory.glob("*.arrow"))
    assert len(files) == 1 and files[0].name.startswith("v1-")
    assert first.snapshot()["mapped_entries"] == 1 and first.snapshot()["mapped_bytes"] > 50_000 * 12

    newer = DataStamp(2, stamp.database_id)
    assert table(first, newer).equals(expected) and counter.calls == 2
    assert [p.name[:3] for p in first.files.directory.glob("*.arrow")] == ["v2-"]
    assert first.snapshot()["mapped_entries"] == 1  # the version-1 frame was let go

    path = next(first.files.directory.glob("*.arrow"))
    damaged = path.with_name(".damaged")
    damaged.write_bytes(path.read_bytes()[:100])
    damaged.replace(path)  # a short file renamed onto the name: the mapped one is never changed in place
    third = _process(tmp_path)
    assert table(third, newer).equals(expected) and counter.calls == 3
    assert table(second, newer).equals(expected) and counter.calls == 3  # the rewritten file serves the others


def test_tables002_concurrent_processes_load_once(tmp_path):
    """Eight processes' first reads at once: one loads (slowly) under the host lock, the others
    wait for its file and map it."""
    counter = Counter()
    stamp = DataStamp(1, "e" * 32)

    def slow() -> pd.DataFrame:
        time.sleep(0.5)
        return _table(counter, 1000)

    processes = [_process(tmp_path) for _ in range(8)]
    frames: list = []
    threads = [threading.Thread(target=lambda p=p: frames.append(p.get("hour", stamp, slow))) for p in processes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert counter.calls == 1 and len(frames) == 8
    assert all(f.equals(frames[0]) for f in frames)


def test_tables003_databases_sharing_a_data_dir_keep_their_tables(tmp_path):
    """Tables of two databases at the same version never mix, and a new version of one removes
    only its own older files: the other database's (in use by another instance) stay until
    nobody has read them for OTHER_DATABASE_TABLES_MAX_AGE_S."""
    a, b = DataStamp(1, "a" * 32), DataStamp(1, "b" * 32)
    counter_a, counter_b = Counter(), Counter()
    directory = tmp_path / "tables"

    def table(stamp, counter, rows):
        return _process(tmp_path).get("channel", stamp, lambda: _table(counter, rows))  # a new process

    def files(database):
        return sorted(p.name.split("-")[0] for p in directory.glob(f"v*-{database}-*.arrow"))

    assert len(table(a, counter_a, 10)) == 10
    assert len(table(b, counter_b, 20)) == 20  # same version, same name: its own value
    assert counter_b.calls == 1 and files("a" * 32) == ["v1"] and files("b" * 32) == ["v1"]
    b = DataStamp(2, b.database_id)
    assert len(table(b, counter_b, 20)) == 20 and files("b" * 32) == ["v2"]
    assert files("a" * 32) == ["v1"]  # still the current file of database a
    assert len(table(a, counter_a, 10)) == 10 and counter_a.calls == 1  # mapped, not loaded again

    legacy = directory / "v7-pieces:0123.arrow"  # named before databases were
    legacy.write_bytes(b"")
    unused = time.time() - OTHER_DATABASE_TABLES_MAX_AGE_S - 60
    for path in directory.glob("v*.arrow"):
        os.utime(path, (unused, unused))
    assert len(table(b, counter_b, 20)) == 20 and counter_b.calls == 2  # b's file read again: in use
    a = DataStamp(2, a.database_id)
    assert len(table(a, counter_a, 10)) == 10 and counter_a.calls == 2
    assert files("a" * 32) == ["v2"] and files("b" * 32) == ["v2"] and not legacy.exists()
    a = DataStamp(3, a.database_id)
    os.utime(next(directory.glob(f"v2-{'b' * 32}-*")), (unused, unused))
    table(a, counter_a, 10)  # b's file unused for longer than the limit: removed
    assert files("a" * 32) == ["v3"] and files("b" * 32) == []
