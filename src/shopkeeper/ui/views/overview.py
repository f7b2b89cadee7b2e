"""The overview page: how many customers, what they spend where, what is
running, and whether the data is fresh.

"Now" is the last order in the warehouse, not the wall clock: an imported
history (The Complete Journey ends in 2017) still gets a meaningful "last 4
weeks", and the page says which day it counts from.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis

from shopkeeper.collect.eventloader import unloaded_bytes
from shopkeeper.segments.membership import member_counts
from shopkeeper.warehouse import Warehouse

__all__ = ["overview"]

WEEKS_SHOWN = 26
ACTIVE_DAYS = 28


def _scalar(wh: Warehouse, expr: ibis.Expr) -> Any:
    return wh.execute(expr)


def _revenue_by_week(wh: Warehouse, last_week: int) -> dict[str, Any]:
    orders = wh.table("orders")
    lines = wh.table("order_lines")
    joined = lines.join(orders, "order_id").filter(
        ibis._.week > last_week - WEEKS_SHOWN
    )
    rows = wh.to_arrow(
        joined.group_by(["week", "channel"])
        .agg(revenue=joined.sales_value.sum().round(2))
        .order_by(["week", "channel"])
    ).to_pylist()
    weeks = sorted({r["week"] for r in rows})
    channels = sorted({r["channel"] for r in rows})
    series: dict[str, list[float | None]] = {c: [None] * len(weeks) for c in channels}
    index = {w: i for i, w in enumerate(weeks)}
    for r in rows:
        series[r["channel"]][index[r["week"]]] = r["revenue"]
    return {"weeks": weeks, "by_channel": series}


def _campaigns_running(wh: Warehouse, today: dt.date) -> list[dict[str, Any]]:
    if not wh.exists("campaigns"):
        return []
    c = wh.table("campaigns")
    members = (
        wh.table("campaign_members").group_by("campaign_id").agg(members=ibis._.count())
    )
    running = (
        c.filter((c.start_date <= today) & (c.end_date >= today))
        .left_join(members, "campaign_id")
        .select(
            "campaign_id",
            "name",
            "campaign_type",
            "channel",
            "start_date",
            "end_date",
            members=ibis._.members.fill_null(0),
        )
        .order_by(["end_date", "campaign_id"])
    )
    return wh.to_arrow(running).to_pylist()


def _freshness(wh: Warehouse, events_dir: Path) -> dict[str, Any]:
    last_event = None
    if wh.exists("events"):
        last_event = _scalar(wh, wh.table("events").received_at.max())
    built = None
    if wh.exists("profiles_rfm"):
        built = _scalar(wh, wh.table("profiles_rfm").as_of.max())
    return {
        "last_event_received": last_event,
        "last_order": _scalar(wh, wh.table("orders").ordered_at.max()),
        "profiles_as_of": built,
        "recommendations": (
            int(_scalar(wh, wh.table("recommendations").count()))
            if wh.exists("recommendations")
            else 0
        ),
        "loader_unloaded_bytes": unloaded_bytes(events_dir),
    }


def overview(wh: Warehouse, events_dir: Path) -> dict[str, Any]:
    orders = wh.table("orders")
    last_order = _scalar(wh, orders.ordered_at.max())
    if last_order is None:
        return {"empty": True, "freshness": _freshness(wh, events_dir)}
    today = last_order.date()
    since = dt.datetime.combine(today - dt.timedelta(days=ACTIVE_DAYS), dt.time())
    ids = wh.table("identity_map").select("identifier", "customer_id")
    recent = orders.filter(orders.ordered_at > since).join(ids, "identifier")
    segments = sorted(
        (
            {"segment": name, "version": version, "members": n}
            for (name, version), n in member_counts(wh).items()
        ),
        key=lambda r: -r["members"],
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in segments:  # the newest built version of each segment
        if row["version"] >= latest.get(row["segment"], {"version": -1})["version"]:
            latest[row["segment"]] = row
    return {
        "empty": False,
        "as_of": today,
        "customers": int(_scalar(wh, ids.customer_id.nunique())),
        "buying_customers": int(
            _scalar(wh, orders.join(ids, "identifier").customer_id.nunique())
        ),
        "active_last_4_weeks": int(_scalar(wh, recent.customer_id.nunique())),
        "revenue": _revenue_by_week(wh, int(_scalar(wh, orders.week.max()))),
        "top_segments": sorted(latest.values(), key=lambda r: -r["members"])[:8],
        "campaigns_running": _campaigns_running(wh, today),
        "freshness": _freshness(wh, events_dir),
    }
