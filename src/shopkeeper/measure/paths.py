"""Touch paths before conversions, from exposures, events and orders.

Touches are decision exposures (``exposures``) and the Segment e-mail and push
events (``Email Opened``, ``Email Link Clicked``, ``Push Notification
Received``, ``Push Notification Tapped``). Conversions are orders, plus
``Order Completed`` events whose ``order_id`` is not already an order (so a
purchase loaded both ways counts once). Everything is resolved to
``customer_id`` through ``identity_map``; an unresolved identifier stands for
itself.

A conversion's path is the customer's touches in the lookback window before
it, since their previous conversion (a touch is credited once). Touches left
after a customer's last conversion make a non-converting path, which the
data-driven models need.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from shopkeeper.measure.attribution import Path
from shopkeeper.warehouse import Warehouse
from shopkeeper.warehouse.jsontext import json_text

__all__ = ["EVENT_TOUCHES", "PathSet", "touch_paths", "touches"]

EVENT_TOUCHES = {
    "Email Opened": "email",
    "Email Link Clicked": "email",
    "Push Notification Received": "push",
    "Push Notification Tapped": "push",
}
"""Segment spec events that are a marketing touch, and the channel they are."""


@dataclass(frozen=True)
class PathSet:
    """The paths, and touched customers' conversions with no touch in the window
    before them (no model can credit those)."""

    paths: list[Path]
    untouched_conversions: int
    untouched_revenue: float


def _customers(wh: Warehouse, t: ir.Table) -> ir.Table:
    people = wh.table("identity_map").select("identifier", "customer_id")
    j = t.left_join(people, t.identifier == people.identifier)
    return j.mutate(customer_id=j.customer_id.fill_null(j.identifier)).drop(
        "identifier", "identifier_right"
    )


def _event_identifier(e: ir.Table) -> ir.StringValue:
    return ("user:" + e.user_id).fill_null("anon:" + e.anonymous_id)


def touches(wh: Warehouse) -> ir.Table:
    """Every touch: ``customer_id``, ``channel``, ``at``."""
    parts = []
    if wh.exists("exposures"):
        x = wh.table("exposures")
        parts.append(
            x.select(identifier=x.identifier, channel=x.channel, at=x.exposed_at)
        )
    if wh.exists("events"):
        e = wh.table("events")
        e = e.filter(e.type == "track", e.event.isin(list(EVENT_TOUCHES)))
        parts.append(
            e.select(
                identifier=_event_identifier(e),
                channel=e.event.substitute(EVENT_TOUCHES),
                at=e.timestamp,
            )
        )
    if not parts:
        empty = pa.schema(
            [
                ("customer_id", pa.string()),
                ("channel", pa.string()),
                ("at", pa.timestamp("us")),
            ]
        )
        return ibis.memtable(empty.empty_table())
    union = parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)
    union = union.filter(union.identifier.notnull())
    return _customers(wh, union).select("customer_id", "channel", "at")


def _conversions(wh: Warehouse) -> ir.Table:
    """Every conversion: ``customer_id``, ``at``, ``value``."""
    orders = wh.table("orders")
    lines = wh.table("order_lines")
    values = lines.group_by("order_id").agg(value=lines.sales_value.sum())
    o = orders.left_join(values, "order_id")
    parts = [
        o.select(
            order_id=o.order_id,
            identifier=o.identifier,
            at=o.ordered_at,
            value=o.value.fill_null(0.0),
        )
    ]
    if wh.exists("events"):
        e = wh.table("events")
        e = e.filter(e.type == "track", e.event == "Order Completed")
        revenue = json_text(e.properties, "revenue").cast("float64")
        total = json_text(e.properties, "total").cast("float64")
        ev = e.select(
            order_id=json_text(e.properties, "order_id"),
            identifier=_event_identifier(e),
            at=e.timestamp,
            value=revenue.fill_null(total).fill_null(0.0),
        )
        ev = ev.filter(ev.identifier.notnull())
        known = orders.select("order_id")
        ev = ev.filter(ev.order_id.isnull() | ~ev.order_id.isin(known.order_id))
        parts.append(ev)
    union = parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)
    return _customers(wh, union).select("customer_id", "at", "value")


def touch_paths(
    wh: Warehouse,
    *,
    lookback_days: int = 30,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> PathSet:
    """Converting and non-converting paths of customers who had any touch.

    Conversions of customers never touched are not read: no model could credit
    them, and on a store-only data set they are nearly all the rows.
    """
    t = touches(wh)
    c = _conversions(wh).semi_join(t, "customer_id")
    if start is not None:
        lo = ibis.literal(start).cast("timestamp")
        t, c = t.filter(t.at >= lo), c.filter(c.at >= lo)
    if end is not None:
        hi = ibis.literal(end + dt.timedelta(days=1)).cast("timestamp")
        t, c = t.filter(t.at < hi), c.filter(c.at < hi)
    tf = wh.to_arrow(t).to_pandas().assign(kind=0, value=0.0)
    cf = wh.to_arrow(c).to_pandas().assign(kind=1, channel=None)
    if tf.empty:
        return PathSet([], 0, 0.0)
    # Touches sort before a conversion at the same instant: they preceded it.
    frame = pd.concat([tf, cf], ignore_index=True).sort_values(
        ["customer_id", "at", "kind"], kind="stable"
    )
    window = pd.Timedelta(days=lookback_days)
    paths: list[Path] = []
    untouched, untouched_value = 0, 0.0
    for _, rows in frame.groupby("customer_id", sort=True):
        pending: list[tuple[str, pd.Timestamp]] = []
        for row in rows.itertuples(index=False):
            if row.kind == 0:
                pending.append((row.channel, row.at))
                continue
            recent = [(ch, at) for ch, at in pending if row.at - at <= window]
            pending = []
            if not recent:
                untouched, untouched_value = untouched + 1, untouched_value + row.value
                continue
            paths.append(_path(recent, row.at, True, float(row.value)))
        if pending:
            paths.append(_path(pending, pending[-1][1], False, 0.0))
    return PathSet(paths, untouched, untouched_value)


def _path(
    touches: list[tuple[str, pd.Timestamp]],
    until: pd.Timestamp,
    converted: bool,
    value: float,
) -> Path:
    ages = tuple((until - at).total_seconds() / 3600 for _, at in touches)
    return Path(tuple(ch for ch, _ in touches), converted, value, ages)
