"""Cross-platform launcher: ``o2o-launch production|debug [options]`` (or ``python scripts/launch.py …``).

Steps, one line each (✅ / ⚠️ / ❌): virtual environment, pinned dependencies, earlier instance
(PID file) and port, Redis, database (migrate, demo data on first start). Then production serves
with Waitress (access log on stdout) and debug runs the Dash dev server with hot reload on
127.0.0.1 only. Ctrl+C / SIGTERM stop cleanly and remove the PID file. Exit codes: 0 clean stop,
1 a step failed, 2 bad configuration or arguments.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import logging
import os
import sys
from pathlib import Path

from config import Settings, SettingsError
from serving import launch_steps as steps
from serving.launch_steps import step

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Werkzeug's reloader re-runs this script in a child with this variable set; the parent did the
# checks, owns the PID file and holds the socket, so the child only builds the app and serves.
RELOADER_CHILD = "WERKZEUG_RUN_MAIN"
# Dash silences Werkzeug's request lines in debug mode; a debug session wants them.
DEBUG_RUN_OPTIONS = {"dev_tools_silence_routes_logging": False}


def main(argv: list[str] | None = None) -> int:
    """The ``o2o-launch`` command; Ctrl+C during a step (e.g. seeding), before anything serves, exits 130."""
    try:
        return run(argv)
    except KeyboardInterrupt:
        step("⚠️", "已中断")
        return 130


def run(argv: list[str] | None = None) -> int:
    """The launcher's steps, then serve until stopped; returns the exit code (see the module docstring)."""
    parser = argparse.ArgumentParser(description="启动门店诊断看板")
    parser.add_argument("mode", choices=["production", "debug"])
    parser.add_argument("--host", help="监听地址 (默认: production 为 O2O_HOST/0.0.0.0, debug 为 127.0.0.1)")
    parser.add_argument("--port", type=int, help="端口 (默认 O2O_PORT 或 8051)")
    parser.add_argument("--no-seed", action="store_true", help="数据库为空时不生成演示数据")
    parser.add_argument("--skip-deps-check", action="store_true", help="不检查依赖版本")
    parser.add_argument("--start-redis", action="store_true", help="Redis 连不上时启动本机 redis-server")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env(**({"port": args.port} if args.port else {}))
    except SettingsError as exc:
        step("❌", f"配置错误: {exc}")
        return 2
    host = args.host or (settings.host if args.mode == "production" else "127.0.0.1")
    if args.mode == "debug":
        if host not in LOOPBACK:
            step("❌", f"调试模式只允许绑定 127.0.0.1，拒绝 {host} (调试器可执行任意代码)")
            return 2
        if not os.environ.get("O2O_LOG_LEVEL"):
            settings = dataclasses.replace(settings, log_level="DEBUG")
        if os.environ.get(RELOADER_CHILD) == "true":
            return _serve_debug_child(settings, host)

    if not steps.check_venv(sys.argv[0]):
        return 1
    if not steps.check_dependencies(skip=args.skip_deps_check):
        return 1
    from serving import pidfile  # psutil: imported once the dependency check has passed

    pid_file = pidfile.pid_file_path(settings.data_dir)
    if not steps.check_processes(pid_file, host, settings.port):
        return 1
    steps.check_redis(settings, start=args.start_redis)
    from analytics import use_python_strings  # here: the dependency check runs before pandas loads

    use_python_strings()  # the app's pandas text storage (seeding imports the demo files)
    if not steps.prepare_database(settings, seed=not args.no_seed):
        return 1
    if args.mode == "debug":
        return _serve_debug(settings, host, pid_file)
    return _serve_production(settings, host, pid_file)


