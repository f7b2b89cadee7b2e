"""The offer side of the online store: coupons per customer, holdouts, complements.

Exported with the customer documents (:func:`shopkeeper.decide.online_rows.
export_online`) so that a decision never asks the warehouse:

- **offers** in each customer's document: coupons of the campaigns the
  customer is a member of (treatment group only), at most a few per campaign
  and per customer, preferring coupons on products the customer buys. Each
  carries the campaign's dates and, where ``campaign_stores`` restricts the
  campaign, the stores it is valid in. A member the campaign's recorded
  holdout share holds out gets none of its coupons (the hash rule of
  :mod:`shopkeeper.measure.holdouts`), so the document simply has no
  held-out offers.
- **holdouts**: the share recorded per campaign (``measure_holdouts``), one
  small document the decider re-checks at decision time, as defence in depth
  against a holdout assigned after the customer documents were exported;
  :func:`export_holdouts` refreshes it alone, in milliseconds.
- **complements**: per product, the few items most often bought with it
  (``complements``, by lift), read for the items in a cart.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import ibis
import ibis.expr.types as ir

from shopkeeper.model.marketing import CAMPAIGN_STORES
from shopkeeper.model.measure import MEASURE_HOLDOUTS
from shopkeeper.offers.holdout_hash import holdout_expr
from shopkeeper.warehouse import Warehouse

__all__ = [
    "COMPLEMENTS",
    "HOLDOUTS",
    "complement_docs",
    "customer_offers",
    "export_holdouts",
    "holdout_shares",
]

HOLDOUTS = "holdout"
COMPLEMENTS = "complement"


def holdout_shares(wh: Warehouse) -> dict[str, float]:
    """The holdout share recorded for each campaign (none: nobody held out)."""
    if not wh.exists(MEASURE_HOLDOUTS.name):
        return {}
    t = wh.table(MEASURE_HOLDOUTS.name)
    rows = wh.to_arrow(t.select("campaign_id", "share")).to_pylist()
    return {str(r["campaign_id"]): float(r["share"]) for r in rows}


def export_holdouts(wh: Warehouse, store: Any) -> int:
    """Write the holdout shares document; call it after assigning a holdout so
    running deciders stop offering the campaign to its holdout at once."""
    shares = holdout_shares(wh)
    store.write_batch(HOLDOUTS, [("all", {"shares": shares})])
    return len(shares)


def _members(wh: Warehouse, shares: dict[str, float]) -> ir.Table:
    """(customer_id, campaign_id) of treatment members outside every holdout."""
    m = wh.table("campaign_members")
    people = wh.table("identity_map").select("identifier", "customer_id")
    j = m.filter(m.member_group != "holdout").join(people, "identifier")
    held = ibis.literal(False)
    for campaign_id, share in shares.items():
        held = held | (
            (j.campaign_id == campaign_id)
            & holdout_expr(j.customer_id, campaign_id, share)
        )
    return j.filter(~held).select("customer_id", "campaign_id").distinct()


def _coupon_baskets(wh: Warehouse) -> ir.Table:
    """Baskets per (customer, coupon): how often the customer bought any product
    the coupon applies to (the offer's relevance, on the recommender's scale
    once divided by the customer's baskets)."""
    orders = wh.table("orders")
    people = wh.table("identity_map").select("identifier", "customer_id")
    lines = wh.table("order_lines").select("order_id", "product_id")
    bought = (
        orders.join(people, "identifier")
        .join(lines, "order_id")
        .select("customer_id", "order_id", "product_id")
    )
    coupons = wh.table("coupons")
    hits = bought.join(coupons, "product_id")
    return hits.group_by(["customer_id", "campaign_id", "coupon_upc"]).agg(
        baskets=hits.order_id.nunique()
    )


def customer_offers(
    wh: Warehouse, *, per_campaign: int = 2, limit: int = 12
) -> dict[str, list[dict[str, Any]]]:
    """Each customer's offers, best first: ``offer_id`` (``campaign:coupon``),
    campaign, coupon, products, ``start``/``end`` (ISO days), ``stores`` (None:
    every store), ``score`` and a plain reason.

    Coupons on products the customer buys come first; a member who buys none
    of a campaign's products still gets its most-bought coupons, since the
    campaign chose them. ``limit`` bounds the document (the latest campaigns
    first, so a document exported today keeps what can still be valid).
    """
    needed = ("campaigns", "campaign_members", "coupons", "identity_map")
    if not all(wh.exists(t) for t in needed) or not wh.exists("orders"):
        return {}
    shares = holdout_shares(wh)
    members = _members(wh, shares)
    relevance = _coupon_baskets(wh)
    coupons = wh.table("coupons")
    popular = relevance.group_by(["campaign_id", "coupon_upc"]).agg(
        everyone=relevance.baskets.sum()
    )
    catalogue = (
        coupons.select("campaign_id", "coupon_upc")
        .distinct()
        .left_join(popular, ["campaign_id", "coupon_upc"])
        .select("campaign_id", "coupon_upc", everyone=ibis._.everyone.fill_null(0))
    )
    orders = wh.table("orders").join(
        wh.table("identity_map").select("identifier", "customer_id"), "identifier"
    )
    trips = orders.group_by("customer_id").agg(trips=orders.order_id.nunique())
    pairs = members.join(catalogue, "campaign_id")
    pairs = pairs.left_join(
        relevance, ["customer_id", "campaign_id", "coupon_upc"]
    ).select(
        "customer_id",
        "campaign_id",
        "coupon_upc",
        "everyone",
        baskets=ibis._.baskets.fill_null(0),
    )
    ranked = pairs.mutate(
        _n=ibis.row_number().over(
            group_by=["customer_id", "campaign_id"],
            order_by=[
                ibis.desc("baskets"),
                ibis.desc("everyone"),
                "coupon_upc",
            ],
        )
    ).filter(ibis._._n < per_campaign)
    campaigns = wh.table("campaigns").select("campaign_id", "start_date", "end_date")
    chosen = (
        ranked.join(campaigns, "campaign_id")
        .left_join(trips, "customer_id")
        .select(
            "customer_id",
            "campaign_id",
            "coupon_upc",
            "baskets",
            "start_date",
            "end_date",
            trips=ibis._.trips.fill_null(0),
        )
    )
    chosen = chosen.mutate(
        _k=ibis.row_number().over(
            group_by="customer_id",
            order_by=[ibis.desc("end_date"), "campaign_id", ibis.desc("baskets")],
        )
    ).filter(ibis._._k < limit)
    rows = wh.to_arrow(chosen.drop("_k")).to_pylist()
    wanted = {(r["campaign_id"], r["coupon_upc"]) for r in rows}
    products = _coupon_products(wh, wanted)
    stores = _campaign_stores(wh)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (r["customer_id"], -r["baskets"])):
        out[r["customer_id"]].append(_offer(r, products, stores))
    return out


