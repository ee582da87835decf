"""Links between the pages that keep the selection: a store's diagnosis, a 今日必做 item's
evidence (its store's diagnosis over the two weeks the store rules compare, its order's detail
on 渠道分析, 商品分析 on its SKU and store)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from config.rules import TodoRules
from pages._url import link
from readmodel.selection import Selection, day


def store_href(selection: Selection, store_id: int) -> str:
    """The diagnosis of one store over ``selection``'s days and channels."""
    return link("/", selection, stores=(int(store_id),))


def item_href(item: dict, as_of: str | dt.date, channels: Iterable[str] | None, rules: TodoRules) -> str:
    """The view with the item's evidence, for the 今日必做 of ``as_of`` shown for ``channels``
    (``rules``: the windows the rules compared)."""
    last = day(as_of)
    store = (int(item["store_id"]),)
    if item["kind"] == "order":
        extra = {"channel": item["channel"], "order": item["order_id"]}
        return link("/channels", Selection.build(last, last, store, channels), extra=extra)
    if item["kind"] == "sku":
        start = last - dt.timedelta(days=rules.sku_evidence_days - 1)
        return link("/products", Selection.build(start, last, store, channels), extra={"sku": item["product_id"]})
    start = last - dt.timedelta(days=2 * rules.compare_days - 1)  # the two windows the store rules compare
    return link("/", Selection.build(start, last, store, channels))
