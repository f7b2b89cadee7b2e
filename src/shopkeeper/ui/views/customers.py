"""Customer 360: find anyone by any identifier and see them whole.

The page reuses the profile API's own functions (``customer_view`` and
``timeline``), so what a person sees here is what ``GET /v1/profiles/{id}``
answers, plus plain-language readings of the numbers: a marketer should not
need to know what P(alive) or an affinity index is to use them.
"""

from __future__ import annotations

from typing import Any

import ibis

from shopkeeper.profiles.customer360 import customer_view, timeline
from shopkeeper.warehouse import Warehouse

__all__ = ["customer_list", "customer_page", "explain"]

TIMELINE_ITEMS = 40


def customer_list(wh: Warehouse, *, limit: int = 25) -> dict[str, Any]:
    """The most valuable customers, as a place to start browsing."""
    if not wh.exists("profiles_clv"):
        return {"customers": []}
    clv = wh.table("profiles_clv")
    rfm = wh.table("profiles_rfm").select("customer_id", "rfm_segment", "monetary")
    rows = wh.to_arrow(
        clv.left_join(rfm, "customer_id")
        .select(
            clv.customer_id,
            clv.household_id,
            clv.clv_52w,
            clv.p_alive,
            rfm.rfm_segment,
            rfm.monetary,
        )
        .order_by([ibis.desc("clv_52w"), "customer_id"])
        .limit(limit)
    ).to_pylist()
    return {"customers": rows}


def _products(wh: Warehouse, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids or not wh.exists("products"):
        return {}
    p = wh.table("products")
    rows = wh.to_arrow(
        p.filter(p.product_id.isin(ids)).select(
            "product_id", "department", "category", "product_type", "brand_type"
        )
    ).to_pylist()
    return {r["product_id"]: r for r in rows}


def _label(product: dict[str, Any] | None, product_id: str) -> str:
    if not product:
        return f"product {product_id}"
    kind = (product.get("product_type") or product.get("category") or "").title()
    return f"{kind} ({product.get('department') or '?'})".strip()


def explain(view: dict[str, Any]) -> list[str]:
    """Plain sentences for the numbers a marketer sees on the page."""
    out: list[str] = []
    p = view.get("profile") or {}
    if p:
        out.append(
            f"RFM {p['rfm_code']} ({p['rfm_segment']}): recency, frequency and "
            "money each scored 1 (lowest fifth of customers) to 5 (highest). "
            f"Last bought {p['recency_days']} days before {p['as_of']}, "
            f"{p['frequency']} trips, ${p['monetary']:,.2f} in all."
        )
    v = view.get("lifetime_value") or {}
    if v and v.get("clv_52w") is not None:
        out.append(
            f"Expected to spend ${v['clv_52w']:,.0f} in the next 52 weeks over "
            f"about {v['expected_purchases_52w']:.0f} trips (BG/NBD and "
            "Gamma-Gamma models fitted on everyone's history)."
        )
        alive = v.get("p_alive") or 0.0
        out.append(
            f"P(alive) {alive:.2f}: the chance they still shop here at all, from "
            "how their recent gap compares with their usual rhythm. Below 0.5 "
            "means more likely lapsed than active."
        )
    for d in view.get("departments", [])[:1]:
        out.append(
            f"{d['share'] * 100:.0f}% of their spend goes to {d['department']}, "
            "their largest department."
        )
    for kind, rows in (view.get("affinities") or {}).items():
        top = rows[0] if rows else {}
        index = top.get("index")
        if index is not None and kind in ("department", "category"):
            out.append(
                f"Affinity {index:.1f} for {str(top['key']).title()} ({kind}): they "
                f"put {index:.1f}× the share of their spend there that the average "
                "customer does (1.0 is average)."
            )
    promo = view.get("promotion_response") or {}
    if promo.get("featured_index") is not None:
        out.append(
            f"{promo['featured_share'] * 100:.0f}% of their spend is on items on "
            "display or in the mailer that week in their store, "
            f"{promo['featured_index']:.1f}× the average customer's share: "
            + (
                "they respond to in-store promotion."
                if promo["featured_index"] > 1.1
                else "promotion does not sway them much."
            )
        )
    stage = view.get("life_stage") or {}
    rising = stage.get("rising") or []
    if rising and rising[0].get("change") is not None:
        r = rising[0]
        out.append(
            f"Their basket is changing (shift {stage['shift']:.2f} of 1): "
            f"{str(r['category']).title()} rose from {r['share_before'] * 100:.0f}% "
            f"to {r['share_now'] * 100:.0f}% of their spend over the last six "
            "months, the kind of change a new baby, a pet or a move brings."
        )
    churn = view.get("churn") or {}
    if churn.get("churn_risk") is not None:
        out.append(
            f"Churn risk {churn['churn_risk'] * 100:.0f}%: the model's chance that "
            "they buy nothing in the coming weeks, learned from customers who did "
            "and did not come back before."
        )
    return out


def customer_page(wh: Warehouse, identifier: str) -> dict[str, Any]:
    view = customer_view(wh, identifier)
    history = timeline(wh, view["customer_id"], limit=TIMELINE_ITEMS)
    recs = view.get("recommendations") or []
    names = _products(wh, [r["product_id"] for r in recs])
    for r in recs:
        r["label"] = _label(names.get(r["product_id"]), r["product_id"])
    return {
        **view,
        "explanations": explain(view),
        "timeline": history["items"],
        "timeline_next": history.get("next_cursor"),
    }
