"""Budgeted offer plans kept in the warehouse: the headline and a row per offer.

``shopkeeper offers plan`` writes the chosen (customer, offer) pairs only to
the CSV the user asked for; what is kept here is each plan's headline
(budget, spent, expected margin, customers reached) and a per-offer summary,
so the dashboard can show the latest plan without copying customer data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import ibis
import pyarrow as pa

from shopkeeper import model
from shopkeeper.offers.allocate import Plan
from shopkeeper.warehouse import Warehouse

__all__ = ["latest_plan", "plan_tables", "record_plan"]


def plan_tables(
    plan: Plan,
    *,
    plan_id: str,
    planned_at: dt.datetime,
    budget: float | None,
    max_per_customer: int,
    caps: Mapping[str, int],
    offer_channels: Mapping[str, str] | None,
    source: str,
) -> dict[str, pa.Table]:
    """The plan's rows for both tables, as Arrow, keyed by table name.

    Offers with no customer assigned get no row: the per-offer table says
    what the plan sends, not what the candidates offered.
    """
    chosen = plan.assignments
    per_offer = (
        chosen.groupby(chosen["offer_id"].astype(str))
        .agg(
            assigned=("customer_id", "size"),
            cost=("cost", "sum"),
            margin=("incremental_margin", "sum"),
        )
        .sort_index()
    )
    offers = [
        {
            "plan_id": plan_id,
            "offer_id": offer,
            "channel": (offer_channels or {}).get(offer),
            "assigned": int(row.assigned),
            "cap": caps.get(offer),
            "cost": float(row.cost),
            "expected_incremental_margin": float(row.margin),
        }
        for offer, row in per_offer.iterrows()
    ]
    head = {
        "plan_id": plan_id,
        "planned_at": planned_at,
        "budget": budget,
        "spent": float(plan.total_cost),
        "expected_incremental_margin": float(plan.expected_incremental_margin),
        "customers": int(chosen["customer_id"].nunique()),
        "assignments": len(chosen),
        "max_per_customer": max_per_customer,
        "source": source,
    }

    def arrow(spec: model.TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
        return pa.Table.from_pylist(rows, schema=spec.schema.to_pyarrow())

    return {
        model.OFFERS_PLANS.name: arrow(model.OFFERS_PLANS, [head]),
        model.OFFERS_PLAN_OFFERS.name: arrow(model.OFFERS_PLAN_OFFERS, offers),
    }


def record_plan(
    wh: Warehouse,
    plan: Plan,
    *,
    budget: float | None,
    max_per_customer: int,
    caps: Mapping[str, int] | None = None,
    offer_channels: Mapping[str, str] | None = None,
    source: str = "",
    planned_at: dt.datetime | None = None,
) -> str:
    """Append the plan (both tables or neither) under a fresh id; the id."""
    plan_id = uuid.uuid4().hex[:12]
    at = planned_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    tables = plan_tables(
        plan,
        plan_id=plan_id,
        planned_at=at,
        budget=budget,
        max_per_customer=max_per_customer,
        caps=caps or {},
        offer_channels=offer_channels,
        source=source,
    )
    specs = (model.OFFERS_PLANS, model.OFFERS_PLAN_OFFERS)
    wh.create_tables(list(specs))
    with wh.transaction():
        for spec in specs:
            staged = wh.stage_arrow(f"_tmp_{spec.name}", tables[spec.name])
            wh.append(spec, staged)
    for spec in specs:
        wh.drop_temp(f"_tmp_{spec.name}")
    return plan_id


def latest_plan(wh: Warehouse) -> dict[str, Any] | None:
    """The latest kept plan with its offers (largest expected margin first).

    None when no plan was kept.
    """
    if not wh.exists(model.OFFERS_PLANS.name):
        return None
    p = wh.table(model.OFFERS_PLANS.name)
    rows = wh.to_arrow(
        p.order_by([ibis.desc("planned_at"), ibis.desc("plan_id")]).limit(1)
    ).to_pylist()
    if not rows:
        return None
    head = rows[0]
    o = wh.table(model.OFFERS_PLAN_OFFERS.name)
    offers = wh.to_arrow(
        o.filter(o.plan_id == head["plan_id"])
        .drop("plan_id")
        .order_by([ibis.desc("expected_incremental_margin"), "offer_id"])
    ).to_pylist()
    return {**head, "offers": offers}
