"""One frozen settings object read from the environment.

Precedence: explicit argument (``Settings.from_env(overrides)`` / ``dataclasses.replace``)
> environment variable > default. Every variable is documented in ``.env.example``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from config.errors import SettingsError
from config.rules import RuleSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_FEE_CHANNELS = ("美团闪购", "饿了么", "京东到家", "抖音")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


MAX_DEFAULT_WORKERS = 4
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def default_workers() -> int:
    """One serving process per core, at most MAX_DEFAULT_WORKERS (each costs ~250 MB)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


@dataclass(frozen=True)
class Settings:
    """Application settings; build with :meth:`from_env`."""

    data_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "0.0.0.0"
    port: int = 8051
    # serving processes sharing one listening socket: one interpreter runs one thread at a time,
    # so a busy server needs one process per core (each holds its own L1 and samplers)
    workers: int = field(default_factory=default_workers)
    waitress_threads: int = 8
    # a browser keeps up to 6 connections open: 200 operators need ~1,200 (the default 100 served ~16)
    waitress_connection_limit: int = 2000
    # an idle connection is closed after this (Waitress's default 120 s let one client's idle
    # sockets fill the limit); a request in progress is never cut by it, and a browser simply
    # opens a new connection for its next request
    waitress_channel_timeout_s: int = 30
    # open connections one client address may hold per serving process (0 = no cap); behind a
    # reverse proxy every client has the proxy's address: 0 there, and nginx limit_conn instead
    max_connections_per_client: int = 100
    log_level: str = "INFO"
    # request bodies: a Dash callback (the renderer sends a few KB) and an import upload
    max_callback_bytes: int = 1024 * 1024
    max_import_bytes: int = 200 * 1024 * 1024
    max_xlsx_uncompressed_bytes: int = 2 * 1024 * 1024 * 1024
    max_xlsx_rows: int = 1_048_576
    max_xlsx_columns: int = 200
    max_xlsx_cells: int = 30_000_000
    # the importer validates and writes a file in partitions of about this many lines (memory)
    import_chunk_lines: int = 50_000
    address_salt: str = "o2o-dashboard-default-salt"
    fee_channels: tuple[str, ...] = field(default=DEFAULT_FEE_CHANNELS)
    demo_stores: int = 20
    demo_days: int = 60
    demo_seed: int = 7
    cache_enabled: bool = True
    cache_l1_max_entries: int = 2048
    cache_l1_max_mb: int = 128
    cache_l2_threshold: int = 5000  # files in the disk tier before it prunes
    cache_warm: bool = True  # precompute the default views after start and after every import
    # views computed at once (cache misses); the other request threads keep serving hits
    cache_compute_slots: int = 2
    redis_socket_timeout_ms: int = 250
    # longest a page waits for the database (connect, pool, statement): a frozen or unreachable
    # database costs an uncached view this long, never a hung request; cached views keep serving
    db_timeout_s: float = 3.0
    # the same bound for whole-table reads (the read model's tables, once per data version); they are cut
    # sooner when the database stops answering the short-bounded reads
    db_load_timeout_s: float = 120.0
    # a read-model table whose source has at least this many rows is loaded by a child process
    # (readmodel.elsewhere): its load's memory peak never stays in a serving process (0: every one)
    table_process_rows: int = 1_000_000
    redis_check_interval_s: float = 30.0
    system_poll_interval_s: float = 5.0
    cpu_busy_percent: int = 60
    cpu_high_percent: int = 80
    # each serving process runs a thread that claims upload check / import jobs (import_jobs);
    # off: this process only enqueues (another process or instance does the work)
    import_worker: bool = True
    # every business rule threshold and parameter (O2O_RULE_*, docs/METRICS.md §10)
    rules: RuleSettings = field(default_factory=RuleSettings)

    def __post_init__(self) -> None:
        if not self.database_url:
            sqlite_path = Path(self.data_dir) / "o2o.sqlite3"
            object.__setattr__(self, "database_url", f"sqlite:///{sqlite_path}")

    @property
    def max_request_bytes(self) -> int:
        """The largest body Waitress receives at all: the largest route limit plus room for a
        multipart upload's part headers (each route then applies its own, smaller limit)."""
        return max(self.max_callback_bytes, self.max_import_bytes) + MULTIPART_OVERHEAD_BYTES

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``O2O_*`` variables from ``env`` (default ``os.environ``); raise SettingsError."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for spec in _SPECS:
            raw = env.get(spec.var)
            if raw is None or raw.strip() == "":
                continue
            values[spec.name] = spec.parse(raw.strip())
        values.update(overrides)
        if "rules" not in values:
            values["rules"] = RuleSettings.from_env(env)
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Spec:
    name: str
    var: str
    kind: str
    low: int | None = None
    high: int | None = None

    def parse(self, raw: str) -> object:
        if self.kind == "int":
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{self.var}={raw!r}: 应为整数 (expected an integer)") from None
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise SettingsError(f"{self.var}={raw!r}: 超出范围 {self.low}..{self.high} (out of range)")
            return value
        if self.kind == "float":
            try:
                number = float(raw)
            except ValueError:
                raise SettingsError(f"{self.var}={raw!r}: 应为数字 (expected a number)") from None
            if number <= 0:
                raise SettingsError(f"{self.var}={raw!r}: 应大于 0 (must be positive)")
            return number
        if self.kind == "path":
            return Path(raw).expanduser()
        if self.kind == "db_url":
            if not (raw.startswith("sqlite") or raw.startswith("postgresql")):
                raise SettingsError(
                    f"{self.var}={raw!r}: 仅支持 sqlite:/// 或 postgresql:// (unsupported database URL)"
                )
            return raw
        if self.kind == "redis_url":
            if not raw.startswith(("redis://", "rediss://", "unix://")):
                raise SettingsError(f"{self.var}={raw!r}: 应以 redis:// 开头 (expected a redis:// URL)")
            return raw
        if self.kind == "log_level":
            if raw.upper() not in LOG_LEVELS:
                raise SettingsError(f"{self.var}={raw!r}: 应为 {'/'.join(LOG_LEVELS)}")
            return raw.upper()
        if self.kind == "bool":
            lowered = raw.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise SettingsError(f"{self.var}={raw!r}: 应为 true/false (expected a boolean)")
        if self.kind == "csv":
            items = tuple(part.strip() for part in raw.split(",") if part.strip())
            if not items:
                raise SettingsError(f"{self.var}={raw!r}: 列表为空 (empty list)")
            return items
        return raw


