"""Tables the recommend stage writes."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = ["COMPLEMENTS", "DISCOVERIES", "RECOMMENDATIONS", "RECOMMEND_PERSONAL_TOP"]


def _ranked_products(
    name: str, doc: str, extra: dict[str, str] | None = None
) -> TableSpec:
    """Each customer's ranked products with a score and a reason.

    ``extra`` columns (a method's own evidence) sit between the product and
    its score.
    """
    return TableSpec(
        name=name,
        doc=doc,
        columns={
            "customer_id": "string",
            "rank": "int32",
            "product_id": "string",
            **(extra or {}),
            "score": "float64",
            "reason": "string",
        },
        key=("customer_id", "rank"),
        required=("product_id", "score", "reason"),
        subject="customer_id",
        stage="recommend",
    )


RECOMMEND_PERSONAL_TOP = _ranked_products(
    "recommend_personal_top",
    (
        "The personal top-frequency baseline (P-TopFreq): each customer's products "
        "ranked by how many of their baskets held them, with a plain reason."
    ),
    {
        "baskets_with_product": "int64",
        "baskets": "int64",
        "last_bought_at": "timestamp",
    },
)


RECOMMENDATIONS = _ranked_products(
    "recommendations",
    (
        "Shopkeeper's next-basket recommendations: each customer's products for "
        "the next trip, best first, with the model's score and a short reason "
        "a person can read (their cycle, a coupon, a promotion, a pairing)."
    ),
)

DISCOVERIES = _ranked_products(
    "discoveries",
    (
        "New for you: products each customer has never bought that they are "
        "most likely to try on the next trip, best first, with the chance of "
        "purchase as score and a short reason (a pairing, a promotion, a coupon, "
        "shoppers like them). Served beside the next-basket recommendations."
    ),
)

COMPLEMENTS = TableSpec(
    name="complements",
    doc=(
        "Complete the basket: for each product, the products most often added "
        "with it, ranked by co-purchase lift smoothed against chance pairings."
    ),
    columns={
        "product_id": "string",
        "rank": "int32",
        "complement_id": "string",
        "lift": "float64",
        "baskets_together": "int64",
    },
    key=("product_id", "rank"),
    required=("complement_id", "lift"),
    stage="recommend",
)
