"""The disk tier (L2) keeps its directory near its threshold when several processes write to it."""

from __future__ import annotations

import logging
import os

from cache.tiers import DiskTier


def _files(directory) -> int:
    return len(os.listdir(directory))


def test_disktier001_prunes_at_the_threshold_and_keeps_the_newest(tmp_path):
    tier = DiskTier(tmp_path, threshold=50)
    for i in range(120):
        tier.set(f"k{i}", f"value {i}".encode(), 3600)
        # cachelib prunes before a write, so the write that follows a prune makes threshold + 1
        assert _files(tmp_path) <= 51, i
    assert tier.get("k119") == b"value 119"
    assert _files(tmp_path) == 51  # every file is a value: no counter file beside them


def test_disktier002_two_writers_on_one_directory_are_pruned_together(tmp_path):
    """Like two workers: each counts only what it added itself, and a prune counts the
    directory first, so the other writer's files are pruned too."""
    first, second = DiskTier(tmp_path, threshold=50), DiskTier(tmp_path, threshold=50)
    for i in range(30):
        first.set(f"a{i}", b"a", 3600)
        second.set(f"b{i}", b"b", 3600)
    assert _files(tmp_path) == 60  # neither has passed the threshold on its own count
    for i in range(30, 52):
        first.set(f"a{i}", b"a", 3600)
    assert _files(tmp_path) <= 51
    a_kept = sum(first.get(f"a{i}") is not None for i in range(52))
    b_kept = sum(second.get(f"b{i}") is not None for i in range(30))
    assert a_kept + b_kept == _files(tmp_path) and first.get("a51") == b"a"


def test_disktier003_a_restarted_process_counts_what_is_there(tmp_path):
    DiskTier(tmp_path, threshold=50).set("old", b"x", 3600)
    for i in range(40):
        DiskTier(tmp_path, threshold=50).set(f"o{i}", b"x", 3600)
    again = DiskTier(tmp_path, threshold=50)  # 41 files exist before its first write
    for i in range(20):
        again.set(f"n{i}", b"y", 3600)
    assert _files(tmp_path) <= 51


def _corrupt(tier: DiskTier, keys: list[str]) -> list:
    """Files of ``keys`` damaged the ways the tier can see: cut inside the expiry, empty (a bad
    value after a valid expiry is the manager's to find: test_cache007)."""
    paths = [tier.path_for(k) for k in keys]
    damage = (b"\x00\x00", b"")
    for path, data in zip(paths, damage * len(paths), strict=False):
        path.write_bytes(data)
    return paths


def _warnings(caplog) -> list:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_disktier004_a_corrupt_file_is_one_line_and_removed(tmp_path, caplog):
    """Read: each corrupt file gives one warning without a traceback and is removed; the
    others still answer."""
    tier = DiskTier(tmp_path, threshold=50)
    for i in range(6):
        tier.set(f"k{i}", f"value {i}".encode(), 3600)
    paths = _corrupt(tier, ["k0", "k1", "k2"])
    with caplog.at_level(logging.WARNING):
        assert [tier.get(f"k{i}") for i in range(6)] == [None, None, None, b"value 3", b"value 4", b"value 5"]
    records = _warnings(caplog)
    assert len(records) == 3 and all(r.exc_info is None for r in records), caplog.text
    assert not any(p.exists() for p in paths)
    tier.set("k0", b"again", 3600)
    assert tier.get("k0") == b"again"


def test_disktier006_files_are_where_path_for_says(tmp_path):
    """Flask-Caching names the file, the tier finds it (for its corrupt-file check and prune)."""
    tier = DiskTier(tmp_path, threshold=50)
    tier.set("k", b"v", 3600)
    assert [p.name for p in tmp_path.iterdir()] == [tier.path_for("k").name]
    assert tier.path_for("k").read_bytes()[4:] == b"v"


def test_disktier005_a_prune_drops_corrupt_files_quietly(tmp_path, caplog):
    """Prune (past the threshold): corrupt files are removed with one line each, no traceback."""
    tier = DiskTier(tmp_path, threshold=10)
    for i in range(10):
        tier.set(f"k{i}", b"x", 3600)
    paths = _corrupt(tier, ["k3", "k4"])
    with caplog.at_level(logging.WARNING):
        for i in range(10, 14):
            tier.set(f"k{i}", b"y", 3600)
    records = _warnings(caplog)
    assert len(records) == 2 and all(r.exc_info is None for r in records), caplog.text
    assert not any(p.exists() for p in paths)
    assert _files(tmp_path) <= 11 and tier.get("k13") == b"y"


def test_disktier007_a_prune_removes_the_oldest_written_first(tmp_path):
    """Values of one TTL written within one second share their expiry: the prune removes them
    in the order they were written (cachelib's removed them in directory order)."""
    import time

    tier = DiskTier(tmp_path, threshold=10)
    for i in range(30):
        tier.set(f"k{i:02d}", b"x", 3600)
        time.sleep(0.015)  # past the file system's timestamp granularity
    kept = sorted(f"k{i:02d}" for i in range(30) if tier.get(f"k{i:02d}") is not None)
    assert kept == [f"k{i:02d}" for i in range(19, 30)]
