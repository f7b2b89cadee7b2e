"""Export the warehouse's per-customer view into the online store.

One document per customer, pre-joined (Feast's lesson: one read per decision,
not one per feature), plus an alias from every identifier to its customer and
a popularity list for visitors nobody knows yet. Tables that a build has not
produced (segments, the learned recommender) are simply left out of the
document; the decide path treats a missing part as "nothing known".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import ibis

from shopkeeper.decide.offer_rows import (
    COMPLEMENTS,
    HOLDOUTS,
    complement_docs,
    customer_offers,
    export_holdouts,
)
from shopkeeper.warehouse import Warehouse

__all__ = ["ALIAS", "CUSTOMERS", "POPULAR", "export_online"]

CUSTOMERS = "customer"
ALIAS = "alias"
POPULAR = "popular"

_PROFILE = ("rfm_segment", "recency_days", "frequency", "monetary", "avg_basket_value")
_CLV = ("clv_52w", "expected_purchases_52w", "p_alive")
_FEATURES = (
    "preferred_store",
    "preferred_channel",
    "favourite_day",
    "trip_cadence_days",
)


def _latest(wh: Warehouse, table: str, columns: tuple[str, ...]) -> dict[str, dict]:
    if not wh.exists(table):
        return {}
    t = wh.table(table)
    keep = [c for c in columns if c in t.columns]
    if "as_of" in t.columns:
        last = t.as_of.max().over(group_by="customer_id")
        t = t.filter(t.as_of == last)
    rows = wh.to_arrow(t.select("customer_id", *keep)).to_pylist()
    return {r.pop("customer_id"): r for r in rows}


def _lists(
    wh: Warehouse, table: str, columns: tuple[str, ...], limit: int
) -> dict[str, list[dict[str, Any]]]:
    if not wh.exists(table):
        return {}
    t = wh.table(table)
    t = t.filter(t["rank"] <= limit).order_by(["customer_id", "rank"])
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in wh.to_arrow(t.select("customer_id", *columns)).to_pylist():
        out[row.pop("customer_id")].append(row)
    return out


def _consents(wh: Warehouse) -> dict[str, dict[str, str]]:
    """Latest status per (customer, purpose) across the customer's identifiers."""
    if not wh.exists("consents") or not wh.exists("identity_map"):
        return {}
    c = wh.table("consents")
    m = wh.table("identity_map")
    j = c.join(m, c.subject == m.identifier)
    latest = j.mutate(
        _n=ibis.row_number().over(
            group_by=["customer_id", "purpose"],
            order_by=[ibis.desc("recorded_at"), ibis.desc("consent_id")],
        )
    ).filter(ibis._._n == 0)
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for row in wh.to_arrow(
        latest.select("customer_id", "purpose", "status")
    ).to_pylist():
        out[row["customer_id"]][row["purpose"]] = row["status"]
    return out


def _segments(wh: Warehouse) -> dict[str, list[str]]:
    if not wh.exists("segments_members"):
        return {}
    t = wh.table("segments_members")
    if "exited_at" in t.columns:
        t = t.filter(t.exited_at.isnull())
    out: dict[str, list[str]] = defaultdict(list)
    for row in wh.to_arrow(t.select("customer_id", "segment")).to_pylist():
        out[row["customer_id"]].append(row["segment"])
    return out


def _recommendations(wh: Warehouse, k: int) -> dict[str, list[dict[str, Any]]]:
    for table in ("recommendations", "recommend_personal_top"):
        if wh.exists(table):
            return _lists(wh, table, ("rank", "product_id", "score", "reason"), k)
    return {}


def _popular(wh: Warehouse, k: int) -> list[dict[str, Any]]:
    if not wh.exists("order_lines"):
        return []
    lines = wh.table("order_lines")
    top = (
        lines.group_by("product_id")
        .agg(baskets=lines.order_id.nunique())
        .order_by([ibis.desc("baskets"), "product_id"])
        .limit(k)
    )
    rows = wh.to_arrow(top).to_pylist()
    baskets = max(1, wh.count(wh.table("orders"))) if wh.exists("orders") else 1
    # Score on the personal recommender's scale (the share of baskets holding
    # the item), so the policy can weigh both kinds of candidates.
    return [
        {
            "rank": i + 1,
            "product_id": r["product_id"],
            "score": round(r["baskets"] / baskets, 4),
            "reason": f"popular: in {r['baskets'] / baskets:.0%} of all baskets",
        }
        for i, r in enumerate(rows)
    ]


def export_online(
    wh: Warehouse,
    store: Any,
    *,
    recommendations: int = 20,
    discoveries: int = 10,
    offers: int = 20,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Write every customer's document (with at most ``recommendations``
    recommendations, ``discoveries`` never-bought products and ``offers``
    offers), the aliases, the popular list, the holdout shares and the
    complements."""
    if not wh.exists("identity_map"):
        return {CUSTOMERS: 0, ALIAS: 0, POPULAR: 0, HOLDOUTS: 0, COMPLEMENTS: 0}
    people = wh.to_arrow(wh.table("identity_map")).to_pylist()
    parts = {
        "profile": _latest(wh, "profiles_rfm", _PROFILE),
        "value": _latest(wh, "profiles_clv", _CLV),
        "habits": _latest(wh, "profiles_features", _FEATURES),
        "departments": _lists(wh, "profiles_departments", ("department", "share"), 5),
        "recommendations": _recommendations(wh, recommendations),
        "discoveries": _lists(
            wh, "discoveries", ("rank", "product_id", "score", "reason"), discoveries
        ),
        "consents": _consents(wh),
        "segments": _segments(wh),
        "offers": customer_offers(wh, limit=offers),
    }
    households = {p["customer_id"]: p["household_id"] for p in people}
    docs = []
    for customer_id, household_id in households.items():
        doc: dict[str, Any] = {"customer_id": customer_id, "household_id": household_id}
        for name, values in parts.items():
            doc[name] = values.get(customer_id) or (
                {} if name in ("profile", "value", "habits", "consents") else []
            )
        docs.append((customer_id, doc))
    if progress:
        progress("online: customers", 0, len(docs))
    written = store.write_batch(CUSTOMERS, docs)
    aliases = store.write_batch(
        ALIAS, ((p["identifier"], {"customer_id": p["customer_id"]}) for p in people)
    )
    store.write_batch(POPULAR, [("all", {"items": _popular(wh, 50)})])
    campaigns = export_holdouts(wh, store)
    complements = store.write_batch(COMPLEMENTS, complement_docs(wh))
    if progress:
        progress("online: customers", written, len(docs))
    return {
        CUSTOMERS: written,
        ALIAS: aliases,
        POPULAR: 1,
        HOLDOUTS: campaigns,
        COMPLEMENTS: complements,
    }
