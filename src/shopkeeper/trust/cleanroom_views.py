"""The approved clean-room views, and who is in them at all.

Every view starts from the same two restrictions, applied here and nowhere
else so no view can forget them: only the partner's own products (its
manufacturer ids), and only customers whose current ``partner_sharing``
consent is ``granted``. A customer with no decision on record is out: the
default is exclusion, because sharing with a third party needs a yes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir

from shopkeeper.trust.cleanroom_query import CONTRIBUTION, View
from shopkeeper.warehouse import Warehouse

__all__ = ["PURPOSE", "VIEWS", "sharing_customers"]

PURPOSE = "partner_sharing"

_IDENTIFIERS = ("customer_id", "household_id", "identifier", "order_id")
_FREE_TEXT = ("name", "package_size")
_DEMOGRAPHICS = ("age_band", "income_band", "household_size", "kids_count")


def sharing_customers(wh: Warehouse) -> ir.Table:
    """customer_id of every customer whose latest ``partner_sharing`` decision,
    across all their identifiers, is ``granted``.

    The same rule as the profile's current consents (latest row per purpose
    over the customer's identifiers, ties broken by consent_id), so what the
    customer sees in their profile is what the clean room applies.
    """
    idmap = wh.table("identity_map")
    if not wh.exists("consents"):
        return idmap.filter(ibis.literal(False)).select("customer_id")
    ledger = wh.table("consents")
    ledger = ledger.filter(ledger.purpose == PURPOSE)
    joined = ledger.join(idmap, ledger.subject == idmap.identifier)
    latest = joined.mutate(
        _n=ibis.row_number().over(
            group_by="customer_id",
            order_by=[ibis.desc("recorded_at"), ibis.desc("consent_id")],
        )
    )
    latest = latest.filter((latest._n == 0) & (latest.status == "granted"))
    return latest.select("customer_id").distinct()


def _people(wh: Warehouse, rows: ir.Table) -> ir.Table:
    """``rows`` with the RFM segment and household bands of their customer
    (null where that profile or demographic is not known)."""
    if wh.exists("profiles_rfm"):
        rfm = wh.table("profiles_rfm").select("customer_id", "rfm_segment")
        rows = rows.left_join(rfm, "customer_id").drop("customer_id_right")
    else:
        rows = rows.mutate(rfm_segment=ibis.null("string"))
    if wh.exists("households"):
        bands = wh.table("households").select("household_id", *_DEMOGRAPHICS)
        rows = rows.left_join(bands, "household_id").drop("household_id_right")
    else:
        rows = rows.mutate(**{d: ibis.null("string") for d in _DEMOGRAPHICS})
    return rows


def _brand_lines(wh: Warehouse, manufacturer_ids: Sequence[str]) -> ir.Table:
    """Order lines of the partner's products bought by sharing customers, each
    with the hash of its key: what a line adds to any row, in any view."""
    products = wh.table("products")
    products = products.filter(products.manufacturer_id.isin(list(manufacturer_ids)))
    orders = wh.table("orders")
    idmap = wh.table("identity_map")
    lines = (
        orders.join(idmap, orders.identifier == idmap.identifier)
        .join(wh.table("order_lines"), "order_id")
        .join(products, "product_id")
    )
    lines = lines.mutate(_line=(lines.order_id + "|" + lines.product_id).hash())
    return lines.semi_join(sharing_customers(wh), "customer_id")


def _brand_sales(wh: Warehouse, manufacturer_ids: Sequence[str]) -> ir.Table:
    lines = _people(wh, _brand_lines(wh, manufacturer_ids))
    return lines.select(
        "customer_id",
        "order_id",
        "week",
        month=lines.ordered_at.strftime("%Y-%m"),
        channel=lines.channel,
        store_id=lines.store_id,
        department=lines.department,
        category=lines.category,
        product_type=lines.product_type,
        brand_type=lines.brand_type,
        rfm_segment=lines.rfm_segment,
        **{d: lines[d] for d in _DEMOGRAPHICS},
        sales_value=lines.sales_value,
        quantity=lines.quantity,
        **{CONTRIBUTION: lines._line},
    )


def _brand_buyers(wh: Warehouse, manufacturer_ids: Sequence[str]) -> ir.Table:
    lines = _brand_lines(wh, manufacturer_ids)
    # A buyer's row is made of their lines, so its fingerprint is theirs
    # XOR-ed: the same value brand_sales gives those lines, which lets the
    # difference check compare answers across the two views.
    buyers = lines.group_by(["customer_id", "household_id"]).agg(
        brand_spend=lines.sales_value.sum(),
        brand_units=lines.quantity.sum(),
        brand_trips=lines.order_id.nunique(),
        first_week=lines.week.min(),
        **{CONTRIBUTION: lines._line.bit_xor()},
    )
    buyers = _people(wh, buyers)
    return buyers.select(
        "customer_id",
        "rfm_segment",
        *_DEMOGRAPHICS,
        "first_week",
        "brand_spend",
        "brand_units",
        "brand_trips",
        CONTRIBUTION,
    )


_BANDS = {
    "age_band": "household age band (demographics, where known)",
    "income_band": "household income band (where known)",
    "household_size": "people in the household (where known)",
    "kids_count": "children in the household (where known)",
}
_SPEND = ("sum", "avg")

VIEWS: Mapping[str, View] = {
    v.name: v
    for v in (
        View(
            name="brand_sales",
            doc=(
                "One row per order line of the partner's own products bought by "
                "a customer who allows partner sharing."
            ),
            dimensions={
                "week": "week of the year the order was placed (1-53)",
                "month": "month of the order, YYYY-MM",
                "channel": "store or online",
                "store_id": "the store (CJ stores carry no region)",
                "department": "product department",
                "category": "product category",
                "product_type": "product type",
                "brand_type": "national or private label",
                "rfm_segment": "the buyer's RFM segment in the retailer's profile",
                **_BANDS,
            },
            measures={
                "sales_value": _SPEND,
                "quantity": _SPEND,
                "order_id": ("count_distinct",),
            },
            identifiers=_IDENTIFIERS,
            free_text=_FREE_TEXT,
            build=_brand_sales,
        ),
        View(
            name="brand_buyers",
            doc=(
                "One row per customer who bought the partner's products and "
                "allows partner sharing: what they spent on the partner's brands."
            ),
            dimensions={
                "rfm_segment": "the buyer's RFM segment in the retailer's profile",
                **_BANDS,
                "first_week": "week of the buyer's first purchase of the brand",
            },
            measures={
                "brand_spend": _SPEND,
                "brand_units": _SPEND,
                "brand_trips": _SPEND,
            },
            identifiers=_IDENTIFIERS,
            free_text=_FREE_TEXT,
            build=_brand_buyers,
        ),
    )
}
"""Approved views by name; a partner can query nothing else."""
