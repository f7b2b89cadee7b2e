"""Orders with their customer and value, cut at an as-of date."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from shopkeeper.errors import NotFound
from shopkeeper.warehouse import Warehouse

__all__ = ["baskets", "default_as_of", "purchase_lines"]


def default_as_of(wh: Warehouse) -> dt.date:
    """The day after the last order: "now" for a data set that ended in the past."""
    last = wh.execute(wh.table("orders").ordered_at.max())
    if last is None:
        raise NotFound("there are no orders to profile", hint="import orders first")
    return last.date() + dt.timedelta(days=1)


def purchase_lines(wh: Warehouse, as_of: dt.date) -> ir.Table:
    """Order lines with customer, household and order time, strictly before as_of.

    Cutting at ``as_of`` is what lets a model train on the past and be tested on
    the future without leakage.
    """
    orders = wh.table("orders")
    orders = orders.filter(orders.ordered_at < ibis.literal(as_of).cast("timestamp"))
    people = wh.table("identity_map")
    lines = wh.table("order_lines")
    joined = orders.join(people, orders.identifier == people.identifier).join(
        lines, "order_id"
    )
    return joined.select(
        "customer_id",
        "household_id",
        "order_id",
        "ordered_at",
        "product_id",
        "quantity",
        "sales_value",
    )


def baskets(lines: ir.Table) -> ir.Table:
    """One row per order: customer, time, value and number of distinct products."""
    return lines.group_by(["customer_id", "household_id", "order_id"]).agg(
        ordered_at=lines.ordered_at.min(),
        value=lines.sales_value.sum(),
        items=lines.product_id.nunique(),
    )
