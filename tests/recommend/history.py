"""Tiny hand-made basket histories for known-answer tests.

Hand-made on purpose: metrics and baselines are checked against figures worked
out by hand, which real data is too big to allow.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from shopkeeper.recommend.history import Baskets, baskets_from_arrow


def history(trips: dict[str, list[list[str]]]) -> Baskets:
    """Baskets from {household: [basket items, oldest first]}, one trip a day."""
    rows: dict[str, list[object]] = {
        k: [] for k in ("customer_id", "order_id", "ordered_at", "week", "store_id")
    }
    rows["product_id"] = []
    for customer, baskets in trips.items():
        for n, items in enumerate(baskets):
            for item in items:
                rows["customer_id"].append(customer)
                rows["order_id"].append(f"{customer}-{n}")
                rows["ordered_at"].append(dt.datetime(2017, 1, 1) + dt.timedelta(n))
                rows["week"].append(1 + n // 7)
                rows["store_id"].append("1")
                rows["product_id"].append(item)
    return baskets_from_arrow(pa.table(rows), min_item_baskets=1)
