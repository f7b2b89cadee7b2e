"""Department, category and brand affinity: share of wallet against everyone's.

An index of 1.4 for PRODUCE means the customer spends 40% more of their
wallet on produce than all customers together do; 0.5 means half as much.
Shares are of the customer's whole spend before the as-of date, so a
customer's shares across the keys of one kind add up to at most 1 (spend on
products missing from the catalog has no key).

The Complete Journey's ``brand`` column only says national or private label,
so the brand here is the manufacturer (``manufacturer_id``): the finest
"who makes it" the catalog holds.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["KINDS", "MIN_SPEND", "TOP_PER_KIND", "affinities", "affinity_lines"]

KINDS: dict[str, str] = {
    "department": "department",
    "category": "category",
    "brand": "manufacturer_id",
}
"""Each kind of affinity and the ``products`` column that keys it."""

TOP_PER_KIND = 20
"""Rows kept per customer and kind, by spend.

A customer buys in hundreds of categories and thousands of brands, most of
them once; the twenty where their money goes carry what a marketer reads,
and they keep the table near 150,000 rows on the full data instead of
millions."""

MIN_SPEND = 5.0
"""Least spend (in the data's currency) for a key to be kept.

Below it an index is noise: one 2-dollar item in a category the population
hardly buys reads as a tenfold over-index."""


def affinity_lines(lines: ir.Table, products: ir.Table) -> ir.Table:
    """Purchase lines with the product's department, category and brand keys.

    A left join: lines whose product is missing from the catalog keep their
    spend (it counts in the customer's total) but have no keys.
    """
    catalog = products.select(
        _product_id=products.product_id,
        **{kind: products[column] for kind, column in KINDS.items()},
    )
    joined = lines.left_join(catalog, lines.product_id == catalog._product_id)
    return joined.select("customer_id", "sales_value", *KINDS)


def _one_kind(lines: ir.Table, kind: str, totals: ir.Table) -> ir.Table:
    keyed = lines.filter(lines[kind].notnull() & (lines[kind] != ""))
    spend = keyed.group_by(["customer_id", keyed[kind].name("key")]).agg(
        spend=keyed.sales_value.sum().round(2)
    )
    population = spend.group_by("key").agg(key_spend=spend.spend.sum())
    grand = totals.total.sum().as_scalar()
    population = population.mutate(
        population_share=ibis.ifelse(
            grand > 0, population.key_spend / grand, ibis.null("float64")
        )
    )
    rank = ibis.row_number().over(
        ibis.window(
            group_by=spend.customer_id, order_by=[ibis.desc(spend.spend), spend.key]
        )
    )
    ranked = spend.mutate(rank=rank + 1)
    kept = ranked.filter((ranked["rank"] <= TOP_PER_KIND) & (ranked.spend >= MIN_SPEND))
    joined = kept.join(totals, "customer_id").join(population, "key")
    share = ibis.ifelse(
        joined.total > 0, joined.spend / joined.total, ibis.null("float64")
    )
    index = ibis.ifelse(
        joined.population_share > 0,
        share / joined.population_share,
        ibis.null("float64"),
    )
    return joined.select(
        "customer_id",
        kind=ibis.literal(kind),
        rank=joined["rank"].cast("int32"),
        key=joined.key.cast("string"),
        spend=joined.spend,
        share=share.round(6),
        population_share=joined.population_share.round(6),
        index=index.round(4),
    )


def affinities(lines: ir.Table) -> ir.Table:
    """One row per customer, kind and key kept: spend, share, population share,
    index.

    ``lines`` are ``affinity_lines`` (already cut before the as-of date). Per
    customer and kind, the ``TOP_PER_KIND`` keys by spend with at least
    ``MIN_SPEND`` are kept; ``rank`` is the place by spend (1 = most). The
    population share is over every customer in ``lines``, kept rows or not.
    """
    totals = lines.group_by("customer_id").agg(total=lines.sales_value.sum().round(2))
    parts = [_one_kind(lines, kind, totals) for kind in KINDS]
    return ibis.union(*parts)