_SPECS = (
    _Spec("data_dir", "O2O_DATA_DIR", "path"),
    _Spec("database_url", "O2O_DATABASE_URL", "db_url"),
    _Spec("redis_url", "O2O_REDIS_URL", "redis_url"),
    _Spec("host", "O2O_HOST", "str"),
    _Spec("port", "O2O_PORT", "int", 1, 65535),
    _Spec("workers", "O2O_WORKERS", "int", 1, 64),
    _Spec("waitress_threads", "O2O_WAITRESS_THREADS", "int", 1, 256),
    _Spec("waitress_connection_limit", "O2O_WAITRESS_CONNECTION_LIMIT", "int", 1, 50_000),  # poll(): no FD_SETSIZE
    _Spec("waitress_channel_timeout_s", "O2O_WAITRESS_CHANNEL_TIMEOUT_S", "int", 1, 3600),
    _Spec("max_connections_per_client", "O2O_MAX_CONNECTIONS_PER_CLIENT", "int", 0, 50_000),
    _Spec("log_level", "O2O_LOG_LEVEL", "log_level"),
    _Spec("max_callback_bytes", "O2O_MAX_CALLBACK_BYTES", "int", 16 * 1024, None),
    _Spec("max_import_bytes", "O2O_MAX_IMPORT_BYTES", "int", 1, None),
    _Spec("max_xlsx_uncompressed_bytes", "O2O_MAX_XLSX_UNCOMPRESSED_BYTES", "int", 1, None),
    _Spec("max_xlsx_rows", "O2O_MAX_XLSX_ROWS", "int", 1, None),
    _Spec("max_xlsx_columns", "O2O_MAX_XLSX_COLUMNS", "int", 1, 16_384),
    _Spec("max_xlsx_cells", "O2O_MAX_XLSX_CELLS", "int", 1, None),
    _Spec("import_chunk_lines", "O2O_IMPORT_CHUNK_LINES", "int", 1, None),
    _Spec("address_salt", "O2O_ADDRESS_SALT", "str"),
    _Spec("fee_channels", "O2O_FEE_CHANNELS", "csv"),
    _Spec("demo_stores", "O2O_DEMO_STORES", "int", 1, 1000),
    _Spec("demo_days", "O2O_DEMO_DAYS", "int", 14, 730),
    _Spec("demo_seed", "O2O_DEMO_SEED", "int", 0, None),
    _Spec("cache_enabled", "O2O_CACHE_ENABLED", "bool"),
    _Spec("cache_l1_max_entries", "O2O_CACHE_L1_MAX_ENTRIES", "int", 1, None),
    _Spec("cache_l1_max_mb", "O2O_CACHE_L1_MAX_MB", "int", 1, None),
    _Spec("cache_l2_threshold", "O2O_CACHE_L2_THRESHOLD", "int", 10, None),
    _Spec("cache_warm", "O2O_CACHE_WARM", "bool"),
    _Spec("cache_compute_slots", "O2O_CACHE_COMPUTE_SLOTS", "int", 1, 256),
    _Spec("redis_socket_timeout_ms", "O2O_REDIS_SOCKET_TIMEOUT_MS", "int", 10, 10000),
    _Spec("db_timeout_s", "O2O_DB_TIMEOUT_S", "float"),
    _Spec("db_load_timeout_s", "O2O_DB_LOAD_TIMEOUT_S", "float"),
    _Spec("table_process_rows", "O2O_TABLE_PROCESS_ROWS", "int", 0, None),
    _Spec("redis_check_interval_s", "O2O_REDIS_CHECK_INTERVAL_S", "float"),
    _Spec("system_poll_interval_s", "O2O_SYSTEM_POLL_INTERVAL_S", "float"),
    _Spec("cpu_busy_percent", "O2O_CPU_BUSY_PERCENT", "int", 1, 100),
    _Spec("cpu_high_percent", "O2O_CPU_HIGH_PERCENT", "int", 1, 100),
    _Spec("import_worker", "O2O_IMPORT_WORKER", "bool"),
)

ENV_VARS = tuple(spec.var for spec in _SPECS)
