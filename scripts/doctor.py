"""集成验证: ``python scripts/doctor.py [--url http://127.0.0.1:8051] [--skip-http]``.

Every check does the real thing (connects, writes and reads back, builds the app, posts a
callback) and prints one line, ``✅ name — detail`` or ``❌ name — reason``, then ``N/N 通过``.
Exit code 0 when every check passed, 1 otherwise. Configuration comes from the O2O_* variables,
as for the launcher; the HTTP checks talk to the running instance at ``--url``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from config import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent

MIN_PYTHON = (3, 11)
EVICTION_POLICIES = ("allkeys-lru", "allkeys-lfu")
MIN_FREE_DISK = 512 * 1024**2
EXPECTED_PATHS = ("/", "/system")
HOME_CALLBACK = "diagnosis-kpi-cards.children"  # the KPI cards, the home page's main view
START_HINT = ".venv/bin/python scripts/launch.py production"


@dataclass(frozen=True)
class Result:
    ok: bool
    name: str
    detail: str

    def line(self) -> str:
        return f"{'✅' if self.ok else '❌'} {self.name} — {self.detail}"


class CheckFailedError(Exception):
    """A check's reason for failing (the message is printed as it is)."""


class Doctor:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._settings: Settings | None = None
        self._settings_error: str | None = None
        self._cache = None

    # -- shared ---------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None and self._settings_error is None:
            try:
                self._settings = Settings.from_env()
            except SettingsError as exc:
                self._settings_error = str(exc)
        if self._settings is None:
            raise CheckFailedError(f"配置无效, 无法检查 ({self._settings_error})")
        return self._settings

    def cache(self):
        """The app's own cache tiers, built from the settings exactly as the app builds them."""
        if self._cache is None:
            from cache.manager import CacheManager

            self._cache = CacheManager(self.settings, lambda: (0, ""))
        return self._cache

    def http(self, path: str, body: dict | None = None) -> tuple[int, bytes, float]:
        """(status, body, ms) of a GET, or a JSON POST when ``body`` is given."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data,
                                         headers={"Content-Type": "application/json"} if data else {})  # fmt: skip
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read(), (time.perf_counter() - started) * 1000
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), (time.perf_counter() - started) * 1000
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            raise CheckFailedError(f"{self.url}{path} 无法访问: {reason} (看板未运行? 启动: {START_HINT})") from None

    def get_json(self, path: str):
        status, data, _ms = self.http(path)
        if status != 200:
            raise CheckFailedError(f"GET {path} → HTTP {status}")
        return json.loads(data)

    # -- checks -----------------------------------------------------------------------------
    def python_version(self) -> str:
        version = ".".join(map(str, sys.version_info[:3]))
        if sys.version_info < MIN_PYTHON:
            raise CheckFailedError(f"Python {version} 过旧, 需要 ≥ {'.'.join(map(str, MIN_PYTHON))} ({sys.executable})")
        return f"Python {version} ({sys.executable})"

    def dependencies(self) -> str:
        from serving.dependencies import check, problems

        statuses = check([ROOT / "requirements.txt"])
        wrong = problems(statuses)
        if wrong:
            raise CheckFailedError(f"{len(wrong)}/{len(statuses)} 个不符: {'; '.join(wrong)} "
                              f"(修复: {sys.executable} -m pip install -r requirements.txt)")  # fmt: skip
        return f"requirements.txt 中 {len(statuses)} 个包均已安装且版本一致"

    def configuration(self) -> str:
        from db.engine import describe_url

        s = self.settings
        return (f"O2O_* 有效: 数据库 {describe_url(s.database_url)}, Redis {redis_where(s.redis_url)}, "
                f"端口 {s.port}, 缓存{'开启' if s.cache_enabled else '关闭'}")  # fmt: skip

    def data_dir(self) -> str:
        directory = Path(self.settings.data_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe = directory / f".doctor-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise CheckFailedError(f"{directory} 不可写: {exc}") from None
        free = shutil.disk_usage(directory).free
        if free < MIN_FREE_DISK:
            raise CheckFailedError(f"{directory} 剩余空间仅 {free / 1024**2:.0f} MB (< {MIN_FREE_DISK // 1024**2} MB)")
        return f"{directory} 可写, 剩余 {free / 1024**3:.1f} GB"

    def database(self) -> str:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        from db.engine import describe_url, make_engine

        url = self.settings.database_url
        engine = make_engine(url)
        started = time.perf_counter()
        try:
            with engine.connect() as conn:
                sql = "select sqlite_version()" if engine.dialect.name == "sqlite" else "show server_version"
                version = conn.execute(text(sql)).scalar()
        except SQLAlchemyError as exc:
            raise CheckFailedError(f"{describe_url(url)} 无法连接: {first_line(exc)}") from None
        finally:
            engine.dispose()
        ms = (time.perf_counter() - started) * 1000
        return f"{describe_url(url)} 可连接 ({engine.dialect.name} {version}, {ms:.0f} ms)"

    def migrations(self) -> str:
        from sqlalchemy.exc import SQLAlchemyError

        from db.engine import describe_url, make_engine
        from db.migrate import current_revision, head_revision

        url = self.settings.database_url
        engine = make_engine(url)
        try:
            current = current_revision(engine)
        except SQLAlchemyError as exc:
            raise CheckFailedError(f"无法读取 {describe_url(url)} 的迁移版本: {first_line(exc)}") from None
        finally:
            engine.dispose()
        head = head_revision()
        if current != head:
            raise CheckFailedError(f"当前 {current or '未迁移 (空库)'}, 最新 {head}; "
                                   f"运行 .venv/bin/alembic upgrade head 或启动一次 launch.py")  # fmt: skip
        return f"已在最新版本 {head}"

    def redis(self) -> str:
        import redis

        url = self.settings.redis_url
        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        try:
            started = time.perf_counter()
            client.ping()
            ping_ms = (time.perf_counter() - started) * 1000
            info = client.info()
        except (redis.RedisError, OSError) as exc:
            raise CheckFailedError(f"{redis_where(url)} 无法连接: {exc}") from None
        finally:
            client.close()
        policy, maxmemory = info.get("maxmemory_policy"), int(info.get("maxmemory") or 0)
        limits = f"淘汰策略 {policy}, maxmemory {human_bytes(maxmemory)}"
        if policy not in EVICTION_POLICIES or maxmemory == 0:
            why = f"淘汰策略应为 {' 或 '.join(EVICTION_POLICIES)}" if policy not in EVICTION_POLICIES else \
                "未设置 maxmemory, 淘汰策略不会生效"  # fmt: skip
            raise CheckFailedError(f"{redis_where(url)} 可连接, 但{why} ({limits}); "
                              f"修复: .venv/bin/python scripts/configure_redis.py")  # fmt: skip
        return f"{redis_where(url)} Redis {info.get('redis_version')}, PING {ping_ms:.1f} ms, {limits}"

    def cache_l1(self) -> str:
        manager = self.cache()
        key, value = probe_entry()
        started = time.perf_counter()
        manager.l1.set(key, value, 64, 60)
        found, got = manager.l1.get(key)
        if not found or got != value:
            raise CheckFailedError("写入后读不回 (内存层容量为 0?)")
        manager.l1.clear()  # this process's own tier: only the probe is in it
        if manager.l1.get(key)[0]:
            raise CheckFailedError("清除后仍能读到")
        return f"写入/读取/删除 成功 ({(time.perf_counter() - started) * 1000:.2f} ms)"

    def cache_l2(self) -> str:
        from cache.serialize import decode, encode

        manager = self.cache()
        key, value = probe_entry()
        started = time.perf_counter()
        if not manager.l2.set(key, encode(value).data, 60):
            raise CheckFailedError(f"{manager.l2.directory} 写入失败")
        data = manager.l2.get(key)
        if data is None or decode(data) != value:
            raise CheckFailedError(f"{manager.l2.directory} 写入后读不回")
        manager.l2.delete(key)
        if manager.l2.get(key) is not None:
            raise CheckFailedError(f"{manager.l2.directory} 删除后仍能读到")
        return f"{manager.l2.directory} 写入/读取/删除 成功 ({(time.perf_counter() - started) * 1000:.1f} ms)"

    def cache_l3(self) -> str:
        import redis

        from cache.serialize import decode, encode

        manager = self.cache()
        tier = manager.l3
        key, value = probe_entry()
        started = time.perf_counter()
        written = tier.set(key, encode(value).data, 60)
        data = tier.get(key) if written else None
        if data is None or decode(data) != value:
            try:  # the tier swallows its errors (by design); ask Redis directly for the reason
                tier.client.ping()
                reason = "写入后读不回"
            except (redis.RedisError, OSError) as exc:
                reason = f"Redis 不可用: {exc}"
            raise CheckFailedError(f"{redis_where(self.settings.redis_url)} {reason} (断路器 {manager.breaker.state})")
        tier.delete(key)
        if tier.get(key) is not None:
            raise CheckFailedError("删除后仍能读到")
        ms = (time.perf_counter() - started) * 1000
        return f"{redis_where(self.settings.redis_url)} 键前缀 {tier.prefix} 写入/读取/删除 成功 ({ms:.1f} ms)"

    def waitress(self) -> str:
        from importlib.metadata import version

        import waitress  # noqa: F401  (importable is the check)

        return f"waitress {version('waitress')} 可导入"

    def port(self) -> str:
        import psutil

        port = self.settings.port
        from serving.pidfile import launcher_of

        holders = []
        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                try:  # the workers of a multi-process instance are named by their launcher
                    holders.append(launcher_of(psutil.Process(conn.pid)).pid if conn.pid else None)
                except psutil.Error:
                    holders.append(conn.pid)
        if not holders:
            return f"端口 {port} 空闲, 可以启动"
        described = "; ".join(describe_process(pid) for pid in sorted(set(holders), key=lambda p: p or 0))
        if self._is_dashboard(port):
            return f"端口 {port} 由本看板占用 ({described})"
        raise CheckFailedError(f"端口 {port} 被其他程序占用: {described}")

    def _is_dashboard(self, port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            return False
        return isinstance(body, dict) and {"status", "database", "redis"} <= set(body)

    def pages(self) -> str:
        import dash

        from app import create_app, stop_app

        expected = registered_page_modules(ROOT / "pages")
        app = create_app(self.settings, start_monitors=False)
        try:
            registry = {page["module"].split(".")[-1]: page for page in dash.page_registry.values()}
        finally:
            stop_app(app)
        missing = sorted(set(expected) - set(registry))
        paths = {page["path"] for page in registry.values()}
        missing += [f"路径 {p}" for p in EXPECTED_PATHS if p not in paths]
        if missing:
            raise CheckFailedError(f"未注册: {', '.join(missing)} (已注册 {len(registry)} 个)")
        shown = ", ".join(f"{p['path']} {p['name']}" for p in sorted(registry.values(), key=lambda p: p["path"]))
        return f"pages/ 中 {len(expected)} 个页面模块全部注册: {shown}"

    def callback(self) -> str:
        from components.messages import DB_UNAVAILABLE, SECTION_FAILED
        from scripts import _dash_protocol as dp

        shell = self.get_json("/_dash-layout")
        deps = self.get_json("/_dash-dependencies")
        router = next((d for d in deps if dp.is_router(d)), None)
        if router is None:
            raise CheckFailedError("/_dash-dependencies 中没有页面路由回调 (_pages_content.children)")
        status, data, _ms = self.http("/_dash-update-component", dp.router_body(router, "/"))
        if status != 200:
            raise CheckFailedError(f"页面 / 的布局回调 → HTTP {status}: {data[:200]!r}")
        state = dp.PageState()
        state.add_tree(shell)
        state.add_tree(json.loads(data)["response"][dp.ROUTER_CONTENT]["children"])
        dp.set_location(state, self.url, "/")
        candidates = [d for d in deps if dp.is_server_callback(d) and not dp.is_router(d)
                      and not d.get("prevent_initial_call")]  # fmt: skip
        candidates.sort(key=lambda d: d["output"] != HOME_CALLBACK)
        for dep in candidates:
            bodies = dp.callback_bodies(dep, state)
            if bodies:
                break
        else:
            raise CheckFailedError("首页布局中找不到可调用的回调")
        status, data, ms = self.http("/_dash-update-component", bodies[0])
        if status != 200:
            raise CheckFailedError(f"POST {dp.label(dep)} → HTTP {status}: {data[:300]!r}")
        try:
            answer = json.loads(data)
        except ValueError:
            raise CheckFailedError(f"POST {dp.label(dep)} → 200 但不是 JSON: {data[:200]!r}") from None
        text = json.dumps(answer, ensure_ascii=False)
        if "response" not in answer or DB_UNAVAILABLE in text or SECTION_FAILED in text:
            raise CheckFailedError(f"POST {dp.label(dep)} → 200 但页面显示错误: {text[:200]}")
        return (f"{self.url}: /_dash-layout, /_dash-dependencies ({len(deps)} 个回调), "
                f"POST {dp.label(dep)} → 200 JSON {len(data)} 字节, {ms:.0f} ms")  # fmt: skip

    def samplers(self) -> str:
        status, data, _ms = self.http("/healthz")
        try:
            health = json.loads(data)
        except ValueError:
            raise CheckFailedError(f"/healthz → HTTP {status}, 不是 JSON") from None
        redis_state = (health.get("redis") or {}).get("state")
        if redis_state in (None, "unknown"):
            raise CheckFailedError("redis-health 线程尚未完成任何一次检测 (/healthz redis.state=unknown)")
        interval = self.settings.system_poll_interval_s if self._settings_error is None else 5.0
        first = process_gauges(self.http("/metrics")[1])
        if first is None:
            raise CheckFailedError("/metrics 没有 o2o_process_* 指标: system-poller 线程没有采样")
        deadline = time.monotonic() + 2 * interval + 1
        started = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(min(0.5, interval / 2))
            latest = process_gauges(self.http("/metrics")[1])
            if latest is not None and latest != first:
                took, rss_mb = time.monotonic() - started, latest["o2o_process_rss_bytes"] / 1024**2
                return (f"system-poller 在 {took:.1f} s 内有新采样 (RSS {rss_mb:.0f} MB), "
                        f"redis-health 已检测 (Redis {redis_state}); /healthz 状态 {health.get('status')}")  # fmt: skip
        raise CheckFailedError(f"{2 * interval + 1:.0f} s 内 /metrics 的进程采样没有变化: system-poller 线程可能已停止")


def probe_entry() -> tuple[str, dict]:
    marker = uuid.uuid4().hex
    return f"doctor:{marker}", {"doctor": marker, "at": time.time()}


def first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]


def redis_where(url: str) -> str:
    """host:port/db without credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}{parts.path or '/0'}"


