"""The launcher's checks; each prints exactly one line starting with ✅, ⚠️ or ❌.

Imports of installed packages happen inside the steps, after the dependency check has run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from config import PROJECT_ROOT, Settings
from serving.dependencies import check, problems

BOOTSTRAP = f"{'python3' if os.name != 'nt' else 'python'} scripts/bootstrap.py run"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def step(icon: str, text: str) -> None:
    print(f"{icon} {text}", flush=True)


def check_venv(script: str | None = None) -> bool:
    """Step 1: the project's own virtual environment (or how to make it). False when ``script``
    (``scripts/launch.py`` of some checkout) would serve the code of another checkout: the venv's
    editable install points where ``bootstrap.py`` last ran (a venv shared by work trees)."""
    version = f"Python {sys.version.split()[0]}"
    project_venv = (PROJECT_ROOT / ".venv").resolve()
    checkout = Path(script).resolve().parent.parent if script and script.endswith("launch.py") else None
    if checkout is not None and (checkout / "serving").is_dir() and checkout != PROJECT_ROOT.resolve():
        step("❌", f"{version}: {script} 属于 {checkout}, 但此 Python 导入的项目在 {PROJECT_ROOT}; "
                   f"在 {checkout} 运行 {BOOTSTRAP} 重新安装")  # fmt: skip
        return False
    if Path(sys.prefix).resolve() == project_venv:
        step("✅", f"{version}, 项目虚拟环境 {project_venv}")
    elif sys.prefix != getattr(sys, "base_prefix", sys.prefix):
        step("⚠️", f"{version}, 运行在其他虚拟环境 {sys.prefix} (项目的是 {project_venv}; 创建: {BOOTSTRAP})")
    else:
        step("⚠️", f"{version}, 未使用虚拟环境; 创建并安装依赖: {BOOTSTRAP}")
    return True


def check_dependencies(skip: bool) -> bool:
    """Step 2: installed versions equal the pins of requirements.txt."""
    if skip:
        step("⚠️", "已跳过依赖版本检查 (--skip-deps-check)")
        return True
    statuses = check(["requirements.txt"])
    wrong = problems(statuses)
    if wrong:
        step(
            "❌",
            f"依赖与 requirements.txt 不符 ({len(wrong)}/{len(statuses)}): {'; '.join(wrong)}. "
            f"修复: {sys.executable} -m pip install -r requirements.txt (或加 --skip-deps-check)",
        )
        return False
    step("✅", f"依赖 {len(statuses)}/{len(statuses)} 与 requirements.txt 一致")
    return True


def check_processes(pid_file: Path, host: str, port: int) -> bool:
    """Step 5 (run before the slow steps so a busy port fails fast): an earlier instance of this
    app recorded in the PID file is stopped; anything else on the port is named, never touched."""
    from serving import pidfile

    earlier = pidfile.clear_previous(pid_file)
    prefix = f"{earlier[1]}; " if earlier else ""
    owners = pidfile.port_owners(host, port)
    if owners is not None:
        who = ", ".join(owners) if owners else "未知进程 (无权限查看)"
        step(
            "❌",
            f"{prefix}端口 {host}:{port} 已被占用: {who}. 未结束它; 请先停止该进程或换端口 (--port / O2O_PORT)",
        )
        return False
    step(earlier[0] if earlier else "✅", f"{prefix}端口 {host}:{port} 空闲")
    return True


def check_redis(settings: Settings, start: bool) -> None:
    """Step 3: Redis version, maxmemory and policy; unreachable is a warning (tiers 1–2 only).
    With ``start``, a local redis-server is started from config/redis.conf."""
    import redis

    url = safe_url(settings.redis_url)
    try:
        icon, version, limits = _describe_redis(settings.redis_url)
        step(icon, f"Redis {version} 可用 ({url}): {limits}")
        return
    except redis.RedisError as exc:
        reason = _first_line(exc)
    fallback = "以进程内 + 磁盘缓存层运行"
    if not start:
        step("⚠️", f"Redis 不可用 ({url}): {reason}; {fallback} (--start-redis 可启动本机 Redis)")
        return
    parts = urlsplit(settings.redis_url)
    binary = shutil.which("redis-server")
    if parts.scheme != "redis" or parts.hostname not in LOCAL_HOSTS:
        step("⚠️", f"Redis 不可用 ({url}): {reason}; --start-redis 只启动本机 Redis; {fallback}")
        return
    if binary is None:
        step("⚠️", f"Redis 不可用 ({url}): {reason}; 未找到 redis-server, 无法启动; {fallback}")
        return
    port = parts.port or 6379
    error = _start_redis_server(binary, port, Path(settings.data_dir))
    if error:
        step("⚠️", f"Redis 不可用 ({url}), 启动 redis-server 失败: {error}; {fallback}")
        return
    pid_file = Path(settings.data_dir) / f"redis-{port}.pid"
    try:
        icon, version, limits = _describe_redis(settings.redis_url)
    except redis.RedisError as exc:
        step("⚠️", f"redis-server 已启动但连不上 ({url}): {_first_line(exc)}; {fallback}")
        return
    step(icon, f"已启动本机 Redis {version} (端口 {port}, pid 文件 {pid_file}): {limits}")


def _describe_redis(redis_url: str) -> tuple[str, str, str]:
    """(icon, version, 'maxmemory …, 淘汰策略 …'); ⚠️ when the cache could fill Redis or evict badly."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        server, memory = client.info("server"), client.info("memory")
    finally:
        client.close()
    maxmemory = int(memory.get("maxmemory", 0))
    policy = str(memory.get("maxmemory_policy", "?"))
    limits = f"maxmemory {memory.get('maxmemory_human') if maxmemory else '0 (不限制)'}, 淘汰策略 {policy}"
    if maxmemory == 0 or not ("lru" in policy or "lfu" in policy):
        limits += "; 建议: python scripts/configure_redis.py (1gb, allkeys-lru)"
        return "⚠️", str(server.get("redis_version", "?")), limits
    return "✅", str(server.get("redis_version", "?")), limits


