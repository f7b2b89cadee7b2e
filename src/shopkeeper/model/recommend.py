"""Tables the recommend stage writes."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = ["RECOMMEND_PERSONAL_TOP"]

RECOMMEND_PERSONAL_TOP = TableSpec(
    name="recommend_personal_top",
    doc=(
        "The personal top-frequency baseline (P-TopFreq): each customer's products "
        "ranked by how many of their baskets held them, with a plain reason."
    ),
    columns={
        "customer_id": "string",
        "rank": "int32",
        "product_id": "string",
        "baskets_with_product": "int64",
        "baskets": "int64",
        "last_bought_at": "timestamp",
        "score": "float64",
        "reason": "string",
    },
    key=("customer_id", "rank"),
    required=("product_id", "score", "reason"),
    subject="customer_id",
    stage="recommend",
)
