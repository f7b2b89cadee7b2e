"""P-TopFreq: recommend what a household buys most often.

The "Next Basket Recommendation Reality Check" (Li et al., 2023) found this
personal-frequency baseline beats most deep models on grocery data, so it is
the first recommender and the bar every later one must clear.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["personal_top"]


def personal_top(lines: ir.Table, *, k: int = 10) -> ir.Table:
    """Each customer's ``k`` products in the most baskets, with a reason.

    Ties go to the product bought most recently, then to the lower product id,
    so the ranking is the same on every engine and every run. ``score`` is the
    share of the customer's baskets that held the product.
    """
    per_item = lines.group_by(["customer_id", "product_id"]).agg(
        baskets_with_product=lines.order_id.nunique(),
        last_bought_at=lines.ordered_at.max(),
    )
    trips = lines.group_by("customer_id").agg(baskets=lines.order_id.nunique())
    scored = per_item.join(trips, "customer_id")
    rank = ibis.row_number().over(
        ibis.window(
            group_by=scored.customer_id,
            order_by=[
                ibis.desc(scored.baskets_with_product),
                ibis.desc(scored.last_bought_at),
                scored.product_id,
            ],
        )
    )
    scored = scored.mutate(rank=(rank + 1).cast("int32"))
    scored = scored.filter(scored.rank <= k)
    return scored.mutate(
        score=(scored.baskets_with_product / scored.baskets).round(4),
        reason=ibis.literal("bought in ")
        + scored.baskets_with_product.cast("string")
        + " of your "
        + scored.baskets.cast("string")
        + " trips, last on "
        + scored.last_bought_at.cast("date").cast("string"),
    )
