"""Response to in-store displays and the weekly mailer, against everyone's.

A line counts as "on display" when its product was on an in-store display at
the store of the basket in the basket's week, and "in the mailer" likewise
(the ``promotions`` table, location code '0' meaning not featured). The share
of a customer's spend on such lines, over the share all customers spend on
them, is the response index: 1.5 means they buy featured items 50% more than
shoppers overall; a customer who ignores displays sits well below 1.

Only the weeks of baskets before the as-of date are looked up, so the
feature sees no promotion the customer could not yet have met.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

__all__ = ["featured_lines", "promotion_response"]

_KEYS = ["product_id", "store_id", "week"]


def _featured(code: ir.StringValue) -> ir.BooleanValue:
    return code.notnull() & (code != "0")


def featured_lines(
    lines: ir.Table, orders: ir.Table, promotions: ir.Table | None
) -> ir.Table:
    """Purchase lines flagged ``on_display`` and ``in_mailer``.

    The promotions table is large (20.9 million rows on the full Complete
    Journey): it is joined to the bought (product, store, week) triples first,
    so only the matches are flagged and grouped, and the flags come back to
    the lines by their (order, product) key. Without a promotions table
    (``None``) nothing is featured.
    """
    where = orders.select("order_id", "store_id", "week")
    bought = lines.join(where, "order_id")
    if promotions is None:
        return bought.select(
            "customer_id",
            "sales_value",
            on_display=ibis.literal(False),
            in_mailer=ibis.literal(False),
        )
    # Flags are computed on the matches, not on all promotion rows: testing
    # 20.9 million location codes costs more than the join itself.
    hits = bought.select("order_id", *_KEYS).join(
        promotions.select(*_KEYS, "display_location", "mailer_location"), _KEYS
    )
    flags = hits.group_by(["order_id", "product_id"]).agg(
        on_display=_featured(hits.display_location).any(),
        in_mailer=_featured(hits.mailer_location).any(),
    )
    flags = flags.rename(_order_id="order_id", _product_id="product_id")
    joined = bought.left_join(
        flags,
        (bought.order_id == flags._order_id) & (bought.product_id == flags._product_id),
    )
    return joined.select(
        "customer_id",
        "sales_value",
        on_display=joined.on_display.fill_null(False),
        in_mailer=joined.in_mailer.fill_null(False),
    )


def _share(part: ir.NumericValue, whole: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(whole > 0, part / whole, ibis.null("float64"))


def promotion_response(lines: ir.Table, as_of: dt.date) -> ir.Table:
    """One row per customer: share of spend on display, mailer and either, and
    each share's index against the population's share.

    ``lines`` are ``featured_lines``. Money is summed to cents per customer
    before the shares, so a rebuild gives the same table on every engine.
    """
    featured = lines.on_display | lines.in_mailer
    per = lines.group_by("customer_id").agg(
        spend=lines.sales_value.sum().round(2),
        display_spend=ibis.ifelse(lines.on_display, lines.sales_value, 0.0)
        .sum()
        .round(2),
        mailer_spend=ibis.ifelse(lines.in_mailer, lines.sales_value, 0.0)
        .sum()
        .round(2),
        featured_spend=ibis.ifelse(featured, lines.sales_value, 0.0).sum().round(2),
    )
    everyone = per.spend.sum().as_scalar()
    columns: dict[str, ir.Value] = {}
    for name in ("display", "mailer", "featured"):
        mine = _share(per[f"{name}_spend"], per.spend)
        population = _share(per[f"{name}_spend"].sum().as_scalar(), everyone)
        columns[f"{name}_share"] = mine.round(6)
        columns[f"{name}_index"] = ibis.ifelse(
            population > 0, mine / population, ibis.null("float64")
        ).round(4)
    return per.select(
        "customer_id",
        as_of=ibis.literal(as_of),
        spend=per.spend,
        **columns,
    )
