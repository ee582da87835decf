"""今日必做 rules on daily aggregates (pure pandas). Every threshold is an argument without a
default: the values live in ``config.rules.TodoRules`` (docs/METRICS.md §10).

Inputs are the frames the services read from the aggregates (abnormal orders and 耗材 already
excluded):
- ``store_days``: store_id, day (datetime.date), orders, revenue, actual_profit
- ``product_days``: store_id, day, product_id, quantity, revenue, cost

Every rule returns one row per finding with the evidence an operator needs to act on it. The
rules that can be 🔴 紧急 also return ``at_risk``: the money (元) the finding has lost or puts at
risk, so that only findings above a threshold are urgent (``is_urgent``; docs/METRICS.md §5).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analytics.formulas import HALF_CENT
from analytics.ratios import profit_margin, ratio, unit_amount

EPOCH = dt.date(1970, 1, 1)


def _window(frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    return frame[(frame["day"] >= start) & (frame["day"] <= end)]


def _two_weeks(as_of: dt.date, days: int) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """The ``days`` ending ``as_of`` and the ``days`` before them (a week each by default)."""
    recent = (as_of - dt.timedelta(days=days - 1), as_of)
    previous = (as_of - dt.timedelta(days=2 * days - 1), as_of - dt.timedelta(days=days))
    return recent, previous


def _weekly(store_days: pd.DataFrame, as_of: dt.date, days: int) -> pd.DataFrame:
    """Per store: orders, revenue and actual_profit summed over the last ``days`` days
    (``*_recent``) and the ``days`` before (``*_previous``); stores with no day in either
    window are left out."""
    recent, previous = _two_weeks(as_of, days)
    columns = ["orders", "revenue", "actual_profit"]
    day = _day_number(store_days["day"])
    week = np.full(len(day), -1)
    for w, (first, last) in enumerate((recent, previous)):
        week[(day >= _day_no(first)) & (day <= _day_no(last))] = w
    inside = week >= 0
    stores, store_pos = np.unique(store_days["store_id"].to_numpy()[inside], return_inverse=True)
    sums = np.zeros((len(stores), 2, len(columns)))
    np.add.at(sums, (store_pos, week[inside]), store_days[columns].to_numpy(dtype=float)[inside])
    frame = {f"{c}_{side}": sums[:, w, i] for w, side in enumerate(("recent", "previous"))
             for i, c in enumerate(columns)}  # fmt: skip
    return pd.DataFrame(frame, index=pd.Index(stores, name="store_id"))


def traffic_drop(store_days: pd.DataFrame, as_of: dt.date, threshold: float, *, days: int) -> pd.DataFrame:
    """🟡 单量下滑: orders of the last ``days`` days ≥ ``threshold`` below the ``days`` before,
    with the 实收 lost against that window (``revenue_lost``, ≥ 0)."""
    weekly = _weekly(store_days, as_of, days)
    weekly = weekly[weekly["orders_previous"] > 0]
    drop = 1 - ratio(weekly["orders_recent"], weekly["orders_previous"])
    lost = (weekly["revenue_previous"] - weekly["revenue_recent"]).clip(lower=0.0)
    found = weekly.assign(drop_ratio=drop, revenue_lost=lost)[drop >= threshold]
    return found.reset_index()[["store_id", "orders_recent", "orders_previous", "drop_ratio", "revenue_lost"]]


def margin_decline(store_days: pd.DataFrame, as_of: dt.date, points: float, *, days: int) -> pd.DataFrame:
    """🟡 利润率下滑: margin (实际利润/实收) of the last ``days`` days more than ``points`` below the
    ``days`` before, with the profit lost against the earlier margin on this window's 实收
    (``profit_lost``)."""
    weekly = _weekly(store_days, as_of, days)
    weekly = weekly[(weekly["revenue_recent"] > 0) & (weekly["revenue_previous"] > 0)]
    recent = profit_margin(weekly["actual_profit_recent"], weekly["revenue_recent"])
    previous = profit_margin(weekly["actual_profit_previous"], weekly["revenue_previous"])
    found = weekly.assign(recent_margin=recent, previous_margin=previous, decline=previous - recent,
                          profit_lost=(previous - recent) * weekly["revenue_recent"])  # fmt: skip
    found = found[found["decline"] > points]
    return found.reset_index()[["store_id", "previous_margin", "recent_margin", "decline", "profit_lost"]]


def _sales(product_days: pd.DataFrame) -> pd.DataFrame:
    return product_days[product_days["quantity"] > 0]


def _day_number(days) -> np.ndarray:
    """Days since 1970-01-01 (groupby min/max on int64 runs in C; on date objects in Python)."""
    return pd.to_datetime(pd.Series(days)).to_numpy().astype("datetime64[D]").astype(np.int64)


def _day_no(day: dt.date) -> int:
    """One date as a day number (the same scale as ``_day_number``)."""
    return (day - EPOCH).days


def _as_dates(numbers: pd.Series) -> pd.Series:
    return pd.Series(numbers.to_numpy().astype("datetime64[D]"), index=numbers.index).dt.date


def _sale_span(product_days: pd.DataFrame) -> pd.DataFrame:
    """Per (store_id, product_id) with a sale: first and last sale as day numbers, selling days
    and units sold (``product_days`` has one row per store, day and product). Sorted runs and
    reduceat instead of a groupby (6.4 → 1.6 ms on a store's 60 days): 今日必做 calls it twice."""
    sales = _sales(product_days)
    store, stores = pd.factorize(sales["store_id"])  # any key type: ids, or codes in the tests
    product, products = pd.factorize(sales["product_id"])
    day = _day_number(sales["day"])
    order = np.lexsort((day, product, store))
    store, product, day = store[order], product[order], day[order]
    quantity = sales["quantity"].to_numpy(dtype=float)[order]
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = (store[1:] != store[:-1]) | (product[1:] != product[:-1])
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], len(order))[: len(starts)] - 1
    index = pd.MultiIndex.from_arrays(
        [stores[store[starts]], products[product[starts]]], names=["store_id", "product_id"]
    )
    return pd.DataFrame({
        "first_no": day[starts], "last_no": day[ends], "selling_days": ends - starts + 1,
        "quantity": np.add.reduceat(quantity, starts) if len(starts) else quantity,
    }, index=index)  # fmt: skip


