"""Tables the profiles stage writes."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = ["PROFILES_DEPARTMENTS", "PROFILES_RFM"]

PROFILES_RFM = TableSpec(
    name="profiles_rfm",
    doc=(
        "Per customer, as of a date: first and last purchase, frequency (baskets), "
        "monetary value, basket averages, recency, quantile R/F/M scores "
        "(higher is better) and the named RFM segment."
    ),
    columns={
        "customer_id": "string",
        "household_id": "string",
        "as_of": "date",
        "first_purchase_at": "timestamp",
        "last_purchase_at": "timestamp",
        "recency_days": "int64",
        "frequency": "int64",
        "monetary": "float64",
        "avg_basket_value": "float64",
        "avg_basket_items": "float64",
        "r_score": "int32",
        "f_score": "int32",
        "m_score": "int32",
        "rfm_code": "string",
        "rfm_segment": "string",
    },
    key=("customer_id",),
    required=("as_of", "frequency", "monetary"),
    subject="customer_id",
    stage="profiles",
)

PROFILES_DEPARTMENTS = TableSpec(
    name="profiles_departments",
    doc="A customer's top departments by spend, with the share of their spend.",
    columns={
        "customer_id": "string",
        "rank": "int32",
        "department": "string",
        "spend": "float64",
        "share": "float64",
    },
    key=("customer_id", "rank"),
    required=("department", "spend", "share"),
    subject="customer_id",
    stage="profiles",
)
