"""Where each customer's money goes, department by department."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["top_departments", "with_department"]


def with_department(lines: ir.Table, products: ir.Table) -> ir.Table:
    """Order lines with their product's department.

    Lines whose product is missing from the catalog count as 'UNKNOWN' (4,836
    lines of The Complete Journey do), so department totals add up to all spend.
    """
    joined = lines.left_join(products, lines.product_id == products.product_id)
    return joined.mutate(department=joined.department.fill_null("UNKNOWN"))


def top_departments(lines: ir.Table, products: ir.Table, *, top: int = 3) -> ir.Table:
    """A customer's ``top`` departments by spend and their share of the total."""
    joined = with_department(lines, products)
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
