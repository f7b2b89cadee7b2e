"""Demographics where known: the household's bands, joined to the customer.

The Complete Journey reports age, income, home ownership, marital status,
household size and composition and number of kids for 801 of its 2,469
households, in bands. The ``households`` table keeps them by household; the
profile needs them by customer, so segments, exports and the dashboard read
one row per customer without walking the identity map themselves. They carry
no date: the source reports them once, so there is nothing to cut at the
as-of date.
"""

from __future__ import annotations

import ibis.expr.types as ir

__all__ = ["BANDS", "demographics"]

BANDS = (
    "age_band",
    "income_band",
    "household_size",
    "household_composition",
    "kids_count",
    "marital_status",
    "home_ownership",
)
"""The household columns a profile carries, as the source reports them."""


def demographics(identity_map: ir.Table, households: ir.Table) -> ir.Table:
    """One row per customer whose household has demographics.

    A customer whose identifiers span several households (the identity graph
    merged them) takes the least household id that has demographics, the same
    tie-break as the rest of the profile.
    """
    linked = identity_map.filter(identity_map.household_id.notnull())
    pairs = linked.select("customer_id", "household_id").distinct()
    known = pairs.join(households, "household_id")
    first = known.group_by("customer_id").agg(household_id=known.household_id.min())
    chosen = first.join(households, "household_id")
    return chosen.select("customer_id", "household_id", *BANDS)
