"""The load test's view of the server: /metrics scraped (Prometheus text), the cache counters'
change over a run, and the server's peak RSS sampled while it runs."""

from __future__ import annotations

import logging
import urllib.request

import gevent

METRICS_EVERY_S = 2.0
log = logging.getLogger("load_test")


def scrape(host: str) -> dict[tuple[str, str], float]:
    """/metrics samples by (name, tier, view or pid label)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{host}/metrics", timeout=30) as response:
        text = response.read().decode()
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            values[(sample.name, labels.get("tier", labels.get("view", labels.get("pid", ""))))] = sample.value
    return values


def cache_delta(before: dict, after: dict) -> dict | None:
    def delta(name: str, tier: str = "") -> float:
        return after.get((name, tier), 0.0) - before.get((name, tier), 0.0)

    requests = delta("o2o_cache_requests_total")
    if ("o2o_cache_requests_total", "") not in after:
        return None
    computed = delta("o2o_cache_computed_total")
    assembled = delta("o2o_cache_assembled_total")
    tiers = {}
    for tier in sorted({t for (n, t) in after if n == "o2o_cache_hits_total"}):
        hits, misses = delta("o2o_cache_hits_total", tier), delta("o2o_cache_misses_total", tier)
        lookups = hits + misses
        tiers[tier] = {"hits": hits, "lookups": lookups, "hit_rate": hits / lookups if lookups else None}
    views = {}
    for view in sorted({v for (n, v) in after if n == "o2o_cache_view_requests_total"}):
        asked, missed = delta("o2o_cache_view_requests_total", view), delta("o2o_cache_view_computed_total", view)
        if asked:
            views[view] = {"requests": asked, "computed": missed,
                           "assembled": delta("o2o_cache_view_assembled_total", view),
                           "compute_s": delta("o2o_cache_view_compute_seconds_total", view)}  # fmt: skip
    return {"requests": requests, "computed": computed, "assembled": assembled,
            "hit_rate": (requests - computed) / requests if requests else None,
            "view_hit_rate": (requests - computed - assembled) / requests if requests else None, "tiers": tiers,
            "views": views}  # fmt: skip


class MetricsWatcher:
    """Samples the server's RSS during the run: the largest serving process and, with several
    workers (o2o_worker_rss_bytes per pid), all of them together. Where the server reports the
    shared part (file pages: libraries and the mapped read-model tables, one copy in the machine's memory
    whatever the number of workers), also the largest private part (RSS − shared) and the
    workers' footprint: their private parts plus the largest shared part once."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.peak_rss: float | None = None
        self.peak_total_rss: float | None = None
        self.peak_private: float | None = None
        self.peak_footprint: float | None = None
        self.workers = 1
        self.errors = 0
        self._greenlet = None

    def _loop(self) -> None:
        while True:
            try:
                values = scrape(self.host)
                workers = [v for (name, _), v in values.items() if name == "o2o_worker_rss_bytes"]
                rss = values.get(("o2o_process_rss_bytes", ""))
                if workers:
                    self.workers = max(self.workers, len(workers))
                    rss = max(workers)
                    self.peak_total_rss = max(self.peak_total_rss or 0.0, sum(workers))
                if rss is not None:
                    self.peak_rss = max(self.peak_rss or 0.0, rss)
                self._private(values)
            except (OSError, ValueError):
                self.errors += 1
            gevent.sleep(METRICS_EVERY_S)

    def _private(self, values: dict) -> None:
        rss = {label: v for (name, label), v in values.items() if name == "o2o_worker_rss_bytes"}
        shared = {label: v for (name, label), v in values.items() if name == "o2o_worker_shared_bytes"}
        if not rss and ("o2o_process_shared_bytes", "") in values:
            rss, shared = {"": values[("o2o_process_rss_bytes", "")]}, {"": values[("o2o_process_shared_bytes", "")]}
        private = [rss[pid] - shared[pid] for pid in rss if pid in shared]
        if private:
            self.peak_private = max(self.peak_private or 0.0, max(private))
            self.peak_footprint = max(self.peak_footprint or 0.0, sum(private) + max(shared.values()))

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()



def scrape_quietly(host: str, tries: int = 3) -> dict | None:
    """/metrics, retried: right after the run the server may still be answering queued requests."""
    for attempt in range(tries):
        try:
            return scrape(host)
        except (OSError, ValueError) as exc:
            log.warning("/metrics 读取失败 (%d/%d): %s", attempt + 1, tries, exc)
            gevent.sleep(2)
    return None