def slow_buckets(min_idle_days: int, bucket_days: tuple[int, ...]) -> tuple[str, str, str]:
    """滞销 bucket labels: '3-6天', '7-14天', '15天+' for 3 idle days and buckets from 7 and 15."""
    first, second = bucket_days
    return f"{min_idle_days}-{first - 1}天", f"{first}-{second - 1}天", f"{second}天+"


def slow_movers(product_days: pd.DataFrame, as_of: dt.date, *, min_idle_days: int, min_selling_days: int,
                bucket_days: tuple[int, ...]) -> pd.DataFrame:  # fmt: skip
    """🟡 滞销: SKUs that sold on ≥ ``min_selling_days`` days but not in the last ``min_idle_days``;
    bucketed by idle days at ``bucket_days`` (3–6 / 7–14 / 15+ by default)."""
    span = _sale_span(product_days)
    found = span.assign(idle_days=_day_no(as_of) - span["last_no"])
    found = found[(found["idle_days"] >= min_idle_days) & (found["selling_days"] >= min_selling_days)]
    idle = found["idle_days"].to_numpy()
    labels = slow_buckets(min_idle_days, bucket_days)
    bucket = np.select([idle < bucket_days[0], idle < bucket_days[1]], labels[:2], labels[2])
    found = found.assign(last_sale=_as_dates(found["last_no"]), bucket=bucket)
    return found[["last_sale", "selling_days", "idle_days", "bucket"]].reset_index()


