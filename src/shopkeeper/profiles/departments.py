"""Where each customer's money goes, department by department."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["top_departments"]


def top_departments(lines: ir.Table, products: ir.Table, *, top: int = 3) -> ir.Table:
    """A customer's ``top`` departments by spend and their share of the total.

    Lines whose product is missing from the catalog count as 'UNKNOWN', so the
    shares of all departments add up to the customer's whole spend.
    """
    joined = lines.left_join(products, lines.product_id == products.product_id)
    joined = joined.mutate(department=joined.department.fill_null("UNKNOWN"))
    spend = joined.group_by(["customer_id", "department"]).agg(
        spend=joined.sales_value.sum()
    )
    total = spend.spend.sum().over(ibis.window(group_by=spend.customer_id))
    rank = ibis.row_number().over(
        ibis.window(
            group_by=spend.customer_id,
            order_by=[ibis.desc(spend.spend), spend.department],
        )
    )
    ranked = spend.mutate(
        share=ibis.ifelse(total > 0, spend.spend / total, 0.0), rank=rank + 1
    )
    ranked = ranked.filter(ranked.rank <= top)
    return ranked.mutate(spend=ranked.spend.round(2), share=ranked.share.round(4))