def human_bytes(value: int) -> str:
    if value == 0:
        return "0 (不限)"
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def describe_process(pid: int | None) -> str:
    import psutil

    if pid is None:
        return "pid 未知 (无权限查看)"
    try:
        proc = psutil.Process(pid)
        command = " ".join(proc.cmdline()) or proc.name()
    except psutil.Error:
        return f"pid {pid}"
    return f"pid {pid}: {command[:160]}"


def registered_page_modules(folder: Path) -> list[str]:
    """Module names of pages/*.py files that call dash.register_page (helpers start with _)."""
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = getattr(node, "func", None) if isinstance(node, ast.Call) else None
            name = getattr(func, "attr", None) or getattr(func, "id", None)
            if name == "register_page":
                found.append(path.stem)
                break
    return found


PROCESS_GAUGES = ("o2o_process_rss_bytes", "o2o_process_cpu_percent", "o2o_system_cpu_percent",
                  "o2o_system_memory_percent")  # fmt: skip


def process_gauges(text: bytes) -> dict[str, float] | None:
    from prometheus_client.parser import text_string_to_metric_families

    values = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name in PROCESS_GAUGES:
                values[sample.name] = sample.value
    return values if "o2o_process_rss_bytes" in values else None


def run(checks: list[tuple[str, Callable[[], str]]]) -> list[Result]:
    results = []
    for name, check in checks:
        try:
            result = Result(True, name, check())
        except CheckFailedError as exc:
            result = Result(False, name, str(exc))
        except Exception as exc:  # a check that crashes is a failed check, with the reason
            result = Result(False, name, f"检查出错: {type(exc).__name__}: {str(exc).strip()[:300]}")
        print(result.line(), flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="门店诊断看板集成验证: 每项检查一行 ✅/❌")
    parser.add_argument("--url", default=None, help="运行中实例的地址 (默认 http://127.0.0.1:<O2O_PORT 或 8051>)")
    parser.add_argument("--skip-http", action="store_true", help="不检查运行中的实例 (回调、采样线程)")
    parser.add_argument("--timeout", type=float, default=15.0, help="每个 HTTP 请求的超时秒数 (默认 15)")
    args = parser.parse_args(argv)
    port = os.environ.get("O2O_PORT", "").strip() or "8051"
    doctor = Doctor(args.url or f"http://127.0.0.1:{port}", args.timeout)
    print(f"门店诊断看板 集成验证 ({doctor.url if not args.skip_http else '不检查运行中的实例'})", flush=True)
    checks = [
        ("Python 版本", doctor.python_version),
        ("依赖", doctor.dependencies),
        ("配置", doctor.configuration),
        ("数据目录", doctor.data_dir),
        ("数据库", doctor.database),
        ("数据库迁移", doctor.migrations),
        ("Redis", doctor.redis),
        ("缓存 L1 内存", doctor.cache_l1),
        ("缓存 L2 磁盘", doctor.cache_l2),
        ("缓存 L3 Redis", doctor.cache_l3),
        ("Waitress", doctor.waitress),
        ("端口", doctor.port),
        ("页面注册", doctor.pages),
    ]
    if not args.skip_http:
        checks += [("回调 (HTTP)", doctor.callback), ("后台采样线程", doctor.samplers)]
    results = run(checks)
    passed = sum(r.ok for r in results)
    print(f"{passed}/{len(results)} 通过", flush=True)
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
