"""The launcher's PID file and the port check: stop an earlier instance of this app, never a stranger.

One PID file per data directory (``<O2O_DATA_DIR>/o2o-dashboard.pid``, JSON), so instances with
their own data directories (tests, a second site) never see each other's file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from datetime import datetime
from pathlib import Path

import psutil

PID_FILE_NAME = "o2o-dashboard.pid"
STOP_TIMEOUT_S = 10.0
LAUNCHER = "scripts/launch.py"
COMMAND = "o2o-launch"  # the console script of pyproject.toml (o2o-launch.exe on Windows)


def pid_file_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / PID_FILE_NAME


def write(path: Path, *, host: str, port: int, mode: str) -> None:
    """Record this process (atomically: a reader never sees half a file)."""
    me = psutil.Process()
    record = {
        "pid": me.pid,
        "host": host,
        "port": port,
        "mode": mode,
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "create_time": me.create_time(),
        "cmdline": me.cmdline(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{me.pid}")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def remove_if_ours(path: Path, pid: int | None = None) -> bool:
    """Delete the PID file only while it still names ``pid`` (default: this process): a newer
    instance may have replaced it."""
    pid = os.getpid() if pid is None else pid
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") != pid:
            return False
        path.unlink()
    except (OSError, ValueError, AttributeError):
        return False
    return True


def is_this_app(proc: psutil.Process) -> bool:
    """True when the process runs scripts/launch.py (any Python, any OS path style) or the
    ``o2o-launch`` command."""
    return any(_is_launcher(arg.replace("\\", "/")) for arg in proc.cmdline())


def _is_launcher(arg: str) -> bool:
    name = arg.rsplit("/", 1)[-1].lower()
    return arg.endswith(LAUNCHER) or name in (COMMAND, f"{COMMAND}.exe", f"{COMMAND}-script.py")


def clear_previous(path: Path) -> tuple[str, str] | None:
    """Deal with a PID file left by an earlier start; returns (icon, one phrase) or None if there
    was none. A live earlier instance of this app is stopped (SIGTERM, then kill after 10 s)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        pid = int(record["pid"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return "⚠️", f"PID 文件 {path} 无法读取, 已删除"
    proc = _live_process(pid)
    if proc is None:
        path.unlink(missing_ok=True)
        return "⚠️", f"已删除过期的 PID 文件 (pid {pid} 已不存在, 上次未正常退出)"
    try:
        ours = pid != os.getpid() and is_this_app(proc) and _started_as_recorded(proc, record)
        command = describe(proc)
    except psutil.Error:
        ours, command = False, "无权限查看"
    if not ours:
        path.unlink(missing_ok=True)
        return "⚠️", f"已删除过期的 PID 文件 (pid {pid} 现在是别的进程: {command}, 未动它)"
    since = f", 启动于 {record.get('started_at')}" if record.get("started_at") else ""
    where = f", 端口 {record.get('port')}" if record.get("port") else ""
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.terminate()
    if _wait_gone(proc, STOP_TIMEOUT_S):
        icon, text = "✅", f"已停止上次运行的实例 (pid {pid}{where}{since})"
    else:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
        _wait_gone(proc, 5.0)
        icon, text = "⚠️", f"上次运行的实例 (pid {pid}{where}) {STOP_TIMEOUT_S:g} 秒内未退出, 已强制结束"
    remove_if_ours(path, pid)
    return icon, text


def port_owners(host: str, port: int) -> list[str] | None:
    """None when ``host:port`` can be bound; else who listens there ('pid 12 (cmd)'), possibly []."""
    if _can_bind(host, port):
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        connections = []
    pids = sorted({c.pid for c in connections if c.pid and c.status == psutil.CONN_LISTEN and c.laddr.port == port})
    named: dict[int, str] = {}
    for pid in pids:
        try:
            proc = launcher_of(psutil.Process(pid))
            named.setdefault(proc.pid, f"pid {proc.pid} ({describe(proc)})")
        except psutil.Error:
            named.setdefault(pid, f"pid {pid}")
    return list(named.values())


def launcher_of(proc: psutil.Process) -> psutil.Process:
    """A worker process of this app stands for its launcher (which holds the PID file)."""
    if not is_this_app(proc):
        for parent in proc.parents():
            if is_this_app(parent):
                return parent
    return proc


def describe(proc: psutil.Process, limit: int = 160) -> str:
    command = " ".join(proc.cmdline()) or proc.name()
    return command if len(command) <= limit else command[: limit - 1] + "…"


def _live_process(pid: int) -> psutil.Process | None:
    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc
    except psutil.NoSuchProcess:
        return None


def _started_as_recorded(proc: psutil.Process, record: dict) -> bool:
    """Guards against PID reuse: the process must have started when the file says it did."""
    recorded = record.get("create_time")
    return recorded is None or abs(proc.create_time() - float(recorded)) < 1.0


def _wait_gone(proc: psutil.Process, timeout: float) -> bool:
    # Polls rather than proc.wait(): a zombie (exited, not yet reaped by its parent) counts as gone.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def _can_bind(host: str, port: int) -> bool:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError:
        return True  # unresolvable host: the server reports it
    with socket.socket(family, kind, proto) as sock:
        if os.name != "nt":  # like the servers do; on Windows SO_REUSEADDR would allow stealing the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return exc.errno not in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1))
    return True