def _offer(
    r: dict[str, Any],
    products: dict[tuple[str, str], list[str]],
    stores: dict[str, list[str]],
) -> dict[str, Any]:
    campaign, coupon = r["campaign_id"], r["coupon_upc"]
    end = r["end_date"]
    reason = (
        f"a coupon from campaign {campaign} you are in; valid until {end.day} {end:%b}"
    )
    if r["baskets"]:
        reason += f"; on products in {r['baskets']} of your baskets"
    return {
        "offer_id": f"{campaign}:{coupon}",
        "campaign_id": campaign,
        "coupon_upc": coupon,
        "product_ids": products.get((campaign, coupon), []),
        "start": r["start_date"].isoformat(),
        "end": end.isoformat(),
        "stores": stores.get(campaign),
        "score": round(r["baskets"] / r["trips"], 4) if r["trips"] else 0.0,
        "reason": reason,
    }


def _coupon_products(
    wh: Warehouse, wanted: set[tuple[str, str]], k: int = 5
) -> dict[tuple[str, str], list[str]]:
    """A few products of each exported coupon (a coupon may cover hundreds)."""
    c = wh.table("coupons")
    c = c.mutate(
        _n=ibis.row_number().over(
            group_by=["campaign_id", "coupon_upc"], order_by="product_id"
        )
    ).filter(ibis._._n < k)
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in wh.to_arrow(
        c.select("campaign_id", "coupon_upc", "product_id")
    ).to_pylist():
        key = (row["campaign_id"], row["coupon_upc"])
        if key in wanted:
            out[key].append(row["product_id"])
    return out


def _campaign_stores(wh: Warehouse) -> dict[str, list[str]]:
    """Stores per campaign where ``campaign_stores`` restricts it (else none)."""
    if not wh.exists(CAMPAIGN_STORES.name):
        return {}
    t = wh.table(CAMPAIGN_STORES.name)
    out: dict[str, list[str]] = defaultdict(list)
    for row in wh.to_arrow(t.select("campaign_id", "store_id")).to_pylist():
        out[row["campaign_id"]].append(row["store_id"])
    return {c: sorted(s) for c, s in out.items()}


def complement_docs(wh: Warehouse, k: int = 5) -> list[tuple[str, dict[str, Any]]]:
    """One document per product: its ``k`` best complements (by lift), each
    scored as the share of the product's baskets that also held it, the
    recommender's scale, so the policy weighs them against other candidates."""
    if not wh.exists("complements") or not wh.exists("order_lines"):
        return []
    t = wh.table("complements")
    lines = wh.table("order_lines")
    counts = lines.group_by("product_id").agg(with_product=lines.order_id.nunique())
    t = t.filter(t["rank"] <= k).join(counts, "product_id")
    t = t.order_by(["product_id", "rank"])
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in wh.to_arrow(
        t.select(
            "product_id", "complement_id", "lift", "baskets_together", "with_product"
        )
    ).to_pylist():
        out[row["product_id"]].append(
            {
                "product_id": row["complement_id"],
                "lift": round(float(row["lift"]), 3),
                "score": round(row["baskets_together"] / row["with_product"], 4),
                "reason": f"often bought with {row['product_id']}",
            }
        )
    return [(product, {"items": items}) for product, items in out.items()]