def stockout_hot_skus(
    product_days: pd.DataFrame, as_of: dt.date, *, top_n: int, min_zero_days: int, max_zero_days: int,
    baseline_days: int, alpha: float,
) -> pd.DataFrame:  # fmt: skip
    """🔴 热销缺货: a store's top-``top_n`` seller by quantity over the ``baseline_days`` before the
    gap (a window fully inside the data) that has sold nothing for the last ``min_zero_days`` to
    ``max_zero_days`` days, when such a gap is improbable by chance: with λ its daily quantity in
    the baseline, exp(−λ · gap) < ``alpha`` (Poisson). Longer silences are 滞销, not stock-outs.
    ``at_risk`` is the estimated lost sales: the baseline's daily 实收 × the silent days."""
    columns = ["store_id", "product_id", "zero_days", "rank", "baseline_quantity", "baseline_revenue", "at_risk"]
    if product_days.empty:
        return pd.DataFrame(columns=columns)
    first_day = product_days["day"].min()
    offsets = (pd.to_datetime(product_days["day"]) - pd.Timestamp(first_day)).dt.days.to_numpy()
    n_days = (as_of - first_day).days + 1
    rows = []
    for store_id, index in product_days.groupby("store_id").indices.items():
        # products × days matrix of quantities, and its running sum for O(1) window totals
        products, product_pos = np.unique(product_days["product_id"].to_numpy()[index], return_inverse=True)
        matrix = np.zeros((len(products), n_days + 1))
        np.add.at(matrix, (product_pos, offsets[index] + 1), product_days["quantity"].to_numpy()[index])
        running = matrix.cumsum(axis=1)
        money = np.zeros((len(products), n_days + 1))
        np.add.at(money, (product_pos, offsets[index] + 1), product_days["revenue"].to_numpy(dtype=float)[index])
        money = money.cumsum(axis=1)
        sold = matrix[:, 1:] > 0
        last = np.where(sold.any(axis=1), n_days - 1 - np.argmax(sold[:, ::-1], axis=1), -1)
        gaps = n_days - 1 - last
        for gap in np.unique(gaps[(gaps >= min_zero_days) & (gaps <= max_zero_days) & (last >= 0)]):
            gap_start = n_days - gap  # day offset of the first silent day
            if gap_start - baseline_days < 0:
                continue  # not enough history before the gap to call anything a best seller
            totals = running[:, gap_start] - running[:, gap_start - baseline_days]
            ranks = pd.Series(totals).rank(ascending=False, method="min").to_numpy()
            for i in np.flatnonzero(gaps == gap):
                rate = totals[i] / baseline_days
                if ranks[i] <= top_n and totals[i] > 0 and np.exp(-rate * gap) < alpha:
                    revenue = float(money[i, gap_start] - money[i, gap_start - baseline_days])
                    rows.append((store_id, products[i], int(gap), int(ranks[i]), float(totals[i]), revenue,
                                 revenue / baseline_days * int(gap)))  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def confirm_stockouts(candidates: pd.DataFrame, last_stock: pd.DataFrame, *, baseline_days: int,
                      days_of_cover: float) -> pd.DataFrame:  # fmt: skip
    """Keep the 热销缺货 candidates that the exported stock confirms or cannot contradict.

    ``last_stock`` holds, per (store_id, product_id), the 剩余库存 reported with the SKU's last
    sale (NaN when the export has no stock columns). A candidate whose remaining stock was at
    least ``days_of_cover`` days of its baseline sales is not out of stock (it just did not sell)
    and is dropped; unknown stock keeps the candidate on the sales evidence alone. Adds
    ``remaining_stock``."""
    stock = last_stock.set_index(["store_id", "product_id"])["remaining_stock"] if len(last_stock) else None
    keys = pd.MultiIndex.from_frame(candidates[["store_id", "product_id"]])
    remaining = stock.reindex(keys).to_numpy(dtype=float) if stock is not None else np.full(len(candidates), np.nan)
    daily = candidates["baseline_quantity"].to_numpy(dtype=float) / baseline_days
    keep = np.isnan(remaining) | (remaining < days_of_cover * daily)
    return candidates.assign(remaining_stock=remaining)[keep].reset_index(drop=True)


def below_cost(product_days: pd.DataFrame, as_of: dt.date, days: int) -> pd.DataFrame:
    """🔴 价格异常: SKUs whose received revenue was below their purchase cost over the last
    ``days`` days (unit received price < unit cost), with the unit figures as evidence;
    ``at_risk`` is the loss, cost − revenue."""
    recent = _sales(_window(product_days, as_of - dt.timedelta(days=days - 1), as_of))
    totals = recent.groupby(["store_id", "product_id"])[["quantity", "revenue", "cost"]].sum()
    found = totals[totals["revenue"] < totals["cost"] - HALF_CENT]
    found = found.assign(unit_price=unit_amount(found["revenue"], found["quantity"]),
                         unit_cost=unit_amount(found["cost"], found["quantity"]),
                         at_risk=found["cost"] - found["revenue"])  # fmt: skip
    return found.sort_values("at_risk", ascending=False).reset_index()


