"""Deterministic demo data: platform order-detail exports with known, injected problems.

``generate_orders`` builds one row per SKU line (columns = the Chinese headers of
:mod:`db.export_format`) plus a ground-truth dict describing every injected problem, measured on
the generated data. Everything is vectorised numpy; the same seed gives byte-identical files.

Money model (all amounts are exact cents internally):

* 商品原价 ≥ 商品实售价 (after the item's shelf promotion) ≥ 实收价格 (after the merchant-borne
  order discounts 满减/代金券/商家承担券/新客/其他 are apportioned to the lines; never below unit
  cost except for the injected below-cost SKUs).
* 商品减免金额 = the line's item discount = (商品原价 − 商品实售价) × 月售, so 营销成本 (analytics)
  counts each discount once: item discounts here, order discounts in their order-level columns.
* 商品采购成本 = unit cost × 月售; 利润额 = 实收价格 × 月售 − 商品采购成本.
* actual profit of an order = Σ利润额 − 平台服务费 − 物流配送费 + 企客后返 (never exactly 0).
* 预计订单收入 = Σ实收 − 平台服务费 − 物流配送费 (platform delivery) or + 用户支付配送费 (自配送).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from db import export_format as ef
from db._demo_catalog import (
    Catalog,
    Lines,
    Orders,
    Roles,
    StoreTable,
    build_addresses,
    build_catalog,
    build_stores,
    choose_sku_roles,
    force_last_sales,
    plan_stores,
)
from db._demo_files import SHEET_NAME, output_dir, write_month  # noqa: F401 (SHEET_NAME re-exported)

CHANNELS = ("美团闪购", "饿了么", "京东到家", "抖音", "小程序", "收银机")
FEE_CHANNELS = CHANNELS[:4]  # charge 平台服务费; orders of other channels never do
N_FEE = len(FEE_CHANNELS)
POS = 5  # 收银机: in-store, no delivery, no platform fee
PLATFORMS = ("美团配送", "蜂鸟配送", "达达", "顺丰同城", "自配送")
SELF_DELIVERY = 4
GENERATION_STEPS = ("门店与商品", "订单", "商品明细", "金额", "汇总")
FILE_PREFIX = "订单明细"
FORMATS = ("csv", "csv-gbk", "xlsx", "both")
TOP_SELLER_RANK = 10  # a stockout SKU is among its store's top 10 by 月售 before the stockout
MAX_ROWS_PER_FILE = 500_000  # keeps one month of 100 stores in one file, under the import limit

_CHANNEL_MIX = np.array([0.38, 0.24, 0.09, 0.06, 0.10, 0.13])
_FEE_RATE = np.array([(0.055, 0.08), (0.05, 0.07), (0.06, 0.08), (0.05, 0.06)])
_MIN_ORDER = np.array([3000, 3000, 3500, 3500, 3000, 0])  # 起送价 in cents
_PLATFORM_P = np.array([  # rows: channels 0..4, columns: PLATFORMS
    [0.85, 0.0, 0.0, 0.0, 0.15],
    [0.0, 0.85, 0.0, 0.0, 0.15],
    [0.0, 0.0, 0.9, 0.0, 0.1],
    [0.2, 0.0, 0.5, 0.2, 0.1],
    [0.0, 0.0, 0.5, 0.0, 0.5],
])
_HOUR_W = np.array([0.8, 0.4, 0.2, 0.02, 0.015, 0.02, 0.05, 1.0, 2.0, 2.8, 4.0, 7.5,
                    8.0, 5.5, 3.5, 3.3, 4.2, 6.5, 8.0, 8.5, 7.5, 6.0, 3.5, 1.8])
_POS_HOUR_W = np.where(np.arange(24) < 7, 0.0, _HOUR_W)
_WEEKDAY = np.array([0.93, 0.9, 0.93, 0.97, 1.05, 1.15, 1.12])  # Monday … Sunday
_BASKET_P = np.array([0.38, 0.28, 0.15, 0.09, 0.05, 0.03, 0.02])  # 1 … 7 goods lines
_QTY_P = np.array([0.66, 0.2, 0.08, 0.03, 0.02, 0.01])  # 1 … 6
_REDUCTION_TIERS = (np.array([4000, 6000, 10000, 16000]), np.array([0, 300, 500, 1000, 1800]))


@dataclass(frozen=True)
class DemoSpec:
    """What to generate; the same spec always gives the same data."""

    stores: int = 100
    days: int = 90
    seed: int = 7
    end_date: dt.date = dt.date(2026, 11, 27)  # last day of data (inclusive)

    @property
    def start_date(self) -> dt.date:
        return self.end_date - dt.timedelta(days=self.days - 1)


def generate_orders(
    spec: DemoSpec, *, progress: Callable[[str], None] | None = None
) -> tuple[pd.DataFrame, dict]:
    """Return (lines, ground_truth). `lines` has one row per SKU line with columns named by the
    Chinese headers of db.export_format.HEADERS (in that order), plus nothing else.

    ``progress`` is called with each name of GENERATION_STEPS once that step is done. The frame
    needs ~1.4 KB per line; for big chains use :func:`generate_demo` and :func:`write_demo`.
    """
    demo = generate_demo(spec, progress=progress)
    return demo.frame(), demo.truth


def generate_demo(spec: DemoSpec, *, progress: Callable[[str], None] | None = None) -> Demo:
    """Generate ``spec`` as arrays (~0.3 KB per line); frames are built per month on demand."""
    if spec.stores < 1 or spec.days < 1:
        raise ValueError(f"DemoSpec needs stores ≥ 1 and days ≥ 1, got {spec}")
    report = progress or (lambda _step: None)
    rng = np.random.default_rng(spec.seed)
    catalog = build_catalog(rng)
    stores = build_stores(spec.stores, rng)
    roles = plan_stores(spec.stores, spec.days, rng)
    report(GENERATION_STEPS[0])
    orders = _make_orders(spec, stores, roles, rng)
    report(GENERATION_STEPS[1])
    lines = _make_lines(spec, catalog, orders, roles, rng)
    report(GENERATION_STEPS[2])
    _price(spec, catalog, orders, lines, roles, rng)
    report(GENERATION_STEPS[3])
    texts = _order_texts(spec, stores, orders, rng)
    truth = _measure_truth(spec, catalog, stores, orders, lines, roles)
    report(GENERATION_STEPS[4])
    return Demo(spec, truth, catalog, stores, orders, lines, texts)


@dataclass
class Demo:
    """A generated demo: its ground truth, and its lines as arrays turned into frames on demand."""

    spec: DemoSpec
    truth: dict
    catalog: Catalog
    stores: StoreTable
    orders: Orders
    lines: Lines
    texts: dict

    @property
    def line_count(self) -> int:
        return len(self.lines.order)

    @property
    def order_count(self) -> int:
        return len(self.orders.store)

    def frame(self, lo: int = 0, hi: int | None = None) -> pd.DataFrame:
        """Lines ``lo:hi`` (in time order) as the export's frame."""
        return _assemble(self, slice(lo, self.line_count if hi is None else hi))

    def months(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """(``YYYY-MM``, that month's lines) in time order: one month's frame in memory at a time."""
        first = np.datetime64(self.spec.start_date, "D")
        month = (first + self.orders.day).astype("datetime64[M]")  # orders are sorted by time
        for value in np.unique(month):
            o_lo, o_hi = np.searchsorted(month, [value, value + 1])
            lo, hi = np.searchsorted(self.lines.order, [o_lo, o_hi])
            yield str(value), self.frame(int(lo), int(hi))


# ------------------------------------------------------------------------------------- orders


def _make_orders(spec: DemoSpec, stores: StoreTable, roles: Roles, rng: np.random.Generator) -> Orders:
    n, days = spec.stores, spec.days
    weekday = (spec.start_date.weekday() + np.arange(days)) % 7
    lam = stores.base_orders[:, None] * _WEEKDAY[weekday][None, :] * rng.lognormal(0, 0.06, (n, days))
    if len(roles.traffic_stores):
        lam[roles.traffic_stores, days - 7:] *= rng.uniform(0.45, 0.55, (len(roles.traffic_stores), 1))
    if roles.closed_store >= 0:
        lam[roles.closed_store, roles.closed_day] = 0.0
    cell = np.repeat(np.arange(n * days), rng.poisson(lam).ravel())
    store, day = cell // days, cell % days
    channel = _sample_rows(rng.dirichlet(_CHANNEL_MIX * 80, size=n), store, rng)
    pos = channel == POS
    hour = np.where(pos, rng.choice(24, len(store), p=_POS_HOUR_W / _POS_HOUR_W.sum()),
                    rng.choice(24, len(store), p=_HOUR_W / _HOUR_W.sum()))
    sec = hour * 3600 + rng.integers(0, 3600, len(store))
    # The closed store also has no late-night tail after its closed day.
    keep = ~((store == roles.closed_store) & (day == roles.closed_day + 1) & (hour < 6))
    order = np.lexsort((channel[keep], store[keep], sec[keep], day[keep]))
    store, day, sec, channel = (a[keep][order] for a in (store, day, sec, channel))
    pos = channel == POS

    # Address pools: customers repeat; loss stores have a far-away residential area.
    sizes = np.maximum(40, (stores.base_orders * days * 0.2).astype(int))
    pool_store = np.repeat(np.arange(n), sizes)
    scale = rng.uniform(0.7, 1.0, n)[pool_store]
    dist = np.clip(rng.gamma(2.0, scale), 0.2, 8.0)
    far = np.isin(pool_store, roles.loss_stores) & (rng.random(len(pool_store)) < 0.08)
    dist = np.round(np.where(far, rng.uniform(5.0, 7.9, len(dist)), dist), 2)
    rank = np.concatenate([rng.permutation(s) for s in sizes])
    weights = 1.0 / (1.0 + rank) ** 0.8
    cdf = np.empty_like(weights)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for s in range(n):
        w = np.cumsum(weights[bounds[s]:bounds[s + 1]])
        cdf[bounds[s]:bounds[s + 1]] = w / w[-1] + 2.0 * s
    addr = np.searchsorted(cdf, 2.0 * store + rng.random(len(store)), side="right")
    addr = np.where(pos, -1, np.minimum(addr, len(cdf) - 1))
    texts = [t for s in range(n) for t in build_addresses(s, stores, int(sizes[s]), rng)]
    km = np.where(pos, np.nan, dist[np.maximum(addr, 0)])
    km = np.where(channel == 2, km, np.round(km, 1))  # 京东到家 reports 2 decimals
    platform = np.full(len(store), -1)
    platform[~pos] = _sample_rows(_PLATFORM_P, channel[~pos], rng)

    existing = rng.random(len(pool_store)) < 0.7  # customers who ordered before the period
    fee = channel < N_FEE
    first = ~pd.Series(addr * 8 + channel).duplicated().to_numpy()
    new_customer = fee & first & ~existing[np.maximum(addr, 0)]
    loss = np.isin(store, roles.loss_stores) & ~pos & (km >= 5.0) & (rng.random(len(store)) < 0.6)
    zero_fee = np.zeros(len(store), dtype=bool)
    for s in roles.zero_fee_stores:
        candidates = np.flatnonzero((store == s) & fee)
        chosen = candidates[rng.random(len(candidates)) < 0.006]
        if len(chosen) < 3 and len(candidates):
            chosen = rng.choice(candidates, min(3, len(candidates)), replace=False)
        zero_fee[chosen] = True
    return Orders(store=store, day=day, sec=sec, channel=channel, addr=addr, km=km, platform=platform,
                  new_customer=new_customer, loss=loss, zero_fee=zero_fee, address_texts=texts)


def _sample_rows(weights: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each entry of ``rows`` draw a column with probability ∝ weights[row] (vectorised)."""
    cdf = np.cumsum(weights, axis=1)
    total = cdf[:, -1:]
    cdf = np.divide(cdf, total, out=np.zeros_like(cdf), where=total > 0)
    n_rows, n_cols = cdf.shape
    flat = (cdf + 2.0 * np.arange(n_rows)[:, None]).ravel()
    idx = np.searchsorted(flat, 2.0 * rows + rng.random(len(rows)), side="right") - rows * n_cols
    return np.minimum(idx, n_cols - 1)


# -------------------------------------------------------------------------------------- lines


def _make_lines(spec: DemoSpec, cat: Catalog, orders: Orders, roles: Roles,
                rng: np.random.Generator) -> Lines:
    n, days, n_sku = spec.stores, spec.days, cat.size
    n_orders = len(orders.store)
    pos = orders.channel == POS
    basket = np.where(orders.loss, 1, rng.choice(np.arange(1, 8), n_orders, p=_BASKET_P))
    bag = np.where(pos, rng.random(n_orders) < 0.25, rng.random(n_orders) < 0.6)
    count = basket + bag
    order = np.repeat(np.arange(n_orders), count)
    position = np.arange(len(order)) - np.repeat(np.cumsum(count) - count, count)
    is_bag = position == basket[order]
    store, day = orders.store[order], orders.day[order]

    carry = rng.random((n, n_sku)) < rng.uniform(0.6, 0.9, (n, 1))
    weights = cat.popularity[None, :] * rng.lognormal(0.0, 0.5, (n, n_sku)) * carry
    sku = np.empty(len(order), dtype=np.int64)
    sku[~is_bag] = _sample_rows(weights, store[~is_bag], rng)
    bag_size = np.select([basket <= 2, basket <= 4], [0, 1], 2)
    sku[is_bag] = np.array(cat.bag_skus)[bag_size[order[is_bag]]]

    choose_sku_roles(cat, roles, n, days, store, day, sku, is_bag, rng)
    blocked = roles.block_from[store, sku] <= day
    blocked &= ~is_bag
    safe = weights * ~roles.role_mask
    sku[blocked] = _sample_rows(safe, store[blocked], rng)
    keep = ~pd.Series(order * n_sku + sku).duplicated().to_numpy()
    order, store, day, sku, is_bag = (a[keep] for a in (order, store, day, sku, is_bag))
    force_last_sales(roles, days, store, day, sku, is_bag, orders.loss[order])

    qty = rng.choice(np.arange(1, 7), len(order), p=_QTY_P)
    qty = np.where(is_bag, 1 + (basket[order] >= 6), np.where(orders.loss[order], 1, qty))
    stock = np.maximum(rng.integers(8, 160, (n, n_sku))[store, sku] + rng.integers(-6, 7, len(order)), qty)
    for s, k, from_day in roles.stockouts:  # stock runs down to zero before the stockout
        m = (store == s) & (sku == k)
        stock[m] = qty[m] + 2 * np.maximum(0, from_day - 1 - day[m])
    return Lines(order=order, store=store, day=day, sku=sku, is_bag=is_bag, qty=qty, stock=stock)


# -------------------------------------------------------------------------------------- money


def _price(spec: DemoSpec, cat: Catalog, orders: Orders, lines: Lines, roles: Roles,
           rng: np.random.Generator) -> None:
    n, days = spec.stores, spec.days
    n_orders, n_lines = len(orders.store), len(lines.order)
    o, qty, is_bag = lines.order, lines.qty, lines.is_bag
    channel, pos = orders.channel, orders.channel == POS
    list_c, unit_cost = cat.list_cents[lines.sku], cat.cost_cents[lines.sku]
    promo = ~is_bag & (rng.random(n_lines) < 0.1)
    sale = np.where(promo, (list_c * rng.uniform(0.8, 0.95, n_lines) // 10 * 10).astype(np.int64), list_c)
    sale = np.minimum(np.maximum(sale, np.ceil(unit_cost * 1.05).astype(np.int64)), list_c)
    below = roles.below_cost_from[lines.store, lines.sku] <= lines.day
    sale = np.where(below, (unit_cost * rng.uniform(0.75, 0.9, n_lines) // 10 * 10).astype(np.int64), sale)

    # 起送价 (higher beyond 4 km): a delivery basket below it gets more of its priciest item.
    goods = ~is_bag & ~below
    amount = np.rint(np.bincount(o, sale * qty * ~is_bag, minlength=n_orders)).astype(np.int64)
    minimum = _MIN_ORDER[channel] + 1500 * (np.nan_to_num(orders.km) >= 4)
    need = (~pos & ~orders.loss & (amount < minimum))[o] & ~is_bag
    idx = np.flatnonzero(need)
    idx = idx[np.lexsort((-sale[idx], o[idx]))]
    top = idx[np.r_[True, o[idx][1:] != o[idx][:-1]]] if len(idx) else idx
    gap = minimum[o[top]] + rng.integers(0, 1200, len(top)) - amount[o[top]]
    qty[top] += -(-gap // sale[top])
    amount = np.rint(np.bincount(o, sale * qty * ~is_bag, minlength=n_orders)).astype(np.int64)
    lines.stock = np.maximum(lines.stock, qty)

    fee = channel < N_FEE
    deliver = ~pos
    tiers, cuts = _REDUCTION_TIERS
    joins = rng.random((n, 6)) < np.array([0.6, 0.6, 0.6, 0.6, 0.3, 0.0])
    reduction = np.where(joins[orders.store, channel] & (rng.random(n_orders) < 0.9),
                         cuts[np.searchsorted(tiers, amount, side="right")], 0)
    newcomer = np.where(orders.new_customer & (rng.random(n_orders) < 0.85),
                        rng.choice([100, 200, 300, 500], n_orders), 0)
    voucher = np.where(deliver & (amount >= 3000) & (rng.random(n_orders) < 0.04),
                       rng.choice([300, 500, 1000], n_orders), 0)
    coupon = np.where(fee & (rng.random(n_orders) < 0.06), rng.integers(50, 400, n_orders), 0)
    gift = np.where(deliver & (amount >= 6800) & (rng.random(n_orders) < 0.015),
                    rng.choice([590, 990, 1290], n_orders), 0)
    other = np.where(rng.random(n_orders) < 0.02, rng.integers(100, 500, n_orders), 0)
    heavy = np.isin(orders.store, roles.margin_stores) & (orders.day >= days - 7)
    other = other + np.where(heavy, np.rint(amount * rng.uniform(0.2, 0.28, n_orders)), 0).astype(np.int64)
    discount = reduction + newcomer + voucher + coupon + other

    base = sale * qty * goods
    denom = np.bincount(o, base, minlength=n_orders)
    share = np.divide(base, denom[o], out=np.zeros(n_lines), where=denom[o] > 0)
    received = np.rint(sale - discount[o] * share / qty).astype(np.int64)
    received = np.minimum(np.maximum(received, unit_cost + 1), sale)
    received = np.where(below | is_bag, sale, received)
    cost = unit_cost * qty
    profit = received * qty - cost
    revenue = np.bincount(o, received * qty, minlength=n_orders).astype(np.int64)
    items_profit = np.bincount(o, profit, minlength=n_orders).astype(np.int64)

    rate = rng.uniform(_FEE_RATE[:, 0], _FEE_RATE[:, 1], (n, N_FEE))
    commission = np.where(fee, np.rint(rate[orders.store, np.minimum(channel, N_FEE - 1)] * revenue), 0)
    commission = np.where(orders.zero_fee, 0, commission).astype(np.int64)
    service = np.where(fee & ~orders.zero_fee, np.maximum(commission, 100), 0).astype(np.int64)
    km = np.nan_to_num(orders.km)
    hour = orders.sec // 3600
    delivery = np.maximum(250, np.rint((2.6 + 0.9 * km + rng.normal(0, 0.4, n_orders)) * 100))
    delivery = delivery + 100 * ((hour >= 22) | (hour < 6)) + orders.loss * rng.integers(300, 600, n_orders)
    delivery = np.where(deliver, delivery, 0).astype(np.int64)
    corporate = fee & ~orders.loss & (rng.random(n_orders) < 0.004)
    rebate = np.where(corporate, rng.integers(200, 1200, n_orders), 0)
    actual = items_profit - service - delivery + rebate
    fix = orders.loss & (actual >= 0)  # injected far orders must lose money
    delivery = delivery + np.where(fix, actual + rng.integers(50, 300, n_orders), 0)
    actual = items_profit - service - delivery + rebate
    zero = actual == 0  # keep every order clearly profitable or loss-making
    delivery -= zero & (delivery > 0)
    service -= zero & (delivery == 0) & (service > 0)
    actual = items_profit - service - delivery + rebate
    cheaper = (actual == 0)[o] & below  # only an in-store order with a below-cost line is left
    sale, received = sale - cheaper, received - cheaper
    profit = received * qty - cost
    items_profit = np.bincount(o, profit, minlength=n_orders).astype(np.int64)
    revenue = np.bincount(o, received * qty, minlength=n_orders).astype(np.int64)
    actual = items_profit - service - delivery + rebate

    nominal = np.where(deliver, rng.choice([250, 300, 350, 400, 500], n_orders) + 100 * (km > 3), 0)
    free = (revenue >= 5900) & (rng.random(n_orders) < 0.6)
    waived = np.where(free, nominal, np.where(rng.random(n_orders) < 0.25, np.minimum(100, nominal), 0))
    self_delivery = orders.platform == SELF_DELIVERY
    income = revenue - service - np.where(self_delivery, -(nominal - waived), delivery)
    lines.money = {
        "list_price": list_c, "sale_price": sale, "received_price": received, "cost": cost,
        "profit": profit, "item_discount": (list_c - sale) * qty,
    }
    orders.money = {
        "expected_income": income, "delivery_fee": delivery, "commission": commission,
        "service_fee": service, "user_delivery_fee": nominal - waived, "delivery_fee_discount": waived,
        "full_reduction": reduction, "merchant_voucher": voucher, "merchant_coupon_share": coupon,
        "packaging_fee": np.bincount(o, received * qty * is_bag, minlength=n_orders).astype(np.int64),
        "gift_amount": gift, "other_discount": other, "new_customer_discount": newcomer,
        "corporate_rebate": rebate,
    }
    orders.revenue, orders.actual = revenue, actual
    lines.below = below


# ----------------------------------------------------------------------------------- assembly


def _order_texts(spec: DemoSpec, stores: StoreTable, orders: Orders, rng: np.random.Generator) -> dict:
    """The text of each order's columns as Arrow arrays (compact; taken per line when assembling)."""
    import pyarrow as pa

    n_orders, days = len(orders.store), spec.days
    dates = np.datetime64(spec.start_date, "D") + np.arange(days)
    stamp = dates[orders.day].astype("datetime64[s]") + orders.sec.astype("timedelta64[s]")
    ordered_at = pd.Series(np.datetime_as_string(stamp, unit="s"), dtype="str").str.replace("T", " ")
    ymd = pd.Series(np.datetime_as_string(dates, unit="D"), dtype="str").str.replace("-", "")
    date8 = ymd.to_numpy()[orders.day]
    code = stores.codes[orders.store]
    cell = (orders.store * days + orders.day) * 6 + orders.channel
    daily = pd.Series(cell).groupby(cell).cumcount().to_numpy() + 1
    ids = np.empty(n_orders, dtype=object)
    bases = {0: 2_700_000_000_000_000_000, 1: 8_046_000_000_000_000_000, 2: 2_300_000_000_000_000,
             3: 6_900_000_000_000_000_000}
    for c, base in bases.items():
        m = np.flatnonzero(orders.channel == c)
        step = 1000 if c != 2 else 100
        ids[m] = (base + np.arange(len(m), dtype=np.int64) * step + rng.integers(0, step, len(m))).astype(str)
    m = np.flatnonzero(orders.channel == 4)  # 小程序
    seq = pd.Series(np.arange(1, len(m) + 1)).astype(str).str.zfill(7)
    ids[m] = ("WX" + pd.Series(date8[m], dtype="str") + seq).to_numpy(dtype=object)
    m = np.flatnonzero(orders.channel == POS)
    ids[m] = ("POS" + pd.Series(code[m], dtype="str") + pd.Series(date8[m], dtype="str").str.slice(2)
              + pd.Series(daily[m]).astype(str).str.zfill(4)).to_numpy(dtype=object)
    orders.ids = pa.array(ids, type=pa.string())
    del ids
    order_no = (pd.Series(date8, dtype="str") + pd.Series(code, dtype="str").str.slice(-4)
                + pd.Series(orders.channel).astype(str) + pd.Series(daily).astype(str).str.zfill(4))
    return {
        "platform_order_id": orders.ids,
        "order_no": pa.array(order_no, type=pa.string()),
        "ordered_at": pa.array(ordered_at, type=pa.string()),
        "address": pa.array(orders.address_texts, type=pa.string()),  # indexed by orders.addr
        "delivery_platform": pa.array(PLATFORMS, type=pa.string()),  # indexed by orders.platform
    }


def _assemble(demo: Demo, rows: slice) -> pd.DataFrame:
    import pyarrow as pa

    cat, stores, orders, lines, texts = demo.catalog, demo.stores, demo.orders, demo.lines, demo.texts
    o, sku = lines.order[rows], lines.sku[rows]

    def text(values, index) -> pd.Series:
        if not isinstance(values, pa.Array):
            values = pa.array(values, type=pa.string())
        return values.take(pa.array(index, mask=index < 0)).to_pandas()

    store_of = orders.store[o]
    columns = {
        "platform_order_id": text(texts["platform_order_id"], o), "order_no": text(texts["order_no"], o),
        "ordered_at": text(texts["ordered_at"], o),
        "store_name": text(stores.names, store_of), "store_code": text(stores.codes, store_of),
        "franchise_type": text(stores.franchise, store_of), "city": text(stores.cities, store_of),
        "product_name": text(cat.names, sku), "barcode": text(cat.barcodes, sku),
        "product_code": text(cat.codes, sku), "category_l1": text(cat.category_l1, sku),
        "category_l3": text(cat.category_l3, sku), "quantity": lines.qty[rows], "stock": lines.stock[rows],
        "remaining_stock": lines.stock[rows] - lines.qty[rows],
        "delivery_platform": text(texts["delivery_platform"], orders.platform[o]),
        "distance_km": orders.km[o], "address": text(texts["address"], orders.addr[o]),
        "channel": text(np.array(CHANNELS, dtype=object), orders.channel[o]),
    }
    for name, cents in lines.money.items():
        columns[name] = cents[rows] / 100.0
    for name, cents in orders.money.items():
        columns[name] = cents[o] / 100.0
    return pd.DataFrame({c.header: columns[c.name] for c in ef.COLUMNS})


# -------------------------------------------------------------------------------- ground truth


def _measure_truth(spec: DemoSpec, cat: Catalog, stores: StoreTable, orders: Orders, lines: Lines,
                   roles: Roles) -> dict:
    """Describe every injected problem, measured on the generated arrays (= the frame)."""
    days, n_sku = spec.days, cat.size
    iso = [(spec.start_date + dt.timedelta(days=i)).isoformat() for i in range(days)]
    keys = cat.sku_keys
    actual = orders.actual

    def order_ref(i: int) -> dict:
        s = int(orders.store[i])
        return {"store_code": stores.codes[s], "store_name": stores.names[s],
                "channel": CHANNELS[orders.channel[i]], "platform_order_id": orders.ids[i].as_py(),
                "date": iso[orders.day[i]], "actual_profit": round(int(actual[i]) / 100, 2)}

    def sku_ref(s: int, k: int) -> dict:
        return {"store_code": stores.codes[s], "store_name": stores.names[s], "sku": keys[k],
                "product_name": cat.names[k], "barcode": cat.barcodes[k], "product_code": cat.codes[k]}

    line_key = lines.store * n_sku + lines.sku
    pairs = [s * n_sku + k for s, k, _ in (*roles.stockouts, *roles.below_cost, *roles.slow_movers)]
    mine = np.isin(line_key, pairs)
    last_sale = pd.Series(lines.day[mine]).groupby(line_key[mine]).max().to_dict()
    below = lines.below & mine
    first_below = pd.Series(lines.day[below]).groupby(line_key[below]).min().to_dict()

    stockouts = []
    for s, k, from_day in roles.stockouts:
        m = (lines.store == s) & ~lines.is_bag & (lines.day < from_day)
        sold = np.bincount(lines.sku[m], weights=lines.qty[m], minlength=n_sku)
        rank = int((sold > sold[k]).sum()) + 1  # by 月售 before the stockout, 耗材 excluded
        if rank <= TOP_SELLER_RANK:
            stockouts.append({**sku_ref(s, k), "from_date": iso[from_day], "to_date": iso[-1],
                              "days": days - from_day, "rank_before": rank})
    below_cost = [
        {**sku_ref(s, k), "from_date": iso[first_below[s * n_sku + k]],
         "unit_cost": round(int(cat.cost_cents[k]) / 100, 2)}
        for s, k, _ in roles.below_cost if s * n_sku + k in first_below
    ]
    slow = []
    for s, k, _ in roles.slow_movers:
        if s * n_sku + k not in last_sale:  # never sold at all: not a slow mover
            continue
        last = int(last_sale[s * n_sku + k])
        slow.append({**sku_ref(s, k), "last_sale_date": iso[last], "idle_days": days - 1 - last})

    per_day = np.bincount(orders.store * days + orders.day, minlength=spec.stores * days)
    per_day = per_day.reshape(spec.stores, days)
    traffic = []
    for s in roles.traffic_stores:
        recent, previous = int(per_day[s, -7:].sum()), int(per_day[s, -14:-7].sum())
        ratio = 1 - recent / previous if previous else 0.0
        if ratio >= 0.3:
            traffic.append({"store_code": stores.codes[s], "store_name": stores.names[s],
                            "drop_ratio": round(ratio, 4), "recent_orders": recent,
                            "previous_orders": previous})
    margin = []
    for s in roles.margin_stores:
        windows = []
        for lo, hi in ((days - 14, days - 7), (days - 7, days)):
            m = (orders.store == s) & (orders.day >= lo) & (orders.day < hi)
            windows.append(actual[m].sum() / max(int(orders.revenue[m].sum()), 1))
        if windows[0] - windows[1] > 0.10:
            margin.append({"store_code": stores.codes[s], "store_name": stores.names[s],
                           "previous_margin": round(float(windows[0]), 4),
                           "recent_margin": round(float(windows[1]), 4)})
    fee = orders.channel < N_FEE
    # 异常订单: a fee channel charging neither 平台服务费 nor 平台佣金 (docs/METRICS.md)
    no_fee = (orders.money["service_fee"] == 0) & (orders.money["commission"] == 0)
    zero_fee = [order_ref(i) for i in np.flatnonzero(fee & no_fee)]
    closed = []
    if roles.closed_store >= 0:
        s = roles.closed_store
        closed.append({"store_code": stores.codes[s], "store_name": stores.names[s],
                       "date": iso[roles.closed_day]})
    return {
        "loss_far_orders": [order_ref(i) for i in np.flatnonzero(orders.loss & (actual < 0))],
        "all_loss_orders": [order_ref(i) for i in np.flatnonzero(actual < 0)],
        "below_cost_skus": below_cost,
        "stockout_skus": stockouts,
        "traffic_drop_stores": traffic,
        "margin_decline_stores": margin,
        "slow_movers": slow,
        "zero_fee_orders": zero_fee,
        "closed_store_days": closed,
        "spec": {**asdict(spec), "end_date": spec.end_date.isoformat()},
    }


# ------------------------------------------------------------------------------------ writing


def write_exports(lines: pd.DataFrame, out_dir: Path, fmt: str = "csv", *,
                  progress: Callable[[Path], None] | None = None) -> list[Path]:
    """Write one export file per calendar month (like real exports): fmt 'csv' (UTF-8 with BOM),
    'csv-gbk' (GB18030), 'xlsx' (openpyxl write_only, sheet name '订单明细'), or 'both' (csv+xlsx).
    File names like 订单明细_2026-09.csv. Returns the paths written.

    A month with more than MAX_ROWS_PER_FILE lines is split (at order boundaries) into
    订单明细_2026-09_1.csv, 订单明细_2026-09_2.csv, …. ``progress`` is called with each path written.
    CSV cells are written unquoted, so text must not contain commas, quotes or line breaks.
    """
    out_dir = output_dir(out_dir, fmt, FORMATS)
    months = lines["下单时间"].astype(str).str.slice(0, 7).to_numpy()
    paths: list[Path] = []
    for month in sorted(set(months)):
        paths += write_month(lines[months == month], f"{FILE_PREFIX}_{month}", out_dir, fmt,
                             MAX_ROWS_PER_FILE, progress)
    return paths


def write_demo(demo: Demo, out_dir: Path, fmt: str = "csv", *,
               progress: Callable[[Path], None] | None = None) -> list[Path]:
    """:func:`write_exports` of ``demo.frame()`` (the same files, byte for byte) with one month's
    frame in memory at a time."""
    out_dir = output_dir(out_dir, fmt, FORMATS)
    paths: list[Path] = []
    for month, part in demo.months():
        paths += write_month(part, f"{FILE_PREFIX}_{month}", out_dir, fmt, MAX_ROWS_PER_FILE, progress)
        del part
    return paths


def write_ground_truth(truth: dict, path: Path) -> None:
    """Write the ground truth as JSON (UTF-8, ensure_ascii=False, indent=2)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
