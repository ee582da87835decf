"""View-models of the store diagnosis page (门店诊断)."""

from __future__ import annotations

import datetime as dt

from analytics.kpis import PERIODS, comparison_periods, coverage, kpi_cards
from cache import cached
from db import queries
from db.engine import reading
from readmodel import totals
from readmodel.selection import Selection, day
from services.runtime import Runtime


@cached("reference")
def filter_options(runtime: Runtime) -> dict:
    """Stores, channels and the data's date bounds (ISO dates) for the filter bar."""
    with reading(runtime.engine) as conn:
        stores = queries.stores(conn)
        channels = queries.channels(conn)
        first, last = queries.data_date_bounds(conn)
    return {
        "stores": [{"id": int(r.id), "name": r.name, "city": r.city} for r in stores.itertuples(index=False)],
        "channels": channels,
        "first_day": first.isoformat() if first else None,
        "last_day": last.isoformat() if last else None,
    }


def default_range(last_day: str | None, days: int = 7) -> tuple[dt.date, dt.date] | None:
    """The last ``days`` days of data, ending on the last day (ISO) that has orders."""
    if last_day is None:
        return None
    end = day(last_day)
    return end - dt.timedelta(days=days - 1), end


@cached("kpis")
def store_kpis(runtime: Runtime, filters: Selection) -> dict:
    """The six KPI cards for the filters, with 环比 and 同比 (``analytics.kpis.kpi_cards``),
    each withheld when the imported data does not cover its periods for every selected store."""
    periods = comparison_periods(filters.start, filters.end)
    earliest = min(p.start for p in periods.values())
    daily = totals.daily_totals(runtime.tables, filters.window(earliest, filters.end))
    windows = {name: (periods[name].start, periods[name].end) for name in PERIODS}
    skus = totals.active_sku_counts(runtime.tables, filters, windows)
    spans = totals.store_data_spans(runtime.tables)
    coverages = {name: coverage(spans, period, filters.store_ids) for name, period in periods.items()}
    return kpi_cards(daily, skus, periods, coverages)