def _start_redis_server(binary: str, port: int, data_dir: Path) -> str | None:
    """Daemonized redis-server with config/redis.conf, its pid file and log in the data dir."""
    import redis

    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        binary, str(PROJECT_ROOT / "config" / "redis.conf"), "--port", str(port), "--daemonize", "yes",
        "--pidfile", str(data_dir / f"redis-{port}.pid"), "--logfile", str(data_dir / f"redis-{port}.log"),
        "--dir", str(data_dir),
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode != 0:
        return _first_line(result.stderr or result.stdout) or f"退出码 {result.returncode}"
    client = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            client.ping()
            return None
        except redis.RedisError:
            time.sleep(0.1)
    return f"5 秒内没有响应 (日志 {data_dir / f'redis-{port}.log'})"


def prepare_database(settings: Settings, seed: bool) -> bool:
    """Step 4: connect, ``alembic upgrade head``, seed demo data into an empty database."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from db.engine import describe_url, make_engine
    from db.migrate import head_revision, upgrade
    from db.seed import database_is_empty

    engine = make_engine(settings.database_url)
    where = describe_url(settings.database_url)
    try:
        try:
            upgrade(engine)
            empty = database_is_empty(engine)
        except SQLAlchemyError as exc:
            step("❌", f"数据库连接失败 ({where}): {_first_line(getattr(exc, 'orig', None) or exc)}")
            return False
        except CommandError as exc:
            step("❌", f"数据库迁移失败 ({where}): {_first_line(exc)}")
            return False
        note = "; 空库, 未生成演示数据 (--no-seed)" if empty and not seed else ""
        step("✅", f"数据库 {where} 已迁移到最新版本 ({head_revision()}){note}")
        if empty and seed:
            return _seed(engine, settings)
        return True
    finally:
        engine.dispose()


def _seed(engine, settings: Settings) -> bool:
    from tqdm import tqdm

    from db.seed import seed_demo

    step("⏳", f"首次启动: 生成演示数据 ({settings.demo_stores} 家门店 × {settings.demo_days} 天)")
    bar = tqdm(total=1, unit="文件", ncols=90)

    def progress(label: str, done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.set_description(label)
        bar.refresh()

    try:
        seed_demo(engine, settings, progress=progress)
    except Exception as exc:  # any failure of the demo import is reported, the app does not start
        bar.close()
        step("❌", f"演示数据导入失败: {_first_line(exc)}")
        return False
    bar.close()
    step("✅", "演示数据已导入")
    return True


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0].strip().rstrip(".") if lines else value.__class__.__name__
