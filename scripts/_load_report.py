"""The load test's report: one row per request type from Locust's statistics, and the printed
summary (latencies, failures, the server's cache hit rate and costliest views, peak RSS, checks)."""

from __future__ import annotations


def row(entry, elapsed: float) -> dict:
    return {
        "method": entry.method or "",
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "p50_ms": entry.get_response_time_percentile(0.5) if entry.num_requests else None,
        "p95_ms": entry.get_response_time_percentile(0.95) if entry.num_requests else None,
        "p99_ms": entry.get_response_time_percentile(0.99) if entry.num_requests else None,
        "avg_ms": round(entry.avg_response_time, 1),
        "max_ms": round(entry.max_response_time or 0, 1),
        "rps": round(entry.num_requests / elapsed, 2) if elapsed else None,
    }


def ms(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def print_report(report: dict) -> None:
    header = f"{'请求':<78} {'次数':>7} {'失败':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'最大':>7} {'req/s':>7}"
    print(header)
    for r in [*report["requests"], report["total"]]:
        name = f"{r['method']} {r['name']}".strip()[:80]
        print(f"{name:<80} {r['requests']:>7} {r['failures']:>5} {ms(r['p50_ms']):>6} {ms(r['p95_ms']):>6} "
              f"{ms(r['p99_ms']):>6} {ms(r['max_ms']):>7} {r['rps'] or 0:>7.1f}")  # fmt: skip
    for error in report["errors"][:8]:
        print(f"  失败 {error['occurrences']}× {error['method']} {error['name']}: {error['error'][:160]}")
    cache = report["cache"]
    if cache and cache["hit_rate"] is not None:
        tiers = ", ".join(f"{t} {v['hit_rate'] * 100:.1f}%" for t, v in cache["tiers"].items() if v["hit_rate"])
        answered = cache["requests"] - cache["computed"]
        print(f"服务器缓存命中率 (本次运行): {cache['hit_rate'] * 100:.1f}% "
              f"({answered:.0f}/{cache['requests']:.0f} 次未查库; 各层 {tiers})")  # fmt: skip
        if cache.get("view_hit_rate") is not None:
            print(f"  视图命中率 {cache['view_hit_rate'] * 100:.1f}% (另有 {cache['assembled']:.0f} 次由缓存的"
                  "明细块在内存中汇总, 未查库)")  # fmt: skip
        costly = sorted(cache.get("views", {}).items(), key=lambda kv: -kv[1]["compute_s"])[:8]
        for view, v in costly:
            print(f"  {view:<46} 请求 {v['requests']:>5.0f}  查库计算 {v['computed']:>4.0f}  "
                  f"内存汇总 {v.get('assembled', 0):>4.0f}  计算耗时 {v['compute_s']:6.1f} s")  # fmt: skip
    else:
        print("服务器缓存命中率: 无数据 (/metrics 没有 o2o_cache_* 或本次没有缓存请求)")
    rss = report["peak_rss_bytes"]
    print(f"服务器峰值 RSS: {rss / 1024**2:.0f} MB" if rss else "服务器峰值 RSS: 无数据 (无 o2o_process_rss_bytes)")
    if report.get("peak_total_rss_bytes"):
        print(f"  {report['workers']} 个工作进程: 单个进程峰值 {rss / 1024**2:.0f} MB, "
              f"合计峰值 {report['peak_total_rss_bytes'] / 1024**2:.0f} MB")
    if report.get("peak_private_bytes"):
        private = report["peak_private_bytes"] / 1024**2
        print(f"  私有内存 (RSS − 共享的库文件与映射明细块) 单个进程峰值 {private:.0f} MB; "
              f"全部进程实际占用峰值 {report['peak_footprint_bytes'] / 1024**2:.0f} MB (私有相加 + 共享部分一份)")
    for check in report["checks"]:
        print(f"{'✅' if check['ok'] else '❌'} {check['text']}")
