"""The disk tier (L2) keeps its directory near its threshold when several processes write to it."""

from __future__ import annotations

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