def hot_skus(product_days: pd.DataFrame, as_of: dt.date, *, growth: float, min_units: float,
             min_base: float, days: int) -> pd.DataFrame:  # fmt: skip
    """🟢 热销: quantity of the last ``days`` days ≥ ``min_units`` and > (1 + ``growth``) × the
    ``days`` before, which sold at least ``min_base`` units: a growth rate on a handful of units
    (1 → 19 is "+1800 %") is noise, and SKUs new to the store are the 新品 rule's."""
    recent, previous = _two_weeks(as_of, days)
    now = _window(product_days, *recent).groupby(["store_id", "product_id"])["quantity"].sum().rename("recent")
    before = _window(product_days, *previous).groupby(["store_id", "product_id"])["quantity"].sum().rename("previous")
    both = pd.concat([now, before], axis=1).fillna(0.0)
    found = both[(both["recent"] >= min_units) & (both["previous"] >= min_base)
                 & (both["recent"] > (1 + growth) * both["previous"])]  # fmt: skip
    found = found.assign(growth=ratio(found["recent"], found["previous"]) - 1)
    return found.sort_values("recent", ascending=False).reset_index()


def top_profit_skus(product_days: pd.DataFrame, as_of: dt.date, top_n: int, *, days: int) -> pd.DataFrame:
    """🟢 利润贡献: each store's ``top_n`` SKUs by line profit over the last ``days`` days (profit > 0)."""
    recent, _ = _two_weeks(as_of, days)
    totals = _window(product_days, *recent).groupby(["store_id", "product_id"])[["profit", "quantity"]].sum()
    totals = totals[totals["profit"] > 0].reset_index()
    totals["rank"] = totals.groupby("store_id")["profit"].rank(ascending=False, method="first")
    return totals[totals["rank"] <= top_n].sort_values(["store_id", "rank"]).reset_index(drop=True)


def loss_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """🔴 穿底订单: orders whose 实际利润 < 0, worst first, ``at_risk`` = the loss (−实际利润).
    ``orders`` needs actual_profit."""
    found = orders[orders["actual_profit"] < 0].sort_values("actual_profit").reset_index(drop=True)
    return found.assign(at_risk=-found["actual_profit"])


def costly_delivery_orders(orders: pd.DataFrame, fee_floor: float) -> pd.DataFrame:
    """🔴 高配送成本订单: 物流配送费 > ``fee_floor`` 元 and 实际利润 below that fee. ``at_risk`` is
    the money the order lost (−实际利润 when < 0, else 0): an order that still made a profit
    is worth a look, not urgent."""
    found = orders[(orders["delivery_fee"] > fee_floor) & (orders["actual_profit"] < orders["delivery_fee"])]
    found = found.sort_values("delivery_fee", ascending=False).reset_index(drop=True)
    return found.assign(at_risk=(-found["actual_profit"]).clip(lower=0.0))


def order_findings(orders: pd.DataFrame, fee_floor: float) -> dict[str, pd.DataFrame]:
    """Both order rules with each order named once: a loss-making order whose delivery fee
    explains it is listed under 高配送成本 (the cause), not also under 穿底订单.
    ``orders`` needs channel, platform_order_id, actual_profit, delivery_fee."""
    costly = costly_delivery_orders(orders, fee_floor)
    loss = loss_orders(orders)
    named = pd.MultiIndex.from_frame(costly[["channel", "platform_order_id"]])
    listed = pd.MultiIndex.from_frame(loss[["channel", "platform_order_id"]]).isin(named)
    return {"costly_delivery": costly, "loss_orders": loss[~listed].reset_index(drop=True)}


def is_urgent(findings: pd.DataFrame, min_amount: float) -> pd.Series:
    """🔴 紧急 only when the money lost or at risk (``at_risk``) reaches ``min_amount`` 元; the
    rule's other findings are 🟡 关注."""
    return findings["at_risk"] >= min_amount


def new_skus(product_days: pd.DataFrame, as_of: dt.date, days: int) -> pd.DataFrame:
    """🟡 新品: SKUs first sold in a store within the last ``days`` days, when the data reaches back
    at least twice as far (otherwise every SKU would look new)."""
    if product_days.empty or (as_of - product_days["day"].min()).days + 1 < 2 * days:
        return pd.DataFrame(columns=["store_id", "product_id", "first_sale", "quantity"])
    span = _sale_span(product_days)
    found = span[span["first_no"] > _day_no(as_of - dt.timedelta(days=days))]
    found = found.assign(first_sale=_as_dates(found["first_no"]))[["first_sale", "quantity"]]
    return found.sort_values("quantity", ascending=False).reset_index()
