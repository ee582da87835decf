"""Benchmark the four-tier cache: hit latency per tier, compression, and a replayed workload.

    .venv/bin/python scripts/bench_cache.py --database-url postgresql://postgres@127.0.0.1:5432/o2o_bench

1. Server-side latency of a hit in L1, L2 and L3 for a KPI payload (the six cards) and for a
   200,000-row DataFrame (L2/L3 hits include decoding and promotion to the tiers above).
   Then the cost of writing a new 20 KB value to the disk tier (every miss writes one).
2. Bytes saved by the shared-tier payloads.
3. A Zipf-like replay of filter combinations (stores × date windows × channels) through the
   real ``store_kpis`` service: hit rate, mean latency, and the same requests with the cache off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import use_python_strings
from cache import CacheManager
from cache.tiers import DiskTier
from config import Settings
from db.engine import make_engine, reading
from db.queries import data_date_bounds, stores
from db.version import read_data_stamp
from readmodel.selection import Selection
from scripts._bench import machine
from services.diagnosis import store_kpis
from services.runtime import Runtime

CHANNELS = (None, ("美团闪购",), ("饿了么",), ("京东到家",), ("抖音",), ("小程序",), ("收银机",))
WINDOWS = (7, 14, 30, 1, 90)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def tier_latency(cache: CacheManager, value, label: str, repeat: int) -> None:
    compute = lambda: value  # noqa: E731 - the "database" answer
    args = (label,)
    cache.get_or_compute("kpis", "bench.tier", args, {}, compute)
    results = {}
    for tier in ("l1", "l2", "l3"):
        times = []
        for _ in range(repeat):
            if tier in ("l2", "l3"):
                cache.l1.clear()
            if tier == "l3":
                cache.l2.clear()
            started = time.perf_counter()
            cache.get_or_compute("kpis", "bench.tier", args, {}, compute)
            times.append((time.perf_counter() - started) * 1000)
        results[tier] = times
    line = ", ".join(
        f"{t.upper()} p50 {percentile(v, 50):.3f} ms / p95 {percentile(v, 95):.3f} ms"
        for t, v in results.items()
    )
    print(f"hit latency, {label}: {line}")


def disk_write_latency(directory: Path, repeat: int, size: int = 20_000) -> None:
    tier = DiskTier(directory, threshold=Settings().cache_l2_threshold)
    payload = np.random.default_rng(5).bytes(size)
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        tier.set(f"bench-write-{i}", payload, 3600)
        times.append((time.perf_counter() - started) * 1000)
    print(f"L2 write of a new {size // 1000} KB value: p50 {percentile(times, 50):.3f} ms / "
          f"p95 {percentile(times, 95):.3f} ms (n = {repeat})")  # fmt: skip


def replay(runtime: Runtime, requests: list[Selection]) -> list[float]:
    times = []
    for filters in requests:
        started = time.perf_counter()
        store_kpis(runtime, filters)
        times.append((time.perf_counter() - started) * 1000)
    return times


def workload(store_ids: list[int], last: dt.date, n: int, seed: int) -> list[Selection]:
    """Zipf-like: a few views (all stores, last week) dominate, a long tail of single stores."""
    rng = np.random.default_rng(seed)
    combos = [(s, w, c) for s in [None, *store_ids] for w in WINDOWS for c in CHANNELS]
    weights = 1.0 / np.arange(1, len(combos) + 1) ** 1.1
    order = rng.permutation(len(combos))
    picks = rng.choice(len(combos), size=n, p=weights / weights.sum())
    out = []
    for index in picks:
        store, window, channels = combos[order[index]]
        out.append(Selection.build(last - dt.timedelta(days=window - 1), last,
                                     None if store is None else [store], channels))  # fmt: skip
    return out


def main() -> int:
    use_python_strings()  # the app's pandas text storage (analytics)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--uncached-requests", type=int, default=200)
    args = parser.parse_args()
    print(f"# bench_cache {dt.datetime.now():%Y-%m-%d %H:%M} — {machine()}")

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({}, database_url=args.database_url, redis_url=args.redis_url,
                                     data_dir=Path(tmp))  # fmt: skip
        engine = make_engine(settings.database_url)

        def version() -> tuple[int, str]:
            with engine.connect() as conn:
                return read_data_stamp(conn)

        cache = CacheManager(settings, version, redis_prefix=f"o2o-bench-{time.time_ns()}:")
        runtime = Runtime(settings, engine, cache)
        with reading(engine) as conn:
            first, last = data_date_bounds(conn)
            store_ids = [int(i) for i in stores(conn)["id"]]
        kpi_payload = store_kpis.uncached(runtime, Selection.build(last - dt.timedelta(days=6), last))
        rng = np.random.default_rng(3)
        n = 200_000
        days = pd.Timestamp("2026-08-30") + pd.to_timedelta(rng.integers(0, 90, n), "D")
        names = ["美团闪购", "饿了么", "京东到家", "抖音", "小程序", "收银机"]
        frame = pd.DataFrame({
            "store_id": rng.integers(1, 101, n), "day": days,
            "channel": pd.Categorical(rng.choice(names, n)),
            "product_id": rng.integers(1, 800, n), "quantity": rng.integers(1, 5, n).astype(float),
            "revenue": np.round(rng.random(n) * 80, 2), "profit": np.round(rng.random(n) * 20 - 2, 2),
        })  # fmt: skip
        tier_latency(cache, kpi_payload, "KPI payload (6 cards)", args.repeat)
        tier_latency(cache, frame, "DataFrame 200,000 rows", max(20, args.repeat // 10))
        disk_write_latency(Path(tmp) / "write-bench", max(1000, args.repeat * 5))
        df_snap = cache.stats.snapshot()["tiers"]["l2"]
        print(
            f"shared-tier bytes saved (all writes so far, mostly the DataFrame): "
            f"{df_snap['bytes_saved_ratio'] * 100:.1f}% "
            f"({df_snap['bytes_raw']:,} → {df_snap['bytes_stored']:,} bytes)"
        )

        cache = CacheManager(settings, version, redis_prefix=f"o2o-bench-{time.time_ns()}:")
        runtime = Runtime(settings, engine, cache)
        requests = workload(store_ids, last, args.requests, seed=11)
        distinct = len({r for r in requests})
        cached_times = replay(runtime, requests)
        snap = cache.snapshot()
        repeats = len(requests) - distinct
        hits = len(requests) - snap["computed"]
        print(f"compulsory misses (first sight of a view): {distinct}; hits among repeats: "
              f"{hits}/{repeats} = {hits / repeats * 100:.1f}%")  # fmt: skip
        print(
            f"replay {len(requests)} requests ({distinct} distinct views, data {first}…{last}): "
            f"hit rate {snap['hit_rate'] * 100:.1f}%, mean {statistics.mean(cached_times):.2f} ms, "
            f"p50 {percentile(cached_times, 50):.3f} ms, p95 {percentile(cached_times, 95):.2f} ms"
        )
        plain = Runtime(settings, engine, None)
        sample = requests[: args.uncached_requests]
        plain_times = replay(plain, sample)
        cached_sample = cached_times[: args.uncached_requests]
        speedup = statistics.mean(plain_times) / statistics.mean(cached_times)
        print(
            f"same first {len(sample)} requests, cache off: mean {statistics.mean(plain_times):.1f} ms, "
            f"p95 {percentile(plain_times, 95):.1f} ms; cache on (cold start included): mean "
            f"{statistics.mean(cached_sample):.1f} ms; whole replay: cache off / on = {speedup:.1f}x"
        )
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
