"""The four-tier read path: L1 memory → L2 disk (Flask-Caching) → L3 Redis → compute (database).

Regions marked ``mapped`` (the pieces) take a path of their own: the process's current frames →
the host's memory-mapped Arrow file → compute, so all workers of a host share one copy.

A hit in a lower tier is promoted to the tiers above it; a computed value is written to all.
Keys include the data version and the database's identity, re-read together from the database
at most once per second, so no tier serves data from before an import or from another database
(one re-created, or another one on the same data directory). Concurrent misses of one key
compute once per process (a per-key lock) and, across processes, once per Redis lock lifetime
(others wait briefly for the value, then compute themselves). Cache trouble is logged and
counted, never raised.
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
from typing import NamedTuple

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from cache.keys import code_fingerprint, current_scope, make_key
from cache.serialize import HEADER, CorruptPayloadError, Encoded, decode, encode, estimate_size
from cache.stats import CacheStats
from cache.tiers import CircuitBreaker, DiskTier, MappedFileTier, MemoryTier, RedisTier
from config import PROJECT_ROOT, Settings
from config.cache import (
    BREAKER_COOLDOWN_S,
    BREAKER_FAILURES,
    LOCK_POLL_S,
    LOCK_TTL_MS,
    LOCK_WAIT_S,
    OTHER_DATABASE_PIECES_MAX_AGE_S,
    REDIS_PREFIX,
    REGIONS,
    VERSION_CHECK_S,
    VERSION_WAIT_S,
    RegionTTL,
)
from db.errors import DataLayerError

log = logging.getLogger(__name__)


class CacheManager:
    def __init__(
        self,
        settings: Settings,
        version_reader: Callable[[], tuple[int, str]],
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
        self.mapped = MappedFileTier(Path(settings.data_dir) / "pieces", OTHER_DATABASE_PIECES_MAX_AGE_S)
        self._frames: dict[str, tuple[tuple[int, str], object]] = {}  # mapped: key → (stamp, frame)
        self._frames_lock = threading.Lock()
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
        # (version, database id) in one query: db.version.read_data_stamp
        self._version_reader = version_reader
        self._stamp: tuple[int, str] = (0, "")
        self._known = False  # a check has answered since start
        self._version_checked: float | None = None
        self._version_lock = threading.Lock()
        self._check: threading.Event | None = None  # set when the check in flight ends
        self._cold_wait_s = settings.db_timeout_s + 1.0  # the reader fails within its own bound
        self._unavailable_since: float | None = None  # wall clock: first failed check of a run
        self._confirmed_at: float | None = None  # wall clock: last answered check
        self._flights: dict[str, threading.Lock] = {}
        self._flights_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.cache_compute_slots)
        self._holder = threading.local()
        self._watched = False

    def watch(self, engine: Engine) -> None:
        """Count a request as computed with the database only when it connects to ``engine``
        while it computes (a view assembled from cached pieces never does; a connection rather
        than a statement, so a driver-level COPY counts too). Until an engine is watched every
        computation counts as a database one."""
        event.listen(engine, "engine_connect", _mark_query)
        self._watched = True

    # -- data version ---------------------------------------------------------------------
    def data_version(self) -> int:
        """The data version, re-read at most every VERSION_CHECK_S seconds."""
        return self.data_stamp()[0]

    def data_stamp(self) -> tuple[int, str]:
        """(data version, database id), re-read together at most every VERSION_CHECK_S
        seconds: a database swapped or re-created under a running app is seen like an import.

        No request waits for the database here: one thread checks (in the background) while
        the others use the last known stamp; the thread that started the check waits for it
        VERSION_WAIT_S at most, and not at all while the database is known not to answer.
        So cached views keep being served from the last known version while the database
        does not answer (``database_status`` says since when). Before any stamp is known a
        request waits for the check up to the database's bound, then raises DataLayerError."""
        now = time.monotonic()
        with self._version_lock:
            fresh = self._version_checked is not None and now - self._version_checked < VERSION_CHECK_S
            if fresh and self._known:
                return self._stamp
            check, started = self._check, self._check is None
            if started:
                check = self._check = threading.Event()
                self._version_checked = now
                threading.Thread(target=self._check_version, args=(check,), name="data-version-check",
                                 daemon=True).start()  # fmt: skip
            known, answering = self._known, self._unavailable_since is None
        if not known:
            if not check.wait(self._cold_wait_s) or not self._known:
                raise DataLayerError("database unavailable: the data version could not be read")
        elif started and answering:
            check.wait(VERSION_WAIT_S)
        return self._stamp

    def _check_version(self, done: threading.Event) -> None:
        try:
            version, database = self._version_reader()
            stamp = (int(version), str(database))
        except Exception:  # the database is down: the last known version stays in use
            with self._version_lock:
                first = self._unavailable_since is None
                if first:
                    self._unavailable_since = time.time()
                self._version_checked = time.monotonic()  # next check one interval after this one
                self._check = None
            if first:
                log.warning("cache: could not read the data version; serving the last known one", exc_info=True)
            done.set()
            return
        with self._version_lock:
            changed = stamp != self._stamp
            recovered = self._unavailable_since is not None
            self._stamp, self._known = stamp, True
            self._confirmed_at, self._unavailable_since = time.time(), None
            self._check = None
        done.set()
        if recovered:
            log.warning("cache: the database answers again (data version %s)", stamp[0])
        if changed:
            self.l3.publish_version(stamp[0])  # mirror for other tools; each process reads the DB

    def database_status(self) -> DatabaseStatus:
        """Whether the last version check answered, and the wall-clock times that say since
        when it does not and up to when the cached data was confirmed current (no I/O)."""
        with self._version_lock:
            return DatabaseStatus(self._unavailable_since is None, self._unavailable_since, self._confirmed_at)

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
        read = (lambda r: self._get_or_map(key, stamp, function, compute, r)) if ttl.mapped else (
            lambda r: self._get_or_compute(key, ttl, function, compute, r))  # fmt: skip
        if _request.get() is not None:  # a piece looked up while a request computes
            return read(None)
        self.stats.request(function)
        request = _Request(queried=not self._watched)
        token = _request.set(request)
        try:
            return read(request)
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

    def _get_or_map(self, key: str, stamp: tuple[int, str], function: str, compute: Callable[[], object],
                    request: _Request | None):  # fmt: skip
        """A mapped-region value: this process's frame, else the host's file, else computed
        (once per host while the Redis lock holds; the others wait for the file)."""
        found = self._frames.get(key)
        if found is not None:
            return found[1]
        with self._flight(key):
            found = self._frames.get(key)
            if found is not None:
                return found[1]
            started = time.perf_counter()
            value = self.mapped.load(key, *stamp)
            self.stats.lookup("l2", value is not None, _ms(started))
            if value is None:
                lock = self.l3.acquire_lock(key, LOCK_TTL_MS)
                if lock is False:
                    value = self._wait_for_file(key, stamp)
                try:
                    if value is None:
                        with self.compute_slot():
                            started = time.perf_counter()
                            value = compute()
                        if request is not None:
                            self.stats.compute((time.perf_counter() - started) * 1000, function, request.queried)
                        value = self._map(key, stamp, value)
                finally:
                    if lock:
                        self.l3.release_lock(key)
            with self._frames_lock:  # frames of older versions or another database are let go
                version, database = stamp
                self._frames = {k: v for k, v in self._frames.items() if v[0][1] == database and v[0][0] >= version}
                self._frames[key] = (stamp, value)
            return value

    def _map(self, key: str, stamp: tuple[int, str], value):
        """The computed value as mapped from its new file (kept as it is when it cannot be written)."""
        try:
            return self.mapped.save(key, *stamp, value)
        except Exception:
            log.warning("mapped cache: %s kept in this process only", key, exc_info=True)
            self.stats.error("l2")
            return value

    def _wait_for_file(self, key: str, stamp: tuple[int, str]):
        deadline = time.monotonic() + LOCK_WAIT_S
        while time.monotonic() < deadline:
            time.sleep(LOCK_POLL_S)
            value = self.mapped.load(key, *stamp)
            if value is not None:
                return value
        return None

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
        snap["data_version"] = self._stamp[0]
        snap["database_available"] = self._unavailable_since is None
        snap["l1_entries"] = len(self.l1)
        snap["l1_bytes"] = self.l1.bytes_used
        with self._frames_lock:
            frames = list(self._frames.values())
        snap["mapped_entries"] = len(frames)
        snap["mapped_bytes"] = sum(_frame_bytes(frame) for _, frame in frames)
        snap["redis_breaker"] = self.breaker.state
        return snap

    def clear_local(self) -> None:
        self.l1.clear()
        self.l2.clear()
        with self._frames_lock:
            self._frames = {}
        self.mapped.clear()


_MISS = object()


class DatabaseStatus(NamedTuple):
    available: bool  # the last version check answered (or none has failed yet)
    unavailable_since: float | None  # time.time() of the first failed check, while failing
    confirmed_at: float | None  # time.time() of the last answered check: cached data is from then


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


def _frame_bytes(frame) -> int:
    try:
        return int(frame.memory_usage(index=False, deep=False).sum())
    except AttributeError:  # not a frame
        return 0


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
