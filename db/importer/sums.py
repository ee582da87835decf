"""Figures the importer computes from several cells must fit their database columns too.

Each cell can be within its range while a sum of them is not (two lines of 6,000,000,000 make
an order's 实收 of 12,000,000,000, above NUMERIC(12,2)). Checked here, on the same formulas the
loader stores: a defaulted line 利润额, every order's totals (analytics.formulas.order_totals) and
the file's own store-day totals in the daily aggregates. What stored orders of the same
store-day add on top is caught when writing (the import is then rejected without a row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.formulas import MARKETING_COLUMNS, order_totals
from db.export_format import BY_NAME
from db.importer.aggregates import ORDER_AGGREGATES
from db.importer.limits import cell_limits, day_limits, order_limits
from db.importer.report import ValidationReport

FIGURE_NAMES = {  # docs/METRICS.md §2
    "items_quantity": "商品数量",
    "items_revenue": "实收",
    "items_list_amount": "原价金额",
    "items_cost": "商品成本",
    "items_profit": "商品利润",
    "items_discount": "商品减免",
    "platform_fee": "平台服务费",
    "marketing_cost": "营销成本",
    "delivery_net_cost": "配送净成本",
    "actual_profit": "订单实际利润",
}
ORDER_INPUTS = (
    "service_fee", "commission", "delivery_fee", "user_delivery_fee", "corporate_rebate",
    *[c for c in MARKETING_COLUMNS if c != "items_discount"], "expected_income", "packaging_fee",
)  # fmt: skip
ITEM_INPUTS = ("received_price", "quantity", "list_price", "cost", "profit", "item_discount")
LISTED_ROWS = 10


def check_computed_figures(
    lines: pd.DataFrame,
    profit_defaulted: np.ndarray,
    order_key: list[str],
    report: ValidationReport,
    days: DayTotals | None = None,
) -> None:
    """Report every computed figure that would not fit its column, naming the rows it comes from.
    Cells that failed are NaN in ``lines`` and left out of the sums. ``lines`` holds whole
    orders; store-day totals are added to ``days`` (checked by ``DayTotals.check`` once every
    partition of the file is in), or checked here when ``days`` is None."""
    limit = cell_limits()["profit"]
    over = profit_defaulted & (lines["profit"].abs() > limit).to_numpy()
    if over.any():
        report.add_many(
            lines["sheet_row"].to_numpy()[over], "利润额", [f"{v:,.2f}" for v in lines["profit"][over]],
            f"由 实收价格 × 月售 − 商品采购成本 算出的利润额超出数据库列的范围 (绝对值不能超过 {limit:,})",
        )  # fmt: skip

    keyed = lines.dropna(subset=order_key)  # rows without a key are reported as empty already
    if keyed.empty:
        return
    columns = [*order_key, "sheet_row", "store_key", "ordered_at", *ORDER_INPUTS, *ITEM_INPUTS]
    orders = order_totals(keyed[columns], order_key)
    for name, limit in order_limits().items():
        bad = orders[orders[name].abs() > limit]
        if not bad.empty:
            rows = _rows_of(keyed, bad, order_key)
            report.add_many(
                bad["sheet_row"], f"{FIGURE_NAMES[name]} (订单合计)", [f"{v:,.2f}" for v in bad[name]],
                f"订单合计超出数据库列的范围 (绝对值不能超过 {limit:,})",
                [f"订单 {o} 的{r}" for o, r in zip(bad[order_key[1]], rows, strict=True)],
            )  # fmt: skip
    whole = days is None
    days = DayTotals() if whole else days
    days.add(orders)
    if whole:
        days.check(report)


class DayTotals:
    """Σ|figure| per store-day over the orders of a file, added partition by partition (a store-
    day's orders may lie in several), with the first sheet row of each store-day. Σ|figure| of
    a store-day bounds every aggregate row of that store-day. Its size is the file's store-days."""

    def __init__(self) -> None:
        self.totals: pd.DataFrame | None = None

    def add(self, orders: pd.DataFrame) -> None:
        _table, _extra, measures = ORDER_AGGREGATES[0]  # agg_store_day_channel: the coarsest
        sources = list(dict.fromkeys(measures.values()))
        work = orders.assign(_store=orders["store_key"], _day=orders["ordered_at"].dt.date).dropna(
            subset=["_store", "_day"]
        )
        part = work[sources].abs().groupby([work["_store"], work["_day"]], sort=False).sum()
        part["sheet_row"] = work.groupby(["_store", "_day"], sort=False)["sheet_row"].min()
        if self.totals is None:
            self.totals = part
            return
        both = pd.concat([self.totals, part])
        grouped = both.groupby(level=[0, 1], sort=False)
        totals = grouped[sources].sum()
        totals["sheet_row"] = grouped["sheet_row"].min()
        self.totals = totals

    def check(self, report: ValidationReport) -> None:
        if self.totals is None or self.totals.empty:
            return
        _table, _extra, measures = ORDER_AGGREGATES[0]
        limits = day_limits()
        totals = self.totals
        for measure, source in measures.items():
            if measure not in limits:
                continue
            limit = limits[measure]
            over = totals[source] > limit
            if over.any():
                keys = totals.index[over]
                report.add_many(
                    totals["sheet_row"][over], f"{_figure_name(source)} (门店日合计)",
                    [f"{v:,.2f}" for v in totals[source][over]],
                    f"门店日合计超出数据库列的范围 (绝对值不能超过 {limit:,})",
                    [f"门店 {store} {day} 的全部订单" for store, day in keys],
                )  # fmt: skip


def _figure_name(name: str) -> str:
    return FIGURE_NAMES[name] if name in FIGURE_NAMES else BY_NAME[name].header


def _rows_of(lines: pd.DataFrame, orders: pd.DataFrame, order_key: list[str]) -> list[str]:
    """'第 2、3 行' for each order of ``orders`` (at most LISTED_ROWS rows named)."""
    members = lines[[*order_key, "sheet_row"]].merge(orders[order_key], on=order_key)
    by_order = members.groupby(order_key, sort=False)["sheet_row"].apply(list)
    result = []
    for key in orders[order_key].itertuples(index=False, name=None):
        rows = by_order[key]
        named = "、".join(str(r) for r in rows[:LISTED_ROWS])
        result.append(f"第 {named} 行" + (f" 等 {len(rows)} 行" if len(rows) > LISTED_ROWS else ""))
    return result
