"""The four-tier cache of view-models: L1 memory → L2 disk (Flask-Caching) → L3 Redis → compute
(the service, which reads the read model or, for drill-downs, the database).

A hit in a lower tier is promoted to the tiers above it; a computed value is written to all.
Keys include the data version and the database's identity (``db.version.VersionWatch``, re-read
at most once per second and shared with the read model), so no tier serves data from before an
import or from another database (one re-created, or another one on the same data directory).
Concurrent misses of one key compute once per process (a per-key lock) and, across processes,
once per Redis lock lifetime (others wait briefly for the value, then compute themselves).
Cache trouble is logged and counted, never raised.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from cache.keys import code_fingerprint, current_scope, make_key
from cache.serialize import HEADER, CorruptPayloadError, Encoded, decode, encode, estimate_size
from cache.stats import CacheStats
from cache.tiers import CircuitBreaker, DiskTier, MemoryTier, RedisTier
from config import PROJECT_ROOT, Settings
from config.cache import (
    BREAKER_COOLDOWN_S,
    BREAKER_FAILURES,
    LOCK_POLL_S,
    LOCK_TTL_MS,
    LOCK_WAIT_S,
    REDIS_PREFIX,
    REGIONS,
    RegionTTL,
)
from db.version import DatabaseStatus, DataStamp, VersionWatch, announcement_path

log = logging.getLogger(__name__)


class CacheManager:
    def __init__(
        self,
        settings: Settings,
        versions: VersionWatch | Callable[[], tuple[int, str]],
        *,
        regions: dict[str, RegionTTL] | None = None,
        redis_prefix: str | None = None,
        breaker_cooldown: float = BREAKER_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
        code_version: str | None = None,
    ) -> None:
        self.enabled = settings.cache_enabled
        self.regions = regions or REGIONS
        self.stats = CacheStats()
        self.l1 = MemoryTier(settings.cache_l1_max_entries, settings.cache_l1_max_mb * 1024 * 1024, clock)
        self.l2 = DiskTier(Path(settings.data_dir) / "cache", settings.cache_l2_threshold)
        self.breaker = CircuitBreaker(BREAKER_FAILURES, breaker_cooldown)
        # Instances share Redis only when they share the database: the namespace is derived
        # from the database URL (password removed), so two sites on one Redis never collide.
        redis_prefix = redis_prefix or f"{REDIS_PREFIX}{database_namespace(settings.database_url)}:"
        self.l3 = RedisTier(settings.redis_url, settings.redis_socket_timeout_ms / 1000,
                            redis_prefix, self.breaker, self.stats)  # fmt: skip
        code = code_version if code_version is not None else code_fingerprint(PROJECT_ROOT)
        # the rule thresholds are read inside the cached services (settings.rules, not an
        # argument): their digest is part of every key, so two instances sharing disk or Redis
        # with other O2O_RULE_* values never serve each other's views
        self.code_version = f"{code}:{settings.rules.fingerprint()}"
        # the data version and database identity, shared with the read model (a bare reader
        # of them is watched here: a manager on its own, as in the tests and the doctor)
        if not isinstance(versions, VersionWatch):
            versions = VersionWatch(versions, cold_wait_s=settings.db_timeout_s + 1.0,
                                    announced=announcement_path(settings.data_dir))  # fmt: skip
        self.versions = versions
        versions.on_change(lambda stamp: self.l3.publish_version(stamp.version))  # a mirror for other tools
        self._flights: dict[str, threading.Lock] = {}
        self._flights_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.cache_compute_slots)
        self._holder = threading.local()
        self._watched = False

    def watch(self, engine: Engine) -> None:
        """Count a request as computed with the database only when it connects to ``engine``
        while it computes (a view assembled from the read model's tables in memory never does; a
        connection rather than a statement, so a driver-level COPY counts too). Until an engine is watched every
        computation counts as a database one."""
        event.listen(engine, "engine_connect", _mark_query)
        self._watched = True

    # -- data version ---------------------------------------------------------------------
    def data_stamp(self) -> DataStamp:
        """``VersionWatch.stamp``: (data version, database id), stale while the database is down."""
        return self.versions.stamp()

    def database_status(self) -> DatabaseStatus:
        return self.versions.status()

    # -- read path --------------------------------------------------------------------------
    def get_or_compute(self, region: str, function: str, args: tuple, kwargs: dict,
                       compute: Callable[[], object]):  # fmt: skip
        if not self.enabled:
            with self.compute_slot():
                return compute()
        ttl = self.regions[region]
        stamp = self.data_stamp()
        key = make_key(region, function, args, kwargs, stamp[0], current_scope.get(), self.code_version,
                       database=stamp[1])  # fmt: skip
        if _request.get() is not None:  # a cached function called while a request computes
            return self._get_or_compute(key, ttl, function, compute, None)
        self.stats.request(function)
        request = _Request(queried=not self._watched)
        token = _request.set(request)
        try:
            return self._get_or_compute(key, ttl, function, compute, request)
        finally:
            _request.reset(token)

    def _get_or_compute(self, key: str, ttl: RegionTTL, function: str, compute: Callable[[], object],
                        request: _Request | None):  # fmt: skip
        """The tiers, then ``compute``; ``request`` is None for a nested lookup (not counted)."""
        found, value = self._lookup(key, ttl)
        if found:
            return value
        with self._flight(key):
            found, value = self.l1.get(key)  # filled by the thread we waited for?
            if found:
                return value
            lock = self.l3.acquire_lock(key, LOCK_TTL_MS)
            if lock is False:
                found, value = self._wait_for_other_process(key, ttl)
                if found:
                    return value
            try:
                with self.compute_slot():
                    started = time.perf_counter()
                    value = compute()
                if request is not None:
                    self.stats.compute((time.perf_counter() - started) * 1000, function, request.queried)
                self._store(key, value, ttl)
            finally:
                if lock:
                    self.l3.release_lock(key)
            return value

    @contextmanager
    def compute_slot(self):
        """Hold one of the compute slots (re-entrant: a computation calling another cached
        function keeps the slot it has)."""
        if getattr(self._holder, "held", False):
            yield
            return
        with self._slots:
            self._holder.held = True
            try:
                yield
            finally:
                self._holder.held = False

    @contextmanager
    def _flight(self, key: str):
        with self._flights_lock:
            lock = self._flights.setdefault(key, threading.Lock())
        with lock:
            yield
        with self._flights_lock:
            if self._flights.get(key) is lock and not lock.locked():
                del self._flights[key]

    def _wait_for_other_process(self, key: str, ttl: RegionTTL):
        deadline = time.monotonic() + LOCK_WAIT_S
        while time.monotonic() < deadline:
            time.sleep(LOCK_POLL_S)
            data = self.l3.get(key)
            if data is not None:
                value = self._decode("l3", key, data)
                if value is not _MISS:
                    self._promote(key, value, data, ttl, to_disk=True)
                    return True, value
        return False, None

    def _lookup(self, key: str, ttl: RegionTTL):
        started = time.perf_counter()
        found, value = self.l1.get(key)
        self.stats.lookup("l1", found, _ms(started))
        if found:
            return True, value
        for tier, backend in (("l2", self.l2), ("l3", self.l3)):
            started = time.perf_counter()
            try:
                data = backend.get(key)
            except Exception:
                log.warning("cache %s read failed", tier, exc_info=True)
                self.stats.error(tier)
                data = None
            value = self._decode(tier, key, data) if data is not None else _MISS
            self.stats.lookup(tier, value is not _MISS, _ms(started))
            if value is not _MISS:
                self._promote(key, value, data, ttl, to_disk=tier == "l3")
                return True, value
        return False, None

    def _decode(self, tier: str, key: str, data: bytes):
        try:
            return decode(data)
        except CorruptPayloadError as exc:
            log.warning("cache %s: corrupt entry %s dropped (%s)", tier, key, exc)
            self.stats.error(tier)
            (self.l2 if tier == "l2" else self.l3).delete(key)
            return _MISS

    def _promote(self, key: str, value, data: bytes, ttl: RegionTTL, to_disk: bool) -> None:
        raw_size = HEADER.unpack_from(data)[4]
        self.l1.set(key, value, estimate_size(value, Encoded(data, raw_size)), ttl.l1)
        if to_disk:
            self._write_disk(key, data, raw_size, ttl)

    def _store(self, key: str, value, ttl: RegionTTL) -> None:
        try:
            encoded = encode(value)
        except (TypeError, ValueError):
            log.exception("cache: value of %s is not serialisable; kept in memory only", key)
            self.l1.set(key, value, estimate_size(value), ttl.l1)
            return
        self.l1.set(key, value, estimate_size(value, encoded), ttl.l1)
        self._write_disk(key, encoded.data, encoded.raw_size, ttl)
        if self.l3.set(key, encoded.data, ttl.l3):
            self.stats.wrote("l3", encoded.raw_size, len(encoded.data))

    def _write_disk(self, key: str, data: bytes, raw_size: int, ttl: RegionTTL) -> None:
        try:
            if self.l2.set(key, data, ttl.l2):
                self.stats.wrote("l2", raw_size, len(data))
            else:
                self.stats.error("l2")
        except Exception:
            log.warning("cache l2 write failed", exc_info=True)
            self.stats.error("l2")

    # -- introspection ------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Read-only state for the monitor panel and /metrics (no I/O)."""
        snap = self.stats.snapshot()
        snap["enabled"] = self.enabled
        snap["data_version"] = self.versions.last.version
        snap["database_available"] = self.versions.status().available
        snap["l1_entries"] = len(self.l1)
        snap["l1_bytes"] = self.l1.bytes_used
        snap["redis_breaker"] = self.breaker.state
        return snap

    def clear_local(self) -> None:
        self.l1.clear()
        self.l2.clear()


_MISS = object()


class _Request:
    """The outermost cached call of a thread; ``queried`` once it used the database."""

    __slots__ = ("queried",)

    def __init__(self, queried: bool) -> None:
        self.queried = queried


_request: ContextVar[_Request | None] = ContextVar("cache_request", default=None)


def _mark_query(*_args) -> None:
    request = _request.get()
    if request is not None:
        request.queried = True


def database_namespace(database_url: str) -> str:
    safe = make_url(database_url).render_as_string(hide_password=True)
    return hashlib.sha256(safe.encode()).hexdigest()[:12]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
