"""Life-stage shift: how a customer's category mix moved in the last six months.

A new baby shows as baby food, diapers and formula taking a share of the
wallet they never had; a new pet, a move or a diet shows the same way in
other categories. The mix is the share of spend per product category in the
26 weeks before the as-of date ("now") against the 26 weeks before those
("before"). Two figures come out per customer:

- ``shift``: the total variation distance between the two mixes, half the sum
  of the absolute share changes: 0 when the mix is the same, 1 when nothing
  bought before is bought now. It is the share of the wallet that moved.
- the categories whose share rose most (up to ``TOP_RISING``), with the share
  now, the share before and the change.

Only customers who spent in both windows have a shift (a new customer has no
"before" to compare with). Refunds can make a category's net spend negative;
it then counts as no spend, so shares stay between 0 and 1.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

__all__ = ["TOP_RISING", "WINDOW", "life_stage"]

WINDOW = dt.timedelta(weeks=26)
"""Length of each of the two windows compared."""

TOP_RISING = 3
"""Rising categories kept per customer: enough to name a life event."""

_UNKNOWN = "UNKNOWN"


def _mix(lines: ir.Table, start: dt.date, end: dt.date, name: str) -> ir.Table:
    lo = ibis.literal(start).cast("timestamp")
    hi = ibis.literal(end).cast("timestamp")
    window = lines.filter((lines.ordered_at >= lo) & (lines.ordered_at < hi))
    spend = window.group_by(["customer_id", "category"]).agg(
        spend=window.sales_value.sum().round(2)
    )
    spend = spend.mutate(spend=ibis.greatest(spend.spend, 0.0))
    total = spend.spend.sum().over(ibis.window(group_by=spend.customer_id))
    spend = spend.mutate(_total=total)
    spend = spend.filter(spend._total > 0)
    return spend.select("customer_id", "category", **{name: spend.spend / spend._total})


def life_stage(lines: ir.Table, products: ir.Table, as_of: dt.date) -> ir.Table:
    """The rising categories of each customer with the overall ``shift``.

    ``lines`` are ``purchase_lines`` (cut before ``as_of``); one row per
    customer and rising category, ``rank`` 1 for the largest rise. Products
    missing from the catalog count in the mix as 'UNKNOWN' but are never
    named as rising.
    """
    catalog = products.select(_product_id=products.product_id, _cat=products.category)
    joined = lines.left_join(catalog, lines.product_id == catalog._product_id)
    keyed = joined.select(
        "customer_id",
        "ordered_at",
        "sales_value",
        category=joined._cat.fill_null(_UNKNOWN),
    )
    now = _mix(keyed, as_of - WINDOW, as_of, "share_now")
    before = _mix(keyed, as_of - 2 * WINDOW, as_of - WINDOW, "share_before")
    before = before.rename(_customer_id="customer_id", _category="category")
    pairs = now.outer_join(
        before,
        (now.customer_id == before._customer_id) & (now.category == before._category),
    )
    pairs = pairs.select(
        customer_id=pairs.customer_id.coalesce(pairs._customer_id),
        category=pairs.category.coalesce(pairs._category),
        share_now=pairs.share_now.fill_null(0.0),
        share_before=pairs.share_before.fill_null(0.0),
    )
    per = ibis.window(group_by=pairs.customer_id)
    change = pairs.share_now - pairs.share_before
    # Each window's shares sum to 1 for a customer who bought in it, 0 if not.
    rising = pairs.mutate(
        change=change,
        shift=change.abs().sum().over(per) / 2,
        _now=pairs.share_now.sum().over(per),
        _before=pairs.share_before.sum().over(per),
    )
    rising = rising.filter((rising._now > 0.5) & (rising._before > 0.5))
    rising = rising.filter((rising.change > 0) & (rising.category != _UNKNOWN))
    rank = ibis.row_number().over(
        ibis.window(
            group_by=rising.customer_id,
            order_by=[ibis.desc(rising.change), rising.category],
        )
    )
    rising = rising.mutate(rank=rank + 1)
    rising = rising.filter(rising["rank"] <= TOP_RISING)
    return rising.select(
        "customer_id",
        as_of=ibis.literal(as_of),
        rank=rising["rank"].cast("int32"),
        category=rising.category,
        share_now=rising.share_now.round(6),
        share_before=rising.share_before.round(6),
        change=rising.change.round(6),
        shift=rising.shift.round(6),
    )
