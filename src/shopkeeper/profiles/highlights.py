"""The compact profile parts the customer 360 shows beside RFM and CLV.

The tables behind them are long (up to 60 affinity rows a customer); the
view shows what a person reads at a glance: the few strongest affinities of
each kind, the promotion response, the rising categories with the shift,
demographics and churn risk. Each part is empty (or None) when its table has
not been built, so the view works on a partly built warehouse.
"""

from __future__ import annotations

from typing import Any

from shopkeeper.warehouse import Warehouse

__all__ = ["TOP_AFFINITIES", "highlights"]

TOP_AFFINITIES = 5
"""Affinities shown per kind."""


def _rows(
    wh: Warehouse, table: str, customer_id: str, order: str | None = None
) -> list[dict[str, Any]]:
    if not wh.exists(table):
        return []
    t = wh.table(table)
    mine = t.filter(t.customer_id == customer_id).drop("customer_id")
    if order is not None:
        mine = mine.order_by(order)
    return wh.to_arrow(mine).to_pylist()


def _affinities(wh: Warehouse, customer_id: str) -> dict[str, list[dict[str, Any]]]:
    """Per kind, the few keys the customer over-indexes on most.

    By index rather than spend: the top departments by spend are already in
    the view's ``departments``, and what sets a customer apart is where they
    spend more than everyone else.
    """
    rows = _rows(wh, "profiles_affinities", customer_id)
    out: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (r["kind"], -(r["index"] or 0), r["key"])):
        kept = out.setdefault(row["kind"], [])
        if len(kept) < TOP_AFFINITIES:
            kept.append({k: row[k] for k in ("key", "index", "share", "spend")})
    return out


def _life_stage(wh: Warehouse, customer_id: str) -> dict[str, Any] | None:
    rows = _rows(wh, "profiles_life_stage", customer_id, "rank")
    if not rows:
        return None
    return {
        "as_of": rows[0]["as_of"],
        "shift": rows[0]["shift"],
        "rising": [
            {k: r[k] for k in ("category", "share_now", "share_before", "change")}
            for r in rows
        ],
    }


def _one(wh: Warehouse, table: str, customer_id: str) -> dict[str, Any] | None:
    rows = _rows(wh, table, customer_id)
    return rows[0] if rows else None


def highlights(wh: Warehouse, customer_id: str) -> dict[str, Any]:
    """``affinities``, ``promotion_response``, ``life_stage``, ``demographics``
    and ``churn`` of one customer, as the 360 view returns them."""
    return {
        "affinities": _affinities(wh, customer_id),
        "promotion_response": _one(wh, "profiles_promotions", customer_id),
        "life_stage": _life_stage(wh, customer_id),
        "demographics": _one(wh, "profiles_demographics", customer_id),
        "churn": _one(wh, "profiles_churn", customer_id),
    }
