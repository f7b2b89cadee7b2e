"""Segment messages for identity tests, written into a warehouse's events table.

The Complete Journey has store baskets only, no web or app events, so the
tests generate the online half of a journey here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from shopkeeper import model
from shopkeeper.warehouse import Warehouse

__all__ = ["add_customers", "add_events", "event"]

_count = {"n": 0}


def event(
    kind: str,
    at: str,
    *,
    user: str | None = None,
    anon: str | None = None,
    previous: str | None = None,
    traits: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """One message as an events row; ``at`` is an ISO time (UTC)."""
    _count["n"] += 1
    when = datetime.fromisoformat(at)
    return {
        "message_id": f"msg-{_count['n']:05d}",
        "type": kind,
        "event": name if kind == "track" else None,
        "user_id": user,
        "anonymous_id": anon,
        "previous_id": previous,
        "timestamp": when,
        "received_at": when,
        "source_id": "test-app",
        "channel": "mobile",
        "traits": json.dumps(traits) if traits is not None else None,
        "context": json.dumps(context) if context is not None else None,
    }


def _arrow(spec: model.TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
    schema = spec.schema.to_pyarrow()
    return pa.Table.from_pylist(
        [{f.name: row.get(f.name) for f in schema} for row in rows], schema=schema
    )


def add_events(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` (from ``event``) to the warehouse's events table."""
    wh.append(
        model.EVENTS, wh.stage_arrow("_tmp_test_events", _arrow(model.EVENTS, rows))
    )
    wh.drop_temp("_tmp_test_events")


def add_customers(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    """Append imported customers rows (hashes already applied by the caller)."""
    wh.append(
        model.CUSTOMERS,
        wh.stage_arrow("_tmp_test_customers", _arrow(model.CUSTOMERS, rows)),
    )
    wh.drop_temp("_tmp_test_customers")
