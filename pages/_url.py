"""The ``Selection`` ⇄ the URL query string, so a copied link reproduces the view and Back /
Forward work.

``?stores=3,5&start=2026-11-21&end=2026-11-27&channels=美团闪购&channels=饿了么``: store ids
comma-separated, one ``channels`` parameter per channel (a channel's name may hold a comma),
"all" the absence of the parameter. Values from a URL are checked against what exists; anything
unknown falls back to the default instead of failing the page. An older link's
``channels=a,b`` still reads as the channels a and b.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import parse_qs, quote_plus

from readmodel.selection import Selection, day


def to_query(selection: Selection | None, extra: dict | None = None) -> str:
    """The query string of ``selection`` (None: no filters) plus page-specific ``extra``
    parameters (None / "" omitted)."""
    pairs: list[tuple[str, str, str]] = []  # (name, value, characters kept as they are)
    if selection is not None:
        if selection.store_ids is not None:
            pairs.append(("stores", ",".join(str(s) for s in selection.store_ids), ","))
        pairs += [("start", selection.start.isoformat(), ""), ("end", selection.end.isoformat(), "")]
        pairs += [("channels", channel, "") for channel in selection.channels or ()]
    for key, value in (extra or {}).items():
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a number input sends 40 back for the 40.0 it was given
        if value is not None and value != "":
            pairs.append((key, str(value), ","))
    return "?" + "&".join(f"{quote_plus(k)}={quote_plus(v, safe=safe)}" for k, v, safe in pairs) if pairs else ""


def link(path: str, selection: Selection, *, stores: tuple[int, ...] | None = None,
         start: dt.date | None = None, end: dt.date | None = None, extra: dict | None = None) -> str:  # fmt: skip
    """``path`` with ``selection`` narrowed to ``stores`` and / or the days ``start``…``end``."""
    changes = {"store_ids": stores, "start": start, "end": end}
    narrowed = dataclasses.replace(selection, **{k: v for k, v in changes.items() if v is not None})
    return path + to_query(narrowed, extra)


def query_params(search: str | None) -> dict:
    """``?a=1&b=2`` → {"a": "1", "b": "2"}, parsed as Dash Pages parses it for ``layout(**query)``
    (a repeated parameter becomes a list), so Back/Forward restores what a reload would."""
    if not search or not search.startswith("?"):
        return {}
    parsed = parse_qs(search[1:], keep_blank_values=True)
    return {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}


def _values(value: object) -> list[str]:
    """A parameter given once (text) or repeated (a list of texts)."""
    return [str(v) for v in value] if isinstance(value, list) else [] if value is None else [str(value)]


def _known(values: list[str], known: set[str]) -> list[str]:
    """Each value that names a known item; a value that does not, split at its commas (store ids,
    an older link's channels) and its known parts kept."""
    found = []
    for value in values:
        found += [value] if value in known else [part for part in value.split(",") if part in known]
    return found


def _day(value: object) -> dt.date | None:
    if isinstance(value, list) or not value:
        return None
    try:
        return day(str(value))
    except ValueError:
        return None


def selection_from_query(query: dict, options: dict, default: tuple[dt.date, dt.date]) -> Selection:
    """The selection a page's query parameters name, validated against ``options``
    (services.diagnosis.filter_options); ``default``: the window when the URL names none."""
    stores = _known(_values(query.get("stores")), {str(s["id"]) for s in options["stores"]})
    channels = _known(_values(query.get("channels")), set(options["channels"]))
    first = _day(options["first_day"]) or default[0]
    last = _day(options["last_day"]) or default[1]
    start, end = _day(query.get("start")), _day(query.get("end"))
    if start is None or end is None or start > end or end < first or start > last:
        start, end = default
    return Selection.build(max(start, first), min(end, last), stores or None, channels or None)
