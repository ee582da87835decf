"""The 数据管理 page's pure helpers, on hand-built previews whose answers are worked out by hand."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from components.import_views import (
    RECENT_HOURS,
    STALL_AFTER_S,
    full_mapping,
    in_list,
    mapping_from_selects,
    size_text,
    stalled,
)


def _field(name: str, source: str | None, how: str) -> dict:
    return {"field": name, "source": source, "how": how}


# 订单ID found by its alias, 实收价格 chosen by hand before, 门店名称 missing, 城市 found exactly
FIELDS = [_field("platform_order_id", "订单号", "alias"), _field("received_price", "到手价", "manual"),
          _field("store_name", None, "missing_required"), _field("city", "城市", "exact")]  # fmt: skip


def test_views001_only_changed_or_manual_fields_become_overrides():
    shown = {"platform_order_id": "订单号", "received_price": "到手价", "store_name": "店铺", "city": "城市"}
    # unchanged alias and exact fields stay with the aliases; the earlier manual choice is kept
    assert mapping_from_selects(shown, FIELDS) == {"received_price": "到手价", "store_name": "店铺"}
    # a found column cleared (不导入) is an override of its own: "" leaves the field unmapped
    cleared = {**shown, "city": ""}
    assert mapping_from_selects(cleared, FIELDS)["city"] == ""
    # a field the page did not show a select for is never sent
    assert "city" not in mapping_from_selects({"store_name": "店铺"}, FIELDS)


def test_views002_saved_mapping_holds_every_field_as_shown():
    shown = {"platform_order_id": "订单号", "received_price": "到手价", "store_name": "", "city": ""}
    # store_name: nothing found, nothing chosen → left out; city: found but cleared → "" (不导入)
    assert full_mapping(shown, FIELDS) == {"platform_order_id": "订单号", "received_price": "到手价", "city": ""}


@pytest.mark.parametrize(("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"),
                                            (20 * 1024 * 1024, "20 MB"), (3 * 1024**3, "3.0 GB")])  # fmt: skip
def test_views003_size_text(size, text):
    assert size_text(size) == text


def test_views004_finished_jobs_stay_listed_for_a_day():
    now = dt.datetime(2026, 12, 3, 12, 0)

    def job(status, hours_ago=None):
        finished = None if hours_ago is None else now - dt.timedelta(hours=hours_ago)
        return SimpleNamespace(status=status, finished_at=finished)

    assert in_list(job("invalid", 100), now) and in_list(job("checked"), now) and in_list(job("running"), now)
    assert in_list(job("succeeded", RECENT_HOURS - 1), now) and in_list(job("failed", 1), now)
    assert not in_list(job("succeeded", RECENT_HOURS + 1), now)
    assert not in_list(job("cancelled", 0), now)


def test_views005_a_file_waiting_with_no_job_at_work_means_no_worker():
    now = dt.datetime(2026, 12, 3, 12, 0)

    def job(status, seconds_ago):
        return SimpleNamespace(status=status, created_at=now - dt.timedelta(seconds=seconds_ago))

    assert stalled([job("uploaded", STALL_AFTER_S + 1)], now)
    assert not stalled([job("uploaded", STALL_AFTER_S - 1)], now)  # the worker polls once a second
    # a long import at work: the files behind it wait their turn
    assert not stalled([job("uploaded", 600), job("running", 700)], now)
    assert not stalled([job("checked", 600), job("queued", 600)], now)
