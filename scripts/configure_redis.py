"""Show or set the Redis memory limit and eviction policy of the cache tier (L3).

    python scripts/configure_redis.py --show
    python scripts/configure_redis.py [--url redis://host:6379/0] [--maxmemory 1gb] [--policy allkeys-lru] [--persist]

CONFIG SET applies at once but is lost when Redis restarts; ``--persist`` also runs CONFIG
REWRITE, which only works when redis-server was started with a config file. Exit codes: 0 done,
1 Redis refused a command, 2 Redis unreachable or bad settings.
"""

from __future__ import annotations

import argparse
import sys

import redis

from config import Settings, SettingsError


def human_bytes(value: int) -> str:
    """Redis memory sizes as people read them: 0 → '0 (不限制)', 1073741824 → '1gb'."""
    if value == 0:
        return "0 (不限制)"
    for unit, size in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if value >= size:
            amount = value / size
            return f"{amount:g}{unit}" if amount == int(amount) else f"{amount:.2f}{unit} ({value} 字节)"
    return f"{value} 字节"


def read_limits(client: redis.Redis) -> tuple[int, str]:
    values = client.config_get("maxmemory")
    values.update(client.config_get("maxmemory-policy"))
    return int(values["maxmemory"]), str(values["maxmemory-policy"])


def _set_limits(client: redis.Redis, maxmemory: str, policy: str) -> None:
    """Both values in one CONFIG SET (Redis 7+: all or nothing); one by one on older servers."""
    try:
        client.config_set("maxmemory", maxmemory, "maxmemory-policy", policy)
    except redis.ResponseError as exc:
        if "wrong number of arguments" not in str(exc):
            raise
        client.config_set("maxmemory-policy", policy)
        client.config_set("maxmemory", maxmemory)


def _show(label: str, limits: tuple[int, str]) -> None:
    print(f"{label}: maxmemory {human_bytes(limits[0])}, maxmemory-policy {limits[1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="查看或设置 Redis 的 maxmemory 与淘汰策略")
    parser.add_argument("--url", help="Redis URL (默认 O2O_REDIS_URL 或 redis://127.0.0.1:6379/0)")
    parser.add_argument("--maxmemory", default="1gb", help="内存上限, 如 512mb / 1gb (默认 1gb)")
    parser.add_argument("--policy", default="allkeys-lru", help="淘汰策略 (默认 allkeys-lru)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--show", action="store_true", help="只显示当前设置, 不修改")
    mode.add_argument("--persist", action="store_true", help="修改后 CONFIG REWRITE 写回 redis.conf")
    args = parser.parse_args(argv)

    if args.url is None:
        try:
            args.url = Settings.from_env().redis_url
        except SettingsError as exc:
            print(f"❌ 配置错误: {exc}")
            return 2
    client = redis.Redis.from_url(args.url, socket_timeout=3, socket_connect_timeout=3, decode_responses=True)
    try:
        before = read_limits(client)
    except redis.ResponseError as exc:
        print(f"❌ Redis ({args.url}) 拒绝 CONFIG GET: {exc} (托管服务可能禁用了 CONFIG 命令)")
        return 1
    except redis.RedisError as exc:
        print(f"❌ 无法连接 Redis ({args.url}): {exc}")
        return 2

    _show("当前" if args.show else "修改前", before)
    if args.show:
        return 0
    try:
        _set_limits(client, args.maxmemory, args.policy)
    except redis.ResponseError as exc:
        print(f"❌ Redis 拒绝设置 (maxmemory={args.maxmemory}, policy={args.policy}): {exc}")
        return 1
    _show("修改后", read_limits(client))
    if not args.persist:
        print("⚠️ 仅对运行中的 Redis 生效, 重启后恢复; 加 --persist 写回配置文件")
        return 0
    try:
        client.config_rewrite()
    except redis.ResponseError as exc:
        reason = "redis-server 启动时没有指定配置文件" if "without a config file" in str(exc) else str(exc)
        print(f"❌ CONFIG REWRITE 失败: {reason}; 设置已生效但重启后丢失 (请把它写进 redis.conf)")
        return 1
    config_file = client.info("server").get("config_file") or "redis.conf"
    print(f"✅ 已写回配置文件 {config_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
