"""Filters ⇄ URL query string, so a copied link reproduces the view and back/forward work.

``?stores=3,5&start=2026-11-21&end=2026-11-27&channels=美团闪购,饿了么``; "all" is the absence of
the parameter. Values from a URL are checked against what exists; anything unknown falls back
to the default instead of failing the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from readmodel.selection import ALL, day


@dataclass(frozen=True)
class FilterState:
    stores: list[str]
    start: dt.date
    end: dt.date
    channels: list[str]


def to_query(
    stores: list | None, start: str | None, end: str | None, channels: list | None, extra: dict | None = None
) -> str:
    """The query string of the filters plus page-specific ``extra`` parameters (None/"" omitted)."""
    params = {}
    if stores and ALL not in stores:
        params["stores"] = ",".join(str(s) for s in stores)
    if start:
        params["start"] = str(start)[:10]
    if end:
        params["end"] = str(end)[:10]
    if channels and ALL not in channels:
        params["channels"] = ",".join(channels)
    for key, value in (extra or {}).items():
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a number input sends 40 back for the 40.0 it was given
        if value is not None and value != "":
            params[key] = str(value)
    return "?" + urlencode(params, safe=",") if params else ""


def query_params(search: str | None) -> dict:
    """``?a=1&b=2`` → {"a": "1", "b": "2"}, parsed as Dash Pages parses it for ``layout(**query)``
    (a repeated parameter becomes a list), so Back/Forward restores what a reload would."""
    if not search or not search.startswith("?"):
        return {}
    parsed = parse_qs(search[1:], keep_blank_values=True)
    return {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}


def _date(text: str | None) -> dt.date | None:
    """The day of a query parameter (``readmodel.selection.day``), None when it names none."""
    try:
        return day(text) if text else None
    except ValueError:
        return None


def from_query(query: dict, options: dict, default: tuple[dt.date, dt.date]) -> FilterState:
    """Filters from the page's query parameters, validated against ``options``."""
    known_stores = {str(s["id"]) for s in options["stores"]}
    stores = [s for s in str(query.get("stores", "")).split(",") if s in known_stores] or [ALL]
    channels = [c for c in str(query.get("channels", "")).split(",") if c in set(options["channels"])] or [ALL]
    first = _date(options["first_day"]) or default[0]
    last = _date(options["last_day"]) or default[1]
    start, end = _date(query.get("start")), _date(query.get("end"))
    if start is None or end is None or start > end or end < first or start > last:
        start, end = default
    return FilterState(stores, max(start, first), min(end, last), channels)
