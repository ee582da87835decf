"""The four-tier cache against a private redis-server (a real one we may kill) and real disk."""

from __future__ import annotations

import threading
import time

import pytest

from cache import CacheManager, current_scope
from cache.tiers import CircuitBreaker
from config import Settings
from config.cache import RegionTTL
from config.readmodel import VERSION_CHECK_S

FAST = {"kpis": RegionTTL(l1=300, l2=300, l3=300)}


class Counter:
    """A service stand-in whose answers reveal how often it ran."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, tag: str = "x"):
        with self._lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)
        return {"tag": tag, "call": n, "rows": [1.5, None, "门店"]}


class Version:
    def __init__(self) -> None:
        self.value = 1

    def __call__(self) -> tuple[int, str]:
        return self.value, ""


def manager(tmp_path, redis_url: str, name: str = "a", version=None, settings: dict | None = None,
            **kwargs) -> CacheManager:  # fmt: skip
    settings = Settings.from_env({}, data_dir=tmp_path / name, redis_url=redis_url,
                                 database_url="sqlite:////shared/o2o.sqlite3", **(settings or {}))  # fmt: skip
    return CacheManager(settings, version or Version(), regions=kwargs.pop("regions", FAST), **kwargs)


def get(cache: CacheManager, counter: Counter, tag: str = "x"):
    return cache.get_or_compute("kpis", "tests.counter", (tag,), {}, lambda: counter(tag))


def test_cache001_promotion_between_tiers(tmp_path, private_redis):
    cache, counter = manager(tmp_path, private_redis.url), Counter()
    first = get(cache, counter)
    assert counter.calls == 1 and get(cache, counter) is first  # L1 returns the object itself
    cache.l1.clear()
    assert get(cache, counter) == first and counter.calls == 1  # from disk
    assert cache.stats.snapshot()["tiers"]["l2"]["hits"] == 1
    assert get(cache, counter) == first and cache.stats.snapshot()["tiers"]["l1"]["hits"] == 2
    cache.clear_local()  # memory and disk gone: Redis answers and refills both
    assert get(cache, counter) == first and counter.calls == 1
    snap = cache.stats.snapshot()
    assert snap["tiers"]["l3"]["hits"] == 1
    assert len(list(cache.l2.directory.iterdir())) >= 1
    assert snap["requests"] == 5 and snap["computed"] == 1 and snap["hit_rate"] == pytest.approx(0.8)


def test_cache002_ttl_per_tier(tmp_path, private_redis):
    now = [1000.0]
    regions = {"kpis": RegionTTL(l1=5, l2=1, l3=1)}
    cache, counter = manager(tmp_path, private_redis.url, regions=regions, clock=lambda: now[0]), Counter()
    get(cache, counter)
    now[0] += 4
    get(cache, counter)
    assert cache.stats.snapshot()["tiers"]["l1"]["hits"] == 1  # still inside L1's 5 s
    now[0] += 2  # L1 expired; L2 and L3 hold it for 1 s of real time only
    time.sleep(2.2)
    get(cache, counter)
    assert counter.calls == 2
    tiers = cache.stats.snapshot()["tiers"]
    assert tiers["l2"]["hits"] == 0 and tiers["l3"]["hits"] == 0


def test_cache003_version_bump_invalidates_across_instances(tmp_path, private_redis):
    version = Version()
    a = manager(tmp_path, private_redis.url, "a", version)
    b = manager(tmp_path, private_redis.url, "b", version)  # another process: own memory and disk
    counter = Counter()
    v1 = get(a, counter)
    assert get(b, counter) == v1 and counter.calls == 1  # shared through Redis
    version.value = 2  # an import committed
    time.sleep(VERSION_CHECK_S + 0.1)
    v2_b = get(b, counter)
    v2_a = get(a, counter)
    assert counter.calls == 2 and v2_a == v2_b and v2_a["call"] == 2
    assert a.snapshot()["data_version"] == 2


def test_cache004_hundred_threads_one_cold_key_compute_once(tmp_path, private_redis):
    cache, counter = manager(tmp_path, private_redis.url), Counter(delay=0.3)
    barrier = threading.Barrier(100)
    results, errors = [], []

    def worker():
        barrier.wait()
        try:
            results.append(get(cache, counter)["call"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and len(results) == 100
    assert counter.calls == 1 and set(results) == {1}


def test_cache005_two_processes_share_one_computation(tmp_path, private_redis):
    """Across instances the Redis lock lets one compute while the other waits for its value."""
    a = manager(tmp_path, private_redis.url, "a")
    b = manager(tmp_path, private_redis.url, "b")
    counter = Counter(delay=0.5)
    out = {}
    threads = [threading.Thread(target=lambda c=c, n=n: out.setdefault(n, get(c, counter))) for n, c in
               (("a", a), ("b", b))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert counter.calls == 1 and out["a"] == out["b"]


def test_cache006_redis_killed_mid_run_then_back(tmp_path, private_redis):
    cache = manager(tmp_path, private_redis.url, breaker_cooldown=0.5)
    counter = Counter()
    failures = []
    for i in range(20):
        try:
            get(cache, counter, f"before-{i}")
        except Exception as exc:  # pragma: no cover
            failures.append(exc)
    assert cache.stats.snapshot()["tiers"]["l3"]["writes"] == 20
    private_redis.stop()
    started = time.perf_counter()
    for i in range(50):
        try:
            assert get(cache, counter, f"down-{i}")["tag"] == f"down-{i}"
        except Exception as exc:  # pragma: no cover
            failures.append(exc)
    elapsed = time.perf_counter() - started
    assert failures == []
    assert cache.breaker.state in ("open", "half-open")
    assert cache.stats.snapshot()["tiers"]["l3"]["errors"] >= 3
    assert elapsed < 10  # the breaker keeps a dead Redis from costing a timeout per request
    private_redis.start()
    time.sleep(0.6)  # past the cooldown: one probe closes the breaker again
    writes_before = cache.stats.snapshot()["tiers"]["l3"]["writes"]
    for i in range(5):
        get(cache, counter, f"after-{i}")
    assert cache.breaker.state == "closed"
    assert cache.stats.snapshot()["tiers"]["l3"]["writes"] > writes_before
    import redis

    assert redis.Redis.from_url(private_redis.url).dbsize() >= 1


def test_cache007_corrupt_entries_are_misses(tmp_path, private_redis):
    cache, counter = manager(tmp_path, private_redis.url), Counter()
    get(cache, counter)
    key = next(iter(cache.l1._cache.keys()))
    cache.l1.clear()
    cache.l2.path_for(key).write_bytes(b"\x00\x00\x00\x00not a payload")  # valid expiry, bad body
    import redis

    redis.Redis.from_url(private_redis.url).set(cache.l3.prefix + key, b"O2C\x01garbage")
    value = get(cache, counter)
    assert value["call"] == 2  # recomputed, no exception
    tiers = cache.stats.snapshot()["tiers"]
    assert tiers["l2"]["errors"] == 1 and tiers["l3"]["errors"] == 1
    cache.l1.clear()
    assert get(cache, counter) == value and counter.calls == 2  # the rewritten entries are good


def test_cache008_scope_is_part_of_the_key(tmp_path, private_redis):
    cache, counter = manager(tmp_path, private_redis.url), Counter()
    get(cache, counter)
    token = current_scope.set((3, 1))
    try:
        get(cache, counter)
    finally:
        current_scope.reset(token)
    assert counter.calls == 2


def test_cache009_disabled_computes_every_time(tmp_path, private_redis):
    settings = Settings.from_env({}, data_dir=tmp_path, redis_url=private_redis.url, cache_enabled=False)
    cache, counter = CacheManager(settings, Version()), Counter()
    get(cache, counter)
    get(cache, counter)
    assert counter.calls == 2 and cache.stats.snapshot()["requests"] == 0


def test_cache010_circuit_breaker_states():
    breaker = CircuitBreaker(failures=2, cooldown=0.2)
    breaker.failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    time.sleep(0.25)
    assert breaker.allow() and not breaker.allow()  # exactly one probe per cooldown
    breaker.success()
    assert breaker.state == "closed"


def test_cache011_unreachable_redis_from_the_start(tmp_path):
    cache = manager(tmp_path, "redis://127.0.0.1:1/0")
    counter = Counter()
    assert get(cache, counter) == get(cache, counter) and counter.calls == 1  # L1/L2 still serve


def test_cache012_other_code_version_is_never_served(tmp_path, private_redis):
    """After a deploy changes the code, values the old code left on disk and in Redis are not used."""
    old = manager(tmp_path, private_redis.url, "a", code_version="old")
    new = manager(tmp_path, private_redis.url, "a", code_version="new")  # same disk and Redis
    counter = Counter()
    assert get(old, counter)["call"] == 1
    assert get(new, counter)["call"] == 2
    assert len(new.code_version) and manager(tmp_path, private_redis.url, "b").code_version  # fingerprint


@pytest.mark.parametrize("enabled", [True, False])
def test_cache013_compute_slots_bound_misses_but_not_hits(tmp_path, private_redis, enabled):
    """With 2 slots, 6 concurrent misses of different keys never compute more than 2 at once,
    and while both slots are taken a cached key is still answered (and a disabled cache obeys
    the same bound)."""
    cache = manager(tmp_path, private_redis.url, name=f"slots-{enabled}",
                    settings={"cache_compute_slots": 2, "cache_enabled": enabled})  # fmt: skip
    if enabled:
        assert get(cache, Counter(), "cached")["tag"] == "cached"
    release, lock = threading.Event(), threading.Lock()
    running, peak = [0], [0]

    def slow(tag: str):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(timeout=20)
        with lock:
            running[0] -= 1
        return tag

    threads = [threading.Thread(target=cache.get_or_compute, args=("kpis", "tests.slow", (f"k{i}",), {},
                                                                    lambda i=i: slow(f"k{i}")))
               for i in range(6)]  # fmt: skip
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while running[0] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    if enabled:  # both slots busy: a hit must not wait for them
        answer: list = []
        hit = threading.Thread(target=lambda: answer.append(get(cache, Counter(), "cached")))
        hit.start()
        hit.join(timeout=5)
        assert answer and answer[0]["call"] == 1
    assert running[0] == 2
    release.set()
    for t in threads:
        t.join(timeout=20)
    assert peak[0] == 2


def test_cache014_nested_computation_keeps_its_slot(tmp_path, private_redis):
    cache = manager(tmp_path, private_redis.url, settings={"cache_compute_slots": 1})
    inner = Counter()

    def outer():
        return {"inner": get(cache, inner, "inner")["tag"]}

    done: list = []
    t = threading.Thread(target=lambda: done.append(cache.get_or_compute("kpis", "tests.outer", (), {}, outer)))
    t.start()
    t.join(timeout=10)
    assert done == [{"inner": "inner"}] and inner.calls == 1


class Stamp:
    """A database's (data version, identity) as the runtime reads it."""

    def __init__(self, version: int, database: str) -> None:
        self.version, self.database = version, database

    def __call__(self) -> tuple[int, str]:
        return self.version, self.database


