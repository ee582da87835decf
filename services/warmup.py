"""Cache warmer: computes every page's default view in a background thread.

Operators open a page and mostly keep its default: the last 7 days of data, all stores or the
one store they run. After the app starts and after every import (the data version changes)
the warmer computes those views once, for all stores and for each store, through the same
cached service functions the callbacks call, with the same arguments, so the callbacks find
them in the cache. Its work stays out of the hit rate (``cache.stats.background``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cache.stats import background
from config.rules import ProductRules
from monitoring import BackgroundLoop
from readmodel.selection import Selection
from services.analysis import (
    abnormal_orders,
    channel_analysis,
    distance_analysis,
    product_analysis,
    store_overview,
    time_analysis,
)
from services.diagnosis import default_range, filter_options, store_kpis
from services.runtime import Runtime
from services.todo import daily_trend, store_health, todo_list

log = logging.getLogger(__name__)



def product_splits(rules: ProductRules) -> tuple[float, float]:
    """The quadrant splits 商品分析 passes by default (rounded as the page rounds them)."""
    return round(rules.quadrant_sell_through_split, 4), round(rules.quadrant_margin_split, 4)


# (service, extra arguments exactly as the page callbacks pass them, or a function of the rules
# giving them)
STORE_VIEWS: tuple[tuple[Callable, tuple | Callable], ...] = (
    (store_kpis, ()),  # 门店诊断
    (todo_list, ()),
    (daily_trend, ()),
    (store_health, ()),
    (channel_analysis, ()),  # 门店诊断 abnormal count, 渠道分析
    (abnormal_orders, ()),
    (product_analysis, product_splits),  # 商品分析
    (time_analysis, ()),  # 时段分析
    (distance_analysis, ()),  # 配送分析
)
ALL_STORE_VIEWS = (*STORE_VIEWS, (store_overview, ()))  # 经营总览 lists every store


@dataclass(frozen=True)
class WarmReport:
    views: int
    errors: int
    seconds: float
    complete: bool


def default_views(runtime: Runtime) -> list[tuple[Callable, Selection, tuple]]:
    """Every (service, filters, args) of the default views: all stores first, then each store."""
    options = filter_options(runtime)
    window = default_range(options["last_day"])
    if window is None:
        return []
    everyone = Selection.build(*window)
    rules = runtime.settings.rules.products
    views = [(fn, args(rules) if callable(args) else args) for fn, args in ALL_STORE_VIEWS]
    jobs = [(fn, everyone, args) for fn, args in views]
    for store in options["stores"]:
        one = Selection.build(*window, stores=[store["id"]])
        jobs += [(fn, one, args) for fn, args in views[: len(STORE_VIEWS)]]
    return jobs


class CacheWarmer(BackgroundLoop):
    """Warms the default views when the data version changes, and again every ``rewarm_s``
    (before the disk and Redis copies expire)."""

    thread_name = "cache-warmer"

    def __init__(self, runtime: Runtime, interval_s: float = 5.0, rewarm_s: float = 1800.0,
                 retry_s: float = 30.0) -> None:  # fmt: skip
        super().__init__()
        self.runtime = runtime
        self.interval_s = interval_s
        self.rewarm_s = rewarm_s
        self.retry_s = retry_s
        self.last_report: WarmReport | None = None
        self.warmed_version: tuple[int, str] | None = None  # (data version, database id)

    def warm_once(self) -> WarmReport:
        """Compute every default view not in the cache yet; stops early when asked to stop or
        when the database does not answer."""
        started = time.perf_counter()
        done = errors = 0
        with background():
            jobs = default_views(self.runtime)
            for fn, filters, args in jobs:
                # a database that does not answer would cost each view not cached its bound,
                # holding a compute slot a request may need: try again later
                if self._stop.is_set() or not self.runtime.versions.status().available:
                    break
                try:
                    fn(self.runtime, filters, *args)
                except Exception:  # one failing view must not stop the others
                    errors += 1
                    log.warning("cache warm-up: %s failed", fn.__name__, exc_info=True)
                done += 1
        report = WarmReport(done, errors, time.perf_counter() - started, done == len(jobs))
        self.last_report = report
        return report

    def _run(self) -> None:
        warmed_at = 0.0
        while not self._stop.is_set():
            delay = self.interval_s
            try:
                stamp = self.runtime.versions.stamp()  # a swapped database re-warms too
                stale = time.monotonic() - warmed_at > self.rewarm_s
                if stamp != self.warmed_version or stale:
                    report = self.warm_once()
                    if report.complete and not report.errors:
                        self.warmed_version, warmed_at = stamp, time.monotonic()
                        log.info("缓存预热完成: 数据版本 %s, %d 个视图, %.1f 秒",
                                 stamp[0], report.views, report.seconds)
                    elif not self._stop.is_set():
                        delay = self.retry_s
            except Exception:  # database down while listing the views: try again later
                log.warning("cache warm-up could not list the default views", exc_info=True)
                delay = self.retry_s
            self._stop.wait(delay)
