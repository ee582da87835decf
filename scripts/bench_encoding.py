"""Benchmark: encoding Dash responses to JSON, Dash's own encoder vs serving.encoding.

    .venv/bin/python scripts/bench_encoding.py --database-url postgresql://postgres@127.0.0.1:5432/o2o_load

Renders real responses from the database (the 商品分析 body and the 门店诊断 page layout for
the last 7 days of all stores) and encodes each with ``dash._utils.to_json`` (plotly's
``to_json_plotly``, orjson engine) and with ``serving.encoding.to_json``; prints p50 per
encoding and checks that both give the same JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time

from dash import _utils

from app import create_app, stop_app
from config import Settings
from db.engine import reading
from db.queries import data_date_bounds
from readmodel.selection import Selection
from scripts._bench import machine
from services.analysis import product_analysis
from services.runtime import EXTENSION_KEY
from serving import encoding


def _p50_ms(encode, value, repeat: int) -> float:
    encode(value)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        encode(value)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env({}, database_url=args.database_url, redis_url="redis://127.0.0.1:1/0",
                                     data_dir=data_dir)  # fmt: skip
        app = create_app(settings, start_monitors=False)
        try:
            from pages import diagnosis, products

            runtime = app.server.extensions[EXTENSION_KEY]
            with reading(runtime.engine) as conn:
                _first, last = data_date_bounds(conn)
            week = Selection.build(last - dt.timedelta(days=6), last)
            with app.server.test_request_context("/"):
                values = {
                    "商品分析 body": {"multi": True, "response": {"products-body": {
                        "children": products._render(product_analysis(runtime, week, 0.5, 0.25))}}},
                    "门店诊断 layout": diagnosis.layout(),
                }  # fmt: skip
            print(f"# bench_encoding {dt.datetime.now():%Y-%m-%d %H:%M} — {machine()}")
            for name, value in values.items():
                text = encoding.to_json(value)
                same = json.loads(text) == json.loads(_utils.to_json(value))
                dash_ms = _p50_ms(_utils.to_json, value, args.repeat)
                ours_ms = _p50_ms(encoding.to_json, value, args.repeat)
                print(f"{name:<16} {len(text.encode()) / 1024:6.0f} KB  Dash {dash_ms:6.2f} ms  one pass "
                      f"{ours_ms:6.2f} ms  ({dash_ms / ours_ms:4.1f}×, same JSON: {same})")  # fmt: skip
        finally:
            stop_app(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
