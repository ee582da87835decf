"""Load test of a running instance: ``python scripts/load_test.py [users] [--duration 60] ...``.

Simulated users behave like people with a browser: open a page (the HTML, /_dash-layout,
/_dash-dependencies, then the pages router callback that returns the page's layout), let the
page fire its initial callbacks, then change filters (stores, dates, channels — values picked
from the dropdowns' options and the date pickers' allowed range, with an operator's habits: a
few favourite stores each, mostly the default 7-day view ending on the last day), click
buttons, wait 1–3 s,
keep the page's dcc.Interval callbacks running at their own rate, and move to another page.
Nothing is hard-coded per page: pages come from the navbar links, callbacks from
/_dash-dependencies, request bodies from the layouts the server returns (scripts/_dash_protocol).

Prints, per request type, p50/p95/p99, requests/s and failures, the server's cache hit rate over
the run (/metrics before and after) and its peak RSS (/metrics sampled during the run). Exit
code 0 when the thresholds hold, 1 when one is missed, 2 when the run could not start.
Locust (gevent) runs in this process: start it as its own process, not from a test runner.
"""

from __future__ import annotations

import sys
from pathlib import Path

import locust  # noqa: F401  (first: gevent monkey-patches socket/ssl before anything imports them)

# isort: split
import argparse
import copy
import datetime as dt
import ipaddress
import itertools
import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import gevent
from gevent.pool import Group
from locust import FastHttpUser, constant, task
from locust.env import Environment

from scripts import _dash_protocol as dp
from scripts._load_metrics import MetricsWatcher, cache_delta, scrape_quietly
from scripts._load_report import ms, print_report, row

DEFAULT_HOST = "http://127.0.0.1:8051"
MAX_DURATION_S = 1800
MAX_USERS = 1000
CALLBACK_PATH = "/_dash-update-component"
# What a page shows when a section failed (components/messages.py): a 200 that is a failure.
ERROR_MARKERS = ("数据库暂时无法访问", "此模块暂时无法显示")
ALL_VALUES = ("all", "ALL", "全部")
WINDOW_DAYS = (1, 7, 14, 30, 90)  # window lengths a person picks, and how often
WINDOW_WEIGHTS = (10, 60, 10, 15, 5)

log = logging.getLogger("load_test")


# -- discovery ----------------------------------------------------------------------------------
@dataclass
class Page:
    path: str
    callbacks: list[str] = field(default_factory=list)  # labels of callbacks seen on the page


@dataclass
class Site:
    host: str
    deps: list[dict]
    router: dict
    shell: dict
    pages: dict[str, Page]

    @property
    def server_deps(self) -> list[dict]:
        return [d for d in self.deps if dp.is_server_callback(d) and not dp.is_router(d)]


def http_json(url: str, body: dict | None = None, timeout: float = 30.0):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def discover(host: str, only: list[str] | None) -> Site:
    """Pages, callbacks and each page's layout, fetched the way the browser fetches them."""
    shell = http_json(f"{host}/_dash-layout")
    deps = http_json(f"{host}/_dash-dependencies")
    router = next((d for d in deps if dp.is_router(d)), None)
    if router is None:
        raise RuntimeError("/_dash-dependencies 中没有页面路由回调 (不是 Dash pages 应用?)")
    paths = only or dp.nav_paths(shell)
    site = Site(host, deps, router, shell, {p: Page(p) for p in paths})
    for path in paths:  # one visit per page: which callbacks it really has (incl. nested ones)
        visit = Visit(site, path, random.Random(0))
        answer = http_json(f"{host}{CALLBACK_PATH}", dp.router_body(router, path))
        visit.load(answer)
        for wave in visit.initial_waves():
            for dep, body in wave:
                visit.apply(http_json(f"{host}{CALLBACK_PATH}", body))
                visit.seen.add(dp.label(dep))
        for dep in site.server_deps:
            if dp.callback_bodies(dep, visit.state):
                visit.seen.add(dp.label(dep))
        site.pages[path].callbacks = sorted(visit.seen)
    return site


