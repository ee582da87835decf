"""Cross-platform launcher: ``python scripts/launch.py production|debug``.

Every step prints one line with ✅ / ⚠️ / ❌. Production serves with Waitress on the
configured host/port; debug runs the Dash dev server with reload on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def step(icon: str, text: str) -> None:
    print(f"{icon} {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="启动门店诊断看板")
    parser.add_argument("mode", choices=["production", "debug"])
    parser.add_argument("--host", help="监听地址 (默认: production 0.0.0.0, debug 127.0.0.1)")
    parser.add_argument("--port", type=int, help="端口 (默认 O2O_PORT 或 8051)")
    parser.add_argument("--no-seed", action="store_true", help="数据库为空时不生成演示数据")
    args = parser.parse_args(argv)

    from config import Settings, SettingsError

    try:
        overrides = {"port": args.port} if args.port else {}
        settings = Settings.from_env(**overrides)
    except SettingsError as exc:
        step("❌", f"配置错误: {exc}")
        return 2
    host = args.host or (settings.host if args.mode == "production" else "127.0.0.1")
    if args.mode == "debug" and host not in LOOPBACK:
        step("❌", f"调试模式只允许绑定 127.0.0.1，拒绝 {host} (调试器可执行任意代码)")
        return 2

    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    step(
        "✅" if in_venv else "⚠️",
        f"Python {sys.version.split()[0]} "
        f"({'虚拟环境' if in_venv else '未使用虚拟环境，请先运行: python3 scripts/bootstrap.py run'})",
    )

    if not _prepare_database(settings, seed=not args.no_seed):
        return 1
    _check_redis(settings)

    from app import create_app

    app = create_app(settings)
    if args.mode == "debug":
        step("✅", f"调试模式: http://{host}:{settings.port} (热重载)")
        # Reached only for a loopback host (checked above): the debugger executes code sent to it.
        app.run(host=host, port=settings.port, debug=host in LOOPBACK)
        return 0

    import signal

    from waitress import serve

    # SIGTERM (service managers, `kill`) exits like Ctrl+C, so the samplers stop and atexit runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    step(
        "✅",
        f"生产模式 (Waitress): http://{host}:{settings.port} "
        f"线程 {settings.waitress_threads} / 连接上限 {settings.waitress_connection_limit}",
    )
    serve(
        app.server,
        host=host,
        port=settings.port,
        threads=settings.waitress_threads,
        connection_limit=settings.waitress_connection_limit,
        ident="o2o-dashboard",
    )
    return 0


def _prepare_database(settings, seed: bool) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    from db.engine import describe_url, make_engine
    from db.migrate import upgrade

    engine = make_engine(settings.database_url)
    where = describe_url(settings.database_url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        step("❌", f"数据库不可用 ({where}): {reason}")
        return False
    step("✅", f"数据库 {where} 已迁移到最新版本")
    if seed:
        from tqdm import tqdm

        from db.seed import database_is_empty, seed_demo

        if database_is_empty(engine):
            step("⏳", f"首次启动: 生成演示数据 ({settings.demo_stores} 家门店 × {settings.demo_days} 天)")
            bar = tqdm(total=1, unit="文件", ncols=90)

            def progress(label: str, done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.set_description(label)
                bar.refresh()

            seed_demo(engine, settings, progress=progress)
            bar.close()
            step("✅", "演示数据已导入")
    engine.dispose()
    return True


def _check_redis(settings) -> None:
    import redis

    try:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        info = client.info("server")
        step("✅", f"Redis {info.get('redis_version')} 可用 ({settings.redis_url})")
    except redis.RedisError as exc:
        step("⚠️", f"Redis 不可用 ({settings.redis_url}): {exc}; 以本地缓存层运行")


if __name__ == "__main__":
    sys.exit(main())
