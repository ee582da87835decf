"""The read model's tables: each daily aggregate (and the flagged orders, the product and store
directories) read whole once per database identity and data version (measures as int32 units
wherever they fit), with the COPY → Arrow loaders of ``db.queries``, and shared by the host's
workers as memory-mapped files (``readmodel.store``). The totals (``readmodel.totals``) are sums over these frames.

| table | rows (100 stores × 90 days) | from |
|---|---|---|
| channel | store × day × channel × fee-0 flag (~52,000) | agg_store_day_channel |
| hour | … × hour | agg_store_day_hour |
| distance | … × distance band | agg_store_day_distance |
| product | … × product, 耗材 left out (~1 M) | agg_store_day_product |
| depth | … × basket depth (~150,000) | orders, grouped |
| orders | loss-making, costly-delivery or abnormal orders (~6 %) | orders |
| products, stores | the directories | products, stores |

``CHAIN_TABLES``: hour, distance, product and depth with their stores added up
(``readmodel.chain``), derived from the store-level table once per data stamp and shared the
same way; the totals of a selection of every store read them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine

from config import Settings
from config.readmodel import OTHER_DATABASE_TABLES_MAX_AGE_S, TABLE_WAIT_S
from db import queries
from db.engine import reading
from db.version import DataStamp, VersionWatch
from readmodel import chain, sums
from readmodel.elsewhere import write_elsewhere
from readmodel.store import SharedTables

DAILY_MEASURES = (
    "orders", "loss_orders", "revenue", "actual_profit", "item_profit", "platform_fee",
    "delivery_fee", "marketing_cost", "delivery_net_cost", "corporate_rebate",
)  # fmt: skip
CHANNEL_MEASURES = ("orders", "loss_orders", "revenue", "actual_profit", "platform_fee", "marketing_cost",
                    "delivery_fee", "delivery_net_cost")  # fmt: skip
CHANNEL_TABLE_MEASURES = tuple(dict.fromkeys([*DAILY_MEASURES, *CHANNEL_MEASURES]))
HOUR_MEASURES = ("orders", "revenue", "actual_profit")
DISTANCE_MEASURES = ("orders", "revenue", "actual_profit", "delivery_fee", "delivery_net_cost")
PRODUCT_MEASURES = ("quantity", "revenue", "cost", "profit")
DEPTH_MEASURES = ("orders", "revenue")


def _aggregate(name: str, keys: tuple[str, ...], measures: tuple[str, ...]):
    def load(conn: Connection) -> pd.DataFrame:
        return sums.as_table(queries.aggregate_rows(conn, name, keys, measures), measures, compact=True)

    return load


TABLES: dict[str, Callable[[Connection], pd.DataFrame]] = {
    "channel": _aggregate("channel", (), CHANNEL_TABLE_MEASURES),
    "hour": _aggregate("hour", ("hour",), HOUR_MEASURES),
    "distance": _aggregate("distance", ("distance_band",), DISTANCE_MEASURES),
    "product": _aggregate("product", ("product_id",), PRODUCT_MEASURES),
    "depth": lambda conn: sums.as_table(queries.depth_rows(conn), DEPTH_MEASURES, compact=True),
    "products": queries.products,
    "stores": queries.stores,
}


def flagged_orders_table(conn: Connection, fee_floor: float, fee_channels: tuple[str, ...]) -> pd.DataFrame:
    return queries.flagged_orders(conn, fee_floor, fee_channels).drop(columns="business_date")


# table → the source whose size decides where it is loaded (readmodel.elsewhere)
SOURCES = {"channel": "channel", "hour": "hour", "distance": "distance", "product": "product", "depth": "orders"}
# store-level table → (its own keys, measures, store bitsets): its chain-wide table
CHAIN_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "hour": (("hour",), HOUR_MEASURES, False),
    "distance": (("distance_band",), DISTANCE_MEASURES, False),
    "product": (("product_id",), PRODUCT_MEASURES, True),
    "depth": (("depth",), DEPTH_MEASURES, False),
}


@dataclass(frozen=True)
class ReadModel:
    """One database's tables for the processes of this host (``runtime.tables``)."""

    engine: Engine
    settings: Settings
    versions: VersionWatch
    shared: SharedTables

    @classmethod
    def build(cls, settings: Settings, engine: Engine, versions: VersionWatch) -> ReadModel:
        shared = SharedTables(Path(settings.data_dir) / "tables", OTHER_DATABASE_TABLES_MAX_AGE_S, TABLE_WAIT_S)
        return cls(engine, settings, versions, shared)

    def table(self, name: str, stamp: DataStamp | None = None) -> pd.DataFrame:
        """The table ``name`` (``TABLES``) at the current data stamp (or at ``stamp``)."""
        stamp = stamp or self.versions.stamp()
        return self._get(name, TABLES[name], stamp, self._elsewhere(SOURCES.get(name), stamp, tables=[name]))

    def chain_table(self, name: str) -> pd.DataFrame:
        """The store-level table ``name`` with its stores added up (``CHAIN_TABLES``)."""
        stamp = self.versions.stamp()
        keys, measures, store_bits = CHAIN_TABLES[name]

        def with_store_level() -> bool:  # a loader child writes both files: then it is there
            self.table(name, stamp)
            return self.shared.files.path_for(f"{name}_chain", *stamp).exists()

        def derived() -> pd.DataFrame:  # from the same stamp's store-level table
            return chain.build(self.table(name, stamp), keys, measures, store_bits)

        return self.shared.get(f"{name}_chain", stamp, derived, with_store_level)

    def _elsewhere(self, source: str | None, stamp: DataStamp, **work: object) -> Callable[[], bool] | None:
        """For a table of a daily aggregate or of ``orders`` (``source``): a child process
        writes its file (and its chain table's) when the source has ``table_process_rows`` rows
        or more. ``work``: what the child writes (``readmodel.loader.run``)."""
        if source is None:
            return None

        def big_enough_to_load_elsewhere() -> bool:
            limit = self.settings.table_process_rows
            if limit > 0:
                with reading(self.engine) as conn:
                    if queries.estimated_rows(conn, source) < limit:
                        return False
            job = {"database_url": self.settings.database_url, "directory": str(self.shared.files.directory),
                   "other_max_age": self.shared.files.other_max_age, "version": stamp.version,
                   "database": stamp.database_id, "load_timeout_s": self.settings.db_load_timeout_s,
                   "tables": [], **work}  # fmt: skip
            return write_elsewhere(job, self.settings.db_load_timeout_s)

        return big_enough_to_load_elsewhere

    def flagged_orders(self, fee_floor: float) -> pd.DataFrame:
        """The orders an order rule or the 异常订单 list can name (``db.queries.flagged_orders``):
        loss-making, delivery fee above ``fee_floor``, or abnormal; ``day`` as in every table."""
        fee_channels = tuple(self.settings.fee_channels)
        tag = hashlib.blake2b(repr((float(fee_floor), fee_channels)).encode(), digest_size=6).hexdigest()
        stamp = self.versions.stamp()
        orders = {"name": f"orders_{tag}", "fee_floor": float(fee_floor), "fee_channels": list(fee_channels)}
        return self._get(orders["name"], lambda conn: flagged_orders_table(conn, float(fee_floor), fee_channels),
                         stamp, self._elsewhere("orders", stamp, orders=orders))  # fmt: skip

    def _get(self, name: str, load: Callable[[Connection], pd.DataFrame], stamp: DataStamp | None = None,
             elsewhere: Callable[[], bool] | None = None) -> pd.DataFrame:  # fmt: skip
        def whole_table() -> pd.DataFrame:  # bounded by db_load_timeout_s, not a view's bound
            with reading(self.engine, timeout_s=self.settings.db_load_timeout_s) as conn:
                return load(conn)

        return self.shared.get(name, stamp or self.versions.stamp(), whole_table, elsewhere)