def test_cache017_database_identity_is_in_every_tier_key(tmp_path, private_redis):
    """A database re-created under the same URL (same Redis namespace) at the same data version:
    neither Redis (another host, own memory and disk) nor this process's memory and disk serve
    the old database's value, and a running manager sees the new identity at its next check."""
    old, new = Stamp(1, "0" * 32), Stamp(1, "1" * 32)
    counter = Counter()
    assert get(manager(tmp_path, private_redis.url, "a", old), counter)["call"] == 1
    assert get(manager(tmp_path, private_redis.url, "b", new), counter)["call"] == 2  # not from Redis
    running = manager(tmp_path, private_redis.url, "a", old)
    assert get(running, counter)["call"] == 1  # the old database still answers from L2
    old.database = new.database  # re-created under the running manager
    time.sleep(VERSION_CHECK_S + 0.1)
    assert get(running, counter)["call"] == 2  # the new database's value, from Redis


def test_cache018_an_expired_lock_taken_by_another_process_is_not_released(tmp_path, private_redis):
    """Process a's single-flight lock outlives its TTL, b takes the key's lock, then a finishes:
    a's release leaves b's lock alone (a token per holder), so a third process still waits."""
    a, b, c = (manager(tmp_path, private_redis.url, name) for name in "abc")
    assert a.l3.acquire_lock("slow", 100) is True
    time.sleep(0.25)  # a still computes; its lock expired in Redis
    assert b.l3.acquire_lock("slow", 10_000) is True
    a.l3.release_lock("slow")  # a's value stored: its release must not delete b's lock
    assert c.l3.acquire_lock("slow", 10_000) is False  # b still holds it
    b.l3.release_lock("slow")
    assert c.l3.acquire_lock("slow", 10_000) is True
    c.l3.release_lock("slow")
    assert a.breaker.state == "closed" and a.stats.snapshot()["tiers"]["l3"]["errors"] == 0


def test_cache019_lock_calls_go_through_the_breaker(tmp_path, private_redis):
    """Redis gone between a lock's acquisition and its release: the release fails quietly
    (counted, the breaker opens), later locks answer None at once, and nothing raises."""
    cache = manager(tmp_path, private_redis.url, breaker_cooldown=30)
    assert cache.l3.acquire_lock("k", 10_000) is True
    private_redis.stop()
    cache.l3.release_lock("k")
    started = time.perf_counter()
    assert [cache.l3.acquire_lock(f"k{i}", 10_000) for i in range(5)] == [None] * 5
    assert time.perf_counter() - started < 2 and cache.breaker.state == "open"
    assert cache.stats.snapshot()["tiers"]["l3"]["errors"] >= 3
