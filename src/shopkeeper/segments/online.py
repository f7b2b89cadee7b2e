"""Online profile rows for real-time segment evaluation, read from the warehouse.

The online store exports one pre-joined row per customer; this builds those
rows (the shape ``RealtimeSegment`` reads) in a handful of batch queries, from
the same Ibis sources the batch compiler joins.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from shopkeeper.segments import sources
from shopkeeper.segments.fields import FIELDS
from shopkeeper.warehouse import Warehouse

__all__ = ["online_profiles"]


def online_profiles(
    wh: Warehouse, customer_ids: Sequence[str], as_of: dt.date
) -> dict[str, dict[str, Any]]:
    """One profile row per customer: fields, affinity, consents, events, purchases.

    Events and purchases are those before ``as_of``; an unknown customer id is
    left out of the answer.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    base = sources.profile_base(wh, list(FIELDS))
    rows: dict[str, dict[str, Any]] = {}
    for row in wh.to_arrow(base.filter(base.customer_id.isin(ids))).to_pylist():
        cid = row.pop("customer_id")
        row.pop("household_id")
        rows[cid] = {
            "customer_id": cid,
            "fields": row,
            "affinity": {},
            "consents": {},
            "events": [],
            "purchases": [],
        }
    aff = sources.department_affinity(wh, as_of)
    for r in wh.to_arrow(aff.filter(aff.customer_id.isin(ids))).to_pylist():
        if r["customer_id"] in rows:
            rows[r["customer_id"]]["affinity"][r["department"]] = r["index"]
    consents = sources.current_consents(wh)
    if consents is not None:
        mine = consents.filter(consents.customer_id.isin(ids))
        for r in wh.to_arrow(mine).to_pylist():
            if r["customer_id"] in rows:
                rows[r["customer_id"]]["consents"][r["purpose"]] = r["status"]
    events = sources.resolved_events(wh, sources.as_of_timestamp(as_of))
    if events is not None:
        mine = events.filter(events.customer_id.isin(ids)).order_by(
            ["customer_id", "timestamp", "message_id"]
        )
        for r in wh.to_arrow(mine).to_pylist():
            if r["customer_id"] in rows:
                props = json.loads(r["properties"]) if r["properties"] else {}
                rows[r["customer_id"]]["events"].append(
                    {
                        "event": r["event"],
                        "timestamp": r["timestamp"],
                        "properties": props,
                    }
                )
    lines = sources.product_lines(wh, as_of)
    mine = lines.filter(lines.customer_id.isin(ids)).order_by(
        ["customer_id", "ordered_at", "order_id", "product_id"]
    )
    for r in wh.to_arrow(mine).to_pylist():
        if r["customer_id"] in rows:
            rows[r.pop("customer_id")]["purchases"].append(r)
    return rows