# -- one open page ------------------------------------------------------------------------------
class Visit:
    """The state of one open page in one simulated browser."""

    def __init__(self, site: Site, path: str, rng: random.Random, habits: Habits | None = None) -> None:
        self.site = site
        self.path = path
        self.rng = rng
        self.habits = habits or Habits(rng)
        self.state = dp.PageState()
        self.content_keys: set[str] = set()
        self.fired: set[str] = set()
        self.seen: set[str] = set()
        self.timers: dict[str, float] = {}
        self.in_flight: set[str] = set()

    def load(self, router_answer: dict) -> None:
        content = router_answer["response"][dp.ROUTER_CONTENT]["children"]
        self.state.add_tree(copy.deepcopy(self.site.shell))
        before = set(self.state.components)
        self.state.add_tree(content)
        self.content_keys = set(self.state.components) - before
        dp.set_location(self.state, self.site.host, self.path)
        now = time.monotonic()
        for key, component in self.state.components.items():
            if (component.namespace, component.type) == dp.INTERVAL and not component.props.get("disabled"):
                self.timers[key] = now + component.props.get("interval", 1000) / 1000

    def apply(self, answer: dict | None) -> set[str]:
        """Apply a response; the keys of components it added."""
        if not answer:
            return set()
        before = set(self.state.components)
        self.state.apply(answer)
        added = set(self.state.components) - before
        self.content_keys |= added
        return added

    def initial_waves(self, limit: int = 3):
        """Callbacks the renderer fires because their components appeared: first for the page's
        layout, then for components that earlier callbacks rendered."""
        fresh = set(self.content_keys)
        for _ in range(limit):
            wave = []
            for dep in self.site.server_deps:
                if dep.get("prevent_initial_call") or dep["output"] in self.fired:
                    continue
                if not {t.key for t in dp.inputs_of(dep, self.state)} & fresh:
                    continue
                bodies = dp.callback_bodies(dep, self.state)
                if bodies:
                    self.fired.add(dep["output"])
                    wave.extend((dep, body) for body in bodies)
            if not wave:
                return
            before = set(self.state.components)
            yield wave
            fresh = set(self.state.components) - before

    def triggered(self, triggers: list[dp.Trigger]) -> list[tuple[dict, dict]]:
        calls = []
        for dep in self.site.server_deps:
            calls.extend((dep, body) for body in dp.callback_bodies(dep, self.state, triggers))
        return calls

    def due_intervals(self, now: float) -> list[dp.Trigger]:
        """Intervals whose tick has come, like setInterval; a tick is skipped while the previous
        request of that interval is still unanswered (bounded, never a pile-up)."""
        due = []
        for key, at in list(self.timers.items()):
            component = self.state.components.get(key)
            if component is None:
                del self.timers[key]
                continue
            if at <= now:
                period = component.props.get("interval", 1000) / 1000
                self.timers[key] = at + period * (1 + int((now - at) // period))
                if key not in self.in_flight:
                    component.props["n_intervals"] = (component.props.get("n_intervals") or 0) + 1
                    due.append(dp.Trigger(key, "n_intervals"))
        return due

    def next_timer(self) -> float | None:
        return min(self.timers.values(), default=None)

    # -- what a person changes -------------------------------------------------------------
    def actions(self) -> list[tuple[float, str, str]]:
        """(weight, component key, kind) of every control on the page that feeds a callback."""
        found: dict[tuple[str, str], float] = {}
        for dep in self.site.server_deps:
            for trigger in dp.inputs_of(dep, self.state):
                component = self.state.components[trigger.key]
                kind = control_kind(component, trigger.prop)
                if kind is not None:
                    found[(trigger.key, kind)] = 0.25 if kind == "click" else 1.0
        return [(weight, key, kind) for (key, kind), weight in sorted(found.items())]

    def change(self, key: str, kind: str) -> list[dp.Trigger]:
        """Change one control like a person would; the props that changed."""
        props = self.state.components[key].props
        if kind == "options":
            props["value"] = pick_options(props, self.rng, self.habits)
            return [dp.Trigger(key, "value")]
        if kind == "range":
            props["start_date"], props["end_date"] = pick_range(props, self.rng)
            return [dp.Trigger(key, "start_date"), dp.Trigger(key, "end_date")]
        if kind == "date":
            props["date"] = pick_range(props, self.rng)[1]
            return [dp.Trigger(key, "date")]
        props["n_clicks"] = (props.get("n_clicks") or 0) + 1
        return [dp.Trigger(key, "n_clicks")]


def control_kind(component: dp.Component, prop: str) -> str | None:
    if prop == "value" and "options" in component.props:
        return "options"
    if prop in ("start_date", "end_date"):
        return "range"
    if prop == "date" and component.type == "DatePickerSingle":
        return "date"
    if prop == "n_clicks":
        return "click"
    return None


def option_values(options) -> list:
    if isinstance(options, dict):
        return list(options)
    values = []
    for option in options or []:
        if isinstance(option, dict):
            if not option.get("disabled"):
                values.append(option.get("value"))
        else:
            values.append(option)
    return values


class Habits:
    """What one operator keeps coming back to: for every option list (the store dropdowns of all
    pages share one) a few favourite values, drawn with a Zipf-like weight so that some stores are
    everybody's concern; picks come from the favourites. Without habits every pick would be a
    view nobody else asks for, which is not how an office uses a dashboard."""

    FAVOURITES = 3

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.known: dict[tuple, list] = {}

    def favourites(self, values: list) -> list:
        key = tuple(map(str, values))
        if key not in self.known:
            weights = [1 / (rank + 1) for rank in range(len(values))]
            chosen: list = []
            while len(chosen) < min(self.FAVOURITES, len(values)):
                pick = self.rng.choices(values, weights=weights)[0]
                if pick not in chosen:
                    chosen.append(pick)
            self.known[key] = chosen
        return self.known[key]


def pick_options(props: dict, rng: random.Random, habits: Habits | None = None):
    """A new dropdown/checklist value from its options (from the user's favourites when
    ``habits`` are given); 'all' alone about a third of the time."""
    values = option_values(props.get("options"))
    if not values:
        return props.get("value")
    everything = [v for v in values if v in ALL_VALUES]
    specific = [v for v in values if v not in ALL_VALUES] or values
    if habits is not None and len(specific) > Habits.FAVOURITES:
        specific = habits.favourites(specific)
    multi = bool(props.get("multi")) or isinstance(props.get("value"), list)
    if everything and rng.random() < 0.35:
        return [everything[0]] if multi else everything[0]
    if not multi:
        return rng.choice(specific)
    return rng.sample(specific, k=min(len(specific), rng.choice((1, 1, 1, 2, 3))))


def _day(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def pick_range(props: dict, rng: random.Random) -> tuple[str, str]:
    """A window of 1–90 days inside min/max_date_allowed: mostly the last 7 days (the default
    view), ending on the last day of data four times in five, else a few days earlier."""
    last = _day(props.get("max_date_allowed")) or _day(props.get("end_date")) or dt.date.today()
    first = _day(props.get("min_date_allowed")) or last - dt.timedelta(days=365)
    span = (last - first).days
    back = 0 if rng.random() < 0.8 else 1 + int(rng.expovariate(1 / 3))
    end = last - dt.timedelta(days=min(span, back))
    start = max(first, end - dt.timedelta(days=rng.choices(WINDOW_DAYS, weights=WINDOW_WEIGHTS)[0] - 1))
    return start.isoformat(), end.isoformat()


# -- the simulated user -------------------------------------------------------------------------
class DashUser(FastHttpUser):
    site: Site  # set before the run
    wait_time = constant(0)  # think time (1–3 s) is spent inside the task; intervals tick meanwhile
    concurrency = 6  # a browser's connections per host
    network_timeout = 60.0
    connection_timeout = 10.0
    seed = 0
    _users = itertools.count(1)
    _pages = itertools.count()  # shared: users take the pages in turn, so every page gets visitors

    def on_start(self) -> None:
        self.rng = random.Random(self.seed * 100_003 + next(DashUser._users))
        self.habits = Habits(self.rng)
        self.visit: Visit | None = None
        self.ticker = None
        self.open(self.next_page(), full=True)

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.kill(block=False)

    def next_page(self) -> str:
        paths = list(self.site.pages)
        return paths[next(DashUser._pages) % len(paths)]

    @task
    def browse(self) -> None:
        for _ in range(self.rng.randint(2, 5)):
            self.think()
            self.interact()
        self.think()
        self.open(self.next_page(), full=self.rng.random() < 0.15)

    def open(self, path: str, full: bool) -> None:
        """A full load (HTML, layout, dependencies) or a navbar click (router callback only)."""
        self.on_stop()
        self.visit = None
        if full:
            for url in (path, "/_dash-layout", "/_dash-dependencies"):
                with self.client.get(url, name=url, catch_response=True) as response:
                    if response.status_code != 200:
                        response.failure(f"HTTP {response.status_code} {response.error or ''}".strip())
        answer = self.post(dp.router_body(self.site.router, path), f"layout:{path}")
        if answer is None:
            return
        visit = Visit(self.site, path, self.rng, self.habits)
        visit.load(answer)
        self.visit = visit
        self.ticker = gevent.spawn(self.tick, visit)
        for wave in visit.initial_waves():
            self.fire(wave, visit)

    def tick(self, visit: Visit) -> None:
        """The page's dcc.Interval components, firing in the background while the person reads."""
        while True:
            due = visit.due_intervals(time.monotonic())
            if due:
                gevent.spawn(self.fire_interval, visit, due)
            upcoming = visit.next_timer()
            if upcoming is None:
                return
            gevent.sleep(max(0.05, upcoming - time.monotonic()))

    def fire_interval(self, visit: Visit, due: list[dp.Trigger]) -> None:
        keys = {t.key for t in due}
        visit.in_flight |= keys
        try:
            self.fire(visit.triggered(due), visit)
        finally:
            visit.in_flight -= keys

    def think(self) -> None:
        gevent.sleep(self.rng.uniform(1.0, 3.0))

    def interact(self) -> None:
        visit = self.visit
        if visit is None:
            return
        actions = visit.actions()
        if not actions:
            return
        _weight, key, kind = self.rng.choices(actions, weights=[a[0] for a in actions])[0]
        self.fire(visit.triggered(visit.change(key, kind)), visit)

    def fire(self, calls: list[tuple[dict, dict]], visit: Visit) -> None:
        """Send callbacks in parallel, as the renderer does, and apply their answers to the page
        they were sent from."""
        group = Group()
        jobs = [group.spawn(self.post, body, dp.label(dep)) for dep, body in calls]
        group.join()
        for job in jobs:
            visit.apply(job.value)

    def post(self, body: dict, name: str) -> dict | None:
        with self.client.post(CALLBACK_PATH, json=body, name=name, catch_response=True) as response:
            if response.status_code == 204:  # PreventUpdate: nothing to change
                response.success()
                return None
            if response.status_code != 200:
                reason = response.error if response.status_code == 0 else (response.text or "")[:120]
                response.failure(f"HTTP {response.status_code}: {reason}")
                return None
            text = response.text or ""
            marker = next((m for m in ERROR_MARKERS if m in text), None)
            if marker:
                response.failure(f"页面显示错误提示: {marker}")
                return None
            try:
                answer = json.loads(text)
            except ValueError:
                response.failure("响应不是 JSON")
                return None
            response.success()
            return answer


# -- run and report -----------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    name = urlsplit(host).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    host = args.host.rstrip("/")
    try:
        site = discover(host, args.pages)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        print(f"❌ 无法读取 {host} 的页面与回调: {exc}")
        return 2
    print(f"压测 {host}: {args.users} 用户, 每秒启动 {args.spawn_rate}, {args.duration:.0f} s; 页面:")
    for page in site.pages.values():
        print(f"  {page.path}: {len(page.callbacks)} 个回调 ({', '.join(page.callbacks)})")

    DashUser.site = site
    DashUser.seed = args.seed
    env = Environment(user_classes=[DashUser], host=host)
    runner = env.create_local_runner()
    before = scrape_quietly(host)
    watcher = MetricsWatcher(host)
    watcher.start()
    started = time.monotonic()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    gevent.spawn(progress, env, started, args.duration)
    gevent.spawn_later(args.duration, runner.quit)
    runner.greenlet.join()
    elapsed = time.monotonic() - started
    watcher.stop()
    after = scrape_quietly(host)

    stats = env.stats
    rows = [row(e, elapsed) for _key, e in sorted(stats.entries.items(), key=lambda kv: (kv[0][0], kv[0][1]))]
    total = row(stats.total, elapsed) | {"method": "", "name": "合计"}
    error_rate = stats.total.num_failures / stats.total.num_requests if stats.total.num_requests else 1.0
    exceptions = sum(e["count"] for e in runner.exceptions.values())
    checks = [{"ok": stats.total.num_requests > 0, "text": f"共 {stats.total.num_requests} 个请求"},
              {"ok": error_rate <= args.max_error_rate,
               "text": f"错误率 {error_rate * 100:.2f}% (上限 {args.max_error_rate * 100:.2f}%)"},
              {"ok": exceptions == 0, "text": f"压测脚本异常 {exceptions} 次"}]  # fmt: skip
    if args.p95_ms is not None:
        p95 = total["p95_ms"]
        ok = p95 is not None and p95 <= args.p95_ms
        checks.append({"ok": ok, "text": f"p95 {ms(p95)} ms (上限 {args.p95_ms:g} ms)"})
    report = {
        "host": host,
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "duration_s": round(elapsed, 1),
        "started_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "pages": {p.path: p.callbacks for p in site.pages.values()},
        "requests": rows,
        "total": total,
        "error_rate": error_rate,
        "errors": [{"method": e.method, "name": e.name, "error": str(e.error), "occurrences": e.occurrences}
                   for e in sorted(stats.errors.values(), key=lambda e: -e.occurrences)],
        "exceptions": [{"count": e["count"], "msg": e["msg"], "traceback": e["traceback"][-2000:]}
                       for e in runner.exceptions.values()],
        "cache": cache_delta(before, after) if before and after else None,
        "peak_rss_bytes": watcher.peak_rss,
        "peak_total_rss_bytes": watcher.peak_total_rss,
        "peak_private_bytes": watcher.peak_private,
        "peak_footprint_bytes": watcher.peak_footprint,
        "workers": watcher.workers,
        "checks": checks,
        "passed": all(c["ok"] for c in checks),
    }  # fmt: skip
    print_report(report)
    for exception in report["exceptions"][:3]:
        print(f"  异常 {exception['count']}×: {exception['traceback']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"报告已写入 {args.json}")
    return 0 if report["passed"] else 1


def progress(env: Environment, started: float, duration: float) -> None:
    while True:
        gevent.sleep(10)
        elapsed = time.monotonic() - started
        if elapsed > duration + 1:
            return
        total = env.stats.total
        print(f"[{elapsed:4.0f} s] {env.runner.user_count} 用户, {total.num_requests / elapsed:.1f} req/s, "
              f"失败 {total.num_failures}", flush=True)  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="门店诊断看板压测 (Locust, 无界面)")
    parser.add_argument("users", nargs="?", type=int, help="并发用户数 (默认 30)")
    parser.add_argument("--users", dest="users_opt", type=int, help="并发用户数 (同位置参数)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="每秒启动的用户数 (默认 5)")
    parser.add_argument("--duration", type=float, default=60.0, help=f"持续秒数 (默认 60, 最多 {MAX_DURATION_S})")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"被测实例 (默认 {DEFAULT_HOST})")
    parser.add_argument("--allow-remote", action="store_true", help="允许压测非本机地址 (只压测你负责的服务器)")
    parser.add_argument("--pages", nargs="+", help="只访问这些页面路径 (默认: 导航栏中的全部页面)")
    parser.add_argument("--p95-ms", type=float, help="全部请求 p95 的上限 (毫秒); 超过则退出码 1")
    parser.add_argument("--max-error-rate", type=float, default=0.01, help="失败率上限 (默认 0.01 = 1%%)")
    parser.add_argument("--seed", type=int, default=0, help="随机种子 (筛选值与页面顺序)")
    parser.add_argument("--json", help="把完整结果写入此 JSON 文件")
    args = parser.parse_args(argv)
    args.users = args.users_opt or args.users or 30
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"用户数应在 1..{MAX_USERS}")
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration 应在 (0, {MAX_DURATION_S}] 秒")
    if args.spawn_rate <= 0:
        parser.error("--spawn-rate 应大于 0")
    if not is_loopback(args.host) and not args.allow_remote:
        parser.error(f"拒绝压测非本机地址 {args.host} (需要 --allow-remote)")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
