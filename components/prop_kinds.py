"""What each component property may carry in a callback request, declared where the callback
that reads it is registered.

A browser only ever sends what the components hold (a dropdown's list of ids, a picker's ISO
date, a click count), but anyone can post a hand-made body: a dict where a store id belongs, a
string where a number is divided. The request guard (web/callback_body.py) checks every input
and state of a callback request against these kinds before Dash calls the callback, so no
callback has to defend itself, and a property nobody declared is refused (the test
test_guard001 keeps every callback's inputs declared).

Ids are declared as used in callbacks: a string, or a pattern-matching dict, keyed by its
``type`` (every dict id of this project has one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from readmodel.selection import is_channel_values, is_date_value, is_store_values

MAX_TEXT_CHARS = 128 * 1024  # a query string naming thousands of stores; a title, a measure
MAX_ROW_ID = 2**63 - 1


@dataclass(frozen=True)
class Kind:
    """A named check of one property value (None, an unset property, always passes)."""

    name: str
    check: Callable[[object], bool]

    def accepts(self, value: object) -> bool:
        return value is None or self.check(value)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _row_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ROW_ID


def _rows(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(row, dict) for row in value)


def _column(spec: object) -> bool:
    """An AG Grid column definition as components.grid.column writes it (read by the export)."""
    return (isinstance(spec, dict) and isinstance(spec.get("field"), str)
            and all(isinstance(spec.get(key), str | None) for key in ("headerName", "type"))
            and isinstance(spec.get("context"), dict | None))  # fmt: skip


def _cell(value: object) -> bool:
    """AG Grid's cellClicked: {value, colId, rowIndex, rowId, timestamp} (value: any cell value)."""
    return (isinstance(value, dict) and len(value) <= 8
            and isinstance(value.get("colId"), str | None) and isinstance(value.get("rowId"), str | int | None)
            and all(len(v) <= MAX_TEXT_CHARS for v in value.values() if isinstance(v, str)))  # fmt: skip


TEXT = Kind("text", lambda v: isinstance(v, str) and len(v) <= MAX_TEXT_CHARS)
NUMBER = Kind("number", _number)
COUNT = Kind("count", _count)  # n_clicks, n_intervals
FLAG = Kind("flag", lambda v: isinstance(v, bool))
ROW_ID = Kind("row id", _row_id)  # a database id kept in a dcc.Store
ROWS = Kind("rows", _rows)  # AG Grid rowData / virtualRowData / selectedRows
CELL = Kind("cell click", _cell)  # AG Grid cellClicked
COLUMNS = Kind("columns", lambda v: isinstance(v, list) and all(_column(c) for c in v))
STORES = Kind("store ids", lambda v: is_store_values(v))
DATE = Kind("date", lambda v: is_date_value(v))
CHANNELS = Kind("channels", lambda v: is_channel_values(v))

_declared: dict[tuple[str, str], Kind] = {}


def key(component_id: object) -> str | None:
    """The registry key of an id: the string itself, a dict id's ``type``; None for anything else."""
    if isinstance(component_id, str):
        return component_id
    if isinstance(component_id, dict) and isinstance(component_id.get("type"), str):
        return "type=" + component_id["type"]
    return None


def declare(component_id: str | dict, prop: str, kind: Kind) -> None:
    """``component_id.prop`` carries ``kind`` (declared again with the same kind: no change)."""
    name = key(component_id)
    if name is None:
        raise ValueError(f"cannot declare a kind for id {component_id!r}")
    _declared[(name, prop)] = kind


def kind_of(component_id: object, prop: str) -> Kind | None:
    name = key(component_id)
    return None if name is None else _declared.get((name, prop.split("@")[0]))
