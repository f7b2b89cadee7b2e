"""Recency, frequency and monetary value, scored in quantiles and named."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

__all__ = ["SEGMENTS", "rfm"]

SEGMENTS: tuple[tuple[str, str], ...] = (
    ("Champions", "bought recently, buy often"),
    ("Loyal", "buy often, not the most recent"),
    ("Potential loyalists", "recent, buying at a middling pace"),
    ("New customers", "very recent, few purchases so far"),
    ("Promising", "recent, one or two purchases"),
    ("Needs attention", "middling on both recency and frequency"),
    ("About to sleep", "fading, and never bought often"),
    ("Can't lose them", "were among the most frequent, gone quiet"),
    ("At risk", "bought often, but not lately"),
    ("Hibernating", "neither recent nor frequent"),
)
"""The named RFM cells (on the 1-5 R and F scores), with what each means."""


def _score(column: ir.Column, customer: ir.Column, bins: int) -> ir.IntegerValue:
    # ntile over (value, customer_id): ties split by id, so every engine agrees.
    window = ibis.window(order_by=[column, customer])
    return (ibis.ntile(bins).over(window) + 1).cast("int32")


def _segment(r: ir.IntegerValue, f: ir.IntegerValue, bins: int) -> ir.StringValue:
    # Scale to the 1-5 grid the names are defined on, whatever the bin count.
    r5 = ((r - 1) * 5 // bins + 1).cast("int32")
    f5 = ((f - 1) * 5 // bins + 1).cast("int32")
    return ibis.cases(
        ((r5 >= 4) & (f5 >= 4), "Champions"),
        ((r5 == 3) & (f5 >= 4), "Loyal"),
        ((r5 >= 4) & (f5 >= 2), "Potential loyalists"),
        ((r5 == 5) & (f5 == 1), "New customers"),
        ((r5 == 4) & (f5 == 1), "Promising"),
        ((r5 == 3) & (f5 == 3), "Needs attention"),
        (r5 == 3, "About to sleep"),
        (f5 == 5, "Can't lose them"),
        (f5 >= 3, "At risk"),
        else_="Hibernating",
    )


def rfm(baskets: ir.Table, as_of: dt.date, *, bins: int = 5) -> ir.Table:
    """Per customer RFM as of ``as_of``, from one-row-per-order ``baskets``.

    Scores run 1..bins and higher is better on each axis: a recent purchase,
    many baskets, much spend. Recency counts calendar days from the day of the
    last purchase to ``as_of``.
    """
    per = baskets.group_by(["customer_id", "household_id"]).agg(
        first_purchase_at=baskets.ordered_at.min(),
        last_purchase_at=baskets.ordered_at.max(),
        frequency=baskets.order_id.nunique(),
        monetary=baskets.value.sum(),
        avg_basket_items=baskets.items.mean(),
    )
    per = per.mutate(
        as_of=ibis.literal(as_of),
        # Calendar days from the day of the last purchase to the as-of day.
        recency_days=ibis.literal(as_of)
        .delta(per.last_purchase_at.date(), unit="day")
        .cast("int64"),
        avg_basket_value=per.monetary / per.frequency,
        # Rank the most recent purchase highest: order by last purchase time.
        r_score=_score(per.last_purchase_at, per.customer_id, bins),
        f_score=_score(per.frequency, per.customer_id, bins),
        # Scored on cents: unrounded sums differ in the last bits from build
        # to build, which would reorder customers who spent the same.
        m_score=_score(per.monetary.round(2), per.customer_id, bins),
    )
    return per.mutate(
        monetary=per.monetary.round(2),
        avg_basket_value=per.avg_basket_value.round(2),
        avg_basket_items=per.avg_basket_items.round(2),
        rfm_code=per.r_score.cast("string")
        + per.f_score.cast("string")
        + per.m_score.cast("string"),
        rfm_segment=_segment(per.r_score, per.f_score, bins),
    )
