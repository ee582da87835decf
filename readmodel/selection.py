"""The one value a view is asked for: an immutable ``Selection`` of stores, channels and days.

Built once from the filter bar or the URL (``Selection.build``), passed whole from the page to
the service to the read model, and hashable into cache keys (primitives only). ``day`` is the one
parser of a date given as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace

ALL = "all"
# What the filter bar can send: a dropdown holds at most one entry per store / channel, an ISO
# date (the picker may add a time) is short. Beyond these a request is hand-made.
MAX_FILTER_ITEMS = 5000
MAX_STORE_ID = 2**63 - 1  # BIGINT: a larger number fails in the database, not here
STORE_ID_DIGITS = len(str(MAX_STORE_ID))
MAX_CHANNEL_CHARS = 64
MAX_DATE_CHARS = 32
# The days a filter may name: the comparison periods (环比, 同比) shift back from the window
# without leaving the calendar, and a window spans at most a century of daily rows (a product's
# every day, 0001-01-01 … 9999-12-31, were 3.6 million rows and 环比 of year 1 an OverflowError).
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)


def is_store_values(value: object) -> bool:
    """A store dropdown's value: None or a list of store ids (digits or int) and "all"."""
    return value is None or (isinstance(value, list) and len(value) <= MAX_FILTER_ITEMS
                             and all(_is_store_id(v) for v in value))  # fmt: skip


def is_channel_values(value: object) -> bool:
    """A channel dropdown's value: None or a list of channel names (and "all")."""
    return value is None or (isinstance(value, list) and len(value) <= MAX_FILTER_ITEMS
                             and all(isinstance(v, str) and len(v) <= MAX_CHANNEL_CHARS for v in value))  # fmt: skip


def is_date_value(value: object) -> bool:
    """A date picker's value: None or an ISO date (a time after it is ignored) FIRST_DAY…LAST_DAY."""
    if value is None:
        return True
    if not isinstance(value, str) or len(value) > MAX_DATE_CHARS:
        return False
    try:
        day(value)
    except ValueError:
        return False
    return True


def day(value: str | dt.date) -> dt.date:
    """The day of an ISO text (a time after the date is ignored) or a date; ValueError when it
    is none or lies outside FIRST_DAY…LAST_DAY."""
    if isinstance(value, dt.datetime):
        value = value.date()
    found = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if not FIRST_DAY <= found <= LAST_DAY:
        raise ValueError(f"day {found} outside {FIRST_DAY}…{LAST_DAY}")
    return found


def _is_store_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= MAX_STORE_ID
    if not isinstance(value, str):
        return False
    digits = len(value) <= STORE_ID_DIGITS and value.isascii() and value.isdigit()
    return value == ALL or (digits and int(value) <= MAX_STORE_ID)


@dataclass(frozen=True)
class Selection:
    """Stores, channels and an inclusive window of days (None = 全部)."""

    start: dt.date
    end: dt.date
    store_ids: tuple[int, ...] | None = None  # None = 全部门店
    channels: tuple[str, ...] | None = None  # None = 全部渠道

    @classmethod
    def build(
        cls,
        start: str | dt.date,
        end: str | dt.date,
        stores: Iterable[object] | None = None,
        channels: Iterable[str] | None = None,
    ) -> Selection:
        """Accept raw UI values (ISO strings, ids as str/int, 'all') and normalise them."""
        start_date = day(start)
        end_date = day(end)
        if end_date < start_date:
            start_date, end_date = end_date, start_date
        return cls(start_date, end_date, _store_ids(stores), _channels(channels))

    def window(self, start: dt.date, end: dt.date) -> Selection:
        """The same stores and channels over ``start``..``end`` (a comparison period, a history)."""
        return replace(self, start=start, end=end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _store_ids(values: Iterable[object] | None) -> tuple[int, ...] | None:
    if values is None:
        return None
    items = [values] if isinstance(values, (str, int)) else list(values)
    if not items or ALL in items:
        return None
    if not all(_is_store_id(v) for v in items):
        raise ValueError("store ids must be whole numbers")
    return tuple(sorted({int(v) for v in items}))


def _channels(values: Iterable[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    if not items or ALL in items:
        return None
    return tuple(sorted({str(v) for v in items}))


def exclusive_all(values: list | None) -> list:
    """Dropdown rule for 全部门店 / 全部渠道: picking a specific item drops "all"; picking "all"
    drops the specific items; nothing left means "all". New picks are appended last."""
    values = list(values or [])
    if not values:
        return [ALL]
    if ALL in values and len(values) > 1:
        return [ALL] if values[-1] == ALL else [v for v in values if v != ALL]
    return values