def _raise_open_file_limit(needed: int) -> None:
    """Each connection is a file descriptor: lift the soft limit towards ``needed`` (POSIX)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        steps.step("⚠️", f"打开文件数上限 {target} (硬上限) 低于连接上限所需的 {needed}; 请调高 ulimit -n")


def _serve_production(settings: Settings, host: str, pid_file: Path) -> int:
    from app import stop_app
    from serving import pidfile, worker

    _raise_open_file_limit(settings.waitress_connection_limit + 256)  # per process: workers inherit it
    if settings.workers > 1:
        return _serve_workers(settings, host, pid_file)
    app = worker.build_app(settings)
    try:
        server = worker.waitress_server(app, settings, host=host, port=settings.port)
    except OSError as exc:
        stop_app(app)
        step("❌", f"无法监听 {host}:{settings.port}: {exc}")
        return 1
    pidfile.write(pid_file, host=host, port=settings.port, mode="production")
    atexit.register(pidfile.remove_if_ours, pid_file)
    step("✅", f"生产模式 (Waitress): http://{host}:{settings.port} {_capacity(settings)}; PID 文件 {pid_file}; "
               "Ctrl+C 停止")  # fmt: skip
    try:
        # SIGTERM (service managers, `kill`) stops like Ctrl+C: the server drains, then run() returns.
        worker.serve_until_stopped(server, app)
    finally:
        pidfile.remove_if_ours(pid_file)
    step("✅", f"已停止 (pid {os.getpid()})")
    return 0


def _capacity(settings: Settings) -> str:
    return f"线程 {settings.waitress_threads} / 连接上限 {settings.waitress_connection_limit}"


def _serve_workers(settings: Settings, host: str, pid_file: Path) -> int:
    """O2O_WORKERS processes on one socket, supervised by this one (serving/supervisor.py)."""
    from serving import pidfile
    from serving import supervisor as supervising
    from serving.signals import stop_on_first_signal

    try:
        sock = supervising.bind_socket(host, settings.port)
    except OSError as exc:
        step("❌", f"无法监听 {host}:{settings.port}: {exc}")
        return 1
    stop_on_first_signal()
    supervisor = supervising.Supervisor(settings, sock, say=step)
    code = 0
    try:
        supervisor.start()
        pidfile.write(pid_file, host=host, port=settings.port, mode="production")
        atexit.register(pidfile.remove_if_ours, pid_file)
        step("✅", f"生产模式 (Waitress): http://{host}:{settings.port} {settings.workers} 个工作进程 "
                   f"(pid {', '.join(map(str, supervisor.pids))}), 每个 {_capacity(settings)}; PID 文件 {pid_file}; "
                   "Ctrl+C 停止")  # fmt: skip
        code = supervisor.run()
    except KeyboardInterrupt:
        supervisor.stop()
    finally:
        pidfile.remove_if_ours(pid_file)
    step("✅" if code == 0 else "❌", f"已停止 (pid {os.getpid()})")
    return code


def _serve_debug(settings: Settings, host: str, pid_file: Path) -> int:
    """Reloader parent: watches files and restarts the serving child; owns the PID file."""
    from serving import pidfile
    from serving.worker import build_app

    app = build_app(settings, start_monitors=False)  # the parent never serves a request
    pidfile.write(pid_file, host=host, port=settings.port, mode="debug")
    atexit.register(pidfile.remove_if_ours, pid_file)
    step("✅", f"调试模式: http://{host}:{settings.port} (热重载, DEBUG 日志; PID 文件 {pid_file}; Ctrl+C 停止)")
    code = 0
    try:
        # Werkzeug turns SIGTERM into sys.exit(0), killing the child first; a crashed child's
        # exit code comes back as SystemExit too.
        _run_debug_server(app, host, settings.port)
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        pidfile.remove_if_ours(pid_file)
    step("✅" if code == 0 else "❌", f"已停止 (pid {os.getpid()}, 退出码 {code})")
    return code


def _run_debug_server(app, host: str, port: int) -> None:
    """The Dash dev server (debugger, hot reload) — only ever on a loopback address."""
    loopback = host in LOOPBACK
    if not loopback:
        raise SystemExit(f"调试模式只能绑定本机地址 (127.0.0.1), 不能绑定 {host}")
    app.run(host=host, port=port, debug=loopback, dev_tools_hot_reload=True, **DEBUG_RUN_OPTIONS)


def _serve_debug_child(settings: Settings, host: str) -> int:
    from serving.worker import build_app

    app = build_app(settings)
    logging.getLogger("o2o.launch").debug("热重载子进程 pid %s 开始服务 (父进程 pid %s)", os.getpid(), os.getppid())
    _run_debug_server(app, host, settings.port)
    return 0
