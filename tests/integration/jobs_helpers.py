"""Export sheets for the import-job tests, and the independent (pandas) figures to check an
import against."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

from db.models import Order, OrderItem, Store
from tests.factories import order, sheet


def orders_sheet(n_orders: int, *, stores: int = 3, seed: int = 1, prefix: str = "JOB") -> pd.DataFrame:
    """``n_orders`` orders of one to three lines over ``stores`` stores and a week."""
    rng = np.random.default_rng(seed)
    products = [("红富士苹果", "6901234567892", "P001"), ("香蕉", "6901234567908", "P002"),
                ("纯牛奶", "6907992500133", "P003"), ("面包", "6901234560001", "P004")]  # fmt: skip
    orders = []
    for n in range(n_orders):
        lines = []
        for k in rng.choice(len(products), size=int(rng.integers(1, 4)), replace=False):
            name, barcode, code = products[int(k)]
            price = float(rng.integers(2, 40))
            lines.append({"product_name": name, "barcode": barcode, "product_code": code,
                          "received_price": price, "quantity": int(rng.integers(1, 4)),
                          "cost": round(price * 0.6, 2)})  # fmt: skip
        store = int(rng.integers(0, stores))
        orders.append(order(
            f"{prefix}{n:07d}", f"2026-11-{1 + n % 7:02d} {8 + n % 12:02d}:{n % 60:02d}:00", lines,
            store_name=f"测试门店{store}", store_code=f"S{store:03d}",
            delivery_fee=float(rng.integers(0, 8)), service_fee=round(float(rng.random()) * 3, 2),
        ))  # fmt: skip
    return sheet(*orders)


def file_figures(frame: pd.DataFrame) -> pd.DataFrame:
    """Per order, from the raw sheet: store, lines, quantity, revenue, delivery fee."""
    frame = frame.copy()
    for name in ("实收价格", "月售", "物流配送费"):
        frame[name] = frame[name].astype(float)
    frame["revenue"] = frame["实收价格"] * frame["月售"]
    grouped = frame.groupby(frame["订单ID"].astype(str))
    out = pd.DataFrame({
        "store": grouped["门店名称"].first(),
        "lines": grouped.size(),
        "quantity": grouped["月售"].sum().astype(float),
        "revenue": grouped["revenue"].sum().round(2),
        "delivery_fee": grouped["物流配送费"].first().astype(float),
    })  # fmt: skip
    return out.sort_index()


def database_figures(engine) -> pd.DataFrame:
    """The same figures from the imported orders and lines."""
    query = (
        select(Order.platform_order_id, Store.name.label("store"), Order.delivery_fee,
               OrderItem.quantity, OrderItem.received_price)
        .join(Store, Store.id == Order.store_id)
        .join(OrderItem, OrderItem.order_id == Order.id)
    )  # fmt: skip
    with engine.connect() as conn:
        rows = pd.read_sql(query, conn)
    rows["revenue"] = rows["received_price"] * rows["quantity"]
    grouped = rows.groupby(rows["platform_order_id"].astype(str))
    out = pd.DataFrame({
        "store": grouped["store"].first(),
        "lines": grouped.size(),
        "quantity": grouped["quantity"].sum().astype(float),
        "revenue": grouped["revenue"].sum().round(2),
        "delivery_fee": grouped["delivery_fee"].first().astype(float),
    })  # fmt: skip
    out.index.name = "订单ID"
    return out.sort_index()


def read_raw(*paths: Path) -> pd.DataFrame:
    """The raw lines of export files as pandas reads them (CSV: any of our encodings; XLSX)."""
    frames = []
    for path in paths:
        if path.suffix.lower() == ".xlsx":
            frames.append(pd.read_excel(path, dtype=str, engine="openpyxl"))
            continue
        raw = path.read_bytes()
        encoding = "utf-8-sig"
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            encoding = "gb18030"
        frames.append(pd.read_csv(path, dtype=str, encoding=encoding))
    return pd.concat(frames, ignore_index=True)


def assert_database_holds(engine, *paths: Path, renames: dict[str, str] | None = None, prefix: str = "") -> None:
    """The orders in the database are exactly those of the files (pandas over the raw lines;
    ``renames``: file column → our header where the file names it otherwise; ``prefix``: only
    the stored orders whose id starts so, when the database holds others too)."""
    expected = file_figures(read_raw(*paths).rename(columns=renames or {}))
    found = database_figures(engine)
    found = found[found.index.str.startswith(prefix)]
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, check_names=False)


def wait_for_job(runtime, job_id: int, timeout: float = 120.0):
    """The job once it is no longer active (checked, invalid, imported …); fails after ``timeout``."""
    from services import imports

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = imports.get_job(runtime, job_id)
        if not job.active:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status}")
